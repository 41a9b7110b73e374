"""Where the plans are checked: a process pool on this machine, or dask.distributed.

* :class:`LocalExecutor` — a :class:`~concurrent.futures.ProcessPoolExecutor` on this
  machine (``--jobs N``). A worker that dies (segfault, out-of-memory kill) breaks the
  pool: the plans that were in flight are then re-run one by one in fresh processes,
  so the plan that kills its worker is recorded as an error and the run goes on.
* :class:`DaskExecutor` — the same work on dask.distributed (``--scheduler`` or
  ``--dask``; the optional extra ``dosecheck[dask]``, imported only when used). The
  workers must see the archives at the same paths.

Both run :func:`dosecheck.batch.tasks.evaluate_plan` and call ``on_result(task,
record)`` in the calling thread as each plan ends.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import hashlib
import multiprocessing
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from dosecheck._optional import require
from dosecheck._runtime import keep_freed_memory
from dosecheck.batch.tasks import PlanOutcome, PlanTask, evaluate_plan
from dosecheck.errors import InputError

__all__ = [
    "DaskExecutor",
    "Executor",
    "LocalExecutor",
    "OnResult",
    "import_distributed",
    "process_pool",
]

#: How long to wait for a dask scheduler to answer.
SCHEDULER_TIMEOUT = "20s"

OnResult = Callable[[PlanTask, dict[str, Any]], None]


class Executor(Protocol):
    """Runs tasks and calls ``on_result`` in the calling thread as each one ends."""

    label: str

    def run(self, tasks: Sequence[PlanTask], on_result: OnResult) -> None: ...


#: Imported once in the fork server, so that every worker starts with them loaded.
_PRELOAD = [
    "dosecheck.batch.tasks",
    "dosecheck.core.structures",
    "dosecheck.checking.check",
    "dosecheck.core.engine",
    "dosecheck.dicom.load",
]


def _mp_context() -> multiprocessing.context.BaseContext:
    # Not fork: the parent may run threads (the progress display), and forking a
    # threaded process can deadlock. forkserver preloads the heavy imports once.
    methods = multiprocessing.get_all_start_methods()
    if "forkserver" in methods:
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(_PRELOAD)
        return ctx
    return multiprocessing.get_context("spawn")


def _process_alive(pid: int) -> bool:
    """Whether process ``pid`` exists and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):
        return True


def _watch_parent(parent_pid: int, interval_s: float = 1.0) -> None:
    """Worker initializer: exit when the batch process is gone.

    A worker blocked on the pool's call queue never notices that the parent was killed
    (SIGKILL leaves no chance to shut the pool down), so it checks every second.
    It also fixes the C heap's thresholds (:func:`~dosecheck._runtime.keep_freed_memory`).
    """
    keep_freed_memory()

    def watch() -> None:
        while True:
            time.sleep(interval_s)
            if not _process_alive(parent_pid):
                os._exit(1)

    threading.Thread(target=watch, name="dosecheck-watch-parent", daemon=True).start()


def _pool(jobs: int, ctx: Any) -> cf.ProcessPoolExecutor:
    return cf.ProcessPoolExecutor(
        max_workers=jobs, mp_context=ctx, initializer=_watch_parent, initargs=(os.getpid(),)
    )


def process_pool(jobs: int) -> cf.ProcessPoolExecutor:
    """A pool of ``jobs`` worker processes as :class:`LocalExecutor` uses (forkserver
    with the check's modules preloaded; workers exit when this process is gone)."""
    return _pool(jobs, _mp_context())


@dataclass
class LocalExecutor:
    """A process pool on this machine.

    Parameters
    ----------
    jobs
        Worker processes.
    """

    jobs: int
    label: str = field(init=False)

    def __post_init__(self) -> None:
        self.label = f"processes:{self.jobs}"

    def run(self, tasks: Sequence[PlanTask], on_result: OnResult) -> None:
        """Run every task; a worker that dies costs only the plan it was computing."""
        pending: deque[PlanTask] = deque(tasks)
        ctx = _mp_context()
        while pending:
            suspects = self._run_pool(pending, on_result, ctx)
            # The pool broke: run the plans that were in flight one at a time, each in
            # a fresh process, so that only the one that kills its worker fails.
            for task in suspects:
                self._run_isolated(task, on_result, ctx)

    def _run_pool(self, pending: deque[PlanTask], on_result: OnResult, ctx: Any) -> list[PlanTask]:
        inflight: dict[cf.Future[dict[str, Any]], PlanTask] = {}
        pool = _pool(self.jobs, ctx)
        try:
            while pending or inflight:
                while pending and len(inflight) < 2 * self.jobs:
                    task = pending.popleft()
                    inflight[pool.submit(evaluate_plan, task)] = task
                done, _ = cf.wait(inflight, return_when=cf.FIRST_COMPLETED)
                broken: list[PlanTask] = []
                for fut in done:
                    task = inflight.pop(fut)
                    try:
                        outcome = fut.result()
                    except cf.process.BrokenProcessPool:
                        broken.append(task)
                        continue
                    except Exception as exc:  # pickling problems and the like
                        outcome = _crash_outcome(task, exc)
                    on_result(task, outcome)
                if broken:
                    broken.extend(inflight.values())
                    inflight.clear()
                    return sorted(broken, key=lambda t: t.index)
            return []
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def _run_isolated(self, task: PlanTask, on_result: OnResult, ctx: Any) -> None:
        with _pool(1, ctx) as pool:
            try:
                outcome = pool.submit(evaluate_plan, task).result()
            except cf.process.BrokenProcessPool:
                outcome = PlanOutcome.worker_died(task).to_record()
            except Exception as exc:
                outcome = _crash_outcome(task, exc)
        on_result(task, outcome)


def _crash_outcome(task: PlanTask, exc: BaseException) -> dict[str, Any]:
    return PlanOutcome.failed(
        f"{type(exc).__name__}: {exc}",
        stage="worker",
        error_type=type(exc).__name__,
        strict=task.strict,
        constraint_set=task.constraint_set,
    ).to_record()


def import_distributed() -> Any:
    """``import distributed``, or a :class:`~dosecheck._optional.MissingExtraError`."""
    return require("distributed", extra="dask", feature="--scheduler and --dask")


@dataclass
class DaskExecutor:
    """dask.distributed: a running scheduler, or a LocalCluster started for the run.

    Parameters
    ----------
    address
        ``tcp://HOST:PORT`` of a scheduler, or ``None`` for a LocalCluster.
    jobs
        Workers of the LocalCluster (one thread each).
    """

    address: str | None
    jobs: int
    label: str = field(init=False)

    def __post_init__(self) -> None:
        import_distributed()
        self.label = f"dask:{self.address}" if self.address else f"dask:local:{self.jobs}"

    @contextlib.contextmanager
    def _client(self) -> Iterator[Any]:
        distributed = import_distributed()
        if self.address:
            try:
                client = distributed.Client(self.address, timeout=SCHEDULER_TIMEOUT)
            except (OSError, TimeoutError) as exc:
                raise InputError(
                    f"cannot connect to the dask scheduler at {self.address}: {exc}"
                ) from exc
            try:
                yield client
            finally:
                client.close()
            return
        cluster = distributed.LocalCluster(
            n_workers=self.jobs,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
        )
        try:
            with distributed.Client(cluster) as client:
                yield client
        finally:
            cluster.close()

    def run(self, tasks: Sequence[PlanTask], on_result: OnResult) -> None:
        """Submit every task and record results as they complete."""
        if not tasks:
            return
        distributed = import_distributed()
        token = hashlib.sha256(f"{os.getpid()}-{time.time()}".encode()).hexdigest()[:12]
        with self._client() as client:
            futures = {}
            for task in tasks:
                fut = client.submit(
                    evaluate_plan, task, key=f"dosecheck-plan-{token}-{task.index}", pure=False
                )
                futures[fut.key] = (fut, task)
            for fut in distributed.as_completed([f for f, _ in futures.values()]):
                task = futures[fut.key][1]
                try:
                    outcome = fut.result()
                except Exception as exc:  # KilledWorker, lost connection, …
                    outcome = _crash_outcome(task, exc)
                on_result(task, outcome)
                fut.release()
