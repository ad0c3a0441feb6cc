"""Explanations: what each component and each history item contributed to a score.

:class:`ExplainMixin` gives :class:`~hybridrec.HybridRecommender` its ``explain``; the work is
done by functions of the model's :class:`~hybridrec.scorer.Scorer`. A blended score is
``sum_c weight_c * (raw_c - centre_c) / spread_c`` (weights after deferral, see
:func:`hybridrec.blend.effective_weights`); each component's term is reported as its
contribution (they add up to the score). Components whose raw score is linear in the history
split their term over the history items (``history_contributions``), and components that read
the user's own text report its share (``text_contribution``).
"""
from __future__ import annotations

from typing import Any, Hashable

import numpy as np
import pandas as pd
from sklearn.utils.validation import check_is_fitted

from ._validation import check_choice
from .blend import effective_weights
from .components.base import TEXT
from .scorer import Scorer
from .users import Users, known_users

#: Where a score is normalised: within the item's domain, or over the whole catalogue.
SCOPES = ("domain", "catalogue")


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
        scope: str = "domain",
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
        scope : {"domain", "catalogue"}, default="domain"
            The scale of the score: normalised within the item's domain, as
            ``recommend(domain=...)``, ``predict`` and ``score_items`` report it, or over the whole
            catalogue, as ``recommend(domain=None)`` reports it.

        Returns
        -------
        dict
            ``score`` and ``scope``; ``components`` (name -> weight, normalised score and
            contribution; the contributions add up to ``score``); ``history`` (the history items
            that support the item most, with their domain, text and support in score units);
            ``user_text`` (the user's text, its cosine match with the item and its share of the
            score, when the user has text); and ``sentence``, the same as one readable sentence.
        """
        check_is_fitted(self, "components_")
        weight = self.scorer_.call_cross_domain_weight(cross_domain_weight, "explain")
        check_choice(scope, "scope", SCOPES, "explain")
        users = known_users(self.data_, [user_id], "explain")
        item = int(self.data_.item_index([item_id])[0])
        return explain_items(self.scorer_, users, [item], weight, n_history, scope)[0]


def explain_items(scorer: Scorer, users: Users, items: list[int], weight: float, n_history: int = 3,
                   scope: str = "domain") -> list[dict[str, Any]]:
    """Explanations of several items for one user, domain by domain, on the scale of ``scope``."""
    out: dict[int, dict[str, Any]] = {}
    domains = scorer.data.item_domain[items]
    for block in scorer.domain_scores(users, np.unique(domains), weight, whole_catalogue=scope == "catalogue"):
        for item in [i for i in items if scorer.data.item_domain[i] == block.code]:
            out[item] = _explain_one(scorer, block, item, n_history, scope)
    return [out[i] for i in items]


def _explain_one(scorer: Scorer, block, item: int, n_history: int, scope: str) -> dict[str, Any]:
    col = int(np.searchsorted(block.scope, item))
    weights, query = scorer.blend_weights(None)
    if query is not None and block.users.text_only()[0]:
        weights = query  # a user known only by a text is ranked with the query weights
    at_item = {name: scores[:, [col]] for name, scores in block.scores.items()}
    effective = effective_weights(at_item, weights)
    reference = block.scope[scorer.catalogue.reference[block.scope]]
    reference = reference if len(reference) else block.scope
    batch = block.batch
    components, support, text_part = {}, np.zeros(batch.history.nnz, dtype=np.float64), 0.0
    for name, scores in at_item.items():
        w = float(np.asarray(effective.get(name, 0.0)).reshape(-1)[0])
        value = float(scores[0, 0])
        normalised = 0.0 if np.isnan(value) else value
        components[name] = {"weight": w, "normalized": normalised, "contribution": w * normalised}
        spread = float(block.spreads[name][0, 0])
        if spread > 0 and w:
            comp = scorer.components[name]
            support += w * comp.history_contributions(batch, item) / spread
            text_part += w * comp.text_contribution(batch, item, reference) / spread
    hist = batch.history.indices
    order = np.argsort(-support, kind="stable")[:n_history]
    history = [
        {
            "item_id": _scalar(scorer.data.item_ids[hist[j]]),
            "domain": scorer.data.domains[scorer.data.item_domain[hist[j]]],
            "text": scorer.data.item_texts[hist[j]],
            "support": float(support[j]),
        }
        for j in order
        if support[j] > 0
    ]
    result = {
        "user_id": _scalar(block.users.labels[0]),
        "item_id": _scalar(scorer.data.item_ids[item]),
        "domain": scorer.data.domains[scorer.data.item_domain[item]],
        "score": float(sum(c["contribution"] for c in components.values())),
        "scope": scope,
        "components": components,
        "history": history,
        "user_text": _user_text(scorer, block.users, item, text_part),
    }
    result["sentence"] = _sentence(result, scorer.data.item_texts[item])
    return result


def _user_text(scorer: Scorer, users: Users, item: int, text_part: float) -> dict[str, Any] | None:
    own, items = users.blocks.get(TEXT), scorer.data.item_blocks.get(TEXT)
    if own is None or items is None or not np.abs(own[0]).sum() > 0:
        return None
    user = None if users.index is None else int(users.index[0])
    text = scorer.data.user_texts[user] if user is not None and scorer.data.user_texts else ""
    return {"text": text, "similarity": float(own[0] @ items[item]), "contribution": float(text_part)}


def _sentence(result: dict[str, Any], item_text: str) -> str:
    name = _short(item_text) or repr(result["item_id"])
    ranked = sorted(result["components"].items(), key=lambda kv: -abs(kv[1]["contribution"]))
    parts = ", ".join(f"{n} {c['contribution']:+.2f}" for n, c in ranked if c["weight"])
    sentence = f"'{name}' ({result['domain']}) scores {result['score']:.2f} for user {_scalar(result['user_id'])} ({parts})"
    if result["history"]:
        because = "; ".join(f"'{_short(h['text'], 40)}' ({h['domain']})" for h in result["history"])
        sentence += f", mostly because of {because}"
    if result["user_text"] and result["user_text"]["similarity"] > 0:
        sentence += f"; their own text matches it (cosine {result['user_text']['similarity']:.2f})"
    where = f"the '{result['domain']}' items" if result["scope"] == "domain" else "the whole catalogue"
    return f"{sentence} (score scale: {where})."


def explain_frame_rows(scorer: Scorer, frame: pd.DataFrame, users: Users, weight: float, scope: str
                       ) -> tuple[list, list]:
    """Per-row component contributions and sentences for a recommend() result."""
    position = {label: i for i, label in enumerate(users.labels)}
    contributions, sentences = [None] * len(frame), [None] * len(frame)
    item_index = scorer.data.item_index(frame[scorer.columns["item"]].tolist())
    for label, rows in frame.groupby(scorer.columns["user"], sort=False).indices.items():
        one = users.take([position[label]])
        for row, result in zip(rows, explain_items(scorer, one, item_index[rows].tolist(), weight, 3, scope)):
            contributions[row] = {n: c["contribution"] for n, c in result["components"].items()}
            sentences[row] = result["sentence"]
    return contributions, sentences
