"""The dose-scale check: the RTDOSE against the RTPLAN's beam dose points, dose reference
points or prescription, before any number is reported (issue #12, section 2).

The synthetic dose is linear along x, ``d(x) = d0 + g·x``, so trilinear interpolation is
exact: the dose at a point is known in closed form, and the median of a box-shaped PTV
centred on x = 0 is ``d0``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from dosecheck.core.dose_scale import (
    BRACHY_TARGET_BAND,
    check_target,
    classify_ratio,
    dose_at_points,
    group_points,
)
from dosecheck.dicom.load import load_plan
from dosecheck.dicom.plan import read_rtplan
from dosecheck.dicom.writer import write_rtdose
from dosecheck.errors import DicomInputError
from dosecheck.model import (
    BeamDoseInfo,
    DoseGrid,
    DoseReferencePoint,
)
from tests.helpers.dose_scale_plans import (
    BEAMS,
    D0_FX,
    D0_TOTAL,
    FOR_UID,
    ISO,
    PER_FX,
    dose_grid,
    write_case,
)
from tests.helpers.shared_data import shared_dataset


def run(args: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch):
    from dosecheck import cli

    monkeypatch.setenv("COLUMNS", "200")
    code = cli.main([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out, out.err


# --------------------------------------------------------------------------- the numbers


def test_dose_at_points_is_trilinear_and_nan_outside() -> None:
    grid = dose_grid(50.0, "PLAN")
    pts = np.array([[10.0, 0.0, 0.0], [-13.3, 7.1, 3.9], [41.0, 0.0, 0.0], [0.0, 0.0, 20.0]])
    values, inside = dose_at_points(grid, pts)
    assert inside.tolist() == [True, True, False, True]
    assert values[0] == pytest.approx(55.0, rel=1e-6)
    assert values[1] == pytest.approx(50.0 * (1 - 0.133), rel=1e-6)
    assert np.isnan(values[2]) and values[3] == pytest.approx(50.0, rel=1e-6)


def test_group_points_sums_beams_that_share_a_point() -> None:
    groups = group_points([(1, 1.0, (0, 0, 0)), (2, 0.5, (0.3, 0, 0)), (3, 2.0, (5, 0, 0))])
    assert [(g[1], g[2]) for g in groups] == [((1, 2), 1.5), ((3,), 2.0)]


@pytest.mark.parametrize(
    ("ratio", "basis", "verdict"),
    [
        (1.00, "total", "consistent"),
        (1.09, "fraction", "consistent"),
        (35.0, "fraction", "fraction_label_on_total"),
        (1 / 35, "total", "plan_label_on_fraction"),
        (35.0, "total", "unexplained"),  # a course-total file 35× too high: no label slip
        (100.0, "total", "unit_slip"),
        (0.0101, "fraction", "unit_slip"),
        (1.5, "total", "unexplained"),
        (0.5, "fraction", "unexplained"),
    ],
)
def test_classify_ratio_bands(ratio: float, basis: str, verdict: str) -> None:
    assert classify_ratio(ratio, basis=basis, fractions=35, band=(0.9, 1.1)) == verdict


def test_classify_single_fraction_cannot_be_mislabelled() -> None:
    assert classify_ratio(1.0, basis="fraction", fractions=1, band=(0.9, 1.1)) == "consistent"


def test_target_band_brachytherapy_and_inconclusive() -> None:
    kw = {"target_name": "CTV", "label": "PLAN", "basis": "total", "fractions": 2}
    # HDR: the target's median far above the prescription is normal.
    kw["fractions"] = 5
    brachy = check_target(2.6 * 19.0, 19.0, brachytherapy=True, **kw)
    assert brachy.verdict == "consistent" and brachy.ratio == pytest.approx(2.6)
    assert BRACHY_TARGET_BAND[1] >= 2.6
    external = check_target(2.6 * 19.0, 19.0, **kw)
    assert external.verdict == "unexplained"
    # Two fractions, a per-fraction file whose target median is 2 × the prescription per
    # fraction: a FRACTION label on the course, or a hot brachytherapy target?
    both = check_target(
        19.0, 19.0, brachytherapy=True, **{**kw, "basis": "fraction", "fractions": 2}
    )
    assert both.verdict == "inconclusive" and "more than one explanation" in both.message
    assert both.is_contradiction  # refused: one of its readings is a mislabel


# --------------------------------------------------------------------------- RTPLAN reader


def test_rtplan_round_trip_of_the_dose_scale_fields(tmp_path: Path) -> None:
    point = DoseReferencePoint(2, "CALC POINT", "TARGET", (1.5, -2.0, 3.0), 11.3)
    write_case(
        tmp_path,
        d0=D0_TOTAL,
        label="PLAN",
        beam_doses=BEAMS,
        prescribed_roi=True,
        dose_reference_points=(point,),
    )
    info = read_rtplan(tmp_path / "rp.dcm")
    assert info.beam_doses == BEAMS
    assert info.dose_reference_points == (point,)
    assert info.prescribed_roi_numbers == (1,)
    assert info.prescription_gy == pytest.approx(75.6) and not info.brachytherapy


@pytest.mark.parametrize(
    ("keyword", "value", "message"),
    [
        ("BeamDose", b"two     ", "is not a number ('two')"),
        ("BeamDose", b"-1.5    ", "is -1.5 for beam 1; a beam dose cannot be negative"),
        ("BeamDoseSpecificationPoint", b"1\\2     ", "has 2 values, expected 3"),
    ],
)
def test_rtplan_malformed_beam_dose_names_the_tag(
    tmp_path: Path, keyword: str, value: bytes, message: str
) -> None:
    beams = (BeamDoseInfo(1, 1.234567, (7.654321, 0.0, 0.0)),)
    write_case(tmp_path, d0=D0_TOTAL, label="PLAN", beam_doses=beams)
    path = tmp_path / "rp.dcm"
    raw = path.read_bytes()
    old = b"1.234567" if keyword == "BeamDose" else b"7.654321\\0.0\\0.0"
    assert raw.count(old) == 1
    path.write_bytes(raw.replace(old, value.ljust(len(old))))
    with pytest.raises(DicomInputError) as info:
        read_rtplan(path)
    assert message in str(info.value)
    assert keyword in str(info.value) and "rp.dcm" in str(info.value)


# --------------------------------------------------------------------------- the loader


def test_consistent_plan_dose_at_the_beam_point(tmp_path: Path) -> None:
    plan = load_plan(write_case(tmp_path, d0=D0_TOTAL, label="PLAN", beam_doses=BEAMS))
    check = plan.dose_scale
    assert check is not None and check.verdict == "consistent"
    assert check.method == "beam_dose_points" and check.basis == "total"
    assert check.expected_gy == pytest.approx(75.6)
    assert check.measured_gy == pytest.approx(75.6, rel=1e-5)
    assert [p.source for p in check.points] == ["beams 1, 2"]  # beam 4 has no dose
    assert plan.warnings == []


def test_consistent_fraction_dose_is_multiplied(tmp_path: Path) -> None:
    plan = load_plan(write_case(tmp_path, d0=D0_FX, label="FRACTION", beam_doses=BEAMS))
    assert plan.dose_scale is not None and plan.dose_scale.verdict == "consistent"
    assert plan.dose_scale.expected_gy == pytest.approx(PER_FX)
    assert plan.dose.max_gy == pytest.approx(D0_FX * 1.4 * 35, rel=1e-5)
    assert plan.warnings == ["dose is per fraction; multiplied by 35 fractions from RTPLAN"]


def test_fraction_label_on_a_full_course_dose_is_refused(tmp_path: Path) -> None:
    folder = write_case(tmp_path, d0=D0_TOTAL, label="FRACTION", beam_doses=BEAMS)
    with pytest.raises(DicomInputError) as info:
        load_plan(folder)
    text = str(info.value)
    assert "rd.dcm" in text and "DoseSummationType" in text
    assert (
        "RTDOSE is labelled FRACTION but holds 75.6 Gy at the beam dose point (10.0, 0.0, "
        "0.0) mm of beams 1, 2 where the RTPLAN expects 2.16 Gy per fraction; it is "
        "already the course total (35 fractions): pass --dose-is total to use it as such"
    ) in text


def test_plan_label_on_a_single_fraction_is_refused(tmp_path: Path) -> None:
    folder = write_case(tmp_path, d0=D0_FX, label="PLAN", beam_doses=BEAMS)
    with pytest.raises(DicomInputError) as info:
        load_plan(folder)
    assert (
        "RTDOSE is labelled PLAN but holds 2.16 Gy at the beam dose point (10.0, 0.0, 0.0) "
        "mm of beams 1, 2 where the RTPLAN expects 75.6 Gy for the course (2.16 Gy × 35); "
        "it holds one fraction of 35: pass --dose-is fraction to multiply it by 35"
    ) in str(info.value)
    plan = load_plan(folder, dose_is="fraction")
    assert plan.dose.max_gy == pytest.approx(D0_FX * 1.4 * 35, rel=1e-5)
    assert plan.dose_scale is not None and plan.dose_scale.verdict == "consistent"
    assert plan.dose_scale.basis == "fraction" and plan.dose_scale.basis_source == "--dose-is"
    assert any(
        w.startswith(
            "--dose-is fraction: the RTDOSE (labelled PLAN) is used as 35 × the "
            "file's values; the RTPLAN confirms it (beam_dose_points, ratio 1.000)"
        )
        for w in plan.warnings
    )


def test_cgy_slip_is_refused_with_the_dose_units_tag(tmp_path: Path) -> None:
    folder = write_case(tmp_path, d0=D0_TOTAL * 100, label="PLAN", beam_doses=BEAMS)
    with pytest.raises(DicomInputError) as info:
        load_plan(folder)
    text = str(info.value)
    assert "DoseUnits" in text and "holds 7560.0 Gy" in text and "100 times" in text
    assert "cGy written as Gy" in text and "--dose-is labelled" in text
    plan = load_plan(folder, dose_is="labelled")
    assert plan.dose_scale is not None and plan.dose_scale.verdict == "unit_slip"
    assert any("the RTPLAN disagrees" in w for w in plan.warnings)


def test_unexplained_ratio_is_a_warning_not_an_error(tmp_path: Path) -> None:
    plan = load_plan(write_case(tmp_path, d0=D0_TOTAL * 1.5, label="PLAN", beam_doses=BEAMS))
    check = plan.dose_scale
    assert check is not None and check.verdict == "unexplained"
    assert check.ratio == pytest.approx(1.5, rel=1e-5)
    assert plan.warnings == [check.message]
    assert check.message.startswith(
        "dose scale not confirmed: RTDOSE is labelled PLAN and holds 113.4 Gy"
    )


def test_point_outside_the_grid_falls_back_to_the_target(tmp_path: Path) -> None:
    beams = (BeamDoseInfo(1, PER_FX, (500.0, 0.0, 0.0)),)
    folder = write_case(tmp_path, d0=75.6, label="FRACTION", beam_doses=beams, prescribed_roi=True)
    with pytest.raises(DicomInputError) as info:
        load_plan(folder)
    assert (
        "RTDOSE is labelled FRACTION but holds 75.6 Gy as the median of PTV (ROI 1) where "
        "the RTPLAN expects a prescription of 2.16 Gy per fraction"
    ) in str(info.value)
    plan = load_plan(folder, dose_is="total")
    check = plan.dose_scale
    assert check is not None and check.method == "target" and check.verdict == "consistent"
    assert check.points[0].reason == "outside the dose grid"
    assert check.measured_gy == pytest.approx(75.6, abs=0.02)
    assert plan.dose.max_gy == pytest.approx(75.6 * 1.4, rel=1e-5)  # not multiplied


def test_target_fallback_without_points_uses_a_ptv_typed_roi(tmp_path: Path) -> None:
    plan = load_plan(write_case(tmp_path, d0=75.6, label="PLAN"))
    check = plan.dose_scale
    assert check is not None and check.method == "target" and check.verdict == "consistent"
    assert check.ratio == pytest.approx(1.0, abs=1e-3)
    assert "median dose of PTV (ROI 1)" in check.detail


def test_target_named_ptv_but_typed_organ_is_found_by_its_name(tmp_path: Path) -> None:
    """Pinnacle types every ROI ORGAN: the TG-263 name still finds the target, and a
    FRACTION label on the course (75.6 Gy in 35 fractions) is refused."""
    folder = write_case(tmp_path, d0=75.6, label="FRACTION", ptv_type="ORGAN", ptv_name="PTV_7560")
    with pytest.raises(DicomInputError) as info:
        load_plan(folder)
    assert (
        "RTDOSE is labelled FRACTION but holds 75.6 Gy as the median of PTV_7560 (ROI 1) "
        "where the RTPLAN expects a prescription of 2.16 Gy per fraction; it is already "
        "the course total (35 fractions)"
    ) in str(info.value)
    check = load_plan(folder, dose_is="total").dose_scale
    assert check is not None and check.verdict == "consistent"
    assert check.detail.endswith("target found by PTV in the ROI name")


def test_no_target_and_no_points_falls_back_to_the_grid_maximum(tmp_path: Path) -> None:
    # no ROI reads as a target: the maximum, 1.4 × 2.16 Gy per fraction, is 1.4 × the
    # prescription per fraction, inside the band
    folder = write_case(tmp_path, d0=2.16, label="FRACTION", ptv_type="ORGAN", ptv_name="Bowel")
    check = load_plan(folder).dose_scale
    assert check is not None and check.method == "grid_maximum"
    assert check.verdict == "consistent"
    assert check.ratio == pytest.approx(1.4, rel=1e-4)
    # the same file holding the course: the maximum is 35 × 1.4 × the prescription
    # per fraction, i.e. 1.4 × the course prescription
    folder = write_case(
        tmp_path / "total", d0=75.6, label="FRACTION", ptv_type="ORGAN", ptv_name="Bowel"
    )
    with pytest.raises(DicomInputError) as info:
        load_plan(folder)
    assert "holds 105.8 Gy as its maximum where the RTPLAN expects a prescription of 2.16 Gy" in (
        str(info.value)
    )


@pytest.mark.parametrize(
    ("d0", "fractions", "course_max"),
    [(75.6 / 1.4, 35, 2646.0), (35.0 / 1.4, 5, 175.0)],
    ids=["head-and-neck 75.6 Gy x 35", "brain SRT 35 Gy x 5"],
)
def test_no_prescription_a_multiplied_maximum_no_course_reaches_is_refused(
    tmp_path: Path, d0: float, fractions: int, course_max: float
) -> None:
    """The issue's two cases: a course dose labelled FRACTION, an RTPLAN with neither
    points nor prescription nor target."""
    folder = write_case(
        tmp_path,
        d0=d0,
        label="FRACTION",
        fractions=fractions,
        prescription_gy=None,
        ptv_type="ORGAN",
        ptv_name="Brain",
    )
    with pytest.raises(DicomInputError) as info:
        load_plan(folder)
    peak = course_max / fractions
    text = str(info.value)
    assert f"multiplied by {fractions} fractions its maximum would be {course_max:.1f} Gy" in text
    assert f"(the file holds {peak:.1f} Gy)" in text and "pass --dose-is total" in text
    plan = load_plan(folder, dose_is="total")
    assert plan.dose.max_gy == pytest.approx(peak, rel=1e-5)


def test_no_target_no_prescription_plausible_fraction_is_not_verified(tmp_path: Path) -> None:
    folder = write_case(
        tmp_path, d0=2.0, label="FRACTION", prescription_gy=None, ptv_type="ORGAN", ptv_name="X"
    )
    plan = load_plan(folder)  # 2.8 Gy × 35 = 98 Gy: a course can reach that
    check = plan.dose_scale
    assert check is not None and check.verdict == "not_verified"
    assert "no target ROI, and no prescription" in check.message
    assert check.message in plan.warnings  # an unverified multiplication is said
    assert plan.dose.max_gy == pytest.approx(2.8 * 35, rel=1e-5)


def test_dose_reference_point_with_target_prescription(tmp_path: Path) -> None:
    point = DoseReferencePoint(2, "CALC POINT", "TARGET", ISO, 70.0)
    folder = write_case(
        tmp_path, d0=70.0 / 1.1, label="PLAN", dose_reference_points=(point,), fractions=7
    )
    plan = load_plan(folder)
    check = plan.dose_scale
    assert check is not None and check.method == "dose_reference_points"
    assert check.verdict == "consistent" and check.measured_gy == pytest.approx(70.0, rel=1e-5)


def test_low_dose_point_is_not_evidence(tmp_path: Path) -> None:
    # The dose rises from 0 at x = -40 to 151.2 Gy at x = 40: the point at x = -39 mm
    # holds 1.9 Gy, 1.25 % of the maximum, and says nothing; the PTV median is 75.6 Gy.
    grid_point = (-39.0, 0.0, 0.0)
    beams = (BeamDoseInfo(1, 0.01, grid_point),)
    folder = tmp_path / "p"
    write_case(folder, d0=75.6, label="PLAN", beam_doses=beams)
    x = np.arange(-40.0, 41.0, 2.0)
    z = np.arange(-20.0, 21.0, 2.0)
    plane = np.clip(75.6 * (x + 40.0) / 40.0, 0.0, None)
    grid = DoseGrid(
        x,
        x.copy(),
        z,
        np.broadcast_to(plane, (z.size, x.size, x.size)).astype(np.float32),
        frame_of_reference_uid=FOR_UID,
        summation_type="PLAN",
    )
    write_rtdose(folder / "rd.dcm", grid, patient_id="P")
    plan = load_plan(folder)
    check = plan.dose_scale
    assert check is not None and check.method == "target"
    assert check.points[0].reason == "below 20% of the grid maximum"


# --------------------------------------------------------------------------- CLI and batch


def test_cli_exit_2_and_override_in_the_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = write_case(tmp_path, d0=D0_TOTAL, label="FRACTION", beam_doses=BEAMS)
    for command in ("dvh", "check"):
        code, out, err = run([command, folder], capsys, monkeypatch)
        assert code == 2 and out == ""
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("dosecheck: error: ")
        assert "labelled FRACTION but holds 75.6 Gy" in lines[0]
        assert "2.16 Gy per fraction" in lines[0] and "--dose-is total" in lines[0]
    code, out, err = run(["dvh", folder, "--dose-is", "total", "-f", "json"], capsys, monkeypatch)
    assert code == 0
    doc = json.loads(out)
    record = doc["plan"]["dose_scale"]
    assert record["verdict"] == "consistent" and record["basis"] == "total"
    assert record["basis_source"] == "--dose-is" and record["label"] == "FRACTION"
    assert record["expected_gy"] == pytest.approx(75.6)
    assert record["measured_gy"] == pytest.approx(75.6, rel=1e-5)
    assert record["points"][0]["source"] == "beams 1, 2"
    ptv = next(s for s in doc["structures"] if s["name"] == "PTV")
    assert ptv["max_gy"] < 100  # the course, not 35 × the course
    code, out, err = run(
        ["check", folder, "--dose-is", "total", "-f", "json", "-c", "rectum-long-course"],
        capsys,
        monkeypatch,
    )
    assert code in (0, 1)
    assert json.loads(out)["plan"]["dose_scale"]["basis"] == "total"
    assert "--dose-is total: the RTDOSE (labelled FRACTION) is used as the course total" in err


def test_cli_rejects_an_unknown_dose_is(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, _, err = run(["dvh", tmp_path, "--dose-is", "half"], capsys, monkeypatch)
    assert code == 2 and "--dose-is" in err


def test_batch_records_a_contradiction_as_the_plan_error(tmp_path: Path) -> None:
    from dosecheck.batch.discovery import discover
    from dosecheck.batch.runner import PlanTask, evaluate_plan
    from dosecheck.checking.sets import load_shipped_set

    write_case(tmp_path / "hn", d0=D0_TOTAL, label="FRACTION", beam_doses=BEAMS)
    plans = discover([tmp_path]).plans
    assert len(plans) == 1
    out = evaluate_plan(PlanTask(0, plans[0], load_shipped_set("rectum-long-course")))
    assert out["status"] == "error" and out["results"] == []
    assert "labelled FRACTION but holds 75.6 Gy" in out["error"]


# --------------------------------------------------------------------------- real exports


@pytest.mark.parametrize(
    ("folder", "verdict", "method", "expected_gy", "measured_gy"),
    [
        ("dicompyler-core-example", "consistent", "dose_reference_points", 11.311, 11.311),
        (
            "pps-brainsrs-raystation/BrainSRSRaystationVMAT",
            "consistent",
            "beam_dose_points",
            10.782,
            10.782,
        ),
        ("aptg-raystation12-cube-boxes", "consistent", "beam_dose_points", 1.828, 1.828),
        # Three isocentres; the lowest point ratio is 1.86 (other beams add dose): warned.
        (
            "pps-brainsrs-raystation/BrainSRSRaystationIMRT",
            "unexplained",
            "beam_dose_points",
            27.022,
            50.374,
        ),
        ("robustbrachy-hdr-prostate/v2021_initial", "not_verified", "none", None, None),
        ("pps-gammaknife-gfov-negative", "not_verified", "none", None, None),
        ("pinnacle96-prostate-ovh", "not_verified", "none", None, None),
    ],
)
def test_real_exports(
    folder: str, verdict: str, method: str, expected_gy: float | None, measured_gy: float | None
) -> None:
    root = shared_dataset(folder.split("/")[0])
    plan = load_plan(root / folder.split("/", 1)[1] if "/" in folder else root)
    check = plan.dose_scale
    assert check is not None
    assert (check.verdict, check.method) == (verdict, method)
    if expected_gy is None:
        assert check.expected_gy is None
    else:
        assert check.expected_gy == pytest.approx(expected_gy, abs=1e-3)
        assert check.measured_gy == pytest.approx(measured_gy, abs=1e-3)


def test_nelms_fraction_grids_without_rtplan_are_not_verified() -> None:
    root = shared_dataset("nelms2015-analytical-dvh")
    plan = load_plan(
        rtstruct=root / "STRUCTURES" / "Sphere_10_0.dcm",
        rtdose=[root / "DOSE GRIDS" / "Linear_SupInf_2mm_Aligned.dcm"],
        fractions=1,
    )
    check = plan.dose_scale
    assert check is not None and check.verdict == "not_verified" and check.label == "FRACTION"
    assert check.message == "dose scale not verified: no RTPLAN to compare the dose with"
    assert check.message in plan.warnings


def test_prescription_from_the_command_line_verifies_a_plan_label(tmp_path: Path) -> None:
    """An RTPLAN without TargetPrescriptionDose and a PLAN-labelled file holding one
    fraction (2.16 of 75.6 Gy): the stated prescription exposes it; without it the
    scale is not verified, and that is said."""
    folder = write_case(tmp_path, d0=2.16, label="PLAN", prescription_gy=None)
    with pytest.raises(DicomInputError) as info:
        load_plan(folder, prescription_gy=75.6)
    assert "RTDOSE is labelled PLAN but holds 2.16 Gy as the median of PTV (ROI 1)" in str(
        info.value
    )
    assert "it holds one fraction of 35: pass --dose-is fraction" in str(info.value)
    plan = load_plan(folder)
    check = plan.dose_scale
    assert check is not None and check.verdict == "not_verified"
    assert check.message in plan.warnings  # a PLAN label nothing confirms is said too


def test_prescription_from_the_command_line_without_rtplan(tmp_path: Path) -> None:
    folder = write_case(tmp_path, d0=75.6, label="PLAN")
    (folder / "rp.dcm").unlink()
    assert load_plan(folder).dose_scale.verdict == "not_verified"  # type: ignore[union-attr]
    check = load_plan(folder, prescription_gy=75.6).dose_scale
    assert check is not None and check.verdict == "consistent" and check.method == "target"
    assert check.ratio == pytest.approx(1.0, abs=1e-3)


def test_two_fractions_inconclusive_is_refused(tmp_path: Path) -> None:
    """16 Gy in 2 fractions, the course labelled FRACTION, nothing but the grid maximum
    (16.3 Gy, i.e. 2.04 x the per-fraction prescription): as labelled it is a plausible
    hot spot, as a course it is the mislabel; the user must say which."""
    folder = write_case(
        tmp_path,
        d0=16.3 / 1.4,
        label="FRACTION",
        fractions=2,
        prescription_gy=16.0,
        ptv_type="ORGAN",
        ptv_name="Bowel",
    )
    with pytest.raises(DicomInputError) as info:
        load_plan(folder)
    text = str(info.value)
    assert "dose scale ambiguous" in text and "ratio 2.04" in text
    assert "pass --dose-is total or --dose-is fraction" in text
    plan = load_plan(folder, dose_is="total")
    assert plan.dose.max_gy == pytest.approx(16.3, rel=1e-5)


def test_constraint_set_prescription_verifies_when_the_files_cannot(tmp_path: Path) -> None:
    """No TargetPrescriptionDose, no points: the check takes the set's prescription and
    verifies the scale against it: a PLAN label on one fraction is refused; a
    consistent dose gets a consistent record saying where the prescription came from."""
    from dosecheck.checking.check import check_plan
    from dosecheck.checking.loader import load_constraint_set_text

    cset = load_constraint_set_text(
        "name: t\nprescription: {dose_gy: 75.6, fractions: 35}\n"
        "structures:\n  - name: PTV\n    constraints:\n      - V95%[%] >= 95\n"
    )
    one_fraction = load_plan(
        write_case(tmp_path / "a", d0=2.16, label="PLAN", prescription_gy=None)
    )
    assert one_fraction.dose_scale is not None
    assert one_fraction.dose_scale.verdict == "not_verified"
    with pytest.raises(DicomInputError) as info:
        check_plan(one_fraction, cset)
    assert "it holds one fraction of 35" in str(info.value)
    assert "is the constraint set's" in str(info.value)
    course = load_plan(write_case(tmp_path / "b", d0=75.6, label="PLAN", prescription_gy=None))
    report = check_plan(course, cset)
    scale = report.plan["dose_scale"]
    assert scale["verdict"] == "consistent" and scale["method"] == "target"
    assert scale["detail"].endswith(
        "the prescription is the constraint set's (the files give none)"
    )
    assert not any(w.startswith("dose scale not verified") for w in report.warnings)
    assert course.dose_scale.verdict == "not_verified"  # the loaded plan is not changed
