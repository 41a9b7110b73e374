"""A constraint set written as dosecheck YAML (``dosecheck constraints import``).

The text reloads with :func:`~dosecheck.checking.loader.load_constraint_set` into the
same constraints: structure names and aliases, metrics, comparators, limits and
priorities and variation limits (``variation:``). ``source:`` keeps the template's
file name, format and SHA-256; what could not be imported is listed in comments at the
top.
"""

from __future__ import annotations

import io

from dosecheck.checking.model import Constraint, ConstraintSet
from dosecheck.checking.templates._common import TemplateImport
from dosecheck.errors import InputError

__all__ = ["to_yaml"]


def _constraint(c: Constraint):
    from ruamel.yaml.comments import CommentedMap

    text = f"{c.metric} {c.comparator} {c.limit_text}"
    if c.priority == "mandatory" and not c.note and not c.reference:
        return text + (f" (variation {c.variation_text})" if c.variation is not None else "")
    m = CommentedMap()
    m["metric"] = str(c.metric)
    m["op"] = c.comparator
    limit = int(c.limit) if float(c.limit).is_integer() else c.limit
    m["limit"] = c.limit_text if c.limit_unit_is_percent_rx else limit
    if c.variation is not None:
        v = int(c.variation) if float(c.variation).is_integer() else c.variation
        m["variation"] = c.variation_text if c.limit_unit_is_percent_rx else v
    if c.priority != "mandatory":
        m["priority"] = c.priority
    if c.note:
        m["note"] = c.note
    if c.reference:
        m["reference"] = c.reference
    m.fa.set_flow_style()
    return m


def _plain(c: Constraint) -> str:
    """``V95%[%] >= 95``: the constraint without its variation."""
    return f"{c.metric} {c.comparator} {c.limit_text}"


def to_yaml(
    imported: TemplateImport,
    *,
    prescription_gy: float | None = None,
    fractions: int | None = None,
) -> str:
    """The YAML text of an imported template.

    ``prescription_gy``/``fractions`` fill in a prescription the template does not
    give (the YAML format needs one when a dose is a percentage of it).

    Raises
    ------
    InputError
        When a constraint needs a prescription and neither the template nor the
        arguments give one.
    """
    from ruamel.yaml import YAML
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    cset: ConstraintSet = imported.constraint_set
    dose = cset.prescription_gy if prescription_gy is None else prescription_gy
    nfx = cset.fractions if fractions is None else fractions
    needs = [c for _, c in cset.constraints if c.needs_prescription]
    if needs and dose is None:
        raise InputError(
            f"{cset.path}: {_plain(needs[0])!r} is in % of the prescription but the template "
            "gives no prescription dose; pass --prescription GY (and --fractions N)"
        )
    doc = CommentedMap()
    doc["name"] = cset.name
    if cset.description:
        doc["description"] = cset.description
    doc["source"] = f"Imported by dosecheck from {cset.source}"
    if dose is not None:
        rx = CommentedMap()
        rx["dose_gy"] = float(dose)
        if nfx is not None:
            rx["fractions"] = nfx
        rx.fa.set_flow_style()
        doc["prescription"] = rx
    structures = CommentedSeq()
    for s in cset.structures:
        item = CommentedMap()
        item["name"] = s.name
        if s.aliases:
            al = CommentedSeq(s.aliases)
            al.fa.set_flow_style()
            item["aliases"] = al
        item["constraints"] = CommentedSeq(_constraint(c) for c in s.constraints)
        structures.append(item)
    doc["structures"] = structures
    lines = [f"Imported from {cset.source}."]
    if imported.not_imported:
        lines.append("Not imported (dosecheck cannot check these; see docs/constraints.md):")
        lines.extend(f"  - {n.describe()}" for n in imported.not_imported)
    doc.yaml_set_start_comment("\n".join(lines))
    yaml = YAML()
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)
    buf = io.StringIO()
    yaml.dump(doc, buf)
    return buf.getvalue()
