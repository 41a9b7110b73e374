"""The Python API: load a plan, compute DVHs, check constraints.

Scripts should import from here::

    from dosecheck.api import load_plan, compute_dvhs

    plan = load_plan("sample_plans/long_course_pass")
    for result in compute_dvhs(plan, ["PTV", "Bag_Bowel"]):
        print(result.structure.name, result.dvh.volume_at_dose(45.0))

Heavy modules (pydicom, the engine) are imported inside the functions so that
``import dosecheck.api`` stays cheap.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from dosecheck.checking.check import CheckReport, check_plan
from dosecheck.errors import InputError

__all__ = [
    "CheckReport",
    "StructureDVH",
    "check_plan",
    "compute_dvhs",
    "load_plan",
    "select_structures",
    "structure_set_spacing",
]

if TYPE_CHECKING:
    from dosecheck.core.dvh import DVH
    from dosecheck.core.engine import EngineSettings
    from dosecheck.model import Plan, Structure, StructureSet


@dataclass(frozen=True, eq=False)
class StructureDVH:
    """A structure and its DVH."""

    structure: Structure
    dvh: DVH


def load_plan(
    path: str | Path | None = None,
    *,
    rtstruct: str | Path | None = None,
    rtdose: Sequence[str | Path] = (),
    rtplan: str | Path | None = None,
    fractions: int | None = None,
    allow_frame_mismatch: bool = False,
) -> Plan:
    """Load a plan from a folder (searched recursively) or from explicit files.

    Raises
    ------
    InputError
        For missing files, unsupported or inconsistent DICOM.
    """
    from dosecheck.dicom.load import load_plan as _load

    return _load(
        path,
        rtstruct=rtstruct,
        rtdose=tuple(rtdose),
        rtplan=rtplan,
        fractions=fractions,
        allow_frame_mismatch=allow_frame_mismatch,
    )


def structure_set_spacing(structure_set: StructureSet) -> float | None:
    """The most common contour-plane spacing over all ROIs (mm), or None."""
    diffs = []
    for s in structure_set.structures:
        planes = np.unique(np.round(s.z, 3))
        if planes.size > 1:
            diffs.append(np.round(np.diff(planes), 2))
    if not diffs:
        return None
    values, counts = np.unique(np.concatenate(diffs), return_counts=True)
    return float(values[np.argmax(counts)])


def select_structures(structure_set: StructureSet, names: Iterable[str] | None) -> list[Structure]:
    """The structures named (exact, then case-insensitive), or all of them.

    Raises
    ------
    InputError
        When a name matches no ROI; the message lists the ROIs present.
    """
    structures = list(structure_set.structures)
    if not names:
        return structures
    chosen: list[Structure] = []
    for name in names:
        hits = [s for s in structures if s.name == name] or [
            s for s in structures if s.name.casefold() == name.casefold()
        ]
        if not hits:
            present = ", ".join(s.name for s in structures)
            raise InputError(
                f"no ROI named {name!r}; ROIs present: {present}", path=structure_set.path
            )
        chosen.extend(h for h in hits if h not in chosen)
    return chosen


def compute_dvhs(
    plan: Plan,
    structures: Iterable[str] | None = None,
    *,
    settings: EngineSettings | None = None,
) -> list[StructureDVH]:
    """Compute the DVH of each selected structure (all when ``structures`` is None)."""
    from dosecheck.core.engine import DoseField, compute_dvh, contour_spacing

    spacing = structure_set_spacing(plan.structure_set)
    field = DoseField(plan.dose)
    out = []
    for s in select_structures(plan.structure_set, structures):
        own = contour_spacing(np.unique(np.round(s.z, 3)))
        dvh = compute_dvh(s, field, slice_thickness_mm=own or spacing, settings=settings)
        out.append(StructureDVH(structure=s, dvh=dvh))
    return out
