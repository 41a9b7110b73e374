"""The TPS's DVHs of an RTDOSE (DVHSequence) through the DICOM path and ``--compare-tps``.

A small plan is written (RTSTRUCT, RTPLAN, RTDOSE with a dose linear in x), dosecheck's
own DVHs of it are computed, and DVHSequence items are written into its RTDOSE from
them, so the TPS's figures are known: an item of PTV with Core EXCLUDED, Core scaled by
DVHDoseScaling with a wrong DVHNumberOfBins and an odd DVHData, Core again
(DIFFERENTIAL), an ROI the structure set lacks and an item of two ROIs together.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from dosecheck.cli import main
from dosecheck.core.structures import compute_dvhs
from dosecheck.dicom.load import load_plan
from dosecheck.dicom.tps_dvh import plan_tps_dvhs, read_tps_dvhs, reconcile_with_tps
from dosecheck.model import DoseGrid, PlanInfo, Structure, StructureSet

X = np.arange(-50.0, 50.0 + 1e-9, 2.5)
Z = np.arange(-30.0, 30.0 + 1e-9, 2.5)
PLANES = np.arange(-20.0, 20.0 + 1e-9, 5.0)
RX_GY, FRACTIONS = 10.0, 5
BIN = 0.1  # Gy, the TPS items' bin width (of the course dose)


def _uid(*parts: object) -> str:
    from pydicom.uid import generate_uid

    return str(generate_uid(entropy_srcs=[str(p) for p in parts]))


def _box(number: int, name: str, half: float, planes: np.ndarray, cx: float = 0.0) -> Structure:
    sq = np.array(
        [[cx - half, -half], [cx + half, -half], [cx + half, half], [cx - half, half]],
        dtype=np.float64,
    )
    return Structure.from_contours(number, name, [(float(z), sq) for z in planes])


@dataclass(frozen=True)
class Written:
    folder: Path
    rtdose: Path


def write_plan(folder: Path, *, per_fraction: bool = False) -> Written:
    """RTSTRUCT (PTV, Core inside it, Other), RTPLAN 10 Gy in 5, RTDOSE 10 + 0.02 x Gy."""
    from dosecheck.dicom.writer import write_rtdose, write_rtplan, write_rtstruct

    folder.mkdir(parents=True, exist_ok=True)
    frame, study = _uid("FOR", folder), _uid("ST", folder)
    ss = StructureSet(
        structures=(
            _box(1, "PTV", 20.0, PLANES),
            _box(2, "Core", 5.0, PLANES[3:6]),
            _box(3, "Other", 5.0, PLANES[2:7], cx=35.0),
        ),
        frame_of_reference_uid=frame,
        sop_instance_uid=_uid("RS", folder),
        label="BOXES",
        patient_id="TPS1",
        patient_name="Tps^Test",
    )
    struct_uid = write_rtstruct(folder / "RS.dcm", ss, study_uid=study)
    plan_uid = _uid("RP", folder)
    info = PlanInfo(
        label="TPS",
        sop_instance_uid=plan_uid,
        prescription_gy=RX_GY,
        fractions=FRACTIONS,
        referenced_structure_set_uid=struct_uid,
        frame_of_reference_uid=frame,
        patient_id="TPS1",
    )
    write_rtplan(folder / "RP.dcm", info, study_uid=study, patient_name="Tps^Test")
    dose = np.broadcast_to(10.0 + 0.02 * X, (Z.size, X.size, X.size)).astype(np.float32)
    if per_fraction:
        dose = (dose / FRACTIONS).astype(np.float32)
    rd = folder / "RD.dcm"
    write_rtdose(
        rd,
        DoseGrid(x=X, y=X, z=Z, dose_gy=np.ascontiguousarray(dose), frame_of_reference_uid=frame),
        bits=32,
        summation_type="FRACTION" if per_fraction else "PLAN",
        referenced_plan_uid=plan_uid,
        frame_of_reference_uid=frame,
        patient_id="TPS1",
        patient_name="Tps^Test",
        study_uid=study,
        sop_instance_uid=_uid("RD", folder),
    )
    return Written(folder=folder, rtdose=rd)


def _cumulative(d, per_fraction: bool) -> tuple[np.ndarray, np.ndarray]:
    """(widths, volumes) of a cumulative item from a dosecheck DVH, in the file's dose."""
    edges = np.arange(0.0, d.max_gy + 2 * BIN, BIN)
    vol = np.interp(edges, d.dose_edges_gy, d.cumulative_cc, right=0.0)
    vol[-1] = 0.0
    widths = np.full(edges.size, BIN / FRACTIONS if per_fraction else BIN)
    return widths, vol


def _item(rois, dvh_type, widths, values, *, scaling=None, bins=None, extra=()):
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence

    it = Dataset()
    refs = []
    for number, how in rois:
        r = Dataset()
        r.ReferencedROINumber = number
        r.DVHROIContributionType = how
        refs.append(r)
    it.DVHReferencedROISequence = Sequence(refs)
    it.DVHType = dvh_type
    it.DoseUnits = "GY"
    it.DoseType = "PHYSICAL"
    it.DVHVolumeUnits = "CM3"
    if scaling is not None:
        it.DVHDoseScaling = scaling
    it.DVHNumberOfBins = bins if bins is not None else len(widths)
    data = np.column_stack([widths, values]).ravel().tolist() + list(extra)
    it.DVHData = [f"{v:.10g}" for v in data]
    return it


def add_dvh_sequence(written: Written, *, per_fraction: bool = False) -> dict[str, object]:
    """Write the DVHSequence from dosecheck's own DVHs; returns those DVHs by name."""
    import pydicom
    from pydicom.sequence import Sequence

    plan = load_plan(written.folder)
    ours = {i.structure.name: i.dvh for i in compute_dvhs(plan, None, jobs=1)}
    from dosecheck.core.reconcile import subtract_dvhs

    ptv_wo_core = subtract_dvhs(ours["PTV"], [ours["Core"]])
    ds = pydicom.dcmread(written.rtdose)
    ds.DVHNormalizationDoseValue = RX_GY
    items = []
    w, v = _cumulative(ptv_wo_core, per_fraction)
    items.append(_item([(1, "INCLUDED"), (2, "EXCLUDED")], "CUMULATIVE", w, v))
    w, v = _cumulative(ours["Core"], per_fraction)
    # Widths written × 100 with DVHDoseScaling 0.01; DVHNumberOfBins wrong; odd length.
    items.append(_item([(2, "")], "CUMULATIVE", w * 100, v, scaling=0.01, bins=999, extra=(7.0,)))
    items.append(_item([(99, "INCLUDED")], "CUMULATIVE", w, v))
    diff = -np.diff(np.concatenate([v, [0.0]]))
    items.append(_item([(2, "INCLUDED")], "DIFFERENTIAL", w, diff))
    items.append(_item([(1, "INCLUDED"), (2, "INCLUDED")], "CUMULATIVE", w, v))
    ds.DVHSequence = Sequence(items)
    ds.save_as(written.rtdose)
    return {**ours, "PTV-Core": ptv_wo_core}


@pytest.fixture(scope="module")
def plan_dir(tmp_path_factory: pytest.TempPathFactory) -> tuple[Written, dict[str, object]]:
    w = write_plan(tmp_path_factory.mktemp("tps") / "plan")
    return w, add_dvh_sequence(w)


# ----------------------------------------------------------------------- reading


def test_read_tps_dvhs_fields(plan_dir) -> None:
    w, ours = plan_dir
    items = read_tps_dvhs(w.rtdose)
    assert [t.item for t in items] == [1, 2, 3, 4, 5]
    ex, core, missing, diff, both = items
    assert ex.rois == ((1, "INCLUDED"), (2, "EXCLUDED"))
    assert ex.included == (1,) and ex.excluded == (2,)
    assert core.rois == ((2, "INCLUDED"),)  # an empty contribution type reads INCLUDED
    assert missing.included == (99,)
    assert both.included == (1, 2)
    assert [t.dvh_type for t in items] == ["CUMULATIVE"] * 3 + ["DIFFERENTIAL", "CUMULATIVE"]
    assert all(t.dose_units == "GY" and t.volume_units == "CM3" for t in items)
    assert all(t.normalization_dose == RX_GY and t.source == str(w.rtdose) for t in items)
    assert core.dose_scaling == 0.01 and ex.dose_scaling == 1.0
    assert core.declared_bins == 999 and ex.declared_bins == ex.widths.size
    assert core.odd_data_length and not ex.odd_data_length
    np.testing.assert_allclose(core.widths, 10.0)
    assert core.values[0] == pytest.approx(ours["Core"].volume_cc, rel=1e-9)
    assert ex.values[0] == pytest.approx(ours["PTV-Core"].volume_cc, rel=1e-9)
    assert diff.values.sum() == pytest.approx(ours["Core"].volume_cc, rel=1e-9)


def test_rtdose_without_dvh_sequence(tmp_path: Path) -> None:
    w = write_plan(tmp_path / "plain")
    assert read_tps_dvhs(w.rtdose) == []
    plan = load_plan(w.folder)
    items, notes = reconcile_with_tps(plan, compute_dvhs(plan, None, jobs=1))
    assert notes == ["the RTDOSE has no DVHSequence: no TPS DVH to compare"]
    assert all(i.tps is not None and i.tps.comparison is None for i in items)


def test_reconcile_with_tps_notes_and_comparisons(plan_dir) -> None:
    w, ours = plan_dir
    plan = load_plan(w.folder)
    items, notes = reconcile_with_tps(plan, compute_dvhs(plan, None, jobs=1))
    assert any("item 3" in n and "ROI 99" in n and "does not have" in n for n in notes)
    assert any("item 5" in n and "1, 2" in n and "several ROIs" in n for n in notes)
    by = {i.structure.name: i.tps for i in items}
    ptv, core, other = by["PTV"], by["Core"], by["Other"]
    assert other is not None and other.tps is None and "no DVH for this ROI" in other.note
    # PTV: the TPS's item is of PTV without Core, compared with PTV − Core.
    assert ptv is not None and ptv.comparison is not None and ptv.tps.item == 1
    assert ptv.ours.volume_cc == pytest.approx(ours["PTV-Core"].volume_cc)
    assert ptv.comparison.agree
    assert any("Core EXCLUDED" in e and "PTV minus it" in e for e in ptv.comparison.explanations)
    assert abs(ptv.comparison.volume_cc) < 1e-6
    # Core: items 2 and 4; 2 is compared, its scaling read, its contradictions found.
    assert core is not None and core.tps.item == 2
    assert "2 DVHs of this ROI (items 2, 4)" in core.note
    assert core.curve.bin_width_gy == pytest.approx(BIN)
    ex = core.comparison.explanations
    assert any("DVHNumberOfBins" in e and "999" in e for e in ex)
    assert any("odd number of values" in e for e in ex)
    assert core.comparison.volume_cc == pytest.approx(0.0, abs=1e-6)
    assert core.comparison.mean_gy == pytest.approx(0.0, abs=BIN / 2)


def test_per_fraction_dose_scales_the_tps_dvh(tmp_path: Path) -> None:
    w = write_plan(tmp_path / "fx", per_fraction=True)
    ours = add_dvh_sequence(w, per_fraction=True)
    plan = load_plan(w.folder)
    dvhs, why = plan_tps_dvhs(plan)
    assert why == "" and {t.course_factor for t in dvhs} == {float(FRACTIONS)}
    items, _ = reconcile_with_tps(plan, compute_dvhs(plan, None, jobs=1))
    core = next(i.tps for i in items if i.structure.name == "Core")
    assert core is not None and core.curve is not None and core.comparison is not None
    # The file's 0.02 Gy bins are 0.1 Gy of the course.
    assert core.curve.bin_width_gy == pytest.approx(BIN)
    assert core.curve.dvh.mean_gy == pytest.approx(ours["Core"].mean_gy, abs=BIN / 2)
    assert core.curve.dvh.mean_gy == pytest.approx(10.0, abs=0.1)
    assert any("5 × the file's values" in f for f in core.curve.findings)
    assert abs(core.comparison.mean_gy) < BIN / 2


# ----------------------------------------------------------------------- CLI


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    capsys.readouterr()
    code = main(list(args))
    return code, capsys.readouterr().out


def test_cli_json(plan_dir, capsys: pytest.CaptureFixture[str]) -> None:
    w, ours = plan_dir
    code, out = run(capsys, "dvh", str(w.folder), "--compare-tps", "--format", "json")
    assert code == 0
    doc = json.loads(out)
    assert any("ROI 99" in n for n in doc["tps_notes"])
    by = {s["name"]: s for s in doc["structures"]}
    for s in by.values():
        assert {"tps", "tps_comparison", "tps_note"} <= s.keys()
    assert by["Other"]["tps"] is None and by["Other"]["tps_comparison"] is None
    assert "no DVH for this ROI" in by["Other"]["tps_note"]
    t, c = by["Core"]["tps"], by["Core"]["tps_comparison"]
    assert t["item"] == 2 and t["rois"] == [{"number": 2, "contribution": "INCLUDED"}]
    assert t["volume_cc"] == pytest.approx(ours["Core"].volume_cc, abs=1e-4)
    assert {"min_gy", "mean_gy", "max_gy"} <= t.keys()
    assert set(t["dvh"]) == {"dose_gy", "volume_cc"}
    assert t["dvh"]["volume_cc"][0] == pytest.approx(t["volume_cc"], abs=1e-4)
    assert set(c["dose_metrics_gy"]) == {"D98%", "D95%", "D50%", "D2%", "D0.03cc"}
    assert {"volume_pct", "mean_gy", "min_gy", "max_gy", "agree", "explanations"} <= c.keys()
    assert c["max_curve_diff_pct"] is not None
    assert any("DVHNumberOfBins" in e for e in c["explanations"])
    assert by["PTV"]["tps_comparison"]["agree"] is True


def test_cli_csv_has_tps_columns(plan_dir, capsys: pytest.CaptureFixture[str]) -> None:
    w, ours = plan_dir
    code, out = run(capsys, "dvh", str(w.folder), "--compare-tps", "--format", "csv")
    assert code == 0
    reader = csv.DictReader(io.StringIO(out))
    for col in ("tps_volume_cc", "tps_mean_gy", "tps_volume_pct_diff", "tps_agree"):
        assert col in (reader.fieldnames or [])
    rows = {r["name"]: r for r in reader}
    core, other = rows["Core"], rows["Other"]
    assert float(core["tps_volume_cc"]) == pytest.approx(ours["Core"].volume_cc, abs=1e-3)
    assert float(core["tps_volume_pct_diff"]) == pytest.approx(0.0, abs=1e-3)
    assert rows["PTV"]["tps_agree"] == "true"
    assert other["tps_volume_cc"] == "" and other["tps_agree"] == ""


def test_cli_table_prints_the_explanations(plan_dir, capsys: pytest.CaptureFixture[str]) -> None:
    w, _ = plan_dir
    code, out = run(capsys, "dvh", str(w.folder), "--compare-tps")
    assert code == 0
    flat = " ".join(out.split())
    assert "planning system's DVHs" in flat
    assert "Core: DVHNumberOfBins (3004,0056) says 999" in flat
    assert "PTV: the TPS's DVH is of PTV with Core EXCLUDED" in flat
    assert "TPS: TPS DVH item 3 is of ROI 99" in flat


def test_cli_without_compare_tps_has_no_tps_keys(plan_dir, capsys) -> None:
    w, _ = plan_dir
    code, out = run(capsys, "dvh", str(w.folder), "--format", "json")
    assert code == 0
    doc = json.loads(out)
    assert "tps_notes" not in doc
    assert all("tps" not in s for s in doc["structures"])
