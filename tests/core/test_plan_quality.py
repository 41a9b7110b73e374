"""Plan-quality indices against closed forms on concentric spheres.

Phantom: a spherically symmetric dose ``D(r) = 60 − r`` Gy (``r`` in mm, 0 beyond
60 mm) in a body sphere of radius 100 mm, with a target sphere of radius 20 mm at the
centre. The isodose ``t`` is the sphere of radius ``60 − t``, so every volume is a
sphere's: ``V_body(t) = 4/3 π (60 − t)³`` and ``V_target(t) = 4/3 π min(60 − t, 20)³``
(mm³). With the prescription 40 Gy (the target's minimum dose):

- ``CI95%`` = ``V(38 Gy) / TV`` = (22/20)³ = 1.331, ``CN95%`` = (20/22)³;
- ``CN105%`` (42 Gy, radius 18 mm) = ``TV_RI² / (TV V_RI)`` = (18/20)³ = 0.729;
- ``GI50%`` = ``V(20 Gy) / V(40 Gy)`` = (40/20)³ = 8;
- ``HI`` = ``(D2 − D98) / D50`` with ``D_p = 60 − 20 (p/100)^(1/3)``.

The DVHs are built from these closed forms at dose edges; the isodoses of CI/CN/GI
fall on edges, so those values are exact up to rounding, and HI is read between
edges (linear interpolation of a cubic: the tolerance below is what 1 mGy bins give).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from dosecheck.core.dvh import DVH
from dosecheck.core.plan_quality import (
    conformation_number,
    conformity_index,
    gradient_index,
    homogeneity_index,
)
from dosecheck.errors import MetricDomainError
from dosecheck.metrics import parse_metric

RX = 40.0
TARGET_MM = 20.0


def _ball_cc(r_mm: np.ndarray | float) -> np.ndarray:
    return 4.0 / 3.0 * math.pi * np.asarray(r_mm, dtype=np.float64) ** 3 / 1000.0


def _dvh(name: str, radius_mm: float, step_gy: float, max_gy: float) -> DVH:
    """The cumulative DVH of a sphere of ``radius_mm`` in the dose ``60 − r``."""
    n = round(60.0 / step_gy) + 1
    edges = np.arange(n, dtype=np.float64) * step_gy
    cum = _ball_cc(np.minimum(np.clip(60.0 - edges, 0.0, None), radius_mm))
    r = np.linspace(0.0, radius_mm, 200_001)
    shell = r**2
    dose = np.clip(60.0 - r, 0.0, None)
    mean = float(np.sum(dose * shell) / np.sum(shell))
    return DVH(
        dose_edges_gy=edges,
        cumulative_cc=cum,
        volume_cc=float(_ball_cc(radius_mm)),
        min_gy=max(60.0 - radius_mm, 0.0),
        mean_gy=mean,
        max_gy=max_gy,
        name=name,
    )


@pytest.fixture(scope="module")
def target() -> DVH:
    return _dvh("PTV", TARGET_MM, 0.001, 60.0)


@pytest.fixture(scope="module")
def body() -> DVH:
    return _dvh("Body", 100.0, 0.5, 60.0)


def test_rtog_conformity_index(target: DVH, body: DVH) -> None:
    assert conformity_index(target, body, 38.0) == pytest.approx((22 / 20) ** 3, rel=1e-12)
    assert conformity_index(target, body, 40.0) == pytest.approx(1.0, rel=1e-12)


def test_paddick_conformation_number(target: DVH, body: DVH) -> None:
    # 95 %: the whole target is covered, the isodose sphere (22 mm) is larger.
    assert conformation_number(target, body, 38.0) == pytest.approx((20 / 22) ** 3, rel=1e-12)
    # 105 %: the 18 mm isodose sphere lies inside the target: TV_RI = V_RI.
    assert conformation_number(target, body, 42.0) == pytest.approx(0.729, rel=1e-12)
    assert conformation_number(target, body, 40.0) == pytest.approx(1.0, rel=1e-12)


def test_paddick_gradient_index(body: DVH) -> None:
    assert gradient_index(body, 20.0, RX) == pytest.approx(8.0, rel=1e-12)
    # 70 % of 40 Gy = 28 Gy: radius 32 mm against 20 mm.
    assert gradient_index(body, 28.0, RX) == pytest.approx((32 / 20) ** 3, rel=1e-12)


def test_icru83_homogeneity_index(target: DVH) -> None:
    def d(p: float) -> float:
        return 60.0 - TARGET_MM * (p / 100.0) ** (1.0 / 3.0)

    expected = (d(2) - d(98)) / d(50)
    assert expected == pytest.approx(0.32718, abs=1e-5)
    assert homogeneity_index(target) == pytest.approx(expected, abs=1e-8)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("CI95%[]", (22 / 20) ** 3),
        ("CN95%[%]", (20 / 22) ** 3),
        ("CN42Gy[]", 0.729),
        ("CN4200cGy[]", 0.729),
        ("GI50%[%]", 8.0),
        ("GI20Gy[]", 8.0),
    ],
)
def test_metrics_evaluate_the_indices(target: DVH, body: DVH, text: str, expected: float) -> None:
    value = parse_metric(text).evaluate(target, RX, body=body)
    assert value.unit == ""
    assert value.value == pytest.approx(expected, rel=1e-12)


def test_hi_metric_needs_no_body_or_prescription(target: DVH) -> None:
    assert parse_metric("HI[]").evaluate(target).value == pytest.approx(
        homogeneity_index(target), rel=1e-15
    )


def test_an_isodose_index_without_the_body_is_undefined(target: DVH) -> None:
    with pytest.raises(MetricDomainError, match="body"):
        parse_metric("CN95%[]").evaluate(target, RX)


def test_gi_needs_the_prescription(body: DVH) -> None:
    with pytest.raises(MetricDomainError, match="prescription"):
        parse_metric("GI20Gy[]").evaluate(body, None, body=body)


def test_no_body_volume_at_the_isodose(target: DVH, body: DVH) -> None:
    with pytest.raises(MetricDomainError, match="isodose volume is empty"):
        conformation_number(target, body, 61.0)
    with pytest.raises(MetricDomainError, match="gradient index is undefined"):
        gradient_index(body, 30.0, 61.0)


def test_gi_low_isodose_must_be_below_the_prescription(body: DVH) -> None:
    with pytest.raises(MetricDomainError, match="between 0 and the prescription"):
        gradient_index(body, 40.0, RX)


def test_a_target_outside_the_body_is_refused(target: DVH) -> None:
    small_body = _dvh("Body", 10.0, 0.5, 60.0)  # smaller than the 20 mm target
    with pytest.raises(MetricDomainError, match="outside the body ROI"):
        conformation_number(target, small_body, 38.0)


def test_an_empty_target_is_undefined(body: DVH) -> None:
    empty = DVH.empty("PTV")
    with pytest.raises(MetricDomainError, match="no volume inside the dose grid"):
        conformity_index(empty, body, 38.0)
    with pytest.raises(MetricDomainError, match="no volume inside the dose grid"):
        homogeneity_index(empty)


def test_an_isodose_covering_the_whole_body_is_refused(target: DVH) -> None:
    # A 21 mm "body" around the 20 mm target: its minimum dose is 39 Gy. The 38 Gy
    # isodose (radius 22 mm) and the 20 Gy one (radius 40 mm) both reach beyond it, so
    # the body's whole volume would stand for each: CN95% would read
    # (20/21)³ = 0.864 instead of (20/22)³ = 0.751, and GI50% 1 instead of 8.
    tight = _dvh("Body", 21.0, 0.5, 60.0)
    assert tight.min_gy == pytest.approx(39.0)
    with pytest.raises(MetricDomainError, match="covers the whole body ROI 'Body'"):
        conformation_number(target, tight, 38.0)
    with pytest.raises(MetricDomainError, match="minimum dose is 39 Gy"):
        conformity_index(target, tight, 38.0)
    with pytest.raises(MetricDomainError, match="low isodose 20 Gy covers the whole body"):
        gradient_index(tight, 20.0, RX)
    # An isodose inside the body is still read: 40 Gy is the 20 mm sphere.
    assert conformation_number(target, tight, 40.0) == pytest.approx(1.0, rel=1e-12)
    assert gradient_index(tight, 39.5, RX) == pytest.approx((20.5 / 20) ** 3, rel=1e-12)


def test_grid_edge_max_gy_takes_the_faces_the_structure_reaches() -> None:
    from dosecheck.core.plan_quality import grid_edge_max_gy

    x = np.arange(5, dtype=np.float64) * 10.0  # 0 … 40 mm
    y = np.arange(4, dtype=np.float64) * 10.0  # 0 … 30 mm
    z = np.arange(3, dtype=np.float64) * 10.0  # 0 … 20 mm
    zz, yy, xx = np.meshgrid(z, y, x, indexing="ij")
    dose = xx + 100.0 * yy + 10_000.0 * zz  # every node's dose tells where it is
    axes = (x, y, z)
    inside = (5.0, 35.0, 5.0, 25.0, 5.0, 15.0)
    assert grid_edge_max_gy(dose, axes, inside) is None
    # x = 40 face: the max is at y = 30, z = 20.
    assert grid_edge_max_gy(dose, axes, (5.0, 45.0, 5.0, 25.0, 5.0, 15.0)) == 40 + 3000 + 200_000
    # x = 0 face only: x = 0, y = 30, z = 20.
    assert grid_edge_max_gy(dose, axes, (-5.0, 35.0, 5.0, 25.0, 5.0, 15.0)) == 3000 + 200_000
    # z = 0 face only: x = 40, y = 30, z = 0.
    assert grid_edge_max_gy(dose, axes, (5.0, 35.0, 5.0, 25.0, 0.0, 15.0)) == 40 + 3000
    # y = 0 and y = 30 faces: the larger is y = 30's.
    assert grid_edge_max_gy(dose, axes, (5.0, 35.0, -1.0, 31.0, 5.0, 15.0)) == 40 + 3000 + 200_000


def test_a_body_no_larger_than_the_target_is_refused(target: DVH) -> None:
    # The target itself as "body" (e.g. --map Body=PTV): V_RI = TV_RI, so CN would be
    # the coverage alone, (20/20)³ = 1 at 38 Gy instead of (20/22)³.
    with pytest.raises(MetricDomainError, match="is no larger than target 'PTV'"):
        conformation_number(target, target, 38.0)
    with pytest.raises(MetricDomainError, match="not the whole patient"):
        conformity_index(target, target, 45.0)
