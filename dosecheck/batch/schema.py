"""The results database's schema, its version and the upgrades from older versions.

:data:`SCHEMA` is the whole schema (``CREATE … IF NOT EXISTS``); :data:`SCHEMA_VERSION`
is stored in ``PRAGMA user_version``. Each column added after version 2 is marked
``-- vN`` in :data:`SCHEMA` (N the version that added it): :func:`added_columns` reads
the marks, and an older database gains the columns it lacks by ``ALTER TABLE … ADD
COLUMN``, then the data statements of each newer version (:data:`UPGRADE_DATA`) fill
them. :meth:`dosecheck.batch.database.ResultsDB` runs the upgrade in one transaction.

Version 2 added the plan status ``incomplete`` and ``runs.n_incomplete``
(:data:`UPGRADE_FROM_1`, which rebuilds ``plans``); version 3 the site alias file
(part of the skip key), the dose-scale and beam-dose checks per plan, and
``matched_by``/``match_detail`` per result and structure; version 4 the check's
options (part of the skip key), the TPS comparison and the borderline verdicts
(counts per plan, values per result).
"""

from __future__ import annotations

import re
import sqlite3

__all__ = [
    "SCHEMA",
    "SCHEMA_VERSION",
    "UPGRADE_DATA",
    "UPGRADE_FROM_1",
    "added_columns",
    "statements",
]

SCHEMA_VERSION = 4

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
    check_options            TEXT NOT NULL DEFAULT '{}', -- v4: JSON options (skip key)
    n_tps_differs            INTEGER,               -- v4: verdicts flipped on the TPS DVH
    n_borderline             INTEGER,               -- v4: borderline results
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
    tps_value        REAL,                         -- v4: the value on the TPS's DVH
    tps_status       TEXT,                         -- v4: pass | fail | not_evaluated on it
    tps_verdict_differs INTEGER,                   -- v4: 0/1, NULL without --compare-tps
    borderline       INTEGER,                      -- v4: 0/1, NULL when not assessed
    value_low        REAL,                         -- v4: the value's range, low end
    value_high       REAL,                         -- v4: and high end
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

#: Version 1 → 2: ``plans.status`` may be ``incomplete`` (the table is rebuilt as it is
#: now, with the columns of version 1 copied by name: ``{columns}``, to be replaced
#: with ``str.replace``); ``runs.n_incomplete``. Plans recorded as ``pass`` with a
#: mandatory constraint not evaluated become ``incomplete``.
UPGRADE_FROM_1 = f"""
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

_MARK = re.compile(r"--\s*v(\d+)\b")


def added_columns(version: int) -> dict[str, list[tuple[str, str]]]:
    """``{table: [(column, definition), …]}`` of the columns marked ``-- v<version>``
    in :data:`SCHEMA` (added to an older database by ``ALTER TABLE … ADD COLUMN``)."""
    out: dict[str, list[tuple[str, str]]] = {}
    for m in re.finditer(r"CREATE TABLE IF NOT EXISTS (\w+) \((.*?)\n\);", SCHEMA, re.S):
        for line in m[2].splitlines():
            mark = _MARK.search(line)
            if mark is not None and int(mark[1]) == version:
                definition = line[: mark.start()].strip().rstrip(",")
                out.setdefault(m[1], []).append((definition.split()[0], definition))
    return out


#: The data statements of each version, run after its columns are added (in version
#: order, on a database older than that version).
UPGRADE_DATA: dict[int, str] = {
    # 2 → 3: the constraint results' rule and detail from their JSON record, and each
    # structure's detail from its results.
    3: """
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
""",
    # 3 → 4: the TPS and borderline columns from each result's JSON record (records
    # written before version 4 have neither: the columns stay NULL), and the plans'
    # counts from them. ``check_options`` of the plans already there is '{}' (default).
    4: """
UPDATE constraint_results SET
    tps_value = json_extract(record, '$.tps_value'),
    tps_status = json_extract(record, '$.tps_status'),
    tps_verdict_differs = json_extract(record, '$.tps_verdict_differs'),
    borderline = json_extract(record, '$.borderline'),
    value_low = json_extract(record, '$.value_range[0]'),
    value_high = json_extract(record, '$.value_range[1]')
WHERE instr(record, '"tps_verdict_differs"') + instr(record, '"borderline"') > 0
    AND json_valid(record);
UPDATE plans SET
    n_tps_differs = (SELECT SUM(c.tps_verdict_differs) FROM constraint_results c
                     WHERE c.plan_id = plans.id),
    n_borderline = (SELECT SUM(c.borderline) FROM constraint_results c
                    WHERE c.plan_id = plans.id)
WHERE n_tps_differs IS NULL AND n_borderline IS NULL;
""",
}


def statements(script: str) -> list[str]:
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
