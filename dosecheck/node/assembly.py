"""Which stored objects form a plan, and when a plan is ready to check.

The objects are grouped with :func:`dosecheck.dicom.discovery.group_plans`, the rules
``dosecheck batch`` and ``check`` use (one discovery: the listener cannot group a
plan differently from ``dosecheck batch STORE``). A plan is *ready* when

* it is complete: its RTPLAN, its RTSTRUCT and its RTDOSE(s) are stored (a dose
  whose structure set or plan has not arrived waits: a later association may bring
  it), and
* nothing of it is still coming: no object of it arrived for ``quiet_s`` seconds, or
  every association that brought its objects has ended.

Each plan is handed out once per version of its objects: an object received again
(same SOP Instance UID) is a new version, so its plans are ready again.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from dosecheck.dicom.discovery import DiscoveredPlan, group_plans
from dosecheck.dicom.files import FileRef
from dosecheck.dicom.headers import RT_MODALITIES, RTHeader, read_rt_header

__all__ = ["Arrival", "PlanAssembler", "ReadyPlan"]


@dataclass(frozen=True)
class Arrival:
    """The latest version of one stored object.

    Attributes
    ----------
    header
        Its RT header (``None`` for images and other objects, which are not grouped).
    version
        Counts every object received (a later arrival has a higher number).
    when
        ``time.monotonic()`` of its arrival (``-inf`` for objects found in the store
        at start).
    association
        The number of the association that brought it (``None`` from the store).
    """

    header: RTHeader | None
    version: int
    when: float
    association: int | None


@dataclass(frozen=True)
class ReadyPlan:
    """A plan to check, with the version of its objects.

    Attributes
    ----------
    plan
        The plan as discovery groups it.
    fingerprint
        ``(SOP Instance UID, version)`` of each of its objects.
    last_arrival
        ``time.monotonic()`` of its latest object (``-inf`` from the store).
    """

    plan: DiscoveredPlan
    fingerprint: tuple[tuple[str, int], ...]
    last_arrival: float


class PlanAssembler:
    """The stored objects and the plans they form (used from one thread).

    Parameters
    ----------
    source
        The store's folder (the ``source`` of every header, as for ``batch STORE``).
    """

    def __init__(self, source: str | Path) -> None:
        self.source = str(source)
        self._objects: dict[str, Arrival] = {}
        self._uid_of_path: dict[str, str] = {}
        self._version = 0
        self._touched: set[str] = set()
        self._handed_out: set[tuple[tuple[str, int], ...]] = set()

    def __len__(self) -> int:
        return len(self._objects)

    def add(self, path: str | Path, *, when: float, association: int | None) -> RTHeader | None:
        """Take a stored object in (read its header from the file).

        Returns
        -------
        RTHeader or None
            Its header, or ``None`` for an object that is not an RT object discovery
            groups (an image).

        Raises
        ------
        UnreadableDicom, OSError
            The stored file's header cannot be read (it is kept out of every plan).
        """
        header = read_rt_header(FileRef(str(path)), self.source)
        if header is not None and header.modality not in RT_MODALITIES:
            header = None
        uid = header.uid if header is not None else Path(path).stem
        self._version += 1
        old = self._objects.get(uid)
        if old is not None and old.header is not None:
            self._uid_of_path.pop(old.header.file.path, None)
            self._touched.add(old.header.patient_id)
        self._objects[uid] = Arrival(header, self._version, when, association)
        if header is not None:
            self._uid_of_path[header.file.path] = uid
            self._touched.add(header.patient_id)
        return header

    def association_ended(self, number: int) -> None:
        """Look again at the patients whose objects association ``number`` brought."""
        for a in self._objects.values():
            if a.association == number and a.header is not None:
                self._touched.add(a.header.patient_id)

    def waiting(self) -> int:
        """Patients whose plans are to be looked at again."""
        return len(self._touched)

    def _headers_of(self, patient_id: str) -> list[RTHeader]:
        # Discovery never joins objects of two different known PatientIDs: the
        # patient's objects and those without a PatientID decide its plans.
        return [
            a.header
            for a in self._objects.values()
            if a.header is not None and (not patient_id or a.header.patient_id in (patient_id, ""))
        ]

    def plans_of(self, patient_id: str) -> list[DiscoveredPlan]:
        """The plans of one patient, as discovery groups the stored objects."""
        return group_plans(self._headers_of(patient_id), Counter())

    def ready(
        self, now: float, quiet_s: float, open_associations: Iterable[int], *, flush: bool = False
    ) -> list[ReadyPlan]:
        """The plans to check now: each version of a plan is returned once.

        Parameters
        ----------
        now
            ``time.monotonic()``.
        quiet_s
            Seconds without an object of the plan after which it is ready.
        open_associations
            Numbers of the associations in progress.
        flush
            Ready as soon as complete (the service is stopping: nothing more comes).
        """
        open_now = set(open_associations)
        out: list[ReadyPlan] = []
        for patient in sorted(self._touched):
            still_waiting = False
            for plan in self.plans_of(patient):
                if plan.rtplan is None or plan.rtstruct is None or not plan.rtdose:
                    continue  # incomplete: a later object looks again
                arrivals = [self._objects[self._uid_of_path[f.path]] for _, f in plan.files]
                fingerprint = tuple(
                    sorted(
                        (self._uid_of_path[f.path], a.version)
                        for (_, f), a in zip(plan.files, arrivals, strict=True)
                    )
                )
                if fingerprint in self._handed_out:
                    continue
                last = max(a.when for a in arrivals)
                senders = {a.association for a in arrivals} - {None}
                if flush or not (senders & open_now) or now - last >= quiet_s:
                    self._handed_out.add(fingerprint)
                    out.append(ReadyPlan(plan, fingerprint, last))
                else:
                    still_waiting = True
            if not still_waiting:
                self._touched.discard(patient)
        return out
