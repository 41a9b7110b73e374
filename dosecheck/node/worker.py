"""What a worker process of ``dosecheck listen`` does with one plan.

:func:`check_stored` runs :func:`dosecheck.batch.tasks.evaluate_plan` (the check of
``dosecheck batch``, errors included), writes the HTML report when asked, and hashes
the plan's files again afterwards, so the listener can tell whether an object was
replaced while the plan was being checked (then that evaluation is not recorded: the
newer version is checked instead).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from dosecheck.batch.tasks import PlanTask, evaluate_plan
from dosecheck.node.store import safe_name

if TYPE_CHECKING:
    from dosecheck.checking.check import CheckReport
    from dosecheck.dicom.discovery import DiscoveredPlan

__all__ = ["check_stored", "report_path", "report_relpath"]


def report_relpath(patient_id: str, plan_label: str, location_key: str) -> Path:
    """``<patient>/<plan label>_<12 hex of the location key>.html`` (each part made a
    safe file name by :func:`~dosecheck.node.store.safe_name`)."""
    return Path(safe_name(patient_id, "no-patient-id")) / (
        f"{safe_name(plan_label, 'no-label')}_{location_key[:12]}.html"
    )


def report_path(reports: str | Path, plan: DiscoveredPlan) -> Path:
    """``REPORTS/<patient>/<plan label>_<12 hex of the plan's location key>.html``."""
    return Path(reports) / report_relpath(plan.patient_id, plan.plan_label, plan.location_key)


def check_stored(task: PlanTask, reports: str | None = None) -> dict[str, Any]:
    """Check one stored plan (in a worker process); never raises.

    Returns
    -------
    dict
        ``outcome`` (the record of :func:`~dosecheck.batch.tasks.evaluate_plan`),
        ``sha256_after`` (the files' hashes after the check, in the order of
        ``plan.files``; empty when one cannot be read), and ``report`` (the HTML
        report written) or ``report_error`` (why it was not).
    """
    extra: dict[str, Any] = {}

    def on_report(report: CheckReport) -> None:
        if reports is None:
            return
        path = report_path(reports, task.plan)
        try:
            from dosecheck.report import write_report

            path.parent.mkdir(parents=True, exist_ok=True)
            write_report(report, path)
            extra["report"] = str(path)
        except Exception as exc:  # a report that cannot be written never loses the verdict
            extra["report_error"] = f"{type(exc).__name__}: {exc}"

    outcome = evaluate_plan(task, on_report)
    try:
        after = [f.sha256() for _, f in task.plan.files]
    except OSError:
        after = []
    return {"outcome": outcome, "sha256_after": after, **extra}
