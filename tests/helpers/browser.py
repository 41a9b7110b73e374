"""Headless Chromium for the HTML report tests: find it, run it isolated, read its console.

Debian: ``apt-get install chromium``; ``DOSECHECK_CHROMIUM`` names a specific binary.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
TIMEOUT_S = 60


def find_chromium() -> str | None:
    """The Chromium binary: ``$DOSECHECK_CHROMIUM`` or the first candidate on PATH."""
    env = os.environ.get("DOSECHECK_CHROMIUM")
    if env:
        return env if Path(env).exists() else shutil.which(env)
    for name in CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


def run_chromium(binary: str, tmp: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    """Run headless Chromium isolated from the network and from any user profile."""
    profile = tmp / "profile"
    profile.mkdir(exist_ok=True)
    cmd = [
        binary,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-default-apps",
        "--disable-extensions",
        "--no-first-run",
        "--no-default-browser-check",
        "--host-resolver-rules=MAP * ~NOTFOUND",
        f"--user-data-dir={profile}",
        "--enable-logging=stderr",
        "--v=0",
        *args,
    ]
    return subprocess.run(cmd, capture_output=True, timeout=TIMEOUT_S, check=False)


def console_lines(stderr: bytes) -> list[str]:
    """Messages the page wrote to the console (errors, CSP violations, …)."""
    text = stderr.decode("utf-8", "replace")
    return [
        line
        for line in text.splitlines()
        if ":CONSOLE" in line or "Uncaught" in line or "Refused to" in line
    ]
