"""Helpers shared by the DICOM readers (private)."""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import pydicom
from pydicom import dcmread
from pydicom.datadict import keyword_for_tag
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError

from dosecheck.errors import DicomInputError, InputError

_P = ParamSpec("_P")
_R = TypeVar("_R")


_PYDICOM_DIR = str(Path(pydicom.__file__).resolve().parent)


def _raised_by_pydicom(exc: BaseException) -> bool:
    """Whether ``exc`` was raised inside pydicom (directly or in code it called)."""
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename.startswith(_PYDICOM_DIR):
            return True
        tb = tb.tb_next
    return False


def quiet_pydicom(func: Callable[_P, _R]) -> Callable[_P, _R]:
    """Run a reader: silence pydicom's warnings, and report pydicom's errors as a
    corrupt file.

    Warnings about non-conformant values (e.g. UIDs with leading zeros) are silenced:
    real exports are full of them and they do not affect what dosecheck reads.
    pydicom converts element values when they are first accessed, so a corrupt value
    (an unknown VR, bytes that do not decode) raises wherever the reader touches it;
    any such exception raised inside pydicom becomes a :class:`DicomInputError` naming
    the file (the reader's first argument). Exceptions raised by dosecheck's own code
    are left alone: they are bugs.
    """

    @functools.wraps(func)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r".*\bVR\b", category=UserWarning)
            try:
                return func(*args, **kwargs)
            except InputError:
                raise
            except Exception as exc:
                if not _raised_by_pydicom(exc):
                    raise
                path = args[0] if args else kwargs.get("path")
                raise DicomInputError(
                    f"could not be read as DICOM ({type(exc).__name__}: {one_line(exc)}); "
                    "the file is corrupt, export it again",
                    path=path,  # type: ignore[arg-type]
                ) from exc

    return wrapper


# pydicom's advice to programmers, not to users of dosecheck
_FORCE_HINT = " Use force=True to force reading."
_EXPECTED = {
    "RTSTRUCT": "an RT Structure Set (RTSTRUCT)",
    "RTDOSE": "an RT Dose (RTDOSE)",
    "RTPLAN": "an RT Plan (RTPLAN)",
}


def check_exists(path: str | Path, what: str = "file") -> Path:
    """Return ``path`` as a :class:`Path` or raise :class:`InputError` if it is missing."""
    p = Path(path)
    if not p.exists():
        raise InputError(f"{what} not found; check the path", path=p)
    if p.is_dir():
        raise InputError(f"is a folder, expected a DICOM {what}", path=p)
    return p


def _dcmread(path: Path, **kwargs: Any) -> Dataset:
    """``dcmread`` that also accepts files without the 128-byte preamble/File Meta.

    Such files (old exporters, pydicom's own test files) are read with
    ``force=True``, but only kept when they look like a DICOM dataset.
    """
    try:
        return dcmread(path, force=False, **kwargs)
    except InvalidDicomError:
        with open(path, "rb") as f:
            head = f.read(8)
        # A dataset without preamble starts with a group 0x0002/0x0008 tag (little
        # or big endian); anything else is not DICOM.
        if len(head) < 8 or head[:2] not in (b"\x02\x00", b"\x08\x00", b"\x00\x02", b"\x00\x08"):
            raise
        ds = dcmread(path, force=True, **kwargs)
        if "SOPClassUID" not in ds and "Modality" not in ds:
            raise InvalidDicomError("no DICOM preamble and no SOPClassUID/Modality") from None
        return ds


def _keyword(tag: int) -> str:
    return keyword_for_tag(tag) or f"({tag >> 16:04X},{tag & 0xFFFF:04X})"


def _check_complete(ds: Dataset, path: Path) -> None:
    """Refuse a truncated file.

    pydicom stops quietly at the end of a file: an element cut short keeps the bytes
    that are there (so a sequence loses its last items and an RTSTRUCT its last
    contours) and a cut element header (fewer than 8 bytes) is ignored. Every top-level
    element with a defined length must therefore end inside the file, and the file may
    not end with a few unparsed non-zero bytes. (pydicom stopped before the pixel data
    leaves at least a whole element header unparsed.)
    """
    size = path.stat().st_size
    if len(ds) == 0:
        raise DicomInputError(
            "holds no DICOM data elements after its header: the file is truncated or "
            "empty; copy or export the file again",
            path=path,
        )
    end = 0
    # keep_deferred: a value pydicom deferred (defer_size) stays unread here; its end is
    # checked against the file size all the same (Dataset.elements() would read it).
    for tag in list(ds.keys()):
        elem = ds.get_item(tag, keep_deferred=True)
        if not isinstance(elem, RawDataElement) or elem.length == 0xFFFFFFFF:
            continue
        start = elem.value_tell
        got = len(elem.value) if elem.value is not None else max(size - start, 0)
        if got < elem.length:
            raise DicomInputError(
                f"the file is truncated: this element should hold {elem.length} bytes but "
                f"the file ends after {got} of them; copy or export the file again",
                path=path,
                tag=_keyword(elem.tag),
            )
        end = max(end, start + elem.length)
    if 0 < size - end < 8:
        with open(path, "rb") as f:
            f.seek(end)
            tail = f.read(16)
        if any(tail):
            raise DicomInputError(
                f"the file is truncated: it ends with {size - end} byte(s) that are not a "
                "whole DICOM element; copy or export the file again",
                path=path,
            )


def read_dataset(
    path: str | Path,
    *,
    modality: str,
    stop_before_pixels: bool = False,
    defer_size: str | int | None = None,
) -> Dataset:
    """Read a DICOM file and check its Modality.

    Raises
    ------
    InputError
        The file does not exist.
    DicomInputError
        The file is not DICOM, cannot be parsed, or has another Modality.
    """
    p = check_exists(path, f"{modality} file")
    if p.stat().st_size == 0:
        raise DicomInputError(
            f"is empty (0 bytes); pass {_EXPECTED[modality]} file, or copy it again", path=p
        )
    try:
        ds = _dcmread(p, stop_before_pixels=stop_before_pixels, defer_size=defer_size)
        _check_complete(ds, p)
    except DicomInputError:
        raise
    except InvalidDicomError as exc:
        raise DicomInputError(
            f"is not a DICOM file ({one_line(str(exc).replace(_FORCE_HINT, ''))}); pass "
            f"{_EXPECTED[modality]} file",
            path=p,
        ) from exc
    except Exception as exc:  # truncated or corrupt files raise many different errors
        raise DicomInputError(
            f"could not be read as DICOM ({type(exc).__name__}: {one_line(exc)}); "
            "the file may be truncated or corrupt, export it again",
            path=p,
        ) from exc
    actual = str(ds.get("Modality", "") or "").strip().upper()
    if actual != modality:
        what = shown(actual) if actual else "missing"
        raise DicomInputError(
            f"is {what}, expected {modality}; pass {_EXPECTED[modality]} file",
            path=p,
            tag="Modality",
        )
    return ds


def one_line(message: object, limit: int = 200) -> str:
    """``str(message)`` on one line, cut to about ``limit`` characters (for messages
    that quote a third-party exception)."""
    t = " ".join(str(message).split())
    return t if len(t) <= limit else t[: limit - 3] + "..."


def shown(value: Any, limit: int = 60) -> str:
    """``repr(value)`` cut to about ``limit`` characters, for messages (values can be
    megabytes long)."""
    r = repr(value)
    return r if len(r) <= limit else f"{r[: limit - 5]}...{r[-2:]}"


def text(ds: Dataset, keyword: str) -> str:
    """Return an attribute as a stripped string, ``""`` when absent or empty."""
    value = ds.get(keyword, None)
    if value is None:
        return ""
    return str(value).strip()


def required(ds: Dataset, keyword: str, path: str | Path, what: str = "") -> Any:
    """Return ``ds.<keyword>`` or raise :class:`DicomInputError` naming the tag."""
    value = ds.get(keyword, None)
    if value is None or (hasattr(value, "__len__") and len(value) == 0):
        hint = f" {what}" if what else ""
        raise DicomInputError(
            f"is missing or empty; it is required{hint}. Export the file again from the "
            "planning system",
            path=path,
            tag=keyword,
        )
    return value


def floats(ds: Dataset, keyword: str, path: str | Path, *, count: int | None = None) -> list[float]:
    """Return a multi-valued numeric attribute as finite floats, checking the count."""
    value = required(ds, keyword, path)
    try:
        seq = (
            list(value)
            if not isinstance(value, str | bytes) and hasattr(value, "__iter__")
            else [value]
        )
        out = [float(v) for v in seq]
    except (TypeError, ValueError) as exc:
        raise DicomInputError(
            f"is not numeric ({shown(value)}); export the file again", path=path, tag=keyword
        ) from exc
    if count is not None and len(out) != count:
        raise DicomInputError(
            f"has {len(out)} values, expected {count}; export the file again",
            path=path,
            tag=keyword,
        )
    if not all(math.isfinite(v) for v in out):
        raise DicomInputError(
            f"contains NaN or infinity ({shown(out)}); export the file again",
            path=path,
            tag=keyword,
        )
    return out


def integer(ds: Dataset, keyword: str, path: str | Path, default: int | None = None) -> int:
    """Return an integer attribute (``default`` when absent and a default is given)."""
    value = ds.get(keyword, None)
    if value is None or value == "":
        if default is not None:
            return default
        required(ds, keyword, path)
    try:
        return int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise DicomInputError(
            f"is not an integer ({shown(value)}); export the file again", path=path, tag=keyword
        ) from exc
