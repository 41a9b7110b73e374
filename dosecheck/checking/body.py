"""Find the body (external) ROI, the whole patient, for the conformity and gradient
indices (``CI``, ``CN``, ``GI``: their isodose volume ``V_RI`` is the body's).

The body is found like any structure of a constraint set (:mod:`.matching`), as the
structure :data:`BODY_NAME` with the aliases :data:`BODY_ALIASES`, unless the set has a
structure of its own named ``Body`` or ``External`` (then its aliases and regex are
used). The steps, first decisive one wins:

1. ``--map Body=ROI`` or the site alias file's entry for ``Body``;
2. the only ROI whose RTROIInterpretedType is ``EXTERNAL`` (DICOM's mark of the
   patient outline; planning systems allow one per structure set);
3. the ROI named ``Body``, ``External``, ``Outer Contour``, … (case, spaces, ``_`` and
   ``-`` ignored), or matched by the set's own body structure.

When the set has its own body structure and it matches a ROI (as for its own
constraints), that ROI is the body, before step 2: one report never checks two ROIs
as "the body".

Nothing else is tried: a plan without a body ROI gets its indices ``not_evaluated``
with a message naming what was looked for, never a guess (the largest ROI is not
assumed to be the patient).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

from dosecheck.checking.matching import (
    MatchResult,
    NamingContext,
    RoiInfo,
    match_structure,
    normalize_name,
)
from dosecheck.checking.model import ConstraintSet, StructureSpec
from dosecheck.core.dvh import DVH
from dosecheck.errors import MetricDomainError
from dosecheck.metrics import Metric, format_number

__all__ = [
    "BODY_ALIASES",
    "BODY_NAME",
    "BodyDVH",
    "body_dvh",
    "body_for_target",
    "body_spec",
    "find_body",
    "other_targets_warning",
    "own_body",
    "require_isodose_in_grid",
    "uses_body",
]

#: The name the body structure goes by (``--map Body=ROI``, the site alias file).
BODY_NAME: Final = "Body"
#: Other names of the patient outline in planning systems (TG-263 ``External``,
#: Eclipse ``BODY``, RayStation ``External``, Pinnacle/Monaco ``Outer Contour``).
BODY_ALIASES: Final = ("External", "Outer Contour", "Outline", "Körper")
_BODY_KEYS: Final = frozenset(normalize_name(n) for n in (BODY_NAME, "External"))


def uses_body(cset: ConstraintSet) -> bool:
    """True when a constraint of ``cset`` needs the body's DVH."""
    return any(c.metric.needs_body for _, c in cset.constraints)


def own_body(cset: ConstraintSet) -> StructureSpec | None:
    """The set's own ``Body``/``External`` structure, as written, or ``None``."""
    for s in cset.structures:
        if normalize_name(s.name) in _BODY_KEYS and s.target is None:
            return s
    return None


def body_spec(cset: ConstraintSet) -> StructureSpec:
    """The set's own ``Body``/``External`` structure (with the body's usual names added
    to its aliases), or the default body spec."""
    s = own_body(cset)
    if s is not None:
        aliases = tuple(dict.fromkeys((*s.aliases, BODY_NAME, *BODY_ALIASES)))
        return StructureSpec(s.name, aliases=aliases, regex=s.regex, line=s.line)
    return StructureSpec(BODY_NAME, aliases=BODY_ALIASES)


def find_body(spec: StructureSpec, roi_names: Sequence[str], context: NamingContext) -> MatchResult:
    """The body ROI (see the module docstring); never raises, check ``status``."""
    rois = context.rois or tuple(RoiInfo(n) for n in roi_names)
    names = tuple(r.name for r in rois)
    by_name = match_structure(spec, names, context)
    if by_name.matched_by in ("command line", "site map"):
        return by_name
    external = [r.name for r in rois if r.interpreted_type.strip().upper() == "EXTERNAL"]
    if len(external) == 1:
        return MatchResult(
            spec.name,
            "matched",
            external[0],
            "interpreted-type",
            (external[0],),
            names,
            detail="the only ROI of RTROIInterpretedType EXTERNAL",
        )
    if by_name.status != "not_found":
        return by_name
    why = (
        f"ROIs {', '.join(repr(n) for n in external)} are all of RTROIInterpretedType EXTERNAL"
        if external
        else "no ROI is of RTROIInterpretedType EXTERNAL"
    )
    message = (
        f"no body (external) ROI, which the conformity and gradient indices need for the "
        f"isodose volume: {why}, and {by_name.message}; name it with --map "
        f"{spec.name}=ROI"
    )
    status = "ambiguous" if len(external) > 1 else "not_found"
    return MatchResult(
        spec.name,
        status,
        None,
        "interpreted-type" if external else None,
        tuple(external),
        names,
        message,
    )


def other_targets_warning(context: NamingContext, target_roi: str) -> str | None:
    """A warning when the plan has PTVs besides ``target_roi`` (by RTROIInterpretedType):
    ``V_RI`` is the body's whole isodose volume, so the isodose around another lesion
    (a multi-target radiosurgery plan) counts against this target's CI, CN and GI."""
    others = [
        r.name
        for r in context.rois
        if r.interpreted_type.strip().upper() == "PTV" and r.name != target_roi
    ]
    if not others:
        return None
    shown = ", ".join(repr(n) for n in others[:5]) + (", …" if len(others) > 5 else "")
    return (
        f"the plan has other PTVs ({shown}) besides {target_roi!r}: the isodose volume of "
        "CI, CN and GI is the whole body's, so where the isodose also surrounds another "
        "target (separate lesions), it counts against this one; read those indices as "
        "the plan's, not this target's"
    )


@dataclass(frozen=True)
class BodyDVH:
    """The body ROI of one evaluation: its match, DVH (``None`` when not found), the
    caveats every index result carries and, when the body extends beyond the dose grid,
    the highest dose on the grid's faces it reaches (``None`` otherwise, or unknown)."""

    match: MatchResult
    dvh: DVH | None
    warnings: tuple[str, ...] = ()
    grid_edge_max_gy: float | None = None


def require_isodose_in_grid(body: BodyDVH, metric: Metric, prescription_gy: float | None) -> None:
    """Refuse an index whose isodose reaches the edge of the dose grid where the body
    continues beyond it: the isodose volume inside the grid is then cut, and the index
    (CI and GI too small, CN too large) looks better than the plan may be.

    Raises
    ------
    MetricDomainError
        When the body extends beyond the grid and the isodose of ``metric`` (the
        reference of CI/CN, the low isodose of GI) is at most the grid's edge dose.
    """
    edge = body.grid_edge_max_gy
    if edge is None or body.dvh is None or not metric.needs_body:
        return
    isodose = metric.isodose_gy(prescription_gy)
    if isodose <= edge:
        raise MetricDomainError(
            f"the {format_number(round(isodose, 2))} Gy isodose of {metric.label} reaches the "
            f"edge of the dose grid (up to {format_number(round(edge, 2))} Gy there) while the "
            f"body ROI {body.match.roi!r} continues {body.dvh.outside_grid_cc:.1f} cc beyond "
            "the grid: the isodose volume is cut by the grid, so the index is unknown; "
            "extend the dose grid"
        )


def body_dvh(
    cset: ConstraintSet,
    roi_names: Sequence[str],
    ctx: NamingContext,
    get_dvh: Callable[[str], DVH],
    cache: dict[str, DVH],
    outside_grid_message: Callable[[str, DVH], str | None],
    grid_edge_max_gy: Callable[[str], float | None] | None = None,
) -> BodyDVH:
    """The body ROI and its DVH (from ``cache`` or ``get_dvh``, stored in ``cache``),
    with a warning when the body extends beyond the dose grid (``outside_grid_message``
    says whether it does, as for any structure); then it also keeps
    ``grid_edge_max_gy(roi)``, the highest dose on the grid's faces the body reaches,
    for :func:`require_isodose_in_grid`."""
    own = own_body(cset)
    # The set's own body structure, once matched, is the body: its constraints and the
    # indices' isodose volumes then use one ROI (an EXTERNAL ROI does not overrule it).
    match = match_structure(own, roi_names, ctx) if own is not None else None
    if match is None or match.roi is None:
        match = find_body(body_spec(cset), roi_names, ctx)
    if match.roi is None:
        return BodyDVH(match, None)
    if match.roi not in cache:
        cache[match.roi] = get_dvh(match.roi)
    dvh = cache[match.roi]
    warnings = [*match.warnings, *dvh.warnings]
    beyond = outside_grid_message(match.roi, dvh) is not None
    if beyond:
        warnings.append(
            f"the body ROI {match.roi!r} extends {dvh.outside_grid_cc:.1f} cc beyond the "
            "dose grid: isodose volumes count the body inside the grid only (the dose "
            "outside it is taken as below the isodose, as planning systems do)"
        )
    edge = grid_edge_max_gy(match.roi) if beyond and grid_edge_max_gy is not None else None
    return BodyDVH(match, dvh, tuple(warnings), edge)


def body_for_target(body: BodyDVH, context: NamingContext, target_roi: str) -> BodyDVH:
    """``body`` with :func:`other_targets_warning` for ``target_roi`` added, if any."""
    others = other_targets_warning(context, target_roi)
    if others is None:
        return body
    return dataclasses.replace(body, warnings=(*body.warnings, others))
