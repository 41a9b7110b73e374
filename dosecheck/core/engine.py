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
  whatever the contour and dose-plane spacings. The interpolation and the segments
  along z are in :mod:`dosecheck.core.dose_field`; the work on each chunk of planes in
  :mod:`dosecheck.core.chunk_pass`; the passes for ``none`` and ``shape`` in
  :mod:`dosecheck.core.end_cap_pass`.
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

from dosecheck.core.arrays import median
from dosecheck.core.chunk_pass import process_chunk
from dosecheck.core.dose_field import (
    MAX_DOSE_GY,
    DoseField,
    Slabs,
    axis_domain,
    nearest_index,
    vertex_extremes,
)
from dosecheck.core.dvh import DVH
from dosecheck.core.end_cap_pass import Caps, prepare_shape, shape_vertex_extremes
from dosecheck.core.end_caps import EndCaps, ShapeExtents, cap_faces, run_ends
from dosecheck.core.histogram import SegmentHistogram, Totals
from dosecheck.core.rasterise import (
    ContoursByPlane,
    SampleGrid,
    even_odd_areas,
    plane_outline,
    rasterise,
)
from dosecheck.model import DoseGrid, Structure

__all__ = [
    "MAX_COORDINATE_MM",
    "MAX_DOSE_GY",
    "DoseField",
    "EngineSettings",
    "compute_dvh",
    "compute_dvh_variants",
    "contour_spacing",
]

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


def contour_spacing(z_planes: np.ndarray) -> float | None:
    """Typical spacing of a structure's contour planes (median difference), or None."""
    if z_planes.size < 2:
        return None
    return median(np.diff(z_planes))


def _slabs(z_planes: np.ndarray, spacing: float, gap_factor: float) -> Slabs:
    gaps = np.diff(z_planes)
    half = np.where(gaps <= gap_factor * spacing, gaps, spacing) / 2.0
    lo = z_planes - np.concatenate([[spacing / 2.0], half])
    hi = z_planes + np.concatenate([half, [spacing / 2.0]])
    return Slabs(z=z_planes, lo=lo, hi=hi)


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
    z_range = axis_domain(grid.z)
    frame_mid = nearest_index(np.clip((slabs.lo + slabs.hi) / 2, *z_range), grid.z)
    hist = SegmentHistogram(bw, field.max_gy)
    runs = run_ends(planes, spacing, settings.gap_factor)
    shape = caps = None
    if end_caps is EndCaps.SHAPE:
        shape = ShapeExtents(planes, runs, spacing, sgrid.sx, sgrid.sy)
        vmin, vmax = np.inf, -np.inf  # per chunk, from the shape's vertex extents
    else:
        vmin, vmax = vertex_extremes(structure, contour_plane, slabs, grid, field, z_range)
    acc = Totals(vertex_min=vmin, vertex_max=vmax)
    if end_caps is EndCaps.NONE:
        cap_lo, cap_hi = cap_faces(planes, slabs.lo, slabs.hi, runs)
        core = Slabs(
            z=planes,
            lo=np.where(cap_lo < planes, planes, slabs.lo),
            hi=np.where(cap_hi > planes, planes, slabs.hi),
        )
        cmin, cmax = vertex_extremes(structure, contour_plane, core, grid, field, z_range)
        caps = Caps(
            lo=cap_lo,
            hi=cap_hi,
            hist=SegmentHistogram(bw, field.max_gy),
            acc=Totals(vertex_min=cmin, vertex_max=cmax),
        )

    # Only samples inside the grid's extent are made (plus the plane's fallback sample).
    col_window = (0, -(-field.nx * den // num))
    row_window = (0, -(-field.ny * den // num))
    # Planes are processed in chunks of about CHUNK_SAMPLES samples: memory stays
    # bounded and NumPy's temporaries stay small enough to be reused, not page-faulted.
    by_plane = ContoursByPlane(structure, contour_plane)
    # Perimeter and bounding box of every plane, once (per-plane sums in the same order
    # as over a chunk's planes, so the same values).
    outline = plane_outline(by_plane.xy, by_plane.offsets, by_plane.plane, n_planes)
    expected = np.abs(plane_area) / cell_area + 1.0
    for p0, p1 in _chunks(expected, settings.chunk_samples):
        xy, offsets, cplane = by_plane.planes(p0, p1)
        # The chunk's samples go in a list the chunk pass empties, so that they are
        # freed as soon as it is done with them.
        if shape is None:
            held = [rasterise(xy, offsets, cplane, sgrid, cols=col_window, rows=row_window)]
        else:
            held = [
                prepare_shape(shape, by_plane, p0, p1, n_planes, sgrid, (col_window, row_window))
            ]
            shape_vertex_extremes(shape, xy, offsets, cplane, sgrid, grid, field, z_range, acc)
        process_chunk(
            held,
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
            outline,
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


def _finish(name: str, acc: Totals, below: np.ndarray, bw: float, warnings: list[str]) -> DVH:
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
