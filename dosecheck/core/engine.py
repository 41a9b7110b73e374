"""The DVH engine: a structure's contours and a dose grid in, a :class:`DVH` out.

Model (the one the published analytical data sets assume):

* **Slabs.** Each contour plane stands for the slab from half-way to the previous plane
  to half-way to the next; the first and last planes of a run extend half a contour
  spacing beyond (half-slice end caps). A gap of more than 1.5 spacings between planes
  splits the structure into separately end-capped runs. That is the default,
  ``EngineSettings.end_caps = "half-slice"``; ``"none"`` (no caps) and ``"shape"``
  (shape-based interpolation, per-sample extents) are in :mod:`dosecheck.core.end_caps`.
* **In-plane sampling.** Every plane is sampled on a regular grid aligned with the dose
  voxels and ``k`` times finer (``k`` from 1 to ``max_subdivisions``, chosen per
  structure so the sample count stays within ``sample_budget``). Contours combine by
  the even-odd rule (:mod:`dosecheck.core.rasterise`), so holes and islands work.
  A voxel cut by the contour thus counts with the fraction of its sub-samples inside.
* **Dose.** Trilinear interpolation of the grid. For each in-plane sample the slab is
  cut at every dose plane it crosses; on each piece the dose is linear in z, so the
  piece's volume is spread uniformly over its dose range
  (:mod:`dosecheck.core.histogram`): dose gradients along z are integrated exactly,
  whatever the contour and dose-plane spacings.
* **Grid extent.** The dose grid covers its voxel centres ± half a voxel (constant
  extrapolation in that margin). Any part of the structure beyond is reported as
  ``outside_grid_cc`` with a warning and kept out of the histogram.
* **Statistics.** Mean is exact for the model. Min and max are taken over the sample
  segments' end points *and* every contour vertex at its slab's faces, so they include
  the surface of the end-capped volume.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dosecheck.core.dvh import DVH
from dosecheck.core.end_caps import EndCaps, ShapeExtents, cap_faces, run_ends
from dosecheck.core.histogram import SegmentHistogram
from dosecheck.core.rasterise import (
    SampleGrid,
    Samples,
    contour_edges,
    even_odd_areas,
    expand_ranges,
    plane_outline,
    rasterise,
)
from dosecheck.model import DoseGrid, Structure

MM3_PER_CC = 1000.0
#: Highest dose the engine accepts (Gy); the histogram has one 0.01 Gy bin per step.
MAX_DOSE_GY = 10_000.0
#: Largest contour coordinate the engine accepts (mm), as the RTSTRUCT reader does.
MAX_COORDINATE_MM = 1e5


@dataclass(frozen=True)
class EngineSettings:
    """Accuracy and cost settings of the DVH engine.

    Attributes
    ----------
    bin_width_gy
        Width of the histogram bins (Gy).
    max_subdivisions
        Finest in-plane sampling: dose voxel size / ``max_subdivisions``.
    plane_sample_budget
        Target number of samples on the structure's largest plane: small cross-sections
        are sampled finely, large ones down to one sample per dose voxel.
    sample_budget
        Cap on the samples summed over all planes of one structure (down to one per
        dose voxel).
    max_samples
        Hard cap: a structure that would need more samples even at one per dose voxel
        is sampled on every n-th voxel, with a warning.
    gap_factor
        Plane gaps larger than ``gap_factor`` × the contour spacing split runs.
    chunk_samples
        About how many in-plane samples are processed at once (memory and speed).
    end_caps
        How far the structure extends beyond its end planes and between planes
        (:class:`~dosecheck.core.end_caps.EndCaps`; a string value is accepted).
    """

    bin_width_gy: float = 0.01
    max_subdivisions: int = 16
    max_samples: int = 20_000_000
    plane_sample_budget: int = 5_000
    sample_budget: int = 2_000_000
    gap_factor: float = 1.5
    chunk_samples: int = 100_000
    end_caps: EndCaps = EndCaps.HALF_SLICE


@dataclass(frozen=True)
class _Slabs:
    z: np.ndarray  # plane coordinates, ascending
    lo: np.ndarray  # slab lower faces
    hi: np.ndarray  # slab upper faces


def contour_spacing(z_planes: np.ndarray) -> float | None:
    """Typical spacing of a structure's contour planes (median difference), or None."""
    if z_planes.size < 2:
        return None
    return float(np.median(np.diff(z_planes)))


def _slabs(z_planes: np.ndarray, spacing: float, gap_factor: float) -> _Slabs:
    gaps = np.diff(z_planes)
    half = np.where(gaps <= gap_factor * spacing, gaps, spacing) / 2.0
    lo = z_planes - np.concatenate([[spacing / 2.0], half])
    hi = z_planes + np.concatenate([half, [spacing / 2.0]])
    return _Slabs(z=z_planes, lo=lo, hi=hi)


def _sampling(
    plane_area: np.ndarray, voxel_area: float, settings: EngineSettings
) -> tuple[int, int]:
    """Sample spacing as a ratio ``num / den`` of the dose voxel size, from the budgets.

    Normally ``num == 1`` and ``den = k``, 1 to ``max_subdivisions`` samples per voxel
    side. Only when even one sample per voxel would exceed ``max_samples`` (an extremely
    fine grid, or a corrupt PixelSpacing) is every ``num``-th voxel sampled instead.
    """
    largest = float(plane_area.max(initial=0.0))
    total = float(plane_area.sum())
    if total <= 0:
        return 1, settings.max_subdivisions
    per_voxel = total / voxel_area
    if per_voxel > settings.max_samples:
        return int(np.ceil(np.sqrt(per_voxel / settings.max_samples))), 1
    k_plane = np.sqrt(settings.plane_sample_budget * voxel_area / largest)
    k_total = np.sqrt(settings.sample_budget * voxel_area / total)
    k = int(np.clip(int(min(k_plane, k_total)), 1, settings.max_subdivisions))
    # An even k keeps sample centres off the voxel centres and voxel boundaries, where
    # contour edges often lie (a sample exactly on an edge is counted on one side only).
    return 1, (k if k == 1 else k - k % 2)


def _axis_domain(c: np.ndarray) -> tuple[float, float]:
    """Extent of a voxel-centre axis: first/last centre ± half the end spacing."""
    if c.size == 1:
        # A single plane has no spacing; it covers only itself.
        return float(c[0]), float(c[0])
    return float(c[0] - (c[1] - c[0]) / 2), float(c[-1] + (c[-1] - c[-2]) / 2)


def _nearest_index(coord: np.ndarray, axis: np.ndarray) -> np.ndarray:
    """Index of the nearest voxel centre along an ascending axis."""
    if axis.size == 1:
        return np.zeros(coord.shape, dtype=np.int64)
    u = np.interp(coord, axis, np.arange(axis.size, dtype=np.float64))
    return np.rint(u).astype(np.int64)


def _frac_index(coord: np.ndarray, axis: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
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
class _Axis:
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

    def take(self, mask: np.ndarray) -> _Axis:
        return _Axis(
            self.i0[mask], self.w[mask], self.nearest[mask], self.core[mask], self.inside[mask]
        )

    @staticmethod
    def concat(a: _Axis, b: _Axis) -> _Axis:
        return _Axis(
            *(np.concatenate([getattr(a, f), getattr(b, f)]) for f in _Axis.__dataclass_fields__)
        )


def _axis_from_u(u: np.ndarray, n: int) -> _Axis:
    """Axis placement from fractional voxel indices ``u``."""
    inside = (u >= -0.5) & (u <= n - 0.5)
    if n == 1:
        zero = np.zeros(u.shape, dtype=np.int64)
        return _Axis(zero, np.zeros(u.shape), zero, np.zeros(u.shape, bool), inside)
    r = np.rint(u)
    u = np.where(np.abs(u - r) < 1e-9, r, u)  # points on a centre get a weight of exactly 0
    core = (u >= 0) & (u <= n - 1)
    uc = np.clip(u, 0, n - 1)
    i0 = np.minimum(np.floor(uc).astype(np.int64), n - 2)
    nearest = np.clip(r, 0, n - 1).astype(np.int64)
    return _Axis(i0, uc - i0, nearest, core, inside)


def _axis_from_samples(m: np.ndarray, num: int, den: int, n: int) -> _Axis:
    """Axis placement of sample-grid indices ``m`` (sample spacing ``num / den`` voxels).

    Sample ``m`` lies at fractional voxel index ``(m + 0.5) * num / den - 0.5``; the
    placement is computed once per distinct ``m`` and looked up.
    """
    if m.size == 0:
        return _axis_from_u(np.zeros(0), n)
    m0 = int(m.min())
    table = _axis_from_u((np.arange(m0, int(m.max()) + 1) + 0.5) * num / den - 0.5, n)
    j = m - m0
    return _Axis(table.i0[j], table.w[j], table.nearest[j], table.core[j], table.inside[j])


def _axis_from_coords(c: np.ndarray, axis: np.ndarray) -> _Axis:
    """Axis placement of coordinates ``c`` (mm) on an ascending voxel-centre axis."""
    n = axis.size
    if n == 1:
        return _axis_from_u(np.full(c.shape, -1.0), 1)
    idx = np.arange(n, dtype=np.float64)
    u = np.interp(c, axis, idx, left=np.nan, right=np.nan)
    lo_step, hi_step = axis[1] - axis[0], axis[-1] - axis[-2]
    u = np.where(c < axis[0], (c - axis[0]) / lo_step, u)
    u = np.where(c > axis[-1], n - 1 + (c - axis[-1]) / hi_step, u)
    return _axis_from_u(u, n)


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
        self._gradients: tuple[np.ndarray, np.ndarray] | None = None
        self.max_gy = float(self.flat.max()) if self.flat.size else 0.0
        if not np.isfinite(self.max_gy) or self.max_gy > MAX_DOSE_GY:
            raise ValueError(
                f"dose grid maximum {self.max_gy:g} Gy is not a plausible dose "
                f"(limit {MAX_DOSE_GY:g} Gy); check DoseGridScaling and DoseUnits"
            )

    def inplane_gradients(self) -> tuple[np.ndarray, np.ndarray]:
        """Flat ``|dD/dx|`` and ``|dD/dy|`` (Gy/mm) at the voxel centres (computed once)."""
        if self._gradients is None:
            d = self.grid.dose_gy
            gx = np.zeros_like(d)
            gy = np.zeros_like(d)
            if self.nx > 1:
                gx = np.abs(np.gradient(d, float(self.grid.x[1] - self.grid.x[0]), axis=2))
            if self.ny > 1:
                gy = np.abs(np.gradient(d, float(self.grid.y[1] - self.grid.y[0]), axis=1))
            self._gradients = (gx.reshape(-1), gy.reshape(-1))
        return self._gradients

    def inplane_spread(
        self, ax: _Axis, ay: _Axis, iz: np.ndarray, sx: float, sy: float
    ) -> np.ndarray:
        """Dose spread (Gy) across an ``sx`` × ``sy`` sample cell centred at each point.

        The width of the uniform distribution with the same variance as the linear dose
        across the cell: ``sqrt((sx * dD/dx)² + (sy * dD/dy)²)``, from the gradient at
        the nearest voxel (``iz``: dose-plane index per point). Beyond the outermost
        voxel centres the dose is held constant, so there is no spread along that axis.
        """
        gx, gy = self.inplane_gradients()
        flat = (iz * self.ny + ay.nearest) * self.nx + ax.nearest
        fx = np.where(ax.core, sx * gx[flat], 0.0)
        fy = np.where(ay.core, sy * gy[flat], 0.0)
        return np.sqrt(fx * fx + fy * fy)

    def inplane(self, ax: _Axis, ay: _Axis) -> list[tuple[np.ndarray, np.ndarray]]:
        """Bilinear corners of each point: ``[(flat in-plane offset, weight), ...]``.

        Corners whose weight is zero for every point are left out, so samples at voxel
        centres cost one look-up per dose plane instead of four.
        """
        base = ay.i0 * self.nx + ax.i0
        wx, wy = ax.w, ay.w
        corners = []
        for oy, fy in ((0, 1 - wy), (self.nx, wy)):
            if not fy.any():
                continue
            for ox, fx in ((0, 1 - wx), (1, wx)):
                if fx.any():
                    corners.append((base + (oy + ox), fx * fy))
        return corners

    def on_frame(
        self, corners: list[tuple[np.ndarray, np.ndarray]], frame: np.ndarray
    ) -> np.ndarray:
        """Bilinear dose of each sample on dose plane ``frame`` (per sample)."""
        shift = frame * self.stride_z
        out = None
        for offs, w in corners:
            v = self.flat[offs + shift] * w
            out = v if out is None else out + v
        assert out is not None
        return out


def _plane_breaks(
    slabs: _Slabs, z_range: tuple[float, float], frames: np.ndarray
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
    ib, tb = _frac_index(zb, frames)
    return zb, n_breaks, ib, tb


def _segments(
    ax: _Axis,
    ay: _Axis,
    pplane: np.ndarray,
    slabs: _Slabs,
    z_range: tuple[float, float],
    interp: DoseField,
    *,
    with_z: bool = False,
) -> tuple[np.ndarray, ...]:
    """Linear-in-z dose segments of every point over its plane's slab.

    Parameters
    ----------
    ax, ay, pplane
        In-plane placement and plane index of each point.

    Returns
    -------
    point, d_start, d_end, length
        For every segment: its point, the dose at its two ends and its height (mm);
        with ``with_z``, also the height of its lower end (mm).
    """
    frames = interp.grid.z
    zb, n_breaks, ib, tb = _plane_breaks(slabs, z_range, frames)
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
    fa_p = fa[pplane]
    p = np.empty((int(n_frames.max(initial=2)), n))
    for j in range(p.shape[0]):
        p[j] = interp.on_frame(corners, np.minimum(fa_p + j, nz - 1))
    cols = np.arange(n)
    flat_p = p.reshape(-1)
    last_row = (p.shape[0] - 1) * n
    d_prev = None
    out_pt, out_a, out_b, out_len, out_z = [], [], [], [], []
    for b in range(zb.shape[1]):
        lower = rel[:, b][pplane] * n + cols
        d_b = flat_p[lower]
        if tb[:, b].any():
            t = tb[:, b][pplane]
            d_b += (flat_p[np.minimum(lower + n, last_row + cols)] - d_b) * t
        if d_prev is not None:
            length = zb[:, b] - zb[:, b - 1]
            plane_ok = (b < n_breaks) & (length > 0)
            if plane_ok.all():
                out_pt.append(cols)
                out_a.append(d_prev)
                out_b.append(d_b)
                out_len.append(length[pplane])
                if with_z:
                    out_z.append(zb[:, b - 1][pplane])
            else:
                valid = plane_ok[pplane]
                out_pt.append(cols[valid])
                out_a.append(d_prev[valid])
                out_b.append(d_b[valid])
                out_len.append(length[pplane][valid])
                if with_z:
                    out_z.append(zb[:, b - 1][pplane][valid])
        d_prev = d_b
    out = (
        np.concatenate(out_pt),
        np.concatenate(out_a),
        np.concatenate(out_b),
        np.concatenate(out_len),
    )
    return (*out, np.concatenate(out_z)) if with_z else out


def compute_dvh(
    structure: Structure,
    grid: DoseGrid | DoseField,
    *,
    slice_thickness_mm: float | None = None,
    settings: EngineSettings | None = None,
    bin_width_gy: float | None = None,
) -> DVH:
    """Compute the cumulative DVH of ``structure`` in ``grid``.

    Parameters
    ----------
    structure
        The ROI's closed planar contours.
    grid
        The dose grid (ascending axes), or a :class:`DoseField` prepared from it, which
        saves repeating the preparation for every structure of a plan.
    slice_thickness_mm
        Contour spacing used for end caps and for single-plane structures. Defaults to
        the median spacing of the structure's own planes.
    settings
        Accuracy settings and the end-cap convention (``settings.end_caps``, see
        :mod:`dosecheck.core.end_caps`); defaults to :class:`EngineSettings()`.
    bin_width_gy
        Overrides ``settings.bin_width_gy``.

    Returns
    -------
    DVH
        Empty (volume 0) with a warning when nothing of the structure is inside the grid.
    """
    settings = settings or EngineSettings()
    end_caps = EndCaps(settings.end_caps)
    variants = _run(structure, grid, slice_thickness_mm, settings, bin_width_gy, end_caps)
    return variants[end_caps]


def compute_dvh_variants(
    structure: Structure,
    grid: DoseGrid | DoseField,
    *,
    slice_thickness_mm: float | None = None,
    settings: EngineSettings | None = None,
    bin_width_gy: float | None = None,
) -> dict[EndCaps, DVH]:
    """The DVHs with half-slice end caps and with none, from one pass.

    The half-slice DVH is the one :func:`compute_dvh` gives (``settings.end_caps`` is
    ignored); the one without end caps is that pass less the end-cap half-slabs of each
    run (their volume, dose-volume and share of every segment's dose range), so it
    costs little more than the half-slice DVH alone. Parameters as :func:`compute_dvh`.

    Returns
    -------
    dict
        ``{EndCaps.HALF_SLICE: DVH, EndCaps.NONE: DVH}``.
    """
    return _run(
        structure,
        grid,
        slice_thickness_mm,
        settings or EngineSettings(),
        bin_width_gy,
        EndCaps.NONE,
    )


def _run(
    structure: Structure,
    grid: DoseGrid | DoseField,
    slice_thickness_mm: float | None,
    settings: EngineSettings,
    bin_width_gy: float | None,
    end_caps: EndCaps,
) -> dict[EndCaps, DVH]:
    """DVHs of one structure: half-slice; with ``none``, also none; with ``shape``, shape."""
    bw = bin_width_gy or settings.bin_width_gy
    field = grid if isinstance(grid, DoseField) else DoseField(grid)
    grid = field.grid
    name = structure.name
    keys = (end_caps,) if end_caps is not EndCaps.NONE else (EndCaps.HALF_SLICE, EndCaps.NONE)
    if structure.is_empty:
        return dict.fromkeys(keys, DVH.empty(name=name, warnings=(f"{name}: ROI has no contours",)))
    coords = (structure.xy, structure.z)
    if not all(
        np.isfinite(c).all() and np.abs(c).max(initial=0.0) <= MAX_COORDINATE_MM for c in coords
    ):
        raise ValueError(
            f"{name}: contour coordinates must be finite and within ±{MAX_COORDINATE_MM:g} mm"
        )

    planes, contour_plane = np.unique(np.round(structure.z, 3), return_inverse=True)
    spacing = slice_thickness_mm or contour_spacing(planes)
    if spacing is None or not spacing > 0:
        return dict.fromkeys(
            keys,
            DVH.empty(
                name=name,
                warnings=(
                    f"{name}: single contour plane and no slice thickness known; not computed",
                ),
            ),
        )
    slabs = _slabs(planes, spacing, settings.gap_factor)
    thickness = slabs.hi - slabs.lo

    # In-plane sample grid aligned with the dose voxels, k times finer.
    n_planes = planes.size
    plane_area, _ = even_odd_areas(structure.xy, structure.offsets, contour_plane, n_planes)
    dx = float(grid.x[1] - grid.x[0]) if grid.x.size > 1 else spacing
    dy = float(grid.y[1] - grid.y[0]) if grid.y.size > 1 else spacing
    # Only the part inside the grid is sampled, so no plane needs more than the grid.
    grid_area = (grid.x.size * dx) * (grid.y.size * dy)
    num, den = _sampling(np.minimum(np.abs(plane_area), grid_area), dx * dy, settings)
    sgrid = SampleGrid(
        x0=float(grid.x[0]) - dx / 2,
        y0=float(grid.y[0]) - dy / 2,
        sx=dx * num / den,
        sy=dy * num / den,
    )
    cell_area = sgrid.sx * sgrid.sy
    z_range = _axis_domain(grid.z)
    frame_mid = _nearest_index(np.clip((slabs.lo + slabs.hi) / 2, *z_range), grid.z)
    hist = SegmentHistogram(bw, field.max_gy)
    runs = run_ends(planes, spacing, settings.gap_factor)
    shape = caps = None
    if end_caps is EndCaps.SHAPE:
        shape = ShapeExtents(planes, runs, spacing, sgrid.sx, sgrid.sy)
        vmin, vmax = np.inf, -np.inf  # per chunk, from the shape's vertex extents
    else:
        vmin, vmax = _vertex_extremes(structure, contour_plane, slabs, grid, field, z_range)
    acc = _Totals(vertex_min=vmin, vertex_max=vmax)
    if end_caps is EndCaps.NONE:
        cap_lo, cap_hi = cap_faces(planes, slabs.lo, slabs.hi, runs)
        core = _Slabs(
            z=planes,
            lo=np.where(cap_lo < planes, planes, slabs.lo),
            hi=np.where(cap_hi > planes, planes, slabs.hi),
        )
        cmin, cmax = _vertex_extremes(structure, contour_plane, core, grid, field, z_range)
        caps = _Caps(
            lo=cap_lo,
            hi=cap_hi,
            hist=SegmentHistogram(bw, field.max_gy),
            acc=_Totals(vertex_min=cmin, vertex_max=cmax),
        )

    # Only samples inside the grid's extent are made (plus the plane's fallback sample).
    col_window = (0, -(-field.nx * den // num))
    row_window = (0, -(-field.ny * den // num))
    # Planes are processed in chunks of about CHUNK_SAMPLES samples: memory stays
    # bounded and NumPy's temporaries stay small enough to be reused, not page-faulted.
    by_plane = _ContoursByPlane(structure, contour_plane)
    expected = np.abs(plane_area) / cell_area + 1.0
    for p0, p1 in _chunks(expected, settings.chunk_samples):
        xy, offsets, cplane = by_plane.planes(p0, p1)
        if shape is None:
            samples = rasterise(xy, offsets, cplane, sgrid, cols=col_window, rows=row_window)
        else:
            samples = _prepare_shape(
                shape, by_plane, p0, p1, n_planes, sgrid, (col_window, row_window)
            )
            _shape_vertex_extremes(shape, xy, offsets, cplane, sgrid, grid, field, z_range, acc)
        _process_chunk(
            samples,
            xy,
            offsets,
            cplane,
            range(p0, p1),
            num,
            den,
            sgrid,
            plane_area,
            thickness,
            slabs,
            frame_mid,
            z_range,
            field,
            hist,
            acc,
            shape=shape,
            caps=caps,
        )

    warnings: list[str] = []
    if acc.crossing_planes:
        warnings.append(
            f"{name}: contours cross each other on {acc.crossing_planes} plane(s); their "
            "area is taken from the even-odd sampling, not the polygon formula"
        )
    if num > 1:
        warnings.append(
            f"{name}: the dose grid is so fine for this structure's size that only every "
            f"{num}th voxel along x and y was sampled (limit {settings.max_samples:,} samples)"
        )
    main = EndCaps.SHAPE if shape is not None else EndCaps.HALF_SLICE
    out = {main: _finish(name, acc, hist.below(), bw, warnings)}
    if caps is not None:
        below = hist.below() - caps.hist.below()
        single = int(runs.single.sum())
        if single:
            warnings = [
                *warnings,
                f"{name}: {single} contour plane(s) form a run of their own; without end "
                "caps such a plane has no extent, so it keeps half a contour spacing either side",
            ]
        out[EndCaps.NONE] = _finish(name, caps.core_totals(acc), below, bw, warnings)
    return out


def _finish(name: str, acc: _Totals, below: np.ndarray, bw: float, warnings: list[str]) -> DVH:
    """The DVH from a structure's totals and its histogram's ``below`` array."""
    warnings = list(warnings)
    outside_cc = max(acc.total_cc - acc.inside_cc, 0.0)
    if outside_cc >= 5e-4:
        warnings.append(
            f"{name}: {outside_cc:.2f} cc ({100 * outside_cc / acc.total_cc:.1f} %) lies outside "
            "the dose grid and is excluded from the DVH"
        )
    if acc.inside_cc <= 0:
        return DVH.empty(
            name=name,
            outside_grid_cc=acc.total_cc,
            warnings=(
                f"{name}: structure lies entirely outside the dose grid "
                f"({acc.total_cc:.2f} cc); no DVH",
            ),
        )
    dmin = min(acc.dmin, acc.vertex_min)
    dmax = max(acc.dmax, acc.vertex_max)
    n_edges = min(int(np.ceil(dmax / bw)) + 2, below.size)
    volume = acc.inside_cc
    return DVH(
        dose_edges_gy=np.arange(n_edges) * bw,
        cumulative_cc=np.clip(volume - below[:n_edges], 0.0, volume),
        volume_cc=volume,
        min_gy=dmin,
        mean_gy=acc.dose_volume / volume,
        max_gy=dmax,
        outside_grid_cc=outside_cc,
        name=name,
        warnings=tuple(warnings),
    )


@dataclass
class _Totals:
    """Running totals over the chunks of one structure."""

    total_cc: float = 0.0
    inside_cc: float = 0.0
    dose_volume: float = 0.0  # sum of volume × mean dose (Gy·cc)
    dmin: float = np.inf
    dmax: float = -np.inf
    vertex_min: float = np.inf
    vertex_max: float = -np.inf
    crossing_planes: int = 0


@dataclass
class _Caps:
    """The end-cap half-slabs of a half-slice pass, accumulated apart (for ``none``).

    ``lo``/``hi``: each plane's cap (empty for planes that do not end a run). ``acc``
    holds the caps' own totals, except its ``dmin``/``dmax``/``vertex_*``, which are
    those of the rest (the structure without caps).
    """

    lo: np.ndarray
    hi: np.ndarray
    hist: SegmentHistogram
    acc: _Totals

    def core_totals(self, full: _Totals) -> _Totals:
        """Totals of the structure without its caps: ``full`` less the caps."""
        c = self.acc
        return _Totals(
            total_cc=full.total_cc - c.total_cc,
            inside_cc=full.inside_cc - c.inside_cc,
            dose_volume=full.dose_volume - c.dose_volume,
            dmin=c.dmin,
            dmax=c.dmax,
            vertex_min=c.vertex_min,
            vertex_max=c.vertex_max,
            crossing_planes=full.crossing_planes,
        )


class _ContoursByPlane:
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


def _chunks(weights: np.ndarray, limit: int) -> list[tuple[int, int]]:
    """Consecutive index ranges whose summed weight stays near ``limit``."""
    out: list[tuple[int, int]] = []
    start, acc = 0, 0.0
    for i, w in enumerate(weights.tolist()):
        if acc and acc + w > limit:
            out.append((start, i))
            start, acc = i, 0.0
        acc += w
    if weights.size:
        out.append((start, weights.size))
    return out


def _process_chunk(
    samples: Samples,
    xy: np.ndarray,
    offsets: np.ndarray,
    cplane: np.ndarray,
    planes: range,
    num: int,
    den: int,
    sgrid: SampleGrid,
    plane_area: np.ndarray,
    thickness: np.ndarray,
    slabs: _Slabs,
    frame_mid: np.ndarray,
    z_range: tuple[float, float],
    field: DoseField,
    hist: SegmentHistogram,
    acc: _Totals,
    *,
    shape: ShapeExtents | None = None,
    caps: _Caps | None = None,
) -> None:
    """Sample, interpolate and histogram the planes of one chunk.

    With ``shape``, each sample spans its own extent along z instead of its plane's
    slab; with ``caps``, the end-cap half-slabs are also accumulated apart.
    """
    grid = field.grid
    n_all = plane_area.size
    ax = _axis_from_samples(samples.col, num, den, field.nx)
    ay = _axis_from_samples(samples.row, num, den, field.ny)
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
        ax = _Axis.concat(ax, _axis_from_coords(mx, grid.x))
        ay = _Axis.concat(ay, _axis_from_coords(my, grid.y))
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
    perimeter, bb_lo, bb_hi = plane_outline(xy, offsets, cplane, n_all)
    x_lo, x_hi = _axis_domain(grid.x) if grid.x.size > 1 else (-np.inf, np.inf)
    y_lo, y_hi = _axis_domain(grid.y) if grid.y.size > 1 else (-np.inf, np.inf)
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
        own = _Slabs(z=s_lo, lo=s_lo, hi=s_hi)
        pt, da, db, length = _segments(ax, ay, np.arange(pplane.size), own, z_range, field)
    elif caps is not None:
        pt, da, db, length, z0 = _segments(ax, ay, pplane, slabs, z_range, field, with_z=True)
    else:
        pt, da, db, length = _segments(ax, ay, pplane, slabs, z_range, field)
    if pt.size == 0:
        return
    vol = length * weight_per_mm[pplane[pt]]
    lo = np.maximum(np.minimum(da, db), 0.0)
    hi = np.maximum(np.maximum(da, db), 0.0)
    acc.inside_cc += float(vol.sum())
    acc.dose_volume += float((vol * (lo + hi)).sum()) / 2  # not np.dot: no BLAS threads
    acc.dmin = min(acc.dmin, float(lo.min()))
    acc.dmax = max(acc.dmax, float(hi.max()))
    # Each sample stands for a cell; spread its volume over the dose range across the
    # cell as well as along z (uniform distribution of the same variance), so the
    # histogram has no staircase from the in-plane sample spacing.
    spread = field.inplane_spread(ax, ay, frame_mid[pplane], sgrid.sx, sgrid.sy)[pt]
    if spread.any():
        half = np.sqrt((hi - lo) ** 2 + spread**2) / 2
        mid = (lo + hi) / 2
        # Keep the spread within the structure's extremes (at least those known so
        # far: vertices and this chunk's samples), so the curve ends at Min and Max.
        lo = np.maximum(mid - half, min(acc.vertex_min, float(lo.min())))
        hi = np.minimum(mid + half, max(acc.vertex_max, float(hi.max())))
    hist.add(lo, hi, vol)
    if caps is not None:
        _add_caps(caps, pplane[pt], z0, length, da, db, lo, hi, vol)


def _add_caps(
    caps: _Caps,
    plane: np.ndarray,
    z0: np.ndarray,
    length: np.ndarray,
    da: np.ndarray,
    db: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    vol: np.ndarray,
) -> None:
    """Accumulate the part of each segment inside its plane's end cap, and the rest's extremes.

    A segment runs from ``z0`` to ``z0 + length`` with dose ``da`` to ``db`` and was
    added to the histogram spread uniformly over ``[lo, hi]``; its part at fractions
    ``[a, b]`` of its height is the matching part of ``[lo, hi]`` (in the direction of
    the dose), so the caps' histogram is exactly a share of the full one.
    """
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
    c = caps.acc
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


def _prepare_shape(
    shape: ShapeExtents,
    by_plane: _ContoursByPlane,
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


def _shape_vertex_extremes(
    shape: ShapeExtents,
    xy: np.ndarray,
    offsets: np.ndarray,
    cplane: np.ndarray,
    sgrid: SampleGrid,
    grid: DoseGrid,
    interp: DoseField,
    z_range: tuple[float, float],
    acc: _Totals,
) -> None:
    """Fold the dose extremes of a chunk's vertices over their shape extents into ``acc``."""
    ax = _axis_from_coords(xy[:, 0], grid.x)
    ay = _axis_from_coords(xy[:, 1], grid.y)
    ok = ax.inside & ay.inside
    if not ok.any():
        return
    vplane = np.repeat(cplane, np.diff(offsets))[ok]
    lo, hi = shape.vertex_extents(vplane, xy[ok, 0], xy[ok, 1], sgrid.x0, sgrid.y0)
    lo = np.minimum(lo, hi - 1e-6)  # a vertex that spans no height still has its dose
    own = _Slabs(z=lo, lo=lo, hi=hi)
    _, da, db, _ = _segments(ax.take(ok), ay.take(ok), np.arange(lo.size), own, z_range, interp)
    if da.size:
        acc.vertex_min = min(acc.vertex_min, float(max(min(da.min(), db.min()), 0.0)))
        acc.vertex_max = max(acc.vertex_max, float(max(da.max(), db.max())))


def _vertex_extremes(
    structure: Structure,
    contour_plane: np.ndarray,
    slabs: _Slabs,
    grid: DoseGrid,
    interp: DoseField,
    z_range: tuple[float, float],
) -> tuple[float, float]:
    """Min and max dose over contour vertices at their slab faces and inner dose planes."""
    xy = structure.xy
    ax = _axis_from_coords(xy[:, 0], grid.x)
    ay = _axis_from_coords(xy[:, 1], grid.y)
    ok = ax.inside & ay.inside
    if not ok.any():
        return np.inf, -np.inf
    vplane = np.repeat(contour_plane, np.diff(structure.offsets))[ok]
    _, da, db, _ = _segments(ax.take(ok), ay.take(ok), vplane, slabs, z_range, interp)
    if da.size == 0:
        return np.inf, -np.inf
    return float(max(min(da.min(), db.min()), 0.0)), float(max(da.max(), db.max()))
