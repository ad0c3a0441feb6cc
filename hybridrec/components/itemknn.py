"""Item-kNN component: co-occurrence neighbours, including across domains."""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from .._validation import check_positive_int
from .base import CatalogueMap, Component, TrainingData, UserBatch


class ItemKNNComponent(Component):
    """Cosine item-item neighbours (as implicit's ``CosineRecommender``) scored over the history.

    ``score(u, j) = sum_h w_h * sim(h, j)`` where ``w_h`` is the cross-domain weighted
    history. Users active in several domains make food items neighbours of kitchen items, which
    is the co-occurrence signal that carries a user's history from one domain into another.

    Parameters
    ----------
    k : int, default=100
        Neighbours kept per item.
    num_threads : int, default=0
        implicit's threads (0 = all cores).
    """

    name = "itemknn"

    def __init__(self, k: int = 100, num_threads: int = 0) -> None:
        self.k = k
        self.num_threads = num_threads

    def fit(self, data: TrainingData) -> "ItemKNNComponent":
        from implicit.nearest_neighbours import ItemItemRecommender, normalize

        k = check_positive_int(self.k, "k", "ItemKNNComponent")
        with threadpool_limits(1, "blas"):
            # Cosine similarity is the dot product of item columns scaled to unit length
            # (what CosineRecommender does, handed over as CSR so implicit need not convert).
            unit = sp.csr_matrix(normalize(sp.csr_matrix(data.matrix, dtype=np.float64).T).T)
            model = ItemItemRecommender(K=k + 1, num_threads=self.num_threads)
            model.fit(unit, show_progress=data.show_progress)
        similarity = sp.csr_matrix(model.similarity, dtype=np.float32)
        similarity.setdiag(0)
        similarity.eliminate_zeros()
        self.similarity_ = similarity.tocsc()
        self.catalogue_ = CatalogueMap(data.matrix.shape[1])
        return self

    def user_state(self, users: UserBatch) -> sp.csr_matrix:
        return self.catalogue_.to_trained(users.weighted_history())

    def score(self, state: sp.csr_matrix, items: np.ndarray) -> np.ndarray:
        trained = self.catalogue_.trained_index[items]
        out = np.zeros((state.shape[0], len(items)), dtype=np.float32)
        live = trained >= 0
        if live.any() and state.nnz:
            out[:, live] = (state @ self.similarity_[:, trained[live]]).toarray()
        return out

    def add_items(self, embeddings: np.ndarray, domains: np.ndarray) -> None:
        self.catalogue_.add(len(embeddings))

    def remove_items(self, keep: np.ndarray) -> None:
        self.catalogue_.remove(keep)

    def history_contributions(self, users: UserBatch, item: int) -> np.ndarray:
        out = np.zeros(users.history.nnz, dtype=np.float32)
        target = self.catalogue_.trained_index[item]
        if target < 0:
            return out
        hist = users.history.indices
        trained = self.catalogue_.trained_index[hist]
        weights = users.history.data * (1.0 if users.item_weights is None else users.item_weights[hist])
        column = self.similarity_[:, target].toarray().ravel()
        live = trained >= 0
        out[live] = weights[live] * column[trained[live]]
        return out
