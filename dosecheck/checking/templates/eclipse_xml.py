"""Eclipse Clinical Protocol XML and Eclipse Clinical Goals XML.

Clinical Protocol (root ``Protocol``)::

    Protocol/Preview                               ID = the set's name, Description
    Protocol/Phases/Phase/FractionCount            the number of fractions
    Protocol/Phases/Phase/Prescription/Item        plan objectives: ID, Primary, Modifier,
                                                   Parameter, Dose, TotalDose
    Protocol/Phases/Phase/Prescription/MeasureItem plan measures: ID, Type, Modifier,
                                                   Value, TypeSpecifier,
                                                   ReportDQPValueInAbsoluteUnits,
                                                   Priority, VariationAcceptable

The prescription dose is the ``TotalDose`` of the primary ``Item`` (Eclipse normalises
a plan to its primary objective). One phase is read: a protocol of several phases is
refused (check each phase with its own set).

Clinical Goals (root ``DoseObjectives``): ``DoseObjective`` elements with the
MeasureItem's children and ``StructureId``; absolute volumes (``TypeSpecifier`` of a
dose at absolute volume, ``Value`` of a volume in absolute units) in mm³, converted to
cc exactly.

The codes are those of :mod:`dosecheck.checking.templates.eclipse_codes`.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Final

import dosecheck.checking.templates.eclipse_codes as codes
from dosecheck.checking.templates._common import (
    Goal,
    NotImported,
    TemplateImport,
    build,
    decimal,
    fail,
    number_text,
    priority_of,
)

if TYPE_CHECKING:
    from xml.etree.ElementTree import Element

__all__ = ["GOALS", "PROTOCOL", "read_goals", "read_protocol"]

PROTOCOL: Final = "eclipse-protocol"
GOALS: Final = "eclipse-goals"


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child(el: Element, name: str) -> Element | None:
    for c in el:
        if _local(c.tag) == name:
            return c
    return None


def _children(el: Element, name: str) -> list[Element]:
    return [c for c in el if _local(c.tag) == name]


def _text(el: Element, name: str) -> str | None:
    """The text of child ``name`` (or attribute ``name``), ``None`` when absent or
    ``xsi:nil``."""
    c = _child(el, name)
    if c is None:
        return el.get(name)
    if any(_local(k) == "nil" and v.lower() == "true" for k, v in c.attrib.items()):
        return None
    return (c.text or "").strip()


def _int_code(path: Path, el: Element, name: str, where: str) -> int:
    raw = _text(el, name)
    if raw is None or not raw.strip():
        fail(path, f"{where}: the element <{name}> is missing; expected an integer code")
    try:
        return int(raw.strip())
    except ValueError:
        fail(path, f"{where}: <{name}> must be an integer code, not {raw.strip()!r}")


def _bool(el: Element, name: str) -> bool:
    return (_text(el, name) or "").strip().lower() == "true"


# --- the clinical protocol --------------------------------------------------------------
def read_protocol(path: Path, root: Element, sha256: str) -> TemplateImport:
    """Read a Clinical Protocol (see the module docstring)."""
    preview = _child(root, "Preview")
    name = (preview.get("ID") if preview is not None else None) or root.get("ID") or path.stem
    description = (preview.get("Description") or "") if preview is not None else ""
    phases_el = _child(root, "Phases")
    phases = _children(phases_el, "Phase") if phases_el is not None else []
    if not phases:
        fail(path, "Protocol/Phases has no <Phase>; expected Protocol/Phases/Phase/Prescription")
    if len(phases) > 1:
        ids = ", ".join(repr(p.get("ID") or f"#{i + 1}") for i, p in enumerate(phases))
        fail(
            path,
            f"Protocol/Phases holds {len(phases)} phases ({ids}); dosecheck checks one "
            "phase at a time: export each phase as its own protocol",
        )
    phase = phases[0]
    fractions = None
    fc = _text(phase, "FractionCount")
    if fc:
        try:
            fractions = int(fc)
        except ValueError:
            fail(path, f"Phase/FractionCount must be a whole number, not {fc!r}")
        if fractions < 1:
            fail(path, f"Phase/FractionCount must be at least 1, not {fractions}")
    rx = _child(phase, "Prescription")
    if rx is None:
        fail(path, "Phase has no <Prescription>; expected Phase/Prescription/MeasureItem")
    goals: list[Goal] = []
    skipped: list[NotImported] = []
    prescription_gy: float | None = None
    for i, item in enumerate(_children(rx, "Item"), start=1):
        where = f"Prescription/Item[{i}] (ID {item.get('ID') or _text(item, 'ID')!r})"
        total = _item(path, item, where, goals, skipped)
        if item.get("Primary", "").lower() == "true" and total is not None:
            if prescription_gy is not None:
                fail(path, f"{where}: a second primary Item; expected one primary objective")
            prescription_gy = float(total)
    for i, m in enumerate(_children(rx, "MeasureItem"), start=1):
        sid = m.get("ID") or _text(m, "ID") or ""
        where = f"Prescription/MeasureItem[{i}] (ID {sid!r})"
        _measure(path, m, sid, where, goals, skipped, mm3=False)
    return build(
        path,
        sha256,
        fmt=PROTOCOL,
        name=name,
        goals=goals,
        not_imported=skipped,
        prescription_gy=prescription_gy,
        fractions=fractions,
        description=description,
    )


def _item(
    path: Path, item: Element, where: str, goals: list[Goal], skipped: list[NotImported]
) -> Decimal | None:
    """Append the goal of a plan objective; return its TotalDose (Gy)."""
    sid = item.get("ID") or _text(item, "ID") or ""
    if not sid.strip():
        fail(path, f"{where}: the Item has no ID (the structure)")
    code = _int_code(path, item, "Modifier", where)
    total_text = _text(item, "TotalDose")
    total = (
        decimal(path, total_text, "TotalDose (Gy)", where) if total_text not in (None, "") else None
    )
    if code in codes.ITEM_NOT_IMPORTED:
        skipped.append(NotImported(sid, f"Modifier {code}", codes.ITEM_NOT_IMPORTED[code], where))
        return total
    if code not in codes.ITEM_MODIFIERS:
        known = ", ".join(str(k) for k in sorted({*codes.ITEM_MODIFIERS, *codes.ITEM_NOT_IMPORTED}))
        fail(path, f"{where}: Item <Modifier> code {code} is not mapped; known codes: {known}")
    if total is None:
        fail(path, f"{where}: the Item has no <TotalDose> (Gy); expected the objective's dose")
    kind, op = codes.ITEM_MODIFIERS[code]
    if kind == "D":
        param = decimal(path, _text(item, "Parameter"), "Parameter (% of the structure)", where)
        if param > 100:
            fail(path, f"{where}: Parameter {param} is more than 100 % of the structure")
        metric = f"D{number_text(param)}%[Gy]"
    else:
        metric = f"{kind}[Gy]"
    goals.append(Goal(sid, metric, op, total, where))
    return total


def _measure(
    path: Path,
    m: Element,
    sid: str,
    where: str,
    goals: list[Goal],
    skipped: list[NotImported],
    *,
    mm3: bool,
) -> None:
    if not sid.strip():
        fail(path, f"{where}: no structure ID")
    type_code = _int_code(path, m, "Type", where)
    if type_code in codes.MEASURE_TYPES_NOT_IMPORTED:
        skipped.append(
            NotImported(
                sid, f"Type {type_code}", codes.MEASURE_TYPES_NOT_IMPORTED[type_code], where
            )
        )
        return
    if type_code not in codes.MEASURE_TYPES:
        known = ", ".join(
            str(k) for k in sorted({*codes.MEASURE_TYPES, *codes.MEASURE_TYPES_NOT_IMPORTED})
        )
        fail(path, f"{where}: <Type> code {type_code} is not mapped; known codes: {known}")
    mod = _int_code(path, m, "Modifier", where)
    if mod in codes.MEASURE_NOT_IMPORTED:
        skipped.append(NotImported(sid, f"Modifier {mod}", codes.MEASURE_NOT_IMPORTED[mod], where))
        return
    if mod not in codes.MEASURE_MODIFIERS:
        known = ", ".join(
            str(k) for k in sorted({*codes.MEASURE_MODIFIERS, *codes.MEASURE_NOT_IMPORTED})
        )
        fail(path, f"{where}: <Modifier> code {mod} is not mapped; known codes: {known}")
    op = codes.MEASURE_MODIFIERS[mod]
    kind, spec_unit = codes.MEASURE_TYPES[type_code]
    absolute = _bool(m, "ReportDQPValueInAbsoluteUnits")
    value_text = _text(m, "Value")
    if value_text in (None, ""):
        skipped.append(NotImported(sid, f"Type {type_code}", "no <Value>: nothing to check", where))
        return
    value = decimal(path, value_text, "<Value>", where)
    metric, percent_rx = _metric(path, m, kind, spec_unit, absolute, mm3, where)
    if kind == "V" and absolute and mm3:
        value = value.scaleb(-3)  # mm³ → cc
    priority, note = priority_of(path, _text(m, "Priority"), where)
    variation_text = (_text(m, "VariationAcceptable") or "").strip()
    variation = None
    if variation_text:
        variation = decimal(path, variation_text, "<VariationAcceptable>", where)
        if kind == "V" and absolute and mm3:
            variation = variation.scaleb(-3)  # mm³ → cc
    goals.append(
        Goal(
            sid,
            metric,
            op,
            value,
            where,
            limit_percent_rx=percent_rx,
            priority=priority,
            note=note,
            variation=variation,
            variation_text=variation_text,
        )
    )


def _metric(
    path: Path,
    m: Element,
    kind: str,
    spec_unit: str | None,
    absolute: bool,
    mm3: bool,
    where: str,
) -> tuple[str, bool]:
    """``(TG-263 metric, limit in % of prescription)`` of a MeasureItem."""
    if kind in ("Min", "Max", "Mean"):
        return f"{kind}[{'Gy' if absolute else '%'}]", False
    spec = decimal(path, _text(m, "TypeSpecifier"), "<TypeSpecifier>", where)
    if kind == "V":
        return f"V{number_text(spec)}{spec_unit}[{'cc' if absolute else '%'}]", False
    if spec_unit == "cc" and mm3:
        spec = spec.scaleb(-3)
    if spec_unit == "%" and spec > 100:
        fail(path, f"{where}: <TypeSpecifier> {spec} is more than 100 % of the structure")
    return f"D{number_text(spec)}{spec_unit}[{'Gy' if absolute else '%'}]", False


# --- the clinical goals ---------------------------------------------------------------
def read_goals(path: Path, root: Element, sha256: str) -> TemplateImport:
    """Read a Clinical Goals file (see the module docstring)."""
    name = root.get("ID") or root.get("Name") or path.stem
    items = _children(root, "DoseObjective")
    if not items:
        fail(path, "DoseObjectives holds no <DoseObjective>; expected one per clinical goal")
    goals: list[Goal] = []
    skipped: list[NotImported] = []
    for i, m in enumerate(items, start=1):
        sid = _text(m, "StructureId") or m.get("ID") or ""
        where = f"DoseObjectives/DoseObjective[{i}] (StructureId {sid!r})"
        _measure(path, m, sid, where, goals, skipped, mm3=True)
    fractions = None
    fc = root.get("FractionCount") or _text(root, "FractionCount")
    if fc:
        try:
            fractions = int(fc)
        except ValueError:
            fail(path, f"FractionCount must be a whole number, not {fc!r}")
    dose_text = root.get("PrescribedDose") or _text(root, "PrescribedDose")
    rx = (
        float(decimal(path, dose_text, "PrescribedDose (Gy)", "DoseObjectives"))
        if dose_text
        else None
    )
    return build(
        path,
        sha256,
        fmt=GOALS,
        name=name,
        goals=goals,
        not_imported=skipped,
        prescription_gy=rx,
        fractions=fractions,
    )
