"""Bad input never crashes, never lies: the corpus of :mod:`tests.helpers.badinput` through the CLI.

Every case runs ``python -m dosecheck dvh …`` in a subprocess (the most faithful way to
see exit codes, stdout and stderr as a user does) under a 2 GB address-space limit, so a
runaway allocation fails fast instead of swapping the machine. A case either

* exits 2 with exactly one line ``dosecheck: error: <file>: …`` on stderr that names
  the damaged file and says what is wrong, and prints nothing on stdout; or
* exits 0 and reports the problem in band (JSON ``warnings``), with per-ROI numbers
  that are right or explicitly empty.

No case may print a traceback or exit 3 (internal error).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.badinput import Case, make_corpus

ADDRESS_SPACE_LIMIT = 2 << 30
_CORPUS_DIR = Path(tempfile.mkdtemp(prefix="dosecheck-badinput-"))
CORPUS = {c.id: c for c in make_corpus(_CORPUS_DIR)}


class Run:
    def __init__(self, code: int, stdout: str, stderr: str, max_rss_mb: float) -> None:
        self.code, self.stdout, self.stderr, self.max_rss_mb = code, stdout, stderr, max_rss_mb

    def json(self) -> dict[str, Any]:
        return json.loads(self.stdout)


#: ``python -m dosecheck`` with an address-space limit set by the child itself (a
#: preexec_fn is not safe with the threads that run the cases in parallel).
#: The child records its own peak RSS (VmHWM of its own address space) at exit:
#: wait4's ru_maxrss would include the parent's peak, which execve carries over, so it
#: grows with the size of the pytest process rather than with the command.
LIMITED_DOSECHECK = (
    "import atexit, os, resource, runpy, sys; "
    f"resource.setrlimit(resource.RLIMIT_AS, ({ADDRESS_SPACE_LIMIT}, {ADDRESS_SPACE_LIMIT})); "
    "hwm = lambda: [l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')]; "
    "atexit.register(lambda: open(os.environ['DOSECHECK_TEST_HWM'], 'w').write(hwm()[0])); "
    "sys.argv[0] = 'dosecheck'; "
    "runpy.run_module('dosecheck', run_name='__main__', alter_sys=True)"
)


def run_cli(args: tuple[str, ...]) -> Run:
    """Run ``python -m dosecheck ARGS``; returns exit code, output and peak RSS."""
    with (
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
        tempfile.TemporaryDirectory() as tmp,
    ):
        hwm_file = os.path.join(tmp, "hwm")
        env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1", "DOSECHECK_TEST_HWM": hwm_file}
        p = subprocess.Popen(
            [sys.executable, "-c", LIMITED_DOSECHECK, *args],
            stdout=out,
            stderr=err,
            stdin=subprocess.DEVNULL,
            env=env,
        )
        p.wait()
        out.seek(0)
        err.seek(0)
        try:
            with open(hwm_file) as fh:
                peak_mb = int(fh.read()) / 1024
        except (OSError, ValueError):
            peak_mb = float("nan")  # killed before exit handlers ran
        return Run(p.returncode, out.read().decode("utf-8"), err.read().decode("utf-8"), peak_mb)


_RUNS: dict[str, Run] = {}


def run_case(case_id: str) -> Run:
    if case_id not in _RUNS:
        _RUNS[case_id] = run_cli(CORPUS[case_id].args)
    return _RUNS[case_id]


@pytest.fixture(scope="module", autouse=True)
def _prefetch(request: pytest.FixtureRequest) -> Iterator[None]:
    """Run the selected cases' commands in parallel (each is a separate process)."""
    wanted = {"baseline"}
    for item in request.session.items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        if item.module is sys.modules[__name__] and "case_id" in params:
            wanted.add(params["case_id"])
    todo = [c for c in wanted if c not in _RUNS]
    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        _RUNS.update(zip(todo, pool.map(lambda c: run_cli(CORPUS[c].args), todo), strict=True))
    yield
    shutil.rmtree(_CORPUS_DIR, ignore_errors=True)


def _close(actual: float | None, expected: float | None, rel: float) -> bool:
    if expected is None or actual is None:
        return actual is expected
    return abs(actual - expected) <= max(rel * abs(expected), 1e-3)


def check_error(case: Case, run: Run) -> None:
    lines = run.stderr.splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got {len(lines)}:\n{run.stderr}"
    line = lines[0]
    assert line.startswith(f"dosecheck: error: {case.file}: "), line
    for fragment in case.message:
        assert fragment in line, f"{fragment!r} not in {line!r}"
    assert run.stdout == "", "nothing on stdout when the input is refused"


def check_result(case: Case, run: Run) -> None:
    doc = run.json()
    rois = {s["name"]: s for s in doc["structures"]}
    if case.names is not None:
        assert [s["name"] for s in doc["structures"]] == list(case.names)
    for fragment in case.warnings:
        assert any(fragment in w for w in doc["warnings"]), (fragment, doc["warnings"])
    for name, fields in case.rois.items():
        for key, expected in fields.items():
            actual = rois[name][key]
            assert _close(actual, expected, case.rel_tol), (
                f"{name} {key}: {actual} reported, {expected} expected "
                f"(±{case.rel_tol:.1%}); warnings: {doc['warnings']}"
            )
    for s in doc["structures"]:  # an ROI reported as having volume has statistics
        if s["volume_cc"]:
            assert None not in (s["min_gy"], s["mean_gy"], s["max_gy"]), s
            assert s["min_gy"] <= s["mean_gy"] <= s["max_gy"], s
        elif s["max_gy"] is None:
            assert s["volume_cc"] == 0 and s["dvh"]["dose_gy"] == [], s
            assert any(w.startswith(f"{s['name']}: ") for w in s["warnings"]), (
                "an empty DVH must say why"
            )
    if case.same_as:
        reference = run_case(case.same_as).json()["structures"]
        assert doc["structures"] == reference


@pytest.mark.parametrize("case_id", list(CORPUS))
def test_corpus(case_id: str) -> None:
    case = CORPUS[case_id]
    run = run_case(case_id)
    assert "Traceback" not in run.stderr, run.stderr
    assert "internal error" not in run.stderr, run.stderr
    assert run.code == case.exit_code, f"exit {run.code}; stderr:\n{run.stderr}"
    if case.exit_code == 2:
        check_error(case, run)
    elif "--format" in case.args and case.args[case.args.index("--format") + 1] == "json":
        check_result(case, run)
    for fragment in case.stdout_has:
        assert fragment in run.stdout, f"{fragment!r} not printed:\n{run.stdout}"
    if case.max_rss_mb is not None:
        assert run.max_rss_mb < case.max_rss_mb, f"peak RSS {run.max_rss_mb:.0f} MB"


def test_baseline_is_exact() -> None:
    """The base plan's numbers are known in closed form (linear dose, square ROIs)."""
    doc = run_case("baseline").json()
    ptv = next(s for s in doc["structures"] if s["name"] == "PTV")
    # 30 + 0.2 x + 0.1 y + 0.3 z over x, y in [-10, 10], z in [-6.25, 6.25]
    assert ptv["mean_gy"] == pytest.approx(30.0, abs=1e-3)
    assert ptv["min_gy"] == pytest.approx(30 - 2 - 1 - 1.875, abs=1e-3)
    assert ptv["max_gy"] == pytest.approx(30 + 2 + 1 + 1.875, abs=1e-3)
    # the only warning: without an RTPLAN nothing confirms the dose's scale
    assert doc["warnings"] == ["dose scale not verified: no RTPLAN to compare the dose with"]


def test_error_line_names_the_file_without_debug_noise() -> None:
    """``--debug`` is the only way to get a traceback for bad input."""
    case = CORPUS["relative_units"]
    run = run_cli(("--debug", *case.args))
    assert run.code != 0
    assert "Traceback" in run.stderr and "DicomInputError" in run.stderr
