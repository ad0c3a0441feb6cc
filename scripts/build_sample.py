"""Build the sample bundled in ``hybridrec/sample_data`` from MovieLens latest-small.

The sample is a transformation of the GroupLens ml-latest-small release (redistributable under
its own licence, shipped beside it as ``MOVIELENS_LICENSE.txt``). Nothing is invented: we keep
the movies with at least ``MIN_RATINGS`` ratings, every rating of those movies, the tags users
applied to them, and assign each movie to one of three genre-family domains.

Usage::

    python scripts/build_sample.py [path/to/movielens_latest_small]
"""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pandas as pd

MIN_RATINGS = 10
OUT = Path(__file__).resolve().parents[1] / "hybridrec" / "sample_data"

#: Genre families, checked in this order; the first family that shares a genre wins.
DOMAIN_RULES = [
    ("family", {"Animation", "Children"}),
    ("thriller", {"Horror", "Thriller", "Crime", "Mystery", "Film-Noir", "Sci-Fi", "Action"}),
]
DEFAULT_DOMAIN = "drama"


def movie_domain(genres: str) -> str:
    found = set(genres.split("|"))
    for name, family in DOMAIN_RULES:
        if found & family:
            return name
    return DEFAULT_DOMAIN


def main(src: Path) -> None:
    ratings = pd.read_csv(src / "ratings.csv")
    movies = pd.read_csv(src / "movies.csv")
    tags = pd.read_csv(src / "tags.csv")

    counts = ratings.groupby("movieId").size()
    keep = counts.index[counts >= MIN_RATINGS]
    ratings = ratings[ratings.movieId.isin(keep)].sort_values(["userId", "timestamp", "movieId"])
    movies = movies[movies.movieId.isin(keep)].copy()
    tags = tags[tags.movieId.isin(keep)].copy()
    tags["tag"] = tags["tag"].astype(str).str.strip()

    movie_tags = (
        tags.drop_duplicates(["movieId", "tag"]).groupby("movieId")["tag"].apply(lambda s: "|".join(s))
    )
    movies["tags"] = movies.movieId.map(movie_tags).fillna("")
    movies["domain"] = movies.genres.map(movie_domain)

    OUT.mkdir(parents=True, exist_ok=True)
    ratings.to_csv(OUT / "ratings.csv.gz", index=False, compression={"method": "gzip", "mtime": 0})
    movies.to_csv(OUT / "movies.csv.gz", index=False, compression={"method": "gzip", "mtime": 0})
    tags[["userId", "movieId", "tag", "timestamp"]].to_csv(
        OUT / "tags.csv.gz", index=False, compression={"method": "gzip", "mtime": 0}
    )
    shutil.copyfile(src / "README.txt", OUT / "MOVIELENS_LICENSE.txt")
    print(f"{len(ratings)} ratings, {len(movies)} movies, {ratings.userId.nunique()} users")
    print(movies.domain.value_counts().to_string())


if __name__ == "__main__":
    default = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "movielens_latest_small"
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else default)
