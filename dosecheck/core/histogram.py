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

import numpy as np


def accumulate_segments(
    lo: np.ndarray,
    hi: np.ndarray,
    weight: np.ndarray,
    bin_width: float,
    n_edges: int,
) -> np.ndarray:
    """Volume with dose below each edge, for uniformly spread segments.

    Parameters
    ----------
    lo, hi
        Lower and upper dose of each segment (``lo <= hi``), non-negative.
    weight
        Volume of each segment.
    bin_width
        Spacing of the dose edges ``0, bin_width, 2 * bin_width, …``.
    n_edges
        Number of edges; the last edge must be above ``hi.max()``.

    Returns
    -------
    numpy.ndarray
        ``F[j]``: the volume whose dose is below ``j * bin_width`` (``(n_edges,)``).
    """
    inv = 1.0 / bin_width
    p_lo = lo * inv
    p_hi = hi * inv
    i_lo = p_lo.astype(np.int64)  # doses are >= 0, so truncation is floor
    i_hi = p_hi.astype(np.int64)
    if i_hi.size and int(i_hi.max()) + 2 >= n_edges + 2:
        raise ValueError("dose above the last histogram edge")
    f_lo = p_lo - i_lo
    f_hi = p_hi - i_hi
    width = p_hi - p_lo
    # Within one bin (or degenerate): a step of the whole weight at the bin's upper
    # edge. Otherwise: uniform spread over [lo, hi], a ramp of slope c = w / width.
    same = (i_lo == i_hi) | (width < 1e-6)
    has_step = bool(same.any())
    if has_step:
        width = np.where(same, 1.0, width)
    c = weight / width
    if has_step:
        c[same] = 0.0
        step = np.where(same, weight, 0.0)
    n = n_edges + 2
    second = np.zeros(n)
    c_f_lo = c * f_lo
    c_f_hi = c * f_hi
    second[1:] += np.bincount(i_lo, weights=c - c_f_lo, minlength=n - 1)[: n - 1]
    second[2:] += np.bincount(i_lo, weights=c_f_lo, minlength=n - 2)[: n - 2]
    at_hi1 = c - c_f_hi
    at_hi2 = c_f_hi
    if has_step:
        at_hi1 -= step
        at_hi2 += step
    second[1:] -= np.bincount(i_hi, weights=at_hi1, minlength=n - 1)[: n - 1]
    second[2:] -= np.bincount(i_hi, weights=at_hi2, minlength=n - 2)[: n - 2]
    return np.cumsum(np.cumsum(second[:n_edges]))
