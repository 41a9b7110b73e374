"""One constraint entry of a constraint set: its metric, comparator, limit and dose basis.

:mod:`dosecheck.checking.loader` reads the set (top level, structures); each entry of a
structure's ``constraints`` list, in its one-line form (``V45Gy[cc] < 300``, with an
optional ``(variation 320)``) or its mapping form (``{metric: ..., op: ..., limit:
...}``), becomes a :class:`~dosecheck.checking.model.Constraint` here, every problem
reported with its line.
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, NoReturn

from dosecheck._yaml import Reader as _Reader
from dosecheck._yaml import Y as _Y
from dosecheck._yaml import kind as _kind
from dosecheck._yaml import line as _line
from dosecheck._yaml import tag as _tag
from dosecheck.checking.fractionation import DOSE_BASES, describe_basis
from dosecheck.checking.model import (
    COMPARATORS,
    PRIORITIES,
    Constraint,
    fractionation_refusal,
)
from dosecheck.errors import MetricSyntaxError
from dosecheck.metrics import Metric, format_number, parse_metric

if TYPE_CHECKING:
    from ruamel.yaml.nodes import Node

__all__ = [
    "FRACTIONATION_KEYS",
    "SetContext",
    "no_set_fractions",
    "read_alpha_beta",
    "read_constraint",
    "read_dose_basis",
]

#: Keys of a ``fractionation`` mapping (set-wide) and of a constraint's dose basis.
FRACTIONATION_KEYS: Final = ("dose_basis", "alpha_beta")

_CONSTRAINT_KEYS: Final = (
    "metric",
    "comparator",
    "op",
    "limit",
    "priority",
    "note",
    "reference",
)

_CONSTRAINT_KEYS_MORE: Final = (*FRACTIONATION_KEYS, "variation")

#: The one-line form's variation limit: ``V45Gy[cc] < 300 (variation 320)``.
_VARIATION_RE: Final = re.compile(r"\s*\(\s*variation\s*:?\s*(?P<v>[^()]*?)\s*\)\s*$", re.I)

_CONSTRAINT_FORM: Final = (
    "'<metric> <comparator> <limit>', e.g. 'V30Gy[cc] < 600', 'D95%[Gy] >= 47.88' "
    "or 'Max[Gy] <= 107%'"
)

_CONSTRAINT_RE: Final = re.compile(
    r"\s*(?P<metric>[^<>=!≤≥]*?)\s*(?P<op>[<>=!≤≥]+)\s*(?P<limit>[^<>=!≤≥]*?)\s*"
)

_LIMIT_RE: Final = re.compile(
    r"\s*(?P<num>[0-9]+(?:\.[0-9]+)?|\.[0-9]+)\s*(?P<unit>%|cGy|Gy|cc)?\s*", re.ASCII
)


@dataclass(frozen=True)
class SetContext:
    """What a constraint needs to know about its set."""

    prescription_gy: float | None
    fractions: int | None
    dose_basis: str = "physical"  # set-wide default (fractionation: dose_basis)
    alpha_beta: float | None = None  # set-wide default (fractionation: alpha_beta)
    line: int | None = None  # of the fractionation mapping


def read_dose_basis(r: _Reader, node: Node) -> str:
    value = r.text(node, "dose_basis")
    if value in DOSE_BASES:
        return value
    low = value.strip().lower()
    if low in DOSE_BASES:
        hint = f" (did you mean {low!r}? the values are lower case)"
    elif low == "bed":
        hint = (
            " (limits in BED are not supported: give them as EQD2, "
            "EQD2 = BED / (1 + 2 / (α/β)), with dose_basis: eqd2)"
        )
    else:
        close = difflib.get_close_matches(low, DOSE_BASES, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
    r.fail(f"unknown dose_basis {value!r}{hint}; expected physical, eqd2 or set_fractions", node)


def read_alpha_beta(r: _Reader, node: Node) -> float:
    return float(r.number(node, "alpha_beta (α/β in Gy)"))


def no_set_fractions(r: _Reader, where: Node | int) -> NoReturn:
    r.fail(
        "dose_basis set_fractions converts doses from the set's number of fractions, but "
        "the set gives none; add it to the prescription "
        "('prescription: {dose_gy: ..., fractions: ...}')",
        where,
    )


def _basis(
    r: _Reader,
    ctx: SetContext,
    metric: Metric,
    percent_rx: bool,
    text: str,
    line: int,
    m: dict[str, tuple[Node, Node]] | None = None,
) -> tuple[Any, float | None, int | None]:
    """``(dose_basis, alpha_beta, basis_fractions)`` of one constraint: its own
    ``dose_basis``/``alpha_beta`` (mapping form), else the set's defaults."""
    basis_node = m["dose_basis"][1] if m is not None and "dose_basis" in m else None
    ab_node = m["alpha_beta"][1] if m is not None and "alpha_beta" in m else None
    basis = read_dose_basis(r, basis_node) if basis_node is not None else ctx.dose_basis
    ab = read_alpha_beta(r, ab_node) if ab_node is not None else ctx.alpha_beta
    from_set = basis_node is None and basis != "physical"
    if from_set and (
        metric.kind == "Volume" or metric.is_index or metric.needs_prescription or percent_rx
    ):  # relative, a ratio or dose-free: the set's default does not concern it
        basis = "physical"
    if basis == "physical":
        if ab_node is not None:
            r.fail(
                f"alpha_beta has no effect on {text!r}: its dose is physical; add "
                "dose_basis: eqd2 or set_fractions, or remove alpha_beta",
                ab_node,
            )
        return "physical", None, None
    where: Node | int = basis_node if basis_node is not None else line
    default = (
        f" (dose_basis {basis} is the set's default, from fractionation at line {ctx.line})"
        if from_set
        else ""
    )
    refusal = fractionation_refusal(metric, percent_rx, basis)
    if refusal:
        if from_set:
            refusal += " — to override the set's default, write this constraint as a mapping"
        r.fail(f"{text!r}{default}: {refusal}", where)
    if basis == "set_fractions" and ctx.fractions is None:
        no_set_fractions(r, where)
    if ab is None:
        r.fail(
            f"{text!r}{default} has dose_basis {basis} but no alpha_beta; add "
            "alpha_beta: <α/β in Gy> to the constraint or to the set's fractionation",
            where,
        )
    return basis, ab, ctx.fractions if basis == "set_fractions" else None


def read_constraint(r: _Reader, node: Node, what: str, ctx: SetContext) -> Constraint:
    line = _line(node)
    if _kind(node) == "ScalarNode" and _tag(node) == f"{_Y}str":
        return _constraint_string(r, node, what, ctx)
    if _kind(node) != "MappingNode":
        r.fail(
            f"a constraint of {what} must be a string {_CONSTRAINT_FORM} or a mapping with "
            f"keys metric, comparator (or op), limit and optionally priority, note, "
            f"reference; not {r.describe(node)}",
            node,
        )
    m = r.mapping(
        node,
        f"a constraint of {what}",
        _CONSTRAINT_KEYS,
        ("metric", "limit"),
        more=_CONSTRAINT_KEYS_MORE,
    )
    if "comparator" in m and "op" in m:
        r.fail("give either comparator or op, not both", m["op"][0])
    op_entry = m.get("comparator") or m.get("op")
    if op_entry is None:
        r.fail(f"a constraint of {what} is missing the key 'comparator' (or 'op')", node)
    metric_node, op_node, limit_node = m["metric"][1], op_entry[1], m["limit"][1]

    metric = _metric(r, r.text(metric_node, "metric"), metric_node)
    op = _comparator(r, r.text(op_node, "comparator"), op_node)
    if _kind(limit_node) == "ScalarNode" and _tag(limit_node) in (f"{_Y}int", f"{_Y}float"):
        limit_text = str(limit_node.value)
        value = r.scalar(limit_node)
        if not math.isfinite(value) or value < 0:
            r.fail(f"the limit must be a number >= 0, not {limit_node.value}", limit_node)
        limit, percent_rx = float(value), False
    elif _kind(limit_node) == "ScalarNode" and _tag(limit_node) == f"{_Y}str":
        limit_text = limit_node.value
        limit, percent_rx = _limit(r, limit_text, metric, limit_node)
    else:
        r.fail(
            f"the limit must be a number >= 0 (e.g. 600, '45Gy', 107%), not "
            f"{r.describe(limit_node)}",
            limit_node,
        )

    priority = "mandatory"
    if "priority" in m:
        priority = r.text(m["priority"][1], "priority")
        if priority not in PRIORITIES:
            r.fail(f"priority must be 'mandatory' or 'optimal', not {priority!r}", m["priority"][1])
    note = r.text(m["note"][1], "note", allow_empty=True) if "note" in m else ""
    reference = r.text(m["reference"][1], "reference", allow_empty=True) if "reference" in m else ""
    text = f"{metric.text.strip()} {op} {limit_text.strip()}"
    basis = _basis(r, ctx, metric, percent_rx, text, line, m)
    variation = None
    if "variation" in m:
        variation = _variation_node(r, m["variation"][1], metric, percent_rx)
        text += f" (variation {str(m['variation'][1].value).strip()})"
    return _build(
        r,
        metric,
        op,
        limit,
        percent_rx,
        ctx.prescription_gy,
        line,
        text=text,
        priority=priority,
        note=note,
        reference=reference,
        basis=basis,
        variation=variation,
    )


def _variation_node(r: _Reader, node: Node, metric: Metric, percent_rx: bool) -> float:
    """The ``variation:`` of a constraint mapping, in the unit of its limit."""
    if _kind(node) == "ScalarNode" and _tag(node) in (f"{_Y}int", f"{_Y}float"):
        value = r.scalar(node)
        if not math.isfinite(value) or value < 0:
            r.fail(f"the variation limit must be a number >= 0, not {node.value}", node)
        v, v_percent = float(value), False
    elif _kind(node) == "ScalarNode" and _tag(node) == f"{_Y}str":
        v, v_percent = _limit(r, node.value, metric, node)
    else:
        r.fail(
            f"the variation limit must be a number >= 0 in the unit of the limit "
            f"(e.g. 320, '47Gy', 110%), not {r.describe(node)}",
            node,
        )
    _same_unit(r, v_percent, percent_rx, node)
    return v


def _same_unit(r: _Reader, v_percent: bool, percent_rx: bool, node: Node) -> None:
    if v_percent != percent_rx:
        r.fail(
            "the variation limit must be in the unit of the limit ("
            + ("% of prescription" if percent_rx else "not % of prescription")
            + ")",
            node,
        )


def _constraint_string(r: _Reader, node: Node, what: str, ctx: SetContext) -> Constraint:
    s: str = node.value
    vm = _VARIATION_RE.search(s)
    if vm is not None:
        s = s[: vm.start()]
    m = _CONSTRAINT_RE.fullmatch(s)
    if m is None:
        found = re.findall(r"[<>=!≤≥]+", s)
        if not found:
            r.fail(
                f"constraint {s!r} of {what} has no comparator; expected {_CONSTRAINT_FORM}", node
            )
        r.fail(
            f"constraint {s!r} of {what} has more than one comparator "
            f"({', '.join(found)}); expected {_CONSTRAINT_FORM}",
            node,
        )
    if not m["metric"]:
        r.fail(f"constraint {s!r} of {what} has no metric; expected {_CONSTRAINT_FORM}", node)
    if not m["limit"]:
        r.fail(f"constraint {s!r} of {what} has no limit; expected {_CONSTRAINT_FORM}", node)
    metric = _metric(r, m["metric"], node)
    op = _comparator(r, m["op"], node)
    limit, percent_rx = _limit(r, m["limit"], metric, node)
    basis = _basis(r, ctx, metric, percent_rx, s.strip(), _line(node))
    variation = None
    if vm is not None:
        if not vm["v"]:
            r.fail(f"constraint {node.value!r} has an empty (variation ...)", node)
        variation, v_percent = _limit(r, vm["v"], metric, node)
        _same_unit(r, v_percent, percent_rx, node)
    return _build(
        r,
        metric,
        op,
        limit,
        percent_rx,
        ctx.prescription_gy,
        node,
        text=node.value.strip(),
        basis=basis,
        variation=variation,
    )


def _metric(r: _Reader, text: str, node: Node) -> Metric:
    try:
        return parse_metric(text)
    except MetricSyntaxError as e:
        r.fail(e.message, node)


def _comparator(r: _Reader, op: str, node: Node) -> Any:
    op = op.strip()
    if op not in COMPARATORS:
        hint = {
            "=": " (an exact equality is not a constraint)",
            "==": " (an exact equality is not a constraint)",
            "=<": "; did you mean '<='?",
            "=>": "; did you mean '>='?",
            "≤": "; write '<='",
            "≥": "; write '>='",
        }.get(op, "")
        r.fail(f"unknown comparator {op!r}{hint}; expected one of <, <=, >, >=", node)
    return op


def _limit(r: _Reader, text: str, metric: Metric, node: Node) -> tuple[float, bool]:
    """``(limit, limit_unit_is_percent_rx)`` from a limit such as ``600``, ``107%``."""
    m = _LIMIT_RE.fullmatch(text)
    if m is None:
        r.fail(
            f"invalid limit {text.strip()!r} for {metric}: expected a number >= 0, optionally "
            "followed by the metric's unit or, for a dose metric, % of prescription "
            "(e.g. 600, 600cc, 45Gy, 107%)",
            node,
        )
    value = float(m["num"])
    if not math.isfinite(value):
        r.fail(f"the limit {m['num']} is too large", node)
    unit, out = m["unit"], metric.output_unit
    if metric.is_index and unit is not None:
        r.fail(
            f"the limit {text.strip()!r} has a unit but {metric} is a ratio; write the limit "
            "as a plain number (e.g. 0.75 for a conformation number of 75 %)",
            node,
        )
    if unit is None or unit == out:
        return value, False
    if unit == "%" and metric.gives_dose:
        return value, True
    if unit == "%":
        r.fail(
            f"the limit {text.strip()!r} is a percentage but {metric} gives {out}; write "
            f"{metric.label}[%] with a limit in % of the structure volume, or give the limit "
            f"in {out}",
            node,
        )
    r.fail(
        f"the limit {text.strip()!r} is in {unit} but {metric} gives {out}; write the limit "
        f"in {out}" + (" or as % of prescription" if metric.gives_dose else ""),
        node,
    )


def _build(
    r: _Reader,
    metric: Metric,
    op: Any,
    limit: float,
    percent_rx: bool,
    prescription_gy: float | None,
    where: Node | int,
    *,
    text: str,
    priority: Any = "mandatory",
    note: str = "",
    reference: str = "",
    basis: tuple[Any, float | None, int | None] = ("physical", None, None),
    variation: float | None = None,
) -> Constraint:
    line = where if isinstance(where, int) else _line(where)
    dose_basis, alpha_beta, basis_fractions = basis
    if dose_basis != "physical":
        text += f" ({describe_basis(dose_basis, alpha_beta, basis_fractions)})"
    try:
        c = Constraint(
            metric=metric,
            comparator=op,
            limit=limit,
            limit_unit_is_percent_rx=percent_rx,
            priority=priority,
            note=note,
            reference=reference,
            line=line,
            text=text,
            dose_basis=dose_basis,
            alpha_beta=alpha_beta,
            basis_fractions=basis_fractions,
            variation=variation,
        )
    except ValueError as e:  # a variation limit, or a limit no index can reach
        if variation is None and not metric.is_index:
            raise
        r.fail(f"{text!r}: {e}", line)
    if c.needs_prescription and prescription_gy is None:
        uses = _rx_uses(c)
        r.fail(
            f"{text!r} uses {uses} but the constraint set has no prescription; add "
            "'prescription: {dose_gy: ..., fractions: ...}' at the top level",
            line,
        )
    if c.metric.kind == "GI" and prescription_gy is not None:
        low = c.metric.isodose_gy(prescription_gy)
        if low >= prescription_gy:
            r.fail(
                f"{text!r}: the gradient index's low isodose ({format_number(low)} Gy) is not "
                f"below the set's prescription ({format_number(prescription_gy)} Gy); GI is "
                "the volume at a lower isodose over the volume at the prescription",
                line,
            )
    return c


def _rx_uses(c: Constraint) -> str:
    parts = []
    if c.metric.kind == "GI":
        parts.append("the prescription isodose (the gradient index's denominator)")
    elif c.metric.needs_prescription:
        parts.append("a dose in % of prescription")
    if c.limit_unit_is_percent_rx:
        parts.append("a limit in % of prescription")
    return " and ".join(parts)
