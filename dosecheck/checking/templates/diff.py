"""Two constraint sets side by side (``dosecheck constraints diff A B``).

Constraints are compared per structure (names compared ignoring case, spaces, ``_``
and ``-``) and metric, doses in Gy (``V3000cGy[cc]`` is ``V30Gy[cc]``; ``Max[cGy] <=
6500`` is ``Max[Gy] <= 65``) and per direction (an upper and a lower limit on one
metric are two constraints). A pair differs in its limit (comparator or number,
including % of prescription against an absolute dose), in its variation limit (one set
without one counts as different) or in its priority.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any, Final, Literal

from dosecheck.checking.matching import normalize_name
from dosecheck.checking.model import Constraint, ConstraintSet
from dosecheck.metrics import Metric, format_number

__all__ = ["KINDS", "DiffRow", "diff_sets"]

Kind = Literal["only_a", "only_b", "limit", "variation", "priority"]
KINDS: Final = ("only_a", "only_b", "limit", "variation", "priority")


@dataclass(frozen=True)
class DiffRow:
    """One difference: ``kind`` is ``only_a``, ``only_b``, ``limit``, ``variation`` or
    ``priority``;
    ``a``/``b`` the constraint as it is in each set (empty where absent)."""

    structure: str
    metric: str
    kind: Kind
    a: str
    b: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return asdict(self)


def _gy(metric: Metric, limit: float, percent_rx: bool) -> tuple[Metric, float]:
    number, unit, out = metric.number, metric.number_unit, metric.output_unit
    if unit == "cGy":
        assert number is not None
        number, unit = float(Decimal(repr(number)).scaleb(-2)), "Gy"
    if out == "cGy":
        out = "Gy"
        if not percent_rx:
            limit = float(Decimal(repr(limit)).scaleb(-2))
    return Metric(metric.kind, number, unit, out), limit


_Entry = tuple[str, str, str, str]


def _entries(cset: ConstraintSet) -> dict[tuple[str, str, bool], _Entry]:
    """``(structure key, metric, upper) -> (structure name, limit text, priority,
    variation text)``."""
    out: dict[tuple[str, str, bool], _Entry] = {}
    for s, c in cset.constraints:
        pct = "%" if c.limit_unit_is_percent_rx else ""
        metric, limit = _gy(c.metric, c.limit, c.limit_unit_is_percent_rx)
        text = f"{c.comparator} {format_number(limit)}{pct}"
        variation = ""
        if c.variation is not None:
            variation = format_number(_gy(c.metric, c.variation, c.limit_unit_is_percent_rx)[1])
            variation += pct
        key = (normalize_name(s.name), str(metric), c.is_upper_limit)
        out.setdefault(key, (s.name, text, c.priority, variation))
    return out


def _show(name: str, metric: str, text: str, priority: str, variation: str = "") -> str:
    return (
        f"{metric} {text}"
        + (f" (variation {variation})" if variation else "")
        + (" (optimal)" if priority == "optimal" else "")
    )


def diff_sets(a: ConstraintSet, b: ConstraintSet) -> list[DiffRow]:
    """Every difference between ``a`` and ``b``, in ``a``'s order then ``b``'s."""
    ea, eb = _entries(a), _entries(b)
    rows: list[DiffRow] = []
    for key, (name, text, prio, var) in ea.items():
        metric = key[1]
        if key not in eb:
            rows.append(DiffRow(name, metric, "only_a", _show(name, metric, text, prio, var), ""))
            continue
        _, text_b, prio_b, var_b = eb[key]
        sa, sb = _show(name, metric, text, prio, var), _show(name, metric, text_b, prio_b, var_b)
        if text != text_b:
            rows.append(DiffRow(name, metric, "limit", sa, sb))
        if var != var_b:
            rows.append(DiffRow(name, metric, "variation", sa, sb))
        if prio != prio_b:
            rows.append(DiffRow(name, metric, "priority", sa, sb))
    for key, (name, text, prio, var) in eb.items():
        if key not in ea:
            rows.append(DiffRow(name, key[1], "only_b", "", _show(name, key[1], text, prio, var)))
    return rows


def constraint_key(s_name: str, c: Constraint) -> tuple[str, str, bool]:
    """The key two constraints are paired by."""
    metric, _ = _gy(c.metric, c.limit, c.limit_unit_is_percent_rx)
    return normalize_name(s_name), str(metric), c.is_upper_limit
