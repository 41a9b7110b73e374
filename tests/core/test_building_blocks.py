"""Unit tests of the numerical core's building blocks, against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

from dosecheck.core.dvh import DVH
from dosecheck.core.histogram import accumulate_segments
from dosecheck.core.rasterise import SampleGrid, even_odd_areas, polygon_areas, rasterise
from dosecheck.errors import MetricDomainError


def square(x0: float, y0: float, size: float) -> np.ndarray:
    return np.array([[x0, y0], [x0 + size, y0], [x0 + size, y0 + size], [x0, y0 + size]])


def pack(polys: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    xy = np.concatenate(polys)
    offsets = np.concatenate([[0], np.cumsum([len(p) for p in polys])]).astype(np.int64)
    return xy, offsets


GRID = SampleGrid(x0=0.0, y0=0.0, sx=1.0, sy=1.0)  # sample centres at 0.5, 1.5, ...


def test_rasterise_square_counts_centres_inside() -> None:
    xy, off = pack([square(0.0, 0.0, 4.0)])
    s = rasterise(xy, off, np.array([0]), GRID)
    assert s.col.size == 16
    assert set(zip(s.col.tolist(), s.row.tolist(), strict=True)) == {
        (c, r) for c in range(4) for r in range(4)
    }


def test_rasterise_hole_and_island_even_odd() -> None:
    outer = square(0.0, 0.0, 10.0)
    hole = square(2.0, 2.0, 4.0)[::-1]  # orientation must not matter
    island = square(20.0, 0.0, 3.0)
    xy, off = pack([outer, hole, island])
    s = rasterise(xy, off, np.array([0, 0, 0]), GRID)
    assert s.col.size == 100 - 16 + 9
    inside_hole = (s.col >= 2) & (s.col < 6) & (s.row >= 2) & (s.row < 6)
    assert not inside_hole.any()


def test_rasterise_separates_planes() -> None:
    xy, off = pack([square(0.0, 0.0, 2.0), square(0.0, 0.0, 2.0)])
    s = rasterise(xy, off, np.array([0, 1]), GRID)
    assert np.bincount(s.plane).tolist() == [4, 4]


def test_even_odd_areas_nested_three_levels() -> None:
    outer = square(0.0, 0.0, 10.0)
    hole = square(1.0, 1.0, 8.0)
    inner_island = square(3.0, 3.0, 2.0)
    other_plane = square(0.0, 0.0, 1.0)
    xy, off = pack([outer, hole, inner_island, other_plane])
    area, sign = even_odd_areas(xy, off, np.array([0, 0, 0, 1]), 2)
    assert area.tolist() == pytest.approx([100 - 64 + 4, 1.0])
    assert sign.tolist() == [1, -1, 1, 1]


def test_polygon_areas_shoelace() -> None:
    tri = np.array([[0.0, 0.0], [4.0, 0.0], [0.0, 3.0]])
    xy, off = pack([tri, square(0, 0, 2)])
    assert polygon_areas(xy, off).tolist() == pytest.approx([6.0, 4.0])


def test_accumulate_uniform_segment_is_linear_between_its_ends() -> None:
    # 2 cc spread uniformly over 1.0-3.0 Gy: F(d) = (d - 1) for 1 <= d <= 3.
    f = accumulate_segments(np.array([1.0]), np.array([3.0]), np.array([2.0]), 0.5, 10)
    assert f.tolist() == pytest.approx([0, 0, 0, 0.5, 1.0, 1.5, 2.0, 2.0, 2.0, 2.0])


def test_accumulate_segment_with_fractional_ends() -> None:
    f = accumulate_segments(np.array([0.25]), np.array([1.75]), np.array([3.0]), 1.0, 4)
    # F(1) = 3 * (1 - 0.25) / 1.5 = 1.5 ; F(2) = 3
    assert f.tolist() == pytest.approx([0.0, 1.5, 3.0, 3.0])


def test_accumulate_point_mass_lands_on_next_edge() -> None:
    f = accumulate_segments(
        np.array([2.0, 0.3]), np.array([2.0, 0.3]), np.array([1.0, 4.0]), 1.0, 5
    )
    # dose exactly on an edge still counts as "at least" that dose: below 2.0 excludes it.
    assert f.tolist() == pytest.approx([0.0, 4.0, 4.0, 5.0, 5.0])


def uniform_dvh(total: float = 100.0, dmax: float = 50.0) -> DVH:
    """Dose uniformly distributed over 0..dmax: V(d) = total * (1 - d / dmax)."""
    edges = np.arange(0, dmax + 0.01 + 1e-9, 0.01)
    return DVH(
        dose_edges_gy=edges,
        cumulative_cc=np.clip(total * (1 - edges / dmax), 0, None),
        volume_cc=total,
        min_gy=0.0,
        mean_gy=dmax / 2,
        max_gy=dmax,
        name="uniform",
    )


def test_dvh_reads_volume_and_dose_metrics() -> None:
    d = uniform_dvh()
    assert d.volume_at_dose(30.0) == pytest.approx(40.0)
    assert d.volume_percent_at_dose(45.0) == pytest.approx(10.0)
    assert d.dose_at_volume(40.0) == pytest.approx(30.0)
    assert d.dose_at_volume_percent(95) == pytest.approx(2.5)
    assert d.complement_volume_at_dose(30.0) == pytest.approx(60.0)
    assert d.complement_dose_at_volume(60.0) == pytest.approx(30.0)
    assert d.dose_at_volume(100.0) == 0.0
    assert d.dose_at_volume(0.0) == 50.0


def test_dvh_refuses_volume_larger_than_structure() -> None:
    with pytest.raises(MetricDomainError, match=r"D150cc is undefined.*100\.000 cc"):
        uniform_dvh().dose_at_volume(150.0)


def test_empty_dvh_metrics_are_domain_errors() -> None:
    with pytest.raises(MetricDomainError, match="no volume inside the dose grid"):
        DVH.empty(name="x").volume_at_dose(1.0)


def test_engine_refuses_absurd_contour_coordinates() -> None:
    from dosecheck.core.engine import compute_dvh
    from dosecheck.model import DoseGrid, Structure

    x = np.arange(-10.0, 11.0, 2.0)
    grid = DoseGrid(x, x, x, np.ones((x.size,) * 3, dtype=np.float32))
    bad = square(-5.0, -5.0, 10.0)
    bad[2, 1] = 1e30
    s = Structure.from_contours(1, "Spike", [(0.0, bad), (2.0, square(-5, -5, 10))])
    with pytest.raises(ValueError, match=r"Spike: contour coordinates must be finite"):
        compute_dvh(s, grid)
