"""Tiny synthetic plans with exactly known DVH metrics, for the check tests.

Geometry (mm, DICOM patient coordinates): a box-shaped bowel bag
x ∈ [-80, 80], y ∈ [-50, 0] and a box-shaped PTV x ∈ [-20, 20], y ∈ [15, 35], both
contoured on the planes z = -40, -35, …, 40 (17 planes, 5 mm apart, so with half-slice
end caps z ∈ [-42.5, 42.5]): volumes 160 × 50 × 85 mm³ = 680 cc and
40 × 20 × 85 mm³ = 68 cc.

Dose: on a 5 mm grid, piecewise linear in x with its knots on grid nodes, one profile
for y ≤ 0 (the bowel bag) and another for y ≥ 5 (the PTV), constant in z. Trilinear
interpolation of such a dose is exact inside each box, so ``V<t>`` of a box is its
volume times the fraction of its x-range where the profile reaches ``t``: known in
closed form. The helpers return those expected values along with the plan.

``tests/validation/test_box_plans.py`` checks the closed forms, and the DVH engine
against them through the DICOM writer and loader.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dosecheck.model import DoseGrid, Plan, PlanFiles, PlanInfo, Structure, StructureSet

FRAME_UID = "1.2.826.0.1.3680043.8.498.1"
X = np.arange(-100.0, 100.0 + 1e-9, 5.0)
Y = np.arange(-60.0, 60.0 + 1e-9, 5.0)
Z = np.arange(-50.0, 50.0 + 1e-9, 5.0)
PLANES = np.arange(-40.0, 40.0 + 1e-9, 5.0)
SLAB_MM = 85.0  # 17 planes × 5 mm

BOWEL_BOX = (-80.0, 80.0, -50.0, 0.0)
PTV_BOX = (-20.0, 20.0, 15.0, 35.0)
BLADDER_BOX = (-20.0, 20.0, 45.0, 55.0)


def box_volume_cc(box: tuple[float, float, float, float]) -> float:
    x0, x1, y0, y1 = box
    return (x1 - x0) * (y1 - y0) * SLAB_MM / 1000.0


BOWEL_CC = box_volume_cc(BOWEL_BOX)  # 680 cc
PTV_CC = box_volume_cc(PTV_BOX)  # 68 cc

Knots = Sequence[tuple[float, float]]


@dataclass(frozen=True)
class Profile:
    """A dose profile along x: piecewise linear through ``knots`` (x on grid nodes),
    increasing, constant beyond the end knots."""

    knots: Knots

    def __call__(self, x: np.ndarray) -> np.ndarray:
        kx, kd = zip(*self.knots, strict=True)
        return np.interp(x, kx, kd)

    def x_at(self, dose_gy: float) -> float:
        kx, kd = zip(*self.knots, strict=True)
        return float(np.interp(dose_gy, kd, kx))

    def v_fraction(self, dose_gy: float, box: tuple[float, float, float, float]) -> float:
        """Fraction of the box's x-range where the dose is at least ``dose_gy``."""
        x0, x1 = box[0], box[1]
        kd = [d for _, d in self.knots]
        if dose_gy <= kd[0]:
            return 1.0
        if dose_gy > kd[-1]:
            return 0.0
        xt = self.x_at(dose_gy)
        return float(np.clip((x1 - xt) / (x1 - x0), 0.0, 1.0))

    def d_fraction(self, fraction: float, box: tuple[float, float, float, float]) -> float:
        """Minimum dose to the hottest ``fraction`` of the box (``D<fraction*100>%``)."""
        x0, x1 = box[0], box[1]
        return float(self(np.array([x1 - fraction * (x1 - x0)]))[0])


# Profiles and the numbers the tests assert (bowel bag 680 cc, PTV 68 cc).
# Long course, 50.4 Gy: V30Gy = 306 cc, V45Gy = 51 cc (both pass).
LONG_BOWEL_PASS = Profile([(-100.0, 10.0), (0.0, 28.0), (80.0, 48.0), (100.0, 50.0)])
# Long course: V30Gy = 552.5 cc (< 600, pass), V45Gy = 340 cc (>= 300, fail).
LONG_BOWEL_FAIL = Profile([(-100.0, 10.0), (-60.0, 27.0), (20.0, 51.0), (100.0, 55.0)])
# 95 % of 50.4 Gy = 47.88 Gy is reached from x = -18.2: V95% = 95.5 %, D2% = 102.42 %.
LONG_PTV_PASS = Profile([(-100.0, 40.0), (-20.0, 47.7), (20.0, 51.7), (100.0, 52.0)])
# Under-dosed PTV: 47.88 Gy from x = -12.96: V95% = 82.4 %.
LONG_PTV_FAIL = Profile([(-100.0, 40.0), (-20.0, 47.0), (20.0, 52.0), (100.0, 53.0)])
# Short course, 25 Gy: V18.5Gy = 191.25 cc, V22Gy = 42.5 cc (both pass).
SHORT_BOWEL_PASS = Profile([(-100.0, 5.0), (0.0, 15.0), (80.0, 23.0), (100.0, 24.0)])
# Short course: V18.5Gy = 398.4375 cc (>= 350), V22Gy = 212.5 cc (>= 200): both fail.
SHORT_BOWEL_FAIL = Profile([(-100.0, 5.0), (-20.0, 18.0), (80.0, 26.0), (100.0, 27.0)])
# 95 % of 25 Gy = 23.75 Gy from x = -19: V95% = 97.5 %.
SHORT_PTV_PASS = Profile([(-100.0, 20.0), (-20.0, 23.7), (20.0, 25.7), (100.0, 26.0)])
# 23.75 Gy from x = -3.33: V95% = 58.33 %.
SHORT_PTV_FAIL = Profile([(-100.0, 20.0), (-20.0, 22.5), (20.0, 25.5), (100.0, 26.0)])


def box_structure(
    number: int, name: str, box: tuple[float, float, float, float], interpreted_type: str = ""
) -> Structure:
    x0, x1, y0, y1 = box
    square = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=np.float64)
    return Structure.from_contours(
        number, name, [(float(z), square) for z in PLANES], interpreted_type=interpreted_type
    )


def dose_grid(bowel: Profile, ptv: Profile) -> DoseGrid:
    fx_bowel = bowel(X)
    fx_ptv = ptv(X)
    return grid_of_plane(np.where((Y <= 0.0)[:, None], fx_bowel[None, :], fx_ptv[None, :]))


def grid_of_plane(plane: np.ndarray) -> DoseGrid:
    """The 5 mm grid with the ``(Y.size, X.size)`` dose ``plane`` on every z."""
    dose = np.broadcast_to(plane, (Z.size, Y.size, X.size)).astype(np.float32)
    return DoseGrid(
        x=X.copy(),
        y=Y.copy(),
        z=Z.copy(),
        dose_gy=np.ascontiguousarray(dose),
        frame_of_reference_uid=FRAME_UID,
        summation_type="PLAN",
    )


def structure_set(
    bowel_name: str = "BowelBag", ptv_name: str = "PTV", extra: Sequence[str] = ("Bladder",)
) -> StructureSet:
    rois = [box_structure(1, bowel_name, BOWEL_BOX), box_structure(2, ptv_name, PTV_BOX)]
    for i, name in enumerate(extra, start=3):
        rois.append(box_structure(i, name, BLADDER_BOX))
    return StructureSet(
        structures=tuple(rois),
        frame_of_reference_uid=FRAME_UID,
        sop_instance_uid="1.2.826.0.1.3680043.8.498.2",
        label="BOXES",
        patient_id="CHECK01",
        patient_name="Check^Synthetic",
    )


def memory_plan(
    bowel: Profile,
    ptv: Profile,
    *,
    prescription_gy: float | None = 50.4,
    fractions: int | None = 28,
    rtplan: bool = True,
    bowel_name: str = "BowelBag",
    ptv_name: str = "PTV",
    extra: Sequence[str] = ("Bladder",),
) -> Plan:
    """The plan as model objects, without files."""
    info = (
        PlanInfo(
            label="BOXPLAN",
            sop_instance_uid="1.2.826.0.1.3680043.8.498.3",
            prescription_gy=prescription_gy,
            fractions=fractions,
            patient_id="CHECK01",
        )
        if rtplan
        else None
    )
    return Plan(
        files=PlanFiles(rtstruct="", rtdose=()),
        structure_set=structure_set(bowel_name, ptv_name, extra),
        dose=dose_grid(bowel, ptv),
        plan_info=info,
    )


def write_plan(
    folder: Path,
    bowel: Profile,
    ptv: Profile,
    *,
    prescription_gy: float | None = 50.4,
    fractions: int | None = 28,
    rtplan: bool = True,
    bowel_name: str = "BowelBag",
    ptv_name: str = "PTV",
    extra: Sequence[str] = ("Bladder",),
) -> Path:
    """Write RTSTRUCT, RTDOSE and (optionally) RTPLAN into ``folder``; return it."""
    from dosecheck.dicom.writer import write_rtdose, write_rtplan, write_rtstruct

    folder.mkdir(parents=True, exist_ok=True)
    ss = structure_set(bowel_name, ptv_name, extra)
    ss_uid = write_rtstruct(folder / "rtstruct.dcm", ss)
    plan_uid = None
    if rtplan:
        info = PlanInfo(
            label="BOXPLAN",
            prescription_gy=prescription_gy,
            fractions=fractions,
            referenced_structure_set_uid=ss_uid,
            frame_of_reference_uid=FRAME_UID,
            patient_id="CHECK01",
        )
        plan_uid = write_rtplan(folder / "rtplan.dcm", info, patient_name="Check^Synthetic")
    write_rtdose(
        folder / "rtdose.dcm",
        dose_grid(bowel, ptv),
        referenced_plan_uid=plan_uid,
        frame_of_reference_uid=FRAME_UID,
        patient_id="CHECK01",
        patient_name="Check^Synthetic",
    )
    return folder


# --- the closed forms ------------------------------------------------------------------
def v_cc(profile: Profile, dose_gy: float, box: tuple[float, float, float, float]) -> float:
    return profile.v_fraction(dose_gy, box) * box_volume_cc(box)
