"""Exceptions raised by dosecheck.

Every mistake a user can make (a bad path, an unsupported DICOM object, a malformed
constraint file) raises :class:`InputError` or a subclass. The CLI turns these into one
line on stderr and exit code 2; anything else is a bug and shows a traceback under
``--debug``.
"""

from __future__ import annotations

from pathlib import Path


class DosecheckError(Exception):
    """Base class of all dosecheck errors."""


class InputError(DosecheckError):
    """A problem with the user's input: file, option or constraint set.

    Parameters
    ----------
    message
        What is wrong and, where possible, what to do about it.
    path
        The offending file, prefixed to the message when given.
    tag
        The offending DICOM attribute keyword, e.g. ``"DoseGridScaling"``; shown with
        its tag number when pydicom's dictionary knows it:
        ``DoseGridScaling (3004,000E): ...``.
    line
        The 1-based line number in a text file (YAML constraint sets).
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | Path | None = None,
        tag: str | None = None,
        line: int | None = None,
    ) -> None:
        self.message = message
        self.path = str(path) if path is not None else None
        self.tag = tag
        self.line = line
        super().__init__(self.__str__())

    def __str__(self) -> str:
        where = ""
        if self.path is not None:
            where = self.path
            if self.line is not None:
                where += f":{self.line}"
            where += ": "
        tag = ""
        if self.tag:
            number = tag_number(self.tag)
            tag = f"{self.tag} {number}: " if number else f"{self.tag}: "
        return f"{where}{tag}{self.message}"


def tag_number(keyword: str) -> str | None:
    """The tag number ``"(gggg,eeee)"`` of a DICOM keyword, or None when unknown.

    pydicom's data dictionary is imported here, on first use: every error that names a
    tag comes from reading DICOM, when pydicom is already loaded, and ``import
    dosecheck.errors`` stays free of it.

    Examples
    --------
    >>> tag_number("DoseUnits")
    '(3004,0002)'
    >>> tag_number("(0011,1010)") is None
    True
    """
    try:
        from pydicom.datadict import tag_for_keyword
    except ImportError:  # pragma: no cover - pydicom is a dependency
        return None
    tag = tag_for_keyword(keyword)
    if tag is None:
        return None
    return f"({tag >> 16:04X},{tag & 0xFFFF:04X})"


class DicomInputError(InputError):
    """A DICOM file that cannot be used (missing or unsupported attribute, bad data)."""


class ConstraintFileError(InputError):
    """A constraint-set YAML file that is malformed."""


class MetricSyntaxError(InputError, ValueError):
    """A DVH metric string that does not follow the TG-263 grammar."""


class MetricDomainError(DosecheckError, ValueError):
    """A well-formed metric that cannot be evaluated on this DVH.

    Examples: ``D15cc`` on a 12 cc structure, ``V95%`` with no prescription.
    Checks report these as ``not_evaluated`` with the message.
    """
