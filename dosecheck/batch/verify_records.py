"""The objects one evaluation in a results database recorded (``dosecheck verify --id``)."""

from __future__ import annotations

from pathlib import Path

from dosecheck.errors import InputError

__all__ = ["recorded_objects_in_db"]


def recorded_objects_in_db(db: str | Path, plan_id: int) -> list[tuple[str, str, str]]:
    """``(role, SOP Instance UID or "", sha256)`` of each object of one evaluation in a
    results database (``dosecheck batch``/``listen``; the id is the ``evaluation_id`` of
    ``results --format json``). The database records the RTSTRUCT's and RTPLAN's UIDs, not
    the doses': an RTDOSE is found again by its bytes.

    Raises
    ------
    InputError
        The database cannot be read, or has no evaluation with that id.
    """
    import sqlite3

    from dosecheck.batch.database import ResultsDB

    with ResultsDB(db, create=False, read_only=True) as rdb:
        row = rdb.conn.execute(
            "SELECT structure_set_uid, plan_uid FROM plans WHERE id = ?", (plan_id,)
        ).fetchone()
        if row is None:
            raise InputError(f"has no evaluation with id {plan_id}", path=db)
        try:
            files = rdb.conn.execute(
                "SELECT role, sha256 FROM plan_files WHERE plan_id = ? ORDER BY role, position",
                (plan_id,),
            ).fetchall()
        except sqlite3.Error as exc:  # pragma: no cover - a damaged database
            raise InputError(f"cannot be read ({exc})", path=db) from exc
    uids = {"rtstruct": str(row[0] or ""), "rtplan": str(row[1] or "")}
    out = [
        (str(role).upper(), uids.get(str(role), ""), str(sha))
        for role, sha in files
        if str(role) in ("rtstruct", "rtplan", "rtdose")
    ]
    if not out:
        raise InputError(f"records no files for evaluation {plan_id}", path=db)
    return out
