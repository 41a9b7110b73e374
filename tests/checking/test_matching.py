"""Matching constraint-set structures to the plan's ROI names."""

from __future__ import annotations

import pytest

from dosecheck.checking.matching import match_structure, normalize_name
from dosecheck.checking.model import StructureSpec


def spec(name: str, aliases: tuple[str, ...] = (), regex: str | None = None) -> StructureSpec:
    return StructureSpec(name=name, aliases=aliases, regex=regex)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Bag_Bowel", "bag bowel"),
        ("Bag_Bowel", "BAG-BOWEL"),
        ("Bag_Bowel", "Bag__Bowel "),
        ("Femur_Head_L", "femurhead l"),
        ("Straße", "STRASSE"),
    ],
)
def test_normalize_name(a: str, b: str) -> None:
    assert normalize_name(a) == normalize_name(b)


def test_normalize_keeps_other_characters() -> None:
    assert normalize_name("PTV.1") != normalize_name("PTV1")
    assert normalize_name("Lung_L") != normalize_name("Lung_R")


def test_exact_name() -> None:
    r = match_structure(spec("Rectum"), ["PTV", "Rectum", "Bladder"])
    assert (r.status, r.roi, r.matched_by, r.candidates) == (
        "matched",
        "Rectum",
        "name",
        ("Rectum",),
    )
    assert r.message == ""
    assert r.roi_names == ("PTV", "Rectum", "Bladder")


def test_name_ignores_case_spaces_underscores_hyphens() -> None:
    r = match_structure(spec("Bag_Bowel"), ["PTV", "bag-bowel"])
    assert (r.status, r.roi, r.matched_by) == ("matched", "bag-bowel", "name")


def test_alias() -> None:
    s = spec("Bag_Bowel", ("BowelBag", "Bowel cavity"))
    r = match_structure(s, ["PTV", "bowel_cavity"])
    assert (r.status, r.roi, r.matched_by) == ("matched", "bowel_cavity", "alias")


def test_name_wins_over_alias() -> None:
    s = spec("Rectum", ("Rect", "Rectum_old"))
    r = match_structure(s, ["Rect", "RECTUM"])
    assert (r.status, r.roi, r.matched_by) == ("matched", "RECTUM", "name")


def test_alias_wins_over_regex() -> None:
    s = spec("Bag_Bowel", ("BowelBag",), regex=r"bowel.*")
    r = match_structure(s, ["Bowel_Small", "BowelBag"])
    assert (r.status, r.roi, r.matched_by) == ("matched", "BowelBag", "alias")


def test_regex_is_case_insensitive_fullmatch() -> None:
    s = spec("Bag_Bowel", regex=r"bowel.?bag(_\d+)?")
    assert match_structure(s, ["BOWELBAG_2", "PTV"]).roi == "BOWELBAG_2"
    # fullmatch: a longer name does not fit
    r = match_structure(s, ["BowelBag_PRV", "PTV"])
    assert r.status == "not_found"


def test_regex_step() -> None:
    r = match_structure(spec("PTV_High", regex=r"PTV_?5[0-9](\.\d)?"), ["PTV_50.4", "CTV"])
    assert (r.status, r.roi, r.matched_by) == ("matched", "PTV_50.4", "regex")


def test_exact_spelling_wins_over_normalised() -> None:
    r = match_structure(spec("Rectum"), ["Rectum", "rectum", "PTV"])
    assert (r.status, r.roi, r.matched_by) == ("matched", "Rectum", "name")
    assert r.detail == "spelled exactly as asked, preferred over 'rectum'"


def test_ambiguous_name() -> None:
    r = match_structure(spec("Rectum"), ["RECTUM", "rectum", "PTV"])
    assert r.status == "ambiguous"
    assert r.roi is None
    assert r.matched_by == "name"
    assert r.candidates == ("RECTUM", "rectum")
    assert r.message == (
        "structure 'Rectum' is ambiguous: ROIs 'RECTUM' and 'rectum' both match its name "
        "(case, spaces, '_' and '-' ignored); rename or remove the extra ROI, or make the "
        "constraint set's names more specific"
    )


def test_ambiguous_identical_names() -> None:
    r = match_structure(spec("Rectum"), ["Rectum", "Rectum"])
    assert r.status == "ambiguous"
    assert "2 ROIs named 'Rectum' both match its name" in r.message


def test_ambiguous_aliases_even_if_listed_in_order() -> None:
    s = spec("Bag_Bowel", ("BowelBag", "Bowel cavity", "Bowel"))
    r = match_structure(s, ["Bowel cavity", "BowelBag", "bowel"])
    assert r.status == "ambiguous"
    assert r.matched_by == "alias"
    assert r.candidates == ("Bowel cavity", "BowelBag", "bowel")
    assert "ROIs 'Bowel cavity', 'BowelBag' and 'bowel' all match its aliases" in r.message


def test_ambiguous_regex() -> None:
    r = match_structure(spec("Lung", regex=r"lung_[lr]"), ["Lung_L", "Lung_R"])
    assert r.status == "ambiguous"
    assert "ROIs 'Lung_L' and 'Lung_R' both match its regex 'lung_[lr]'" in r.message


def test_not_found_lists_what_was_tried_and_rois_present() -> None:
    s = spec("Bag_Bowel", ("BowelBag", "Bowel cavity"), regex="bb.*")
    r = match_structure(s, ["PTV", "Rectum"])
    assert (r.status, r.roi, r.matched_by, r.candidates) == ("not_found", None, None, ())
    assert r.message == (
        "structure 'Bag_Bowel' not found: no ROI matches name 'Bag_Bowel'; aliases "
        "'BowelBag', 'Bowel cavity'; regex 'bb.*' (case, spaces, '_' and '-' ignored); "
        "ROIs present: 'PTV', 'Rectum'"
    )


def test_not_found_without_rois() -> None:
    r = match_structure(spec("Rectum"), [])
    assert r.status == "not_found"
    assert r.message.endswith("the structure set has no ROIs")
