"""End-cap conventions: how far a structure extends beyond and between its contour planes.

Planning systems disagree on it, so the engine (:mod:`dosecheck.core.engine`) takes the
convention as a setting, :class:`EndCaps`:

``half-slice`` (default)
    Each plane stands for the slab from half-way to the previous plane to half-way to
    the next; the first and last planes of a run extend half a contour spacing beyond
    (the convention of the Nelms 2015 analytical data and of MIM).
``none``
    As ``half-slice`` between planes, but the structure stops at the first and last
    plane of each run (Eclipse): a box contoured on its boundary planes has exactly
    its volume. A run of a single plane has no extent under this rule; it keeps half a
    spacing either side (so that it is not lost) and the DVH says so in a warning.
    Computed from the half-slice pass by subtracting the end-cap half-slabs
    (:func:`dosecheck.core.engine.compute_dvh_variants`), so both come from one pass.
``shape``
    Shape-based interpolation: the cross-section changes continuously between adjacent
    planes and closes beyond the end planes as the shape implies. See
    :class:`ShapeExtents` for the model; it needs SciPy's Euclidean distance transform
    (the ``shape`` extra) and is imported only on this path.

The functions here compute geometry only (which planes end runs, each sample's extent
along z); the engine does the dose.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np

__all__ = ["EndCaps", "RunEnds", "ShapeExtents", "run_ends"]


class EndCaps(StrEnum):
    """How far a structure extends beyond its first and last contour planes."""

    HALF_SLICE = "half-slice"
    NONE = "none"
    SHAPE = "shape"


@dataclass(frozen=True)
class RunEnds:
    """Where a structure's runs of contour planes start and end.

    Attributes
    ----------
    gap_below, gap_above
        Distance to the previous / next plane of the same run (mm), ``nan`` at a run's
        first / last plane. A gap of more than ``gap_factor`` × the spacing splits runs.
    first, last
        Whether each plane starts / ends a run (both for a run of a single plane).
    """

    gap_below: np.ndarray
    gap_above: np.ndarray
    first: np.ndarray
    last: np.ndarray

    @property
    def single(self) -> np.ndarray:
        """Planes that form a run on their own."""
        return self.first & self.last


def run_ends(z_planes: np.ndarray, spacing: float, gap_factor: float) -> RunEnds:
    """Runs of a structure's planes (ascending ``z_planes``), split at large gaps."""
    gaps = np.diff(z_planes)
    joined = gaps <= gap_factor * spacing
    nan = np.array([np.nan])
    below = np.concatenate([nan, np.where(joined, gaps, np.nan)])
    above = np.concatenate([np.where(joined, gaps, np.nan), nan])
    return RunEnds(gap_below=below, gap_above=above, first=np.isnan(below), last=np.isnan(above))


def cap_faces(
    z_planes: np.ndarray, lo: np.ndarray, hi: np.ndarray, runs: RunEnds
) -> tuple[np.ndarray, np.ndarray]:
    """The end-cap half-slab of each plane under half-slice caps, as ``(cap_lo, cap_hi)``.

    The half-slab below a run's first plane and above its last (empty, ``cap_lo ==
    cap_hi``, for other planes and for single-plane runs, which keep their caps under
    ``none``). ``lo``/``hi`` are the half-slice slab faces.
    """
    single = runs.single
    cap_lo = np.where(runs.first & ~single, lo, z_planes)
    cap_hi = np.where(runs.last & ~single, hi, z_planes)
    return cap_lo, cap_hi


class ShapeExtents:
    """Per-sample extents along z under shape-based interpolation (``end_caps="shape"``).

    Model. On each plane ``i`` the contour defines a signed in-plane distance ``sd_i``
    (negative inside) and the plane's depth ``m_i = max(-sd_i)`` (the radius of its
    largest inscribed circle). The engine interpolates, linearly in z between adjacent
    planes of a run, the *shape function*

        ``F_i = m_i² − (m_i + sd_i)²``  (positive inside, zero on the contour),

    and a point is inside where the interpolated ``F`` is positive. ``F`` is a
    monotone function of ``sd_i`` on each plane, so every plane's contour is reproduced
    exactly, and a prism (the same contour on both planes) stays a prism. Interpolating
    ``F`` rather than ``sd`` itself (the classic shape-based interpolation) makes the
    squared radius, not the radius, linear in z: exact for a circular cross-section
    whose squared radius is linear in z, which is how round ends (a sphere's pole, a
    cylinder lying across the planes) close. Linear ``sd`` closes them linearly and
    leaves the end volume, and the DVH's tail there, too small (the Nelms 2015 rotated
    cylinder and 3 mm sphere; see ``docs/validation.md``).

    For a sample inside plane ``i``, the gap towards an adjacent plane is inside up
    to half-way when the sample is inside that plane too (as in half-slice), else up
    to where ``F`` crosses zero in the gap: on the parabola through ``F`` on the three
    planes ``i − 1, i, i + 1`` where plane ``i`` has neighbours on both sides, else on
    the line ``t* = F_i / (F_i − F_j)``. ``F`` is quadratic, not linear, in z near a
    round end (``ρ² − (z − z₀)²`` through a circle of radius ``ρ`` about ``z₀``), so
    the line closes a sample that only plane ``i`` contains after ``h²/gap`` instead
    of its true half-height ``h`` (the rotated cone's apex and sides lost up to 4.5 %
    of its volume that way); the parabola is exact there. Beyond a run's end plane
    ``F`` is extrapolated linearly from the last two planes and never grows: a sample
    whose ``F`` falls towards the end closes where it reaches zero, at most half a
    contour spacing out; others (a prism, a cone's base) keep the half-slice cap. A
    run of a single plane keeps half a spacing either side.

    Distances come from the exact Euclidean distance transform of the planes' samples
    on the engine's in-plane sample grid (shared by all planes), so they are good to
    about half a sample spacing.

    Parameters
    ----------
    z_planes
        Ascending plane heights.
    runs
        :func:`run_ends` of the planes.
    spacing
        Contour spacing (mm): the cap of a plane that does not close.
    sx, sy
        Sample spacing (mm).
    linear_sd
        Interpolate ``sd`` itself instead of ``F`` (the classic model; for comparison).
    """

    def __init__(
        self,
        z_planes: np.ndarray,
        runs: RunEnds,
        spacing: float,
        sx: float,
        sy: float,
        *,
        linear_sd: bool = False,
    ) -> None:
        self.z = z_planes
        self.runs = runs
        self.half = spacing / 2.0
        self.sx, self.sy = sx, sy
        self.linear_sd = linear_sd
        self._f: np.ndarray | None = None

    # --- the shape function of a block of planes ---------------------------------
    def prepare(
        self,
        q0: int,
        plane: np.ndarray,
        col: np.ndarray,
        row: np.ndarray,
        marks: tuple[np.ndarray, np.ndarray, np.ndarray],
    ) -> None:
        """Compute ``F`` on planes ``q0 ..`` from their inside samples.

        Parameters
        ----------
        q0
            Index of the first plane of the block (``plane`` is absolute).
        plane, col, row
            Inside samples of the block's planes (sample-grid indices).
        marks
            ``(plane, col, row)`` of one cell for each plane that has contours but no
            inside sample (a tiny or degenerate contour), so that its neighbours see
            where it is.
        """
        from dosecheck._optional import require

        ndimage = require("scipy.ndimage", extra="shape", feature="end caps 'shape'")
        mp, mc, mr = marks
        allp = np.concatenate([plane, mp]) - q0
        allc = np.concatenate([col, mc])
        allr = np.concatenate([row, mr])
        nq = int(allp.max(initial=-1)) + 1
        self._q0, self._nq = q0, nq
        if allp.size == 0:
            self._f = None
            return
        # One cell of margin (outside) around the block's inside samples.
        self._c0 = int(allc.min()) - 1
        self._r0 = int(allr.min()) - 1
        w = int(allc.max()) - self._c0 + 2
        h = int(allr.max()) - self._r0 + 2
        mask = np.zeros((nq, h, w), dtype=bool)
        mask[allp, allr - self._r0, allc - self._c0] = True
        # Planes are independent: a huge z spacing keeps each plane's distances in-plane
        # (an empty plane sees only other planes, far away: outside everywhere).
        sampling = (1e9, self.sy, self.sx)
        d_in = ndimage.distance_transform_edt(mask, sampling=sampling)
        d_out = ndimage.distance_transform_edt(~mask, sampling=sampling)
        # The contour lies about half-way between an inside and an outside sample.
        e = 0.5 * min(self.sx, self.sy)
        sd = np.where(mask, e - d_in, d_out - e)
        del d_in, d_out
        if self.linear_sd:
            self._f = -sd
        else:
            depth = np.maximum((-sd).reshape(nq, -1).max(axis=1, initial=-np.inf), e)
            m = depth[:, None, None]
            self._f = m * m - (m + np.maximum(sd, -m)) ** 2
        self._mask = mask

    def _lookup(
        self, plane: np.ndarray, col: np.ndarray, row: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """``F`` and inside-ness at sample cells of planes of the block (absolute)."""
        assert self._f is not None
        q = plane - self._q0
        c = col - self._c0
        r = row - self._r0
        _, h, w = self._f.shape
        ok = (q >= 0) & (q < self._nq) & (c >= 0) & (c < w) & (r >= 0) & (r < h)
        qi, ri, ci = np.where(ok, q, 0), np.where(ok, r, 0), np.where(ok, c, 0)
        f = np.where(ok, self._f[qi, ri, ci], -np.inf)
        inside = ok & self._mask[qi, ri, ci]
        return f, inside

    # --- extents ------------------------------------------------------------------
    def sample_extents(
        self, plane: np.ndarray, col: np.ndarray, row: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper face (mm) of each sample inside its plane.

        ``plane``/``col``/``row`` are samples of planes whose neighbours were in the
        block given to :meth:`prepare` (fallback samples are given the cell they fall in).
        """
        z = self.z[plane]
        if self._f is None or plane.size == 0:
            return z - self.half, z + self.half
        f_own, _ = self._lookup(plane, col, row)
        f_own = np.maximum(f_own, 1e-12)  # inside its own plane (a fallback sample, too)
        lo = self._side(plane, col, row, f_own, -1)
        hi = self._side(plane, col, row, f_own, +1)
        return z - lo, z + hi

    def _side(
        self, plane: np.ndarray, col: np.ndarray, row: np.ndarray, f_own: np.ndarray, step: int
    ) -> np.ndarray:
        """Extent (mm, ≥ 0) of each sample towards ``step`` (-1 below, +1 above)."""
        runs = self.runs
        gap_to = (runs.gap_above if step > 0 else runs.gap_below)[plane]
        gap_from = (runs.gap_below if step > 0 else runs.gap_above)[plane]
        has_to = ~np.isnan(gap_to)
        has_from = ~np.isnan(gap_from)
        out = np.full(plane.shape, self.half)
        # Towards a neighbour of the run: half-way, or up to the crossing.
        if has_to.any():
            f_to, in_to = self._lookup(plane + step, col, row)
            with np.errstate(invalid="ignore", divide="ignore"):
                t = f_own / (f_own - f_to)
            t = np.where(np.isfinite(t), t, 0.0)
            cross = t * gap_to
            # With a plane on the other side too, the crossing of the parabola through
            # the three planes' F (exact where F is quadratic in z, as on round ends).
            f_k, _ = self._lookup(plane - step, col, row)
            quad = has_to & has_from & ~in_to & np.isfinite(f_k) & np.isfinite(f_to)
            if quad.any():
                a = np.where(quad, gap_from, 1.0)
                b = np.where(quad, gap_to, 1.0)
                fj = np.where(quad, f_to, -1.0)
                fk = np.where(quad, f_k, 0.0)
                curv = ((fj - f_own) / b + (fk - f_own) / a) / (a + b)
                slope = (fj - f_own) / b - curv * b
                root = _first_root(curv, slope, f_own, b)
                cross = np.where(quad & np.isfinite(root), root, cross)
            inner = np.where(in_to, gap_to / 2.0, cross)
            out = np.where(has_to, inner, out)
        # Beyond a run's end (a run of two or more planes): F extrapolated from the
        # plane on the other side; it closes where it reaches zero, else half a spacing.
        end = ~has_to & has_from
        if end.any():
            f_from, _ = self._lookup(plane - step, col, row)
            drop = (f_from - f_own) / np.where(has_from, gap_from, 1.0)  # fall per mm
            with np.errstate(invalid="ignore", divide="ignore"):
                reach = np.where(drop > 0, f_own / drop, np.inf)
            out = np.where(end, np.minimum(reach, self.half), out)
        return out

    def vertex_extents(
        self, plane: np.ndarray, x: np.ndarray, y: np.ndarray, x0: float, y0: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper face (mm) of contour vertices (on their plane's contour).

        A vertex spans the gap to an adjacent plane half-way when it is inside or on
        that plane's contour (within one sample spacing), else not at all; beyond a
        run's end it keeps the half-slice cap unless it lies clearly inside the plane
        before (the shape closes there). ``x0``/``y0``: origin of the sample grid.
        """
        col = np.floor((x - x0) / self.sx).astype(np.int64)
        row = np.floor((y - y0) / self.sy).astype(np.int64)
        z = self.z[plane]
        if self._f is None:
            return z - self.half, z + self.half
        tol = max(self.sx, self.sy)
        faces = []
        for step in (-1, +1):
            runs = self.runs
            gap_to = (runs.gap_above if step > 0 else runs.gap_below)[plane]
            gap_from = (runs.gap_below if step > 0 else runs.gap_above)[plane]
            has_to = ~np.isnan(gap_to)
            end = ~has_to & ~np.isnan(gap_from)
            sd_to = self._sd_at(plane + step, col, row)
            sd_from = self._sd_at(plane - step, col, row)
            inner = np.where(sd_to <= tol, gap_to / 2.0, 0.0)
            out = np.where(has_to, inner, self.half)
            out = np.where(end & (sd_from < -tol), 0.0, out)
            faces.append(out)
        return z - faces[0], z + faces[1]

    def _sd_at(self, plane: np.ndarray, col: np.ndarray, row: np.ndarray) -> np.ndarray:
        """Signed distance (mm) of plane ``plane`` at cells (+inf where unknown)."""
        f, _ = self._lookup(plane, col, row)
        if self.linear_sd:
            return -f
        assert self._f is not None
        q = np.clip(plane - self._q0, 0, self._nq - 1)
        m = np.sqrt(np.maximum(self._depth_sq()[q], 0.0))
        with np.errstate(invalid="ignore"):
            sd = np.sqrt(np.maximum(m * m - f, 0.0)) - m
        return np.where(np.isfinite(f), sd, np.inf)

    def _depth_sq(self) -> np.ndarray:
        """``m_i²`` of the block's planes (the maximum of ``F`` on each)."""
        assert self._f is not None
        return self._f.reshape(self._nq, -1).max(axis=1)


def _first_root(a: np.ndarray, b: np.ndarray, c: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Smallest root in ``(0, hi]`` of ``a t² + b t + c`` (``nan`` if none)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        disc = np.sqrt(np.maximum(b * b - 4 * a * c, 0.0))
        r1 = 2 * c / (-b + disc)
        r2 = 2 * c / (-b - disc)
    out = np.full(a.shape, np.nan)
    for r in (r2, r1):
        good = np.isfinite(r) & (r > 0) & (r <= hi * (1 + 1e-9))
        out = np.where(good & ~(np.isfinite(out) & (out < r)), r, out)
    return out
