"""Time ``dosecheck dvh`` against dicompyler-core on the benchmark plan.

Both tools run as whole processes (start-up, reading the DICOM files, every
ROI's DVH, writing JSON), each timed by wall clock, best of N runs, with the
peak resident set size of the process tree (from ``os.wait4``, i.e. the
``RUSAGE_CHILDREN`` accounting of that one child).

* dosecheck: ``dosecheck dvh PLAN --format json --output OUT.json``
* reference: a small script that reads the RTSTRUCT and RTDOSE once with pydicom
  and calls ``dicompylercore.dvhcalc.get_dvh`` for every ROI (default settings),
  writing the volumes and dose statistics as JSON. ``--reference-reread`` passes
  file paths instead, so dicompyler-core re-reads both files for every ROI (as
  ``get_dvh(rtss_path, rtdose_path, roi)`` does).

The plan is generated with ``make_benchmark_plan.py`` when the folder has none.

Usage::

    python benchmarks/bench_dvh.py [--plan DIR] [--repeat 3] [--only dosecheck|reference]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_PLAN = Path("/tmp/dosecheck-bench/plan")

REFERENCE_SCRIPT = r"""
import json, sys
import pydicom, pydicom.dicomio
pydicom.dicomio.read_file = pydicom.dcmread  # dicompyler-core 0.5.6 under pydicom 3
from dicompylercore import dicomparser, dvhcalc

rs_path, rd_path, out_path, reread = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "1"
rs = rs_path if reread else pydicom.dcmread(rs_path)
rd = rd_path if reread else pydicom.dcmread(rd_path)
structures = dicomparser.DicomParser(rs).GetStructures()
rows = []
for number, s in structures.items():
    d = dvhcalc.get_dvh(rs, rd, number)
    empty = d.volume == 0 or d.counts.size < 2
    rows.append({
        "roi_number": int(number), "name": s["name"], "volume_cc": float(d.volume),
        "min_gy": None if empty else float(d.min), "mean_gy": None if empty else float(d.mean),
        "max_gy": None if empty else float(d.max),
        "dose_bins_gy": [float(b) for b in d.bins[1:]],
        "cumulative_cc": [float(c) for c in d.counts],
    })
with open(out_path, "w") as f:
    json.dump({"tool": "dicompyler-core", "structures": rows}, f)
"""


@dataclass
class Timing:
    """Best-of-N wall time and the largest peak memory over the runs."""

    tool: str
    command: list[str]
    wall_s: list[float]
    peak_rss_mb: float
    ok: bool
    message: str = ""
    cpu_s: list[float] = field(default_factory=list)  # user + system, whole tree
    faults: list[int] = field(default_factory=list)  # minor page faults, whole tree

    @property
    def best_s(self) -> float:
        return min(self.wall_s) if self.wall_s else float("nan")


def find_plan_files(folder: Path) -> tuple[Path, Path]:
    """The RTSTRUCT and RTDOSE of a benchmark plan folder (RS.*.dcm, RD.*.dcm)."""
    rs = sorted(folder.glob("RS*.dcm"))
    rd = sorted(folder.glob("RD*.dcm"))
    if not rs or not rd:
        raise FileNotFoundError(f"no RS*.dcm / RD*.dcm in {folder}")
    return rs[0], rd[0]


def ensure_plan(folder: Path) -> None:
    """Generate the benchmark plan into ``folder`` if it has no RTSTRUCT/RTDOSE."""
    try:
        find_plan_files(folder)
        return
    except FileNotFoundError:
        pass
    print(f"generating the benchmark plan in {folder} ...", flush=True)
    subprocess.run([sys.executable, str(HERE / "make_benchmark_plan.py"), str(folder)], check=True)


def _children(pid: int) -> list[int]:
    """Direct children of ``pid`` (Linux /proc)."""
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            pass
    return out


def _tree_pss_mb(root: int) -> float:
    """Proportional set size of ``root`` and all its descendants (MB).

    PSS shares copy-on-write pages among the processes that map them, so forked
    workers that share the dose grid are not counted twice.
    """
    total_kb, todo = 0, [root]
    while todo:
        pid = todo.pop()
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total_kb += int(line.split()[1])
                    break
        except OSError:
            continue
        todo += _children(pid)
    return total_kb / 1024


def run_measured(
    cmd: list[str], sample_memory: bool = True
) -> tuple[float, float, int, str, os.struct_rusage]:
    """Run ``cmd``; return wall time (s), peak memory (MB), exit code, stderr tail and
    the resource usage of the process and the processes it waited for (``wait4``).

    The memory is the peak over time of the whole process tree's PSS (the command and
    any worker processes it starts), sampled every 10 ms; where /proc has no
    smaps_rollup it falls back to the largest single process's ru_maxrss. Reading
    smaps_rollup slows the measured process down, so timed runs pass
    ``sample_memory=False`` and the memory comes from one extra run.
    """
    import threading

    peak = [0.0]
    with tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err)
        done = threading.Event()

        def sample() -> None:
            while not done.is_set():
                peak[0] = max(peak[0], _tree_pss_mb(proc.pid))
                done.wait(0.01)

        sampler = threading.Thread(target=sample, daemon=True)
        if sample_memory:
            sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        done.set()
        if sample_memory:
            sampler.join()
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        tail = err.read().decode(errors="replace").strip().splitlines()[-5:]
    if sample_memory and peak[0] == 0.0:  # no /proc: largest process (kB Linux, B macOS)
        scale = 1024.0 if sys.platform != "darwin" else 1.0
        peak[0] = usage.ru_maxrss * scale / 1e6
    return wall, peak[0], proc.returncode, "\n".join(tail), usage


def time_tool(tool: str, cmd: list[str], repeat: int, output: Path) -> Timing:
    """Run ``cmd`` ``repeat`` times (stops at the first failure)."""
    timing = Timing(tool=tool, command=cmd, wall_s=[], peak_rss_mb=0.0, ok=True)
    for i in range(repeat + 1):
        memory_run = i == repeat  # the last run measures memory, untimed
        output.unlink(missing_ok=True)
        wall, rss, code, tail, usage = run_measured(cmd, sample_memory=memory_run)
        if code != 0 or not output.exists():
            timing.ok = False
            state = "present" if output.exists() else "missing"
            timing.message = f"exit code {code}, output {state}"
            if tail:
                timing.message += f": {tail}"
            break
        if memory_run:
            timing.peak_rss_mb = rss
            print(f"  {tool} memory run: peak memory {rss:.0f} MB", flush=True)
        else:
            timing.wall_s.append(wall)
            timing.cpu_s.append(usage.ru_utime + usage.ru_stime)
            timing.faults.append(usage.ru_minflt)
            print(
                f"  {tool} run {i + 1}: {wall:.2f} s (CPU {usage.ru_utime:.2f} s user, "
                f"{usage.ru_stime:.2f} s system; {usage.ru_minflt:,} minor page faults)",
                flush=True,
            )
    return timing


def dosecheck_command(plan: Path, output: Path) -> list[str]:
    """``dosecheck dvh PLAN --format json --output OUTPUT`` (console script or -m)."""
    exe = Path(sys.executable).with_name("dosecheck")
    if not exe.exists() and shutil.which("dosecheck"):
        exe = Path(str(shutil.which("dosecheck")))
    base = [str(exe)] if exe.exists() else [sys.executable, "-m", "dosecheck"]
    return [*base, "dvh", str(plan), "--format", "json", "--output", str(output)]


def markdown_table(timings: list[Timing]) -> str:
    """Tool, best wall time, peak memory and time ratio relative to dosecheck."""
    ref = next((t for t in timings if t.tool == "dosecheck" and t.ok), None)
    lines = [
        "| tool | wall time (s, best of runs) | peak memory (MB, process tree PSS) "
        "| CPU (s, median) | minor page faults (median) | time ratio vs dosecheck |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for t in timings:
        if not t.ok:
            lines.append(f"| {t.tool} | failed | – | – | – | – |")
            continue
        ratio = f"{t.best_s / ref.best_s:.1f}×" if ref else "–"
        cpu = f"{sorted(t.cpu_s)[len(t.cpu_s) // 2]:.2f}" if t.cpu_s else "–"
        faults = f"{sorted(t.faults)[len(t.faults) // 2]:,}" if t.faults else "–"
        lines.append(
            f"| {t.tool} | {t.best_s:.2f} | {t.peak_rss_mb:.0f} | {cpu} | {faults} | {ratio} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(description="Benchmark dosecheck dvh against dicompyler-core.")
    ap.add_argument("--plan", type=Path, default=DEFAULT_PLAN, help="benchmark plan folder")
    ap.add_argument("--repeat", type=int, default=3, help="runs per tool (best is reported)")
    ap.add_argument("--only", choices=("dosecheck", "reference"), help="time one tool only")
    ap.add_argument(
        "--reference-reread",
        action="store_true",
        help="pass file paths to get_dvh (dicompyler-core re-reads both files per ROI)",
    )
    ap.add_argument("--json", type=Path, help="also write the timings as JSON here")
    args = ap.parse_args(argv)

    ensure_plan(args.plan)
    rs, rd = find_plan_files(args.plan)
    print(f"plan: {rs.name} ({rs.stat().st_size / 1e6:.1f} MB), {rd.name} "
          f"({rd.stat().st_size / 1e6:.1f} MB)")  # fmt: skip

    timings: list[Timing] = []
    with tempfile.TemporaryDirectory(prefix="dosecheck-bench-") as tmp:
        out_dc = Path(tmp) / "dosecheck.json"
        out_ref = Path(tmp) / "reference.json"
        if args.only in (None, "dosecheck"):
            cmd = dosecheck_command(args.plan, out_dc)
            print("timing:", " ".join(cmd), flush=True)
            timings.append(time_tool("dosecheck", cmd, args.repeat, out_dc))
        if args.only in (None, "reference"):
            reread = "1" if args.reference_reread else "0"
            cmd = [sys.executable, "-c", REFERENCE_SCRIPT, str(rs), str(rd), str(out_ref), reread]
            label = "dicompyler-core" + (" (re-read per ROI)" if args.reference_reread else "")
            print(f"timing: {label} get_dvh over all ROIs", flush=True)
            timings.append(time_tool(label, cmd, args.repeat, out_ref))

    for t in timings:
        if not t.ok:
            print(f"{t.tool} failed: {t.message}", file=sys.stderr)
    print()
    print(markdown_table(timings))
    if args.json:
        args.json.write_text(
            json.dumps(
                [
                    {
                        "tool": t.tool,
                        "command": [*t.command[:2], "..."],
                        "wall_s": t.wall_s,
                        "best_s": t.best_s if t.ok else None,
                        "peak_rss_mb": t.peak_rss_mb if t.ok else None,
                        "cpu_s": t.cpu_s,
                        "minor_faults": t.faults,
                        "ok": t.ok,
                        "message": t.message,
                    }
                    for t in timings
                ],
                indent=2,
            )
        )
    return 0 if all(t.ok for t in timings) else 1


if __name__ == "__main__":
    sys.exit(main())
