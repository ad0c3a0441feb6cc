"""The contract every scorer implements, and the two data objects it is given.

A component is fitted once on :class:`TrainingData`. At recommendation time it turns a
:class:`UserBatch` (histories, cross-domain item weights, user-side blocks such as the user's
text) into a user state, and scores that state against a block of items. Every component
therefore folds in new users for free: a user is described by what they did and wrote, never
by a row id the model memorised.

Components declare what they can do instead of being recognised by their name:
``default_weight`` and ``query_weight`` (their blend weights when none are given),
:meth:`Component.modalities` (the item blocks fit needs), :meth:`Component.text_contribution`
(the user's own text in explanations) and ``can_retrieve`` (user and item vectors whose dot
product is the score, for candidate retrieval).
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, ClassVar, Mapping

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import BaseEstimator

from .._frozen import binary
from ..sequences import Sequences
from ._registry import register

#: Name of the block that holds text embeddings, on items and on users.
TEXT = "text"


@dataclass
class TrainingData:
    """What components are fitted on; inner indices throughout.

    Attributes
    ----------
    matrix : csr_matrix of shape (n_users, n_items)
        Interaction weights.
    item_domain : ndarray of int
        Domain code per item.
    item_blocks : dict of str -> ndarray of shape (n_items, dim)
        Named dense item representations: ``"text"`` (L2-normalised text embeddings, zero
        rows for items without text) when a component reads text, plus any block given to
        ``fit(..., item_vectors=...)``.
    user_blocks : dict of str -> ndarray of shape (n_users, dim)
        The same for users (``"text"`` when users have text).
    item_ids, user_ids : pandas.Index or None
        Raw ids in inner order, so a component can align side data of its own.
    sequences : Sequences or None
        Every user's events in order (repeats kept), for components that read order.
    random_state : int or None
        Seed for the component's own randomness.
    show_progress : bool
        Whether to draw progress bars.

    Notes
    -----
    Components never write into ``matrix``: it is the recommender's stored histories, read
    again at scoring time (a fitted model's arrays are read-only). A component that learns from
    0/1 interactions calls :meth:`binary`.
    """

    matrix: sp.csr_matrix
    item_domain: np.ndarray
    item_blocks: Mapping[str, np.ndarray] = field(default_factory=dict)
    user_blocks: Mapping[str, np.ndarray] = field(default_factory=dict)
    item_ids: pd.Index | None = None
    user_ids: pd.Index | None = None
    sequences: Sequences | None = None
    random_state: int | None = None
    show_progress: bool = False
    _binary: sp.csr_matrix | None = field(default=None, init=False, repr=False, compare=False)

    def binary(self) -> sp.csr_matrix:
        """The interactions as 0/1 (a 1 for every (user, item) pair with weight > 0), float32 CSR.

        Built once and shared by the components that ignore weights; read-only.
        """
        if self._binary is None:
            self._binary = binary(self.matrix)
        return self._binary


@dataclass
class UserBatch:
    """Users to score, described by what every component can use.

    Attributes
    ----------
    history : csr_matrix of shape (n_users, n_items)
        Raw interaction weights over the current catalogue.
    item_weights : ndarray of shape (n_items,) or None
        Cross-domain weight of each history item for the target domain (1 for the target
        domain's items, ``cross_domain_weight`` for the others). None means all ones.
    blocks : dict of str -> ndarray of shape (n_users, dim)
        User-side blocks; ``"text"`` holds the users' text embeddings (zero rows for users
        without text).
    sequences : Sequences or None
        The same users' events in order (oldest first, repeats kept), when known.
    """

    history: sp.csr_matrix
    item_weights: np.ndarray | None = None
    blocks: Mapping[str, np.ndarray] = field(default_factory=dict)
    sequences: Sequences | None = None

    def __len__(self) -> int:
        return self.history.shape[0]

    @property
    def text_embeddings(self) -> np.ndarray | None:
        """The users' text embeddings, or None when no user has text."""
        return self.blocks.get(TEXT)

    def text_only(self, history: sp.csr_matrix | None = None) -> np.ndarray:
        """Users with no usable history (rows of ``history``, default this batch's) but a non-empty text.

        Such users are served through text maps by the components, and with the query
        weights by the blend.
        """
        history = self.history if history is None else history
        texts = self.text_embeddings
        if texts is None:
            return np.zeros(history.shape[0], dtype=bool)
        return (np.diff(history.indptr) == 0) & (np.abs(texts).sum(axis=1) > 0)

    def weighted_history(self) -> sp.csr_matrix:
        """History with every column scaled by its cross-domain weight (zeros removed)."""
        if self.item_weights is None:
            return self.history
        weighted = self.history @ sp.diags(self.item_weights.astype(np.float32))
        weighted = sp.csr_matrix(weighted, dtype=np.float32)
        weighted.eliminate_zeros()
        return weighted

    def history_weights(self) -> np.ndarray:
        """Cross-domain weighted value of every stored history entry (aligned with ``history.data``)."""
        if self.item_weights is None:
            return self.history.data.astype(np.float32)
        return (self.history.data * self.item_weights[self.history.indices]).astype(np.float32)

    def mass(self) -> np.ndarray:
        """Total raw history weight per user (before cross-domain weighting), shape (n_users, 1)."""
        return np.asarray(self.history.sum(axis=1), dtype=np.float32)

    def weighted_mean(self, item_matrix: np.ndarray | sp.spmatrix) -> np.ndarray:
        """Cross-domain weighted mean of ``item_matrix`` rows over each user's history.

        A user with history in the target domain gets the weighted mean (so at weight 0 the
        profile is exactly that of their same-domain history). A user with history only in
        other domains gets ``cross_domain_weight`` times the plain mean: the profile shrinks
        towards zero as the weight goes to 0 instead of being rescaled back.
        """
        weighted = self.weighted_history()
        out = weighted @ item_matrix
        out = out.toarray() if sp.issparse(out) else np.asarray(out)
        mass = self.mass()
        if self.item_weights is not None:
            same = np.asarray(self.history @ (self.item_weights >= 1).astype(np.float32)).reshape(-1, 1)
            mass = np.where(same > 0, np.asarray(weighted.sum(axis=1)).reshape(-1, 1), mass)
        return np.divide(out, mass, out=np.zeros_like(out, dtype=np.float32), where=mass > 0).astype(np.float32)


class Component(BaseEstimator):
    """Base class of the scorers blended by :class:`~hybridrec.HybridRecommender`.

    Subclasses set ``name`` (which registers them, see :func:`hybridrec.components.create`)
    and implement :meth:`fit`, :meth:`user_state` and :meth:`score`; they may implement
    :meth:`knows`, :meth:`add_items` / :meth:`remove_items` (new items without refitting),
    :meth:`history_contributions` and :meth:`text_contribution` (explanations), and
    :meth:`user_vectors` / :meth:`item_vectors` (with ``can_retrieve = True``).
    ``HybridRecommender.fit`` records each fitted component's fit time in ``fit_seconds_``.
    """

    #: Registry key; also the component's name in a recommender's default component list.
    name: ClassVar[str]
    #: Blend weight when the recommender is given no ``weights``.
    default_weight: ClassVar[float] = 1.0
    #: Blend weight for users known only by a text (queries) when no ``text_weights`` are given.
    query_weight: ClassVar[float] = 0.0
    #: Whether :meth:`user_vectors` and :meth:`item_vectors` exist (``score`` is their dot product).
    can_retrieve: ClassVar[bool] = False
    #: Fitted attributes with one row per training user (``save(..., include_user_data=False)``
    #: keeps none of their rows). Scoring must not need them: users are scored from histories.
    user_attributes: ClassVar[tuple[str, ...]] = ()
    #: Parameters read at scoring time as well as in fit: ``set_params`` on a fitted recommender
    #: hands them to its fitted component (:meth:`with_params`); the others apply from the next fit.
    scoring_params: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "name" in cls.__dict__:
            register(cls)

    def modalities(self) -> tuple[str, ...]:
        """The item blocks :meth:`fit` needs (``"text"`` makes the recommender encode item texts)."""
        return ()

    def check_params(self) -> None:
        """Validate the parameters; called by fit, and by the recommender before any encoding."""

    def fit(self, data: TrainingData) -> "Component":  # pragma: no cover - interface
        raise NotImplementedError

    def user_state(self, users: UserBatch) -> Any:  # pragma: no cover - interface
        """Whatever :meth:`score` needs about a batch of users (usually an array of vectors)."""
        raise NotImplementedError

    def score(self, state: Any, items: np.ndarray) -> np.ndarray:  # pragma: no cover - interface
        """Raw scores of shape ``(n_users, len(items))`` (float32, finite)."""
        raise NotImplementedError

    def knows(self, items: np.ndarray) -> np.ndarray:
        """Which of ``items`` this component can score (False for items it has no signal for).

        The blend leaves a component out for the items it does not know: their normalised
        score is NaN, and the other components' weights are scaled up to the full total for
        those items (see :func:`hybridrec.blend.blend`).
        """
        return np.ones(len(items), dtype=bool)

    def reads_order(self) -> bool:
        """Whether the component learns from the order of each user's events (default: False).

        Such a component gets no default weight on unordered interactions (see
        :func:`hybridrec.blend.default_weights`).
        """
        return False

    @classmethod
    def edits_items(cls) -> bool:
        """Whether fitted instances can take new items and drop items without refitting.

        True when the class implements :meth:`add_items` and :meth:`remove_items`; the
        recommender refuses an item edit up front, before anything changes, when one of its
        components cannot.
        """
        return cls.add_items is not Component.add_items and cls.remove_items is not Component.remove_items

    def with_params(self, **params: Any) -> "Component":
        """A copy of this fitted component with new values of its ``scoring_params`` (no refit).

        Raises
        ------
        ValueError
            For a parameter that only fit reads (it applies from the next fit), or a bad value.
        """
        fixed = sorted(set(params) - set(self.scoring_params))
        if fixed:
            raise ValueError(f"{type(self).__name__}: {fixed} can only change by refitting; a fitted component "
                             f"takes new values of {list(self.scoring_params)} only.")
        out = copy.copy(self)
        for key, value in params.items():
            setattr(out, key, value)
        out.check_params()
        return out

    def with_items(self, blocks: Mapping[str, np.ndarray], domains: np.ndarray) -> "Component":
        """A copy of this fitted component that also scores ``len(domains)`` appended items.

        ``self`` is left as it was, so a failure (here or in another component) changes nothing.
        """
        out = copy.copy(self)
        out.add_items(blocks, domains)
        return out

    def without_items(self, keep: np.ndarray) -> "Component":
        """A copy of this fitted component without the items where ``keep`` is False; ``self`` is unchanged."""
        out = copy.copy(self)
        out.remove_items(keep)
        return out

    def add_items(self, blocks: Mapping[str, np.ndarray], domains: np.ndarray) -> None:
        """Make ``len(domains)`` appended items scorable from their blocks alone (no refit).

        ``blocks`` maps block names (``"text"``, ...) to one row per new item. Called on a
        shallow copy (:meth:`with_items`): assign new arrays to the fitted attributes, never
        write into the existing ones.
        """
        raise NotImplementedError(f"{type(self).__name__} cannot add items without refitting.")

    def remove_items(self, keep: np.ndarray) -> None:
        """Drop items from the catalogue; ``keep`` is a boolean mask over the current items.

        Called on a shallow copy (:meth:`without_items`), like :meth:`add_items`.
        """
        raise NotImplementedError(f"{type(self).__name__} cannot remove items without refitting.")

    def history_contributions(self, users: UserBatch, item: int) -> np.ndarray:
        """Share of the raw score of ``item`` owed to each history item of a one-user batch.

        Returns an array aligned with ``users.history.indices`` (the user's history items);
        zeros when the component cannot split its score.
        """
        return np.zeros(users.history.nnz, dtype=np.float32)

    def text_contribution(self, users: UserBatch, item: int, reference: np.ndarray) -> float:
        """The user's own text's share of the raw score of ``item`` for a one-user batch.

        Centred like the normalised score: minus the text's mean share over the ``reference``
        items (those the score is normalised over). 0 for components that do not read the
        user's text.
        """
        return 0.0

    def user_vectors(self, state: Any) -> np.ndarray:
        """User vectors ``U`` with ``score(state, items) == U @ item_vectors(items).T`` (``can_retrieve``)."""
        raise NotImplementedError(f"{type(self).__name__} cannot nominate candidates (can_retrieve is False).")

    def item_vectors(self, items: np.ndarray) -> np.ndarray:
        """Item vectors matching :meth:`user_vectors` (``can_retrieve``)."""
        raise NotImplementedError(f"{type(self).__name__} cannot nominate candidates (can_retrieve is False).")
