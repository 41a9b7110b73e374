"""Each constraint evaluated once more on the planning system's own DVH (``--compare-tps``).

:func:`tps_values` reads the plan's TPS DVHs (DVHSequence), attaches the comparison to
each DVH the check computed, evaluates every constraint again on the TPS's DVH of the
same ROI, and says prominently where the verdict would differ ("dosecheck FAIL, TPS
DVH PASS: …"). The TPS's value is a reference to explain, not a second verdict: the
check's status is dosecheck's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from dosecheck.checking.evaluate import evaluate_constraints
from dosecheck.checking.matching import NamingContext
from dosecheck.checking.model import ConstraintResult, ConstraintSet, Status
from dosecheck.core.dvh import DVH
from dosecheck.core.structures import StructureDVH
from dosecheck.model import Plan

__all__ = ["TpsValue", "tps_values"]


@dataclass(frozen=True)
class TpsValue:
    """One constraint evaluated on the TPS's DVH of its ROI.

    Attributes
    ----------
    value
        The metric on the TPS's DVH (``None`` when the TPS has no usable DVH for the
        ROI, or the metric is undefined on it).
    status
        ``pass`` / ``fail`` / ``not_evaluated`` on the TPS's DVH (``None`` without one).
    differs
        Whether dosecheck's pass/fail would flip on the TPS's DVH.
    note
        Why there is no value (``""`` when there is one).
    """

    value: float | None
    status: Status | None
    differs: bool = False
    note: str = ""

    def to_dict(self) -> dict[str, object]:
        return {
            "tps_value": self.value,
            "tps_status": None if self.status is None else str(self.status),
            "tps_verdict_differs": self.differs,
            "tps_note": self.note,
        }


def _fmt(x: float, unit: str) -> str:
    return f"{x:.4g} {unit}".strip()


def tps_values(
    plan: Plan,
    cset: ConstraintSet,
    dvhs: Sequence[StructureDVH],
    results: Sequence[ConstraintResult],
    *,
    prescription_gy: float | None,
    fractions: int | None,
    naming: NamingContext | None,
    end_caps: str = "half-slice",
    settings: object | None = None,
) -> tuple[list[StructureDVH], list[TpsValue], list[str], list[str]]:
    """Evaluate the constraints on the TPS's DVHs.

    Returns
    -------
    dvhs, values, notes, differences
        The DVHs with their TPS comparison attached; one :class:`TpsValue` per result
        (same order); plan-level notes on the TPS's DVHs; one sentence per constraint
        whose pass/fail differs on the TPS's DVH.
    """
    from dosecheck.dicom.tps_dvh import reconcile_with_tps

    items, notes = reconcile_with_tps(plan, list(dvhs), end_caps=end_caps, settings=settings)
    tps_dvh: dict[str, DVH] = {}
    why_not: dict[str, str] = {}
    for item in items:
        r = item.tps
        name = item.structure.name
        if r is None or r.curve is None or r.curve.dvh is None:
            why_not[name] = r.note if r is not None and r.note else "no TPS DVH for this ROI"
        elif r.tps is not None and r.tps.excluded:
            why_not[name] = "the TPS's DVH of this ROI excludes other ROIs: not the same volume"
        elif not r.curve.volume_known:
            why_not[name] = "the TPS's DVH is in per cent of an unknown volume"
        else:
            tps_dvh[name] = r.curve.dvh
    ours = {i.structure.name: i.dvh for i in items}

    def source(roi: str) -> DVH:
        return tps_dvh.get(roi) or ours[roi]

    again = evaluate_constraints(
        cset,
        source,
        plan.structure_set.names,
        prescription_gy,
        fractions=fractions,
        naming=naming,
    )
    values: list[TpsValue] = []
    differences: list[str] = []
    decided = (Status.PASS, Status.FAIL, Status.VARIATION)
    for r, t in zip(results, again, strict=True):
        body_missing = r.body_roi is not None and r.body_roi not in tps_dvh
        if r.roi is None or r.roi not in tps_dvh or r.evaluated_on != "physical" or body_missing:
            note = why_not.get(r.roi or "", "") if r.roi else "no ROI matched"
            if r.roi is not None and r.evaluated_on != "physical":
                note = "evaluated on an EQD2 sum; the TPS's DVH is of the physical dose"
            elif r.roi in tps_dvh and body_missing:
                why = why_not.get(r.body_roi or "", "no TPS DVH for this ROI")
                note = f"the body ROI {r.body_roi!r} (the isodose volume): {why}"
            values.append(TpsValue(value=None, status=None, note=note))
            continue
        differs = r.status in decided and t.status in decided and r.status != t.status
        values.append(TpsValue(value=t.value, status=t.status, differs=differs))
        if differs and r.value is not None and t.value is not None and r.limit is not None:
            differences.append(
                f"dosecheck {str(r.status).upper()}, TPS DVH {str(t.status).upper()}: "
                f"{r.structure} {r.metric} = {_fmt(r.value, r.unit)} here, "
                f"{_fmt(t.value, r.unit)} on the TPS's DVH of ROI {r.roi!r}; limit "
                f"{r.comparator} {_fmt(r.limit, r.unit)}. Read the TPS comparison of "
                f"{r.roi!r} (dosecheck dvh --compare-tps) before trusting either"
            )
    return items, values, notes, differences
