"""A constraint's dose converted to the plan's fractionation (EQD2, the set's fractions).

See :mod:`dosecheck.checking.fractionation` for the conversions themselves and
:mod:`dosecheck.checking.evaluate` for where they apply.
"""

from __future__ import annotations

from dataclasses import dataclass

from dosecheck.checking.fractionation import to_physical
from dosecheck.checking.model import Constraint
from dosecheck.errors import MetricDomainError
from dosecheck.metrics import Metric, format_number

__all__ = ["Conversion", "as_basis", "convert", "limit_of"]


@dataclass(frozen=True)
class Conversion:
    """A constraint's dose converted to the plan's fractionation."""

    fractions: int  # the plan's
    physical_gy: float  # the physical dose equivalent to the dose as written
    metric: Metric  # the metric to evaluate: V/CV at the physical dose, else as written
    limit: float | None  # the physical limit (metric unit) of a dose metric, else None


def convert(c: Constraint, fractions: int | None) -> Conversion | None:
    """``None`` for a physical constraint.

    Raises
    ------
    MetricDomainError
        When the constraint must be converted but the number of fractions is unknown.
    """
    if not c.is_converted:
        return None
    if fractions is None:
        raise MetricDomainError(
            f"{c.metric.label} is given {as_basis(c)} and must be converted to the plan's "
            "fractionation, but the number of fractions is unknown; pass --fractions or use "
            "a plan with an RTPLAN"
        )
    written = c.dose_as_written_gy
    assert written is not None  # the loader and Constraint refuse the rest
    physical = to_physical(written, c.dose_basis, fractions, c.alpha_beta, c.basis_fractions)
    m = c.metric
    if m.kind in ("V", "CV"):
        number = physical * 100.0 if m.number_unit == "cGy" else physical
        metric = Metric(m.kind, number, m.number_unit, m.output_unit)
        return Conversion(fractions, physical, metric, None)
    limit = physical * 100.0 if m.output_unit == "cGy" else physical
    return Conversion(fractions, physical, m, limit)


def as_basis(c: Constraint) -> str:
    """``"as EQD2 (α/β 3 Gy)"``, ``"for 28 fractions (α/β 3 Gy)"``."""
    ab = f"α/β {format_number(c.alpha_beta or 0)} Gy"
    if c.dose_basis == "eqd2":
        return f"as EQD2 ({ab})"
    return f"for {c.basis_fractions} fractions ({ab})"


def limit_of(c: Constraint, rx: float | None, conv: Conversion | None) -> float:
    if conv is not None and conv.limit is not None:
        return conv.limit
    return c.limit_in_metric_unit(rx)
