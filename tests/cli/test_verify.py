"""``dosecheck verify RESULT.json PLAN``: the plan on disk against the check's record."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.helpers.batch_plans import write_box_plan


def _checked(tmp_path: Path, dc: Any) -> tuple[Any, Path]:
    plan = write_box_plan(tmp_path / "plan", outcome="pass")
    result = tmp_path / "result.json"
    code, _, _ = dc("check", plan.folder, "--format", "json", "--output", result)
    assert code == 0
    return plan, result


def test_the_same_plan_verifies(tmp_path: Path, dc: Any) -> None:
    plan, result = _checked(tmp_path, dc)
    code, out, _ = dc("verify", result, plan.folder)
    assert code == 0
    assert "same: the 3 object(s)" in out


def test_a_changed_dose_and_a_missing_plan_are_named(tmp_path: Path, dc: Any) -> None:
    import pydicom

    plan, result = _checked(tmp_path, dc)
    ds = pydicom.dcmread(plan.rtdose[0])
    ds.DoseGridScaling = float(ds.DoseGridScaling) * 1.001  # same UID, other bytes
    ds.save_as(plan.rtdose[0])
    assert plan.rtplan is not None
    plan.rtplan.unlink()
    code, _, err = dc("verify", result, plan.folder)
    assert code == 1
    lines = [line for line in err.splitlines() if line.startswith("changed: ")]
    assert len(lines) == 2
    assert any(f"RTDOSE {ds.SOPInstanceUID}" in line and "sha256" in line for line in lines)
    assert any(f"RTPLAN {plan.plan_uid}: not found" in line for line in lines)


def test_a_copy_elsewhere_is_the_same_plan(tmp_path: Path, dc: Any) -> None:
    """Objects are found by UID, not by path: an archived copy verifies."""
    plan, result = _checked(tmp_path, dc)
    archive = tmp_path / "archive" / "deep"
    archive.mkdir(parents=True)
    for f in plan.folder.iterdir():
        (archive / f"copy_{f.name}").write_bytes(f.read_bytes())
    code, _, _ = dc("verify", result, tmp_path / "archive")
    assert code == 0


def test_bad_input_exits_2(tmp_path: Path, dc: Any) -> None:
    plan, result = _checked(tmp_path, dc)
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    code, _, err = dc("verify", bad, plan.folder)
    assert code == 2 and "bad.json" in err
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"plans": []}), encoding="utf-8")
    code, _, err = dc("verify", other, plan.folder)
    assert code == 2 and "plan.sha256" in err
    code, _, err = dc("verify", result, tmp_path / "nowhere")
    assert code == 2 and "nowhere" in err


def _recorded(tmp_path: Path, dc: Any) -> tuple[Any, Path, int]:
    plan = write_box_plan(tmp_path / "archive" / "plan", outcome="pass")
    db = tmp_path / "r.sqlite"
    code, _, _ = dc(
        "batch", tmp_path / "archive", "--db", db, "-j", "1", "-c", "rectum-long-course"
    )
    assert code == 0
    code, out, _ = dc("results", db, "--format", "json")
    assert code == 0
    return plan, db, int(json.loads(out)["plans"][0]["evaluation_id"])


def test_a_database_entry_verifies(tmp_path: Path, dc: Any) -> None:
    plan, db, plan_id = _recorded(tmp_path, dc)
    code, out, _ = dc("verify", db, plan.folder, "--id", plan_id)
    assert code == 0 and "same: the 3 object(s)" in out


def test_a_database_entry_names_a_changed_dose_by_its_bytes(tmp_path: Path, dc: Any) -> None:
    import pydicom

    plan, db, plan_id = _recorded(tmp_path, dc)
    ds = pydicom.dcmread(plan.rtdose[0])
    ds.DoseGridScaling = float(ds.DoseGridScaling) * 1.001
    ds.save_as(plan.rtdose[0])
    code, _, err = dc("verify", db, plan.folder, "--id", plan_id)
    assert code == 1
    assert "changed: RTDOSE (recorded sha256" in err and "has these bytes" in err
    code, _, err = dc("verify", db, plan.folder, "--id", plan_id + 99)
    assert code == 2 and f"no evaluation with id {plan_id + 99}" in err
