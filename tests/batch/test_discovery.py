"""Discovery for ``dosecheck batch``: grouping RT files into plans from headers only."""

from __future__ import annotations

import os
import shutil
import zipfile
from pathlib import Path

import pytest

from dosecheck.batch.protocol_map import load_protocol_map
from dosecheck.dicom.discovery import discover
from dosecheck.dicom.files import FileRef
from dosecheck.dicom.headers import read_rt_header as read_header
from dosecheck.errors import ConstraintFileError, InputError
from tests.helpers.batch_plans import uid, write_box_plan, write_ct_slice
from tests.helpers.cli import run_cli
from tests.helpers.paths import REPO


def _names(files: tuple[FileRef, ...] | list[FileRef]) -> list[str]:
    return sorted(f.name for f in files)


def test_references_group_two_plans_in_one_folder(tmp_path: Path) -> None:
    """Two plans of one patient whose files share a folder are told apart by their
    references, not by the folder."""
    folder = tmp_path / "patient"
    a = write_box_plan(folder, patient_id="P1", label="PLAN_A", prefix="a_")
    b = write_box_plan(folder, patient_id="P1", label="PLAN_B", prefix="b_", outcome="fail")
    d = discover([tmp_path])
    assert len(d.plans) == 2
    by_label = {p.plan_label: p for p in d.plans}
    for written, plan in ((a, by_label["PLAN_A"]), (b, by_label["PLAN_B"])):
        assert plan.grouping == "references"
        assert plan.problem is None
        assert plan.rtstruct is not None and Path(plan.rtstruct.path) == written.rtstruct
        assert plan.rtplan is not None and Path(plan.rtplan.path) == written.rtplan
        assert [Path(f.path) for f in plan.rtdose] == list(written.rtdose)
        assert plan.plan_uid == written.plan_uid
        assert plan.structure_set_uid == written.struct_uid
        assert plan.patient_id == "P1"
        assert plan.path == str(folder)
    assert by_label["PLAN_A"].prescription_gy == pytest.approx(50.4)
    assert by_label["PLAN_A"].fractions == 28


def test_fallback_to_frame_of_reference(tmp_path: Path) -> None:
    """Without ReferencedRTPlanSequence / ReferencedStructureSetSequence the files are
    grouped through the shared FrameOfReferenceUID; another patient's structure set in
    the same archive is not picked up."""
    w = write_box_plan(tmp_path / "p1", patient_id="P1", references=False)
    write_box_plan(tmp_path / "p2", patient_id="P2", references=True)
    d = discover([tmp_path])
    plan = next(p for p in d.plans if p.patient_id == "P1")
    assert "RTPLAN by FrameOfReferenceUID" in plan.grouping
    assert "RTSTRUCT by FrameOfReferenceUID" in plan.grouping
    assert plan.rtstruct is not None and Path(plan.rtstruct.path) == w.rtstruct
    assert plan.rtplan is not None and Path(plan.rtplan.path) == w.rtplan
    assert len(d.plans) == 2


def test_fallback_to_study(tmp_path: Path) -> None:
    """A structure set in another frame of reference but the same study is found
    through StudyInstanceUID when no reference or frame links it."""
    study = uid("study-fallback")
    w = write_box_plan(
        tmp_path,
        rtplan=False,
        references=False,
        study_uid=study,
        frame_uid=uid("dose-frame"),
        struct_frame_uid=uid("struct-frame"),
    )
    d = discover([tmp_path])
    assert len(d.plans) == 1
    plan = d.plans[0]
    assert plan.grouping == "RTSTRUCT by StudyInstanceUID"
    assert plan.rtstruct is not None and Path(plan.rtstruct.path) == w.rtstruct
    assert plan.rtplan is None


def test_ambiguous_fallback_is_a_problem(tmp_path: Path) -> None:
    """Two structure sets share the dose's frame of reference and nothing says which
    one belongs to it: the plan is reported with a problem, not guessed."""
    frame = uid("shared-frame")
    study = uid("shared-study")
    write_box_plan(tmp_path / "a", rtplan=False, references=False, frame_uid=frame, study_uid=study)
    shared = {"rtplan": False, "references": False, "frame_uid": frame, "study_uid": study}
    write_box_plan(tmp_path / "b", plan_dose=False, **shared)  # a second RTSTRUCT, no dose
    d = discover([tmp_path])
    assert len(d.plans) == 1
    # Same-folder preference resolves it: the dose in a/ takes the RTSTRUCT in a/.
    assert d.plans[0].problem is None
    assert d.plans[0].rtstruct is not None and "/a/" in d.plans[0].rtstruct.path
    # Move the dose away from both: now it is ambiguous.
    (tmp_path / "doses").mkdir()
    shutil.move(tmp_path / "a" / "RD.dcm", tmp_path / "doses" / "RD.dcm")
    d = discover([tmp_path])
    assert len(d.plans) == 1
    assert d.plans[0].rtstruct is None
    assert d.plans[0].problem is not None and "2 RTSTRUCT files" in d.plans[0].problem


def test_beam_doses_stay_together(tmp_path: Path) -> None:
    write_box_plan(tmp_path, beam_doses=3, plan_dose=False)
    d = discover([tmp_path])
    assert len(d.plans) == 1
    assert _names(d.plans[0].rtdose) == ["RD_beam1.dcm", "RD_beam2.dcm", "RD_beam3.dcm"]


def test_plan_dose_wins_over_beam_doses(tmp_path: Path) -> None:
    """A PLAN dose next to beam doses of the same plan is the plan's dose; the beam
    doses are not added to it (that would double the dose) but kept beside it, to be
    checked against it (they used to be set aside)."""
    write_box_plan(tmp_path, beam_doses=2, plan_dose=True)
    d = discover([tmp_path])
    assert len(d.plans) == 1
    assert _names(d.plans[0].rtdose) == ["RD.dcm"]
    assert _names(d.plans[0].beam_doses) == ["RD_beam1.dcm", "RD_beam2.dcm"]
    assert d.skipped["beam dose set aside (plan dose present)"] == 0


def test_non_dicom_and_other_modalities_are_skipped_and_counted(tmp_path: Path) -> None:
    write_box_plan(tmp_path / "plan")
    (tmp_path / "readme.txt").write_text("not DICOM")
    (tmp_path / "image.bin").write_bytes(os.urandom(4096))
    (tmp_path / "empty.dcm").write_bytes(b"")
    for i in range(3):
        write_ct_slice(tmp_path / "ct" / f"CT{i}.dcm")
    d = discover([tmp_path])
    assert len(d.plans) == 1
    assert d.skipped["non-DICOM"] == 3
    assert d.skipped["CT"] == 3
    assert d.n_files == 3 + 3 + 3
    assert d.unreadable == []


def test_unreadable_dicom_header_is_reported(tmp_path: Path) -> None:
    write_box_plan(tmp_path / "plan")
    (tmp_path / "broken.dcm").write_bytes(b"\0" * 128 + b"DICM" + b"\x02\x00\x10\x00UI\xff\x7f")
    d = discover([tmp_path])
    assert len(d.plans) == 1
    assert [loc for loc, _ in d.unreadable] == [str(tmp_path / "broken.dcm")]


def test_rtstruct_and_rtplan_without_dose_are_skipped(tmp_path: Path) -> None:
    w = write_box_plan(tmp_path)
    for p in w.rtdose:
        p.unlink()
    d = discover([tmp_path])
    assert d.plans == []
    assert d.skipped["RTSTRUCT without dose"] == 1
    assert d.skipped["RTPLAN without dose"] == 1


def test_dose_without_structure_set_is_a_plan_with_a_problem(tmp_path: Path) -> None:
    w = write_box_plan(tmp_path)
    w.rtstruct.unlink()
    d = discover([tmp_path])
    assert len(d.plans) == 1
    plan = d.plans[0]
    assert plan.rtstruct is None
    assert plan.problem is not None and "no RTSTRUCT" in plan.problem
    assert any("not in the archives" in n for n in plan.notes)


def test_symlink_loop_and_copies(tmp_path: Path) -> None:
    """A symlink back to an ancestor folder does not hang the walk; a symlinked file
    and a copy of the plan (same SOPInstanceUIDs) count once."""
    root = tmp_path / "archive"
    write_box_plan(root / "plan")
    os.symlink(root, root / "plan" / "loop")
    os.symlink(root / "plan" / "RS.dcm", root / "link_to_RS.dcm")
    shutil.copytree(root / "plan", root / "copy", symlinks=True)
    d = discover([root])
    assert len(d.plans) == 1
    assert d.skipped["duplicate SOPInstanceUID"] == 3
    assert d.skipped["same file reached twice"] >= 1


def test_zip_archive(tmp_path: Path) -> None:
    """Plans inside a .zip (given, or found in a folder) are read without extracting;
    their files are 'archive.zip::member'."""
    src = tmp_path / "src"
    write_box_plan(src / "patient1" / "plan", patient_id="Z1")
    write_box_plan(src / "patient2", patient_id="Z2", beam_doses=2, plan_dose=False)
    (src / "notes.txt").write_text("x")
    archive = tmp_path / "holder" / "export.zip"
    archive.parent.mkdir()
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for p in sorted(src.rglob("*")):
            if p.is_file():
                zf.write(p, p.relative_to(src).as_posix())
    for given in (archive, archive.parent):
        d = discover([given])
        assert [p.patient_id for p in d.plans] == ["Z1", "Z2"]
        z1, z2 = d.plans
        assert z1.path == f"{archive}::patient1/plan"
        assert z1.rtstruct is not None and z1.rtstruct.member == "patient1/plan/RS.dcm"
        assert z1.rtstruct.location == f"{archive}::patient1/plan/RS.dcm"
        assert len(z2.rtdose) == 2
        assert d.skipped["non-DICOM"] == 1
        # Members are hashed like the file they came from.
        assert z1.rtstruct.sha256() == FileRef(str(src / "patient1/plan/RS.dcm")).sha256()


def test_header_only_read_stops_before_contours(tmp_path: Path) -> None:
    w = write_box_plan(tmp_path)
    h = read_header(FileRef(str(w.rtstruct)))
    assert h is not None and h.modality == "RTSTRUCT" and h.frame_uid == w.frame_uid
    h = read_header(FileRef(str(w.rtdose[0])))
    assert h is not None and h.plan_ref == w.plan_uid and h.summation_type == "PLAN"
    h = read_header(FileRef(str(w.rtplan)))
    assert h is not None and h.struct_ref == w.struct_uid and h.label == "RECT"


def test_missing_archive_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="archive not found"):
        discover([tmp_path / "nope"])


def test_dry_run_lists_plans(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    write_box_plan(tmp_path / "a", patient_id="DRY1", label="L1")
    write_box_plan(tmp_path / "b", patient_id="DRY2", label="L2", beam_doses=2, plan_dose=False)
    db = tmp_path / "r.sqlite"
    r = run_cli(["batch", tmp_path, "--dry-run", "--db", db], capsys, monkeypatch)
    assert r.code == 0, r.stderr
    assert "DRY1 / L1, 50.4 Gy in 28 fractions" in r.stdout
    assert "RD_beam2.dcm" in r.stdout
    assert "2 plans in 7 files" in r.stdout
    assert not db.exists()


# --------------------------------------------------------------------------- protocol map
def test_protocol_map_rules(tmp_path: Path) -> None:
    (tmp_path / "sets").mkdir()
    shutil.copy(
        REPO / "constraints" / "rectum-long-course.yaml",
        tmp_path / "sets" / "local.yaml",
    )
    m = tmp_path / "map.yaml"
    m.write_text(
        "- match: {plan_label: 'rect.*sc', prescription_gy: 25, fractions: 5}\n"
        "  constraints: rectum-short-course\n"
        "- match: {patient_id: 'TRIAL-\\d+'}\n"
        "  constraints: sets/local.yaml\n"
        "- match: {}\n"
        "  constraints: auto\n"
    )
    pmap = load_protocol_map(m)
    assert len(pmap.rules) == 3
    short = pmap.choose(plan_label="RECT_SC", prescription_gy=25.0, fractions=5)
    assert short.name.startswith("Rectum short course")
    local = pmap.choose(plan_label="X", patient_id="trial-12", prescription_gy=50.4)
    assert local.path == str(tmp_path / "sets" / "local.yaml")
    auto = pmap.choose(plan_label="X", prescription_gy=50.4, fractions=28)
    assert auto.name.startswith("Rectum long course")
    with pytest.raises(InputError, match="no shipped constraint set"):
        pmap.choose(plan_label="X", prescription_gy=60.0, fractions=30)


def test_protocol_map_without_catch_all(tmp_path: Path) -> None:
    m = tmp_path / "map.yaml"
    m.write_text("- match: {fractions: 5}\n  constraints: rectum-short-course\n")
    with pytest.raises(InputError, match="no rule of the protocol map"):
        load_protocol_map(m).choose(plan_label="A", prescription_gy=50.4, fractions=28)


def test_protocol_map_anchor_is_refused_with_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A protocol map is read by the same safe reader as constraint sets: an anchor
    (and its alias) is refused at its line, exit 2, before any plan is read."""
    (tmp_path / "archive").mkdir()
    m = tmp_path / "map.yaml"
    m.write_text(
        "- match: {fractions: 5}\n"
        "  constraints: &short rectum-short-course\n"
        "- match: {}\n"
        "  constraints: *short\n"
    )
    r = run_cli(
        ["batch", tmp_path / "archive", "--db", tmp_path / "r.sqlite", "--protocol-map", m],
        capsys,
        monkeypatch,
    )
    assert r.code == 2
    assert r.stderr.strip() == (
        f"dosecheck: error: {m}:2: YAML anchors and aliases (&short, *short) are not "
        "allowed in protocol maps; write each value out"
    )


def test_protocol_map_file_errors(tmp_path: Path) -> None:
    """Missing, not UTF-8, too large: the constraint-set reader's messages."""
    m = tmp_path / "map.yaml"
    with pytest.raises(ConstraintFileError, match="no such protocol-map file"):
        load_protocol_map(m)
    m.write_bytes(b"- match: {}\n  constraints: r\xe9ctum\n")
    with pytest.raises(ConstraintFileError, match=r"not UTF-8 text \(byte 28\)") as info:
        load_protocol_map(m)
    assert info.value.line == 2
    m.write_bytes(b"#" * 1_000_001)
    with pytest.raises(ConstraintFileError, match="protocol maps larger than 1 MB"):
        load_protocol_map(m)


@pytest.mark.parametrize(
    ("text", "message", "line"),
    [
        ("- match: {fractions: 5}\n  constraints: no-such-set\n", "unknown constraint set", 2),
        ("- match: {fraction: 5}\n  constraints: auto\n", "unknown key 'fraction'", 1),
        ("- match: {plan_label: '('}\n  constraints: auto\n", "regular expression", 1),
        ("- match: {fractions: 2.5}\n  constraints: auto\n", "whole number", 1),
        ("- match: {}\n", "no 'constraints'", 1),
        ("match: {}\n", "non-empty list", 1),
        ("- match: {\n", "invalid YAML", None),
        ("- match: {fractions: !!python/object:os.system 5}\n  constraints: auto\n", "tag", 1),
        ("- match: {}\n  constraints: auto\n- <<: {}\n  constraints: auto\n", "merge keys", 3),
    ],
)
def test_protocol_map_errors(tmp_path: Path, text: str, message: str, line: int | None) -> None:
    m = tmp_path / "map.yaml"
    m.write_text(text)
    with pytest.raises(InputError, match=message) as info:
        load_protocol_map(m)
    assert isinstance(info.value, ConstraintFileError | InputError)
    if line is not None:
        assert info.value.line == line
