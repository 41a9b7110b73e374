"""The console script's entry point: ``dosecheck --version`` answers before the CLI loads.

Loading the command line (typer, click, rich and every command module) costs more than
Python's own start-up; printing the version needs none of it (issue #11). Everything
else is handed to :func:`dosecheck.cli.main`.
"""

from __future__ import annotations

import sys


def run() -> None:
    """Exit with the code of the command line given in ``sys.argv``."""
    if sys.argv[1:] == ["--version"]:
        from dosecheck import VERSION_LINE

        sys.stdout.write(VERSION_LINE + "\n")
        sys.exit(0)
    from dosecheck.cli import main

    sys.exit(main())
