"""Constraint sets: load them from YAML, match their structures to ROIs, evaluate them.

No pydicom and no CLI here. Typical use::

    cset = load_constraint_set("rectum.yaml")
    results = evaluate_constraints(cset, get_dvh, roi_names, prescription_gy)
    print(verdict(results))
"""

from dosecheck.checking.evaluate import (
    DVHSource,
    evaluate_constraints,
    resolve_prescription,
    verdict,
)
from dosecheck.checking.loader import MAX_BYTES, load_constraint_set, load_constraint_set_text
from dosecheck.checking.matching import MatchResult, match_structure, normalize_name
from dosecheck.checking.model import (
    Constraint,
    ConstraintResult,
    ConstraintSet,
    StructureSpec,
)

__all__ = [
    "MAX_BYTES",
    "Constraint",
    "ConstraintResult",
    "ConstraintSet",
    "DVHSource",
    "MatchResult",
    "StructureSpec",
    "evaluate_constraints",
    "load_constraint_set",
    "load_constraint_set_text",
    "match_structure",
    "normalize_name",
    "resolve_prescription",
    "verdict",
]
