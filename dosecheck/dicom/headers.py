"""Read the header of an RT file: the few attributes plan discovery needs.

One tag list (:data:`HEADER_TAGS`) and one stop rule serve ``check``, ``dvh``,
``report`` and ``batch``. The read stops before an RTSTRUCT's ROI sequences and
after the last tag needed, so a 100 MB structure set costs a few kilobytes.

pydicom is imported inside the functions: ``dosecheck batch --help`` and the
command-line start-up do not pay for it.
"""

from __future__ import annotations

import functools
import warnings
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, Any

from dosecheck.dicom.files import FileRef

__all__ = [
    "HEADER_TAGS",
    "RT_MODALITIES",
    "RTHeader",
    "UnreadableDicom",
    "read_rt_header",
]

#: The RT objects dosecheck groups into plans.
RT_MODALITIES = ("RTSTRUCT", "RTPLAN", "RTDOSE")

#: The only attributes discovery reads (everything else is skipped unparsed).
HEADER_TAGS = (
    "SpecificCharacterSet",
    "SOPClassUID",
    "SOPInstanceUID",
    "Modality",
    "PatientName",
    "PatientID",
    "StudyInstanceUID",
    "FrameOfReferenceUID",
    "StructureSetLabel",
    "ReferencedFrameOfReferenceSequence",
    "RTPlanLabel",
    "RTPlanName",
    "DoseReferenceSequence",
    "FractionGroupSequence",
    "DoseSummationType",
    "ReferencedRTPlanSequence",
    "ReferencedStructureSetSequence",
)

_DICOMDIR = "1.2.840.10008.1.3.10"


@dataclass(frozen=True)
class RTHeader:
    """What discovery reads from one DICOM file.

    Attributes
    ----------
    file
        Where the file is.
    source
        The archive (command-line argument) it was found in.
    modality
        Modality, upper case.
    uid
        SOPInstanceUID.
    sop_class
        SOPClassUID (from the File Meta Information when absent from the dataset).
    patient_id, patient_name, study_uid, frame_uid
        PatientID, PatientName, StudyInstanceUID, FrameOfReferenceUID (for an
        RTSTRUCT, from ReferencedFrameOfReferenceSequence when absent at top level).
    plan_ref
        RTDOSE: the first ReferencedRTPlanSequence item's ReferencedSOPInstanceUID.
    struct_ref
        RTPLAN: the first ReferencedStructureSetSequence item's UID.
    label
        RTPlanLabel (RTPLAN) or StructureSetLabel (RTSTRUCT).
    summation_type
        DoseSummationType (RTDOSE), upper case.
    prescription_gy, fractions
        RTPLAN: largest TargetPrescriptionDose, first NumberOfFractionsPlanned
        (as :func:`dosecheck.dicom.plan.read_rtplan` reads them; ``None`` if
        absent or invalid).
    size
        File size in bytes (of copies of one object, the largest is kept).
    """

    file: FileRef
    source: str
    modality: str
    uid: str
    sop_class: str = ""
    patient_id: str = ""
    patient_name: str = ""
    study_uid: str = ""
    frame_uid: str = ""
    plan_ref: str = ""
    struct_ref: str = ""
    label: str = ""
    summation_type: str = ""
    prescription_gy: float | None = None
    fractions: int | None = None
    size: int = 0

    @property
    def kind(self) -> str:
        """What the file is, for skip counts: the modality, ``DICOMDIR`` or
        ``DICOM without Modality``."""
        if self.modality:
            return self.modality
        return "DICOMDIR" if self.sop_class == _DICOMDIR else "DICOM without Modality"


class UnreadableDicom(Exception):
    """A file that is DICOM (it has the ``DICM`` marker) but whose header cannot be read."""


@contextmanager
def _lenient() -> Iterator[None]:
    """Header reads accept non-conformant values (real exports are full of them,
    e.g. UIDs with leading zeros) without warning, and nothing else is silenced."""
    from pydicom import config

    with config.disable_value_validation(), warnings.catch_warnings():
        # pydicom also warns where a file's VR differs from the dictionary's or an
        # explicit/implicit VR switch is detected; it reads such values anyway.
        warnings.filterwarnings("ignore", message=r".*\bVR\b", category=UserWarning)
        yield


def _text(ds: Any, keyword: str) -> str:
    value = ds.get(keyword, None)
    return "" if value is None else str(value).strip()


def _first_ref(ds: Any, keyword: str) -> str:
    items = ds.get(keyword, None) or []
    return _text(items[0], "ReferencedSOPInstanceUID") if len(items) else ""


def _prescription(ds: Any) -> tuple[float | None, int | None]:
    doses: list[float] = []
    for item in ds.get("DoseReferenceSequence", None) or []:
        value = item.get("TargetPrescriptionDose", None)
        try:
            dose = float(value)
        except (TypeError, ValueError):
            continue
        if 0 <= dose < float("inf"):
            doses.append(dose)
    fractions: int | None = None
    groups = ds.get("FractionGroupSequence", None) or []
    if len(groups):
        try:
            n = int(groups[0].get("NumberOfFractionsPlanned", None))
        except (TypeError, ValueError):
            n = 0
        fractions = n if n >= 1 else None
    return (max(doses) if doses else None), fractions


def _stop_when(tag: Any, vr: Any, length: Any) -> bool:
    # Tags come in ascending order. Stop at the RTSTRUCT's ROI sequences (the bulk of
    # the file, nothing needed in them) and after the last tag discovery needs.
    t = int(tag)
    return 0x30060020 <= t < 0x300A0000 or t > 0x300C0060


def _looks_like_dicom(head: bytes) -> tuple[bool, bool]:
    """``(is_dicom, has_preamble)`` from the first 132 bytes."""
    if len(head) >= 132 and head[128:132] == b"DICM":
        return True, True
    # No preamble: a dataset starting with a group 0x0002 or 0x0008 element.
    if len(head) >= 8 and head[:2] in (b"\x02\x00", b"\x08\x00", b"\x00\x02", b"\x00\x08"):
        return True, False
    return False, False


@functools.cache
def _header_tags() -> list[Any]:
    from pydicom.tag import Tag

    return [Tag(k) for k in HEADER_TAGS]


def _parse(fh: IO[bytes], has_preamble: bool) -> Any:
    """Read the header tags from the start of ``fh``, stopping early."""
    from pydicom.filereader import read_partial

    fh.seek(0)
    return read_partial(
        fh,  # type: ignore[arg-type]
        stop_when=_stop_when,
        defer_size=None,
        force=not has_preamble,
        specific_tags=_header_tags(),
    )


def read_rt_header(
    file: FileRef | str, source: str = "", zf: zipfile.ZipFile | None = None
) -> RTHeader | None:
    """Read the header of one file.

    Parameters
    ----------
    file
        The file (a path is taken as a plain file).
    source
        The archive it was found in (recorded in the header).
    zf
        Its zip archive, already open (for a member).

    Returns
    -------
    RTHeader or None
        ``None`` when the file is not DICOM.

    Raises
    ------
    UnreadableDicom
        The file has the DICOM marker but its header cannot be parsed, or lacks the
        attributes every object has (a truncated or corrupt file).
    OSError
        The file cannot be read.
    """
    if not isinstance(file, FileRef):
        file = FileRef(str(file))
    with file.open(zf) as fh:
        head = fh.read(132)
        is_dicom, has_preamble = _looks_like_dicom(head)
        if not is_dicom:
            return None
        with _lenient():
            try:
                ds = _parse(fh, has_preamble)
            except Exception as exc:
                if not has_preamble:
                    return None  # a binary file that happened to start like DICOM
                raise UnreadableDicom(f"{type(exc).__name__}: {exc}") from exc
            if not has_preamble and "SOPClassUID" not in ds and "Modality" not in ds:
                return None
            header = _header(ds, file, source, file.size(zf))
    # pydicom stops quietly at the end of a truncated file: a header without the
    # attributes every object has is reported, not skipped.
    if not header.modality and not header.sop_class:
        raise UnreadableDicom("no Modality or SOP Class in the header: truncated or corrupt")
    if header.modality in RT_MODALITIES and not header.uid:
        raise UnreadableDicom(f"{header.modality} without SOPInstanceUID: truncated or corrupt")
    return header


def _header(ds: Any, file: FileRef, source: str, size: int) -> RTHeader:
    modality = _text(ds, "Modality").upper()
    frame = _text(ds, "FrameOfReferenceUID")
    if not frame and modality == "RTSTRUCT":
        refs = ds.get("ReferencedFrameOfReferenceSequence", None) or []
        frame = _text(refs[0], "FrameOfReferenceUID") if len(refs) else ""
    rx: tuple[float | None, int | None] = (None, None)
    label = ""
    if modality == "RTPLAN":
        rx = _prescription(ds)
        label = _text(ds, "RTPlanLabel") or _text(ds, "RTPlanName")
    elif modality == "RTSTRUCT":
        label = _text(ds, "StructureSetLabel")
    return RTHeader(
        file=file,
        source=source,
        modality=modality,
        uid=_text(ds, "SOPInstanceUID"),
        sop_class=_text(ds, "SOPClassUID")
        or _text(getattr(ds, "file_meta", None) or {}, "MediaStorageSOPClassUID"),
        patient_id=_text(ds, "PatientID"),
        patient_name=_text(ds, "PatientName"),
        study_uid=_text(ds, "StudyInstanceUID"),
        frame_uid=frame,
        plan_ref=_first_ref(ds, "ReferencedRTPlanSequence") if modality == "RTDOSE" else "",
        struct_ref=(
            _first_ref(ds, "ReferencedStructureSetSequence") if modality == "RTPLAN" else ""
        ),
        label=label,
        summation_type=_text(ds, "DoseSummationType").upper() if modality == "RTDOSE" else "",
        prescription_gy=rx[0],
        fractions=rx[1],
        size=size,
    )
