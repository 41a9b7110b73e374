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


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def options_key(options: dict[str, Any] | None) -> str:
    """The canonical JSON of the check's options (``plans.check_options``): sorted
    keys, no spaces, ``"{}"`` for none."""
    return json.dumps(options or {}, sort_keys=True, separators=(",", ":"))


def _flag(value: Any) -> int | None:
    return None if value is None else int(bool(value))


def _count(results: Sequence[dict[str, Any]], key: str) -> int | None:
    """How many results have ``key`` true; ``None`` when none has the key (not
    assessed: no ``--compare-tps``, no borderline assessment, or an error)."""
    flags = [r[key] for r in results if r.get(key) is not None]
    return sum(bool(f) for f in flags) if flags else None


def _range(value: Any) -> tuple[float | None, float | None]:
    """``(low, high)`` of a result's ``value_range`` (``[low, high]`` or ``None``)."""
    if isinstance(value, list | tuple) and len(value) == 2:
        return value[0], value[1]
    return None, None


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
        cset = outcome.get("constraint_set") or {}
        rx = outcome.get("prescription") or {}
        strict = bool(outcome.get("strict"))
        cset_sha = str(cset.get("sha256") or "")
        site = outcome.get("site_names") or {}
        site_sha = str(site.get("sha256") or "")
        scale = outcome.get("dose_scale")
        beams = outcome.get("beam_dose_check")
        options = options_key(outcome.get("check_options"))
        results = list(outcome.get("results") or [])
        now = utc_now()
        with self.conn:
            self.conn.execute("BEGIN IMMEDIATE")
            if not force and self.lookup(
                plan.location_key, content_key, cset_sha, strict, site_sha, options
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
                "check_options, n_tps_differs, n_borderline, dosecheck_version) VALUES "
                "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
                "?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
                    options,
                    _count(results, "tps_verdict_differs"),
                    _count(results, "borderline"),
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
                "message, matched_by, match_detail, tps_value, tps_status, tps_verdict_differs, "
                "borderline, value_low, value_high, record) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
                        r.get("tps_value"),
                        None if r.get("tps_status") is None else str(r["tps_status"]),
                        _flag(r.get("tps_verdict_differs")),
                        _flag(r.get("borderline")),
                        *_range(r.get("value_range")),
                        _json(r),
                    )
                    for i, r in enumerate(results)
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
            **self._assessments(row),
            "results": results,
        }

    @staticmethod
    def _assessments(row: sqlite3.Row) -> dict[str, Any]:
        """The entry's keys of schema version 4, each only where there is something:
        ``check_options`` (when not the defaults), ``n_tps_differs`` (with
        ``--compare-tps``), ``n_borderline`` (when the results were assessed)."""
        out: dict[str, Any] = {}
        options = _loads(row["check_options"]) or {}
        if options:
            out["check_options"] = options
        for key in ("n_tps_differs", "n_borderline"):
            if row[key] is not None:
                out[key] = int(row[key])
        return out

    def file_errors(self, run_id: int) -> list[dict[str, Any]]:
        """Files of a run that could not be read (errors without a plan)."""
        return [
            dict(r)
            for r in self.conn.execute(
                "SELECT path, message FROM errors WHERE run_id = ? AND plan_id IS NULL ORDER BY id",
                (run_id,),
            )
        ]
