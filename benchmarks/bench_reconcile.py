"""What ``--compare-tps`` and the borderline ranges cost, on the benchmark plan.

Issue #9's budget: at most 30 % more time than a plain ``dvh``. Measured side by side
in one run, best of N:

* whole processes: ``dosecheck dvh PLAN`` against ``dosecheck dvh PLAN --compare-tps``
  on a copy of the plan whose RTDOSE carries a DVHSequence (one cumulative item per ROI
  in 0.01 Gy bins, as Eclipse writes them, made from dosecheck's own DVHs);
* in one process, every ROI, one worker: the engine's half-slice DVHs alone (what
  ``dvh`` computes) against half-slice and none from one pass (what ``check`` computes
  for the borderline ranges), and the ``--compare-tps`` reconciliation on top.

``shape`` is not in the ranges' fixed cost: ``check`` computes it only for ROIs with a
constraint near its limit (docs: README, "Borderline verdicts").

Usage::

    python benchmarks/bench_reconcile.py [--plan DIR] [--repeat 3]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_dvh import DEFAULT_PLAN, dosecheck_command, ensure_plan, find_plan_files  # noqa: E402


def _best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def write_tps_copy(plan: Path, out: Path) -> Path:
    """A copy of ``plan`` whose RTDOSE has a DVHSequence made from dosecheck's DVHs."""
    import numpy as np
    import pydicom
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence

    from dosecheck.api import compute_dvhs, load_plan

    shutil.copytree(plan, out)
    loaded = load_plan(out)
    items = compute_dvhs(loaded, jobs=2)
    _, rd = find_plan_files(out)
    ds = pydicom.dcmread(rd)
    seq = []
    for i in items:
        if i.dvh.is_empty:
            continue
        cum = i.dvh.cumulative_cc
        widths = np.full(cum.size, i.dvh.bin_width_gy)
        data = np.column_stack([widths, cum]).ravel()
        item = Dataset()
        ref = Dataset()
        ref.ReferencedROINumber = i.structure.number
        ref.DVHROIContributionType = "INCLUDED"
        item.DVHReferencedROISequence = Sequence([ref])
        item.DVHType = "CUMULATIVE"
        item.DoseUnits = "GY"
        item.DoseType = "PHYSICAL"
        item.DVHDoseScaling = 1.0
        item.DVHVolumeUnits = "CM3"
        item.DVHNumberOfBins = int(cum.size)
        item.DVHData = [f"{x:.8g}" for x in data]
        seq.append(item)
    ds.DVHSequence = Sequence(seq)
    import warnings

    with warnings.catch_warnings():  # DVHData over 64 kB is written as UN, as TPSs do
        warnings.simplefilter("ignore", UserWarning)
        ds.save_as(rd)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--plan", type=Path, default=DEFAULT_PLAN)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    ensure_plan(args.plan)

    from dosecheck.api import load_plan
    from dosecheck.core.engine import DoseField, compute_dvh, compute_dvh_variants
    from dosecheck.core.structures import end_cap_spacing, structure_set_spacing
    from dosecheck.dicom.tps_dvh import reconcile_with_tps

    with tempfile.TemporaryDirectory(prefix="dosecheck-bench-tps-") as tmp:
        tps_plan = write_tps_copy(args.plan, Path(tmp) / "plan")
        out = Path(tmp) / "out.json"

        def run(cmd: list[str]) -> None:
            subprocess.run(cmd, check=True, capture_output=True)

        plain_cmd = dosecheck_command(tps_plan, out)
        tps_cmd = [*plain_cmd, "--compare-tps"]
        plain = tps = float("inf")
        for _ in range(args.repeat):  # alternate, so load drifts hit both alike
            plain = min(plain, _best(lambda: run(plain_cmd), 1))
            tps = min(tps, _best(lambda: run(tps_cmd), 1))

        plan = load_plan(tps_plan)
        spacing = structure_set_spacing(plan.structure_set)
        field = DoseField(plan.dose)
        rois = [(s, end_cap_spacing(s, spacing)) for s in plan.structure_set.structures]

        def half_slice() -> list:
            return [compute_dvh(s, field, slice_thickness_mm=t) for s, t in rois]

        def variants() -> list:
            return [compute_dvh_variants(s, field, slice_thickness_mm=t) for s, t in rois]

        from dosecheck.core.structures import StructureDVH

        items = [
            StructureDVH(structure=s, dvh=d) for (s, _), d in zip(rois, half_slice(), strict=True)
        ]
        engine_plain = engine_variants = reconcile = float("inf")
        for _ in range(args.repeat):
            engine_plain = min(engine_plain, _best(half_slice, 1))
            engine_variants = min(engine_variants, _best(variants, 1))
            reconcile = min(reconcile, _best(lambda: reconcile_with_tps(plan, items), 1))
        compared, _ = reconcile_with_tps(plan, items)
        n_compared = sum(i.tps is not None and i.tps.comparison is not None for i in compared)

    print(f"| measurement | time (s, best of {args.repeat}) | relative |")
    print("|---|---:|---:|")
    print(f"| `dvh` (whole process, all ROIs) | {plain:.2f} | 1.00× |")
    print(f"| `dvh --compare-tps` (whole process) | {tps:.2f} | {tps / plain:.2f}× |")
    print(f"| engine, half-slice only (one process, one worker) | {engine_plain:.2f} | 1.00× |")
    print(
        f"| engine, half-slice and none in one pass (the ranges) | {engine_variants:.2f} | "
        f"{engine_variants / engine_plain:.2f}× |"
    )
    print(
        f"| ranges + `--compare-tps` reconciliation | {engine_variants + reconcile:.2f} | "
        f"{(engine_variants + reconcile) / engine_plain:.2f}× |"
    )
    extra = engine_variants - engine_plain + reconcile
    print(
        f"| `dvh --compare-tps` + the ranges' extra engine pass (whole process: "
        f"{tps:.2f} s + {engine_variants - engine_plain:.2f} s) | "
        f"{tps + engine_variants - engine_plain:.2f} | "
        f"{(tps + engine_variants - engine_plain) / plain:.2f}× |"
    )
    print(f"\nextra time of the ranges and the reconciliation: {extra:.2f} s")
    print(f"{n_compared} of {len(items)} ROIs compared with their TPS DVH")
    return 0


if __name__ == "__main__":
    sys.exit(main())
