"""Fractionation conversions with the linear-quadratic model: BED and EQD2.

For a total dose ``D`` (Gy) given in ``n`` equal fractions of ``d = D / n``, with the
tissue's ``α/β`` (Gy)::

    BED  = D · (1 + d / (α/β))
    EQD2 = BED / (1 + 2 / (α/β))          (the dose in 2 Gy fractions with that BED)

The physical total dose in ``n`` fractions that has a given BED solves
``D²/(n·α/β) + D − BED = 0``::

    D = n/2 · (−α/β + sqrt((α/β)² + 4 · BED · (α/β) / n))
      = 2 · BED / (1 + sqrt(1 + 4 · BED / (n · α/β)))      (same value, computed so)

The second form avoids the cancellation of the first when ``BED`` is small.

A constraint set's doses can be on one of three bases (:data:`DOSE_BASES`):
``physical`` (no conversion), ``eqd2`` (EQD2 with the constraint's α/β) or
``set_fractions`` (physical doses for the set's own number of fractions, converted to
the plan's at equal BED). :func:`to_physical` and :func:`from_physical` convert between
a basis and the plan's physical dose. They act on one dose value; applied to DVH
thresholds and dose limits they are exact voxel by voxel because the conversion is
strictly increasing, so it commutes with ``V(d)``, ``D(v)``, ``Max`` and ``Min`` but
not with the mean.

Every function here is pure and raises :class:`ValueError` for a dose < 0, a number of
fractions < 1 or an α/β that is not a positive finite number.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Final, Literal

from dosecheck.metrics import format_number

if TYPE_CHECKING:
    from dosecheck.metrics import Metric

__all__ = [
    "DOSE_BASES",
    "DoseBasis",
    "bed",
    "bed_from_eqd2",
    "describe_basis",
    "eqd2",
    "eqd2_from_bed",
    "equivalent_dose",
    "fractionation_refusal",
    "from_physical",
    "physical_dose_for_bed",
    "physical_dose_for_eqd2",
    "to_physical",
]

DoseBasis = Literal["physical", "eqd2", "set_fractions"]
#: The accepted values of ``dose_basis``.
DOSE_BASES: Final = ("physical", "eqd2", "set_fractions")


def _check(dose_gy: float, fractions: int | None, alpha_beta: float) -> None:
    if not (math.isfinite(alpha_beta) and alpha_beta > 0):
        raise ValueError(f"α/β must be a positive number of Gy, not {alpha_beta!r}")
    if not (math.isfinite(dose_gy) and dose_gy >= 0):
        raise ValueError(f"the dose must be a finite number >= 0, not {dose_gy!r}")
    if fractions is not None and (isinstance(fractions, bool) or fractions < 1):
        raise ValueError(f"the number of fractions must be at least 1, not {fractions!r}")


def bed(total_gy: float, fractions: int, alpha_beta: float) -> float:
    """Biologically effective dose of ``total_gy`` in ``fractions`` equal fractions:
    ``D · (1 + d / (α/β))`` with ``d = D / n``."""
    _check(total_gy, fractions, alpha_beta)
    return total_gy * (1.0 + total_gy / fractions / alpha_beta)


def eqd2_from_bed(bed_gy: float, alpha_beta: float) -> float:
    """The EQD2 with this BED: ``BED / (1 + 2 / (α/β))``."""
    _check(bed_gy, None, alpha_beta)
    return bed_gy / (1.0 + 2.0 / alpha_beta)


def bed_from_eqd2(eqd2_gy: float, alpha_beta: float) -> float:
    """The BED of an EQD2: ``EQD2 · (1 + 2 / (α/β))``."""
    _check(eqd2_gy, None, alpha_beta)
    return eqd2_gy * (1.0 + 2.0 / alpha_beta)


def eqd2(total_gy: float, fractions: int, alpha_beta: float) -> float:
    """Equivalent dose in 2 Gy fractions of ``total_gy`` in ``fractions`` fractions."""
    return eqd2_from_bed(bed(total_gy, fractions, alpha_beta), alpha_beta)


def physical_dose_for_bed(bed_gy: float, fractions: int, alpha_beta: float) -> float:
    """The total dose in ``fractions`` equal fractions whose BED is ``bed_gy``:
    ``n/2 · (−α/β + sqrt((α/β)² + 4 · BED · (α/β) / n))``."""
    _check(bed_gy, fractions, alpha_beta)
    return 2.0 * bed_gy / (1.0 + math.sqrt(1.0 + 4.0 * bed_gy / (fractions * alpha_beta)))


def physical_dose_for_eqd2(eqd2_gy: float, fractions: int, alpha_beta: float) -> float:
    """The total dose in ``fractions`` equal fractions whose EQD2 is ``eqd2_gy``."""
    return physical_dose_for_bed(bed_from_eqd2(eqd2_gy, alpha_beta), fractions, alpha_beta)


def equivalent_dose(
    total_gy: float, from_fractions: int, to_fractions: int, alpha_beta: float
) -> float:
    """The total dose in ``to_fractions`` fractions with the BED of ``total_gy`` in
    ``from_fractions`` fractions."""
    target = bed(total_gy, from_fractions, alpha_beta)
    return physical_dose_for_bed(target, to_fractions, alpha_beta)


def to_physical(
    dose_gy: float,
    basis: DoseBasis,
    plan_fractions: int,
    alpha_beta: float | None = None,
    basis_fractions: int | None = None,
) -> float:
    """A dose written on ``basis`` as the physical total dose in ``plan_fractions``.

    Parameters
    ----------
    dose_gy
        The dose as written (Gy).
    basis
        ``"physical"`` (returned unchanged), ``"eqd2"`` or ``"set_fractions"``.
    plan_fractions
        The plan's number of fractions.
    alpha_beta
        α/β (Gy); required unless ``basis`` is ``"physical"``.
    basis_fractions
        The number of fractions ``dose_gy`` is written for; required for
        ``"set_fractions"``.
    """
    if basis == "physical":
        return dose_gy
    if alpha_beta is None:
        raise ValueError(f"dose basis {basis} needs α/β")
    if basis == "eqd2":
        return physical_dose_for_eqd2(dose_gy, plan_fractions, alpha_beta)
    if basis == "set_fractions":
        if basis_fractions is None:
            raise ValueError("dose basis set_fractions needs the set's number of fractions")
        return equivalent_dose(dose_gy, basis_fractions, plan_fractions, alpha_beta)
    raise ValueError(f"unknown dose basis {basis!r}; expected one of {', '.join(DOSE_BASES)}")


def from_physical(
    physical_gy: float,
    basis: DoseBasis,
    plan_fractions: int,
    alpha_beta: float | None = None,
    basis_fractions: int | None = None,
) -> float:
    """The inverse of :func:`to_physical`: a physical dose in ``plan_fractions`` on
    ``basis``."""
    if basis == "physical":
        return physical_gy
    if alpha_beta is None:
        raise ValueError(f"dose basis {basis} needs α/β")
    if basis == "eqd2":
        return eqd2(physical_gy, plan_fractions, alpha_beta)
    if basis == "set_fractions":
        if basis_fractions is None:
            raise ValueError("dose basis set_fractions needs the set's number of fractions")
        return equivalent_dose(physical_gy, plan_fractions, basis_fractions, alpha_beta)
    raise ValueError(f"unknown dose basis {basis!r}; expected one of {', '.join(DOSE_BASES)}")


def describe_basis(
    basis: DoseBasis, alpha_beta: float | None = None, basis_fractions: int | None = None
) -> str:
    """For messages: ``"physical"``, ``"EQD2, α/β 3 Gy"``, ``"in 28 fx, α/β 3 Gy"``."""
    if basis == "physical":
        return "physical"
    ab = "" if alpha_beta is None else f", α/β {format_number(alpha_beta)} Gy"
    if basis == "eqd2":
        return f"EQD2{ab}"
    return f"in {basis_fractions} fx{ab}"


def fractionation_refusal(metric: Metric, limit_percent_rx: bool, basis: str) -> str | None:
    """Why ``dose_basis`` ``basis`` (eqd2 or set_fractions) cannot apply to this
    constraint, or ``None`` when it can."""
    what = f"dose_basis {basis}"
    if metric.is_index:
        return (
            f"{what} cannot apply to {metric}: a plan-quality index is a ratio of the "
            "physical dose distribution; give it with dose_basis: physical"
        )
    if metric.kind == "Mean":
        return (
            f"{what} cannot apply to {metric}: the mean of the converted dose over the "
            "structure is not the conversion of the mean dose (EQD2 and BED are nonlinear "
            "in the dose), so a mean-dose limit cannot be converted; give it as a physical "
            "dose (dose_basis: physical)"
        )
    if metric.kind == "Volume":
        return f"{what} cannot apply to {metric}: it has no dose to convert"
    if metric.needs_prescription or limit_percent_rx:
        return (
            f"{what} cannot apply to a dose in % of prescription ({metric}"
            + (" with a limit in %" if limit_percent_rx else "")
            + "): it is already relative to the prescription; give the dose in Gy or cGy, "
            "or use dose_basis: physical"
        )
    return None
