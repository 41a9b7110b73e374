"""Reports for people: self-contained HTML pages and DVH plots.

* :func:`render_report` / :func:`write_report` — one HTML file with the verdict, plan
  identity, constraint table and a DVH plot per checked structure
  (``dosecheck report`` and ``dosecheck check --report``);
* :func:`plot_dvhs_to_file` — cumulative DVHs of several structures as PNG or SVG
  (``dosecheck dvh --plot``);
* :mod:`dosecheck.report.archive` — the summary of a batch results database
  (``dosecheck results DB --report FILE.html``).

matplotlib (``pip install 'dosecheck[plot]'``) is imported only when a plot is drawn.
"""

from dosecheck.report.html import render_report, write_report
from dosecheck.report.plots import plot_dvhs_to_file, plot_format

__all__ = ["plot_dvhs_to_file", "plot_format", "render_report", "write_report"]
