"""What a check found: :class:`CheckReport` (results, verdict, prescription, DVHs, and
what the TPS comparison and the borderline ranges add) and :class:`Prescription`.

Built by :func:`dosecheck.checking.check.check_plan`; the renderers in
:mod:`dosecheck.output.check_formats` and :mod:`dosecheck.report` read it.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from dosecheck import __version__
from dosecheck.checking.model import (
    Constraint,
    ConstraintResult,
    ConstraintSet,
    Status,
    Verdict,
)
from dosecheck.checking.sets import describe_prescription
from dosecheck.core.structures import StructureDVH

if TYPE_CHECKING:
    from dosecheck.checking.borderline import ValueRange
    from dosecheck.checking.tps_check import TpsValue

__all__ = ["CheckReport", "Prescription", "PrescriptionSource", "file_sha256", "result_margin"]


#: Where the prescription came from.
PrescriptionSource = Literal["command line", "RTPLAN", "constraint set", "none"]


@dataclass(frozen=True)
class Prescription:
    """The prescription a check used.

    Attributes
    ----------
    dose_gy
        Prescription dose (Gy), or ``None`` when nothing gave one.
    fractions
        Number of fractions, or ``None``.
    source
        Where ``dose_gy`` came from: ``"command line"``, ``"RTPLAN"``,
        ``"constraint set"`` or ``"none"``.
    fractions_source
        Where ``fractions`` came from (same values).
    """

    dose_gy: float | None
    fractions: int | None
    source: PrescriptionSource
    fractions_source: PrescriptionSource

    def describe(self) -> str:
        """E.g. ``"50.4 Gy in 28 fractions (from RTPLAN)"``."""
        text = describe_prescription(self.dose_gy, self.fractions)
        if self.source == "none":
            return text
        if self.fractions is None or self.fractions_source == self.source:
            return f"{text} (from {self.source})"
        return f"{text} (dose from {self.source}, fractions from {self.fractions_source})"

    def to_dict(self) -> dict[str, Any]:
        """``{dose_gy, fractions, source, fractions_source}``."""
        return {
            "dose_gy": self.dose_gy,
            "fractions": self.fractions,
            "source": self.source,
            "fractions_source": self.fractions_source,
        }


def result_margin(result: ConstraintResult) -> float | None:
    """Distance from the value to the limit in the metric's unit: positive inside the
    limit, negative outside, ``None`` when not evaluated."""
    if result.value is None or result.limit is None:
        return None
    if result.comparator in ("<", "<="):
        return result.limit - result.value
    return result.value - result.limit


@dataclass(frozen=True, eq=False)
class CheckReport:
    """The outcome of :func:`check_plan`.

    Attributes
    ----------
    constraint_set
        The set checked against (its ``name``, ``path`` and ``sha256`` identify it).
    results
        One result per constraint, in file order.
    constraints
        The constraints behind ``results`` (same order), e.g. for the metric as written.
    verdict
        ``"fail"`` when a mandatory constraint failed (with ``strict``, also when one is
        only within its variation limit), else ``"incomplete"`` when a
        mandatory constraint could not be evaluated, else ``"pass"``.
    prescription
        The prescription used and where it came from.
    warnings
        Plan-loading warnings, prescription warnings, then DVH warnings (no repeats).
    prescription_warnings
        The prescription warnings alone (also in ``warnings``), e.g. an RTPLAN whose
        prescription is not the constraint set's; renderers show them prominently.
    dvhs
        The DVHs computed, one per matched ROI, in the order first needed.
    plan
        Plan identity: paths, patient, UIDs, dose summation, RTPLAN prescription, and
        ``sha256`` of every input file.
    strict
        Whether ``not_evaluated`` was turned into ``fail`` and a mandatory
        ``variation`` fails the plan.
    dosecheck_version
        The version that produced the report.
    naming
        How ROIs were named for the check: ``{"site_names": {path, sha256, source,
        names} or None, "command_line": {structure: roi}}``.
    compare_tps
        Whether the constraints were also evaluated on the planning system's DVHs.
    tps_values
        With ``compare_tps``: each result's value on the TPS's DVH (same order).
    tps_notes
        With ``compare_tps``: plan-level notes on the TPS's DVHs.
    tps_differences
        With ``compare_tps``: one sentence per constraint whose pass/fail differs on
        the TPS's DVH (also at the top of ``prescription_warnings``, shown prominently).
    ranges
        Each result's value across end-cap conventions (and the TPS's DVH), and whether
        its limit lies inside (:mod:`dosecheck.checking.borderline`; same order).
    end_caps
        The end-cap convention of the DVHs (``"half-slice"``, ``"none"``, ``"shape"``).
    """

    constraint_set: ConstraintSet
    results: tuple[ConstraintResult, ...]
    constraints: tuple[Constraint, ...]
    verdict: Verdict
    prescription: Prescription
    warnings: tuple[str, ...]
    dvhs: tuple[StructureDVH, ...]
    plan: dict[str, Any]
    prescription_warnings: tuple[str, ...] = ()
    strict: bool = False
    dosecheck_version: str = field(default=__version__)
    naming: dict[str, Any] = field(default_factory=lambda: {"site_names": None, "command_line": {}})
    compare_tps: bool = False
    tps_values: tuple[TpsValue, ...] = ()
    tps_notes: tuple[str, ...] = ()
    tps_differences: tuple[str, ...] = ()
    ranges: tuple[ValueRange, ...] = ()
    end_caps: str = "half-slice"

    def __post_init__(self) -> None:
        object.__setattr__(self, "verdict", Verdict(self.verdict))  # ValueError for a typo

    # --- counts ------------------------------------------------------------------
    @property
    def exit_code(self) -> int:
        """0 when every mandatory constraint was evaluated and passed or is within its
        variation limit (with ``strict``, within variation fails), 1 otherwise
        (``fail`` or ``incomplete``)."""
        return 0 if self.verdict is Verdict.PASS else 1

    @property
    def mandatory(self) -> list[ConstraintResult]:
        """The results of mandatory constraints."""
        return [r for r in self.results if r.priority == "mandatory"]

    @property
    def mandatory_failures(self) -> list[ConstraintResult]:
        """The failed mandatory constraints."""
        return [r for r in self.results if r.is_mandatory_failure]

    def metric_as_written(self, index: int) -> str:
        """The metric of result ``index`` exactly as written in the constraint file."""
        return self.constraints[index].metric.text.strip()

    def summary(self) -> str:
        """The one-line verdict, e.g.
        ``FAIL — 1 of 5 mandatory constraints failed (Bag_Bowel V45Gy[cc])``."""
        mandatory = self.mandatory
        n = len(mandatory)
        noun = "constraint" if n == 1 else "constraints"
        failed = self.mandatory_failures
        not_evaluated = [r for r in mandatory if r.status is Status.NOT_EVALUATED]
        optimal_missed = [
            r for r in self.results if r.priority == "optimal" and r.status is Status.FAIL
        ]
        variation = [r for r in mandatory if r.status is Status.VARIATION]
        if self.strict and variation and not failed:
            names = ", ".join(f"{r.structure} {r.metric}" for r in variation)
            k = len(variation)
            line = (
                f"FAIL — {k} of {n} mandatory {noun} only within variation, "
                f"failing with --strict ({names})"
            )
            variation = []
            if not_evaluated:
                names = ", ".join(f"{r.structure} {r.metric}" for r in not_evaluated)
                line += f"; {len(not_evaluated)} not evaluated ({names})"
        elif failed:
            names = ", ".join(f"{r.structure} {r.metric}" for r in failed)
            line = f"FAIL — {len(failed)} of {n} mandatory {noun} failed ({names})"
            if not_evaluated:
                names = ", ".join(f"{r.structure} {r.metric}" for r in not_evaluated)
                line += f"; {len(not_evaluated)} not evaluated ({names})"
        elif not_evaluated:
            names = ", ".join(dict.fromkeys(_why_not_evaluated(r) for r in not_evaluated))
            passed = n - len(not_evaluated)
            line = (
                f"INCOMPLETE — {passed} of {n} mandatory {noun} passed, "
                f"{len(not_evaluated)} not evaluated ({names})"
            )
        elif n and variation:
            line = f"PASS — {n - len(variation)} of {n} mandatory {noun} passed"
        elif n:
            line = f"PASS — all {n} mandatory {noun} passed"
        else:
            line = "PASS — the constraint set has no mandatory constraints"
        if variation:
            names = ", ".join(f"{r.structure} {r.metric}" for r in variation)
            line += f"; {len(variation)} within variation ({names})"
        optimal_variation = [
            r for r in self.results if r.priority == "optimal" and r.status is Status.VARIATION
        ]
        if optimal_variation:
            k = len(optimal_variation)
            line += f"; {k} optimal {'constraint' if k == 1 else 'constraints'} within variation"
        if optimal_missed:
            k = len(optimal_missed)
            line += f"; {k} optimal {'constraint' if k == 1 else 'constraints'} not met"
        return line

    # --- records -------------------------------------------------------------------
    def result_records(self) -> list[dict[str, Any]]:
        """One JSON-ready object per result.

        Keys: ``structure``, ``roi``, ``metric`` (exactly as written in the file),
        ``metric_canonical``, ``value``, ``unit``, ``comparator``, ``limit`` (in
        ``unit``), ``limit_as_written``, ``margin``, ``status``, ``priority``,
        ``message``, ``constraint``, ``reason``, ``matched_by``, ``line``, ``note``,
        ``reference``, ``prescription_gy``, ``warnings``, ``dose_basis``, ``alpha_beta``,
        ``plan_fractions``, ``converted_dose_gy``, ``variation_limit``,
        ``variation_as_written``.
        """
        out = []
        for i, (r, c) in enumerate(zip(self.results, self.constraints, strict=True)):
            d = r.to_dict()
            record: dict[str, Any] = {
                "structure": r.structure,
                "roi": r.roi,
                "metric": self.metric_as_written(i),
                "metric_canonical": r.metric,
                "value": _json_number(r.value),
                "unit": r.unit,
                "comparator": r.comparator,
                "limit": _json_number(r.limit),
                "limit_as_written": c.limit_text,
                "variation_limit": _json_number(r.variation_limit),
                "variation_as_written": c.variation_text or None,
                "margin": _json_number(result_margin(r)),
                "status": r.status,
                "priority": r.priority,
                "message": r.message,
            }
            record.update({k: v for k, v in d.items() if k not in record})
            if self.ranges:
                record.update(self.ranges[i].to_dict())
            if self.compare_tps:
                record.update(self.tps_values[i].to_dict())
            out.append(record)
        return out

    def constraint_set_record(self) -> dict[str, Any]:
        """``{name, path, sha256, source, version, prescription_gy, fractions}``."""
        c = self.constraint_set
        return {
            "name": c.name,
            "path": c.path,
            "sha256": c.sha256,
            "source": c.source,
            "version": c.version,
            "prescription_gy": c.prescription_gy,
            "fractions": c.fractions,
        }

    def to_dict(self) -> dict[str, Any]:
        """The whole report as a JSON-ready dictionary."""
        # ``variation`` is counted when the set has a variation limit (a set without
        # any keeps the counts it always had).
        has_variation = any(c.variation is not None for c in self.constraints)
        counts = {
            s: sum(r.status is s for r in self.results)
            for s in Status
            if s is not Status.VARIATION or has_variation
        }
        return {
            "dosecheck_version": self.dosecheck_version,
            "verdict": self.verdict,
            "summary": self.summary(),
            "strict": self.strict,
            "end_caps": self.end_caps,
            "counts": counts,
            "plan": self.plan,
            "prescription": self.prescription.to_dict(),
            "constraint_set": self.constraint_set_record(),
            "naming": self.naming,
            "results": self.result_records(),
            "warnings": list(self.warnings),
            **({"tps": self.tps_record()} if self.compare_tps else {}),
        }

    def tps_record(self) -> dict[str, Any]:
        """``{notes, differences, structures: [{name, number, tps, tps_comparison,
        tps_note}]}``: the TPS comparison of every DVH the check computed."""
        from dosecheck.core.tps_plan import tps_record as keys_of

        return {
            "notes": list(self.tps_notes),
            "differences": list(self.tps_differences),
            "structures": [
                {"name": i.structure.name, "number": i.structure.number, **keys_of(i)}
                for i in self.dvhs
            ],
        }


_REASON_TEXT = {
    "structure_not_found": "structure not found",
    "structure_ambiguous": "structure ambiguous",
    "outside_dose_grid": "outside the dose grid",
}


def _why_not_evaluated(r: ConstraintResult) -> str:
    """``Bag_Bowel: structure not found``, ``PTV V95%[%]: metric undefined``."""
    text = _REASON_TEXT.get(r.reason or "")
    if text is not None:
        return f"{r.structure}: {text}"
    return f"{r.structure} {r.metric}: metric undefined"


def _json_number(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


def file_sha256(path: str | Path | None) -> str | None:
    """Hex SHA-256 of a file's bytes, or ``None`` for no path or an unreadable file."""
    if not path:
        return None
    h = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    except OSError:
        return None
    return h.hexdigest()
