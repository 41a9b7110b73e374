"""``dosecheck results DB --report FILE.html``: the archive summary.

A small archive of generated box plans (some pass, some fail, one with a truncated
dose) goes through ``dosecheck batch``; the summary written by ``dosecheck results
--report`` is then compared with what ``dosecheck results --format json`` says about
the same database. A second database, written directly with
:class:`~dosecheck.batch.database.ResultsDB`, holds many plans with spread values, a
limit that varies between plans and hostile text. The summary is also loaded in
headless Chromium (skipped when there is none), like ``tests/report/test_browser.py``.
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from tests.helpers.batch_plans import make_archive, truncate
from tests.helpers.browser import console_lines, run_chromium
from tests.helpers.html import TreeBuilder, assert_self_contained, by_id, parse_html

pytest.importorskip("matplotlib")

# Long course: A1, F6 pass, B2 fails V45Gy; C3 has a truncated dose (error).
# Short course: D4 passes, E5 fails V18.5Gy and V22Gy.
SPECS: list[dict[str, Any]] = [
    {"patient_id": "A1", "label": "LC"},
    {"patient_id": "B2", "label": "LC", "outcome": "fail"},
    {"patient_id": "C3", "label": "LC"},
    {"patient_id": "D4", "label": "SC", "course": "short"},
    {"patient_id": "E5", "label": "SC", "course": "short", "outcome": "fail"},
    {"patient_id": "F6", "label": "LC"},
]

_URL_ATTRS = {"src", "href", "xlink:href", "action", "formaction", "poster", "data", "srcset"}


def _cli(args: list[Any]) -> int:
    """Run ``dosecheck ARGS`` in this process; the exit code."""
    from dosecheck.cli import main

    return main([str(a) for a in args])


class Summary(SimpleNamespace):
    db: Path
    html: str
    tree: TreeBuilder
    doc: dict[str, Any]
    path: Path
    batch_code: int
    report_code: int


@pytest.fixture(scope="module")
def summary(tmp_path_factory: pytest.TempPathFactory) -> Summary:
    base = tmp_path_factory.mktemp("archive-report")
    plans = make_archive(base / "archive", SPECS)
    truncate(plans[2].rtdose[0])
    db = base / "qa.sqlite"
    batch_code = _cli(["batch", base / "archive", "--db", db, "-j", "2"])
    out = base / "summary.html"
    report_code = _cli(["results", db, "--report", out])
    assert _cli(["results", db, "--format", "json", "-o", base / "results.json"]) == 0
    html = out.read_text(encoding="utf-8")
    return Summary(
        db=db,
        html=html,
        tree=parse_html(html),
        doc=json.loads((base / "results.json").read_text(encoding="utf-8")),
        path=out,
        batch_code=batch_code,
        report_code=report_code,
    )


def _rate_key(
    set_name: str, structure: str, metric: str, cmp: str, limit: str, prio: str
) -> tuple[str, ...]:
    return (set_name, structure, metric, cmp, limit, prio)


def rates_from_json(doc: dict[str, Any]) -> dict[tuple[str, ...], dict[str, Any]]:
    """Pass rates per constraint, computed independently from ``results --format json``."""
    out: dict[tuple[str, ...], dict[str, Any]] = {}
    for e in doc["plans"]:
        for r in e["results"]:
            key = _rate_key(
                e["constraint_set"]["name"],
                r["structure"],
                r["metric"],
                r["comparator"],
                r["limit_as_written"],
                r["priority"],
            )
            c = out.setdefault(key, {"pass": 0, "fail": 0, "not_evaluated": 0, "limits": set()})
            c[r["status"]] += 1
            if r["limit"] is not None:
                c["limits"].add(r["limit"])
    for c in out.values():
        c["evaluated"] = c["pass"] + c["fail"]
        c["rate"] = c["pass"] / c["evaluated"] if c["evaluated"] else None
    return out


def rates_from_html(tree: TreeBuilder) -> dict[tuple[str, ...], dict[str, Any]]:
    """``{key: {"attrs": the row's attributes, "cells": {cell class: text}}}`` of the
    pass-rate table."""
    rows: dict[tuple[str, ...], dict[str, Any]] = {}
    for tr in tree.root.find_all("tr", "constraint"):
        a = tr.attrs
        key = _rate_key(
            a["data-set"],
            a["data-structure"],
            a["data-metric"],
            a["data-comparator"],
            a["data-limit"],
            a["data-priority"],
        )
        assert key not in rows, f"two rows for {key}"
        cells = {
            cls: td.text_content().strip()
            for td in tr.find_all("td")
            for cls in td.attrs.get("class", "").split()
        }
        rows[key] = {"attrs": a, "cells": cells}
    return rows


# --- the command --------------------------------------------------------------------------------
def test_command_writes_the_summary(summary: Summary) -> None:
    assert summary.batch_code == 3  # a failure and an error: the error wins
    assert summary.report_code == 0
    assert summary.html.startswith("<!DOCTYPE html>")
    statuses = {e["plan"]["patient_id"]: e["status"] for e in summary.doc["plans"]}
    assert statuses == {
        "A1": "pass",
        "B2": "fail",
        "C3": "error",
        "D4": "pass",
        "E5": "fail",
        "F6": "pass",
    }


def test_no_external_references(summary: Summary) -> None:
    assert_self_contained(summary.html, summary.tree)
    # Ids are unique and every in-page reference resolves.
    ids = [e.attrs["id"] for e in summary.tree.root.iter() if "id" in e.attrs]
    assert len(ids) == len(set(ids))
    refs = re.findall(r'(?:url\(#|href="#)([^)"]+)', summary.html)
    assert refs
    assert set(refs) <= set(ids)


def test_print_stylesheet(summary: Summary) -> None:
    css = "".join(summary.tree.raw_styles)
    assert re.search(r"@page\s*\{[^}]*size:\s*A4", css)
    media = css[css.index("@media print") :]
    assert "break-inside: avoid" in media
    assert ".constraint-card" in media
    assert "table-header-group" in media


def test_identity_and_totals(summary: Summary) -> None:
    totals = by_id(summary.tree, "totals").attrs
    counts = summary.doc["counts"]
    assert int(totals["data-plans"]) == len(summary.doc["plans"]) == 6
    statuses = ("pass", "fail", "incomplete", "error")
    assert {k: int(totals[f"data-{k}"]) for k in statuses} == counts
    assert by_id(summary.tree, "db-path").text_content() == str(summary.db.resolve())
    runs = summary.tree.root.find_all("tr", "run")
    assert [r.attrs["data-run"] for r in runs] == ["1"]
    assert "finished" in runs[0].text_content()


def test_pass_rates_equal_the_json(summary: Summary) -> None:
    expected = rates_from_json(summary.doc)
    got = rates_from_html(summary.tree)
    assert set(got) == set(expected)
    assert len(got) == 8  # 4 constraints in each of the two shipped sets
    for key, exp in expected.items():
        a = got[key]["attrs"]
        cells = got[key]["cells"]
        assert int(a["data-n-evaluated"]) == exp["evaluated"], key
        assert int(a["data-n-pass"]) == exp["pass"], key
        assert int(a["data-n-fail"]) == exp["fail"], key
        assert int(a["data-n-not-evaluated"]) == exp["not_evaluated"], key
        assert json.loads(a["data-pass-rate"]) == pytest.approx(exp["rate"]), key
        # ... and the visible numbers say the same.
        assert cells["n-pass"] == str(exp["pass"])
        assert cells["n-fail"] == str(exp["fail"])
        assert cells["n-evaluated"] == str(exp["evaluated"])
        assert cells["rate"] == f"{100 * exp['rate']:.1f} %"
    long_v45 = next(k for k in expected if k[0].startswith("Rectum long") and k[2] == "V45Gy[cc]")
    assert (expected[long_v45]["pass"], expected[long_v45]["fail"]) == (2, 1)
    # The embedded JSON carries the same numbers.
    embedded = json.loads(by_id(summary.tree, "archive-json").text_content())
    for row in embedded["constraints"]:
        key = _rate_key(
            row["constraint_set"],
            row["structure"],
            row["metric"],
            row["comparator"],
            row["limit_as_written"],
            row["priority"],
        )
        assert (row["n_pass"], row["n_fail"]) == (expected[key]["pass"], expected[key]["fail"])


def test_one_histogram_per_metric_with_its_limit(summary: Summary) -> None:
    expected = rates_from_json(summary.doc)
    figures = summary.tree.root.find_all("figure", "histogram")
    assert len(figures) == len(expected)
    seen = set()
    for fig in figures:
        a = fig.attrs
        key = next(
            k
            for k in expected
            if (k[0], k[1], k[2], k[4])
            == (a["data-set"], a["data-structure"], a["data-metric"], a["data-limit"])
        )
        seen.add(key)
        assert int(a["data-n"]) == expected[key]["evaluated"]
        svgs = fig.find_all("svg")
        assert len(svgs) == 1
        limit_lines = fig.find_all("g", "dvh-limit")
        assert len(limit_lines) == 1, key
        (limit,) = expected[key]["limits"]
        assert json.loads(limit_lines[0].attrs["data-limit"]) == pytest.approx(limit)
        assert limit_lines[0].find_all("title")[0].text_content().startswith("Limit ")
        # The failing plans are ticks whose hover text names them.
        ticks = [t.find_all("title")[0].text_content() for t in fig.find_all("g", "dvh-rug")]
        failing = [
            e["plan"]["patient_id"]
            for e in summary.doc["plans"]
            for r in e["results"]
            if r["status"] == "fail"
            and (r["structure"], r["metric"]) == key[1:3]
            and e["constraint_set"]["name"] == key[0]
        ]
        assert sorted(t.split(" / ")[0] for t in ticks) == sorted(failing)
    assert seen == set(expected)


def test_worst_plans_and_errors(summary: Summary) -> None:
    plans = {e["plan"]["patient_id"]: e for e in summary.doc["plans"]}
    card = next(
        c
        for c in summary.tree.root.find_all("section", "constraint-card")
        if c.attrs["data-metric"] == "V45Gy[cc]"
    )
    rows = card.find_all("table", "worst")[0].find_all("tr")[1:]
    ids = [r.attrs["data-patient-id"] for r in rows]
    assert ids[0] == "B2"  # the failing plan first
    assert sorted(ids[1:]) == ["A1", "F6"]
    b2 = next(r for r in plans["B2"]["results"] if r["metric"] == "V45Gy[cc]")
    assert json.loads(rows[0].attrs["data-margin"]) == pytest.approx(b2["margin"])
    assert "FAIL" in rows[0].text_content()
    margins = [json.loads(r.attrs["data-margin"]) for r in rows]
    assert margins == sorted(margins)
    assert len(rows) == 3  # the long-course plans that were evaluated

    errors = by_id(summary.tree, "error-table").find_all("tr", "error")
    assert [r.attrs["data-patient-id"] for r in errors] == ["C3"]
    assert plans["C3"]["error"] in errors[0].text_content()
    assert "truncated" in errors[0].text_content()


def test_filters_apply(summary: Summary) -> None:
    from dosecheck.batch.archive_data import load_archive_data
    from dosecheck.report.archive import render_archive_report

    failed = parse_html(render_archive_report(load_archive_data(summary.db, failed_only=True)))
    totals = by_id(failed, "totals").attrs
    assert (totals["data-plans"], totals["data-pass"], totals["data-fail"]) == ("3", "0", "2")
    assert (
        "only plans that fail, are incomplete or have errors"
        in by_id(failed, "archive").text_content()
    )
    rows = rates_from_html(failed)
    assert sum(int(r["attrs"]["data-n-evaluated"]) for r in rows.values()) == 8  # B2 + E5

    future = parse_html(render_archive_report(load_archive_data(summary.db, since="2999-01-01")))
    assert by_id(future, "totals").attrs["data-plans"] == "0"
    assert not future.root.find_all("figure", "histogram")
    assert "No constraint results" in by_id(future, "rates").text_content()


def test_the_page_is_rendered_from_archive_data_alone(summary: Summary, tmp_path: Path) -> None:
    """The SQL is in batch/archive_data.py: once loaded, the page needs no database, and
    the same data gives the same bytes as ``dosecheck results --report``."""
    import shutil
    from datetime import UTC, datetime

    from dosecheck.batch.archive_data import load_archive_data
    from dosecheck.report.archive import render_archive_report

    db = tmp_path / summary.db.name
    shutil.copy(summary.db, db)
    data = load_archive_data(db)
    db.unlink()
    assert [e["plan"]["patient_id"] for e in data.entries if e["status"] == "error"] == ["C3"]
    assert list(data.error_stages.values()) == [("evaluation", "DicomInputError")]
    when = datetime(2026, 1, 2, 3, 4, tzinfo=UTC)
    html = render_archive_report(data, generated=when)
    assert html == render_archive_report(data, generated=when)
    assert by_id(parse_html(html), "totals").attrs["data-plans"] == "6"
    assert "2026-01-02 03:04 UTC" in html


def test_bad_report_paths_fail_before_work(
    summary: Summary, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from dosecheck.batch.archive_data import load_archive_data
    from dosecheck.errors import InputError

    capsys.readouterr()
    assert _cli(["results", summary.db, "--report", tmp_path / "summary.txt"]) == 2
    assert ".html" in capsys.readouterr().err
    assert _cli(["results", summary.db, "--report", tmp_path / "nope" / "s.html"]) == 2
    assert "folder does not exist" in capsys.readouterr().err
    # The path is checked before the database is opened.
    assert _cli(["results", tmp_path / "missing.sqlite", "--report", tmp_path / "s.pdf"]) == 2
    assert ".html" in capsys.readouterr().err
    assert _cli(["results", tmp_path / "missing.sqlite", "--report", tmp_path / "s.html"]) == 2
    assert "no such results database" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(InputError):
        load_archive_data(summary.db, since="not a date")


def test_report_with_another_format(summary: Summary, tmp_path: Path) -> None:
    """--report with --format/--output still writes that output too."""
    out = tmp_path / "s.html"
    assert (
        _cli(["results", summary.db, "--report", out, "-f", "csv", "-o", tmp_path / "r.csv"]) == 0
    )
    assert out.is_file()
    assert (tmp_path / "r.csv").read_text().startswith("path,patient_id")


# --- many plans, varying limits, hostile text ---------------------------------------------------
def _synthetic_db(path: Path, n: int = 120) -> None:
    """Plans with spread values, written without DICOM: a V45Gy limit in cc and a D50%
    limit given in % of Rx (so in Gy it varies with each plan's prescription)."""
    from dosecheck.batch.database import ResultsDB

    rnd = random.Random(7)
    with ResultsDB(path) as db:
        run = db.start_run(archives=["/a"], constraints="x.yaml", executor="x", strict=False)
        for i in range(n):
            rx = (50.0, 50.4, 45.0)[i % 3]
            pid = f"P{i:03d}" if i != 3 else "<script>alert(1)</script>"
            plan = SimpleNamespace(
                location_key=f"k{i}",
                source="/a",
                path=f"/a/{pid}",
                patient_id=pid,
                patient_name="X",
                plan_label="L&B",
                plan_uid="1",
                structure_set_uid="2",
                grouping="references",
                notes=(),
                prescription_gy=rx,
                fractions=25,
            )
            v45 = rnd.gauss(200, 60) if i != 3 else 480.0  # the worst plan has the odd name
            d50 = rnd.gauss(1.0, 0.02) * rx
            results = [
                {
                    "structure": "Bowel</svg>",
                    "metric": "V45Gy[cc]",
                    "value": v45,
                    "unit": "cc",
                    "comparator": "<",
                    "limit": 300.0,
                    "limit_as_written": "300",
                    "margin": 300.0 - v45,
                    "status": "pass" if v45 < 300 else "fail",
                    "priority": "mandatory",
                    "message": "",
                },
                {
                    "structure": "PTV",
                    "metric": "D50%[Gy]",
                    "value": d50,
                    "unit": "Gy",
                    "comparator": "<=",
                    "limit": 1.02 * rx,
                    "limit_as_written": "102%",
                    "margin": 1.02 * rx - d50,
                    "status": "pass" if d50 <= 1.02 * rx else "fail",
                    "priority": "optimal",
                    "message": "",
                },
            ]
            if i == 5:
                results[1].update(value=None, margin=None, status="not_evaluated")
            status = "fail" if results[0]["status"] == "fail" else "pass"
            outcome = {
                "status": status,
                "results": results,
                "constraint_set": {"name": "Set 'A' & <B>", "path": "x.yaml", "sha256": "s"},
            }
            db.record(run, plan, [], f"c{i}", outcome)
        db.finish_run(run, "finished", {"plans": n})


def test_many_plans_and_varying_limits(tmp_path: Path) -> None:
    from dosecheck.batch.archive_data import load_archive_data
    from dosecheck.report.archive import render_archive_report

    db = tmp_path / "many.sqlite"
    _synthetic_db(db)
    html = render_archive_report(load_archive_data(db))
    tree = parse_html(html)  # well formed despite the hostile names
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; / L&amp;B: 480.00 cc" in html  # hover text
    worst = tree.root.find_all("table", "worst")[0].find_all("tr")[1]
    assert worst.attrs["data-patient-id"] == "<script>alert(1)</script>"
    assert '</svg>"' not in html
    rows = rates_from_html(tree)
    assert len(rows) == 2
    d50 = next(r for k, r in rows.items() if k[2] == "D50%[Gy]")
    assert d50["cells"]["limit"] == "≤ 102% of Rx"
    assert d50["attrs"]["data-n-not-evaluated"] == "1"
    assert int(d50["attrs"]["data-n-evaluated"]) == 119
    figures = tree.root.find_all("figure", "histogram")
    assert len(figures) == 2
    by_metric = {f.attrs["data-metric"]: f for f in figures}
    # One line per prescription's limit in Gy (45, 50 and 50.4 Gy × 1.02).
    lines = by_metric["D50%[Gy]"].find_all("g", "dvh-limit")
    assert sorted(json.loads(g.attrs["data-limit"]) for g in lines) == pytest.approx(
        [45.9, 51.0, 51.408]
    )
    # The bars of a histogram add up to the plans evaluated.
    for metric, fig in by_metric.items():
        bars = [
            int(t.find_all("title")[0].text_content().split()[0])
            for t in fig.find_all("g", "dvh-bin")
        ]
        assert sum(bars) == int(fig.attrs["data-n"]), metric


# --- in a browser (the ``chromium`` fixture is in tests/report/conftest.py) ----------------------
def test_loads_in_chromium_without_console_messages(
    chromium: str, summary: Summary, tmp_path: Path
) -> None:
    proc = run_chromium(chromium, tmp_path, "--dump-dom", summary.path.as_uri())
    assert proc.returncode == 0, proc.stderr.decode("utf-8", "replace")[-2000:]
    assert console_lines(proc.stderr) == []
    dom = proc.stdout.decode("utf-8", "replace")
    assert dom.count('class="histogram"') == 8


def test_chromium_screenshot_is_not_blank(chromium: str, summary: Summary, tmp_path: Path) -> None:
    import matplotlib.image as mpimg
    import numpy as np

    shot = tmp_path / "summary.png"
    proc = run_chromium(
        chromium,
        tmp_path,
        "--hide-scrollbars",
        f"--screenshot={shot}",
        "--window-size=1200,1600",
        summary.path.as_uri(),
    )
    assert proc.returncode == 0, proc.stderr.decode("utf-8", "replace")[-2000:]
    assert console_lines(proc.stderr) == []
    img = mpimg.imread(shot)[..., :3]
    assert img.shape[:2] == (1600, 1200)
    non_white = (img < 0.95).any(axis=-1).mean()
    assert non_white > 0.03, f"only {non_white:.2%} of the screenshot is not white"
    # The failing plans show in the fail colour (#cf222e): the total, the table, the bars.
    red = np.array([0xCF, 0x22, 0x2E]) / 255.0
    assert (np.abs(img - red) < 0.06).all(axis=-1).sum() > 500


def test_prints_to_pdf_on_a4(chromium: str, summary: Summary, tmp_path: Path) -> None:
    pdf = tmp_path / "summary.pdf"
    proc = run_chromium(
        chromium, tmp_path, f"--print-to-pdf={pdf}", "--no-pdf-header-footer", summary.path.as_uri()
    )
    assert proc.returncode == 0, proc.stderr.decode("utf-8", "replace")[-2000:]
    assert console_lines(proc.stderr) == []
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF-")
    boxes = re.findall(rb"/MediaBox\s*\[\s*0 0 ([0-9.]+) ([0-9.]+)\s*\]", data)
    assert boxes
    for width, height in boxes:
        assert float(width) == pytest.approx(595.28, abs=1.0)
        assert float(height) == pytest.approx(841.89, abs=1.0)
