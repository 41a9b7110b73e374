"""unique_values and median give NumPy's values (they exist to skip importing numpy.ma)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from dosecheck.core.arrays import median, unique_values

finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)


@given(
    arrays(
        np.float64, st.integers(0, 60), elements=st.sampled_from([0.0, -2.5, 3.0, 1e-9]) | finite
    )
)
def test_unique_values_is_np_unique(a: np.ndarray) -> None:
    np.testing.assert_array_equal(unique_values(a), np.unique(a))


@given(arrays(np.float64, st.integers(1, 60), elements=finite))
def test_median_is_np_median(a: np.ndarray) -> None:
    assert median(a) == float(np.median(a))


def test_median_of_nothing_refused() -> None:
    with pytest.raises(ValueError, match="empty"):
        median(np.zeros(0))


def test_a_check_does_not_import_numpy_ma() -> None:
    plan = Path(__file__).resolve().parents[2] / "sample_plans" / "long_course_pass"
    code = (
        "import sys\n"
        "from dosecheck.api import check_plan, load_plan\n"
        f"check_plan(load_plan({str(plan)!r}), 'rectum-long-course')\n"
        "print('numpy.ma' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
