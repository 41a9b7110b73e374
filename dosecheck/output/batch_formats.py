"""The reports of ``dosecheck batch --output`` and ``dosecheck results``: the latest
evaluation of each plan (the entries of
:meth:`dosecheck.batch.database.ResultsDB.latest`) as JSON, CSV, JUnit XML or a table.

What schema version 4 added is shown only where an entry has it, so that a database
without it gives the same output as before: the TPS comparison (``n_tps_differs``,
``--compare-tps``) and the borderline verdicts (``n_borderline``), as a JSON key and
totals, CSV columns, JUnit properties, and a table column with a line of totals.
"""

from __future__ import annotations

import csv
import io
import json
import re
from typing import TYPE_CHECKING, Any

from dosecheck import __version__
from dosecheck.output.csv_safe import safe_row
from dosecheck.output.xml_text import xml_safe

if TYPE_CHECKING:
    import xml.etree.ElementTree as ET

    from rich.console import Console

__all__ = [
    "BORDERLINE_CSV_COLUMNS",
    "EXTRA_CSV_COLUMNS",
    "NOT_RECORDED",
    "PLAN_CSV_COLUMNS",
    "STATUS_STYLE",
    "TPS_CSV_COLUMNS",
    "borderline_cell",
    "borderline_counts",
    "borderline_text",
    "details",
    "dose_scale_cell",
    "dose_scale_counts",
    "dose_scale_verdict",
    "entries_csv",
    "entries_json",
    "entries_junit",
    "not_consistent_text",
    "plan_counts",
    "print_entries_table",
    "render_entries",
    "tps_cell",
    "tps_counts",
    "tps_text",
]

#: Plan columns that precede check's CSV columns (one row per constraint; an error
#: plan has one row with the plan columns only).
PLAN_CSV_COLUMNS = (
    "path",
    "patient_id",
    "plan_label",
    "plan_status",
    "error",
    "constraint_set",
    "evaluated_at",
    "dose_scale",
    "dose_scale_ratio",
    "beam_dose_consistent",
)

#: Columns after check's CSV columns: how the ROI was matched, in words.
EXTRA_CSV_COLUMNS = ("match_detail",)

#: Result columns after :data:`EXTRA_CSV_COLUMNS` when a plan was checked with
#: ``--compare-tps`` (those of ``check --format csv --compare-tps``).
TPS_CSV_COLUMNS = ("tps_value", "tps_status", "tps_verdict_differs", "tps_note")

#: Result columns when a result was assessed for a borderline verdict (``value_range``
#: of the record as its two ends).
BORDERLINE_CSV_COLUMNS = ("borderline", "value_low", "value_high", "borderline_reason")

#: The dose-scale verdict of a plan whose check recorded none: an error before the dose
#: was read, or a plan recorded before schema version 3.
NOT_RECORDED = "not_recorded"


# --------------------------------------------------------------------------- renderers
def plan_counts(entries: list[dict[str, Any]]) -> dict[str, int]:
    """Plans per status: ``{"pass", "fail", "incomplete", "error"}``."""
    return {
        s: sum(e["status"] == s for e in entries) for s in ("pass", "fail", "incomplete", "error")
    }


def dose_scale_verdict(entry: dict[str, Any]) -> str:
    """The plan's dose-scale verdict (``consistent``, ``not_verified``, ``unexplained``,
    …), or :data:`NOT_RECORDED`."""
    record = entry.get("dose_scale")
    return str(record["verdict"]) if record else NOT_RECORDED


def dose_scale_counts(entries: list[dict[str, Any]]) -> dict[str, int]:
    """Plans per dose-scale verdict (error plans left out: they have no checked dose)."""
    out: dict[str, int] = {}
    for e in entries:
        if e["status"] != "error":
            verdict = dose_scale_verdict(e)
            out[verdict] = out.get(verdict, 0) + 1
    return dict(sorted(out.items()))


def not_consistent_text(entries: list[dict[str, Any]]) -> str:
    """``dose scale not consistent in 2 of 5 evaluated plans (1 not_verified, 1
    unexplained)``, or ``""`` when every evaluated plan's is consistent."""
    counts = dose_scale_counts(entries)
    others = {k: v for k, v in counts.items() if k != "consistent"}
    if not others:
        return ""
    n = sum(others.values())
    total = sum(counts.values())
    detail = ", ".join(f"{v} {k}" for k, v in others.items())
    return f"dose scale not consistent in {n} of {total} evaluated plans ({detail})"


def _compared(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in entries if e.get("n_tps_differs") is not None]


def _assessed(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in entries if e.get("n_borderline") is not None]


def _has_tps_dvh(entry: dict[str, Any]) -> bool:
    return any(r.get("tps_value") is not None for r in entry["results"])


def tps_counts(entries: list[dict[str, Any]]) -> dict[str, int] | None:
    """``{"compared", "with_tps_dvh", "differ"}``: plans checked with ``--compare-tps``,
    those of them with a TPS value for some constraint, and those with a constraint
    whose pass/fail flips on the TPS's DVH; ``None`` when no plan was compared."""
    compared = _compared(entries)
    if not compared:
        return None
    return {
        "compared": len(compared),
        "with_tps_dvh": sum(_has_tps_dvh(e) for e in compared),
        "differ": sum(e["n_tps_differs"] > 0 for e in compared),
    }


def borderline_counts(entries: list[dict[str, Any]]) -> dict[str, int] | None:
    """``{"assessed", "plans", "constraints"}``: plans whose results were assessed for
    borderline verdicts, plans with a borderline result, borderline results in all;
    ``None`` when none was assessed."""
    assessed = _assessed(entries)
    if not assessed:
        return None
    return {
        "assessed": len(assessed),
        "plans": sum(e["n_borderline"] > 0 for e in assessed),
        "constraints": sum(e["n_borderline"] for e in assessed),
    }


def tps_text(entries: list[dict[str, Any]]) -> str:
    """``TPS DVH verdict differs in 1 of 2 plans compared (1 with a TPS DVH)``, or
    ``""`` when no plan was checked with ``--compare-tps``."""
    c = tps_counts(entries)
    if c is None:
        return ""
    return (
        f"TPS DVH verdict differs in {c['differ']} of {c['compared']} plans compared "
        f"({c['with_tps_dvh']} with a TPS DVH)"
    )


def borderline_text(entries: list[dict[str, Any]]) -> str:
    """``borderline: 3 constraints in 2 of 5 plans assessed``, or ``""`` when no plan's
    results were assessed."""
    c = borderline_counts(entries)
    if c is None:
        return ""
    noun = "constraint" if c["constraints"] == 1 else "constraints"
    return (
        f"borderline: {c['constraints']} {noun} in {c['plans']} of {c['assessed']} plans assessed"
    )


def entries_json(entries: list[dict[str, Any]], meta: dict[str, Any] | None = None) -> str:
    """``{"dosecheck_version", …, "counts", "dose_scale_counts", "plans": [entry, …]}``
    as JSON text (``dose_scale_counts``: evaluated plans per dose-scale verdict).

    Each entry is ``{"plan": {"path", "patient_id", "plan_label", …}, "status",
    "error", "results": [the objects of check --format json], …}`` (see
    :meth:`dosecheck.batch.database.ResultsDB.latest`). Where plans have them, the
    document also has ``tps_counts`` (:func:`tps_counts`) and ``borderline_counts``
    (:func:`borderline_counts`).
    """
    doc: dict[str, Any] = {"dosecheck_version": __version__, **(meta or {})}
    doc["counts"] = plan_counts(entries)
    doc["dose_scale_counts"] = dose_scale_counts(entries)
    for key, counts in (
        ("tps_counts", tps_counts(entries)),
        ("borderline_counts", borderline_counts(entries)),
    ):
        if counts is not None:
            doc[key] = counts
    doc["plans"] = entries
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def _csv_value(rec: dict[str, Any], column: str) -> Any:
    if column in ("value_low", "value_high"):
        low_high = rec.get("value_range")
        value = low_high[column == "value_high"] if low_high else None
    else:
        value = rec.get(column)
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else value


def entries_csv(entries: list[dict[str, Any]]) -> str:
    """One row per constraint result: :data:`PLAN_CSV_COLUMNS`, check's columns, then
    :data:`EXTRA_CSV_COLUMNS`. ``dose_scale`` is the verdict (``not_recorded`` when
    none), ``beam_dose_consistent`` ``true``/``false`` or empty without beam doses.

    Where some plan has them, more columns follow: ``n_tps_differs`` and
    :data:`TPS_CSV_COLUMNS` (plans checked with ``--compare-tps``), ``n_borderline``
    and :data:`BORDERLINE_CSV_COLUMNS` (results assessed for borderline verdicts);
    empty for the plans without."""
    from dosecheck.output.check_formats import CSV_COLUMNS

    tps = bool(_compared(entries))
    borderline = bool(_assessed(entries))
    plan_extra = (("n_tps_differs",) if tps else ()) + (("n_borderline",) if borderline else ())
    result_extra = (TPS_CSV_COLUMNS if tps else ()) + (BORDERLINE_CSV_COLUMNS if borderline else ())
    # check's own borderline columns come with BORDERLINE_CSV_COLUMNS, where assessed.
    own = tuple(c for c in CSV_COLUMNS if c not in BORDERLINE_CSV_COLUMNS)
    columns = (*own, *EXTRA_CSV_COLUMNS)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([*PLAN_CSV_COLUMNS, *columns, *plan_extra, *result_extra])
    for e in entries:
        plan = e["plan"]
        scale = e.get("dose_scale") or {}
        beams = e.get("beam_dose_check")
        head = [
            plan["path"],
            plan["patient_id"],
            plan["plan_label"],
            e["status"],
            e["error"] or "",
            (e["constraint_set"] or {}).get("name", ""),
            e["evaluated_at"],
            dose_scale_verdict(e),
            "" if scale.get("ratio") is None else scale["ratio"],
            "" if not beams else str(bool(beams.get("consistent"))).lower(),
        ]
        counts = ["" if e.get(c) is None else e[c] for c in plan_extra]
        if not e["results"]:
            w.writerow(safe_row(head + [""] * len(columns) + counts + [""] * len(result_extra)))
        for rec in e["results"]:
            w.writerow(
                safe_row(
                    head
                    + ["" if rec.get(c) is None else rec.get(c) for c in columns]
                    + counts
                    + [_csv_value(rec, c) for c in result_extra]
                )
            )
    return buf.getvalue()


_x = xml_safe


def _package(plan: dict[str, Any]) -> str:
    parts = [plan.get("patient_id") or "unknown", plan.get("plan_label") or "plan"]
    return ".".join(re.sub(r"[^A-Za-z0-9_-]+", "_", p) for p in parts)


def _case_properties(case: ET.Element, r: dict[str, Any]) -> None:
    """The result's TPS value (``--compare-tps``) and borderline assessment, as
    test-case properties (as ``check --format junit`` has them), when it has them."""
    keys: list[str] = []
    if r.get("tps_verdict_differs") is not None:
        keys += ["tps_value", "tps_status", "tps_verdict_differs", "tps_note"]
    if r.get("borderline") is not None:
        keys += ["borderline", "value_range", "borderline_reason"]
    if not keys:
        return
    import xml.etree.ElementTree as ET

    props = ET.SubElement(case, "properties")
    for key in keys:
        value = r.get(key)
        if isinstance(value, bool):
            text = str(value).lower()
        elif isinstance(value, list):
            text = " ".join(str(v) for v in value)
        else:
            text = "" if value is None else str(value)
        ET.SubElement(props, "property", {"name": key, "value": _x(text)})


def entries_junit(entries: list[dict[str, Any]]) -> str:
    """JUnit XML: one ``<testsuite>`` per plan, one ``<testcase>`` per constraint.

    As in ``check --format junit``, a failed constraint has a ``<failure>`` whose
    ``type`` is its priority and a constraint that could not be evaluated a
    ``<skipped>``; a plan that could not be evaluated has a single test case with an
    ``<error>``. A plan checked with ``--compare-tps`` has the suite property
    ``tps_verdict_differs`` (its count) and its test cases ``tps_value``,
    ``tps_status``, ``tps_verdict_differs``, ``tps_note``; a plan assessed for
    borderline verdicts ``borderline`` (the count), its test cases ``borderline``,
    ``value_range`` (``low high``) and ``borderline_reason``.
    """
    import xml.etree.ElementTree as ET  # loaded when JUnit is asked for, not with the CLI

    root = ET.Element("testsuites", {"name": "dosecheck batch"})
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for e in entries:
        plan = e["plan"]
        pkg = _package(plan)
        label = plan.get("plan_label") or "(no RTPLAN)"
        suite = ET.SubElement(
            root,
            "testsuite",
            {"name": _x(f"{plan.get('patient_id') or '?'} / {label} ({plan['path']})")},
        )
        props = ET.SubElement(suite, "properties")
        cset = e["constraint_set"] or {}
        scale = e.get("dose_scale") or {}
        beams = e.get("beam_dose_check")
        for key, value in (
            ("path", plan["path"]),
            ("patient_id", plan.get("patient_id")),
            ("plan_label", plan.get("plan_label")),
            ("status", e["status"]),
            ("summary", e["summary"]),
            ("constraint_set", cset.get("path")),
            ("constraint_set_sha256", cset.get("sha256")),
            ("evaluated_at", e["evaluated_at"]),
            ("dose_scale", dose_scale_verdict(e)),
            ("dose_scale_method", scale.get("method")),
            ("dose_scale_ratio", scale.get("ratio")),
            (
                "beam_dose_consistent",
                None if not beams else ("true" if beams.get("consistent") else "false"),
            ),
            ("tps_verdict_differs", e.get("n_tps_differs")),
            ("borderline", e.get("n_borderline")),
        ):
            if value is None and key.startswith(("dose_scale_", "beam_dose", "tps_", "border")):
                continue
            ET.SubElement(props, "property", {"name": key, "value": _x(value)})
        counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
        if e["status"] == "error":
            case = ET.SubElement(suite, "testcase", {"classname": pkg, "name": "evaluate plan"})
            err = ET.SubElement(case, "error", {"message": _x(e["error"]), "type": "error"})
            err.text = _x(e["error"])
            counts["tests"] += 1
            counts["errors"] += 1
        for r in e["results"]:
            name = f"{r['metric']} {r['comparator']} {r.get('limit_as_written', r.get('limit'))}"
            if r.get("priority") == "optimal":
                name += " (optimal)"
            case = ET.SubElement(
                suite,
                "testcase",
                {"classname": _x(f"{pkg}.{r['structure']}"), "name": _x(name), "time": "0"},
            )
            _case_properties(case, r)
            counts["tests"] += 1
            if r["status"] == "fail":
                what = "" if r.get("priority") == "mandatory" else "optimal constraint not met: "
                failure = ET.SubElement(
                    case,
                    "failure",
                    {"message": _x(what + r["message"]), "type": _x(r.get("priority"))},
                )
                failure.text = _x(r["message"])
                counts["failures"] += 1
            elif r["status"] == "not_evaluated":
                ET.SubElement(case, "skipped", {"message": _x(r["message"])})
                counts["skipped"] += 1
            elif r["status"] == "variation":  # no failure: a property and system-out
                props = ET.SubElement(case, "properties")
                ET.SubElement(props, "property", {"name": "status", "value": "variation"})
                out = ET.SubElement(case, "system-out")
                out.text = _x("VARIATION: goal missed, variation limit met\n" + r["message"])
        for k, v in counts.items():
            suite.set(k, str(v))
            totals[k] += v
        if e["warnings"]:
            se = ET.SubElement(suite, "system-err")
            se.text = _x("\n".join(f"warning: {w}" for w in e["warnings"]))
    for k, v in totals.items():
        root.set(k, str(v))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def details(e: dict[str, Any], limit: int | None = None) -> str:
    """The table's details: the error, the failed mandatory constraints, or the
    summary line (cut to ``limit`` characters for an error)."""
    if e["status"] == "error":
        text = e["error"] or ""
        return text if limit is None or len(text) <= limit else text[: limit - 1] + "…"
    failed = [
        f"{r['structure']} {r['metric']}"
        for r in e["results"]
        if r["status"] == "fail" and r.get("priority") == "mandatory"
    ]
    if failed:
        return "failed: " + ", ".join(failed)
    within = [
        f"{r['structure']} {r['metric']}"
        for r in e["results"]
        if r["status"] == "variation" and r.get("priority") == "mandatory"
    ]
    if within and e.get("strict"):
        return "within variation only (--strict): " + ", ".join(within)
    return e["summary"]


STATUS_STYLE = {
    "pass": "bold green",
    "fail": "bold red",
    "incomplete": "bold yellow",
    "error": "bold magenta",
}


def dose_scale_cell(entry: dict[str, Any]) -> str:
    """The table's dose-scale cell: ``consistent``, ``NOT VERIFIED``, ``UNEXPLAINED
    ×1.50``, …; ``—`` for an error plan; a beam-dose mismatch is added."""
    if entry["status"] == "error" and not entry.get("dose_scale"):
        return "—"
    verdict = dose_scale_verdict(entry)
    record = entry.get("dose_scale") or {}
    if verdict == "consistent":
        cell = "consistent"
    else:
        cell = verdict.replace("_", " ").upper()
        if record.get("ratio") is not None:
            cell += f" ×{record['ratio']:.2f}"
    beams = entry.get("beam_dose_check")
    if beams and not beams.get("consistent"):
        cell += f"; BEAM DOSES DIFFER by {beams['max_abs_diff_gy']:.3g} Gy"
    return cell


def tps_cell(entry: dict[str, Any]) -> str:
    """The table's TPS cell: ``1 of 2 DIFFER`` (constraints whose pass/fail flips on the
    TPS's DVH, of those with a TPS value), ``same verdicts (2)``, ``no TPS DVH``, or
    ``—`` for a plan not checked with ``--compare-tps``."""
    n = entry.get("n_tps_differs")
    if n is None:
        return "—"
    with_value = sum(r.get("tps_value") is not None for r in entry["results"])
    if n:
        return f"{n} of {with_value} DIFFER"
    return f"same verdicts ({with_value})" if with_value else "no TPS DVH"


def borderline_cell(entry: dict[str, Any]) -> str:
    """The table's borderline cell: ``2 BORDERLINE``, ``none``, or ``—`` when the plan's
    results were not assessed."""
    n = entry.get("n_borderline")
    if n is None:
        return "—"
    return f"{n} BORDERLINE" if n else "none"


def print_entries_table(entries: list[dict[str, Any]], console: Console, title: str) -> None:
    """One row per plan: status, patient, plan, constraint set, dose scale, details,
    folder; then the counts, and the plans whose dose scale is not consistent.

    When some plan was checked with ``--compare-tps`` a ``TPS DVH`` column
    (:func:`tps_cell`) and a line of totals (:func:`tps_text`) are added; when some
    plan's results were assessed for borderline verdicts, a ``Borderline`` column and
    line (:func:`borderline_cell`, :func:`borderline_text`)."""
    from rich.table import Table
    from rich.text import Text

    tps = bool(_compared(entries))
    borderline = bool(_assessed(entries))
    extra = (("TPS DVH",) if tps else ()) + (("Borderline",) if borderline else ())
    table = Table(title=title, title_justify="left")
    for col in ("Status", "Patient", "Plan", "Constraint set", "Dose scale", *extra):
        table.add_column(col, overflow="fold")
    for col in ("Details", "Folder"):
        table.add_column(col, overflow="fold")
    for e in entries:
        plan = e["plan"]
        scale = dose_scale_cell(e)
        cells = []
        if tps:
            cell = tps_cell(e)
            cells.append(Text(cell, style="bold red" if "DIFFER" in cell else ""))
        if borderline:
            cell = borderline_cell(e)
            cells.append(Text(cell, style="bold yellow" if "BORDERLINE" in cell else ""))
        table.add_row(
            Text(e["status"].upper(), style=STATUS_STYLE[e["status"]]),
            Text(plan.get("patient_id") or ""),
            Text(plan.get("plan_label") or ""),
            Text((e["constraint_set"] or {}).get("name") or "—"),
            Text(scale, style="" if scale in ("consistent", "—") else "bold yellow"),
            *cells,
            Text(details(e, 200)),
            Text(plan["path"]),
        )
    console.print(table)
    c = plan_counts(entries)
    console.print(
        f"{len(entries)} plans: {c['pass']} pass, {c['fail']} fail, "
        f"{c['incomplete']} incomplete, {c['error']} error",
        highlight=False,
    )
    for line in (not_consistent_text(entries), tps_text(entries), borderline_text(entries)):
        if line:
            console.print(line, highlight=False)


def _table_text(entries: list[dict[str, Any]], title: str) -> str:
    from rich.console import Console

    console = Console(record=True, width=160, file=io.StringIO(), color_system=None)
    print_entries_table(entries, console, title)
    return console.export_text()


def render_entries(entries: list[dict[str, Any]], fmt: str, meta: dict[str, Any]) -> str:
    """The entries in ``fmt`` (``json``, ``csv``, ``junit`` or ``table``, as text)."""
    if fmt == "json":
        return entries_json(entries, meta)
    if fmt == "csv":
        return entries_csv(entries)
    if fmt == "junit":
        return entries_junit(entries)
    return _table_text(entries, meta.get("title", "dosecheck results"))
