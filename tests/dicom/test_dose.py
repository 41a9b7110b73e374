"""RTDOSE writer/reader round trips, reader error paths and dose summation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest

from dosecheck.dicom.dose import MAX_VOXELS, read_rtdose
from dosecheck.dicom.dose_sum import combine_doses
from dosecheck.dicom.writer import write_rtdose, write_rtstruct
from dosecheck.errors import DicomInputError, InputError
from dosecheck.model import DoseGrid, StructureSet
from tests.helpers.shared_data import shared_dataset

FOR_UID = "1.2.826.0.1.3680043.8.498.1"


def make_grid(
    nx: int = 5,
    ny: int = 4,
    z: tuple[float, ...] = (-3.0, -1.0, 1.0),
    *,
    seed: int = 0,
    summation_type: str = "PLAN",
    x0: float = -10.25,
    y0: float = 20.5,
    dx: float = 2.5,
    dy: float = 3.0,
) -> DoseGrid:
    rng = np.random.default_rng(seed)
    x = x0 + dx * np.arange(nx)
    y = y0 + dy * np.arange(ny)
    zz = np.asarray(z, dtype=np.float64)
    dose = rng.uniform(0.0, 70.0, (zz.size, ny, nx)).astype(np.float32)
    return DoseGrid(
        x=x,
        y=y,
        z=zz,
        dose_gy=dose,
        frame_of_reference_uid=FOR_UID,
        summation_type=summation_type,
    )


def assert_same_dose(read: DoseGrid, grid: DoseGrid, bits: int) -> None:
    np.testing.assert_allclose(read.x, grid.x, rtol=0, atol=1e-9)
    np.testing.assert_allclose(read.y, grid.y, rtol=0, atol=1e-9)
    np.testing.assert_allclose(read.z, grid.z, rtol=0, atol=1e-9)
    assert read.dose_gy.dtype == np.float32
    assert read.dose_gy.shape == grid.dose_gy.shape
    scaling = float(grid.dose_gy.max()) / (2**bits - 1)
    tol = scaling / 2 + 1e-7 * float(grid.dose_gy.max())
    assert np.max(np.abs(read.dose_gy.astype(np.float64) - grid.dose_gy)) <= tol


def edit(path: Path, **changes: object) -> None:
    """Change (value) or delete (None) top-level attributes of a DICOM file."""
    ds = pydicom.dcmread(path)
    for keyword, value in changes.items():
        if value is None:
            delattr(ds, keyword)
        else:
            setattr(ds, keyword, value)
    ds.save_as(path)


# --------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("orientation", ["HFS", "FFS", "HFP", "FFP"])
@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize("bits", [16, 32])
def test_round_trip_orientations(
    tmp_path: Path, orientation: str, descending: bool, bits: int
) -> None:
    grid = make_grid(z=(-3.0, -1.0, 2.0, 6.5))  # non-uniform frame spacing
    path = tmp_path / "rd.dcm"
    write_rtdose(path, grid, bits=bits, orientation=orientation, descending=descending)
    read = read_rtdose(path)
    assert_same_dose(read, grid, bits)
    assert read.frame_of_reference_uid == FOR_UID
    assert read.sources == (str(path),)
    ds = pydicom.dcmread(path)
    assert read.sop_instance_uids == (ds.SOPInstanceUID,)
    gfov = [float(v) for v in ds.GridFrameOffsetVector]
    assert gfov[0] == 0.0
    assert (np.diff(gfov) < 0).all() == descending


@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize("bits", [16, 32])
def test_round_trip_absolute_gfov(tmp_path: Path, descending: bool, bits: int) -> None:
    grid = make_grid(z=(4.0, 5.5, 9.0))
    path = tmp_path / "rd.dcm"
    write_rtdose(path, grid, bits=bits, gfov_mode="absolute", descending=descending)
    ds = pydicom.dcmread(path)
    gfov = [float(v) for v in ds.GridFrameOffsetVector]
    assert gfov[0] == float(ds.ImagePositionPatient[2]) != 0
    read = read_rtdose(path)
    assert_same_dose(read, grid, bits)
    assert any("absolute" in n for n in read.notes)


@pytest.mark.parametrize(
    "iop",
    [(0, 1, 0, 1, 0, 0), (0, -1, 0, 1, 0, 0), (0, 1, 0, -1, 0, 0), (0, -1, 0, -1, 0, 0)],
)
def test_round_trip_transposed(tmp_path: Path, iop: tuple[int, ...]) -> None:
    grid = make_grid(nx=6, ny=3, dx=2.0, dy=4.0)
    path = tmp_path / "rd.dcm"
    write_rtdose(path, grid, orientation=iop)
    ds = pydicom.dcmread(path)
    assert (ds.Rows, ds.Columns) == (6, 3)  # rows run along x
    assert [float(v) for v in ds.PixelSpacing] == [2.0, 4.0]
    assert_same_dose(read_rtdose(path), grid, 32)


def test_hfs_layout_is_standard(tmp_path: Path) -> None:
    """PixelSpacing is (row spacing = y, column spacing = x); IPP is the first voxel."""
    grid = make_grid(nx=5, ny=4, dx=2.5, dy=3.0)
    path = tmp_path / "rd.dcm"
    write_rtdose(path, grid)
    ds = pydicom.dcmread(path)
    assert [float(v) for v in ds.PixelSpacing] == [3.0, 2.5]
    assert (ds.Rows, ds.Columns, int(ds.NumberOfFrames)) == (4, 5, 3)
    assert [float(v) for v in ds.ImagePositionPatient] == [-10.25, 20.5, -3.0]
    assert ds.SOPClassUID == "1.2.840.10008.5.1.4.1.1.481.2"
    assert ds.file_meta.TransferSyntaxUID == pydicom.uid.ExplicitVRLittleEndian
    pixels = ds.pixel_array * float(ds.DoseGridScaling)
    np.testing.assert_allclose(pixels, grid.dose_gy, atol=1e-6)


def test_single_frame_without_gfov(tmp_path: Path) -> None:
    grid = make_grid(z=(12.5,))
    path = tmp_path / "rd.dcm"
    write_rtdose(path, grid)
    edit(path, NumberOfFrames=None, GridFrameOffsetVector=None, FrameIncrementPointer=None)
    read = read_rtdose(path)
    assert read.shape == (1, 4, 5)
    assert read.z.tolist() == [12.5]
    assert_same_dose(read, grid, 32)


def test_cgy_converted(tmp_path: Path) -> None:
    grid = make_grid()
    path = tmp_path / "rd.dcm"
    write_rtdose(path, grid, dose_units="CGY")
    read = read_rtdose(path)
    np.testing.assert_allclose(read.dose_gy, grid.dose_gy, atol=1e-5)
    assert any("CGY" in n for n in read.notes)


def test_metadata(tmp_path: Path) -> None:
    grid = make_grid(summation_type="FRACTION")
    path = tmp_path / "rd.dcm"
    write_rtdose(path, grid, referenced_plan_uid="1.2.3.4")
    read = read_rtdose(path)
    assert read.summation_type == "FRACTION"
    assert read.referenced_plan_uid == "1.2.3.4"


# --------------------------------------------------------------------------- errors


@pytest.fixture
def dose_file(tmp_path: Path) -> Path:
    path = tmp_path / "dose_under_test.dcm"
    write_rtdose(path, make_grid())
    return path


def expect_error(path: Path, tag: str, *fragments: str) -> DicomInputError:
    with pytest.raises(DicomInputError) as info:
        read_rtdose(path)
    message = str(info.value)
    assert path.name in message
    assert tag in message
    assert info.value.tag == tag
    for fragment in fragments:
        assert fragment in message
    return info.value


def test_relative_units_rejected(tmp_path: Path) -> None:
    path = tmp_path / "relative.dcm"
    write_rtdose(path, make_grid(), dose_units="RELATIVE")
    expect_error(path, "DoseUnits", "relative dose cannot be checked", "export absolute dose (GY)")


def test_unknown_units_rejected(dose_file: Path) -> None:
    edit(dose_file, DoseUnits="MU")
    expect_error(dose_file, "DoseUnits", "'MU'")


@pytest.mark.parametrize(
    "kind", ["FRACTION_SESSION", "BEAM_SESSION", "CONTROL_POINT", "RECORD", "PLAN2"]
)
def test_unsupported_summation_type_rejected(dose_file: Path, kind: str) -> None:
    """Used to be taken silently as PLAN dose."""
    edit(dose_file, DoseSummationType=kind)
    expect_error(dose_file, "DoseSummationType", kind, "export the PLAN dose")


@pytest.mark.parametrize("kind", ["PLAN", "MULTI_PLAN", "FRACTION", "BEAM"])
def test_supported_summation_types(dose_file: Path, kind: str) -> None:
    edit(dose_file, DoseSummationType=kind)
    grid = read_rtdose(dose_file)
    assert grid.summation_type == kind.upper()
    assert not any("DoseSummationType" in n for n in grid.notes)


def test_missing_summation_type_is_plan_with_note(dose_file: Path) -> None:
    edit(dose_file, DoseSummationType=None)
    grid = read_rtdose(dose_file)
    assert grid.summation_type == "PLAN"
    assert grid.notes == (
        "dose_under_test.dcm: DoseSummationType is missing; assumed to be the plan dose",
    )


def test_oblique_rejected(dose_file: Path) -> None:
    c, s = np.cos(0.1), np.sin(0.1)
    edit(dose_file, ImageOrientationPatient=[c, s, 0, -s, c, 0])
    expect_error(dose_file, "ImageOrientationPatient", "oblique")


def test_tiny_cosine_noise_accepted(dose_file: Path) -> None:
    edit(dose_file, ImageOrientationPatient=[1, 5e-5, 0, 0, 1, -5e-5])
    assert read_rtdose(dose_file).shape == (3, 4, 5)


def test_gfov_bad_first_value(dose_file: Path) -> None:
    edit(dose_file, GridFrameOffsetVector=[1.0, 3.0, 5.0])
    expect_error(dose_file, "GridFrameOffsetVector", "starts with 1", "neither 0")


def test_absolute_gfov_needs_hfs(tmp_path: Path) -> None:
    path = tmp_path / "ffs_absolute.dcm"
    write_rtdose(path, make_grid(z=(4.0, 5.0, 6.0)), orientation="FFS")
    ds = pydicom.dcmread(path)
    z0 = float(ds.ImagePositionPatient[2])
    edit(path, GridFrameOffsetVector=[z0, z0 - 1, z0 - 2])
    expect_error(path, "GridFrameOffsetVector", "only defined for HFS")


def test_gfov_length_mismatch(dose_file: Path) -> None:
    edit(dose_file, GridFrameOffsetVector=[0.0, 2.0])
    expect_error(dose_file, "GridFrameOffsetVector", "has 2 values but NumberOfFrames is 3")


def test_gfov_missing_for_multiframe(dose_file: Path) -> None:
    edit(dose_file, GridFrameOffsetVector=None)
    expect_error(dose_file, "GridFrameOffsetVector", "missing")


def test_duplicate_frames(dose_file: Path) -> None:
    edit(dose_file, GridFrameOffsetVector=[0.0, 2.0, 2.0])
    expect_error(dose_file, "GridFrameOffsetVector", "same position")


def test_missing_scaling(dose_file: Path) -> None:
    edit(dose_file, DoseGridScaling=None)
    expect_error(dose_file, "DoseGridScaling", "missing")


def test_voxel_limit_checked_before_decoding(dose_file: Path) -> None:
    # The pixel data does not match the header: only the header is looked at.
    edit(dose_file, Rows=20000, Columns=20000)
    err = expect_error(dose_file, "NumberOfFrames", f"{MAX_VOXELS:,}")
    assert "coarser grid" in err.message


def test_truncated_pixel_data(dose_file: Path) -> None:
    ds = pydicom.dcmread(dose_file)
    ds.PixelData = ds.PixelData[:100]
    ds.save_as(dose_file)
    expect_error(dose_file, "PixelData", "cannot be decoded")


def test_missing_pixel_data(dose_file: Path) -> None:
    edit(dose_file, PixelData=None)
    expect_error(dose_file, "PixelData", "missing")


def test_wrong_modality(tmp_path: Path) -> None:
    path = tmp_path / "structures.dcm"
    write_rtstruct(path, StructureSet(structures=()))
    expect_error(path, "Modality", "'RTSTRUCT', expected RTDOSE")


def test_not_dicom(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello, not DICOM\n")
    with pytest.raises(DicomInputError, match=r"notes\.txt: is not a DICOM file"):
        read_rtdose(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"nowhere\.dcm"):
        read_rtdose(tmp_path / "nowhere.dcm")


# --------------------------------------------------------------------------- combine


def test_combine_same_grid_beams(tmp_path: Path) -> None:
    a = make_grid(seed=1, summation_type="BEAM")
    b = make_grid(seed=2, summation_type="BEAM")
    paths = [tmp_path / "beam1.dcm", tmp_path / "beam2.dcm"]
    write_rtdose(paths[0], a)
    write_rtdose(paths[1], b)
    total = combine_doses([read_rtdose(p) for p in paths])
    np.testing.assert_allclose(total.dose_gy, a.dose_gy + b.dose_gy, atol=1e-5)
    assert total.summation_type == "PLAN"
    assert total.sources == tuple(str(p) for p in paths)
    assert len(total.sop_instance_uids) == 2
    assert any("summed 2 BEAM doses into a PLAN dose" in n for n in total.notes)


def test_combine_single_is_identity() -> None:
    a = make_grid()
    assert combine_doses([a]) is a


def test_combine_plan_and_beam_rejected() -> None:
    with pytest.raises(DicomInputError, match="DoseSummationType") as info:
        combine_doses([make_grid(), make_grid(summation_type="BEAM")])
    assert "PLAN" in str(info.value) and "BEAM" in str(info.value)


def test_combine_frame_mismatch_rejected() -> None:
    other = make_grid()
    other = DoseGrid(other.x, other.y, other.z, other.dose_gy, frame_of_reference_uid="9.9")
    with pytest.raises(DicomInputError, match="FrameOfReferenceUID"):
        combine_doses([make_grid(), other])


def test_combine_empty_rejected() -> None:
    with pytest.raises(DicomInputError, match="no dose grids"):
        combine_doses([])


def linear_grid(x: np.ndarray, y: np.ndarray, z: np.ndarray) -> DoseGrid:
    zz, yy, xx = np.meshgrid(z, y, x, indexing="ij")
    dose = (10.0 + 0.5 * xx - 0.25 * yy + 0.75 * zz).astype(np.float32)
    return DoseGrid(x, y, z, dose, frame_of_reference_uid=FOR_UID, sources=("b.dcm",))


def test_combine_resamples_trilinear() -> None:
    base = linear_grid(
        np.arange(0.0, 20.0, 2.0), np.arange(0.0, 10.0, 2.0), np.arange(0.0, 9.0, 3.0)
    )
    # A finer, shifted grid that covers only part of the base grid.
    other = linear_grid(
        np.arange(1.0, 15.0, 1.5), np.arange(-1.0, 12.0, 1.0), np.array([0.0, 1.0, 2.5, 7.0])
    )
    total = combine_doses([base, other])
    zz, yy, xx = np.meshgrid(base.z, base.y, base.x, indexing="ij")
    inside = (xx >= 1.0) & (xx <= other.x[-1]) & (zz <= 7.0)
    expected = base.dose_gy + np.where(inside, 10.0 + 0.5 * xx - 0.25 * yy + 0.75 * zz, 0.0)
    np.testing.assert_allclose(total.dose_gy, expected, atol=1e-4)
    assert total.dose_gy.dtype == np.float32
    outside = int(inside.size - inside.sum())
    assert any(
        "resampled b.dcm" in n and f"{outside:,} of {inside.size:,} points" in n
        for n in total.notes
    )


def test_combine_without_resampling_rejected() -> None:
    base = make_grid()
    other = make_grid(x0=0.0)
    with pytest.raises(DicomInputError, match="differs"):
        combine_doses([base, other], resample=False)


# --------------------------------------------------------------------------- real files


def _as_gy_copy(src: Path, dst: Path) -> Path:
    """Copy a pydicom test file, turning DoseUnits RELATIVE into GY (same length)."""
    data = src.read_bytes()
    assert data.count(b"RELATIVE") == 1
    dst.write_bytes(data.replace(b"RELATIVE", b"GY      "))
    return dst


def test_pydicom_relative_files_rejected() -> None:
    folder = shared_dataset("pydicom-testfiles")
    for name in ("rtdose.dcm", "rtdose_expb.dcm", "rtdose_rle.dcm", "rtdose_1frame.dcm"):
        expect_error(folder / name, "DoseUnits", "relative dose cannot be checked")


def test_pydicom_transfer_syntaxes_decode(tmp_path: Path) -> None:
    folder = shared_dataset("pydicom-testfiles")
    plain = read_rtdose(_as_gy_copy(folder / "rtdose.dcm", tmp_path / "le.dcm"))
    assert plain.shape == (15, 10, 10)
    assert plain.summation_type == "BEAM"
    assert plain.z[0] == pytest.approx(-761.87) and plain.z[-1] == pytest.approx(-691.87)
    for name in ("rtdose_expb.dcm", "rtdose_rle.dcm"):
        other = read_rtdose(_as_gy_copy(folder / name, tmp_path / name))
        np.testing.assert_array_equal(other.dose_gy, plain.dose_gy)
        np.testing.assert_array_equal(other.z, plain.z)


def test_pydicom_single_frame_inconsistent(tmp_path: Path) -> None:
    folder = shared_dataset("pydicom-testfiles")
    path = _as_gy_copy(folder / "rtdose_1frame.dcm", tmp_path / "one_frame.dcm")
    expect_error(path, "GridFrameOffsetVector", "NumberOfFrames is 1")


def test_gammaknife_descending_gfov() -> None:
    folder = shared_dataset("pps-gammaknife-gfov-negative")
    grid = read_rtdose(folder / "RTDOSE0000000000.dcm")
    assert grid.shape == (12, 13, 13)
    np.testing.assert_allclose(grid.z, np.linspace(-9.2, 1.8, 12), atol=1e-9)
    assert grid.max_gy == pytest.approx(33.84, abs=0.01)
    assert any("descending" in n for n in grid.notes)


def test_dicompyler_example_dose() -> None:
    folder = shared_dataset("dicompyler-core-example")
    grid = read_rtdose(folder / "rtdose.dcm")
    assert grid.shape == (98, 129, 194)
    assert grid.max_gy == pytest.approx(14.68, abs=0.01)
    assert grid.z[0] == pytest.approx(-122.4407) and grid.z[-1] == pytest.approx(168.5593)
    assert grid.frame_of_reference_uid == "2.16.840.1.113662.2.12.0.3057.1241703565.36"
    assert grid.referenced_plan_uid == "1.2.246.352.71.5.320687012.24189.20090603083342"
