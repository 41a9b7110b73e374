"""The console script's entry point: ``dosecheck --version`` answers before the CLI loads.

Loading the command line (typer, click, rich and every command module) costs more than
Python's own start-up; printing the version needs none of it (issue #11). Everything
else is handed to :func:`dosecheck.cli.main`, with the cyclic garbage collector off
from the start (it would walk the imports' objects for cycles that are not there;
``batch``, ``listen`` and ``serve`` turn it back on: :mod:`dosecheck._runtime`).
"""

from __future__ import annotations

import sys


def run() -> None:
    """Exit with the code of the command line given in ``sys.argv``."""
    if sys.argv[1:] == ["--version"]:
        from dosecheck import VERSION_LINE

        sys.stdout.write(VERSION_LINE + "\n")
        sys.exit(0)
    import gc

    gc.disable()  # this process runs one command; see dosecheck._runtime
    from dosecheck._runtime import before_exit
    from dosecheck.cli import main

    code = main()
    before_exit()  # the last collection at shutdown skips what is alive now
    sys.exit(code)
