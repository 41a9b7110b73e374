"""``dosecheck check``: check a plan against a constraint set (the dosimetrist's check).

Exit codes: 0 when every mandatory constraint passes, 1 when one fails, 2 for bad
input (raised as :class:`~dosecheck.errors.InputError`, turned into one line on stderr
by :func:`dosecheck.cli.main`).
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

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
    OutputOpt,
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

if TYPE_CHECKING:
    from dosecheck.checking.check import CheckReport


class CheckFormat(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"
    junit = "junit"
    markdown = "markdown"


FormatOpt = Annotated[CheckFormat, typer.Option("--format", "-f", help="Output format.")]


def render(report: CheckReport, fmt: CheckFormat, output: Path | None) -> None:
    """Write the report in ``fmt`` to ``output`` (atomically) or stdout."""
    from rich.console import Console

    from dosecheck.output import check_formats as cf
    from dosecheck.output.write import write_text

    err = Console(stderr=True, highlight=False)
    if fmt is CheckFormat.table:
        if output is None:
            cf.print_check_table(report, Console(highlight=False))
            return
        write_text(cf.check_table_text(report), output)
    else:
        renderer = {
            CheckFormat.json: cf.check_json,
            CheckFormat.csv: cf.check_csv,
            CheckFormat.junit: cf.check_junit,
            CheckFormat.markdown: cf.check_markdown,
        }[fmt]
        write_text(renderer(report), output)
    # Machine formats and files: say the verdict and the warnings on stderr too.
    print_summary(report, err)


ReportOpt = Annotated[
    Path | None,
    typer.Option(
        "--report", help="Also write the HTML plan report (verdict, table, DVH plots) here."
    ),
]


def check(
    plan: PlanArg = None,
    constraints: ConstraintsOpt = None,
    prescription: PrescriptionOpt = None,
    fractions: CheckFractionsOpt = None,
    strict: StrictOpt = False,
    fmt: FormatOpt = CheckFormat.table,
    output: OutputOpt = None,
    rtstruct: RtstructOpt = None,
    rtdose: RtdoseOpt = None,
    rtplan: RtplanOpt = None,
    allow_frame_mismatch: FrameOpt = False,
    report_file: ReportOpt = None,
    dose_is: DoseIsOpt = None,
    site_names: SiteNamesOpt = None,
    roi_map: MapOpt = None,
    plan_sum: PlanSumOpt = False,
    compare_tps: CompareTpsOpt = False,
    end_caps: EndCapsOpt = None,
    shape_range: ShapeRangeOpt = False,
) -> None:
    """Check a plan against dose-volume constraints.

    Exit code 0 when every mandatory constraint passes, 1 when one fails, 2 for bad
    input. Without --constraints the shipped set whose prescription matches the
    RTPLAN's is used.
    """
    validate_prescription(prescription)
    if report_file is not None:
        from dosecheck.report.html import validate_report_path

        validate_report_path(report_file)  # exit 2 before any work
    report = run_check(
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
    if report_file is not None:
        from dosecheck.report import write_report

        write_report(report, report_file)
    render(report, fmt, output)
    if report.exit_code:
        raise typer.Exit(report.exit_code)
