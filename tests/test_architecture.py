"""The module map holds: imports run downward, heavy libraries stay in their package,
and ``import dosecheck.cli`` stays light.

Every ``import`` in every module of ``dosecheck/`` is read from its ``ast``: at module
level and inside functions alike (a function-level import is a dependency too; it only
runs later). Imports under ``if TYPE_CHECKING:`` are annotations, not dependencies at
run time, and are checked only for the layer order.

The layers, lowest first (a module may import from its own layer and those below):

======== ===============================================================================
base     ``dosecheck`` (the version), ``errors``, ``_optional``, ``_yaml``
model    ``model``: plain plan data
core     ``core/``: the numbers (NumPy; no files, no DICOM)
metrics  ``metrics``, ``metric_forms``: the TG-263 grammar, evaluated on a DVH
dicom    ``dicom/``: DICOM to the model and back (the only user of pydicom)
checking ``checking/``: constraint sets, matching, evaluation, ``check_plan``
output   ``output/``: text for terminals and machines
report   ``report/``: HTML and plots for people (the only user of matplotlib)
batch    ``batch/``: many plans into SQLite (the only user of dask)
node     ``node/``: the DICOM node of ``listen`` (the only user of pynetdicom)
top      ``commands/``, ``cli``, ``entry``, ``__main__``, ``api`` (the public face), ``engines``
         (the DVH engines by name) and the tools ``reference_engine`` (dicompyler-core),
         ``validation/``, ``synthetic/``
======== ===============================================================================

The tests keep a rule of their own: a test module imports no other test module (nor a
``conftest.py``); shared builders live in ``tests/helpers/``, shared fixtures in a
``conftest.py``.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "dosecheck"
TESTS = Path(__file__).resolve().parent

LAYERS: tuple[tuple[str, ...], ...] = (
    ("dosecheck", "dosecheck.errors", "dosecheck._optional", "dosecheck._yaml"),
    ("dosecheck.model",),
    ("dosecheck.core",),
    ("dosecheck.metrics", "dosecheck.metric_forms"),
    ("dosecheck.dicom",),
    ("dosecheck.checking",),
    ("dosecheck.output",),
    ("dosecheck.report",),
    ("dosecheck.batch",),
    ("dosecheck.node",),
    (
        "dosecheck.commands",
        "dosecheck.cli",
        "dosecheck.entry",
        "dosecheck.__main__",
        "dosecheck.api",
        "dosecheck.engines",
        "dosecheck.reference_engine",
        "dosecheck.validation",
        "dosecheck.synthetic",
    ),
)

#: Upward imports that are known and wanted gone (importer, imported): why.
UPWARD_EXCEPTIONS = {
    # Plan.dose_scale is annotated with the dose-scale check's result type (a
    # TYPE_CHECKING import; no import at run time).
    ("dosecheck.model", "dosecheck.core.dose_scale"),
    # Plan.shared_dvhs likewise (the loader's DVHs, reused by the DVH step).
    ("dosecheck.model", "dosecheck.core.structures"),
}

#: Where each heavy library may be imported (module-name prefixes).
HEAVY_ALLOWED = {
    # errors.py: the tag number of a DICOM keyword from pydicom's dictionary, imported
    # in __str__ only when an error names a tag; the tools read DICOM themselves.
    "pydicom": (
        "dosecheck.dicom",
        "dosecheck.errors",
        "dosecheck.reference_engine",
        "dosecheck.synthetic",
    ),
    "matplotlib": ("dosecheck.report",),
    "dask": ("dosecheck.batch.executors",),
    "distributed": ("dosecheck.batch.executors",),
    "dicompylercore": ("dosecheck.reference_engine",),
    "pynetdicom": ("dosecheck.node",),
}


@dataclass(frozen=True)
class Import:
    importer: str
    imported: str
    line: int
    type_checking: bool


def module_name(path: Path, root: Path = PACKAGE) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}
TEST_MODULES = {module_name(p, TESTS): p for p in sorted(TESTS.rglob("*.py"))}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports_of(name: str, modules: Mapping[str, Path] = MODULES) -> Iterator[Import]:
    """Every import in module ``name`` of ``modules``: module level, in functions, under
    TYPE_CHECKING. ``from a import b`` also counts ``a.b`` when that is one of ``modules``."""
    path = modules[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]

    def walk(node: ast.AST, tc: bool) -> Iterator[Import]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child.test):
                for c in child.body:
                    yield from walk_one(c, True)
                for c in child.orelse:
                    yield from walk_one(c, tc)
            else:
                yield from walk_one(child, tc)

    def walk_one(node: ast.AST, tc: bool) -> Iterator[Import]:
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(name, alias.name, node.lineno, tc)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            yield Import(name, target, node.lineno, tc)
            for alias in node.names:  # from dosecheck.core import engine
                if f"{target}.{alias.name}" in modules:
                    yield Import(name, f"{target}.{alias.name}", node.lineno, tc)
        yield from walk(node, tc)

    yield from walk(ast.parse(path.read_text(encoding="utf-8")), False)


ALL_IMPORTS = [i for m in MODULES for i in imports_of(m)]


def layer_of(name: str) -> int:
    """The layer of a dosecheck module: its longest listed prefix."""
    best, index = "", -1
    for i, names in enumerate(LAYERS):
        for prefix in names:
            if (name == prefix or name.startswith(prefix + ".")) and len(prefix) > len(best):
                best, index = prefix, i
    assert index >= 0, f"{name} is in no layer: add it to LAYERS"
    return index


def _where(i: Import) -> str:
    return f"{MODULES[i.importer].relative_to(PACKAGE.parent)}:{i.line}"


def test_every_module_has_a_layer() -> None:
    assert len(MODULES) > 50  # the walk found the package
    for name in MODULES:
        layer_of(name)


def test_every_package_says_its_job() -> None:
    """Each package's ``__init__`` opens with a docstring (its one job, in a line)."""
    packages = [n for n, p in MODULES.items() if p.name == "__init__.py"]
    assert len(packages) > 10
    silent = [
        n
        for n in packages
        if not (ast.get_docstring(ast.parse(MODULES[n].read_text(encoding="utf-8"))) or "")
    ]
    assert silent == []


def test_imports_run_downward() -> None:
    upward = [
        f"{_where(i)}: {i.importer} imports {i.imported}"
        for i in ALL_IMPORTS
        if i.imported.split(".")[0] == "dosecheck"
        and i.imported in MODULES
        and layer_of(i.imported) > layer_of(i.importer)
        and (i.importer, i.imported) not in UPWARD_EXCEPTIONS
    ]
    assert upward == []


def test_upward_exceptions_are_still_needed() -> None:
    """An exception that no longer happens is taken off the list."""
    found = {(i.importer, i.imported) for i in ALL_IMPORTS}
    assert UPWARD_EXCEPTIONS <= found


def test_the_public_face_and_the_commands_are_imported_from_above_only() -> None:
    """``api`` is for scripts; ``commands`` only for ``cli``; ``cli`` only to run it."""
    allowed = {
        "dosecheck.api": (),
        "dosecheck.commands": ("dosecheck.cli", "dosecheck.commands"),
        "dosecheck.cli": ("dosecheck.entry",),
    }
    bad = []
    for i in ALL_IMPORTS:
        for target, importers in allowed.items():
            hit = i.imported == target or i.imported.startswith(target + ".")
            if hit and not any(
                i.importer == p or i.importer.startswith(p + ".") for p in importers
            ):
                bad.append(f"{_where(i)}: {i.importer} imports {i.imported}")
    assert bad == []


@pytest.mark.parametrize("library", sorted(HEAVY_ALLOWED))
def test_heavy_libraries_stay_in_their_package(library: str) -> None:
    prefixes = HEAVY_ALLOWED[library]
    outside = [
        f"{_where(i)}: {i.importer} imports {i.imported}"
        for i in ALL_IMPORTS
        if i.imported.split(".")[0] == library
        and not i.type_checking
        and not any(i.importer == p or i.importer.startswith(p + ".") for p in prefixes)
    ]
    assert outside == []


def test_no_import_cycles() -> None:
    """No cycle among run-time imports, also through function-level ones (those must
    not hide a cycle). Parent packages are not counted as imported."""
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for i in ALL_IMPORTS:
        if not i.type_checking and i.imported in MODULES and i.imported != i.importer:
            graph[i.importer].add(i.imported)
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1 on the path, 2 done
    path: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        path.append(m)
        for t in sorted(graph[m]):
            if state.get(t) == 1:
                cycles.append([*path[path.index(t) :], t])
            elif t not in state:
                visit(t)
        path.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m)
    assert cycles == []


def test_the_walk_sees_function_level_and_type_checking_imports() -> None:
    """The walker itself: ``cli`` imports the file writer inside ``dvh``, ``engines``
    the engine inside its entries, and the api's ``DVH`` types only for annotations."""
    cli = {(i.imported, i.type_checking) for i in imports_of("dosecheck.cli")}
    assert ("dosecheck.output.write", False) in cli
    assert "dosecheck.core.structures" not in {name for name, _ in cli}  # via engines
    engines = {(i.imported, i.type_checking) for i in imports_of("dosecheck.engines")}
    assert ("dosecheck.core.structures", False) in engines
    structures = {(i.imported, i.type_checking) for i in imports_of("dosecheck.core.structures")}
    assert ("dosecheck.core.dvh", True) in structures
    assert ("dosecheck.core.engine", False) in structures  # inside compute_dvhs


# --- the tests ------------------------------------------------------------------------------
def imports_between_tests(modules: Mapping[str, Path], root: Path = TESTS) -> list[str]:
    """Imports in ``modules`` (those under ``root``, the ``tests/`` folder) of a module
    under it other than ``tests.helpers``: a test module, a ``conftest``, any module
    outside the helpers (a package's ``__init__`` is not counted). A bare ``import
    test_x`` (through ``sys.path``) counts too."""
    bad = []
    for name in modules:
        for i in imports_of(name, modules):
            target = i.imported
            if target in modules:
                if modules[target].name == "__init__.py" or target.startswith("tests.helpers."):
                    continue
            elif not target.split(".")[0].startswith(("test_", "conftest")):
                continue
            where = f"{modules[name].relative_to(root.parent)}:{i.line}"
            bad.append(f"{where}: {name} imports {target}")
    return bad


def test_no_test_module_imports_another() -> None:
    """A builder two test modules need goes to ``tests/helpers/``, a fixture to a
    ``conftest.py``: importing one test module from another runs (and may re-collect) it."""
    assert len(TEST_MODULES) > 50  # the walk found the tests
    assert imports_between_tests(TEST_MODULES) == []


def test_the_tests_check_sees_an_import_of_a_test_module(tmp_path: Path) -> None:
    """The check itself, on a small tree: absolute, relative, ``from tests import`` and
    function-level imports of test modules and of a conftest are caught; helpers pass."""
    root = tmp_path / "tests"
    (root / "helpers").mkdir(parents=True)
    (root / "sub").mkdir()
    files = {
        "__init__.py": "",
        "conftest.py": "",
        "helpers/__init__.py": "",
        "helpers/plans.py": "from tests.helpers import html\n",
        "helpers/html.py": "",
        "test_a.py": (
            "import pytest\nfrom tests.helpers.plans import x\nfrom tests import helpers\n"
        ),
        "sub/__init__.py": "",
        "sub/test_b.py": (
            "from tests.test_a import y\n"
            "from tests import test_a\n"
            "from . import test_c\n"
            "def f():\n    import tests.conftest\n"
        ),
        "sub/test_c.py": "from ..test_a import z\nimport test_a\n",
    }
    for rel, text in files.items():
        (root / rel).write_text(text, encoding="utf-8")
    modules = {module_name(p, root): p for p in sorted(root.rglob("*.py"))}
    found = [line.split(": ", 1)[1] for line in imports_between_tests(modules, root)]
    assert found == [
        "tests.sub.test_b imports tests.test_a",
        "tests.sub.test_b imports tests.test_a",
        "tests.sub.test_b imports tests.sub.test_c",
        "tests.sub.test_b imports tests.conftest",
        "tests.sub.test_c imports tests.test_a",
        "tests.sub.test_c imports test_a",
    ]


# --- start-up ------------------------------------------------------------------------------
HEAVY = (
    "numpy",
    "pydicom",
    "matplotlib",
    "ruamel",
    "dask",
    "distributed",
    "dicompylercore",
    "pynetdicom",
)


def _loaded_after(statement: str) -> list[str]:
    code = (
        f"{statement}; import sys; "
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r})))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    ).stdout
    return eval(out)  # a printed list of str


def test_importing_the_cli_loads_no_heavy_library() -> None:
    """``dosecheck --help`` and the error paths start fast: typer and rich only."""
    assert _loaded_after("import dosecheck.cli") == []


def test_errors_do_not_load_pydicom() -> None:
    assert _loaded_after("import dosecheck.errors, dosecheck._optional") == []


def test_plot_markers_and_archive_numbers_draw_nothing() -> None:
    """The pure parts of the plots and of the archive summary import no matplotlib (at
    run time; it is imported by the modules that draw)."""
    for name in ("dosecheck.report.plots.markers", "dosecheck.report.archive.stats"):
        drawn = [i for i in imports_of(name) if i.imported.split(".")[0] == "matplotlib"]
        assert drawn == [], name
    figure = {i.imported.split(".")[0] for i in imports_of("dosecheck.report.plots.figure")}
    assert "matplotlib" in figure  # the walk sees the drawing module's imports
