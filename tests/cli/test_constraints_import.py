"""``dosecheck constraints import`` and ``diff``, and templates with ``--constraints``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dosecheck.checking.loader import load_constraint_set
from dosecheck.checking.templates import load_constraint_file
from tests.helpers.cli import run_cli
from tests.helpers.plans import LONG_BOWEL_FAIL, LONG_BOWEL_PASS, LONG_PTV_PASS, write_plan
from tests.helpers.templates import CSV_SET, write_all


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    return write_all(tmp_path / "t")


def _key(cset):
    return [
        (
            s.name,
            s.aliases,
            str(c.metric),
            c.comparator,
            c.limit,
            c.limit_unit_is_percent_rx,
            c.priority,
        )
        for s, c in cset.constraints
    ]


@pytest.mark.parametrize(
    "fmt",
    ["varian-csv", "eclipse-protocol", "eclipse-goals", "proknow-scorecard", "raystation-goals"],
)
def test_import_reloads_to_the_same_constraints(files, fmt, tmp_path, capsys, monkeypatch) -> None:
    out = tmp_path / "set.yaml"
    r = run_cli(
        [
            "constraints",
            "import",
            files[fmt],
            "-o",
            out,
            "--prescription",
            "50.4",
            "--fractions",
            "28",
        ],
        capsys,
        monkeypatch,
    )
    assert r.code == 0, r.stderr
    imported = load_constraint_file(files[fmt])
    reloaded = load_constraint_set(out)
    assert _key(reloaded) == _key(imported)
    assert files[fmt].name in reloaded.source and imported.sha256 in reloaded.source
    assert reloaded.prescription_gy == 50.4 and reloaded.fractions == 28
    assert f"{fmt}: " in r.stderr


def test_import_lists_what_is_not_imported(files, capsys, monkeypatch) -> None:
    r = run_cli(
        ["constraints", "import", files["varian-csv"], "--prescription", "50.4"],
        capsys,
        monkeypatch,
    )
    assert r.code == 0
    assert "not imported: line 6: PTV CI95%[%] <=1.2" in r.stderr
    assert "# Not imported" in r.stdout and "CI95%[%]" in r.stdout  # kept in the YAML too
    assert "name: rectum" in r.stdout


def test_import_needs_a_prescription_for_percent_doses(files, capsys, monkeypatch) -> None:
    r = run_cli(["constraints", "import", files["varian-csv"]], capsys, monkeypatch)
    assert r.code == 2
    assert (
        "'V95%[%] >= 95' is in % of the prescription" in r.stderr and "--prescription" in r.stderr
    )


def test_diff_equal_and_different(files, tmp_path, capsys, monkeypatch) -> None:
    r = run_cli(
        ["constraints", "diff", files["yaml"], files["eclipse-protocol"]], capsys, monkeypatch
    )
    assert r.code == 0 and "EQUAL" in r.stdout
    r = run_cli(
        ["constraints", "diff", "rectum-long-course", files["varian-csv"]], capsys, monkeypatch
    )
    # The shipped set has no variation limits; the CSV has two: they differ there only.
    assert r.code == 1 and "2 differences" in r.stdout
    r = run_cli(
        ["constraints", "diff", "rectum-long-course", files["varian-csv"], "--format", "json"],
        capsys,
        monkeypatch,
    )
    assert [(d["metric"], d["kind"], d["b"]) for d in json.loads(r.stdout)["differences"]] == [
        ("V45Gy[cc]", "variation", "V45Gy[cc] < 300 (variation 320)"),
        ("V95%[%]", "variation", "V95%[%] >= 95 (variation 93)"),
    ]
    drifted = tmp_path / "drifted.csv"
    drifted.write_text(
        CSV_SET.replace("V4500cGy[cc],<300,<320", "V4500cGy[cc],<320,<350")
        .replace("D2%[%],<=107,,2", "D2%[%],<=107,,1")
        .replace("PTV,,,,V95%[%],>=95,>=93,1,,\n", "")
        + "Rectum,,,,Max[cGy],<5000,,1,,\n"
    )
    r = run_cli(
        ["constraints", "diff", files["yaml"], drifted, "--format", "json"], capsys, monkeypatch
    )
    assert r.code == 1
    doc = json.loads(r.stdout)
    assert doc["equal"] is False
    got = {(d["structure"], d["metric"], d["kind"]): (d["a"], d["b"]) for d in doc["differences"]}
    assert got == {
        ("Bag_Bowel", "V45Gy[cc]", "limit"): (
            "V45Gy[cc] < 300 (variation 320)",
            "V45Gy[cc] < 320 (variation 350)",
        ),
        ("Bag_Bowel", "V45Gy[cc]", "variation"): (
            "V45Gy[cc] < 300 (variation 320)",
            "V45Gy[cc] < 320 (variation 350)",
        ),
        ("PTV", "D2%[%]", "priority"): ("D2%[%] <= 107 (optimal)", "D2%[%] <= 107"),
        ("PTV", "V95%[%]", "only_a"): ("V95%[%] >= 95 (variation 93)", ""),
        ("Rectum", "Max[Gy]", "only_b"): ("", "Max[Gy] < 50"),
    }
    r = run_cli(["constraints", "diff", files["yaml"], drifted], capsys, monkeypatch)
    assert r.code == 1 and "5 differences" in r.stdout and "only in B" in r.stdout


def test_validate_and_show_take_templates(files, capsys, monkeypatch) -> None:
    r = run_cli(["constraints", "validate", files["eclipse-goals"]], capsys, monkeypatch)
    assert r.code == 0 and r.stdout.strip() == "OK: 2 structures, 4 constraints"
    r = run_cli(["constraints", "show", files["raystation-goals"]], capsys, monkeypatch)
    assert r.code == 0 and "V47.88Gy[%] >= 95" in r.stdout


@pytest.mark.slow
def test_check_with_a_template(files, tmp_path, capsys, monkeypatch) -> None:
    good = write_plan(tmp_path / "good", LONG_BOWEL_PASS, LONG_PTV_PASS)
    bad = write_plan(tmp_path / "bad", LONG_BOWEL_FAIL, LONG_PTV_PASS)
    r = run_cli(["check", good, "--constraints", files["varian-csv"]], capsys, monkeypatch)
    assert r.code == 0, r.stdout + r.stderr
    r = run_cli(
        ["check", bad, "--constraints", files["varian-csv"], "--format", "json"],
        capsys,
        monkeypatch,
    )
    assert r.code == 1
    doc = json.loads(r.stdout)
    v45 = next(x for x in doc["results"] if x["metric"] == "V45Gy[cc]")
    assert v45["status"] == "fail" and v45["value"] == pytest.approx(340.0, abs=0.25)
    assert doc["constraint_set"]["sha256"] == load_constraint_file(files["varian-csv"]).sha256


def test_malformed_template_exits_2(tmp_path, capsys, monkeypatch) -> None:
    p = tmp_path / "x.xml"
    p.write_text('<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><Protocol>&e;</Protocol>')
    r = run_cli(["constraints", "validate", p], capsys, monkeypatch)
    assert r.code == 2 and str(p) in r.stderr and "DOCTYPE" in r.stderr
