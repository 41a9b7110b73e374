"""Sum several RT Dose grids, and check a plan dose against the sum of its beams' doses.

* :func:`combine_doses`: the doses of one plan (per-beam doses, or the parts of a plan
  sum) added on one grid, resampled trilinearly when their grids differ.
* :func:`compare_beam_doses`: a PLAN dose against the sum of its BEAM doses, within the
  tolerance their quantisation and the interpolation allow.

The grids come from :func:`dosecheck.dicom.dose.read_rtdose`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from dosecheck.dicom.dose import COORD_TOLERANCE_MM
from dosecheck.errors import DicomInputError
from dosecheck.model import BeamDoseCheck, DoseGrid

__all__ = ["combine_doses", "compare_beam_doses"]


def _same_grid(a: DoseGrid, b: DoseGrid) -> bool:
    if a.shape != b.shape:
        return False
    return all(
        np.allclose(u, v, rtol=0.0, atol=COORD_TOLERANCE_MM)
        for u, v in ((a.x, b.x), (a.y, b.y), (a.z, b.z))
    )


def _linear_weights(
    src: np.ndarray, dst: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Indices and weights to interpolate along one axis from ``src`` to ``dst``.

    Returns ``(i0, i1, w1, inside)``: value = ``(1 - w1) f[i0] + w1 f[i1]``;
    ``inside`` is False where ``dst`` lies outside ``src`` (beyond the tolerance).
    """
    n = src.size
    inside = (dst >= src[0] - COORD_TOLERANCE_MM) & (dst <= src[-1] + COORD_TOLERANCE_MM)
    if n == 1:
        zeros = np.zeros(dst.size, dtype=np.int64)
        return zeros, zeros, np.zeros(dst.size), inside
    i0 = np.clip(np.searchsorted(src, dst, side="right") - 1, 0, n - 2)
    i1 = i0 + 1
    w1 = np.clip((dst - src[i0]) / (src[i1] - src[i0]), 0.0, 1.0)
    return i0, i1, w1, inside


def _resample(
    grid: DoseGrid, x: np.ndarray, y: np.ndarray, z: np.ndarray
) -> tuple[np.ndarray, int]:
    """Trilinear interpolation of ``grid`` at the rectilinear points (z, y, x).

    Separable: interpolate along x, then y, then z (identical to trilinear).
    Points outside ``grid`` get 0. Returns the float32 array and the number of
    outside points.
    """
    f, inside = _resample_values(grid, grid.dose_gy, x, y, z)
    return f, int(inside.size - np.count_nonzero(inside))


def _resample_values(
    grid: DoseGrid, values: np.ndarray, x: np.ndarray, y: np.ndarray, z: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``values`` (on ``grid``'s nodes) interpolated trilinearly at (z, y, x), 0
    outside the grid, and the mask of the points inside."""
    f = values
    ix0, ix1, wx, inx = _linear_weights(grid.x, x)
    f = f[:, :, ix0] * (1.0 - wx).astype(np.float32) + f[:, :, ix1] * wx.astype(np.float32)
    iy0, iy1, wy, iny = _linear_weights(grid.y, y)
    wy32 = wy.astype(np.float32)[:, None]
    f = f[:, iy0, :] * (1.0 - wy32) + f[:, iy1, :] * wy32
    iz0, iz1, wz, inz = _linear_weights(grid.z, z)
    wz32 = wz.astype(np.float32)[:, None, None]
    f = f[iz0] * (1.0 - wz32) + f[iz1] * wz32
    inside = inz[:, None, None] & iny[None, :, None] & inx[None, None, :]
    f = np.where(inside, f, np.float32(0.0)).astype(np.float32, copy=False)
    return f, inside


def _label(grid: DoseGrid) -> str:
    return ", ".join(Path(s).name for s in grid.sources) or "dose grid"


def combine_doses(grids: Sequence[DoseGrid], *, resample: bool = True) -> DoseGrid:
    """Sum several dose grids of one FrameOfReference.

    Parameters
    ----------
    grids
        Doses to add, e.g. one RTDOSE per beam or per plan.
    resample
        When the grids differ, resample the others onto the first grid with
        trilinear interpolation (points outside a grid contribute 0 and a note
        says so). When False, differing grids raise.

    Returns
    -------
    DoseGrid
        The sum on the first grid. BEAM doses summed give ``"PLAN"``; ``notes``
        record what was done. A single grid is returned unchanged.

    Raises
    ------
    DicomInputError
        No grids; different FrameOfReferenceUIDs; mixed DoseSummationTypes (e.g.
        PLAN and BEAM); different grids with ``resample=False``.
    """
    grids = list(grids)
    if not grids:
        raise DicomInputError("no dose grids to combine; pass at least one RTDOSE file")
    if len(grids) == 1:
        return grids[0]
    base = grids[0]

    frames = {g.frame_of_reference_uid for g in grids if g.frame_of_reference_uid}
    if len(frames) > 1:
        listing = "; ".join(f"{_label(g)}: {g.frame_of_reference_uid or '-'}" for g in grids)
        raise DicomInputError(
            f"the dose files have different FrameOfReferenceUIDs ({listing}); doses in "
            "different coordinate systems cannot be summed. Pass only the doses of one plan",
            path=grids[0].sources[0] if grids[0].sources else None,
            tag="FrameOfReferenceUID",
        )
    types = [g.summation_type.upper() or "PLAN" for g in grids]
    if len(set(types)) > 1:
        listing = "; ".join(f"{_label(g)}: {t}" for g, t in zip(grids, types, strict=True))
        raise DicomInputError(
            f"cannot sum doses of different DoseSummationType ({listing}); pass either the "
            "plan dose or the per-beam doses, not both",
            path=grids[0].sources[0] if grids[0].sources else None,
            tag="DoseSummationType",
        )
    kind = types[0]
    result_type = "PLAN" if kind == "BEAM" else kind

    notes: list[str] = [n for g in grids for n in g.notes]
    total = np.array(base.dose_gy, dtype=np.float32, copy=True)
    for g in grids[1:]:
        if _same_grid(base, g):
            total += g.dose_gy
            continue
        if not resample:
            raise DicomInputError(
                f"dose grid of {_label(g)} ({g.shape[2]}×{g.shape[1]}×{g.shape[0]}) differs "
                f"from that of {_label(base)} ({base.shape[2]}×{base.shape[1]}×"
                f"{base.shape[0]}); enable resampling or export the doses on one grid",
                path=g.sources[0] if g.sources else None,
                tag="ImagePositionPatient",
            )
        values, outside = _resample(g, base.x, base.y, base.z)
        total += values
        note = f"resampled {_label(g)} onto the grid of {_label(base)} (trilinear)"
        if outside:
            note += (
                f"; {outside:,} of {values.size:,} points lie outside that dose grid and "
                "received 0 Gy from it"
            )
        notes.append(note)
    notes.append(
        f"summed {len(grids)} {kind} doses"
        + (" into a PLAN dose" if kind == "BEAM" else "")
        + f" ({', '.join(_label(g) for g in grids)})"
    )
    plan_uids = {g.referenced_plan_uid for g in grids if g.referenced_plan_uid}
    return DoseGrid(
        x=base.x,
        y=base.y,
        z=base.z,
        dose_gy=total,
        frame_of_reference_uid=next(iter(frames), ""),
        summation_type=result_type,
        sources=tuple(s for g in grids for s in g.sources),
        sop_instance_uids=tuple(u for g in grids for u in g.sop_instance_uids),
        referenced_plan_uid=base.referenced_plan_uid or (min(plan_uids) if plan_uids else ""),
        notes=tuple(notes),
        referenced_beam_numbers=tuple(n for g in grids for n in g.referenced_beam_numbers),
    )


# --------------------------------------------------------------------------- beam check
#: Safety factor on the trilinear-interpolation error bound estimated from second
#: differences (they sample the curvature only at the nodes).
_INTERPOLATION_SAFETY = 2.0


def _interpolation_bound(grid: DoseGrid) -> np.ndarray:
    """Per node, a bound on the trilinear interpolation error near it (Gy).

    In a cell of widths h, trilinear interpolation is off by at most
    Σ h²/8 · max|∂²f/∂a²|. The second derivatives are estimated by second divided
    differences at the nodes, taken as their maximum over each node's neighbours
    (so a cell's bound covers all its corners) and multiplied by
    :data:`_INTERPOLATION_SAFETY`.
    """
    f = grid.dose_gy.astype(np.float64)
    bound = np.zeros(f.shape, dtype=np.float64)
    for axis, coords in ((2, grid.x), (1, grid.y), (0, grid.z)):
        n = coords.size
        if n < 3:
            continue
        h = np.diff(coords)
        shape = [1, 1, 1]
        shape[axis] = n - 1
        slope = np.diff(f, axis=axis) / h.reshape(shape)
        shape[axis] = n - 2
        d2 = np.abs(np.diff(slope, axis=axis)) * 2.0 / (h[:-1] + h[1:]).reshape(shape)
        d2 = np.concatenate(
            [np.take(d2, [0], axis=axis), d2, np.take(d2, [n - 3], axis=axis)], axis=axis
        )
        bound += d2 * (float(h.max()) ** 2 / 8.0)
    for axis in range(3):  # maximum over the neighbours along every axis
        if bound.shape[axis] > 1:
            lo = np.take(bound, range(bound.shape[axis] - 1), axis=axis)
            hi = np.take(bound, range(1, bound.shape[axis]), axis=axis)
            pair = np.maximum(lo, hi)
            first = np.take(pair, [0], axis=axis)
            last = np.take(pair, [pair.shape[axis] - 1], axis=axis)
            inner = np.maximum(
                np.take(pair, range(pair.shape[axis] - 1), axis=axis),
                np.take(pair, range(1, pair.shape[axis]), axis=axis),
            )
            bound = np.concatenate([first, inner, last], axis=axis)
    return (bound * _INTERPOLATION_SAFETY).astype(np.float32)


def compare_beam_doses(plan_dose: DoseGrid, beams: Sequence[DoseGrid]) -> BeamDoseCheck:
    """Compare a PLAN dose with the sum of its BEAM doses, voxel by voxel.

    The beams are summed on the PLAN grid (resampled trilinearly where their grid
    differs) and compared at the PLAN voxels inside every beam grid. Each file's
    values are multiples of its DoseGridScaling, so they may differ by half a step
    of the PLAN dose plus half a step of each beam; float32 rounding and, for
    resampled beams, a bound on the interpolation error
    (:func:`_interpolation_bound`) are added.

    Returns
    -------
    BeamDoseCheck
        The largest difference and where it is (the largest among the voxels beyond
        their tolerance, when there are any).

    Raises
    ------
    DicomInputError
        No beams; a FrameOfReferenceUID that differs from the PLAN dose's; beam grids
        that do not overlap the PLAN grid.
    """
    if not beams:
        raise DicomInputError("no BEAM doses to compare with the PLAN dose")
    frames = {g.frame_of_reference_uid for g in (plan_dose, *beams) if g.frame_of_reference_uid}
    if len(frames) > 1:
        listing = "; ".join(
            f"{_label(g)}: {g.frame_of_reference_uid or '-'}" for g in (plan_dose, *beams)
        )
        raise DicomInputError(
            f"the PLAN dose and its BEAM doses have different FrameOfReferenceUIDs "
            f"({listing}); pass the doses of one plan with --rtdose",
            path=plan_dose.sources[0] if plan_dose.sources else None,
            tag="FrameOfReferenceUID",
        )
    total = np.zeros(plan_dose.shape, dtype=np.float32)
    inside = np.ones(plan_dose.shape, dtype=bool)
    interpolation = np.zeros(plan_dose.shape, dtype=np.float32)
    resampled = False
    for b in beams:
        if _same_grid(plan_dose, b):
            total += b.dose_gy
            continue
        resampled = True
        values, in_b = _resample_values(b, b.dose_gy, plan_dose.x, plan_dose.y, plan_dose.z)
        total += values
        inside &= in_b
        bound, _ = _resample_values(
            b, _interpolation_bound(b), plan_dose.x, plan_dose.y, plan_dose.z
        )
        interpolation += bound
    n_compared = int(np.count_nonzero(inside))
    if n_compared == 0:
        raise DicomInputError(
            f"the BEAM doses ({', '.join(_label(b) for b in beams)}) do not overlap the grid "
            "of the PLAN dose; pass the doses of one plan with --rtdose",
            path=plan_dose.sources[0] if plan_dose.sources else None,
            tag="ImagePositionPatient",
        )
    quantisation = 0.5 * (plan_dose.scaling_gy + sum(b.scaling_gy for b in beams))
    top = max(float(plan_dose.dose_gy.max()), float(total.max()), 0.0)
    rounding = (len(beams) + 2) * float(np.finfo(np.float32).eps) * top
    diff = np.abs(plan_dose.dose_gy - total)
    tolerance = interpolation + np.float32(quantisation + rounding)
    beyond = inside & (diff > tolerance)
    consistent = not bool(np.any(beyond))
    flat = int(np.argmax(np.where(inside if consistent else beyond, diff, -1.0)))
    k, j, i = np.unravel_index(flat, plan_dose.shape)
    return BeamDoseCheck(
        plan_dose=plan_dose.sources[0] if plan_dose.sources else "",
        beam_doses=tuple(s for b in beams for s in b.sources),
        max_abs_diff_gy=float(diff[k, j, i]),
        at_mm=(float(plan_dose.x[i]), float(plan_dose.y[j]), float(plan_dose.z[k])),
        tolerance_gy=float(tolerance[k, j, i]),
        consistent=consistent,
        resampled=resampled,
        n_compared=n_compared,
    )
