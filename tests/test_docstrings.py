"""Every public callable of the API reference has a numpydoc docstring with a Parameters section.

The API reference (``docs/api/``) is generated from these docstrings; a public function, class
or method that takes parameters and does not describe them leaves a hole in it. A method that
overrides a contract (``Component.add_items``, ``history_contributions``, ...) is documented where
the contract is: its own docstring says only what differs, so the contract's parameters are
written once.
"""
from __future__ import annotations

import importlib
import inspect

import pytest

#: The modules whose ``__all__`` the API reference documents.
MODULES = ["hybridrec", "hybridrec.components", "hybridrec.evaluation", "hybridrec.datasets",
           "hybridrec.model_selection", "hybridrec.serve", "hybridrec.spark"]


def _public_callables() -> dict[str, object]:
    """Public functions, classes and methods by qualified name; a method maps to ``(function, class)``."""
    found: dict[str, object] = {}
    for name in MODULES:
        try:
            module = importlib.import_module(name)
        except ImportError:  # an optional extra (serve, spark) that is not installed
            continue
        for attr in getattr(module, "__all__", []):
            obj = getattr(module, attr)
            if not callable(obj):
                continue
            found.setdefault(f"{obj.__module__}.{obj.__qualname__}", obj)
            if inspect.isclass(obj):
                for member, value in inspect.getmembers(obj, inspect.isfunction):  # inherited ones too
                    if not member.startswith("_") and value.__module__.startswith("hybridrec"):
                        found.setdefault(f"{value.__module__}.{value.__qualname__}", (value, obj))
    return found


def _parameters(obj: object) -> list[str]:
    try:
        return [p for p in inspect.signature(obj).parameters if p not in ("self", "cls")]
    except (TypeError, ValueError):
        return []


def _documented(obj: object) -> bool:
    doc = inspect.getdoc(obj) or ""
    return bool(doc) and (not _parameters(obj) or "Parameters\n---" in doc)


def _contract_documented(function: object, cls: type) -> bool:
    """Whether a base class of ``cls`` documents the method ``function`` overrides (with the same parameters)."""
    return any(vars(base).get(function.__name__) not in (None, function)
               and _parameters(vars(base)[function.__name__]) == _parameters(function)
               and _documented(vars(base)[function.__name__]) for base in cls.__mro__)


def test_every_public_callable_describes_its_parameters():
    callables = _public_callables()
    assert len(callables) > 100  # the reference covers the whole public API
    missing = []
    for name, entry in sorted(callables.items()):
        obj, cls = entry if isinstance(entry, tuple) else (entry, None)
        if not _documented(obj) and not (cls is not None and inspect.getdoc(obj) and _contract_documented(obj, cls)):
            missing.append(name)
    assert not missing, f"{len(missing)} public callables lack a numpydoc Parameters section: {missing}"


@pytest.mark.parametrize("name", ["hybridrec.coldstart.ColdStartMixin.add_interactions",
                                  "hybridrec.recommender.HybridRecommender.recommend"])
def test_the_check_sees_the_estimators_methods(name):
    assert name in _public_callables()
