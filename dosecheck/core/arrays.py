"""Small array helpers where NumPy's own would cost a process start-up more than the work.

``np.unique`` without index outputs and ``np.median`` import ``numpy.ma`` on first use
(``np.unique`` asks ``np.ma.is_masked``): about 7 ms of every ``check`` (issue #11),
for arrays of a few hundred plane heights. These give the same values for the finite
inputs the engine uses.
"""

from __future__ import annotations

import numpy as np

__all__ = ["median", "unique_values"]


def unique_values(a: np.ndarray) -> np.ndarray:
    """The sorted distinct values of ``a`` (as ``np.unique(a)`` for finite values)."""
    s = np.sort(np.asarray(a).ravel())
    if s.size < 2:
        return s
    keep = np.empty(s.size, dtype=bool)
    keep[0] = True
    np.not_equal(s[1:], s[:-1], out=keep[1:])
    return s[keep]


def median(a: np.ndarray) -> float:
    """The median of a non-empty array of finite values (as ``np.median``)."""
    s = np.sort(np.asarray(a, dtype=np.float64).ravel())
    n = s.size
    if n == 0:
        raise ValueError("median of an empty array")
    mid = n // 2
    return float(s[mid]) if n % 2 else float((s[mid - 1] + s[mid]) / 2.0)
