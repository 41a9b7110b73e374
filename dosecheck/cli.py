"""The ``dosecheck`` command line: a thin typer layer that registers the commands of
:mod:`dosecheck.commands` (and ``dvh``) and turns errors into exit codes.

Exit codes: 0 success / all constraints pass, 1 a mandatory constraint fails,
2 bad input or usage (one line on stderr naming the file and the problem),
3 internal error (a bug; ``--debug`` shows the traceback) or, for ``batch``, a plan
that could not be evaluated.
"""

from __future__ import annotations

import io
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from dosecheck import VERSION_LINE, __version__
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

app = typer.Typer(
    name="dosecheck",
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
            "--jobs", "-j", min=1, help="Worker processes for the ROIs (default: all cores)."
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


# --- commands defined in dosecheck.commands.* are registered here ---------------------
from dosecheck.commands import batch as _batch_cmd  # noqa: E402
from dosecheck.commands import check as _check_cmd  # noqa: E402
from dosecheck.commands import constraints as _constraints_cmd  # noqa: E402
from dosecheck.commands import listen as _listen_cmd  # noqa: E402
from dosecheck.commands import report as _report_cmd  # noqa: E402
from dosecheck.commands import serve as _serve_cmd  # noqa: E402
from dosecheck.commands import verify as _verify_cmd  # noqa: E402

app.command("check")(_check_cmd.check)
app.command("batch")(_batch_cmd.batch)
app.command("results")(_batch_cmd.results)
app.add_typer(_constraints_cmd.app, name="constraints")
app.command("report")(_report_cmd.report)
app.command("listen")(_listen_cmd.listen)
app.command("serve")(_serve_cmd.serve)
app.command("verify")(_verify_cmd.verify)


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
