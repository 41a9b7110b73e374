"""``dosecheck check`` and ``dosecheck constraints`` end to end: exit codes, output
formats, set selection, and the error line for bad input."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from dosecheck.checking.sets import load_shipped_set
from tests.helpers.paths import REPO
from tests.helpers.plans import (
    LONG_BOWEL_FAIL,
    LONG_BOWEL_PASS,
    LONG_PTV_PASS,
    SHORT_BOWEL_FAIL,
    SHORT_BOWEL_PASS,
    SHORT_PTV_PASS,
    write_plan,
)

LONG = load_shipped_set("rectum-long-course")
SHORT = load_shipped_set("rectum-short-course")
SETS_LISTING = (
    "Shipped sets: rectum-long-course (50.4 Gy in 28 fractions); "
    "rectum-short-course (25 Gy in 5 fractions)"
)


@pytest.fixture(scope="module")
def plans(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("plans")
    long = {"prescription_gy": 50.4, "fractions": 28}
    short = {"prescription_gy": 25.0, "fractions": 5}
    return {
        "long_pass": write_plan(root / "long_pass", LONG_BOWEL_PASS, LONG_PTV_PASS, **long),
        "long_fail": write_plan(root / "long_fail", LONG_BOWEL_FAIL, LONG_PTV_PASS, **long),
        "short_pass": write_plan(
            root / "short_pass",
            SHORT_BOWEL_PASS,
            SHORT_PTV_PASS,
            bowel_name="Bowel bag",
            ptv_name="PTV_25",
            **short,
        ),
        "short_fail": write_plan(root / "short_fail", SHORT_BOWEL_FAIL, SHORT_PTV_PASS, **short),
        "no_rtplan": write_plan(root / "no_rtplan", LONG_BOWEL_PASS, LONG_PTV_PASS, rtplan=False),
        "rx45": write_plan(
            root / "rx45", LONG_BOWEL_PASS, LONG_PTV_PASS, prescription_gy=45.0, fractions=25
        ),
        "no_ptv": write_plan(
            root / "no_ptv", LONG_BOWEL_PASS, LONG_PTV_PASS, ptv_name="CTV", **long
        ),
    }


# --- exit codes and set selection ---------------------------------------------------------------
def test_pass_exit_0_auto_selects_long(dc, plans) -> None:
    code, out, err = dc("check", plans["long_pass"])
    assert code == 0, err
    assert "Constraint set: Rectum long course 50.4 Gy in 28 fractions" in out
    assert "Prescription: 50.4 Gy in 28 fractions (from RTPLAN)" in out
    rows = [
        [c.strip() for c in ln.strip("│").split("│")] for ln in out.splitlines() if ln[:1] == "│"
    ]
    assert [r[0] for r in rows] == ["V30Gy[cc]", "V45Gy[cc]", "V95%[%]", "D2%[%]"]
    assert float(rows[0][1].removesuffix(" cc")) == pytest.approx(306.0, abs=0.25)
    assert rows[0][2:] == ["< 600 cc", rows[0][3], "mandatory", "PASS"]
    assert float(rows[1][1].removesuffix(" cc")) == pytest.approx(51.0, abs=0.25)
    assert float(rows[2][1].removesuffix("%")) == pytest.approx(95.5, abs=0.05)
    assert "PASS — all 3 mandatory constraints passed" in out
    assert err == ""


def test_fail_exit_1(dc, plans) -> None:
    code, out, _ = dc("check", plans["long_fail"])
    assert code == 1
    assert "FAIL — 1 of 3 mandatory constraints failed (Bag_Bowel V45Gy[cc])" in out


def test_short_course_auto_selected(dc, plans) -> None:
    code, out, _ = dc("check", plans["short_pass"], "--format", "json")
    assert code == 0
    doc = json.loads(out)
    assert doc["constraint_set"]["name"] == "Rectum short course 25 Gy in 5 fractions"
    assert doc["constraint_set"]["sha256"] == SHORT.sha256
    by = {r["metric"]: r for r in doc["results"]}
    assert by["V18.5Gy[cc]"]["roi"] == "Bowel bag"
    assert by["V18.5Gy[cc]"]["value"] == pytest.approx(191.25, abs=0.25)
    assert by["V22Gy[cc]"]["value"] == pytest.approx(42.5, abs=0.25)
    assert by["V95%[%]"]["roi"] == "PTV_25"
    assert by["V95%[%]"]["value"] == pytest.approx(97.5, abs=0.05)
    code, out, _ = dc("check", plans["short_fail"], "--format", "json")
    assert code == 1
    doc = json.loads(out)
    assert [r["status"] for r in doc["results"]] == ["fail", "fail", "pass", "pass"]
    assert doc["results"][0]["value"] == pytest.approx(398.44, abs=0.25)
    assert doc["results"][1]["value"] == pytest.approx(212.5, abs=0.25)


def test_no_matching_set_exit_2(dc, plans) -> None:
    code, out, err = dc("check", plans["rx45"])
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith(
        "dosecheck: error: no shipped constraint set is written for 45 Gy in 25 fractions; "
        "pass --constraints NAME|FILE."
    )
    assert SETS_LISTING in err


def test_no_rtplan_needs_constraints(dc, plans) -> None:
    code, _, err = dc("check", plans["no_rtplan"])
    assert code == 2
    assert "the plan has no RTPLAN prescription" in err and SETS_LISTING in err
    code, out, _ = dc("check", plans["no_rtplan"], "-c", "rectum-long-course")
    assert code == 0
    assert "Prescription: 50.4 Gy in 28 fractions (from constraint set)" in out
    assert "the plan has no RTPLAN" in out
    # --prescription and --fractions choose the set when there is no RTPLAN.
    code, out, _ = dc(
        "check", plans["no_rtplan"], "--prescription", "50.4", "--fractions", "28", "-f", "json"
    )
    assert code == 0
    doc = json.loads(out)
    assert doc["constraint_set"]["sha256"] == LONG.sha256
    assert doc["prescription"] == {
        "dose_gy": 50.4,
        "fractions": 28,
        "source": "command line",
        "fractions_source": "command line",
    }
    assert doc["warnings"] == []


def test_unknown_set_name_exit_2(dc, plans) -> None:
    code, _, err = dc("check", plans["long_pass"], "--constraints", "prostate")
    assert code == 2
    assert err == (
        "dosecheck: error: unknown constraint set 'prostate': not a file, and not the name of a "
        "shipped set; shipped sets: rectum-long-course, rectum-short-course (or give the path "
        "of a YAML file)\n"
    )


def test_bad_constraint_file_exit_2(dc, plans, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "name: bad\nstructures:\n  - name: Bag_Bowel\n    constraints:\n      - V45Gy[cc] = 300\n"
    )
    code, _, err = dc("check", plans["long_pass"], "--constraints", bad)
    assert code == 2
    assert err.startswith(f"dosecheck: error: {bad}:5: unknown comparator '='")


def test_usage_errors_exit_2(dc, plans) -> None:
    code, _, err = dc("check")
    assert code == 2
    assert "give a plan folder, or --rtstruct FILE and --rtdose FILE" in err
    code, _, err = dc("check", plans["long_pass"], "--prescription", "-5")
    assert code == 2
    assert "--prescription must be a positive dose in Gy" in err
    code, _, err = dc("check", plans["long_pass"] / "missing")
    assert code == 2


def test_bad_option_value_exit_2(dc, plans) -> None:
    code, _, err = dc("check", plans["long_pass"], "--format", "xml")
    assert code == 2
    assert "'xml' is not one of 'table', 'json', 'csv', 'junit', 'markdown'" in err


def test_explicit_files(dc, plans) -> None:
    folder = plans["long_fail"]
    code, out, _ = dc(
        "check",
        "--rtstruct",
        folder / "rtstruct.dcm",
        "--rtdose",
        folder / "rtdose.dcm",
        "--rtplan",
        folder / "rtplan.dcm",
        "-f",
        "json",
    )
    assert code == 1
    doc = json.loads(out)
    assert doc["plan"]["rtplan"].endswith("rtplan.dcm")
    assert doc["results"][1]["value"] == pytest.approx(340.0, abs=0.25)


# --- prescription on the command line and the wrong-protocol warning ---------------------------
def test_wrong_protocol_warning(dc, plans) -> None:
    code, out, err = dc("check", plans["short_pass"], "-c", "rectum-long-course")
    assert code == 1  # PTV_25 is not the long course's PTV: not evaluated, incomplete
    warning = (
        "RTPLAN prescribes 25 Gy in 5 fractions but constraint set 'Rectum long course 50.4 Gy "
        "in 28 fractions' is for 50.4 Gy in 28 fractions — wrong protocol?"
    )
    assert f"WARNING: {warning}" in out
    assert "INCOMPLETE — 2 of 3 mandatory constraints passed, 1 not evaluated (PTV: " in out
    code, out, err = dc("check", plans["short_pass"], "-c", "rectum-long-course", "-f", "json")
    assert warning in json.loads(out)["warnings"]
    assert f"warning: {warning}" in err  # machine formats repeat warnings on stderr


def test_command_line_prescription_precedence(dc, plans) -> None:
    # 95 % of 49 Gy = 46.55 Gy covers the whole PTV (95.5 % with the RTPLAN's 50.4 Gy).
    code, out, _ = dc("check", plans["long_pass"], "--prescription", "49", "-f", "json")
    assert code == 0
    doc = json.loads(out)
    assert doc["prescription"]["dose_gy"] == 49.0
    assert doc["prescription"]["source"] == "command line"
    v95 = next(r for r in doc["results"] if r["metric"] == "V95%[%]")
    assert v95["value"] == pytest.approx(100.0, abs=0.05)
    code, out, _ = dc("check", plans["long_pass"], "-f", "json")
    assert code == 0
    v95 = next(r for r in json.loads(out)["results"] if r["metric"] == "V95%[%]")
    assert v95["value"] == pytest.approx(95.5, abs=0.05)


def test_strict(dc, plans) -> None:
    code, out, _ = dc("check", plans["no_ptv"])
    assert code == 1
    assert "NOT EVALUATED" in out
    assert "INCOMPLETE — 2 of 3 mandatory constraints passed, 1 not evaluated" in out
    code, out, _ = dc("check", plans["no_ptv"], "--strict")
    assert code == 1
    assert "FAIL — 1 of 3 mandatory constraints failed (PTV V95%[%])" in out


# --- formats and --output ----------------------------------------------------------------------
def test_json_equals_table(dc, plans) -> None:
    from dosecheck.output.check_formats import format_value

    _, table, _ = dc("check", plans["long_fail"])
    _, out, _ = dc("check", plans["long_fail"], "-f", "json")
    doc = json.loads(out)
    rows = [
        [c.strip() for c in ln.strip("│").split("│")]
        for ln in table.splitlines()
        if ln.startswith("│")
    ]
    assert [r[0] for r in rows] == [r["metric"] for r in doc["results"]]
    assert [r[1] for r in rows] == [format_value(r["value"], r["unit"]) for r in doc["results"]]
    assert rows[1][1] == "340.00 cc"


def test_output_files(dc, plans, tmp_path: Path) -> None:
    folder = plans["long_fail"]
    for fmt, name in (
        ("csv", "r.csv"),
        ("junit", "r.xml"),
        ("markdown", "r.md"),
        ("table", "r.txt"),
    ):
        target = tmp_path / name
        code, out, err = dc("check", folder, "-f", fmt, "-o", target)
        assert code == 1
        assert out == ""
        assert "FAIL — 1 of 3 mandatory constraints failed (Bag_Bowel V45Gy[cc])" in err
        assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp left
    rows = list(csv.DictReader(io.StringIO((tmp_path / "r.csv").read_text())))
    assert [r["status"] for r in rows] == ["pass", "fail", "pass", "pass"]
    assert float(rows[1]["value"]) == pytest.approx(340.0, abs=0.25)
    suite = ET.parse(tmp_path / "r.xml").getroot().find("testsuite")
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("4", "1", "0")
    assert len(suite.findall("testcase")) == 4
    md = (tmp_path / "r.md").read_text()
    assert "| `V45Gy[cc]` | 340.00 cc | < 300 cc | -40.00 cc | mandatory | **FAIL** |" in md
    txt = (tmp_path / "r.txt").read_text()
    assert "\x1b[" not in txt
    assert "FAIL — 1 of 3 mandatory constraints failed (Bag_Bowel V45Gy[cc])" in txt


def test_output_folder_missing(dc, plans, tmp_path: Path) -> None:
    code, _, err = dc("check", plans["long_pass"], "-o", tmp_path / "no" / "r.json", "-f", "json")
    assert code == 2
    assert "the output folder does not exist" in err


# --- dosecheck constraints ----------------------------------------------------------------------
def test_constraints_list(dc) -> None:
    code, out, _ = dc("constraints", "list")
    assert code == 0
    assert "rectum-long-course" in out and "50.4 Gy in 28 fractions" in out
    assert "rectum-short-course" in out and "25 Gy in 5 fractions" in out


def test_constraints_show(dc) -> None:
    code, out, _ = dc("constraints", "show", "rectum-long-course")
    assert code == 0
    assert "Rectum long course 50.4 Gy in 28 fractions" in out
    for text in ("V30Gy[cc] < 600", "V45Gy[cc] < 300", "V95%[%] >= 95", "D2%[%] <= 107"):
        assert text in out
    assert "aliases: Spc_Bowel, BowelBag" in out
    assert "optimal" in out
    assert LONG.sha256 in out


def test_constraints_show_file_with_percent_limit(dc, tmp_path: Path) -> None:
    f = tmp_path / "set.yaml"
    f.write_text(
        "name: mine\nprescription: {dose_gy: 50}\nstructures:\n  - name: Rectum\n"
        "    constraints: ['Max[Gy] <= 107%']\n"
    )
    code, out, _ = dc("constraints", "show", f)
    assert code == 0
    assert "Max[Gy] <= 107%  (= 53.50 Gy)" in out


def test_constraints_validate(dc, tmp_path: Path) -> None:
    code, out, _ = dc("constraints", "validate", Path(LONG.path))
    assert (code, out) == (0, "OK: 2 structures, 4 constraints\n")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nstructures:\n  - name: Rectum\n    constraints: ['V30Gy[cc] < 60%']\n")
    code, out, err = dc("constraints", "validate", bad)
    assert code == 2
    assert out == ""
    assert err.startswith(f"dosecheck: error: {bad}:4: the limit '60%' is a percentage")
    code, _, err = dc("constraints", "validate", tmp_path / "missing.yaml")
    assert code == 2
    assert "no such constraint-set file" in err


# --- a real process ------------------------------------------------------------------------------
def test_subprocess_exit_codes(plans) -> None:
    def rc(*args: object) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "dosecheck", "check", *map(str, args)],
            capture_output=True,
            text=True,
            timeout=120,
        )

    assert rc(plans["long_pass"], "-f", "json").returncode == 0
    failed = rc(plans["long_fail"], "-f", "junit")
    assert failed.returncode == 1
    assert ET.fromstring(failed.stdout).find("testsuite").get("failures") == "1"
    bad = rc(plans["rx45"])
    assert bad.returncode == 2
    assert bad.stderr.startswith("dosecheck: error: no shipped constraint set")


# --- verdict honesty: incomplete ----------------------------------------------------------------
ABSENT_SET = (
    "name: absent\nstructures:\n  - name: Nowhere\n    constraints:\n      - Max[Gy] < 50\n"
)


def test_absent_structure_is_incomplete_exit_1(dc, plans, tmp_path: Path) -> None:
    cset = tmp_path / "absent.yaml"
    cset.write_text(ABSENT_SET)
    code, out, _ = dc("check", plans["long_pass"], "-c", cset)
    assert code == 1
    assert (
        "INCOMPLETE — 0 of 1 mandatory constraint passed, 1 not evaluated "
        "(Nowhere: structure not found)"
    ) in out
    assert "PASS" not in out
    code, out, _ = dc("check", plans["long_pass"], "-c", cset, "-f", "json")
    assert code == 1 and json.loads(out)["verdict"] == "incomplete"
    code, out, _ = dc("check", plans["long_pass"], "-c", cset, "-f", "junit")
    assert code == 1
    case = ET.fromstring(out).find(".//testcase")
    assert case is not None and case.find("skipped") is not None


def test_absent_structure_strict_is_fail_exit_1(dc, plans, tmp_path: Path) -> None:
    cset = tmp_path / "absent.yaml"
    cset.write_text(ABSENT_SET)
    code, out, _ = dc("check", plans["long_pass"], "-c", cset, "--strict")
    assert code == 1
    assert "FAIL — 1 of 1 mandatory constraint failed (Nowhere Max[Gy])" in out
    rows = [ln for ln in out.splitlines() if ln[:1] == "│"]
    assert len(rows) == 1 and "FAIL" in rows[0]
    code, out, _ = dc("check", plans["long_pass"], "-c", cset, "--strict", "-f", "json")
    doc = json.loads(out)
    assert doc["verdict"] == "fail" and doc["results"][0]["status"] == "fail"


SAMPLES = REPO / "sample_plans"


@pytest.mark.skipif(not SAMPLES.is_dir(), reason="sample_plans/ not generated")
@pytest.mark.parametrize(
    ("name", "code", "verdict"),
    [
        ("long_course_pass", 0, "pass"),
        ("long_course_bowel_fail", 1, "fail"),
        ("short_course", 0, "pass"),
    ],
)
def test_sample_plans_unchanged(dc, name: str, code: int, verdict: str) -> None:
    got, out, err = dc("check", SAMPLES / name, "-f", "json")
    assert got == code, err
    doc = json.loads(out)
    assert doc["verdict"] == verdict
    assert doc["counts"]["not_evaluated"] == 0
