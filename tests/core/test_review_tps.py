"""Review of the TPS comparison (issue 9): cases where a number or a sentence is wrong.

Each test is expected to FAIL on the reviewed code (commit 2a5bf78); the report says
why and how to fix. Figures are closed-form: DVHs spread uniformly over dose ranges.
"""

from __future__ import annotations

import tracemalloc

import numpy as np

from dosecheck.core.dvh import DVH
from dosecheck.core.reconcile import compare_with_tps
from dosecheck.core.tps_dvh import TpsCurve, TpsDVH, tps_curve

STEP = 0.01


def spread(*parts: tuple[float, float, float]) -> DVH:
    """A DVH of ``(volume, low, high)`` parts spread uniformly over [low, high] Gy
    (``low == high``: all at that dose)."""
    top = max(hi for _, _, hi in parts)
    edges = np.arange(round(top / STEP) + 2) * STEP
    cum = np.zeros(edges.size)
    for v, lo, hi in parts:
        if hi > lo:
            cum += v * np.clip((hi - edges) / (hi - lo), 0.0, 1.0)
        else:
            cum += np.where(edges <= lo + 1e-9, v, 0.0)
    total = sum(v for v, _, _ in parts)
    return DVH(
        dose_edges_gy=edges,
        cumulative_cc=cum,
        volume_cc=total,
        min_gy=min(lo for _, lo, _ in parts),
        mean_gy=sum(v * (lo + hi) / 2 for v, lo, hi in parts) / total,
        max_gy=top,
    )


def item(widths, values, **kw) -> TpsDVH:
    base = dict(
        item=1,
        rois=((1, "INCLUDED"),),
        dvh_type="CUMULATIVE",
        dose_units="GY",
        dose_type="PHYSICAL",
        volume_units="CM3",
        dose_scaling=1.0,
        declared_bins=len(widths),
        widths=np.asarray(widths, dtype=float),
        values=np.asarray(values, dtype=float),
    )
    base.update(kw)
    return TpsDVH(**base)  # type: ignore[arg-type]


def not_explained(c) -> str:
    return next((s for s in c.explanations if s.startswith("not explained")), "")


# --------------------------------------------------------------- wrong numbers


def test_relative_dose_per_cent_of_prescription_is_not_scaled_by_the_course_factor() -> None:
    """100 cc at 0–100 % of a 10 Gy (course) prescription, read from a per-fraction
    RTDOSE (course factor 5). Per cent of the prescription is a ratio: the maximum is
    10 Gy whatever the file's dose basis, as the header statistics already assume."""
    edges = np.arange(101.0)  # 1 % bins
    t = item(np.ones(101), 100.0 * (100.0 - edges) / 100.0, dose_units="RELATIVE")
    one = tps_curve(t, prescription_gy=10.0)
    per_fraction = tps_curve(
        item(t.widths, t.values, dose_units="RELATIVE", course_factor=5.0), prescription_gy=10.0
    )
    assert one.dvh is not None and per_fraction.dvh is not None
    assert abs(one.dvh.max_gy - 10.0) < 1e-6
    # Reviewed code: 50 Gy (prescription and course factor both applied).
    assert abs(per_fraction.dvh.max_gy - one.dvh.max_gy) < 1e-6


def test_an_empty_wide_last_bin_does_not_widen_the_dose_tolerance() -> None:
    """TPS: 100 cc over 35–45 Gy in 0.1 Gy bins, plus one empty 100 Gy-wide last bin;
    dosecheck: 40–50 Gy. Mean and D50 % differ by 5 Gy (10 % of the prescription):
    they do not agree. Reviewed code: the empty bin's width becomes the dose tolerance
    and ``agree`` is True."""
    edges = np.arange(0.0, 45.1 + 1e-9, 0.1)
    vol = 100.0 * np.clip((45.0 - edges) / 10.0, 0.0, 1.0)
    curve = tps_curve(
        item(np.r_[np.full(edges.size, 0.1), 100.0], np.r_[vol, 0.0]), prescription_gy=50.0
    )
    c = compare_with_tps(spread((100.0, 40.0, 50.0)), curve, prescription_gy=50.0)
    assert c is not None
    assert abs(c.mean_gy - 5.0) < 0.01
    assert not c.agree
    assert "mean" in c.beyond_tolerance and "D50%" in c.beyond_tolerance


def test_a_cut_off_tps_curve_above_all_of_ours_does_not_agree() -> None:
    """TPS: all 100 cc receive at least 10 Gy, curve written up to 10.1 Gy (cut off);
    dosecheck: 100 cc over 0–8 Gy. Every dosecheck dose is below what the TPS says is
    the minimum: the curves differ by 100 % of the volume. Reviewed code: every metric
    is dropped as 'above the cut' and ``agree`` is True."""
    curve = tps_curve(item(np.full(101, 0.1), np.full(101, 100.0)))
    assert curve.truncated_at_gy is not None
    c = compare_with_tps(spread((100.0, 0.0, 8.0)), curve, prescription_gy=50.0)
    assert c is not None
    assert abs(c.max_curve_diff_pct) > 90.0
    assert not c.agree


def test_a_negative_cumulative_volume_is_not_read_as_an_empty_curve_silently() -> None:
    """A CUMULATIVE DVH with one corrupt negative value (bin 5 of a 100 cc curve over
    0–10 Gy). The running minimum carries the negative value to every later bin, so
    the curve is read as 0 cc above 0.05 Gy. Reviewed code: the only finding is that the
    curve 'rises'; nothing says a volume is negative and the curve was zeroed."""
    edges = np.arange(0.0, 10.0 + 1e-9, 0.01)
    vol = 100.0 * (10.0 - edges) / 10.0
    vol[5] = -5.0
    curve = tps_curve(item(np.full(edges.size, 0.01), vol))
    assert curve.dvh is not None
    assert any("negative" in f for f in curve.findings) or curve.dvh.max_gy > 9.0


def test_a_two_value_dvhdata_does_not_allocate_gigabytes() -> None:
    """DVHData ``[1e-6, 100]``: one bin 1 µGy wide. Comparing it with a 0–60 Gy DVH
    must not build a 60-million-sample grid (reviewed code: ~2.3 GB for 1e-6 Gy,
    ~23 GB, an out-of-memory crash, for 1e-7 Gy)."""
    curve = tps_curve(item([1e-6], [100.0]))
    tracemalloc.start()
    try:
        compare_with_tps(spread((100.0, 0.0, 60.0)), curve, prescription_gy=50.0)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 200e6


# --------------------------------------------------------------- sentences that over-claim


def test_a_real_cold_spot_is_not_explained_away_as_a_flat_curve() -> None:
    """dosecheck finds 2.5 cc of a 100 cc PTV at 30 Gy (the rest 49–51 Gy); the TPS has
    none. D98 % differs by 19 Gy. Reviewed code: 'D98% is read where the curve falls
    only 0.105 cc per Gy … within the volume tolerance' and no 'not explained'."""
    c = compare_with_tps(
        spread((97.5, 49.0, 51.0), (2.5, 30.0, 30.0)),
        TpsCurve(dvh=spread((100.0, 49.0, 51.0)), bin_width_gy=STEP),
        prescription_gy=50.0,
    )
    assert c is not None and abs(c.dose_metrics_gy["D98%"] + 19.04) < 0.1
    assert "D98%" in not_explained(c)


def test_a_large_d50_difference_is_not_explained_by_a_volume_difference() -> None:
    """Volumes 100 vs 90 cc (+11 %), doses 40–50 vs 30–40 Gy: D50 % differs by 10 Gy.
    Reading D50 % of ours at the TPS's 45 cc still gives 45.5 Gy vs 35 Gy: the volume
    difference moves it by 0.5 Gy, not 10. Reviewed code: 'D98%, D95%, D50%, D2% …
    differ with the volume' and they are left out of 'not explained'."""
    c = compare_with_tps(
        spread((100.0, 40.0, 50.0)),
        TpsCurve(dvh=spread((90.0, 30.0, 40.0)), bin_width_gy=STEP),
        prescription_gy=50.0,
    )
    assert c is not None and abs(c.dose_metrics_gy["D50%"] - 10.0) < 0.05
    assert "D50%" in not_explained(c)


def test_a_hot_spot_volume_is_not_explained_as_surface_sampling() -> None:
    """dosecheck: 0.5 cc of a 100 cc ROI at 60 Gy (the rest 49–51 Gy); the TPS: none.
    D0.03cc differs by 9 Gy: 0.5 cc is a volume, not a point on the surface. Reviewed
    code: the surface-extremes sentence counts for D0.03cc and nothing is 'not
    explained'."""
    c = compare_with_tps(
        spread((99.5, 49.0, 51.0), (0.5, 60.0, 60.0)),
        TpsCurve(dvh=spread((100.0, 49.0, 51.0)), bin_width_gy=STEP),
        prescription_gy=50.0,
    )
    assert c is not None and abs(c.dose_metrics_gy["D0.03cc"] - 9.0) < 0.05
    assert "D0.03cc" in not_explained(c)
