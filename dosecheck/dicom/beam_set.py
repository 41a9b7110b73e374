"""Check that a set of BEAM doses is the RTPLAN's beams, each exactly once.

Each BEAM RTDOSE names its beam in ReferencedRTPlanSequence >
ReferencedFractionGroupSequence > ReferencedBeamSequence > ReferencedBeamNumber
(:attr:`~dosecheck.model.DoseGrid.referenced_beam_numbers`). The RTPLAN's beams are
those of its first fraction group's ReferencedBeamSequence
(:attr:`~dosecheck.model.PlanInfo.beam_doses`). The beams that must have a dose are
those with BeamDose > 0; when the RTPLAN gives no BeamDose > 0 for any beam, every beam
it lists there is expected. Otherwise a beam listed with BeamDose 0 or without BeamDose
(e.g. a setup beam) may have a BEAM dose but need not.

Findings: a beam of the RTPLAN with no BEAM dose, two BEAM doses of one beam (copies or
re-exports), and a BEAM dose of a beam the RTPLAN does not list. When the BEAM doses are
summed into the plan dose each is an error; beside a PLAN dose (which is what is used)
they are reported as a warning. Without an RTPLAN, an RTPLAN that lists no beams, or a
BEAM dose that names no beam, the set cannot be verified and the note says so.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from dosecheck.errors import DicomInputError
from dosecheck.model import DoseGrid, PlanInfo

__all__ = ["check_beam_set"]

_TAG = "ReferencedBeamNumber"


def _ranges(numbers: Iterable[int]) -> str:
    """``1-9, 11`` for 1, 2, …, 9, 11."""
    ns = sorted(set(numbers))
    parts: list[str] = []
    i = 0
    while i < len(ns):
        j = i
        while j + 1 < len(ns) and ns[j + 1] == ns[j] + 1:
            j += 1
        parts.append(str(ns[i]) if i == j else f"{ns[i]}-{ns[j]}")
        i = j + 1
    return ", ".join(parts)


def _name(grid: DoseGrid) -> str:
    return Path(grid.sources[0]).name if grid.sources else "dose grid"


def check_beam_set(beams: Sequence[DoseGrid], plan_info: PlanInfo | None, *, refuse: bool) -> str:
    """Compare the BEAM doses' ReferencedBeamNumbers with the RTPLAN's beams.

    Parameters
    ----------
    beams
        The BEAM doses, one grid per file, as read.
    plan_info
        The RTPLAN, or ``None`` when there is none.
    refuse
        Raise on a finding (the BEAM doses are summed into the plan dose); when
        False the finding is returned as the note (BEAM doses beside a PLAN dose).

    Returns
    -------
    str
        One sentence for ``plan.warnings``: what was verified, or why it could not be.

    Raises
    ------
    DicomInputError
        With ``refuse``: a beam of the RTPLAN without a BEAM dose (path: the RTPLAN);
        two BEAM doses of one beam (path: the second); a BEAM dose of a beam the RTPLAN
        does not list (path: that dose). Tag ReferencedBeamNumber.
    """
    n = len(beams)
    files = ", ".join(_name(b) for b in beams)
    unverified = f"the {n} BEAM doses summed ({files}) cannot be verified to be every beam of "
    unverified += "the plan, once each: "
    if plan_info is None:
        return unverified + "there is no RTPLAN to list the beams; check the export is complete"
    rp = Path(plan_info.path).name or "the RTPLAN"
    if not plan_info.beam_doses:
        return unverified + (
            f"{rp} lists no beams in its first fraction group (ReferencedBeamSequence); "
            "check the export is complete"
        )
    unnamed = [_name(b) for b in beams if not b.referenced_beam_numbers]

    listed = {b.beam_number for b in plan_info.beam_doses}
    with_dose = {b.beam_number for b in plan_info.beam_doses if (b.dose_gy or 0.0) > 0}
    no_beam_dose = not with_dose  # no BeamDose at all (or all 0): every listed beam
    expected = listed if no_beam_dose else with_dose

    holders: dict[int, list[DoseGrid]] = {}
    for b in beams:
        for number in dict.fromkeys(b.referenced_beam_numbers):
            holders.setdefault(number, []).append(b)

    findings: list[tuple[str, str | None]] = []
    for number, grids in sorted(holders.items()):
        if len(grids) > 1:
            findings.append(
                (
                    f"beam {number} has {len(grids)} BEAM doses "
                    f"({', '.join(_name(g) for g in grids)}): copies or re-exports of one "
                    "beam would be summed twice; pass the beam doses to sum with --rtdose, "
                    "one file per beam",
                    grids[1].sources[0] if grids[1].sources else None,
                )
            )
    for number, grids in sorted(holders.items()):
        if number not in listed:
            findings.append(
                (
                    f"BEAM dose {_name(grids[0])} is of beam {number}, which {rp} does not "
                    f"list (its beams: {_ranges(listed)}): a dose of another plan? Pass the "
                    "beam doses of this plan with --rtdose",
                    grids[0].sources[0] if grids[0].sources else None,
                )
            )
    missing = sorted(expected - holders.keys())
    if missing and not unnamed:
        found = "; ".join(f"{_name(b)} (beam {_ranges(b.referenced_beam_numbers)})" for b in beams)
        which = "with BeamDose > 0" if not no_beam_dose else "(it gives no BeamDose > 0)"
        s = "s" if len(missing) > 1 else ""
        findings.append(
            (
                f"{rp} has beam{s} {_ranges(missing)} {which} but there is no BEAM dose of "
                f"it among the {n} found ({found}); the summed dose would miss "
                f"{'them' if s else 'it'}: export every beam's dose, or the PLAN dose",
                plan_info.path or None,
            )
        )
    if unnamed and not findings:
        # One file per beam (PS3.3 C.8.8.3: a BEAM dose references a single beam): the
        # count alone shows a missing beam or an extra file.
        too_few = len(unnamed) + len(expected & holders.keys()) < len(expected)
        if too_few or n > len(listed):
            how = (
                f"fewer than the {len(expected)} beams it expects to have dose"
                if too_few
                else f"more than the {len(listed)} beams it lists"
            )
            findings.append(
                (
                    f"{n} BEAM doses ({files}) were found for {rp}, {how} (beams "
                    f"{_ranges(expected if too_few else listed)}), and "
                    + (
                        "none of them names its beam: "
                        if len(unnamed) == n
                        else f"{len(unnamed)} of them name no beam: "
                    )
                    + (
                        "a beam's dose is missing"
                        if too_few
                        else "a beam is there twice, or a dose of another plan"
                    )
                    + "; export every beam's dose once, or the PLAN dose",
                    plan_info.path or None,
                )
            )
    if findings and refuse:
        message, path = findings[0]
        raise DicomInputError(message, path=path, tag=_TAG)
    if findings:
        return "BEAM doses do not match the RTPLAN's beams: " + "; ".join(m for m, _ in findings)
    if unnamed:
        which = (
            "none of them names its beam"
            if len(unnamed) == n
            else (f"{len(unnamed)} of them ({', '.join(unnamed)}) name no beam")
        )
        return unverified + (
            f"{which} "
            "(ReferencedRTPlanSequence > ReferencedFractionGroupSequence > "
            f"ReferencedBeamSequence > ReferencedBeamNumber); {rp} lists beams "
            f"{_ranges(listed)}"
        )
    idle = listed - expected - holders.keys()
    extra = f"; beams {_ranges(idle)} without BeamDose > 0 have no BEAM dose" if idle else ""
    basis = (
        "all beams listed, as it gives no BeamDose > 0"
        if no_beam_dose
        else "those with BeamDose > 0"
    )
    return (
        f"the {n} BEAM doses are beams {_ranges(holders)} of {rp}, each once: every beam "
        f"of its first fraction group expected to have dose ({basis}) is there"
        f"{extra} (ReferencedBeamNumber)"
    )
