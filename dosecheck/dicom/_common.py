"""Helpers shared by the DICOM readers (private)."""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError

from dosecheck.errors import DicomInputError, InputError

_P = ParamSpec("_P")
_R = TypeVar("_R")


def quiet_pydicom(func: Callable[_P, _R]) -> Callable[_P, _R]:
    """Silence pydicom's warnings about non-conformant values (e.g. UIDs with leading
    zeros) while ``func`` runs: real exports are full of them and they do not affect
    what dosecheck reads. Real problems raise :class:`DicomInputError` instead."""

    @functools.wraps(func)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r".*\bVR\b", category=UserWarning)
            return func(*args, **kwargs)

    return wrapper


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
    try:
        ds = _dcmread(p, stop_before_pixels=stop_before_pixels, defer_size=defer_size)
    except InvalidDicomError as exc:
        raise DicomInputError(
            f"is not a DICOM file ({exc}); pass {_EXPECTED[modality]} file", path=p
        ) from exc
    except Exception as exc:  # truncated or corrupt files raise many different errors
        raise DicomInputError(
            f"could not be read as DICOM ({type(exc).__name__}: {exc}); "
            "the file may be truncated or corrupt, export it again",
            path=p,
        ) from exc
    actual = str(ds.get("Modality", "") or "").strip().upper()
    if actual != modality:
        shown = repr(actual) if actual else "missing"
        raise DicomInputError(
            f"is {shown}, expected {modality}; pass {_EXPECTED[modality]} file",
            path=p,
            tag="Modality",
        )
    return ds


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
            f"is not numeric ({value!r}); export the file again", path=path, tag=keyword
        ) from exc
    if count is not None and len(out) != count:
        raise DicomInputError(
            f"has {len(out)} values, expected {count}; export the file again",
            path=path,
            tag=keyword,
        )
    if not all(math.isfinite(v) for v in out):
        raise DicomInputError(
            f"contains NaN or infinity ({out}); export the file again", path=path, tag=keyword
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
            f"is not an integer ({value!r}); export the file again", path=path, tag=keyword
        ) from exc


_HEADER_TAGS = [
    "SOPClassUID",
    "SOPInstanceUID",
    "Modality",
    "FrameOfReferenceUID",
    "ReferencedRTPlanSequence",
    "ReferencedStructureSetSequence",
    "DoseSummationType",
]


def read_header(path: str | Path) -> Dataset | None:
    """Read the few header attributes used for discovery; ``None`` if not DICOM."""
    try:
        return _dcmread(Path(path), stop_before_pixels=True, specific_tags=_HEADER_TAGS)
    except Exception:  # not DICOM, unreadable, truncated: ignored by discovery
        return None
