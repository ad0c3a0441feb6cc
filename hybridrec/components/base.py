"""The contract every scorer implements (the two data objects it is given are in :mod:`~hybridrec.components.inputs`).

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
from typing import Any, ClassVar, Mapping

import numpy as np
from sklearn.base import BaseEstimator

from ._registry import register
from .inputs import TEXT, TrainingData, UserBatch

__all__ = ["TEXT", "Component", "TrainingData", "UserBatch"]


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
        """The item blocks :meth:`fit` needs (``"text"`` makes the recommender encode item texts).

        Returns
        -------
        tuple of str
            Block names; empty for a component that reads behaviour only.
        """
        return ()

    def check_params(self) -> None:
        """Validate the parameters; called by fit, and by the recommender before any encoding."""

    def fit(self, data: TrainingData) -> "Component":  # pragma: no cover - interface
        """Learn from the training data; the recommender calls it once per fit.

        Parameters
        ----------
        data : TrainingData
            The read-only interaction matrix, item domains, blocks and (when ordered) sequences.
            A component that needs a binary matrix calls ``data.binary()``; nothing may write
            into ``data``.

        Returns
        -------
        self
        """
        raise NotImplementedError

    def user_state(self, users: UserBatch) -> Any:  # pragma: no cover - interface
        """Whatever :meth:`score` needs about a batch of users (usually an array of vectors).

        Parameters
        ----------
        users : UserBatch
            The users' histories (with the cross-domain item weights of the domain being
            ranked), their own text blocks, and whether each is known only by a text.

        Returns
        -------
        object
            Passed unchanged to :meth:`score`; known users' states may be cached by the scorer
            when they are arrays with one row per user.
        """
        raise NotImplementedError

    def score(self, state: Any, items: np.ndarray) -> np.ndarray:  # pragma: no cover - interface
        """Raw scores of a batch of users for some items.

        Parameters
        ----------
        state : object
            What :meth:`user_state` returned for the batch.
        items : ndarray of int
            Inner item ids (rows of the fitted catalogue).

        Returns
        -------
        ndarray of shape (n_users, len(items))
            Float32 and finite; the recommender normalises them per user before blending.
        """
        raise NotImplementedError

    def knows(self, items: np.ndarray) -> np.ndarray:
        """Which of ``items`` this component can score (False for items it has no signal for).

        The blend leaves a component out for the items it does not know: their normalised
        score is NaN, and the other components' weights are scaled up to the full total for
        those items (see :func:`hybridrec.blend.blend`).

        Parameters
        ----------
        items : ndarray of int
            Inner item ids.

        Returns
        -------
        ndarray of bool, shape (len(items),)
        """
        return np.ones(len(items), dtype=bool)

    def reads_order(self) -> bool:
        """Whether the component learns from the order of each user's events (default: False).

        Such a component gets no default weight on unordered interactions (see
        :func:`hybridrec.blend.default_weights`).

        Returns
        -------
        bool
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

        Parameters
        ----------
        **params
            New values, by parameter name.

        Returns
        -------
        Component
            The copy; ``self`` is unchanged.

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

        Parameters
        ----------
        blocks : dict of str -> ndarray
            One row per new item for each block the component reads.
        domains : ndarray of int
            The new items' domain codes.

        Returns
        -------
        Component
        """
        out = copy.copy(self)
        out.add_items(blocks, domains)
        return out

    def without_items(self, keep: np.ndarray) -> "Component":
        """A copy of this fitted component without the items where ``keep`` is False; ``self`` is unchanged.

        Parameters
        ----------
        keep : ndarray of bool, shape (n_items,)
            Over the current items.

        Returns
        -------
        Component
        """
        out = copy.copy(self)
        out.remove_items(keep)
        return out

    def add_items(self, blocks: Mapping[str, np.ndarray], domains: np.ndarray) -> None:
        """Make ``len(domains)`` appended items scorable from their blocks alone (no refit).

        ``blocks`` maps block names (``"text"``, ...) to one row per new item. Called on a
        shallow copy (:meth:`with_items`): assign new arrays to the fitted attributes, never
        write into the existing ones.

        Parameters
        ----------
        blocks : dict of str -> ndarray
            One row per new item for each block.
        domains : ndarray of int
            The new items' domain codes.
        """
        raise NotImplementedError(f"{type(self).__name__} cannot add items without refitting.")

    def remove_items(self, keep: np.ndarray) -> None:
        """Drop items from the catalogue; ``keep`` is a boolean mask over the current items.

        Called on a shallow copy (:meth:`without_items`), like :meth:`add_items`.

        Parameters
        ----------
        keep : ndarray of bool, shape (n_items,)
        """
        raise NotImplementedError(f"{type(self).__name__} cannot remove items without refitting.")

    def history_contributions(self, users: UserBatch, item: int) -> np.ndarray:
        """Share of the raw score of ``item`` owed to each history item of a one-user batch.

        Parameters
        ----------
        users : UserBatch
            One user.
        item : int
            The inner id of the item explained.

        Returns
        -------
        ndarray of float32
            Aligned with ``users.history.indices`` (the user's history items); zeros when the
            component cannot split its score.
        """
        return np.zeros(users.history.nnz, dtype=np.float32)

    def text_contribution(self, users: UserBatch, item: int, reference: np.ndarray) -> float:
        """The user's own text's share of the raw score of ``item`` for a one-user batch.

        Centred like the normalised score: minus the text's mean share over the ``reference``
        items (those the score is normalised over). 0 for components that do not read the
        user's text.

        Parameters
        ----------
        users : UserBatch
            One user.
        item : int
            The inner id of the item explained.
        reference : ndarray of int
            The items the score is normalised over.

        Returns
        -------
        float
        """
        return 0.0

    def user_vectors(self, state: Any) -> np.ndarray:
        """User vectors ``U`` with ``score(state, items) == U @ item_vectors(items).T`` (``can_retrieve``).

        Parameters
        ----------
        state : object
            What :meth:`user_state` returned.

        Returns
        -------
        ndarray of shape (n_users, dim)
        """
        raise NotImplementedError(f"{type(self).__name__} cannot nominate candidates (can_retrieve is False).")

    def item_vectors(self, items: np.ndarray) -> np.ndarray:
        """Item vectors matching :meth:`user_vectors` (``can_retrieve``).

        Parameters
        ----------
        items : ndarray of int
            Inner item ids.

        Returns
        -------
        ndarray of shape (len(items), dim)
        """
        raise NotImplementedError(f"{type(self).__name__} cannot nominate candidates (can_retrieve is False).")
