"""Even-odd scan-line rasterisation of planar contours onto a regular sample grid.

NumPy in, NumPy out. All contours of a structure are rasterised in one vectorised pass:
each polygon edge is intersected with the sample rows it spans, the crossings of each
(plane, row) are sorted along x and paired, and each pair is one run of inside samples.
Pairing *all* crossings of a row regardless of which contour they came from is the
even-odd rule, so a contour inside another is a hole and disjoint contours are islands.

A sample is inside when its centre is inside the polygon. Rows use the half-open rule
``min(y0, y1) <= y < max(y0, y1)`` so that a vertex exactly on a row is counted once,
which keeps every row's crossing count even.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dosecheck.model import Structure


@dataclass(frozen=True)
class SampleGrid:
    """A regular in-plane grid of sample centres ``X0 + (m + 0.5) * sx``, ``Y0 + (r + 0.5) * sy``.

    Indices ``m`` and ``r`` may be any integers (negative included), so the grid is
    unbounded; only the samples inside the contours are ever materialised.
    """

    x0: float
    y0: float
    sx: float
    sy: float

    def x(self, m: np.ndarray) -> np.ndarray:
        return self.x0 + (m + 0.5) * self.sx

    def y(self, r: np.ndarray) -> np.ndarray:
        return self.y0 + (r + 0.5) * self.sy


@dataclass(frozen=True)
class Samples:
    """Sample points inside the contours, sorted by plane.

    Attributes
    ----------
    plane
        Plane index of each sample (ascending).
    col, row
        Integer sample-grid indices.
    """

    plane: np.ndarray
    col: np.ndarray
    row: np.ndarray


def expand_ranges(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Enumerate ``counts[i]`` items for every ``i`` without a Python loop.

    Returns
    -------
    owner
        For every item, the index ``i`` it belongs to.
    within
        Its position ``0 .. counts[i] - 1`` within that group.
    """
    owner = np.repeat(np.arange(counts.size), counts)
    within = np.arange(owner.size) - np.repeat(np.cumsum(counts) - counts, counts)
    return owner, within


def contour_edges(xy: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Start points, end points and contour index of every edge of closed contours.

    Parameters
    ----------
    xy
        ``(n_points, 2)`` vertices of all contours, concatenated.
    offsets
        ``(n_contours + 1,)`` start offset of each contour in ``xy``.

    Returns
    -------
    start, end
        ``(n_points, 2)`` each; edge ``i`` joins ``start[i]`` to ``end[i]``.
    contour
        ``(n_points,)`` index of the contour each edge belongs to.
    """
    n = xy.shape[0]
    lengths = np.diff(offsets)
    contour = np.repeat(np.arange(lengths.size), lengths)
    nxt = np.arange(1, n + 1)
    last = offsets[1:] - 1
    nxt[last[lengths > 0]] = offsets[:-1][lengths > 0]
    return xy, xy[nxt], contour


def _centres_between(
    lo: np.ndarray, hi: np.ndarray, origin: float, step: float, window: tuple[int, int] | None
) -> tuple[np.ndarray, np.ndarray]:
    """First index and count of the sample centres ``c`` with ``lo <= c < hi``.

    Centres lie at ``origin + (i + 0.5) * step``; ``window`` limits ``i`` to a
    half-open range.
    """
    first = np.ceil((lo - origin) / step - 0.5).astype(np.int64)
    stop = np.ceil((hi - origin) / step - 0.5).astype(np.int64)
    if window is not None:
        first = np.maximum(first, window[0])
        stop = np.minimum(stop, window[1])
    return first, np.maximum(stop - first, 0)


def rasterise(
    xy: np.ndarray,
    offsets: np.ndarray,
    contour_plane: np.ndarray,
    grid: SampleGrid,
    cols: tuple[int, int] | None = None,
    rows: tuple[int, int] | None = None,
) -> Samples:
    """Sample points whose centres lie inside the contours (even-odd rule, per plane).

    Parameters
    ----------
    xy, offsets
        The contours (see :func:`contour_edges`).
    contour_plane
        ``(n_contours,)`` plane index of each contour; contours on the same plane are
        combined by the even-odd rule.
    grid
        The sample grid.
    cols, rows
        Optional half-open index windows: only samples inside them are produced, and
        the work is bounded by the window however far a contour reaches.

    Returns
    -------
    Samples
        Inside samples sorted by plane, then row, then column.
    """
    empty = np.zeros(0, dtype=np.int64)
    if xy.shape[0] == 0:
        return Samples(empty, empty, empty)
    start, end, contour = contour_edges(xy, offsets)
    plane = contour_plane[contour]
    x0, y0 = start[:, 0], start[:, 1]
    x1, y1 = end[:, 0], end[:, 1]
    ylo = np.minimum(y0, y1)
    yhi = np.maximum(y0, y1)
    # Rows r whose centre y_r satisfies ylo <= y_r < yhi.
    r_first, counts = _centres_between(ylo, yhi, grid.y0, grid.sy, rows)
    if not counts.any():
        return Samples(empty, empty, empty)
    edge, k = expand_ranges(counts)
    row = r_first[edge] + k
    yr = grid.y(row)
    dy = y1[edge] - y0[edge]  # never 0: horizontal edges span no row
    xc = x0[edge] + (yr - y0[edge]) * (x1[edge] - x0[edge]) / dy

    # Sort crossings by (plane, row, x) and pair them.
    row_min = int(row.min())
    n_rows = int(row.max()) - row_min + 1
    key = plane[edge].astype(np.int64) * n_rows + (row - row_min)
    order = np.lexsort((xc, key))
    key = key[order]
    xc = xc[order]
    if key.size % 2 or np.any(key[0::2] != key[1::2]):
        raise ValueError("odd number of contour crossings on a row; contour data are corrupt")
    xa, xb = xc[0::2], xc[1::2]
    run_key = key[0::2]
    # Columns m whose centre x_m satisfies xa <= x_m < xb.
    m_first, run_len = _centres_between(xa, xb, grid.x0, grid.sx, cols)
    if not run_len.any():
        return Samples(empty, empty, empty)
    # Per run, then repeated for its samples: a run's columns are consecutive, so
    # column = sample number + (first column - the run's first sample number).
    run_start = np.cumsum(run_len) - run_len
    col = np.arange(int(run_len.sum())) + np.repeat(m_first - run_start, run_len)
    plane = np.repeat(run_key // n_rows, run_len)
    row = np.repeat(run_key % n_rows + row_min, run_len)
    return Samples(plane=plane, col=col, row=row)


def polygon_areas(xy: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Unsigned shoelace area of each contour (mm²)."""
    if xy.shape[0] == 0:
        return np.zeros(max(offsets.size - 1, 0))
    start, end, contour = contour_edges(xy, offsets)
    cross = start[:, 0] * end[:, 1] - end[:, 0] * start[:, 1]
    n = offsets.size - 1
    return np.abs(np.bincount(contour, weights=cross, minlength=n)) / 2.0


def even_odd_areas(
    xy: np.ndarray, offsets: np.ndarray, contour_plane: np.ndarray, n_planes: int
) -> tuple[np.ndarray, np.ndarray]:
    """Exact area of each plane's region under the even-odd rule, and contour signs.

    A contour nested inside an odd number of other contours of its plane is a hole
    and subtracts its area; otherwise it adds. This is exact for contours that do not
    cross each other (the DICOM convention); crossing contours are handled by the
    sampling fallback of the caller.

    Returns
    -------
    plane_area
        ``(n_planes,)`` area in mm².
    sign
        ``(n_contours,)`` +1 for a solid contour, -1 for a hole.
    """
    n_contours = offsets.size - 1
    areas = polygon_areas(xy, offsets)
    sign = np.ones(n_contours)
    per_plane = np.bincount(contour_plane, minlength=n_planes)
    if np.any(per_plane > 1):
        start, end, contour = contour_edges(xy, offsets)
        edge_plane = contour_plane[contour]
        # Test the first vertex of every contour on a shared plane against the edges
        # of the other contours of that plane (crossing-number test).
        cand = np.flatnonzero(per_plane[contour_plane] > 1)
        order = np.argsort(edge_plane, kind="stable")
        e_count = np.bincount(edge_plane, minlength=n_planes)
        e_start = np.cumsum(e_count) - e_count
        owner, within = expand_ranges(e_count[contour_plane[cand]])
        pair_c = cand[owner]
        pair_e = order[e_start[contour_plane[pair_c]] + within]
        other = contour[pair_e] != pair_c
        pair_c, pair_e = pair_c[other], pair_e[other]
        p = xy[offsets[:-1][pair_c]]
        a, b = start[pair_e], end[pair_e]
        straddle = (a[:, 1] > p[:, 1]) != (b[:, 1] > p[:, 1])
        with np.errstate(divide="ignore", invalid="ignore"):
            x_cross = a[:, 0] + (p[:, 1] - a[:, 1]) * (b[:, 0] - a[:, 0]) / (b[:, 1] - a[:, 1])
        hit = straddle & (p[:, 0] < x_cross)
        # Crossings per (contour, other contour): odd means inside that contour.
        key = pair_c.astype(np.int64) * n_contours + contour[pair_e]
        pairs, counts = np.unique(key[hit], return_counts=True)
        enclosing = pairs[counts % 2 == 1] // n_contours
        depth = np.bincount(enclosing, minlength=n_contours)
        sign = np.where(depth % 2 == 1, -1.0, 1.0)
    plane_area = np.bincount(contour_plane, weights=sign * areas, minlength=n_planes)
    return plane_area, sign


def plane_outline(
    xy: np.ndarray, offsets: np.ndarray, contour_plane: np.ndarray, n_planes: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Perimeter (mm) and bounding box ``(xmin, ymin)``, ``(xmax, ymax)`` of each plane."""
    perimeter = np.zeros(n_planes)
    lo = np.full((n_planes, 2), np.inf)
    hi = np.full((n_planes, 2), -np.inf)
    if xy.shape[0] == 0:
        return perimeter, lo, hi
    start, end, contour = contour_edges(xy, offsets)
    edge_len = np.hypot(*(end - start).T)
    perimeter = np.bincount(contour_plane[contour], weights=edge_len, minlength=n_planes)
    # Per-contour extremes by reduceat (contours are contiguous runs of xy), then per plane.
    starts = offsets[:-1][np.diff(offsets) > 0]
    c_lo = np.minimum.reduceat(xy, starts, axis=0)
    c_hi = np.maximum.reduceat(xy, starts, axis=0)
    c_plane = contour_plane[np.diff(offsets) > 0]
    for d in range(2):  # two small passes over contours, not vertices
        order = np.lexsort((c_lo[:, d], c_plane))
        first = np.unique(c_plane[order], return_index=True)
        lo[first[0], d] = c_lo[order[first[1]], d]
        order = np.lexsort((-c_hi[:, d], c_plane))
        first = np.unique(c_plane[order], return_index=True)
        hi[first[0], d] = c_hi[order[first[1]], d]
    return perimeter, lo, hi


class ContoursByPlane:
    """A structure's contours reordered by plane, so a run of planes is one slice."""

    def __init__(self, structure: Structure, contour_plane: np.ndarray) -> None:
        order = np.argsort(contour_plane, kind="stable")
        lengths = np.diff(structure.offsets)[order]
        starts = structure.offsets[:-1][order]
        owner, within = expand_ranges(lengths)
        idx = starts[owner] + within
        self.xy = structure.xy[idx]
        self.offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        self.plane = contour_plane[order]

    def planes(self, p0: int, p1: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Contours of planes ``p0 <= plane < p1``: ``(xy, offsets, plane)``."""
        c0, c1 = np.searchsorted(self.plane, [p0, p1])
        o = self.offsets[c0 : c1 + 1]
        return self.xy[o[0] : o[-1]], o - o[0], self.plane[c0:c1]
