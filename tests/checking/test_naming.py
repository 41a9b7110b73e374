"""Finding the structure a constraint means: targets by RTPLAN reference, TG-263 dose
level and RTROIInterpretedType; the site alias file; ``--map``; did-you-mean."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from dosecheck.checking.check import check_plan
from dosecheck.checking.loader import load_constraint_set_text
from dosecheck.checking.matching import NamingContext, RoiInfo, match_structure
from dosecheck.checking.model import StructureSpec
from dosecheck.checking.site_names import load_site_names, load_site_names_text, parse_roi_map
from dosecheck.errors import ConstraintFileError, InputError
from dosecheck.model import PlanInfo, TargetReference
from tests.helpers.plans import LONG_BOWEL_PASS, LONG_PTV_PASS, memory_plan, write_plan
from tests.helpers.shared_data import shared_dataset

PTV = StructureSpec(name="PTV", target="PTV")
PTVN = StructureSpec(name="PTV nodes", target="PTVn")


def ctx(*rois: RoiInfo | str, rx: float | None = 50.4, plan_rx: float | None = 50.4, **kw):
    infos = tuple(RoiInfo(r) if isinstance(r, str) else r for r in rois)
    return NamingContext(rois=infos, prescription_gy=rx, plan_prescription_gy=plan_rx, **kw)


def match(spec: StructureSpec, *rois: RoiInfo | str, **kw):
    return match_structure(spec, [], ctx(*rois, **kw))


# --- the target rule --------------------------------------------------------------------------
@pytest.mark.parametrize(
    "roi", ["PTV_High", "PTVp_5040", "PTV_50p4Gy", "PTV_50.4Gy", "PTV_5040cGy", "PTV_5040-03"]
)
def test_tg263_target_at_the_prescription(roi: str) -> None:
    # The RTPLAN records both levels (a SIB): PTV_High is not taken on a guess.
    m = match(
        PTV, "Bag_Bowel", roi, "PTV_Low", "PTV_4500", "CTV_High", plan_dose_levels_gy=(45.0, 50.4)
    )
    assert (m.status, m.roi, m.matched_by) == ("matched", roi, "tg263")


def test_absolute_level_wins_and_detail_says_why() -> None:
    m = match(PTV, "PTV_4500", "PTV_5040", "PTV_High")
    assert (m.roi, m.matched_by) == ("PTV_5040", "tg263")
    assert m.detail == "TG-263 dose level 50.4 Gy = the prescription"


def test_high_needs_the_prescription_to_be_the_highest_level() -> None:
    m = match(PTV, "PTV_High", "PTV_Low", rx=45.0, plan_rx=50.4)
    assert m.status == "ambiguous" and m.candidates == ("PTV_High", "PTV_Low")
    m = match(PTV, "PTV_High", "PTV_Low", plan_rx=None)  # no RTPLAN to say so
    assert m.status == "ambiguous"
    m = match(PTV, "PTV_High", "PTV_Low", plan_dose_levels_gy=(50.4, 45.0))
    assert (m.roi, m.detail) == (
        "PTV_High",
        "TG-263 level _High, and the prescription 50.4 Gy is the highest of the RTPLAN's "
        "dose levels 45, 50.4 Gy",
    )
    m = match(PTV, "PTV_High", "PTV_Low", "PTV_6000", plan_dose_levels_gy=(50.4, 45.0))
    assert m.status == "ambiguous"  # a ROI named for a higher dose


def test_high_with_one_recorded_level_and_a_lower_level_named_is_ambiguous() -> None:
    # A SIB whose RTPLAN records only 50.4 Gy: that may be PTV_Low's dose, not PTV_High's.
    for levels in ((), (50.4,), (50.4, 50.42)):  # 50.42: the same level within 0.1 %
        m = match(PTV, "PTV_High", "PTV_Low", "Rectum", plan_dose_levels_gy=levels)
        assert (m.status, m.matched_by, m.candidates) == (
            "ambiguous",
            "tg263",
            ("PTV_High", "PTV_Low"),
        )
    assert m.message.startswith(
        "structure 'PTV' is ambiguous: ROIs 'PTV_High' and 'PTV_Low' both match its target "
        "type PTV (the RTPLAN records only the dose level 50.4 Gy, so it does not say whether "
        "that is the _High level or the lower level of 'PTV_Low'); rename or remove"
    )
    m = match(PTV, "PTV_High", "PTV_Mid01", "PTV_Low")
    assert m.status == "ambiguous" and m.candidates == ("PTV_High", "PTV_Mid01", "PTV_Low")
    # The lower level named only on a z-ROI or another classifier: not found, not a guess.
    for other in ("zPTV_Low", "PTVn_Low"):
        m = match(StructureSpec("PTV", target="PTVp"), "PTVp_High", other)
        assert (m.status, m.roi) == ("not_found", None)
        assert (
            f"'PTVp_High' not taken as the PTVp at 50.4 Gy: the RTPLAN records only the dose "
            f"level 50.4 Gy, so it does not say whether that is the _High level or the lower "
            f"level of {other!r}; name the ROI with --map or in the site alias file"
        ) in m.message
        m = match(StructureSpec("PTV", target="PTVp"), "PTVp_High", other, rx=None)
        assert m.status == "not_found"
        assert "the only PTVp, 'PTVp_High', is named for level _High, and " in m.message
    # Still decided: no lower relative level named, or the RTPLAN records several levels.
    m = match(PTV, "PTV_High", "PTV_4500", "Rectum")
    assert (m.roi, m.detail) == (
        "PTV_High",
        "TG-263 level _High, and the prescription 50.4 Gy is the RTPLAN's highest, and no ROI "
        "is named for a lower relative level",
    )
    m = match(PTV, "PTV_High", "Rectum")
    assert (m.roi, m.matched_by) == ("PTV_High", "tg263")
    m = match(PTV, "PTV_High", "Rectum", rx=None, plan_rx=None)
    assert (m.roi, m.detail) == ("PTV_High", "the only ROI named as a PTV")
    m = match(
        StructureSpec("PTV", target="PTVp"), "PTVp_High", "PTVn_Low", plan_dose_levels_gy=(45.0,)
    )
    assert m.roi == "PTVp_High"  # levels 45 and 50.4 (the largest, from plan_prescription_gy)


def test_interpreted_type_does_not_overrule_a_target_name() -> None:
    # 'PTV_4500' typed PTV on a 50.4 Gy plan: its name says 45 Gy; its type does not
    # make it the 50.4 Gy PTV (it used to be matched by interpreted-type).
    m = match(PTV, RoiInfo("PTV_4500", 1, "PTV"), RoiInfo("Rectum", 2, "ORGAN"))
    assert (m.status, m.roi) == ("not_found", None)
    assert "the only PTV, 'PTV_4500', is named for 45 Gy, not the prescription 50.4 Gy" in (
        m.message
    )
    m = match(PTV, RoiInfo("PTV_Low", 1, "PTV"), RoiInfo("Rectum", 2, "ORGAN"))
    assert m.status == "not_found"
    m = match(PTV, RoiInfo("Boost", 1, "PTV"), RoiInfo("zPTV_4500", 2, "PTV"))
    assert (m.roi, m.matched_by) == ("Boost", "interpreted-type")  # z-ROIs are no names


def test_the_only_ptv() -> None:
    m = match(PTV, "Rectum", "PTV1")
    assert (m.status, m.roi, m.detail) == ("matched", "PTV1", "the only ROI named as a PTV")
    m = match(PTV, "PTV_4500")  # named for another dose
    assert m.status == "not_found"
    assert "the only PTV, 'PTV_4500', is named for 45 Gy, not the prescription 50.4 Gy" in (
        m.message
    )
    assert match(PTV, "PTV_Low").status == "not_found"
    assert match(PTV, "PTV_25").status == "not_found"  # uncertain 25 Gy ≠ 50.4 Gy


def test_uncertain_level_accepted_at_the_prescription() -> None:
    m = match(PTV, "PTV_25", "PTV_Boost_X", rx=25.0, plan_rx=25.0)
    assert (m.roi, m.matched_by) == ("PTV_25", "tg263")
    assert m.detail == "TG-263 dose level 25 Gy (no unit written, uncertain) = the prescription"


def test_two_ptvs_at_the_prescription_are_ambiguous() -> None:
    m = match(PTV, "PTVp_5040", "PTVn_5040")
    assert m.status == "ambiguous" and m.matched_by == "tg263"
    assert m.candidates == ("PTVp_5040", "PTVn_5040")
    assert "ROIs 'PTVp_5040' and 'PTVn_5040' both match its target type PTV at the " in m.message


def test_classifier_narrows() -> None:
    m = match(PTVN, "PTVp_5040", "PTVn_5040")
    assert (m.roi, m.matched_by) == ("PTVn_5040", "tg263")


def test_non_standard_look_alike_makes_it_ambiguous() -> None:
    # Pinnacle's duplicate "_sg" copy: never chosen, never ignored.
    m = match(PTV, "PTV_48_6Gy", "PTV48.6_sg", "PTV_60Gy", rx=48.6, plan_rx=None)
    assert m.status == "ambiguous" and m.candidates == ("PTV_48_6Gy", "PTV48.6_sg")
    m = match(PTV, "PTV48.6_sg", "PTV_60Gy", rx=48.6, plan_rx=None)
    assert m.status == "not_found"
    assert "is not a standard TG-263 name (unrecognised 'sg')" in m.message


def test_z_prefix_and_point_rois_are_left_out() -> None:
    m = match(PTV, "zPTV_5040", "PTV_5040")
    assert m.roi == "PTV_5040"
    m = match(PTV, RoiInfo("ptv4", 20, "ISOCENTER"), RoiInfo("PTV_4", 15, "PTV"))
    assert (m.roi, m.matched_by) == ("PTV_4", "tg263")


def test_interpreted_type_when_no_name_says_ptv() -> None:
    m = match(PTV, RoiInfo("Boost", 1, "PTV"), RoiInfo("Rectum", 2, "ORGAN"))
    assert (m.roi, m.matched_by) == ("Boost", "interpreted-type")
    m = match(PTV, RoiInfo("A", 1, "PTV"), RoiInfo("B", 2, "PTV"))
    assert m.status == "ambiguous" and m.matched_by == "interpreted-type"


def test_plan_reference_is_the_strongest() -> None:
    refs = (TargetReference(7, 50.4), TargetReference(8, 45.0))
    rois = (RoiInfo("PTV", 5, "PTV"), RoiInfo("PTV1", 7, "PTV"), RoiInfo("PTV2", 8, "PTV"))
    m = match(PTV, *rois, target_references=refs)
    assert (m.roi, m.matched_by) == ("PTV1", "plan-reference")
    assert m.detail == "the RTPLAN's dose reference 50.4 Gy names this ROI (ReferencedROINumber)"
    m = match(PTV, *rois, target_references=refs, rx=45.0)
    assert m.roi == "PTV2"


def test_plan_reference_without_a_dose_is_checked_against_the_names() -> None:
    undosed = (TargetReference(1, None),)
    # The reviewer's case: the only reference names PTV_4500 without a dose, PTV_5040
    # is named for the prescription. It used to be matched "by the RTPLAN's dose
    # reference 50.4 Gy" (it has none).
    rois = (RoiInfo("PTV_4500", 1, "PTV"), RoiInfo("PTV_5040", 2, "PTV"))
    m = match(PTV, *rois, target_references=undosed)
    assert (m.status, m.matched_by, m.candidates) == (
        "ambiguous",
        "plan-reference",
        ("PTV_4500", "PTV_5040"),
    )
    assert m.message.startswith(
        "structure 'PTV' is ambiguous: ROIs 'PTV_4500' and 'PTV_5040' both match the PTV at "
        "the prescription 50.4 Gy (the RTPLAN's only dose reference names 'PTV_4500', without "
        "a dose, and its name gives 45 Gy; 'PTV_5040' is named for 50.4 Gy); "
    )
    # A rival named for the prescription, even uncertainly, or a _High one: ambiguous.
    for ref, rival in [("PTV1", "PTV50.4"), ("PTV_High", "PTV_50p4Gy")]:
        rois = (RoiInfo(ref, 1), RoiInfo(rival, 2))
        m = match(PTV, *rois, target_references=undosed)
        assert (m.status, m.candidates) == ("ambiguous", (ref, rival))
        assert f"(the RTPLAN's only dose reference names {ref!r}, without a dose; " in m.message
    # Its own name certain of another level: not found, the search ends.
    rois = (RoiInfo("PTV_4500", 1, "PTV"), RoiInfo("PTV", 2, "PTV"))
    m = match(PTV, *rois, target_references=undosed)
    assert (m.status, m.roi) == ("not_found", None)
    assert (
        "the RTPLAN's only dose reference names 'PTV_4500', without a dose, and its name gives "
        "45 Gy, not the prescription 50.4 Gy; the dose reference was not taken as the PTV at "
        "50.4 Gy: check the prescription, or name the ROI with --map"
    ) in m.message
    # Nothing contradicts it: decided, and the detail says what the reference holds.
    detail = "the RTPLAN's only dose reference names this ROI, without a dose (ReferencedROINumber)"
    for ref, other in [("PTV1", "PTV2"), ("PTV_45", "PTV_4500"), ("PTV_Low", "PTV_High")]:
        m = match(PTV, RoiInfo(ref, 1), RoiInfo(other, 2), target_references=undosed)
        assert (m.roi, m.matched_by, m.detail) == (ref, "plan-reference", detail)
    m = match(PTV, RoiInfo("PTV1", 1), RoiInfo("PTV_5040", 2), target_references=undosed, rx=None)
    assert (m.roi, m.detail) == ("PTV1", detail)  # no prescription to contradict it
    # A reference with a dose other than the prescription decides nothing.
    m = match(
        PTV,
        RoiInfo("PTV1", 1),
        RoiInfo("PTV_5040", 2),
        target_references=(TargetReference(1, 45.0),),
    )
    assert (m.roi, m.matched_by) == ("PTV_5040", "tg263")


def test_plan_reference_detail_gives_the_references_dose() -> None:
    refs = (TargetReference(1, 50.42),)  # within 0.1 % of the prescription 50.4 Gy
    m = match(PTV, RoiInfo("PTV1", 1), RoiInfo("PTV_4500", 2), target_references=refs)
    assert (m.roi, m.detail) == (
        "PTV1",
        "the RTPLAN's dose reference 50.42 Gy names this ROI (ReferencedROINumber)",
    )
    m = match(PTV, RoiInfo("PTV1", 1), target_references=refs, rx=None)
    assert m.detail == "the RTPLAN's dose reference 50.42 Gy names this ROI (ReferencedROINumber)"


def test_plan_reference_to_a_non_target_is_not_used() -> None:
    refs = (TargetReference(3, 50.4),)
    m = match(
        PTV, RoiInfo("Rectum", 3, "ORGAN"), RoiInfo("PTV_High", 4, ""), target_references=refs
    )
    assert (m.roi, m.matched_by) == ("PTV_High", "tg263")
    assert any("prescribes to ROI 'Rectum'" in w for w in m.warnings)


def test_wrong_protocol_is_not_inferred() -> None:
    m = match(PTV, "PTV_25", rx=25.0, plan_rx=25.0, set_prescription_gy=50.4)
    assert m.status == "not_found"
    assert "the prescription 25 Gy is not the 50.4 Gy the constraint set was written for" in (
        m.message
    )


def test_cross_check_warnings() -> None:
    m = match(PTV, RoiInfo("PTV_48_6Gy", 30, "ORGAN"), rx=48.6)
    assert m.roi == "PTV_48_6Gy"
    assert m.warnings == (
        "ROI 'PTV_48_6Gy' was matched as 'PTV' (PTV) but its RTROIInterpretedType is ORGAN; "
        "check the structure set",
    )
    m = match(StructureSpec("Bladder"), RoiInfo("Bladder", 1, "PTV"))
    assert m.warnings and "its RTROIInterpretedType is PTV, a target" in m.warnings[0]


# --- site map, --map, did you mean -----------------------------------------------------------
BOWEL = StructureSpec("Bag_Bowel", aliases=("BowelBag",))


def test_site_map_and_command_line_decide_first() -> None:
    site = {"bag bowel": ("BOWEL_BAG_NEW",)}
    m = match(BOWEL, "BowelBag", "BOWEL_BAG_NEW", site_names=site)
    assert (m.roi, m.matched_by) == ("BOWEL_BAG_NEW", "site map")
    m = match(
        BOWEL,
        "BowelBag",
        "BOWEL_BAG_NEW",
        "Bag",
        site_names=site,
        command_line={"Bag_Bowel": "Bag"},
    )
    assert (m.roi, m.matched_by) == ("Bag", "command line")
    m = match(BOWEL, "BowelBag", command_line={"Bag_Bowel": "Nope"})
    assert m.status == "not_found"
    assert "--map Bag_Bowel=Nope names a ROI the plan does not have" in m.message


def test_did_you_mean() -> None:
    m = match(BOWEL, "BOWEL_BAG_NEW", "Rectum", "PTV")
    assert m.status == "not_found"
    assert "; did you mean 'BOWEL_BAG_NEW'?; ROIs present: " in m.message


def test_site_names_file(tmp_path: Path) -> None:
    f = tmp_path / "site.yaml"
    f.write_text("Bag_Bowel: [BOWEL_BAG_NEW, Darmschlingen]\nPTV: PTV_Boost\n")
    s = load_site_names(f, source="option")
    assert s.names == {"Bag_Bowel": ("BOWEL_BAG_NEW", "Darmschlingen"), "PTV": ("PTV_Boost",)}
    assert len(s.sha256) == 64 and s.to_dict()["source"] == "option"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "<string>:1: the site alias file is empty"),
        ("- a\n- b\n", "<string>:1: a site alias file must be a mapping of structure names"),
        ("A: [x]\na: [y]\n", "<string>:2: duplicate structure 'a' (same as 'A' at line 1"),
        ("A: []\n", "<string>:1: the names of 'A' are empty"),
        ("A: [x, {b: 1}]\n", "<string>:1: a ROI name of 'A' must be text, not a mapping"),
        ("A: &x [b]\nB: *x\n", "<string>:1: YAML anchors and aliases"),
    ],
)
def test_site_names_errors(text: str, message: str) -> None:
    with pytest.raises(ConstraintFileError) as e:
        load_site_names_text(text)
    assert str(e.value).startswith(message)


def test_parse_roi_map() -> None:
    assert parse_roi_map(["PTV=PTV Boost", "Bag_Bowel = BB"]) == {
        "PTV": "PTV Boost",
        "Bag_Bowel": "BB",
    }
    for bad, msg in [("PTV", "expected STRUCTURE=ROI"), ("=x", "expected STRUCTURE=ROI")]:
        with pytest.raises(InputError, match=msg):
            parse_roi_map([bad])
    with pytest.raises(InputError, match="structure 'ptv' is already mapped"):
        parse_roi_map(["PTV=a", "ptv=b"])


# --- the RTPLAN reference, read and used ----------------------------------------------------
def test_rtplan_target_references_round_trip(tmp_path: Path) -> None:
    from dosecheck.dicom.plan import read_rtplan
    from dosecheck.dicom.writer import write_rtplan

    refs = (TargetReference(2, 50.4, 1, "TARGET", "PTV1"), TargetReference(3, 45.0, 2, "TARGET"))
    write_rtplan(tmp_path / "rp.dcm", PlanInfo(fractions=28, target_references=refs))
    info = read_rtplan(tmp_path / "rp.dcm")
    assert info.prescription_gy == 50.4
    assert [
        (t.roi_number, t.prescription_gy, t.dose_reference_number) for t in info.target_references
    ] == [
        (2, 50.4, 1),
        (3, 45.0, 2),
    ]
    assert info.prescription_levels_gy == (50.4, 45.0)


def test_rtplan_records_every_prescription_level(tmp_path: Path) -> None:
    from dosecheck.dicom.plan import read_rtplan
    from dosecheck.dicom.writer import write_rtplan
    from dosecheck.model import DoseReferencePoint

    points = (
        DoseReferencePoint(1, "boost", "TARGET", (0.0, 0.0, 0.0), 60.0),
        DoseReferencePoint(2, "elective", "TARGET", (9.0, 0.0, 0.0), 50.4),
        DoseReferencePoint(3, "again", "TARGET", (0.0, 9.0, 0.0), 60.0),
        DoseReferencePoint(4, "no dose", "TARGET", (0.0, 0.0, 9.0)),
    )
    write_rtplan(tmp_path / "rp.dcm", PlanInfo(fractions=30, dose_reference_points=points))
    info = read_rtplan(tmp_path / "rp.dcm")
    assert (info.prescription_gy, info.prescription_levels_gy) == (60.0, (60.0, 50.4))
    write_rtplan(tmp_path / "one.dcm", PlanInfo(prescription_gy=50.4, fractions=28))
    assert read_rtplan(tmp_path / "one.dcm").prescription_levels_gy == (50.4,)


LONG_SET = """
name: t
prescription: {dose_gy: 50.4, fractions: 28}
structures:
  - name: Bag_Bowel
    aliases: [BowelBag]
    constraints: ['V30Gy[cc] < 600']
  - target: PTV
    constraints: ['V95%[%] >= 95']
"""


def test_check_plan_uses_the_plan_reference() -> None:
    plan = memory_plan(LONG_BOWEL_PASS, LONG_PTV_PASS, ptv_name="PTV1", extra=("PTV2",))
    assert plan.plan_info is not None
    plan.plan_info = dataclasses.replace(
        plan.plan_info, target_references=(TargetReference(2, 50.4), TargetReference(3, 45.0))
    )
    report = check_plan(plan, load_constraint_set_text(LONG_SET))
    r = report.results[1]
    assert (r.structure, r.roi, r.matched_by) == ("PTV", "PTV1", "plan-reference")
    assert r.value == pytest.approx(
        95.5, abs=0.3
    )  # as for the plain 'PTV' in checking/test_check.py
    assert report.verdict == "pass"


def test_check_plan_sib_high_needs_two_recorded_levels(dc, tmp_path: Path) -> None:
    # The reviewer's SIB: PTV_High and PTV_Low, the RTPLAN prescribing only 50.4 Gy.
    folder = write_plan(
        tmp_path / "p", LONG_BOWEL_PASS, LONG_PTV_PASS, ptv_name="PTV_High", extra=("PTV_Low",)
    )
    sets = tmp_path / "set.yaml"
    sets.write_text(LONG_SET)
    code, out, _ = dc("check", folder, "-c", sets, "--format", "json")
    assert code == 1
    r = json.loads(out)["results"][1]
    assert (r["structure"], r["status"], r["roi"]) == ("PTV", "not_evaluated", None)
    assert (
        "ROIs 'PTV_High' and 'PTV_Low' both match its target type PTV (the RTPLAN "
        in (r["message"])
    )
    # The same plan whose RTPLAN records both levels, 50.4 Gy the highest: decided.
    plan = memory_plan(LONG_BOWEL_PASS, LONG_PTV_PASS, ptv_name="PTV_High", extra=("PTV_Low",))
    assert plan.plan_info is not None
    plan.plan_info = dataclasses.replace(plan.plan_info, prescription_levels_gy=(50.4, 45.0))
    report = check_plan(plan, load_constraint_set_text(LONG_SET))
    r = report.results[1]
    assert (r.roi, r.matched_by) == ("PTV_High", "tg263")
    assert r.value == pytest.approx(95.5, abs=0.3)
    assert report.verdict == "pass"


def test_cli_dose_reference_without_a_dose(dc, tmp_path: Path) -> None:
    # The reviewer's case through files: the RTPLAN's only VOLUME dose reference names
    # PTV_4500 (ROI 2, given the PTV's passing dose) and has no TargetPrescriptionDose;
    # PTV_5040 exists. It used to PASS with PTV_4500 "by the dose reference 50.4 Gy".
    from dosecheck.dicom.plan import read_rtplan
    from dosecheck.dicom.structures import read_rtstruct
    from dosecheck.dicom.writer import write_rtplan
    from tests.helpers.plans import FRAME_UID

    folder = write_plan(
        tmp_path / "p", LONG_BOWEL_PASS, LONG_PTV_PASS, ptv_name="PTV_4500", extra=("PTV_5040",)
    )
    info = PlanInfo(
        label="BOXPLAN",
        fractions=28,
        referenced_structure_set_uid=read_rtstruct(folder / "rtstruct.dcm").sop_instance_uid,
        frame_of_reference_uid=FRAME_UID,
        patient_id="CHECK01",
        target_references=(TargetReference(2, None),),
    )
    uid = read_rtplan(folder / "rtplan.dcm").sop_instance_uid  # the RTDOSE refers to it
    write_rtplan(folder / "rtplan.dcm", info, sop_instance_uid=uid, patient_name="Check^Synthetic")
    sets = tmp_path / "set.yaml"
    sets.write_text(LONG_SET)
    args = ("check", folder, "-c", sets, "--prescription", "50.4", "--fractions", "28")
    code, out, _ = dc(*args, "--format", "json")
    assert code == 1
    r = json.loads(out)["results"][1]
    assert (r["structure"], r["status"], r["roi"]) == ("PTV", "not_evaluated", None)
    assert (
        "ROIs 'PTV_4500' and 'PTV_5040' both match the PTV at the prescription 50.4 Gy (the "
        "RTPLAN's only dose reference names 'PTV_4500', without a dose, and its name gives "
        "45 Gy; 'PTV_5040' is named for 50.4 Gy)"
    ) in r["message"]
    code, out, _ = dc(*args, "--map", "PTV=PTV_4500", "--format", "json")
    assert code == 0 and json.loads(out)["results"][1]["roi"] == "PTV_4500"


def test_check_plan_map_errors() -> None:
    plan = memory_plan(LONG_BOWEL_PASS, LONG_PTV_PASS)
    cset = load_constraint_set_text(LONG_SET)
    with pytest.raises(InputError, match=r"--map Rectum=PTV: constraint set 't' has no structure"):
        check_plan(plan, cset, roi_map={"Rectum": "PTV"})
    with pytest.raises(InputError, match=r"the plan has no ROI 'PTVV' \(did you mean 'PTV'\?\)"):
        check_plan(plan, cset, roi_map={"PTV": "PTVV"})
    plan = memory_plan(LONG_BOWEL_PASS, LONG_PTV_PASS, ptv_name="PTV_5040", extra=("PTV5040",))
    with pytest.raises(InputError) as err:
        check_plan(plan, cset, roi_map={"PTV": "ptv_5040"})
    assert str(err.value) == (
        "--map PTV=ptv_5040: --map needs the ROI name exactly as written; 'ptv_5040' matches "
        "'PTV_5040' and 'PTV5040' only after normalising (case, spaces, '_' and '-' ignored); "
        "ROIs present: 'BowelBag', 'PTV_5040', 'PTV5040'"
    )
    report = check_plan(plan, cset, roi_map={"PTV": "PTV5040"})  # exactly as written
    assert (report.results[1].roi, report.results[1].matched_by) == ("PTV5040", "command line")
    plan = memory_plan(LONG_BOWEL_PASS, LONG_PTV_PASS, ptv_name="PTV_5040", extra=())
    report = check_plan(plan, cset, roi_map={"PTV": "ptv 5040"})  # one ROI: accepted
    assert report.results[1].roi == "PTV_5040"


# --- through the command line ----------------------------------------------------------------
def test_cli_map_and_site_names(dc, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = write_plan(
        tmp_path / "p", LONG_BOWEL_PASS, LONG_PTV_PASS, bowel_name="Darm", ptv_name="Boost"
    )
    sets = tmp_path / "set.yaml"
    sets.write_text(LONG_SET)
    code, out, _ = dc("check", folder, "-c", sets, "--format", "json")
    assert code == 1  # Darm and Boost are unknown names
    site = tmp_path / "site.yaml"
    site.write_text("Bag_Bowel: [Darm]\n")
    monkeypatch.setenv("DOSECHECK_SITE_NAMES", str(site))
    code, out, _ = dc("check", folder, "-c", sets, "--format", "json", "--map", "PTV=Boost")
    assert code == 0
    doc = json.loads(out)
    assert [(r["roi"], r["matched_by"]) for r in doc["results"]] == [
        ("Darm", "site map"),
        ("Boost", "command line"),
    ]
    assert doc["naming"]["site_names"]["path"] == str(site)
    assert doc["naming"]["site_names"]["source"] == "environment"
    assert doc["naming"]["command_line"] == {"PTV": "Boost"}
    code, out, _ = dc("check", folder, "-c", sets, "--map", "PTV=Boost")
    assert "ROI 'Darm' (matched by the site alias file)" in out
    assert "ROI 'Boost' (matched by --map on the command line)" in out


def test_cli_bad_site_names_and_map(dc, tmp_path: Path) -> None:
    folder = write_plan(tmp_path / "p", LONG_BOWEL_PASS, LONG_PTV_PASS)
    bad = tmp_path / "site.yaml"
    bad.write_text("Bag_Bowel: [a]\nbag bowel: [b]\n")
    code, _, err = dc("check", folder, "--site-names", bad)
    assert code == 2
    assert f"{bad}:2: duplicate structure 'bag bowel'" in err
    code, _, err = dc("check", folder, "--map", "PTV")
    assert code == 2 and "--map 'PTV': expected STRUCTURE=ROI" in err
    code, _, err = dc("check", folder, "--map", "PTV=PTV_Bost")
    assert code == 2 and "the plan has no ROI 'PTV_Bost' (did you mean 'PTV'?)" in err
    code, _, err = dc("check", folder, "--map", "PTV=ptv")  # one ROI 'PTV': accepted
    assert code == 0
    code, _, err = dc("check", folder, "--site-names", tmp_path / "missing.yaml")
    assert code == 2 and "no such site alias file" in err


# --- the shared exports ----------------------------------------------------------------------
def _rois(path: Path):
    from dosecheck.dicom.structures import read_rtstruct

    ss = read_rtstruct(path)
    return tuple(RoiInfo(s.name, s.number, s.interpreted_type) for s in ss.structures)


def test_pinnacle_prostate_names() -> None:
    rois = _rois(shared_dataset("pinnacle96-prostate-ovh") / "rtss.dcm")
    # Every level has a duplicate "_sg" copy (PTV67_sg ...): a plausible rival, so the
    # choice is left to the user, with both named.
    for rx, pair in [
        (67.0, {"PTV_67Gy", "PTV67_sg"}),
        (60.0, {"PTV_60Gy", "PTV60_sg"}),
        (57.6, {"PTV_57_6Gy", "PTV57.6_sg"}),
        (48.6, {"PTV_48_6Gy", "PTV48.6_sg"}),
    ]:
        m = match_structure(PTV, [], NamingContext(rois=rois, prescription_gy=rx))
        assert (m.status, m.matched_by, set(m.candidates)) == ("ambiguous", "tg263", pair)
    m = match_structure(PTV, [], NamingContext(rois=rois, prescription_gy=50.0))
    assert m.status == "ambiguous" and len(m.candidates) == 8  # no PTV named for 50 Gy
    named = NamingContext(rois=rois, prescription_gy=48.6, command_line={"PTV": "PTV_48_6Gy"})
    m = match_structure(PTV, [], named)
    assert (m.roi, m.matched_by) == ("PTV_48_6Gy", "command line")
    # typed ORGAN by Pinnacle: a warning, not a silent pick
    assert m.warnings == (
        "ROI 'PTV_48_6Gy' was matched as 'PTV' (PTV) but its RTROIInterpretedType is ORGAN; "
        "check the structure set",
    )


def test_raystation_srs_exact_spelling() -> None:
    folder = shared_dataset("pps-brainsrs-raystation") / "BrainSRSRaystationVMAT"
    rois = _rois(next(folder.glob("RS*.dcm")))
    m = match_structure(StructureSpec("PTV_4"), [], NamingContext(rois=rois))
    assert (m.status, m.roi, m.matched_by) == ("matched", "PTV_4", "name")
    assert "preferred over 'ptv4'" in m.detail
    m = match_structure(PTV, [], NamingContext(rois=rois, prescription_gy=25.0))
    assert m.status == "ambiguous" and "PTV_4" in m.candidates and "ptv4" not in m.candidates


def test_eclipse_names_and_types() -> None:
    rois = _rois(next((shared_dataset("slicerrt-eclipse-prostate") / "dicom").glob("RS*.dcm")))
    m = match_structure(PTV, [], NamingContext(rois=rois, prescription_gy=46.0))
    assert (m.roi, m.matched_by) == ("PTV", "name")
    rois = _rois(shared_dataset("dicompyler-core-example") / "rtss.dcm")
    ctv = StructureSpec("CTV", target="CTV")
    m = match_structure(ctv, [], NamingContext(rois=rois, prescription_gy=14.0))
    assert m.status == "ambiguous" and m.matched_by == "interpreted-type"
    assert m.candidates == ("Borders", "Tumor Bed")


def test_raystation_boxes_by_type() -> None:
    rois = _rois(next(shared_dataset("aptg-raystation12-cube-boxes").glob("RS*.dcm")))
    m = match_structure(PTV, [], NamingContext(rois=rois))
    assert m.status == "ambiguous" and m.candidates == ("Cube101010", "Box071010", "Slope101004")


# --- the set's target key -------------------------------------------------------------------
def test_target_key_in_a_set() -> None:
    cset = load_constraint_set_text(LONG_SET)
    assert (cset.structures[1].name, cset.structures[1].target) == ("PTV", "PTV")
    named = load_constraint_set_text(
        LONG_SET.replace("- target: PTV", "- name: Boost\n    target: PTVn")
    )
    assert (named.structures[1].name, named.structures[1].target) == ("Boost", "PTVn")


@pytest.mark.parametrize("bad", ["PTV_5040", "ptv", "Rectum", "PTV1"])
def test_target_key_errors(bad: str) -> None:
    with pytest.raises(ConstraintFileError) as e:
        load_constraint_set_text(LONG_SET.replace("target: PTV", f"target: {bad}"))
    assert str(e.value).startswith(f"<string>:8: target {bad!r} is not a TG-263 target type")


def test_structure_needs_name_or_target() -> None:
    with pytest.raises(ConstraintFileError) as e:
        load_constraint_set_text(
            LONG_SET.replace("- target: PTV", "- constraints: ['Max[Gy] < 1']\n    x: 1")
        )
    assert "unknown key 'x'" in str(e.value)
    with pytest.raises(ConstraintFileError, match="a structure is missing the key 'name'"):
        load_constraint_set_text(LONG_SET.replace("  - target: PTV\n", "  -\n"))


def test_missing_site_names_file_from_the_environment_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dosecheck.commands._run import naming_options
    from dosecheck.errors import InputError

    missing = tmp_path / "nowhere.yaml"
    monkeypatch.setenv("DOSECHECK_SITE_NAMES", str(missing))
    with pytest.raises(InputError) as info:
        naming_options(None, None)
    text = str(info.value)
    assert str(missing) in text
    assert "the file named by the environment variable DOSECHECK_SITE_NAMES" in text
