"""One table of folders for both discovery entry points: ``check`` (find_plan_files)
and ``batch`` (discover) must agree on which files form the plan, or both refuse."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from dosecheck.dicom.discovery import discover, find_plan_files
from dosecheck.dicom.plan import read_rtplan
from dosecheck.dicom.writer import write_rtplan, write_rtstruct
from dosecheck.errors import DicomInputError
from dosecheck.model import PlanInfo
from tests.helpers.rt_folders import (
    FOR_UID,
    dose_grid,
    structure_set,
    write_plan_folder,
    write_rtdose,
)


def full(folder: Path) -> None:
    write_plan_folder(folder)


def without_rtplan(folder: Path) -> None:
    write_plan_folder(folder)["rp"].unlink()


def references_choose(folder: Path) -> None:
    write_plan_folder(folder)
    write_rtstruct(folder / "rs_other.dcm", structure_set())
    write_rtplan(folder / "rp_other.dcm", PlanInfo(label="Other"))


def two_structure_sets(folder: Path) -> None:
    folder.mkdir()
    write_rtstruct(folder / "rs_a.dcm", structure_set())
    write_rtstruct(folder / "rs_b.dcm", structure_set())
    write_rtdose(folder / "rd.dcm", dose_grid())


def two_plans(folder: Path) -> None:
    write_plan_folder(folder / "a", tag="a")
    write_plan_folder(folder / "b", tag="b")


def beam_doses(folder: Path) -> None:
    folder.mkdir()
    write_rtstruct(folder / "rs.dcm", structure_set())
    write_rtdose(folder / "beam1.dcm", dose_grid(1.0, "BEAM"))
    write_rtdose(folder / "beam2.dcm", dose_grid(1.5, "BEAM"))


def plan_and_beam_doses(folder: Path) -> None:
    paths = write_plan_folder(folder)
    uid = read_rtplan(paths["rp"]).sop_instance_uid
    write_rtdose(folder / "beam1.dcm", dose_grid(0.5, "BEAM"), referenced_plan_uid=uid)
    write_rtdose(folder / "beam2.dcm", dose_grid(1.5, "BEAM"), referenced_plan_uid=uid)


def two_plan_doses(folder: Path) -> None:
    paths = write_plan_folder(folder)
    uid = read_rtplan(paths["rp"]).sop_instance_uid
    write_rtdose(folder / "rd_reexport.dcm", dose_grid(), referenced_plan_uid=uid)


def doses_of_two_missing_plans(folder: Path) -> None:
    folder.mkdir()
    write_rtstruct(folder / "rs.dcm", structure_set())
    write_rtdose(folder / "rd_a.dcm", dose_grid(), referenced_plan_uid="1.2.3.1")
    write_rtdose(folder / "rd_b.dcm", dose_grid(), referenced_plan_uid="1.2.3.2")


def truncated_copy_first(folder: Path) -> None:
    paths = write_plan_folder(folder)
    data = paths["rd"].read_bytes()
    (folder / "0_rd_truncated.dcm").write_bytes(data[: len(data) - 100])


def another_patients_rtstruct(folder: Path) -> None:
    folder.mkdir()
    write_rtstruct(folder / "rs.dcm", structure_set())  # patient P1
    write_rtdose(folder / "rd.dcm", dose_grid(), patient_id="P2")


def two_rtplans_by_frame(folder: Path) -> None:
    folder.mkdir()
    write_rtstruct(folder / "rs.dcm", structure_set())
    for tag in ("a", "b"):
        write_rtplan(
            folder / f"rp_{tag}.dcm",
            PlanInfo(label=tag, frame_of_reference_uid=FOR_UID, patient_id="P1"),
        )
    write_rtdose(folder / "rd.dcm", dose_grid())


def frame_across_folders(folder: Path) -> None:
    (folder / "RS").mkdir(parents=True)
    write_rtstruct(folder / "RS" / "rs.dcm", structure_set())
    (folder / "RD").mkdir()
    write_rtdose(folder / "RD" / "rd.dcm", dose_grid())


#: (folder builder, expected find_plan_files: file names by role, or the error's words)
CASES: list[tuple[Callable[[Path], None], dict[str, list[str]] | str]] = [
    (full, {"rtstruct": ["rs.dcm"], "rtdose": ["rd.dcm"], "rtplan": ["rp.dcm"]}),
    (without_rtplan, {"rtstruct": ["rs.dcm"], "rtdose": ["rd.dcm"]}),
    (references_choose, {"rtstruct": ["rs.dcm"], "rtdose": ["rd.dcm"], "rtplan": ["rp.dcm"]}),
    (two_structure_sets, "found 2 RTSTRUCT files that share the FrameOfReferenceUID"),
    (two_plans, "found 2 RTPLAN files, one per plan,"),
    (beam_doses, {"rtstruct": ["rs.dcm"], "rtdose": ["beam1.dcm", "beam2.dcm"]}),
    (
        plan_and_beam_doses,
        {
            "rtstruct": ["rs.dcm"],
            "rtdose": ["rd.dcm"],
            "beam_dose": ["beam1.dcm", "beam2.dcm"],
            "rtplan": ["rp.dcm"],
        },
    ),
    (two_plan_doses, "found 2 plan-dose RTDOSE files (DoseSummationType PLAN"),
    (doses_of_two_missing_plans, "found 2 RTDOSE files that belong to different plans"),
    (truncated_copy_first, {"rtstruct": ["rs.dcm"], "rtdose": ["rd.dcm"], "rtplan": ["rp.dcm"]}),
    (another_patients_rtstruct, "the structure sets beside it are of another patient"),
    (two_rtplans_by_frame, "found 2 RTPLAN files that share the FrameOfReferenceUID"),
    (frame_across_folders, {"rtstruct": ["rs.dcm"], "rtdose": ["rd.dcm"]}),
]


def _roles(pairs: list[tuple[str, str]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for role, path in pairs:
        out.setdefault(role, []).append(Path(path).name)
    return {k: sorted(v) for k, v in out.items()}


@pytest.mark.parametrize(("build", "expected"), CASES, ids=[c[0].__name__ for c in CASES])
def test_check_and_batch_agree(
    tmp_path: Path, build: Callable[[Path], None], expected: dict[str, list[str]] | str
) -> None:
    folder = tmp_path / "plan"
    build(folder)
    evaluable = [p for p in discover([folder]).plans if p.problem is None]
    if isinstance(expected, str):
        with pytest.raises(DicomInputError) as info:
            find_plan_files(folder)
        assert expected in str(info.value)
        assert "pass the one to use with --" in str(info.value)
        # batch: no single evaluable plan either (several, or one with a problem)
        assert len(evaluable) != 1
        return
    files = find_plan_files(folder)
    found = [("rtstruct", files.rtstruct), *(("rtdose", p) for p in files.rtdose)]
    found += [("beam_dose", p) for p in files.beam_doses]
    found += [("rtplan", files.rtplan)] if files.rtplan else []
    assert _roles(found) == expected
    assert len(evaluable) == 1
    assert evaluable[0].plan_files(str(folder)) == files
