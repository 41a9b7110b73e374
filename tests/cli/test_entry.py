"""The console script's entry point answers ``--version`` without loading the CLI."""

from __future__ import annotations

import subprocess
import sys

import dosecheck


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    code = (
        "import sys\n"
        f"sys.argv = ['dosecheck', *{list(args)!r}]\n"
        "from dosecheck.entry import run\n"
        "try:\n"
        "    run()\n"
        "except SystemExit as exc:\n"
        "    loaded = sorted(m for m in ('typer', 'click', 'rich', 'numpy') if m in sys.modules)\n"
        "    print('LOADED', ','.join(loaded), 'RC', exc.code)\n"
    )
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)


def test_version_prints_without_loading_the_cli() -> None:
    out = _run("--version").stdout.splitlines()
    assert out == [f"dosecheck {dosecheck.__version__}", "LOADED  RC 0"]


def test_other_arguments_reach_the_cli() -> None:
    out = _run("--help").stdout
    assert "Usage: dosecheck" in out
    assert "LOADED" in out and "typer" in out.splitlines()[-1] and out.rstrip().endswith("RC 0")
