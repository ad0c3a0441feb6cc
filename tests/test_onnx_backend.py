"""The quantised ONNX encoder: close to torch, exported once, kept apart in the cache."""
from __future__ import annotations

import numpy as np
import pytest

import hybridrec as hr

pytest.importorskip("onnxruntime", reason='the onnx-int8 backend needs onnxruntime (pip install "hybridrec[onnx]")')


def test_the_int8_encoder_is_close_to_torch_and_cached_apart(sample, tmp_path):
    titles = sample.items["text"].iloc[:200].tolist()
    torch_vectors = hr.TextEncoder(cache_dir=tmp_path).encode(titles)
    onnx = hr.TextEncoder(backend="onnx-int8", cache_dir=tmp_path)
    assert onnx.model_key != hr.TextEncoder().model_key and onnx.model_key.endswith("|onnx-int8")
    vectors = onnx.encode(titles)
    cosine = (vectors * torch_vectors).sum(axis=1)
    assert vectors.shape == torch_vectors.shape
    assert cosine.mean() >= 0.98 and cosine.min() >= 0.9
    assert not np.array_equal(vectors, torch_vectors)  # its own entries, not torch's cached ones
    exported = list(tmp_path.glob("onnx/*/model-int8.onnx"))
    assert len(exported) == 1
    stamp = exported[0].stat().st_mtime_ns
    again = hr.TextEncoder(backend="onnx-int8", cache_dir=tmp_path)
    np.testing.assert_array_equal(again.encode(titles[:5]), vectors[:5])  # from the cache
    np.testing.assert_allclose(again.encode(["a title never seen before"]),
                               onnx.encode(["a title never seen before"]), atol=1e-6)
    assert exported[0].stat().st_mtime_ns == stamp  # reused, not exported again


def test_a_bad_backend_is_refused():
    with pytest.raises(ValueError, match="'backend' parameter of TextEncoder"):
        hr.TextEncoder(backend="tensorrt", cache_dir=None).encode(["x"])
