"""How :class:`~hybridrec.components.tower.TowerComponent` reads users: event windows, the user
encoder's inputs and the split of a score over the events read (explanations).

:class:`TowerUsers` is a mixin of the tower alone. It needs from its host the parameters
``encoder``, ``max_len``, ``dim``, ``text`` and ``user_text_weight``, the fitted ``item_vectors_``,
``item_domain_``, ``n_domains_``, ``mean_``, ``projection_`` and ``device_``, the networks in
``_nets`` (``_ensure_nets()`` builds them after a load) and ``score``.
"""
from __future__ import annotations

import numpy as np

from ..sequences import Sequences
from .base import TEXT, UserBatch

#: Users encoded per torch call at scoring time (bounds memory).
_CHUNK = 4096


class TowerUsers:
    """User windows, the user encoder's inputs and explanations of the tower (see the module)."""

    def _whiten_users(self, texts: np.ndarray):
        import torch

        from ._tower_training import whiten

        return torch.from_numpy(whiten(np.asarray(texts, np.float32), self.mean_, self.projection_)).to(self.device_)

    def _encode_all(self, vectors, rows, items: np.ndarray, weights: np.ndarray | None, text):
        """The user at every position ``(B, T, dim)`` and the last position's attention over [text,] events.

        ``vectors[rows]`` are the event vectors (``rows`` = ``len(vectors)`` for padding);
        ``items`` the events' catalogue items (-1 pads), ``weights`` their cross-domain weights
        (None: 1) and ``text`` the users' whitened texts (None: no text token).
        """
        import torch

        device = vectors.device
        table = torch.cat([vectors, torch.zeros(1, vectors.shape[1], device=device)])
        events = table[rows]
        logits = None
        if self.encoder == "mean":
            logits = torch.cat([self._nets["users"].logits(vectors), torch.zeros(1, device=device)])[rows]
        w = np.where(items >= 0, 1.0 if weights is None else weights, 0.0)
        domains = np.where(items >= 0, self.item_domain_[np.maximum(items, 0)], self.n_domains_)
        if text is not None and self.user_text_weight and self.text:
            has = (text.abs().sum(dim=1) > 0).cpu().numpy()
            token = self._nets["items"].adapt(text)
            events = torch.cat([token[:, None, :], events], dim=1)
            if logits is not None:
                logits = torch.cat([self._nets["users"].logits(token)[:, None], logits], dim=1)
            w = np.concatenate([np.where(has, float(self.user_text_weight), 0.0)[:, None], w], axis=1)
            domains = np.concatenate([np.full((len(w), 1), self.n_domains_), domains], axis=1)
        with np.errstate(divide="ignore"):
            log_w = torch.from_numpy(np.log(w).astype(np.float32)).to(device)
        domains = torch.from_numpy(np.asarray(domains, np.int64)).to(device)
        users, attention = self._nets["users"](events, log_w, logits, domains)
        if text is not None and self.user_text_weight and self.text:
            users = users[:, 1:]  # a position per event; the text token is context
        return users, attention

    # ------------------------------------------------------------------ scoring
    def _events(self, users: UserBatch) -> tuple[np.ndarray, np.ndarray]:
        """The last ``max_len`` events of weight > 0 (-1 padded, right-aligned) and their cross-domain weights.

        Events of weight 0 are dropped before the window is taken, so at ``cross_domain_weight=0``
        a user is read exactly as their same-domain history alone.
        """
        seq = users.sequences if users.sequences is not None else _sequences_from(users.history)
        if users.item_weights is not None:
            seq = seq.keep_events(users.item_weights[seq.items] > 0)
        items = seq.last(int(self.max_len))
        weights = np.ones(items.shape, np.float32) if users.item_weights is None else \
            np.where(items >= 0, users.item_weights[np.maximum(items, 0)], 0.0)
        return items, weights

    def _user_vectors(self, users: UserBatch) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Unnormalised user vectors, the attention over [text,] events and the event items."""
        import torch

        self._ensure_nets()
        items, weights = self._events(users)
        text_block = users.blocks.get(TEXT)
        table = torch.from_numpy(self.item_vectors_)
        out, attention = [], []
        with torch.no_grad():
            for first in range(0, len(items), _CHUNK):
                part = slice(first, first + _CHUNK)
                rows = torch.from_numpy(np.where(items[part] >= 0, items[part], len(table)))
                text = None if text_block is None else self._whiten_users(text_block[part])
                vectors, att = self._encode_all(table, rows, items[part], weights[part], text)
                out.append(vectors[:, -1].numpy())
                attention.append(att.numpy())
        if not out:
            return np.zeros((0, int(self.dim)), np.float32), np.zeros((0, 0), np.float32), items
        return np.vstack(out).astype(np.float32), np.vstack(attention), items

    # explanations
    def _shares(self, users: UserBatch, item: int) -> tuple[np.ndarray, float]:
        """Raw score of ``item`` split over the events read (and the user's text), for a one-user batch.

        ``encoder="mean"``: exact, ``a_j (e_j . q_i) / (|p| |q_i|)`` with the attention ``a_j``.
        ``encoder="sequence"``: the final position's attention in the last block, times the score
        (an attribution, not a decomposition). Either way the shares add up to the score.
        """
        vectors, attention, items = self._user_vectors(users)
        score = float(self.score(_unit(vectors), np.array([item]))[0, 0])
        has_text = attention.shape[1] == items.shape[1] + 1
        if self.encoder == "mean":
            norm = float(np.linalg.norm(vectors[0])) or 1.0
            target = _unit(self.item_vectors_[[item]])[0]
            events = np.where(items[0, :, None] >= 0, self.item_vectors_[np.maximum(items[0], 0)], 0.0)
            parts = attention[0, has_text:] * (events @ target) / norm
            text = float(score - parts.sum()) if has_text else 0.0
        else:
            parts = attention[0, has_text:] * score
            text = float(attention[0, 0] * score) if has_text else 0.0
        return _aggregate(users, items[0], parts), text

    def history_contributions(self, users: UserBatch, item: int) -> np.ndarray:
        """Share of the raw score of ``item`` owed to each history item of a one-user batch.

        Split over the events the encoder reads (see :meth:`_shares`), summed per history item.

        Parameters and return value as in
        :meth:`~hybridrec.components.Component.history_contributions`. Zeros for history items outside
        the window read.
        """
        return self._shares(users, item)[0]

    def text_contribution(self, users: UserBatch, item: int, reference: np.ndarray) -> float:
        """The user's own text's share of the raw score of ``item`` for a one-user batch, centred.

        Parameters and return value as in :meth:`~hybridrec.components.Component.text_contribution`.
        The mean share is taken over an evenly spaced subsample of ``reference`` (all of it when fewer
        than 128 items); 0 when the user has no text or ``user_text_weight`` is 0.
        """
        if users.blocks.get(TEXT) is None or not self.user_text_weight:
            return 0.0
        own = self._shares(users, item)[1]
        mean = np.mean([self._shares(users, int(r))[1] for r in reference[:: max(1, len(reference) // 64)]])
        return float(own - mean)


def _unit(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return np.divide(x, norms, out=np.zeros_like(x, dtype=np.float32), where=norms > 0).astype(np.float32)


def _cosine(users, table) -> np.ndarray:
    from torch.nn import functional as F

    return (F.normalize(users, dim=-1) @ F.normalize(table, dim=-1).T).cpu().numpy()


def _sequences_from(history) -> Sequences:
    """Events from a CSR history when no order is known (item order; each item once)."""
    counts = np.diff(history.indptr)
    return Sequences(history.indptr.astype(np.int64), history.indices.astype(np.int64)) if counts.size else \
        Sequences.empty(history.shape[0])


def _aggregate(users: UserBatch, events: np.ndarray, parts: np.ndarray) -> np.ndarray:
    """Per-event shares summed per history item, aligned with ``users.history.indices``."""
    out = np.zeros(users.history.nnz, dtype=np.float32)
    live = events >= 0
    position = np.searchsorted(users.history.indices, events[live])
    ok = position < len(out)
    ok[ok] = users.history.indices[position[ok]] == events[live][ok]
    np.add.at(out, position[ok], parts[live][ok])
    return out
