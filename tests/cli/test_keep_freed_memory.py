"""The C heap's thresholds are fixed for command-line runs (issue #11)."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

from dosecheck import _runtime


@pytest.mark.skipif(
    not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc",
    reason="mallopt thresholds are glibc's",
)
def test_thresholds_set_once_on_glibc() -> None:
    assert _runtime.keep_freed_memory() is True
    assert _runtime.keep_freed_memory() is True  # idempotent
    # In a fresh process the command line sets them before the command runs.
    code = (
        "import dosecheck._runtime as m, dosecheck.cli as c\n"
        "assert m._done is None\n"
        "c.main(['--version'])\n"
        "print(m._done)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "True"


def test_cyclic_gc_paused_during_a_command_and_restored() -> None:
    import gc

    from dosecheck import cli

    seen: list[bool] = []
    original = cli._main

    def spy(argv: list[str] | None) -> int:
        seen.append(gc.isenabled())
        return original(argv)

    assert gc.isenabled()
    cli._main = spy  # type: ignore[assignment]
    try:
        assert cli.main(["--version"]) == 0
    finally:
        cli._main = original  # type: ignore[assignment]
    assert seen == [False]
    assert gc.isenabled()
    with _runtime.pause_cyclic_gc():
        _runtime.resume_cyclic_gc()  # what batch, listen and serve do
        assert gc.isenabled()
    assert gc.isenabled()


def test_before_exit_freezes_what_is_alive() -> None:
    import gc

    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    _runtime.before_exit()
    try:
        assert gc.get_freeze_count() > 1000  # the modules, the test session's objects
    finally:
        gc.unfreeze()
