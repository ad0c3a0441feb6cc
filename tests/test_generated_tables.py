"""The README's and the docs' benchmark tables are what ``benchmarks/report.py`` renders from the committed results."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("benchmark_report", ROOT / "benchmarks" / "report.py")
report = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(report)


def test_every_generated_block_matches_the_committed_results():
    assert report.stale() == [], "run python benchmarks/report.py and commit the result"


def test_a_typed_figure_in_a_generated_block_is_caught_and_rewritten():
    readme = (ROOT / "README.md").read_text()
    assert "<!-- generated: peers -->" in readme
    strongest = report.peers_table().splitlines()[4]  # the SASRec row
    edited = readme.replace(strongest, strongest.replace("| 1.00x |", "| 1.30x |"))
    assert edited != readme and report.render(edited) == readme


def test_an_unknown_block_name_is_refused():
    with pytest.raises(ValueError, match="Unknown generated block 'nope'"):
        report.render("<!-- generated: nope -->\n<!-- end generated -->\n")
