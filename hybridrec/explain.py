"""Explanations: what each component and each history item contributed to a score.

Mixed into :class:`~hybridrec.HybridRecommender`. A blended score is
``sum_c weight_c * (raw_c - centre_c) / spread_c``; each component's term is reported as its
contribution (they add up to the score), and components whose raw score is linear in the
history (ALS, LightFM, semantic, item-kNN) also split their term over the history items.
"""
from __future__ import annotations

import logging
from typing import Any, Hashable

import numpy as np
import scipy.sparse as sp
from sklearn.utils.validation import check_is_fitted

from .blend import normalization_stats

logger = logging.getLogger(__name__)


def _scalar(value: Any) -> Any:
    """NumPy scalars as plain Python values (for dicts and sentences)."""
    return value.item() if isinstance(value, np.generic) else value


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


class ExplainMixin:
    """explain(user_id, item_id) and the rows behind recommend(..., explain=True)."""

    def explain(
        self,
        user_id: Hashable,
        item_id: Hashable,
        n_history: int = 3,
        cross_domain_weight: float | None = None,
    ) -> dict[str, Any]:
        """Why ``item_id`` scores what it does for ``user_id``.

        Parameters
        ----------
        user_id, item_id
            A known user (fitted or folded in) and a catalogue item.
        n_history : int, default=3
            How many supporting history items to list.
        cross_domain_weight : float in [0, 1], optional
            Overrides the fitted value.

        Returns
        -------
        dict
            ``score``; ``components`` (name -> weight, normalised score and contribution; the
            contributions add up to ``score``); ``history`` (the history items that support
            the item most, with their domain, text and support in score units); ``user_text``
            (the user's text and its cosine match with the item, when the user has text); and
            ``sentence``, the same as one readable sentence.
        """
        check_is_fitted(self, "components_")
        weight = self._check_cdw(cross_domain_weight, "explain")
        user = self._known_users([user_id], "explain")[0]
        item = int(self.data_.item_index([item_id])[0])
        texts = None if self.user_embeddings_ is None else self.user_embeddings_[[user]]
        return self._explain_items(self.data_.matrix[[user]], texts, user_id, [item], weight, n_history, user)[0]

    def _explain_items(
        self,
        history: sp.csr_matrix,
        texts: np.ndarray | None,
        label: Hashable,
        items: list[int],
        weight: float,
        n_history: int = 3,
        user: int | None = None,
        whole_catalogue: bool = False,
    ) -> list[dict[str, Any]]:
        """Explanations of several items for one user (one history row), domain by domain.

        Scores are normalised over each item's domain, or over the whole catalogue for the rows
        of ``recommend(domain=None)`` (``whole_catalogue=True``), exactly as they were ranked.
        """
        out: dict[int, dict[str, Any]] = {}
        domains = self.data_.item_domain[items]
        for code in np.unique(domains):
            batch = self._user_batch(history, texts, code, weight)
            scope = np.arange(self.data_.n_items) if whole_catalogue else self.data_.items_in_domain(code)
            parts = {}
            for name, comp in self.components_.items():
                raw = comp.score(comp.user_state(batch), scope)
                centre, spread = normalization_stats(raw, self.normalization, self.reference_items_[scope])
                parts[name] = (comp, raw[0], float(centre[0, 0]), float(spread[0, 0]))
            for item in [i for i in items if self.data_.item_domain[i] == code]:
                col = int(np.searchsorted(scope, item))
                out[item] = self._explain_one(batch, label, item, col, parts, n_history, user, scope)
        return [out[i] for i in items]

    def _explain_one(self, batch, label, item, col, parts, n_history, user, scope) -> dict[str, Any]:
        reference = self.reference_items_[scope]
        components, support = {}, np.zeros(batch.history.nnz, dtype=np.float64)
        text_part = 0.0
        # Components that cannot score this item (e.g. item-kNN for an item added from text)
        # contribute nothing; the others' weights are scaled up to the full total (see _blend).
        knows = {name: bool(comp.knows(np.array([item]))[0]) for name, (comp, *_rest) in parts.items()}
        weights = self.weights_
        text_weights = self._text_weights()
        if text_weights is not None and batch.history.nnz == 0 and batch.text_embeddings is not None \
                and np.abs(batch.text_embeddings).sum() > 0:
            weights = text_weights  # a user known only by a text is ranked with the query weights
        weights = {name: weights.get(name, 0.0) for name in parts}
        full = sum(weights.values())
        known = sum(weights[name] for name in parts if knows[name])
        scale = full / known if known > 0 else 0.0
        for name, (comp, raw, centre, spread) in parts.items():
            w = weights[name] * (scale if knows[name] else 0.0)
            normalised = (raw[col] - centre) / spread if spread > 0 and knows[name] else 0.0
            components[name] = {"weight": w, "normalized": float(normalised), "contribution": float(w * normalised)}
            if spread > 0:
                support += w * comp.history_contributions(batch, item) / spread
                if name == "semantic" and batch.text_embeddings is not None:
                    # The text's share of the normalised score, centred like the score itself.
                    sims = comp.item_embeddings_[scope] @ batch.text_embeddings[0]
                    centred = float(batch.text_embeddings[0] @ comp.item_embeddings_[item]) - float(sims[reference].mean() if reference.any() else sims.mean())
                    text_part = w * comp.user_text_weight * centred / spread
        score = float(sum(c["contribution"] for c in components.values()))
        hist = batch.history.indices
        order = np.argsort(-support, kind="stable")[:n_history]
        history = [
            {
                "item_id": _scalar(self.data_.item_ids[hist[j]]),
                "domain": self.data_.domains[self.data_.item_domain[hist[j]]],
                "text": self.data_.item_texts[hist[j]],
                "support": float(support[j]),
            }
            for j in order
            if support[j] > 0
        ]
        user_text = None
        if batch.text_embeddings is not None and np.abs(batch.text_embeddings[0]).sum() > 0 and self.item_embeddings_ is not None:
            text = self.data_.user_texts[user] if user is not None and self.data_.user_texts else ""
            user_text = {
                "text": text,
                "similarity": float(batch.text_embeddings[0] @ self.item_embeddings_[item]),
                "contribution": float(text_part),
            }
        result = {
            "user_id": _scalar(label),
            "item_id": _scalar(self.data_.item_ids[item]),
            "domain": self.data_.domains[self.data_.item_domain[item]],
            "score": score,
            "components": components,
            "history": history,
            "user_text": user_text,
        }
        result["sentence"] = self._sentence(result, item)
        return result

    def _sentence(self, result: dict[str, Any], item: int) -> str:
        name = _short(self.data_.item_texts[item]) or repr(result["item_id"])
        ranked = sorted(result["components"].items(), key=lambda kv: -abs(kv[1]["contribution"]))
        parts = ", ".join(f"{n} {c['contribution']:+.2f}" for n, c in ranked if c["weight"])
        sentence = f"'{name}' ({result['domain']}) scores {result['score']:.2f} for user {_scalar(result['user_id'])} ({parts})"
        if result["history"]:
            because = "; ".join(f"'{_short(h['text'], 40)}' ({h['domain']})" for h in result["history"])
            sentence += f", mostly because of {because}"
        if result["user_text"] and result["user_text"]["similarity"] > 0:
            sentence += f"; their own text matches it (cosine {result['user_text']['similarity']:.2f})"
        return sentence + "."

    def _explain_frame_rows(
        self, frame, history: sp.csr_matrix, texts: np.ndarray | None, labels: list, weight: float,
        whole_catalogue: bool = False,
    ) -> tuple[list, list]:
        """Per-row component contributions and sentences for a recommend() result."""
        position = {label: i for i, label in enumerate(labels)}
        contributions, sentences = [None] * len(frame), [None] * len(frame)
        item_index = self.data_.item_index(frame["item_id"].tolist())
        for label, rows in frame.groupby("user_id", sort=False).indices.items():
            u = position[label]
            user = int(self.data_.user_index([label], missing="ignore")[0]) if texts is not None else None
            found = self._explain_items(
                history[[u]], None if texts is None else texts[[u]], label, item_index[rows].tolist(), weight, 3,
                user if user is not None and user >= 0 else None, whole_catalogue,
            )
            for row, result in zip(rows, found):
                contributions[row] = {n: c["contribution"] for n, c in result["components"].items()}
                sentences[row] = result["sentence"]
        return contributions, sentences
