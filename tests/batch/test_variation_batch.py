"""Variation bands in a batch: the results database, ``results`` and the archive
summary count them apart from passes and failures (issue #10, section 2)."""

from __future__ import annotations

import json
import sqlite3
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.helpers.batch_plans import make_archive
from tests.helpers.cli import run_cli
from tests.helpers.variation import VARIATION_SET


def test_batch_database_results_and_archive(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = tmp_path / "archive"
    make_archive(archive, [{"patient_id": "V1"}, {"patient_id": "V2"}])
    cset = tmp_path / "v.yaml"
    cset.write_text(VARIATION_SET)
    db = tmp_path / "r.sqlite"
    r = run_cli(["batch", archive, "--db", db, "-j", "1", "-c", cset], capsys, monkeypatch)
    assert r.code == 0, r.stderr  # within variation does not fail a plan
    with sqlite3.connect(db) as con:
        plans = con.execute("SELECT status, summary FROM plans ORDER BY id").fetchall()
        statuses = con.execute(
            "SELECT status FROM constraint_results ORDER BY plan_id, position"
        ).fetchall()
    assert [p[0] for p in plans] == ["pass", "pass"]
    assert all("1 within variation" in p[1] for p in plans)
    assert [s[0] for s in statuses] == ["variation", "pass"] * 2

    r = run_cli(["results", db, "--format", "json"], capsys, monkeypatch)
    doc = json.loads(r.stdout)
    assert [[x["status"] for x in e["results"]] for e in doc["plans"]] == [
        ["variation", "pass"]
    ] * 2
    r = run_cli(["results", db, "--format", "junit"], capsys, monkeypatch)
    root = ET.fromstring(r.stdout)
    assert root.get("failures") == "0"
    cases = [c for c in root.iter("testcase") if c.find("system-out") is not None]
    assert len(cases) == 2
    assert all(
        {p.get("name"): p.get("value") for p in c.iter("property")}["status"] == "variation"
        for c in cases
    )

    out = tmp_path / "summary.html"
    r = run_cli(["results", db, "--report", out], capsys, monkeypatch)
    assert r.code == 0, r.stderr
    html = out.read_text(encoding="utf-8")
    assert 'data-n-variation="2"' in html and "has-variation" in html
    assert "2 evaluated: 0 pass, 2 within variation, 0 fail" in html

    strict_db = tmp_path / "s.sqlite"
    r = run_cli(
        ["batch", archive, "--db", strict_db, "-j", "1", "-c", cset, "--strict"],
        capsys,
        monkeypatch,
    )
    assert r.code == 1
    with sqlite3.connect(strict_db) as con:
        assert [p[0] for p in con.execute("SELECT status FROM plans")] == ["fail", "fail"]
    monkeypatch.setenv("COLUMNS", "300")
    r = run_cli(["results", strict_db], capsys, monkeypatch)
    assert "within variation only (--strict): Bag_Bowel V45Gy[cc]" in r.stdout
