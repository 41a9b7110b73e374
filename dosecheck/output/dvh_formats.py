"""Rendering DVH results as JSON, CSV or a rich table."""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from dosecheck.output.csv_safe import safe_row
from dosecheck.output.tps_formats import (
    TPS_CSV_COLUMNS,
    tps_csv_cells,
    tps_table_cells,
    tps_table_columns,
)

if TYPE_CHECKING:
    from dosecheck.core.structures import StructureDVH


def _num(v: float, digits: int = 4) -> float | None:
    return None if v is None or math.isnan(v) else round(float(v), digits)


def dvh_record(
    item: StructureDVH, curve_step_gy: float = 0.1, *, compare_tps: bool = False
) -> dict[str, Any]:
    """The JSON object of one structure's DVH.

    The curve is the cumulative DVH sampled every ``curve_step_gy`` (metrics are always
    computed from the full-resolution histogram, not from this curve). With
    ``compare_tps`` the object gains ``tps``, ``tps_comparison`` and ``tps_note``
    (:func:`dosecheck.core.tps_plan.tps_record`).
    """
    s, d = item.structure, item.dvh
    record = {
        "name": s.name,
        "number": s.number,
        "interpreted_type": s.interpreted_type,
        "volume_cc": _num(d.volume_cc),
        "min_gy": _num(d.min_gy),
        "mean_gy": _num(d.mean_gy),
        "max_gy": _num(d.max_gy),
        "outside_grid_cc": _num(d.outside_grid_cc),
        "warnings": list(d.warnings),
        "dvh": d.sampled_record(curve_step_gy),
    }
    if compare_tps:
        from dosecheck.core.tps_plan import tps_record

        record.update(tps_record(item))
    return record


def dvh_json(
    items: Sequence[StructureDVH],
    meta: dict[str, Any],
    warnings: list[str],
    *,
    compare_tps: bool = False,
) -> str:
    doc = dict(meta)
    doc["structures"] = [dvh_record(i, compare_tps=compare_tps) for i in items]
    doc["warnings"] = warnings + [w for i in items for w in i.dvh.warnings]
    return json.dumps(doc, indent=1)


STAT_COLUMNS = ("name", "number", "volume_cc", "min_gy", "mean_gy", "max_gy", "outside_grid_cc")


def dvh_csv(items: Sequence[StructureDVH], *, compare_tps: bool = False) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(STAT_COLUMNS + (TPS_CSV_COLUMNS if compare_tps else ()))
    for i in items:
        r = dvh_record(i)
        extra = tps_csv_cells(i) if compare_tps else []
        w.writerow(safe_row([*(r[c] for c in STAT_COLUMNS), *extra]))
    return buf.getvalue()


def dvh_table(
    items: Sequence[StructureDVH], title: str, *, compare_tps: bool = False
):  # -> rich.table.Table
    from rich.table import Table

    t = Table(title=title)
    extra = tps_table_columns() if compare_tps else ()
    for col, justify in (
        ("ROI", "left"),
        ("#", "right"),
        ("Volume (cc)", "right"),
        ("Min (Gy)", "right"),
        ("Mean (Gy)", "right"),
        ("Max (Gy)", "right"),
        ("Outside grid (cc)", "right"),
        *extra,
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
            *(tps_table_cells(i) if compare_tps else ()),
        )
    return t
