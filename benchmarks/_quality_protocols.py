"""Datasets and protocol tasks of ``benchmarks/quality.py`` (the budgets are in ``_quality_budgets``).

A :class:`Task` is one evaluation protocol on one dataset: the split whose test users are
reported, the split (and users) that tuning may look at, the candidate sets, the grid of
``cross_domain_weight`` values, the components that take part, and the targets of the issue.
Everything is built from the same seed, once, so every method sees the same splits.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

import hybridrec as hr
from _common import sample_users  # the benchmarks folder is on sys.path (scripts run from it)
from hybridrec.datasets import official_users
from hybridrec.evaluation import Split, cold_item_split, cold_user_split, cross_domain_split, leave_last_split, random_split
from hybridrec.modalities import ColumnEncoder

if TYPE_CHECKING:
    from _quality_budgets import Budget

log = logging.getLogger("quality")

#: Component names of the hybrid, in the order of the report's rows.
FAMILIES = ("popularity", "als", "lightfm", "lightfm_text", "semantic", "textknn", "itemknn", "ease", "svd", "tower")
#: Components that read the second item block ("meta"), on the protocols that have one.
META_FAMILIES = ("semantic_meta", "textknn_meta", "lightfm_meta")
#: The registered component behind each row family that is not one itself.
BASE_FAMILY = {"lightfm_text": "lightfm", "semantic_meta": "semantic", "textknn_meta": "textknn", "lightfm_meta": "lightfm"}
#: The "meta" block of each dataset: its catalogue columns encoded by ColumnEncoder.
META_BLOCKS = {
    "movielens": ("genres and year", lambda: ColumnEncoder(multilabel=["genres"], numeric=["year"], sep="|")),
    "goodbooks": ("authors, shelf tags and year",
                  lambda: ColumnEncoder(multilabel=["authors", "tags"], numeric=["year"], sep=",")),
}
#: Row labels of the single-component baselines.
LABELS = {
    "popularity": "popularity",
    "als": "ALS",
    "lightfm": "LightFM (no text)",
    "lightfm_text": "LightFM + text",
    "semantic": "text profile",
    "textknn": "text kNN (soft max over history)",
    "itemknn": "item-kNN",
    "ease": "EASE",
    "svd": "PureSVD",
    "tower": "tower (sequence encoder)",
    "semantic_meta": "meta-block profile (semantic on the meta block)",
    "textknn_meta": "meta-block kNN (text kNN on the meta block)",
    "lightfm_meta": "LightFM + text + meta features",
}
#: Row labels when test users are known only by a text.
TEXT_LABELS = {
    "popularity": "popularity",
    "als": "ALS (text -> user factors map)",
    "lightfm": "LightFM, no text features (text -> user map)",
    "lightfm_text": "LightFM + text features (text -> user map)",
    "semantic": "text profile",
    "textknn": "text kNN",
    "tower": "tower (the user tower fed the text)",
}
#: Components that can score a user known only by a text (cold-user-from-text protocol).
TEXT_FAMILIES = ("popularity", "als", "lightfm", "lightfm_text", "semantic", "textknn", "tower")
#: Protocol keys, in report order, and the aliases of ``--only``.
PROTOCOLS = (
    "cd_food2kitchen", "cd_kitchen2food", "cold_item", "warm", "movielens_random", "movielens_cold_item",
    "goodbooks_random", "goodbooks_cold_item", "cold_user_text",
)
ALIASES = {
    "cd": ("cd_food2kitchen", "cd_kitchen2food"),
    "amazon": ("cd_food2kitchen", "cd_kitchen2food", "cold_item", "warm", "cold_user_text"),
    "movielens": ("movielens_random", "movielens_cold_item"),
    "goodbooks": ("goodbooks_random", "goodbooks_cold_item"),
}
#: Dataset folder of each loader, under ``--data``.
FOLDERS = {
    "amazon": "amazon_food_kitchen_llmcdsr",
    "movielens": "movielens_latest_small",
    "goodbooks": "goodbooks_10k_subset",
}


@dataclass
class Target:
    """A target of the issue: ``hybrid >= factor * best of the named baselines`` (all when None)."""

    factor: float
    baselines: tuple[str, ...] | None
    text: str


@dataclass
class Task:
    """One protocol on one dataset.

    Attributes
    ----------
    split : Split
        Its test users are reported.
    tune_split, tune_users : Split, {"valid", "test"}
        Where tuning looks: ``split`` with its valid users, or a nested split of
        ``split.train`` with that split's test users (then ``refit`` is True).
    sets : list of (label, eval candidates, tune candidates)
        Candidate sets (None: every item of the held-out item's domain).
    cdw_grid : list of float or None
        ``cross_domain_weight`` values to tune (None: one domain, nothing to tune).
    families : tuple of str
        Components fitted (and reported).
    mode : {"history", "text"}
        ``text``: test users are scored from a text alone (cold-user-from-text).
    auto_target : str
        The auto model's ``auto_target``: the held-out events that stand for this protocol's test
        rows ("random" where none of the library's choices matches, as for cold items).
    """

    key: str
    title: str
    dataset: str
    split: Split
    tune_split: Split
    tune_users: str
    sets: list[tuple[str, Any, Any]]
    cdw_grid: list[float] | None
    families: tuple[str, ...]
    mode: str = "history"
    refit: bool = False
    targets: dict[str, Target] = field(default_factory=dict)
    sweep: bool = False
    texts: dict[str, dict] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    item_vectors: dict[str, Any] | None = None
    auto_target: str = "random"

    def describe(self) -> dict[str, Any]:
        return {
            "key": self.key, "title": self.title, "dataset": self.dataset, "split": repr(self.split),
            "tune_split": repr(self.tune_split) if self.refit else "same split, validation users",
            "tune_users": self.tune_users, "sets": [label for label, _, _ in self.sets],
            "cdw_grid": self.cdw_grid, "families": list(self.families), "mode": self.mode,
            "refit": self.refit, "notes": self.notes, "auto_target": self.auto_target,
            "item_vectors": None if self.item_vectors is None else {n: repr(v) for n, v in self.item_vectors.items()},
        }


# ---------------------------------------------------------------------------- data
def load_datasets(root: Path, wanted: set[str], budget: Budget, seed: int) -> dict[str, hr.datasets.Dataset]:
    """The datasets the wanted protocols need (missing folders are logged and skipped)."""
    need = set()
    for key in wanted:
        need.add("movielens" if key.startswith("movielens") else "goodbooks" if key.startswith("goodbooks") else "amazon")
    out = {}
    loaders = {
        "amazon": hr.datasets.load_amazon_food_kitchen,
        "movielens": hr.datasets.load_movielens,
        "goodbooks": hr.datasets.load_goodbooks,
    }
    for name in sorted(need):
        folder = root / FOLDERS[name]
        if not folder.is_dir():
            log.warning("dataset folder %s is missing; its protocols are skipped", folder)
            continue
        ds = loaders[name](folder)
        if name == "amazon" and budget.amazon_extra_users:
            ds = amazon_subset(ds, budget.amazon_extra_users, seed)
        ds = shuffle_catalogue(ds, seed)
        log.info("loaded %r", ds)
        out[name] = ds
    return out


def warm_split(root: Path, seed: int) -> Split | None:
    """The warm next-item split of the full Amazon Food-Kitchen (None when its folder is absent):
    ``quality.py``'s, for the scripts that study that protocol alone (``tower_speed.py``, ``peers/run.py``)."""
    from _quality_budgets import full_budget  # imports this module

    budget = full_budget()
    datasets = load_datasets(root, {"warm"}, budget, seed)
    return build_tasks(["warm"], datasets, budget, seed)[0].split if "amazon" in datasets else None


def shuffle_catalogue(ds: hr.datasets.Dataset, seed: int) -> hr.datasets.Dataset:
    """The items table in a seeded random order.

    ``evaluate`` breaks score ties by the position in ``split.items``, and dataset ids carry
    information (goodbooks ``book_id`` is the popularity rank; MovieLens ids are roughly
    chronological): a component with no signal (ALS, item-kNN, EASE on cold items) would
    otherwise rank cold items by popularity for free.
    """
    order = np.random.default_rng(seed).permutation(len(ds.items))
    items = ds.items.iloc[order].reset_index(drop=True)
    return hr.datasets.Dataset(ds.interactions, items, ds.users, ds.name, ds.description)


def amazon_subset(ds: hr.datasets.Dataset, n_extra: int, seed: int) -> hr.datasets.Dataset:
    """The official valid/test users plus ``n_extra`` seeded users active in both domains, and
    the items they touched (quick mode)."""
    frame = ds.interactions
    test, valid = official_users(ds)
    domain = ds.items.set_index("item_id")["domain"]
    dom = domain.reindex(frame["item_id"]).to_numpy()
    both = pd.DataFrame({"u": frame["user_id"].to_numpy(), "d": dom}).groupby("u")["d"].nunique()
    pool = np.setdiff1d(both.index[both.to_numpy() > 1].to_numpy(), np.concatenate([test, valid]))
    rng = np.random.default_rng(seed)
    extra = rng.choice(pool, size=min(n_extra, len(pool)), replace=False)
    keep_users = np.concatenate([test, valid, extra])
    inter = frame[frame["user_id"].isin(keep_users)]
    items = ds.items[ds.items["item_id"].isin(inter["item_id"].unique())].reset_index(drop=True)
    return hr.datasets.Dataset(inter.reset_index(drop=True), items, ds.users, ds.name + "_subset",
                               ds.description + f"; quick subset of {len(keep_users)} users")


# ---------------------------------------------------------------------------- tasks
def build_tasks(keys: list[str], data: dict[str, hr.datasets.Dataset], budget: Budget, seed: int) -> list[Task]:
    """The tasks of ``keys`` whose dataset is present, with their splits."""
    tasks = []
    for key in keys:
        dataset = "movielens" if key.startswith("movielens") else "goodbooks" if key.startswith("goodbooks") else "amazon"
        if dataset not in data:
            log.warning("protocol %s skipped: dataset %s not loaded", key, dataset)
            continue
        tasks.append(_BUILDERS[key](data[dataset], budget, seed))
        log.info("task %s: %s", key, tasks[-1].split)
    return tasks


def _cd_task(direction: str) -> Any:
    source, target = direction.split("2")

    def build(ds: hr.datasets.Dataset, budget: Budget, seed: int) -> Task:
        test, valid = official_users(ds)
        split = cross_domain_split(ds.interactions, ds.items, target, test_users=test, valid_users=valid, seed=seed)
        return Task(
            key=f"cd_{direction}", title=f"CD-cold {source} -> {target} (Amazon Food-Kitchen)", dataset=ds.name,
            split=split, tune_split=split, tune_users="valid", sets=[(f"all {target} items", None, None)],
            cdw_grid=[0.25, 0.5, 1.0], families=FAMILIES, sweep=True, auto_target="cross_domain",
            targets={f"all {target} items": Target(1.15, None, "hybrid >= 1.15x the best single baseline")},
            notes=["Test users: split == 'test' (valid: split == 'valid'); all their "
                   f"{target} interactions hidden; every {target} item ranked. cross_domain_weight 0 is left "
                   "out of the tuning grid: these users have no target-domain history, so at 0 every "
                   "personal component is blank."],
        )
    return build


def _warm_task(ds: hr.datasets.Dataset, budget: Budget, seed: int) -> Task:
    test, valid = official_users(ds)
    split = leave_last_split(ds.interactions, timestamp_col="timestamp", test_users=test, valid_users=valid,
                             seed=seed, items=ds.items)
    return Task(
        key="warm", title="Warm next-item (Amazon Food-Kitchen)", dataset=ds.name, split=split, tune_split=split,
        tune_users="valid", sets=[("all items of the held-out item's domain", None, None)],
        cdw_grid=[0.0, 0.25, 0.5, 1.0], families=FAMILIES, sweep=True, auto_target="next_item",
        targets={"all items of the held-out item's domain": Target(1.0, None, "hybrid >= the best baseline")},
        notes=["leave_last_split by position; test users split == 'test' (their last item), valid users "
               "split == 'valid' (their last item)."],
    )


def _cold_item_sets(split: Split, inner: Split, domain_label: str) -> list[tuple[str, Any, Any]]:
    return [("cold items only", split.cold_items, inner.cold_items), (f"all items ({domain_label})", None, None)]


#: How to read the cold-item "all items" rows.
_ALL_ITEMS_CAVEAT = (
    "Reading the 'all items' rows: every held-out item is a cold item, and a component that cannot score an item "
    "(item-kNN, EASE) defers to the others, whose weights are scaled up to the full total for it "
    "(HybridRecommender's blend). A blend holding such a component thus lifts every cold item over warm items "
    "that component scores low; here that lift points straight at the held-out items, so the hybrid's 'all "
    "items' figure measures cold items against warm ones under that rule, not a ranking the text alone earns. "
    "The 'cold items only' rows have no such effect."
)


def _cold_item_task(ds: hr.datasets.Dataset, budget: Budget, seed: int, *, key: str, title: str, domain: str,
                    target: Target | None, sample: bool) -> Task:
    split = cold_item_split(ds.interactions, ds.items, domain=domain, frac=0.1, seed=seed)
    inner = cold_item_split(split.train, split.items, domain=domain, frac=0.1, seed=seed + 1)
    notes = [f"10% of the items of domain {domain!r} (seed {seed}) removed from training; tuning on a nested cold-item "
             f"split of the training rows (seed {seed + 1}), then every component refitted on the outer "
             "training rows. Component parameters are chosen by the mean NDCG@10 over the two candidate "
             "sets; blend weights are tuned per candidate set."]
    if sample:
        n_test, n_tune = budget.cold_item_test_users, budget.cold_item_tune_users
        before = (split.test["user_id"].nunique(), inner.test["user_id"].nunique())
        split = sample_users(split, n_test, seed)
        inner = sample_users(inner, n_tune, seed + 1)
        after = (split.test["user_id"].nunique(), inner.test["user_id"].nunique())
        if after != before:
            notes.append(f"Users evaluated: a seeded sample of {after[0]} of the {before[0]} test users and "
                         f"{after[1]} of the {before[1]} nested tuning users (all of them against the whole "
                         f"{domain} catalogue, for every tuning candidate, would not fit the time budget).")
    notes.append(_ALL_ITEMS_CAVEAT)
    sets = _cold_item_sets(split, inner, domain)
    targets = {}
    if target is not None:
        targets = {label: target for label, _, _ in sets}
    return Task(key=key, title=title, dataset=ds.name, split=split, tune_split=inner, tune_users="test", sets=sets,
                cdw_grid=[0.0, 0.25, 0.5, 1.0] if ds.items["domain"].nunique() > 1 else None,
                families=FAMILIES, refit=True, targets=targets, notes=notes)


def _amazon_cold_item(ds: hr.datasets.Dataset, budget: Budget, seed: int) -> Task:
    return _cold_item_task(
        ds, budget, seed, key="cold_item", title="Cold-item, kitchen (Amazon Food-Kitchen)", domain="kitchen",
        target=Target(1.15, ("semantic", "lightfm_text"), "hybrid >= 1.15x the best of (text profile, LightFM + text)"),
        sample=True,
    )


def _single_domain(name: str) -> tuple[Any, Any]:
    domain = {"movielens": "movies", "goodbooks": "books"}[name]
    label = {"movielens": "MovieLens latest-small", "goodbooks": "goodbooks-10k subset"}[name]

    def random_task(ds: hr.datasets.Dataset, budget: Budget, seed: int) -> Task:
        split = random_split(ds.interactions, test_size=0.2, valid_size=0.1, seed=seed, items=ds.items)
        return Task(key=f"{name}_random", title=f"{label}, random 80/20 of ratings >= 4", dataset=ds.name,
                    split=split, tune_split=split, tune_users="valid", sets=[(f"all items ({domain})", None, None)],
                    cdw_grid=None, families=FAMILIES,
                    targets={f"all items ({domain})": Target(1.0, None, "hybrid >= the best baseline")},
                    notes=["random_split(test_size=0.2, valid_size=0.1) per user; validation users tune."])

    def cold_task(ds: hr.datasets.Dataset, budget: Budget, seed: int) -> Task:
        task = _cold_item_task(ds, budget, seed, key=f"{name}_cold_item", title=f"{label}, cold-item",
                               domain=domain, target=Target(1.0, None, "hybrid >= the best baseline"), sample=False)
        what, encoder = META_BLOCKS[name]
        task.item_vectors = {"meta": encoder()}
        task.families = FAMILIES + META_FAMILIES
        task.notes.append(
            f"A second item block, 'meta': the items' {what} encoded by hybridrec.modalities.ColumnEncoder "
            f"({task.item_vectors['meta']!r}). Rows on it: the semantic profile and text kNN with modality='meta', "
            "and LightFM with text + meta features. 'hybrid without the meta block' is the same fitted model "
            "with its blend tuned over the other components only (same staged search, same validation users)."
        )
        return task

    return random_task, cold_task


def _cold_user_text_task(ds: hr.datasets.Dataset, budget: Budget, seed: int) -> Task:
    frame = ds.interactions
    def size_for(rows: pd.DataFrame) -> float:
        """test_size giving ``cold_user_n`` users (quick mode), else the protocol's fraction."""
        if not budget.cold_user_n:
            return budget.cold_user_test_size
        eligible = int((rows.groupby("user_id").size() > 3).sum())
        return min(0.5, budget.cold_user_n / eligible)

    size = size_for(frame)
    split = cold_user_split(frame, test_size=size, n_given=3, seed=seed, items=ds.items)
    inner = cold_user_split(split.train, test_size=size_for(split.train), n_given=3, seed=seed + 1, items=ds.items)
    task = Task(
        key="cold_user_text", title="Cold-user from text (Amazon Food-Kitchen)", dataset=ds.name, split=split,
        tune_split=inner, tune_users="test", sets=[("all items of the held-out item's domain", None, None)],
        cdw_grid=[0.0, 0.25, 0.5, 1.0], families=TEXT_FAMILIES, mode="text", refit=True,
        notes=[f"cold_user_split(test_size={size:.4g}, n_given=3, seed={seed}); each test user's only input is a "
               "text: the titles of their 3 revealed (earliest) items joined with '. '. Tuned on a second "
               f"cold_user_split of the training users (seed {seed + 1}), then refitted. Components: those that "
               "can read a text (ALS and LightFM through their ridge maps from text profile to user state). "
               "The reference row gives the same fitted components the 3 items as history instead "
               "(blend tuned by tune_blend on the same validation users)."],
    )
    task.texts = {"test": user_texts(split.fold_in, ds.items), "tune": user_texts(inner.fold_in, ds.items)}
    return task


def user_texts(fold_in: pd.DataFrame, items: pd.DataFrame) -> dict[Any, str]:
    """Per user, the titles of their revealed items (in order) joined with '. '."""
    titles = items.set_index("item_id")["text"]
    frame = fold_in.sort_values(["user_id", "timestamp"], kind="stable")
    joined = titles.reindex(frame["item_id"]).fillna("").astype(str).str.strip().to_numpy()
    return pd.Series(joined).groupby(frame["user_id"].to_numpy(), sort=False).agg(". ".join).to_dict()


_ml_random, _ml_cold = _single_domain("movielens")
_gb_random, _gb_cold = _single_domain("goodbooks")
_BUILDERS = {
    "cd_food2kitchen": _cd_task("food2kitchen"),
    "cd_kitchen2food": _cd_task("kitchen2food"),
    "cold_item": _amazon_cold_item,
    "warm": _warm_task,
    "movielens_random": _ml_random,
    "movielens_cold_item": _ml_cold,
    "goodbooks_random": _gb_random,
    "goodbooks_cold_item": _gb_cold,
    "cold_user_text": _cold_user_text_task,
}
