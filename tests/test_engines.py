"""The DVH engines by name (dosecheck/engines.py) and ``dosecheck dvh --engine``.

The plan is the long-course box plan of :mod:`tests.helpers.plans` with the failing
bowel profile: bowel bag 680 cc, V30Gy = 552.5 cc in closed form.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pytest

from dosecheck import engines
from dosecheck.engines import DEFAULT_ENGINE, ENGINES, engine_named
from dosecheck.errors import InputError
from tests.helpers.plans import (
    BOWEL_BOX,
    BOWEL_CC,
    LONG_BOWEL_FAIL,
    LONG_PTV_PASS,
    v_cc,
    write_plan,
)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_plan(tmp_path_factory.mktemp("engines") / "p", LONG_BOWEL_FAIL, LONG_PTV_PASS)


def test_the_registry_names_the_engines() -> None:
    assert list(ENGINES) == ["dosecheck", "dicompyler"]
    assert DEFAULT_ENGINE == "dosecheck"
    assert engine_named("dicompyler") is ENGINES["dicompyler"]
    with pytest.raises(InputError) as err:
        engine_named("Dosecheck")
    assert str(err.value) == "unknown engine 'Dosecheck'; use one of: dosecheck, dicompyler"


def test_the_default_engine_gives_the_closed_forms(folder: Path, dc) -> None:
    code, out, _ = dc("dvh", folder, "-s", "BowelBag", "-f", "json")
    assert code == 0
    doc = json.loads(out)
    assert doc["engine"] == "dosecheck"
    (bowel,) = doc["structures"]
    assert bowel["volume_cc"] == pytest.approx(BOWEL_CC, abs=0.05)  # 680 cc
    curve = bowel["dvh"]
    v30 = float(np.interp(30.0, curve["dose_gy"], curve["volume_cc"]))
    assert v30 == pytest.approx(v_cc(LONG_BOWEL_FAIL, 30.0, BOWEL_BOX), abs=0.25)  # 552.5 cc
    code, named, _ = dc("dvh", folder, "-s", "BowelBag", "-f", "json", "--engine", "dosecheck")
    assert code == 0
    assert json.loads(named)["structures"] == doc["structures"]


def test_an_unknown_engine_exits_2_before_any_work(tmp_path: Path, dc) -> None:
    """The name is refused before the (missing) plan folder is even looked at."""
    code, out, err = dc("dvh", tmp_path / "no-such-plan", "--engine", "pinnacle")
    assert code == 2
    assert out == ""
    assert err.strip().splitlines() == [
        "dosecheck: error: unknown engine 'pinnacle'; use one of: dosecheck, dicompyler"
    ]


def test_the_cli_runs_the_engine_the_registry_names(
    folder: Path, dc, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new entry is all a new engine needs: the CLI passes it the plan, the
    structures and the jobs, and prints what it returns."""
    calls: list[tuple[list[str] | None, int]] = []

    def mine(plan, structures: Iterable[str] | None, jobs: int, end_caps: str | None = None):
        from dosecheck.core.structures import compute_dvhs

        calls.append((list(structures) if structures else None, jobs))
        return compute_dvhs(plan, structures, jobs=1)

    monkeypatch.setitem(engines.ENGINES, "mine", mine)
    code, out, _ = dc("dvh", folder, "-s", "PTV", "-j", "3", "-f", "json", "--engine", "mine")
    assert code == 0
    doc = json.loads(out)
    assert calls == [(["PTV"], 3)]
    assert doc["engine"] == "mine"
    assert [s["name"] for s in doc["structures"]] == ["PTV"]
    assert doc["structures"][0]["volume_cc"] == pytest.approx(68.0, abs=0.01)
