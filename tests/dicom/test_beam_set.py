"""Summed BEAM doses must be the RTPLAN's beams, each once (ReferencedBeamNumber)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.uid import generate_uid

from dosecheck.dicom.beam_set import check_beam_set
from dosecheck.dicom.dose import read_rtdose
from dosecheck.dicom.dose_sum import combine_doses
from dosecheck.dicom.load import load_plan
from dosecheck.dicom.writer import write_rtdose, write_rtplan, write_rtstruct
from dosecheck.errors import DicomInputError
from dosecheck.model import BeamDoseInfo, DoseGrid, PlanInfo
from tests.helpers.batch_plans import write_box_plan
from tests.helpers.cli import run_cli
from tests.helpers.rt_folders import FOR_UID, dose_grid, structure_set, write_export

CSET = ["--constraints", "rectum-long-course"]


def reexport(src: Path, dst: Path, *, beam: int | str | None = None) -> Path:
    """A copy of ``src`` under a new SOPInstanceUID (and, if given, another beam number;
    a string is written as text, for a value that is not a number)."""
    ds = pydicom.dcmread(src)
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    if beam is not None:
        item = ds.ReferencedRTPlanSequence[0].ReferencedFractionGroupSequence[0]
        beam_item = item.ReferencedBeamSequence[0]
        if isinstance(beam, str):
            del beam_item.ReferencedBeamNumber
            beam_item.add_new(0x300C0006, "LO", beam)
        else:
            beam_item.ReferencedBeamNumber = beam
    ds.save_as(dst)
    return dst


def test_writer_and_reader_round_trip_the_beam_number(tmp_path: Path) -> None:
    uid = generate_uid()
    write_rtdose(
        tmp_path / "b3.dcm",
        dose_grid(1.0, "BEAM"),
        referenced_plan_uid=uid,
        referenced_beam_number=3,
    )
    write_rtdose(
        tmp_path / "b5.dcm",
        dose_grid(2.0, "BEAM"),
        referenced_plan_uid=uid,
        referenced_beam_number=5,
    )
    write_rtdose(tmp_path / "plain.dcm", dose_grid(2.0, "BEAM"), referenced_plan_uid=uid)
    b3, b5 = read_rtdose(tmp_path / "b3.dcm"), read_rtdose(tmp_path / "b5.dcm")
    assert b3.referenced_beam_numbers == (3,) and b5.referenced_beam_numbers == (5,)
    assert read_rtdose(tmp_path / "plain.dcm").referenced_beam_numbers == ()
    assert combine_doses([b3, b5]).referenced_beam_numbers == (3, 5)
    with pytest.raises(ValueError, match="needs a referenced_plan_uid"):
        write_rtdose(tmp_path / "x.dcm", dose_grid(), referenced_beam_number=1)
    reexport(tmp_path / "b3.dcm", tmp_path / "bad.dcm", beam="x")
    with pytest.raises(DicomInputError, match="ReferencedBeamNumber") as info:
        read_rtdose(tmp_path / "bad.dcm")
    assert "bad.dcm" in str(info.value) and "not an integer" in str(info.value)


def test_complete_set_passes_and_says_what_was_checked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    write_box_plan(tmp_path, beam_doses=3, plan_dose=False)
    plan = load_plan(tmp_path)
    note = (
        "the 3 BEAM doses are beams 1-3 of RP.dcm, each once: every beam of its first "
        "fraction group expected to have dose (all beams listed, as it gives no BeamDose > 0) "
        "is there (ReferencedBeamNumber)"
    )
    assert note in plan.warnings
    r = run_cli(["check", tmp_path, "--format", "json", *CSET], capsys, monkeypatch)
    assert r.code == 0
    assert note in r.stdout and note in json.dumps(json.loads(r.stdout))


def test_missing_beam_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    written = write_box_plan(tmp_path, beam_doses=3, plan_dose=False)
    (tmp_path / "RD_beam2.dcm").unlink()
    r = run_cli(["check", tmp_path, *CSET], capsys, monkeypatch)
    assert r.code == 2
    lines = r.stderr.strip().splitlines()
    assert lines == [
        f"dosecheck: error: {written.rtplan}: ReferencedBeamNumber (300C,0006): RP.dcm has "
        "beam 2 (it gives no BeamDose > 0) but there is no BEAM dose of it among the 2 found "
        "(RD_beam1.dcm (beam 1); RD_beam3.dcm (beam 3)); the summed dose would miss it: "
        "export every beam's dose, or the PLAN dose"
    ]


def test_duplicate_beam_names_both_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    write_box_plan(tmp_path, beam_doses=2, plan_dose=False)
    again = reexport(tmp_path / "RD_beam1.dcm", tmp_path / "RD_beam1_again.dcm")
    r = run_cli(["check", tmp_path, *CSET], capsys, monkeypatch)
    assert r.code == 2
    assert r.stderr.strip() == (
        f"dosecheck: error: {again}: ReferencedBeamNumber (300C,0006): beam 1 has 2 BEAM "
        "doses (RD_beam1.dcm, RD_beam1_again.dcm): copies or re-exports of one beam would be "
        "summed twice; pass the beam doses to sum with --rtdose, one file per beam"
    )
    # Passing one file per beam works.
    r = run_cli(
        ["check", tmp_path, "--rtdose", again, "--rtdose", tmp_path / "RD_beam2.dcm", *CSET],
        capsys,
        monkeypatch,
    )
    assert r.code == 0


def test_beam_the_rtplan_does_not_list(tmp_path: Path) -> None:
    write_box_plan(tmp_path, beam_doses=2, plan_dose=False)
    other = reexport(tmp_path / "RD_beam2.dcm", tmp_path / "RD_beam7.dcm", beam=7)
    with pytest.raises(DicomInputError) as info:
        load_plan(tmp_path)
    assert str(info.value) == (
        f"{other}: ReferencedBeamNumber (300C,0006): BEAM dose RD_beam7.dcm is of beam 7, "
        "which RP.dcm does not list (its beams: 1-2): a dose of another plan? Pass the beam "
        "doses of this plan with --rtdose"
    )


def test_beam_dose_sets_the_expected_beams(tmp_path: Path) -> None:
    """BeamDose > 0 on beams 1 and 2; beam 3 (a setup beam, no BeamDose) needs no dose,
    beam 4 (BeamDose 0) may have one."""
    write_rtstruct(tmp_path / "rs.dcm", structure_set())
    info = PlanInfo(
        label="P",
        patient_id="P1",
        prescription_gy=2.0,
        fractions=1,
        beam_doses=(
            BeamDoseInfo(1, 0.6),
            BeamDoseInfo(2, 0.4),
            BeamDoseInfo(3),
            BeamDoseInfo(4, 0.0),
        ),
    )
    uid = write_rtplan(tmp_path / "rp.dcm", info)
    for b, gy in ((1, 1.2), (2, 0.8)):
        write_rtdose(
            tmp_path / f"b{b}.dcm",
            dose_grid(gy, "BEAM"),
            referenced_plan_uid=uid,
            referenced_beam_number=b,
            patient_id="P1",
        )
    plan = load_plan(tmp_path)
    assert plan.dose.max_gy == pytest.approx(2.0, rel=1e-6)
    assert (
        "the 2 BEAM doses are beams 1-2 of rp.dcm, each once: every beam of its first fraction "
        "group expected to have dose (those with BeamDose > 0) is there; beams 3-4 without "
        "BeamDose > 0 have no BEAM dose (ReferencedBeamNumber)"
    ) in plan.warnings
    (tmp_path / "b2.dcm").unlink()
    write_rtdose(
        tmp_path / "b4.dcm",
        dose_grid(0.8, "BEAM"),
        referenced_plan_uid=uid,
        referenced_beam_number=4,
        patient_id="P1",
    )
    with pytest.raises(DicomInputError, match=r"rp\.dcm has beam 2 with BeamDose > 0 but there"):
        load_plan(tmp_path)


def test_beams_without_numbers_or_rtplan_warn(tmp_path: Path) -> None:
    write_box_plan(tmp_path / "a", beam_doses=2, plan_dose=False, references=False)
    plan = load_plan(tmp_path / "a")
    assert (
        "the 2 BEAM doses summed (RD_beam1.dcm, RD_beam2.dcm) cannot be verified to be every "
        "beam of the plan, once each: none of them names its beam (ReferencedRTPlanSequence > "
        "ReferencedFractionGroupSequence > ReferencedBeamSequence > ReferencedBeamNumber); "
        "RP.dcm lists beams 1-2"
    ) in plan.warnings
    write_box_plan(tmp_path / "b", beam_doses=2, plan_dose=False, rtplan=False)
    plan = load_plan(tmp_path / "b")
    assert (
        "the 2 BEAM doses summed (RD_beam1.dcm, RD_beam2.dcm) cannot be verified to be every "
        "beam of the plan, once each: there is no RTPLAN to list the beams; check the export "
        "is complete"
    ) in plan.warnings


def test_file_count_shows_a_missing_beam_without_numbers(tmp_path: Path) -> None:
    """No ReferencedBeamNumber, but 2 files for an RTPLAN with 3 beams: one is missing."""
    written = write_box_plan(tmp_path, beam_doses=3, plan_dose=False, references=False)
    (tmp_path / "RD_beam3.dcm").unlink()
    with pytest.raises(DicomInputError) as info:
        load_plan(tmp_path)
    assert str(info.value) == (
        f"{written.rtplan}: ReferencedBeamNumber (300C,0006): 2 BEAM doses (RD_beam1.dcm, "
        "RD_beam2.dcm) were found for RP.dcm, fewer than the 3 beams it expects to have dose "
        "(beams 1-3), and none of them names its beam: a beam's dose is missing; export every "
        "beam's dose once, or the PLAN dose"
    )


def test_beside_a_plan_dose_a_mismatch_is_a_warning(tmp_path: Path) -> None:
    write_export(tmp_path / "good")
    plan = load_plan(tmp_path / "good")
    assert any(w.startswith("the 2 BEAM doses are beams 1-2 of rp.dcm") for w in plan.warnings)
    write_export(tmp_path / "bad", beams=(1,))
    plan = load_plan(tmp_path / "bad")  # the PLAN dose is used: no error
    assert (
        "BEAM doses do not match the RTPLAN's beams: rp.dcm has beam 2 (it gives no BeamDose "
        "> 0) but there is no BEAM dose of it among the 1 found (rd_beam1.dcm (beam 1)); the "
        "summed dose would miss it: export every beam's dose, or the PLAN dose"
    ) in plan.warnings


def test_check_beam_set_multiple_findings_are_joined() -> None:
    x = np.arange(3.0)
    info = PlanInfo(path="/p/rp.dcm", beam_doses=(BeamDoseInfo(1, 1.0), BeamDoseInfo(2, 1.0)))

    def beam(name: str, number: int) -> DoseGrid:
        return DoseGrid(
            x,
            x,
            x,
            np.ones((3, 3, 3), np.float32),
            frame_of_reference_uid=FOR_UID,
            summation_type="BEAM",
            sources=(f"/p/{name}",),
            referenced_beam_numbers=(number,),
        )

    note = check_beam_set(
        [beam("a.dcm", 1), beam("b.dcm", 1), beam("c.dcm", 9)], info, refuse=False
    )
    assert note.startswith("BEAM doses do not match the RTPLAN's beams: beam 1 has 2 BEAM doses")
    assert "; BEAM dose c.dcm is of beam 9, which rp.dcm does not list (its beams: 1-2)" in note
    assert "; rp.dcm has beam 2 with BeamDose > 0 but there is no BEAM dose of it" in note
