"""Run the check over every plan of some archives, in parallel, into the database.

:func:`run_batch` discovers the plans, hashes their files, chooses each plan's
constraint set, skips the evaluations already in the database, and sends the others
to an executor (:mod:`dosecheck.batch.executors`: :class:`LocalExecutor`, a process
pool, or :class:`DaskExecutor`).

:func:`~dosecheck.batch.tasks.evaluate_plan` (:mod:`dosecheck.batch.tasks`) runs in
the workers: it loads and checks one plan and turns any exception into an ``error``
outcome, so one bad plan never stops a run. Only the parent process writes to the
database, one transaction per plan, as results arrive.
"""

from __future__ import annotations

import concurrent.futures as cf
import hashlib
import os
import sys
import time
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from dosecheck.batch.executors import DaskExecutor, Executor, LocalExecutor
from dosecheck.batch.tasks import DELAY_ENV, CheckOptions, PlanOutcome, PlanTask, evaluate_plan
from dosecheck.dicom.discovery import DiscoveredPlan, Discovery, discover
from dosecheck.errors import InputError

if TYPE_CHECKING:
    from dosecheck.batch.database import ResultsDB
    from dosecheck.batch.protocol_map import ProtocolMap
    from dosecheck.checking.model import ConstraintSet
    from dosecheck.checking.site_names import SiteNames

# DELAY_ENV, the executors, PlanTask and evaluate_plan are re-exported from
# tasks.py and executors.py, where they moved (#14).
__all__ = [
    "DELAY_ENV",
    "BatchOptions",
    "BatchSummary",
    "CheckOptions",
    "ConstraintSelection",
    "DaskExecutor",
    "LocalExecutor",
    "PlanTask",
    "Reporter",
    "evaluate_plan",
    "exit_code_for",
    "plan_content_key",
    "run_batch",
    "site_record",
]


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
    check_options
        The check's other options (``--compare-tps``), for every plan. Those that
        are not the defaults are recorded and part of what makes a recorded
        evaluation up to date.
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
    check_options: CheckOptions = field(default_factory=CheckOptions)


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


def plan_content_key(files: Sequence[tuple[str, str, str]]) -> str:
    """SHA-256 over the ``(role, location, sha256)`` files' roles and hashes: what makes
    two evaluations of one plan the same content."""
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
            outcome["check_options"] = options.check_options.to_dict()
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
    from dosecheck.batch.database import options_key

    site = site_record(site_names)
    site_sha = site["sha256"] if site else ""
    check_options = options.check_options.to_dict()
    check_key = options_key(check_options)
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
            outcome = PlanOutcome.failed(
                f"cannot read the plan's files: {files}",
                stage="discovery",
                error_type=type(files).__name__,
                strict=options.strict,
            ).to_record()
            files = [(role, f.location, "") for role, f in plan.files]
        elif plan.problem is not None:
            outcome = PlanOutcome.failed(
                plan.problem, stage="discovery", strict=options.strict
            ).to_record()
        else:
            try:
                cset = selection.choose(plan)
            except InputError as exc:
                outcome = PlanOutcome.failed(
                    str(exc), stage="constraint set", strict=options.strict
                ).to_record()
        content_key = plan_content_key(files)
        cset_sha = cset.sha256 if cset is not None else ""
        if not options.force:
            done = db.lookup(
                plan.location_key, content_key, cset_sha, options.strict, site_sha, check_key
            )
            if done is not None:
                summary.statuses[plan.location_key] = done
                summary.n_skipped += 1
                continue
        if outcome is not None:
            immediate.append((plan, files, content_key, outcome))
            continue
        assert cset is not None
        keys[index] = (files, content_key)
        tasks.append(PlanTask(index, plan, cset, options.strict, site_names, options.check_options))

    reporter.start(len(tasks) + len(immediate), summary.n_skipped)
    for plan, files, content_key, outcome in immediate:
        outcome["site_names"] = site
        outcome["check_options"] = check_options
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
