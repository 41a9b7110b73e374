"""The ROIContourSequence read from its bytes gives what pydicom's items give (issue #11).

Property: for structure sets drawn at random (encodings, defined and undefined item
lengths, nested ContourImageSequence, missing and odd values), reading with the byte
walker and reading through pydicom alone give equal structure sets, or the same error.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from dosecheck.dicom import structures as structures_module
from dosecheck.dicom.contour_items import walk_roi_contours
from dosecheck.dicom.structures import read_rtstruct
from dosecheck.dicom.writer import write_rtstruct
from dosecheck.errors import DicomInputError
from dosecheck.model import Structure, StructureSet

FOR_UID = "1.2.826.0.1.3680043.8.498.71"

coordinate = st.floats(-500.0, 500.0, allow_nan=False).map(lambda v: round(v, 3))
geometry = st.sampled_from(["CLOSED_PLANAR", "CLOSED_PLANAR", "POINT", "OPEN_PLANAR", "", None])


@st.composite
def contour(draw: st.DrawFn) -> dict:
    n = draw(st.integers(0, 6))
    z = draw(coordinate)
    points = [[draw(coordinate), draw(coordinate), z] for _ in range(n)]
    declared = draw(st.sampled_from(["right", "right", "absent", "wrong"]))
    return {
        "geometry": draw(geometry),
        "points": points,
        "declared": {"right": n, "absent": None, "wrong": n + 1}[declared],
        "image_refs": draw(st.integers(0, 2)),
        "undefined_item": draw(st.booleans()),
        "undefined_images": draw(st.booleans()),
    }


@st.composite
def roi(draw: st.DrawFn) -> dict:
    return {
        "number": draw(st.integers(1, 6)),
        "colour": draw(st.sampled_from([[255, 0, 0], [0, 128, 255], [1, 2], None])),
        "contours": draw(st.lists(contour(), max_size=4)),
        "undefined_item": draw(st.booleans()),
        "has_contour_sequence": draw(st.booleans()),
    }


def _base(path: Path, numbers: list[int]) -> None:
    rois = tuple(Structure.from_contours(n, f"ROI {n}", []) for n in sorted(set(numbers)))
    write_rtstruct(path, StructureSet(rois, frame_of_reference_uid=FOR_UID, patient_id="P"))


def _write(path: Path, rois: list[dict], implicit: bool) -> None:
    _base(path, [r["number"] for r in rois])
    ds = pydicom.dcmread(path)
    items = []
    for r in rois:
        item = Dataset()
        if r["colour"] is not None:
            item.ROIDisplayColor = r["colour"]
        if r["has_contour_sequence"]:
            cs = []
            for c in r["contours"]:
                ci = Dataset()
                if c["image_refs"]:
                    refs = []
                    for k in range(c["image_refs"]):
                        ref = Dataset()
                        ref.ReferencedSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
                        ref.ReferencedSOPInstanceUID = f"1.2.3.{k + 1}"
                        refs.append(ref)
                    ci.ContourImageSequence = Sequence(refs)
                    ci["ContourImageSequence"].is_undefined_length = c["undefined_images"]
                if c["geometry"] is not None:
                    ci.ContourGeometricType = c["geometry"]
                if c["declared"] is not None:
                    ci.NumberOfContourPoints = c["declared"]
                if c["points"]:
                    ci.ContourData = [v for p in c["points"] for v in p]
                ci.is_undefined_length_sequence_item = c["undefined_item"]
                cs.append(ci)
            item.ContourSequence = Sequence(cs)
        item.ReferencedROINumber = r["number"]
        item.is_undefined_length_sequence_item = r["undefined_item"]
        items.append(item)
    ds.ROIContourSequence = Sequence(items)
    ds.file_meta.TransferSyntaxUID = (
        pydicom.uid.ImplicitVRLittleEndian if implicit else pydicom.uid.ExplicitVRLittleEndian
    )
    ds.save_as(path, enforce_file_format=True)


def _read(path: Path, *, walker: bool) -> StructureSet | str:
    original = structures_module.walk_roi_contours
    if not walker:
        structures_module.walk_roi_contours = lambda *a, **k: None  # type: ignore[assignment]
    try:
        return read_rtstruct(path)
    except DicomInputError as exc:
        return str(exc)
    finally:
        structures_module.walk_roi_contours = original


def _assert_same(a: StructureSet | str, b: StructureSet | str) -> None:
    if isinstance(a, str) or isinstance(b, str):
        assert a == b
        return
    assert a.notes == b.notes
    assert len(a.structures) == len(b.structures)
    for x, y in zip(a.structures, b.structures, strict=True):
        assert (x.number, x.name, x.color, x.notes) == (y.number, y.name, y.color, y.notes)
        np.testing.assert_array_equal(x.xy, y.xy)
        np.testing.assert_array_equal(x.z, y.z)
        np.testing.assert_array_equal(x.offsets, y.offsets)


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rois=st.lists(roi(), min_size=1, max_size=4), implicit=st.booleans())
def test_walker_and_pydicom_read_the_same(tmp_path: Path, rois: list[dict], implicit: bool) -> None:
    path = tmp_path / "rs.dcm"
    _write(path, rois, implicit)
    assert _walk(path) is not None  # plain values: the walker reads them all
    _assert_same(_read(path, walker=True), _read(path, walker=False))


def _walk(path: Path) -> list | None:
    ds = pydicom.dcmread(path)
    elem = ds.get_item(0x30060039)
    return walk_roi_contours(
        elem.value, implicit_vr=ds.is_implicit_VR, little_endian=ds.is_little_endian
    )


ROIS = [
    {
        "number": 3,
        "colour": [255, 0, 0],
        "has_contour_sequence": True,
        "undefined_item": True,
        "contours": [
            {
                "geometry": "CLOSED_PLANAR",
                "points": [[0.0, 0.0, 2.5], [10.0, 0.0, 2.5], [10.0, 10.5, 2.5]],
                "declared": 3,
                "image_refs": 2,
                "undefined_item": True,
                "undefined_images": True,
            },
            {
                "geometry": "POINT",
                "points": [[1.0, 2.0, 3.0]],
                "declared": 1,
                "image_refs": 0,
                "undefined_item": False,
                "undefined_images": False,
            },
        ],
    }
]


@pytest.mark.parametrize("implicit", [False, True])
def test_walker_reads_the_values(tmp_path: Path, implicit: bool) -> None:
    path = tmp_path / "rs.dcm"
    _write(path, ROIS, implicit)
    walked = _walk(path)
    assert walked is not None and len(walked) == 1
    (r,) = walked
    assert (r.roi_number, r.color, len(r.contours)) == (3, (255, 0, 0), 2)
    closed, point = r.contours
    assert (closed.geometry, closed.n_points) == ("CLOSED_PLANAR", 3)
    assert closed.data is not None
    assert [float(v) for v in closed.data.split(b"\\")] == [0, 0, 2.5, 10, 0, 2.5, 10, 10.5, 2.5]
    assert (point.geometry, point.n_points) == ("POINT", 1)


def test_walker_declines_what_it_does_not_read_for_certain(tmp_path: Path) -> None:
    path = tmp_path / "rs.dcm"
    _write(path, ROIS, implicit=False)
    ds = pydicom.dcmread(path)
    value = ds.get_item(0x30060039).value
    kw = {"implicit_vr": False, "little_endian": True}
    assert walk_roi_contours(value, **kw) is not None
    assert walk_roi_contours(value, implicit_vr=False, little_endian=False) is None
    assert walk_roi_contours(value[:-3], **kw) is None  # truncated
    assert walk_roi_contours(value + b"\x00\x00", **kw) is None  # trailing bytes
    signed = value.replace(b"IS\x02\x003 ", b"IS\x02\x00+3")  # ReferencedROINumber "+3"
    assert signed != value and walk_roi_contours(signed, **kw) is None
    # and the file with "+3" still reads (through pydicom), ROI 3 with its contour
    ds.ROIContourSequence[0].ReferencedROINumber = "+3"
    ds.save_as(path)
    assert read_rtstruct(path).by_number(3).n_contours == 1


def test_an_undefined_length_sequence_is_read_through_pydicom(tmp_path: Path) -> None:
    path = tmp_path / "rs.dcm"
    _write(path, ROIS, implicit=False)
    ds = pydicom.dcmread(path)
    ds["ROIContourSequence"].is_undefined_length = True
    ds.save_as(path)
    again = pydicom.dcmread(path)
    assert not isinstance(again.get_item(0x30060039).value, bytes)  # parsed on reading
    ptv = read_rtstruct(path).by_number(3)
    assert ptv.n_contours == 1 and ptv.color == (255, 0, 0)
