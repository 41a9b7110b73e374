"""A result within its variation limit in every check output format, and the exit
codes with and without ``--strict`` (issue #10, section 2)."""

from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from dosecheck.checking.check import CheckReport, check_plan
from dosecheck.checking.loader import load_constraint_set_text
from dosecheck.output import check_formats as cf
from dosecheck.report.html import render_report
from dosecheck.report.plots import STATUS_COLORS
from dosecheck.report.plots.markers import constraint_marker
from tests.helpers.plans import LONG_BOWEL_PASS, LONG_PTV_PASS, memory_plan, write_plan
from tests.helpers.variation import VARIATION_AND_FAIL_SET, VARIATION_SET


@pytest.fixture(scope="module")
def report() -> CheckReport:
    plan = memory_plan(LONG_BOWEL_PASS, LONG_PTV_PASS)
    return check_plan(plan, load_constraint_set_text(VARIATION_SET))


def test_table(report: CheckReport) -> None:
    text = cf.check_table_text(report)
    rows = [
        [c.strip() for c in line.strip("│").split("│")]
        for line in text.splitlines()
        if line.startswith("│")
    ]
    assert rows[0][0] == "V45Gy[cc]" and rows[0][-1].startswith(
        "VARIATION"
    )  # ≈: 50 lies in the end-cap range
    assert rows[0][1].startswith("51.0")  # 51 cc in closed form, 51.03 rasterised
    assert "< 50 cc (variation < 55 cc)" in rows[0][2]
    assert rows[1][-1] == "PASS"
    assert "1 within variation (Bag_Bowel V45Gy[cc])" in text
    assert cf._STATUS_STYLE[cf.ShownStatus.VARIATION] not in (
        cf._STATUS_STYLE[s] for s in cf.ShownStatus if s is not cf.ShownStatus.VARIATION
    )


def test_json_and_csv(report: CheckReport) -> None:
    doc = json.loads(cf.check_json(report))
    assert doc["verdict"] == "pass"
    assert [r["status"] for r in doc["results"]] == ["variation", "pass"]
    assert doc["counts"] == {"pass": 1, "fail": 0, "variation": 1, "not_evaluated": 0}
    assert doc["results"][0]["variation_limit"] == 55.0
    rows = list(csv.DictReader(io.StringIO(cf.check_csv(report))))
    assert [r["status"] for r in rows] == ["variation", "pass"]
    assert rows[0]["variation_limit"] == "55.0" and rows[1]["variation_limit"] == ""


def test_junit_is_no_failure(report: CheckReport) -> None:
    root = ET.fromstring(cf.check_junit(report))
    assert root.get("failures") == "0" and root.get("skipped") == "0"
    case = root.find("testsuite/testcase")
    assert case is not None and case.find("failure") is None
    props = {p.get("name"): p.get("value") for p in case.iter("property")}
    assert props["status"] == "variation" and props["variation_limit"] == "55"
    assert "fails_plan" not in props
    out = case.find("system-out")
    assert out is not None and out.text.startswith("VARIATION: goal missed")
    suite_props = {p.get("name"): p.get("value") for p in root.find("testsuite/properties")}
    assert suite_props["variations"] == "1"


def test_junit_strict_marks_the_plan_failing() -> None:
    plan = memory_plan(LONG_BOWEL_PASS, LONG_PTV_PASS)
    strict = check_plan(plan, load_constraint_set_text(VARIATION_SET), strict=True)
    root = ET.fromstring(cf.check_junit(strict))
    case = root.find("testsuite/testcase")
    props = {p.get("name"): p.get("value") for p in case.iter("property")}
    assert props["status"] == "variation" and props["fails_plan"] == "true"
    assert case.find("failure") is None


def test_markdown(report: CheckReport) -> None:
    md = cf.check_markdown(report)
    assert "| **VARIATION**" in md
    assert "within the variation limit 55 cc" in md


def test_html_badge_and_colour(report: CheckReport) -> None:
    html = render_report(report)
    assert '<span class="badge variation">VARIATION</span>' in html
    assert 'data-status="variation"' in html and "tr.status-variation" in html
    assert f"--variation: {STATUS_COLORS['variation']}" in html
    assert "1 within variation" in html
    assert len(set(STATUS_COLORS.values())) == len(STATUS_COLORS)  # distinct colours


def test_plot_marker_colour(report: CheckReport) -> None:
    dvh = next(d for d in report.dvhs if d.structure.name == report.results[0].roi).dvh
    marker = constraint_marker(report, 0, dvh)
    assert marker is not None and marker.status == "variation"
    assert "VARIATION" in marker.label
    assert STATUS_COLORS[marker.status] == "#8250df"


@pytest.fixture(scope="module")
def plan_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("variation")
    return write_plan(root / "plan", LONG_BOWEL_PASS, LONG_PTV_PASS)


@pytest.mark.parametrize(
    ("text", "strict", "code", "verdict"),
    [
        (VARIATION_SET, False, 0, "pass"),
        (VARIATION_SET, True, 1, "fail"),
        (VARIATION_AND_FAIL_SET, False, 1, "fail"),
    ],
)
def test_exit_codes(dc, plan_dir: Path, tmp_path: Path, text, strict, code, verdict) -> None:
    cset = tmp_path / "v.yaml"
    cset.write_text(text)
    args = ["check", plan_dir, "-c", cset, "-f", "json"] + (["--strict"] if strict else [])
    got, out, _ = dc(*args)
    assert got == code
    doc = json.loads(out)
    assert doc["verdict"] == verdict
    assert doc["results"][0]["status"] == "variation"
