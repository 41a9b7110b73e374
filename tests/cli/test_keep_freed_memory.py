"""The C heap's thresholds are fixed for command-line runs (issue #11)."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

from dosecheck import _malloc


@pytest.mark.skipif(
    not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc",
    reason="mallopt thresholds are glibc's",
)
def test_thresholds_set_once_on_glibc() -> None:
    assert _malloc.keep_freed_memory() is True
    assert _malloc.keep_freed_memory() is True  # idempotent
    # In a fresh process the command line sets them before the command runs.
    code = (
        "import dosecheck._malloc as m, dosecheck.cli as c\n"
        "assert m._done is None\n"
        "c.main(['--version'])\n"
        "print(m._done)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "True"
