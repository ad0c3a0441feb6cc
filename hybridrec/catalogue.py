"""Everything a recommender knows per item, with one owner: :class:`Catalogue`.

An item has a raw id, a domain, a text and rows of the dense blocks (text embeddings, image
vectors, encoded columns); a fitted recommender adds three priors: its popularity (the
tie-break), whether it is a reference item (per-user normalisation is fitted on those, so items
added later never move existing scores), and whether it is held out of recommendation lists
(``screen_texts="hold"``, ``hold_items``). A catalogue is one immutable value holding all of them,
aligned by position: its arrays are read-only, and every change (:meth:`Catalogue.appended`,
:meth:`Catalogue.kept`, :meth:`Catalogue.holding`, :meth:`Catalogue.fitted`) returns a new
catalogue, so an item edit builds the new one first and swaps it in with one assignment.

:class:`~hybridrec.data.InteractionData` holds the catalogue of its items (``data.catalogue``)
beside the users and the interactions; a fitted recommender's ``catalogue_`` is its data's.
"""
from __future__ import annotations

from types import MappingProxyType
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ._frozen import read_only
from ._validation import preview
from .modalities import grow_blocks

__all__ = ["Catalogue", "item_popularity", "legacy_catalogue"]


def item_popularity(matrix: sp.spmatrix) -> np.ndarray:
    """log(1 + interaction count) per item (column of ``matrix``), scaled to [0, 1]."""
    counts = np.log1p(np.diff(sp.csc_matrix(matrix).indptr)).astype(np.float32)
    return counts / max(float(counts.max(initial=0)), 1.0)


def _frozen(values: Any, dtype: type, n: int, default: Any) -> np.ndarray:
    out = np.full(n, default, dtype=dtype) if values is None else np.array(values, dtype=dtype, copy=True).reshape(-1)
    out.setflags(write=False)
    return out


class Catalogue:
    """The items of a recommender: ids, domains, texts, dense blocks and the fitted priors.

    Parameters
    ----------
    ids : pandas.Index
        Raw item ids in inner-index order (unique).
    domain : array of int, shape (n_items,)
        Domain code of every item, an index into ``domains``.
    domains : list of str
        Domain names.
    texts : list of str
        One text per item (empty string when missing).
    blocks : dict of str -> ndarray of shape (n_items, dim), optional
        Named dense blocks, one row per item (``"text"`` holds the text embeddings).
    popularity : array of float, shape (n_items,), optional
        The popularity prior in [0, 1] that breaks exact ties (:func:`item_popularity`);
        default 0 (set by :meth:`fitted`).
    reference : array of bool, shape (n_items,), optional
        Items the per-user score normalisation is computed over (those the model was fitted
        on); default every item.
    held : array of bool, shape (n_items,), optional
        Items kept out of recommendation lists; default none.

    Notes
    -----
    The per-item arrays are copied and made read-only, and ``blocks`` is a read-only mapping, so
    nothing can change a catalogue in place. :meth:`freeze` makes the block arrays read-only too
    (a fitted model's are).
    """

    def __init__(self, ids: pd.Index, domain: Any, domains: Sequence[str], texts: Sequence[str],
                 blocks: Mapping[str, np.ndarray] | None = None, *, popularity: Any = None,
                 reference: Any = None, held: Any = None) -> None:
        self.ids = ids if isinstance(ids, pd.Index) else pd.Index(ids)
        n = len(self.ids)
        self.domain = _frozen(domain, np.int32, n, 0)
        self.domains = list(domains)
        self.texts = list(texts)
        self._blocks = dict(blocks or {})
        self.popularity = _frozen(popularity, np.float32, n, 0.0)
        self.reference = _frozen(reference, bool, n, True)
        self.held = _frozen(held, bool, n, False)
        sizes = {"ids": n, "domain": len(self.domain), "texts": len(self.texts), "popularity": len(self.popularity),
                 "reference": len(self.reference), "held": len(self.held),
                 **{f"block {name!r}": len(block) for name, block in self._blocks.items()}}
        if len(set(sizes.values())) != 1:
            raise ValueError(f"A Catalogue needs one row per item in every part; got {sizes}.")

    @property
    def blocks(self) -> Mapping[str, np.ndarray]:
        """Named dense blocks, one row per item (a read-only mapping)."""
        return MappingProxyType(self._blocks)

    def __len__(self) -> int:
        return len(self.ids)

    def __repr__(self) -> str:
        return (f"Catalogue(n_items={len(self)}, domains={self.domains}, blocks={sorted(self._blocks)}, "
                f"reference={int(self.reference.sum())}, held={int(self.held.sum())})")

    # ------------------------------------------------------------------ new catalogues
    def _replaced(self, **parts: Any) -> "Catalogue":
        """A new catalogue with some parts replaced (the names of :meth:`__getstate__`)."""
        new = Catalogue.__new__(Catalogue)
        new.__setstate__({**self.__getstate__(), **parts})
        return new

    def fitted(self, matrix: sp.spmatrix, held: np.ndarray | None = None) -> "Catalogue":
        """The catalogue of a model fitted on ``matrix`` (users x items).

        Popularity comes from ``matrix``, every item is a reference item, and ``held`` (default
        none) are held.
        """
        return self._replaced(popularity=item_popularity(matrix), reference=None, held=held)

    def with_blocks(self, blocks: Mapping[str, np.ndarray]) -> "Catalogue":
        """A new catalogue whose blocks are ``blocks`` (one row per item each)."""
        return self._replaced(blocks=blocks)

    def appended(self, ids: pd.Index, domains: Sequence[str], texts: Sequence[str],
                 blocks: Mapping[str, np.ndarray] | None = None, held: np.ndarray | None = None) -> "Catalogue":
        """A new catalogue with items added at the end: no popularity, not reference items.

        Parameters
        ----------
        ids : pandas.Index
            The new items' ids; an id the catalogue has is an error.
        domains : list of str
            Each new item's domain name; new names are appended to ``domains``.
        texts : list of str
            Each new item's text.
        blocks : dict of str -> ndarray, optional
            The new items' rows of the blocks; a block they do not bring gets zero rows, and a
            block that is not among the catalogue's is an error.
        held : array of bool, optional
            Which new items are held (default none).

        Returns
        -------
        Catalogue
        """
        clash = ids.intersection(self.ids)
        if len(clash):
            raise ValueError(f"Items {preview(clash)} already exist; remove them first to replace them.")
        names = list(self.domains)
        for name in pd.unique(np.asarray(domains, dtype=object)):
            if str(name) not in names:
                names.append(str(name))
        n_new = len(ids)
        return Catalogue(
            self.ids.append(ids), np.concatenate([self.domain, [names.index(str(d)) for d in domains]]), names,
            self.texts + list(texts), grow_blocks(self._blocks, blocks, n_new, "item"),
            popularity=np.concatenate([self.popularity, np.zeros(n_new, np.float32)]),
            reference=np.concatenate([self.reference, np.zeros(n_new, bool)]),
            held=np.concatenate([self.held, np.zeros(n_new, bool) if held is None else np.asarray(held, bool)]),
        )

    def kept(self, keep: np.ndarray) -> "Catalogue":
        """A new catalogue of the items where the boolean mask ``keep`` is True."""
        keep = np.asarray(keep, bool)
        if len(keep) != len(self):
            raise ValueError(f"kept needs a mask over the {len(self)} items; got {len(keep)} values.")
        return Catalogue(self.ids[keep], self.domain[keep], self.domains, [t for t, k in zip(self.texts, keep) if k],
                         {name: block[keep] for name, block in self._blocks.items()},
                         popularity=self.popularity[keep], reference=self.reference[keep], held=self.held[keep])

    def holding(self, items: np.ndarray, hold: bool) -> "Catalogue":
        """A new catalogue where the items at positions ``items`` are held (``hold=True``) or released."""
        held = self.held.copy()
        held[np.asarray(items, np.int64)] = hold
        return self._replaced(held=held)

    def freeze(self) -> "Catalogue":
        """Make every block read-only (in place; the other arrays always are); return self."""
        for block in self._blocks.values():
            read_only(block)
        return self

    # ------------------------------------------------------------------ held items
    def held_positions(self, items: np.ndarray) -> np.ndarray:
        """Positions in ``items`` (catalogue positions) of the held ones."""
        return np.flatnonzero(self.held[items])

    def never_ranked(self, seen: sp.csr_matrix | None, items: np.ndarray, n_users: int) -> sp.csr_matrix | None:
        """``seen`` (users x positions in ``items``, or None) with the held items' columns marked for every user."""
        held = self.held_positions(items)
        if len(held) == 0:
            return seen
        mask = sp.csr_matrix((np.ones(n_users * len(held), dtype=np.float32),
                              (np.repeat(np.arange(n_users), len(held)), np.tile(held, n_users))),
                             shape=(n_users, len(items)))
        return mask if seen is None else ((seen != 0) + mask).astype(np.float32).tocsr()

    # ------------------------------------------------------------------ saving
    def __getstate__(self) -> dict:
        return {"ids": self.ids, "domain": self.domain, "domains": self.domains, "texts": self.texts,
                "blocks": self._blocks, "popularity": self.popularity, "reference": self.reference,
                "held": self.held}

    def __setstate__(self, state: dict) -> None:
        if "ids" not in state:  # saved when a catalogue held only the priors: legacy_catalogue completes it
            self.__dict__.update(_priors=state)
            return
        self.__init__(state["ids"], state["domain"], state["domains"], state["texts"], state["blocks"],  # type: ignore[misc]
                      popularity=state["popularity"], reference=state["reference"], held=state["held"])


def legacy_catalogue(state: dict) -> dict:
    """A saved recommender's state with its per-item priors in its data's catalogue.

    Models saved before the catalogue held the items hold their priors beside ``data_``:
    ``item_popularity_``, ``reference_items_`` and (since the text screen) ``held_items_``, or,
    later, a ``catalogue_`` of those three arrays alone. (Their ``data_`` is completed by
    :class:`~hybridrec.data.InteractionData` itself.) Other states are returned as they are.
    """
    if "item_popularity_" in state:
        state = dict(state)
        popularity, reference = state.pop("item_popularity_"), state.pop("reference_items_")
        held = state.pop("held_items_", None)
    elif "catalogue_" in state:
        state = dict(state)
        priors = state.pop("catalogue_").__dict__.get("_priors", {})
        popularity, reference, held = priors.get("popularity"), priors.get("reference"), priors.get("held")
    else:
        return state
    data = state.get("data_")
    if data is not None:
        state["data_"] = data.with_catalogue(data.catalogue._replaced(popularity=popularity, reference=reference,
                                                                      held=held))
    return state
