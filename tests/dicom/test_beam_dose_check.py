"""A PLAN dose exported with its BEAM doses: the PLAN dose is used, the beams are
summed and compared with it voxel by voxel (folder, explicit --rtdose, batch)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pydicom
import pytest

from dosecheck.checking.check import check_plan
from dosecheck.dicom.discovery import discover, find_plan_files
from dosecheck.dicom.dose import read_rtdose
from dosecheck.dicom.dose_sum import compare_beam_doses
from dosecheck.dicom.load import load_plan
from dosecheck.dicom.writer import write_rtdose
from dosecheck.errors import DicomInputError
from dosecheck.model import DoseGrid
from tests.helpers.batch_plans import write_box_plan
from tests.helpers.cli import run_cli
from tests.helpers.rt_folders import FOR_UID, X, Z, beam_values, grid, write_export


def scaling_gy(path: Path) -> float:
    return float(pydicom.dcmread(path, stop_before_pixels=True).DoseGridScaling)


def test_plan_dose_with_consistent_beams_same_grid(tmp_path: Path) -> None:
    paths = write_export(tmp_path)
    files = find_plan_files(tmp_path)
    assert files.rtdose == (str(paths["plan"]),)
    assert files.beam_doses == (str(paths["beam1"]), str(paths["beam2"]))
    plan = load_plan(tmp_path)
    # The PLAN dose is used: maximum 1 + 0.05·40 + 0.08 for beam 1 plus the same for beam 2.
    assert plan.dose.max_gy == pytest.approx(2 * (1.0 + 2.0 + 0.08), abs=1e-3)
    check = plan.beam_dose_check
    assert check is not None and check.consistent and not check.resampled
    expected_tol = 0.5 * sum(scaling_gy(paths[k]) for k in ("plan", "beam1", "beam2"))
    expected_tol += 4 * float(np.finfo(np.float32).eps) * plan.dose.max_gy  # float32 sums
    assert check.tolerance_gy == pytest.approx(expected_tol, rel=1e-3)
    # 16-bit files: each is off by at most half a step, so the sum by at most the tolerance
    assert 0 < check.max_abs_diff_gy <= check.tolerance_gy
    assert check.n_compared == X.size * X.size * Z.size
    assert any(
        w.startswith("rd_plan.dcm: the PLAN dose agrees with the sum of its 2 BEAM doses")
        and w.endswith("; the PLAN dose is used")
        for w in plan.warnings
    )
    assert plan.files.beam_doses == files.beam_doses


def test_plan_dose_with_consistent_beams_on_another_grid(tmp_path: Path) -> None:
    """Beams on a finer grid shifted by 0.7 mm: resampled trilinearly (exact for
    linear doses), compared where the PLAN voxels lie inside the beam grids."""
    write_export(tmp_path, shift_mm=0.7)
    plan = load_plan(tmp_path)
    check = plan.beam_dose_check
    assert check is not None and check.consistent and check.resampled
    assert check.max_abs_diff_gy < 2e-3
    # Beam grids span -24.3 … 25.7 mm in x, y and -5.3 … 6.7 in z: every PLAN voxel.
    assert check.n_compared == X.size * X.size * Z.size
    assert any("(beams resampled onto the PLAN grid)" in w for w in plan.warnings)


def test_missing_beam_is_caught(tmp_path: Path) -> None:
    """Only beam 1 exported: the PLAN dose exceeds it by beam 2's dose, largest where
    beam 2 is largest (y = 20 mm, z = 4 mm): 1 + 0.05·40 + 0.08 = 3.08 Gy."""
    write_export(tmp_path, beams=(1,))
    plan = load_plan(tmp_path)
    check = plan.beam_dose_check
    assert check is not None and not check.consistent
    assert check.max_abs_diff_gy == pytest.approx(3.08, abs=2e-3)
    assert check.at_mm[1:] == (20.0, 4.0)
    message = next(w for w in plan.warnings if "BEAM doses differ" in w)
    assert "the PLAN dose and the sum of its 1 BEAM doses differ by 3.08 Gy at (" in message
    assert ", 20.0, 4.0) mm, more than the" in message and "a beam missing" in message
    report = check_plan(plan, "rectum-long-course")
    assert report.plan["beam_dose_check"]["consistent"] is False
    with pytest.raises(DicomInputError) as info:
        check_plan(plan, "rectum-long-course", strict=True)
    text = str(info.value)
    assert text.startswith(
        f"{tmp_path / 'rd_plan.dcm'}: PixelData (7FE0,0010): the PLAN dose and the sum"
    )
    assert "--strict refuses a plan whose doses contradict each other" in text


def test_explicit_plan_and_beam_doses_behave_like_the_folder(tmp_path: Path) -> None:
    paths = write_export(tmp_path)
    given = [paths["plan"], paths["beam1"], paths["beam2"]]
    for plan in (
        load_plan(tmp_path, rtdose=given),
        load_plan(rtstruct=paths["rs"], rtdose=given, rtplan=paths["rp"]),
    ):
        assert plan.files.rtdose == (str(paths["plan"]),)
        assert plan.files.beam_doses == (str(paths["beam1"]), str(paths["beam2"]))
        assert plan.beam_dose_check is not None and plan.beam_dose_check.consistent
        assert plan.dose.sources == (str(paths["plan"]),)


def test_beams_against_a_fraction_dose_are_refused(tmp_path: Path) -> None:
    paths = write_export(tmp_path)
    write_rtdose(tmp_path / "rd_plan.dcm", read_rtdose(paths["plan"]), summation_type="FRACTION")
    with pytest.raises(DicomInputError, match="cannot sum doses of different DoseSummationType"):
        load_plan(tmp_path, rtdose=[paths["plan"], paths["beam1"], paths["beam2"]])


def test_compare_beam_doses_errors(tmp_path: Path) -> None:
    plan = grid(beam_values(X, X, Z, 1))
    with pytest.raises(DicomInputError, match="no BEAM doses"):
        compare_beam_doses(plan, [])
    far = DoseGrid(X + 1000.0, X, Z, beam_values(X, X, Z, 1), frame_of_reference_uid=FOR_UID)
    with pytest.raises(DicomInputError, match="do not overlap the grid of the PLAN dose"):
        compare_beam_doses(plan, [far])
    other = DoseGrid(X, X, Z, beam_values(X, X, Z, 1), frame_of_reference_uid="1.2.3")
    with pytest.raises(DicomInputError, match="different FrameOfReferenceUIDs"):
        compare_beam_doses(plan, [other])


def test_cli_check_json_and_strict(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    write_export(tmp_path / "good")
    cset = ["--constraints", "rectum-long-course"]
    r = run_cli(["check", tmp_path / "good", "--format", "json", *cset], capsys, monkeypatch)
    record = json.loads(r.stdout)["plan"]["beam_dose_check"]
    assert set(record) == {
        "plan_dose",
        "beam_doses",
        "max_abs_diff_gy",
        "at_mm",
        "tolerance_gy",
        "consistent",
        "resampled",
        "n_compared",
    }
    assert record["consistent"] is True and len(record["beam_doses"]) == 2
    write_export(tmp_path / "bad", beams=(1,))
    r = run_cli(["check", tmp_path / "bad", "--strict", *cset], capsys, monkeypatch)
    assert r.code == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("dosecheck: error: ")
    assert (
        "rd_plan.dcm: PixelData (7FE0,0010): the PLAN dose and the sum of its 1 BEAM doses"
        in lines[0]
    )
    r = run_cli(["check", tmp_path / "bad", *cset], capsys, monkeypatch)
    assert r.code in (0, 1)
    assert "BEAM doses differ" in r.stdout + r.stderr


def test_batch_archive_with_plan_and_beam_doses(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    write_box_plan(tmp_path / "arch" / "p1", beam_doses=2, plan_dose=True)
    d = discover([tmp_path / "arch"])
    assert len(d.plans) == 1 and [f.name for f in d.plans[0].beam_doses] == [
        "RD_beam1.dcm",
        "RD_beam2.dcm",
    ]
    db = tmp_path / "r.sqlite"
    r = run_cli(["batch", tmp_path / "arch", "--db", db, "--jobs", "1"], capsys, monkeypatch)
    assert r.code == 0, r.stderr
    import sqlite3

    conn = sqlite3.connect(db)
    roles = sorted(row[0] for row in conn.execute("SELECT role FROM plan_files"))
    assert roles == ["beam_dose", "beam_dose", "rtdose", "rtplan", "rtstruct"]
    (warnings,) = conn.execute("SELECT warnings FROM plans").fetchone()
    assert "the PLAN dose agrees with the sum of its 2 BEAM doses" in warnings
