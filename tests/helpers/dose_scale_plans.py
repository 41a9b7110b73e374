"""Plans with a dose linear along x, for the dose-scale check (issue #12).

``d(x) = d0 · (1 + GRADIENT·x)``, so trilinear interpolation is exact: the dose at a
point is known in closed form, and the median of a box-shaped PTV centred on x = 0 is
``d0``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dosecheck.dicom.writer import write_rtdose, write_rtplan, write_rtstruct
from dosecheck.model import (
    BeamDoseInfo,
    DoseGrid,
    DoseReferencePoint,
    PlanInfo,
    Structure,
    StructureSet,
    TargetReference,
)

FOR_UID = "1.2.826.0.1.3680043.8.498.77"
GRADIENT = 0.01  # relative dose change per mm along x
ISO = (10.0, 0.0, 0.0)  # the beam dose specification point


def dose_grid(d0: float, summation_type: str) -> DoseGrid:
    """``d(x) = d0 · (1 + GRADIENT·x)`` on x, y ∈ [-40, 40] mm, z ∈ [-20, 20] mm."""
    x = np.arange(-40.0, 41.0, 2.0)
    z = np.arange(-20.0, 21.0, 2.0)
    plane = d0 * (1.0 + GRADIENT * x)
    dose = np.broadcast_to(plane, (z.size, x.size, x.size)).astype(np.float32)
    return DoseGrid(
        x, x.copy(), z, dose, frame_of_reference_uid=FOR_UID, summation_type=summation_type
    )


def dose_at_iso(d0: float) -> float:
    return d0 * (1.0 + GRADIENT * ISO[0])


def write_case(
    folder: Path,
    *,
    d0: float,
    label: str,
    fractions: int = 35,
    beam_doses: tuple[BeamDoseInfo, ...] = (),
    prescription_gy: float | None = 75.6,
    prescribed_roi: bool = False,
    ptv_type: str = "PTV",
    dose_reference_points: tuple[DoseReferencePoint, ...] = (),
    ptv_name: str = "PTV",
) -> Path:
    """A plan: a 20 × 20 × 20 mm PTV centred on the origin, the linear dose, an RTPLAN."""
    folder.mkdir(parents=True, exist_ok=True)
    square = np.array([[-10.0, -10.0], [10.0, -10.0], [10.0, 10.0], [-10.0, 10.0]])
    ptv = Structure.from_contours(
        1, ptv_name, [(z, square) for z in np.arange(-9.0, 10.0, 2.0)], interpreted_type=ptv_type
    )
    ss_uid = write_rtstruct(
        folder / "rs.dcm", StructureSet((ptv,), frame_of_reference_uid=FOR_UID, patient_id="P")
    )
    info = PlanInfo(
        label="HN",
        prescription_gy=prescription_gy,
        fractions=fractions,
        patient_id="P",
        frame_of_reference_uid=FOR_UID,
        beam_doses=beam_doses,
        target_references=(TargetReference(1, prescription_gy),) if prescribed_roi else (),
        dose_reference_points=dose_reference_points,
    )
    plan_uid = write_rtplan(folder / "rp.dcm", info, referenced_structure_set_uid=ss_uid)
    write_rtdose(
        folder / "rd.dcm", dose_grid(d0, label), referenced_plan_uid=plan_uid, patient_id="P"
    )
    return folder


# 75.6 Gy in 35 fractions: 2.16 Gy per fraction at the point from two beams, plus a setup
# beam without dose and a beam whose point lies outside the dose grid.
PER_FX = 2.16
BEAMS = (
    BeamDoseInfo(1, 1.30, ISO),
    BeamDoseInfo(2, 0.86, (ISO[0] + 0.2, ISO[1], ISO[2])),  # the same point (within 0.5 mm)
    BeamDoseInfo(3, None, None),  # setup beam
    BeamDoseInfo(4, 0.0, (0.0, 0.0, 0.0)),  # no dose: not evidence
)
# d0 such that the file holds exactly 75.6 Gy (the course) or 2.16 Gy (a fraction) at ISO.
D0_TOTAL = 75.6 / (1.0 + GRADIENT * ISO[0])
D0_FX = PER_FX / (1.0 + GRADIENT * ISO[0])
