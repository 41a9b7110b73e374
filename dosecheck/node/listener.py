"""``dosecheck listen``: a DICOM node that checks every plan it receives.

:class:`Listener` puts together

* the DICOM service (:class:`~dosecheck.node.scp.StorageSCP`), whose association
  threads write each object to the store before answering and queue its arrival;
* one scheduler thread, the only one that touches the plan assembly
  (:class:`~dosecheck.node.assembly.PlanAssembler`) and the results database: it
  takes arrivals and association ends from the queue, hands ready plans to the
  worker processes and records each result as it comes back (one transaction per
  plan, the schema of ``dosecheck batch``: ``dosecheck results`` reads it);
* a pool of worker processes (:func:`dosecheck.batch.executors.process_pool`) that
  run the check (:func:`dosecheck.node.worker.check_stored`), so a slow check never
  delays receiving.

On start, every object already in the store is taken in: plans whose evaluation is
not recorded (same files, content, constraint set, options: the skip key of
``batch``) are checked. :meth:`Listener.stop` (SIGTERM in ``dosecheck listen``) stops
accepting associations, lets the open ones finish (``stop_grace_seconds``, then
aborts them), checks every complete plan not checked yet, waits for the checks in
flight and closes the run.

For tests and scripts, :meth:`Listener.serve_until` blocks until a condition holds
(e.g. ``lambda node: len(node.recorded) == 3``) instead of sleeping.
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
import math
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dosecheck.batch.executors import process_pool
from dosecheck.batch.runner import ConstraintSelection, plan_content_key, site_record
from dosecheck.batch.tasks import PlanOutcome, PlanTask
from dosecheck.dicom.headers import UnreadableDicom
from dosecheck.errors import InputError
from dosecheck.node.assembly import PlanAssembler, ReadyPlan
from dosecheck.node.options import ListenOptions, RecordedPlan, default_jobs
from dosecheck.node.scp import AssociationRecord, StorageSCP
from dosecheck.node.store import ObjectStore, StoredObject
from dosecheck.node.worker import check_stored

if TYPE_CHECKING:
    from dosecheck.batch.database import ResultsDB
    from dosecheck.checking.site_names import SiteNames

__all__ = ["ListenOptions", "Listener", "RecordedPlan", "default_jobs"]  # options re-exported

log = logging.getLogger("dosecheck.node")


@dataclass
class _InFlight:
    ready: ReadyPlan
    task: PlanTask
    files: list[tuple[str, str, str]]
    content_key: str
    attempts: int = 0


class Listener:
    """A DICOM node that stores and checks every plan it receives.

    Parameters
    ----------
    options
        See :class:`ListenOptions`.
    selection, site_names
        Already loaded (the command line validates before starting); loaded from
        ``options`` when not given.

    Raises
    ------
    InputError
        Bad options: constraint set, protocol map, alias file, folders.
    """

    def __init__(
        self,
        options: ListenOptions,
        *,
        selection: ConstraintSelection | None = None,
        site_names: SiteNames | None = None,
    ) -> None:
        if options.quiet_seconds < 0:
            raise InputError(f"--quiet-seconds must be 0 or more, not {options.quiet_seconds:g}")
        if options.jobs < 1:
            raise InputError(f"--jobs must be at least 1, not {options.jobs}")
        self.options = options
        self.selection = selection or ConstraintSelection.from_options(
            options.constraints, options.protocol_map
        )
        if site_names is None and options.site_names is not None:
            from dosecheck.checking.site_names import load_site_names

            site_names = load_site_names(options.site_names, source="option")
        self.site_names = site_names
        if options.reports is not None and not Path(options.reports).is_dir():
            raise InputError("the --reports folder does not exist", path=options.reports)
        try:
            self.store = ObjectStore(options.store, fsync=options.fsync)
        except OSError as exc:
            raise InputError(f"cannot use the --store folder ({exc})", path=options.store) from exc
        self.assembler = PlanAssembler(self.store.root)
        self.scp = StorageSCP(
            self.store,
            ae_title=options.ae_title,
            host=options.host,
            port=options.port,
            allow_aet=options.allow_aet,
            on_stored=self._stored,
            on_ended=self._ended,
        )
        #: Every evaluation recorded since start, in order.
        self.recorded: list[RecordedPlan] = []
        #: Every association ended since start, in order.
        self.associations: list[AssociationRecord] = []
        self.address: tuple[str, int] = (options.host, options.port)
        self._events: queue.Queue[tuple[Any, ...]] = queue.Queue()
        self._inflight: dict[cf.Future[dict[str, Any]], _InFlight] = {}
        self._pool: cf.ProcessPoolExecutor | None = None
        self._thread: threading.Thread | None = None
        self._open: set[int] = set()
        self._flush = threading.Event()
        self._scanned = threading.Event()
        self._stop_requested = False
        self._stopped = False
        self._idle_since: float | None = None
        self._index = 0
        self._failure: BaseException | None = None

    # --- the service's life ----------------------------------------------------------
    def start(self) -> tuple[str, int]:
        """Open the database, start the workers and the DICOM service; return the
        address listened on. The store is taken in by the scheduler thread.

        Raises
        ------
        InputError
            The database cannot be used, pynetdicom is missing, or the address cannot
            be bound.
        """
        from dosecheck.batch.database import ResultsDB

        ResultsDB(self.options.db).close()  # a bad database stops here (exit 2)
        removed = self.store.remove_leftovers()
        if removed:
            log.warning("removed %d unfinished write(s) from the store", removed)
        self._pool = process_pool(self.options.jobs)
        try:
            self.address = self.scp.start()
        except BaseException:
            self._pool.shutdown(wait=False, cancel_futures=True)
            raise
        self._thread = threading.Thread(target=self._run, name="dosecheck-listen", daemon=True)
        self._thread.start()
        log.info(
            "listening as %s on %s:%d; store %s; database %s; %d worker(s); quiet %g s%s",
            self.options.ae_title,
            self.address[0],
            self.address[1],
            self.store.root,
            self.options.db,
            self.options.jobs,
            self.options.quiet_seconds,
            f"; calling AE titles allowed: {', '.join(self.options.allow_aet)}"
            if self.options.allow_aet
            else "",
        )
        return self.address

    def request_stop(self) -> None:
        """Ask :meth:`serve_until` to return (safe in a signal handler)."""
        self._stop_requested = True

    def serve_until(
        self,
        predicate: Callable[[Listener], bool] | None = None,
        *,
        timeout: float | None = None,
        poll_s: float = 0.02,
    ) -> bool:
        """Block until ``predicate(self)`` holds (``True``), or until
        :meth:`request_stop`, ``timeout`` or a failure of the scheduler (``False``).

        Raises
        ------
        RuntimeError
            The scheduler thread failed (its exception is chained).
        """
        deadline = math.inf if timeout is None else time.monotonic() + timeout
        while True:
            if self._failure is not None:
                raise RuntimeError("the listener's scheduler failed") from self._failure
            if predicate is not None and predicate(self):
                return True
            if self._stop_requested or time.monotonic() >= deadline:
                return False
            time.sleep(poll_s)

    def idle_for(self) -> float:
        """Seconds since the node last became idle: store taken in, no association
        open, nothing waiting, nothing being checked (0 when busy)."""
        since = self._idle_since
        return 0.0 if since is None else time.monotonic() - since

    def stop(self) -> None:
        """Stop accepting, finish the open associations and every complete plan, wait
        for the checks in flight, close the run (see the module docstring)."""
        if self._stopped:
            return
        self._stopped = True
        self.scp.stop_accepting()
        deadline = time.monotonic() + self.options.stop_grace_seconds
        while self.scp.open_associations() and time.monotonic() < deadline:
            time.sleep(0.02)
        if self.scp.open_associations():
            log.warning(
                "aborting %d association(s) still open after %g s",
                self.scp.open_associations(),
                self.options.stop_grace_seconds,
            )
            self.scp.abort_all()
        self._flush.set()
        self._events.put(("wake",))
        if self._thread is not None:
            self._thread.join()
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        log.info("stopped: %d evaluation(s) recorded since start", len(self.recorded))

    def __enter__(self) -> Listener:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- called in the association threads ------------------------------------------
    def _stored(self, stored: StoredObject, rec: AssociationRecord) -> None:
        self._events.put(("stored", stored.path, rec.number, time.monotonic()))

    def _ended(self, rec: AssociationRecord) -> None:
        self.associations.append(rec)
        self._events.put(("ended", rec.number))

    # --- the scheduler thread ---------------------------------------------------------
    def _run(self) -> None:
        from dosecheck.batch.database import ResultsDB

        try:
            with ResultsDB(self.options.db) as db:
                run_id = db.start_run(
                    archives=[str(self.store.root)],
                    constraints=self.selection.spec,
                    executor=f"listen:processes:{self.options.jobs}",
                    strict=self.options.strict,
                )
                status = "interrupted"
                try:
                    self._take_in_store()
                    self._loop(db, run_id)
                    status = "finished"
                finally:
                    db.finish_run(run_id, status, self._counts())
        except BaseException as exc:  # reported by serve_until; logged for the service
            log.exception("the listener's scheduler failed")
            self._failure = exc

    def _counts(self) -> dict[str, int]:
        statuses = [r.status for r in self.recorded]
        counts = {s: statuses.count(s) for s in ("pass", "fail", "incomplete", "error")}
        return {"plans": len(self.recorded), "skipped": 0, "unreadable": 0, **counts}

    def _take_in_store(self) -> None:
        known = self.store.known()
        for path in sorted(known.values()):
            self._add(path, -math.inf, None)
        log.info("store: %d object(s) found", len(known))
        self._scanned.set()

    def _add(self, path: Path, when: float, association: int | None) -> None:
        try:
            self.assembler.add(path, when=when, association=association)
        except (UnreadableDicom, OSError) as exc:
            log.warning("stored %s but cannot read its header: %s", path, exc)

    def _loop(self, db: ResultsDB, run_id: int) -> None:
        while True:
            self._drain(db, run_id, timeout=0.05)
            flush = self._flush.is_set()
            for ready in self.assembler.ready(
                time.monotonic(), self.options.quiet_seconds, self._open, flush=flush
            ):
                self._dispatch(db, run_id, ready)
            busy = bool(
                self._inflight
                or self._open
                or self.assembler.waiting()
                or not self._events.empty()
                or self.scp.open_associations()
            )
            if busy:
                self._idle_since = None
            elif self._idle_since is None:
                self._idle_since = time.monotonic()
            if flush and not self._inflight and self._events.empty():
                return

    def _drain(self, db: ResultsDB, run_id: int, timeout: float) -> None:
        try:
            event = self._events.get(timeout=timeout)
        except queue.Empty:
            return
        while True:
            kind = event[0]
            if kind == "stored":
                _, path, number, when = event
                self._open.add(number)
                self._add(path, when, number)
            elif kind == "ended":
                self._open.discard(event[1])
                self.assembler.association_ended(event[1])
            elif kind == "done":
                self._finished(db, run_id, event[1])
            try:
                event = self._events.get_nowait()
            except queue.Empty:
                return

    def _record_now(
        self,
        db: ResultsDB,
        run_id: int,
        ready: ReadyPlan,
        files: list[tuple[str, str, str]],
        content_key: str,
        outcome: dict[str, Any],
        report: str | None = None,
    ) -> None:
        outcome["site_names"] = site_record(self.site_names)
        outcome["check_options"] = self.options.check_options.to_dict()
        plan = ready.plan
        evaluation_id = db.record(run_id, plan, files, content_key, outcome)
        after = None if ready.last_arrival == -math.inf else time.monotonic() - ready.last_arrival
        rec = RecordedPlan(
            location_key=plan.location_key,
            patient_id=plan.patient_id,
            plan_label=plan.plan_label,
            status=str(outcome["status"]),
            evaluation_id=evaluation_id,
            seconds_after_last_object=after,
            check_seconds=float(outcome.get("duration_s") or 0.0),
            report=report,
        )
        self.recorded.append(rec)
        detail = (
            f"ERROR — {outcome.get('error')}" if rec.status == "error" else outcome.get("summary")
        )
        timing = f"checked in {rec.check_seconds:.2f} s"
        if after is not None:
            timing += f", recorded {after:.2f} s after its last object"
        log.info("plan %s: %s (%s)", plan.describe(), detail, timing)

    def _dispatch(self, db: ResultsDB, run_id: int, ready: ReadyPlan) -> None:
        plan = ready.plan
        strict = self.options.strict
        try:
            files = [(role, f.location, f.sha256()) for role, f in plan.files]
        except OSError as exc:
            log.warning("plan %s: cannot read its files (%s)", plan.describe(), exc)
            return  # replaced or removed meanwhile: the newer version comes through
        content_key = plan_content_key(files)
        try:
            cset = self.selection.choose(plan)
        except InputError as exc:
            outcome = PlanOutcome.failed(str(exc), stage="constraint set", strict=strict)
            self._record_now(db, run_id, ready, files, content_key, outcome.to_record())
            return
        from dosecheck.batch.database import options_key

        site = site_record(self.site_names)
        done = db.lookup(
            plan.location_key,
            content_key,
            cset.sha256,
            strict,
            site["sha256"] if site else "",
            options_key(self.options.check_options.to_dict()),
        )
        if done is not None:
            log.info("plan %s: unchanged, already recorded (%s)", plan.describe(), done.upper())
            return
        self._index += 1
        log.info("plan %s: complete, checking (%d object(s))", plan.describe(), len(files))
        task = PlanTask(
            self._index, plan, cset, strict, self.site_names, self.options.check_options
        )
        self._submit(_InFlight(ready, task, files, content_key))

    def _submit(self, item: _InFlight) -> None:
        assert self._pool is not None
        reports = str(self.options.reports) if self.options.reports is not None else None
        fut = self._pool.submit(check_stored, item.task, reports)
        self._inflight[fut] = item
        fut.add_done_callback(lambda f: self._events.put(("done", f)))

    def _finished(self, db: ResultsDB, run_id: int, fut: cf.Future[dict[str, Any]]) -> None:
        item = self._inflight.pop(fut, None)
        if item is None:
            return
        task = item.task
        try:
            result = fut.result()
        except cf.process.BrokenProcessPool:
            self._replace_pool()
            if item.attempts == 0:
                item.attempts += 1
                self._submit(item)  # the pool broke: maybe another plan's worker died
                return
            outcome = PlanOutcome.worker_died(task).to_record()
            self._record_now(db, run_id, item.ready, item.files, item.content_key, outcome)
            return
        except Exception as exc:  # pickling problems and the like
            outcome = PlanOutcome.failed(
                f"{type(exc).__name__}: {exc}",
                stage="worker",
                error_type=type(exc).__name__,
                strict=task.strict,
                constraint_set=task.constraint_set,
            ).to_record()
            self._record_now(db, run_id, item.ready, item.files, item.content_key, outcome)
            return
        if result["sha256_after"] != [sha for _, _, sha in item.files]:
            log.info(
                "plan %s: an object was replaced during its check; checking the newer version",
                task.plan.describe(),
            )
            return
        if "report_error" in result:
            log.warning("plan %s: no HTML report: %s", task.plan.describe(), result["report_error"])
        self._record_now(
            db,
            run_id,
            item.ready,
            item.files,
            item.content_key,
            result["outcome"],
            result.get("report"),
        )

    def _replace_pool(self) -> None:
        pool = self._pool
        if pool is not None and getattr(pool, "_broken", False):
            pool.shutdown(wait=False, cancel_futures=True)
            self._pool = process_pool(self.options.jobs)
