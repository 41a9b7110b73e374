"""Reading a planning system's DVHSequence item as a curve (:func:`tps_curve`).

Every item is built by hand and every figure is computed by hand: a cumulative value is
the volume receiving at least its bin's lower edge, the statistics are those of the
written bins (the volume in each bin at its centre).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dosecheck.core.tps_dvh import TpsDVH, tps_curve


def tps(**kw: object) -> TpsDVH:
    """A cumulative 4-bin item of 0.5 Gy bins: 10, 8, 4, 1 cc (overridable)."""
    base: dict[str, object] = dict(
        item=1,
        rois=((1, "INCLUDED"),),
        dvh_type="CUMULATIVE",
        dose_units="GY",
        dose_type="PHYSICAL",
        volume_units="CM3",
        dose_scaling=1.0,
        declared_bins=4,
        widths=np.full(4, 0.5),
        values=np.array([10.0, 8.0, 4.0, 1.0]),
    )
    base.update(kw)
    if "widths" in kw and "declared_bins" not in kw:
        base["declared_bins"] = np.asarray(kw["widths"]).size
    return TpsDVH(**base)  # type: ignore[arg-type]


def has(findings: tuple[str, ...], *words: str) -> bool:
    """Whether one finding contains every word."""
    return any(all(w in f for w in words) for f in findings)


# Bins [0, .5), [.5, 1), [1, 1.5), [1.5, 2) hold 2, 4, 3, 1 cc:
# mean = (2 × .25 + 4 × .75 + 3 × 1.25 + 1 × 1.75) / 10 = 9 / 10.
MEAN = 0.9


def test_cumulative_uniform_bins_statistics() -> None:
    c = tps_curve(tps())
    d = c.dvh
    assert d is not None and c.unreadable == ""
    assert d.volume_cc == 10.0
    assert d.min_gy == 0.0
    assert d.max_gy == 2.0
    assert d.mean_gy == pytest.approx(MEAN, abs=1e-12)
    assert c.bin_width_gy == 0.5
    assert c.volume_known
    for dose, vol in [(0.0, 10.0), (0.5, 8.0), (1.0, 4.0), (1.5, 1.0)]:
        assert d.volume_at_dose(dose) == pytest.approx(vol, abs=1e-12)
    # Linear between the written edges.
    assert d.volume_at_dose(0.75) == pytest.approx(6.0, abs=1e-12)
    # The last bin still holds 1 cc (10 % of the volume): where it ends is not known.
    assert c.truncated_at_gy == 2.0
    assert has(c.findings, "(1.5–2 Gy)", "1 cc", "cut off")


def test_cumulative_ending_at_zero_is_not_truncated() -> None:
    c = tps_curve(tps(widths=np.full(5, 0.5), values=np.array([10.0, 8.0, 4.0, 1.0, 0.0])))
    assert c.truncated_at_gy is None
    assert c.findings == ()
    d = c.dvh
    assert d is not None
    assert d.max_gy == 2.0  # the last occupied bin ends at 2 Gy
    assert d.mean_gy == pytest.approx(MEAN, abs=1e-12)
    assert d.volume_at_dose(1.75) == pytest.approx(0.5, abs=1e-12)


def test_differential_gives_the_same_curve() -> None:
    cum = tps_curve(tps()).dvh
    c = tps_curve(tps(dvh_type="DIFFERENTIAL", values=np.array([2.0, 4.0, 3.0, 1.0])))
    d = c.dvh
    assert d is not None and cum is not None
    np.testing.assert_allclose(d.cumulative_cc, cum.cumulative_cc, atol=1e-12)
    np.testing.assert_allclose(d.dose_edges_gy, cum.dose_edges_gy, atol=1e-12)
    assert (d.volume_cc, d.min_gy, d.max_gy) == (10.0, 0.0, 2.0)
    assert d.mean_gy == pytest.approx(MEAN, abs=1e-12)
    assert has(c.findings, "DIFFERENTIAL", "integrated")


def test_differential_negative_volumes_read_as_zero() -> None:
    c = tps_curve(tps(dvh_type="DIFFERENTIAL", values=np.array([2.0, -1.0, 3.0, 1.0])))
    assert c.dvh is not None
    assert c.dvh.volume_cc == 6.0
    assert has(c.findings, "negative volumes")


def test_dose_scaling_multiplies_the_widths() -> None:
    # 50 × 0.01 = 0.5 Gy per bin: the same curve as the plain one.
    c = tps_curve(tps(widths=np.full(4, 50.0), dose_scaling=0.01))
    d = c.dvh
    assert d is not None
    assert c.bin_width_gy == pytest.approx(0.5, abs=1e-12)
    assert d.max_gy == pytest.approx(2.0, abs=1e-12)
    assert d.mean_gy == pytest.approx(MEAN, abs=1e-12)
    assert d.volume_at_dose(1.0) == pytest.approx(4.0, abs=1e-12)


def test_relative_with_normalization_dose() -> None:
    # Widths 12.5 % of 4 Gy = 0.5 Gy.
    c = tps_curve(
        tps(dose_units="RELATIVE", widths=np.full(4, 12.5), normalization_dose=4.0),
        prescription_gy=60.0,
    )
    d = c.dvh
    assert d is not None
    assert d.max_gy == pytest.approx(2.0, abs=1e-12)
    assert d.mean_gy == pytest.approx(MEAN, abs=1e-12)
    assert has(c.findings, "relative", "DVHNormalizationDoseValue", "4 Gy")


def test_relative_with_only_a_prescription() -> None:
    # Widths 1 % of 50 Gy = 0.5 Gy.
    c = tps_curve(tps(dose_units="RELATIVE", widths=np.full(4, 1.0)), prescription_gy=50.0)
    d = c.dvh
    assert d is not None
    assert d.max_gy == pytest.approx(2.0, abs=1e-12)
    assert d.mean_gy == pytest.approx(MEAN, abs=1e-12)
    assert has(c.findings, "RELATIVE", "prescription, 50 Gy")


def test_relative_without_a_scale_is_unreadable() -> None:
    c = tps_curve(tps(dose_units="RELATIVE", widths=np.full(4, 1.0)))
    assert c.dvh is None
    assert "RELATIVE" in c.unreadable and "DVHNormalizationDoseValue" in c.unreadable


def test_cgy_is_read_as_centigray_with_a_finding() -> None:
    c = tps_curve(tps(dose_units="CGY", widths=np.full(4, 50.0)))
    d = c.dvh
    assert d is not None
    assert d.max_gy == pytest.approx(2.0, abs=1e-12)
    assert d.mean_gy == pytest.approx(MEAN, abs=1e-12)
    assert has(c.findings, "CGY", "centigray")


def test_unknown_dose_units_are_unreadable() -> None:
    c = tps_curve(tps(dose_units="MGY"))
    assert c.dvh is None and "'MGY'" in c.unreadable


def test_percent_volumes_scaled_to_the_given_volume() -> None:
    c = tps_curve(
        tps(volume_units="PERCENT", values=np.array([100.0, 80.0, 40.0, 10.0])), volume_cc=20.0
    )
    d = c.dvh
    assert d is not None
    assert not c.volume_known
    assert d.volume_cc == pytest.approx(20.0, abs=1e-12)
    assert d.volume_at_dose(0.5) == pytest.approx(16.0, abs=1e-12)
    assert d.volume_at_dose(1.5) == pytest.approx(2.0, abs=1e-12)
    assert d.mean_gy == pytest.approx(MEAN, abs=1e-12)  # shape unchanged
    assert has(c.findings, "PERCENT", "20.000 cc")


def test_percent_volumes_without_a_volume_are_unreadable() -> None:
    for volume in (None, 0.0):
        c = tps_curve(tps(volume_units="PERCENT"), volume_cc=volume)
        assert c.dvh is None and "PERCENT" in c.unreadable


def test_natural_and_per_u_are_unreadable() -> None:
    natural = tps_curve(tps(dvh_type="NATURAL"))
    assert natural.dvh is None and "NATURAL" in natural.unreadable
    per_u = tps_curve(tps(volume_units="PER_U"))
    assert per_u.dvh is None and "PER_U" in per_u.unreadable


@pytest.mark.parametrize(
    ("widths", "values", "why"),
    [
        (np.zeros(0), np.zeros(0), "empty"),
        (np.array([0.5, np.nan]), np.array([1.0, 0.0]), "not finite"),
        (np.array([0.5, -0.5]), np.array([1.0, 0.0]), "negative bin widths"),
        (np.array([0.5, 0.5]), np.array([0.0, 0.0]), "no volume"),
    ],
)
def test_broken_data_are_unreadable(widths: np.ndarray, values: np.ndarray, why: str) -> None:
    c = tps_curve(tps(widths=widths, values=values))
    assert c.dvh is None and why in c.unreadable


def test_declared_bins_contradicting_the_data() -> None:
    c = tps_curve(tps(declared_bins=65))
    assert c.dvh is not None
    assert has(c.findings, "DVHNumberOfBins", "65", "holds 4")
    assert not has(tps_curve(tps()).findings, "DVHNumberOfBins")


def test_odd_data_length_is_a_finding() -> None:
    c = tps_curve(tps(odd_data_length=True))
    assert c.dvh is not None and c.dvh.volume_cc == 10.0
    assert has(c.findings, "odd number of values (9)", "dropped")


def test_rising_cumulative_is_read_as_its_running_minimum() -> None:
    c = tps_curve(tps(values=np.array([10.0, 8.0, 9.0, 1.0])))
    d = c.dvh
    assert d is not None
    np.testing.assert_allclose(d.cumulative_cc[:4], [10.0, 8.0, 8.0, 1.0])
    # Bins hold 2, 0, 7, 1 cc: mean (2 × .25 + 7 × 1.25 + 1.75) / 10.
    assert d.mean_gy == pytest.approx((0.5 + 8.75 + 1.75) / 10, abs=1e-12)
    assert has(c.findings, "rises in 1 bin(s)", "by up to 1", "running minimum")


def test_non_uniform_widths_resampled_exact_at_written_edges() -> None:
    widths = np.array([0.5, 1.0, 0.25, 0.25, 0.5])
    values = np.array([10.0, 8.0, 4.0, 2.0, 1.0])
    c = tps_curve(tps(widths=widths, values=values))
    d = c.dvh
    assert d is not None
    assert d.bin_width_gy == pytest.approx(0.25, abs=1e-12)
    edges = np.concatenate([[0.0], np.cumsum(widths)])  # 0, .5, 1.5, 1.75, 2, 2.5
    for e, v in zip(edges[:-1], values, strict=True):
        assert d.volume_at_dose(float(e)) == pytest.approx(v, abs=1e-12)
    # Linear between written edges: halfway through the 1 Gy bin.
    assert d.volume_at_dose(1.0) == pytest.approx(6.0, abs=1e-12)
    assert d.max_gy == 2.5 and d.min_gy == 0.0
    in_bin = np.array([2.0, 4.0, 2.0, 1.0, 1.0])
    centres = (edges[:-1] + edges[1:]) / 2
    assert d.mean_gy == pytest.approx(float(in_bin @ centres) / 10.0, abs=1e-12)
    assert has(c.findings, "bin widths vary from 0.25 to 1", "resampled")
    assert c.bin_width_gy == 1.0


def test_truncated_curve() -> None:
    # 20 bins of 0.5 Gy, 2 cc still at or above the last lower edge (9.5 Gy).
    values = np.linspace(20.0, 2.0, 20)
    c = tps_curve(tps(widths=np.full(20, 0.5), values=values))
    assert c.truncated_at_gy == 10.0
    assert has(c.findings, "(9.5–10 Gy)", "2 cc", "cut off")
    # A tail below 1e-3 of the volume is not a truncation.
    values[-1] = 0.009
    assert tps_curve(tps(widths=np.full(20, 0.5), values=values)).truncated_at_gy is None


# ------------------------------------------------------------------ header statistics


def ended(**kw: object) -> TpsDVH:
    """The plain item with a zero last bin (so not truncated): max 1.5 Gy."""
    return tps(values=np.array([10.0, 8.0, 4.0, 0.0]), **kw)


# 10, 8, 4, 0: bins hold 2, 4, 4 cc: mean (.5 + 3 + 5) / 10 = 0.85, max 1.5, min 0.
def test_header_statistics_in_gy_are_not_a_finding() -> None:
    c = tps_curve(ended(minimum_dose=0.0, mean_dose=0.85, maximum_dose=1.5), prescription_gy=2.0)
    assert c.dvh is not None
    assert (c.dvh.max_gy, c.dvh.mean_gy) == (1.5, pytest.approx(0.85, abs=1e-12))
    assert c.findings == ()


def test_header_statistics_in_per_cent_of_the_prescription() -> None:
    # Eclipse: 75 % of 2 Gy is the curve's 1.5 Gy maximum; the mean 42.5 % is 0.85 Gy.
    c = tps_curve(ended(mean_dose=42.5, maximum_dose=75.0), prescription_gy=2.0)
    assert has(c.findings, "per cent of the prescription (2 Gy)", "DVHMaximumDose 75", "1.5 Gy")
    assert not has(c.findings, "more than 5 %")
    # Without a prescription the same header contradicts the curve.
    alone = tps_curve(ended(maximum_dose=75.0))
    assert has(alone.findings, "DVHMaximumDose", "75", "neither in Gy nor in per cent")


def test_header_statistics_contradicting_the_curve() -> None:
    # 300 Gy, or 6 Gy as per cent of 2 Gy: both more than 3 bins (1.5 Gy) off the 1.5 Gy.
    c = tps_curve(ended(maximum_dose=300.0), prescription_gy=2.0)
    assert has(c.findings, "DVHMaximumDose (3004,0072) 300", "1.5 Gy", "neither")
    # Maximum in Gy, but the mean more than 3 bins off the curve's.
    mean_off = tps_curve(ended(maximum_dose=1.5, mean_dose=2.5))
    assert has(mean_off.findings, "DVHMeanDose", "2.5 Gy", "0.85 Gy", "more than 5 %")


def test_course_factor_scales_the_dose_axis() -> None:
    c = tps_curve(ended(course_factor=5.0, maximum_dose=1.5))
    d = c.dvh
    assert d is not None
    assert d.max_gy == pytest.approx(7.5, abs=1e-12)
    assert d.mean_gy == pytest.approx(5 * 0.85, abs=1e-12)
    assert d.volume_at_dose(2.5) == pytest.approx(8.0, abs=1e-12)
    assert c.bin_width_gy == 2.5
    assert has(c.findings, "5 × the file's values", "scaled alike")
    # The header's 1.5 Gy per fraction is the curve's 7.5 Gy: no contradiction.
    assert not has(c.findings, "DVHMaximumDose")


# ------------------------------------------------------------------ property


@settings(max_examples=200, deadline=None)
@given(
    width=st.sampled_from([0.01, 0.1, 0.25, 0.5, 1.0, 2.0]),
    steps=st.lists(st.floats(0.0, 50.0), min_size=1, max_size=60),
    top=st.floats(0.01, 1000.0),
)
def test_uniform_cumulative_property(width: float, steps: list[float], top: float) -> None:
    # A non-increasing cumulative curve: the top value minus a running sum of drops.
    drops = np.concatenate([[0.0], np.asarray(steps[:-1])])
    values = np.clip(top - np.cumsum(drops), 0.0, None)
    c = tps_curve(tps(widths=np.full(values.size, width), values=values))
    d = c.dvh
    assert d is not None
    assert d.volume_cc == values[0]
    assert d.min_gy <= d.mean_gy + 1e-9 and d.mean_gy <= d.max_gy + 1e-9
    # Bins holding less than 1e-9 cc are noise to the reader (not where the minimum
    # is), so below the first real bin the curve may keep up to that much per bin.
    noise = 1e-9 * (values.size + 1)
    for i, v in enumerate(values):
        assert d.volume_at_dose(i * width) == pytest.approx(v, rel=1e-9, abs=noise)


def test_uniform_curve_reaches_the_last_bins_upper_edge() -> None:
    # The last bin [1.5, 2) holds 1 cc: the curve falls linearly to 0 at 2 Gy, as the
    # statistics (max 2 Gy) and the non-uniform reading assume, not to 0 just above 1.5.
    d = tps_curve(tps()).dvh
    assert d is not None
    assert d.volume_at_dose(1.75) == pytest.approx(0.5, abs=1e-12)
    assert d.dose_at_volume(0.5) == pytest.approx(1.75, abs=1e-12)
    assert d.dose_edges_gy[-1] == 2.0 and d.cumulative_cc[-1] == 0.0
    # The same written curve with one bin split in two reads alike in the last bin.
    split = tps_curve(
        tps(widths=np.array([0.5, 0.25, 0.25, 0.5, 0.5]), values=np.array([10, 8, 6, 4, 1.0]))
    ).dvh
    assert split is not None
    assert split.volume_at_dose(1.75) == pytest.approx(d.volume_at_dose(1.75), abs=1e-12)


def test_differential_last_bin_is_not_a_truncation() -> None:
    # A differential bin holds its volume within the bin: the last bin's 1 cc lies in
    # [1.5, 2) Gy, so nothing receives 2 Gy (unlike the cumulative 10, 8, 4, 1).
    c = tps_curve(tps(dvh_type="DIFFERENTIAL", values=np.array([2.0, 4.0, 3.0, 1.0])))
    assert c.truncated_at_gy is None
    assert not has(c.findings, "truncated")


def test_header_per_cent_of_the_prescription_with_a_course_factor() -> None:
    # A dose per fraction × 5: curve max 7.5 Gy of the course; the header's 75 % of the
    # 10 Gy course prescription is that 7.5 Gy (a ratio does not scale with fractions).
    c = tps_curve(ended(course_factor=5.0, maximum_dose=75.0), prescription_gy=10.0)
    assert has(c.findings, "per cent of the prescription (10 Gy)", "75 is 7.5 Gy")
    assert not has(c.findings, "neither")


def test_header_per_cent_of_the_prescription_with_relative_doses() -> None:
    # RELATIVE widths: 5 % of a 10 Gy normalisation = 0.5 Gy. Header max 75 % of the
    # 2 Gy prescription = 1.5 Gy, the curve's maximum.
    c = tps_curve(
        ended(
            dose_units="RELATIVE",
            widths=np.full(4, 5.0),
            normalization_dose=10.0,
            maximum_dose=75.0,
        ),
        prescription_gy=2.0,
    )
    assert c.dvh is not None and c.dvh.max_gy == pytest.approx(1.5, abs=1e-12)
    assert has(c.findings, "per cent of the prescription (2 Gy)", "75 is 1.5 Gy")


def test_all_zero_bin_widths_are_unreadable_not_a_crash() -> None:
    c = tps_curve(tps(widths=np.zeros(4)))
    assert c.dvh is None
    assert "DVHData" in c.unreadable and "zero" in c.unreadable
