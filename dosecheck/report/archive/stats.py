"""The numbers of the archive summary: each constraint over the plans (pass rates,
values, margins), and the small formatting helpers of its pages."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from dosecheck.report._html import CMP
from dosecheck.report.plots import STATUS_COLORS

__all__ = ["WORST_PLANS", "ConstraintStats", "constraint_stats"]

#: Plans listed per constraint in the "worst plans" table.
WORST_PLANS = 5

COLORS = {**STATUS_COLORS, "error": "#8250df"}
BAR_PASS = "#57a773"  # a lighter green: bars, not text


def _num(x: float | None, unit: str = "", *, signed: bool = False) -> str:
    from dosecheck.output.check_formats import format_value

    return format_value(x, unit, signed=signed)


def _when(utc: str | None) -> str:
    """``2024-06-01T09:58:12.123456Z`` → ``2024-06-01 09:58 UTC``."""
    if not utc:
        return "—"
    text = str(utc)
    if len(text) >= 16 and text[10] == "T":
        return f"{text[:10]} {text[11:16]} UTC"
    return text


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' * (n != 1)}"


def _finite(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


# --- the numbers -------------------------------------------------------------------------------
@dataclass
class _Point:
    """One plan's result for one constraint."""

    entry: dict[str, Any]
    record: dict[str, Any]

    @property
    def value(self) -> float | None:
        v = self.record.get("value")
        return float(v) if _finite(v) else None

    @property
    def margin(self) -> float | None:
        m = self.record.get("margin")
        return float(m) if _finite(m) else None

    @property
    def limit(self) -> float | None:
        x = self.record.get("limit")
        return float(x) if _finite(x) else None

    @property
    def status(self) -> str:
        return str(self.record.get("status"))

    def who(self) -> str:
        plan = self.entry["plan"]
        return f"{plan.get('patient_id') or '?'} / {plan.get('plan_label') or '(no RTPLAN)'}"


@dataclass
class ConstraintStats:
    """One constraint over the plans of the report."""

    set_name: str
    structure: str
    metric: str
    comparator: str
    limit_as_written: str
    priority: str
    unit: str
    dose_basis: str
    order: int
    points: list[_Point] = field(default_factory=list)

    @property
    def n_pass(self) -> int:
        return sum(p.status == "pass" for p in self.points)

    @property
    def n_fail(self) -> int:
        return sum(p.status == "fail" for p in self.points)

    @property
    def n_variation(self) -> int:
        """Results within the variation limit only (goal missed)."""
        return sum(p.status == "variation" for p in self.points)

    @property
    def n_not_evaluated(self) -> int:
        return sum(p.status not in ("pass", "fail", "variation") for p in self.points)

    @property
    def n_evaluated(self) -> int:
        return self.n_pass + self.n_fail + self.n_variation

    @property
    def pass_rate(self) -> float | None:
        n = self.n_evaluated
        return self.n_pass / n if n else None

    @property
    def fail_word(self) -> str:
        return "fail" if self.priority == "mandatory" else "not met"

    @property
    def limits(self) -> list[float]:
        return sorted({x for p in self.points if (x := p.limit) is not None})

    def limit_text(self) -> str:
        """The limit as written, with ≤/≥ and the unit (``< 300 cc``, ``≤ 107%``)."""
        cmp = CMP.get(self.comparator, self.comparator)
        w = self.limit_as_written
        if w.endswith("%"):
            text = f"{cmp} {w}" + ("" if self.unit == "%" else " of Rx")
        elif self.unit == "%":
            text = f"{cmp} {w}%"
        else:
            text = f"{cmp} {w} {self.unit}".rstrip()
        if self.dose_basis and self.dose_basis != "physical":
            text += f" ({self.dose_basis})"
        return text

    def title(self) -> str:
        return f"{self.structure} {self.metric} {self.limit_text()}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "constraint_set": self.set_name,
            "structure": self.structure,
            "metric": self.metric,
            "comparator": self.comparator,
            "limit_as_written": self.limit_as_written,
            "limit": self.limit_text(),
            "unit": self.unit,
            "priority": self.priority,
            "n_evaluated": self.n_evaluated,
            "n_pass": self.n_pass,
            "n_fail": self.n_fail,
            "n_variation": self.n_variation,
            "n_not_evaluated": self.n_not_evaluated,
            "pass_rate": self.pass_rate,
        }


def constraint_stats(entries: list[dict[str, Any]]) -> list[ConstraintStats]:
    """The constraints of ``entries`` (``ResultsDB.latest``), each with its results,
    in the order of their constraint set (sets by name)."""
    rows: dict[tuple[str, ...], ConstraintStats] = {}
    set_order: dict[str, int] = {}
    for e in entries:
        name = str((e.get("constraint_set") or {}).get("name") or "(no constraint set)")
        set_order.setdefault(name, len(set_order))
        for i, r in enumerate(e.get("results") or []):
            written = r.get("limit_as_written")
            if written is None:
                written = "" if r.get("limit") is None else json.dumps(r.get("limit"))
            key = (
                name,
                str(r.get("structure")),
                str(r.get("metric")),
                str(r.get("comparator")),
                str(written),
                str(r.get("priority") or "mandatory"),
                str(r.get("dose_basis") or "physical"),
            )
            row = rows.get(key)
            if row is None:
                row = rows[key] = ConstraintStats(
                    set_name=key[0],
                    structure=key[1],
                    metric=key[2],
                    comparator=key[3],
                    limit_as_written=key[4],
                    priority=key[5],
                    unit=str(r.get("unit") or ""),
                    dose_basis=key[6],
                    order=i,
                )
            row.order = min(row.order, i)
            row.points.append(_Point(e, r))
    return sorted(rows.values(), key=lambda r: (r.set_name.casefold(), r.order, r.structure))
