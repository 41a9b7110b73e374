"""A DICOM client (pynetdicom's SCU) for the ``dosecheck listen`` tests and benchmark.

Every helper opens a real association over TCP to the listener (loopback) and sends
files as they are on disk.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

#: The storage SOP classes the tests send (RT objects and a CT image).
SEND_CLASSES = (
    "1.2.840.10008.5.1.4.1.1.481.3",  # RT Structure Set
    "1.2.840.10008.5.1.4.1.1.481.2",  # RT Dose
    "1.2.840.10008.5.1.4.1.1.481.5",  # RT Plan
    "1.2.840.10008.5.1.4.1.1.2",  # CT Image
)


def client(ae_title: str = "TPS") -> Any:
    """An application entity proposing the storage classes and Verification."""
    from pynetdicom import AE
    from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]

    ae = AE(ae_title=ae_title)
    ae.add_requested_context(Verification)
    for uid in SEND_CLASSES:  # one context per transfer syntax: files are sent as they are
        for syntax in ("1.2.840.10008.1.2.1", "1.2.840.10008.1.2"):
            ae.add_requested_context(uid, syntax)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 30
    return ae


def associate(address: tuple[str, int], ae_title: str = "TPS", called: str = "DOSECHECK") -> Any:
    """An association (check ``is_established``)."""
    return client(ae_title).associate(address[0], address[1], ae_title=called)


def send_files(
    address: tuple[str, int],
    files: Sequence[Path],
    *,
    ae_title: str = "TPS",
    abort_after: int | None = None,
) -> list[int]:
    """Send ``files`` in one association; return the C-STORE statuses in order.

    ``abort_after`` sends that many files then aborts the association (an A-ABORT, as
    a sender that crashes or loses the network).
    """
    assoc = associate(address, ae_title)
    assert assoc.is_established, "association not established"
    statuses: list[int] = []
    try:
        for i, path in enumerate(files):
            if abort_after is not None and i == abort_after:
                assoc.abort()
                return statuses
            status = assoc.send_c_store(str(path))
            statuses.append(int(status.Status) if "Status" in status else -1)
    finally:
        if assoc.is_established:
            assoc.release()
    return statuses


def send_raw_file(address: tuple[str, int], path: Path, *, ae_title: str = "TPS") -> int:
    """Send ``path``'s bytes as they are (not decoded first: a malformed dataset reaches
    the listener as the sender made it); return the C-STORE status."""
    from pynetdicom import _config

    before = _config.STORE_SEND_CHUNKED_DATASET
    _config.STORE_SEND_CHUNKED_DATASET = True
    try:
        assoc = associate(address, ae_title)
        assert assoc.is_established
        try:
            status = assoc.send_c_store(path)
            return int(status.Status) if "Status" in status else -1
        finally:
            assoc.release()
    finally:
        _config.STORE_SEND_CHUNKED_DATASET = before


def echo(address: tuple[str, int], ae_title: str = "TPS") -> int | None:
    """C-ECHO; the status, or ``None`` when the association was not established."""
    assoc = associate(address, ae_title)
    if not assoc.is_established:
        return None
    try:
        status = assoc.send_c_echo()
        return int(status.Status)
    finally:
        assoc.release()
