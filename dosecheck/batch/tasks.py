"""One plan's work, as it runs in a worker: :class:`PlanTask` in, :class:`PlanOutcome` out.

:func:`evaluate_plan` loads and checks one plan (zip members extracted to a temporary
folder, their paths written back as locations in every message) and turns any
exception into an ``error`` outcome, so one bad plan never stops a run. The outcome is
a :class:`PlanOutcome`, built by :meth:`PlanOutcome.from_report` or
:meth:`PlanOutcome.failed`; :meth:`PlanOutcome.to_record` is the dict that the
executors pass back and :meth:`dosecheck.batch.database.ResultsDB.record` stores.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import socket
import tempfile
import time
import traceback
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dosecheck import __version__
from dosecheck.dicom.discovery import DiscoveredPlan
from dosecheck.dicom.files import FileRef
from dosecheck.errors import InputError

if TYPE_CHECKING:
    from dosecheck.checking.check import CheckReport
    from dosecheck.checking.model import ConstraintSet, Verdict
    from dosecheck.checking.site_names import SiteNames

__all__ = ["DELAY_ENV", "CheckOptions", "PlanError", "PlanOutcome", "PlanTask", "evaluate_plan"]

#: Environment variable: seconds each worker sleeps before a plan. A debugging and
#: testing aid (the resume test uses it to kill a run half-way); never set normally.
DELAY_ENV = "DOSECHECK_BATCH_DELAY"


# --------------------------------------------------------------------------- the task
@dataclass(frozen=True)
class CheckOptions:
    """The options of :func:`~dosecheck.checking.check.check_plan` that change a plan's
    results, the same for every plan of a run (picklable).

    Each field is a keyword argument of ``check_plan`` with its default there; the
    options that differ from the defaults are recorded per evaluation
    (``plans.check_options``) and are part of what makes a recorded evaluation up to
    date. A new option of the check is one field here (and its command-line option).

    Attributes
    ----------
    compare_tps
        ``--compare-tps``: also evaluate every constraint on the planning system's DVH.
    end_caps
        ``--end-caps``: the end-cap convention (``None``: the constraint set's, else
        half-slice).
    shape_range
        ``--shape-range``: end caps ``shape`` in the borderline ranges near a limit.
    """

    compare_tps: bool = False
    end_caps: str | None = None
    shape_range: bool = False

    def kwargs(self) -> dict[str, Any]:
        """All the options, as keyword arguments of ``check_plan``."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    def to_dict(self) -> dict[str, Any]:
        """The options that differ from the defaults (``{}`` for none): what is
        recorded, so that a new option with its default leaves old records up to date."""
        return {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if getattr(self, f.name) != f.default
        }


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
    check_options
        The check's other options (``--compare-tps``), the same for every plan.
    """

    index: int
    plan: DiscoveredPlan
    constraint_set: ConstraintSet
    strict: bool = False
    site_names: SiteNames | None = None
    check_options: CheckOptions = field(default_factory=CheckOptions)


def _worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _finite(x: float | None) -> float | None:
    import math

    return None if x is None or not math.isfinite(x) else float(x)


@dataclass(frozen=True)
class PlanError:
    """Why a plan could not be evaluated.

    Attributes
    ----------
    message
        One line, as shown and stored.
    type
        The exception's class name (``InputError``, ``WorkerDied``, …).
    stage
        ``discovery``, ``constraint set``, ``evaluation`` or ``worker``.
    traceback
        For an unexpected exception only.
    """

    message: str
    type: str = "InputError"
    stage: str = "evaluation"
    traceback: str | None = None


@dataclass(frozen=True)
class PlanOutcome:
    """The outcome of one plan: a verdict with its results, or an error (picklable).

    Attributes
    ----------
    status
        The check's verdict, or ``"error"``.
    summary
        One line (``CheckReport.summary()``, or ``ERROR — message``).
    constraint_set
        ``name``, ``path``, ``sha256`` of the set, or ``None``.
    strict
        ``check --strict``.
    prescription, warnings, results, structures, dose_scale, beam_dose_check
        The records of ``check --format json`` (empty for an error).
    error
        Set exactly when ``status`` is ``"error"``.
    duration_s, cpu_s, worker
        Wall and CPU seconds in the worker (``cpu_s`` ``None`` when the worker did not
        report, as for a worker that died), ``host:pid``.
    """

    status: Verdict | str
    summary: str
    constraint_set: dict[str, Any] | None
    strict: bool
    prescription: dict[str, Any] | None = None
    warnings: tuple[str, ...] = ()
    results: tuple[dict[str, Any], ...] = ()
    structures: tuple[dict[str, Any], ...] = ()
    dose_scale: dict[str, Any] | None = None
    beam_dose_check: dict[str, Any] | None = None
    error: PlanError | None = None
    dosecheck_version: str = __version__
    duration_s: float = 0.0
    cpu_s: float | None = None
    worker: str = field(default_factory=_worker_name)

    @classmethod
    def from_report(cls, report: CheckReport) -> PlanOutcome:
        """The outcome of a completed check: verdict, results, matched structures, and
        the plan's dose-scale and beam-dose checks (the records of ``check --format
        json``)."""
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
        return cls(
            status=report.verdict,
            summary=report.summary(),
            constraint_set=report.constraint_set_record(),
            strict=report.strict,
            prescription=report.prescription.to_dict(),
            warnings=tuple(report.warnings),
            results=tuple(report.result_records()),
            structures=tuple(structures),
            dose_scale=report.plan.get("dose_scale"),
            beam_dose_check=report.plan.get("beam_dose_check"),
            dosecheck_version=report.dosecheck_version,
        )

    @classmethod
    def failed(
        cls,
        message: str,
        *,
        stage: str,
        error_type: str = "InputError",
        strict: bool = False,
        constraint_set: ConstraintSet | None = None,
        tb: str | None = None,
    ) -> PlanOutcome:
        """An ``error`` outcome (the plan could not be evaluated)."""
        cset = None
        if constraint_set is not None:
            cset = {
                "name": constraint_set.name,
                "path": constraint_set.path,
                "sha256": constraint_set.sha256,
            }
        return cls(
            status="error",
            summary=f"ERROR — {message}",
            constraint_set=cset,
            strict=strict,
            error=PlanError(message, error_type, stage, tb),
        )

    @classmethod
    def worker_died(cls, task: PlanTask) -> PlanOutcome:
        """The ``error`` outcome of a plan whose worker process died while checking it."""
        return cls.failed(
            "the worker process died while checking this plan (killed, out of memory, or crashed)",
            stage="worker",
            error_type="WorkerDied",
            strict=task.strict,
            constraint_set=task.constraint_set,
        )

    def to_record(self) -> dict[str, Any]:
        """The outcome as the dict the database stores and the reporters show.

        A completed check has the ``dose_scale`` and ``beam_dose_check`` keys (maybe
        ``None``), an error has neither; ``cpu_s`` is there when the worker measured it.
        """
        e = self.error
        out: dict[str, Any] = {
            "status": self.status,
            "error": e.message if e else None,
            "error_type": e.type if e else None,
            "error_stage": e.stage if e else None,
            "traceback": e.traceback if e else None,
            "summary": self.summary,
            "constraint_set": self.constraint_set,
            "prescription": self.prescription,
            "strict": self.strict,
            "warnings": list(self.warnings),
            "results": list(self.results),
            "structures": list(self.structures),
        }
        if e is None:
            out["dose_scale"] = self.dose_scale
            out["beam_dose_check"] = self.beam_dose_check
            out["dosecheck_version"] = self.dosecheck_version
            out["duration_s"] = self.duration_s
            if self.cpu_s is not None:
                out["cpu_s"] = self.cpu_s
            out["worker"] = self.worker
        else:
            out["duration_s"] = self.duration_s
            out["worker"] = self.worker
            out["dosecheck_version"] = self.dosecheck_version
            if self.cpu_s is not None:
                out["cpu_s"] = self.cpu_s
        return out


# --------------------------------------------------------------------------- the work
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


def evaluate_plan(
    task: PlanTask, on_report: Callable[[CheckReport], None] | None = None
) -> dict[str, Any]:
    """Load and check one plan; never raises (errors become an ``error`` outcome).

    Runs in a worker process (or in a dask worker).

    Parameters
    ----------
    task
        The plan and how to check it.
    on_report
        Called in the worker with the completed check's report, before the outcome
        is returned (``dosecheck listen --reports`` writes the HTML report there). It
        should not raise: an exception from it makes the plan an ``error``.

    Returns
    -------
    dict
        The :meth:`PlanOutcome.to_record` of the outcome: ``status``
        (``pass``/``fail``/``error``), ``error``, ``summary``, ``constraint_set``,
        ``prescription``, ``warnings``, ``results`` (the objects of
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
                loaded,
                task.constraint_set,
                strict=task.strict,
                site_names=task.site_names,
                **task.check_options.kwargs(),
            )
            outcome = PlanOutcome.from_report(report)
            if on_report is not None:
                on_report(report)
            if back:
                outcome = dataclasses.replace(
                    outcome,
                    warnings=tuple(_restore_in(list(outcome.warnings), back)),
                    dose_scale=_restore_in(outcome.dose_scale, back),
                    beam_dose_check=_restore_in(outcome.beam_dose_check, back),
                )
    except Exception as exc:
        from dosecheck.errors import DosecheckError

        known = isinstance(exc, DosecheckError)
        message = str(exc) if known else f"{type(exc).__name__}: {exc}"
        outcome = PlanOutcome.failed(
            _restore_locations(message, back),
            stage="evaluation",
            error_type=type(exc).__name__,
            strict=task.strict,
            constraint_set=task.constraint_set,
            tb=None if known else _restore_locations(traceback.format_exc(), back),
        )
    return dataclasses.replace(
        outcome,
        duration_s=time.perf_counter() - start,
        cpu_s=time.process_time() - cpu_start,
        worker=_worker_name(),
    ).to_record()
