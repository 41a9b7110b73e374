"""``dosecheck batch --compare-tps``: the TPS's DVH evaluated per constraint, recorded
in the database, part of the skip key, and shown by ``dosecheck results``.

The plan is the box plan of ``tests/test_batch_support.py`` (its few lines copied
here): a 680 cc bowel bag (160 x 50 mm on 17 planes 5 mm apart, half-slice end caps:
85 mm long) in a dose linear in x, 28 Gy at x = 0 rising 0.25 Gy/mm to 48 Gy at the
bag's edge x = 80 mm. So V30Gy = 680 cc x (80 - 8) / 160 = 306 cc and V45Gy = 680 cc x
(80 - 68) / 160 = 51 cc: both pass the shipped rectum long-course set (< 600 cc,
< 300 cc). The RTDOSE then gains a DVHSequence for the bag (ROI 1): one CUMULATIVE item
in GY and CM3, 1 Gy bins, 680 cc up to 29 Gy, 400 cc from 30 Gy, 350 cc from 45 Gy,
nothing from 50 Gy. On it V30Gy = 400 cc (pass, same verdict) and V45Gy = 350 cc
(fail: the verdict flips), so exactly one constraint differs.
"""

from __future__ import annotations

import csv
import io
import json
import re
import sqlite3
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from dosecheck.model import DoseGrid, PlanInfo, Structure, StructureSet

X = np.arange(-100.0, 100.0 + 1e-9, 5.0)
Y = np.arange(-60.0, 60.0 + 1e-9, 5.0)
Z = np.arange(-50.0, 50.0 + 1e-9, 5.0)
PLANES = np.arange(-40.0, 40.0 + 1e-9, 5.0)
BOWEL = [(-100.0, 10.0), (0.0, 28.0), (80.0, 48.0), (100.0, 50.0)]
PTV = [(-100.0, 40.0), (-20.0, 47.7), (20.0, 51.7), (100.0, 52.0)]

#: The TPS's cumulative DVH of the bag (cc at the lower edge of each 1 Gy bin).
TPS_CC = np.array([680.0] * 30 + [400.0] * 15 + [350.0] * 5 + [0.0] * 5)


def _uid(*parts: object) -> str:
    from pydicom.uid import generate_uid

    return str(generate_uid(entropy_srcs=[str(p) for p in parts]))


def _box(number: int, name: str, box: tuple[float, float, float, float]) -> Structure:
    x0, x1, y0, y1 = box
    square = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=np.float64)
    return Structure.from_contours(number, name, [(float(z), square) for z in PLANES])


def write_plan(folder: Path, patient_id: str) -> Path:
    """Write the box plan (RTSTRUCT, RTPLAN 50.4 Gy in 28, RTDOSE); return the RTDOSE."""
    from dosecheck.dicom.writer import write_rtdose, write_rtplan, write_rtstruct

    folder.mkdir(parents=True)
    frame, study = _uid("FOR", patient_id), _uid("STUDY", patient_id)
    ss = StructureSet(
        structures=(
            _box(1, "BowelBag", (-80.0, 80.0, -50.0, 0.0)),
            _box(2, "PTV", (-20.0, 20.0, 15.0, 35.0)),
        ),
        frame_of_reference_uid=frame,
        sop_instance_uid=_uid("RS", patient_id),
        label="BOXES",
        patient_id=patient_id,
        patient_name="Batch^Tps",
    )
    struct_uid = write_rtstruct(folder / "RS.dcm", ss, study_uid=study)
    plan_uid = _uid("RP", patient_id)
    info = PlanInfo(
        label="LC",
        sop_instance_uid=plan_uid,
        prescription_gy=50.4,
        fractions=28,
        referenced_structure_set_uid=struct_uid,
        frame_of_reference_uid=frame,
        patient_id=patient_id,
    )
    write_rtplan(folder / "RP.dcm", info, study_uid=study, patient_name="Batch^Tps")
    fb = np.interp(X, *zip(*BOWEL, strict=True))
    fp = np.interp(X, *zip(*PTV, strict=True))
    plane = np.where((Y <= 0.0)[:, None], fb[None, :], fp[None, :])
    dose = np.ascontiguousarray(np.broadcast_to(plane, (Z.size, Y.size, X.size)))
    rd = folder / "RD.dcm"
    write_rtdose(
        rd,
        DoseGrid(x=X, y=Y, z=Z, dose_gy=dose.astype(np.float32), frame_of_reference_uid=frame),
        bits=32,
        summation_type="PLAN",
        referenced_plan_uid=plan_uid,
        frame_of_reference_uid=frame,
        patient_id=patient_id,
        patient_name="Batch^Tps",
        study_uid=study,
        sop_instance_uid=_uid("RD", patient_id),
    )
    return rd


def add_tps_dvh(rtdose: Path, roi_number: int = 1, cumulative_cc: np.ndarray = TPS_CC) -> None:
    """Add a DVHSequence with one CUMULATIVE item (GY, CM3, 1 Gy bins) for ``roi_number``."""
    import pydicom
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence

    ds = pydicom.dcmread(rtdose)
    ref = Dataset()
    ref.ReferencedROINumber = roi_number
    ref.DVHROIContributionType = "INCLUDED"
    item = Dataset()
    item.DVHReferencedROISequence = Sequence([ref])
    item.DVHType = "CUMULATIVE"
    item.DoseUnits = "GY"
    item.DoseType = "PHYSICAL"
    item.DVHDoseScaling = 1.0
    item.DVHVolumeUnits = "CM3"
    item.DVHNumberOfBins = int(cumulative_cc.size)
    item.DVHData = [v for cc in cumulative_cc for v in (1.0, float(cc))]
    ds.DVHSequence = Sequence([item])
    ds.save_as(rtdose)


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two plans: T1 with the TPS DVH of its bag, T2 without any."""
    root = tmp_path_factory.mktemp("tps") / "archive"
    add_tps_dvh(write_plan(root / "T1", "T1"))
    write_plan(root / "T2", "T2")
    return root


def _cli(args: list[Any], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    from dosecheck.cli import main

    capsys.readouterr()
    code = main([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out, out.err


def _results(args: list[Any], capsys: pytest.CaptureFixture[str]) -> str:
    code, out, err = _cli(args, capsys)
    assert code == 0, err
    return out


def _batch(archive: Path, db: Path, capsys: pytest.CaptureFixture[str], *extra: Any) -> str:
    code, _, err = _cli(
        ["batch", archive, "--db", db, "-j", "1", "-c", "rectum-long-course", *extra], capsys
    )
    assert code == 0, err
    return err


def test_check_plan_closed_forms(archive: Path) -> None:
    """What the batch records rests on these numbers."""
    from dosecheck.checking.check import check_plan
    from dosecheck.dicom.load import load_plan

    report = check_plan(load_plan(archive / "T1"), "rectum-long-course", compare_tps=True)
    got = {r["metric"]: r for r in report.result_records() if r["structure"] == "Bag_Bowel"}
    assert got["V30Gy[cc]"]["value"] == pytest.approx(306.0, abs=0.5)
    assert got["V45Gy[cc]"]["value"] == pytest.approx(51.0, abs=0.5)
    assert got["V30Gy[cc]"]["tps_value"] == pytest.approx(400.0, abs=1e-6)
    assert got["V45Gy[cc]"]["tps_value"] == pytest.approx(350.0, abs=1e-6)
    assert [got[m]["tps_verdict_differs"] for m in ("V30Gy[cc]", "V45Gy[cc]")] == [False, True]


def test_batch_records_the_tps_comparison_and_keys_on_it(
    archive: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "r.sqlite"
    err = _batch(archive, db, capsys, "--compare-tps")
    assert "2 checked" in err and "0 already recorded" in err
    assert "TPS DVH verdict differs in 1 of 2 plans" in err
    with sqlite3.connect(db) as conn:
        plans = conn.execute(
            "SELECT patient_id, check_options, n_tps_differs, n_borderline FROM plans "
            "ORDER BY patient_id"
        ).fetchall()
        assert plans == [
            ("T1", '{"compare_tps":true}', 1, 1),
            ("T2", '{"compare_tps":true}', 0, 0),
        ]
        rows = conn.execute(
            "SELECT c.metric, c.value, c.tps_value, c.tps_status, c.tps_verdict_differs, "
            "c.borderline, c.value_low, c.value_high FROM constraint_results c "
            "JOIN plans p ON p.id = c.plan_id WHERE p.patient_id = 'T1' ORDER BY c.position"
        ).fetchall()
        by_metric = {r[0]: r for r in rows}
        assert by_metric["V30Gy[cc]"][2] == pytest.approx(400.0, abs=1e-6)
        assert by_metric["V30Gy[cc]"][3:5] == ("pass", 0)
        assert by_metric["V45Gy[cc]"][1] == pytest.approx(51.0, abs=0.5)
        assert by_metric["V45Gy[cc]"][2] == pytest.approx(350.0, abs=1e-6)
        assert by_metric["V45Gy[cc]"][3:5] == ("fail", 1)
        # Borderline: V45Gy is 51 cc (half-slice), 48 cc (none: 51 × 80/85) and 350 cc on
        # the TPS's DVH, so its limit of 300 cc is passed by one and failed by the other;
        # V30Gy's 600 is passed by all. The range columns are dosecheck's: 48–51 cc.
        v45 = by_metric["V45Gy[cc]"]
        assert v45[5] == 1 and v45[6] == pytest.approx(48.0, abs=0.5)
        assert v45[7] == pytest.approx(51.0, abs=0.5)
        assert by_metric["V30Gy[cc]"][5] == 0
        # The PTV has no TPS DVH: no value, not a difference.
        ptv = [r for r in rows if r[0] in ("V95%[%]", "D2%[%]")]
        assert len(ptv) == 2 and all(r[2] is None and r[3] is None and r[4] == 0 for r in ptv)
        t2 = conn.execute(
            "SELECT COUNT(*), COUNT(tps_value), SUM(tps_verdict_differs) FROM constraint_results c "
            "JOIN plans p ON p.id = c.plan_id WHERE p.patient_id = 'T2'"
        ).fetchone()
        assert t2 == (4, 0, 0)

    # The same options again: nothing to do.
    err = _batch(archive, db, capsys, "--compare-tps")
    assert "0 checked" in err and "2 already recorded" in err
    # Without --compare-tps the recorded evaluations are not up to date: recomputed.
    err = _batch(archive, db, capsys)
    assert "2 checked" in err and "0 already recorded" in err
    err = _batch(archive, db, capsys)
    assert "0 checked" in err and "2 already recorded" in err
    with sqlite3.connect(db) as conn:
        latest = conn.execute(
            "SELECT patient_id, check_options, n_tps_differs FROM latest_plans ORDER BY patient_id"
        ).fetchall()
        assert latest == [("T1", "{}", None), ("T2", "{}", None)]
        n = conn.execute(
            "SELECT COUNT(*), COUNT(tps_verdict_differs) FROM constraint_results c "
            "JOIN latest_plans p ON p.id = c.plan_id"
        ).fetchone()
        assert n == (8, 0)
    # And back: the --compare-tps evaluation recorded first is found again (skipped).
    err = _batch(archive, db, capsys, "--compare-tps")
    assert "0 checked" in err and "2 already recorded" in err


@pytest.fixture(scope="module")
def compared_db(archive: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from dosecheck.cli import main

    db = tmp_path_factory.mktemp("tpsdb") / "r.sqlite"
    argv = ["batch", str(archive), "--db", str(db), "-j", "1", "-c", "rectum-long-course"]
    assert main([*argv, "--compare-tps"]) == 0
    return db


def test_results_show_the_tps_differences(
    compared_db: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # JSON: the entries carry the options and the count; the top level the totals.
    out = _results(["results", compared_db, "--format", "json"], capsys)
    doc = json.loads(out)
    entries = {e["plan"]["patient_id"]: e for e in doc["plans"]}
    assert entries["T1"]["check_options"] == {"compare_tps": True}
    assert entries["T1"]["n_tps_differs"] == 1 and entries["T2"]["n_tps_differs"] == 0
    assert entries["T1"]["n_borderline"] == 1 and entries["T2"]["n_borderline"] == 0
    assert doc["tps_counts"] == {"compared": 2, "with_tps_dvh": 1, "differ": 1}
    assert doc["borderline_counts"] == {"assessed": 2, "plans": 1, "constraints": 1}
    v45 = next(r for r in entries["T1"]["results"] if r["metric"] == "V45Gy[cc]")
    assert v45["tps_value"] == pytest.approx(350.0) and v45["tps_verdict_differs"] is True

    # CSV: the plan count, and the TPS columns of check --format csv --compare-tps.
    out = _results(["results", compared_db, "--format", "csv"], capsys)
    rows = list(csv.DictReader(io.StringIO(out)))
    header = list(rows[0])
    assert header[header.index("n_tps_differs") :] == [
        "n_tps_differs",
        "n_borderline",
        "tps_value",
        "tps_status",
        "tps_verdict_differs",
        "tps_note",
        "borderline",
        "value_low",
        "value_high",
        "borderline_reason",
    ]
    v45 = next(r for r in rows if r["patient_id"] == "T1" and r["metric"] == "V45Gy[cc]")
    assert v45["n_tps_differs"] == "1" and float(v45["tps_value"]) == pytest.approx(350.0)
    assert v45["tps_status"] == "fail" and v45["tps_verdict_differs"] == "true"
    t2 = [r for r in rows if r["patient_id"] == "T2"]
    assert {r["n_tps_differs"] for r in t2} == {"0"} and {r["tps_value"] for r in t2} == {""}
    assert v45["borderline"] == "true" and v45["n_borderline"] == "1"

    # JUnit: a suite property per plan, test-case properties for the TPS value.
    out_xml = tmp_path / "j.xml"
    _results(["results", compared_db, "--format", "junit", "-o", out_xml], capsys)
    root = ET.parse(out_xml).getroot()
    suites = {s.get("name", "").split(" ")[0]: s for s in root.findall("testsuite")}

    def props(el: ET.Element) -> dict[str, str]:
        return {p.get("name", ""): p.get("value", "") for p in el.findall("properties/property")}

    assert props(suites["T1"])["tps_verdict_differs"] == "1"
    assert props(suites["T2"])["tps_verdict_differs"] == "0"
    assert props(suites["T1"])["borderline"] == "1"
    case = next(c for c in suites["T1"].iter("testcase") if c.get("name", "").startswith("V45Gy"))
    p = props(case)
    assert float(p["tps_value"]) == pytest.approx(350.0) and p["tps_status"] == "fail"
    assert p["tps_verdict_differs"] == "true"

    # Table: a TPS column and a line with the totals.
    monkeypatch.setenv("COLUMNS", "250")
    out = _results(["results", compared_db], capsys)
    assert "TPS DVH" in out and "1 of 2 DIFFER" in out and "no TPS DVH" in out
    assert "TPS DVH verdict differs in 1 of 2 plans compared (1 with a TPS DVH)" in out


def test_results_without_tps_are_as_before(
    archive: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A database whose plans were recorded without --compare-tps and before the
    borderline ranges (as a version-3 database upgraded): no new key, column, property or
    line in any format."""
    import sqlite3

    db = tmp_path / "plain.sqlite"
    _batch(archive, db, capsys)
    with sqlite3.connect(db) as conn:  # what an upgraded version-3 database holds
        conn.execute("UPDATE plans SET n_borderline = NULL")
        conn.execute(
            "UPDATE constraint_results SET borderline = NULL, value_low = NULL, "
            "value_high = NULL, record = json_remove(record, '$.borderline', "
            "'$.value_range', '$.values_by_source', '$.borderline_reason')"
        )
    out = _results(["results", db, "--format", "json"], capsys)
    doc = json.loads(out)
    assert "tps_counts" not in doc and "borderline_counts" not in doc
    for e in doc["plans"]:
        assert not {"check_options", "n_tps_differs", "n_borderline"} & set(e)
    out = _results(["results", db, "--format", "csv"], capsys)
    header = out.splitlines()[0].split(",")
    assert header[-1] == "match_detail" and "n_tps_differs" not in header
    out = _results(["results", db, "--format", "junit"], capsys)
    assert "tps_" not in out and "borderline" not in out
    monkeypatch.setenv("COLUMNS", "250")
    out = _results(["results", db], capsys)
    assert "TPS" not in out and "orderline" not in out


def test_archive_summary_counts_the_tps_differences(compared_db: Path, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    from dosecheck.batch.archive_data import load_archive_data
    from dosecheck.report.archive import render_archive_report

    html = render_archive_report(load_archive_data(compared_db))
    line = re.search(r'<p class="headline" id="tps-count"[^>]*>.*?</p>', html)
    assert line is not None
    assert 'data-differ="1" data-compared="2"' in line[0]
    assert "<b>1</b> of <b>2</b> plans compared (1 with a TPS DVH)" in line[0]
    assert 'id="borderline-count"' in html  # V45Gy of T1: 48–350 cc around 300 cc
    doc = json.loads(
        re.search(r'<script type="application/json" id="archive-json">(.*?)</script>', html, re.S)[
            1
        ]
    )
    assert doc["tps_counts"] == {"compared": 2, "with_tps_dvh": 1, "differ": 1}
    assert doc["borderline_counts"] == {"assessed": 2, "plans": 1, "constraints": 1}


# --------------------------------------------------------------------------- borderline
#: A borderline assessment in the shape the check records it (issue #9, section 3).
BORDERLINE = {
    "borderline": True,
    "value_range": [296.25, 303.5],
    "borderline_reason": "V45Gy = 298.6 cc, limit 300 cc; 296.25–303.5 cc across end caps",
}


def test_borderline_results_are_recorded_and_shown(archive: Path, tmp_path: Path) -> None:
    """Records with given borderline keys (written here into a T1 outcome, over the
    check's own) fill the columns, the plan's count and every
    format."""
    from dosecheck.batch.database import ResultsDB
    from dosecheck.batch.tasks import PlanTask, evaluate_plan
    from dosecheck.checking.sets import load_shipped_set
    from dosecheck.dicom.discovery import discover
    from dosecheck.output.batch_formats import (
        entries_csv,
        entries_json,
        entries_junit,
        render_entries,
    )

    plan = next(p for p in discover([archive]).plans if p.patient_id == "T1")
    outcome = evaluate_plan(PlanTask(0, plan, load_shipped_set("rectum-long-course")))
    records = outcome["results"]
    records[1].update(BORDERLINE)  # V45Gy[cc]
    for r in (records[0], records[2], records[3]):
        r.update(borderline=False, value_range=[1.0, 2.0], borderline_reason="")
    db = tmp_path / "b.sqlite"
    with ResultsDB(db) as rdb:
        run = rdb.start_run(archives=[str(archive)], constraints="x", executor="x", strict=False)
        rdb.record(run, plan, [("rtstruct", "a", "0")], "content", outcome)
        row = rdb.conn.execute("SELECT n_tps_differs, n_borderline, check_options FROM plans")
        assert tuple(row.fetchone()) == (None, 1, "{}")
        got = rdb.conn.execute(
            "SELECT metric, borderline, value_low, value_high FROM constraint_results "
            "ORDER BY position"
        ).fetchall()
        assert [tuple(r) for r in got][:2] == [
            ("V30Gy[cc]", 0, 1.0, 2.0),
            ("V45Gy[cc]", 1, 296.25, 303.5),
        ]
        entries = rdb.latest()
    assert entries[0]["n_borderline"] == 1 and "n_tps_differs" not in entries[0]

    doc = json.loads(entries_json(entries))
    assert doc["borderline_counts"] == {"assessed": 1, "plans": 1, "constraints": 1}
    assert "tps_counts" not in doc

    rows = list(csv.DictReader(io.StringIO(entries_csv(entries))))
    assert list(rows[0])[-5:] == [
        "n_borderline",
        "borderline",
        "value_low",
        "value_high",
        "borderline_reason",
    ]
    v45 = next(r for r in rows if r["metric"] == "V45Gy[cc]")
    assert (v45["n_borderline"], v45["borderline"]) == ("1", "true")
    assert (float(v45["value_low"]), float(v45["value_high"])) == (296.25, 303.5)
    assert v45["borderline_reason"] == BORDERLINE["borderline_reason"]

    root = ET.fromstring(entries_junit(entries))
    (suite,) = root.findall("testsuite")
    assert {p.get("name"): p.get("value") for p in suite.findall("properties/property")}[
        "borderline"
    ] == "1"
    case = next(c for c in suite.iter("testcase") if c.get("name", "").startswith("V45Gy"))
    props = {p.get("name"): p.get("value") for p in case.findall("properties/property")}
    assert props == {
        "borderline": "true",
        "value_range": "296.25 303.5",
        "borderline_reason": BORDERLINE["borderline_reason"],
    }

    table = render_entries(entries, "table", {"title": "t"})
    assert "Borderline" in table and "1 BORDERLINE" in table and "TPS DVH" not in table
    assert "borderline: 1 constraint in 1 of 1 plans assessed" in table
