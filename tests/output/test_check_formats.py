"""The check report in every output format: table, JSON, CSV, JUnit XML, Markdown."""

from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ET

import pytest

from dosecheck import __version__
from dosecheck.checking.check import CheckReport, check_plan
from dosecheck.checking.sets import load_shipped_set
from dosecheck.output import check_formats as cf
from tests.helpers.plans import LONG_BOWEL_FAIL, LONG_PTV_PASS, memory_plan

LONG = load_shipped_set("rectum-long-course")


@pytest.fixture(scope="module")
def failing() -> CheckReport:
    """Bowel V45Gy fails (340 cc); with --prescription 45 the PTV D2% (optimal) is
    51.62 / 45 = 114.7 % > 107 %; the prescription warnings are raised."""
    plan = memory_plan(LONG_BOWEL_FAIL, LONG_PTV_PASS, prescription_gy=50.4, fractions=28)
    return check_plan(plan, LONG, prescription_gy=45.0)


@pytest.fixture(scope="module")
def missing_ptv() -> CheckReport:
    """No PTV: its two constraints are not evaluated."""
    plan = memory_plan(LONG_BOWEL_FAIL, LONG_PTV_PASS, ptv_name="CTV")
    return check_plan(plan, LONG)


def table_rows(text: str) -> list[list[str]]:
    """The body rows of the rich tables in plain text."""
    rows = []
    for line in text.splitlines():
        if line.startswith("│"):
            rows.append([c.strip() for c in line.strip("│").split("│")])
    return rows


# --- format_value ---------------------------------------------------------------------------
def test_format_value() -> None:
    assert cf.format_value(340.0, "cc") == "340.00 cc"
    assert cf.format_value(95.5, "%") == "95.50%"
    assert cf.format_value(-40.0, "cc", signed=True) == "-40.00 cc"
    assert cf.format_value(4.5, "%", signed=True) == "+4.50%"
    assert cf.format_value(0.0312, "cc") == "0.0312 cc"
    assert cf.format_value(None, "cc") == "—"


# --- table -----------------------------------------------------------------------------------
def test_table(failing: CheckReport) -> None:
    text = cf.check_table_text(failing)
    rows = table_rows(text)
    assert [r[0] for r in rows] == ["V30Gy[cc]", "V45Gy[cc]", "V95%[%]", "D2%[%]"]
    v45 = rows[1]
    assert v45[1] == "340.00 cc"  # closed form 340 cc; the engine is within 0.005 cc
    assert v45[2] == "< 300 cc"
    assert v45[5] == "FAIL"
    assert rows[3][5] == "NOT MET (optimal)"
    assert rows[3][4] == "optimal"
    assert "Bag_Bowel — ROI 'BowelBag' (matched by alias)" in text
    assert "PTV — ROI 'PTV' (matched by name)" in text
    assert (
        "FAIL — 1 of 3 mandatory constraints failed (Bag_Bowel V45Gy[cc]); 1 optimal "
        "constraint not met" in text
    )
    assert (
        "Prescription: 45 Gy in 28 fractions (dose from command line, fractions from "
        "RTPLAN)" in text
    )
    assert "WARNING: the command line prescribes 45 Gy but constraint set" in text
    assert "V45Gy = 340" in text  # the failure's message under its table


def test_table_colours(failing: CheckReport) -> None:
    from rich.console import Console

    console = Console(record=True, width=120, file=io.StringIO(), force_terminal=True)
    cf.print_check_table(failing, console)
    styled = console.export_text(styles=True)
    assert "\x1b[1;31mFAIL" in styled  # bold red
    assert "\x1b[1;32mPASS" in styled  # bold green
    assert "\x1b[33mwarning:" in styled  # yellow


def test_table_not_evaluated(missing_ptv: CheckReport) -> None:
    text = cf.check_table_text(missing_ptv)
    rows = table_rows(text)
    assert rows[2] == ["V95%[%]", "—", ">= 95%", "—", "mandatory", "NOT EVALUATED"]
    assert "PTV — no matching ROI" in text
    assert "structure 'PTV' not found" in text


# --- JSON --------------------------------------------------------------------------------------
def test_json(failing: CheckReport) -> None:
    doc = json.loads(cf.check_json(failing))
    assert doc["verdict"] == "fail"
    assert doc["dosecheck_version"] == __version__
    assert doc["prescription"] == {
        "dose_gy": 45.0,
        "fractions": 28,
        "source": "command line",
        "fractions_source": "RTPLAN",
    }
    assert doc["constraint_set"]["name"] == "Rectum long course 50.4 Gy in 28 fractions"
    assert doc["constraint_set"]["sha256"] == LONG.sha256
    assert doc["constraint_set"]["path"] == LONG.path
    assert doc["plan"]["patient_id"] == "CHECK01"
    assert doc["plan"]["sha256"] == {"rtstruct": None, "rtdose": [], "rtplan": None}
    assert doc["counts"] == {"pass": 2, "fail": 2, "not_evaluated": 0}
    assert doc["warnings"] == list(failing.warnings)
    assert len(doc["warnings"]) == 2
    results = doc["results"]
    assert len(results) == 4
    required = {"structure", "roi", "metric", "value", "unit", "comparator", "limit"}
    required |= {"status", "message"}
    assert all(required <= set(r) for r in results)
    v45 = results[1]
    assert (v45["structure"], v45["roi"], v45["metric"]) == ("Bag_Bowel", "BowelBag", "V45Gy[cc]")
    assert v45["value"] == pytest.approx(340.0, abs=0.25)
    assert (v45["unit"], v45["comparator"], v45["limit"], v45["status"]) == ("cc", "<", 300, "fail")
    assert v45["priority"] == "mandatory"
    assert v45["margin"] == pytest.approx(300.0 - v45["value"])
    d2 = results[3]
    assert d2["status"] == "fail" and d2["priority"] == "optimal"
    assert d2["value"] == pytest.approx(100 * 51.62 / 45.0, abs=0.1)
    assert d2["prescription_gy"] == 45.0


def test_json_values_equal_the_table(failing: CheckReport) -> None:
    doc = json.loads(cf.check_json(failing))
    rows = table_rows(cf.check_table_text(failing))
    assert len(rows) == len(doc["results"]) == 4
    for row, rec in zip(rows, doc["results"], strict=True):
        assert row[0] == rec["metric"]
        assert row[1] == cf.format_value(rec["value"], rec["unit"])
        assert row[3] == cf.format_value(rec["margin"], rec["unit"], signed=True)
        assert row[4] == rec["priority"]
        expected = {"pass": "PASS", "fail": "FAIL", "not_evaluated": "NOT EVALUATED"}
        if rec["status"] == "fail" and rec["priority"] == "optimal":
            assert row[5] == "NOT MET (optimal)"
        else:
            assert row[5] == expected[rec["status"]]


def test_json_not_evaluated(missing_ptv: CheckReport) -> None:
    doc = json.loads(cf.check_json(missing_ptv))
    ptv = [r for r in doc["results"] if r["structure"] == "PTV"]
    assert [(r["status"], r["value"], r["roi"], r["reason"]) for r in ptv] == [
        ("not_evaluated", None, None, "structure_not_found")
    ] * 2
    assert ptv[0]["limit"] == 95.0


# --- CSV ---------------------------------------------------------------------------------------
def test_csv(failing: CheckReport) -> None:
    rows = list(csv.DictReader(io.StringIO(cf.check_csv(failing))))
    assert len(rows) == 4
    assert list(rows[0]) == list(cf.CSV_COLUMNS)
    doc = json.loads(cf.check_json(failing))
    for row, rec in zip(rows, doc["results"], strict=True):
        assert row["metric"] == rec["metric"]
        assert float(row["value"]) == rec["value"]  # full precision
        assert float(row["limit"]) == rec["limit"]
        assert row["status"] == rec["status"]
        assert row["message"] == rec["message"]
    assert rows[1]["status"] == "fail"
    assert float(rows[1]["value"]) == pytest.approx(340.0, abs=0.25)


def test_csv_not_evaluated_is_empty(missing_ptv: CheckReport) -> None:
    rows = list(csv.DictReader(io.StringIO(cf.check_csv(missing_ptv))))
    assert rows[2]["value"] == "" and rows[2]["margin"] == ""
    assert rows[2]["status"] == "not_evaluated"


# --- JUnit -------------------------------------------------------------------------------------
def test_junit(failing: CheckReport) -> None:
    root = ET.fromstring(cf.check_junit(failing))
    assert root.tag == "testsuites"
    (suite,) = root.findall("testsuite")
    assert suite.get("name") == LONG.name
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("4", "2", "0")
    cases = suite.findall("testcase")
    assert [(c.get("classname"), c.get("name")) for c in cases] == [
        ("Bag_Bowel", "V30Gy[cc] < 600"),
        ("Bag_Bowel", "V45Gy[cc] < 300"),
        ("PTV", "V95%[%] >= 95"),
        ("PTV", "D2%[%] <= 107 (optimal)"),
    ]
    failures = [c.find("failure") for c in cases]
    assert [f is not None for f in failures] == [False, True, False, True]
    assert failures[1].get("type") == "mandatory"
    assert failures[1].get("message").startswith("V45Gy = 340")
    assert failures[3].get("type") == "optimal"
    assert failures[3].get("message").startswith("optimal constraint not met: D2% = 114.7")
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props["verdict"] == "fail"
    assert props["prescription_gy"] == "45.0"
    assert props["prescription_source"] == "command line"
    assert props["constraint_set_sha256"] == LONG.sha256
    assert "wrong protocol?" in suite.find("system-err").text


def test_junit_skipped(missing_ptv: CheckReport) -> None:
    root = ET.fromstring(cf.check_junit(missing_ptv))
    suite = root.find("testsuite")
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("4", "1", "2")
    skipped = [c for c in suite.findall("testcase") if c.find("skipped") is not None]
    assert [c.get("name") for c in skipped] == ["V95%[%] >= 95", "D2%[%] <= 107 (optimal)"]
    assert "structure 'PTV' not found" in skipped[0].find("skipped").get("message")


def test_junit_is_valid_with_awkward_names() -> None:
    plan = memory_plan(LONG_BOWEL_FAIL, LONG_PTV_PASS, bowel_name="Bowel<&>\x01Bag")
    from dosecheck.checking.loader import load_constraint_set_text

    cset = load_constraint_set_text(
        "name: 'a <b> & \"c\"'\nstructures:\n  - name: Bag_Bowel\n    regex: 'bowel.*'\n"
        "    constraints: ['V45Gy[cc] < 300']\n"
    )
    xml = cf.check_junit(check_plan(plan, cset))
    root = ET.fromstring(xml)
    assert root.find("testsuite").get("name") == 'a <b> & "c"'
    assert "Bowel<&>Bag" in root.find("testsuite/testcase/failure").text


# --- Markdown ----------------------------------------------------------------------------------
def test_markdown(failing: CheckReport) -> None:
    md = cf.check_markdown(failing)
    assert md.startswith("# dosecheck check: Rectum long course 50.4 Gy in 28 fractions\n")
    assert "## Bag_Bowel — ROI 'BowelBag' (matched by alias)" in md
    assert "## PTV — ROI 'PTV' (matched by name)" in md
    table = [ln for ln in md.splitlines() if ln.startswith("| `")]
    assert len(table) == 4
    cells = [c.strip() for c in table[1].strip("|").split(" | ")]
    assert cells[:6] == [
        "`V45Gy[cc]`",
        cf.format_value(failing.results[1].value, "cc"),
        "< 300 cc",
        cf.format_value(300.0 - failing.results[1].value, "cc", signed=True),
        "mandatory",
        "**FAIL**",
    ]
    assert (
        "**FAIL — 1 of 3 mandatory constraints failed (Bag_Bowel V45Gy[cc]); 1 optimal "
        "constraint not met**"
    ) in md
    assert "## Warnings" in md
    assert f"`{LONG.sha256}`" in md


def test_markdown_escapes_pipes() -> None:
    import dataclasses

    # A set whose PTV regex holds a '|' (the shipped sets no longer list PTV spellings).
    bowel, ptv = LONG.structures
    ptv = dataclasses.replace(ptv, regex="PTV[ _-]*(50[._]?4|5040)[ _-]*(c?Gy)?")
    cset = dataclasses.replace(LONG, structures=(bowel, ptv))
    plan = memory_plan(LONG_BOWEL_FAIL, LONG_PTV_PASS, ptv_name="CTV")
    md = cf.check_markdown(check_plan(plan, cset))
    row = next(ln for ln in md.splitlines() if ln.startswith("| `V95%[%]`"))
    # The regex 'PTV[ _-]*(50[._]?4|5040)…' in the message must not split the row.
    assert "50[._]?4\\|5040" in row
    assert len(row.replace("\\|", "").split("|")) == 9  # 7 cells
