"""Small RT plan folders for the discovery and loading tests.

One 20 × 20 mm square PTV on three planes (``structure_set``), a uniform dose on a
5 mm grid (``dose_grid``), a whole plan folder (``write_plan_folder``), and a PLAN dose
exported with its BEAM doses (``write_export``), all of patient ``P1``.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from dosecheck.dicom.writer import write_rtdose as _write_rtdose
from dosecheck.dicom.writer import write_rtplan, write_rtstruct
from dosecheck.model import BeamDoseInfo, DoseGrid, PlanInfo, Structure, StructureSet

FOR_UID = "1.2.826.0.1.3680043.8.498.42"

# The doses belong to the patient of structure_set(): discovery never pairs a dose
# with another patient's structure set (test_discover_refuses_another_patients_rtstruct).
write_rtdose = functools.partial(_write_rtdose, patient_id="P1")


def structure_set(frame: str = FOR_UID) -> StructureSet:
    square = np.array([[-10.0, -10.0], [10.0, -10.0], [10.0, 10.0], [-10.0, 10.0]])
    ptv = Structure.from_contours(1, "PTV", [(z, square) for z in (-2.0, 0.0, 2.0)])
    return StructureSet((ptv,), frame_of_reference_uid=frame, patient_id="P1")


def dose_grid(value: float = 2.0, summation_type: str = "PLAN", frame: str = FOR_UID) -> DoseGrid:
    x = np.arange(-20.0, 21.0, 5.0)
    z = np.arange(-4.0, 5.0, 2.0)
    dose = np.full((z.size, x.size, x.size), value, dtype=np.float32)
    return DoseGrid(x, x, z, dose, frame_of_reference_uid=frame, summation_type=summation_type)


def write_plan_folder(
    folder: Path,
    *,
    fractions: int | None = 28,
    summation_type: str = "PLAN",
    tag: str = "",
) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = {k: folder / f"{k}{tag}.dcm" for k in ("rs", "rp", "rd")}
    ss_uid = write_rtstruct(paths["rs"], structure_set())
    # The dose is 2 Gy everywhere: one fraction of 56 Gy in 28, or a whole course of
    # 2 Gy (the dose-scale check refuses a 2 Gy course dose for a 56 Gy prescription).
    rx = 2.0 * (fractions or 1) if summation_type == "FRACTION" else 2.0
    plan_uid = write_rtplan(
        paths["rp"],
        PlanInfo(label="Plan" + tag, prescription_gy=rx, fractions=fractions, patient_id="P1"),
        referenced_structure_set_uid=ss_uid,
    )
    write_rtdose(
        paths["rd"], dose_grid(summation_type=summation_type), referenced_plan_uid=plan_uid
    )
    return paths


# --- a PLAN dose and its BEAM doses ---------------------------------------------------
X = np.arange(-20.0, 21.0, 5.0)  # 9 columns, -20 … 20 mm
Z = np.arange(-4.0, 5.0, 2.0)


def beam_values(x: np.ndarray, y: np.ndarray, z: np.ndarray, beam: int) -> np.ndarray:
    """Linear in x, y and z (trilinear interpolation reproduces it exactly):
    beam 1 rises along x, beam 2 along y, both 1 Gy + 0.02 Gy/mm × z."""
    zz, yy, xx = np.meshgrid(z, y, x, indexing="ij")
    ramp = xx if beam == 1 else yy
    return (1.0 + 0.05 * (ramp + 20.0) + 0.02 * zz).astype(np.float32)


def grid(values: np.ndarray, x: np.ndarray = X, y: np.ndarray = X, z: np.ndarray = Z) -> DoseGrid:
    return DoseGrid(x, y, z, values, frame_of_reference_uid=FOR_UID)


def write_export(
    folder: Path, *, beams: tuple[int, ...] = (1, 2), shift_mm: float = 0.0, bits: int = 16
) -> dict[str, Path]:
    """RS, RP, the PLAN dose (beam 1 + beam 2) and the BEAM doses ``beams``, on the
    PLAN grid or one shifted by ``shift_mm`` in x and y (and z)."""
    folder.mkdir(parents=True, exist_ok=True)
    ss_uid = write_rtstruct(folder / "rs.dcm", structure_set())
    plan_uid = write_rtplan(
        folder / "rp.dcm",
        PlanInfo(
            label="SRS",
            prescription_gy=2.0,
            fractions=1,
            patient_id="P1",
            beam_doses=(BeamDoseInfo(1), BeamDoseInfo(2)),
        ),
        referenced_structure_set_uid=ss_uid,
    )
    common = {"referenced_plan_uid": plan_uid, "patient_id": "P1", "bits": bits}
    total = beam_values(X, X, Z, 1) + beam_values(X, X, Z, 2)
    paths = {"rs": folder / "rs.dcm", "rp": folder / "rp.dcm", "plan": folder / "rd_plan.dcm"}
    _write_rtdose(paths["plan"], grid(total), summation_type="PLAN", **common)
    bx = np.arange(-25.0, 26.0, 2.5) + shift_mm if shift_mm else X
    bz = np.arange(-6.0, 7.0, 1.0) + shift_mm if shift_mm else Z
    for b in beams:
        paths[f"beam{b}"] = folder / f"rd_beam{b}.dcm"
        _write_rtdose(
            paths[f"beam{b}"],
            grid(beam_values(bx, bx, bz, b), bx, bx, bz),
            summation_type="BEAM",
            referenced_beam_number=b,
            **common,
        )
    return paths
