"""The examples in the public API's docstrings run and print what they say.

``dosecheck.api``'s module docstring, ``load_plan``, and the entry points it re-exports
(``check_plan``, ``compute_dvhs``) carry examples on the shipped sample plans, run here
from the repository root as a user would.
"""

from __future__ import annotations

import doctest

import pytest

import dosecheck.api as api
from tests.helpers.paths import REPO

#: Each documented entry point and the number of examples its docstring has at least.
DOCUMENTED = {
    "dosecheck.api": 3,
    "load_plan": 9,
    "check_plan": 5,
    "compute_dvhs": 5,
}


@pytest.mark.parametrize("name", sorted(DOCUMENTED))
def test_docstring_examples(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if not (REPO / "sample_plans" / "long_course_pass").is_dir():
        pytest.skip("sample_plans/ not generated")
    monkeypatch.chdir(REPO)
    obj = api if name == "dosecheck.api" else getattr(api, name)
    finder = doctest.DocTestFinder(recurse=False)
    (test,) = finder.find(obj, name, globs={})
    assert len(test.examples) >= DOCUMENTED[name], f"{name} lost its examples"
    out: list[str] = []
    runner = doctest.DocTestRunner()
    result = runner.run(test, out=out.append)
    assert result.failed == 0, "".join(out)
    assert result.attempted == len(test.examples)
