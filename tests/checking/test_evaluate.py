"""Evaluating constraint sets on DVHs with closed-form values."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dosecheck.checking.evaluate import evaluate_constraints, resolve_prescription, verdict
from dosecheck.checking.loader import load_constraint_set_text
from dosecheck.checking.model import Constraint, ConstraintResult, ConstraintSet, StructureSpec
from dosecheck.core.dvh import DVH
from dosecheck.metrics import parse_metric


def uniform_dvh(
    volume_cc: float, d_max: float, name: str = "", outside_grid_cc: float = 0.0
) -> DVH:
    """Dose uniform on [0, d_max] over ``volume_cc``: V(d) = volume (1 - d / d_max)."""
    edges = np.linspace(0.0, 80.0, 801)
    cum = volume_cc * np.clip(1.0 - edges / d_max, 0.0, 1.0)
    return DVH(
        dose_edges_gy=edges,
        cumulative_cc=cum,
        volume_cc=volume_cc,
        min_gy=0.0,
        mean_gy=d_max / 2,
        max_gy=d_max,
        outside_grid_cc=outside_grid_cc,
        name=name,
    )


# Bowel bag: 1000 cc uniform 0–60 Gy → V45Gy = 250 cc, D200cc = 48 Gy, Max = 60 Gy.
BOWEL = uniform_dvh(1000.0, 60.0, "BowelBag")
# Rectum: 100 cc uniform 0–50 Gy → V30Gy = 40 %, Mean = 25 Gy, D95% = 2.5 Gy.
RECTUM = uniform_dvh(100.0, 50.0, "Rectum")

SET = """\
name: Rectum 50 Gy
prescription: {dose_gy: 50, fractions: 25}
structures:
  - name: Bag_Bowel
    aliases: [BowelBag, Bowel_Bag]
    constraints:
      - V45Gy[cc] < 300
      - V45Gy[cc] < 200
      - Max[Gy] <= 107%
      - {metric: "V30Gy[cc]", op: "<", limit: 400, priority: optimal, note: QUANTEC}
  - name: Rectum
    constraints:
      - V30Gy[%] <= 40
      - V30Gy[%] < 40
      - D95%[Gy] >= 5
      - Mean[cGy] < 2400
  - name: Bladder
    constraints:
      - Mean[Gy] < 30
"""
ROIS = ["PTV", "BowelBag", "Rectum"]


@pytest.fixture
def cset() -> ConstraintSet:
    return load_constraint_set_text(SET, path="rectum.yaml")


def by_constraint(results: list[ConstraintResult]) -> dict[tuple[str, str], ConstraintResult]:
    return {(r.structure, r.constraint): r for r in results}


def test_results_and_messages(cset: ConstraintSet) -> None:
    results = evaluate_constraints(cset, {"BowelBag": BOWEL, "Rectum": RECTUM}, ROIS, None)
    assert len(results) == 9
    assert [r.constraint for r in results] == [c.text for _, c in cset.constraints]
    r = by_constraint(results)

    ok = r["Bag_Bowel", "V45Gy[cc] < 300"]
    assert (ok.status, ok.roi, ok.matched_by, ok.metric, ok.unit) == (
        "pass",
        "BowelBag",
        "alias",
        "V45Gy[cc]",
        "cc",
    )
    assert ok.value == pytest.approx(250.0)
    assert (ok.comparator, ok.limit, ok.line, ok.priority) == ("<", 300.0, 7, "mandatory")
    assert ok.message == "V45Gy = 250 cc, limit 300 cc: 50 cc margin"

    bad = r["Bag_Bowel", "V45Gy[cc] < 200"]
    assert bad.status == "fail"
    # The hottest 200 cc receive at least 48 Gy.
    assert bad.message == "V45Gy = 250 cc, limit 200 cc: 50 cc over; D200cc = 48 Gy"

    mx = r["Bag_Bowel", "Max[Gy] <= 107%"]
    assert (mx.status, mx.limit, mx.prescription_gy) == ("fail", pytest.approx(53.5), 50.0)
    # V53.5Gy = 1000 · (1 − 53.5/60) = 108.33 cc
    assert mx.message == (
        "Max = 60 Gy, limit 53.5 Gy (107% of 50 Gy): 6.5 Gy over; V53.5Gy = 108.33 cc"
    )

    opt = r["Bag_Bowel", "V30Gy[cc] < 400"]
    assert (opt.status, opt.priority, opt.note) == ("fail", "optimal", "QUANTEC")
    assert opt.message == "V30Gy = 500 cc, limit 400 cc: 100 cc over; D400cc = 36 Gy"

    assert r["Rectum", "V30Gy[%] <= 40"].status == "pass"
    assert r["Rectum", "V30Gy[%] <= 40"].message == "V30Gy = 40%, limit 40%: 0% margin"
    eq = r["Rectum", "V30Gy[%] < 40"]
    assert eq.status == "fail"
    assert eq.message == "V30Gy = 40%, limit 40%: equal to the limit, which must be < 40%"

    d95 = r["Rectum", "D95%[Gy] >= 5"]
    assert d95.status == "fail"
    assert d95.message == "D95% = 2.5 Gy, limit 5 Gy: 2.5 Gy under; V5Gy = 90%"
    assert d95.prescription_gy is None  # does not depend on it

    mean = r["Rectum", "Mean[cGy] < 2400"]
    assert (mean.status, mean.unit, mean.value) == ("fail", "cGy", pytest.approx(2500.0))
    assert mean.message == "Mean = 2500 cGy, limit 2400 cGy: 100 cGy over"

    missing = r["Bladder", "Mean[Gy] < 30"]
    assert (missing.status, missing.reason, missing.roi, missing.value) == (
        "not_evaluated",
        "structure_not_found",
        None,
        None,
    )
    assert missing.limit == 30.0
    assert missing.message == (
        "structure 'Bladder' not found: no ROI matches name 'Bladder' (case, spaces, '_' "
        "and '-' ignored); ROIs present: 'PTV', 'BowelBag', 'Rectum'"
    )
    assert verdict(results) == "fail"


def test_dvhs_are_computed_only_for_matched_rois_and_once(cset: ConstraintSet) -> None:
    calls: list[str] = []

    def get_dvh(roi: str) -> DVH:
        calls.append(roi)
        return {"BowelBag": BOWEL, "Rectum": RECTUM}[roi]

    evaluate_constraints(cset, get_dvh, ["PTV", "Body", "BowelBag", "Rectum"], 50.0)
    assert calls == ["BowelBag", "Rectum"]


def test_strict_turns_not_evaluated_into_fail(cset: ConstraintSet) -> None:
    results = evaluate_constraints(
        cset, {"BowelBag": BOWEL, "Rectum": RECTUM}, ROIS, None, strict=True
    )
    r = by_constraint(results)["Bladder", "Mean[Gy] < 30"]
    assert (r.status, r.reason) == ("fail", "structure_not_found")
    assert r.message.endswith("ROIs present: 'PTV', 'BowelBag', 'Rectum' (fails in strict mode)")


def one(constraint: str, rx: float | None = None, priority: str = "mandatory") -> ConstraintSet:
    """A set with one constraint ``'<metric> <op> <limit>'`` on a structure ``Rectum``."""
    metric, op, limit = constraint.split()
    lines = ["name: t"]
    if rx is not None:
        lines.append(f"prescription: {{dose_gy: {rx}}}")
    lines += [
        "structures:",
        "  - name: Rectum",
        "    constraints:",
        f"      - {{metric: '{metric}', op: '{op}', limit: '{limit}', priority: {priority}}}",
    ]
    return load_constraint_set_text("\n".join(lines) + "\n")


def test_verdict_ignores_optimal_misses() -> None:
    cs = one("Mean[Gy] < 10", priority="optimal")
    results = evaluate_constraints(cs, {"Rectum": RECTUM}, ["Rectum"], None)
    assert results[0].status == "fail"
    assert verdict(results) == "pass"
    assert verdict([]) == "pass"


def test_verdict_incomplete_when_not_evaluated_fail_when_strict(cset: ConstraintSet) -> None:
    cs = one("Mean[Gy] < 30")
    assert verdict(evaluate_constraints(cs, {}, ["PTV"], None)) == "incomplete"
    assert verdict(evaluate_constraints(cs, {}, ["PTV"], None, strict=True)) == "fail"


def test_ambiguous_structure_is_not_evaluated() -> None:
    cs = one("Mean[Gy] < 30")
    results = evaluate_constraints(cs, lambda _: RECTUM, ["rectum", "RECTUM"], None)
    (r,) = results
    assert (r.status, r.reason, r.roi) == ("not_evaluated", "structure_ambiguous", None)
    assert "ROIs 'rectum' and 'RECTUM' both match its name" in r.message
    strict = evaluate_constraints(cs, lambda _: RECTUM, ["rectum", "RECTUM"], None, strict=True)
    assert strict[0].status == "fail"


def test_undefined_metric_is_not_evaluated() -> None:
    cs = one("D150cc[Gy] < 30")
    (r,) = evaluate_constraints(cs, {"Rectum": RECTUM}, ["Rectum"], None)
    assert (r.status, r.reason, r.value) == ("not_evaluated", "metric_undefined", None)
    assert r.message == (
        "D150cc is undefined: structure 'Rectum' is only 100.000 cc inside the dose grid"
    )
    (s,) = evaluate_constraints(cs, {"Rectum": RECTUM}, ["Rectum"], None, strict=True)
    assert s.status == "fail"


def test_empty_dvh_is_not_evaluated() -> None:
    cs = one("Mean[Gy] < 30")
    (r,) = evaluate_constraints(cs, {"Rectum": DVH.empty("Rectum")}, ["Rectum"], None)
    assert r.status == "not_evaluated"
    assert r.message == "Mean is undefined: structure 'Rectum' has no volume inside the dose grid"


def test_missing_prescription_is_not_evaluated() -> None:
    """A set built in code (the loader refuses % without a prescription)."""
    c = Constraint(parse_metric("V95%[%]"), ">=", 98.0)
    cs = ConstraintSet(
        "t", "<code>", "", None, None, (StructureSpec("Rectum", constraints=(c,)),), ""
    )
    (r,) = evaluate_constraints(cs, {"Rectum": RECTUM}, ["Rectum"], None)
    assert (r.status, r.reason) == ("not_evaluated", "metric_undefined")
    assert r.message == (
        "V95%[%] needs a prescription dose; pass --prescription or use a plan with an RTPLAN"
    )
    (ok,) = evaluate_constraints(cs, {"Rectum": RECTUM}, ["Rectum"], 10.0)
    # 95 % of 10 Gy = 9.5 Gy → V = 81 %
    assert ok.value == pytest.approx(81.0)
    assert ok.prescription_gy == 10.0


def test_percent_limit_without_prescription_has_no_limit() -> None:
    c = Constraint(parse_metric("Max[Gy]"), "<=", 107.0, limit_unit_is_percent_rx=True)
    cs = ConstraintSet(
        "t", "<code>", "", None, None, (StructureSpec("Rectum", constraints=(c,)),), ""
    )
    (r,) = evaluate_constraints(cs, {"Rectum": RECTUM}, ["Rectum"], None)
    assert (r.status, r.limit) == ("not_evaluated", None)
    assert r.message == (
        "the limit 107% of Max[Gy] needs a prescription dose; pass --prescription or use a "
        "plan with an RTPLAN"
    )


def test_prescription_argument_wins_with_warning() -> None:
    cs = one("V95%[%] >= 10", rx=50.0)
    (r,) = evaluate_constraints(cs, {"Rectum": RECTUM}, ["Rectum"], 40.0)
    # 95 % of 40 Gy = 38 Gy → V = 24 %
    assert r.value == pytest.approx(24.0)
    assert r.prescription_gy == 40.0
    warning = (
        "the plan's prescription (40 Gy) differs from the one the constraint set 't' was "
        "written for (50 Gy); percentages of prescription use 40 Gy"
    )
    assert r.warnings == (warning,)
    assert resolve_prescription(cs, 40.0) == (40.0, [warning])
    assert resolve_prescription(cs, None) == (50.0, [])
    assert resolve_prescription(cs, 50.0) == (50.0, [])
    # Results that do not depend on the prescription carry no such warning.
    cs2 = one("Mean[Gy] < 30", rx=50.0)
    (r2,) = evaluate_constraints(cs2, {"Rectum": RECTUM}, ["Rectum"], 40.0)
    assert r2.warnings == ()


def test_percent_limit_with_cgy_metric() -> None:
    cs = one("Max[cGy] <= 110%", rx=50.0)
    (r,) = evaluate_constraints(cs, {"Rectum": RECTUM}, ["Rectum"], None)
    assert (r.status, r.limit, r.unit) == ("pass", pytest.approx(5500.0), "cGy")
    assert r.message == "Max = 5000 cGy, limit 5500 cGy (110% of 50 Gy): 500 cGy margin"


def test_v_percent_dose_failure_hint_in_percent() -> None:
    cs = one("V60%[cc] < 30", rx=50.0)
    (r,) = evaluate_constraints(cs, {"Rectum": RECTUM}, ["Rectum"], None)
    # 60 % of 50 Gy = 30 Gy → V = 40 cc; D30cc = 35 Gy = 70 %.
    assert r.message == "V60% = 40 cc, limit 30 cc: 10 cc over; D30cc = 70% (35 Gy)"


def test_cv_failure_has_no_dose_hint() -> None:
    cs = one("CV30Gy[cc] < 50")
    (r,) = evaluate_constraints(cs, {"Rectum": RECTUM}, ["Rectum"], None)
    assert r.message == "CV30Gy = 60 cc, limit 50 cc: 10 cc over"


# --- what a failure needs: the volume at the limit dose, the dose at the limit volume --------
# RECTUM: 100 cc uniform 0–50 Gy, V(d) = 100 · (1 − d/50) cc (= %), D(v cc) = 50 · (1 − v/100).
@pytest.mark.parametrize(
    ("constraint", "rx", "message"),
    [
        # D2cc = 49 Gy; V45Gy = 10 cc.
        ("D2cc[Gy] <= 45", None, "D2cc = 49 Gy, limit 45 Gy: 4 Gy over; V45Gy = 10 cc"),
        (
            "D2cc[cGy] < 4500",
            None,
            "D2cc = 4900 cGy, limit 4500 cGy: 400 cGy over; V4500cGy = 10 cc",
        ),
        # D2% = 49 Gy = 98% of 50 Gy; 90% = 45 Gy → V90% = 10 %, in % as the D volume.
        ("D2%[%] <= 90", 50.0, "D2% = 98%, limit 90%: 8% over; V90% = 10%"),
        # 107% of 40 Gy = 42.8 Gy; V42.8Gy = 100 · (1 − 42.8/50) = 14.4 %.
        (
            "D2%[Gy] <= 107%",
            40.0,
            "D2% = 49 Gy, limit 42.8 Gy (107% of 40 Gy): 6.2 Gy over; V42.8Gy = 14.4%",
        ),
        ("Max[Gy] <= 45", None, "Max = 50 Gy, limit 45 Gy: 5 Gy over; V45Gy = 10 cc"),
        # Lower limits: the coverage at the limit dose. D95% = 2.5 Gy = 25% of 10 Gy;
        # 95% of 10 Gy = 9.5 Gy → V95% = 81 %.
        ("D95%[%] >= 95", 10.0, "D95% = 25%, limit 95%: 70% under; V95% = 81%"),
        ("D50cc[Gy] > 30", None, "D50cc = 25 Gy, limit 30 Gy: 5 Gy under; V30Gy = 40 cc"),
        ("Min[Gy] >= 40", None, "Min = 0 Gy, limit 40 Gy: 40 Gy under; V40Gy = 20 cc"),
        # A V with a lower limit: the dose now covering the required volume.
        ("V95%[%] >= 95", 10.0, "V95% = 81%, limit 95%: 14% under; D95% = 25% (2.5 Gy)"),
        ("V30Gy[cc] > 50", None, "V30Gy = 40 cc, limit 50 cc: 10 cc under; D50cc = 25 Gy"),
        # No such hint for Mean, DC, a lower limit on Max or an upper limit on Min.
        ("Mean[Gy] < 20", None, "Mean = 25 Gy, limit 20 Gy: 5 Gy over"),
        ("DC10cc[Gy] > 10", None, "DC10cc = 5 Gy, limit 10 Gy: 5 Gy under"),
        ("Max[Gy] > 60", None, "Max = 50 Gy, limit 60 Gy: 10 Gy under"),
        ("Min[Gy] < 0", None, "Min = 0 Gy, limit 0 Gy: equal to the limit, which must be < 0 Gy"),
    ],
)
def test_failure_hints(constraint: str, rx: float | None, message: str) -> None:
    (r,) = evaluate_constraints(one(constraint, rx=rx), {"Rectum": RECTUM}, ["Rectum"], None)
    assert r.status == "fail"
    assert r.message == message


def test_failure_hints_use_the_physical_limit_of_a_converted_constraint() -> None:
    # EQD2 40 Gy, α/β 3 in 5 fx = 25 Gy physical (see checking/test_fractionation.py).
    cs = load_constraint_set_text(
        "name: t\nfractionation: {dose_basis: eqd2, alpha_beta: 3}\nstructures:\n"
        "  - name: Rectum\n    constraints:\n      - D2cc[Gy] <= 40\n      - D60%[Gy] >= 40\n"
    )
    upper, lower = evaluate_constraints(cs, {"Rectum": RECTUM}, ["Rectum"], None, fractions=5)
    # D2cc = 49 Gy; V25Gy = 50 cc.
    assert upper.message == (
        "D2cc = 49 Gy, limit 25 Gy physical in 5 fx (40 Gy EQD2, α/β 3 Gy): 24 Gy over; "
        "V25Gy = 50 cc"
    )
    # D60% = 20 Gy; coverage at 25 Gy: V25Gy = 50 %.
    assert lower.message == (
        "D60% = 20 Gy, limit 25 Gy physical in 5 fx (40 Gy EQD2, α/β 3 Gy): 5 Gy under; V25Gy = 50%"
    )


def test_dvh_warnings_are_attached() -> None:
    dvh = uniform_dvh(100.0, 50.0, "Rectum", outside_grid_cc=2.5)
    dvh = DVH(**{**dvh.__dict__, "warnings": ("Rectum: 2.50 cc lies outside the dose grid",)})
    cs = one("Mean[Gy] < 30")
    (r,) = evaluate_constraints(cs, {"Rectum": dvh}, ["Rectum"], None)
    assert r.warnings == ("Rectum: 2.50 cc lies outside the dose grid",)


def test_to_dict_is_json_ready(cset: ConstraintSet) -> None:
    results = evaluate_constraints(cset, {"BowelBag": BOWEL, "Rectum": RECTUM}, ROIS, 50.0)
    data = json.loads(json.dumps([r.to_dict() for r in results]))
    assert data[0]["status"] == "pass"
    assert set(data[0]) >= {
        "structure",
        "roi",
        "metric",
        "value",
        "unit",
        "comparator",
        "limit",
        "status",
        "message",
        "priority",
        "warnings",
    }


def test_small_differences_are_not_rounded_to_zero() -> None:
    cs = one("Max[Gy] < 49.9999")
    (r,) = evaluate_constraints(cs, {"Rectum": RECTUM}, ["Rectum"], None)
    assert r.status == "fail"
    assert r.message == "Max = 50 Gy, limit 49.9999 Gy: 0.0001 Gy over; V49.9999Gy = 0.0002 cc"


# --- structures outside the dose grid -----------------------------------------------------------
def test_structure_half_outside_the_grid_is_not_evaluated() -> None:
    cs = load_constraint_set_text(
        "name: t\nstructures:\n  - name: Rectum\n    constraints:\n"
        "      - Mean[Gy] < 30\n      - Volume[cc] > 10\n"
        "      - {metric: 'Max[Gy]', op: '<', limit: 70, priority: optimal}\n"
    )
    dvh = uniform_dvh(100.0, 50.0, "Rectum", outside_grid_cc=100.0)  # 50 % outside
    results = evaluate_constraints(cs, {"Rectum": dvh}, ["Rectum"], None)
    assert [(r.status, r.reason) for r in results] == [("not_evaluated", "outside_dose_grid")] * 3
    assert all(r.value is None and r.roi == "Rectum" for r in results)
    assert results[0].message == (
        "Rectum: 100 cc (50 %) of the structure lies outside the dose grid, where the dose is "
        "unknown; extend the dose grid or check the plan"
    )
    assert verdict(results) == "incomplete"
    strict = evaluate_constraints(cs, {"Rectum": dvh}, ["Rectum"], None, strict=True)
    assert [r.status for r in strict] == ["fail"] * 3
    assert verdict(strict) == "fail"


def test_structure_wholly_outside_the_grid_is_not_evaluated() -> None:
    cs = one("Mean[Gy] < 30")
    empty = uniform_dvh(0.0, 50.0, "Rectum", outside_grid_cc=42.0)
    (r,) = evaluate_constraints(cs, {"Rectum": empty}, ["Rectum"], None)
    assert (r.status, r.reason) == ("not_evaluated", "outside_dose_grid")
    assert r.message.startswith("Rectum: all 42 cc of the structure lies outside the dose grid")


@pytest.mark.parametrize(
    ("volume", "outside", "evaluated"),
    [
        (10.0, 0.1, True),  # 0.1 cc is tolerated
        (10.0, 0.11, False),
        (1000.0, 5.0, True),  # 0.5 % of 1005 cc = 5.025 cc
        (1000.0, 5.1, False),
    ],
)
def test_outside_grid_tolerance(volume: float, outside: float, evaluated: bool) -> None:
    dvh = uniform_dvh(volume, 50.0, "Rectum", outside_grid_cc=outside)
    (r,) = evaluate_constraints(one("Max[Gy] < 60"), {"Rectum": dvh}, ["Rectum"], None)
    assert (r.status == "pass") is evaluated
    assert (r.reason == "outside_dose_grid") is not evaluated


def test_verdict_values() -> None:
    def res(status: str, priority: str = "mandatory") -> ConstraintResult:
        return ConstraintResult(
            structure="S",
            roi=None,
            metric="Mean[Gy]",
            value=None,
            unit="Gy",
            comparator="<",
            limit=1.0,
            status=status,  # type: ignore[arg-type]
            message="",
            priority=priority,  # type: ignore[arg-type]
            constraint="Mean[Gy] < 1",
        )

    assert verdict([res("pass")]) == "pass"
    assert verdict([res("pass"), res("not_evaluated")]) == "incomplete"
    assert verdict([res("fail"), res("not_evaluated")]) == "fail"
    assert verdict([res("pass"), res("not_evaluated", "optimal")]) == "pass"
    assert verdict([res("pass"), res("fail", "optimal")]) == "pass"
