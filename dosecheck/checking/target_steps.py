"""The matching steps that infer a target ROI: RTPLAN dose reference, TG-263 name, type.

Steps 3, 7 and 8 of :mod:`dosecheck.checking.matching` (its docstring states the
rules); each returns a :class:`~dosecheck.checking.roi_naming.Step` with the ROIs it
found.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

from dosecheck.checking.model import StructureSpec
from dosecheck.tg263 import TargetName, parse_target_name

if TYPE_CHECKING:
    pass

from dosecheck.checking.roi_naming import (
    POINT_TYPES,
    TARGET_INTERPRETED_TYPES,
    NamingContext,
    RoiInfo,
    Step,
    gy_text,
    quoted,
)

__all__ = ["interpreted_type_step", "plan_reference_step", "target_word", "tg263_step"]


def _same_dose(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-3, abs_tol=0.005)


def _fits(t: TargetName | None, target: tuple[str, str]) -> bool:
    ttype, cls = target
    return t is not None and t.type == ttype and (not cls or t.classifier == cls)


def target_word(target: tuple[str, str]) -> str:
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


def plan_reference_step(
    spec: StructureSpec,
    target: tuple[str, str],
    rois: tuple[RoiInfo, ...],
    ctx: NamingContext,
    warnings: list[str],
) -> Step:
    refs = ctx.target_references
    rx = ctx.prescription_gy
    step = Step("plan-reference", [], what="the RTPLAN's dose reference at the prescription")
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
    word = target_word(target)
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
        doses = {gy_text(r.prescription_gy) for r in chosen if r.prescription_gy is not None}
        dose = f" {doses.pop()}" if len(doses) == 1 else ""
        step.detail = f"the RTPLAN's dose reference{dose} names this ROI"
    step.detail += " (ReferencedROINumber)"
    return step


def _undosed_reference(
    step: Step, target: tuple[str, str], rois: tuple[RoiInfo, ...], rx: float
) -> Step:
    """Check a dose reference without TargetPrescriptionDose against the ROI names.

    It decides only when nothing contradicts it: no other ROI named as the target at
    the prescription's dose level, and no certain level of its own ROI's name other
    than the prescription. Otherwise the ROIs are ambiguous, or (its own name alone
    contradicting it) the structure is not found.
    """
    word = target_word(target)
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
            f"the {word} at the prescription {gy_text(rx)} ({said}; {quoted(rivals)} {verb} "
            f"named for {gy_text(rx)})"
        )
        return step
    if other_level:
        step.hits = []
        step.stop = (
            f"{said}, not the prescription {gy_text(rx)}; the dose reference was not taken as the "
            f"{word} at {gy_text(rx)}: check the prescription, or name the ROI with --map"
        )
    step.detail += " (ReferencedROINumber)"
    return step


def tg263_step(
    target: tuple[str, str], rois: tuple[RoiInfo, ...], ctx: NamingContext, notes: list[str]
) -> Step:
    word = target_word(target)
    pool: list[TargetName] = []
    for r in rois:
        t = parse_target_name(r.name)
        if (
            _fits(t, target)
            and not t.not_for_evaluation
            and r.interpreted_type.upper() not in POINT_TYPES
        ):  # type: ignore[union-attr]
            pool.append(t)  # type: ignore[arg-type]
    step = Step("tg263", [])
    if not pool:
        return step
    rx = ctx.prescription_gy

    def decide(members: list[TargetName], detail: str, where: str) -> Step:
        if len(members) > 1 or members[0].is_standard:
            what = f"its target type {word} {where}"
            return Step("tg263", [t.name for t in members], detail=detail, what=what)
        t = members[0]
        return Step(
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
                f"at the prescription dose level {gy_text(rx)}",
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
                f"TG-263 level _High, and the prescription {gy_text(rx)} is {why}",
                "at level _High",
            )
        if high and is_highest:
            # Several relative levels named, one dose level recorded: the RTPLAN may
            # hold only the lower level's prescription (PTV_High + PTV_Low, 50.4 Gy).
            why = (
                f"the RTPLAN records only the dose level {gy_text(rx)}, so it does not say "
                f"whether that is the _High level or the lower level of {quoted(lower)}"
            )
            both = [t.name for t in pool if t in high or t.name in lower]
            if len(both) > 1:
                return Step("tg263", both, what=f"its target type {word} ({why})")
            return Step(
                "tg263",
                [],
                stop=(
                    f"{quoted([t.name for t in high])} not taken as the {word} at {gy_text(rx)}: "
                    f"{why}; name the ROI with --map or in the site alias file"
                ),
            )
        if high:
            why = (
                f"{quoted(higher)} named for a higher dose"
                if higher
                else "no RTPLAN dose reference says the prescription is the highest level"
                if plan_max is None
                else f"the RTPLAN's highest level is {gy_text(plan_max)}, not {gy_text(rx)}"
            )
            notes.append(
                f"{quoted([t.name for t in high])} not taken as the {word} at {gy_text(rx)}: {why}"
            )
    if len(pool) > 1:
        return Step(
            "tg263",
            [t.name for t in pool],
            what=(
                f"its target type {word} (none has the dose level {gy_text(rx)} "
                "of the prescription)"
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
                f"{quoted(lower)} for a lower level; the RTPLAN does not record several "
                "dose levels with the prescription the highest, so which level is the "
                "prescription's is not known"
            )
            return step
    if level is None or level.relative == "High":
        return Step("tg263", [t.name], detail=f"the only ROI named as a {word}")
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
            f"prescription {gy_text(rx)}"
        )
    return step


def interpreted_type_step(target: tuple[str, str], rois: tuple[RoiInfo, ...]) -> Step:
    ttype, cls = target
    step = Step("interpreted-type", [], what=f"RTROIInterpretedType {ttype}")
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
