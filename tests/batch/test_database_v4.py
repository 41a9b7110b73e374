"""Results database schema version 4 and the upgrade to it from version 3.

A version-3 database is built from the version-3 schema exactly as it was (copied
below), with one plan evaluated, and then opened by this dosecheck: it keeps its rows,
gains the columns of version 4 (NULL, ``check_options`` ``'{}'``), and its evaluation
is still up to date for a run with the default options only.
"""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import pytest

from dosecheck.batch.database import ResultsDB
from dosecheck.batch.schema import SCHEMA, SCHEMA_VERSION, added_columns

#: ``dosecheck/batch/database.py`` SCHEMA at schema version 3 (commit 5b7f56e).
SCHEMA_V3 = """
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


V4_PLANS = {"check_options", "n_tps_differs", "n_borderline"}
V4_RESULTS = {
    "tps_value",
    "tps_status",
    "tps_verdict_differs",
    "borderline",
    "value_low",
    "value_high",
}


def _columns(conn: sqlite3.Connection, table: str) -> list[str]:
    return [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]


def _normalise(sql: str) -> list[str]:
    """The schema's statements without comments and spacing."""
    text = re.sub(r"--[^\n]*", "", sql)
    return [" ".join(s.split()) for s in text.split(";") if s.strip()]


def test_schema_is_version_3_plus_the_columns_marked_v4() -> None:
    assert SCHEMA_VERSION == 4
    without_v4 = "\n".join(line for line in SCHEMA.splitlines() if "-- v4" not in line)
    assert _normalise(without_v4) == _normalise(SCHEMA_V3)
    added = {t: [name for name, _ in cols] for t, cols in added_columns(4).items()}
    assert added == {
        "plans": ["check_options", "n_tps_differs", "n_borderline"],
        "constraint_results": [
            "tps_value",
            "tps_status",
            "tps_verdict_differs",
            "borderline",
            "value_low",
            "value_high",
        ],
    }
    assert dict(added_columns(4)["plans"])["check_options"] == (
        "check_options            TEXT NOT NULL DEFAULT '{}'"
    )
    assert set(added_columns(3)) == {"plans", "structures", "constraint_results"}


def _v3_database(path: Path, records: list[dict[str, object]]) -> None:
    conn = sqlite3.connect(path)
    conn.executescript(f"BEGIN; {SCHEMA_V3} PRAGMA user_version = 3; COMMIT;")
    conn.execute(
        "INSERT INTO runs (id, started_at, status, dosecheck_version, host, pid, archives, "
        "constraints, executor, strict) VALUES (1, '2024-01-01T00:00:00.000000Z', 'finished', "
        "'0.1.0', 'h', 1, '[]', 'auto', 'processes:1', 0)"
    )
    conn.execute(
        "INSERT INTO plans (id, run_id, location_key, content_key, source, path, patient_id, "
        "patient_name, plan_label, plan_uid, structure_set_uid, grouping, notes, "
        "constraint_set_sha256, strict, status, summary, warnings, evaluated_at, "
        "site_names_sha256, dose_scale_verdict, dosecheck_version) VALUES (1, 1, 'loc', "
        "'content', '/a', '/a/P', 'P', '', 'L', '', '', 'references', '[]', 'cs', 0, 'fail', "
        "'FAIL', '[]', '2024-01-01T00:00:00.000000Z', '', 'consistent', '0.1.0')"
    )
    for i, record in enumerate(records):
        conn.execute(
            "INSERT INTO constraint_results (plan_id, position, structure, roi, metric, "
            'metric_canonical, value, unit, comparator, "limit", margin, status, priority, '
            "message, matched_by, record) VALUES (1, ?, 'Bag_Bowel', 'BowelBag', ?, ?, ?, 'cc', "
            "'<', 300, ?, ?, 'mandatory', 'm', 'alias', ?)",
            (
                i,
                record["metric"],
                record["metric"],
                record["value"],
                300 - float(record["value"]),
                record["status"],
                json.dumps(record),
            ),
        )
    conn.commit()
    conn.close()


PLAIN = {"metric": "V45Gy[cc]", "value": 310.0, "status": "fail"}


def test_a_version_3_database_is_upgraded_in_place(tmp_path: Path) -> None:
    db = tmp_path / "v3.sqlite"
    _v3_database(db, [PLAIN, {**PLAIN, "metric": "V30Gy[cc]", "value": 250.0, "status": "pass"}])
    with ResultsDB(db, create=False) as rdb:  # `dosecheck results` upgrades too
        conn = rdb.conn
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 4
        assert V4_PLANS <= set(_columns(conn, "plans"))
        assert V4_RESULTS <= set(_columns(conn, "constraint_results"))
        row = conn.execute(
            "SELECT patient_id, status, dose_scale_verdict, check_options, n_tps_differs, "
            "n_borderline FROM plans"
        ).fetchone()
        assert tuple(row) == ("P", "fail", "consistent", "{}", None, None)
        got = conn.execute(
            'SELECT metric, value, "limit", status, tps_value, tps_status, '
            "tps_verdict_differs, borderline, value_low, value_high FROM constraint_results "
            "ORDER BY position"
        ).fetchall()
        assert [tuple(r) for r in got] == [
            ("V45Gy[cc]", 310.0, 300.0, "fail", None, None, None, None, None, None),
            ("V30Gy[cc]", 250.0, 300.0, "pass", None, None, None, None, None, None),
        ]
        # Recorded with the default options: up to date for them, not for --compare-tps.
        assert rdb.lookup("loc", "content", "cs", False) == "fail"
        assert rdb.lookup("loc", "content", "cs", False, "", "{}") == "fail"
        assert rdb.lookup("loc", "content", "cs", False, "", '{"compare_tps":true}') is None
        (entry,) = rdb.latest()
    assert not {"check_options", "n_tps_differs", "n_borderline"} & set(entry)
    assert [r["metric"] for r in entry["results"]] == ["V45Gy[cc]", "V30Gy[cc]"]
    with ResultsDB(db) as rdb:  # opened again for a run: nothing more to do
        assert rdb.conn.execute("PRAGMA user_version").fetchone()[0] == 4
        assert rdb.count_plans() == 1


def test_the_upgrade_fills_the_new_columns_from_the_records(tmp_path: Path) -> None:
    """Records that carry the TPS and borderline keys (as a version-3 database written
    by a development build could hold) fill the new columns and the plan's counts."""
    db = tmp_path / "v3.sqlite"
    flipped = {
        **PLAIN,
        "tps_value": 290.0,
        "tps_status": "pass",
        "tps_verdict_differs": True,
        "borderline": True,
        "value_range": [296.5, 311.25],
        "borderline_reason": "V45Gy = 310 cc, limit 300 cc; 296.5–311.25 cc",
    }
    same = {
        **PLAIN,
        "metric": "V30Gy[cc]",
        "value": 250.0,
        "status": "pass",
        "tps_value": None,
        "tps_status": None,
        "tps_verdict_differs": False,
        "borderline": False,
        "value_range": None,
    }
    _v3_database(db, [flipped, same])
    with ResultsDB(db) as rdb:
        got = rdb.conn.execute(
            "SELECT tps_value, tps_status, tps_verdict_differs, borderline, value_low, "
            "value_high FROM constraint_results ORDER BY position"
        ).fetchall()
        assert [tuple(r) for r in got] == [
            (290.0, "pass", 1, 1, 296.5, 311.25),
            (None, None, 0, 0, None, None),
        ]
        row = rdb.conn.execute("SELECT n_tps_differs, n_borderline FROM plans").fetchone()
        assert tuple(row) == (1, 1)


@pytest.mark.parametrize("version", [1, 2, 3])
def test_every_older_version_ends_with_the_same_columns(tmp_path: Path, version: int) -> None:
    """An upgrade from 1, 2 or 3 gives the columns a new database has (order aside)."""
    fresh = tmp_path / "new.sqlite"
    ResultsDB(fresh).close()
    old = tmp_path / f"v{version}.sqlite"
    if version == 3:
        schema = SCHEMA_V3
    else:
        schema = "\n".join(line for line in SCHEMA_V3.splitlines() if "-- v3" not in line)
    if version == 1:
        schema = re.sub(r",(\s*-- DICOM[^\n]*)\n\s*n_incomplete[^\n]*", r"\1", schema)
        schema = schema.replace("'fail', 'incomplete', 'error'", "'fail', 'error'")
        assert "n_incomplete" not in schema
    conn = sqlite3.connect(old)
    conn.executescript(f"BEGIN; {schema} PRAGMA user_version = {version}; COMMIT;")
    conn.close()
    ResultsDB(old).close()
    with sqlite3.connect(fresh) as a, sqlite3.connect(old) as b:
        for table in ("runs", "plans", "plan_files", "structures", "constraint_results", "errors"):
            assert sorted(_columns(b, table)) == sorted(_columns(a, table)), table
        assert b.execute("PRAGMA user_version").fetchone()[0] == 4
