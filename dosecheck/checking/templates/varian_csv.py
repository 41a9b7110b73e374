"""The Varian-style DVH-objective CSV of ESAPI plan-check scripts.

Header (columns in any order; ``Structure IDs``, ``DVH Objective`` and ``Evaluation
Point`` are required)::

    Structure IDs,Structure Codes,IDAliases,CodeAliases,DVH Objective,Evaluation Point,
    Variation,Priority,Met,Achieved          (one line)

One row per objective; rows that share a structure ID form one structure. ``IDAliases``
are separated by ``|``. ``DVH Objective`` is a TG-263 metric (``V95%[%]``,
``D20cc[cGy]``, ``CV2200cGy[cc]``, ``Max[cGy]``); doses in cGy are converted to Gy
exactly (``V3000cGy[cc]`` is ``V30Gy[cc]``, ``Max[cGy] <= 6500`` is
``Max[Gy] <= 65``). ``Evaluation Point`` is a comparator and a number (``<=6500``,
``>=95``). ``Variation`` is a looser limit of the same direction (``<350``, ``350``).

Plan-quality indices: ``CN<dose>[%]`` (Paddick's conformation number) and
``GI<dose>[%]`` (Paddick's gradient index, ``V_<dose>`` over ``V_Rx`` of the body) are
imported as ``CN<dose>[]`` and ``GI<dose>[]`` with the Evaluation Point as written:
the Varian scripts compute the plain ratio whatever the brackets say, so
``CN95%[%] >= 0.6`` is a conformation number of at least 0.6 (an Evaluation Point above
1 for CN, or an Evaluation Point or Variation with a unit, ``<=300%``, is refused,
naming the line). ``CI`` and ``HI`` rows, and the other indices
(``PCI``, ``R50``, ...), are listed as not imported: the scripts that write them do not
agree on one definition (one computes Paddick's CN under the name CI, HI takes a dose
argument there), so dosecheck does not guess; write ``CI95%[]`` or ``HI[]`` in a
YAML set instead. ``Structure Codes``, ``CodeAliases``, ``Met`` and ``Achieved`` (codes,
and the results of an earlier evaluation) are not used.
"""

from __future__ import annotations

import csv
import io
import re
from decimal import Decimal
from pathlib import Path
from typing import Final

from dosecheck.checking.templates._common import (
    INDEX_RE,
    Goal,
    NotImported,
    TemplateImport,
    build,
    decimal,
    decode_text,
    fail,
    gy_from_cgy,
    priority_of,
    to_gy,
)

__all__ = ["FORMAT", "HEADER", "looks_like", "read"]

FORMAT: Final = "varian-csv"
HEADER: Final = (
    "Structure IDs",
    "Structure Codes",
    "IDAliases",
    "CodeAliases",
    "DVH Objective",
    "Evaluation Point",
    "Variation",
    "Priority",
    "Met",
    "Achieved",
)
_REQUIRED: Final = ("Structure IDs", "DVH Objective", "Evaluation Point")
#: The plan-quality indices imported (see the module docstring).
_IMPORTED_INDICES: Final = ("CN", "GI")
_INDEX_REASONS: Final = {
    "CI": "the Varian scripts' CI is not one definition (one computes Paddick's CN under "
    "that name); dosecheck does not guess: write CI95%[] (RTOG) or CN95%[] in a YAML set",
    "HI": "the Varian scripts' HI takes a dose argument, not ICRU 83's (D2 - D98) / D50; "
    "write HI[] in a YAML set for ICRU 83's",
}
_OTHER_INDEX: Final = "a plan-quality index dosecheck does not compute"
_POINT_RE: Final = re.compile(
    r"\s*(?P<op><=|>=|<|>)\s*(?P<num>[0-9]+(?:\.[0-9]+)?|\.[0-9]+)\s*(?P<unit>%|cGy|Gy|cc)?\s*"
)


def looks_like(text: str) -> bool:
    """True when the first non-blank line is a header with the required columns."""
    for raw in text.splitlines():
        if raw.strip():
            cells = [c.strip().strip('"') for c in raw.split(",")]
            return all(r in cells for r in _REQUIRED)
    return False


def read(path: Path, data: bytes, sha256: str) -> TemplateImport:
    """Read the CSV into a constraint set (see the module docstring)."""
    text = decode_text(path, data)
    if "\x00" in text:
        fail(path, "the CSV holds NUL characters; save it as plain UTF-8 text")
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        fail(path, "the file is empty; expected the header " + ",".join(HEADER), line=1)
    except csv.Error as e:
        fail(path, f"invalid CSV: {e}", line=reader.line_num)
    cols = {c.strip(): i for i, c in enumerate(header)}
    missing = [r for r in _REQUIRED if r not in cols]
    if missing:
        fail(
            path,
            f"the header lacks the column {missing[0]!r}; expected the header " + ",".join(HEADER),
            line=1,
        )
    goals: list[Goal] = []
    skipped: list[NotImported] = []
    try:
        for row in reader:
            line = reader.line_num
            if not any(c.strip() for c in row):
                continue
            _row(path, row, cols, line, goals, skipped)
    except csv.Error as e:
        fail(path, f"invalid CSV: {e}", line=reader.line_num)
    return build(path, sha256, fmt=FORMAT, name=path.stem, goals=goals, not_imported=skipped)


def _cell(row: list[str], cols: dict[str, int], name: str) -> str:
    i = cols.get(name)
    return row[i].strip() if i is not None and i < len(row) else ""


def _row(
    path: Path,
    row: list[str],
    cols: dict[str, int],
    line: int,
    goals: list[Goal],
    skipped: list[NotImported],
) -> None:
    where = f"line {line}"
    ids = [s.strip() for s in _cell(row, cols, "Structure IDs").split("|") if s.strip()]
    if not ids:
        fail(path, "the row has no Structure IDs; every row names its structure", line=line)
    structure, more = ids[0], ids[1:]
    aliases = tuple(more) + tuple(
        a.strip() for a in _cell(row, cols, "IDAliases").split("|") if a.strip()
    )
    objective = _cell(row, cols, "DVH Objective")
    point = _cell(row, cols, "Evaluation Point")
    variation_text = _cell(row, cols, "Variation")
    if not objective:
        fail(path, f"structure {structure!r} has an empty DVH Objective", line=line)
    index = INDEX_RE.match(objective)
    if index and index[1] not in _IMPORTED_INDICES:
        skipped.append(
            NotImported(
                structure,
                f"{objective} {point}".strip(),
                _INDEX_REASONS.get(index[1], _OTHER_INDEX),
                where,
            )
        )
        return
    m = _POINT_RE.fullmatch(point)
    if m is None:
        fail(
            path,
            f"Evaluation Point {point!r} of {structure} {objective}: expected a comparator "
            "and a number, e.g. <=6500 or >=95",
            line=line,
        )
    metric, result_cgy = to_gy(objective)
    limit = decimal(path, m["num"], "the Evaluation Point", where, line=line)
    limit, percent_rx = _limit_unit(path, metric, result_cgy, limit, m["unit"], point, line)
    priority, note = priority_of(path, _cell(row, cols, "Priority"), where, line=line)
    variation = None
    if variation_text:
        variation = _variation(path, metric, result_cgy, m["op"], percent_rx, variation_text, line)
    goals.append(
        Goal(
            structure=structure,
            metric=metric,
            comparator=m["op"],
            limit=limit,
            where=where,
            aliases=aliases,
            limit_percent_rx=percent_rx,
            priority=priority,
            note=note,
            variation=variation,
            line=line,
            variation_text=variation_text,
        )
    )


def _variation(
    path: Path,
    metric: str,
    result_cgy: bool,
    op: str,
    percent_rx: bool,
    text: str,
    line: int,
) -> Decimal:
    """The Variation cell (``<350``, ``350``): a limit of the objective's direction."""
    m = _POINT_RE.fullmatch(text) or _POINT_RE.fullmatch(op + text)
    if m is None or (m["op"][0] != op[0]):
        fail(
            path,
            f"Variation {text!r} of {metric} {op}: expected a number of the same direction "
            f"as the Evaluation Point, e.g. {op}350",
            line=line,
        )
    value = decimal(path, m["num"], "the Variation", f"line {line}", line=line)
    value, v_percent = _limit_unit(
        path, metric, result_cgy, value, m["unit"], text, line, "Variation"
    )
    if v_percent != percent_rx:
        fail(path, f"Variation {text!r} must be in the Evaluation Point's unit", line=line)
    return value


def _limit_unit(
    path: Path,
    metric: str,
    result_cgy: bool,
    limit: Decimal,
    unit: str | None,
    point: str,
    line: int,
    what: str = "Evaluation Point",
) -> tuple[Decimal, bool]:
    """``(limit in the metric's unit, limit in % of prescription)``."""
    out_m = re.search(r"\[\s*(\S+?)\s*\]\s*$", metric)
    out = out_m[1] if out_m else ""
    if unit is not None and INDEX_RE.match(metric):
        # CN95%[%] <= 0.6% or GI50%[%] <= 300%: the brackets do not scale the ratio
        # (module docstring), so a unit on the point would be read wrongly either way.
        fail(
            path,
            f"{what} {point!r} of {metric} has a unit, but the index is a plain ratio "
            "whatever its brackets say; write the number without a unit (e.g. CN95%[%] >=0.6, "
            "GI50%[%] <=3)",
            line=line,
        )
    if unit is None:
        return (gy_from_cgy(limit) if result_cgy else limit), False
    if unit == "%":
        if out == "%":
            return limit, False
        if out == "Gy":
            return limit, True
    elif unit in ("Gy", "cGy") and out == "Gy":
        return (gy_from_cgy(limit) if unit == "cGy" else limit), False
    elif unit == "cc" and out == "cc":
        return limit, False
    fail(
        path,
        f"{what} {point!r} is in {unit} but {metric} gives "
        f"{'cGy' if result_cgy else out}; write the number in the objective's unit",
        line=line,
    )
