"""Read RT Structure Set files into :class:`~dosecheck.model.StructureSet`.

ContourData is the bulk of an RTSTRUCT (often several hundred thousand points, in
thousands of contour items). This reader takes the contour items' values from the
sequence's bytes (:mod:`dosecheck.dicom.contour_items`, pydicom as the fallback); each
ROI's undecoded ContourData bytes are converted, joined, in one vectorised pass and
checked (:mod:`dosecheck.dicom.contour_geometry`), at once or, with ``deferred=True``,
when the ROI's geometry is first used.

Limits: at most :data:`MAX_CONTOUR_POINTS` points per file; only axial
CLOSED_PLANAR contours are used; a coordinate beyond ±:data:`MAX_COORDINATE_MM`
(100 m) is not a patient coordinate and the file is refused as corrupt.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset

from dosecheck.dicom._common import integer, one_line, quiet_pydicom, read_dataset, text
from dosecheck.dicom.contour_geometry import (
    MAX_COORDINATE_MM,
    PLANAR_TOLERANCE_MM,
    RoiGeometry,
)
from dosecheck.dicom.contour_items import ContourItem, RoiContours, walk_roi_contours
from dosecheck.dicom.decimal_string import parse_decimal_string
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

_ROI_CONTOUR_SEQUENCE = 0x30060039
_CONTOUR_DATA = 0x30060050
_CONTOUR_GEOMETRIC_TYPE = 0x30060042
_NUMBER_OF_CONTOUR_POINTS = 0x30060046

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


def _roi_contour_items(ds: Dataset, path: str) -> list[tuple[int, RoiContours | Dataset]]:
    """Each ROIContourSequence item with its ReferencedROINumber: read from the
    sequence's bytes when :func:`walk_roi_contours` can, else the pydicom item (whose
    contours :func:`_contours` reads)."""
    elem = ds.get_item(_ROI_CONTOUR_SEQUENCE)
    if isinstance(elem, RawDataElement) and isinstance(elem.value, bytes):
        walked = walk_roi_contours(
            elem.value,
            implicit_vr=bool(ds.is_implicit_VR),
            little_endian=bool(ds.is_little_endian),
        )
        if walked is not None:
            return [(roi.roi_number, roi) for roi in walked]
    return [
        (integer(item, "ReferencedROINumber", path), item)
        for item in ds.get("ROIContourSequence", None) or []
    ]


def _contours(rc: RoiContours | Dataset, path: str) -> Iterable[ContourItem]:
    """The contours of one ROIContourSequence item (through pydicom for a Dataset:
    the point count and data of CLOSED_PLANAR contours only, as they are used)."""
    if isinstance(rc, RoiContours):
        yield from rc.contours
        return
    for item in rc.get("ContourSequence", None) or []:
        geometry = _geometry(item)
        if geometry != "CLOSED_PLANAR":
            yield ContourItem(geometry, None, None)
            continue
        declared = item.get("NumberOfContourPoints", None)
        n_points = None if declared is None or declared == "" else _number_of_points(item, path, 0)
        yield ContourItem(geometry, n_points, _contour_bytes(item))


def _colour_of(rc: RoiContours | Dataset | None) -> tuple[int, int, int] | None:
    if rc is None:
        return None
    return rc.color if isinstance(rc, RoiContours) else _color(rc)


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
def read_rtstruct(
    path: str | Path, *, roi_numbers: Iterable[int] | None = None, deferred: bool = False
) -> StructureSet:
    """Read an RT Structure Set.

    Parameters
    ----------
    path
        The RTSTRUCT file.
    roi_numbers
        Only read these ROI numbers (all when ``None``).
    deferred
        Parse and check each ROI's ContourData when its geometry is first used
        (:meth:`~dosecheck.model.Structure.deferred`), not now: a check that uses a
        few ROIs of many skips the rest. The errors about contour values (below) are
        then raised at that first use. The file's structure, the ROI numbers, the
        point counts and the point limit are checked now either way.

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
    contours_of: dict[int, RoiContours | Dataset] = {}
    set_notes: list[str] = []
    for ref, item in _roi_contour_items(ds, path):
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
    per_roi: list[tuple[list[bytes], list[int], Counter[str]]] = []
    total_points = 0
    for number in order:
        chunks: list[bytes] = []
        n_declared: list[int] = []
        notes: Counter[str] = Counter()
        per_roi.append((chunks, n_declared, notes))
        rc = contours_of.get(number)
        if rc is None:
            continue
        for c_index, contour in enumerate(_contours(rc, path), start=1):
            geometry = contour.geometry
            if geometry != "CLOSED_PLANAR":
                notes[geometry or "untyped"] += 1
                continue
            data = contour.data
            n_values = 0 if not data else data.count(b"\\") + 1
            n_points = n_values // 3 if contour.n_points is None else contour.n_points
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
            n_declared.append(n_points)
            total_points += n_points

    if total_points > MAX_CONTOUR_POINTS:
        raise DicomInputError(
            f"holds {total_points:,} contour points, more than the supported "
            f"{MAX_CONTOUR_POINTS:,}; reduce the number of ROIs (e.g. select ROIs) or "
            "export with fewer points",
            path=path,
            tag="ContourData",
        )

    structures: list[Structure] = []
    for number, (chunks, n_declared, notes) in zip(order, per_roi, strict=True):
        name = roi_info[number][0]
        n_short = sum(1 for n in n_declared if n < 3)
        if n_short:
            notes["short"] += n_short
        geometry = RoiGeometry(path, number, name, chunks, n_declared)
        structure = Structure.deferred(
            number,
            name,
            geometry,
            len(n_declared) - n_short,
            sum(n for n in n_declared if n >= 3),
            interpreted_type=interpreted.get(number, ""),
            color=_colour_of(contours_of.get(number)),
            notes=tuple(_skip_note(kind, n) for kind, n in sorted(notes.items())),
        )
        if not deferred:
            structure.xy  # noqa: B018 - parse and check now, in file order
        structures.append(structure)

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
