"""Matplotlib figures as SVG text for HTML pages: hover titles, unique ids, inline form.

Used by the DVH plots (:mod:`dosecheck.report.plots`) and the archive histograms
(:mod:`dosecheck.report.archive.histogram`). matplotlib is imported only when a figure
is written.
"""

from __future__ import annotations

import html
import io
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["SvgTitle", "svg_text"]


@dataclass(frozen=True)
class SvgTitle:
    """Hover text of one plotted artist and ``data-*`` attributes for its SVG group."""

    text: str
    data: dict[str, str] = field(default_factory=dict)


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
