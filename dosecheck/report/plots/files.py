"""DVH plots written to PNG or SVG files, atomically (:mod:`dosecheck.output.write`)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from dosecheck.errors import InputError
from dosecheck.output.write import write_atomic
from dosecheck.report.plots.figure import dvh_figure, render_svg
from dosecheck.report.plots.markers import CURVE_COLORS, DVHCurve, VolumeUnit

if TYPE_CHECKING:
    from dosecheck.core.structures import StructureDVH

__all__ = ["plot_dvhs_to_file", "plot_format", "save_plot"]


# --- files -----------------------------------------------------------------------------------
def plot_format(path: str | Path) -> Literal["png", "svg"]:
    """``"png"`` or ``"svg"`` from the file extension.

    Raises
    ------
    InputError
        For any other extension.
    """
    suffix = Path(path).suffix.lower()
    if suffix == ".png":
        return "png"
    if suffix == ".svg":
        return "svg"
    raise InputError("the plot file must end in .png or .svg", path=path)


def save_plot(
    curves: Sequence[DVHCurve],
    path: str | Path,
    *,
    volume_unit: VolumeUnit = "cc",
    title: str | None = None,
    prescription_gy: float | None = None,
    figsize: tuple[float, float] = (7.2, 4.0),
    dpi: int = 150,
) -> None:
    """Write the plot of ``curves`` to ``path`` (PNG or SVG by extension), atomically.

    Raises
    ------
    InputError
        For an extension other than ``.png``/``.svg`` or a missing output folder.
    """
    fmt = plot_format(path)
    path = Path(path)
    if fmt == "svg":
        text = render_svg(
            curves,
            volume_unit=volume_unit,
            title=title,
            prescription_gy=prescription_gy,
            figsize=figsize,
        )
        write_atomic(path, text)
        return
    fig, _ = dvh_figure(
        curves,
        volume_unit=volume_unit,
        title=title,
        prescription_gy=prescription_gy,
        figsize=figsize,
    )
    png = io.BytesIO()
    fig.savefig(png, format="png", dpi=dpi, metadata={"Software": None})
    write_atomic(path, png.getvalue())


def plot_dvhs_to_file(
    items: Sequence[StructureDVH],
    path: str | Path,
    *,
    volume_unit: VolumeUnit = "%",
    title: str | None = "Cumulative DVH",
    prescription_gy: float | None = None,
) -> None:
    """Plot the DVHs of ``items`` (from :func:`dosecheck.core.structures.compute_dvhs`) on one
    figure and write it to ``path`` (PNG or SVG by extension), atomically.

    Parameters
    ----------
    items
        The structures and their DVHs.
    path
        ``*.png`` or ``*.svg``.
    volume_unit
        ``"%"`` (default: structures of very different sizes stay readable) or ``"cc"``.
    title
        Plot title.
    prescription_gy
        Draws the prescription and a top axis in % of it.

    Raises
    ------
    InputError
        For a bad extension or output folder, or when matplotlib is not installed.
    """
    plot_format(path)
    curves = [
        DVHCurve(label=i.structure.name, dvh=i.dvh, color=CURVE_COLORS[n % len(CURVE_COLORS)])
        for n, i in enumerate(items)
    ]
    save_plot(
        curves,
        path,
        volume_unit=volume_unit,
        title=title,
        prescription_gy=prescription_gy,
        figsize=(8.0, 5.0),
    )
