"""recommend(..., output="arrays"): the same lists and scores as the frame, as arrays (the server's path)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import hybridrec as hr


def _entries(top: hr.TopItems) -> list[tuple]:
    out = []
    for user, positions, ids, scores, domains in zip(top.users, top.positions, top.item_ids, top.scores, top.domains):
        for rank, (pos, item, score, domain) in enumerate(zip(positions, ids, scores, domains), start=1):
            if pos >= 0:
                out.append((user, item, round(float(score), 9), rank, domain))
            else:  # padding only after the last item
                assert item is None and np.isnan(score) and domain is None
    return out


def _rows(frame: pd.DataFrame, user_column: str = "user_id") -> list[tuple]:
    return [(u, i, round(float(s), 9), int(r), d)
            for u, i, s, r, d in frame[[user_column, "item_id", "score", "rank", "domain"]].itertuples(index=False)]


@pytest.mark.parametrize("kwargs", [{}, {"domain": "drama", "k": 7}, {"cross_domain_weight": 0.2, "k": 25},
                                    {"domain": "family", "k": 300}, {"exclude_seen": False, "k": 3}])
def test_known_users_arrays_are_the_frame(fitted_sample_model, kwargs):
    model = fitted_sample_model
    users = list(model.data_.user_ids[:6])
    top = model.recommend(users, output="arrays", **kwargs)
    assert top.positions.shape == top.scores.shape == top.item_ids.shape == (6, min(kwargs.get("k", 10), 300))
    assert list(top.users) == users
    assert _entries(top) == _rows(model.recommend(users, **kwargs))
    found = top.positions[top.positions >= 0]
    assert list(model.data_.item_ids[found]) == [i for i in top.item_ids.ravel() if i is not None]


def test_padded_rows_when_a_domain_runs_out(fitted_sample_model):
    model = fitted_sample_model
    top = model.recommend(model.data_.user_ids[0], domain="family", k=300, output="arrays")
    n_family = len(model.data_.items_in_domain(model.data_.domain_code("family")))
    valid = int((top.positions[0] >= 0).sum())
    assert valid < 300 and valid <= n_family
    assert (top.positions[0, valid:] == -1).all() and np.isnan(top.scores[0, valid:]).all()


def test_new_users_with_weights_and_queries_arrays_are_the_frame(fitted_sample_model, sample):
    model = fitted_sample_model
    rows = sample.interactions.head(40)[["user_id", "item_id"]].copy()
    rows["user_id"] = rows["user_id"].map(lambda u: ("visitor", int(u)))  # tuple ids, weights other than 1
    rows["weight"] = np.arange(len(rows)) % 3 + 1.0
    top = model.recommend_new(rows, k=8, output="arrays")
    assert _entries(top) == _rows(model.recommend_new(rows, k=8))
    queries = ["a heist with a clever twist", "a gentle family film"]
    top = model.recommend_for_text(queries, k=5, domain="thriller", output="arrays")
    assert list(top.users) == queries
    assert _entries(top) == _rows(model.recommend_for_text(queries, k=5, domain="thriller"), "query")


def test_output_is_checked(fitted_sample_model):
    user = fitted_sample_model.data_.user_ids[0]
    with pytest.raises(ValueError, match="'output' parameter must be one of"):
        fitted_sample_model.recommend(user, output="table")
    with pytest.raises(ValueError, match="cannot return output='arrays'"):
        fitted_sample_model.recommend(user, explain=True, output="arrays")
