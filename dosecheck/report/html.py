"""The plan report: one self-contained HTML file a dosimetrist can attach to the approval.

:func:`render_report` turns a :class:`~dosecheck.checking.check.CheckReport` into a
single HTML document that fetches nothing: the CSS is inline, the DVH plots are inline
SVG (hover a curve or a marker for its ``<title>``), there are no scripts, fonts or
images from anywhere else, and a Content-Security-Policy forbids any fetch. It holds:

* the verdict (``id="verdict"``, ``data-verdict="pass|fail|incomplete"``: green, red,
  or yellow when a mandatory constraint could not be evaluated) and the one-line
  summary;
* the dose checks (``section#dose-checks``, right after the verdict): the dose-scale
  check against the RTPLAN (``#dose-scale``, ``data-verdict``, ``data-method``,
  ``data-ratio``; verdict, method, expected and measured dose, ratio; a prominent
  warning style when not ``consistent``), the PLAN dose against its BEAM doses
  (``#beam-dose-check``, ``data-consistent``) when there were any, and the parts of a
  plan sum (``table#plan-sum``: label, prescription, fractions, dose per fraction);
* plan identity: patient, plan label, input files with their SHA-256, UIDs, dose
  summation; the prescription and where it came from; the constraint set (name,
  version, file, SHA-256, source);
* the warnings;
* the constraint table, one row per constraint (``tr.result``, ``data-index``,
  ``data-status``), coloured by status, with value, limit, margin, priority, status
  and message; each structure's header row says which ROI was matched and how
  (``data-roi``, ``data-matched-by``, ``data-match-detail``), and so does each row.
  The value, limit and margin cells (``td.value``, ``td.limit``,
  ``td.margin``, each with ``data-structure`` and ``data-metric``) carry the number
  exactly as in ``dosecheck check --format json`` in ``data-value`` (a JSON literal,
  ``null`` when not evaluated) and show it as the text table does (two decimals);
* one cumulative DVH plot per checked structure (``figure.dvh-plot``,
  ``data-structure``) with its constraint markers, after an overview of all of them;
* the whole JSON report (``script#report-json``, ``type="application/json"``: data,
  never executed) and a sign-off block.

The print stylesheet lays it out on A4, keeps plots and table rows whole, repeats the
table header and puts the patient and page number in the page margins.
"""

from __future__ import annotations

import json
from datetime import datetime
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dosecheck.errors import InputError
from dosecheck.report._html import A4_PAGE_CSS, CMP, attr, css_string, embedded_json, text
from dosecheck.report.dose_checks import render_dose_checks, verdict_scale_line
from dosecheck.report.plots import STATUS_COLORS, render_svg, report_curves
from dosecheck.report.tps_section import (
    TPS_CSS,
    render_tps_differences,
    render_tps_section,
)

if TYPE_CHECKING:
    from dosecheck.checking.check import CheckReport

__all__ = ["render_report", "validate_report_path", "write_report"]

_STATUS_CLASS = {
    "PASS": "pass",
    "FAIL": "fail",
    "NOT MET (optimal)": "not-met",
    "VARIATION": "variation",
    "NOT EVALUATED": "not-evaluated",
}


def _json_attr(value: Any) -> str:
    """``value`` as the JSON literal ``dosecheck check --format json`` writes."""
    return attr(json.dumps(value))


# --- stylesheet ----------------------------------------------------------------------------
_CSS = (
    """
:root {
  --pass: %(pass)s; --fail: %(fail)s; --not-met: %(not_met)s; --not-evaluated: %(ne)s;
  --variation: %(variation)s;
  --ink: #1f2328; --muted: #59636e; --rule: #d1d9e0; --head: #f3f5f7;
}
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%%; }
body {
  margin: 0 auto; padding: 24px 28px 40px; max-width: 1100px; color: var(--ink);
  font: 14px/1.45 "Segoe UI", "DejaVu Sans", "Liberation Sans", Arial, Helvetica, sans-serif;
  background: #fff;
}
h1 { font-size: 22px; margin: 0 0 2px; }
h2 { font-size: 17px; margin: 28px 0 10px; padding-bottom: 4px;
     border-bottom: 2px solid var(--rule); }
.subtitle { color: var(--muted); margin: 0; }
code, .mono { font-family: "DejaVu Sans Mono", "Liberation Mono", Consolas, monospace;
              font-size: 12px; overflow-wrap: anywhere; }
.report-head { display: flex; gap: 20px; align-items: stretch; justify-content: space-between;
               border-bottom: 1px solid var(--rule); padding-bottom: 16px; }
.report-head .titles { flex: 1 1 auto; min-width: 0; }
.report-head .patient { margin-top: 10px; font-size: 15px; }
.report-head .patient b { font-size: 17px; }
#verdict { flex: 0 0 330px; border-radius: 8px; padding: 12px 16px; color: #fff; }
#verdict.verdict-pass { background: var(--pass); }
#verdict.verdict-fail { background: var(--fail); }
#verdict.verdict-incomplete { background: #f2c744; color: var(--ink); }
#verdict .verdict-label { font-size: 12px; letter-spacing: .08em; text-transform: uppercase;
                          opacity: .9; }
#verdict .verdict-word { font-size: 40px; font-weight: 800; line-height: 1.05;
                         letter-spacing: .04em; }
#verdict .verdict-summary { font-size: 13px; margin-top: 4px; }
#verdict .verdict-counts { font-size: 12px; margin-top: 6px; opacity: .95; }
table { border-collapse: collapse; width: 100%%; }
th, td { text-align: left; vertical-align: top; padding: 5px 8px;
         border-bottom: 1px solid var(--rule); }
thead th { background: var(--head); font-size: 12px; text-transform: uppercase;
           letter-spacing: .04em; color: var(--muted); border-bottom: 2px solid var(--rule); }
table.kv th { width: 190px; font-weight: 600; color: var(--muted); white-space: nowrap; }
table.kv td { overflow-wrap: anywhere; }
table.kv .sha { display: block; color: var(--muted); }
td.num { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
td.limit { white-space: nowrap; }
tr.group th { background: #fafbfc; font-size: 13px; color: var(--ink); padding-top: 9px; }
tr.group th .matched { font-weight: 400; color: var(--muted); }
tr.result td:first-child { border-left: 4px solid transparent; }
tr.status-pass td:first-child { border-left-color: var(--pass); }
tr.status-fail td:first-child { border-left-color: var(--fail); }
tr.status-not-met td:first-child { border-left-color: var(--not-met); }
tr.status-variation td:first-child { border-left-color: var(--variation); }
tr.status-variation { background: #f5f0ff; }
.badge.variation { background: var(--variation); }
tr.status-not-evaluated td:first-child { border-left-color: var(--not-evaluated); }
tr.status-fail { background: #ffebe9; }
tr.status-not-met { background: #fff5e0; }
tr.status-not-evaluated { background: #f2f3f5; }
.badge { display: inline-block; border-radius: 4px; padding: 1px 7px; font-size: 12px;
         font-weight: 700; color: #fff; white-space: nowrap; }
.badge.pass { background: var(--pass); }
.badge.borderline { background: #fff3cd; color: #7a5b00; border: 1px solid #d39e00;
                   margin-left: 4px; }
.borderline-reason { display: block; color: #7a5b00; }
.badge.fail { background: var(--fail); }
.badge.not-met { background: var(--not-met); }
.badge.not-evaluated { background: var(--not-evaluated); }
td.detail { font-size: 13px; }
td.detail .note, td.detail .rwarn { display: block; color: var(--muted); font-size: 12px; }
td.detail .rwarn { color: #8a5a00; }
.metric { font-family: "DejaVu Sans Mono", "Liberation Mono", Consolas, monospace;
          font-size: 12.5px; white-space: nowrap; }
#warnings ul { margin: 0; padding-left: 20px; }
#warnings.has-warnings { background: #fff8e5; border: 1px solid #e6c35c; border-radius: 6px;
                         padding: 4px 16px 10px; }
#warnings.has-warnings h2 { border-bottom-color: #e6c35c; }
#warnings li { margin: 3px 0; }
.none { color: var(--muted); }
figure { margin: 0 0 22px; }
figure.dvh-plot, figure.dvh-overview { border: 1px solid var(--rule); border-radius: 6px;
                                       padding: 8px 10px 6px; }
figure svg { display: block; width: 100%%; height: auto; max-width: 760px; margin: 0 auto; }
figcaption { font-size: 12.5px; color: var(--muted); margin-top: 4px; }
figcaption b { color: var(--ink); }
.legend-note { font-size: 12.5px; color: var(--muted); margin: 0 0 12px; }
.legend-note .sw { font-weight: 700; }
.signoff { margin-top: 30px; display: grid; grid-template-columns: repeat(3, 1fr); gap: 24px; }
.signoff div { border-top: 1px solid var(--ink); padding-top: 4px; font-size: 12px;
               color: var(--muted); min-height: 48px; }
footer { margin-top: 18px; font-size: 11.5px; color: var(--muted); }
#verdict .verdict-scale { font-size: 12px; margin-top: 6px; padding-top: 5px;
                          border-top: 1px solid rgba(255, 255, 255, .45); }
#verdict .verdict-scale.scale-warn { font-weight: 700; }
#dose-checks { margin-top: 14px; display: grid; gap: 10px; }
.dose-check { border: 1px solid var(--rule); border-left: 6px solid var(--pass);
              border-radius: 6px; padding: 6px 14px 8px; }
.dose-check h2 { font-size: 15px; margin: 4px 0 6px; border: none; padding: 0; }
.dose-check.check-warn { background: #fff3cd; border-color: #d39e00;
                         border-left-color: #d39e00; }
.dose-check.check-alert { background: #ffebe9; border-color: var(--fail);
                          border-left-color: var(--fail); }
.dose-check.check-none { border-left-color: var(--not-evaluated); }
.dose-check .check-message { font-weight: 600; margin: 2px 0 6px; }
.dose-check table.kv th { width: 170px; }
table#plan-sum td.num { text-align: right; }
"""
    + A4_PAGE_CSS
    + """@media print {
  body { max-width: none; padding: 0; font-size: 9.5pt; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  h2 { font-size: 12.5pt; margin-top: 14pt; break-after: avoid; page-break-after: avoid; }
  #verdict { flex-basis: 62mm; }
  #verdict .verdict-word { font-size: 26pt; }
  thead { display: table-header-group; }
  tr, figure, .signoff, table.kv, #verdict, #warnings, .dose-check {
    break-inside: avoid; page-break-inside: avoid;
  }
  table { break-inside: auto; }
  figure.dvh-plot, figure.dvh-overview { border: none; padding: 0; }
  figure svg { max-width: 170mm; }
  a { color: inherit; text-decoration: none; }
}
"""
)


def _stylesheet(report: CheckReport) -> str:
    p = report.plan
    left = "dosecheck plan report"
    who = " · ".join(
        x for x in (p.get("patient_id") or "", p.get("plan_label") or "") if str(x).strip()
    )
    if who:
        left += f" — {who}"
    left += f" — {report.verdict.upper()}"
    css = _CSS % {
        "pass": STATUS_COLORS["pass"],
        "fail": STATUS_COLORS["fail"],
        "not_met": STATUS_COLORS["not_met"],
        "variation": STATUS_COLORS["variation"],
        "ne": STATUS_COLORS["not_evaluated"],
        "page_left": css_string(left),
    }
    return css + TPS_CSS if report.compare_tps else css


# --- sections ------------------------------------------------------------------------------
def _verdict(report: CheckReport) -> str:
    counts = {s: sum(r.status == s for r in report.results) for s in ("pass", "fail")}
    not_eval = sum(r.status == "not_evaluated" for r in report.results)
    n_variation = sum(r.status == "variation" for r in report.results)
    summary = report.summary()
    word = report.verdict.upper()
    short = summary[len(word) + 3 :] if summary.startswith(f"{word} — ") else summary
    parts = [f"{counts['pass']} passed", f"{counts['fail']} failed"]
    if n_variation:
        parts.insert(1, f"{n_variation} within variation")
    if not_eval:
        parts.append(f"{not_eval} not evaluated")
    return (
        f'<div id="verdict" class="verdict-{attr(report.verdict)}" '
        f'data-verdict="{attr(report.verdict)}" role="status">'
        '<div class="verdict-label">Verdict</div>'
        f'<div class="verdict-word">{text(report.verdict.upper())}</div>'
        f'<div class="verdict-summary" id="summary" title="{attr(summary)}">{text(short)}</div>'
        f'<div class="verdict-counts">{text(" · ".join(parts))} '
        f"(of {len(report.results)} constraints)</div>"
        f"{verdict_scale_line(report.plan)}"
        "</div>"
    )


def _header(report: CheckReport) -> str:
    p = report.plan
    c = report.constraint_set
    patient = p.get("patient_id") or "—"
    label = p.get("plan_label") or "—"
    return (
        '<header class="report-head"><div class="titles">'
        "<h1>Plan dose-volume check</h1>"
        f'<p class="subtitle">{text(c.name)}</p>'
        f'<div class="patient">Patient ID <b data-field="patient_id">{text(patient)}</b>'
        f' &nbsp;·&nbsp; Plan <b data-field="plan_label">{text(label)}</b></div>'
        f'<div class="patient">Prescription <b data-field="prescription">'
        f"{text(report.prescription.describe())}</b></div>"
        f"</div>{_verdict(report)}</header>"
    )


def _mono(value: Any) -> str:
    """Monospaced text (paths, UIDs), ``—`` when empty."""
    return f'<span class="mono">{text(value)}</span>' if value else "—"


def _file_cell(path: Any, sha: Any) -> str:
    if not path:
        return "—"
    out = f'<span class="mono">{text(path)}</span>'
    if sha:
        out += f'<span class="sha mono">sha256 {text(sha)}</span>'
    return out


def _identity(report: CheckReport) -> str:
    from dosecheck.checking.sets import describe_prescription

    p = report.plan
    c = report.constraint_set
    rx = report.prescription
    sha = p.get("sha256") or {}
    doses = list(p.get("rtdose") or [])
    dose_sha = list(sha.get("rtdose") or [])
    dose_cells = "<br>".join(
        _file_cell(path, dose_sha[i] if i < len(dose_sha) else None) for i, path in enumerate(doses)
    )
    rx_source = rx.source
    if rx.fractions is not None and rx.fractions_source != rx.source:
        rx_source = f"dose: {rx.source}; fractions: {rx.fractions_source}"
    rtplan_rx = ""
    if p.get("prescription_gy") is not None or p.get("fractions") is not None:
        rtplan_rx = describe_prescription(p.get("prescription_gy"), p.get("fractions"))
    set_rx = ""
    if c.prescription_gy is not None or c.fractions is not None:
        set_rx = describe_prescription(c.prescription_gy, c.fractions)
    mode = (
        "strict: constraints that cannot be evaluated fail"
        if report.strict
        else "standard: constraints that cannot be evaluated are reported, not failed"
    )
    set_name = c.name + (f" (version {c.version})" if c.version else "")
    uids = "<br>".join(_mono(u) for u in p.get("dose_uids") or []) or "—"
    rows: list[tuple[str, str, str]] = [
        ("patient_id", "Patient ID", text(p.get("patient_id"))),
        ("plan_label", "Plan label", text(p.get("plan_label"))),
        ("prescription", "Prescription used", text(rx.describe())),
        ("prescription_source", "Prescription source", text(rx_source)),
        ("rtplan_prescription", "RTPLAN prescription", text(rtplan_rx)),
        ("constraint_set", "Constraint set", text(set_name)),
        ("constraint_set_prescription", "Set written for", text(set_rx)),
        ("constraint_set_file", "Constraint set file", _file_cell(c.path, c.sha256)),
        ("constraint_set_source", "Constraint source", text(c.source)),
        ("end_caps", "End caps", text(report.end_caps)),
        ("plan_path", "Plan folder", _mono(p.get("path"))),
        ("rtstruct", "RTSTRUCT", _file_cell(p.get("rtstruct"), sha.get("rtstruct"))),
        ("rtdose", "RTDOSE", dose_cells or "—"),
        ("rtplan", "RTPLAN", _file_cell(p.get("rtplan"), sha.get("rtplan"))),
        ("structure_set_uid", "Structure set UID", _mono(p.get("structure_set_uid"))),
        ("dose_uids", "Dose UID(s)", uids),
        ("plan_uid", "Plan UID", _mono(p.get("plan_uid"))),
        ("dose_summation_type", "Dose summation", text(p.get("dose_summation_type"))),
        ("mode", "Mode", text(mode)),
    ]
    body = "".join(
        f'<tr><th scope="row">{escape(label)}</th><td data-field="{key}">{cell}</td></tr>'
        for key, label, cell in rows
    )
    return (
        '<section id="plan"><h2>Plan and constraint set</h2>'
        f'<table class="kv" id="plan-identity"><tbody>{body}</tbody></table></section>'
    )


def _warnings(report: CheckReport) -> str:
    if not report.warnings:
        return '<section id="warnings" data-count="0"><p class="none">No warnings.</p></section>'
    items = "".join(f'<li class="warning">{text(w)}</li>' for w in report.warnings)
    return (
        f'<section id="warnings" class="has-warnings" data-count="{len(report.warnings)}">'
        f"<h2>Warnings ({len(report.warnings)})</h2><ul>{items}</ul></section>"
    )


def _limit_text(report: CheckReport, i: int) -> str:
    """The limit as the text table writes it, with ≤/≥."""
    from dosecheck.output.check_formats import format_value

    r, c = report.results[i], report.constraints[i]
    if c.variation is not None:
        from dosecheck.output.check_formats import limit_cell

        return limit_cell(report, i).replace("<=", "≤").replace(">=", "≥")
    if c.is_converted:  # EQD2 / other fractionation: say what the limit became
        from dosecheck.output.check_formats import limit_cell

        return limit_cell(report, i)
    cmp = CMP.get(r.comparator, r.comparator)
    if r.limit is None or not c.limit_unit_is_percent_rx:
        sep = "" if c.limit_unit_is_percent_rx or r.unit in ("%", "") else " "
        unit = "" if c.limit_unit_is_percent_rx else r.unit
        return f"{cmp} {c.limit_text}{sep}{unit}"
    return f"{cmp} {format_value(r.limit, r.unit)} ({c.limit_text} of Rx)"


def _matched(report: CheckReport, i: int) -> str:
    r = report.results[i]
    if r.roi is None:
        return (
            "ambiguous: no ROI chosen" if r.reason == "structure_ambiguous" else ("no matching ROI")
        )
    from dosecheck.output.check_formats import matched_by_text

    return f"ROI {r.roi} ({matched_by_text(r)})"


def _match_attrs(r: Any) -> str:
    """``data-roi``, ``data-matched-by`` and ``data-match-detail`` of a result (empty
    values when no ROI was matched)."""
    return (
        f'data-roi="{attr(r.roi)}" data-matched-by="{attr(r.matched_by)}" '
        f'data-match-detail="{attr(r.match_detail)}"'
    )


def _full(x: float | None, unit: str) -> str:
    """Full-precision tooltip of a number."""
    if x is None:
        return "not evaluated"
    return f"{json.dumps(x)} {unit}".strip()


_BORDERLINE_BADGE = (
    '<span class="badge borderline" title="the limit lies inside the value\'s range across '
    "end-cap conventions (and the TPS's DVH)\">≈ borderline</span>"
)


def _tps_cell(report: CheckReport, i: int, ident: str, rec: dict[str, Any]) -> str:
    """The TPS DVH cell of a constraint row ("" without ``--compare-tps``)."""
    if not report.compare_tps:
        return ""
    from dosecheck.output.check_formats import tps_text

    differs = "true" if rec.get("tps_verdict_differs") else "false"
    return (
        f'<td class="tps num{" tps-differs" if differs == "true" else ""}" {ident} '
        f'data-value="{_json_attr(rec.get("tps_value"))}" data-differs="{differs}" '
        f'title="{attr(rec.get("tps_note") or _full(rec.get("tps_value"), rec["unit"]))}">'
        f"{text(tps_text(report, i))}</td>"
    )


def _dvh_stats(report: CheckReport) -> dict[str, dict[str, Any]]:
    return {
        i.structure.name: {"volume_cc": i.dvh.volume_cc, "mean_gy": i.dvh.mean_gy}
        for i in report.dvhs
    }


def _constraint_table(report: CheckReport) -> str:
    from dosecheck.output.check_formats import format_value, status_label

    records = report.result_records()
    rows: list[str] = []
    current: str | None = None
    for i, (r, rec) in enumerate(zip(report.results, records, strict=True)):
        if rec["structure"] != current:
            current = rec["structure"]
            rows.append(
                f'<tr class="group" data-structure="{attr(current)}" {_match_attrs(r)}>'
                f'<th colspan="{8 if report.compare_tps else 7}">{text(current)} '
                f'<span class="matched">— {text(_matched(report, i))}</span></th></tr>'
            )
        label = status_label(r)
        cls = _STATUS_CLASS[label]
        unit = rec["unit"]
        ident = f'data-structure="{attr(rec["structure"])}" data-metric="{attr(rec["metric"])}"'
        detail = [f'<span class="message">{text(rec["message"])}</span>']
        if rec.get("note"):
            detail.append(f'<span class="note">Note: {text(rec["note"])}</span>')
        if rec.get("reference"):
            detail.append(f'<span class="note">Reference: {text(rec["reference"])}</span>')
        for w in rec.get("warnings") or []:
            detail.append(f'<span class="rwarn">warning: {text(w)}</span>')
        if rec.get("borderline"):
            reason = text(rec["borderline_reason"])
            detail.append(f'<span class="borderline-reason">Borderline: {reason}</span>')
        rows.append(
            f'<tr class="result status-{cls} priority-{attr(rec["priority"])}" '
            f'data-index="{i}" data-status="{attr(rec["status"])}" {ident} {_match_attrs(r)}>'
            f'<td class="metric" title="{attr(rec["constraint"])}">{text(rec["metric"])}</td>'
            f'<td class="value num" {ident} data-unit="{attr(unit)}" '
            f'data-value="{_json_attr(rec["value"])}" title="{attr(_full(rec["value"], unit))}">'
            f"{text(format_value(rec['value'], unit))}</td>"
            f"{_tps_cell(report, i, ident, rec)}"
            f'<td class="limit" {ident} data-comparator="{attr(rec["comparator"])}" '
            f'data-value="{_json_attr(rec["limit"])}" title="{attr(_full(rec["limit"], unit))}">'
            f"{text(_limit_text(report, i))}</td>"
            f'<td class="margin num" {ident} data-value="{_json_attr(rec["margin"])}" '
            f'title="{attr(_full(rec["margin"], unit))}">'
            f"{text(format_value(rec['margin'], unit, signed=True))}</td>"
            f'<td class="priority">{text(rec["priority"])}</td>'
            f'<td class="status" data-borderline="{"true" if rec.get("borderline") else "false"}">'
            f'<span class="badge {cls}">{text(label)}</span>'
            f"{_BORDERLINE_BADGE if rec.get('borderline') else ''}</td>"
            f'<td class="detail">{"".join(detail)}</td></tr>'
        )
    tps_head = "<th>TPS DVH</th>" if report.compare_tps else ""
    head = (
        f"<thead><tr><th>Metric</th><th>Value</th>{tps_head}<th>Limit</th><th>Margin</th>"
        "<th>Priority</th><th>Status</th><th>Detail</th></tr></thead>"
    )
    return (
        '<section id="constraints"><h2>Constraints</h2>'
        '<p class="legend-note">Margin: distance from the value to the limit, positive inside '
        "the limit. Values as in <code>dosecheck check --format json</code>, rounded to two "
        "decimals (hover a number for all its digits). An optimal constraint that is not met "
        "does not fail the plan.</p>"
        f'<table class="constraints" id="constraint-table">{head}<tbody>{"".join(rows)}'
        "</tbody></table></section>"
    )


def _plots(report: CheckReport) -> str:
    curves = report_curves(report)
    rx = report.prescription.dose_gy
    parts = [
        '<section id="dvh"><h2>Cumulative DVHs</h2>'
        '<p class="legend-note">Each constraint is a limit marker on its structure\'s curve: '
        '<span class="sw">▼</span> the DVH must pass below the point, '
        '<span class="sw">▲</span> above it; the open circle is the plan\'s value. Colours: '
        f'<span class="sw" style="color:{STATUS_COLORS["pass"]}">pass</span>, '
        f'<span class="sw" style="color:{STATUS_COLORS["fail"]}">fail</span>, '
        f'<span class="sw" style="color:{STATUS_COLORS["not_met"]}">optimal not met</span>, '
        + (
            f'<span class="sw" style="color:{STATUS_COLORS["variation"]}">within variation</span>, '
            if any(r.status == "variation" for r in report.results)
            else ""
        )
        + f'<span class="sw" style="color:{STATUS_COLORS["not_evaluated"]}">not evaluated</span>'
        ". The dashed line is the prescription. Hover a curve or marker to identify it.</p>"
    ]
    if len(curves) > 1:
        svg = render_svg(
            [c for c, _, _ in curves],
            volume_unit="%",
            title="All checked structures",
            prescription_gy=rx,
            figsize=(7.2, 4.2),
            inline=True,
            id_prefix="ov-",
        )
        parts.append(
            f'<figure class="dvh-overview" id="dvh-overview">{svg}<figcaption>'
            "<b>All checked structures</b>, volume in % of each structure "
            "(limits in cc converted with the structure's volume).</figcaption></figure>"
        )
    for n, (curve, indices, unit) in enumerate(curves):
        svg = render_svg(
            [curve],
            volume_unit=unit,
            title=curve.label,
            prescription_gy=rx,
            figsize=(7.2, 3.7),
            inline=True,
            id_prefix=f"p{n}-",
        )
        dvh = curve.dvh
        stats = (
            "no volume inside the dose grid"
            if dvh.is_empty
            else f"{dvh.volume_cc:.1f} cc in the dose grid; min {dvh.min_gy:.2f} Gy, "
            f"mean {dvh.mean_gy:.2f} Gy, max {dvh.max_gy:.2f} Gy"
        )
        if dvh.outside_grid_cc > 0:
            stats += f"; {dvh.outside_grid_cc:.2f} cc outside the dose grid (not included)"
        metrics = ", ".join(report.metric_as_written(i) for i in indices)
        parts.append(
            f'<figure class="dvh-plot" id="dvh-plot-{n}" data-structure="{attr(curve.key)}" '
            f'data-roi="{attr(curve.roi)}" data-volume-unit="{attr(unit)}" '
            f'data-constraints="{len(indices)}">{svg}<figcaption><b>{text(curve.label)}</b>: '
            f"{text(stats)}. Constraints: {text(metrics)}.</figcaption></figure>"
        )
    plotted = {c.key for c, _, _ in curves}
    missing = []
    for i, r in enumerate(report.results):
        if r.structure not in plotted and r.structure not in missing:
            missing.append(r.structure)
            plotted_note = _matched(report, i)
            parts.append(
                f'<p class="not-plotted" data-structure="{attr(r.structure)}">'
                f"<b>{text(r.structure)}</b>: not plotted — {text(plotted_note)}.</p>"
            )
    if not curves:
        parts.append('<p class="none">No structure of the constraint set has a DVH.</p>')
    parts.append("</section>")
    return "".join(parts)


def render_report(report: CheckReport, *, generated: datetime | None = None) -> str:
    """The report as one self-contained HTML document.

    Parameters
    ----------
    report
        The result of :func:`dosecheck.checking.check.check_plan`.
    generated
        Time stamp printed in the report; default: now (local time).

    Returns
    -------
    str
        The HTML text (UTF-8 when written).

    Raises
    ------
    InputError
        When matplotlib (``dosecheck[plot]``) is not installed.
    """
    when = (generated or datetime.now().astimezone()).strftime("%Y-%m-%d %H:%M %Z").strip()
    p = report.plan
    title = " — ".join(
        x
        for x in (
            "dosecheck plan report",
            str(p.get("patient_id") or ""),
            str(p.get("plan_label") or ""),
            report.verdict.upper(),
        )
        if x
    )
    csp = (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
        "base-uri 'none'; form-action 'none'"
    )
    tps = report.tps_record() if report.compare_tps else None
    body = "".join(
        [
            _header(report),
            render_dose_checks(report.plan),
            render_tps_differences(tps),
            _warnings(report),
            _constraint_table(report),
            render_tps_section(tps, _dvh_stats(report)) if report.compare_tps else "",
            _plots(report),
            _identity(report),
            '<section class="signoff" id="signoff"><div>Checked by (name)</div>'
            "<div>Signature</div><div>Date</div></section>",
            f"<footer>Generated by dosecheck {text(report.dosecheck_version)} on {text(when)}. "
            "DVHs computed by dosecheck from the RTSTRUCT and RTDOSE listed above. This "
            "report supports, and does not replace, the clinical review of the plan."
            "</footer>",
            embedded_json(report.to_dict(), "report-json"),
        ]
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{csp}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta name="generator" content="dosecheck {attr(report.dosecheck_version)}">'
        f"<title>{text(title)}</title>"
        f"<style>{_stylesheet(report)}</style></head>\n"
        f"<body>{body}</body></html>\n"
    )


def write_report(report: CheckReport, path: str | Path) -> None:
    """Render ``report`` (:func:`render_report`) and write it to ``path`` atomically.

    Raises
    ------
    InputError
        When the folder of ``path`` does not exist, or matplotlib is missing.
    """
    from dosecheck.output.write import write_text

    write_text(render_report(report), Path(path))


def validate_report_path(path: Path) -> None:
    """Refuse, before any work, a report path that is not ``*.html``/``*.htm`` in an
    existing folder.

    Raises
    ------
    InputError
        With the offending path.
    """
    if path.suffix.lower() not in (".html", ".htm"):
        raise InputError("the report file must end in .html or .htm", path=path)
    folder = path.resolve().parent
    if not folder.is_dir():
        raise InputError("the output folder does not exist", path=folder)
