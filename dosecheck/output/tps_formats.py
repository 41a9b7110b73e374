"""The planning system's DVH beside dosecheck's, for JSON and tables (``--compare-tps``)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from dosecheck.core.dvh import DVH
    from dosecheck.core.structures import StructureDVH

__all__ = [
    "TPS_CSV_COLUMNS",
    "curve_record",
    "tps_csv_cells",
    "tps_explanation_lines",
    "tps_records",
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


def _num(v: float | None, digits: int = 4) -> float | None:
    return None if v is None or not math.isfinite(v) else round(float(v), digits)


def curve_record(d: DVH, curve_step_gy: float = 0.1) -> dict[str, list[float]]:
    """``{"dose_gy": [...], "volume_cc": [...]}``: the cumulative curve every step."""
    if d.is_empty:
        dose, vol = np.zeros(0), np.zeros(0)
    else:
        dose = np.arange(0.0, d.max_gy + curve_step_gy, curve_step_gy)
        vol = np.interp(dose, d.dose_edges_gy, d.cumulative_cc, right=0.0)
    return {
        "dose_gy": [round(float(x), 4) for x in dose],
        "volume_cc": [round(float(x), 5) for x in vol],
    }


def tps_records(item: StructureDVH) -> dict[str, Any]:
    """The ``tps``, ``tps_comparison`` and ``tps_note`` keys of one structure's JSON.

    ``tps`` is ``None`` when the RTDOSE has no (readable) DVH for the ROI.
    """
    r = item.tps
    if r is None:
        return {"tps": None, "tps_comparison": None, "tps_note": "not compared"}
    tps: dict[str, Any] | None = None
    if r.tps is not None and r.curve is not None and r.curve.dvh is not None:
        d = r.curve.dvh
        t = r.tps
        tps = {
            "item": t.item,
            "source": t.source,
            "rois": [{"number": n, "contribution": how} for n, how in t.rois],
            "dvh_type": t.dvh_type,
            "dose_units": t.dose_units,
            "volume_units": t.volume_units,
            "volume_cc": _num(d.volume_cc) if r.curve.volume_known else None,
            "min_gy": _num(d.min_gy),
            "mean_gy": _num(d.mean_gy),
            "max_gy": _num(d.max_gy),
            "bin_width_gy": _num(r.curve.bin_width_gy, 6),
            "findings": list(r.curve.findings),
            "dvh": curve_record(d),
        }
    comparison = r.comparison.to_dict() if r.comparison is not None else None
    return {"tps": tps, "tps_comparison": comparison, "tps_note": r.note}


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
    rec = tps_records(item)
    t, c = rec["tps"], rec["tps_comparison"]
    if t is None:
        return [""] * len(TPS_CSV_COLUMNS)
    cells: list[object] = [t["volume_cc"], t["min_gy"], t["mean_gy"], t["max_gy"]]
    if c is None:
        return [*cells, "", "", ""]
    return [*cells, c["volume_pct"], c["mean_gy"], "true" if c["agree"] else "false"]
