"""The integer codes of Eclipse's clinical-protocol XML and what dosecheck makes of them.

Varian publishes no schema of these integers, and the public readers do not agree with
each other: WUSTL-ClinicalDev's ClinicalTemplateReader (an ESAPI library that reads
clinical protocols for automated planning) lists MeasureItem ``Type`` codes 0-5 in one
version and 0-8 in a later one, and uses *different* tables for the ``Modifier`` of an
``Item`` (plan objective: 0 at least, 1 at most, 2 mean dose is, ...) and of a
``MeasureItem`` (0 is more than, 1 is less than, 2 is, 3 ≥, 4 ≤). dosecheck uses that
reader's later tables, which are the only public ones written against real exported
protocols, and refuses (exit 2, naming the file, element and code) every code it does
not map. See docs/constraints.md, "Templates from planning systems".
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "ITEM_MODIFIERS",
    "ITEM_NOT_IMPORTED",
    "MEASURE_MODIFIERS",
    "MEASURE_NOT_IMPORTED",
    "MEASURE_TYPES",
    "MEASURE_TYPES_NOT_IMPORTED",
]

#: MeasureItem ``Type``: (kind, what ``TypeSpecifier`` holds).
#: V at relative dose: TypeSpecifier % of prescription; V at absolute dose: Gy;
#: D at relative volume: % of the structure; D at absolute volume: cc (mm³ in a
#: clinical-goals file); min, max and mean: no TypeSpecifier.
MEASURE_TYPES: Final = {
    2: ("V", "%"),
    3: ("V", "Gy"),
    4: ("D", "%"),
    5: ("D", "cc"),
    6: ("Min", None),
    7: ("Max", None),
    8: ("Mean", None),
}
#: Known MeasureItem types with no dosecheck metric yet: listed as not imported.
MEASURE_TYPES_NOT_IMPORTED: Final = {
    0: "conformity index: Eclipse's own measure, and the protocol's fields give no "
    "documented isodose level for it; dosecheck does not guess (write CI95%[] or CN95%[] "
    "in a YAML set)",
    1: "gradient measure: Eclipse's is a distance (the difference of the equivalent-sphere "
    "radii of two isodose volumes, in cm), not Paddick's gradient index (a volume ratio, "
    "GI50%[])",
}
#: MeasureItem ``Modifier`` → comparator.
MEASURE_MODIFIERS: Final = {0: ">", 1: "<", 3: ">=", 4: "<="}
MEASURE_NOT_IMPORTED: Final = {2: "'is' (an exact equality is not a constraint)"}

#: Item (plan objective) ``Modifier`` → (kind, comparator). At least / at most take
#: ``Parameter`` (% of the structure) and ``TotalDose`` (Gy): "at least P % receives D"
#: is ``D<P>%[Gy] >= D``, "at most P % receives more than D" is ``D<P>%[Gy] <= D``.
ITEM_MODIFIERS: Final = {
    0: ("D", ">="),
    1: ("D", "<="),
    7: ("Mean", ">"),
    8: ("Mean", "<"),
    9: ("Min", ">"),
    10: ("Max", "<"),
}
ITEM_NOT_IMPORTED: Final = {
    2: "'mean dose is' (an exact equality is not a constraint)",
    3: "'maximum dose is' (an exact equality is not a constraint)",
    4: "'minimum dose is' (an exact equality is not a constraint)",
    5: "'reference point receives' (a point dose; dosecheck checks structures)",
}
