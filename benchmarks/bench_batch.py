"""Benchmark ``dosecheck batch``: throughput with 1 and 2 (or more) worker processes, and
header-only discovery of 1,000 DICOM files.

The archive is built under ``/tmp`` (never commit it) from a few synthetic rectal VMAT
plans of mixed sizes (:mod:`dosecheck.synthetic`: small pelvis on coarse and fine
grids, a passing and a failing plan, short and long course, and a full-size body on
2–3 mm grids). Each base plan is generated once and cached; the archive's plans are
copies with every instance UID and the patient ID rewritten (same length, so the
files stay valid), so each is a distinct plan to discovery, the database and the
check. The discovery set adds small CT slices, which discovery must read and skip.

Usage::

    python benchmarks/bench_batch.py [--plans 60] [--jobs 1,2] [--root /tmp/dosecheck-bench-batch]

Prints a Markdown table. Timings are wall-clock with a warm file cache. "Busy workers"
is the sum of the per-plan times measured in the workers divided by the wall time of
the checking phase: close to ``--jobs`` when the pool keeps every worker busy. If the
scaling is much lower than that, the workers are competing for CPU with other
processes (see the load average printed above the table).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_ROOT = Path("/tmp/dosecheck-bench-batch")

#: The base plans (name → make_pelvis_plan arguments), mixed in size.
BASES: dict[str, dict[str, Any]] = {
    "small-short-5mm": {
        "kind": "short",
        "seed": 13,
        "dose_grid_mm": 5.0,
        "contour_spacing_mm": 5.0,
    },
    "small-long-3mm": {"kind": "long", "seed": 15, "dose_grid_mm": 3.0, "contour_spacing_mm": 3.0},
    "small-long-fail-2.5mm": {
        "kind": "long",
        "seed": 12,
        "dose_grid_mm": 2.5,
        "contour_spacing_mm": 3.0,
        "bowel_dose_boost": 1.6,
        "bowel_name": "BowelBag",
    },
    "body-long-3mm": {
        "kind": "long",
        "seed": 7,
        "body_size": "benchmark",
        "dose_grid_mm": 3.0,
        "contour_spacing_mm": 3.0,
    },
    "body-short-2mm": {
        "kind": "short",
        "seed": 13,
        "body_size": "benchmark",
        "dose_grid_mm": 2.0,
        "contour_spacing_mm": 2.0,
    },
}
_BASE_PID = "BENCHBASE{:02d}"  # 11 characters; copies get 'B' + 10 digits
_STANDARD_UID = "1.2.840.10008."
_NOT_INSTANCE = re.compile("Class|TransferSyntax|Implementation")


# --------------------------------------------------------------------------- archive
def _digest(value: object) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:10]


def make_bases(folder: Path) -> list[Path]:
    """Generate (once) the base plans with dosecheck.synthetic."""
    from dosecheck.synthetic import write_plan

    out = []
    for i, (name, params) in enumerate(BASES.items()):
        target = folder / f"{name}-{_digest(params)}"
        if not (target / "done").exists():
            t = time.perf_counter()
            shutil.rmtree(target, ignore_errors=True)
            write_plan(
                target,
                patient_id=_BASE_PID.format(i),
                plan_label=name[:16].upper(),
                **params,
            )
            (target / "done").write_text("ok\n")
            print(
                f"  generated base plan {name} in {time.perf_counter() - t:.1f} s", file=sys.stderr
            )
        out.append(target)
    return out


def _uids(path: Path) -> set[str]:
    """Every non-standard UID in a file (instance, series, study, frame UIDs)."""
    import pydicom

    ds = pydicom.dcmread(path, stop_before_pixels=True)
    found: set[str] = set()

    def walk(d: Any) -> None:
        for elem in d:
            if elem.VR == "SQ":
                for item in elem.value:
                    walk(item)
            elif elem.VR == "UI" and elem.value and not _NOT_INSTANCE.search(elem.keyword):
                values = elem.value if elem.VM > 1 else [elem.value]
                for v in values:
                    if not str(v).startswith(_STANDARD_UID):
                        found.add(str(v))

    walk(ds)
    walk(ds.file_meta)
    return found


def _same_length_uid(uid: str, copy: int) -> str:
    """``uid`` with its last digits replaced by the copy number (same length)."""
    tag = f"9{copy:07d}"
    head, last = uid.rsplit(".", 1)
    if len(last) <= len(tag):
        raise ValueError(f"UID component too short to rewrite: {uid}")
    return f"{head}.{last[: -len(tag)]}{tag}"


@dataclass
class Base:
    """A base plan's files and the byte strings to rewrite in its copies."""

    files: list[Path]
    uids: list[str]
    patient_id: str


def _load_base(folder: Path, index: int) -> Base:
    files = sorted(folder.glob("*.dcm"))
    uids: set[str] = set()
    for f in files:
        uids |= _uids(f)
    return Base(files, sorted(uids, key=len, reverse=True), _BASE_PID.format(index))


def write_copy(base: Base, target: Path, copy: int) -> None:
    """Write a copy of ``base`` with new UIDs and patient ID into ``target``."""
    target.mkdir(parents=True, exist_ok=True)
    pid = f"B{copy:010d}".encode()
    table = [(u.encode(), _same_length_uid(u, copy).encode()) for u in base.uids]
    for f in base.files:
        data = f.read_bytes()
        for old, new in table:
            data = data.replace(old, new)
        data = data.replace(base.patient_id.encode(), pid)
        (target / f.name.replace(base.patient_id, pid.decode())).write_bytes(data)


def write_ct(path: Path, copy: int) -> None:
    """A 256 x 256 CT slice (for discovery to read and skip)."""
    import numpy as np
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    meta.MediaStorageSOPInstanceUID = generate_uid(entropy_srcs=["ct", str(copy)])
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = "CT"
    ds.PatientID = f"CT{copy:06d}"
    ds.StudyInstanceUID = generate_uid(entropy_srcs=["ct-study", str(copy // 100)])
    ds.SeriesInstanceUID = generate_uid(entropy_srcs=["ct-series", str(copy // 100)])
    ds.Rows = ds.Columns = 256
    ds.BitsAllocated = ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 1
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.PixelData = np.zeros((256, 256), dtype="<i2").tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(str(path), enforce_file_format=True)


def _clear(folder: Path) -> None:
    """Remove a generated folder and its markers."""
    shutil.rmtree(folder, ignore_errors=True)
    for old in folder.parent.glob(f".{folder.name}-*"):
        old.unlink()


def build_archive(folder: Path, bases: list[Base], n_plans: int, start: int = 0) -> None:
    """``n_plans`` copies of the bases, round robin, one folder per patient."""
    marker = folder.with_name(f".{folder.name}-{n_plans}-{start}-{_digest(BASES)}")
    if marker.exists() and folder.is_dir():
        return
    _clear(folder)
    for i in range(n_plans):
        copy = start + i
        write_copy(bases[i % len(bases)], folder / f"patient{copy:05d}", copy)
    marker.write_text("ok\n")


def build_discovery_set(folder: Path, bases: list[Base], n_files: int) -> None:
    """``n_files`` DICOM files: plan copies (3 files each) and CT slices, 3:1."""
    marker = folder.with_name(f".{folder.name}-{n_files}-{_digest(BASES)}")
    if marker.exists() and folder.is_dir():
        return
    _clear(folder)
    n_plans = (n_files * 3 // 4) // 3
    for i in range(n_plans):
        write_copy(bases[i % len(bases)], folder / f"patient{i:05d}", 100_000 + i)
    for i in range(n_files - 3 * n_plans):
        write_ct(folder / f"ct{i // 100:03d}" / f"CT{i:05d}.dcm", i)
    marker.write_text("ok\n")


# --------------------------------------------------------------------------- runs
def _files(folder: Path) -> Iterator[Path]:
    return (p for p in folder.rglob("*.dcm") if p.is_file())


def time_discovery(folder: Path, repeats: int = 3) -> tuple[float, int, int]:
    """Best-of-``repeats`` wall time of :func:`dosecheck.dicom.discovery.discover`."""
    from dosecheck.dicom.discovery import discover

    best = float("inf")
    result = None
    for _ in range(repeats):
        t = time.perf_counter()
        result = discover([folder])
        best = min(best, time.perf_counter() - t)
    assert result is not None
    return best, result.n_files, len(result.plans)


_RATE = re.compile(r"\((\d+) checked in ([0-9.]+) s")


def run_batch_cli(
    archive: Path, jobs: int, db: Path, source: Path | None = None
) -> dict[str, float]:
    """Run ``dosecheck batch`` in a subprocess; wall time and the compute phase.

    ``source``: a checkout of another dosecheck version to run instead (put first on
    ``PYTHONPATH``), e.g. the commit a speed figure is compared with.
    """
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "dosecheck", "batch", str(archive), "--db", str(db)]
    cmd += ["--jobs", str(jobs)]
    env = dict(os.environ)
    if source is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(source), env.get("PYTHONPATH", "")])
    t = time.perf_counter()
    # Not from the checkout's folder: ``python -m`` puts the working directory ahead of
    # PYTHONPATH, which would run this checkout instead of ``source``.
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=archive.parent)
    wall = time.perf_counter() - t
    if proc.returncode not in (0, 1):
        raise SystemExit(f"dosecheck batch failed ({proc.returncode}):\n{proc.stderr}")
    m = _RATE.search(proc.stderr)
    if m is None:
        raise SystemExit(f"could not read the summary line:\n{proc.stderr}")
    n, compute = int(m.group(1)), float(m.group(2))
    with sqlite3.connect(db) as conn:
        worker_s, cpu_s, n_fail = conn.execute(
            "SELECT SUM(duration_s), SUM(cpu_s), SUM(status = 'fail') FROM plans"
        ).fetchone()
    return {
        "plans": n,
        "wall_s": wall,
        "compute_s": compute,
        "worker_s": worker_s,
        "cpu_s": cpu_s,
        "fail": n_fail,
        "exit": proc.returncode,
    }


#: ``batch --jobs 1``, checking phase, on this archive before issue #11 (README, 0.1.0
#: at 67b3d14, 2 cores, load average about 1): the figure the speed target is set against.
BASELINE_PLANS_PER_S_PER_CORE = 6.6


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=DEFAULT_ROOT)
    parser.add_argument("--plans", type=int, default=60, help="plans in the archive (>= 50)")
    parser.add_argument("--jobs", default="1,2", help="comma-separated --jobs values")
    parser.add_argument("--discovery-files", type=int, default=1000)
    parser.add_argument(
        "--baseline-rate",
        type=float,
        default=BASELINE_PLANS_PER_S_PER_CORE,
        help="plans/s per core to compare with (default: the README's figure before issue #11)",
    )
    parser.add_argument(
        "--baseline-source",
        type=Path,
        help="a checkout of an earlier dosecheck (e.g. `git worktree add /tmp/base 5c718e1`): "
        "its batch --jobs 1 runs on the same archive, alternating with this one, and the "
        "ratio of the two is printed",
    )
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds with a baseline")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _bytecode import compile_package

    compile_package()  # as installed: see benchmarks/_bytecode.py
    jobs = [int(j) for j in args.jobs.split(",")]

    root: Path = args.root
    root.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    base_dirs = make_bases(root / "bases")
    bases = [_load_base(d, i) for i, d in enumerate(base_dirs)]
    archive = root / "archive"
    build_archive(archive, bases, args.plans)
    disco = root / "discovery"
    build_discovery_set(disco, bases, args.discovery_files)
    setup = time.perf_counter() - t
    size = sum(p.stat().st_size for p in _files(archive)) / 1e6

    d_time, d_files, d_plans = time_discovery(disco)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    runs = {j: run_batch_cli(archive, j, root / f"results-j{j}.sqlite") for j in jobs}

    side_by_side = None
    if args.baseline_source is not None:
        import compileall

        compileall.compile_dir(str(args.baseline_source / "dosecheck"), quiet=1)
        ours, theirs = [], []
        for _ in range(args.rounds):
            theirs.append(run_batch_cli(archive, 1, root / "base.sqlite", args.baseline_source))
            ours.append(run_batch_cli(archive, 1, root / "head.sqlite"))
        best = [max(r["plans"] / r["compute_s"] for r in rs) for rs in (ours, theirs)]
        side_by_side = (best[0], best[1])

    fails = next(iter(runs.values()))["fail"]
    print()
    print(
        f"Archive: {args.plans} plans ({fails:.0f} failing), copies of {len(BASES)} synthetic "
        f"plans ({', '.join(BASES)}), {size:.0f} MB under {root}; setup {setup:.0f} s; "
        f"{os.cpu_count()} CPUs, load average {load:.2f} before the runs."
    )
    print()
    print("| Measurement | Time | Rate | Scaling | Busy workers |")
    print("|---|---:|---:|---:|---:|")
    print(
        f"| Header-only discovery of {d_files} DICOM files ({d_plans} plans + CT slices) "
        f"| {d_time:.2f} s | {d_files / d_time:.0f} files/s | | |"
    )
    base_rate = None
    for j, r in runs.items():
        rate = r["plans"] / r["compute_s"]
        base_rate = base_rate or rate
        per_plan = r["worker_s"] / r["plans"]
        print(
            f"| `dosecheck batch --jobs {j}`: {r['plans']:.0f} plans, checking phase "
            f"(per plan in a worker: {per_plan:.2f} s, CPU {r['cpu_s'] / r['plans']:.2f} s) "
            f"| {r['compute_s']:.1f} s | {rate:.2f} plans/s | ×{rate / base_rate:.2f} "
            f"| {r['worker_s'] / r['compute_s']:.2f} |"
        )
        per_core = rate / j
        gain = per_core / args.baseline_rate
        print(
            f"| `dosecheck batch --jobs {j}`: plans/s per core against {args.baseline_rate:g} "
            f"before issue #11 | | {per_core:.2f} plans/s/core | ×{gain:.2f} | |"
        )
        print(
            f"| `dosecheck batch --jobs {j}`: end to end (start-up, discovery, hashing, "
            f"database) | {r['wall_s']:.1f} s | {r['plans'] / r['wall_s']:.2f} plans/s | | |"
        )
    if side_by_side is not None:
        head, base = side_by_side
        print(
            f"| side by side, `--jobs 1`, best of {args.rounds} alternating rounds: this "
            f"checkout against {args.baseline_source} | | {head:.2f} vs {base:.2f} plans/s "
            f"| ×{head / base:.2f} | |"
        )


if __name__ == "__main__":
    main()
