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


def _gone(pid: int) -> bool:
    """True once ``pid`` has ended and been reaped (a zombie still answers kill 0)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


@needs_fork
@pytest.mark.parametrize("failing", [0, 5])
def test_a_task_error_is_raised_after_all_processes_end(failing, tmp_path):
    parent = os.getpid()

    def task(i: int) -> int:
        import time

        (tmp_path / f"{os.getpid()}").touch()
        time.sleep(0.02)  # both processes take tasks
        if i == failing:
            raise ValueError(f"task {i} failed in {'parent' if os.getpid() == parent else 'child'}")
        return i

    with pytest.raises(ValueError, match=f"task {failing} failed") as caught:
        map_forked(task, range(6), 2)
    children = [int(p.name) for p in tmp_path.iterdir() if int(p.name) != parent]
    assert children and all(_gone(pid) for pid in children)
    if "child" in str(caught.value):
        assert any("raised in a forked DVH process" in n for n in caught.value.__notes__)


def _refuse(message: str) -> Exception:
    raise TypeError(f"cannot rebuild {message!r}")


class _TwoArgError(Exception):
    """Pickles, but cannot be rebuilt from its pickle."""

    def __reduce__(self):
        return (_refuse, (str(self),))


@needs_fork
def test_an_exception_that_cannot_be_rebuilt_arrives_as_text():
    parent = os.getpid()

    def task(i: int) -> int:
        if os.getpid() != parent:
            raise _TwoArgError("bad news")
        import time

        time.sleep(0.05)
        return i

    with pytest.raises(
        RuntimeError, match=r"(?s)DVH worker process failed.*_TwoArgError: bad news"
    ):
        map_forked(task, range(4), 2)


@needs_fork
def test_an_interrupt_here_ends_the_forked_processes(tmp_path):
    import time

    parent = os.getpid()

    def task(i: int) -> int:
        if os.getpid() == parent:
            if i == 1:
                raise KeyboardInterrupt
            time.sleep(0.1)  # let the forked process take task 1's neighbour
            return i
        (tmp_path / f"{os.getpid()}").touch()
        # A handler the forked process inherited must not keep it alive (listen and
        # serve install one for SIGTERM).
        signal.signal(signal.SIGTERM, lambda *_: None)
        time.sleep(5)
        return i

    start = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        map_forked(task, [0, 2, 1, 3], 2)
    assert time.monotonic() - start < 2.5
    children = [int(p.name) for p in tmp_path.iterdir()]
    assert children and all(_gone(pid) for pid in children)


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
