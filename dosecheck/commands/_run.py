"""The check that ``dosecheck check`` and ``dosecheck report`` share.

:func:`validate_prescription` refuses a bad ``--prescription`` before any work;
:func:`run_check` loads the plan (as a plan sum when the shipped sets say so), chooses
the constraint set and checks the plan; :func:`print_summary` writes the verdict line
and the warnings to stderr. The commands only add their own output.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

from dosecheck.commands.options import load_plan_from_options
from dosecheck.errors import DicomInputError, InputError

if TYPE_CHECKING:
    from rich.console import Console

    from dosecheck.checking.check import CheckReport
    from dosecheck.checking.model import ConstraintSet
    from dosecheck.model import Plan


def validate_prescription(prescription: float | None) -> None:
    """Refuse a ``--prescription`` that is not a positive, finite dose in Gy.

    Raises
    ------
    InputError
        With the value given.
    """
    if prescription is not None and not (math.isfinite(prescription) and prescription > 0):
        raise InputError(f"--prescription must be a positive dose in Gy, not {prescription}")


def run_check(
    plan: Path | None,
    *,
    constraints: str | None,
    prescription: float | None,
    fractions: int | None,
    strict: bool,
    rtstruct: Path | None,
    rtdose: list[Path] | None,
    rtplan: Path | None,
    allow_frame_mismatch: bool,
    dose_is: str | None,
    site_names: Path | None,
    roi_map: list[str] | None,
    plan_sum: bool,
    compare_tps: bool = False,
    end_caps: str | None = None,
    shape_range: bool = False,
) -> CheckReport:
    """The check of ``dosecheck check``/``report`` from their options (the prescription
    already passed :func:`validate_prescription`).

    Raises
    ------
    InputError
        A bad alias file or ``--map``, and everything loading the plan or the
        constraint set raises.
    """
    from dosecheck.checking.check import check_plan

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
    return check_plan(
        loaded,
        cset,
        prescription_gy=prescription,
        fractions=fractions,
        strict=strict,
        compare_tps=compare_tps,
        end_caps=end_caps,
        shape_range=shape_range,
        **naming,
    )


def print_summary(report: CheckReport, err: Console) -> None:
    """The verdict line (coloured by verdict) and each warning, on ``err``."""
    from dosecheck.output.check_formats import VERDICT_STYLE

    err.print(report.summary(), style=VERDICT_STYLE[report.verdict], markup=False, soft_wrap=True)
    for w in report.warnings:
        err.print(f"warning: {w}", style="yellow", markup=False, soft_wrap=True)


#: Environment variable naming the site alias file when --site-names is not given.
SITE_NAMES_ENV = "DOSECHECK_SITE_NAMES"


def naming_options(site_names: Path | None, roi_map: list[str] | None) -> dict:
    """``check_plan`` keyword arguments for ``--site-names`` (else the environment
    variable ``DOSECHECK_SITE_NAMES``) and ``--map``.

    Raises
    ------
    InputError
        A bad alias file (file and line) or a malformed ``--map``.
    """
    import os

    from dosecheck.checking.site_names import load_site_names, parse_roi_map

    loaded = None
    if site_names is not None:
        loaded = load_site_names(site_names, source="option")
    elif os.environ.get(SITE_NAMES_ENV, "").strip():
        path = os.environ[SITE_NAMES_ENV].strip()
        try:
            loaded = load_site_names(path, source="environment")
        except InputError as exc:
            raise InputError(
                f"{exc} (the file named by the environment variable {SITE_NAMES_ENV}; "
                "unset it, or pass --site-names FILE)"
            ) from exc
    return {"site_names": loaded, "roi_map": parse_roi_map(roi_map or [])}


def load_plan_for_check(
    plan: Path | None,
    rtstruct: Path | None,
    rtdose: list[Path] | None,
    rtplan: Path | None,
    fractions: int | None,
    allow_frame_mismatch: bool,
    dose_is: str | None = None,
    *,
    plan_sum: bool = False,
    auto_plan_sum: bool = False,
    prescription_gy: float | None = None,
) -> Plan:
    """Load the plan as :func:`load_plan_from_options` does, for ``check``/``report``.

    The loader uses ``--fractions`` only to scale a FRACTION dose and warns that it
    ignored it otherwise; for a check it is also the prescription's number of
    fractions, so that warning is dropped.

    When a folder holds several plans of one structure set (and no files were named),
    they are loaded as a plan sum if ``auto_plan_sum`` (no ``--constraints``) and
    :func:`~dosecheck.checking.sets.plan_sum_set` finds the shipped set their sum is
    written for; otherwise the "several plans" error stays, suggesting ``--plan-sum``.
    """
    try:
        loaded = load_plan_from_options(
            plan,
            rtstruct,
            rtdose,
            rtplan,
            fractions,
            allow_frame_mismatch,
            dose_is,
            plan_sum=plan_sum,
            prescription_gy=prescription_gy,
        )
    except DicomInputError as exc:
        if plan_sum or plan is None or rtstruct or rtdose or rtplan or not plan.is_dir():
            raise
        loaded = _plan_sum_instead(
            plan, exc, auto_plan_sum, allow_frame_mismatch, prescription_gy, dose_is
        )
    if fractions is not None:
        ignored = f"--fractions {fractions} ignored:"
        loaded.warnings[:] = [w for w in loaded.warnings if not w.startswith(ignored)]
    return loaded


def _plan_sum_instead(
    folder: Path,
    exc: DicomInputError,
    auto: bool,
    allow_frame_mismatch: bool,
    prescription_gy: float | None,
    dose_is: str | None = None,
) -> Plan:
    """The folder's plans as a plan sum when that is what the shipped sets say, else
    ``exc`` again (with a hint at ``--plan-sum`` when the plans share a structure set)."""
    from dosecheck.checking.sets import describe_prescription, plan_sum_set
    from dosecheck.dicom.plan_sum import find_plan_sum, load_plan_sum

    try:
        parts = find_plan_sum(folder)
    except InputError:
        raise exc from None
    listing = "; ".join(
        f"{p.label or '?'}: {describe_prescription(p.prescription_gy, p.fractions)}" for p in parts
    )
    # Two plans with one label and one prescription are more likely two versions of one
    # plan (a re-export, a replan) than two phases of a course: never summed unasked.
    seen = [(p.label, p.prescription_gy, p.fractions) for p in parts]
    versions = len(set(seen)) < len(seen)
    chosen = None
    if auto and not versions:
        chosen = plan_sum_set([(p.prescription_gy, p.fractions) for p in parts])
    if versions:
        raise DicomInputError(
            f"{exc.message}. These are {len(parts)} plans of one structure set ({listing}), "
            "and some share their label and prescription: versions of one plan, not phases "
            "of a course? Pass the one to use with --rtplan, or --plan-sum if they really "
            "are to be added",
            path=exc.path,
            tag=exc.tag,
        ) from exc
    if chosen is None:
        raise DicomInputError(
            f"{exc.message}. These are {len(parts)} plans of one structure set ({listing}): "
            "pass --plan-sum to check them as one course",
            path=exc.path,
            tag=exc.tag,
        ) from exc
    c = chosen.constraint_set
    note = (
        f"PLAN SUM chosen automatically: the folder holds {len(parts)} plans of one structure "
        f"set ({listing}); none alone matches a shipped constraint set, and their sum "
        f"({describe_prescription(c.prescription_gy, c.fractions)}) matches {chosen.key!r}, "
        "so they are checked as one course (--plan-sum asks for this; --rtplan/--rtdose "
        "check one plan)"
    )
    return load_plan_sum(
        folder,
        prescription_gy=prescription_gy,
        allow_frame_mismatch=allow_frame_mismatch,
        note=note,
        dose_is=dose_is,
    )


def choose_constraint_set(
    constraints: str | None,
    plan: Plan,
    prescription_gy: float | None,
    fractions: int | None,
) -> ConstraintSet:
    """The set named by ``--constraints``, or the shipped set for the plan's prescription.

    Without ``--constraints`` the set is chosen by the RTPLAN's prescription; the
    command line's ``--prescription``/``--fractions`` stand in only for what the plan
    lacks (no RTPLAN, or one without dose or fractions).

    Raises
    ------
    InputError
        Unknown name, bad file, or no / several shipped sets for the prescription (the
        message lists the shipped sets with their prescriptions).
    """
    from dosecheck.checking.sets import resolve_constraint_set, select_set_for_plan

    if constraints is not None:
        return resolve_constraint_set(constraints)
    info = plan.plan_info
    dose = info.prescription_gy if info is not None else None
    fx = info.fractions if info is not None else None
    if dose is None:
        dose = prescription_gy
    if fx is None:
        fx = fractions
    return select_set_for_plan(dose, fx).constraint_set
