"""The engine's passes for the end-cap conventions other than plain half-slice.

* ``none``: :class:`Caps` and :func:`add_caps` accumulate the end-cap half-slabs of a
  half-slice pass apart, so that the structure without caps is that pass less them.
* ``shape``: :func:`prepare_shape` rasterises a chunk's planes and their neighbours for
  :class:`~dosecheck.core.end_caps.ShapeExtents`; :func:`shape_vertex_extremes` takes
  the dose extremes of contour vertices over their shape extents.

The geometry is in :mod:`dosecheck.core.end_caps`; the driver is
:mod:`dosecheck.core.engine`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dosecheck.core.dose_field import DoseField, Slabs, axis_from_coords, per_segment, segments
from dosecheck.core.end_caps import ShapeExtents
from dosecheck.core.histogram import SegmentHistogram, Totals
from dosecheck.core.rasterise import (
    ContoursByPlane,
    SampleGrid,
    Samples,
    contour_edges,
    expand_ranges,
    rasterise,
)
from dosecheck.model import DoseGrid


@dataclass
class Caps:
    """The end-cap half-slabs of a half-slice pass, accumulated apart (for ``none``).

    ``lo``/``hi``: each plane's cap (empty for planes that do not end a run). ``acc``
    holds the caps' own totals, except its ``dmin``/``dmax``/``vertex_*``, which are
    those of the rest (the structure without caps).
    """

    lo: np.ndarray
    hi: np.ndarray
    hist: SegmentHistogram
    acc: Totals

    def core_totals(self, full: Totals) -> Totals:
        """Totals of the structure without its caps: ``full`` less the caps."""
        c = self.acc
        return Totals(
            total_cc=full.total_cc - c.total_cc,
            inside_cc=full.inside_cc - c.inside_cc,
            dose_volume=full.dose_volume - c.dose_volume,
            dmin=c.dmin,
            dmax=c.dmax,
            vertex_min=c.vertex_min,
            vertex_max=c.vertex_max,
            crossing_planes=full.crossing_planes,
        )


def add_caps(
    caps: Caps,
    chunk: slice,
    point_plane: np.ndarray,
    point: np.ndarray | int,
    z0: np.ndarray,
    length: np.ndarray,
    da: np.ndarray,
    db: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    vol: np.ndarray,
    extremes: tuple[float, float],
) -> None:
    """Accumulate the part of each segment inside its plane's end cap, and the rest's extremes.

    A segment runs from ``z0`` to ``z0 + length`` with dose ``da`` to ``db`` and was
    added to the histogram spread uniformly over ``[lo, hi]``; its part at fractions
    ``[a, b]`` of its height is the matching part of ``[lo, hi]`` (in the direction of
    the dose), so the caps' histogram is exactly a share of the full one. The segments
    are those of :func:`~dosecheck.core.dose_field.segments` over the planes ``chunk``
    (``point_plane``: each point's plane; ``point`` as ``segments`` returned it);
    ``extremes`` is the least and greatest of ``max(da, 0)``/``max(db, 0)`` over them,
    which is the rest's when no plane of the chunk ends a run.
    """
    c = caps.acc
    if not (caps.lo[chunk] < caps.hi[chunk]).any():  # all of the chunk is the rest
        c.dmin = min(c.dmin, extremes[0])
        c.dmax = max(c.dmax, extremes[1])
        return
    plane = per_segment(point_plane, point)
    capped = (caps.lo < caps.hi).take(plane)
    if not capped.all():
        # Segments of planes without a cap are all "rest": their extremes are their ends.
        free = ~capped
        c.dmin = min(c.dmin, max(float(np.minimum(da[free], db[free]).min()), 0.0))
        c.dmax = max(c.dmax, max(float(np.maximum(da[free], db[free]).max()), 0.0))
        if not capped.any():
            return
        plane, z0, length = plane[capped], z0[capped], length[capped]
        da, db, lo, hi, vol = da[capped], db[capped], lo[capped], hi[capped], vol[capped]
    a = np.clip((caps.lo[plane] - z0) / length, 0.0, 1.0)
    b = np.clip((caps.hi[plane] - z0) / length, 0.0, 1.0)
    # Extremes of the rest: the parts [0, a] and [b, 1] of each segment.
    dd = db - da
    d_a, d_b = da + dd * a, da + dd * b
    below, above = a > 0, b < 1
    rest_lo = np.minimum(
        np.where(below, np.minimum(da, d_a), np.inf), np.where(above, np.minimum(d_b, db), np.inf)
    )
    rest_hi = np.maximum(
        np.where(below, np.maximum(da, d_a), -np.inf), np.where(above, np.maximum(d_b, db), -np.inf)
    )
    c.dmin = min(c.dmin, max(float(rest_lo.min()), 0.0))
    c.dmax = max(c.dmax, max(float(rest_hi.max()), 0.0))
    part = b > a
    if not part.any():
        return
    a, b, w = a[part], b[part], vol[part] * (b[part] - a[part])
    c.inside_cc += float(w.sum())
    c.dose_volume += float((w * (d_a[part] + d_b[part])).sum()) / 2
    up = dd[part] >= 0
    lo_p, width = lo[part], hi[part] - lo[part]
    f0 = np.where(up, a, 1.0 - b)
    f1 = np.where(up, b, 1.0 - a)
    caps.hist.add(lo_p + width * f0, lo_p + width * f1, w)


def prepare_shape(
    shape: ShapeExtents,
    by_plane: ContoursByPlane,
    p0: int,
    p1: int,
    n_planes: int,
    sgrid: SampleGrid,
    windows: tuple[tuple[int, int], tuple[int, int]],
) -> Samples:
    """Rasterise planes ``p0 - 1 .. p1`` for ``shape``; return the samples of ``p0 .. p1 - 1``."""
    q0, q1 = max(p0 - 1, 0), min(p1 + 1, n_planes)
    xy, offsets, cplane = by_plane.planes(q0, q1)
    cols, rows = windows
    block = rasterise(xy, offsets, cplane, sgrid, cols=cols, rows=rows)
    # A plane without an inside sample (tiny or degenerate contours) is marked along
    # its contours' edges and at the mean of its vertices (where its fallback sample
    # goes), so that its neighbours see where and how long it is.
    has = np.zeros(n_planes, dtype=bool)
    has[block.plane] = True
    vplane = np.repeat(cplane, np.diff(offsets))
    bare = np.zeros(n_planes, dtype=bool)
    bare[cplane] = True
    bare[has] = False
    marks = (np.zeros(0, dtype=np.int64),) * 3
    if bare.any():
        start, end, contour = contour_edges(xy, offsets)
        on = bare[cplane[contour]]
        start, end, eplane = start[on], end[on], cplane[contour[on]]
        step = 0.5 * min(sgrid.sx, sgrid.sy)
        n_pts = np.ceil(np.hypot(*(end - start).T) / step).astype(np.int64) + 1
        edge, k = expand_ranges(n_pts)
        f = (k / np.maximum(n_pts[edge] - 1, 1))[:, None]
        pts = start[edge] + (end[edge] - start[edge]) * f
        planes_b = np.flatnonzero(bare)
        n_v = np.bincount(vplane, minlength=n_planes)[planes_b]
        mx = np.bincount(vplane, weights=xy[:, 0], minlength=n_planes)[planes_b] / n_v
        my = np.bincount(vplane, weights=xy[:, 1], minlength=n_planes)[planes_b] / n_v
        px = np.concatenate([pts[:, 0], mx])
        py = np.concatenate([pts[:, 1], my])
        marks = (
            np.concatenate([eplane[edge], planes_b]),
            np.floor((px - sgrid.x0) / sgrid.sx).astype(np.int64),
            np.floor((py - sgrid.y0) / sgrid.sy).astype(np.int64),
        )
    shape.prepare(q0, block.plane, block.col, block.row, marks)
    keep = (block.plane >= p0) & (block.plane < p1)
    return Samples(plane=block.plane[keep], col=block.col[keep], row=block.row[keep])


def shape_vertex_extremes(
    shape: ShapeExtents,
    xy: np.ndarray,
    offsets: np.ndarray,
    cplane: np.ndarray,
    sgrid: SampleGrid,
    grid: DoseGrid,
    interp: DoseField,
    z_range: tuple[float, float],
    acc: Totals,
) -> None:
    """Fold the dose extremes of a chunk's vertices over their shape extents into ``acc``."""
    ax = axis_from_coords(xy[:, 0], grid.x)
    ay = axis_from_coords(xy[:, 1], grid.y)
    ok = ax.inside & ay.inside
    if not ok.any():
        return
    vplane = np.repeat(cplane, np.diff(offsets))[ok]
    lo, hi = shape.vertex_extents(vplane, xy[ok, 0], xy[ok, 1], sgrid.x0, sgrid.y0)
    lo = np.minimum(lo, hi - 1e-6)  # a vertex that spans no height still has its dose
    own = Slabs(z=lo, lo=lo, hi=hi)
    _, da, db, _ = segments(ax.take(ok), ay.take(ok), np.arange(lo.size), own, z_range, interp)
    if da.size:
        acc.vertex_min = min(acc.vertex_min, float(max(min(da.min(), db.min()), 0.0)))
        acc.vertex_max = max(acc.vertex_max, float(max(da.max(), db.max())))
