"""The closed forms of the box plans (:mod:`tests.helpers.plans`), and the DVH engine
against them through the DICOM writer and loader."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.plans import (
    BOWEL_BOX,
    BOWEL_CC,
    LONG_BOWEL_FAIL,
    LONG_BOWEL_PASS,
    LONG_PTV_FAIL,
    LONG_PTV_PASS,
    PTV_BOX,
    PTV_CC,
    SHORT_BOWEL_FAIL,
    SHORT_BOWEL_PASS,
    SHORT_PTV_FAIL,
    SHORT_PTV_PASS,
    v_cc,
    write_plan,
)


def test_closed_forms() -> None:
    assert BOWEL_CC == pytest.approx(680.0)
    assert PTV_CC == pytest.approx(68.0)
    assert v_cc(LONG_BOWEL_PASS, 30.0, BOWEL_BOX) == pytest.approx(306.0)
    assert v_cc(LONG_BOWEL_PASS, 45.0, BOWEL_BOX) == pytest.approx(51.0)
    assert v_cc(LONG_BOWEL_FAIL, 30.0, BOWEL_BOX) == pytest.approx(552.5)
    assert v_cc(LONG_BOWEL_FAIL, 45.0, BOWEL_BOX) == pytest.approx(340.0)
    assert 100 * LONG_PTV_PASS.v_fraction(47.88, PTV_BOX) == pytest.approx(95.5)
    assert 100 * LONG_PTV_FAIL.v_fraction(47.88, PTV_BOX) == pytest.approx(82.4)
    assert 100 * LONG_PTV_PASS.d_fraction(0.02, PTV_BOX) / 50.4 == pytest.approx(102.4206, abs=1e-4)
    assert v_cc(SHORT_BOWEL_PASS, 18.5, BOWEL_BOX) == pytest.approx(191.25)
    assert v_cc(SHORT_BOWEL_PASS, 22.0, BOWEL_BOX) == pytest.approx(42.5)
    assert v_cc(SHORT_BOWEL_FAIL, 18.5, BOWEL_BOX) == pytest.approx(398.4375)
    assert v_cc(SHORT_BOWEL_FAIL, 22.0, BOWEL_BOX) == pytest.approx(212.5)
    assert 100 * SHORT_PTV_PASS.v_fraction(23.75, PTV_BOX) == pytest.approx(97.5)
    assert 100 * SHORT_PTV_FAIL.v_fraction(23.75, PTV_BOX) == pytest.approx(58.3333, abs=1e-4)


def test_engine_matches_closed_forms_through_dicom(tmp_path: Path) -> None:
    """The written and re-read plan gives the closed-form volumes (< 0.25 cc off)."""
    from dosecheck.api import compute_dvhs, load_plan

    folder = write_plan(tmp_path / "p", LONG_BOWEL_FAIL, LONG_PTV_PASS)
    plan = load_plan(folder)
    assert plan.plan_info is not None
    assert plan.plan_info.prescription_gy == pytest.approx(50.4)
    assert plan.plan_info.fractions == 28
    by_name = {i.structure.name: i.dvh for i in compute_dvhs(plan, ["BowelBag", "PTV"])}
    bowel, ptv = by_name["BowelBag"], by_name["PTV"]
    assert bowel.volume_cc == pytest.approx(BOWEL_CC, abs=0.05)
    assert ptv.volume_cc == pytest.approx(PTV_CC, abs=0.01)
    for t in (30.0, 45.0):
        expected = v_cc(LONG_BOWEL_FAIL, t, BOWEL_BOX)
        assert bowel.volume_at_dose(t) == pytest.approx(expected, abs=0.25)
    assert ptv.volume_percent_at_dose(47.88) == pytest.approx(95.5, abs=0.05)
