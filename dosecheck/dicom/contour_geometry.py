"""One ROI's ContourData bytes turned into checked plain geometry (``xy``, ``offsets``, ``z``).

:func:`~dosecheck.dicom.structures.read_rtstruct` collects each ROI's CLOSED_PLANAR
ContourData elements, undecoded, with their point counts; :class:`RoiGeometry` holds
them and, when called, converts them in one vectorised pass
(:func:`~dosecheck.dicom.decimal_string.parse_decimal_string`) and checks them: finite
values, coordinates within ±:data:`MAX_COORDINATE_MM`, every kept contour on one axial
plane. A structure read with ``deferred=True`` calls it on first use of its geometry.
"""

from __future__ import annotations

import numpy as np

from dosecheck.dicom._common import one_line
from dosecheck.dicom.decimal_string import parse_decimal_string
from dosecheck.errors import DicomInputError

__all__ = ["MAX_COORDINATE_MM", "PLANAR_TOLERANCE_MM", "RoiGeometry"]

#: Largest contour coordinate magnitude accepted (mm): 100 m. Anything larger is not a
#: patient coordinate (and would overflow the rasteriser's integer arithmetic).
MAX_COORDINATE_MM = 1e5
#: A closed contour's points must lie within this z range (mm) to count as axial.
PLANAR_TOLERANCE_MM = 0.01


class RoiGeometry:
    """The undecoded contour data of one ROI; calling it parses and checks them.

    Parameters
    ----------
    path
        The RTSTRUCT file (named in errors).
    number, name
        ROINumber and ROIName (named in errors).
    chunks
        ContourData of each CLOSED_PLANAR contour, undecoded (``b""`` when empty).
    counts
        Number of points of each contour (``len(chunks)`` values, already checked
        against the data's value count).
    """

    __slots__ = ("chunks", "counts", "name", "number", "path")

    def __init__(
        self, path: str, number: int, name: str, chunks: list[bytes], counts: list[int]
    ) -> None:
        self.path = path
        self.number = number
        self.name = name
        self.chunks = chunks
        self.counts = counts

    def __getstate__(self) -> tuple[str, int, str, list[bytes], list[int]]:
        return (self.path, self.number, self.name, self.chunks, self.counts)

    def __setstate__(self, state: tuple[str, int, str, list[bytes], list[int]]) -> None:
        self.path, self.number, self.name, self.chunks, self.counts = state

    def _error(self, message: str) -> DicomInputError:
        return DicomInputError(
            f"ROI {self.number} '{one_line(self.name, 64)}' {message}",
            path=self.path,
            tag="ContourData",
        )

    def _values(self) -> np.ndarray:
        nonempty = [c for c in self.chunks if c]
        try:
            return parse_decimal_string(b"\\".join(nonempty)) if nonempty else np.zeros(0)
        except DicomInputError:
            # Name the contour whose value is bad (error path only).
            for data in self.chunks:
                try:
                    parse_decimal_string(data)
                except DicomInputError as exc:
                    raise DicomInputError(
                        f"ROI {self.number} '{one_line(self.name, 64)}': {exc.message}",
                        path=self.path,
                        tag="ContourData",
                    ) from None
            raise

    def __call__(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(xy, offsets, z)`` of the contours with at least 3 points.

        Raises
        ------
        DicomInputError
            A value is not a decimal number, is NaN or infinite, or beyond
            ±:data:`MAX_COORDINATE_MM`; a kept contour is not on one axial plane.
        """
        counts = np.asarray(self.counts, dtype=np.int64)
        xyz = self._values().reshape(-1, 3)
        if not np.isfinite(xyz).all():
            raise self._error(
                "has NaN or infinite coordinates; fix or remove this structure in the "
                "planning system and export again"
            )
        far = (np.abs(xyz) > MAX_COORDINATE_MM).any(axis=1)
        if far.any():
            i = int(np.argmax(far))
            value = float(xyz[i][np.argmax(np.abs(xyz[i]))])
            raise self._error(
                f"has a coordinate of {value:g} mm, beyond ±{MAX_COORDINATE_MM:g} mm (100 m): "
                "it is not a patient coordinate; the file is corrupt, export it again"
            )
        kept = counts >= 3
        if not kept.any():
            return np.zeros((0, 2)), np.zeros(1, dtype=np.int64), np.zeros(0)
        # Each contour's z range (contours of 1-2 points included, so that every
        # reduceat range is one contour's points), then the kept contours'.
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
        has_points = counts > 0
        zmin = np.full(counts.size, np.nan)
        zmax = np.full(counts.size, np.nan)
        zmin[has_points] = np.minimum.reduceat(xyz[:, 2], starts[has_points])
        zmax[has_points] = np.maximum.reduceat(xyz[:, 2], starts[has_points])
        zmin, zmax = zmin[kept], zmax[kept]
        not_axial = zmax - zmin > PLANAR_TOLERANCE_MM
        if not_axial.any():
            c = int(np.argmax(not_axial))
            raise self._error(
                f"has a closed contour whose points are not on one axial plane (z from "
                f"{zmin[c]:g} to {zmax[c]:g} mm); dosecheck supports axial contours only: "
                "export axial (transverse) contours"
            )
        lengths = counts[kept]
        xy = xyz[np.repeat(kept, counts), :2] if not kept.all() else xyz[:, :2]
        return (
            np.ascontiguousarray(xy, dtype=np.float64),
            np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
            (0.5 * (zmin + zmax)).astype(np.float64),
        )
