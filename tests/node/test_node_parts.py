"""The parts of the node that need no network: the store and the plan assembly."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from dosecheck.node.assembly import PlanAssembler
from dosecheck.node.store import ObjectStore, safe_name
from tests.helpers.batch_plans import write_box_plan


def test_safe_names_keep_ids_apart() -> None:
    assert safe_name("P001", "x") == "P001"
    assert safe_name("1.2.840.5", "x") == "1.2.840.5"
    assert safe_name("", "no-patient-id") == "no-patient-id"
    a, b = safe_name("A/B", "x"), safe_name("A B", "x")
    assert a.startswith("A_B-") and b.startswith("A_B-") and a != b
    assert safe_name("../..", "x").startswith("_-")  # never a path out of the store


def test_the_store_writes_atomically_and_a_resend_replaces(tmp_path: Path) -> None:
    store = ObjectStore(tmp_path / "s")
    first = store.write(b"one", patient_id="P1", study_uid="1.2", sop_instance_uid="1.2.3")
    assert first.path == tmp_path / "s" / "P1" / "1.2" / "1.2.3.dcm"
    assert first.path.read_bytes() == b"one" and not first.replaced
    # The same object again, now under another study: one file, the newer one.
    second = store.write(b"two!", patient_id="P1", study_uid="1.9", sop_instance_uid="1.2.3")
    assert second.replaced and second.size == 4
    assert sorted(p.read_bytes() for p in (tmp_path / "s").rglob("*.dcm")) == [b"two!"]
    assert ObjectStore(tmp_path / "s").known() == {"1.2.3": second.path}


def test_a_failed_write_leaves_nothing_under_a_final_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    store = ObjectStore(tmp_path / "s")

    def no_space(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", no_space)
    with pytest.raises(OSError, match="No space"):
        store.write(b"x", patient_id="P1", study_uid="1.2", sop_instance_uid="1.2.3")
    assert [p.name for p in (tmp_path / "s").rglob("*") if p.is_file()] == []
    assert store.known() == {}


def _take_in(assembler: PlanAssembler, files: list[Path], when: float, assoc: int) -> None:
    for f in files:
        assembler.add(f, when=when, association=assoc)


def test_a_plan_is_ready_when_complete_and_quiet_or_its_association_ended(
    tmp_path: Path,
) -> None:
    plan = write_box_plan(tmp_path / "a")
    assert plan.rtplan is not None
    assembler = PlanAssembler(tmp_path)
    _take_in(assembler, [plan.rtstruct, plan.rtdose[0]], when=100.0, assoc=1)
    assert assembler.ready(1000.0, 10.0, []) == []  # no RTPLAN yet: waits, whatever the time
    assembler.add(plan.rtplan, when=101.0, association=1)
    assert assembler.ready(105.0, 10.0, [1]) == []  # 4 s quiet of 10, association open
    [ready] = assembler.ready(111.5, 10.0, [1])  # 10.5 s quiet
    assert ready.last_arrival == 101.0
    assert {role for role, _ in ready.plan.files} == {"rtstruct", "rtdose", "rtplan"}
    assert assembler.ready(200.0, 10.0, []) == []  # this version once
    # The dose again (same SOP Instance UID): a new version, ready again; at once,
    # because its association (2) has ended.
    assembler.add(plan.rtdose[0], when=300.0, association=2)
    [again] = assembler.ready(300.5, 10.0, [])
    assert again.fingerprint != ready.fingerprint
    assert assembler.ready(300.5, 10.0, [], flush=True) == []


def test_objects_from_the_store_at_start_are_ready_at_once(tmp_path: Path) -> None:
    plan = write_box_plan(tmp_path / "a")
    assert plan.rtplan is not None
    assembler = PlanAssembler(tmp_path)
    for f in (plan.rtstruct, plan.rtplan, *plan.rtdose):
        assembler.add(f, when=-math.inf, association=None)
    [ready] = assembler.ready(0.0, 3600.0, [])
    assert ready.last_arrival == -math.inf
    assert assembler.waiting() == 0


def test_listen_without_pynetdicom_names_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dc: object
) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "pynetdicom", None)  # import fails as if absent
    code, _, err = dc("listen", "--store", tmp_path / "store", "--db", tmp_path / "r.sqlite")  # type: ignore[operator]
    assert code == 2
    assert "pynetdicom is not installed" in err and "pip install 'dosecheck[net]'" in err
    assert not (tmp_path / "store").exists()  # nothing done before the check
