"""Review of the DVHSequence reader (issue 9): a value read as something else silently.

Expected to FAIL on the reviewed code (commit 2a5bf78). Uses the shared Eclipse export
(skips without it): one item's DVHDoseScaling is rewritten.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from dosecheck.core.tps_dvh import tps_curve
from dosecheck.dicom.tps_dvh import read_tps_dvhs
from tests.helpers.shared_data import shared_dataset


@pytest.mark.parametrize("scaling", [0.0, -2.0])
def test_invalid_dvh_dose_scaling_is_said(tmp_path: Path, scaling: float) -> None:
    """DVHDoseScaling (3004,0052) is Type 1 and multiplies the bin widths: 0 or a
    negative value cannot be right. Reviewed code: read as 1 with no finding, so the
    curve looks exactly like a valid one."""
    import pydicom

    src = shared_dataset("dicompyler-core-example") / "rtdose.dcm"
    ds = pydicom.dcmread(src)
    ds.DVHSequence[3].DVHDoseScaling = scaling  # ROI 5, Heart
    out = tmp_path / "rd.dcm"
    ds.save_as(out)
    (t,) = [t for t in read_tps_dvhs(out) if t.included == (5,)]
    curve = tps_curve(t, prescription_gy=14.0)
    assert curve.dvh is None or any("DVHDoseScaling" in f for f in curve.findings)
