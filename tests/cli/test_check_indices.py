"""``dosecheck check`` on a written plan with a YAML set using CN, GI, CI and HI: the
numbers in every output format are the closed forms of :mod:`tests.helpers.plan_quality`
(read back through the DICOM writer and loader)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from tests.helpers.plan_quality import (
    expected_ci,
    expected_cn,
    expected_gi,
    expected_hi,
    write_plan,
)

SET = """\
name: Plan quality
prescription: {dose_gy: 50, fractions: 25}
structures:
  - name: PTV
    constraints:
      - CN95%[%] >= 0.5
      - CI95%[] <= 1.2
      - GI50%[%] <= 3
      - HI[] <= 0.4
"""


@pytest.fixture(scope="module")
def plan(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_plan(tmp_path_factory.mktemp("pqi") / "plan")


@pytest.fixture(scope="module")
def constraints(tmp_path_factory: pytest.TempPathFactory) -> Path:
    p = tmp_path_factory.mktemp("sets") / "pqi.yaml"
    p.write_text(SET, encoding="utf-8")
    return p


def test_json_gives_the_indices(dc, plan: Path, constraints: Path) -> None:
    code, out, _ = dc("check", plan, "-c", constraints, "-f", "json")
    assert code == 1  # GI = 3.5 > 3: a mandatory constraint fails
    doc = json.loads(out)
    by_metric = {r["metric_canonical"]: r for r in doc["results"]}
    cn, ci, gi, hi = (by_metric[m] for m in ("CN95%[]", "CI95%[]", "GI50%[]", "HI[]"))
    assert cn["metric"] == "CN95%[%]"  # as written
    assert cn["value"] == pytest.approx(expected_cn(47.5), rel=1e-9)
    assert ci["value"] == pytest.approx(expected_ci(47.5), rel=1e-9)
    assert gi["value"] == pytest.approx(expected_gi(25.0), rel=1e-9)
    assert hi["value"] == pytest.approx(expected_hi(), abs=1e-3)
    assert [r["status"] for r in (cn, ci, gi, hi)] == ["pass", "pass", "fail", "pass"]
    assert gi["margin"] == pytest.approx(3.0 - 3.5, rel=1e-9)
    assert {r["unit"] for r in (cn, ci, gi, hi)} == {""}
    assert (cn["body_roi"], hi["body_roi"]) == ("BODY", None)
    assert doc["verdict"] == "fail"


def test_table_shows_the_indices(dc, plan: Path, constraints: Path) -> None:
    code, out, _ = dc("check", plan, "-c", constraints)
    assert code == 1
    assert "CN95%[%]" in out and "GI50%[%]" in out and "HI[]" in out
    assert "0.56" in out and "3.50" in out
    assert "V_25Gy" in out  # GI's message: the two isodose volumes


def test_csv_gives_the_indices(dc, plan: Path, constraints: Path) -> None:
    code, out, _ = dc("check", plan, "-c", constraints, "-f", "csv")
    assert code == 1
    rows = list(csv.DictReader(io.StringIO(out)))
    cn = next(r for r in rows if r["metric_canonical"] == "CN95%[]")
    assert float(cn["value"]) == pytest.approx(expected_cn(47.5), rel=1e-9)
    assert cn["body_roi"] == "BODY"
    assert cn["unit"] == ""


def test_markdown_gives_the_indices(dc, plan: Path, constraints: Path) -> None:
    code, out, _ = dc("check", plan, "-c", constraints, "-f", "markdown")
    assert code == 1
    assert "| `CN95%[%]` | 0.56 |" in out
    assert "| `GI50%[%]` | 3.50 | <= 3 | -0.50 | mandatory | **FAIL** |" in out


def test_map_body_on_the_command_line(dc, plan: Path, constraints: Path) -> None:
    code, out, _ = dc("check", plan, "-c", constraints, "-f", "json", "--map", "Body=PTV")
    doc = json.loads(out)
    cn = next(r for r in doc["results"] if r["metric_canonical"] == "CN95%[]")
    # The PTV as "body": it is no larger than the target, so not the whole patient;
    # counted, CN95% would be the coverage alone, 0.694 instead of 0.556.
    assert cn["body_roi"] == "PTV"
    assert cn["status"] == "not_evaluated"
    assert "is no larger than target 'PTV'" in cn["message"]
    # GI is refused: the whole "body" (the PTV, minimum 42 Gy) receives the 25 Gy low
    # isodose, so V_25Gy would be the PTV's edge, 408 cc, and GI 1.8 instead of 3.5.
    gi = next(r for r in doc["results"] if r["metric_canonical"] == "GI50%[]")
    assert gi["status"] == "not_evaluated"
    assert gi["reason"] == "metric_undefined"
    assert gi["value"] is None
    assert "covers the whole body ROI 'PTV'" in gi["message"]
    assert code == 1  # a mandatory constraint not evaluated: incomplete
