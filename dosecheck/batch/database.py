"""The batch results database: SQLite, one transaction per plan, resumable.

Only the parent ``dosecheck batch`` process writes; workers return their results to
it. The database is in WAL mode, and every plan's evaluation (the plan row, its
files, structures, constraint results and error) is committed in one transaction,
so a run killed at any moment loses at most the plans that were still being computed
and never leaves half a plan behind. The next run skips the evaluations already
recorded (same files, same content, same constraint set, same site alias file,
same ``--strict``, same check options).

The schema and its upgrades are in :mod:`dosecheck.batch.schema` (described in
``docs/batch.md``); :data:`SCHEMA_VERSION` is stored in ``PRAGMA user_version``. An
older database is upgraded in place when opened, in one transaction: it gains the
columns of every newer version (marked ``-- vN`` in :data:`SCHEMA`) and that version's
data statements fill them. The skip key also has the check's options
(``plans.check_options``, since version 4: ``--compare-tps``); evaluations recorded
before are of the default options, ``{}``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dosecheck import __version__
from dosecheck.batch.rows import entry_of, evaluation_key, insert_evaluation, options_key
from dosecheck.batch.schema import (
    SCHEMA,
    SCHEMA_VERSION,
    UPGRADE_DATA,
    UPGRADE_FROM_1,
    added_columns,
    statements,
)
from dosecheck.errors import InputError

if TYPE_CHECKING:
    from dosecheck.dicom.discovery import DiscoveredPlan

__all__ = [
    "SCHEMA",
    "SCHEMA_VERSION",
    "ResultsDB",
    "options_key",
    "parse_since",
    "utc_now",
]


def utc_now() -> str:
    """The current UTC time as ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (sorts as text)."""
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_since(text: str) -> str:
    """Turn ``--since`` (a date or an ISO 8601 date-time; local time unless it has an
    offset) into the database's UTC text form.

    Raises
    ------
    InputError
        Not a date.
    """
    value = text.strip()
    try:
        when = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InputError(
            f"--since {text!r} is not a date; use YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS]"
        ) from None
    if when.tzinfo is None:
        when = when.astimezone()  # local time
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


class ResultsDB:
    """A connection to a results database (created when missing).

    Parameters
    ----------
    path
        The SQLite file.
    create
        Create the file and schema when missing; when False a missing file raises
        :class:`InputError` (``dosecheck results``).
    read_only
        Open the file read-only (SQLite ``mode=ro``; ``dosecheck serve``): nothing can
        be written through this connection, and a database of an older schema version
        is refused (it is not upgraded) with a line saying how to upgrade it. Implies
        ``create=False``.
    """

    def __init__(self, path: str | Path, *, create: bool = True, read_only: bool = False) -> None:
        self.path = Path(path)
        self.read_only = read_only
        create = create and not read_only
        if not create and not self.path.is_file():
            raise InputError("no such results database", path=self.path)
        if create and not self.path.parent.is_dir():
            raise InputError("the folder of the database does not exist", path=self.path)
        try:
            if read_only:
                uri = self.path.resolve().as_uri() + "?mode=ro"
                self.conn = sqlite3.connect(uri, uri=True, timeout=60.0, isolation_level=None)
            else:
                self.conn = sqlite3.connect(str(self.path), timeout=60.0, isolation_level=None)
            self.conn.row_factory = sqlite3.Row
            self.conn.execute("PRAGMA busy_timeout = 60000")
            self.conn.execute("PRAGMA foreign_keys = ON")
            if create:
                self.conn.execute("PRAGMA journal_mode = WAL")
                self.conn.execute("PRAGMA synchronous = NORMAL")
                self._create()
            else:
                self._check_schema()
        except sqlite3.DatabaseError as exc:
            raise InputError(f"not a dosecheck results database ({exc})", path=self.path) from exc

    # --- schema ----------------------------------------------------------------
    def _create(self) -> None:
        version = self.conn.execute("PRAGMA user_version").fetchone()[0]
        self._refuse_newer(version)
        has_tables = self.conn.execute(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'"
        ).fetchone()[0]
        if has_tables and version == 0:
            raise InputError(
                "is an SQLite file but not a dosecheck results database", path=self.path
            )
        if 0 < version < SCHEMA_VERSION:
            self._upgrade(version)
        self.conn.executescript(f"BEGIN; {SCHEMA} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;")

    def _refuse_newer(self, version: int) -> None:
        if version > SCHEMA_VERSION:
            raise InputError(
                f"the database has schema version {version}; this dosecheck knows up to "
                f"{SCHEMA_VERSION}: upgrade dosecheck",
                path=self.path,
            )

    def _columns(self, table: str) -> list[str]:
        return [str(r[1]) for r in self.conn.execute(f"PRAGMA table_info({table})")]

    def _upgrade(self, version: int) -> None:
        """Upgrade a database of an older schema version to :data:`SCHEMA_VERSION` in
        one transaction (nothing changes when any step fails): from version 1 the
        ``plans`` table is rebuilt; then, for each newer version, the columns it added
        that are missing are added and its data statements run.

        Raises
        ------
        InputError
            The upgrade failed (e.g. a read-only file); the message says from which
            version and why.
        """
        self.conn.execute("PRAGMA foreign_keys = OFF")  # while ``plans`` is rebuilt
        try:
            self.conn.execute("BEGIN IMMEDIATE")
            if version == 1:
                columns = ", ".join(self._columns("plans"))
                for statement in statements(UPGRADE_FROM_1.replace("{columns}", columns)):
                    self.conn.execute(statement)
            for newer in range(max(version + 1, 3), SCHEMA_VERSION + 1):
                for table, added in added_columns(newer).items():
                    present = set(self._columns(table))
                    for name, definition in added:
                        if name not in present:
                            self.conn.execute(f"ALTER TABLE {table} ADD COLUMN {definition}")
                for statement in statements(UPGRADE_DATA.get(newer, "")):
                    self.conn.execute(statement)
            for statement in statements(SCHEMA):
                self.conn.execute(statement)
            self.conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            self.conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise InputError(
                f"cannot upgrade the results database from schema version {version} to "
                f"{SCHEMA_VERSION} ({exc}); nothing was changed: make the file writable, "
                "or use a new --db",
                path=self.path,
            ) from exc
        finally:
            self.conn.execute("PRAGMA foreign_keys = ON")

    def _check_schema(self) -> None:
        version = self.conn.execute("PRAGMA user_version").fetchone()[0]
        self._refuse_newer(version)
        if 0 < version < SCHEMA_VERSION and self.read_only:
            raise InputError(
                f"the database has schema version {version}, older than this dosecheck's "
                f"{SCHEMA_VERSION}, and is opened read-only: run 'dosecheck results' on it "
                "once to upgrade it",
                path=self.path,
            )
        if 0 < version < SCHEMA_VERSION:
            self._upgrade(version)
            version = SCHEMA_VERSION
        if version != SCHEMA_VERSION:
            raise InputError(
                f"not a dosecheck results database (schema version {version})", path=self.path
            )

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()

    def __enter__(self) -> ResultsDB:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- runs --------------------------------------------------------------------
    def start_run(
        self,
        *,
        archives: Sequence[str],
        constraints: str,
        executor: str,
        strict: bool,
    ) -> int:
        """Record a new run (and mark runs of dead processes on this host interrupted)."""
        host = socket.gethostname()
        with self.conn:
            self.conn.execute("BEGIN IMMEDIATE")
            for row in self.conn.execute(
                "SELECT id, pid FROM runs WHERE status = 'running' AND host = ?", (host,)
            ).fetchall():
                if not _pid_alive(int(row["pid"])):
                    self.conn.execute(
                        "UPDATE runs SET status = 'interrupted' WHERE id = ?", (row["id"],)
                    )
            cur = self.conn.execute(
                "INSERT INTO runs (started_at, status, dosecheck_version, host, pid, archives, "
                "constraints, executor, strict) VALUES (?, 'running', ?, ?, ?, ?, ?, ?, ?)",
                (
                    utc_now(),
                    __version__,
                    host,
                    os.getpid(),
                    json.dumps(list(archives), ensure_ascii=False),
                    constraints,
                    executor,
                    int(strict),
                ),
            )
        return int(cur.lastrowid or 0)

    def finish_run(self, run_id: int, status: str, counts: dict[str, int]) -> None:
        """Close a run with its status (``finished`` / ``interrupted``) and counts."""
        with self.conn:
            self.conn.execute(
                "UPDATE runs SET finished_at = ?, status = ?, n_plans = ?, n_skipped = ?, "
                "n_pass = ?, n_fail = ?, n_error = ?, n_unreadable = ?, n_incomplete = ? "
                "WHERE id = ?",
                (
                    utc_now(),
                    status,
                    counts.get("plans"),
                    counts.get("skipped"),
                    counts.get("pass"),
                    counts.get("fail"),
                    counts.get("error"),
                    counts.get("unreadable"),
                    counts.get("incomplete"),
                    run_id,
                ),
            )

    # --- evaluations ---------------------------------------------------------------
    def lookup(
        self,
        location_key: str,
        content_key: str,
        constraint_set_sha256: str,
        strict: bool,
        site_names_sha256: str = "",
        check_options: str = "{}",
    ) -> str | None:
        """Status of the latest recorded evaluation with these keys, or ``None``.

        ``site_names_sha256`` is the SHA-256 of the ``--site-names`` file (``""``
        without one): a changed alias file is a new evaluation, as a changed
        constraint set is. ``check_options`` is the canonical JSON of the check's
        options that change results (:meth:`dosecheck.batch.tasks.CheckOptions.key`,
        ``"{}"`` for the defaults, as for every evaluation recorded before schema
        version 4): an evaluation with other options is not up to date.
        """
        row = self.conn.execute(
            "SELECT status FROM plans WHERE location_key = ? AND content_key = ? AND "
            "constraint_set_sha256 = ? AND strict = ? AND site_names_sha256 = ? AND "
            "check_options = ? ORDER BY id DESC LIMIT 1",
            (
                location_key,
                content_key,
                constraint_set_sha256,
                int(strict),
                site_names_sha256,
                check_options,
            ),
        ).fetchone()
        return None if row is None else str(row["status"])

    def record(
        self,
        run_id: int,
        plan: DiscoveredPlan,
        files: Sequence[tuple[str, str, str]],
        content_key: str,
        outcome: dict[str, Any],
        *,
        force: bool = False,
    ) -> int | None:
        """Record one plan's evaluation in one transaction.

        Parameters
        ----------
        run_id
            The run.
        plan
            The plan as discovered.
        files
            ``(role, location, sha256)`` of each file.
        content_key
            SHA-256 over the files' hashes.
        outcome
            What :func:`dosecheck.batch.tasks.evaluate_plan` returned (a
            :meth:`~dosecheck.batch.tasks.PlanOutcome.to_record`).
        force
            Record even when the same evaluation is already there (``--force``);
            otherwise such a duplicate (e.g. from a concurrent run) is not written.

        Returns
        -------
        int or None
            The new ``plans.id``, or ``None`` when it was already recorded.
        """
        cset_sha, strict, site_sha, options = evaluation_key(outcome)
        now = utc_now()
        with self.conn:
            self.conn.execute("BEGIN IMMEDIATE")
            if not force and self.lookup(
                plan.location_key, content_key, cset_sha, strict, site_sha, options
            ):
                return None
            plan_id = insert_evaluation(self.conn, run_id, plan, files, content_key, outcome, now)
        return plan_id

    def record_file_error(self, run_id: int, location: str, message: str) -> None:
        """Record a file that could not be read during discovery (no plan)."""
        with self.conn:
            self.conn.execute(
                "INSERT INTO errors (run_id, plan_id, stage, type, message, path, created_at) "
                "VALUES (?, NULL, 'discovery', 'UnreadableDicom', ?, ?, ?)",
                (run_id, message, location, utc_now()),
            )

    # --- reports -------------------------------------------------------------------
    def count_plans(self) -> int:
        """Number of evaluations recorded."""
        return int(self.conn.execute("SELECT COUNT(*) FROM plans").fetchone()[0])

    def latest(
        self,
        *,
        location_keys: Iterable[str] | None = None,
        since: str | None = None,
        failed_only: bool = False,
    ) -> list[dict[str, Any]]:
        """The latest evaluation of every plan, as JSON-ready entries.

        Parameters
        ----------
        location_keys
            Only these plans (the plans of one run); all plans when ``None``.
        since
            Only evaluations at or after this UTC time (:func:`parse_since`).
        failed_only
            Only plans that fail, are incomplete or could not be evaluated.

        Returns
        -------
        list of dict
            ``{"plan": {...}, "status", "error", "summary", "constraint_set",
            "prescription", "strict", "warnings", "evaluated_at", "run_id",
            "evaluation_id", "duration_s", "site_names", "dose_scale",
            "beam_dose_check", "results": [...]}``, sorted by plan folder, patient
            and label. ``site_names`` is ``{path, sha256}`` of the ``--site-names``
            file or ``None``; ``dose_scale`` and ``beam_dose_check`` are the records
            of ``check --format json`` (``plan.dose_scale``, ``plan.beam_dose_check``),
            ``None`` when there is none (an error before the dose was read, no beam
            doses beside the PLAN dose, or a plan recorded before schema version 3).
            Only where there is something (so that the entries of a database without
            them are as before): ``check_options`` (the check's options that are not
            the defaults, e.g. ``{"compare_tps": true}``), ``n_tps_differs`` (results
            whose pass/fail flips on the TPS's DVH, with ``--compare-tps``) and
            ``n_borderline`` (borderline results, when assessed).
        """
        sql = "SELECT * FROM latest_plans WHERE 1 = 1"
        params: list[Any] = []
        if since is not None:
            sql += " AND evaluated_at >= ?"
            params.append(since)
        if failed_only:
            sql += " AND status IN ('fail', 'incomplete', 'error')"
        sql += " ORDER BY path, patient_id, plan_label, id"
        rows = self.conn.execute(sql, params).fetchall()
        if location_keys is not None:
            wanted = set(location_keys)
            rows = [r for r in rows if r["location_key"] in wanted]
        return [entry_of(self.conn, r) for r in rows]

    def file_errors(self, run_id: int) -> list[dict[str, Any]]:
        """Files of a run that could not be read (errors without a plan)."""
        return [
            dict(r)
            for r in self.conn.execute(
                "SELECT path, message FROM errors WHERE run_id = ? AND plan_id IS NULL ORDER BY id",
                (run_id,),
            )
        ]
