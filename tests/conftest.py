"""Shared fixtures: the bundled sample, ../shared/datasets, a per-session embedding cache."""
from __future__ import annotations

import os
from pathlib import Path

# Under pytest-xdist (the README runs ``-n 2``) each worker process gets one BLAS, OpenMP and
# torch thread, so two workers share two cores instead of oversubscribing them. Set before
# numpy and torch are imported; an explicit setting wins.
if os.environ.get("PYTEST_XDIST_WORKER"):
    for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(_var, "1")

import pytest  # noqa: E402

import hybridrec as hr  # noqa: E402

#: ../shared/datasets beside the checkout (read-only; absent on some machines).
SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"


@pytest.fixture(scope="session", autouse=True)
def _embedding_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Point the default embedding cache at a per-session folder (never ~/.cache)."""
    folder = tmp_path_factory.mktemp("embedding-cache")
    old = os.environ.get("HYBRIDREC_CACHE_DIR")
    os.environ["HYBRIDREC_CACHE_DIR"] = str(folder)
    yield folder
    if old is None:
        os.environ.pop("HYBRIDREC_CACHE_DIR", None)
    else:
        os.environ["HYBRIDREC_CACHE_DIR"] = old


def shared_dataset(name: str) -> Path:
    """Path of a dataset in ../shared/datasets, or skip the test with a clear message."""
    path = SHARED / name
    if not path.exists():
        pytest.skip(f"{path} is absent: this test needs the shared dataset {name!r} (see ../shared/datasets/README.md)")
    return path


@pytest.fixture(scope="session")
def sample() -> hr.datasets.Dataset:
    """The sample bundled in the package (MovieLens latest-small in three genre domains)."""
    return hr.datasets.load_sample()


@pytest.fixture(scope="session")
def fitted_sample_model(sample: hr.datasets.Dataset) -> hr.HybridRecommender:
    """A default HybridRecommender fitted once per session on the sample (LightFM kept short)."""
    model = hr.HybridRecommender(random_state=0).set_params(lightfm__epochs=5)
    return model.fit(sample.interactions, items=sample.items, users=sample.users)
