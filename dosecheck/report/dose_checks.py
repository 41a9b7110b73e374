"""The plan report's dose checks: how far the dose itself can be trusted.

Rendered from the ``plan`` object of ``dosecheck check --format json`` (so the page
shows exactly what the JSON records), right after the verdict:

* ``#dose-scale``: the RTDOSE's scale against the RTPLAN
  (:mod:`dosecheck.core.dose_scale`): verdict, method, what the RTPLAN expects and
  what the file holds, their ratio. ``consistent`` is a quiet box; ``not_verified``,
  ``unexplained`` and ``inconclusive`` a warning box; a contradiction that ``--dose-is``
  overrode an alert box;
* ``#beam-dose-check``: the PLAN dose against the sum of its BEAM doses (largest
  difference, where, the tolerance), when BEAM doses were beside it;
* ``table#plan-sum``: the plans of a plan sum (label, prescription, fractions, dose
  per fraction, RTPLAN).

Every value that comes from a file (ROI names in ``detail``, plan labels, paths) is
escaped.
"""

from __future__ import annotations

import json
from typing import Any

from dosecheck.report._html import attr, text

__all__ = ["render_dose_checks", "verdict_scale_line"]

#: How each method reads.
_METHOD_TEXT = {
    "beam_dose_points": "beam dose specification points (RTPLAN BeamDose)",
    "dose_reference_points": "dose reference points (RTPLAN TargetPrescriptionDose)",
    "target": "median dose of the prescribed target against the prescription",
    "grid_maximum": "maximum dose of the grid against the prescription (last resort)",
    "none": "no evidence (no RTPLAN, or nothing in it to compare with)",
}

#: How each verdict reads, in the heading.
_VERDICT_TEXT = {
    "consistent": "consistent with the RTPLAN",
    "not_verified": "NOT VERIFIED",
    "unexplained": "NOT CONFIRMED (unexplained ratio)",
    "inconclusive": "NOT CONFIRMED (inconclusive)",
    "fraction_label_on_total": "CONTRADICTS THE LABEL (already the course total)",
    "plan_label_on_fraction": "CONTRADICTS THE LABEL (one fraction)",
    "unit_slip": "CONTRADICTS THE UNITS (factor 100)",
}


def _gy(x: Any) -> str:
    return "—" if x is None else f"{float(x):.2f} Gy"


def _number(x: Any) -> str:
    """``x`` as the JSON literal (``data-value``)."""
    return attr(json.dumps(x))


def _style(record: dict[str, Any] | None) -> str:
    if record is None:
        return "check-none"
    verdict = record.get("verdict")
    if verdict == "consistent":
        return "check-ok"
    if verdict in ("fraction_label_on_total", "plan_label_on_fraction", "unit_slip"):
        return "check-alert"
    return "check-warn"


def verdict_scale_line(plan: dict[str, Any]) -> str:
    """One line for the verdict box: ``Dose scale: consistent (beam dose points, ratio
    1.000)`` or ``Dose scale NOT VERIFIED — see below``."""
    record = plan.get("dose_scale")
    if record is None:
        what = "checked per plan of the sum" if plan.get("plan_sum") else "not checked"
        return f'<div class="verdict-scale scale-none">Dose scale: {what}</div>'
    verdict = str(record.get("verdict"))
    if verdict == "consistent":
        ratio = record.get("ratio")
        how = str(record.get("method", "")).replace("_", " ")
        if ratio is not None:
            how += f", ratio {float(ratio):.3f}"
        return f'<div class="verdict-scale scale-ok">Dose scale: consistent ({text(how)})</div>'
    words = _VERDICT_TEXT.get(verdict, verdict.upper())
    return (
        '<div class="verdict-scale scale-warn">'
        f"Dose scale {text(words)} — see the dose checks below</div>"
    )


def _kv(rows: list[tuple[str, str, str]]) -> str:
    body = "".join(
        f'<tr><th scope="row">{text(label)}</th><td data-field="{attr(key)}">{cell}</td></tr>'
        for key, label, cell in rows
    )
    return f'<table class="kv"><tbody>{body}</tbody></table>'


def _dose_scale(record: dict[str, Any] | None, plan_sum: bool = False) -> str:
    if record is None:
        why = (
            "Each plan of the sum was checked against its own RTPLAN when it was loaded "
            "(a contradiction stops the check; anything unconfirmed is in the warnings); "
            "the summed dose has no RTPLAN of its own."
            if plan_sum
            else "The plan was not loaded from DICOM files, so the RTDOSE was not compared "
            "with an RTPLAN."
        )
        heading = "Dose scale: " + ("checked per plan of the sum" if plan_sum else "not checked")
        return (
            '<div class="dose-check check-none" id="dose-scale" data-verdict="">'
            f'<h2>{text(heading)}</h2><p class="none">{text(why)}</p></div>'
        )
    verdict = str(record.get("verdict"))
    basis = record.get("basis")
    fractions = record.get("fractions")
    if basis == "fraction":
        used = f"per fraction, multiplied by {fractions}"
        per = " (per fraction)"
    else:
        used = "as the course total"
        per = ""
    used += f" (from {record.get('basis_source') or 'label'})"
    ratio = record.get("ratio")
    ratio_text = None if ratio is None else f"{float(ratio):.3f}"
    method = record.get("method")
    rows = [
        ("verdict", "Verdict", text(verdict)),
        ("method", "Method", text(_METHOD_TEXT.get(str(method), method))),
        ("label", "DoseSummationType", text(record.get("label"))),
        ("basis", "Dose used", text(used)),
        ("fractions", "Fractions", text(fractions)),
        (
            "expected_gy",
            f"Expected{per}",
            f'<span data-value="{_number(record.get("expected_gy"))}">'
            f"{text(_gy(record.get('expected_gy')))}</span> (RTPLAN)",
        ),
        (
            "measured_gy",
            f"Measured{per}",
            f'<span data-value="{_number(record.get("measured_gy"))}">'
            f"{text(_gy(record.get('measured_gy')))}</span> (RTDOSE)",
        ),
        (
            "ratio",
            "Ratio measured / expected",
            f'<span data-value="{_number(ratio)}">{text(ratio_text)}</span>',
        ),
        ("detail", "Where from", text(record.get("detail"))),
    ]
    message = ""
    if verdict != "consistent" and record.get("message"):
        message = f'<p class="check-message">{text(record["message"])}</p>'
    words = _VERDICT_TEXT.get(verdict, verdict)
    return (
        f'<div class="dose-check {_style(record)}" id="dose-scale" data-verdict="{attr(verdict)}" '
        f'data-method="{attr(record.get("method"))}" data-ratio="{_number(ratio)}" '
        f'role="{"status" if verdict == "consistent" else "alert"}">'
        f"<h2>Dose scale: {text(words)}</h2>{message}{_kv(rows)}</div>"
    )


def _beam_dose_check(record: dict[str, Any] | None) -> str:
    if record is None:
        return ""
    ok = bool(record.get("consistent"))
    beams = list(record.get("beam_doses") or [])
    at = record.get("at_mm") or [None, None, None]
    where = "—" if None in at else "({:.1f}, {:.1f}, {:.1f}) mm".format(*(float(v) for v in at))
    diff = float(record.get("max_abs_diff_gy") or 0.0)
    tolerance = float(record.get("tolerance_gy") or 0.0)
    rows = [
        ("consistent", "Consistent", "yes" if ok else "<b>NO</b>"),
        (
            "max_abs_diff_gy",
            "Largest difference",
            f'<span data-value="{_number(record.get("max_abs_diff_gy"))}">'
            f"{text(f'{diff:.4g} Gy')}</span>",
        ),
        ("at_mm", "At", text(where)),
        (
            "tolerance_gy",
            "Tolerance there",
            f'<span data-value="{_number(record.get("tolerance_gy"))}">'
            f"{text(f'{tolerance:.2g} Gy')}</span> "
            "(from the files' DoseGridScaling)",
        ),
        ("n_compared", "Voxels compared", text(record.get("n_compared"))),
        ("resampled", "Beams resampled", "yes" if record.get("resampled") else "no"),
        ("plan_dose", "PLAN dose", f'<span class="mono">{text(record.get("plan_dose"))}</span>'),
        (
            "beam_doses",
            "BEAM doses",
            "<br>".join(f'<span class="mono">{text(b)}</span>' for b in beams) or "—",
        ),
    ]
    heading = (
        f"PLAN dose agrees with the sum of its {len(beams)} BEAM doses"
        if ok
        else f"PLAN dose and the sum of its {len(beams)} BEAM doses DIFFER"
    )
    message = ""
    if not ok:
        message = (
            '<p class="check-message">The PLAN dose is used; a beam may be missing, or a '
            "beam of another plan may be beside it. Export the plan again, or name the dose "
            "to trust with --rtdose.</p>"
        )
    return (
        f'<div class="dose-check {"check-ok" if ok else "check-warn"}" id="beam-dose-check" '
        f'data-consistent="{"true" if ok else "false"}">'
        f"<h2>{text(heading)}</h2>{message}{_kv(rows)}</div>"
    )


def _plan_sum(record: dict[str, Any] | None) -> str:
    if record is None:
        return ""
    parts = list(record.get("parts") or [])
    rows = []
    for i, part in enumerate(parts):
        rx = part.get("prescription_gy")
        per = part.get("dose_per_fraction_gy")
        rows.append(
            f'<tr class="plan-sum-part" data-index="{i}">'
            f'<td data-field="label">{text(part.get("label"))}</td>'
            f'<td class="num" data-field="prescription_gy" data-value="{_number(rx)}">'
            f"{text(_gy(rx))}</td>"
            f'<td class="num" data-field="fractions">{text(part.get("fractions"))}</td>'
            f'<td class="num" data-field="dose_per_fraction_gy" data-value="{_number(per)}">'
            f"{text(_gy(per))}</td>"
            f'<td data-field="rtplan"><span class="mono">{text(part.get("rtplan"))}</span></td>'
            "</tr>"
        )
    note = ""
    if record.get("note"):
        note = f'<p class="check-message">{text(record["note"])}</p>'
    head = (
        "<thead><tr><th>Plan</th><th>Prescription</th><th>Fractions</th>"
        "<th>Dose per fraction</th><th>RTPLAN</th></tr></thead>"
    )
    return (
        f'<div class="dose-check check-ok" id="plan-sum-parts" data-parts="{len(parts)}">'
        f"<h2>Plan sum of {len(parts)} plans</h2>{note}"
        f'<table id="plan-sum">{head}<tbody>{"".join(rows)}</tbody></table></div>'
    )


def render_dose_checks(plan: dict[str, Any]) -> str:
    """``section#dose-checks`` for a report's ``plan`` object (``check`` JSON)."""
    return (
        '<section id="dose-checks">'
        + _dose_scale(plan.get("dose_scale"), plan_sum=plan.get("plan_sum") is not None)
        + _beam_dose_check(plan.get("beam_dose_check"))
        + _plan_sum(plan.get("plan_sum"))
        + "</section>"
    )
