"""dosecheck's DVH beside a TPS's: differences, tolerances and the explanations.

Each synthetic case is built to show one cause (end caps, the dose grid's extent, a
structure of few voxels, surface extremes, volume-relative metrics, a truncated TPS
curve); the figures are closed-form. Explanations are checked for their key facts,
not as whole strings.
"""

from __future__ import annotations

import numpy as np
import pytest

from dosecheck.core.dvh import DVH
from dosecheck.core.engine import compute_dvh
from dosecheck.core.reconcile import (
    TpsTolerances,
    compare_with_tps,
    end_cap_volume_cc,
    subtract_dvhs,
)
from dosecheck.core.tps_dvh import TpsCurve, TpsDVH, tps_curve
from dosecheck.model import DoseGrid, Structure

STEP = 0.01


def spread(*parts: tuple[float, float, float], outside: float = 0.0, name: str = "") -> DVH:
    """A DVH of ``(volume, low, high)`` parts, each spread uniformly over [low, high] Gy.

    A part with ``low == high`` is all at that dose. Doses are multiples of ``STEP``.
    """
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
        outside_grid_cc=outside,
        name=name,
    )


def as_tps(d: DVH, **kw: object) -> TpsCurve:
    return TpsCurve(dvh=d, bin_width_gy=STEP, **kw)  # type: ignore[arg-type]


def has(sentences: tuple[str, ...], *words: str) -> bool:
    return any(all(w in s for w in words) for s in sentences)


def not_explained(sentences: tuple[str, ...]) -> str:
    return next((s for s in sentences if s.startswith("not explained")), "")


SQUARE = np.array([[0.0, 0.0], [20.0, 0.0], [20.0, 20.0], [0.0, 20.0]])


def square_box(planes: list[float], square: np.ndarray = SQUARE) -> Structure:
    return Structure.from_contours(1, "Box", [(float(z), square) for z in planes])


# ----------------------------------------------------------------------- end caps


@pytest.fixture(scope="module")
def box_and_dvh() -> tuple[Structure, DVH]:
    """20 × 20 mm on 5 planes 5 mm apart in 10 Gy: 4 cm² × 2.5 cm = 10 cc (half-slice)."""
    s = square_box([0.0, 5.0, 10.0, 15.0, 20.0])
    x = np.arange(-10.0, 30.1, 2.5)
    grid = DoseGrid(x=x, y=x, z=x, dose_gy=np.full((x.size,) * 3, 10.0))
    d = compute_dvh(s, grid, slice_thickness_mm=5.0)
    return s, d


def test_engine_box_is_ten_cc_with_two_cc_of_caps(box_and_dvh: tuple[Structure, DVH]) -> None:
    s, d = box_and_dvh
    assert d.volume_cc == pytest.approx(10.0, abs=1e-9)
    assert (d.min_gy, d.mean_gy, d.max_gy) == pytest.approx((10.0, 10.0, 10.0))
    assert end_cap_volume_cc(s, 5.0) == pytest.approx(2.0, abs=1e-12)


def test_end_caps_account_for_the_volume_difference(box_and_dvh: tuple[Structure, DVH]) -> None:
    s, ours = box_and_dvh
    c = compare_with_tps(
        ours, as_tps(spread((8.0, 10.0, 10.0))), structure=s, end_cap_spacing_mm=5.0
    )
    assert c is not None
    assert c.volume_cc == pytest.approx(2.0, abs=1e-9)
    assert c.volume_pct == pytest.approx(25.0, abs=1e-7)
    assert c.beyond_tolerance == ("volume",)
    assert not c.agree
    assert has(c.explanations, "end caps add 2 cc", "half of 5 mm", "would be 8 cc", "+0.0 %")
    assert has(c.explanations, "the end caps account for the volume difference")
    assert not not_explained(c.explanations)
    assert c.mean_gy == pytest.approx(0.0, abs=1e-9)
    assert all(v == pytest.approx(0.0, abs=1e-6) for v in c.dose_metrics_gy.values())


def test_end_caps_that_do_not_account(box_and_dvh: tuple[Structure, DVH]) -> None:
    s, ours = box_and_dvh
    c = compare_with_tps(
        ours, as_tps(spread((9.0, 10.0, 10.0))), structure=s, end_cap_spacing_mm=5.0
    )
    assert c is not None
    assert c.volume_cc == pytest.approx(1.0, abs=1e-9)
    # Without caps 8 cc: 11.1 % below the TPS's 9 cc, beyond 3 %.
    assert has(c.explanations, "would be 8 cc", "-11.1 %", "do not account")
    assert "volume +11.1 %" in not_explained(c.explanations)


def test_end_caps_none_adds_the_caps_it_left_out(box_and_dvh: tuple[Structure, DVH]) -> None:
    # dosecheck computed without end caps (8 cc); the TPS's 10 cc has half-slice caps.
    s, _ = box_and_dvh
    ours = spread((8.0, 10.0, 10.0))
    c = compare_with_tps(
        ours,
        as_tps(spread((10.0, 10.0, 10.0))),
        structure=s,
        end_cap_spacing_mm=5.0,
        end_caps="none",
    )
    assert c is not None and c.volume_cc == pytest.approx(-2.0, abs=1e-9)
    assert has(c.explanations, "no end caps here", "would add 2 cc", "giving 10 cc", "+0.0 %")
    assert has(c.explanations, "the end caps account for the volume difference")
    assert not has(c.explanations, "would be 6 cc")  # not the caps removed a second time
    assert not not_explained(c.explanations)


def test_end_caps_shape_says_nothing_about_slabs(box_and_dvh: tuple[Structure, DVH]) -> None:
    s, ours = box_and_dvh
    c = compare_with_tps(
        ours,
        as_tps(spread((8.0, 10.0, 10.0))),
        structure=s,
        end_cap_spacing_mm=5.0,
        end_caps="shape",
    )
    assert c is not None
    assert not has(c.explanations, "end caps add") and not has(c.explanations, "would add")
    assert "volume +25.0 %" in not_explained(c.explanations)


def test_no_end_cap_sentence_without_the_structure(box_and_dvh: tuple[Structure, DVH]) -> None:
    _, ours = box_and_dvh
    c = compare_with_tps(ours, as_tps(spread((8.0, 10.0, 10.0))))
    assert c is not None
    assert not has(c.explanations, "end caps")
    assert "volume +25.0 %" in not_explained(c.explanations)


# ----------------------------------------------------------------------- outside the grid


def test_tps_counts_the_whole_roi_outside_the_grid() -> None:
    # 4 cc of 10 lie outside the dose grid; the TPS's 10 cc is the whole ROI.
    ours = spread((6.0, 10.0, 10.0), outside=4.0)
    c = compare_with_tps(ours, as_tps(spread((10.0, 10.0, 10.0))))
    assert c is not None
    assert c.volume_cc == pytest.approx(-4.0) and c.volume_pct == pytest.approx(-40.0)
    assert has(c.explanations, "4 cc of the ROI lies outside", "6 cc inside", "(10 cc)")
    assert has(c.explanations, "TPS counts volume where it has no dose")
    assert c.beyond_tolerance == ("volume",)
    assert not not_explained(c.explanations)


def test_tps_counts_only_the_part_inside_the_grid() -> None:
    ours = spread((6.0, 10.0, 10.0), outside=4.0)
    c = compare_with_tps(ours, as_tps(spread((6.0, 10.0, 10.0))))
    assert c is not None and c.agree
    assert has(c.explanations, "4 cc of the ROI lies outside", "both count only the part inside")


# ----------------------------------------------------------------------- size in voxels


def test_structure_of_few_voxels() -> None:
    ours = spread((1.2, 10.0, 10.0))
    ref = as_tps(spread((1.0, 10.0, 10.0)))
    c = compare_with_tps(ours, ref, voxel_volume_cc=0.027)  # (3 mm)³: 1 cc is 37.0 voxels
    assert c is not None
    assert has(c.explanations, "only 37.0 dose voxels", "1 cc", "27 mm³")
    assert c.beyond_tolerance == ("volume",) and not not_explained(c.explanations)
    # 50 voxels or more: no sentence, and the volume difference is not explained.
    big = compare_with_tps(ours, ref, voxel_volume_cc=0.02)
    assert big is not None
    assert not has(big.explanations, "dose voxels")
    assert "volume +20.0 %" in not_explained(big.explanations)


# ----------------------------------------------------------------------- surface extremes


def test_surface_extremes_min_lower_max_higher() -> None:
    # Both 10 cc with mean 10 Gy; dosecheck's spread over 9–11 Gy, the TPS's 9.5–10.5.
    ours, ref = spread((10.0, 9.0, 11.0)), spread((10.0, 9.5, 10.5))
    c = compare_with_tps(ours, as_tps(ref))  # reference dose: the TPS's max, 10.5 Gy
    assert c is not None
    assert c.reference_dose_gy == 10.5
    assert (c.min_gy, c.max_gy) == pytest.approx((-0.5, 0.5))
    assert c.mean_gy == pytest.approx(0.0, abs=1e-9)
    assert has(c.explanations, "minimum 9.000 vs 9.500 Gy", "maximum 11.000 vs 10.500 Gy")
    # D0.03cc: 0.3 % of the volume, 11 − 0.006 vs 10.5 − 0.003 Gy.
    assert c.dose_metrics_gy["D0.03cc"] == pytest.approx(0.497, abs=1e-6)
    assert c.dose_metrics_gy["D2%"] == pytest.approx(0.48, abs=1e-6)
    assert c.dose_metrics_gy["D98%"] == pytest.approx(-0.48, abs=1e-6)
    assert c.dose_metrics_gy["D95%"] == pytest.approx(-0.45, abs=1e-6)
    assert c.dose_metrics_gy["D50%"] == pytest.approx(0.0, abs=1e-6)
    # Beyond 2 % of 10.5 Gy (0.21): all but D50 %; only the hot D0.03cc is the surface's.
    assert c.beyond_tolerance == ("D98%", "D95%", "D2%", "D0.03cc")
    left = not_explained(c.explanations)
    assert "D98% -0.480 Gy" in left and "D95% -0.450 Gy" in left and "D2% +0.480 Gy" in left
    # D0.03cc is a volume (0.3 % here), not a point of the surface: not explained by it.
    assert "D0.03cc +0.497 Gy" in left


def test_tps_range_beyond_dosecheck() -> None:
    c = compare_with_tps(spread((10.0, 9.5, 10.5)), as_tps(spread((10.0, 9.0, 11.0))))
    assert c is not None
    assert has(c.explanations, "TPS's range (9.000–11.000 Gy)", "dosecheck's (9.500–10.500 Gy)")
    assert not has(c.explanations, "including its surface")


# ----------------------------------------------------------------------- relative metrics


def test_volume_relative_metrics_differ_with_the_volume() -> None:
    # The TPS: 10 cc over 0–20 Gy. dosecheck: the same plus 5 cc at 10 Gy (mean 10 both).
    # D98 %: 15 − d/2 = 14.7 → 0.6 Gy vs 10 − d/2 = 9.8 → 0.4; D95 % 1.5 vs 1.0;
    # D2 %: (20 − d)/2 = 0.3 → 19.4 vs 0.2 → 19.6; D50 % 10 both.
    ours = spread((10.0, 0.0, 20.0), (5.0, 10.0, 10.0))
    c = compare_with_tps(ours, as_tps(spread((10.0, 0.0, 20.0))), prescription_gy=5.0)
    assert c is not None
    dm = c.dose_metrics_gy
    assert dm["D98%"] == pytest.approx(0.2, abs=1e-6)
    assert dm["D95%"] == pytest.approx(0.5, abs=1e-6)
    assert dm["D2%"] == pytest.approx(-0.2, abs=1e-6)
    assert dm["D50%"] == pytest.approx(0.0, abs=STEP)  # within the 10 Gy bin
    assert dm["D0.03cc"] == pytest.approx(0.0, abs=1e-6)
    assert c.mean_gy == pytest.approx(0.0, abs=1e-9)
    assert c.beyond_tolerance == ("volume", "D98%", "D95%", "D2%")
    # Read at the TPS's volume (2 % of 10 cc = 0.2 cc) dosecheck's D2% is the TPS's
    # 19.6 Gy: the volume explains it. Its D98 % and D95 % fall in the extra 5 cc at
    # 10 Gy, a real difference the volume does not explain.
    assert has(c.explanations, "D2% is read at per cent", "+50.0 %", "agrees with the TPS's")
    left = not_explained(c.explanations)
    assert left == "not explained by the above: volume +50.0 %, D98% +0.200 Gy, D95% +0.500 Gy"


# ----------------------------------------------------------------------- tolerances


def test_volume_tolerance_exactly_at_and_beyond() -> None:
    ref = as_tps(spread((100.0, 10.0, 10.0)))
    at = compare_with_tps(spread((103.0, 10.0, 10.0)), ref)  # 3 % of 100 cc
    assert at is not None and at.agree and at.beyond_tolerance == ()
    beyond = compare_with_tps(spread((103.01, 10.0, 10.0)), ref)
    assert beyond is not None and beyond.beyond_tolerance == ("volume",)
    # Small structures: 0.05 cc absolute.
    small = as_tps(spread((1.0, 10.0, 10.0)))
    ok = compare_with_tps(spread((1.04, 10.0, 10.0)), small)
    assert ok is not None and ok.agree
    off = compare_with_tps(spread((1.0625, 10.0, 10.0)), small)
    assert off is not None and off.beyond_tolerance == ("volume",)


def test_dose_tolerance_exactly_at_and_beyond() -> None:
    # 2 % of a 50 Gy prescription = 1 Gy.
    ref = as_tps(spread((10.0, 10.0, 10.0)))
    at = compare_with_tps(spread((10.0, 11.0, 11.0)), ref, prescription_gy=50.0)
    assert at is not None
    assert at.mean_gy == 1.0 and at.dose_metrics_gy["D50%"] == pytest.approx(1.0, abs=1e-12)
    assert at.agree
    beyond = compare_with_tps(spread((10.0, 11.01, 11.01)), ref, prescription_gy=50.0)
    assert beyond is not None and not beyond.agree
    assert beyond.beyond_tolerance == ("mean", "D98%", "D95%", "D50%", "D2%", "D0.03cc")
    # Without a prescription: 2 % of the TPS's 10 Gy max = 0.2 Gy; the 0.05 Gy floor.
    assert compare_with_tps(spread((10.0, 10.2, 10.2)), ref).agree  # type: ignore[union-attr]
    low = as_tps(spread((10.0, 1.0, 1.0)))
    assert compare_with_tps(spread((10.0, 1.04, 1.04)), low).agree  # type: ignore[union-attr]
    assert not compare_with_tps(spread((10.0, 1.06, 1.06)), low).agree  # type: ignore[union-attr]


def test_dose_tolerance_widens_to_the_tps_bin_width() -> None:
    ref = TpsCurve(dvh=spread((10.0, 10.0, 10.0)), bin_width_gy=2.0)
    c = compare_with_tps(spread((10.0, 11.5, 11.5)), ref, prescription_gy=50.0)
    assert c is not None and c.agree
    tight = compare_with_tps(
        spread((10.0, 11.5, 11.5)), as_tps(spread((10.0, 10.0, 10.0))), prescription_gy=50.0
    )
    assert tight is not None and "mean" in tight.beyond_tolerance


def test_custom_tolerances_are_used_and_recorded() -> None:
    tol = TpsTolerances(volume_pct=30.0)
    c = compare_with_tps(
        spread((12.0, 10.0, 10.0)), as_tps(spread((10.0, 10.0, 10.0))), tolerances=tol
    )
    assert c is not None and c.agree
    assert c.to_dict()["tolerances"]["volume_pct"] == 30.0  # type: ignore[index]


# ----------------------------------------------------------------------- truncated curve


def truncated_pair() -> tuple[DVH, TpsCurve]:
    """26 bins of 0.5 Gy, 20 − 0.8 i cc (ends at 0); the TPS wrote only the first 20."""
    full = 20.0 - 0.8 * np.arange(26)

    def item(n: int) -> TpsDVH:
        return TpsDVH(
            item=1,
            rois=((1, "INCLUDED"),),
            dvh_type="CUMULATIVE",
            dose_units="GY",
            dose_type="PHYSICAL",
            volume_units="CM3",
            dose_scaling=1.0,
            declared_bins=n,
            widths=np.full(n, 0.5),
            values=full[:n].copy(),
        )

    ours = tps_curve(item(26)).dvh
    assert ours is not None
    return ours, tps_curve(item(20))


def test_truncated_tps_curve() -> None:
    ours, cut = truncated_pair()
    assert cut.truncated_at_gy == 10.0
    c = compare_with_tps(ours, cut)
    assert c is not None
    # D2 % (0.4 cc) and D0.03cc lie above 9.5 Gy (where the cut TPS curve ends): unknown.
    assert c.dose_metrics_gy["D2%"] is None and c.dose_metrics_gy["D0.03cc"] is None
    # D50 % = 10 cc: 6.25 Gy on both.
    assert c.dose_metrics_gy["D50%"] == pytest.approx(0.0, abs=1e-9)
    assert np.isnan(c.mean_gy) and np.isnan(c.max_gy)
    assert "mean" not in c.beyond_tolerance
    assert c.agree
    assert has(c.explanations, "(9.5–10 Gy)", "cut off")
    assert not has(c.explanations, "including its surface")
    d = c.to_dict()
    assert d["mean_gy"] is None and d["max_gy"] is None


# ----------------------------------------------------------------------- agreement


def test_identical_dvhs_agree() -> None:
    d = spread((10.0, 0.0, 20.0), (5.0, 10.0, 10.0))
    c = compare_with_tps(d, as_tps(d), prescription_gy=20.0)
    assert c is not None and c.agree and c.beyond_tolerance == ()
    assert c.volume_cc == 0.0 and c.mean_gy == 0.0
    assert c.max_curve_diff_pct == 0.0
    assert not has(c.explanations, "not explained")
    assert c.explanations == ()


def test_curve_difference_location() -> None:
    # 10 cc at 10 Gy vs 10 cc at 12 Gy: 100 % of the TPS's volume differs above 10 Gy.
    c = compare_with_tps(spread((10.0, 10.0, 10.0)), as_tps(spread((10.0, 12.0, 12.0))))
    assert c is not None
    assert c.max_curve_diff_pct == pytest.approx(-100.0)
    assert 10.0 < c.max_curve_diff_at_gy <= 12.0


def test_not_comparable_returns_none() -> None:
    d = spread((10.0, 10.0, 10.0))
    assert compare_with_tps(d, TpsCurve(dvh=None, unreadable="x")) is None
    assert compare_with_tps(DVH.empty(name="e"), as_tps(d)) is None


def test_percent_volumes_have_no_volume_difference() -> None:
    c = compare_with_tps(
        spread((12.0, 10.0, 10.0)), TpsCurve(dvh=spread((10.0, 10.0, 10.0)), volume_known=False)
    )
    assert c is not None
    assert c.volume_cc is None and c.volume_pct is None
    assert "volume" not in c.beyond_tolerance


def test_composition_and_findings_lead_the_explanations() -> None:
    d = spread((10.0, 10.0, 10.0))
    c = compare_with_tps(d, as_tps(d, findings=("f1",)), composition="made of A minus B")
    assert c is not None
    assert c.explanations[:2] == ("made of A minus B", "f1")


# ----------------------------------------------------------------------- subtract_dvhs


def test_subtract_dvhs_closed_form() -> None:
    left = subtract_dvhs(spread((10.0, 10.0, 10.0)), [spread((1.0, 10.0, 10.0))], name="A−B")
    assert left.volume_cc == pytest.approx(9.0)
    assert left.mean_gy == pytest.approx(10.0)
    assert left.volume_at_dose(10.0) == pytest.approx(9.0)
    assert left.name == "A−B"
    # 10 cc over 0–20 Gy and 2 cc at 15 Gy, minus the 2 cc: back to mean 10 Gy.
    left = subtract_dvhs(spread((10.0, 0.0, 20.0), (2.0, 15.0, 15.0)), [spread((2.0, 15.0, 15.0))])
    assert left.volume_cc == pytest.approx(10.0)
    assert left.mean_gy == pytest.approx(10.0)
    assert left.volume_at_dose(15.0) == pytest.approx(2.5, abs=1e-9)


def test_subtract_everything_is_empty() -> None:
    d = spread((1.0, 10.0, 10.0))
    left = subtract_dvhs(d, [d], name="none")
    assert left.is_empty and any("nothing left" in w for w in left.warnings)


# ----------------------------------------------------------------------- end_cap_volume_cc


def test_end_caps_of_runs_split_by_a_gap() -> None:
    # Runs 0–10 and 30–35 mm (20 mm > 1.5 × 5): 4 end planes × 4 cm² × 0.25 cm.
    s = square_box([0.0, 5.0, 10.0, 30.0, 35.0])
    assert end_cap_volume_cc(s, 5.0) == pytest.approx(4.0, abs=1e-12)
    # With a gap factor that joins them: one run, 2 cc.
    assert end_cap_volume_cc(s, 5.0, gap_factor=5.0) == pytest.approx(2.0, abs=1e-12)


def test_end_caps_of_a_single_plane_run() -> None:
    # A lone plane is all end cap: its whole 5 mm slab, 2 cc; the 0–10 run adds 2 cc.
    s = square_box([0.0, 5.0, 10.0, 40.0])
    assert end_cap_volume_cc(s, 5.0) == pytest.approx(4.0, abs=1e-12)
    assert end_cap_volume_cc(square_box([0.0]), 5.0) == pytest.approx(2.0, abs=1e-12)


def test_end_caps_use_each_end_planes_own_area() -> None:
    small = np.array([[0.0, 0.0], [10.0, 0.0], [10.0, 10.0], [0.0, 10.0]])
    big = np.array([[0.0, 0.0], [30.0, 0.0], [30.0, 30.0], [0.0, 30.0]])
    s = Structure.from_contours(1, "B", [(0.0, small), (5.0, SQUARE), (10.0, big)])
    assert end_cap_volume_cc(s, 5.0) == pytest.approx((1.0 + 9.0) * 0.25, abs=1e-12)


def test_end_caps_without_spacing_or_contours() -> None:
    s = square_box([0.0, 5.0])
    assert end_cap_volume_cc(s, None) == 0.0 and end_cap_volume_cc(s, 0.0) == 0.0
    assert end_cap_volume_cc(Structure.from_contours(1, "E", []), 5.0) == 0.0


def test_subtract_dvhs_removes_the_subtrahends_outside_volume() -> None:
    # A prostate 10 cc inside + 4 cc outside the grid, its urethra 1 cc inside + 1 cc
    # outside: the remainder is 9 cc inside and 3 cc outside.
    left = subtract_dvhs(
        spread((10.0, 10.0, 10.0), outside=4.0), [spread((1.0, 10.0, 10.0), outside=1.0)]
    )
    assert left.volume_cc == pytest.approx(9.0)
    assert left.outside_grid_cc == pytest.approx(3.0)


def test_few_voxels_do_not_explain_a_mean_difference() -> None:
    # A small ROI (37 voxels) whose doses differ throughout (10 vs 11 Gy uniform): the
    # size explains the volume and the tails, not a mean 1 Gy apart.
    ours = spread((1.2, 11.0, 11.0))
    ref = as_tps(spread((1.0, 10.0, 10.0)))
    c = compare_with_tps(ours, ref, voxel_volume_cc=0.027)
    assert c is not None
    assert has(c.explanations, "only 37.0 dose voxels")
    assert "mean" in c.beyond_tolerance
    left = not_explained(c.explanations)
    assert "mean +1.000 Gy" in left and "volume" not in left
