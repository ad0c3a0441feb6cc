"""Optional dependencies: one import helper whose error names the ``pip install`` to run."""
from __future__ import annotations

import importlib
from types import ModuleType

#: Importable module -> (distribution, extra of hybridrec that installs it).
OPTIONAL = {
    "matplotlib": ("matplotlib", "plot"),
    "fastapi": ("fastapi", "serve"),
    "uvicorn": ("uvicorn", "serve"),
}


class MissingExtraError(ImportError):
    """An optional dependency is not installed; the message names the install command."""


class SparkSetupError(RuntimeError):
    """Spark cannot start here (no pyspark, no Java 17+); the message says what to install."""


def import_optional(module: str, purpose: str) -> ModuleType:
    """Import ``module`` or raise :class:`MissingExtraError` naming the extra that installs it.

    Parameters
    ----------
    module : str
        A key of :data:`OPTIONAL`.
    purpose : str
        What needs it, for the message (``"hybridrec evaluate's plot"``).
    """
    distribution, extra = OPTIONAL[module]
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingExtraError(
            f"{purpose} needs the optional package {distribution}, which is not installed. "
            f'Install it with: pip install "hybridrec[{extra}]"'
        ) from None
