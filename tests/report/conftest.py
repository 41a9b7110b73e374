"""Fixtures of the report tests."""

from __future__ import annotations

import pytest

from tests.helpers.browser import CANDIDATES, find_chromium


@pytest.fixture(scope="module")
def chromium() -> str:
    """The Chromium binary, or skip the test saying how to install one."""
    path = find_chromium()
    if path is None:
        pytest.skip(
            "no Chromium binary found (tried $DOSECHECK_CHROMIUM, "
            + ", ".join(CANDIDATES)
            + "): install it, e.g. 'apt-get install -y chromium', to run the browser tests"
        )
    return path
