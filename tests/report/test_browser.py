"""The HTML report in a real headless Chromium: it loads without console messages or
blocked fetches, and it renders (a screenshot that is not blank, with the verdict in
colour).

Needs a Chromium binary (Debian: ``apt-get install chromium``); set
``DOSECHECK_CHROMIUM`` to use a specific one. Skipped when none is found. The browser
runs with networking, sync and component updates off and every host name unresolvable,
so a fetch the report attempted would show up as a console message.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.helpers.browser import console_lines, run_chromium
from tests.helpers.plans import LONG_BOWEL_FAIL, LONG_PTV_PASS, write_plan

pytest.importorskip("matplotlib")


@pytest.fixture(scope="module")
def report_html(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A failing long-course plan's report, written as a user would get it."""
    from dosecheck.api import load_plan
    from dosecheck.checking.check import check_plan
    from dosecheck.report import write_report

    base = tmp_path_factory.mktemp("browser")
    folder = write_plan(base / "plan", LONG_BOWEL_FAIL, LONG_PTV_PASS)
    report = check_plan(load_plan(folder), "rectum-long-course")
    path = base / "report.html"
    write_report(report, path)
    return path


def test_loads_without_console_messages(chromium: str, report_html: Path, tmp_path: Path) -> None:
    proc = run_chromium(chromium, tmp_path, "--dump-dom", report_html.as_uri())
    assert proc.returncode == 0, proc.stderr.decode("utf-8", "replace")[-2000:]
    # The page has no script: any console message is a problem (a blocked fetch too).
    assert console_lines(proc.stderr) == []
    dom = proc.stdout.decode("utf-8", "replace")
    assert 'id="verdict"' in dom
    assert 'data-verdict="fail"' in dom
    assert dom.count('class="dvh-plot"') == 2
    assert dom.count("<svg") >= 3  # the overview and one plot per structure


def test_screenshot_is_not_blank(chromium: str, report_html: Path, tmp_path: Path) -> None:
    import matplotlib.image as mpimg
    import numpy as np

    shot = tmp_path / "report.png"
    proc = run_chromium(
        chromium,
        tmp_path,
        "--hide-scrollbars",
        f"--screenshot={shot}",
        "--window-size=1200,1600",
        report_html.as_uri(),
    )
    assert proc.returncode == 0, proc.stderr.decode("utf-8", "replace")[-2000:]
    assert console_lines(proc.stderr) == []
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    img = mpimg.imread(shot)[..., :3]
    assert img.shape[:2] == (1600, 1200)
    non_white = (img < 0.95).any(axis=-1).mean()
    assert non_white > 0.01, f"only {non_white:.2%} of the screenshot is not white"
    # The FAIL verdict box is drawn in the fail colour (#cf222e), near the top.
    red = np.array([0xCF, 0x22, 0x2E]) / 255.0
    top = img[:400]
    is_red = (np.abs(top - red) < 0.06).all(axis=-1)
    assert is_red.sum() > 5_000


def test_prints_to_pdf(chromium: str, report_html: Path, tmp_path: Path) -> None:
    """The print stylesheet gives a PDF (A4) without errors."""
    pdf = tmp_path / "report.pdf"
    proc = run_chromium(
        chromium,
        tmp_path,
        f"--print-to-pdf={pdf}",
        "--no-pdf-header-footer",
        report_html.as_uri(),
    )
    assert proc.returncode == 0, proc.stderr.decode("utf-8", "replace")[-2000:]
    assert console_lines(proc.stderr) == []
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF-")
    # Every page is A4: 595.3 x 841.9 points (Chromium writes 594.96 x 841.92).
    boxes = re.findall(rb"/MediaBox\s*\[\s*0 0 ([0-9.]+) ([0-9.]+)\s*\]", data)
    assert boxes
    for width, height in boxes:
        assert float(width) == pytest.approx(595.28, abs=1.0)
        assert float(height) == pytest.approx(841.89, abs=1.0)
