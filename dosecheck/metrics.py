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
==========================  =============================================  ==============

``<dose>`` is a number followed by ``Gy``, ``cGy`` or ``%`` (percent of the
prescription dose); ``<volume>`` is a number followed by ``cc`` or ``%`` (percent of
the structure volume). The unit in brackets is the unit of the result and is
required; a dose result in ``%`` is a percentage of the prescription dose.

Numbers are unsigned decimals without exponent: ``30``, ``18.5``, ``0.03`` and also
``.5`` (read as ``0.5``). ``5.``, ``-5``, ``+5`` and ``1e3`` are rejected. Volume
percentages of ``D``/``DC`` must be at most 100. The canonical form, ``str(metric)``,
writes the shortest decimal that reads back to the same float (``.5`` → ``0.5``,
``030`` → ``30``, ``30.0`` → ``30``), so ``parse_metric(str(m)) == m`` always holds.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Final

from dosecheck.errors import MetricDomainError, MetricSyntaxError

if TYPE_CHECKING:
    from dosecheck.core.dvh import DVH

__all__ = ["ACCEPTED_FORMS", "Metric", "MetricValue", "format_number", "parse_metric"]

#: Volume-at-dose metrics (the number is a dose).
VOLUME_KINDS: Final = ("V", "CV")
#: Dose-at-volume metrics (the number is a volume).
DOSE_KINDS: Final = ("D", "DC")
#: Dose statistics (no number).
STAT_KINDS: Final = ("Mean", "Max", "Min")
ALL_KINDS: Final = (*VOLUME_KINDS, *DOSE_KINDS, *STAT_KINDS, "Volume")

DOSE_UNITS: Final = ("Gy", "cGy", "%")
VOLUME_UNITS: Final = ("cc", "%")

#: One-line description of the grammar, appended to every syntax error.
ACCEPTED_FORMS: Final = (
    "accepted forms (AAPM TG-263, case-sensitive): "
    "V<dose>[cc|%] e.g. V30Gy[cc], V95%[%]; "
    "CV<dose>[cc|%] e.g. CV20Gy[cc]; "
    "D<volume>[Gy|cGy|%] e.g. D95%[Gy], D0.03cc[Gy]; "
    "DC<volume>[Gy|cGy|%] e.g. DC700cc[Gy]; "
    "Mean[Gy|cGy|%], Max[...], Min[...] e.g. Mean[Gy]; Volume[cc] "
    "(<dose> is a number with Gy, cGy or % of prescription; "
    "<volume> a number with cc or % of the structure)"
)

_NUM: Final = r"(?:[0-9]+(?:\.[0-9]+)?|\.[0-9]+)"
_METRIC_RE: Final = re.compile(
    r"\s*(?:"
    rf"(?P<vk>CV|V)(?P<vn>{_NUM})(?P<vu>cGy|Gy|%)"
    rf"|(?P<dk>DC|D)(?P<dn>{_NUM})(?P<du>cc|%)"
    r"|(?P<sk>Mean|Max|Min|Volume)"
    r")\s*\[\s*(?P<out>cGy|Gy|cc|%)\s*\]\s*"
)
# A loose reading used only to explain what is wrong with a rejected metric.
_LOOSE_RE: Final = re.compile(
    r"\s*(?P<head>[A-Za-z]+)\s*(?P<num>[-+]?[0-9.]*(?:[eE][-+]?[0-9]+)?)\s*"
    r"(?P<unit>[A-Za-z%]*)\s*(?:\[\s*(?P<out>[^\]]*?)\s*\]?)?\s*"
)
_CANONICAL_CASE: Final = {
    w.lower(): w for w in (*ALL_KINDS, "Gy", "cGy", "cc", "Dmax", "Dmean", "Dmin")
}


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
        ``"V"``, ``"CV"``, ``"D"``, ``"DC"``, ``"Mean"``, ``"Max"``, ``"Min"`` or
        ``"Volume"``.
    number
        The dose (``V``, ``CV``) or volume (``D``, ``DC``) after the letters, in
        ``number_unit``; ``None`` for the statistics.
    number_unit
        ``"Gy"``, ``"cGy"`` or ``"%"`` (of prescription) for ``V``/``CV``; ``"cc"`` or
        ``"%"`` (of the structure) for ``D``/``DC``; ``None`` for the statistics.
    output_unit
        The unit in brackets: the unit of the result.
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
    def needs_prescription(self) -> bool:
        """True when evaluating needs the prescription dose (a dose in ``%``)."""
        if self.kind in VOLUME_KINDS:
            return self.number_unit == "%"
        return self.gives_dose and self.output_unit == "%"

    # --- evaluation ---------------------------------------------------------------
    def evaluate(self, dvh: DVH, prescription_gy: float | None = None) -> MetricValue:
        """Evaluate the metric on ``dvh``.

        Parameters
        ----------
        dvh
            The structure's cumulative DVH.
        prescription_gy
            Prescription dose (Gy); needed only when a dose is given or asked in ``%``.

        Returns
        -------
        MetricValue
            The value in :attr:`output_unit`.

        Raises
        ------
        MetricDomainError
            When the metric is undefined on this DVH (empty structure, a volume larger
            than the structure) or needs a prescription that is missing.
        """
        rx = self._prescription(prescription_gy)
        kind, n, out = self.kind, self.number, self.output_unit
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
    m = _METRIC_RE.fullmatch(text)
    if m is None:
        raise _syntax_error(text, _diagnose(text))
    if m["vk"]:
        kind, num, unit = m["vk"], m["vn"], m["vu"]
    elif m["dk"]:
        kind, num, unit = m["dk"], m["dn"], m["du"]
    else:
        kind, num, unit = m["sk"], None, None
    number = None if num is None else float(num)
    if number is not None and not math.isfinite(number):
        raise _syntax_error(text, f"the number {num} is too large")
    problem = _check_fields(kind, number, unit, m["out"])
    if problem:
        raise _syntax_error(text, _explain_fields(kind, unit, m["out"]) or problem)
    return Metric(kind=kind, number=number, number_unit=unit, output_unit=m["out"], text=text)


def _syntax_error(text: str, hint: str | None) -> MetricSyntaxError:
    shown = text if len(text) <= 60 else text[:57] + "..."
    hint_part = f": {hint}" if hint else ""
    return MetricSyntaxError(f"invalid DVH metric {shown!r}{hint_part}; {ACCEPTED_FORMS}")


def _explain_fields(kind: str, unit: str | None, out: str) -> str | None:
    """A specific explanation of a wrong unit in brackets (``V30Gy[Gy]``)."""
    if kind in VOLUME_KINDS and out not in VOLUME_UNITS:
        return f"{kind} gives a volume: the unit in brackets must be cc or %"
    if kind == "Volume" and out != "cc":
        return "Volume gives cc: write Volume[cc]"
    if kind not in VOLUME_KINDS and kind != "Volume" and out not in DOSE_UNITS:
        return f"{kind} gives a dose: the unit in brackets must be Gy, cGy or %"
    if kind in DOSE_KINDS and unit == "%":
        return f"{kind} takes a percentage of the structure volume between 0 and 100"
    return None


def _diagnose(text: str) -> str | None:
    """Best guess at what is wrong with a rejected metric, or ``None``."""
    if not text.strip():
        return "it is empty"
    squeezed = re.sub(r"\s+", "", text)
    if squeezed != text.strip() and _METRIC_RE.fullmatch(squeezed):
        return f"spaces are allowed only around the brackets; did you mean {squeezed!r}?"
    fixed = _fix_case(squeezed)
    if fixed is not None and fixed != squeezed and _METRIC_RE.fullmatch(fixed):
        return f"letters and units are case-sensitive; did you mean {fixed!r}?"
    loose = _LOOSE_RE.fullmatch(text)
    if loose is None:
        return None
    head, num, unit, out = loose["head"], loose["num"], loose["unit"], loose["out"]
    canon = _CANONICAL_CASE.get(head.lower(), head)
    if canon in ("Dmax", "Dmean", "Dmin"):
        return f"write {canon[1:].capitalize()}[Gy] for the {canon[1:].lower()} dose"
    if canon not in ALL_KINDS:
        return f"unknown metric {head!r}"
    if canon != head:
        return f"letters are case-sensitive: write {canon!r}, not {head!r}"
    if canon in VOLUME_KINDS or canon in DOSE_KINDS:
        what = "a dose" if canon in VOLUME_KINDS else "a volume"
        units = "Gy, cGy or %" if canon in VOLUME_KINDS else "cc or %"
        if not num:
            return f"{canon} must be followed by {what}, a number with {units}"
        if num.startswith("-"):
            return "negative numbers are not allowed"
        if num.startswith("+"):
            return "write the number without a sign"
        if "e" in num.lower():
            return "write the number without an exponent"
        if num.endswith(".") or num.count(".") > 1:
            return f"{num!r} is not a valid number (write e.g. 0.5, 18.5, 30)"
        if not unit:
            return f"the number needs a unit: {units}"
        if canon in VOLUME_KINDS and unit in VOLUME_UNITS:
            return f"{canon} takes a dose ({units}); for the dose to a volume use D{num}{unit}[Gy]"
        if canon in DOSE_KINDS and unit in DOSE_UNITS:
            return (
                f"{canon} takes a volume ({units}); for the volume receiving a dose use "
                f"V{num}{unit}[cc]"
            )
        if canon in VOLUME_KINDS and unit not in DOSE_UNITS:
            return f"unknown dose unit {unit!r}: use Gy, cGy or %"
        if canon in DOSE_KINDS and unit not in VOLUME_UNITS:
            return f"unknown volume unit {unit!r}: use cc or %"
    elif num or unit:
        example = f"{canon}[{'cc' if canon == 'Volume' else 'Gy'}]"
        return f"{canon} takes no number or unit before the brackets: write e.g. {example}"
    if out is None:
        example = "cc" if canon in VOLUME_KINDS or canon == "Volume" else "Gy"
        return f"the unit of the result is missing: add it in brackets, e.g. [{example}]"
    if "]" not in text:
        return "the closing bracket is missing"
    return None


def _fix_case(text: str) -> str | None:
    """``text`` with each run of letters in TG-263 case (``v30gy`` → ``V30Gy``).

    ``None`` if a run of letters is not a known word.
    """
    out: list[str] = []
    for tok in re.split(r"([A-Za-z]+)", text):
        if tok and tok[0].isalpha():
            low = tok.lower()
            if low in _CANONICAL_CASE:
                out.append(_CANONICAL_CASE[low])
            else:
                return None
        else:
            out.append(tok)
    return "".join(out)
