"""map_forked: the calling process and forked ones share the tasks; results by task."""

from __future__ import annotations

import os
import signal

import pytest

from dosecheck.core import forked
from dosecheck.core.forked import can_fork, map_forked

needs_fork = pytest.mark.skipif(not can_fork(), reason="map_forked runs in parallel on Linux only")


def _square_with_pid(i: int) -> tuple[int, int]:
    return i * i, os.getpid()


@needs_fork
@pytest.mark.parametrize("jobs", [2, 3, 8])
def test_every_task_once_and_by_task(jobs):
    order = [5, 3, 9, 0, 7, 1, 8, 2, 6, 4]
    out = map_forked(_square_with_pid, order, jobs)
    assert sorted(out) == sorted(order)
    assert {i: v for i, (v, _) in out.items()} == {i: i * i for i in order}


@needs_fork
def test_tasks_run_in_more_than_one_process():
    import time

    def slow(i: int) -> int:
        time.sleep(0.05)
        return os.getpid()

    pids = set(map_forked(slow, range(8), 2).values())
    assert os.getpid() in pids  # the caller takes tasks too
    assert len(pids) == 2


def test_one_job_runs_here_in_order():
    seen: list[int] = []

    def task(i: int) -> int:
        seen.append(i)
        return -i

    assert map_forked(task, [2, 0, 1], 1) == {2: -2, 0: 0, 1: -1}
    assert seen == [2, 0, 1]


def test_without_fork_runs_here(monkeypatch):
    monkeypatch.setattr(forked, "can_fork", lambda: False)
    assert map_forked(_square_with_pid, [1, 2], 4) == {
        1: (1, os.getpid()),
        2: (4, os.getpid()),
    }


@needs_fork
@pytest.mark.parametrize("failing", [0, 5])
def test_a_task_error_is_raised_after_all_processes_stop(failing):
    parent = os.getpid()

    def task(i: int) -> int:
        if i == failing:
            raise ValueError(f"task {i} failed in {'parent' if os.getpid() == parent else 'child'}")
        return i

    with pytest.raises(ValueError, match=f"task {failing} failed"):
        map_forked(task, range(6), 2)
    with pytest.raises(ChildProcessError):
        os.waitpid(-1, os.WNOHANG)  # no forked process left behind


@needs_fork
def test_a_killed_process_is_reported():
    parent = os.getpid()

    def task(i: int) -> int:
        if os.getpid() != parent:
            os.kill(os.getpid(), signal.SIGKILL)
        import time

        time.sleep(0.05)
        return i

    with pytest.raises(RuntimeError, match="killed by signal 9"):
        map_forked(task, range(4), 2)


@needs_fork
def test_more_tasks_than_the_pipe_holds_run_here(monkeypatch):
    monkeypatch.setattr(forked, "MAX_TASKS", 3)
    out = map_forked(_square_with_pid, range(5), 2)
    assert {pid for _, pid in out.values()} == {os.getpid()}
