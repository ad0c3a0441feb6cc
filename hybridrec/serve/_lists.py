"""Known users' lists, computed once in batches and served by slicing: a known user's request costs a lookup.

A known user's top-k at the fitted ``cross_domain_weight`` depends only on the model, so the
server asks the model once, in batches, for every known user's top ``max_k`` in every domain
choice (all domains together, and each domain), through the same ``recommend(...,
output="arrays")`` every other request uses. A request for ``k <= max_k`` takes the first ``k``
of the stored list: rankings are deterministic (ties go to the lower item), so the first ``k`` of
a longer list are the list of ``k``. Scores agree with a single user's call up to float32
rounding (a batch goes through other BLAS kernels than one row). Requests with other parameters (a ``cross_domain_weight``,
explanations) and users added after the lists were built go through the model.

Memory: ``users x (domains + 1) x max_k`` entries of 12 bytes (an int32 position, a float64 score).
Several worker processes share one copy: :meth:`KnownLists.save` writes the arrays once and
:meth:`KnownLists.mapped` memory-maps them in each worker.
"""
from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any, Hashable

import numpy as np

from .. import TopItems

logger = logging.getLogger(__name__)


class KnownLists:
    """Every known user's top-``max_k`` per domain choice, for one fitted model.

    Parameters
    ----------
    model : HybridRecommender
        Fitted.
    max_k : int
        The longest list a request may ask for.
    batch_size : int, default=2048
        Users per ``recommend`` call while building.
    """

    def __init__(self, model: Any, max_k: int, batch_size: int = 2048) -> None:
        start = time.perf_counter()
        self._bind(model, max_k)
        users = list(model.data_.user_ids)
        self.positions: dict[str | None, np.ndarray] = {}
        self.scores: dict[str | None, np.ndarray] = {}
        for domain in (None, *model.data_.domains):
            positions = np.full((len(users), self.k), -1, dtype=np.int32)
            scores = np.full((len(users), self.k), np.nan, dtype=np.float64)
            for first in range(0, len(users), batch_size):
                top = model.recommend(users[first:first + batch_size], k=self.k, domain=domain, output="arrays")
                width = top.positions.shape[1]
                positions[first:first + len(top.users), :width] = top.positions
                scores[first:first + len(top.users), :width] = top.scores
            self.positions[domain], self.scores[domain] = positions, scores
        logger.info("hybridrec serve: lists of %d known users x %d domain choices (k=%d) in %.1f s",
                    len(users), len(self.positions), self.k, time.perf_counter() - start)

    def _bind(self, model: Any, max_k: int) -> None:
        data = model.data_
        self.data, self.components = data, model.components_
        self.k = min(int(max_k), data.n_items)
        self.item_ids = np.asarray(data.item_ids, dtype=object)
        self.item_domains = np.asarray(data.domains, dtype=object)[data.item_domain]

    def save(self, folder: str | Path) -> Path:
        """Write the lists' arrays to ``folder`` (created), to be memory-mapped by :meth:`mapped`."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        choices = list(self.positions)
        for number, domain in enumerate(choices):
            np.save(folder / f"positions_{number}.npy", self.positions[domain])
            np.save(folder / f"scores_{number}.npy", self.scores[domain])
        meta = {"k": self.k, "choices": choices, "users": self.data.n_users, "items": self.data.n_items}
        (folder / "lists.json").write_text(json.dumps(meta))
        return folder

    @classmethod
    def mapped(cls, model: Any, folder: str | Path) -> "KnownLists":
        """The lists :meth:`save` wrote for ``model`` (loaded from the same file), memory-mapped read-only."""
        folder = Path(folder)
        meta = json.loads((folder / "lists.json").read_text())
        if (meta["users"], meta["items"]) != (model.data_.n_users, model.data_.n_items):
            raise ValueError(f"The lists in {folder} were computed for {meta['users']} users and {meta['items']} "
                             f"items; this model has {model.data_.n_users} and {model.data_.n_items}.")
        out = cls.__new__(cls)
        out._bind(model, meta["k"])
        out.positions, out.scores = {}, {}
        for number, domain in enumerate(meta["choices"]):
            out.positions[domain] = np.load(folder / f"positions_{number}.npy", mmap_mode="r")
            out.scores[domain] = np.load(folder / f"scores_{number}.npy", mmap_mode="r")
        return out

    def serves(self, model: Any, k: int) -> bool:
        """Whether these lists belong to the model as it is now (no users or items changed since) and hold ``k``."""
        return model.data_ is self.data and model.components_ is self.components and k <= self.k

    def top(self, user_id: Hashable, domain: str | None, k: int) -> Any:
        """The user's first ``k`` in ``domain`` (None: all domains) as a :class:`~hybridrec.TopItems` of one row."""
        if domain not in self.positions:  # the model's own message for an unknown domain
            self.data.domain_code(domain)
        row = self.data.user_ids.get_loc(user_id)
        positions = self.positions[domain][row, :k].astype(np.int64)
        valid = positions >= 0
        picked = np.maximum(positions, 0)
        users = np.empty(1, dtype=object)
        users[0] = user_id
        return TopItems(users, positions[None], np.where(valid, self.item_ids[picked], None)[None],
                        self.scores[domain][row, :k][None].copy(), np.where(valid, self.item_domains[picked], None)[None])
