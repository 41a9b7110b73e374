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

from dosecheck.commands._run import print_summary, run_check, validate_prescription
from dosecheck.commands.options import (
    CheckFractionsOpt,
    CompareTpsOpt,
    ConstraintsOpt,
    DoseIsOpt,
    EndCapsOpt,
    FrameOpt,
    MapOpt,
    PlanArg,
    PlanSumOpt,
    PrescriptionOpt,
    RtdoseOpt,
    RtplanOpt,
    RtstructOpt,
    ShapeRangeOpt,
    SiteNamesOpt,
    StrictOpt,
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
    compare_tps: CompareTpsOpt = False,
    end_caps: EndCapsOpt = None,
    shape_range: ShapeRangeOpt = False,
) -> None:
    """Check a plan and write a self-contained HTML report with DVH plots.

    Same options and constraint set choice as check. The report shows the verdict,
    plan identity, prescription, constraint table and a cumulative DVH per checked
    structure with its limits; it fetches nothing and prints on A4. Exit code 0 when
    every mandatory constraint passes, 1 when one fails, 2 for bad input.
    """
    from rich.console import Console

    from dosecheck.report.html import validate_report_path, write_report

    validate_prescription(prescription)
    if output is None:
        raise InputError("give the report file with --output FILE.html")
    validate_report_path(output)
    result = run_check(
        plan,
        constraints=constraints,
        prescription=prescription,
        fractions=fractions,
        strict=strict,
        rtstruct=rtstruct,
        rtdose=rtdose,
        rtplan=rtplan,
        allow_frame_mismatch=allow_frame_mismatch,
        dose_is=dose_is,
        site_names=site_names,
        roi_map=roi_map,
        plan_sum=plan_sum,
        compare_tps=compare_tps,
        end_caps=end_caps,
        shape_range=shape_range,
    )
    write_report(result, output)
    err = Console(stderr=True, highlight=False)
    print_summary(result, err)
    err.print(f"report written to {output}", markup=False, soft_wrap=True)
    if result.exit_code:
        raise typer.Exit(result.exit_code)
