"""A deterministic synthetic rectal-cancer VMAT plan built with NumPy only.

The anatomy is a set of star-shaped ROIs: on every axial plane an ROI is a closed
curve ``r(θ)`` around a centre ``(cx, cy)`` that moves smoothly with ``z``
(:class:`PolarStack`). Organ shapes are analytic functions of ``z`` with a few
seeded random perturbations; margins (CTV → PTV, rings) are 3-D Minkowski sums
with a ball, computed on the polar representation; booleans that are not margins
(bowel bag minus PTV) are done by casting rays.

Coordinates are DICOM patient coordinates for a head-first supine patient, in mm:
``x`` grows towards the patient's left, ``y`` towards posterior, ``z`` towards
the head. So "anterior" means smaller ``y``.

The dose is a VMAT-like distribution in units of the prescription: 1 ± 1.5 % inside
the PTV (a smooth random field gives the hot and cold spots, with a slightly
cooler rim under the surface), and outside it a function of the distance to the
PTV (:func:`dose_profile`: a steep logistic shoulder plus two exponential tails,
falling faster along ``z`` as coplanar arcs do), smoothed with a 2 mm Gaussian,
zero outside the body and normalised to a PTV median of 100 %.
``bowel_dose_boost`` shrinks the distances anterior to the PTV, which spills high
and intermediate dose into the bowel bag: that is how a plan that fails the bowel
constraints is made.

Everything is vectorised: there are Python loops over planes, margin samples and
ROIs, never over voxels or contour points.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, NamedTuple

import numpy as np

from dosecheck.model import DoseGrid, PlanInfo, Structure, StructureSet

__all__ = [
    "N_THETA",
    "ROI_ROLES",
    "PelvisAnatomy",
    "PelvisPlan",
    "PolarStack",
    "deterministic_uid",
    "make_dose",
    "make_pelvis_plan",
    "roi_by_role",
    "write_plan",
]

#: Number of angular samples of every polar cross-section.
N_THETA = 720
_THETA = np.linspace(0.0, 2.0 * np.pi, N_THETA, endpoint=False)
_COS = np.cos(_THETA)
_SIN = np.sin(_THETA)
_TWO_PI = 2.0 * np.pi

Kind = Literal["long", "short"]
BodySize = Literal["small", "benchmark"]

#: Prescription (Gy) and number of fractions of each course.
COURSES: dict[str, tuple[float, int]] = {"long": (50.4, 28), "short": (25.0, 5)}

#: Body z-extent (mm) of each body size: the small one is cropped to the pelvis.
BODY_Z_RANGE: dict[str, tuple[float, float]] = {
    "small": (-99.0, 75.0),
    "benchmark": (-150.0, 136.0),
}

_BOWEL_NAMES = ("Bag_Bowel", "BowelBag", "Bowel_Bag", "Bowel Bag", "bowel bag", "BOWEL_BAG")
_BODY_NAMES = ("BODY", "External", "Body", "EXTERNAL")


def deterministic_uid(*parts: object) -> str:
    """A valid DICOM UID (``2.25.<128-bit integer>``) derived from ``parts``.

    The same parts always give the same UID, so regenerated sample plans are
    identical.
    """
    digest = hashlib.sha256("|".join(str(p) for p in parts).encode()).digest()
    return "2.25." + str(int.from_bytes(digest[:16], "big"))


# --------------------------------------------------------------------------- polar ROIs


@dataclass(frozen=True, eq=False)
class PolarStack:
    """Star-shaped cross-sections of one ROI on a set of axial planes.

    Attributes
    ----------
    z
        Plane coordinates (mm), shape ``(nz,)``.
    cx, cy
        Centre of each cross-section (mm), shape ``(nz,)``. Defined on every
        plane, also where the ROI is absent.
    r
        Radius (mm) at the angles ``θ_i = 2π i / N_THETA``, shape
        ``(nz, N_THETA)``; a plane with ``r == 0`` everywhere has no contour.
    """

    z: np.ndarray
    cx: np.ndarray
    cy: np.ndarray
    r: np.ndarray

    @property
    def present(self) -> np.ndarray:
        """``(nz,)`` bool: planes on which the ROI has a contour."""
        return self.r.max(axis=1) > 0.0

    def with_r(self, r: np.ndarray) -> PolarStack:
        """The same planes and centres with new radii (negative radii become 0)."""
        return PolarStack(self.z, self.cx, self.cy, np.maximum(r, 0.0))

    def radius(self, plane: np.ndarray, theta: np.ndarray) -> np.ndarray:
        """Radius at angles ``theta`` on planes ``plane`` (broadcast), linear in θ."""
        t = np.mod(theta, _TWO_PI) * (N_THETA / _TWO_PI)
        i0 = np.floor(t).astype(np.int64)
        f = t - i0
        i0 %= N_THETA
        i1 = (i0 + 1) % N_THETA
        base = np.asarray(plane) * N_THETA
        flat = self.r.reshape(-1)
        return np.take(flat, base + i0) * (1.0 - f) + np.take(flat, base + i1) * f

    def contains(self, px: np.ndarray, py: np.ndarray) -> np.ndarray:
        """Whether points are inside the ROI.

        ``px`` and ``py`` broadcast together to an array whose first axis runs over
        the ``nz`` planes of this stack (or has length 1).
        """
        px, py = np.broadcast_arrays(px, py)
        shape = (self.z.size,) + (1,) * (px.ndim - 1)
        plane = np.arange(self.z.size).reshape(shape)
        dx = px - self.cx.reshape(shape)
        dy = py - self.cy.reshape(shape)
        rho = np.hypot(dx, dy)
        return rho < self.radius(plane, np.arctan2(dy, dx))

    def contains_grid(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """``(nz, ny, nx)`` mask of the voxel centres ``(x[i], y[j])`` on each plane."""
        return self.contains(x[None, None, :], y[None, :, None])

    def exit_distance(self, ox: np.ndarray, oy: np.ndarray, n_iter: int = 12) -> np.ndarray:
        """Distance from ``(ox, oy)`` (one point per plane) to this ROI's boundary.

        Along every angle θ of the polar grid, shape ``(nz, N_THETA)``. The
        origins must be inside; solved by fixed-point iteration on the radius,
        which converges for the smooth, nearly elliptical body outline.
        """
        px = (ox - self.cx)[:, None]
        py = (oy - self.cy)[:, None]
        b = px * _COS[None, :] + py * _SIN[None, :]
        p2 = px * px + py * py
        plane = np.arange(self.z.size)[:, None]
        rad = np.repeat(self.r.max(axis=1, keepdims=True), N_THETA, axis=1)
        t = np.zeros_like(rad)
        for _ in range(n_iter):
            t = -b + np.sqrt(np.maximum(b * b - p2 + rad * rad, 0.0))
            rad = self.radius(plane, np.arctan2(py + t * _SIN, px + t * _COS))
        return t

    def ray_limit(
        self,
        other: PolarStack,
        *,
        stop_inside: bool,
        step_mm: float = 1.0,
        chunk: int = 16,
    ) -> np.ndarray:
        """Cast rays from this stack's centres along every θ and test ``other``.

        Returns, per plane and angle, the first distance (mm, to ``step_mm / 2``)
        at which the ray point is inside ``other`` (``stop_inside=True``) or
        outside it (``stop_inside=False``); ``inf`` where that does not happen
        within this stack's own radius. Both stacks must share their planes.
        """
        out = np.full(self.r.shape, np.inf)
        t_max = float(self.r.max()) + step_mm
        t = np.arange(0.0, t_max + step_mm, step_mm)
        t_hit = np.maximum(t - 0.5 * step_mm, 0.0)
        for k0 in range(0, self.z.size, chunk):
            sl = slice(k0, min(k0 + chunk, self.z.size))
            sub = PolarStack(other.z[sl], other.cx[sl], other.cy[sl], other.r[sl])
            px = self.cx[sl, None, None] + _COS[None, :, None] * t[None, None, :]
            py = self.cy[sl, None, None] + _SIN[None, :, None] * t[None, None, :]
            hit = sub.contains(px, py)
            if not stop_inside:
                hit = ~hit
            first = np.argmax(hit, axis=2)
            found = np.take_along_axis(hit, first[..., None], axis=2)[..., 0]
            out[sl] = np.where(found, t_hit[first], np.inf)
        return out

    def contours(
        self, point_spacing_mm: float, *, min_area_mm2: float = 4.0, decimals: int = 2
    ) -> list[tuple[float, np.ndarray]]:
        """Closed polygons ``(z, (n, 2) xy)``, counter-clockwise, one per plane.

        The number of points of each contour follows its perimeter (about one
        point per ``point_spacing_mm``, at least 12). Coordinates are rounded to
        ``decimals`` decimals.
        """
        out: list[tuple[float, np.ndarray]] = []
        area = 0.5 * np.sum(self.r**2, axis=1) * (_TWO_PI / N_THETA)
        px = self.r * _COS
        py = self.r * _SIN
        perim = np.sum(np.hypot(np.diff(px, axis=1, append=px[:, :1]),
                                np.diff(py, axis=1, append=py[:, :1])), axis=1)  # fmt: skip
        for k in np.flatnonzero(area >= min_area_mm2):
            n = max(12, round(float(perim[k]) / point_spacing_mm))
            th = np.linspace(0.0, _TWO_PI, n, endpoint=False)
            rr = np.interp(th, _THETA, self.r[k], period=_TWO_PI)
            xy = np.column_stack(
                [self.cx[k] + rr * np.cos(th), self.cy[k] + rr * np.sin(th)]
            ).round(decimals)
            out.append((float(self.z[k]), xy))
        return out


def _fill_empty_bins(acc: np.ndarray) -> np.ndarray:
    """Interpolate (periodically in θ) the non-finite bins of each row of ``acc``."""
    finite = np.isfinite(acc)
    bad_rows = np.flatnonzero(finite.any(axis=1) & ~finite.all(axis=1))
    for k in bad_rows:
        ok = finite[k]
        acc[k, ~ok] = np.interp(_THETA[~ok], _THETA[ok], acc[k, ok], period=_TWO_PI)
    acc[~finite.any(axis=1)] = 0.0
    return acc


def minkowski(
    field: Callable[[np.ndarray], PolarStack],
    z: np.ndarray,
    distance_mm: float,
    *,
    n_alpha: int = 0,
) -> PolarStack:
    """Grow (``distance_mm > 0``) or shrink (``< 0``) an ROI by a ball, in 3-D.

    ``field(z)`` evaluates the ROI on any planes. The result on plane ``z`` is the
    envelope, taken radially around the ROI's centre at ``z``, of discs of radius
    ``sqrt(d² − dz²)`` drawn around the ROI's boundary on planes ``z + dz`` for
    ``|dz| ≤ d``; for a shrink, a plane whose neighbours within ``d`` lack the
    ROI is empty. Discs are sampled at ``n_alpha`` angles (0: 12 for
    ``|d| ≤ 10`` mm, else 24).
    """
    base = field(z)
    d = abs(float(distance_mm))
    if d == 0.0:
        return base
    grow = distance_mm > 0
    n_dz = 2 * max(1, int(np.ceil(d / max(2.0, d / 8.0)))) + 1
    if n_alpha <= 0:
        n_alpha = 12 if d <= 10.0 else 24
    alpha = np.linspace(0.0, _TWO_PI, n_alpha, endpoint=False)
    acc = np.full(base.r.shape, -np.inf if grow else np.inf)
    missing = np.zeros(z.size, dtype=bool)
    planes = np.arange(z.size)[:, None, None]
    for dz in np.linspace(-d, d, n_dz):
        e = float(np.sqrt(max(d * d - dz * dz, 0.0)))
        f = field(z + dz)
        present = f.present
        missing |= ~present
        bx = f.cx[:, None] + f.r * _COS  # (nz, N)
        by = f.cy[:, None] + f.r * _SIN
        qx = bx[:, :, None] + e * np.cos(alpha)[None, None, :] - base.cx[:, None, None]
        qy = by[:, :, None] + e * np.sin(alpha)[None, None, :] - base.cy[:, None, None]
        rho = np.hypot(qx, qy)
        rho = np.where(present[:, None, None], rho, -np.inf if grow else np.inf)
        b = np.rint(np.mod(np.arctan2(qy, qx), _TWO_PI) * (N_THETA / _TWO_PI)).astype(np.int64)
        flat = (planes * N_THETA + b % N_THETA).ravel()
        if grow:
            np.maximum.at(acc.reshape(-1), flat, rho.ravel())
        else:
            np.minimum.at(acc.reshape(-1), flat, rho.ravel())
    acc = _fill_empty_bins(acc)
    if not grow:
        acc[missing] = 0.0
    return base.with_r(acc)


def _bump(theta: np.ndarray, centre: float, width: float) -> np.ndarray:
    """Periodic Gaussian bump ``exp(-(Δθ / width)²)`` with Δθ wrapped to (-π, π]."""
    d = np.mod(theta - centre + np.pi, _TWO_PI) - np.pi
    return np.exp(-((d / width) ** 2))


def _ring_radii(theta: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Radius of the ellipse with semi-axes ``a`` (x) and ``b`` (y) at angle ``theta``."""
    return a * b / np.sqrt((b * np.cos(theta)) ** 2 + (a * np.sin(theta)) ** 2)


def _ramp(z: np.ndarray, z0: float, z1: float) -> np.ndarray:
    """Smooth step from 0 at ``z0`` to 1 at ``z1`` (cubic Hermite)."""
    t = np.clip((z - z0) / (z1 - z0), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def _cap(z: np.ndarray, z0: float, z1: float, w: float) -> np.ndarray:
    """1 inside ``[z0 + w, z1 − w]``, rounding off (circular profile) to 0 at the ends."""
    t = np.clip(np.minimum(z - z0, z1 - z) / w, 0.0, 1.0)
    inside = (z >= z0) & (z <= z1)
    return np.where(inside, np.sqrt(np.clip(1.0 - (1.0 - t) ** 2, 0.0, 1.0)), 0.0)


# --------------------------------------------------------------------------- anatomy


@dataclass(frozen=True, eq=False)
class PelvisAnatomy:
    """Seeded geometric parameters of the synthetic pelvis (all in mm)."""

    body_z: tuple[float, float]
    body_a: float
    body_b: float
    body_modes: np.ndarray  # (k, 3): order, amplitude, phase
    rect_x: float
    rect_y: float
    rect_slope: float
    rect_r: float
    ctv_ax: float
    ctv_ay: float
    ctv_z: tuple[float, float]
    node_r: float
    gtv_z: tuple[float, float]
    gtv_r: float
    bladder_c: tuple[float, float, float]
    bladder_ax: tuple[float, float, float]
    femur_c: tuple[float, float, float]
    femur_r: float
    bowel_z: tuple[float, float]
    bowel_y: tuple[float, float]
    bowel_ax: tuple[float, float]
    bowel_ay: tuple[float, float]
    bowel_modes: np.ndarray

    @classmethod
    def sample(cls, rng: np.random.Generator, body_size: BodySize) -> PelvisAnatomy:
        """Draw a plausible pelvis (small random variations around a template)."""

        def j(v: float, s: float) -> float:
            return float(v + s * rng.uniform(-1.0, 1.0))

        modes = np.column_stack(
            [np.arange(3, 7), rng.uniform(0.002, 0.008, 4), rng.uniform(0, _TWO_PI, 4)]
        )
        bowel_modes = np.column_stack(
            [np.arange(2, 5), rng.uniform(0.01, 0.04, 3), rng.uniform(0, _TWO_PI, 3)]
        )
        return cls(
            body_z=BODY_Z_RANGE[body_size],
            body_a=j(180.0, 4.0),
            body_b=j(119.0, 3.0),
            body_modes=modes,
            rect_x=j(0.0, 3.0),
            rect_y=j(24.0, 3.0),
            rect_slope=j(0.15, 0.02),
            rect_r=j(15.5, 1.0),
            ctv_ax=j(37.0, 2.0),
            ctv_ay=j(28.5, 1.5),
            ctv_z=(j(-84.0, 2.0), j(38.0, 3.0)),
            node_r=j(11.0, 2.0),
            gtv_z=(j(-62.0, 3.0), j(-22.0, 3.0)),
            gtv_r=j(19.0, 1.5),
            bladder_c=(j(0.0, 3.0), j(-36.0, 3.0), j(-50.0, 3.0)),
            bladder_ax=(j(42.0, 3.0), j(30.0, 2.0), j(31.0, 2.0)),
            femur_c=(j(86.0, 2.0), j(2.0, 2.0), j(-58.0, 2.0)),
            femur_r=j(24.0, 1.0),
            bowel_z=(j(-16.0, 3.0), j(118.0, 4.0)),
            bowel_y=(j(-30.0, 3.0), j(2.0, 3.0)),
            bowel_ax=(j(55.0, 3.0), j(115.0, 5.0)),
            bowel_ay=(j(28.0, 2.0), j(60.0, 3.0)),
            bowel_modes=bowel_modes,
        )

    # -- helpers
    def _stack(self, z: np.ndarray, cx: np.ndarray, cy: np.ndarray, r: np.ndarray) -> PolarStack:
        z = np.asarray(z, dtype=np.float64)
        return PolarStack(
            z,
            np.broadcast_to(np.asarray(cx, dtype=np.float64), z.shape).copy(),
            np.broadcast_to(np.asarray(cy, dtype=np.float64), z.shape).copy(),
            np.maximum(np.broadcast_to(r, (z.size, N_THETA)), 0.0),
        )

    def _rect_centre(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        cx = self.rect_x + 3.0 * np.sin(z / 60.0)
        cy = self.rect_y + self.rect_slope * (z + 80.0)
        return cx, cy

    # -- organs
    def body(self, z: np.ndarray) -> PolarStack:
        """Outer contour: an ellipse, flatter posteriorly (table side), gently rippled."""
        z = np.asarray(z, dtype=np.float64)
        a = self.body_a * (1.0 + 0.025 * np.sin(_TWO_PI * (z + 40.0) / 320.0))[:, None]
        b = self.body_b * (1.0 + 0.02 * np.cos(_TWO_PI * (z - 20.0) / 280.0))[:, None]
        c = np.abs(_COS)[None, :]
        s = np.abs(_SIN)[None, :]
        n = np.where(_SIN > 0.0, 2.6, 2.0)[None, :]
        r = ((c / a) ** n + (s / b) ** n) ** (-1.0 / n)
        ripple = 1.0 + sum(
            amp * np.cos(order * _THETA[None, :] + ph + z[:, None] / 90.0)
            for order, amp, ph in self.body_modes
        )
        inside = (z >= self.body_z[0] - 1e-6) & (z <= self.body_z[1] + 1e-6)
        return self._stack(z, 0.0, 0.0, r * ripple * inside[:, None])

    def rectum(self, z: np.ndarray) -> PolarStack:
        """Rectum from the anorectal junction to the rectosigmoid, ampulla widened."""
        z = np.asarray(z, dtype=np.float64)
        cx, cy = self._rect_centre(z)
        rad = self.rect_r + 5.0 * np.exp(-(((z + 40.0) / 30.0) ** 2))
        cap = _cap(z, self.ctv_z[0] + 4.0, self.ctv_z[1] + 2.0, 6.0)
        r = (rad * cap)[:, None] * (1.0 + 0.12 * np.cos(2.0 * _THETA))[None, :]
        return self._stack(z, cx, cy, r)

    def ctv(self, z: np.ndarray) -> PolarStack:
        """Mesorectum + presacral space, with internal-iliac node regions superiorly."""
        z = np.asarray(z, dtype=np.float64)
        cx, cy = self._rect_centre(z)
        s = _ramp(z, -60.0, 20.0)[:, None]
        ax = self.ctv_ax + 10.0 * s
        ay = self.ctv_ay + 4.0 * s
        r = _ring_radii(_THETA[None, :], ax, ay)
        r = r + 6.0 * np.maximum(_SIN, 0.0)[None, :] ** 2  # presacral, posterior
        lobe = _bump(_THETA, 0.35, 0.32) + _bump(_THETA, np.pi - 0.35, 0.32)
        r = r + self.node_r * s * lobe[None, :]
        r = r - 4.0 * np.maximum(-_SIN, 0.0)[None, :] ** 4  # flatter anteriorly
        cap = _cap(z, self.ctv_z[0], self.ctv_z[1], 10.0)[:, None]
        return self._stack(z, cx, cy + 7.0, r * cap)

    def gtv(self, z: np.ndarray) -> PolarStack:
        """An eccentric tumour of the mid/low rectal wall."""
        z = np.asarray(z, dtype=np.float64)
        cx, cy = self._rect_centre(z)
        cap = _cap(z, self.gtv_z[0], self.gtv_z[1], 8.0)[:, None]
        shape = 1.0 + 0.12 * np.cos(2.0 * _THETA - 0.5) + 0.08 * np.cos(3.0 * _THETA + 1.0)
        return self._stack(z, cx + 4.0, cy + 3.0, self.gtv_r * cap * shape[None, :])

    def bladder(self, z: np.ndarray) -> PolarStack:
        """An ellipsoidal, moderately filled bladder."""
        z = np.asarray(z, dtype=np.float64)
        (x0, y0, z0), (a, b, c) = self.bladder_c, self.bladder_ax
        f = np.sqrt(np.clip(1.0 - ((z - z0) / c) ** 2, 0.0, 1.0))[:, None]
        r = _ring_radii(_THETA[None, :], a * f, b * f + 1e-9) * (f > 0)
        r = r * (1.0 - 0.08 * np.maximum(_SIN, 0.0) ** 2)[None, :]  # posterior wall indented
        return self._stack(z, x0, y0, r)

    def femur_head(self, z: np.ndarray, side: Literal["L", "R"]) -> PolarStack:
        """A spherical femoral head (patient left is +x)."""
        z = np.asarray(z, dtype=np.float64)
        x0, y0, z0 = self.femur_c
        rr = np.sqrt(np.clip(self.femur_r**2 - (z - z0) ** 2, 0.0, None))
        sign = 1.0 if side == "L" else -1.0
        return self._stack(z, sign * x0, y0, np.repeat(rr[:, None], N_THETA, axis=1))

    def bowel_bag(self, z: np.ndarray) -> PolarStack:
        """Peritoneal cavity anterior and superior to the PTV, notched by the sacrum."""
        z = np.asarray(z, dtype=np.float64)
        z0, z1 = self.bowel_z
        s = _ramp(z, z0, z0 + 56.0)[:, None]
        cy = self.bowel_y[0] + (self.bowel_y[1] - self.bowel_y[0]) * _ramp(z, z0, z0 + 66.0)
        ax = self.bowel_ax[0] + (self.bowel_ax[1] - self.bowel_ax[0]) * s
        ay = self.bowel_ay[0] + (self.bowel_ay[1] - self.bowel_ay[0]) * s
        r = _ring_radii(_THETA[None, :], ax, ay)
        notch = 1.0 - 0.25 * _bump(_THETA, np.pi / 2.0, 0.5)
        ripple = 1.0 + sum(
            amp * np.cos(order * _THETA[None, :] + ph + z[:, None] / 70.0)
            for order, amp, ph in self.bowel_modes
        )
        cap = _cap(z, z0, z1, 14.0)[:, None]
        return self._stack(z, 0.0, cy, r * notch[None, :] * ripple * cap)

    def ptv(self, z: np.ndarray, extra_mm: float = 0.0) -> PolarStack:
        """CTV + 7 mm (+ ``extra_mm``), in 3-D."""
        return minkowski(self.ctv, np.asarray(z, dtype=np.float64), 7.0 + extra_mm)


# --------------------------------------------------------------------------- dose


def _gaussian_blur(a: np.ndarray, sigma_vox: tuple[float, float, float]) -> np.ndarray:
    """Gaussian blur with zero boundary, by FFT (padded so nothing wraps around)."""
    shape = [n + int(np.ceil(4.0 * s)) + 1 for n, s in zip(a.shape, sigma_vox, strict=True)]
    f = np.fft.rfftn(a, s=shape)
    for axis, (n, s) in enumerate(zip(shape, sigma_vox, strict=True)):
        freq = np.fft.rfftfreq(n) if axis == len(shape) - 1 else np.fft.fftfreq(n)
        g = np.exp(-2.0 * (np.pi * s * freq) ** 2)
        f *= g.reshape([-1 if i == axis else 1 for i in range(len(shape))])
    out = np.fft.irfftn(f, s=shape)
    return out[: a.shape[0], : a.shape[1], : a.shape[2]]


def _smooth_noise(
    rng: np.random.Generator, x: np.ndarray, y: np.ndarray, z: np.ndarray, n_waves: int = 8
) -> np.ndarray:
    """A smooth random field in [-1, 1] made of plane waves (wavelengths 25–70 mm)."""
    out = np.zeros((z.size, y.size, x.size))
    for _ in range(n_waves):
        direction = rng.normal(size=3)
        direction /= np.linalg.norm(direction)
        k = direction * (_TWO_PI / rng.uniform(25.0, 70.0))
        phase = rng.uniform(0.0, _TWO_PI)
        out += np.cos(
            k[0] * x[None, None, :] + k[1] * y[None, :, None] + k[2] * z[:, None, None] + phase
        )
    return out / np.abs(out).max()


#: Relative dose outside the PTV as a function of distance ``d`` (mm):
#: ``Σ w · g(d)`` with a logistic shoulder and two exponential tails.
DOSE_PROFILE: dict[str, float] = {
    "shoulder_w": 0.25,
    "shoulder_mm": 8.0,
    "shoulder_scale_mm": 2.5,
    "mid_w": 0.45,
    "mid_mm": 55.0,
    "tail_w": 0.27,
    "tail_mm": 130.0,
    "z_stretch": 1.3,
    "rim_drop": 0.05,
    "rim_mm": 2.5,
}


def dose_profile(d_mm: np.ndarray, profile: dict[str, float] | None = None) -> np.ndarray:
    """Relative dose at distance ``d_mm`` ≥ 0 outside the PTV (≈ 0.94 at the surface)."""
    p = DOSE_PROFILE if profile is None else {**DOSE_PROFILE, **profile}
    d = np.maximum(d_mm, 0.0)
    shoulder = 1.0 / (1.0 + np.exp((d - p["shoulder_mm"]) / p["shoulder_scale_mm"]))
    return (
        p["shoulder_w"] * shoulder
        + p["mid_w"] * np.exp(-d / p["mid_mm"])
        + p["tail_w"] * np.exp(-d / p["tail_mm"])
    )


def ptv_distance(
    anatomy: PelvisAnatomy,
    x: np.ndarray,
    y: np.ndarray,
    z: np.ndarray,
    *,
    z_stretch: float = 1.3,
    window_mm: float = 12.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Approximate distance (mm) from each voxel centre to the PTV, and the angle.

    In-plane distances are radial distances to the PTV cross-section corrected for
    the slope of the curve; across planes the distance is the smallest
    ``sqrt((z_stretch·dz)² + d_inplane²)`` over the PTV planes within
    ``window_mm`` and PTV planes every ~10 mm. ``z_stretch > 1`` makes dose fall off
    faster along z (coplanar arcs). Inside the PTV the distance is minus the
    in-plane depth.

    Returns
    -------
    distance, theta
        ``(nz, ny, nx)`` signed distance (mm, negative inside the PTV) and the
        angle of each voxel around the PTV centre of its plane.
    """
    # PTV planes at the dose-plane spacing, aligned with the dose planes.
    step = float(z[1] - z[0]) if z.size > 1 else 2.0
    n_pad = int(np.ceil(window_mm / step))
    zf = z[0] + step * np.arange(-n_pad, z.size + n_pad)
    ptv = anatomy.ptv(zf)
    present = ptv.present
    # cos(angle between the ray and the normal), from a θ-smoothed radius (the
    # envelope radius has bin-to-bin jitter that a raw derivative would amplify).
    freq = np.fft.rfftfreq(N_THETA, d=1.0 / N_THETA)
    r_smooth = np.fft.irfft(
        np.fft.rfft(ptv.r, axis=1) * np.exp(-0.5 * (freq * 4.0 * _TWO_PI / N_THETA) ** 2),
        n=N_THETA,
        axis=1,
    )
    drdt = (np.roll(r_smooth, -1, axis=1) - np.roll(r_smooth, 1, axis=1)) * (
        N_THETA / (2 * _TWO_PI)
    )
    slope = np.clip(1.0 / np.sqrt(1.0 + (drdt / np.maximum(r_smooth, 1.0)) ** 2), 0.3, 1.0)
    grad = PolarStack(ptv.z, ptv.cx, ptv.cy, slope)

    def inplane(idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        plane = idx[:, None, None]
        dx = x[None, None, :] - ptv.cx[plane]
        dy = y[None, :, None] - ptv.cy[plane]
        th = np.arctan2(dy, dx)
        radial = np.hypot(dx, dy) - ptv.radius(plane, th)
        # The slope correction matters at the surface; far away the radial
        # distance is the better (and smoother) estimate.
        s = grad.radius(plane, th)
        s = s + (1.0 - s) * np.clip(radial / 30.0, 0.0, 1.0)
        return np.where(present[plane], radial * s, np.inf), th

    k0 = np.rint((z - zf[0]) / step).astype(np.int64)
    d0, theta = inplane(k0)
    best = np.where(d0 <= 0.0, 0.0, d0)
    depth = np.minimum(d0, 0.0)
    ends = np.flatnonzero(present)
    for shift in [s for s in range(-n_pad, n_pad + 1) if s]:
        d, _th = inplane(np.clip(k0 + shift, 0, zf.size - 1))
        best = np.minimum(best, np.hypot(z_stretch * shift * step, np.maximum(d, 0.0)))
    # Coarse PTV planes (every ~10 mm, and both ends) for voxels far from the PTV.
    coarse = np.unique(np.r_[ends[:: max(1, round(10.0 / step))], ends[-1]])
    for k_end in coarse:
        idx = np.full_like(k0, k_end)
        d, _th = inplane(idx)
        dz = (z - zf[k_end])[:, None, None]
        best = np.minimum(best, np.hypot(z_stretch * dz, np.maximum(d, 0.0)))
    return np.where(depth < 0.0, depth, best), theta


def make_dose(
    anatomy: PelvisAnatomy,
    x: np.ndarray,
    y: np.ndarray,
    z: np.ndarray,
    *,
    bowel_dose_boost: float = 0.0,
    rng: np.random.Generator,
    profile: dict[str, float] | None = None,
) -> np.ndarray:
    """VMAT-like relative dose (1.0 = prescription) on the grid, shape ``(nz, ny, nx)``.

    Inside the PTV the dose is 1 ± 1.5 % (smooth random hot/cold spots), a few
    per cent lower in a thin rim under the surface (``rim_drop``, ``rim_mm``);
    outside it is :func:`dose_profile` of the distance to the PTV, and the whole
    distribution is then smoothed with a 2 mm Gaussian (rounding the shoulder),
    masked by the body and normalised so the PTV median dose is the prescription.

    Parameters
    ----------
    anatomy
        The patient.
    x, y, z
        Ascending, uniformly spaced voxel-centre coordinates (mm).
    bowel_dose_boost
        0 for a well-optimised plan. Positive values spill dose anteriorly,
        where the bowel bag is (anterior to the PTV, from 45 mm below its
        centre upwards): distances there shrink by up to ``20 * boost`` mm, so
        every isodose moves out by that much (1.6 takes the sample bowel bag's
        V45Gy from ~110 cc to ~340 cc). Negative values (down to -0.6) stretch
        those distances by ``1 / (1 + boost)``, pulling the isodoses in.
    rng
        Source of the hot-spot pattern.
    profile
        Overrides of :data:`DOSE_PROFILE`.
    """
    p = DOSE_PROFILE if profile is None else {**DOSE_PROFILE, **profile}
    h = float(x[1] - x[0])
    hz = float(z[1] - z[0]) if z.size > 1 else h
    boost = float(np.clip(bowel_dose_boost, -0.6, 5.0))
    dist, theta = ptv_distance(anatomy, x, y, z, z_stretch=p["z_stretch"])
    inside = dist < 0.0
    if boost:
        w = np.maximum(-np.sin(theta), 0.0) ** 1.5 * _ramp(z, -45.0, -5.0)[:, None, None]
        spill = 20.0 * max(boost, 0.0) * w
        dist = np.where(
            dist > 0.0, np.maximum(dist - spill, 0.0) / (1.0 + min(boost, 0.0) * w), dist
        )
    hot = 1.006 + 0.014 * _smooth_noise(rng, x, y, z)
    rim = p["rim_drop"] * np.exp(np.minimum(dist, 0.0) / p["rim_mm"])
    rel = np.where(dist <= 0.0, hot - rim, dose_profile(dist, p))
    rel = _gaussian_blur(rel, (2.0 / hz, 2.0 / h, 2.0 / h))
    # Planes just beyond the contoured body get the body outline of its end plane
    # (the patient goes on beyond the scanned length).
    body = anatomy.body(np.clip(z, anatomy.body_z[0], anatomy.body_z[1]))
    rel = np.clip(rel, 0.0, None) * body.contains_grid(x, y)
    if inside.any():
        rel /= np.median(rel[inside])
    return rel


# --------------------------------------------------------------------------- plan


class PelvisPlan(NamedTuple):
    """What :func:`make_pelvis_plan` returns (unpacks as a 3-tuple)."""

    structure_set: StructureSet
    dose: DoseGrid
    plan: PlanInfo


#: Role of each ROI of a synthetic plan, in ROINumber order (ROINumber = index + 1).
ROI_ROLES: tuple[str, ...] = (
    "body",
    "ptv",
    "ctv",
    "gtv",
    "bowel_bag",
    "bladder",
    "femur_head_l",
    "femur_head_r",
    "rectum",
    "zptv_inner",
    "zring_ptv",
    "zring_outer",
    "zbowel_opt",
)


def roi_by_role(structure_set: StructureSet, role: str) -> Structure:
    """The ROI of a synthetic plan playing ``role`` (one of :data:`ROI_ROLES`).

    Useful because the body, PTV and bowel-bag names vary between plans.
    """
    return structure_set.by_number(ROI_ROLES.index(role) + 1)


def _ring_contours(
    outer: PolarStack, inner: PolarStack, point_spacing_mm: float
) -> list[tuple[float, np.ndarray]]:
    """Contours of a ring: the outer contour and, where present, a reversed hole."""
    r_in = np.where(outer.r > 0, np.minimum(inner.r, outer.r - 2.0), 0.0)
    r_in = np.where(inner.present[:, None], np.maximum(r_in, 0.0), 0.0)
    holes = {z: xy[::-1] for z, xy in outer.with_r(r_in).contours(point_spacing_mm)}
    out: list[tuple[float, np.ndarray]] = []
    for z, xy in outer.contours(point_spacing_mm):
        out.append((z, xy))
        if z in holes:
            out.append((z, holes[z]))
    return out


def make_pelvis_plan(
    *,
    kind: Kind = "long",
    dose_grid_mm: float = 2.5,
    contour_spacing_mm: float = 3.0,
    body_size: BodySize = "small",
    bowel_dose_boost: float = 0.0,
    seed: int = 0,
    patient_id: str = "SYNTH-RECTUM-001",
    patient_name: str = "Synthetic^Rectum",
    plan_label: str = "RECT_VMAT",
    point_spacing_mm: float | None = None,
    bowel_name: str | None = None,
    body_name: str | None = None,
) -> PelvisPlan:
    """Build a synthetic rectal VMAT plan: structures, dose and plan information.

    Parameters
    ----------
    kind
        ``"long"`` (50.4 Gy / 28 fx) or ``"short"`` (25 Gy / 5 fx).
    dose_grid_mm
        Isotropic dose-grid spacing (mm).
    contour_spacing_mm
        Distance between contoured axial planes (mm).
    body_size
        ``"small"``: body cropped to 17.4 cm of pelvis (sample plans);
        ``"benchmark"``: a 28.6 cm long, ~20 L body.
    bowel_dose_boost
        How much dose is pushed into the bowel bag (see :func:`make_dose`).
    seed
        Seeds the anatomy variations, ROI names and hot-spot pattern.
    patient_id, patient_name, plan_label
        Identification written to the files.
    point_spacing_mm
        Distance between contour points (defaults to ``0.55 * contour_spacing_mm``
        for the benchmark body, ``contour_spacing_mm * 0.8`` otherwise).
    bowel_name, body_name
        Force the ROI names (by default one of several realistic spellings is
        picked from ``seed``).

    Returns
    -------
    PelvisPlan
        ``(structure_set, dose, plan)``; UIDs are deterministic in the inputs and
        link the three (dose → plan → structure set, shared frame of reference).
    """
    if kind not in COURSES:
        raise ValueError(f"kind must be one of {sorted(COURSES)}")
    if body_size not in BODY_Z_RANGE:
        raise ValueError(f"body_size must be one of {sorted(BODY_Z_RANGE)}")
    rx_gy, fractions = COURSES[kind]
    rng = np.random.default_rng(seed)
    anatomy = PelvisAnatomy.sample(rng, body_size)
    if point_spacing_mm is None:
        point_spacing_mm = (
            contour_spacing_mm * 0.55 if body_size == "benchmark" else contour_spacing_mm * 0.8
        )
    # Always draw the names so that forcing one does not change the dose pattern.
    drawn_bowel, drawn_body = str(rng.choice(_BOWEL_NAMES)), str(rng.choice(_BODY_NAMES))
    bowel_name = bowel_name or drawn_bowel
    body_name = body_name or drawn_body
    rx_cgy = round(rx_gy * 100)
    ptv_name = f"PTV_{rx_cgy}" if seed % 2 == 0 else f"PTV{rx_gy:g}"

    # Contour planes cover the body extent.
    z0, z1 = anatomy.body_z
    n_planes = round((z1 - z0) / contour_spacing_mm) + 1
    zc = z0 + contour_spacing_mm * np.arange(n_planes)
    body = anatomy.body(zc)
    inner_body = body.with_r(np.where(body.r > 0, body.r - 3.0, 0.0))

    ptv = anatomy.ptv(zc)

    def clip_to_body(stack: PolarStack) -> PolarStack:
        limit = inner_body.exit_distance(stack.cx, stack.cy)
        return stack.with_r(np.where(stack.r > 0, np.minimum(stack.r, limit), 0.0))

    crop = clip_to_body(anatomy.bowel_bag(zc))

    ptv3 = anatomy.ptv(zc, extra_mm=3.0)
    ring_mid = anatomy.ptv(zc, extra_mm=20.0)
    ring_outer_20 = clip_to_body(ring_mid)
    ring_outer_50 = clip_to_body(anatomy.ptv(zc, extra_mm=50.0))
    ptv_inner = minkowski(anatomy.ptv, zc, -3.0, n_alpha=16)
    bowel_opt = crop.with_r(np.minimum(crop.r, crop.ray_limit(ptv3, stop_inside=True)))

    ps = point_spacing_mm
    rois: list[tuple[str, str, tuple[int, int, int], list[tuple[float, np.ndarray]]]] = [
        (body_name, "EXTERNAL", (0, 128, 0), body.contours(ps * 1.5)),
        (ptv_name, "PTV", (255, 0, 0), ptv.contours(ps)),
        ("CTV", "CTV", (255, 128, 0), anatomy.ctv(zc).contours(ps)),
        ("GTV", "GTV", (255, 0, 255), anatomy.gtv(zc).contours(ps)),
        (bowel_name, "ORGAN", (160, 82, 45), crop.contours(ps)),
        ("Bladder", "ORGAN", (255, 255, 0), anatomy.bladder(zc).contours(ps)),
        ("Femur_Head_L", "ORGAN", (0, 255, 255), anatomy.femur_head(zc, "L").contours(ps)),
        ("Femur_Head_R", "ORGAN", (0, 200, 255), anatomy.femur_head(zc, "R").contours(ps)),
        ("Rectum", "ORGAN", (139, 69, 19), anatomy.rectum(zc).contours(ps)),
        ("zPTV_Inner", "CONTROL", (255, 160, 160), ptv_inner.contours(ps)),
        ("zRing_PTV", "CONTROL", (128, 128, 255), _ring_contours(ring_outer_20, ptv3, ps)),
        (
            "zRing_Outer",
            "CONTROL",
            (64, 64, 200),
            _ring_contours(ring_outer_50, ring_mid, ps * 1.5),
        ),
        ("zBowel_Opt", "AVOIDANCE", (200, 140, 90), bowel_opt.contours(ps)),
    ]

    label = f"{plan_label}|{kind}|{body_size}|{seed}|{bowel_dose_boost}|{patient_id}"
    for_uid = deterministic_uid("FOR", label)
    ss_uid = deterministic_uid("RS", label)
    plan_uid = deterministic_uid("RP", label)
    dose_uid = deterministic_uid("RD", label)

    structures = tuple(
        Structure.from_contours(i, name, contours, interpreted_type=typ, color=color)
        for i, (name, typ, color, contours) in enumerate(rois, start=1)
    )
    structure_set = StructureSet(
        structures=structures,
        frame_of_reference_uid=for_uid,
        sop_instance_uid=ss_uid,
        label=plan_label[:16],
        patient_id=patient_id,
        patient_name=patient_name,
    )

    # Dose grid: uniform, covering the body with a 1 cm margin in-plane and, along
    # z, every contour plane plus at least half a contour spacing beyond the ends
    # (so the slabs of the end contours are inside the grid).
    xy_margin = 10.0
    xb = float(body.r.max()) + xy_margin
    yb0 = float((body.cy[:, None] + body.r * _SIN).min()) - xy_margin
    yb1 = float((body.cy[:, None] + body.r * _SIN).max()) + xy_margin
    nx = int(np.ceil(2 * xb / dose_grid_mm)) + 1
    ny = int(np.ceil((yb1 - yb0) / dose_grid_mm)) + 1
    z_margin = dose_grid_mm * np.ceil(0.5 * contour_spacing_mm / dose_grid_mm - 1e-9)
    nz = int(np.ceil((zc[-1] - zc[0] + 2 * z_margin) / dose_grid_mm - 1e-9)) + 1
    x = np.round(-0.5 * (nx - 1) * dose_grid_mm + dose_grid_mm * np.arange(nx), 6)
    ymid = 0.5 * (yb0 + yb1)
    y = np.round(ymid - 0.5 * (ny - 1) * dose_grid_mm + dose_grid_mm * np.arange(ny), 6)
    z = np.round(zc[0] - z_margin + dose_grid_mm * np.arange(nz), 6)
    rel = make_dose(anatomy, x, y, z, bowel_dose_boost=bowel_dose_boost, rng=rng)
    dose = DoseGrid(
        x=x,
        y=y,
        z=z,
        dose_gy=(rel * rx_gy).astype(np.float32),
        frame_of_reference_uid=for_uid,
        summation_type="PLAN",
        sop_instance_uids=(dose_uid,),
        referenced_plan_uid=plan_uid,
    )
    plan = PlanInfo(
        label=plan_label[:16],
        name=f"Rectum {rx_gy:g}Gy/{fractions}fx VMAT",
        sop_instance_uid=plan_uid,
        prescription_gy=rx_gy,
        fractions=fractions,
        referenced_structure_set_uid=ss_uid,
        frame_of_reference_uid=for_uid,
        patient_id=patient_id,
    )
    return PelvisPlan(structure_set, dose, plan)


_FIXED_DATE = "20240102"
_FIXED_TIME = "093000"


def _freeze_dates(path: Path, uid_seed: str) -> None:
    """Rewrite the dates, times and random UIDs the writer put in, deterministically."""
    import pydicom

    ds = pydicom.dcmread(path)
    for kw in ("StudyDate", "StructureSetDate", "RTPlanDate"):
        if kw in ds:
            setattr(ds, kw, _FIXED_DATE)
    for kw in ("StudyTime", "StructureSetTime", "RTPlanTime"):
        if kw in ds:
            setattr(ds, kw, _FIXED_TIME)
    for i, item in enumerate(ds.get("DoseReferenceSequence", [])):
        item.DoseReferenceUID = deterministic_uid("DR", uid_seed, i)
    ds.save_as(path, enforce_file_format=True)


def write_plan(
    folder: str | Path,
    *,
    dose_bits: int = 16,
    deterministic_files: bool = True,
    **kwargs: object,
) -> dict[str, object]:
    """Generate a plan with :func:`make_pelvis_plan` and write it as DICOM RT files.

    Writes ``RS.<patient>.dcm`` (RTSTRUCT), ``RP.<patient>.dcm`` (RTPLAN, with
    prescription and fractions, referencing the RTSTRUCT) and ``RD.<patient>.dcm``
    (RTDOSE, PLAN sum, referencing the RTPLAN), all in one study and frame of
    reference.

    Parameters
    ----------
    folder
        Output folder (created).
    dose_bits
        16 or 32 bits per dose voxel.
    deterministic_files
        Overwrite the creation dates/times and random UIDs the writer puts in, so
        that regenerating gives byte-identical files.
    **kwargs
        Passed to :func:`make_pelvis_plan`.

    Returns
    -------
    dict
        ``rtstruct``, ``rtdose``, ``rtplan`` paths and the ``plan`` (the
        :class:`PelvisPlan`).
    """
    from dosecheck.dicom.writer import write_rtdose, write_rtplan, write_rtstruct

    plan = make_pelvis_plan(**kwargs)  # type: ignore[arg-type]
    ss, dose, info = plan
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    pid = "".join(c if c.isalnum() or c in "-_" else "_" for c in info.patient_id)
    study_uid = deterministic_uid("STUDY", info.sop_instance_uid)
    paths = {
        "rtstruct": out / f"RS.{pid}.dcm",
        "rtplan": out / f"RP.{pid}.dcm",
        "rtdose": out / f"RD.{pid}.dcm",
    }
    write_rtstruct(
        paths["rtstruct"],
        ss,
        study_uid=study_uid,
        series_uid=deterministic_uid("SERIES-RS", ss.sop_instance_uid),
    )
    write_rtplan(
        paths["rtplan"],
        info,
        study_uid=study_uid,
        series_uid=deterministic_uid("SERIES-RP", info.sop_instance_uid),
        patient_name=ss.patient_name,
    )
    write_rtdose(
        paths["rtdose"],
        dose,
        bits=dose_bits,
        summation_type="PLAN",
        dose_units="GY",
        referenced_plan_uid=info.sop_instance_uid,
        frame_of_reference_uid=dose.frame_of_reference_uid,
        patient_id=info.patient_id,
        patient_name=ss.patient_name,
        study_uid=study_uid,
        series_uid=deterministic_uid("SERIES-RD", dose.sop_instance_uids[0]),
        sop_instance_uid=dose.sop_instance_uids[0],
    )
    if deterministic_files:
        for p in paths.values():
            _freeze_dates(p, info.sop_instance_uid)
    return {**{k: str(v) for k, v in paths.items()}, "plan": plan}
