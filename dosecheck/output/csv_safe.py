"""CSV cells that spreadsheets cannot run as formulas (OWASP "CSV injection").

ROI names, structure names, notes and messages come from the user's files, and a
spreadsheet runs a cell that starts with ``=``, ``+``, ``-`` or ``@`` (and, in some,
one starting with a tab or a carriage return) as a formula: an ROI named
``=HYPERLINK("http://…")`` would become a link. Every CSV that dosecheck writes
(``dvh``, ``check``, ``batch --output`` and ``results``) passes its rows through
:func:`safe_row`.

The rule, exactly:

* numbers (``int``, ``float``; ``bool`` too) are written as they are: a negative margin
  ``-0.5`` stays a number;
* text that *is* a plain decimal number (``-0.5``, ``+3``, ``1e-3``: optional sign,
  digits with an optional point, optional exponent) is left alone too, for the same
  reason: a spreadsheet reads it as that number, never as a formula;
* any other text starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return
  gets a single quote in front (``'=HYPERLINK(...)``, ``'-PTV``), as OWASP recommends:
  the spreadsheet shows it as text and the quote is visible in a text editor;
* everything else is unchanged; ``None`` is an empty cell.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, Final

__all__ = ["FORMULA_TRIGGERS", "safe_cell", "safe_row"]

#: First characters that make a spreadsheet evaluate a cell.
FORMULA_TRIGGERS: Final = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER: Final = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def safe_cell(value: Any) -> Any:
    """The cell as written to CSV (see the module docstring for the rule).

    Examples
    --------
    >>> safe_cell("=1+1"), safe_cell("-0.5"), safe_cell(-0.5), safe_cell("@SUM(A1)")
    ("'=1+1", '-0.5', -0.5, "'@SUM(A1)")
    """
    if value is None:
        return ""
    if isinstance(value, bool):  # as in JSON
        return "true" if value else "false"
    if not isinstance(value, str):
        return value
    if value.startswith(FORMULA_TRIGGERS) and not _PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


def safe_row(cells: Iterable[Any]) -> list[Any]:
    """:func:`safe_cell` of every cell."""
    return [safe_cell(c) for c in cells]
