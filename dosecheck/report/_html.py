"""Escaping helpers shared by the plan report and the archive summary."""

from __future__ import annotations

import json
from html import escape
from typing import Any

#: The A4 page rule with a running footer, shared by the reports' print stylesheets
#: (a %-format template: ``page_left`` is a CSS string, see :func:`css_string`).
A4_PAGE_CSS = """@page {
  size: A4; margin: 14mm 12mm 16mm 12mm;
  @bottom-left { content: %(page_left)s; font-size: 8pt; color: #59636e; }
  @bottom-right { content: "Page " counter(page) " of " counter(pages); font-size: 8pt;
                  color: #59636e; }
}
"""

#: Comparators as the reports print them.
CMP = {"<": "<", "<=": "≤", ">": ">", ">=": "≥"}


def text(value: Any) -> str:
    """Escaped text (``—`` for ``None`` or empty)."""
    if value is None or value == "":
        return "—"
    return escape(str(value), quote=True)


def attr(value: Any) -> str:
    """An escaped attribute value."""
    return escape("" if value is None else str(value), quote=True)


def css_string(value: str) -> str:
    """``value`` as a CSS string literal that cannot end the ``<style>`` element."""
    out = []
    for ch in value:
        if ch in '"\\<>' or ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\{ord(ch):x} ")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def embedded_json(doc: Any, element_id: str) -> str:
    """``doc`` as an inline ``application/json`` script element (data only)."""
    body = json.dumps(doc, indent=1, ensure_ascii=True)
    # Nothing inside can close the element: "<" only appears escaped.
    body = body.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return f'<script type="application/json" id="{element_id}">{body}</script>'
