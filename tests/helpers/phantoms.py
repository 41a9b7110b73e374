"""Analytic phantoms and closed-form reference DVHs for validating the DVH engine.

A *phantom* is a structure given as a stack of polygon contours, exactly as an RTSTRUCT
would store it (sphere, cylinder, cone, hollow cylinder, two islands, a sub-cc sphere).
A *dose* is a linear gradient ``d = d0 + g * (coordinate - centre)`` along x, y or z,
sampled on a regular grid with a chosen voxel size and origin offset. Trilinear
interpolation of a linear field is exact, so the only model the engine has to get right
is the geometry, and that geometry has a closed form.

The reference reproduces the engine's *slab model* exactly:

* contour plane ``z_k`` stands for the slab from half-way to the previous plane to
  half-way to the next; the first and last planes extend half a contour spacing beyond
  (half-slice end caps);
* contours on one plane combine by the even-odd rule (a contour inside another is a
  hole, disjoint contours are islands);
* the dose grid covers its voxel centres +- half a voxel; inside that box the dose is
  the trilinear interpolant, constant beyond the outermost voxel centres. Structure
  parts outside the box are reported as outside volume and excluded from the DVH.

For a gradient along z every slab is a prism ``area_k x [z_lo, z_hi]``, so
``V(>= d) = sum_k area_k * |[z_lo, z_hi] ∩ {dose >= d}|``. For a gradient along x or y,
``V(>= d) = sum_k h_k * area(polygon_k ∩ {dose >= d})``, where the half-plane clip is
evaluated exactly with Green's theorem on the polygon edges (see :func:`halfplane_area`).
The grid box is applied with an exact Sutherland–Hodgman clip
(:func:`clip_polygon_halfplane`). The mean uses the exact first moment
(:func:`halfplane_moment`), and the dose-at-volume metrics invert the exact curve by
bisection.

:func:`sample_dvh` computes the same numbers by brute-force point sampling and true
trilinear interpolation of the :class:`~dosecheck.model.DoseGrid` array, as an
independent check of the closed form (used only by the phantom self-tests).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from dosecheck.model import DoseGrid, Structure

AXES = {"x": 0, "y": 1, "z": 2}
D_PERCENTS: tuple[float, ...] = (98.0, 95.0, 50.0, 5.0, 2.0)


# ======================================================================================
# Polygon geometry (exact, vectorised)
# ======================================================================================
def circle_polygon(
    radius_mm: float,
    centre_xy: tuple[float, float] = (0.0, 0.0),
    n_vertices: int | None = None,
    start_angle: float = 0.0,
    clockwise: bool = False,
) -> np.ndarray:
    """A regular polygon inscribed in a circle, ``(n, 2)``.

    ``n_vertices`` defaults to one vertex per 0.25 mm of circumference, clipped to
    256..720. The polygon's area is ``n/2 * r² * sin(2π/n)`` (slightly less than ``π r²``).
    """
    if n_vertices is None:
        n_vertices = int(np.clip(round(2.0 * np.pi * radius_mm / 0.25), 256, 720))
    theta = start_angle + 2.0 * np.pi * np.arange(n_vertices) / n_vertices
    if clockwise:
        theta = theta[::-1]
    return np.column_stack(
        [centre_xy[0] + radius_mm * np.cos(theta), centre_xy[1] + radius_mm * np.sin(theta)]
    )


def signed_area(poly: np.ndarray) -> float:
    """Shoelace signed area of a closed polygon (positive when counter-clockwise)."""
    if poly.shape[0] < 3:
        return 0.0
    p = poly - poly.mean(axis=0)
    q = np.roll(p, -1, axis=0)
    return 0.5 * float(np.sum(p[:, 0] * q[:, 1] - q[:, 0] * p[:, 1]))


def clip_polygon_halfplane(poly: np.ndarray, normal: Sequence[float], t: float) -> np.ndarray:
    """Sutherland–Hodgman clip of a polygon to the half-plane ``normal · p >= t``.

    Exact up to rounding for any simple polygon (the result may contain zero-width
    bridges along the clip line when a non-convex polygon is cut in several pieces; they
    carry no area). Orientation is preserved.

    Returns
    -------
    numpy.ndarray
        ``(m, 2)`` vertices of the clipped polygon (``m < 3`` means empty).
    """
    if poly.shape[0] == 0:
        return poly
    n = np.asarray(normal, dtype=np.float64)
    p = poly
    q = np.roll(poly, -1, axis=0)
    sp = p @ n - t
    sq = q @ n - t
    in_p = sp >= 0.0
    cross = in_p != (sq >= 0.0)
    denom = np.where(cross, sp - sq, 1.0)
    frac = np.where(cross, sp / denom, 0.0)
    inter = p + frac[:, None] * (q - p)
    out = np.stack([p, inter], axis=1)  # per edge: start vertex, then crossing point
    keep = np.stack([in_p, cross], axis=1)
    return out[keep]


def clip_polygon_box(poly: np.ndarray, lo: Sequence[float], hi: Sequence[float]) -> np.ndarray:
    """Clip a polygon to the axis-aligned rectangle ``[lo[0], hi[0]] x [lo[1], hi[1]]``."""
    out = poly
    for normal, t in (
        ((1.0, 0.0), lo[0]),
        ((-1.0, 0.0), -hi[0]),
        ((0.0, 1.0), lo[1]),
        ((0.0, -1.0), -hi[1]),
    ):
        out = clip_polygon_halfplane(out, normal, t)
        if out.shape[0] < 3:
            return np.zeros((0, 2))
    return out


def _edge_terms(
    ua: np.ndarray, wa: np.ndarray, ub: np.ndarray, wb: np.ndarray, t: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Part of each edge with ``u >= t``: ``(alpha, beta, dw)``.

    ``alpha`` and ``beta`` are ``u - t`` at the start and end of the kept sub-segment
    and ``dw`` its extent in ``w``; all zero when nothing is kept. Edges broadcast
    against thresholds (edges along axis 0, thresholds along axis 1).
    """
    ua, wa, ub, wb = (a[:, None] for a in (ua, wa, ub, wb))
    t = np.asarray(t, dtype=np.float64)[None, :]
    sa = ua - t
    sb = ub - t
    in_a = sa >= 0.0
    in_b = sb >= 0.0
    du = ub - ua
    safe = np.where(du == 0.0, 1.0, du)
    frac = np.where(in_a != in_b, -sa / safe, 0.0)  # crossing parameter along the edge
    wq = wa + frac * (wb - wa)
    # Kept sub-segment: a->b (both in), a->q (a in), q->b (b in), nothing (both out).
    alpha = np.where(in_a, sa, 0.0)
    beta = np.where(in_b, sb, 0.0)
    w_start = np.where(in_a, wa, wq)
    w_end = np.where(in_b, wb, wq)
    dw = np.where(in_a | in_b, w_end - w_start, 0.0)
    return alpha, beta, dw


def halfplane_area(
    ua: np.ndarray,
    wa: np.ndarray,
    ub: np.ndarray,
    wb: np.ndarray,
    weight: np.ndarray,
    t: np.ndarray,
) -> np.ndarray:
    """Weighted area of polygons ∩ ``{u >= t}`` for many thresholds ``t`` at once.

    By Green's theorem, ``area(P ∩ {u >= t}) = ∮ (u - t) dw`` over the boundary of the
    clipped region, and the part of that boundary on the line ``u = t`` contributes
    nothing. So the clipped area is the sum over the polygon edges of
    ``∫ (u - t) dw`` over the part of each edge with ``u >= t``, which is exact for
    straight edges: ``dw * (alpha + beta) / 2``. ``(u, w)`` must be a right-handed frame;
    the result is signed by each polygon's orientation (multiply by ``weight``).

    Parameters
    ----------
    ua, wa, ub, wb
        ``(E,)`` edge start and end points in the ``(u, w)`` frame.
    weight
        ``(E,)`` weight of each edge (its polygon's sign x slab thickness).
    t
        ``(m,)`` thresholds (finite).

    Returns
    -------
    numpy.ndarray
        ``(m,)`` weighted clipped areas.
    """
    out = np.zeros(np.size(t))
    for sl in _chunks(np.size(t), ua.size):
        alpha, beta, dw = _edge_terms(ua, wa, ub, wb, np.atleast_1d(t)[sl])
        out[sl] = weight @ (dw * (alpha + beta) * 0.5)
    return out


def halfplane_moment(
    ua: np.ndarray,
    wa: np.ndarray,
    ub: np.ndarray,
    wb: np.ndarray,
    weight: np.ndarray,
    t: np.ndarray,
) -> np.ndarray:
    """Weighted ``Q(t) = ∫∫ (u - t) dA`` over polygons ∩ ``{u >= t}``.

    Green's theorem with ``M = (u - t)² / 2``: per edge ``dw * (α² + αβ + β²) / 6``.
    ``Q' = -area(P ∩ {u >= t})``, so ``∫_lo^hi area(P ∩ {u >= s}) ds = Q(lo) - Q(hi)``,
    which gives the exact integral of a clamped linear dose over a polygon.
    """
    out = np.zeros(np.size(t))
    for sl in _chunks(np.size(t), ua.size):
        alpha, beta, dw = _edge_terms(ua, wa, ub, wb, np.atleast_1d(t)[sl])
        out[sl] = weight @ (dw * (alpha * alpha + alpha * beta + beta * beta) / 6.0)
    return out


def _chunks(m: int, n_edges: int, budget: int = 4_000_000) -> list[slice]:
    step = max(1, budget // max(n_edges, 1))
    return [slice(i, min(i + step, m)) for i in range(0, m, step)]


def even_odd_signs(polys: Sequence[np.ndarray]) -> np.ndarray:
    """``+1`` or ``-1`` per contour so that ``Σ sign_i * 1[P_i]`` is the even-odd region.

    Valid for non-crossing contours (nested or disjoint): the sign is ``(-1)^depth``
    where depth counts the other contours enclosing the contour's first vertex.
    """
    signs = np.ones(len(polys))
    for i, p in enumerate(polys):
        depth = sum(
            bool(_crossing_parity(q, p[:1, 0], p[:1, 1])[0]) for j, q in enumerate(polys) if j != i
        )
        signs[i] = -1.0 if depth % 2 else 1.0
    return signs


def _crossing_parity(poly: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Even-odd point-in-polygon by ray crossing (points ``(x, y)`` vs one polygon)."""
    x0, y0 = poly[:, 0][:, None], poly[:, 1][:, None]
    x1, y1 = np.roll(poly[:, 0], -1)[:, None], np.roll(poly[:, 1], -1)[:, None]
    spans = (y0 > y[None, :]) != (y1 > y[None, :])
    dy = np.where(spans, y1 - y0, 1.0)
    xc = x0 + (y[None, :] - y0) * (x1 - x0) / dy
    return (np.sum(spans & (x[None, :] < xc), axis=0) % 2).astype(bool)


# ======================================================================================
# Phantoms
# ======================================================================================
@dataclass(frozen=True, eq=False)
class Phantom:
    """A structure as a stack of planar polygon contours, plus its ideal-shape volume.

    Attributes
    ----------
    name
        Short identifier (used in test ids).
    spacing_mm
        Contour plane spacing; the end caps extend half of it beyond the outer planes.
    planes
        ``((z, (poly, ...)), ...)`` in ascending z; all polygons of a plane combine by
        the even-odd rule.
    ideal_volume_cc
        Volume of the continuous shape the contours approximate (for orientation only:
        the slab model's volume differs by the polygonisation and the staircase ends).
    description
        Human-readable summary.
    """

    name: str
    spacing_mm: float
    planes: tuple[tuple[float, tuple[np.ndarray, ...]], ...]
    ideal_volume_cc: float
    description: str = ""

    def contours(self) -> list[tuple[float, np.ndarray]]:
        """``[(z, (n, 2) xy), ...]`` for :meth:`Structure.from_contours`."""
        return [(z, p) for z, polys in self.planes for p in polys]

    def structure(self, number: int = 1) -> Structure:
        """The phantom as a :class:`~dosecheck.model.Structure`."""
        return Structure.from_contours(number, self.name, self.contours())

    @property
    def plane_z(self) -> np.ndarray:
        return np.array([z for z, _ in self.planes])

    def slab_bounds(self, slice_thickness_mm: float | None = None) -> tuple[np.ndarray, ...]:
        """``(z_lo, z_hi)`` of every plane's slab (half-way to neighbours, half-slice caps)."""
        z = self.plane_z
        h = self.spacing_mm if slice_thickness_mm is None else slice_thickness_mm
        mid = 0.5 * (z[1:] + z[:-1])
        return np.concatenate([[z[0] - 0.5 * h], mid]), np.concatenate([mid, [z[-1] + 0.5 * h]])

    def bounds(self, slice_thickness_mm: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Bounding box ``(lo, hi)`` (3-vectors, mm) of the slab model."""
        xy = np.concatenate(self.contours_xy())
        zlo, zhi = self.slab_bounds(slice_thickness_mm)
        lo = np.array([xy[:, 0].min(), xy[:, 1].min(), zlo[0]])
        hi = np.array([xy[:, 0].max(), xy[:, 1].max(), zhi[-1]])
        return lo, hi

    def contours_xy(self) -> list[np.ndarray]:
        return [p for _, polys in self.planes for p in polys]

    def shifted(self, dx: float = 0.0, dy: float = 0.0, name: str | None = None) -> Phantom:
        """The same phantom translated in-plane."""
        d = np.array([dx, dy])
        planes = tuple((z, tuple(p + d for p in polys)) for z, polys in self.planes)
        return Phantom(
            name or self.name, self.spacing_mm, planes, self.ideal_volume_cc, self.description
        )


def _lattice(z_lo: float, z_hi: float, h: float, phase: float = 0.0) -> np.ndarray:
    """Planes ``phase + k h`` strictly inside ``(z_lo, z_hi)``."""
    k0 = int(np.floor((z_lo - phase) / h)) + 1
    k1 = int(np.ceil((z_hi - phase) / h)) - 1
    z = phase + h * np.arange(k0, k1 + 1)
    return z[(z > z_lo + 1e-9) & (z < z_hi - 1e-9)]


def _stack(
    z_values: np.ndarray, polys_at: Callable[[float, int], list[np.ndarray]]
) -> tuple[tuple[float, tuple[np.ndarray, ...]], ...]:
    """Planes ``(z, polygons)`` from a per-plane polygon factory."""
    planes = []
    for k, z in enumerate(z_values):
        polys = tuple(polys_at(float(z), k))
        if polys:
            planes.append((round(float(z), 9), polys))
    return tuple(planes)


def sphere(
    radius_mm: float,
    spacing_mm: float,
    centre: tuple[float, float, float] = (0.0, 0.0, 0.0),
    phase_mm: float = 0.0,
    name: str = "sphere",
    clockwise: bool = False,
) -> Phantom:
    """Sphere: planes ``phase + k h`` strictly inside the sphere, each a circle polygon.

    Ideal volume ``4/3 π R³`` (R = 20 mm: 33.51 cc; R = 5 mm: 0.5236 cc).
    """
    cx, cy, cz = centre

    def polys(z: float, k: int) -> list[np.ndarray]:
        r = np.sqrt(max(radius_mm**2 - (z - cz) ** 2, 0.0))
        return [circle_polygon(r, (cx, cy), start_angle=0.1 * k, clockwise=clockwise)]

    z = _lattice(cz - radius_mm, cz + radius_mm, spacing_mm, phase_mm)
    return Phantom(
        name,
        spacing_mm,
        _stack(z, polys),
        4.0 / 3.0 * np.pi * radius_mm**3 / 1000.0,
        f"sphere R={radius_mm} mm at {centre}, h={spacing_mm} mm",
    )


def cylinder(
    radius_mm: float,
    length_mm: float,
    spacing_mm: float,
    centre_xy: tuple[float, float] = (0.0, 0.0),
    z_first_mm: float = 0.0,
    inner_radius_mm: float | None = None,
    name: str = "cylinder",
) -> Phantom:
    """Cylinder along z: ``round(L / h)`` planes from ``z_first`` (a hollow tube if
    ``inner_radius_mm``: the inner circle, same orientation, is a hole by even-odd).

    The slab model spans ``[z_first - h/2, z_last + h/2]``, i.e. exactly ``n h``; the ideal
    volume is ``π (R² - r²) n h`` (R = 15, L = 40: 28.27 cc).
    """
    n = round(length_mm / spacing_mm)
    z = z_first_mm + spacing_mm * np.arange(n)

    def polys(zz: float, k: int) -> list[np.ndarray]:
        out: list[np.ndarray] = [circle_polygon(radius_mm, centre_xy, start_angle=0.05 * k)]
        if inner_radius_mm is not None:
            out.append(circle_polygon(inner_radius_mm, centre_xy, start_angle=0.07 * k))
        return out

    r2 = 0.0 if inner_radius_mm is None else inner_radius_mm**2
    return Phantom(
        name,
        spacing_mm,
        _stack(z, polys),
        np.pi * (radius_mm**2 - r2) * n * spacing_mm / 1000.0,
        f"cylinder R={radius_mm} r={inner_radius_mm} L={n * spacing_mm} mm, h={spacing_mm} mm",
    )


def hollow_cylinder(
    outer_radius_mm: float,
    inner_radius_mm: float,
    length_mm: float,
    spacing_mm: float,
    centre_xy: tuple[float, float] = (0.0, 0.0),
    z_first_mm: float = 0.0,
) -> Phantom:
    """Tube along z: outer and inner circle on every plane (inner = hole)."""
    return cylinder(
        outer_radius_mm,
        length_mm,
        spacing_mm,
        centre_xy,
        z_first_mm,
        inner_radius_mm=inner_radius_mm,
        name="hollow_cylinder",
    )


def cone(
    base_radius_mm: float,
    height_mm: float,
    spacing_mm: float,
    centre_xy: tuple[float, float] = (0.0, 0.0),
    z_base_mm: float = 0.0,
) -> Phantom:
    """Cone along z: base at ``z_base`` (on a plane), apex at ``z_base + H`` (no plane).

    Radius ``R (1 - (z - z_base)/H)`` on planes ``z_base + k h``. Ideal volume
    ``π R² H / 3`` (R = 20, H = 40: 16.76 cc); the slab model adds the half-slice below
    the base.
    """
    z = _lattice(z_base_mm - 1e-6, z_base_mm + height_mm, spacing_mm, z_base_mm)

    def polys(zz: float, k: int) -> list[np.ndarray]:
        r = base_radius_mm * (1.0 - (zz - z_base_mm) / height_mm)
        return [circle_polygon(r, centre_xy, start_angle=0.03 * k)]

    return Phantom(
        "cone",
        spacing_mm,
        _stack(z, polys),
        np.pi * base_radius_mm**2 * height_mm / 3.0 / 1000.0,
        f"cone R={base_radius_mm} H={height_mm} mm, h={spacing_mm} mm",
    )


def two_spheres(
    spacing_mm: float,
    radius_a_mm: float = 12.0,
    radius_b_mm: float = 8.0,
    centre_a: tuple[float, float, float] = (-14.0, 0.0, 0.0),
    centre_b: tuple[float, float, float] = (12.0, 3.0, 4.5),
) -> Phantom:
    """Two disjoint spheres (islands) in one ROI on a common plane lattice ``k h``.

    The second island is drawn clockwise (orientation must not matter). Some planes hold
    only one island. Ideal volume ``4/3 π (Ra³ + Rb³)`` (12, 8 mm: 9.383 cc).
    """
    a = sphere(radius_a_mm, spacing_mm, centre_a)
    b = sphere(radius_b_mm, spacing_mm, centre_b, clockwise=True)
    merged: dict[float, list[np.ndarray]] = {}
    for z, polys in (*a.planes, *b.planes):
        merged.setdefault(z, []).extend(polys)
    planes = tuple((z, tuple(merged[z])) for z in sorted(merged))
    return Phantom(
        "two_islands",
        spacing_mm,
        planes,
        a.ideal_volume_cc + b.ideal_volume_cc,
        f"spheres R={radius_a_mm} at {centre_a} and R={radius_b_mm} at {centre_b}",
    )


def sub_cc_sphere(spacing_mm: float, radius_mm: float = 5.0) -> Phantom:
    """Small sphere (R = 5 mm: ideal 0.5236 cc)."""
    return sphere(radius_mm, spacing_mm, (0.4, -0.3, 0.0), name="sub_cc_sphere")


def disc(radius_mm: float, z_mm: float = 0.0, thickness_mm: float = 2.0) -> Phantom:
    """A single-plane ROI (one circle); its slab thickness must come from the caller."""
    poly = circle_polygon(radius_mm)
    return Phantom(
        "disc",
        thickness_mm,
        ((z_mm, (poly,)),),
        np.pi * radius_mm**2 * thickness_mm / 1000.0,
        f"single circle R={radius_mm} mm at z={z_mm}",
    )


def standard_phantom(name: str, spacing_mm: float) -> Phantom:
    """The accuracy-suite shapes by name (sizes chosen to span ~0.5 to ~35 cc).

    ``sphere`` R = 20 (33.5 cc), ``cylinder`` R = 15 L = 36 (25.4 cc), ``cone`` R = 20
    H = 36 (15.1 cc), ``hollow_cylinder`` R = 20 / r = 10, L = 30 (28.3 cc),
    ``two_islands`` R = 12 + 8 (9.4 cc), ``sub_cc_sphere`` R = 5 (0.52 cc).
    """
    h = spacing_mm
    if name == "sphere":
        return sphere(20.0, h, (1.1, -0.7, 0.0))
    if name == "cylinder":
        return cylinder(15.0, 36.0, h, (-0.6, 0.9), z_first_mm=-18.0)
    if name == "cone":
        return cone(20.0, 36.0, h, (0.3, 0.2), z_base_mm=-18.0)
    if name == "hollow_cylinder":
        return hollow_cylinder(20.0, 10.0, 30.0, h, (0.8, -0.4), z_first_mm=h * round(-15.0 / h))
    if name == "two_islands":
        return two_spheres(h)
    if name == "sub_cc_sphere":
        return sub_cc_sphere(h)
    raise KeyError(name)


SHAPES: tuple[str, ...] = (
    "sphere",
    "cylinder",
    "cone",
    "hollow_cylinder",
    "two_islands",
    "sub_cc_sphere",
)


# ======================================================================================
# Dose grids
# ======================================================================================
@dataclass(frozen=True)
class GridSpec:
    """A regular dose grid: voxel centres at ``offset + k * voxel`` covering ``[lo, hi]``.

    The grid covers its voxel centres +- half a voxel; dose is constant beyond the
    outermost centres.
    """

    voxel_mm: tuple[float, float, float]
    offset_mm: tuple[float, float, float]
    lo_mm: tuple[float, float, float]
    hi_mm: tuple[float, float, float]

    @classmethod
    def make(
        cls,
        voxel_mm: float | Sequence[float],
        offset_mm: float | Sequence[float],
        lo_mm: float | Sequence[float],
        hi_mm: float | Sequence[float],
    ) -> GridSpec:
        """Build from scalars (same on every axis) or 3-sequences / arrays."""
        return cls(_vec3(voxel_mm), _vec3(offset_mm), _vec3(lo_mm), _vec3(hi_mm))

    def centres(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Ascending voxel-centre vectors ``(x, y, z)``."""
        out = []
        for v, o, lo, hi in zip(self.voxel_mm, self.offset_mm, self.lo_mm, self.hi_mm, strict=True):
            k0 = int(np.floor((lo - o) / v + 1e-9))
            k1 = int(np.ceil((hi - o) / v - 1e-9))
            out.append(o + v * np.arange(k0, k1 + 1, dtype=np.float64))
        return out[0], out[1], out[2]

    def box(self) -> tuple[np.ndarray, np.ndarray]:
        """``(lo, hi)`` of the region the grid covers (centres +- half a voxel)."""
        c = self.centres()
        v = np.asarray(self.voxel_mm, dtype=np.float64)
        lo = np.array([a[0] for a in c]) - 0.5 * v
        hi = np.array([a[-1] for a in c]) + 0.5 * v
        return lo, hi


def _vec3(v: float | Sequence[float]) -> tuple[float, float, float]:
    a = np.broadcast_to(np.asarray(v, dtype=np.float64), (3,))
    return float(a[0]), float(a[1]), float(a[2])


def grid_around(
    phantom: Phantom,
    voxel_mm: float,
    offset_mm: float | tuple[float, float, float] = 0.0,
    margin_mm: float | None = None,
) -> GridSpec:
    """A grid whose voxel centres cover the phantom plus ``margin`` (default one voxel).

    With the default margin the whole structure lies between the outermost voxel centres,
    so a linear dose is linear (no clamping) over all of it.
    """
    lo, hi = phantom.bounds()
    m = voxel_mm if margin_mm is None else margin_mm
    return GridSpec.make(voxel_mm, offset_mm, lo - m, hi + m)


@dataclass(frozen=True)
class LinearDose:
    """``dose = d0 + g * (coordinate[axis] - centre)`` sampled on ``grid``.

    ``gradient_gy_per_mm = 0`` gives a uniform dose ``d0``. The grid must keep the dose
    non-negative (checked by :meth:`dose_grid`).
    """

    grid: GridSpec
    axis: str = "z"
    d0_gy: float = 50.0
    gradient_gy_per_mm: float = 1.0
    centre_mm: float = 0.0

    @property
    def axis_index(self) -> int:
        return AXES[self.axis]

    def dose_grid(self) -> DoseGrid:
        """The :class:`~dosecheck.model.DoseGrid` (float32 dose at the voxel centres)."""
        x, y, z = self.grid.centres()
        c = (x, y, z)[self.axis_index]
        line = self.d0_gy + self.gradient_gy_per_mm * (c - self.centre_mm)
        shape = [1, 1, 1]
        shape[2 - self.axis_index] = c.size
        dose = np.broadcast_to(line.reshape(shape), (z.size, y.size, x.size))
        if dose.min() < 0:
            raise ValueError("linear dose goes negative on the grid")
        return DoseGrid(x=x, y=y, z=z, dose_gy=np.ascontiguousarray(dose, dtype=np.float32))

    def at(self, coord: np.ndarray) -> np.ndarray:
        """Exact model dose at coordinates along the axis (clamped at the outer centres)."""
        c = self.grid.centres()[self.axis_index]
        u = np.clip(coord, c[0], c[-1])
        return self.d0_gy + self.gradient_gy_per_mm * (u - self.centre_mm)


# ======================================================================================
# Closed-form reference
# ======================================================================================
@dataclass(frozen=True, eq=False)
class _SlabDoseModel:
    """The slab model of one phantom on one dose grid, in the gradient frame.

    ``s = sign(g) * coordinate``; the dose is ``F0 + G (clip(s, s_lo, s_hi) - s_lo)``,
    non-decreasing in ``s``. For a z gradient the planes are prisms
    ``area[k] x [a[k], b[k]]`` (in ``s``); for an in-plane gradient the clipped polygons
    are edges ``(ua, wa) -> (ub, wb)`` in the right-handed ``(u = s, w)`` frame, each with
    weight ``even-odd sign x orientation sign x slab length inside the grid``.
    """

    in_plane: bool
    f0: float
    g: float
    s_lo: float
    s_hi: float
    area: np.ndarray = field(default_factory=lambda: np.zeros(0))
    a: np.ndarray = field(default_factory=lambda: np.zeros(0))
    b: np.ndarray = field(default_factory=lambda: np.zeros(0))
    ua: np.ndarray = field(default_factory=lambda: np.zeros(0))
    wa: np.ndarray = field(default_factory=lambda: np.zeros(0))
    ub: np.ndarray = field(default_factory=lambda: np.zeros(0))
    wb: np.ndarray = field(default_factory=lambda: np.zeros(0))
    weight: np.ndarray = field(default_factory=lambda: np.zeros(0))
    s_min: float = np.nan
    s_max: float = np.nan

    def dose(self, s: np.ndarray | float) -> np.ndarray:
        return self.f0 + self.g * (np.clip(s, self.s_lo, self.s_hi) - self.s_lo)

    def threshold(self, d: np.ndarray) -> np.ndarray:
        """``s*`` with ``{dose >= d} = {s >= s*}`` (``±inf`` for all / nothing)."""
        d = np.asarray(d, dtype=np.float64)
        top = self.f0 + self.g * (self.s_hi - self.s_lo)
        g = self.g if self.g > 0 else 1.0
        s = np.where(d <= self.f0, -np.inf, np.where(d > top, np.inf, 0.0))
        mid = (d > self.f0) & (d <= top)
        return np.where(mid, self.s_lo + (d - self.f0) / g, s)

    def volume_ge(self, d: np.ndarray | float) -> np.ndarray:
        """Exact ``V(>= d)`` in mm³ for an array of doses."""
        s_star = self.threshold(np.atleast_1d(d))
        if self.in_plane:
            if self.ua.size == 0:
                return np.zeros(s_star.size)
            lo = min(self.ua.min(), self.ub.min()) - 1.0
            hi = max(self.ua.max(), self.ub.max()) + 1.0
            return halfplane_area(
                self.ua, self.wa, self.ub, self.wb, self.weight, np.clip(s_star, lo, hi)
            )
        length = np.clip(self.b[:, None] - np.maximum(self.a[:, None], s_star[None, :]), 0.0, None)
        return self.area @ length

    def dose_integral(self) -> float:
        """Exact ``∫ dose dV`` (Gy mm³) over the in-grid volume."""
        total = float(self.volume_ge(-np.inf)[0])
        if self.in_plane:
            if self.ua.size == 0:
                return 0.0
            q = halfplane_moment(
                self.ua, self.wa, self.ub, self.wb, self.weight, np.array([self.s_lo, self.s_hi])
            )
            return self.f0 * total + self.g * float(q[0] - q[1])

        def phi(s: np.ndarray) -> np.ndarray:  # antiderivative of clip(s, lo, hi) - lo
            lo, hi = self.s_lo, self.s_hi
            c = np.clip(s, lo, hi)
            return 0.5 * (c - lo) ** 2 + (hi - lo) * (np.maximum(s, hi) - hi)

        length = self.b - self.a
        return float(self.area @ (self.f0 * length + self.g * (phi(self.b) - phi(self.a))))


@dataclass(frozen=True, eq=False)
class Reference:
    """Closed-form DVH numbers of a phantom under a linear dose (slab model, exact).

    Attributes
    ----------
    total_cc
        Slab-model volume of the whole structure.
    volume_cc
        Slab-model volume inside the dose grid (the DVH volume).
    outside_grid_cc
        ``total_cc - volume_cc``.
    min_gy, mean_gy, max_gy
        Exact dose statistics over the in-grid volume (surface included for min/max);
        ``nan`` when nothing is inside.
    d_gy
        ``{percent: D%}`` for :data:`D_PERCENTS`.
    ideal_volume_cc
        Volume of the continuous shape (orientation only).
    """

    total_cc: float
    volume_cc: float
    outside_grid_cc: float
    min_gy: float
    mean_gy: float
    max_gy: float
    d_gy: dict[float, float]
    ideal_volume_cc: float
    model: _SlabDoseModel

    def volume_at_dose(self, dose_gy: float | np.ndarray) -> np.ndarray | float:
        """Exact ``V(>= dose)`` in cc (vectorised)."""
        v = self.model.volume_ge(dose_gy) / 1000.0
        return float(v[0]) if np.ndim(dose_gy) == 0 else v

    def volume_percent_at_dose(self, dose_gy: float) -> float:
        return 100.0 * float(self.volume_at_dose(dose_gy)) / self.volume_cc

    def dose_at_volume_percent(self, percent: float | Sequence[float]) -> np.ndarray | float:
        """``D%``: the largest dose ``d`` with ``V(>= d) >= percent % of the volume``.

        Bisection on the exact, non-increasing curve (to ~1e-10 Gy).
        """
        p = np.atleast_1d(np.asarray(percent, dtype=np.float64))
        target = p / 100.0 * self.volume_cc * 1000.0 * (1.0 - 1e-13)
        lo = np.full(p.shape, self.min_gy)
        hi = np.full(p.shape, self.max_gy)
        for _ in range(100):
            mid = 0.5 * (lo + hi)
            ok = self.model.volume_ge(mid) >= target
            lo = np.where(ok, mid, lo)
            hi = np.where(ok, hi, mid)
            if np.all(hi - lo < 1e-11):
                break
        return float(lo[0]) if np.ndim(percent) == 0 else lo


def reference_dvh(
    phantom: Phantom,
    dose: LinearDose,
    *,
    slice_thickness_mm: float | None = None,
    d_percents: Sequence[float] = D_PERCENTS,
) -> Reference:
    """Closed-form DVH of ``phantom`` under the linear ``dose`` (engine's slab model).

    Parameters
    ----------
    phantom
        The contour stack.
    dose
        The linear dose and its grid (defines the clamping and the outside region).
    slice_thickness_mm
        Overrides the phantom's spacing for the half-slice end caps.
    d_percents
        Percentages for the ``D%`` metrics.
    """
    zlo, zhi = phantom.slab_bounds(slice_thickness_mm)
    box_lo, box_hi = dose.grid.box()
    a_z = np.maximum(zlo, box_lo[2])
    b_z = np.minimum(zhi, box_hi[2])
    len_in = np.clip(b_z - a_z, 0.0, None)

    full_area = np.zeros(len(phantom.planes))
    box_area = np.zeros(len(phantom.planes))
    clipped_planes: list[list[tuple[float, np.ndarray]]] = []
    for k, (_, polys) in enumerate(phantom.planes):
        signs = even_odd_signs(polys)
        entries = []
        for s, p in zip(signs, polys, strict=True):
            orient = np.sign(signed_area(p))
            full_area[k] += s * orient * signed_area(p)
            c = clip_polygon_box(p, box_lo[:2], box_hi[:2])
            if c.shape[0] >= 3:
                box_area[k] += s * orient * signed_area(c)
                entries.append((s * orient, c))
        clipped_planes.append(entries)
    total_mm3 = float(full_area @ (zhi - zlo))

    ax = dose.axis_index
    g = dose.gradient_gy_per_mm
    sign = -1.0 if g < 0 else 1.0
    c = dose.grid.centres()[ax]
    f_ends = dose.d0_gy + g * (np.array([c[0], c[-1]]) - dose.centre_mm)
    s_ends = sign * np.array([c[0], c[-1]])
    f0, g_abs = float(f_ends.min()), abs(g)
    s_lo, s_hi = float(s_ends.min()), float(s_ends.max())

    present = (len_in > 0) & (box_area > 0)
    if ax == 2:
        a_s, b_s = (a_z, b_z) if sign > 0 else (-b_z, -a_z)
        model = _SlabDoseModel(
            in_plane=False,
            area=np.where(present, box_area, 0.0),
            a=a_s,
            b=np.maximum(b_s, a_s),
            s_min=float(a_s[present].min()) if present.any() else np.nan,
            s_max=float(b_s[present].max()) if present.any() else np.nan,
            f0=f0,
            g=g_abs,
            s_lo=s_lo,
            s_hi=s_hi,
        )
    else:
        n = np.zeros(2)
        n[ax] = sign
        n_perp = np.array([-n[1], n[0]])
        starts, ends, weights = [], [], []
        for k, entries in enumerate(clipped_planes):
            if not present[k]:
                continue
            for w, poly in entries:
                starts.append(poly)
                ends.append(np.roll(poly, -1, axis=0))
                weights.append(np.full(poly.shape[0], w * len_in[k]))
        if starts:
            p0, p1 = np.concatenate(starts), np.concatenate(ends)
            wt = np.concatenate(weights)
        else:
            p0 = p1 = np.zeros((0, 2))
            wt = np.zeros(0)
        ua, ub = p0 @ n, p1 @ n
        model = _SlabDoseModel(
            in_plane=True,
            ua=ua,
            wa=p0 @ n_perp,
            ub=ub,
            wb=p1 @ n_perp,
            weight=wt,
            s_min=float(ua.min()) if ua.size else np.nan,
            s_max=float(ua.max()) if ua.size else np.nan,
            f0=f0,
            g=g_abs,
            s_lo=s_lo,
            s_hi=s_hi,
        )

    volume_mm3 = float(box_area[present] @ len_in[present])
    if volume_mm3 > 0:
        mean = model.dose_integral() / volume_mm3
        dmin, dmax = float(model.dose(model.s_min)), float(model.dose(model.s_max))
    else:
        mean = dmin = dmax = float("nan")
    ref = Reference(
        total_cc=total_mm3 / 1000.0,
        volume_cc=volume_mm3 / 1000.0,
        outside_grid_cc=(total_mm3 - volume_mm3) / 1000.0,
        min_gy=dmin,
        mean_gy=mean,
        max_gy=dmax,
        d_gy={},
        ideal_volume_cc=phantom.ideal_volume_cc,
        model=model,
    )
    if volume_mm3 > 0:
        values = ref.dose_at_volume_percent(list(d_percents))
        ref.d_gy.update({float(p): float(v) for p, v in zip(d_percents, values, strict=True)})
    return ref


# ======================================================================================
# Brute-force sampling (independent check, self-tests only)
# ======================================================================================
def even_odd_inside(polys: Sequence[np.ndarray], xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Even-odd inside mask ``(len(ys), nx)`` of points arranged in rows.

    ``ys`` holds one y per row; ``xs`` is either ``(nx,)`` (shared by all rows) or
    ``(len(ys), nx)``. Scan-line crossing count: for each row the x crossings of all
    edges are sorted and a point is inside when an odd number of crossings lie left of it.
    """
    xs = np.broadcast_to(xs, (ys.size, np.shape(xs)[-1]))
    p0 = np.concatenate(polys)
    p1 = np.concatenate([np.roll(p, -1, axis=0) for p in polys])
    y0, y1 = p0[:, 1][None, :], p1[:, 1][None, :]
    yr = ys[:, None]
    spans = (y0 > yr) != (y1 > yr)
    dy = np.where(spans, y1 - y0, 1.0)
    xc = p0[:, 0][None, :] + (yr - y0) * (p1[:, 0] - p0[:, 0])[None, :] / dy
    x_ref = min(float(xs.min()), float(p0[:, 0].min())) - 1.0
    span = max(float(xs.max()), float(p0[:, 0].max())) - x_ref + 2.0
    xc = np.where(spans, xc - x_ref, span)  # non-crossings: right of every point
    xc.sort(axis=1)
    stride = 2.0 * span
    rows = stride * np.arange(ys.size)[:, None]
    keys = (xc + rows).ravel()
    counts = np.searchsorted(keys, ((xs - x_ref) + rows).ravel(), side="left").reshape(xs.shape)
    counts -= xc.shape[1] * np.arange(ys.size)[:, None]
    return (counts % 2).astype(bool)


def trilinear(grid: DoseGrid, x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Trilinear interpolation of ``grid`` at points, constant beyond the outer centres."""
    idx, frac = [], []
    for c, v in ((grid.x, x), (grid.y, y), (grid.z, z)):
        if c.size == 1:
            idx.append(np.zeros(v.shape, dtype=np.int64))
            frac.append(np.zeros(v.shape))
            continue
        i = np.clip(np.searchsorted(c, v, side="right") - 1, 0, c.size - 2)
        f = np.clip((v - c[i]) / (c[i + 1] - c[i]), 0.0, 1.0)
        idx.append(i)
        frac.append(f)
    (i, j, k), (fx, fy, fz) = idx, frac
    d = grid.dose_gy.astype(np.float64)
    nx, ny, nz = grid.x.size, grid.y.size, grid.z.size
    i1, j1, k1 = np.minimum(i + 1, nx - 1), np.minimum(j + 1, ny - 1), np.minimum(k + 1, nz - 1)
    c00 = d[k, j, i] * (1 - fx) + d[k, j, i1] * fx
    c01 = d[k, j1, i] * (1 - fx) + d[k, j1, i1] * fx
    c10 = d[k1, j, i] * (1 - fx) + d[k1, j, i1] * fx
    c11 = d[k1, j1, i] * (1 - fx) + d[k1, j1, i1] * fx
    return (c00 * (1 - fy) + c01 * fy) * (1 - fz) + (c10 * (1 - fy) + c11 * fy) * fz


@dataclass(frozen=True)
class Sampled:
    """DVH numbers from brute-force sampling (dose histogram of bin ``bin_gy``)."""

    volume_cc: float
    min_gy: float
    mean_gy: float
    max_gy: float
    hist_cc: np.ndarray
    bin_gy: float

    def volume_at_dose(self, dose_gy: float) -> float:
        """Sampled ``V(>= d)`` (cc), linear within the histogram bin containing ``d``."""
        cum = np.concatenate([np.cumsum(self.hist_cc[::-1])[::-1], [0.0]])
        return float(np.interp(dose_gy / self.bin_gy, np.arange(cum.size), cum))

    def dose_at_volume_percent(self, percent: float) -> float:
        cum = np.concatenate([np.cumsum(self.hist_cc[::-1])[::-1], [0.0]])
        target = percent / 100.0 * self.volume_cc
        i = int(np.searchsorted(-cum, -target, side="right")) - 1
        i = min(i, cum.size - 2)
        v0, v1 = cum[i], cum[i + 1]
        f = 0.0 if v0 <= v1 else (v0 - target) / (v0 - v1)
        return float(np.clip((i + f) * self.bin_gy, self.min_gy, self.max_gy))


def sample_dvh(
    phantom: Phantom,
    dose: LinearDose,
    *,
    dxy_mm: float = 0.2,
    dz_mm: float = 0.1,
    slice_thickness_mm: float | None = None,
    bin_gy: float = 0.002,
    seed: int = 0,
) -> Sampled:
    """Brute-force DVH of the slab model by stratified random sampling.

    Each plane's slab (cut to the grid box) is divided into cells of ``~dxy_mm`` in-plane
    and ``~dz_mm`` in z, with one random point per cell (jittered rows in y, jittered
    points in x and z, so the estimate has no lattice bias). Points are kept by an
    even-odd scan-line test and dosed by trilinear interpolation of the actual
    :class:`~dosecheck.model.DoseGrid` array. Independent of the closed form.
    """
    rng = np.random.default_rng(seed)
    grid = dose.dose_grid()
    box_lo, box_hi = dose.grid.box()
    zlo, zhi = phantom.slab_bounds(slice_thickness_mm)
    n_bins = int(np.ceil(float(grid.dose_gy.max()) / bin_gy)) + 2
    hist = np.zeros(n_bins)
    total = 0.0
    moment = 0.0
    dmin, dmax = np.inf, -np.inf
    for (_, polys), za, zb in zip(phantom.planes, zlo, zhi, strict=True):
        a, b = max(za, box_lo[2]), min(zb, box_hi[2])
        if b <= a:
            continue
        xy = np.concatenate(polys)
        lo = np.maximum(xy.min(axis=0), box_lo[:2])
        hi = np.minimum(xy.max(axis=0), box_hi[:2])
        if np.any(hi <= lo):
            continue
        nxy = np.maximum(np.ceil((hi - lo) / dxy_mm).astype(int), 1)
        step = (hi - lo) / nxy
        ys = lo[1] + step[1] * (np.arange(nxy[1]) + rng.random(nxy[1]))
        xs = lo[0] + step[0] * (np.arange(nxy[0])[None, :] + rng.random((nxy[1], nxy[0])))
        inside = even_odd_inside(polys, xs, ys)
        jj, ii = np.nonzero(inside)
        if ii.size == 0:
            continue
        nz = max(int(np.ceil((b - a) / dz_mm)), 1)
        w = step[0] * step[1] * (b - a) / nz / 1000.0
        px = np.tile(xs[jj, ii], nz)
        py = np.tile(ys[jj], nz)
        pz = a + (b - a) / nz * (np.repeat(np.arange(nz), ii.size) + rng.random(ii.size * nz))
        d = trilinear(grid, px, py, pz)
        hist += np.bincount(np.floor(d / bin_gy).astype(np.int64), minlength=n_bins)[:n_bins] * w
        total += w * d.size
        moment += w * float(d.sum())
        dmin, dmax = min(dmin, float(d.min())), max(dmax, float(d.max()))
    if total == 0:
        nan = float("nan")
        return Sampled(0.0, nan, nan, nan, hist, bin_gy)
    return Sampled(total, dmin, moment / total, dmax, hist, bin_gy)
