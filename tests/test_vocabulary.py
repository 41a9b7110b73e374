"""One vocabulary for results and verdicts: str enums whose JSON is their value."""

from __future__ import annotations

import json

import pytest

from dosecheck.checking.evaluate import verdict
from dosecheck.checking.model import ConstraintResult, ShownStatus, Status, Verdict


def result(status: str, priority: str = "mandatory") -> ConstraintResult:
    return ConstraintResult(
        structure="Rectum",
        roi="Rectum",
        metric="V45Gy[cc]",
        value=12.0,
        unit="cc",
        comparator="<",
        limit=10.0,
        status=status,  # type: ignore[arg-type]
        message="m",
        priority=priority,  # type: ignore[arg-type]
    )


def test_values_and_json_unchanged() -> None:
    # "variation" added by issue #10, section 2 (goal missed, variation limit met)
    assert [s.value for s in Status] == ["pass", "fail", "variation", "not_evaluated"]
    assert [v.value for v in Verdict] == ["pass", "fail", "incomplete"]
    r = result("fail")
    assert r.status is Status.FAIL  # a plain string is turned into the member
    d = r.to_dict()
    assert json.loads(json.dumps(d))["status"] == "fail"
    assert json.dumps({Status.PASS: [Verdict.INCOMPLETE]}) == '{"pass": ["incomplete"]}'
    assert f"{Status.NOT_EVALUATED}" == "not_evaluated" and Status.PASS == "pass"


def test_a_typo_fails_where_the_result_is_built() -> None:
    with pytest.raises(ValueError, match="'passed' is not a valid Status"):
        result("passed")


@pytest.mark.parametrize(
    ("status", "priority", "shown", "label"),
    [
        ("pass", "mandatory", ShownStatus.PASS, "PASS"),
        ("pass", "optimal", ShownStatus.PASS, "PASS"),
        ("fail", "mandatory", ShownStatus.FAIL, "FAIL"),
        ("fail", "optimal", ShownStatus.NOT_MET, "NOT MET (optimal)"),
        ("not_evaluated", "mandatory", ShownStatus.NOT_EVALUATED, "NOT EVALUATED"),
        ("not_evaluated", "optimal", ShownStatus.NOT_EVALUATED, "NOT EVALUATED"),
        ("variation", "mandatory", ShownStatus.VARIATION, "VARIATION"),
        ("variation", "optimal", ShownStatus.VARIATION, "VARIATION"),
    ],
)
def test_shown_status(status: str, priority: str, shown: ShownStatus, label: str) -> None:
    assert ShownStatus.of(status, priority) is shown
    assert shown.label == label


def test_verdict_members() -> None:
    assert verdict([result("pass"), result("fail", "optimal")]) is Verdict.PASS
    assert verdict([result("pass"), result("not_evaluated")]) is Verdict.INCOMPLETE
    assert verdict([result("not_evaluated"), result("fail")]) is Verdict.FAIL
