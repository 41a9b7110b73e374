"""Fractionation conversion (EQD2/BED): the formulas against hand-computed values, the
constraint-set keys and their errors (file:line), evaluation on DVHs with known V(d),
and check_plan end to end on synthetic plans."""

from __future__ import annotations

import csv
import io
import json
import math
import textwrap
from typing import Any

import numpy as np
import pytest

from dosecheck.checking.check import check_plan
from dosecheck.checking.evaluate import evaluate_constraints
from dosecheck.checking.fractionation import (
    DOSE_BASES,
    bed,
    bed_from_eqd2,
    describe_basis,
    eqd2,
    eqd2_from_bed,
    equivalent_dose,
    from_physical,
    physical_dose_for_bed,
    physical_dose_for_eqd2,
    to_physical,
)
from dosecheck.checking.loader import load_constraint_set_text
from dosecheck.checking.model import Constraint, ConstraintSet
from dosecheck.core.dvh import DVH
from dosecheck.errors import ConstraintFileError
from dosecheck.metrics import parse_metric
from dosecheck.output import check_formats as cf
from tests.helpers.plans import BOWEL_BOX, LONG_BOWEL_FAIL, LONG_PTV_PASS, memory_plan, v_cc

P = "sets/fx.yaml"
CC_TOL = 0.25  # engine vs closed form on the 680 cc box (as in checking/test_check.py)


# --- the formulas, by hand ---------------------------------------------------------------------
def test_bed_and_eqd2_by_hand() -> None:
    # 50 Gy in 25 fx (d = 2 Gy), α/β 3: BED = 50 · (1 + 2/3) = 83.33; EQD2 = 83.33 / (5/3) = 50.
    assert bed(50.0, 25, 3.0) == pytest.approx(83.3333333, rel=1e-9)
    assert eqd2(50.0, 25, 3.0) == pytest.approx(50.0, rel=1e-12)
    # 25 Gy in 5 fx (d = 5 Gy), α/β 3: BED = 25 · (1 + 5/3) = 66.67; EQD2 = 66.67 / (5/3) = 40.
    assert bed(25.0, 5, 3.0) == pytest.approx(66.6666667, rel=1e-9)
    assert eqd2(25.0, 5, 3.0) == pytest.approx(40.0, rel=1e-12)
    # Same, α/β 10: BED = 25 · (1 + 5/10) = 37.5; EQD2 = 37.5 / (1 + 2/10) = 31.25.
    assert bed(25.0, 5, 10.0) == pytest.approx(37.5, rel=1e-12)
    assert eqd2(25.0, 5, 10.0) == pytest.approx(31.25, rel=1e-12)
    # BED <-> EQD2 alone: 75 / (1 + 2/3) = 45; 45 · (1 + 2/3) = 75.
    assert eqd2_from_bed(75.0, 3.0) == pytest.approx(45.0, rel=1e-12)
    assert bed_from_eqd2(45.0, 3.0) == pytest.approx(75.0, rel=1e-12)
    # No dose, no effect.
    assert bed(0.0, 5, 3.0) == 0.0 and eqd2(0.0, 5, 3.0) == 0.0


def test_inverse_by_hand_and_substituted_back() -> None:
    # EQD2 45 Gy, α/β 3, in 28 fx: BED = 45 · (1 + 2/3) = 75;
    # D = 28/2 · (−3 + sqrt(9 + 4 · 75 · 3 / 28)) = 14 · (−3 + sqrt(41.142857))
    #   = 14 · (−3 + 6.4142698) = 47.799777.
    d = physical_dose_for_eqd2(45.0, 28, 3.0)
    assert d == pytest.approx(14.0 * (-3.0 + math.sqrt(9.0 + 4.0 * 75.0 * 3.0 / 28.0)), rel=1e-12)
    assert d == pytest.approx(47.799777, abs=1e-6)
    # Substituted back: d/fx = 1.7071349; BED = 47.799777 · (1 + 1.7071349/3) = 75; EQD2 = 45.
    assert bed(d, 28, 3.0) == pytest.approx(75.0, rel=1e-12)
    assert eqd2(d, 28, 3.0) == pytest.approx(45.0, rel=1e-12)
    # EQD2 40 Gy, α/β 3, in 5 fx: BED = 66.67; D = 2.5 · (−3 + sqrt(9 + 4 · 66.67 · 3/5))
    #   = 2.5 · (−3 + sqrt(169)) = 2.5 · 10 = 25 (the 25 Gy in 5 fx above).
    assert physical_dose_for_eqd2(40.0, 5, 3.0) == pytest.approx(25.0, rel=1e-12)
    # EQD2 45 Gy, α/β 3, in 25 fx: D = 12.5 · (−3 + sqrt(9 + 36)) = 12.5 · (3·sqrt(5) − 3)
    #   = 46.352549.
    assert physical_dose_for_eqd2(45.0, 25, 3.0) == pytest.approx(
        12.5 * (3.0 * math.sqrt(5.0) - 3.0), rel=1e-12
    )
    # BED 37.5, α/β 10, in 5 fx: D = 2.5 · (−10 + sqrt(100 + 4 · 37.5 · 10/5)) = 2.5 · 10 = 25.
    assert physical_dose_for_bed(37.5, 5, 10.0) == pytest.approx(25.0, rel=1e-12)


def test_equal_bed_between_fractionations_by_hand() -> None:
    # 30 Gy in 15 fx, α/β 2: BED = 30 · (1 + 2/2) = 60. In 5 fx:
    # D = 2.5 · (−2 + sqrt(4 + 4 · 60 · 2/5)) = 2.5 · (−2 + 10) = 20 (4 Gy/fx: 20 · 3 = 60).
    assert equivalent_dose(30.0, 15, 5, 2.0) == pytest.approx(20.0, rel=1e-12)
    assert equivalent_dose(20.0, 5, 15, 2.0) == pytest.approx(30.0, rel=1e-12)
    # 45 Gy in 28 fx, α/β 3: BED = 45 · (1 + 45/84) = 69.107143. In 25 fx:
    # D = 12.5 · (−3 + sqrt(9 + 4 · 69.107143 · 3/25)) = 12.5 · (−3 + 6.4939532) = 43.674415.
    assert bed(45.0, 28, 3.0) == pytest.approx(69.107143, abs=1e-6)
    d25 = equivalent_dose(45.0, 28, 25, 3.0)
    assert d25 == pytest.approx(43.674415, abs=1e-6)
    assert bed(d25, 25, 3.0) == pytest.approx(bed(45.0, 28, 3.0), rel=1e-12)
    # Same number of fractions: unchanged.
    assert equivalent_dose(45.0, 28, 28, 3.0) == pytest.approx(45.0, rel=1e-12)


def test_inverse_is_precise_for_small_doses() -> None:
    # The naive n/2 · (−α/β + sqrt(...)) loses digits here; BED ≈ D for tiny D.
    assert physical_dose_for_bed(1e-12, 5, 3.0) == pytest.approx(1e-12, rel=1e-9)


@pytest.mark.parametrize("ab", [1.5, 3.0, 10.0])
@pytest.mark.parametrize("n", [1, 5, 25, 28, 39])
def test_to_and_from_physical_round_trip(ab: float, n: int) -> None:
    for dose in (0.0, 0.5, 18.5, 45.0, 70.0):
        for basis, set_fx in (("physical", None), ("eqd2", None), ("set_fractions", 28)):
            phys = to_physical(dose, basis, n, ab, set_fx)  # type: ignore[arg-type]
            back = from_physical(phys, basis, n, ab, set_fx)  # type: ignore[arg-type]
            assert back == pytest.approx(dose, rel=1e-12, abs=1e-12)
    # Below 2 Gy/fx the physical dose exceeds its EQD2, above it it is lower.
    assert to_physical(45.0, "eqd2", 28, ab) > 45.0  # 1.7 Gy/fx
    assert to_physical(45.0, "eqd2", 5, ab) < 45.0  # ~5 Gy/fx


def test_conversion_errors() -> None:
    with pytest.raises(ValueError, match="α/β must be a positive"):
        bed(50.0, 25, 0.0)
    with pytest.raises(ValueError, match="α/β must be a positive"):
        eqd2(50.0, 25, float("nan"))
    with pytest.raises(ValueError, match="fractions must be at least 1"):
        physical_dose_for_bed(50.0, 0, 3.0)
    with pytest.raises(ValueError, match="dose must be a finite number >= 0"):
        bed(-1.0, 5, 3.0)
    with pytest.raises(ValueError, match="needs α/β"):
        to_physical(45.0, "eqd2", 25)
    with pytest.raises(ValueError, match="set's number of fractions"):
        to_physical(45.0, "set_fractions", 25, 3.0)
    with pytest.raises(ValueError, match="unknown dose basis"):
        to_physical(45.0, "bed", 25, 3.0)  # type: ignore[arg-type]


def test_describe_basis() -> None:
    assert DOSE_BASES == ("physical", "eqd2", "set_fractions")
    assert describe_basis("physical") == "physical"
    assert describe_basis("eqd2", 3.0) == "EQD2, α/β 3 Gy"
    assert describe_basis("set_fractions", 2.5, 28) == "in 28 fx, α/β 2.5 Gy"


# --- the constraint-set keys ---------------------------------------------------------------------
HEADER = "name: Fx\nprescription: {dose_gy: 50.4, fractions: 28}\n"


def load(text: str) -> ConstraintSet:
    return load_constraint_set_text(textwrap.dedent(text), path=P)


def expect(text: str, line: int, message: str) -> None:
    """The error is exactly ``P:line: message``."""
    with pytest.raises(ConstraintFileError) as exc:
        load(text)
    assert str(exc.value) == f"{P}:{line}: {message}"


def one(constraint_lines: str, header: str = HEADER) -> str:
    """A set with structure Rectum whose constraints start at line 3 + header lines."""
    body = textwrap.indent(textwrap.dedent(constraint_lines), "      ")
    return f"{header}structures:\n  - name: Rectum\n    constraints:\n{body}"


def test_mapping_keys() -> None:
    cs = load(
        one(
            """\
            - {metric: "V45Gy[cc]", op: "<", limit: 300, dose_basis: eqd2, alpha_beta: 3}
            - {metric: "D2cc[Gy]", op: "<=", limit: 50, dose_basis: set_fractions, alpha_beta: 3}
            - {metric: "Max[cGy]", op: "<=", limit: 5000, dose_basis: physical}
            - V30Gy[cc] < 600
            """
        )
    )
    c = [c for _, c in cs.constraints]
    assert (c[0].dose_basis, c[0].alpha_beta, c[0].basis_fractions) == ("eqd2", 3.0, None)
    assert c[0].text == "V45Gy[cc] < 300 (EQD2, α/β 3 Gy)"
    assert c[0].line == 6
    assert (c[1].dose_basis, c[1].alpha_beta, c[1].basis_fractions) == ("set_fractions", 3.0, 28)
    assert c[1].text == "D2cc[Gy] <= 50 (in 28 fx, α/β 3 Gy)"
    assert (c[2].dose_basis, c[2].alpha_beta, c[2].text) == ("physical", None, "Max[cGy] <= 5000")
    assert (c[3].dose_basis, c[3].alpha_beta, c[3].text) == ("physical", None, "V30Gy[cc] < 600")
    assert [x.is_converted for x in c] == [True, True, False, False]
    assert c[0].dose_as_written_gy == 45.0 and c[1].dose_as_written_gy == 50.0
    assert c[2].dose_as_written_gy == 50.0  # 5000 cGy


def test_set_default_applies_to_absolute_doses_only() -> None:
    cs = load(
        one(
            """\
            - V45Gy[cc] < 300
            - CV4000cGy[%] > 10
            - D2cc[Gy] <= 50
            - DC10cc[Gy] >= 20
            - Max[Gy] <= 55
            - Min[cGy] >= 1000
            - V95%[%] >= 95
            - D2%[%] <= 107
            - Max[Gy] <= 107%
            - Mean[%] < 60
            - Volume[cc] > 10
            - {metric: "Mean[Gy]", op: "<", limit: 30, dose_basis: physical}
            - {metric: "D98%[Gy]", op: ">=", limit: 45, alpha_beta: 10}
            - {metric: "V30Gy[cc]", op: "<", limit: 600, dose_basis: set_fractions}
            """,
            HEADER + "fractionation: {dose_basis: eqd2, alpha_beta: 3}\n",
        )
    )
    got = [(c.text.split(" (")[0], c.dose_basis, c.alpha_beta) for _, c in cs.constraints]
    assert got == [
        ("V45Gy[cc] < 300", "eqd2", 3.0),
        ("CV4000cGy[%] > 10", "eqd2", 3.0),
        ("D2cc[Gy] <= 50", "eqd2", 3.0),
        ("DC10cc[Gy] >= 20", "eqd2", 3.0),
        ("Max[Gy] <= 55", "eqd2", 3.0),
        ("Min[cGy] >= 1000", "eqd2", 3.0),
        ("V95%[%] >= 95", "physical", None),
        ("D2%[%] <= 107", "physical", None),
        ("Max[Gy] <= 107%", "physical", None),
        ("Mean[%] < 60", "physical", None),
        ("Volume[cc] > 10", "physical", None),
        ("Mean[Gy] < 30", "physical", None),
        ("D98%[Gy] >= 45", "eqd2", 10.0),
        ("V30Gy[cc] < 600", "set_fractions", 3.0),
    ]


def test_set_default_alpha_beta_only() -> None:
    cs = load(
        one(
            """\
            - V45Gy[cc] < 300
            - {metric: "V30Gy[cc]", op: "<", limit: 600, dose_basis: eqd2}
            """,
            HEADER + "fractionation:\n  alpha_beta: 3\n",
        )
    )
    c = [c for _, c in cs.constraints]
    assert (c[0].dose_basis, c[0].alpha_beta) == ("physical", None)
    assert (c[1].dose_basis, c[1].alpha_beta) == ("eqd2", 3.0)


# Each refusal, with its file and line.
def test_alpha_beta_missing() -> None:
    expect(
        one("- metric: V45Gy[cc]\n  op: <\n  limit: 300\n  dose_basis: eqd2\n"),
        9,
        "'V45Gy[cc] < 300' has dose_basis eqd2 but no alpha_beta; add alpha_beta: <α/β in "
        "Gy> to the constraint or to the set's fractionation",
    )


def test_alpha_beta_missing_with_set_default() -> None:
    expect(
        one("- V45Gy[cc] < 300\n", HEADER + "fractionation: {dose_basis: eqd2}\n"),
        7,
        "'V45Gy[cc] < 300' (dose_basis eqd2 is the set's default, from fractionation at line "
        "3) has dose_basis eqd2 but no alpha_beta; add alpha_beta: <α/β in Gy> to the "
        "constraint or to the set's fractionation",
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0", "alpha_beta (α/β in Gy) must be a positive number, not 0"),
        ("-3", "alpha_beta (α/β in Gy) must be a positive number, not -3"),
        (".nan", "alpha_beta (α/β in Gy) must be a positive number, not .nan"),
        ("3Gy", "alpha_beta (α/β in Gy) must be a number, not the text '3Gy'"),
        ("", "alpha_beta (α/β in Gy) must be a number, not nothing"),
    ],
)
def test_alpha_beta_not_positive(value: str, message: str) -> None:
    text = (
        f"- metric: V45Gy[cc]\n  op: <\n  limit: 300\n  dose_basis: eqd2\n  alpha_beta: {value}\n"
    )
    expect(one(text), 10, message)


def test_alpha_beta_not_positive_at_set_level() -> None:
    expect(
        one(
            "- V45Gy[cc] < 300\n", HEADER + "fractionation:\n  dose_basis: eqd2\n  alpha_beta: 0\n"
        ),
        5,
        "alpha_beta (α/β in Gy) must be a positive number, not 0",
    )


def test_alpha_beta_on_a_physical_constraint() -> None:
    expect(
        one("- {metric: 'V45Gy[cc]', op: <, limit: 300, alpha_beta: 3}\n"),
        6,
        "alpha_beta has no effect on 'V45Gy[cc] < 300': its dose is physical; add dose_basis: "
        "eqd2 or set_fractions, or remove alpha_beta",
    )


MEAN_REASON = (
    "the mean of the converted dose over the structure is not the conversion of the mean "
    "dose (EQD2 and BED are nonlinear in the dose), so a mean-dose limit cannot be "
    "converted; give it as a physical dose (dose_basis: physical)"
)


def test_dose_basis_on_mean() -> None:
    expect(
        one("- metric: Mean[Gy]\n  op: <\n  limit: 30\n  alpha_beta: 3\n  dose_basis: eqd2\n"),
        10,
        f"'Mean[Gy] < 30': dose_basis eqd2 cannot apply to Mean[Gy]: {MEAN_REASON}",
    )


def test_mean_under_set_default() -> None:
    expect(
        one(
            "- V45Gy[cc] < 300\n- Mean[Gy] < 30\n",
            HEADER + "fractionation: {dose_basis: set_fractions, alpha_beta: 3}\n",
        ),
        8,
        "'Mean[Gy] < 30' (dose_basis set_fractions is the set's default, from fractionation "
        f"at line 3): dose_basis set_fractions cannot apply to Mean[Gy]: {MEAN_REASON} — to "
        "override the set's default, write this constraint as a mapping",
    )


@pytest.mark.parametrize(
    ("metric", "limit", "shown"),
    [
        ("V95%[%]", "95", "V95%[%]"),
        ("V95%[cc]", "10", "V95%[cc]"),
        ("D2%[%]", "107", "D2%[%]"),
        ("Max[Gy]", "107%", "Max[Gy] with a limit in %"),
    ],
)
def test_dose_basis_on_percent_of_prescription(metric: str, limit: str, shown: str) -> None:
    text = f"- metric: {metric}\n  op: <=\n  limit: {limit}\n  dose_basis: eqd2\n  alpha_beta: 3\n"
    expect(
        one(text),
        9,
        f"'{metric} <= {limit}': dose_basis eqd2 cannot apply to a dose in % of prescription "
        f"({shown}): it is already relative to the prescription; give the dose in Gy or cGy, "
        "or use dose_basis: physical",
    )


def test_dose_basis_on_volume() -> None:
    expect(
        one("- {metric: 'Volume[cc]', op: '>', limit: 10, dose_basis: eqd2, alpha_beta: 3}\n"),
        6,
        "'Volume[cc] > 10': dose_basis eqd2 cannot apply to Volume[cc]: it has no dose to convert",
    )


NO_SET_FX = (
    "dose_basis set_fractions converts doses from the set's number of fractions, but the "
    "set gives none; add it to the prescription ('prescription: {dose_gy: ..., fractions: "
    "...}')"
)


def test_set_fractions_without_set_fractions() -> None:
    header = "name: Fx\nprescription: {dose_gy: 50.4}\n"
    expect(
        one("- metric: V45Gy[cc]\n  op: <\n  limit: 300\n  dose_basis: set_fractions\n", header),
        9,
        NO_SET_FX,
    )
    expect(
        one(
            "- metric: V45Gy[cc]\n  op: <\n  limit: 300\n  dose_basis: set_fractions\n",
            "name: Fx\n",
        ),
        8,
        NO_SET_FX,
    )
    expect(
        one(
            "- V45Gy[cc] < 300\n",
            header + "fractionation:\n  alpha_beta: 3\n  dose_basis: set_fractions\n",
        ),
        5,
        NO_SET_FX,
    )


@pytest.mark.parametrize(
    ("value", "hint"),
    [
        ("EQD2", " (did you mean 'eqd2'? the values are lower case)"),
        ("Set_Fractions", " (did you mean 'set_fractions'? the values are lower case)"),
        ("eqd", " (did you mean 'eqd2'?)"),
        (
            "BED",
            " (limits in BED are not supported: give them as EQD2, EQD2 = BED / (1 + 2 / (α/β)),"
            " with dose_basis: eqd2)",
        ),
        ("relative", ""),
    ],
)
def test_unknown_dose_basis(value: str, hint: str) -> None:
    message = f"unknown dose_basis {value!r}{hint}; expected physical, eqd2 or set_fractions"
    expect(one(f"- metric: V45Gy[cc]\n  op: <\n  limit: 300\n  dose_basis: {value}\n"), 9, message)
    expect(
        one("- V45Gy[cc] < 300\n", HEADER + f"fractionation: {{dose_basis: {value}}}\n"), 3, message
    )


def test_dose_basis_not_text() -> None:
    expect(
        one("- metric: V45Gy[cc]\n  op: <\n  limit: 300\n  dose_basis: [eqd2]\n"),
        9,
        "dose_basis must be text, not a list",
    )


def test_fractionation_mapping_errors() -> None:
    expect(
        one("- V45Gy[cc] < 300\n", HEADER + "fractionation: eqd2\n"),
        3,
        "fractionation must be a mapping (key: value), not the text 'eqd2'",
    )
    expect(
        one("- V45Gy[cc] < 300\n", HEADER + "fractionation: {}\n"),
        3,
        "fractionation is empty; give dose_basis (eqd2 or set_fractions) and alpha_beta",
    )
    expect(
        one("- V45Gy[cc] < 300\n", HEADER + "fractionation: {alpha_bet: 3}\n"),
        3,
        "unknown key 'alpha_bet' in fractionation (did you mean 'alpha_beta'?); expected keys: "
        "dose_basis, alpha_beta",
    )


def test_misspelled_keys_are_suggested() -> None:
    with pytest.raises(ConstraintFileError, match=r"did you mean 'alpha_beta'\?"):
        load(one("- {metric: 'V45Gy[cc]', op: <, limit: 300, dose_basis: eqd2, alphabeta: 3}\n"))
    with pytest.raises(ConstraintFileError, match=r"did you mean 'fractionation'\?"):
        load(one("- V45Gy[cc] < 300\n", HEADER + "fractionaton: {alpha_beta: 3}\n"))


def test_constraint_refuses_bad_fields_directly() -> None:
    v45 = parse_metric("V45Gy[cc]")
    with pytest.raises(ValueError, match="needs alpha_beta > 0"):
        Constraint(v45, "<", 300.0, dose_basis="eqd2")
    with pytest.raises(ValueError, match="needs alpha_beta > 0"):
        Constraint(v45, "<", 300.0, dose_basis="eqd2", alpha_beta=-1.0)
    with pytest.raises(ValueError, match="dose_basis must be one of"):
        Constraint(v45, "<", 300.0, dose_basis="bed", alpha_beta=3.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="set's number of fractions"):
        Constraint(v45, "<", 300.0, dose_basis="set_fractions", alpha_beta=3.0)
    with pytest.raises(ValueError, match="no effect on a physical dose"):
        Constraint(v45, "<", 300.0, alpha_beta=3.0)
    with pytest.raises(ValueError, match="mean of the converted dose"):
        Constraint(parse_metric("Mean[Gy]"), "<", 30.0, dose_basis="eqd2", alpha_beta=3.0)
    c = Constraint(v45, "<", 300.0, dose_basis="eqd2", alpha_beta=3.0)
    assert c.text == "V45Gy[cc] < 300 (EQD2, α/β 3 Gy)"


# --- evaluation on DVHs with known V(d) -----------------------------------------------------------
def uniform_dvh(volume_cc: float, d_max: float, name: str = "") -> DVH:
    """Dose uniform on [0, d_max]: V(d) = volume · (1 − d/d_max), D(v) = d_max · (1 − v/volume)."""
    edges = np.linspace(0.0, 80.0, 801)
    cum = volume_cc * np.clip(1.0 - edges / d_max, 0.0, 1.0)
    return DVH(
        dose_edges_gy=edges,
        cumulative_cc=cum,
        volume_cc=volume_cc,
        min_gy=0.0,
        mean_gy=d_max / 2,
        max_gy=d_max,
        name=name,
    )


# 1000 cc uniform on 0–60 Gy: V(d) = 1000 · (1 − d/60) cc.
BOWEL = uniform_dvh(1000.0, 60.0, "BowelBag")

EVAL_SET = """\
name: EQD2 on a 5-fraction plan
prescription: {dose_gy: 30, fractions: 15}
fractionation: {dose_basis: eqd2, alpha_beta: 3}
structures:
  - name: BowelBag
    constraints:
      - V40Gy[cc] < 600
      - V40Gy[cc] < 500
      - V4000cGy[%] < 60
      - CV40Gy[cc] > 400
      - D200cc[Gy] <= 40
      - Max[cGy] <= 6000
      - {metric: "V30Gy[cc]", op: "<", limit: 700, dose_basis: set_fractions, alpha_beta: 2}
      - {metric: "V40Gy[cc]", op: "<", limit: 600, dose_basis: physical}
"""


@pytest.fixture
def eval_set() -> ConstraintSet:
    return load_constraint_set_text(EVAL_SET, path="eqd2.yaml")


def test_evaluation_converts_the_threshold_not_the_dvh(eval_set: ConstraintSet) -> None:
    # The plan has 5 fractions. EQD2 40 Gy, α/β 3 → 25 Gy physical in 5 fx (see above), so
    # V40Gy (EQD2) = V(25) = 1000 · (1 − 25/60) = 583.33 cc, where the physical V40Gy is
    # 1000 · (1 − 40/60) = 333.33 cc.
    results = evaluate_constraints(eval_set, {"BowelBag": BOWEL}, ["BowelBag"], None, fractions=5)
    r = {(x.line): x for x in results}

    v40 = r[7]
    assert (v40.status, v40.unit, v40.limit) == ("pass", "cc", 600.0)
    assert v40.value == pytest.approx(1000.0 * (1 - 25.0 / 60.0))
    assert (v40.dose_basis, v40.alpha_beta, v40.plan_fractions) == ("eqd2", 3.0, 5)
    assert v40.converted_dose_gy == pytest.approx(25.0)
    assert v40.constraint == "V40Gy[cc] < 600 (EQD2, α/β 3 Gy)"
    assert v40.message == (
        "V40Gy (EQD2, α/β 3 Gy) = V25Gy physical in 5 fx = 583.33 cc, limit 600 cc: 16.67 cc margin"
    )

    # Failing V: the hint gives the dose at the limiting volume, physical and as EQD2:
    # D500cc = 60 · (1 − 500/1000) = 30 Gy in 5 fx; BED = 30 · (1 + 6/3) = 90; EQD2 = 90/(5/3) = 54.
    bad = r[8]
    assert bad.status == "fail"
    assert bad.message == (
        "V40Gy (EQD2, α/β 3 Gy) = V25Gy physical in 5 fx = 583.33 cc, limit 500 cc: "
        "83.33 cc over; D500cc = 30 Gy physical (54 Gy EQD2, α/β 3 Gy)"
    )

    pct = r[9]  # a dose in cGy, a volume in %: 58.33 %
    assert pct.value == pytest.approx(100.0 * (1 - 25.0 / 60.0))
    assert pct.converted_dose_gy == pytest.approx(25.0)
    assert pct.message.startswith("V4000cGy (EQD2, α/β 3 Gy) = V2500cGy physical in 5 fx = ")

    cv = r[10]  # CV(25) = 1000 · 25/60 = 416.67 cc
    assert cv.value == pytest.approx(1000.0 * 25.0 / 60.0)
    assert cv.status == "pass"

    # A dose limit: EQD2 40 Gy → 25 Gy physical; D200cc = 60 · 0.8 = 48 Gy.
    d200 = r[11]
    assert (d200.status, d200.value, d200.unit) == ("fail", pytest.approx(48.0), "Gy")
    assert d200.limit == pytest.approx(25.0) and d200.converted_dose_gy == pytest.approx(25.0)
    # The hint gives the volume at the physical limit: V25Gy = 1000 · (1 − 25/60) = 583.33 cc.
    assert d200.message == (
        "D200cc = 48 Gy, limit 25 Gy physical in 5 fx (40 Gy EQD2, α/β 3 Gy): 23 Gy over; "
        "V25Gy = 583.33 cc"
    )

    # In cGy: EQD2 6000 cGy, α/β 3 → BED = 60 · 5/3 = 100 Gy; in 5 fx
    # D = 2.5 · (−3 + sqrt(9 + 4 · 100 · 3/5)) = 2.5 · (−3 + sqrt(249)) = 31.9493 Gy.
    mx = r[12]
    expected_gy = 2.5 * (-3.0 + math.sqrt(249.0))
    assert mx.limit == pytest.approx(100.0 * expected_gy)
    assert mx.converted_dose_gy == pytest.approx(expected_gy)
    assert (mx.value, mx.status) == (pytest.approx(6000.0), "fail")
    assert "limit 3194.93 cGy physical in 5 fx (6000 cGy EQD2, α/β 3 Gy)" in mx.message

    # set_fractions: 30 Gy in the set's 15 fx, α/β 2 → BED 60 → 20 Gy in 5 fx (see above);
    # V(20) = 1000 · (1 − 20/60) = 666.67 cc.
    sf = r[13]
    assert (sf.dose_basis, sf.alpha_beta, sf.plan_fractions) == ("set_fractions", 2.0, 5)
    assert sf.converted_dose_gy == pytest.approx(20.0)
    assert sf.value == pytest.approx(1000.0 * (1 - 20.0 / 60.0))
    assert sf.message == (
        "V30Gy (in 15 fx, α/β 2 Gy) = V20Gy physical in 5 fx = 666.67 cc, limit 700 cc: "
        "33.33 cc margin"
    )

    phys = r[14]  # physical V40Gy = 333.33 cc, nothing converted
    assert phys.value == pytest.approx(1000.0 / 3.0)
    assert (phys.dose_basis, phys.alpha_beta, phys.plan_fractions) == ("physical", None, None)
    assert phys.converted_dose_gy is None
    assert phys.message == "V40Gy = 333.33 cc, limit 600 cc: 266.67 cc margin"


def test_plan_fractions_default_to_the_sets(eval_set: ConstraintSet) -> None:
    # fractions=None: the set's 15 fractions. EQD2 40 Gy, α/β 3 in 15 fx:
    # BED = 66.67; D = 7.5 · (−3 + sqrt(9 + 4 · 66.67 · 3/15)) = 7.5 · (−3 + sqrt(62.33)).
    results = evaluate_constraints(eval_set, {"BowelBag": BOWEL}, ["BowelBag"], None)
    d = 7.5 * (-3.0 + math.sqrt(9.0 + 4.0 * (200.0 / 3.0) * 3.0 / 15.0))
    assert results[0].plan_fractions == 15
    assert results[0].converted_dose_gy == pytest.approx(d)
    assert results[0].value == pytest.approx(1000.0 * (1 - d / 60.0))
    # set_fractions with the plan in the set's 15 fractions: no change, V(30) = 500 cc.
    assert results[6].converted_dose_gy == pytest.approx(30.0)
    assert results[6].value == pytest.approx(500.0)


def test_unknown_fractions_is_not_evaluated() -> None:
    cs = load_constraint_set_text(
        "name: no fx\nfractionation: {dose_basis: eqd2, alpha_beta: 3}\nstructures:\n"
        "  - name: BowelBag\n    constraints:\n      - V40Gy[cc] < 600\n      - D200cc[Gy] <= 40\n"
        "      - V30Gy[%] < 60\n",
        path="nofx.yaml",
    )
    results = evaluate_constraints(cs, {"BowelBag": BOWEL}, ["BowelBag"], None)
    v40, d200, v30 = results
    for r in (v40, d200):
        assert (r.status, r.value, r.reason) == ("not_evaluated", None, "metric_undefined")
        assert (r.dose_basis, r.alpha_beta, r.plan_fractions, r.converted_dose_gy) == (
            "eqd2",
            3.0,
            None,
            None,
        )
    assert v40.message == (
        "V40Gy is given as EQD2 (α/β 3 Gy) and must be converted to the plan's fractionation, "
        "but the number of fractions is unknown; pass --fractions or use a plan with an RTPLAN"
    )
    assert v40.limit == 600.0  # a volume limit is not converted
    assert d200.limit is None  # a dose limit cannot be converted
    assert v30.status == "not_evaluated"
    strict = evaluate_constraints(cs, {"BowelBag": BOWEL}, ["BowelBag"], None, strict=True)
    assert [r.status for r in strict] == ["fail"] * 3
    assert strict[0].message.endswith("(fails in strict mode)")
    # Given the plan's fractions, they evaluate.
    ok = evaluate_constraints(cs, {"BowelBag": BOWEL}, ["BowelBag"], None, fractions=5)
    assert [r.status for r in ok] == ["pass", "fail", "fail"]


def test_missing_structure_still_reports_the_converted_limit(eval_set: ConstraintSet) -> None:
    results = evaluate_constraints(eval_set, {}, ["PTV"], None, fractions=5)
    assert all(r.status == "not_evaluated" for r in results)
    d200 = results[4]
    assert d200.reason == "structure_not_found"
    assert d200.limit == pytest.approx(25.0)
    assert (d200.plan_fractions, d200.converted_dose_gy) == (5, pytest.approx(25.0))


def test_bad_fractions_argument(eval_set: ConstraintSet) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        evaluate_constraints(eval_set, {"BowelBag": BOWEL}, ["BowelBag"], None, fractions=0)


def test_result_dict_has_the_new_fields(eval_set: ConstraintSet) -> None:
    results = evaluate_constraints(eval_set, {"BowelBag": BOWEL}, ["BowelBag"], None, fractions=5)
    data = json.loads(json.dumps([r.to_dict() for r in results]))
    assert data[0]["dose_basis"] == "eqd2"
    assert data[0]["alpha_beta"] == 3.0
    assert data[0]["plan_fractions"] == 5
    assert data[0]["converted_dose_gy"] == pytest.approx(25.0)
    assert {"structure", "value", "limit", "status", "message", "warnings"} <= set(data[0])


# --- check_plan end to end ------------------------------------------------------------------------
CHECK_SET = """\
name: Rectum EQD2
prescription: {dose_gy: 50.4, fractions: 28}
fractionation: {dose_basis: eqd2, alpha_beta: 3}
structures:
  - name: Bag_Bowel
    aliases: [BowelBag]
    constraints:
      - V45Gy[cc] < 300
      - Max[Gy] <= 60
      - {metric: "V45Gy[cc]", op: "<", limit: 300, dose_basis: set_fractions}
      - {metric: "Mean[Gy]", op: "<", limit: 45, dose_basis: physical}
  - name: PTV
    constraints:
      - V95%[%] >= 95
      - {metric: "D98%[Gy]", op: ">=", limit: 45, alpha_beta: 10}
"""


def plan(**kw: Any) -> Any:
    kw.setdefault("prescription_gy", 50.4)
    kw.setdefault("fractions", 28)
    return memory_plan(LONG_BOWEL_FAIL, LONG_PTV_PASS, **kw)


@pytest.fixture(scope="module")
def check_set() -> ConstraintSet:
    return load_constraint_set_text(CHECK_SET, path="rectum-eqd2.yaml")


def by_line(report: Any) -> dict[int, Any]:
    return {r.line: r for r in report.results}


def test_check_plan_eqd2_and_set_fractions_in_25_fractions(check_set: ConstraintSet) -> None:
    # A 25-fraction RTPLAN checked against a set written for 28 fractions.
    report = check_plan(plan(prescription_gy=45.0, fractions=25), check_set)
    assert report.prescription.fractions == 25 and report.prescription.fractions_source == "RTPLAN"
    r = by_line(report)

    # EQD2 45 Gy, α/β 3, in 25 fx = 12.5 · (3·sqrt(5) − 3) = 46.35 Gy physical.
    eq = r[8]
    t = 12.5 * (3.0 * math.sqrt(5.0) - 3.0)
    assert eq.converted_dose_gy == pytest.approx(t)
    assert eq.value == pytest.approx(v_cc(LONG_BOWEL_FAIL, t, BOWEL_BOX), abs=CC_TOL)
    assert eq.value == pytest.approx(320.87, abs=CC_TOL)  # the docs' worked example
    assert eq.status == "fail"
    assert eq.message.startswith("V45Gy (EQD2, α/β 3 Gy) = V46.35Gy physical in 25 fx = 320.8")

    # 45 Gy in the set's 28 fx at α/β 3 → 43.674 Gy in 25 fx (see above).
    sf = r[10]
    assert (sf.dose_basis, sf.plan_fractions) == ("set_fractions", 25)
    assert sf.converted_dose_gy == pytest.approx(43.674415, abs=1e-6)
    assert sf.value == pytest.approx(v_cc(LONG_BOWEL_FAIL, 43.674415, BOWEL_BOX), abs=CC_TOL)
    assert sf.status == "fail"

    # Max 54 Gy against EQD2 60 Gy in 25 fx: BED 100; D = 12.5 · (−3 + sqrt(9 + 48)) = 56.87.
    mx = r[9]
    assert mx.limit == pytest.approx(12.5 * (-3.0 + math.sqrt(57.0)))
    assert mx.value == pytest.approx(54.0, abs=0.01)
    assert mx.status == "pass"

    # The target with its own α/β 10: EQD2 45 → BED 54 → D = 12.5 · (−10 + sqrt(100 + 86.4)).
    d98 = r[15]
    assert (d98.alpha_beta, d98.limit) == (10.0, pytest.approx(12.5 * (-10 + math.sqrt(186.4))))

    assert r[11].dose_basis == "physical" and r[11].converted_dose_gy is None
    assert r[14].dose_basis == "physical"  # V95%[%]: relative, untouched by the default
    assert report.verdict == "fail"


def test_check_plan_in_28_fractions_and_command_line_override(check_set: ConstraintSet) -> None:
    report = check_plan(plan(), check_set)
    r = by_line(report)
    # EQD2 45 Gy in 28 fx = 47.80 Gy physical (above); set_fractions in 28 fx: 45 Gy unchanged.
    assert r[8].converted_dose_gy == pytest.approx(47.799777, abs=1e-6)
    assert r[8].plan_fractions == 28
    assert r[10].converted_dose_gy == pytest.approx(45.0)
    assert r[10].value == pytest.approx(340.0, abs=CC_TOL)  # = the physical V45Gy
    # Max against EQD2 60 Gy in 28 fx: 58.82 Gy (the docs' example).
    assert r[9].limit == pytest.approx(58.8167, abs=1e-4)
    assert r[9].message == (
        "Max = 54 Gy, limit 58.82 Gy physical in 28 fx (60 Gy EQD2, α/β 3 Gy): 4.82 Gy margin"
    )
    assert not any("EQD2" in w for w in report.warnings)

    # --fractions overrides the RTPLAN's, and the conversion follows it.
    five = check_plan(plan(), check_set, fractions=5)
    assert five.prescription.fractions == 5
    assert by_line(five)[8].plan_fractions == 5
    assert by_line(five)[8].converted_dose_gy == pytest.approx(physical_dose_for_eqd2(45, 5, 3))


def test_check_plan_fraction_count_provenance_warnings(check_set: ConstraintSet) -> None:
    # No RTPLAN: the set's 28 fractions are used, with a warning.
    report = check_plan(plan(rtplan=False), check_set)
    assert report.prescription.fractions_source == "constraint set"
    assert by_line(report)[8].plan_fractions == 28
    assert (
        "the plan has no RTPLAN: EQD2/BED conversions assume the constraint set's 28 "
        "fractions (give --fractions to state the plan's)"
    ) in report.prescription_warnings
    # An RTPLAN without a number of fractions: likewise.
    report = check_plan(plan(fractions=None), check_set)
    assert any(
        w.startswith("the RTPLAN gives no fractions: EQD2/BED conversions assume")
        for w in report.warnings
    )


def test_check_plan_without_any_fraction_count() -> None:
    cs = load_constraint_set_text(
        "name: EQD2 no fx\nfractionation: {dose_basis: eqd2, alpha_beta: 3}\nstructures:\n"
        "  - name: Bag_Bowel\n    aliases: [BowelBag]\n    constraints:\n"
        "      - V45Gy[cc] < 300\n      - V30Gy[cc] < 600\n",
        path="nofx.yaml",
    )
    report = check_plan(plan(fractions=None), cs)
    assert report.prescription.fractions is None
    assert [r.status for r in report.results] == ["not_evaluated", "not_evaluated"]
    assert (
        "no number of fractions (none in the RTPLAN or the constraint set, no --fractions): "
        "constraints given as EQD2 are not evaluated"
    ) in report.prescription_warnings
    assert report.verdict == "incomplete"
    assert check_plan(plan(fractions=None), cs, strict=True).verdict == "fail"
    assert [r.status for r in check_plan(plan(fractions=None), cs, fractions=28).results] == [
        "fail",
        "pass",
    ]


def test_check_outputs_carry_the_conversion(check_set: ConstraintSet) -> None:
    report = check_plan(plan(prescription_gy=45.0, fractions=25), check_set)
    doc = json.loads(cf.check_json(report))
    rec = next(x for x in doc["results"] if x["line"] == 8)
    assert (rec["dose_basis"], rec["alpha_beta"], rec["plan_fractions"]) == ("eqd2", 3.0, 25)
    assert rec["converted_dose_gy"] == pytest.approx(46.352549, abs=1e-6)
    assert (rec["limit"], rec["limit_as_written"], rec["metric"]) == (300.0, "300", "V45Gy[cc]")
    mx = next(x for x in doc["results"] if x["line"] == 9)
    assert mx["limit_as_written"] == "60"
    assert mx["limit"] == pytest.approx(mx["converted_dose_gy"])
    assert mx["margin"] == pytest.approx(mx["limit"] - mx["value"])

    rows = list(csv.DictReader(io.StringIO(cf.check_csv(report))))
    assert list(rows[0]) == list(cf.CSV_COLUMNS)
    assert {"dose_basis", "alpha_beta", "plan_fractions", "converted_dose_gy"} <= set(rows[0])
    assert (rows[0]["dose_basis"], rows[0]["plan_fractions"]) == ("eqd2", "25")
    assert float(rows[0]["converted_dose_gy"]) == rec["converted_dose_gy"]
    assert (rows[3]["dose_basis"], rows[3]["alpha_beta"], rows[3]["converted_dose_gy"]) == (
        "physical",
        "",
        "",
    )

    table = cf.check_table_text(report, width=200)
    assert "< 300 cc (at 46.35 Gy = 45 Gy EQD2, α/β 3 Gy)" in table
    assert "<= 56.87 Gy (60 Gy EQD2, α/β 3 Gy)" in table
    assert "< 300 cc (at 43.67 Gy = 45 Gy in 28 fx, α/β 3 Gy)" in table
    assert ">= 45.66 Gy (45 Gy EQD2, α/β 10 Gy)" in table
    md = cf.check_markdown(report)
    assert "<= 56.87 Gy (60 Gy EQD2, α/β 3 Gy)" in md
