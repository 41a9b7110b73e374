"""Accuracy of :func:`dosecheck.core.engine.compute_dvh` against closed-form references.

Every case puts an analytic phantom (stack of polygon contours) in a linear dose
gradient of 1 Gy/mm and compares the engine's DVH with the exact slab-model numbers of
:func:`phantoms.reference_dvh`. Trilinear interpolation of a linear dose is exact, so
any error is the engine's geometry (in-plane sampling, slabs, end caps, grid extent).

Required tolerances:

* volume within 1 % (2 % below 1 cc);
* D98, D95, D50, D5, D2 within 0.2 Gy; mean within 0.1 Gy; min and max within 0.5 Gy;
* V at three doses across the range within 1 percentage point of the volume;
* volume outside the dose grid within 1 % of the closed form.

The cases cover every shape with a gradient along every axis, dose voxels of 1, 2 and
3 mm, grids aligned with the contour planes (offset 0: dose planes on contour planes)
and offset by 0.5 or 1.3 mm (dose planes between contour planes), and contour spacings
of 1, 2 and 3 mm, in a Latin-square subset of the full product plus extra coarse cases.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from dosecheck.core.dvh import DVH
from tests.helpers import phantoms as ph

engine = pytest.importorskip("dosecheck.core.engine")
compute_dvh = engine.compute_dvh

VOLUME_REL_TOL = 0.01
VOLUME_REL_TOL_SUB_CC = 0.02
D_TOL_GY = 0.2
MEAN_TOL_GY = 0.1
MINMAX_TOL_GY = 0.5
V_TOL_PERCENT = 1.0
OUTSIDE_REL_TOL = 0.01
GRADIENT_GY_PER_MM = 1.0
D0_GY = 50.0

VOXELS = (1.0, 2.0, 3.0)
OFFSETS = (0.0, 0.5, 1.3)
SPACINGS = (1.0, 2.0, 3.0)


@dataclass(frozen=True)
class Case:
    """One accuracy case: a phantom, a gradient axis and sign, and a dose grid."""

    shape: str
    axis: str
    voxel_mm: float
    offset_mm: float
    spacing_mm: float
    sign: float = 1.0

    @property
    def id(self) -> str:
        g = "+" if self.sign > 0 else "-"
        return (
            f"{self.shape}-{g}{self.axis}-vox{self.voxel_mm:g}-off{self.offset_mm:g}"
            f"-h{self.spacing_mm:g}"
        )


def _latin_cases() -> list[Case]:
    """Every shape x axis x voxel size (54 cases); offset, contour spacing and gradient
    sign rotate so that each (shape, axis) pair sees every offset and every spacing, and
    all nine voxel/spacing pairs occur."""
    cases = []
    for s, shape in enumerate(ph.SHAPES):
        for a, axis in enumerate("xyz"):
            for v, voxel in enumerate(VOXELS):
                cases.append(
                    Case(
                        shape,
                        axis,
                        voxel,
                        OFFSETS[(s + a + 2 * v) % 3],
                        SPACINGS[(s + 2 * a + v) % 3],
                        1.0 if (s + a + v) % 2 == 0 else -1.0,
                    )
                )
    return cases


EXTRA_CASES = [
    # Coarse dose grid, dose planes between thick contour slabs.
    Case("sphere", "z", 3.0, 1.3, 3.0),
    Case("sphere", "x", 3.0, 0.5, 1.0),
    Case("cone", "z", 1.0, 0.5, 3.0),
    Case("cone", "y", 3.0, 1.3, 2.0, -1.0),
    Case("hollow_cylinder", "z", 3.0, 0.0, 1.0),
    Case("two_islands", "z", 3.0, 0.0, 3.0),
    Case("two_islands", "x", 3.0, 0.5, 2.0, -1.0),
    Case("sub_cc_sphere", "y", 3.0, 1.3, 2.0),
    Case("sub_cc_sphere", "z", 3.0, 0.5, 3.0),
]
CASES = _latin_cases() + EXTRA_CASES


def _linear_dose(phantom: ph.Phantom, grid: ph.GridSpec, axis: str, sign: float) -> ph.LinearDose:
    """1 Gy/mm along ``axis``, 50 Gy at the phantom's centre."""
    lo, hi = phantom.bounds()
    i = ph.AXES[axis]
    return ph.LinearDose(grid, axis, D0_GY, sign * GRADIENT_GY_PER_MM, float(lo[i] + hi[i]) / 2)


def _compare(dvh: DVH, ref: ph.Reference) -> list[str]:
    """All tolerance violations of ``dvh`` against ``ref`` (empty when it passes)."""
    errors: list[str] = []

    def check(what: str, got: float, want: float, tol: float) -> None:
        if not abs(got - want) <= tol:
            errors.append(f"{what}: engine {got:.4f}, reference {want:.4f}, tolerance {tol:g}")

    vol_tol = VOLUME_REL_TOL_SUB_CC if ref.volume_cc < 1.0 else VOLUME_REL_TOL
    check("volume_cc", dvh.volume_cc, ref.volume_cc, vol_tol * ref.volume_cc)
    for p, d in ref.d_gy.items():
        check(f"D{p:g}%", dvh.dose_at_volume_percent(p), d, D_TOL_GY)
    check("mean", dvh.mean_gy, ref.mean_gy, MEAN_TOL_GY)
    check("min", dvh.min_gy, ref.min_gy, MINMAX_TOL_GY)
    check("max", dvh.max_gy, ref.max_gy, MINMAX_TOL_GY)
    for f in (0.25, 0.5, 0.75):
        d = ref.min_gy + f * (ref.max_gy - ref.min_gy)
        check(
            f"V{d:.2f}Gy[%]",
            dvh.volume_percent_at_dose(d),
            ref.volume_percent_at_dose(d),
            V_TOL_PERCENT,
        )
    return errors


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_engine_matches_closed_form(case: Case) -> None:
    phantom = ph.standard_phantom(case.shape, case.spacing_mm)
    grid = ph.grid_around(phantom, case.voxel_mm, case.offset_mm)
    dose = _linear_dose(phantom, grid, case.axis, case.sign)
    ref = ph.reference_dvh(phantom, dose)
    # The reference itself must make the case meaningful: a wide dose range, nothing
    # outside the grid.
    assert ref.max_gy - ref.min_gy > 8.0
    assert ref.outside_grid_cc == pytest.approx(0.0, abs=1e-9)
    dvh = compute_dvh(phantom.structure(), dose.dose_grid())
    errors = _compare(dvh, ref)
    assert dvh.outside_grid_cc == pytest.approx(0.0, abs=1e-3 * ref.volume_cc)
    assert not errors, "\n".join(errors)


def test_case_list_covers_the_required_combinations() -> None:
    """Every shape x axis; coarse and fine grids, offsets and spacings for each axis."""
    for shape in ph.SHAPES:
        for axis in "xyz":
            sub = [c for c in CASES if c.shape == shape and c.axis == axis]
            assert {c.voxel_mm for c in sub} == set(VOXELS)
            assert {c.offset_mm for c in sub} == set(OFFSETS)
            assert {c.spacing_mm for c in sub} == set(SPACINGS)
            assert {c.sign for c in sub} == {1.0, -1.0}
    assert {(c.voxel_mm, c.spacing_mm) for c in CASES} == {(v, h) for v in VOXELS for h in SPACINGS}
    assert len(set(CASES)) == len(CASES)


# --------------------------------------------------------------------------------------
# grid extent
# --------------------------------------------------------------------------------------
PARTIAL_CASES = [
    # (shape, spacing, gradient axis, voxel, offset, which face of the grid cuts it)
    ("cylinder", 2.0, "z", 2.0, 0.5, "z"),  # cut at the top, dose clamps in the margin
    ("cylinder", 1.0, "x", 3.0, 1.3, "z"),
    ("sphere", 2.0, "y", 3.0, 1.3, "x"),
    ("sphere", 3.0, "x", 2.0, 0.0, "x"),  # cut along the gradient: clamped plateau at max
    ("hollow_cylinder", 2.0, "z", 3.0, 0.5, "x"),
    ("two_islands", 2.0, "x", 2.0, 0.5, "x"),  # one island inside, the other mostly out
]


@pytest.mark.parametrize(
    ("shape", "h", "axis", "voxel", "offset", "cut"),
    PARTIAL_CASES,
    ids=[f"{c[0]}-{c[2]}-vox{c[3]:g}-off{c[4]:g}-cut{c[5]}" for c in PARTIAL_CASES],
)
def test_partly_outside_grid(
    shape: str, h: float, axis: str, voxel: float, offset: float, cut: str
) -> None:
    phantom = ph.standard_phantom(shape, h)
    lo, hi = phantom.bounds()
    lo, hi = lo - 2 * voxel, hi + 2 * voxel
    hi[ph.AXES[cut]] = 5.0  # voxel centres stop at or just above 5 mm
    grid = ph.GridSpec.make(voxel, offset, lo, hi)
    dose = _linear_dose(phantom, grid, axis, 1.0)
    ref = ph.reference_dvh(phantom, dose)
    assert 0.1 * ref.total_cc < ref.outside_grid_cc < 0.7 * ref.total_cc
    dvh = compute_dvh(phantom.structure(), dose.dose_grid())
    errors = _compare(dvh, ref)
    if not abs(dvh.outside_grid_cc - ref.outside_grid_cc) <= OUTSIDE_REL_TOL * ref.outside_grid_cc:
        errors.append(
            f"outside_grid_cc: engine {dvh.outside_grid_cc:.4f}, "
            f"reference {ref.outside_grid_cc:.4f}"
        )
    assert not errors, "\n".join(errors)


@pytest.mark.parametrize("shape", ["sphere", "sub_cc_sphere"])
def test_wholly_outside_grid(shape: str) -> None:
    phantom = ph.standard_phantom(shape, 2.0)
    grid = ph.GridSpec((2.0,) * 3, (0.5,) * 3, (30.0, -30.0, -30.0), (80.0, 30.0, 30.0))
    dose = ph.LinearDose(grid, "x", D0_GY, GRADIENT_GY_PER_MM, 50.0)
    ref = ph.reference_dvh(phantom, dose)
    assert ref.volume_cc == 0.0 and ref.outside_grid_cc > 0.5
    dvh = compute_dvh(phantom.structure(), dose.dose_grid())
    assert dvh.volume_cc == 0.0
    assert dvh.is_empty
    assert dvh.outside_grid_cc == pytest.approx(ref.outside_grid_cc, rel=OUTSIDE_REL_TOL)


# --------------------------------------------------------------------------------------
# uniform dose, explicit slice thickness
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("shape", "h", "voxel", "offset"),
    [
        ("hollow_cylinder", 2.0, 3.0, 1.3),
        ("two_islands", 3.0, 2.0, 0.5),
        ("sub_cc_sphere", 1.0, 3.0, 0.0),
    ],
)
def test_uniform_dose(shape: str, h: float, voxel: float, offset: float) -> None:
    phantom = ph.standard_phantom(shape, h)
    dose = ph.LinearDose(ph.grid_around(phantom, voxel, offset), "z", 61.25, 0.0)
    ref = ph.reference_dvh(phantom, dose)
    dvh = compute_dvh(phantom.structure(), dose.dose_grid())
    for value in (dvh.min_gy, dvh.mean_gy, dvh.max_gy):
        assert value == pytest.approx(61.25, abs=1e-5)
    for p in ph.D_PERCENTS:
        assert dvh.dose_at_volume_percent(p) == pytest.approx(61.25, abs=1e-5)
    tol = VOLUME_REL_TOL_SUB_CC if ref.volume_cc < 1.0 else VOLUME_REL_TOL
    assert dvh.volume_cc == pytest.approx(ref.volume_cc, rel=tol)
    assert dvh.volume_at_dose(61.0) == pytest.approx(dvh.volume_cc, rel=1e-9)
    assert dvh.volume_at_dose(61.5) == 0.0


@pytest.mark.parametrize("axis", ["x", "z"])
def test_single_plane_with_slice_thickness(axis: str) -> None:
    """One contour plane: the slab is ``z ± thickness / 2``, from ``slice_thickness_mm``."""
    phantom = ph.disc(15.0, z_mm=2.0, thickness_mm=2.5)
    grid = ph.grid_around(phantom, 2.0, 0.5, margin_mm=4.0)
    # z: 4 Gy/mm, 10 Gy across the slab; x: 1 Gy/mm, 30 Gy across the disc.
    centre, g = (2.0, 4.0) if axis == "z" else (0.0, 1.0)
    dose = ph.LinearDose(grid, axis, D0_GY, g, centre)
    ref = ph.reference_dvh(phantom, dose, slice_thickness_mm=2.5)
    assert ref.volume_cc == pytest.approx(np.pi * 225 * 2.5 / 1000, rel=1e-4)
    dvh = compute_dvh(phantom.structure(), dose.dose_grid(), slice_thickness_mm=2.5)
    errors = _compare(dvh, ref)
    assert not errors, "\n".join(errors)
