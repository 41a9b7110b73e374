"""What the archive summary shows: read from a results database by
:func:`dosecheck.batch.archive_data.load_archive_data`, rendered by
:func:`dosecheck.report.archive.render_archive_report`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["MAX_LISTED_ERRORS", "ArchiveData"]

#: Plans in error, and unreadable files, listed at most.
MAX_LISTED_ERRORS = 500


@dataclass(frozen=True)
class ArchiveData:
    """The rows of a results database that one archive summary shows.

    Attributes
    ----------
    db_path
        The database, resolved (shown in the page).
    db_name
        Its file name (in the title and the print header).
    entries
        The latest evaluation of every selected plan (``ResultsDB.latest``).
    runs
        Every run, by id (the ``runs`` table as mappings).
    total_evaluations, total_plans
        Evaluations recorded, and distinct plan locations, in the whole database.
    error_stages
        ``evaluation_id -> (stage, type)`` of the first error recorded for each of the
        first :data:`MAX_LISTED_ERRORS` entries in error.
    unreadable
        Files that could not be read during discovery (``path``, ``message``,
        ``run_id``, ``created_at``), by path, at most :data:`MAX_LISTED_ERRORS`.
    since, since_utc, failed_only
        The selection: ``--since`` as given and as a UTC time stamp; ``--failed-only``.
    """

    db_path: Path
    db_name: str
    entries: tuple[dict[str, Any], ...]
    runs: tuple[dict[str, Any], ...]
    total_evaluations: int
    total_plans: int
    error_stages: Mapping[int, tuple[str, str]]
    unreadable: tuple[dict[str, Any], ...]
    since: str | None = None
    since_utc: str | None = None
    failed_only: bool = False
