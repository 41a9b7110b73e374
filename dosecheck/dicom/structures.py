"""Read RT Structure Set files into :class:`~dosecheck.model.StructureSet`.

ContourData is the bulk of an RTSTRUCT (often several hundred thousand points).
pydicom turns every value into a validated ``DSfloat`` object, which costs about
2 µs per value. This reader instead takes the undecoded bytes of every
ContourData element, joins them and converts them in one vectorised pass
(:func:`parse_decimal_string`): about 15-20× faster on 100k-point files, with
bit-identical results (see ``benchmarks/bench_contour_parse.py``).

Limits: at most :data:`MAX_CONTOUR_POINTS` points per file; only axial
CLOSED_PLANAR contours are used; a coordinate beyond ±:data:`MAX_COORDINATE_MM`
(100 m) is not a patient coordinate and the file is refused as corrupt.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset

from dosecheck.dicom._common import integer, one_line, quiet_pydicom, read_dataset, text
from dosecheck.errors import DicomInputError
from dosecheck.model import Structure, StructureSet

__all__ = [
    "MAX_CONTOUR_POINTS",
    "MAX_COORDINATE_MM",
    "PLANAR_TOLERANCE_MM",
    "parse_decimal_string",
    "read_rtstruct",
]

#: Largest number of contour points accepted in one RTSTRUCT (about 0.5 GB of text).
MAX_CONTOUR_POINTS = 20_000_000
#: Largest contour coordinate magnitude accepted (mm): 100 m. Anything larger is not a
#: patient coordinate (and would overflow the rasteriser's integer arithmetic).
MAX_COORDINATE_MM = 1e5
#: A closed contour's points must lie within this z range (mm) to count as axial.
PLANAR_TOLERANCE_MM = 0.01

_CONTOUR_DATA = 0x30060050
_CONTOUR_GEOMETRIC_TYPE = 0x30060042
_NUMBER_OF_CONTOUR_POINTS = 0x30060046
_P10 = 10.0 ** np.arange(23)

# --------------------------------------------------------------------------- parsing

_DS_TOKEN = rb"[ \0]*(?:[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|[+-]?(?i:nan|inf|infinity))[ \0]*"
_DS_LIST = re.compile(_DS_TOKEN + rb"(?:\\" + _DS_TOKEN + rb")*")
_DS_ONE = re.compile(_DS_TOKEN)


def _bad_token(i: int, token: bytes) -> DicomInputError:
    shown = token[:40].decode("latin-1")
    return DicomInputError(
        f"value {i + 1} ({shown!r}) is not a decimal number; the file is corrupt or "
        "was not written by a DICOM-conformant exporter"
    )


def _parse_irregular(
    data: bytes, idx: np.ndarray, starts: np.ndarray, ends: np.ndarray
) -> np.ndarray:
    """Validate and convert the tokens the vectorised path did not handle."""
    tokens = [data[a:b] for a, b in zip(starts[idx].tolist(), ends[idx].tolist(), strict=True)]
    if _DS_LIST.fullmatch(b"\\".join(tokens)) is None:
        for i, token in zip(idx.tolist(), tokens, strict=True):
            if _DS_ONE.fullmatch(token) is None:
                raise _bad_token(i, token)
    return np.array([t.strip(b" \0") for t in tokens], dtype=np.float64)


def _parse_tokens(data: bytes) -> np.ndarray:
    """Parse backslash-separated decimal strings, mostly without Python loops.

    Plain ``[+-]digits[.digits]`` tokens of up to 16 characters (what planning
    systems write) are grouped by (length, has sign), so each group is a
    fixed-width ``(n, width)`` byte matrix whose digits are combined with one
    matrix-vector product. Every intermediate is an integer below 2**53 and the
    last step is one correctly rounded division by an exact power of ten, so the
    result is bit-identical to ``float(token)``. Other tokens (exponents, inner
    spaces, ``nan``…) are validated with a regular expression and converted by
    NumPy.
    """
    buf = np.frombuffer(data, dtype=np.uint8)
    n = buf.size
    sep_idx = np.flatnonzero(buf == 92)  # backslash
    ntok = sep_idx.size + 1
    starts = np.empty(ntok, dtype=np.int64)
    starts[0] = 0
    starts[1:] = sep_idx + 1
    ends = np.empty(ntok, dtype=np.int64)
    ends[:-1] = sep_idx
    ends[-1] = n
    lengths = ends - starts
    out = np.empty(ntok, dtype=np.float64)
    irregular = [np.flatnonzero((lengths < 1) | (lengths > 16))]
    first = buf[np.minimum(starts, n - 1)]
    has_sign = (first == 45) | (first == 43)
    key = np.where((lengths < 1) | (lengths > 16), 255, lengths * 2 + has_sign).astype(np.uint8)
    order = np.argsort(key, kind="stable")
    sorted_key = key[order]
    bounds = np.flatnonzero(sorted_key[1:] != sorted_key[:-1]) + 1
    group_start = [0, *bounds.tolist()]
    group_end = [*bounds.tolist(), ntok]
    for a, b in zip(group_start, group_end, strict=True):
        k = int(sorted_key[a])
        if k == 255:
            continue
        idx = order[a:b]
        signed, length = k & 1, k >> 1
        width = length - signed
        if width < 1 or width > 15:
            irregular.append(idx)  # a lone sign, or too many digits for exact integers
            continue
        s = starts[idx]
        m = np.lib.stride_tricks.sliding_window_view(buf, width)[s + signed]  # (n, width)
        d = m - np.uint8(48)
        is_digit = d < 10
        is_dot = m == 46
        # Row-wise reductions over a short axis are slow in NumPy; use global checks
        # and matrix-vector products instead, and per-row checks only on failure.
        # (einsum, not `@`: BLAS threads slow to a crawl on a busy machine)
        dot_pos = np.einsum("ij,j->i", is_dot, np.arange(1.0, width + 1.0))  # 1-based; 0: none
        has_dot = dot_pos > 0
        if not np.all(is_digit | is_dot) or np.count_nonzero(is_dot) != np.count_nonzero(has_dot):
            ones = np.ones(width)
            n_dot = np.einsum("ij,j->i", is_dot, ones)
            n_bad = np.einsum("ij,j->i", ~(is_digit | is_dot), ones)
            ok = (n_bad == 0) & (n_dot < 2) & (n_dot < width)
        elif width == 1 and has_dot.any():
            ok = ~has_dot
        else:
            ok = None
        if ok is not None:
            dot_pos = np.where(ok, dot_pos, 0.0)  # rows with several dots: parsed later
        # One exact integer matrix-vector product per dot position present (usually
        # one or two per group), then one correctly rounded division.
        dot_counts = np.bincount(dot_pos.astype(np.int64), minlength=width + 1)
        vals = np.empty(idx.size)
        for pos in np.flatnonzero(dot_counts).tolist():
            weights = _P10[width - 1 :: -1].copy()
            if pos:
                weights[: pos - 1] /= 10.0  # digits before the dot
                weights[pos - 1] = 0.0  # the dot itself
            # The dot slot has weight 0; rows with another dot position get garbage
            # here and are not used.
            r = np.einsum("ij,j->i", d, weights)
            if pos:
                r /= _P10[width - pos]
            if dot_counts[pos] == idx.size:
                vals = r
            else:
                rows = dot_pos == pos
                vals[rows] = r[rows]
        if signed:
            neg = buf[s] == 45
            vals[neg] = -vals[neg]
        out[idx] = vals
        if ok is not None:
            irregular.append(idx[~ok])
    odd = np.sort(np.concatenate(irregular))
    if odd.size:
        out[odd] = _parse_irregular(data, odd, starts, ends)
    return out


def parse_decimal_string(raw: bytes | bytearray | memoryview | str) -> np.ndarray:
    """Parse a DICOM DS multi-value (``b"1.5\\\\-2\\\\3e-1"``) into a float64 array.

    Plain decimal tokens (the form planning systems write) take a vectorised
    NumPy path; the rest (exponents, spaces around values, ``nan``/``inf``) are
    validated with a regular expression and converted by NumPy. Spaces and NUL
    padding around the whole string or around values are ignored. ``nan`` and
    ``inf`` are returned as such: the caller decides whether they are acceptable.

    Parameters
    ----------
    raw
        The element value as bytes (or str).

    Returns
    -------
    numpy.ndarray
        ``float64`` values; empty for an empty (or all-blank) string.

    Raises
    ------
    DicomInputError
        A value is not a decimal number, or is empty (``1\\\\\\\\2``). The message
        shows the first bad value and its 1-based position. The error carries no
        path; callers add it.
    """
    if isinstance(raw, str):
        raw = raw.encode("latin-1", errors="replace")
    data = bytes(raw).strip(b" \0")
    if not data:
        return np.zeros(0, dtype=np.float64)
    return _parse_tokens(data)


# --------------------------------------------------------------------------- reader


def _contour_bytes(item: Dataset) -> bytes | None:
    """ContourData of one item as raw bytes, without decoding it through pydicom."""
    elem = item.get_item(_CONTOUR_DATA)
    if elem is None:
        return None
    if isinstance(elem, RawDataElement):
        value = elem.value
        return bytes(value).strip(b" \0") if value else b""
    value = elem.value  # already converted (e.g. accessed before): re-encode
    if value is None or value == "":
        return b""
    seq = [value] if isinstance(value, str | bytes | int | float) else list(value)
    return b"\\".join(repr(float(v)).encode() for v in seq)


def _geometry(item: Dataset) -> str:
    """ContourGeometricType of one item, upper-case (``""`` when absent).

    A raw element's bytes are read directly: pydicom's conversion of a CS value costs
    about 15 µs, paid once per contour (issue #11).
    """
    elem = item.get_item(_CONTOUR_GEOMETRIC_TYPE)
    if isinstance(elem, RawDataElement) and isinstance(elem.value, bytes):
        return elem.value.strip(b" \0").decode("ascii", "replace").upper()
    return text(item, "ContourGeometricType").upper()


def _number_of_points(item: Dataset, path: str, default: int) -> int:
    """NumberOfContourPoints of one item (``default`` when absent), read from the raw
    bytes when they are a plain decimal integer, else through pydicom (which also
    gives the error naming the tag)."""
    elem = item.get_item(_NUMBER_OF_CONTOUR_POINTS)
    if isinstance(elem, RawDataElement) and isinstance(elem.value, bytes):
        raw = elem.value.strip(b" \0")
        if raw.isdigit():
            return int(raw)
    return integer(item, "NumberOfContourPoints", path, default=default)


def _color(rc: Dataset) -> tuple[int, int, int] | None:
    value = rc.get("ROIDisplayColor", None)
    try:
        rgb = [int(v) for v in value] if value is not None else []
    except (TypeError, ValueError):
        return None
    return (rgb[0], rgb[1], rgb[2]) if len(rgb) == 3 else None


def _skip_note(kind: str, n: int) -> str:
    s = "" if n == 1 else "s"
    if kind == "short":
        return f"skipped {n} contour{s} with fewer than 3 points"
    return f"skipped {n} {kind} contour{s} (only CLOSED_PLANAR are used)"


@quiet_pydicom
def read_rtstruct(path: str | Path, *, roi_numbers: Iterable[int] | None = None) -> StructureSet:
    """Read an RT Structure Set.

    Parameters
    ----------
    path
        The RTSTRUCT file.
    roi_numbers
        Only read these ROI numbers (all when ``None``).

    Returns
    -------
    StructureSet
        One :class:`~dosecheck.model.Structure` per ROI in StructureSetROISequence
        order. ROIs without contours are empty structures; POINT/OPEN contours and
        contours with fewer than 3 points are skipped and noted.

    Raises
    ------
    InputError
        The file does not exist.
    DicomInputError
        Not an RTSTRUCT; two ROIs with one ROINumber, or two ROIContourSequence
        items for one ROI; a requested ROI number is absent; a closed contour is
        not axial; NumberOfContourPoints disagrees with ContourData; ContourData
        holds non-numbers, NaN, infinity or coordinates beyond
        :data:`MAX_COORDINATE_MM`; more than
        :data:`MAX_CONTOUR_POINTS` points.
    """
    path = str(path)
    ds = read_dataset(path, modality="RTSTRUCT")

    roi_info: dict[int, tuple[str, str]] = {}
    order: list[int] = []
    for item in ds.get("StructureSetROISequence", None) or []:
        number = integer(item, "ROINumber", path)
        if number in roi_info:
            # Contours and types are found by number: they could not be told apart.
            raise DicomInputError(
                f"{number} is used by two ROIs ('{one_line(roi_info[number][0], 64)}' and "
                f"'{one_line(text(item, 'ROIName'), 64)}'); the file is inconsistent, "
                "export it again",
                path=path,
                tag="ROINumber",
            )
        roi_info[number] = (text(item, "ROIName"), text(item, "ReferencedFrameOfReferenceUID"))
        order.append(number)
    interpreted: dict[int, str] = {}
    for item in ds.get("RTROIObservationsSequence", None) or []:
        ref = item.get("ReferencedROINumber", None)
        try:
            number = int(ref)  # type: ignore[arg-type]
        except (TypeError, ValueError):  # absent or unreadable: the type stays unknown
            continue
        interpreted.setdefault(number, text(item, "RTROIInterpretedType").upper())
    contours_of: dict[int, Dataset] = {}
    set_notes: list[str] = []
    for item in ds.get("ROIContourSequence", None) or []:
        ref = integer(item, "ReferencedROINumber", path)
        if ref not in roi_info:
            set_notes.append(
                f"ROIContourSequence refers to ROI {ref}, which is not in "
                "StructureSetROISequence; ignored"
            )
            continue
        if ref in contours_of:
            raise DicomInputError(
                f"has two ROIContourSequence items for ROI {ref} "
                f"'{one_line(roi_info[ref][0], 64)}'; the file is inconsistent, export it again",
                path=path,
                tag="ReferencedROINumber",
            )
        contours_of[ref] = item

    if roi_numbers is not None:
        wanted = [int(n) for n in roi_numbers]
        missing = [n for n in wanted if n not in roi_info]
        if missing:
            available = one_line(", ".join(f"{n} ({roi_info[n][0]})" for n in order), 400)
            raise DicomInputError(
                f"has no ROI number {', '.join(map(str, missing))}; available: {available}",
                path=path,
                tag="ROINumber",
            )
        order = [n for n in order if n in set(wanted)]

    # Collect every contour item of the selected ROIs (one Python step per contour).
    chunks: list[bytes] = []
    roi_of: list[int] = []  # index into `order`
    n_declared: list[int] = []
    per_roi_notes: list[Counter[str]] = [Counter() for _ in order]
    for r, number in enumerate(order):
        rc = contours_of.get(number)
        if rc is None:
            continue
        for c_index, item in enumerate(rc.get("ContourSequence", None) or [], start=1):
            geometry = _geometry(item)
            if geometry != "CLOSED_PLANAR":
                per_roi_notes[r][geometry or "untyped"] += 1
                continue
            data = _contour_bytes(item)
            n_values = 0 if not data else data.count(b"\\") + 1
            n_points = _number_of_points(item, path, n_values // 3)
            if n_values != 3 * n_points:
                name = one_line(roi_info[number][0], 64)
                raise DicomInputError(
                    f"ROI {number} '{name}', contour {c_index}: NumberOfContourPoints is "
                    f"{n_points} but ContourData holds {n_values} values (expected "
                    f"{3 * n_points}); the file is corrupt, export it again",
                    path=path,
                    tag="ContourData",
                )
            chunks.append(data or b"")
            roi_of.append(r)
            n_declared.append(n_points)

    total_points = int(sum(n_declared))
    if total_points > MAX_CONTOUR_POINTS:
        raise DicomInputError(
            f"holds {total_points:,} contour points, more than the supported "
            f"{MAX_CONTOUR_POINTS:,}; reduce the number of ROIs (e.g. select ROIs) or "
            "export with fewer points",
            path=path,
            tag="ContourData",
        )

    counts = np.asarray(n_declared, dtype=np.int64)
    roi_index = np.asarray(roi_of, dtype=np.int64)
    nonempty = [c for c in chunks if c]
    try:
        values = parse_decimal_string(b"\\".join(nonempty)) if nonempty else np.zeros(0)
    except DicomInputError:
        # Find the offending ROI for the message (error path only).
        for data, r in zip(chunks, roi_of, strict=True):
            try:
                parse_decimal_string(data)
            except DicomInputError as exc:
                number = order[r]
                raise DicomInputError(
                    f"ROI {number} '{one_line(roi_info[number][0], 64)}': {exc.message}",
                    path=path,
                    tag="ContourData",
                ) from None
        raise
    xyz = values.reshape(-1, 3)
    point_contour = np.repeat(np.arange(counts.size), counts)

    bad = ~np.isfinite(xyz).all(axis=1)
    if bad.any():
        c = int(point_contour[np.argmax(bad)])
        number = order[int(roi_index[c])]
        raise DicomInputError(
            f"ROI {number} '{one_line(roi_info[number][0], 64)}' has NaN or infinite coordinates; "
            "fix or remove this structure in the planning system and export again",
            path=path,
            tag="ContourData",
        )
    far = (np.abs(xyz) > MAX_COORDINATE_MM).any(axis=1)
    if far.any():
        i = int(np.argmax(far))
        number = order[int(roi_index[int(point_contour[i])])]
        value = float(xyz[i][np.argmax(np.abs(xyz[i]))])
        raise DicomInputError(
            f"ROI {number} '{one_line(roi_info[number][0], 64)}' has a coordinate of "
            f"{value:g} mm, beyond ±{MAX_COORDINATE_MM:g} mm (100 m): it is not a patient "
            "coordinate; the file is corrupt, export it again",
            path=path,
            tag="ContourData",
        )

    starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    kept = counts >= 3
    z_mid = np.zeros(counts.size)
    has_points = counts > 0
    if has_points.any():
        zmin = np.full(counts.size, np.nan)
        zmax = np.full(counts.size, np.nan)
        zmin[has_points] = np.minimum.reduceat(xyz[:, 2], starts[has_points])
        zmax[has_points] = np.maximum.reduceat(xyz[:, 2], starts[has_points])
        not_axial = kept & (zmax - zmin > PLANAR_TOLERANCE_MM)
        if not_axial.any():
            c = int(np.argmax(not_axial))
            number = order[int(roi_index[c])]
            raise DicomInputError(
                f"ROI {number} '{one_line(roi_info[number][0], 64)}' has a closed contour "
                f"whose points are not on one axial plane (z from {zmin[c]:g} to {zmax[c]:g} mm); "
                "dosecheck supports axial contours only: export axial (transverse) contours",
                path=path,
                tag="ContourData",
            )
        z_mid[kept] = 0.5 * (zmin[kept] + zmax[kept])

    structures: list[Structure] = []
    keep_point = np.repeat(kept, counts)
    for r, number in enumerate(order):
        name, _ = roi_info[number]
        sel = roi_index == r
        sel_kept = sel & kept
        n_short = int(np.count_nonzero(sel & ~kept))
        notes = per_roi_notes[r]
        if n_short:
            notes["short"] += n_short
        lengths = counts[sel_kept]
        xy = xyz[np.repeat(sel, counts) & keep_point, :2] if lengths.size else np.zeros((0, 2))
        rc = contours_of.get(number)
        structures.append(
            Structure(
                number=number,
                name=name,
                xy=np.ascontiguousarray(xy, dtype=np.float64),
                offsets=np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
                z=z_mid[sel_kept].astype(np.float64),
                interpreted_type=interpreted.get(number, ""),
                color=_color(rc) if rc is not None else None,
                notes=tuple(_skip_note(kind, n) for kind, n in sorted(notes.items())),
            )
        )

    frame = ""
    ref_frames = ds.get("ReferencedFrameOfReferenceSequence", None) or []
    if ref_frames:
        frame = text(ref_frames[0], "FrameOfReferenceUID")
    if not frame:
        frame = next((info[1] for info in roi_info.values() if info[1]), "")
    if not frame:
        frame = text(ds, "FrameOfReferenceUID")

    return StructureSet(
        structures=tuple(structures),
        frame_of_reference_uid=frame,
        path=path,
        sop_instance_uid=text(ds, "SOPInstanceUID"),
        label=text(ds, "StructureSetLabel"),
        patient_id=text(ds, "PatientID"),
        patient_name=text(ds, "PatientName"),
        notes=tuple(set_notes),
    )
