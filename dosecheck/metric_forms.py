"""The words of the TG-263 metric grammar and the advice given for a rejected metric.

:mod:`dosecheck.metrics` parses and evaluates; this module holds what both the parser
and its error messages need: the kinds, the units, the regular expressions and the
diagnosis of a metric that does not parse.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["ACCEPTED_FORMS", "ALL_KINDS", "INDEX_KINDS", "ISODOSE_INDEX_KINDS"]

#: Volume-at-dose metrics (the number is a dose).
VOLUME_KINDS: Final = ("V", "CV")
#: Dose-at-volume metrics (the number is a volume).
DOSE_KINDS: Final = ("D", "DC")
#: Dose statistics (no number).
STAT_KINDS: Final = ("Mean", "Max", "Min")
#: Plan-quality indices with a dose (the reference or low isodose).
ISODOSE_INDEX_KINDS: Final = ("CI", "CN", "GI")
#: Every plan-quality index (a ratio, written with empty brackets).
INDEX_KINDS: Final = (*ISODOSE_INDEX_KINDS, "HI")
ALL_KINDS: Final = (*VOLUME_KINDS, *DOSE_KINDS, *STAT_KINDS, "Volume", *INDEX_KINDS)

DOSE_UNITS: Final = ("Gy", "cGy", "%")
VOLUME_UNITS: Final = ("cc", "%")

#: One-line description of the grammar, appended to every syntax error.
ACCEPTED_FORMS: Final = (
    "accepted forms (AAPM TG-263, case-sensitive): "
    "V<dose>[cc|%] e.g. V30Gy[cc], V95%[%]; "
    "CV<dose>[cc|%] e.g. CV20Gy[cc]; "
    "D<volume>[Gy|cGy|%] e.g. D95%[Gy], D0.03cc[Gy]; "
    "DC<volume>[Gy|cGy|%] e.g. DC700cc[Gy]; "
    "Mean[Gy|cGy|%], Max[...], Min[...] e.g. Mean[Gy]; Volume[cc]; "
    "plan-quality indices CI<dose>[], CN<dose>[], GI<dose>[] e.g. CN95%[], GI50%[], "
    "and HI[] "
    "(<dose> is a number with Gy, cGy or % of prescription; "
    "<volume> a number with cc or % of the structure)"
)

NUM: Final = r"(?:[0-9]+(?:\.[0-9]+)?|\.[0-9]+)"
METRIC_RE: Final = re.compile(
    r"\s*(?:"
    rf"(?P<vk>CV|V)(?P<vn>{NUM})(?P<vu>cGy|Gy|%)"
    rf"|(?P<dk>DC|D)(?P<dn>{NUM})(?P<du>cc|%)"
    rf"|(?P<ik>CI|CN|GI)(?P<in>{NUM})(?P<iu>cGy|Gy|%)"
    r"|(?P<sk>Mean|Max|Min|Volume|HI)"
    r")\s*\[\s*(?P<out>cGy|Gy|cc|%)?\s*\]\s*"
)
# A loose reading used only to explain what is wrong with a rejected metric.
_LOOSE_RE: Final = re.compile(
    r"\s*(?P<head>[A-Za-z]+)\s*(?P<num>[-+]?[0-9.]*(?:[eE][-+]?[0-9]+)?)\s*"
    r"(?P<unit>[A-Za-z%]*)\s*(?:\[\s*(?P<out>[^\]]*?)\s*\]?)?\s*"
)
_CANONICAL_CASE: Final = {
    w.lower(): w for w in (*ALL_KINDS, "Gy", "cGy", "cc", "Dmax", "Dmean", "Dmin")
}


def explain_fields(kind: str, unit: str | None, out: str) -> str | None:
    """A specific explanation of a wrong unit in brackets (``V30Gy[Gy]``)."""
    if kind == "HI" and out == "%":
        return (
            "HI is a ratio: write HI[] (HI[%] is refused, as HI is also quoted in per cent "
            "and a limit would be ambiguous)"
        )
    if kind in INDEX_KINDS and out:
        example = "HI[]" if kind == "HI" else f"{kind}95%[]"
        return f"{kind} is a ratio: write its brackets empty, e.g. {example}"
    if kind in INDEX_KINDS:
        return None
    if not out:
        return f"{kind} needs the unit of its result in brackets; only the indices take []"
    if kind in VOLUME_KINDS and out not in VOLUME_UNITS:
        return f"{kind} gives a volume: the unit in brackets must be cc or %"
    if kind == "Volume" and out != "cc":
        return "Volume gives cc: write Volume[cc]"
    if kind not in VOLUME_KINDS and kind != "Volume" and out not in DOSE_UNITS:
        return f"{kind} gives a dose: the unit in brackets must be Gy, cGy or %"
    if kind in DOSE_KINDS and unit == "%":
        return f"{kind} takes a percentage of the structure volume between 0 and 100"
    return None


def diagnose(text: str) -> str | None:
    """Best guess at what is wrong with a rejected metric, or ``None``."""
    if not text.strip():
        return "it is empty"
    squeezed = re.sub(r"\s+", "", text)
    if squeezed != text.strip() and METRIC_RE.fullmatch(squeezed):
        return f"spaces are allowed only around the brackets; did you mean {squeezed!r}?"
    fixed = _fix_case(squeezed)
    if fixed is not None and fixed != squeezed and METRIC_RE.fullmatch(fixed):
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
    takes_dose = canon in VOLUME_KINDS or canon in ISODOSE_INDEX_KINDS
    if takes_dose or canon in DOSE_KINDS:
        what = "a dose" if takes_dose else "a volume"
        units = "Gy, cGy or %" if takes_dose else "cc or %"
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
        if takes_dose and unit not in DOSE_UNITS:
            return f"unknown dose unit {unit!r}: use Gy, cGy or %"
        if canon in DOSE_KINDS and unit not in VOLUME_UNITS:
            return f"unknown volume unit {unit!r}: use cc or %"
    elif num or unit:
        example = {"Volume": "Volume[cc]", "HI": "HI[]"}.get(canon, f"{canon}[Gy]")
        return f"{canon} takes no number or unit before the brackets: write e.g. {example}"
    if out is None:
        if canon in INDEX_KINDS:
            return f"{canon} is a ratio: end it with empty brackets, e.g. {canon}{num}{unit}[]"
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
