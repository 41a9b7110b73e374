"""Deferred RTSTRUCT geometry: parsed on first use, identical to the eager read, errors then."""

from __future__ import annotations

import dataclasses
import pickle
from pathlib import Path

import numpy as np
import pydicom
import pytest

from dosecheck.dicom.structures import read_rtstruct
from dosecheck.dicom.writer import write_rtstruct
from dosecheck.errors import DicomInputError
from dosecheck.model import Structure, StructureSet


def ring(cx: float, cy: float, r: float, n: int = 12) -> np.ndarray:
    t = np.linspace(0.0, 2 * np.pi, n, endpoint=False)
    return np.round(np.column_stack([cx + r * np.cos(t), cy + r * np.sin(t)]), 3)


def write_set(path: Path) -> StructureSet:
    ptv = Structure.from_contours(
        1, "PTV", [(z, ring(0, 0, 20)) for z in (0.0, 2.5, 5.0)], interpreted_type="PTV"
    )
    # A contour of two points is skipped (noted); the other two are kept.
    bowel = Structure.from_contours(
        2,
        "Bowel_Bag",
        [(0.0, ring(40, 0, 10)), (2.5, ring(40, 0, 9)[:2]), (5.0, ring(40, 0, 8, 20))],
        interpreted_type="ORGAN",
    )
    empty = Structure.from_contours(3, "Empty", [])
    sset = StructureSet(structures=(ptv, bowel, empty), frame_of_reference_uid="1.2.3")
    write_rtstruct(path, sset)
    return sset


@pytest.fixture
def rs_file(tmp_path: Path) -> Path:
    path = tmp_path / "rs.dcm"
    write_set(path)
    return path


def test_deferred_equals_eager(rs_file: Path) -> None:
    eager = read_rtstruct(rs_file)
    lazy = read_rtstruct(rs_file, deferred=True)
    assert [s.is_deferred for s in eager.structures] == [False] * 3
    assert [s.is_deferred for s in lazy.structures] == [True] * 3
    # Known without parsing: contour counts (2 of the bowel's 3 are kept), types, notes.
    assert [s.n_contours for s in lazy.structures] == [3, 2, 0]
    assert [s.is_empty for s in lazy.structures] == [False, False, True]
    assert [s.n_points for s in lazy.structures] == [36, 32, 0]
    assert all(s.is_deferred for s in lazy.structures)
    for a, b in zip(eager.structures, lazy.structures, strict=True):
        assert (a.number, a.name, a.interpreted_type, a.color, a.notes) == (
            b.number,
            b.name,
            b.interpreted_type,
            b.color,
            b.notes,
        )
        np.testing.assert_array_equal(a.xy, b.xy)
        np.testing.assert_array_equal(a.offsets, b.offsets)
        np.testing.assert_array_equal(a.z, b.z)
        assert not b.is_deferred
        assert a.n_points == b.n_points == a.xy.shape[0]
    bowel = lazy.structures[1]
    assert bowel.notes == ("skipped 1 contour with fewer than 3 points",)
    assert bowel.xy.shape == (32, 2)
    assert bowel.offsets.tolist() == [0, 12, 32]
    assert bowel.z.tolist() == [0.0, 5.0]
    assert bowel.xy.flags.c_contiguous and bowel.xy.dtype == np.float64


def test_geometry_is_made_once(rs_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dosecheck.dicom import contour_geometry

    calls: list[str] = []
    original = contour_geometry.RoiGeometry.__call__

    def counting(self: contour_geometry.RoiGeometry):
        calls.append(self.name)
        return original(self)

    monkeypatch.setattr(contour_geometry.RoiGeometry, "__call__", counting)
    sset = read_rtstruct(rs_file, deferred=True)
    assert calls == []
    ptv = sset.structures[0]
    _ = ptv.z, ptv.xy, ptv.offsets, ptv.z
    assert calls == ["PTV"]


def test_deferred_pickles_and_replaces(rs_file: Path) -> None:
    ptv = read_rtstruct(rs_file, deferred=True).structures[0]
    copy = pickle.loads(pickle.dumps(ptv))
    assert copy.is_deferred
    assert copy.xy.shape == (36, 2)
    renamed = dataclasses.replace(ptv, name="PTV_High")
    assert (renamed.name, renamed.is_deferred, renamed.n_contours) == ("PTV_High", False, 3)
    np.testing.assert_array_equal(renamed.z, [0.0, 2.5, 5.0])
    with pytest.raises(AttributeError, match="no attribute 'area'"):
        _ = ptv.area  # type: ignore[attr-defined]


def test_bad_values_raise_on_first_use(rs_file: Path) -> None:
    ds = pydicom.dcmread(rs_file)
    item = ds.ROIContourSequence[1].ContourSequence[2]
    values = [float(v) for v in item.ContourData]
    values[5] += 1.0  # second point 1 mm off the plane
    item.ContourData = values
    ds.save_as(rs_file)
    with pytest.raises(DicomInputError, match="not on one axial plane"):
        read_rtstruct(rs_file)
    sset = read_rtstruct(rs_file, deferred=True)  # the file's layout is fine
    np.testing.assert_array_equal(sset.structures[0].z, [0.0, 2.5, 5.0])
    with pytest.raises(DicomInputError) as info:
        _ = sset.structures[1].xy
    message = str(info.value)
    for fragment in ("rs.dcm", "ContourData", "ROI 2 'Bowel_Bag'", "z from 5 to 6 mm"):
        assert fragment in message


def test_point_count_mismatch_is_found_at_once(rs_file: Path) -> None:
    ds = pydicom.dcmread(rs_file)
    ds.ROIContourSequence[0].ContourSequence[1].NumberOfContourPoints = 11
    ds.save_as(rs_file)
    with pytest.raises(DicomInputError, match="NumberOfContourPoints is 11"):
        read_rtstruct(rs_file, deferred=True)


def test_adopt_geometry_only_while_deferred(rs_file: Path) -> None:
    eager = read_rtstruct(rs_file).structures[0]
    lazy = read_rtstruct(rs_file, deferred=True).structures[0]
    lazy.adopt_geometry(eager.xy, eager.offsets, eager.z)
    assert not lazy.is_deferred
    assert lazy.xy is eager.xy and lazy.z is eager.z
    other = np.zeros((3, 2))
    lazy.adopt_geometry(other, np.array([0, 3]), np.array([9.0]))  # made already: kept
    assert lazy.xy is eager.xy


def test_forked_workers_hand_back_the_geometry_they_parsed(tmp_path: Path) -> None:
    import multiprocessing as mp

    from dosecheck.core.structures import compute_dvhs
    from dosecheck.dicom.load import load_plan
    from dosecheck.dicom.writer import write_rtdose
    from dosecheck.model import DoseGrid

    if "fork" not in mp.get_all_start_methods():
        pytest.skip("the worker processes are forked")
    write_set(tmp_path / "rs.dcm")
    x = np.arange(-30.0, 61.0, 2.0)
    y = np.arange(-30.0, 31.0, 2.0)
    z = np.arange(-4.0, 9.5, 2.5)
    dose = np.broadcast_to(x[None, None, :] * 0.1 + 10.0, (z.size, y.size, x.size))
    grid = DoseGrid(x=x, y=y, z=z, dose_gy=dose.astype(np.float32), frame_of_reference_uid="1.2.3")
    write_rtdose(tmp_path / "rd.dcm", grid)
    plan = load_plan(tmp_path)
    assert all(s.is_deferred for s in plan.structure_set.structures)
    two = compute_dvhs(plan, ["PTV", "Bowel_Bag"], jobs=2)
    # The workers parsed both; the parent took their geometry instead of parsing it.
    assert not any(item.structure.is_deferred for item in two)
    eager = read_rtstruct(tmp_path / "rs.dcm")
    for item, ref in zip(two, eager.structures[:2], strict=True):
        np.testing.assert_array_equal(item.structure.xy, ref.xy)
        np.testing.assert_array_equal(item.structure.z, ref.z)
    one = compute_dvhs(load_plan(tmp_path), ["PTV", "Bowel_Bag"], jobs=1)
    for a, b in zip(two, one, strict=True):
        assert a.dvh.volume_cc == b.dvh.volume_cc and a.dvh.mean_gy == b.dvh.mean_gy
