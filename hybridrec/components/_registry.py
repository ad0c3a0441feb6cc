"""The component registry: name -> class, built from each class's ``name`` attribute.

A class that sets ``name`` in its own body registers itself when it is defined (see
:meth:`Component.__init_subclass__ <hybridrec.components.base.Component>`); mixins and
subclasses that do not set a name of their own are not registered. Every public module of
``hybridrec.components`` is imported on first use, so a new component is one file there.
"""
from __future__ import annotations

import importlib
import pkgutil
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover - typing only
    from .base import Component

_REGISTRY: dict[str, type] = {}
_DISCOVERED = False


def register(cls: type) -> type:
    """Add ``cls`` under ``cls.name``; a different class already holding the name is an error.

    Re-defining the same class (same module and qualified name, as a notebook reload does)
    replaces the old entry.
    """
    name = cls.__dict__.get("name")
    if not isinstance(name, str) or not name:
        raise ValueError(f"{cls.__qualname__} must set a non-empty string class attribute 'name' to be registered.")
    if "__" in name:
        raise ValueError(f"Component names may not contain '__'. Got {name!r} for {cls.__qualname__}.")
    old = _REGISTRY.get(name)
    if old is not None and (old.__module__, old.__qualname__) != (cls.__module__, cls.__qualname__):
        raise ValueError(
            f"The component name {name!r} is taken by {old.__module__}.{old.__qualname__}; "
            f"give {cls.__module__}.{cls.__qualname__} another 'name'."
        )
    _REGISTRY[name] = cls
    return cls


def _discover() -> None:
    """Import every public module of the components package once (they register on import)."""
    global _DISCOVERED
    if _DISCOVERED:
        return
    package = importlib.import_module(__package__)
    for module in pkgutil.iter_modules(package.__path__):
        if not module.name.startswith("_"):
            importlib.import_module(f"{__package__}.{module.name}")
    _DISCOVERED = True


def available() -> list[str]:
    """Names of every registered component, sorted."""
    _discover()
    return sorted(_REGISTRY)


def get(name: str) -> type["Component"]:
    """The class registered under ``name``; ``ValueError`` lists the known names otherwise.

    Parameters
    ----------
    name : str
        A registered component name (see :func:`available`).

    Returns
    -------
    type
        The component class.
    """
    _discover()
    if name not in _REGISTRY:
        raise ValueError(f"Unknown component {name!r}. Known components: {available()}.")
    return _REGISTRY[name]


def create(name: str, **params: Any) -> "Component":
    """A new component of the class registered under ``name``, with ``params``.

    Parameters
    ----------
    name : str
        A registered component name (see :func:`available`).
    **params
        Constructor parameters of that class; ones it does not take raise ``ValueError``.

    Returns
    -------
    Component
        The new, unfitted component.

    Examples
    --------
    >>> from hybridrec import components
    >>> components.create("als", factors=32)
    ALSComponent(factors=32)
    """
    cls = get(name)
    try:
        return cls(**params)
    except TypeError as exc:
        raise ValueError(f"Invalid parameters for component {name!r} ({cls.__name__}): {exc}.") from None
