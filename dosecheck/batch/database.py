"""The batch results database: SQLite, one transaction per plan, resumable.

Only the parent ``dosecheck batch`` process writes; workers return their results to
it. The database is in WAL mode, and every plan's evaluation (the plan row, its
files, structures, constraint results and error) is committed in one transaction,
so a run killed at any moment loses at most the plans that were still being computed
and never leaves half a plan behind. The next run skips the evaluations already
recorded (same files, same content, same constraint set, same site alias file,
same ``--strict``).

The schema is described in ``docs/batch.md``; :data:`SCHEMA_VERSION` is stored in
``PRAGMA user_version``. Older databases are upgraded in place when opened, in one
transaction: version 2 added the plan status ``incomplete`` and
``runs.n_incomplete``; version 3 adds the site alias file (part of the skip key), the
dose-scale check and the beam-dose check per plan, and ``matched_by``/``match_detail``
per constraint result (filled from each result's ``record``) and ``match_detail`` per
structure. The columns added by version 3 are marked ``-- v3`` in :data:`SCHEMA`.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import socket
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dosecheck import __version__
from dosecheck.errors import InputError

if TYPE_CHECKING:
    from dosecheck.dicom.discovery import DiscoveredPlan

__all__ = [
    "SCHEMA",
    "SCHEMA_VERSION",
    "ResultsDB",
    "parse_since",
    "utc_now",
]

SCHEMA_VERSION = 3

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id                INTEGER PRIMARY KEY,
    started_at        TEXT NOT NULL,
    finished_at       TEXT,
    status            TEXT NOT NULL,          -- running | finished | interrupted
    dosecheck_version TEXT NOT NULL,
    host              TEXT NOT NULL,
    pid               INTEGER NOT NULL,
    archives          TEXT NOT NULL,          -- JSON list of the archives given
    constraints       TEXT NOT NULL,          -- --constraints value, 'protocol-map:FILE' or 'auto'
    executor          TEXT NOT NULL,          -- 'processes:N', 'dask:ADDRESS', 'dask:local:N'
    strict            INTEGER NOT NULL,
    n_plans           INTEGER,                -- plans found
    n_skipped         INTEGER,                -- already recorded, not recomputed
    n_pass            INTEGER,                -- over all plans found (latest evaluation)
    n_fail            INTEGER,
    n_error           INTEGER,
    n_unreadable      INTEGER,                -- DICOM files whose header could not be read
    n_incomplete      INTEGER                 -- plans with a mandatory constraint not evaluated
);

CREATE TABLE IF NOT EXISTS plans (
    id                       INTEGER PRIMARY KEY,   -- one row per evaluation
    run_id                   INTEGER NOT NULL REFERENCES runs(id),
    location_key             TEXT NOT NULL,         -- sha256 of the file locations
    content_key              TEXT NOT NULL,         -- sha256 of the files' sha256
    source                   TEXT NOT NULL,         -- the archive (folder or zip)
    path                     TEXT NOT NULL,         -- the plan folder (zip: 'a.zip::dir')
    patient_id               TEXT NOT NULL,
    patient_name             TEXT NOT NULL,
    plan_label               TEXT NOT NULL,
    plan_uid                 TEXT NOT NULL,
    structure_set_uid        TEXT NOT NULL,
    grouping                 TEXT NOT NULL,         -- 'references' or the fallbacks used
    notes                    TEXT NOT NULL,         -- JSON list
    rtplan_prescription_gy   REAL,                  -- from the RTPLAN header
    rtplan_fractions         INTEGER,
    prescription_gy          REAL,                  -- used by the check
    fractions                INTEGER,
    prescription_source      TEXT,
    constraint_set_name      TEXT,
    constraint_set_path      TEXT,
    constraint_set_sha256    TEXT NOT NULL,         -- '' when no set could be chosen
    strict                   INTEGER NOT NULL,
    status                   TEXT NOT NULL
                             CHECK (status IN ('pass', 'fail', 'incomplete', 'error')),
    summary                  TEXT NOT NULL,
    error                    TEXT,                  -- message when status = 'error'
    warnings                 TEXT NOT NULL,         -- JSON list
    evaluated_at             TEXT NOT NULL,         -- UTC, ISO 8601
    duration_s               REAL,                  -- wall time in the worker
    cpu_s                    REAL,                  -- CPU time of the worker process
    worker                   TEXT,                  -- host:pid that computed it
    site_names_path          TEXT,                  -- v3: --site-names file, NULL when none
    site_names_sha256        TEXT NOT NULL DEFAULT '', -- v3: '' when none (in the skip key)
    dose_scale_verdict       TEXT,                  -- v3: consistent, not_verified, ...
    dose_scale_method        TEXT,                  -- v3: beam_dose_points, target, none, ...
    dose_scale_ratio         REAL,                  -- v3: measured / expected
    dose_scale               TEXT,                  -- v3: JSON, check's plan.dose_scale
    beam_dose_consistent     INTEGER,               -- v3: 0/1, NULL without beam doses
    beam_dose_max_diff_gy    REAL,                  -- v3: largest |PLAN - sum of beams|
    beam_dose_check          TEXT,                  -- v3: JSON, check's plan.beam_dose_check
    dosecheck_version        TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS plans_location ON plans(location_key, id);
CREATE INDEX IF NOT EXISTS plans_done
    ON plans(location_key, content_key, constraint_set_sha256, strict);
CREATE INDEX IF NOT EXISTS plans_run ON plans(run_id);

CREATE TABLE IF NOT EXISTS plan_files (
    plan_id  INTEGER NOT NULL REFERENCES plans(id),
    role     TEXT NOT NULL,                        -- rtstruct | rtdose | rtplan
    position INTEGER NOT NULL,
    path     TEXT NOT NULL,                        -- file, or 'archive.zip::member'
    sha256   TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS plan_files_plan ON plan_files(plan_id);
CREATE INDEX IF NOT EXISTS plan_files_sha ON plan_files(sha256);

CREATE TABLE IF NOT EXISTS structures (
    plan_id          INTEGER NOT NULL REFERENCES plans(id),
    structure        TEXT NOT NULL,                -- name in the constraint set
    roi              TEXT,                         -- matched ROI, NULL when none
    matched_by       TEXT,                         -- name, alias, site map, tg263, ...
    match_detail     TEXT,                         -- v3: how the rule chose, NULL when plain
    volume_cc        REAL,
    outside_grid_cc  REAL,
    min_gy           REAL,
    mean_gy          REAL,
    max_gy           REAL
);
CREATE INDEX IF NOT EXISTS structures_plan ON structures(plan_id);

CREATE TABLE IF NOT EXISTS constraint_results (
    plan_id          INTEGER NOT NULL REFERENCES plans(id),
    position         INTEGER NOT NULL,             -- order in the constraint set
    structure        TEXT NOT NULL,
    roi              TEXT,
    metric           TEXT NOT NULL,                -- as written in the set
    metric_canonical TEXT NOT NULL,
    value            REAL,
    unit             TEXT NOT NULL,
    comparator       TEXT NOT NULL,
    "limit"          REAL,
    margin           REAL,
    status           TEXT NOT NULL,                -- pass | fail | not_evaluated
    priority         TEXT NOT NULL,                -- mandatory | optimal
    message          TEXT NOT NULL,
    matched_by       TEXT,                         -- v3: the rule that found the ROI
    match_detail     TEXT,                         -- v3: how it chose, NULL when plain
    record           TEXT NOT NULL                 -- JSON: the object 'check --format json' gives
);
CREATE INDEX IF NOT EXISTS constraint_results_plan ON constraint_results(plan_id);

CREATE TABLE IF NOT EXISTS errors (
    id         INTEGER PRIMARY KEY,
    run_id     INTEGER NOT NULL REFERENCES runs(id),
    plan_id    INTEGER REFERENCES plans(id),      -- NULL for a file outside any plan
    stage      TEXT NOT NULL,          -- discovery | constraint set | evaluation | worker
    type       TEXT NOT NULL,                     -- exception class
    message    TEXT NOT NULL,
    path       TEXT,
    traceback  TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS errors_plan ON errors(plan_id);

CREATE VIEW IF NOT EXISTS latest_plans AS
    SELECT p.* FROM plans p
    JOIN (SELECT location_key, MAX(id) AS id FROM plans GROUP BY location_key) l
      ON p.id = l.id;
"""

#: The ``plans`` table of :data:`SCHEMA` (for the upgrade from version 1).
_PLANS_TABLE = re.search(r"CREATE TABLE IF NOT EXISTS plans \(.*?\n\);", SCHEMA, re.S)[0]

#: Version 1 → 2: ``plans.status`` may be ``incomplete`` (the table is rebuilt, with
#: the columns of version 1 copied by name: ``{columns}``); ``runs.n_incomplete``.
#: Plans recorded as ``pass`` with a mandatory constraint not evaluated become
#: ``incomplete``.
_UPGRADE_FROM_1 = f"""
DROP VIEW IF EXISTS latest_plans;
{_PLANS_TABLE.replace("CREATE TABLE IF NOT EXISTS plans (", "CREATE TABLE plans_v2 (", 1)}
INSERT INTO plans_v2 ({{columns}}) SELECT {{columns}} FROM plans;
DROP TABLE plans;
ALTER TABLE plans_v2 RENAME TO plans;
ALTER TABLE runs ADD COLUMN n_incomplete INTEGER;
UPDATE plans SET status = 'incomplete' WHERE status = 'pass' AND EXISTS (
    SELECT 1 FROM constraint_results r WHERE r.plan_id = plans.id
    AND r.status = 'not_evaluated' AND r.priority = 'mandatory');
"""


def _v3_columns() -> dict[str, list[tuple[str, str]]]:
    """``{table: [(column, definition), …]}`` of the columns marked ``-- v3`` in
    :data:`SCHEMA` (added to an older database by ``ALTER TABLE … ADD COLUMN``)."""
    out: dict[str, list[tuple[str, str]]] = {}
    for m in re.finditer(r"CREATE TABLE IF NOT EXISTS (\w+) \((.*?)\n\);", SCHEMA, re.S):
        for line in m[2].splitlines():
            if "-- v3" in line:
                definition = line.split("--", 1)[0].strip().rstrip(",")
                out.setdefault(m[1], []).append((definition.split()[0], definition))
    return out


#: Version 2 → 3, after the columns are added: the constraint results' rule and
#: detail from their JSON record, and each structure's detail from its results.
_UPGRADE_FROM_2 = """
UPDATE constraint_results SET
    matched_by = json_extract(record, '$.matched_by'),
    match_detail = NULLIF(json_extract(record, '$.match_detail'), '')
WHERE matched_by IS NULL AND json_valid(record);
UPDATE structures SET match_detail = (
    SELECT c.match_detail FROM constraint_results c
    WHERE c.plan_id = structures.plan_id AND c.structure = structures.structure
      AND c.roi IS structures.roi AND c.match_detail IS NOT NULL
    ORDER BY c.position LIMIT 1)
WHERE match_detail IS NULL;
"""


def _statements(script: str) -> list[str]:
    """The SQL statements of ``script``, one by one (to run them inside a transaction
    that ``executescript`` would commit)."""
    out: list[str] = []
    current = ""
    for line in script.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            if current.strip().strip(";").strip():
                out.append(current)
            current = ""
    return out


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


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


class ResultsDB:
    """A connection to a results database (created when missing).

    Parameters
    ----------
    path
        The SQLite file.
    create
        Create the file and schema when missing; when False a missing file raises
        :class:`InputError` (``dosecheck results``).
    """

    def __init__(self, path: str | Path, *, create: bool = True) -> None:
        self.path = Path(path)
        if not create and not self.path.is_file():
            raise InputError("no such results database", path=self.path)
        if create and not self.path.parent.is_dir():
            raise InputError("the folder of the database does not exist", path=self.path)
        try:
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
        if version in (1, 2):
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
        """Upgrade a version 1 or 2 database to :data:`SCHEMA_VERSION` in one
        transaction (nothing changes when any step fails).

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
                for statement in _statements(_UPGRADE_FROM_1.format(columns=columns)):
                    self.conn.execute(statement)
            for table, added in _v3_columns().items():
                present = set(self._columns(table))
                for name, definition in added:
                    if name not in present:
                        self.conn.execute(f"ALTER TABLE {table} ADD COLUMN {definition}")
            for statement in _statements(_UPGRADE_FROM_2 + SCHEMA):
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
        if version in (1, 2):
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
                    _json(list(archives)),
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
    ) -> str | None:
        """Status of the latest recorded evaluation with these keys, or ``None``.

        ``site_names_sha256`` is the SHA-256 of the ``--site-names`` file (``""``
        without one): a changed alias file is a new evaluation, as a changed
        constraint set is.
        """
        row = self.conn.execute(
            "SELECT status FROM plans WHERE location_key = ? AND content_key = ? AND "
            "constraint_set_sha256 = ? AND strict = ? AND site_names_sha256 = ? "
            "ORDER BY id DESC LIMIT 1",
            (location_key, content_key, constraint_set_sha256, int(strict), site_names_sha256),
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
        cset = outcome.get("constraint_set") or {}
        rx = outcome.get("prescription") or {}
        strict = bool(outcome.get("strict"))
        cset_sha = str(cset.get("sha256") or "")
        site = outcome.get("site_names") or {}
        site_sha = str(site.get("sha256") or "")
        scale = outcome.get("dose_scale")
        beams = outcome.get("beam_dose_check")
        now = utc_now()
        with self.conn:
            self.conn.execute("BEGIN IMMEDIATE")
            if not force and self.lookup(
                plan.location_key, content_key, cset_sha, strict, site_sha
            ):
                return None
            cur = self.conn.execute(
                "INSERT INTO plans (run_id, location_key, content_key, source, path, patient_id, "
                "patient_name, plan_label, plan_uid, structure_set_uid, grouping, notes, "
                "rtplan_prescription_gy, rtplan_fractions, prescription_gy, fractions, "
                "prescription_source, constraint_set_name, constraint_set_path, "
                "constraint_set_sha256, strict, status, summary, error, warnings, evaluated_at, "
                "duration_s, cpu_s, worker, site_names_path, site_names_sha256, "
                "dose_scale_verdict, dose_scale_method, dose_scale_ratio, dose_scale, "
                "beam_dose_consistent, beam_dose_max_diff_gy, beam_dose_check, "
                "dosecheck_version) VALUES "
                "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
                "?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    run_id,
                    plan.location_key,
                    content_key,
                    plan.source,
                    plan.path,
                    plan.patient_id,
                    plan.patient_name,
                    plan.plan_label,
                    plan.plan_uid,
                    plan.structure_set_uid,
                    plan.grouping,
                    _json(list(plan.notes)),
                    plan.prescription_gy,
                    plan.fractions,
                    rx.get("dose_gy"),
                    rx.get("fractions"),
                    rx.get("source"),
                    cset.get("name"),
                    cset.get("path"),
                    cset_sha,
                    int(strict),
                    outcome["status"],
                    outcome.get("summary") or "",
                    outcome.get("error"),
                    _json(list(outcome.get("warnings") or [])),
                    now,
                    outcome.get("duration_s"),
                    outcome.get("cpu_s"),
                    outcome.get("worker"),
                    site.get("path"),
                    site_sha,
                    scale.get("verdict") if scale else None,
                    scale.get("method") if scale else None,
                    scale.get("ratio") if scale else None,
                    _json(scale) if scale else None,
                    None if not beams else int(bool(beams.get("consistent"))),
                    beams.get("max_abs_diff_gy") if beams else None,
                    _json(beams) if beams else None,
                    outcome.get("dosecheck_version") or __version__,
                ),
            )
            plan_id = int(cur.lastrowid or 0)
            positions: dict[str, int] = {}
            rows = []
            for role, location, sha in files:
                positions[role] = positions.get(role, -1) + 1
                rows.append((plan_id, role, positions[role], location, sha))
            self.conn.executemany(
                "INSERT INTO plan_files (plan_id, role, position, path, sha256) "
                "VALUES (?, ?, ?, ?, ?)",
                rows,
            )
            self.conn.executemany(
                "INSERT INTO structures (plan_id, structure, roi, matched_by, match_detail, "
                "volume_cc, outside_grid_cc, min_gy, mean_gy, max_gy) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        plan_id,
                        s["structure"],
                        s.get("roi"),
                        s.get("matched_by"),
                        s.get("match_detail"),
                        s.get("volume_cc"),
                        s.get("outside_grid_cc"),
                        s.get("min_gy"),
                        s.get("mean_gy"),
                        s.get("max_gy"),
                    )
                    for s in outcome.get("structures") or []
                ],
            )
            self.conn.executemany(
                "INSERT INTO constraint_results (plan_id, position, structure, roi, metric, "
                'metric_canonical, value, unit, comparator, "limit", margin, status, priority, '
                "message, matched_by, match_detail, record) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        plan_id,
                        i,
                        r["structure"],
                        r.get("roi"),
                        r["metric"],
                        r.get("metric_canonical") or r["metric"],
                        r.get("value"),
                        r.get("unit") or "",
                        r.get("comparator") or "",
                        r.get("limit"),
                        r.get("margin"),
                        r["status"],
                        r.get("priority") or "mandatory",
                        r.get("message") or "",
                        r.get("matched_by"),
                        r.get("match_detail") or None,
                        _json(r),
                    )
                    for i, r in enumerate(outcome.get("results") or [])
                ],
            )
            if outcome["status"] == "error":
                self.conn.execute(
                    "INSERT INTO errors (run_id, plan_id, stage, type, message, path, traceback, "
                    "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        run_id,
                        plan_id,
                        outcome.get("error_stage") or "evaluation",
                        outcome.get("error_type") or "Error",
                        outcome.get("error") or "",
                        plan.path,
                        outcome.get("traceback"),
                        now,
                    ),
                )
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
        return [self._entry(r) for r in rows]

    def _entry(self, row: sqlite3.Row) -> dict[str, Any]:
        pid = row["id"]
        files = self.conn.execute(
            "SELECT role, path, sha256 FROM plan_files WHERE plan_id = ? ORDER BY role, position",
            (pid,),
        ).fetchall()
        by_role: dict[str, list[sqlite3.Row]] = {"rtstruct": [], "rtdose": [], "rtplan": []}
        for f in files:
            by_role.setdefault(f["role"], []).append(f)

        def one(role: str, key: str) -> str | None:
            items = by_role.get(role) or []
            return str(items[0][key]) if items else None

        results = [
            json.loads(r["record"])
            for r in self.conn.execute(
                "SELECT record FROM constraint_results WHERE plan_id = ? ORDER BY position", (pid,)
            )
        ]
        cset = None
        if row["constraint_set_sha256"]:
            cset = {
                "name": row["constraint_set_name"],
                "path": row["constraint_set_path"],
                "sha256": row["constraint_set_sha256"],
            }
        prescription = None
        if row["prescription_source"] is not None:
            prescription = {
                "dose_gy": row["prescription_gy"],
                "fractions": row["fractions"],
                "source": row["prescription_source"],
            }
        site_names = None
        if row["site_names_sha256"]:
            site_names = {"path": row["site_names_path"], "sha256": row["site_names_sha256"]}
        return {
            "plan": {
                "path": row["path"],
                "source": row["source"],
                "patient_id": row["patient_id"],
                "patient_name": row["patient_name"],
                "plan_label": row["plan_label"],
                "plan_uid": row["plan_uid"],
                "structure_set_uid": row["structure_set_uid"],
                "rtstruct": one("rtstruct", "path"),
                "rtdose": [str(f["path"]) for f in by_role["rtdose"]],
                "rtplan": one("rtplan", "path"),
                "sha256": {
                    "rtstruct": one("rtstruct", "sha256"),
                    "rtdose": [str(f["sha256"]) for f in by_role["rtdose"]],
                    "rtplan": one("rtplan", "sha256"),
                },
                "prescription_gy": row["rtplan_prescription_gy"],
                "fractions": row["rtplan_fractions"],
                "grouping": row["grouping"],
                "notes": json.loads(row["notes"]),
            },
            "status": row["status"],
            "error": row["error"],
            "summary": row["summary"],
            "constraint_set": cset,
            "prescription": prescription,
            "strict": bool(row["strict"]),
            "warnings": json.loads(row["warnings"]),
            "evaluated_at": row["evaluated_at"],
            "run_id": row["run_id"],
            "evaluation_id": pid,
            "duration_s": row["duration_s"],
            "site_names": site_names,
            "dose_scale": _loads(row["dose_scale"]),
            "beam_dose_check": _loads(row["beam_dose_check"]),
            "results": results,
        }

    def file_errors(self, run_id: int) -> list[dict[str, Any]]:
        """Files of a run that could not be read (errors without a plan)."""
        return [
            dict(r)
            for r in self.conn.execute(
                "SELECT path, message FROM errors WHERE run_id = ? AND plan_id IS NULL ORDER BY id",
                (run_id,),
            )
        ]
