"""A planning system's own DVH (one DVHSequence item), and its reading as a curve.

:class:`TpsDVH` holds what the RTDOSE says, in the file's own terms (bin widths and
values as written, units, the declared bin count, the header statistics);
:func:`tps_curve` turns it into a cumulative :class:`~dosecheck.core.dvh.DVH` in Gy and
cc, and lists every way the item contradicts itself or needed interpretation
(:class:`TpsCurve`). NumPy only: the DICOM reader is :mod:`dosecheck.dicom.tps_dvh`.

Reading rules (DICOM PS3.3 C.8.8.4, RT DVH module):

* ``DVHData`` (3004,0058) is the pairs ``D1 V1 D2 V2 …``: bin widths (scaled by
  DVHDoseScaling, 3004,0052) and volumes. In a CUMULATIVE DVH, ``Vi`` is the volume
  receiving at least the bin's lower edge; in a DIFFERENTIAL one, the volume within the
  bin (integrated here into the cumulative curve). NATURAL DVHs are not read.
* DoseUnits (3004,0002) GY, or RELATIVE (per cent of DVHNormalizationDoseValue,
  3004,0042, else of the prescription, with a finding saying so); CGY is not a DICOM
  value but is read, with a finding.
* DVHVolumeUnits (3004,0054) CM3, or PERCENT (then the TPS's volume is unknown and the
  curve is scaled to a volume given by the caller); PER_U is not read.
* Statistics (min, mean, max) are taken from the curve. The header's DVHMinimumDose,
  DVHMaximumDose and DVHMeanDose (3004,0070/72/74) are compared with it: Eclipse writes
  them in per cent of the prescription although DoseUnits says GY.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from dosecheck.core.dvh import DVH

__all__ = ["TpsCurve", "TpsDVH", "tps_curve"]

#: Largest number of uniform bins a TPS curve is resampled onto.
_MAX_BINS = 2_000_000
#: Volumes this far below zero or this far above the previous bin are noise, not data.
_NOISE_CC = 1e-6


@dataclass(frozen=True, eq=False)
class TpsDVH:
    """One item of an RTDOSE's DVHSequence (3004,0050), as written.

    Attributes
    ----------
    item
        1-based position in the DVHSequence.
    rois
        ``(ReferencedROINumber, DVHROIContributionType)`` of each DVHReferencedROISequence
        item: ``INCLUDED`` or ``EXCLUDED`` (an empty type is read as INCLUDED).
    dvh_type
        DVHType (3004,0001): CUMULATIVE, DIFFERENTIAL or NATURAL.
    dose_units
        DoseUnits (3004,0002) of the item.
    dose_type
        DoseType (3004,0004): PHYSICAL, EFFECTIVE, ERROR.
    volume_units
        DVHVolumeUnits (3004,0054): CM3, PERCENT or PER_U.
    dose_scaling
        DVHDoseScaling (3004,0052); 1 when absent.
    declared_bins
        DVHNumberOfBins (3004,0056), ``None`` when absent.
    widths, values
        DVHData (3004,0058) split into bin widths (unscaled) and volumes.
    minimum_dose, maximum_dose, mean_dose
        DVHMinimumDose, DVHMaximumDose, DVHMeanDose as written (``None`` when absent).
    normalization_dose
        DVHNormalizationDoseValue (3004,0042) of the RTDOSE, ``None`` when absent.
    odd_data_length
        Whether DVHData held an odd number of values (the last one is dropped).
    source
        The RTDOSE file.
    structure_set_uid
        The RTDOSE's ReferencedStructureSetSequence (300C,0060) UID: the structure set
        whose ROI numbers the DVHs refer to (``""`` when absent).
    course_factor
        What the loader multiplied the dose grid by (the fraction count of a dose read
        per fraction); the TPS's DVH is of the file's values and is scaled alike.
    """

    item: int
    rois: tuple[tuple[int, str], ...]
    dvh_type: str
    dose_units: str
    dose_type: str
    volume_units: str
    dose_scaling: float
    declared_bins: int | None
    widths: np.ndarray
    values: np.ndarray
    minimum_dose: float | None = None
    maximum_dose: float | None = None
    mean_dose: float | None = None
    normalization_dose: float | None = None
    odd_data_length: bool = False
    source: str = ""
    course_factor: float = 1.0
    structure_set_uid: str = ""

    @property
    def included(self) -> tuple[int, ...]:
        """ROI numbers whose volume the DVH includes."""
        return tuple(n for n, how in self.rois if how != "EXCLUDED")

    @property
    def excluded(self) -> tuple[int, ...]:
        """ROI numbers whose volume the DVH excludes."""
        return tuple(n for n, how in self.rois if how == "EXCLUDED")


@dataclass(frozen=True, eq=False)
class TpsCurve:
    """A TPS DVH read as a cumulative curve in Gy and cc.

    Attributes
    ----------
    dvh
        The curve (uniform bins), ``None`` when the item cannot be read.
    volume_known
        False when the TPS gave volumes in per cent (the curve is then scaled to the
        volume the caller gave, so the TPS's own volume is not known).
    bin_width_gy
        The TPS's widest bin (Gy): dose metrics read from its curve are uncertain by
        up to this much.
    findings
        Sentences on how the item contradicts itself or what reading it needed.
    unreadable
        Why there is no curve (``""`` when there is one).
    truncated_at_gy
        Where the curve stops while volume still receives more (``None`` when it
        reaches zero volume).
    """

    dvh: DVH | None
    volume_known: bool = True
    bin_width_gy: float = 0.0
    truncated_at_gy: float | None = None
    findings: tuple[str, ...] = field(default=())
    unreadable: str = ""


def _dose_factor(
    tps: TpsDVH, prescription_gy: float | None, findings: list[str]
) -> tuple[float | None, str]:
    """Gy per unit of the item's dose axis, or (None, why not).

    The second value is ``"course"`` when the factor already gives course doses (per
    cent of the prescription), so the fraction count must not be applied again.
    """
    units = tps.dose_units.upper()
    if units == "GY":
        return 1.0, ""
    if units == "CGY":
        findings.append(
            "DoseUnits (3004,0002) of the DVH is CGY, not a DICOM value (GY or RELATIVE); "
            "read as centigray"
        )
        return 0.01, ""
    if units == "RELATIVE":
        if tps.normalization_dose is not None and tps.normalization_dose > 0:
            findings.append(
                f"the DVH's doses are relative: read as per cent of DVHNormalizationDoseValue "
                f"(3004,0042) {tps.normalization_dose:g} Gy"
            )
            return tps.normalization_dose / 100.0, ""
        if prescription_gy:
            findings.append(
                "the DVH's doses are RELATIVE and the RTDOSE has no DVHNormalizationDoseValue "
                f"(3004,0042): read as per cent of the prescription, {prescription_gy:g} Gy"
            )
            # Per cent of the course prescription is already a course dose: not to be
            # scaled by the fraction count like the file's own doses.
            return prescription_gy / 100.0, "course"
        return None, (
            "its doses are RELATIVE with neither DVHNormalizationDoseValue (3004,0042) nor "
            "a prescription to scale them"
        )
    return None, f"DoseUnits (3004,0002) {tps.dose_units!r} is not GY or RELATIVE"


def _check_data(tps: TpsDVH, findings: list[str]) -> str:
    """Findings on the data's integrity; a reason when it cannot be read at all."""
    n = tps.widths.size
    if n == 0:
        return "its DVHData (3004,0058) is empty"
    if not (np.isfinite(tps.widths).all() and np.isfinite(tps.values).all()):
        return "its DVHData (3004,0058) holds values that are not finite"
    if (tps.widths < 0).any():
        return "its DVHData (3004,0058) has negative bin widths"
    if not (tps.widths > 0).any():
        return "its DVHData (3004,0058) bin widths are all zero"
    if not (np.isfinite(tps.dose_scaling) and tps.dose_scaling > 0):
        return (
            f"its DVHDoseScaling (3004,0052) is {tps.dose_scaling:g}; a dose scaling must be "
            "a positive number"
        )
    if tps.odd_data_length:
        findings.append(
            f"DVHData (3004,0058) holds an odd number of values ({2 * n + 1}); the last is "
            "not a (width, volume) pair and was dropped"
        )
    if tps.declared_bins is not None and tps.declared_bins != n:
        findings.append(
            f"DVHNumberOfBins (3004,0056) says {tps.declared_bins} bins but DVHData "
            f"(3004,0058) holds {n}: the file contradicts itself, so its curve is a weak "
            "reference"
        )
    positive = tps.widths[tps.widths > 0]
    if positive.size and positive.max() > positive.min() * (1 + 1e-6):
        findings.append(
            f"bin widths vary from {positive.min() * tps.dose_scaling:.4g} to "
            f"{positive.max() * tps.dose_scaling:.4g} (DVHData units); the curve was resampled "
            "onto uniform bins by linear interpolation"
        )
    return ""


def _cumulative(tps: TpsDVH, findings: list[str]) -> tuple[np.ndarray, str]:
    """Cumulative volumes at the lower bin edges (in the item's volume units)."""
    kind = tps.dvh_type.upper()
    values = tps.values.astype(np.float64)
    if kind == "CUMULATIVE":
        negative = values < -_NOISE_CC * max(1.0, float(np.abs(values).max(initial=0.0)))
        if negative.all():
            return values, "its CUMULATIVE DVH has only negative volumes"
        if negative.any():
            findings.append(
                f"the CUMULATIVE DVH has {int(negative.sum())} negative volume(s) (down to "
                f"{float(values.min()):.4g}); a volume cannot be negative: each was read as the "
                "volume of the bin before it, and the curve is a weak reference"
            )
            idx = np.where(~negative, np.arange(values.size), 0)
            np.maximum.accumulate(idx, out=idx)
            values = np.where(negative, values[idx], values)
            if negative[0]:
                values[: int(np.argmax(~negative))] = values[int(np.argmax(~negative))]
        rises = np.diff(values)
        big = rises > _NOISE_CC * max(1.0, float(np.abs(values).max(initial=0.0)))
        if big.any():
            findings.append(
                f"the CUMULATIVE DVH rises in {int(big.sum())} bin(s) (by up to "
                f"{float(rises.max()):.4g}); a cumulative DVH cannot rise, so it was read "
                "as its running minimum"
            )
            values = np.minimum.accumulate(values)
        return values, ""
    if kind == "DIFFERENTIAL":
        if (values < -_NOISE_CC).any():
            findings.append("the DIFFERENTIAL DVH has negative volumes; they were read as 0")
        values = np.clip(values, 0.0, None)
        findings.append("the TPS's DVH is DIFFERENTIAL; it was integrated to a cumulative one")
        return np.cumsum(values[::-1])[::-1], ""
    return values, f"DVHType (3004,0001) {tps.dvh_type!r} is not CUMULATIVE or DIFFERENTIAL"


def _uniform(
    edges: np.ndarray, cumulative: np.ndarray, widths: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The curve on uniform edges from 0 (its own when its bins are uniform).

    Both readings end at the last bin's upper edge with zero volume, so the volume in
    the last bin falls linearly across it (as the statistics assume).
    """
    positive = widths[widths > 0]
    step = float(positive.min())
    uniform = positive.max() <= step * (1 + 1e-6) and (widths > 0).all()
    if uniform:
        return np.arange(edges.size) * step, np.concatenate([cumulative, [0.0]])
    n = min(int(np.ceil(edges[-1] / step)) + 1, _MAX_BINS)
    step = max(step, float(edges[-1]) / (n - 1)) if n > 1 else step
    grid = np.arange(n) * step
    # Cumulative volume is piecewise linear between the written edges (value at the
    # lower edge of each bin, 0 at the upper edge of the last).
    knots_d = edges
    knots_v = np.concatenate([cumulative, [0.0]])
    keep = np.concatenate([[True], np.diff(knots_d) > 0])
    return grid, np.interp(grid, knots_d[keep], knots_v[keep], right=0.0)


def _header_findings(
    tps: TpsDVH, factor: float, curve: DVH, prescription_gy: float | None
) -> list[str]:
    """Compare the header's statistics with the curve's.

    The maximum decides the header's units (a binned curve's maximum is known to a
    bin or two): Gy, or per cent of the prescription. The minimum and mean are then
    only reported when they contradict the curve by more than 5 %.
    """
    written = {
        "DVHMinimumDose": (tps.minimum_dose, curve.min_gy, "(3004,0070)"),
        "DVHMeanDose": (tps.mean_dose, curve.mean_gy, "(3004,0074)"),
        "DVHMaximumDose": (tps.maximum_dose, curve.max_gy, "(3004,0072)"),
    }
    present = {k: v for k, v in written.items() if v[0] is not None}
    if not present:
        return []
    bins = 3 * max(curve.bin_width_gy, 0.01)

    def close(a: float, b: float, pct: float) -> bool:
        return abs(a - b) <= max(bins, pct / 100.0 * abs(b))

    scales = {"Gy": factor}
    if prescription_gy:
        # A per cent of the (course) prescription is a ratio: neither the item's dose
        # units nor a per-fraction course factor apply to it.
        scales["per cent of the prescription"] = prescription_gy / 100.0
    key = "DVHMaximumDose" if "DVHMaximumDose" in present else next(iter(present))
    h, c, tag = present[key]
    unit = next((u for u, f in scales.items() if close(h * f, c, 1.0)), None)
    out: list[str] = []
    if unit is None:
        return [
            f"the DVH header's {key} {tag} {h:.4g} matches its own curve's maximum "
            f"({c:.4g} Gy) neither in Gy nor in per cent of the prescription; statistics "
            "are taken from the curve"
        ]
    f = scales[unit]
    if unit != "Gy":
        out.append(
            f"the DVH header's statistics are in per cent of the prescription "
            f"({prescription_gy:g} Gy), although DoseUnits says {tps.dose_units}: {key} "
            f"{h:.4g} is {h * f:.4g} Gy, the curve's {c:.4g} Gy; statistics are taken from "
            "the curve"
        )
    for k, (hv, cv, t) in present.items():
        if k != key and not close(hv * f, cv, 5.0):
            out.append(
                f"the DVH header's {k} {t} ({hv * f:.4g} Gy read in {unit}) differs from its "
                f"own curve's ({cv:.4g} Gy) by more than 5 %; the curve's is used"
            )
    return out


def tps_curve(
    tps: TpsDVH, *, prescription_gy: float | None = None, volume_cc: float | None = None
) -> TpsCurve:
    """Read a TPS DVH as a cumulative curve in Gy and cc.

    Parameters
    ----------
    tps
        The DVHSequence item.
    prescription_gy
        The plan's prescription: scales RELATIVE doses without a normalisation value, and
        recognises header statistics written in per cent of it.
    volume_cc
        The structure's volume, used only when the TPS gave volumes in per cent.

    Returns
    -------
    TpsCurve
        ``dvh`` is ``None`` (with ``unreadable`` saying why) when the item cannot be
        read: NATURAL or PER_U units, empty or non-finite data, relative doses with
        nothing to scale them, or a curve with no volume.
    """
    findings: list[str] = []
    reason = _check_data(tps, findings)
    factor, why = (None, "") if reason else _dose_factor(tps, prescription_gy, findings)
    already_course = why == "course"
    reason = reason or ("" if already_course else why)
    if not reason:
        cumulative, reason = _cumulative(tps, findings)
    if reason:
        return TpsCurve(dvh=None, findings=tuple(findings), unreadable=reason)
    assert factor is not None
    units = tps.volume_units.upper()
    volume_known = True
    if units == "PERCENT":
        if volume_cc is None or not volume_cc > 0:
            return TpsCurve(
                dvh=None,
                findings=tuple(findings),
                unreadable="its volumes are in PERCENT and no structure volume is known",
            )
        findings.append(
            "the TPS gave volumes in per cent (DVHVolumeUnits PERCENT): its own volume is "
            f"unknown, so the curve is scaled to dosecheck's {volume_cc:.3f} cc"
        )
        cumulative = cumulative / 100.0 * volume_cc
        volume_known = False
    elif units != "CM3":
        return TpsCurve(
            dvh=None,
            findings=tuple(findings),
            unreadable=f"DVHVolumeUnits (3004,0054) {tps.volume_units!r} is not CM3 or PERCENT",
        )
    cumulative = np.clip(cumulative, 0.0, None)
    if tps.course_factor != 1.0 and not already_course:
        findings.append(
            f"the dose grid was used as {tps.course_factor:g} × the file's values (a dose per "
            "fraction); the TPS's DVH, written from the same values, was scaled alike"
        )
        factor *= tps.course_factor
    widths_gy = tps.widths * tps.dose_scaling * factor
    edges = np.concatenate([[0.0], np.cumsum(widths_gy)])
    total = float(cumulative[0])
    if not total > 0:
        return TpsCurve(dvh=None, findings=tuple(findings), unreadable="its curve has no volume")
    grid, cum = _uniform(edges, cumulative, widths_gy)
    # Statistics from the written bins: the volume in each bin at its centre.
    in_bin = -np.diff(np.concatenate([cumulative, [0.0]]))
    in_bin = np.clip(in_bin, 0.0, None)
    occupied = np.flatnonzero(in_bin > _NOISE_CC * 1e-3)
    if occupied.size == 0:
        return TpsCurve(dvh=None, findings=tuple(findings), unreadable="its curve has no volume")
    centres = (edges[:-1] + edges[1:]) / 2
    curve = DVH(
        dose_edges_gy=grid,
        cumulative_cc=np.minimum(cum, total),
        volume_cc=total,
        min_gy=float(edges[occupied[0]]),
        mean_gy=float(np.dot(in_bin, centres) / in_bin.sum()),
        max_gy=float(edges[occupied[-1] + 1]),
        name=f"TPS DVH item {tps.item}",
    )
    findings += _header_findings(tps, factor, curve, prescription_gy)
    # A cumulative value is the volume at or above its bin's lower edge, so volume left
    # in the last bin may reach beyond it; a differential bin holds its volume within it.
    truncated_cc = float(cumulative[-1]) if tps.dvh_type.upper() == "CUMULATIVE" else 0.0
    truncated = truncated_cc > max(1e-3 * total, 1e-4)
    if truncated:
        findings.append(
            f"the TPS's curve ends with {truncated_cc:.4g} cc ({100 * truncated_cc / total:.2g} % "
            f"of the volume) in its last bin ({edges[-2]:.4g}–{edges[-1]:.4g} Gy): the DVH "
            "is probably cut off there, so its maximum and its high-dose metrics are not known"
        )
    return TpsCurve(
        dvh=curve,
        volume_known=volume_known,
        # The widest bin that holds volume: an empty wide bin says nothing about doses.
        bin_width_gy=float(widths_gy[occupied].max(initial=0.0)),
        findings=tuple(findings),
        truncated_at_gy=float(edges[-1]) if truncated else None,
    )
