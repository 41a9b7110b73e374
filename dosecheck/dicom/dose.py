"""Read RT Dose files into :class:`~dosecheck.model.DoseGrid` and sum several of them.

Geometry follows DICOM PS3.3 C.7.6.2 (Image Plane) and C.8.8.3.2 (RT Dose):

* ``ImageOrientationPatient`` gives the row direction (the direction of
  increasing column index) and the column direction. Any combination of ±x and
  ±y is accepted (HFS, FFS, HFP, FFP and their transposes); the array is flipped
  and transposed so that x, y and z ascend. Oblique planes are refused.
* ``PixelSpacing`` is (distance between rows, distance between columns).
* ``GridFrameOffsetVector`` is relative (first value 0; frame k lies at
  ``ImagePositionPatient + GFOV[k] × normal`` with ``normal = row × column``) or,
  for HFS only, absolute (first value equals the ImagePositionPatient z; the
  values are z coordinates). Either may descend or be non-uniform.

Limit: at most :data:`MAX_VOXELS` voxels per file (checked before the pixel data is
decoded). DoseSummationType must be one of :data:`SUMMATION_TYPES` (missing: PLAN).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset

from dosecheck.dicom._common import (
    floats,
    integer,
    one_line,
    quiet_pydicom,
    read_dataset,
    required,
    shown,
    text,
)
from dosecheck.errors import DicomInputError
from dosecheck.model import BeamDoseCheck, DoseGrid

__all__ = [
    "COORD_TOLERANCE_MM",
    "MAX_DOSE_GY",
    "MAX_VOXELS",
    "SUMMATION_TYPES",
    "combine_doses",
    "compare_beam_doses",
    "read_rtdose",
]

#: Largest dose grid accepted (Rows × Columns × NumberOfFrames): 200 million voxels,
#: 0.8 GB as float32.
MAX_VOXELS = 200_000_000
#: Largest dose accepted anywhere in a grid (Gy). More is a wrong DoseGridScaling or
#: DoseUnits, not a dose (HDR brachytherapy grids reach some hundreds of Gy close to a
#: source).
MAX_DOSE_GY = 10_000
#: DoseSummationTypes accepted. FRACTION is scaled by the number of fractions, BEAM
#: doses are summed (a lone BEAM dose is refused by the loader); the session and
#: control-point types are parts of a plan and are refused. A missing value is taken
#: as PLAN, with a note.
SUMMATION_TYPES = ("PLAN", "MULTI_PLAN", "FRACTION", "BEAM")
#: Grids whose coordinates agree within this tolerance (mm) are the same grid.
COORD_TOLERANCE_MM = 1e-3
_ORIENTATION_TOLERANCE = 1e-4
_GFOV_TOLERANCE_MM = 1e-3

_ORIENTATION_NAMES = {
    (0, 1, 1, 1): "HFS",
    (0, -1, 1, 1): "FFS",
    (0, -1, 1, -1): "HFP",
    (0, 1, 1, -1): "FFP",
}


def _axis(cosines: Sequence[float]) -> tuple[int, int] | None:
    """``(axis, sign)`` when ``cosines`` is ±unit x (axis 0) or ±unit y (axis 1)."""
    v = np.asarray(cosines, dtype=np.float64)
    for axis in (0, 1):
        others = np.delete(v, axis)
        if abs(abs(v[axis]) - 1.0) <= _ORIENTATION_TOLERANCE and np.all(
            np.abs(others) <= _ORIENTATION_TOLERANCE
        ):
            return axis, 1 if v[axis] > 0 else -1
    return None


def _orientation(ds: Dataset, path: str) -> tuple[int, int, int, int]:
    iop = floats(ds, "ImageOrientationPatient", path, count=6)
    row = _axis(iop[:3])
    col = _axis(iop[3:])
    if row is None or col is None or row[0] == col[0]:
        raise DicomInputError(
            f"{iop} is not an axial orientation (row and column directions must each be "
            "±x or ±y, within 1e-4); oblique dose grids are not supported: export the dose "
            "on an axial grid",
            path=path,
            tag="ImageOrientationPatient",
        )
    return row[0], row[1], col[0], col[1]


def _frame_z(
    ds: Dataset, path: str, n_frames: int, ipp_z: float, normal_z: int, is_hfs: bool
) -> tuple[np.ndarray, list[str]]:
    """z coordinate of every frame, in file order, plus notes."""
    notes: list[str] = []
    gfov_raw = ds.get("GridFrameOffsetVector", None)
    if gfov_raw is None or (hasattr(gfov_raw, "__len__") and len(gfov_raw) == 0):
        if n_frames == 1:
            return np.array([ipp_z]), notes
        required(ds, "GridFrameOffsetVector", path, f"for a dose with {n_frames} frames")
    gfov = np.asarray(floats(ds, "GridFrameOffsetVector", path), dtype=np.float64)
    if gfov.size != n_frames:
        raise DicomInputError(
            f"has {gfov.size} values but NumberOfFrames is {n_frames}; the file is "
            "inconsistent, export it again",
            path=path,
            tag="GridFrameOffsetVector",
        )
    first = float(gfov[0])
    if abs(first) <= _GFOV_TOLERANCE_MM:
        z = ipp_z + normal_z * gfov
    elif is_hfs and abs(first - ipp_z) <= _GFOV_TOLERANCE_MM:
        z = gfov.copy()
        notes.append("GridFrameOffsetVector holds absolute z coordinates")
    else:
        extra = "" if is_hfs else " (absolute offsets are only defined for HFS orientation)"
        raise DicomInputError(
            f"starts with {first:g}, which is neither 0 (offsets relative to "
            f"ImagePositionPatient) nor ImagePositionPatient z = {ipp_z:g} (absolute z "
            f"coordinates){extra}; export the dose again",
            path=path,
            tag="GridFrameOffsetVector",
        )
    return z, notes


def _beam_numbers(ref_plans: Sequence[Dataset], path: str) -> tuple[int, ...]:
    """ReferencedBeamNumber of every ReferencedBeamSequence item under
    ReferencedRTPlanSequence > ReferencedFractionGroupSequence, in file order."""
    numbers: list[int] = []
    for plan in ref_plans:
        for group in plan.get("ReferencedFractionGroupSequence", None) or []:
            for beam in group.get("ReferencedBeamSequence", None) or []:
                if beam.get("ReferencedBeamNumber", None) in (None, ""):
                    continue
                numbers.append(integer(beam, "ReferencedBeamNumber", path))
    return tuple(numbers)


#: Uncompressed little-endian transfer syntaxes, whose PixelData is the plain array.
_PLAIN_LE = frozenset({"1.2.840.10008.1.2", "1.2.840.10008.1.2.1"})
_PIXEL_DATA = 0x7FE00010


def _uncompressed_pixels(ds: Dataset, path: str, n_voxels: int, bits: int) -> np.ndarray | None:
    """The dose pixels read straight from the file into an array, or ``None`` (then
    pydicom decodes them).

    Only for the plain case: an uncompressed little-endian transfer syntax, one sample
    per pixel, BitsStored equal to BitsAllocated, and a PixelData element whose value
    pydicom deferred (``defer_size``) with exactly the expected length. It reads the
    ``n_voxels`` values once with NumPy, where pydicom would read the bytes and copy
    them into an array (5.8 ms against 22.6 ms for the 15 MB of the benchmark plan; issue
    #11).
    """
    meta = getattr(ds, "file_meta", None)
    syntax = str(getattr(meta, "TransferSyntaxUID", "") or "")
    elem = ds.get_item(_PIXEL_DATA, keep_deferred=True)
    if (
        syntax not in _PLAIN_LE
        or not isinstance(elem, RawDataElement)
        or elem.value is not None
        or elem.value_tell is None
    ):
        return None
    try:
        if int(ds.get("SamplesPerPixel", 1)) != 1 or int(ds.get("BitsStored", bits)) != bits:
            return None
        signed = int(ds.get("PixelRepresentation", 0)) == 1
    except (TypeError, ValueError):
        return None
    dtype = np.dtype(f"<{'i' if signed else 'u'}{bits // 8}")
    if elem.length != n_voxels * dtype.itemsize:
        return None
    try:
        pixels = np.fromfile(path, dtype=dtype, count=n_voxels, offset=int(elem.value_tell))
    except (OSError, ValueError):
        return None
    return pixels if pixels.size == n_voxels else None


@quiet_pydicom
def read_rtdose(path: str | Path) -> DoseGrid:
    """Read an RT Dose file.

    Parameters
    ----------
    path
        The RTDOSE file.

    Returns
    -------
    DoseGrid
        Dose in Gy (``float32``) on ascending x, y, z; CGY files are converted.

    Raises
    ------
    InputError
        The file does not exist.
    DicomInputError
        Not an RTDOSE; RELATIVE or unknown DoseUnits; a DoseSummationType not in
        :data:`SUMMATION_TYPES` (e.g. FRACTION_SESSION, CONTROL_POINT); oblique orientation; a bad
        or inconsistent GridFrameOffsetVector; duplicate frame positions; missing
        DoseGridScaling; more than :data:`MAX_VOXELS` voxels; pixel data that
        cannot be decoded; negative doses or doses above :data:`MAX_DOSE_GY`.
    """
    path = str(path)
    ds = read_dataset(path, modality="RTDOSE", defer_size="4 MB")
    name = Path(path).name
    notes: list[str] = []

    units = text(ds, "DoseUnits").upper()
    if units == "RELATIVE":
        raise DicomInputError(
            "is RELATIVE: relative dose cannot be checked against absolute constraints; "
            "export absolute dose (GY) from the planning system",
            path=path,
            tag="DoseUnits",
        )
    if units not in ("GY", "CGY"):
        what = shown(units) if units else "missing"
        raise DicomInputError(
            f"is {what}; dosecheck needs absolute dose in GY (or CGY): export the dose again",
            path=path,
            tag="DoseUnits",
        )

    summation = text(ds, "DoseSummationType").upper()
    if not summation:
        summation = "PLAN"
        notes.append(f"{name}: DoseSummationType is missing; assumed to be the plan dose")
    elif summation not in SUMMATION_TYPES:
        raise DicomInputError(
            f"is {shown(summation)}: dosecheck checks only the dose of the whole plan "
            "(PLAN or MULTI_PLAN), the dose per fraction (FRACTION) or per-beam doses to "
            "sum (BEAM); export the PLAN dose from the planning system",
            path=path,
            tag="DoseSummationType",
        )

    rows = integer(ds, "Rows", path)
    cols = integer(ds, "Columns", path)
    n_frames = integer(ds, "NumberOfFrames", path, default=1)
    if rows < 1 or cols < 1 or n_frames < 1:
        raise DicomInputError(
            f"grid size {cols} columns × {rows} rows × {n_frames} frames is empty; "
            "export the dose again",
            path=path,
            tag="Rows" if rows < 1 else "Columns" if cols < 1 else "NumberOfFrames",
        )
    n_voxels = rows * cols * n_frames
    if n_voxels > MAX_VOXELS:
        raise DicomInputError(
            f"grid of {cols} × {rows} × {n_frames} = {n_voxels:,} voxels exceeds the "
            f"supported {MAX_VOXELS:,}; export the dose on a coarser grid",
            path=path,
            tag="NumberOfFrames",
        )

    r_axis, r_sign, c_axis, c_sign = _orientation(ds, path)
    ipp = floats(ds, "ImagePositionPatient", path, count=3)
    spacing = floats(ds, "PixelSpacing", path, count=2)
    if min(spacing) <= 0:
        raise DicomInputError(
            f"{spacing} must be positive; export the dose again", path=path, tag="PixelSpacing"
        )
    row_spacing, col_spacing = spacing
    normal_z = r_sign * c_sign * (1 if (r_axis, c_axis) == (0, 1) else -1)
    orientation = _ORIENTATION_NAMES.get((r_axis, r_sign, c_axis, c_sign), "transposed")
    z_file, z_notes = _frame_z(ds, path, n_frames, ipp[2], normal_z, orientation == "HFS")
    notes.extend(f"{name}: {n}" for n in z_notes)

    bits = integer(ds, "BitsAllocated", path)
    if "PixelData" not in ds:
        raise DicomInputError(
            "is missing: the file holds no dose values; export the dose again",
            path=path,
            tag="PixelData",
        )
    if bits not in (16, 32):
        raise DicomInputError(
            f"is {bits}; only 16- and 32-bit integer dose is supported",
            path=path,
            tag="BitsAllocated",
        )
    scaling_raw = ds.get("DoseGridScaling", None)
    if scaling_raw is None or scaling_raw == "":
        raise DicomInputError(
            "is missing; it is required to convert the integer pixels to dose. Export "
            "the dose again",
            path=path,
            tag="DoseGridScaling",
        )
    scaling = floats(ds, "DoseGridScaling", path, count=1)[0]
    if scaling <= 0:
        raise DicomInputError(
            f"is {scaling:g}; it must be positive. Export the dose again",
            path=path,
            tag="DoseGridScaling",
        )

    pixels = _uncompressed_pixels(ds, path, n_voxels, bits)
    own_pixels = pixels is not None  # read here, not pydicom's (cached) array
    try:
        if pixels is None:
            pixels = ds.pixel_array
    except Exception as exc:  # pydicom raises many types for bad/unsupported data
        raise DicomInputError(
            f"cannot be decoded ({type(exc).__name__}: {one_line(exc)}); the pixel data is "
            "truncated, corrupt or uses a compression without an installed decoder. "
            "Export the dose uncompressed",
            path=path,
            tag="PixelData",
        ) from exc
    pixels = np.asarray(pixels)
    if pixels.size != n_voxels:
        raise DicomInputError(
            f"holds {pixels.size:,} values, but Rows × Columns × NumberOfFrames is "
            f"{rows} × {cols} × {n_frames} = {n_voxels:,}; the file is inconsistent, "
            "export it again",
            path=path,
            tag="PixelData",
        )
    pixels = pixels.reshape(n_frames, rows, cols)

    # File (frame, row, column) → physical (z, y, x).
    col_pos = ipp[r_axis] + r_sign * col_spacing * np.arange(cols, dtype=np.float64)
    row_pos = ipp[c_axis] + c_sign * row_spacing * np.arange(rows, dtype=np.float64)
    view = pixels
    if r_sign < 0:
        view = view[:, :, ::-1]
        col_pos = col_pos[::-1]
    if c_sign < 0:
        view = view[:, ::-1, :]
        row_pos = row_pos[::-1]
    if r_axis == 0:
        x, y = col_pos, row_pos
    else:
        view = view.transpose(0, 2, 1)
        x, y = row_pos, col_pos
    for axis, c in (("x", x), ("y", y), ("z", z_file)):
        if not np.all(np.isfinite(c)) or (c.size > 1 and np.ptp(c) > 1e7):
            raise DicomInputError(
                f"with ImagePositionPatient {ipp} and PixelSpacing {spacing} the grid's {axis} "
                f"coordinates run from {c.min():g} to {c.max():g} mm, which is not a patient "
                "grid; export the dose again",
                path=path,
                tag="ImagePositionPatient",
            )
        if c.size > 1 and axis != "z" and np.any(np.diff(c) <= 0):
            raise DicomInputError(
                f"{spacing} is too small for coordinates near {c[0]:g} mm: the voxel "
                "positions coincide in floating point; export the dose again",
                path=path,
                tag="PixelSpacing",
            )
    order = np.argsort(z_file, kind="stable")
    z = z_file[order]
    if z.size > 1 and np.any(np.diff(z) < _GFOV_TOLERANCE_MM):
        dup = float(z[np.argmax(np.diff(z) < _GFOV_TOLERANCE_MM)])
        raise DicomInputError(
            f"places two frames at the same position z = {dup:g} mm; export the dose again",
            path=path,
            tag="GridFrameOffsetVector",
        )
    if np.all(order == np.arange(n_frames)):
        pass
    elif np.all(order == np.arange(n_frames)[::-1]):
        view = view[::-1]
        notes.append(f"{name}: frames stored in descending z; reordered")
    else:
        view = view[order]
        notes.append(f"{name}: frames stored out of z order; reordered")
    if orientation != "HFS":
        notes.append(f"{name}: {orientation} orientation normalised to ascending x, y, z")

    factor = scaling * (0.01 if units == "CGY" else 1.0)
    if pixels.size:
        highest = float(pixels.max()) * factor
        lowest = float(pixels.min()) * factor if pixels.dtype.kind == "i" else 0.0
        if lowest < 0:
            raise DicomInputError(
                f"gives negative doses (down to {lowest:g} Gy); dosecheck needs physical "
                "dose, not a dose difference. Export the plan dose again",
                path=path,
                tag="PixelRepresentation",
            )
        if highest > MAX_DOSE_GY:
            raise DicomInputError(
                f"{scaling:g} gives a maximum dose of {highest:.4g} Gy, more than the "
                f"{MAX_DOSE_GY:,} Gy any plan can hold: the scaling (or DoseUnits "
                f"{units}) is wrong. Export the dose again",
                path=path,
                tag="DoseGridScaling",
            )
    if units == "CGY":
        notes.append(f"{name}: DoseUnits CGY converted to Gy")
    if own_pixels and view.itemsize == 4 and view.flags.c_contiguous and view.flags.writeable:
        # 32-bit pixels read here and in file order: the dose takes their memory, value
        # by value (each is read before it is overwritten), instead of a second grid
        # to page in: 3,800 page faults fewer on the benchmark plan (issue #11).
        dose = view.view(np.float32)
    else:
        dose = np.empty(view.shape, dtype=np.float32)
    # float64 arithmetic, one rounding to float32, no float64 copy of the grid
    np.multiply(view, np.float64(factor), out=dose, casting="unsafe")

    plan_uid = ""
    ref_plans = ds.get("ReferencedRTPlanSequence", None) or []
    if ref_plans:
        plan_uid = text(ref_plans[0], "ReferencedSOPInstanceUID")
    beam_numbers = _beam_numbers(ref_plans, path)
    return DoseGrid(
        x=np.ascontiguousarray(x),
        y=np.ascontiguousarray(y),
        z=np.ascontiguousarray(z),
        dose_gy=dose,
        frame_of_reference_uid=text(ds, "FrameOfReferenceUID"),
        summation_type=summation,
        sources=(path,),
        sop_instance_uids=(text(ds, "SOPInstanceUID"),),
        referenced_plan_uid=plan_uid,
        notes=tuple(notes),
        scaling_gy=factor,
        referenced_beam_numbers=beam_numbers,
    )


# --------------------------------------------------------------------------- combining


def _same_grid(a: DoseGrid, b: DoseGrid) -> bool:
    if a.shape != b.shape:
        return False
    return all(
        np.allclose(u, v, rtol=0.0, atol=COORD_TOLERANCE_MM)
        for u, v in ((a.x, b.x), (a.y, b.y), (a.z, b.z))
    )


def _linear_weights(
    src: np.ndarray, dst: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Indices and weights to interpolate along one axis from ``src`` to ``dst``.

    Returns ``(i0, i1, w1, inside)``: value = ``(1 - w1) f[i0] + w1 f[i1]``;
    ``inside`` is False where ``dst`` lies outside ``src`` (beyond the tolerance).
    """
    n = src.size
    inside = (dst >= src[0] - COORD_TOLERANCE_MM) & (dst <= src[-1] + COORD_TOLERANCE_MM)
    if n == 1:
        zeros = np.zeros(dst.size, dtype=np.int64)
        return zeros, zeros, np.zeros(dst.size), inside
    i0 = np.clip(np.searchsorted(src, dst, side="right") - 1, 0, n - 2)
    i1 = i0 + 1
    w1 = np.clip((dst - src[i0]) / (src[i1] - src[i0]), 0.0, 1.0)
    return i0, i1, w1, inside


def _resample(
    grid: DoseGrid, x: np.ndarray, y: np.ndarray, z: np.ndarray
) -> tuple[np.ndarray, int]:
    """Trilinear interpolation of ``grid`` at the rectilinear points (z, y, x).

    Separable: interpolate along x, then y, then z (identical to trilinear).
    Points outside ``grid`` get 0. Returns the float32 array and the number of
    outside points.
    """
    f, inside = _resample_values(grid, grid.dose_gy, x, y, z)
    return f, int(inside.size - np.count_nonzero(inside))


def _resample_values(
    grid: DoseGrid, values: np.ndarray, x: np.ndarray, y: np.ndarray, z: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``values`` (on ``grid``'s nodes) interpolated trilinearly at (z, y, x), 0
    outside the grid, and the mask of the points inside."""
    f = values
    ix0, ix1, wx, inx = _linear_weights(grid.x, x)
    f = f[:, :, ix0] * (1.0 - wx).astype(np.float32) + f[:, :, ix1] * wx.astype(np.float32)
    iy0, iy1, wy, iny = _linear_weights(grid.y, y)
    wy32 = wy.astype(np.float32)[:, None]
    f = f[:, iy0, :] * (1.0 - wy32) + f[:, iy1, :] * wy32
    iz0, iz1, wz, inz = _linear_weights(grid.z, z)
    wz32 = wz.astype(np.float32)[:, None, None]
    f = f[iz0] * (1.0 - wz32) + f[iz1] * wz32
    inside = inz[:, None, None] & iny[None, :, None] & inx[None, None, :]
    f = np.where(inside, f, np.float32(0.0)).astype(np.float32, copy=False)
    return f, inside


def _label(grid: DoseGrid) -> str:
    return ", ".join(Path(s).name for s in grid.sources) or "dose grid"


def combine_doses(grids: Sequence[DoseGrid], *, resample: bool = True) -> DoseGrid:
    """Sum several dose grids of one FrameOfReference.

    Parameters
    ----------
    grids
        Doses to add, e.g. one RTDOSE per beam or per plan.
    resample
        When the grids differ, resample the others onto the first grid with
        trilinear interpolation (points outside a grid contribute 0 and a note
        says so). When False, differing grids raise.

    Returns
    -------
    DoseGrid
        The sum on the first grid. BEAM doses summed give ``"PLAN"``; ``notes``
        record what was done. A single grid is returned unchanged.

    Raises
    ------
    DicomInputError
        No grids; different FrameOfReferenceUIDs; mixed DoseSummationTypes (e.g.
        PLAN and BEAM); different grids with ``resample=False``.
    """
    grids = list(grids)
    if not grids:
        raise DicomInputError("no dose grids to combine; pass at least one RTDOSE file")
    if len(grids) == 1:
        return grids[0]
    base = grids[0]

    frames = {g.frame_of_reference_uid for g in grids if g.frame_of_reference_uid}
    if len(frames) > 1:
        listing = "; ".join(f"{_label(g)}: {g.frame_of_reference_uid or '-'}" for g in grids)
        raise DicomInputError(
            f"the dose files have different FrameOfReferenceUIDs ({listing}); doses in "
            "different coordinate systems cannot be summed. Pass only the doses of one plan",
            path=grids[0].sources[0] if grids[0].sources else None,
            tag="FrameOfReferenceUID",
        )
    types = [g.summation_type.upper() or "PLAN" for g in grids]
    if len(set(types)) > 1:
        listing = "; ".join(f"{_label(g)}: {t}" for g, t in zip(grids, types, strict=True))
        raise DicomInputError(
            f"cannot sum doses of different DoseSummationType ({listing}); pass either the "
            "plan dose or the per-beam doses, not both",
            path=grids[0].sources[0] if grids[0].sources else None,
            tag="DoseSummationType",
        )
    kind = types[0]
    result_type = "PLAN" if kind == "BEAM" else kind

    notes: list[str] = [n for g in grids for n in g.notes]
    total = np.array(base.dose_gy, dtype=np.float32, copy=True)
    for g in grids[1:]:
        if _same_grid(base, g):
            total += g.dose_gy
            continue
        if not resample:
            raise DicomInputError(
                f"dose grid of {_label(g)} ({g.shape[2]}×{g.shape[1]}×{g.shape[0]}) differs "
                f"from that of {_label(base)} ({base.shape[2]}×{base.shape[1]}×"
                f"{base.shape[0]}); enable resampling or export the doses on one grid",
                path=g.sources[0] if g.sources else None,
                tag="ImagePositionPatient",
            )
        values, outside = _resample(g, base.x, base.y, base.z)
        total += values
        note = f"resampled {_label(g)} onto the grid of {_label(base)} (trilinear)"
        if outside:
            note += (
                f"; {outside:,} of {values.size:,} points lie outside that dose grid and "
                "received 0 Gy from it"
            )
        notes.append(note)
    notes.append(
        f"summed {len(grids)} {kind} doses"
        + (" into a PLAN dose" if kind == "BEAM" else "")
        + f" ({', '.join(_label(g) for g in grids)})"
    )
    plan_uids = {g.referenced_plan_uid for g in grids if g.referenced_plan_uid}
    return DoseGrid(
        x=base.x,
        y=base.y,
        z=base.z,
        dose_gy=total,
        frame_of_reference_uid=next(iter(frames), ""),
        summation_type=result_type,
        sources=tuple(s for g in grids for s in g.sources),
        sop_instance_uids=tuple(u for g in grids for u in g.sop_instance_uids),
        referenced_plan_uid=base.referenced_plan_uid or (min(plan_uids) if plan_uids else ""),
        notes=tuple(notes),
        referenced_beam_numbers=tuple(n for g in grids for n in g.referenced_beam_numbers),
    )


# --------------------------------------------------------------------------- beam check
#: Safety factor on the trilinear-interpolation error bound estimated from second
#: differences (they sample the curvature only at the nodes).
_INTERPOLATION_SAFETY = 2.0


def _interpolation_bound(grid: DoseGrid) -> np.ndarray:
    """Per node, a bound on the trilinear interpolation error near it (Gy).

    In a cell of widths h, trilinear interpolation is off by at most
    Σ h²/8 · max|∂²f/∂a²|. The second derivatives are estimated by second divided
    differences at the nodes, taken as their maximum over each node's neighbours
    (so a cell's bound covers all its corners) and multiplied by
    :data:`_INTERPOLATION_SAFETY`.
    """
    f = grid.dose_gy.astype(np.float64)
    bound = np.zeros(f.shape, dtype=np.float64)
    for axis, coords in ((2, grid.x), (1, grid.y), (0, grid.z)):
        n = coords.size
        if n < 3:
            continue
        h = np.diff(coords)
        shape = [1, 1, 1]
        shape[axis] = n - 1
        slope = np.diff(f, axis=axis) / h.reshape(shape)
        shape[axis] = n - 2
        d2 = np.abs(np.diff(slope, axis=axis)) * 2.0 / (h[:-1] + h[1:]).reshape(shape)
        d2 = np.concatenate(
            [np.take(d2, [0], axis=axis), d2, np.take(d2, [n - 3], axis=axis)], axis=axis
        )
        bound += d2 * (float(h.max()) ** 2 / 8.0)
    for axis in range(3):  # maximum over the neighbours along every axis
        if bound.shape[axis] > 1:
            lo = np.take(bound, range(bound.shape[axis] - 1), axis=axis)
            hi = np.take(bound, range(1, bound.shape[axis]), axis=axis)
            pair = np.maximum(lo, hi)
            first = np.take(pair, [0], axis=axis)
            last = np.take(pair, [pair.shape[axis] - 1], axis=axis)
            inner = np.maximum(
                np.take(pair, range(pair.shape[axis] - 1), axis=axis),
                np.take(pair, range(1, pair.shape[axis]), axis=axis),
            )
            bound = np.concatenate([first, inner, last], axis=axis)
    return (bound * _INTERPOLATION_SAFETY).astype(np.float32)


def compare_beam_doses(plan_dose: DoseGrid, beams: Sequence[DoseGrid]) -> BeamDoseCheck:
    """Compare a PLAN dose with the sum of its BEAM doses, voxel by voxel.

    The beams are summed on the PLAN grid (resampled trilinearly where their grid
    differs) and compared at the PLAN voxels inside every beam grid. Each file's
    values are multiples of its DoseGridScaling, so they may differ by half a step
    of the PLAN dose plus half a step of each beam; float32 rounding and, for
    resampled beams, a bound on the interpolation error
    (:func:`_interpolation_bound`) are added.

    Returns
    -------
    BeamDoseCheck
        The largest difference and where it is (the largest among the voxels beyond
        their tolerance, when there are any).

    Raises
    ------
    DicomInputError
        No beams; a FrameOfReferenceUID that differs from the PLAN dose's; beam grids
        that do not overlap the PLAN grid.
    """
    if not beams:
        raise DicomInputError("no BEAM doses to compare with the PLAN dose")
    frames = {g.frame_of_reference_uid for g in (plan_dose, *beams) if g.frame_of_reference_uid}
    if len(frames) > 1:
        listing = "; ".join(
            f"{_label(g)}: {g.frame_of_reference_uid or '-'}" for g in (plan_dose, *beams)
        )
        raise DicomInputError(
            f"the PLAN dose and its BEAM doses have different FrameOfReferenceUIDs "
            f"({listing}); pass the doses of one plan with --rtdose",
            path=plan_dose.sources[0] if plan_dose.sources else None,
            tag="FrameOfReferenceUID",
        )
    total = np.zeros(plan_dose.shape, dtype=np.float32)
    inside = np.ones(plan_dose.shape, dtype=bool)
    interpolation = np.zeros(plan_dose.shape, dtype=np.float32)
    resampled = False
    for b in beams:
        if _same_grid(plan_dose, b):
            total += b.dose_gy
            continue
        resampled = True
        values, in_b = _resample_values(b, b.dose_gy, plan_dose.x, plan_dose.y, plan_dose.z)
        total += values
        inside &= in_b
        bound, _ = _resample_values(
            b, _interpolation_bound(b), plan_dose.x, plan_dose.y, plan_dose.z
        )
        interpolation += bound
    n_compared = int(np.count_nonzero(inside))
    if n_compared == 0:
        raise DicomInputError(
            f"the BEAM doses ({', '.join(_label(b) for b in beams)}) do not overlap the grid "
            "of the PLAN dose; pass the doses of one plan with --rtdose",
            path=plan_dose.sources[0] if plan_dose.sources else None,
            tag="ImagePositionPatient",
        )
    quantisation = 0.5 * (plan_dose.scaling_gy + sum(b.scaling_gy for b in beams))
    top = max(float(plan_dose.dose_gy.max()), float(total.max()), 0.0)
    rounding = (len(beams) + 2) * float(np.finfo(np.float32).eps) * top
    diff = np.abs(plan_dose.dose_gy - total)
    tolerance = interpolation + np.float32(quantisation + rounding)
    beyond = inside & (diff > tolerance)
    consistent = not bool(np.any(beyond))
    flat = int(np.argmax(np.where(inside if consistent else beyond, diff, -1.0)))
    k, j, i = np.unravel_index(flat, plan_dose.shape)
    return BeamDoseCheck(
        plan_dose=plan_dose.sources[0] if plan_dose.sources else "",
        beam_doses=tuple(s for b in beams for s in b.sources),
        max_abs_diff_gy=float(diff[k, j, i]),
        at_mm=(float(plan_dose.x[i]), float(plan_dose.y[j]), float(plan_dose.z[k])),
        tolerance_gy=float(tolerance[k, j, i]),
        consistent=consistent,
        resampled=resampled,
        n_compared=n_compared,
    )
