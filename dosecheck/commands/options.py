"""Command-line options shared by several commands, and how they load a plan."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from dosecheck.errors import InputError

if TYPE_CHECKING:
    from dosecheck.model import Plan

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


class DoseIs(StrEnum):
    """Values of ``--dose-is``."""

    total = "total"
    fraction = "fraction"
    labelled = "labelled"


class EndCapsChoice(StrEnum):
    """Values of ``--end-caps`` (those of :class:`dosecheck.core.end_caps.EndCaps`)."""

    half_slice = "half-slice"
    none = "none"
    shape = "shape"


EndCapsOpt = Annotated[
    EndCapsChoice | None,
    typer.Option(
        "--end-caps",
        help=(
            "How far each ROI extends beyond its first and last contour plane: "
            "'half-slice' (half a contour spacing, the default; MIM, the Nelms data), "
            "'none' (it stops at the plane; Eclipse) or 'shape' (the cross-section "
            "changes continuously between planes and closes as the shape implies; "
            "needs dosecheck\\[shape]). Overrides a constraint set's end_caps."
        ),
    ),
]


DoseIsOpt = Annotated[
    DoseIs | None,
    typer.Option(
        "--dose-is",
        help=(
            "What the RTDOSE holds, whatever its DoseSummationType says: 'total' (the "
            "whole course: use the values as they are), 'fraction' (one fraction: "
            "multiply by the number of fractions) or 'labelled' (as labelled). By "
            "default the label is trusted but checked against the RTPLAN's beam dose "
            "points or prescription, and a contradiction (a factor near the fraction "
            "count or near 100) is refused; any --dose-is accepts the dose with a warning."
        ),
    ),
]
PlanSumOpt = Annotated[
    bool,
    typer.Option(
        "--plan-sum",
        help=(
            "Treat the folder's plans of one structure set as one course (e.g. a "
            "sequential boost): their doses, prescriptions and fractions are summed."
        ),
    ),
]
ShapeRangeOpt = Annotated[
    bool,
    typer.Option(
        "--shape-range",
        help=(
            "Add end caps 'shape' to the borderline ranges of the ROIs near a limit "
            "(a pass of its own, about 3x the default one; needs dosecheck\\[shape])."
        ),
    ),
]
# --- options of the commands that check many plans (batch, listen) ------------------------
RunConstraintsOpt = Annotated[
    str | None,
    typer.Option(
        "--constraints",
        "-c",
        help="Shipped set name or YAML file for every plan. Default: the shipped set "
        "written for each RTPLAN's prescription.",
    ),
]
ProtocolMapOpt = Annotated[
    Path | None,
    typer.Option("--protocol-map", help="YAML rules choosing each plan's set."),
]
RunStrictOpt = Annotated[
    bool,
    typer.Option(
        "--strict",
        help="Fail constraints that cannot be evaluated, and plans only within variation.",
    ),
]
RunSiteNamesOpt = Annotated[
    Path | None,
    typer.Option(
        "--site-names",
        help="The clinic's alias file for every plan; default $DOSECHECK_SITE_NAMES.",
    ),
]
CompareTpsOpt = Annotated[
    bool,
    typer.Option(
        "--compare-tps",
        help=(
            "Compare with the planning system's own DVHs in the RTDOSE (DVHSequence): "
            "differences, agreement and why they differ."
        ),
    ),
]
OutputOpt = Annotated[
    Path | None, typer.Option("--output", "-o", help="Write to this file (atomically).")
]


# --- options of check and report -------------------------------------------------------
ConstraintsOpt = Annotated[
    str | None,
    typer.Option(
        "--constraints",
        "-c",
        help=(
            "Shipped set name (see 'dosecheck constraints list') or a YAML file. "
            "Default: the shipped set written for the RTPLAN's prescription."
        ),
    ),
]
PrescriptionOpt = Annotated[
    float | None,
    typer.Option(
        "--prescription",
        help="Prescription dose in Gy; overrides the RTPLAN's (which overrides the set's).",
    ),
]
CheckFractionsOpt = Annotated[
    int | None,
    typer.Option(
        "--fractions",
        min=1,
        help=(
            "Number of fractions: overrides the RTPLAN's for the prescription, and scales "
            "a FRACTION dose to the plan dose."
        ),
    ),
]
StrictOpt = Annotated[
    bool,
    typer.Option(
        "--strict",
        help=(
            "Fail constraints that cannot be evaluated (ROI missing or ambiguous, …) and "
            "plans whose mandatory constraints are only within their variation limit."
        ),
    ),
]
SiteNamesOpt = Annotated[
    Path | None,
    typer.Option(
        "--site-names",
        help=(
            "The clinic's alias file (YAML: structure -> local ROI names); default "
            "$DOSECHECK_SITE_NAMES."
        ),
    ),
]
MapOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--map",
        help="STRUCTURE=ROI: use this ROI for the structure (repeatable); decides first.",
    ),
]


def load_plan_from_options(
    plan: Path | None,
    rtstruct: Path | None,
    rtdose: list[Path] | None,
    rtplan: Path | None,
    fractions: int | None,
    allow_frame_mismatch: bool,
    dose_is: DoseIs | str | None = None,
    *,
    plan_sum: bool = False,
    prescription_gy: float | None = None,
) -> Plan:
    """Load a plan from a folder argument or the explicit file options.

    With ``plan_sum`` the folder's plans of one structure set are loaded as one
    course (:func:`dosecheck.dicom.plan_sum.load_plan_sum`; ``prescription_gy`` is the
    course's total from ``--prescription``, which stands in for parts without one).
    """
    from dosecheck.dicom.load import load_plan

    if plan_sum:
        if plan is None or rtstruct is not None or rtdose or rtplan is not None:
            raise InputError("--plan-sum takes the plan folder, not --rtstruct/--rtdose/--rtplan")
        from dosecheck.dicom.plan_sum import load_plan_sum

        loaded = load_plan_sum(
            plan,
            prescription_gy=prescription_gy,
            allow_frame_mismatch=allow_frame_mismatch,
            dose_is=str(dose_is) if dose_is is not None else None,
        )
        if fractions is not None:
            loaded.warnings.append(
                f"--fractions {fractions} ignored: with --plan-sum each plan's RTPLAN gives "
                "its number of fractions"
            )
        return loaded
    if plan is None and (rtstruct is None or not rtdose):
        raise InputError("give a plan folder, or --rtstruct FILE and --rtdose FILE")
    return load_plan(
        plan,
        rtstruct=rtstruct,
        rtdose=tuple(rtdose or ()),
        rtplan=rtplan,
        fractions=fractions,
        allow_frame_mismatch=allow_frame_mismatch,
        dose_is=str(dose_is) if dose_is is not None else None,
        prescription_gy=prescription_gy,
    )


def plan_identity(plan: Plan) -> dict[str, Any]:
    """Plan identity for JSON output: paths, patient, label, UIDs, dose summation, the
    dose-scale record, and ``plan_sum`` (the parts) for a plan sum."""
    from dosecheck.model import PlanIdentity

    return PlanIdentity.of(plan).to_dict()
