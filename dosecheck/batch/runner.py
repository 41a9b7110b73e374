"""Run the check over every plan of some archives, in parallel, into the database.

:func:`run_batch` discovers the plans, hashes their files, chooses each plan's
constraint set, skips the evaluations already in the database, and sends the others
to an executor:

* :class:`LocalExecutor` — a :class:`~concurrent.futures.ProcessPoolExecutor` on this
  machine (``--jobs N``). A worker that dies (segfault, out-of-memory kill) breaks the
  pool: the plans that were in flight are then re-run one by one in fresh processes,
  so the plan that kills its worker is recorded as an error and the run goes on.
* :class:`DaskExecutor` — the same work on dask.distributed (``--scheduler`` or
  ``--dask``; the optional extra ``dosecheck[dask]``, imported only when used). The
  workers must see the archives at the same paths.

:func:`evaluate_plan` runs in the workers: it loads and checks one plan and turns any
exception into an ``error`` outcome, so one bad plan never stops a run. Only the
parent process writes to the database, one transaction per plan, as results arrive.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import hashlib
import multiprocessing
import os
import shutil
import socket
import sys
import tempfile
import threading
import time
import traceback
import zipfile
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from dosecheck import __version__
from dosecheck._optional import require
from dosecheck.dicom.discovery import DiscoveredPlan, Discovery, discover
from dosecheck.dicom.files import FileRef
from dosecheck.errors import InputError

if TYPE_CHECKING:
    from dosecheck.batch.database import ResultsDB
    from dosecheck.batch.protocol_map import ProtocolMap
    from dosecheck.checking.check import CheckReport
    from dosecheck.checking.model import ConstraintSet
    from dosecheck.checking.site_names import SiteNames

__all__ = [
    "BatchOptions",
    "BatchSummary",
    "ConstraintSelection",
    "DaskExecutor",
    "LocalExecutor",
    "PlanTask",
    "Reporter",
    "evaluate_plan",
    "exit_code_for",
    "run_batch",
    "site_record",
]

#: Environment variable: seconds each worker sleeps before a plan. A debugging and
#: testing aid (the resume test uses it to kill a run half-way); never set normally.
DELAY_ENV = "DOSECHECK_BATCH_DELAY"

#: How long to wait for a dask scheduler to answer.
SCHEDULER_TIMEOUT = "20s"

OnResult = Callable[["PlanTask", dict[str, Any]], None]


# --------------------------------------------------------------------------- selection
@dataclass(frozen=True)
class ConstraintSelection:
    """How each plan's constraint set is chosen.

    Exactly one of ``constraint_set`` (``--constraints``, the same for every plan) and
    ``protocol_map`` (``--protocol-map``) is set, or neither (automatic: the shipped
    set written for the RTPLAN's prescription, as ``dosecheck check`` does).
    """

    constraint_set: ConstraintSet | None = None
    protocol_map: ProtocolMap | None = None
    spec: str = "auto"

    @classmethod
    def from_options(
        cls, constraints: str | None, protocol_map: str | Path | None
    ) -> ConstraintSelection:
        """Load ``--constraints`` or ``--protocol-map`` (at most one).

        Raises
        ------
        InputError
            Both given, or a bad set name, constraint file or protocol map.
        """
        if constraints is not None and protocol_map is not None:
            raise InputError("give --constraints or --protocol-map, not both")
        if constraints is not None:
            from dosecheck.checking.sets import resolve_constraint_set

            return cls(constraint_set=resolve_constraint_set(constraints), spec=constraints)
        if protocol_map is not None:
            from dosecheck.batch.protocol_map import load_protocol_map

            pmap = load_protocol_map(protocol_map)
            return cls(protocol_map=pmap, spec=f"protocol-map:{pmap.path}")
        return cls()

    def choose(self, plan: DiscoveredPlan) -> ConstraintSet:
        """The set for ``plan``.

        Raises
        ------
        InputError
            Automatic or map selection finds no set for the plan.
        """
        if self.constraint_set is not None:
            return self.constraint_set
        if self.protocol_map is not None:
            return self.protocol_map.choose(
                plan_label=plan.plan_label,
                patient_id=plan.patient_id,
                prescription_gy=plan.prescription_gy,
                fractions=plan.fractions,
            )
        from dosecheck.batch.protocol_map import select_automatic

        return select_automatic(plan.prescription_gy, plan.fractions)


# --------------------------------------------------------------------------- the work
@dataclass(frozen=True)
class PlanTask:
    """One plan to check, as sent to a worker (picklable).

    Attributes
    ----------
    index
        Position in the run (for messages and task keys).
    plan
        The plan's files and identity.
    constraint_set
        The set to check against.
    strict
        ``check --strict``.
    site_names
        The clinic's alias file (``--site-names``), the same for every plan.
    """

    index: int
    plan: DiscoveredPlan
    constraint_set: ConstraintSet
    strict: bool = False
    site_names: SiteNames | None = None


def _worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def error_outcome(
    message: str,
    *,
    stage: str,
    error_type: str = "InputError",
    strict: bool = False,
    constraint_set: ConstraintSet | None = None,
    tb: str | None = None,
) -> dict[str, Any]:
    """An ``error`` outcome (the plan could not be evaluated)."""
    cset = None
    if constraint_set is not None:
        cset = {
            "name": constraint_set.name,
            "path": constraint_set.path,
            "sha256": constraint_set.sha256,
        }
    return {
        "status": "error",
        "error": message,
        "error_type": error_type,
        "error_stage": stage,
        "traceback": tb,
        "summary": f"ERROR — {message}",
        "constraint_set": cset,
        "prescription": None,
        "strict": strict,
        "warnings": [],
        "results": [],
        "structures": [],
        "duration_s": 0.0,
        "worker": _worker_name(),
        "dosecheck_version": __version__,
    }


def _finite(x: float | None) -> float | None:
    import math

    return None if x is None or not math.isfinite(x) else float(x)


def outcome_from_report(report: CheckReport) -> dict[str, Any]:
    """The outcome of a completed check: verdict, results, matched structures, and the
    plan's dose-scale and beam-dose checks (the records of ``check --format json``)."""
    matched: dict[str, tuple[str | None, str | None, str]] = {}
    for r in report.results:
        if r.structure not in matched or (matched[r.structure][0] is None and r.roi):
            matched[r.structure] = (r.roi, r.matched_by, r.match_detail)
    dvhs = {item.structure.name: item.dvh for item in report.dvhs}
    structures = []
    for spec in report.constraint_set.structures:
        roi, by, detail = matched.get(spec.name, (None, None, ""))
        dvh = dvhs.get(roi) if roi is not None else None
        structures.append(
            {
                "structure": spec.name,
                "roi": roi,
                "matched_by": by,
                "match_detail": detail or None,
                "volume_cc": _finite(dvh.volume_cc) if dvh else None,
                "outside_grid_cc": _finite(dvh.outside_grid_cc) if dvh else None,
                "min_gy": _finite(dvh.min_gy) if dvh else None,
                "mean_gy": _finite(dvh.mean_gy) if dvh else None,
                "max_gy": _finite(dvh.max_gy) if dvh else None,
            }
        )
    return {
        "status": report.verdict,
        "error": None,
        "error_type": None,
        "error_stage": None,
        "traceback": None,
        "summary": report.summary(),
        "constraint_set": report.constraint_set_record(),
        "prescription": report.prescription.to_dict(),
        "strict": report.strict,
        "warnings": list(report.warnings),
        "results": report.result_records(),
        "structures": structures,
        "dose_scale": report.plan.get("dose_scale"),
        "beam_dose_check": report.plan.get("beam_dose_check"),
        "dosecheck_version": report.dosecheck_version,
    }


@contextlib.contextmanager
def _local_files(plan: DiscoveredPlan) -> Iterator[tuple[dict[FileRef, str], dict[str, str]]]:
    """Paths on disk of the plan's files (zip members extracted to a temporary folder
    that is removed afterwards), and a map from those paths back to locations."""
    if all(f.member is None for _, f in plan.files):
        yield {f: f.path for _, f in plan.files}, {}
        return
    tmp = tempfile.mkdtemp(prefix="dosecheck-batch-")
    try:
        paths: dict[FileRef, str] = {}
        back: dict[str, str] = {}
        for i, (_, f) in enumerate(plan.files):
            if f.member is None:
                paths[f] = f.path
                continue
            target = os.path.join(tmp, f"{i:03d}_{f.name}")
            with zipfile.ZipFile(f.path) as zf, zf.open(f.member) as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
            paths[f] = target
            back[target] = f.location
        yield paths, back
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _restore_locations(text: str, back: dict[str, str]) -> str:
    for tmp_path, location in sorted(back.items(), key=lambda kv: -len(kv[0])):
        text = text.replace(tmp_path, location)
    return text


def _restore_in(value: Any, back: dict[str, str]) -> Any:
    """``value`` (JSON-ready) with every string's temporary paths restored."""
    if not back:
        return value
    if isinstance(value, str):
        return _restore_locations(value, back)
    if isinstance(value, list):
        return [_restore_in(v, back) for v in value]
    if isinstance(value, dict):
        return {k: _restore_in(v, back) for k, v in value.items()}
    return value


def evaluate_plan(task: PlanTask) -> dict[str, Any]:
    """Load and check one plan; never raises (errors become an ``error`` outcome).

    Runs in a worker process (or in a dask worker).

    Returns
    -------
    dict
        ``status`` (``pass``/``fail``/``error``), ``error``, ``summary``,
        ``constraint_set``, ``prescription``, ``warnings``, ``results`` (the objects of
        ``check --format json``), ``structures``, ``duration_s``, ``worker``, …
    """
    start = time.perf_counter()
    cpu_start = time.process_time()
    delay = os.environ.get(DELAY_ENV)
    if delay:
        with contextlib.suppress(ValueError):
            time.sleep(float(delay))
    back: dict[str, str] = {}
    try:
        from dosecheck.checking.check import check_plan
        from dosecheck.dicom.load import load_plan
        from dosecheck.model import PlanFiles

        plan = task.plan
        if plan.rtstruct is None:
            raise InputError(plan.problem or "no RTSTRUCT for this plan")
        with _local_files(plan) as (paths, back):
            files = PlanFiles(
                rtstruct=paths[plan.rtstruct],
                rtdose=tuple(paths[f] for f in plan.rtdose),
                rtplan=paths[plan.rtplan] if plan.rtplan is not None else None,
                root=plan.path,
                beam_doses=tuple(paths[f] for f in plan.beam_doses),
            )
            loaded = load_plan(files)
            report = check_plan(
                loaded, task.constraint_set, strict=task.strict, site_names=task.site_names
            )
            outcome = outcome_from_report(report)
            if back:
                for key in ("warnings", "dose_scale", "beam_dose_check"):
                    outcome[key] = _restore_in(outcome[key], back)
    except Exception as exc:
        from dosecheck.errors import DosecheckError

        known = isinstance(exc, DosecheckError)
        message = str(exc) if known else f"{type(exc).__name__}: {exc}"
        outcome = error_outcome(
            _restore_locations(message, back),
            stage="evaluation",
            error_type=type(exc).__name__,
            strict=task.strict,
            constraint_set=task.constraint_set,
            tb=None if known else _restore_locations(traceback.format_exc(), back),
        )
    outcome["duration_s"] = time.perf_counter() - start
    outcome["cpu_s"] = time.process_time() - cpu_start
    outcome["worker"] = _worker_name()
    return outcome


# --------------------------------------------------------------------------- executors
class Executor(Protocol):
    """Runs tasks and calls ``on_result`` in the calling thread as each one ends."""

    label: str

    def run(self, tasks: Sequence[PlanTask], on_result: OnResult) -> None: ...


#: Imported once in the fork server, so that every worker starts with them loaded.
_PRELOAD = [
    "dosecheck.batch.runner",
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
    """

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
                outcome = error_outcome(
                    "the worker process died while checking this plan (killed, out of "
                    "memory, or crashed)",
                    stage="worker",
                    error_type="WorkerDied",
                    strict=task.strict,
                    constraint_set=task.constraint_set,
                )
            except Exception as exc:
                outcome = _crash_outcome(task, exc)
        on_result(task, outcome)


def _crash_outcome(task: PlanTask, exc: BaseException) -> dict[str, Any]:
    return error_outcome(
        f"{type(exc).__name__}: {exc}",
        stage="worker",
        error_type=type(exc).__name__,
        strict=task.strict,
        constraint_set=task.constraint_set,
    )


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


# --------------------------------------------------------------------------- reporting
class Reporter(Protocol):
    """Progress display: rich bar on a terminal, log lines otherwise."""

    def start(self, total: int, skipped: int) -> None: ...

    def plan_done(self, plan: DiscoveredPlan, outcome: dict[str, Any]) -> None: ...

    def close(self) -> None: ...


class NullReporter:
    """Shows nothing (the Python API default)."""

    def start(self, total: int, skipped: int) -> None:
        """Nothing."""

    def plan_done(self, plan: DiscoveredPlan, outcome: dict[str, Any]) -> None:
        """Nothing."""

    def close(self) -> None:
        """Nothing."""


# --------------------------------------------------------------------------- the run
@dataclass
class BatchOptions:
    """What ``dosecheck batch`` was asked to do.

    Attributes
    ----------
    archives
        Folders, zip files or files.
    db
        The results database.
    constraints, protocol_map
        ``--constraints`` / ``--protocol-map`` (automatic selection when neither).
    jobs
        Local worker processes (default: the number of CPUs).
    scheduler
        ``tcp://HOST:PORT`` of a dask scheduler.
    dask
        Start a dask LocalCluster with ``jobs`` workers.
    force
        Recompute plans already recorded.
    strict
        ``check --strict``.
    site_names
        ``--site-names``: the clinic's alias file, for every plan. Its SHA-256 is
        part of what makes a recorded evaluation up to date. (The environment
        variable ``DOSECHECK_SITE_NAMES`` is read by the command line, not here.)
    """

    archives: Sequence[str | Path]
    db: str | Path = "results.sqlite"
    constraints: str | None = None
    protocol_map: str | Path | None = None
    jobs: int | None = None
    scheduler: str | None = None
    dask: bool = False
    force: bool = False
    strict: bool = False
    site_names: str | Path | None = None


@dataclass
class BatchSummary:
    """The outcome of :func:`run_batch`.

    Attributes
    ----------
    run_id
        The run's id in the database.
    discovery
        What discovery found.
    statuses
        Latest status of every plan found, by ``location_key``.
    n_computed
        Plans evaluated (or found to be errors) in this run.
    n_skipped
        Plans already recorded, not recomputed.
    elapsed_s
        Wall time of the whole run.
    compute_s
        Wall time of the evaluation phase.
    """

    run_id: int
    discovery: Discovery
    statuses: dict[str, str]
    n_computed: int = 0
    n_skipped: int = 0
    elapsed_s: float = 0.0
    compute_s: float = 0.0

    @property
    def counts(self) -> dict[str, int]:
        """``{"pass", "fail", "incomplete", "error"}`` over every plan found."""
        values = list(self.statuses.values())
        return {s: values.count(s) for s in ("pass", "fail", "incomplete", "error")}

    @property
    def exit_code(self) -> int:
        """3 when a plan (or a DICOM file) could not be evaluated, else 1 when a plan
        fails a mandatory constraint or is incomplete, else 0."""
        return exit_code_for(self.statuses.values(), unreadable=len(self.discovery.unreadable))


def exit_code_for(statuses: Any, unreadable: int = 0) -> int:
    """Batch exit code: 3 if any error (or unreadable DICOM file), else 1 if any
    fail or incomplete, else 0 — 3 takes precedence over 1."""
    values = set(statuses)
    if "error" in values or unreadable:
        return 3
    if "fail" in values or "incomplete" in values:
        return 1
    return 0


def site_record(site_names: SiteNames | None) -> dict[str, str] | None:
    """``{path, sha256, source}`` of the alias file as recorded per plan, or ``None``."""
    if site_names is None:
        return None
    return {"path": site_names.path, "sha256": site_names.sha256, "source": site_names.source}


def _content_key(files: Sequence[tuple[str, str, str]]) -> str:
    text = "\n".join(f"{role}={sha}" for role, _, sha in files)
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def _hash_plan(plan: DiscoveredPlan) -> list[tuple[str, str, str]]:
    return [(role, f.location, f.sha256()) for role, f in plan.files]


def make_executor(options: BatchOptions) -> Executor:
    """The executor the options ask for.

    Raises
    ------
    InputError
        Conflicting options, a bad ``--jobs``, or dask missing.
    """
    jobs = options.jobs if options.jobs is not None else (os.cpu_count() or 1)
    if jobs < 1:
        raise InputError(f"--jobs must be at least 1, not {jobs}")
    if options.scheduler and options.dask:
        raise InputError("give --scheduler ADDRESS or --dask, not both")
    if options.scheduler:
        return DaskExecutor(options.scheduler, jobs)
    if options.dask:
        return DaskExecutor(None, jobs)
    return LocalExecutor(jobs)


def run_batch(
    options: BatchOptions,
    *,
    reporter: Reporter | None = None,
    discovery: Discovery | None = None,
    selection: ConstraintSelection | None = None,
    site_names: SiteNames | None = None,
) -> BatchSummary:
    """Check every plan of the archives and record the results.

    Parameters
    ----------
    options
        See :class:`BatchOptions`.
    reporter
        Progress display (none by default).
    discovery, selection, site_names
        Already computed (the command line discovers and validates first);
        ``site_names`` is loaded from ``options.site_names`` when not given.

    Returns
    -------
    BatchSummary

    Raises
    ------
    InputError
        Bad options, missing archives, a bad constraint set or protocol map, an
        unusable database, or (``--scheduler``) an unreachable scheduler.
    """
    from dosecheck.batch.database import ResultsDB

    t0 = time.perf_counter()
    reporter = reporter or NullReporter()
    selection = selection or ConstraintSelection.from_options(
        options.constraints, options.protocol_map
    )
    if site_names is None and options.site_names is not None:
        from dosecheck.checking.site_names import load_site_names

        site_names = load_site_names(options.site_names, source="option")
    executor = make_executor(options)
    discovery = discovery or discover(options.archives)
    db = ResultsDB(options.db)
    run_id = db.start_run(
        archives=[os.path.abspath(str(a)) for a in options.archives],
        constraints=selection.spec,
        executor=executor.label,
        strict=options.strict,
    )
    summary = BatchSummary(run_id=run_id, discovery=discovery, statuses={})
    status = "interrupted"
    try:
        for location, message in discovery.unreadable:
            db.record_file_error(run_id, location, message)
        tasks, keys = _prepare(
            db, run_id, discovery.plans, selection, options, summary, reporter, site_names
        )

        def on_result(task: PlanTask, outcome: dict[str, Any]) -> None:
            files, content_key = keys[task.index]
            outcome["site_names"] = site_record(site_names)
            db.record(run_id, task.plan, files, content_key, outcome, force=options.force)
            summary.statuses[task.plan.location_key] = outcome["status"]
            summary.n_computed += 1
            reporter.plan_done(task.plan, outcome)

        t1 = time.perf_counter()
        executor.run(tasks, on_result)
        summary.compute_s = time.perf_counter() - t1
        status = "finished"
    finally:
        reporter.close()
        counts = summary.counts
        db.finish_run(
            run_id,
            status,
            {
                "plans": len(discovery.plans),
                "skipped": summary.n_skipped,
                "unreadable": len(discovery.unreadable),
                **counts,
            },
        )
        db.close()
    summary.elapsed_s = time.perf_counter() - t0
    return summary


def _prepare(
    db: ResultsDB,
    run_id: int,
    plans: Sequence[DiscoveredPlan],
    selection: ConstraintSelection,
    options: BatchOptions,
    summary: BatchSummary,
    reporter: Reporter,
    site_names: SiteNames | None = None,
) -> tuple[list[PlanTask], dict[int, tuple[list[tuple[str, str, str]], str]]]:
    """Hash the files, choose the sets, record plans that cannot be evaluated, skip
    the ones already recorded; return the tasks to run."""
    site = site_record(site_names)
    site_sha = site["sha256"] if site else ""
    hashed: list[list[tuple[str, str, str]] | BaseException] = []
    workers = min(8, max(1, len(plans)))
    with cf.ThreadPoolExecutor(max_workers=workers) as pool:
        for fut in [pool.submit(_hash_plan, p) for p in plans]:
            try:
                hashed.append(fut.result())
            except (OSError, zipfile.BadZipFile, EOFError) as exc:
                hashed.append(exc)

    tasks: list[PlanTask] = []
    keys: dict[int, tuple[list[tuple[str, str, str]], str]] = {}
    immediate: list[tuple[DiscoveredPlan, list[tuple[str, str, str]], str, dict[str, Any]]] = []
    for index, (plan, files) in enumerate(zip(plans, hashed, strict=True)):
        outcome: dict[str, Any] | None = None
        cset: ConstraintSet | None = None
        if isinstance(files, BaseException):
            outcome = error_outcome(
                f"cannot read the plan's files: {files}",
                stage="discovery",
                error_type=type(files).__name__,
                strict=options.strict,
            )
            files = [(role, f.location, "") for role, f in plan.files]
        elif plan.problem is not None:
            outcome = error_outcome(plan.problem, stage="discovery", strict=options.strict)
        else:
            try:
                cset = selection.choose(plan)
            except InputError as exc:
                outcome = error_outcome(str(exc), stage="constraint set", strict=options.strict)
        content_key = _content_key(files)
        cset_sha = cset.sha256 if cset is not None else ""
        if not options.force:
            done = db.lookup(plan.location_key, content_key, cset_sha, options.strict, site_sha)
            if done is not None:
                summary.statuses[plan.location_key] = done
                summary.n_skipped += 1
                continue
        if outcome is not None:
            immediate.append((plan, files, content_key, outcome))
            continue
        assert cset is not None
        keys[index] = (files, content_key)
        tasks.append(PlanTask(index, plan, cset, options.strict, site_names))

    reporter.start(len(tasks) + len(immediate), summary.n_skipped)
    for plan, files, content_key, outcome in immediate:
        outcome["site_names"] = site
        db.record(run_id, plan, files, content_key, outcome, force=options.force)
        summary.statuses[plan.location_key] = "error"
        summary.n_computed += 1
        reporter.plan_done(plan, outcome)
    return tasks, keys


def default_jobs() -> int:
    """``os.cpu_count()`` (at least 1)."""
    return os.cpu_count() or 1


def is_tty() -> bool:
    """Whether stderr is a terminal (rich progress) or not (log lines)."""
    return sys.stderr.isatty()
