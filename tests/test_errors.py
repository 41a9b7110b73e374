"""The one-line error text: file, line, DICOM keyword with its tag number, message."""

from __future__ import annotations

import pytest

from dosecheck.errors import ConstraintFileError, DicomInputError, InputError, tag_number


def test_tag_shown_with_its_number() -> None:
    e = DicomInputError("is 'MGY', expected GY", path="rd.dcm", tag="DoseUnits")
    assert str(e) == "rd.dcm: DoseUnits (3004,0002): is 'MGY', expected GY"
    assert e.args == (str(e),)
    assert (e.path, e.tag, e.message) == ("rd.dcm", "DoseUnits", "is 'MGY', expected GY")


@pytest.mark.parametrize(
    ("keyword", "number"),
    [
        ("DoseGridScaling", "(3004,000E)"),
        ("PixelData", "(7FE0,0010)"),
        ("ContourData", "(3006,0050)"),
        ("FrameOfReferenceUID", "(0020,0052)"),
    ],
)
def test_tag_number(keyword: str, number: str) -> None:
    assert tag_number(keyword) == number


def test_unknown_keyword_is_shown_as_given() -> None:
    """A private tag (already a number) or a name not in the dictionary: no number."""
    assert tag_number("(0011,1010)") is None
    assert str(InputError("bad", tag="(0011,1010)")) == "(0011,1010): bad"
    assert str(InputError("bad", tag="NotAKeyword")) == "NotAKeyword: bad"


def test_path_line_and_no_tag() -> None:
    assert str(ConstraintFileError("bad key", path="set.yaml", line=7)) == "set.yaml:7: bad key"
    assert str(InputError("give a plan folder")) == "give a plan folder"
