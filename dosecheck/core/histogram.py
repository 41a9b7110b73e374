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
    p_lo = lo / bin_width
    p_hi = hi / bin_width
    i_lo = np.floor(p_lo).astype(np.int64)
    i_hi = np.floor(p_hi).astype(np.int64)
    if i_hi.size and int(i_hi.max()) + 2 >= n_edges + 2:
        raise ValueError("dose above the last histogram edge")
    same = (i_lo == i_hi) | (p_hi - p_lo < 1e-6)
    # Steps: the whole weight lands on the upper edge of the bin (exact at the edges).
    step_at = i_hi[same] + 1
    w_step = weight[same]
    # Ramps: uniform spread over [lo, hi].
    ramp = ~same
    c = weight[ramp] / (p_hi[ramp] - p_lo[ramp])
    f_lo = p_lo[ramp] - i_lo[ramp]
    f_hi = p_hi[ramp] - i_hi[ramp]
    il = i_lo[ramp]
    ih = i_hi[ramp]
    idx = np.concatenate([step_at, step_at + 1, il + 1, il + 2, ih + 1, ih + 2])
    val = np.concatenate([w_step, -w_step, c * (1 - f_lo), c * f_lo, -c * (1 - f_hi), -c * f_hi])
    second = np.bincount(idx, weights=val, minlength=n_edges + 2)[:n_edges]
    return np.cumsum(np.cumsum(second))
