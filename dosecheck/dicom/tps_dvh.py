"""Read the DVHs a treatment planning system wrote into an RTDOSE (DVHSequence).

Each item of DVHSequence (3004,0050) becomes a :class:`~dosecheck.core.tps_dvh.TpsDVH`
holding the values as written; :func:`dosecheck.core.tps_dvh.tps_curve` reads it as a
curve and says what in it does not add up. DVHData is parsed from its raw bytes with
NumPy, not through pydicom's per-value decimal strings.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset

from dosecheck.core.structures import StructureDVH
from dosecheck.core.tps_dvh import TpsDVH
from dosecheck.dicom._common import quiet_pydicom, read_dataset, text
from dosecheck.dicom.structures import parse_decimal_string
from dosecheck.errors import DicomInputError
from dosecheck.model import Plan

__all__ = ["plan_tps_dvhs", "read_tps_dvhs", "reconcile_with_tps"]

_DVH_DATA = 0x30040058


def _float(item: Dataset, keyword: str) -> float | None:
    value = item.get(keyword, None)
    if value is None or value == "":
        return None
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if np.isfinite(out) else None


def _data(item: Dataset, path: str, index: int) -> np.ndarray:
    elem = item.get_item(_DVH_DATA)
    if elem is None:
        return np.zeros(0)
    try:
        if isinstance(elem, RawDataElement):
            return parse_decimal_string(elem.value or b"")
        value = elem.value
        seq = [value] if isinstance(value, str | bytes | int | float) else list(value or [])
        return np.asarray([float(v) for v in seq], dtype=np.float64)
    except (ValueError, DicomInputError) as exc:
        raise DicomInputError(
            f"DVHSequence item {index}: DVHData is not a list of numbers ({exc}); "
            "export the dose again or compare without --compare-tps",
            path=path,
            tag="DVHData",
        ) from exc


@quiet_pydicom
def read_tps_dvhs(path: str | Path) -> list[TpsDVH]:
    """Every DVHSequence item of an RTDOSE, in file order (empty when it has none).

    Raises
    ------
    DicomInputError
        The file is not an RTDOSE, or a DVHData value is not numeric.
    """
    ds = read_dataset(path, modality="RTDOSE", stop_before_pixels=True)
    norm = _float(ds, "DVHNormalizationDoseValue")
    refs = ds.get("ReferencedStructureSetSequence", None) or []
    ss_uid = text(refs[0], "ReferencedSOPInstanceUID") if refs else ""
    out: list[TpsDVH] = []
    for index, item in enumerate(ds.get("DVHSequence", None) or [], start=1):
        rois = tuple(
            (
                int(r.ReferencedROINumber),
                (text(r, "DVHROIContributionType") or "INCLUDED").upper(),
            )
            for r in item.get("DVHReferencedROISequence", None) or []
            if r.get("ReferencedROINumber", None) is not None
        )
        data = _data(item, str(path), index)
        odd = data.size % 2 == 1
        data = data[: data.size - odd]
        bins = item.get("DVHNumberOfBins", None)
        scaling = _float(item, "DVHDoseScaling")
        out.append(
            TpsDVH(
                item=index,
                rois=rois,
                dvh_type=text(item, "DVHType").upper(),
                dose_units=text(item, "DoseUnits").upper(),
                dose_type=text(item, "DoseType").upper(),
                volume_units=text(item, "DVHVolumeUnits").upper(),
                dose_scaling=1.0 if scaling is None else scaling,
                declared_bins=int(bins) if bins not in (None, "") else None,
                widths=data[0::2].copy(),
                values=data[1::2].copy(),
                minimum_dose=_float(item, "DVHMinimumDose"),
                maximum_dose=_float(item, "DVHMaximumDose"),
                mean_dose=_float(item, "DVHMeanDose"),
                normalization_dose=norm,
                odd_data_length=odd,
                source=str(path),
                structure_set_uid=ss_uid,
            )
        )
    return out


def plan_tps_dvhs(plan: Plan) -> tuple[list[TpsDVH], str]:
    """The TPS DVHs that describe a loaded plan's dose, or why there are none.

    Only a plan whose dose is one RTDOSE file has them: the DVHs of a plan sum's parts,
    or of BEAM doses added up, are not DVHs of the dose checked. A dose the loader
    multiplied by the fraction count has its TPS DVHs scaled alike.

    Returns
    -------
    dvhs, unavailable
        The DVHSequence items, and a sentence when the plan's dose cannot have any
        (``""`` otherwise; an RTDOSE without a DVHSequence gives ``([], "")``).
    """
    if plan.plan_sum is not None:
        return [], "the dose is a plan sum; the TPS's DVHs in its parts' RTDOSEs are not of it"
    if len(plan.files.rtdose) != 1:
        n = len(plan.files.rtdose)
        return [], f"the dose is the sum of {n} RTDOSE files; their TPS DVHs are not of the sum"
    dvhs = read_tps_dvhs(plan.files.rtdose[0])
    loaded = plan.structure_set.sop_instance_uid
    theirs = next((t.structure_set_uid for t in dvhs if t.structure_set_uid), "")
    if dvhs and theirs and loaded and theirs != loaded:
        # ROI numbers mean nothing across structure sets: never match them.
        return [], (
            f"the RTDOSE's DVHs are of structure set {theirs} (ReferencedStructureSetSequence, "
            f"300C,0060), not of the RTSTRUCT loaded ({loaded}): their ROI numbers may name "
            "other ROIs, so they are not compared"
        )
    check = plan.dose_scale
    if check is not None and check.basis == "fraction" and check.fractions:
        dvhs = [dataclasses.replace(t, course_factor=float(check.fractions)) for t in dvhs]
    return dvhs, ""


def reconcile_with_tps(
    plan: Plan,
    items: Sequence[StructureDVH],
    *,
    settings: object | None = None,
    end_caps: str | None = None,
) -> tuple[list[StructureDVH], list[str]]:
    """Read a loaded plan's TPS DVHs and attach each structure's comparison.

    The one entry point of ``--compare-tps`` (``dvh``, ``check``, ``report``, ``batch``):
    :func:`plan_tps_dvhs`, then :func:`dosecheck.core.tps_plan.reconcile_plan`.

    Returns
    -------
    items, notes
        The items with ``tps`` set, and plan-level notes.
    """
    from dosecheck.core.tps_plan import reconcile_plan

    dvhs, unavailable = plan_tps_dvhs(plan)
    notes = [] if dvhs or unavailable else ["the RTDOSE has no DVHSequence: no TPS DVH to compare"]
    out, more = reconcile_plan(
        plan,
        items,
        dvhs,
        unavailable=unavailable,
        settings=settings,
        end_caps=str(end_caps or "half-slice"),
    )
    if unavailable:
        notes.append(f"--compare-tps: {unavailable}")
    return out, notes + more
