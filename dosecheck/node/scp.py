"""The DICOM service of ``dosecheck listen``: C-ECHO and C-STORE on pynetdicom.

This is the only module that imports pynetdicom (the optional extra
``dosecheck[net]``). It accepts associations, writes every object to the
:class:`~dosecheck.node.store.ObjectStore` before answering, and tells the
:class:`~dosecheck.node.listener.Listener` what arrived and when an association ended.

Accepted storage SOP classes
    RT Structure Set, RT Dose, RT Plan, RT Ion Plan (checked), and CT, Enhanced CT,
    MR, Enhanced MR images (stored with the plan's study, not checked), in the
    uncompressed transfer syntaxes (and deflated, and for images the compressed ones
    too: they are stored as sent and never decoded). Verification (C-ECHO).
Statuses of C-STORE
    ``0x0000`` once the object is on disk (written, flushed, renamed);
    ``0xA700`` (out of resources) when it cannot be written (disk full, permissions),
    logged; ``0xA900`` (data set does not match SOP class) when the dataset's SOP
    Class or Instance UID is not the one the request announced; ``0xC210`` (cannot
    understand) when the dataset cannot be decoded or lacks the attributes that
    place it (SOP Instance UID). A bad object never ends the association or the
    service.
Calling AE titles
    With ``allow_aet``, an association from any other calling AE title is rejected
    (reason: calling AE title not recognised) before anything is sent.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from dosecheck._optional import require
from dosecheck.node.store import ObjectStore, StoredObject

__all__ = [
    "IMAGE_CLASSES",
    "RT_CLASSES",
    "AssociationRecord",
    "StorageSCP",
    "import_pynetdicom",
]

log = logging.getLogger("dosecheck.node")

#: Storage SOP classes of the RT objects that are checked.
RT_CLASSES = {
    "1.2.840.10008.5.1.4.1.1.481.3": "RT Structure Set",
    "1.2.840.10008.5.1.4.1.1.481.2": "RT Dose",
    "1.2.840.10008.5.1.4.1.1.481.5": "RT Plan",
    "1.2.840.10008.5.1.4.1.1.481.8": "RT Ion Plan",
}
#: Image storage SOP classes that are stored and not checked.
IMAGE_CLASSES = {
    "1.2.840.10008.5.1.4.1.1.2": "CT Image",
    "1.2.840.10008.5.1.4.1.1.2.1": "Enhanced CT Image",
    "1.2.840.10008.5.1.4.1.1.4": "MR Image",
    "1.2.840.10008.5.1.4.1.1.4.1": "Enhanced MR Image",
}
VERIFICATION = "1.2.840.10008.1.1"

SUCCESS = 0x0000
OUT_OF_RESOURCES = 0xA700
DOES_NOT_MATCH = 0xA900
CANNOT_UNDERSTAND = 0xC210


def import_pynetdicom() -> Any:
    """``import pynetdicom``, or a :class:`~dosecheck._optional.MissingExtraError`."""
    return require("pynetdicom", extra="net", feature="dosecheck listen")


@dataclass
class AssociationRecord:
    """What one association did (for its log line and the listener).

    Attributes
    ----------
    number
        Counted from 1 since the service started.
    calling_aet, address
        Who called.
    stored
        SOP Instance UIDs stored, in order.
    images
        Of those, image objects (not checked).
    failed
        ``(SOP Instance UID, status, why)`` of the objects refused.
    outcome
        ``"open"``, ``"released"``, ``"aborted"`` or ``"rejected"``.
    started, ended
        ``time.monotonic()``.
    """

    number: int
    calling_aet: str = ""
    address: str = ""
    stored: list[str] = field(default_factory=list)
    images: int = 0
    failed: list[tuple[str, int, str]] = field(default_factory=list)
    outcome: str = "open"
    started: float = field(default_factory=time.monotonic)
    ended: float | None = None
    bytes_stored: int = 0

    def line(self) -> str:
        """The association's log line."""
        seconds = (self.ended or time.monotonic()) - self.started
        text = (
            f"association {self.number} from {self.calling_aet or '?'} ({self.address}) "
            f"{self.outcome}: {len(self.stored)} object(s) stored"
        )
        if self.images:
            text += f" ({self.images} image(s), not checked)"
        if self.failed:
            text += f", {len(self.failed)} refused"
        return text + f", {self.bytes_stored / 1e6:.1f} MB in {seconds:.2f} s"


#: ``on_stored(stored, header_info, association)`` and ``on_ended(association)``.
OnStored = Callable[[StoredObject, AssociationRecord], None]
OnEnded = Callable[[AssociationRecord], None]


def _text(ds: Any, keyword: str) -> str:
    value = ds.get(keyword, "")
    return str(value).strip() if value is not None else ""


class StorageSCP:
    """The DICOM service (one pynetdicom application entity).

    Parameters
    ----------
    store
        Where objects go.
    ae_title
        This node's AE title.
    host, port
        Where to listen (``port`` 0: a free port, see :attr:`address`).
    allow_aet
        Calling AE titles allowed (empty: any).
    on_stored, on_ended
        Called (in the association's thread) after each object is stored and when
        an association ends (released, aborted, or rejected).
    """

    def __init__(
        self,
        store: ObjectStore,
        *,
        ae_title: str,
        host: str,
        port: int,
        allow_aet: Sequence[str] = (),
        on_stored: OnStored | None = None,
        on_ended: OnEnded | None = None,
    ) -> None:
        self.store = store
        self.ae_title = ae_title
        self.host = host
        self.port = port
        self.allow_aet = list(allow_aet)
        self.on_stored = on_stored
        self.on_ended = on_ended
        self._server: Any = None
        self._ae: Any = None
        self._lock = threading.Lock()
        self._count = 0
        self._records: dict[int, AssociationRecord] = {}
        self.address: tuple[str, int] = (host, port)

    # --- start and stop -----------------------------------------------------------
    def start(self) -> tuple[str, int]:
        """Bind and start serving (in background threads); return ``(host, port)``.

        Raises
        ------
        InputError
            pynetdicom is missing, the AE title is invalid, or the address cannot be
            bound (in use, not an address of this machine, a privileged port).
        """
        from dosecheck.errors import InputError

        pynetdicom = import_pynetdicom()
        from pynetdicom import evt
        from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]

        plain = [
            "1.2.840.10008.1.2",  # Implicit VR Little Endian
            "1.2.840.10008.1.2.1",  # Explicit VR Little Endian
            "1.2.840.10008.1.2.1.99",  # Deflated Explicit VR Little Endian
            "1.2.840.10008.1.2.2",  # Explicit VR Big Endian
        ]
        try:
            ae = pynetdicom.AE(ae_title=self.ae_title)
        except ValueError as exc:
            raise InputError(
                f"--ae-title {self.ae_title!r} is not a valid AE title: {exc}"
            ) from exc
        ae.maximum_associations = 32
        ae.network_timeout = 60
        ae.dimse_timeout = 60
        ae.acse_timeout = 30
        ae.add_supported_context(Verification)
        for uid in RT_CLASSES:
            ae.add_supported_context(uid, plain)
        for uid in IMAGE_CLASSES:
            ae.add_supported_context(uid, pynetdicom.ALL_TRANSFER_SYNTAXES)
        if self.allow_aet:
            ae.require_calling_aet = self.allow_aet
        handlers = [
            (evt.EVT_C_ECHO, self._on_echo),
            (evt.EVT_C_STORE, self._on_store),
            (evt.EVT_ACCEPTED, self._on_accepted),
            (evt.EVT_REJECTED, self._on_rejected),
            (evt.EVT_RELEASED, self._on_released),
            (evt.EVT_ABORTED, self._on_aborted),
            (evt.EVT_CONN_CLOSE, self._on_closed),
        ]
        try:
            self._server = ae.start_server(
                (self.host, self.port), block=False, evt_handlers=handlers
            )
        except OSError as exc:
            raise InputError(
                f"cannot listen on {self.host}:{self.port} ({exc.strerror or exc}); choose "
                "another --port, or a --host that is an address of this machine"
            ) from exc
        self._ae = ae
        self.address = tuple(self._server.server_address[:2])  # type: ignore[assignment]
        return self.address

    def stop_accepting(self) -> None:
        """Close the listening socket: no new association (the open ones go on)."""
        if self._server is not None:
            self._server.shutdown()
            self._server = None

    def open_associations(self) -> int:
        """Associations in progress."""
        with self._lock:
            return sum(1 for r in self._records.values() if r.outcome == "open")

    def abort_all(self) -> None:
        """Abort the associations still open (the end of a shutdown grace period)."""
        if self._ae is not None:
            for assoc in list(self._ae.active_associations):
                assoc.abort()

    # --- association events --------------------------------------------------------
    def _record(self, event: Any) -> AssociationRecord:
        key = id(event.assoc)
        with self._lock:
            rec = self._records.get(key)
            if rec is None:
                self._count += 1
                rec = AssociationRecord(self._count)
                req = event.assoc.requestor
                rec.calling_aet = str(getattr(req, "ae_title", "") or "").strip()
                rec.address = f"{req.address}:{req.port}"
                self._records[key] = rec
            return rec

    def _on_accepted(self, event: Any) -> None:
        self._record(event)

    def _on_rejected(self, event: Any) -> None:
        self._record(event)
        self._finish(id(event.assoc), "rejected")

    def _on_released(self, event: Any) -> None:
        self._finish(id(event.assoc), "released")

    def _on_aborted(self, event: Any) -> None:
        self._finish(id(event.assoc), "aborted")

    def _on_closed(self, event: Any) -> None:
        # An abort is signalled after the connection closed: wait a moment for it.
        key = id(event.assoc)
        with self._lock:
            if key not in self._records:
                return
        timer = threading.Timer(1.0, self._finish, (key, "closed"))
        timer.daemon = True
        timer.start()

    def _finish(self, key: int, outcome: str) -> None:
        """Log the association's line and tell the listener, once."""
        with self._lock:
            rec = self._records.pop(key, None)
        if rec is None:
            return
        rec.outcome = outcome
        rec.ended = time.monotonic()
        if outcome == "rejected":
            log.warning(
                "association %d from %s (%s) rejected: calling AE title not allowed",
                rec.number,
                rec.calling_aet or "?",
                rec.address,
            )
        else:
            log.info("%s", rec.line())
        if self.on_ended is not None:
            self.on_ended(rec)

    # --- services ------------------------------------------------------------------
    def _on_echo(self, event: Any) -> int:
        return SUCCESS

    def _on_store(self, event: Any) -> int:
        rec = self._record(event)
        request_uid = str(event.request.AffectedSOPInstanceUID or "").strip()
        request_class = str(event.request.AffectedSOPClassUID or "").strip()
        try:
            ds = event.dataset
            sop_uid = _text(ds, "SOPInstanceUID")
            sop_class = _text(ds, "SOPClassUID")
            patient_id = _text(ds, "PatientID")
            study_uid = _text(ds, "StudyInstanceUID")
        except Exception as exc:  # any decoding error of a malformed dataset
            return self._refuse(rec, request_uid, CANNOT_UNDERSTAND, f"cannot decode: {exc}")
        if not sop_uid:
            return self._refuse(rec, request_uid, CANNOT_UNDERSTAND, "no SOP Instance UID")
        if sop_uid != request_uid or (sop_class and sop_class != request_class):
            return self._refuse(
                rec,
                request_uid,
                DOES_NOT_MATCH,
                f"the dataset is {sop_class} {sop_uid}, the request announced "
                f"{request_class} {request_uid}",
            )
        try:
            data = event.encoded_dataset()
            stored = self.store.write(
                data, patient_id=patient_id, study_uid=study_uid, sop_instance_uid=sop_uid
            )
        except OSError as exc:
            log.error(
                "association %d: cannot store %s (%s): answered out of resources",
                rec.number,
                sop_uid,
                exc,
            )
            rec.failed.append((sop_uid, OUT_OF_RESOURCES, str(exc)))
            return OUT_OF_RESOURCES
        rec.stored.append(sop_uid)
        rec.bytes_stored += stored.size
        if request_class in IMAGE_CLASSES:
            rec.images += 1
        if self.on_stored is not None:
            self.on_stored(stored, rec)
        return SUCCESS

    def _refuse(self, rec: AssociationRecord, uid: str, status: int, why: str) -> int:
        log.warning(
            "association %d: refused %s (status 0x%04X): %s", rec.number, uid or "?", status, why
        )
        rec.failed.append((uid, status, why))
        return status
