"""Compare dosecheck with the Nelms et al. (2015) analytical DVH data set.

B. E. Nelms et al., "Methods, software and datasets to verify DVH calculations against
analytical values: Twenty years of progress", Med. Phys. 42(8), 2015. The data set
(spheres, cylinders and cones in 1 Gy/mm linear dose gradients on 1, 2 and 3 mm grids,
contours 0.2–3 mm apart, with analytical values of the true shapes plus half-slice end
caps on flat ends, and Dmin/Dmax at half-slice end caps everywhere) is not
shipped with dosecheck; point this module at a copy laid out as in the ``pps``
repository: ``STRUCTURES/*.dcm``, ``DOSE GRIDS/Linear_{AntPost,SupInf}_{1,2,3}mm_Aligned.dcm``
and ``analytical_points.csv``.

Run ``python -m dosecheck.validation.nelms PATH`` for the table.
"""

from __future__ import annotations

import csv
import dataclasses
import sys
from dataclasses import dataclass
from pathlib import Path

METRICS = ("Volume", "Dmin", "Dmax", "Dmean", "D99", "D95", "D5", "D1", "D0.03cc")
_CSV_COLUMNS = (
    "Total Volume (cc)",
    "Dmin",
    "Dmax",
    "Dmean",
    "D99",
    "D95",
    "D5",
    "D1",
    "D0.03cc",
)
THRESHOLD_PERCENT = 3.0


@dataclass(frozen=True)
class NelmsRow:
    """One structure / dose-grid pairing with analytical and computed values."""

    structure: str
    contour_spacing: str
    dose_voxel_mm: int
    gradient: str  # "AP" or "SI"
    analytical: tuple[float, ...]  # volume (cc) then doses (Gy), in METRICS order
    computed: tuple[float, ...]

    @property
    def errors_percent(self) -> tuple[float, ...]:
        return tuple(
            100.0 * (c - a) / a for c, a in zip(self.computed, self.analytical, strict=True)
        )

    @property
    def n_over(self) -> int:
        return sum(abs(e) > THRESHOLD_PERCENT for e in self.errors_percent)


def run(folder: str | Path, end_caps: str = "half-slice") -> list[NelmsRow]:
    """Compute every 1, 2 and 3 mm row of the data set with dosecheck.

    ``end_caps``: the engine's end-cap convention (``"half-slice"``, ``"none"`` or
    ``"shape"``, see :mod:`dosecheck.core.end_caps`).
    """
    from dosecheck.core.end_caps import EndCaps
    from dosecheck.core.engine import EngineSettings, compute_dvh
    from dosecheck.core.structures import end_cap_spacing, structure_set_spacing
    from dosecheck.dicom.dose import read_rtdose
    from dosecheck.dicom.structures import read_rtstruct

    folder = Path(folder)
    settings = EngineSettings(end_caps=EndCaps(end_caps))
    grids = {}
    rows = []
    with open(folder / "analytical_points.csv", newline="") as fh:
        table = list(csv.DictReader(fh))
    for r in table:
        voxel = r["Dose Voxel (mm)"].strip()
        if voxel not in ("1", "2", "3"):
            continue  # the 0.4 x 0.2 x 0.4 mm grids are not in the public snapshot
        name = r["Structure name"].replace("Cone__02", "Cone_02")
        gradient = "AP" if "AP" in r["Gradient direction"] else "SI"
        kind = "AntPost" if gradient == "AP" else "SupInf"
        dose_path = folder / "DOSE GRIDS" / f"Linear_{kind}_{voxel}mm_Aligned.dcm"
        if dose_path not in grids:
            grids[dose_path] = read_rtdose(dose_path)
        sset = read_rtstruct(folder / "STRUCTURES" / f"{name}.dcm")
        roi = next(s for s in sset.structures if not s.is_empty)
        d = compute_dvh(
            roi,
            grids[dose_path],
            slice_thickness_mm=end_cap_spacing(roi, structure_set_spacing(sset)),
            settings=settings,
        )
        computed = (
            d.volume_cc,
            d.min_gy,
            d.max_gy,
            d.mean_gy,
            d.dose_at_volume_percent(99),
            d.dose_at_volume_percent(95),
            d.dose_at_volume_percent(5),
            d.dose_at_volume_percent(1),
            d.dose_at_volume(0.03),
        )
        values = [float(r[c]) for c in _CSV_COLUMNS]
        analytical = (values[0], *(v / 100.0 for v in values[1:]))  # cGy -> Gy
        rows.append(
            NelmsRow(
                structure=name,
                contour_spacing=r["CT slice spacing (mm)"],
                dose_voxel_mm=int(voxel),
                gradient=gradient,
                analytical=analytical,
                computed=computed,
            )
        )
    return rows


def with_metrics_from(
    rows: list[NelmsRow], other: list[NelmsRow], metrics: tuple[str, ...]
) -> list[NelmsRow]:
    """``rows`` with the computed ``metrics`` taken from ``other`` (the same rows, in order).

    For scoring one convention's volumes and D metrics against another's extremes, e.g.
    ``shape`` with the half-slice Dmin/Dmax that the analytical table assumes.
    """
    take = [METRICS.index(m) for m in metrics]
    out = []
    for r, o in zip(rows, other, strict=True):
        if (r.structure, r.dose_voxel_mm, r.gradient) != (o.structure, o.dose_voxel_mm, o.gradient):
            raise ValueError(f"rows differ: {r.structure} vs {o.structure}")
        computed = tuple(o.computed[i] if i in take else v for i, v in enumerate(r.computed))
        out.append(dataclasses.replace(r, computed=computed))
    return out


def summary(rows: list[NelmsRow]) -> dict[str, object]:
    """Counts of values more than 3 % off, overall and per metric and grid size."""
    n_values = len(rows) * len(METRICS)
    n_over = sum(r.n_over for r in rows)
    per_metric = {
        m: sum(abs(r.errors_percent[i]) > THRESHOLD_PERCENT for r in rows)
        for i, m in enumerate(METRICS)
    }
    per_voxel = {
        v: sum(r.n_over for r in rows if r.dose_voxel_mm == v)
        for v in sorted({r.dose_voxel_mm for r in rows})
    }
    max_error = max((abs(e) for r in rows for e in r.errors_percent), default=0.0)
    return {
        "rows": len(rows),
        "max_error_percent": max_error,
        "values": n_values,
        "over_3_percent": n_over,
        "percent_over": 100.0 * n_over / n_values if n_values else 0.0,
        "per_metric": per_metric,
        "per_voxel_mm": per_voxel,
    }


def markdown(rows: list[NelmsRow]) -> str:
    """The full comparison as Markdown tables."""
    s = summary(rows)
    out = [
        f"{s['over_3_percent']} of {s['values']} values ({s['percent_over']:.1f} %) differ from "
        f"the analytical values by more than {THRESHOLD_PERCENT:g} % "
        f"({s['rows']} rows × {len(METRICS)} metrics).",
        "",
        "| metric | " + " | ".join(METRICS) + " |",
        "|---|" + "---|" * len(METRICS),
        "| values > 3 % off | " + " | ".join(str(v) for v in s["per_metric"].values()) + " |",  # type: ignore[union-attr]
        "",
        "Per-row errors (computed − analytical, % of analytical; **bold** beyond ±3 %):",
        "",
        "| structure | grid (mm) | gradient | " + " | ".join(METRICS) + " |",
        "|---|---|---|" + "---|" * len(METRICS),
    ]
    for r in rows:
        cells = [
            f"**{e:+.1f}**" if abs(e) > THRESHOLD_PERCENT else f"{e:+.1f}" for e in r.errors_percent
        ]
        out.append(
            f"| {r.structure} | {r.dose_voxel_mm} | {r.gradient} | " + " | ".join(cells) + " |"
        )
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        sys.stderr.write("usage: python -m dosecheck.validation.nelms PATH_TO_DATA_SET\n")
        return 2
    rows = run(args[0])
    sys.stdout.write(markdown(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
