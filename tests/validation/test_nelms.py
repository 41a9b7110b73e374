"""Accuracy on the Nelms et al. (2015) analytical DVH data set (when present).

Published counts of values more than 3 % off the analytical ones over the 1, 2 and 3 mm
rows: Pinnacle 36 %, PlanIQ 7 %, dicompyler-core about 67 %. Required here: below 7 %.
"""

from __future__ import annotations

import pytest

from tests.helpers.shared_data import shared_dataset


@pytest.fixture(scope="module")
def nelms_rows():
    from dosecheck.validation.nelms import run

    return run(shared_dataset("nelms2015-analytical-dvh"))


def test_all_90_rows_are_computed(nelms_rows) -> None:
    assert len(nelms_rows) == 90


def test_fewer_than_7_percent_of_values_are_more_than_3_percent_off(nelms_rows) -> None:
    from dosecheck.validation.nelms import summary

    s = summary(nelms_rows)
    assert s["values"] == 810
    assert s["percent_over"] < 7.0
    # Regression guard at the level measured when the engine landed (20 of 810).
    assert s["over_3_percent"] <= 20


def test_min_max_mean_include_the_end_capped_surface(nelms_rows) -> None:
    from dosecheck.validation.nelms import summary

    per_metric = summary(nelms_rows)["per_metric"]
    assert per_metric["Dmin"] == 0
    assert per_metric["Dmax"] == 0
    assert per_metric["Dmean"] == 0


def test_si_cylinder_extremes_widen_with_end_caps(nelms_rows) -> None:
    # README of the data set: SI Dmin/Dmax are 3.5/28.5 Gy at 1 mm and 2.5/29.5 Gy at 3 mm.
    by_key = {(r.structure, r.gradient): r for r in nelms_rows}
    r1 = by_key[("Cylinder_10_X05Z05", "SI")]
    r3 = by_key[("Cylinder_30_X15Z15", "SI")]
    assert r1.computed[1] == pytest.approx(3.5, abs=0.02)
    assert r1.computed[2] == pytest.approx(28.5, abs=0.02)
    assert r3.computed[1] == pytest.approx(2.5, abs=0.02)
    assert r3.computed[2] == pytest.approx(29.5, abs=0.02)


def test_with_metrics_from_takes_only_the_named_metrics() -> None:
    from dosecheck.validation.nelms import NelmsRow, summary, with_metrics_from

    analytical = (10.0, 1.0, 5.0, 3.0, 1.5, 2.0, 4.0, 4.5, 4.8)
    off = (10.0, 1.5, 6.0, 3.0, 1.5, 2.0, 4.0, 4.5, 4.8)  # Dmin +50 %, Dmax +20 %
    good = (11.0, 1.0, 5.0, 9.0, 9.0, 9.0, 9.0, 9.0, 9.0)
    row = NelmsRow("Sphere_30_0", "3mm", 3, "SI", analytical, off)
    other = NelmsRow("Sphere_30_0", "3mm", 3, "SI", analytical, good)
    (mixed,) = with_metrics_from([row], [other], ("Dmin", "Dmax"))
    assert mixed.computed == (10.0, 1.0, 5.0, 3.0, 1.5, 2.0, 4.0, 4.5, 4.8)
    assert summary([row])["over_3_percent"] == 2
    assert summary([mixed])["over_3_percent"] == 0
    with pytest.raises(ValueError, match="rows differ"):
        with_metrics_from([row], [NelmsRow("Cone_30_0", "3mm", 3, "SI", analytical, good)], ())
