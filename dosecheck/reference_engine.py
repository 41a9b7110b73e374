"""dicompyler-core as an independent second-opinion DVH engine.

Used by ``dosecheck dvh --engine dicompyler``, the validation script and the benchmark.
It needs the optional extra ``dosecheck[reference]``. dicompyler-core's PyPI release
calls ``pydicom.dicomio.read_file``, which pydicom 3 removed; :func:`import_dvhcalc`
restores that alias before importing it.

dicompyler-core's model differs from dosecheck's (no end caps, dose sampled at voxel
centres, nearest-bin metrics), so its numbers are a cross-check, not a reference truth.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np

from dosecheck._optional import require
from dosecheck.errors import InputError

if TYPE_CHECKING:
    from dosecheck.core.structures import StructureDVH
    from dosecheck.model import Plan


def import_dvhcalc() -> Any:
    """Import ``dicompylercore.dvhcalc`` under pydicom 3."""
    import pydicom
    import pydicom.dicomio

    if not hasattr(pydicom.dicomio, "read_file"):
        pydicom.dicomio.read_file = pydicom.dcmread  # type: ignore[attr-defined]
    return require("dicompylercore.dvhcalc", extra="reference", feature="the dicompyler engine")


def dicompyler_dvhs(plan: Plan, structures: Iterable[str] | None = None) -> list[StructureDVH]:
    """DVHs of the selected structures computed by dicompyler-core's ``get_dvh``."""
    from dosecheck.core.dvh import DVH
    from dosecheck.core.structures import StructureDVH, select_structures

    if len(plan.files.rtdose) != 1 or plan.dose.notes:
        raise InputError(
            "the dicompyler engine reads one RTDOSE file as it is; this plan's dose was "
            "summed or rescaled (" + "; ".join(plan.dose.notes or ("several files",)) + ")"
        )
    dvhcalc = import_dvhcalc()
    out = []
    for s in select_structures(plan.structure_set, structures):
        ref = dvhcalc.get_dvh(plan.files.rtstruct, plan.files.rtdose[0], s.number)
        cum = ref.cumulative
        if cum.volume <= 0:
            dvh = DVH.empty(name=s.name)
        else:
            dvh = DVH(
                dose_edges_gy=np.asarray(cum.bins[:-1], dtype=np.float64),
                cumulative_cc=np.asarray(cum.counts, dtype=np.float64),
                volume_cc=float(cum.volume),
                min_gy=float(cum.min),
                mean_gy=float(cum.mean),
                max_gy=float(cum.max),
                name=s.name,
            )
        out.append(StructureDVH(structure=s, dvh=dvh))
    return out
