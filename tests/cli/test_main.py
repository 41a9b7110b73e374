"""dosecheck.cli.main(argv) returns the exit code; the entry points pass it to sys.exit."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from dosecheck.cli import main
from dosecheck.errors import InputError


def test_input_error_is_exit_2_and_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nothing"
    assert main(["check", str(missing)]) == 2
    assert capsys.readouterr().err == f"dosecheck: error: {missing}: not found; check the path\n"


def test_debug_shows_the_exception(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found; check the path"):
        main(["--debug", "check", str(tmp_path / "nothing")])


def test_usage_error_and_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--no-such-option"]) == 2
    assert "No such option: --no-such-option" in capsys.readouterr().err
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("dosecheck ")


def test_python_m_dosecheck_exits_with_the_code(tmp_path: Path) -> None:
    p = subprocess.run(
        [sys.executable, "-m", "dosecheck", "check", str(tmp_path / "nothing")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert p.returncode == 2
    assert p.stderr.strip().endswith("not found; check the path")
