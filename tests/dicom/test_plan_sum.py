"""Plan sums: several plans of one structure set checked as one course (sequential boost).

Closed forms: a cylindrical PTV (R 15 mm, slab z -20..20 mm) and a cylindrical bowel bag
(R 10 mm at x = 40 mm) in a course of two plans whose doses are uniform or linear in z
on different grids (2 mm, and 3 mm offset by 0.5 mm). Trilinear resampling of a
dose linear in z is exact, and the DVH engine integrates z gradients exactly, so the
summed DVH is known analytically: dose ``d(z)`` over a volume uniform in z.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from pydicom.uid import generate_uid

from dosecheck.api import compute_dvhs
from dosecheck.checking.check import check_plan
from dosecheck.checking.fractionation import eqd2, physical_dose_for_eqd2
from dosecheck.checking.loader import load_constraint_set_text
from dosecheck.checking.sets import plan_sum_set
from dosecheck.core.eqd2 import eqd2_sum
from dosecheck.dicom import plan_sum as plan_sum_module
from dosecheck.dicom.plan_sum import find_plan_sum, load_plan_sum, summation_axes
from dosecheck.dicom.writer import write_rtdose, write_rtplan, write_rtstruct
from dosecheck.errors import DicomInputError, InputError
from dosecheck.metrics import parse_metric
from dosecheck.model import Plan, PlanInfo
from tests.helpers.courses import (
    FOR,
    INNER,
    OTHER_FOR,
    PTV_CC,
    WIDE,
    boost_course,
    grid,
    linear_z,
    structure_set,
    uniform,
    write_course,
)


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return boost_course(tmp_path_factory.mktemp("course"))


def run_cli(args: list[object], capsys, monkeypatch) -> tuple[int, str, str]:
    from dosecheck import cli

    monkeypatch.setenv("COLUMNS", "200")
    code = cli.main([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def dc(capsys, monkeypatch):
    return lambda *args: run_cli(list(args), capsys, monkeypatch)


# --- the core: voxel-wise EQD2 sum -------------------------------------------------------
def test_eqd2_sum_hand_values() -> None:
    # 45 Gy in 25 fx: 45 (1.8 + 3) / 5 = 43.2; 25 Gy in 5 fx: 25 (5 + 3) / 5 = 40.
    out = eqd2_sum([np.array([45.0, 0.0]), np.array([25.0, 10.0])], [25, 5], 3.0)
    assert out.dtype == np.float32
    assert out[0] == pytest.approx(83.2, abs=1e-4)
    assert out[1] == pytest.approx(10.0 * (2.0 + 3.0) / 5.0, abs=1e-5)  # 2 Gy/fx: EQD2 = D
    # Same dose per fraction everywhere: equals the EQD2 of the sum in the total fractions.
    same = eqd2_sum([np.array([45.0]), np.array([5.4])], [25, 3], 3.0)
    assert same[0] == pytest.approx(eqd2(50.4, 28, 3.0), rel=1e-6)


@pytest.mark.parametrize(
    ("doses", "fractions", "ab", "message"),
    [
        ([], [], 3.0, "no doses"),
        ([np.zeros(2)], [1, 2], 3.0, "1 doses but 2 fraction counts"),
        ([np.zeros(2)], [0], 3.0, "at least|>= 1"),
        ([np.zeros(2)], [5], 0.0, "positive"),
        ([np.zeros(2), np.zeros(3)], [5, 5], 3.0, "differ in shape"),
    ],
)
def test_eqd2_sum_refuses(doses, fractions, ab, message) -> None:
    with pytest.raises(ValueError, match=message):
        eqd2_sum(doses, fractions, ab)


# --- loading -------------------------------------------------------------------------------
def test_summed_prescription_grid_and_parts(course: Path) -> None:
    plan = load_plan_sum(course)
    info = plan.plan_info
    assert info is not None
    assert info.prescription_gy == pytest.approx(50.4)
    assert info.fractions == 28
    assert info.label == "BOOST + MAIN" or info.label == "MAIN + BOOST"
    assert plan.plan_sum is not None
    parts = {p.label: p for p in plan.plan_sum.parts}
    assert parts["MAIN"].fractions == 25 and parts["BOOST"].fractions == 3
    assert parts["MAIN"].dose_per_fraction_gy == pytest.approx(1.8)
    assert parts["BOOST"].dose_per_fraction_gy == pytest.approx(1.8)
    # The summation grid is the 2 mm grid (finest), which already covers the 3 mm one.
    assert np.allclose(np.diff(plan.dose.x), 2.0) and np.allclose(np.diff(plan.dose.z), 2.0)
    assert plan.dose.x[0] == -30.0 and plan.dose.x[-1] == 60.0
    assert len(plan.files.rtdose) == 2
    (note,) = [w for w in plan.warnings if w.startswith("plan sum of 2 plans")]
    assert "MAIN (45 Gy in 25 fx, 1.8 Gy/fx)" in note and "BOOST (5.4 Gy in 3 fx" in note
    assert "PLAN doses BOOST resampled (trilinear) onto a 46×31×31 grid of 2×2×2 mm" in note
    # The 2 mm grid's margin beyond the 3 mm centres gets 0 Gy from BOOST: said, with the
    # exact number of points, and no ROI reaches there.
    (coverage,) = [w for w in plan.warnings if "does not cover" in w]
    x, y, z = plan.dose.x, plan.dose.y, plan.dose.z
    boost = grid(3.0, 0.5, *INNER, linear_z(5.4, 0.05))
    assert boost.x[0] == -26.5 and boost.x[-1] == 57.5 and boost.z[-1] == 27.5
    pairs = ((x, boost.x), (y, boost.y), (z, boost.z))
    inside = [((c >= b[0]) & (c <= b[-1])).sum() for c, b in pairs]
    n_out = x.size * y.size * z.size - int(np.prod(inside))
    assert f"{n_out:,} of {x.size * y.size * z.size:,} points" in coverage
    assert "BOOST" in coverage and "no ROI reaches there" in coverage


def test_summed_dvh_closed_form(course: Path) -> None:
    plan = load_plan_sum(course)
    (item,) = compute_dvhs(plan, ["PTV"])
    dvh = item.dvh
    # Summed dose d(z) = 50.4 + 0.05 z on the slab z in [-20, 20], area uniform in z.
    assert dvh.volume_cc == pytest.approx(PTV_CC, rel=1e-3)
    assert dvh.outside_grid_cc == pytest.approx(0.0, abs=1e-9)
    assert dvh.min_gy == pytest.approx(49.4, abs=0.01)
    assert dvh.max_gy == pytest.approx(51.4, abs=0.01)
    assert dvh.mean_gy == pytest.approx(50.4, abs=0.005)
    assert parse_metric("D95%[Gy]").evaluate(dvh).value == pytest.approx(49.5, abs=0.01)
    assert parse_metric("D50%[Gy]").evaluate(dvh).value == pytest.approx(50.4, abs=0.01)
    # V(>= 50.9 Gy) is the slab above z = 10 mm: 25 %.
    assert parse_metric("V50.9Gy[%]").evaluate(dvh).value == pytest.approx(25.0, abs=0.1)
    assert parse_metric("V50.9Gy[cc]").evaluate(dvh).value == pytest.approx(PTV_CC / 4, rel=2e-3)


def test_boost_on_finer_grid_extends_its_lattice(tmp_path: Path) -> None:
    # Boost on a 1.5 mm grid smaller than the main plan's 3 mm grid: the summation grid
    # is the 1.5 mm lattice extended over the 3 mm grid's centres.
    main = grid(3.0, 0.0, (-30.0, -30.0, -30.0), (60.0, 30.0, 30.0), uniform(45.0))
    boost = grid(1.5, 0.25, (-20.0, -20.0, -24.0), (55.0, 20.0, 24.0), linear_z(5.4, 0.05))
    x, _, z = summation_axes([main, boost])
    assert np.allclose(np.diff(x), 1.5) and np.allclose(np.diff(z), 1.5)
    assert x[0] <= -30.0 + 1e-6 < x[0] + 1.5 and x[-1] >= 60.0 - 1e-6 > x[-1] - 1.5
    assert np.isclose((x[0] - 0.25) / 1.5, round((x[0] - 0.25) / 1.5))  # same lattice
    folder = write_course(tmp_path / "c", [("MAIN", 45.0, 25, main), ("BOOST", 5.4, 3, boost)])
    plan = load_plan_sum(folder)
    (item,) = compute_dvhs(plan, ["PTV"])
    assert item.dvh.mean_gy == pytest.approx(50.4, abs=0.005)
    assert parse_metric("D95%[Gy]").evaluate(item.dvh).value == pytest.approx(49.5, abs=0.01)


def test_fraction_dose_part_scaled_by_its_own_fractions(tmp_path: Path) -> None:
    # The boost exported per fraction (1.8 + 0.05/3 z Gy): load_plan scales it by the
    # boost RTPLAN's 3 fractions, not by the course's 28.
    main = grid(2.0, 0.0, *WIDE, uniform(45.0))
    boost = grid(3.0, 0.5, *INNER, linear_z(1.8, 0.05 / 3))
    parts = [("MAIN", 45.0, 25, main), ("BOOST", 5.4, 3, boost)]
    plan = load_plan_sum(write_course(tmp_path / "c", parts, summation={"BOOST": "FRACTION"}))
    assert any("multiplied by 3 fractions from RTPLAN" in w for w in plan.warnings)
    (item,) = compute_dvhs(plan, ["PTV"])
    assert item.dvh.mean_gy == pytest.approx(50.4, abs=0.005)
    assert item.dvh.max_gy == pytest.approx(51.4, abs=0.01)


def test_api_load_plan_sum(course: Path) -> None:
    from dosecheck import api

    plan = api.load_plan_sum(course)
    assert plan.plan_sum is not None and len(plan.plan_sum.parts) == 2


def test_part_grid_not_covering_a_structure_warns(tmp_path: Path) -> None:
    # The boost grid's centres stop at z = -8.5 and 9.5 mm: beyond, both ROIs get 0 Gy
    # from it.
    boost = grid(3.0, 0.5, (-28.0, -28.0, -11.0), (58.0, 28.0, 11.0), linear_z(5.4, 0.05))
    plan = load_plan_sum(boost_course(tmp_path / "c", boost))
    (coverage,) = [w for w in plan.warnings if "does not cover" in w]
    assert "BOOST" in coverage and "z -8.5…9.5 mm" in coverage
    assert "ROIs reaching there: PTV, Bag_Bowel" in coverage
    (item,) = compute_dvhs(plan, ["PTV"])
    # Below z = -8.5 - 2 mm the PTV has 45 Gy only: the sum is visibly short there.
    assert item.dvh.min_gy == pytest.approx(45.0, abs=0.01)


def test_find_plan_sum_lists_parts(course: Path) -> None:
    parts = find_plan_sum(course)
    assert sorted((p.label, p.prescription_gy, p.fractions) for p in parts) == [
        ("BOOST", 5.4, 3),
        ("MAIN", 45.0, 25),
    ]


def test_frames_differ_refused(tmp_path: Path) -> None:
    main = grid(2.0, 0.0, *WIDE, uniform(45.0))
    boost = grid(3.0, 0.5, *INNER, linear_z(5.4, 0.05))
    folder = write_course(
        tmp_path / "c",
        [("MAIN", 45.0, 25, main), ("BOOST", 5.4, 3, boost)],
        frames=[FOR, OTHER_FOR],
    )
    # Each part is loaded as a plan: the boost dose is not in the structure set's frame.
    with pytest.raises(DicomInputError, match="FrameOfReferenceUID") as exc:
        load_plan_sum(folder)
    assert exc.value.tag == "FrameOfReferenceUID"
    # Even when the structure set's frame is overridden, doses of two frames never add.
    with pytest.raises(DicomInputError, match="different FrameOfReferenceUIDs") as exc:
        load_plan_sum(folder, allow_frame_mismatch=True)
    assert "rd_BOOST.dcm" in str(exc.value) and "rd_MAIN.dcm" in str(exc.value)
    assert exc.value.tag == "FrameOfReferenceUID"


def test_cli_frames_differ_exit_2(dc, tmp_path: Path) -> None:
    main = grid(2.0, 0.0, *WIDE, uniform(45.0))
    boost = grid(3.0, 0.5, *INNER, linear_z(5.4, 0.05))
    folder = write_course(
        tmp_path / "c",
        [("MAIN", 45.0, 25, main), ("BOOST", 5.4, 3, boost)],
        frames=[FOR, OTHER_FOR],
    )
    code, out, err = dc("check", folder, "--plan-sum", "--allow-frame-mismatch")
    assert code == 2 and out == ""
    assert err.startswith("dosecheck: error: ") and "FrameOfReferenceUID" in err
    assert "doses in different coordinate systems cannot be summed" in err


def test_part_without_fractions_refused(tmp_path: Path) -> None:
    main = grid(2.0, 0.0, *WIDE, uniform(45.0))
    boost = grid(3.0, 0.5, *INNER, linear_z(5.4, 0.05))
    folder = write_course(tmp_path / "c", [("MAIN", 45.0, 25, main), ("BOOST", 5.4, None, boost)])
    with pytest.raises(DicomInputError) as exc:
        load_plan_sum(folder)
    assert exc.value.tag == "NumberOfFractionsPlanned"
    assert exc.value.path is not None and exc.value.path.endswith("rp_BOOST.dcm")
    assert "a plan sum needs each plan's number of fractions" in exc.value.message


def test_part_without_prescription_needs_total(dc, tmp_path: Path) -> None:
    main = grid(2.0, 0.0, *WIDE, uniform(45.0))
    boost = grid(3.0, 0.5, *INNER, linear_z(5.4, 0.05))
    folder = write_course(tmp_path / "c", [("MAIN", 45.0, 25, main), ("BOOST", None, 3, boost)])
    with pytest.raises(DicomInputError) as exc:
        load_plan_sum(folder)
    assert exc.value.tag == "TargetPrescriptionDose"
    assert exc.value.path is not None and exc.value.path.endswith("rp_BOOST.dcm")
    assert "--prescription" in exc.value.message
    plan = load_plan_sum(folder, prescription_gy=50.4)
    assert plan.plan_info is not None and plan.plan_info.prescription_gy is None
    assert plan.plan_info.fractions == 28
    code, _, err = dc("check", folder, "--plan-sum", "-c", "rectum-long-course")
    assert code == 2 and "TargetPrescriptionDose" in err and "rp_BOOST.dcm" in err
    code, out, err = dc(
        "check", folder, "--plan-sum", "-c", "rectum-long-course", "--prescription", "50.4"
    )
    assert code == 0, err
    assert "Prescription: 50.4 Gy in 28 fractions" in out


def test_two_doses_of_one_plan_refused(tmp_path: Path) -> None:
    folder = boost_course(tmp_path / "c")
    import pydicom

    ds = pydicom.dcmread(folder / "rd_BOOST.dcm")
    ds.SOPInstanceUID = generate_uid()
    ds.save_as(folder / "rd_BOOST_copy.dcm")
    with pytest.raises(DicomInputError, match="alternatives") as exc:
        find_plan_sum(folder)
    assert "rd_BOOST.dcm" in exc.value.message and "rd_BOOST_copy.dcm" in exc.value.message


def test_plans_of_two_structure_sets_refused(tmp_path: Path) -> None:
    boost_course(tmp_path / "c" / "a")
    boost_course(tmp_path / "c" / "b")
    with pytest.raises(DicomInputError, match="2 structure sets") as exc:
        find_plan_sum(tmp_path / "c")
    assert exc.value.tag == "ReferencedStructureSetSequence"


def test_single_plan_is_not_a_sum(tmp_path: Path) -> None:
    main = grid(2.0, 0.0, *WIDE, uniform(45.0))
    folder = write_course(tmp_path / "c", [("MAIN", 45.0, 25, main)])
    with pytest.raises(DicomInputError, match="needs at least two"):
        load_plan_sum(folder)
    with pytest.raises(InputError, match="at least two plans"):
        load_plan_sum([find_plan_sum_files(folder)])


def find_plan_sum_files(folder: Path):
    from dosecheck.dicom.discovery import find_plan_files

    return find_plan_files(folder)


def test_too_many_voxels_refused(course: Path, monkeypatch) -> None:
    monkeypatch.setattr(plan_sum_module, "MAX_VOXELS", 1000)
    with pytest.raises(DicomInputError, match="exceeds the 1,000 supported"):
        load_plan_sum(course)


def test_multi_plan_part_refused(tmp_path: Path) -> None:
    folder = boost_course(tmp_path / "c")
    import pydicom

    ds = pydicom.dcmread(folder / "rd_BOOST.dcm")
    ds.DoseSummationType = "MULTI_PLAN"
    ds.save_as(folder / "rd_BOOST.dcm")
    with pytest.raises(DicomInputError, match="already a sum of plans") as exc:
        load_plan_sum(folder)
    assert exc.value.tag == "DoseSummationType"


# --- choosing the set -------------------------------------------------------------------------
def test_plan_sum_set_rules() -> None:
    hit = plan_sum_set([(45.0, 25), (5.4, 3)])
    assert hit is not None and hit.key == "rectum-long-course"
    assert plan_sum_set([(45.0, 25), (5.0, 3)]) is None  # 50 Gy: no set
    assert plan_sum_set([(45.0, 25), (5.4, 4)]) is None  # 29 fractions
    assert plan_sum_set([(25.0, 5), (25.4, 23)]) is None  # one plan alone matches a set
    assert plan_sum_set([(45.0, 25), (5.4, None)]) is None
    assert plan_sum_set([(50.4, 28)]) is None


def test_cli_picks_the_sum_automatically(dc, course: Path) -> None:
    code, out, err = dc("check", course, "--format", "json")
    assert code == 0, err
    data = json.loads(out)
    assert data["constraint_set"]["name"] == "Rectum long course 50.4 Gy in 28 fractions"
    assert data["prescription"] == {
        "dose_gy": pytest.approx(50.4),
        "fractions": 28,
        "source": "RTPLAN",
        "fractions_source": "RTPLAN",
    }
    parts = {p["label"]: p for p in data["plan"]["plan_sum"]["parts"]}
    assert parts["MAIN"]["dose_per_fraction_gy"] == pytest.approx(1.8)
    assert parts["BOOST"]["fractions"] == 3
    assert len(parts["BOOST"]["sha256"]["rtplan"]) == 64
    assert "PLAN SUM chosen automatically" in data["plan"]["plan_sum"]["note"]
    assert data["warnings"][0].startswith("PLAN SUM chosen automatically")
    assert "warning: PLAN SUM chosen automatically" in err
    ptv = {r["metric"]: r for r in data["results"] if r["structure"] == "PTV"}
    assert ptv["V95%[%]"]["value"] == pytest.approx(100.0, abs=0.01)
    # D2% of the summed dose: 51.32 Gy = 101.83 % of 50.4 Gy.
    assert ptv["D2%[%]"]["value"] == pytest.approx(100 * (50.4 + 0.05 * 19.2) / 50.4, abs=0.03)


def test_cli_table_shows_the_sum_prominently(dc, course: Path) -> None:
    code, out, err = dc("check", course)
    assert code == 0, err
    assert "PLAN SUM chosen automatically" in out
    assert "Prescription: 50.4 Gy in 28 fractions (from RTPLAN)" in out


def test_cli_several_plans_suggest_plan_sum(dc, course: Path) -> None:
    code, out, err = dc("check", course, "-c", "rectum-long-course")
    assert code == 2 and out == ""
    assert "found 2 RTPLAN files" in err
    assert "These are 2 plans of one structure set" in err
    assert "BOOST: 5.4 Gy in 3 fractions" in err and "MAIN: 45 Gy in 25 fractions" in err
    assert "pass --plan-sum to check them as one course" in err
    code, out, err = dc("check", course, "-c", "rectum-long-course", "--plan-sum")
    assert code == 0, err
    assert "PLAN SUM chosen automatically" not in out


def test_cli_no_automatic_sum_when_no_set_matches(dc, tmp_path: Path) -> None:
    main = grid(2.0, 0.0, *WIDE, uniform(45.0))
    boost = grid(3.0, 0.5, *INNER, linear_z(5.0, 0.05))
    folder = write_course(tmp_path / "c", [("MAIN", 45.0, 25, main), ("BOOST", 5.0, 3, boost)])
    code, _, err = dc("check", folder)
    assert code == 2
    assert "found 2 RTPLAN files" in err and "pass --plan-sum" in err


def test_cli_plan_sum_refuses_explicit_files(dc, course: Path) -> None:
    code, _, err = dc("check", course, "--plan-sum", "--rtplan", course / "rp_MAIN.dcm")
    assert code == 2
    assert "--plan-sum takes the plan folder" in err


def test_cli_dvh_and_report_plan_sum(dc, course: Path, tmp_path: Path) -> None:
    code, out, err = dc("dvh", course, "--plan-sum", "-s", "PTV", "--format", "json", "-j", "1")
    assert code == 0, err
    data = json.loads(out)
    (roi,) = data["structures"]
    assert roi["mean_gy"] == pytest.approx(50.4, abs=0.005)
    assert len(data["plan"]["plan_sum"]["parts"]) == 2
    report = tmp_path / "r.html"
    code, _, err = dc("report", course, "-o", report)
    assert code == 0, err
    assert "PLAN SUM chosen automatically" in report.read_text(encoding="utf-8")


# --- EQD2 on the voxel-wise sum ----------------------------------------------------------
EQD2_SET = """\
name: EQD2 sum test
prescription: {dose_gy: 70, fractions: 30}
structures:
  - name: PTV
    constraints:
      - {metric: "D50%[Gy]", op: ">=", limit: 80, dose_basis: eqd2, alpha_beta: 3}
      - {metric: "D95%[Gy]", op: ">=", limit: 73, dose_basis: eqd2, alpha_beta: 3}
      - {metric: "V70Gy[%]", op: ">=", limit: 50, dose_basis: set_fractions, alpha_beta: 3}
      - {metric: "Max[Gy]", op: "<=", limit: 90, dose_basis: eqd2, alpha_beta: 10}
      - Mean[Gy] >= 69
"""


def _eqd2_b(d: float) -> float:
    """EQD2 (α/β 3) of d Gy in 5 fractions."""
    return d * (d / 5.0 + 3.0) / 5.0


def test_eqd2_constraints_on_voxelwise_sum(tmp_path: Path) -> None:
    # 45 Gy in 25 fx uniform + (25 + 0.25 z) Gy in 5 fx: EQD2(z) = 43.2 + EQD2_B(z).
    main = grid(2.0, 0.0, *WIDE, uniform(45.0))
    boost = grid(3.0, 0.5, *INNER, linear_z(25.0, 0.25))
    folder = write_course(tmp_path / "c", [("MAIN", 45.0, 25, main), ("SBRT", 25.0, 5, boost)])
    plan = load_plan_sum(folder)
    report = check_plan(plan, load_constraint_set_text(EQD2_SET))
    r = {res.metric: res for res in report.results}
    d50, d95, v70, mx, mean = (
        r["D50%[Gy]"],
        r["D95%[Gy]"],
        r["V70Gy[%]"],
        r["Max[Gy]"],
        r["Mean[Gy]"],
    )
    # D50: z = 0 -> 43.2 + 40 = 83.2 Gy EQD2 (the physical sum's conversion in 30 fx
    # would read 70 Gy as 74.67 Gy EQD2).
    assert d50.evaluated_on == "eqd2_sum" and d50.value == pytest.approx(83.2, abs=0.01)
    assert d50.status == "pass" and d50.limit == 80 and d50.plan_fractions == 30
    assert "voxel-wise EQD2 sum of the plans (α/β 3 Gy)" in d50.message
    # D95: z = -18 -> boost 20.5 Gy -> 43.2 + 29.11 = 72.31 Gy < 73: fails.
    assert d95.value == pytest.approx(43.2 + _eqd2_b(20.5), abs=0.01)
    assert d95.status == "fail"
    # set_fractions: 70 Gy in 30 fx is 74.667 Gy EQD2, reached above the z where
    # EQD2_B = 31.467 Gy: boost D with D²/5 + 3 D = 157.33.
    target = eqd2(70.0, 30, 3.0)
    d_b = (-15.0 + math.sqrt(225.0 + 4.0 * 5.0 * 5.0 * (target - 43.2))) / 2.0
    z_star = (d_b - 25.0) / 0.25
    assert v70.evaluated_on == "eqd2_sum"
    assert v70.value == pytest.approx(100.0 * (20.0 - z_star) / 40.0, abs=0.1)
    assert f"V{round(target, 2)}Gy EQD2" in v70.message
    # α/β 10 gets its own EQD2 dose: max at z = 20 (boost 30 Gy).
    assert mx.value == pytest.approx(45.0 * (1.8 + 10) / 12 + 30.0 * (6.0 + 10) / 12, abs=0.01)
    # A physical constraint stays physical: mean of 45 + 25 + 0.25 z is 70 Gy.
    assert mean.evaluated_on == "physical" and mean.value == pytest.approx(70.0, abs=0.005)
    assert any("voxel-wise EQD2 sum" in w for w in report.prescription_warnings)
    record = report.result_records()[0]
    assert record["evaluated_on"] == "eqd2_sum"


def test_same_dose_per_fraction_equals_conversion(tmp_path: Path) -> None:
    # Both parts give every voxel k(z) = 1.8 + 0.01 z Gy per fraction: the voxel-wise
    # EQD2 sum must agree with converting the limit for 28 fractions of the sum.
    main = grid(2.0, 0.0, *WIDE, linear_z(25 * 1.8, 25 * 0.01))
    boost = grid(3.0, 0.5, *INNER, linear_z(3 * 1.8, 3 * 0.01))
    folder = write_course(tmp_path / "c", [("MAIN", 45.0, 25, main), ("BOOST", 5.4, 3, boost)])
    summed = load_plan_sum(folder)
    text = """\
name: same dpf
prescription: {dose_gy: 50.4, fractions: 28}
structures:
  - name: PTV
    constraints:
      - {metric: "V48.5Gy[%]", op: ">=", limit: 10, dose_basis: eqd2, alpha_beta: 3}
      - {metric: "D50%[Gy]", op: ">=", limit: 40, dose_basis: eqd2, alpha_beta: 3}
"""
    cset = load_constraint_set_text(text)
    on_sum = check_plan(summed, cset)
    single = Plan(
        files=summed.files,
        structure_set=summed.structure_set,
        dose=summed.dose,
        plan_info=summed.plan_info,
    )
    converted = check_plan(single, cset)
    a, b = on_sum.results, converted.results
    assert a[0].evaluated_on == "eqd2_sum" and b[0].evaluated_on == "physical"
    assert a[0].value == pytest.approx(b[0].value, abs=0.15)
    # D50 on the EQD2 sum is the EQD2 of the median physical dose 50.4 Gy in 28 fx.
    assert a[1].value == pytest.approx(eqd2(50.4, 28, 3.0), abs=0.01)
    assert b[1].limit == pytest.approx(physical_dose_for_eqd2(40.0, 28, 3.0), abs=1e-6)


# --- third-party data: two RayStation plans on one structure set ----------------------------
def test_raystation_two_plans_sum(tmp_path: Path) -> None:
    """The IMRT and VMAT plans of pps-brainsrs-raystation (same RTSTRUCT, same 3 mm grid,
    5 fractions each, no TargetPrescriptionDose) summed: on a shared grid nothing is
    resampled, so every ROI's mean dose is the sum of the two plans' means."""
    from dosecheck.api import load_plan
    from tests.helpers.shared_data import shared_dataset

    root = shared_dataset("pps-brainsrs-raystation")
    with pytest.raises(DicomInputError) as exc:
        load_plan_sum(root)
    assert exc.value.tag == "TargetPrescriptionDose"
    plan = load_plan_sum(root, prescription_gy=50.0)
    assert plan.plan_info is not None and plan.plan_info.fractions == 10
    assert not any("does not cover" in w for w in plan.warnings)
    (note,) = [w for w in plan.warnings if w.startswith("plan sum of 2 plans")]
    assert "PLAN doses all on one grid, added on a 63×78×79 grid of 3×3×3 mm" in note
    names = ["BRAIN STEM", "PTV_4", "BRAIN - PTV"]
    summed = {i.structure.name: i.dvh for i in compute_dvhs(plan, names)}
    singles = [
        {i.structure.name: i.dvh for i in compute_dvhs(load_plan(root / sub), names)}
        for sub in ("BrainSRSRaystationIMRT", "BrainSRSRaystationVMAT")
    ]
    for name in names:
        expected = singles[0][name].mean_gy + singles[1][name].mean_gy
        assert summed[name].mean_gy == pytest.approx(expected, abs=0.01)
        assert summed[name].volume_cc == pytest.approx(singles[0][name].volume_cc, rel=1e-9)


# --- more refusals ------------------------------------------------------------------------------
def _part_files(folder: Path, label: str):
    from dosecheck.model import PlanFiles

    return PlanFiles(
        rtstruct=str(folder / "rs.dcm"),
        rtdose=(str(folder / f"rd_{label}.dcm"),),
        rtplan=str(folder / f"rp_{label}.dcm"),
        root=str(folder),
    )


def test_explicit_parts_one_plan_twice_refused(course: Path) -> None:
    main = _part_files(course, "MAIN")
    with pytest.raises(DicomInputError, match="is used by two parts") as exc:
        load_plan_sum([main, main])
    assert exc.value.tag == "SOPInstanceUID"
    assert exc.value.path is not None and exc.value.path.endswith("rp_MAIN.dcm")


def test_explicit_parts_of_two_structure_sets_refused(tmp_path: Path) -> None:
    a, b = boost_course(tmp_path / "a"), boost_course(tmp_path / "b")
    with pytest.raises(DicomInputError, match="must share one structure set") as exc:
        load_plan_sum([_part_files(a, "MAIN"), _part_files(b, "BOOST")])
    assert exc.value.tag == "SOPInstanceUID"
    assert exc.value.path == str(b / "rs.dcm")


def test_explicit_parts_sum_like_the_folder(course: Path) -> None:
    plan = load_plan_sum([_part_files(course, "MAIN"), _part_files(course, "BOOST")])
    assert plan.plan_info is not None and plan.plan_info.label == "MAIN + BOOST"
    (item,) = compute_dvhs(plan, ["PTV"])
    assert item.dvh.mean_gy == pytest.approx(50.4, abs=0.005)


def test_dose_without_structure_set_refused(tmp_path: Path) -> None:
    folder = boost_course(tmp_path / "c")
    (folder / "rs.dcm").unlink()
    with pytest.raises(DicomInputError, match="cannot form a plan sum"):
        find_plan_sum(folder)


def test_zip_and_file_refused(course: Path, tmp_path: Path) -> None:
    import zipfile

    archive = tmp_path / "course.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for f in course.iterdir():
            zf.write(f, f"c/{f.name}")
    with pytest.raises(InputError, match="is not a folder"):
        find_plan_sum(archive)
    with pytest.raises(DicomInputError, match="extract it"):
        plan_sum_module._discovered_plans(archive)


def test_single_plane_finest_grid_cannot_extend() -> None:
    # A single-plane grid has no z spacing: it is never the finest unless all are.
    thin = grid(1.0, 0.0, (-5.0, -5.0, 0.0), (5.0, 5.0, 0.0), uniform(2.0))
    wide = grid(3.0, 0.0, (-9.0, -9.0, -9.0), (9.0, 9.0, 9.0), uniform(2.0))
    assert thin.z.size == 1
    assert np.allclose(np.diff(summation_axes([thin, wide])[2]), 3.0)
    other = grid(1.0, 0.0, (-5.0, -5.0, 4.0), (5.0, 5.0, 4.0), uniform(2.0))
    with pytest.raises(DicomInputError, match="single z position"):
        summation_axes([thin, other])


def test_cli_no_automatic_sum_of_two_versions_of_one_plan(dc, tmp_path: Path) -> None:
    """Two RTPLANs with one label and prescription (25.2 Gy in 14 fractions each) add up
    to the long course, but they look like two versions of one plan: never summed unasked
    (the sum would count the dose twice)."""
    folder = tmp_path / "versions"
    folder.mkdir()
    ss_uid = write_rtstruct(folder / "rs.dcm", structure_set())
    for i in (1, 2):
        plan_uid = write_rtplan(
            folder / f"rp_{i}.dcm",
            PlanInfo(label="PHASE1", prescription_gy=25.2, fractions=14, patient_id="P1"),
            referenced_structure_set_uid=ss_uid,
        )
        write_rtdose(
            folder / f"rd_{i}.dcm",
            grid(2.0, 0.0, *WIDE, uniform(25.2)),
            referenced_plan_uid=plan_uid,
            patient_id="P1",
        )
    code, _, err = dc("check", folder)
    assert code == 2
    assert "some share their label and prescription: versions of one plan" in err
    assert "PLAN SUM chosen automatically" not in err
