"""Every mapped Eclipse, RayStation and ProKnow code, exact unit conversions, and the
refusal of codes dosecheck does not map (exit 2 naming file, element and code)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dosecheck.checking.templates import read_constraint_file
from dosecheck.errors import ConstraintFileError
from tests.helpers.templates import CSV_HEADER, eclipse_protocol, measure


def _write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def _constraints(path: Path) -> list[tuple[str, str, str, float, bool]]:
    cset = read_constraint_file(path).constraint_set
    return [
        (s.name, str(c.metric), c.comparator, c.limit, c.limit_unit_is_percent_rx)
        for s, c in cset.constraints
    ]


# --- Eclipse MeasureItem: Type 2..8 with Modifier 0, 1, 3, 4 --------------------------------
MEASURES = [
    # (Type, Modifier, Value, TypeSpecifier, absolute) -> (metric, comparator, limit)
    ((2, 3, "95", "95", False), ("V95%[%]", ">=", 95.0)),
    ((2, 0, "60", "100", True), ("V100%[cc]", ">", 60.0)),
    ((3, 1, "600", "30", True), ("V30Gy[cc]", "<", 600.0)),
    ((3, 4, "40", "20", False), ("V20Gy[%]", "<=", 40.0)),
    ((4, 4, "107", "2", False), ("D2%[%]", "<=", 107.0)),
    ((4, 3, "47.88", "95", True), ("D95%[Gy]", ">=", 47.88)),
    ((5, 1, "52", "0.03", True), ("D0.03cc[Gy]", "<", 52.0)),
    ((6, 0, "45", None, True), ("Min[Gy]", ">", 45.0)),
    ((7, 4, "53.5", None, True), ("Max[Gy]", "<=", 53.5)),
    ((8, 1, "30", None, True), ("Mean[Gy]", "<", 30.0)),
    ((7, 1, "107", None, False), ("Max[%]", "<", 107.0)),
]


def test_every_measure_item_code(tmp_path: Path) -> None:
    body = "".join(measure("OAR", *args) for args, _ in MEASURES)
    p = _write(tmp_path, "p.xml", eclipse_protocol(measures=body))
    got = [(m, op, lim) for _, m, op, lim, _ in _constraints(p)]
    assert got == [want for _, want in MEASURES]


ITEMS = [
    # (Modifier, Parameter, TotalDose) -> (metric, comparator, limit)
    ((0, "95", "47.88"), ("D95%[Gy]", ">=", 47.88)),
    ((1, "2", "53.93"), ("D2%[Gy]", "<=", 53.93)),
    ((7, "0", "20"), ("Mean[Gy]", ">", 20.0)),
    ((8, "0", "30"), ("Mean[Gy]", "<", 30.0)),
    ((9, "0", "45"), ("Min[Gy]", ">", 45.0)),
    ((10, "0", "54"), ("Max[Gy]", "<", 54.0)),
]


def _item(mod: int, param: str, total: str, primary: bool = False, sid: str = "PTV") -> str:
    flag = ' Primary="true"' if primary else ""
    return (
        f'<Item ID="{sid}"{flag}><Type>0</Type><Modifier>{mod}</Modifier>'
        f"<Parameter>{param}</Parameter><Dose>1.8</Dose><TotalDose>{total}</TotalDose></Item>"
    )


def test_every_item_code_and_the_primary_prescription(tmp_path: Path) -> None:
    items = "".join(_item(*args) for args, _ in ITEMS) + _item(0, "50", "50.4", primary=True)
    items += _item(5, "0", "50")  # reference point: listed, not imported
    p = _write(tmp_path, "p.xml", eclipse_protocol(items=items, measures=""))
    imported = read_constraint_file(p)
    got = [(str(c.metric), c.comparator, c.limit) for _, c in imported.constraint_set.constraints]
    assert got == [want for _, want in ITEMS] + [("D50%[Gy]", ">=", 50.4)]
    assert imported.constraint_set.prescription_gy == 50.4
    assert imported.constraint_set.fractions == 28
    assert [n.item for n in imported.not_imported] == ["Modifier 5"]
    assert "point dose" in imported.not_imported[0].reason


@pytest.mark.parametrize(
    ("body", "element", "code"),
    [
        (measure("Rectum", 9, 1, "5", "5", True), "MeasureItem[1] (ID 'Rectum')", "<Type> code 9"),
        (measure("Rectum", 3, 5, "5", "5", True), "MeasureItem[1] (ID 'Rectum')", "code 5"),
        (measure("Rectum", 3, -1, "5", "5", True), "MeasureItem[1]", "code -1"),
    ],
)
def test_unmapped_measure_codes_refused(tmp_path: Path, body: str, element: str, code: str) -> None:
    p = _write(tmp_path, "bad.xml", eclipse_protocol(measures=body))
    with pytest.raises(ConstraintFileError) as e:
        read_constraint_file(p)
    msg = str(e.value)
    assert msg.startswith(str(p)) and element in msg and code in msg and "not mapped" in msg


def test_unmapped_item_code_refused(tmp_path: Path) -> None:
    p = _write(tmp_path, "bad.xml", eclipse_protocol(items=_item(6, "0", "50"), measures=""))
    with pytest.raises(ConstraintFileError, match=r"Item\[1\] \(ID 'PTV'\).*code 6 is not mapped"):
        read_constraint_file(p)


def test_non_integer_code_and_unknown_priority_refused(tmp_path: Path) -> None:
    p = _write(tmp_path, "a.xml", eclipse_protocol(measures=measure("R", "x", 1, "5", "5", True)))  # type: ignore[arg-type]
    with pytest.raises(ConstraintFileError, match=r"<Type> must be an integer code, not 'x'"):
        read_constraint_file(p)
    p = _write(
        tmp_path, "b.xml", eclipse_protocol(measures=measure("R", 3, 1, "5", "5", True, "0"))
    )
    with pytest.raises(ConstraintFileError, match=r"unknown priority '0'"):
        read_constraint_file(p)


def test_several_phases_refused(tmp_path: Path) -> None:
    p = _write(tmp_path, "p.xml", eclipse_protocol(phases=2))
    with pytest.raises(ConstraintFileError, match="2 phases"):
        read_constraint_file(p)


# --- the CSV: cGy converted exactly, units checked --------------------------------------------
def test_csv_cgy_converted_exactly(tmp_path: Path) -> None:
    rows = [
        "Rectum,,,,D20cc[cGy],<=4788,,1,,",
        "Rectum,,,,Max[cGy],<=6500,,1,,",
        "Rectum,,,,CV2200cGy[cc],>=10,,1,,",
        "Rectum,,,,V6000cGy[%],<15,,1,,",
        "Rectum,,,,Mean[Gy],<40Gy,,1,,",
        "Rectum,,,,D0.03cc[cGy],<5000cGy,,1,,",
        "PTV,,,,Max[Gy],<=107%,,1,,",
    ]
    p = _write(tmp_path, "t.csv", CSV_HEADER + "\n" + "\n".join(rows) + "\n")
    assert _constraints(p) == [
        ("Rectum", "D20cc[Gy]", "<=", 47.88, False),
        ("Rectum", "Max[Gy]", "<=", 65.0, False),
        ("Rectum", "CV22Gy[cc]", ">=", 10.0, False),
        ("Rectum", "V60Gy[%]", "<", 15.0, False),
        ("Rectum", "Mean[Gy]", "<", 40.0, False),
        ("Rectum", "D0.03cc[Gy]", "<", 50.0, False),
        ("PTV", "Max[Gy]", "<=", 107.0, True),
    ]
    assert 4788 / 100 == 47.88  # the decimal shift is exact for these numbers


@pytest.mark.parametrize(
    ("row", "line", "expected"),
    [
        ("Rectum,,,,V30Gy[cc],=600,,1,,", 3, "Evaluation Point '=600'"),
        ("Rectum,,,,V30Gy[cc],600,,1,,", 3, "expected a comparator and a number"),
        ("Rectum,,,,V30[cc],<600,,1,,", 3, "invalid DVH metric 'V30[cc]'"),
        ("Rectum,,,,V30Gy[cc],<600cGy,,1,,", 3, "is in cGy but V30Gy[cc] gives cc"),
        ("Rectum,,,,V30Gy[cc],<600,,high,,", 3, "unknown priority 'high'"),
        (",,,,V30Gy[cc],<600,,1,,", 3, "no Structure IDs"),
    ],
)
def test_malformed_csv_names_the_line(tmp_path: Path, row: str, line: int, expected: str) -> None:
    good = "Rectum,,,,V20Gy[cc],<900,,1,,"
    p = _write(tmp_path, "t.csv", f"{CSV_HEADER}\n{good}\n{row}\n")
    with pytest.raises(ConstraintFileError) as e:
        read_constraint_file(p)
    assert e.value.line == line and str(e.value).startswith(f"{p}:{line}: ")
    assert expected in str(e.value)


def test_csv_header_without_required_column(tmp_path: Path) -> None:
    p = _write(tmp_path, "t.csv", "Structure IDs,DVH Objective\nR,V30Gy[cc]\n")
    with pytest.raises(ConstraintFileError, match="not a known constraint template"):
        read_constraint_file(p)


# --- RayStation and ProKnow conversions ---------------------------------------------------------
def test_raystation_units(tmp_path: Path) -> None:
    def goal(kind: str, crit: str, level: str, param: str) -> str:
        return (
            f'<ClinicalGoal RoiName="R" GoalCriteria="{crit}" GoalType="{kind}" '
            f'AcceptanceLevel="{level}" ParameterValue="{param}" />'
        )

    xml = (
        "<protocol><goals>"
        + goal("DoseAtVolume", "AtLeast", "4788", "0.98")
        + goal("DoseAtAbsoluteVolume", "AtMost", "5350", "0.03")
        + goal("VolumeAtDose", "AtMost", "0.35", "3000")
        + goal("AbsoluteVolumeAtDose", "AtMost", "300", "4500")
        + goal("AverageDose", "AtMost", "2650", "0")
        + "</goals></protocol>"
    )
    p = _write(tmp_path, "r.xml", xml)
    assert _constraints(p) == [
        ("R", "D98%[Gy]", ">=", 47.88, False),
        ("R", "D0.03cc[Gy]", "<=", 53.5, False),
        ("R", "V30Gy[%]", "<=", 35.0, False),
        ("R", "V45Gy[cc]", "<=", 300.0, False),
        ("R", "Mean[Gy]", "<=", 26.5, False),
    ]
    bad = _write(tmp_path, "b.xml", "<protocol>" + goal("Dvh", "AtMost", "1", "1") + "</protocol>")
    with pytest.raises(
        ConstraintFileError, match=r"ClinicalGoal\[1\] \(RoiName 'R'\): GoalType 'Dvh'"
    ):
        read_constraint_file(bad)


def test_proknow_bins(tmp_path: Path) -> None:
    doc = (
        '{"computed": [{"type": "DOSE_VOLUME_CC_ROI", "roi_name": "Cord", "arg_1": 0.03, '
        '"arg_2": null, "objectives": [{"label": "IDEAL", "color": [0,0,0], "max": 45}, '
        '{"label": "OK", "color": [0,0,0], "max": 50}, {"label": "FAIL", "color": [0,0,0]}]}]}'
    )
    p = _write(tmp_path, "s.json", doc)
    imported = read_constraint_file(p)
    assert _constraints(p) == [("Cord", "D0.03cc[Gy]", "<=", 50.0, False)]
    assert [v.variation for v in imported.variations] == ["<=45 goal"]
    bad = _write(tmp_path, "b.json", doc.replace('"max": 50', '"max": 40'))
    with pytest.raises(ConstraintFileError, match=r"computed\[0\].*best to worst"):
        read_constraint_file(bad)
