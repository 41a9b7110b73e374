"""The ``dosecheck`` command line: a thin typer layer over :mod:`dosecheck.api`.

Exit codes: 0 success / all constraints pass, 1 a mandatory constraint fails,
2 bad input or usage (one line on stderr naming the file and the problem),
3 internal error (a bug; ``--debug`` shows the traceback).
"""

from __future__ import annotations

import io
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from dosecheck import __version__
from dosecheck.errors import InputError

app = typer.Typer(
    name="dosecheck",
    help="Check radiotherapy plans (DICOM RT) against dose-volume constraints.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

_state = {"debug": False}


class DvhFormat(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


def _version(value: bool) -> None:
    if value:
        typer.echo(f"dosecheck {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks for errors.")] = False,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    _state["debug"] = debug


PlanArg = Annotated[
    Path | None,
    typer.Argument(help="Plan folder (searched recursively for RTSTRUCT, RTDOSE, RTPLAN)."),
]
RtstructOpt = Annotated[Path | None, typer.Option("--rtstruct", help="RTSTRUCT file.")]
RtdoseOpt = Annotated[
    list[Path] | None, typer.Option("--rtdose", help="RTDOSE file (repeat to sum beam doses).")
]
RtplanOpt = Annotated[Path | None, typer.Option("--rtplan", help="RTPLAN file.")]
FractionsOpt = Annotated[
    int | None,
    typer.Option("--fractions", min=1, help="Number of fractions (needed for FRACTION dose)."),
]
FrameOpt = Annotated[
    bool,
    typer.Option(
        "--allow-frame-mismatch",
        help="Accept a dose whose FrameOfReferenceUID differs from the structure set's.",
    ),
]
OutputOpt = Annotated[
    Path | None, typer.Option("--output", "-o", help="Write to this file (atomically).")
]


def _load(plan, rtstruct, rtdose, rtplan, fractions, allow_frame_mismatch):
    from dosecheck.api import load_plan

    if plan is None and (rtstruct is None or not rtdose):
        raise InputError("give a plan folder, or --rtstruct FILE and --rtdose FILE")
    return load_plan(
        plan,
        rtstruct=rtstruct,
        rtdose=tuple(rtdose or ()),
        rtplan=rtplan,
        fractions=fractions,
        allow_frame_mismatch=allow_frame_mismatch,
    )


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
    engine: Annotated[
        str,
        typer.Option(
            "--engine",
            help="dosecheck (default) or dicompyler (second opinion; needs dosecheck[reference]).",
        ),
    ] = "dosecheck",
) -> None:
    """Compute DVHs and print volume, min, mean, max per ROI (or the curves as JSON)."""
    from dosecheck.output.write import write_text

    loaded = _load(plan, rtstruct, rtdose, rtplan, fractions, allow_frame_mismatch)
    if engine == "dosecheck":
        from dosecheck.api import compute_dvhs

        items = compute_dvhs(loaded, structure)
    elif engine == "dicompyler":
        from dosecheck.reference_engine import dicompyler_dvhs

        items = dicompyler_dvhs(loaded, structure)
    else:
        raise InputError(f"unknown engine {engine!r}; use dosecheck or dicompyler")
    from dosecheck.output import dvh_formats

    if fmt is DvhFormat.json:
        meta = {"dosecheck_version": __version__, "engine": engine, "plan": _plan_meta(loaded)}
        write_text(dvh_formats.dvh_json(items, meta, list(loaded.warnings)), output)
    elif fmt is DvhFormat.csv:
        write_text(dvh_formats.dvh_csv(items), output)
    else:
        from rich.console import Console

        table = dvh_formats.dvh_table(
            items, title=f"DVH — {loaded.files.root or loaded.files.rtstruct}"
        )
        if output is not None:
            console = Console(record=True, width=120, file=io.StringIO())
            console.print(table)
            write_text(console.export_text(), output)
        else:
            console = Console()
            console.print(table)
        err = Console(stderr=True)
        for w in list(loaded.warnings) + [w for i in items for w in i.dvh.warnings]:
            err.print(f"[yellow]warning:[/yellow] {w}", highlight=False)


def _plan_meta(plan) -> dict:
    info = plan.plan_info
    ss = plan.structure_set
    return {
        "path": plan.files.root,
        "rtstruct": plan.files.rtstruct,
        "rtdose": list(plan.files.rtdose),
        "rtplan": plan.files.rtplan,
        "patient_id": ss.patient_id or (info.patient_id if info else ""),
        "plan_label": info.label if info else "",
        "structure_set_uid": ss.sop_instance_uid,
        "dose_uids": list(plan.dose.sop_instance_uids),
        "plan_uid": info.sop_instance_uid if info else "",
        "dose_summation_type": plan.dose.summation_type,
        "prescription_gy": info.prescription_gy if info else None,
        "fractions": info.fractions if info else None,
    }


def main() -> None:
    """Console-script entry point: run the app, turning input errors into exit 2."""
    try:
        rc = app(standalone_mode=False)
    except InputError as exc:
        if _state["debug"]:
            raise
        sys.stderr.write(f"dosecheck: error: {exc}\n")
        sys.exit(2)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except SystemExit:
        raise
    except KeyboardInterrupt:
        sys.stderr.write("dosecheck: interrupted\n")
        sys.exit(130)
    except Exception as exc:  # a bug: say so in one line unless --debug
        import click

        if isinstance(exc, click.exceptions.ClickException):
            exc.show()
            sys.exit(2)
        if isinstance(exc, click.exceptions.Abort):
            sys.exit(130)
        if _state["debug"]:
            raise
        sys.stderr.write(
            f"dosecheck: internal error: {type(exc).__name__}: {exc} "
            "(rerun with --debug for the traceback and report it)\n"
        )
        sys.exit(3)
    sys.exit(rc if isinstance(rc, int) else 0)
