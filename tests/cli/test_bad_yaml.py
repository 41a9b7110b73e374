"""Bad constraint-set YAML through the CLI: ``dosecheck constraints validate FILE``.

The loader's every message is pinned in ``checking/test_loader.py`` at the API level;
this module checks what a user sees: exit 2, exactly one line
``dosecheck: error: FILE:LINE: message`` on stderr, nothing on stdout, no traceback,
and that nothing in the file is ever executed or expanded.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from dosecheck.checking.loader import MAX_BYTES


@dataclass(frozen=True)
class YamlCase:
    id: str
    content: bytes
    line: int | None  # the line the error names; None for file-level errors
    message: tuple[str, ...]
    what: str


HEAD = "name: Test set\nprescription: {dose_gy: 50, fractions: 25}\nstructures:\n"
NO_RX = "name: Test set\nstructures:\n"


def one(constraints: str, head: str = HEAD) -> bytes:
    """A set with one structure (Rectum) whose constraint lines follow ``constraints:``."""
    return (head + "  - name: Rectum\n    constraints:\n" + constraints).encode()


MARKER = "dosecheck-pwned"  # a file the os.system payloads would create in the cwd

CASES = [
    YamlCase(
        "syntax_error",
        b"name: Test\nstructures:\n  - name: Rectum\n    constraints: [V30Gy[cc] < 600\n",
        4,
        ("invalid YAML",),
        "an unclosed [ list",
    ),
    YamlCase(
        "flow_list_of_metrics",
        b"name: Test\nstructures:\n  - name: R\n    constraints: [V50Gy[%] < 50]\n",
        4,
        ("invalid YAML", "quote each constraint"),
        "unquoted metrics inside [...]",
    ),
    YamlCase(
        "tab_indent",
        one("\t- V30Gy[cc] < 600\n"),
        6,
        ("invalid YAML",),
        "a tab used for indentation",
    ),
    YamlCase(
        "bad_indent",
        b"name: Test\nstructures:\n  - name: Rectum\n   constraints:\n      - Max[Gy] < 50\n",
        4,
        ("invalid YAML",),
        "a key indented one space short",
    ),
    YamlCase(
        "dose_not_a_number",
        b"name: Test\nprescription: {dose_gy: fifty}\nstructures: []\n",
        2,
        ("prescription dose_gy must be a number", "'fifty'"),
        "wrong type: text for a number",
    ),
    YamlCase(
        "dose_infinite",
        b"name: Test\nprescription:\n  dose_gy: 1e400\nstructures: []\n",
        3,
        ("must be a positive number",),
        "a number that overflows to inf",
    ),
    YamlCase(
        "structures_mapping",
        b"name: Test\nstructures:\n  Rectum: {constraints: ['Max[Gy] < 50']}\n",
        3,
        ("structures must be a list",),
        "wrong type: a mapping for the list",
    ),
    YamlCase(
        "constraint_number",
        one("      - 42\n"),
        6,
        ("must be a string", "not '42'"),
        "wrong type: a number for a constraint",
    ),
    YamlCase(
        "unknown_top_key",
        b"name: Test\nstructure:\n  - name: R\n",
        2,
        ("unknown key 'structure'", "did you mean 'structures'"),
        "a misspelt top-level key",
    ),
    YamlCase(
        "unknown_constraint_key",
        one("      - {metric: 'Max[Gy]', op: <, limit: 50, priorty: optimal}\n"),
        6,
        ("unknown key 'priorty'", "did you mean 'priority'"),
        "a misspelt key in a constraint mapping",
    ),
    YamlCase(
        "duplicate_key",
        b"name: A\nname: B\nstructures: []\n",
        2,
        ("duplicate key 'name'", "first at line 1"),
        "a key given twice",
    ),
    YamlCase(
        "bad_metric",
        one("      - V30Gray[cc] < 600\n"),
        6,
        ("V30Gray",),
        "an unknown metric",
    ),
    YamlCase(
        "bad_comparator",
        one("      - Max[Gy] = 50\n"),
        6,
        ("unknown comparator '='", "not a constraint"),
        "= instead of a comparison",
    ),
    YamlCase(
        "negative_limit",
        one("      - V30Gy[cc] < -5\n"),
        6,
        ("invalid limit '-5'",),
        "a negative limit",
    ),
    YamlCase(
        "percent_metric_without_rx",
        one("      - V95%[%] > 95\n", head=NO_RX),
        5,
        ("'V95%[%] > 95'", "no prescription"),
        "a dose in % of prescription, no prescription",
    ),
    YamlCase(
        "percent_limit_without_rx",
        one("      - Max[Gy] <= 107%\n", head=NO_RX),
        5,
        ("a limit in % of prescription", "no prescription"),
        "a limit in % of prescription, no prescription",
    ),
    YamlCase(
        "python_object_apply",
        one(f'      - !!python/object/apply:os.system ["touch {MARKER}"]\n'),
        6,
        ("YAML tag '!!python/object/apply:os.system' is not allowed",),
        "!!python/object/apply:os.system (must not run)",
    ),
    YamlCase(
        "python_object_apply_top",
        f'--- !!python/object/apply:os.system ["touch {MARKER}"]\n'.encode(),
        1,
        ("is not allowed",),
        "the whole document is an os.system call",
    ),
    YamlCase(
        "python_name",
        one("      - {metric: !!python/name:os.system , op: <, limit: 1}\n"),
        6,
        ("YAML tag '!!python/name:os.system' is not allowed",),
        "!!python/name:os.system",
    ),
    YamlCase(
        "local_tag",
        one("      - !include other.yaml\n"),
        6,
        ("YAML tag '!include' is not allowed",),
        "a custom tag",
    ),
    YamlCase(
        "billion_laughs",
        (
            b"name: Test\nstructures: []\n"
            b'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
            + b"".join(
                f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n".encode()
                for i in range(8)
            )
        ),
        3,
        ("anchors and aliases", "not allowed"),
        "nested aliases (billion laughs)",
    ),
    YamlCase(
        "deep_nesting",
        b"name: Test\nstructures: " + b"[" * 50_000 + b"]" * 50_000 + b"\n",
        None,
        ("invalid YAML", "nested too deeply"),
        "50 000 nested lists",
    ),
    YamlCase(
        "not_utf8",
        "name: Blåse\nstructures: []\n".encode("latin-1"),
        1,
        ("not UTF-8",),
        "a Latin-1 file",
    ),
    YamlCase(
        "binary",
        b"\x00\x01\x02\x03DICM\x00\xff\xfe" * 10,
        1,
        ("not UTF-8",),
        "binary garbage",
    ),
    YamlCase(
        "control_characters",
        b"name: Test\x07\nstructures: []\n",
        1,
        ("invalid YAML",),
        "a control character in a value",
    ),
    YamlCase(
        "empty",
        b"",
        1,
        ("the file is empty",),
        "an empty file",
    ),
    YamlCase(
        "too_large",
        b"name: [unclosed\n" + b"# padding\n" * (MAX_BYTES // 10 + 1),
        None,
        ("larger than 1 MB",),
        "1 MB + of YAML (refused before parsing: the syntax error is never seen)",
    ),
]


def run_validate(path: Path, cwd: Path) -> tuple[int, str, str, float]:
    """``python -m dosecheck constraints validate PATH`` (1 GB address-space limit)."""
    limited = (
        "import resource, runpy, sys; "
        "resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30)); "
        "sys.argv[0] = 'dosecheck'; "
        "runpy.run_module('dosecheck', run_name='__main__', alter_sys=True)"
    )
    t0 = time.perf_counter()
    p = subprocess.run(
        [sys.executable, "-c", limited, "constraints", "validate", str(path)],
        capture_output=True,
        text=True,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        timeout=120,
    )
    return p.returncode, p.stdout, p.stderr, time.perf_counter() - t0


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple]:
    """Write every case (and a valid control) and validate them all, in parallel."""
    root = tmp_path_factory.mktemp("yaml")
    jobs = {}
    for case in CASES:
        folder = root / case.id
        folder.mkdir()
        path = folder / "set.yaml"
        path.write_bytes(case.content)
        jobs[case.id] = (path, folder)
    good = root / "good"
    good.mkdir()
    (good / "set.yaml").write_bytes(one("      - V30Gy[cc] < 600\n      - Max[Gy] <= 107%\n"))
    jobs["good"] = (good / "set.yaml", good)
    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        results = pool.map(lambda item: (item[0], *run_validate(*item[1])), jobs.items())
        return {cid: (jobs[cid][0], jobs[cid][1], *rest) for cid, *rest in results}


def test_valid_set_passes(runs: dict[str, tuple]) -> None:
    _, _, code, out, err, _ = runs["good"]
    assert (code, out, err) == (0, "OK: 1 structure, 2 constraints\n", "")


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_yaml(case: YamlCase, runs: dict[str, tuple]) -> None:
    path, folder, code, out, err, seconds = runs[case.id]
    assert "Traceback" not in err and "internal error" not in err, err
    assert code == 2, f"exit {code}\nstdout: {out}\nstderr: {err}"
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1, err
    where = f"{path}:{case.line}" if case.line is not None else str(path)
    assert lines[0].startswith(f"dosecheck: error: {where}: "), lines[0]
    for fragment in case.message:
        assert fragment in lines[0], f"{fragment!r} not in {lines[0]!r}"
    assert not (folder / MARKER).exists(), "a YAML tag ran a command"
    assert seconds < 30


def test_large_file_refused_without_reading(tmp_path: Path) -> None:
    """A file over the limit is refused from its size: even a sparse 10 GB file is quick."""
    path = tmp_path / "huge.yaml"
    with path.open("wb") as f:
        f.truncate(10 * 1024**3)  # sparse: takes no disk space
    code, out, err, seconds = run_validate(path, tmp_path)
    assert code == 2 and out == ""
    assert err == (
        f"dosecheck: error: {path}: file is {10 * 1024**3} bytes; constraint sets larger "
        f"than 1 MB ({MAX_BYTES} bytes) are refused\n"
    )
    assert seconds < 10
