"""A DICOM node: receive plans over the network (C-STORE), store them, check each one.

* :mod:`dosecheck.node.store` — the received objects on disk, each written
  atomically before its success status (no network code).
* :mod:`dosecheck.node.scp` — the DICOM service (pynetdicom, the only user of it):
  associations, C-ECHO, C-STORE and its status codes.
* :mod:`dosecheck.node.assembly` — which stored objects form a plan (the discovery of
  :mod:`dosecheck.dicom.discovery`) and when a plan is ready to check.
* :mod:`dosecheck.node.options` — :class:`ListenOptions` (what ``listen`` is asked),
  :class:`RecordedPlan` (what it recorded for a plan).
* :mod:`dosecheck.node.listener` — :class:`Listener`: the service, the assembly, the
  worker processes and the results database, together (``dosecheck listen``).

pynetdicom is the optional extra ``dosecheck[net]``; only :mod:`~dosecheck.node.scp`
imports it.
"""

from __future__ import annotations

__all__: list[str] = []
