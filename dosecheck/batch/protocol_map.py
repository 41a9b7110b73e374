"""Choose the constraint set of each plan from rules (``dosecheck batch --protocol-map``).

A protocol map is a YAML list of rules, tried in order; the first rule whose every
``match`` field fits the plan gives its constraint set::

    # protocols.yaml
    - match: {plan_label: 'RECT.*SC', prescription_gy: 25, fractions: 5}
      constraints: rectum-short-course          # a shipped set's name ...
    - match: {prescription_gy: 50.4}
      constraints: sets/rectum-local.yaml       # ... or a file (relative to this map)
    - match: {}                                 # no condition: a catch-all
      constraints: auto                         # the shipped set for the prescription

``match`` fields (all optional; a plan without the value does not match a rule
that asks for it):

``plan_label``
    Regular expression, matched against the whole RTPlanLabel, case-insensitive.
``patient_id``
    Regular expression, matched against the whole PatientID, case-insensitive.
``prescription_gy``
    The RTPLAN's prescription dose, equal within 0.5 %.
``fractions``
    The RTPLAN's number of fractions, exactly.

A plan that no rule matches is recorded as an error (exit code 3); add a final
``match: {}`` rule to give every plan a set. All constraint sets are loaded when the
map is, so a bad set name or file is reported at once (exit code 2).
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from dosecheck._yaml import Reader, Y, compose, read_yaml_file
from dosecheck.errors import ConstraintFileError, InputError

if TYPE_CHECKING:
    from ruamel.yaml.nodes import Node

    from dosecheck.checking.model import ConstraintSet

__all__ = ["AUTO", "ProtocolMap", "ProtocolRule", "load_protocol_map", "select_automatic"]

#: ``constraints: auto`` — the shipped set written for the plan's prescription.
AUTO = "auto"
_MATCH_KEYS = ("plan_label", "patient_id", "prescription_gy", "fractions")
_RULE_KEYS = ("match", "constraints")
_Y = Y


@functools.lru_cache(maxsize=256)
def select_automatic(prescription_gy: float | None, fractions: int | None) -> ConstraintSet:
    """The shipped set for a prescription (as ``dosecheck check`` without ``-c``);
    cached, as a batch asks for the same few prescriptions many times.

    Raises
    ------
    InputError
        No prescription, or no / several shipped sets match.
    """
    from dosecheck.checking.sets import select_set_for_plan

    return select_set_for_plan(prescription_gy, fractions).constraint_set


@dataclass(frozen=True)
class ProtocolRule:
    """One rule of a protocol map.

    Attributes
    ----------
    line
        Line of the rule in the map file.
    constraints
        The ``constraints`` value as written (set name, file or ``auto``).
    constraint_set
        The loaded set, or ``None`` for ``auto``.
    plan_label, patient_id
        Compiled whole-string, case-insensitive patterns, or ``None``.
    prescription_gy, fractions
        Required prescription, or ``None``.
    """

    line: int
    constraints: str
    constraint_set: ConstraintSet | None
    plan_label: re.Pattern[str] | None = None
    patient_id: re.Pattern[str] | None = None
    prescription_gy: float | None = None
    fractions: int | None = None

    def matches(
        self,
        *,
        plan_label: str = "",
        patient_id: str = "",
        prescription_gy: float | None = None,
        fractions: int | None = None,
    ) -> bool:
        """Whether a plan with these values fits every condition of the rule."""
        if self.plan_label is not None and not self.plan_label.fullmatch(plan_label or ""):
            return False
        if self.patient_id is not None and not self.patient_id.fullmatch(patient_id or ""):
            return False
        if self.prescription_gy is not None:
            if prescription_gy is None:
                return False
            if not math.isclose(prescription_gy, self.prescription_gy, rel_tol=0.005):
                return False
        return self.fractions is None or fractions == self.fractions

    def describe(self) -> str:
        """``"rule at line 3 (plan_label ~ 'RECT.*', 25 Gy)"``."""
        parts = []
        if self.plan_label is not None:
            parts.append(f"plan_label ~ {self.plan_label.pattern!r}")
        if self.patient_id is not None:
            parts.append(f"patient_id ~ {self.patient_id.pattern!r}")
        if self.prescription_gy is not None:
            parts.append(f"{self.prescription_gy:g} Gy")
        if self.fractions is not None:
            parts.append(f"{self.fractions} fractions")
        return f"rule at line {self.line} ({', '.join(parts) or 'any plan'})"


@dataclass(frozen=True)
class ProtocolMap:
    """A loaded protocol map.

    Attributes
    ----------
    path
        The map file.
    rules
        The rules, in file order.
    sha256
        Hex digest of the file's bytes.
    """

    path: str
    rules: tuple[ProtocolRule, ...]
    sha256: str

    def choose(
        self,
        *,
        plan_label: str = "",
        patient_id: str = "",
        prescription_gy: float | None = None,
        fractions: int | None = None,
    ) -> ConstraintSet:
        """The constraint set of the first matching rule.

        Raises
        ------
        InputError
            No rule matches, or the matching rule says ``auto`` and no shipped set
            fits the prescription.
        """
        for rule in self.rules:
            if rule.matches(
                plan_label=plan_label,
                patient_id=patient_id,
                prescription_gy=prescription_gy,
                fractions=fractions,
            ):
                if rule.constraint_set is None:
                    return select_automatic(prescription_gy, fractions)
                return rule.constraint_set
        from dosecheck.checking.sets import describe_prescription

        rx = describe_prescription(prescription_gy, fractions)
        raise InputError(
            f"no rule of the protocol map {self.path} matches this plan (plan label "
            f"{plan_label!r}, patient {patient_id!r}, {rx}); add a rule, or a final "
            "'match: {}' rule as a catch-all"
        )


# --------------------------------------------------------------------------- loading
@dataclass
class _Reader:
    path: str
    yaml: Any

    def fail(self, message: str, node: Node | None) -> NoReturn:
        line = None if node is None else node.start_mark.line + 1
        raise ConstraintFileError(message, path=self.path, line=line)

    def scalar(self, node: Node, what: str) -> Any:
        if type(node).__name__ != "ScalarNode":
            self.fail(f"{what} must be a single value", node)
        tag = str(getattr(node.tag, "value", node.tag))
        if not tag.startswith(_Y) or tag[len(_Y) :] not in ("str", "int", "float", "null", "bool"):
            self.fail(f"{what}: YAML tag {tag!r} is not allowed", node)
        return self.yaml.constructor.construct_object(node, deep=True)

    def mapping(self, node: Node, what: str, keys: tuple[str, ...]) -> dict[str, Node]:
        if type(node).__name__ != "MappingNode":
            self.fail(f"{what} must be a mapping ({', '.join(keys)})", node)
        out: dict[str, Node] = {}
        for k, v in node.value:
            key = self.scalar(k, "a key")
            if key not in keys:
                self.fail(f"unknown key {key!r} in {what}; expected one of {', '.join(keys)}", k)
            if key in out:
                self.fail(f"key {key!r} given twice in {what}", k)
            out[key] = v
        return out

    def pattern(self, node: Node, key: str) -> re.Pattern[str]:
        value = self.scalar(node, key)
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            self.fail(f"{key} must be a regular expression (text)", node)
        try:
            return re.compile(str(value), re.IGNORECASE)
        except re.error as exc:
            self.fail(f"{key} is not a valid regular expression: {exc}", node)

    def number(self, node: Node, key: str, *, integer: bool) -> float | int:
        value = self.scalar(node, key)
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if ok and integer:
            ok = isinstance(value, int) or float(value).is_integer()
        if not ok or not math.isfinite(value) or value <= 0:
            kind = "a positive whole number" if integer else "a positive number (Gy)"
            self.fail(f"{key} must be {kind}, not {value!r}", node)
        return int(value) if integer else float(value)


def _load_set(spec: str, base: Path, reader: _Reader, node: Node) -> ConstraintSet | None:
    from dosecheck.checking.sets import resolve_constraint_set
    from dosecheck.checking.templates import load_constraint_file

    if spec.strip().lower() == AUTO:
        return None
    candidate = Path(spec).expanduser()
    if not candidate.is_absolute() and (base / candidate).is_file():
        return load_constraint_file(base / candidate)
    try:
        return resolve_constraint_set(spec)
    except ConstraintFileError:
        raise
    except InputError as exc:
        reader.fail(f"constraints: {exc}", node)


def load_protocol_map(path: str | Path) -> ProtocolMap:
    """Load a protocol map and every constraint set it names.

    The file is read by :mod:`dosecheck._yaml` (at most 1 MB of UTF-8; no anchors,
    aliases, merge keys or object tags).

    Raises
    ------
    ConstraintFileError
        (an InputError) Missing or unreadable file; with the line for a malformed
        map or a bad constraint set.
    """
    p = Path(path).expanduser()
    text, sha256 = read_yaml_file(p, "protocol-map file", "protocol maps")
    yaml, root = compose(text, str(p))
    reader = _Reader(str(p), yaml)
    if root is not None:
        Reader(str(p), yaml, plural="protocol maps").check_tree(root)
    if root is None or type(root).__name__ != "SequenceNode" or not root.value:
        reader.fail(
            "a protocol map is a non-empty list of rules: '- match: {...}' with "
            "'constraints: NAME|FILE'",
            root,
        )
    rules = []
    for item in root.value:
        fields = reader.mapping(item, "a rule", _RULE_KEYS)
        if "constraints" not in fields:
            reader.fail("the rule has no 'constraints' (a set name, a file or 'auto')", item)
        spec = reader.scalar(fields["constraints"], "constraints")
        if not isinstance(spec, str) or not spec.strip():
            reader.fail("constraints must be a set name, a file or 'auto'", fields["constraints"])
        match: dict[str, Node] = {}
        if "match" in fields:
            match_node = fields["match"]
            if not (type(match_node).__name__ == "ScalarNode" and match_node.value in ("", "~")):
                match = reader.mapping(match_node, "match", _MATCH_KEYS)
        cset = _load_set(spec, p.parent, reader, fields["constraints"])
        rules.append(
            ProtocolRule(
                line=item.start_mark.line + 1,
                constraints=spec.strip(),
                constraint_set=cset,
                plan_label=(
                    reader.pattern(match["plan_label"], "plan_label")
                    if "plan_label" in match
                    else None
                ),
                patient_id=(
                    reader.pattern(match["patient_id"], "patient_id")
                    if "patient_id" in match
                    else None
                ),
                prescription_gy=(
                    float(reader.number(match["prescription_gy"], "prescription_gy", integer=False))
                    if "prescription_gy" in match
                    else None
                ),
                fractions=(
                    int(reader.number(match["fractions"], "fractions", integer=True))
                    if "fractions" in match
                    else None
                ),
            )
        )
    return ProtocolMap(str(p), tuple(rules), sha256)
