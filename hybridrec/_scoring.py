"""HybridRecommender's scoring calls: component_scores, score_items, predict, reweight, and its scorer.

Mixed into :class:`~hybridrec.HybridRecommender`: ``scorer_`` is built from the fitted state and
the blend settings in use, and rebuilt whenever one of them changes, so no cache outlives the
state it was computed from. Every scoring entry point resolves its users (``_users``) and calls
the scorer.
"""
from __future__ import annotations

from typing import Any, Hashable, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
from sklearn.utils.validation import check_is_fitted

from ._validation import check_choice, require_frame
from .blend import NORMALIZATIONS, query_weights
from .catalogue import legacy_catalogue
from .scorer import Scorer, TopItems
from .users import Users, history_users, known_users, query_users

__all__ = ["ScoringMixin", "TopItems"]


class ScoringMixin:
    """Scores of known users, the blend settings in use, the fitted model's scorer and the checks of scoring calls."""

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

        Built on first use and rebuilt whenever the data (its catalogue included), components,
        weights, normalisation, cross-domain weight, declared components, column names,
        ``text_weights``, ``batch_size`` or ``show_progress`` change (nothing is edited in place,
        so a change is a new object or value). The caches of known users' states pass to the new
        scorer only when the data and components are the same objects. Never copied or saved.
        """
        check_is_fitted(self, "components_")
        declared = [name for name, _ in self.named_components()]
        settings = (dict(self.weights_), repr(self.text_weights), self.normalization_, self.cross_domain_weight_,
                    declared, dict(self.columns_), self.batch_size, bool(self.show_progress))
        cached = self.__dict__.get("_scorer")
        if cached is not None and cached[0] == settings and cached[1].shares_fit(self.data_, self.components_):
            return cached[1]
        caches = (cached[1].states, cached[1].ranker) if cached and cached[1].shares_fit(self.data_, self.components_) \
            else None
        scorer = Scorer(self.data_, self.components_, dict(self.weights_),
                        query_weights(self.text_weights, self.components_), self.normalization_, dict(self.columns_),
                        self.batch_size, bool(self.show_progress), self.cross_domain_weight_, declared, caches)
        self.__dict__["_scorer"] = (settings, scorer)
        return scorer

    def component_scores(
        self,
        user_ids: Iterable[Hashable] | None = None,
        *,
        history: pd.DataFrame | None = None,
        texts: Mapping[Hashable, Any] | Sequence[str] | None = None,
        item_ids: Iterable[Hashable] | None = None,
        cross_domain_weight: float | None = None,
        normalization: str | None = None,
        components: Iterable[str] | None = None,
    ) -> dict[str, np.ndarray]:
        """Every fitted component's normalised scores of users x items: the blend's inputs.

        ``blend.blend(model.component_scores(...), model.weights_)`` equals
        :meth:`score_items` for users with a history. Each item is scored as it ranks in its own
        domain (the profile for that domain, normalised over the domain's items).

        Parameters
        ----------
        user_ids : iterable of user ids, optional
            Known users; with ``history``, the new users' order (default: order of appearance).
        history : DataFrame, optional
            Interactions of new users (columns as in fit), scored without refitting.
        texts : mapping of user id -> text, or list of str, optional
            With ``history``: the new users' own texts. Alone: query texts, one user each.
        item_ids : iterable of item ids, optional
            Defaults to the whole catalogue in inner order (``data_.item_ids``).
        cross_domain_weight : float in [0, 1], optional
            Overrides the fitted value.
        normalization : {"zscore", "minmax", "none"}, optional
            Overrides the fitted value.
        components : iterable of str, optional
            Score only these fitted components.

        Returns
        -------
        dict of str -> ndarray of shape (n_users, n_items)
            Float32; NaN where the component has no signal for the item (the blend defers).
        """
        check_is_fitted(self, "components_")
        weight = self.scorer_.call_cross_domain_weight(cross_domain_weight, "component_scores")
        if normalization is not None:
            check_choice(normalization, "normalization", NORMALIZATIONS, "component_scores")
        names = list(self.components_) if components is None else list(components)
        unknown = [n for n in names if n not in self.components_]
        if unknown:
            raise ValueError(f"The 'components' parameter of component_scores names {unknown}, which are not "
                             f"fitted. Fitted components: {list(self.components_)}.")
        users = self._users(user_ids, history, texts, "component_scores")
        return self.scorer_.parts(users, self.scorer_.positions(item_ids), weight, names, normalization)

    def reweight(self, weights: Mapping[str, float]) -> "ScoringMixin":
        """Change the blend weights of a fitted model, without refitting anything.

        Only fitted components (weight > 0 at fit time) can be weighted; components not named
        get weight 0. Sets both the ``weights`` parameter and ``weights_``.

        Parameters
        ----------
        weights : dict of str -> float
            Blend weight per component name (fitted components only).

        Returns
        -------
        self
        """
        check_is_fitted(self, "components_")
        self.weights_ = self.scorer_.call_weights(weights, "reweight")
        self.weights = dict(self.weights_)
        return self

    def score_items(
        self,
        user_ids: Iterable[Hashable],
        item_ids: Iterable[Hashable] | None = None,
        cross_domain_weight: float | None = None,
    ) -> np.ndarray:
        """Blended scores of users x items as a dense array (seen items are not masked).

        Each item is scored as it ranks in its own domain (the profile for that domain,
        normalised over the domain's items), so a score does not depend on which other items
        were asked for, and equals the score ``recommend(..., domain=that domain)`` reports.

        Parameters
        ----------
        user_ids : iterable of user ids
        item_ids : iterable of item ids, optional
            Defaults to the whole catalogue in inner order (``data_.item_ids``).
        cross_domain_weight : float in [0, 1], optional
            Overrides the fitted value.

        Returns
        -------
        ndarray of shape (n_users, n_items)
        """
        check_is_fitted(self, "components_")
        weight = self.scorer_.call_cross_domain_weight(cross_domain_weight, "score_items")
        users = known_users(self.data_, user_ids, "score_items")
        return self.scorer_.scores(users, self.scorer_.positions(item_ids), weight)

    def predict(self, pairs: pd.DataFrame, cross_domain_weight: float | None = None) -> np.ndarray:
        """One blended score per (user, item) row of ``pairs`` (as :meth:`score_items` scores it).

        Parameters
        ----------
        pairs : DataFrame
            Columns named as in fit (``user_id`` and ``item_id`` by default).
        cross_domain_weight : float in [0, 1], optional
            Overrides the fitted value.

        Returns
        -------
        ndarray of shape (len(pairs),)
        """
        check_is_fitted(self, "components_")
        pairs = require_frame(pairs, "pairs")
        ucol, icol = self.columns_["user"], self.columns_["item"]
        for column in (ucol, icol):
            if column not in pairs.columns:
                raise ValueError(f"pairs has no column {column!r}. Its columns are {list(pairs.columns)}.")
        weight = self.scorer_.call_cross_domain_weight(cross_domain_weight, "predict")
        users = known_users(self.data_, list(pairs[ucol]), "predict")
        items = self.data_.item_index(list(pairs[icol]))
        return self.scorer_.pair_scores(users, items, weight)

    def __getstate__(self) -> dict:
        state = dict(super().__getstate__())
        state.pop("_scorer", None)  # rebuilt on demand, never saved
        return state

    def __setstate__(self, state: dict) -> None:
        super().__setstate__(legacy_catalogue(state))  # type: ignore[misc]

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
