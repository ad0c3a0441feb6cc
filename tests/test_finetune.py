"""Fine-tuning the text encoder on consecutive-item text pairs (a few steps on the sample)."""
from __future__ import annotations

import numpy as np
import pytest

import hybridrec as hr
from hybridrec.finetune import text_pairs


@pytest.fixture(scope="module")
def pairs(sample) -> list[tuple[str, str]]:
    data = hr.InteractionData.from_frames(sample.interactions, sample.items)
    return text_pairs(data, max_pairs=64, seed=0)


def test_pairs_are_consecutive_items_of_one_user(sample, pairs):
    data = hr.InteractionData.from_frames(sample.interactions, sample.items)
    everything = text_pairs(data, max_pairs=None)
    assert len(pairs) == 64 and set(pairs) <= set(everything)
    events = data.sequences.user(0)
    texts = [data.item_texts[i] for i in events]
    first_user = {(a, b) for a, b in zip(texts, texts[1:]) if a and b and a != b}
    assert first_user <= set(everything)
    assert all(a and b and a != b for a, b in everything)


def test_fine_tune_saves_a_model_the_encoder_loads(pairs, tmp_path):
    base = hr.TextEncoder()
    tuned = base.fine_tune(pairs[:24], tmp_path / "tuned", batch_size=8, max_seconds=60)
    assert tuned.model == str(tmp_path / "tuned") and tuned.fine_tune_log_["steps"] == 3
    assert tuned.model_key != base.model_key and base.model is None
    texts = [pairs[0][0], pairs[1][1], "a quiet film about a lighthouse keeper"]
    before, after = base.encode(texts), tuned.encode(texts)
    assert after.shape == before.shape and np.isfinite(after).all()
    assert 0.9 < float(np.mean(np.sum(before * after, axis=1))) < 1.0  # moved, a little
    with pytest.raises(ValueError, match="not empty; pass overwrite=True"):
        base.fine_tune(pairs[:24], tmp_path / "tuned")
    first_key = tuned.model_key
    again = base.fine_tune(pairs[:16], tmp_path / "tuned", batch_size=8, overwrite=True)
    assert again.model_key != first_key  # saved again: the cache never serves the old model's vectors
    with pytest.raises(ValueError, match="at least 2 text pairs"):
        base.fine_tune(pairs[:1], tmp_path / "other")
