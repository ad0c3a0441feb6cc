"""Dense item blocks (text embeddings and others) -> LightFM feature matrices.

The compressed form: PCA of a block (the 384-d text embeddings, say) to ``n_components``
dimensions, each row then rescaled to unit length times ``weight``. Raw 384-d dense features
make every LightFM update touch 384 weights and tend to drown the identity features; 32 PCA
dimensions keep most of the topical variance of short product titles at a tenth of the cost.
Items without the block (a zero row) get a zero row, so they fall back to their other features.

The quantised form (:class:`BlockQuantizer`, LightFM's default): each row becomes its k-means
cluster at a few resolutions, a handful of stored entries instead of 32 dense ones.
"""
from __future__ import annotations

import logging

import numpy as np
import scipy.sparse as sp
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA

logger = logging.getLogger(__name__)


class BlockCompressor:
    """PCA-compress a dense block into unit-length LightFM feature rows of length ``weight``.

    Parameters
    ----------
    n_components : int
        Output dimensions (capped by the number of non-zero rows and the block's dimension).
    weight : float
        Length of each output row, i.e. the block's weight next to an identity feature.
    random_state : int or None
        Seed for the randomized PCA solver.
    whiten : bool, default=False
        Scale the principal components to unit variance before the rows are normalised, so
        that the first few components (shared by every sentence embedding) do not dominate.
    """

    def __init__(self, n_components: int = 32, weight: float = 1.0, random_state: int | None = None,
                 whiten: bool = False) -> None:
        self.n_components = n_components
        self.weight = weight
        self.random_state = random_state
        self.whiten = whiten

    def fit(self, embeddings: np.ndarray) -> "BlockCompressor":
        rows = embeddings[np.linalg.norm(embeddings, axis=1) > 0]
        k = int(min(self.n_components, max(len(rows) - 1, 0), embeddings.shape[1]))
        if k < 1:
            self.pca_ = None
            return self
        self.pca_ = PCA(n_components=k, whiten=bool(self.whiten), random_state=self.random_state).fit(rows)
        logger.info("Block features: PCA %d -> %d keeps %.0f%% of variance",
                    embeddings.shape[1], k, 100 * self.pca_.explained_variance_ratio_.sum())
        return self

    @property
    def dim(self) -> int:
        return 0 if self.pca_ is None else int(self.pca_.n_components_)

    def transform(self, embeddings: np.ndarray) -> np.ndarray:
        if self.pca_ is None:
            return np.zeros((len(embeddings), 0), dtype=np.float32)
        out = self.pca_.transform(embeddings).astype(np.float32)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        empty = np.linalg.norm(embeddings, axis=1) == 0
        np.divide(out, norms, out=out, where=norms > 0)
        out *= self.weight
        out[empty] = 0
        return out


class BlockQuantizer:
    """Quantise a dense block into a few cluster features per row: coarse-to-fine text codes.

    The block is PCA-reduced (``n_components``), and k-means at each of ``levels`` resolutions
    (16, 128 and 1,024 clusters, say) assigns every row one cluster per level. A row's features
    are its clusters, each of length ``weight / sqrt(len(levels))``: a few stored entries
    instead of ``n_components`` dense ones, so LightFM's updates touch far fewer weights, and
    a new item is represented by the clusters its text falls in.

    Parameters
    ----------
    levels : tuple of int, default=(16, 128, 1024)
        Clusters per level (each capped at an eighth of the non-zero rows).
    weight : float
        Length of each output row.
    random_state : int or None
    n_components : int, default=32
        PCA dimensions the clusters are found in.
    """

    def __init__(self, levels: tuple[int, ...] = (16, 128, 1024), weight: float = 1.0,
                 random_state: int | None = None, n_components: int = 32) -> None:
        self.levels = levels
        self.weight = weight
        self.random_state = random_state
        self.n_components = n_components

    def fit(self, embeddings: np.ndarray) -> "BlockQuantizer":
        self.pca_ = BlockCompressor(self.n_components, 1.0, self.random_state).fit(embeddings)
        rows = self.pca_.transform(embeddings)
        rows = rows[np.linalg.norm(rows, axis=1) > 0]
        sizes = sorted({min(int(c), len(rows) // 8) for c in self.levels} - {0, 1})
        self.kmeans_ = [KMeans(c, n_init=1, max_iter=50, random_state=self.random_state).fit(rows) for c in sizes]
        logger.info("Block features: %d levels of text codes, %s clusters", len(sizes), sizes)
        return self

    @property
    def dim(self) -> int:
        return int(sum(km.n_clusters for km in self.kmeans_))

    def transform(self, embeddings: np.ndarray) -> np.ndarray:
        out = np.zeros((len(embeddings), self.dim), dtype=np.float32)
        rows = self.pca_.transform(embeddings)
        live = np.flatnonzero(np.linalg.norm(rows, axis=1) > 0)
        if not self.kmeans_ or not len(live):
            return out
        offset = 0
        for km in self.kmeans_:
            out[live, offset + km.predict(rows[live])] = float(self.weight) / np.sqrt(len(self.kmeans_))
            offset += km.n_clusters
        return out


def stack_features(*blocks: np.ndarray | sp.spmatrix) -> sp.csr_matrix:
    """Horizontally stack dense and sparse blocks into one float32 CSR feature matrix."""
    parts = [sp.csr_matrix(b, dtype=np.float32) for b in blocks if b is not None and b.shape[1] > 0]
    out = sp.hstack(parts, format="csr", dtype=np.float32)
    out.eliminate_zeros()
    return out


def row_normalise(matrix: sp.csr_matrix) -> sp.csr_matrix:
    """Scale every row of a sparse matrix to sum to one (empty rows stay empty)."""
    sums = np.asarray(matrix.sum(axis=1)).ravel()
    scale = np.divide(1.0, sums, out=np.zeros_like(sums, dtype=np.float64), where=sums > 0)
    return sp.csr_matrix(sp.diags(scale.astype(np.float32)) @ matrix, dtype=np.float32)
