"""Ranking metrics: hand-computed cases, sklearn cross-checks, an independent per-user reference."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.metrics import ndcg_score, roc_auc_score

from hybridrec.evaluation import METRICS, coverage, ranking_metrics, top_k_items
from hybridrec.evaluation import metrics as metrics_module


def _csr(shape: tuple[int, int], cells: dict[int, list[int]]) -> sp.csr_matrix:
    rows = [r for r, cols in cells.items() for _ in cols]
    cols = [c for cs in cells.values() for c in cs]
    return sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=shape)


def _reference(scores: np.ndarray, relevant: sp.csr_matrix, exclude: sp.csr_matrix | None, k: int) -> np.ndarray:
    """Plain per-user Python, straight from the definitions (slow, for small arrays only)."""
    out = []
    for u in range(scores.shape[0]):
        s = scores[u]
        excluded = set(exclude[u].indices) if exclude is not None else set()
        valid = [j for j in range(len(s)) if j not in excluded]
        ranking = sorted(valid, key=lambda j: (-s[j], j))
        rel = set(relevant[u].indices) - excluded
        if not rel:
            out.append([np.nan] * len(METRICS) + [0])
            continue
        ranks = [r + 1 for r, j in enumerate(ranking) if j in rel]
        hits = [r for r in ranks if r <= k]
        dcg = sum(1 / np.log2(r + 1) for r in hits)
        idcg = sum(1 / np.log2(i + 2) for i in range(min(len(rel), k)))
        ap = sum((i + 1) / r for i, r in enumerate(sorted(hits))) / min(len(rel), k)
        negatives = [j for j in valid if j not in rel]
        wins = sum((s[p] > s[q]) + 0.5 * (s[p] == s[q]) for p in rel for q in negatives)
        auc = wins / (len(rel) * len(negatives)) if negatives else np.nan
        out.append([len(hits) / k, len(hits) / len(rel), dcg / idcg, ap, 1 / min(ranks), float(bool(hits)), auc, len(rel)])
    return np.array(out, dtype=float)


def test_hand_computed_metrics():
    scores = np.array(
        [
            [0.9, 0.8, 0.7, 0.6, 0.5, 0.4],
            [1.0, 2.0, 2.0, 0.0, 2.0, -1.0],
            [0.1, 0.2, 0.3, 0.4, 0.5, 0.6],
            [0.1, 0.2, 0.3, 0.4, 0.5, 0.6],
        ]
    )
    relevant = _csr((4, 6), {0: [1, 4], 1: [2, 3], 3: [5]})
    exclude = _csr((4, 6), {0: [0], 3: [5]})
    # k=3 for row 0, but one k for the call: use k=2 and k=3 separately.
    # Row 0, k=3: item 0 excluded; ranking 1,2,3,4,5; relevant {1,4} at ranks 1 and 4.
    #   P@3 = 1/3, R@3 = 1/2, DCG = 1/log2(2) = 1, IDCG = 1 + 1/log2(3), NDCG = 1/(1+1/log2 3) = 0.6131
    #   MAP@3 = (1/1) / min(2,3) = 0.5, MRR = 1/1, hit = 1
    #   AUC: negatives {2,3,5}: item 1 (0.8) beats 3, item 4 (0.5) beats only item 5 -> 4/6
    m3 = ranking_metrics(scores, relevant, exclude, k=3)
    expected0 = [1 / 3, 1 / 2, 1 / (1 + 1 / np.log2(3)), 0.5, 1.0, 1.0, 4 / 6, 2]
    np.testing.assert_allclose(m3.loc[0].to_numpy(dtype=float), expected0)
    # Row 1, k=2, ties broken by lower index: ranking 1 (2.0), 2 (2.0), 4 (2.0), 0, 3, 5
    #   relevant {2,3} at ranks 2 and 5; top-2 = [1, 2]: one hit at rank 2.
    #   P@2 = 1/2, R@2 = 1/2, DCG = 1/log2(3), IDCG = 1 + 1/log2(3); MAP@2 = (1/2)/2 = 0.25; MRR = 1/2
    #   AUC: negatives {0,1,4,5} = 1, 2, 2, -1. item 2 (2.0): beats 0 and 5, ties 1 and 4 -> 3;
    #   item 3 (0.0): beats 5 -> 1. (3 + 1) / 8 = 0.5
    m2 = ranking_metrics(scores, relevant, exclude, k=2)
    idcg = 1 + 1 / np.log2(3)
    expected1 = [0.5, 0.5, (1 / np.log2(3)) / idcg, 0.25, 0.5, 1.0, 0.5, 2]
    np.testing.assert_allclose(m2.loc[1].to_numpy(dtype=float), expected1)
    # Row 2 has no relevant items; row 3's only relevant item is excluded: both NaN, n_relevant 0.
    for frame in (m2, m3):
        assert list(frame.columns) == [*METRICS, "n_relevant"]
        assert frame.loc[[2, 3], list(METRICS)].isna().all().all()
        assert frame.loc[[2, 3], "n_relevant"].tolist() == [0, 0]
    np.testing.assert_array_equal(top_k_items(scores, exclude, k=3)[:2], [[1, 2, 3], [1, 2, 4]])


def test_mrr_uses_the_full_ranking_and_precision_divides_by_k():
    scores = np.arange(20, 0, -1, dtype=float)[None, :]  # item j has rank j + 1
    relevant = _csr((1, 20), {0: [14]})
    row = ranking_metrics(scores, relevant, k=10).loc[0]
    assert row["mrr"] == pytest.approx(1 / 15)
    assert row["hit_rate"] == 0 and row["recall"] == 0 and row["ndcg"] == 0
    # k larger than the catalogue: top-k is padded with -1 and P@k still divides by k
    small = ranking_metrics(scores[:, :3], _csr((1, 3), {0: [2]}), k=5).loc[0]
    assert small["precision"] == pytest.approx(1 / 5) and small["recall"] == 1
    np.testing.assert_array_equal(top_k_items(scores[:, :3], k=5), [[0, 1, 2, -1, -1]])


def test_ndcg_and_auc_match_sklearn_per_user():
    rng = np.random.default_rng(1)
    n_users, n_items, k = 40, 60, 7
    scores = rng.random((n_users, n_items))  # continuous: no ties
    truth = rng.random((n_users, n_items)) < 0.1
    truth[0, :] = False
    truth[0, 3] = True  # at least one user with a single relevant item
    ours = ranking_metrics(scores, sp.csr_matrix(truth), k=k)
    checked = 0
    for u in range(n_users):
        if truth[u].sum() == 0:
            assert np.isnan(ours.loc[u, "ndcg"])
            continue
        assert ours.loc[u, "ndcg"] == pytest.approx(ndcg_score(truth[u][None], scores[u][None], k=k))
        assert ours.loc[u, "auc"] == pytest.approx(roc_auc_score(truth[u], scores[u]))
        checked += 1
    assert checked > 30


def test_auc_with_ties_and_exclusions_matches_sklearn():
    rng = np.random.default_rng(2)
    scores = rng.integers(0, 5, size=(30, 25)).astype(float)  # many ties
    relevant = sp.csr_matrix(rng.random((30, 25)) < 0.2)
    exclude = sp.csr_matrix(rng.random((30, 25)) < 0.2)
    ours = ranking_metrics(scores, relevant, exclude, k=5)
    for u in range(30):
        keep = exclude[u].toarray()[0] == 0
        truth = relevant[u].toarray()[0][keep]
        if truth.sum() in (0, keep.sum()):
            continue
        assert ours.loc[u, "auc"] == pytest.approx(roc_auc_score(truth, scores[u][keep]))


@pytest.mark.parametrize("path", ["compare", "sort"])
def test_matches_per_user_reference_with_ties_exclusions_and_batches(path, monkeypatch):
    threshold = np.inf if path == "compare" else -1.0
    monkeypatch.setattr(metrics_module, "_SORT_PATH_MIN_RELEVANT", threshold)
    rng = np.random.default_rng(3)
    for trial in range(12):
        n_users, n_items = int(rng.integers(1, 12)), int(rng.integers(1, 30))
        if trial % 2:
            scores = rng.integers(0, 4, size=(n_users, n_items)).astype(np.float32)
        else:
            scores = rng.standard_normal((n_users, n_items))
        scores[rng.random(scores.shape) < 0.1] = -np.inf
        relevant = sp.csr_matrix(rng.random((n_users, n_items)) < 0.3)
        exclude = sp.csr_matrix(rng.random((n_users, n_items)) < 0.2) if trial % 3 else None
        k = int(rng.integers(1, 12))
        ours = ranking_metrics(scores, relevant, exclude, k=k, batch_size=int(rng.integers(1, 5)))
        np.testing.assert_allclose(ours.to_numpy(dtype=float), _reference(scores, relevant, exclude, k), equal_nan=True)


def test_top_k_agrees_with_ranks_and_breaks_ties_by_index():
    rng = np.random.default_rng(4)
    scores = rng.integers(0, 3, size=(50, 40)).astype(float)
    exclude = sp.csr_matrix(rng.random((50, 40)) < 0.3)
    top = top_k_items(scores, exclude, k=8, batch_size=7)
    for u in range(50):
        excluded = set(exclude[u].indices)
        expected = sorted((j for j in range(40) if j not in excluded), key=lambda j: (-scores[u, j], j))[:8]
        assert top[u][top[u] >= 0].tolist() == expected
    # all scores equal: the lowest indices win, excluded ones skipped
    flat = top_k_items(np.zeros((1, 6)), _csr((1, 6), {0: [0, 2]}), k=3)
    np.testing.assert_array_equal(flat, [[1, 3, 4]])
    # precision from ranking_metrics counts exactly the relevant items of top_k_items
    relevant = sp.csr_matrix(rng.random((50, 40)) < 0.25)
    hits = np.array([relevant[u, top[u][top[u] >= 0]].sum() for u in range(50)])
    frame = ranking_metrics(scores, relevant, exclude, k=8)
    has_rel = frame["n_relevant"].to_numpy() > 0
    np.testing.assert_allclose(frame["precision"].to_numpy()[has_rel], hits[has_rel] / 8)


def test_batch_size_and_dtype_do_not_change_results():
    rng = np.random.default_rng(5)
    scores = rng.random((300, 50)).astype(np.float32)
    relevant = sp.random(300, 50, density=0.05, random_state=5, format="csr")
    exclude = sp.random(300, 50, density=0.1, random_state=6, format="csr")
    a = ranking_metrics(scores, relevant, exclude, k=5, batch_size=1000)
    b = ranking_metrics(scores.astype(np.float64), relevant.toarray(), exclude, k=5, batch_size=17)
    pd.testing.assert_frame_equal(a, b)


def test_coverage():
    assert coverage(np.array([[0, 1, 2], [1, 2, 3], [3, -1, -1]]), 8) == pytest.approx(4 / 8)
    assert coverage(np.full((2, 3), -1), 5) == 0.0
    with pytest.raises(ValueError, match="n_candidates"):
        coverage(np.array([[0]]), 0)


def test_bad_inputs_raise_naming_the_parameter():
    scores = np.random.default_rng(0).random((3, 4))
    relevant = _csr((3, 4), {0: [1]})
    with pytest.raises(ValueError, match="'scores'.*2-D"):
        ranking_metrics(scores[0], relevant)
    bad = scores.copy()
    bad[1, 2] = np.nan
    with pytest.raises(ValueError, match="'scores'.*NaN"):
        ranking_metrics(bad, relevant)
    with pytest.raises(ValueError, match="'relevant'.*shape"):
        ranking_metrics(scores, _csr((3, 5), {0: [1]}))
    with pytest.raises(ValueError, match="'exclude'.*shape"):
        ranking_metrics(scores, relevant, exclude=_csr((2, 4), {0: [1]}))
    with pytest.raises(ValueError, match="'relevant'.*sparse"):
        ranking_metrics(scores, [[0, 1, 0, 0]] * 3)
    for k in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="'k'"):
            ranking_metrics(scores, relevant, k=k)
    with pytest.raises(ValueError, match="'batch_size'"):
        top_k_items(scores, k=2, batch_size=0)
