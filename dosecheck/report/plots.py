"""Cumulative DVH plots with constraint markers, as SVG (for inline HTML) or PNG/SVG files.

A plot shows one or several cumulative DVH curves (dose in Gy, volume in cc or in % of
each structure) and, for every constraint on a plotted structure, a *limit marker*:
the point the curve must pass below (``▼``, an upper limit such as ``V30Gy[cc] < 600``
→ the point (30 Gy, 600 cc)) or above (``▲``, a lower limit such as ``V95%[%] >= 95``
→ (47.88 Gy, 95 %)), coloured by the constraint's status, with the achieved value on
the curve as a small circle joined to it. Limits that are not a point on the curve are
drawn as lines: a limit on the mean dose as a vertical line, a limit on the structure
volume as a horizontal one.

matplotlib (``pip install 'dosecheck[plot]'``) is imported inside the functions, and
only its Agg/SVG canvases are used (no pyplot, no GUI, no global state).

The SVG text gets ``<title>`` elements (hover tooltips in a browser) on every curve and
marker; :func:`render_svg` with ``inline=True`` also makes the element ids unique in a
page holding several plots and drops the XML prologue, the metadata and the namespace
declarations, so that the SVG can be pasted into HTML and references nothing outside
the page.
"""

from __future__ import annotations

import html
import io
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from dosecheck._optional import require
from dosecheck.checking.model import ShownStatus
from dosecheck.errors import InputError
from dosecheck.output.write import write_atomic

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from dosecheck.checking.check import CheckReport
    from dosecheck.core.dvh import DVH
    from dosecheck.core.structures import StructureDVH

__all__ = [
    "CURVE_COLORS",
    "STATUS_COLORS",
    "ConstraintMarker",
    "DVHCurve",
    "SvgTitle",
    "constraint_marker",
    "curve_description",
    "dvh_figure",
    "plot_dvhs_to_file",
    "plot_format",
    "preferred_volume_unit",
    "render_svg",
    "report_curves",
    "save_plot",
    "svg_text",
]

VolumeUnit = Literal["cc", "%"]
#: ``pass``, ``fail`` (mandatory), ``not_met`` (optimal constraint failed) or
#: ``not_evaluated``.
MarkerStatus = ShownStatus

#: Colour of each marker status (the HTML table uses the same ones).
STATUS_COLORS: dict[str, str] = {
    ShownStatus.PASS: "#1a7f37",
    ShownStatus.FAIL: "#cf222e",
    ShownStatus.NOT_MET: "#b35900",
    ShownStatus.NOT_EVALUATED: "#6e7781",
}
#: Curve colours: no pure red or green, which mean fail and pass.
CURVE_COLORS = (
    "#1f77b4",
    "#9467bd",
    "#ff7f0e",
    "#17becf",
    "#8c564b",
    "#e377c2",
    "#393b79",
    "#7f7f7f",
    "#bcbd22",
    "#6b6ecf",
)
#: Line styles, one per pass through :data:`CURVE_COLORS` (more than 10 curves).
CURVE_STYLES = ("-", "--", "-.", ":")
_CMP = {"<": "<", "<=": "≤", ">": ">", ">=": "≥"}


@dataclass(frozen=True)
class ConstraintMarker:
    """How one constraint is drawn on its structure's DVH.

    Attributes
    ----------
    label
        Short text drawn next to the marker, e.g. ``"V45Gy[cc] < 300"``.
    title
        Hover text (SVG ``<title>``), e.g. ``"Bag_Bowel V45Gy[cc] < 300 cc: 340.00 cc — FAIL"``.
    status
        ``"pass"``, ``"fail"``, ``"not_met"`` or ``"not_evaluated"`` (the colour).
    kind
        ``"point"`` (a point the curve must pass below or above), ``"dose_line"`` (a
        vertical line at ``dose_gy``, e.g. a mean-dose limit) or ``"volume_line"`` (a
        horizontal line at ``volume_cc``).
    dose_gy, volume_cc
        The limit's coordinates (Gy, cc); ``None`` when the kind does not use it.
    upper
        True when the curve must pass below the point (``▼``), False for above (``▲``).
    achieved_dose_gy, achieved_volume_cc
        The plan's value as a point on the curve, when there is one.
    index
        Index of the result in the report, if the marker comes from one.
    """

    label: str
    title: str
    status: MarkerStatus
    kind: Literal["point", "dose_line", "volume_line"]
    dose_gy: float | None
    volume_cc: float | None
    upper: bool
    achieved_dose_gy: float | None = None
    achieved_volume_cc: float | None = None
    index: int | None = None


@dataclass(frozen=True)
class DVHCurve:
    """One structure's curve and its markers.

    Attributes
    ----------
    label
        Legend text (the structure name).
    dvh
        The cumulative DVH.
    markers
        Constraint markers to draw on it.
    title
        Hover text of the curve; default: label, volume and dose statistics.
    color
        Line colour; default: from :data:`CURVE_COLORS` by position.
    key
        Identifier for the HTML (``data-structure``); default: ``label``.
    roi
        The plan's ROI the DVH is of, when it differs from the key (else empty).
    """

    label: str
    dvh: DVH
    markers: tuple[ConstraintMarker, ...] = ()
    title: str = ""
    color: str | None = None
    key: str = ""
    roi: str = ""

    def hover_text(self) -> str:
        """``title`` or a description of the curve."""
        if self.title:
            return self.title
        return curve_description(self.label, self.dvh)


def curve_description(label: str, dvh: DVH) -> str:
    """E.g. ``"PTV: 68.0 cc, min 47.0 / mean 49.6 / max 52.0 Gy"``."""
    if dvh.is_empty:
        return f"{label}: no volume inside the dose grid"
    return (
        f"{label}: {dvh.volume_cc:.1f} cc, min {dvh.min_gy:.2f} / mean {dvh.mean_gy:.2f} / "
        f"max {dvh.max_gy:.2f} Gy"
    )


@dataclass(frozen=True)
class SvgTitle:
    """Hover text of one plotted artist and ``data-*`` attributes for its SVG group."""

    text: str
    data: dict[str, str] = field(default_factory=dict)


# --- markers from a check report ----------------------------------------------------------
def constraint_marker(report: CheckReport, index: int, dvh: DVH) -> ConstraintMarker | None:
    """The marker of result ``index`` of ``report`` on ``dvh``, or ``None`` when the
    limit cannot be placed (unknown prescription for a limit in %, empty DVH).

    ``V<d> < L`` is the point ``(d, L)`` the curve must pass below; ``CV<d> < L`` the
    point ``(d, volume − L)`` it must pass above; ``D<v> < L`` the point ``(L, v)`` it
    must pass below; ``DC<v> < L`` the point ``(L, volume − v)`` (below); ``Max < L``
    the point ``(L, 0)`` and ``Min > L`` ``(L, volume)``; ``Mean`` a vertical line at
    the limit, ``Volume`` a horizontal one. Doses in cGy or % of prescription are
    converted to Gy, volumes in % to cc.
    """
    from dosecheck.output.check_formats import format_value

    r = report.results[index]
    c = report.constraints[index]
    m = c.metric
    if dvh.is_empty or r.limit is None:
        return None
    vol = dvh.volume_cc
    rx = r.prescription_gy if r.prescription_gy is not None else report.prescription.dose_gy
    status = ShownStatus.of(r.status, r.priority)

    def dose_to_gy(x: float, unit: str | None) -> float | None:
        if unit == "Gy":
            return x
        if unit == "cGy":
            return x / 100.0
        if unit == "%":
            return None if rx is None or not rx > 0 else x * rx / 100.0
        return None

    def volume_to_cc(x: float, unit: str | None) -> float:
        return x * vol / 100.0 if unit == "%" else x

    upper = r.comparator in ("<", "<=")
    limit_text = format_value(r.limit, r.unit)
    metric_text = report.metric_as_written(index)
    short_status = {
        ShownStatus.PASS: "PASS",
        ShownStatus.FAIL: "FAIL",
        ShownStatus.NOT_MET: "NOT MET",
        ShownStatus.NOT_EVALUATED: "N/E",
    }
    label = (
        f"{metric_text} {_CMP.get(r.comparator, r.comparator)} {c.limit_text}"
        f" · {short_status[status]}"
    )
    value_text = format_value(r.value, r.unit)
    title = (
        f"{r.structure} {metric_text} {_CMP.get(r.comparator, r.comparator)} {limit_text}: "
        f"{value_text} — {status.label}"
    )
    if r.priority == "optimal":
        title += " (optimal)"
    kind: Literal["point", "dose_line", "volume_line"] = "point"
    dose: float | None
    volume: float | None
    a_dose: float | None = None
    a_vol: float | None = None
    value = r.value

    if m.kind in ("V", "CV"):
        assert m.number is not None
        # A dose given as EQD2 (or for another fractionation) is drawn at its physical value.
        dose = (
            r.converted_dose_gy
            if r.converted_dose_gy is not None
            else dose_to_gy(m.number, m.number_unit)
        )
        if dose is None:
            return None
        limit_cc = volume_to_cc(r.limit, m.output_unit)
        value_cc = None if value is None else volume_to_cc(value, m.output_unit)
        if m.kind == "V":
            volume = limit_cc
            a_vol = value_cc
        else:  # CV < L  ⇔  V > volume − L
            volume = vol - limit_cc
            a_vol = None if value_cc is None else vol - value_cc
            upper = not upper
        a_dose = dose if a_vol is not None else None
    elif m.kind in ("D", "DC", "Max", "Min"):
        dose = dose_to_gy(r.limit, m.output_unit)
        if dose is None:
            return None
        if m.kind == "Max":
            volume = 0.0
        elif m.kind == "Min":
            volume = vol
        else:
            assert m.number is not None
            v_cc = volume_to_cc(m.number, m.number_unit)
            volume = v_cc if m.kind == "D" else max(vol - v_cc, 0.0)
        a_dose = None if value is None else dose_to_gy(value, m.output_unit)
        a_vol = volume if a_dose is not None else None
    elif m.kind == "Mean":
        kind = "dose_line"
        dose = dose_to_gy(r.limit, m.output_unit)
        if dose is None:
            return None
        volume = None
        a_dose = None if value is None else dose_to_gy(value, m.output_unit)
        a_vol = None if a_dose is None else _volume_on_curve(dvh, a_dose)
    elif m.kind == "Volume":
        kind = "volume_line"
        dose = None
        volume = r.limit
    else:  # pragma: no cover - the metric grammar has no other kinds
        return None
    return ConstraintMarker(
        label=label,
        title=title,
        status=status,
        kind=kind,
        dose_gy=dose,
        volume_cc=volume,
        upper=upper,
        achieved_dose_gy=a_dose,
        achieved_volume_cc=a_vol,
        index=index,
    )


def _volume_on_curve(dvh: DVH, dose_gy: float) -> float:
    import numpy as np

    return float(np.interp(dose_gy, dvh.dose_edges_gy, dvh.cumulative_cc, right=0.0))


def preferred_volume_unit(report: CheckReport, indices: Sequence[int]) -> VolumeUnit:
    """``"%"`` when most of these constraints give volumes in % of the structure
    (``V95%[%]``, ``D2%[Gy]``), else ``"cc"``."""
    pct = cc = 0
    for i in indices:
        m = report.constraints[i].metric
        if m.kind in ("V", "CV"):
            unit = m.output_unit
        elif m.kind in ("D", "DC"):
            unit = m.number_unit
        else:
            continue
        if unit == "%":
            pct += 1
        else:
            cc += 1
    return "%" if pct > cc else "cc"


def report_curves(report: CheckReport) -> list[tuple[DVHCurve, list[int], VolumeUnit]]:
    """One curve per checked structure of ``report`` (a structure of the constraint set
    matched to a ROI whose DVH was computed), in the order of the constraint set.

    Returns
    -------
    list
        ``(curve, result indices, preferred volume unit)`` per structure; the curve
        carries the markers of those results.
    """
    by_roi = {item.structure.name: item.dvh for item in report.dvhs}
    groups: dict[str, list[int]] = {}
    for i, r in enumerate(report.results):
        if r.roi is not None and r.roi in by_roi:
            groups.setdefault(r.structure, []).append(i)
    out = []
    for n, (structure, indices) in enumerate(groups.items()):
        roi = report.results[indices[0]].roi
        assert roi is not None
        dvh = by_roi[roi]
        markers = tuple(
            mk for i in indices if (mk := constraint_marker(report, i, dvh)) is not None
        )
        label = structure if roi == structure else f"{structure} (ROI {roi})"
        curve = DVHCurve(
            label=label,
            dvh=dvh,
            markers=markers,
            color=CURVE_COLORS[n % len(CURVE_COLORS)],
            key=structure,
            roi=roi,
        )
        out.append((curve, indices, preferred_volume_unit(report, indices)))
    return out


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


# --- SVG -------------------------------------------------------------------------------------
_ID_RE = re.compile(r'\bid="([^"]+)"')
_REF_RE = re.compile(r'(url\(#|href="#)([^)"]+)')


def _figure_svg(fig: Figure) -> str:
    import matplotlib as mpl

    buf = io.StringIO()
    with mpl.rc_context({"svg.fonttype": "none", "svg.hashsalt": "dosecheck"}):
        fig.savefig(
            buf,
            format="svg",
            metadata={"Creator": None, "Date": None, "Format": None, "Type": None},
        )
    return buf.getvalue()


def _add_titles(svg: str, titles: dict[str, SvgTitle], prefix: str) -> str:
    """Insert ``<title>`` as the first child of each ``<g id=prefix+gid>``, with a
    class ``dvh-<kind>`` (``dvh-curve``, ``dvh-limit``, ``dvh-value``, …) and the
    ``data-*`` attributes of the title."""
    for gid, info in titles.items():
        tag = f'<g id="{prefix}{gid}">'
        attrs = f' class="dvh-{gid.split("-", 1)[0]}"' + "".join(
            f' data-{k}="{html.escape(v)}"' for k, v in info.data.items()
        )
        svg = svg.replace(
            tag, f'<g id="{prefix}{gid}"{attrs}><title>{html.escape(info.text)}</title>', 1
        )
    return svg


def _prefix_ids(svg: str, prefix: str) -> str:
    svg = _ID_RE.sub(lambda m: f'id="{prefix}{m.group(1)}"', svg)
    return _REF_RE.sub(lambda m: f"{m.group(1)}{prefix}{m.group(2)}", svg)


def svg_text(
    fig: Figure,
    titles: dict[str, SvgTitle],
    *,
    inline: bool = False,
    id_prefix: str = "",
    aria_label: str = "",
) -> str:
    """The figure as SVG text with hover titles.

    Parameters
    ----------
    fig, titles
        From :func:`dvh_figure`.
    inline
        For pasting into HTML: no XML declaration, DOCTYPE, metadata or namespace
        declarations; width 100 % (the viewBox keeps the aspect ratio).
    id_prefix
        Prepended to every element id (and reference to it), to keep ids unique in a
        page with several plots.
    aria_label
        Accessible name of the image.
    """
    svg = _figure_svg(fig)
    svg = re.sub(r"<metadata>.*?</metadata>\s*", "", svg, flags=re.S)
    if id_prefix:
        svg = _prefix_ids(svg, id_prefix)
    svg = _add_titles(svg, titles, id_prefix)
    label_attr = f' role="img" aria-label="{html.escape(aria_label)}"' if aria_label else ""
    if inline:
        svg = svg[svg.index("<svg") :]
        svg = re.sub(r'\s+xmlns(:\w+)?="[^"]*"', "", svg)
        svg = re.sub(
            r'<svg\b([^>]*?)\swidth="[^"]*"\s+height="[^"]*"',
            lambda m: f'<svg{m.group(1)} width="100%" class="dvh-svg"{label_attr}',
            svg,
            count=1,
        )
    elif label_attr:
        svg = svg.replace("<svg ", f"<svg{label_attr} ", 1)
    return svg


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


# --- files -----------------------------------------------------------------------------------
def plot_format(path: str | Path) -> Literal["png", "svg"]:
    """``"png"`` or ``"svg"`` from the file extension.

    Raises
    ------
    InputError
        For any other extension.
    """
    suffix = Path(path).suffix.lower()
    if suffix == ".png":
        return "png"
    if suffix == ".svg":
        return "svg"
    raise InputError("the plot file must end in .png or .svg", path=path)


def save_plot(
    curves: Sequence[DVHCurve],
    path: str | Path,
    *,
    volume_unit: VolumeUnit = "cc",
    title: str | None = None,
    prescription_gy: float | None = None,
    figsize: tuple[float, float] = (7.2, 4.0),
    dpi: int = 150,
) -> None:
    """Write the plot of ``curves`` to ``path`` (PNG or SVG by extension), atomically.

    Raises
    ------
    InputError
        For an extension other than ``.png``/``.svg`` or a missing output folder.
    """
    fmt = plot_format(path)
    path = Path(path)
    if fmt == "svg":
        text = render_svg(
            curves,
            volume_unit=volume_unit,
            title=title,
            prescription_gy=prescription_gy,
            figsize=figsize,
        )
        write_atomic(path, text)
        return
    fig, _ = dvh_figure(
        curves,
        volume_unit=volume_unit,
        title=title,
        prescription_gy=prescription_gy,
        figsize=figsize,
    )
    png = io.BytesIO()
    fig.savefig(png, format="png", dpi=dpi, metadata={"Software": None})
    write_atomic(path, png.getvalue())


def plot_dvhs_to_file(
    items: Sequence[StructureDVH],
    path: str | Path,
    *,
    volume_unit: VolumeUnit = "%",
    title: str | None = "Cumulative DVH",
    prescription_gy: float | None = None,
) -> None:
    """Plot the DVHs of ``items`` (from :func:`dosecheck.core.structures.compute_dvhs`) on one
    figure and write it to ``path`` (PNG or SVG by extension), atomically.

    Parameters
    ----------
    items
        The structures and their DVHs.
    path
        ``*.png`` or ``*.svg``.
    volume_unit
        ``"%"`` (default: structures of very different sizes stay readable) or ``"cc"``.
    title
        Plot title.
    prescription_gy
        Draws the prescription and a top axis in % of it.

    Raises
    ------
    InputError
        For a bad extension or output folder, or when matplotlib is not installed.
    """
    plot_format(path)
    curves = [
        DVHCurve(label=i.structure.name, dvh=i.dvh, color=CURVE_COLORS[n % len(CURVE_COLORS)])
        for n, i in enumerate(items)
    ]
    save_plot(
        curves,
        path,
        volume_unit=volume_unit,
        title=title,
        prescription_gy=prescription_gy,
        figsize=(8.0, 5.0),
    )
