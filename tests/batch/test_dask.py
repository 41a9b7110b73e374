"""``dosecheck batch --scheduler`` on a real dask.distributed cluster gives the same
results as the local process pool."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from dosecheck.batch.database import ResultsDB
from dosecheck.batch.runner import BatchOptions, run_batch
from tests.helpers.batch_plans import make_archive, truncate
from tests.helpers.cli import run_cli

_VOLATILE = {"evaluated_at", "run_id", "evaluation_id", "duration_s"}


def _stable(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in e.items() if k not in _VOLATILE} for e in entries]


def test_dask_cluster_matches_local_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    distributed = pytest.importorskip("distributed")
    root = tmp_path / "archive"
    plans = make_archive(
        root,
        [
            {"patient_id": "K1"},
            {"patient_id": "K2", "outcome": "fail"},
            {"patient_id": "K3"},
            {"patient_id": "K4", "course": "short", "beam_doses": 2, "plan_dose": False},
        ],
    )
    truncate(plans[2].rtdose[0])

    local_db = tmp_path / "local.sqlite"
    summary = run_batch(BatchOptions(archives=[root], db=local_db, jobs=1))
    assert summary.exit_code == 3

    dask_db = tmp_path / "dask.sqlite"
    with distributed.LocalCluster(
        n_workers=2,
        processes=True,
        host="127.0.0.1",
        threads_per_worker=1,
        dashboard_address=None,
    ) as cluster:
        address = cluster.scheduler_address
        r = run_cli(["batch", root, "--db", dask_db, "--scheduler", address], capsys, monkeypatch)
        worker_pids = {w.pid for w in cluster.workers.values() if hasattr(w, "pid")}
    assert r.code == 3, r.stderr

    with ResultsDB(local_db) as a, ResultsDB(dask_db) as b:
        local, remote = a.latest(), b.latest()
    assert len(local) == 4
    assert _stable(remote) == _stable(local)
    assert [e["status"] for e in remote] == ["pass", "fail", "error", "pass"]

    conn = sqlite3.connect(dask_db)
    try:
        executor = conn.execute("SELECT executor FROM runs").fetchone()[0]
        workers = {r[0] for r in conn.execute("SELECT worker FROM plans")}
    finally:
        conn.close()
    assert executor == f"dask:{address}"
    pids = {int(w.rsplit(":", 1)[1]) for w in workers}
    assert os.getpid() not in pids  # computed in the cluster's worker processes
    if worker_pids:
        assert pids <= worker_pids


def test_dask_option_starts_a_local_cluster(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("distributed")
    root = tmp_path / "archive"
    make_archive(root, [{"patient_id": "L1"}, {"patient_id": "L2", "outcome": "fail"}])
    db = tmp_path / "r.sqlite"
    r = run_cli(["batch", root, "--db", db, "--dask", "-j", "1"], capsys, monkeypatch)
    assert r.code == 1, r.stderr
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("SELECT executor FROM runs").fetchone()[0] == "dask:local:1"
        rows = conn.execute("SELECT patient_id, status FROM plans ORDER BY patient_id").fetchall()
    finally:
        conn.close()
    assert rows == [("L1", "pass"), ("L2", "fail")]


def test_unreachable_scheduler_is_an_input_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("distributed")
    root = tmp_path / "archive"
    make_archive(root, [{"patient_id": "U1"}])
    monkeypatch.setattr("dosecheck.batch.executors.SCHEDULER_TIMEOUT", "1s")
    r = run_cli(
        ["batch", root, "--db", tmp_path / "r.sqlite", "--scheduler", "tcp://127.0.0.1:9"],
        capsys,
        monkeypatch,
    )
    assert r.code == 2 and "cannot connect to the dask scheduler" in r.stderr
