"""One chunk of a structure's planes through the DVH engine: sample, interpolate, histogram.

:func:`process_chunk` is the inner step of :func:`dosecheck.core.engine.compute_dvh`: the
chunk's in-plane samples (from :mod:`dosecheck.core.rasterise`) are placed on the dose
grid, cut into linear-in-z dose segments over their slabs (:mod:`dosecheck.core.dose_field`),
weighted so each plane keeps its exact polygon area, spread over the dose range across
their sample cell, and added to the structure's histogram and totals
(:mod:`dosecheck.core.histogram`); with the ``none`` and ``shape`` conventions, the end-cap
half-slabs or per-sample extents too (:mod:`dosecheck.core.end_cap_pass`).
"""

from __future__ import annotations

import numpy as np

from dosecheck.core.dose_field import (
    Axis,
    DoseField,
    Slabs,
    axis_domain,
    axis_from_coords,
    axis_from_samples,
    per_segment,
    segments,
)
from dosecheck.core.end_cap_pass import Caps, add_caps
from dosecheck.core.end_caps import ShapeExtents
from dosecheck.core.histogram import SegmentHistogram, Totals
from dosecheck.core.rasterise import SampleGrid, Samples

__all__ = ["MM3_PER_CC", "process_chunk"]

MM3_PER_CC = 1000.0


def process_chunk(
    held: list[Samples],
    xy: np.ndarray,
    offsets: np.ndarray,
    cplane: np.ndarray,
    planes: range,
    num: int,
    den: int,
    sgrid: SampleGrid,
    plane_area: np.ndarray,
    thickness: np.ndarray,
    slabs: Slabs,
    frame_mid: np.ndarray,
    z_range: tuple[float, float],
    field: DoseField,
    hist: SegmentHistogram,
    acc: Totals,
    outline: tuple[np.ndarray, np.ndarray, np.ndarray],
    *,
    shape: ShapeExtents | None = None,
    caps: Caps | None = None,
) -> None:
    """Sample, interpolate and histogram the planes of one chunk.

    With ``shape``, each sample spans its own extent along z instead of its plane's
    slab; with ``caps``, the end-cap half-slabs are also accumulated apart.
    """
    samples = held.pop()  # the only reference now: freed once spent (below)
    grid = field.grid
    n_all = plane_area.size
    ax = axis_from_samples(samples.col, num, den, field.nx)
    ay = axis_from_samples(samples.row, num, den, field.ny)
    pplane = samples.plane
    pcol, prow = samples.col, samples.row
    cell_area = sgrid.sx * sgrid.sy
    count = np.bincount(pplane, minlength=n_all)
    sel = slice(planes.start, planes.stop)
    # A plane too small to hold a sample gets one at the mean of its vertices.
    missing = np.flatnonzero((count[sel] == 0) & (plane_area[sel] > 0)) + planes.start
    if missing.size:
        vplane = np.repeat(cplane, np.diff(offsets))
        n_v = np.bincount(vplane, minlength=n_all)[missing]
        mx = np.bincount(vplane, weights=xy[:, 0], minlength=n_all)[missing] / n_v
        my = np.bincount(vplane, weights=xy[:, 1], minlength=n_all)[missing] / n_v
        ax = Axis.concat(ax, axis_from_coords(mx, grid.x))
        ay = Axis.concat(ay, axis_from_coords(my, grid.y))
        pplane = np.concatenate([pplane, missing])
        count[missing] = 1
        if shape is not None:
            pcol = np.concatenate([pcol, np.floor((mx - sgrid.x0) / sgrid.sx).astype(np.int64)])
            prow = np.concatenate([prow, np.floor((my - sgrid.y0) / sgrid.sy).astype(np.int64)])
    # Each plane's samples share its exact (even-odd) polygon area, so the volume does
    # not depend on the sampling. Where that area disagrees with the sampled one by more
    # than sampling can explain, contours cross each other and the polygon area is
    # meaningless: those planes keep the sampled (even-odd) area, with a warning.
    # Planes reaching beyond the grid were only sampled inside it: their samples keep
    # their own area and the rest of the polygon area is outside the grid.
    sampled_area = count * cell_area
    perimeter, bb_lo, bb_hi = outline  # of every plane: plane_outline
    x_lo, x_hi = axis_domain(grid.x) if grid.x.size > 1 else (-np.inf, np.inf)
    y_lo, y_hi = axis_domain(grid.y) if grid.y.size > 1 else (-np.inf, np.inf)
    clipped = (
        (bb_lo[:, 0] < x_lo) | (bb_lo[:, 1] < y_lo) | (bb_hi[:, 0] > x_hi) | (bb_hi[:, 1] > y_hi)
    )
    tolerance = 0.01 * plane_area + 0.5 * perimeter * max(sgrid.sx, sgrid.sy)
    agrees = np.abs(sampled_area - plane_area) <= tolerance
    use_exact = agrees & ~clipped & (sampled_area > 0) & (plane_area > 0)
    use_exact[missing] = ~clipped[missing]  # a fallback sample carries the whole area
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(use_exact, plane_area / sampled_area, 1.0)
    crossing = ~use_exact[sel] & ~clipped[sel] & (plane_area[sel] > 0)
    acc.crossing_planes += int(crossing.sum())
    plane_total = np.where(
        use_exact, plane_area, np.where(clipped, np.maximum(plane_area, sampled_area), sampled_area)
    )
    weight_per_mm = cell_area * scale / MM3_PER_CC  # cc per mm of slab height, per sample
    if shape is not None:
        # Each sample has its own extent; a plane's mean extent scales its total.
        s_lo, s_hi = shape.sample_extents(pplane, pcol, prow)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean_h = np.bincount(pplane, weights=s_hi - s_lo, minlength=n_all) / count
        thickness = np.where(count > 0, mean_h, 0.0)
    acc.total_cc += float((plane_total * thickness)[sel].sum()) / MM3_PER_CC
    if caps is not None:
        cap_h = caps.hi - caps.lo
        caps.acc.total_cc += float((plane_total * cap_h)[sel].sum()) / MM3_PER_CC

    inside = ax.inside & ay.inside
    if not inside.all():
        ax, ay, pplane = ax.take(inside), ay.take(inside), pplane[inside]
        if shape is not None:
            s_lo, s_hi = s_lo[inside], s_hi[inside]
    if shape is not None:
        own = Slabs(z=s_lo, lo=s_lo, hi=s_hi)
        pt, da, db, length = segments(ax, ay, np.arange(pplane.size), own, z_range, field)
    elif caps is not None:
        pt, da, db, length, z0 = segments(
            ax, ay, pplane, slabs, z_range, field, with_z=True, tiled=True
        )
    else:
        pt, da, db, length = segments(ax, ay, pplane, slabs, z_range, field, tiled=True)
    if da.size == 0:
        return
    # In place where a temporary is spent (the same arithmetic, fewer fresh arrays).
    vol = per_segment(weight_per_mm.take(pplane), pt)
    vol *= length
    lo = np.minimum(da, db)
    np.maximum(lo, 0.0, out=lo)
    hi = np.maximum(da, db)
    np.maximum(hi, 0.0, out=hi)
    lo_min, hi_max = float(lo.min()), float(hi.max())
    both = lo + hi
    acc.inside_cc += float(vol.sum())
    acc.dose_volume += float((vol * both).sum()) / 2  # not np.dot: no BLAS threads
    acc.dmin = min(acc.dmin, lo_min)
    acc.dmax = max(acc.dmax, hi_max)
    # Each sample stands for a cell; spread its volume over the dose range across the
    # cell as well as along z (uniform distribution of the same variance), so the
    # histogram has no staircase from the in-plane sample spacing.
    spread = per_segment(
        field.inplane_spread(ax, ay, frame_mid.take(pplane), sgrid.sx, sgrid.sy), pt
    )
    if spread.any():
        half = hi - lo
        half *= half
        spread *= spread
        half += spread
        np.sqrt(half, out=half)
        half /= 2
        mid = np.divide(both, 2, out=both)
        # Keep the spread within the structure's extremes (at least those known so
        # far: vertices and this chunk's samples), so the curve ends at Min and Max.
        np.maximum(np.subtract(mid, half, out=lo), min(acc.vertex_min, lo_min), out=lo)
        np.minimum(np.add(mid, half, out=hi), max(acc.vertex_max, hi_max), out=hi)
    # Free what is spent before the histogram's temporaries are made: a smaller heap
    # to page in (each fresh page costs a fault; issue #11).
    del samples, ax, ay, pcol, prow, spread, both
    if caps is None:
        del da, db, length
    hist.add(lo, hi, vol)
    if caps is not None:
        add_caps(caps, sel, pplane, pt, z0, length, da, db, lo, hi, vol, (lo_min, hi_max))
