"""``dosecheck serve``: the node's read-only web page over the results database.

A thin layer over :mod:`dosecheck.node.web` (the WSGI application) on waitress (extra
``web``). Loopback by default; any other address needs ``--token-file`` (exit 2
otherwise, before anything is bound). SIGTERM or Ctrl-C stops it (exit 0).
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated

import typer

from dosecheck._runtime import resume_cyclic_gc
from dosecheck.errors import InputError

#: The shortest token accepted (characters).
MIN_TOKEN_LENGTH = 16


def is_loopback(host: str) -> bool:
    """Whether ``host`` is this machine only (``localhost``, 127.0.0.0/8, ``::1``)."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: may resolve to anything


def read_token(path: Path) -> str:
    """The secret token in ``path`` (surrounding white space removed).

    Raises
    ------
    InputError
        Unreadable, or shorter than :data:`MIN_TOKEN_LENGTH` characters, or with
        characters that cannot be in a cookie.
    """
    try:
        token = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the token file ({exc})", path=path) from exc
    if len(token) < MIN_TOKEN_LENGTH or not all(c.isascii() and c.isprintable() for c in token):
        raise InputError(
            f"the token must be at least {MIN_TOKEN_LENGTH} printable ASCII characters; "
            "make one with: python -c 'import secrets; print(secrets.token_urlsafe(32))'",
            path=path,
        )
    if any(c in token for c in ' ;,"\\'):
        raise InputError("the token may not contain spaces, ';', ',', '\"' or '\\'", path=path)
    return token


def serve(
    db: Annotated[Path, typer.Option("--db", help="SQLite results database (read-only).")] = Path(
        "results.sqlite"
    ),
    reports: Annotated[
        Path | None,
        typer.Option("--reports", help="The folder 'listen --reports' writes (HTML reports)."),
    ] = None,
    host: Annotated[
        str,
        typer.Option(
            "--host",
            help="Address to listen on. Default loopback (this machine only); any other "
            "needs --token-file.",
        ),
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", min=0, max=65535, help="TCP port (0: any free port).")
    ] = 8080,
    token_file: Annotated[
        Path | None,
        typer.Option(
            "--token-file",
            help="File holding a secret token every request must carry (cookie, "
            "X-Dosecheck-Token header or ?token= once). Required off loopback.",
        ),
    ] = None,
    refresh: Annotated[
        int,
        typer.Option("--refresh", min=1, help="Seconds between reloads while a run is open."),
    ] = 10,
) -> None:
    """Serve a read-only web page of the results database: the plans checked (newest
    first, with a filter), each plan's HTML report, the archive summary."""
    resume_cyclic_gc()  # a long run: cycles are collected (dosecheck/_runtime.py)
    import signal
    import sys

    if not is_loopback(host) and token_file is None:
        raise InputError(
            f"--host {host} is not loopback: give --token-file FILE (a secret token every "
            "request must carry), or serve on 127.0.0.1"
        )
    token = read_token(token_file) if token_file is not None else None
    from dosecheck.node.web import WebConfig, make_app, make_server

    app = make_app(WebConfig(db=db, reports=reports, token=token, refresh_seconds=refresh))
    server = make_server(app, host, port)

    def stop(signum: int, frame: object) -> None:
        raise SystemExit(0)

    previous = signal.signal(signal.SIGTERM, stop)
    shown = f"[{host}]" if ":" in host else host
    sys.stderr.write(
        f"dosecheck serve: http://{shown}:{server.effective_port}/ "
        f"({'token required' if token else 'no token: this machine only'}); Ctrl-C stops\n"
    )
    sys.stderr.flush()
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        server.close()
