"""Batch QA over plan archives: find every plan, check each, keep the results.

* :mod:`dosecheck.dicom.discovery` (re-exported by :mod:`dosecheck.batch.discovery`)
  walks folders and ``.zip`` archives, reads DICOM headers only, and groups the RT
  files into plans through their references, as ``check`` does for one folder.
* :mod:`dosecheck.batch.protocol_map` chooses a constraint set per plan from rules.
* :mod:`dosecheck.batch.runner` checks the plans in parallel with every plan in
  isolation: one plan's work is :mod:`dosecheck.batch.tasks` (``PlanTask`` in,
  ``PlanOutcome`` out), run by :mod:`dosecheck.batch.executors` (processes on one
  machine, or a dask.distributed cluster).
* :mod:`dosecheck.batch.database` keeps the results in SQLite, one transaction per
  plan, so a run that is killed can be resumed; :mod:`dosecheck.batch.archive_data`
  reads what the archive summary shows.

The command line is ``dosecheck batch`` and ``dosecheck results``
(:mod:`dosecheck.commands.batch`); ``docs/batch.md`` describes the database schema.
"""

from __future__ import annotations

__all__: list[str] = []
