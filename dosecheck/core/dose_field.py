"""A dose grid prepared for interpolation, and the dose along z through a structure's slabs.

* :class:`DoseField`: trilinear interpolation of a :class:`~dosecheck.model.DoseGrid`,
  built once per plan. The grid covers its voxel centres ± half a voxel; beyond the end
  centres the dose is held constant.
* :class:`Axis` and the ``axis_*`` helpers: where points fall along one in-plane axis.
* :func:`segments`: the linear-in-z dose segments of points over their slabs
  (:class:`Slabs`), cut at every dose plane; :func:`vertex_extremes`: the dose extremes
  of contour vertices over them.

Used by :mod:`dosecheck.core.engine` and :mod:`dosecheck.core.end_cap_pass`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from dosecheck.model import DoseGrid, Structure

#: Highest dose the engine accepts (Gy); the histogram has one 0.01 Gy bin per step.
MAX_DOSE_GY = 10_000.0
#: Contour vertices whose dose extremes :func:`vertex_extremes` takes at once.
VERTEX_BLOCK = 20_000


@dataclass(frozen=True)
class Slabs:
    """Each point's extent along z: plane height ``z`` and faces ``lo``/``hi`` (mm)."""

    z: np.ndarray  # plane coordinates, ascending
    lo: np.ndarray  # slab lower faces
    hi: np.ndarray  # slab upper faces


def axis_domain(c: np.ndarray) -> tuple[float, float]:
    """Extent of a voxel-centre axis: first/last centre ± half the end spacing."""
    if c.size == 1:
        # A single plane has no spacing; it covers only itself.
        return float(c[0]), float(c[0])
    return float(c[0] - (c[1] - c[0]) / 2), float(c[-1] + (c[-1] - c[-2]) / 2)


def nearest_index(coord: np.ndarray, axis: np.ndarray) -> np.ndarray:
    """Index of the nearest voxel centre along an ascending axis."""
    if axis.size == 1:
        return np.zeros(coord.shape, dtype=np.int64)
    u = np.interp(coord, axis, np.arange(axis.size, dtype=np.float64))
    return np.rint(u).astype(np.int64)


def frac_index(coord: np.ndarray, axis: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lower voxel index and weight of the upper voxel for linear interpolation.

    Coordinates beyond the end centres are clamped (constant extrapolation).
    """
    n = axis.size
    if n == 1:
        return np.zeros(coord.shape, dtype=np.int64), np.zeros(coord.shape)
    u = np.interp(coord, axis, np.arange(n, dtype=np.float64))
    # Snap round-off so that points on a voxel centre get a weight of exactly 0.
    r = np.round(u)
    u = np.where(np.abs(u - r) < 1e-9, r, u)
    i0 = np.minimum(np.floor(u).astype(np.int64), n - 2)
    return i0, u - i0


@dataclass(frozen=True)
class Axis:
    """Where points fall along one in-plane axis of the dose grid.

    ``i0``/``w``: lower voxel index and upper weight for linear interpolation (clamped
    beyond the end centres); ``nearest``: nearest voxel; ``core``: between the first and
    last voxel centres (where the dose varies); ``inside``: within the grid's extent.
    """

    i0: np.ndarray
    w: np.ndarray
    nearest: np.ndarray
    core: np.ndarray
    inside: np.ndarray

    def take(self, mask: np.ndarray) -> Axis:
        return Axis(
            self.i0[mask], self.w[mask], self.nearest[mask], self.core[mask], self.inside[mask]
        )

    @staticmethod
    def concat(a: Axis, b: Axis) -> Axis:
        return Axis(
            *(np.concatenate([getattr(a, f), getattr(b, f)]) for f in Axis.__dataclass_fields__)
        )


def axis_from_u(u: np.ndarray, n: int) -> Axis:
    """Axis placement from fractional voxel indices ``u``."""
    inside = (u >= -0.5) & (u <= n - 0.5)
    if n == 1:
        zero = np.zeros(u.shape, dtype=np.int64)
        return Axis(zero, np.zeros(u.shape), zero, np.zeros(u.shape, bool), inside)
    r = np.rint(u)
    u = np.where(np.abs(u - r) < 1e-9, r, u)  # points on a centre get a weight of exactly 0
    core = (u >= 0) & (u <= n - 1)
    uc = np.clip(u, 0, n - 1)
    i0 = np.minimum(np.floor(uc).astype(np.int64), n - 2)
    nearest = np.clip(r, 0, n - 1).astype(np.int64)
    return Axis(i0, uc - i0, nearest, core, inside)


def axis_from_samples(m: np.ndarray, num: int, den: int, n: int) -> Axis:
    """Axis placement of sample-grid indices ``m`` (sample spacing ``num / den`` voxels).

    Sample ``m`` lies at fractional voxel index ``(m + 0.5) * num / den - 0.5``; the
    placement is computed once per distinct ``m`` and looked up, except with one sample
    per voxel inside the grid, where sample ``m`` is voxel ``m`` (the same values, no
    look-ups). The arrays may share memory with ``m`` and with each other: read only.
    """
    if m.size == 0:
        return axis_from_u(np.zeros(0), n)
    m0 = int(m.min())
    if num == den and n > 1 and m0 >= 0 and int(m.max()) <= n - 1:
        # One sample per voxel, on the voxel centres of the grid: index m is voxel m
        # (what the table below gives, without five look-ups per sample).
        i0 = np.minimum(m, n - 2)
        every = np.ones(m.shape, dtype=bool)
        return Axis(i0, (m - i0).astype(np.float64), m, every, every)
    table = axis_from_u((np.arange(m0, int(m.max()) + 1) + 0.5) * num / den - 0.5, n)
    j = m - m0  # ndarray.take: the same values as indexing, faster (issue #11)
    return Axis(*(getattr(table, f).take(j) for f in Axis.__dataclass_fields__))


def axis_from_coords(c: np.ndarray, axis: np.ndarray) -> Axis:
    """Axis placement of coordinates ``c`` (mm) on an ascending voxel-centre axis."""
    n = axis.size
    if n == 1:
        return axis_from_u(np.full(c.shape, -1.0), 1)
    idx = np.arange(n, dtype=np.float64)
    u = np.interp(c, axis, idx, left=np.nan, right=np.nan)
    lo_step, hi_step = axis[1] - axis[0], axis[-1] - axis[-2]
    u = np.where(c < axis[0], (c - axis[0]) / lo_step, u)
    u = np.where(c > axis[-1], n - 1 + (c - axis[-1]) / hi_step, u)
    return axis_from_u(u, n)


class DoseField:
    """A dose grid prepared for interpolation; build once per plan, reuse per structure.

    Parameters
    ----------
    grid
        The dose grid.
    """

    def __init__(self, grid: DoseGrid) -> None:
        self.grid = grid
        self.flat = grid.dose_gy.reshape(-1)
        nz, ny, nx = grid.dose_gy.shape
        self.nx, self.ny, self.nz = nx, ny, nz
        self.stride_z = ny * nx
        self._tables: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        self.max_gy = float(self.flat.max()) if self.flat.size else 0.0
        if not np.isfinite(self.max_gy) or self.max_gy > MAX_DOSE_GY:
            raise ValueError(
                f"dose grid maximum {self.max_gy:g} Gy is not a plausible dose "
                f"(limit {MAX_DOSE_GY:g} Gy); check DoseGridScaling and DoseUnits"
            )

    def _difference_tables(self, axis: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per index along ``axis``: flat offsets of the voxels a gradient differences
        (up, down) and the divisor, as ``np.gradient`` takes them (built once)."""
        tables = self._tables.get(axis)
        if tables is None:
            n, stride, coords = (
                (self.nx, 1, self.grid.x) if axis == 2 else (self.ny, self.nx, self.grid.y)
            )
            step = float(coords[1] - coords[0])
            i = np.arange(n)
            up = np.where(i < n - 1, stride, 0)
            down = np.where(i > 0, stride, 0)
            # In the dose's own dtype, so the division rounds as np.gradient's does.
            divisor = np.where((i > 0) & (i < n - 1), 2.0 * step, step).astype(self.flat.dtype)
            tables = self._tables[axis] = (up, down, divisor)
        return tables

    def gradient_at(self, flat: np.ndarray, index: np.ndarray, axis: int) -> np.ndarray:
        """``|dD/dx|`` (``axis=2``) or ``|dD/dy|`` (``axis=1``) in Gy/mm at voxels ``flat``.

        ``index`` is each voxel's index along that axis. The same differences as
        ``np.gradient`` (central inside, one-sided at the first and last voxel), taken
        only at the voxels asked for: a plan's structures look up a small part of the
        grid, so no whole-grid gradient arrays are built (issue #11).
        """
        if (self.nx if axis == 2 else self.ny) < 2:
            return np.zeros(flat.shape, dtype=self.flat.dtype)
        up, down, divisor = self._difference_tables(axis)
        if index.size and index.min() > 0 and index.max() < up.size - 1:
            # All central differences: one stride and one divisor for every voxel.
            stride = int(up[1])
            diff = self.flat.take(flat + stride) - self.flat.take(flat - stride)
            return np.abs(diff / divisor[1])
        diff = self.flat.take(flat + up.take(index)) - self.flat.take(flat - down.take(index))
        return np.abs(diff / divisor.take(index))

    def inplane_spread(
        self, ax: Axis, ay: Axis, iz: np.ndarray, sx: float, sy: float
    ) -> np.ndarray:
        """Dose spread (Gy) across an ``sx`` × ``sy`` sample cell centred at each point.

        The width of the uniform distribution with the same variance as the linear dose
        across the cell: ``sqrt((sx * dD/dx)² + (sy * dD/dy)²)``, from the gradient at
        the nearest voxel (``iz``: dose-plane index per point). Beyond the outermost
        voxel centres the dose is held constant, so there is no spread along that axis.
        """
        flat = (iz * self.ny + ay.nearest) * self.nx + ax.nearest
        fx = sx * self.gradient_at(flat, ax.nearest, 2)
        fy = sy * self.gradient_at(flat, ay.nearest, 1)
        if not ax.core.all():
            fx = np.where(ax.core, fx, 0.0)
        if not ay.core.all():
            fy = np.where(ay.core, fy, 0.0)
        return np.sqrt(fx * fx + fy * fy)

    def inplane(self, ax: Axis, ay: Axis) -> list[tuple[np.ndarray, np.ndarray | None]]:
        """Bilinear corners of each point: ``[(flat in-plane offset, weight), ...]``.

        Corners whose weight is zero for every point are left out, so samples at voxel
        centres cost one look-up per dose plane instead of four; a weight of exactly 1
        for every point is ``None`` (no multiplication).
        """
        base = ay.i0 * self.nx + ax.i0

        def factors(w: np.ndarray, step: int) -> list[tuple[int, np.ndarray | None]]:
            out: list[tuple[int, np.ndarray | None]] = []
            for offset, f in ((0, 1 - w), (step, w)):
                if f.any():
                    out.append((offset, None if (f == 1.0).all() else f))
            return out

        corners: list[tuple[np.ndarray, np.ndarray | None]] = []
        for oy, fy in factors(ay.w, self.nx):
            for ox, fx in factors(ax.w, 1):
                w = fx if fy is None else fy if fx is None else fx * fy
                corners.append((base + (oy + ox) if oy + ox else base, w))
        return corners

    def on_frame(
        self,
        corners: list[tuple[np.ndarray, np.ndarray | None]],
        frame: np.ndarray,
        out: np.ndarray | None = None,
    ) -> np.ndarray:
        """Bilinear dose of each sample on dose plane ``frame`` (per sample), into ``out``
        when given."""
        shift = frame * self.stride_z
        if len(corners) == 1 and corners[0][1] is None:
            if out is None or out.dtype == self.flat.dtype:
                return self.flat.take(corners[0][0] + shift, out=out)
            out[...] = self.flat.take(corners[0][0] + shift)
            return out
        total = None
        for offs, w in corners:
            v = self.flat.take(offs + shift)
            if w is not None:
                v = v * w
            total = v if total is None else total + v
        assert total is not None
        if out is None:
            return total
        out[...] = total
        return out


def plane_breaks(
    slabs: Slabs, z_range: tuple[float, float], frames: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Where each slab, clipped to the grid, is cut: its faces and the dose planes inside.

    Returns
    -------
    zb
        ``(n_planes, n_breaks_max)`` break heights, padded by repeating the last.
    n_breaks
        ``(n_planes,)`` number of real breaks (0 when the slab is outside the grid).
    ib, tb
        Lower dose-plane index and interpolation weight of each break.
    """
    lo = np.clip(slabs.lo, *z_range)
    hi = np.clip(slabs.hi, *z_range)
    first = np.searchsorted(frames, lo, side="right")
    stop = np.searchsorted(frames, hi, side="left")
    n_inner = np.maximum(stop - first, 0)
    n_breaks = np.where(hi > lo, n_inner + 2, 0)
    width = max(int(n_breaks.max(initial=0)), 2)
    j = np.arange(width)[None, :]
    inner_idx = np.clip(first[:, None] + j - 1, 0, frames.size - 1)
    zb = np.where(j == 0, lo[:, None], frames[inner_idx])
    is_last = j >= (n_inner + 1)[:, None]
    zb = np.where(is_last, hi[:, None], zb)
    ib, tb = frac_index(zb, frames)
    return zb, n_breaks, ib, tb


def segments(
    ax: Axis,
    ay: Axis,
    pplane: np.ndarray,
    slabs: Slabs,
    z_range: tuple[float, float],
    interp: DoseField,
    *,
    with_z: bool = False,
    tiled: bool = False,
) -> tuple[Any, ...]:
    """Linear-in-z dose segments of every point over its plane's slab.

    Parameters
    ----------
    ax, ay, pplane
        In-plane placement and plane index of each point.
    tiled
        When every point has the same number ``m`` of segments (all its slab's
        dose-plane intervals), return ``point`` as the int ``m``: the segments are
        then ``m`` blocks of all points in order (see :func:`per_segment`).

    Returns
    -------
    point, d_start, d_end, length
        For every segment: its point, the dose at its two ends and its height (mm);
        with ``with_z``, also the height of its lower end (mm).
    """
    frames = interp.grid.z
    zb, n_breaks, ib, tb = plane_breaks(slabs, z_range, frames)
    nz = frames.size
    fa = ib[:, 0]  # first dose plane each slab needs
    rel = ib - fa[:, None]  # break's lower plane, relative to fa
    n_frames = rel.max(axis=1) + 2
    n = pplane.size
    if n == 0:
        empty = np.zeros(0)
        return (np.zeros(0, dtype=np.int64), empty, empty, empty) + ((empty,) if with_z else ())
    corners = interp.inplane(ax, ay)
    # Dose of every point on each dose plane its slab needs: P[j] is plane fa + j.
    fa_p = fa.take(pplane)
    p = np.empty((int(n_frames.max(initial=2)), n))
    for j in range(p.shape[0]):
        interp.on_frame(corners, np.minimum(fa_p + j, nz - 1), out=p[j])
    cols = np.arange(n)
    # The planes that have points: where all of them cut their slabs at the same dose
    # plane, or with the same weight, a whole row of P or one scalar serves every point
    # (the common case of contour planes on or half-way between dose planes).
    used = np.flatnonzero(np.bincount(pplane, minlength=rel.shape[0]))
    d_prev = None
    out_pt: list[np.ndarray] = []
    out_a, out_b, out_len, out_z = [], [], [], []
    all_points = True  # every segment block holds every point, in order
    for b in range(zb.shape[1]):
        d_b = _dose_at_break(p, rel[:, b], tb[:, b], used, pplane, cols)
        if d_prev is not None:
            length = zb[:, b] - zb[:, b - 1]
            plane_ok = (b < n_breaks) & (length > 0)
            if plane_ok[used].all():
                out_pt.append(cols)
                out_a.append(d_prev)
                out_b.append(d_b)
                out_len.append(length.take(pplane))
                if with_z:
                    out_z.append(zb[:, b - 1].take(pplane))
            else:
                all_points = False
                valid = plane_ok.take(pplane)
                out_pt.append(cols[valid])
                out_a.append(d_prev[valid])
                out_b.append(d_b[valid])
                out_len.append(length.take(pplane)[valid])
                if with_z:
                    out_z.append(zb[:, b - 1].take(pplane)[valid])
        d_prev = d_b
    points = len(out_pt) if tiled and all_points else np.concatenate(out_pt)
    out = (
        points,
        np.concatenate(out_a),
        np.concatenate(out_b),
        np.concatenate(out_len),
    )
    return (*out, np.concatenate(out_z)) if with_z else out


def per_segment(values: np.ndarray, point: np.ndarray | int) -> np.ndarray:
    """Per-point ``values`` for every segment of :func:`segments` (``point`` as it
    returned it: indices, or with ``tiled`` the number of blocks of all points)."""
    return np.tile(values, point) if isinstance(point, int) else values.take(point)


def _dose_at_break(
    p: np.ndarray,
    rel: np.ndarray,
    t: np.ndarray,
    used: np.ndarray,
    pplane: np.ndarray,
    cols: np.ndarray,
) -> np.ndarray:
    """Dose of every point at one break of its slab: ``P[rel] + (P[rel + 1] - P[rel]) * t``.

    ``rel``/``t`` are per plane; ``used`` are the planes that have points. When ``rel``
    or ``t`` is the same for all those planes, rows of ``P`` and a scalar weight are used
    directly instead of per-point look-ups; the arithmetic, and so every bit of the
    result, is the same either way.
    """
    rel_used, t_used = rel[used], t[used]
    same_row = rel_used.size and rel_used.min() == rel_used.max()
    same_t = t_used.size and t_used.min() == t_used.max()
    if same_row:
        r = int(rel_used[0])
        d_b = p[r]
        if not t_used.any():
            return d_b
        # P has max(rel) + 2 rows, so row r + 1 always exists.
        w = float(t_used[0]) if same_t else t.take(pplane)
        return d_b + (p[r + 1] - d_b) * w
    n = p.shape[1]
    flat_p = p.reshape(-1)
    lower = rel.take(pplane) * n + cols
    d_b = flat_p.take(lower)
    if t_used.any():
        w = float(t_used[0]) if same_t else t.take(pplane)
        d_b += (flat_p.take(np.minimum(lower + n, (p.shape[0] - 1) * n + cols)) - d_b) * w
    return d_b


def vertex_extremes(
    structure: Structure,
    contour_plane: np.ndarray,
    slabs: Slabs,
    grid: DoseGrid,
    interp: DoseField,
    z_range: tuple[float, float],
) -> tuple[float, float]:
    """Min and max dose over contour vertices at their slab faces and inner dose planes.

    The vertices are taken in blocks of :data:`VERTEX_BLOCK` (extremes do not depend on
    the order), so a large structure's outline needs no more memory than a chunk of
    samples: a body's 85 k vertices at once took 25 MB, each fresh page a fault.
    """
    xy = structure.xy
    ax = axis_from_coords(xy[:, 0], grid.x)
    ay = axis_from_coords(xy[:, 1], grid.y)
    ok = np.flatnonzero(ax.inside & ay.inside)
    vplane = np.repeat(contour_plane, np.diff(structure.offsets)).take(ok)
    lo, hi = np.inf, -np.inf
    for start in range(0, ok.size, VERTEX_BLOCK):
        block = ok[start : start + VERTEX_BLOCK]
        pplane = vplane[start : start + VERTEX_BLOCK]
        _, da, db, _ = segments(ax.take(block), ay.take(block), pplane, slabs, z_range, interp)
        if da.size:
            lo = min(lo, float(da.min()), float(db.min()))
            hi = max(hi, float(da.max()), float(db.max()))
    if lo > hi:
        return np.inf, -np.inf
    return max(lo, 0.0), hi
