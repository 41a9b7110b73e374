"""Find the ROI of a plan that a constraint-set structure refers to.

Names are compared after :func:`normalize_name` (case, spaces, ``_`` and ``-``
ignored), but at every step that compares names, a ROI spelled *exactly* as asked
(case included) wins over ROIs that match only after normalising (``PTV_4`` over
``ptv4``). The steps are tried in order; the first step that finds anything decides
(``matched_by`` names it):

1. ``command line``: ``--map STRUCTURE=ROI``;
2. ``site map``: the clinic's alias file lists local names for the structure;
3. ``plan-reference`` (structures with ``target:`` only): the RTPLAN's VOLUME dose
   reference (ReferencedROINumber) whose TargetPrescriptionDose is the prescription,
   or its only one when that has no dose and no ROI name contradicts it (another
   target ROI named for the prescription's level: ambiguous; the ROI's own name
   certain of another level: not found); used when that ROI is named or typed
   (RTROIInterpretedType) as a target of the asked type;
4. ``name``: the structure's ``name``;
5. ``alias``: its ``aliases`` (all of them together: the list order is not a
   preference);
6. ``regex``: its ``regex``, matched case-insensitively against the whole ROI name;
7. ``tg263`` (``target:`` only): among ROIs named as TG-263 targets of the type
   (:mod:`dosecheck.tg263`; ``z``-prefixed and point ROIs left out), the
   one whose absolute dose level equals the prescription; else the ``_High`` one
   when the prescription is the plan's highest level (the RTPLAN's largest
   TargetPrescriptionDose, no ROI named for a higher dose, and either the RTPLAN
   records two or more dose levels or no ROI is named for a lower relative level
   ``_Mid…``/``_Low``: one recorded level may be the low one's); else the only
   such ROI, provided its name gives no other dose level;
8. ``interpreted-type`` (``target:`` only, when no ROI is named as such a target,
   ``z``-prefixed names aside): the only ROI whose RTROIInterpretedType is the type
   (PTV, CTV, GTV).

One ROI found → matched. Two or more → ambiguous: the result carries an error message
naming them and the evaluator reports the structure's constraints as not evaluated
(failed under ``strict``) rather than raising, so that one ambiguous structure does
not hide the results of all the others. None → not found, with a message listing the
ROIs present and the closest names (``did you mean 'BOWEL_BAG_NEW'?``).

A name that is not a standard TG-263 target name (``PTV48.6_sg``: unrecognised
``_sg``) is never chosen by step 7, but when its dose level fits it makes that step
ambiguous: two plausible ROIs are never decided between. The matched ROI is
cross-checked against its RTROIInterpretedType: a target matched to a ROI typed
ORGAN, or an organ matched to a ROI typed PTV, gives a warning.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from dosecheck.checking.model import StructureSpec
from dosecheck.tg263 import parse_target_name, parse_target_spec

if TYPE_CHECKING:
    pass

from dosecheck.checking.roi_naming import (
    POINT_TYPES,
    TARGET_INTERPRETED_TYPES,
    MatchedBy,
    MatchResult,
    NamingContext,
    RoiInfo,
    Step,
    gy_text,
    normalize_name,
    quoted,
    same_rx,
)
from dosecheck.checking.target_steps import (
    interpreted_type_step,
    plan_reference_step,
    target_word,
    tg263_step,
)

__all__ = [
    "POINT_TYPES",
    "TARGET_INTERPRETED_TYPES",
    "MatchResult",
    "MatchedBy",
    "NamingContext",
    "RoiInfo",
    "closest_names",
    "match_structure",
    "normalize_name",
]


def match_structure(
    spec: StructureSpec,
    roi_names: Sequence[str],
    context: NamingContext | None = None,
) -> MatchResult:
    """Find the ROI for ``spec`` among ``roi_names``.

    Parameters
    ----------
    spec
        The structure from the constraint set.
    roi_names
        ROI names of the plan's structure set, as written (ignored when ``context``
        gives ``rois``).
    context
        ROI numbers and types, the RTPLAN's dose references, the prescription, the
        site alias file and ``--map``; without it only the names are used.

    Returns
    -------
    MatchResult
        Never raises for an ambiguous or missing structure; check ``status``.
    """
    ctx = context or NamingContext()
    rois = ctx.rois or tuple(RoiInfo(n) for n in roi_names)
    names = tuple(r.name for r in rois)
    target = parse_target_spec(spec.target) if spec.target else None
    warnings: list[str] = []
    notes: list[str] = []
    infer = target is not None
    rx, set_rx = ctx.prescription_gy, ctx.set_prescription_gy
    if infer and rx is not None and set_rx is not None and not same_rx(rx, set_rx):
        infer = False
        notes.append(
            f"the {spec.target} is not inferred because the prescription {gy_text(rx)} is not the "
            f"{gy_text(set_rx)} the constraint set was written for (wrong protocol?); name the "
            "ROI with --map to check it anyway"
        )

    def steps():  # lazily: a later step is computed only when the earlier ones found nothing
        mapped = ctx.lookup(ctx.command_line, spec.name)
        if isinstance(mapped, str):
            step = _names_step("command line", [mapped], names, "--map")
            if not step.hits:
                step.stop = f"--map {spec.name}={mapped} names a ROI the plan does not have"
            yield step
        site = ctx.lookup(ctx.site_names, spec.name)
        if site:
            yield _names_step("site map", list(site), names, "the site alias file")  # type: ignore[arg-type]
        if infer:
            yield plan_reference_step(spec, target, rois, ctx, warnings)  # type: ignore[arg-type]
        yield _names_step("name", [spec.name], names, "its name")
        if spec.aliases:
            yield _names_step("alias", list(spec.aliases), names, "its aliases")
        if spec.regex:
            pattern = re.compile(spec.regex, re.IGNORECASE)
            yield Step(
                "regex",
                [r for r in names if pattern.fullmatch(r)],
                what=f"its regex {spec.regex!r}",
            )
        if infer:
            yield tg263_step(target, rois, ctx, notes)  # type: ignore[arg-type]
            yield interpreted_type_step(target, rois)  # type: ignore[arg-type]

    for step in steps():
        if step.stop and not step.hits:
            message = _not_found(spec, names, ctx, [step.stop])
            return MatchResult(spec.name, "not_found", None, None, (), names, message)
        hits = step.hits
        if len(hits) == 1:
            roi = next(r for r in rois if r.name == hits[0])
            warnings.extend(_cross_check(spec, target, roi))
            return MatchResult(
                spec.name,
                "matched",
                hits[0],
                step.by,
                (hits[0],),
                names,
                detail=step.detail,
                warnings=tuple(dict.fromkeys(warnings)),
            )
        if hits:
            return MatchResult(
                spec.name,
                "ambiguous",
                None,
                step.by,
                tuple(hits),
                names,
                _ambiguous(spec, step, hits),
                warnings=tuple(dict.fromkeys(warnings)),
            )
    return MatchResult(
        spec.name,
        "not_found",
        None,
        None,
        (),
        names,
        _not_found(spec, names, ctx, notes),
        warnings=tuple(dict.fromkeys(warnings)),
    )


def _names_step(by: MatchedBy, wanted: list[str], names: tuple[str, ...], what: str) -> Step:
    """ROIs whose name is one of ``wanted``: exact spellings first, then normalised."""
    keys = {normalize_name(w) for w in wanted}
    hits = [r for r in names if normalize_name(r) in keys]
    detail = ""
    if len(hits) > 1:
        exact = [r for r in hits if r in wanted]
        if len(exact) == 1:
            others = quoted([r for r in hits if r != exact[0]])
            detail = f"spelled exactly as asked, preferred over {others}"
            hits = exact
    return Step(by, hits, detail=detail, what=what)


def _cross_check(spec: StructureSpec, target: tuple[str, str] | None, roi: RoiInfo) -> list[str]:
    """A warning when the ROI's RTROIInterpretedType contradicts what it was matched as."""
    typed = roi.interpreted_type.upper()
    if not typed:
        return []
    if target is not None:
        if target[0] in TARGET_INTERPRETED_TYPES and typed != target[0]:
            return [
                f"ROI {roi.name!r} was matched as {spec.name!r} ({target_word(target)}) but "
                f"its RTROIInterpretedType is {typed}; check the structure set"
            ]
        return []
    if typed in TARGET_INTERPRETED_TYPES and parse_target_name(spec.name) is None:
        return [
            f"ROI {roi.name!r} was matched as {spec.name!r} but its RTROIInterpretedType is "
            f"{typed}, a target; check the structure set"
        ]
    return []


def _ambiguous(spec: StructureSpec, step: Step, hits: list[str]) -> str:
    verb = "both match" if len(hits) == 2 else "all match"
    if len(set(hits)) < len(hits):
        rois = f"{len(hits)} ROIs named {quoted(sorted(set(hits)))}"
    else:
        rois = f"ROIs {quoted(hits)}"
    if step.by in ("name", "alias", "regex", "site map", "command line"):
        how = " (case, spaces, '_' and '-' ignored)"
    else:
        how = ""
    return (
        f"structure {spec.name!r} is ambiguous: {rois} {verb} {step.what}{how}; rename or "
        "remove the extra ROI, or make the constraint set's names more specific"
        + (" (or name the ROI with --map or in the site alias file)" if spec.target else "")
    )


def _closest(spec: StructureSpec, names: tuple[str, ...], ctx: NamingContext) -> list[str]:
    wanted = [spec.name, *spec.aliases]
    site = ctx.lookup(ctx.site_names, spec.name)
    if site:
        wanted.extend(site)  # type: ignore[arg-type]
    return closest_names(wanted, names)


def closest_names(wanted: Sequence[str], names: Sequence[str]) -> list[str]:
    """Up to 3 of ``names`` closest to any of ``wanted``, best first (difflib ratio of
    the normalised names at least 0.6)."""
    by_key: dict[str, str] = {}
    for n in names:
        by_key.setdefault(normalize_name(n), n)
    scores: dict[str, float] = {}
    for w in wanted:
        key = normalize_name(w)
        for k, n in by_key.items():
            ratio = difflib.SequenceMatcher(None, key, k).ratio()
            if ratio >= 0.6:
                scores[n] = max(scores.get(n, 0.0), ratio)
    return sorted(scores, key=lambda n: -scores[n])[:3]


def _not_found(
    spec: StructureSpec, roi_names: tuple[str, ...], ctx: NamingContext, notes: list[str]
) -> str:
    tried = [f"name {spec.name!r}"]
    if spec.aliases:
        tried.append("aliases " + ", ".join(repr(a) for a in spec.aliases))
    if spec.regex:
        tried.append(f"regex {spec.regex!r}")
    site = ctx.lookup(ctx.site_names, spec.name)
    if site:
        tried.append("site names " + ", ".join(repr(a) for a in site))  # type: ignore[union-attr]
    present = (
        "ROIs present: " + ", ".join(repr(r) for r in roi_names)
        if roi_names
        else "the structure set has no ROIs"
    )
    head = (
        f"structure {spec.name!r} not found: no ROI matches {'; '.join(tried)} "
        "(case, spaces, '_' and '-' ignored)"
    )
    if spec.target:
        rx = ctx.prescription_gy
        at = f" at the prescription {gy_text(rx)}" if rx is not None else ""
        head += f", and no ROI is the {spec.target}{at} by RTPLAN reference, TG-263 name or type"
    for n in notes:
        head += f"; {n}"
    close = _closest(spec, roi_names, ctx)
    if close:
        head += f"; did you mean {' or '.join(repr(c) for c in close)}?"
    return f"{head}; {present}"
