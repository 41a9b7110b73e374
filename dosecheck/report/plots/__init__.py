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

The package, by job: :mod:`.markers` (what is drawn, no matplotlib), :mod:`.figure`
(the matplotlib figure), :mod:`.files` (PNG/SVG files); the SVG post-processing is
:mod:`dosecheck.report.svg`.
"""

from dosecheck.report.plots.figure import dvh_figure, render_svg
from dosecheck.report.plots.files import plot_dvhs_to_file, plot_format, save_plot
from dosecheck.report.plots.markers import (
    CURVE_COLORS,
    STATUS_COLORS,
    ConstraintMarker,
    DVHCurve,
    constraint_marker,
    curve_description,
    preferred_volume_unit,
    report_curves,
)
from dosecheck.report.svg import SvgTitle, svg_text

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
