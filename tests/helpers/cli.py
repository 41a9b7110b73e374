"""Running ``dosecheck`` in-process, as a user would from the shell."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pytest


@dataclass
class CliResult:
    """What a CLI call returned."""

    code: int
    stdout: str
    stderr: str


def run_cli(
    args: Sequence[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> CliResult:
    """Run ``dosecheck ARGS`` in-process through :func:`dosecheck.cli.main`."""
    from dosecheck.cli import main

    capsys.readouterr()
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return CliResult(code, captured.out, captured.err)
