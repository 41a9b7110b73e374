"""Which format a constraint file is in, told by its content (not only its name)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Final

import dosecheck.checking.templates.eclipse_xml as eclipse_xml
import dosecheck.checking.templates.proknow as proknow
import dosecheck.checking.templates.raystation as raystation
import dosecheck.checking.templates.varian_csv as varian_csv
from dosecheck.checking.templates._common import (
    TemplateImport,
    decode_text,
    fail,
    parse_xml,
    read_bytes,
)

__all__ = ["FORMATS", "YAML", "detect", "read_template"]

YAML: Final = "yaml"
#: Every format :func:`read_template` reads.
FORMATS: Final = (
    varian_csv.FORMAT,
    eclipse_xml.PROTOCOL,
    eclipse_xml.GOALS,
    proknow.FORMAT,
    raystation.FORMAT,
)
_XML_ROOTS: Final = (
    "Protocol (Eclipse clinical protocol), DoseObjectives (Eclipse clinical goals) or a "
    "RayStation protocol with ClinicalGoal elements"
)


def detect(path: Path, data: bytes) -> str:
    """The format of ``data``: one of :data:`FORMATS`, or :data:`YAML` for anything else
    (the YAML loader then says what is wrong with it)."""
    head = data[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):  # UTF-16: decode the start
        head = decode_text(path, data[:4096] if len(data) % 2 == 0 else data[:4095]).lstrip()
        head = head.encode("utf-8", "replace")
    if head.startswith(b"<"):
        return "xml"
    if head.startswith((b"{", b"[")):
        try:
            doc = json.loads(decode_text(path, data))
        except (ValueError, RecursionError):
            return YAML
        if proknow.looks_like(doc):
            return proknow.FORMAT
        return YAML
    text = decode_text(path, data[:65536]) if head else ""
    if varian_csv.looks_like(text):
        return varian_csv.FORMAT
    return YAML


def read_template(path: str | Path) -> TemplateImport:
    """Read a planning-system template (any of :data:`FORMATS`).

    Raises
    ------
    ConstraintFileError
        Missing, over 10 MB, not a known template format, or malformed (with the line
        or element and what was expected).
    """
    p = Path(path)
    data, sha256 = read_bytes(p)
    fmt = detect(p, data)
    if fmt == "xml":
        root = parse_xml(p, data)
        tag = root.tag.rsplit("}", 1)[-1]
        if tag == "Protocol":
            return eclipse_xml.read_protocol(p, root, sha256)
        if tag == "DoseObjectives":
            return eclipse_xml.read_goals(p, root, sha256)
        if raystation.looks_like(root):
            return raystation.read(p, root, sha256)
        fail(p, f"XML root <{tag}> is not a known template; expected {_XML_ROOTS}")
    if fmt == varian_csv.FORMAT:
        return varian_csv.read(p, data, sha256)
    if fmt == proknow.FORMAT:
        return proknow.read(p, data, sha256)
    fail(
        p,
        "not a known constraint template: expected a Varian DVH-objective CSV (header "
        + ",".join(varian_csv.HEADER)
        + f"), XML ({_XML_ROOTS}) or a ProKnow scorecard JSON",
    )
