"""The plan-quality indices in the metric grammar: CI, CN, GI (with an isodose) and HI."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dosecheck.errors import MetricSyntaxError
from dosecheck.metrics import ACCEPTED_FORMS, Metric, parse_metric


@pytest.mark.parametrize(
    ("text", "kind", "number", "unit", "canonical"),
    [
        ("CN95%[]", "CN", 95.0, "%", "CN95%[]"),
        ("CN95%[%]", "CN", 95.0, "%", "CN95%[]"),
        ("CN47.88Gy[]", "CN", 47.88, "Gy", "CN47.88Gy[]"),
        ("CI95%[%]", "CI", 95.0, "%", "CI95%[]"),
        ("CI4788cGy [ ]", "CI", 4788.0, "cGy", "CI4788cGy[]"),
        ("GI50%[%]", "GI", 50.0, "%", "GI50%[]"),
        ("GI25Gy[]", "GI", 25.0, "Gy", "GI25Gy[]"),
        (" HI [] ", "HI", None, None, "HI[]"),
    ],
)
def test_index_forms(
    text: str, kind: str, number: float | None, unit: str | None, canonical: str
) -> None:
    m = parse_metric(text)
    assert (m.kind, m.number, m.number_unit, m.output_unit) == (kind, number, unit, "")
    assert str(m) == canonical
    assert m.text == text
    assert m.is_index and not m.gives_dose
    assert m.needs_body == (kind != "HI")


def test_percent_brackets_are_the_same_ratio() -> None:
    assert parse_metric("CN95%[%]") == parse_metric("CN95%[]")
    assert parse_metric("GI50%[%]") == parse_metric("GI50%[]")


@pytest.mark.parametrize(
    ("text", "needs"),
    [
        ("CN95%[]", True),
        ("CN47.88Gy[]", False),
        ("CI95%[]", True),
        ("CI45Gy[]", False),
        ("GI50%[]", True),
        ("GI25Gy[]", True),  # its denominator is the prescription isodose
        ("HI[]", False),
    ],
)
def test_which_indices_need_the_prescription(text: str, needs: bool) -> None:
    assert parse_metric(text).needs_prescription is needs


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ("HI[%]", "HI is a ratio: write HI[]"),
        ("CN95%[cc]", "CN is a ratio: write its brackets empty, e.g. CN95%[]"),
        ("CN95%[Gy]", "CN is a ratio"),
        ("GI100%[]", "GI takes the low isodose, below the prescription (100%), not 100%"),
        ("GI150%[%]", "below the prescription"),
        ("CN0%[]", "CN needs an isodose > 0"),
        ("CN[]", "CN must be followed by a dose, a number with Gy, cGy or %"),
        ("CN95cc[]", "unknown dose unit 'cc'"),
        ("HI98%[]", "HI takes no number or unit before the brackets: write e.g. HI[]"),
        ("CN95%", "CN is a ratio: end it with empty brackets, e.g. CN95%[]"),
        ("cn95%[]", "did you mean 'CN95%[]'?"),
        ("V30Gy[]", "V needs the unit of its result in brackets; only the indices take []"),
    ],
)
def test_index_syntax_errors(text: str, hint: str) -> None:
    with pytest.raises(MetricSyntaxError) as exc:
        parse_metric(text)
    msg = str(exc.value)
    assert hint in msg
    assert msg.endswith(ACCEPTED_FORMS)


def test_accepted_forms_list_the_indices() -> None:
    for example in ("CN95%[]", "GI50%[]", "HI[]", "CI<dose>[]"):
        assert example in ACCEPTED_FORMS


def test_metric_built_directly_is_checked() -> None:
    assert str(Metric("CN", 95.0, "%", "")) == "CN95%[]"
    with pytest.raises(ValueError, match="ratio"):
        Metric("CN", 95.0, "%", "%")
    with pytest.raises(ValueError, match="HI takes no number"):
        Metric("HI", 2.0, "%", "")


# --- properties ----------------------------------------------------------------------------
_number_text = st.from_regex(r"\A(?:[1-9][0-9]{0,5}(?:\.[0-9]{1,7})?|0\.[0-9]{0,6}[1-9])\Z")
_space = st.sampled_from(["", " ", "\t"])


@st.composite
def index_texts(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["CI", "CN", "GI", "HI"]))
    if kind == "HI":
        head, out = "HI", ""
    else:
        unit = draw(st.sampled_from(["Gy", "cGy", "%"]))
        num = draw(_number_text)
        if kind == "GI" and unit == "%" and float(num) >= 100:
            num = "50"
        head = kind + num + unit
        out = draw(st.sampled_from(["", "%"]))
    s = [draw(_space) for _ in range(5)]
    return f"{s[0]}{head}{s[1]}[{s[2]}{out}{s[3]}]{s[4]}"


@given(index_texts())
def test_index_canonical_round_trips(text: str) -> None:
    m = parse_metric(text)
    assert m.text == text
    again = parse_metric(str(m))
    assert again == m
    assert str(again) == str(m)
    assert str(m).endswith("[]")
    assert " " not in str(m)


@given(index_texts())
def test_percent_and_empty_brackets_parse_alike(text: str) -> None:
    m = parse_metric(text)
    if m.kind != "HI":
        assert parse_metric(f"{m.label}[%]") == parse_metric(f"{m.label}[]") == m
