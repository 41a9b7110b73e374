"""Is the plan on disk the one that was checked? (``dosecheck verify``)

A check's JSON (``dosecheck check --format json``) records, under ``plan``, the SOP
Instance UID of each object (``structure_set_uid``, ``plan_uid``, ``dose_uids``) and the
SHA-256 of each file (``sha256``: ``rtstruct``, ``rtplan``, ``rtdose`` list). This
finds each object again by its UID among the files given (headers only, the discovery
of ``check``) and hashes it: the plan is *the same* only when every object recorded is
there with the same bytes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dosecheck.errors import InputError

__all__ = ["Verification", "recorded_objects", "verify_plan"]


@dataclass
class Verification:
    """The outcome of :func:`verify_plan`.

    Attributes
    ----------
    same
        ``(role, uid, path)`` of the objects found with their recorded hash.
    changed
        One line per object missing or with other bytes.
    """

    same: list[tuple[str, str, str]] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Every recorded object is there, unchanged."""
        return not self.changed


def recorded_objects(result: Any, where: str | Path = "") -> list[tuple[str, str, str]]:
    """``(role, SOP Instance UID, sha256)`` of each object a check's JSON records.

    Raises
    ------
    InputError
        Not a check's JSON (no ``plan.sha256`` with the UIDs).
    """
    plan = result.get("plan") if isinstance(result, dict) else None
    sha = plan.get("sha256") if isinstance(plan, dict) else None
    if not isinstance(sha, dict):
        raise InputError(
            "has no plan.sha256: give the JSON of 'dosecheck check --format json'", path=where
        )
    out: list[tuple[str, str, str]] = []
    if sha.get("rtstruct"):
        out.append(("RTSTRUCT", str(plan.get("structure_set_uid") or ""), str(sha["rtstruct"])))
    if sha.get("rtplan"):
        out.append(("RTPLAN", str(plan.get("plan_uid") or ""), str(sha["rtplan"])))
    doses = sha.get("rtdose") or []
    uids = plan.get("dose_uids") or []
    if isinstance(doses, str):
        doses = [doses]
    if len(uids) != len(doses):
        raise InputError(
            f"plan.dose_uids has {len(uids)} UID(s) for {len(doses)} dose hash(es)", path=where
        )
    out.extend(("RTDOSE", str(u), str(h)) for u, h in zip(uids, doses, strict=True))
    if not out or any(not uid for _, uid, _ in out):
        raise InputError("records no SOP Instance UID for an object of the plan", path=where)
    return out


def load_result(path: str | Path) -> Any:
    """The JSON of a check.

    Raises
    ------
    InputError
        Missing or not JSON.
    """
    p = Path(path)
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError("no such file", path=p) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"is not a check's JSON ({exc})", path=p) from exc


def verify_plan(
    result: Any,
    plan: str | Path,
    where: str | Path = "",
    *,
    objects: list[tuple[str, str, str]] | None = None,
) -> Verification:
    """Compare the objects a check recorded with the files under ``plan``.

    ``objects`` (e.g. :func:`dosecheck.batch.verify_records.recorded_objects_in_db`)
    replaces ``result``'s; an object
    recorded without a UID is found by its bytes among the files of its modality.

    Raises
    ------
    InputError
        ``plan`` does not exist, or ``result`` is not a check's JSON.
    """
    from dosecheck.dicom.discovery import discover

    wanted = objects if objects is not None else recorded_objects(result, where)
    if not Path(plan).exists():
        raise InputError("not found; give the plan's folder or files", path=plan)
    found = discover([plan])
    by_uid = {h.uid: h for h in found.headers}
    out = Verification()
    for role, uid, sha in wanted:
        if not uid:
            match = next(
                (h for h in found.headers if h.modality == role and h.file.sha256() == sha), None
            )
            if match is None:
                out.changed.append(
                    f"{role} (recorded sha256 {sha[:16]}…): no {role} in {plan} has these bytes"
                )
            else:
                out.same.append((role, match.uid, match.file.location))
            continue
        header = by_uid.get(uid)
        if header is None:
            out.changed.append(f"{role} {uid}: not found in {plan}")
            continue
        now = header.file.sha256()
        if now != sha:
            out.changed.append(
                f"{role} {uid} ({header.file.location}): sha256 {now[:16]}… is not the "
                f"recorded {sha[:16]}…"
            )
        else:
            out.same.append((role, uid, header.file.location))
    return out
