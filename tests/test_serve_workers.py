"""Several server workers over one memory-mapped model: load(mmap=True), shared lists, ``serve --workers``."""
from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import hybridrec as hr

pytest.importorskip("fastapi", reason="the server needs the serve extra: pip install 'hybridrec[serve]'")

from hybridrec.serve._lists import KnownLists  # noqa: E402

from test_serve import _free_port, _wait_for  # noqa: E402


@pytest.fixture(scope="module")
def saved(fitted_sample_model, tmp_path_factory) -> Path:
    return hr.save(fitted_sample_model, tmp_path_factory.mktemp("workers") / "m.hybridrec")


def _mapped_arrays(model) -> int:
    """How many of the model's arrays (its data's blocks and matrix, its components' attributes) are maps."""
    def is_map(value) -> bool:
        while isinstance(value, np.ndarray):
            if isinstance(value, np.memmap):
                return True
            value = value.base
        return False

    arrays = [*model.data_.item_blocks.values(), model.data_.matrix.data, model.data_.matrix.indices]
    for comp in model.components_.values():
        arrays += [v for v in vars(comp).values() if isinstance(v, np.ndarray)]
    return sum(is_map(a) for a in arrays)


def test_a_mapped_model_ranks_as_the_read_one_and_never_writes_its_file(saved, fitted_sample_model):
    digest = hashlib.sha256(saved.read_bytes()).hexdigest()
    read, mapped = hr.load(saved), hr.load(saved, mmap=True)
    assert _mapped_arrays(read) == 0 and _mapped_arrays(mapped) >= 3
    users = list(fitted_sample_model.data_.user_ids[:25])
    pd.testing.assert_frame_equal(mapped.recommend(users, k=10), read.recommend(users, k=10))
    history = pd.DataFrame({"user_id": ["n"] * 3, "item_id": list(fitted_sample_model.data_.item_ids[:3])})
    pd.testing.assert_frame_equal(mapped.recommend_new(history, k=5), read.recommend_new(history, k=5))
    factors = mapped.components_["als"].trained_factors_
    assert factors.flags.writeable and factors.flags.aligned  # copy-on-write: compiled routines get writable buffers ...
    factors[0] = 0.0
    assert hashlib.sha256(saved.read_bytes()).hexdigest() == digest  # ... and a write never reaches the file
    assert hr.load(saved, mmap=True).components_["als"].trained_factors_[0].any()  # a new map reads the file's values
    assert not mapped.data_.item_blocks["text"].flags.writeable  # the training data is read-only, as after fit
    with pytest.raises(ValueError, match="cannot be mapped"):
        hr.load(saved, format="joblib", mmap=True)


def test_saved_lists_map_back_to_the_same_lists(saved, fitted_sample_model, tmp_path):
    model = hr.load(saved, mmap=True)
    lists = KnownLists(model, 20)
    mapped = KnownLists.mapped(model, lists.save(tmp_path / "lists"))
    assert mapped.serves(model, 20) and not mapped.serves(model, 21)
    for domain in lists.positions:
        np.testing.assert_array_equal(mapped.positions[domain], lists.positions[domain])
        np.testing.assert_array_equal(mapped.scores[domain], lists.scores[domain])
    user = model.data_.user_ids[3]
    assert mapped.top(user, None, 5).item_ids.tolist() == lists.top(user, None, 5).item_ids.tolist()
    other = hr.HybridRecommender(components=[("als", hr.components.create("als", factors=4, iterations=1))],
                                 random_state=0).fit(pd.DataFrame({"user_id": [1, 2], "item_id": ["a", "b"]}))
    with pytest.raises(ValueError, match="were computed for"):
        KnownLists.mapped(other, tmp_path / "lists")


@pytest.mark.parametrize("flag", ["--allow-fold-in", "--allow-updates", "--allow-reload"])
def test_workers_refuse_what_one_process_would_keep_to_itself(saved, flag, capsys):
    from hybridrec.cli import main

    assert main(["serve", "--model", str(saved), "--workers", "2", flag]) == 2
    err = capsys.readouterr().err
    assert "workers > 1" in err and flag.lstrip("-").replace("-", "_") in err
    assert main(["serve", "--model", str(saved), "--workers", "0"]) == 2
    assert "--workers must be a positive integer" in capsys.readouterr().err


def _children(pid: int) -> list[int]:
    out = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":\t", 1) for line in status.read_text().splitlines() if ":\t" in line)
        except OSError:
            continue
        if fields.get("PPid", "").strip() == str(pid):
            out.append(int(status.parent.name))
    return out


@pytest.mark.integration  # server processes
@pytest.mark.skipif(not Path("/proc").exists(), reason="counts worker processes through /proc")
def test_two_workers_answer_as_the_model_and_metrics_add_up(saved, fitted_sample_model):
    import httpx

    port = _free_port()
    process = subprocess.Popen([sys.executable, "-m", "hybridrec.cli", "serve", "--model", str(saved), "--port", str(port),
                                "--workers", "2"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for(f"{url}/health", process, seconds=180)
        users = list(fitted_sample_model.data_.user_ids[:30])
        with httpx.Client(base_url=url) as client:
            for user in users:  # new connections spread over both workers
                got = httpx.get(f"{url}/recommend", params={"user": str(user), "k": 5}).json()
                assert [r["item_id"] for r in got["items"]] == fitted_sample_model.recommend(user, k=5)["item_id"].tolist()
            text = client.get("/metrics").text
        served = sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                     if line.startswith("hybridrec_requests_total") and 'route="/recommend"' in line)
        assert served == len(users)  # counted by whichever worker answered, added up at the scrape
        assert f"hybridrec_model_items {float(fitted_sample_model.data_.n_items)}" in text
        workers = [pid for pid in _children(process.pid)
                   if "spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")]
        assert len(workers) == 2
    finally:
        process.terminate()
        process.wait(timeout=60)
