"""Optional extras, imported on first use through one helper.

The extras of ``pyproject.toml`` (``dask``: dask.distributed, ``reference``:
dicompyler-core, ``shape``: SciPy; and matplotlib, a core dependency whose ``plot`` extra
is kept as an alias) are imported only by the feature that needs them, and
always through :func:`require`, so a missing one is one kind of error with one message:
what is missing, which feature needs it, and the ``pip install`` line that adds it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from dosecheck.errors import InputError

if TYPE_CHECKING:
    from types import ModuleType

__all__ = ["MissingExtraError", "require"]


class MissingExtraError(InputError):
    """An optional dependency that is not installed (exit 2 through the CLI).

    Attributes
    ----------
    module, extra, feature
        As given to :func:`require`.
    """

    def __init__(self, module: str, *, extra: str, feature: str, detail: str = "") -> None:
        self.module = module
        self.extra = extra
        self.feature = feature
        why = f" ({detail})" if detail else ""
        super().__init__(
            f"{module.split('.')[0]} is not installed{why}: it is needed for {feature}. "
            f"Install it with: pip install 'dosecheck[{extra}]'"
        )


def require(module: str, *, extra: str, feature: str) -> ModuleType:
    """Import ``module`` from the optional extra ``extra``, for ``feature``.

    Parameters
    ----------
    module
        The module to import, e.g. ``"matplotlib"`` or ``"dicompylercore.dvhcalc"``.
    extra
        The extra of ``dosecheck`` that installs it, e.g. ``"plot"``.
    feature
        What needs it, for the message, e.g. ``"DVH plots"``.

    Raises
    ------
    MissingExtraError
        When the import fails. When another module is missing (a broken installation
        of ``module``), the message names it.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        missing = getattr(exc, "name", None)
        own = missing is not None and module.split(".")[0] == missing.split(".")[0]
        detail = "" if own or missing is None else f"it could not import {missing}"
        raise MissingExtraError(module, extra=extra, feature=feature, detail=detail) from exc
