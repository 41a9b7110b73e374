"""Find the plans in archives of DICOM files by reading headers only.

An *archive* is a folder (walked recursively, following symlinks once), a ``.zip``
file (members are read in memory, never extracted for discovery) or a single DICOM
file. Every file's header is read with ``stop_before_pixels`` and a short list of
tags, then the RT objects are grouped into plans:

1. each RTDOSE belongs to the RTPLAN named in its ReferencedRTPlanSequence;
2. each RTPLAN belongs to the RTSTRUCT named in its ReferencedStructureSetSequence;
3. when a reference is missing (or points to an object that is not in the
   archives), the RTPLAN or RTSTRUCT is found through the dose's
   FrameOfReferenceUID, then its StudyInstanceUID, preferring files in the same
   folder; the plan's ``grouping`` says which rule was used.

Beam doses (DoseSummationType ``BEAM``) of one plan stay together and are summed
by the loader. A PLAN or FRACTION dose is a plan of its own; beam doses next to one
are not added to it (that would count the dose twice). Objects with the same
SOPInstanceUID count once. Non-DICOM files and other objects (CT, MR, RTIMAGE, …)
are counted and skipped. A dose for which no RTSTRUCT is found becomes a plan with a
``problem``: it is reported as an error rather than silently dropped.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import warnings
import zipfile
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from dosecheck.errors import InputError

__all__ = [
    "HEADER_TAGS",
    "RT_MODALITIES",
    "DicomHeader",
    "DiscoveredPlan",
    "Discovery",
    "FileRef",
    "discover",
    "iter_files",
    "read_header",
]

#: The RT objects dosecheck groups into plans.
RT_MODALITIES = ("RTSTRUCT", "RTPLAN", "RTDOSE")

#: The only attributes discovery reads (everything else is skipped unparsed).
HEADER_TAGS = (
    "SpecificCharacterSet",
    "SOPClassUID",
    "SOPInstanceUID",
    "Modality",
    "PatientName",
    "PatientID",
    "StudyInstanceUID",
    "FrameOfReferenceUID",
    "StructureSetLabel",
    "ReferencedFrameOfReferenceSequence",
    "RTPlanLabel",
    "RTPlanName",
    "DoseReferenceSequence",
    "FractionGroupSequence",
    "DoseSummationType",
    "ReferencedRTPlanSequence",
    "ReferencedStructureSetSequence",
)

_ZIP_SEP = "::"
_DICOMDIR = "1.2.840.10008.1.3.10"


# --------------------------------------------------------------------------- files
@dataclass(frozen=True, order=True)
class FileRef:
    """A file on disk, or a member of a zip archive.

    Attributes
    ----------
    path
        Absolute path of the file, or of the zip archive that holds it.
    member
        Name of the member inside the zip archive, or ``None`` for a plain file.
    """

    path: str
    member: str | None = None

    @property
    def location(self) -> str:
        """``path`` for a file, ``archive.zip::member/name.dcm`` for a zip member."""
        return f"{self.path}{_ZIP_SEP}{self.member}" if self.member is not None else self.path

    @property
    def name(self) -> str:
        """The file name without folders."""
        return Path(self.member if self.member is not None else self.path).name

    @property
    def folder(self) -> str:
        """The folder the file is in (``archive.zip::folder`` for a member)."""
        if self.member is None:
            return os.path.dirname(self.path)
        parent = os.path.dirname(self.member.rstrip("/"))
        return f"{self.path}{_ZIP_SEP}{parent}"

    @contextlib.contextmanager
    def open(self, zf: zipfile.ZipFile | None = None) -> Iterator[IO[bytes]]:
        """Open the file (or the zip member) for reading bytes.

        Parameters
        ----------
        zf
            The zip archive ``path``, already open (to read many members without
            parsing its directory each time).
        """
        if self.member is None:
            with open(self.path, "rb") as fh:
                yield fh
        elif zf is not None:
            with zf.open(self.member) as fh:
                yield fh
        else:
            with zipfile.ZipFile(self.path) as own, own.open(self.member) as fh:
                yield fh

    def sha256(self) -> str:
        """Hex SHA-256 of the file's (uncompressed) bytes."""
        h = hashlib.sha256()
        with self.open() as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
        return h.hexdigest()


def _is_zip(path: str) -> bool:
    return path.lower().endswith(".zip") and zipfile.is_zipfile(path)


def _walk(root: str, skipped: Counter[str]) -> Iterator[str]:
    """Every regular file under ``root`` in sorted order; directory symlinks are
    followed, but each real directory is entered once (no symlink loops)."""
    seen_dirs: set[str] = set()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        real = os.path.realpath(dirpath)
        if real in seen_dirs:
            dirnames[:] = []
            skipped["symlinked folder seen before"] += 1
            continue
        seen_dirs.add(real)
        dirnames.sort()
        for name in sorted(filenames):
            p = os.path.join(dirpath, name)
            if os.path.isfile(p):
                yield p
            else:
                skipped["not a regular file"] += 1


def iter_files(
    archives: Sequence[str | Path], skipped: Counter[str] | None = None
) -> Iterator[tuple[str, FileRef]]:
    """Every file in the archives as ``(archive, FileRef)``.

    Folders are walked recursively, ``.zip`` files (given or found in a folder) are
    listed without extracting, and a file that is both reached twice (through two
    symlinks, or because it was given twice) is yielded once.

    Parameters
    ----------
    archives
        Folders, ``.zip`` files or single files.
    skipped
        Counter incremented with the reasons files were not yielded.

    Raises
    ------
    InputError
        An archive does not exist, or a zip file cannot be opened.
    """
    skipped = Counter() if skipped is None else skipped
    seen_files: set[str] = set()
    for archive in archives:
        a = Path(archive).expanduser()
        if not a.exists():
            raise InputError("archive not found; check the path", path=a)
        source = os.path.abspath(a)
        paths = _walk(source, skipped) if a.is_dir() else iter([source])
        for p in paths:
            real = os.path.realpath(p)
            if real in seen_files:
                skipped["same file reached twice"] += 1
                continue
            seen_files.add(real)
            if _is_zip(p):
                try:
                    with zipfile.ZipFile(p) as zf:
                        members = [i.filename for i in zf.infolist() if not i.is_dir()]
                except (zipfile.BadZipFile, OSError) as exc:
                    if a.is_dir():
                        skipped["unreadable zip archive"] += 1
                        continue
                    raise InputError(f"cannot read the zip archive: {exc}", path=p) from exc
                for m in sorted(members):
                    if m.lower().endswith(".zip"):
                        skipped["zip archive inside a zip archive"] += 1
                        continue
                    yield source, FileRef(os.path.abspath(p), m)
            else:
                yield source, FileRef(os.path.abspath(p))


# --------------------------------------------------------------------------- headers
@dataclass(frozen=True)
class DicomHeader:
    """What discovery reads from one DICOM file.

    Attributes
    ----------
    file
        Where the file is.
    source
        The archive (command-line argument) it was found in.
    modality
        Modality, upper case.
    sop_class
        SOPClassUID (from the File Meta Information when absent from the dataset).
    uid
        SOPInstanceUID.
    patient_id, patient_name, study_uid, frame_uid
        PatientID, PatientName, StudyInstanceUID, FrameOfReferenceUID (for an
        RTSTRUCT, from ReferencedFrameOfReferenceSequence when absent at top level).
    plan_ref
        RTDOSE: the first ReferencedRTPlanSequence item's ReferencedSOPInstanceUID.
    struct_ref
        RTPLAN: the first ReferencedStructureSetSequence item's UID.
    label
        RTPlanLabel (RTPLAN) or StructureSetLabel (RTSTRUCT).
    summation_type
        DoseSummationType (RTDOSE), upper case.
    prescription_gy, fractions
        RTPLAN: largest TargetPrescriptionDose, first NumberOfFractionsPlanned
        (as :func:`dosecheck.dicom.plan.read_rtplan` reads them; ``None`` if
        absent or invalid).
    """

    file: FileRef
    source: str
    modality: str
    uid: str
    sop_class: str = ""
    patient_id: str = ""
    patient_name: str = ""
    study_uid: str = ""
    frame_uid: str = ""
    plan_ref: str = ""
    struct_ref: str = ""
    label: str = ""
    summation_type: str = ""
    prescription_gy: float | None = None
    fractions: int | None = None


class UnreadableDicom(Exception):
    """A file that is DICOM (it has the ``DICM`` marker) but whose header cannot be read."""


def _text(ds: Any, keyword: str) -> str:
    value = ds.get(keyword, None)
    return "" if value is None else str(value).strip()


def _first_ref(ds: Any, keyword: str) -> str:
    items = ds.get(keyword, None) or []
    return _text(items[0], "ReferencedSOPInstanceUID") if len(items) else ""


def _prescription(ds: Any) -> tuple[float | None, int | None]:
    doses: list[float] = []
    for item in ds.get("DoseReferenceSequence", None) or []:
        value = item.get("TargetPrescriptionDose", None)
        try:
            dose = float(value)
        except (TypeError, ValueError):
            continue
        if 0 <= dose < float("inf"):
            doses.append(dose)
    fractions: int | None = None
    groups = ds.get("FractionGroupSequence", None) or []
    if len(groups):
        try:
            n = int(groups[0].get("NumberOfFractionsPlanned", None))
        except (TypeError, ValueError):
            n = 0
        fractions = n if n >= 1 else None
    return (max(doses) if doses else None), fractions


def _stop_when(tag: Any, vr: Any, length: Any) -> bool:
    # Tags come in ascending order. Stop at the RTSTRUCT's ROI sequences (the bulk of
    # the file, nothing needed in them) and after the last tag discovery needs.
    t = int(tag)
    return 0x30060020 <= t < 0x300A0000 or t > 0x300C0060


def _looks_like_dicom(head: bytes) -> tuple[bool, bool]:
    """``(is_dicom, has_preamble)`` from the first 132 bytes."""
    if len(head) >= 132 and head[128:132] == b"DICM":
        return True, True
    # No preamble: a dataset starting with a group 0x0002 or 0x0008 element.
    if len(head) >= 8 and head[:2] in (b"\x02\x00", b"\x08\x00", b"\x00\x02", b"\x00\x08"):
        return True, False
    return False, False


@functools.cache
def _header_tags() -> list[Any]:
    from pydicom.tag import Tag

    return [Tag(k) for k in HEADER_TAGS]


def _parse(fh: IO[bytes], has_preamble: bool) -> Any:
    """Read the header tags from the start of ``fh``, stopping early."""
    from pydicom.filereader import read_partial

    fh.seek(0)
    return read_partial(
        fh,  # type: ignore[arg-type]
        stop_when=_stop_when,
        defer_size=None,
        force=not has_preamble,
        specific_tags=_header_tags(),
    )


def read_header(
    file: FileRef, source: str = "", zf: zipfile.ZipFile | None = None
) -> DicomHeader | None:
    """Read the header of one file (``zf``: its zip archive, already open).

    Returns
    -------
    DicomHeader or None
        ``None`` when the file is not DICOM.

    Raises
    ------
    UnreadableDicom
        The file has the DICOM marker but its header cannot be parsed.
    OSError
        The file cannot be read.
    """
    with file.open(zf) as fh:
        head = fh.read(132)
        is_dicom, has_preamble = _looks_like_dicom(head)
        if not is_dicom:
            return None
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ds = _parse(fh, has_preamble)
        except Exception as exc:
            if not has_preamble:
                return None  # a binary file that happened to start like DICOM
            raise UnreadableDicom(f"{type(exc).__name__}: {exc}") from exc
        if not has_preamble and "SOPClassUID" not in ds and "Modality" not in ds:
            return None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            header = _header(ds, file, source)
    # pydicom stops quietly at the end of a truncated file: a header without the
    # attributes every object has is reported, not skipped.
    if not header.modality and not header.sop_class:
        raise UnreadableDicom("no Modality or SOP Class in the header: truncated or corrupt")
    if header.modality in RT_MODALITIES and not header.uid:
        raise UnreadableDicom(f"{header.modality} without SOPInstanceUID: truncated or corrupt")
    return header


def _header(ds: Any, file: FileRef, source: str) -> DicomHeader:
    modality = _text(ds, "Modality").upper()
    frame = _text(ds, "FrameOfReferenceUID")
    if not frame and modality == "RTSTRUCT":
        refs = ds.get("ReferencedFrameOfReferenceSequence", None) or []
        frame = _text(refs[0], "FrameOfReferenceUID") if len(refs) else ""
    rx: tuple[float | None, int | None] = (None, None)
    label = ""
    if modality == "RTPLAN":
        rx = _prescription(ds)
        label = _text(ds, "RTPlanLabel") or _text(ds, "RTPlanName")
    elif modality == "RTSTRUCT":
        label = _text(ds, "StructureSetLabel")
    return DicomHeader(
        file=file,
        source=source,
        modality=modality,
        uid=_text(ds, "SOPInstanceUID"),
        sop_class=_text(ds, "SOPClassUID")
        or _text(getattr(ds, "file_meta", None) or {}, "MediaStorageSOPClassUID"),
        patient_id=_text(ds, "PatientID"),
        patient_name=_text(ds, "PatientName"),
        study_uid=_text(ds, "StudyInstanceUID"),
        frame_uid=frame,
        plan_ref=_first_ref(ds, "ReferencedRTPlanSequence") if modality == "RTDOSE" else "",
        struct_ref=(
            _first_ref(ds, "ReferencedStructureSetSequence") if modality == "RTPLAN" else ""
        ),
        label=label,
        summation_type=_text(ds, "DoseSummationType").upper(),
        prescription_gy=rx[0],
        fractions=rx[1],
    )


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
        The dose file(s): one PLAN/FRACTION dose, or the beam doses of the plan.
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

    @property
    def files(self) -> list[tuple[str, FileRef]]:
        """``(role, file)`` pairs: rtstruct, each rtdose, rtplan."""
        out: list[tuple[str, FileRef]] = []
        if self.rtstruct is not None:
            out.append(("rtstruct", self.rtstruct))
        out.extend(("rtdose", f) for f in self.rtdose)
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
    """

    plans: list[DiscoveredPlan] = field(default_factory=list)
    n_files: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    unreadable: list[tuple[str, str]] = field(default_factory=list)

    def skipped_text(self) -> str:
        """``"12 non-DICOM, 340 CT, …"`` (or ``"none"``)."""
        if not self.skipped:
            return "none"
        return ", ".join(f"{n} {reason}" for reason, n in sorted(self.skipped.items()))


def _common_folder(files: Sequence[FileRef]) -> str:
    folders = [f.folder for f in files]
    if len(set(folders)) == 1:
        return folders[0]
    zips = {f.path for f in files if f.member is not None}
    if len(zips) == 1 and all(f.member is not None for f in files):
        zpath = next(iter(zips))
        parents = [os.path.dirname((f.member or "").rstrip("/")) for f in files]
        common = os.path.commonpath(parents) if all(parents) else ""
        return f"{zpath}{_ZIP_SEP}{common}"
    plain = [f.folder if f.member is None else os.path.dirname(f.path) for f in files]
    try:
        return os.path.commonpath(plain)
    except ValueError:  # different drives
        return plain[0]


class _Index:
    """Headers by UID, frame of reference and study, for one modality."""

    def __init__(self, headers: Iterable[DicomHeader]) -> None:
        self.all = list(headers)
        self.by_uid = {h.uid: h for h in self.all if h.uid}
        self.by_frame: dict[str, list[DicomHeader]] = defaultdict(list)
        self.by_study: dict[str, list[DicomHeader]] = defaultdict(list)
        for h in self.all:
            if h.frame_uid:
                self.by_frame[h.frame_uid].append(h)
            if h.study_uid:
                self.by_study[h.study_uid].append(h)

    def fallback(
        self, near: DicomHeader, frame_uid: str, study_uid: str, kind: str
    ) -> tuple[DicomHeader | None, str, str | None]:
        """``(header, rule, problem)``: the unique object sharing the frame of
        reference (then the study) with ``near``, preferring the same folder."""
        for rule, key, table in (
            ("FrameOfReferenceUID", frame_uid, self.by_frame),
            ("StudyInstanceUID", study_uid, self.by_study),
        ):
            if not key:
                continue
            candidates = [
                h
                for h in table.get(key, [])
                if not (near.patient_id and h.patient_id and h.patient_id != near.patient_id)
            ]
            if not candidates:
                continue
            if len(candidates) > 1:
                same_folder = [h for h in candidates if h.file.folder == near.file.folder]
                if len(same_folder) == 1:
                    candidates = same_folder
            if len(candidates) == 1:
                return candidates[0], f"{kind} by {rule}", None
            listing = ", ".join(h.file.location for h in candidates)
            return (
                None,
                f"{kind} by {rule}",
                f"{len(candidates)} {kind} files share the {rule} {key} and no "
                f"reference tells which belongs to this dose: {listing}",
            )
        return None, "", None


def group_plans(headers: Sequence[DicomHeader], skipped: Counter[str]) -> list[DiscoveredPlan]:
    """Group the RT headers into plans (see the module docstring for the rules).

    Parameters
    ----------
    headers
        RTSTRUCT, RTPLAN and RTDOSE headers (duplicates already removed).
    skipped
        Counter incremented for structure sets and plans without a dose, and beam
        doses set aside because a plan dose exists.
    """
    structs = _Index(h for h in headers if h.modality == "RTSTRUCT")
    plans = _Index(h for h in headers if h.modality == "RTPLAN")
    doses = [h for h in headers if h.modality == "RTDOSE"]

    # dose → (rtplan, rtstruct, grouping rules, problem, notes)
    groups: dict[tuple[str, str, str], list[DicomHeader]] = defaultdict(list)
    links: dict[tuple[str, str, str], tuple[Any, ...]] = {}
    for dose in doses:
        rules: list[str] = []
        notes: list[str] = []
        problem: str | None = None
        plan: DicomHeader | None = None
        if dose.plan_ref:
            plan = plans.by_uid.get(dose.plan_ref)
            if plan is None:
                notes.append(
                    f"the dose references RTPLAN {dose.plan_ref}, which is not in the archives"
                )
        else:
            plan, rule, _ambiguous = plans.fallback(dose, dose.frame_uid, dose.study_uid, "RTPLAN")
            if plan is not None:
                rules.append(rule)
        struct: DicomHeader | None = None
        if plan is not None and plan.struct_ref:
            struct = structs.by_uid.get(plan.struct_ref)
            if struct is None:
                notes.append(
                    f"the RTPLAN references RTSTRUCT {plan.struct_ref}, which is not in the "
                    "archives"
                )
        if struct is None:
            frame = dose.frame_uid or (plan.frame_uid if plan else "")
            struct, rule, problem = structs.fallback(
                dose, frame, dose.study_uid or (plan.study_uid if plan else ""), "RTSTRUCT"
            )
            if struct is not None:
                rules.append(rule)
            elif problem is None:
                problem = (
                    "no RTSTRUCT found for this dose (no reference, and none with its "
                    "FrameOfReferenceUID or StudyInstanceUID in the archives)"
                )
        if struct is not None:
            key = (plan.uid if plan else "", struct.uid, "")
        else:
            # Doses without structure set: one error entry per referenced plan / dose.
            key = (plan.uid if plan else "", "", dose.plan_ref or dose.uid or dose.file.location)
        groups[key].append(dose)
        previous = links.get(key)
        if previous is None:
            links[key] = (plan, struct, rules, problem, notes)
        else:
            for n in notes:
                if n not in previous[4]:
                    previous[4].append(n)

    out: list[DiscoveredPlan] = []
    used_structs: set[str] = set()
    used_plans: set[str] = set()
    for key, group in groups.items():
        plan, struct, rules, problem, notes = links[key]
        if struct is not None:
            used_structs.add(struct.uid)
        if plan is not None:
            used_plans.add(plan.uid)
        beam = sorted((d for d in group if d.summation_type == "BEAM"), key=_loc)
        whole = sorted((d for d in group if d.summation_type != "BEAM"), key=_loc)
        if whole and beam:
            skipped["beam dose set aside (plan dose present)"] += len(beam)
            notes = [*notes, f"{len(beam)} beam dose file(s) not added to the plan dose"]
        dose_sets = [(d,) for d in whole] if whole else [tuple(beam)]
        for dose_set in dose_sets:
            files = [d.file for d in dose_set]
            if struct is not None:
                files.append(struct.file)
            if plan is not None:
                files.append(plan.file)
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
                    grouping=", ".join(rules) if rules else "references",
                    problem=problem,
                    notes=tuple(notes),
                )
            )
    n_structs = sum(1 for h in structs.all if h.uid not in used_structs)
    n_plans = sum(1 for h in plans.all if h.uid not in used_plans)
    if n_structs:
        skipped["RTSTRUCT without dose"] += n_structs
    if n_plans:
        skipped["RTPLAN without dose"] += n_plans
    out.sort(key=lambda p: (p.path, p.patient_id, p.plan_label, [f.location for f in p.rtdose]))
    return out


def _loc(h: DicomHeader) -> str:
    return h.file.location


def _no_modality(header: DicomHeader) -> str:
    if header.sop_class == _DICOMDIR:
        return "DICOMDIR"
    return "DICOM without Modality"


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
    headers: list[DicomHeader] = []
    seen_uids: set[str] = set()
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
            if header.uid:
                if header.uid in seen_uids:
                    result.skipped["duplicate SOPInstanceUID"] += 1
                    continue
                seen_uids.add(header.uid)
            headers.append(header)
    finally:
        if open_zip is not None:
            open_zip.close()
    result.plans = group_plans(headers, result.skipped)
    return result


def _read_one(
    file: FileRef, source: str, zf: zipfile.ZipFile | None, result: Discovery
) -> DicomHeader | None:
    """The header of an RT object, or None (counted as skipped or unreadable)."""
    try:
        header = read_header(file, source, zf)
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
        result.skipped[header.modality or _no_modality(header)] += 1
        return None
    return header
