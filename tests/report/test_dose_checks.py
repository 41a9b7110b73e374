"""The plan report's dose checks (issue #12 in the HTML): the dose-scale record near the
verdict, the PLAN dose against its BEAM doses, the parts of a plan sum, and how each
constraint's ROI was matched, escaped and self-contained.

Plans: the linear-dose plans of :mod:`tests.helpers.dose_scale_plans` (75.6 Gy at the beam dose
point for the course; 1.5 × that for the unexplained one; 100 × for the cGy slip), the
box plans of :mod:`tests.helpers.batch_plans` (maximum 52 Gy) and the sequential boost of
:mod:`tests.helpers.courses` (45 Gy in 25 fx + 5.4 Gy in 3 fx).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from dosecheck.checking.check import check_plan
from dosecheck.checking.loader import load_constraint_set_text
from dosecheck.dicom.load import load_plan
from dosecheck.report.dose_checks import render_dose_checks
from tests.helpers.batch_plans import write_box_plan
from tests.helpers.dose_scale_plans import BEAMS, D0_TOTAL, write_case
from tests.helpers.html import Element, assert_self_contained, by_id, parse_html

pytest.importorskip("matplotlib")

PTV_ONLY = "name: ptv only\nstructures:\n  - name: PTV\n    constraints:\n      - Max[Gy] < 200\n"


def _html(plan: Any, cset: Any = None, **kwargs: Any) -> tuple[str, Any]:
    from dosecheck.report.html import render_report

    report = check_plan(plan, cset or load_constraint_set_text(PTV_ONLY), **kwargs)
    html = render_report(report)
    return html, parse_html(html)


def _fields(el: Element) -> dict[str, str]:
    return {e.attrs["data-field"]: e.text_content() for e in el.iter() if "data-field" in e.attrs}


def test_consistent_dose_scale_near_the_verdict(tmp_path: Path) -> None:
    plan = load_plan(write_case(tmp_path, d0=D0_TOTAL, label="PLAN", beam_doses=BEAMS))
    html, tree = _html(plan)
    assert_self_contained(html, tree)
    box = by_id(tree, "dose-scale")
    assert box.attrs["data-verdict"] == "consistent" and "check-ok" in box.attrs["class"]
    assert box.attrs["data-method"] == "beam_dose_points"
    assert json.loads(box.attrs["data-ratio"]) == pytest.approx(1.0, rel=1e-5)
    f = _fields(box)
    assert f["expected_gy"] == "75.60 Gy (RTPLAN)" and f["measured_gy"] == "75.60 Gy (RTDOSE)"
    assert f["ratio"] == "1.000" and f["label"] == "PLAN"
    assert f["basis"] == "as the course total (from label)"
    assert f["detail"] == "1 of 1 beam dose point(s) used"
    line = [e for e in by_id(tree, "verdict").iter() if "verdict-scale" in e.attrs.get("class", "")]
    assert line[0].text_content() == "Dose scale: consistent (beam dose points, ratio 1.000)"
    # Right after the header, before the warnings.
    assert html.index('id="dose-checks"') < html.index('id="warnings"')
    assert 'id="beam-dose-check"' not in html and 'id="plan-sum"' not in html


def test_unexplained_dose_scale_is_a_prominent_warning(tmp_path: Path) -> None:
    plan = load_plan(write_case(tmp_path, d0=D0_TOTAL * 1.5, label="PLAN", beam_doses=BEAMS))
    _, tree = _html(plan)
    box = by_id(tree, "dose-scale")
    assert box.attrs["data-verdict"] == "unexplained" and "check-warn" in box.attrs["class"]
    assert box.attrs["role"] == "alert"
    assert "NOT CONFIRMED (unexplained ratio)" in box.text_content()
    f = _fields(box)
    assert f["measured_gy"] == "113.40 Gy (RTDOSE)" and f["ratio"] == "1.500"
    assert "dose scale not confirmed: RTDOSE is labelled PLAN and holds 113.4 Gy" in (
        box.text_content()
    )
    verdict = by_id(tree, "verdict").text_content()
    assert "Dose scale NOT CONFIRMED (unexplained ratio)" in verdict


def test_overridden_contradiction_is_an_alert(tmp_path: Path) -> None:
    folder = write_case(tmp_path, d0=D0_TOTAL * 100, label="PLAN", beam_doses=BEAMS)
    _, tree = _html(load_plan(folder, dose_is="labelled"))
    box = by_id(tree, "dose-scale")
    assert box.attrs["data-verdict"] == "unit_slip" and "check-alert" in box.attrs["class"]
    assert json.loads(box.attrs["data-ratio"]) == pytest.approx(100.0, rel=1e-5)
    assert _fields(box)["basis"] == "as the course total (from --dose-is)"


def test_not_verified_box_plan(tmp_path: Path) -> None:
    # without an RTPLAN nothing can confirm the dose scale
    _, tree = _html(load_plan(write_box_plan(tmp_path / "p", rtplan=False).folder))
    box = by_id(tree, "dose-scale")
    assert box.attrs["data-verdict"] == "not_verified" and "check-warn" in box.attrs["class"]
    assert _fields(box)["method"] == "no evidence (no RTPLAN, or nothing in it to compare with)"
    assert _fields(box)["ratio"] == "—"
    assert "no RTPLAN to compare the dose with" in box.text_content()


def test_box_plan_confirmed_by_its_ptv_name(tmp_path: Path) -> None:
    # the box plan's PTV is typed ORGAN: its name finds it, median 49.7 Gy for 50.4 Gy
    _, tree = _html(load_plan(write_box_plan(tmp_path / "p").folder))
    box = by_id(tree, "dose-scale")
    assert box.attrs["data-verdict"] == "consistent"
    assert json.loads(box.attrs["data-ratio"]) == pytest.approx(49.7 / 50.4, rel=1e-4)
    assert "target found by PTV in the ROI name" in box.text_content()


def test_beam_dose_check_differs(tmp_path: Path) -> None:
    w = write_box_plan(tmp_path / "p", beam_doses=2)
    w.rtdose[2].unlink()  # one of the two beams: PLAN − beam 1 is half the PLAN dose
    html, tree = _html(load_plan(w.folder))
    assert_self_contained(html, tree)
    box = by_id(tree, "beam-dose-check")
    assert box.attrs["data-consistent"] == "false" and "check-warn" in box.attrs["class"]
    assert "DIFFER" in box.text_content()
    f = _fields(box)
    assert f["consistent"] == "NO" and f["max_abs_diff_gy"] == "26 Gy"
    assert f["at_mm"].startswith("(100.0, ")
    assert f["beam_doses"].endswith("RD_beam1.dcm") and f["plan_dose"].endswith("RD.dcm")
    exact = [e for e in box.iter() if "data-value" in e.attrs]
    assert json.loads(exact[0].attrs["data-value"]) == pytest.approx(26.0, abs=1e-3)


def test_beam_dose_check_agrees(tmp_path: Path) -> None:
    _, tree = _html(load_plan(write_box_plan(tmp_path / "p", beam_doses=2).folder))
    box = by_id(tree, "beam-dose-check")
    assert box.attrs["data-consistent"] == "true" and "check-ok" in box.attrs["class"]
    assert _fields(box)["max_abs_diff_gy"] == "0 Gy" and _fields(box)["n_compared"] == "21525"


def test_plan_sum_parts(tmp_path: Path) -> None:
    from dosecheck.dicom.plan_sum import load_plan_sum
    from tests.helpers.courses import boost_course

    plan = load_plan_sum(boost_course(tmp_path / "course"))
    html, tree = _html(plan)
    assert_self_contained(html, tree)
    rows = [e for e in by_id(tree, "plan-sum").iter() if e.tag == "tr" and "data-index" in e.attrs]
    parts = {_fields(r)["label"]: _fields(r) for r in rows}
    assert parts["MAIN"]["prescription_gy"] == "45.00 Gy" and parts["MAIN"]["fractions"] == "25"
    assert parts["BOOST"]["prescription_gy"] == "5.40 Gy" and parts["BOOST"]["fractions"] == "3"
    assert parts["MAIN"]["dose_per_fraction_gy"] == "1.80 Gy"
    assert parts["BOOST"]["dose_per_fraction_gy"] == "1.80 Gy"
    assert parts["BOOST"]["rtplan"].endswith("rp_BOOST.dcm")
    assert by_id(tree, "plan-sum-parts").attrs["data-parts"] == "2"
    assert "Dose scale: checked per plan of the sum" in by_id(tree, "dose-scale").text_content()


def test_each_constraint_says_how_its_roi_was_matched(tmp_path: Path) -> None:
    from dosecheck.checking.sets import load_shipped_set
    from dosecheck.checking.site_names import load_site_names_text

    w = write_box_plan(tmp_path / "p", bowel_name='Bowel <b>&"x', ptv_name="PTV_5040")
    site = load_site_names_text("Bag_Bowel: ['Bowel <b>&\"x']\n")
    html, tree = _html(load_plan(w.folder), load_shipped_set("rectum-long-course"), site_names=site)
    assert_self_contained(html, tree)
    assert 'Bowel <b>&"x' not in html  # escaped everywhere
    rows = [e for e in tree.root.iter() if e.tag == "tr" and "data-matched-by" in e.attrs]
    groups = {e.attrs["data-structure"]: e for e in rows if "group" in e.attrs["class"]}
    results = [e for e in rows if "result" in e.attrs["class"]]
    assert groups["Bag_Bowel"].attrs["data-roi"] == 'Bowel <b>&"x'
    assert groups["Bag_Bowel"].attrs["data-matched-by"] == "site map"
    assert "matched by the site alias file" in groups["Bag_Bowel"].text_content()
    ptv = groups["PTV"]
    assert ptv.attrs["data-matched-by"] == "tg263"
    assert ptv.attrs["data-match-detail"] == "TG-263 dose level 50.4 Gy = the prescription"
    assert "TG-263 target name: TG-263 dose level 50.4 Gy = the prescription" in (
        ptv.text_content()
    )
    assert [r.attrs["data-matched-by"] for r in results] == ["site map"] * 2 + ["tg263"] * 2


def test_dose_checks_escape_what_files_say() -> None:
    evil = '<script>alert("x")</script> & PTV'
    plan = {
        "dose_scale": {
            "verdict": "unexplained",
            "method": "target",
            "label": "PLAN",
            "basis": "total",
            "basis_source": "label",
            "fractions": 5,
            "expected_gy": 25.0,
            "measured_gy": 40.0,
            "ratio": 1.6,
            "detail": f"median dose of {evil}",
            "message": f"dose scale not confirmed: {evil}",
            "points": [],
        },
        "beam_dose_check": {
            "plan_dose": f"/x/{evil}.dcm",
            "beam_doses": [f"/x/{evil}-1.dcm"],
            "max_abs_diff_gy": 0.5,
            "at_mm": [1.0, 2.0, 3.0],
            "tolerance_gy": 0.01,
            "consistent": False,
            "resampled": True,
            "n_compared": 10,
        },
        "plan_sum": {
            "parts": [
                {
                    "label": evil,
                    "plan_uid": "1",
                    "prescription_gy": None,
                    "fractions": 5,
                    "dose_per_fraction_gy": None,
                    "rtplan": f"/x/{evil}",
                    "rtdose": [],
                }
            ],
            "note": evil,
        },
    }
    html = render_dose_checks(plan)
    assert "<script>" not in html and "&lt;script&gt;" in html
    tree = parse_html(html)
    assert by_id(tree, "beam-dose-check").attrs["data-consistent"] == "false"
    assert "(1.0, 2.0, 3.0) mm" in by_id(tree, "beam-dose-check").text_content()
    (row,) = [
        e for e in by_id(tree, "plan-sum").iter() if e.tag == "tr" and "data-index" in e.attrs
    ]
    assert _fields(row)["label"] == evil and _fields(row)["prescription_gy"] == "—"
