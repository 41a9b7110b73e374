"""Verify the scale of an RTDOSE against what its RTPLAN expects (NumPy only).

An RTDOSE says by its DoseSummationType whether it holds one fraction (FRACTION) or the
whole course (PLAN); exporters get this wrong, and a wrong label multiplies every dose
by the number of fractions. Before any number is reported the loader compares the file
with the plan, and this module does the arithmetic and the classification.

Evidence, best first
--------------------
``beam_dose_points``
    The RTPLAN's beam dose specification points: every beam of the first fraction
    group with a BeamDose (Gy per fraction) and a BeamDoseSpecificationPoint; beams
    sharing a point (within :data:`POINT_MERGE_MM`) add up. The expected dose at the
    point is that sum (times the fractions for a course-total file); the measured dose
    is the RTDOSE interpolated trilinearly there. Points outside the dose grid, or
    below :data:`LOW_DOSE_FRACTION` of the grid's maximum (a point in the penumbra or
    the low-dose bath says little), are not evidence. With several points (several
    isocentres) the other beams add dose at each point, so the point with the lowest
    ratio decides.
``dose_reference_points``
    TARGET dose references with DoseReferencePointCoordinates and a
    TargetPrescriptionDose (the course dose at that point, e.g. Eclipse's calculation
    point): the same comparison, the sum over the points that are evidence.
``target``
    Without usable points: the median dose of the prescribed target (the ROIs of the
    VOLUME dose references, else the PTV-typed ROIs, else the ROIs whose names read as
    a PTV in the TG-263 grammar; the highest median when there are several, i.e. the
    highest dose level) against the prescription (the largest TargetPrescriptionDose).
``grid_maximum``
    The last resort, external beams only: the grid's maximum against the prescription
    (:data:`MAXIMUM_BAND`); without a prescription, a file about to be multiplied by
    the fraction count is refused when only the product would exceed
    :data:`MAX_EXTERNAL_COURSE_GY` (e.g. 75.6 Gy × 35 = 2,646 Gy).

Bands (ratio = measured / expected, both on the basis the file is used as)
---------------------------------------------------------------------------
* **consistent**: within :data:`POINT_BAND` (±10 %) of 1 for points; for the target,
  in :data:`TARGET_BAND` [0.85, 1.6] for external beams (the median of a target sits
  at or above the prescription, up to about 1.5 × for stereotactic plans prescribed to
  a low isodose) and :data:`BRACHY_TARGET_BAND` [0.85, 3.0] for brachytherapy (the
  dose near the sources makes the target median far exceed the prescription).
* **fraction_label_on_total**: the file is used per fraction and the ratio is near
  the fraction count *n* (n ≥ 2): it already holds the course.
* **plan_label_on_fraction**: the file is used as the course and the ratio is near
  1/n: it holds one fraction.
* **unit_slip**: the ratio is near 100 or 1/100 (cGy written as Gy, or the reverse).
* **inconclusive**: the ratio fits two explanations (a wide target band and a small n,
  e.g. 2 fractions); refused like a contradiction, since one reading is one.
* **unexplained**: none of these; a prominent warning, not an error (the points can
  sit in a gradient, the target median is rough).
* **not_verified**: no evidence (no RTPLAN, no usable points, no target or no
  prescription).

"Near n" uses the same band as "consistent" (the ratio divided by n must be
consistent). The mislabel and unit-slip verdicts are contradictions: the loader
refuses the plan unless the user says what the file holds.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from dosecheck.model import DoseGrid, PlanInfo, Structure
from dosecheck.tg263 import parse_target_name

if TYPE_CHECKING:
    from dosecheck.core.dvh import DVH

__all__ = [
    "BRACHY_TARGET_BAND",
    "CONTRADICTIONS",
    "LOW_DOSE_FRACTION",
    "MAXIMUM_BAND",
    "MAX_EXTERNAL_COURSE_GY",
    "POINT_BAND",
    "POINT_MERGE_MM",
    "TARGET_BAND",
    "DoseScaleCheck",
    "PointEvidence",
    "beam_points",
    "check_maximum",
    "check_points",
    "check_target",
    "classify_ratio",
    "dose_at_points",
    "group_points",
    "not_verified",
    "verify_dose_scale",
]

#: Consistent band for beam dose points (ratio within ±10 % of 1).
POINT_BAND = (0.90, 1.10)
#: Consistent band for the target median over the prescription, external beams.
TARGET_BAND = (0.85, 1.60)
#: Consistent band for the target median over the prescription, brachytherapy.
BRACHY_TARGET_BAND = (0.85, 3.00)
#: Consistent band for the grid maximum over the prescription (external beams, no
#: point and no target to compare with).
MAXIMUM_BAND = (0.95, 2.60)
#: No external-beam course's maximum reaches this (Gy); a file that would exceed it
#: only after multiplication by the fraction count already holds the course.
MAX_EXTERNAL_COURSE_GY = 150.0
#: Points below this fraction of the grid's maximum dose are not evidence.
LOW_DOSE_FRACTION = 0.20
#: Beam dose specification points closer than this (mm) are one point.
POINT_MERGE_MM = 0.5
#: Verdicts that contradict the label: the loader refuses them without an override.
#: ``inconclusive`` is one: the ratio fits at least one contradiction as well as another
#: reading, and which one holds is the user's to say (``--dose-is``), never a guess.
CONTRADICTIONS = ("fraction_label_on_total", "plan_label_on_fraction", "unit_slip", "inconclusive")
_TOLERANCE_MM = 1e-3


@dataclass(frozen=True)
class PointEvidence:
    """One dose point: a beam dose specification point (``source`` names its beams)
    or a dose reference point (``source`` is its description).

    ``expected_gy`` is on the basis the file is used as (per fraction or course),
    ``measured_gy`` is the file's value there (``None`` outside the grid).
    """

    position_mm: tuple[float, float, float]
    source: str
    expected_per_fraction_gy: float
    expected_gy: float
    measured_gy: float | None
    used: bool
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "position_mm": list(self.position_mm),
            "source": self.source,
            "expected_per_fraction_gy": self.expected_per_fraction_gy,
            "expected_gy": self.expected_gy,
            "measured_gy": self.measured_gy,
            "used": self.used,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class DoseScaleCheck:
    """The result of checking an RTDOSE's scale against the RTPLAN.

    Attributes
    ----------
    verdict
        ``consistent``, ``fraction_label_on_total``, ``plan_label_on_fraction``,
        ``unit_slip``, ``inconclusive``, ``unexplained`` or ``not_verified``.
    method
        ``beam_dose_points``, ``dose_reference_points``, ``target``, ``grid_maximum``
        or ``none``.
    label
        DoseSummationType as read (after BEAM doses were summed: ``PLAN``).
    basis
        How the file's values are used: ``fraction`` (multiplied by ``fractions``) or
        ``total`` (used as they are).
    basis_source
        ``label`` or ``--dose-is`` (the user's override).
    fractions
        The fraction count used for the comparison (``None`` when unknown).
    expected_gy, measured_gy
        On the file's basis: what the plan expects and what the file holds (summed
        over the points that are evidence, or prescription and target median).
    ratio
        ``measured_gy / expected_gy``.
    detail
        Where the numbers come from (points, target ROI).
    message
        One sentence for the user (empty when consistent).
    points
        Every beam dose point considered.
    """

    verdict: str
    method: str
    label: str
    basis: str
    basis_source: str = "label"
    fractions: int | None = None
    expected_gy: float | None = None
    measured_gy: float | None = None
    ratio: float | None = None
    detail: str = ""
    message: str = ""
    points: tuple[PointEvidence, ...] = field(default=())

    @property
    def is_contradiction(self) -> bool:
        return self.verdict in CONTRADICTIONS

    @property
    def tag(self) -> str:
        """The attribute a contradiction puts in doubt: DoseUnits for a cGy/Gy slip,
        DoseSummationType otherwise (for the error line)."""
        return "DoseUnits" if self.verdict == "unit_slip" else "DoseSummationType"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready record."""
        return {
            "verdict": self.verdict,
            "method": self.method,
            "label": self.label,
            "basis": self.basis,
            "basis_source": self.basis_source,
            "fractions": self.fractions,
            "expected_gy": self.expected_gy,
            "measured_gy": self.measured_gy,
            "ratio": self.ratio,
            "detail": self.detail,
            "message": self.message,
            "points": [p.to_dict() for p in self.points],
        }


def dose_at_points(grid: DoseGrid, points_mm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Trilinear dose at ``(n, 3)`` points ``(x, y, z)`` in mm.

    Returns ``(dose_gy, inside)``; outside the voxel-centre box (beyond 1e-3 mm) the
    dose is NaN and ``inside`` False. A grid of one plane along an axis is constant
    along it (the point must lie on that plane).
    """
    pts = np.asarray(points_mm, dtype=np.float64).reshape(-1, 3)
    axes = (grid.x, grid.y, grid.z)
    inside = np.ones(pts.shape[0], dtype=bool)
    lo_idx, weights = [], []
    for a, c in enumerate(axes):
        p = pts[:, a]
        inside &= (p >= c[0] - _TOLERANCE_MM) & (p <= c[-1] + _TOLERANCE_MM)
        if c.size == 1:
            lo_idx.append(np.zeros(p.size, dtype=np.int64))
            weights.append(np.zeros(p.size))
            continue
        i0 = np.clip(np.searchsorted(c, p, side="right") - 1, 0, c.size - 2)
        w = np.clip((p - c[i0]) / (c[i0 + 1] - c[i0]), 0.0, 1.0)
        lo_idx.append(i0)
        weights.append(w)
    f = grid.dose_gy
    shape = f.shape  # (nz, ny, nx)
    ix, iy, iz = lo_idx
    wx, wy, wz = weights
    total = np.zeros(pts.shape[0])
    for dz in (0, 1):
        kz = np.minimum(iz + dz, shape[0] - 1)
        fz = wz if dz else 1.0 - wz
        for dy in (0, 1):
            ky = np.minimum(iy + dy, shape[1] - 1)
            fy = wy if dy else 1.0 - wy
            for dx in (0, 1):
                kx = np.minimum(ix + dx, shape[2] - 1)
                fx = wx if dx else 1.0 - wx
                total += fz * fy * fx * f[kz, ky, kx].astype(np.float64)
    return np.where(inside, total, np.nan), inside


def group_points(
    beams: Sequence[tuple[int, float, tuple[float, float, float]]],
) -> list[tuple[tuple[float, float, float], tuple[int, ...], float]]:
    """Group ``(beam number, beam dose Gy/fx, point)`` by point (within
    :data:`POINT_MERGE_MM`); returns ``(point, beam numbers, summed Gy/fx)``."""
    groups: list[tuple[np.ndarray, list[int], float]] = []
    for number, dose, point in beams:
        p = np.asarray(point, dtype=np.float64)
        for i, (q, numbers, total) in enumerate(groups):
            if float(np.max(np.abs(q - p))) <= POINT_MERGE_MM:
                numbers.append(number)
                groups[i] = (q, numbers, total + dose)
                break
        else:
            groups.append((p, [number], dose))
    return [((float(q[0]), float(q[1]), float(q[2])), tuple(n), float(t)) for q, n, t in groups]


def _near(ratio: float, target: float, band: tuple[float, float]) -> bool:
    return band[0] <= ratio / target <= band[1]


def classify_ratio(
    ratio: float, *, basis: str, fractions: int | None, band: tuple[float, float]
) -> str:
    """Classify ``measured / expected`` (see the module docstring for the bands)."""
    fits: list[str] = []
    if _near(ratio, 1.0, band):
        fits.append("consistent")
    n = fractions or 1
    if n >= 2 and basis == "fraction" and _near(ratio, float(n), band):
        fits.append("fraction_label_on_total")
    if n >= 2 and basis == "total" and _near(ratio, 1.0 / n, band):
        fits.append("plan_label_on_fraction")
    if _near(ratio, 100.0, band) or _near(ratio, 0.01, band):
        fits.append("unit_slip")
    if len(fits) == 1:
        return fits[0]
    return "inconclusive" if fits else "unexplained"


def _fmt(value: float) -> str:
    return f"{value:.3g}" if abs(value) < 10 else f"{value:.1f}"


def _message(check: DoseScaleCheck, where: str, expects: str) -> str:
    """The user's sentence for a verdict (without the override hint for consistent)."""
    r = check.ratio or 0.0
    holds = f"holds {_fmt(check.measured_gy or 0.0)} Gy {where}"
    label = f"RTDOSE is labelled {check.label}"
    if check.basis_source != "label":
        used = "per fraction" if check.basis == "fraction" else "the course total"
        label = f"RTDOSE is used as {used} (--dose-is)"
    n = check.fractions
    if check.verdict == "fraction_label_on_total":
        return (
            f"{label} but {holds} where the RTPLAN expects {expects}; it is already the "
            f"course total ({n} fractions): pass --dose-is total to use it as such"
        )
    if check.verdict == "plan_label_on_fraction":
        return (
            f"{label} but {holds} where the RTPLAN expects {expects}; it holds one "
            f"fraction of {n}: pass --dose-is fraction to multiply it by {n}"
        )
    if check.verdict == "unit_slip":
        way = "cGy written as Gy" if r > 1 else "Gy written as cGy"
        return (
            f"{label} and {holds} where the RTPLAN expects {expects}: {r:.3g} times that "
            f"(DoseUnits/DoseGridScaling slip? {way}); export the dose again, or pass "
            "--dose-is labelled if the RTPLAN is the one that is wrong"
        )
    if check.verdict == "inconclusive":
        return (
            f"dose scale ambiguous: {label} and {holds} where the RTPLAN expects "
            f"{expects} (ratio {r:.3g}, which fits more than one explanation: as labelled, "
            f"or a label that is wrong by the factor {n or 1}); pass --dose-is total or "
            "--dose-is fraction to say what the file holds"
        )
    if check.verdict == "unexplained":
        return (
            f"dose scale not confirmed: {label} and {holds} where the RTPLAN expects "
            f"{expects} (ratio {r:.3g}, which neither the fraction count nor a cGy/Gy slip "
            "explains); check the doses before using them"
        )
    return ""


def _basis_phrase(expected_fx: float, basis: str, n: int | None) -> str:
    if basis == "fraction":
        return f"{_fmt(expected_fx)} Gy per fraction"
    return f"{_fmt(expected_fx * (n or 1))} Gy for the course ({_fmt(expected_fx)} Gy × {n or 1})"


@dataclass(frozen=True)
class _Unused:
    """No point was evidence; ``points`` says why for each."""

    points: tuple[PointEvidence, ...]


def beam_points(
    beams: Sequence[tuple[int, float, tuple[float, float, float]]],
) -> list[tuple[str, float, tuple[float, float, float]]]:
    """Beam dose points for :func:`check_points`: ``(beam number, BeamDose Gy/fx,
    point)`` grouped by point, beams without dose left out."""
    out = []
    for pos, numbers, per_fx in group_points(beams):
        if per_fx > 0:
            name = "beam" if len(numbers) == 1 else "beams"
            out.append((f"{name} {', '.join(str(n) for n in numbers)}", per_fx, pos))
    return out


def check_points(
    grid: DoseGrid,
    points: Sequence[tuple[str, float, tuple[float, float, float]]],
    *,
    method: str,
    label: str,
    basis: str,
    fractions: int | None,
    basis_source: str = "label",
) -> DoseScaleCheck | _Unused:
    """Check the file (``grid`` as read, not yet scaled) at dose points.

    Parameters
    ----------
    grid
        The dose as read.
    points
        ``(source, expected Gy per fraction, (x, y, z) mm)``: from :func:`beam_points`
        (``method="beam_dose_points"``) or TARGET dose reference points with their
        TargetPrescriptionDose over the fractions (``method="dose_reference_points"``).
    method, label, basis, fractions, basis_source
        See :class:`DoseScaleCheck`.

    Returns
    -------
    DoseScaleCheck or _Unused
        ``_Unused`` (holding the points considered) when no point is evidence
        (outside the grid, low dose, no dose).

    Notes
    -----
    A beam's BeamDose counts only its own dose at its point; where beams aim at
    several points (multi-isocentre plans) the other beams add dose, so each point's
    ratio is at least the true one. The classification then uses the point with the
    smallest ratio. Dose reference points hold the whole plan's dose: their ratio is
    the sum of measured over the sum of expected doses.
    """
    points = [p for p in points if p[1] > 0]
    if not points:
        return _Unused(())
    n = fractions or 1
    factor = 1.0 if basis == "fraction" else float(n)
    coords = np.array([p[2] for p in points], dtype=np.float64)
    measured, inside = dose_at_points(grid, coords)
    floor = LOW_DOSE_FRACTION * grid.max_gy
    evidence: list[PointEvidence] = []
    for (source, per_fx, pos), m, ins in zip(points, measured, inside, strict=True):
        if not ins:
            used, reason, value = False, "outside the dose grid", None
        elif not m >= floor or m <= 0:
            used = False
            reason = f"below {LOW_DOSE_FRACTION:.0%} of the grid maximum"
            value = float(m)
        else:
            used, reason, value = True, "", float(m)
        evidence.append(
            PointEvidence(
                position_mm=pos,
                source=source,
                expected_per_fraction_gy=per_fx,
                expected_gy=per_fx * factor,
                measured_gy=value,
                used=used,
                reason=reason,
            )
        )
    used_points = [e for e in evidence if e.used]
    if not used_points:
        return _Unused(tuple(evidence))
    kind = "beam dose point" if method == "beam_dose_points" else "dose reference point"
    detail = f"{len(used_points)} of {len(evidence)} {kind}(s) used"
    if method == "beam_dose_points" and len(used_points) > 1:
        chosen = [min(used_points, key=lambda e: (e.measured_gy or 0.0) / e.expected_gy)]
        detail += "; several points (other beams add dose at each): the lowest ratio is used"
    else:
        chosen = used_points
    expected = sum(e.expected_gy for e in chosen)
    measured_sum = sum(e.measured_gy or 0.0 for e in chosen)
    ratio = measured_sum / expected
    verdict = classify_ratio(ratio, basis=basis, fractions=fractions, band=POINT_BAND)
    per_fx = sum(e.expected_per_fraction_gy for e in chosen)
    if len(chosen) == 1:
        p = chosen[0].position_mm
        where = f"at the {kind} ({p[0]:.1f}, {p[1]:.1f}, {p[2]:.1f}) mm of {chosen[0].source}"
    else:
        where = f"summed over {len(chosen)} {kind}s"
    check = DoseScaleCheck(
        verdict=verdict,
        method=method,
        label=label,
        basis=basis,
        basis_source=basis_source,
        fractions=fractions,
        expected_gy=expected,
        measured_gy=measured_sum,
        ratio=ratio,
        detail=detail,
        points=tuple(evidence),
    )
    message = _message(check, where, _basis_phrase(per_fx, basis, fractions))
    return _with_message(check, message)


def _with_message(check: DoseScaleCheck, message: str) -> DoseScaleCheck:
    return replace(check, message=message)


def _against_prescription(
    measured_gy: float,
    prescription_gy: float,
    *,
    method: str,
    band: tuple[float, float],
    detail: str,
    where: str,
    label: str,
    basis: str,
    fractions: int | None,
    basis_source: str,
) -> DoseScaleCheck:
    """A dose read in the file (target median, grid maximum) against the course
    prescription, on the file's basis, classified with ``band``."""
    n = fractions or 1
    expected = prescription_gy / n if basis == "fraction" else prescription_gy
    ratio = measured_gy / expected if expected > 0 else float("inf")
    check = DoseScaleCheck(
        verdict=classify_ratio(ratio, basis=basis, fractions=fractions, band=band),
        method=method,
        label=label,
        basis=basis,
        basis_source=basis_source,
        fractions=fractions,
        expected_gy=expected,
        measured_gy=measured_gy,
        ratio=ratio,
        detail=detail,
    )
    expects = (
        f"a prescription of {_fmt(expected)} Gy per fraction"
        if basis == "fraction"
        else f"a prescription of {_fmt(prescription_gy)} Gy for the course"
    )
    return _with_message(check, _message(check, where, expects))


def check_target(
    median_gy: float,
    prescription_gy: float,
    *,
    target_name: str,
    label: str,
    basis: str,
    fractions: int | None,
    brachytherapy: bool = False,
    basis_source: str = "label",
    found_by: str = "",
) -> DoseScaleCheck:
    """Check the prescribed target's median dose (in the file, not yet scaled) against
    the prescription (Gy for the course); ``found_by`` says how the target was found."""
    n = fractions or 1
    return _against_prescription(
        median_gy,
        prescription_gy,
        method="target",
        band=BRACHY_TARGET_BAND if brachytherapy else TARGET_BAND,
        detail=f"median dose of {target_name} against the prescription "
        f"{_fmt(prescription_gy)} Gy in {n} fraction(s)"
        + (" (brachytherapy band)" if brachytherapy else "")
        + (f"; target found by {found_by}" if found_by else ""),
        where=f"as the median of {target_name}",
        label=label,
        basis=basis,
        fractions=fractions,
        basis_source=basis_source,
    )


def check_maximum(
    grid: DoseGrid,
    prescription_gy: float | None,
    *,
    label: str,
    basis: str,
    fractions: int | None,
    basis_source: str = "label",
    brachytherapy: bool = False,
) -> DoseScaleCheck:
    """The last resort, with no point and no target: the grid's maximum.

    With a prescription, the maximum over the prescription (on the file's basis) must
    lie in :data:`MAXIMUM_BAND` (a hot spot of 95 % to 260 % of the prescription: the
    latter is a stereotactic plan prescribed to a 40 % isodose). Without one, a file
    about to be multiplied by the fraction count must not reach more than
    :data:`MAX_EXTERNAL_COURSE_GY` once multiplied (no external-beam course does),
    while its values as they stand would be plausible. Brachytherapy is not judged
    this way (the dose next to a source has no useful bound).
    """
    common = {"label": label, "basis": basis, "fractions": fractions, "basis_source": basis_source}
    what = "no usable beam dose point or dose reference point, and no target ROI"
    if brachytherapy:
        return not_verified(f"the RTPLAN has {what} (brachytherapy)", **common)
    peak = grid.max_gy
    n = fractions or 1
    if prescription_gy is not None and prescription_gy > 0 and peak > 0:
        return _against_prescription(
            peak,
            prescription_gy,
            method="grid_maximum",
            band=MAXIMUM_BAND,
            detail=f"the RTPLAN has {what}: the grid maximum against the prescription "
            f"{_fmt(prescription_gy)} Gy in {n} fraction(s), band "
            f"{MAXIMUM_BAND[0]:g}-{MAXIMUM_BAND[1]:g}",
            where="as its maximum",
            **common,
        )
    reason = f"the RTPLAN has {what}, and no prescription (TargetPrescriptionDose)"
    if basis == "fraction" and n >= 2 and peak * n > MAX_EXTERNAL_COURSE_GY >= peak:
        check = DoseScaleCheck(
            verdict="fraction_label_on_total",
            method="grid_maximum",
            **common,
            measured_gy=peak,
            detail=f"{reason}: multiplied by {n} the grid maximum would be "
            f"{_fmt(peak * n)} Gy, more than the {MAX_EXTERNAL_COURSE_GY:g} Gy any "
            "external-beam course reaches",
        )
        message = (
            f"RTDOSE is labelled {label} but multiplied by {n} fractions its maximum would "
            f"be {_fmt(peak * n)} Gy (the file holds {_fmt(peak)} Gy), more than any "
            f"external-beam course reaches ({MAX_EXTERNAL_COURSE_GY:g} Gy); it is already "
            "the course total: pass --dose-is total to use it as such (or --dose-is "
            "fraction if it really is one fraction)"
        )
        if basis_source != "label":
            message = message.replace(f"labelled {label}", "used per fraction (--dose-is)")
        return _with_message(check, message)
    return not_verified(reason, **common)


def not_verified(
    reason: str, *, label: str, basis: str, fractions: int | None, basis_source: str = "label"
) -> DoseScaleCheck:
    """A record saying why the scale could not be verified."""
    return DoseScaleCheck(
        verdict="not_verified",
        method="none",
        label=label,
        basis=basis,
        basis_source=basis_source,
        fractions=fractions,
        detail=reason,
        message=f"dose scale not verified: {reason}",
    )


def _target_candidates(
    plan_info: PlanInfo, structures: Sequence[Structure]
) -> tuple[list[Structure], str]:
    """The prescribed target ROIs and how they were found: the VOLUME dose references,
    else the PTV-typed ROIs, else the ROIs whose names read as a PTV (TG-263 grammar,
    not ``z``-prefixed: Pinnacle, for one, types every ROI ORGAN)."""
    non_empty = [s for s in structures if not s.is_empty]
    if plan_info.prescribed_roi_numbers:
        wanted = set(plan_info.prescribed_roi_numbers)
        chosen = [s for s in non_empty if s.number in wanted]
        if chosen:
            return chosen, "VOLUME dose reference"
    typed = [s for s in non_empty if s.interpreted_type.upper() == "PTV"]
    if typed:
        return typed, "RTROIInterpretedType PTV"
    named = []
    for s in non_empty:
        parsed = parse_target_name(s.name)
        if parsed is not None and parsed.type in ("PTV", "PTV!") and not parsed.not_for_evaluation:
            named.append(s)
    return named, "PTV in the ROI name"


def verify_dose_scale(
    grid: DoseGrid,
    plan_info: PlanInfo | None,
    structures: Sequence[Structure],
    *,
    basis: str,
    fractions: int | None,
    basis_source: str = "label",
    prescription_gy: float | None = None,
    target_dvh: Callable[[Structure], DVH] | None = None,
) -> DoseScaleCheck:
    """Check ``grid`` (as read, before any fraction scaling) against the RTPLAN.

    Parameters
    ----------
    grid
        The dose as read (summed over beams if it came per beam).
    plan_info
        The RTPLAN (``None``: not verified).
    structures
        The structure set's ROIs (for the target fallback).
    basis
        ``fraction`` when the file's values are going to be multiplied by
        ``fractions``, ``total`` when they are used as they are.
    fractions
        The fraction count (from ``--fractions`` or the RTPLAN).
    basis_source
        ``label`` or ``--dose-is``.
    prescription_gy
        The course prescription stated on the command line (``--prescription``): it
        takes the place of the RTPLAN's TargetPrescriptionDose for the target and
        grid-maximum comparisons (as it does for the check), and makes them possible
        without an RTPLAN.
    target_dvh
        Computes a target's DVH on ``grid`` (the loader passes
        :meth:`~dosecheck.core.structures.SharedDVHs.dvh`, so the DVH step reuses it);
        by default :func:`~dosecheck.core.engine.compute_dvh`.

    Returns
    -------
    DoseScaleCheck
        By the first method that has evidence (beam dose points, dose reference
        points, target median); ``not_verified`` with the reason otherwise.
    """
    label = grid.summation_type or "PLAN"
    common = {"label": label, "basis": basis, "fractions": fractions, "basis_source": basis_source}
    if label == "MULTI_PLAN":
        return not_verified(
            "the RTDOSE is MULTI_PLAN (the sum of several plans), so one RTPLAN cannot verify it",
            **common,
        )
    if plan_info is None:
        if prescription_gy is None:
            return not_verified("no RTPLAN to compare the dose with", **common)
        plan_info = PlanInfo()
    if prescription_gy is not None:
        plan_info = replace(plan_info, prescription_gy=prescription_gy)
    beams = [
        (b.beam_number, b.dose_gy, b.point_mm)
        for b in plan_info.beam_doses
        if b.dose_gy is not None and b.point_mm is not None
    ]
    found = check_points(grid, beam_points(beams), method="beam_dose_points", **common)
    if isinstance(found, DoseScaleCheck):
        return found
    rejected = found.points
    n = fractions or 1
    refs = [
        (p.description or f"dose reference {p.number}", p.prescription_gy / n, p.point_mm)
        for p in plan_info.dose_reference_points
        if p.prescription_gy is not None and p.reference_type.upper() == "TARGET"
    ]
    found = check_points(grid, refs, method="dose_reference_points", **common)
    if isinstance(found, DoseScaleCheck):
        return found
    rejected += found.points
    fallback = _fallback(grid, plan_info, structures, common, target_dvh)
    return _with_points(fallback, rejected)


def _with_points(check: DoseScaleCheck, rejected: tuple[PointEvidence, ...]) -> DoseScaleCheck:
    """``check`` with the points that were considered and not used, said in ``detail``."""
    if not rejected:
        return check
    why = "; ".join(f"{p.source}: {p.reason}" for p in rejected)
    return replace(check, points=rejected, detail=f"{check.detail} (points not used: {why})")


def _fallback(
    grid: DoseGrid,
    plan_info: PlanInfo,
    structures: Sequence[Structure],
    common: dict[str, Any],
    target_dvh: Callable[[Structure], DVH] | None = None,
) -> DoseScaleCheck:
    """The target median against the prescription, or not verified."""
    rx = plan_info.prescription_gy
    if rx is None or rx <= 0:
        return check_maximum(grid, None, brachytherapy=plan_info.brachytherapy, **common)
    targets, found_by = _target_candidates(plan_info, structures)
    if not targets:
        return check_maximum(grid, rx, brachytherapy=plan_info.brachytherapy, **common)
    if target_dvh is None:
        from dosecheck.core.engine import compute_dvh

        def target_dvh(s: Structure) -> DVH:
            return compute_dvh(s, grid)

    best: tuple[float, Structure] | None = None
    for s in targets:
        dvh = target_dvh(s)
        if dvh.is_empty:
            continue
        median = float(dvh.dose_at_volume_percent(50.0))
        if best is None or median > best[0]:
            best = (median, s)
    if best is None:
        return not_verified("the prescribed target(s) lie outside the dose grid", **common)
    median, target = best
    return check_target(
        median,
        rx,
        target_name=f"{target.name or 'ROI'} (ROI {target.number})",
        found_by=found_by,
        brachytherapy=plan_info.brachytherapy,
        **common,
    )
