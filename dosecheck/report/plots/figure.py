"""The matplotlib figure of a DVH plot (Agg/SVG canvases only: no pyplot, no GUI)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from dosecheck._optional import require
from dosecheck.report.plots.markers import (
    CURVE_COLORS,
    CURVE_STYLES,
    STATUS_COLORS,
    DVHCurve,
    VolumeUnit,
)
from dosecheck.report.svg import SvgTitle, svg_text

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from dosecheck.core.dvh import DVH

__all__ = ["dvh_figure", "render_svg"]


# --- drawing ---------------------------------------------------------------------------------
def _mpl_text(text: str) -> str:
    """Text shown literally by matplotlib (``$`` would start mathtext)."""
    return text.replace("$", r"\$")


def dvh_figure(
    curves: Sequence[DVHCurve],
    *,
    volume_unit: VolumeUnit = "cc",
    title: str | None = None,
    prescription_gy: float | None = None,
    figsize: tuple[float, float] = (7.2, 4.0),
    max_points: int = 800,
) -> tuple[Figure, dict[str, SvgTitle]]:
    """Draw the cumulative DVHs of ``curves`` with their constraint markers.

    Parameters
    ----------
    curves
        The curves; empty DVHs are listed in the legend as "no volume in dose grid".
    volume_unit
        ``"cc"`` or ``"%"`` (of each structure's volume inside the dose grid).
    title
        Axes title.
    prescription_gy
        When given, a dashed line marks it and a top axis shows dose in % of it.
    figsize
        Figure size in inches.
    max_points
        Maximum number of points drawn per curve.

    Returns
    -------
    tuple
        The matplotlib :class:`~matplotlib.figure.Figure` (not attached to pyplot) and
        ``{gid: hover text}`` of the artists that get an SVG ``<title>``.
    """
    require("matplotlib", extra="plot", feature="DVH plots")
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    titles: dict[str, SvgTitle] = {}
    fig = Figure(figsize=figsize, dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    labels: list[Any] = []
    obstacles: list[tuple[float, float]] = []
    pct = volume_unit == "%"

    def y_of(cc: float, dvh: DVH) -> float:
        return 100.0 * cc / dvh.volume_cc if pct else cc

    x_max = 0.0
    y_max = 100.0 if pct else 0.0
    for curve in curves:
        if not curve.dvh.is_empty:
            x_max = max(x_max, float(curve.dvh.max_gy))
            if not pct:
                y_max = max(y_max, float(curve.dvh.volume_cc))
        for mk in curve.markers:
            for x in (mk.dose_gy, mk.achieved_dose_gy):
                if x is not None and math.isfinite(x):
                    x_max = max(x_max, x)
            if mk.volume_cc is not None and not curve.dvh.is_empty:
                y_max = max(y_max, y_of(mk.volume_cc, curve.dvh))
    if prescription_gy is not None and prescription_gy > 0:
        x_max = max(x_max, prescription_gy)
    x_max = x_max * 1.06 if x_max > 0 else 1.0
    y_max = y_max * 1.06 if y_max > 0 else 1.0

    handles: list[Any] = []
    directions: set[bool] = set()
    any_achieved = False
    for n, curve in enumerate(curves):
        color = curve.color or CURVE_COLORS[n % len(CURVE_COLORS)]
        dvh = curve.dvh
        if dvh.is_empty:
            handles.append(
                Line2D(
                    [],
                    [],
                    color=color,
                    ls=":",
                    label=_mpl_text(f"{curve.label} (no volume in dose grid)"),
                )
            )
            continue
        d, v = dvh.curve(max_points=max_points)
        # The curve is flat at the full volume up to the minimum dose, then falls.
        d = np.concatenate([d, [d[-1]]]) if v[-1] > 0 else d
        v = np.concatenate([v, [0.0]]) if v[-1] > 0 else v
        yv = 100.0 * v / dvh.volume_cc if pct else v
        style = CURVE_STYLES[(n // len(CURVE_COLORS)) % len(CURVE_STYLES)]
        (line,) = ax.plot(
            d, yv, color=color, ls=style, lw=1.8, label=_mpl_text(curve.label), zorder=2
        )
        gid = f"curve-{n}"
        line.set_gid(gid)
        titles[gid] = SvgTitle(curve.hover_text(), {"structure": curve.key or curve.label})
        handles.append(line)

        for k, mk in enumerate(curve.markers):
            mcolor = STATUS_COLORS[mk.status]
            mgid = f"limit-{n}-{k}"
            data = {"status": mk.status}
            if mk.index is not None:
                data["index"] = str(mk.index)
            if mk.kind == "point" and mk.dose_gy is not None and mk.volume_cc is not None:
                x, y = mk.dose_gy, y_of(mk.volume_cc, dvh)
                if mk.achieved_dose_gy is not None and mk.achieved_volume_cc is not None:
                    ax_, ay_ = mk.achieved_dose_gy, y_of(mk.achieved_volume_cc, dvh)
                    ax.plot([ax_, x], [ay_, y], color=mcolor, lw=1.0, ls=":", zorder=3)
                    _plan_value(ax, ax_, ay_, mcolor, f"value-{n}-{k}", mk.title, data, titles)
                    any_achieved = True
                (pt,) = ax.plot(
                    [x],
                    [y],
                    ls="",
                    marker="v" if mk.upper else "^",
                    ms=10,
                    color=mcolor,
                    mec="black",
                    mew=0.6,
                    zorder=6,
                )
                pt.set_gid(mgid)
                titles[mgid] = SvgTitle(mk.title, data)
                directions.add(mk.upper)
                labels.append(_annotate(ax, mk.label, x, y, x_max, y_max, mcolor, mk.upper))
                obstacles.append((x, y))
                if mk.achieved_dose_gy is not None and mk.achieved_volume_cc is not None:
                    obstacles.append((mk.achieved_dose_gy, y_of(mk.achieved_volume_cc, dvh)))
            elif mk.kind == "dose_line" and mk.dose_gy is not None:
                ln = ax.axvline(mk.dose_gy, color=mcolor, lw=1.3, ls="--", zorder=3)
                ln.set_gid(mgid)
                titles[mgid] = SvgTitle(mk.title, data)
                if mk.achieved_dose_gy is not None and mk.achieved_volume_cc is not None:
                    av = y_of(mk.achieved_volume_cc, dvh)
                    _plan_value(
                        ax,
                        mk.achieved_dose_gy,
                        av,
                        mcolor,
                        f"value-{n}-{k}",
                        mk.title,
                        data,
                        titles,
                    )
                    any_achieved = True
                labels.append(
                    _annotate(ax, mk.label, mk.dose_gy, y_max * 0.9, x_max, y_max, mcolor, True)
                )
            elif mk.kind == "volume_line" and mk.volume_cc is not None:
                yy = y_of(mk.volume_cc, dvh)
                ln = ax.axhline(yy, color=mcolor, lw=1.3, ls="--", zorder=3)
                ln.set_gid(mgid)
                titles[mgid] = SvgTitle(mk.title, data)
                labels.append(
                    _annotate(ax, mk.label, x_max * 0.02, yy, x_max, y_max, mcolor, False)
                )

    if prescription_gy is not None and prescription_gy > 0:
        rx_line = ax.axvline(prescription_gy, color="#8a8a8a", lw=0.9, ls="--", zorder=1)
        rx_line.set_gid("prescription")
        titles["prescription"] = SvgTitle(f"Prescription {prescription_gy:g} Gy")
        rx = prescription_gy
        top = ax.secondary_xaxis(
            "top", functions=(lambda g: 100.0 * g / rx, lambda p: p * rx / 100.0)
        )
        top.set_xlabel(f"Dose (% of prescription {rx:g} Gy)", fontsize=8.5, color="#555555")
        top.tick_params(labelsize=8, colors="#555555")

    if True in directions:
        handles.append(
            Line2D(
                [],
                [],
                ls="",
                marker="v",
                ms=8,
                color="#9a9a9a",
                mec="black",
                mew=0.6,
                label="limit: DVH must pass below",
            )
        )
    if False in directions:
        handles.append(
            Line2D(
                [],
                [],
                ls="",
                marker="^",
                ms=8,
                color="#9a9a9a",
                mec="black",
                mew=0.6,
                label="limit: DVH must pass above",
            )
        )
    if any_achieved:
        handles.append(
            Line2D(
                [],
                [],
                ls="",
                marker="o",
                ms=5.5,
                mfc="white",
                mec="#555555",
                mew=1.4,
                label="plan value",
            )
        )

    ax.set_xlim(0.0, x_max)
    ax.set_ylim(0.0, y_max)
    ax.set_xlabel("Dose (Gy)")
    ax.set_ylabel("Volume (% of structure)" if pct else "Volume (cc)")
    ax.grid(True, color="#dddddd", lw=0.6)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(prescription_gy is not None and side == "top")
    ax.tick_params(labelsize=8.5)
    if title:
        ax.set_title(_mpl_text(title), loc="left", fontsize=10.5, fontweight="bold")
    if handles:
        leg = fig.legend(
            handles=handles,
            loc="outside lower center",
            ncols=min(len(handles), 4),
            fontsize=8,
            frameon=False,
            handlelength=1.6,
            columnspacing=1.4,
        )
        leg.set_gid("legend")
        titles["legend"] = SvgTitle("; ".join(c.hover_text() for c in curves))
    if labels:
        _declutter(fig, ax, labels, obstacles)
    return fig, titles


def _plan_value(
    ax: Any,
    x: float,
    y: float,
    color: str,
    gid: str,
    title: str,
    data: dict[str, str],
    titles: dict[str, SvgTitle],
) -> None:
    """The plan's value as an open circle, with its hover title."""
    (pt,) = ax.plot([x], [y], ls="", marker="o", ms=5.5, mfc="white", mec=color, mew=1.6, zorder=5)
    pt.set_gid(gid)
    titles[gid] = SvgTitle(f"plan value — {title}", data)


def _annotate(
    ax: Any, text: str, x: float, y: float, x_max: float, y_max: float, color: str, upper: bool
) -> Any:
    """Write ``text`` next to a marker, inside the axes; return the annotation."""
    right = x > 0.72 * x_max
    high = y > 0.85 * y_max
    dx = -9 if right else 9
    dy = -12 if (high or not upper) else 8
    ann = ax.annotate(
        _mpl_text(text),
        (x, y),
        xytext=(dx, dy),
        textcoords="offset points",
        ha="right" if right else "left",
        va="center",
        fontsize=8,
        color=color,
        fontweight="bold",
        zorder=7,
        bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.8},
        arrowprops={"arrowstyle": "-", "color": color, "lw": 0.7, "shrinkA": 0, "shrinkB": 6},
    )
    ann.set_in_layout(False)
    ann.arrow_patch.set_visible(False)  # a leader line only when moved away
    return ann


#: Vertical offsets (in label heights) tried when a label overlaps another or a marker.
_NUDGES = (0, 1, -1, 2, -2, 3, -3, 4, -4, 5, -5)


def _text_box(ann: Any, renderer: Any) -> Any:
    """The window extent of an annotation's text and its background, not its arrow."""
    from matplotlib.text import Text

    ann.update_positions(renderer)
    return Text.get_window_extent(ann, renderer).padded(2.0)


def _declutter(
    fig: Figure, ax: Any, labels: list[Any], obstacles: list[tuple[float, float]]
) -> None:
    """Move marker labels so that they overlap neither each other nor a marker.

    Each label keeps its place when it is free; otherwise it is moved up or down by
    whole label heights, on its side of the marker and then on the other side, and
    stays where it was when nothing inside the axes is free.
    """
    from matplotlib.transforms import Bbox

    fig.draw_without_rendering()  # runs the layout: final axes position
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    frame = ax.get_window_extent(renderer)
    r = 7.0 * fig.dpi / 72.0  # half a marker, in pixels
    placed = [
        Bbox.from_extents(px - r, py - r, px + r, py + r)
        for px, py in (ax.transData.transform(p) for p in obstacles)
    ]
    step = 11.0
    for ann in labels:
        dx0, dy0 = ann.xyann
        ha0 = ann.get_horizontalalignment()
        chosen = None
        for flip in (False, True):
            for k in _NUDGES:
                dx = -dx0 if flip else dx0
                ann.xyann = (dx, dy0 + k * step)
                ann.set_horizontalalignment("left" if dx > 0 else "right")
                box = _text_box(ann, renderer)
                inside = (
                    box.x0 >= frame.x0
                    and box.x1 <= frame.x1
                    and box.y0 >= frame.y0
                    and box.y1 <= frame.y1
                )
                if inside and not any(box.overlaps(o) for o in placed):
                    chosen = box
                    break
            if chosen is not None:
                break
        if chosen is None:
            ann.xyann = (dx0, dy0)
            ann.set_horizontalalignment(ha0)
            chosen = _text_box(ann, renderer)
        elif ann.xyann != (dx0, dy0):
            ann.arrow_patch.set_visible(True)
        placed.append(chosen)


def render_svg(
    curves: Sequence[DVHCurve],
    *,
    volume_unit: VolumeUnit = "cc",
    title: str | None = None,
    prescription_gy: float | None = None,
    figsize: tuple[float, float] = (7.2, 4.0),
    inline: bool = False,
    id_prefix: str = "",
) -> str:
    """Draw ``curves`` (see :func:`dvh_figure`) and return the SVG text (see
    :func:`svg_text` for ``inline`` and ``id_prefix``)."""
    fig, titles = dvh_figure(
        curves,
        volume_unit=volume_unit,
        title=title,
        prescription_gy=prescription_gy,
        figsize=figsize,
    )
    aria = title or "Cumulative DVH of " + ", ".join(c.label for c in curves)
    return svg_text(fig, titles, inline=inline, id_prefix=id_prefix, aria_label=aria)
