"""Writing output: to stdout, or atomically to a file (text or bytes)."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from dosecheck.errors import InputError

__all__ = ["write_atomic", "write_text"]


def write_text(text: str, output: Path | None) -> None:
    """Print ``text`` to stdout, or write it to ``output`` atomically (UTF-8).

    The file is written to a temporary file in the same folder and renamed into place,
    so a reader never sees a half-written report.
    """
    if output is None:
        sys.stdout.write(text)
        if not text.endswith("\n"):
            sys.stdout.write("\n")
        return
    write_atomic(output, text)


def write_atomic(output: Path, content: str | bytes) -> None:
    """Write ``content`` (text as UTF-8, as is; or bytes) to ``output`` atomically.

    A temporary file in the same folder is renamed into place, so a reader sees the
    old file or the whole new one; it gets the permissions of an ordinary new file.

    Raises
    ------
    InputError
        ``output`` is a folder, or its folder does not exist.
    """
    if output.is_dir():
        raise InputError("is a folder; give a file name", path=output)
    folder = output.resolve().parent
    if not folder.is_dir():
        raise InputError("the output folder does not exist", path=folder)
    data = content.encode("utf-8") if isinstance(content, str) else content
    fd, tmp = tempfile.mkstemp(prefix=f".{output.name}.", dir=folder)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        # mkstemp creates the file readable by its owner only; reports are for sharing.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, output)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
