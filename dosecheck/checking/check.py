"""The dosimetrist's check: one plan against one constraint set, with everything needed
to report it.

:func:`check_plan` decides the prescription (command line, then RTPLAN, then the
constraint set, recording which), warns loudly when the RTPLAN and the constraint set
disagree about it, computes the DVH of each ROI the set refers to (and of no other),
evaluates every constraint and returns a :class:`CheckReport`, which the renderers in
:mod:`dosecheck.output.check_formats` turn into a table, JSON, CSV, JUnit or Markdown.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dosecheck.checking.check_report import (
    CheckReport,
    Prescription,
    PrescriptionSource,
    file_sha256,
    result_margin,
)
from dosecheck.checking.dvh_cache import DVHCache
from dosecheck.checking.evaluate import evaluate_constraints, resolve_prescription, verdict
from dosecheck.checking.matching import NamingContext, RoiInfo, closest_names, normalize_name
from dosecheck.checking.model import (
    ConstraintSet,
)
from dosecheck.checking.plan_record import FileHashes, plan_identity
from dosecheck.checking.sets import (
    PRESCRIPTION_REL_TOL,
    describe_prescription,
    resolve_constraint_set,
)
from dosecheck.errors import DicomInputError, InputError
from dosecheck.metrics import format_number

if TYPE_CHECKING:
    from collections.abc import Mapping

    from dosecheck.checking.site_names import SiteNames
    from dosecheck.checking.tps_check import TpsValue
    from dosecheck.core.engine import EngineSettings
    from dosecheck.model import Plan

__all__ = ["CheckReport", "Prescription", "check_plan", "file_sha256", "result_margin"]


# --- prescription ----------------------------------------------------------------------
def _same_dose(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=PRESCRIPTION_REL_TOL)


def _resolve_prescription(
    plan: Plan, cset: ConstraintSet, prescription_gy: float | None, fractions: int | None
) -> tuple[Prescription, list[str]]:
    """The prescription to use (command line → RTPLAN → set) and warnings about it."""
    info = plan.plan_info
    plan_gy = info.prescription_gy if info else None
    plan_fx = info.fractions if info else None
    set_gy, set_fx = cset.prescription_gy, cset.fractions

    def pick(cli: Any, rtplan: Any, from_set: Any) -> tuple[Any, PrescriptionSource]:
        if cli is not None:
            return cli, "command line"
        if rtplan is not None:
            return rtplan, "RTPLAN"
        if from_set is not None:
            return from_set, "constraint set"
        return None, "none"

    dose, dose_source = pick(prescription_gy, plan_gy, set_gy)
    fx, fx_source = pick(fractions, plan_fx, set_fx)
    rx = Prescription(dose, fx, dose_source, fx_source)

    warnings: list[str] = []
    set_text = describe_prescription(set_gy, set_fx)
    # The RTPLAN against the set: the wrong protocol is the mistake this catches.
    if set_gy is not None or set_fx is not None:
        dose_differs = (
            plan_gy is not None and set_gy is not None and not _same_dose(plan_gy, set_gy)
        )
        fx_differs = plan_fx is not None and set_fx is not None and plan_fx != set_fx
        if dose_differs or fx_differs:
            warnings.append(
                f"RTPLAN prescribes {describe_prescription(plan_gy, plan_fx)} but constraint "
                f"set {cset.name!r} is for {set_text} — wrong protocol?"
            )
    # The command line against the RTPLAN and the set.
    if prescription_gy is not None or fractions is not None:
        cli_text = describe_prescription(prescription_gy, fractions)
        overridden = []
        if (
            prescription_gy is not None
            and plan_gy is not None
            and not math.isclose(prescription_gy, plan_gy, rel_tol=1e-9)
        ):
            overridden.append(f"dose {format_number(plan_gy)} Gy")
        if fractions is not None and plan_fx is not None and fractions != plan_fx:
            overridden.append(f"{plan_fx} fractions")
        if overridden:
            warnings.append(
                f"the command line ({cli_text}) overrides the RTPLAN's {' and '.join(overridden)}"
            )
        cli_dose_differs = (
            prescription_gy is not None
            and set_gy is not None
            and not _same_dose(prescription_gy, set_gy)
        )
        cli_fx_differs = fractions is not None and set_fx is not None and fractions != set_fx
        if cli_dose_differs or cli_fx_differs:
            warnings.append(
                f"the command line prescribes {cli_text} but constraint set {cset.name!r} "
                f"is for {set_text} — wrong protocol?"
            )
    if dose_source == "constraint set":
        why = "the plan has no RTPLAN" if info is None else "the RTPLAN gives no prescription dose"
        warnings.append(
            f"{why}: using the constraint set's {set_text} for the check; the plan cannot "
            "be confirmed to follow this protocol (give --prescription to state it)"
        )
    elif dose_source == "none" and any(c.needs_prescription for _, c in cset.constraints):
        warnings.append(
            "no prescription dose (no RTPLAN, none in the constraint set, no "
            "--prescription): constraints in % of prescription are not evaluated"
        )
    # EQD2/BED conversions depend on the plan's number of fractions.
    if any(c.is_converted for _, c in cset.constraints):
        if fx is None:
            warnings.append(
                "no number of fractions (none in the RTPLAN or the constraint set, no "
                "--fractions): constraints given as EQD2 are not evaluated"
            )
        elif fx_source == "constraint set":
            why = "the plan has no RTPLAN" if info is None else "the RTPLAN gives no fractions"
            warnings.append(
                f"{why}: EQD2/BED conversions assume the constraint set's {fx} fractions "
                "(give --fractions to state the plan's)"
            )
    return rx, warnings


def _verify_scale_with_set_prescription(plan: Plan, rx: Prescription) -> Plan:
    """When nothing in the files could verify the dose scale and the check takes its
    prescription from the constraint set, verify the scale against that prescription
    (the plan is then assumed to follow the set's protocol, which the warnings say).

    Returns the plan with the new ``dose_scale`` record (a copy; the input is not
    changed), or the plan as it is when there is nothing to do.

    Raises
    ------
    DicomInputError
        The dose contradicts the set's prescription by a factor near the fraction count
        or near 100 (unless ``--dose-is`` stated what the file holds).
    """
    import numpy as np

    from dosecheck.core.dose_scale import verify_dose_scale

    replace = dataclasses.replace
    old = plan.dose_scale
    if old is None or old.verdict != "not_verified" or rx.source != "constraint set":
        return plan
    if rx.dose_gy is None or plan.plan_sum is not None:
        return plan
    n = rx.fractions if old.fractions is None else old.fractions
    grid = plan.dose
    if old.basis == "fraction" and old.fractions:
        # the loader multiplied the file by the fraction count: compare the file
        grid = replace(grid, dose_gy=grid.dose_gy / np.float32(old.fractions))
    check = verify_dose_scale(
        grid,
        plan.plan_info,
        plan.structure_set.structures,
        basis=old.basis,
        fractions=n,
        basis_source=old.basis_source,
        prescription_gy=rx.dose_gy,
    )
    if check.verdict == "not_verified":
        return plan
    where = "; the prescription is the constraint set's (the files give none)"
    check = replace(check, detail=check.detail + where)
    if check.is_contradiction and old.basis_source == "label":
        raise DicomInputError(
            f"{check.message} (the prescription {format_number(rx.dose_gy)} Gy is the "
            "constraint set's: give --prescription if the plan's is another)",
            path=grid.sources[0] if grid.sources else None,
            tag=check.tag,
        )
    warnings = [w for w in plan.warnings if w != old.message]
    if check.verdict != "consistent":
        warnings.append(check.message + where)
    return replace(plan, dose_scale=check, warnings=warnings)


def _plan_sum_rules(plan: Plan, cset: ConstraintSet) -> tuple[list[str], bool]:
    """For a plan sum: the prominent warnings (what was summed, why, where a part
    contributes 0 Gy) and whether converted constraints are evaluated on the
    voxel-wise EQD2 sum (whenever the set has any and the sum has several parts)."""
    plan_sum = plan.plan_sum
    if plan_sum is None:
        return [], False
    warnings = [w for w in plan.warnings if w.startswith("plan sum")]
    if plan_sum.note:
        warnings.insert(0, plan_sum.note)
    converted = any(c.is_converted for _, c in cset.constraints)
    on_sum = converted and len(plan_sum.parts) > 1
    if on_sum:
        warnings.append(
            "plan sum: constraints given as EQD2 or for the set's fractions are evaluated "
            "on the voxel-wise EQD2 sum of the plans (linear-quadratic model, each plan in "
            "its own equal fractions, no time factor), not by converting the limit with "
            "the total number of fractions"
        )
    return warnings, on_sum


def _unique(items: Sequence[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


# --- the check ---------------------------------------------------------------------------
def check_plan(
    plan: Plan,
    constraint_set: ConstraintSet | str | Path,
    *,
    prescription_gy: float | None = None,
    fractions: int | None = None,
    strict: bool = False,
    settings: EngineSettings | None = None,
    site_names: SiteNames | None = None,
    roi_map: Mapping[str, str] | None = None,
    compare_tps: bool = False,
    end_caps: str | None = None,
    shape_range: bool = False,
) -> CheckReport:
    """Check ``plan`` against ``constraint_set``.

    Parameters
    ----------
    plan
        The loaded plan (:func:`dosecheck.dicom.load.load_plan`).
    constraint_set
        A loaded set, the path of a YAML file, or the name of a shipped set.
    prescription_gy
        Prescription dose (Gy) from the command line; overrides the RTPLAN's, which
        overrides the constraint set's. Used for limits and metrics in % of
        prescription.
    fractions
        Number of fractions from the command line (same precedence). Constraints
        given as EQD2 or for the set's fractions are converted to this number.
    strict
        Fail constraints that cannot be evaluated (structure missing or ambiguous,
        metric undefined) instead of reporting them as not evaluated.
    settings
        DVH engine settings (defaults to the engine's).
    site_names
        The clinic's alias file (:func:`dosecheck.checking.site_names.load_site_names`).
    roi_map
        ``--map``: constraint-set structure → ROI name, deciding before anything else.
    compare_tps
        Also evaluate every constraint on the planning system's DVH of its ROI
        (DVHSequence) and compare the DVHs (:mod:`dosecheck.checking.tps_check`).
    end_caps
        End-cap convention (``"half-slice"``, ``"none"``, ``"shape"``); overrides the
        constraint set's ``end_caps``, which overrides ``settings.end_caps``.
    shape_range
        Add the ``shape`` convention to the borderline ranges of ROIs near a limit
        (:func:`dosecheck.checking.borderline.value_ranges`; needs SciPy; costly).

    Returns
    -------
    CheckReport

    Raises
    ------
    InputError
        For a bad constraint set, a prescription that is not a positive number, or a
        ``roi_map`` naming a structure the set does not have or a ROI the plan does not
        have.
    DicomInputError
        With ``strict``: the plan's BEAM doses do not add up to its PLAN dose.

    Examples
    --------
    A shipped set by name, on a sample plan whose bowel bag gets too much dose (from
    the repository root):

    >>> from dosecheck.api import check_plan, load_plan
    >>> plan = load_plan("sample_plans/long_course_bowel_fail")
    >>> report = check_plan(plan, "rectum-long-course")
    >>> report.verdict
    <Verdict.FAIL: 'fail'>
    >>> for r in report.results:
    ...     print(r.roi, r.constraint, r.status.value, round(r.value, 1))
    BowelBag V30Gy[cc] < 600 pass 555.1
    BowelBag V45Gy[cc] < 300 fail 341.4
    PTV_5040 V95%[%] >= 95 pass 98.6
    PTV_5040 D2%[%] <= 107 pass 100.9
    """
    if prescription_gy is not None and not (math.isfinite(prescription_gy) and prescription_gy > 0):
        raise InputError(f"the prescription must be a positive dose in Gy, not {prescription_gy}")
    if fractions is not None and fractions < 1:
        raise InputError(f"the number of fractions must be at least 1, not {fractions}")
    hashes = FileHashes(plan)  # joined when the report records them
    beams = plan.beam_dose_check
    if strict and beams is not None and not beams.consistent:
        # An input contradiction (the export's doses disagree), not a constraint result.
        raise DicomInputError(
            f"{beams.describe()}; --strict refuses a plan whose doses contradict each "
            "other: export the plan again, or pass the dose to trust with --rtdose",
            path=beams.plan_dose,
            tag="PixelData",
        )
    cset = (
        constraint_set
        if isinstance(constraint_set, ConstraintSet)
        else resolve_constraint_set(constraint_set)
    )
    rx, rx_warnings = _resolve_prescription(plan, cset, prescription_gy, fractions)
    plan = _verify_scale_with_set_prescription(plan, rx)
    roi_map = dict(roi_map or {})
    _check_roi_map(roi_map, cset, plan.structure_set.names)
    info = plan.plan_info
    naming = NamingContext(
        rois=tuple(
            RoiInfo(s.name, s.number, s.interpreted_type) for s in plan.structure_set.structures
        ),
        prescription_gy=rx.dose_gy,
        plan_prescription_gy=info.prescription_gy if info is not None else None,
        target_references=getattr(info, "target_references", ()) if info is not None else (),
        plan_dose_levels_gy=getattr(info, "prescription_levels_gy", ()) if info is not None else (),
        site_names=site_names.names if site_names is not None else {},
        command_line=roi_map,
    )
    from dosecheck.core.end_caps import EndCaps
    from dosecheck.core.engine import EngineSettings

    caps = end_caps or cset.end_caps
    if caps is not None:
        settings = dataclasses.replace(settings or EngineSettings(), end_caps=EndCaps(caps))
    used_caps = EndCaps(settings.end_caps if settings is not None else EngineSettings.end_caps)
    if used_caps is EndCaps.SHAPE:
        from dosecheck.core.structures import require_shape

        require_shape()
    cache = DVHCache(plan, settings)
    sum_warnings, on_eqd2_sum = _plan_sum_rules(plan, cset)
    rx_warnings = [*sum_warnings, *rx_warnings]
    results = evaluate_constraints(
        cset,
        cache,
        plan.structure_set.names,
        rx.dose_gy,
        strict=strict,
        fractions=rx.fractions,
        naming=naming,
        eqd2_dvhs=cache.eqd2 if on_eqd2_sum else None,
        grid_edge_max_gy=cache.grid_edge_max_gy,
    )
    dvhs = tuple(cache.items.values())
    tps: tuple[tuple[TpsValue, ...], tuple[str, ...], tuple[str, ...]] = ((), (), ())
    if compare_tps:
        from dosecheck.checking.tps_check import tps_values

        items, values, notes, differences = tps_values(
            plan,
            cset,
            dvhs,
            results,
            prescription_gy=rx.dose_gy,
            fractions=rx.fractions,
            naming=naming,
            end_caps=cache.convention,
            settings=cache.settings,
        )
        dvhs = tuple(items)
        tps = (tuple(values), tuple(notes), tuple(differences))
        rx_warnings = [*differences, *rx_warnings]
    from dosecheck.checking.borderline import value_ranges

    ranges = value_ranges(
        cset,
        results,
        convention=cache.convention,
        in_convention=cache.in_convention,
        alternates=cache.alternates,
        evaluate=lambda source: evaluate_constraints(
            cset,
            source,
            plan.structure_set.names,
            rx.dose_gy,
            fractions=rx.fractions,
            naming=naming,
        ),
        tps_values=[t.value for t in tps[0]],
        with_shape=shape_range,
    )
    borderline = [v.reason for v in ranges if v.borderline]
    dvh_warnings = [w for item in dvhs for w in item.dvh.warnings]
    # Results also carry the evaluator's prescription note (shown per result only) and
    # the DVH warnings; what is left are the matching cross-checks.
    not_matching = {*resolve_prescription(cset, rx.dose_gy)[1], *dvh_warnings}
    match_warnings = [w for r in results for w in r.warnings if w not in not_matching]
    warnings = _unique(
        [
            *sum_warnings,  # a plan sum first: it changes what is checked
            *plan.warnings,
            *rx_warnings,
            *dvh_warnings,
            *match_warnings,
            *(f"borderline: {b}" for b in borderline),
            *dict.fromkeys(v.note for v in ranges if v.note and v.values),
        ]
    )
    return CheckReport(
        constraint_set=cset,
        results=tuple(results),
        constraints=tuple(c for _, c in cset.constraints),
        verdict=verdict(results, strict),
        prescription=rx,
        warnings=warnings,
        dvhs=dvhs,
        plan=plan_identity(plan, hashes),
        prescription_warnings=tuple(rx_warnings),
        strict=strict,
        naming={
            "site_names": site_names.to_dict() if site_names is not None else None,
            "command_line": roi_map,
        },
        compare_tps=compare_tps,
        tps_values=tps[0],
        tps_notes=tps[1],
        tps_differences=tps[2],
        ranges=tuple(ranges),
        end_caps=used_caps.value,
    )


def _check_roi_map(roi_map: Mapping[str, str], cset: ConstraintSet, roi_names: list[str]) -> None:
    """Refuse a ``--map`` naming a structure the set lacks or a ROI the plan lacks (the
    body, ``--map Body=ROI``, counts as a structure when an index needs it)."""
    import difflib

    from dosecheck.checking.body import body_spec, uses_body

    structures = {normalize_name(s.name): s.name for s in cset.structures}
    if uses_body(cset):
        body = body_spec(cset).name
        structures.setdefault(normalize_name(body), body)
    for structure, roi in roi_map.items():
        if normalize_name(structure) not in structures:
            close = difflib.get_close_matches(structure, list(structures.values()), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise InputError(
                f"--map {structure}={roi}: constraint set {cset.name!r} has no structure "
                f"{structure!r}{hint}; its structures: "
                + ", ".join(repr(s.name) for s in cset.structures)
            )
        if roi in roi_names:
            continue
        alike = [n for n in roi_names if normalize_name(n) == normalize_name(roi)]
        if len(alike) == 1:
            continue
        if alike:
            q = [repr(n) for n in dict.fromkeys(alike)]
            which = q[0] if len(q) == 1 else ", ".join(q[:-1]) + " and " + q[-1]
            raise InputError(
                f"--map {structure}={roi}: --map needs the ROI name exactly as written; "
                f"{roi!r} matches {which} only after normalising (case, spaces, '_' and '-' "
                "ignored); ROIs present: " + ", ".join(repr(n) for n in roi_names)
            )
        close = closest_names([roi], roi_names)
        hint = f" (did you mean {' or '.join(repr(c) for c in close)}?)" if close else ""
        raise InputError(
            f"--map {structure}={roi}: the plan has no ROI {roi!r}{hint}; ROIs present: "
            + ", ".join(repr(n) for n in roi_names)
        )
