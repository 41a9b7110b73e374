"""A listener on a free loopback port, stopped after the test (``start_node``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture
def start_node(tmp_path: Path) -> Iterator[Callable[..., Any]]:
    """``start_node(**options)`` starts a :class:`~dosecheck.node.listener.Listener`
    (store ``tmp_path/store``, database ``tmp_path/results.sqlite``, port 0, one
    worker) and returns it; every node started is stopped at the end of the test."""
    from dosecheck.node.listener import Listener, ListenOptions

    started: list[Any] = []

    def start(**options: Any) -> Any:
        defaults: dict[str, Any] = {
            "store": tmp_path / "store",
            "db": tmp_path / "results.sqlite",
            "port": 0,
            "jobs": 1,
            "quiet_seconds": 60.0,
            "stop_grace_seconds": 5.0,
        }
        node = Listener(ListenOptions(**{**defaults, **options}))
        node.start()
        started.append(node)
        return node

    yield start
    for node in started:
        node.stop()
