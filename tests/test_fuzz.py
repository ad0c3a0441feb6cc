"""Fuzzing every public entry point with hypothesis (fast profile; benchmarks/fuzz.py runs 10,000+ cases).

Set HYBRIDREC_FUZZ_EXAMPLES to draw more cases per entry point.
"""
from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _fuzz import ENTRY_POINTS, check, small_model, snapshot

pytestmark = pytest.mark.integration  # hypothesis over every entry point

EXAMPLES = int(os.environ.get("HYBRIDREC_FUZZ_EXAMPLES", "12"))


@pytest.fixture(scope="module")
def model(sample):
    return small_model(sample)


@pytest.mark.parametrize("name", sorted(ENTRY_POINTS))
def test_odd_input_is_served_or_refused_cleanly_and_never_corrupts_the_model(model, name):
    before = snapshot(model)

    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(data=st.data())
    def run(data):
        check(name, model, before, data)

    run()
