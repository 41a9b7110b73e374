"""``dosecheck report``: check a plan and write the HTML plan report.

The same check as ``dosecheck check`` (same options, same constraint set selection),
written as one self-contained HTML file (see :mod:`dosecheck.report.html`). Exit
codes as ``check``: 0 when every mandatory constraint passes, 1 when one fails, 2 for
bad input.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dosecheck.commands.check import (
    CheckFractionsOpt,
    ConstraintsOpt,
    MapOpt,
    PrescriptionOpt,
    SiteNamesOpt,
    StrictOpt,
    choose_constraint_set,
    load_plan_for_check,
    naming_options,
)
from dosecheck.commands.options import (
    DoseIsOpt,
    FrameOpt,
    PlanArg,
    PlanSumOpt,
    RtdoseOpt,
    RtplanOpt,
    RtstructOpt,
)
from dosecheck.errors import InputError

ReportOutputOpt = Annotated[
    Path | None,
    typer.Option(
        "--output",
        "-o",
        help="The HTML file to write (atomically), e.g. report.html. Required.",
        dir_okay=False,
    ),
]


def validate_report_path(path: Path) -> None:
    """Refuse, before any work, a report path that is not ``*.html``/``*.htm`` in an
    existing folder.

    Raises
    ------
    InputError
        With the offending path.
    """
    if path.suffix.lower() not in (".html", ".htm"):
        raise InputError("the report file must end in .html or .htm", path=path)
    folder = path.resolve().parent
    if not folder.is_dir():
        raise InputError("the output folder does not exist", path=folder)


def report(
    plan: PlanArg = None,
    output: ReportOutputOpt = None,
    constraints: ConstraintsOpt = None,
    prescription: PrescriptionOpt = None,
    fractions: CheckFractionsOpt = None,
    strict: StrictOpt = False,
    rtstruct: RtstructOpt = None,
    rtdose: RtdoseOpt = None,
    rtplan: RtplanOpt = None,
    allow_frame_mismatch: FrameOpt = False,
    dose_is: DoseIsOpt = None,
    site_names: SiteNamesOpt = None,
    roi_map: MapOpt = None,
    plan_sum: PlanSumOpt = False,
) -> None:
    """Check a plan and write a self-contained HTML report with DVH plots.

    Same options and constraint set choice as check. The report shows the verdict,
    plan identity, prescription, constraint table and a cumulative DVH per checked
    structure with its limits; it fetches nothing and prints on A4. Exit code 0 when
    every mandatory constraint passes, 1 when one fails, 2 for bad input.
    """
    import math

    from rich.console import Console

    from dosecheck.checking.check import check_plan
    from dosecheck.report.html import write_report

    if prescription is not None and not (math.isfinite(prescription) and prescription > 0):
        raise InputError(f"--prescription must be a positive dose in Gy, not {prescription}")
    if output is None:
        raise InputError("give the report file with --output FILE.html")
    validate_report_path(output)
    naming = naming_options(site_names, roi_map)
    loaded = load_plan_for_check(
        plan,
        rtstruct,
        rtdose,
        rtplan,
        fractions,
        allow_frame_mismatch,
        dose_is,
        plan_sum=plan_sum,
        auto_plan_sum=constraints is None,
        prescription_gy=prescription,
    )
    cset = choose_constraint_set(constraints, loaded, prescription, fractions)
    result = check_plan(
        loaded, cset, prescription_gy=prescription, fractions=fractions, strict=strict, **naming
    )
    write_report(result, output)
    err = Console(stderr=True, highlight=False)
    from dosecheck.output.check_formats import VERDICT_STYLE

    err.print(result.summary(), style=VERDICT_STYLE[result.verdict], markup=False, soft_wrap=True)
    for w in result.warnings:
        err.print(f"warning: {w}", style="yellow", markup=False, soft_wrap=True)
    err.print(f"report written to {output}", markup=False, soft_wrap=True)
    if result.exit_code:
        raise typer.Exit(result.exit_code)
