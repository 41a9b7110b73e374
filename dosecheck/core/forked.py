"""Run independent tasks on this process and forked copies of it (Linux ``fork``).

:func:`map_forked` is what :func:`dosecheck.core.structures.compute_dvhs` uses to compute
the DVHs of a plan's ROIs in parallel. Compared with a ``multiprocessing`` pool it starts
one process fewer (the calling process takes tasks too, so its warm heap is used rather
than left idle), has no handler threads or task queue, and hands the tasks out through a
pipe: each process reads the next task's position as it becomes free, so the largest
tasks, given first, end up on different processes (issue #11: the pool's start and end
were 25-50 ms of a 0.65 s ``dvh`` on the benchmark plan).

Results do not depend on the number of processes: each task computes the same thing
wherever it runs, and the results are returned by task, not by process. Only Linux
forks: on macOS a forked process may not use the system's frameworks (CPython itself
spawns there by default), and Windows has no ``fork``.
"""

from __future__ import annotations

import os
import pickle
import signal
import struct
import threading
import traceback
from collections.abc import Callable, Sequence
from typing import TypeVar

__all__ = ["can_fork", "map_forked"]

T = TypeVar("T")

#: Task positions go out as 4-byte integers through one pipe, written before the fork.
#: More than this many tasks (or a pipe too small to take them at once) run here.
MAX_TASKS = 16_000
_POSITION = struct.Struct("=i")
# One run at a time per process: a second thread's run would otherwise hand its pipes'
# descriptors to the first run's children (fork copies them all), and no reader of a
# task pipe would ever see its end.
_ONE_RUN = threading.Lock()


def can_fork() -> bool:
    """True where :func:`map_forked` runs tasks in parallel (Linux)."""
    return hasattr(os, "fork") and os.uname().sysname == "Linux"


def map_forked(task: Callable[[int], T], order: Sequence[int], jobs: int) -> dict[int, T]:
    """``{i: task(i)}`` for every ``i`` of ``order``, on this process and ``jobs - 1`` forks.

    Tasks are started in the order given (put the longest first). The forked processes
    inherit everything ``task`` needs (copy-on-write) and send back only their results.

    Raises
    ------
    Exception
        The first exception a task raised here, else one a forked process raised (with
        its traceback as a note), once every forked process has ended.
    RuntimeError
        A forked process ended without returning all its results (killed, or out of
        memory), or its exception could not be rebuilt here.
    """
    order = list(order)
    jobs = max(1, min(jobs, len(order)))
    if jobs == 1 or not can_fork() or len(order) > MAX_TASKS:
        return {i: task(i) for i in order}
    with _ONE_RUN:
        read_task = _task_pipe(len(order))
        if read_task is None:
            return {i: task(i) for i in order}
        children: dict[int, int | None] = {}  # pid: result pipe (None once read)
        try:
            for _ in range(jobs - 1):
                read_result, write_result = os.pipe()
                try:
                    pid = os.fork()
                except BaseException:
                    os.close(read_result)
                    os.close(write_result)
                    raise
                if pid == 0:  # the forked process: take tasks, send results, leave
                    os.close(read_result)
                    _child(task, order, read_task, write_result)
                os.close(write_result)
                children[pid] = read_result
            results, error = _take_tasks(task, order, read_task)
            for pid in list(children):
                their_results, their_error = _collect(pid, children)
                results.update(their_results)
                error = error or their_error
        finally:
            os.close(read_task)
            for pid, fd in children.items():  # only after an error or an interrupt here
                _stop(pid, fd)
    if error is not None:
        raise error
    return results


def _task_pipe(n: int) -> int | None:
    """A pipe holding the positions ``0 .. n - 1``, write end closed (readers then see
    its end once all are taken); None when the pipe cannot hold them all at once."""
    read_task, write_task = os.pipe()
    data = b"".join(_POSITION.pack(p) for p in range(n))
    try:
        os.set_blocking(write_task, False)  # no reader yet: a full pipe must not block
        written = os.write(write_task, data)
    except BlockingIOError:
        written = 0
    finally:
        os.close(write_task)
    if written < len(data):
        os.close(read_task)
        return None
    return read_task


def _take_tasks(
    task: Callable[[int], T], order: list[int], read_task: int
) -> tuple[dict[int, T], Exception | None]:
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
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
        signal.signal(signal.SIGTERM, signal.SIG_DFL)  # not a handler inherited from it
        results, error = _take_tasks(task, order, read_task)
        text = "".join(traceback.format_exception(error)) if error is not None else ""
        try:
            blob = pickle.dumps(error, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:  # an exception that cannot be pickled: its text only
            blob = pickle.dumps(None)
        payload = pickle.dumps((results, blob, text), protocol=pickle.HIGHEST_PROTOCOL)
        with os.fdopen(write_result, "wb") as out:
            out.write(payload)
        status = 0
    finally:
        os._exit(status)  # no atexit handlers, no flushing of the parent's buffers


def _collect(pid: int, children: dict[int, int | None]) -> tuple[dict[int, T], Exception | None]:
    """A forked process's results and exception, once it has ended (then it is removed
    from ``children``; until then an interrupt leaves it there, for :func:`_stop`)."""
    fd = children[pid]
    assert fd is not None
    chunks = []
    try:
        while data := os.read(fd, 1 << 20):
            chunks.append(data)
    finally:
        os.close(fd)
        children[pid] = None
    _, status = os.waitpid(pid, 0)
    del children[pid]
    try:
        results, blob, text = pickle.loads(b"".join(chunks))
    except Exception:
        raise RuntimeError(
            f"a DVH worker process ended without its results ({_describe(status)}); "
            "run again with --jobs 1 to see why"
        ) from None
    if not text:
        return results, None
    try:
        error = pickle.loads(blob)
    except Exception:
        error = None
    if not isinstance(error, Exception):
        error = RuntimeError(f"a DVH worker process failed:\n{text}")
    else:
        error.add_note(f"raised in a forked DVH process:\n{text}")
    return results, error


def _stop(pid: int, fd: int | None) -> None:
    """End a forked process that is no longer wanted (it only computes: SIGKILL)."""
    if fd is not None:
        os.close(fd)
    try:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except (ProcessLookupError, ChildProcessError):  # already ended and reaped
        pass


def _describe(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"killed by signal {os.WTERMSIG(status)}"
    return f"exit status {os.waitstatus_to_exitcode(status)}"
