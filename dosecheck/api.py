"""The Python API: load a plan, compute DVHs, check constraints.

Scripts should import from here (the examples run from the repository root, on the
shipped sample plans; ``tests/test_api_doctests.py`` runs them):

>>> from dosecheck.api import load_plan, compute_dvhs
>>> plan = load_plan("sample_plans/long_course_pass")
>>> for result in compute_dvhs(plan, ["PTV50.4", "Bag_Bowel"]):
...     print(result.structure.name, round(result.dvh.volume_at_dose(45.0), 1))
PTV50.4 836.4
Bag_Bowel 110.6

This module is the public face only: it re-exports functions and types from the
modules that define them (:mod:`dosecheck.core.structures`,
:mod:`dosecheck.checking.check`) and wraps the loaders of :mod:`dosecheck.dicom`,
which import pydicom inside the call so that ``import dosecheck.api`` stays cheap.
Nothing inside dosecheck imports it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from dosecheck.checking.check import CheckReport, check_plan
from dosecheck.core.structures import (
    EndCaps,
    StructureDVH,
    compute_dvhs,
    end_cap_spacing,
    select_structures,
    structure_set_spacing,
)

__all__ = [
    "CheckReport",
    "EndCaps",
    "StructureDVH",
    "check_plan",
    "compute_dvhs",
    "end_cap_spacing",
    "load_plan",
    "load_plan_sum",
    "select_structures",
    "structure_set_spacing",
]

if TYPE_CHECKING:
    from dosecheck.model import Plan


def load_plan(
    path: str | Path | None = None,
    *,
    rtstruct: str | Path | None = None,
    rtdose: Sequence[str | Path] = (),
    rtplan: str | Path | None = None,
    fractions: int | None = None,
    allow_frame_mismatch: bool = False,
    dose_is: str | None = None,
) -> Plan:
    """Load a plan from a folder (searched recursively) or from explicit files.

    ``dose_is`` (``None``, ``"labelled"``, ``"total"``, ``"fraction"``) overrides what
    the RTDOSE holds; see :func:`dosecheck.dicom.load.load_plan`. The check of the
    dose's scale against the RTPLAN is ``plan.dose_scale``.

    Raises
    ------
    InputError
        For missing files, unsupported or inconsistent DICOM.

    Examples
    --------
    A folder: its RTSTRUCT, RTPLAN and RTDOSE are found from their headers.

    >>> from dosecheck.api import load_plan
    >>> plan = load_plan("sample_plans/long_course_pass")
    >>> plan.plan_info.label, plan.plan_info.prescription_gy, plan.plan_info.fractions
    ('LC5040_PASS', 50.4, 28)
    >>> [s.name for s in plan.structure_set.structures][:5]
    ['BODY', 'PTV50.4', 'CTV', 'GTV', 'Bag_Bowel']
    >>> plan.dose.dose_gy.shape, plan.dose.summation_type  # (z, y, x) voxels, in Gy
    ((73, 109, 157), 'PLAN')
    >>> plan.dose_scale.verdict, round(plan.dose_scale.measured_gy, 2)
    ('consistent', 50.4)

    Or the files themselves (here without the RTPLAN: no prescription then).

    >>> folder = "sample_plans/long_course_pass/"
    >>> plan = load_plan(
    ...     rtstruct=folder + "RS.SYNTH-RECT-LC-PASS.dcm",
    ...     rtdose=[folder + "RD.SYNTH-RECT-LC-PASS.dcm"],
    ... )
    >>> plan.plan_info is None, len(plan.structure_set.structures)
    (True, 13)
    """
    from dosecheck.dicom.load import load_plan as _load

    return _load(
        path,
        rtstruct=rtstruct,
        rtdose=tuple(rtdose),
        rtplan=rtplan,
        fractions=fractions,
        allow_frame_mismatch=allow_frame_mismatch,
        dose_is=dose_is,
    )


def load_plan_sum(
    path: str | Path,
    *,
    prescription_gy: float | None = None,
    allow_frame_mismatch: bool = False,
) -> Plan:
    """Load the plans of one structure set in a folder as one course (a plan sum: e.g.
    a sequential boost), see :func:`dosecheck.dicom.plan_sum.load_plan_sum`.

    Raises
    ------
    InputError
        For missing files, plans that cannot be summed, unsupported DICOM.
    """
    from dosecheck.dicom.plan_sum import load_plan_sum as _load_sum

    return _load_sum(
        path, prescription_gy=prescription_gy, allow_frame_mismatch=allow_frame_mismatch
    )
