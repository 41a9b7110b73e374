"""The DVHs a check needs, computed once each, on first request.

:class:`DVHCache` is the ``roi -> DVH`` source that
:func:`dosecheck.checking.evaluate.evaluate_constraints` calls. It prepares the dose
field once, uses the structure set's contour spacing for end caps (as
:func:`dosecheck.core.structures.compute_dvhs` does), and keeps, beside each DVH in the
check's end-cap convention, the DVH in the other cheap convention (half-slice and none
come from one engine pass) for the borderline ranges. What the loader computed already
(:attr:`dosecheck.model.Plan.shared_dvhs`: the dose field and the dose-scale check's
target DVHs) is reused, not computed again.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from dosecheck.core.structures import (
    SetSpacing,
    StructureDVH,
    end_cap_spacing,
    select_structures,
)

if TYPE_CHECKING:
    from dosecheck.core.dvh import DVH
    from dosecheck.core.engine import DoseField, EngineSettings
    from dosecheck.model import Plan, Structure

__all__ = ["DVHCache"]


class DVHCache:
    """A plan's DVHs by ROI name, computed on first request.

    Attributes
    ----------
    items
        The DVHs in the check's convention, in the order first needed.
    alternates
        ``{roi: {convention: DVH}}``: the same ROI in the other conventions computed
        (``half-slice`` and ``none`` from the one pass; ``shape`` when asked for with
        :meth:`in_convention`).
    """

    def __init__(self, plan: Plan, settings: EngineSettings | None) -> None:
        from dosecheck.core.engine import EngineSettings

        self.plan = plan
        self.settings = settings or EngineSettings()
        self.spacing = SetSpacing(plan.structure_set)
        self.field: DoseField | None = None
        self.items: dict[str, StructureDVH] = {}
        self.alternates: dict[str, dict[str, DVH]] = {}
        self.eqd2_fields: dict[float, DoseField] = {}
        self.eqd2_items: dict[tuple[str, float], DVH] = {}

    def grid_edge_max_gy(self, roi: str) -> float | None:
        """The highest dose on the dose grid's faces that ROI ``roi`` reaches (Gy), or
        ``None`` (:func:`dosecheck.core.plan_quality.grid_edge_max_gy`)."""
        from dosecheck.core.plan_quality import grid_edge_max_gy

        s = self._structure(roi)
        if s.is_empty:
            return None
        xy, planes = s.xy, s.z
        bounds = (
            float(xy[:, 0].min()),
            float(xy[:, 0].max()),
            float(xy[:, 1].min()),
            float(xy[:, 1].max()),
            float(planes.min()),
            float(planes.max()),
        )
        grid = self.plan.dose
        return grid_edge_max_gy(grid.dose_gy, (grid.x, grid.y, grid.z), bounds)

    @property
    def convention(self) -> str:
        """The check's end-cap convention."""
        return str(self.settings.end_caps)

    def _field(self) -> DoseField:
        from dosecheck.core.engine import DoseField

        if self.field is None:
            shared = self.plan.shared_dvhs
            self.field = (shared.field_for(self.plan.dose) if shared else None) or DoseField(
                self.plan.dose
            )
        return self.field

    def _structure(self, roi: str) -> Structure:
        return select_structures(self.plan.structure_set, [roi])[0]

    def __call__(self, roi: str) -> DVH:
        if roi not in self.items:
            from dosecheck.core.end_caps import EndCaps
            from dosecheck.core.engine import compute_dvh, compute_dvh_variants

            structure = self._structure(roi)
            thickness = end_cap_spacing(structure, self.spacing)
            caps = EndCaps(self.settings.end_caps)
            shared = self.plan.shared_dvhs
            known = shared.known(structure, self.plan.dose, self.settings) if shared else None
            if known is not None and caps in known:  # computed while loading
                dvh = known[caps]
                self.alternates[roi] = {str(k): v for k, v in known.items() if k is not caps}
            elif caps is EndCaps.SHAPE:
                dvh = compute_dvh(
                    structure, self._field(), slice_thickness_mm=thickness, settings=self.settings
                )
                self.alternates[roi] = {}
            else:
                both = compute_dvh_variants(
                    structure, self._field(), slice_thickness_mm=thickness, settings=self.settings
                )
                dvh = both[caps]
                self.alternates[roi] = {str(k): v for k, v in both.items() if k is not caps}
            self.items[roi] = StructureDVH(structure=structure, dvh=dvh)
        return self.items[roi].dvh

    def in_convention(self, roi: str, convention: str) -> DVH:
        """The DVH of ``roi`` with end caps ``convention`` (computed on first request)."""
        self(roi)
        if convention == self.convention:
            return self.items[roi].dvh
        known = self.alternates.setdefault(roi, {})
        if convention not in known:
            from dosecheck.core.end_caps import EndCaps
            from dosecheck.core.engine import compute_dvh

            structure = self._structure(roi)
            settings = dataclasses.replace(self.settings, end_caps=EndCaps(convention))
            known[convention] = compute_dvh(
                structure,
                self._field(),
                slice_thickness_mm=end_cap_spacing(structure, self.spacing),
                settings=settings,
            )
        return known[convention]

    def eqd2(self, roi: str, alpha_beta: float) -> DVH:
        """The DVH of ``roi`` in the voxel-wise EQD2 sum of the plan sum's parts with
        this α/β (one dose field per distinct α/β, built on first request)."""
        key = (roi, float(alpha_beta))
        if key not in self.eqd2_items:
            from dosecheck.core.engine import DoseField, compute_dvh
            from dosecheck.core.eqd2 import eqd2_sum

            plan_sum = self.plan.plan_sum
            assert plan_sum is not None
            ab = float(alpha_beta)
            if ab not in self.eqd2_fields:
                dose = eqd2_sum(plan_sum.part_doses_gy, plan_sum.fractions, ab)
                grid = dataclasses.replace(self.plan.dose, dose_gy=dose)
                self.eqd2_fields[ab] = DoseField(grid)
            structure = self._structure(roi)
            self.eqd2_items[key] = compute_dvh(
                structure,
                self.eqd2_fields[ab],
                slice_thickness_mm=end_cap_spacing(structure, self.spacing),
                settings=self.settings,
            )
        return self.eqd2_items[key]
