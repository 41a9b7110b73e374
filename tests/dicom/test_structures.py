"""RTSTRUCT writer/reader round trips, ContourData parsing and reader error paths."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pydicom
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dosecheck.dicom import structures as structures_module
from dosecheck.dicom.structures import parse_decimal_string, read_rtstruct
from dosecheck.dicom.writer import write_rtdose, write_rtstruct
from dosecheck.errors import DicomInputError
from dosecheck.model import DoseGrid, Structure, StructureSet
from tests.helpers.shared_data import shared_dataset

FOR_UID = "1.2.826.0.1.3680043.8.498.7"


def square(cx: float, cy: float, half: float, n: int = 8) -> np.ndarray:
    t = np.linspace(0.0, 2 * np.pi, n, endpoint=False)
    return np.round(np.column_stack([cx + half * np.cos(t), cy + half * np.sin(t)]), 4)


def make_set() -> StructureSet:
    ptv = Structure.from_contours(
        3,
        "PTV 70",
        [(z, square(1.5, -2.25, 20.0)) for z in (-5.0, -2.5, 0.0, 2.5)],
        interpreted_type="PTV",
        color=(255, 0, 0),
    )
    lung = Structure.from_contours(
        7,
        "Lung_L",
        [
            (0.0, square(-50.0, 10.0, 30.0, 16)),
            (0.0, square(-50.0, 10.0, 5.0)),
            (2.5, square(-50.0, 10.0, 29.0)),
        ],
        interpreted_type="ORGAN",
        color=(0, 128, 255),
    )
    empty = Structure.from_contours(9, "Empty ROI", [], interpreted_type="AVOIDANCE")
    return StructureSet(
        structures=(ptv, lung, empty),
        frame_of_reference_uid=FOR_UID,
        label="RS test",
        patient_id="PAT-1",
        patient_name="Doe^Jane",
    )


@pytest.fixture
def rs_file(tmp_path: Path) -> Path:
    path = tmp_path / "rs_under_test.dcm"
    write_rtstruct(path, make_set())
    return path


def expect_error(path: Path, tag: str, *fragments: str) -> DicomInputError:
    with pytest.raises(DicomInputError) as info:
        read_rtstruct(path)
    message = str(info.value)
    assert path.name in message
    assert tag in message
    for fragment in fragments:
        assert fragment in message
    return info.value


# --------------------------------------------------------------------------- round trip


def test_round_trip(rs_file: Path) -> None:
    original = make_set()
    read = read_rtstruct(rs_file)
    ds = pydicom.dcmread(rs_file)
    assert ds.SOPClassUID == "1.2.840.10008.5.1.4.1.1.481.3"
    assert read.sop_instance_uid == ds.SOPInstanceUID
    assert read.frame_of_reference_uid == FOR_UID
    assert (read.label, read.patient_id, read.patient_name) == ("RS test", "PAT-1", "Doe^Jane")
    assert read.path == str(rs_file)
    assert read.names == ["PTV 70", "Lung_L", "Empty ROI"]
    for got, want in zip(read.structures, original.structures, strict=True):
        assert got.number == want.number
        assert got.interpreted_type == want.interpreted_type
        assert got.color == want.color
        np.testing.assert_array_equal(got.xy, want.xy)
        np.testing.assert_array_equal(got.offsets, want.offsets)
        np.testing.assert_array_equal(got.z, want.z)
        assert got.notes == ()
    assert read.by_number(9).is_empty


def test_round_trip_many_digits(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    xy = rng.uniform(-400, 400, (500, 2))
    s = Structure.from_contours(1, "Body", [(12.345678, xy)])
    path = tmp_path / "rs.dcm"
    write_rtstruct(path, StructureSet((s,)))
    read = read_rtstruct(path).structures[0]
    np.testing.assert_allclose(read.xy, xy, rtol=1e-9, atol=1e-7)
    assert read.z[0] == pytest.approx(12.345678)


def test_roi_number_selection(rs_file: Path) -> None:
    read = read_rtstruct(rs_file, roi_numbers=[7])
    assert read.names == ["Lung_L"]
    assert read.structures[0].n_contours == 3


def test_unknown_roi_number(rs_file: Path) -> None:
    with pytest.raises(DicomInputError, match="no ROI number 42") as info:
        read_rtstruct(rs_file, roi_numbers=[42])
    assert "3 (PTV 70)" in str(info.value)
    assert rs_file.name in str(info.value)


def test_skipped_contour_types(rs_file: Path) -> None:
    ds = pydicom.dcmread(rs_file)
    items = ds.ROIContourSequence[0].ContourSequence
    items[0].ContourGeometricType = "POINT"
    items[1].ContourGeometricType = "POINT"
    items[2].ContourGeometricType = "OPEN_PLANAR"
    ds.save_as(rs_file)
    ptv = read_rtstruct(rs_file).by_number(3)
    assert ptv.n_contours == 1
    assert ptv.z.tolist() == [2.5]
    assert ptv.notes == (
        "skipped 1 OPEN_PLANAR contour (only CLOSED_PLANAR are used)",
        "skipped 2 POINT contours (only CLOSED_PLANAR are used)",
    )


def test_short_contours_skipped(tmp_path: Path) -> None:
    s = Structure.from_contours(
        1, "Marks", [(0.0, square(0, 0, 5)), (1.0, np.array([[0.0, 0.0], [1.0, 1.0]]))]
    )
    path = tmp_path / "rs.dcm"
    write_rtstruct(path, StructureSet((s,)))
    got = read_rtstruct(path).structures[0]
    assert got.n_contours == 1
    assert got.notes == ("skipped 1 contour with fewer than 3 points",)


def test_frame_from_roi_sequence(rs_file: Path) -> None:
    ds = pydicom.dcmread(rs_file)
    del ds.ReferencedFrameOfReferenceSequence
    del ds.FrameOfReferenceUID
    ds.save_as(rs_file)
    assert read_rtstruct(rs_file).frame_of_reference_uid == FOR_UID


def test_already_converted_contour_data(rs_file: Path) -> None:
    ds = pydicom.dcmread(rs_file)
    item = ds.ROIContourSequence[0].ContourSequence[0]
    _ = item.ContourData  # converts the raw element
    raw = structures_module._contour_bytes(item)
    np.testing.assert_array_equal(parse_decimal_string(raw), [float(v) for v in item.ContourData])


# --------------------------------------------------------------------------- errors


def test_not_axial(rs_file: Path) -> None:
    ds = pydicom.dcmread(rs_file)
    item = ds.ROIContourSequence[1].ContourSequence[0]
    values = [float(v) for v in item.ContourData]
    values[5] += 1.0  # second point's z
    item.ContourData = values
    ds.save_as(rs_file)
    expect_error(rs_file, "ContourData", "ROI 7 'Lung_L'", "not on one axial plane")


def test_planar_within_tolerance(rs_file: Path) -> None:
    ds = pydicom.dcmread(rs_file)
    item = ds.ROIContourSequence[1].ContourSequence[0]
    values = [float(v) for v in item.ContourData]
    values[5] += 0.005
    item.ContourData = values
    ds.save_as(rs_file)
    assert read_rtstruct(rs_file).by_number(7).z[0] == pytest.approx(0.0025)


def test_point_count_mismatch(rs_file: Path) -> None:
    ds = pydicom.dcmread(rs_file)
    ds.ROIContourSequence[0].ContourSequence[2].NumberOfContourPoints = 5
    ds.save_as(rs_file)
    expect_error(rs_file, "ContourData", "ROI 3 'PTV 70', contour 3", "NumberOfContourPoints is 5")


def _patch_value(path: Path, old: bytes, new: bytes) -> None:
    assert len(old) == len(new)
    data = path.read_bytes()
    assert old in data
    path.write_bytes(data.replace(old, new, 1))


def _lung_set_with_marker(tmp_path: Path) -> Path:
    contour = square(-50, 10, 30, 16)
    contour[3] = [123.25, 10.0]
    lung = Structure.from_contours(7, "Lung_L", [(0.0, contour)])
    path = tmp_path / "rs_marked.dcm"
    write_rtstruct(path, StructureSet((lung,)))
    return path


def test_nan_in_contour(tmp_path: Path) -> None:
    path = _lung_set_with_marker(tmp_path)
    _patch_value(path, b"123.25", b"nan   ")
    expect_error(path, "ContourData", "ROI 7 'Lung_L'", "NaN or infinite")


@pytest.mark.parametrize("value", [b"1e30  ", b"-2e5  ", b"1.0e+6"])
def test_coordinate_beyond_100_m(tmp_path: Path, value: bytes) -> None:
    """1e30 used to overflow the rasteriser's int64 arithmetic (a segfault)."""
    path = _lung_set_with_marker(tmp_path)
    _patch_value(path, b"123.25", value)
    expect_error(
        path, "ContourData", "ROI 7 'Lung_L'", "not a patient coordinate", "file is corrupt"
    )


def test_coordinate_within_100_m_accepted(tmp_path: Path) -> None:
    path = _lung_set_with_marker(tmp_path)
    _patch_value(path, b"123.25", b"9.9e+4")
    lung = read_rtstruct(path).by_number(7)
    assert lung.xy[:, 0].max() == 9.9e4


def test_garbage_in_contour(tmp_path: Path) -> None:
    path = _lung_set_with_marker(tmp_path)
    _patch_value(path, b"123.25", b"12a.25")
    expect_error(
        path, "ContourData", "ROI 7 'Lung_L'", "value 10 ('12a.25') is not a decimal number"
    )


def test_point_limit(rs_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(structures_module, "MAX_CONTOUR_POINTS", 10)
    expect_error(rs_file, "ContourData", "more than the supported 10")


def test_wrong_modality(tmp_path: Path) -> None:
    path = tmp_path / "dose.dcm"
    grid = DoseGrid(np.arange(2.0), np.arange(2.0), np.arange(1.0), np.ones((1, 2, 2), np.float32))
    write_rtdose(path, grid)
    expect_error(path, "Modality", "'RTDOSE', expected RTSTRUCT")


# --------------------------------------------------------------------------- parsing


def test_parse_examples() -> None:
    raw = b" 1.5\\-2\\3e-1\\ 4 \\.5\\5.\\+7\\-0.25\\1E+2\\-0\\00012.50 \x00"
    got = parse_decimal_string(raw)
    np.testing.assert_array_equal(got, [1.5, -2, 0.3, 4, 0.5, 5, 7, -0.25, 100, 0, 12.5])
    assert parse_decimal_string(b"").size == 0
    assert parse_decimal_string(b"  \x00").size == 0
    assert parse_decimal_string("1\\2").tolist() == [1.0, 2.0]
    assert np.isnan(parse_decimal_string(b"nan")[0])


@pytest.mark.parametrize(
    ("raw", "bad"),
    [
        (b"1.5\\abc", "value 2 ('abc')"),
        (b"1\\\\2", "value 2 ('')"),
        (b"1.5.3", "value 1 ('1.5.3')"),
        (b"-", "value 1 ('-')"),
        (b"1e", "value 1 ('1e')"),
        (b"--1", "value 1 ('--1')"),
        (b"1 2", "value 1 ('1 2')"),
        (b".", "value 1 ('.')"),
        (b"3\\4\\5\\0x10", "value 4 ('0x10')"),
        (b"1,5", "value 1 ('1,5')"),
        (b"1_000", "value 1 ('1_000')"),
    ],
)
def test_parse_rejects_garbage(raw: bytes, bad: str) -> None:
    with pytest.raises(DicomInputError, match="is not a decimal number") as info:
        parse_decimal_string(raw)
    assert bad in str(info.value)


finite = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e6, max_value=1e6)
formats = st.sampled_from(["%.10g", "%.2f", "%.4f", "%.6f", "%.1f", "%.0f", "%.6e", "%.3E", "%g"])


@settings(max_examples=200, deadline=None)
@given(values=st.lists(finite, min_size=1, max_size=60), fmt=formats, pad=st.booleans())
def test_parse_round_trips_ds_strings(values: list[float], fmt: str, pad: bool) -> None:
    tokens = [fmt % v for v in values]
    tokens = [t for t in tokens if len(t) <= 16] or ["0"]
    raw = "\\".join(tokens).encode()
    if pad and len(raw) % 2:
        raw += b" "
    got = parse_decimal_string(raw)
    expected = np.array([float(t) for t in tokens])
    np.testing.assert_array_equal(got, expected)  # bit-identical to float()


@settings(max_examples=200, deadline=None)
@given(values=st.lists(finite, min_size=1, max_size=40))
def test_parse_round_trips_repr(values: list[float]) -> None:
    tokens = [repr(v) for v in values]
    got = parse_decimal_string("\\".join(tokens))
    np.testing.assert_array_equal(got, np.array(values))


_VALID = re.compile(rb"[ \0]*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?[ \0]*")


@settings(max_examples=300, deadline=None)
@given(
    tokens=st.lists(
        st.text(alphabet="0123456789.+-eE xa,", min_size=0, max_size=8), min_size=1, max_size=6
    )
)
def test_parse_rejects_or_matches(tokens: list[str]) -> None:
    raw = "\\".join(tokens).encode()
    stripped = raw.strip(b" \0")
    all_valid = not stripped or all(_VALID.fullmatch(t) for t in stripped.split(b"\\"))
    if all_valid:
        got = parse_decimal_string(raw)
        expected = [float(t) for t in stripped.split(b"\\")] if stripped else []
        np.testing.assert_array_equal(got, expected)
    else:
        with pytest.raises(DicomInputError, match="is not a decimal number"):
            parse_decimal_string(raw)


# --------------------------------------------------------------------------- real files


def test_dicompyler_example_structures() -> None:
    folder = shared_dataset("dicompyler-core-example")
    ss = read_rtstruct(folder / "rtss.dcm")
    assert len(ss.structures) == 10
    lung = next(s for s in ss.structures if s.name == "Lt Lung")
    assert lung.n_contours == 165
    assert np.unique(lung.z).size == 80
    assert lung.interpreted_type == "AVOIDANCE"
    areola = next(s for s in ss.structures if s.name == "Areola")
    assert areola.is_empty and areola.notes == ()
    heart = ss.by_number(5)
    assert (heart.name, heart.n_contours) == ("Heart", 33)
    assert ss.frame_of_reference_uid == "2.16.840.1.113662.2.12.0.3057.1241703565.36"
    assert ss.sop_instance_uid == "1.2.246.352.71.4.320687012.3190.20090511122144"


def test_dicompyler_contours_match_pydicom() -> None:
    folder = shared_dataset("dicompyler-core-example")
    ss = read_rtstruct(folder / "rtss.dcm", roi_numbers=[5])
    ds = pydicom.dcmread(folder / "rtss.dcm")
    rc = next(r for r in ds.ROIContourSequence if r.ReferencedROINumber == 5)
    ref = np.concatenate(
        [np.array(c.ContourData, dtype=float).reshape(-1, 3) for c in rc.ContourSequence]
    )
    np.testing.assert_array_equal(ss.structures[0].xy, ref[:, :2])


def test_pydicom_rtstruct_point_rois() -> None:
    folder = shared_dataset("pydicom-testfiles")
    ss = read_rtstruct(folder / "rtstruct.dcm")  # no preamble / File Meta
    iso = [s for s in ss.structures if s.interpreted_type == "ISOCENTER"]
    assert iso and all(
        s.is_empty and s.notes == ("skipped 1 POINT contour (only CLOSED_PLANAR are used)",)
        for s in iso
    )
