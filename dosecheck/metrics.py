"""AAPM TG-263 DVH metric grammar: parse a metric string and evaluate it on a DVH.

Accepted forms (letters are case-sensitive, as TG-263 writes them; whitespace is
tolerated before and after the whole metric and around the brackets):

==========================  =============================================  ==============
Form                        Meaning                                        Example
==========================  =============================================  ==============
``V<dose>[cc|%]``           volume receiving at least ``<dose>``           ``V30Gy[cc]``
``CV<dose>[cc|%]``          complement volume: receiving less than dose    ``CV20Gy[cc]``
``D<volume>[Gy|cGy|%]``     minimum dose to the hottest ``<volume>``       ``D95%[Gy]``
``DC<volume>[Gy|cGy|%]``    maximum dose to the coldest ``<volume>``       ``DC700cc[Gy]``
``Mean|Max|Min[Gy|cGy|%]``  dose statistics                               ``Mean[Gy]``
``Volume[cc]``              structure volume inside the dose grid          ``Volume[cc]``
``CI<dose>[]``              RTOG conformity index V_RI / TV                ``CI95%[]``
``CN<dose>[]``              Paddick conformation number TV_RI²/(TV·V_RI)   ``CN47.88Gy[]``
``GI<dose>[]``              Paddick gradient index V_dose / V_Rx           ``GI50%[]``
``HI[]``                    ICRU 83 homogeneity index (D2 − D98) / D50     ``HI[]``
==========================  =============================================  ==============

``<dose>`` is a number followed by ``Gy``, ``cGy`` or ``%`` (percent of the
prescription dose); ``<volume>`` is a number followed by ``cc`` or ``%`` (percent of
the structure volume). The unit in brackets is the unit of the result and is
required; a dose result in ``%`` is a percentage of the prescription dose.

The plan-quality indices (:mod:`dosecheck.core.plan_quality`) are ratios: their
brackets are empty. ``CI``/``CN`` take the reference isodose (``95%`` of the
prescription, or an absolute dose); ``GI`` takes the low isodose and divides the body
volume receiving it by the body volume receiving the prescription dose; ``HI`` takes
no number. ``[%]`` is accepted on ``CI``, ``CN`` and ``GI`` because the Varian-style
templates write ``CN95%[%]`` and ``GI50%[%]``: it does **not** scale the value (those
templates' scripts compute the same ratio whatever the brackets say), so
``CN95%[%]`` is ``CN95%[]``. ``HI[%]`` is refused: HI is also quoted in per cent
elsewhere, and a limit would be ambiguous. ``CI``, ``CN`` and ``GI`` need the body
(external) ROI's DVH, passed to :meth:`Metric.evaluate` as ``body``.

Numbers are unsigned decimals without exponent: ``30``, ``18.5``, ``0.03`` and also
``.5`` (read as ``0.5``). ``5.``, ``-5``, ``+5`` and ``1e3`` are rejected. Volume
percentages of ``D``/``DC`` must be at most 100. The canonical form, ``str(metric)``,
writes the shortest decimal that reads back to the same float (``.5`` → ``0.5``,
``030`` → ``30``, ``30.0`` → ``30``), so ``parse_metric(str(m)) == m`` always holds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING

from dosecheck.errors import MetricDomainError, MetricSyntaxError
from dosecheck.metric_forms import (
    ACCEPTED_FORMS,
    ALL_KINDS,
    DOSE_KINDS,
    DOSE_UNITS,
    INDEX_KINDS,
    ISODOSE_INDEX_KINDS,
    METRIC_RE,
    STAT_KINDS,
    VOLUME_KINDS,
    VOLUME_UNITS,
    diagnose,
    explain_fields,
)

if TYPE_CHECKING:
    from dosecheck.core.dvh import DVH

__all__ = ["ACCEPTED_FORMS", "Metric", "MetricValue", "format_number", "parse_metric"]


@dataclass(frozen=True)
class MetricValue:
    """The value of a metric on one DVH.

    Attributes
    ----------
    value
        The number, in ``unit``.
    unit
        ``"cc"`` or ``"%"`` (of the structure volume) for volume metrics;
        ``"Gy"``, ``"cGy"`` or ``"%"`` (of the prescription dose) for dose metrics.
    """

    value: float
    unit: str


@dataclass(frozen=True)
class Metric:
    """A parsed TG-263 DVH metric.

    Build one with :func:`parse_metric`. Two metrics are equal when they mean the
    same thing (``text`` is ignored), e.g. ``V30Gy[cc]`` and ``V30.0Gy [cc]``.

    Attributes
    ----------
    kind
        ``"V"``, ``"CV"``, ``"D"``, ``"DC"``, ``"Mean"``, ``"Max"``, ``"Min"``,
        ``"Volume"`` or a plan-quality index ``"CI"``, ``"CN"``, ``"GI"``, ``"HI"``.
    number
        The dose (``V``, ``CV``, ``CI``, ``CN``, ``GI``) or volume (``D``, ``DC``) after
        the letters, in ``number_unit``; ``None`` for the statistics and ``HI``.
    number_unit
        ``"Gy"``, ``"cGy"`` or ``"%"`` (of prescription) for ``V``/``CV`` and the
        isodose indices; ``"cc"`` or ``"%"`` (of the structure) for ``D``/``DC``;
        ``None`` for the statistics and ``HI``.
    output_unit
        The unit in brackets: the unit of the result; ``""`` for the indices (ratios).
    text
        The string exactly as written (the canonical form when built directly).
    """

    kind: str
    number: float | None
    number_unit: str | None
    output_unit: str
    text: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        problem = _check_fields(self.kind, self.number, self.number_unit, self.output_unit)
        if problem:
            raise ValueError(f"invalid Metric: {problem}")
        if not self.text:
            object.__setattr__(self, "text", str(self))

    # --- description ------------------------------------------------------------
    def __str__(self) -> str:
        return f"{self.label}[{self.output_unit}]"

    @property
    def label(self) -> str:
        """The metric without its output unit, for messages: ``V30Gy``, ``D95%``, ``Mean``."""
        if self.number is None:
            return self.kind
        return f"{self.kind}{format_number(self.number)}{self.number_unit}"

    @property
    def gives_dose(self) -> bool:
        """True for dose results (``D``, ``DC``, ``Mean``, ``Max``, ``Min``)."""
        return self.kind in DOSE_KINDS or self.kind in STAT_KINDS

    @property
    def is_index(self) -> bool:
        """True for the plan-quality indices ``CI``, ``CN``, ``GI`` and ``HI`` (ratios)."""
        return self.kind in INDEX_KINDS

    @property
    def needs_body(self) -> bool:
        """True when evaluating needs the body (external) ROI's DVH: ``CI``, ``CN``, ``GI``."""
        return self.kind in ISODOSE_INDEX_KINDS

    @property
    def needs_prescription(self) -> bool:
        """True when evaluating needs the prescription dose: a dose in ``%``, and ``GI``
        (its denominator is the prescription isodose)."""
        if self.kind == "GI":
            return True
        if self.kind in VOLUME_KINDS or self.kind in ISODOSE_INDEX_KINDS:
            return self.number_unit == "%"
        return self.gives_dose and self.output_unit == "%"

    def unreachable(self, limit: float) -> str | None:
        """Why no value of this metric can meet or miss ``limit`` meaningfully (a CN
        limit above 1, a GI limit below 1, a CI or GI limit of 100 or more: a percentage
        written for the ratio), as the end of a sentence; else ``None``."""
        if self.kind == "CN" and limit > 1:
            hint = format_number(limit / 100) if limit <= 100 else "0.75"
            return (
                "is above 1, which the conformation number never exceeds: it is a ratio "
                f"(0-1), not a percentage; write e.g. {hint}"
            )
        if self.kind == "GI" and limit < 1:
            return (
                "is below 1, which the gradient index (a larger isodose volume over a "
                "smaller) never is"
            )
        if self.kind in ("CI", "GI") and limit >= 100:
            # GI50%[%] <= 300 meant as 3.0 would pass every plan: no plan has an isodose
            # volume 100 times another, so the number is a percentage.
            return (
                "is 100 or more, which reads as a percentage: the index is a plain ratio "
                f"whatever its brackets say; write e.g. {format_number(limit / 100)}"
            )
        return None

    def isodose_gy(self, prescription_gy: float | None) -> float:
        """The isodose (Gy) of ``CI``, ``CN`` (the reference) or ``GI`` (the low one).

        Raises
        ------
        MetricDomainError
            When the isodose is in % and the prescription is missing.
        ValueError
            For a metric without an isodose.
        """
        if not self.needs_body or self.number is None:
            raise ValueError(f"{self} has no isodose")
        rx = self._prescription(prescription_gy)
        return _to_gy(self.number, self.number_unit, rx)

    # --- evaluation ---------------------------------------------------------------
    def evaluate(
        self, dvh: DVH, prescription_gy: float | None = None, *, body: DVH | None = None
    ) -> MetricValue:
        """Evaluate the metric on ``dvh``.

        Parameters
        ----------
        dvh
            The structure's cumulative DVH (the target's, for an index).
        prescription_gy
            Prescription dose (Gy); needed only when a dose is given or asked in ``%``,
            and by ``GI``.
        body
            The body (external) ROI's DVH; needed by ``CI``, ``CN`` and ``GI``.

        Returns
        -------
        MetricValue
            The value in :attr:`output_unit`.

        Raises
        ------
        MetricDomainError
            When the metric is undefined on this DVH (empty structure, a volume larger
            than the structure) or needs a prescription or a body DVH that is missing.
        """
        rx = self._prescription(prescription_gy)
        kind, n, out = self.kind, self.number, self.output_unit
        if kind in INDEX_KINDS:
            return MetricValue(self._index(dvh, rx, body), out)
        if kind == "Volume":
            return MetricValue(float(dvh.volume_cc), out)
        if kind in VOLUME_KINDS:
            assert n is not None
            dose_gy = _to_gy(n, self.number_unit, rx)
            if kind == "V":
                cc = dvh.volume_at_dose(dose_gy)
            else:
                cc = dvh.complement_volume_at_dose(dose_gy)
            value = cc if out == "cc" else 100.0 * cc / dvh.volume_cc
            return MetricValue(float(value), out)
        if dvh.is_empty:
            raise MetricDomainError(
                f"{self.label} is undefined: structure {dvh.name!r} has no volume inside "
                "the dose grid"
            )
        if kind in STAT_KINDS:
            gy = {"Mean": dvh.mean_gy, "Max": dvh.max_gy, "Min": dvh.min_gy}[kind]
        else:
            assert n is not None
            if kind == "D":
                if self.number_unit == "%":
                    gy = dvh.dose_at_volume_percent(n)
                else:
                    gy = dvh.dose_at_volume(n)
            else:
                cc = n if self.number_unit == "cc" else dvh.volume_cc * n / 100.0
                gy = dvh.complement_dose_at_volume(cc)
        if not math.isfinite(gy):
            raise MetricDomainError(f"{self.label} is undefined on structure {dvh.name!r}")
        return MetricValue(_from_gy(float(gy), out, rx), out)

    def _index(self, dvh: DVH, rx: float | None, body: DVH | None) -> float:
        from dosecheck.core import plan_quality as pq

        if self.kind == "HI":
            return pq.homogeneity_index(dvh)
        if body is None:
            raise MetricDomainError(
                f"{self.label} needs the DVH of the body (external) ROI, the whole patient: "
                "none was given"
            )
        assert self.number is not None
        dose_gy = _to_gy(self.number, self.number_unit, rx)
        if self.kind == "GI":
            assert rx is not None
            return pq.gradient_index(body, dose_gy, rx)
        if self.kind == "CI":
            return pq.conformity_index(dvh, body, dose_gy)
        return pq.conformation_number(dvh, body, dose_gy)

    def _prescription(self, prescription_gy: float | None) -> float | None:
        if not self.needs_prescription:
            return prescription_gy
        if prescription_gy is None:
            raise MetricDomainError(
                f"{self.text.strip()} needs a prescription dose; pass --prescription or use "
                "a plan with an RTPLAN"
            )
        if not (math.isfinite(prescription_gy) and prescription_gy > 0):
            raise MetricDomainError(
                f"{self.text.strip()} needs a positive prescription dose, got "
                f"{prescription_gy!r} Gy"
            )
        return prescription_gy


def _to_gy(n: float, unit: str | None, rx: float | None) -> float:
    if unit == "Gy":
        return n
    if unit == "cGy":
        return n / 100.0
    assert rx is not None
    return n * rx / 100.0


def _from_gy(gy: float, unit: str, rx: float | None) -> float:
    if unit == "Gy":
        return gy
    if unit == "cGy":
        return gy * 100.0
    assert rx is not None
    return 100.0 * gy / rx


def _check_fields(
    kind: str, number: float | None, number_unit: str | None, output_unit: str
) -> str | None:
    """Why this combination is not a valid metric, or ``None``."""
    if kind not in ALL_KINDS:
        return f"unknown kind {kind!r}"
    if kind in INDEX_KINDS:
        return _check_index(kind, number, number_unit, output_unit)
    if kind in VOLUME_KINDS or kind in DOSE_KINDS:
        units = DOSE_UNITS if kind in VOLUME_KINDS else VOLUME_UNITS
        if number_unit not in units:
            return f"{kind} takes a number in {', '.join(units)}, not {number_unit!r}"
        if number is None or not math.isfinite(number) or number < 0:
            return f"{kind} needs a finite number >= 0, not {number!r}"
        if kind in DOSE_KINDS and number_unit == "%" and number > 100:
            return f"{kind} volume percentage must be at most 100, not {number!r}"
    elif number is not None or number_unit is not None:
        return f"{kind} takes no number"
    if kind in VOLUME_KINDS:
        allowed: tuple[str, ...] = VOLUME_UNITS
    elif kind == "Volume":
        allowed = ("cc",)
    else:
        allowed = DOSE_UNITS
    if output_unit not in allowed:
        return f"the unit in brackets of {kind} must be {' or '.join(allowed)}"
    return None


def _check_index(
    kind: str, number: float | None, number_unit: str | None, output_unit: str
) -> str | None:
    """Why this combination is not a valid plan-quality index, or ``None``."""
    if output_unit != "":
        return f"{kind} is a ratio: its brackets are empty, {kind}...[]"
    if kind == "HI":
        if number is not None or number_unit is not None:
            return "HI takes no number"
        return None
    if number_unit not in DOSE_UNITS:
        return f"{kind} takes an isodose in Gy, cGy or % of prescription, not {number_unit!r}"
    if number is None or not math.isfinite(number) or not number > 0:
        return f"{kind} needs an isodose > 0, not {number!r}"
    if kind == "GI" and number_unit == "%" and not number < 100:
        return (
            f"GI takes the low isodose, below the prescription (100%), not {format_number(number)}%"
        )
    return None


def format_number(x: float) -> str:
    """The shortest plain decimal that reads back as ``x``: ``30``, ``0.03``, ``18.5``."""
    s = format(Decimal(repr(float(x))), "f")
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    return s


def parse_metric(text: str) -> Metric:
    """Parse a TG-263 DVH metric such as ``V30Gy[cc]`` or ``D0.03cc[Gy]``.

    Parameters
    ----------
    text
        The metric as written; surrounding whitespace and whitespace around the
        brackets are ignored.

    Returns
    -------
    Metric
        With ``text`` set to the input unchanged.

    Raises
    ------
    MetricSyntaxError
        If ``text`` is not a valid metric; the message quotes it, says what is wrong
        when it can tell, and lists the accepted forms.
    """
    if not isinstance(text, str):
        raise MetricSyntaxError(
            f"a DVH metric must be text, not {type(text).__name__}; {ACCEPTED_FORMS}"
        )
    m = METRIC_RE.fullmatch(text)
    if m is None:
        raise _syntax_error(text, diagnose(text))
    if m["vk"]:
        kind, num, unit = m["vk"], m["vn"], m["vu"]
    elif m["dk"]:
        kind, num, unit = m["dk"], m["dn"], m["du"]
    elif m["ik"]:
        kind, num, unit = m["ik"], m["in"], m["iu"]
    else:
        kind, num, unit = m["sk"], None, None
    number = None if num is None else float(num)
    if number is not None and not math.isfinite(number):
        raise _syntax_error(text, f"the number {num} is too large")
    out = m["out"] or ""
    if kind in ISODOSE_INDEX_KINDS and out == "%":
        out = ""  # the templates' spelling of the same ratio (module docstring)
    problem = _check_fields(kind, number, unit, out)
    if problem:
        raise _syntax_error(text, explain_fields(kind, unit, out) or problem)
    return Metric(kind=kind, number=number, number_unit=unit, output_unit=out, text=text)


def _syntax_error(text: str, hint: str | None) -> MetricSyntaxError:
    shown = text if len(text) <= 60 else text[:57] + "..."
    hint_part = f": {hint}" if hint else ""
    return MetricSyntaxError(f"invalid DVH metric {shown!r}{hint_part}; {ACCEPTED_FORMS}")
