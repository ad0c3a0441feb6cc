"""Nested parameters of a recommender made of named components, as in a scikit-learn Pipeline.

``set_params(als__factors=128)`` reaches a component, ``set_params(als=ALSComponent(...))``
replaces one, ``encoder__batch_size=32`` reaches the text encoder; names must be unique and
may not contain ``"__"``.
"""
from __future__ import annotations

from typing import Any

from .components import Component, create

#: The components a recommender uses when ``components=None``, in order: registry name -> parameters.
#: The sequence tower reads the order of the events, so its default weight is 0 on unordered
#: interactions (:func:`hybridrec.blend.default_weights`).
DEFAULT_COMPONENTS = {"als": {}, "lightfm": {}, "semantic": {}, "itemknn": {}, "popularity": {},
                      "tower": {"encoder": "sequence"}}


def default_components() -> list[tuple[str, Component]]:
    """The components a recommender uses when ``components=None``: new instances, default parameters."""
    return [(name, create(name, **params)) for name, params in DEFAULT_COMPONENTS.items()]


class ComponentsMixin:
    """get_params / set_params over ``components`` (and ``encoder``), with name checks."""

    components: Any
    encoder: Any

    def named_components(self) -> list[tuple[str, Component]]:
        """The ``(name, component)`` pairs (the defaults when ``components`` is None), names checked."""
        comps = default_components() if self.components is None else list(self.components)
        names = [name for name, _ in comps]
        if len(set(names)) != len(names):
            raise ValueError(f"The 'components' parameter of {type(self).__name__} has duplicate names: {names}.")
        for name, comp in comps:
            if not isinstance(comp, Component):
                raise ValueError(
                    f"The 'components' parameter of {type(self).__name__} must hold (name, Component) pairs. "
                    f"Got {type(comp).__name__} for {name!r}."
                )
            if not isinstance(name, str) or "__" in name:
                raise ValueError(f"Component names must be strings without '__'. Got {name!r}.")
        return comps

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Get parameters for this estimator.

        Parameters
        ----------
        deep : bool, default=True
            If True, will return the parameters for this estimator and contained subobjects that are
            estimators: each component under its name, its parameters as ``<name>__<parameter>``, and
            the encoder's as ``encoder__<parameter>``.

        Returns
        -------
        params : dict
            Parameter names mapped to their values.
        """
        params = super().get_params(deep=False)  # type: ignore[misc]
        if deep:
            if self.encoder is not None and hasattr(self.encoder, "get_params"):
                params.update({f"encoder__{k}": v for k, v in self.encoder.get_params().items()})
            if self.components is not None:
                for name, comp in self.components:
                    params[name] = comp
                    params.update({f"{name}__{k}": v for k, v in comp.get_params().items()})
        return params

    def set_params(self, **params: Any) -> Any:
        """Set the parameters of this estimator.

        Works on nested objects as in a scikit-learn Pipeline: ``<name>__<parameter>`` reaches a
        component, ``<name>=Component(...)`` replaces one and ``encoder__<parameter>`` reaches the text
        encoder. On a fitted model a component's ``scoring_params`` apply at once (to a copy, see
        :meth:`Component.with_params`); other parameters apply from the next ``fit``.

        Parameters
        ----------
        **params : dict
            Estimator parameters.

        Returns
        -------
        self : estimator instance
            Estimator instance.
        """
        if "components" in params:
            self.components = params.pop("components")
        nested: dict[str, dict[str, Any]] = {}
        for key, value in params.items():
            head, sep, tail = key.partition("__")
            if sep:
                nested.setdefault(head, {})[tail] = value
            elif key in self._get_param_names():  # type: ignore[attr-defined]
                setattr(self, key, value)
            else:
                self._replace_component(key, value)
        planned = self._fitted_with(nested)  # checked before anything changes
        for head, sub in nested.items():
            if head == "encoder":
                if self.encoder is None:
                    from .text import TextEncoder

                    self.encoder = TextEncoder()
                self.encoder.set_params(**sub)
            else:
                self._component(head).set_params(**sub)
        if planned is not None:
            self.components_ = planned
        return self

    def _fitted_with(self, nested: dict[str, dict[str, Any]]) -> dict[str, Component] | None:
        """On a fitted model, the fitted components with the scoring-time parameters in ``nested``; None if unchanged.

        Each changed component is replaced by a copy, in a new ``components_`` dict, so nothing
        computed with the old values (cached user states, item moments) is served again. Other
        parameters apply from the next ``fit``, as in scikit-learn.
        """
        fitted = self.__dict__.get("components_")
        if not fitted:
            return None
        updated = dict(fitted)
        for head, sub in nested.items():
            comp = fitted.get(head)
            live = {key: value for key, value in sub.items() if comp is not None and key in comp.scoring_params}
            if live:
                updated[head] = comp.with_params(**live)
        return updated if any(updated[name] is not fitted[name] for name in fitted) else None

    def _component(self, name: str) -> Component:
        if self.components is None:
            self.components = default_components()
        for comp_name, comp in self.components:
            if comp_name == name:
                return comp
        raise ValueError(
            f"Invalid parameter {name!r} for {type(self).__name__}. Valid parameters are "
            f"{self._get_param_names()} and the component names {[n for n, _ in self.components]}."  # type: ignore[attr-defined]
        )

    def _replace_component(self, name: str, value: Component) -> None:
        self._component(name)  # raises for unknown names
        self.components = [(n, value if n == name else c) for n, c in self.components]
