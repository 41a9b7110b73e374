"""Planning-system templates: the same protocol in every format gives the same
constraints and the same verdicts on box plans with closed-form values."""

from __future__ import annotations

from pathlib import Path

import pytest

from dosecheck.checking.check import check_plan
from dosecheck.checking.loader import load_constraint_set
from dosecheck.checking.templates import load_constraint_file, read_constraint_file
from dosecheck.checking.templates.diff import diff_sets
from tests.helpers.plans import (
    LONG_BOWEL_FAIL,
    LONG_BOWEL_PASS,
    LONG_PTV_FAIL,
    LONG_PTV_PASS,
    memory_plan,
)
from tests.helpers.templates import write_all

SAME_CONSTRAINTS = ("varian-csv", "eclipse-protocol", "eclipse-goals")
ALL = (*SAME_CONSTRAINTS, "proknow-scorecard", "raystation-goals")


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return write_all(tmp_path_factory.mktemp("templates"))


@pytest.mark.parametrize("fmt", ALL)
def test_format_told_by_content(files: dict[str, Path], fmt: str, tmp_path: Path) -> None:
    imported = read_constraint_file(files[fmt])
    assert imported.format == fmt
    renamed = tmp_path / "template.txt"  # the extension says nothing
    renamed.write_bytes(files[fmt].read_bytes())
    assert read_constraint_file(renamed).format == fmt
    cset = imported.constraint_set
    assert cset.sha256 and cset.sha256 in cset.source and files[fmt].name in cset.source


@pytest.mark.parametrize("fmt", SAME_CONSTRAINTS)
def test_same_constraints_as_yaml(files: dict[str, Path], fmt: str) -> None:
    ref = load_constraint_set(files["yaml"])
    cset = load_constraint_file(files[fmt])
    assert diff_sets(ref, cset) == []
    got = {(s.name, str(c.metric), c.comparator, c.limit, c.priority) for s, c in cset.constraints}
    assert got == {
        ("Bag_Bowel", "V30Gy[cc]", "<", 600.0, "mandatory"),
        ("Bag_Bowel", "V45Gy[cc]", "<", 300.0, "mandatory"),
        ("PTV", "V95%[%]", ">=", 95.0, "mandatory"),
        ("PTV", "D2%[%]", "<=", 107.0, "optimal"),
    }


def test_prescription_read_where_the_format_has_one(files: dict[str, Path]) -> None:
    assert load_constraint_file(files["eclipse-goals"]).prescription_gy == 50.4
    proto = load_constraint_file(files["eclipse-protocol"])
    assert proto.fractions == 28 and proto.prescription_gy is None  # no primary Item
    assert load_constraint_file(files["varian-csv"]).prescription_gy is None


def _outcome(report) -> tuple[str, dict[str, set[str]]]:
    by: dict[str, set[str]] = {}
    for r in report.results:
        if r.priority == "mandatory":
            by.setdefault(r.structure, set()).add(str(r.status))
    return str(report.verdict), by


@pytest.mark.parametrize("fmt", ALL)
@pytest.mark.parametrize(
    ("bowel", "ptv", "verdict"),
    [
        (LONG_BOWEL_PASS, LONG_PTV_PASS, "pass"),  # V45 = 51 cc, V95% = 95.5 %
        (LONG_BOWEL_FAIL, LONG_PTV_PASS, "fail"),  # V45 = 340 cc >= 300
        (LONG_BOWEL_PASS, LONG_PTV_FAIL, "fail"),  # V95% = 82.4 % < 95
    ],
)
def test_same_verdicts_as_yaml(files, fmt, bowel, ptv, verdict) -> None:
    # Eclipse, ProKnow and RayStation name structures by ID only (no aliases): the ROI
    # is named as the template names it.
    plan = memory_plan(bowel, ptv, prescription_gy=50.4, fractions=28, bowel_name="Bag_Bowel")
    ref = check_plan(plan, load_constraint_set(files["yaml"]))
    got = check_plan(plan, load_constraint_file(files[fmt]))
    assert str(ref.verdict) == verdict
    assert _outcome(got) == _outcome(ref)
    assert got.exit_code == ref.exit_code


def test_same_values_for_the_same_metric(files: dict[str, Path]) -> None:
    plan = memory_plan(LONG_BOWEL_FAIL, LONG_PTV_PASS, prescription_gy=50.4, fractions=28)
    ref = {(r.structure, r.metric): r for r in check_plan(plan, files["yaml"]).results}
    csv = {(r.structure, r.metric): r for r in check_plan(plan, files["varian-csv"]).results}
    # The CSV wrote V4500cGy[cc]: evaluated as V45Gy[cc], 340 cc on this plan.
    v45 = next(r for k, r in csv.items() if k[0] == "Bag_Bowel" and "45" in k[1])
    assert v45.value == pytest.approx(340.0, abs=0.25)
    assert v45.value == pytest.approx(ref["Bag_Bowel", "V45Gy[cc]"].value, abs=1e-9)
    assert v45.status == "fail"


def test_not_imported_is_listed(files: dict[str, Path]) -> None:
    csv = read_constraint_file(files["varian-csv"])
    listed = [n.describe() for n in csv.not_imported]
    assert any("line 6" in s and "CI95%[%]" in s and "does not guess" in s for s in listed)
    # Variation limits are imported onto their constraints now (issue #10, section 2).
    assert not any("variation" in s for s in listed)
    assert [(v.structure, v.variation) for v in csv.variations] == [
        ("Bag_Bowel", "<320"),
        ("PTV", ">=93"),
    ]
    assert [c.variation for _, c in csv.constraint_set.constraints] == [None, 320, 93, None]
    proto = read_constraint_file(files["eclipse-protocol"])
    assert any("Type 0" in n.item and "conformity" in n.reason for n in proto.not_imported)
    assert [v.variation for v in proto.variations] == ["320", "93"]
    pk = read_constraint_file(files["proknow-scorecard"])
    reasons = {n.item: n.reason for n in pk.not_imported}
    assert "CONFORMALITY_INDEX" in reasons and "Max[Gy]" in reasons
    assert [v.variation for v in pk.variations] == ["<=250 goal"]
    rs = read_constraint_file(files["raystation-goals"])
    assert [n.item for n in rs.not_imported] == ["HomogeneityIndex"]
