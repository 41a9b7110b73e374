"""The archive summary: one self-contained HTML file over a batch results database.

:func:`render_archive_report` (``dosecheck results DB --report FILE.html``) renders
an :class:`ArchiveData`, which :func:`dosecheck.batch.archive_data.load_archive_data`
reads from the database: the latest evaluation of every plan (the ``latest_plans``
view, through :meth:`~dosecheck.batch.database.ResultsDB.latest`, so ``--since`` and
``--failed-only`` select the same plans as the other ``results`` formats). It writes,
with the same rules as the plan report (:mod:`dosecheck.report.html`: inline CSS and
SVG, no script, a Content-Security-Policy that forbids any fetch, an A4 print
stylesheet):

* the identity of the archive: database path, the runs with their dates, the number
  of plans that pass, fail or could not be evaluated (``#totals``, ``data-pass`` …);
* the pass rate of every constraint (``table#pass-rates``, one ``tr.constraint`` per
  constraint with ``data-set``, ``data-structure``, ``data-metric``, ``data-limit``,
  ``data-n-evaluated``, ``data-n-pass``, ``data-n-fail``, ``data-n-not-evaluated`` and
  ``data-pass-rate``, a JSON number or ``null``). A constraint is identified by its
  set's name, structure, metric as written, comparator, limit as written and
  priority; "evaluated" means judged pass or fail; the pass rate is pass / evaluated;
* per constraint (``section.constraint-card``) the distribution of its values over
  the plans (``figure.histogram``, a matplotlib histogram as inline SVG: passing
  values and failing ones stacked in their colours, the limit as a vertical line
  ``g.dvh-limit``, the failing side shaded, a tick per failing plan along the axis
  whose hover text names it) and the plans with the smallest margin
  (``table.worst``);
* the plans in error with their messages (``table#errors``) and the DICOM files that
  could not be read during discovery;
* the numbers of the pass-rate table as JSON (``script#archive-json``, data only).

The package, by job: :mod:`.data` (what is shown), :mod:`.stats` (the numbers per
constraint), :mod:`.histogram` (the SVG per constraint, matplotlib), :mod:`.page`
(the HTML document).
"""

from dosecheck.report.archive.data import ArchiveData
from dosecheck.report.archive.histogram import histogram_svg
from dosecheck.report.archive.page import render_archive_report
from dosecheck.report.archive.stats import WORST_PLANS, ConstraintStats, constraint_stats

__all__ = [
    "WORST_PLANS",
    "ArchiveData",
    "ConstraintStats",
    "constraint_stats",
    "histogram_svg",
    "render_archive_report",
]
