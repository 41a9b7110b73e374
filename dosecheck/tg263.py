"""AAPM TG-263 target names: parse ``PTVp1_5040-03^Eval`` into its parts.

A TG-263 target name is, in order (only the type is required)::

    [z] TYPE [classifier][index] [_LEVEL] [-CROP] [^QUALIFIER ...]

* ``z`` prefix: a structure not used for evaluation (``zPTV_High``), sorted last.
* TYPE: ``GTV``, ``CTV``, ``ITV``, ``IGTV``, ``ICTV``, ``PTV`` and ``PTV!`` (a low-dose
  PTV from which overlapping higher-dose PTVs were removed). Matched ignoring case
  (``ptv``), since planning systems and users lower-case names.
* classifier: ``p`` (primary), ``n`` (nodal), ``sb`` (surgical bed), ``par``
  (parenchyma), ``v`` (venous thrombosis), ``vas`` (vascular), lower case as TG-263
  writes them, optionally followed by a target number (``PTVn2``, ``PTV1``).
* LEVEL, after ``_`` (or a space): relative ``High``, ``Mid``, ``Mid01``, ``Mid2``,
  ``Low``; or absolute, ``5040`` (cGy, the TG-263 form), ``5040cGy``, ``50.4Gy``,
  ``50p4Gy`` and Pinnacle's ``50_4Gy``.
* CROP: ``-03``, the structure cropped by that many millimetres.
* QUALIFIER: free text after ``^`` (``^Eval``, ``^Opt``), several allowed.

How bare numbers are read (no unit written):

====================================  =============================  ==========
form                                  reading                        certain?
====================================  =============================  ==========
``PTV_5040`` (``_`` + integer ≥ 100)  5040 cGy = 50.4 Gy (TG-263)     yes
``PTV1``, ``PTV_2`` (integer < 10)    target number 1, 2              (no dose)
``PTV_25``, ``PTV60`` (10 to 99)      25 Gy, 60 Gy                    no
``PTV_50.4``, ``PTV48.6``             50.4 Gy, 48.6 Gy                no
``PTV5040`` (attached, ≥ 100)         50.4 Gy                         no
====================================  =============================  ==========

A level read with doubt (``certain=False``) may be an index or a dose in another unit;
the matcher accepts it only when it equals the prescription, never to rule on its own.

Anything after the recognised parts that starts with ``_``, a space or ``-`` is kept
in ``tail`` (``PTV48.6_sg`` → tail ``"sg"``; ``PTV1_WALL`` → tail ``"WALL"``): such a
name is not a standard TG-263 target name and is never *chosen* as the target, but it
makes a choice between look-alikes ambiguous. A name that is not a target at all
(``Rectum``, ``BRAIN - PTV``, ``PTVs``) gives ``None``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Literal

__all__ = [
    "TARGET_TYPES",
    "DoseLevel",
    "TargetName",
    "parse_target_name",
    "parse_target_spec",
]

#: The TG-263 target types, longest first where one is a prefix of another.
TARGET_TYPES: Final = ("PTV!", "IGTV", "ICTV", "GTV", "CTV", "ITV", "PTV")
CLASSIFIERS: Final = ("par", "vas", "sb", "p", "n", "v")

_TYPE: Final = re.compile(r"(?i:PTV!|IGTV|ICTV|GTV|CTV|ITV|PTV)")
_ATTACHED: Final = re.compile(
    r"(?P<cls>par|vas|sb|p|n|v)?(?:(?P<int>\d+)(?:[.p](?P<frac>\d+))?(?P<unit>(?i:cGy|Gy))?)?"
)
_END: Final = r"(?=$|[-^ _])"
_RELATIVE: Final = re.compile(r"[ _]+(?P<rel>(?i:high|mid|low))(?P<idx>\d+)?" + _END)
_WITH_UNIT: Final = re.compile(
    r"[ _]+(?P<int>\d+)(?:[._p](?P<frac>\d+))?\s*(?P<unit>(?i:cGy|Gy))" + _END
)
_BARE: Final = re.compile(r"[ _]+(?P<int>\d+)(?:[.p](?P<frac>\d+))?" + _END)
_CROP: Final = re.compile(r"-(?P<mm>\d+)(?=$|\^)")

RelativeLevel = Literal["High", "Mid", "Low"]


@dataclass(frozen=True)
class DoseLevel:
    """The dose level of a target name.

    Attributes
    ----------
    text
        As written, without the separator (``"5040"``, ``"50p4Gy"``, ``"Mid01"``).
    relative
        ``"High"``, ``"Mid"`` or ``"Low"`` for a relative level, else ``None``.
    relative_index
        The number of a relative level (``Mid01`` → 1), else ``None``.
    dose_gy
        The absolute dose in Gy, else ``None``.
    certain
        False when the number had no unit and may mean something else (see the
        module docstring); only a certain level can rule on its own.
    """

    text: str
    relative: RelativeLevel | None = None
    relative_index: int | None = None
    dose_gy: float | None = None
    certain: bool = True

    @property
    def is_absolute(self) -> bool:
        return self.dose_gy is not None

    def describe(self) -> str:
        """``"_High"``, ``"50.4 Gy"``, ``"48.6 Gy (read without unit, uncertain)"``."""
        if self.relative is not None:
            return f"_{self.text}"
        assert self.dose_gy is not None
        text = f"{self.dose_gy:g} Gy"
        return text if self.certain else f"{text} (no unit written, uncertain)"


@dataclass(frozen=True)
class TargetName:
    """A ROI name read as a TG-263 target name (see the module docstring).

    Attributes
    ----------
    name
        The name as given.
    type
        ``"GTV"``, ``"CTV"``, ``"ITV"``, ``"IGTV"``, ``"ICTV"``, ``"PTV"`` or ``"PTV!"``
        (upper case whatever the name's case).
    classifier
        ``"p"``, ``"n"``, ``"sb"``, ``"par"``, ``"v"``, ``"vas"`` or ``""``.
    index
        The target number (``PTVp2`` → 2), else ``None``.
    level
        The dose level, else ``None``.
    cropped_mm
        The cropping margin of a ``-03`` suffix (mm), else ``None``.
    qualifiers
        The ``^`` qualifiers, without the caret.
    not_for_evaluation
        True for the ``z`` prefix.
    tail
        Unrecognised text after the recognised parts (``"sg"`` in ``PTV48.6_sg``); a
        name with a tail is not a standard target name.
    """

    name: str
    type: str
    classifier: str = ""
    index: int | None = None
    level: DoseLevel | None = None
    cropped_mm: float | None = None
    qualifiers: tuple[str, ...] = ()
    not_for_evaluation: bool = False
    tail: str = ""

    @property
    def is_standard(self) -> bool:
        """True when nothing was left unrecognised."""
        return not self.tail

    @property
    def is_plain(self) -> bool:
        """True for a standard name without cropping, qualifiers or ``z`` prefix: the
        target itself rather than a derived structure."""
        return (
            self.is_standard
            and self.cropped_mm is None
            and not self.qualifiers
            and not self.not_for_evaluation
        )


def _number(int_part: str, frac: str | None) -> float:
    return float(f"{int_part}.{frac}") if frac else float(int_part)


def _with_unit(text: str, int_part: str, frac: str | None, unit: str) -> DoseLevel:
    value = _number(int_part, frac)
    return DoseLevel(text, dose_gy=value / 100.0 if unit.lower() == "cgy" else value)


def _bare(text: str, int_part: str, frac: str | None, attached: bool) -> int | DoseLevel:
    """A number written without unit: a target number or an absolute level."""
    if frac is None and int(int_part) < 10:
        return int(int_part)
    value = _number(int_part, frac)
    if frac is None and value >= 100:
        # TG-263 writes cGy without unit after "_"; attached to the type it is a guess.
        return DoseLevel(text, dose_gy=value / 100.0, certain=not attached)
    return DoseLevel(text, dose_gy=value, certain=False)


def parse_target_name(name: str) -> TargetName | None:
    """Read ``name`` as a TG-263 target name.

    Parameters
    ----------
    name
        A ROI name as written in the plan.

    Returns
    -------
    TargetName or None
        ``None`` when the name does not start with a target type followed by the end,
        a classifier, a number or a separator (``Rectum``, ``PTVs``, ``GTVnodes``).
    """
    text = name.strip()
    z = text.startswith("z") and _TYPE.match(text, 1) is not None
    t = _TYPE.match(text, 1 if z else 0)
    if t is None:
        return None
    a = _ATTACHED.match(text, t.end())
    assert a is not None  # every part is optional
    cls = a["cls"] or ""
    index: int | None = None
    level: DoseLevel | None = None
    if a["int"] is not None:
        written = text[a.start("int") : a.end()]
        if a["unit"]:
            level = _with_unit(written, a["int"], a["frac"], a["unit"])
        else:
            reading = _bare(written, a["int"], a["frac"], attached=True)
            index, level = (reading, None) if isinstance(reading, int) else (None, reading)
    pos = a.end()
    if level is None:
        r = _RELATIVE.match(text, pos)
        u = _WITH_UNIT.match(text, pos)
        b = _BARE.match(text, pos)
        if r is not None:
            level = DoseLevel(
                text[r.start("rel") : r.end()],
                relative=r["rel"].capitalize(),  # type: ignore[arg-type]
                relative_index=int(r["idx"]) if r["idx"] else None,
            )
            pos = r.end()
        elif u is not None:
            level = _with_unit(text[u.start("int") : u.end()], u["int"], u["frac"], u["unit"])
            pos = u.end()
        elif b is not None:
            reading = _bare(text[b.start("int") : b.end()], b["int"], b["frac"], attached=False)
            if isinstance(reading, DoseLevel):
                level, pos = reading, b.end()
            elif index is None:
                index, pos = reading, b.end()
    if pos < len(text) and text[pos] not in " _-^":
        return None  # "PTVs", "CTVboost", "PTVpelvis"
    rest = text[pos:]
    cropped: float | None = None
    c = _CROP.match(rest)
    if c is not None:
        cropped = float(c["mm"])
        rest = rest[c.end() :]
    qualifiers: tuple[str, ...] = ()
    if rest.startswith("^") and all(rest.split("^")[1:]):
        qualifiers = tuple(rest.split("^")[1:])
        rest = ""
    return TargetName(
        name=name,
        type=t.group(0).upper(),
        classifier=cls,
        index=index,
        level=level,
        cropped_mm=cropped,
        qualifiers=qualifiers,
        not_for_evaluation=z,
        tail=rest.strip(" _-"),
    )


def parse_target_spec(text: str) -> tuple[str, str] | None:
    """``(type, classifier)`` of a constraint set's ``target:`` value (``PTV``,
    ``PTVn``, ``CTVp``), or ``None`` when it is not a bare target type with an
    optional classifier."""
    t = parse_target_name(text)
    if (
        t is None
        or text.strip() != text
        or t.index is not None
        or t.level is not None
        or not t.is_plain
        or text[: len(t.type)] != t.type
    ):
        return None
    return t.type, t.classifier
