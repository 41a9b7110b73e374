"""Fixtures shared by test modules in several folders (builders live in tests/helpers/)."""

from __future__ import annotations

from collections.abc import Callable

import pytest


@pytest.fixture
def dc(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Callable[..., tuple[int, str, str]]:
    """``dc("check", folder, …)`` runs ``dosecheck`` through :func:`dosecheck.cli.main`
    (exit-code handling included, 120 columns) and returns ``(exit code, stdout, stderr)``.

    A module may define its own ``dc`` (e.g. with other arguments); that one wins there.
    """
    from dosecheck import cli

    def run(*args: object) -> tuple[int, str, str]:
        monkeypatch.setenv("COLUMNS", "120")
        code = cli.main([str(a) for a in args])
        out = capsys.readouterr()
        return code, out.out, out.err

    return run
