"""Run independent tasks on this process and forked copies of it (Linux ``fork``).

:func:`map_forked` is what :func:`dosecheck.core.structures.compute_dvhs` uses to compute
the DVHs of a plan's ROIs in parallel. Compared with a ``multiprocessing`` pool it starts
one process fewer (the calling process takes tasks too, so its warm heap is used rather
than left idle), has no handler threads or task queue, and hands the tasks out through a
pipe: each process reads the next task's position as it becomes free, so the largest
tasks, given first, end up on different processes (issue #11: 25-50 ms of a 0.65 s
``dvh`` on the benchmark plan were the pool's start and end).

Results do not depend on the number of processes: each task computes the same thing
wherever it runs, and the results are returned by task, not by process.
"""

from __future__ import annotations

import os
import pickle
import signal
import struct
from collections.abc import Callable, Sequence
from typing import TypeVar

__all__ = ["can_fork", "map_forked"]

T = TypeVar("T")

#: Task positions are handed out as 4-byte integers through one pipe, all written before
#: the fork; a pipe holds 64 KiB, so more tasks than this are not sent that way.
MAX_TASKS = 16_000
_POSITION = struct.Struct("=i")


def can_fork() -> bool:
    """True where :func:`map_forked` runs tasks in parallel (Linux)."""
    return hasattr(os, "fork") and os.uname().sysname == "Linux"


def map_forked(task: Callable[[int], T], order: Sequence[int], jobs: int) -> dict[int, T]:
    """``{i: task(i)}`` for every ``i`` of ``order``, on this process and ``jobs - 1`` forks.

    Tasks are started in the order given (put the longest first). The forked processes
    inherit everything ``task`` needs (copy-on-write) and send back only their results.

    Raises
    ------
    BaseException
        The first exception a task raised (in this process or a forked one), after
        every process has stopped.
    RuntimeError
        A forked process ended without returning its results (killed, or out of memory).
    """
    order = list(order)
    jobs = max(1, min(jobs, len(order)))
    if jobs == 1 or not can_fork() or len(order) > MAX_TASKS:
        return {i: task(i) for i in order}
    read_task, write_task = os.pipe()
    os.write(write_task, b"".join(_POSITION.pack(p) for p in range(len(order))))
    os.close(write_task)  # readers see end of file once every position is taken
    children: list[tuple[int, int]] = []  # (pid, result pipe)
    try:
        for _ in range(jobs - 1):
            read_result, write_result = os.pipe()
            pid = os.fork()
            if pid == 0:  # the forked process: take tasks, send results, leave
                os.close(read_result)
                _child(task, order, read_task, write_result)
            os.close(write_result)
            children.append((pid, read_result))
        results, error = _take_tasks(task, order, read_task)
        while children:
            their_results, their_error = _collect(*children.pop(0))
            results.update(their_results)
            error = error or their_error
    finally:
        os.close(read_task)
        for pid, fd in children:  # only after an error or an interrupt here
            _stop(pid, fd)
    if error is not None:
        raise error
    return results


def _take_tasks(
    task: Callable[[int], T], order: list[int], read_task: int
) -> tuple[dict[int, T], BaseException | None]:
    """Run tasks until none is left (or one fails): results, and the failure if any."""
    results: dict[int, T] = {}
    while True:
        data = os.read(read_task, _POSITION.size)
        if len(data) < _POSITION.size:
            return results, None
        i = order[_POSITION.unpack(data)[0]]
        try:
            results[i] = task(i)
        except Exception as exc:
            return results, exc


def _child(task: Callable[[int], T], order: list[int], read_task: int, write_result: int) -> None:
    """Body of a forked process; never returns."""
    status = 1
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C
        results, error = _take_tasks(task, order, read_task)
        try:
            payload = pickle.dumps((results, error), protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:  # an unpicklable result or exception
            payload = pickle.dumps(({}, RuntimeError(f"DVH worker could not return: {exc!r}")))
        with os.fdopen(write_result, "wb") as out:
            out.write(payload)
        status = 0
    finally:
        os._exit(status)  # no atexit handlers, no flushing of the parent's buffers


def _collect(pid: int, fd: int) -> tuple[dict, BaseException | None]:
    """A forked process's results, once it has sent them and ended (``fd`` is closed)."""
    chunks = []
    try:
        while data := os.read(fd, 1 << 20):
            chunks.append(data)
    finally:
        os.close(fd)
    payload = b"".join(chunks)
    _, status = os.waitpid(pid, 0)
    if not payload:
        raise RuntimeError(
            f"a DVH worker process ended without its results ({_describe(status)}); "
            "run again with --jobs 1 to see why"
        )
    return pickle.loads(payload)


def _stop(pid: int, fd: int) -> None:
    """End a forked process that is no longer wanted."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    os.close(fd)
    os.waitpid(pid, 0)


def _describe(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"killed by signal {os.WTERMSIG(status)}"
    return f"exit status {os.waitstatus_to_exitcode(status)}"
