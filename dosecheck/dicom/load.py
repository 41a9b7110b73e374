"""Load a whole plan (structures, summed dose, RTPLAN) into :class:`~dosecheck.model.Plan`."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from dosecheck.dicom._common import check_exists
from dosecheck.dicom.beam_set import check_beam_set
from dosecheck.dicom.discovery import find_plan_files
from dosecheck.dicom.dose import read_rtdose
from dosecheck.dicom.dose_sum import combine_doses, compare_beam_doses
from dosecheck.dicom.plan import read_rtplan
from dosecheck.dicom.structures import read_rtstruct
from dosecheck.errors import DicomInputError, InputError
from dosecheck.model import BeamDoseCheck, DoseGrid, Plan, PlanFiles, PlanInfo, StructureSet

if TYPE_CHECKING:
    from dosecheck.core.dose_scale import DoseScaleCheck
    from dosecheck.core.structures import SharedDVHs

__all__ = ["DOSE_IS", "load_plan"]

#: Accepted values of ``dose_is`` (``--dose-is``).
DOSE_IS = ("labelled", "total", "fraction")


def _resolve_files(
    path_or_files: str | Path | PlanFiles | None,
    rtstruct: str | Path | None,
    rtdose: Sequence[str | Path],
    rtplan: str | Path | None,
) -> PlanFiles:
    if isinstance(rtdose, str | Path):
        rtdose = (rtdose,)
    if isinstance(path_or_files, PlanFiles):
        return PlanFiles(
            rtstruct=str(rtstruct) if rtstruct is not None else path_or_files.rtstruct,
            rtdose=tuple(str(p) for p in rtdose) or path_or_files.rtdose,
            rtplan=str(rtplan) if rtplan is not None else path_or_files.rtplan,
            root=path_or_files.root,
            beam_doses=() if rtdose else path_or_files.beam_doses,
        )
    if path_or_files is None:
        if rtstruct is None or not rtdose:
            raise InputError("no plan folder given: pass a folder, or both --rtstruct and --rtdose")
        return PlanFiles(
            rtstruct=str(rtstruct),
            rtdose=tuple(str(p) for p in rtdose),
            rtplan=str(rtplan) if rtplan is not None else None,
        )
    root = Path(path_or_files)
    if not root.exists():
        raise InputError("not found; check the path", path=root)
    if root.is_dir():
        if rtstruct is not None and rtdose:
            return PlanFiles(
                rtstruct=str(rtstruct),
                rtdose=tuple(str(p) for p in rtdose),
                rtplan=str(rtplan) if rtplan is not None else None,
                root=str(root),
            )
        return find_plan_files(root, rtstruct=rtstruct, rtdose=rtdose, rtplan=rtplan)
    raise InputError(
        "is a file, not a folder; pass the plan folder, or the files with "
        "--rtstruct/--rtdose/--rtplan",
        path=root,
    )


def load_plan(
    path_or_files: str | Path | PlanFiles | None = None,
    *,
    rtstruct: str | Path | None = None,
    rtdose: Sequence[str | Path] = (),
    rtplan: str | Path | None = None,
    fractions: int | None = None,
    allow_frame_mismatch: bool = False,
    dose_is: str | None = None,
    prescription_gy: float | None = None,
) -> Plan:
    """Read the structures, the (summed) dose and the optional RTPLAN of one plan.

    Parameters
    ----------
    path_or_files
        A folder to search (see :func:`~dosecheck.dicom.discovery.find_plan_files`),
        a :class:`~dosecheck.model.PlanFiles`, or ``None`` when ``rtstruct`` and
        ``rtdose`` are given.
    rtstruct, rtdose, rtplan
        Explicit files; they override or help the folder search.
    fractions
        Number of fractions for per-fraction (FRACTION) dose; defaults to the
        RTPLAN's NumberOfFractionsPlanned.
    allow_frame_mismatch
        Turn a FrameOfReferenceUID mismatch between structures and dose into a
        warning instead of an error.
    dose_is
        What the RTDOSE holds, overriding its DoseSummationType: ``None`` (default)
        trusts the label and refuses a dose whose scale contradicts the RTPLAN;
        ``"labelled"`` uses the label and turns a contradiction into a warning;
        ``"total"`` uses the values as the course total whatever the label;
        ``"fraction"`` multiplies them by the fraction count. See
        :func:`_apply_dose_scale`.
    prescription_gy
        The course prescription the user states (``--prescription``): the dose-scale
        check compares the dose with it instead of the RTPLAN's (and without an
        RTPLAN); it is not stored in the plan.

    Returns
    -------
    Plan
        With ``warnings`` for the report: the readers' notes (skipped contours, summed
        or resampled doses, a missing DoseSummationType, …), fraction scaling,
        unverifiable or mismatching references. Several doses are summed (resampled onto the
        first grid when needed); FRACTION dose is multiplied by the fraction count.
        ``dose_scale`` holds the check of the dose's scale against the RTPLAN.

    Raises
    ------
    InputError
        A path does not exist; ``fractions`` < 1.
    DicomInputError
        Any problem reading the files; a structure set without ROIs; a single BEAM
        dose (one beam is not the plan); summed BEAM doses that are not the RTPLAN's
        beams once each (:func:`~dosecheck.dicom.beam_set.check_beam_set`); FRACTION
        dose with no fraction count;
        a dose scale that contradicts the RTPLAN (see :func:`_apply_dose_scale`);
        FrameOfReferenceUID mismatch (unless allowed).
    """
    if fractions is not None and fractions < 1:
        raise InputError(f"--fractions must be at least 1, got {fractions}")
    if dose_is is not None and dose_is not in DOSE_IS:
        raise InputError(f"--dose-is must be one of {', '.join(DOSE_IS)}, not {dose_is!r}")
    files = _resolve_files(path_or_files, rtstruct, rtdose, rtplan)
    for p in (
        files.rtstruct,
        *files.rtdose,
        *files.beam_doses,
        *([files.rtplan] if files.rtplan else []),
    ):
        check_exists(p)

    warnings: list[str] = []
    structure_set = read_rtstruct(files.rtstruct, deferred=True)
    if not structure_set.structures:
        raise DicomInputError(
            "is empty: the structure set has no ROIs, so there is nothing to compute; "
            "export the structure set again",
            path=files.rtstruct,
            tag="StructureSetROISequence",
        )
    plan_info = read_rtplan(files.rtplan) if files.rtplan else None
    grids = [read_rtdose(p) for p in files.rtdose]
    files, grids, beam_check = _check_beam_doses(files, grids, warnings, plan_info=plan_info)
    if len(grids) == 1 and grids[0].summation_type == "BEAM":
        # One beam's contribution is not the plan dose; checking it against plan
        # constraints would pass plans that fail. There is deliberately no override.
        raise DicomInputError(
            "is BEAM: this file holds the dose of one beam only, not the plan dose; pass "
            "the PLAN dose, or every beam's RTDOSE of the plan (repeat --rtdose) to sum them",
            path=files.rtdose[0],
            tag="DoseSummationType",
        )
    beam_set_note = ""
    if len(grids) > 1 and all(g.summation_type == "BEAM" for g in grids):
        # The plan dose is the sum of these: each RTPLAN beam must be there once.
        beam_set_note = check_beam_set(grids, plan_info, refuse=True)
    dose = combine_doses(grids)
    # What the readers skipped, assumed or derived: the user must see it.
    ss_name = Path(files.rtstruct).name
    warnings.extend(f"{ss_name}: {n}" for n in structure_set.notes)
    for s in structure_set.structures:
        warnings.extend(f"{s.name or f'ROI {s.number}'}: {n}" for n in s.notes)
    warnings.extend(dose.notes)  # each names its file(s)
    if beam_set_note:
        warnings.append(beam_set_note)

    dose, scale_check, shared = _apply_dose_scale(
        dose,
        plan_info,
        structure_set,
        fractions=fractions,
        dose_is=dose_is,
        warnings=warnings,
        prescription_gy=prescription_gy,
    )

    ss_frame = structure_set.frame_of_reference_uid
    dose_frame = dose.frame_of_reference_uid
    if ss_frame and dose_frame and ss_frame != dose_frame:
        message = (
            f"FrameOfReferenceUID of the structure set ({ss_frame}) differs from that of "
            f"the dose ({dose_frame}): they may not be in the same coordinate system"
        )
        if not allow_frame_mismatch:
            raise DicomInputError(
                message + "; pass files of one plan, or --allow-frame-mismatch if you are "
                "sure they are registered",
                path=dose.sources[0] if dose.sources else None,
                tag="FrameOfReferenceUID",
            )
        warnings.append(message)
    elif not ss_frame or not dose_frame:
        warnings.append(
            "FrameOfReferenceUID missing in the structure set or the dose; could not check "
            "that they share a coordinate system"
        )

    if plan_info is not None:
        if (
            plan_info.referenced_structure_set_uid
            and structure_set.sop_instance_uid
            and plan_info.referenced_structure_set_uid != structure_set.sop_instance_uid
        ):
            warnings.append(
                f"the RTPLAN references structure set {plan_info.referenced_structure_set_uid}"
                f", not the one loaded ({structure_set.sop_instance_uid})"
            )
        others = [
            Path(g.sources[0]).name
            for g in grids
            if g.referenced_plan_uid
            and plan_info.sop_instance_uid
            and g.referenced_plan_uid != plan_info.sop_instance_uid
        ]
        if others:
            warnings.append(
                f"dose file(s) {', '.join(others)} reference a different RTPLAN than "
                f"{Path(plan_info.path).name}"
            )

    return Plan(
        files=files,
        structure_set=structure_set,
        dose=dose,
        plan_info=plan_info,
        warnings=warnings,
        dose_scale=scale_check,
        beam_dose_check=beam_check,
        # what the dose-scale check computed, valid only for the grid as it is
        shared_dvhs=shared if shared.grid is dose else None,
    )


# --------------------------------------------------------------------------- dose scale
def _apply_dose_scale(
    dose: DoseGrid,
    plan_info: PlanInfo | None,
    structure_set: StructureSet,
    *,
    fractions: int | None,
    dose_is: str | None,
    warnings: list[str],
    prescription_gy: float | None = None,
) -> tuple[DoseGrid, DoseScaleCheck, SharedDVHs]:
    """Decide the dose basis, verify it against the RTPLAN, and scale.

    The basis is ``fraction`` for a FRACTION label (or ``dose_is="fraction"``) and
    ``total`` otherwise (or ``dose_is="total"``). Before anything is scaled the file
    is compared with the RTPLAN (:func:`dosecheck.core.dose_scale.verify_dose_scale`).
    A contradiction (a factor near the fraction count, or near 100) raises unless
    ``dose_is`` was given; an override, an unexplained ratio, and unverified
    per-fraction scaling are warnings. A per-fraction dose is then multiplied by the
    fraction count (``--fractions``, else the RTPLAN's). Returns the dose, the check,
    and the DVHs the check computed on the dose as read (:class:`SharedDVHs`).

    Raises
    ------
    DicomInputError
        A contradiction without ``dose_is`` (tag DoseSummationType, or DoseUnits for
        a factor near 100); a per-fraction basis with no fraction count.
    """
    from dosecheck.core.dose_scale import verify_dose_scale
    from dosecheck.core.structures import SharedDVHs

    source_file = dose.sources[0] if dose.sources else None
    label = dose.summation_type or "PLAN"
    if dose_is in ("total", "fraction"):
        basis, basis_source = dose_is, "--dose-is"
    else:
        basis = "fraction" if label == "FRACTION" else "total"
        basis_source = "label" if dose_is is None else "--dose-is"
    if fractions is not None:
        n, n_source = fractions, "--fractions"
    elif plan_info is not None and plan_info.fractions:
        n, n_source = plan_info.fractions, "RTPLAN"
    else:
        n, n_source = None, ""
    if basis == "fraction" and n is None:
        what = (
            "is FRACTION (dose per fraction)"
            if basis_source == "label"
            else "is to be used per fraction (--dose-is fraction)"
        )
        raise DicomInputError(
            f"{what} and the number of fractions is unknown (no RTPLAN with "
            "NumberOfFractionsPlanned); pass --fractions N",
            path=source_file,
            tag="DoseSummationType",
        )

    shared = SharedDVHs(dose, structure_set)
    check = verify_dose_scale(
        dose,
        plan_info,
        structure_set.structures,
        basis=basis,
        fractions=n,
        basis_source=basis_source,
        prescription_gy=prescription_gy,
        target_dvh=shared.dvh,
    )
    if check.is_contradiction and dose_is is None:
        raise DicomInputError(
            check.message,
            path=source_file,
            tag=check.tag,
        )
    if dose_is is not None:
        said = f"--dose-is {dose_is}: the RTDOSE (labelled {label}) is used as " + (
            f"{n} × the file's values" if basis == "fraction" else "the course total"
        )
        if check.verdict == "consistent":
            said += f"; the RTPLAN confirms it ({check.method}, ratio {check.ratio:.3f})"
        elif check.verdict == "not_verified":
            said += f"; {check.message}"
        else:
            said += f"; the RTPLAN disagrees: {check.message}"
        warnings.append(said)
    elif check.verdict != "consistent":
        # unexplained, or not verified (also for a dose used as it is: a PLAN label
        # that nothing confirms must be said, not trusted in silence)
        warnings.append(check.message)

    if basis == "fraction":
        assert n is not None
        unit = "fraction" if n == 1 else "fractions"
        message = f"dose is per fraction; multiplied by {n} {unit} from {n_source}"
        dose = dataclasses.replace(
            dose,
            dose_gy=(dose.dose_gy * np.float32(n)).astype(np.float32, copy=False),
            summation_type="PLAN",
            notes=(*dose.notes, message),
        )
        warnings.append(message)
    elif fractions is not None and label != "FRACTION":
        warnings.append(
            f"--fractions {fractions} ignored: the dose is {label} dose, not per fraction"
        )
    elif fractions is not None:
        warnings.append(
            f"--fractions {fractions} ignored: the dose is used as the course total (--dose-is "
            "total)"
        )
    return dose, check, shared


# ------------------------------------------------------- a PLAN dose with its BEAM doses
def _check_beam_doses(
    files: PlanFiles,
    grids: list[DoseGrid],
    warnings: list[str],
    *,
    plan_info: PlanInfo | None = None,
) -> tuple[PlanFiles, list[DoseGrid], BeamDoseCheck | None]:
    """Set BEAM doses beside a PLAN dose apart and compare them with it.

    The BEAM doses are ``files.beam_doses`` (from discovery) or, when the user gave
    one PLAN dose and BEAM doses together with ``--rtdose``, those BEAM doses. The
    PLAN dose is the plan's dose; the beams are summed and compared voxel-wise
    (:func:`~dosecheck.dicom.dose_sum.compare_beam_doses`), and the finding is a warning
    (``check --strict`` refuses an inconsistent plan). Returns the files with the
    beams in ``beam_doses``, the grids to use, and the comparison.
    """
    beams = [read_rtdose(p) for p in files.beam_doses]
    if not beams and len(grids) > 1:
        whole = [g for g in grids if g.summation_type != "BEAM"]
        if len(whole) == 1 and whole[0].summation_type == "PLAN" and len(grids) > 1:
            beams = [g for g in grids if g.summation_type == "BEAM"]
            grids = whole
            files = dataclasses.replace(
                files,
                rtdose=tuple(whole[0].sources),
                beam_doses=tuple(s for b in beams for s in b.sources),
            )
    if not beams:
        return files, grids, None
    if len(grids) != 1 or grids[0].summation_type != "PLAN":
        kinds = "/".join(sorted({g.summation_type for g in grids}))
        raise DicomInputError(
            f"BEAM doses can only be checked against one PLAN dose, not {len(grids)} "
            f"dose file(s) of DoseSummationType {kinds}; pass the PLAN dose and its BEAM "
            "doses, or the BEAM doses alone, with --rtdose",
            path=files.rtdose[0] if files.rtdose else None,
            tag="DoseSummationType",
        )
    check = compare_beam_doses(grids[0], beams)
    warnings.append(f"{Path(check.plan_dose).name}: {check.describe()}; the PLAN dose is used")
    warnings.append(check_beam_set(beams, plan_info, refuse=False))
    return files, grids, check
