"""Where the repository is, for tests that read its shipped files (sample plans, sets)."""

from __future__ import annotations

from pathlib import Path

#: The repository root (``tests/helpers/paths.py`` is two levels below it).
REPO = Path(__file__).resolve().parents[2]
