"""Where DICOM files are: folders (walked recursively), ``.zip`` archives, single files.

Nothing here reads DICOM: :func:`iter_files` lists files and zip members, and
:class:`FileRef` names one of them and opens it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import zipfile
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from dosecheck.errors import InputError

__all__ = ["ZIP_SEP", "FileRef", "iter_files"]

#: Separates a zip archive's path from a member's name in a location.
ZIP_SEP = "::"


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
        return f"{self.path}{ZIP_SEP}{self.member}" if self.member is not None else self.path

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
        return f"{self.path}{ZIP_SEP}{parent}"

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

    def size(self, zf: zipfile.ZipFile | None = None) -> int:
        """Size in bytes (uncompressed for a zip member); 0 when it cannot be read."""
        try:
            if self.member is None:
                return os.stat(self.path).st_size
            if zf is not None:
                return zf.getinfo(self.member).file_size
            with zipfile.ZipFile(self.path) as own:
                return own.getinfo(self.member).file_size
        except (OSError, KeyError, zipfile.BadZipFile):
            return 0

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
    listed without extracting, and a file that is reached twice (through two
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
        An archive does not exist, or a zip file given directly cannot be opened.
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
