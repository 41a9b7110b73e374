"""Read the parts of an RT Plan that dosecheck uses into :class:`~dosecheck.model.PlanInfo`."""

from __future__ import annotations

from pathlib import Path

from dosecheck.dicom._common import quiet_pydicom, read_dataset, shown, text
from dosecheck.errors import DicomInputError
from dosecheck.model import PlanInfo, TargetReference

__all__ = ["read_rtplan"]


@quiet_pydicom
def read_rtplan(path: str | Path) -> PlanInfo:
    """Read an RT Plan file.

    Parameters
    ----------
    path
        The RTPLAN file.

    Returns
    -------
    PlanInfo
        ``prescription_gy`` is the largest TargetPrescriptionDose in
        DoseReferenceSequence (``None`` when there is none); ``fractions`` is
        NumberOfFractionsPlanned of the first FractionGroupSequence item (``None``
        when absent); ``referenced_structure_set_uid`` comes from the first
        ReferencedStructureSetSequence item; ``target_references`` holds the VOLUME
        dose references with a ReferencedROINumber (see :func:`_target_references`).

    Raises
    ------
    InputError
        The file does not exist.
    DicomInputError
        Not an RTPLAN, or TargetPrescriptionDose / NumberOfFractionsPlanned is
        not a valid number.
    """
    path = str(path)
    ds = read_dataset(path, modality="RTPLAN", stop_before_pixels=True)

    doses: list[float] = []
    for item in ds.get("DoseReferenceSequence", None) or []:
        value = item.get("TargetPrescriptionDose", None)
        if value is None or value == "":
            continue
        try:
            dose = float(value)
        except (TypeError, ValueError) as exc:
            raise DicomInputError(
                f"is not a number ({shown(value)}); fix the prescription in the planning system",
                path=path,
                tag="TargetPrescriptionDose",
            ) from exc
        if not dose >= 0 or dose == float("inf"):
            raise DicomInputError(
                f"is {dose!r}; it must be a finite, non-negative dose in Gy",
                path=path,
                tag="TargetPrescriptionDose",
            )
        doses.append(dose)

    fractions: int | None = None
    groups = ds.get("FractionGroupSequence", None) or []
    if groups:
        value = groups[0].get("NumberOfFractionsPlanned", None)
        if value is not None and value != "":
            try:
                fractions = int(value)
            except (TypeError, ValueError) as exc:
                raise DicomInputError(
                    f"is not an integer ({shown(value)}); pass --fractions instead",
                    path=path,
                    tag="NumberOfFractionsPlanned",
                ) from exc
            if fractions < 1:
                raise DicomInputError(
                    f"is {fractions}; it must be at least 1. Pass --fractions instead",
                    path=path,
                    tag="NumberOfFractionsPlanned",
                )

    ss_uid = ""
    refs = ds.get("ReferencedStructureSetSequence", None) or []
    if refs:
        ss_uid = text(refs[0], "ReferencedSOPInstanceUID")

    return PlanInfo(
        target_references=_target_references(ds, path, groups),
        path=path,
        label=text(ds, "RTPlanLabel"),
        name=text(ds, "RTPlanName"),
        sop_instance_uid=text(ds, "SOPInstanceUID"),
        prescription_gy=max(doses) if doses else None,
        fractions=fractions,
        referenced_structure_set_uid=ss_uid,
        frame_of_reference_uid=text(ds, "FrameOfReferenceUID"),
        patient_id=text(ds, "PatientID"),
    )


def _optional_int(item: object, keyword: str, path: str) -> int | None:
    value = item.get(keyword, None)  # type: ignore[attr-defined]
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError) as exc:
        raise DicomInputError(
            f"is not an integer ({shown(value)}); fix the RTPLAN in the planning system",
            path=path,
            tag=keyword,
        ) from exc


def _target_references(ds: object, path: str, groups: list) -> tuple[TargetReference, ...]:
    """The DoseReferenceSequence items that name a target ROI.

    Items of DoseReferenceStructureType VOLUME with a ReferencedROINumber whose
    DoseReferenceType is TARGET or absent; when the first FractionGroupSequence item
    lists dose references (ReferencedDoseReferenceSequence), only those.
    """
    listed: set[int] | None = None
    if groups:
        refs = groups[0].get("ReferencedDoseReferenceSequence", None) or []
        numbers = [_optional_int(r, "ReferencedDoseReferenceNumber", path) for r in refs]
        if any(n is not None for n in numbers):
            listed = {n for n in numbers if n is not None}
    out: list[TargetReference] = []
    for item in ds.get("DoseReferenceSequence", None) or []:  # type: ignore[attr-defined]
        if text(item, "DoseReferenceStructureType").upper() != "VOLUME":
            continue
        roi = _optional_int(item, "ReferencedROINumber", path)
        kind = text(item, "DoseReferenceType").upper()
        if roi is None or kind not in ("", "TARGET"):
            continue
        number = _optional_int(item, "DoseReferenceNumber", path)
        if listed is not None and number not in listed:
            continue
        value = item.get("TargetPrescriptionDose", None)
        dose = float(value) if value is not None and value != "" else None  # checked above
        out.append(
            TargetReference(
                roi_number=roi,
                prescription_gy=dose,
                dose_reference_number=number,
                dose_reference_type=kind,
                description=text(item, "DoseReferenceDescription"),
            )
        )
    return tuple(out)
