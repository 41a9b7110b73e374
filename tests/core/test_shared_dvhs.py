"""The loader's dose-scale DVHs are reused by the DVH step, never for another grid
(issue #11: work shared between steps is done once per plan)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from dosecheck.checking.dvh_cache import DVHCache
from dosecheck.core.dvh import DVH
from dosecheck.core.end_caps import EndCaps
from dosecheck.core.engine import EngineSettings, compute_dvh
from dosecheck.core.structures import compute_dvhs
from dosecheck.dicom.load import load_plan
from tests.helpers.dose_scale_plans import D0_FX, write_case


def _same(a: DVH, b: DVH) -> None:
    assert a.volume_cc == b.volume_cc
    np.testing.assert_array_equal(a.dose_edges_gy, b.dose_edges_gy)
    assert (a.min_gy, a.mean_gy, a.max_gy) == (b.min_gy, b.mean_gy, b.max_gy)
    np.testing.assert_array_equal(a.cumulative_cc, b.cumulative_cc)


def test_the_target_median_dvh_is_the_checks_dvh(tmp_path: Path) -> None:
    # No beam dose points: the scale is checked by the PTV's median, which needs its DVH.
    plan = load_plan(write_case(tmp_path, d0=75.6, label="PLAN"))
    assert plan.dose_scale is not None and plan.dose_scale.method == "target"
    shared = plan.shared_dvhs
    assert shared is not None and shared.grid is plan.dose
    ptv = plan.structure_set.structures[0]
    known = shared.known(ptv, plan.dose, None)
    assert known is not None and set(known) == {EndCaps.HALF_SLICE, EndCaps.NONE}
    # The box PTV (20 mm, planes every 2 mm from -9 to 9) in d(x) = 75.6 (1 + 0.01 x):
    # median 75.6 Gy; 20 x 20 x 20 mm with half-slice caps = 8.0 cc, without = 7.2 cc.
    assert known[EndCaps.HALF_SLICE].volume_cc == pytest.approx(8.0, rel=1e-3)
    assert known[EndCaps.NONE].volume_cc == pytest.approx(7.2, rel=1e-3)
    assert plan.dose_scale.measured_gy == pytest.approx(75.6, abs=0.02)

    # What the check and dvh get is what a fresh computation gives, bit for bit.
    fresh = compute_dvh(ptv, plan.dose, slice_thickness_mm=2.0)
    cache = DVHCache(plan, None)
    assert cache("PTV") is known[EndCaps.HALF_SLICE]  # reused, not recomputed
    _same(cache("PTV"), fresh)
    (item,) = compute_dvhs(plan, ["PTV"])
    assert item.dvh is known[EndCaps.HALF_SLICE]
    assert cache._field() is shared.field  # one prepared dose field for the plan


def test_other_settings_or_another_grid_are_computed_afresh(tmp_path: Path) -> None:
    plan = load_plan(write_case(tmp_path, d0=75.6, label="PLAN"))
    shared = plan.shared_dvhs
    assert shared is not None
    ptv = plan.structure_set.structures[0]
    coarse = EngineSettings(max_subdivisions=2)
    assert shared.known(ptv, plan.dose, coarse) is None
    assert shared.known(ptv, plan.dose, EngineSettings(end_caps=EndCaps.NONE)) is not None
    doubled = dataclasses.replace(plan.dose, dose_gy=plan.dose.dose_gy * np.float32(2))
    assert shared.known(ptv, doubled, None) is None
    # A plan whose dose was replaced after loading gets the new dose's DVH.
    other = dataclasses.replace(plan, dose=doubled)
    dvh = DVHCache(other, None)("PTV")
    assert dvh.dose_at_volume_percent(50.0) == pytest.approx(2 * 75.6, abs=0.04)


def test_a_scaled_dose_shares_nothing(tmp_path: Path) -> None:
    # A FRACTION dose is multiplied by the fraction count: the loader's DVHs were
    # computed on the file's values, not on the dose the check uses.
    plan = load_plan(write_case(tmp_path, d0=D0_FX, label="FRACTION"))
    assert plan.shared_dvhs is None
