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

This module reads the set (top level, prescription, fractionation defaults,
structures); each entry of a structure's ``constraints`` is read by
:mod:`dosecheck.checking.constraint_entry`.
"""

from __future__ import annotations

import difflib
import hashlib
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, NoReturn

from dosecheck._yaml import MAX_BYTES, compose, read_yaml_file, too_big
from dosecheck._yaml import Reader as _Reader
from dosecheck._yaml import line as _line
from dosecheck.checking.constraint_entry import (
    FRACTIONATION_KEYS,
    SetContext,
    no_set_fractions,
    read_alpha_beta,
    read_constraint,
    read_dose_basis,
)
from dosecheck.checking.matching import normalize_name
from dosecheck.checking.model import (
    ConstraintSet,
    StructureSpec,
)
from dosecheck.tg263 import parse_target_spec

if TYPE_CHECKING:
    from ruamel.yaml.nodes import Node

__all__ = ["MAX_BYTES", "load_constraint_set", "load_constraint_set_text"]

_TOP_KEYS: Final = ("name", "prescription", "structures", "source", "description", "version")
# Accepted but not listed in "expected keys" messages (which name the core keys only).
_TOP_KEYS_MORE: Final = ("fractionation", "end_caps")
_PRESCRIPTION_KEYS: Final = ("dose_gy", "fractions")
_STRUCTURE_KEYS: Final = ("name", "aliases", "regex", "constraints")
_STRUCTURE_KEYS_MORE: Final = ("target",)


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
    ctx = SetContext(prescription_gy, fractions)
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


def _fractionation(r: _Reader, node: Node, ctx: SetContext) -> SetContext:
    """The set-wide defaults of the top-level ``fractionation`` mapping."""
    m = r.mapping(node, "fractionation", FRACTIONATION_KEYS, ())
    if not m:
        r.fail(
            "fractionation is empty; give dose_basis (eqd2 or set_fractions) and alpha_beta",
            node,
        )
    basis = read_dose_basis(r, m["dose_basis"][1]) if "dose_basis" in m else "physical"
    ab = read_alpha_beta(r, m["alpha_beta"][1]) if "alpha_beta" in m else None
    if basis == "set_fractions" and ctx.fractions is None:
        no_set_fractions(r, m["dose_basis"][1])
    return SetContext(ctx.prescription_gy, ctx.fractions, basis, ab, _line(node))


def _structure(r: _Reader, node: Node, ctx: SetContext) -> StructureSpec:
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
    constraints = tuple(read_constraint(r, c, what, ctx) for c in items)
    return StructureSpec(
        name=name,
        aliases=tuple(aliases),
        regex=regex,
        constraints=constraints,
        line=_line(node),
        target=target,
    )
