"""TG-263 metric grammar and evaluation against DVHs with closed-form values."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dosecheck.core.dvh import DVH
from dosecheck.errors import InputError, MetricDomainError, MetricSyntaxError
from dosecheck.metrics import ACCEPTED_FORMS, Metric, MetricValue, format_number, parse_metric


def uniform_dvh(volume_cc: float = 100.0, d_min: float = 0.0, d_max: float = 50.0) -> DVH:
    """Dose uniformly distributed on [d_min, d_max] over ``volume_cc``.

    V(d) = volume for d <= d_min, volume * (d_max - d) / (d_max - d_min) up to d_max;
    piecewise linear, so the DVH's linear interpolation is exact when d_min and d_max
    fall on bin edges.
    """
    edges = np.linspace(0.0, 60.0, 601)  # 0.1 Gy bins
    frac = np.clip((d_max - edges) / (d_max - d_min), 0.0, 1.0)
    return DVH(
        dose_edges_gy=edges,
        cumulative_cc=volume_cc * frac,
        volume_cc=volume_cc,
        min_gy=d_min,
        mean_gy=(d_min + d_max) / 2,
        max_gy=d_max,
        name="Uniform",
    )


U = uniform_dvh()  # 0–50 Gy over 100 cc: V(d) = 100 (1 - d/50)
W = uniform_dvh(80.0, 10.0, 50.0)  # 10–50 Gy over 80 cc


def ev(text: str, dvh: DVH = U, rx: float | None = None) -> MetricValue:
    return parse_metric(text).evaluate(dvh, rx)


# --- evaluation: every form ------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "rx", "value", "unit"),
    [
        # V: volume receiving >= dose
        ("V30Gy[cc]", None, 40.0, "cc"),
        ("V30Gy[%]", None, 40.0, "%"),
        ("V3000cGy[cc]", None, 40.0, "cc"),
        ("V18.5Gy[cc]", None, 63.0, "cc"),
        ("V60%[cc]", 50.0, 40.0, "cc"),  # 60 % of 50 Gy = 30 Gy
        ("V0Gy[cc]", None, 100.0, "cc"),
        ("V55Gy[cc]", None, 0.0, "cc"),
        # CV: complement volume
        ("CV30Gy[cc]", None, 60.0, "cc"),
        ("CV30Gy[%]", None, 60.0, "%"),
        ("CV2000cGy[cc]", None, 40.0, "cc"),
        ("CV20%[%]", 50.0, 20.0, "%"),  # 20 % of 50 Gy = 10 Gy
        # D: minimum dose to the hottest volume
        ("D95%[Gy]", None, 2.5, "Gy"),
        ("D95%[cGy]", None, 250.0, "cGy"),
        ("D95%[%]", 50.0, 5.0, "%"),
        ("D40cc[Gy]", None, 30.0, "Gy"),
        ("D0.03cc[Gy]", None, 49.985, "Gy"),
        ("D.5cc[Gy]", None, 49.75, "Gy"),
        ("D0cc[Gy]", None, 50.0, "Gy"),
        ("D100%[Gy]", None, 0.0, "Gy"),
        # DC: maximum dose to the coldest volume = D at (total - volume)
        ("DC70cc[Gy]", None, 35.0, "Gy"),
        ("DC70%[Gy]", None, 35.0, "Gy"),
        ("DC10cc[cGy]", None, 500.0, "cGy"),
        ("DC100%[Gy]", None, 50.0, "Gy"),
        # statistics
        ("Mean[Gy]", None, 25.0, "Gy"),
        ("Mean[cGy]", None, 2500.0, "cGy"),
        ("Mean[%]", 50.0, 50.0, "%"),
        ("Max[Gy]", None, 50.0, "Gy"),
        ("Max[%]", 40.0, 125.0, "%"),
        ("Min[Gy]", None, 0.0, "Gy"),
        ("Volume[cc]", None, 100.0, "cc"),
    ],
)
def test_evaluate_uniform_0_50(text: str, rx: float | None, value: float, unit: str) -> None:
    got = ev(text, U, rx)
    assert got.unit == unit
    assert got.value == pytest.approx(value, abs=1e-9)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("V5Gy[cc]", 80.0),  # below the minimum: whole volume
        ("V30Gy[cc]", 40.0),
        ("V30Gy[%]", 50.0),
        ("CV30Gy[cc]", 40.0),
        ("D50%[Gy]", 30.0),
        ("D20cc[Gy]", 40.0),
        ("D80cc[Gy]", 10.0),
        ("DC20cc[Gy]", 20.0),  # D at 60 cc
        ("DC25%[Gy]", 20.0),
        ("Min[Gy]", 10.0),
        ("Mean[Gy]", 30.0),
        ("Volume[cc]", 80.0),
    ],
)
def test_evaluate_uniform_10_50(text: str, value: float) -> None:
    assert ev(text, W).value == pytest.approx(value, abs=1e-9)


@pytest.mark.parametrize("text", ["V95%[%]", "V95%[cc]", "CV50%[cc]", "D95%[%]", "Max[%]"])
def test_percent_of_prescription_needs_prescription(text: str) -> None:
    with pytest.raises(MetricDomainError) as exc:
        ev(text)
    assert str(exc.value) == (
        f"{text} needs a prescription dose; pass --prescription or use a plan with an RTPLAN"
    )


def test_prescription_must_be_positive() -> None:
    with pytest.raises(MetricDomainError, match="needs a positive prescription dose"):
        ev("V95%[cc]", rx=0.0)


@pytest.mark.parametrize("text", ["D95%[Gy]", "Max[Gy]", "V30Gy[cc]", "Volume[cc]"])
def test_prescription_is_ignored_when_not_needed(text: str) -> None:
    assert not parse_metric(text).needs_prescription
    assert ev(text, rx=None) == ev(text, rx=50.0) == ev(text, rx=70.0)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("D150cc[Gy]", "only 100.000 cc"),
        ("DC700cc[Gy]", "only 100.000 cc"),
    ],
)
def test_domain_errors(text: str, match: str) -> None:
    with pytest.raises(MetricDomainError, match=match):
        ev(text)


@pytest.mark.parametrize(
    "text", ["V30Gy[cc]", "CV30Gy[%]", "D95%[Gy]", "D1cc[Gy]", "DC1cc[Gy]", "Mean[Gy]", "Max[Gy]"]
)
def test_empty_dvh_is_a_domain_error(text: str) -> None:
    with pytest.raises(MetricDomainError, match="no volume inside the dose grid"):
        ev(text, DVH.empty("Gone"))


def test_volume_of_empty_dvh_is_zero() -> None:
    assert ev("Volume[cc]", DVH.empty("Gone")).value == 0.0


# --- parsing -----------------------------------------------------------------------------
def test_parse_fields_and_text() -> None:
    m = parse_metric("  D0.03cc [ Gy ] ")
    assert (m.kind, m.number, m.number_unit, m.output_unit) == ("D", 0.03, "cc", "Gy")
    assert m.text == "  D0.03cc [ Gy ] "
    assert str(m) == "D0.03cc[Gy]"
    assert m.label == "D0.03cc"
    assert m.gives_dose and not m.needs_prescription


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("V30Gy[cc]", "V30Gy[cc]"),
        ("V30.0Gy[cc]", "V30Gy[cc]"),
        ("V030Gy [cc]", "V30Gy[cc]"),
        ("D.5cc[Gy]", "D0.5cc[Gy]"),
        ("CV20Gy[cc]", "CV20Gy[cc]"),
        ("DC700cc[Gy]", "DC700cc[Gy]"),
        ("V95%[%]", "V95%[%]"),
        ("D0.030cc[cGy]", "D0.03cc[cGy]"),
        ("Mean [Gy]", "Mean[Gy]"),
        ("Max[ % ]", "Max[%]"),
        ("Min[cGy]", "Min[cGy]"),
        ("Volume[cc]", "Volume[cc]"),
    ],
)
def test_canonical(text: str, canonical: str) -> None:
    m = parse_metric(text)
    assert str(m) == canonical
    assert parse_metric(canonical) == m
    assert m.text == text


def test_equality_ignores_text() -> None:
    assert parse_metric("V30Gy[cc]") == parse_metric(" V30.0Gy [cc]")
    assert hash(parse_metric("V30Gy[cc]")) == hash(parse_metric(" V30.0Gy [cc]"))
    assert parse_metric("V30Gy[cc]") != parse_metric("V3000cGy[cc]")


def test_metric_built_directly_gets_canonical_text_and_is_checked() -> None:
    assert Metric("D", 2.0, "cc", "Gy").text == "D2cc[Gy]"
    with pytest.raises(ValueError, match="unit in brackets"):
        Metric("V", 20.0, "Gy", "Gy")
    with pytest.raises(ValueError, match="at most 100"):
        Metric("D", 120.0, "%", "Gy")


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ("", "it is empty"),
        ("v30gy[cc]", "case-sensitive; did you mean 'V30Gy[cc]'?"),
        ("mean[gy]", "did you mean 'Mean[Gy]'?"),
        ("D95%[gy]", "did you mean 'D95%[Gy]'?"),
        ("V30 Gy[cc]", "spaces are allowed only around the brackets; did you mean 'V30Gy[cc]'?"),
        ("V30Gy", "the unit of the result is missing: add it in brackets, e.g. [cc]"),
        ("Mean", "the unit of the result is missing: add it in brackets, e.g. [Gy]"),
        ("V30Gy[cc", "the closing bracket is missing"),
        ("V30cc[cc]", "V takes a dose (Gy, cGy or %); for the dose to a volume use D30cc[Gy]"),
        ("D30Gy[cc]", "for the volume receiving a dose use V30Gy[cc]"),
        ("V30Gy[Gy]", "V gives a volume: the unit in brackets must be cc or %"),
        ("D2cc[cc]", "D gives a dose: the unit in brackets must be Gy, cGy or %"),
        ("Volume[%]", "Volume gives cc: write Volume[cc]"),
        ("D101%[Gy]", "percentage of the structure volume between 0 and 100"),
        ("Dmax", "write Max[Gy] for the max dose"),
        ("Dmean[Gy]", "write Mean[Gy] for the mean dose"),
        ("Mean Gy", "Mean takes no number or unit before the brackets"),
        ("V-5Gy[cc]", "negative numbers are not allowed"),
        ("V+5Gy[cc]", "without a sign"),
        ("V1e3Gy[cc]", "without an exponent"),
        ("V5.Gy[cc]", "'5.' is not a valid number"),
        ("V[cc]", "V must be followed by a dose"),
        ("V30[cc]", "the number needs a unit: Gy, cGy or %"),
        ("V30mGy[cc]", "unknown dose unit 'mGy'"),
        ("D2ml[Gy]", "unknown volume unit 'ml'"),
        ("foo", "unknown metric 'foo'"),
        ("V" + "9" * 400 + "Gy[cc]", "too large"),
    ],
)
def test_syntax_error_messages(text: str, hint: str) -> None:
    with pytest.raises(MetricSyntaxError) as exc:
        parse_metric(text)
    msg = str(exc.value)
    shown = text if len(text) <= 60 else text[:57] + "..."
    assert msg.startswith(f"invalid DVH metric {shown!r}")
    assert hint in msg
    assert msg.endswith(ACCEPTED_FORMS)
    assert isinstance(exc.value, InputError)


def test_accepted_forms_lists_examples() -> None:
    for example in ("V30Gy[cc]", "D95%[Gy]", "D0.03cc[Gy]", "CV20Gy[cc]", "DC700cc[Gy]"):
        assert example in ACCEPTED_FORMS
        parse_metric(example)
    assert "Mean[Gy]" in ACCEPTED_FORMS


def test_non_string_is_a_syntax_error() -> None:
    with pytest.raises(MetricSyntaxError, match="must be text"):
        parse_metric(30)  # type: ignore[arg-type]


# --- numbers -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("x", "s"),
    [
        (30.0, "30"),
        (0.03, "0.03"),
        (18.5, "18.5"),
        (0.5, "0.5"),
        (1e-5, "0.00001"),
        (1e16, "1" + "0" * 16),
    ],
)
def test_format_number(x: float, s: str) -> None:
    assert format_number(x) == s


# --- properties ----------------------------------------------------------------------------
_number_text = st.from_regex(r"\A(?:[0-9]{1,7}(?:\.[0-9]{1,7})?|\.[0-9]{1,7})\Z")
_space = st.sampled_from(["", " ", "  ", "\t"])


@st.composite
def metric_texts(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["V", "CV", "D", "DC", "Mean", "Max", "Min", "Volume"]))
    if kind in ("V", "CV"):
        head = kind + draw(_number_text) + draw(st.sampled_from(["Gy", "cGy", "%"]))
        out = draw(st.sampled_from(["cc", "%"]))
    elif kind in ("D", "DC"):
        unit = draw(st.sampled_from(["cc", "%"]))
        num = draw(_number_text)
        if unit == "%" and float(num) > 100:
            num = "100"
        head = kind + num + unit
        out = draw(st.sampled_from(["Gy", "cGy", "%"]))
    else:
        head = kind
        out = "cc" if kind == "Volume" else draw(st.sampled_from(["Gy", "cGy", "%"]))
    s = [draw(_space) for _ in range(6)]
    return f"{s[0]}{head}{s[1]}[{s[2]}{out}{s[3]}]{s[4]}"


@given(metric_texts())
def test_canonical_round_trips(text: str) -> None:
    m = parse_metric(text)
    assert m.text == text
    again = parse_metric(str(m))
    assert again == m
    assert str(again) == str(m)
    assert " " not in str(m)


@given(
    st.sampled_from(["V", "CV", "D", "DC"]),
    st.floats(min_value=0.0, max_value=1e12, allow_nan=False, allow_infinity=False),
)
def test_canonical_round_trips_any_float(kind: str, x: float) -> None:
    if kind in ("V", "CV"):
        m = Metric(kind, x, "Gy", "cc")
    else:
        m = Metric(kind, x, "cc", "Gy")
    back = parse_metric(str(m))
    assert back == m
    assert back.number == x


@settings(max_examples=300)
@given(st.text(max_size=40))
def test_junk_never_crashes(text: str) -> None:
    try:
        m = parse_metric(text)
    except MetricSyntaxError as e:
        assert ACCEPTED_FORMS in str(e)
        assert str(e).startswith("invalid DVH metric")
    else:
        assert parse_metric(str(m)) == m


@given(
    st.text(alphabet=st.sampled_from(list("VCDMeanxiGyc%[]0123456789.- ")), max_size=20).filter(
        lambda s: "[" not in s or "]" not in s
    )
)
def test_junk_without_brackets_is_rejected_with_accepted_forms(text: str) -> None:
    with pytest.raises(MetricSyntaxError) as exc:
        parse_metric(text)
    msg = str(exc.value)
    for example in ("V30Gy[cc]", "D95%[Gy]", "D0.03cc[Gy]", "CV20Gy[cc]", "DC700cc[Gy]"):
        assert example in msg


@given(st.floats(min_value=0.0, max_value=50.0))
def test_v_and_d_are_inverse_on_uniform_dvh(d: float) -> None:
    v = ev(f"V{format_number(d)}Gy[cc]").value
    assert v == pytest.approx(100 * (1 - d / 50), abs=1e-9)
    assert math.isclose(ev(f"CV{format_number(d)}Gy[cc]").value + v, 100.0)
    if 0 < v < 100:
        assert ev(f"D{format_number(v)}cc[Gy]").value == pytest.approx(d, abs=1e-6)
