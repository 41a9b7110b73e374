"""What every template reader shares: the bounded file read, the safe XML parse, and
the one builder that turns a reader's goals into a :class:`ConstraintSet`.

A reader (one module per format) turns its file into :class:`Goal` objects, one per
objective it can express in dosecheck's metric grammar, and :class:`NotImported`
entries for everything it cannot (plan-quality indices, point doses, equalities,
variation limits); :func:`build` checks the goals exactly as the YAML loader checks a
constraint and groups them by structure. Every mistake is a
:class:`~dosecheck.errors.ConstraintFileError` naming the file, the line or element,
and what was expected (exit 2 through the CLI).
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Final, NoReturn

from dosecheck.checking.matching import normalize_name
from dosecheck.checking.model import Constraint, ConstraintSet, StructureSpec
from dosecheck.errors import ConstraintFileError, MetricSyntaxError
from dosecheck.metrics import format_number, parse_metric

if TYPE_CHECKING:
    from xml.etree.ElementTree import Element

__all__ = [
    "MAX_TEMPLATE_BYTES",
    "Goal",
    "NotImported",
    "TemplateImport",
    "build",
    "decimal",
    "fail",
    "parse_xml",
    "read_bytes",
]

#: Largest template file read (10 MB): CSV, JSON and XML alike.
MAX_TEMPLATE_BYTES: Final = 10_000_000


@dataclass(frozen=True)
class Goal:
    """One objective of a template, in dosecheck's terms.

    Attributes
    ----------
    structure
        The structure's ID in the template.
    metric
        A TG-263 metric, doses in Gy or % (``V30Gy[cc]``, ``D2%[%]``, ``Max[Gy]``).
    comparator
        ``<``, ``<=``, ``>`` or ``>=``.
    limit
        The limit as an exact decimal, in the metric's unit (or % of prescription).
    where
        ``line 4`` or an element path, for messages.
    aliases
        Other names of the structure.
    limit_percent_rx
        The limit is a dose in % of the prescription.
    priority
        ``mandatory`` or ``optimal``.
    note
        Free text kept on the constraint (the template's own priority, for example).
    variation
        The template's variation limit in the unit of ``limit`` (same comparator,
        looser), or ``None``; it becomes :attr:`Constraint.variation`.
    variation_text
        The variation limit as the template wrote it (``<350``), for
        :attr:`TemplateImport.variations`.
    line
        The line in the file, when the format has lines (CSV).
    """

    structure: str
    metric: str
    comparator: str
    limit: Decimal
    where: str
    aliases: tuple[str, ...] = ()
    limit_percent_rx: bool = False
    priority: str = "mandatory"
    note: str = ""
    variation: Decimal | None = None
    line: int | None = None
    variation_text: str = ""


@dataclass(frozen=True)
class NotImported:
    """Something in a template that dosecheck cannot check (listed, never dropped)."""

    structure: str
    item: str
    reason: str
    where: str

    def describe(self) -> str:
        """``"line 7: PTV CN95%[%] >= 0.8: a plan-quality index (issue #10, section 3)"``."""
        who = f"{self.structure} " if self.structure else ""
        return f"{self.where}: {who}{self.item}: {self.reason}"


@dataclass(frozen=True)
class Variation:
    """A variation limit imported onto a constraint: its text and the template's
    limit as written."""

    structure: str
    constraint: str
    variation: str
    where: str


@dataclass(frozen=True)
class TemplateImport:
    """A template read into a constraint set, with what could not be imported.

    Attributes
    ----------
    constraint_set
        The set, as the YAML loader would build it (``path``, ``sha256`` of the file).
    format
        The format's name (``varian-csv``, ``eclipse-protocol``, ...).
    not_imported
        Everything that does not map onto dosecheck's metrics, in file order.
    variations
        The variation limits imported (also on the constraints, as
        :attr:`Constraint.variation`), as the template wrote them; for ProKnow, the
        tighter goal edge kept as data (see :mod:`.proknow`).
    """

    constraint_set: ConstraintSet
    format: str
    not_imported: tuple[NotImported, ...] = ()
    variations: tuple[Variation, ...] = field(default=())


def fail(path: str | Path, message: str, *, line: int | None = None) -> NoReturn:
    """Raise the one error of malformed templates (a leading ``line N:`` of the message
    is dropped when ``line`` says it already)."""
    if line is not None and message.startswith(f"line {line}: "):
        message = message[len(f"line {line}: ") :]
    raise ConstraintFileError(message, path=path, line=line)


def read_bytes(path: Path, limit: int = MAX_TEMPLATE_BYTES) -> tuple[bytes, str]:
    """``(data, sha256)`` of a file of at most ``limit`` bytes."""
    try:
        if path.is_dir():
            fail(path, "is a directory, not a constraint template")
        size = path.stat().st_size
        if size > limit:
            _too_big(path, size, limit)
        with path.open("rb") as f:
            data = f.read(limit + 1)
    except FileNotFoundError:
        fail(path, "no such constraint file")
    except OSError as e:
        fail(path, f"cannot read: {e.strerror or e}")
    if len(data) > limit:
        _too_big(path, len(data), limit)
    return data, hashlib.sha256(data).hexdigest()


def _too_big(path: Path, size: int, limit: int) -> NoReturn:
    fail(
        path,
        f"file is {size} bytes; constraint templates larger than {limit // 1_000_000} MB "
        f"({limit} bytes) are refused",
    )


def decode_text(path: Path, data: bytes) -> str:
    """UTF-8 (with or without BOM) or UTF-16 with BOM, as Windows tools write it."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            fail(path, "not valid UTF-16 text; save the file as UTF-8")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        fail(path, f"not UTF-8 text (byte {e.start}); save the file as UTF-8", line=line)


def parse_xml(path: Path, data: bytes) -> Element:
    """The root element, parsed with DTDs, entities and external references refused.

    defusedxml refuses a DOCTYPE outright (``forbid_dtd``), so neither internal entity
    expansion (billion laughs) nor external entities (``SYSTEM "file:///etc/passwd"``)
    can be declared, let alone resolved.
    """
    from xml.etree.ElementTree import ParseError

    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import fromstring

    try:
        return fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as e:
        fail(
            path,
            f"XML with a DOCTYPE, entity declarations or external references is refused "
            f"({type(e).__name__}); export the template again without a DTD",
        )
    except ParseError as e:
        line = e.position[0] if e.position else None
        fail(path, f"invalid XML: {e.msg if hasattr(e, 'msg') else e}", line=line)


def decimal(path: Path, text: str | None, what: str, where: str, *, line: int | None = None):
    """A finite number >= 0 as an exact :class:`Decimal`."""
    s = (text or "").strip()
    try:
        d = Decimal(s)
    except InvalidOperation:
        d = None
    if d is None or not d.is_finite() or d < 0 or not re.fullmatch(r"[0-9.]+", s):
        shown = s if s else "nothing"
        fail(path, f"{where}: {what} must be a number >= 0, not {shown!r}", line=line)
    return d


def gy_from_cgy(value: Decimal) -> Decimal:
    """cGy to Gy, exactly (a decimal shift)."""
    return value.scaleb(-2)


def number_text(value: Decimal) -> str:
    """The canonical text of a decimal: ``47.88``, ``30``, ``0.03``."""
    return format_number(float(value))


# --- the builder ------------------------------------------------------------------------
def build(
    path: Path,
    sha256: str,
    *,
    fmt: str,
    name: str,
    goals: Sequence[Goal],
    not_imported: Sequence[NotImported] = (),
    prescription_gy: float | None = None,
    fractions: int | None = None,
    description: str = "",
) -> TemplateImport:
    """The constraint set of ``goals``: one structure per ID (rows or items that share
    an ID, ignoring case, spaces, ``_`` and ``-``, form one structure), in file order.

    Raises
    ------
    ConstraintFileError
        For a goal dosecheck's grammar refuses, or a template without any goal.
    """
    if not goals:
        listed = "; ".join(n.describe() for n in not_imported[:3])
        more = f" (not imported: {listed})" if listed else ""
        fail(path, f"no objective in this {fmt} template maps onto dosecheck's metrics{more}")
    order: list[str] = []
    names: dict[str, str] = {}
    aliases: dict[str, list[str]] = {}
    constraints: dict[str, list[Constraint]] = {}
    variations: list[Variation] = []
    for g in goals:
        key = normalize_name(g.structure)
        if not key:
            fail(path, f"{g.where}: structure ID {g.structure!r} has no letters or digits")
        if key not in names:
            order.append(key)
            names[key] = g.structure.strip()
            aliases[key] = []
            constraints[key] = []
        for a in g.aliases:
            a = a.strip()
            if a and normalize_name(a) and a not in aliases[key] and a != names[key]:
                aliases[key].append(a)
        c = _constraint(path, g)
        constraints[key].append(c)
        if g.variation is not None or g.variation_text:
            variations.append(Variation(names[key], c.text, g.variation_text, g.where))
    structures = tuple(
        StructureSpec(
            name=names[k],
            aliases=tuple(aliases[k]),
            constraints=tuple(constraints[k]),
        )
        for k in order
    )
    cset = ConstraintSet(
        name=name,
        path=str(path),
        source=f"{path.name} ({fmt}, sha256 {sha256})",
        prescription_gy=prescription_gy,
        fractions=fractions,
        structures=structures,
        sha256=sha256,
        description=description,
    )
    return TemplateImport(cset, fmt, tuple(not_imported), tuple(variations))


def _constraint(path: Path, g: Goal) -> Constraint:
    try:
        metric = parse_metric(g.metric)
    except MetricSyntaxError as e:
        fail(path, f"{g.where}: {e.message}", line=g.line)
    limit = float(g.limit)
    if not math.isfinite(limit):
        fail(path, f"{g.where}: the limit {g.limit} is too large", line=g.line)
    if g.limit_percent_rx and not metric.gives_dose:
        fail(
            path,
            f"{g.where}: the limit of {metric} is a percentage of the prescription, but "
            f"{metric} gives {metric.output_unit}",
            line=g.line,
        )
    pct = "%" if g.limit_percent_rx else ""
    text = f"{metric} {g.comparator} {number_text(g.limit)}" + pct
    variation = None
    if g.variation is not None:
        variation = float(g.variation)
        text += f" (variation {number_text(g.variation)}{pct})"
    try:
        return Constraint(
            metric=metric,
            comparator=g.comparator,  # type: ignore[arg-type]
            limit=limit,
            limit_unit_is_percent_rx=g.limit_percent_rx,
            priority=g.priority,  # type: ignore[arg-type]
            note=g.note,
            line=g.line,
            text=text,
            variation=variation,
        )
    except ValueError as e:
        fail(path, f"{g.where}: {e}", line=g.line)


# --- metric text ------------------------------------------------------------------------
_CGY_NUMBER_RE: Final = re.compile(r"(?P<num>[0-9]+(?:\.[0-9]+)?|\.[0-9]+)cGy")

#: Plan-quality indices of the templates' grammar (issue #10, section 3).
INDEX_RE: Final = re.compile(
    r"\s*(CN|GI|CI|HI|PCI|PITV|R50|R100|DGI|NTCP|TCP|EUD|gEUD)(?![A-Za-z])"
)


def to_gy(metric_text: str) -> tuple[str, bool]:
    """``(metric in Gy, whether its result was in cGy)``: ``V3000cGy[cc]`` →
    ``V30Gy[cc]``, ``D20cc[cGy]`` → ``D20cc[Gy]`` (the limit is then divided by 100)."""
    out = _CGY_NUMBER_RE.sub(
        lambda m: number_text(gy_from_cgy(Decimal(m["num"]))) + "Gy", metric_text
    )
    result_cgy = bool(re.search(r"\[\s*cGy\s*\]\s*$", out))
    if result_cgy:
        out = re.sub(r"\[\s*cGy\s*\]\s*$", "[Gy]", out)
    return out, result_cgy


# --- priorities -------------------------------------------------------------------------
#: Planning-system priorities and what dosecheck makes of them: priority 1 ("most
#: important") fails the plan; 2-4 and "report only" are reported, not failing.
_PRIORITIES: Final = {
    "1": "mandatory",
    "priority_1": "mandatory",
    "priority 1": "mandatory",
    "most important": "mandatory",
    "mandatory": "mandatory",
    "2": "optimal",
    "priority_2": "optimal",
    "priority 2": "optimal",
    "very important": "optimal",
    "3": "optimal",
    "priority_3": "optimal",
    "priority 3": "optimal",
    "important": "optimal",
    "4": "optimal",
    "priority_4": "optimal",
    "priority 4": "optimal",
    "less important": "optimal",
    "report_only": "optimal",
    "report only": "optimal",
    "optimal": "optimal",
}


def priority_of(
    path: Path, text: str | None, where: str, *, line: int | None = None
) -> tuple[str, str]:
    """``(dosecheck priority, note)`` of a template priority; blank is mandatory."""
    s = (text or "").strip()
    if not s:
        return "mandatory", ""
    p = _PRIORITIES.get(s.lower())
    if p is None:
        fail(
            path,
            f"{where}: unknown priority {s!r}; expected 1, 2, 3, 4 (or PRIORITY_1 .. "
            "PRIORITY_4), Report only, mandatory or optimal",
            line=line,
        )
    return p, (f"template priority {s}" if p == "optimal" and s.lower() != "optimal" else "")
