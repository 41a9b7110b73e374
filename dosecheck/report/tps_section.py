"""The plan report's comparison with the planning system's DVHs (``--compare-tps``).

Rendered from the ``tps`` object of ``dosecheck check --format json``:

* ``#tps-differences``: an alert box, right after the dose checks, listing every
  constraint whose pass/fail differs on the TPS's DVH ("dosecheck FAIL, TPS DVH PASS");
* ``section#tps-comparison``: per computed DVH, dosecheck's and the TPS's volume and
  mean, the differences, agreement, and the explanations.

Everything from a file (ROI names, findings naming them) is escaped.
"""

from __future__ import annotations

from typing import Any

from dosecheck.report._html import attr, text

__all__ = ["TPS_CSS", "render_tps_differences", "render_tps_section"]

TPS_CSS = """
#tps-differences { background: #ffebe9; border: 2px solid var(--fail); border-radius: 6px;
  padding: 8px 12px; margin-top: 12px; }
#tps-differences h2 { border: none; margin: 2px 0 6px; font-size: 15px; color: var(--fail); }
table.tps td.explain { font-size: 11px; }
table.tps td.explain li { margin: 1px 0; }
table.tps .agree-no { color: var(--fail); font-weight: 700; }
"""


def render_tps_differences(tps: dict[str, Any] | None) -> str:
    """The alert box of constraints whose verdict differs on the TPS's DVH ("" if none)."""
    if not tps or not tps.get("differences"):
        return ""
    items = "".join(f'<li class="tps-difference">{text(d)}</li>' for d in tps["differences"])
    n = len(tps["differences"])
    return (
        f'<section id="tps-differences" data-count="{n}"><h2>The TPS\'s own DVH gives another '
        f"verdict for {n} constraint{'s' if n != 1 else ''}</h2><ul>{items}</ul></section>"
    )


def _f(x: Any, digits: int = 2, signed: bool = False) -> str:
    if x is None:
        return "—"
    return f"{float(x):+.{digits}f}" if signed else f"{float(x):.{digits}f}"


def render_tps_section(tps: dict[str, Any] | None, ours: dict[str, dict[str, Any]]) -> str:
    """The comparison table; ``ours`` maps ROI name to ``{volume_cc, mean_gy}``."""
    if tps is None:
        return ""
    rows = []
    for s in tps.get("structures", []):
        t, c = s.get("tps"), s.get("tps_comparison")
        name = str(s.get("name", ""))
        mine = ours.get(name, {})
        if t is None:
            rows.append(
                f'<tr data-roi="{attr(name)}" data-agree=""><td>{text(name)}</td>'
                f"<td class=num>{_f(mine.get('volume_cc'))}</td><td colspan=6>"
                f"{text(s.get('tps_note') or 'no TPS DVH')}</td></tr>"
            )
            continue
        explanations = list(c.get("explanations", [])) if c else []
        if s.get("tps_note"):
            explanations.append(s["tps_note"])
        items = "".join(f"<li>{text(e)}</li>" for e in explanations)
        agree = "" if c is None else ("yes" if c.get("agree") else "no")
        d95 = (c or {}).get("dose_metrics_gy", {}).get("D95%")
        rows.append(
            f'<tr data-roi="{attr(name)}" data-agree="{attr(agree)}"><td>{text(name)}</td>'
            f"<td class=num>{_f(mine.get('volume_cc'))}</td>"
            f"<td class=num>{_f(t.get('volume_cc'))}</td>"
            f"<td class=num>{_f((c or {}).get('volume_pct'), 1, True)}</td>"
            f"<td class=num>{_f((c or {}).get('mean_gy'), 3, True)}</td>"
            f"<td class=num>{_f(d95, 3, True)}</td>"
            f'<td class="agree-{attr(agree or "none")}">{text(agree or "—")}</td>'
            f'<td class="explain"><ul>{items}</ul></td></tr>'
        )
    notes = "".join(f"<li>{text(n)}</li>" for n in tps.get("notes", []))
    return (
        '<section id="tps-comparison"><h2>Beside the planning system\'s DVHs</h2>'
        '<p class="legend-note">The DVHs the planning system wrote into the RTDOSE '
        "(DVHSequence), read as written, beside dosecheck's; differences are dosecheck − "
        "TPS. Agreement: volume within 3 % (or 0.05 cc), mean and D98/D95/D50/D2 %/D0.03cc "
        "within 2 % of the prescription (or 0.05 Gy, or the TPS's bin width).</p>"
        + (f"<ul class=tps-notes>{notes}</ul>" if notes else "")
        + '<table class="tps constraints"><thead><tr><th>ROI</th><th>dosecheck V (cc)</th>'
        "<th>TPS V (cc)</th><th>ΔV %</th><th>Δmean (Gy)</th><th>ΔD95% (Gy)</th><th>Agree</th>"
        f"<th>Why</th></tr></thead><tbody>{''.join(rows)}</tbody></table></section>"
    )
