"""The constraint sets shipped with dosecheck, and how a command finds the one to use.

The sets live in the top-level ``constraints/`` folder of the source tree and are
installed as the package ``dosecheck.constraint_sets``; a set's *name* is its file
stem (``rectum-long-course``). ``--constraints`` takes either such a name or the path
of a YAML file (:func:`resolve_constraint_set`). Without ``--constraints`` the set is
chosen from the plan's prescription (:func:`select_set_for_plan`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from dosecheck.checking.loader import load_constraint_set, load_constraint_set_text
from dosecheck.checking.model import ConstraintSet
from dosecheck.errors import InputError
from dosecheck.metrics import format_number

__all__ = [
    "PRESCRIPTION_REL_TOL",
    "SHIPPED_PACKAGE",
    "ShippedSet",
    "describe_prescription",
    "load_shipped_set",
    "plan_sum_set",
    "resolve_constraint_set",
    "select_set_for_plan",
    "shipped_set_names",
    "shipped_sets",
]

#: The package the shipped ``*.yaml`` sets are installed in.
SHIPPED_PACKAGE = "dosecheck.constraint_sets"
#: Relative tolerance on the prescription dose when matching a plan to a set (0.5 %).
PRESCRIPTION_REL_TOL = 0.005
_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class ShippedSet:
    """A constraint set shipped with dosecheck.

    Attributes
    ----------
    key
        The name used on the command line: the file stem, e.g. ``rectum-long-course``.
    constraint_set
        The loaded set.
    """

    key: str
    constraint_set: ConstraintSet


def describe_prescription(dose_gy: float | None, fractions: int | None) -> str:
    """``"50.4 Gy in 28 fractions"``, ``"25 Gy"`` or ``"no prescription"``."""
    if dose_gy is None:
        if fractions is None:
            return "no prescription"
        return f"{fractions} fraction{'s' if fractions != 1 else ''}"
    text = f"{format_number(round(dose_gy, 4))} Gy"
    if fractions is not None:
        text += f" in {fractions} fraction{'s' if fractions != 1 else ''}"
    return text


def _files() -> list[Traversable]:
    root = resources.files(SHIPPED_PACKAGE)
    return sorted(
        (f for f in root.iterdir() if f.is_file() and f.name.endswith(_SUFFIXES)),
        key=lambda f: f.name,
    )


def _stem(name: str) -> str:
    for suffix in _SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def shipped_set_names() -> list[str]:
    """The names (file stems) of the shipped sets, sorted."""
    return [_stem(f.name) for f in _files()]


def _load_traversable(f: Traversable) -> ConstraintSet:
    # Read through importlib.resources so that zipped installs work too; the path is
    # used in messages and reports only.
    data = f.read_bytes()
    return load_constraint_set_text(data.decode("utf-8"), path=str(f))


def load_shipped_set(name: str) -> ConstraintSet:
    """Load the shipped set called ``name`` (file stem; ``.yaml`` may be added).

    Raises
    ------
    InputError
        When no shipped set has that name; the message lists the shipped names.
    """
    wanted = _stem(name.strip())
    for f in _files():
        if _stem(f.name) == wanted:
            return _load_traversable(f)
    names = shipped_set_names()
    shown = ", ".join(names) if names else "(none installed)"
    raise InputError(
        f"unknown constraint set {name!r}: not a file, and not the name of a shipped set; "
        f"shipped sets: {shown} (or give the path of a YAML file)"
    )


def shipped_sets() -> list[ShippedSet]:
    """Every shipped set, loaded, sorted by name.

    Raises
    ------
    ConstraintFileError
        If a shipped file is malformed (a packaging bug; the tests load them all).
    """
    return [ShippedSet(_stem(f.name), _load_traversable(f)) for f in _files()]


def resolve_constraint_set(spec: str | Path) -> ConstraintSet:
    """Load the set named by ``--constraints``: a file (a YAML set or a planning-system
    template, :func:`~dosecheck.checking.templates.load_constraint_file`) or a shipped
    set's name.

    An existing file is always loaded as a file. Otherwise text with a path separator
    or ending in ``.yaml``/``.yml`` is taken as a (missing) file, anything else as the
    name of a shipped set.

    Raises
    ------
    InputError
        For a missing or malformed file (with file and line) or an unknown name (the
        message lists the shipped sets).
    """
    # The template readers are imported only for a file (a shipped set is YAML).
    if isinstance(spec, Path):
        from dosecheck.checking.templates import load_constraint_file

        return load_constraint_file(spec)
    text = spec.strip()
    if not text:
        raise InputError("--constraints needs a shipped set's name or a YAML file")
    path = Path(text).expanduser()
    looks_like_path = "/" in text or "\\" in text or text.lower().endswith(_SUFFIXES)
    if path.exists():
        from dosecheck.checking.templates import load_constraint_file

        return load_constraint_file(path)
    if looks_like_path:
        if text.lower().endswith(_SUFFIXES) and _stem(text) in shipped_set_names():
            return load_shipped_set(text)
        return load_constraint_set(path)  # raises "no such constraint-set file"
    return load_shipped_set(text)


def _prescription_matches(cset: ConstraintSet, dose_gy: float, fractions: int | None) -> bool:
    if cset.prescription_gy is None:
        return False
    if not math.isclose(dose_gy, cset.prescription_gy, rel_tol=PRESCRIPTION_REL_TOL):
        return False
    return fractions is None or cset.fractions is None or fractions == cset.fractions


def _listing(sets: list[ShippedSet]) -> str:
    parts = []
    for s in sets:
        c = s.constraint_set
        parts.append(f"{s.key} ({describe_prescription(c.prescription_gy, c.fractions)})")
    return "; ".join(parts)


def select_set_for_plan(prescription_gy: float | None, fractions: int | None) -> ShippedSet:
    """The shipped set written for this prescription.

    A set matches when its dose is within 0.5 % of ``prescription_gy`` and its number
    of fractions equals ``fractions`` (fractions are not compared when either is
    unknown).

    Parameters
    ----------
    prescription_gy
        The plan's prescription dose (Gy), from ``--prescription`` or the RTPLAN.
    fractions
        The plan's number of fractions, or ``None``.

    Raises
    ------
    InputError
        When there is no prescription, or no shipped set or several match; the
        message lists the shipped sets with their prescriptions.
    """
    sets = shipped_sets()
    listing = _listing(sets) or "(none installed)"
    if prescription_gy is None:
        raise InputError(
            "cannot choose a constraint set: the plan has no RTPLAN prescription; pass "
            f"--constraints NAME|FILE (or --prescription GY --fractions N). Shipped sets: {listing}"
        )
    hits = [s for s in sets if _prescription_matches(s.constraint_set, prescription_gy, fractions)]
    wanted = describe_prescription(prescription_gy, fractions)
    if not hits:
        raise InputError(
            f"no shipped constraint set is written for {wanted}; pass --constraints "
            f"NAME|FILE. Shipped sets: {listing}"
        )
    if len(hits) > 1:
        raise InputError(
            f"several shipped constraint sets are written for {wanted}: {_listing(hits)}; "
            "choose one with --constraints NAME"
        )
    return hits[0]


def plan_sum_set(parts: Sequence[tuple[float | None, int | None]]) -> ShippedSet | None:
    """The shipped set to check several plans of one structure set against as one
    course, when that is the only sensible reading; else ``None``.

    That is when no plan alone matches a shipped set's prescription, and the sum of
    their prescriptions matches exactly one set: dose within 0.5 % and the summed
    number of fractions equal to the set's (every plan's dose and fractions, and the
    set's fractions, must be known).

    Parameters
    ----------
    parts
        ``(prescription_gy, fractions)`` of each plan, from its RTPLAN.
    """
    if len(parts) < 2 or any(d is None or n is None for d, n in parts):
        return None
    sets = shipped_sets()
    for dose, n in parts:
        assert dose is not None
        if any(_prescription_matches(s.constraint_set, dose, n) for s in sets):
            return None
    total = float(sum(d or 0.0 for d, _ in parts))
    n_total = sum(n or 0 for _, n in parts)
    hits = [
        s
        for s in sets
        if s.constraint_set.fractions == n_total
        and _prescription_matches(s.constraint_set, total, n_total)
    ]
    return hits[0] if len(hits) == 1 else None
