"""Find the plans among DICOM files by reading headers only: one grouping for all commands.

``dosecheck check``, ``dvh`` and ``report`` (:func:`find_plan_files`: one plan in a
folder, or an error naming the candidates) and ``dosecheck batch`` (:func:`discover`:
every plan in folders and zip archives) use the same rules, so they cannot disagree
about which files form a plan.

Files
    Folders are walked recursively (directory symlinks followed, each real folder
    entered once), ``.zip`` files are read in memory (never extracted for
    discovery), single files are read as given (:mod:`dosecheck.dicom.files`).
    Only headers are read (:mod:`dosecheck.dicom.headers`). Non-DICOM files and other
    objects (CT, MR, RTIMAGE, …) are counted and skipped.
Copies
    Objects with the same SOPInstanceUID count once. Of the copies the largest file
    is kept: a truncated copy must not shadow a complete one. Of copies of equal
    size, a plan uses the one in its dose's folder, else the first found.
Grouping
    1. Each RTDOSE belongs to the RTPLAN named in its ReferencedRTPlanSequence. A
       reference to an RTPLAN that is not among the files is a note; no other RTPLAN
       is taken in its place.
    2. Each RTPLAN belongs to the RTSTRUCT named in its ReferencedStructureSetSequence.
    3. Where a reference is missing (or, for the RTSTRUCT, points to an object that
       is not among the files), the RTPLAN or RTSTRUCT is the one object of the same
       patient that shares the dose's FrameOfReferenceUID, else its
       StudyInstanceUID, else the only one of that patient in the same archive
       (for ``check``: the folder). Where several share the UID, one in the dose's
       own folder is preferred. Objects of another patient (both PatientIDs known
       and different) are never taken. Several candidates left is a *problem*, not a
       guess; the plan's ``grouping`` says which rule was used.
Doses
    BEAM doses (DoseSummationType ``BEAM``) of one plan are summed by the loader.
    A PLAN dose is the plan's dose; BEAM doses of the same plan beside it are kept in
    ``beam_doses`` and checked against it voxel by voxel (they are not added: that
    would count the dose twice). Several whole-plan doses (PLAN, MULTI_PLAN,
    FRACTION) of one plan are alternatives, each a plan of its own (``check``
    refuses to choose). Beam doses beside a FRACTION or MULTI_PLAN dose are set aside.
Problems
    A dose for which no RTSTRUCT (or, through rule 3, no single RTPLAN) is found
    becomes a plan with a ``problem``: ``batch`` records it as an error rather than
    dropping it, ``check`` refuses with that message.
"""

from __future__ import annotations

import hashlib
import os
import zipfile
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from dosecheck.dicom.files import ZIP_SEP, FileRef, iter_files
from dosecheck.dicom.headers import RT_MODALITIES, RTHeader, UnreadableDicom, read_rt_header
from dosecheck.errors import DicomInputError, InputError
from dosecheck.model import PlanFiles

__all__ = [
    "DiscoveredPlan",
    "Discovery",
    "discover",
    "find_plan_files",
    "group_plans",
    "read_headers",
]

#: DoseSummationTypes that are the whole plan's dose, to which BEAM doses are compared
#: ("" = missing, which the reader takes as PLAN).
_BEAM_CHECKED = ("PLAN", "")


# --------------------------------------------------------------------------- plans
@dataclass(frozen=True)
class DiscoveredPlan:
    """The files of one plan, as found in an archive.

    Attributes
    ----------
    source
        The archive (folder or zip, as given on the command line, absolute).
    path
        The plan's folder: the deepest folder holding all its files
        (``archive.zip::folder`` inside a zip).
    rtstruct
        The structure set, or ``None`` when none was found (then ``problem`` is set).
    rtdose
        The dose file(s): one PLAN/FRACTION/MULTI_PLAN dose, or the beam doses of the
        plan (to sum).
    rtplan
        The RTPLAN, when found.
    patient_id, patient_name, plan_label, plan_uid, structure_set_uid
        Identity from the headers.
    prescription_gy, fractions
        From the RTPLAN header (``None`` without RTPLAN or value).
    grouping
        How the files were put together: ``"references"`` when every link is a
        DICOM reference, else e.g. ``"RTSTRUCT by FrameOfReferenceUID"``.
    problem
        Why the plan cannot be evaluated (recorded as an error), or ``None``.
    notes
        Other things worth knowing (files left out, missing references).
    beam_doses
        BEAM doses of the plan beside its PLAN dose ``rtdose``: checked against it,
        not added.
    referenced_plan_uid
        The RTPLAN UID the doses reference (also when that RTPLAN is not among the
        files), or ``""``.
    problem_roles
        Which parts ``problem`` is about (``"rtstruct"``, ``"rtplan"``): a part the
        user names explicitly (``--rtstruct`` …) resolves it.
    """

    source: str
    path: str
    rtstruct: FileRef | None
    rtdose: tuple[FileRef, ...]
    rtplan: FileRef | None = None
    patient_id: str = ""
    patient_name: str = ""
    plan_label: str = ""
    plan_uid: str = ""
    structure_set_uid: str = ""
    prescription_gy: float | None = None
    fractions: int | None = None
    grouping: str = "references"
    problem: str | None = None
    notes: tuple[str, ...] = ()
    beam_doses: tuple[FileRef, ...] = ()
    referenced_plan_uid: str = ""
    problem_roles: tuple[str, ...] = ()

    @property
    def files(self) -> list[tuple[str, FileRef]]:
        """``(role, file)`` pairs: rtstruct, each rtdose, each beam_dose, rtplan."""
        out: list[tuple[str, FileRef]] = []
        if self.rtstruct is not None:
            out.append(("rtstruct", self.rtstruct))
        out.extend(("rtdose", f) for f in self.rtdose)
        out.extend(("beam_dose", f) for f in self.beam_doses)
        if self.rtplan is not None:
            out.append(("rtplan", self.rtplan))
        return out

    @property
    def location_key(self) -> str:
        """SHA-256 of the files' locations: the plan's identity across runs."""
        text = "\n".join(f"{role}={f.location}" for role, f in self.files)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def describe(self) -> str:
        """``patient / label (path)`` for messages."""
        who = self.patient_id or "?"
        label = self.plan_label or "(no RTPLAN label)"
        return f"{who} / {label} ({self.path})"

    def uses(
        self,
        *,
        rtstruct: str | Path | None = None,
        rtdose: Sequence[str | Path] = (),
        rtplan: str | Path | None = None,
    ) -> bool:
        """Whether the plan holds the given files (any of ``rtdose``; paths compared
        after resolving symlinks; ``None``/empty matches anything)."""
        if rtstruct is not None and not _same(self.rtstruct, rtstruct):
            return False
        if rtplan is not None and not _same(self.rtplan, rtplan):
            return False
        doses = (*self.rtdose, *self.beam_doses)
        return not rtdose or any(_same(f, p) for f in doses for p in rtdose)

    def plan_files(self, root: str = "") -> PlanFiles:
        """The plan as :class:`~dosecheck.model.PlanFiles` (plain files only).

        Raises
        ------
        ValueError
            A file is a zip member (extract it first) or the RTSTRUCT is missing.
        """
        if any(f.member is not None for _, f in self.files):
            raise ValueError("zip members must be extracted before loading")
        if self.rtstruct is None:
            raise ValueError(self.problem or "no RTSTRUCT")
        return PlanFiles(
            rtstruct=self.rtstruct.path,
            rtdose=tuple(f.path for f in self.rtdose),
            rtplan=self.rtplan.path if self.rtplan is not None else None,
            root=root or self.path,
            beam_doses=tuple(f.path for f in self.beam_doses),
        )


def _real(path: str | Path) -> str:
    return os.path.realpath(os.path.abspath(os.path.expanduser(str(path))))


def _same(f: FileRef | None, path: str | Path) -> bool:
    return f is not None and f.member is None and _real(f.path) == _real(path)


@dataclass
class Discovery:
    """The outcome of :func:`discover`.

    Attributes
    ----------
    plans
        The plans found, sorted by folder, patient and label.
    n_files
        Files looked at.
    skipped
        Reasons files were skipped, with counts (``non-DICOM``, ``CT``, ``MR``,
        ``duplicate SOPInstanceUID``, ``RTSTRUCT without dose`` …).
    unreadable
        ``(location, message)`` of DICOM files whose header could not be read.
    headers
        The RT headers grouped (copies removed).
    copies
        SOPInstanceUIDs found in several files of the largest size, with those files.
    """

    plans: list[DiscoveredPlan] = field(default_factory=list)
    n_files: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    unreadable: list[tuple[str, str]] = field(default_factory=list)
    headers: list[RTHeader] = field(default_factory=list)
    copies: dict[str, list[RTHeader]] = field(default_factory=dict)

    def skipped_text(self) -> str:
        """``"12 non-DICOM, 340 CT, …"`` (or ``"none"``)."""
        if not self.skipped:
            return "none"
        return ", ".join(f"{n} {reason}" for reason, n in sorted(self.skipped.items()))


# --------------------------------------------------------------------------- grouping
def _common_folder(files: Sequence[FileRef]) -> str:
    folders = [f.folder for f in files]
    if len(set(folders)) == 1:
        return folders[0]
    zips = {f.path for f in files if f.member is not None}
    if len(zips) == 1 and all(f.member is not None for f in files):
        zpath = next(iter(zips))
        parents = [os.path.dirname((f.member or "").rstrip("/")) for f in files]
        common = os.path.commonpath(parents) if all(parents) else ""
        return f"{zpath}{ZIP_SEP}{common}"
    plain = [f.folder if f.member is None else os.path.dirname(f.path) for f in files]
    try:
        return os.path.commonpath(plain)
    except ValueError:  # different drives
        return plain[0]


def _other_patient(a: RTHeader, b: RTHeader) -> bool:
    return bool(a.patient_id and b.patient_id and a.patient_id != b.patient_id)


class _Index:
    """Headers of one modality by UID, frame of reference, study and archive."""

    def __init__(self, headers: Iterable[RTHeader]) -> None:
        self.all = list(headers)
        self.by_uid = {h.uid: h for h in self.all if h.uid}
        self.by_frame: dict[str, list[RTHeader]] = defaultdict(list)
        self.by_study: dict[str, list[RTHeader]] = defaultdict(list)
        self.by_source: dict[str, list[RTHeader]] = defaultdict(list)
        for h in self.all:
            if h.frame_uid:
                self.by_frame[h.frame_uid].append(h)
            if h.study_uid:
                self.by_study[h.study_uid].append(h)
            self.by_source[h.source].append(h)

    def fallback(
        self, near: RTHeader, frame_uid: str, study_uid: str, kind: str
    ) -> tuple[RTHeader | None, str, str | None]:
        """``(header, rule, problem)``: the object of ``near``'s patient sharing the
        frame of reference (then the study, then the archive) with ``near``,
        preferring the same folder (see the module docstring)."""
        for rule, key, table in (
            ("FrameOfReferenceUID", frame_uid, self.by_frame),
            ("StudyInstanceUID", study_uid, self.by_study),
            ("archive", near.source, self.by_source),
        ):
            if not key:
                continue
            candidates = [h for h in table.get(key, []) if not _other_patient(near, h)]
            if not candidates:
                continue
            if len(candidates) > 1:
                same_folder = [h for h in candidates if h.file.folder == near.file.folder]
                if len(same_folder) == 1:
                    candidates = same_folder
            rule_text = "the only one in the archive" if rule == "archive" else rule
            if len(candidates) == 1:
                return candidates[0], f"{kind} by {rule_text}", None
            listing = "; ".join(h.file.location for h in candidates)
            shared = f"are in the archive {key}" if rule == "archive" else f"share the {rule} {key}"
            return (
                None,
                f"{kind} by {rule_text}",
                f"found {len(candidates)} {kind} files that {shared} and no reference "
                f"tells which belongs to the dose {near.file.location} ({listing})",
            )
        return None, "", None

    def other_patients(self, near: RTHeader) -> list[RTHeader]:
        """Objects in ``near``'s archive that belong to another patient."""
        return [h for h in self.by_source.get(near.source, []) if _other_patient(near, h)]


def _no_struct_problem(dose: RTHeader, structs: _Index) -> str:
    others = structs.other_patients(dose)
    if others:
        listing = "; ".join(f"{h.file.location} (PatientID {h.patient_id})" for h in others[:3])
        if len(others) > 3:
            listing += f"; {len(others) - 3} more"
        return (
            f"no RTSTRUCT found for the dose {dose.file.location} (PatientID "
            f"{dose.patient_id}): no reference, and the structure sets beside it are of "
            f"another patient ({listing})"
        )
    return (
        f"no RTSTRUCT found for the dose {dose.file.location} (no reference, and none "
        "with its FrameOfReferenceUID or StudyInstanceUID among the files)"
    )


@dataclass
class _Link:
    plan: RTHeader | None
    struct: RTHeader | None
    rules: list[str]
    problems: list[tuple[str, str]]  # (role, message)
    notes: list[str]


def _link(dose: RTHeader, plans: _Index, structs: _Index) -> _Link:
    """The RTPLAN and RTSTRUCT of one dose."""
    link = _Link(None, None, [], [], [])
    if dose.plan_ref:
        link.plan = plans.by_uid.get(dose.plan_ref)
        if link.plan is None:
            link.notes.append(
                f"the dose references RTPLAN {dose.plan_ref}, which is not in the archives"
            )
    elif plans.all:
        link.plan, rule, problem = plans.fallback(dose, dose.frame_uid, dose.study_uid, "RTPLAN")
        if link.plan is not None:
            link.rules.append(rule)
        elif problem is not None:
            link.problems.append(("rtplan", problem))
    plan = link.plan
    if plan is not None and plan.struct_ref:
        link.struct = structs.by_uid.get(plan.struct_ref)
        if link.struct is None:
            link.notes.append(
                f"the RTPLAN references RTSTRUCT {plan.struct_ref}, which is not in the archives"
            )
    if link.struct is None:
        frame = dose.frame_uid or (plan.frame_uid if plan else "")
        study = dose.study_uid or (plan.study_uid if plan else "")
        link.struct, rule, problem = structs.fallback(dose, frame, study, "RTSTRUCT")
        if link.struct is not None:
            link.rules.append(rule)
        else:
            link.problems.append(("rtstruct", problem or _no_struct_problem(dose, structs)))
    return link


def _nearest(
    h: RTHeader | None, dose: RTHeader, copies: Mapping[str, Sequence[RTHeader]]
) -> RTHeader | None:
    """Of the equal copies of ``h``, the one in the dose's folder (else ``h``)."""
    if h is None:
        return None
    return next((c for c in copies.get(h.uid, ()) if c.file.folder == dose.file.folder), h)


def group_plans(
    headers: Sequence[RTHeader],
    skipped: Counter[str],
    copies: Mapping[str, Sequence[RTHeader]] | None = None,
) -> list[DiscoveredPlan]:
    """Group the RT headers into plans (see the module docstring for the rules).

    Parameters
    ----------
    headers
        RTSTRUCT, RTPLAN and RTDOSE headers (copies already removed).
    skipped
        Counter incremented for structure sets and plans without a dose, and beam
        doses set aside.
    copies
        By SOPInstanceUID, the copies of the same size as the header kept: a plan
        uses the copy in its dose's folder (so a plan folder stays whole when
        several folders hold one structure set).
    """
    copies = copies or {}
    structs = _Index(h for h in headers if h.modality == "RTSTRUCT")
    plans = _Index(h for h in headers if h.modality == "RTPLAN")
    doses = [h for h in headers if h.modality == "RTDOSE"]

    groups: dict[tuple[str, str, str], list[RTHeader]] = defaultdict(list)
    links: dict[tuple[str, str, str], _Link] = {}
    for dose in doses:
        link = _link(dose, plans, structs)
        link.plan = _nearest(link.plan, dose, copies)
        link.struct = _nearest(link.struct, dose, copies)
        plan_key = link.plan.uid if link.plan else dose.plan_ref
        if link.struct is not None and not link.problems:
            key = (plan_key, link.struct.uid, "")
        else:
            # Doses with a problem: one entry per referenced plan, else per dose.
            key = (plan_key, "", dose.plan_ref or dose.uid or dose.file.location)
        groups[key].append(dose)
        previous = links.setdefault(key, link)
        if previous is not link:
            previous.notes.extend(n for n in link.notes if n not in previous.notes)

    out: list[DiscoveredPlan] = []
    used: set[str] = set()
    for key, group in groups.items():
        link = links[key]
        plan, struct = link.plan, link.struct
        used.update(h.uid for h in (plan, struct) if h is not None)
        beam = tuple(sorted((d for d in group if d.summation_type == "BEAM"), key=_loc))
        whole = sorted((d for d in group if d.summation_type != "BEAM"), key=_loc)
        notes = list(link.notes)
        if beam and whole and not any(d.summation_type in _BEAM_CHECKED for d in whole):
            skipped["beam dose set aside (plan dose present)"] += len(beam)
            notes.append(
                f"{len(beam)} beam dose file(s) set aside: the plan dose is "
                f"{'/'.join(sorted({d.summation_type for d in whole}))}"
            )
        dose_sets: list[tuple[tuple[RTHeader, ...], tuple[RTHeader, ...]]] = (
            [((d,), beam if d.summation_type in _BEAM_CHECKED else ()) for d in whole]
            if whole
            else [(beam, ())]
        )
        problem = "; ".join(m for _, m in link.problems) or None
        roles = tuple(dict.fromkeys(r for r, _ in link.problems))
        for dose_set, beams in dose_sets:
            files = [d.file for d in (*dose_set, *beams)]
            files += [h.file for h in (struct, plan) if h is not None]
            first = dose_set[0]
            out.append(
                DiscoveredPlan(
                    source=first.source,
                    path=_common_folder(files),
                    rtstruct=struct.file if struct else None,
                    rtdose=tuple(d.file for d in dose_set),
                    rtplan=plan.file if plan else None,
                    patient_id=first.patient_id
                    or (struct.patient_id if struct else "")
                    or (plan.patient_id if plan else ""),
                    patient_name=first.patient_name or (struct.patient_name if struct else ""),
                    plan_label=plan.label if plan else "",
                    plan_uid=plan.uid if plan else "",
                    structure_set_uid=struct.uid if struct else "",
                    prescription_gy=plan.prescription_gy if plan else None,
                    fractions=plan.fractions if plan else None,
                    grouping=", ".join(link.rules) if link.rules else "references",
                    problem=problem,
                    notes=tuple(notes),
                    beam_doses=tuple(d.file for d in beams),
                    referenced_plan_uid=plan.uid if plan else first.plan_ref,
                    problem_roles=roles,
                )
            )
    n_structs = sum(1 for h in structs.all if h.uid not in used)
    n_plans = sum(1 for h in plans.all if h.uid not in used)
    if n_structs:
        skipped["RTSTRUCT without dose"] += n_structs
    if n_plans:
        skipped["RTPLAN without dose"] += n_plans
    out.sort(key=lambda p: (p.path, p.patient_id, p.plan_label, [f.location for f in p.rtdose]))
    return out


def _loc(h: RTHeader) -> str:
    return h.file.location


# --------------------------------------------------------------------------- reading
def read_headers(archives: Sequence[str | Path], result: Discovery) -> list[RTHeader]:
    """The RT headers of every file in the archives, copies removed.

    Files looked at, skipped and unreadable are counted in ``result``; copies of
    the size of the one kept go to ``result.copies``.
    """
    headers: list[RTHeader] = []
    copies: dict[str, list[RTHeader]] = defaultdict(list)
    by_uid: dict[str, int] = {}
    open_zip: zipfile.ZipFile | None = None
    try:
        for source, file in iter_files(archives, result.skipped):
            result.n_files += 1
            if file.member is not None and (open_zip is None or open_zip.filename != file.path):
                if open_zip is not None:
                    open_zip.close()
                open_zip = zipfile.ZipFile(file.path)  # members of one zip come together
            header = _read_one(file, source, open_zip if file.member else None, result)
            if header is None:
                continue
            if header.uid in by_uid:
                result.skipped["duplicate SOPInstanceUID"] += 1
                i = by_uid[header.uid]
                if header.size > headers[i].size:  # a truncated copy must not win
                    headers[i] = header
                    copies[header.uid] = [header]
                elif header.size == headers[i].size:
                    copies[header.uid].append(header)
                continue
            if header.uid:
                by_uid[header.uid] = len(headers)
                copies[header.uid].append(header)
            headers.append(header)
    finally:
        if open_zip is not None:
            open_zip.close()
    result.copies = {uid: found for uid, found in copies.items() if len(found) > 1}
    return headers


def _read_one(
    file: FileRef, source: str, zf: zipfile.ZipFile | None, result: Discovery
) -> RTHeader | None:
    """The header of an RT object, or None (counted as skipped or unreadable)."""
    try:
        header = read_rt_header(file, source, zf)
    except UnreadableDicom as exc:
        result.unreadable.append((file.location, f"DICOM header cannot be read ({exc})"))
        return None
    except (OSError, zipfile.BadZipFile, EOFError) as exc:
        result.unreadable.append((file.location, f"cannot read the file ({exc})"))
        return None
    if header is None:
        result.skipped["non-DICOM"] += 1
        return None
    if header.modality not in RT_MODALITIES:
        result.skipped[header.kind] += 1
        return None
    return header


def discover(archives: Sequence[str | Path]) -> Discovery:
    """Find the plans in folders, zip archives and files, reading headers only.

    Parameters
    ----------
    archives
        Folders (walked recursively), ``.zip`` files, or single DICOM files.

    Returns
    -------
    Discovery

    Raises
    ------
    InputError
        No archive given, or an archive does not exist.
    """
    if not archives:
        raise InputError("give at least one archive: a folder or a .zip file")
    result = Discovery()
    result.headers = read_headers(archives, result)
    result.plans = group_plans(result.headers, result.skipped, result.copies)
    return result


# --------------------------------------------------------------------------- one plan
def find_plan_files(
    folder: str | Path,
    *,
    rtstruct: str | Path | None = None,
    rtdose: Sequence[str | Path] = (),
    rtplan: str | Path | None = None,
) -> PlanFiles:
    """Find the files of one plan under ``folder`` (recursively).

    The plans of :func:`discover` over ``folder`` (and the files given explicitly)
    that use the given files; exactly one must remain, or the parts not given must be
    the same in all that remain.

    Parameters
    ----------
    folder
        The folder to search.
    rtstruct, rtdose, rtplan
        Files the user chose explicitly (``--rtstruct`` …); they are used as given
        and select among the plans found.

    Returns
    -------
    PlanFiles
        One RTSTRUCT, the plan's RTDOSE (or all its BEAM doses), the RTPLAN when
        there is one, and BEAM doses beside a PLAN dose in ``beam_doses``.

    Raises
    ------
    InputError
        ``folder`` does not exist or is not a folder.
    DicomInputError
        No RTSTRUCT or no RTDOSE found; several plans that the files given do not
        tell apart (several RTPLANs, structure sets or whole-plan doses of one plan:
        the message lists them and the option that chooses); a plan whose
        RTSTRUCT/RTPLAN cannot be found (the grouping problem).
    """
    root = Path(folder)
    if not root.exists():
        raise InputError("folder not found; check the path", path=root)
    if not root.is_dir():
        raise InputError(
            "is not a folder; pass a folder, or the files with --rtstruct/--rtdose/--rtplan",
            path=root,
        )
    explicit = [p for p in (rtstruct, *rtdose, rtplan) if p is not None]
    outside = [p for p in explicit if Path(p).is_file()]
    found = discover([root, *outside])
    located = {_real(h.file.path) for h in found.headers if h.file.member is None}

    def known(p: str | Path | None) -> str | Path | None:
        # A file that is not an RT object selects nothing (its reader reports it).
        return p if p is not None and _real(p) in located else None

    candidates = [
        p
        for p in found.plans
        if p.uses(
            rtstruct=known(rtstruct),
            rtdose=[d for d in rtdose if known(d) is not None],
            rtplan=known(rtplan),
        )
    ]
    given = {"rtstruct": rtstruct is not None, "rtdose": bool(rtdose), "rtplan": rtplan is not None}
    missing = _missing_modality(root, found, given)
    if missing is not None:
        raise missing
    if not candidates:
        listing = "; ".join(_describe(p) for p in found.plans) or "none"
        raise DicomInputError(
            f"no plan found that uses the files given (plans found: {listing}); check "
            "--rtstruct/--rtdose/--rtplan",
            path=root,
        )
    parts = {_open_parts(p, given) for p in candidates}
    if len(parts) > 1:
        raise _ambiguous(root, candidates, found, given)
    plan = candidates[0]
    open_problems = [r for r in plan.problem_roles if not given[r]]
    if plan.problem and open_problems:
        option = " and ".join(f"--{r}" for r in open_problems)
        raise DicomInputError(f"{plan.problem}; pass the one to use with {option}", path=root)
    struct = str(rtstruct) if rtstruct is not None else plan.rtstruct
    if struct is None:  # only with a problem, handled above
        raise DicomInputError(plan.problem or "no RTSTRUCT found", path=root)
    return PlanFiles(
        rtstruct=struct if isinstance(struct, str) else struct.path,
        rtdose=tuple(str(p) for p in rtdose) or tuple(f.path for f in plan.rtdose),
        rtplan=str(rtplan) if rtplan is not None else (plan.rtplan.path if plan.rtplan else None),
        root=str(root),
        beam_doses=() if rtdose else tuple(f.path for f in plan.beam_doses),
    )


def _open_parts(plan: DiscoveredPlan, given: dict[str, bool]) -> tuple[object, ...]:
    """The parts of ``plan`` the user did not give (plans that agree on them are one)."""
    return (
        None if given["rtstruct"] else plan.rtstruct,
        None if given["rtplan"] else (plan.rtplan, plan.referenced_plan_uid),
        None if given["rtdose"] else (plan.rtdose, plan.beam_doses),
    )


def _missing_modality(
    root: Path, found: Discovery, given: dict[str, bool]
) -> DicomInputError | None:
    """The error for a folder without any RTDOSE or RTSTRUCT (and none given)."""
    modalities = {h.modality for h in found.headers}
    unreadable = ""
    if found.unreadable:
        shown = "; ".join(f"{loc}: {msg}" for loc, msg in found.unreadable[:3])
        unreadable = f" ({len(found.unreadable)} DICOM file(s) could not be read: {shown})"
    if "RTDOSE" not in modalities and not given["rtdose"]:
        return DicomInputError(
            "contains no RTDOSE file; export the plan dose, or pass it with --rtdose" + unreadable,
            path=root,
        )
    if "RTSTRUCT" not in modalities and not given["rtstruct"]:
        return DicomInputError(
            "contains no RTSTRUCT file; export the structure set, or pass it with --rtstruct"
            + unreadable,
            path=root,
        )
    return None


def _describe(plan: DiscoveredPlan) -> str:
    files = ", ".join(f"{role.upper()} {f.location}" for role, f in plan.files)
    return f"{plan.patient_id or '?'} / {plan.plan_label or '(no RTPLAN)'}: {files}"


def _ambiguous(
    root: Path, plans: Sequence[DiscoveredPlan], found: Discovery, given: dict[str, bool]
) -> DicomInputError:
    """Several plans remain: say what tells them apart and which option chooses."""
    n = len(plans)
    rtplans = {p.rtplan for p in plans}
    structs = {p.rtstruct for p in plans}
    refs = {p.referenced_plan_uid for p in plans}
    listing = "; ".join(_describe(p) for p in plans)
    if not given["rtplan"] and len(rtplans) > 1 and None not in rtplans:
        head, option = f"found {n} RTPLAN files, one per plan,", "--rtplan"
    elif not given["rtdose"] and len(refs) > 1:
        doses = "; ".join(f.location for p in plans for f in p.rtdose)
        return DicomInputError(
            f"found {n} RTDOSE files that belong to different plans ({doses}); pass the "
            "one to use with --rtdose (and the matching --rtstruct/--rtplan)",
            path=root,
        )
    elif not given["rtstruct"] and len(structs) > 1:
        head, option = f"found {n} RTSTRUCT files, one per plan,", "--rtstruct"
    elif not given["rtdose"]:
        # One plan, several whole-plan doses: alternatives (re-exports, a copy under
        # another UID), not parts; summing them would double the dose.
        summation = {h.file: h.summation_type for h in found.headers}
        whole = sorted({f for p in plans for f in p.rtdose})
        types = "/".join(sorted({summation.get(f) or "missing" for f in whole}))
        files = "; ".join(f.location for f in whole)
        return DicomInputError(
            f"found {len(whole)} plan-dose RTDOSE files (DoseSummationType {types}: "
            f"{files}); pass the one to use with --rtdose (repeat --rtdose to sum doses "
            "on purpose)",
            path=root,
        )
    else:
        head, option = f"found {n} plans", "--rtplan/--rtdose/--rtstruct"
    return DicomInputError(
        f"{head} that the references between the files do not tell apart ({listing}); "
        f"pass the one to use with {option} (and the matching --rtstruct/--rtdose/--rtplan)",
        path=root,
    )
