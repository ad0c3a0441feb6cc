"""How HybridRecommender reaches its :class:`~hybridrec.scorer.Scorer`, and the checks its scoring calls share.

Mixed into :class:`~hybridrec.HybridRecommender`: ``scorer_`` is built from the fitted state and
the blend settings in use, and rebuilt whenever one of them changes, so no cache outlives the
state it was computed from. Every scoring entry point resolves its users (``_users``) and calls
the scorer.
"""
from __future__ import annotations

from typing import Any, Hashable, Iterable, Mapping

import numpy as np
import pandas as pd
from sklearn.utils.validation import check_is_fitted

from ._validation import check_fraction
from .blend import call_weights, query_weights
from .catalogue import legacy_catalogue
from .scorer import Scorer, TopItems
from .users import Users, history_users, known_users, query_users

__all__ = ["ScoringMixin", "TopItems"]


class ScoringMixin:
    """The fitted model's scorer, the blend settings in use, and the argument checks of scoring calls."""

    @property
    def cross_domain_weight_(self) -> float:
        """The ``cross_domain_weight`` in use: the parameter, or the value ``"auto"`` chose in fit."""
        return float(self._chosen("cross_domain_weight"))

    @property
    def normalization_(self) -> str:
        """The ``normalization`` in use: the parameter, or the one ``"auto"`` chose in fit."""
        return str(self._chosen("normalization"))

    def _chosen(self, name: str) -> Any:
        """A blend setting's value in use: the parameter, or, for "auto", what fit chose (``auto_report_``)."""
        value = getattr(self, name)
        if value != "auto":
            return value
        check_is_fitted(self, "components_")
        return self.auto_report_[name]

    @property
    def scorer_(self) -> Scorer:
        """The :class:`~hybridrec.scorer.Scorer` of the fitted state and the blend settings in use.

        Built on first use and rebuilt whenever the data, catalogue, components, weights,
        normalisation, column names, ``text_weights``, ``batch_size`` or ``show_progress``
        change (nothing is edited in place, so a change is a new object or value). The caches of
        known users' states pass to the new scorer only when the data and components are the same
        objects. Never copied or saved.
        """
        check_is_fitted(self, "components_")
        settings = (self.catalogue_, dict(self.weights_), repr(self.text_weights), self.normalization_,
                    dict(self.columns_), self.batch_size, bool(self.show_progress))
        cached = self.__dict__.get("_scorer")
        if cached is not None and cached[0] == settings and cached[1].shares_fit(self.data_, self.components_):
            return cached[1]
        caches = (cached[1].states, cached[1].ranker) if cached and cached[1].shares_fit(self.data_, self.components_) \
            else None
        scorer = Scorer(self.data_, self.catalogue_, self.components_, dict(self.weights_),
                        query_weights(self.text_weights, self.components_), self.normalization_, dict(self.columns_),
                        self.batch_size, bool(self.show_progress), caches)
        self.__dict__["_scorer"] = (settings, scorer)
        return scorer

    def __getstate__(self) -> dict:
        state = dict(super().__getstate__())
        state.pop("_scorer", None)  # rebuilt on demand, never saved
        return state

    def __setstate__(self, state: dict) -> None:
        super().__setstate__(legacy_catalogue(state))  # type: ignore[misc]

    def _check_cdw(self, value: float | None, method: str) -> float:
        return self.cross_domain_weight_ if value is None else check_fraction(value, "cross_domain_weight", method)

    def _call_weights(self, weights: Mapping[str, float] | None, method: str) -> dict[str, float] | None:
        return call_weights(weights, list(self.components_), [n for n, _ in self.named_components()], method)

    def _items(self, item_ids: Iterable[Hashable] | None) -> np.ndarray:
        return np.arange(self.data_.n_items) if item_ids is None else self.data_.item_index(list(item_ids))

    def _users(self, user_ids: Any, history: pd.DataFrame | None, texts: Any, method: str) -> Users:
        """Resolve the users of a call: known ids, new users from a history table, or query texts."""
        if history is not None:
            encoder = None if texts is None else self._text_encoder(method)
            return history_users(self.data_, self.columns_, encoder, history, user_ids, texts)
        if texts is not None:
            if user_ids is not None or hasattr(texts, "items"):
                raise ValueError(f"{method}: texts without a history describe queries: pass a list of strings "
                                 "and no user_ids (texts of new users go with history=...).")
            texts = [texts] if isinstance(texts, str) else list(texts)
            return query_users(self.data_, self._text_encoder(method), texts)
        if user_ids is None:
            raise ValueError(f"{method} needs user_ids, history=... (new users) or texts=... (queries).")
        return known_users(self.data_, user_ids, method)
