"""``hybridrec evaluate``: protocols on the bundled sample, outputs, tuning, bad input, --help.

Runs ``hybridrec.cli.main`` in-process. Most runs fit ``--components als,itemknn`` (no text
encoding) so the module stays fast; the embedding cache is per session (conftest.py).
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import hybridrec as hr
from hybridrec.cli import main
from hybridrec.evaluation import METRICS
from hybridrec._io import write_atomic as _write_atomic
from hybridrec.cli.evaluate import default_grid, parse_components, parse_weights

from conftest import shared_dataset

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
FAST = ["--components", "als,itemknn"]


def run(capsys, out: Path, *options: str) -> tuple[int, str, dict | None]:
    """``hybridrec evaluate OPTIONS --out OUT --quiet``: exit code, stdout, parsed metrics.json."""
    code = main(["evaluate", *options, "--out", str(out), "--quiet"])
    printed = capsys.readouterr().out
    report = json.loads((out / "metrics.json").read_text()) if (out / "metrics.json").exists() else None
    return code, printed, report


def check_outputs(out: Path, report: dict) -> None:
    """metrics.json holds every metric in [0, 1]; ndcg.png is a PNG; no temporary file is left."""
    assert sorted(p.name for p in out.iterdir()) == ["metrics.json", "ndcg.png"]
    assert (out / "ndcg.png").read_bytes()[:8] == PNG_MAGIC
    assert report["hybridrec_version"] == hr.__version__
    assert report["n_users"] > 0 and report["fit_seconds"] >= 0 and report["evaluate_seconds"] >= 0
    records = report["metrics"]
    assert {r["metric"] for r in records} == {*METRICS, "coverage"}
    values = [r["value"] for r in records if r["value"] is not None]
    assert values and all(0.0 <= v <= 1.0 for v in values)
    assert all(r["k"] == report["k"] and r["n_users"] >= 0 for r in records)


def overall(report: dict, metric: str = "ndcg", candidates: str = "all items") -> dict:
    (row,) = [r for r in report["metrics"] if r["candidates"] == candidates and r["domain"] == "all"
              and r["group"] == "all" and r["metric"] == metric]
    return row


# ---------------------------------------------------------------------------- protocols
def test_random_protocol_writes_metrics_plot_and_table(tmp_path, capsys):
    code, printed, report = run(capsys, tmp_path, *FAST, "--k", "5", "--seed", "3")
    assert code == 0, printed
    check_outputs(tmp_path, report)
    assert (report["loader"], report["path"], report["protocol"], report["k"], report["seed"]) == ("sample", None, "random", 5, 3)
    assert report["weights"] == {"als": 1.0, "itemknn": 1.0}
    assert report["cross_domain_weight"] == 0.5 and report["tuned"] is False
    assert report["n_users"] == overall(report)["n_users"]
    assert {r["domain"] for r in report["metrics"]} == {"drama", "family", "thriller", "all"}
    assert {r["group"] for r in report["metrics"]} <= {"all", "cold", "warm"}
    # the table: a header with the metric columns and n_users, one row per domain x group
    header = next(line for line in printed.splitlines() if "ndcg@5" in line)
    assert header.split()[:2] == ["domain", "group"] and header.split()[-1] == "n_users"
    assert "recall@5" in header and "coverage@5" in header
    assert f"{overall(report)['value']:.4f}" in printed
    assert f"wrote {tmp_path / 'metrics.json'}" in printed and "ndcg.png" in printed


def test_cold_item_reports_all_and_cold_candidates_and_skips_tune(tmp_path, capsys):
    code, printed, report = run(capsys, tmp_path, *FAST, "--protocol", "cold_item", "--domain", "family", "--tune")
    assert code == 0, printed
    check_outputs(tmp_path, report)
    assert report["protocol"] == "cold_item" and report["domain"] == "family" and report["n_cold_items"] > 0
    assert {r["candidates"] for r in report["metrics"]} == {"all items", "cold items"}
    assert {r["domain"] for r in report["metrics"]} == {"family", "all"}
    assert "all items" in printed and "cold items" in printed and "ndcg@10" in printed
    # cold items are never trained on: ranking only them is easier than ranking the whole domain
    assert overall(report, candidates="cold items")["value"] > overall(report)["value"]
    # cold_item has no validation rows: --tune says so and the weights stay as given
    assert "--tune skipped" in printed and "no validation rows" in printed
    assert report["tuned"] is False and report["weights"] == {"als": 1.0, "itemknn": 1.0}


def test_cross_domain_with_tune_and_progress(tmp_path, capsys):
    code = main(["evaluate", *FAST, "--protocol", "cross_domain", "--target-domain", "family", "--tune",
                 "--cross-domain-weight", "0", "--out", str(tmp_path)])
    printed = capsys.readouterr().out
    assert code == 0, printed
    report = json.loads((tmp_path / "metrics.json").read_text())
    check_outputs(tmp_path, report)
    assert report["protocol"] == "cross_domain" and report["target_domain"] == "family"
    assert {r["domain"] for r in report["metrics"]} == {"family", "all"}
    # every test user is cold in the target domain: its history there was hidden
    assert {r["group"] for r in report["metrics"]} == {"all", "cold"}
    tuning = report["tuning"]
    assert report["tuned"] is True and tuning["n_valid_users"] > 0 and tuning["n_candidates"] == len(tuning["results"])
    assert report["weights"] == tuning["best_params"]["weights"]
    assert report["cross_domain_weight"] == tuning["best_params"]["cross_domain_weight"]
    assert "--tune: best of" in printed
    # without --quiet, progress lines name the steps
    assert "Fitting HybridRecommender" in printed and "Evaluating" in printed


def test_movielens_loader(tmp_path, capsys):
    path = shared_dataset("movielens_latest_small")
    code, printed, report = run(capsys, tmp_path, "--loader", "movielens", "--path", str(path), "--components", "als")
    assert code == 0, printed
    check_outputs(tmp_path, report)
    assert report["loader"] == "movielens" and Path(report["path"]) == path.resolve()
    assert report["weights"] == {"als": 1.0}
    assert {r["domain"] for r in report["metrics"]} == {"movies"} | ({"all"} & {r["domain"] for r in report["metrics"]})
    assert "movies" in printed and "ndcg@10" in printed


# ---------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "options, message",
    [
        (["--loader", "imdb"], "--loader must be one of ['sample', 'movielens', 'goodbooks', 'amazon']. Got 'imdb'"),
        (["--loader", "movielens"], "--path is required with --loader movielens"),
        (["--protocol", "cross_domain"], "--target-domain is required with --protocol cross_domain"),
        (["--protocol", "kfold"], "--protocol must be one of"),
        (["--weights", "{als: 1}"], "--weights must be a JSON object"),
        (["--weights", '{"als": -1}'], "the weight of 'als' must be a finite number >= 0"),
        (["--weights", '{"bpr": 1}'], "--weights names unknown components ['bpr']"),
        (["--components", "als,bpr"], "--components names unknown components ['bpr']"),
        (["--components", "als", "--weights", '{"als": 1}'], "--weights and --components are alternatives"),
        (["--k", "0"], "--k must be a positive integer"),
        (["--cross-domain-weight", "1.5"], "--cross-domain-weight must be a number in [0, 1]"),
        (["--domain", "family"], "--domain applies to --protocol cold_item only"),
        (["--protocol", "cross_domain", "--target-domain", "books", *FAST], "--target-domain must be one of the item domains"),
        (["--loader", "goodbooks", "--path", "/no/such/folder"], "not found under /no/such/folder"),
    ],
)
def test_bad_input_exits_2_with_a_clear_message(tmp_path, capsys, options, message):
    out = tmp_path / "out"
    code = main(["evaluate", *options, "--out", str(out), "--quiet"])
    printed = capsys.readouterr().err  # errors go to stderr
    assert code == 2
    assert printed.startswith("error: ") and message in printed, printed
    assert not (out / "metrics.json").exists()


def test_out_that_is_a_file_is_refused(tmp_path, capsys):
    target = tmp_path / "taken"
    target.write_text("keep me")
    assert main(["evaluate", *FAST, "--out", str(target), "--quiet"]) == 2
    assert "--out must be a folder" in capsys.readouterr().err
    assert target.read_text() == "keep me"


# ---------------------------------------------------------------------------- help and helpers
OPTIONS = ["--loader", "--path", "--protocol", "--target-domain", "--domain", "--k", "--seed", "--weights",
           "--components", "--cross-domain-weight", "--tune", "--out", "--quiet"]


def test_help_documents_the_options(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["evaluate", "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for option in OPTIONS:
        assert option in text
    for word in ("sample,movielens,goodbooks,amazon", "random,leave_last,cold_item,cold_user,cross_domain",
                 "metrics.json", "ndcg.png", "'split' column"):
        assert word in text


def test_help_from_the_command_line():
    result = subprocess.run([sys.executable, "-m", "hybridrec.cli", "--help"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and "evaluate" in result.stdout


def test_default_grid():
    grid = default_grid(["als", "itemknn"], multi_domain=True)
    weights = [tuple(c["weights"].values()) for c in grid if c["cross_domain_weight"] == 0]
    # no all-zero blend, no blend that is a multiple of another (same ranking)
    assert sorted(weights) == [(0.0, 1.0), (0.5, 1.0), (1.0, 0.0), (1.0, 0.5), (1.0, 1.0)]
    assert sorted({c["cross_domain_weight"] for c in grid}) == [0.0, 0.5, 1.0] and len(grid) == 15
    assert default_grid(["als"], multi_domain=False) == [{"weights": {"als": 1.0}}]
    assert all("cross_domain_weight" not in c for c in default_grid(["als", "ease", "svd", "itemknn"], False))


def test_parse_weights_and_components():
    assert parse_weights('{"als": 1, "ease": 0.5, "semantic": 0}') == {"als": 1.0, "ease": 0.5, "semantic": 0.0}
    assert parse_components(" als , svd") == {"als": 1.0, "svd": 1.0}
    with pytest.raises(ValueError, match="at least one component a weight > 0"):
        parse_weights('{"als": 0}')
    with pytest.raises(ValueError, match="twice"):
        parse_components("als,als")


def test_write_atomic_keeps_the_old_file_on_failure(tmp_path):
    target = tmp_path / "metrics.json"
    target.write_text("old")

    def fail(handle):
        handle.write(b"partial")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        _write_atomic(target, fail)
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["metrics.json"]
    _write_atomic(target, lambda handle: handle.write(b"new"))
    assert target.read_text() == "new" and [p.name for p in tmp_path.iterdir()] == ["metrics.json"]
