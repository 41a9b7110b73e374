"""Borderline verdicts: a constraint's value across end-cap conventions (and the TPS).

A verdict that ignores its own uncertainty is a coin toss near the limit. For every
evaluated constraint :func:`value_ranges` gives the value under each end-cap convention
dosecheck can compute cheaply (half-slice and none come from one engine pass, see
:class:`~dosecheck.checking.dvh_cache.DVHCache`), under ``shape`` where it could matter
(a value within twice the half-slice–none spread of its limit, or within 1 % of it, and
SciPy installed), and on the TPS's own DVH when ``--compare-tps`` found one. When the
limit lies inside that range the result is *borderline*: its status is unchanged, and
one sentence says why.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from dosecheck.checking.model import COMPARATORS, ConstraintResult, ConstraintSet, Status
from dosecheck.core.dvh import DVH

__all__ = ["ValueRange", "value_ranges"]

#: The conventions, in the order a range names them.
CONVENTIONS = ("half-slice", "none", "shape")


@dataclass(frozen=True)
class ValueRange:
    """A constraint's value under each source, and whether its limit lies inside.

    Attributes
    ----------
    values
        ``{source: value}``: an end-cap convention, or ``"tps"`` for the TPS's DVH.
    low, high
        The smallest and largest of them.
    borderline
        Whether the limit lies inside ``[low, high]`` (and the range is not a point).
    reason
        The sentence, e.g. ``V45Gy = 298.6 cc, limit 300 cc; 296.1–303.4 cc across
        end-cap conventions (…)``; ``""`` when not borderline.
    note
        Why a range is missing or partial (e.g. SciPy absent for ``shape``).
    """

    values: dict[str, float] = field(default_factory=dict)
    low: float | None = None
    high: float | None = None
    borderline: bool = False
    reason: str = ""
    note: str = ""

    def to_dict(self) -> dict[str, object]:
        """``value_range``, ``values_by_source``, ``borderline``, ``borderline_reason``."""
        return {
            "value_range": None if self.low is None else [self.low, self.high],
            "values_by_source": dict(self.values),
            "borderline": self.borderline,
            "borderline_reason": self.reason or (self.note if not self.values else ""),
        }


def _passes(value: float, comparator: str, limit: float | None) -> bool:
    """Whether ``value`` meets ``comparator limit`` (``True`` without a limit)."""
    return limit is None or COMPARATORS[comparator](value, limit)


def _digits_apart(values: list[float], start: int = 4, most: int = 12) -> int:
    """Significant digits enough to print distinct values distinctly."""
    distinct = {float(v) for v in values}
    for digits in range(start, most + 1):
        if len({f"{v:.{digits}g}" for v in distinct}) == len(distinct):
            return digits
    return most


def _shape_available() -> bool:
    try:
        from dosecheck.core.structures import require_shape

        require_shape()
    except Exception:  # MissingExtraError: SciPy not installed
        return False
    return True


def value_ranges(
    cset: ConstraintSet,
    results: Sequence[ConstraintResult],
    *,
    convention: str,
    in_convention: Callable[[str, str], DVH],
    alternates: dict[str, dict[str, DVH]],
    evaluate: Callable[[Callable[[str], DVH]], list[ConstraintResult]],
    tps_values: Sequence[float | None] = (),
    with_shape: bool = False,
) -> list[ValueRange]:
    """The value range of each result (same order as ``results``).

    Parameters
    ----------
    cset, results
        The constraint set and the check's results (in ``convention``).
    convention
        The end-cap convention of ``results``.
    in_convention
        ``(roi, convention) -> DVH`` (computes ``shape`` on request).
    alternates
        The DVHs already computed in other conventions, by ROI.
    evaluate
        Evaluates the set on a ``roi -> DVH`` source, returning results in the order of
        ``results`` (the check's own matching, prescription and fractions).
    tps_values
        The value of each result on the TPS's DVH (``None`` where there is none).
    with_shape
        Also compute ``shape`` for the ROIs near a limit (``--shape-range``): a pass of
        its own (about 3× the half-slice pass), so not by default. When the check itself
        uses ``shape``, half-slice and none are computed for the range in any case.
    """
    rois = {r.roi for r in results if r.roi is not None}
    evaluated = [
        r.value is not None
        and r.status in (Status.PASS, Status.FAIL, Status.VARIATION)
        and r.evaluated_on == "physical"
        for r in results
    ]
    by_source: dict[str, list[ConstraintResult]] = {}
    others = [c for c in CONVENTIONS if c != convention]
    cheap = [c for c in others if all(c in alternates.get(roi, {}) for roi in rois)]
    if convention == "shape":  # the range needs the slab conventions: one pass for both
        cheap = [c for c in others]
        for c in cheap:
            by_source[c] = evaluate(lambda roi, c=c: in_convention(roi, c))
    for c in cheap:
        if c not in by_source:
            by_source[c] = evaluate(lambda roi, c=c: alternates[roi][c])
    # `shape` (a pass of its own) only for ROIs whose constraints are near their limit.
    note = ""
    if "shape" in others and not with_shape:
        shape_rois: set[str] = set()
    elif "shape" in others:
        near: set[str] = set()
        for i, r in enumerate(results):
            if not evaluated[i] or r.limit is None:
                continue
            spread = max(
                (
                    abs(by_source[c][i].value - r.value)
                    for c in cheap
                    if by_source[c][i].value is not None
                ),
                default=0.0,
            )
            if abs(r.value - r.limit) <= max(2 * spread, 0.01 * abs(r.limit)):
                near.add(r.roi)  # type: ignore[arg-type]
                if r.body_roi is not None:  # an index: its isodose volume too
                    near.add(r.body_roi)
        if near and _shape_available():
            by_source["shape"] = evaluate(
                lambda roi: (
                    in_convention(roi, "shape") if roi in near else in_convention(roi, convention)
                )
            )
            shape_rois = near
        else:
            shape_rois = set()
            if near:
                note = "end caps 'shape' not evaluated: SciPy is not installed (dosecheck[shape])"
    else:
        shape_rois = set(rois)
    out: list[ValueRange] = []
    for i, r in enumerate(results):
        if not evaluated[i]:
            why = "not evaluated" if r.value is None else "evaluated on an EQD2 sum"
            out.append(
                ValueRange(note=why if r.evaluated_on != "physical" or r.value is None else "")
            )
            continue
        values = {convention: float(r.value)}  # type: ignore[arg-type]
        for c, alt in by_source.items():
            if c == "shape" and r.roi not in shape_rois:
                continue
            v = alt[i].value
            if v is not None and math.isfinite(v):
                values[c] = float(v)
        tps = tps_values[i] if i < len(tps_values) else None
        if tps is not None and math.isfinite(tps):
            values["tps"] = float(tps)
        ordered = {k: values[k] for k in (*CONVENTIONS, "tps") if k in values}
        caps = [v for k, v in ordered.items() if k != "tps"]
        # The range is dosecheck's (its conventions); the TPS's value stays its own.
        low, high = min(caps), max(caps)
        limit = r.limit
        passes = {k: _passes(v, r.comparator, limit) for k, v in ordered.items()}
        borderline = limit is not None and len(set(passes.values())) > 1
        reason = ""
        if borderline:
            assert limit is not None
            digits = _digits_apart([r.value, limit, *ordered.values()])  # type: ignore[list-item]

            def g(x: float, digits: int = digits) -> str:
                return f"{x:.{digits}g}"

            parts = ", ".join(
                f"{'TPS DVH' if k == 'tps' else k} {g(v)}" for k, v in ordered.items()
            )
            by_caps = len({passes[k] for k in ordered if k != "tps"}) > 1
            why = (
                "how the structure's ends are modelled"
                if by_caps
                else "which engine computes the DVH (dosecheck's conventions agree)"
            )
            unit = f" {r.unit}"
            across = "end-cap conventions" + (" and the TPS's DVH" if "tps" in ordered else "")
            reason = (
                f"{r.metric} = {g(r.value)}{unit}, limit {r.comparator} {g(limit)}{unit}; "  # type: ignore[arg-type]
                f"{g(min(ordered.values()))}–{g(max(ordered.values()))}{unit} across {across} "
                f"({parts}): the verdict depends on {why}"
            )
        out.append(
            ValueRange(
                values=ordered,
                low=low,
                high=high,
                borderline=borderline,
                reason=reason,
                note=note if r.roi in (rois - shape_rois) and note else "",
            )
        )
    return out
