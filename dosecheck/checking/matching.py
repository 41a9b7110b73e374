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
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from dosecheck.checking.model import StructureSpec
from dosecheck.tg263 import TargetName, parse_target_name, parse_target_spec

if TYPE_CHECKING:
    from dosecheck.model import TargetReference

__all__ = [
    "MatchResult",
    "MatchedBy",
    "NamingContext",
    "RoiInfo",
    "closest_names",
    "match_structure",
    "normalize_name",
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
class _Step:
    by: MatchedBy
    hits: list[str]
    detail: str = ""
    what: str = ""  # for the ambiguity message: "its name", "the RTPLAN's dose reference"
    stop: str = ""  # a not-found message that ends the search


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
    if infer and rx is not None and set_rx is not None and not _same_rx(rx, set_rx):
        infer = False
        notes.append(
            f"the {spec.target} is not inferred because the prescription {_gy(rx)} is not the "
            f"{_gy(set_rx)} the constraint set was written for (wrong protocol?); name the "
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
            yield _plan_reference(spec, target, rois, ctx, warnings)  # type: ignore[arg-type]
        yield _names_step("name", [spec.name], names, "its name")
        if spec.aliases:
            yield _names_step("alias", list(spec.aliases), names, "its aliases")
        if spec.regex:
            pattern = re.compile(spec.regex, re.IGNORECASE)
            yield _Step(
                "regex",
                [r for r in names if pattern.fullmatch(r)],
                what=f"its regex {spec.regex!r}",
            )
        if infer:
            yield _tg263(target, rois, ctx, notes)  # type: ignore[arg-type]
            yield _interpreted_type(target, rois)  # type: ignore[arg-type]

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


# --- steps -----------------------------------------------------------------------------
def _names_step(by: MatchedBy, wanted: list[str], names: tuple[str, ...], what: str) -> _Step:
    """ROIs whose name is one of ``wanted``: exact spellings first, then normalised."""
    keys = {normalize_name(w) for w in wanted}
    hits = [r for r in names if normalize_name(r) in keys]
    detail = ""
    if len(hits) > 1:
        exact = [r for r in hits if r in wanted]
        if len(exact) == 1:
            others = _quoted([r for r in hits if r != exact[0]])
            detail = f"spelled exactly as asked, preferred over {others}"
            hits = exact
    return _Step(by, hits, detail=detail, what=what)


def _same_dose(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-3, abs_tol=0.005)


def _same_rx(a: float, b: float) -> bool:
    """The tolerance of choosing a shipped set by prescription (0.5 %)."""
    return math.isclose(a, b, rel_tol=0.005)


def _gy(x: float) -> str:
    return f"{x:g} Gy"


def _fits(t: TargetName | None, target: tuple[str, str]) -> bool:
    ttype, cls = target
    return t is not None and t.type == ttype and (not cls or t.classifier == cls)


def _target_word(target: tuple[str, str]) -> str:
    return target[0] + target[1]


def _gys(levels: Sequence[float]) -> str:
    return ", ".join(f"{x:g}" for x in levels) + " Gy"


def _plan_levels(ctx: NamingContext) -> list[float]:
    """The RTPLAN's distinct dose levels (Gy), ascending; doses within
    :func:`_same_dose` count once."""
    doses = [*ctx.plan_dose_levels_gy]
    if ctx.plan_prescription_gy is not None:
        doses.append(ctx.plan_prescription_gy)
    out: list[float] = []
    for x in sorted(doses):
        if not out or not _same_dose(out[-1], x):
            out.append(x)
    return out


def _lower_relative(target: tuple[str, str], rois: tuple[RoiInfo, ...]) -> list[str]:
    """ROIs named as targets of the type at a relative level below ``_High``
    (``_Mid…``, ``_Low``): any classifier, ``PTV!`` for ``PTV``, ``z``-prefixed ones
    included, since each shows that the plan has several dose levels."""
    base = target[0].rstrip("!")
    out = []
    for r in rois:
        t = parse_target_name(r.name)
        if (
            t is not None
            and t.type.rstrip("!") == base
            and t.level is not None
            and t.level.relative in ("Mid", "Low")
        ):
            out.append(r.name)
    return out


def _plan_reference(
    spec: StructureSpec,
    target: tuple[str, str],
    rois: tuple[RoiInfo, ...],
    ctx: NamingContext,
    warnings: list[str],
) -> _Step:
    refs = ctx.target_references
    rx = ctx.prescription_gy
    step = _Step("plan-reference", [], what="the RTPLAN's dose reference at the prescription")
    if not refs:
        return step
    if rx is not None:
        chosen = [
            r for r in refs if r.prescription_gy is not None and _same_dose(r.prescription_gy, rx)
        ]
        if not chosen and len(refs) == 1 and refs[0].prescription_gy is None:
            chosen = list(refs)
    else:
        chosen = list(refs) if len(refs) == 1 else []
    by_number = {r.number: r for r in rois if r.number is not None}
    word = _target_word(target)
    for ref in chosen:
        roi = by_number.get(ref.roi_number)
        if roi is None:
            warnings.append(
                f"the RTPLAN's dose reference names ROI number {ref.roi_number}, which the "
                "structure set does not have; the RTPLAN may belong to another structure set"
            )
            continue
        typed = roi.interpreted_type.upper()
        if _fits(parse_target_name(roi.name), target) or (not target[1] and typed == target[0]):
            step.hits.append(roi.name)
        else:
            warnings.append(
                f"the RTPLAN prescribes to ROI {roi.name!r} (RTROIInterpretedType "
                f"{typed or 'not given'}), which is neither named nor typed as a {word}; it "
                f"was not taken as structure {spec.name!r}"
            )
    if len(chosen) == 1 and chosen[0].prescription_gy is None:
        step.detail = "the RTPLAN's only dose reference names this ROI, without a dose"
        if len(step.hits) == 1 and rx is not None:
            return _undosed_reference(step, target, rois, rx)
    else:
        doses = {_gy(r.prescription_gy) for r in chosen if r.prescription_gy is not None}
        dose = f" {doses.pop()}" if len(doses) == 1 else ""
        step.detail = f"the RTPLAN's dose reference{dose} names this ROI"
    step.detail += " (ReferencedROINumber)"
    return step


def _undosed_reference(
    step: _Step, target: tuple[str, str], rois: tuple[RoiInfo, ...], rx: float
) -> _Step:
    """Check a dose reference without TargetPrescriptionDose against the ROI names.

    It decides only when nothing contradicts it: no other ROI named as the target at
    the prescription's dose level, and no certain level of its own ROI's name other
    than the prescription. Otherwise the ROIs are ambiguous, or (its own name alone
    contradicting it) the structure is not found.
    """
    word = _target_word(target)
    referenced = step.hits[0]
    own = parse_target_name(referenced)
    level = own.level if own is not None else None
    other_level = (
        level is not None
        and level.dose_gy is not None
        and level.certain
        and not _same_dose(level.dose_gy, rx)
    )
    rivals = []
    for r in rois:
        t = parse_target_name(r.name)
        if (
            r.name != referenced
            and _fits(t, target)
            and not t.not_for_evaluation  # type: ignore[union-attr]
            and r.interpreted_type.upper() not in POINT_TYPES
            and t.level is not None  # type: ignore[union-attr]
            and t.level.dose_gy is not None  # type: ignore[union-attr]
            and _same_dose(t.level.dose_gy, rx)  # type: ignore[union-attr]
        ):
            rivals.append(r.name)
    said = f"the RTPLAN's only dose reference names {referenced!r}, without a dose" + (
        f", and its name gives {level.describe()}" if other_level else ""  # type: ignore[union-attr]
    )
    if rivals:
        verb = "is" if len(rivals) == 1 else "are"
        step.hits = [referenced, *rivals]
        step.what = (
            f"the {word} at the prescription {_gy(rx)} ({said}; {_quoted(rivals)} {verb} "
            f"named for {_gy(rx)})"
        )
        return step
    if other_level:
        step.hits = []
        step.stop = (
            f"{said}, not the prescription {_gy(rx)}; the dose reference was not taken as the "
            f"{word} at {_gy(rx)}: check the prescription, or name the ROI with --map"
        )
    step.detail += " (ReferencedROINumber)"
    return step


def _tg263(
    target: tuple[str, str], rois: tuple[RoiInfo, ...], ctx: NamingContext, notes: list[str]
) -> _Step:
    word = _target_word(target)
    pool: list[TargetName] = []
    for r in rois:
        t = parse_target_name(r.name)
        if (
            _fits(t, target)
            and not t.not_for_evaluation
            and r.interpreted_type.upper() not in POINT_TYPES
        ):  # type: ignore[union-attr]
            pool.append(t)  # type: ignore[arg-type]
    step = _Step("tg263", [])
    if not pool:
        return step
    rx = ctx.prescription_gy

    def decide(members: list[TargetName], detail: str, where: str) -> _Step:
        if len(members) > 1 or members[0].is_standard:
            what = f"its target type {word} {where}"
            return _Step("tg263", [t.name for t in members], detail=detail, what=what)
        t = members[0]
        return _Step(
            "tg263",
            [],
            stop=(
                f"the only ROI named as a {word} {where}, {t.name!r}, is not a standard "
                f"TG-263 name (unrecognised {t.tail!r}); name it with --map or in the site "
                "alias file if it is the one"
            ),
        )

    if rx is not None:
        at_rx = [
            t
            for t in pool
            if t.level and t.level.dose_gy is not None and _same_dose(t.level.dose_gy, rx)
        ]
        if at_rx:
            return decide(
                at_rx,
                f"TG-263 dose level {at_rx[0].level.describe()} = the prescription",  # type: ignore[union-attr]
                f"at the prescription dose level {_gy(rx)}",
            )
        high = [t for t in pool if t.level and t.level.relative == "High"]
        higher = [
            t.name
            for t in pool
            if t.level and t.level.dose_gy is not None and t.level.certain and t.level.dose_gy > rx
        ]
        plan_max = ctx.plan_prescription_gy
        is_highest = plan_max is not None and _same_dose(plan_max, rx) and not higher
        levels = _plan_levels(ctx)
        lower = _lower_relative(target, rois)
        if high and is_highest and (len(levels) > 1 or not lower):
            why = (
                f"the highest of the RTPLAN's dose levels {_gys(levels)}"
                if len(levels) > 1
                else "the RTPLAN's highest, and no ROI is named for a lower relative level"
            )
            return decide(
                high,
                f"TG-263 level _High, and the prescription {_gy(rx)} is {why}",
                "at level _High",
            )
        if high and is_highest:
            # Several relative levels named, one dose level recorded: the RTPLAN may
            # hold only the lower level's prescription (PTV_High + PTV_Low, 50.4 Gy).
            why = (
                f"the RTPLAN records only the dose level {_gy(rx)}, so it does not say "
                f"whether that is the _High level or the lower level of {_quoted(lower)}"
            )
            both = [t.name for t in pool if t in high or t.name in lower]
            if len(both) > 1:
                return _Step("tg263", both, what=f"its target type {word} ({why})")
            return _Step(
                "tg263",
                [],
                stop=(
                    f"{_quoted([t.name for t in high])} not taken as the {word} at {_gy(rx)}: "
                    f"{why}; name the ROI with --map or in the site alias file"
                ),
            )
        if high:
            why = (
                f"{_quoted(higher)} named for a higher dose"
                if higher
                else "no RTPLAN dose reference says the prescription is the highest level"
                if plan_max is None
                else f"the RTPLAN's highest level is {_gy(plan_max)}, not {_gy(rx)}"
            )
            notes.append(
                f"{_quoted([t.name for t in high])} not taken as the {word} at {_gy(rx)}: {why}"
            )
    if len(pool) > 1:
        return _Step(
            "tg263",
            [t.name for t in pool],
            what=(
                f"its target type {word} (none has the dose level {_gy(rx)} of the prescription)"
                if rx is not None
                else f"its target type {word} (no prescription to choose a dose level)"
            ),
        )
    t = pool[0]
    if not t.is_standard:
        notes.append(f"{t.name!r} is not a standard TG-263 name (unrecognised {t.tail!r})")
        return step
    level = t.level
    if level is not None and level.relative == "High":
        lower = _lower_relative(target, rois)
        levels = _plan_levels(ctx)
        told = (
            rx is not None
            and len(levels) > 1
            and ctx.plan_prescription_gy is not None
            and _same_dose(ctx.plan_prescription_gy, rx)
        )
        if lower and not told:
            notes.append(
                f"the only {word}, {t.name!r}, is named for level _High, and "
                f"{_quoted(lower)} for a lower level; the RTPLAN does not record several "
                "dose levels with the prescription the highest, so which level is the "
                "prescription's is not known"
            )
            return step
    if level is None or level.relative == "High":
        return _Step("tg263", [t.name], detail=f"the only ROI named as a {word}")
    if level.relative is not None:
        notes.append(f"the only {word}, {t.name!r}, is named for level _{level.text}")
    elif rx is None:
        notes.append(
            f"the only {word}, {t.name!r}, is named for {level.describe()} and there is no "
            "prescription to compare"
        )
    else:
        notes.append(
            f"the only {word}, {t.name!r}, is named for {level.describe()}, not the "
            f"prescription {_gy(rx)}"
        )
    return step


def _interpreted_type(target: tuple[str, str], rois: tuple[RoiInfo, ...]) -> _Step:
    ttype, cls = target
    step = _Step("interpreted-type", [], what=f"RTROIInterpretedType {ttype}")
    if cls or ttype not in TARGET_INTERPRETED_TYPES:
        return step
    if any(
        _fits(t, target) and not t.not_for_evaluation  # type: ignore[union-attr]
        for t in (parse_target_name(r.name) for r in rois)
    ):
        return step  # a ROI is named as the target: its name ruled (step 7), not its type
    for r in rois:
        t = parse_target_name(r.name)
        if r.interpreted_type.upper() == ttype and not (t is not None and t.not_for_evaluation):
            step.hits.append(r.name)
    step.detail = f"the only ROI of RTROIInterpretedType {ttype}"
    return step


def _cross_check(spec: StructureSpec, target: tuple[str, str] | None, roi: RoiInfo) -> list[str]:
    """A warning when the ROI's RTROIInterpretedType contradicts what it was matched as."""
    typed = roi.interpreted_type.upper()
    if not typed:
        return []
    if target is not None:
        if target[0] in TARGET_INTERPRETED_TYPES and typed != target[0]:
            return [
                f"ROI {roi.name!r} was matched as {spec.name!r} ({_target_word(target)}) but "
                f"its RTROIInterpretedType is {typed}; check the structure set"
            ]
        return []
    if typed in TARGET_INTERPRETED_TYPES and parse_target_name(spec.name) is None:
        return [
            f"ROI {roi.name!r} was matched as {spec.name!r} but its RTROIInterpretedType is "
            f"{typed}, a target; check the structure set"
        ]
    return []


# --- messages --------------------------------------------------------------------------
def _quoted(items: Sequence[str]) -> str:
    q = [repr(s) for s in items]
    return q[0] if len(q) == 1 else ", ".join(q[:-1]) + " and " + q[-1]


def _ambiguous(spec: StructureSpec, step: _Step, hits: list[str]) -> str:
    verb = "both match" if len(hits) == 2 else "all match"
    if len(set(hits)) < len(hits):
        rois = f"{len(hits)} ROIs named {_quoted(sorted(set(hits)))}"
    else:
        rois = f"ROIs {_quoted(hits)}"
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
        at = f" at the prescription {_gy(rx)}" if rx is not None else ""
        head += f", and no ROI is the {spec.target}{at} by RTPLAN reference, TG-263 name or type"
    for n in notes:
        head += f"; {n}"
    close = _closest(spec, roi_names, ctx)
    if close:
        head += f"; did you mean {' or '.join(repr(c) for c in close)}?"
    return f"{head}; {present}"
