"""``dosecheck batch`` and ``dosecheck results``: isolation, exit codes, re-runs, formats."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import sqlite3
import sys
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path
from typing import Any

import pytest

from dosecheck.batch.database import ResultsDB
from dosecheck.batch.runner import LocalExecutor, PlanTask, evaluate_plan
from dosecheck.checking.sets import load_shipped_set
from dosecheck.dicom.discovery import discover
from tests.helpers.batch_plans import make_archive, truncate, write_box_plan
from tests.helpers.cli import run_cli

# pass, fail, a corrupt dose (error), a short-course pass, beam doses (pass)
SPECS: list[dict[str, Any]] = [
    {"patient_id": "A1", "label": "LC"},
    {"patient_id": "B2", "label": "LC", "outcome": "fail"},
    {"patient_id": "C3", "label": "LC"},
    {"patient_id": "D4", "label": "SC", "course": "short"},
    {"patient_id": "E5", "label": "LC", "beam_doses": 2, "plan_dose": False},
]


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("batch") / "archive"
    plans = make_archive(root, SPECS)
    truncate(plans[2].rtdose[0])  # C3: the header reads, the dose pixels do not
    return root


@pytest.fixture(scope="module")
def first_run(archive: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One batch run over the archive, shared by the tests that only read its results."""
    out = tmp_path_factory.mktemp("out")
    db = out / "results.sqlite"
    from dosecheck.cli import main

    argv = ["batch", str(archive), "--db", str(db), "-j", "2"]
    argv += ["--output", str(out / "summary.json")]
    code = main(argv)
    return {"db": db, "code": code, "json": json.loads((out / "summary.json").read_text())}


def _by_patient(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["plan"]["patient_id"]: e for e in doc["plans"]}


def test_error_isolation_and_exit_code(first_run: dict[str, Any]) -> None:
    """The corrupt plan is recorded as an error with its message; the others are
    evaluated; an error (3) takes precedence over a failure (1)."""
    assert first_run["code"] == 3
    plans = _by_patient(first_run["json"])
    assert {k: v["status"] for k, v in plans.items()} == {
        "A1": "pass",
        "B2": "fail",
        "C3": "error",
        "D4": "pass",
        "E5": "pass",
    }
    err = plans["C3"]["error"]
    assert "RD.dcm" in err and "truncated" in err
    assert plans["C3"]["results"] == []
    assert plans["A1"]["error"] is None
    with sqlite3.connect(first_run["db"]) as conn:
        rows = conn.execute(
            "SELECT stage, message FROM errors WHERE plan_id IS NOT NULL"
        ).fetchall()
    assert len(rows) == 1 and rows[0][0] == "evaluation" and "truncated" in rows[0][1]


def test_json_schema(first_run: dict[str, Any], archive: Path) -> None:
    """JSON: one entry per plan with the plan identity, status, error and the same
    result objects as ``check --format json``."""
    from dosecheck.api import load_plan
    from dosecheck.checking.check import check_plan

    doc = first_run["json"]
    assert doc["counts"] == {"pass": 3, "fail": 1, "incomplete": 0, "error": 1}
    assert len(doc["plans"]) == 5
    for e in doc["plans"]:
        assert set(e["plan"]) >= {"path", "patient_id", "plan_label", "rtstruct", "rtdose"}
        assert e["status"] in ("pass", "fail", "error")
        assert "error" in e and isinstance(e["results"], list)
    e = _by_patient(doc)["B2"]
    assert e["plan"]["path"] == str(archive / "B2_LC")
    assert e["plan"]["plan_label"] == "LC"
    assert e["plan"]["sha256"]["rtstruct"] and len(e["plan"]["sha256"]["rtdose"]) == 1
    assert e["constraint_set"]["name"].startswith("Rectum long course")
    # Same objects as the check command's JSON (round-tripped through JSON).
    report = check_plan(load_plan(archive / "B2_LC"), "rectum-long-course")
    expected = json.loads(json.dumps(report.result_records()))
    assert e["results"] == expected
    assert len(_by_patient(doc)["E5"]["plan"]["rtdose"]) == 2


def test_database_tables(first_run: dict[str, Any]) -> None:
    with sqlite3.connect(first_run["db"]) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("SELECT COUNT(*) FROM plans").fetchone()[0] == 5
        assert conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 1
        run = conn.execute("SELECT status, n_plans, n_error FROM runs").fetchone()
        assert run == ("finished", 5, 1)
        struct = conn.execute(
            "SELECT s.structure, s.roi, s.matched_by, s.volume_cc FROM structures s "
            "JOIN plans p ON p.id = s.plan_id WHERE p.patient_id = 'A1' ORDER BY s.structure"
        ).fetchall()
        assert [r[:3] for r in struct] == [
            ("Bag_Bowel", "BowelBag", "alias"),
            ("PTV", "PTV", "name"),
        ]
        assert struct[0][3] == pytest.approx(680.0, abs=0.5)
        res = conn.execute(
            'SELECT c.metric, c.value, c."limit", c.status, c.message FROM constraint_results c '
            "JOIN plans p ON p.id = c.plan_id WHERE p.patient_id = 'B2' AND metric = 'V45Gy[cc]'"
        ).fetchone()
        assert res[0] == "V45Gy[cc]" and res[1] == pytest.approx(340.0, abs=0.5)
        assert res[2] == 300 and res[3] == "fail" and "340" in res[4]
        files = conn.execute(
            "SELECT role, sha256 FROM plan_files f JOIN plans p ON p.id = f.plan_id "
            "WHERE p.patient_id = 'E5' ORDER BY role, position"
        ).fetchall()
        assert [r[0] for r in files] == ["rtdose", "rtdose", "rtplan", "rtstruct"]
        assert all(len(r[1]) == 64 for r in files)


def test_rerun_skips_and_force_recomputes(
    archive: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    db = tmp_path / "r.sqlite"
    args = ["batch", archive, "--db", db, "-j", "1"]
    first = run_cli(args, capsys, monkeypatch)
    assert first.code == 3
    # Not a terminal: one plain log line per plan, then the summary.
    assert "checking 5 plans (0 already recorded" in first.stderr
    assert "[1/5] " in first.stderr and "[5/5] " in first.stderr
    assert "FAIL B2 / LC" in first.stderr and "ERROR C3 / LC" in first.stderr
    with ResultsDB(db) as rdb:
        assert rdb.count_plans() == 5
    again = run_cli(args, capsys, monkeypatch)
    assert again.code == 3  # the recorded statuses still count
    assert "0 checked" in again.stderr and "5 already recorded" in again.stderr
    with ResultsDB(db) as rdb:
        assert rdb.count_plans() == 5
    forced = run_cli([*args, "--force"], capsys, monkeypatch)
    assert forced.code == 3 and "5 checked" in forced.stderr
    with ResultsDB(db) as rdb:
        assert rdb.count_plans() == 10
        latest = rdb.latest()
    assert len(latest) == 5  # one entry per plan: the latest evaluation
    assert {e["run_id"] for e in latest} == {3}
    # Another constraint set is another evaluation (D4, a short course, was already
    # checked against the short-course set); a new plan is computed alone.
    other = run_cli([*args, "-c", "rectum-short-course"], capsys, monkeypatch)
    assert "4 checked" in other.stderr and "1 already recorded" in other.stderr
    write_box_plan(archive.parent / "extra" / "X", patient_id="X9")
    plus = run_cli(["batch", archive, archive.parent / "extra", "--db", db], capsys, monkeypatch)
    assert "1 checked" in plus.stderr and "5 already recorded" in plus.stderr


def test_exit_codes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    ok = tmp_path / "ok"
    make_archive(ok, [{"patient_id": "OK1"}, {"patient_id": "OK2", "course": "short"}])
    db = tmp_path / "r.sqlite"
    assert run_cli(["batch", ok, "--db", db, "-j", "1"], capsys, monkeypatch).code == 0
    bad = tmp_path / "bad"
    make_archive(bad, [{"patient_id": "F1", "outcome": "fail"}])
    assert run_cli(["batch", ok, bad, "--db", db, "-j", "1"], capsys, monkeypatch).code == 1
    # Bad usage: exit 2 with one line on stderr.
    r = run_cli(["batch", tmp_path / "missing", "--db", db], capsys, monkeypatch)
    assert r.code == 2 and "archive not found" in r.stderr
    (tmp_path / "bad.yaml").write_text("name: x\nstructures: 3\n")
    r = run_cli(["batch", ok, "--db", db, "-c", tmp_path / "bad.yaml"], capsys, monkeypatch)
    assert r.code == 2 and "bad.yaml" in r.stderr
    r = run_cli(["batch", ok, "--db", db, "-c", "nonexistent-set"], capsys, monkeypatch)
    assert r.code == 2 and "unknown constraint set" in r.stderr
    r = run_cli(["batch", "--db", db], capsys, monkeypatch)
    assert r.code == 2
    (tmp_path / "map.yaml").write_text("- match: {}\n  constraints: auto\n")
    r = run_cli(
        [
            "batch",
            ok,
            "--db",
            db,
            "-c",
            "rectum-long-course",
            "--protocol-map",
            tmp_path / "map.yaml",
        ],
        capsys,
        monkeypatch,
    )
    assert r.code == 2 and "not both" in r.stderr
    r = run_cli(["batch", ok, "--db", db, "-o", tmp_path / "out.txt"], capsys, monkeypatch)
    assert r.code == 2 and "output format" in r.stderr


def test_plan_without_prescription_and_protocol_map(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Automatic selection cannot choose a set without RTPLAN: that plan is an error
    (exit 3); a protocol map with a catch-all gives it one."""
    root = tmp_path / "a"
    make_archive(root, [{"patient_id": "N1", "rtplan": False}, {"patient_id": "N2"}])
    db = tmp_path / "r.sqlite"
    r = run_cli(["batch", root, "--db", db, "-j", "1"], capsys, monkeypatch)
    assert r.code == 3 and "cannot choose a constraint set" in r.stderr
    pmap = tmp_path / "map.yaml"
    pmap.write_text(
        "- match: {prescription_gy: 25}\n  constraints: rectum-short-course\n"
        "- match: {}\n  constraints: rectum-long-course\n"
    )
    out = tmp_path / "s.json"
    r = run_cli(["batch", root, "--db", db, "--protocol-map", pmap, "-o", out], capsys, monkeypatch)
    assert r.code == 0, r.stderr
    doc = json.loads(out.read_text())
    assert [e["status"] for e in doc["plans"]] == ["pass", "pass"]


def test_zip_archive_is_evaluated(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    src = tmp_path / "src"
    make_archive(src, [{"patient_id": "Z1"}, {"patient_id": "Z2", "outcome": "fail"}])
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for p in sorted(src.rglob("*.dcm")):
            zf.write(p, p.relative_to(src).as_posix())
    out = tmp_path / "s.json"
    r = run_cli(["batch", archive, "--db", tmp_path / "r.sqlite", "-o", out], capsys, monkeypatch)
    assert r.code == 1, r.stderr
    doc = _by_patient(json.loads(out.read_text()))
    assert doc["Z1"]["status"] == "pass" and doc["Z2"]["status"] == "fail"
    assert doc["Z1"]["plan"]["path"] == f"{archive}::Z1_RECT"
    assert doc["Z1"]["plan"]["rtstruct"] == f"{archive}::Z1_RECT/RS.dcm"


def test_results_formats(
    first_run: dict[str, Any],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    db = first_run["db"]
    # JSON from the database equals the batch summary's plans.
    r = run_cli(["results", db, "--format", "json"], capsys, monkeypatch)
    assert r.code == 0
    assert json.loads(r.stdout)["plans"] == first_run["json"]["plans"]

    r = run_cli(["results", db, "--format", "json", "--failed-only"], capsys, monkeypatch)
    assert sorted(e["plan"]["patient_id"] for e in json.loads(r.stdout)["plans"]) == ["B2", "C3"]

    r = run_cli(["results", db, "--format", "json", "--since", "2999-01-01"], capsys, monkeypatch)
    assert json.loads(r.stdout)["plans"] == []
    r = run_cli(["results", db, "--format", "json", "--since", "2000-01-01"], capsys, monkeypatch)
    assert len(json.loads(r.stdout)["plans"]) == 5
    r = run_cli(["results", db, "--since", "yesterday"], capsys, monkeypatch)
    assert r.code == 2 and "--since" in r.stderr

    # JUnit: one suite per plan, parsed with ElementTree.
    out = tmp_path / "junit.xml"
    r = run_cli(["results", db, "--format", "junit", "-o", out], capsys, monkeypatch)
    assert r.code == 0
    root = ET.parse(out).getroot()
    assert root.tag == "testsuites"
    suites = root.findall("testsuite")
    assert len(suites) == 5
    assert root.get("errors") == "1"
    assert int(root.get("failures") or 0) >= 1
    failed = [c for c in root.iter("testcase") if c.find("failure") is not None]
    assert any(
        c.get("classname") == "B2.LC.Bag_Bowel" and c.get("name") == "V45Gy[cc] < 300"
        for c in failed
    )
    errored = [c for c in root.iter("testcase") if c.find("error") is not None]
    assert len(errored) == 1 and "truncated" in (errored[0].find("error").get("message") or "")

    # CSV: one row per constraint (error plans one row).
    r = run_cli(["results", db, "--format", "csv"], capsys, monkeypatch)
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert {row["patient_id"] for row in rows} == {"A1", "B2", "C3", "D4", "E5"}
    c3 = [row for row in rows if row["patient_id"] == "C3"]
    assert len(c3) == 1 and c3[0]["plan_status"] == "error" and c3[0]["metric"] == ""
    b2 = [row for row in rows if row["patient_id"] == "B2" and row["metric"] == "V45Gy[cc]"]
    assert b2[0]["status"] == "fail" and b2[0]["plan_status"] == "fail"

    # Table: patients and statuses.
    r = run_cli(["results", db], capsys, monkeypatch)
    assert r.code == 0 and "B2" in r.stdout and "ERROR" in r.stdout
    assert "5 plans: 3 pass, 1 fail, 0 incomplete, 1 error" in r.stdout

    r = run_cli(["results", tmp_path / "nope.sqlite"], capsys, monkeypatch)
    assert r.code == 2 and "no such results database" in r.stderr


def test_batch_output_formats_by_extension(
    archive: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    db = tmp_path / "r.sqlite"
    for name in ("s.csv", "s.xml"):
        r = run_cli(["batch", archive, "--db", db, "-o", tmp_path / name], capsys, monkeypatch)
        assert r.code == 3
    assert (tmp_path / "s.csv").read_text().startswith("path,patient_id,plan_label,plan_status")
    assert ET.parse(tmp_path / "s.xml").getroot().tag == "testsuites"


class _KillWorker:
    """Unpickling this in a worker kills the worker process (like a segfault would)."""

    def __reduce__(self) -> tuple[Any, tuple[int]]:
        return (os._exit, (13,))


def test_a_dying_worker_costs_only_its_plan(tmp_path: Path) -> None:
    """A worker that dies breaks the process pool; the plans in flight are re-run one
    by one, so only the plan that kills its worker is an error."""
    make_archive(tmp_path, [{"patient_id": f"K{i}"} for i in range(4)])
    plans = discover([tmp_path]).plans
    cset = load_shipped_set("rectum-long-course")
    tasks = [PlanTask(i, p, cset) for i, p in enumerate(plans)]
    tasks.insert(2, PlanTask(99, _KillWorker(), cset))  # type: ignore[arg-type]
    got: dict[int, dict[str, Any]] = {}
    LocalExecutor(2).run(tasks, lambda t, o: got.__setitem__(t.index, o))
    assert sorted(got) == [0, 1, 2, 3, 99]
    assert got[99]["status"] == "error" and "worker process died" in got[99]["error"]
    assert all(got[i]["status"] == "pass" for i in range(4))


def test_evaluate_plan_never_raises(tmp_path: Path) -> None:
    w = write_box_plan(tmp_path)
    plan = discover([tmp_path]).plans[0]
    w.rtstruct.write_bytes(b"garbage")
    out = evaluate_plan(PlanTask(0, plan, load_shipped_set("rectum-long-course")))
    assert out["status"] == "error" and "RS.dcm" in out["error"]
    assert out["constraint_set"]["name"].startswith("Rectum long course")


def test_missing_dask_is_an_input_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    make_archive(tmp_path / "a", [{"patient_id": "D1"}])
    monkeypatch.setitem(sys.modules, "distributed", None)
    r = run_cli(
        ["batch", tmp_path / "a", "--db", tmp_path / "r.sqlite", "--dask"], capsys, monkeypatch
    )
    assert r.code == 2 and "dosecheck[dask]" in r.stderr


def test_incomplete_plan_status_and_exit_code(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A plan with a mandatory constraint not evaluated is ``incomplete``: exit 1, or 3
    when another plan is an error."""
    ok = tmp_path / "ok"
    make_archive(ok, [{"patient_id": "I1"}])
    cset = tmp_path / "absent.yaml"
    cset.write_text(
        "name: absent\nstructures:\n  - name: Nowhere\n    constraints:\n      - Max[Gy] < 50\n"
    )
    db = tmp_path / "r.sqlite"
    out = tmp_path / "s.json"
    r = run_cli(["batch", ok, "--db", db, "-j", "1", "-c", cset, "-o", out], capsys, monkeypatch)
    assert r.code == 1, r.stderr
    (entry,) = json.loads(out.read_text())["plans"]
    assert entry["status"] == "incomplete"
    assert entry["summary"].startswith("INCOMPLETE — 0 of 1 mandatory constraint passed")
    assert "0 pass, 0 fail, 1 incomplete, 0 error" in r.stderr
    r = run_cli(["results", db, "--format", "json", "--failed-only"], capsys, monkeypatch)
    assert [e["status"] for e in json.loads(r.stdout)["plans"]] == ["incomplete"]
    bad = tmp_path / "bad"
    truncate(make_archive(bad, [{"patient_id": "E1"}])[0].rtdose[0])
    r = run_cli(["batch", ok, bad, "--db", db, "-j", "1", "-c", cset], capsys, monkeypatch)
    assert r.code == 3


def test_schema_1_database_is_upgraded(tmp_path: Path) -> None:
    from dosecheck.batch import database

    db = tmp_path / "old.sqlite"
    v1 = re.sub(
        r",(\s*-- DICOM[^\n]*)\n\s*n_incomplete[^\n]*",
        r"\1",
        database.SCHEMA.replace(
            "CHECK (status IN ('pass', 'fail', 'incomplete', 'error'))",
            "CHECK (status IN ('pass', 'fail', 'error'))",
        ),
    )
    assert "n_incomplete" not in v1 and "'incomplete'" not in v1
    conn = sqlite3.connect(db)
    conn.executescript(f"BEGIN; {v1} PRAGMA user_version = 1; COMMIT;")
    conn.close()
    with ResultsDB(db) as rdb:
        assert rdb.conn.execute("PRAGMA user_version").fetchone()[0] == database.SCHEMA_VERSION
        sql = rdb.conn.execute("SELECT sql FROM sqlite_master WHERE name = 'plans'").fetchone()[0]
        assert "'incomplete'" in sql
        cols = [r[1] for r in rdb.conn.execute("PRAGMA table_info(runs)")]
        assert "n_incomplete" in cols
        assert rdb.latest() == []
