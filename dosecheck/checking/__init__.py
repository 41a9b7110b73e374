"""Constraint sets, and checking a plan against one.

The set is loaded from YAML or shipped (:mod:`~dosecheck.checking.loader`,
:mod:`~dosecheck.checking.sets`), its structures matched to the plan's ROIs (by name,
TG-263 target and the site's aliases: :mod:`~dosecheck.checking.matching`,
:mod:`~dosecheck.checking.site_names`), its constraints evaluated on the DVHs
(:mod:`~dosecheck.checking.evaluate`, EQD2/BED in :mod:`~dosecheck.checking.fractionation`),
and the whole run over a plan by :func:`~dosecheck.checking.check.check_plan`.

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
