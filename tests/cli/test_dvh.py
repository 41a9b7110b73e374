"""`dosecheck dvh` end to end on the shipped sample plans."""

from __future__ import annotations

import csv
import io
import itertools
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.paths import REPO

PASS_PLAN = REPO / "sample_plans" / "long_course_pass"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dosecheck", *args], capture_output=True, text=True, timeout=300
    )


@pytest.fixture(scope="module")
def dvh_json() -> dict:
    r = run("dvh", str(PASS_PLAN), "--format", "json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_json_has_the_documented_keys(dvh_json: dict) -> None:
    assert set(dvh_json) >= {"structures", "warnings", "plan", "dosecheck_version"}
    s = dvh_json["structures"][0]
    assert set(s) >= {
        "name",
        "number",
        "volume_cc",
        "min_gy",
        "mean_gy",
        "max_gy",
        "outside_grid_cc",
        "dvh",
    }
    assert set(s["dvh"]) == {"dose_gy", "volume_cc"}
    assert len(dvh_json["structures"]) == 13


def test_curve_starts_at_full_volume_and_reaches_zero(dvh_json: dict) -> None:
    for s in dvh_json["structures"]:
        curve = s["dvh"]
        assert curve["dose_gy"][0] == 0.0
        assert curve["volume_cc"][0] == pytest.approx(s["volume_cc"], rel=1e-4)
        assert curve["volume_cc"][-1] == pytest.approx(0.0, abs=1e-3)
        vols = curve["volume_cc"]
        assert all(a >= b - 1e-9 for a, b in itertools.pairwise(vols))
        assert s["min_gy"] <= s["mean_gy"] <= s["max_gy"]


def test_plan_identity_comes_from_the_rtplan(dvh_json: dict) -> None:
    plan = dvh_json["plan"]
    assert plan["prescription_gy"] == pytest.approx(50.4)
    assert plan["fractions"] == 28
    assert plan["patient_id"] == "SYNTH-RECT-LC-PASS"


def test_structure_selection_and_csv() -> None:
    r = run("dvh", str(PASS_PLAN), "-s", "Bag_Bowel", "-s", "bladder", "--format", "csv")
    assert r.returncode == 0, r.stderr
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert [row["name"] for row in rows] == ["Bag_Bowel", "Bladder"]
    assert float(rows[0]["volume_cc"]) == pytest.approx(1443, rel=0.01)


def test_unknown_structure_is_exit_2_naming_the_rois_present() -> None:
    r = run("dvh", str(PASS_PLAN), "-s", "Spleen")
    assert r.returncode == 2
    assert "no ROI named 'Spleen'" in r.stderr
    assert "Bag_Bowel" in r.stderr
    assert "Traceback" not in r.stderr


def test_missing_plan_folder_is_exit_2() -> None:
    r = run("dvh", str(REPO / "no_such_plan"))
    assert r.returncode == 2
    assert "no_such_plan" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_output_file_is_written(tmp_path: Path) -> None:
    out = tmp_path / "dvh.json"
    r = run("dvh", str(PASS_PLAN), "-s", "PTV50.4", "--format", "json", "--output", str(out))
    assert r.returncode == 0, r.stderr
    assert r.stdout == ""
    assert json.loads(out.read_text())["structures"][0]["name"] == "PTV50.4"


def test_dicompyler_engine_gives_the_same_shape_and_close_volumes(dvh_json: dict) -> None:
    pytest.importorskip("dicompylercore")
    r = run("dvh", str(PASS_PLAN), "-s", "Bag_Bowel", "--engine", "dicompyler", "-f", "json")
    assert r.returncode == 0, r.stderr
    ref = json.loads(r.stdout)["structures"][0]
    ours = next(s for s in dvh_json["structures"] if s["name"] == "Bag_Bowel")
    assert set(ref) == set(ours)
    # dicompyler-core has no end caps (half a 3 mm slice at each end of the bag).
    assert ref["volume_cc"] == pytest.approx(ours["volume_cc"], rel=0.03)
    assert ref["mean_gy"] == pytest.approx(ours["mean_gy"], abs=0.5)


def test_parallel_structures_give_identical_output(tmp_path: Path) -> None:
    outs = []
    for jobs in ("1", "2"):
        out = tmp_path / f"j{jobs}.json"
        r = run("dvh", str(PASS_PLAN), "--format", "json", "--jobs", jobs, "--output", str(out))
        assert r.returncode == 0, r.stderr
        outs.append(json.loads(out.read_text()))
    assert outs[0] == outs[1]
    assert len(outs[0]["structures"]) == 13
