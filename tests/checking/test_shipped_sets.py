"""The shipped constraint sets: they load, say what they are, match the usual ROI names,
are found by name and by prescription, and judge plans correctly."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from dosecheck.checking.check import check_plan
from dosecheck.checking.matching import NamingContext, match_structure
from dosecheck.checking.sets import (
    ShippedSet,
    load_shipped_set,
    resolve_constraint_set,
    select_set_for_plan,
    shipped_set_names,
    shipped_sets,
)
from dosecheck.errors import ConstraintFileError, InputError
from tests.helpers.paths import REPO
from tests.helpers.plans import (
    LONG_BOWEL_FAIL,
    LONG_BOWEL_PASS,
    LONG_PTV_FAIL,
    LONG_PTV_PASS,
    SHORT_BOWEL_FAIL,
    SHORT_BOWEL_PASS,
    SHORT_PTV_FAIL,
    SHORT_PTV_PASS,
    memory_plan,
)

SAMPLE_PLANS = REPO / "sample_plans"


def constraints_of(s: ShippedSet) -> dict[str, list[tuple[str, str]]]:
    return {
        spec.name: [(c.text, c.priority) for c in spec.constraints]
        for spec in s.constraint_set.structures
    }


def test_shipped_names() -> None:
    assert shipped_set_names() == ["rectum-long-course", "rectum-short-course"]
    on_disk = sorted(p.stem for p in (REPO / "constraints").glob("*.yaml"))
    assert shipped_set_names() == on_disk


def test_long_course_content() -> None:
    (s,) = [s for s in shipped_sets() if s.key == "rectum-long-course"]
    c = s.constraint_set
    assert (c.prescription_gy, c.fractions) == (50.4, 28)
    assert constraints_of(s) == {
        "Bag_Bowel": [("V30Gy[cc] < 600", "mandatory"), ("V45Gy[cc] < 300", "mandatory")],
        "PTV": [("V95%[%] >= 95", "mandatory"), ("D2%[%] <= 107", "optimal")],
    }
    assert "Verify against your local protocol" in c.source
    assert "not copied from a published protocol" in c.source


def test_short_course_content() -> None:
    (s,) = [s for s in shipped_sets() if s.key == "rectum-short-course"]
    c = s.constraint_set
    assert (c.prescription_gy, c.fractions) == (25.0, 5)
    assert constraints_of(s) == {
        "Bag_Bowel": [("V18.5Gy[cc] < 350", "mandatory"), ("V22Gy[cc] < 200", "mandatory")],
        "PTV": [("V95%[%] >= 95", "mandatory"), ("D2%[%] <= 107", "optimal")],
    }
    assert "Verify against your local protocol" in c.source


def test_sha256_is_of_the_file() -> None:
    for s in shipped_sets():
        data = Path(s.constraint_set.path).read_bytes()
        assert s.constraint_set.sha256 == hashlib.sha256(data).hexdigest()


BOWEL_SPELLINGS = [
    "Bag_Bowel",
    "Spc_Bowel",
    "BowelBag",
    "Bowel_Bag",
    "Bowel bag",
    "BOWEL BAG",
    "bowel-bag",
    "Bowel cavity",
    "Bowel_Cavity",
]


@pytest.mark.parametrize("key", ["rectum-long-course", "rectum-short-course"])
@pytest.mark.parametrize("roi", BOWEL_SPELLINGS)
def test_bowel_bag_spellings(key: str, roi: str) -> None:
    spec = load_shipped_set(key).structures[0]
    m = match_structure(spec, ["BODY", roi, "PTV_X", "Bladder"])
    assert m.status == "matched" and m.roi == roi


@pytest.mark.parametrize(
    ("key", "roi", "by"),
    [
        ("rectum-long-course", "PTV", "name"),
        ("rectum-long-course", "ptv", "name"),
        ("rectum-long-course", "PTV_50.4", "tg263"),
        ("rectum-long-course", "PTV_5040", "tg263"),
        ("rectum-long-course", "PTV50.4", "tg263"),
        ("rectum-long-course", "PTV 50.4Gy", "tg263"),
        ("rectum-long-course", "PTV_50_4Gy", "tg263"),
        ("rectum-long-course", "PTV 5040 cGy", "tg263"),
        ("rectum-long-course", "PTV_50p4Gy", "tg263"),
        ("rectum-long-course", "PTVp_5040", "tg263"),
        ("rectum-long-course", "PTV_High", "tg263"),
        ("rectum-short-course", "PTV", "name"),
        ("rectum-short-course", "PTV_25", "tg263"),
        ("rectum-short-course", "PTV_25Gy", "tg263"),
        ("rectum-short-course", "PTV_2500", "tg263"),
        ("rectum-short-course", "PTV 25 Gy", "tg263"),
        ("rectum-short-course", "ptv2500cgy", "tg263"),
        ("rectum-short-course", "PTVp_High", "tg263"),
    ],
)
def test_ptv_spellings(key: str, roi: str, by: str) -> None:
    cset = load_shipped_set(key)
    spec = cset.structures[1]
    rx = cset.prescription_gy
    ctx = NamingContext(prescription_gy=rx, plan_prescription_gy=rx, set_prescription_gy=rx)
    m = match_structure(spec, ["BODY", "BowelBag", roi, "CTV"], ctx)
    assert (m.status, m.roi, m.matched_by) == ("matched", roi, by)


@pytest.mark.parametrize(
    ("key", "roi"),
    [
        ("rectum-long-course", "PTV_25"),  # the other course's PTV
        ("rectum-long-course", "PTV_4500"),  # an elective volume, not the 50.4 Gy PTV
        ("rectum-long-course", "PTV_50.4_eval"),
        ("rectum-short-course", "PTV_5040"),
        ("rectum-short-course", "PTV_250"),
        ("rectum-long-course", "zPTV_opt"),
        ("rectum-long-course", "PTV5040Gy"),  # 5040 Gy, not 50.4
        ("rectum-short-course", "PTV-2500-Gy"),  # not a TG-263 name: never chosen
    ],
)
def test_ptv_not_confused(key: str, roi: str) -> None:
    cset = load_shipped_set(key)
    spec = cset.structures[1]
    rx = cset.prescription_gy
    ctx = NamingContext(prescription_gy=rx, plan_prescription_gy=rx, set_prescription_gy=rx)
    assert match_structure(spec, ["BowelBag", roi], ctx).status == "not_found"
    assert match_structure(spec, ["BowelBag", roi]).status == "not_found"


def test_bowel_bag_minus_ptv_is_not_the_bowel_bag() -> None:
    spec = load_shipped_set("rectum-long-course").structures[0]
    assert match_structure(spec, ["BowelBag-PTV", "zBowel_opt"]).status == "not_found"


# --- finding sets ------------------------------------------------------------------------------
def test_resolve_by_name_and_path(tmp_path: Path) -> None:
    a = resolve_constraint_set("rectum-long-course")
    b = resolve_constraint_set("rectum-long-course.yaml")
    c = resolve_constraint_set(str(REPO / "constraints" / "rectum-long-course.yaml"))
    d = resolve_constraint_set(REPO / "constraints" / "rectum-long-course.yaml")
    assert a.sha256 == b.sha256 == c.sha256 == d.sha256
    own = tmp_path / "rectum-long-course"  # a local file wins over a shipped name
    own.write_text("name: mine\nstructures:\n  - name: X\n    constraints: ['Mean[Gy] < 1']\n")
    import os

    cwd = Path.cwd()
    os.chdir(tmp_path)
    try:
        assert resolve_constraint_set("rectum-long-course").name == "mine"
    finally:
        os.chdir(cwd)


def test_unknown_name_lists_shipped() -> None:
    with pytest.raises(InputError) as exc:
        resolve_constraint_set("prostate")
    assert "unknown constraint set 'prostate'" in str(exc.value)
    assert "rectum-long-course, rectum-short-course" in str(exc.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConstraintFileError, match="no such constraint-set file"):
        resolve_constraint_set(str(tmp_path / "nope.yaml"))


@pytest.mark.parametrize(
    ("dose", "fractions", "key"),
    [
        (50.4, 28, "rectum-long-course"),
        (50.6, 28, "rectum-long-course"),  # 0.4 % off
        (50.4, None, "rectum-long-course"),
        (25.0, 5, "rectum-short-course"),
        (24.9, 5, "rectum-short-course"),
    ],
)
def test_select_by_prescription(dose: float, fractions: int | None, key: str) -> None:
    assert select_set_for_plan(dose, fractions).key == key


@pytest.mark.parametrize(
    ("dose", "fractions", "message"),
    [
        (45.0, 25, "no shipped constraint set is written for 45 Gy in 25 fractions"),
        (50.4, 25, "no shipped constraint set is written for 50.4 Gy in 25 fractions"),
        (50.7, 28, "no shipped constraint set is written for 50.7 Gy in 28 fractions"),
        (None, 28, "the plan has no RTPLAN prescription"),
    ],
)
def test_select_none(dose: float | None, fractions: int | None, message: str) -> None:
    with pytest.raises(InputError) as exc:
        select_set_for_plan(dose, fractions)
    text = str(exc.value)
    assert message in text
    assert (
        "rectum-long-course (50.4 Gy in 28 fractions); rectum-short-course (25 Gy in 5 fractions)"
    ) in text


def test_select_several(monkeypatch: pytest.MonkeyPatch) -> None:
    import dosecheck.checking.sets as sets

    twin = ShippedSet("rectum-long-course-copy", load_shipped_set("rectum-long-course"))
    real = sets.shipped_sets
    monkeypatch.setattr(sets, "shipped_sets", lambda: [*real(), twin])
    with pytest.raises(InputError) as exc:
        select_set_for_plan(50.4, 28)
    assert "several shipped constraint sets are written for 50.4 Gy in 28 fractions" in str(
        exc.value
    )
    assert "rectum-long-course-copy (50.4 Gy in 28 fractions)" in str(exc.value)


# --- every shipped set passes and fails plans it should ------------------------------------------
CASES = {
    "rectum-long-course": (
        (50.4, 28),
        (LONG_BOWEL_PASS, LONG_PTV_PASS, "pass", []),
        (LONG_BOWEL_FAIL, LONG_PTV_PASS, "fail", ["V45Gy[cc]"]),
        (LONG_BOWEL_PASS, LONG_PTV_FAIL, "fail", ["V95%[%]"]),
    ),
    "rectum-short-course": (
        (25.0, 5),
        (SHORT_BOWEL_PASS, SHORT_PTV_PASS, "pass", []),
        (SHORT_BOWEL_FAIL, SHORT_PTV_PASS, "fail", ["V18.5Gy[cc]", "V22Gy[cc]"]),
        (SHORT_BOWEL_PASS, SHORT_PTV_FAIL, "fail", ["V95%[%]"]),
    ),
}


def test_every_shipped_set_has_cases() -> None:
    assert sorted(CASES) == shipped_set_names()


@pytest.mark.parametrize("key", sorted(CASES))
def test_shipped_set_judges_plans(key: str) -> None:
    (rx, fx), *cases = CASES[key]
    cset = load_shipped_set(key)
    for bowel, ptv, expected, failed in cases:
        plan = memory_plan(bowel, ptv, prescription_gy=rx, fractions=fx)
        assert select_set_for_plan(rx, fx).key == key
        report = check_plan(plan, cset)
        assert report.verdict == expected
        assert [r.metric for r in report.mandatory_failures] == failed
        assert report.warnings == ()


# --- the sample plans, when they have been generated -------------------------------------
SAMPLES = sorted(p for p in SAMPLE_PLANS.glob("*") if p.is_dir()) if SAMPLE_PLANS.is_dir() else []


@pytest.mark.slow
@pytest.mark.skipif(not SAMPLES, reason="sample_plans/ not generated yet")
@pytest.mark.parametrize("folder", SAMPLES, ids=[p.name for p in SAMPLES])
def test_sample_plans(folder: Path) -> None:
    """Each sample plan selects its course's set by its RTPLAN and gets the verdict its
    folder name promises (``*_fail*`` fails, the others pass)."""
    from dosecheck.api import load_plan

    plan = load_plan(folder)
    assert plan.plan_info is not None
    chosen = select_set_for_plan(plan.plan_info.prescription_gy, plan.plan_info.fractions)
    expected_key = "rectum-short-course" if "short" in folder.name else "rectum-long-course"
    assert chosen.key == expected_key
    report = check_plan(plan, chosen.constraint_set)
    assert report.prescription.source == "RTPLAN"
    assert report.prescription_warnings == ()
    assert all(r.status != "not_evaluated" for r in report.results)
    assert report.verdict == ("fail" if "fail" in folder.name else "pass")
    if "bowel_fail" in folder.name:  # its README: V45Gy clearly over 300 cc, the rest pass
        assert [(r.structure, r.metric) for r in report.mandatory_failures] == [
            ("Bag_Bowel", "V45Gy[cc]")
        ]
