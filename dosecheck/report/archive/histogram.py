"""The histogram of one constraint's values over the plans, as inline SVG (matplotlib)."""

from __future__ import annotations

import json
import math
import re

from dosecheck._optional import require
from dosecheck.report._html import CMP
from dosecheck.report.archive.stats import BAR_PASS as _BAR_PASS
from dosecheck.report.archive.stats import COLORS as _COLORS
from dosecheck.report.archive.stats import ConstraintStats, _num, _Point

__all__ = ["histogram_svg"]

#: Failing plans drawn as ticks with a hover text, per histogram.
_MAX_TITLED_TICKS = 200


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

    from dosecheck.report.svg import SvgTitle, svg_text

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
