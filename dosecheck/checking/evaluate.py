"""Evaluate a constraint set on a plan's DVHs.

The caller supplies the ROI names of the plan and either a mapping ``roi -> DVH`` or a
callable ``get_dvh(roi_name) -> DVH``; with a callable, DVHs are computed only for the
ROIs that a structure of the set matches, each at most once.

Prescription used for "% of prescription": the ``prescription_gy`` argument when
given (``--prescription`` or the RTPLAN), otherwise the constraint set's own. When both
are known and differ, :func:`resolve_prescription` returns a warning, which is also
attached to every result that depends on the prescription.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Literal

from dosecheck.checking.matching import MatchResult, match_structure
from dosecheck.checking.model import (
    Constraint,
    ConstraintResult,
    ConstraintSet,
    Reason,
    Status,
    StructureSpec,
)
from dosecheck.core.dvh import DVH
from dosecheck.errors import MetricDomainError
from dosecheck.metrics import Metric, format_number

__all__ = ["DVHSource", "evaluate_constraints", "resolve_prescription", "verdict"]

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
            f"the plan's prescription ({_fmt(prescription_gy)} Gy) differs from the one "
            f"the constraint set {cset.name!r} was written for ({_fmt(cset.prescription_gy)} "
            f"Gy); percentages of prescription use {_fmt(prescription_gy)} Gy"
        )
    return prescription_gy, warnings


def evaluate_constraints(
    cset: ConstraintSet,
    dvhs: DVHSource,
    roi_names: Sequence[str],
    prescription_gy: float | None,
    *,
    strict: bool = False,
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
        undefined) into ``fail``.

    Returns
    -------
    list of ConstraintResult
        One per constraint, in file order.
    """
    get_dvh: Callable[[str], DVH] = dvhs.__getitem__ if isinstance(dvhs, Mapping) else dvhs
    rx, rx_warnings = resolve_prescription(cset, prescription_gy)
    cache: dict[str, DVH] = {}
    results: list[ConstraintResult] = []
    for spec in cset.structures:
        match = match_structure(spec, roi_names)
        if match.roi is None:
            reason: Reason = (
                "structure_ambiguous" if match.status == "ambiguous" else "structure_not_found"
            )
            results.extend(
                _not_evaluated(spec, c, match, None, reason, match.message, strict)
                for c in spec.constraints
            )
            continue
        if match.roi not in cache:
            cache[match.roi] = get_dvh(match.roi)
        dvh = cache[match.roi]
        for c in spec.constraints:
            results.append(_evaluate_one(spec, c, match, dvh, rx, rx_warnings, strict))
    return results


def verdict(results: Iterable[ConstraintResult]) -> Literal["pass", "fail"]:
    """``"fail"`` if any mandatory constraint failed, else ``"pass"``.

    Optimal misses and ``not_evaluated`` results do not fail the plan (use
    ``strict=True`` in :func:`evaluate_constraints` to make the latter fail).
    """
    return "fail" if any(r.is_mandatory_failure for r in results) else "pass"


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
        line=c.line,
        note=c.note,
        reference=c.reference,
        prescription_gy=rx if c.needs_prescription else None,
        warnings=warnings,
    )


def _not_evaluated(
    spec: StructureSpec,
    c: Constraint,
    match: MatchResult,
    rx: float | None,
    reason: Reason,
    message: str,
    strict: bool,
    warnings: tuple[str, ...] = (),
) -> ConstraintResult:
    limit: float | None
    try:
        limit = c.limit_in_metric_unit(rx)
    except MetricDomainError:
        limit = None
    return _result(
        spec,
        c,
        match,
        value=None,
        limit=limit,
        status="fail" if strict else "not_evaluated",
        message=message + (" (fails in strict mode)" if strict else ""),
        rx=rx,
        reason=reason,
        warnings=warnings,
    )


def _evaluate_one(
    spec: StructureSpec,
    c: Constraint,
    match: MatchResult,
    dvh: DVH,
    rx: float | None,
    rx_warnings: list[str],
    strict: bool,
) -> ConstraintResult:
    warnings = _dvh_warnings(dvh)
    if c.needs_prescription:
        warnings += tuple(rx_warnings)
    try:
        value = c.metric.evaluate(dvh, rx).value
        limit = c.limit_in_metric_unit(rx)
        if not math.isfinite(value):
            raise MetricDomainError(f"{c.metric.label} is undefined on {match.roi!r}")
    except MetricDomainError as e:
        return _not_evaluated(spec, c, match, rx, "metric_undefined", str(e), strict, warnings)
    ok = c.holds(value, limit)
    return _result(
        spec,
        c,
        match,
        value=value,
        limit=limit,
        status="pass" if ok else "fail",
        message=_message(c, dvh, value, limit, ok, rx),
        rx=rx,
        warnings=warnings,
    )


def _message(
    c: Constraint, dvh: DVH, value: float, limit: float, ok: bool, rx: float | None
) -> str:
    """E.g. ``V45Gy = 312.4 cc, limit 300 cc: 12.4 cc over; D300cc = 45.9 Gy``."""
    unit = c.metric.output_unit
    sep = "" if unit == "%" else " "
    if c.limit_unit_is_percent_rx:
        limit_n, places = _fmt(limit), 2
    else:  # as written, and the value at least as precise
        limit_n = format_number(limit)
        places = max(2, len(limit_n.partition(".")[2]))
    limit_s = f"{limit_n}{sep}{unit}"
    if c.limit_unit_is_percent_rx and rx is not None:
        limit_s += f" ({c.limit_text} of {_fmt(rx)} Gy)"
    head = f"{c.metric.label} = {_fmt(value, places)}{sep}{unit}, limit {limit_s}"
    diff = abs(value - limit)
    if ok:
        return f"{head}: {_fmt(diff, places)}{sep}{unit} margin"
    if diff == 0:
        return f"{head}: equal to the limit, which must be {c.comparator} {limit_s}"
    msg = f"{head}: {_fmt(diff, places)}{sep}{unit} {'over' if c.is_upper_limit else 'under'}"
    hint = _dose_at_limit(c.metric, limit, dvh, rx) if c.is_upper_limit else None
    return f"{msg}; {hint}" if hint else msg


def _dose_at_limit(metric: Metric, limit: float, dvh: DVH, rx: float | None) -> str | None:
    """For a failed upper limit on ``V``: the dose the limiting volume now receives."""
    if metric.kind != "V" or metric.number_unit is None:
        return None
    if metric.output_unit == "%" and limit > 100:
        return None
    d = Metric("D", limit, metric.output_unit, metric.number_unit)
    try:
        value = d.evaluate(dvh, rx).value
        s = f"{d.label} = {_fmt(value)}{'%' if d.output_unit == '%' else ' ' + d.output_unit}"
        if d.output_unit == "%":
            s += f" ({_fmt(Metric('D', limit, metric.output_unit, 'Gy').evaluate(dvh).value)} Gy)"
    except MetricDomainError:
        return None
    return s


def _fmt(x: float, places: int = 2) -> str:
    """``x`` to ``places`` decimals, trailing zeros dropped; 3 significant digits below 0.1."""
    if x != 0 and abs(x) < 0.1:
        return format_number(float(f"{x:.3g}"))
    return format_number(round(x, places))
