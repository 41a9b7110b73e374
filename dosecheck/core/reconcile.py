"""dosecheck's DVH beside the planning system's: the differences, and why.

:func:`compare_with_tps` takes one structure's DVH from each engine and returns a
:class:`TpsComparison`: the differences in volume, min, mean, max, D98/D95/D50/D2 %,
D0.03cc and along the curve, whether they are within :class:`TpsTolerances`, and
sentences explaining them. Every sentence is computed from the numbers of this
structure (the part outside the dose grid, the end-cap volume, the ROI's size in dose
voxels, the TPS's bin width, what reading the TPS's DVH needed); a difference that none
of them accounts for is said to be unexplained, not explained away.

Differences are always dosecheck − TPS. NumPy only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from dosecheck.core.dvh import DVH
from dosecheck.core.rasterise import even_odd_areas
from dosecheck.core.tps_dvh import TpsCurve
from dosecheck.model import Structure

__all__ = [
    "DOSE_METRICS",
    "TpsComparison",
    "TpsTolerances",
    "compare_with_tps",
    "end_cap_volume_cc",
    "subtract_dvhs",
]

#: The dose-at-volume metrics compared (TG-263 spelling).
DOSE_METRICS = ("D98%", "D95%", "D50%", "D2%", "D0.03cc")


@dataclass(frozen=True)
class TpsTolerances:
    """When dosecheck and the TPS agree (documented in docs/validation.md).

    Attributes
    ----------
    volume_pct
        Volume: within this per cent of the TPS's volume ...
    volume_cc
        ... or within this many cc (small structures).
    dose_pct
        Mean and D metrics: within this per cent of the reference dose (the
        prescription, else the TPS's maximum) ...
    dose_gy
        ... or within this many Gy, whichever is larger; widened to the TPS's bin
        width when its bins are coarser.

    Min and max are point values that depend on where each engine samples (dosecheck:
    the whole volume and its surface; a TPS: voxel centres inside): they are reported
    and explained, not part of ``agree``.
    """

    volume_pct: float = 3.0
    volume_cc: float = 0.05
    dose_pct: float = 2.0
    dose_gy: float = 0.05

    def to_dict(self) -> dict[str, float]:
        return {
            "volume_pct": self.volume_pct,
            "volume_cc": self.volume_cc,
            "dose_pct_of_reference": self.dose_pct,
            "dose_gy": self.dose_gy,
        }


@dataclass(frozen=True)
class TpsComparison:
    """dosecheck − TPS for one structure.

    Attributes
    ----------
    volume_cc, volume_pct
        Volume difference (cc, and per cent of the TPS's volume); ``None`` when the
        TPS gave its volumes in per cent.
    min_gy, mean_gy, max_gy
        Differences of the statistics (Gy).
    dose_metrics_gy
        Differences of D98 %, D95 %, D50 %, D2 % and D0.03cc (Gy; ``None`` where
        undefined, e.g. D0.03cc of a structure smaller than 0.03 cc).
    max_curve_diff_pct, max_curve_diff_at_gy
        The largest volume difference along the cumulative curves, in per cent of the
        TPS's volume, and the dose where it is.
    agree
        Whether volume, mean and the D metrics are all within ``tolerances``.
    beyond_tolerance
        The quantities that are not.
    explanations
        Sentences: what the numbers say about the differences.
    reference_dose_gy
        The dose the per-cent dose tolerance is taken of.
    """

    volume_cc: float | None
    volume_pct: float | None
    min_gy: float
    mean_gy: float
    max_gy: float
    dose_metrics_gy: dict[str, float | None]
    max_curve_diff_pct: float
    max_curve_diff_at_gy: float
    agree: bool
    beyond_tolerance: tuple[str, ...]
    explanations: tuple[str, ...]
    reference_dose_gy: float
    tolerances: TpsTolerances = field(default_factory=TpsTolerances)

    def to_dict(self) -> dict[str, object]:
        """The JSON object ``tps_comparison``."""

        def r(v: float | None, digits: int = 4) -> float | None:
            return None if v is None or not math.isfinite(v) else round(float(v), digits)

        return {
            "volume_cc": r(self.volume_cc),
            "volume_pct": r(self.volume_pct, 3),
            "min_gy": r(self.min_gy),
            "mean_gy": r(self.mean_gy),
            "max_gy": r(self.max_gy),
            "dose_metrics_gy": {k: r(v) for k, v in self.dose_metrics_gy.items()},
            "max_curve_diff_pct": r(self.max_curve_diff_pct, 3),
            "max_curve_diff_at_gy": r(self.max_curve_diff_at_gy, 3),
            "agree": self.agree,
            "beyond_tolerance": list(self.beyond_tolerance),
            "explanations": list(self.explanations),
            "reference_dose_gy": r(self.reference_dose_gy),
            "tolerances": self.tolerances.to_dict(),
        }


# ----------------------------------------------------------------------- geometry


def end_cap_volume_cc(
    structure: Structure, spacing: float | None, gap_factor: float = 1.5
) -> float:
    """Volume the half-slice end caps add to a structure (cc).

    Half a contour spacing times the area of the first and last plane of each run of
    planes (runs split where planes are more than ``gap_factor`` spacings apart); a run
    of one plane is all end cap (its whole slab).
    """
    if structure.is_empty or not spacing or spacing <= 0:
        return 0.0
    planes, contour_plane = np.unique(np.round(structure.z, 3), return_inverse=True)
    area, _ = even_odd_areas(structure.xy, structure.offsets, contour_plane, planes.size)
    area = np.abs(area)
    breaks = np.flatnonzero(np.diff(planes) > gap_factor * spacing)
    starts = np.concatenate([[0], breaks + 1])
    ends = np.concatenate([breaks, [planes.size - 1]])
    cap = float(area[starts].sum() + area[ends].sum()) * spacing / 2.0
    return cap / 1000.0


def subtract_dvhs(minuend: DVH, subtrahends: list[DVH], name: str = "") -> DVH:
    """The cumulative DVH of ``minuend`` with the volumes of ``subtrahends`` removed.

    Exact when each subtrahend lies inside the minuend (e.g. a prostate without its
    urethra); all DVHs must share one bin width. Min and max are the minuend's
    (the remainder's own extremes are not recoverable from cumulative curves); the
    volume outside the dose grid is the minuend's less the subtrahends'.
    """
    n = max([minuend.cumulative_cc.size] + [s.cumulative_cc.size for s in subtrahends])
    step = minuend.bin_width_gy or 0.01
    for s in subtrahends:
        if not s.is_empty and s.bin_width_gy and abs(s.bin_width_gy - step) > 1e-12:
            raise ValueError(
                f"subtract_dvhs: bin widths differ ({step:g} and {s.bin_width_gy:g} Gy)"
            )

    def padded(d: DVH) -> np.ndarray:
        out = np.zeros(n)
        out[: d.cumulative_cc.size] = d.cumulative_cc
        return out

    cum = padded(minuend)
    dose_volume = minuend.mean_gy * minuend.volume_cc
    outside = minuend.outside_grid_cc
    for s in subtrahends:
        # A subtrahend's part outside the grid lies in the minuend's part outside it.
        outside -= s.outside_grid_cc
        if s.is_empty:
            continue
        cum = cum - padded(s)
        dose_volume -= s.mean_gy * s.volume_cc
    cum = np.clip(np.minimum.accumulate(np.clip(cum, 0.0, None)), 0.0, None)
    volume = float(cum[0])
    if not volume > 0:
        return DVH.empty(name=name, warnings=(f"{name}: nothing left after the exclusions",))
    return DVH(
        dose_edges_gy=np.arange(n) * step,
        cumulative_cc=cum,
        volume_cc=volume,
        min_gy=minuend.min_gy,
        mean_gy=dose_volume / volume,
        max_gy=minuend.max_gy,
        outside_grid_cc=max(outside, 0.0),
        name=name,
    )


# ----------------------------------------------------------------------- metrics


def _d(dvh: DVH, metric: str) -> float | None:
    try:
        if metric.endswith("cc"):
            v = float(metric[1:-2])
            return dvh.dose_at_volume(v) if dvh.volume_cc >= v else None
        return dvh.dose_at_volume_percent(float(metric[1:-1]))
    except Exception:  # MetricDomainError: undefined for this structure
        return None


#: Most doses the curves are compared at (a 1 µGy TPS bin must not mean 60 M samples).
_MAX_CURVE_SAMPLES = 200_000


def _curve_diff(ours: DVH, tps: DVH, up_to_gy: float | None = None) -> tuple[float, float]:
    """Largest |V_ours(d) − V_tps(d)| over d (up to ``up_to_gy``), as per cent of the
    TPS volume, and d."""
    top = max(ours.max_gy, tps.max_gy) if up_to_gy is None else up_to_gy
    step = min(x for x in (ours.bin_width_gy, tps.bin_width_gy, 0.01) if x > 0)
    step = max(step, top / _MAX_CURVE_SAMPLES)
    doses = np.arange(0.0, top + step, step)
    a = np.interp(doses, ours.dose_edges_gy, ours.cumulative_cc, right=0.0)
    b = np.interp(doses, tps.dose_edges_gy, tps.cumulative_cc, right=0.0)
    diff = a - b
    i = int(np.argmax(np.abs(diff)))
    return 100.0 * float(diff[i]) / tps.volume_cc, float(doses[i])


# ----------------------------------------------------------------------- comparison


def compare_with_tps(
    ours: DVH,
    tps: TpsCurve,
    *,
    structure: Structure | None = None,
    end_cap_spacing_mm: float | None = None,
    voxel_volume_cc: float | None = None,
    prescription_gy: float | None = None,
    composition: str = "",
    tolerances: TpsTolerances | None = None,
    end_caps: str = "half-slice",
) -> TpsComparison | None:
    """Compare one structure's DVH with the TPS's and explain the differences.

    Parameters
    ----------
    ours
        dosecheck's DVH of the structure (or of the combination the TPS's DVH is of).
    tps
        The TPS's DVH read by :func:`~dosecheck.core.tps_dvh.tps_curve`.
    structure, end_cap_spacing_mm
        The structure's contours and the spacing its end caps used: the end-cap
        explanation needs them.
    voxel_volume_cc
        Volume of one dose voxel, for the structure-size explanation.
    prescription_gy
        Reference for the per-cent dose tolerance (else the TPS's maximum dose).
    composition
        A sentence saying how ``ours`` was composed when the TPS's DVH is of several
        ROIs (e.g. one with another excluded).
    end_caps
        The end-cap convention ``ours`` was computed with (the end-cap explanation
        adds or removes the half-slice caps accordingly; none for ``shape``).

    Returns
    -------
    TpsComparison
        ``None`` when either DVH is empty or the TPS's could not be read.
    """
    tol = tolerances or TpsTolerances()
    ref = tps.dvh
    if ref is None or ours.is_empty or ref.is_empty:
        return None
    ref_dose = prescription_gy if prescription_gy and prescription_gy > 0 else ref.max_gy
    dose_tol = max(tol.dose_pct / 100.0 * ref_dose, tol.dose_gy, tps.bin_width_gy)
    explanations: list[str] = []
    if composition:
        explanations.append(composition)
    explanations.extend(tps.findings)

    dv_cc = ours.volume_cc - ref.volume_cc if tps.volume_known else None
    dv_pct = 100.0 * dv_cc / ref.volume_cc if dv_cc is not None else None
    metrics = {m: (_d(ours, m), _d(ref, m)) for m in DOSE_METRICS}
    dmetrics = {
        m: (a - b if a is not None and b is not None else None) for m, (a, b) in metrics.items()
    }
    cut = tps.truncated_at_gy
    known_to = None if cut is None else max(cut - tps.bin_width_gy, 0.0)
    curve_pct, curve_at = _curve_diff(ours, ref, known_to)
    if known_to is not None:
        # Where the TPS's curve is cut off its value is only a lower bound: dosecheck's
        # lower than it is a difference, higher is not known.
        for m, (a, b) in metrics.items():
            if b is not None and b >= known_to:
                below = a is not None and a < known_to
                dmetrics[m] = a - known_to if below else None

    beyond: list[str] = []
    volume_off = dv_cc is not None and abs(dv_cc) > max(
        tol.volume_pct / 100.0 * ref.volume_cc, tol.volume_cc
    )
    if volume_off:
        beyond.append("volume")
    d_mean = ours.mean_gy - ref.mean_gy
    # A cut-off curve's mean is a lower bound of the TPS's.
    if abs(d_mean) > dose_tol if cut is None else d_mean < -dose_tol:
        beyond.append("mean")
    beyond += [m for m, v in dmetrics.items() if v is not None and abs(v) > dose_tol]
    if cut is not None and abs(curve_pct) > 50.0 and not beyond:
        beyond.append("curve")  # below a cut-off, the curves part ways where no metric reads
    compared = tps.volume_known or cut is None or any(v is not None for v in dmetrics.values())

    accounted: set[str] = set()
    if dv_cc is not None:
        accounted |= _volume_explanations(
            ours, ref, dv_cc, structure, end_cap_spacing_mm, tol, explanations, end_caps
        )
    if voxel_volume_cc and voxel_volume_cc > 0:
        n_vox = ref.volume_cc / voxel_volume_cc
        if n_vox < 50:
            explanations.append(
                f"the ROI is only {n_vox:.1f} dose voxels ({_cc(ref.volume_cc)} cc, voxel "
                f"{voxel_volume_cc * 1000:.3g} mm³): how each engine models the voxels its "
                "boundary cuts decides much of its volume, minimum and maximum"
            )
            accounted.add("size")
    _extreme_explanations(ours, ref, dose_tol, explanations, truncated=cut is not None)
    dose_beyond = [b for b in beyond if b not in ("volume", "curve")]
    relative = [
        b
        for b in dose_beyond
        if b.endswith("%") and "volume" in beyond and _same_at_tps_volume(b, ours, ref, dose_tol)
    ]
    if relative:
        explanations.append(
            ", ".join(relative)
            + (" is" if len(relative) == 1 else " are")
            + f" read at per cent of each engine's own volume, and the volumes differ by "
            f"{dv_pct:+.1f} %: read at the TPS's volume, dosecheck's "
            + ("value agrees" if len(relative) == 1 else "values agree")
            + " with the TPS's within the tolerance"
        )
        accounted |= {f"relative {b}" for b in relative}
    for m in [b for b in beyond if b in dmetrics and dmetrics[b] is not None]:
        sentence = _flat_curve_explanation(m, ours, ref, metrics[m][1], dmetrics[m], tol)
        if sentence:
            explanations.append(sentence)
            accounted.add(f"flat {m}")
    unexplained = [
        b
        for b in beyond
        if not (
            (b == "volume" and ({"end caps", "outside"} & accounted))
            or f"relative {b}" in accounted
            or f"flat {b}" in accounted
            # Voxelisation of a small ROI decides its volume and its tails, not its mean.
            or ("size" in accounted and b in ("volume", "D98%", "D2%", "D0.03cc"))
        )
    ]
    if unexplained:
        explanations.append(
            "not explained by the above: "
            + ", ".join(_describe(b, dv_pct, d_mean, dmetrics) for b in unexplained)
        )
    return TpsComparison(
        volume_cc=dv_cc,
        volume_pct=dv_pct,
        min_gy=ours.min_gy - ref.min_gy,
        mean_gy=d_mean if cut is None else float("nan"),
        max_gy=ours.max_gy - ref.max_gy if cut is None else float("nan"),
        dose_metrics_gy=dmetrics,
        max_curve_diff_pct=curve_pct,
        max_curve_diff_at_gy=curve_at,
        agree=not beyond and compared,
        beyond_tolerance=tuple(beyond),
        explanations=tuple(explanations),
        reference_dose_gy=ref_dose,
        tolerances=tol,
    )


def _cc(x: float) -> str:
    """A volume for a sentence: whole cc from 1000 cc up, else 3–4 significant digits."""
    return f"{x:.0f}" if abs(x) >= 1000 else f"{x:.4g}"


def _describe(what: str, dv_pct: float | None, d_mean: float, dm: dict[str, float | None]) -> str:
    if what == "volume":
        return f"volume {dv_pct:+.1f} %"
    if what == "mean":
        return f"mean {d_mean:+.3f} Gy"
    if what == "curve":
        return "the curves (up to the volume the largest difference gives)"
    return f"{what} {dm[what]:+.3f} Gy"


def _volume_explanations(
    ours: DVH,
    ref: DVH,
    dv_cc: float,
    structure: Structure | None,
    spacing: float | None,
    tol: TpsTolerances,
    out: list[str],
    end_caps: str = "half-slice",
) -> set[str]:
    """Explain a volume difference by the dose grid's extent and by end caps (the end
    caps ``ours`` was computed with: ``half-slice``, ``none`` or ``shape``)."""
    accounted: set[str] = set()
    limit = max(tol.volume_pct / 100.0 * ref.volume_cc, tol.volume_cc)
    outside = ours.outside_grid_cc
    if outside >= 5e-4:
        full = ours.volume_cc + outside
        if abs(full - ref.volume_cc) < abs(dv_cc):
            out.append(
                f"{_cc(outside)} cc of the ROI lies outside the dose grid: dosecheck leaves it "
                f"out ({_cc(ours.volume_cc)} cc inside), the TPS's {_cc(ref.volume_cc)} cc is "
                f"closer to the whole ROI ({_cc(full)} cc), so the TPS counts volume where it "
                "has no dose"
            )
        elif abs(dv_cc) <= limit:
            out.append(
                f"{_cc(outside)} cc of the ROI lies outside the dose grid; dosecheck and, by its "
                f"volume, the TPS both count only the part inside ({_cc(ours.volume_cc)} cc here)"
            )
        else:
            out.append(
                f"{_cc(outside)} cc of the ROI lies outside the dose grid; the TPS's "
                f"{_cc(ref.volume_cc)} cc matches neither the part inside ({_cc(ours.volume_cc)} "
                f"cc) nor the whole ROI ({_cc(full)} cc)"
            )
        if abs(full - ref.volume_cc) <= limit < abs(dv_cc):
            accounted.add("outside")
    cap = end_cap_volume_cc(structure, spacing) if structure is not None else 0.0
    if end_caps == "shape":
        cap = 0.0  # the caps follow the shape: no fixed slab to add or remove
    if cap > 0 and (abs(dv_cc) > limit / 3 or abs(dv_cc) >= 0.5 * cap):
        with_caps = end_caps != "none"
        other = ours.volume_cc - cap if with_caps else ours.volume_cc + cap
        residual = other - ref.volume_cc
        verdict = (
            "the end caps account for the volume difference"
            if abs(residual) <= limit and abs(residual) < abs(dv_cc)
            else "the end caps do not account for the volume difference"
        )
        if verdict.startswith("the end caps account"):
            accounted.add("end caps")
        what = f"half of {spacing:g} mm beyond the first and last contour of each run"
        if with_caps:
            out.append(
                f"dosecheck's half-slice end caps add {_cc(cap)} cc ({what}); without them "
                f"(end caps `none`) its volume would be {_cc(other)} cc, "
                f"{100 * residual / ref.volume_cc:+.1f} % from the TPS's {_cc(ref.volume_cc)} cc: "
                f"{verdict}"
            )
        else:
            out.append(
                f"dosecheck's volume has no end caps here (end caps `none`); half-slice end caps "
                f"would add {_cc(cap)} cc ({what}), giving {_cc(other)} cc, "
                f"{100 * residual / ref.volume_cc:+.1f} % from the TPS's {_cc(ref.volume_cc)} cc: "
                f"{verdict}"
            )
    return accounted


def _same_at_tps_volume(metric: str, ours: DVH, ref: DVH, dose_tol: float) -> bool:
    """Whether dosecheck's D<p>% read at p % of the TPS's volume agrees with the TPS's."""
    p = float(metric[1:-1])
    b = _d(ref, metric)
    if b is None:
        return False
    try:
        a = ours.dose_at_volume(min(p / 100.0 * ref.volume_cc, ours.volume_cc))
    except Exception:  # MetricDomainError
        return False
    return abs(a - b) <= dose_tol


def _flat_curve_explanation(
    metric: str,
    ours: DVH,
    ref: DVH,
    tps_value: float | None,
    diff: float | None,
    tol: TpsTolerances,
) -> str:
    """Explain a D metric's difference by the curve's slope where it is read.

    Where the cumulative curve falls slowly with dose (the cold or hot tail), a small
    volume difference moves the dose at that volume far. If the curves' volume
    difference at that dose, divided by the slope there, gives the dose difference,
    and that volume difference is within the volume tolerance, the dose difference is
    the volume difference seen through a flat curve.
    """
    if tps_value is None or diff is None:
        return ""
    d0, d1 = sorted((tps_value, tps_value + diff))
    d0, d1 = max(d0, 0.0), max(d1, d0 + 1e-9)
    v0 = float(np.interp(d0, ref.dose_edges_gy, ref.cumulative_cc, right=0.0))
    v1 = float(np.interp(d1, ref.dose_edges_gy, ref.cumulative_cc, right=0.0))
    slope = abs(v0 - v1) / (d1 - d0)  # cc per Gy between the two readings
    dv = abs(
        float(np.interp(tps_value, ours.dose_edges_gy, ours.cumulative_cc, right=0.0))
        - float(np.interp(tps_value, ref.dose_edges_gy, ref.cumulative_cc, right=0.0))
    )
    limit = max(tol.volume_pct / 100.0 * ref.volume_cc, tol.volume_cc)
    # The volume difference must also be small beside the tail the metric reads (a
    # 2.5 cc cold spot under a D98 % of 2 cc is a real difference, not a flat curve).
    if metric.endswith("cc"):
        tail = float(metric[1:-2])
    else:
        p = float(metric[1:-1])
        tail = min(p, 100.0 - p) / 100.0 * ref.volume_cc
    if slope <= 0 or dv > limit or dv > 0.25 * tail:
        return ""
    implied = dv / slope
    if not 0.5 * abs(diff) <= implied <= 2.0 * abs(diff):
        return ""
    return (
        f"{metric} is read where the curve falls only {_cc(slope)} cc per Gy: the curves differ "
        f"there by {_cc(dv)} cc ({100 * dv / ref.volume_cc:.1f} % of the volume, within the "
        f"volume tolerance), which moves {metric} by about {implied:.3g} Gy (found "
        f"{diff:+.3g} Gy)"
    )


def _extreme_explanations(
    ours: DVH, ref: DVH, dose_tol: float, out: list[str], *, truncated: bool = False
) -> bool:
    """Explain min/max differences; True when dosecheck's maximum is the higher."""
    lower_min = ours.min_gy < ref.min_gy - dose_tol
    higher_max = ours.max_gy > ref.max_gy + dose_tol and not truncated
    if lower_min or higher_max:
        parts = []
        if lower_min:
            parts.append(f"minimum {ours.min_gy:.3f} vs {ref.min_gy:.3f} Gy")
        if higher_max:
            parts.append(f"maximum {ours.max_gy:.3f} vs {ref.max_gy:.3f} Gy")
        out.append(
            "dosecheck takes min and max over the whole volume including its surface "
            "(contour vertices on the slab faces), a TPS over voxel samples inside, so its "
            "minimum is lower and its maximum higher where the surface lies in a gradient: "
            + ", ".join(parts)
        )
    if ours.min_gy > ref.min_gy + dose_tol or (
        ours.max_gy < ref.max_gy - dose_tol and not truncated
    ):
        out.append(
            f"the TPS's range ({ref.min_gy:.3f}–{ref.max_gy:.3f} Gy) reaches beyond "
            f"dosecheck's ({ours.min_gy:.3f}–{ours.max_gy:.3f} Gy): the TPS counts dose "
            "dosecheck does not find inside the contours (its voxelisation reaches outside "
            "them, or its DVH is of other contours)"
        )
    return higher_max
