"""Optional extras through one helper: dosecheck._optional.require."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from dosecheck._optional import MissingExtraError, require
from dosecheck.errors import InputError

REPO = Path(__file__).resolve().parents[1]


def test_present_module_is_returned() -> None:
    assert require("json", extra="x", feature="y") is json


def test_missing_module(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(MissingExtraError) as info:
        require("matplotlib", extra="plot", feature="DVH plots")
    assert str(info.value) == (
        "matplotlib is not installed: it is needed for DVH plots. "
        "Install it with: pip install 'dosecheck[plot]'"
    )
    assert isinstance(info.value, InputError)
    assert (info.value.module, info.value.extra, info.value.feature) == (
        "matplotlib",
        "plot",
        "DVH plots",
    )


def test_submodule_names_its_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "dicompylercore", None)
    with pytest.raises(MissingExtraError, match=r"^dicompylercore is not installed: it is"):
        require("dicompylercore.dvhcalc", extra="reference", feature="the dicompyler engine")


def test_broken_installation_names_what_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "dosecheck_test_broken").mkdir()
    (tmp_path / "dosecheck_test_broken" / "__init__.py").write_text(
        "import dosecheck_test_absent_dependency\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(MissingExtraError) as info:
        require("dosecheck_test_broken", extra="plot", feature="DVH plots")
    assert str(info.value).startswith(
        "dosecheck_test_broken is not installed (it could not import "
        "dosecheck_test_absent_dependency): it is needed for DVH plots."
    )


def test_cli_plot_without_matplotlib_is_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from dosecheck.cli import main

    monkeypatch.setitem(sys.modules, "matplotlib", None)
    plan = REPO / "sample_plans" / "long_course_pass"
    code = main(["dvh", str(plan), "-s", "GTV", "--plot", str(tmp_path / "d.png")])
    err = capsys.readouterr().err
    assert code == 2
    assert err == (
        "dosecheck: error: matplotlib is not installed: it is needed for DVH plots. "
        "Install it with: pip install 'dosecheck[plot]'\n"
    )
    assert not (tmp_path / "d.png").exists()
