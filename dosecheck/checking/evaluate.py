"""Evaluate a constraint set on a plan's DVHs.

The caller supplies the ROI names of the plan and either a mapping ``roi -> DVH`` or a
callable ``get_dvh(roi_name) -> DVH``; with a callable, DVHs are computed only for the
ROIs that a structure of the set matches, each at most once.

Prescription used for "% of prescription": the ``prescription_gy`` argument when
given (``--prescription`` or the RTPLAN), otherwise the constraint set's own. When both
are known and differ, :func:`resolve_prescription` returns a warning, which is also
attached to every result that depends on the prescription.

Fractionation: a constraint with ``dose_basis`` ``eqd2`` or ``set_fractions`` has its
dose (the dose of ``V``/``CV``, the limit of a dose metric) converted to the physical
dose in the plan's number of fractions (the ``fractions`` argument, otherwise the
set's); the DVH itself is never converted. Without a number of fractions such a
constraint is ``not_evaluated``.

Plan sums: with ``eqd2_dvhs`` (a plan sum whose parts have their own fractionations) a
converted constraint is evaluated on the DVH of the voxel-wise EQD2 sum of the parts
instead (:func:`dosecheck.core.eqd2.eqd2_sum`), against its dose as EQD2 (a
``set_fractions`` dose is converted to EQD2 at equal BED); its result says
``evaluated_on: eqd2_sum``.

Plan-quality indices: ``CI``, ``CN`` and ``GI`` also need the DVH of the body
(external) ROI, found once per evaluation (:mod:`dosecheck.checking.body`); without one
(or with two candidates) they are ``not_evaluated`` with the reason of a structure not
found (ambiguous), naming what was looked for. The body may extend beyond the dose
grid: its isodose volume then counts the body inside the grid, and the result says so;
when the index's isodose also reaches a face of the grid the body crosses, the isodose
volume is cut and the index is ``not_evaluated`` (``metric_undefined``).

Dose grid: when more than :func:`outside_grid_tolerance_cc` of a structure lies
outside the dose grid (where the dose is unknown), every constraint of that structure,
``Volume[cc]`` included, is ``not_evaluated`` (reason ``outside_dose_grid``).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable, Mapping, Sequence

from dosecheck.checking.body import (
    BodyDVH,
    body_dvh,
    body_for_target,
    require_isodose_in_grid,
)
from dosecheck.checking.conversion import Conversion, convert, limit_of
from dosecheck.checking.fractionation import eqd2
from dosecheck.checking.matching import MatchResult, NamingContext, match_structure
from dosecheck.checking.messages import fmt, index_detail, message, short_label
from dosecheck.checking.model import (
    Constraint,
    ConstraintResult,
    ConstraintSet,
    Reason,
    Status,
    StructureSpec,
    Verdict,
)
from dosecheck.core.dvh import DVH
from dosecheck.errors import MetricDomainError
from dosecheck.metrics import Metric, format_number

__all__ = [
    "DVHSource",
    "evaluate_constraints",
    "outside_grid_message",
    "outside_grid_tolerance_cc",
    "resolve_prescription",
    "verdict",
]

#: Where DVHs come from: a mapping or a function of the ROI name.
DVHSource = Mapping[str, DVH] | Callable[[str], DVH]


def resolve_prescription(
    cset: ConstraintSet, prescription_gy: float | None
) -> tuple[float | None, list[str]]:
    """The prescription dose to use and any warning about it.

    Parameters
    ----------
    cset
        The constraint set (its ``prescription_gy`` is the fallback).
    prescription_gy
        The plan's prescription (CLI option or RTPLAN), or ``None``.

    Returns
    -------
    tuple
        ``(prescription_gy or cset.prescription_gy, warnings)``.
    """
    if prescription_gy is None:
        return cset.prescription_gy, []
    warnings: list[str] = []
    if cset.prescription_gy is not None and not math.isclose(
        prescription_gy, cset.prescription_gy, rel_tol=1e-6, abs_tol=1e-6
    ):
        warnings.append(
            f"the plan's prescription ({fmt(prescription_gy)} Gy) differs from the one "
            f"the constraint set {cset.name!r} was written for ({fmt(cset.prescription_gy)} "
            f"Gy); percentages of prescription use {fmt(prescription_gy)} Gy"
        )
    return prescription_gy, warnings


def evaluate_constraints(
    cset: ConstraintSet,
    dvhs: DVHSource,
    roi_names: Sequence[str],
    prescription_gy: float | None,
    *,
    strict: bool = False,
    fractions: int | None = None,
    naming: NamingContext | None = None,
    eqd2_dvhs: Callable[[str, float], DVH] | None = None,
    grid_edge_max_gy: Callable[[str], float | None] | None = None,
) -> list[ConstraintResult]:
    """Check every constraint of ``cset``.

    Parameters
    ----------
    cset
        The constraint set.
    dvhs
        ``roi_name -> DVH`` mapping, or a callable computing the DVH of a ROI; called
        once per matched ROI and never for unmatched ones. Its exceptions propagate.
    roi_names
        ROI names of the plan, as written.
    prescription_gy
        The plan's prescription dose (Gy), or ``None`` to use the set's.
    strict
        Turn every ``not_evaluated`` (structure missing or ambiguous, metric
        undefined, structure outside the dose grid) into ``fail``.
    fractions
        The plan's number of fractions, or ``None`` to use the set's; constraints
        given as EQD2 or for the set's fractions are converted to it.
    naming
        What matching may use beyond ``roi_names`` (ROI numbers and
        RTROIInterpretedType, the RTPLAN's dose references, the site alias file,
        ``--map``); see :mod:`dosecheck.checking.matching`. Its ``prescription_gy`` is
        replaced by the prescription used here. Without it the names alone are used.
    eqd2_dvhs
        For a plan sum: ``(roi, α/β) -> DVH`` of the voxel-wise EQD2 sum of the parts;
        converted constraints are then evaluated on it (see the module docstring).
    grid_edge_max_gy
        ``roi -> `` the highest dose on the dose grid's faces that ROI reaches
        (:func:`dosecheck.core.plan_quality.grid_edge_max_gy`): when the body extends
        beyond the grid, an index whose isodose reaches the grid's edge is
        ``not_evaluated``. ``None``: not checked.

    Returns
    -------
    list of ConstraintResult
        One per constraint, in file order.
    """
    get_dvh: Callable[[str], DVH] = dvhs.__getitem__ if isinstance(dvhs, Mapping) else dvhs
    if fractions is not None and (isinstance(fractions, bool) or fractions < 1):
        raise ValueError(f"the number of fractions must be at least 1, not {fractions!r}")
    rx, rx_warnings = resolve_prescription(cset, prescription_gy)
    n = fractions if fractions is not None else cset.fractions
    cache: dict[str, DVH] = {}
    results: list[ConstraintResult] = []
    ctx = dataclasses.replace(
        naming or NamingContext(), prescription_gy=rx, set_prescription_gy=cset.prescription_gy
    )
    body: BodyDVH | None = None
    for spec in cset.structures:
        match = match_structure(spec, roi_names, ctx)
        if match.roi is None:
            reason: Reason = (
                "structure_ambiguous" if match.status == "ambiguous" else "structure_not_found"
            )
            results.extend(
                _not_evaluated(spec, c, match, None, n, reason, match.message, strict)
                for c in spec.constraints
            )
            continue
        if match.roi not in cache:
            cache[match.roi] = get_dvh(match.roi)
        dvh = cache[match.roi]
        outside = outside_grid_message(spec.name, dvh)
        if outside is not None:
            results.extend(
                _not_evaluated(
                    spec, c, match, rx, n, "outside_dose_grid", outside, strict, _dvh_warnings(dvh)
                )
                for c in spec.constraints
            )
            continue
        for c in spec.constraints:
            if eqd2_dvhs is not None and c.is_converted and c.alpha_beta is not None:
                on_sum = eqd2_dvhs(match.roi, c.alpha_beta)
                results.append(_evaluate_on_eqd2_sum(spec, c, match, on_sum, rx, n, strict))
                continue
            if not c.metric.needs_body:
                results.append(_evaluate_one(spec, c, match, dvh, rx, n, rx_warnings, strict))
                continue
            if body is None:
                body = body_dvh(
                    cset, roi_names, ctx, get_dvh, cache, outside_grid_message, grid_edge_max_gy
                )
            if body.dvh is None:
                why = f"{c.metric.label} needs the body (external) ROI: {body.match.message}"
                reason = "structure_ambiguous" if body.match.status == "ambiguous" else None
                results.append(
                    _not_evaluated(
                        spec, c, match, rx, n, reason or "structure_not_found", why, strict
                    )
                )
                continue
            for_target = body_for_target(body, ctx, match.roi)
            results.append(
                _evaluate_one(spec, c, match, dvh, rx, n, rx_warnings, strict, body=for_target)
            )
    return results


def verdict(results: Iterable[ConstraintResult], strict: bool = False) -> Verdict:
    """``"fail"`` if any mandatory constraint failed, else ``"incomplete"`` if any
    mandatory constraint is ``not_evaluated``, else ``"pass"``.

    Only "every mandatory constraint evaluated and passed (or within its variation
    limit)" is ``"pass"``. Optimal misses do not fail the plan; ``strict=True`` in
    :func:`evaluate_constraints` turns ``not_evaluated`` results into failures, and
    ``strict=True`` here makes a mandatory ``variation`` fail the plan.
    """
    mandatory = [r for r in results if r.priority == "mandatory"]
    if any(r.is_mandatory_failure for r in mandatory):
        return Verdict.FAIL
    if strict and any(r.is_mandatory_variation for r in mandatory):
        return Verdict.FAIL
    if any(r.status is Status.NOT_EVALUATED for r in mandatory):
        return Verdict.INCOMPLETE
    return Verdict.PASS


def outside_grid_tolerance_cc(dvh: DVH) -> float:
    """The volume outside the dose grid tolerated: 0.1 cc or 0.5 % of the structure,
    whichever is larger."""
    return max(0.1, 0.005 * (dvh.volume_cc + dvh.outside_grid_cc))


def outside_grid_message(structure: str, dvh: DVH) -> str | None:
    """Why ``structure`` cannot be evaluated on ``dvh`` because too much of it lies
    outside the dose grid, or ``None`` when it can."""
    outside = dvh.outside_grid_cc
    if not outside > outside_grid_tolerance_cc(dvh):
        return None
    total = dvh.volume_cc + outside
    pct = 100.0 * outside / total if total > 0 else 100.0
    if dvh.volume_cc > 0:
        where = f"{fmt(outside, 1)} cc ({fmt(pct, 1)} %)"
    else:
        where = f"all {fmt(outside, 1)} cc"
    return (
        f"{structure}: {where} of the structure lies outside the dose grid, where the dose "
        "is unknown; extend the dose grid or check the plan"
    )


# --- one constraint --------------------------------------------------------------------
def _dvh_warnings(dvh: DVH) -> tuple[str, ...]:
    """The DVH's own caveats (the engine reports volume outside the dose grid there)."""
    return tuple(dvh.warnings)


def _result(
    spec: StructureSpec,
    c: Constraint,
    match: MatchResult,
    *,
    value: float | None,
    limit: float | None,
    status: Status,
    message: str,
    rx: float | None,
    reason: Reason | None = None,
    warnings: tuple[str, ...] = (),
    conv: Conversion | None = None,
    body_roi: str | None = None,
) -> ConstraintResult:
    return ConstraintResult(
        structure=spec.name,
        roi=match.roi,
        metric=str(c.metric),
        value=value,
        unit=c.metric.output_unit,
        comparator=c.comparator,
        limit=limit,
        status=status,
        message=message,
        priority=c.priority,
        constraint=c.text,
        reason=reason,
        matched_by=match.matched_by,
        match_detail=match.detail,
        line=c.line,
        note=c.note,
        reference=c.reference,
        prescription_gy=rx if c.needs_prescription else None,
        warnings=tuple(dict.fromkeys((*match.warnings, *warnings))),
        dose_basis=c.dose_basis,
        alpha_beta=c.alpha_beta,
        plan_fractions=None if conv is None else conv.fractions,
        converted_dose_gy=None if conv is None else conv.physical_gy,
        variation_limit=_variation_of(c, rx),
        body_roi=body_roi,
    )


def _variation_of(c: Constraint, rx: float | None) -> float | None:
    try:
        return c.variation_in_metric_unit(rx)
    except MetricDomainError:
        return None


def _status(c: Constraint, value: float, ok: bool, rx: float | None) -> Status:
    """``pass`` when the goal holds, ``variation`` when only the variation limit holds."""
    if ok:
        return Status.PASS
    v = _variation_of(c, rx)
    return Status.VARIATION if v is not None and c.holds(value, v) else Status.FAIL


def _variation_note(c: Constraint, value: float, rx: float | None) -> str:
    """``"; within the variation limit 55 cc"`` (or ``"; beyond ..."``), or ``""``."""
    v = _variation_of(c, rx)
    if v is None:
        return ""
    word = "within" if c.holds(value, v) else "beyond"
    return f"; {word} the variation limit {fmt(v)} {c.metric.output_unit}"


def _not_evaluated(
    spec: StructureSpec,
    c: Constraint,
    match: MatchResult,
    rx: float | None,
    fractions: int | None,
    reason: Reason,
    message: str,
    strict: bool,
    warnings: tuple[str, ...] = (),
) -> ConstraintResult:
    limit: float | None
    conv: Conversion | None = None
    try:
        conv = convert(c, fractions)
    except MetricDomainError:  # unknown fractions: only a dose limit is then unknown
        pass
    try:
        if c.is_converted and conv is None and c.metric.gives_dose:
            limit = None
        else:
            limit = limit_of(c, rx, conv)
    except MetricDomainError:
        limit = None
    return _result(
        spec,
        c,
        match,
        value=None,
        limit=limit,
        status=Status.FAIL if strict else Status.NOT_EVALUATED,
        message=message + (" (fails in strict mode)" if strict else ""),
        rx=rx,
        reason=reason,
        warnings=warnings,
        conv=conv,
    )


def _evaluate_one(
    spec: StructureSpec,
    c: Constraint,
    match: MatchResult,
    dvh: DVH,
    rx: float | None,
    fractions: int | None,
    rx_warnings: list[str],
    strict: bool,
    body: BodyDVH | None = None,
) -> ConstraintResult:
    warnings = _dvh_warnings(dvh)
    body_dvh = body.dvh if body is not None else None
    body_roi = body.match.roi if body is not None else None
    if body is not None:
        warnings += body.warnings
    if c.needs_prescription:
        warnings += tuple(rx_warnings)
    try:
        conv = convert(c, fractions)
        metric = c.metric if conv is None else conv.metric
        if body is not None:
            require_isodose_in_grid(body, metric, rx)
        value = metric.evaluate(dvh, rx, body=body_dvh).value
        limit = limit_of(c, rx, conv)
        if not math.isfinite(value):
            raise MetricDomainError(f"{c.metric.label} is undefined on {match.roi!r}")
    except MetricDomainError as e:
        return dataclasses.replace(
            _not_evaluated(
                spec, c, match, rx, fractions, "metric_undefined", str(e), strict, warnings
            ),
            body_roi=body_roi,
        )
    ok = c.holds(value, limit)
    text = message(c, dvh, value, limit, ok, rx, conv) + (
        "" if ok else _variation_note(c, value, rx)
    )
    if c.metric.is_index:
        text += f"; {index_detail(c.metric, dvh, rx, body_dvh)}"
    return _result(
        spec,
        c,
        match,
        value=value,
        limit=limit,
        status=_status(c, value, ok, rx),
        message=text,
        rx=rx,
        warnings=warnings,
        conv=conv,
        body_roi=body_roi,
    )


def _evaluate_on_eqd2_sum(
    spec: StructureSpec,
    c: Constraint,
    match: MatchResult,
    dvh: DVH,
    rx: float | None,
    fractions: int | None,
    strict: bool,
) -> ConstraintResult:
    """A converted constraint on the DVH of a plan sum's voxel-wise EQD2: its dose as
    EQD2 (``set_fractions``: the EQD2 of the dose in the set's fractions) read directly
    on that DVH."""
    written = c.dose_as_written_gy
    assert written is not None and c.alpha_beta is not None  # converted constraints have both
    ab = c.alpha_beta
    if c.dose_basis == "set_fractions":
        assert c.basis_fractions is not None
        target = eqd2(written, c.basis_fractions, ab)
    else:
        target = written
    m = c.metric
    ab_text = f"α/β {format_number(ab)} Gy"
    if m.kind in ("V", "CV"):
        number = target * 100.0 if m.number_unit == "cGy" else target
        metric = Metric(m.kind, number, m.number_unit, m.output_unit)
        view = Constraint(metric, c.comparator, c.limit, priority=c.priority)
        basis = f"{c.metric.label} ({c.basis_text}) = {short_label(metric)} EQD2"
    else:
        metric = m
        limit_eqd2 = target * 100.0 if m.output_unit == "cGy" else target
        view = Constraint(metric, c.comparator, limit_eqd2, priority=c.priority)
        basis = f"limit {format_number(c.limit)} {m.output_unit} ({c.basis_text})"
        if c.dose_basis == "set_fractions":
            basis += f" = {fmt(limit_eqd2)} {m.output_unit} EQD2"
    head = f"{basis} on the voxel-wise EQD2 sum of the plans ({ab_text})"
    warnings = _dvh_warnings(dvh)
    try:
        value = metric.evaluate(dvh, rx).value
        limit = view.limit
        if not math.isfinite(value):
            raise MetricDomainError(f"{c.metric.label} is undefined on {match.roi!r}")
    except MetricDomainError as e:
        return dataclasses.replace(
            _not_evaluated(
                spec, c, match, rx, None, "metric_undefined", f"{head}: {e}", strict, warnings
            ),
            plan_fractions=fractions,
            evaluated_on="eqd2_sum",
        )
    ok = view.holds(value, limit)
    return dataclasses.replace(
        _result(
            spec,
            c,
            match,
            value=value,
            limit=limit,
            status=_status(c, value, ok, rx),
            message=f"{head}: {message(view, dvh, value, limit, ok, rx)}"
            + ("" if ok else _variation_note(c, value, rx)),
            rx=rx,
            warnings=warnings,
        ),
        plan_fractions=fractions,
        evaluated_on="eqd2_sum",
    )
