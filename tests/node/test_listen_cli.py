"""``dosecheck listen`` as a service: a real process, SIGTERM during a check, a restart.

The worker's check is slowed down with ``DOSECHECK_BATCH_DELAY`` (the batch tests'
debugging aid) so that SIGTERM arrives while the plan is being checked. The test waits
for the service's own log lines, never for a fixed time.
"""

from __future__ import annotations

import os
import queue
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("pynetdicom")

from tests.helpers.batch_plans import write_box_plan
from tests.helpers.dicom_node import send_files

ROOT = Path(__file__).resolve().parents[2]
WAIT = 120.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Service:
    """``python -m dosecheck listen …`` with its stderr read line by line."""

    def __init__(self, *args: object, delay: float | None = None) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        if delay is not None:
            env["DOSECHECK_BATCH_DELAY"] = str(delay)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "dosecheck", "listen", *map(str, args)],
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            text=True,
            env=env,
            cwd=ROOT,
        )
        self.lines: list[str] = []
        self._q: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self._q.put(line)

    def wait_for(self, text: str) -> str:
        """The first new line that contains ``text`` (fails after WAIT seconds)."""
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            try:
                line = self._q.get(timeout=0.5)
            except queue.Empty:
                assert self.proc.poll() is None, f"exited {self.proc.returncode}: {self.lines}"
                continue
            self.lines.append(line)
            if text in line:
                return line
        raise AssertionError(f"no line with {text!r} in {self.lines}")

    def wait_exit(self) -> int:
        code = self.proc.wait(timeout=WAIT)
        while not self._q.empty():
            self.lines.append(self._q.get())
        return code


def test_sigterm_during_a_check_finishes_it_and_a_restart_does_not_check_it_again(
    tmp_path: Path,
) -> None:
    plan = write_box_plan(tmp_path / "a", outcome="fail")
    assert plan.rtplan is not None
    db = tmp_path / "results.sqlite"
    port = free_port()
    common = ("--store", tmp_path / "store", "--db", db, "--port", port, "--jobs", 1)
    service = Service(*common, "--quiet-seconds", 60, delay=2.0)
    service.wait_for("listening as DOSECHECK on 127.0.0.1")
    assert send_files(("127.0.0.1", port), [plan.rtstruct, plan.rtplan, *plan.rtdose]) == [0] * 3
    service.wait_for("complete, checking")
    service.proc.send_signal(signal.SIGTERM)
    assert service.wait_exit() == 0
    text = "".join(service.lines)
    assert "association 1 from TPS" in text and "released: 3 object(s) stored" in text
    assert "FAIL — 1 of 3 mandatory constraints failed" in text
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT status FROM plans").fetchall() == [("fail",)]
        runs = conn.execute("SELECT status, n_plans FROM runs").fetchall()
    assert runs == [("finished", 1)]

    again = Service(*common, "--exit-after-idle", 0.5)
    assert again.wait_exit() == 0
    assert "unchanged, already recorded (FAIL)" in "".join(again.lines)
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT COUNT(*) FROM plans").fetchone() == (1,)
