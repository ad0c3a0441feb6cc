"""Execute the example notebooks end to end (nbclient, kernel ``python3``) and check what they show.

Each notebook runs in a fresh kernel from the ``notebooks/`` folder, with the environment of the
test process (so ``HYBRIDREC_CACHE_DIR`` from conftest's per-session embedding cache is used, and
``~/.cache`` is never touched). A cell error fails the test; the partly executed notebook is then
written to the test's ``tmp_path`` for a look. A probe cell appended to the in-memory copy reports
the kernel's environment and the notebook's final values as JSON.

- 01_quickstart and 03_cold_start use the bundled sample (about a minute each on 2 cores, less
  when the sample's embeddings are already in the session cache).
- 04_tower trains the tower on the sample (a minute or two).
- 02_cross_domain reads ../shared/datasets/amazon_food_kitchen_llmcdsr (skipped when absent) and
  runs in its quick mode (``HYBRIDREC_NOTEBOOK_QUICK=1``: a user subset, no text encoding; about
  a minute).
"""
from __future__ import annotations

import base64
import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

nbformat = pytest.importorskip("nbformat", reason="the notebook tests need nbformat: pip install -e '.[test]'")
nbclient = pytest.importorskip("nbclient", reason="the notebook tests need nbclient: pip install -e '.[test]'")
pytest.importorskip("ipykernel", reason="the notebook tests need ipykernel: pip install -e '.[test]'")
from nbclient.exceptions import CellExecutionError  # noqa: E402

from conftest import shared_dataset  # noqa: E402

pytestmark = pytest.mark.integration  # executes every notebook: minutes

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
#: Generous: a first run encodes the sample's 2,269 texts on 2 slow cores.
TIMEOUT = 900
PROBE_MARK = "__HYBRIDREC_PROBE__"


def _probe_cell(expression: str) -> Any:
    """A code cell that prints the kernel's cache dir and ``expression`` as one JSON line."""
    source = (
        "import json as _json, os as _os\n"
        f"print({PROBE_MARK!r} + _json.dumps({{'cache_dir': _os.environ.get('HYBRIDREC_CACHE_DIR'), "
        f"'quick': _os.environ.get('HYBRIDREC_NOTEBOOK_QUICK'), 'value': ({expression})}}, default=str))"
    )
    return nbformat.v4.new_code_cell(source)


def run_notebook(name: str, tmp_path: Path, probe: str = "None", env: dict[str, str] | None = None):
    """Execute notebooks/<name> in a fresh python3 kernel; return (notebook, probe JSON, seconds)."""
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    n_cells = len(nb.cells)
    nb.cells.append(_probe_cell(probe))
    client = nbclient.NotebookClient(
        nb, timeout=TIMEOUT, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}}
    )
    start = time.perf_counter()
    try:
        # The kernel gets exactly this environment: the test process's, plus the notebook's variables.
        client.execute(env={**os.environ, **(env or {})})
    except CellExecutionError:
        nbformat.write(nb, tmp_path / name)  # the partly executed notebook, to look at
        raise
    seconds = time.perf_counter() - start
    probe_out = "".join(o.get("text", "") for o in nb.cells[-1].get("outputs", []) if o.get("output_type") == "stream")
    assert PROBE_MARK in probe_out, f"the probe cell printed nothing useful: {probe_out!r}"
    state = json.loads(probe_out.split(PROBE_MARK, 1)[1])
    nb.cells = nb.cells[:n_cells]
    return nb, state, seconds


def outputs(nb, tag: str | None = None) -> list[dict]:
    """Outputs of every code cell (or only of the cells with ``tag``)."""
    cells = [c for c in nb.cells if c.cell_type == "code" and (tag is None or tag in c.metadata.get("tags", []))]
    if tag is not None:
        assert cells, f"no cell is tagged {tag!r}"
    return [o for c in cells for o in c.get("outputs", [])]


def text_of(outs: list[dict]) -> str:
    parts = []
    for out in outs:
        if out.get("output_type") == "stream":
            parts.append(out.get("text", ""))
        elif "data" in out:
            parts.append(out["data"].get("text/plain", ""))
    return "\n".join(parts)


def assert_common(nb, state: dict, name: str) -> None:
    """Every code cell ran, none left an error, and the kernel used the session's embedding cache."""
    assert state["cache_dir"] == os.environ["HYBRIDREC_CACHE_DIR"], "the kernel did not inherit HYBRIDREC_CACHE_DIR"
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        assert cell.get("execution_count") is not None, f"{name}: cell {i} did not run"
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        assert not errors, f"{name}: cell {i} failed: {errors[0].get('ename')}: {errors[0].get('evalue')}"
        assert "Traceback (most recent call last)" not in text_of(cell.get("outputs", [])), f"{name}: cell {i} printed a traceback"


def test_01_quickstart(tmp_path: Path, record_property) -> None:
    probe = (
        "{'weights': model.weights_, 'n_recs': len(recs), 'users': sorted(recs['user_id'].unique().tolist()), "
        "'domains': sorted(recs['domain'].unique().tolist()), 'new_user_rows': len(new), 'query_rows': len(query), "
        "'same_after_load': bool(before[['user_id', 'item_id', 'rank']].equals(after[['user_id', 'item_id', 'rank']])), "
        "'kib': path.stat().st_size // 1024}"
    )
    nb, state, seconds = run_notebook("01_quickstart.ipynb", tmp_path, probe)
    record_property("seconds", round(seconds, 1))
    assert_common(nb, state, "01_quickstart")
    value = state["value"]
    assert set(value["weights"]) == {"als", "lightfm", "semantic", "itemknn", "tower"}  # timestamps: the tower too
    assert value["n_recs"] == 10 and value["users"] == [1, 2] and value["domains"] == ["family"]
    assert value["new_user_rows"] == 5 and value["query_rows"] == 5
    assert value["same_after_load"] is True
    assert value["kib"] > 0
    # The explanation cell prints a sentence; the last cell shows the saved file's size.
    assert "scores" in text_of(outputs(nb)) and "for user 1" in text_of(outputs(nb))
    last = [c for c in nb.cells if c.cell_type == "code"][-1]
    assert text_of(last.outputs).strip() == f"'{value['kib']} KiB'"


def test_02_cross_domain_quick(tmp_path: Path, record_property) -> None:
    data = shared_dataset("amazon_food_kitchen_llmcdsr")
    env = {"HYBRIDREC_NOTEBOOK_QUICK": "1", "HYBRIDREC_DATA": str(data.parent)}
    nb, state, seconds = run_notebook("02_cross_domain.ipynb", tmp_path, "summary", env)
    record_property("seconds", round(seconds, 1))
    assert_common(nb, state, "02_cross_domain")
    assert state["quick"] == "1"

    # The sweep cell drew the figure, as a PNG.
    images = [o["data"]["image/png"] for o in outputs(nb, "cd-sweep") if "image/png" in o.get("data", {})]
    assert len(images) == 1
    assert base64.b64decode(images[0])[:8] == b"\x89PNG\r\n\x1a\n"

    summary = state["value"]
    assert summary["quick"] is True and summary["seed"] == 0
    assert summary["n_test_users"] == 937  # the official LLMCDSR test users, all active in both domains
    assert summary["n_candidates"] > 1000
    ndcg = summary["ndcg@10"]
    assert {"als alone", "itemknn alone", "popularity alone", "blend, untuned", "blend, tuned on valid"} <= set(ndcg)
    assert all(0.0 <= v <= 1.0 for v in ndcg.values()) and max(ndcg.values()) > 0
    # Tuned on the valid users, the blend still beats the popularity baseline on the test users.
    assert ndcg["blend, tuned on valid"] > ndcg["popularity alone"]
    assert set(summary["best_params"]) >= {"cross_domain_weight", "weights__als"}
    sweep = summary["cross_domain_sweep"]
    assert set(sweep) == {"CD-cold", "warm next-item"}
    cold = {float(w): v for w, v in sweep["CD-cold"].items()}
    assert sorted(cold) == [0.0, 0.25, 0.5, 0.75, 1.0]
    # With the kitchen history hidden, weight 0 knows nothing personal; the food history must help.
    assert max(v for w, v in cold.items() if w > 0) > cold[0.0]
    assert all(0.0 < v < 1.0 for v in sweep["warm next-item"].values())


def test_02_cross_domain_stops_clearly_without_data(tmp_path: Path) -> None:
    """With HYBRIDREC_DATA pointing at a folder without the data, the notebook stops with a clear message."""
    empty = tmp_path / "no-datasets-here"
    empty.mkdir()
    with pytest.raises(CellExecutionError) as excinfo:
        run_notebook("02_cross_domain.ipynb", tmp_path, env={"HYBRIDREC_NOTEBOOK_QUICK": "1", "HYBRIDREC_DATA": str(empty)})
    message = str(excinfo.value)
    assert "FileNotFoundError" in message and "HYBRIDREC_DATA" in message and "research-only" in message


def test_03_cold_start(tmp_path: Path, record_property) -> None:
    nb, state, seconds = run_notebook("03_cold_start.ipynb", tmp_path, "summary")
    record_property("seconds", round(seconds, 1))
    assert_common(nb, state, "03_cold_start")
    summary = state["value"]
    # New item: removed cleanly, existing scores untouched (float32 rounding aside).
    assert summary["removed_ok"] is True
    assert summary["score_change_after_add_remove"] < 1e-4
    # Users who liked the earlier films place the sequel higher than everyone else does, and a
    # text-aware blend ranks it higher for the fan than the default blend.
    assert summary["median_position_liked"] < summary["median_position_others"]
    assert summary["new_item_rank_fan_text_aware"] < summary["new_item_rank_fan"]
    # Text queries: a batch of 3 (k=3), Chinese + English (k=5 each), an empty string (k=5, falls back).
    assert summary["query_rows"] == {"batch": 9, "chinese+english": 10, "empty": 5}
    assert summary["explain_adds_up"] is True
    assert "empty" in text_of(outputs(nb)).lower()  # the warning about the empty query reaches the user


def test_04_tower(tmp_path: Path, record_property) -> None:
    nb, state, seconds = run_notebook("04_tower.ipynb", tmp_path, "summary")
    record_property("seconds", round(seconds, 1))
    assert_common(nb, state, "04_tower")
    summary = state["value"]
    assert 1 <= summary["best_epoch"] <= summary["epochs"] <= 12
    first, last = summary["loss_first_last"]
    assert last < first  # it learned
    images = [o["data"]["image/png"] for o in outputs(nb) if "image/png" in o.get("data", {})]
    assert len(images) == 1 and base64.b64decode(images[0])[:8] == b"\x89PNG\r\n\x1a\n"  # the training curve
    assert summary["support"] and all(v > 0 for v in summary["support"])
    assert set(summary["support_domains"]) <= {"family", "thriller", "drama"}
    assert len(summary["query_titles"]) == 8
    ndcg = summary["ndcg"]
    assert ndcg["tower (sequence)"] > ndcg["popularity"]
    assert {"default blend", "default blend without the tower", "tower (mean)"} <= set(ndcg)
