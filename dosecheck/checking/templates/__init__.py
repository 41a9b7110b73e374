"""Constraint templates of planning systems, read into the same
:class:`~dosecheck.checking.model.ConstraintSet` the YAML loader builds.

Formats (told by content): the Varian-style DVH-objective CSV
(:mod:`.varian_csv`), Eclipse Clinical Protocol and Clinical Goals XML
(:mod:`.eclipse_xml`, codes in :mod:`.eclipse_codes`), ProKnow scorecard JSON
(:mod:`.proknow`) and RayStation clinical goals in scripted protocol XML
(:mod:`.raystation`). :func:`load_constraint_file` is the one entry point behind
``--constraints FILE``; :func:`read_template` also returns what could not be imported.
XML is parsed with defusedxml (no DTD, no entities); files over 10 MB are refused.
"""

from __future__ import annotations

from pathlib import Path

from dosecheck.checking.model import ConstraintSet
from dosecheck.checking.templates._common import (
    MAX_TEMPLATE_BYTES,
    NotImported,
    TemplateImport,
    Variation,
    read_bytes,
)
from dosecheck.checking.templates.detect import FORMATS, YAML, detect, read_template

__all__ = [
    "FORMATS",
    "MAX_TEMPLATE_BYTES",
    "NotImported",
    "TemplateImport",
    "Variation",
    "constraint_file_format",
    "load_constraint_file",
    "read_constraint_file",
    "read_template",
]

_YAML_SUFFIXES = (".yaml", ".yml")
_TEMPLATE_SUFFIXES = (".csv", ".xml", ".json")


def constraint_file_format(path: str | Path) -> str:
    """``"yaml"`` or one of :data:`FORMATS`, by content."""
    p = Path(path)
    data, _ = read_bytes(p)
    fmt = detect(p, data)
    if fmt == "xml":
        return read_template(p).format
    return fmt


def read_constraint_file(path: str | Path) -> TemplateImport:
    """A YAML set or a template, with what could not be imported (nothing, for YAML)."""
    from dosecheck.checking.loader import load_constraint_set

    p = Path(path)
    if p.suffix.lower() in _YAML_SUFFIXES and not _sniff_template(p):
        return TemplateImport(load_constraint_set(p), YAML)
    if p.is_file() and p.suffix.lower() in _TEMPLATE_SUFFIXES:
        return read_template(p)  # says what a template must look like
    if not p.is_file() or detect(p, read_bytes(p)[0]) == YAML:
        return TemplateImport(load_constraint_set(p), YAML)
    return read_template(p)


def load_constraint_file(path: str | Path) -> ConstraintSet:
    """The constraint set of a YAML file or of any template format (by content).

    Raises
    ------
    ConstraintFileError
        As :func:`~dosecheck.checking.loader.load_constraint_set` for YAML, as
        :func:`read_template` for templates.
    """
    return read_constraint_file(path).constraint_set


def _sniff_template(p: Path) -> bool:
    """A ``.yaml`` file whose content is XML, JSON or the CSV header (a misnamed
    export), read as what it is."""
    try:
        with p.open("rb") as f:
            head = f.read(4096)
    except OSError:
        return False
    return detect(p, head) != YAML
