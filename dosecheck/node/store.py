"""The objects a DICOM node received, on disk: one folder per patient and study.

``STORE/<patient>/<study>/<SOPInstanceUID>.dcm``: each object is written to a
temporary file in its final folder, flushed to disk (``fsync``), renamed over its
final name and the folder synced, so that a file with a final name is always whole
and survives a power cut once the sender has been told it was stored. An object sent
again (same SOP Instance UID) replaces the stored one, also when it now names another
patient or study (the older file is removed after the new one is in place).

Nothing here reads DICOM or talks to the network: the caller gives the bytes and the
identity it decoded.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ObjectStore", "StoredObject", "safe_name"]

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")
_TMP_PREFIX = ".incoming-"


def safe_name(text: str, fallback: str) -> str:
    """``text`` as one folder or file name: characters other than letters, digits,
    ``.``, ``_`` and ``-`` become ``_``; when anything was replaced (or ``text`` is
    empty) a short hash of ``text`` is appended, so different IDs stay apart.

    Parameters
    ----------
    text
        A PatientID, a UID.
    fallback
        The name used for an empty ``text`` (``"no-patient-id"``).
    """
    text = text.strip()
    if not text:
        return fallback
    clean = _UNSAFE.sub("_", text)[:64].strip(".") or "_"
    if clean != text:
        clean += "-" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:8]
    return clean


@dataclass(frozen=True)
class StoredObject:
    """One object written to the store.

    Attributes
    ----------
    path
        Where it is (absolute).
    sop_instance_uid
        Its SOP Instance UID.
    replaced
        Whether an object with the same SOP Instance UID was there before.
    size
        Bytes written.
    """

    path: Path
    sop_instance_uid: str
    replaced: bool
    size: int


class ObjectStore:
    """The folder of received objects (thread-safe: associations write in parallel).

    Parameters
    ----------
    root
        The folder (created when missing).
    fsync
        Flush each file and its folder to disk before the rename returns (the default;
        switched off only by benchmarks that measure the network alone).
    """

    def __init__(self, root: str | Path, *, fsync: bool = True) -> None:
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self.fsync = fsync
        self._lock = threading.Lock()
        self._where: dict[str, Path] = {}
        for path in self.root.glob("*/*/*.dcm"):
            self._where[path.stem] = path

    def path_for(self, patient_id: str, study_uid: str, sop_instance_uid: str) -> Path:
        """Where an object with this identity is stored."""
        return (
            self.root
            / safe_name(patient_id, "no-patient-id")
            / safe_name(study_uid, "no-study-uid")
            / f"{safe_name(sop_instance_uid, 'no-sop-instance-uid')}.dcm"
        )

    def known(self) -> dict[str, Path]:
        """Every stored object: path by SOP Instance UID (as file name)."""
        with self._lock:
            return dict(self._where)

    def remove_leftovers(self) -> int:
        """Delete the temporary files of writes that never finished (a crash while
        receiving: their senders were never told they were stored). Returns how many."""
        n = 0
        for tmp in self.root.glob(f"*/*/{_TMP_PREFIX}*"):
            try:
                tmp.unlink()
                n += 1
            except OSError:
                pass
        return n

    def write(
        self, data: bytes, *, patient_id: str, study_uid: str, sop_instance_uid: str
    ) -> StoredObject:
        """Write one object atomically (see the module docstring).

        Raises
        ------
        OSError
            The object could not be written (disk full, permissions): nothing is left
            behind under a final name.
        """
        target = self.path_for(patient_id, study_uid, sop_instance_uid)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=_TMP_PREFIX, suffix=".tmp", dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                if self.fsync:
                    os.fsync(fh.fileno())
            os.replace(tmp, target)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
        if self.fsync:
            _sync_folder(target.parent)
        key = target.stem
        with self._lock:
            before = self._where.get(key)
            self._where[key] = target
        if before is not None and before != target:
            try:
                before.unlink()
            except OSError:
                pass
        return StoredObject(target, sop_instance_uid, before is not None, len(data))


def _sync_folder(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
