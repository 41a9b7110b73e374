"""Rendering DVH results as JSON, CSV or a rich table."""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from dosecheck.core.structures import StructureDVH


def _num(v: float, digits: int = 4) -> float | None:
    return None if v is None or math.isnan(v) else round(float(v), digits)


def dvh_record(item: StructureDVH, curve_step_gy: float = 0.1) -> dict[str, Any]:
    """The JSON object of one structure's DVH.

    The curve is the cumulative DVH sampled every ``curve_step_gy`` (metrics are always
    computed from the full-resolution histogram, not from this curve).
    """
    s, d = item.structure, item.dvh
    if d.is_empty:
        dose, vol = np.zeros(0), np.zeros(0)
    else:
        stop = d.max_gy + curve_step_gy
        dose = np.arange(0.0, stop, curve_step_gy)
        vol = np.interp(dose, d.dose_edges_gy, d.cumulative_cc, right=0.0)
    return {
        "name": s.name,
        "number": s.number,
        "interpreted_type": s.interpreted_type,
        "volume_cc": _num(d.volume_cc),
        "min_gy": _num(d.min_gy),
        "mean_gy": _num(d.mean_gy),
        "max_gy": _num(d.max_gy),
        "outside_grid_cc": _num(d.outside_grid_cc),
        "warnings": list(d.warnings),
        "dvh": {
            "dose_gy": [round(float(x), 4) for x in dose],
            "volume_cc": [round(float(x), 5) for x in vol],
        },
    }


def dvh_json(items: Sequence[StructureDVH], meta: dict[str, Any], warnings: list[str]) -> str:
    doc = dict(meta)
    doc["structures"] = [dvh_record(i) for i in items]
    doc["warnings"] = warnings + [w for i in items for w in i.dvh.warnings]
    return json.dumps(doc, indent=1)


STAT_COLUMNS = ("name", "number", "volume_cc", "min_gy", "mean_gy", "max_gy", "outside_grid_cc")


def dvh_csv(items: Sequence[StructureDVH]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(STAT_COLUMNS)
    for i in items:
        r = dvh_record(i)
        w.writerow(["" if r[c] is None else r[c] for c in STAT_COLUMNS])
    return buf.getvalue()


def dvh_table(items: Sequence[StructureDVH], title: str):  # -> rich.table.Table
    from rich.table import Table

    t = Table(title=title)
    for col, justify in (
        ("ROI", "left"),
        ("#", "right"),
        ("Volume (cc)", "right"),
        ("Min (Gy)", "right"),
        ("Mean (Gy)", "right"),
        ("Max (Gy)", "right"),
        ("Outside grid (cc)", "right"),
    ):
        t.add_column(col, justify=justify)  # type: ignore[arg-type]

    def f(v: float, p: int = 2) -> str:
        return "—" if v is None or math.isnan(v) else f"{v:.{p}f}"

    for i in items:
        d = i.dvh
        t.add_row(
            i.structure.name,
            str(i.structure.number),
            f(d.volume_cc),
            f(d.min_gy),
            f(d.mean_gy),
            f(d.max_gy),
            f(d.outside_grid_cc) if d.outside_grid_cc else "0",
        )
    return t
