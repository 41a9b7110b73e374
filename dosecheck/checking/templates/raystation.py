"""RayStation clinical goals as kept in scripted protocol XML.

Any root holding ``ClinicalGoal`` elements, each with ``RoiName``, ``GoalCriteria``
(``AtLeast`` → ``>=``, ``AtMost`` → ``<=``), ``GoalType``, ``AcceptanceLevel``,
``ParameterValue`` and optionally ``Priority`` (children or attributes). Doses are in
cGy (converted to Gy exactly), relative volumes are fractions (×100 exactly):

=========================  ======================================================
``GoalType``               metric and limit
=========================  ======================================================
``DoseAtVolume``           ``D<ParameterValue × 100>%[Gy]``, AcceptanceLevel cGy
``DoseAtAbsoluteVolume``   ``D<ParameterValue>cc[Gy]``, AcceptanceLevel cGy
``VolumeAtDose``           ``V<ParameterValue / 100>Gy[%]``, AcceptanceLevel × 100
``AbsoluteVolumeAtDose``   ``V<ParameterValue / 100>Gy[cc]``, AcceptanceLevel cc
``AverageDose``            ``Mean[Gy]``, AcceptanceLevel cGy
=========================  ======================================================

``HomogeneityIndex`` and ``ConformityIndex`` are listed as not imported: they are
RayStation's own definitions, computed at the goal's ParameterValue, which dosecheck
does not assume equal to ICRU 83's HI or Paddick's CN (write ``HI[]``, ``CN95%[]`` in a
YAML set); any other GoalType is refused. Priority 1 is mandatory, 2 and above
optimal.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Final

from dosecheck.checking.templates._common import (
    Goal,
    NotImported,
    TemplateImport,
    build,
    decimal,
    fail,
    gy_from_cgy,
    number_text,
)

if TYPE_CHECKING:
    from xml.etree.ElementTree import Element

__all__ = ["FORMAT", "looks_like", "read"]

FORMAT: Final = "raystation-goals"
_CRITERIA: Final = {"AtLeast": ">=", "AtMost": "<="}
_INDICES: Final = ("HomogeneityIndex", "ConformityIndex")
_TYPES: Final = (
    "DoseAtVolume",
    "DoseAtAbsoluteVolume",
    "VolumeAtDose",
    "AbsoluteVolumeAtDose",
    "AverageDose",
)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _goals(root: Element) -> list[Element]:
    return [e for e in root.iter() if _local(e.tag) == "ClinicalGoal"]


def looks_like(root: Element) -> bool:
    """True when the document holds ClinicalGoal elements."""
    return bool(_goals(root))


def _field(el: Element, name: str) -> str | None:
    for c in el:
        if _local(c.tag) == name:
            return (c.text or "").strip()
    v = el.get(name)
    return v.strip() if v is not None else None


def read(path: Path, root: Element, sha256: str) -> TemplateImport:
    """Read the clinical goals (see the module docstring)."""
    name = root.get("name") or root.get("Name") or _field(root, "Name") or path.stem
    goals: list[Goal] = []
    skipped: list[NotImported] = []
    for i, g in enumerate(_goals(root), start=1):
        roi = _field(g, "RoiName") or ""
        where = f"ClinicalGoal[{i}] (RoiName {roi!r})"
        if not roi:
            fail(path, f"{where}: no <RoiName>")
        kind = _field(g, "GoalType") or ""
        if kind in _INDICES:
            skipped.append(
                NotImported(
                    roi,
                    kind,
                    "RayStation's own index definition, not assumed equal to ICRU 83's HI or "
                    "Paddick's CN (write HI[] or CN95%[] in a YAML set)",
                    where,
                )
            )
            continue
        if kind not in _TYPES:
            fail(
                path,
                f"{where}: GoalType {kind!r} is not mapped; expected one of "
                + ", ".join((*_TYPES, *_INDICES)),
            )
        crit = _field(g, "GoalCriteria") or ""
        if crit not in _CRITERIA:
            fail(path, f"{where}: GoalCriteria {crit!r}; expected AtLeast or AtMost")
        op = _CRITERIA[crit]
        level = decimal(path, _field(g, "AcceptanceLevel"), "AcceptanceLevel", where)
        if kind == "AverageDose":
            metric, limit = "Mean[Gy]", gy_from_cgy(level)
        else:
            param = decimal(path, _field(g, "ParameterValue"), "ParameterValue", where)
            if kind == "DoseAtVolume":
                if param > 1:
                    fail(
                        path,
                        f"{where}: ParameterValue {param} is a fraction of the "
                        "volume and must be at most 1",
                    )
                metric, limit = f"D{number_text(param.scaleb(2))}%[Gy]", gy_from_cgy(level)
            elif kind == "DoseAtAbsoluteVolume":
                metric, limit = f"D{number_text(param)}cc[Gy]", gy_from_cgy(level)
            elif kind == "VolumeAtDose":
                if level > 1:
                    fail(
                        path,
                        f"{where}: AcceptanceLevel {level} is a fraction of the "
                        "volume and must be at most 1",
                    )
                metric, limit = f"V{number_text(gy_from_cgy(param))}Gy[%]", level.scaleb(2)
            else:
                metric, limit = f"V{number_text(gy_from_cgy(param))}Gy[cc]", level
        priority, note = "mandatory", ""
        p = _field(g, "Priority")
        if p:
            if not p.isdigit() or int(p) < 1:
                fail(path, f"{where}: Priority must be a whole number >= 1, not {p!r}")
            priority = "mandatory" if int(p) == 1 else "optimal"
            note = f"template priority {p}" if priority == "optimal" else ""
        goals.append(Goal(roi, metric, op, limit, where, priority=priority, note=note))
    return build(path, sha256, fmt=FORMAT, name=name, goals=goals, not_imported=skipped)
