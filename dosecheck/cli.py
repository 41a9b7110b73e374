"""The ``dosecheck`` command line: a thin typer layer that registers the commands of
:mod:`dosecheck.commands` (and ``dvh``) and turns errors into exit codes.

Exit codes: 0 success / all constraints pass, 1 a mandatory constraint fails,
2 bad input or usage (one line on stderr naming the file and the problem),
3 internal error (a bug; ``--debug`` shows the traceback) or, for ``batch``, a plan
that could not be evaluated.
"""

from __future__ import annotations

import importlib
import io
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, cast

import typer
import typer.main
from typer.core import TyperCommand, TyperGroup

from dosecheck import VERSION_LINE, __version__
from dosecheck._runtime import keep_freed_memory, pause_cyclic_gc
from dosecheck.commands.options import (
    CompareTpsOpt,
    DoseIsOpt,
    EndCapsOpt,
    FractionsOpt,
    FrameOpt,
    OutputOpt,
    PlanArg,
    PlanSumOpt,
    RtdoseOpt,
    RtplanOpt,
    RtstructOpt,
    load_plan_from_options,
    plan_identity,
)
from dosecheck.engines import DEFAULT_ENGINE, ENGINES, engine_named
from dosecheck.errors import InputError

# The commands defined in dosecheck.commands.*, in the order ``--help`` lists them:
# name -> (module, attribute: a command function or a typer app, one-line help). A
# command's module is imported only when that command runs or shows its own help, so
# ``dosecheck --help`` and each command start without loading the others (issue #11).
# tests/cli/test_lazy_commands.py holds each line to its command's own docstring.
LAZY_COMMANDS: dict[str, tuple[str, str, str]] = {
    "check": (
        "dosecheck.commands.check",
        "check",
        "Check a plan against dose-volume constraints.",
    ),
    "batch": (
        "dosecheck.commands.batch",
        "batch",
        "Check every plan found in folders and .zip archives; keep results in SQLite.",
    ),
    "results": (
        "dosecheck.commands.batch",
        "results",
        "Report the latest evaluation of every plan in a results database.",
    ),
    "report": (
        "dosecheck.commands.report",
        "report",
        "Check a plan and write a self-contained HTML report with DVH plots.",
    ),
    "listen": (
        "dosecheck.commands.listen",
        "listen",
        "Run as a DICOM node (C-STORE SCP): store every object received, check each plan "
        "once complete, record the results in the database (dosecheck results).",
    ),
    "serve": (
        "dosecheck.commands.serve",
        "serve",
        "Serve a read-only web page of the results database: the plans checked (newest "
        "first, with a filter), each plan's HTML report, the archive summary.",
    ),
    "verify": (
        "dosecheck.commands.verify",
        "verify",
        "Re-hash the plan's files against the SHA-256 and SOP Instance UIDs the check "
        "recorded (in its JSON, or in a results database with --id).",
    ),
    "constraints": (
        "dosecheck.commands.constraints",
        "app",
        "List, show, validate, import and compare constraint sets (YAML, or "
        "planning-system templates; formats in docs/constraints.md).",
    ),
}


def load_command(name: str) -> TyperCommand | TyperGroup:
    """The click command (or, for ``constraints``, group) of the lazily registered
    command ``name``: its module is imported here."""
    module, attribute, _ = LAZY_COMMANDS[name]
    target = getattr(importlib.import_module(module), attribute)
    if not isinstance(target, typer.Typer):
        single = typer.Typer(add_completion=False)
        single.command(name)(target)
        target = single
    command = typer.main.get_command(target)
    command.name = name
    return cast("TyperCommand | TyperGroup", command)


class _LazyGroup(TyperGroup):
    """The top-level group: :data:`LAZY_COMMANDS` load on first use.

    While the group's own help is written, a command not yet loaded is listed by a
    stand-in that carries its one-line help, so ``dosecheck --help`` imports none of
    the command modules.
    """

    _listing = False

    def list_commands(self, ctx: typer.Context) -> list[str]:  # type: ignore[override]
        eager = super().list_commands(ctx)
        return eager + [name for name in LAZY_COMMANDS if name not in eager]

    def get_command(self, ctx: typer.Context, cmd_name: str):  # type: ignore[override]
        if cmd_name in self.commands or cmd_name not in LAZY_COMMANDS:
            return self.commands.get(cmd_name)
        if self._listing:
            return TyperCommand(cmd_name, short_help=LAZY_COMMANDS[cmd_name][2])
        self.commands[cmd_name] = load_command(cmd_name)
        return self.commands[cmd_name]

    def format_help(self, ctx: typer.Context, formatter) -> None:  # type: ignore[override]
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False


app = typer.Typer(
    name="dosecheck",
    cls=_LazyGroup,
    help="Check radiotherapy plans (DICOM RT) against dose-volume constraints.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


class DvhFormat(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


def _version(value: bool) -> None:
    if value:
        typer.echo(VERSION_LINE)
        raise typer.Exit()


@app.callback()
def _main(
    ctx: typer.Context,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks for errors.")] = False,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    if isinstance(ctx.obj, dict):  # main() passes its state; read after the command
        ctx.obj["debug"] = debug


@app.command()
def dvh(
    plan: PlanArg = None,
    structure: Annotated[
        list[str] | None,
        typer.Option("--structure", "-s", help="ROI name (repeatable); default all ROIs."),
    ] = None,
    fmt: Annotated[DvhFormat, typer.Option("--format", "-f", help="Output format.")] = (
        DvhFormat.table
    ),
    output: OutputOpt = None,
    rtstruct: RtstructOpt = None,
    rtdose: RtdoseOpt = None,
    rtplan: RtplanOpt = None,
    fractions: FractionsOpt = None,
    allow_frame_mismatch: FrameOpt = False,
    jobs: Annotated[
        int | None,
        typer.Option(
            "--jobs", "-j", min=1, help="Processes computing the ROIs (default: all cores)."
        ),
    ] = None,
    plot: Annotated[
        Path | None,
        typer.Option("--plot", help="Also write the cumulative DVHs as a plot (.png or .svg)."),
    ] = None,
    engine: Annotated[
        str,
        typer.Option(
            "--engine",
            help=f"One of: {', '.join(ENGINES)}. dicompyler is a second opinion "
            "(needs dosecheck\\[reference]).",
        ),
    ] = DEFAULT_ENGINE,
    dose_is: DoseIsOpt = None,
    plan_sum: PlanSumOpt = False,
    compare_tps: CompareTpsOpt = False,
    end_caps: EndCapsOpt = None,
) -> None:
    """Compute DVHs and print volume, min, mean, max per ROI (or the curves as JSON)."""
    from dosecheck.output.write import write_text

    run_engine = engine_named(engine)  # exit 2 for an unknown name, before any work
    if end_caps is not None and engine != DEFAULT_ENGINE:
        raise InputError(
            f"--end-caps applies to the dosecheck engine only; {engine} has its own model"
        )
    if plot is not None:
        from dosecheck.report.plots import plot_format

        plot_format(plot)  # exit 2 for a bad extension, before any work
    loaded = load_plan_from_options(
        plan,
        rtstruct,
        rtdose,
        rtplan,
        fractions,
        allow_frame_mismatch,
        dose_is,
        plan_sum=plan_sum,
    )
    import os

    items = run_engine(loaded, structure, jobs or os.cpu_count() or 1, end_caps)
    tps_notes: list[str] = []
    if compare_tps:
        from dosecheck.dicom.tps_dvh import reconcile_with_tps

        items, tps_notes = reconcile_with_tps(loaded, items, end_caps=end_caps)
    if plot is not None:
        from dosecheck.report.plots import plot_dvhs_to_file

        info = loaded.plan_info
        plot_dvhs_to_file(items, plot, prescription_gy=info.prescription_gy if info else None)
    from dosecheck.output import dvh_formats

    if fmt is DvhFormat.json:
        meta = {"dosecheck_version": __version__, "engine": engine, "plan": plan_identity(loaded)}
        if compare_tps:
            meta["tps_notes"] = tps_notes
        if engine == "dosecheck":
            meta["end_caps"] = str(end_caps or "half-slice")
        text = dvh_formats.dvh_json(items, meta, list(loaded.warnings), compare_tps=compare_tps)
        write_text(text, output)
    elif fmt is DvhFormat.csv:
        write_text(dvh_formats.dvh_csv(items, compare_tps=compare_tps), output)
    else:
        from rich.console import Console

        from dosecheck.output.tps_formats import tps_explanation_lines

        table = dvh_formats.dvh_table(
            items,
            title=f"DVH — {loaded.files.root or loaded.files.rtstruct}",
            compare_tps=compare_tps,
        )
        lines = tps_explanation_lines(items, tps_notes) if compare_tps else []
        if output is not None:
            console = Console(record=True, width=120, file=io.StringIO())
            console.print(table)
            for line in lines:
                console.print(line, highlight=False, markup=False)
            write_text(console.export_text(), output)
        else:
            console = Console()
            console.print(table)
            if lines:
                console.print("[bold]Beside the planning system's DVHs (dosecheck − TPS):[/bold]")
            for line in lines:
                console.print(f"  {line}", highlight=False, markup=False)
        err = Console(stderr=True)
        for w in list(loaded.warnings) + [w for i in items for w in i.dvh.warnings]:
            err.print(f"[yellow]warning:[/yellow] {w}", highlight=False)


def _is_click(exc: BaseException, name: str) -> bool:
    """Whether ``exc`` is click's exception ``name`` (typer may vendor its own click)."""
    return any(c.__name__ == name and "click" in c.__module__ for c in type(exc).__mro__)


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return its exit code (see the module docstring).

    Parameters
    ----------
    argv
        The arguments after the program name; ``None`` reads ``sys.argv``. The console
        script and ``python -m dosecheck`` pass the code to ``sys.exit``; tests call
        ``main(["check", ...])``.

    Input errors become one line on stderr and exit 2; anything else is a bug (one
    line and exit 3, or the traceback with ``--debug``).
    """
    keep_freed_memory()  # before any command allocates anything large (issue #11)
    with pause_cyclic_gc():  # batch, listen and serve resume it (dosecheck/_runtime.py)
        return _main(argv)


def _main(argv: list[str] | None) -> int:
    state = {"debug": False}  # set by --debug (the app callback), read here
    extra = {} if argv is None else {"prog_name": "dosecheck"}
    try:
        rc = app(args=argv, standalone_mode=False, obj=state, **extra)
    except InputError as exc:
        if state["debug"]:
            raise
        sys.stderr.write(f"dosecheck: error: {exc}\n")
        return 2
    except typer.Exit as exc:
        return exc.exit_code
    except SystemExit as exc:
        return _exit_status(exc.code)
    except KeyboardInterrupt:
        sys.stderr.write("dosecheck: interrupted\n")
        return 130
    except Exception as exc:  # a bug: say so in one line unless --debug
        if _is_click(exc, "ClickException"):  # usage errors: bad option, missing argument
            exc.show()  # type: ignore[attr-defined]
            return 2
        if _is_click(exc, "Abort"):
            return 130
        if state["debug"]:
            raise
        sys.stderr.write(
            f"dosecheck: internal error: {type(exc).__name__}: {exc} "
            "(rerun with --debug for the traceback and report it)\n"
        )
        return 3
    return rc if isinstance(rc, int) else 0


def _exit_status(code: object) -> int:
    """The exit status ``sys.exit(code)`` gives: 0 for None, the int, else 1 (the
    message is printed, as Python does)."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    sys.stderr.write(f"{code}\n")
    return 1
