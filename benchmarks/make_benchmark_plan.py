"""Write the pelvis-size benchmark plan (never commit its output).

A synthetic long-course rectal VMAT plan at clinical resolution: a ~20 L body,
2 mm dose grid (~4 M voxels, 32-bit), contours every 2 mm with ~1 mm between
points (~300 k points), 13 ROIs including two rings with holes.

Usage::

    python benchmarks/make_benchmark_plan.py [FOLDER]   # default /tmp/dosecheck-bench/plan
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from pathlib import Path

import numpy as np

from dosecheck.synthetic.pelvis import write_plan

DEFAULT_FOLDER = Path("/tmp/dosecheck-bench/plan")

#: Parameters of the benchmark plan (kept here so bench_dvh.py can record them).
BENCHMARK_PLAN: dict[str, object] = {
    "kind": "long",
    "dose_grid_mm": 2.0,
    "contour_spacing_mm": 2.0,
    "body_size": "benchmark",
    "seed": 7,
    "patient_id": "SYNTH-RECT-BENCH",
    "patient_name": "Synthetic^Benchmark",
    "plan_label": "BENCH5040",
}


def polygon_volume_cc(xy: np.ndarray, offsets: np.ndarray, thickness_mm: float) -> float:
    """Sum of the contours' shoelace areas times the plane spacing (holes count negative)."""
    total = 0.0
    for a, b in itertools.pairwise(offsets.tolist()):
        x, y = xy[a:b, 0], xy[a:b, 1]
        total += 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))
    return total * thickness_mm / 1000.0


def make(folder: Path, *, dose_bits: int = 32) -> dict[str, object]:
    """Write the benchmark plan into ``folder`` and print what it contains."""
    t0 = time.perf_counter()
    files = write_plan(folder, dose_bits=dose_bits, **BENCHMARK_PLAN)  # type: ignore[arg-type]
    elapsed = time.perf_counter() - t0
    ss, dose, plan = files["plan"]  # type: ignore[misc]
    spacing = float(BENCHMARK_PLAN["contour_spacing_mm"])  # type: ignore[arg-type]
    n_points = sum(s.xy.shape[0] for s in ss.structures)
    n_contours = sum(s.n_contours for s in ss.structures)
    nz, ny, nx = dose.shape
    print(f"benchmark plan written to {folder} in {elapsed:.1f} s")
    print(
        f"dose grid {nx} x {ny} x {nz} = {nx * ny * nz:,} voxels at "
        f"{BENCHMARK_PLAN['dose_grid_mm']} mm, {dose_bits}-bit, max {dose.max_gy:.2f} Gy"
    )
    print(f"{len(ss.structures)} ROIs, {n_contours:,} contours, {n_points:,} contour points")
    print(f"{'ROI':14s} {'type':9s} {'contours':>8s} {'points':>8s} {'volume cc':>10s}")
    for s in ss.structures:
        vol = polygon_volume_cc(s.xy, s.offsets, spacing)
        print(
            f"{s.name:14s} {s.interpreted_type:9s} {s.n_contours:8d} {s.xy.shape[0]:8d} {vol:10.1f}"
        )
    for key in ("rtstruct", "rtplan", "rtdose"):
        p = Path(str(files[key]))
        print(f"{p.name}: {p.stat().st_size / 1e6:.1f} MB")
    print(f"prescription {plan.prescription_gy} Gy in {plan.fractions} fractions")
    return files


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(description="Write the dosecheck benchmark plan.")
    ap.add_argument("folder", nargs="?", type=Path, default=DEFAULT_FOLDER)
    ap.add_argument("--bits", type=int, choices=(16, 32), default=32, help="RTDOSE bits")
    args = ap.parse_args(argv)
    make(args.folder, dose_bits=args.bits)
    return 0


if __name__ == "__main__":
    sys.exit(main())
