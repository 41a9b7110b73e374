"""RTPLAN reading, plan-file discovery and whole-plan loading."""

from __future__ import annotations

import os
from pathlib import Path

import pydicom
import pytest
from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from dosecheck.dicom.discovery import find_plan_files
from dosecheck.dicom.load import load_plan
from dosecheck.dicom.plan import read_rtplan
from dosecheck.dicom.writer import write_rtplan, write_rtstruct
from dosecheck.errors import DicomInputError, InputError
from dosecheck.model import PlanFiles, PlanInfo
from tests.helpers.rt_folders import (
    FOR_UID,
    dose_grid,
    structure_set,
    write_plan_folder,
    write_rtdose,
)
from tests.helpers.shared_data import shared_dataset


def write_ct(path: Path) -> None:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = "CT"
    ds.save_as(path, enforce_file_format=True)


# --------------------------------------------------------------------------- RTPLAN


def test_rtplan_round_trip(tmp_path: Path) -> None:
    info = PlanInfo(
        label="Prostate",
        name="Prostate VMAT",
        prescription_gy=60.0,
        fractions=20,
        referenced_structure_set_uid="1.2.3",
        frame_of_reference_uid=FOR_UID,
        patient_id="P7",
    )
    path = tmp_path / "rp.dcm"
    uid = write_rtplan(path, info)
    ds = pydicom.dcmread(path)
    assert ds.SOPClassUID == "1.2.840.10008.5.1.4.1.1.481.5"
    assert ds.DoseReferenceSequence[0].DoseReferenceStructureType == "SITE"
    assert ds.DoseReferenceSequence[0].DoseReferenceType == "TARGET"
    read = read_rtplan(path)
    assert read == PlanInfo(
        path=str(path),
        label="Prostate",
        name="Prostate VMAT",
        sop_instance_uid=uid,
        prescription_gy=60.0,
        fractions=20,
        referenced_structure_set_uid="1.2.3",
        frame_of_reference_uid=FOR_UID,
        patient_id="P7",
        prescription_levels_gy=(60.0,),
    )


def test_rtplan_max_prescription_and_absent_fields(tmp_path: Path) -> None:
    path = tmp_path / "rp.dcm"
    write_rtplan(path, PlanInfo(label="A", prescription_gy=50.0, fractions=25))
    ds = pydicom.dcmread(path)
    boost = Dataset()
    boost.DoseReferenceNumber = 2
    boost.DoseReferenceStructureType = "SITE"
    boost.DoseReferenceType = "TARGET"
    boost.TargetPrescriptionDose = "62.5"
    organ = Dataset()
    organ.DoseReferenceNumber = 3
    organ.DoseReferenceType = "ORGAN_AT_RISK"
    ds.DoseReferenceSequence.extend([boost, organ])
    ds.save_as(path)
    assert read_rtplan(path).prescription_gy == 62.5

    bare = tmp_path / "bare.dcm"
    write_rtplan(bare, PlanInfo(label="B"))
    info = read_rtplan(bare)
    assert (info.prescription_gy, info.fractions, info.referenced_structure_set_uid) == (
        None,
        None,
        "",
    )


def test_rtplan_bad_fractions(tmp_path: Path) -> None:
    path = tmp_path / "rp_zero.dcm"
    write_rtplan(path, PlanInfo(label="A", fractions=0))
    with pytest.raises(DicomInputError, match="NumberOfFractionsPlanned") as info:
        read_rtplan(path)
    assert "rp_zero.dcm" in str(info.value) and "--fractions" in str(info.value)


def test_rtplan_wrong_modality(tmp_path: Path) -> None:
    path = tmp_path / "rs.dcm"
    write_rtstruct(path, structure_set())
    with pytest.raises(
        DicomInputError, match=r"rs\.dcm: Modality \(0008,0060\): is 'RTSTRUCT', expected RTPLAN"
    ):
        read_rtplan(path)


def test_real_rtplans() -> None:
    info = read_rtplan(shared_dataset("dicompyler-core-example") / "rtplan.dcm")
    assert (info.label, info.prescription_gy, info.fractions) == ("B1", 14.0, 7)
    assert info.referenced_structure_set_uid == "1.2.246.352.71.4.320687012.3190.20090511122144"
    gk = read_rtplan(shared_dataset("pps-gammaknife-gfov-negative") / "RTPLAN.dcm")
    assert (gk.prescription_gy, gk.fractions) == (None, 1)


# --------------------------------------------------------------------------- discovery


def test_discover_ignores_other_files(tmp_path: Path) -> None:
    paths = write_plan_folder(tmp_path / "plan" / "nested")
    write_ct(tmp_path / "plan" / "ct1.dcm")
    (tmp_path / "plan" / "README.md").write_text("not dicom")
    (tmp_path / "plan" / "empty.dcm").write_bytes(b"")
    os.symlink(tmp_path / "plan", tmp_path / "plan" / "nested" / "loop")  # a symlink loop
    files = find_plan_files(tmp_path / "plan")
    assert files == PlanFiles(
        rtstruct=str(paths["rs"]),
        rtdose=(str(paths["rd"]),),
        rtplan=str(paths["rp"]),
        root=str(tmp_path / "plan"),
    )


def test_discover_without_plan(tmp_path: Path) -> None:
    paths = write_plan_folder(tmp_path)
    paths["rp"].unlink()
    files = find_plan_files(tmp_path)
    assert files.rtplan is None and files.rtstruct == str(paths["rs"])


def test_discover_resolves_by_references(tmp_path: Path) -> None:
    """Two RTSTRUCTs and two RTPLANs, but the dose points at one plan and structure set."""
    paths = write_plan_folder(tmp_path)
    write_rtstruct(tmp_path / "rs_other.dcm", structure_set())
    write_rtplan(tmp_path / "rp_other.dcm", PlanInfo(label="Other"))
    files = find_plan_files(tmp_path)
    assert (files.rtstruct, files.rtplan) == (str(paths["rs"]), str(paths["rp"]))
    assert files.rtdose == (str(paths["rd"]),)


def test_discover_ambiguous_structures(tmp_path: Path) -> None:
    write_rtstruct(tmp_path / "rs_a.dcm", structure_set())
    write_rtstruct(tmp_path / "rs_b.dcm", structure_set())
    write_rtdose(tmp_path / "rd.dcm", dose_grid())
    with pytest.raises(DicomInputError) as info:
        find_plan_files(tmp_path)
    message = str(info.value)
    assert "found 2 RTSTRUCT files" in message
    assert "rs_a.dcm" in message and "rs_b.dcm" in message and "--rtstruct" in message


def test_discover_ambiguous_plans(tmp_path: Path) -> None:
    write_plan_folder(tmp_path / "a", tag="a")
    write_plan_folder(tmp_path / "b", tag="b")
    with pytest.raises(DicomInputError) as info:
        find_plan_files(tmp_path)
    message = str(info.value)
    assert "found 2 RTPLAN files" in message
    assert "rpa.dcm" in message and "rpb.dcm" in message and "--rtplan" in message


def test_discover_explicit_plan_disambiguates(tmp_path: Path) -> None:
    write_plan_folder(tmp_path / "a", tag="a")
    b = write_plan_folder(tmp_path / "b", tag="b")
    files = find_plan_files(tmp_path, rtplan=b["rp"])
    assert files.rtplan == str(b["rp"])
    assert files.rtstruct == str(b["rs"])
    assert files.rtdose == (str(b["rd"]),)


def test_discover_missing_parts(tmp_path: Path) -> None:
    write_rtdose(tmp_path / "rd.dcm", dose_grid())
    with pytest.raises(DicomInputError, match="contains no RTSTRUCT file") as info:
        find_plan_files(tmp_path)
    assert str(tmp_path) in str(info.value)
    (tmp_path / "rd.dcm").unlink()
    write_rtstruct(tmp_path / "rs.dcm", structure_set())
    with pytest.raises(DicomInputError, match="contains no RTDOSE file"):
        find_plan_files(tmp_path)


def test_discover_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="folder not found"):
        find_plan_files(tmp_path / "nope")


def test_discover_real_folders() -> None:
    folder = shared_dataset("dicompyler-core-example")
    files = find_plan_files(folder)
    assert Path(files.rtstruct).name == "rtss.dcm"
    assert [Path(p).name for p in files.rtdose] == ["rtdose.dcm"]
    assert Path(files.rtplan or "").name == "rtplan.dcm"
    brain = shared_dataset("pps-brainsrs-raystation")
    with pytest.raises(DicomInputError, match="found 2 RTPLAN files") as info:
        find_plan_files(brain)
    assert "BrainSRSRaystationIMRT" in str(info.value) and "BrainSRSRaystationVMAT" in str(
        info.value
    )


# --------------------------------------------------------------------------- load_plan


def test_load_plan_folder(tmp_path: Path) -> None:
    write_plan_folder(tmp_path)
    plan = load_plan(tmp_path)
    assert plan.structure_set.names == ["PTV"]
    assert plan.dose.max_gy == pytest.approx(2.0)
    assert plan.plan_info is not None and plan.plan_info.fractions == 28
    assert plan.warnings == []


def test_load_plan_fraction_dose_from_rtplan(tmp_path: Path) -> None:
    write_plan_folder(tmp_path, summation_type="FRACTION")
    plan = load_plan(tmp_path)
    assert plan.dose.max_gy == pytest.approx(56.0, rel=1e-6)
    assert plan.dose.summation_type == "PLAN"
    assert "dose is per fraction; multiplied by 28 fractions from RTPLAN" in plan.warnings


def test_load_plan_fraction_dose_from_option(tmp_path: Path) -> None:
    write_plan_folder(tmp_path, summation_type="FRACTION")
    plan = load_plan(tmp_path, fractions=5)
    assert plan.dose.max_gy == pytest.approx(10.0, rel=1e-6)
    assert "dose is per fraction; multiplied by 5 fractions from --fractions" in plan.warnings


def test_load_plan_fraction_dose_without_count(tmp_path: Path) -> None:
    paths = write_plan_folder(tmp_path, summation_type="FRACTION", fractions=None)
    with pytest.raises(DicomInputError, match="--fractions") as info:
        load_plan(tmp_path)
    assert paths["rd"].name in str(info.value) and "DoseSummationType" in str(info.value)


def test_load_plan_frame_mismatch(tmp_path: Path) -> None:
    write_rtstruct(tmp_path / "rs.dcm", structure_set(frame="1.2.3.4"))
    write_rtdose(tmp_path / "rd.dcm", dose_grid())
    with pytest.raises(DicomInputError, match="FrameOfReferenceUID") as info:
        load_plan(tmp_path)
    assert "--allow-frame-mismatch" in str(info.value) and "rd.dcm" in str(info.value)
    plan = load_plan(tmp_path, allow_frame_mismatch=True)
    assert any("differs" in w for w in plan.warnings)


def test_load_plan_explicit_files_and_beam_sum(tmp_path: Path) -> None:
    write_rtstruct(tmp_path / "rs.dcm", structure_set())
    write_rtdose(tmp_path / "beam1.dcm", dose_grid(1.0, "BEAM"))
    write_rtdose(tmp_path / "beam2.dcm", dose_grid(1.5, "BEAM"))
    plan = load_plan(
        rtstruct=tmp_path / "rs.dcm", rtdose=[tmp_path / "beam1.dcm", tmp_path / "beam2.dcm"]
    )
    assert plan.dose.max_gy == pytest.approx(2.5, rel=1e-6)
    assert plan.dose.summation_type == "PLAN"
    assert plan.plan_info is None


def test_load_plan_missing_paths(tmp_path: Path) -> None:
    write_rtstruct(tmp_path / "rs.dcm", structure_set())
    with pytest.raises(InputError, match=r"missing_dose\.dcm"):
        load_plan(rtstruct=tmp_path / "rs.dcm", rtdose=[tmp_path / "missing_dose.dcm"])
    with pytest.raises(InputError, match=r"no_such_folder"):
        load_plan(tmp_path / "no_such_folder")
    with pytest.raises(InputError, match="--rtstruct and --rtdose"):
        load_plan(None)


def test_load_plan_bad_fraction_option(tmp_path: Path) -> None:
    write_plan_folder(tmp_path)
    with pytest.raises(InputError, match="at least 1"):
        load_plan(tmp_path, fractions=0)


def test_load_real_plan() -> None:
    plan = load_plan(shared_dataset("dicompyler-core-example"))
    assert plan.plan_info is not None and plan.plan_info.prescription_gy == 14.0
    assert plan.dose.shape == (98, 129, 194)
    assert len(plan.structure_set.structures) == 10
    assert plan.warnings == []


# ------------------------------------------------------------------- RTDOSE copies and alternatives


def test_discover_copied_rtdose_counts_once(tmp_path: Path) -> None:
    """A copy of the RTDOSE (same SOPInstanceUID) used to be summed: double dose."""
    paths = write_plan_folder(tmp_path)
    (tmp_path / "rd_copy.dcm").write_bytes(paths["rd"].read_bytes())
    files = find_plan_files(tmp_path)
    assert files.rtdose == (str(paths["rd"]),)
    assert load_plan(tmp_path).dose.max_gy == pytest.approx(2.0)


def test_discover_truncated_copy_does_not_shadow_the_good_file(tmp_path: Path) -> None:
    paths = write_plan_folder(tmp_path)
    data = paths["rd"].read_bytes()
    (tmp_path / "0_rd_truncated.dcm").write_bytes(data[: len(data) - 100])  # found first
    files = find_plan_files(tmp_path)
    assert files.rtdose == (str(paths["rd"]),)
    assert load_plan(tmp_path).dose.max_gy == pytest.approx(2.0)


@pytest.mark.parametrize("summation_type", ["PLAN", "FRACTION"])
def test_discover_refuses_two_plan_doses(tmp_path: Path, summation_type: str) -> None:
    paths = write_plan_folder(tmp_path, summation_type=summation_type)
    plan_uid = read_rtplan(paths["rp"]).sop_instance_uid
    other = tmp_path / "rd_reexport.dcm"
    write_rtdose(other, dose_grid(summation_type=summation_type), referenced_plan_uid=plan_uid)
    with pytest.raises(DicomInputError) as info:
        find_plan_files(tmp_path)
    message = str(info.value)
    assert "found 2 plan-dose RTDOSE files" in message
    assert str(paths["rd"]) in message and str(other) in message
    assert "pass the one to use with --rtdose (repeat --rtdose to sum doses on purpose)" in message
    # explicitly repeated --rtdose still sums
    plan = load_plan(tmp_path, rtdose=[paths["rd"], other])
    expected = 4.0 if summation_type == "PLAN" else 4.0 * 28
    assert plan.dose.max_gy == pytest.approx(expected, rel=1e-6)
    assert any("summed 2" in w for w in plan.warnings)


def test_discover_sums_beam_doses(tmp_path: Path) -> None:
    write_rtstruct(tmp_path / "rs.dcm", structure_set())
    write_rtdose(tmp_path / "beam1.dcm", dose_grid(1.0, "BEAM"))
    write_rtdose(tmp_path / "beam2.dcm", dose_grid(1.5, "BEAM"))
    files = find_plan_files(tmp_path)
    assert len(files.rtdose) == 2
    plan = load_plan(tmp_path)
    assert plan.dose.max_gy == pytest.approx(2.5, rel=1e-6)
    assert any(
        "summed 2 BEAM doses into a PLAN dose (beam1.dcm, beam2.dcm)" in w for w in plan.warnings
    )


def test_discover_doses_of_different_plans_without_rtplan(tmp_path: Path) -> None:
    """Used to raise TypeError (exit 3): _ambiguous() was called with 5 arguments."""
    write_rtstruct(tmp_path / "rs.dcm", structure_set())
    write_rtdose(tmp_path / "rd_a.dcm", dose_grid(), referenced_plan_uid=generate_uid())
    write_rtdose(tmp_path / "rd_b.dcm", dose_grid(), referenced_plan_uid=generate_uid())
    with pytest.raises(DicomInputError) as info:
        find_plan_files(tmp_path)
    message = str(info.value)
    assert "found 2 RTDOSE files that belong to different plans" in message
    assert "rd_a.dcm" in message and "rd_b.dcm" in message and "--rtdose" in message


# --------------------------------------------------------------------------- reader notes


def test_load_plan_reports_reader_notes(tmp_path: Path) -> None:
    paths = write_plan_folder(tmp_path)
    ds = pydicom.dcmread(paths["rs"])
    items = ds.ROIContourSequence[0].ContourSequence
    items[0].ContourGeometricType = "OPEN_PLANAR"
    items[1].ContourGeometricType = "POINT"
    ds.save_as(paths["rs"])
    ds = pydicom.dcmread(paths["rd"])
    del ds.DoseSummationType
    ds.save_as(paths["rd"])
    plan = load_plan(tmp_path)
    assert "PTV: skipped 1 OPEN_PLANAR contour (only CLOSED_PLANAR are used)" in plan.warnings
    assert "PTV: skipped 1 POINT contour (only CLOSED_PLANAR are used)" in plan.warnings
    assert "rd.dcm: DoseSummationType is missing; assumed to be the plan dose" in plan.warnings
    assert plan.dose.summation_type == "PLAN"
