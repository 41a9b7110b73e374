"""Small generated plans for the ``dosecheck batch`` tests, and archives of them.

A plan is a box-shaped bowel bag (680 cc) and PTV (68 cc) on 17 contour planes with a
dose that is piecewise linear in x (the closed forms are those of
:mod:`tests.helpers.plans`), on a coarse 5 mm grid, so that loading and
checking one takes a few hundredths of a second. The profiles make a plan pass or
fail the shipped rectum sets. UIDs are derived from the patient ID and label, so
every plan is distinct and the tests are reproducible.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dosecheck.model import BeamDoseInfo, DoseGrid, PlanInfo, Structure, StructureSet

X = np.arange(-100.0, 100.0 + 1e-9, 5.0)
Y = np.arange(-60.0, 60.0 + 1e-9, 5.0)
Z = np.arange(-50.0, 50.0 + 1e-9, 5.0)
PLANES = np.arange(-40.0, 40.0 + 1e-9, 5.0)
BOWEL_BOX = (-80.0, 80.0, -50.0, 0.0)
PTV_BOX = (-20.0, 20.0, 15.0, 35.0)

#: (bowel profile, PTV profile) knots along x per (course, outcome).
PROFILES: dict[tuple[str, str], tuple[list[tuple[float, float]], list[tuple[float, float]]]] = {
    ("long", "pass"): (
        [(-100.0, 10.0), (0.0, 28.0), (80.0, 48.0), (100.0, 50.0)],
        [(-100.0, 40.0), (-20.0, 47.7), (20.0, 51.7), (100.0, 52.0)],
    ),
    ("long", "fail"): (
        [(-100.0, 10.0), (-60.0, 27.0), (20.0, 51.0), (100.0, 55.0)],
        [(-100.0, 40.0), (-20.0, 47.7), (20.0, 51.7), (100.0, 52.0)],
    ),
    ("short", "pass"): (
        [(-100.0, 5.0), (0.0, 15.0), (80.0, 23.0), (100.0, 24.0)],
        [(-100.0, 20.0), (-20.0, 23.7), (20.0, 25.7), (100.0, 26.0)],
    ),
    ("short", "fail"): (
        [(-100.0, 5.0), (-20.0, 18.0), (80.0, 26.0), (100.0, 27.0)],
        [(-100.0, 20.0), (-20.0, 23.7), (20.0, 25.7), (100.0, 26.0)],
    ),
}
COURSES = {"long": (50.4, 28), "short": (25.0, 5)}


def uid(*parts: object) -> str:
    """A deterministic UID from ``parts``."""
    from pydicom.uid import generate_uid

    return str(generate_uid(entropy_srcs=[str(p) for p in parts]))


def _box(number: int, name: str, box: tuple[float, float, float, float]) -> Structure:
    x0, x1, y0, y1 = box
    square = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=np.float64)
    return Structure.from_contours(number, name, [(float(z), square) for z in PLANES])


def _dose(course: str, outcome: str) -> np.ndarray:
    bowel, ptv = PROFILES[(course, outcome)]
    fb = np.interp(X, *zip(*bowel, strict=True))
    fp = np.interp(X, *zip(*ptv, strict=True))
    plane = np.where((Y <= 0.0)[:, None], fb[None, :], fp[None, :])
    return np.ascontiguousarray(np.broadcast_to(plane, (Z.size, Y.size, X.size))).astype(np.float32)


@dataclass(frozen=True)
class WrittenPlan:
    """Paths and UIDs of a generated plan."""

    folder: Path
    rtstruct: Path
    rtplan: Path | None
    rtdose: tuple[Path, ...]
    struct_uid: str
    plan_uid: str
    frame_uid: str
    study_uid: str
    patient_id: str
    label: str


def write_box_plan(
    folder: Path,
    *,
    patient_id: str = "P001",
    label: str = "RECT",
    course: str = "long",
    outcome: str = "pass",
    rtplan: bool = True,
    references: bool = True,
    beam_doses: int = 0,
    plan_dose: bool = True,
    frame_uid: str | None = None,
    struct_frame_uid: str | None = None,
    study_uid: str | None = None,
    prefix: str = "",
    bowel_name: str = "BowelBag",
    ptv_name: str = "PTV",
) -> WrittenPlan:
    """Write RTSTRUCT, RTPLAN and RTDOSE file(s) of one box plan into ``folder``.

    Parameters
    ----------
    course, outcome
        ``"long"``/``"short"`` and ``"pass"``/``"fail"`` against the shipped sets.
    rtplan
        Write an RTPLAN (with prescription and fractions of the course).
    references
        Write ReferencedRTPlanSequence / ReferencedStructureSetSequence; without them
        discovery must fall back to FrameOfReferenceUID / StudyInstanceUID.
    beam_doses
        Also write this many BEAM doses that add up to the plan dose.
    plan_dose
        Write the PLAN dose (False with ``beam_doses`` for beam doses only).
    frame_uid, struct_frame_uid, study_uid
        Override the UIDs (the structure set's frame defaults to the dose's).
    prefix
        File-name prefix, to put several plans in one folder.
    """
    from dosecheck.dicom.writer import write_rtdose, write_rtplan, write_rtstruct

    folder.mkdir(parents=True, exist_ok=True)
    key = (patient_id, label, course, outcome, prefix, str(folder))
    frame = frame_uid or uid("FOR", *key)
    sframe = struct_frame_uid or frame
    study = study_uid or uid("STUDY", *key)
    ss = StructureSet(
        structures=(_box(1, bowel_name, BOWEL_BOX), _box(2, ptv_name, PTV_BOX)),
        frame_of_reference_uid=sframe,
        sop_instance_uid=uid("RS", *key),
        label="BOXES",
        patient_id=patient_id,
        patient_name="Batch^Test",
    )
    rs_path = folder / f"{prefix}RS.dcm"
    struct_uid = write_rtstruct(rs_path, ss, study_uid=study)
    plan_uid = uid("RP", *key)
    rp_path: Path | None = None
    if rtplan:
        dose_gy, fractions = COURSES[course]
        info = PlanInfo(
            label=label,
            sop_instance_uid=plan_uid,
            prescription_gy=dose_gy,
            fractions=fractions,
            referenced_structure_set_uid=struct_uid if references else "",
            frame_of_reference_uid=frame,
            patient_id=patient_id,
            # The beams of the BEAM doses (no BeamDose: the dose-scale check is unchanged).
            beam_doses=tuple(BeamDoseInfo(b + 1) for b in range(beam_doses)),
        )
        rp_path = folder / f"{prefix}RP.dcm"
        write_rtplan(rp_path, info, study_uid=study, patient_name="Batch^Test")
    dose = _dose(course, outcome)
    ref = plan_uid if (rtplan and references) else None
    doses: list[Path] = []

    def grid(values: np.ndarray) -> DoseGrid:
        return DoseGrid(x=X, y=Y, z=Z, dose_gy=values, frame_of_reference_uid=frame)

    if plan_dose:
        p = folder / f"{prefix}RD.dcm"
        write_rtdose(
            p,
            grid(dose),
            bits=32,
            summation_type="PLAN",
            referenced_plan_uid=ref,
            frame_of_reference_uid=frame,
            patient_id=patient_id,
            patient_name="Batch^Test",
            study_uid=study,
            sop_instance_uid=uid("RD", *key),
        )
        doses.append(p)
    for b in range(beam_doses):
        p = folder / f"{prefix}RD_beam{b + 1}.dcm"
        write_rtdose(
            p,
            grid((dose / beam_doses).astype(np.float32)),
            bits=32,
            summation_type="BEAM",
            referenced_plan_uid=ref,
            frame_of_reference_uid=frame,
            patient_id=patient_id,
            patient_name="Batch^Test",
            study_uid=study,
            sop_instance_uid=uid("RD-BEAM", b, *key),
            referenced_beam_number=b + 1 if ref else None,
        )
        doses.append(p)
    return WrittenPlan(
        folder=folder,
        rtstruct=rs_path,
        rtplan=rp_path,
        rtdose=tuple(doses),
        struct_uid=struct_uid,
        plan_uid=plan_uid,
        frame_uid=frame,
        study_uid=study,
        patient_id=patient_id,
        label=label,
    )


def write_ct_slice(path: Path, *, patient_id: str = "P001", study_uid: str | None = None) -> None:
    """A tiny CT image (discovery must skip it)."""
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = "CT"
    ds.PatientID = patient_id
    ds.StudyInstanceUID = study_uid or generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.Rows = 8
    ds.Columns = 8
    ds.BitsAllocated = 16
    ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 1
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.PixelData = np.zeros((8, 8), dtype="<i2").tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(str(path), enforce_file_format=True)


def truncate(path: Path, keep_fraction: float = 0.6) -> None:
    """Cut a file short (a corrupt export: the header reads, the pixels do not)."""
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep_fraction)])


def make_archive(root: Path, specs: Sequence[dict[str, Any]]) -> list[WrittenPlan]:
    """One folder per plan under ``root`` (``root/<patient>_<label>``)."""
    out = []
    for spec in specs:
        pid = spec.get("patient_id", "P001")
        label = spec.get("label", "RECT")
        out.append(write_box_plan(root / f"{pid}_{label}", **spec))
    return out
