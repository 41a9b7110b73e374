"""check_plan: values, verdicts, prescription precedence and warnings, DVH economy."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path
from typing import Any

import pytest

from dosecheck.checking.check import CheckReport, check_plan, result_margin
from dosecheck.checking.loader import load_constraint_set_text
from dosecheck.checking.model import ConstraintResult
from dosecheck.checking.sets import load_shipped_set
from dosecheck.errors import InputError
from dosecheck.model import Plan
from tests.helpers.plans import (
    BOWEL_BOX,
    LONG_BOWEL_FAIL,
    LONG_BOWEL_PASS,
    LONG_PTV_FAIL,
    LONG_PTV_PASS,
    PTV_BOX,
    SHORT_BOWEL_FAIL,
    SHORT_BOWEL_PASS,
    SHORT_PTV_FAIL,
    SHORT_PTV_PASS,
    Profile,
    memory_plan,
    v_cc,
    write_plan,
)

LONG = load_shipped_set("rectum-long-course")
SHORT = load_shipped_set("rectum-short-course")
CC_TOL = 0.25  # engine vs closed form on the 680 cc box (measured ≤ 0.08 cc)
PCT_TOL = 0.05  # % of the PTV (measured ≤ 0.005 %)


def by_metric(report: CheckReport) -> dict[tuple[str, str], ConstraintResult]:
    return {(r.structure, r.metric): r for r in report.results}


def long_plan(bowel: Profile = LONG_BOWEL_PASS, ptv: Profile = LONG_PTV_PASS, **kw: Any) -> Plan:
    kw.setdefault("prescription_gy", 50.4)
    kw.setdefault("fractions", 28)
    return memory_plan(bowel, ptv, **kw)


def short_plan(bowel: Profile = SHORT_BOWEL_PASS, ptv: Profile = SHORT_PTV_PASS, **kw: Any) -> Plan:
    kw.setdefault("prescription_gy", 25.0)
    kw.setdefault("fractions", 5)
    return memory_plan(bowel, ptv, **kw)


# --- the shipped sets on plans with known numbers ------------------------------------------
def test_long_course_pass_values() -> None:
    report = check_plan(long_plan(), LONG)
    r = by_metric(report)
    v30, v45 = r["Bag_Bowel", "V30Gy[cc]"], r["Bag_Bowel", "V45Gy[cc]"]
    assert v30.value == pytest.approx(v_cc(LONG_BOWEL_PASS, 30.0, BOWEL_BOX), abs=CC_TOL)
    assert v30.value == pytest.approx(306.0, abs=CC_TOL)
    assert v45.value == pytest.approx(51.0, abs=CC_TOL)
    assert (v30.status, v45.status) == ("pass", "pass")
    assert v30.roi == "BowelBag" and v30.matched_by == "alias"
    v95 = r["PTV", "V95%[%]"]
    assert v95.value == pytest.approx(95.5, abs=PCT_TOL)
    assert v95.status == "pass" and v95.matched_by == "name"
    d2 = r["PTV", "D2%[%]"]
    assert d2.priority == "optimal"
    assert d2.value == pytest.approx(100 * LONG_PTV_PASS.d_fraction(0.02, PTV_BOX) / 50.4, abs=0.1)
    assert d2.value == pytest.approx(102.42, abs=0.1)
    assert report.verdict == "pass" and report.exit_code == 0
    assert report.summary() == "PASS — all 3 mandatory constraints passed"
    assert report.warnings == ()
    assert result_margin(v30) == pytest.approx(600.0 - v30.value)
    assert result_margin(v95) == pytest.approx(v95.value - 95.0)


def test_long_course_bowel_fail_values() -> None:
    report = check_plan(long_plan(LONG_BOWEL_FAIL), LONG)
    r = by_metric(report)
    assert r["Bag_Bowel", "V30Gy[cc]"].value == pytest.approx(552.5, abs=CC_TOL)
    assert r["Bag_Bowel", "V30Gy[cc]"].status == "pass"
    assert r["Bag_Bowel", "V45Gy[cc]"].value == pytest.approx(340.0, abs=CC_TOL)
    assert r["Bag_Bowel", "V45Gy[cc]"].status == "fail"
    assert result_margin(r["Bag_Bowel", "V45Gy[cc]"]) == pytest.approx(-40.0, abs=CC_TOL)
    assert report.verdict == "fail" and report.exit_code == 1
    assert report.summary() == ("FAIL — 1 of 3 mandatory constraints failed (Bag_Bowel V45Gy[cc])")


def test_long_course_ptv_fail() -> None:
    report = check_plan(long_plan(LONG_BOWEL_PASS, LONG_PTV_FAIL), LONG)
    v95 = by_metric(report)["PTV", "V95%[%]"]
    assert v95.value == pytest.approx(82.4, abs=PCT_TOL)
    assert v95.status == "fail"
    assert report.summary() == "FAIL — 1 of 3 mandatory constraints failed (PTV V95%[%])"


def test_short_course_pass_values() -> None:
    report = check_plan(short_plan(bowel_name="Bowel_Cavity", ptv_name="PTV_2500"), SHORT)
    r = by_metric(report)
    assert r["Bag_Bowel", "V18.5Gy[cc]"].value == pytest.approx(191.25, abs=CC_TOL)
    assert r["Bag_Bowel", "V22Gy[cc]"].value == pytest.approx(42.5, abs=CC_TOL)
    assert r["PTV", "V95%[%]"].value == pytest.approx(97.5, abs=PCT_TOL)
    assert r["PTV", "V95%[%]"].roi == "PTV_2500"
    assert r["Bag_Bowel", "V22Gy[cc]"].roi == "Bowel_Cavity"
    assert all(x.status == "pass" for x in report.results)
    assert report.verdict == "pass"


def test_short_course_everything_fails() -> None:
    report = check_plan(short_plan(SHORT_BOWEL_FAIL, SHORT_PTV_FAIL), SHORT)
    r = by_metric(report)
    assert r["Bag_Bowel", "V18.5Gy[cc]"].value == pytest.approx(398.44, abs=CC_TOL)
    assert r["Bag_Bowel", "V22Gy[cc]"].value == pytest.approx(212.5, abs=CC_TOL)
    assert r["PTV", "V95%[%]"].value == pytest.approx(58.33, abs=PCT_TOL)
    assert [x.status for x in report.results] == ["fail", "fail", "fail", "pass"]
    assert report.summary() == (
        "FAIL — 3 of 3 mandatory constraints failed (Bag_Bowel V18.5Gy[cc], "
        "Bag_Bowel V22Gy[cc], PTV V95%[%])"
    )


def test_report_keeps_metric_as_written() -> None:
    cset = load_constraint_set_text(
        "name: spaced\nprescription: {dose_gy: 50.4}\nstructures:\n"
        "  - name: Bag_Bowel\n    aliases: [BowelBag]\n    constraints:\n"
        "      - V45.0Gy [cc] < 300\n"
        "      - {metric: ' V030Gy[cc]', op: '<', limit: 600}\n"
    )
    report = check_plan(long_plan(LONG_BOWEL_FAIL), cset)
    assert [report.metric_as_written(i) for i in range(2)] == ["V45.0Gy [cc]", "V030Gy[cc]"]
    assert [r.metric for r in report.results] == ["V45Gy[cc]", "V30Gy[cc]"]
    recs = report.result_records()
    assert [x["metric"] for x in recs] == ["V45.0Gy [cc]", "V030Gy[cc]"]
    assert recs[0]["value"] == pytest.approx(340.0, abs=CC_TOL)


# --- DVHs only for the ROIs the set needs -------------------------------------------------------
def test_dvhs_only_for_matched_rois(monkeypatch: pytest.MonkeyPatch) -> None:
    import dosecheck.core.engine as engine

    passes: list[str] = []  # one engine pass gives half-slice and none
    shape: list[str] = []  # a pass of its own, only near a limit
    real_variants, real = engine.compute_dvh_variants, engine.compute_dvh

    def spy_variants(structure, *args, **kwargs):
        passes.append(structure.name)
        return real_variants(structure, *args, **kwargs)

    def spy(structure, *args, **kwargs):
        shape.append(structure.name)
        assert kwargs["settings"].end_caps == "shape"
        return real(structure, *args, **kwargs)

    monkeypatch.setattr(engine, "compute_dvh_variants", spy_variants)
    monkeypatch.setattr(engine, "compute_dvh", spy)
    plan = long_plan(extra=("Bladder", "Femur_Head_L", "BODY"))
    report = check_plan(plan, LONG)
    assert passes == ["BowelBag", "PTV"]  # once each, though each has 2 constraints
    assert set(shape) <= {"BowelBag", "PTV"} and len(shape) == len(set(shape))
    assert [i.structure.name for i in report.dvhs] == ["BowelBag", "PTV"]
    assert report.dvhs[0].dvh.volume_cc == pytest.approx(680.0, abs=0.05)


# --- prescription precedence and warnings ---------------------------------------------------------
def test_prescription_from_rtplan() -> None:
    report = check_plan(long_plan(), LONG)
    rx = report.prescription
    assert (rx.dose_gy, rx.fractions, rx.source, rx.fractions_source) == (
        50.4,
        28,
        "RTPLAN",
        "RTPLAN",
    )
    assert rx.describe() == "50.4 Gy in 28 fractions (from RTPLAN)"


def test_prescription_command_line_beats_rtplan() -> None:
    # 47.88 Gy (95 % of 50.4) reaches 95.5 % of the PTV; with --prescription 49 the
    # threshold is 46.55 Gy, reached from x = -31.5 < -20: the whole PTV.
    report = check_plan(long_plan(), LONG, prescription_gy=49.0)
    assert report.prescription.source == "command line"
    assert report.prescription.fractions_source == "RTPLAN"
    assert report.prescription.dose_gy == 49.0
    v95 = by_metric(report)["PTV", "V95%[%]"]
    assert v95.value == pytest.approx(100.0, abs=PCT_TOL)
    assert v95.prescription_gy == 49.0
    assert any("overrides the RTPLAN's dose 50.4 Gy" in w for w in report.warnings)
    assert any(
        w.startswith("the command line prescribes 49 Gy but constraint set")
        for w in report.warnings
    )


def test_prescription_from_set_without_rtplan() -> None:
    report = check_plan(long_plan(rtplan=False), LONG)
    rx = report.prescription
    assert (rx.dose_gy, rx.fractions, rx.source) == (50.4, 28, "constraint set")
    assert by_metric(report)["PTV", "V95%[%]"].value == pytest.approx(95.5, abs=PCT_TOL)
    assert report.prescription_warnings == (
        "the plan has no RTPLAN: using the constraint set's 50.4 Gy in 28 fractions for the "
        "check; the plan cannot be confirmed to follow this protocol (give --prescription to "
        "state it)",
    )


def test_prescription_rtplan_beats_set() -> None:
    # A 45 Gy RTPLAN on the long-course set: the set is not used for the dose; the
    # PTV threshold is 42.75 Gy, below the whole PTV.
    report = check_plan(long_plan(prescription_gy=45.0), LONG)
    assert report.prescription.dose_gy == 45.0
    assert report.prescription.source == "RTPLAN"
    assert by_metric(report)["PTV", "V95%[%]"].value == pytest.approx(100.0, abs=PCT_TOL)


def test_wrong_protocol_warning() -> None:
    plan = memory_plan(SHORT_BOWEL_PASS, SHORT_PTV_PASS, prescription_gy=25.0, fractions=5)
    report = check_plan(plan, LONG)
    expected = (
        "RTPLAN prescribes 25 Gy in 5 fractions but constraint set 'Rectum long course "
        "50.4 Gy in 28 fractions' is for 50.4 Gy in 28 fractions — wrong protocol?"
    )
    assert expected in report.warnings
    assert report.prescription_warnings == (expected,)
    assert report.prescription.dose_gy == 25.0  # the RTPLAN's, not the set's


def test_fraction_mismatch_alone_warns() -> None:
    report = check_plan(long_plan(fractions=25), LONG)
    assert report.prescription_warnings == (
        "RTPLAN prescribes 50.4 Gy in 25 fractions but constraint set 'Rectum long course "
        "50.4 Gy in 28 fractions' is for 50.4 Gy in 28 fractions — wrong protocol?",
    )


def test_dose_within_half_percent_does_not_warn() -> None:
    report = check_plan(long_plan(prescription_gy=50.6), LONG)  # +0.4 %
    assert report.prescription_warnings == ()
    report = check_plan(long_plan(prescription_gy=50.7), LONG)  # +0.6 %
    assert len(report.prescription_warnings) == 1


def test_no_prescription_anywhere() -> None:
    # The loader refuses % metrics in a set without a prescription; a set built in
    # code can still lack one, and its % metrics are then not evaluated.
    cset = dataclasses.replace(LONG, prescription_gy=None, fractions=None)
    report = check_plan(long_plan(rtplan=False), cset)
    r = by_metric(report)
    assert r["PTV", "V95%[%]"].status == "not_evaluated"
    assert r["PTV", "V95%[%]"].reason == "metric_undefined"
    assert r["Bag_Bowel", "V30Gy[cc]"].value == pytest.approx(306.0, abs=CC_TOL)
    assert report.prescription.source == "none"
    assert report.prescription.describe() == "no prescription"
    assert any("no prescription dose" in w for w in report.warnings)
    assert report.verdict == "incomplete" and report.exit_code == 1
    assert "1 not evaluated (PTV V95%[%]: metric undefined)" in report.summary()


def test_set_without_prescription_uses_rtplan() -> None:
    cset = load_constraint_set_text(
        "name: absolute\nstructures:\n  - name: PTV\n    constraints:\n      - V47.88Gy[%] >= 95\n"
    )
    report = check_plan(long_plan(), cset)
    (result,) = report.results
    assert result.value == pytest.approx(95.5, abs=PCT_TOL)
    assert report.prescription.source == "RTPLAN"
    assert report.prescription_warnings == ()


def test_bad_prescription_is_input_error() -> None:
    with pytest.raises(InputError, match="positive dose"):
        check_plan(long_plan(), LONG, prescription_gy=0.0)
    with pytest.raises(InputError, match="fractions"):
        check_plan(long_plan(), LONG, fractions=0)


# --- not evaluated and strict ---------------------------------------------------------------
def test_missing_structure_and_strict() -> None:
    plan = long_plan(ptv_name="CTV")
    report = check_plan(plan, LONG)
    ptv = [r for r in report.results if r.structure == "PTV"]
    assert [r.status for r in ptv] == ["not_evaluated", "not_evaluated"]
    assert ptv[0].reason == "structure_not_found"
    assert report.verdict == "incomplete" and report.exit_code == 1
    assert report.summary() == (
        "INCOMPLETE — 2 of 3 mandatory constraints passed, 1 not evaluated "
        "(PTV: structure not found)"
    )
    strict = check_plan(plan, LONG, strict=True)
    assert strict.verdict == "fail" and strict.exit_code == 1
    assert strict.summary() == (
        "FAIL — 1 of 3 mandatory constraints failed (PTV V95%[%]); 1 optimal constraint not met"
    )


def test_ambiguous_structure() -> None:
    plan = long_plan(extra=("Bowel bag",))  # BowelBag and 'Bowel bag' both match the aliases
    report = check_plan(plan, LONG)
    bowel = [r for r in report.results if r.structure == "Bag_Bowel"]
    assert {r.reason for r in bowel} == {"structure_ambiguous"}
    assert "ambiguous" in bowel[0].message


def test_constraint_set_by_name_and_path() -> None:
    a = check_plan(long_plan(), "rectum-long-course")
    path = Path(LONG.path)
    b = check_plan(long_plan(), path)
    assert a.constraint_set.sha256 == b.constraint_set.sha256 == LONG.sha256
    assert [r.value for r in a.results] == [r.value for r in b.results]
    assert LONG.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


# --- identity from files -------------------------------------------------------------------
def test_plan_identity_with_file_hashes(tmp_path: Path) -> None:
    from dosecheck.api import load_plan

    folder = write_plan(tmp_path / "p", LONG_BOWEL_FAIL, LONG_PTV_PASS)
    report = check_plan(load_plan(folder), LONG)
    ident = report.plan
    assert ident["patient_id"] == "CHECK01"
    assert ident["plan_label"] == "BOXPLAN"
    assert ident["prescription_gy"] == pytest.approx(50.4)
    hashes = ident["sha256"]
    assert hashes["rtstruct"] == hashlib.sha256((folder / "rtstruct.dcm").read_bytes()).hexdigest()
    assert hashes["rtdose"] == [hashlib.sha256((folder / "rtdose.dcm").read_bytes()).hexdigest()]
    assert hashes["rtplan"] == hashlib.sha256((folder / "rtplan.dcm").read_bytes()).hexdigest()
    assert report.verdict == "fail"
    assert by_metric(report)["Bag_Bowel", "V45Gy[cc]"].value == pytest.approx(340.0, abs=CC_TOL)
    assert report.dosecheck_version
