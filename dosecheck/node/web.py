"""``dosecheck serve``: the node's read-only web page, a plain WSGI application.

:func:`make_app` returns the application (callable without a server: the tests do);
:func:`make_server` puts it on waitress (extra ``web``). Routes:

* ``/``: the latest evaluation of each plan, newest first (by the time its files were
  received, then by the order recorded), with patient, plan label, verdict, failed
  constraints, time received and time checked; a GET form filters by verdict
  (``verdict=pass|fail|incomplete|error``), date (``since=YYYY-MM-DD``, as ``results
  --since``) and text (``q``: patient ID or name, plan label, folder, summary). While a
  run is open in the database (a running ``listen`` or ``batch``) the page reloads
  itself every :attr:`WebConfig.refresh_seconds`.
* ``/plan/<id>``: that evaluation's HTML report as ``listen --reports`` wrote it (the
  file's path is made from the database's patient ID, label and location key by
  :func:`~dosecheck.node.worker.report_relpath`, resolved and refused unless inside the
  reports folder), or its recorded results as a table when there is none.
* ``/archive``: the archive summary of ``dosecheck results --report``.

Nothing is writable: only GET and HEAD are answered (anything else 405), and the
database is opened read-only (SQLite ``mode=ro``) for each request. Without a token
(loopback), a request whose ``Host`` is not a loopback name is refused (403: DNS
rebinding). Every value from
the database is escaped. Every page has the reports' Content-Security-Policy (no
script, no remote resource), except that the list allows its own filter form
(``form-action 'self'``). With a token (:attr:`WebConfig.token`) every request must
carry it: cookie ``dosecheck_token``, header ``X-Dosecheck-Token`` or ``Authorization:
Bearer``, or ``?token=`` once (answered by a redirect that sets the cookie, so the
token leaves the address bar); it is compared in constant time.
"""

from __future__ import annotations

import datetime as dt
import hmac
import html
import ipaddress
import logging
import os
import re
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

from dosecheck.batch.database import ResultsDB, parse_since
from dosecheck.batch.rows import entry_of
from dosecheck.errors import InputError
from dosecheck.node.worker import report_relpath

__all__ = ["REPORT_CSP", "WebConfig", "make_app", "make_server"]

log = logging.getLogger("dosecheck.node.web")

#: The Content-Security-Policy of the HTML reports (dosecheck/report/html.py).
REPORT_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "base-uri 'none'; form-action 'none'"
)
#: The list page's: the same, with its own GET filter form allowed.
LIST_CSP = REPORT_CSP.replace("form-action 'none'", "form-action 'self'")
VERDICTS = ("pass", "fail", "incomplete", "error")
COOKIE = "dosecheck_token"

StartResponse = Callable[..., Any]


@dataclass(frozen=True)
class WebConfig:
    """What the web page shows and who may see it.

    Parameters
    ----------
    db
        The results database (opened read-only for each request).
    reports
        The folder ``listen --reports`` writes, or ``None``.
    token
        The secret every request must carry, or ``None`` (loopback only).
    refresh_seconds
        The list's reload period while a run is open.
    max_rows
        At most this many plans listed (the newest recorded that match the filter).
    """

    db: Path
    reports: Path | None = None
    token: str | None = None
    refresh_seconds: int = 10
    max_rows: int = 500


def esc(value: object) -> str:
    """``value`` as HTML text or attribute value (``None`` as empty)."""
    return "" if value is None else html.escape(str(value), quote=True)


class _Reply(Exception):
    def __init__(self, status: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _headers(content_type: str, csp: str, length: int) -> list[tuple[str, str]]:
    return [
        ("Content-Type", content_type),
        ("Content-Length", str(length)),
        ("Content-Security-Policy", csp),
        ("X-Content-Type-Options", "nosniff"),
        ("X-Frame-Options", "DENY"),
        ("Referrer-Policy", "no-referrer"),
        ("Cache-Control", "no-store"),
    ]


def _page(title: str, body: str, *, csp: str = REPORT_CSP, refresh: int | None = None) -> str:
    meta = f'<meta http-equiv="refresh" content="{int(refresh)}">' if refresh else ""
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{esc(csp)}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"{meta}<title>{esc(title)}</title><style>{_STYLE}</style></head>\n"
        f"<body>{body}</body></html>\n"
    )


_STYLE = (
    "body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}"
    "table{border-collapse:collapse;width:100%}th,td{border-bottom:1px solid #ddd;"
    "padding:.3em .5em;text-align:left;vertical-align:top}th{background:#f4f4f4}"
    ".pass{color:#176117;font-weight:600}.fail,.error{color:#a31515;font-weight:600}"
    ".incomplete{color:#8a5a00;font-weight:600}form{margin:1em 0}nav a{margin-right:1em}"
    ".muted{color:#666}"
)


def _when(text: str | None) -> str:
    """A stored UTC time (``…T…Z``) shown to the second."""
    if not text:
        return ""
    return text[:19].replace("T", " ") + " UTC"


def _received(conn: sqlite3.Connection, plan_id: int) -> str | None:
    """When the plan's files were received: the latest modification time of its
    files (``listen`` writes each object when it arrives), ``None`` when none is
    there any more."""
    latest: float | None = None
    for (path,) in conn.execute("SELECT path FROM plan_files WHERE plan_id = ?", (plan_id,)):
        try:
            mtime = os.stat(str(path).split("::", 1)[0]).st_mtime
        except OSError:
            continue
        latest = mtime if latest is None else max(latest, mtime)
    if latest is None:
        return None
    return dt.datetime.fromtimestamp(latest, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _failed(results: Iterable[dict[str, Any]]) -> list[str]:
    out = []
    for r in results:
        if r.get("status") == "fail":
            extra = "" if r.get("priority") == "mandatory" else " (optimal)"
            out.append(f"{r.get('structure')} {r.get('metric')}{extra}")
    return out


def _loopback_host(host: str) -> bool:
    """Whether a request's ``Host`` header names this machine (``localhost``, a
    loopback address, with or without a port), or is absent. Without a token only these
    are answered: a web site whose name an attacker points at 127.0.0.1 (DNS rebinding)
    cannot read the page through the visitor's browser."""
    if not host:
        return True
    name = host.rsplit("]", 1)[0].lstrip("[") if host.startswith("[") else host.split(":")[0]
    if name.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _like(text: str) -> str:
    return "%" + re.sub(r"([\\%_])", r"\\\1", text) + "%"


class _App:
    def __init__(self, config: WebConfig) -> None:
        self.config = config
        self.reports = config.reports.resolve() if config.reports is not None else None

    # --- WSGI ------------------------------------------------------------------------
    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        path = environ.get("PATH_INFO", "/") or "/"
        query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        if method not in ("GET", "HEAD"):
            status, headers, body = self._error("405 Method Not Allowed", "read-only: GET only")
            headers.append(("Allow", "GET, HEAD"))
        elif self.config.token is None and not _loopback_host(environ.get("HTTP_HOST", "")):
            status, headers, body = self._error(
                "403 Forbidden", "without a token this page answers loopback host names only"
            )
        elif not self._authorised(environ, query):
            status, headers, body = self._error(
                "401 Unauthorized", "this page needs its access token (see dosecheck serve)"
            )
        elif self.config.token is not None and "token" in query:
            status, headers, body = self._set_cookie(path, query)
        else:
            try:
                status, headers, body = self._route(path, query)
            except _Reply as reply:
                status, headers, body = self._error(reply.status, reply.message)
            except (InputError, sqlite3.Error) as exc:
                log.warning("cannot read the results database: %s", exc)
                status, headers, body = self._error(
                    "503 Service Unavailable", f"cannot read the results database: {exc}"
                )
        start_response(status, headers)
        return [b""] if method == "HEAD" else [body]

    def _error(self, status: str, message: str) -> tuple[str, list[tuple[str, str]], bytes]:
        body = _page(
            status, f"<h1>{esc(status)}</h1><p>{esc(message)}</p><p><a href='/'>Plans</a></p>"
        ).encode()
        return status, _headers("text/html; charset=utf-8", REPORT_CSP, len(body)), body

    def _authorised(self, environ: dict[str, Any], query: dict[str, list[str]]) -> bool:
        token = self.config.token
        if token is None:
            return True
        offered = [
            environ.get("HTTP_X_DOSECHECK_TOKEN", ""),
            *query.get("token", []),
        ]
        auth = environ.get("HTTP_AUTHORIZATION", "")
        if auth.startswith("Bearer "):
            offered.append(auth[len("Bearer ") :])
        for part in environ.get("HTTP_COOKIE", "").split(";"):
            name, _, value = part.strip().partition("=")
            if name == COOKIE:
                offered.append(value)
        expected = token.encode()
        ok = False
        for value in offered:  # every offer compared, in constant time each
            ok |= hmac.compare_digest(value.encode(), expected)
        return ok

    def _set_cookie(
        self, path: str, query: dict[str, list[str]]
    ) -> tuple[str, list[tuple[str, str]], bytes]:
        rest = {k: v for k, v in query.items() if k != "token"}
        location = path + ("?" + urlencode(rest, doseq=True) if rest else "")
        status, headers, body = self._error("303 See Other", "signed in")
        headers.append(("Location", location))
        headers.append(
            ("Set-Cookie", f"{COOKIE}={self.config.token}; Path=/; HttpOnly; SameSite=Strict")
        )
        return status, headers, body

    def _route(
        self, path: str, query: dict[str, list[str]]
    ) -> tuple[str, list[tuple[str, str]], bytes]:
        if path == "/":
            return self._html(*self._list(query))
        if path == "/archive":
            return self._html(self._archive(), REPORT_CSP)
        m = re.fullmatch(r"/plan/(\d{1,18})", path)
        if m is not None:
            return self._plan(int(m[1]))
        raise _Reply("404 Not Found", "no such page")

    def _html(self, text: str, csp: str) -> tuple[str, list[tuple[str, str]], bytes]:
        body = text.encode("utf-8")
        return "200 OK", _headers("text/html; charset=utf-8", csp, len(body)), body

    def _db(self) -> ResultsDB:
        return ResultsDB(self.config.db, read_only=True)

    # --- pages -----------------------------------------------------------------------
    def _list(self, query: dict[str, list[str]]) -> tuple[str, str]:
        verdict = (query.get("verdict") or [""])[0].strip().lower()
        since = (query.get("since") or [""])[0].strip()
        text = (query.get("q") or [""])[0].strip()
        if verdict not in ("", *VERDICTS):
            raise _Reply("400 Bad Request", f"verdict must be one of {', '.join(VERDICTS)}")
        sql = "SELECT * FROM latest_plans WHERE 1 = 1"
        params: list[Any] = []
        if verdict:
            sql += " AND status = ?"
            params.append(verdict)
        if since:
            try:
                params.append(parse_since(since))
            except InputError as exc:
                raise _Reply("400 Bad Request", str(exc).replace("--since", "since")) from None
            sql += " AND evaluated_at >= ?"
        if text:
            fields = ("patient_id", "patient_name", "plan_label", "path", "summary")
            sql += " AND (" + " OR ".join(f"{f} LIKE ? ESCAPE '\\'" for f in fields) + ")"
            params += [_like(text)] * len(fields)
        sql += " ORDER BY id DESC LIMIT ?"
        params.append(self.config.max_rows + 1)
        with self._db() as db:
            rows = db.conn.execute(sql, params).fetchall()
            more = len(rows) > self.config.max_rows
            items = []
            for row in rows[: self.config.max_rows]:
                entry = entry_of(db.conn, row)
                items.append((_received(db.conn, row["id"]) or "", row["id"], entry))
            running = db.conn.execute(
                "SELECT COUNT(*) FROM runs WHERE status = 'running'"
            ).fetchone()[0]
            total = db.conn.execute("SELECT COUNT(*) FROM latest_plans").fetchone()[0]
        items.sort(key=lambda t: (t[0], t[1]), reverse=True)
        body = [
            "<h1>dosecheck: plans checked</h1>",
            "<nav><a href='/'>Plans</a><a href='/archive'>Archive summary</a></nav>",
            self._form(verdict, since, text),
            f"<p class='muted'>{len(items)} of {total} plans shown"
            + (f" (the newest {self.config.max_rows})" if more else "")
            + (
                f"; a run is open: this page reloads every {self.config.refresh_seconds} s"
                if running
                else ""
            )
            + ". Times in UTC; received is when the plan's files were stored.</p>",
            "<table id='plans'><thead><tr><th>Patient</th><th>Plan</th><th>Verdict</th>"
            "<th>Failed constraints</th><th>Received</th><th>Checked</th></tr></thead><tbody>",
        ]
        for received, plan_id, e in items:
            p = e["plan"]
            status = str(e["status"])
            failed = _failed(e["results"])
            detail = "<br>".join(esc(f) for f in failed)
            if status == "error":
                detail = esc(e.get("error"))
            name = f" <span class='muted'>{esc(p['patient_name'])}</span>"
            body.append(
                f"<tr class='plan' data-id='{plan_id}'>"
                f"<td>{esc(p['patient_id'])}{name if p['patient_name'] else ''}</td>"
                f"<td><a href='/plan/{plan_id}'>{esc(p['plan_label'] or '(no label)')}</a></td>"
                f"<td class='{esc(status)}'>{esc(status.upper())}</td><td>{detail}</td>"
                f"<td>{esc(_when(received))}</td><td>{esc(_when(e['evaluated_at']))}</td></tr>"
            )
        body.append("</tbody></table>")
        refresh = self.config.refresh_seconds if running else None
        return _page("dosecheck: plans checked", "".join(body), csp=LIST_CSP, refresh=refresh), (
            LIST_CSP
        )

    def _form(self, verdict: str, since: str, text: str) -> str:
        options = "".join(
            f"<option value='{v}'{' selected' if v == verdict else ''}>{v or 'any'}</option>"
            for v in ("", *VERDICTS)
        )
        return (
            "<form method='get' action='/' id='filter'>"
            f"<label>Verdict <select name='verdict'>{options}</select></label> "
            f"<label>Checked since <input type='date' name='since' value='{esc(since)}'></label> "
            f"<label>Text <input type='search' name='q' value='{esc(text)}'></label> "
            "<button type='submit'>Filter</button> <a href='/'>clear</a></form>"
        )

    def _archive(self) -> str:
        from dosecheck.batch.archive_data import load_archive_data
        from dosecheck.report.archive import render_archive_report

        return render_archive_report(load_archive_data(self.config.db, read_only=True))

    def report_file(self, row: sqlite3.Row) -> Path | None:
        """The stored HTML report of a ``plans`` row, or ``None``: missing, or its
        path would not be inside the reports folder (after resolving links)."""
        if self.reports is None:
            return None
        rel = report_relpath(row["patient_id"], row["plan_label"], row["location_key"])
        candidate = (self.reports / rel).resolve()
        if not candidate.is_relative_to(self.reports) or not candidate.is_file():
            return None
        return candidate

    def _plan(self, plan_id: int) -> tuple[str, list[tuple[str, str]], bytes]:
        with self._db() as db:
            row = db.conn.execute("SELECT * FROM plans WHERE id = ?", (plan_id,)).fetchone()
            if row is None:
                raise _Reply("404 Not Found", f"no evaluation {plan_id} in the database")
            latest = db.conn.execute(
                "SELECT id FROM latest_plans WHERE location_key = ?", (row["location_key"],)
            ).fetchone()
            entry = entry_of(db.conn, row)
        is_latest = latest is not None and latest["id"] == plan_id
        report = self.report_file(row) if is_latest else None  # the file is the latest's
        if report is not None:
            try:
                data = report.read_bytes()
            except OSError:
                data = None
            if data is not None:
                headers = _headers("text/html; charset=utf-8", REPORT_CSP, len(data))
                return "200 OK", headers, data
        return self._html(self._results_page(plan_id, entry, is_latest), REPORT_CSP)

    def _results_page(self, plan_id: int, e: dict[str, Any], is_latest: bool) -> str:
        p = e["plan"]
        status = str(e["status"])
        title = f"{p['patient_id']} / {p['plan_label']}: {status.upper()}"
        note = "" if is_latest else "<p>A newer evaluation of this plan is recorded.</p>"
        rows = "".join(
            f"<tr><td>{esc(r.get('structure'))}</td><td>{esc(r.get('roi'))}</td>"
            f"<td>{esc(r.get('constraint') or r.get('metric'))}</td>"
            f"<td>{esc(r.get('message'))}</td><td>{esc(r.get('priority'))}</td>"
            f"<td class='{esc(r.get('status'))}'>{esc(str(r.get('status')).upper())}</td></tr>"
            for r in e["results"]
        )
        cset = (e.get("constraint_set") or {}).get("name")
        body = (
            "<nav><a href='/'>Plans</a><a href='/archive'>Archive summary</a></nav>"
            f"<h1>{esc(title)}</h1>{note}"
            "<p class='muted'>No HTML report was stored for this evaluation: its recorded "
            "results.</p>"
            f"<p class='{esc(status)}'>{esc(e.get('summary'))}</p>"
            + (f"<p>Error: {esc(e.get('error'))}</p>" if e.get("error") else "")
            + f"<p>Patient {esc(p['patient_id'])} {esc(p['patient_name'])}; folder "
            f"<code>{esc(p['path'])}</code>; constraint set {esc(cset)}; checked "
            f"{esc(_when(e['evaluated_at']))} (evaluation {plan_id}).</p>"
            "<table id='results'><thead><tr><th>Structure</th><th>ROI</th><th>Constraint</th>"
            "<th>Result</th><th>Priority</th><th>Status</th></tr></thead>"
            f"<tbody>{rows}</tbody></table>"
        )
        return _page(title, body)


def make_app(config: WebConfig) -> Callable[[dict[str, Any], StartResponse], Iterable[bytes]]:
    """The WSGI application of ``dosecheck serve`` (see the module docstring).

    Raises
    ------
    InputError
        The database is missing, foreign, of another schema version (checked once
        here, read-only), or the reports folder does not exist.
    """
    ResultsDB(config.db, read_only=True).close()
    if config.reports is not None and not config.reports.is_dir():
        raise InputError("the --reports folder does not exist", path=config.reports)
    return _App(config)


def make_server(app: Any, host: str, port: int) -> Any:
    """A waitress server for ``app`` on ``host:port`` (port 0: any free one; the
    chosen one is ``server.effective_port``), not yet running (``server.run()``).

    Raises
    ------
    InputError
        waitress is not installed (extra ``web``), or the address cannot be bound.
    """
    from dosecheck._optional import require

    waitress_server = require("waitress.server", extra="web", feature="dosecheck serve")
    try:
        return waitress_server.create_server(app, host=host, port=port, threads=4, ident="")
    except OSError as exc:
        raise InputError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
