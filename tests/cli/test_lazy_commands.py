"""The commands of dosecheck.commands load only when used (issue #11: start-up time)."""

from __future__ import annotations

import importlib
import inspect
import subprocess
import sys

import pytest
import typer

from dosecheck.cli import LAZY_COMMANDS, load_command, main


def _modules_loaded_by(*args: str) -> tuple[set[str], str]:
    """The ``dosecheck.commands.*`` modules loaded by running the CLI with ``args``, and
    its standard output (a fresh interpreter, so nothing is loaded beforehand)."""
    code = (
        "import sys\n"
        "from dosecheck.cli import main\n"
        f"rc = main({list(args)!r})\n"
        "print('RC', rc)\n"
        "print('LOADED', ' '.join(sorted(m for m in sys.modules "
        "if m.startswith('dosecheck.commands.'))))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    last = done.stdout.rstrip().splitlines()[-1]
    assert last.startswith("LOADED")
    return set(last.split()[1:]), done.stdout


def _first_paragraph(text: str) -> str:
    return " ".join(inspect.cleandoc(text).split("\n\n")[0].split())


def test_top_level_help_loads_no_command_module() -> None:
    loaded, out = _modules_loaded_by("--help")
    assert "RC 0" in out
    # dosecheck.commands.options holds the shared option types that dvh (defined in
    # cli.py) uses; no command module proper is loaded.
    assert loaded == {"dosecheck.commands.options"}
    for name in LAZY_COMMANDS:
        assert name in out


def test_a_command_loads_only_its_own_module() -> None:
    loaded, out = _modules_loaded_by("check", "--help")
    assert "RC 0" in out and "--constraints" in out
    assert "dosecheck.commands.check" in loaded
    for other in ("batch", "listen", "serve", "report", "verify", "constraints"):
        assert f"dosecheck.commands.{other}" not in loaded


@pytest.mark.parametrize("name", list(LAZY_COMMANDS))
def test_listed_help_is_the_commands_own_first_sentence(name: str) -> None:
    module, attribute, line = LAZY_COMMANDS[name]
    target = getattr(importlib.import_module(module), attribute)
    doc = target.info.help if isinstance(target, typer.Typer) else target.__doc__
    assert _first_paragraph(doc).startswith(line)


@pytest.mark.parametrize("name", list(LAZY_COMMANDS))
def test_every_lazy_command_loads_under_its_name(name: str) -> None:
    command = load_command(name)
    assert command.name == name
    assert command.params or name == "constraints"  # a group has sub-commands instead


def test_an_unknown_command_is_still_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["chek"]) == 2
    assert "No such command 'chek'" in capsys.readouterr().err
