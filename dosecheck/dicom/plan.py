"""Read the parts of an RT Plan that dosecheck uses into :class:`~dosecheck.model.PlanInfo`."""

from __future__ import annotations

from pathlib import Path

from dosecheck.dicom._common import quiet_pydicom, read_dataset, shown, text
from dosecheck.errors import DicomInputError
from dosecheck.model import PlanInfo

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
        ReferencedStructureSetSequence item.

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
