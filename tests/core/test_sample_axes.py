"""Where samples fall along a dose-grid axis: the one-sample-per-voxel shortcut of
axis_from_samples gives exactly what the general table gives."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from dosecheck.core.dose_field import Axis, axis_from_samples, axis_from_u


def _by_table(m: np.ndarray, num: int, den: int, n: int) -> Axis:
    m0 = int(m.min())
    table = axis_from_u((np.arange(m0, int(m.max()) + 1) + 0.5) * num / den - 0.5, n)
    return Axis(*(getattr(table, f).take(m - m0) for f in Axis.__dataclass_fields__))


@given(
    n=st.integers(min_value=1, max_value=40),
    data=st.data(),
)
def test_voxel_centred_samples_match_the_table(n, data):
    m = np.array(
        data.draw(st.lists(st.integers(min_value=-3, max_value=n + 3), min_size=1, max_size=60)),
        dtype=np.int64,
    )
    fast, table = axis_from_samples(m, 1, 1, n), _by_table(m, 1, 1, n)
    for field in Axis.__dataclass_fields__:
        a, b = getattr(fast, field), getattr(table, field)
        assert a.dtype == b.dtype, field
        assert np.array_equal(a, b), field


def test_last_voxel_weights_the_upper_neighbour_fully():
    ax = axis_from_samples(np.array([0, 3, 4]), 1, 1, 5)
    assert ax.i0.tolist() == [0, 3, 3]
    assert ax.w.tolist() == [0.0, 0.0, 1.0]
    assert ax.nearest.tolist() == [0, 3, 4]
    assert ax.core.all() and ax.inside.all()


def test_finer_samples_use_the_table():
    # k = 2: sample m sits at voxel index (m + 0.5) / 2 - 0.5
    ax = axis_from_samples(np.array([0, 1, 2, 3]), 1, 2, 2)
    assert ax.i0.tolist() == [0, 0, 0, 0]
    assert ax.w.tolist() == [0.0, 0.25, 0.75, 1.0]
    assert ax.core.tolist() == [False, True, True, False]
