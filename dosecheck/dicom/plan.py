"""Read the parts of an RT Plan that dosecheck uses into :class:`~dosecheck.model.PlanInfo`."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from dosecheck.dicom._common import floats, quiet_pydicom, read_dataset, shown, text
from dosecheck.errors import DicomInputError
from dosecheck.model import BeamDoseInfo, DoseReferencePoint, PlanInfo, TargetReference

__all__ = ["read_rtplan"]


def _number(item: Any, keyword: str, path: str, *, integer: bool = False) -> float | None:
    """A single numeric attribute of a sequence item: ``None`` when absent or empty;
    a finite number otherwise (else :class:`DicomInputError` naming the tag)."""
    value = item.get(keyword, None)
    if value is None or value == "":
        return None
    try:
        number = int(value) if integer else float(value)
    except (TypeError, ValueError) as exc:
        raise DicomInputError(
            f"is not a number ({shown(value)}); export the RTPLAN again",
            path=path,
            tag=keyword,
        ) from exc
    if not math.isfinite(number):
        raise DicomInputError(f"is {number!r}; export the RTPLAN again", path=path, tag=keyword)
    return number


def _int(item: Any, keyword: str, path: str) -> int | None:
    number = _number(item, keyword, path, integer=True)
    return None if number is None else int(number)


def _point(item: Any, keyword: str, path: str) -> tuple[float, float, float] | None:
    value = item.get(keyword, None)
    if value is None or (hasattr(value, "__len__") and len(value) == 0):
        return None
    x, y, z = floats(item, keyword, path, count=3)
    return (x, y, z)


def _beam_doses(group: Any, path: str) -> tuple[BeamDoseInfo, ...]:
    """BeamDose and BeamDoseSpecificationPoint of every beam of a fraction group."""
    beams: list[BeamDoseInfo] = []
    for item in group.get("ReferencedBeamSequence", None) or []:
        number = _number(item, "ReferencedBeamNumber", path, integer=True)
        dose = _number(item, "BeamDose", path)
        if dose is not None and dose < 0:
            raise DicomInputError(
                f"is {dose!r} for beam {number}; a beam dose cannot be negative. Export the "
                "RTPLAN again",
                path=path,
                tag="BeamDose",
            )
        beams.append(
            BeamDoseInfo(
                beam_number=int(number) if number is not None else len(beams) + 1,
                dose_gy=dose,
                point_mm=_point(item, "BeamDoseSpecificationPoint", path),
            )
        )
    return tuple(beams)


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
        DoseReferenceSequence (``None`` when there is none), and
        ``prescription_levels_gy`` all of them, distinct, in file order; ``fractions`` is
        NumberOfFractionsPlanned of the first FractionGroupSequence item (``None``
        when absent); ``referenced_structure_set_uid`` comes from the first
        ReferencedStructureSetSequence item. For the dose-scale check:
        ``beam_doses`` (BeamDose, BeamDoseSpecificationPoint of each beam of the first
        fraction group), ``dose_reference_points`` (dose references with
        DoseReferencePointCoordinates), ``brachytherapy`` (ApplicationSetupSequence
        and no beams). ``target_references`` holds the VOLUME dose references with a
        ReferencedROINumber (see :func:`_target_references`), for matching and for the
        dose-scale check's target fallback.

    Raises
    ------
    InputError
        The file does not exist.
    DicomInputError
        Not an RTPLAN; TargetPrescriptionDose / NumberOfFractionsPlanned / BeamDose /
        ReferencedBeamNumber / DoseReferenceNumber / ReferencedROINumber is not a valid
        number; BeamDose is negative; BeamDoseSpecificationPoint or
        DoseReferencePointCoordinates is not three finite numbers.
    """
    path = str(path)
    ds = read_dataset(path, modality="RTPLAN", stop_before_pixels=True)

    doses: list[float] = []
    ref_points: list[DoseReferencePoint] = []
    for index, item in enumerate(ds.get("DoseReferenceSequence", None) or []):
        point = _point(item, "DoseReferencePointCoordinates", path)
        value = item.get("TargetPrescriptionDose", None)
        has_dose = not (value is None or value == "")
        if point is not None:
            number = _number(item, "DoseReferenceNumber", path, integer=True)
            ref_points.append(
                DoseReferencePoint(
                    number=int(number) if number is not None else index + 1,
                    description=text(item, "DoseReferenceDescription"),
                    reference_type=text(item, "DoseReferenceType"),
                    point_mm=point,
                    prescription_gy=_number(item, "TargetPrescriptionDose", path),
                )
            )
        if not has_dose:
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
    beam_doses: tuple[BeamDoseInfo, ...] = ()
    groups = ds.get("FractionGroupSequence", None) or []
    if groups:
        beam_doses = _beam_doses(groups[0], path)
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
        prescription_levels_gy=tuple(dict.fromkeys(doses)),
        fractions=fractions,
        referenced_structure_set_uid=ss_uid,
        frame_of_reference_uid=text(ds, "FrameOfReferenceUID"),
        patient_id=text(ds, "PatientID"),
        beam_doses=beam_doses,
        dose_reference_points=tuple(ref_points),
        brachytherapy=bool(ds.get("ApplicationSetupSequence", None))
        and not (ds.get("BeamSequence", None) or ds.get("IonBeamSequence", None)),
    )


def _target_references(ds: object, path: str, groups: list) -> tuple[TargetReference, ...]:
    """The DoseReferenceSequence items that name a target ROI.

    Items of DoseReferenceStructureType VOLUME with a ReferencedROINumber whose
    DoseReferenceType is TARGET or absent; when the first FractionGroupSequence item
    lists dose references (ReferencedDoseReferenceSequence), only those.
    """
    listed: set[int] | None = None
    if groups:
        refs = groups[0].get("ReferencedDoseReferenceSequence", None) or []
        numbers = [_int(r, "ReferencedDoseReferenceNumber", path) for r in refs]
        if any(n is not None for n in numbers):
            listed = {n for n in numbers if n is not None}
    out: list[TargetReference] = []
    for item in ds.get("DoseReferenceSequence", None) or []:  # type: ignore[attr-defined]
        if text(item, "DoseReferenceStructureType").upper() != "VOLUME":
            continue
        roi = _int(item, "ReferencedROINumber", path)
        kind = text(item, "DoseReferenceType").upper()
        if roi is None or kind not in ("", "TARGET"):
            continue
        number = _int(item, "DoseReferenceNumber", path)
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
