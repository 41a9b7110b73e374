"""Templates are untrusted input: no DTD or entity in XML, bounded sizes, malformed
files refused with the file and the line or element."""

from __future__ import annotations

from pathlib import Path

import pytest

from dosecheck.checking.templates import MAX_TEMPLATE_BYTES, read_constraint_file
from dosecheck.errors import ConstraintFileError
from tests.helpers.templates import CSV_HEADER, eclipse_protocol

XXE = (
    '<?xml version="1.0"?>\n'
    '<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>\n'
    '<Protocol><Preview ID="&e;" /></Protocol>\n'
)
BILLION_LAUGHS = (
    '<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">'
    '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>\n'
    "<DoseObjectives>&lol2;</DoseObjectives>\n"
)


@pytest.mark.parametrize(
    "text", [XXE, BILLION_LAUGHS, '<!DOCTYPE Protocol SYSTEM "x.dtd">\n<Protocol />']
)
def test_dtd_and_entities_refused(tmp_path: Path, text: str) -> None:
    p = tmp_path / "evil.xml"
    p.write_text(text)
    with pytest.raises(ConstraintFileError) as e:
        read_constraint_file(p)
    msg = str(e.value)
    assert msg.startswith(f"{p}: ") and "DOCTYPE" in msg and "refused" in msg
    assert "root:" not in msg  # nothing of /etc/passwd


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("a.xml", "<Protocol><Phases>", "invalid XML"),
        ("b.xml", "<Other />", "XML root <Other> is not a known template"),
        ("c.xml", "<Protocol><Phases /></Protocol>", "has no <Phase>"),
        ("d.json", '{"computed": [{"type": "MAX_DOSE_ROI", "roi_name": "R",}]}', "not a known"),
        (
            "e.json",
            '{"computed": [{"type": "MAX_DOSE_ROI", "roi_name": "R", "objectives": [{"max": 5}]}]}',
            "at least two bins",
        ),
    ],
)
def test_malformed_refused(tmp_path: Path, name: str, text: str, expected: str) -> None:
    p = tmp_path / name
    p.write_text(text)
    with pytest.raises(ConstraintFileError) as e:
        read_constraint_file(p)
    assert str(e.value).startswith(str(p)) and expected in str(e.value)


def test_invalid_xml_names_the_line(tmp_path: Path) -> None:
    p = tmp_path / "p.xml"
    p.write_text(eclipse_protocol().replace("</Phases>", "</Phase>"))
    with pytest.raises(ConstraintFileError) as e:
        read_constraint_file(p)
    assert e.value.line == 5 and "invalid XML: mismatched tag" in str(e.value)


@pytest.mark.parametrize("suffix", [".csv", ".xml", ".json"])
def test_oversize_refused_unread(tmp_path: Path, suffix: str) -> None:
    p = tmp_path / f"big{suffix}"
    with p.open("wb") as f:
        f.write(CSV_HEADER.encode() + b"\n")
        f.truncate(MAX_TEMPLATE_BYTES + 1)
    with pytest.raises(
        ConstraintFileError, match=r"10000001 bytes; constraint templates larger than 10 MB"
    ):
        read_constraint_file(p)


def test_yaml_default_path_unchanged(tmp_path: Path) -> None:
    """A YAML set still goes to the YAML loader, with its own messages and 1 MB limit."""
    p = tmp_path / "set.yaml"
    p.write_text("name: x\nstructures: []\n")
    with pytest.raises(ConstraintFileError, match=r"set.yaml:2: structures is empty"):
        read_constraint_file(p)
    p.write_bytes(b"# " + b"x" * 1_000_001)
    with pytest.raises(ConstraintFileError, match="larger than 1 MB"):
        read_constraint_file(p)
