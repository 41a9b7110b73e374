"""Plan-quality indices in the planning systems' templates: the Varian CSV's CN and GI
rows are imported (and give the closed-form values of :mod:`tests.helpers.plan_quality`),
ProKnow's CONFORMATION_NUMBER too; the indices whose definition a format leaves open
are listed as not imported, with the reason."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dosecheck.checking.check import check_plan
from dosecheck.checking.loader import load_constraint_set_text
from dosecheck.checking.model import Status
from dosecheck.checking.templates import read_constraint_file
from dosecheck.checking.templates.export import to_yaml
from dosecheck.errors import ConstraintFileError
from tests.helpers.plan_quality import expected_cn, expected_gi, memory_plan
from tests.helpers.templates import CSV_HEADER

CSV = (
    CSV_HEADER
    + "\n"
    + "PTV,,PTV_High,,CN95%[%],>=0.6,>=0.5,1,,\n"
    + "PTV,,,,GI50%[%],<=4,,2,,\n"
    + "PTV,,,,CN4500cGy[%],>=0.6,,1,,\n"
    + "PTV,,,,CI95%[%],<=1.2,,3,,\n"
    + "PTV,,,,HI98%[%],<=0.1,,3,,\n"
    + "PTV,,,,R50%[%],<=4,,3,,\n"
)


def _write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_varian_cn_and_gi_rows_are_imported(tmp_path: Path) -> None:
    imported = read_constraint_file(_write(tmp_path, "pqi.csv", CSV))
    assert imported.format == "varian-csv"
    constraints = [c for _, c in imported.constraint_set.constraints]
    assert [str(c.metric) for c in constraints] == ["CN95%[]", "GI50%[]", "CN45Gy[]"]
    assert [(c.comparator, c.limit, c.variation) for c in constraints] == [
        (">=", 0.6, 0.5),
        ("<=", 4.0, None),
        (">=", 0.6, None),
    ]
    assert [c.priority for c in constraints] == ["mandatory", "optimal", "mandatory"]
    listed = {n.item: (n.where, n.reason) for n in imported.not_imported}
    assert listed["CI95%[%] <=1.2"][0] == "line 5"
    assert "does not guess" in listed["CI95%[%] <=1.2"][1]
    assert "not ICRU 83's" in listed["HI98%[%] <=0.1"][1]
    assert "does not compute" in listed["R50%[%] <=4"][1]


def test_varian_indices_give_the_closed_forms(tmp_path: Path) -> None:
    cset = read_constraint_file(_write(tmp_path, "pqi.csv", CSV)).constraint_set
    report = check_plan(memory_plan(), cset)
    values = [r.value for r in report.results]
    assert values == pytest.approx([expected_cn(47.5), expected_gi(25.0), expected_cn(45.0)])
    # CN95% = 0.556: below the goal 0.6, within the variation limit 0.5.
    assert [r.status for r in report.results] == [Status.VARIATION, Status.PASS, Status.PASS]
    same = load_constraint_set_text(
        "name: y\nprescription: {dose_gy: 50}\nstructures:\n  - name: PTV\n    constraints:\n"
        "      - CN95%[] >= 0.6 (variation 0.5)\n"
        "      - {metric: 'GI50%[]', op: '<=', limit: 4, priority: optimal}\n"
        "      - CN45Gy[] >= 0.6\n"
    )
    ref = check_plan(memory_plan(), same)
    assert [(r.value, r.status) for r in ref.results] == [
        (r.value, r.status) for r in report.results
    ]


def test_varian_cn_point_above_one_is_refused_with_its_line(tmp_path: Path) -> None:
    bad = CSV_HEADER + "\nPTV,,,,V95%[%],>=95,,1,,\nPTV,,,,CN95%[%],>=75,,1,,\n"
    with pytest.raises(ConstraintFileError) as exc:
        read_constraint_file(_write(tmp_path, "bad.csv", bad))
    msg = str(exc.value)
    assert "bad.csv:3: " in msg and "never exceeds" in msg


@pytest.mark.parametrize(
    ("row", "cell"),
    [
        # 300 % read as 300 would pass every plan; read as 3 it would be a guess.
        ("PTV,,,,GI50%[%],<=300%,,1,,", "Evaluation Point '<=300%'"),
        ("PTV,,,,CN95%[%],>=0.6%,,1,,", "Evaluation Point '>=0.6%'"),
        ("PTV,,,,CN95%[%],>=60%,,1,,", "Evaluation Point '>=60%'"),
        ("PTV,,,,GI50%[%],<=3,<=400%,1,,", "Variation '<=400%'"),
        ("PTV,,,,CN4500cGy[%],>=0.6,,1,,\nPTV,,,,GI25Gy[%],<=3Gy,,1,,", "'<=3Gy' of GI25Gy[%]"),
    ],
)
def test_varian_index_point_with_a_unit_is_refused(tmp_path: Path, row: str, cell: str) -> None:
    bad = CSV_HEADER + "\n" + row + "\n"
    with pytest.raises(ConstraintFileError) as exc:
        read_constraint_file(_write(tmp_path, "unit.csv", bad))
    msg = str(exc.value)
    assert cell in msg
    assert "has a unit, but the index is a plain ratio" in msg
    assert f"unit.csv:{bad.count(chr(10))}: " in msg  # the last row's line


def test_imported_indices_export_to_yaml_and_back(tmp_path: Path) -> None:
    imported = read_constraint_file(_write(tmp_path, "pqi.csv", CSV))
    text = to_yaml(imported, prescription_gy=50.0, fractions=25)
    again = load_constraint_set_text(text)
    assert [(str(c.metric), c.limit, c.variation) for _, c in again.constraints] == [
        (str(c.metric), c.limit, c.variation) for _, c in imported.constraint_set.constraints
    ]


def test_proknow_conformation_number(tmp_path: Path) -> None:
    doc = {
        "name": "PQI scorecard",
        "computed": [
            {
                "type": "CONFORMATION_NUMBER",
                "roi_name": "PTV",
                "arg_1": 45,
                "objectives": [
                    {"label": "IDEAL", "color": [0, 255, 0], "min": 0.8},
                    {"label": "ACCEPTABLE", "color": [255, 255, 0], "min": 0.6},
                    {"label": "UNACCEPTABLE", "color": [255, 0, 0]},
                ],
            },
            {"type": "HOMOGENEITY_INDEX", "roi_name": "PTV", "arg_1": 50},
        ],
    }
    imported = read_constraint_file(_write(tmp_path, "pk.json", json.dumps(doc)))
    (_, c), *_ = imported.constraint_set.constraints
    assert (str(c.metric), c.comparator, c.limit) == ("CN45Gy[]", ">=", 0.6)
    reasons = {n.item: n.reason for n in imported.not_imported}
    assert "does not define publicly" in reasons["HOMOGENEITY_INDEX"]
    value = check_plan(memory_plan(), imported.constraint_set).results[0].value
    assert value == pytest.approx(expected_cn(45.0), rel=1e-9)


def test_eclipse_and_raystation_indices_stay_listed_with_the_reason(tmp_path: Path) -> None:
    from tests.helpers.templates import eclipse_protocol, measure, raystation_goals

    measures = (
        measure("PTV", 2, 3, "95", "95", False)
        + measure("PTV", 0, 0, "0.8", "95", False)
        + measure("PTV", 1, 1, "1.2", "50", False)
    )
    proto = read_constraint_file(_write(tmp_path, "p.xml", eclipse_protocol(measures=measures)))
    reasons = [n.reason for n in proto.not_imported]
    assert any("no documented isodose level" in r for r in reasons)
    assert any("not Paddick's gradient index" in r for r in reasons)
    rs = read_constraint_file(_write(tmp_path, "rs.xml", raystation_goals()))
    assert [n.item for n in rs.not_imported] == ["HomogeneityIndex"]
    assert "not assumed equal to ICRU 83's HI" in rs.not_imported[0].reason


def test_raystation_conformity_index_stays_listed_with_the_reason(tmp_path: Path) -> None:
    from tests.helpers.templates import raystation_goals

    text = raystation_goals().replace("HomogeneityIndex", "ConformityIndex")
    rs = read_constraint_file(_write(tmp_path, "rs.xml", text))
    assert [n.item for n in rs.not_imported] == ["ConformityIndex"]
    assert "RayStation's own index definition" in rs.not_imported[0].reason
    # The other goals of the file are imported as before.
    assert len(rs.constraint_set.constraints) == 3
