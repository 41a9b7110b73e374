"""The archive summary: one self-contained HTML file over a batch results database.

:func:`render_archive_report` (``dosecheck results DB --report FILE.html``) reads the
latest evaluation of every plan (the ``latest_plans`` view, through
:meth:`~dosecheck.batch.database.ResultsDB.latest`, so ``--since`` and
``--failed-only`` select the same plans as the other ``results`` formats) and writes,
with the same rules as the plan report (:mod:`dosecheck.report.html`: inline CSS and
SVG, no script, a Content-Security-Policy that forbids any fetch, an A4 print
stylesheet):

* the identity of the archive: database path, the runs with their dates, the number
  of plans that pass, fail or could not be evaluated (``#totals``, ``data-pass`` …);
* the pass rate of every constraint (``table#pass-rates``, one ``tr.constraint`` per
  constraint with ``data-set``, ``data-structure``, ``data-metric``, ``data-limit``,
  ``data-n-evaluated``, ``data-n-pass``, ``data-n-fail``, ``data-n-not-evaluated`` and
  ``data-pass-rate``, a JSON number or ``null``). A constraint is identified by its
  set's name, structure, metric as written, comparator, limit as written and
  priority; "evaluated" means judged pass or fail; the pass rate is pass / evaluated;
* per constraint (``section.constraint-card``) the distribution of its values over
  the plans (``figure.histogram``, a matplotlib histogram as inline SVG: passing
  values and failing ones stacked in their colours, the limit as a vertical line
  ``g.dvh-limit``, the failing side shaded, a tick per failing plan along the axis
  whose hover text names it) and the plans with the smallest margin
  (``table.worst``);
* the plans in error with their messages (``table#errors``) and the DICOM files that
  could not be read during discovery;
* the numbers of the pass-rate table as JSON (``script#archive-json``, data only).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from dosecheck import __version__
from dosecheck._optional import require
from dosecheck.report._html import A4_PAGE_CSS, CMP, attr, css_string, embedded_json, text
from dosecheck.report.plots import STATUS_COLORS

__all__ = [
    "WORST_PLANS",
    "ConstraintStats",
    "constraint_stats",
    "histogram_svg",
    "render_archive_report",
]

#: Plans listed per constraint in the "worst plans" table.
WORST_PLANS = 5
#: Runs listed when no ``--since`` is given (the most recent ones).
_MAX_RUNS = 25
#: Failing plans drawn as ticks with a hover text, per histogram.
_MAX_TITLED_TICKS = 200
_MAX_LISTED_ERRORS = 500

_COLORS = {**STATUS_COLORS, "error": "#8250df"}
_BAR_PASS = "#57a773"  # a lighter green: bars, not text


def _num(x: float | None, unit: str = "", *, signed: bool = False) -> str:
    from dosecheck.output.check_formats import format_value

    return format_value(x, unit, signed=signed)


def _when(utc: str | None) -> str:
    """``2024-06-01T09:58:12.123456Z`` → ``2024-06-01 09:58 UTC``."""
    if not utc:
        return "—"
    text = str(utc)
    if len(text) >= 16 and text[10] == "T":
        return f"{text[:10]} {text[11:16]} UTC"
    return text


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' * (n != 1)}"


def _finite(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


# --- the numbers -------------------------------------------------------------------------------
@dataclass
class _Point:
    """One plan's result for one constraint."""

    entry: dict[str, Any]
    record: dict[str, Any]

    @property
    def value(self) -> float | None:
        v = self.record.get("value")
        return float(v) if _finite(v) else None

    @property
    def margin(self) -> float | None:
        m = self.record.get("margin")
        return float(m) if _finite(m) else None

    @property
    def limit(self) -> float | None:
        x = self.record.get("limit")
        return float(x) if _finite(x) else None

    @property
    def status(self) -> str:
        return str(self.record.get("status"))

    def who(self) -> str:
        plan = self.entry["plan"]
        return f"{plan.get('patient_id') or '?'} / {plan.get('plan_label') or '(no RTPLAN)'}"


@dataclass
class ConstraintStats:
    """One constraint over the plans of the report."""

    set_name: str
    structure: str
    metric: str
    comparator: str
    limit_as_written: str
    priority: str
    unit: str
    dose_basis: str
    order: int
    points: list[_Point] = field(default_factory=list)

    @property
    def n_pass(self) -> int:
        return sum(p.status == "pass" for p in self.points)

    @property
    def n_fail(self) -> int:
        return sum(p.status == "fail" for p in self.points)

    @property
    def n_not_evaluated(self) -> int:
        return sum(p.status not in ("pass", "fail") for p in self.points)

    @property
    def n_evaluated(self) -> int:
        return self.n_pass + self.n_fail

    @property
    def pass_rate(self) -> float | None:
        n = self.n_evaluated
        return self.n_pass / n if n else None

    @property
    def fail_word(self) -> str:
        return "fail" if self.priority == "mandatory" else "not met"

    @property
    def limits(self) -> list[float]:
        return sorted({x for p in self.points if (x := p.limit) is not None})

    def limit_text(self) -> str:
        """The limit as written, with ≤/≥ and the unit (``< 300 cc``, ``≤ 107%``)."""
        cmp = CMP.get(self.comparator, self.comparator)
        w = self.limit_as_written
        if w.endswith("%"):
            text = f"{cmp} {w}" + ("" if self.unit == "%" else " of Rx")
        elif self.unit == "%":
            text = f"{cmp} {w}%"
        else:
            text = f"{cmp} {w} {self.unit}".rstrip()
        if self.dose_basis and self.dose_basis != "physical":
            text += f" ({self.dose_basis})"
        return text

    def title(self) -> str:
        return f"{self.structure} {self.metric} {self.limit_text()}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "constraint_set": self.set_name,
            "structure": self.structure,
            "metric": self.metric,
            "comparator": self.comparator,
            "limit_as_written": self.limit_as_written,
            "limit": self.limit_text(),
            "unit": self.unit,
            "priority": self.priority,
            "n_evaluated": self.n_evaluated,
            "n_pass": self.n_pass,
            "n_fail": self.n_fail,
            "n_not_evaluated": self.n_not_evaluated,
            "pass_rate": self.pass_rate,
        }


def constraint_stats(entries: list[dict[str, Any]]) -> list[ConstraintStats]:
    """The constraints of ``entries`` (``ResultsDB.latest``), each with its results,
    in the order of their constraint set (sets by name)."""
    rows: dict[tuple[str, ...], ConstraintStats] = {}
    set_order: dict[str, int] = {}
    for e in entries:
        name = str((e.get("constraint_set") or {}).get("name") or "(no constraint set)")
        set_order.setdefault(name, len(set_order))
        for i, r in enumerate(e.get("results") or []):
            written = r.get("limit_as_written")
            if written is None:
                written = "" if r.get("limit") is None else json.dumps(r.get("limit"))
            key = (
                name,
                str(r.get("structure")),
                str(r.get("metric")),
                str(r.get("comparator")),
                str(written),
                str(r.get("priority") or "mandatory"),
                str(r.get("dose_basis") or "physical"),
            )
            row = rows.get(key)
            if row is None:
                row = rows[key] = ConstraintStats(
                    set_name=key[0],
                    structure=key[1],
                    metric=key[2],
                    comparator=key[3],
                    limit_as_written=key[4],
                    priority=key[5],
                    unit=str(r.get("unit") or ""),
                    dose_basis=key[6],
                    order=i,
                )
            row.order = min(row.order, i)
            row.points.append(_Point(e, r))
    return sorted(rows.values(), key=lambda r: (r.set_name.casefold(), r.order, r.structure))


# --- the histogram -----------------------------------------------------------------------------
def _nice(x: float) -> float:
    """The smallest of 1, 2, 2.5, 5 × 10^k that is at least ``x``."""
    if x <= 0 or not math.isfinite(x):
        return 1.0
    exp = math.floor(math.log10(x))
    for m in (1.0, 2.0, 2.5, 5.0, 10.0):
        if m * 10.0**exp >= x * (1 - 1e-9):
            return m * 10.0**exp
    return 10.0 ** (exp + 1)  # pragma: no cover


def _bin_edges(values: list[float], limits: list[float]) -> list[float]:
    """Bins of a "nice" width over the values and the limits, one edge on the limit."""
    lo = min([*values, *limits])
    hi = max([*values, *limits])
    span = hi - lo
    n_bins = min(40, max(10, round(2.5 * len(values) ** (1.0 / 3.0))))
    if span <= 0:
        span = max(abs(hi) * 0.2, 1.0)
        lo, hi = lo - span / 2, hi + span / 2
    width = _nice(span / n_bins)
    anchor = limits[0] if len(limits) == 1 else lo
    start = anchor - math.ceil((anchor - lo) / width - 1e-9) * width
    edges = [start]
    while edges[-1] < hi - 1e-12 * max(1.0, abs(hi)) or len(edges) < 2:
        edges.append(start + len(edges) * width)
    return edges


def _plan_hover(p: _Point, unit: str, fail_word: str) -> str:
    status = p.status.upper() if p.status != "fail" else fail_word.upper()
    return (
        f"{p.who()}: {_num(p.value, unit)} (margin {_num(p.margin, unit, signed=True)}) "
        f"{status} — {p.entry['plan'].get('path')}"
    )


def histogram_svg(row: ConstraintStats, id_prefix: str) -> str:
    """The distribution of ``row``'s values as inline SVG (see the module docstring)."""
    require("matplotlib", extra="plot", feature="the archive report")
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch
    from matplotlib.ticker import MaxNLocator
    from matplotlib.transforms import blended_transform_factory

    from dosecheck.report.plots import SvgTitle, svg_text

    unit = row.unit
    fail_color = _COLORS["fail"] if row.priority == "mandatory" else _COLORS["not_met"]
    pts = [p for p in row.points if p.value is not None and p.status in ("pass", "fail")]
    passing = [p.value for p in pts if p.status == "pass" and p.value is not None]
    failing = [p.value for p in pts if p.status == "fail" and p.value is not None]
    limits = row.limits
    upper = row.comparator in ("<", "<=")  # the plan fails above the limit
    edges = _bin_edges(passing + failing, limits)
    width = edges[1] - edges[0]
    counts_pass, _ = np.histogram(passing, bins=edges)
    counts_fail, _ = np.histogram(failing, bins=edges)
    y_top = max(1, int((counts_pass + counts_fail).max()))

    titles: dict[str, SvgTitle] = {}
    fig = Figure(figsize=(6.0, 2.75), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    x0, x1 = edges[0] - 0.6 * width, edges[-1] + 0.6 * width
    ax.set_xlim(x0, x1)
    ax.set_ylim(-0.13 * y_top, 1.15 * y_top)

    def fmt_range(i: int) -> str:
        return f"{_num(edges[i], unit)} to {_num(edges[i + 1], unit)}"

    # The failing side, shaded; lighter between the limits when they vary across plans.
    if limits:
        strict_l, loose_l = (limits[0], limits[-1]) if upper else (limits[-1], limits[0])
        ax.axvspan(
            loose_l if upper else x0,
            x1 if upper else loose_l,
            color=fail_color,
            alpha=0.10,
            lw=0,
            zorder=0,
        )
        if len(limits) > 1:
            ax.axvspan(
                min(strict_l, loose_l), max(strict_l, loose_l), color=fail_color, alpha=0.05, lw=0
            )
    bars_p = ax.bar(
        edges[:-1],
        counts_pass,
        width=width,
        align="edge",
        color=_BAR_PASS,
        edgecolor="white",
        linewidth=0.8,
        zorder=2,
    )
    bars_f = ax.bar(
        edges[:-1],
        counts_fail,
        width=width,
        align="edge",
        bottom=counts_pass,
        color=fail_color,
        edgecolor="white",
        linewidth=0.8,
        zorder=2,
    )
    for i, (bp, bf) in enumerate(zip(bars_p, bars_f, strict=True)):
        if counts_pass[i]:
            gid = f"bin-{i}-pass"
            bp.set_gid(gid)
            n = int(counts_pass[i])
            titles[gid] = SvgTitle(f"{n} plan{'s' * (n != 1)} pass, {fmt_range(i)}")
        if counts_fail[i]:
            gid = f"bin-{i}-fail"
            bf.set_gid(gid)
            n = int(counts_fail[i])
            titles[gid] = SvgTitle(f"{n} plan{'s' * (n != 1)} {row.fail_word}, {fmt_range(i)}")
    ax.axhline(0, color="#59636e", lw=0.8, zorder=3)

    # A tick per plan under the axis: failing plans (with their name on hover) always,
    # passing ones when there are not too many.
    rug = blended_transform_factory(ax.transData, ax.transAxes)  # x: data, y: axes
    band = (0.015, 0.085)
    if len(passing) <= 400:
        ax.vlines(passing, *band, transform=rug, color=_BAR_PASS, lw=0.9, alpha=0.8, zorder=3)
    worst_first = sorted(
        (p for p in pts if p.status == "fail"),
        key=lambda p: p.margin if p.margin is not None else -math.inf,
    )
    for k, p in enumerate(worst_first[:_MAX_TITLED_TICKS]):
        (tick,) = ax.plot(
            [p.value, p.value], band, transform=rug, color=fail_color, lw=1.6, zorder=4
        )
        tick.set_gid(f"rug-{k}")
        titles[f"rug-{k}"] = SvgTitle(_plan_hover(p, unit, row.fail_word))
    rest = [p.value for p in worst_first[_MAX_TITLED_TICKS:]]
    if rest:
        ax.vlines(rest, *band, transform=rug, color=fail_color, lw=1.2, zorder=4)

    # The limit(s).
    for k, lim in enumerate(limits[:8]):
        line = ax.axvline(
            lim,
            color="#1f2328",
            lw=1.8 if len(limits) == 1 else 1.1,
            ls="-" if len(limits) == 1 else "--",
            zorder=5,
        )
        gid = f"limit-{k}"
        line.set_gid(gid)
        titles[gid] = SvgTitle(
            f"Limit {CMP.get(row.comparator, row.comparator)} {_num(lim, unit)}"
            + (f" ({row.limit_as_written} of Rx)" if row.limit_as_written.endswith("%") else ""),
            {"limit": json.dumps(lim)},
        )
    if limits:
        lim = limits[-1] if upper else limits[0]
        room_right = x1 - lim > lim - x0  # write the label on the roomier side of the line
        text = f"limit {_num(lim, unit)}"
        if len(limits) > 1:
            lim = limits[-1] if room_right else limits[0]
            text = f"limits {_num(limits[0], unit)} to {_num(limits[-1], unit)}"
        ax.text(
            lim,
            0.985,
            " " + re.sub(r"\.00\b", "", text) + " ",
            transform=rug,
            ha="left" if room_right else "right",
            va="top",
            fontsize=8,
            color="#1f2328",
            fontweight="bold",
            zorder=6,
            bbox={"boxstyle": "square,pad=0.1", "fc": "white", "ec": "none", "alpha": 0.75},
        )

    ticks = [t for t in MaxNLocator(integer=True, nbins=5).tick_values(0, y_top) if 0 <= t]
    ax.set_yticks([t for t in ticks if t <= 1.15 * y_top])
    ax.set_ylim(-0.13 * y_top, 1.15 * y_top)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.spines["left"].set_bounds(0, 1.15 * y_top)
    ax.grid(axis="y", color="#d1d9e0", lw=0.6, zorder=1)
    ax.set_axisbelow(True)
    ax.tick_params(labelsize=8, colors="#1f2328")
    xlabel = f"{row.structure} {row.metric}"
    if unit and f"[{unit}]" not in row.metric:
        xlabel += f" ({unit})"
    ax.set_xlabel(xlabel.replace("$", r"\$"), fontsize=8.5)
    ax.set_ylabel("plans", fontsize=8.5)
    handles = [
        Patch(color=_BAR_PASS, label="pass"),
        Patch(color=fail_color, label=row.fail_word),
        Line2D([], [], color="#1f2328", lw=1.8, label="limit"),
        Patch(color=fail_color, alpha=0.15, label="failing side"),
    ]
    fig.legend(
        handles=handles,
        loc="outside upper right",
        ncols=4,
        fontsize=7.5,
        frameon=False,
        handlelength=1.4,
        columnspacing=1.2,
    )
    return svg_text(fig, titles, inline=True, id_prefix=id_prefix, aria_label=row.title())


# --- the page ----------------------------------------------------------------------------------
_CSS = (
    """
:root {
  --pass: %(pass)s; --fail: %(fail)s; --not-met: %(not_met)s; --not-evaluated: %(ne)s;
  --error: %(error)s; --ink: #1f2328; --muted: #59636e; --rule: #d1d9e0; --head: #f3f5f7;
}
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%%; }
body {
  margin: 0 auto; padding: 24px 28px 40px; max-width: 1180px; color: var(--ink);
  font: 14px/1.45 "Segoe UI", "DejaVu Sans", "Liberation Sans", Arial, Helvetica, sans-serif;
  background: #fff;
}
h1 { font-size: 22px; margin: 0 0 2px; }
h2 { font-size: 17px; margin: 28px 0 10px; padding-bottom: 4px;
     border-bottom: 2px solid var(--rule); }
h3 { font-size: 15px; margin: 0; }
.subtitle { color: var(--muted); margin: 2px 0 0; }
code, .mono { font-family: "DejaVu Sans Mono", "Liberation Mono", Consolas, monospace;
              font-size: 12px; overflow-wrap: anywhere; }
a { color: inherit; }
.report-head { display: flex; gap: 20px; align-items: flex-end; justify-content: space-between;
               border-bottom: 1px solid var(--rule); padding-bottom: 16px; flex-wrap: wrap; }
.report-head .titles { flex: 1 1 420px; min-width: 0; }
.report-head .scope { margin-top: 8px; font-size: 13px; color: var(--muted); }
.report-head .scope b { color: var(--ink); }
.filter { display: inline-block; background: #fff8e5; border: 1px solid #e6c35c;
          border-radius: 4px; padding: 0 6px; color: #6b4b00; font-size: 12px; }
#totals { display: flex; gap: 10px; flex: 0 0 auto; }
.total { min-width: 92px; border: 1px solid var(--rule); border-top: 5px solid var(--muted);
         border-radius: 6px; padding: 6px 12px 8px; text-align: center; }
.total .n { font-size: 28px; font-weight: 800; line-height: 1.1;
            font-variant-numeric: tabular-nums; }
.total .what { font-size: 11px; letter-spacing: .07em; text-transform: uppercase;
               color: var(--muted); }
.total.pass { border-top-color: var(--pass); } .total.pass .n { color: var(--pass); }
.total.fail { border-top-color: var(--fail); } .total.fail .n { color: var(--fail); }
.total.error { border-top-color: var(--error); } .total.error .n { color: var(--error); }
.total.incomplete { border-top-color: #d4a72c; } .total.incomplete .n { color: #9a6700; }
.total.zero .n { color: var(--muted); }
.headline { margin: 12px 0 0; font-size: 13.5px; }
table { border-collapse: collapse; width: 100%%; }
th, td { text-align: left; vertical-align: top; padding: 5px 8px;
         border-bottom: 1px solid var(--rule); }
thead th { background: var(--head); font-size: 11.5px; text-transform: uppercase;
           letter-spacing: .04em; color: var(--muted); border-bottom: 2px solid var(--rule); }
table.kv th { width: 190px; font-weight: 600; color: var(--muted); white-space: nowrap; }
table.kv td { overflow-wrap: anywhere; }
td.num, th.num { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
td.limit { white-space: nowrap; }
table.runs td, table.runs th { font-size: 12.5px; }
table.runs td.archives { max-width: 300px; }
tr.group th { background: #fafbfc; font-size: 13px; color: var(--ink); padding-top: 9px;
              text-transform: none; letter-spacing: 0; }
tr.group th .count { font-weight: 400; color: var(--muted); }
tr.constraint td:first-child { border-left: 4px solid var(--pass); }
tr.constraint.has-fail td:first-child { border-left-color: var(--fail); }
tr.constraint.has-fail { background: #ffebe9; }
tr.constraint.has-not-met td:first-child { border-left-color: var(--not-met); }
tr.constraint.has-not-met { background: #fff5e0; }
tr.constraint.none-evaluated td:first-child { border-left-color: var(--not-evaluated); }
tr.constraint.none-evaluated { background: #f2f3f5; }
td.n-fail.some { color: var(--fail); font-weight: 700; }
tr.has-not-met td.n-fail.some { color: var(--not-met); }
.metric { font-family: "DejaVu Sans Mono", "Liberation Mono", Consolas, monospace;
          font-size: 12.5px; white-space: nowrap; }
td.rate { white-space: nowrap; width: 150px; }
.rate-text { display: inline-block; width: 54px; text-align: right; font-weight: 700;
             font-variant-numeric: tabular-nums; }
.rate-bar { display: inline-block; width: 80px; height: 9px; margin-left: 6px;
            background: #ffd8d3; border-radius: 2px; overflow: hidden; vertical-align: 0; }
.rate-bar span { display: block; height: 100%%; background: var(--pass); }
tr.priority-optimal .rate-bar { background: #ffe7c2; }
.badge { display: inline-block; border-radius: 4px; padding: 1px 7px; font-size: 11.5px;
         font-weight: 700; color: #fff; white-space: nowrap; }
.badge.pass { background: var(--pass); }
.badge.fail { background: var(--fail); }
.badge.not-met { background: var(--not-met); }
.badge.not-evaluated { background: var(--not-evaluated); }
.badge.error { background: var(--error); }
.legend-note { font-size: 12.5px; color: var(--muted); margin: 0 0 12px; }
.none { color: var(--muted); }
.constraint-card { border: 1px solid var(--rule); border-radius: 6px; margin: 0 0 16px;
                   padding: 10px 12px 8px; }
.constraint-card.has-fail { border-left: 4px solid var(--fail); }
.constraint-card.has-not-met { border-left: 4px solid var(--not-met); }
.card-head { display: flex; justify-content: space-between; gap: 12px; align-items: baseline;
             flex-wrap: wrap; margin-bottom: 4px; }
.card-head .set { color: var(--muted); font-size: 12.5px; }
.card-head .counts { font-size: 12.5px; color: var(--muted); white-space: nowrap; }
.card-body { display: grid; grid-template-columns: minmax(0, 58fr) minmax(0, 42fr); gap: 16px;
             align-items: start; }
figure { margin: 0; }
figure svg { display: block; width: 100%%; height: auto; }
figcaption { font-size: 12px; color: var(--muted); margin-top: 2px; }
table.worst td, table.worst th { font-size: 12.5px; padding: 4px 6px; }
table.worst caption { caption-side: top; text-align: left; font-size: 12px;
                      color: var(--muted); padding-bottom: 4px; }
table.worst tr.fail td { background: #ffebe9; }
table.worst tr.not-met td { background: #fff5e0; }
table.errors td { font-size: 12.5px; }
table.errors td.message { overflow-wrap: anywhere; }
footer { margin-top: 24px; font-size: 11.5px; color: var(--muted); border-top: 1px solid
         var(--rule); padding-top: 8px; }
"""
    + A4_PAGE_CSS
    + """@media print {
  body { max-width: none; padding: 0; font-size: 9pt; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  h2 { font-size: 12.5pt; margin-top: 14pt; break-after: avoid; page-break-after: avoid; }
  .total { min-width: 20mm; padding: 3pt 8pt; }
  .total .n { font-size: 18pt; }
  thead { display: table-header-group; }
  tr, figure, .constraint-card, table.kv, #totals {
    break-inside: avoid; page-break-inside: avoid;
  }
  table { break-inside: auto; }
  .card-body { grid-template-columns: minmax(0, 56fr) minmax(0, 44fr); gap: 8pt; }
  th, td { padding: 3pt 4pt; }
  thead th, table.worst th { font-size: 6.5pt; }
  .badge { font-size: 6.5pt; padding: 0 4px; }
  table.rates td, table.worst td, table.runs td, table.errors td, .metric { font-size: 8pt; }
  table.worst td { white-space: nowrap; }
  td.rate { width: auto; }
  .rate-text { width: auto; }
  .rate-bar { width: 36px; height: 7px; margin-left: 4px; }
  .legend-note, figcaption, .card-head .set, .card-head .counts, table.worst caption {
    font-size: 7.5pt;
  }
  a { text-decoration: none; }
}
"""
)


def _stylesheet(db_name: str) -> str:
    return _CSS % {
        "pass": _COLORS["pass"],
        "fail": _COLORS["fail"],
        "not_met": _COLORS["not_met"],
        "ne": _COLORS["not_evaluated"],
        "error": _COLORS["error"],
        "page_left": css_string(f"dosecheck archive summary — {db_name}"),
    }


def _counts(entries: list[dict[str, Any]]) -> dict[str, int]:
    return {
        s: sum(e["status"] == s for e in entries) for s in ("pass", "fail", "incomplete", "error")
    }


def _dose_scale_counts(entries: list[dict[str, Any]]) -> dict[str, int]:
    """Evaluated plans (not errors) per dose-scale verdict; ``not_recorded`` for plans
    recorded without one (before schema version 3)."""
    out: dict[str, int] = {}
    for e in entries:
        if e["status"] != "error":
            record = e.get("dose_scale")
            verdict = str(record["verdict"]) if record else "not_recorded"
            out[verdict] = out.get(verdict, 0) + 1
    return dict(sorted(out.items()))


def _dose_scale_line(entries: list[dict[str, Any]]) -> str:
    """``p#dose-scale-count``: how many evaluated plans have a dose scale that is not
    ``consistent`` with their RTPLAN (``data-not-consistent``, ``data-evaluated``)."""
    counts = _dose_scale_counts(entries)
    total = sum(counts.values())
    if not total:
        return ""
    others = {k: v for k, v in counts.items() if k != "consistent"}
    n = sum(others.values())
    detail = ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in others.items())
    return (
        f'<p class="headline" id="dose-scale-count" data-not-consistent="{n}" '
        f'data-evaluated="{total}">Dose scale not consistent with the RTPLAN: <b>{n}</b> of '
        f"<b>{total}</b> evaluated plans{text(f' ({detail})') if detail else ''}.</p>"
    )


def _filters_text(since: str | None, since_utc: str | None, failed_only: bool) -> list[str]:
    out = []
    if since_utc is not None:
        out.append(f"evaluated since {since} ({_when(since_utc)})")
    if failed_only:
        out.append("only plans that fail, are incomplete or have errors")
    return out


def _header(
    db: Path, entries: list[dict[str, Any]], rows: list[ConstraintStats], filters: list[str]
) -> str:
    c = _counts(entries)
    cards = [
        (
            '<div class="total" data-total="plans"><div class="n">'
            f'{len(entries)}</div><div class="what">plans</div></div>'
        ),
    ]
    for status in ("pass", "fail", "incomplete", "error"):
        word = status
        zero = " zero" if not c[status] else ""
        cards.append(
            f'<div class="total {status}{zero}" data-total="{status}"><div class="n">'
            f'{c[status]}</div><div class="what">{word}</div></div>'
        )
    mandatory = [r for r in rows if r.priority == "mandatory"]
    n_eval = sum(r.n_evaluated for r in mandatory)
    n_pass = sum(r.n_pass for r in mandatory)
    headline = ""
    if n_eval:
        headline = (
            f'<p class="headline">Mandatory constraint results: <b>{n_pass}</b> of '
            f"<b>{n_eval}</b> pass ({100.0 * n_pass / n_eval:.1f} %) over "
            f"{_plural(len(mandatory), 'constraint')} in "
            f"{_plural(len({r.set_name for r in rows}), 'constraint set')}.</p>"
        )
    scope = "Latest evaluation of each plan in the results database"
    filt = "".join(f' <span class="filter">{text(f)}</span>' for f in filters)
    return (
        '<header class="report-head"><div class="titles">'
        "<h1>Plan archive QA summary</h1>"
        f'<p class="subtitle">Results database <code id="db-path">{text(db)}</code></p>'
        f'<div class="scope">{scope}.{filt}</div>{headline}{_dose_scale_line(entries)}</div>'
        f'<div id="totals" data-plans="{len(entries)}" data-pass="{c["pass"]}" '
        f'data-fail="{c["fail"]}" data-incomplete="{c["incomplete"]}" '
        f'data-error="{c["error"]}">{"".join(cards)}</div></header>'
    )


def _runs_section(
    conn: Any,
    db: Path,
    entries: list[dict[str, Any]],
    since_utc: str | None,
    filters: list[str],
    total_evaluations: int,
    total_plans: int,
) -> str:
    runs = [dict(r) for r in conn.execute("SELECT * FROM runs ORDER BY id")]
    used: dict[int, int] = {}
    for e in entries:
        used[int(e["run_id"])] = used.get(int(e["run_id"]), 0) + 1
    if since_utc is not None:
        shown = [r for r in runs if r["id"] in used or (r["started_at"] or "") >= since_utc]
    else:
        shown = runs[-_MAX_RUNS:]
        shown_ids = {r["id"] for r in shown}
        shown = [r for r in runs if r["id"] in shown_ids or r["id"] in used]
    omitted = len(runs) - len(shown)
    sets: dict[str, int] = {}
    for e in entries:
        name = (e.get("constraint_set") or {}).get("name")
        if name:
            sets[name] = sets.get(name, 0) + 1
    first = min((e["evaluated_at"] for e in entries), default=None)
    last = max((e["evaluated_at"] for e in entries), default=None)
    kv = [
        ("Database", f'<span class="mono">{text(db)}</span>'),
        (
            "Plans in the database",
            text(f"{total_plans} ({total_evaluations} evaluations recorded)"),
        ),
        ("Plans in this summary", text(len(entries))),
        ("Selection", text("; ".join(filters) if filters else "all plans")),
        ("Evaluated", text(f"{_when(first)} to {_when(last)}" if first else None)),
        (
            "Constraint sets",
            "<br>".join(
                f"{text(n)} <span class='none'>({k} plan{'s' * (k != 1)})</span>"
                for n, k in sorted(sets.items())
            )
            or "—",
        ),
    ]
    kv_html = "".join(f'<tr><th scope="row">{text(k)}</th><td>{v}</td></tr>' for k, v in kv)
    rows = []
    for r in reversed(shown):
        try:
            archives = ", ".join(json.loads(r["archives"]))
        except (TypeError, ValueError):
            archives = str(r["archives"])
        counts = "—"
        if r["n_plans"] is not None:
            counts = (
                f"{r['n_plans']} found: {r['n_pass'] or 0} pass, {r['n_fail'] or 0} fail, "
                f"{r['n_error'] or 0} error"
            )
            if r["n_skipped"]:
                counts += f" ({r['n_skipped']} already recorded)"
        status_cls = {"finished": "pass", "interrupted": "fail"}.get(r["status"], "not-evaluated")
        rows.append(
            f'<tr class="run" data-run="{r["id"]}"><td class="num">{r["id"]}</td>'
            f"<td>{text(_when(r['started_at']))}</td><td>{text(_when(r['finished_at']))}</td>"
            f'<td><span class="badge {status_cls}">{text(r["status"])}</span></td>'
            f'<td class="archives mono">{text(archives)}</td><td>{text(r["constraints"])}</td>'
            f"<td>{text(counts)}</td><td class='num'>{used.get(r['id'], 0)}</td>"
            f"<td>{text(r['dosecheck_version'])}</td></tr>"
        )
    head = (
        "<thead><tr><th class='num'>Run</th><th>Started</th><th>Finished</th><th>Status</th>"
        "<th>Archives</th><th>Constraints</th><th>Plans</th>"
        "<th class='num' title='Plans whose latest evaluation is from this run'>In summary</th>"
        "<th>Version</th></tr></thead>"
    )
    note = ""
    if omitted:
        note = (
            f'<p class="legend-note">{omitted} other run(s) in the database are not listed '
            "(no plan of this summary comes from them).</p>"
        )
    runs_html = (
        f'<table class="runs" id="runs">{head}<tbody>{"".join(rows)}</tbody></table>{note}'
        if rows
        else '<p class="none">No runs recorded.</p>'
    )
    return (
        '<section id="archive"><h2>Archive and runs</h2>'
        f'<table class="kv" id="archive-identity"><tbody>{kv_html}</tbody></table>'
        f'<h3 style="margin:16px 0 6px">Runs ({len(runs)})</h3>{runs_html}</section>'
    )


def _rate_cell(row: ConstraintStats) -> str:
    rate = row.pass_rate
    if rate is None:
        return '<td class="rate"><span class="rate-text none">—</span></td>'
    return (
        f'<td class="rate"><span class="rate-text">{100.0 * rate:.1f} %</span>'
        f'<span class="rate-bar" aria-hidden="true"><span style="width:{100.0 * rate:.1f}%">'
        "</span></span></td>"
    )


def _row_class(row: ConstraintStats) -> str:
    if row.n_evaluated == 0:
        return "none-evaluated"
    if row.n_fail:
        return "has-fail" if row.priority == "mandatory" else "has-not-met"
    return "all-pass"


def _pass_rate_table(
    rows: list[ConstraintStats], entries: list[dict[str, Any]], filters: list[str]
) -> str:
    if not rows:
        return (
            '<section id="rates"><h2>Pass rate per constraint</h2>'
            '<p class="none">No constraint results: no plan in this summary could be '
            "evaluated.</p></section>"
        )
    per_set: dict[str, int] = {}
    for e in entries:
        name = (e.get("constraint_set") or {}).get("name")
        if name and e["status"] != "error":
            per_set[name] = per_set.get(name, 0) + 1
    body: list[str] = []
    current = None
    for k, r in enumerate(rows):
        if r.set_name != current:
            current = r.set_name
            n = per_set.get(current, 0)
            body.append(
                f'<tr class="group" data-set="{attr(current)}"><th colspan="9">{text(current)} '
                f'<span class="count">— {n} plan{"s" * (n != 1)}</span></th></tr>'
            )
        rate = r.pass_rate
        some = " some" if r.n_fail else ""
        body.append(
            f'<tr class="constraint {_row_class(r)} priority-{attr(r.priority)}" '
            f'data-set="{attr(r.set_name)}" data-structure="{attr(r.structure)}" '
            f'data-metric="{attr(r.metric)}" data-comparator="{attr(r.comparator)}" '
            f'data-limit="{attr(r.limit_as_written)}" data-priority="{attr(r.priority)}" '
            f'data-n-evaluated="{r.n_evaluated}" data-n-pass="{r.n_pass}" '
            f'data-n-fail="{r.n_fail}" data-n-not-evaluated="{r.n_not_evaluated}" '
            f'data-pass-rate="{attr(json.dumps(rate))}">'
            f"<td>{text(r.structure)}</td>"
            f'<td class="metric"><a href="#constraint-{k}">{text(r.metric)}</a></td>'
            f'<td class="limit">{text(r.limit_text())}</td><td>{text(r.priority)}</td>'
            f'<td class="num n-evaluated">{r.n_evaluated}</td>'
            f'<td class="num n-pass">{r.n_pass}</td>'
            f'<td class="num n-fail{some}">{r.n_fail}</td>'
            f'<td class="num n-not-evaluated">{r.n_not_evaluated}</td>{_rate_cell(r)}</tr>'
        )
    head = (
        "<thead><tr><th>Structure</th><th>Metric</th><th>Limit</th><th>Priority</th>"
        "<th class='num'>Evaluated</th><th class='num'>Pass</th>"
        "<th class='num'>Fail</th><th class='num'>Not evaluated</th><th>Pass rate</th>"
        "</tr></thead>"
    )
    return (
        '<section id="rates"><h2>Pass rate per constraint</h2>'
        '<p class="legend-note">One row per constraint of each constraint set (grey rows: '
        "the set). <i>Evaluated</i> counts the plans whose result is pass or fail; the pass "
        "rate is pass / evaluated. A failed optimal constraint is \u201cnot met\u201d and "
        "does not fail its plan. Plans that could not be evaluated are listed under "
        '<a href="#errors">Plans in error</a>.'
        + (
            f" The rates are over the plans selected: {text('; '.join(filters))}."
            if filters
            else ""
        )
        + "</p>"
        f'<table class="rates" id="pass-rates">{head}<tbody>{"".join(body)}</tbody></table>'
        "</section>"
    )


def _worst_table(row: ConstraintStats) -> str:
    judged = [p for p in row.points if p.status in ("pass", "fail")]
    if not judged:
        return ""
    ranked = sorted(
        judged,
        key=lambda p: (
            p.margin if p.margin is not None else (-math.inf if p.status == "fail" else math.inf)
        ),
    )
    shown = ranked[:WORST_PLANS]
    unit = row.unit
    trs = []
    for p in shown:
        plan = p.entry["plan"]
        cls = (
            "pass" if p.status == "pass" else ("fail" if row.priority == "mandatory" else "not-met")
        )
        word = "PASS" if p.status == "pass" else row.fail_word.upper()
        trs.append(
            f'<tr class="{cls}" data-patient-id="{attr(plan.get("patient_id"))}" '
            f'data-margin="{attr(json.dumps(p.margin))}" title="{attr(plan.get("path"))}">'
            f"<td>{text(plan.get('patient_id'))}</td><td>{text(plan.get('plan_label'))}</td>"
            f'<td class="num">{text(_num(p.value, unit))}</td>'
            f'<td class="num">{text(_num(p.margin, unit, signed=True))}</td>'
            f'<td><span class="badge {cls}">{text(word)}</span></td></tr>'
        )
    more = ""
    if row.n_fail > len([p for p in shown if p.status == "fail"]):
        more = f"; {row.n_fail} {row.fail_word} in all (<code>--failed-only</code> lists them)"
    return (
        '<table class="worst">'
        f"<caption>Smallest margins: {len(shown)} of {len(judged)} plans{more}</caption>"
        "<thead><tr><th>Patient ID</th><th>Plan</th><th class='num'>Value</th>"
        f"<th class='num'>Margin</th><th>Status</th></tr></thead><tbody>{''.join(trs)}</tbody>"
        "</table>"
    )


def _stats_caption(row: ConstraintStats) -> str:
    import statistics

    values = [p.value for p in row.points if p.value is not None]
    if not values:
        return ""
    unit = row.unit
    parts = [
        f"median {_num(statistics.median(values), unit)}",
        f"range {_num(min(values), unit)} to {_num(max(values), unit)}",
    ]
    if len(row.limits) > 1:
        parts.append(
            f"the limit varies between plans ({_num(row.limits[0], unit)} to "
            f"{_num(row.limits[-1], unit)}): lighter shading where it fails some"
        )
    unplotted = sum(p.status == "fail" and p.value is None for p in row.points)
    if unplotted:
        parts.append(f"{unplotted} failed without a value (strict mode), not plotted")
    return "; ".join(parts) + "."


def _cards(rows: list[ConstraintStats]) -> str:
    if not rows:
        return ""
    parts = [
        '<section id="distributions"><h2>Distributions and worst plans</h2>'
        '<p class="legend-note">For each constraint: its values over the plans '
        f'(bars: <b style="color:{_BAR_PASS}">pass</b>, '
        f'<b style="color:{_COLORS["fail"]}">fail</b>, '
        f'<b style="color:{_COLORS["not_met"]}">not met</b> for an optimal constraint), the '
        "limit as a vertical line and the failing side shaded; a tick under the axis marks "
        "each plan (hover a failing one for its name). The table lists the plans with the "
        "smallest margin (distance to the limit, negative when the constraint fails).</p>"
    ]
    for k, r in enumerate(rows):
        counts = f"{r.n_evaluated} evaluated: {r.n_pass} pass, {r.n_fail} {r.fail_word}" + (
            f", {r.n_not_evaluated} not evaluated" if r.n_not_evaluated else ""
        )
        plotted = [p for p in r.points if p.value is not None and p.status in ("pass", "fail")]
        if plotted:
            svg = histogram_svg(r, f"h{k}-")
            fig = (
                f'<figure class="histogram" id="histogram-{k}" data-set="{attr(r.set_name)}" '
                f'data-structure="{attr(r.structure)}" data-metric="{attr(r.metric)}" '
                f'data-limit="{attr(r.limit_as_written)}" data-n="{len(plotted)}" '
                f'data-limits="{attr(json.dumps(r.limits))}">{svg}'
                f"<figcaption>{text(_stats_caption(r))}</figcaption></figure>"
            )
        else:
            fig = '<p class="none">No plan has a value for this constraint.</p>'
        parts.append(
            f'<section class="constraint-card {_row_class(r)}" id="constraint-{k}" '
            f'data-set="{attr(r.set_name)}" data-structure="{attr(r.structure)}" '
            f'data-metric="{attr(r.metric)}">'
            f'<div class="card-head"><div><h3>{text(r.structure)} <span class="metric">'
            f"{text(r.metric)}</span> {text(r.limit_text())}"
            + (" <span class='none'>(optimal)</span>" if r.priority != "mandatory" else "")
            + f'</h3><div class="set">{text(r.set_name)}</div></div>'
            f'<div class="counts">{text(counts)}</div></div>'
            f'<div class="card-body">{fig}<div>{_worst_table(r)}</div></div></section>'
        )
    parts.append("</section>")
    return "".join(parts)


def _errors_section(conn: Any, entries: list[dict[str, Any]]) -> str:
    errors = [e for e in entries if e["status"] == "error"]
    if not errors:
        return (
            '<section id="errors" data-count="0"><h2>Plans in error</h2>'
            '<p class="none">Every plan in this summary could be evaluated.</p></section>'
        )
    trs = []
    for e in errors[:_MAX_LISTED_ERRORS]:
        plan = e["plan"]
        row = conn.execute(
            "SELECT stage, type FROM errors WHERE plan_id = ? ORDER BY id LIMIT 1",
            (e["evaluation_id"],),
        ).fetchone()
        stage = f"{row['stage']} ({row['type']})" if row is not None else "—"
        trs.append(
            f'<tr class="error" data-patient-id="{attr(plan.get("patient_id"))}">'
            f"<td>{text(plan.get('patient_id'))}</td><td>{text(plan.get('plan_label'))}</td>"
            f'<td class="mono">{text(plan.get("path"))}</td><td>{text(stage)}</td>'
            f'<td class="message">{text(e["error"])}</td>'
            f"<td>{text(_when(e['evaluated_at']))}</td></tr>"
        )
    more = ""
    if len(errors) > _MAX_LISTED_ERRORS:
        more = (
            f'<p class="legend-note">… and {len(errors) - _MAX_LISTED_ERRORS} more: '
            "<code>dosecheck results DB --failed-only</code>.</p>"
        )
    return (
        f'<section id="errors" data-count="{len(errors)}"><h2>Plans in error ({len(errors)})'
        '</h2><p class="legend-note">Plans that could not be evaluated (no constraint '
        "result), with the message recorded.</p>"
        '<table class="errors" id="error-table"><thead><tr><th>Patient ID</th><th>Plan</th>'
        "<th>Folder</th><th>Stage</th><th>Message</th><th>Evaluated</th></tr></thead>"
        f"<tbody>{''.join(trs)}</tbody></table>{more}</section>"
    )


def _unreadable_section(conn: Any, since_utc: str | None) -> str:
    sql = (
        "SELECT path, message, run_id, MAX(created_at) AS created_at FROM errors "
        "WHERE plan_id IS NULL"
    )
    params: list[Any] = []
    if since_utc is not None:
        sql += " AND created_at >= ?"
        params.append(since_utc)
    sql += " GROUP BY path ORDER BY path LIMIT ?"
    params.append(_MAX_LISTED_ERRORS)
    found = conn.execute(sql, params).fetchall()
    if not found:
        return ""
    trs = "".join(
        f'<tr><td class="mono">{text(r["path"])}</td><td class="message">{text(r["message"])}</td>'
        f'<td class="num">{text(r["run_id"])}</td><td>{text(_when(r["created_at"]))}</td></tr>'
        for r in found
    )
    return (
        f'<section id="unreadable" data-count="{len(found)}"><h2>Unreadable DICOM files '
        f'({len(found)})</h2><p class="legend-note">Files with the DICOM marker whose header '
        "could not be read during discovery (not part of any plan); the latest run that met "
        "each one.</p>"
        '<table class="errors"><thead><tr><th>File</th><th>Message</th><th class="num">Run'
        f"</th><th>Recorded</th></tr></thead><tbody>{trs}</tbody></table></section>"
    )


def render_archive_report(
    db_path: str | Path,
    *,
    since: str | None = None,
    failed_only: bool = False,
    generated: datetime | None = None,
) -> str:
    """The archive summary of a results database as one self-contained HTML document.

    Parameters
    ----------
    db_path
        The database written by ``dosecheck batch``.
    since
        Only plans whose latest evaluation is at or after this date (``--since``: a date
        or an ISO 8601 date-time, local time unless it has an offset).
    failed_only
        Only plans that fail or could not be evaluated (the pass rates are then over
        those plans only, which the report says).
    generated
        Time stamp printed in the report; default: now (local time).

    Raises
    ------
    InputError
        A missing or foreign database, a bad ``since``, or matplotlib missing.
    """
    from dosecheck.batch.database import ResultsDB, parse_since

    since_utc = parse_since(since) if since is not None else None
    db = Path(db_path)
    with ResultsDB(db, create=False) as rdb:
        entries = rdb.latest(since=since_utc, failed_only=failed_only)
        conn = rdb.conn
        total_evaluations = rdb.count_plans()
        total_plans = int(
            conn.execute("SELECT COUNT(DISTINCT location_key) FROM plans").fetchone()[0]
        )
        filters = _filters_text(since, since_utc, failed_only)
        rows = constraint_stats(entries)
        shown_db = db.resolve()
        sections = [
            _header(shown_db, entries, rows, filters),
            _pass_rate_table(rows, entries, filters),
            _cards(rows),
            _errors_section(conn, entries),
            _unreadable_section(conn, since_utc),
            _runs_section(
                conn, shown_db, entries, since_utc, filters, total_evaluations, total_plans
            ),
        ]
    when = (generated or datetime.now().astimezone()).strftime("%Y-%m-%d %H:%M %Z").strip()
    doc = {
        "dosecheck_version": __version__,
        "database": str(shown_db),
        "generated_at": when,
        "filters": {"since": since_utc, "failed_only": failed_only},
        "counts": _counts(entries),
        "dose_scale_counts": _dose_scale_counts(entries),
        "constraints": [r.to_dict() for r in rows],
    }
    csp = (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
        "base-uri 'none'; form-action 'none'"
    )
    c = _counts(entries)
    title = (
        f"dosecheck archive summary — {db.name} — {len(entries)} plans: "
        f"{c['pass']} pass, {c['fail']} fail, {c['incomplete']} incomplete, {c['error']} error"
    )
    footer = (
        f"<footer>Generated by dosecheck {text(__version__)} on {text(when)} from "
        f"<code>{text(shown_db)}</code>, using the latest evaluation of each plan (view "
        "<code>latest_plans</code>). This summary supports, and does not replace, the "
        "clinical review of each plan.</footer>"
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{csp}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta name="generator" content="dosecheck {attr(__version__)}">'
        f"<title>{text(title)}</title>"
        f"<style>{_stylesheet(db.name)}</style></head>\n"
        f"<body>{''.join(sections)}{footer}{embedded_json(doc, 'archive-json')}</body></html>\n"
    )
