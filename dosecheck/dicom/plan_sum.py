"""Load several plans of one structure set as one course: a *plan sum*.

A sequential boost (45 Gy in 25 fractions, then 5.4 Gy in 3) is checked as a whole
(50.4 Gy in 28 fractions). :func:`load_plan_sum`

1. finds the plans of one structure set in a folder (:func:`find_plan_sum`) or takes
   the :class:`~dosecheck.model.PlanFiles` of each part;
2. loads every part with :func:`~dosecheck.dicom.load.load_plan`, so every check of
   a single plan applies to each part (BEAM doses summed, FRACTION dose scaled by the
   part's fractions, structure set and dose in one frame of reference);
3. refuses parts of different structure sets or frames of reference, MULTI_PLAN doses
   (already sums), two doses of one RTPLAN, and parts whose RTPLAN lacks the number of
   fractions (or the prescription dose, unless the total is given);
4. resamples every part's dose (trilinear) onto the *summation grid*: the lattice of
   the finest part grid (smallest voxel), extended with its spacing to cover the union
   of all the part grids. Where a part's grid does not reach, that part contributes
   0 Gy: a warning gives the points and volume concerned and the ROIs that reach there;
5. returns a :class:`~dosecheck.model.Plan` whose dose is the physical sum, whose
   ``plan_info`` carries the summed prescription and fractions, and whose
   ``plan_sum`` records the parts and keeps their resampled doses (for the voxel-wise
   EQD2 sum, :func:`dosecheck.core.eqd2.eqd2_sum`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dosecheck.core.engine import contour_spacing
from dosecheck.dicom.dose import COORD_TOLERANCE_MM, MAX_VOXELS
from dosecheck.dicom.dose_sum import _resample
from dosecheck.dicom.load import load_plan
from dosecheck.errors import DicomInputError, InputError
from dosecheck.metrics import format_number
from dosecheck.model import (
    DoseGrid,
    Plan,
    PlanFiles,
    PlanInfo,
    PlanSum,
    PlanSumPart,
    StructureSet,
)

__all__ = ["PlanSumCandidate", "find_plan_sum", "load_plan_sum", "summation_axes"]


@dataclass(frozen=True)
class PlanSumCandidate:
    """One plan found in a folder, as a part of a possible plan sum (headers only).

    Attributes
    ----------
    files
        The part's files (the structure set is shared by all parts).
    label, plan_uid
        RTPlanLabel and SOPInstanceUID of its RTPLAN.
    prescription_gy, fractions
        From the RTPLAN header (``None`` when absent).
    """

    files: PlanFiles
    label: str
    plan_uid: str
    prescription_gy: float | None
    fractions: int | None
    structure_set_uid: str = ""


# --------------------------------------------------------------------------- finding
def _discovered_plans(folder: Path) -> list[PlanSumCandidate]:
    """Every plan under ``folder`` by header-only discovery (the one use of it here).

    Raises
    ------
    DicomInputError
        A plan that discovery could not complete (no structure set found for a dose),
        or files inside a zip archive.
    """
    from dosecheck.dicom.discovery import discover

    out = []
    for p in discover([folder]).plans:
        if p.problem is not None or p.rtstruct is None:
            raise DicomInputError(
                f"{p.problem or 'no RTSTRUCT for this dose'}; cannot form a plan sum",
                path=p.rtdose[0].location if p.rtdose else p.path,
            )
        if any(f.member is not None for _, f in p.files):
            raise DicomInputError(
                "is a zip archive: extract it to sum its plans", path=p.rtstruct.path
            )
        out.append(
            PlanSumCandidate(
                files=p.plan_files(str(folder)),
                label=p.plan_label,
                plan_uid=p.plan_uid,
                prescription_gy=p.prescription_gy,
                fractions=p.fractions,
                structure_set_uid=p.structure_set_uid,
            )
        )
    return out


def find_plan_sum(folder: str | Path) -> tuple[PlanSumCandidate, ...]:
    """The plans of one structure set under ``folder`` (recursively), headers only.

    Raises
    ------
    InputError
        ``folder`` is not a folder.
    DicomInputError
        Fewer than two plans; plans of several structure sets; a dose without RTPLAN;
        several plan doses of one RTPLAN (alternatives, not parts). Messages list the
        files.
    """
    root = Path(folder)
    if not root.is_dir():
        raise InputError("is not a folder; a plan sum needs the folder of its plans", path=root)
    plans = _discovered_plans(root)
    # One structure set may be present as equal copies (one per plan folder, same
    # SOPInstanceUID): discovery gives each plan the copy beside its dose, and the sum
    # loads the first copy for every part.
    first_copy: dict[str, str] = {}
    for c in plans:
        first_copy.setdefault(c.structure_set_uid or c.files.rtstruct, c.files.rtstruct)
    plans = [
        dataclasses.replace(
            c,
            files=dataclasses.replace(
                c.files, rtstruct=first_copy[c.structure_set_uid or c.files.rtstruct]
            ),
        )
        for c in plans
    ]
    structs = sorted({c.files.rtstruct for c in plans})
    if len(structs) > 1:
        raise DicomInputError(
            f"holds plans of {len(structs)} structure sets ({'; '.join(structs)}); a plan "
            "sum adds the plans of one structure set: put each course in its own folder",
            path=root,
            tag="ReferencedStructureSetSequence",
        )
    if len(plans) < 2:
        raise DicomInputError(
            f"holds {len(plans)} plan(s) with a dose; a plan sum needs at least two",
            path=root,
        )
    by_uid: dict[str, list[PlanSumCandidate]] = {}
    for c in plans:
        if c.files.rtplan is None:
            raise DicomInputError(
                "has no RTPLAN (none referenced or found): a part of a plan sum needs its "
                "RTPLAN for the prescription and the number of fractions",
                path=c.files.rtdose[0],
                tag="ReferencedRTPlanSequence",
            )
        by_uid.setdefault(c.plan_uid, []).append(c)
    for uid, group in by_uid.items():
        if len(group) > 1:
            listing = "; ".join(d for c in group for d in c.files.rtdose)
            raise DicomInputError(
                f"has {len(group)} plan doses ({listing}): they are alternatives (re-exports "
                f"of RTPLAN {uid}), not parts; summing them would count the dose twice. "
                "Remove the extra copies",
                path=group[0].files.rtplan,
            )
    return tuple(plans)


# --------------------------------------------------------------------------- grid
def _voxel_mm3(g: DoseGrid) -> float:
    def step(c: np.ndarray) -> float:
        return float(np.median(np.diff(c))) if c.size > 1 else float("inf")

    return step(g.x) * step(g.y) * step(g.z)


def _extend(c: np.ndarray, lo: float, hi: float, axis: str) -> np.ndarray:
    """The axis ``c`` continued with its end spacings down to ``lo`` and up to ``hi``."""
    if c.size < 2:
        if lo < c[0] - COORD_TOLERANCE_MM or hi > c[0] + COORD_TOLERANCE_MM:
            raise DicomInputError(
                f"the finest dose grid has a single {axis} position, so it cannot be "
                "extended over the other plans' grids; export the doses on full grids"
            )
        return c
    d0, d1 = float(c[1] - c[0]), float(c[-1] - c[-2])
    n_lo = max(0, int(np.ceil((c[0] - lo) / d0 - COORD_TOLERANCE_MM / d0)))
    n_hi = max(0, int(np.ceil((hi - c[-1]) / d1 - COORD_TOLERANCE_MM / d1)))
    below = c[0] - d0 * np.arange(n_lo, 0, -1)
    above = c[-1] + d1 * np.arange(1, n_hi + 1)
    return np.concatenate([below, c, above])


def summation_axes(grids: Sequence[DoseGrid]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The voxel-centre axes ``(x, y, z)`` the parts of a plan sum are resampled onto.

    The lattice of the grid with the smallest voxel (the first of equal ones),
    extended with its spacing at each end until it covers the voxel centres of every
    grid.

    Raises
    ------
    DicomInputError
        When the result would exceed :data:`~dosecheck.dicom.dose.MAX_VOXELS`.
    """
    base = min(grids, key=_voxel_mm3)
    axes = []
    for name in ("x", "y", "z"):
        lo = min(float(getattr(g, name)[0]) for g in grids)
        hi = max(float(getattr(g, name)[-1]) for g in grids)
        axes.append(_extend(getattr(base, name), lo, hi, name))
    n = axes[0].size * axes[1].size * axes[2].size
    if n > MAX_VOXELS:
        raise DicomInputError(
            f"the plan sum's grid ({axes[0].size}×{axes[1].size}×{axes[2].size} = {n:,} "
            f"voxels at the finest plan's spacing over all the plans' grids) exceeds the "
            f"{MAX_VOXELS:,} supported; export the doses on coarser or smaller grids",
            path=base.sources[0] if base.sources else None,
            tag="PixelSpacing",
        )
    return axes[0], axes[1], axes[2]


def _widths(c: np.ndarray) -> np.ndarray:
    """Cell widths (mm) of voxel centres: half-way to the neighbours, ends mirrored."""
    if c.size < 2:
        return np.ones(1)
    mid = 0.5 * (c[1:] + c[:-1])
    lo = np.concatenate([[c[0] - (mid[0] - c[0])], mid])
    hi = np.concatenate([mid, [c[-1] + (c[-1] - mid[-1])]])
    return hi - lo


def _inside(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    # As dicom.dose_sum._linear_weights decides it: within the outer centres ± tolerance.
    return (dst >= src[0] - COORD_TOLERANCE_MM) & (dst <= src[-1] + COORD_TOLERANCE_MM)


def _rois_reaching(
    structure_set: StructureSet,
    axes: tuple[np.ndarray, ...],
    inside: tuple[np.ndarray, ...],
) -> list[str]:
    """ROIs whose bounding box (end caps included, plus one summation voxel) contains a
    summation-grid point outside a part's grid (``inside`` per axis)."""
    names = []
    for s in structure_set.structures:
        if s.is_empty:
            continue
        planes = np.unique(np.round(s.z, 3))
        half = 0.5 * (contour_spacing(planes) or 0.0)
        lo = (s.xy[:, 0].min(), s.xy[:, 1].min(), planes[0] - half)
        hi = (s.xy[:, 0].max(), s.xy[:, 1].max(), planes[-1] + half)
        for c, ok, a, b in zip(axes, inside, lo, hi, strict=True):
            step = float(np.max(np.diff(c))) if c.size > 1 else 0.0
            near = (c >= a - step) & (c <= b + step)
            if np.any(near & ~ok):
                names.append(s.name or f"ROI {s.number}")
                break
    return names


def _range(c: np.ndarray) -> str:
    return f"{format_number(round(float(c[0]), 2))}…{format_number(round(float(c[-1]), 2))}"


def _coverage_warning(
    label: str,
    grid: DoseGrid,
    axes: tuple[np.ndarray, ...],
    structure_set: StructureSet,
) -> str | None:
    """A warning when ``grid`` does not cover the whole summation grid, else ``None``."""
    src = (grid.x, grid.y, grid.z)
    inside = tuple(_inside(s, c) for s, c in zip(src, axes, strict=True))
    n_total = int(np.prod([c.size for c in axes]))
    n_in = int(np.prod([int(m.sum()) for m in inside]))
    if n_in == n_total:
        return None
    widths = [_widths(c) for c in axes]
    total_mm3 = float(np.prod([w.sum() for w in widths]))
    in_mm3 = float(np.prod([w[m].sum() for w, m in zip(widths, inside, strict=True)]))
    outside_cc = (total_mm3 - in_mm3) / 1000.0
    rois = _rois_reaching(structure_set, axes, inside)
    files = ", ".join(Path(s).name for s in grid.sources) or "its dose"
    where = f"x {_range(grid.x)}, y {_range(grid.y)}, z {_range(grid.z)} mm"
    text = (
        f"plan sum: the dose grid of {label} ({files}; voxel centres {where}) does not cover "
        f"the summed grid: {n_total - n_in:,} of {n_total:,} points "
        f"({format_number(round(outside_cc, 1))} cc) lie outside it and receive 0 Gy from "
        f"{label}; "
    )
    if rois:
        return text + f"ROIs reaching there: {', '.join(rois)} (their summed dose is too low there)"
    return text + "no ROI reaches there"


def _same_axes(g: DoseGrid, axes: tuple[np.ndarray, ...]) -> bool:
    return all(
        a.shape == b.shape and np.allclose(a, b, rtol=0.0, atol=COORD_TOLERANCE_MM)
        for a, b in zip((g.x, g.y, g.z), axes, strict=True)
    )


# --------------------------------------------------------------------------- loading
def _part_label(plan: Plan, index: int) -> str:
    info = plan.plan_info
    return (info.label or info.name) if info and (info.label or info.name) else f"plan {index}"


def _describe(part: PlanSumPart) -> str:
    """``"BOOST (5.4 Gy in 3 fx, 1.8 Gy/fx)"``."""
    if part.prescription_gy is None:
        return f"{part.label} (no prescription dose, {part.fractions} fx)"
    per = part.dose_per_fraction_gy
    assert per is not None
    return (
        f"{part.label} ({format_number(round(part.prescription_gy, 4))} Gy in "
        f"{part.fractions} fx, {format_number(round(per, 4))} Gy/fx)"
    )


def _check_parts(parts: Sequence[Plan], prescription_gy: float | None) -> None:
    first = parts[0]
    for p in parts[1:]:
        if p.structure_set.sop_instance_uid != first.structure_set.sop_instance_uid:
            raise DicomInputError(
                f"differs from {first.files.rtstruct} "
                f"({p.structure_set.sop_instance_uid or '-'} vs "
                f"{first.structure_set.sop_instance_uid or '-'}): the parts of a plan sum "
                "must share one structure set",
                path=p.files.rtstruct,
                tag="SOPInstanceUID",
            )
    frames = {p.dose.frame_of_reference_uid for p in parts if p.dose.frame_of_reference_uid}
    if len(frames) > 1:
        listing = "; ".join(
            f"{', '.join(Path(s).name for s in p.dose.sources)}: "
            f"{p.dose.frame_of_reference_uid or '-'}"
            for p in parts
        )
        raise DicomInputError(
            f"the plans' doses have different FrameOfReferenceUIDs ({listing}); doses in "
            "different coordinate systems cannot be summed",
            path=parts[1].dose.sources[0] if parts[1].dose.sources else None,
            tag="FrameOfReferenceUID",
        )
    uids: dict[str, str] = {}
    for p in parts:
        dose_file = p.dose.sources[0] if p.dose.sources else p.files.rtdose[0]
        if p.dose.summation_type == "MULTI_PLAN":
            raise DicomInputError(
                "is MULTI_PLAN: it is already a sum of plans, and adding it to other plans "
                "would count them twice; pass the doses of the single plans",
                path=dose_file,
                tag="DoseSummationType",
            )
        info = p.plan_info
        if info is None:
            raise DicomInputError(
                "has no RTPLAN: a part of a plan sum needs its RTPLAN for the prescription "
                "and the number of fractions",
                path=dose_file,
                tag="ReferencedRTPlanSequence",
            )
        if info.sop_instance_uid and info.sop_instance_uid in uids:
            raise DicomInputError(
                f"is used by two parts ({uids[info.sop_instance_uid]} and {dose_file}): "
                "their doses are alternatives, not parts; pass one dose per plan",
                path=info.path,
                tag="SOPInstanceUID",
            )
        if info.sop_instance_uid:
            uids[info.sop_instance_uid] = dose_file
        if info.fractions is None:
            raise DicomInputError(
                "is missing: a plan sum needs each plan's number of fractions (to add them "
                "and for EQD2); fix the RTPLAN export, or check the plans one by one",
                path=info.path,
                tag="NumberOfFractionsPlanned",
            )
        if info.prescription_gy is None and prescription_gy is None:
            raise DicomInputError(
                "is missing, so the plans' prescriptions cannot be added; pass the course's "
                "total with --prescription GY",
                path=info.path,
                tag="TargetPrescriptionDose",
            )


def load_plan_sum(
    source: str | Path | Sequence[PlanFiles],
    *,
    prescription_gy: float | None = None,
    allow_frame_mismatch: bool = False,
    note: str = "",
    dose_is: str | None = None,
) -> Plan:
    """Load several plans of one structure set as one course.

    Parameters
    ----------
    source
        A folder holding the plans (see :func:`find_plan_sum`), or each part's files.
    prescription_gy
        The course's total prescription from the command line, when given: then parts
        without TargetPrescriptionDose are accepted (the summed RTPLAN prescription is
        unknown and the check uses this one).
    allow_frame_mismatch
        Passed to :func:`~dosecheck.dicom.load.load_plan` for each part (structure set
        against dose); the parts' doses must always share a frame of reference.
    note
        Why the sum is used, when it was not asked for (kept in ``plan.plan_sum.note``).
    dose_is
        Passed to :func:`~dosecheck.dicom.load.load_plan` for each part (what the
        RTDOSE holds; by default each part's label is checked against its RTPLAN).

    Returns
    -------
    Plan
        ``dose`` is the physical sum on the summation grid
        (:func:`summation_axes`), ``plan_info`` the summed prescription (``None``
        when a part has none) and fractions, ``plan_sum`` the parts.

    Raises
    ------
    InputError, DicomInputError
        See :func:`find_plan_sum`, :func:`~dosecheck.dicom.load.load_plan` and the
        module docstring.
    """
    if isinstance(source, str | Path):
        files = [c.files for c in find_plan_sum(source)]
        root = str(source)
    else:
        files = list(source)
        if len(files) < 2:
            raise InputError(f"a plan sum needs at least two plans, got {len(files)}")
        root = files[0].root
    parts = [
        load_plan(f, allow_frame_mismatch=allow_frame_mismatch, dose_is=dose_is) for f in files
    ]
    _check_parts(parts, prescription_gy)

    records = []
    for i, p in enumerate(parts, start=1):
        info = p.plan_info
        assert info is not None and info.fractions is not None  # _check_parts
        records.append(
            PlanSumPart(
                label=_part_label(p, i),
                plan_uid=info.sop_instance_uid,
                prescription_gy=info.prescription_gy,
                fractions=info.fractions,
                rtplan=info.path,
                rtdose=p.files.rtdose,
            )
        )
    grids = [p.dose for p in parts]
    axes = summation_axes(grids)
    structure_set = parts[0].structure_set
    warnings: list[str] = [w for p in parts for w in p.warnings]
    doses = []
    resampled = []
    for record, g in zip(records, grids, strict=True):
        if _same_axes(g, axes):
            doses.append(g.dose_gy)
            continue
        values, _outside = _resample(g, *axes)
        doses.append(values)
        resampled.append(record.label)
        coverage = _coverage_warning(record.label, g, axes, structure_set)
        if coverage is not None:
            warnings.append(coverage)
    total = np.zeros_like(doses[0], dtype=np.float32)
    for d in doses:
        total += d
    x, y, z = axes
    step = "×".join(
        format_number(round(float(np.median(np.diff(c))), 3)) if c.size > 1 else "-" for c in axes
    )
    how = (
        f"{', '.join(resampled)} resampled (trilinear) onto"
        if resampled
        else "all on one grid, added on"
    )
    sum_note = (
        f"plan sum of {len(parts)} plans: {' + '.join(_describe(r) for r in records)}; "
        f"PLAN doses {how} a {x.size}×{y.size}×{z.size} grid of {step} mm covering all "
        "their grids, and added"
    )
    warnings.append(sum_note)
    sources = tuple(s for g in grids for s in g.sources)
    dose = DoseGrid(
        x=x,
        y=y,
        z=z,
        dose_gy=total,
        frame_of_reference_uid=next(
            (g.frame_of_reference_uid for g in grids if g.frame_of_reference_uid), ""
        ),
        summation_type="PLAN",
        sources=sources,
        sop_instance_uids=tuple(u for g in grids for u in g.sop_instance_uids),
        notes=(*(n for g in grids for n in g.notes), sum_note),
    )
    known = [r.prescription_gy for r in records]
    infos = [p.plan_info for p in parts]
    first = infos[0]
    assert first is not None
    info = PlanInfo(
        path="",
        label=" + ".join(r.label for r in records),
        name="",
        sop_instance_uid="",
        prescription_gy=None if None in known else float(sum(k or 0.0 for k in known)),
        fractions=sum(r.fractions for r in records),
        referenced_structure_set_uid=structure_set.sop_instance_uid,
        frame_of_reference_uid=first.frame_of_reference_uid,
        patient_id=first.patient_id,
    )
    plan_sum = PlanSum(parts=tuple(records), part_doses_gy=tuple(doses), note=note)
    return Plan(
        files=PlanFiles(
            rtstruct=files[0].rtstruct,
            rtdose=tuple(d for f in files for d in f.rtdose),
            rtplan=None,
            root=root,
        ),
        structure_set=structure_set,
        dose=dose,
        plan_info=info,
        warnings=list(dict.fromkeys(warnings)),
        plan_sum=plan_sum,
    )
