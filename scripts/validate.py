"""Write docs/validation.md: dosecheck against analytical values, a TPS and dicompyler-core.

Usage::

    python scripts/validate.py [--shared ../shared/data] [--output docs/validation.md]

Needs the third-party data sets in ``../shared/data`` (not shipped with dosecheck) and
dicompyler-core (``pip install 'dosecheck[reference]'``) for the side-by-side columns.
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

from dosecheck.core.engine import compute_dvh
from dosecheck.core.structures import end_cap_spacing, structure_set_spacing
from dosecheck.core.tps_dvh import tps_curve
from dosecheck.dicom.dose import read_rtdose
from dosecheck.dicom.structures import read_rtstruct
from dosecheck.dicom.tps_dvh import read_tps_dvhs
from dosecheck.validation import nelms
from dosecheck.validation.tps import dataset_rows as tps_rows

REPO = Path(__file__).resolve().parents[1]


def nelms_section(shared: Path) -> str:
    folder = shared / "nelms2015-analytical-dvh"
    t0 = time.perf_counter()
    rows = nelms.run(folder)
    elapsed = time.perf_counter() - t0
    dc = _dicompyler_nelms_count(folder)
    out = [
        "## 1. Nelms et al. (2015) analytical data set",
        "",
        "Spheres, cylinders and cones (also rotated 90°) in linear 1 Gy/mm dose gradients along",
        "y (AP) and z (SI), dose grids of 1, 2 and 3 mm, contours 0.2–3 mm apart, shifted by",
        "half a voxel in x and z. The analytical values include half-slice end caps. Metrics:",
        "volume, Dmin, Dmax, Dmean, D99, D95, D5, D1 and D0.03cc over all 90 rows with a",
        "1, 2 or 3 mm dose grid.",
        "",
        "| engine | values more than 3 % off |",
        "|---|---|",
        f"| **dosecheck {_version()}** | **{nelms.summary(rows)['over_3_percent']} of 810 "
        f"({nelms.summary(rows)['percent_over']:.1f} %)** |",
        "| PlanIQ (published, Nelms 2015) | 7 % |",
        "| Pinnacle (published, Nelms 2015) | 36 % |",
    ]
    if dc is not None:
        out.append(
            f"| dicompyler-core 0.5.7, default settings (`derived_dicompyler`) | {dc[0]} of "
            f"{dc[1]} ({100 * dc[0] / dc[1]:.1f} %) |"
        )
    out += [
        "",
        f"dosecheck computed the 90 rows in {elapsed:.1f} s (including reading the DICOM files).",
        "",
        "Where dosecheck is still more than 3 % off, the cause is the slab model itself, not",
        "the sampling: every remaining case is a shape whose cross-section shrinks to nothing",
        "at its ends along z (the rotated cylinder, and the sphere on 3 mm contours). Each",
        "contour stands for a slab of constant cross-section, so the curved cap beyond the",
        "last contour plane is cut off; the analytical shape keeps it. This loses up to 5 % of",
        "the rotated cylinder's volume at 3 mm spacing and raises D99/D95 in the SI gradient,",
        "where the cold end of the structure is exactly that cap. It is the same model as the",
        "analytical end caps assume for flat-ended shapes, and as clinical systems use.",
        "",
        *end_caps_section(folder),
        "",
        nelms.markdown(rows),
    ]
    return "\n".join(out)


def end_caps_section(folder: Path) -> list[str]:
    """The Nelms figures under each end-cap convention (``--end-caps``)."""
    import importlib.util

    has_scipy = importlib.util.find_spec("scipy") is not None
    runs = {c: nelms.run(folder, end_caps=c) for c in ("half-slice", "none")}
    if has_scipy:
        runs["shape"] = nelms.run(folder, end_caps="shape")
    out = [
        "### End-cap conventions",
        "",
        "The same 90 rows under each `--end-caps` convention (`dosecheck.core.end_caps`).",
        "The analytical values are those of the true shapes, with half a contour spacing",
        "added beyond flat ends (the cylinder's ends, the cone's base) but not beyond round",
        "ones (sphere, rotated cylinder and cone, cone apex), except that Dmin and Dmax in",
        "the SI gradient are taken at half-slice end caps everywhere (README: 350/2850 cGy",
        "at 1 mm for every shape). So the table is not one convention: its volumes and D",
        "metrics are those of the true shape (what `shape` models), its SI extremes those of",
        "half-slice caps. `none` is what a system without end caps (Eclipse) gives.",
        "",
        "| end caps | values more than 3 % off | largest error | "
        + " | ".join(nelms.METRICS)
        + " |",
        "|---|---|---|" + "---|" * len(nelms.METRICS),
    ]
    for caps in ("half-slice", "none", "shape"):
        if caps not in runs:
            out.append(f"| {caps} | (needs scipy: `pip install 'dosecheck[shape]'`) | |")
            continue
        out.append(_caps_row(caps, runs[caps]))
    if has_scipy:
        extremes = ("Dmin", "Dmax")
        mixed = nelms.with_metrics_from(runs["shape"], runs["half-slice"], extremes)
        out.append(_caps_row("shape, half-slice Dmin/Dmax", mixed))
        s_all = nelms.summary(runs["shape"])
        s_mix = nelms.summary(mixed)
        per = s_all["per_metric"]
        n_ext = sum(per[m] for m in extremes)  # type: ignore[index]
        out += [
            "",
            f"`shape`, all metrics: {s_all['over_3_percent']} of {s_all['values']}; `shape`",
            "volumes and D metrics with half-slice Dmin/Dmax as the table assumes:",
            f"{s_mix['over_3_percent']} of {s_mix['values']} (the last row). {n_ext} of",
            f"`shape`'s {s_all['over_3_percent']} are Dmin/Dmax: `shape` puts the extremes where",
            "the shape closes (the sphere's poles, the cone's apex), the table half a contour",
            "spacing beyond. `shape` reports its own extremes; the last row only scores the",
            "table's convention. A sample that only one plane contains (beside the rotated",
            "cone's apex, along its slanted sides, at a sphere's pole) closes where F crosses",
            "zero between the planes. F is quadratic in z there (ρ² − (z − z₀)² through a",
            "circle of radius ρ), so `shape` takes the crossing on the parabola through three",
            "planes' F; on the line through two it closed such a sample after h²/gap instead",
            "of its half-height h, and left the rotated cone's volume 4.5 % short at 3 mm",
            "(14 of 810 in the last row then, largest error 10.4 %).",
            *_shape_left(mixed),
        ]
    out += ["", "The per-row table below is for the default, half-slice."]
    return out


def _shape_left(mixed: list[nelms.NelmsRow]) -> list[str]:
    """What ``shape`` still leaves more than 3 % off in the table's convention."""
    left = [
        (r, m, e)
        for r in mixed
        for m, e in zip(nelms.METRICS, r.errors_percent, strict=True)
        if abs(e) > nelms.THRESHOLD_PERCENT
    ]
    if not left:
        return ["Nothing else is more than 3 % off."]
    cases = sorted({f"{r.structure.split('_')[0]} {m} ({r.gradient})" for r, m, _ in left})
    worst = max(left, key=lambda t: abs(t[2]))
    out = [
        f"What it still leaves more than 3 % off: {', '.join(cases)},",
        f"at most {worst[2]:+.1f} % ({worst[0].structure}, {worst[0].dose_voxel_mm} mm grid).",
    ]
    if {r.structure.split("_")[0] for r, _, _ in left} == {"RtCone"}:
        out += [
            "On the rotated cone the flat base is the nearest contour for the samples beside",
            "it, though it does not move from plane to plane, and one inscribed radius per",
            "plane stands for the depth m that would make F exact (the radius of the cone's",
            "circular cross-section through the sample, 0 at the apex to 12 mm at the base).",
        ]
    return out


def _caps_row(label: str, rows: list[nelms.NelmsRow]) -> str:
    s = nelms.summary(rows)
    per = " | ".join(str(v) for v in s["per_metric"].values())  # type: ignore[union-attr]
    return (
        f"| {label} | {s['over_3_percent']} of {s['values']} ({s['percent_over']:.1f} %) "
        f"| {s['max_error_percent']:.1f} % | {per} |"
    )


def _dicompyler_nelms_count(folder: Path) -> tuple[int, int] | None:
    path = folder / "derived_dicompyler" / "nelms_dicompyler-core-0.5.7_default.csv"
    if not path.is_file():
        return None
    cols = ("V_%", "Dmin_%", "Dmax_%", "Dmean_%", "D99_%", "D95_%", "D5_%", "D1_%", "D003_%")
    over = total = 0
    with open(path, newline="") as fh:
        for row in csv.DictReader(fh):
            for c in cols:
                total += 1
                over += abs(float(row[c])) > 3.0
    return over, total


def tps_section(shared: Path) -> str:
    folder = shared / "dicompyler-core-example"
    sset = read_rtstruct(folder / "rtss.dcm")
    grid = read_rtdose(folder / "rtdose.dcm")
    tps = {
        t.included[0]: c.dvh
        for t in read_tps_dvhs(folder / "rtdose.dcm")
        if len(t.included) == 1 and (c := tps_curve(t)).dvh is not None
    }
    spacing = structure_set_spacing(sset)
    dc = _dicompyler_dvhs(folder, [s.number for s in sset.structures])
    out = [
        "## 2. A clinical plan with the TPS's own DVHs (Varian Eclipse)",
        "",
        "The dicompyler-core example breast plan: 10 ROIs, 3 mm contour spacing, 2.5 mm dose",
        "grid, and 9 cumulative DVHs computed by Eclipse embedded in the RTDOSE (DVHSequence).",
        "Columns: volume (cc), min, mean, max (Gy). Δ is dosecheck − Eclipse.",
        "",
        "| ROI | Eclipse V | dosecheck V | dicompyler V | ΔV % | Eclipse min/mean/max | "
        "dosecheck min/mean/max | dicompyler min/mean/max |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for s in sset.structures:
        d = compute_dvh(s, grid, slice_thickness_mm=end_cap_spacing(s, spacing))
        ref = tps.get(s.number)
        ref_dc = dc.get(s.number) if dc else None
        if ref is None:
            out.append(
                f"| {s.name} | — | {d.volume_cc:.2f} | "
                f"{_fmt_v(ref_dc)} | — | — | {_fmt_stats(d)} | {_fmt_stats(ref_dc)} |"
            )
            continue
        dv = 100 * (d.volume_cc - ref.volume_cc) / ref.volume_cc
        out.append(
            f"| {s.name} | {ref.volume_cc:.2f} | {d.volume_cc:.2f} | {_fmt_v(ref_dc)} | "
            f"{dv:+.1f} | {_fmt_stats(ref)} | {_fmt_stats(d)} | {_fmt_stats(ref_dc)} |"
        )
    out += [
        "",
        "Why the volumes differ by more than 1 %:",
        "",
        "* **End caps.** Eclipse does not extend a structure beyond its first and last contour",
        "  (the Nelms data set's README names Eclipse as the example of a system without end",
        "  caps); dosecheck adds half a contour spacing (1.5 mm here) at each end, as the",
        "  analytical data assume. For a structure of n planes of area A that is a difference",
        "  of about 1/n: Tumor Bed (18 contours) +2.7 %, Tumor Bed Block +1.5 %.",
        "* **Small, thin structures.** Scar (0.34 cc in Eclipse), Nodes and Borders are a",
        "  few contours of a few mm²; the end caps and the in-plane partial-volume model",
        "  (dosecheck: exact polygon area; Eclipse: its own voxelisation) decide most of their",
        "  volume. Their dose statistics still agree within a few hundredths of a Gy except",
        "  Scar's minimum, which lies on the end-cap surface in a steep gradient.",
        "* **Min and max.** dosecheck takes them over the whole end-capped volume, contour",
        "  vertices on the slab faces included (the surface, as the analytical values do);",
        "  Eclipse and dicompyler-core take them over voxel-centre samples inside. Where an",
        "  edge or end cap lies in a steep gradient dosecheck's minimum is lower and its",
        "  maximum higher: Tumor Bed Block's minimum (10.49 vs 12.48 Gy) is on its end cap",
        "  at the field edge, Lt Lung's maximum (12.87 vs 12.74 Gy) on the chest wall.",
        "* **BODY.** Eclipse reports 13 944 cc; dosecheck and dicompyler-core, which both take",
        "  every contour as given, agree on about 14 880 cc. Eclipse evidently limits the BODY",
        "  DVH to a region it does not record in the file (such as the calculation volume",
        "  or the couch-cropped outline); the difference is not in the dose.",
        "",
    ]
    return "\n".join(out)


def _fmt_v(d) -> str:
    return "—" if d is None else f"{d.volume_cc:.2f}"


def _fmt_stats(d) -> str:
    if d is None or d.is_empty:
        return "—"
    return f"{d.min_gy:.2f} / {d.mean_gy:.3f} / {d.max_gy:.2f}"


def _dicompyler_dvhs(folder: Path, numbers: list[int]) -> dict[int, object] | None:
    try:
        from dosecheck.core.dvh import DVH
        from dosecheck.reference_engine import import_dvhcalc

        dvhcalc = import_dvhcalc()
    except Exception:
        return None
    out = {}
    for n in numbers:
        ref = dvhcalc.get_dvh(str(folder / "rtss.dcm"), str(folder / "rtdose.dcm"), n).cumulative
        if ref.volume > 0:
            out[n] = DVH(
                dose_edges_gy=ref.bins[:-1],
                cumulative_cc=ref.counts,
                volume_cc=float(ref.volume),
                min_gy=float(ref.min),
                mean_gy=float(ref.mean),
                max_gy=float(ref.max),
            )
    return out


_RECONCILE_SETS = (
    ("dicompyler-core-example", "Varian Eclipse breast plan, DVHSequence in the RTDOSE"),
    (
        "slicerrt-eclipse-prostate",
        "Eclipse 8.1 prostate: its DVH tables (CSV) against the dose of SlicerRT's NRRD",
    ),
    (
        "robustbrachy-hdr-prostate/v2021_initial",
        "HDR brachytherapy (presumably Vitesse), DVHSequence that contradicts itself",
    ),
    (
        "robustbrachy-hdr-prostate/v2024_updated",
        "the same after an update that left the dose grid short of the structures",
    ),
)


def _c(x: float | None, fmt: str) -> str:
    return "—" if x is None else format(x, fmt)


def reconcile_section(shared: Path) -> str:
    """Section 3: `--compare-tps` on every shared dataset with TPS DVHs."""
    out = [
        "## 3. Beside the planning systems' own DVHs (`--compare-tps`)",
        "",
        "What `dosecheck dvh PLAN --compare-tps` reports on every shared dataset with TPS",
        "DVHs. Differences are dosecheck − TPS; *agree* is volume within 3 % (or 0.05 cc) and",
        "mean and D98/D95/D50/D2 %/D0.03cc within 2 % of the prescription (or 0.05 Gy, or the",
        "TPS's bin width). Under each table, every explanation the comparison gives for the",
        "ROIs that do not agree, word for word; 'not explained' is what the numbers leave open.",
        "",
    ]
    for name, what in _RECONCILE_SETS:
        if not (shared / name).is_dir():
            continue
        rows, notes = tps_rows(shared, name)
        out += [
            f"### `{name}`: {what}",
            "",
            "| ROI | TPS V (cc) | dosecheck V (cc) | ΔV % | Δmean (Gy) | ΔD95 (Gy) | agree |",
            "|---|---|---|---|---|---|---|",
        ]
        for r in rows:
            agree = "—" if r.agree is None else ("yes" if r.agree else "**no**")
            out.append(
                f"| {r.roi} | {_c(r.tps_volume_cc, '.2f')} | {r.volume_cc:.2f} | "
                f"{_c(r.volume_pct, '+.1f')} | {_c(r.mean_gy, '+.3f')} | "
                f"{_c(r.d95_gy, '+.3f')} | {agree} |"
            )
        out.append("")
        for n in dict.fromkeys(notes):
            out.append(f"* {n}")
        for r in rows:
            if r.agree:
                continue
            for e in r.explanations:
                out.append(f"* {r.roi}: {e}")
        out.append("")
    return "\n".join(out)


def _version() -> str:
    from dosecheck import __version__

    return __version__


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=REPO.parent / "shared" / "data")
    ap.add_argument("--output", type=Path, default=REPO / "docs" / "validation.md")
    args = ap.parse_args()
    header = [
        "# DVH validation",
        "",
        "Generated by `python scripts/validate.py` from the third-party data sets in",
        "`../shared/data` (not shipped with dosecheck; each has a README with its source).",
        "Rerun it after any change to the engine or the DICOM readers.",
        "",
    ]
    text = (
        "\n".join(header)
        + nelms_section(args.shared)
        + "\n"
        + tps_section(args.shared)
        + "\n"
        + reconcile_section(args.shared)
    )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
