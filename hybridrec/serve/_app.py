"""The HTTP API over one fitted model (FastAPI): validated requests, 4xx messages, no stack traces."""
from __future__ import annotations

import logging
import math
import threading
from contextlib import nullcontext
from pathlib import Path
from typing import Any, Hashable

import numpy as np
import pandas as pd

from .._io import json_ready
from ..persistence import save
from .._version import __version__
from ._batching import Batcher
from ._events import Overlay, events_frame, stored_events, with_events
from ._served import Served, Slot, file_version, prepare_encoder
from ._metrics import Instrumented, Metrics
from ._page import PAGE

logger = logging.getLogger(__name__)


class Limits:
    """Request limits of a server.

    Parameters
    ----------
    max_k : int, default=100
        The largest ``k`` a request may ask for.
    max_text_chars : int, default=2000
        The longest query or user text accepted.
    max_history : int, default=1000
        The most items a posted history may hold.
    allow_fold_in : bool, default=False
        Whether ``POST /users`` may add users to the model (the only endpoint that changes it).
    allow_reload : bool, default=False
        Whether ``POST /admin/reload`` may load the model file again and swap it in.
    allow_updates : bool, default=False
        Whether ``POST /events`` may record a user's new interactions (reflected in their next
        requests; the model itself is not changed).
    snapshot : str or Path, optional
        Where ``POST /admin/snapshot`` (with ``allow_updates``) saves the model with the live
        events added, atomically (None: snapshots are refused). It may be the served model's file:
        ``POST /admin/reload`` then serves it, and drops the events it holds from the overlay.
    """

    def __init__(self, max_k: int = 100, max_text_chars: int = 2000, max_history: int = 1000,
                 allow_fold_in: bool = False, allow_reload: bool = False, allow_updates: bool = False,
                 snapshot: str | Path | None = None) -> None:
        self.max_k = max_k
        self.max_text_chars = max_text_chars
        self.max_history = max_history
        self.allow_fold_in = allow_fold_in
        self.allow_reload = allow_reload
        self.allow_updates = allow_updates
        self.snapshot = None if snapshot is None else str(snapshot)


def _parse_id(raw: Any, index: pd.Index) -> Hashable:
    """A request's id (a string in a URL, a number or string in JSON) as the model stores it."""
    if raw in index or not isinstance(raw, str):
        return raw
    try:
        number = int(raw)
    except ValueError:
        return raw
    # integer ids, also among others (a model that folded in string ids keeps its integer ones)
    return number if number in index or pd.api.types.is_integer_dtype(index.dtype) else raw


def _rows(top: Any, texts: list[str]) -> list[dict]:
    """The first list of a :class:`~hybridrec.TopItems` as JSON objects, each with its item's text."""
    out = []
    for rank, (pos, item_id, score, domain) in enumerate(zip(top.positions[0], top.item_ids[0], top.scores[0],
                                                            top.domains[0]), start=1):
        if pos >= 0:
            out.append({"item_id": item_id, "score": float(score), "rank": rank, "domain": domain, "text": texts[pos]})
    return json_ready(out)


def _frame_rows(frame: pd.DataFrame, model: Any) -> list[dict]:
    """Explained recommendation rows (a frame with ``explanation``) as JSON objects."""
    item_col = model.columns_["item"]
    texts = model.data_.item_texts
    idx = model.data_.item_index(frame[item_col].tolist(), missing="ignore") if len(frame) else np.array([], dtype=int)
    out = []
    for (_, row), i in zip(frame.iterrows(), idx):
        out.append({"item_id": row[item_col], "score": float(row["score"]), "rank": int(row["rank"]),
                    "domain": row[model.columns_["domain"]], "text": texts[i] if i >= 0 else "",
                    "explanation": row["explanation"]})
    return json_ready(out)


def create_app(model: Any, limits: Limits | None = None, precompute: bool = False,
               model_path: str | Path | None = None, model_format: str = "hybridrec",
               encoder_backend: str = "model", lists: Any = None) -> Any:
    """A FastAPI app serving ``model``.

    Endpoints: ``GET /`` (the web page), ``/health``, ``/version``, ``/recommend`` (a user),
    ``/search`` (a free-text query), ``POST /recommend`` (a posted history: a new user),
    ``/explain``, ``/items/{item_id}``, ``/users`` (a few user ids for the page), ``/metrics``
    (Prometheus text: requests and latencies per route, the model's items, users and version);
    with ``allow_fold_in``, ``POST /users``; with ``allow_reload``, ``POST /admin/reload``; with
    ``allow_updates``, ``POST /events`` (a user's new interactions, in their next request:
    :mod:`hybridrec.serve._events`).
    Lists are built from the model's arrays (``output="arrays"``), never from a DataFrame;
    concurrent text queries and posted histories are ranked together
    (:class:`~hybridrec.serve._batching.Batcher`). Each request works with the model current when
    it started, to its end (:class:`~hybridrec.serve._served.Slot`). Bad requests get 4xx with a
    one-line ``detail``; an unexpected failure gets 500 ``{"detail": "internal error"}`` (logged,
    never sent).

    Parameters
    ----------
    model : HybridRecommender
        Fitted. Only ``POST /users`` (off by default) changes it.
    limits : Limits, optional
    precompute : bool, default=False
        Compute every known user's top-``max_k`` lists now, in batches (see
        :class:`~hybridrec.serve._lists.KnownLists`): a known user's ``GET /recommend`` at the
        fitted ``cross_domain_weight`` is then a lookup. ``serve`` turns it on; a reload does the
        same for the new model before swapping it in.
    model_path : str or Path, optional
        The file ``model`` was loaded from: its version (SHA-256 prefix) is reported, and
        ``POST /admin/reload`` reads it again.
    model_format : str, default="hybridrec"
        The file's format, as in :func:`hybridrec.load`.
    encoder_backend : {"model", "fastest", "torch", "onnx-int8"}, default="model"
        The backend that encodes text queries, set on the model's encoder (``set_params``) and on
        every reloaded one: ``"fastest"`` is onnx-int8 when onnxruntime is installed (about 8x
        faster for one query here, ``benchmarks/results/encoder_latency.md``; its embeddings are
        at mean cosine 0.99 to torch's, so a query's list may differ slightly from the Python
        API's), else torch; ``"model"`` keeps the model's own. ``serve`` uses ``"fastest"``.
    lists : KnownLists, optional
        Known users' lists computed elsewhere for this model (``serve(workers=N)`` computes them
        once and each worker maps them: :meth:`~hybridrec.serve._lists.KnownLists.mapped`); used
        instead of computing them.

    Returns
    -------
    fastapi.FastAPI
    """
    from fastapi import Body, FastAPI, HTTPException, Query, Request
    from fastapi.concurrency import run_in_threadpool
    from fastapi.responses import HTMLResponse, JSONResponse, Response

    limits = limits or Limits()
    version = "unsaved" if model_path is None else file_version(model_path)
    prepare_encoder(model, encoder_backend, load=precompute or lists is not None)
    slot = Slot(Served(model, version, limits.max_k, precompute, lists), model_path, model_format, encoder_backend)
    overlay = Overlay()  # live events, kept across reloads
    # Reads share a model freely (recommend is thread-safe); with fold-in on, one call at a time.
    # Bad values (an unknown domain, item ids) are the model's to refuse: its ValueError becomes a 400.
    guard = threading.Lock() if limits.allow_fold_in else nullcontext()
    app = FastAPI(title="hybridrec", version=__version__, docs_url="/docs", redoc_url=None)
    metrics = Metrics(lambda: {"version": slot.served.version, "items": slot.served.model.data_.n_items,
                               "users": slot.served.model.data_.n_users})
    app.add_middleware(Instrumented, metrics=metrics)
    K = Query(10, ge=1, le=limits.max_k, description=f"1 to {limits.max_k}")
    CDW = Query(None, ge=0.0, le=1.0)

    @app.exception_handler(ValueError)
    async def _bad_value(request: Request, exc: ValueError) -> JSONResponse:
        return JSONResponse(status_code=400, content={"detail": str(exc)})

    @app.exception_handler(TypeError)
    async def _bad_type(request: Request, exc: TypeError) -> JSONResponse:
        return JSONResponse(status_code=400, content={"detail": str(exc)})

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("hybridrec serve: %s %s failed", request.method, request.url.path)
        return JSONResponse(status_code=500, content={"detail": "internal error"})

    def known_user(model: Any, raw: Any) -> Hashable:
        user = _parse_id(raw, model.data_.user_ids)
        if user not in model.data_.user_ids and user not in overlay:
            raise HTTPException(404, f"Unknown user {raw!r}; POST a history to /recommend for a new user.")
        return user

    def text_of(value: str | None, name: str) -> str | None:
        if value is not None and len(value) > limits.max_text_chars:
            raise HTTPException(413, f"{name} is {len(value)} characters long; the limit is {limits.max_text_chars}.")
        return value

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def page() -> str:
        return PAGE

    @app.get("/health")
    def health() -> dict:
        served = slot.served
        return {"status": "ok", "users": int(served.model.data_.n_users), "items": int(served.model.data_.n_items),
                "model_version": served.version}

    @app.get("/metrics", include_in_schema=False)
    def prometheus() -> Response:
        return Response(metrics.text(), media_type="text/plain; version=0.0.4; charset=utf-8")

    @app.get("/version")
    def version_info() -> dict:
        served = slot.served
        model = served.model
        encoder = getattr(model, "encoder_", None)
        return {"hybridrec": __version__, "model_version": served.version, "components": sorted(model.components_),
                "encoder_backend": None if encoder is None else encoder.backend,
                "domains": list(model.data_.domains), "limits": vars(limits),
                "can_explain_users": bool(model.data_.n_users)}

    def ranked(model: Any, user_id: Hashable, k: int, domain: str | None, cross_domain_weight: float | None,
               explain: bool) -> JSONResponse:
        with guard:
            if explain:
                frame = model.recommend(user_id, k=k, domain=domain, cross_domain_weight=cross_domain_weight,
                                        explain=True)
                return JSONResponse({"user": json_ready(user_id), "items": _frame_rows(frame, model)})
            top = model.recommend(user_id, k=k, domain=domain, cross_domain_weight=cross_domain_weight, output="arrays")
        return JSONResponse({"user": json_ready(user_id), "items": _rows(top, model.data_.item_texts)})

    @app.get("/recommend")
    async def recommend(user: str = Query(..., max_length=200), k: int = K, domain: str | None = None,
                        cross_domain_weight: float | None = CDW, explain: bool = False) -> JSONResponse:
        served = slot.served
        model = served.model
        user_id = known_user(model, user)
        if user_id in overlay:  # live events: the whole history, newest last, through the model
            if explain:
                raise HTTPException(400, "Explanations are not available for users with live events.")
            known = user_id in model.data_.user_ids
            events, text = stored_events(model, user_id) if known else ([], None)
            model, top = await histories.submit((events + list(overlay.get(user_id)), text), k,
                                                (domain or None, cross_domain_weight))
            return JSONResponse({"user": json_ready(user_id), "items": _rows(top, model.data_.item_texts)})
        lists = served.lists
        if lists is not None and not explain and cross_domain_weight is None and lists.serves(model, k):
            # a lookup of microseconds: answered on the event loop, no thread hop
            top = lists.top(user_id, domain or None, k)
            return JSONResponse({"user": json_ready(user_id), "items": _rows(top, model.data_.item_texts)})
        return await run_in_threadpool(ranked, model, user_id, k, domain or None, cross_domain_weight, explain)

    def rank_texts(texts: list[str], k: int, domain: str | None) -> tuple[Any, Any]:
        model = slot.served.model
        with guard:
            return model, model.recommend_for_text(texts, k=k, domain=domain, output="arrays")

    def rank_histories(posted: list[tuple[Any, list[tuple], str | None]], k: int, options: tuple) -> tuple[Any, Any]:
        """One ``recommend_new`` for posted histories: visitor ``i`` is the ``i``-th request."""
        model = slot.served.model
        domain, cross_domain_weight = options
        rows = events_frame(model, [(i, _parse_id(item, model.data_.item_ids), value)
                                    for i, (history, _) in enumerate(posted) for item, value in history])
        texts = {i: text for i, (_, text) in enumerate(posted) if text}
        with guard:
            return model, model.recommend_new(rows, texts=texts or None, k=k, domain=domain,
                                              cross_domain_weight=cross_domain_weight, output="arrays")

    queries = Batcher(rank_texts, on_batch=metrics.query_batches.labels("search").observe)
    histories = Batcher(rank_histories, on_batch=metrics.query_batches.labels("history").observe)

    @app.get("/search")
    async def search(q: str = Query(..., min_length=1), k: int = K, domain: str | None = None) -> JSONResponse:
        model, top = await queries.submit(text_of(q, "q"), k, domain or None)  # with the queries arriving meanwhile
        return JSONResponse({"query": q, "items": _rows(top, model.data_.item_texts)})

    @app.post("/recommend")
    async def recommend_history(history: list[dict] = Body(..., embed=True), text: str | None = Body(None),
                                k: int = Body(10, ge=1, le=limits.max_k), domain: str | None = Body(None),
                                cross_domain_weight: float | None = Body(None, ge=0.0, le=1.0)) -> JSONResponse:
        if not history and not text:
            raise HTTPException(400, "Post a non-empty history (a list of {item_id, weight}) or a text.")
        if len(history) > limits.max_history:
            raise HTTPException(413, f"The history holds {len(history)} items; the limit is {limits.max_history}.")
        text = text_of(text, "text")
        if not history:  # a text alone: the visitor is known by the text only
            model, top = await queries.submit(text, k, domain or None)
        else:
            events = [(h.get("item_id"), h.get("weight", 1.0)) for h in history]
            model, top = await histories.submit((events, text), k, (domain or None, cross_domain_weight))
        return JSONResponse({"items": _rows(top, model.data_.item_texts)})

    @app.get("/explain")
    def explain(user: str = Query(..., max_length=200), item: str = Query(..., max_length=200),
                cross_domain_weight: float | None = CDW) -> dict:
        model = slot.served.model
        item_id = _parse_id(item, model.data_.item_ids)
        if item_id not in model.data_.item_ids:
            raise HTTPException(404, f"Unknown item {item!r}.")
        with guard:
            return json_ready(model.explain(known_user(model, user), item_id, cross_domain_weight=cross_domain_weight))

    @app.get("/items/{item_id}")
    def item(item_id: str) -> dict:
        model = slot.served.model
        data = model.data_
        parsed = _parse_id(item_id, data.item_ids)
        if parsed not in data.item_ids:
            raise HTTPException(404, f"Unknown item {item_id!r}.")
        i = int(data.item_index([parsed])[0])
        held = parsed in model.held_item_ids_  # the text screen keeps these out of every list
        return json_ready({"item_id": parsed, "text": data.item_texts[i], "domain": data.domains[data.item_domain[i]],
                           "held": bool(held)})

    @app.get("/users")
    def users(limit: int = Query(20, ge=1, le=200)) -> dict:
        return {"users": json_ready(list(slot.served.model.data_.user_ids[:limit]))}

    @app.post("/users")
    def fold_in(user_id: str = Body(..., max_length=200), history: list[dict] = Body(...)) -> dict:
        if not limits.allow_fold_in:
            raise HTTPException(403, "This server does not change its model; start it with --allow-fold-in.")
        if len(history) > limits.max_history:
            raise HTTPException(413, f"The history holds {len(history)} items; the limit is {limits.max_history}.")
        model = slot.served.model
        cols = model.columns_
        rows = pd.DataFrame([{cols["user"]: user_id, cols["item"]: _parse_id(h.get("item_id"), model.data_.item_ids)}
                             for h in history], columns=[cols["user"], cols["item"]])
        with guard:
            model.fold_in_users(rows)
        return {"user": user_id, "users": int(model.data_.n_users)}

    @app.post("/events")
    def post_events(user_id: str | int = Body(...), events: list[dict] = Body(...)) -> dict:
        if not limits.allow_updates:
            raise HTTPException(403, "This server is read-only; start it with --allow-updates to accept events.")
        if not events:
            raise HTTPException(400, "Post a non-empty list of events ({item_id, weight}).")
        if len(events) > limits.max_history:
            raise HTTPException(413, f"{len(events)} events; the limit is {limits.max_history}.")
        model = slot.served.model
        user = _parse_id(user_id, model.data_.user_ids)
        items = [_parse_id(e.get("item_id"), model.data_.item_ids) for e in events]
        model.data_.item_index(items)  # unknown items: the model's ValueError, a 400
        weights = [e.get("weight", 1.0) for e in events]
        if not all(isinstance(w, (int, float)) and not isinstance(w, bool) and math.isfinite(w) and w >= 0
                   for w in weights):
            raise HTTPException(400, f"Event weights must be finite numbers >= 0. Got {weights[:5]}.")
        return {"user": json_ready(user), "events": overlay.add(user, list(zip(items, map(float, weights))))}

    snapshots: dict[str, dict] = {}  # version of a saved snapshot -> the overlay's events it holds

    @app.post("/admin/snapshot")
    def snapshot() -> dict:
        if not limits.allow_updates or limits.snapshot is None:
            raise HTTPException(403, "This server saves no snapshots; start it with --allow-updates and "
                                     "--snapshot PATH.")
        taken = overlay.copy()
        model = slot.served.model
        save(with_events(model, taken), limits.snapshot)  # atomic: a temporary file renamed into place
        version = file_version(limits.snapshot)
        snapshots[version] = taken
        logger.info("hybridrec serve: saved %d users' live events to %s (version %s)", len(taken),
                    limits.snapshot, version)
        return {"path": limits.snapshot, "model_version": version, "users": len(taken),
                "events": sum(len(events) for events in taken.values())}

    def reload_model() -> Served:
        """Load the model file again and swap it in (``POST /admin/reload``, and SIGHUP under ``serve``)."""
        served = slot.reload(limits.max_k, precompute)  # a file that fails to load leaves the old model serving
        if served.version in snapshots:  # the model now holds those events: the overlay must not add them again
            overlay.drop(snapshots.pop(served.version))
        metrics.refresh()
        return served

    app.state.reload = reload_model

    @app.post("/admin/reload")
    def reload() -> dict:
        if not limits.allow_reload:
            raise HTTPException(403, "This server does not reload its model; start it with --allow-reload.")
        served = reload_model()
        return {"model_version": served.version, "items": int(served.model.data_.n_items),
                "users": int(served.model.data_.n_users)}

    return app
