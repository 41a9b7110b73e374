"""Plan-quality indices from cumulative DVHs: conformity, gradient and homogeneity.

Every index is computed from DVHs dosecheck already has: the target's and, for the
conformity and gradient indices, the body's (the external ROI, the whole patient).
Notation: TV is the target volume, ``V_RI`` the body volume receiving at least the
reference isodose ``RI``, ``TV_RI`` the target volume receiving at least it.

===========================  ========================================  ====================
Index                        Formula                                   Reference
===========================  ========================================  ====================
CI, RTOG conformity index    ``V_RI / TV``                             Shaw et al. 1993
CN, Paddick conformation     ``TV_RI² / (TV × V_RI)``                  Paddick 2000
GI, Paddick gradient index   ``V_low / V_Rx`` (``low`` = 50 % Rx)      Paddick, Lippitz 2006
HI, ICRU 83 homogeneity      ``(D2% − D98%) / D50%`` of the target     ICRU Report 83
===========================  ========================================  ====================

The volumes are read from the DVHs (linear interpolation between dose edges, see
:class:`~dosecheck.core.dvh.DVH`). The body's DVH counts the body inside the dose grid
only: dose outside the grid is unknown and taken as below any reference isodose, as
planning systems do; :func:`grid_edge_max_gy` tells the caller when an isodose reaches
a face of the grid the body crosses (the volume is then cut, see
:mod:`dosecheck.checking.body`). Where an index is undefined (an empty target, no volume at the
isodose, a zero median dose) :class:`~dosecheck.errors.MetricDomainError` says why;
no value is ever invented. So it does when an isodose covers the whole body ROI inside
the grid (the body's minimum dose is at least the isodose): the isodose volume then
ends at the body's or the grid's edge, not where the dose falls below the isodose, and
any ratio of it would be too small (a GI that looks steeper than it is).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Final

import numpy as np

from dosecheck.errors import MetricDomainError

if TYPE_CHECKING:
    from dosecheck.core.dvh import DVH

__all__ = [
    "OVERLAP_TOLERANCE",
    "conformation_number",
    "conformity_index",
    "gradient_index",
    "grid_edge_max_gy",
    "homogeneity_index",
    "isodose_volumes",
]

#: How much ``TV_RI`` may exceed ``V_RI`` (relative, plus 0.05 cc) before the target is
#: said to lie outside the body: the two ROIs are sampled separately, so a target that
#: touches the skin can show a little more volume at the isodose than the body.
OVERLAP_TOLERANCE: Final = 0.01


def _fmt(x: float) -> str:
    return f"{x:.4g}"


def grid_edge_max_gy(
    dose_gy: np.ndarray,
    axes: tuple[np.ndarray, np.ndarray, np.ndarray],
    bounds: tuple[float, float, float, float, float, float],
) -> float | None:
    """The highest dose on the faces of a dose grid that a structure reaches (Gy).

    An isodose at or below it reaches the edge of the grid where the structure (the
    body) continues: the isodose volume counted inside the grid is then cut.

    Parameters
    ----------
    dose_gy
        The dose grid ``dose_gy[k, j, i]`` at ``(z[k], y[j], x[i])``.
    axes
        ``(x, y, z)``: the grid's ascending node coordinates (mm).
    bounds
        The structure's ``(x_min, x_max, y_min, y_max, z_min, z_max)`` (mm): its contour
        points and planes.

    Returns
    -------
    float or None
        The maximum dose over the grid faces whose outermost node the structure reaches
        or passes; ``None`` when it reaches none.
    """
    d = np.asarray(dose_gy)
    if d.ndim != 3 or d.size == 0:
        raise ValueError(f"a dose grid has three non-empty axes, not the shape {d.shape}")
    x, y, z = (np.asarray(a, dtype=np.float64) for a in axes)
    x0, x1, y0, y1, z0, z1 = bounds
    faces = []
    for lo, hi, nodes, axis in ((x0, x1, x, 2), (y0, y1, y, 1), (z0, z1, z, 0)):
        if lo <= nodes[0]:
            faces.append(np.take(d, 0, axis=axis))
        if hi >= nodes[-1]:
            faces.append(np.take(d, -1, axis=axis))
    if not faces:
        return None
    return float(max(float(np.max(f)) for f in faces))


def _require_isodose_inside(body: DVH, dose_gy: float, what: str) -> None:
    """Refuse an isodose the whole body ROI (inside the dose grid) receives.

    Raises
    ------
    MetricDomainError
        When ``body.min_gy >= dose_gy``: the isodose volume is then cut by the body's
        (or the dose grid's) edge, so its true size is unknown.
    """
    if body.min_gy >= dose_gy:
        raise MetricDomainError(
            f"the {what} {_fmt(dose_gy)} Gy covers the whole body ROI {body.name!r} inside "
            f"the dose grid (its minimum dose is {_fmt(body.min_gy)} Gy): the isodose volume "
            "is cut at the edge of the body or of the dose grid, so its size is unknown; "
            "check that the body ROI is the whole patient and the dose grid covers it"
        )


def isodose_volumes(target: DVH, body: DVH, reference_gy: float) -> tuple[float, float, float]:
    """``(TV, TV_RI, V_RI)`` in cc at the reference isodose ``reference_gy``.

    Raises
    ------
    MetricDomainError
        When the target has no volume inside the dose grid, the reference dose is not
        positive, the body is no larger than the target (within
        :data:`OVERLAP_TOLERANCE`), no body volume receives the reference dose, or the
        target's volume
        at the isodose exceeds the body's (the target lies outside the body ROI), or
        the whole body receives the reference dose (the isodose volume is cut at the
        body's or the dose grid's edge).
    """
    if not (math.isfinite(reference_gy) and reference_gy > 0):
        raise MetricDomainError(
            f"the reference isodose must be a positive dose, not {reference_gy!r} Gy"
        )
    if target.is_empty:
        raise MetricDomainError(
            f"target {target.name!r} has no volume inside the dose grid: no conformity index"
        )
    if body.is_empty:
        raise MetricDomainError(
            f"body ROI {body.name!r} has no volume inside the dose grid: no conformity index"
        )
    tv = float(target.volume_cc)
    tv_ri = float(target.volume_at_dose(reference_gy))
    v_ri = float(body.volume_at_dose(reference_gy))
    if not v_ri > 0:
        raise MetricDomainError(
            f"no volume of the body ROI {body.name!r} receives {_fmt(reference_gy)} Gy (its "
            f"maximum is {_fmt(body.max_gy)} Gy): the isodose volume is empty"
        )
    if tv_ri > v_ri * (1 + OVERLAP_TOLERANCE) + 0.05:
        raise MetricDomainError(
            f"{_fmt(tv_ri)} cc of target {target.name!r} receives {_fmt(reference_gy)} Gy but "
            f"only {_fmt(v_ri)} cc of the body ROI {body.name!r} does: the target lies partly "
            "outside the body ROI, which therefore is not the whole patient"
        )
    if body.volume_cc <= tv * (1 + OVERLAP_TOLERANCE) + 0.05:
        raise MetricDomainError(
            f"the body ROI {body.name!r} ({_fmt(body.volume_cc)} cc inside the dose grid) is "
            f"no larger than target {target.name!r} ({_fmt(tv)} cc): it is not the whole "
            "patient, so its isodose volume is not the plan's"
        )
    _require_isodose_inside(body, reference_gy, "reference isodose")
    return tv, tv_ri, max(v_ri, tv_ri)


def conformity_index(target: DVH, body: DVH, reference_gy: float) -> float:
    """RTOG conformity index ``V_RI / TV`` (Shaw et al. 1993): 1 for an isodose volume
    as large as the target, above 1 when it is larger; blind to where it lies."""
    tv, _, v_ri = isodose_volumes(target, body, reference_gy)
    return v_ri / tv


def conformation_number(target: DVH, body: DVH, reference_gy: float) -> float:
    """Paddick's conformation number ``TV_RI² / (TV × V_RI)`` (Paddick 2000; van't
    Riet et al. 1997): the target's coverage ``TV_RI / TV`` times the isodose volume's
    selectivity ``TV_RI / V_RI``; 1 for a perfect fit, between 0 and 1 otherwise."""
    tv, tv_ri, v_ri = isodose_volumes(target, body, reference_gy)
    return tv_ri * tv_ri / (tv * v_ri)


def gradient_index(body: DVH, low_gy: float, prescription_gy: float) -> float:
    """Paddick's gradient index ``V_low / V_Rx`` (Paddick & Lippitz 2006): the body
    volume receiving ``low_gy`` (half the prescription in the original) over the body
    volume receiving the prescription dose; at least 1, smaller is steeper.

    Raises
    ------
    MetricDomainError
        When ``low_gy`` is not below the prescription, no body volume receives the
        prescription dose, or the whole body receives ``low_gy`` (the low isodose volume
        is cut at the body's or the dose grid's edge).
    """
    if not (math.isfinite(prescription_gy) and prescription_gy > 0):
        raise MetricDomainError(
            f"the gradient index needs a positive prescription dose, not {prescription_gy!r}"
        )
    if not (math.isfinite(low_gy) and 0 < low_gy < prescription_gy):
        raise MetricDomainError(
            f"the gradient index's low isodose ({_fmt(low_gy)} Gy) must lie between 0 and "
            f"the prescription ({_fmt(prescription_gy)} Gy)"
        )
    if body.is_empty:
        raise MetricDomainError(
            f"body ROI {body.name!r} has no volume inside the dose grid: no gradient index"
        )
    v_rx = float(body.volume_at_dose(prescription_gy))
    if not v_rx > 0:
        raise MetricDomainError(
            f"no volume of the body ROI {body.name!r} receives the prescription "
            f"{_fmt(prescription_gy)} Gy (its maximum is {_fmt(body.max_gy)} Gy): the "
            "gradient index is undefined"
        )
    _require_isodose_inside(body, low_gy, "gradient index's low isodose")
    return float(body.volume_at_dose(low_gy)) / v_rx


def homogeneity_index(target: DVH) -> float:
    """ICRU Report 83 homogeneity index ``(D2% − D98%) / D50%`` of the target: 0 for a
    uniform dose, larger for a less homogeneous one.

    Raises
    ------
    MetricDomainError
        When the target has no volume inside the dose grid or its median dose is 0.
    """
    if target.is_empty:
        raise MetricDomainError(
            f"target {target.name!r} has no volume inside the dose grid: no homogeneity index"
        )
    d2 = target.dose_at_volume_percent(2.0)
    d98 = target.dose_at_volume_percent(98.0)
    d50 = target.dose_at_volume_percent(50.0)
    if not d50 > 0:
        raise MetricDomainError(
            f"the median dose of target {target.name!r} is 0 Gy: the homogeneity index "
            "(D2% − D98%) / D50% is undefined"
        )
    return float((d2 - d98) / d50)
