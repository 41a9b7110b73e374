"""``dosecheck batch`` carries issue #12 through: the site alias file for every plan (in
the skip key), the dose-scale and beam-dose checks per plan, ``matched_by`` and
``match_detail`` per result, schema version 3 and its upgrade, and ``dosecheck
results`` showing a dose scale that is not consistent.

The dose-scale plans are those of :mod:`tests.helpers.dose_scale_plans` (a dose linear in x,
so the dose at the beam dose point is known in closed form: 75.6 Gy for the course,
1.5 × that for the "unexplained" plan); the naming and beam-dose plans are the box
plans of :mod:`tests.helpers.batch_plans` (maximum dose 52 Gy, in the PTV half).
"""

from __future__ import annotations

import csv
import io
import json
import re
import sqlite3
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from dosecheck.batch.database import SCHEMA, SCHEMA_VERSION, ResultsDB
from tests.helpers.batch_plans import write_box_plan
from tests.helpers.cli import run_cli
from tests.helpers.dose_scale_plans import BEAMS, D0_TOTAL, write_case

PTV_ONLY = "name: ptv only\nstructures:\n  - name: PTV\n    constraints:\n      - Max[Gy] < 200\n"


def _rows(db: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql, params).fetchall()


# --------------------------------------------------------------------------- site names
@pytest.fixture
def local_names(tmp_path: Path) -> Path:
    """One plan whose bowel bag has a local name the shipped set does not know, and a
    PTV named by the TG-263 dose level."""
    root = tmp_path / "archive"
    write_box_plan(root / "L1", patient_id="L1", bowel_name="Darmschlingen", ptv_name="PTV_5040")
    return root


def test_site_names_apply_to_every_plan_and_reach_the_tables(
    local_names: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("DOSECHECK_SITE_NAMES", raising=False)
    db = tmp_path / "r.sqlite"
    args = ["batch", local_names, "--db", db, "-j", "1"]
    # Without the alias file the bowel bag is not found: incomplete (exit 1).
    r = run_cli(args, capsys, monkeypatch)
    assert r.code == 1 and "1 incomplete" in r.stderr
    site = tmp_path / "site.yaml"
    site.write_text("Bag_Bowel: [Darmschlingen]\n")
    r = run_cli([*args, "--site-names", site], capsys, monkeypatch)
    assert r.code == 0, r.stderr
    assert "1 checked" in r.stderr  # a new evaluation, not the recorded one
    assert f"site alias file: {site.resolve()}" in r.stderr
    # The box plan's dose scale is confirmed by its PTV (found by name): nothing to say.
    assert "dose scale not consistent" not in r.stderr
    sha = _rows(db, "SELECT site_names_sha256, site_names_path FROM latest_plans")
    import hashlib

    assert sha == [(hashlib.sha256(site.read_bytes()).hexdigest(), str(site.resolve()))]
    structures = _rows(
        db,
        "SELECT s.structure, s.roi, s.matched_by, s.match_detail FROM structures s "
        "JOIN latest_plans p ON p.id = s.plan_id ORDER BY s.structure",
    )
    assert structures == [
        ("Bag_Bowel", "Darmschlingen", "site map", None),
        ("PTV", "PTV_5040", "tg263", "TG-263 dose level 50.4 Gy = the prescription"),
    ]
    results = _rows(
        db,
        "SELECT c.structure, c.matched_by, c.match_detail, c.record FROM constraint_results c "
        "JOIN latest_plans p ON p.id = c.plan_id ORDER BY c.position",
    )
    assert [r[:3] for r in results] == [
        ("Bag_Bowel", "site map", None),
        ("Bag_Bowel", "site map", None),
        ("PTV", "tg263", "TG-263 dose level 50.4 Gy = the prescription"),
        ("PTV", "tg263", "TG-263 dose level 50.4 Gy = the prescription"),
    ]
    assert json.loads(results[2][3])["match_detail"] == results[2][2]

    # The same file again: skipped. Another content: checked again.
    r = run_cli([*args, "--site-names", site], capsys, monkeypatch)
    assert "0 checked" in r.stderr and "1 already recorded" in r.stderr and r.code == 0
    site.write_text("Bag_Bowel: [Darmschlingen, Bowel_Local]\n")
    r = run_cli([*args, "--site-names", site], capsys, monkeypatch)
    assert "1 checked" in r.stderr and r.code == 0
    # The environment variable stands in for the option; the JSON names the file.
    monkeypatch.setenv("DOSECHECK_SITE_NAMES", str(site))
    out = tmp_path / "s.json"
    r = run_cli([*args, "-o", out], capsys, monkeypatch)
    assert r.code == 0 and "0 checked" in r.stderr  # same file content as the last run
    (entry,) = json.loads(out.read_text())["plans"]
    assert entry["site_names"]["sha256"] == hashlib.sha256(site.read_bytes()).hexdigest()
    assert [x["matched_by"] for x in entry["results"]] == ["site map"] * 2 + ["tg263"] * 2
    # CSV: the match detail follows check's columns.
    r = run_cli(["results", db, "--format", "csv"], capsys, monkeypatch)
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert [row["match_detail"] for row in rows][2] == (
        "TG-263 dose level 50.4 Gy = the prescription"
    )


def test_bad_site_names_and_map_are_usage_errors(
    local_names: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("DOSECHECK_SITE_NAMES", raising=False)
    db = tmp_path / "r.sqlite"
    bad = tmp_path / "bad.yaml"
    bad.write_text("Bag_Bowel: [Darmschlingen]\nbag bowel: [Other]\n")
    r = run_cli(["batch", local_names, "--db", db, "--site-names", bad], capsys, monkeypatch)
    assert r.code == 2
    assert "bad.yaml:2: duplicate structure" in r.stderr
    assert not db.exists()  # nothing was computed
    monkeypatch.setenv("DOSECHECK_SITE_NAMES", str(tmp_path / "missing.yaml"))
    r = run_cli(["batch", local_names, "--db", db], capsys, monkeypatch)
    assert r.code == 2 and "missing.yaml" in r.stderr
    monkeypatch.delenv("DOSECHECK_SITE_NAMES")
    r = run_cli(["batch", local_names, "--db", db, "--map", "PTV=PTV_5040"], capsys, monkeypatch)
    assert r.code == 2 and "--map" in r.stderr


# --------------------------------------------------------------------------- dose scale
@pytest.fixture(scope="module")
def scales(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """consistent (beam dose point), unexplained (×1.5), a contradiction (error), a box
    plan without RTPLAN (not verified), a PLAN dose with its two beams (agree) and
    with one of its two beams (differ by half the dose); the box plans with an RTPLAN
    are confirmed by their PTV's median."""
    from dosecheck.cli import main

    root = tmp_path_factory.mktemp("scales") / "archive"
    write_case(root / "ok", d0=D0_TOTAL, label="PLAN", beam_doses=BEAMS)
    write_case(root / "odd", d0=D0_TOTAL * 1.5, label="PLAN", beam_doses=BEAMS)
    write_case(root / "fx", d0=D0_TOTAL, label="FRACTION", beam_doses=BEAMS)
    write_box_plan(root / "box", patient_id="BX", rtplan=False)
    write_box_plan(root / "beams", patient_id="BM", beam_doses=2)
    half = write_box_plan(root / "half", patient_id="HF", beam_doses=2)
    half.rtdose[2].unlink()  # RD_beam2.dcm: the PLAN dose is twice its one beam
    cset = root.parent / "ptv.yaml"
    cset.write_text(PTV_ONLY)
    db = root.parent / "r.sqlite"
    out = root.parent / "s.json"
    mp = pytest.MonkeyPatch()
    mp.delenv("DOSECHECK_SITE_NAMES", raising=False)
    argv = ["batch", str(root), "--db", str(db), "-j", "2", "-c", str(cset), "-o", str(out)]
    try:
        code = main(argv)
    finally:
        mp.undo()
    doc = json.loads(out.read_text())
    by_folder = {Path(e["plan"]["path"]).name: e for e in doc["plans"]}
    return {"db": db, "code": code, "doc": doc, "plans": by_folder, "root": root}


def test_dose_scale_columns_per_plan(scales: dict[str, Any]) -> None:
    assert scales["code"] == 3  # the contradiction is an error row
    rows = {
        Path(r[0]).name: r[1:]
        for r in _rows(
            scales["db"],
            "SELECT path, status, dose_scale_verdict, dose_scale_method, dose_scale_ratio, "
            "dose_scale FROM latest_plans",
        )
    }
    assert rows["ok"][:3] == ("pass", "consistent", "beam_dose_points")
    assert rows["ok"][3] == pytest.approx(1.0, rel=1e-5)
    ok = json.loads(rows["ok"][4])
    assert ok["expected_gy"] == pytest.approx(75.6)
    assert ok["measured_gy"] == pytest.approx(75.6, rel=1e-5)
    assert ok["points"][0]["source"] == "beams 1, 2"
    assert rows["odd"][:3] == ("pass", "unexplained", "beam_dose_points")
    assert rows["odd"][3] == pytest.approx(1.5, rel=1e-5)
    assert json.loads(rows["odd"][4])["measured_gy"] == pytest.approx(113.4, rel=1e-5)
    assert rows["box"][:4] == ("pass", "not_verified", "none", None)
    assert rows["beams"][:3] == ("pass", "consistent", "target")
    assert rows["beams"][3] == pytest.approx(49.7 / 50.4, rel=1e-4)
    # The contradiction: an error with the loader's message, no dose-scale record.
    assert rows["fx"][:4] == ("error", None, None, None)
    (message,) = _rows(scales["db"], "SELECT error FROM latest_plans WHERE status = 'error'")[0]
    assert "labelled FRACTION but holds 75.6 Gy" in message and "--dose-is total" in message


def test_beam_dose_check_per_plan(scales: dict[str, Any]) -> None:
    rows = {
        Path(r[0]).name: r[1:]
        for r in _rows(
            scales["db"],
            "SELECT path, beam_dose_consistent, beam_dose_max_diff_gy, beam_dose_check "
            "FROM latest_plans",
        )
    }
    assert rows["ok"] == (None, None, None)  # no beam doses beside the PLAN dose
    assert rows["beams"][:2] == (1, 0.0)
    assert rows["half"][0] == 0
    # PLAN − beam 1 = half the PLAN dose; its maximum is half of 52 Gy, in the PTV half.
    assert rows["half"][1] == pytest.approx(26.0, abs=1e-3)
    record = json.loads(rows["half"][2])
    assert record["consistent"] is False and record["at_mm"][0] == pytest.approx(100.0)
    assert record["at_mm"][1] > 0 and record["beam_doses"][0].endswith("RD_beam1.dcm")
    assert scales["plans"]["half"]["status"] == "pass"  # a warning, not --strict


def test_results_show_a_dose_scale_that_is_not_consistent(
    scales: dict[str, Any], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    db = scales["db"]
    doc = scales["doc"]
    # 5 evaluated plans: ok, beams, half consistent; odd unexplained; box not verified.
    assert doc["dose_scale_counts"] == {"consistent": 3, "not_verified": 1, "unexplained": 1}
    assert (
        doc["plans"]
        == json.loads(run_cli(["results", db, "--format", "json"], capsys, monkeypatch).stdout)[
            "plans"
        ]
    )
    assert scales["plans"]["odd"]["dose_scale"]["ratio"] == pytest.approx(1.5, rel=1e-5)
    assert scales["plans"]["fx"]["dose_scale"] is None

    r = run_cli(["results", db, "--format", "csv"], capsys, monkeypatch)
    rows = {Path(row["path"]).name: row for row in csv.DictReader(io.StringIO(r.stdout))}
    assert rows["odd"]["dose_scale"] == "unexplained"
    assert float(rows["odd"]["dose_scale_ratio"]) == pytest.approx(1.5, rel=1e-5)
    assert rows["fx"]["dose_scale"] == "not_recorded" and rows["fx"]["dose_scale_ratio"] == ""
    assert rows["half"]["beam_dose_consistent"] == "false"
    assert rows["beams"]["beam_dose_consistent"] == "true"
    assert rows["ok"]["beam_dose_consistent"] == ""

    r = run_cli(["results", db, "--format", "junit"], capsys, monkeypatch)
    suites = {
        Path(s.find("properties/property[@name='path']").get("value")).name: {  # type: ignore[union-attr]
            p.get("name"): p.get("value") for p in s.iter("property")
        }
        for s in ET.fromstring(r.stdout).iter("testsuite")
    }
    assert suites["odd"]["dose_scale"] == "unexplained"
    assert float(suites["odd"]["dose_scale_ratio"]) == pytest.approx(1.5, rel=1e-5)
    assert suites["half"]["beam_dose_consistent"] == "false"
    assert "dose_scale_ratio" not in suites["box"]

    monkeypatch.setenv("COLUMNS", "250")
    r = run_cli(["results", db], capsys, monkeypatch)
    assert "UNEXPLAINED ×1.50" in r.stdout and "NOT VERIFIED" in r.stdout
    assert "BEAM DOSES DIFFER by 26 Gy" in r.stdout
    assert (
        "dose scale not consistent in 2 of 5 evaluated plans (1 not_verified, 1 unexplained)"
        in r.stdout
    )


# --------------------------------------------------------------------------- schema 3
def _schema_v2() -> str:
    """The schema as version 2 had it: without the columns marked ``-- v3`` (or later)."""
    v2 = "\n".join(line for line in SCHEMA.splitlines() if not re.search(r"-- v\d", line))
    assert "dose_scale" not in v2 and "site_names" not in v2 and "match_detail" not in v2
    return v2


def _v2_database(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.executescript(f"BEGIN; {_schema_v2()} PRAGMA user_version = 2; COMMIT;")
    conn.execute(
        "INSERT INTO runs (id, started_at, status, dosecheck_version, host, pid, archives, "
        "constraints, executor, strict) VALUES (1, '2024-01-01T00:00:00.000000Z', 'finished', "
        "'0.1.0', 'h', 1, '[]', 'auto', 'processes:1', 0)"
    )
    conn.execute(
        "INSERT INTO plans (id, run_id, location_key, content_key, source, path, patient_id, "
        "patient_name, plan_label, plan_uid, structure_set_uid, grouping, notes, "
        "constraint_set_sha256, strict, status, summary, warnings, evaluated_at, "
        "dosecheck_version) VALUES (1, 1, 'loc', 'content', '/a', '/a/P', 'P', '', 'L', '', '', "
        "'references', '[]', 'cs', 0, 'pass', 'PASS', '[]', '2024-01-01T00:00:00.000000Z', "
        "'0.1.0')"
    )
    conn.execute(
        "INSERT INTO structures (plan_id, structure, roi, matched_by) "
        "VALUES (1, 'PTV', 'PTV_5040', 'tg263')"
    )
    record = {"structure": "PTV", "matched_by": "tg263", "match_detail": "TG-263 dose level"}
    conn.execute(
        "INSERT INTO constraint_results (plan_id, position, structure, roi, metric, "
        'metric_canonical, value, unit, comparator, "limit", margin, status, priority, '
        "message, record) VALUES (1, 0, 'PTV', 'PTV_5040', 'Max[Gy]', 'Max[Gy]', 50, 'Gy', '<', "
        "60, 10, 'pass', 'mandatory', 'ok', ?)",
        (json.dumps(record),),
    )
    conn.commit()
    conn.close()


def test_schema_2_database_is_upgraded_in_place(tmp_path: Path) -> None:
    db = tmp_path / "v2.sqlite"
    _v2_database(db)
    with ResultsDB(db, create=False) as rdb:  # `dosecheck results` upgrades too
        assert rdb.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 4
        cols = {r[1] for r in rdb.conn.execute("PRAGMA table_info(plans)")}
        assert {"site_names_sha256", "dose_scale_verdict", "beam_dose_check"} <= cols
        got = rdb.conn.execute("SELECT matched_by, match_detail FROM constraint_results")
        assert [tuple(r) for r in got] == [("tg263", "TG-263 dose level")]
        got = rdb.conn.execute("SELECT match_detail FROM structures")
        assert [tuple(r) for r in got] == [("TG-263 dose level",)]
        # The old evaluation is still up to date for a run without an alias file.
        assert rdb.lookup("loc", "content", "cs", False) == "pass"
        assert rdb.lookup("loc", "content", "cs", False, "other-sha") is None
        (entry,) = rdb.latest()
    assert entry["dose_scale"] is None and entry["beam_dose_check"] is None
    assert entry["site_names"] is None and entry["results"][0]["matched_by"] == "tg263"
    with ResultsDB(db) as rdb:  # opened again for a run: nothing more to do
        assert rdb.conn.execute("PRAGMA user_version").fetchone()[0] == 4


def test_a_failed_upgrade_changes_nothing_and_says_why(tmp_path: Path) -> None:
    """A damaged version 2 database (a results table without its ``record`` column)
    cannot be upgraded: exit-2 error naming the versions; the file stays at version 2."""
    db = tmp_path / "damaged.sqlite"
    v2 = re.sub(r"\n\s*record\s+TEXT NOT NULL[^\n]*", "", _schema_v2())
    v2 = v2.replace("message          TEXT NOT NULL,", "message          TEXT NOT NULL")
    conn = sqlite3.connect(db)
    conn.executescript(f"BEGIN; {v2} PRAGMA user_version = 2; COMMIT;")
    conn.close()
    from dosecheck.errors import InputError

    with pytest.raises(InputError) as info:
        ResultsDB(db)
    text = str(info.value)
    assert "damaged.sqlite" in text
    assert "cannot upgrade the results database from schema version 2 to 4" in text
    assert "nothing was changed" in text
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 2
        assert "dose_scale" not in {r[1] for r in conn.execute("PRAGMA table_info(plans)")}


def test_a_newer_database_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "new.sqlite"
    conn = sqlite3.connect(db)
    conn.executescript(f"BEGIN; {SCHEMA} PRAGMA user_version = 5; COMMIT;")
    conn.close()
    r = run_cli(["results", db], capsys, monkeypatch)
    assert r.code == 2
    assert "schema version 5; this dosecheck knows up to 4: upgrade dosecheck" in r.stderr


def test_archive_summary_counts_plans_whose_dose_scale_is_not_consistent(
    scales: dict[str, Any],
) -> None:
    pytest.importorskip("matplotlib")
    from dosecheck.batch.archive_data import load_archive_data
    from dosecheck.report.archive import render_archive_report
    from tests.helpers.html import assert_self_contained, by_id, parse_html

    html = render_archive_report(load_archive_data(scales["db"]))
    tree = parse_html(html)
    assert_self_contained(html, tree)
    line = by_id(tree, "dose-scale-count")
    assert line.attrs["data-not-consistent"] == "2" and line.attrs["data-evaluated"] == "5"
    assert line.text_content() == (
        "Dose scale not consistent with the RTPLAN: 2 of 5 evaluated plans "
        "(1 not verified, 1 unexplained)."
    )
    doc = json.loads(html.split('id="archive-json">', 1)[1].split("</script>", 1)[0])
    assert doc["dose_scale_counts"] == {"consistent": 3, "not_verified": 1, "unexplained": 1}
