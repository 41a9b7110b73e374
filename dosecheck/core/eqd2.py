"""Voxel-wise EQD2 of a plan sum: several plans, each in its own equal fractions.

With the linear-quadratic model and no time factor, plan ``p`` giving a voxel the
total dose ``D_p`` in ``n_p`` equal fractions has ``BED_p = D_p (1 + D_p / (n_p α/β))``;
BEDs of successive plans add, so the course's EQD2 in that voxel is::

    EQD2 = Σ_p D_p (D_p / n_p + α/β) / (2 + α/β)

This equals the EQD2 of the physical sum in ``Σ n_p`` fractions only where every plan
gives the voxel the same dose per fraction (Cauchy–Schwarz: otherwise it is larger).
NumPy only; the caller supplies the parts' doses on one grid.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

__all__ = ["eqd2_sum"]


def eqd2_sum(
    doses_gy: Sequence[np.ndarray], fractions: Sequence[int], alpha_beta: float
) -> np.ndarray:
    """The voxel-wise EQD2 (Gy) of doses given in their own numbers of fractions.

    Parameters
    ----------
    doses_gy
        Each part's physical total dose (Gy), arrays of one shape, >= 0.
    fractions
        Each part's number of equal fractions (>= 1), same length as ``doses_gy``.
    alpha_beta
        α/β (Gy), a positive number.

    Returns
    -------
    numpy.ndarray
        ``float32`` array of the common shape.

    Raises
    ------
    ValueError
        No parts, lengths or shapes that differ, a number of fractions < 1, or an α/β
        that is not a positive finite number.
    """
    if not doses_gy:
        raise ValueError("no doses to sum")
    if len(doses_gy) != len(fractions):
        raise ValueError(f"{len(doses_gy)} doses but {len(fractions)} fraction counts")
    if not (math.isfinite(alpha_beta) and alpha_beta > 0):
        raise ValueError(f"α/β must be a positive number of Gy, not {alpha_beta!r}")
    shape = np.shape(doses_gy[0])
    out = np.zeros(shape, dtype=np.float32)
    scale = np.float32(1.0 / (2.0 + alpha_beta))
    ab = np.float32(alpha_beta)
    for dose, n in zip(doses_gy, fractions, strict=True):
        if isinstance(n, bool) or int(n) != n or n < 1:
            raise ValueError(f"the number of fractions must be an integer >= 1, not {n!r}")
        d = np.asarray(dose, dtype=np.float32)
        if d.shape != shape:
            raise ValueError(f"dose arrays differ in shape: {d.shape} and {shape}")
        term = d / np.float32(n)  # dose per fraction
        term += ab
        term *= d
        out += term
    out *= scale
    return out
