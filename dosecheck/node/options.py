"""What ``dosecheck listen`` is asked to do (:class:`ListenOptions`) and what it
records per plan (:class:`RecordedPlan`)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from dosecheck.batch.tasks import CheckOptions

__all__ = ["ListenOptions", "RecordedPlan", "default_jobs"]


@dataclass
class ListenOptions:
    """What ``dosecheck listen`` was asked to do.

    Attributes
    ----------
    store
        The folder of received objects (``--store``).
    db
        The results database (``--db``).
    ae_title, host, port
        This node (``port`` 0: a free port, see :attr:`Listener.address`).
    allow_aet
        Calling AE titles accepted (empty: any).
    reports
        Folder for one HTML report per plan, or ``None``.
    constraints, protocol_map
        As for ``batch`` (automatic selection when neither).
    quiet_seconds
        A complete plan is checked once none of its objects arrived for this long,
        or as soon as the associations that brought them have ended.
    jobs
        Worker processes.
    strict, site_names, check_options
        As for ``batch``.
    stop_grace_seconds
        On stop, how long open associations may go on before they are aborted.
    fsync
        Flush every object to disk before its success status (off only in
        benchmarks of the network alone).
    """

    store: str | Path
    db: str | Path = "results.sqlite"
    ae_title: str = "DOSECHECK"
    host: str = "127.0.0.1"
    port: int = 11112
    allow_aet: Sequence[str] = ()
    reports: str | Path | None = None
    constraints: str | None = None
    protocol_map: str | Path | None = None
    quiet_seconds: float = 10.0
    jobs: int = 2
    strict: bool = False
    site_names: str | Path | None = None
    check_options: CheckOptions = field(default_factory=CheckOptions)
    stop_grace_seconds: float = 30.0
    fsync: bool = True


@dataclass(frozen=True)
class RecordedPlan:
    """A plan's evaluation as the listener recorded it (for logs, tests, benchmarks).

    Attributes
    ----------
    location_key, patient_id, plan_label
        The plan.
    status
        The verdict or ``"error"``.
    evaluation_id
        ``plans.id`` in the database (``None``: the same evaluation was there).
    seconds_after_last_object
        From the plan's last object stored to its result recorded (``None`` for
        plans found in the store at start).
    check_seconds
        Wall time of the check in the worker.
    report
        The HTML report written, or ``None``.
    """

    location_key: str
    patient_id: str
    plan_label: str
    status: str
    evaluation_id: int | None
    seconds_after_last_object: float | None
    check_seconds: float
    report: str | None = None


def default_jobs() -> int:
    """Worker processes by default: the CPUs less one for receiving, 1 to 4."""
    return max(1, min(4, (os.cpu_count() or 2) - 1))
