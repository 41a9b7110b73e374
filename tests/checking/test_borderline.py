"""Borderline verdicts: each constraint's value across end-cap conventions (and the TPS).

The box plans of :mod:`tests.helpers.plans` have closed-form values in each convention:
the bowel bag is 17 planes 5 mm apart, so 85 mm thick with half-slice end caps and 80 mm
with none (a prism: ``shape`` keeps the half-slice caps). With LONG_BOWEL_PASS,
V30Gy = 306 cc (half-slice) and 306 × 80/85 = 288 cc (none).
"""

from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from dosecheck.checking.check import check_plan
from dosecheck.output import check_formats as cf
from tests.helpers.plans import LONG_BOWEL_PASS, LONG_PTV_PASS, memory_plan

HALF, NONE = 306.0, 288.0
TOL = 0.1  # cc: the engine's in-plane sampling


def _set(tmp_path: Path, limit: float, comparator: str = "<") -> Path:
    path = tmp_path / "set.yaml"
    path.write_text(
        "name: borderline test\n"
        "prescription: {dose_gy: 50.4, fractions: 28}\n"
        "structures:\n"
        "  - name: Bag_Bowel\n"
        "    aliases: [BowelBag]\n"
        "    constraints:\n"
        f"      - V30Gy[cc] {comparator} {limit}\n",
        encoding="utf-8",
    )
    return path


def _check(tmp_path: Path, limit: float, comparator: str = "<", **kw):
    plan = memory_plan(LONG_BOWEL_PASS, LONG_PTV_PASS)
    return check_plan(plan, _set(tmp_path, limit, comparator), **kw)


def test_range_is_the_closed_form_of_each_convention(tmp_path: Path) -> None:
    report = _check(tmp_path, 600)
    v = report.ranges[0]
    assert v.values["half-slice"] == pytest.approx(HALF, abs=TOL)
    assert v.values["none"] == pytest.approx(NONE, abs=TOL)
    assert (v.low, v.high) == (pytest.approx(NONE, abs=TOL), pytest.approx(HALF, abs=TOL))
    assert not v.borderline and v.reason == ""
    assert "shape" not in v.values  # 600 cc is far from both: no shape pass


def test_limit_inside_the_range_is_borderline_status_unchanged(tmp_path: Path) -> None:
    report = _check(tmp_path, 300, shape_range=True)
    r, v = report.results[0], report.ranges[0]
    assert r.status == "fail"  # 306 cc ≥ 300 cc, as without ranges
    assert v.borderline
    # With --shape-range, near the limit shape is computed too: a prism keeps its caps.
    assert v.values["shape"] == pytest.approx(HALF, abs=TOL)
    assert "V30Gy[cc] = 306.1 cc, limit < 300 cc" in v.reason
    assert "288.1–306.1 cc across end-cap conventions" in v.reason
    assert "how the structure's ends are modelled" in v.reason
    assert report.verdict == "fail" and report.exit_code == 1
    assert any(w.startswith("borderline: V30Gy[cc]") for w in report.warnings)


@pytest.mark.parametrize(("limit", "borderline"), [(287.0, False), (289.0, True), (307.0, False)])
def test_borderline_only_when_the_limit_is_inside(
    tmp_path: Path, limit: float, borderline: bool
) -> None:
    assert _check(tmp_path, limit).ranges[0].borderline is borderline


def test_the_check_in_none_is_ranged_against_half_slice(tmp_path: Path) -> None:
    report = _check(tmp_path, 300, end_caps="none")
    r, v = report.results[0], report.ranges[0]
    assert r.value == pytest.approx(NONE, abs=TOL) and r.status == "pass"
    assert v.values["half-slice"] == pytest.approx(HALF, abs=TOL)
    assert v.borderline


def test_every_format_shows_it(tmp_path: Path) -> None:
    report = _check(tmp_path, 300, shape_range=True)
    rec = json.loads(cf.check_json(report))["results"][0]
    assert rec["borderline"] is True
    assert rec["value_range"] == [pytest.approx(NONE, abs=TOL), pytest.approx(HALF, abs=TOL)]
    assert set(rec["values_by_source"]) == {"half-slice", "none", "shape"}
    row = next(csv.DictReader(io.StringIO(cf.check_csv(report))))
    assert row["borderline"] == "true"
    assert float(row["value_low"]) == pytest.approx(NONE, abs=TOL)
    case = ET.fromstring(cf.check_junit(report)).find(".//testcase")
    assert case is not None
    props = {p.get("name"): p.get("value") for p in case.iter("property")}
    assert props["borderline"] == "true" and "288" in props["borderline_reason"]
    assert "≈ borderline" in cf.check_markdown(report)
    text = cf.check_table_text(report, width=200)
    assert "FAIL ≈" in text and "≈ borderline: V30Gy[cc] = 306.1 cc" in text


def test_not_borderline_is_said_false_everywhere(tmp_path: Path) -> None:
    report = _check(tmp_path, 600)
    rec = json.loads(cf.check_json(report))["results"][0]
    assert rec["borderline"] is False and rec["borderline_reason"] == ""
    row = next(csv.DictReader(io.StringIO(cf.check_csv(report))))
    assert row["borderline"] == "false"


def test_without_scipy_the_range_says_shape_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dosecheck.checking.borderline as borderline

    monkeypatch.setattr(borderline, "_shape_available", lambda: False)
    report = _check(tmp_path, 300, shape_range=True)
    v = report.ranges[0]
    assert set(v.values) == {"half-slice", "none"} and v.borderline
    assert "SciPy is not installed" in v.note
    assert any("SciPy is not installed" in w for w in report.warnings)


def test_shape_only_with_shape_range(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Near the limit but without --shape-range: no shape pass (its cost is not paid).
    import dosecheck.core.engine as engine

    calls: list[str] = []
    real = engine.compute_dvh

    def spy(structure, *args, **kwargs):
        calls.append(str(kwargs["settings"].end_caps))
        return real(structure, *args, **kwargs)

    monkeypatch.setattr(engine, "compute_dvh", spy)
    v = _check(tmp_path, 300).ranges[0]
    assert v.borderline and set(v.values) == {"half-slice", "none"}
    assert calls == []
    v = _check(tmp_path, 300, shape_range=True).ranges[0]
    assert "shape" in v.values and calls == ["shape"]
