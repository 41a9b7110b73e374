"""The TG-263 target-name parser."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dosecheck.tg263 import DoseLevel, TargetName, parse_target_name, parse_target_spec


def level(name: str) -> DoseLevel | None:
    t = parse_target_name(name)
    assert t is not None, name
    return t.level


@pytest.mark.parametrize(
    ("name", "ttype", "cls", "index"),
    [
        ("GTV", "GTV", "", None),
        ("CTV", "CTV", "", None),
        ("ITV", "ITV", "", None),
        ("IGTV", "IGTV", "", None),
        ("ICTV", "ICTV", "", None),
        ("PTV", "PTV", "", None),
        ("PTV!", "PTV!", "", None),
        ("PTVp", "PTV", "p", None),
        ("CTVn", "CTV", "n", None),
        ("CTVsb", "CTV", "sb", None),
        ("GTVpar", "GTV", "par", None),
        ("GTVv", "GTV", "v", None),
        ("GTVvas", "GTV", "vas", None),
        ("GTVp1", "GTV", "p", 1),
        ("PTVn2", "PTV", "n", 2),
        ("PTV1", "PTV", "", 1),
        ("PTV_1", "PTV", "", 1),
        ("ptv4", "PTV", "", 4),
    ],
)
def test_type_classifier_index(name: str, ttype: str, cls: str, index: int | None) -> None:
    t = parse_target_name(name)
    assert t is not None
    assert (t.type, t.classifier, t.index, t.level) == (ttype, cls, index, None)
    assert t.is_plain


@pytest.mark.parametrize(
    ("name", "relative", "idx"),
    [
        ("PTV_High", "High", None),
        ("PTV_Mid", "Mid", None),
        ("PTV_Mid01", "Mid", 1),
        ("PTV_Mid02", "Mid", 2),
        ("PTV_Low", "Low", None),
        ("PTVp_HIGH", "High", None),
        ("PTV!_Low", "Low", None),
    ],
)
def test_relative_levels(name: str, relative: str, idx: int | None) -> None:
    lv = level(name)
    assert lv is not None
    assert (lv.relative, lv.relative_index, lv.dose_gy, lv.certain) == (relative, idx, None, True)


@pytest.mark.parametrize(
    ("name", "gy", "certain"),
    [
        ("PTV_5040", 50.4, True),  # TG-263: cGy without unit
        ("PTVp_5040", 50.4, True),
        ("PTV_2500", 25.0, True),
        ("PTV_5040cGy", 50.4, True),
        ("PTV_50.4Gy", 50.4, True),
        ("PTV_50p4Gy", 50.4, True),
        ("PTV 50.4 Gy", 50.4, True),
        ("PTV50.4Gy", 50.4, True),
        ("ptv2500cgy", 25.0, True),
        ("PTV_48_6Gy", 48.6, True),  # Pinnacle: '_' as decimal mark, with unit
        ("PTV_57_6Gy", 57.6, True),
        ("PTV_67Gy", 67.0, True),
        ("PTV_25", 25.0, False),  # 25 Gy? target 25? uncertain
        ("PTV60_sg", 60.0, False),
        ("PTV_50.4", 50.4, False),
        ("PTV48.6_sg", 48.6, False),
        ("PTV5040", 50.4, False),  # attached: not the TG-263 form
    ],
)
def test_absolute_levels(name: str, gy: float, certain: bool) -> None:
    lv = level(name)
    assert lv is not None and lv.dose_gy == pytest.approx(gy, abs=1e-9)
    assert lv.certain is certain and lv.relative is None


def test_full_name() -> None:
    assert parse_target_name("zPTVp1_5040-03^Eval^Opt") == TargetName(
        name="zPTVp1_5040-03^Eval^Opt",
        type="PTV",
        classifier="p",
        index=1,
        level=DoseLevel("5040", dose_gy=50.4),
        cropped_mm=3.0,
        qualifiers=("Eval", "Opt"),
        not_for_evaluation=True,
    )


@pytest.mark.parametrize(
    ("name", "tail"),
    [("PTV48.6_sg", "sg"), ("PTV1_WALL", "WALL"), ("PTV_ALL", "ALL"), ("ptv 4 AND 5", "AND 5")],
)
def test_unrecognised_tail(name: str, tail: str) -> None:
    t = parse_target_name(name)
    assert t is not None and t.tail == tail and not t.is_standard and not t.is_plain


@pytest.mark.parametrize(
    "name",
    ["Rectum", "BRAIN - PTV", "PTVs", "PTVpelvis", "CTVboost", "PROS", "Tumor Bed", "Cube101010"],
)
def test_not_targets(name: str) -> None:
    assert parse_target_name(name) is None


def test_target_spec() -> None:
    assert parse_target_spec("PTV") == ("PTV", "")
    assert parse_target_spec("PTVn") == ("PTV", "n")
    assert parse_target_spec("PTV!") == ("PTV!", "")
    for bad in ("ptv", "PTV_High", "PTV1", "zPTV", "PTV^Eval", "Rectum", " PTV"):
        assert parse_target_spec(bad) is None, bad


@pytest.mark.parametrize(
    ("name", "ttype", "gy"),
    [
        ("PTV_48_6Gy", "PTV", 48.6),
        ("PTV48.6_sg", "PTV", 48.6),
        ("PTV_67Gy", "PTV", 67.0),
        ("PTV_60Gy", "PTV", 60.0),
        ("PTV_57_6Gy", "PTV", 57.6),
        ("PTV67_sg", "PTV", 67.0),
        ("GTV", "GTV", None),
    ],
)
def test_pinnacle_names(name: str, ttype: str, gy: float | None) -> None:
    t = parse_target_name(name)
    assert t is not None and t.type == ttype
    assert (t.level.dose_gy if t.level else None) == (pytest.approx(gy) if gy else None)


# --- properties -------------------------------------------------------------------------
TYPES = st.sampled_from(["GTV", "CTV", "ITV", "IGTV", "ICTV", "PTV", "PTV!"])
CLASSIFIERS = st.sampled_from(["", "p", "n", "sb", "par", "v", "vas"])


@given(
    TYPES,
    CLASSIFIERS,
    st.one_of(st.none(), st.integers(1, 9)),
    st.one_of(st.none(), st.integers(100, 9000)),
    st.one_of(st.none(), st.integers(1, 20)),
    st.lists(st.sampled_from(["Eval", "Opt", "Ln", "MR"]), max_size=2),
    st.booleans(),
)
def test_generated_cgy_names(ttype, cls, index, cgy, crop, quals, z) -> None:
    name = ("z" if z else "") + ttype + cls + (str(index) if index else "")
    if cgy is not None:
        name += f"_{cgy}"
    if crop is not None:
        name += f"-{crop:02d}"
    name += "".join("^" + q for q in quals)
    t = parse_target_name(name)
    assert t is not None
    assert (t.type, t.classifier, t.index, t.not_for_evaluation) == (ttype, cls, index, z)
    assert t.cropped_mm == (float(crop) if crop is not None else None)
    assert t.qualifiers == tuple(quals) and t.is_standard
    if cgy is None:
        assert t.level is None
    else:
        assert t.level is not None and t.level.certain
        assert t.level.dose_gy == pytest.approx(cgy / 100.0)


@given(
    TYPES,
    CLASSIFIERS,
    st.integers(1, 99),
    st.integers(0, 9),
    st.sampled_from(["Gy", "cGy"]),
    st.sampled_from([".", "p", "_"]),
)
def test_generated_unit_names(ttype, cls, whole, tenth, unit, mark) -> None:
    t = parse_target_name(f"{ttype}{cls}_{whole}{mark}{tenth}{unit}")
    assert t is not None and t.level is not None and t.level.certain
    value = whole + tenth / 10.0
    assert t.level.dose_gy == pytest.approx(value / 100.0 if unit == "cGy" else value)


@given(st.text(max_size=30))
def test_never_raises(text: str) -> None:
    t = parse_target_name(text)
    assert t is None or t.type in ("GTV", "CTV", "ITV", "IGTV", "ICTV", "PTV", "PTV!")
