"""How components follow a catalogue that changes after fit: the catalogue map and two mixins.

Items can be added (from their blocks alone) and removed after fitting. A component keeps the
basis it was trained on and maps the current catalogue onto it, so the scores of the users and
items that were there never move.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Mapping

import numpy as np
import scipy.sparse as sp

if TYPE_CHECKING:  # pragma: no cover - typing only
    from .base import TrainingData


class CatalogueMap:
    """Maps current catalogue columns to the items a component was trained on.

    Items added after fitting map to -1; removed items disappear from the catalogue but stay in
    the trained basis, so warm users' scores never move when the catalogue changes.
    """

    def __init__(self, n_items: int) -> None:
        self.trained_index = np.arange(n_items, dtype=np.int64)
        self.n_trained = n_items
        self._projection: sp.csr_matrix | None = None

    def _with_index(self, trained_index: np.ndarray) -> "CatalogueMap":
        out = CatalogueMap.__new__(CatalogueMap)
        out.trained_index, out.n_trained, out._projection = trained_index, self.n_trained, None
        return out

    def added(self, n_new: int) -> "CatalogueMap":
        """A new map with ``n_new`` items appended (they map to no trained item); self is unchanged."""
        return self._with_index(np.concatenate([self.trained_index, np.full(n_new, -1, dtype=np.int64)]))

    def kept(self, keep: np.ndarray) -> "CatalogueMap":
        """A new map of the items where the boolean mask ``keep`` is True; self is unchanged."""
        return self._with_index(self.trained_index[keep])

    @property
    def projection(self) -> sp.csr_matrix:
        """Sparse (n_catalogue, n_trained) 0/1 matrix: ``history @ projection`` = trained columns."""
        if self._projection is None:
            rows = np.flatnonzero(self.trained_index >= 0)
            cols = self.trained_index[rows]
            data = np.ones(len(rows), dtype=np.float32)
            self._projection = sp.csr_matrix((data, (rows, cols)), shape=(len(self.trained_index), self.n_trained))
        return self._projection

    def to_trained(self, matrix: sp.csr_matrix) -> sp.csr_matrix:
        """Columns of ``matrix`` (over the catalogue) re-indexed to the trained items."""
        out = sp.csr_matrix(matrix @ self.projection, dtype=np.float32)
        out.eliminate_zeros()
        out.sort_indices()
        return out

    def trained_weights(self, item_weights: np.ndarray) -> np.ndarray:
        """Per-item weights over the catalogue re-indexed to the trained items (1 for removed ones)."""
        out = np.ones(self.n_trained, dtype=np.float32)
        live = self.trained_index >= 0
        out[self.trained_index[live]] = item_weights[live]
        return out

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_projection"] = None
        return state


class TrainedItemsOnly:
    """Mixin for item-item components: they know only items they learned something about.

    Items added later, and items that had no usable interactions in training (cold items),
    get no neighbours: ``knows`` is False for them, so the blend defers to the other
    components. Removed items leave the catalogue, not the trained basis. Expects
    ``catalogue_`` and ``observed_``, a mask over the trained items.
    """

    catalogue_: CatalogueMap
    observed_: np.ndarray

    def knows(self, items: np.ndarray) -> np.ndarray:
        """Which of ``items`` map to a trained item that had interactions in training.

        Parameters and return value as in :meth:`~hybridrec.components.Component.knows`. False for
        items added after fit and for cold items.
        """
        trained = self.catalogue_.trained_index[items]
        return (trained >= 0) & self.observed_[np.maximum(trained, 0)]

    def add_items(self, blocks: Mapping[str, np.ndarray], domains: np.ndarray) -> None:
        """Append ``len(domains)`` items that map to no trained item (:meth:`knows` is False for them).

        Parameters and return value as in :meth:`~hybridrec.components.Component.add_items`. Only the
        number of new items is read.
        """
        self.catalogue_ = self.catalogue_.added(len(domains))

    def remove_items(self, keep: np.ndarray) -> None:
        """Drop items from the catalogue; they stay in the trained basis.

        Parameters and return value as in :meth:`~hybridrec.components.Component.remove_items`.
        """
        self.catalogue_ = self.catalogue_.kept(keep)


def unit_length(block: np.ndarray) -> np.ndarray:
    """``block`` as float32 with every non-zero row scaled to unit length (unchanged if it already is)."""
    block = np.asarray(block, dtype=np.float32)
    norms = np.linalg.norm(block, axis=1)
    live = norms > 0
    if np.allclose(norms[live], 1.0, atol=1e-4):
        return block
    out = np.zeros_like(block)
    out[live] = block[live] / norms[live, None]
    return out


class ItemBlockVectors:
    """Mixin for components that score items by one dense block (``modality``, default text).

    Rows are compared by cosine: ``fit`` keeps the block's rows, scaled to unit length (text
    embeddings already are), in ``item_embeddings_``; added items bring theirs (zero rows when
    they lack the block), removed items leave. Subclasses call :meth:`_keep_item_embeddings`
    from ``fit`` and have a ``modality`` parameter.
    """

    modality: str
    item_embeddings_: np.ndarray

    def modalities(self) -> tuple[str, ...]:
        """The item blocks :meth:`fit` needs: the one block the component reads.

        Returns
        -------
        tuple of str
            ``(modality,)``.
        """
        return (self.modality,)

    def _keep_item_embeddings(self, data: "TrainingData") -> None:
        block = data.item_blocks.get(self.modality)
        if block is None:
            given = sorted(data.item_blocks)
            hint = ("pass an items table with a text column" if self.modality == "text"
                    else f"pass fit(..., item_vectors={{{self.modality!r}: ...}})")
            raise ValueError(
                f"{type(self).__name__}(modality={self.modality!r}) needs the item block {self.modality!r}; "
                f"{hint}. Blocks given: {given}."
            )
        self.item_embeddings_ = unit_length(block)

    def _user_block(self, users) -> np.ndarray | None:
        """The users' own rows of this block (their text, for the text block), at unit length, or None."""
        own = users.blocks.get(self.modality)
        return None if own is None else unit_length(own)

    def add_items(self, blocks: Mapping[str, np.ndarray], domains: np.ndarray) -> None:
        new = blocks.get(self.modality)
        if new is None:
            new = np.zeros((len(domains), self.item_embeddings_.shape[1]), dtype=np.float32)
        self.item_embeddings_ = np.vstack([self.item_embeddings_, unit_length(new)])

    def remove_items(self, keep: np.ndarray) -> None:
        self.item_embeddings_ = self.item_embeddings_[keep]
