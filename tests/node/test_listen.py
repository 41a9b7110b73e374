"""``dosecheck listen`` over real associations on loopback (pynetdicom's client).

The plans are the box plans of :mod:`tests.helpers.batch_plans` (a pass and a fail
profile against the shipped long-course rectum set); their verdicts recorded by the
listener must be those of ``check_plan`` on the files sent. No test sleeps: each
waits with ``Listener.serve_until`` for what it expects (with a timeout).
"""

from __future__ import annotations

import concurrent.futures as cf
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("pynetdicom")

from tests.helpers.batch_plans import WrittenPlan, write_box_plan, write_ct_slice
from tests.helpers.dicom_node import associate, echo, send_files, send_raw_file

WAIT = 120.0  # seconds: generous for a loaded CI machine; the waits end on the event


def files_of(plan: WrittenPlan) -> list[Path]:
    assert plan.rtplan is not None
    return [plan.rtstruct, plan.rtplan, *plan.rtdose]


def verdict_of_check(folder: Path) -> str:
    """The verdict ``dosecheck check`` gives on the files (automatic set)."""
    from dosecheck.api import load_plan
    from dosecheck.batch.protocol_map import select_automatic
    from dosecheck.checking.check import check_plan

    loaded = load_plan(folder)
    info = loaded.plan_info
    assert info is not None
    cset = select_automatic(info.prescription_gy, info.fractions)
    return str(check_plan(loaded, cset).verdict)


def evaluations(db: Path) -> list[dict[str, Any]]:
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute("SELECT * FROM plans ORDER BY id")]


def sop_uid(path: Path) -> str:
    import pydicom

    return str(pydicom.dcmread(path, stop_before_pixels=True).SOPInstanceUID)


def assert_stored(store: Path, sent: list[Path]) -> None:
    """Every object sent is in the store, once, with the dataset that was sent."""
    import pydicom

    stored = {p.stem: p for p in store.glob("*/*/*.dcm")}
    for path in sent:
        uid = sop_uid(path)
        assert uid in stored, f"{path.name} ({uid}) not in the store"
        a, b = pydicom.dcmread(path), pydicom.dcmread(stored[uid])
        assert a == b  # every data element equal (the file meta is the node's own)
    assert not list(store.rglob(".incoming-*"))


def test_a_plan_sent_is_recorded_once_with_the_verdict_of_check(
    tmp_path: Path, start_node: Any, dc: Any
) -> None:
    passing = write_box_plan(tmp_path / "a", patient_id="P1", outcome="pass")
    failing = write_box_plan(tmp_path / "b", patient_id="P2", outcome="fail")
    write_ct_slice(tmp_path / "ct" / "CT1.dcm", patient_id="P1", study_uid=passing.study_uid)
    expected = {"P1": verdict_of_check(passing.folder), "P2": verdict_of_check(failing.folder)}
    assert expected == {"P1": "pass", "P2": "fail"}
    reports = tmp_path / "reports"
    reports.mkdir()
    node = start_node(reports=reports)
    sent = [*files_of(passing), tmp_path / "ct" / "CT1.dcm"]
    assert send_files(node.address, sent) == [0, 0, 0, 0]
    assert send_files(node.address, files_of(failing)) == [0, 0, 0]
    assert node.serve_until(lambda n: len(n.recorded) == 2 and n.idle_for() > 0.2, timeout=WAIT)

    rows = evaluations(tmp_path / "results.sqlite")
    assert sorted((r["patient_id"], r["status"]) for r in rows) == sorted(expected.items())
    assert {r.patient_id: r.status for r in node.recorded} == expected
    # The association ended, so the plan was not held for the 60 s quiet time.
    assert all(r.seconds_after_last_object < 30.0 for r in node.recorded)
    assert_stored(tmp_path / "store", sent + files_of(failing))
    # The image is stored beside the plan and ignored; one HTML report per plan.
    assert len(list(reports.rglob("*.html"))) == 2
    assert "dosecheck" in next(reports.rglob("*.html")).read_text(encoding="utf-8")[:400]

    code, out, _ = dc("results", tmp_path / "results.sqlite", "--format", "json")
    assert code == 0
    got = {e["plan"]["patient_id"]: e["status"] for e in json.loads(out)["plans"]}
    assert got == expected


def test_echo_and_an_unknown_calling_ae_title_is_rejected(tmp_path: Path, start_node: Any) -> None:
    plan = write_box_plan(tmp_path / "a")
    node = start_node(allow_aet=("TPS",))
    assert echo(node.address, "TPS") == 0
    assoc = associate(node.address, "INTRUDER")
    assert not assoc.is_established
    assert assoc.is_rejected
    assert send_files(node.address, files_of(plan), ae_title="TPS") == [0, 0, 0]
    assert node.serve_until(lambda n: len(n.recorded) == 1, timeout=WAIT)
    outcomes = sorted(a.outcome for a in node.associations)
    assert outcomes == ["rejected", "released", "released"]
    assert [a.calling_aet for a in node.associations if a.outcome == "rejected"] == ["INTRUDER"]


def test_three_concurrent_associations_each_plan_recorded_once(
    tmp_path: Path, start_node: Any
) -> None:
    plans = [
        write_box_plan(tmp_path / f"p{i}", patient_id=f"C{i}", outcome="pass" if i % 2 else "fail")
        for i in range(6)
    ]
    node = start_node(jobs=2)
    batches = [plans[0:2], plans[2:4], plans[4:6]]
    with cf.ThreadPoolExecutor(3) as pool:
        statuses = list(
            pool.map(
                lambda b: send_files(node.address, [f for p in b for f in files_of(p)]), batches
            )
        )
    assert statuses == [[0] * 6] * 3
    assert node.serve_until(lambda n: len(n.recorded) == 6 and n.idle_for() > 0.3, timeout=WAIT)
    rows = evaluations(tmp_path / "results.sqlite")
    assert len(rows) == 6
    assert len({r["location_key"] for r in rows}) == 6
    assert {r["patient_id"]: r["status"] for r in rows} == {
        f"C{i}": "pass" if i % 2 else "fail" for i in range(6)
    }
    assert len({a.number for a in node.associations}) == 3
    assert_stored(tmp_path / "store", [f for p in plans for f in files_of(p)])


def test_an_aborted_association_is_completed_by_a_later_one(
    tmp_path: Path, start_node: Any
) -> None:
    plan = write_box_plan(tmp_path / "a", outcome="fail")
    assert plan.rtplan is not None
    node = start_node()
    # Structure set and dose, then the sender dies before the RTPLAN.
    first = [plan.rtstruct, plan.rtdose[0], plan.rtplan]
    assert send_files(node.address, first, abort_after=2) == [0, 0]
    assert node.serve_until(
        lambda n: [a.outcome for a in n.associations] == ["aborted"] and n.idle_for() > 0.3,
        timeout=WAIT,
    )
    assert node.recorded == []  # incomplete: waits for its RTPLAN
    assert len(list((tmp_path / "store").glob("*/*/*.dcm"))) == 2  # kept what arrived
    assert send_files(node.address, [plan.rtplan]) == [0]
    assert node.serve_until(lambda n: len(n.recorded) == 1, timeout=WAIT)
    assert node.recorded[0].status == verdict_of_check(plan.folder) == "fail"
    assert_stored(tmp_path / "store", files_of(plan))


def _with_meta_uid(src: Path, dst: Path, uid: str) -> Path:
    """A copy of ``src`` whose File Meta announces another SOP Instance UID."""
    import pydicom

    ds = pydicom.dcmread(src)
    ds.file_meta.MediaStorageSOPInstanceUID = uid
    ds.save_as(dst)
    return dst


def _garbage(src: Path, dst: Path) -> Path:
    """``src``'s File Meta followed by bytes that are not a dataset."""
    import pydicom
    from pydicom.filewriter import write_file_meta_info

    meta = pydicom.dcmread(src, stop_before_pixels=True).file_meta
    with dst.open("wb") as fh:
        fh.write(b"\0" * 128 + b"DICM")
        write_file_meta_info(fh, meta, enforce_standard=True)
        fh.write(b"not a DICOM dataset at all " * 20)
    return dst


@pytest.mark.filterwarnings("ignore::UserWarning")  # pydicom on the garbage, in the node
def test_malformed_objects_get_a_failure_status_and_the_node_goes_on(
    tmp_path: Path, start_node: Any
) -> None:
    plan = write_box_plan(tmp_path / "a")
    node = start_node()
    garbage = _garbage(plan.rtdose[0], tmp_path / "garbage.dcm")
    assert send_raw_file(node.address, garbage) == 0xC210  # cannot understand
    mismatch = _with_meta_uid(plan.rtdose[0], tmp_path / "mismatch.dcm", "1.2.3.4.5")
    assert send_raw_file(node.address, mismatch) == 0xA900  # does not match
    assert list((tmp_path / "store").rglob("*.dcm")) == []  # neither stored
    assert send_files(node.address, files_of(plan)) == [0, 0, 0]
    assert node.serve_until(lambda n: len(n.recorded) == 1, timeout=WAIT)
    assert node.recorded[0].status == "pass"
    refused = [f for a in node.associations for f in a.failed]
    assert sorted(status for _, status, _ in refused) == [0xA900, 0xC210]


def test_a_write_failure_answers_out_of_resources(tmp_path: Path, start_node: Any) -> None:
    plan = write_box_plan(tmp_path / "a")
    node = start_node()

    def full(data: bytes, **identity: str) -> Any:
        raise OSError(28, "No space left on device")

    node.store.write = full  # the store the service writes through
    assert send_files(node.address, files_of(plan)) == [0xA700] * 3
    assert node.serve_until(lambda n: len(n.associations) == 1 and n.idle_for() > 0.2, timeout=WAIT)
    assert list((tmp_path / "store").rglob("*.dcm")) == []
    assert [len(a.failed) for a in node.associations] == [3]
    assert node.recorded == []


def test_a_resent_object_replaces_the_stored_one_and_rechecks_its_plan(
    tmp_path: Path, start_node: Any
) -> None:
    import pydicom

    plan = write_box_plan(tmp_path / "a", outcome="pass")
    node = start_node()
    assert send_files(node.address, files_of(plan)) == [0, 0, 0]
    assert node.serve_until(lambda n: len(n.recorded) == 1, timeout=WAIT)
    assert node.recorded[0].status == "pass"
    # The same dose (same SOP Instance UID) sent again, scaled down by 15 %: the PTV
    # coverage (V95%) fails.
    hot = pydicom.dcmread(plan.rtdose[0])
    hot.DoseGridScaling = float(hot.DoseGridScaling) * 0.85
    changed = tmp_path / "changed"
    changed.mkdir()
    for f in (plan.rtstruct, plan.rtplan):
        assert f is not None
        (changed / f.name).write_bytes(f.read_bytes())
    hot.save_as(changed / plan.rtdose[0].name)
    assert send_files(node.address, [changed / plan.rtdose[0].name]) == [0]
    assert node.serve_until(lambda n: len(n.recorded) == 2, timeout=WAIT)
    assert node.recorded[1].status == verdict_of_check(changed) == "fail"
    stored = list((tmp_path / "store").rglob(f"{hot.SOPInstanceUID}.dcm"))
    assert len(stored) == 1
    assert float(pydicom.dcmread(stored[0]).DoseGridScaling) == pytest.approx(
        float(hot.DoseGridScaling)
    )
    # The identical object once more: checked plan unchanged, nothing new recorded.
    assert send_files(node.address, [changed / plan.rtdose[0].name]) == [0]
    assert node.serve_until(lambda n: len(n.associations) == 3 and n.idle_for() > 0.3, timeout=WAIT)
    assert len(node.recorded) == 2
    assert len(evaluations(tmp_path / "results.sqlite")) == 2


def test_what_is_stored_but_not_recorded_is_checked_at_start(
    tmp_path: Path, start_node: Any
) -> None:
    from dosecheck.node.store import ObjectStore

    plan = write_box_plan(tmp_path / "a", outcome="fail")
    # Objects stored by a node that was killed before it recorded the plan (and the
    # temporary file of a write that never finished).
    store = ObjectStore(tmp_path / "store")
    for f in files_of(plan):
        target = store.path_for(plan.patient_id, plan.study_uid, sop_uid(f))
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(f.read_bytes())
    (target.parent / ".incoming-x.tmp").write_bytes(b"half")
    first = start_node()
    assert first.serve_until(lambda n: len(n.recorded) == 1, timeout=WAIT)
    assert first.recorded[0].status == "fail"
    assert first.recorded[0].seconds_after_last_object is None  # found in the store
    assert not list((tmp_path / "store").rglob(".incoming-*"))
    first.stop()
    # Started again: recorded already, so not checked again.
    second = start_node()
    assert second.serve_until(lambda n: n.idle_for() > 0.3, timeout=WAIT)
    assert second.recorded == []
    assert len(evaluations(tmp_path / "results.sqlite")) == 1
