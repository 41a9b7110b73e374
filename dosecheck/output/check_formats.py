"""Rendering a :class:`~dosecheck.checking.check.CheckReport`: a rich table for people,
and JSON, CSV, JUnit XML and Markdown for machines, CI and documents.

Every format shows the same numbers: the table and Markdown print values, limits and
margins with :func:`format_value` (two decimals), JSON and CSV give them at full
precision.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from dosecheck.checking.check import result_margin
from dosecheck.checking.model import ShownStatus
from dosecheck.metrics import format_number
from dosecheck.output._matched import matched_by_text
from dosecheck.output.check_junit import check_junit
from dosecheck.output.csv_safe import safe_row

if TYPE_CHECKING:
    from rich.console import Console, RenderableType

    from dosecheck.checking.check import CheckReport
    from dosecheck.checking.model import Constraint, ConstraintResult

__all__ = [
    "CSV_COLUMNS",
    "VERDICT_STYLE",
    "check_csv",
    "check_json",
    "check_junit",
    "check_markdown",
    "check_table_text",
    "format_value",
    "matched_by_text",
    "print_check_table",
    "status_label",
]

#: Columns of the CSV output, one row per constraint.
#: Extra CSV columns with ``--compare-tps``.
TPS_CSV_COLUMNS = (
    "tps_value",
    "tps_status",
    "tps_verdict_differs",
    "tps_note",
)

CSV_COLUMNS = (
    "structure",
    "roi",
    "metric",
    "metric_canonical",
    "value",
    "unit",
    "comparator",
    "limit",
    "limit_as_written",
    "margin",
    "priority",
    "status",
    "message",
    "constraint",
    "matched_by",
    "reason",
    "line",
    "dose_basis",
    "alpha_beta",
    "plan_fractions",
    "converted_dose_gy",
    "borderline",
    "value_low",
    "value_high",
    "variation_limit",
    "body_roi",
)

_DASH = "—"


# --- shared formatting ---------------------------------------------------------------------
def format_value(x: float | None, unit: str = "", *, signed: bool = False) -> str:
    """A number as the table shows it: two decimals (three significant digits below
    0.1), then the unit; ``—`` for ``None``.

    Examples: ``format_value(340, "cc") == "340.00 cc"``, ``format_value(95.5, "%") ==
    "95.50%"``, ``format_value(-40, "cc", signed=True) == "-40.00 cc"``.
    """
    if x is None:
        return _DASH
    if x != 0 and abs(x) < 0.1:
        text = f"{x:+.3g}" if signed else f"{x:.3g}"
    else:
        text = f"{x:+.2f}" if signed else f"{x:.2f}"
    if not unit:
        return text
    return f"{text}{unit}" if unit == "%" else f"{text} {unit}"


def status_label(result: ConstraintResult) -> str:
    """``PASS``, ``FAIL``, ``NOT MET (optimal)``, ``VARIATION`` or ``NOT EVALUATED``."""
    return ShownStatus.of(result.status, result.priority).label


def limit_cell(report: CheckReport, i: int) -> str:
    """The limit as the tables show it (with the converted value for EQD2 limits)."""
    r, c = report.results[i], report.constraints[i]
    cell = _limit_cell(r, c)
    if c.variation is None:
        return cell
    if r.variation_limit is None or not c.limit_unit_is_percent_rx:
        sep = "" if c.limit_unit_is_percent_rx or r.unit in ("%", "") else " "
        unit = "" if c.limit_unit_is_percent_rx else r.unit
        return f"{cell} (variation {r.comparator} {c.variation_text}{sep}{unit})"
    return f"{cell} (variation {r.comparator} {format_value(r.variation_limit, r.unit)})"


def _limit_cell(r: ConstraintResult, c: Constraint) -> str:
    if c.is_converted:
        return _converted_limit_cell(r, c)
    if r.limit is None or not c.limit_unit_is_percent_rx:
        # As written in the set; a limit in % of prescription that could not be
        # converted (no prescription) stays in %.
        sep = "" if c.limit_unit_is_percent_rx or r.unit in ("%", "") else " "
        unit = "" if c.limit_unit_is_percent_rx else r.unit
        return f"{r.comparator} {c.limit_text}{sep}{unit}"
    return f"{r.comparator} {format_value(r.limit, r.unit)} ({c.limit_text} of Rx)"


def _converted_limit_cell(r: ConstraintResult, c: Constraint) -> str:
    """A limit given as EQD2 or for the set's fractions: the physical limit the value
    was compared with, and the dose as written, e.g. ``<= 46.35 Gy (45 Gy EQD2, α/β 3
    Gy)`` or ``< 300 cc (at 46.35 Gy = 45 Gy EQD2, α/β 3 Gy)``."""
    m, basis = c.metric, c.basis_text
    sep = "" if r.unit in ("%", "") else " "
    if m.kind in ("V", "CV"):
        assert m.number is not None and m.number_unit is not None
        dose = f"{format_number(m.number)} {m.number_unit} {basis}"
        if r.converted_dose_gy is not None:
            scale = 100.0 if m.number_unit == "cGy" else 1.0
            dose = f"{format_value(scale * r.converted_dose_gy, m.number_unit)} = {dose}"
        return f"{r.comparator} {c.limit_text}{sep}{r.unit} (at {dose})"
    as_written = f"{c.limit_text} {r.unit} {basis}"
    if r.limit is None:  # not converted: the number of fractions is unknown
        return f"{r.comparator} {as_written}"
    return f"{r.comparator} {format_value(r.limit, r.unit)} ({as_written})"


def _borderline(report: CheckReport, i: int) -> bool:
    return i < len(report.ranges) and report.ranges[i].borderline


def tps_text(report: CheckReport, i: int) -> str:
    """The value on the TPS's DVH, ``—`` without one; ``(TPS: FAIL)`` appended when the
    TPS's DVH would flip the constraint's pass/fail."""
    t = report.tps_values[i] if i < len(report.tps_values) else None
    if t is None or t.value is None:
        return "—"
    text = format_value(t.value, report.results[i].unit)
    if t.differs and t.status is not None:
        text += f" (TPS: {str(t.status).upper()})"
    return text


def tps_cell(report: CheckReport, i: int, *, rich: bool = False):  # -> Text | str
    """:func:`tps_text`, bold red when the verdict would flip (for rich tables)."""
    text = tps_text(report, i)
    if not rich:
        return text
    from rich.text import Text

    t = report.tps_values[i] if i < len(report.tps_values) else None
    return Text(text, style="bold red" if t is not None and t.differs else "")


def _groups(report: CheckReport) -> Iterator[tuple[str, list[int]]]:
    """``(structure, [result indices])`` in file order."""
    order: dict[str, list[int]] = {}
    for i, r in enumerate(report.results):
        order.setdefault(r.structure, []).append(i)
    yield from order.items()


#: How each matching rule reads in a report.
def _matched_text(report: CheckReport, indices: list[int]) -> str:
    r = report.results[indices[0]]
    if r.roi is None:
        if r.reason == "structure_ambiguous":
            return "ambiguous: no ROI chosen"
        return "no matching ROI"
    return f"ROI {r.roi!r} ({matched_by_text(r)})"


def _plan_text(report: CheckReport) -> str:
    p = report.plan
    where = p.get("path") or p.get("rtstruct") or "(in memory)"
    extra = []
    if p.get("patient_id"):
        extra.append(f"patient {p['patient_id']}")
    if p.get("plan_label"):
        extra.append(f"plan {p['plan_label']}")
    return f"{where}" + (f" ({', '.join(extra)})" if extra else "")


def _header_lines(report: CheckReport) -> list[tuple[str, str]]:
    c = report.constraint_set
    lines = [
        ("Plan", _plan_text(report)),
        ("Constraint set", f"{c.name} — {c.path} (sha256 {c.sha256[:12]}…)"),
    ]
    if c.source:
        lines.append(("Source", c.source))
    lines.append(("Prescription", report.prescription.describe()))
    if report.strict:
        lines.append(("Mode", "strict: constraints that cannot be evaluated fail"))
    if report.end_caps != "half-slice":
        lines.append(("End caps", report.end_caps))
    return lines


# --- table -----------------------------------------------------------------------------------
_STATUS_STYLE = {
    ShownStatus.PASS: "bold green",
    ShownStatus.FAIL: "bold red",
    ShownStatus.NOT_MET: "yellow",
    ShownStatus.VARIATION: "bold dark_orange",
    ShownStatus.NOT_EVALUATED: "magenta",
}

#: Rich style of the verdict line: pass green, incomplete yellow, fail red.
VERDICT_STYLE = {"pass": "bold green", "incomplete": "bold yellow", "fail": "bold red"}


def _renderables(report: CheckReport) -> list[RenderableType]:
    from rich.table import Table
    from rich.text import Text

    out: list[RenderableType] = []
    head = Text()
    head.append(f"dosecheck check {report.dosecheck_version}\n", style="bold")
    for key, value in _header_lines(report):
        head.append(f"{key}: ", style="bold")
        head.append(f"{value}\n")
    out.append(head)
    for w in report.prescription_warnings:
        out.append(Text(f"WARNING: {w}", style="bold yellow"))

    for structure, indices in _groups(report):
        table = Table(
            title=Text(f"{structure} — {_matched_text(report, indices)}", style="bold"),
            title_justify="left",
        )
        columns = [
            ("Metric", "left"),
            ("Value", "right"),
            ("Limit", "left"),
            ("Margin", "right"),
            ("Priority", "left"),
            ("Status", "left"),
        ]
        if report.compare_tps:
            columns.insert(2, ("TPS DVH", "right"))
        for col, justify in columns:
            table.add_column(col, justify=justify)  # type: ignore[arg-type]
        details: list[str] = []
        for i in indices:
            r = report.results[i]
            label = status_label(r)
            cells = [
                Text(report.metric_as_written(i)),
                Text(format_value(r.value, r.unit)),
                Text(limit_cell(report, i)),
                Text(format_value(result_margin(report.results[i]), r.unit, signed=True)),
                Text(r.priority),
                Text(
                    label + (" ≈" if _borderline(report, i) else ""),
                    style=_STATUS_STYLE[ShownStatus.of(r.status, r.priority)],
                ),
            ]
            if report.compare_tps:
                cells.insert(2, tps_cell(report, i, rich=True))
            table.add_row(*cells)
            if r.status != "pass" and r.message not in details:
                details.append(r.message)
            if _borderline(report, i):
                details.append("≈ borderline: " + report.ranges[i].reason)
        out.append(table)
        out.extend(Text(f"  {d}", style="dim") for d in details)

    out.append(Text(report.summary(), style=VERDICT_STYLE[report.verdict]))
    for w in report.warnings:
        out.append(Text(f"warning: {w}", style="yellow"))
    return out


def print_check_table(report: CheckReport, console: Console) -> None:
    """Print the report as rich tables, one per structure, then the verdict and warnings."""
    from rich.text import Text

    for item in _renderables(report):
        # Text is never wrapped at the terminal width (paths and messages stay whole).
        console.print(item, soft_wrap=isinstance(item, Text))


def check_table_text(report: CheckReport, width: int = 120) -> str:
    """The table report as plain text (for ``--output`` with ``--format table``)."""
    from rich.console import Console

    console = Console(record=True, width=width, file=io.StringIO(), color_system=None)
    print_check_table(report, console)
    return console.export_text()


# --- JSON ------------------------------------------------------------------------------------
def check_json(report: CheckReport) -> str:
    """The report as JSON (see :meth:`CheckReport.to_dict` for the keys)."""
    return json.dumps(report.to_dict(), indent=2) + "\n"


# --- CSV -------------------------------------------------------------------------------------
def check_csv(report: CheckReport) -> str:
    """One row per constraint with the columns :data:`CSV_COLUMNS` (text cells that a
    spreadsheet would run as formulas are quoted, :mod:`dosecheck.output.csv_safe`)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    columns = CSV_COLUMNS + (TPS_CSV_COLUMNS if report.compare_tps else ())
    w.writerow(columns)
    for rec in report.result_records():
        rng = rec.get("value_range") or [None, None]
        rec = {**rec, "value_low": rng[0], "value_high": rng[1]}
        rec["borderline"] = bool(rec.get("borderline"))
        w.writerow(safe_row(rec.get(c) for c in columns))
    return buf.getvalue()


# --- Markdown --------------------------------------------------------------------------------
def _md(text: Any) -> str:
    """A Markdown table cell: pipes escaped, line breaks flattened."""
    return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def check_markdown(report: CheckReport) -> str:
    """The report as Markdown: header, one table per structure, the verdict, warnings."""
    c = report.constraint_set
    lines = [f"# dosecheck check: {_md(c.name)}", ""]
    for key, value in _header_lines(report):
        lines.append(f"- **{key}:** {_md(value)}")
    lines.append(f"- **Constraint set sha256:** `{c.sha256}`")
    lines.append(f"- **dosecheck:** {report.dosecheck_version}")
    lines.append("")
    for structure, indices in _groups(report):
        lines.append(f"## {_md(structure)} — {_md(_matched_text(report, indices))}")
        lines.append("")
        if report.compare_tps:
            lines.append(
                "| Metric | Value | TPS DVH | Limit | Margin | Priority | Status | Detail |"
            )
            lines.append("|---|---:|---:|---|---:|---|---|---|")
        else:
            lines.append("| Metric | Value | Limit | Margin | Priority | Status | Detail |")
            lines.append("|---|---:|---|---:|---|---|---|")
        for i in indices:
            r = report.results[i]
            cells = [
                f"`{report.metric_as_written(i)}`",
                format_value(r.value, r.unit),
                limit_cell(report, i),
                format_value(result_margin(report.results[i]), r.unit, signed=True),
                r.priority,
                (f"**{status_label(r)}**" if r.status != "pass" else status_label(r))
                + (" ≈ borderline" if _borderline(report, i) else ""),
                r.message
                + (f" Borderline: {report.ranges[i].reason}" if _borderline(report, i) else ""),
            ]
            if report.compare_tps:
                cells.insert(2, tps_text(report, i))
            lines.append("| " + " | ".join(_md(x) for x in cells) + " |")
        lines.append("")
    lines.append(f"**{_md(report.summary())}**")
    lines.append("")
    if report.warnings:
        lines.append("## Warnings")
        lines.append("")
        lines.extend(f"- {_md(w)}" for w in report.warnings)
        lines.append("")
    return "\n".join(lines)
