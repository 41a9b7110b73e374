"""ProKnow scorecard templates (JSON).

A scorecard holds ``computed`` metrics ``{type, roi_name, arg_1, arg_2, objectives}``;
``objectives`` are ordered bins from best to worst (``{label, color, min|max}``), the
last one open-ended. dosecheck reads the boundary between the last bin and the one
before it as the limit: bins with ``max`` (an upper bound, ascending) give
``<= max``, bins with ``min`` (descending) give ``>= min``. The bins between the first
and that boundary are a tighter goal, not a looser variation of that limit: dosecheck's
variation limit (:attr:`Constraint.variation`) is looser than the limit checked, so
the first edge is kept as data (``TemplateImport.variations``) and listed. Doses are in
Gy.

=================================  =========================
``type``                           metric
=================================  =========================
``MIN_DOSE_ROI``                   ``Min[Gy]``
``MAX_DOSE_ROI``                   ``Max[Gy]``
``MEAN_DOSE_ROI``                  ``Mean[Gy]``
``DOSE_VOLUME_PERCENT_ROI``        ``D<arg_1>%[Gy]``
``DOSE_VOLUME_CC_ROI``             ``D<arg_1>cc[Gy]``
``VOLUME_PERCENT_DOSE_ROI``        ``V<arg_1>Gy[%]``
``VOLUME_CC_DOSE_ROI``             ``V<arg_1>Gy[cc]``
``VOLUME_OF_REGION``               ``Volume[cc]``
``CONFORMATION_NUMBER``            ``CN<arg_1>Gy[]``
=================================  =========================

``CONFORMATION_NUMBER`` is the conformation number of ``roi_name`` at the isodose
``arg_1`` Gy (van't Riet's and Paddick's ``TV_RI² / (TV × V_RI)``).
``CONFORMALITY_INDEX``, ``HOMOGENEITY_INDEX`` and ``INHOMOGENEITY_INDEX`` are listed as
not imported: ProKnow's documentation does not define them (HI takes a dose argument
there, unlike ICRU 83's); so is any other type (dose ranges, meterset, ...), and a
metric without objectives (ProKnow only reports it).
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

from dosecheck.checking.templates._common import (
    Goal,
    NotImported,
    TemplateImport,
    build,
    decimal,
    decode_text,
    fail,
    number_text,
)

__all__ = ["FORMAT", "TYPES", "looks_like", "read"]

FORMAT: Final = "proknow-scorecard"
TYPES: Final = {
    "MIN_DOSE_ROI": ("Min[Gy]", None),
    "MAX_DOSE_ROI": ("Max[Gy]", None),
    "MEAN_DOSE_ROI": ("Mean[Gy]", None),
    "DOSE_VOLUME_PERCENT_ROI": ("D{}%[Gy]", "%"),
    "DOSE_VOLUME_CC_ROI": ("D{}cc[Gy]", "cc"),
    "VOLUME_PERCENT_DOSE_ROI": ("V{}Gy[%]", "Gy"),
    "VOLUME_CC_DOSE_ROI": ("V{}Gy[cc]", "Gy"),
    "VOLUME_OF_REGION": ("Volume[cc]", None),
    "CONFORMATION_NUMBER": ("CN{}Gy[]", "Gy"),
}
_INDEX_REASON: Final = (
    "a plan-quality index ProKnow does not define publicly; dosecheck does not assume "
    "its formula (write CI95%[] or HI[] in a YAML set)"
)
_UNDEFINED_INDICES: Final = ("CONFORMALITY_INDEX", "HOMOGENEITY_INDEX", "INHOMOGENEITY_INDEX")


def _metrics(doc: Any) -> list[Any] | None:
    if isinstance(doc, dict) and isinstance(doc.get("computed"), list):
        return doc["computed"]
    if isinstance(doc, list):
        return doc
    return None


def looks_like(doc: Any) -> bool:
    """A scorecard: ``computed`` (or a bare list) of objects with ``type`` and
    ``roi_name``."""
    items = _metrics(doc)
    return bool(items) and all(
        isinstance(i, dict) and "type" in i and "roi_name" in i for i in items
    )


def read(path: Path, data: bytes, sha256: str) -> TemplateImport:
    """Read a scorecard (see the module docstring)."""
    try:
        doc = json.loads(decode_text(path, data))
    except json.JSONDecodeError as e:
        fail(path, f"invalid JSON: {e.msg} (column {e.colno})", line=e.lineno)
    except RecursionError:
        fail(path, "invalid JSON: nested too deeply")
    items = _metrics(doc)
    if not looks_like(doc) or items is None:
        fail(path, 'expected a ProKnow scorecard: {"computed": [{"type", "roi_name", ...}]}')
    name = str(doc.get("name") or path.stem) if isinstance(doc, dict) else path.stem
    goals: list[Goal] = []
    skipped: list[NotImported] = []
    for i, m in enumerate(items):
        where = f"computed[{i}]"
        roi = m.get("roi_name")
        kind = m.get("type")
        if not isinstance(roi, str) or not roi.strip():
            fail(path, f"{where}: roi_name must be a structure name, not {roi!r}")
        if not isinstance(kind, str):
            fail(path, f"{where}: type must be text, not {kind!r}")
        where = f"computed[{i}] ({kind} {roi})"
        if kind not in TYPES:
            why = "no dosecheck metric for this type"
            if kind in _UNDEFINED_INDICES:
                why = _INDEX_REASON
            skipped.append(NotImported(roi, kind, why, where))
            continue
        pattern, arg_unit = TYPES[kind]
        metric = pattern
        if arg_unit is not None:
            arg = decimal(path, _num(m.get("arg_1")), "arg_1", where)
            if arg_unit == "%" and arg > 100:
                fail(path, f"{where}: arg_1 {arg} is more than 100 % of the structure")
            metric = pattern.format(number_text(arg))
        if m.get("arg_2") is not None:
            skipped.append(
                NotImported(roi, kind, "arg_2 (a dose range) is not a dosecheck metric", where)
            )
            continue
        bins = m.get("objectives")
        if not bins:
            skipped.append(
                NotImported(roi, metric, "no objectives: ProKnow only reports it", where)
            )
            continue
        op, limit, variation = _limit(path, bins, where)
        goals.append(Goal(roi, metric, op, limit, where, variation_text=variation or ""))
        if variation:
            skipped.append(
                NotImported(
                    roi,
                    f"{metric} variation {variation}",
                    "a goal tighter than the imported limit is kept as data; dosecheck's "
                    "variation is a looser limit (docs/constraints.md)",
                    where,
                )
            )
    return build(path, sha256, fmt=FORMAT, name=name, goals=goals, not_imported=skipped)


def _num(x: Any) -> str | None:
    if isinstance(x, bool) or x is None:
        return None if x is None else str(x)
    return str(x)


def _limit(path: Path, bins: Any, where: str) -> tuple[str, Decimal, str | None]:
    """``(comparator, limit, variation)`` from ordered objective bins."""
    if not isinstance(bins, list) or len(bins) < 2 or not all(isinstance(b, dict) for b in bins):
        fail(
            path,
            f"{where}: objectives must be a list of at least two bins "
            '({"label", "color", "max"} ... the last open-ended)',
        )
    bounded = bins[:-1]
    if all("max" in b for b in bounded) and "max" not in bins[-1]:
        key, op = "max", "<="
    elif all("min" in b for b in bounded) and "min" not in bins[-1]:
        key, op = "min", ">="
    else:
        fail(
            path,
            f"{where}: objectives must bound every bin but the last by 'max' (upper limits) "
            "or every one by 'min' (lower limits)",
        )
    edges = [decimal(path, _num(b.get(key)), f"objective {key}", where) for b in bounded]
    ordered = edges == sorted(edges) if key == "max" else edges == sorted(edges, reverse=True)
    if not ordered:
        fail(path, f"{where}: objective bins must go from best to worst ({key} values in order)")
    variation = f"{op}{number_text(edges[0])} goal" if len(edges) > 1 else None
    return op, edges[-1], variation
