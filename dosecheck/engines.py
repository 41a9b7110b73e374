"""The DVH engines ``dosecheck dvh --engine NAME`` can run, by name.

:data:`ENGINES` maps a name to a callable ``(plan, structures, jobs)`` returning one
:class:`~dosecheck.core.structures.StructureDVH` per selected structure; a new engine
is one entry. Each engine is imported only when it runs, so that importing this module
(and the CLI) stays cheap.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from dosecheck.errors import InputError

if TYPE_CHECKING:
    from dosecheck.core.structures import StructureDVH
    from dosecheck.model import Plan

__all__ = ["DEFAULT_ENGINE", "ENGINES", "Engine", "engine_named"]

#: An engine: the plan, the structure names (None for all), the worker processes and
#: the end-cap convention (None: the engine's own).
Engine = Callable[["Plan", "Iterable[str] | None", int, "str | None"], "list[StructureDVH]"]


def _dosecheck(
    plan: Plan, structures: Iterable[str] | None, jobs: int, end_caps: str | None = None
) -> list[StructureDVH]:
    """dosecheck's own engine (:func:`dosecheck.core.structures.compute_dvhs`)."""
    from dosecheck.core.structures import compute_dvhs

    return compute_dvhs(plan, structures, jobs=jobs, end_caps=end_caps)


def _dicompyler(
    plan: Plan, structures: Iterable[str] | None, jobs: int, end_caps: str | None = None
) -> list[StructureDVH]:
    """dicompyler-core as a second opinion (one process; needs ``dosecheck[reference]``)."""
    from dosecheck.reference_engine import dicompyler_dvhs

    return dicompyler_dvhs(plan, structures)


#: The engines by name, the default first.
ENGINES: dict[str, Engine] = {"dosecheck": _dosecheck, "dicompyler": _dicompyler}
DEFAULT_ENGINE = "dosecheck"


def engine_named(name: str) -> Engine:
    """The engine called ``name``.

    Raises
    ------
    InputError
        When no engine has that name; the message lists the names there are.
    """
    try:
        return ENGINES[name]
    except KeyError:
        raise InputError(f"unknown engine {name!r}; use one of: {', '.join(ENGINES)}") from None
