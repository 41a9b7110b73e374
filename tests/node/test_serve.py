"""``dosecheck serve``: the WSGI application called directly, then a real server opened
in headless Chromium on a plan the listener received over DICOM seconds before.

The database of the direct tests is recorded by ``dosecheck batch`` on two box plans
(a pass, and a fail whose patient ID and label hold HTML).
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from dosecheck.batch.database import ResultsDB
from dosecheck.node.web import REPORT_CSP, WebConfig, make_app
from dosecheck.node.worker import report_relpath
from tests.helpers.batch_plans import make_archive
from tests.helpers.browser import CANDIDATES, console_lines, find_chromium, run_chromium

EVIL_ID = "B2<b>x</b>"
EVIL_LABEL = "L&C"


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A results database with A1 (pass, received last) and B2 (fail, received first)."""
    root = tmp_path_factory.mktemp("serve") / "archive"
    plans = make_archive(
        root,
        [
            {"patient_id": "A1", "label": "LC"},
            {"patient_id": EVIL_ID, "label": EVIL_LABEL, "outcome": "fail"},
        ],
    )
    now = time.time()
    for plan, age in ((plans[0], 60), (plans[1], 3600)):  # received A1 after B2
        for f in plan.folder.iterdir():
            os.utime(f, (now - age, now - age))
    db = root.parent / "results.sqlite"
    from dosecheck.cli import main

    assert main(["batch", str(root), "--db", str(db), "-j", "1"]) == 1  # B2 fails
    with sqlite3.connect(db) as conn:
        ids = dict(conn.execute("SELECT patient_id, id FROM plans").fetchall())
        keys = dict(conn.execute("SELECT patient_id, location_key FROM plans").fetchall())
    return {"db": db, "ids": ids, "keys": keys, "root": root.parent}


Call = Callable[..., tuple[str, dict[str, str], str]]


def caller(app: Any) -> Call:
    def call(
        path: str, query: str = "", method: str = "GET", **environ: str
    ) -> tuple[str, dict[str, str], str]:
        seen: dict[str, Any] = {}

        def start_response(status: str, headers: list[tuple[str, str]]) -> None:
            seen["status"], seen["headers"] = status, headers

        env = {"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": query, **environ}
        body = b"".join(app(env, start_response))
        headers = dict(seen["headers"])
        assert set(h for h, _ in seen["headers"]) >= {"Content-Security-Policy", "Content-Type"}
        return seen["status"], headers, body.decode("utf-8")

    return call


@pytest.fixture(scope="module")
def call(recorded: dict[str, Any]) -> Call:
    return caller(make_app(WebConfig(db=recorded["db"])))


def plan_rows(body: str) -> list[str]:
    """The patient cells of the list, in order."""
    import re

    return re.findall(r"<tr class='plan' data-id='\d+'><td>(.*?)[ <]", body)


def test_list_newest_first_escaped_with_the_reports_csp(call: Call) -> None:
    status, headers, body = call("/")
    assert status == "200 OK"
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Cache-Control"] == "no-store"
    assert headers["Content-Security-Policy"] == REPORT_CSP.replace(
        "form-action 'none'", "form-action 'self'"
    )
    assert "script-src" not in headers["Content-Security-Policy"]  # default-src 'none'
    assert int(headers["Content-Length"]) == len(body.encode())
    assert plan_rows(body) == ["A1", "B2&lt;b&gt;x&lt;/b&gt;"]  # A1 received last
    assert "<b>x</b>" not in body and "L&amp;C" in body and "L&C<" not in body
    assert "Bag_Bowel V45Gy[cc]" in body  # B2's failed constraint
    assert body.count(">FAIL<") == 1 and body.count(">PASS<") == 1
    assert 'http-equiv="refresh"' not in body  # no run open: nothing to wait for


def test_filter_by_verdict_date_and_text(call: Call) -> None:
    assert plan_rows(call("/", "verdict=fail")[2]) == ["B2&lt;b&gt;x&lt;/b&gt;"]
    assert plan_rows(call("/", "verdict=pass")[2]) == ["A1"]
    assert plan_rows(call("/", "q=a1")[2]) == ["A1"]  # case-insensitive
    assert plan_rows(call("/", "q=%3Cb%3E")[2]) == ["B2&lt;b&gt;x&lt;/b&gt;"]  # q=<b>
    assert plan_rows(call("/", "q=%25")[2]) == []  # '%' is a character, not a wildcard
    assert plan_rows(call("/", "since=2000-01-01&verdict=")[2]) == ["A1", "B2&lt;b&gt;x&lt;/b&gt;"]
    assert plan_rows(call("/", "since=2999-01-01")[2]) == []
    body = call("/", "verdict=fail&q=%22%3E%3Cscript%3E")[2]  # the form echoes q escaped
    assert "value='&quot;&gt;&lt;script&gt;'" in body and "<script>" not in body
    assert "<option value='fail' selected>" in body
    status, _, body = call("/", "since=yesterday")
    assert status == "400 Bad Request" and "since &#x27;yesterday&#x27; is not a date" in body
    assert call("/", "verdict=maybe")[0] == "400 Bad Request"


def test_only_get_and_head(call: Call) -> None:
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        status, headers, _ = call("/", method=method)
        assert status == "405 Method Not Allowed" and headers["Allow"] == "GET, HEAD"
    status, headers, body = call("/", method="HEAD")
    assert status == "200 OK" and body == "" and int(headers["Content-Length"]) > 1000


def test_plan_without_a_report_shows_its_recorded_results(
    call: Call, recorded: dict[str, Any]
) -> None:
    plan_id = recorded["ids"][EVIL_ID]
    status, headers, body = call(f"/plan/{plan_id}")
    assert status == "200 OK" and headers["Content-Security-Policy"] == REPORT_CSP
    assert "<title>B2&lt;b&gt;x&lt;/b&gt; / L&amp;C: FAIL</title>" in body
    with sqlite3.connect(recorded["db"]) as conn:
        n = conn.execute(
            "SELECT COUNT(*) FROM constraint_results WHERE plan_id = ?", (plan_id,)
        ).fetchone()[0]
    assert n >= 3 and body.count("<tr><td>") == n  # one row per recorded result
    assert body.count("<tr><td>Bag_Bowel</td><td>BowelBag</td><td>V45Gy[cc]") == 1
    assert body.count(">FAIL<") == 1


@pytest.mark.parametrize(
    "path", ["/plan/999999", "/plan/abc", "/plan/../../etc/passwd", "/plan/1/..", "/etc/passwd"]
)
def test_unknown_pages_are_404(call: Call, path: str) -> None:
    assert call(path)[0] == "404 Not Found"


def test_the_stored_report_is_served_and_a_link_outside_is_refused(
    recorded: dict[str, Any], tmp_path: Path
) -> None:
    reports = tmp_path / "reports"
    rel_a = report_relpath("A1", "LC", recorded["keys"]["A1"])
    rel_b = report_relpath(EVIL_ID, EVIL_LABEL, recorded["keys"][EVIL_ID])
    assert ".." not in rel_b.parts and "<" not in str(rel_b)
    (reports / rel_a).parent.mkdir(parents=True)
    (reports / rel_a).write_text("<!DOCTYPE html><title>the report of A1</title>")
    outside = tmp_path / "secret.html"
    outside.write_text("SECRET")
    (reports / rel_b).parent.mkdir(parents=True)
    (reports / rel_b).symlink_to(outside)  # resolves outside the reports folder
    call = caller(make_app(WebConfig(db=recorded["db"], reports=reports)))
    status, headers, body = call(f"/plan/{recorded['ids']['A1']}")
    assert status == "200 OK" and body == "<!DOCTYPE html><title>the report of A1</title>"
    assert headers["Content-Security-Policy"] == REPORT_CSP
    status, _, body = call(f"/plan/{recorded['ids'][EVIL_ID]}")
    assert status == "200 OK" and "SECRET" not in body and "No HTML report" in body


def test_archive_summary(call: Call) -> None:
    status, headers, body = call("/archive")
    assert status == "200 OK" and headers["Content-Security-Policy"] == REPORT_CSP
    assert "2 plans: 1 pass, 1 fail, 0 incomplete, 0 error" in body
    assert "<b>x</b>" not in body


def test_the_database_is_opened_read_only(recorded: dict[str, Any]) -> None:
    with ResultsDB(recorded["db"], read_only=True) as db:
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            db.conn.execute("DELETE FROM plans")
        assert db.count_plans() == 2


def test_an_open_run_makes_the_list_reload(recorded: dict[str, Any], tmp_path: Path) -> None:
    import shutil

    db = tmp_path / "open.sqlite"
    shutil.copy(recorded["db"], db)
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE runs SET status = 'running'")
    body = caller(make_app(WebConfig(db=db, refresh_seconds=7)))("/")[2]
    assert '<meta http-equiv="refresh" content="7">' in body


@pytest.mark.parametrize(
    ("host", "status"),
    [
        ("127.0.0.1:8080", "200 OK"),
        ("localhost:8080", "200 OK"),
        ("[::1]:8080", "200 OK"),
        ("127.0.0.1", "200 OK"),
        ("evil.example:8080", "403 Forbidden"),  # a rebound name: refused without a token
        ("10.0.0.5:8080", "403 Forbidden"),
    ],
)
def test_without_a_token_only_loopback_host_names(call: Call, host: str, status: str) -> None:
    assert call("/", HTTP_HOST=host)[0] == status


def test_a_token_is_required_when_configured(recorded: dict[str, Any]) -> None:
    token = "s3cret-token-0123456789"
    call = caller(make_app(WebConfig(db=recorded["db"], token=token)))
    assert call("/")[0] == "401 Unauthorized"
    assert call("/", "token=wrong-token-0123456789")[0] == "401 Unauthorized"
    assert call("/archive", HTTP_COOKIE=f"dosecheck_token={token[:-1]}")[0] == "401 Unauthorized"
    assert call("/", HTTP_X_DOSECHECK_TOKEN=token)[0] == "200 OK"
    assert call("/", HTTP_X_DOSECHECK_TOKEN=token, HTTP_HOST="node.clinic:80")[0] == "200 OK"
    assert call("/", HTTP_AUTHORIZATION=f"Bearer {token}")[0] == "200 OK"
    assert call("/", HTTP_COOKIE=f"other=1; dosecheck_token={token}")[0] == "200 OK"
    status, headers, body = call("/", f"verdict=fail&token={token}")
    assert status == "303 See Other" and headers["Location"] == "/?verdict=fail"
    assert headers["Set-Cookie"] == f"dosecheck_token={token}; Path=/; HttpOnly; SameSite=Strict"
    assert token not in body


def test_cli_refuses_a_wide_bind_without_a_token(
    dc: Any, recorded: dict[str, Any], tmp_path: Path
) -> None:
    code, out, err = dc("serve", "--db", recorded["db"], "--host", "0.0.0.0")
    assert out == ""
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "--host 0.0.0.0 is not loopback: give --token-file FILE" in err
    short = tmp_path / "token"
    short.write_text("abc\n")
    code, _, err = dc("serve", "--db", recorded["db"], "--host", "0.0.0.0", "--token-file", short)
    assert code == 2 and "at least 16 printable ASCII characters" in err
    code, _, err = dc("serve", "--db", tmp_path / "missing.sqlite")
    assert code == 2 and "no such results database" in err


def test_loopback_hosts() -> None:
    from dosecheck.commands.serve import is_loopback

    assert [is_loopback(h) for h in ("127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost")] == [
        True
    ] * 5
    assert [is_loopback(h) for h in ("0.0.0.0", "::", "10.0.0.1", "example.org")] == [False] * 4


def test_an_older_database_is_refused_not_upgraded(
    recorded: dict[str, Any], tmp_path: Path
) -> None:
    import shutil

    from dosecheck.batch.schema import SCHEMA_VERSION
    from dosecheck.errors import InputError

    db = tmp_path / "older.sqlite"
    shutil.copy(recorded["db"], db)
    with sqlite3.connect(db) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION - 1}")
    with pytest.raises(InputError, match="opened read-only: run 'dosecheck results' on it"):
        make_app(WebConfig(db=db))
    with sqlite3.connect(db) as conn:  # untouched
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION - 1


# --- a real server in a real browser ------------------------------------------------------
@pytest.fixture(scope="module")
def chromium() -> str:
    path = find_chromium()
    if path is None:
        pytest.skip(
            "no Chromium binary found (tried $DOSECHECK_CHROMIUM, " + ", ".join(CANDIDATES) + ")"
        )
    return path


@pytest.fixture
def serving() -> Iterator[Callable[..., str]]:
    """``serving(config)`` runs the app on waitress on a free loopback port in a thread
    and returns its base URL; every server is closed at the end."""
    pytest.importorskip("waitress", reason="the extra web (waitress) is not installed")
    from dosecheck.node.web import make_server

    servers: list[Any] = []

    def serve(config: WebConfig) -> str:
        server = make_server(make_app(config), "127.0.0.1", 0)
        threading.Thread(target=server.run, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.effective_port}"

    yield serve
    for server in servers:
        server.close()


#: The helper maps every host name to nothing; loopback is let through (last flag wins).
LOOPBACK_ONLY = "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"


def dump_dom(binary: str, tmp: Path, url: str, *, quiet: bool = True) -> str:
    """The page's DOM after loading; ``quiet``: nothing on the console (no CSP violation,
    no script error)."""
    done = run_chromium(binary, tmp, LOOPBACK_ONLY, "--dump-dom", url)
    assert done.returncode == 0, done.stderr.decode("utf-8", "replace")[-2000:]
    if quiet:
        assert console_lines(done.stderr) == []
    return done.stdout.decode("utf-8")


def assert_screenshot_not_blank(binary: str, tmp: Path, url: str) -> None:
    """A screenshot of ``url`` that is not blank, with the FAIL colour (#a31515) in it."""
    import matplotlib.image as mpimg
    import numpy as np

    shot = tmp / "page.png"
    done = run_chromium(
        binary,
        tmp,
        LOOPBACK_ONLY,
        "--hide-scrollbars",
        f"--screenshot={shot}",
        "--window-size=1200,800",
        url,
    )
    assert done.returncode == 0, done.stderr.decode("utf-8", "replace")[-2000:]
    img = mpimg.imread(shot)[..., :3]
    assert img.shape[:2] == (800, 1200)
    non_white = (img < 0.95).any(axis=-1).mean()
    assert non_white > 0.01, f"only {non_white:.2%} of the screenshot is not white"
    red = np.array([0xA3, 0x15, 0x15]) / 255.0
    assert (np.abs(img - red).max(axis=-1) < 0.08).sum() > 20  # the FAIL cell's text


def test_a_plan_sent_over_dicom_in_the_browser(
    tmp_path: Path, start_node: Any, chromium: str, serving: Callable[..., str]
) -> None:
    pytest.importorskip("pynetdicom")
    from tests.helpers.batch_plans import write_box_plan
    from tests.helpers.dicom_node import send_files

    reports = tmp_path / "reports"
    reports.mkdir()
    node = start_node(reports=reports)
    passing = write_box_plan(tmp_path / "a", patient_id="WEB1", label="RECT", outcome="pass")
    failing = write_box_plan(tmp_path / "b", patient_id="WEB2", label="RECT", outcome="fail")
    for plan in (passing, failing):
        assert plan.rtplan is not None
        assert send_files(node.address, [plan.rtstruct, plan.rtplan, *plan.rtdose]) == [0] * 3
    assert node.serve_until(lambda n: len(n.recorded) == 2, timeout=120.0)
    ids = {r.patient_id: r.evaluation_id for r in node.recorded}

    base = serving(WebConfig(db=tmp_path / "results.sqlite", reports=reports))
    page = dump_dom(chromium, tmp_path, base + "/")
    assert "WEB1" in page and "WEB2" in page
    assert '<meta http-equiv="refresh" content="10">' in page  # the listener's run is open
    assert_screenshot_not_blank(chromium, tmp_path, base + "/")
    page = dump_dom(chromium, tmp_path, base + "/?verdict=fail&since=&q=")
    assert "WEB2" in page and "WEB1" not in page
    page = dump_dom(chromium, tmp_path, base + "/?q=web1")
    assert "WEB1" in page and "WEB2" not in page
    page = dump_dom(chromium, tmp_path, f"{base}/plan/{ids['WEB2']}")
    assert "dosecheck plan report" in page and "WEB2" in page and "FAIL" in page
    page = dump_dom(chromium, tmp_path, base + "/archive")
    assert "dosecheck archive summary" in page


def test_a_token_in_the_browser(
    recorded: dict[str, Any], tmp_path: Path, chromium: str, serving: Callable[..., str]
) -> None:
    token = "browser-token-0123456789"
    base = serving(WebConfig(db=recorded["db"], token=token))
    refused = dump_dom(chromium, tmp_path, base + "/", quiet=False)
    assert "401 Unauthorized" in refused and "A1" not in refused
    page = dump_dom(chromium, tmp_path, f"{base}/?token={token}")  # redirect, cookie set
    assert "A1" in page and "dosecheck: plans checked" in page
