"""A box plan whose plan-quality indices are known in closed form.

Geometry (mm), contoured on the planes z = -40, -35, …, 40 (85 mm with half-slice end
caps), on the 5 mm dose grid of :mod:`tests.helpers.plans`:

- body ``BODY`` (RTROIInterpretedType EXTERNAL): x ∈ [-90, 90], y ∈ [-50, 50];
- target ``PTV``: x ∈ [-30, 30], y ∈ [-40, 40], TV = 60 × 80 × 85 mm³ = 408 cc.

Dose: a tent in x, ``D(x) = 60 − 0.6 |x|`` Gy, constant in y and z (knots on grid
nodes, so trilinear interpolation is exact). The isodose ``t`` is the slab
``|x| ≤ w(t) = (60 − t) / 0.6``; with the prescription 50 Gy:

- ``V_RI`` (body) = 2 w × 100 × 85 mm³, ``TV_RI`` = 2 min(w, 30) × 80 × 85 mm³;
- ``CN95%`` (47.5 Gy, w = 125/6 mm) = (w/30)(80/100) = 0.5555…,
  ``CI95%`` = 2w × 100 / (60 × 80) = 0.86805…;
- ``CN45Gy`` (w = 25 mm) = (25/30)(0.8) = 0.6666…;
- ``GI50%`` = w(25 Gy) / w(50 Gy) = (35/0.6) / (10/0.6) = 3.5;
- ``HI`` = (D2 − D98) / D50 with D_p = 60 − 0.18 p: (59.64 − 42.36) / 51.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dosecheck.model import DoseGrid, Plan, PlanFiles, PlanInfo, StructureSet
from tests.helpers.plans import FRAME_UID, X, Y, box_structure, grid_of_plane

RX_GY = 50.0
BODY_BOX = (-90.0, 90.0, -50.0, 50.0)
PTV_BOX = (-30.0, 30.0, -40.0, 40.0)
PTV_CC = 60 * 80 * 85 / 1000.0


def tent_dose(x: np.ndarray) -> np.ndarray:
    """``60 − 0.6 |x|`` Gy."""
    return 60.0 - 0.6 * np.abs(x)


def half_width_mm(dose_gy: float) -> float:
    """Half the width of the isodose slab ``D >= dose_gy``."""
    return (60.0 - dose_gy) / 0.6


def expected_cn(dose_gy: float) -> float:
    w = half_width_mm(dose_gy)
    return min(w, 30.0) ** 2 / (30.0 * w) * 0.8


def expected_ci(dose_gy: float) -> float:
    return 2 * half_width_mm(dose_gy) * 100.0 / (60.0 * 80.0)


def expected_gi(low_gy: float, rx_gy: float = RX_GY) -> float:
    return half_width_mm(low_gy) / half_width_mm(rx_gy)


def expected_hi() -> float:
    def d(p: float) -> float:
        return 60.0 - 0.18 * p

    return (d(2) - d(98)) / d(50)


def structure_set(
    body_name: str = "BODY",
    body_type: str = "EXTERNAL",
    body_box: tuple[float, float, float, float] = BODY_BOX,
) -> StructureSet:
    rois = [box_structure(1, "PTV", PTV_BOX, "PTV")]
    if body_name:
        rois.append(box_structure(2, body_name, body_box, body_type))
    return StructureSet(
        structures=tuple(rois),
        frame_of_reference_uid=FRAME_UID,
        sop_instance_uid="1.2.826.0.1.3680043.8.498.20",
        label="PQI",
        patient_id="PQI01",
        patient_name="Quality^Index",
    )


def dose_grid() -> DoseGrid:
    return grid_of_plane(np.broadcast_to(tent_dose(X)[None, :], (Y.size, X.size)))


def memory_plan(
    body_name: str = "BODY",
    body_type: str = "EXTERNAL",
    body_box: tuple[float, float, float, float] = BODY_BOX,
) -> Plan:
    """The plan as model objects (prescription 50 Gy in 25 fractions)."""
    info = PlanInfo(
        label="PQIPLAN",
        sop_instance_uid="1.2.826.0.1.3680043.8.498.21",
        prescription_gy=RX_GY,
        fractions=25,
        patient_id="PQI01",
    )
    return Plan(
        files=PlanFiles(rtstruct="", rtdose=()),
        structure_set=structure_set(body_name, body_type, body_box),
        dose=dose_grid(),
        plan_info=info,
    )


def write_plan(folder: Path) -> Path:
    """RTSTRUCT, RTPLAN (50 Gy in 25 fractions) and RTDOSE in ``folder``."""
    from dosecheck.dicom.writer import write_rtdose, write_rtplan, write_rtstruct

    folder.mkdir(parents=True, exist_ok=True)
    ss_uid = write_rtstruct(folder / "rtstruct.dcm", structure_set())
    info = PlanInfo(
        label="PQIPLAN",
        prescription_gy=RX_GY,
        fractions=25,
        referenced_structure_set_uid=ss_uid,
        frame_of_reference_uid=FRAME_UID,
        patient_id="PQI01",
    )
    plan_uid = write_rtplan(folder / "rtplan.dcm", info, patient_name="Quality^Index")
    write_rtdose(
        folder / "rtdose.dcm",
        dose_grid(),
        referenced_plan_uid=plan_uid,
        frame_of_reference_uid=FRAME_UID,
        patient_id="PQI01",
        patient_name="Quality^Index",
    )
    return folder
