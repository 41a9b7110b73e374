"""Variation limits of the planning-system templates: imported as
:attr:`Constraint.variation`, written by ``constraints import`` as the YAML field,
compared by ``constraints diff``, and giving the same verdicts as the YAML."""

from __future__ import annotations

from pathlib import Path

import pytest

from dosecheck.checking.check import check_plan
from dosecheck.checking.loader import load_constraint_set_text
from dosecheck.checking.templates import read_constraint_file
from dosecheck.checking.templates.diff import diff_sets
from dosecheck.checking.templates.export import to_yaml
from dosecheck.errors import ConstraintFileError
from tests.helpers.plans import LONG_BOWEL_PASS, LONG_PTV_PASS, memory_plan
from tests.helpers.templates import CSV_HEADER, eclipse_protocol, measure
from tests.helpers.variation import VARIATION_AND_FAIL_SET

# The three Bag_Bowel V45Gy[cc] constraints of VARIATION_AND_FAIL_SET, per format.
CSV = (
    CSV_HEADER
    + "\n"
    + "Bag_Bowel,,BowelBag|Bowel bag,,V4500cGy[cc],<50,<55,1,,\n"
    + "Bag_Bowel,,,,V4500cGy[cc],<60,,1,,\n"
    + "Bag_Bowel,,,,V4500cGy[cc],<40,45,1,,\n"  # a bare number takes the point's comparator
)
_MEASURES = (
    measure("Bag_Bowel", 3, 1, "50", "45", True, variation="55")
    + measure("Bag_Bowel", 3, 1, "60", "45", True)
    + measure("Bag_Bowel", 3, 1, "40", "45", True, variation="45")
)
_GOALS = (
    '<?xml version="1.0" encoding="utf-8"?>\n'
    '<DoseObjectives xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" ID="g" '
    'PrescribedDose="50.4" FractionCount="28">'
    + "".join(
        measure("Bag_Bowel", 3, 1, v, "45", True, variation=var, tag="DoseObjective", id_as="child")
        for v, var in (("50000", "55000"), ("60000", None), ("40000", "45000"))
    )
    + "</DoseObjectives>\n"
)
FILES = {
    "varian-csv": ("v.csv", CSV),
    "eclipse-protocol": ("p.xml", eclipse_protocol(measures=_MEASURES)),
    "eclipse-goals": ("g.xml", _GOALS),
}


def _write(tmp_path: Path, fmt: str) -> Path:
    name, text = FILES[fmt]
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


@pytest.mark.parametrize("fmt", FILES)
def test_imported_round_tripped_and_same_verdicts(tmp_path: Path, fmt: str) -> None:
    imported = read_constraint_file(_write(tmp_path, fmt))
    assert imported.format == fmt
    cset = imported.constraint_set
    got = [(c.limit, c.variation) for _, c in cset.constraints]
    assert got == [(50.0, 55.0), (60.0, None), (40.0, 45.0)]
    assert not any("variation" in n.describe().lower() for n in imported.not_imported)
    # constraints import writes the YAML field; reloading gives the same constraints
    text = to_yaml(imported, prescription_gy=50.4, fractions=28)
    assert "(variation 55)" in text or "variation: 55" in text
    again = load_constraint_set_text(text)
    assert [(c.limit, c.variation) for _, c in again.constraints] == got
    assert diff_sets(cset, again) == []
    reference = load_constraint_set_text(VARIATION_AND_FAIL_SET)
    assert diff_sets(reference, cset) == []
    # the same verdicts as the YAML on the box plan (V45Gy = 51 cc)
    plan = memory_plan(LONG_BOWEL_PASS, LONG_PTV_PASS, bowel_name="Bag_Bowel")
    ref = check_plan(plan, reference)
    rep = check_plan(plan, cset)
    assert [r.status for r in rep.results] == ["variation", "pass", "fail"]
    assert [r.status for r in rep.results] == [r.status for r in ref.results]
    assert rep.verdict == ref.verdict == "fail"


def test_diff_reports_a_drifted_variation(tmp_path: Path) -> None:
    a = read_constraint_file(_write(tmp_path, "varian-csv")).constraint_set
    drifted = tmp_path / "d.csv"
    drifted.write_text(CSV.replace("<50,<55", "<50,<57"), encoding="utf-8")
    b = read_constraint_file(drifted).constraint_set
    rows = diff_sets(a, b)
    assert [(r.kind, r.a, r.b) for r in rows] == [
        ("variation", "V45Gy[cc] < 50 (variation 55)", "V45Gy[cc] < 50 (variation 57)")
    ]


@pytest.mark.parametrize(
    ("cell", "message"),
    [
        ("<45", r"bad.csv:2: .*not looser than the goal"),
        (">55", r"bad.csv:2: Variation '>55' .*same direction"),
        ("<55Gy", r"bad.csv:2: Variation '<55Gy' is in Gy"),
        ("abc", r"bad.csv:2: Variation 'abc'"),
    ],
)
def test_csv_variation_errors(tmp_path: Path, cell: str, message: str) -> None:
    p = tmp_path / "bad.csv"
    p.write_text(CSV.replace("<50,<55", f"<50,{cell}"), encoding="utf-8")
    with pytest.raises(ConstraintFileError, match=message):
        read_constraint_file(p)


def test_eclipse_variation_not_looser(tmp_path: Path) -> None:
    p = tmp_path / "bad.xml"
    p.write_text(eclipse_protocol(measures=_MEASURES.replace(">55<", ">45<")), encoding="utf-8")
    with pytest.raises(ConstraintFileError, match=r"MeasureItem.*not looser than the goal"):
        read_constraint_file(p)
