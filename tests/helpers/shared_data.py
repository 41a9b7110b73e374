"""Locate the third-party RT DICOM data beside the repository (``../shared/data``).

The data are not part of dosecheck; tests that use them skip when they are absent, as
on a user's fresh clone.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.paths import REPO

SHARED_DATA = REPO.parent / "shared" / "data"


def shared_dataset(name: str) -> Path:
    """Path of ``../shared/data/NAME``, or skip the test when it is not there."""
    path = SHARED_DATA / name
    if not path.is_dir():
        pytest.skip(f"third-party data set {name!r} not present at {path}")
    return path
