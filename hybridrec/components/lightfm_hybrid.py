"""Hybrid component: LightFM with side features from the item blocks (text and any other).

Item features are an identity feature per item plus every item block (the text embedding and
any block given to ``fit(..., item_vectors=...)``), each PCA-compressed and weighted
(:class:`~hybridrec.features.BlockCompressor`), so an item added later is scored from its
blocks alone. Users carry no identity feature: a user is the mean of "has interacted with item h"
features over their history, plus their compressed text when users have text. Any user, seen
or new, can therefore be built from features without refitting, and the cross-domain weight
scales the history features directly. A user known only by a text (a query) uses the text
features when users had text in training, and otherwise a ridge map from text profile to user
representation learned on the training users.
"""
from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Mapping

import numpy as np
import scipy.sparse as sp
from tqdm import tqdm

from .._validation import check_choice, check_non_negative, check_positive_int
from ..features import BlockCompressor, BlockQuantizer, row_normalise, stack_features
from .base import TEXT, Component, TrainingData, UserBatch
from .catalogue import CatalogueMap
from .textmaps import apply_ridge, fit_text_state_map, text_profiles, unit_rows

if TYPE_CHECKING:
    from lightfm import LightFM

logger = logging.getLogger(__name__)


class LightFMComponent(Component):
    """LightFM with identity + compressed-block item features and history-bag user features.

    Parameters
    ----------
    no_components : int, default=64
        Latent dimensions.
    loss : {"warp", "bpr", "logistic", "warp-kos"}, default="warp"
        LightFM loss.
    epochs : int, default=20
        Training epochs.
    learning_rate : float, default=0.05
    item_alpha, user_alpha : float, default=1e-6
        L2 penalties on item and user feature embeddings.
    max_sampled : int, default=10
        WARP's negative samples per positive.
    text_components : int, default=32
        PCA dimensions of each block (capped by the block's own dimension): the features
        themselves with ``text_features="pca"``, the space the text codes are found in with
        ``"codes"``; 0 disables side features (identity features only).
    text_features : {"codes", "pca"}, default="codes"
        How a block becomes item features. ``"codes"``: three cluster features per item, coarse
        to fine (k-means with 16, 128 and 1,024 clusters; :class:`~hybridrec.features.BlockQuantizer`).
        ``"pca"``: the ``text_components`` PCA dimensions as dense features. LightFM's cost per
        update grows with the features per item (1 + 3 against 1 + 32). On Amazon Food-Kitchen
        validation users (LightFM alone, 10 epochs; ``python benchmarks/lightfm_text.py --speed``,
        ``results/lightfm_speed.md``), codes with ``max_history=8`` took 2.16 s per epoch against
        8.65 s for PCA with 32, and scored NDCG@10 0.0550 against 0.0546 on CD-cold, 0.0331
        against 0.0279 on warm next-item, and 0.0079 against 0.0128 on cold kitchen items ranked
        among themselves (the one loss).
    max_history : int or None, default=8
        History features sampled per user and epoch while training (all of them with ``None``);
        the user's whole history is used when scoring. Each sampled feature costs every update
        of that user: 8 against 32 cut the epoch from 2.60 s to 2.16 s with codes, with no
        validation loss in the same run.
    text_weight : float, default=0.1
        Length of the text block's feature row next to the identity feature (weight 1) of items
        that had interactions. Measured on Amazon Food-Kitchen validation users (LightFM, 10
        epochs, NDCG@10, with 32 PCA features and ``max_history=32``, the defaults before the
        text codes; ``text_weight`` and ``cold_text_weight`` were not re-tuned for the codes):
        at 1 the text features hurt CD-cold food -> kitchen (0.0348 against 0.0521 without
        text); at 0.1 they do not.
    block_weights : dict of str -> float or None, default=None
        The item blocks used as side features and the length of each one's feature row.
        ``None``: every block given to fit, text at ``text_weight`` and the others at 1.
    whiten : bool, default=False
        Whiten each block's principal components (unit variance) before its rows are scaled.
    cold_text_weight : float, default=0.3
        Length of the text row of items nobody interacted with (cold at fit, or added later),
        which have no identity feature; their other blocks scale alike. Larger puts new items
        higher among warm ones, and the held-out-kitchen items of CD-cold too. With the
        earlier PCA defaults (``python benchmarks/lightfm_text.py --quick``, ``results/lightfm_text.md``):
        CD-cold 0.0546, warm next-item 0.0279, cold kitchen items ranked among themselves
        0.0128; without text 0.0521, 0.0227 and 0.0005; text at 1 everywhere 0.0313, 0.0322
        and 0.0177. An earlier run of the same settings, where the defaults gave CD-cold
        0.0517, gave 0.0540 at ``cold_text_weight=0.1`` and 0.0390 at 1.

    Attributes
    ----------
    epoch_seconds_ : list of float
        Wall time of each training epoch (also logged at INFO).
    """

    name = "lightfm"
    default_weight = 0.5
    can_retrieve = True

    def modalities(self) -> tuple[str, ...]:
        """The blocks fit needs: none without side features, else text (or the named blocks)."""
        if not self.text_components:
            return ()
        return (TEXT,) if self.block_weights is None else tuple(self.block_weights)

    def __init__(
        self,
        no_components: int = 64,
        loss: str = "warp",
        epochs: int = 20,
        learning_rate: float = 0.05,
        item_alpha: float = 1e-6,
        user_alpha: float = 1e-6,
        max_sampled: int = 10,
        text_components: int = 32,
        text_weight: float = 0.1,
        max_history: int | None = 8,
        random_state: int | None = None,
        num_threads: int = 1,
        block_weights: Mapping[str, float] | None = None,
        whiten: bool = False,
        cold_text_weight: float = 0.3,
        text_features: str = "codes",
    ) -> None:
        self.no_components = no_components
        self.loss = loss
        self.epochs = epochs
        self.learning_rate = learning_rate
        self.item_alpha = item_alpha
        self.user_alpha = user_alpha
        self.max_sampled = max_sampled
        self.text_components = text_components
        self.text_weight = text_weight
        self.max_history = max_history
        self.random_state = random_state
        self.num_threads = num_threads
        self.block_weights = block_weights
        self.whiten = whiten
        self.cold_text_weight = cold_text_weight
        self.text_features = text_features

    def check_params(self) -> None:
        where = "LightFMComponent"
        check_positive_int(self.no_components, "no_components", where)
        check_positive_int(self.epochs, "epochs", where)
        check_positive_int(self.max_sampled, "max_sampled", where)
        check_positive_int(self.num_threads, "num_threads", where)
        if self.max_history is not None:
            check_positive_int(self.max_history, "max_history", where)
        check_choice(self.loss, "loss", ["warp", "bpr", "logistic", "warp-kos"], where)
        check_choice(self.text_features, "text_features", ["pca", "codes"], where)
        for name in ("learning_rate", "item_alpha", "user_alpha", "text_weight", "cold_text_weight"):
            check_non_negative(getattr(self, name), name, where)
        if self.text_components != 0:
            check_positive_int(self.text_components, "text_components", where)
        if self.block_weights is not None:
            if not isinstance(self.block_weights, Mapping):
                raise ValueError(f"The 'block_weights' parameter of {where} must be a dict of block name -> "
                                 f"weight or None. Got {self.block_weights!r} instead.")
            for name, value in self.block_weights.items():
                check_non_negative(value, f"block_weights[{name!r}]", where)

    def _feature_blocks(self, data: TrainingData) -> dict[str, float]:
        """Block name -> row length of the blocks turned into side features."""
        if not self.text_components:
            return {}
        if self.block_weights is None:
            wanted = {name: (float(self.text_weight) if name == TEXT else 1.0) for name in data.item_blocks}
        else:
            missing = sorted(set(self.block_weights) - set(data.item_blocks))
            if missing:
                raise ValueError(f"LightFMComponent: block_weights names item blocks {missing} that fit was not "
                                 f"given. Blocks given: {sorted(data.item_blocks)}.")
            wanted = {name: float(w) for name, w in self.block_weights.items()}
        return {name: w for name, w in wanted.items() if w > 0}

    def _compressor(self, weight: float, seed: int | None) -> BlockCompressor | BlockQuantizer:
        if self.text_features == "codes":
            return BlockQuantizer(weight=weight, random_state=seed, n_components=self.text_components)
        return BlockCompressor(self.text_components, weight, seed, bool(self.whiten))

    def _cold_scale(self) -> float:
        """Factor on the block rows of items without interactions: their text row gets ``cold_text_weight``."""
        text = float(self.text_weight) if self.block_weights is None else float(self.block_weights.get(TEXT, 0.0))
        return float(self.cold_text_weight) / text if text > 0 else 1.0

    def training_inputs(self, data: TrainingData) -> dict:
        """Fit the block compressors and build what LightFM trains on (no training).

        Sets ``compressors_``; the matrices are those a raw LightFM fit of the same model would take.

        Parameters
        ----------
        data : TrainingData
            The training data, as given to :meth:`fit`.

        Returns
        -------
        dict
            ``interactions`` (binary COO), ``sample_weight`` (the weights as COO, None for the
            ``warp-kos`` loss), ``item_features`` (CSR) and ``user_text`` (compressed user-text
            rows or None).
        """
        seed = self.random_state if self.random_state is not None else data.random_state
        self.compressors_ = {name: self._compressor(weight, seed).fit(data.item_blocks[name])
                             for name, weight in self._feature_blocks(data).items()}
        side = [comp.transform(data.item_blocks[name]) for name, comp in self.compressors_.items()]
        cold = np.diff(data.matrix.tocsc().indptr) == 0
        for block in side:
            block[cold] *= self._cold_scale()
        user_text = None
        users = data.user_blocks.get(TEXT)
        if TEXT in self.compressors_ and users is not None and np.abs(users).sum() > 0:
            user_text = self.compressors_[TEXT].transform(users)
        # Items nobody interacted with get no identity feature: an untrained (or negatively
        # sampled) identity embedding would only add noise; their block features carry them.
        interacted = (~cold).astype(np.float32)
        if not side:
            interacted[:] = 1.0
        identity = sp.diags(interacted, format="csr", dtype=np.float32)
        # LightFM's Cython writes through its buffers and the training data is read-only: copies
        binary = data.binary().tocoo(copy=True)
        weights = data.matrix.tocoo(copy=True)
        return {"interactions": binary, "item_features": stack_features(identity, *side), "user_text": user_text,
                "sample_weight": None if self.loss == "warp-kos" else weights}

    def lightfm_model(self, seed: int | None) -> "LightFM":
        """The untrained ``lightfm.LightFM`` with this component's parameters.

        Parameters
        ----------
        seed : int or None
            Its ``random_state``.

        Returns
        -------
        lightfm.LightFM
        """
        from lightfm import LightFM

        return LightFM(no_components=self.no_components, loss=self.loss, learning_rate=self.learning_rate,
                       item_alpha=self.item_alpha, user_alpha=self.user_alpha, max_sampled=self.max_sampled,
                       random_state=seed)

    def fit(self, data: TrainingData) -> "LightFMComponent":
        self.check_params()
        seed = self.random_state if self.random_state is not None else data.random_state
        n_users, n_items = data.matrix.shape
        rng = np.random.default_rng(seed)
        inputs = self.training_inputs(data)
        binary, weights, item_features = inputs["interactions"], inputs["sample_weight"], inputs["item_features"]
        user_text = inputs["user_text"]
        model = self.lightfm_model(seed)
        fixed = None if self.max_history else stack_features(row_normalise(data.matrix), user_text)
        self.epoch_seconds_ = []
        for epoch in tqdm(range(self.epochs), desc="LightFM", unit="epoch", disable=not data.show_progress):
            start = time.perf_counter()
            user_features = fixed
            if user_features is None:
                user_features = stack_features(row_normalise(sample_rows(data.matrix, self.max_history, rng)), user_text)
            model.fit_partial(binary, user_features=user_features, item_features=item_features,
                              sample_weight=weights, epochs=1, num_threads=self.num_threads)
            self.epoch_seconds_.append(time.perf_counter() - start)
            logger.info("LightFM epoch %d/%d: %.1fs", epoch + 1, self.epochs, self.epoch_seconds_[-1])
        self.model_ = model
        self.item_biases_, self.item_vectors_ = model.get_item_representations(item_features)
        self.item_biases_ = np.asarray(self.item_biases_, dtype=np.float32)
        self.item_vectors_ = np.asarray(self.item_vectors_, dtype=np.float32)
        self.user_text_ = user_text is not None
        self.catalogue_ = CatalogueMap(n_items)
        self.user_text_map_ = None
        text = data.item_blocks.get(TEXT)
        if text is not None and not self.user_text_:
            states = row_normalise(data.matrix) @ self._user_table()
            profiles = text_profiles(data.matrix, text)
            self.user_text_map_ = fit_text_state_map(profiles, states, alpha=10.0)
        return self

    def _user_table(self) -> np.ndarray:
        """History-feature embeddings with the bias as a last column, shape (n_trained, k + 1)."""
        n = self.catalogue_.n_trained
        return np.hstack([self.model_.user_embeddings[:n], self.model_.user_biases[:n, None]])

    # ------------------------------------------------------------------ users
    def _text_rows(self, users: UserBatch) -> np.ndarray | None:
        if not self.user_text_ or users.text_embeddings is None:
            return None
        return self.compressors_[TEXT].transform(users.text_embeddings)

    def user_state(self, users: UserBatch) -> tuple[np.ndarray, np.ndarray]:
        n_trained = self.catalogue_.n_trained
        trained = UserBatch(
            self.catalogue_.to_trained(users.history),
            None if users.item_weights is None else self.catalogue_.trained_weights(users.item_weights),
        )
        bag = trained.weighted_mean(self._user_table())
        text = self._text_rows(users)
        if text is not None:
            extra = np.hstack([self.model_.user_embeddings[n_trained:], self.model_.user_biases[n_trained:, None]])
            bag += text @ extra
        elif self.user_text_map_ is not None:
            text_only = users.text_only(trained.history)
            if text_only.any():
                bag[text_only] = apply_ridge(self.user_text_map_, unit_rows(users.text_embeddings[text_only]))
        return bag[:, :-1], bag[:, -1]

    def score(self, state: tuple[np.ndarray, np.ndarray], items: np.ndarray) -> np.ndarray:
        vectors, bias = state
        return vectors @ self.item_vectors_[items].T + self.item_biases_[items] + bias[:, None]

    def user_vectors(self, state: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        """``[vector, 1, bias]``: with :meth:`item_vectors` ``[vector, bias, 1]`` the dot product is the score.

        Parameters and return value as in :meth:`~hybridrec.components.Component.user_vectors`, with
        ``no_components + 2`` columns.
        """
        vectors, bias = state
        return np.hstack([vectors, np.ones((len(bias), 1), np.float32), bias[:, None]]).astype(np.float32)

    def item_vectors(self, items: np.ndarray) -> np.ndarray:
        ones = np.ones((len(items), 1), np.float32)
        return np.hstack([self.item_vectors_[items], self.item_biases_[items, None], ones]).astype(np.float32)

    # ------------------------------------------------------------------ items
    def add_items(self, blocks: Mapping[str, np.ndarray], domains: np.ndarray) -> None:
        n_trained, n_new = self.catalogue_.n_trained, len(domains)
        if not self.compressors_:
            vectors = np.zeros((n_new, self.item_vectors_.shape[1]), dtype=np.float32)
            biases = np.zeros(n_new, dtype=np.float32)
        else:
            features = self._cold_scale() * np.hstack([
                comp.transform(blocks[name]) if name in blocks else np.zeros((n_new, comp.dim), np.float32)
                for name, comp in self.compressors_.items()
            ])
            vectors = features @ self.model_.item_embeddings[n_trained:]
            biases = features @ self.model_.item_biases[n_trained:]
        self.item_vectors_ = np.vstack([self.item_vectors_, vectors.astype(np.float32)])
        self.item_biases_ = np.concatenate([self.item_biases_, biases.astype(np.float32)])
        self.catalogue_ = self.catalogue_.added(n_new)

    def remove_items(self, keep: np.ndarray) -> None:
        self.item_vectors_ = self.item_vectors_[keep]
        self.item_biases_ = self.item_biases_[keep]
        self.catalogue_ = self.catalogue_.kept(keep)

    def history_contributions(self, users: UserBatch, item: int) -> np.ndarray:
        """Each history feature's share of the interaction term ``user . item`` (biases excluded).

        Parameters and return value as in
        :meth:`~hybridrec.components.Component.history_contributions`. Zeros for history items fit did
        not train on.
        """
        n_trained = self.catalogue_.n_trained
        trained = self.catalogue_.trained_index[users.history.indices]
        weights = users.history_weights()
        mass = float(users.history.data.sum()) or 1.0
        out = np.zeros(len(trained), dtype=np.float32)
        live = trained >= 0
        per_feature = self.model_.user_embeddings[:n_trained][trained[live]] @ self.item_vectors_[item]
        out[live] = weights[live] / mass * per_feature
        return out


def sample_rows(matrix: sp.csr_matrix, cap: int, rng: np.random.Generator) -> sp.csr_matrix:
    """Keep a random subset of at most ``cap`` stored entries in every row (vectorised)."""
    counts = np.diff(matrix.indptr)
    if counts.max(initial=0) <= cap:
        return matrix
    rows = np.repeat(np.arange(matrix.shape[0]), counts)
    # Rank the entries of each row by a random key; keep the ``cap`` lowest ranks.
    order = np.lexsort((rng.random(matrix.nnz), rows))
    rank = np.empty(matrix.nnz, dtype=np.int64)
    rank[order] = np.arange(matrix.nnz) - np.repeat(matrix.indptr[:-1], counts)
    keep = rank < cap
    return sp.csr_matrix((matrix.data[keep], (rows[keep], matrix.indices[keep])), shape=matrix.shape)
