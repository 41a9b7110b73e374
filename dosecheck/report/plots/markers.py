"""What a DVH plot shows, without drawing it (no matplotlib): curves, colours, and the
limit marker of each constraint of a check report."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from dosecheck.checking.model import ShownStatus

if TYPE_CHECKING:
    from dosecheck.checking.check import CheckReport
    from dosecheck.core.dvh import DVH

__all__ = [
    "CURVE_COLORS",
    "STATUS_COLORS",
    "ConstraintMarker",
    "DVHCurve",
    "constraint_marker",
    "curve_description",
    "preferred_volume_unit",
    "report_curves",
]

VolumeUnit = Literal["cc", "%"]
#: ``pass``, ``fail`` (mandatory), ``not_met`` (optimal constraint failed) or
#: ``not_evaluated``.
MarkerStatus = ShownStatus

#: Colour of each marker status (the HTML table uses the same ones).
STATUS_COLORS: dict[str, str] = {
    ShownStatus.PASS: "#1a7f37",
    ShownStatus.FAIL: "#cf222e",
    ShownStatus.NOT_MET: "#b35900",
    ShownStatus.VARIATION: "#8250df",
    ShownStatus.NOT_EVALUATED: "#6e7781",
}
#: Curve colours: no pure red or green, which mean fail and pass.
CURVE_COLORS = (
    "#1f77b4",
    "#9467bd",
    "#ff7f0e",
    "#17becf",
    "#8c564b",
    "#e377c2",
    "#393b79",
    "#7f7f7f",
    "#bcbd22",
    "#6b6ecf",
)
#: Line styles, one per pass through :data:`CURVE_COLORS` (more than 10 curves).
CURVE_STYLES = ("-", "--", "-.", ":")
_CMP = {"<": "<", "<=": "≤", ">": ">", ">=": "≥"}


@dataclass(frozen=True)
class ConstraintMarker:
    """How one constraint is drawn on its structure's DVH.

    Attributes
    ----------
    label
        Short text drawn next to the marker, e.g. ``"V45Gy[cc] < 300"``.
    title
        Hover text (SVG ``<title>``), e.g. ``"Bag_Bowel V45Gy[cc] < 300 cc: 340.00 cc — FAIL"``.
    status
        ``"pass"``, ``"fail"``, ``"not_met"`` or ``"not_evaluated"`` (the colour).
    kind
        ``"point"`` (a point the curve must pass below or above), ``"dose_line"`` (a
        vertical line at ``dose_gy``, e.g. a mean-dose limit) or ``"volume_line"`` (a
        horizontal line at ``volume_cc``).
    dose_gy, volume_cc
        The limit's coordinates (Gy, cc); ``None`` when the kind does not use it.
    upper
        True when the curve must pass below the point (``▼``), False for above (``▲``).
    achieved_dose_gy, achieved_volume_cc
        The plan's value as a point on the curve, when there is one.
    index
        Index of the result in the report, if the marker comes from one.
    """

    label: str
    title: str
    status: MarkerStatus
    kind: Literal["point", "dose_line", "volume_line"]
    dose_gy: float | None
    volume_cc: float | None
    upper: bool
    achieved_dose_gy: float | None = None
    achieved_volume_cc: float | None = None
    index: int | None = None


@dataclass(frozen=True)
class DVHCurve:
    """One structure's curve and its markers.

    Attributes
    ----------
    label
        Legend text (the structure name).
    dvh
        The cumulative DVH.
    markers
        Constraint markers to draw on it.
    title
        Hover text of the curve; default: label, volume and dose statistics.
    color
        Line colour; default: from :data:`CURVE_COLORS` by position.
    key
        Identifier for the HTML (``data-structure``); default: ``label``.
    roi
        The plan's ROI the DVH is of, when it differs from the key (else empty).
    """

    label: str
    dvh: DVH
    markers: tuple[ConstraintMarker, ...] = ()
    title: str = ""
    color: str | None = None
    key: str = ""
    roi: str = ""

    def hover_text(self) -> str:
        """``title`` or a description of the curve."""
        if self.title:
            return self.title
        return curve_description(self.label, self.dvh)


def curve_description(label: str, dvh: DVH) -> str:
    """E.g. ``"PTV: 68.0 cc, min 47.0 / mean 49.6 / max 52.0 Gy"``."""
    if dvh.is_empty:
        return f"{label}: no volume inside the dose grid"
    return (
        f"{label}: {dvh.volume_cc:.1f} cc, min {dvh.min_gy:.2f} / mean {dvh.mean_gy:.2f} / "
        f"max {dvh.max_gy:.2f} Gy"
    )


# --- markers from a check report ----------------------------------------------------------
def constraint_marker(report: CheckReport, index: int, dvh: DVH) -> ConstraintMarker | None:
    """The marker of result ``index`` of ``report`` on ``dvh``, or ``None`` when the
    limit cannot be placed (unknown prescription for a limit in %, empty DVH).

    ``V<d> < L`` is the point ``(d, L)`` the curve must pass below; ``CV<d> < L`` the
    point ``(d, volume − L)`` it must pass above; ``D<v> < L`` the point ``(L, v)`` it
    must pass below; ``DC<v> < L`` the point ``(L, volume − v)`` (below); ``Max < L``
    the point ``(L, 0)`` and ``Min > L`` ``(L, volume)``; ``Mean`` a vertical line at
    the limit, ``Volume`` a horizontal one. Doses in cGy or % of prescription are
    converted to Gy, volumes in % to cc.
    """
    from dosecheck.output.check_formats import format_value

    r = report.results[index]
    c = report.constraints[index]
    m = c.metric
    if dvh.is_empty or r.limit is None:
        return None
    vol = dvh.volume_cc
    rx = r.prescription_gy if r.prescription_gy is not None else report.prescription.dose_gy
    status = ShownStatus.of(r.status, r.priority)

    def dose_to_gy(x: float, unit: str | None) -> float | None:
        if unit == "Gy":
            return x
        if unit == "cGy":
            return x / 100.0
        if unit == "%":
            return None if rx is None or not rx > 0 else x * rx / 100.0
        return None

    def volume_to_cc(x: float, unit: str | None) -> float:
        return x * vol / 100.0 if unit == "%" else x

    upper = r.comparator in ("<", "<=")
    limit_text = format_value(r.limit, r.unit)
    metric_text = report.metric_as_written(index)
    short_status = {
        ShownStatus.PASS: "PASS",
        ShownStatus.FAIL: "FAIL",
        ShownStatus.NOT_MET: "NOT MET",
        ShownStatus.VARIATION: "VARIATION",
        ShownStatus.NOT_EVALUATED: "N/E",
    }
    label = (
        f"{metric_text} {_CMP.get(r.comparator, r.comparator)} {c.limit_text}"
        f" · {short_status[status]}"
    )
    value_text = format_value(r.value, r.unit)
    title = (
        f"{r.structure} {metric_text} {_CMP.get(r.comparator, r.comparator)} {limit_text}: "
        f"{value_text} — {status.label}"
    )
    if r.priority == "optimal":
        title += " (optimal)"
    kind: Literal["point", "dose_line", "volume_line"] = "point"
    dose: float | None
    volume: float | None
    a_dose: float | None = None
    a_vol: float | None = None
    value = r.value

    if m.kind in ("V", "CV"):
        assert m.number is not None
        # A dose given as EQD2 (or for another fractionation) is drawn at its physical value.
        dose = (
            r.converted_dose_gy
            if r.converted_dose_gy is not None
            else dose_to_gy(m.number, m.number_unit)
        )
        if dose is None:
            return None
        limit_cc = volume_to_cc(r.limit, m.output_unit)
        value_cc = None if value is None else volume_to_cc(value, m.output_unit)
        if m.kind == "V":
            volume = limit_cc
            a_vol = value_cc
        else:  # CV < L  ⇔  V > volume − L
            volume = vol - limit_cc
            a_vol = None if value_cc is None else vol - value_cc
            upper = not upper
        a_dose = dose if a_vol is not None else None
    elif m.kind in ("D", "DC", "Max", "Min"):
        dose = dose_to_gy(r.limit, m.output_unit)
        if dose is None:
            return None
        if m.kind == "Max":
            volume = 0.0
        elif m.kind == "Min":
            volume = vol
        else:
            assert m.number is not None
            v_cc = volume_to_cc(m.number, m.number_unit)
            volume = v_cc if m.kind == "D" else max(vol - v_cc, 0.0)
        a_dose = None if value is None else dose_to_gy(value, m.output_unit)
        a_vol = volume if a_dose is not None else None
    elif m.kind == "Mean":
        kind = "dose_line"
        dose = dose_to_gy(r.limit, m.output_unit)
        if dose is None:
            return None
        volume = None
        a_dose = None if value is None else dose_to_gy(value, m.output_unit)
        a_vol = None if a_dose is None else _volume_on_curve(dvh, a_dose)
    elif m.kind == "Volume":
        kind = "volume_line"
        dose = None
        volume = r.limit
    else:  # pragma: no cover - the metric grammar has no other kinds
        return None
    return ConstraintMarker(
        label=label,
        title=title,
        status=status,
        kind=kind,
        dose_gy=dose,
        volume_cc=volume,
        upper=upper,
        achieved_dose_gy=a_dose,
        achieved_volume_cc=a_vol,
        index=index,
    )


def _volume_on_curve(dvh: DVH, dose_gy: float) -> float:
    import numpy as np

    return float(np.interp(dose_gy, dvh.dose_edges_gy, dvh.cumulative_cc, right=0.0))


def preferred_volume_unit(report: CheckReport, indices: Sequence[int]) -> VolumeUnit:
    """``"%"`` when most of these constraints give volumes in % of the structure
    (``V95%[%]``, ``D2%[Gy]``), else ``"cc"``."""
    pct = cc = 0
    for i in indices:
        m = report.constraints[i].metric
        if m.kind in ("V", "CV"):
            unit = m.output_unit
        elif m.kind in ("D", "DC"):
            unit = m.number_unit
        else:
            continue
        if unit == "%":
            pct += 1
        else:
            cc += 1
    return "%" if pct > cc else "cc"


def report_curves(report: CheckReport) -> list[tuple[DVHCurve, list[int], VolumeUnit]]:
    """One curve per checked structure of ``report`` (a structure of the constraint set
    matched to a ROI whose DVH was computed), in the order of the constraint set.

    Returns
    -------
    list
        ``(curve, result indices, preferred volume unit)`` per structure; the curve
        carries the markers of those results.
    """
    by_roi = {item.structure.name: item.dvh for item in report.dvhs}
    groups: dict[str, list[int]] = {}
    for i, r in enumerate(report.results):
        if r.roi is not None and r.roi in by_roi:
            groups.setdefault(r.structure, []).append(i)
    out = []
    for n, (structure, indices) in enumerate(groups.items()):
        roi = report.results[indices[0]].roi
        assert roi is not None
        dvh = by_roi[roi]
        markers = tuple(
            mk for i in indices if (mk := constraint_marker(report, i, dvh)) is not None
        )
        label = structure if roi == structure else f"{structure} (ROI {roi})"
        curve = DVHCurve(
            label=label,
            dvh=dvh,
            markers=markers,
            color=CURVE_COLORS[n % len(CURVE_COLORS)],
            key=structure,
            roi=roi,
        )
        out.append((curve, indices, preferred_volume_unit(report, indices)))
    return out
