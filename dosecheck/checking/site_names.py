"""The clinic's alias file: how its ROIs are named locally, kept once for every set.

Format (YAML, one mapping: constraint-set structure name → local ROI names)::

    # site-names.yaml
    Bag_Bowel: [BOWEL_BAG_NEW, Darmschlingen]
    PTV: PTV_Boost          # a single name may be written as text

Structure names are compared with the constraint set's ignoring case, spaces, ``_``
and ``-``; the local names are matched like a set's aliases (exact spelling first,
then normalised), before the set's own names (``matched_by`` ``"site map"``).
Structures that a set does not have are ignored, so one file serves every set.

The file is read with the safe YAML reader of :mod:`dosecheck._yaml` (no tags,
anchors or merge keys; at most 1 MB); every mistake names the file and line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dosecheck._yaml import Reader, compose, read_yaml_file
from dosecheck.checking.matching import normalize_name

__all__ = ["SiteNames", "load_site_names", "load_site_names_text", "parse_roi_map"]


@dataclass(frozen=True)
class SiteNames:
    """A loaded alias file.

    Attributes
    ----------
    path
        The file (``"<string>"`` for text).
    sha256
        Hex digest of its bytes.
    names
        Structure name → local ROI names, in file order.
    source
        How it was given: ``"option"`` (``--site-names``), ``"environment"``
        (``DOSECHECK_SITE_NAMES``) or ``""`` (the Python API).
    """

    path: str
    sha256: str
    names: dict[str, tuple[str, ...]] = field(default_factory=dict)
    source: str = ""

    def to_dict(self) -> dict[str, Any]:
        """``{path, sha256, source, names}`` for the check JSON."""
        return {
            "path": self.path,
            "sha256": self.sha256,
            "source": self.source,
            "names": {k: list(v) for k, v in self.names.items()},
        }


def load_site_names(path: str | Path, source: str = "") -> SiteNames:
    """Load a site alias file.

    Raises
    ------
    ConstraintFileError
        Missing, too large, not UTF-8, not YAML, or not a mapping of structure names
        to a name or a list of names; the message names the file and line.
    """
    p = Path(path)
    text, sha256 = read_yaml_file(p, "site alias file", "site alias files")
    return _parse(text, str(p), sha256, source)


def load_site_names_text(text: str, path: str = "<string>", source: str = "") -> SiteNames:
    """Load a site alias file from text (``path`` is used in messages only)."""
    import hashlib

    return _parse(text, path, hashlib.sha256(text.encode("utf-8")).hexdigest(), source)


def _parse(text: str, path: str, sha256: str, source: str) -> SiteNames:
    yaml, root = compose(text, path)
    r = Reader(path, yaml, plural="site alias files")
    example = "'Bag_Bowel: [BOWEL_BAG_NEW, Darmschlingen]'"
    if root is None:
        r.fail(f"the site alias file is empty; expected lines such as {example}", 1)
    r.check_tree(root)
    if type(root).__name__ != "MappingNode":
        r.fail(
            f"a site alias file must be a mapping of structure names to ROI names, e.g. "
            f"{example}; not {r.describe(root)}",
            root,
        )
    names: dict[str, tuple[str, ...]] = {}
    first: dict[str, tuple[str, int]] = {}
    for k, v in root.value:
        structure = r.text(k, "a structure name")
        key = normalize_name(structure)
        if not key:
            r.fail(f"structure name {structure!r} has no letters or digits", k)
        if key in first:
            other, line = first[key]
            r.fail(
                f"duplicate structure {structure!r} (same as {other!r} at line {line}, "
                "ignoring case, spaces, '_' and '-'); merge their names",
                k,
            )
        first[key] = (structure, k.start_mark.line + 1)
        if type(v).__name__ == "SequenceNode":
            items = list(v.value)
            if not items:
                r.fail(f"the names of {structure!r} are empty; list at least one ROI name", v)
        else:
            items = [v]
        local: list[str] = []
        for item in items:
            name = r.text(item, f"a ROI name of {structure!r}")
            if not normalize_name(name):
                r.fail(f"ROI name {name!r} of {structure!r} has no letters or digits", item)
            local.append(name)
        names[structure] = tuple(local)
    return SiteNames(path=path, sha256=sha256, names=names, source=source)


def parse_roi_map(items: list[str] | tuple[str, ...]) -> dict[str, str]:
    """``--map STRUCTURE=ROI`` options as ``{structure: roi}``.

    Raises
    ------
    InputError
        An item without ``=``, with an empty side, or a structure given twice.
    """
    from dosecheck.errors import InputError

    out: dict[str, str] = {}
    seen: dict[str, str] = {}
    for item in items:
        structure, eq, roi = item.partition("=")
        structure, roi = structure.strip(), roi.strip()
        if not eq or not structure or not roi:
            raise InputError(
                f"--map {item!r}: expected STRUCTURE=ROI, e.g. --map PTV=PTV_Boost "
                "(quote names with spaces)"
            )
        key = normalize_name(structure)
        if key in seen:
            raise InputError(
                f"--map {item!r}: structure {structure!r} is already mapped "
                f"(--map {seen[key]}={out[seen[key]]})"
            )
        seen[key] = structure
        out[structure] = roi
    return out
