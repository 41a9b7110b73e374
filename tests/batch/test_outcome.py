"""PlanOutcome (batch/tasks.py): the one type of a plan's outcome, and its record (the
dict the database stores), with the keys and order it had when it was built as a dict
in two places."""

from __future__ import annotations

import dataclasses
import pickle
from pathlib import Path

from dosecheck import __version__
from dosecheck.batch.tasks import PlanError, PlanOutcome, PlanTask, evaluate_plan
from dosecheck.checking.sets import load_shipped_set
from dosecheck.dicom.discovery import discover
from tests.helpers.batch_plans import write_box_plan

_COMMON = [
    "status",
    "error",
    "error_type",
    "error_stage",
    "traceback",
    "summary",
    "constraint_set",
    "prescription",
    "strict",
    "warnings",
    "results",
    "structures",
]


def test_a_failed_outcome_and_its_record() -> None:
    cset = load_shipped_set("rectum-long-course")
    o = PlanOutcome.failed("no RTSTRUCT", stage="discovery", strict=True, constraint_set=cset)
    assert o.error == PlanError("no RTSTRUCT", "InputError", "discovery", None)
    assert pickle.loads(pickle.dumps(o)) == o  # sent back from worker processes
    rec = o.to_record()
    assert list(rec) == [*_COMMON, "duration_s", "worker", "dosecheck_version"]
    assert rec["status"] == "error" and rec["summary"] == "ERROR — no RTSTRUCT"
    assert (rec["error"], rec["error_type"], rec["error_stage"]) == (
        "no RTSTRUCT",
        "InputError",
        "discovery",
    )
    assert rec["constraint_set"] == {"name": cset.name, "path": cset.path, "sha256": cset.sha256}
    assert (rec["prescription"], rec["strict"], rec["duration_s"]) == (None, True, 0.0)
    assert rec["warnings"] == rec["results"] == rec["structures"] == []
    assert rec["dosecheck_version"] == __version__
    timed = dataclasses.replace(o, cpu_s=0.25).to_record()
    assert list(timed) == [*_COMMON, "duration_s", "worker", "dosecheck_version", "cpu_s"]


def test_evaluate_plan_records_a_check_and_an_error(tmp_path: Path) -> None:
    write_box_plan(tmp_path / "ok")
    bad = write_box_plan(tmp_path / "bad")
    bad.rtstruct.write_bytes(b"garbage")
    cset = load_shipped_set("rectum-long-course")
    ok = evaluate_plan(PlanTask(0, discover([tmp_path / "ok"]).plans[0], cset))
    assert list(ok) == [
        *_COMMON,
        "dose_scale",
        "beam_dose_check",
        "dosecheck_version",
        "duration_s",
        "cpu_s",
        "worker",
    ]
    assert ok["status"] == "pass" and ok["error"] is None and ok["results"]
    assert ok["prescription"]["dose_gy"] == 50.4
    assert ok["duration_s"] > 0 and ok["cpu_s"] > 0
    err = evaluate_plan(PlanTask(1, discover([tmp_path / "bad"]).plans[0], cset))
    assert list(err) == [*_COMMON, "duration_s", "worker", "dosecheck_version", "cpu_s"]
    assert err["status"] == "error" and err["error_stage"] == "evaluation"
    assert err["duration_s"] > 0
