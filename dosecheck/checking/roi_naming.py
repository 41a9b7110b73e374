"""The vocabulary of ROI matching: ROIs, the naming context, results and their wording.

Shared by :mod:`dosecheck.checking.matching` (the order of the steps and the messages)
and :mod:`dosecheck.checking.target_steps` (the steps that infer a target).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from dosecheck.model import TargetReference

__all__ = [
    "POINT_TYPES",
    "TARGET_INTERPRETED_TYPES",
    "MatchResult",
    "MatchStatus",
    "MatchedBy",
    "NamingContext",
    "RoiInfo",
    "Step",
    "gy_text",
    "normalize_name",
    "quoted",
    "same_rx",
]

MatchStatus = Literal["matched", "ambiguous", "not_found"]


MatchedBy = Literal[
    "command line",
    "site map",
    "plan-reference",
    "name",
    "alias",
    "regex",
    "tg263",
    "interpreted-type",
]


_IGNORED = re.compile(r"[\s_\-]+")


#: RTROIInterpretedType of point ROIs, never a target's volume.
POINT_TYPES = frozenset({"MARKER", "ISOCENTER", "REGISTRATION"})


#: RTROIInterpretedType values that are targets.
TARGET_INTERPRETED_TYPES = frozenset({"PTV", "CTV", "GTV"})


def normalize_name(name: str) -> str:
    """``name`` without spaces, underscores and hyphens, case-folded."""
    return _IGNORED.sub("", name).casefold()


@dataclass(frozen=True)
class RoiInfo:
    """What the matcher knows of one ROI.

    Attributes
    ----------
    name
        ROIName as written.
    number
        ROINumber, if known.
    interpreted_type
        RTROIInterpretedType (``PTV``, ``ORGAN``, ``EXTERNAL``, …) or ``""``.
    """

    name: str
    number: int | None = None
    interpreted_type: str = ""


@dataclass(frozen=True)
class NamingContext:
    """Everything beyond the ROI names that matching may use.

    Attributes
    ----------
    rois
        The plan's ROIs (name, number, RTROIInterpretedType), in file order.
    prescription_gy
        The prescription dose the check uses (Gy), or ``None``.
    plan_prescription_gy
        The RTPLAN's largest TargetPrescriptionDose (Gy), or ``None`` (no RTPLAN, or
        none given): the plan's highest dose level.
    target_references
        The RTPLAN's VOLUME dose references (:attr:`dosecheck.model.PlanInfo.target_references`).
    plan_dose_levels_gy
        All TargetPrescriptionDose values of the RTPLAN
        (:attr:`dosecheck.model.PlanInfo.prescription_levels_gy`): how many dose levels
        it records. Empty when unknown (then ``plan_prescription_gy`` is its only one).
    set_prescription_gy
        The prescription the constraint set was written for, or ``None``. When it
        differs from ``prescription_gy`` (a plan checked against another protocol's
        set) no target is inferred: the set's target is the one at its own dose.
    site_names
        The clinic's alias file: structure name → local ROI names.
    command_line
        ``--map``: structure name → ROI name.
    """

    rois: tuple[RoiInfo, ...] = ()
    prescription_gy: float | None = None
    plan_prescription_gy: float | None = None
    target_references: tuple[TargetReference, ...] = ()
    plan_dose_levels_gy: tuple[float, ...] = ()
    set_prescription_gy: float | None = None
    site_names: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    command_line: Mapping[str, str] = field(default_factory=dict)

    def lookup(self, table: Mapping[str, object], structure: str) -> object | None:
        """The entry of ``table`` for ``structure`` (names compared normalised)."""
        key = normalize_name(structure)
        for k, v in table.items():
            if normalize_name(k) == key:
                return v
        return None


@dataclass(frozen=True)
class MatchResult:
    """The outcome of :func:`match_structure`.

    Attributes
    ----------
    structure
        The structure's name in the constraint set.
    status
        ``"matched"``, ``"ambiguous"`` or ``"not_found"``.
    roi
        The matched ROI name as written in the plan (``None`` unless matched).
    matched_by
        The step that decided (see the module docstring), ``None`` when not found.
    candidates
        The ROIs that fit at the deciding step (two or more when ambiguous).
    roi_names
        All ROI names of the plan, for messages.
    message
        Empty when matched; otherwise why not, naming the ROIs concerned.
    detail
        How the deciding step chose, for people (empty for a plain name match).
    warnings
        Cross-checks that did not hold (e.g. a PTV matched to a ROI typed ORGAN).
    """

    structure: str
    status: MatchStatus
    roi: str | None
    matched_by: MatchedBy | None
    candidates: tuple[str, ...]
    roi_names: tuple[str, ...]
    message: str = ""
    detail: str = ""
    warnings: tuple[str, ...] = ()


@dataclass
class Step:
    by: MatchedBy
    hits: list[str]
    detail: str = ""
    what: str = ""  # for the ambiguity message: "its name", "the RTPLAN's dose reference"
    stop: str = ""  # a not-found message that ends the search


def quoted(items: Sequence[str]) -> str:
    q = [repr(s) for s in items]
    return q[0] if len(q) == 1 else ", ".join(q[:-1]) + " and " + q[-1]


def gy_text(x: float) -> str:
    return f"{x:g} Gy"


def same_rx(a: float, b: float) -> bool:
    """The tolerance of choosing a shipped set by prescription (0.5 %)."""
    return math.isclose(a, b, rel_tol=0.005)
