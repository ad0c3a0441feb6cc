"""Figures typed in the README and the docs are in the results files they cite.

The benchmark tables are generated (``tests/test_generated_tables.py``); this guards the prose.
A *figure* is a number with three or more decimals (a metric such as 0.0152) or a number with a
unit (``x``, ``s``, ``ms``, ``min``, ``MB``, ``GB``, ``requests/s``). Each one, outside the
generated blocks, code and link targets, must appear, at its printed precision, in a results
file (or folder) that its top-level list item cites (``results/...``,
``benchmarks/results/...``), or, when the item cites none, that its section cites; every
citation must name an existing file. A ratio ``Rx`` may instead be the quotient of two other
numbers of its own paragraph. Percentages are left
out (they are changes computed from cited figures), and so are arithmetic examples written as
code. This cannot tell which of a file's numbers a sentence means; it catches a figure that no
cited result holds, which is how a typed figure drifts from the run it came from.
"""
from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]

_GENERATED = re.compile(r"<!-- generated: [\w-]+ -->.*?<!-- end generated -->", re.S)
_FENCED = re.compile(r"```.*?```", re.S)
_CITE = re.compile(r"(?:benchmarks/)?results/([\w./*-]*[\w*](?:\.(?:md|json)|/))")
_FIGURE = re.compile(r"(?<![\w.,])(\d[\d,]*\.\d{3,}|\d[\d,]*(?:\.\d+)?(?=\s?(?:x\b|s\b|ms\b|min\b|MB\b|GB\b|requests/s)))")
_RATIO = re.compile(r"(?<![\w.-])(\d+\.\d+)x\b")
_NUMBER = re.compile(r"(?<![\w.,])\d[\d,]*(?:\.\d+)?")
_IN_FILE = re.compile(r"-?\d+(?:\.\d+)?(?:e-?\d+)?")


@lru_cache(maxsize=None)
def _numbers(cited: str) -> frozenset[float]:
    """Every number in the results files a citation names (a file, a glob or a folder)."""
    files: list[Path] = []
    for match in RESULTS.glob(cited.rstrip("/")):
        files += [f for f in match.rglob("*") if f.suffix in (".md", ".json")] if match.is_dir() else [match]
    if not files:
        raise AssertionError(f"the citation results/{cited} names no results file")
    return frozenset(float(n) for f in files for n in _IN_FILE.findall(f.read_text().replace(",", "")))


def _cited(text: str) -> frozenset[float]:
    return frozenset().union(*(_numbers(c) for c in _CITE.findall(text)))


def _decimals(figure: str) -> int:
    return len(figure.split(".")[1]) if "." in figure else 0


def _found(figure: str, numbers: frozenset[float]) -> bool:
    value, digits = float(figure.replace(",", "")), _decimals(figure)
    return any(abs(round(n, digits) - value) < 1e-9 for n in numbers)


def _quotient(figure: str, paragraph: str) -> bool:
    """Whether the ratio ``figure`` is ``a / b`` for two other numbers of the paragraph (``b`` not 0 or 1)."""
    here = [float(n.replace(",", "")) for n in _NUMBER.findall(paragraph)]
    value, digits = float(figure), _decimals(figure)
    here.remove(value)  # the figure itself
    return any(b not in (0.0, 1.0) and a != b and abs(round(a / b, digits) - value) < 1e-9 for a in here for b in here)


def _blocks(section: str) -> list[list[str]]:
    """The section's paragraphs grouped by top-level list item: an item and its indented paragraphs.

    A paragraph that is not part of a list is a block of its own.
    """
    blocks: list[list[str]] = []
    in_item = False
    for paragraph in re.split(r"\n\s*\n", section):
        for chunk in re.split(r"\n(?=- )", paragraph):
            if chunk.startswith("- "):
                blocks.append([chunk])
                in_item = True
            elif chunk.startswith((" ", "\t")) and in_item:
                blocks[-1].append(chunk)
            else:
                blocks.append([chunk])
                in_item = False
    return blocks


def unsupported(text: str) -> list[tuple[str, str]]:
    """(figure, paragraph start) for every figure that no results file of its section holds."""
    text = _FENCED.sub("", _GENERATED.sub("", text))
    out = []
    for section in re.split(r"\n(?=#{1,6} )", text):
        in_section = _cited(section)
        for block in _blocks(section):
            numbers = _cited("\n".join(block)) or in_section
            for paragraph in block:
                prose = re.sub(r"\]\([^)]*\)", "]", re.sub(r"`[^`]*`", "", paragraph))
                ratios = set(_RATIO.findall(prose))
                for figure in _FIGURE.findall(prose):
                    if not _found(figure, numbers) and not (figure in ratios and _quotient(figure, prose)):
                        out.append((figure, paragraph.strip()[:80]))
    return out


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_typed_figure_is_in_a_results_file_its_section_cites(page: Path) -> None:
    missing = unsupported(page.read_text())
    assert not missing, f"{page.relative_to(ROOT)}: figures no cited results file holds: {missing}"


def test_a_figure_without_its_results_file_is_caught() -> None:
    cited = "## Speed\n\nFrom `results/lightfm_speed.md`: 2.16 s per epoch with the codes.\n"
    assert unsupported(cited) == []
    assert unsupported(cited.replace("2.16", "2.61")) == [("2.61", "From `results/lightfm_speed.md`: 2.61 s per epoch with the codes.")]
    assert unsupported("## Speed\n\nThe codes take 2.16 s per epoch.\n") == [("2.16", "The codes take 2.16 s per epoch.")]
    assert unsupported("## Ratio\n\nFrom 8.65 to 2.16 s per epoch (`results/lightfm_speed.md`), 4.00x faster.\n") == []
    assert unsupported("## Ratio\n\n1 run: 4.00x faster.\n") == [("4.00", "1 run: 4.00x faster.")]  # not 4.00 / 1
    # a list item that cites its own file is checked against that file, not the whole section's
    two = "## Two\n\n- Speed (`results/lightfm_speed.md`): 2.16 s.\n- Serving (`results/serve_load.md`): 2.16 s.\n"
    assert unsupported(two) == [("2.16", "- Serving (`results/serve_load.md`): 2.16 s.")]
    with pytest.raises(AssertionError, match="names no results file"):
        unsupported("## Gone\n\nFrom `results/no_such_run.md`: 0.1234.\n")
