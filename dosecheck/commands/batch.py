"""``dosecheck batch`` (check every plan of some archives into a results database) and
``dosecheck results`` (report from that database).

Exit codes of ``batch``: 0 when every plan passes, 1 when a plan fails a mandatory
constraint, 3 when a plan (or a DICOM file) could not be evaluated — 3 takes
precedence over 1 — and 2 for bad usage (missing archive, bad constraint set or
protocol map), raised as :class:`~dosecheck.errors.InputError`. ``results`` exits 0
unless its input is bad (2).
"""

from __future__ import annotations

import csv
import io
import json
import re
import sys
import time
import xml.etree.ElementTree as ET
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from dosecheck import __version__
from dosecheck.commands.options import CompareTpsOpt
from dosecheck.errors import InputError

if TYPE_CHECKING:
    from rich.console import Console

    from dosecheck.dicom.discovery import DiscoveredPlan, Discovery

__all__ = [
    "PLAN_CSV_COLUMNS",
    "BatchFormat",
    "LineReporter",
    "ResultsFormat",
    "RichReporter",
    "batch",
    "entries_csv",
    "entries_json",
    "entries_junit",
    "print_entries_table",
    "results",
]


class BatchFormat(StrEnum):
    csv = "csv"
    json = "json"
    junit = "junit"


class ResultsFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"
    junit = "junit"


#: Plans that failed or had errors listed at the end of a batch run (the rest: results).
_MAX_LISTED = 50
_EXTENSIONS = {".csv": "csv", ".json": "json", ".xml": "junit", ".junit": "junit"}

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

#: The dose-scale verdict of a plan whose check recorded none: an error before the dose
#: was read, or a plan recorded before schema version 3.
NOT_RECORDED = "not_recorded"


# --------------------------------------------------------------------------- renderers
def _counts(entries: list[dict[str, Any]]) -> dict[str, int]:
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


def entries_json(entries: list[dict[str, Any]], meta: dict[str, Any] | None = None) -> str:
    """``{"dosecheck_version", …, "counts", "dose_scale_counts", "plans": [entry, …]}``
    as JSON text (``dose_scale_counts``: evaluated plans per dose-scale verdict).

    Each entry is ``{"plan": {"path", "patient_id", "plan_label", …}, "status",
    "error", "results": [the objects of check --format json], …}`` (see
    :meth:`dosecheck.batch.database.ResultsDB.latest`).
    """
    doc: dict[str, Any] = {"dosecheck_version": __version__, **(meta or {})}
    doc["counts"] = _counts(entries)
    doc["dose_scale_counts"] = dose_scale_counts(entries)
    doc["plans"] = entries
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def entries_csv(entries: list[dict[str, Any]]) -> str:
    """One row per constraint result: :data:`PLAN_CSV_COLUMNS`, check's columns, then
    :data:`EXTRA_CSV_COLUMNS`. ``dose_scale`` is the verdict (``not_recorded`` when
    none), ``beam_dose_consistent`` ``true``/``false`` or empty without beam doses."""
    from dosecheck.output.check_formats import CSV_COLUMNS

    columns = (*CSV_COLUMNS, *EXTRA_CSV_COLUMNS)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([*PLAN_CSV_COLUMNS, *columns])
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
        if not e["results"]:
            w.writerow(head + [""] * len(columns))
        for rec in e["results"]:
            w.writerow(head + ["" if rec.get(c) is None else rec.get(c) for c in columns])
    return buf.getvalue()


_XML_BAD = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _x(text: Any) -> str:
    return _XML_BAD.sub("", "" if text is None else str(text))


def _package(plan: dict[str, Any]) -> str:
    parts = [plan.get("patient_id") or "unknown", plan.get("plan_label") or "plan"]
    return ".".join(re.sub(r"[^A-Za-z0-9_-]+", "_", p) for p in parts)


def entries_junit(entries: list[dict[str, Any]]) -> str:
    """JUnit XML: one ``<testsuite>`` per plan, one ``<testcase>`` per constraint.

    As in ``check --format junit``, a failed constraint has a ``<failure>`` whose
    ``type`` is its priority and a constraint that could not be evaluated a
    ``<skipped>``; a plan that could not be evaluated has a single test case with an
    ``<error>``.
    """
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
        ):
            if value is None and key.startswith(("dose_scale_", "beam_dose")):
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


def _details(e: dict[str, Any], limit: int | None = None) -> str:
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
    return e["summary"]


_STYLE = {
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


def print_entries_table(entries: list[dict[str, Any]], console: Console, title: str) -> None:
    """One row per plan: status, patient, plan, constraint set, dose scale, details,
    folder; then the counts, and the plans whose dose scale is not consistent."""
    from rich.table import Table
    from rich.text import Text

    table = Table(title=title, title_justify="left")
    for col in ("Status", "Patient", "Plan", "Constraint set", "Dose scale", "Details", "Folder"):
        table.add_column(col, overflow="fold")
    for e in entries:
        plan = e["plan"]
        scale = dose_scale_cell(e)
        table.add_row(
            Text(e["status"].upper(), style=_STYLE[e["status"]]),
            Text(plan.get("patient_id") or ""),
            Text(plan.get("plan_label") or ""),
            Text((e["constraint_set"] or {}).get("name") or "—"),
            Text(scale, style="" if scale in ("consistent", "—") else "bold yellow"),
            Text(_details(e, 200)),
            Text(plan["path"]),
        )
    console.print(table)
    c = _counts(entries)
    console.print(
        f"{len(entries)} plans: {c['pass']} pass, {c['fail']} fail, "
        f"{c['incomplete']} incomplete, {c['error']} error",
        highlight=False,
    )
    scale_line = not_consistent_text(entries)
    if scale_line:
        console.print(scale_line, highlight=False)


def _table_text(entries: list[dict[str, Any]], title: str) -> str:
    from rich.console import Console

    console = Console(record=True, width=160, file=io.StringIO(), color_system=None)
    print_entries_table(entries, console, title)
    return console.export_text()


# --------------------------------------------------------------------------- progress
class RichReporter:
    """A rich progress bar on stderr: done/total, failures, plans per second, ETA."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            ProgressColumn,
            TextColumn,
            TimeRemainingColumn,
        )
        from rich.text import Text

        class _Rate(ProgressColumn):
            def render(self, task: Any) -> Text:
                elapsed = task.elapsed or 0.0
                rate = task.completed / elapsed if elapsed > 0 else 0.0
                return Text(f"{rate:.2f} plans/s", style="cyan")

        self.console = Console(stderr=True)
        self.progress = Progress(
            TextColumn("[bold]checking"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn(
                "[red]{task.fields[fail]} fail[/] [yellow]{task.fields[incomplete]} incomplete[/] "
                "[magenta]{task.fields[error]} error[/]"
            ),
            _Rate(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=self.console,
        )
        self.task: Any = None
        self.counts = {"fail": 0, "incomplete": 0, "error": 0}

    def start(self, total: int, skipped: int) -> None:
        """Show the bar (``skipped`` plans are already recorded)."""
        if skipped:
            self.console.print(f"{skipped} plans already recorded: not recomputed")
        self.progress.start()
        self.task = self.progress.add_task("batch", total=total, fail=0, incomplete=0, error=0)

    def plan_done(self, plan: DiscoveredPlan, outcome: dict[str, Any]) -> None:
        """Advance; print failures and errors above the bar."""
        status = outcome["status"]
        if status in self.counts:
            self.counts[status] += 1
            detail = outcome.get("error") if status == "error" else outcome.get("summary")
            self.progress.console.print(
                f"[{_STYLE[status]}]{status.upper()}[/] {plan.describe()}: {detail}",
                highlight=False,
                markup=True,
            )
        self.progress.update(self.task, advance=1, **self.counts)

    def close(self) -> None:
        """Stop the display."""
        self.progress.stop()


class LineReporter:
    """Plain log lines on stderr (not a terminal): one per plan."""

    def __init__(self) -> None:
        self.total = 0
        self.done = 0
        self.start_time = time.perf_counter()

    def _write(self, text: str) -> None:
        sys.stderr.write(text + "\n")
        sys.stderr.flush()

    def start(self, total: int, skipped: int) -> None:
        """Say how many plans will be checked."""
        self.total = total
        self.start_time = time.perf_counter()
        self._write(f"checking {total} plans ({skipped} already recorded, not recomputed)")

    def plan_done(self, plan: DiscoveredPlan, outcome: dict[str, Any]) -> None:
        """``[3/50] PASS patient / label (folder) 0.42 s``."""
        self.done += 1
        status = outcome["status"]
        line = (
            f"[{self.done}/{self.total}] {status.upper()} {plan.describe()} "
            f"{outcome.get('duration_s') or 0.0:.2f} s"
        )
        if status == "error":
            line += f": {outcome.get('error')}"
        elif status in ("fail", "incomplete"):
            line += f": {outcome.get('summary')}"
        self._write(line)

    def close(self) -> None:
        """Nothing to tidy."""


# --------------------------------------------------------------------------- batch
def _print_dry_run(discovery: Discovery) -> None:
    out = sys.stdout
    for p in discovery.plans:
        rx = ""
        if p.prescription_gy is not None:
            rx = f", {p.prescription_gy:g} Gy" + (
                f" in {p.fractions} fractions" if p.fractions else ""
            )
        out.write(f"{p.patient_id or '?'} / {p.plan_label or '(no RTPLAN)'}{rx}  [{p.path}]\n")
        for role, f in p.files:
            out.write(f"    {role:8s} {f.location}\n")
        if p.grouping != "references":
            out.write(f"    grouped by: {p.grouping}\n")
        for n in p.notes:
            out.write(f"    note: {n}\n")
        if p.problem:
            out.write(f"    ERROR: {p.problem}\n")
    out.write(
        f"{len(discovery.plans)} plans in {discovery.n_files} files; skipped: "
        f"{discovery.skipped_text()}\n"
    )
    for location, message in discovery.unreadable:
        out.write(f"unreadable: {location}: {message}\n")


def _output_format(output: Path | None, fmt: BatchFormat | None) -> BatchFormat | None:
    if fmt is not None:
        return fmt
    if output is None:
        return None
    kind = _EXTENSIONS.get(output.suffix.lower())
    if kind is None:
        raise InputError(
            "cannot tell the output format from the extension; use .csv, .json or .xml, "
            "or pass --format csv|json|junit",
            path=output,
        )
    return BatchFormat(kind)


def _render(entries: list[dict[str, Any]], fmt: str, meta: dict[str, Any]) -> str:
    if fmt == "json":
        return entries_json(entries, meta)
    if fmt == "csv":
        return entries_csv(entries)
    if fmt == "junit":
        return entries_junit(entries)
    return _table_text(entries, meta.get("title", "dosecheck results"))


ArchivesArg = Annotated[
    list[Path] | None,
    typer.Argument(
        help="Folders and .zip archives to search for plans (recursively).", show_default=False
    ),
]


def batch(
    archives: ArchivesArg = None,
    constraints: Annotated[
        str | None,
        typer.Option(
            "--constraints",
            "-c",
            help="Shipped set name or YAML file for every plan. Default: the shipped set "
            "written for each RTPLAN's prescription.",
        ),
    ] = None,
    protocol_map: Annotated[
        Path | None,
        typer.Option(
            "--protocol-map",
            help="YAML rules choosing each plan's set (see docs/batch.md).",
        ),
    ] = None,
    db: Annotated[Path, typer.Option("--db", help="SQLite results database.")] = Path(
        "results.sqlite"
    ),
    jobs: Annotated[
        int | None,
        typer.Option("--jobs", "-j", min=1, help="Worker processes (default: number of CPUs)."),
    ] = None,
    scheduler: Annotated[
        str | None,
        typer.Option(
            "--scheduler", help="Run on a dask.distributed scheduler, e.g. tcp://HOST:8786."
        ),
    ] = None,
    use_dask: Annotated[
        bool, typer.Option("--dask", help="Run on a dask LocalCluster with --jobs workers.")
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Recompute plans already in the database.")
    ] = False,
    strict: Annotated[
        bool, typer.Option("--strict", help="Fail constraints that cannot be evaluated.")
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="List the plans found; compute nothing.")
    ] = False,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write a summary of the plans (.csv, .json, .xml)."),
    ] = None,
    fmt: Annotated[
        BatchFormat | None,
        typer.Option("--format", "-f", help="Summary format (default: from --output)."),
    ] = None,
    site_names: Annotated[
        Path | None,
        typer.Option(
            "--site-names",
            help="The clinic's alias file (YAML: structure -> local ROI names) for every "
            "plan; default $DOSECHECK_SITE_NAMES. A changed file re-checks the plans.",
        ),
    ] = None,
    compare_tps: CompareTpsOpt = False,
) -> None:
    """Check every plan found in folders and .zip archives; keep results in SQLite.

    Exit code: 0 all plans pass; 1 a plan fails a mandatory constraint; 3 a plan
    could not be evaluated (3 wins over 1); 2 bad usage.
    """
    from dosecheck.batch.runner import (
        BatchOptions,
        CheckOptions,
        ConstraintSelection,
        is_tty,
        make_executor,
        run_batch,
    )
    from dosecheck.commands._run import naming_options
    from dosecheck.dicom.discovery import discover
    from dosecheck.output.write import write_text

    if not archives:
        raise InputError("give at least one archive: a folder or a .zip file")
    for a in archives:
        if not a.exists():
            raise InputError("archive not found; check the path", path=a)
    out_fmt = _output_format(output, fmt)
    if output is not None and not output.resolve().parent.is_dir():
        raise InputError("the output folder does not exist", path=output.resolve().parent)
    options = BatchOptions(
        archives=list(archives),
        db=db,
        constraints=constraints,
        protocol_map=protocol_map,
        jobs=jobs,
        scheduler=scheduler,
        dask=use_dask,
        force=force,
        strict=strict,
        check_options=CheckOptions(compare_tps=compare_tps),
    )
    selection = ConstraintSelection.from_options(constraints, protocol_map)
    # The alias file (or $DOSECHECK_SITE_NAMES) is read once, before any work: a bad
    # file stops the run with exit 2. --map is per plan, so batch has none.
    names = naming_options(site_names.resolve() if site_names else None, None)["site_names"]
    make_executor(options)  # bad --jobs/--scheduler/--dask combinations fail before work
    discovery = discover(options.archives)
    if dry_run:
        _print_dry_run(discovery)
        return

    reporter = RichReporter() if is_tty() else LineReporter()
    summary = run_batch(
        options, reporter=reporter, discovery=discovery, selection=selection, site_names=names
    )

    from dosecheck.batch.database import ResultsDB

    with ResultsDB(db) as rdb:
        entries = rdb.latest(location_keys=summary.statuses.keys())
    c = summary.counts
    rate = summary.n_computed / summary.compute_s if summary.compute_s > 0 else 0.0
    lines = [
        f"{len(discovery.plans)} plans: {c['pass']} pass, {c['fail']} fail, "
        f"{c['incomplete']} incomplete, {c['error']} error "
        f"({summary.n_computed} checked in {summary.compute_s:.1f} s, {rate:.2f} plans/s; "
        f"{summary.n_skipped} already recorded)",
        f"files: {discovery.n_files} read, skipped {discovery.skipped_text()}",
    ]
    lines.extend(f"unreadable DICOM: {loc}: {msg}" for loc, msg in discovery.unreadable)
    scale_line = not_consistent_text(entries)
    if scale_line:
        lines.append(f"{scale_line}: dosecheck results {db} shows which")
    if names is not None:
        lines.append(f"site alias file: {names.path} (sha256 {names.sha256[:12]}…)")
    not_passed = [e for e in entries if e["status"] != "pass"]
    for e in not_passed[:_MAX_LISTED]:
        p = e["plan"]
        who = f"{p['patient_id'] or '?'} / {p['plan_label'] or '(no RTPLAN)'} ({p['path']})"
        lines.append(f"{e['status'].upper()} {who}: {_details(e, 300)}")
    if len(not_passed) > _MAX_LISTED:
        lines.append(
            f"… and {len(not_passed) - _MAX_LISTED} more: dosecheck results {db} --failed-only"
        )
    lines.append(f"results: {db} (run {summary.run_id})")
    sys.stderr.write("\n".join(lines) + "\n")

    if out_fmt is not None:
        meta = {
            "database": str(db),
            "run_id": summary.run_id,
            "generated_at": _now(),
            "unreadable_files": [
                {"path": loc, "message": msg} for loc, msg in discovery.unreadable
            ],
        }
        write_text(_render(entries, out_fmt.value, meta), output)
    if summary.exit_code:
        raise typer.Exit(summary.exit_code)


def _now() -> str:
    from dosecheck.batch.database import utc_now

    return utc_now()


# --------------------------------------------------------------------------- results
def results(
    db: Annotated[Path, typer.Argument(help="Results database written by 'dosecheck batch'.")],
    fmt: Annotated[
        ResultsFormat | None,
        typer.Option("--format", "-f", help="Output format (default: table).", show_default=False),
    ] = None,
    failed_only: Annotated[
        bool,
        typer.Option("--failed-only", help="Only plans that fail, are incomplete or have errors."),
    ] = False,
    since: Annotated[
        str | None,
        typer.Option("--since", help="Only plans evaluated since DATE (YYYY-MM-DD[THH:MM])."),
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file (atomically).")
    ] = None,
    report: Annotated[
        Path | None,
        typer.Option(
            "--report",
            help="Also write an archive summary as one self-contained HTML file: pass rate "
            "and value histogram per constraint, worst plans, plans in error.",
            dir_okay=False,
        ),
    ] = None,
) -> None:
    """Report the latest evaluation of every plan in a results database.

    --report FILE.html writes an HTML archive summary for QA instead of the table;
    add --format or --output to get that output as well.
    """
    from dosecheck.batch.database import ResultsDB, parse_since
    from dosecheck.output.write import write_text

    if report is not None:
        from dosecheck.report.html import validate_report_path

        validate_report_path(report)
    since_utc = parse_since(since) if since is not None else None
    with ResultsDB(db, create=False) as rdb:
        entries = rdb.latest(since=since_utc, failed_only=failed_only)
    if report is not None:
        from dosecheck.batch.archive_data import load_archive_data
        from dosecheck.report.archive import render_archive_report

        data = load_archive_data(db, since=since, failed_only=failed_only)
        write_text(render_archive_report(data), report)
        c = _counts(entries)
        sys.stderr.write(
            f"archive summary of {len(entries)} plans ({c['pass']} pass, {c['fail']} fail, "
            f"{c['incomplete']} incomplete, {c['error']} error) written to {report}\n"
        )
        if fmt is None and output is None:
            return
    fmt = fmt or ResultsFormat.table
    if fmt is ResultsFormat.table and output is None:
        from rich.console import Console

        print_entries_table(entries, Console(highlight=False), f"dosecheck results — {db}")
        return
    meta = {"database": str(db), "generated_at": _now(), "title": f"dosecheck results — {db}"}
    if fmt is not ResultsFormat.table:
        meta.pop("title")
    write_text(_render(entries, fmt.value, meta), output)
