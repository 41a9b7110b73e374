"""Find the RTSTRUCT, RTDOSE and RTPLAN files of one plan in a folder tree."""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from dosecheck.dicom._common import read_header, text
from dosecheck.errors import DicomInputError, InputError
from dosecheck.model import PlanFiles

__all__ = ["find_plan_files"]


@dataclass(frozen=True)
class _Header:
    path: str
    modality: str
    uid: str
    plan_ref: str = ""  # RTDOSE → RTPLAN
    struct_ref: str = ""  # RTPLAN → RTSTRUCT
    summation: str = ""  # RTDOSE DoseSummationType (upper case, "" when absent)
    size: int = 0  # bytes


def _walk(root: Path) -> list[Path]:
    """Every regular file under ``root``, following directory symlinks once."""
    seen: set[str] = set()
    files: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        real = os.path.realpath(dirpath)
        if real in seen:  # a symlink loop or a second link to the same folder
            dirnames[:] = []
            continue
        seen.add(real)
        dirnames.sort()
        for name in sorted(filenames):
            p = Path(dirpath) / name
            if p.is_file():
                files.append(p)
    return files


def _first_ref(ds: object, sequence: str) -> str:
    items = getattr(ds, "get", lambda *_: None)(sequence, None) or []
    return text(items[0], "ReferencedSOPInstanceUID") if items else ""


def _scan(root: Path) -> list[_Header]:
    headers: list[_Header] = []
    seen_files: set[str] = set()
    for p in _walk(root):
        real = os.path.realpath(p)
        if real in seen_files:
            continue
        seen_files.add(real)
        with warnings.catch_warnings():
            # pydicom warns about non-conformant values (e.g. UIDs); irrelevant here
            warnings.simplefilter("ignore")
            header = _header(p)
        if header is not None:
            headers.append(header)
    return headers


def _header(p: Path) -> _Header | None:
    ds = read_header(p)
    if ds is None:
        return None
    modality = text(ds, "Modality").upper()
    if modality not in ("RTSTRUCT", "RTDOSE", "RTPLAN"):
        return None
    return _Header(
        path=str(p),
        modality=modality,
        uid=text(ds, "SOPInstanceUID"),
        plan_ref=_first_ref(ds, "ReferencedRTPlanSequence"),
        struct_ref=_first_ref(ds, "ReferencedStructureSetSequence"),
        summation=text(ds, "DoseSummationType").upper() if modality == "RTDOSE" else "",
        size=_size(p),
    )


def _size(p: Path) -> int:
    try:
        return p.stat().st_size
    except OSError:
        return 0


def _unique_by_uid(headers: list[_Header]) -> list[_Header]:
    """Drop copies of one object (same SOPInstanceUID).

    Of the copies, the largest file is kept (the first of equal size): a truncated
    copy must not shadow a complete one. Files without a SOPInstanceUID are all kept.
    """
    out: list[_Header] = []
    index: dict[str, int] = {}
    for h in headers:
        if not h.uid:
            out.append(h)
        elif h.uid not in index:
            index[h.uid] = len(out)
            out.append(h)
        elif h.size > out[index[h.uid]].size:
            out[index[h.uid]] = h
    return out


def _ambiguous(
    kind: str,
    option: str,
    candidates: Sequence[_Header],
    root: Path,
    reason: str = "that the references between the files do not tell apart",
) -> DicomInputError:
    listing = "; ".join(h.path for h in candidates)
    return DicomInputError(
        f"found {len(candidates)} {kind} files {reason} ({listing}); pass the one to use "
        f"with {option} (and the matching --rtstruct/--rtdose/--rtplan)",
        path=root,
    )


def find_plan_files(
    folder: str | Path,
    *,
    rtstruct: str | Path | None = None,
    rtdose: Sequence[str | Path] = (),
    rtplan: str | Path | None = None,
) -> PlanFiles:
    """Find the files of one plan under ``folder`` (recursively).

    Only headers are read; non-DICOM files and other modalities (CT, MR, …) are
    ignored. Copies of one object (same SOPInstanceUID) count once (of RTDOSE
    copies the largest file is used). Ambiguities are resolved through the
    references RTDOSE → ReferencedRTPlanSequence → RTPLAN →
    ReferencedStructureSetSequence → RTSTRUCT.

    Parameters
    ----------
    folder
        The folder to search.
    rtstruct, rtdose, rtplan
        Files the user chose explicitly (``--rtstruct`` …); they are used as given
        and help to resolve the others.

    Returns
    -------
    PlanFiles
        One RTSTRUCT, the plan's RTDOSE (or all its BEAM doses), and the RTPLAN when there is one.

    Raises
    ------
    InputError
        ``folder`` does not exist or is not a folder.
    DicomInputError
        No RTSTRUCT or no RTDOSE found; several RTSTRUCTs, RTPLANs or doses of
        different plans that cannot be told apart; several whole-plan RTDOSE files
        (DoseSummationType other than BEAM) of one plan, which are alternatives, not
        parts to sum (the messages list them).
    """
    root = Path(folder)
    if not root.exists():
        raise InputError("folder not found; check the path", path=root)
    if not root.is_dir():
        raise InputError(
            "is not a folder; pass a folder, or the files with --rtstruct/--rtdose/--rtplan",
            path=root,
        )
    headers = _scan(root)
    structs = _unique_by_uid([h for h in headers if h.modality == "RTSTRUCT"])
    plans = _unique_by_uid([h for h in headers if h.modality == "RTPLAN"])
    doses = _unique_by_uid([h for h in headers if h.modality == "RTDOSE"])

    # RTPLAN
    plan: _Header | None = None
    if rtplan is not None:
        plan = next((h for h in plans if Path(h.path) == Path(rtplan)), None)
        plan = plan or _Header(path=str(rtplan), modality="RTPLAN", uid="")
        if not plan.uid:
            hdr = read_header(rtplan)
            if hdr is not None:
                plan = _Header(
                    str(rtplan),
                    "RTPLAN",
                    text(hdr, "SOPInstanceUID"),
                    struct_ref=_first_ref(hdr, "ReferencedStructureSetSequence"),
                )
    elif len(plans) == 1:
        plan = plans[0]
    elif len(plans) > 1:
        chosen_doses = [h for h in doses if str(h.path) in {str(p) for p in rtdose}] or doses
        referenced = {h.plan_ref for h in chosen_doses if h.plan_ref}
        matching = [h for h in plans if h.uid in referenced]
        if len(matching) != 1:
            raise _ambiguous("RTPLAN", "--rtplan", matching or plans, root)
        plan = matching[0]

    # RTDOSE
    if rtdose:
        dose_paths = tuple(str(p) for p in rtdose)
    else:
        if not doses:
            raise DicomInputError(
                "contains no RTDOSE file; export the plan dose, or pass it with --rtdose",
                path=root,
            )
        if plan is not None and plan.uid:
            own = [h for h in doses if h.plan_ref == plan.uid]
            unreferenced = [h for h in doses if not h.plan_ref]
            doses = own + unreferenced if own else doses
        plan_refs = {h.plan_ref for h in doses if h.plan_ref}
        if len(plan_refs) > 1:
            raise _ambiguous("RTDOSE", "--rtdose", doses, root, "that belong to different plans")
        whole = [h for h in doses if h.summation != "BEAM"]
        if len(whole) > 1:
            # Two plan doses of one plan are alternatives (re-exports, a copy under
            # another UID), not parts: summing them would double the dose.
            listing = "; ".join(h.path for h in sorted(whole, key=lambda h: h.path))
            raise DicomInputError(
                f"found {len(whole)} plan-dose RTDOSE files (DoseSummationType "
                f"{'/'.join(sorted({h.summation or 'missing' for h in whole}))}: {listing}); "
                "pass the one to use with --rtdose (repeat --rtdose to sum doses on purpose)",
                path=root,
            )
        dose_paths = tuple(sorted(h.path for h in doses))

    # RTSTRUCT
    if rtstruct is not None:
        struct_path = str(rtstruct)
    else:
        if not structs:
            raise DicomInputError(
                "contains no RTSTRUCT file; export the structure set, or pass it with --rtstruct",
                path=root,
            )
        if len(structs) == 1:
            struct_path = structs[0].path
        else:
            matching = [h for h in structs if plan is not None and h.uid == plan.struct_ref]
            if len(matching) != 1:
                raise _ambiguous("RTSTRUCT", "--rtstruct", structs, root)
            struct_path = matching[0].path

    return PlanFiles(
        rtstruct=struct_path,
        rtdose=dose_paths,
        rtplan=str(rtplan) if rtplan is not None else (plan.path if plan else None),
        root=str(root),
    )
