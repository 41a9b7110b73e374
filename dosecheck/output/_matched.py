"""How a result's ROI was found, in words (shared by the check formats and JUnit)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dosecheck.checking.model import ConstraintResult

__all__ = ["matched_by_text"]

_MATCHED_BY_TEXT = {
    "command line": "--map on the command line",
    "site map": "the site alias file",
    "plan-reference": "the RTPLAN's dose reference",
    "tg263": "TG-263 target name",
    "interpreted-type": "RTROIInterpretedType",
}


def matched_by_text(r: ConstraintResult) -> str:
    """``matched by name``, ``matched by TG-263 target name: TG-263 dose level 50.4 Gy =
    the prescription``, ``matched by the RTPLAN's dose reference: …``."""
    by = _MATCHED_BY_TEXT.get(r.matched_by or "", r.matched_by)
    return f"matched by {by}" + (f": {r.match_detail}" if r.match_detail else "")
