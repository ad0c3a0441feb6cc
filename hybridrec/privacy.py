"""A fitted model without its users' data, for ``save(..., include_user_data=False)``."""
from __future__ import annotations

import copy
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.utils.validation import check_is_fitted

from .sequences import Sequences


def without_user_data(model: Any) -> Any:
    """A shallow copy of a fitted model that keeps no user ids, histories, texts or user rows.

    The copy shares the item-side arrays with ``model`` (nothing is duplicated, ``model`` is
    unchanged). It still serves text queries (``recommend_for_text``), posted histories
    (``recommend_new``, ``score_new``, ``fold_in_users``) and catalogue changes (``add_items``,
    ``remove_items``); what it can no longer do is recommend for, predict for or explain the
    training users by id, since their histories are gone. Learned weights (factors, the tower's
    networks, ridge maps) were fitted on those users and are kept.

    Parameters
    ----------
    model : HybridRecommender
        Fitted.

    Returns
    -------
    HybridRecommender
    """
    check_is_fitted(model, "components_", msg="save(include_user_data=False) needs a fitted HybridRecommender.")
    out = copy.copy(model)
    data = out.data_ = copy.copy(model.data_)
    data.user_ids = model.data_.user_ids[:0]
    data.matrix = sp.csr_matrix((0, data.n_items), dtype=np.float32)
    data.user_texts = None
    data.user_blocks = {name: block[:0] for name, block in model.data_.user_blocks.items()}
    data.sequences = Sequences.empty(0)
    out.components_ = {name: _without_users(comp) for name, comp in model.components_.items()}
    return out


def _without_users(component: Any) -> Any:
    names = getattr(component, "user_attributes", ())
    if not names:
        return component
    out = copy.copy(component)
    for name in names:
        if getattr(component, name, None) is not None:
            setattr(out, name, getattr(component, name)[:0])
    return out
