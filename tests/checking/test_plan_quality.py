"""Plan-quality index constraints through check_plan: values against the closed forms of
:mod:`tests.helpers.plan_quality`, the body ROI's matching, and the loader's rules."""

from __future__ import annotations

from typing import Any

import pytest

from dosecheck.checking.check import check_plan
from dosecheck.checking.loader import load_constraint_set_text
from dosecheck.checking.model import Status
from dosecheck.errors import ConstraintFileError, InputError
from tests.helpers.plan_quality import (
    expected_ci,
    expected_cn,
    expected_gi,
    expected_hi,
    memory_plan,
)

SET = """
name: Plan quality
prescription: {dose_gy: 50, fractions: 25}
structures:
  - name: PTV
    constraints:
      - CN95%[] >= 0.5
      - CI95%[%] <= 1.2
      - CN45Gy[] >= 0.7
      - GI50%[%] <= 4
      - HI[] <= 0.4
"""
EXPECTED = [expected_cn(47.5), expected_ci(47.5), expected_cn(45.0), expected_gi(25.0)]


def _check(text: str = SET, **plan: Any):
    return check_plan(memory_plan(**plan), load_constraint_set_text(text))


def test_indices_match_the_closed_forms() -> None:
    report = _check()
    values = [r.value for r in report.results]
    assert values[:4] == pytest.approx(EXPECTED, rel=1e-9)
    # HI's D2% lies within 0.6 mm of the tent's apex, where in-plane sampling rounds:
    # 0.33853 against 0.33882.
    assert values[4] == pytest.approx(expected_hi(), abs=1e-3)
    assert [r.status for r in report.results] == [
        Status.PASS,
        Status.PASS,
        Status.FAIL,  # 0.667 < 0.7
        Status.PASS,
        Status.PASS,
    ]
    assert [r.body_roi for r in report.results] == ["BODY"] * 4 + [None]
    assert {r.unit for r in report.results} == {""}


def test_message_says_what_the_index_was_computed_from() -> None:
    cn = _check().results[0]
    assert cn.message.startswith("CN95% = 0.556, limit 0.5: 0.0556 margin")
    assert "TV 408 cc, TV_RI 283.33 cc, V_RI 354.17 cc at 47.5 Gy (body 'BODY')" in cn.message


def test_result_records_carry_the_body_roi() -> None:
    record = _check().result_records()[0]
    assert record["metric"] == "CN95%[]"
    assert record["unit"] == ""
    assert record["body_roi"] == "BODY"
    assert record["margin"] == pytest.approx(EXPECTED[0] - 0.5, rel=1e-9)


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("Patient outline", "EXTERNAL"),  # by RTROIInterpretedType, whatever the name
        ("External", "ORGAN"),  # by name
        ("Outer Contour", ""),  # by alias, no type
    ],
)
def test_the_body_is_found_like_a_structure(name: str, kind: str) -> None:
    r = _check(body_name=name, body_type=kind).results[0]
    assert r.body_roi == name
    assert r.value == pytest.approx(EXPECTED[0], rel=1e-9)


def test_a_body_beyond_the_dose_grid_where_the_dose_is_low_is_counted_and_said() -> None:
    # The dose grid's voxels end at x = ±102.5 mm (nodes ±100, where the tent is 0 Gy);
    # this body reaches ±120 mm. Every isodose lies inside the grid, so the indices are
    # the closed forms, with a warning that the body extends beyond the grid.
    report = _check(body_box=(-120.0, 120.0, -50.0, 50.0))
    values = [r.value for r in report.results]
    assert values[:4] == pytest.approx(EXPECTED, rel=1e-9)
    cn = report.results[0]
    assert cn.status is Status.PASS
    assert any("extends" in w and "beyond the dose grid" in w for w in cn.warnings)
    assert not any("beyond the dose grid" in w for w in report.results[-1].warnings)  # HI


def test_an_isodose_cut_by_the_dose_grid_is_not_evaluated() -> None:
    # The grid's voxels end at y = ±62.5 mm (nodes ±60); this body reaches ±80 mm, and
    # the dose is constant in y: every isodose reaches the grid's y faces (60 Gy there).
    # Counted inside the grid, CN95% would read (w/30) × 80/125 = 0.444 for a body that
    # is (w/30) × 80/160 = 0.347 if the dose continues: neither is known, so no value.
    report = _check(body_box=(-90.0, 90.0, -80.0, 80.0))
    for r in report.results[:4]:
        assert r.status is Status.NOT_EVALUATED
        assert r.reason == "metric_undefined"
        assert r.value is None
        assert "reaches the edge of the dose grid (up to 60 Gy there)" in r.message
        assert "continues 535.5 cc beyond the grid" in r.message
        assert r.body_roi == "BODY"
    assert report.results[3].message.startswith("the 25 Gy isodose of GI50%")
    assert report.results[-1].status is Status.PASS  # HI: the target only


def test_no_body_roi_is_not_evaluated_and_named() -> None:
    report = _check(body_name="")
    by_metric = {r.metric: r for r in report.results}
    cn = by_metric["CN95%[]"]
    assert cn.status is Status.NOT_EVALUATED
    assert cn.reason == "structure_not_found"
    assert cn.value is None
    assert "CN95% needs the body (external) ROI" in cn.message
    assert "no ROI is of RTROIInterpretedType EXTERNAL" in cn.message
    assert "--map Body=ROI" in cn.message
    assert by_metric["HI[]"].status is Status.PASS  # HI needs the target only
    assert report.verdict == "incomplete"


def test_no_body_roi_fails_in_strict_mode() -> None:
    report = check_plan(memory_plan(body_name=""), load_constraint_set_text(SET), strict=True)
    assert report.results[0].status is Status.FAIL
    assert report.verdict == "fail"


def test_map_names_the_body() -> None:
    plan = memory_plan(body_name="Skin", body_type="ORGAN")
    report = check_plan(plan, load_constraint_set_text(SET), roi_map={"Body": "Skin"})
    assert report.results[0].body_roi == "Skin"
    assert report.results[0].matched_by == "name"  # the target's own match
    only_hi = "name: HI only\nstructures:\n  - name: PTV\n    constraints: ['HI[] < 1']\n"
    with pytest.raises(InputError, match="has no structure 'Body'"):
        check_plan(plan, load_constraint_set_text(only_hi), roi_map={"Body": "Skin"})


def test_the_sets_own_body_structure_is_used() -> None:
    text = SET + "  - name: Body\n    aliases: [Skin]\n    constraints: ['Max[Gy] <= 61']\n"
    report = _check(text, body_name="Skin", body_type="ORGAN")
    assert report.results[0].body_roi == "Skin"
    assert report.results[-1].roi == "Skin"


def test_two_external_rois_are_ambiguous() -> None:
    from dataclasses import replace

    plan = memory_plan(body_name="Outline A")
    body = plan.structure_set.structures[1]
    twin = replace(body, number=3, name="Outline B")
    ss = replace(plan.structure_set, structures=(*plan.structure_set.structures, twin))
    report = check_plan(replace(plan, structure_set=ss), load_constraint_set_text(SET))
    cn = report.results[0]
    assert cn.reason == "structure_ambiguous"
    assert "'Outline A', 'Outline B' are all of RTROIInterpretedType EXTERNAL" in cn.message


# --- the loader ----------------------------------------------------------------------------
def _load(constraint: str, top: str = "prescription: {dose_gy: 50, fractions: 25}\n"):
    return load_constraint_set_text(
        f"name: x\n{top}structures:\n  - name: PTV\n    constraints:\n      - {constraint}\n"
    )


@pytest.mark.parametrize(
    ("constraint", "message"),
    [
        ("CN95%[] >= 75", "above 1, which the conformation number never exceeds"),
        ("CN95%[%] >= 75", "write e.g. 0.75"),
        ("GI50%[] <= 0.5", "below 1, which the gradient index"),
        ("GI50%[%] <= 300", "reads as a percentage"),
        ("CI95%[%] <= 120 (variation 150)", "write e.g. 1.2"),
        ("CN95%[] >= 0.7cc", "has a unit but CN95%[] is a ratio"),
        ("HI[] <= 10%", "has a unit but HI[] is a ratio"),
        ("GI60Gy[] <= 4", "low isodose (60 Gy) is not below the set's prescription (50 Gy)"),
        ("GI5000cGy[] <= 4", "low isodose (50 Gy) is not below the set's prescription (50 Gy)"),
        (
            "{metric: 'CN47.5Gy[]', op: '>=', limit: 0.7, dose_basis: eqd2, alpha_beta: 10}",
            "a plan-quality index is a ratio of the physical dose distribution",
        ),
    ],
)
def test_loader_refuses(constraint: str, message: str) -> None:
    with pytest.raises(ConstraintFileError) as exc:
        _load(constraint)
    assert message in str(exc.value)


def test_gi_below_the_prescription_is_accepted() -> None:
    (constraint,) = (c for _, c in _load("GI49.9Gy[] <= 4").constraints)
    assert constraint.metric.isodose_gy(50.0) == pytest.approx(49.9)


def test_gi_needs_a_prescription_in_the_set() -> None:
    with pytest.raises(ConstraintFileError, match="the prescription isodose"):
        _load("GI25Gy[] <= 4", top="")


def test_a_set_wide_fractionation_leaves_the_indices_alone() -> None:
    top = (
        "prescription: {dose_gy: 50, fractions: 25}\n"
        "fractionation: {dose_basis: eqd2, alpha_beta: 3}\n"
    )
    c = _load("CN47.5Gy[] >= 0.7", top=top).structures[0].constraints[0]
    assert c.dose_basis == "physical"
    assert c.variation is None


def test_variation_limit_on_an_index() -> None:
    c = _load("CN95%[] >= 0.6 (variation 0.5)").structures[0].constraints[0]
    assert (c.limit, c.variation) == (0.6, 0.5)
    report = _check(SET.replace("CN95%[] >= 0.5", "CN95%[] >= 0.6 (variation 0.5)"))
    assert report.results[0].status is Status.VARIATION


def test_a_body_inside_the_low_isodose_is_not_evaluated() -> None:
    # A "body" of x ∈ [-35, 35]: its minimum dose is 60 − 0.6 × 35 = 39 Gy, above GI50%'s
    # 25 Gy, so V_25Gy would end at the body's edge (GI 2.1 instead of 3.5, a pass that
    # the patient's real fall-off may not earn). CN95% (47.5 Gy, w = 125/6 mm inside the
    # body) is still the closed form (w/30)(80/90).
    report = _check(body_box=(-35.0, 35.0, -45.0, 45.0))
    cn, _, _, gi, _ = report.results
    assert cn.value == pytest.approx((125 / 6) / 30 * 80 / 90, rel=1e-9)
    assert gi.status is Status.NOT_EVALUATED
    assert gi.reason == "metric_undefined"
    assert "covers the whole body ROI 'BODY'" in gi.message
    assert "minimum dose is 39 Gy" in gi.message
    assert gi.body_roi == "BODY"


def test_the_sets_own_body_structure_wins_over_an_external_roi() -> None:
    # The plan has an EXTERNAL ROI "Outline" and a smaller ROI "Skin" (x ∈ [-35, 35],
    # y ∈ [-45, 45]); the set's Body structure matches Skin by its alias. The indices use
    # Skin too, so one report never checks two ROIs as the body: CN95% is then
    # (w/30) × 80/90 with w = 125/6 mm (0.617), not Outline's (w/30) × 80/100 (0.556).
    from dataclasses import replace

    import numpy as np

    from dosecheck.model import Structure
    from tests.helpers.plans import PLANES

    plan = memory_plan(body_name="Outline")
    square = np.array([[-35.0, -45.0], [35.0, -45.0], [35.0, 45.0], [-35.0, 45.0]])
    skin = Structure.from_contours(
        3, "Skin", [(float(z), square) for z in PLANES], interpreted_type="ORGAN"
    )
    ss = replace(plan.structure_set, structures=(*plan.structure_set.structures, skin))
    text = (
        "name: x\nprescription: {dose_gy: 50, fractions: 25}\nstructures:\n"
        "  - name: PTV\n    constraints: ['CN95%[] >= 0.5']\n"
        "  - name: Body\n    aliases: [Skin]\n    constraints: ['Max[Gy] <= 61']\n"
    )
    cn, body_max = check_plan(
        replace(plan, structure_set=ss), load_constraint_set_text(text)
    ).results
    assert body_max.roi == "Skin"
    assert cn.body_roi == "Skin"
    assert cn.value == pytest.approx((125 / 6) / 30 * 80 / 90, rel=1e-9)


def test_other_ptvs_in_the_plan_are_said() -> None:
    # A second PTV (type PTV): the body's isodose volume may also surround it, so the
    # indices of PTV carry a warning naming it; the values stay the closed forms (the
    # copy lies where the first one is, in the same isodose).
    from dataclasses import replace

    assert _check().results[0].warnings == ()
    plan = memory_plan()
    twin = replace(plan.structure_set.structures[0], number=3, name="PTV_2")
    ss = replace(plan.structure_set, structures=(*plan.structure_set.structures, twin))
    report = check_plan(replace(plan, structure_set=ss), load_constraint_set_text(SET))
    assert [r.value for r in report.results[:4]] == pytest.approx(EXPECTED, rel=1e-9)
    for r in report.results[:4]:
        assert any("other PTVs ('PTV_2') besides 'PTV'" in w for w in r.warnings)
    assert not any("other PTVs" in w for w in report.results[4].warnings)  # HI
    assert any("other PTVs" in w for w in report.warnings)
