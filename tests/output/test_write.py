"""The one atomic write (output/write.py): text and bytes, same bytes, no temp left."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from dosecheck.errors import InputError
from dosecheck.output.write import write_atomic, write_text


def test_text_and_bytes_are_written_whole_with_ordinary_permissions(tmp_path: Path) -> None:
    out = tmp_path / "r.txt"
    write_atomic(out, "µ Gy\r\nline 2")  # UTF-8, newlines as given
    assert out.read_bytes() == "µ Gy\r\nline 2".encode()
    write_atomic(out, b"\x89PNG\x00")  # replaces the old file
    assert out.read_bytes() == b"\x89PNG\x00"
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(out.stat().st_mode) == 0o666 & ~umask
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.txt"]  # no temporary file left


def test_write_text_to_stdout_ends_with_a_newline(capsys: pytest.CaptureFixture[str]) -> None:
    write_text("a", None)
    assert capsys.readouterr().out == "a\n"


def test_a_folder_or_a_missing_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="is a folder; give a file name"):
        write_atomic(tmp_path, b"x")
    with pytest.raises(InputError, match="the output folder does not exist"):
        write_atomic(tmp_path / "no" / "r.svg", "x")
    assert list(tmp_path.iterdir()) == []


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    out = tmp_path / "r.txt"
    out.write_text("old")
    with pytest.raises(UnicodeEncodeError):
        write_atomic(out, "\udc80")  # a lone surrogate cannot be UTF-8
    assert out.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.txt"]
