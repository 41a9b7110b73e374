"""The archive summary page: an :class:`ArchiveData` rendered as one HTML document."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from dosecheck import __version__
from dosecheck.report._html import attr, embedded_json, text
from dosecheck.report.archive.data import MAX_LISTED_ERRORS as _MAX_LISTED_ERRORS
from dosecheck.report.archive.data import ArchiveData
from dosecheck.report.archive.headlines import (
    assessment_counts,
    assessment_lines,
    dose_scale_counts,
    dose_scale_line,
)
from dosecheck.report.archive.histogram import histogram_svg
from dosecheck.report.archive.stats import BAR_PASS as _BAR_PASS
from dosecheck.report.archive.stats import COLORS as _COLORS
from dosecheck.report.archive.stats import (
    WORST_PLANS,
    ConstraintStats,
    _num,
    _plural,
    _when,
    constraint_stats,
)
from dosecheck.report.archive.style import stylesheet as _stylesheet

__all__ = ["render_archive_report"]

#: Runs listed when no ``--since`` is given (the most recent ones).
_MAX_RUNS = 25


def _counts(entries: list[dict[str, Any]]) -> dict[str, int]:
    return {
        s: sum(e["status"] == s for e in entries) for s in ("pass", "fail", "incomplete", "error")
    }


def _filters_text(since: str | None, since_utc: str | None, failed_only: bool) -> list[str]:
    out = []
    if since_utc is not None:
        out.append(f"evaluated since {since} ({_when(since_utc)})")
    if failed_only:
        out.append("only plans that fail, are incomplete or have errors")
    return out


def _header(
    db: Path, entries: list[dict[str, Any]], rows: list[ConstraintStats], filters: list[str]
) -> str:
    c = _counts(entries)
    cards = [
        (
            '<div class="total" data-total="plans"><div class="n">'
            f'{len(entries)}</div><div class="what">plans</div></div>'
        ),
    ]
    for status in ("pass", "fail", "incomplete", "error"):
        word = status
        zero = " zero" if not c[status] else ""
        cards.append(
            f'<div class="total {status}{zero}" data-total="{status}"><div class="n">'
            f'{c[status]}</div><div class="what">{word}</div></div>'
        )
    mandatory = [r for r in rows if r.priority == "mandatory"]
    n_eval = sum(r.n_evaluated for r in mandatory)
    n_pass = sum(r.n_pass for r in mandatory)
    headline = ""
    if n_eval:
        headline = (
            f'<p class="headline">Mandatory constraint results: <b>{n_pass}</b> of '
            f"<b>{n_eval}</b> pass ({100.0 * n_pass / n_eval:.1f} %) over "
            f"{_plural(len(mandatory), 'constraint')} in "
            f"{_plural(len({r.set_name for r in rows}), 'constraint set')}.</p>"
        )
    scope = "Latest evaluation of each plan in the results database"
    filt = "".join(f' <span class="filter">{text(f)}</span>' for f in filters)
    return (
        '<header class="report-head"><div class="titles">'
        "<h1>Plan archive QA summary</h1>"
        f'<p class="subtitle">Results database <code id="db-path">{text(db)}</code></p>'
        f'<div class="scope">{scope}.{filt}</div>{headline}{dose_scale_line(entries)}'
        f"{assessment_lines(entries)}</div>"
        f'<div id="totals" data-plans="{len(entries)}" data-pass="{c["pass"]}" '
        f'data-fail="{c["fail"]}" data-incomplete="{c["incomplete"]}" '
        f'data-error="{c["error"]}">{"".join(cards)}</div></header>'
    )


def _runs_section(
    runs: list[dict[str, Any]],
    db: Path,
    entries: list[dict[str, Any]],
    since_utc: str | None,
    filters: list[str],
    total_evaluations: int,
    total_plans: int,
) -> str:
    used: dict[int, int] = {}
    for e in entries:
        used[int(e["run_id"])] = used.get(int(e["run_id"]), 0) + 1
    if since_utc is not None:
        shown = [r for r in runs if r["id"] in used or (r["started_at"] or "") >= since_utc]
    else:
        shown = runs[-_MAX_RUNS:]
        shown_ids = {r["id"] for r in shown}
        shown = [r for r in runs if r["id"] in shown_ids or r["id"] in used]
    omitted = len(runs) - len(shown)
    sets: dict[str, int] = {}
    for e in entries:
        name = (e.get("constraint_set") or {}).get("name")
        if name:
            sets[name] = sets.get(name, 0) + 1
    first = min((e["evaluated_at"] for e in entries), default=None)
    last = max((e["evaluated_at"] for e in entries), default=None)
    kv = [
        ("Database", f'<span class="mono">{text(db)}</span>'),
        (
            "Plans in the database",
            text(f"{total_plans} ({total_evaluations} evaluations recorded)"),
        ),
        ("Plans in this summary", text(len(entries))),
        ("Selection", text("; ".join(filters) if filters else "all plans")),
        ("Evaluated", text(f"{_when(first)} to {_when(last)}" if first else None)),
        (
            "Constraint sets",
            "<br>".join(
                f"{text(n)} <span class='none'>({k} plan{'s' * (k != 1)})</span>"
                for n, k in sorted(sets.items())
            )
            or "—",
        ),
    ]
    kv_html = "".join(f'<tr><th scope="row">{text(k)}</th><td>{v}</td></tr>' for k, v in kv)
    rows = []
    for r in reversed(shown):
        try:
            archives = ", ".join(json.loads(r["archives"]))
        except (TypeError, ValueError):
            archives = str(r["archives"])
        counts = "—"
        if r["n_plans"] is not None:
            counts = (
                f"{r['n_plans']} found: {r['n_pass'] or 0} pass, {r['n_fail'] or 0} fail, "
                f"{r['n_error'] or 0} error"
            )
            if r["n_skipped"]:
                counts += f" ({r['n_skipped']} already recorded)"
        status_cls = {"finished": "pass", "interrupted": "fail"}.get(r["status"], "not-evaluated")
        rows.append(
            f'<tr class="run" data-run="{r["id"]}"><td class="num">{r["id"]}</td>'
            f"<td>{text(_when(r['started_at']))}</td><td>{text(_when(r['finished_at']))}</td>"
            f'<td><span class="badge {status_cls}">{text(r["status"])}</span></td>'
            f'<td class="archives mono">{text(archives)}</td><td>{text(r["constraints"])}</td>'
            f"<td>{text(counts)}</td><td class='num'>{used.get(r['id'], 0)}</td>"
            f"<td>{text(r['dosecheck_version'])}</td></tr>"
        )
    head = (
        "<thead><tr><th class='num'>Run</th><th>Started</th><th>Finished</th><th>Status</th>"
        "<th>Archives</th><th>Constraints</th><th>Plans</th>"
        "<th class='num' title='Plans whose latest evaluation is from this run'>In summary</th>"
        "<th>Version</th></tr></thead>"
    )
    note = ""
    if omitted:
        note = (
            f'<p class="legend-note">{omitted} other run(s) in the database are not listed '
            "(no plan of this summary comes from them).</p>"
        )
    runs_html = (
        f'<table class="runs" id="runs">{head}<tbody>{"".join(rows)}</tbody></table>{note}'
        if rows
        else '<p class="none">No runs recorded.</p>'
    )
    return (
        '<section id="archive"><h2>Archive and runs</h2>'
        f'<table class="kv" id="archive-identity"><tbody>{kv_html}</tbody></table>'
        f'<h3 style="margin:16px 0 6px">Runs ({len(runs)})</h3>{runs_html}</section>'
    )


def _rate_cell(row: ConstraintStats) -> str:
    rate = row.pass_rate
    if rate is None:
        return '<td class="rate"><span class="rate-text none">—</span></td>'
    return (
        f'<td class="rate"><span class="rate-text">{100.0 * rate:.1f} %</span>'
        f'<span class="rate-bar" aria-hidden="true"><span style="width:{100.0 * rate:.1f}%">'
        "</span></span></td>"
    )


def _row_class(row: ConstraintStats) -> str:
    if row.n_evaluated == 0:
        return "none-evaluated"
    if row.n_fail:
        return "has-fail" if row.priority == "mandatory" else "has-not-met"
    if row.n_variation:
        return "has-variation"
    return "all-pass"


def _pass_rate_table(
    rows: list[ConstraintStats], entries: list[dict[str, Any]], filters: list[str]
) -> str:
    if not rows:
        return (
            '<section id="rates"><h2>Pass rate per constraint</h2>'
            '<p class="none">No constraint results: no plan in this summary could be '
            "evaluated.</p></section>"
        )
    per_set: dict[str, int] = {}
    for e in entries:
        name = (e.get("constraint_set") or {}).get("name")
        if name and e["status"] != "error":
            per_set[name] = per_set.get(name, 0) + 1
    body: list[str] = []
    current = None
    for k, r in enumerate(rows):
        if r.set_name != current:
            current = r.set_name
            n = per_set.get(current, 0)
            body.append(
                f'<tr class="group" data-set="{attr(current)}"><th colspan="9">{text(current)} '
                f'<span class="count">— {n} plan{"s" * (n != 1)}</span></th></tr>'
            )
        rate = r.pass_rate
        some = " some" if r.n_fail else ""
        body.append(
            f'<tr class="constraint {_row_class(r)} priority-{attr(r.priority)}" '
            f'data-set="{attr(r.set_name)}" data-structure="{attr(r.structure)}" '
            f'data-metric="{attr(r.metric)}" data-comparator="{attr(r.comparator)}" '
            f'data-limit="{attr(r.limit_as_written)}" data-priority="{attr(r.priority)}" '
            f'data-n-evaluated="{r.n_evaluated}" data-n-pass="{r.n_pass}" '
            f'data-n-fail="{r.n_fail}" data-n-not-evaluated="{r.n_not_evaluated}" '
            f'data-n-variation="{r.n_variation}" '
            f'data-pass-rate="{attr(json.dumps(rate))}">'
            f"<td>{text(r.structure)}</td>"
            f'<td class="metric"><a href="#constraint-{k}">{text(r.metric)}</a></td>'
            f'<td class="limit">{text(r.limit_text())}</td><td>{text(r.priority)}</td>'
            f'<td class="num n-evaluated">{r.n_evaluated}</td>'
            f'<td class="num n-pass">{r.n_pass}</td>'
            f'<td class="num n-fail{some}">{r.n_fail}</td>'
            f'<td class="num n-not-evaluated">{r.n_not_evaluated}</td>{_rate_cell(r)}</tr>'
        )
    head = (
        "<thead><tr><th>Structure</th><th>Metric</th><th>Limit</th><th>Priority</th>"
        "<th class='num'>Evaluated</th><th class='num'>Pass</th>"
        "<th class='num'>Fail</th><th class='num'>Not evaluated</th><th>Pass rate</th>"
        "</tr></thead>"
    )
    return (
        '<section id="rates"><h2>Pass rate per constraint</h2>'
        '<p class="legend-note">One row per constraint of each constraint set (grey rows: '
        "the set). <i>Evaluated</i> counts the plans whose result is pass or fail; the pass "
        "rate is pass / evaluated. A failed optimal constraint is \u201cnot met\u201d and "
        "does not fail its plan. Plans that could not be evaluated are listed under "
        '<a href="#errors">Plans in error</a>.'
        + (
            f" The rates are over the plans selected: {text('; '.join(filters))}."
            if filters
            else ""
        )
        + "</p>"
        f'<table class="rates" id="pass-rates">{head}<tbody>{"".join(body)}</tbody></table>'
        "</section>"
    )


def _worst_table(row: ConstraintStats) -> str:
    judged = [p for p in row.points if p.status in ("pass", "fail")]
    if not judged:
        return ""
    ranked = sorted(
        judged,
        key=lambda p: (
            p.margin if p.margin is not None else (-math.inf if p.status == "fail" else math.inf)
        ),
    )
    shown = ranked[:WORST_PLANS]
    unit = row.unit
    trs = []
    for p in shown:
        plan = p.entry["plan"]
        cls = (
            "pass" if p.status == "pass" else ("fail" if row.priority == "mandatory" else "not-met")
        )
        word = "PASS" if p.status == "pass" else row.fail_word.upper()
        trs.append(
            f'<tr class="{cls}" data-patient-id="{attr(plan.get("patient_id"))}" '
            f'data-margin="{attr(json.dumps(p.margin))}" title="{attr(plan.get("path"))}">'
            f"<td>{text(plan.get('patient_id'))}</td><td>{text(plan.get('plan_label'))}</td>"
            f'<td class="num">{text(_num(p.value, unit))}</td>'
            f'<td class="num">{text(_num(p.margin, unit, signed=True))}</td>'
            f'<td><span class="badge {cls}">{text(word)}</span></td></tr>'
        )
    more = ""
    if row.n_fail > len([p for p in shown if p.status == "fail"]):
        more = f"; {row.n_fail} {row.fail_word} in all (<code>--failed-only</code> lists them)"
    return (
        '<table class="worst">'
        f"<caption>Smallest margins: {len(shown)} of {len(judged)} plans{more}</caption>"
        "<thead><tr><th>Patient ID</th><th>Plan</th><th class='num'>Value</th>"
        f"<th class='num'>Margin</th><th>Status</th></tr></thead><tbody>{''.join(trs)}</tbody>"
        "</table>"
    )


def _stats_caption(row: ConstraintStats) -> str:
    import statistics

    values = [p.value for p in row.points if p.value is not None]
    if not values:
        return ""
    unit = row.unit
    parts = [
        f"median {_num(statistics.median(values), unit)}",
        f"range {_num(min(values), unit)} to {_num(max(values), unit)}",
    ]
    if len(row.limits) > 1:
        parts.append(
            f"the limit varies between plans ({_num(row.limits[0], unit)} to "
            f"{_num(row.limits[-1], unit)}): lighter shading where it fails some"
        )
    unplotted = sum(p.status == "fail" and p.value is None for p in row.points)
    if unplotted:
        parts.append(f"{unplotted} failed without a value (strict mode), not plotted")
    return "; ".join(parts) + "."


def _cards(rows: list[ConstraintStats]) -> str:
    if not rows:
        return ""
    parts = [
        '<section id="distributions"><h2>Distributions and worst plans</h2>'
        '<p class="legend-note">For each constraint: its values over the plans '
        f'(bars: <b style="color:{_BAR_PASS}">pass</b>, '
        f'<b style="color:{_COLORS["fail"]}">fail</b>, '
        f'<b style="color:{_COLORS["not_met"]}">not met</b> for an optimal constraint), the '
        "limit as a vertical line and the failing side shaded; a tick under the axis marks "
        "each plan (hover a failing one for its name). The table lists the plans with the "
        "smallest margin (distance to the limit, negative when the constraint fails).</p>"
    ]
    for k, r in enumerate(rows):
        counts = (
            f"{r.n_evaluated} evaluated: {r.n_pass} pass, "
            + (f"{r.n_variation} within variation, " if r.n_variation else "")
            + f"{r.n_fail} {r.fail_word}"
            + (f", {r.n_not_evaluated} not evaluated" if r.n_not_evaluated else "")
        )
        plotted = [p for p in r.points if p.value is not None and p.status in ("pass", "fail")]
        if plotted:
            svg = histogram_svg(r, f"h{k}-")
            fig = (
                f'<figure class="histogram" id="histogram-{k}" data-set="{attr(r.set_name)}" '
                f'data-structure="{attr(r.structure)}" data-metric="{attr(r.metric)}" '
                f'data-limit="{attr(r.limit_as_written)}" data-n="{len(plotted)}" '
                f'data-limits="{attr(json.dumps(r.limits))}">{svg}'
                f"<figcaption>{text(_stats_caption(r))}</figcaption></figure>"
            )
        else:
            fig = '<p class="none">No plan has a value for this constraint.</p>'
        parts.append(
            f'<section class="constraint-card {_row_class(r)}" id="constraint-{k}" '
            f'data-set="{attr(r.set_name)}" data-structure="{attr(r.structure)}" '
            f'data-metric="{attr(r.metric)}">'
            f'<div class="card-head"><div><h3>{text(r.structure)} <span class="metric">'
            f"{text(r.metric)}</span> {text(r.limit_text())}"
            + (" <span class='none'>(optimal)</span>" if r.priority != "mandatory" else "")
            + f'</h3><div class="set">{text(r.set_name)}</div></div>'
            f'<div class="counts">{text(counts)}</div></div>'
            f'<div class="card-body">{fig}<div>{_worst_table(r)}</div></div></section>'
        )
    parts.append("</section>")
    return "".join(parts)


def _errors_section(
    entries: list[dict[str, Any]], error_stages: Mapping[int, tuple[str, str]]
) -> str:
    errors = [e for e in entries if e["status"] == "error"]
    if not errors:
        return (
            '<section id="errors" data-count="0"><h2>Plans in error</h2>'
            '<p class="none">Every plan in this summary could be evaluated.</p></section>'
        )
    trs = []
    for e in errors[:_MAX_LISTED_ERRORS]:
        plan = e["plan"]
        first = error_stages.get(e["evaluation_id"])
        stage = f"{first[0]} ({first[1]})" if first is not None else "—"
        trs.append(
            f'<tr class="error" data-patient-id="{attr(plan.get("patient_id"))}">'
            f"<td>{text(plan.get('patient_id'))}</td><td>{text(plan.get('plan_label'))}</td>"
            f'<td class="mono">{text(plan.get("path"))}</td><td>{text(stage)}</td>'
            f'<td class="message">{text(e["error"])}</td>'
            f"<td>{text(_when(e['evaluated_at']))}</td></tr>"
        )
    more = ""
    if len(errors) > _MAX_LISTED_ERRORS:
        more = (
            f'<p class="legend-note">… and {len(errors) - _MAX_LISTED_ERRORS} more: '
            "<code>dosecheck results DB --failed-only</code>.</p>"
        )
    return (
        f'<section id="errors" data-count="{len(errors)}"><h2>Plans in error ({len(errors)})'
        '</h2><p class="legend-note">Plans that could not be evaluated (no constraint '
        "result), with the message recorded.</p>"
        '<table class="errors" id="error-table"><thead><tr><th>Patient ID</th><th>Plan</th>'
        "<th>Folder</th><th>Stage</th><th>Message</th><th>Evaluated</th></tr></thead>"
        f"<tbody>{''.join(trs)}</tbody></table>{more}</section>"
    )


def _unreadable_section(found: list[dict[str, Any]]) -> str:
    if not found:
        return ""
    trs = "".join(
        f'<tr><td class="mono">{text(r["path"])}</td><td class="message">{text(r["message"])}</td>'
        f'<td class="num">{text(r["run_id"])}</td><td>{text(_when(r["created_at"]))}</td></tr>'
        for r in found
    )
    return (
        f'<section id="unreadable" data-count="{len(found)}"><h2>Unreadable DICOM files '
        f'({len(found)})</h2><p class="legend-note">Files with the DICOM marker whose header '
        "could not be read during discovery (not part of any plan); the latest run that met "
        "each one.</p>"
        '<table class="errors"><thead><tr><th>File</th><th>Message</th><th class="num">Run'
        f"</th><th>Recorded</th></tr></thead><tbody>{trs}</tbody></table></section>"
    )


def render_archive_report(data: ArchiveData, *, generated: datetime | None = None) -> str:
    """The archive summary of a results database as one self-contained HTML document.

    Parameters
    ----------
    data
        What the database holds for the summary
        (:func:`dosecheck.batch.archive_data.load_archive_data`: the selection by
        ``--since`` and ``--failed-only`` is made there).
    generated
        Time stamp printed in the report; default: now (local time).

    Raises
    ------
    InputError
        matplotlib missing.
    """
    entries = list(data.entries)
    since_utc, failed_only = data.since_utc, data.failed_only
    filters = _filters_text(data.since, since_utc, failed_only)
    rows = constraint_stats(entries)
    shown_db = data.db_path
    sections = [
        _header(shown_db, entries, rows, filters),
        _pass_rate_table(rows, entries, filters),
        _cards(rows),
        _errors_section(entries, data.error_stages),
        _unreadable_section(list(data.unreadable)),
        _runs_section(
            list(data.runs),
            shown_db,
            entries,
            since_utc,
            filters,
            data.total_evaluations,
            data.total_plans,
        ),
    ]
    when = (generated or datetime.now().astimezone()).strftime("%Y-%m-%d %H:%M %Z").strip()
    doc = {
        "dosecheck_version": __version__,
        "database": str(shown_db),
        "generated_at": when,
        "filters": {"since": since_utc, "failed_only": failed_only},
        "counts": _counts(entries),
        "dose_scale_counts": dose_scale_counts(entries),
        **assessment_counts(entries),
        "constraints": [r.to_dict() for r in rows],
    }
    csp = (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
        "base-uri 'none'; form-action 'none'"
    )
    c = _counts(entries)
    title = (
        f"dosecheck archive summary — {data.db_name} — {len(entries)} plans: "
        f"{c['pass']} pass, {c['fail']} fail, {c['incomplete']} incomplete, {c['error']} error"
    )
    footer = (
        f"<footer>Generated by dosecheck {text(__version__)} on {text(when)} from "
        f"<code>{text(shown_db)}</code>, using the latest evaluation of each plan (view "
        "<code>latest_plans</code>). This summary supports, and does not replace, the "
        "clinical review of each plan.</footer>"
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{csp}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta name="generator" content="dosecheck {attr(__version__)}">'
        f"<title>{text(title)}</title>"
        f"<style>{_stylesheet(data.db_name)}</style></head>\n"
        f"<body>{''.join(sections)}{footer}{embedded_json(doc, 'archive-json')}</body></html>\n"
    )
