"""Regenerate ``sample_plans/`` deterministically.

Writes three synthetic rectal VMAT plans (RTSTRUCT + RTPLAN + 16-bit RTDOSE each)
with a README.md per plan, then checks the bowel-bag and PTV figures of every plan
with an independent DVH calculator (dicompyler-core, if installed) and prints them.

Usage::

    python scripts/make_sample_plans.py            # writes ./sample_plans
    python scripts/make_sample_plans.py --out DIR --no-verify
"""

from __future__ import annotations

import argparse
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

from dosecheck.synthetic.pelvis import write_plan

REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Check:
    """One dose-volume constraint: ``V<dose_gy>Gy < limit_cc`` on the bowel bag."""

    dose_gy: float
    limit_cc: float


@dataclass(frozen=True)
class SamplePlan:
    """How one sample plan is generated and what a checker should report."""

    folder: str
    title: str
    kind: str
    seed: int
    bowel_dose_boost: float
    bowel_name: str
    patient_id: str
    plan_label: str
    expectation: str
    bowel_checks: tuple[Check, ...]
    extra_kwargs: dict[str, object] = field(default_factory=dict)


LONG = (Check(30.0, 600.0), Check(45.0, 300.0))
SHORT = (Check(18.5, 350.0), Check(22.0, 200.0))

PLANS: tuple[SamplePlan, ...] = (
    SamplePlan(
        folder="long_course_pass",
        title="Long-course chemoradiotherapy, 50.4 Gy in 28 fractions — passes",
        kind="long",
        seed=15,
        bowel_dose_boost=0.0,
        bowel_name="Bag_Bowel",
        patient_id="SYNTH-RECT-LC-PASS",
        plan_label="LC5040_PASS",
        expectation=(
            "Every constraint passes with a clear margin: bowel bag V30Gy well under "
            "600 cc, V45Gy well under 300 cc, PTV V95% above 95 %."
        ),
        bowel_checks=LONG,
    ),
    SamplePlan(
        folder="long_course_bowel_fail",
        title="Long-course chemoradiotherapy, 50.4 Gy in 28 fractions — bowel fails",
        kind="long",
        seed=12,
        bowel_dose_boost=1.6,
        bowel_name="BowelBag",
        patient_id="SYNTH-RECT-LC-FAIL",
        plan_label="LC5040_BOWEL",
        expectation=(
            "The bowel bag V45Gy is clearly over 300 cc and must be reported as a "
            "FAIL; its V30Gy stays under 600 cc (pass) and the PTV V95% passes. The "
            "high dose spills anteriorly into the bowel bag (poor bowel sparing). "
            "The bowel ROI is spelled 'BowelBag' to exercise name matching."
        ),
        bowel_checks=LONG,
    ),
    SamplePlan(
        folder="short_course",
        title="Short-course radiotherapy, 25 Gy in 5 fractions — passes",
        kind="short",
        seed=13,
        bowel_dose_boost=0.0,
        bowel_name="Bowel_Bag",
        patient_id="SYNTH-RECT-SC",
        plan_label="SC2500",
        expectation=(
            "Every constraint passes: bowel bag V18.5Gy under 350 cc, V22Gy under "
            "200 cc, PTV V95% above 95 %. The bowel ROI is spelled 'Bowel_Bag'."
        ),
        bowel_checks=SHORT,
    ),
)

#: Geometry shared by the sample plans (kept small: the folder must stay < 15 MB).
SAMPLE_GEOMETRY: dict[str, object] = {
    "dose_grid_mm": 2.5,
    "contour_spacing_mm": 3.0,
    "body_size": "small",
}


def reference_figures(rtstruct: str, rtdose: str, rx_gy: float) -> dict[str, dict[str, float]]:
    """Bowel-bag and PTV figures from dicompyler-core (an independent DVH code).

    Returns ``{roi_name: {"volume_cc", "V<d>Gy", ..., "V95%"}}`` for the PTV and
    the bowel bag; raises ``ImportError`` when dicompyler-core is missing.
    """
    import pydicom
    import pydicom.dicomio

    # dicompyler-core 0.5.6 still calls pydicom.dicomio.read_file (gone in pydicom 3).
    pydicom.dicomio.read_file = pydicom.dcmread  # type: ignore[attr-defined]
    from dicompylercore import dicomparser, dvhcalc

    structures = dicomparser.DicomParser(rtstruct).GetStructures()
    out: dict[str, dict[str, float]] = {}
    for number, s in structures.items():
        name = str(s["name"])
        if s.get("type") not in ("PTV", "ORGAN") or not (
            name.upper().startswith("PTV") or "BOWEL" in name.upper().replace("_", "")
        ):
            continue
        dvh = dvhcalc.get_dvh(rtstruct, rtdose, number)
        fig = {"volume_cc": float(dvh.volume)}
        for d in (18.5, 22.0, 30.0, 45.0):
            fig[f"V{d:g}Gy"] = float(dvh.volume_constraint(d, "Gy").value)
        fig["V95%"] = 100.0 * float(dvh.volume_constraint(0.95 * rx_gy, "Gy").value) / dvh.volume
        fig["mean_gy"] = float(dvh.mean)
        fig["max_gy"] = float(dvh.max)
        out[name] = fig
    return out


def _readme(spec: SamplePlan, files: dict[str, str], figures: dict[str, dict[str, float]]) -> str:
    rx, fx = (50.4, 28) if spec.kind == "long" else (25.0, 5)
    lines = [
        f"# {spec.title}",
        "",
        "A synthetic rectal-cancer VMAT plan made by `scripts/make_sample_plans.py` "
        "(`dosecheck.synthetic.pelvis`, seed "
        f"{spec.seed}, bowel_dose_boost {spec.bowel_dose_boost:g}). It is not patient data.",
        "",
        f"- Prescription {rx:g} Gy in {fx} fractions (RTPLAN), PLAN-sum dose in Gy "
        "(16-bit RTDOSE, 2.5 mm grid), 13 ROIs contoured every 3 mm.",
        f"- Files: `{Path(files['rtstruct']).name}`, `{Path(files['rtplan']).name}`, "
        f"`{Path(files['rtdose']).name}` (shared frame of reference; the dose references "
        "the plan, the plan references the structure set).",
        "- Also contains a CTV, GTV, bladder, femoral heads, rectum, and planning "
        "structures including rings with holes (`zRing_PTV`, `zRing_Outer`).",
        "",
        "## Expected result",
        "",
        spec.expectation,
        "",
    ]
    if figures:
        lines += [
            "Reference figures from dicompyler-core 0.5.6 (`dvhcalc.get_dvh`, default "
            "settings); another DVH calculator can differ by a few cc:",
            "",
            "| ROI | volume (cc) | figure | value | limit |",
            "| --- | ---: | --- | ---: | --- |",
        ]
        for name, fig in figures.items():
            if name.upper().startswith("PTV"):
                lines.append(
                    f"| {name} | {fig['volume_cc']:.1f} | V95% | {fig['V95%']:.1f} % | ≥ 95 % |"
                )
            else:
                for c in spec.bowel_checks:
                    lines.append(
                        f"| {name} | {fig['volume_cc']:.1f} | V{c.dose_gy:g}Gy | "
                        f"{fig[f'V{c.dose_gy:g}Gy']:.1f} cc | < {c.limit_cc:g} cc |"
                    )
        lines.append("")
    return "\n".join(lines)


def _index_readme() -> str:
    rows = "\n".join(f"| `{p.folder}/` | {p.title} |" for p in PLANS)
    return (
        "# Sample plans\n\n"
        "Synthetic rectal-cancer VMAT plans (DICOM RTSTRUCT, RTPLAN and RTDOSE) for "
        "trying dosecheck. Regenerate them with `python scripts/make_sample_plans.py`; "
        "each folder's README.md says what result to expect.\n\n"
        "| folder | plan |\n| --- | --- |\n" + rows + "\n"
    )


def _folder_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main(argv: list[str] | None = None) -> int:
    """Regenerate the sample plans; returns a process exit code."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=REPO / "sample_plans", help="output folder")
    ap.add_argument("--no-verify", action="store_true", help="skip the dicompyler-core cross-check")
    args = ap.parse_args(argv)

    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    ok = True
    for spec in PLANS:
        folder = out / spec.folder
        if folder.exists():
            shutil.rmtree(folder)
        files = write_plan(
            folder,
            kind=spec.kind,
            seed=spec.seed,
            bowel_dose_boost=spec.bowel_dose_boost,
            bowel_name=spec.bowel_name,
            patient_id=spec.patient_id,
            patient_name=f"Synthetic^{spec.folder}",
            plan_label=spec.plan_label,
            dose_bits=16,
            **SAMPLE_GEOMETRY,  # type: ignore[arg-type]
            **spec.extra_kwargs,  # type: ignore[arg-type]
        )
        rx = 50.4 if spec.kind == "long" else 25.0
        figures: dict[str, dict[str, float]] = {}
        if not args.no_verify:
            try:
                figures = reference_figures(str(files["rtstruct"]), str(files["rtdose"]), rx)
            except ImportError as exc:
                print(f"dicompyler-core not available ({exc}); not verifying", file=sys.stderr)
        (folder / "README.md").write_text(_readme(spec, files, figures), encoding="utf-8")
        print(f"{spec.folder}: {_folder_size(folder) / 1e6:.2f} MB")
        for name, fig in figures.items():
            if name.upper().startswith("PTV"):
                passed = fig["V95%"] >= 95.0
                print(f"  {name:12s} {fig['volume_cc']:7.1f} cc  V95% = {fig['V95%']:6.2f} %")
                ok &= passed
            else:
                parts = []
                for c in spec.bowel_checks:
                    v = fig[f"V{c.dose_gy:g}Gy"]
                    parts.append(f"V{c.dose_gy:g}Gy = {v:6.1f} cc (< {c.limit_cc:g})")
                print(f"  {name:12s} {fig['volume_cc']:7.1f} cc  " + "  ".join(parts))
                failing = any(fig[f"V{c.dose_gy:g}Gy"] >= c.limit_cc for c in spec.bowel_checks)
                ok &= failing == ("fail" in spec.folder)
    (out / "README.md").write_text(_index_readme(), encoding="utf-8")
    print(f"total {_folder_size(out) / 1e6:.2f} MB in {out}")
    if not ok:
        print("a plan does not give the intended result", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
