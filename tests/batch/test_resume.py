"""A ``dosecheck batch`` run killed with SIGKILL half-way, then restarted, ends with
every plan recorded exactly once."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dosecheck.batch.runner import DELAY_ENV
from tests.helpers.batch_plans import make_archive

N_PLANS = 8

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs SIGKILL")


def _count(db: Path) -> int:
    """Plans committed so far (0 while the database is being created)."""
    if not db.exists():
        return 0
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1.0)
        try:
            return int(conn.execute("SELECT COUNT(*) FROM plans").fetchone()[0])
        finally:
            conn.close()
    except sqlite3.OperationalError:  # no table yet, or locked for a moment
        return 0


def test_resume_after_sigkill(tmp_path: Path) -> None:
    root = tmp_path / "archive"
    make_archive(
        root,
        [
            {"patient_id": f"R{i:02d}", "outcome": "fail" if i == 3 else "pass"}
            for i in range(N_PLANS)
        ],
    )
    db = tmp_path / "results.sqlite"
    cmd = [sys.executable, "-m", "dosecheck", "batch", str(root), "--db", str(db), "-j", "2"]
    # Each plan sleeps a little first so the kill surely lands half-way.
    env = {**os.environ, DELAY_ENV: "0.4"}
    proc = subprocess.Popen(
        cmd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: the workers go with it below
    )
    try:
        deadline = time.monotonic() + 60
        while _count(db) < 1:
            assert proc.poll() is None, "the batch ended before it could be killed"
            assert time.monotonic() < deadline, "no plan recorded within 60 s"
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)  # the parent only, mid-run
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
        try:  # the orphaned workers of the killed run
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    assert proc.returncode == -signal.SIGKILL
    done_before = _count(db)
    assert 1 <= done_before < N_PLANS

    rerun = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 1, rerun.stderr  # one plan fails a mandatory constraint
    assert f"{done_before} already recorded" in rerun.stderr

    conn = sqlite3.connect(db)
    try:
        n, distinct = conn.execute(
            "SELECT COUNT(*), COUNT(DISTINCT location_key) FROM plans"
        ).fetchone()
        assert n == distinct == N_PLANS  # no duplicate, no missing plan
        patients = sorted(r[0] for r in conn.execute("SELECT patient_id FROM plans"))
        assert patients == [f"R{i:02d}" for i in range(N_PLANS)]
        statuses = [r[0] for r in conn.execute("SELECT status FROM runs ORDER BY id")]
        assert statuses == ["interrupted", "finished"]
        # Every plan row is complete: its files and constraint results are there.
        assert (
            conn.execute(
                "SELECT COUNT(*) FROM plans p WHERE NOT EXISTS "
                "(SELECT 1 FROM constraint_results c WHERE c.plan_id = p.id)"
            ).fetchone()[0]
            == 0
        )
        assert conn.execute("SELECT COUNT(*) FROM plan_files").fetchone()[0] == 3 * N_PLANS
    finally:
        conn.close()
