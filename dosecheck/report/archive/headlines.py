"""The archive summary's headline lines beside the totals: the dose scale, the TPS
comparison (``--compare-tps``) and the borderline verdicts, each only where the plans
have it."""

from __future__ import annotations

from typing import Any

from dosecheck.output.batch_formats import borderline_counts, tps_counts
from dosecheck.report._html import text

__all__ = ["assessment_counts", "assessment_lines", "dose_scale_counts", "dose_scale_line"]


def dose_scale_counts(entries: list[dict[str, Any]]) -> dict[str, int]:
    """Evaluated plans (not errors) per dose-scale verdict; ``not_recorded`` for plans
    recorded without one (before schema version 3)."""
    out: dict[str, int] = {}
    for e in entries:
        if e["status"] != "error":
            record = e.get("dose_scale")
            verdict = str(record["verdict"]) if record else "not_recorded"
            out[verdict] = out.get(verdict, 0) + 1
    return dict(sorted(out.items()))


def dose_scale_line(entries: list[dict[str, Any]]) -> str:
    """``p#dose-scale-count``: how many evaluated plans have a dose scale that is not
    ``consistent`` with their RTPLAN (``data-not-consistent``, ``data-evaluated``)."""
    counts = dose_scale_counts(entries)
    total = sum(counts.values())
    if not total:
        return ""
    others = {k: v for k, v in counts.items() if k != "consistent"}
    n = sum(others.values())
    detail = ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in others.items())
    return (
        f'<p class="headline" id="dose-scale-count" data-not-consistent="{n}" '
        f'data-evaluated="{total}">Dose scale not consistent with the RTPLAN: <b>{n}</b> of '
        f"<b>{total}</b> evaluated plans{text(f' ({detail})') if detail else ''}.</p>"
    )


def assessment_counts(entries: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """``{"tps_counts": …, "borderline_counts": …}`` for the embedded JSON, each key
    only where some plan has it (:func:`dosecheck.output.batch_formats.tps_counts`,
    :func:`~dosecheck.output.batch_formats.borderline_counts`)."""
    out: dict[str, dict[str, int]] = {}
    for key, counts in (
        ("tps_counts", tps_counts(entries)),
        ("borderline_counts", borderline_counts(entries)),
    ):
        if counts is not None:
            out[key] = counts
    return out


def assessment_lines(entries: list[dict[str, Any]]) -> str:
    """``p#tps-count`` (plans whose pass/fail flips on the TPS's DVH, of the plans
    checked with ``--compare-tps``: ``data-differ``, ``data-compared``) and
    ``p#borderline-count`` (borderline constraints and their plans: ``data-constraints``,
    ``data-plans``, ``data-assessed``); ``""`` for what no plan has."""
    out = ""
    tps = tps_counts(entries)
    if tps is not None:
        out += (
            f'<p class="headline" id="tps-count" data-differ="{tps["differ"]}" '
            f'data-compared="{tps["compared"]}">Verdict differs on the TPS\'s DVH: '
            f"<b>{tps['differ']}</b> of <b>{tps['compared']}</b> plans compared "
            f"({tps['with_tps_dvh']} with a TPS DVH).</p>"
        )
    bl = borderline_counts(entries)
    if bl is not None:
        out += (
            f'<p class="headline" id="borderline-count" data-constraints="{bl["constraints"]}" '
            f'data-plans="{bl["plans"]}" data-assessed="{bl["assessed"]}">Borderline '
            f"constraints: <b>{bl['constraints']}</b> in <b>{bl['plans']}</b> of "
            f"<b>{bl['assessed']}</b> plans assessed.</p>"
        )
    return out
