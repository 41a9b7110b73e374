"""A plan's DVHs beside the planning system's: which TPS DVH goes with which ROI.

:func:`reconcile_plan` takes dosecheck's DVHs of a plan's structures and the RTDOSE's
DVHSequence items (read by :func:`dosecheck.dicom.tps_dvh.read_tps_dvhs`) and attaches
a :class:`TpsReconciliation` to each structure: the TPS's curve and the comparison of
:func:`dosecheck.core.reconcile.compare_with_tps`, or why there is none. A TPS DVH of
one ROI with others EXCLUDED (a prostate without its urethra) is compared with
dosecheck's DVH of the same combination.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from dosecheck.core.reconcile import TpsComparison, compare_with_tps, subtract_dvhs
from dosecheck.core.structures import StructureDVH, end_cap_spacing, structure_set_spacing
from dosecheck.core.tps_dvh import TpsCurve, TpsDVH, tps_curve
from dosecheck.model import Plan

__all__ = ["TpsReconciliation", "reconcile_plan", "tps_record"]


@dataclass(frozen=True, eq=False)
class TpsReconciliation:
    """A structure's TPS DVH and its comparison with dosecheck's.

    Attributes
    ----------
    tps
        The DVHSequence item (``None`` when the RTDOSE has none for this ROI).
    curve
        The item read as a curve (``None`` without an item).
    comparison
        The differences and their explanations (``None`` when not comparable).
    ours
        The dosecheck DVH compared: the structure's own, or the combination the TPS's
        DVH is of.
    note
        Why there is no comparison, or which of several TPS DVHs was used.
    """

    tps: TpsDVH | None = None
    curve: TpsCurve | None = None
    comparison: TpsComparison | None = None
    ours: object | None = None
    note: str = ""

    def to_dict(self, curve_step_gy: float = 0.1) -> dict[str, Any]:
        """The JSON keys ``tps`` (``None`` without a readable TPS DVH),
        ``tps_comparison`` and ``tps_note`` of one structure."""
        tps: dict[str, Any] | None = None
        if self.tps is not None and self.curve is not None and self.curve.dvh is not None:
            d, t = self.curve.dvh, self.tps
            tps = {
                "item": t.item,
                "source": t.source,
                "rois": [{"number": n, "contribution": how} for n, how in t.rois],
                "dvh_type": t.dvh_type,
                "dose_units": t.dose_units,
                "volume_units": t.volume_units,
                "volume_cc": _num(d.volume_cc) if self.curve.volume_known else None,
                "min_gy": _num(d.min_gy),
                "mean_gy": _num(d.mean_gy),
                "max_gy": _num(d.max_gy),
                "bin_width_gy": _num(self.curve.bin_width_gy, 6),
                "truncated_at_gy": _num(self.curve.truncated_at_gy),
                "findings": list(self.curve.findings),
                "dvh": d.sampled_record(curve_step_gy),
            }
        comparison = self.comparison.to_dict() if self.comparison is not None else None
        return {"tps": tps, "tps_comparison": comparison, "tps_note": self.note}


def tps_record(item: StructureDVH) -> dict[str, Any]:
    """The ``tps``, ``tps_comparison`` and ``tps_note`` keys of one structure's JSON
    (:meth:`TpsReconciliation.to_dict`; ``not compared`` when it has none)."""
    if item.tps is None:
        return {"tps": None, "tps_comparison": None, "tps_note": "not compared"}
    return item.tps.to_dict()


def _num(v: float | None, digits: int = 4) -> float | None:
    return None if v is None or not math.isfinite(v) else round(float(v), digits)


def _names(plan: Plan) -> dict[int, str]:
    return {s.number: s.name for s in plan.structure_set.structures}


def reconcile_plan(
    plan: Plan,
    items: Sequence[StructureDVH],
    tps_dvhs: Sequence[TpsDVH],
    *,
    unavailable: str = "",
    settings: object | None = None,
    end_caps: str = "half-slice",
) -> tuple[list[StructureDVH], list[str]]:
    """Attach the TPS's DVH and the comparison to each structure.

    Parameters
    ----------
    plan
        The loaded plan (structures, dose grid, prescription).
    items
        dosecheck's DVHs of the structures to compare.
    tps_dvhs
        The RTDOSE's DVHSequence items.
    unavailable
        Why the plan's TPS DVHs could not be read at all (e.g. a plan sum); every
        structure then gets that note.
    settings
        Engine settings for any DVH of an EXCLUDED ROI not among ``items``.
    end_caps
        The end-cap convention of ``items`` (for the end-cap explanation).

    Returns
    -------
    items, notes
        The items with ``tps`` set, and plan-level notes (TPS DVHs of ROIs the
        structure set does not have, items that could not be read).
    """
    names = _names(plan)
    notes: list[str] = []
    if unavailable:
        return [replace(i, tps=TpsReconciliation(note=unavailable)) for i in items], notes
    by_roi: dict[int, list[TpsDVH]] = {}
    for t in tps_dvhs:
        inc = t.included
        if len(inc) != 1:
            what = ", ".join(str(n) for n in inc) or "no ROI"
            notes.append(
                f"TPS DVH item {t.item} is of {what} (INCLUDED): a DVH of several ROIs "
                "together is not compared"
            )
            continue
        if inc[0] not in names:
            notes.append(
                f"TPS DVH item {t.item} is of ROI {inc[0]}, which the structure set does not have"
            )
            continue
        by_roi.setdefault(inc[0], []).append(t)
    info = plan.plan_info
    rx = info.prescription_gy if info else None
    grid = plan.dose
    voxel = float(np.prod([_step(a) for a in (grid.x, grid.y, grid.z)])) / 1000.0
    set_spacing = structure_set_spacing(plan.structure_set)
    ours_by_roi = {i.structure.number: i.dvh for i in items}
    out: list[StructureDVH] = []
    for item in items:
        s = item.structure
        candidates = by_roi.get(s.number, [])
        if not candidates:
            out.append(
                replace(item, tps=TpsReconciliation(note="the RTDOSE has no DVH for this ROI"))
            )
            continue
        # Prefer the TPS DVH of this ROI alone; else one with exclusions.
        candidates = sorted(candidates, key=lambda t: (len(t.excluded), t.item))
        t = candidates[0]
        note = ""
        if len(candidates) > 1:
            note = (
                f"the RTDOSE has {len(candidates)} DVHs of this ROI (items "
                + ", ".join(str(c.item) for c in candidates)
                + f"); item {t.item} is compared"
            )
        ours = item.dvh
        composition = ""
        if t.excluded:
            missing = [n for n in t.excluded if n not in names]
            if missing:
                out.append(
                    replace(
                        item,
                        tps=TpsReconciliation(
                            tps=t,
                            note=f"its TPS DVH excludes ROI {missing[0]}, which the structure "
                            "set does not have: not compared",
                        ),
                    )
                )
                continue
            parts = [ours_by_roi.get(n) or _dvh_of(plan, n, settings) for n in t.excluded]
            ours = subtract_dvhs(ours, parts, name=f"{s.name} − excluded")
            composition = (
                f"the TPS's DVH is of {s.name} with "
                + ", ".join(names[n] for n in t.excluded)
                + " EXCLUDED (DVHROIContributionType); it is compared with dosecheck's DVH of "
                f"{s.name} minus {'them' if len(t.excluded) > 1 else 'it'} (exact when the "
                "excluded ROIs lie inside it)"
            )
        curve = tps_curve(t, prescription_gy=rx, volume_cc=ours.volume_cc)
        comparison = None
        if curve.dvh is None:
            note = (note + "; " if note else "") + f"the TPS DVH is not read: {curve.unreadable}"
        elif ours.is_empty:
            note = (note + "; " if note else "") + "dosecheck's DVH is empty: not compared"
        else:
            comparison = compare_with_tps(
                ours,
                curve,
                structure=s if not t.excluded else None,
                end_cap_spacing_mm=end_cap_spacing(s, set_spacing),
                voxel_volume_cc=voxel,
                prescription_gy=rx,
                composition=composition,
                end_caps=end_caps,
            )
        if comparison is not None and curve.dvh is not None:
            alt = _wider_bins_reading(t, ours, comparison, rx)
            if alt:
                comparison = replace(comparison, explanations=(*comparison.explanations, alt))
        out.append(
            replace(
                item,
                tps=TpsReconciliation(
                    tps=t, curve=curve, comparison=comparison, ours=ours, note=note
                ),
            )
        )
    return out, notes


def _wider_bins_reading(
    t: TpsDVH, ours: object, comparison: TpsComparison, rx: float | None
) -> str:
    """When DVHNumberOfBins is k times the bins written, try each bin k times as wide.

    A DVH decimated to every k-th bin without widening the bins reads k times too
    low in dose. The sentence says whether that reading agrees better.
    """
    n = t.widths.size
    if t.declared_bins is None or n == 0 or t.declared_bins < 1.5 * n:
        return ""
    k = round(t.declared_bins / n)
    wide = replace(t, widths=t.widths * k)
    alt_curve = tps_curve(wide, prescription_gy=rx, volume_cc=ours.volume_cc)  # type: ignore[attr-defined]
    if alt_curve.dvh is None:
        return ""
    alt = compare_with_tps(ours, alt_curve, prescription_gy=rx)  # type: ignore[arg-type]
    if alt is None:
        return ""

    def worst(c: TpsComparison) -> float:
        vals = [abs(c.mean_gy)] + [abs(v) for v in c.dose_metrics_gy.values() if v is not None]
        return max((v for v in vals if np.isfinite(v)), default=0.0)

    before, after = worst(comparison), worst(alt)
    better = "agrees better" if after < 0.5 * before else "does not agree better"
    return (
        f"read with bins {k} × as wide (as if one bin in {k} of a {t.declared_bins}-bin DVH "
        f"had been kept without widening it), the TPS's curve {better}: largest dose "
        f"difference {after:.3g} Gy instead of {before:.3g} Gy"
    )


def _step(axis: np.ndarray) -> float:
    return float(abs(axis[1] - axis[0])) if axis.size > 1 else 1.0


def _dvh_of(plan: Plan, number: int, settings: object | None):
    from dosecheck.core.engine import compute_dvh

    s = next(s for s in plan.structure_set.structures if s.number == number)
    spacing = end_cap_spacing(s, structure_set_spacing(plan.structure_set))
    return compute_dvh(s, plan.dose, slice_thickness_mm=spacing, settings=settings)  # type: ignore[arg-type]
