"""EASE refuses a dense fit that would not fit in memory, before allocating it."""
from __future__ import annotations

import pytest

import hybridrec as hr
import hybridrec._validation as validation
from hybridrec.components import EASEComponent


def test_an_oversize_ease_refuses_with_a_clear_message(sample, monkeypatch):
    model = hr.HybridRecommender(components=[("ease", EASEComponent(min_count=2))], random_state=0)
    monkeypatch.setattr(validation, "available_memory", lambda: 2**20)  # 1 MiB free
    with pytest.raises(ValueError, match=r"EASEComponent on [\d,]+ items would need about .* GiB .* lower max_items"):
        model.fit(sample.interactions)
    monkeypatch.setattr(validation, "available_memory", lambda: 2**40)
    fitted = model.fit(sample.interactions)
    assert fitted.components_["ease"].B_.shape[0] > 100
