"""Review of the borderline ranges (issue 9). Expected to FAIL on commit 2a5bf78.

The box plan of :mod:`tests.helpers.plans`: the bowel bag's V30Gy is 306.1 cc with
half-slice end caps and 288.1 cc with none (``shape`` keeps the half-slice caps).
"""

from __future__ import annotations

import re
from pathlib import Path

from dosecheck.checking.check import check_plan
from tests.helpers.plans import LONG_BOWEL_PASS, LONG_PTV_PASS, memory_plan


def _check(tmp_path: Path, limit: str, comparator: str):
    path = tmp_path / "set.yaml"
    path.write_text(
        "name: borderline review\n"
        "prescription: {dose_gy: 50.4, fractions: 28}\n"
        "structures:\n"
        "  - name: Bag_Bowel\n"
        "    aliases: [BowelBag]\n"
        "    constraints:\n"
        f"      - V30Gy[cc] {comparator} {limit}\n",
        encoding="utf-8",
    )
    return check_plan(memory_plan(LONG_BOWEL_PASS, LONG_PTV_PASS), path)


def test_the_sentence_tells_value_and_limit_apart(tmp_path: Path) -> None:
    """A limit 0.005 cc below the half-slice value: the sentence printed 4 significant
    digits, 'V30Gy[cc] = 306.1 cc, limit < 306.1 cc', as if the value were the limit.
    It must print enough digits that the value and the limit differ."""
    high = _check(tmp_path, "600", "<").ranges[0].high
    limit = f"{high - 0.005:.6f}"
    v = _check(tmp_path, limit, "<").ranges[0]
    assert v.borderline
    m = re.match(r"V30Gy\[cc\] = (\S+) cc, limit < (\S+) cc", v.reason)
    assert m is not None, v.reason
    assert m.group(1) != m.group(2), v.reason


def test_a_limit_at_the_end_of_the_range_that_no_convention_crosses(tmp_path: Path) -> None:
    """'<=' with the limit equal to the highest value: every convention passes, so
    the verdict does not depend on the convention. Reviewed code: borderline, 'the
    verdict depends on how the structure's ends are modelled'."""
    high = _check(tmp_path, "600", "<").ranges[0].high
    report = _check(tmp_path, repr(high), "<=")
    assert report.results[0].status == "pass"
    assert not report.ranges[0].borderline, report.ranges[0].reason
