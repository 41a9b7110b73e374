"""Writing command output: to stdout or atomically to a file."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from dosecheck.errors import InputError


def write_text(text: str, output: Path | None) -> None:
    """Print ``text`` to stdout, or write it to ``output`` atomically.

    The file is written to a temporary file in the same folder and renamed into place,
    so a reader never sees a half-written report.
    """
    if output is None:
        sys.stdout.write(text)
        if not text.endswith("\n"):
            sys.stdout.write("\n")
        return
    if output.is_dir():
        raise InputError("is a folder; give a file name", path=output)
    folder = output.resolve().parent
    if not folder.is_dir():
        raise InputError("the output folder does not exist", path=folder)
    fd, tmp = tempfile.mkstemp(prefix=f".{output.name}.", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        # mkstemp creates the file readable by its owner only; reports are for sharing.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, output)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
