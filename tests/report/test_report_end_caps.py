"""The plan report names the end-cap convention of its DVHs and marks borderline results."""

from __future__ import annotations

from pathlib import Path

import pytest

from dosecheck.checking.check import check_plan
from tests.helpers.plans import LONG_BOWEL_PASS, LONG_PTV_PASS, memory_plan


def _set(tmp_path: Path, limit: float) -> Path:
    path = tmp_path / "set.yaml"
    path.write_text(
        "name: t\nprescription: {dose_gy: 50.4, fractions: 28}\nstructures:\n"
        f"  - name: BowelBag\n    constraints:\n      - V30Gy[cc] < {limit}\n",
        encoding="utf-8",
    )
    return path


@pytest.mark.parametrize("caps", ["half-slice", "none"])
def test_identity_names_the_end_caps(tmp_path: Path, caps: str) -> None:
    pytest.importorskip("matplotlib")
    from dosecheck.report.html import render_report

    report = check_plan(
        memory_plan(LONG_BOWEL_PASS, LONG_PTV_PASS), _set(tmp_path, 600), end_caps=caps
    )
    html = render_report(report)
    assert f'<td data-field="end_caps">{caps}</td>' in html


def test_borderline_badge_and_sentence(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    from dosecheck.report.html import render_report

    # V30Gy: 306 cc half-slice, 288 cc none; a limit of 300 cc lies between.
    html = render_report(
        check_plan(memory_plan(LONG_BOWEL_PASS, LONG_PTV_PASS), _set(tmp_path, 300))
    )
    assert 'data-borderline="true"' in html and "≈ borderline</span>" in html
    assert "Borderline: V30Gy[cc] = 306.1 cc, limit &lt; 300 cc" in html
    far = render_report(
        check_plan(memory_plan(LONG_BOWEL_PASS, LONG_PTV_PASS), _set(tmp_path, 600))
    )
    assert 'data-borderline="true"' not in far and 'data-borderline="false"' in far
