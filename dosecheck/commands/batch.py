"""``dosecheck batch`` (check every plan of some archives into a results database) and
``dosecheck results`` (report from that database).

Exit codes of ``batch``: 0 when every plan passes, 1 when a plan fails a mandatory
constraint, 3 when a plan (or a DICOM file) could not be evaluated — 3 takes
precedence over 1 — and 2 for bad usage (missing archive, bad constraint set or
protocol map), raised as :class:`~dosecheck.errors.InputError`. ``results`` exits 0
unless its input is bad (2).
"""

from __future__ import annotations

import sys
import time
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from dosecheck._runtime import resume_cyclic_gc
from dosecheck.commands.options import (
    CompareTpsOpt,
    EndCapsOpt,
    RunConstraintsOpt,
    RunStrictOpt,
    ShapeRangeOpt,
)
from dosecheck.errors import InputError

# The renderers moved to dosecheck/output/batch_formats.py; re-exported here.
from dosecheck.output.batch_formats import (
    PLAN_CSV_COLUMNS,
    STATUS_STYLE,
    borderline_text,
    details,
    entries_csv,
    entries_json,
    entries_junit,
    not_consistent_text,
    plan_counts,
    print_entries_table,
    render_entries,
    tps_text,
)

if TYPE_CHECKING:
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
                f"[{STATUS_STYLE[status]}]{status.upper()}[/] {plan.describe()}: {detail}",
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


ArchivesArg = Annotated[
    list[Path] | None,
    typer.Argument(
        help="Folders and .zip archives to search for plans (recursively).", show_default=False
    ),
]


def batch(
    archives: ArchivesArg = None,
    constraints: RunConstraintsOpt = None,
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
    strict: RunStrictOpt = False,
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
    end_caps: EndCapsOpt = None,
    shape_range: ShapeRangeOpt = False,
) -> None:
    """Check every plan found in folders and .zip archives; keep results in SQLite.

    Exit code: 0 all plans pass; 1 a plan fails a mandatory constraint; 3 a plan
    could not be evaluated (3 wins over 1); 2 bad usage.
    """
    resume_cyclic_gc()  # a long run: cycles are collected (dosecheck/_runtime.py)
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
        check_options=CheckOptions(
            compare_tps=compare_tps,
            end_caps=str(end_caps) if end_caps is not None else None,
            shape_range=shape_range,
        ),
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
    for line in (not_consistent_text(entries), tps_text(entries), borderline_text(entries)):
        if line:
            lines.append(f"{line}: dosecheck results {db} shows which")
    if names is not None:
        lines.append(f"site alias file: {names.path} (sha256 {names.sha256[:12]}…)")
    not_passed = [e for e in entries if e["status"] != "pass"]
    for e in not_passed[:_MAX_LISTED]:
        p = e["plan"]
        who = f"{p['patient_id'] or '?'} / {p['plan_label'] or '(no RTPLAN)'} ({p['path']})"
        lines.append(f"{e['status'].upper()} {who}: {details(e, 300)}")
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
        write_text(render_entries(entries, out_fmt.value, meta), output)
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
        c = plan_counts(entries)
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
    write_text(render_entries(entries, fmt.value, meta), output)
