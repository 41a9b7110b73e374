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
from dosecheck.model import DoseGrid

__all__ = [
    "COORD_TOLERANCE_MM",
    "MAX_DOSE_GY",
    "MAX_VOXELS",
    "SUMMATION_TYPES",
    "combine_doses",
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

    try:
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
    dose = np.empty(view.shape, dtype=np.float32)
    # float64 arithmetic, one rounding to float32, no float64 copy of the grid
    np.multiply(view, np.float64(factor), out=dose, casting="unsafe")

    plan_uid = ""
    ref_plans = ds.get("ReferencedRTPlanSequence", None) or []
    if ref_plans:
        plan_uid = text(ref_plans[0], "ReferencedSOPInstanceUID")
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
    f = grid.dose_gy
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
    return f, int(inside.size - np.count_nonzero(inside))


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
    )
