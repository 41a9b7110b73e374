"""Data objects of constraint checking: constraint sets, constraints and results.

Nothing here reads files or DICOM; :mod:`dosecheck.checking.loader` builds these from
YAML and :mod:`dosecheck.checking.evaluate` produces :class:`ConstraintResult`.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any, Final, Literal

from dosecheck.checking.fractionation import (
    DOSE_BASES,
    DoseBasis,
    describe_basis,
    fractionation_refusal,
)
from dosecheck.errors import MetricDomainError
from dosecheck.metrics import Metric, format_number

Comparator = Literal["<", "<=", ">", ">="]
Priority = Literal["mandatory", "optimal"]


class Status(StrEnum):
    """The result of one constraint. A ``str``: JSON, CSV and the database hold the value."""

    PASS = "pass"
    FAIL = "fail"
    #: The goal (``limit``) was missed but the constraint's ``variation`` limit was met.
    VARIATION = "variation"
    #: The ROI is missing or ambiguous, or the metric is undefined on its DVH.
    NOT_EVALUATED = "not_evaluated"


class ShownStatus(StrEnum):
    """A result as people see it: a failed *optimal* constraint is ``not_met``, not ``fail``.

    The tables, plots and HTML reports colour and label results by this.
    """

    PASS = "pass"
    FAIL = "fail"
    NOT_MET = "not_met"
    VARIATION = "variation"
    NOT_EVALUATED = "not_evaluated"

    @classmethod
    def of(cls, status: str, priority: str) -> ShownStatus:
        """How a result with this ``status`` and ``priority`` is shown."""
        if status == Status.PASS:
            return cls.PASS
        if status == Status.VARIATION:
            return cls.VARIATION
        if status == Status.FAIL:
            return cls.FAIL if priority == "mandatory" else cls.NOT_MET
        return cls.NOT_EVALUATED

    @property
    def label(self) -> str:
        """``PASS``, ``FAIL``, ``NOT MET (optimal)``, ``VARIATION`` or ``NOT EVALUATED``."""
        return _SHOWN_LABEL[self]


_SHOWN_LABEL = {
    ShownStatus.PASS: "PASS",
    ShownStatus.FAIL: "FAIL",
    ShownStatus.NOT_MET: "NOT MET (optimal)",
    ShownStatus.VARIATION: "VARIATION",
    ShownStatus.NOT_EVALUATED: "NOT EVALUATED",
}

#: Why a result is ``not_evaluated`` (or failed only because of ``strict``).
Reason = Literal[
    "structure_not_found", "structure_ambiguous", "metric_undefined", "outside_dose_grid"
]
# A conformity or gradient index whose body ROI is missing or ambiguous takes the
# structure reasons: the body is a structure the check needs.


#: The plan's verdict: ``incomplete`` when no mandatory constraint failed but at least
#: one could not be evaluated.
class Verdict(StrEnum):
    """The plan's verdict (a ``str``: JSON and the database hold the value)."""

    PASS = "pass"
    FAIL = "fail"
    INCOMPLETE = "incomplete"


COMPARATORS: Final[dict[str, Callable[[float, float], bool]]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
PRIORITIES: Final = ("mandatory", "optimal")


@dataclass(frozen=True)
class Constraint:
    """One dose-volume constraint: ``<metric> <comparator> <limit>``.

    Attributes
    ----------
    metric
        The DVH metric.
    comparator
        ``"<"``, ``"<="``, ``">"`` or ``">="``; the value must satisfy
        ``value <comparator> limit``.
    limit
        The limit as written: in the metric's output unit, or in percent of the
        prescription dose when ``limit_unit_is_percent_rx``.
    limit_unit_is_percent_rx
        True when a dose limit was written as a percentage of the prescription
        (``Max[Gy] <= 107%``) and must be converted with the prescription dose.
    priority
        ``"mandatory"`` (a miss fails the plan) or ``"optimal"`` (reported only).
    note, reference
        Free text from the constraint set.
    line
        Line of the constraint in its file (1-based), if loaded from a file.
    text
        The constraint as written, e.g. ``"V30Gy[cc] < 600"``; for a converted
        constraint followed by its basis, e.g. ``"V45Gy[cc] < 300 (EQD2, α/β 3 Gy)"``.
    dose_basis
        What the constraint's absolute dose (the dose of ``V``/``CV``, the limit of
        ``D``/``DC``/``Max``/``Min``) means: ``"physical"`` (as is), ``"eqd2"`` (EQD2
        with ``alpha_beta``) or ``"set_fractions"`` (physical in ``basis_fractions``
        fractions). See :mod:`dosecheck.checking.fractionation`.
    alpha_beta
        α/β (Gy) of the conversion; required unless ``dose_basis`` is physical.
    basis_fractions
        The constraint set's number of fractions; required for ``set_fractions``.
    variation
        The variation limit (acceptable variation), or ``None``: in the unit of
        ``limit`` (% of prescription when ``limit_unit_is_percent_rx``), same
        comparator, strictly looser than ``limit`` (larger for ``<``/``<=``, smaller
        for ``>``/``>=``). A value that misses ``limit`` but meets ``variation`` is
        :attr:`Status.VARIATION`.
    """

    metric: Metric
    comparator: Comparator
    limit: float
    limit_unit_is_percent_rx: bool = False
    priority: Priority = "mandatory"
    note: str = ""
    reference: str = ""
    line: int | None = None
    text: str = ""
    dose_basis: DoseBasis = "physical"
    alpha_beta: float | None = None
    basis_fractions: int | None = None
    variation: float | None = None

    def __post_init__(self) -> None:
        if self.comparator not in COMPARATORS:
            raise ValueError(f"comparator must be one of <, <=, >, >=; got {self.comparator!r}")
        if self.priority not in PRIORITIES:
            raise ValueError(f"priority must be mandatory or optimal; got {self.priority!r}")
        if self.limit_unit_is_percent_rx and not self.metric.gives_dose:
            what = "is a ratio" if self.metric.is_index else "gives a volume"
            raise ValueError(f"{self.metric} {what}: its limit cannot be % of prescription")
        problem = (
            self._fractionation_problem() or self._variation_problem() or self._index_problem()
        )
        if problem:
            raise ValueError(problem)
        if not self.text:
            text = f"{self.metric} {self.comparator} {self.limit_text}"
            if self.is_converted:
                text += f" ({self.basis_text})"
            object.__setattr__(self, "text", text)

    def _variation_problem(self) -> str | None:
        v = self.variation
        if v is None:
            return None
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) or v < 0:
            return f"the variation limit must be a number >= 0, not {v!r}"
        looser = v > self.limit if self.is_upper_limit else v < self.limit
        if not looser:
            word, sign = ("larger", ">") if self.is_upper_limit else ("smaller", "<")
            return (
                f"the variation limit {self.variation_text} of {self.metric} "
                f"{self.comparator} {self.limit_text} is not looser than the goal: for "
                f"{self.comparator!r} it must be {word} ({sign} {self.limit_text})"
            )
        if self.is_converted and self.metric.gives_dose:
            return (
                f"a variation limit on a converted dose limit ({self.basis_text}) is not "
                "supported; give the constraint with dose_basis: physical"
            )
        return None

    def _index_problem(self) -> str | None:
        for what, v in (("limit", self.limit), ("variation limit", self.variation)):
            problem = None if v is None else self.metric.unreachable(v)
            if problem:
                return f"the {what} {format_number(v)} of {self.metric} {problem}"
        return None

    @property
    def variation_text(self) -> str:
        """The variation limit as written in canonical form (``320``, ``110%``), or ``""``."""
        if self.variation is None:
            return ""
        return format_number(self.variation) + ("%" if self.limit_unit_is_percent_rx else "")

    def _fractionation_problem(self) -> str | None:
        basis = self.dose_basis
        if basis not in DOSE_BASES:
            return f"dose_basis must be one of {', '.join(DOSE_BASES)}; got {basis!r}"
        if basis == "physical":
            if self.alpha_beta is not None:
                return "alpha_beta has no effect on a physical dose"
            return None
        ab = self.alpha_beta
        if ab is None or not (math.isfinite(ab) and ab > 0):
            return f"dose_basis {basis} needs alpha_beta > 0 (Gy), got {ab!r}"
        if basis == "set_fractions" and (self.basis_fractions is None or self.basis_fractions < 1):
            return "dose_basis set_fractions needs the set's number of fractions"
        return fractionation_refusal(self.metric, self.limit_unit_is_percent_rx, basis)

    @property
    def is_converted(self) -> bool:
        """True when the constraint's dose is EQD2 or for another number of fractions."""
        return self.dose_basis != "physical"

    @property
    def basis_text(self) -> str:
        """``"physical"``, ``"EQD2, α/β 3 Gy"`` or ``"in 28 fx, α/β 3 Gy"``."""
        return describe_basis(self.dose_basis, self.alpha_beta, self.basis_fractions)

    @property
    def dose_as_written_gy(self) -> float | None:
        """The absolute dose a ``dose_basis`` applies to, in Gy: the dose of ``V``/``CV``
        or the limit of a dose metric; ``None`` when there is none (``Volume``, doses in
        % of prescription)."""
        m = self.metric
        if m.kind in ("V", "CV"):
            assert m.number is not None
            return _gy(m.number, m.number_unit)
        if m.gives_dose and not self.limit_unit_is_percent_rx:
            return _gy(self.limit, m.output_unit)
        return None

    @property
    def needs_prescription(self) -> bool:
        """True when the metric or the limit is a percentage of the prescription."""
        return self.metric.needs_prescription or self.limit_unit_is_percent_rx

    @property
    def is_upper_limit(self) -> bool:
        """True for ``<`` and ``<=``."""
        return self.comparator in ("<", "<=")

    @property
    def limit_text(self) -> str:
        """The limit as written in canonical form: ``600``, ``107%``."""
        return format_number(self.limit) + ("%" if self.limit_unit_is_percent_rx else "")

    def limit_in_metric_unit(self, prescription_gy: float | None) -> float:
        """The limit in the metric's output unit.

        Raises
        ------
        MetricDomainError
            If the limit is a percentage of the prescription and ``prescription_gy``
            is missing or not positive.
        """
        if not self.limit_unit_is_percent_rx:
            return self.limit
        if prescription_gy is None or not (math.isfinite(prescription_gy) and prescription_gy > 0):
            raise MetricDomainError(
                f"the limit {self.limit_text} of {self.metric} needs a prescription dose; "
                "pass --prescription or use a plan with an RTPLAN"
            )
        gy = self.limit * prescription_gy / 100.0
        return gy * 100.0 if self.metric.output_unit == "cGy" else gy

    def variation_in_metric_unit(self, prescription_gy: float | None) -> float | None:
        """The variation limit in the metric's output unit, or ``None`` without one."""
        if self.variation is None:
            return None
        return _with_limit(self, self.variation).limit_in_metric_unit(prescription_gy)

    def holds(self, value: float, limit: float) -> bool:
        """Whether ``value <comparator> limit``."""
        return COMPARATORS[self.comparator](value, limit)


def _with_limit(c: Constraint, limit: float) -> Constraint:
    """``c`` with another limit and no variation (for converting a variation limit)."""
    return Constraint(
        c.metric,
        c.comparator,
        limit,
        c.limit_unit_is_percent_rx,
        c.priority,
        text=c.text or "-",
    )


def _gy(x: float, unit: str | None) -> float | None:
    if unit == "Gy":
        return x
    if unit == "cGy":
        return x / 100.0
    return None


@dataclass(frozen=True)
class StructureSpec:
    """A structure of a constraint set and how to find it among the plan's ROIs.

    Attributes
    ----------
    name
        The structure's name in the constraint set (preferably TG-263).
    aliases
        Other names the ROI may have in a plan.
    regex
        Optional regular expression, matched case-insensitively against the whole
        ROI name (:func:`re.fullmatch`), tried after the name and aliases.
    constraints
        The constraints on this structure, in file order.
    line
        Line of the entry in its file (1-based).
    target
        A TG-263 target type with an optional classifier (``"PTV"``, ``"PTVn"``):
        the structure is the target of that type at the prescription dose, found by
        the RTPLAN's dose reference, the TG-263 dose level of the ROI names or the
        RTROIInterpretedType (see :mod:`dosecheck.checking.matching`).
    """

    name: str
    aliases: tuple[str, ...] = ()
    regex: str | None = None
    constraints: tuple[Constraint, ...] = ()
    line: int | None = None
    target: str | None = None


@dataclass(frozen=True)
class ConstraintSet:
    """A named set of constraints on several structures.

    Attributes
    ----------
    name
        Human-readable name.
    path
        File it was loaded from (``"<string>"`` for text).
    source
        Where the constraints come from (protocol, publication); may be empty.
    prescription_gy, fractions
        The prescription the set was written for, if given. Needed when a metric or
        limit is a percentage of the prescription.
    structures
        The structures, in file order.
    sha256
        Hex digest of the file's bytes, to identify the exact version used.
    description, version
        Optional free text.
    end_caps
        The end-cap convention the set's limits assume (``"half-slice"``, ``"none"``,
        ``"shape"``; :class:`~dosecheck.core.end_caps.EndCaps`), or None: the
        engine's default unless the command line gives one.
    """

    name: str
    path: str
    source: str
    prescription_gy: float | None
    fractions: int | None
    structures: tuple[StructureSpec, ...]
    sha256: str
    description: str = ""
    version: str = ""
    end_caps: str | None = None

    @property
    def constraints(self) -> list[tuple[StructureSpec, Constraint]]:
        """Every ``(structure, constraint)`` pair in file order."""
        return [(s, c) for s in self.structures for c in s.constraints]


@dataclass(frozen=True)
class ConstraintResult:
    """The outcome of one constraint on one plan.

    Attributes
    ----------
    structure
        The structure's name in the constraint set.
    roi
        The ROI it was matched to, or ``None``.
    metric
        Canonical metric, e.g. ``"V30Gy[cc]"``.
    value
        The metric's value in ``unit``, or ``None`` when not evaluated.
    unit
        The metric's output unit (``cc``, ``%``, ``Gy``, ``cGy``).
    comparator
        ``<``, ``<=``, ``>`` or ``>=``.
    limit
        The limit in ``unit`` (converted when written as % of prescription), or
        ``None`` when it could not be converted.
    status
        ``"pass"``, ``"fail"``, ``"variation"`` or ``"not_evaluated"``.
    message
        One line for people, e.g. ``"V45Gy = 312.4 cc, limit 300 cc: 12.4 cc over"``.
    priority
        ``"mandatory"`` or ``"optimal"``.
    constraint
        The constraint as written in the set, e.g. ``"V45Gy[cc] < 300"``.
    reason
        Why it was not evaluated (also set when ``strict`` turned that into a fail).
    matched_by
        The rule that found the ROI: ``"command line"``, ``"site map"``,
        ``"plan-reference"``, ``"name"``, ``"alias"``, ``"regex"``, ``"tg263"`` or
        ``"interpreted-type"`` (see :mod:`dosecheck.checking.matching`); for a
        structure not found or ambiguous, the step that was ambiguous or ``None``.
    line
        Line of the constraint in the constraint-set file.
    note, reference
        From the constraint set.
    prescription_gy
        The prescription used, when the metric or limit depends on it.
    warnings
        Caveats about the DVH behind this value (e.g. volume outside the dose grid).
    dose_basis
        ``"physical"``, ``"eqd2"`` or ``"set_fractions"``: what the constraint's dose
        means (see :class:`Constraint`). ``value`` is always physical.
    alpha_beta
        α/β (Gy) of the conversion, ``None`` for a physical constraint.
    plan_fractions
        The plan's number of fractions the constraint was converted to, ``None`` when
        not converted (physical, or the number of fractions is unknown).
    converted_dose_gy
        The physical dose (Gy, in ``plan_fractions``) equivalent to the dose as
        written: the threshold at which ``V``/``CV`` was evaluated, or the limit of a
        dose metric (then ``limit`` holds it in ``unit``). ``None`` when not converted.
    match_detail
        How ``matched_by`` decided, for people (e.g. ``"TG-263 dose level 50.4 Gy =
        the prescription"``); empty for a plain name match.
    variation_limit
        The constraint's variation limit in ``unit``, or ``None`` without one.
    body_roi
        For ``CI``, ``CN`` and ``GI``: the body (external) ROI whose DVH gave the
        isodose volume (:mod:`dosecheck.checking.body`); ``None`` otherwise.
    evaluated_on
        ``"physical"``: ``value`` is read from the physical DVH; ``"eqd2_sum"``: from the
        DVH of the voxel-wise EQD2 sum of a plan sum's parts (``value`` and ``limit`` are
        then EQD2 doses or volumes at an EQD2 dose, with ``alpha_beta``).
    """

    structure: str
    roi: str | None
    metric: str
    value: float | None
    unit: str
    comparator: str
    limit: float | None
    status: Status
    message: str
    priority: Priority
    constraint: str = ""
    reason: Reason | None = None
    matched_by: str | None = None
    line: int | None = None
    note: str = ""
    reference: str = ""
    prescription_gy: float | None = None
    warnings: tuple[str, ...] = field(default=())
    dose_basis: DoseBasis = "physical"
    alpha_beta: float | None = None
    plan_fractions: int | None = None
    converted_dose_gy: float | None = None
    match_detail: str = ""
    evaluated_on: str = "physical"
    variation_limit: float | None = None
    body_roi: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", Status(self.status))  # ValueError for a typo

    @property
    def is_mandatory_failure(self) -> bool:
        """True for a failed mandatory constraint."""
        return self.status is Status.FAIL and self.priority == "mandatory"

    @property
    def is_mandatory_variation(self) -> bool:
        """True for a mandatory constraint within its variation limit only."""
        return self.status is Status.VARIATION and self.priority == "mandatory"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary of all fields (``warnings`` as a list)."""
        d = asdict(self)
        d["warnings"] = list(self.warnings)
        return d
