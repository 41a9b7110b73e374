"""Micro-benchmark: ContourData parsing, pydicom DS objects vs raw bytes + NumPy.

Writes a synthetic RTSTRUCT with 110k contour points (coordinates with two
decimals, like most planning systems), then times, after a fresh ``dcmread`` and
with the sequences already parsed (the same work for both):

* baseline: ``[float(v) for v in item.ContourData]`` for every contour item
  (pydicom converts each value to a validated ``DSfloat``);
* dosecheck: join the undecoded ContourData bytes and call
  :func:`dosecheck.dicom.structures.parse_decimal_string`.

Run ``python benchmarks/bench_contour_parse.py [--points N] [--repeat R]``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pydicom

from dosecheck.dicom.structures import parse_decimal_string, read_rtstruct
from dosecheck.dicom.writer import write_rtstruct
from dosecheck.model import Structure, StructureSet


def make_file(path: Path, n_points: int, per_contour: int = 200) -> None:
    rng = np.random.default_rng(0)
    n_contours = max(1, n_points // per_contour)
    t = np.linspace(0, 2 * np.pi, per_contour, endpoint=False)
    contours = []
    for k in range(n_contours):
        r = rng.uniform(20, 120)
        cx, cy = rng.uniform(-100, 100, 2)
        xy = np.column_stack([cx + r * np.cos(t), cy + r * np.sin(t)])
        contours.append((round(-150 + 2.5 * k, 2), np.round(xy, 2)))
    rois = tuple(Structure.from_contours(i + 1, f"ROI {i + 1}", contours[i::10]) for i in range(10))
    write_rtstruct(path, StructureSet(rois))


def contour_items(ds: pydicom.Dataset) -> list[pydicom.Dataset]:
    return [item for rc in ds.ROIContourSequence for item in rc.get("ContourSequence", [])]


def time_baseline(path: Path) -> tuple[float, int]:
    items = contour_items(pydicom.dcmread(path))
    start = time.perf_counter()
    values = [[float(v) for v in item.ContourData] for item in items]
    return time.perf_counter() - start, sum(map(len, values))


def time_numpy(path: Path) -> tuple[float, int]:
    items = contour_items(pydicom.dcmread(path))
    start = time.perf_counter()
    raw = b"\\".join(item.get_item(0x30060050).value.strip(b" \0") for item in items)
    values = parse_decimal_string(raw)
    return time.perf_counter() - start, values.size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=110_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--file", type=Path, help="use this RTSTRUCT instead of a synthetic one")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        path = args.file or Path(tmp) / "rs_bench.dcm"
        if args.file is None:
            make_file(path, args.points)
        base, n_base = min(time_baseline(path) for _ in range(args.repeat))
        fast, n_fast = min(time_numpy(path) for _ in range(args.repeat))
        assert n_base == n_fast, (n_base, n_fast)
        read = min(_timed(read_rtstruct, path) for _ in range(args.repeat))
    print(f"{n_base // 3:,} points ({n_base:,} values), best of {args.repeat}")
    print(f"  pydicom DS objects + float(): {base * 1e3:8.1f} ms")
    print(f"  raw bytes + NumPy parse:      {fast * 1e3:8.1f} ms")
    print(f"  speed-up:                     {base / fast:8.1f} x")
    print(f"  (whole read_rtstruct, incl. dcmread and sequence parsing: {read * 1e3:.1f} ms)")


def _timed(func, *args) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    func(*args)
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
