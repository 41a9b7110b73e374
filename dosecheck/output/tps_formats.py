"""The planning system's DVH beside dosecheck's, for JSON and tables (``--compare-tps``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dosecheck.core.structures import StructureDVH

__all__ = [
    "TPS_CSV_COLUMNS",
    "tps_csv_cells",
    "tps_explanation_lines",
    "tps_table_cells",
    "tps_table_columns",
]

#: Extra CSV columns of ``dvh --format csv --compare-tps``.
TPS_CSV_COLUMNS = (
    "tps_volume_cc",
    "tps_min_gy",
    "tps_mean_gy",
    "tps_max_gy",
    "tps_volume_pct_diff",
    "tps_mean_gy_diff",
    "tps_agree",
)


def tps_table_columns() -> tuple[tuple[str, str], ...]:
    """Extra (header, justify) columns of the DVH table with ``--compare-tps``."""
    return (
        ("TPS vol (cc)", "right"),
        ("ΔV %", "right"),
        ("TPS mean", "right"),
        ("Δmean (Gy)", "right"),
        ("Agree", "center"),
    )


def tps_table_cells(item: StructureDVH) -> tuple[str, ...]:
    """The extra cells of one row (``—`` where there is nothing to compare)."""
    r = item.tps
    if r is None or r.curve is None or r.curve.dvh is None:
        return ("—",) * 5
    d = r.curve.dvh
    c = r.comparison
    vol = f"{d.volume_cc:.2f}" if r.curve.volume_known else "(%)"
    if c is None:
        return (vol, "—", f"{d.mean_gy:.2f}", "—", "—")
    dv = "—" if c.volume_pct is None else f"{c.volume_pct:+.1f}"
    return (vol, dv, f"{d.mean_gy:.2f}", f"{c.mean_gy:+.3f}", "yes" if c.agree else "NO")


def tps_explanation_lines(items: Sequence[StructureDVH], notes: Sequence[str]) -> list[str]:
    """Lines under the table: each compared ROI's explanations, then the plan's notes."""
    out: list[str] = []
    for i in items:
        r = i.tps
        if r is None:
            continue
        said = list(r.comparison.explanations) if r.comparison is not None else []
        if r.note and r.tps is not None:  # ROIs without a TPS DVH are only in the JSON
            said.append(r.note)
        for s in said:
            out.append(f"{i.structure.name}: {s}")
    out += [f"TPS: {n}" for n in notes]
    return out


def tps_csv_cells(item: StructureDVH) -> list[object]:
    """The :data:`TPS_CSV_COLUMNS` cells of one structure (empty where none)."""
    from dosecheck.core.tps_plan import tps_record

    rec = tps_record(item)
    t, c = rec["tps"], rec["tps_comparison"]
    if t is None:
        return [""] * len(TPS_CSV_COLUMNS)
    cells: list[object] = [t["volume_cc"], t["min_gy"], t["mean_gy"], t["max_gy"]]
    if c is None:
        return [*cells, "", "", ""]
    return [*cells, c["volume_pct"], c["mean_gy"], "true" if c["agree"] else "false"]
