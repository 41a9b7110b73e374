"""Find the ROI of a plan that a constraint-set structure refers to.

Names are compared after :func:`normalize_name` (case, spaces, ``_`` and ``-``
ignored). The steps are tried in order and the first step that finds anything
decides:

1. the structure's ``name``;
2. its ``aliases`` (all of them together: the list order is not a preference);
3. its ``regex``, matched case-insensitively against the whole ROI name.

One ROI found → matched. Two or more → ambiguous: the result carries an error
message naming them and the evaluator reports the structure's constraints as not
evaluated (failed under ``strict``) rather than raising, so that one ambiguous
structure does not hide the results of all the others. None → not found, with a
message listing the ROIs present.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from dosecheck.checking.model import StructureSpec

MatchStatus = Literal["matched", "ambiguous", "not_found"]
MatchedBy = Literal["name", "alias", "regex"]

_IGNORED = re.compile(r"[\s_\-]+")


def normalize_name(name: str) -> str:
    """``name`` without spaces, underscores and hyphens, case-folded."""
    return _IGNORED.sub("", name).casefold()


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
        The step that decided: ``"name"``, ``"alias"`` or ``"regex"``.
    candidates
        The ROIs that fit at the deciding step (two or more when ambiguous).
    roi_names
        All ROI names of the plan, for messages.
    message
        Empty when matched; otherwise why not, naming the ROIs concerned.
    """

    structure: str
    status: MatchStatus
    roi: str | None
    matched_by: MatchedBy | None
    candidates: tuple[str, ...]
    roi_names: tuple[str, ...]
    message: str = ""


def match_structure(spec: StructureSpec, roi_names: Sequence[str]) -> MatchResult:
    """Find the ROI for ``spec`` among ``roi_names``.

    Parameters
    ----------
    spec
        The structure from the constraint set.
    roi_names
        ROI names of the plan's structure set, as written.

    Returns
    -------
    MatchResult
        Never raises for an ambiguous or missing structure; check ``status``.
    """
    names = tuple(roi_names)
    steps: list[tuple[MatchedBy, list[str]]] = []
    wanted = normalize_name(spec.name)
    steps.append(("name", [r for r in names if normalize_name(r) == wanted]))
    if spec.aliases:
        aliases = {normalize_name(a) for a in spec.aliases}
        steps.append(("alias", [r for r in names if normalize_name(r) in aliases]))
    if spec.regex:
        pattern = re.compile(spec.regex, re.IGNORECASE)
        steps.append(("regex", [r for r in names if pattern.fullmatch(r)]))

    for by, hits in steps:
        if len(hits) == 1:
            return MatchResult(spec.name, "matched", hits[0], by, (hits[0],), names)
        if hits:
            return MatchResult(
                spec.name, "ambiguous", None, by, tuple(hits), names, _ambiguous(spec, by, hits)
            )
    return MatchResult(spec.name, "not_found", None, None, (), names, _not_found(spec, names))


def _quoted(items: Sequence[str]) -> str:
    q = [repr(s) for s in items]
    return q[0] if len(q) == 1 else ", ".join(q[:-1]) + " and " + q[-1]


def _ambiguous(spec: StructureSpec, by: MatchedBy, hits: list[str]) -> str:
    what = {
        "name": "its name",
        "alias": "its aliases",
        "regex": f"its regex {spec.regex!r}",
    }[by]
    verb = "both match" if len(hits) == 2 else "all match"
    if len(set(hits)) < len(hits):
        rois = f"{len(hits)} ROIs named {_quoted(sorted(set(hits)))}"
    else:
        rois = f"ROIs {_quoted(hits)}"
    return (
        f"structure {spec.name!r} is ambiguous: {rois} {verb} {what} "
        "(case, spaces, '_' and '-' ignored); rename or remove the extra ROI, or make "
        "the constraint set's names more specific"
    )


def _not_found(spec: StructureSpec, roi_names: tuple[str, ...]) -> str:
    tried = [f"name {spec.name!r}"]
    if spec.aliases:
        tried.append("aliases " + ", ".join(repr(a) for a in spec.aliases))
    if spec.regex:
        tried.append(f"regex {spec.regex!r}")
    present = (
        "ROIs present: " + ", ".join(repr(r) for r in roi_names)
        if roi_names
        else "the structure set has no ROIs"
    )
    return (
        f"structure {spec.name!r} not found: no ROI matches {'; '.join(tried)} "
        f"(case, spaces, '_' and '-' ignored); {present}"
    )
