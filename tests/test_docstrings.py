"""Every public callable of the API reference has a numpydoc docstring with a Parameters section.

The API reference (``docs/api/``) is generated from these docstrings; a public function, class
or method that takes parameters and does not describe them leaves a hole in it.
"""
from __future__ import annotations

import importlib
import inspect

import pytest

#: The modules whose ``__all__`` the API reference documents.
MODULES = ["hybridrec", "hybridrec.components", "hybridrec.evaluation", "hybridrec.datasets",
           "hybridrec.model_selection", "hybridrec.serve", "hybridrec.spark"]


def _public_callables() -> dict[str, object]:
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
                        found.setdefault(f"{value.__module__}.{value.__qualname__}", value)
    return found


def _parameters(obj: object) -> list[str]:
    try:
        return [p for p in inspect.signature(obj).parameters if p not in ("self", "cls")]
    except (TypeError, ValueError):
        return []


def test_every_public_callable_describes_its_parameters():
    callables = _public_callables()
    assert len(callables) > 100  # the reference covers the whole public API
    missing = [name for name, obj in sorted(callables.items())
               if not inspect.getdoc(obj) or (_parameters(obj) and "Parameters\n---" not in inspect.getdoc(obj))]
    assert not missing, f"{len(missing)} public callables lack a numpydoc Parameters section: {missing}"


@pytest.mark.parametrize("name", ["hybridrec.coldstart.ColdStartMixin.add_interactions",
                                  "hybridrec.recommender.HybridRecommender.recommend"])
def test_the_check_sees_the_estimators_methods(name):
    assert name in _public_callables()
