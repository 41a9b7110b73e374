"""The archive summary's data from a results database: all its SQL, in one place.

:func:`load_archive_data` reads what :func:`dosecheck.report.archive.render_archive_report`
shows; the command (``dosecheck results DB --report``) calls one, then the other.
"""

from __future__ import annotations

from pathlib import Path

from dosecheck.batch.database import ResultsDB, parse_since
from dosecheck.report.archive.data import MAX_LISTED_ERRORS, ArchiveData

__all__ = ["ArchiveData", "load_archive_data"]


def load_archive_data(
    db_path: str | Path,
    *,
    since: str | None = None,
    failed_only: bool = False,
    read_only: bool = False,
) -> ArchiveData:
    """Read the latest evaluation of the selected plans, the runs and the errors.

    Parameters
    ----------
    db_path
        The database written by ``dosecheck batch``.
    since
        Only plans whose latest evaluation is at or after this date (``--since``: a date
        or an ISO 8601 date-time, local time unless it has an offset).
    failed_only
        Only plans that fail or could not be evaluated.
    read_only
        Open the database read-only (``dosecheck serve``; see
        :class:`~dosecheck.batch.database.ResultsDB`).

    Raises
    ------
    InputError
        A bad ``since`` (checked first), a missing or foreign database.
    """
    since_utc = parse_since(since) if since is not None else None
    db = Path(db_path)
    with ResultsDB(db, create=False, read_only=read_only) as rdb:
        entries = rdb.latest(since=since_utc, failed_only=failed_only)
        conn = rdb.conn
        total_evaluations = rdb.count_plans()
        total_plans = int(
            conn.execute("SELECT COUNT(DISTINCT location_key) FROM plans").fetchone()[0]
        )
        runs = tuple(dict(r) for r in conn.execute("SELECT * FROM runs ORDER BY id"))
        stages: dict[int, tuple[str, str]] = {}
        errors = [e for e in entries if e["status"] == "error"]
        for e in errors[:MAX_LISTED_ERRORS]:
            row = conn.execute(
                "SELECT stage, type FROM errors WHERE plan_id = ? ORDER BY id LIMIT 1",
                (e["evaluation_id"],),
            ).fetchone()
            if row is not None:
                stages[e["evaluation_id"]] = (row["stage"], row["type"])
        sql = (
            "SELECT path, message, run_id, MAX(created_at) AS created_at FROM errors "
            "WHERE plan_id IS NULL"
        )
        params: list[object] = []
        if since_utc is not None:
            sql += " AND created_at >= ?"
            params.append(since_utc)
        sql += " GROUP BY path ORDER BY path LIMIT ?"
        params.append(MAX_LISTED_ERRORS)
        unreadable = tuple(dict(r) for r in conn.execute(sql, params).fetchall())
    return ArchiveData(
        db_path=db.resolve(),
        db_name=db.name,
        entries=tuple(entries),
        runs=runs,
        total_evaluations=total_evaluations,
        total_plans=total_plans,
        error_stages=stages,
        unreadable=unreadable,
        since=since,
        since_utc=since_utc,
        failed_only=failed_only,
    )
