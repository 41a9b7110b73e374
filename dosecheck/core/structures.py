"""DVHs of a plan's structures: which structures, which end caps, and the DVH of each.

The end-cap *convention* (half-slice, none, shape) is :class:`EndCaps`
(:mod:`dosecheck.core.end_caps`); the functions here give the *spacing* the caps use.

The glue between the plan data (:mod:`dosecheck.model`) and the engine
(:mod:`dosecheck.core.engine`): :func:`select_structures` picks ROIs by name,
:func:`structure_set_spacing` and :func:`end_cap_spacing` give the contour spacing
the end caps use, and :func:`compute_dvhs` runs the engine over the chosen
structures (optionally on forked worker processes). The engine is imported inside
the functions so that importing this module stays cheap.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from dosecheck.core.arrays import unique_values
from dosecheck.core.end_caps import EndCaps
from dosecheck.errors import InputError

__all__ = [
    "EndCaps",
    "SetSpacing",
    "SharedDVHs",
    "StructureDVH",
    "compute_dvhs",
    "end_cap_spacing",
    "select_structures",
    "structure_set_spacing",
]

if TYPE_CHECKING:
    from dosecheck.core.dvh import DVH
    from dosecheck.core.engine import DoseField, EngineSettings
    from dosecheck.core.tps_plan import TpsReconciliation
    from dosecheck.model import DoseGrid, Plan, Structure, StructureSet


@dataclass(frozen=True, eq=False)
class StructureDVH:
    """A structure and its DVH (and, when compared, the planning system's)."""

    structure: Structure
    dvh: DVH
    tps: TpsReconciliation | None = None


class SharedDVHs:
    """One dose grid's prepared dose field and the DVHs computed on it, shared by the
    steps of one run (issue #11: work shared between steps is done once per plan).

    The loader's dose-scale check needs the target's median (its DVH); the check and
    ``dvh`` then need that same DVH, and a prepared :class:`DoseField` of the same
    grid. Each DVH is computed with the engine's default settings and the structure
    set's end-cap spacing (as :func:`compute_dvhs` and the check compute them), with
    the half-slice and none conventions from one pass.

    Parameters
    ----------
    grid
        The dose grid, as it will be used (nothing is reused for another grid object).
    structure_set
        The structure set whose structures are asked for.
    """

    def __init__(self, grid: DoseGrid, structure_set: StructureSet) -> None:
        self.grid = grid
        self.spacing = SetSpacing(structure_set)
        self._field: DoseField | None = None
        self._dvhs: dict[int, tuple[Structure, dict[EndCaps, DVH]]] = {}

    @property
    def field(self) -> DoseField:
        """The prepared dose field of :attr:`grid` (built on first use)."""
        if self._field is None:
            from dosecheck.core.engine import DoseField

            self._field = DoseField(self.grid)
        return self._field

    def variants(self, structure: Structure) -> dict[EndCaps, DVH]:
        """The half-slice and none DVHs of ``structure`` (computed on first request)."""
        known = self._dvhs.get(id(structure))
        if known is None or known[0] is not structure:
            from dosecheck.core.engine import compute_dvh_variants

            dvhs = compute_dvh_variants(
                structure,
                self.field,
                slice_thickness_mm=end_cap_spacing(structure, self.spacing),
            )
            known = (structure, dvhs)
            self._dvhs[id(structure)] = known
        return known[1]

    def dvh(self, structure: Structure) -> DVH:
        """The half-slice DVH of ``structure`` (what :func:`compute_dvh` gives)."""
        return self.variants(structure)[EndCaps.HALF_SLICE]

    def known(
        self, structure: Structure, grid: DoseGrid, settings: EngineSettings | None
    ) -> dict[EndCaps, DVH] | None:
        """The DVHs already computed for ``structure`` on ``grid`` with ``settings``
        (whatever their end-cap convention), or ``None``: another grid, other settings,
        or not computed."""
        if grid is not self.grid:
            return None
        known = self._dvhs.get(id(structure))
        if known is None or known[0] is not structure:
            return None
        from dosecheck.core.engine import EngineSettings

        if settings is not None and replace(settings, end_caps=EndCaps.HALF_SLICE) != (
            EngineSettings()
        ):
            return None
        return known[1]

    def field_for(self, grid: DoseGrid) -> DoseField | None:
        """The prepared field when ``grid`` is this grid and it was built already."""
        return self._field if grid is self.grid else None


def structure_set_spacing(structure_set: StructureSet) -> float | None:
    """The most common contour-plane spacing over all ROIs (mm), or None."""
    diffs = []
    for s in structure_set.structures:
        planes = unique_values(np.round(s.z, 3))
        if planes.size > 1:
            diffs.append(np.round(np.diff(planes), 2))
    if not diffs:
        return None
    values, counts = np.unique(np.concatenate(diffs), return_counts=True)
    return float(values[np.argmax(counts)])


class SetSpacing:
    """:func:`structure_set_spacing` of a structure set, computed when first asked for.

    Only a single-plane ROI needs the set's spacing, and computing it reads every ROI's
    geometry: a check on a few ROIs of a deferred structure set
    (:meth:`~dosecheck.model.Structure.deferred`) need not (issue #11). Pass it where
    :func:`end_cap_spacing` takes ``set_spacing``.
    """

    def __init__(self, structure_set: StructureSet) -> None:
        self._structure_set = structure_set
        self._value: float | None = None
        self._known = False

    def __call__(self) -> float | None:
        if not self._known:
            self._value = structure_set_spacing(self._structure_set)
            self._known = True
        return self._value


def end_cap_spacing(structure: Structure, set_spacing: float | SetSpacing | None) -> float | None:
    """Contour spacing for a structure's end caps: its own plane spacing, else the set's.

    ``set_spacing`` is :func:`structure_set_spacing` of the structure set (computed once
    per set by the caller), or a :class:`SetSpacing` that computes it only if needed;
    a single-plane ROI has no spacing of its own.
    """
    from dosecheck.core.engine import contour_spacing

    own = contour_spacing(unique_values(np.round(structure.z, 3)))
    if own:
        return own
    return set_spacing() if isinstance(set_spacing, SetSpacing) else set_spacing


def require_shape() -> None:
    """Refuse ``end_caps="shape"`` without SciPy (the ``shape`` extra), in one message."""
    from dosecheck._optional import require

    require("scipy.ndimage", extra="shape", feature="end caps 'shape'")


def select_structures(structure_set: StructureSet, names: Iterable[str] | None) -> list[Structure]:
    """The structures named (exact, then case-insensitive), or all of them.

    Raises
    ------
    InputError
        When a name matches no ROI; the message lists the ROIs present.
    """
    structures = list(structure_set.structures)
    if not names:
        return structures
    chosen: list[Structure] = []
    for name in names:
        hits = [s for s in structures if s.name == name] or [
            s for s in structures if s.name.casefold() == name.casefold()
        ]
        if not hits:
            present = ", ".join(s.name for s in structures)
            raise InputError(
                f"no ROI named {name!r}; ROIs present: {present}", path=structure_set.path
            )
        chosen.extend(h for h in hits if h not in chosen)
    return chosen


def compute_dvhs(
    plan: Plan,
    structures: Iterable[str] | None = None,
    *,
    settings: EngineSettings | None = None,
    jobs: int = 1,
    end_caps: EndCaps | str | None = None,
) -> list[StructureDVH]:
    """Compute the DVH of each selected structure (all when ``structures`` is None).

    Parameters
    ----------
    settings
        DVH engine settings (defaults to the engine's).
    end_caps
        End-cap convention, ``"half-slice"`` (default), ``"none"`` or ``"shape"``
        (:class:`~dosecheck.core.end_caps.EndCaps`); overrides ``settings.end_caps``.
    jobs
        Processes computing the structures: this one and ``jobs - 1`` forked copies
        (Linux ``fork`` only, :mod:`dosecheck.core.forked`; elsewhere, or with
        ``jobs=1``, the structures are computed one after another in this process).
        Results do not depend on it.

    Examples
    --------
    From the repository root, on a shipped sample plan:

    >>> from dosecheck.api import compute_dvhs, load_plan
    >>> plan = load_plan("sample_plans/long_course_pass")
    >>> (bowel,) = compute_dvhs(plan, ["Bag_Bowel"])
    >>> bowel.structure.name, round(bowel.dvh.volume_cc, 1), round(bowel.dvh.mean_gy, 2)
    ('Bag_Bowel', 1442.9, 23.26)
    >>> round(bowel.dvh.volume_at_dose(30.0), 1), round(bowel.dvh.volume_at_dose(45.0), 1)
    (239.6, 110.6)
    """
    from dosecheck.core.engine import DoseField, EngineSettings

    if end_caps is not None:
        settings = replace(settings or EngineSettings(), end_caps=EndCaps(end_caps))
    if settings is not None and EndCaps(settings.end_caps) is EndCaps.SHAPE:
        require_shape()  # here, not in a worker process
    spacing = SetSpacing(plan.structure_set)
    shared = plan.shared_dvhs
    field = (shared.field_for(plan.dose) if shared else None) or DoseField(plan.dose)
    chosen = select_structures(plan.structure_set, structures)
    caps = EndCaps(settings.end_caps) if settings is not None else EndCaps.HALF_SLICE
    done: dict[int, DVH] = {}  # computed while loading (the dose-scale check's target)
    for i, s in enumerate(chosen):
        known = shared.known(s, plan.dose, settings) if shared else None
        if known is not None and caps in known:
            done[i] = known[caps]
    todo = [i for i in range(len(chosen)) if i not in done]
    tasks = [(chosen[i], spacing) for i in todo]
    done.update(zip(todo, _run_structures(field, tasks, settings, jobs), strict=True))
    return [StructureDVH(structure=s, dvh=done[i]) for i, s in enumerate(chosen)]


# The dose field and tasks a forked worker inherits (set just before the fork).
_FORK_STATE: dict[str, object] = {}


def _one_dvh(field, task: tuple[Structure, SetSpacing], settings) -> DVH:
    from dosecheck.core.engine import compute_dvh

    s, spacing = task
    thickness = end_cap_spacing(s, spacing)
    return compute_dvh(s, field, slice_thickness_mm=thickness, settings=settings)


def _dvh_task(i: int) -> tuple[DVH, tuple[np.ndarray, np.ndarray, np.ndarray] | None]:
    """A worker's DVH, and the geometry it parsed when the structure was deferred (the
    parent adopts it, so a later step that needs it does not parse it again)."""
    field, tasks, settings = (_FORK_STATE[k] for k in ("field", "tasks", "settings"))
    s = tasks[i][0]  # type: ignore[index]
    parsed_here = s.is_deferred
    dvh = _one_dvh(field, tasks[i], settings)  # type: ignore[index]
    return dvh, ((s.xy, s.offsets, s.z) if parsed_here else None)


def _run_structures(field, tasks, settings, jobs: int) -> list[DVH]:
    """DVHs of ``tasks`` (structure, set spacing), in order, on ``jobs`` processes.

    The end-cap spacing, and a deferred structure's geometry, are made where the DVH
    is computed (this process or a forked one), so the structures are parsed in
    parallel too.
    """
    import os

    from dosecheck.core.forked import can_fork, map_forked

    jobs = max(1, min(jobs, len(tasks), os.cpu_count() or 1))
    if not tasks:
        return []
    if jobs == 1 or not can_fork():
        return [_one_dvh(field, task, settings) for task in tasks]
    _FORK_STATE.update(field=field, tasks=tasks, settings=settings)
    # Largest structures first, so no process is left with the body at the end. Sized
    # by their point count: a deferred structure's contours are then parsed by the
    # process that computes it, in parallel, not here (issue #11).
    size = [s.n_points for s, _ in tasks]
    order = sorted(range(len(tasks)), key=lambda i: -size[i])
    try:
        results = map_forked(_dvh_task, order, jobs)
    finally:
        _FORK_STATE.clear()
    for i, (_, geometry) in results.items():
        if geometry is not None:
            tasks[i][0].adopt_geometry(*geometry)
    return [results[i][0] for i in range(len(tasks))]
