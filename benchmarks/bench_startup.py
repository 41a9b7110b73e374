"""Time dosecheck's short commands against the floors they cannot go below (issue #11).

Each measurement is a whole fresh process, run side by side with its floor in
interleaved rounds (floor, dosecheck, floor, dosecheck, ...), so machine noise
falls on both alike; the table gives the best and the median of the rounds and the
ratio of the medians.

* ``--version`` against ``python -c "import typer"`` (the command-line library alone).
* ``--help`` against a two-command typer app printing its ``--help`` (typer's help is
  drawn with rich, which ``import typer`` does not load: the app is the floor of any
  typer program that prints help).
* ``check --help`` against that app's ``a --help`` (a command's option panel) and
  ``c --help``, a command with as many options of the same kinds as ``check``
  (typer's cost grows with the options it converts and draws).
* ``check PLAN --constraints rectum-long-course`` on the benchmark plan against
  ``python -c "import pydicom, numpy"`` (reading DICOM with NumPy at all).

Usage::

    python benchmarks/bench_startup.py [--plan DIR] [--rounds 9] [--json OUT.json]

dosecheck's modules are byte-compiled first, as an installed package's are
(``benchmarks/_bytecode.py``). The benchmark plan is generated with
``make_benchmark_plan.py`` when the folder has
none (as ``bench_dvh.py`` does).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_PLAN = Path("/tmp/dosecheck-bench/plan")

FLOOR_APP = '''
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer


class Colour(str, Enum):
    red = "red"
    green = "green"

app = typer.Typer(add_completion=False)


@app.command()
def a(x: int = 1, name: str = "") -> None:
    """First command."""


@app.command()
def b(y: str = "") -> None:
    """Second command."""


@app.command()
def c(  # as many options as dosecheck check, of the same kinds, each with its help
    plan: Annotated[Optional[Path], typer.Argument(help="A folder.")] = None,
    o1: Annotated[Optional[str], typer.Option(help="Text.")] = None,
    o2: Annotated[Optional[float], typer.Option(help="A number.")] = None,
    o3: Annotated[Optional[int], typer.Option(help="A count.", min=1)] = None,
    o4: Annotated[bool, typer.Option(help="A flag.")] = False,
    o5: Annotated[Colour, typer.Option(help="A choice.")] = Colour.red,
    o6: Annotated[Optional[Path], typer.Option(help="A file.")] = None,
    o7: Annotated[Optional[Path], typer.Option(help="A file.")] = None,
    o8: Annotated[Optional[Path], typer.Option(help="A file.")] = None,
    o9: Annotated[Optional[list[Path]], typer.Option(help="Files.")] = None,
    o10: Annotated[bool, typer.Option(help="A flag.")] = False,
    o11: Annotated[Optional[Path], typer.Option(help="A file.")] = None,
    o12: Annotated[Optional[Colour], typer.Option(help="A choice.")] = None,
    o13: Annotated[Optional[str], typer.Option(help="Text.")] = None,
    o14: Annotated[Optional[list[str]], typer.Option(help="Texts.")] = None,
    o15: Annotated[bool, typer.Option(help="A flag.")] = False,
    o16: Annotated[bool, typer.Option(help="A flag.")] = False,
    o17: Annotated[Optional[Colour], typer.Option(help="A choice.")] = None,
    o18: Annotated[bool, typer.Option(help="A flag.")] = False,
) -> None:
    """Third command."""


app()
'''


def _dosecheck() -> list[str]:
    script = Path(sys.executable).with_name("dosecheck")
    return [str(script)] if script.exists() else [sys.executable, "-m", "dosecheck"]


def _time(cmd: list[str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - start
    if done.returncode not in (0, 1):  # check exits 1 when a mandatory constraint fails
        tail = done.stderr.decode(errors="replace").strip().splitlines()[-1:]
        raise SystemExit(f"{' '.join(cmd)} exited {done.returncode}: {tail}")
    return elapsed


def measure(pairs: list[tuple[str, list[str], str, list[str]]], rounds: int) -> list[dict]:
    """Interleave each (name, command, floor name, floor command) pair for ``rounds``."""
    rows = []
    for name, cmd, floor_name, floor_cmd in pairs:
        _time(cmd), _time(floor_cmd)  # warm the file cache for both
        ours, floor = [], []
        for _ in range(rounds):
            floor.append(_time(floor_cmd))
            ours.append(_time(cmd))
        rows.append(
            {
                "command": name,
                "floor": floor_name,
                "best_s": min(ours),
                "median_s": statistics.median(ours),
                "floor_best_s": min(floor),
                "floor_median_s": statistics.median(floor),
                "ratio": statistics.median(ours) / statistics.median(floor),
            }
        )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--plan", type=Path, default=DEFAULT_PLAN, help="benchmark plan folder")
    ap.add_argument("--rounds", type=int, default=9, help="interleaved rounds per pair")
    ap.add_argument("--json", type=Path, help="also write the rows as JSON here")
    ap.add_argument("--no-plan", action="store_true", help="skip the check on the plan")
    args = ap.parse_args()

    sys.path.insert(0, str(HERE))
    from _bytecode import compile_package

    compile_package()  # as installed: see benchmarks/_bytecode.py
    dc, py = _dosecheck(), sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        app = Path(tmp) / "floor_app.py"
        app.write_text(FLOOR_APP)
        pairs = [
            ("dosecheck --version", [*dc, "--version"], "import typer", [py, "-c", "import typer"]),
            ("dosecheck --help", [*dc, "--help"], "typer app --help", [py, str(app), "--help"]),
            (
                "dosecheck check --help",
                [*dc, "check", "--help"],
                "typer app a --help",
                [py, str(app), "a", "--help"],
            ),
            (
                "dosecheck check --help",
                [*dc, "check", "--help"],
                "typer app c --help (19 options)",
                [py, str(app), "c", "--help"],
            ),
        ]
        if not args.no_plan:
            from bench_dvh import ensure_plan

            ensure_plan(args.plan)
            out = Path(tmp) / "check.json"
            check = [*dc, "check", str(args.plan), "--constraints", "rectum-long-course"]
            pairs.append(
                (
                    "dosecheck check PLAN (long course)",
                    [*check, "--format", "json", "--output", str(out)],
                    "import pydicom, numpy",
                    [py, "-c", "import pydicom, numpy"],
                )
            )
        rows = measure(pairs, args.rounds)

    load = os.getloadavg()[0]
    print(f"{args.rounds} interleaved rounds per pair, load average {load:.2f}\n")
    print("| command | best (s) | median (s) | floor | floor median (s) | ratio of medians |")
    print("|---|---:|---:|---|---:|---:|")
    for r in rows:
        print(
            f"| `{r['command']}` | {r['best_s']:.3f} | {r['median_s']:.3f} | `{r['floor']}` "
            f"| {r['floor_median_s']:.3f} | {r['ratio']:.2f}× |"
        )
    if args.json:
        args.json.write_text(json.dumps({"load_average": load, "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
