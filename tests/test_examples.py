"""Run the example scripts as a user would (a subprocess, the test process's environment)."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration  # runs the example scripts as users do

ROOT = Path(__file__).resolve().parents[1]


def test_quickstart_example_runs(record_property) -> None:
    script = ROOT / "examples" / "quickstart.py"
    cache = Path(os.environ["HYBRIDREC_CACHE_DIR"])  # conftest's per-session cache, inherited below
    result = subprocess.run(
        [sys.executable, str(script)], cwd=ROOT, env=dict(os.environ), capture_output=True, text=True, timeout=900
    )
    assert result.returncode == 0, f"examples/quickstart.py failed:\n{result.stderr[-4000:]}"
    out = result.stdout
    lines = out.splitlines()

    # Top 5 family movies for users 1 and 2: a table with 10 rows, ranks 1..5 each.
    header = next(i for i, line in enumerate(lines) if line.split()[:2] == ["user_id", "rank"])
    rows = [line.split() for line in lines[header + 1: header + 11]]
    assert [r[0] for r in rows] == ["1"] * 5 + ["2"] * 5
    assert [r[1] for r in rows] == ["1", "2", "3", "4", "5"] * 2
    # The first recommendation's explanation sentence.
    assert re.search(r"\(family\) scores -?\d+\.\d\d for user 1 \(", out)
    # predict: two finite scores.
    match = re.search(r"^predict: \[(-?\d+\.\d+), (-?\d+\.\d+)\]$", out, re.M)
    assert match, out
    # The new user and the text query each get 3 rows.
    assert len(re.findall(r"^\d+\s+newcomer\s", out, re.M)) == 3
    assert len(re.findall(r"^\d+\s+heist movie with a clever twist\s", out, re.M)) == 3
    assert "same recommendations after save/load: True" in out
    assert "Traceback" not in result.stderr
    # The script encoded through the inherited cache folder, not ~/.cache.
    assert any(cache.iterdir())
