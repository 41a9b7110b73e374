"""RTDOSE pixels read straight from the file (large uncompressed doses) equal pydicom's."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest

from dosecheck.dicom import dose as dose_module
from dosecheck.dicom.dose import read_rtdose
from dosecheck.dicom.writer import write_rtdose
from dosecheck.model import DoseGrid


def big_grid() -> DoseGrid:
    # 72 x 80 x 400 voxels: 4.6 MB at 16 bits, above the reader's 4 MB defer size.
    x = np.arange(80) * 2.5 - 100.0
    y = np.arange(72) * 2.5 - 90.0
    z = np.arange(400) * 1.0 - 200.0
    rng = np.random.default_rng(7)
    dose = rng.uniform(0.0, 55.0, (z.size, y.size, x.size)).astype(np.float32)
    return DoseGrid(x=x, y=y, z=z, dose_gy=dose, frame_of_reference_uid="1.2.3")


@pytest.mark.parametrize("bits", [16, 32])
def test_direct_read_equals_pydicom(
    tmp_path: Path, bits: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "rd.dcm"
    write_rtdose(path, big_grid(), bits=bits)
    calls: list[bool] = []
    original = dose_module._uncompressed_pixels

    def spy(*args: object) -> np.ndarray | None:
        out = original(*args)  # type: ignore[arg-type]
        calls.append(out is not None)
        return out

    monkeypatch.setattr(dose_module, "_uncompressed_pixels", spy)
    direct = read_rtdose(path)
    assert calls == [True]  # the direct path was taken
    monkeypatch.setattr(dose_module, "_uncompressed_pixels", lambda *a: None)
    via_pydicom = read_rtdose(path)
    np.testing.assert_array_equal(direct.dose_gy, via_pydicom.dose_gy)
    assert direct.dose_gy.dtype == np.float32
    assert float(direct.dose_gy.max()) == pytest.approx(55.0, abs=0.01)


def test_direct_read_declines_what_it_does_not_handle(tmp_path: Path) -> None:
    path = tmp_path / "rd.dcm"
    write_rtdose(path, big_grid(), bits=32)
    ds = pydicom.dcmread(path, defer_size="4 MB")
    n = 72 * 80 * 400
    assert dose_module._uncompressed_pixels(ds, str(path), n, 32) is not None
    assert dose_module._uncompressed_pixels(ds, str(path), n + 1, 32) is None  # length
    ds.BitsStored = 24
    assert dose_module._uncompressed_pixels(ds, str(path), n, 32) is None
    ds.BitsStored = 32
    ds.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2.2"  # explicit VR big endian
    assert dose_module._uncompressed_pixels(ds, str(path), n, 32) is None
    loaded = pydicom.dcmread(path)  # small defer size not asked: value already read
    assert dose_module._uncompressed_pixels(loaded, str(path), n, 32) is None
