"""Every real export in ``../shared/data`` through ``dvh`` and ``check``, as a user would
run them: no traceback, and no number that the data set's README contradicts.

The figures asserted come from each folder's README (written by the people who
collected the data, not by dosecheck): plan maxima, box volumes, TPS statistics. The
tests skip when the data are absent (a user's fresh clone).
"""

from __future__ import annotations

import json
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

from tests.helpers.paths import REPO
from tests.helpers.shared_data import SHARED_DATA, shared_dataset

LONG_COURSE = str(REPO / "constraints" / "rectum-long-course.yaml")

#: Folders (relative to ../shared/data) that hold one loadable plan, with the highest
#: dose the README gives for the plan's RTDOSE (Gy).
PLANS = {
    "dicompyler-core-example": 14.68,
    "pinnacle96-prostate-ovh": 69.30,
    "pps-brainsrs-raystation/BrainSRSRaystationIMRT": 61.97,
    "pps-brainsrs-raystation/BrainSRSRaystationVMAT": 52.50,
    "pps-gammaknife-gfov-negative": 33.84,
    "aptg-raystation12-cube-boxes": 1.934,
    "robustbrachy-hdr-prostate/v2021_initial": 455.2,
    "robustbrachy-hdr-prostate/v2024_updated": 2043.0,
}

#: Folders that must be refused with exit 2 and one line containing these words.
REFUSED = {
    # files that do not belong together: the only RTSTRUCT is of another patient
    "pydicom-testfiles": "another patient",
    # the RTDOSE is not in the data set (only SlicerRT's NRRD conversion)
    "slicerrt-eclipse-prostate": "no RTDOSE",
    # eight dose headers without pixel data, and no structure set
    "pymedphys-eclipse137-dicomorient-headers": "no RTSTRUCT",
    # two complete plans (IMRT and VMAT) in one folder: the user must choose
    "pps-brainsrs-raystation": "pps-brainsrs-raystation",
}


@cache
def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dosecheck", *args],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=REPO,
    )


def _folder(name: str) -> Path:
    top = name.split("/")[0]
    return shared_dataset(top) / name[len(top) + 1 :] if "/" in name else shared_dataset(name)


def _dvh(name: str) -> dict:
    proc = _run("dvh", str(_folder(name)), "--format", "json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def _by_name(doc: dict) -> dict[str, dict]:
    return {s["name"]: s for s in doc["structures"]}


def _no_traceback(proc: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in proc.stderr
    assert "internal error" not in proc.stderr


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(PLANS))
def test_dvh_runs_and_no_dose_exceeds_the_readme_maximum(name: str) -> None:
    doc = _dvh(name)
    plan_max = PLANS[name]
    maxima = [s["max_gy"] for s in doc["structures"] if s["max_gy"] is not None]
    assert maxima, "no structure with dose"
    # A structure's maximum can reach the grid maximum, never exceed it (0.1 % for
    # interpolation at contour vertices).
    assert max(maxima) <= plan_max * 1.001 + 0.005


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(PLANS))
def test_check_runs_without_traceback(name: str) -> None:
    proc = _run("check", str(_folder(name)), "--constraints", LONG_COURSE, "--format", "json")
    _no_traceback(proc)
    assert proc.returncode in (0, 1), proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["verdict"] in ("pass", "fail", "incomplete")
    # None of these plans is a rectal long course: the mismatch must be said.
    assert any("wrong protocol" in w or "no RTPLAN" in w for w in doc["warnings"])


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(REFUSED))
def test_refused_folders_exit_2_with_one_line(name: str) -> None:
    for args in (("dvh",), ("check", "--constraints", LONG_COURSE)):
        proc = _run(args[0], str(_folder(name)), *args[1:])
        _no_traceback(proc)
        assert proc.returncode == 2, proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("dosecheck: error: "), proc.stderr
        assert REFUSED[name] in lines[0]


def test_every_shared_folder_is_covered() -> None:
    """A data set added to ../shared/data must be added to PLANS or REFUSED."""
    if not SHARED_DATA.is_dir():
        pytest.skip("no ../shared/data")
    covered = {n.split("/")[0] for n in (*PLANS, *REFUSED)}
    # The Nelms analytical set is many structure/dose pairs, validated on its own
    # (tests/validation/test_nelms.py).
    present = {p.name for p in SHARED_DATA.iterdir() if p.is_dir()} - {"nelms2015-analytical-dvh"}
    assert present <= covered, sorted(present - covered)


# --- numbers from the READMEs ------------------------------------------------------------
@pytest.mark.slow
def test_raystation_boxes_volumes_follow_the_half_slice_end_caps() -> None:
    s = _by_name(_dvh("aptg-raystation12-cube-boxes"))
    # README: boxes contoured on their boundary planes every 5 mm; with half-slice end
    # caps (dosecheck's convention) Box522 is 25 cc and Cube101010 1050 cc.
    assert s["Box522"]["volume_cc"] == pytest.approx(25.0, abs=0.05)
    assert s["Cube101010"]["volume_cc"] == pytest.approx(1050.0, abs=0.5)
    assert s["Slope101004"]["volume_cc"] == pytest.approx(735.0, abs=0.5)
    # README orientation figures (voxel-centre sampling): cube mean 1.82, max 1.93 Gy
    assert s["Cube101010"]["mean_gy"] == pytest.approx(1.82, abs=0.03)
    assert s["Cube101010"]["max_gy"] == pytest.approx(1.934, abs=0.005)
    # Box555 lies partly outside the dose grid: in-grid plus outside is the slab volume
    box = s["Box555"]
    assert box["volume_cc"] + box["outside_grid_cc"] == pytest.approx(137.5, abs=0.1)
    assert box["max_gy"] < 0.01  # README: ~0 Gy (max 0.0056)


@pytest.mark.slow
def test_eclipse_breast_heart_against_the_embedded_tps_statistics() -> None:
    heart = _by_name(_dvh("dicompyler-core-example"))["Heart"]
    # README: Eclipse DVHSequence for the Heart: 437.46 cc, mean 0.6427, max 3.11 Gy
    assert heart["volume_cc"] == pytest.approx(437.46, rel=0.01)
    assert heart["mean_gy"] == pytest.approx(0.6427, abs=0.01)
    assert heart["max_gy"] == pytest.approx(3.11, abs=0.05)


@pytest.mark.slow
def test_pinnacle_prostate_levels_below_the_plan_maximum() -> None:
    s = _by_name(_dvh("pinnacle96-prostate-ovh"))
    # README: PTV names encode 67 / 60 / 57.6 / 48.6 Gy, plan max 69.3 Gy. Each PTV's
    # mean lies near its level; the copies "_sg" have the same contours.
    for name, level in (("PTV_67Gy", 67), ("PTV_60Gy", 60), ("PTV_57_6Gy", 57.6)):
        assert s[name]["mean_gy"] == pytest.approx(level, rel=0.05)
    assert s["PTV48.6_sg"]["volume_cc"] == pytest.approx(s["PTV_48_6Gy"]["volume_cc"], rel=1e-9)
    # Empty ROIs are reported with no volume, not dropped
    assert s["Bowel"]["volume_cc"] == 0 and s["Bowel"]["max_gy"] is None


@pytest.mark.slow
def test_brachy_volumes_and_the_2024_grid_that_misses_the_structures() -> None:
    v2021 = _by_name(_dvh("robustbrachy-hdr-prostate/v2021_initial"))
    # README contour-area volumes: Prostate 6.24, Urethra 0.287, Rectum 0.890 cc
    assert v2021["Prostate"]["volume_cc"] == pytest.approx(6.24, rel=0.01)
    assert v2021["Urethra"]["volume_cc"] == pytest.approx(0.287, rel=0.02)
    assert v2021["Rectum"]["volume_cc"] == pytest.approx(0.890, rel=0.01)
    assert v2021["Prostate"]["outside_grid_cc"] == 0
    v2024 = _dvh("robustbrachy-hdr-prostate/v2024_updated")
    prostate = _by_name(v2024)["Prostate"]
    # README: the 2024 dose grid does not cover the structures; it must be flagged
    assert prostate["outside_grid_cc"] > 1.0
    assert any("outside the dose grid" in w for w in prostate["warnings"])


@pytest.mark.slow
def test_gamma_knife_partial_coverage_is_reported() -> None:
    skull = _by_name(_dvh("pps-gammaknife-gfov-negative"))["*Skull"]
    # README: the tiny dose grid covers only a sliver of the skull; Dmax 33.85 Gy
    assert skull["outside_grid_cc"] > 100 * skull["volume_cc"]
    assert skull["max_gy"] == pytest.approx(33.8, abs=0.3)
