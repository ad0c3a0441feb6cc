"""Dataset loaders: the bundled sample, MovieLens latest-small, goodbooks-10k and Amazon Food-Kitchen.

Every loader returns a :class:`Dataset` of pandas DataFrames in the library's default column
names (``user_id``, ``item_id``, ``weight``, ``timestamp``; items ``text`` and ``domain``;
users ``text``), ready for ``HybridRecommender.fit(ds.interactions, items=ds.items, users=ds.users)``.
"""
from __future__ import annotations

import html
import os
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import pandas as pd


#: Goodreads shelves that say nothing about a book's content.
_NOISE_SHELVES = {
    "to-read", "currently-reading", "favorites", "favourites", "owned", "books-i-own", "owned-books",
    "default", "my-books", "my-library", "library", "wish-list", "to-buy", "kindle", "ebook", "ebooks",
    "books", "i-own", "own-it", "re-read", "read", "audiobook", "audiobooks", "audio", "abandoned",
    "did-not-finish", "dnf", "favorite", "all-time-favorites", "my-favorites", "e-book", "to-read-fiction",
    "shelfari-favorites", "home-library", "have", "on-hold", "tbr", "read-in-2013", "read-in-2014",
    "read-in-2015", "read-in-2016", "read-in-2017", "read-2013", "read-2014", "read-2015", "read-2016",
}


@dataclass
class Dataset:
    """Interactions, items and (optionally) users of one dataset.

    Attributes
    ----------
    interactions : DataFrame
        ``user_id, item_id, weight`` plus dataset-specific columns (``timestamp``, ``rating``...).
    items : DataFrame
        ``item_id, text, domain`` plus the raw descriptive columns.
    users : DataFrame or None
        ``user_id, text`` where users have text.
    name : str
    description : str
        Source, licence and the filtering applied.
    """

    interactions: pd.DataFrame
    items: pd.DataFrame
    users: pd.DataFrame | None = None
    name: str = ""
    description: str = field(default="", repr=False)

    def __repr__(self) -> str:
        domains = sorted(self.items["domain"].unique()) if "domain" in self.items else []
        return (
            f"Dataset({self.name!r}: {self.interactions['user_id'].nunique()} users, {len(self.items)} items, "
            f"{len(self.interactions)} interactions, domains={domains})"
        )


def _unescape(text: str, rounds: int = 3) -> str:
    """Unescape HTML entities, repeatedly: some titles are escaped twice (``&amp;#233``)."""
    for _ in range(rounds):
        clean = html.unescape(text)
        if clean == text:
            break
        text = clean
    return text


def _require(path: str | os.PathLike, files: list[str], what: str) -> Path:
    root = Path(path).expanduser()
    missing = [f for f in files if not (root / f).exists()]
    if missing:
        raise FileNotFoundError(f"{what}: {missing} not found under {root}. Pass the folder that holds {files}.")
    return root


def _join(*parts: pd.Series, seps: tuple[str, ...]) -> pd.Series:
    """Join text columns as ``part0<sep0>part1...``, leaving out empty parts and their labels."""
    out = parts[0].fillna("").astype(str)
    for sep, part in zip(seps, parts[1:]):
        part = part.fillna("").astype(str)
        out = out.where(part == "", out + sep + part)
    return out


def _movie_items(movies: pd.DataFrame, tags: pd.Series | None) -> pd.DataFrame:
    items = movies.rename(columns={"movieId": "item_id"}).copy()
    items["genres"] = items["genres"].replace("(no genres listed)", "")
    items["year"] = pd.to_numeric(items["title"].str.extract(r"\((\d{4})\)\s*$")[0], errors="coerce")
    if tags is not None:
        items["tags"] = items["item_id"].map(tags).fillna("")
    items["text"] = _join(
        items["title"], items["genres"].str.replace("|", ", ", regex=False),
        items.get("tags", pd.Series("", index=items.index)).str.replace("|", ", ", regex=False),
        seps=(". Genres: ", ". Tags: "),
    )
    return items


def load_sample(min_rating: float = 3.5) -> Dataset:
    """The sample bundled in the package: MovieLens latest-small in three genre-family domains.

    610 real users, the 2,269 movies with at least 10 ratings, split into the domains
    ``family`` (Animation/Children), ``thriller`` (action, crime, horror, sci-fi...) and
    ``drama`` (the rest). Ratings >= ``min_rating`` become implicit positives with weight 1.
    Item text is title, genres and user tags; user text is the tags each user applied.

    Source: F. Maxwell Harper and Joseph A. Konstan, The MovieLens Datasets: History and Context,
    ACM TiiS 5(4), 2015. Redistributed under the GroupLens licence in
    ``hybridrec/sample_data/MOVIELENS_LICENSE.txt`` (research use; no endorsement implied).

    Parameters
    ----------
    min_rating : float, default=3.5
        Smallest rating kept as a positive interaction.

    Returns
    -------
    Dataset
    """
    root = resources.files("hybridrec") / "sample_data"
    with resources.as_file(root) as folder:
        ratings = pd.read_csv(folder / "ratings.csv.gz")
        movies = pd.read_csv(folder / "movies.csv.gz", keep_default_na=False)
        tags = pd.read_csv(folder / "tags.csv.gz", keep_default_na=False)
    positives = ratings[ratings["rating"] >= min_rating]
    interactions = pd.DataFrame(
        {
            "user_id": positives["userId"].to_numpy(),
            "item_id": positives["movieId"].to_numpy(),
            "weight": 1.0,
            "rating": positives["rating"].to_numpy(),
            "timestamp": positives["timestamp"].to_numpy(),
        }
    )
    movie_tags = movies.set_index("movieId")["tags"]
    items = _movie_items(movies.drop(columns="tags"), movie_tags)
    user_tags = tags.drop_duplicates(["userId", "tag"]).groupby("userId")["tag"].apply(lambda s: ", ".join(s))
    users = pd.DataFrame({"user_id": user_tags.index.to_numpy(), "text": user_tags.to_numpy()})
    return Dataset(interactions, items, users, "sample", load_sample.__doc__ or "")


def load_movielens(path: str | os.PathLike, min_rating: float = 4.0) -> Dataset:
    """MovieLens latest-small (``ratings.csv``, ``movies.csv``, ``tags.csv``) from ``path``.

    Ratings >= ``min_rating`` become positives with weight 1; one domain, ``movies``. Item text
    is title, genres and the user tags of each movie; the items also have ``genres``
    (``|``-separated) and ``year`` (from the title) columns, for a
    :class:`~hybridrec.modalities.ColumnEncoder` block.
    """
    root = _require(path, ["ratings.csv", "movies.csv"], "MovieLens latest-small")
    ratings = pd.read_csv(root / "ratings.csv")
    movies = pd.read_csv(root / "movies.csv")
    tags = None
    if (root / "tags.csv").exists():
        raw = pd.read_csv(root / "tags.csv", keep_default_na=False)
        raw["tag"] = raw["tag"].astype(str).str.strip()
        tags = raw.drop_duplicates(["movieId", "tag"]).groupby("movieId")["tag"].apply(lambda s: "|".join(s))
    positives = ratings[ratings["rating"] >= min_rating]
    interactions = pd.DataFrame(
        {
            "user_id": positives["userId"].to_numpy(),
            "item_id": positives["movieId"].to_numpy(),
            "weight": 1.0,
            "rating": positives["rating"].to_numpy(),
            "timestamp": positives["timestamp"].to_numpy(),
        }
    )
    items = _movie_items(movies, tags)
    items["domain"] = "movies"
    return Dataset(interactions, items, None, "movielens", f"MovieLens latest-small, ratings >= {min_rating}")


def load_goodbooks(path: str | os.PathLike, min_rating: float = 4.0, catalogue: str = "rated", n_tags: int = 10) -> Dataset:
    """goodbooks-10k (``books.csv``, ``ratings_subset.csv``, tags) from ``path``.

    Ratings >= ``min_rating`` become positives; one domain, ``books``. Item text is title,
    authors, year and the ``n_tags`` most used content shelves (bookkeeping shelves such as
    "to-read" are dropped). The items also have ``authors`` and ``tags`` (both ``", "``-separated)
    and ``year`` columns. ``catalogue="rated"`` keeps the rated books, ``"all"`` all 10,000.
    Licence: CC BY-SA 4.0 (Zygmunt Zajac, goodbooks-10k, 2017).
    """
    if catalogue not in ("rated", "all"):
        raise ValueError(f"The 'catalogue' parameter of load_goodbooks must be 'rated' or 'all'. Got {catalogue!r}.")
    root = _require(path, ["books.csv", "ratings_subset.csv"], "goodbooks-10k")
    books = pd.read_csv(root / "books.csv")
    ratings = pd.read_csv(root / "ratings_subset.csv")
    shelves = pd.Series(dtype=str)
    if (root / "book_tags_subset.csv").exists() and (root / "tags.csv").exists():
        book_tags = pd.read_csv(root / "book_tags_subset.csv").merge(pd.read_csv(root / "tags.csv"), on="tag_id")
        book_tags = book_tags[~book_tags["tag_name"].isin(_NOISE_SHELVES) & ~book_tags["tag_name"].str.match(r"^\d")]
        book_tags = book_tags.sort_values(["goodreads_book_id", "count"], ascending=[True, False])
        shelves = book_tags.groupby("goodreads_book_id")["tag_name"].apply(lambda s: ", ".join(s.head(n_tags)))
    if catalogue == "rated":
        books = books[books["book_id"].isin(ratings["book_id"].unique())]
    year = books["original_publication_year"].map(lambda y: "" if pd.isna(y) else str(int(y)))
    items = pd.DataFrame(
        {
            "item_id": books["book_id"].to_numpy(),
            "title": books["title"].to_numpy(),
            "authors": books["authors"].to_numpy(),
            "year": books["original_publication_year"].to_numpy(),
            "tags": books["goodreads_book_id"].map(shelves).fillna("").to_numpy(),
            "domain": "books",
        }
    )
    items["text"] = _join(
        items["title"], pd.Series(books["authors"].to_numpy()), pd.Series(year.to_numpy()),
        pd.Series(books["goodreads_book_id"].map(shelves).to_numpy()),
        seps=(". By ", ", ", ". Shelves: "),
    )
    positives = ratings[ratings["rating"] >= min_rating]
    interactions = pd.DataFrame(
        {
            "user_id": positives["user_id"].to_numpy(),
            "item_id": positives["book_id"].to_numpy(),
            "weight": 1.0,
            "rating": positives["rating"].to_numpy(),
        }
    )
    return Dataset(interactions, items, None, "goodbooks", f"goodbooks-10k ratings subset, ratings >= {min_rating}")


def load_amazon_food_kitchen(path: str | os.PathLike) -> Dataset:
    """Amazon Food-Kitchen (LLMCDSR processing) from ``path`` (``items.csv``, ``interactions.csv.gz``).

    Two domains, ``food`` and ``kitchen``. ``user_id`` is the file's ``user_key``; ``item_id``
    its global ``item_index``; ``timestamp`` the position in the user's sequence. The columns
    ``split`` (train_food_only, train_kitchen_only, train_overlap, valid, test) and ``is_last`` are kept for the
    evaluation protocols. Titles have their HTML entities unescaped. Research use only: the data
    is not redistributable.
    """
    root = _require(path, ["items.csv", "interactions.csv.gz"], "Amazon Food-Kitchen")
    raw_items = pd.read_csv(root / "items.csv", keep_default_na=False)
    raw = pd.read_csv(root / "interactions.csv.gz")
    titles = raw_items["title"].astype(str).map(_unescape)
    items = pd.DataFrame(
        {
            "item_id": raw_items["item_index"].to_numpy(),
            "asin": raw_items["asin"].to_numpy(),
            "title": titles.to_numpy(),
            "text": titles.to_numpy(),
            "domain": raw_items["domain"].to_numpy(),
        }
    )
    interactions = pd.DataFrame(
        {
            "user_id": raw["user_key"].to_numpy(),
            "item_id": raw["item_index"].to_numpy(),
            "weight": 1.0,
            "timestamp": raw["position"].to_numpy(),
            "split": raw["split"].to_numpy(),
            "is_last": raw["is_last"].astype(bool).to_numpy(),
        }
    )
    return Dataset(interactions, items, None, "amazon_food_kitchen", "Amazon Food-Kitchen (LLMCDSR), research use only")


def official_users(ds: Dataset) -> tuple[list, list]:
    """The users of the ``split`` column's ``"test"`` and ``"valid"`` rows (Amazon Food-Kitchen).

    The LLMCDSR processing fixes which users are evaluated and which tune; the warm next-item
    and CD-cold protocols use them instead of drawing users.

    Returns
    -------
    (list, list)
        Test user ids and validation user ids, in order of appearance.
    """
    frame = ds.interactions
    if "split" not in frame.columns:
        raise ValueError(f"{ds.name or 'This dataset'} has no 'split' column in its interactions; "
                         "it has no official test and validation users.")
    test = frame.loc[frame["split"] == "test", "user_id"].unique().tolist()
    valid = frame.loc[frame["split"] == "valid", "user_id"].unique().tolist()
    if not test:
        raise ValueError(f"{ds.name or 'This dataset'}: no interactions have split == 'test'; "
                         "cannot take the official test users.")
    return test, valid
