"""Faults: a corrupt or locked embedding cache, two processes filling one cache, many threads on one model.

(Saves killed mid-write and full disks are in test_safe_format.py and test_persistence.py.)
"""
from __future__ import annotations

import copy

import logging
import sqlite3
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pytest

import hybridrec as hr
import hybridrec._cache
from hybridrec._cache import EmbeddingCache, text_key

TEXTS = [f"a kitchen knife number {i}" for i in range(12)]


@pytest.fixture(scope="module")
def reference() -> np.ndarray:
    """The texts' vectors from an encoder without a cache."""
    return hr.TextEncoder(cache_dir=None, show_progress=False).encode(TEXTS)


def test_a_corrupt_cache_warns_re_encodes_and_is_rebuilt(tmp_path, reference, caplog):
    folder = tmp_path / "cache"
    folder.mkdir()
    (folder / "embeddings.sqlite").write_bytes(b"this is not a database" * 100)
    encoder = hr.TextEncoder(cache_dir=folder, show_progress=False)
    with caplog.at_level(logging.WARNING, logger="hybridrec"):
        vectors = encoder.encode(TEXTS)
    np.testing.assert_allclose(vectors, reference, atol=1e-6)
    assert "unreadable" in caplog.text and "Moved the corrupt embedding cache" in caplog.text
    assert (folder / "embeddings.sqlite.corrupt").exists()
    found, _ = EmbeddingCache(folder).get(encoder.model_key, [text_key(t) for t in TEXTS])
    assert len(found) == len(TEXTS)  # rebuilt: every vector is cached again


def test_a_locked_cache_warns_and_encodes_without_waiting_for_the_lock(tmp_path, reference, caplog, monkeypatch):
    folder = tmp_path / "cache"
    encoder = hr.TextEncoder(cache_dir=folder, show_progress=False)
    encoder.encode(TEXTS[:2])  # creates the database
    monkeypatch.setattr(hybridrec._cache, "LOCK_TIMEOUT", 0.2)
    holder = sqlite3.connect(folder / "embeddings.sqlite", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # another process in the middle of a write
    try:
        with caplog.at_level(logging.WARNING, logger="hybridrec"):
            start = time.perf_counter()
            vectors = encoder.encode(TEXTS)
            waited = time.perf_counter() - start
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    np.testing.assert_allclose(vectors, reference, atol=1e-6)
    assert "locked" in caplog.text and waited < 30
    assert (folder / "embeddings.sqlite").exists() and not (folder / "embeddings.sqlite.corrupt").exists()


_FILLER = """
import sys, hybridrec as hr
texts = [f"a kitchen knife number {i}" for i in range(int(sys.argv[2]), int(sys.argv[3]))]
for text in texts:  # one write per text: the two processes interleave their transactions
    hr.TextEncoder(cache_dir=sys.argv[1], show_progress=False).encode([text])
"""


def test_two_processes_filling_one_cache_lose_nothing(tmp_path, reference):
    folder = tmp_path / "cache"
    runs = [subprocess.Popen([sys.executable, "-c", _FILLER, str(folder), str(lo), str(hi)])
            for lo, hi in ((0, 8), (4, 12))]  # overlapping halves
    assert [run.wait(timeout=600) for run in runs] == [0, 0]
    found, _ = EmbeddingCache(folder).get(hr.TextEncoder().model_key, [text_key(t) for t in TEXTS])
    assert len(found) == len(TEXTS)
    np.testing.assert_allclose(np.stack([found[text_key(t)] for t in TEXTS]), reference, atol=1e-6)


def test_eight_threads_on_one_model_get_the_serial_results(fitted_sample_model, sample):
    model = fitted_sample_model
    users = sample.interactions["user_id"].drop_duplicates().tolist()[:64]
    queries = ["space adventure", "a funny family film", "crime in the city", "love story", "war", "animated toys"]
    calls = [("recommend", users[i::8], d) for i in range(8) for d in (None, "drama")] + \
            [("text", queries[i % len(queries)], d) for i in range(8) for d in (None, "thriller")]

    def run(call):
        kind, who, domain = call
        if kind == "recommend":
            return model.recommend(who, k=10, domain=domain, cross_domain_weight=0.4)
        return model.recommend_for_text(who, k=10, domain=domain)

    model = copy.copy(model)  # a copy has empty caches: the threads race to fill them
    with ThreadPoolExecutor(max_workers=8) as pool:
        together = list(pool.map(run, calls * 3))
    model = copy.copy(model)
    alone = [run(call) for call in calls * 3]
    for a, b in zip(together, alone):
        pd.testing.assert_frame_equal(a, b)
