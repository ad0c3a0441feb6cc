"""hybridrec.spark in local mode: setup checks, encoding, ALS, batch recommendation, errors.

Needs pyspark (the ``test`` extra installs it) and Java 17+; without either, every test here
skips with a message naming what is missing.
"""
from __future__ import annotations

import os
import stat

import numpy as np
import pandas as pd
import pytest

import hybridrec as hr
from hybridrec.components import ALSComponent
from hybridrec.evaluation import evaluate, random_split

pyspark = pytest.importorskip("pyspark", reason="pyspark is not installed: pip install 'hybridrec[spark]'")
pytestmark = pytest.mark.integration  # a local Spark session per module: minutes
from hybridrec.spark import (  # noqa: E402
    SparkALSComponent, SparkSetupError, check_java, encode_texts, java_version, recommend_spark, session,
    spark_als_params,
)

if (java_version() or 0) < 17:
    pytest.skip(f"Spark 4 needs Java 17+; found {java_version() or 'no java'} (install openjdk-17-jre-headless)",
                allow_module_level=True)


@pytest.fixture(scope="module")
def spark():
    return session("local[2]")


def _ndcg(model, split) -> float:
    frame = evaluate(model, split)
    return float(frame[(frame["domain"] == "all") & (frame["group"] == "all") & (frame["metric"] == "ndcg")]["value"].iloc[0])


def test_session_runs_workers_on_this_python_with_capped_threads(spark):
    assert os.environ["PYSPARK_PYTHON"] == os.sys.executable
    assert session() is spark  # reused, not rebuilt
    from pyspark.sql.functions import udf

    env = udf(lambda _: f"{os.environ.get('OMP_NUM_THREADS')}|{os.sys.executable}")
    seen = spark.range(2).select(env("id").alias("env")).toPandas()["env"].unique()
    assert list(seen) == [f"1|{os.sys.executable}"]


def test_missing_or_old_java_is_refused_with_install_advice(tmp_path, monkeypatch):
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(SparkSetupError, match=r"Java 17 or later, and no `java` was found.*openjdk-17"):
        check_java()
    java = tmp_path / "java"
    java.write_text('#!/bin/sh\necho \'openjdk version "11.0.2" 2019-01-15\' >&2\n')
    java.chmod(java.stat().st_mode | stat.S_IEXEC)
    with pytest.raises(SparkSetupError, match="found is Java 11"):
        check_java()
    java.write_text('#!/bin/sh\necho \'java version "1.8.0_392"\' >&2\n')
    with pytest.raises(SparkSetupError, match="found is Java 8"):
        check_java()


def test_spark_encoder_gives_the_local_vectors_and_fills_the_shared_cache(spark, sample, tmp_path):
    texts = sample.items[["item_id", "text"]].head(40)
    fresh = encode_texts(spark.createDataFrame(texts), "text", hr.TextEncoder(cache_dir=tmp_path)).toPandas()
    ours = np.stack(fresh.sort_values("item_id")["embedding"].to_numpy())
    local = hr.TextEncoder(cache_dir=None).encode(texts["text"].tolist())
    np.testing.assert_allclose(ours, local, atol=1e-5)
    # The workers wrote the cache: a local encoder over it finds every text.
    from hybridrec._cache import EmbeddingCache, text_key

    keys = [text_key(t) for t in texts["text"]]
    found, _ = EmbeddingCache(tmp_path).get(hr.TextEncoder().model_key, keys)
    assert set(found) == set(keys)


def test_recommend_spark_equals_local_recommend(spark, fitted_sample_model, sample):
    users = sample.interactions["user_id"].unique()
    frame = spark.createDataFrame(pd.DataFrame({"user_id": users})).repartition(3)
    for domain in ("family", None):
        remote = recommend_spark(fitted_sample_model, frame, k=7, domain=domain).toPandas()
        local = fitted_sample_model.recommend(list(users), k=7, domain=domain)
        key = ["user_id", "rank"]
        remote = remote.sort_values(key).reset_index(drop=True)
        local = local.sort_values(key).reset_index(drop=True)
        assert list(remote.columns) == ["user_id", "item_id", "score", "rank", "domain"]
        assert np.array_equal(remote["item_id"].to_numpy(), local["item_id"].to_numpy())
        # Same items and ranks; scores to float32 rounding (a partition is a smaller BLAS batch).
        np.testing.assert_allclose(remote["score"].to_numpy(), local["score"].to_numpy(), rtol=1e-5)


def test_recommend_spark_broadcasts_a_model_once_per_fitted_state(spark, sample):
    """Repeated calls share one broadcast (a large model broadcast per call filled the driver heap);
    a changed model is broadcast afresh, so its lists follow the change."""
    from hybridrec.spark._recommend import _SHARED

    model = hr.HybridRecommender(components=[("als", ALSComponent(factors=8, iterations=3))], random_state=0,
                                 show_progress=False).fit(sample.interactions, items=sample.items)
    frame = spark.createDataFrame(pd.DataFrame({"user_id": sample.interactions["user_id"].unique()[:20]}))
    recommend_spark(model, frame, k=5).count()
    first = _SHARED[model][2]
    recommend_spark(model, frame.repartition(4), k=3).count()
    assert _SHARED[model][2] is first
    newcomer = int(sample.interactions["user_id"].max()) + 1
    model.fold_in_users(sample.interactions[sample.interactions["user_id"] == frame.first()["user_id"]]
                        .assign(user_id=newcomer))
    remote = recommend_spark(model, spark.createDataFrame(pd.DataFrame({"user_id": [newcomer]})), k=5).toPandas()
    assert _SHARED[model][2] is not first
    assert remote["item_id"].tolist() == model.recommend(newcomer, k=5)["item_id"].tolist()


def test_spark_als_scores_within_ten_percent_of_implicit(spark, sample):
    split = random_split(sample.interactions, test_size=0.2, seed=0, items=sample.items)
    params = {"factors": 32, "regularization": 0.1, "alpha": 10.0, "iterations": 10}
    ndcg = {}
    for name, comp in (("implicit", ALSComponent(**params)), ("spark", SparkALSComponent(**params))):
        model = hr.HybridRecommender(components=[("als", comp)], random_state=0, show_progress=False)
        ndcg[name] = _ndcg(model.fit(split.train, items=split.items), split)
    assert ndcg["spark"] >= 0.9 * ndcg["implicit"] > 0.05, ndcg


def test_a_spark_als_model_folds_in_explains_and_round_trips(spark, sample, tmp_path):
    model = hr.HybridRecommender(components=[("als", SparkALSComponent(factors=16, iterations=5))],
                                 random_state=0, show_progress=False).fit(sample.interactions, items=sample.items)
    users = sample.interactions["user_id"].unique()[:5].tolist()
    before = model.recommend(users, k=5, domain="drama", cross_domain_weight=0.3)
    hr.save(model, tmp_path / "m.hybridrec")
    again = hr.load(tmp_path / "m.hybridrec")
    pd.testing.assert_frame_equal(again.recommend(users, k=5, domain="drama", cross_domain_weight=0.3), before)
    history = sample.interactions[sample.interactions["user_id"] == users[0]].assign(user_id="new")
    model.fold_in_users(history)
    assert len(model.recommend("new", k=5)) == 5
    assert "als" in model.explain(users[0], before["item_id"].iloc[0])["sentence"]


def test_parameters_map_to_spark_meanings():
    import scipy.sparse as sp

    from hybridrec.components.als_backends import ALSParams

    matrix = sp.csr_matrix(np.ones((4, 5), np.float32))  # 5 interactions per user
    mapped = spark_als_params(ALSParams(8, 0.5, 10.0, 3, 1, 0), matrix)
    assert mapped == {"rank": 8, "maxIter": 3, "alpha": 9.0, "regParam": 0.1, "implicitPrefs": True,
                      "nonnegative": False, "seed": 1}


def test_bad_input_gets_a_clear_error(spark, fitted_sample_model, sample):
    frame = spark.createDataFrame(pd.DataFrame({"user_id": [1, 2]}))
    with pytest.raises(TypeError, match="pyspark.sql.DataFrame.*createDataFrame"):
        recommend_spark(fitted_sample_model, pd.DataFrame({"user_id": [1]}))
    with pytest.raises(ValueError, match=r"no column\(s\) \['customer'\]"):
        recommend_spark(fitted_sample_model, frame, user_col="customer")
    with pytest.raises(ValueError, match="not fitted"):
        recommend_spark(hr.HybridRecommender(), frame)
    with pytest.raises(ValueError, match="Unknown domain 'garden'"):
        recommend_spark(fitted_sample_model, frame, domain="garden")
    with pytest.raises(ValueError, match="'k' parameter"):
        recommend_spark(fitted_sample_model, frame, k=0)
    with pytest.raises(ValueError, match="cross_domain_weight"):
        recommend_spark(fitted_sample_model, frame, cross_domain_weight=1.5)
    with pytest.raises(ValueError, match=r"no column\(s\) \['title'\]"):
        encode_texts(spark.createDataFrame(sample.items[["item_id", "text"]].head(3)), "title")
    stranger = spark.createDataFrame(pd.DataFrame({"user_id": [1, 10**9]}))
    out = recommend_spark(fitted_sample_model, stranger, k=3, unknown="skip").toPandas()
    assert set(out["user_id"]) == {1}


def test_fit_spark_matches_a_local_fit(spark, sample, tmp_path):
    from hybridrec.components import ItemKNNComponent, SemanticComponent
    from hybridrec.spark import fit_spark

    def model():
        return hr.HybridRecommender(components=[("itemknn", ItemKNNComponent()), ("semantic", SemanticComponent())],
                                    random_state=0, show_progress=False)

    doubled = pd.concat([sample.interactions, sample.interactions.head(500)])  # repeats: summed on Spark
    local = model().fit(doubled, items=sample.items, users=sample.users)
    remote = fit_spark(model(), spark.createDataFrame(doubled), spark.createDataFrame(sample.items),
                       spark.createDataFrame(sample.users))
    assert remote.data_.matrix.nnz == local.data_.matrix.nnz and remote.data_.matrix.sum() == local.data_.matrix.sum()
    users = sample.interactions["user_id"].unique()[:50].tolist()
    key = ["user_id", "rank"]
    a = remote.recommend(users, k=10, domain="thriller").sort_values(key).reset_index(drop=True)
    b = local.recommend(users, k=10, domain="thriller").sort_values(key).reset_index(drop=True)
    assert np.array_equal(a["item_id"].to_numpy(), b["item_id"].to_numpy())
    # Without a component that reads text, nothing is encoded: the cache folder stays empty.
    behaviour = hr.HybridRecommender(components=[("itemknn", ItemKNNComponent())],
                                     encoder=hr.TextEncoder(cache_dir=tmp_path / "cache"), show_progress=False)
    fit_spark(behaviour, spark.createDataFrame(doubled), spark.createDataFrame(sample.items))
    assert not (tmp_path / "cache").exists() and len(behaviour.recommend(users[:3], k=5)) == 15
    with pytest.raises(ValueError, match=r"no column\(s\) \['user_id'\]"):
        fit_spark(model(), spark.createDataFrame(doubled.rename(columns={"user_id": "u"})))
    with pytest.raises(TypeError, match="pyspark.sql.DataFrame"):
        fit_spark(model(), doubled)


def test_dense_index_numbers_rows_consecutively_on_the_workers(spark):
    from hybridrec.spark._index import dense_index

    frame = spark.range(1000).repartition(7).withColumnRenamed("id", "v")
    indexed = dense_index(frame, "_idx")
    first = indexed.toPandas()
    assert sorted(first["_idx"]) == list(range(1000)) and sorted(first["v"]) == list(range(1000))
    again = indexed.toPandas()  # recomputed: the checkpoint keeps every row's index
    pd.testing.assert_frame_equal(first.sort_values("v").reset_index(drop=True),
                                  again.sort_values("v").reset_index(drop=True))
    assert dense_index(spark.range(0), "_idx").count() == 0


def test_fit_spark_indexes_ids_on_spark_keeping_cold_users_and_catching_unknown_items(spark, sample):
    from hybridrec.components import ItemKNNComponent
    from hybridrec.spark import fit_spark

    def model():
        return hr.HybridRecommender(components=[("itemknn", ItemKNNComponent())], show_progress=False)

    users = pd.concat([sample.users, pd.DataFrame({"user_id": [10**6], "text": ["a cold user who likes space"]})])
    remote = fit_spark(model(), spark.createDataFrame(sample.interactions), spark.createDataFrame(sample.items),
                       spark.createDataFrame(users))
    local = model().fit(sample.interactions, items=sample.items, users=users)
    data, expected = remote.data_, local.data_
    assert set(data.user_ids) == set(expected.user_ids) and 10**6 in set(data.user_ids)
    assert list(data.item_ids) == list(expected.item_ids)  # the items table's order
    order = expected.user_index(data.user_ids)
    assert (data.matrix != expected.matrix[order]).nnz == 0
    assert [data.user_texts[i] for i in data.user_index([10**6, users["user_id"].iloc[0]])] == \
        ["a cold user who likes space", users["text"].iloc[0]]
    # Without an items table the items are those interacted with, indexed on Spark too.
    bare = fit_spark(model(), spark.createDataFrame(sample.interactions))
    assert set(bare.data_.item_ids) == set(sample.interactions["item_id"]) and bare.data_.matrix.nnz == expected.matrix.nnz
    stray = pd.concat([sample.interactions, pd.DataFrame({"user_id": [1], "item_id": [-5], "weight": [1.0],
                                                          "rating": [4.0], "timestamp": [0]})])
    with pytest.raises(ValueError, match=r"1 item ids that are not in items: \[-5\]"):
        fit_spark(model(), spark.createDataFrame(stray), spark.createDataFrame(sample.items))


def test_cli_recommend_spark_writes_parquet_equal_to_the_local_lists(spark, fitted_sample_model, tmp_path, capsys):
    from hybridrec.cli import main

    hr.save(fitted_sample_model, tmp_path / "m.hybridrec")
    pd.DataFrame({"user_id": [1, 2, 3]}).to_csv(tmp_path / "users.csv", index=False)
    code = main(["recommend", "--model", str(tmp_path / "m.hybridrec"), "--spark", "--users-table",
                 str(tmp_path / "users.csv"), "--k", "4", "--domain", "drama", "--out", str(tmp_path / "recs")])
    assert code == 0 and "wrote" in capsys.readouterr().out
    written = pd.read_parquet(tmp_path / "recs").sort_values(["user_id", "rank"]).reset_index(drop=True)
    local = fitted_sample_model.recommend([1, 2, 3], k=4, domain="drama").sort_values(["user_id", "rank"])
    assert written["item_id"].tolist() == local["item_id"].tolist()
    assert main(["recommend", "--model", str(tmp_path / "m.hybridrec"), "--spark"]) == 2
    assert "needs --out" in capsys.readouterr().err


def test_the_spark_example_runs():
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "examples" / "spark_local.py"
    result = subprocess.run([sys.executable, str(script)], env=dict(os.environ), capture_output=True, text=True,
                            timeout=900)
    assert result.returncode == 0, result.stderr[-4000:]
    assert "user 1, local and Spark agree: True" in result.stdout
    assert "for 609 users" in result.stdout or "for 610 users" in result.stdout, result.stdout


def test_import_hybridrec_stays_spark_free():
    import subprocess
    import sys

    code = "import sys, hybridrec, hybridrec.cli; print('pyspark' in sys.modules, 'py4j' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=dict(os.environ))
    assert out.stdout.split() == ["False", "False"], out.stderr[-2000:]


@pytest.mark.parametrize("params", [{}, {"k": 20, "shrink": 10.0, "alpha": 0.7, "per_domain": False}])
def test_spark_itemknn_keeps_the_local_neighbours(spark, sample, params, tmp_path):
    from hybridrec.spark import SparkItemKNNComponent

    local = hr.HybridRecommender(components=[("itemknn", hr.components.ItemKNNComponent(**params))],
                                 random_state=0).fit(sample.interactions, items=sample.items)
    remote = hr.HybridRecommender(components=[("itemknn", SparkItemKNNComponent(**params))],
                                  random_state=0).fit(sample.interactions, items=sample.items)
    ours, theirs = local.components_["itemknn"].similarity_.tocsr(), remote.components_["itemknn"].similarity_.tocsr()
    assert ours.shape == theirs.shape and ours.nnz == theirs.nnz > 0
    domain = local.data_.item_domain if params.get("per_domain", True) else np.zeros(ours.shape[0], int)
    swapped = 0
    for row in range(ours.shape[0]):
        a, b = ours[row], theirs[row]
        for code in np.unique(domain):
            ka, kb = domain[a.indices] == code, domain[b.indices] == code
            va, vb = np.sort(a.data[ka]), np.sort(b.data[kb])
            np.testing.assert_allclose(va, vb, rtol=1e-5, atol=1e-7)  # the same similarities are kept
            only = set(a.indices[ka]) ^ set(b.indices[kb])
            if only:  # a neighbour kept by one side only ties with the weakest one kept
                swapped += 1
                values = dict(zip(a.indices, a.data)) | dict(zip(b.indices, b.data))
                assert all(abs(values[j] - va[0]) <= 1e-5 * va[0] for j in only), (row, code)
    assert swapped < ours.shape[0]  # most rows agree item for item
    path = hr.save(remote, tmp_path / "spark_itemknn.hybridrec")
    loaded = hr.load(path)
    users = list(local.data_.user_ids[:5])
    pd.testing.assert_frame_equal(loaded.recommend(users, k=10), remote.recommend(users, k=10))


def test_spark_tower_in_one_process_is_the_local_fit(spark, sample, tmp_path):
    from hybridrec.spark import SparkTowerComponent

    params = {"encoder": "sequence", "dim": 32, "max_epochs": 1, "valid_users": 50}
    fits = [hr.HybridRecommender(components=[("tower", comp)], random_state=0).fit(sample.interactions, items=sample.items)
            for comp in (hr.components.TowerComponent(**params), SparkTowerComponent(num_processes=1, **params))]
    local, remote = (m.components_["tower"] for m in fits)
    np.testing.assert_array_equal(remote.item_vectors_, local.item_vectors_)
    assert remote.training_curve_[0]["loss"] == local.training_curve_[0]["loss"]
    assert remote.get_params()["num_processes"] == 1 and remote.get_params()["dim"] == 32
    loaded = hr.load(hr.save(fits[1], tmp_path / "spark_tower.hybridrec"))
    assert isinstance(loaded.components_["tower"], SparkTowerComponent)
    pd.testing.assert_frame_equal(loaded.recommend([1, 2], k=10), fits[0].recommend([1, 2], k=10))
    with pytest.raises(ValueError, match="'num_processes' parameter of SparkTowerComponent"):
        SparkTowerComponent(num_processes=0).check_params()


def test_spark_tower_in_two_processes_learns_as_the_local_one(spark, sample):
    from hybridrec.spark import SparkTowerComponent

    split = random_split(sample.interactions, seed=0, items=sample.items, users=sample.users)
    params = {"encoder": "sequence", "max_epochs": 4, "valid_users": 0}
    ndcg, curves = {}, {}
    for name, comp in (("local", hr.components.TowerComponent(**params)),
                       ("two", SparkTowerComponent(num_processes=2, **params))):
        model = hr.HybridRecommender(components=[(name, comp)], weights={name: 1.0}, random_state=0)
        ndcg[name] = _ndcg(model.fit(split.train, items=sample.items, users=sample.users), split)
        curves[name] = [r["loss"] for r in model.components_[name].training_curve_]
    # each step averages the gradients of two batches (one per process): the loss falls epoch after
    # epoch, and the test users' NDCG@10 is the local fit's up to noise (0.158 vs 0.167 when written)
    assert len(curves["two"]) == 4 and all(np.diff(curves["two"]) < 0), curves
    assert 0.8 * ndcg["local"] < ndcg["two"] < 1.25 * ndcg["local"], ndcg
