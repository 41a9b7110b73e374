"""The rows of one evaluation: written from a plan's outcome
(:func:`insert_evaluation`) and read back as a JSON-ready entry (:func:`entry_of`).

:class:`dosecheck.batch.database.ResultsDB` holds the connection, the transactions and
the skip key; this module only maps between an outcome (the dict of
:meth:`dosecheck.batch.tasks.PlanOutcome.to_record`) and the tables of
:data:`dosecheck.batch.schema.SCHEMA`.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from dosecheck import __version__

if TYPE_CHECKING:
    from dosecheck.dicom.discovery import DiscoveredPlan

__all__ = ["entry_of", "insert_evaluation", "options_key"]


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def options_key(options: dict[str, Any] | None) -> str:
    """The canonical JSON of the check's options (``plans.check_options``): sorted
    keys, no spaces, ``"{}"`` for none."""
    return json.dumps(options or {}, sort_keys=True, separators=(",", ":"))


def evaluation_key(outcome: dict[str, Any]) -> tuple[str, bool, str, str]:
    """What, besides the plan's files, makes a recorded evaluation up to date:
    ``(constraint set sha256, strict, site names sha256, check options key)``."""
    cset = outcome.get("constraint_set") or {}
    site = outcome.get("site_names") or {}
    return (
        str(cset.get("sha256") or ""),
        bool(outcome.get("strict")),
        str(site.get("sha256") or ""),
        options_key(outcome.get("check_options")),
    )


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


def insert_evaluation(
    conn: sqlite3.Connection,
    run_id: int,
    plan: DiscoveredPlan,
    files: Sequence[tuple[str, str, str]],
    content_key: str,
    outcome: dict[str, Any],
    now: str,
) -> int:
    """Insert one evaluation (its plan row, files, structures, results and error) in
    the caller's transaction; return the new ``plans.id``."""
    cset = outcome.get("constraint_set") or {}
    rx = outcome.get("prescription") or {}
    site = outcome.get("site_names") or {}
    cset_sha, strict, site_sha, options = evaluation_key(outcome)
    scale = outcome.get("dose_scale")
    beams = outcome.get("beam_dose_check")
    results = list(outcome.get("results") or [])
    cur = conn.execute(
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
    conn.executemany(
        "INSERT INTO plan_files (plan_id, role, position, path, sha256) VALUES (?, ?, ?, ?, ?)",
        rows,
    )
    conn.executemany(
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
    conn.executemany(
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
        conn.execute(
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


def entry_of(conn: sqlite3.Connection, row: sqlite3.Row) -> dict[str, Any]:
    """The JSON-ready entry of one ``plans`` row (:meth:`ResultsDB.latest`)."""
    pid = row["id"]
    files = conn.execute(
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
        for r in conn.execute(
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
        **_assessments(row),
        "results": results,
    }


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
