"""Byte-compile dosecheck before timing it, as an installed package is.

``pip install`` writes every module's bytecode (``.pyc``) at install time, and Python
writes it on first import otherwise. Where ``PYTHONDONTWRITEBYTECODE`` is set (as on
some CI machines), an editable checkout never gets any, and every run would compile
dosecheck's ~150 modules from source again (about 0.2 s): a cost no installed copy
pays. The benchmarks therefore compile the package once, up front; the other
packages were compiled when pip installed them.
"""

from __future__ import annotations

import compileall
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "dosecheck"


def compile_package() -> None:
    """Write the bytecode of every dosecheck module that lacks an up-to-date one."""
    compileall.compile_dir(str(PACKAGE), quiet=1)
