"""Read the DVHs a treatment planning system embedded in an RTDOSE (DVHSequence).

Used for validation: the TPS's own numbers are an independent reference. Only
cumulative DVHs in GY with volumes in CM3 are read; others are skipped.

Statistics are taken from the curve (as dicompyler-core does), not from
DVHMinimumDose/DVHMaximumDose/DVHMeanDose, which some systems (Eclipse) write in
percent of the prescription despite DoseUnits GY.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dosecheck.core.dvh import DVH
from dosecheck.dicom._common import read_dataset


def read_embedded_dvhs(path: str | Path) -> dict[int, DVH]:
    """Cumulative DVHs of the RTDOSE's DVHSequence, keyed by referenced ROI number."""
    ds = read_dataset(path, modality="RTDOSE", stop_before_pixels=True)
    out: dict[int, DVH] = {}
    for item in ds.get("DVHSequence", []):
        if (
            str(item.get("DVHType", "")).upper() != "CUMULATIVE"
            or str(item.get("DoseUnits", "")).upper() != "GY"
            or str(item.get("DVHVolumeUnits", "")).upper() != "CM3"
        ):
            continue
        roi = int(item.DVHReferencedROISequence[0].ReferencedROINumber)
        data = np.asarray(item.DVHData, dtype=np.float64)
        scale = float(item.get("DVHDoseScaling", 1.0) or 1.0)
        widths = data[0::2] * scale
        counts = data[1::2]
        edges = np.round(np.concatenate([[0.0], np.cumsum(widths)]), 9)
        total = float(counts[0]) if counts.size else 0.0
        if total <= 0:
            continue
        diff = -np.diff(np.concatenate([counts, [0.0]]))
        nonzero = np.flatnonzero(diff > 0)
        centres = (edges[:-1] + edges[1:]) / 2
        out[roi] = DVH(
            dose_edges_gy=edges[:-1],
            cumulative_cc=counts.astype(np.float64),
            volume_cc=total,
            min_gy=float(edges[nonzero[0]]),
            mean_gy=float(np.dot(diff, centres) / diff.sum()),
            max_gy=float(edges[nonzero[-1] + 1]),
            name=f"ROI {roi}",
        )
    return out
