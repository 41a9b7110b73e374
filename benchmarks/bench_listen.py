"""Benchmark ``dosecheck listen`` over loopback: objects received per second, and the
seconds from a pelvis-size plan's last object to its recorded verdict.

1. **Receiving while checking.** A pelvis-size plan (the synthetic full body of
   :mod:`dosecheck.synthetic`, 2.5 mm dose grid) is sent, and while it is being
   checked a CT series of ``--slices`` 512×512 16-bit images (the planning CT of
   such a plan: 0.5 MB each) is sent over a second association. Every object is
   written with fsync before its success status. Objects/s and MB/s of the CT
   association are reported.
2. **Last object to verdict.** The plan is sent again under new UIDs (a new plan,
   not already recorded) with ``--quiet-seconds 0``-equivalent behaviour: the
   association ends after the last object, which makes the plan ready. The time
   from the last object stored to the evaluation recorded in the database is
   reported, with the check's own time in the worker.

Usage::

    python benchmarks/bench_listen.py [--slices 200] [--root /tmp/dosecheck-bench-listen]

Needs ``pynetdicom`` (``pip install 'dosecheck[net]'``). Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DEFAULT_ROOT = Path("/tmp/dosecheck-bench-listen")


def make_plan(folder: Path, seed: int, patient_id: str) -> list[Path]:
    from dosecheck.synthetic import write_plan

    paths = write_plan(
        folder,
        kind="long",
        seed=seed,
        body_size="benchmark",
        dose_grid_mm=2.5,
        contour_spacing_mm=3.0,
        patient_id=patient_id,
    )
    return [Path(str(paths[k])) for k in ("rtstruct", "rtplan", "rtdose")]


def make_ct(folder: Path, n: int) -> list[Path]:
    """``n`` CT slices of 512×512 16-bit pixels (one study and series)."""
    import numpy as np
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    folder.mkdir(parents=True, exist_ok=True)
    study, series = generate_uid(), generate_uid()
    pixels = (np.arange(512 * 512, dtype=np.int32) % 2000 - 1000).astype("<i2").tobytes()
    out = []
    for i in range(n):
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
        meta.MediaStorageSOPInstanceUID = generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        path = folder / f"CT{i:04d}.dcm"
        ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
        ds.SOPClassUID = meta.MediaStorageSOPClassUID
        ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
        ds.Modality = "CT"
        ds.PatientID = "BENCH-CT"
        ds.StudyInstanceUID = study
        ds.SeriesInstanceUID = series
        ds.InstanceNumber = i + 1
        ds.Rows = ds.Columns = 512
        ds.BitsAllocated = ds.BitsStored = 16
        ds.HighBit = 15
        ds.PixelRepresentation = 1
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.PixelData = pixels
        ds.save_as(str(path), enforce_file_format=True)
        out.append(path)
    return out


def main(argv: list[str] | None = None) -> None:
    from dosecheck.node.listener import Listener, ListenOptions
    from tests.helpers.dicom_node import send_files

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slices", type=int, default=200)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--root", type=Path, default=DEFAULT_ROOT)
    args = parser.parse_args(argv)

    root: Path = args.root
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    t0 = time.perf_counter()
    plan_a = make_plan(root / "plan-a", 7, "BENCH-A")
    plan_b = make_plan(root / "plan-b", 8, "BENCH-B")
    ct = make_ct(root / "ct", args.slices)
    plan_mb = sum(p.stat().st_size for p in plan_a) / 1e6
    ct_mb = sum(p.stat().st_size for p in ct) / 1e6
    print(f"inputs written in {time.perf_counter() - t0:.1f} s", file=sys.stderr)

    options = ListenOptions(
        store=root / "store",
        db=root / "results.sqlite",
        port=0,
        jobs=args.jobs,
        quiet_seconds=10.0,
    )
    with Listener(options) as node:
        # Warm-up: the worker's first plan imports the check (not what a clinic sees
        # after the first plan of the day).
        send_files(node.address, plan_a)
        node.serve_until(lambda n: len(n.recorded) == 1, timeout=600)
        warm = node.recorded[0]

        # 1. The CT series arrives while plan B is being checked.
        send_files(node.address, plan_b)
        checking = threading.Event()
        result: dict[str, float] = {}

        def send_ct() -> None:
            checking.wait()
            t = time.perf_counter()
            statuses = send_files(node.address, ct)
            result["ct_s"] = time.perf_counter() - t
            result["ok"] = float(all(s == 0 for s in statuses))

        sender = threading.Thread(target=send_ct)
        sender.start()
        node.serve_until(lambda n: bool(n._inflight) or len(n.recorded) == 2, timeout=600)
        checking.set()
        sender.join()
        node.serve_until(lambda n: len(n.recorded) == 2, timeout=600)
        overlapped = node.recorded[1]
        in_flight_during_ct = overlapped.seconds_after_last_object is not None and (
            overlapped.seconds_after_last_object > result["ct_s"] * 0.5
        )

    n = len(ct)
    rate = n / result["ct_s"]
    print("| measure | value |")
    print("|---|---|")
    print(
        f"| CT slices received while a plan was checked | {n} ({ct_mb:.0f} MB), all stored: "
        f"{'yes' if result['ok'] else 'NO'} |"
    )
    print(f"| objects/s received (fsync each) | {rate:.0f} ({ct_mb / result['ct_s']:.0f} MB/s) |")
    print(f"| pelvis-size plan | 3 objects, {plan_mb:.1f} MB |")
    print(
        f"| last object → verdict recorded (first plan, cold worker) | "
        f"{warm.seconds_after_last_object:.2f} s (check {warm.check_seconds:.2f} s) |"
    )
    print(
        f"| last object → verdict recorded (with the CT arriving) | "
        f"{overlapped.seconds_after_last_object:.2f} s (check {overlapped.check_seconds:.2f} s) |"
    )
    print(f"| check overlapped the CT transfer | {'yes' if in_flight_during_ct else 'partly'} |")
    print(f"| CPUs | {os.cpu_count()} |")


if __name__ == "__main__":
    main()
