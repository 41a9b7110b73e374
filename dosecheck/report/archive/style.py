"""The archive summary's stylesheet (screen and A4 print)."""

from __future__ import annotations

from dosecheck.report._html import A4_PAGE_CSS, css_string
from dosecheck.report.archive.stats import COLORS as _COLORS

__all__ = ["stylesheet"]

_CSS = (
    """
:root {
  --pass: %(pass)s; --fail: %(fail)s; --not-met: %(not_met)s; --not-evaluated: %(ne)s;
  --error: %(error)s; --ink: #1f2328; --muted: #59636e; --rule: #d1d9e0; --head: #f3f5f7;
}
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%%; }
body {
  margin: 0 auto; padding: 24px 28px 40px; max-width: 1180px; color: var(--ink);
  font: 14px/1.45 "Segoe UI", "DejaVu Sans", "Liberation Sans", Arial, Helvetica, sans-serif;
  background: #fff;
}
h1 { font-size: 22px; margin: 0 0 2px; }
h2 { font-size: 17px; margin: 28px 0 10px; padding-bottom: 4px;
     border-bottom: 2px solid var(--rule); }
h3 { font-size: 15px; margin: 0; }
.subtitle { color: var(--muted); margin: 2px 0 0; }
code, .mono { font-family: "DejaVu Sans Mono", "Liberation Mono", Consolas, monospace;
              font-size: 12px; overflow-wrap: anywhere; }
a { color: inherit; }
.report-head { display: flex; gap: 20px; align-items: flex-end; justify-content: space-between;
               border-bottom: 1px solid var(--rule); padding-bottom: 16px; flex-wrap: wrap; }
.report-head .titles { flex: 1 1 420px; min-width: 0; }
.report-head .scope { margin-top: 8px; font-size: 13px; color: var(--muted); }
.report-head .scope b { color: var(--ink); }
.filter { display: inline-block; background: #fff8e5; border: 1px solid #e6c35c;
          border-radius: 4px; padding: 0 6px; color: #6b4b00; font-size: 12px; }
#totals { display: flex; gap: 10px; flex: 0 0 auto; }
.total { min-width: 92px; border: 1px solid var(--rule); border-top: 5px solid var(--muted);
         border-radius: 6px; padding: 6px 12px 8px; text-align: center; }
.total .n { font-size: 28px; font-weight: 800; line-height: 1.1;
            font-variant-numeric: tabular-nums; }
.total .what { font-size: 11px; letter-spacing: .07em; text-transform: uppercase;
               color: var(--muted); }
.total.pass { border-top-color: var(--pass); } .total.pass .n { color: var(--pass); }
.total.fail { border-top-color: var(--fail); } .total.fail .n { color: var(--fail); }
.total.error { border-top-color: var(--error); } .total.error .n { color: var(--error); }
.total.incomplete { border-top-color: #d4a72c; } .total.incomplete .n { color: #9a6700; }
.total.zero .n { color: var(--muted); }
.headline { margin: 12px 0 0; font-size: 13.5px; }
table { border-collapse: collapse; width: 100%%; }
th, td { text-align: left; vertical-align: top; padding: 5px 8px;
         border-bottom: 1px solid var(--rule); }
thead th { background: var(--head); font-size: 11.5px; text-transform: uppercase;
           letter-spacing: .04em; color: var(--muted); border-bottom: 2px solid var(--rule); }
table.kv th { width: 190px; font-weight: 600; color: var(--muted); white-space: nowrap; }
table.kv td { overflow-wrap: anywhere; }
td.num, th.num { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
td.limit { white-space: nowrap; }
table.runs td, table.runs th { font-size: 12.5px; }
table.runs td.archives { max-width: 300px; }
tr.group th { background: #fafbfc; font-size: 13px; color: var(--ink); padding-top: 9px;
              text-transform: none; letter-spacing: 0; }
tr.group th .count { font-weight: 400; color: var(--muted); }
tr.constraint td:first-child { border-left: 4px solid var(--pass); }
tr.constraint.has-fail td:first-child { border-left-color: var(--fail); }
tr.constraint.has-fail { background: #ffebe9; }
tr.constraint.has-not-met td:first-child { border-left-color: var(--not-met); }
tr.constraint.has-not-met { background: #fff5e0; }
tr.constraint.none-evaluated td:first-child { border-left-color: var(--not-evaluated); }
tr.constraint.none-evaluated { background: #f2f3f5; }
td.n-fail.some { color: var(--fail); font-weight: 700; }
tr.has-not-met td.n-fail.some { color: var(--not-met); }
.metric { font-family: "DejaVu Sans Mono", "Liberation Mono", Consolas, monospace;
          font-size: 12.5px; white-space: nowrap; }
td.rate { white-space: nowrap; width: 150px; }
.rate-text { display: inline-block; width: 54px; text-align: right; font-weight: 700;
             font-variant-numeric: tabular-nums; }
.rate-bar { display: inline-block; width: 80px; height: 9px; margin-left: 6px;
            background: #ffd8d3; border-radius: 2px; overflow: hidden; vertical-align: 0; }
.rate-bar span { display: block; height: 100%%; background: var(--pass); }
tr.priority-optimal .rate-bar { background: #ffe7c2; }
.badge { display: inline-block; border-radius: 4px; padding: 1px 7px; font-size: 11.5px;
         font-weight: 700; color: #fff; white-space: nowrap; }
.badge.pass { background: var(--pass); }
.badge.fail { background: var(--fail); }
.badge.not-met { background: var(--not-met); }
.badge.not-evaluated { background: var(--not-evaluated); }
.badge.error { background: var(--error); }
.legend-note { font-size: 12.5px; color: var(--muted); margin: 0 0 12px; }
.none { color: var(--muted); }
.constraint-card { border: 1px solid var(--rule); border-radius: 6px; margin: 0 0 16px;
                   padding: 10px 12px 8px; }
.constraint-card.has-fail { border-left: 4px solid var(--fail); }
.constraint-card.has-not-met { border-left: 4px solid var(--not-met); }
.card-head { display: flex; justify-content: space-between; gap: 12px; align-items: baseline;
             flex-wrap: wrap; margin-bottom: 4px; }
.card-head .set { color: var(--muted); font-size: 12.5px; }
.card-head .counts { font-size: 12.5px; color: var(--muted); white-space: nowrap; }
.card-body { display: grid; grid-template-columns: minmax(0, 58fr) minmax(0, 42fr); gap: 16px;
             align-items: start; }
figure { margin: 0; }
figure svg { display: block; width: 100%%; height: auto; }
figcaption { font-size: 12px; color: var(--muted); margin-top: 2px; }
table.worst td, table.worst th { font-size: 12.5px; padding: 4px 6px; }
table.worst caption { caption-side: top; text-align: left; font-size: 12px;
                      color: var(--muted); padding-bottom: 4px; }
table.worst tr.fail td { background: #ffebe9; }
table.worst tr.not-met td { background: #fff5e0; }
table.errors td { font-size: 12.5px; }
table.errors td.message { overflow-wrap: anywhere; }
footer { margin-top: 24px; font-size: 11.5px; color: var(--muted); border-top: 1px solid
         var(--rule); padding-top: 8px; }
"""
    + A4_PAGE_CSS
    + """@media print {
  body { max-width: none; padding: 0; font-size: 9pt; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  h2 { font-size: 12.5pt; margin-top: 14pt; break-after: avoid; page-break-after: avoid; }
  .total { min-width: 20mm; padding: 3pt 8pt; }
  .total .n { font-size: 18pt; }
  thead { display: table-header-group; }
  tr, figure, .constraint-card, table.kv, #totals {
    break-inside: avoid; page-break-inside: avoid;
  }
  table { break-inside: auto; }
  .card-body { grid-template-columns: minmax(0, 56fr) minmax(0, 44fr); gap: 8pt; }
  th, td { padding: 3pt 4pt; }
  thead th, table.worst th { font-size: 6.5pt; }
  .badge { font-size: 6.5pt; padding: 0 4px; }
  table.rates td, table.worst td, table.runs td, table.errors td, .metric { font-size: 8pt; }
  table.worst td { white-space: nowrap; }
  td.rate { width: auto; }
  .rate-text { width: auto; }
  .rate-bar { width: 36px; height: 7px; margin-left: 4px; }
  .legend-note, figcaption, .card-head .set, .card-head .counts, table.worst caption {
    font-size: 7.5pt;
  }
  a { text-decoration: none; }
}
"""
)


def stylesheet(db_name: str) -> str:
    """The page's CSS: the status colours and the print header with ``db_name``."""
    return _CSS % {
        "pass": _COLORS["pass"],
        "fail": _COLORS["fail"],
        "not_met": _COLORS["not_met"],
        "ne": _COLORS["not_evaluated"],
        "error": _COLORS["error"],
        "page_left": css_string(f"dosecheck archive summary — {db_name}"),
    }
