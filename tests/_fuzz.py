"""Fuzzing every public entry point: hypothesis strategies for odd input, and the property each call keeps.

The property (:func:`check`): a call returns its documented shape, or raises ``ValueError`` /
``TypeError`` from hybridrec's own code (the ``raise`` is in a hybridrec module) with a message;
it never raises anything else, never from inside a dependency, and a refused call leaves the
fitted model's recommendations unchanged. ``tests/test_fuzz.py`` runs a fast profile in CI and
``benchmarks/fuzz.py`` runs the long one. Each entry point is ``(model, data) -> (call, validate)``.
"""
from __future__ import annotations

import copy
import io
import tempfile
import traceback
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd
from hypothesis import strategies as st

import hybridrec as hr
from hybridrec.components import ALSComponent, SemanticComponent

HYBRIDREC = str(Path(hr.__file__).parent)
REC_COLUMNS = ["item_id", "score", "rank", "domain"]

# ---------------------------------------------------------------- odd values
SPECIAL_TEXTS = ["", " ", "x" * 100_000, "\x00\x01\x02\x1b[31m", "\u202eevil\u202c right-to-left", "שלום עולם",
                 "🍕🔪🥘" * 20, "炒锅和菜刀", "a\nb\tc\r", "\ud800"[:0] + "\ufeff\u200b", "NaN", "None"]
texts = st.one_of(st.sampled_from(SPECIAL_TEXTS), st.text(max_size=60))
ids = st.one_of(st.integers(-2**70, 2**70), st.integers(0, 700), st.text(max_size=8), st.none(), st.just(float("nan")),
                st.tuples(st.integers(0, 3), st.text(max_size=2)), st.floats(), st.booleans(), st.sampled_from(SPECIAL_TEXTS))
numbers = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-10, 10**13), st.booleans(), st.none(),
                    st.text(max_size=3), st.just(np.float32(0.5)), st.just(np.int64(3)))


def mostly(valid: st.SearchStrategy, odd: st.SearchStrategy) -> st.SearchStrategy:
    """``valid`` three times in four: a case has several parameters, and one odd value is enough.

    (``st.one_of(valid, valid, valid, odd)`` would not weigh it: hypothesis merges equal branches.)
    """
    return st.integers(0, 3).flatmap(lambda pick: odd if pick == 0 else valid)


ks = mostly(st.integers(1, 12), st.one_of(st.integers(-3, 0), st.integers(10**6, 10**13), numbers, st.just(5.0)))
fractions = mostly(st.one_of(st.none(), st.floats(0, 1)), st.one_of(st.floats(-0.5, 1.5), numbers))
flags = mostly(st.booleans(), numbers)


def domains(model) -> st.SearchStrategy:
    return mostly(st.one_of(st.none(), st.sampled_from(model.data_.domains)),
                  st.one_of(st.text(max_size=8), st.integers(), st.just(["drama"])))


def known_users(model) -> st.SearchStrategy:
    return st.sampled_from(list(model.data_.user_ids[:50]))


def known_items(model) -> st.SearchStrategy:
    return st.sampled_from(list(model.data_.item_ids[:200]))


def user_lists(model) -> st.SearchStrategy:
    known = known_users(model)
    single = mostly(known, ids)
    return mostly(st.one_of(known, st.lists(known, min_size=1, max_size=6)),
                  st.one_of(single, st.lists(single, max_size=6), st.just([]), st.just(np.array([1, 2])), st.just({1, 2})))


@st.composite
def frames(draw, model, kind: str) -> Any:
    """A frame of interactions (``kind="history"``) or items (``"items"``), often damaged."""
    n = draw(mostly(st.integers(1, 6), st.just(0)))
    if kind == "items":
        columns = {"item_id": mostly(st.integers(10**6, 10**6 + 5), ids), "text": texts,
                   "domain": mostly(st.sampled_from(model.data_.domains), st.one_of(st.text(max_size=5), st.none()))}
    else:
        columns = {"user_id": mostly(st.sampled_from(["new1", "new2"]), ids),
                   "item_id": mostly(known_items(model), ids), "weight": mostly(st.floats(0.1, 5), numbers)}
    data = {name: draw(st.lists(strategy, min_size=n, max_size=n)) for name, strategy in columns.items()}
    frame = pd.DataFrame(data)
    damage = draw(st.sampled_from(["none"] * 6 + ["drop", "duplicate", "extra", "rename", "not a frame", "series"]))
    if damage == "drop" and len(frame.columns):
        frame = frame.drop(columns=draw(st.sampled_from(list(frame.columns))))
    elif damage == "duplicate" and len(frame.columns):
        frame = pd.concat([frame, frame[[frame.columns[0]]]], axis=1)
    elif damage == "extra":
        frame = frame.assign(extra=draw(st.sampled_from([1, "x", None])))
    elif damage == "rename":
        frame = frame.rename(columns={frame.columns[0]: draw(st.text(max_size=4))})
    elif damage == "not a frame":
        return draw(st.sampled_from([None, [], {"user_id": [1]}, "a.csv", 3, np.zeros((2, 2))]))
    elif damage == "series":
        return frame.iloc[:, 0] if len(frame.columns) else pd.Series(dtype=float)
    return frame


# ---------------------------------------------------------------- validators
def recs(columns: list[str], at_most: int | None = None) -> Callable[[Any, dict], None]:
    def validate(out: Any, args: dict) -> None:
        assert isinstance(out, pd.DataFrame) and list(out.columns)[1:] == columns[1:], list(getattr(out, "columns", []))
        assert out["score"].notna().all() and (out["rank"] >= 1).all()
        k = args.get("k")
        if isinstance(k, (int, np.integer)) and not isinstance(k, bool):
            assert (out["rank"] <= k).all()  # ranks count from 1 within each input row (labels may repeat)
    return validate


def array_of(length: Callable[[dict], int]) -> Callable[[Any, dict], None]:
    def validate(out: Any, args: dict) -> None:
        assert isinstance(out, np.ndarray) and out.shape == (length(args),) and np.isfinite(out).all()
    return validate


def returns_model(out: Any, args: dict) -> None:
    assert isinstance(out, hr.HybridRecommender)


def anything(out: Any, args: dict) -> None:
    return None


# ---------------------------------------------------------------- entry points
def _recommend(model, data):
    args = {"user_ids": data.draw(user_lists(model)), "k": data.draw(ks), "domain": data.draw(domains(model)),
            "exclude_seen": data.draw(flags), "cross_domain_weight": data.draw(fractions)}
    return (lambda m: m.recommend(**args)), args, recs(["user_id", *REC_COLUMNS])


def _predict(model, data):
    n = data.draw(st.integers(0, 4))
    pairs = pd.DataFrame({"user_id": data.draw(st.lists(mostly(known_users(model), ids), min_size=n, max_size=n)),
                          "item_id": data.draw(st.lists(mostly(known_items(model), ids), min_size=n, max_size=n))})
    pairs = data.draw(mostly(st.just(pairs), st.sampled_from([pairs.drop(columns="item_id"), pairs.to_dict("list"), None,
                                                                pairs.rename(columns={"user_id": "u"})])))
    args = {"pairs": pairs, "cross_domain_weight": data.draw(fractions)}
    return (lambda m: m.predict(**args)), args, array_of(lambda a: len(a["pairs"]))


def _recommend_for_text(model, data):
    args = {"text": data.draw(mostly(st.one_of(texts, st.lists(texts, min_size=1, max_size=3)), st.one_of(ids, st.just([])))),
            "k": data.draw(ks),
            "domain": data.draw(domains(model))}
    return (lambda m: m.recommend_for_text(**args)), args, recs(["query", *REC_COLUMNS])


def _recommend_new(model, data):
    args = {"history": data.draw(frames(model, "history")), "k": data.draw(ks), "domain": data.draw(domains(model)),
            "texts": data.draw(mostly(st.one_of(st.none(), st.dictionaries(st.sampled_from(["new1", "new2"]), texts,
                                                                            max_size=2)), texts)),
            "cross_domain_weight": data.draw(fractions)}
    return (lambda m: m.recommend_new(**args)), args, recs(["user_id", *REC_COLUMNS])


def _fold_in_users(model, data):
    args = {"history": data.draw(frames(model, "history"))}
    return (lambda m: m.fold_in_users(**args)), args, returns_model


def _add_items(model, data):
    args = {"items": data.draw(frames(model, "items"))}
    return (lambda m: m.add_items(**args)), args, returns_model


def _remove_items(model, data):
    args = {"item_ids": data.draw(mostly(st.lists(known_items(model), min_size=1, max_size=3),
                                         st.one_of(st.lists(st.one_of(known_items(model), ids), max_size=3), ids, st.just([]))))}
    return (lambda m: m.remove_items(**args)), args, returns_model


def _explain(model, data):
    args = {"user_id": data.draw(mostly(known_users(model), ids)), "item_id": data.draw(mostly(known_items(model), ids)),
            "n_history": data.draw(ks), "cross_domain_weight": data.draw(fractions),
            "scope": data.draw(mostly(st.sampled_from(["domain", "catalogue"]), st.text(max_size=5)))}

    def validate(out, a):
        assert isinstance(out, dict) and isinstance(out["sentence"], str)
    return (lambda m: m.explain(**args)), args, validate


def _fit(model, data):
    interactions = data.draw(frames(model, "history"))
    listed = interactions[["item_id"]].drop_duplicates() if isinstance(interactions, pd.DataFrame) and \
        "item_id" in interactions.columns and not interactions.columns.has_duplicates else pd.DataFrame({"item_id": []})
    catalogue = listed.assign(text=data.draw(st.lists(texts, min_size=len(listed), max_size=len(listed))),
                              domain=data.draw(st.lists(st.sampled_from(["food", "kitchen"]), min_size=len(listed),
                                                        max_size=len(listed))))
    items = data.draw(mostly(st.just(catalogue), st.one_of(st.none(), frames(model, "items"))))
    args = {"interactions": interactions, "items": items,
            "duplicates": data.draw(mostly(st.sampled_from(["sum", "max"]), st.text(max_size=4)))}
    params = {"cross_domain_weight": data.draw(mostly(st.floats(0, 1), fractions)), "batch_size": data.draw(ks)}
    fresh = hr.HybridRecommender(components=[("als", ALSComponent(factors=2, iterations=1)),
                                             ("semantic", SemanticComponent())], show_progress=False)

    def call(m):
        return fresh.set_params(**params).fit(**args)
    return call, {**args, **params}, returns_model


def _save_load(model, data):
    args = {"format": data.draw(mostly(st.sampled_from(["hybridrec", "joblib"]), st.one_of(st.text(max_size=5), st.none()))),
            "include_user_data": data.draw(flags),
            "content": data.draw(mostly(st.none(), st.one_of(st.binary(max_size=64), st.sampled_from([b"PK\x03\x04junk", b"{}"]))))}

    def call(m):
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "m.hybridrec"
            if args["content"] is None:
                hr.save(m, path, format=args["format"], include_user_data=args["include_user_data"])
            else:
                path.write_bytes(args["content"])
            return hr.load(path, format=args["format"])
    return call, args, returns_model


def _splitters(model, data):
    from hybridrec import evaluation as ev

    real, catalogue = SPLITS[id(model)].train, SPLITS[id(model)].items
    frame = data.draw(mostly(st.just(real), frames(model, "history")))
    name = data.draw(st.sampled_from(["random_split", "cold_user_split", "leave_last_split", "cold_item_split",
                                      "cross_domain_split"]))
    size, seed = data.draw(mostly(st.floats(0.05, 0.5), fractions)), data.draw(mostly(st.integers(0, 5), numbers))
    items = data.draw(mostly(st.just(catalogue), st.one_of(st.none(), frames(model, "items"))))
    calls = {"random_split": lambda: ev.random_split(frame, test_size=size, seed=seed),
             "cold_user_split": lambda: ev.cold_user_split(frame, test_size=size, seed=seed),
             "leave_last_split": lambda: ev.leave_last_split(frame, seed=seed),
             "cold_item_split": lambda: ev.cold_item_split(frame, items, frac=size, seed=seed),
             "cross_domain_split": lambda: ev.cross_domain_split(frame, items, data.draw(domains(model)), test_size=size,
                                                                 seed=seed)}
    return (lambda m: calls[name]()), {"splitter": name, "interactions": frame, "items": items, "test_size": size,
                                      "seed": seed}, anything


def _tune_blend(model, data):
    from hybridrec.model_selection import tune_blend

    grid = data.draw(mostly(st.just({"weights": [{"als": 1.0, "semantic": 0.5}]}), st.one_of(st.dictionaries(
        st.text(max_size=6), st.lists(numbers, max_size=2), max_size=2), st.just([]), numbers)))
    args = {"param_grid": grid, "k": data.draw(ks), "metric": data.draw(mostly(st.sampled_from(["ndcg", "recall"]), st.text(max_size=4))),
            "users": data.draw(mostly(st.sampled_from(["valid", "test"]), st.text(max_size=4)))}
    split = data.draw(mostly(st.just(SPLITS[id(model)]), st.sampled_from([None, "split"])))
    return (lambda m: tune_blend(m, split, refit=False, **args)), {**args, "split": split}, anything


def _cli(model, data):
    from hybridrec.cli import main

    # demo and evaluate run whole pipelines on valid input; their parsers share this code.
    argv = data.draw(st.one_of(
        st.lists(st.sampled_from(["recommend", "fit", "--model", "/no/such", "--user", "1", "--k",
                                  "-1", "0", "abc", "--text", "", "--domain", "x", "--csv", "--spark", "--out"]),
                 max_size=7),
        st.lists(st.text(max_size=6), max_size=4)))

    def call(m):
        out = io.StringIO()
        try:
            with redirect_stdout(out), redirect_stderr(out):
                code = main(argv)
        except SystemExit as exc:  # argparse: usage errors exit 2, --help exits 0
            code = exc.code
        assert code in (0, 1, 2), code
        assert "Traceback" not in out.getvalue()
        return code
    return call, {"argv": argv}, anything


ENTRY_POINTS: dict[str, Callable] = {
    "fit": _fit, "recommend": _recommend, "predict": _predict, "recommend_for_text": _recommend_for_text,
    "recommend_new": _recommend_new, "fold_in_users": _fold_in_users, "add_items": _add_items,
    "remove_items": _remove_items, "explain": _explain, "save/load": _save_load, "tune_blend": _tune_blend,
    "splitters": _splitters, "cli": _cli,
}
#: The validation split tune_blend is fuzzed with, by id of the model it was made for.
SPLITS: dict[int, Any] = {}
#: Entry points that change the model: each case runs on a copy.
MUTATING = {"fold_in_users", "add_items", "remove_items"}


# ---------------------------------------------------------------- the model and the property
def small_model(sample) -> hr.HybridRecommender:
    """ALS + semantic on 60 sample users (encodings come from the cache), with a split for tune_blend."""
    from hybridrec.evaluation import random_split

    users = sorted(sample.interactions["user_id"].unique())[:60]
    interactions = sample.interactions[sample.interactions["user_id"].isin(users)]
    model = hr.HybridRecommender(components=[("als", ALSComponent(factors=4, iterations=2)),
                                             ("semantic", SemanticComponent())], random_state=0, show_progress=False)
    model.fit(interactions, items=sample.items)
    SPLITS[id(model)] = random_split(interactions, test_size=0.2, valid_size=0.2, seed=0, items=sample.items)
    return model


def snapshot(model) -> tuple:
    users = list(model.data_.user_ids[:5])
    return (model.recommend(users, k=5).to_numpy().tolist(),
            model.recommend_for_text(["space adventure"], k=3).to_numpy().tolist())


def check(name: str, model: hr.HybridRecommender, before: tuple, data) -> str:
    """Run one drawn case of entry point ``name``; return "ok" or "refused", or fail the property."""
    target = copy.deepcopy(model) if name in MUTATING else model
    call, args, validate = ENTRY_POINTS[name](target, data)
    try:
        out = call(target)
    except (ValueError, TypeError) as exc:
        frames = traceback.extract_tb(exc.__traceback__)
        where = frames[-1].filename if frames else ""
        assert where.startswith(HYBRIDREC) or "sklearn/utils/validation.py" in where, (
            f"{name}: {type(exc).__name__} raised outside hybridrec ({where}:{frames[-1].lineno}): {exc}")
        assert str(exc).strip(), f"{name}: {type(exc).__name__} without a message"
        assert snapshot(target) == before, f"{name}: a refused call changed the model ({exc})"
        return "refused"
    validate(out, args)
    if name not in MUTATING:
        assert snapshot(model) == before, f"{name}: a call changed the model"
    return "ok"
