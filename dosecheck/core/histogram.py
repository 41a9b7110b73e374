"""Exact accumulation of linear dose segments into a cumulative DVH.

Along z, between two dose planes, the trilinearly interpolated dose at a fixed in-plane
point is linear in z. A segment of height ``h`` whose dose runs linearly from ``a`` to
``b`` therefore contributes volume spread *uniformly* over ``[min(a, b), max(a, b)]``.
Its contribution to ``F(d)`` (volume with dose below ``d``) is piecewise linear, a
difference of two ramps, which a second-difference array on the bin edges represents
exactly; two cumulative sums recover ``F`` at every edge. Segments whose dose range
falls within one bin become a step at the bin's upper edge, which is also exact at the
edges.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


class SegmentHistogram:
    """Accumulates uniformly spread segments on the edges ``0, w, 2w, …`` up to a maximum.

    Parameters
    ----------
    bin_width
        Spacing of the dose edges.
    max_dose
        Highest dose that can occur; segment ends above it are clipped to it.
    """

    def __init__(self, bin_width: float, max_dose: float) -> None:
        self.bin_width = bin_width
        self.max_dose = max(float(max_dose), 0.0)
        self.n_edges = int(np.ceil(self.max_dose / bin_width)) + 3
        self._second = np.zeros(self.n_edges + 2)

    def add(self, lo: np.ndarray, hi: np.ndarray, weight: np.ndarray) -> None:
        """Add segments of volume ``weight`` spread uniformly over ``[lo, hi]``."""
        inv = 1.0 / self.bin_width
        # Temporaries are reused in place (``out=``) once their value is no longer
        # needed: fewer fresh arrays, the same arithmetic.
        p_lo = np.clip(lo, 0.0, self.max_dose)
        p_lo *= inv
        p_hi = np.clip(hi, 0.0, self.max_dose)
        p_hi *= inv
        # Non-negative, so the floor is the whole part (and the fraction is exact).
        w_lo = np.floor(p_lo)
        w_hi = np.floor(p_hi)
        f_lo = p_lo - w_lo
        f_hi = p_hi - w_hi
        width = np.subtract(p_hi, p_lo, out=p_hi)
        # Within one bin (or degenerate): a step of the whole weight at the bin's upper
        # edge. Otherwise: uniform spread over [lo, hi], a ramp of slope c = w / width.
        same = w_lo == w_hi
        same |= width < 1e-6
        i_lo = w_lo.astype(np.int64)
        i_hi = w_hi.astype(np.int64)
        has_step = bool(same.any())
        if has_step:
            width[same] = 1.0
        c = np.divide(weight, width, out=width)
        if has_step:
            c[same] = 0.0
            step = np.where(same, weight, 0.0)
        n = self._second.size
        c_f_lo = c * f_lo
        c_f_hi = np.multiply(c, f_hi, out=f_hi)
        second = self._second
        at_lo1 = np.subtract(c, c_f_lo, out=f_lo)
        second[1:] += np.bincount(i_lo, weights=at_lo1, minlength=n - 1)[: n - 1]
        second[2:] += np.bincount(i_lo, weights=c_f_lo, minlength=n - 2)[: n - 2]
        at_hi1 = np.subtract(c, c_f_hi, out=c_f_lo)
        at_hi2 = c_f_hi
        if has_step:
            at_hi1 -= step
            at_hi2 += step
        second[1:] -= np.bincount(i_hi, weights=at_hi1, minlength=n - 1)[: n - 1]
        second[2:] -= np.bincount(i_hi, weights=at_hi2, minlength=n - 2)[: n - 2]

    def below(self) -> np.ndarray:
        """``F[j]``: the volume whose dose is below ``j * bin_width``."""
        return np.cumsum(np.cumsum(self._second[: self.n_edges]))


def accumulate_segments(
    lo: np.ndarray,
    hi: np.ndarray,
    weight: np.ndarray,
    bin_width: float,
    n_edges: int,
) -> np.ndarray:
    """Volume with dose below each of ``n_edges`` edges, for uniformly spread segments.

    Parameters
    ----------
    lo, hi
        Lower and upper dose of each segment (``lo <= hi``), non-negative.
    weight
        Volume of each segment.
    bin_width
        Spacing of the dose edges ``0, bin_width, 2 * bin_width, …``.
    n_edges
        Number of edges returned.
    """
    h = SegmentHistogram(bin_width, (n_edges - 1) * bin_width)
    h.add(lo, hi, weight)
    f = h.below()
    if f.size < n_edges:
        f = np.concatenate([f, np.full(n_edges - f.size, f[-1] if f.size else 0.0)])
    return f[:n_edges]


@dataclass
class Totals:
    """Running totals over the chunks of one structure."""

    total_cc: float = 0.0
    inside_cc: float = 0.0
    dose_volume: float = 0.0  # sum of volume × mean dose (Gy·cc)
    dmin: float = np.inf
    dmax: float = -np.inf
    vertex_min: float = np.inf
    vertex_max: float = -np.inf
    crossing_planes: int = 0
