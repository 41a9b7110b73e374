"""The ROIContourSequence of an RTSTRUCT as plain values: each ROI's number, colour and
contours (geometric type, declared point count, the ContourData bytes).

A structure set holds one contour item per ROI and plane, thousands in a pelvis plan.
pydicom builds a :class:`~pydicom.dataset.Dataset` for each item and converts each
value on access, about 60 µs per contour; :func:`walk_roi_contours` reads the same
values straight from the sequence's bytes in a few µs each (issue #11). It reads
only what it recognises for certain: little-endian data, explicit or implicit VR, a
sequence pydicom kept unparsed (defined length). Anything else (an undefined-length
sequence pydicom parsed on reading, a value that is not a plain integer, a length
that runs past its container, a repeated attribute) makes it return ``None``, and
the caller reads the items through pydicom
(:func:`dosecheck.dicom.structures.read_rtstruct` does), which also gives the error
messages. Both give the same values.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["ContourItem", "RoiContours", "walk_roi_contours"]

_ITEM = 0xFFFEE000
_ITEM_END = 0xFFFEE00D
_SEQUENCE_END = 0xFFFEE0DD
_UNDEFINED = 0xFFFFFFFF
_REFERENCED_ROI_NUMBER = 0x30060084
_ROI_DISPLAY_COLOR = 0x3006002A
_CONTOUR_SEQUENCE = 0x30060040
_CONTOUR_GEOMETRIC_TYPE = 0x30060042
_NUMBER_OF_CONTOUR_POINTS = 0x30060046
_CONTOUR_DATA = 0x30060050
# Explicit VRs whose length is 4 bytes after 2 reserved ones (PS3.5 7.1.2).
_LONG_VRS = frozenset(b"OB OD OF OL OV OW SQ UC UN UR UT".split())

_TAG_LENGTH = struct.Struct("<HHI")  # group, element, 4-byte length (items, implicit VR)
_EXPLICIT_SHORT = struct.Struct("<HH2sH")  # group, element, VR, 2-byte length


@dataclass(frozen=True, slots=True)
class ContourItem:
    """One ContourSequence item.

    Attributes
    ----------
    geometry
        ContourGeometricType, upper-case (``""`` when absent).
    n_points
        NumberOfContourPoints (``None`` when absent).
    data
        ContourData as its raw bytes, blanks and NUL padding stripped (``None`` when
        absent).
    """

    geometry: str
    n_points: int | None
    data: bytes | None


@dataclass(frozen=True, slots=True)
class RoiContours:
    """One ROIContourSequence item: the ROI it refers to, its colour, its contours."""

    roi_number: int
    color: tuple[int, int, int] | None
    contours: tuple[ContourItem, ...]


class _Unsure(Exception):
    """The bytes hold something the walker does not read for certain."""


class _Walker:
    def __init__(self, buf: bytes, implicit_vr: bool) -> None:
        self.buf = buf
        self.implicit = implicit_vr

    def element(self, pos: int, end: int) -> tuple[int, bytes, int, int]:
        """(tag, VR or b"", value start, value length) of the element at ``pos``."""
        if pos + 8 > end:
            raise _Unsure
        if self.implicit:
            group, elem, length = _TAG_LENGTH.unpack_from(self.buf, pos)
            return (group << 16) | elem, b"", pos + 8, length
        group, elem, vr, length = _EXPLICIT_SHORT.unpack_from(self.buf, pos)
        tag = (group << 16) | elem
        if group == 0xFFFE:  # item and delimiters carry no VR
            return tag, b"", pos + 8, _TAG_LENGTH.unpack_from(self.buf, pos)[2]
        if vr in _LONG_VRS:
            if pos + 12 > end:
                raise _Unsure
            return tag, vr, pos + 12, struct.unpack_from("<I", self.buf, pos + 8)[0]
        return tag, vr, pos + 8, length

    def items(self, pos: int, end: int, defined: bool) -> tuple[list[tuple[int, int]], int]:
        """The (start, end) spans of the items of a sequence whose value starts at
        ``pos``; the position after the sequence. ``end`` bounds a defined-length
        sequence, or the container of an undefined-length one."""
        spans: list[tuple[int, int]] = []
        while pos < end if defined else True:
            tag, _, start, length = self.element(pos, end)
            if tag == _SEQUENCE_END and not defined:
                return spans, start
            if tag != _ITEM:
                raise _Unsure
            if length == _UNDEFINED:
                stop = self.skip_dataset(start, end)
                spans.append((start, stop - 8))  # the item delimiter is not content
                pos = stop
            else:
                if start + length > end:
                    raise _Unsure
                spans.append((start, start + length))
                pos = start + length
        if pos != end:
            raise _Unsure
        return spans, pos

    def skip_dataset(self, pos: int, end: int) -> int:
        """The position after the item delimiter of an undefined-length item."""
        while True:
            tag, vr, start, length = self.element(pos, end)
            if tag == _ITEM_END:
                return start
            pos = self.after(tag, vr, start, length, end)

    def after(self, tag: int, vr: bytes, start: int, length: int, end: int) -> int:
        """The position after an element's value (an undefined length is a sequence)."""
        if length == _UNDEFINED:
            if vr not in (b"SQ", b""):
                raise _Unsure
            return self.items(start, end, defined=False)[1]
        if start + length > end:
            raise _Unsure
        return start + length

    def fields(self, start: int, end: int, wanted: Iterable[int]) -> dict[int, tuple[int, int]]:
        """The value spans of the ``wanted`` tags among the elements of an item (for a
        sequence, the span of its items; a repeated tag is unsure)."""
        found: dict[int, tuple[int, int]] = {}
        want = set(wanted)
        pos = start
        while pos < end:
            tag, vr, value, length = self.element(pos, end)
            nxt = self.after(tag, vr, value, length, end)
            if tag in want:
                if tag in found:
                    raise _Unsure
                found[tag] = (value, nxt if length == _UNDEFINED else value + length)
            pos = nxt
        if pos != end:
            raise _Unsure
        return found

    def text(self, span: tuple[int, int] | None) -> bytes | None:
        return None if span is None else self.buf[span[0] : span[1]].strip(b" \0")


def _integer(raw: bytes | None) -> int | None:
    if raw is None or raw == b"":
        return None
    if not raw.isdigit():
        raise _Unsure  # signs, blanks inside, non-numbers: pydicom reads (or refuses) it
    return int(raw)


def _colour(raw: bytes | None) -> tuple[int, int, int] | None:
    parts = [] if not raw else raw.split(b"\\")
    if not all(p.isdigit() for p in parts):
        raise _Unsure
    if len(parts) != 3:
        return None
    r, g, b = (int(p) for p in parts)
    return (r, g, b)


def walk_roi_contours(
    value: bytes, *, implicit_vr: bool, little_endian: bool
) -> list[RoiContours] | None:
    """The items of a ROIContourSequence from its raw value, or ``None`` when the
    bytes hold anything this reader does not read for certain (see the module
    docstring); the caller then reads the items with pydicom.

    Parameters
    ----------
    value
        The sequence's value as stored (its items, without the sequence's own header).
    implicit_vr, little_endian
        The data set's encoding.
    """
    if not little_endian:
        return None
    w = _Walker(bytes(value), implicit_vr)
    try:
        rois: list[RoiContours] = []
        roi_spans, _ = w.items(0, len(w.buf), defined=True)
        for start, end in roi_spans:
            f = w.fields(
                start, end, (_REFERENCED_ROI_NUMBER, _ROI_DISPLAY_COLOR, _CONTOUR_SEQUENCE)
            )
            number = _integer(w.text(f.get(_REFERENCED_ROI_NUMBER)))
            if number is None:
                raise _Unsure  # pydicom's path names the missing tag
            contours: list[ContourItem] = []
            if _CONTOUR_SEQUENCE in f:
                a, b = f[_CONTOUR_SEQUENCE]
                spans, _ = w.items(a, b, defined=True) if b > a else ([], a)
                for cs, ce in spans:
                    c = w.fields(
                        cs, ce, (_CONTOUR_GEOMETRIC_TYPE, _NUMBER_OF_CONTOUR_POINTS, _CONTOUR_DATA)
                    )
                    geometry = w.text(c.get(_CONTOUR_GEOMETRIC_TYPE)) or b""
                    if b"\\" in geometry or not geometry.isascii():
                        raise _Unsure
                    contours.append(
                        ContourItem(
                            geometry=geometry.decode("ascii", "replace").upper(),
                            n_points=_integer(w.text(c.get(_NUMBER_OF_CONTOUR_POINTS))),
                            data=w.text(c.get(_CONTOUR_DATA)),
                        )
                    )
            colour = _colour(w.text(f.get(_ROI_DISPLAY_COLOR)))
            rois.append(RoiContours(number, colour, tuple(contours)))
    except (_Unsure, struct.error):
        return None
    return rois
