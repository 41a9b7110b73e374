"""Courses of several plans on one structure set, for the plan-sum tests.

A cylindrical PTV (R 15 mm, slab z -20..20 mm) and a cylindrical bowel bag (R 10 mm at
x = 40 mm) in one RTSTRUCT, and per plan an RTPLAN and its PLAN dose (``write_course``);
``boost_course`` is the sequential boost 45 Gy in 25 fx + 5.4 Gy in 3 fx.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np

from dosecheck.dicom.writer import write_rtdose, write_rtplan, write_rtstruct
from dosecheck.model import DoseGrid, PlanInfo, StructureSet
from tests.helpers.phantoms import cylinder, signed_area

FOR = "1.2.826.0.1.3680043.8.498.4242"
OTHER_FOR = "1.2.826.0.1.3680043.8.498.4343"

PTV = cylinder(15.0, 40.0, 2.0, z_first_mm=-19.0, name="PTV")
BOWEL = cylinder(10.0, 40.0, 2.0, centre_xy=(40.0, 0.0), z_first_mm=-19.0, name="Bag_Bowel")
PTV_CC = abs(signed_area(PTV.planes[0][1][0])) * 40.0 / 1000.0

DoseFn = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


def structure_set() -> StructureSet:
    return StructureSet(
        (PTV.structure(1), BOWEL.structure(2)), frame_of_reference_uid=FOR, patient_id="P1"
    )


def grid(
    step: float,
    offset: float,
    lo: tuple[float, float, float],
    hi: tuple[float, float, float],
    dose: DoseFn,
    frame: str = FOR,
) -> DoseGrid:
    axes = [
        offset
        + step * np.arange(math.ceil((a - offset) / step), math.floor((b - offset) / step) + 1)
        for a, b in zip(lo, hi, strict=True)
    ]
    x, y, z = axes
    values = dose(x[None, None, :], y[None, :, None], z[:, None, None])
    values = np.broadcast_to(values, (z.size, y.size, x.size))
    return DoseGrid(x, y, z, np.ascontiguousarray(values, dtype=np.float32), frame)


def uniform(gy: float) -> DoseFn:
    return lambda x, y, z: np.full(np.broadcast_shapes(x.shape, y.shape, z.shape), gy)


def linear_z(d0: float, g: float) -> DoseFn:
    return lambda x, y, z: d0 + g * z + 0.0 * x + 0.0 * y


WIDE = ((-30.0, -30.0, -30.0), (60.0, 30.0, 30.0))  # 2 mm grid: covers both ROIs
INNER = ((-28.0, -28.0, -28.0), (58.0, 28.0, 28.0))  # 3 mm grid inside the 2 mm one


def write_course(
    folder: Path,
    parts: list[tuple[str, float | None, int | None, DoseGrid]],
    *,
    frames: list[str] | None = None,
    summation: dict[str, str] | None = None,
) -> Path:
    """One RTSTRUCT and, per part, an RTPLAN (label, prescription, fractions) and its
    PLAN dose referencing it."""
    folder.mkdir(parents=True, exist_ok=True)
    ss_uid = write_rtstruct(folder / "rs.dcm", structure_set())
    for i, (label, rx, fx, g) in enumerate(parts):
        plan_uid = write_rtplan(
            folder / f"rp_{label}.dcm",
            PlanInfo(label=label, prescription_gy=rx, fractions=fx, patient_id="P1"),
            referenced_structure_set_uid=ss_uid,
        )
        frame = frames[i] if frames else g.frame_of_reference_uid
        write_rtdose(
            folder / f"rd_{label}.dcm",
            g,
            summation_type=(summation or {}).get(label, "PLAN"),
            referenced_plan_uid=plan_uid,
            frame_of_reference_uid=frame,
            patient_id="P1",
        )
    return folder


def boost_course(folder: Path, boost_grid: DoseGrid | None = None) -> Path:
    """45 Gy in 25 fx uniform (2 mm grid) + 5.4 Gy in 3 fx as 5.4 + 0.05 z Gy (3 mm)."""
    main = grid(2.0, 0.0, *WIDE, uniform(45.0))
    boost = boost_grid or grid(3.0, 0.5, *INNER, linear_z(5.4, 0.05))
    return write_course(folder, [("MAIN", 45.0, 25, main), ("BOOST", 5.4, 3, boost)])
