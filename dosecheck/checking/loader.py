"""Load a constraint set from YAML, checking everything and reporting file and line.

Format::

    name: Rectum long course 50.4 Gy in 28 fractions
    prescription: {dose_gy: 50.4, fractions: 28}     # optional
    fractionation: {dose_basis: eqd2, alpha_beta: 3} # optional set-wide default
    source: ...                                      # optional
    description: ...                                 # optional
    version: ...                                     # optional
    end_caps: none                                   # optional: half-slice, none, shape
    structures:
      - name: Bag_Bowel
        aliases: [BowelBag, Bowel_Bag, Bowel cavity] # optional
        regex: "bowel.?bag.*"                        # optional, see matching
      - target: PTV                                  # the PTV at the prescription dose
        constraints:
          - V30Gy[cc] < 600
          - Max[Gy] <= 107%                          # % of prescription
          - {metric: V45Gy[cc], op: "<", limit: 300, priority: optimal,
             note: ..., reference: ..., dose_basis: eqd2, alpha_beta: 3}

A constraint string is ``<metric> <comparator> <limit>`` with a TG-263 metric
(:mod:`dosecheck.metrics`), a comparator ``<``, ``<=``, ``>`` or ``>=``, and a limit
in the metric's output unit. The limit may carry that unit (``600cc``, ``45Gy``); for
a dose metric a trailing ``%`` means percent of the prescription dose.

``dose_basis`` (``physical``, the default; ``eqd2``; ``set_fractions``) and
``alpha_beta`` (Gy) say that a constraint's absolute dose is an EQD2 or a physical dose
for the set's number of fractions, to be converted to the plan's fractionation (see
:mod:`dosecheck.checking.fractionation`). A top-level ``fractionation`` mapping gives
set-wide defaults; they apply to every constraint with an absolute dose (``V<n>Gy``,
``D…[Gy]``, ``Max``, ``Min``, …) and leave doses in % of prescription and
``Volume[cc]`` alone; a ``Mean`` in Gy under a converting default is refused unless it
says ``dose_basis: physical``. Everything that cannot be converted is refused at load
time with file and line.

Safety: the YAML is only *composed* into a node tree, never constructed by a general
loader. Every node is checked before use: any explicit tag other than the standard
scalar/collection tags (``!!python/object``, ``!!binary``, ``!custom`` …), any anchor
or alias, and any merge key is refused with its line. Scalars are then converted with
ruamel's safe constructor. Files larger than :data:`MAX_BYTES` are refused unread.
"""

from __future__ import annotations

import difflib
import hashlib
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, NoReturn

from dosecheck._yaml import MAX_BYTES, compose, read_yaml_file, too_big
from dosecheck._yaml import Reader as _Reader
from dosecheck._yaml import Y as _Y
from dosecheck._yaml import kind as _kind
from dosecheck._yaml import line as _line
from dosecheck._yaml import tag as _tag
from dosecheck.checking.fractionation import DOSE_BASES, describe_basis
from dosecheck.checking.matching import normalize_name
from dosecheck.checking.model import (
    COMPARATORS,
    PRIORITIES,
    Constraint,
    ConstraintSet,
    StructureSpec,
    fractionation_refusal,
)
from dosecheck.errors import MetricSyntaxError
from dosecheck.metrics import Metric, format_number, parse_metric
from dosecheck.tg263 import parse_target_spec

if TYPE_CHECKING:
    from ruamel.yaml.nodes import Node

__all__ = ["MAX_BYTES", "load_constraint_set", "load_constraint_set_text"]

_TOP_KEYS: Final = ("name", "prescription", "structures", "source", "description", "version")
# Accepted but not listed in "expected keys" messages (which name the core keys only).
_TOP_KEYS_MORE: Final = ("fractionation", "end_caps")
_PRESCRIPTION_KEYS: Final = ("dose_gy", "fractions")
_FRACTIONATION_KEYS: Final = ("dose_basis", "alpha_beta")
_STRUCTURE_KEYS: Final = ("name", "aliases", "regex", "constraints")
_STRUCTURE_KEYS_MORE: Final = ("target",)
_CONSTRAINT_KEYS: Final = (
    "metric",
    "comparator",
    "op",
    "limit",
    "priority",
    "note",
    "reference",
)
_CONSTRAINT_KEYS_MORE: Final = (*_FRACTIONATION_KEYS, "variation")
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


def load_constraint_set(path: str | Path) -> ConstraintSet:
    """Load and check a constraint-set YAML file.

    Parameters
    ----------
    path
        The ``.yaml`` file.

    Returns
    -------
    ConstraintSet

    Raises
    ------
    ConstraintFileError
        If the file is missing, larger than 1 MB, not UTF-8, not valid YAML, or does
        not follow the format; the message names the file and line and says what was
        expected.
    """
    p = Path(path)
    text, sha256 = read_yaml_file(p, "constraint-set file", "constraint sets")
    return _load(text, str(p), sha256)


def load_constraint_set_text(text: str, path: str = "<string>") -> ConstraintSet:
    """Load a constraint set from YAML text (``path`` is used in messages only).

    Raises
    ------
    ConstraintFileError
        As :func:`load_constraint_set`.
    """
    data = text.encode("utf-8")
    if len(data) > MAX_BYTES:
        _too_big(len(data), path)
    return _load(text, path, hashlib.sha256(data).hexdigest())


# --- YAML nodes -----------------------------------------------------------------------
def _compose(text: str, path: str) -> tuple[Any, Node | None]:
    """``(yaml, root node)``, with advice for metrics inside a flow list."""
    return compose(text, path, _flow_metric_hint)


def _flow_metric_hint(line_text: str) -> str:
    if _FLOW_METRIC_RE.search(line_text):
        return (
            "; metrics contain brackets, so inside a [...] list quote each constraint, "
            "e.g. ['V50Gy[%] < 50'], or write one '- ' item per line"
        )
    return ""


_FLOW_METRIC_RE: Final = re.compile(r"\[[^'\"\]]*[A-Za-z][^'\"\]]*\[")


def _too_big(size: int, path: str | Path) -> NoReturn:
    too_big(size, path, "constraint sets")


# --- the format --------------------------------------------------------------------------
def _load(text: str, path: str, sha256: str) -> ConstraintSet:
    yaml, root = _compose(text, path)
    r = _Reader(path, yaml)
    if root is None:
        r.fail(
            "the file is empty; expected a mapping with keys name, structures and "
            "optionally prescription, source, description, version",
            1,
        )
    r.check_tree(root)
    top = r.mapping(
        root, "the constraint set", _TOP_KEYS, ("name", "structures"), more=_TOP_KEYS_MORE
    )
    name = r.text(top["name"][1], "name")

    prescription_gy: float | None = None
    fractions: int | None = None
    if "prescription" in top:
        rx = r.mapping(top["prescription"][1], "prescription", _PRESCRIPTION_KEYS, ("dose_gy",))
        prescription_gy = float(r.number(rx["dose_gy"][1], "prescription dose_gy"))
        if "fractions" in rx:
            fractions = int(r.number(rx["fractions"][1], "prescription fractions", integer=True))
    ctx = _SetContext(prescription_gy, fractions)
    if "fractionation" in top:
        ctx = _fractionation(r, top["fractionation"][1], ctx)

    optional = {
        k: r.text(top[k][1], k, allow_empty=True) if k in top else ""
        for k in ("source", "description", "version")
    }

    end_caps = _end_caps(r, top["end_caps"][1]) if "end_caps" in top else None

    items = r.sequence(
        top["structures"][1], "structures", "'structures: [{name: Rectum, constraints: [...]}]'"
    )
    if not items:
        r.fail("structures is empty; list at least one structure", top["structures"][1])
    structures: list[StructureSpec] = []
    seen: dict[str, StructureSpec] = {}
    for item in items:
        spec = _structure(r, item, ctx)
        key = normalize_name(spec.name)
        if key in seen:
            r.fail(
                f"duplicate structure {spec.name!r} (same name as {seen[key].name!r} at line "
                f"{seen[key].line}, ignoring case, spaces, '_' and '-'); merge their "
                "constraints into one entry",
                item,
            )
        seen[key] = spec
        structures.append(spec)

    return ConstraintSet(
        name=name,
        path=path,
        source=optional["source"],
        prescription_gy=prescription_gy,
        fractions=fractions,
        structures=tuple(structures),
        sha256=sha256,
        description=optional["description"],
        version=optional["version"],
        end_caps=end_caps,
    )


def _end_caps(r: _Reader, node: Node) -> str:
    """The set's ``end_caps`` convention (a value of :class:`EndCaps`)."""
    from dosecheck.core.end_caps import EndCaps

    values = [e.value for e in EndCaps]
    value = r.text(node, "end_caps")
    if value in values:
        return value
    low = value.strip().lower().replace("_", "-").replace(" ", "-")
    close = [low] if low in values else difflib.get_close_matches(low, values, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    r.fail(f"unknown end_caps {value!r}{hint}; expected {', '.join(values)}", node)


@dataclass(frozen=True)
class _SetContext:
    """What a constraint needs to know about its set."""

    prescription_gy: float | None
    fractions: int | None
    dose_basis: str = "physical"  # set-wide default (fractionation: dose_basis)
    alpha_beta: float | None = None  # set-wide default (fractionation: alpha_beta)
    line: int | None = None  # of the fractionation mapping


def _fractionation(r: _Reader, node: Node, ctx: _SetContext) -> _SetContext:
    """The set-wide defaults of the top-level ``fractionation`` mapping."""
    m = r.mapping(node, "fractionation", _FRACTIONATION_KEYS, ())
    if not m:
        r.fail(
            "fractionation is empty; give dose_basis (eqd2 or set_fractions) and alpha_beta",
            node,
        )
    basis = _dose_basis(r, m["dose_basis"][1]) if "dose_basis" in m else "physical"
    ab = _alpha_beta(r, m["alpha_beta"][1]) if "alpha_beta" in m else None
    if basis == "set_fractions" and ctx.fractions is None:
        _no_set_fractions(r, m["dose_basis"][1])
    return _SetContext(ctx.prescription_gy, ctx.fractions, basis, ab, _line(node))


def _dose_basis(r: _Reader, node: Node) -> str:
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


def _alpha_beta(r: _Reader, node: Node) -> float:
    return float(r.number(node, "alpha_beta (α/β in Gy)"))


def _no_set_fractions(r: _Reader, where: Node | int) -> NoReturn:
    r.fail(
        "dose_basis set_fractions converts doses from the set's number of fractions, but "
        "the set gives none; add it to the prescription "
        "('prescription: {dose_gy: ..., fractions: ...}')",
        where,
    )


def _basis(
    r: _Reader,
    ctx: _SetContext,
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
    basis = _dose_basis(r, basis_node) if basis_node is not None else ctx.dose_basis
    ab = _alpha_beta(r, ab_node) if ab_node is not None else ctx.alpha_beta
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
        _no_set_fractions(r, where)
    if ab is None:
        r.fail(
            f"{text!r}{default} has dose_basis {basis} but no alpha_beta; add "
            "alpha_beta: <α/β in Gy> to the constraint or to the set's fractionation",
            where,
        )
    return basis, ab, ctx.fractions if basis == "set_fractions" else None


def _structure(r: _Reader, node: Node, ctx: _SetContext) -> StructureSpec:
    m = r.mapping(node, "a structure", _STRUCTURE_KEYS, ("constraints",), more=_STRUCTURE_KEYS_MORE)
    target: str | None = None
    if "target" in m:
        target = r.text(m["target"][1], "target")
        if parse_target_spec(target) is None:
            r.fail(
                f"target {target!r} is not a TG-263 target type: write GTV, CTV, ITV, IGTV, "
                "ICTV, PTV or PTV!, optionally with a classifier (PTVp, PTVn, CTVsb, ...); the "
                "dose level comes from the prescription, not the set",
                m["target"][1],
            )
    if "name" not in m and target is None:
        r.fail("a structure is missing the key 'name'", node)
    name = r.text(m["name"][1], "structure name") if "name" in m else str(target)
    if not normalize_name(name):
        r.fail(f"structure name {name!r} has no letters or digits", m["name"][1])
    what = f"structure {name!r}"

    aliases: list[str] = []
    if "aliases" in m:
        for a in r.sequence(m["aliases"][1], f"aliases of {what}", "[BowelBag, Bowel_Bag]"):
            alias = r.text(a, f"an alias of {what}")
            if not normalize_name(alias):
                r.fail(f"alias {alias!r} of {what} has no letters or digits", a)
            aliases.append(alias)

    regex: str | None = None
    if "regex" in m:
        regex = r.text(m["regex"][1], f"regex of {what}")
        try:
            re.compile(regex, re.IGNORECASE)
        except re.error as e:
            r.fail(f"invalid regex {regex!r} of {what}: {e}", m["regex"][1])

    items = r.sequence(m["constraints"][1], f"constraints of {what}", "['V30Gy[cc] < 600']")
    if not items:
        r.fail(f"{what} has no constraints; list at least one", m["constraints"][1])
    constraints = tuple(_constraint(r, c, what, ctx) for c in items)
    return StructureSpec(
        name=name,
        aliases=tuple(aliases),
        regex=regex,
        constraints=constraints,
        line=_line(node),
        target=target,
    )


def _constraint(r: _Reader, node: Node, what: str, ctx: _SetContext) -> Constraint:
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


def _constraint_string(r: _Reader, node: Node, what: str, ctx: _SetContext) -> Constraint:
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
