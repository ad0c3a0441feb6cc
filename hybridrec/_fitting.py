"""Fitting a recommender's components: parameters checked first, texts encoded once, the data
frozen, then every component with a weight > 0 fitted on the same read-only training data."""
from __future__ import annotations

import logging
import time
import warnings
from typing import Any

from sklearn.base import clone
from tqdm import tqdm

from ._validation import check_choice, check_fraction, check_positive_int
from ._auto import AUTO
from .model_selection import AUTO_TARGETS
from .blend import NORMALIZATIONS, check_weights, default_weights
from .components import TEXT, Component, TrainingData
from .data import InteractionData
from .modalities import require_blocks
from .screening import SCREEN_MODES
from .text import fit_encoder

logger = logging.getLogger("hybridrec.recommender")


def check_fit_params(model: Any, ordered: bool = True) -> tuple[list[tuple[str, Component]], dict[str, float]]:
    """Check a recommender's parameters (before any slow step); return the components to fit and the weights.

    ``ordered``: the interactions have a meaningful order (else a component that reads the
    order gets no default weight). With ``weights="auto"`` every component gets weight 1 (the
    trial fit's weights; the blend is chosen afterwards).
    """
    auto = model.weights == AUTO
    for name in ("cross_domain_weight", "normalization"):
        if getattr(model, name) == AUTO and not auto:
            raise ValueError(f"{name}='auto' is chosen together with the blend weights: set weights='auto' too.")
    if model.cross_domain_weight != AUTO:
        check_fraction(model.cross_domain_weight, "cross_domain_weight", "HybridRecommender")
    if model.normalization != AUTO:
        check_choice(model.normalization, "normalization", NORMALIZATIONS, "HybridRecommender")
    check_positive_int(model.batch_size, "batch_size", "HybridRecommender")
    check_choice(model.screen_texts, "screen_texts", SCREEN_MODES, "HybridRecommender")
    check_choice(model.auto_target, "auto_target", AUTO_TARGETS, "HybridRecommender")
    comps = model.named_components()
    names = [n for n, _ in comps]
    if auto:  # every component is tried (one that reads the order only on ordered interactions)
        weights = {n: 0.0 if not ordered and c.reads_order() else 1.0 for n, c in comps}
    else:
        weights = check_weights(model.weights, names, default_weights(comps, ordered))
    if model.text_weights is not None:
        check_weights(model.text_weights, names, where="The 'text_weights' parameter of HybridRecommender")
    active = [(name, comp) for name, comp in comps if weights[name] > 0]
    for _, comp in active:
        comp.check_params()  # fail before minutes of text encoding, not after
    return active, weights


def encode_texts(data: InteractionData, active: list[tuple[str, Component]], encoder: Any,
                 show_progress: bool) -> Any:
    """Add the ``"text"`` blocks to ``data`` when a component reads text; return the fitted encoder (or None).

    A ``"text"`` block already there (given, or encoded before by ``weights="auto"``) is kept.
    """
    require_blocks(active, data.item_blocks)
    readers = [name for name, comp in active if TEXT in comp.modalities()]
    if readers and TEXT not in data.item_blocks and not any(data.item_texts):
        # the caller can act on it (pass the items table, or leave those components out): a UserWarning
        warnings.warn(f"No item has a text (was the items table left out?): {', '.join(readers)} read item texts "
                      "and will see nothing. Pass items=... with a text column, or give them weight 0.",
                      UserWarning, stacklevel=4)
    encoder = fit_encoder(encoder, show_progress) if readers else None
    if encoder is not None:
        if TEXT not in data.item_blocks:
            data.catalogue = data.catalogue.with_blocks({TEXT: encoder.encode(data.item_texts), **data.item_blocks})
        if TEXT not in data.user_blocks and data.user_texts is not None and any(data.user_texts):
            data.user_blocks = {TEXT: encoder.encode(data.user_texts), **data.user_blocks}
    return encoder


def fit_components(data: InteractionData, active: list[tuple[str, Component]], encoder: Any,
                   random_state: int | None, show_progress: bool) -> tuple[dict[str, Component], Any]:
    """Encode ``data``'s texts when a component reads text, freeze ``data``, fit clones of ``active``.

    Returns the fitted components by name (each with ``fit_seconds_``) and the fitted text
    encoder (None when no component reads text).
    """
    encoder = encode_texts(data, active, encoder, show_progress)
    data.freeze()  # components learn from the histories; none may rewrite them
    training = TrainingData(
        matrix=data.matrix, item_domain=data.item_domain, item_blocks=data.item_blocks,
        user_blocks=data.user_blocks, item_ids=data.item_ids, user_ids=data.user_ids,
        sequences=data.sequences, random_state=random_state, show_progress=show_progress,
    )
    fitted = {}
    bar = tqdm(active, desc="fit", unit="component", disable=not show_progress)
    for name, comp in bar:
        bar.set_postfix_str(name)
        start = time.perf_counter()
        fitted[name] = clone(comp).fit(training)
        fitted[name].fit_seconds_ = time.perf_counter() - start
        logger.info("Fitted component %r in %.1fs", name, fitted[name].fit_seconds_)
    return fitted, encoder
