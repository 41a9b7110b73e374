"""The HTML plan report and the DVH plots.

The plans are the box phantoms of :mod:`tests.helpers.plans` (bowel bag 680 cc,
PTV 68 cc, dose linear in x), written as DICOM to a temporary folder and checked
through the command line, so the HTML is compared with the JSON a user would get.
"""

from __future__ import annotations

import json
import re
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from dosecheck.errors import InputError
from tests.helpers.html import Element, TreeBuilder, assert_self_contained, by_id, parse_html
from tests.helpers.paths import REPO
from tests.helpers.plans import (
    LONG_BOWEL_FAIL,
    LONG_BOWEL_PASS,
    LONG_PTV_PASS,
    memory_plan,
    write_plan,
)

pytest.importorskip("matplotlib")

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


# --- helpers ---------------------------------------------------------------------------------
def run_cli(args: list[str], monkeypatch: pytest.MonkeyPatch) -> int:
    """Run ``dosecheck ARGS`` in this process through the console-script entry point."""
    from dosecheck.cli import main

    return main(args)


# --- fixtures ----------------------------------------------------------------------------------
@dataclass
class Checked:
    folder: Path
    html: str
    json: dict[str, Any]
    tree: TreeBuilder
    report_code: int
    check_code: int


def _check_and_report(
    folder: Path, out: Path, monkeypatch: pytest.MonkeyPatch, extra: list[str]
) -> Checked:
    json_path = out / "check.json"
    html_path = out / "report.html"
    check_code = run_cli(
        ["check", str(folder), *extra, "--format", "json", "--output", str(json_path)],
        monkeypatch,
    )
    report_code = run_cli(["report", str(folder), *extra, "--output", str(html_path)], monkeypatch)
    html = html_path.read_text(encoding="utf-8")
    return Checked(
        folder=folder,
        html=html,
        json=json.loads(json_path.read_text(encoding="utf-8")),
        tree=parse_html(html),
        report_code=report_code,
        check_code=check_code,
    )


@pytest.fixture(scope="module")
def failing(tmp_path_factory: pytest.TempPathFactory) -> Checked:
    """Long course: Bag_Bowel V45Gy = 340 cc fails (< 300), the rest passes."""
    base = tmp_path_factory.mktemp("report_fail")
    folder = write_plan(base / "plan", LONG_BOWEL_FAIL, LONG_PTV_PASS)
    with pytest.MonkeyPatch.context() as mp:
        return _check_and_report(folder, base, mp, ["--constraints", "rectum-long-course"])


@pytest.fixture(scope="module")
def partial(tmp_path_factory: pytest.TempPathFactory) -> Checked:
    """The bowel bag has a name no alias matches: its constraints are not evaluated."""
    base = tmp_path_factory.mktemp("report_partial")
    folder = write_plan(base / "plan", LONG_BOWEL_PASS, LONG_PTV_PASS, bowel_name="Intestines")
    with pytest.MonkeyPatch.context() as mp:
        return _check_and_report(folder, base, mp, ["--constraints", "rectum-long-course"])


# --- the report command ------------------------------------------------------------------------
def test_exit_codes_like_check(failing: Checked, partial: Checked) -> None:
    assert failing.check_code == failing.report_code == 1
    assert partial.check_code == partial.report_code == 1  # incomplete


def test_incomplete_verdict_box(partial: Checked) -> None:
    verdict = by_id(partial.tree, "verdict")
    assert verdict.attrs["data-verdict"] == partial.json["verdict"] == "incomplete"
    assert "verdict-incomplete" in verdict.attrs["class"]
    assert "INCOMPLETE" in verdict.text_content()
    assert "Bag_Bowel: structure not found" in verdict.text_content()
    assert "#verdict.verdict-incomplete { background: #f2c744" in partial.html


def test_report_exit_2_for_bad_input(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = write_plan(tmp_path / "plan", LONG_BOWEL_PASS, LONG_PTV_PASS)
    assert run_cli(["report", str(folder)], monkeypatch) == 2  # no --output
    assert run_cli(["report", str(folder), "-o", str(tmp_path / "r.pdf")], monkeypatch) == 2
    missing = tmp_path / "nowhere" / "r.html"
    assert run_cli(["report", str(folder), "-o", str(missing)], monkeypatch) == 2
    assert run_cli(["report", str(tmp_path / "no-plan"), "-o", "r.html"], monkeypatch) == 2
    assert not list(tmp_path.glob("*.html"))


def test_pass_report_and_write_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = write_plan(tmp_path / "plan", LONG_BOWEL_PASS, LONG_PTV_PASS)
    out = tmp_path / "ok.html"
    assert run_cli(["report", str(folder), "-o", str(out)], monkeypatch) == 0
    verdict = by_id(parse_html(out.read_text(encoding="utf-8")), "verdict")
    assert verdict.attrs["data-verdict"] == "pass"
    assert "verdict-pass" in verdict.attrs["class"]

    # The function `dosecheck check --report FILE` calls.
    from dosecheck.api import load_plan
    from dosecheck.checking.check import check_plan
    from dosecheck.report import write_report

    report = check_plan(load_plan(folder), "rectum-long-course")
    path = tmp_path / "api.html"
    write_report(report, path)
    assert by_id(parse_html(path.read_text(encoding="utf-8")), "verdict").attrs["data-verdict"] == (
        "pass"
    )


# --- self-contained --------------------------------------------------------------------------
def test_no_external_resources(failing: Checked) -> None:
    assert_self_contained(failing.html, failing.tree)


def test_ids_are_unique(failing: Checked) -> None:
    ids = [e.attrs["id"] for e in failing.tree.root.iter() if "id" in e.attrs]
    dupes = {i for i in ids if ids.count(i) > 1}
    assert not dupes
    # Every in-page reference points at an existing id.
    refs = re.findall(r'(?:url\(#|href="#)([^)"]+)', failing.html)
    assert refs
    assert set(refs) <= set(ids)


def test_print_stylesheet(failing: Checked) -> None:
    css = "".join(failing.tree.raw_styles)
    assert re.search(r"@page\s*\{[^}]*size:\s*A4", css)
    media = css[css.index("@media print") :]
    assert "break-inside: avoid" in media
    assert "figure" in media
    assert "table-header-group" in media


# --- content ---------------------------------------------------------------------------------
def test_verdict_and_summary(failing: Checked) -> None:
    verdict = by_id(failing.tree, "verdict")
    assert verdict.attrs["data-verdict"] == failing.json["verdict"] == "fail"
    assert "FAIL" in verdict.text_content()
    summary = by_id(failing.tree, "summary")
    assert summary.attrs["title"] == failing.json["summary"]
    title = failing.tree.root.find_all("title")[0].text_content()
    assert "FAIL" in title
    assert "CHECK01" in title


def test_plan_identity(failing: Checked) -> None:
    plan = failing.json["plan"]
    fields = {
        e.attrs["data-field"]: e.text_content()
        for e in by_id(failing.tree, "plan-identity").iter()
        if "data-field" in e.attrs
    }
    assert fields["patient_id"] == plan["patient_id"] == "CHECK01"
    assert fields["plan_label"] == plan["plan_label"] == "BOXPLAN"
    assert fields["prescription_source"] == failing.json["prescription"]["source"] == "RTPLAN"
    assert "50.4 Gy in 28 fractions" in fields["prescription"]
    assert plan["rtstruct"] in fields["rtstruct"]
    assert plan["sha256"]["rtstruct"] in fields["rtstruct"]
    assert plan["rtdose"][0] in fields["rtdose"]
    assert plan["sha256"]["rtdose"][0] in fields["rtdose"]
    assert plan["rtplan"] in fields["rtplan"]
    assert fields["structure_set_uid"] == plan["structure_set_uid"]
    assert fields["plan_uid"] == plan["plan_uid"]
    assert fields["dose_uids"] == "".join(plan["dose_uids"])
    cset = failing.json["constraint_set"]
    assert cset["name"] in fields["constraint_set"]
    assert cset["sha256"] in fields["constraint_set_file"]


def _cells(tree: TreeBuilder, cls: str) -> list[Element]:
    return by_id(tree, "constraint-table").find_all("td", cls)


@pytest.mark.parametrize("which", ["failing", "partial"])
def test_table_numbers_equal_json(which: str, request: pytest.FixtureRequest) -> None:
    """Every value, limit and margin: data-value is the JSON number exactly, and the
    text shown is that number rounded (to the two decimals of the text table)."""
    assert_numbers_equal_json(request.getfixturevalue(which))


SAMPLE = REPO / "sample_plans" / "long_course_bowel_fail"


@pytest.mark.skipif(not SAMPLE.is_dir(), reason="sample_plans/ not generated")
def test_sample_plan_numbers_equal_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    checked = _check_and_report(SAMPLE, tmp_path, monkeypatch, [])
    assert checked.check_code == checked.report_code == 1
    assert by_id(checked.tree, "verdict").attrs["data-verdict"] == checked.json["verdict"]
    assert_numbers_equal_json(checked)
    plots = checked.tree.root.find_all("figure", "dvh-plot")
    assert [p.attrs["data-structure"] for p in plots] == _checked_structures(checked)


def assert_numbers_equal_json(checked: Checked) -> None:
    from dosecheck.output.check_formats import format_value

    results = checked.json["results"]
    rows = by_id(checked.tree, "constraint-table").find_all("tr", "result")
    assert len(rows) == len(results)
    embedded = json.loads(by_id(checked.tree, "report-json").text_content())
    for key in ("value", "limit", "margin"):
        cells = _cells(checked.tree, key)
        assert len(cells) == len(results)
        for cell, rec, emb in zip(cells, results, embedded["results"], strict=True):
            assert cell.attrs["data-structure"] == rec["structure"]
            assert cell.attrs["data-metric"] == rec["metric"]
            number = json.loads(cell.attrs["data-value"])
            assert number == rec[key] == emb[key]
            shown = cell.text_content()
            if number is None:
                assert "—" in shown
                continue
            if key == "limit":
                # As written (< 600 cc) or converted from % of Rx, never rounded away.
                assert f"{rec['limit_as_written']}" in shown
                continue
            assert shown == format_value(number, rec["unit"], signed=key == "margin")
            digits = re.search(r"[-+]?\d+\.\d+", shown)
            assert digits is not None
            assert float(digits.group()) == round(number, 2)
    for row, rec in zip(rows, results, strict=True):
        assert row.attrs["data-status"] == rec["status"]
        assert rec["message"] in row.text_content()


def test_status_colouring(failing: Checked, partial: Checked) -> None:
    statuses = {
        r.attrs["data-metric"]: r.attrs["class"].split()
        for r in by_id(failing.tree, "constraint-table").find_all("tr", "result")
    }
    assert "status-fail" in statuses["V45Gy[cc]"]
    assert "status-pass" in statuses["V30Gy[cc]"]
    rows = by_id(partial.tree, "constraint-table").find_all("tr", "result")
    bowel = [r for r in rows if r.attrs["data-structure"] == "Bag_Bowel"]
    assert bowel
    assert all("status-not-evaluated" in r.attrs["class"] for r in bowel)
    assert all("NOT EVALUATED" in r.text_content() for r in bowel)


def test_warnings_listed(partial: Checked, tmp_path: Path) -> None:
    items = [e.text_content() for e in by_id(partial.tree, "warnings").find_all("li")]
    assert items == partial.json["warnings"]
    # A prescription given on the command line that differs from the set's warns.
    from dosecheck.checking.check import check_plan
    from dosecheck.report import render_report

    plan = memory_plan(LONG_BOWEL_PASS, LONG_PTV_PASS)
    report = check_plan(plan, "rectum-long-course", prescription_gy=45.0)
    assert report.warnings
    tree = parse_html(render_report(report))
    items = [e.text_content() for e in by_id(tree, "warnings").find_all("li")]
    assert items == list(report.warnings)


def _checked_structures(checked: Checked) -> list[str]:
    out: list[str] = []
    for r in checked.json["results"]:
        if r["roi"] is not None and r["structure"] not in out:
            out.append(r["structure"])
    return out


@pytest.mark.parametrize("which", ["failing", "partial"])
def test_one_plot_per_checked_structure(which: str, request: pytest.FixtureRequest) -> None:
    checked: Checked = request.getfixturevalue(which)
    structures = _checked_structures(checked)
    plots = checked.tree.root.find_all("figure", "dvh-plot")
    assert [p.attrs["data-structure"] for p in plots] == structures
    for plot in plots:
        name = plot.attrs["data-structure"]
        n_constraints = sum(r["structure"] == name for r in checked.json["results"])
        svgs = plot.find_all("svg")
        assert len(svgs) == 1
        curves = plot.find_all("g", "dvh-curve")
        assert len(curves) == 1
        assert curves[0].attrs["data-structure"] == name
        assert name in curves[0].find_all("title")[0].text_content()
        limits = plot.find_all("g", "dvh-limit")
        assert len(limits) == int(plot.attrs["data-constraints"]) == n_constraints
        for g in limits:
            rec = checked.json["results"][int(g.attrs["data-index"])]
            assert rec["structure"] == name
            title = g.find_all("title")[0].text_content()
            assert rec["metric"] in title
            want = {"pass": "pass", "not_evaluated": "not_evaluated"}.get(rec["status"])
            if want is None:
                want = "fail" if rec["priority"] == "mandatory" else "not_met"
            assert g.attrs["data-status"] == want
    if which == "partial":
        notes = checked.tree.root.find_all("p", "not-plotted")
        assert [n.attrs["data-structure"] for n in notes] == ["Bag_Bowel"]


def test_failed_marker_is_red(failing: Checked) -> None:
    from dosecheck.report.plots import STATUS_COLORS

    plot = next(
        p
        for p in failing.tree.root.find_all("figure", "dvh-plot")
        if p.attrs["data-structure"] == "Bag_Bowel"
    )
    failed = [g for g in plot.find_all("g", "dvh-limit") if g.attrs["data-status"] == "fail"]
    assert len(failed) == 1
    styles = " ".join(e.attrs.get("style", "") for e in failed[0].iter())
    assert STATUS_COLORS["fail"] in styles


# --- markers ---------------------------------------------------------------------------------
MARKER_SET = """
name: marker geometry
prescription: {dose_gy: 50.4, fractions: 28}
structures:
  - name: Bag_Bowel
    aliases: [BowelBag]
    constraints:
      - V45Gy[cc] < 300
      - V4500cGy[%] < 60
      - CV20Gy[cc] > 100
      - D50%[Gy] < 40
      - DC100cc[Gy] >= 12
      - Max[Gy] <= 107%
      - Min[Gy] > 5
      - Mean[Gy] < 45
      - Volume[cc] > 500
  - name: PTV
    constraints:
      - V95%[%] >= 95
      - D2%[%] <= 107
"""


def test_marker_geometry() -> None:
    from dosecheck.checking import load_constraint_set_text
    from dosecheck.checking.check import check_plan
    from dosecheck.report.plots import report_curves

    plan = memory_plan(LONG_BOWEL_FAIL, LONG_PTV_PASS)
    report = check_plan(plan, load_constraint_set_text(MARKER_SET))
    curves = {c.key: (c, unit) for c, _, unit in report_curves(report)}
    bowel, bowel_unit = curves["Bag_Bowel"]
    ptv, ptv_unit = curves["PTV"]
    assert bowel_unit == "cc"
    assert ptv_unit == "%"
    vol = bowel.dvh.volume_cc
    m = {report.metric_as_written(mk.index): mk for mk in bowel.markers if mk.index is not None}
    approx = pytest.approx

    assert (m["V45Gy[cc]"].dose_gy, m["V45Gy[cc]"].volume_cc) == (45.0, 300.0)
    assert m["V45Gy[cc]"].upper and m["V45Gy[cc]"].status == "fail"
    assert m["V45Gy[cc]"].achieved_volume_cc == approx(340.0, abs=0.1)
    assert m["V4500cGy[%]"].dose_gy == approx(45.0)
    assert m["V4500cGy[%]"].volume_cc == approx(0.6 * vol)
    # CV20Gy > 100 cc  ⇔  V20Gy < volume − 100: the curve passes below (vol − 100).
    assert m["CV20Gy[cc]"].volume_cc == approx(vol - 100.0)
    assert m["CV20Gy[cc]"].upper
    assert (m["D50%[Gy]"].dose_gy, m["D50%[Gy]"].volume_cc) == (40.0, approx(vol / 2))
    assert m["D50%[Gy]"].upper
    # DC100cc ≥ 12 Gy: D at (volume − 100 cc) at least 12 Gy, curve passes above.
    assert m["DC100cc[Gy]"].volume_cc == approx(vol - 100.0)
    assert not m["DC100cc[Gy]"].upper
    assert m["Max[Gy]"].dose_gy == approx(1.07 * 50.4)
    assert m["Max[Gy]"].volume_cc == 0.0
    assert m["Min[Gy]"].volume_cc == approx(vol)
    assert not m["Min[Gy]"].upper
    assert m["Mean[Gy]"].kind == "dose_line"
    assert m["Mean[Gy]"].dose_gy == 45.0
    assert m["Volume[cc]"].kind == "volume_line"
    assert m["Volume[cc]"].volume_cc == 500.0
    for mk in bowel.markers:
        assert mk.status in ("pass", "fail")

    p = {report.metric_as_written(mk.index): mk for mk in ptv.markers if mk.index is not None}
    assert p["V95%[%]"].dose_gy == approx(0.95 * 50.4)
    assert p["V95%[%]"].volume_cc == approx(0.95 * ptv.dvh.volume_cc)
    assert not p["V95%[%]"].upper
    assert p["D2%[%]"].dose_gy == approx(1.07 * 50.4)
    assert p["D2%[%]"].status == "pass"

    # Every kind renders, with one titled limit group per marker.
    from dosecheck.report.plots import render_svg

    svg = render_svg([bowel], volume_unit="cc", prescription_gy=50.4, inline=True, id_prefix="x")
    assert svg.count('class="dvh-limit"') == len(bowel.markers) == 9


def test_markers_need_prescription_for_percent_limits() -> None:
    """Without any prescription a limit in % of Rx cannot be placed: no marker, no crash."""
    from dataclasses import replace

    from dosecheck.checking import load_constraint_set_text
    from dosecheck.checking.check import check_plan
    from dosecheck.report import render_report
    from dosecheck.report.plots import report_curves

    cset = replace(load_constraint_set_text(MARKER_SET), prescription_gy=None, fractions=None)
    plan = memory_plan(LONG_BOWEL_FAIL, LONG_PTV_PASS, rtplan=False)
    report = check_plan(plan, cset)
    assert report.prescription.dose_gy is None
    curves = {c.key: c for c, _, _ in report_curves(report)}
    placed = {report.metric_as_written(mk.index) for mk in curves["Bag_Bowel"].markers}  # type: ignore[arg-type]
    assert "Max[Gy]" not in placed
    assert "V45Gy[cc]" in placed
    assert not curves["PTV"].markers
    tree = parse_html(render_report(report))
    assert len(tree.root.find_all("figure", "dvh-plot")) == 2


# --- plot files ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def items(tmp_path_factory: pytest.TempPathFactory) -> list[Any]:
    from dosecheck.api import compute_dvhs

    return compute_dvhs(memory_plan(LONG_BOWEL_FAIL, LONG_PTV_PASS))


def test_plot_png(items: list[Any], tmp_path: Path) -> None:
    from dosecheck.report import plot_dvhs_to_file

    path = tmp_path / "dvh.png"
    plot_dvhs_to_file(items, path)
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC
    assert len(data) > 10_000
    import matplotlib.image as mpimg

    img = mpimg.imread(path)
    assert img.shape[0] > 400 and img.shape[1] > 700
    assert (img[..., :3] < 0.9).any(axis=-1).mean() > 0.01  # not blank


def test_plot_svg(items: list[Any], tmp_path: Path) -> None:
    from dosecheck.report import plot_dvhs_to_file

    path = tmp_path / "dvh.svg"
    plot_dvhs_to_file(items, path, volume_unit="cc", prescription_gy=50.4)
    root = ET.parse(path).getroot()
    ns = "{http://www.w3.org/2000/svg}"
    assert root.tag == f"{ns}svg"
    titles = [t.text or "" for t in root.iter(f"{ns}title")]
    for item in items:
        assert any(t.startswith(item.structure.name) for t in titles)
    curves = [g for g in root.iter(f"{ns}g") if g.get("class") == "dvh-curve"]
    assert len(curves) == len(items)
    assert not (tmp_path / ".dvh.svg").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["dvh.svg"]  # no temporary left


def test_plot_bad_path(items: list[Any], tmp_path: Path) -> None:
    from dosecheck.report import plot_dvhs_to_file, plot_format

    with pytest.raises(InputError, match=r"\.png or \.svg"):
        plot_dvhs_to_file(items, tmp_path / "dvh.pdf")
    with pytest.raises(InputError, match="folder does not exist"):
        plot_dvhs_to_file(items, tmp_path / "missing" / "dvh.png")
    assert plot_format("A.PNG") == "png"
    assert plot_format(Path("x/b.svg")) == "svg"


def test_inline_svg_has_no_prologue(items: list[Any]) -> None:
    from dosecheck.report.plots import DVHCurve, render_svg

    curves = [DVHCurve(label=i.structure.name, dvh=i.dvh) for i in items]
    svg = render_svg(curves, inline=True, id_prefix="q-")
    assert svg.startswith("<svg")
    assert "<?xml" not in svg and "DOCTYPE" not in svg and "<metadata" not in svg
    assert "http" not in svg
    ids = re.findall(r'\bid="([^"]+)"', svg)
    assert ids and all(i.startswith("q-") for i in ids)


def test_empty_dvh_plots(tmp_path: Path) -> None:
    """A structure with no volume in the dose grid is listed, not drawn."""
    from dosecheck.core.dvh import DVH
    from dosecheck.report.plots import DVHCurve, render_svg, save_plot

    curve = DVHCurve(label="Outside", dvh=DVH.empty("Outside"))
    svg = render_svg([curve])
    assert "no volume in dose grid" in svg
    save_plot([curve], tmp_path / "e.png")
    assert (tmp_path / "e.png").read_bytes()[:8] == PNG_MAGIC


def test_importing_report_does_not_import_matplotlib() -> None:
    import subprocess

    code = "import sys, dosecheck.report; print('matplotlib' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "False"
