"""Dataset loaders: the bundled sample and the real datasets in ../shared/datasets."""
from __future__ import annotations

import html
import shutil
import subprocess
import sys
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import hybridrec as hr
from conftest import shared_dataset

ROOT = Path(__file__).resolve().parents[1]


def _check_joins(ds: hr.datasets.Dataset) -> None:
    assert ds.items["item_id"].is_unique
    assert set(ds.interactions["item_id"]) <= set(ds.items["item_id"])
    assert ds.interactions["user_id"].notna().all() and ds.interactions["item_id"].notna().all()
    assert (ds.interactions["weight"] > 0).all()
    assert ds.items["text"].map(lambda t: isinstance(t, str)).all()
    if ds.users is not None:
        assert ds.users["user_id"].is_unique
        assert list(ds.users.columns[:2]) == ["user_id", "text"]


# ------------------------------------------------------------------------------------------- sample
def test_sample_has_domains_that_share_users(sample):
    assert {"user_id", "item_id", "weight"} <= set(sample.interactions.columns)
    assert {"item_id", "text", "domain"} <= set(sample.items.columns)
    _check_joins(sample)
    joined = sample.interactions.merge(sample.items[["item_id", "domain"]], on="item_id")
    domains = sorted(joined["domain"].unique())
    assert len(domains) >= 2
    users_per_domain = joined.groupby("domain")["user_id"].apply(set)
    shared = set.intersection(*users_per_domain)
    assert len(shared) >= 0.5 * joined["user_id"].nunique()  # most users are active in every domain
    assert sample.items["text"].str.len().gt(0).all()


def test_sample_matches_its_documentation(sample):
    assert sample.interactions["user_id"].nunique() >= 600
    assert len(sample.items) == 2269
    assert sorted(sample.items["domain"].unique()) == ["drama", "family", "thriller"]
    assert (sample.interactions["rating"] >= 3.5).all()
    family = sample.items.loc[sample.items["domain"] == "family", "genres"]
    assert family.str.contains("Animation|Children").all()
    strict = hr.datasets.load_sample(min_rating=4.5)
    assert (strict.interactions["rating"] >= 4.5).all()
    assert len(strict.interactions) < len(sample.interactions)


def test_sample_files_are_small_and_licensed():
    folder = resources.files("hybridrec") / "sample_data"
    files = [f for f in folder.iterdir() if f.is_file()]
    total = sum(len(f.read_bytes()) for f in files)
    assert total <= 2 * 2**20, f"sample_data holds {total / 2**20:.2f} MB"
    licence = folder / "MOVIELENS_LICENSE.txt"
    assert licence.is_file()
    text = licence.read_text(encoding="utf-8")
    assert "GroupLens" in text


def test_built_package_contains_the_sample_and_its_licence(tmp_path):
    """Build the package (setuptools build_py, offline) from a copy of the sources and look inside.

    An editable install reads sample_data straight from the checkout, so only a real build shows
    whether a wheel (and so ``pip install hybridrec``) ships the sample and its licence.
    """
    source = tmp_path / "src"
    shutil.copytree(ROOT / "hybridrec", source / "hybridrec", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("setup.cfg", "setup.py", "pyproject.toml", "README.md", "LICENSE"):
        if (ROOT / name).exists():
            shutil.copy(ROOT / name, source / name)
    build = tmp_path / "build"
    done = subprocess.run([sys.executable, "setup.py", "-q", "build_py", "--build-lib", str(build)],
                          cwd=source, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    shipped = build / "hybridrec" / "sample_data"
    assert (build / "hybridrec" / "datasets.py").is_file()  # the build itself worked
    assert (shipped / "MOVIELENS_LICENSE.txt").is_file(), "the licence is not in the built package"
    assert {"ratings.csv.gz", "movies.csv.gz", "tags.csv.gz"} <= {p.name for p in shipped.iterdir()}


# ---------------------------------------------------------------------------------- shared datasets
def test_load_movielens():
    path = shared_dataset("movielens_latest_small")
    ds = hr.datasets.load_movielens(path)
    assert list(ds.interactions.columns[:3]) == ["user_id", "item_id", "weight"]
    assert {"rating", "timestamp"} <= set(ds.interactions.columns)
    assert {"item_id", "title", "genres", "text", "domain"} <= set(ds.items.columns)
    _check_joins(ds)
    raw = pd.read_csv(path / "ratings.csv")
    assert len(ds.interactions) == int((raw["rating"] >= 4.0).sum())
    assert (ds.interactions["rating"] >= 4.0).all()
    assert len(ds.items) == len(pd.read_csv(path / "movies.csv"))
    assert set(ds.items["domain"]) == {"movies"}
    toy_story = ds.items.set_index("item_id").loc[1, "text"]
    assert toy_story.startswith("Toy Story (1995)") and "Animation" in toy_story


def test_load_goodbooks():
    path = shared_dataset("goodbooks_10k_subset")
    ds = hr.datasets.load_goodbooks(path)
    assert list(ds.interactions.columns[:3]) == ["user_id", "item_id", "weight"]
    assert {"item_id", "title", "authors", "text", "domain"} <= set(ds.items.columns)
    _check_joins(ds)
    assert set(ds.items["domain"]) == {"books"}
    assert (ds.interactions["rating"] >= 4).all()
    assert ds.items["item_id"].nunique() == pd.read_csv(path / "ratings_subset.csv")["book_id"].nunique()
    # authors are in the text; bookkeeping shelves are not
    row = ds.items.iloc[0]
    assert str(row["authors"]).split(",")[0] in row["text"]
    shelves = ds.items["text"].str.extract(r"Shelves: (.*)$")[0].dropna().str.split(", ").explode()
    assert len(shelves) > 1000
    assert not shelves.isin(["to-read", "currently-reading", "favorites", "owned", "books-i-own"]).any()
    everything = hr.datasets.load_goodbooks(path, catalogue="all")
    assert len(everything.items) == 10_000


def test_load_amazon_food_kitchen():
    path = shared_dataset("amazon_food_kitchen_llmcdsr")
    ds = hr.datasets.load_amazon_food_kitchen(path)
    assert list(ds.interactions.columns[:3]) == ["user_id", "item_id", "weight"]
    assert {"timestamp", "split", "is_last"} <= set(ds.interactions.columns)
    assert {"item_id", "asin", "title", "text", "domain"} <= set(ds.items.columns)
    _check_joins(ds)
    assert set(ds.items["domain"]) == {"food", "kitchen"}
    assert len(ds.items) == 36_298
    assert set(ds.interactions["split"]) == {"train_food_only", "train_kitchen_only", "train_overlap", "valid", "test"}
    # the item ids join with the domains the raw interaction file records
    raw = pd.read_csv(path / "interactions.csv.gz", usecols=["item_index", "domain"])
    domain_of = ds.items.set_index("item_id")["domain"]
    assert (domain_of.reindex(raw["item_index"]).to_numpy() == raw["domain"].to_numpy()).all()
    # overlap users really have both domains
    overlap = ds.interactions[ds.interactions["split"] == "train_overlap"]
    per_user = overlap.assign(domain=domain_of.reindex(overlap["item_id"]).to_numpy()).groupby("user_id")["domain"].nunique()
    assert (per_user == 2).all()
    # every valid/test user has exactly one last item
    for split in ("valid", "test"):
        part = ds.interactions[ds.interactions["split"] == split]
        assert (part.groupby("user_id")["is_last"].sum() == 1).all()


def test_amazon_titles_have_html_entities_unescaped():
    path = shared_dataset("amazon_food_kitchen_llmcdsr")
    ds = hr.datasets.load_amazon_food_kitchen(path)
    raw = pd.read_csv(path / "items.csv", keep_default_na=False)
    escaped = raw["title"].str.contains("&amp;", regex=False)
    assert escaped.sum() > 100  # the raw file really has them
    for column in ("title", "text"):
        assert not ds.items[column].str.contains("&amp;", regex=False).any()
        assert not ds.items[column].str.contains("&quot;", regex=False).any()
    example = raw.loc[escaped.idxmax()]
    loaded = ds.items.set_index("item_id").loc[example["item_index"], "title"]
    assert loaded == html.unescape(example["title"])
    # nothing left to unescape anywhere: no entity survives (double-escaped ones included)
    leftover = ds.items["title"][ds.items["title"].map(html.unescape) != ds.items["title"]]
    assert leftover.empty, leftover.tolist()[:5]


@pytest.mark.parametrize(
    "loader, needed",
    [
        (hr.datasets.load_movielens, "ratings.csv"),
        (hr.datasets.load_goodbooks, "books.csv"),
        (hr.datasets.load_amazon_food_kitchen, "items.csv"),
    ],
)
def test_missing_folder_raises_a_clear_error(loader, needed, tmp_path):
    missing = tmp_path / "not-downloaded"
    with pytest.raises(FileNotFoundError) as excinfo:
        loader(missing)
    message = str(excinfo.value)
    assert str(missing) in message and needed in message


def test_folder_without_the_files_raises_a_clear_error(tmp_path):
    (tmp_path / "movies.csv").write_text("movieId,title,genres\n1,Toy Story (1995),Animation\n")
    with pytest.raises(FileNotFoundError, match="ratings.csv"):
        hr.datasets.load_movielens(tmp_path)


def test_bad_goodbooks_catalogue_option():
    path = shared_dataset("goodbooks_10k_subset")
    with pytest.raises(ValueError, match="'catalogue'.*'everything'"):
        hr.datasets.load_goodbooks(path, catalogue="everything")


@pytest.mark.slow
def test_fit_on_a_goodbooks_subset_beats_popularity():
    """A seeded 80/20 split of goodbooks positives: ALS and item-kNN beat popularity (real data end to end).

    Only 399 books and 3,000 users: 64 ALS factors overfit (raw implicit does the same), so 16.
    """
    from _helpers import holdout_split, recall_at_k

    ds = hr.datasets.load_goodbooks(shared_dataset("goodbooks_10k_subset"))
    rng = np.random.default_rng(0)
    counts = ds.interactions.groupby("user_id").size()
    users = rng.choice(counts.index[counts >= 10], 3000, replace=False)
    subset = ds.interactions[ds.interactions["user_id"].isin(users)]
    train, test = holdout_split(subset, 0.2, seed=0)
    scores = {}
    for name in ("als", "itemknn", "popularity"):
        model = hr.HybridRecommender(weights={name: 1.0}, random_state=0).set_params(als__factors=16)
        model.fit(train, items=ds.items)
        scores[name] = recall_at_k(model.recommend(test["user_id"].unique(), k=10), test)[0]
    assert scores["als"] > 1.1 * scores["popularity"], scores
    assert scores["itemknn"] > 1.1 * scores["popularity"], scores
