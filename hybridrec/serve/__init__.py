"""Serve a fitted model over HTTP (``pip install "hybridrec[serve]"``): ``hybridrec serve --model m.hybridrec``.

:func:`create_app` builds the FastAPI app (a JSON API and one web page); :func:`serve` runs it
with uvicorn, bound to localhost unless told otherwise. ``import hybridrec`` never imports this.
"""
from __future__ import annotations

from typing import Any

from ._app import Limits, create_app
from ._served import chosen_backend, pin_threads, reload_on_hangup

__all__ = ["Limits", "chosen_backend", "create_app", "serve"]

def serve(model: Any, host: str = "127.0.0.1", port: int = 8000, limits: Limits | None = None,
          log_level: str = "warning", threads: int = 1, warm: bool = True, model_path: Any = None,
          model_format: str = "hybridrec", encoder_backend: str = "fastest", workers: int = 1) -> None:
    """Run the API for ``model`` until interrupted (uvicorn; one process, or ``workers``).

    Each request's work is small (one user's state against the catalogue), so the numerical
    libraries run it on ``threads`` threads: concurrent requests use the cores, and a request's
    BLAS and torch threads never wait on each other's.

    With ``limits.allow_reload``, SIGHUP reloads the model file as ``POST /admin/reload`` does
    (in a background thread; requests in flight finish on the old model). SIGINT and SIGTERM
    stop the server after the requests in flight (uvicorn's graceful shutdown).

    Parameters
    ----------
    model : HybridRecommender or None
        Fitted. With ``workers > 1`` the workers load ``model_path`` instead, and ``model`` may be None.
    host : str, default="127.0.0.1"
        Only this machine can connect; "0.0.0.0" opens the server to the network.
    port : int, default=8000
    limits : Limits, optional
    log_level : str, default="warning"
    threads : int, default=1
        Threads of BLAS (threadpoolctl) and torch for each request.
    warm : bool, default=True
        Before accepting requests (``/health`` answers only after it), load the text encoder and
        compute every known user's lists (``create_app(..., precompute=True)``). With
        ``workers > 1`` the lists and the encoder are always prepared before requests.
    model_path, model_format : optional
        The file ``model`` came from (its version; ``POST /admin/reload`` reads it again), as in
        :func:`create_app`.
    encoder_backend : {"fastest", "model", "torch", "onnx-int8"}, default="fastest"
        The backend that encodes text queries: ``"fastest"`` is onnx-int8 when onnxruntime is
        installed (about 8x faster for one query here, ``benchmarks/results/encoder_latency.md``;
        embeddings at mean cosine 0.99 to torch's, so a query's list may differ slightly from the
        Python API's), else torch; ``"model"`` keeps the model's own. As in :func:`create_app`.
    workers : int, default=1
        Worker processes. With more than one, each maps the model from ``model_path`` (a file in
        the safe format; :func:`hybridrec.load` with ``mmap=True``) and the known users' lists,
        computed once here, so the large arrays are in memory once whatever the number
        (:mod:`hybridrec.serve._workers`); a short-lived child process computes the lists, and
        this process only supervises. Fold-in, live events and reload are refused then: each
        worker would change only its own copy.
    """
    import uvicorn

    from ._workers import check_workers, run_workers

    check_workers(workers, model_path, model_format, limits or Limits())
    if workers > 1:  # the workers load model_path themselves
        run_workers(model_path, limits or Limits(), workers, host, port, log_level, threads, encoder_backend)
        return

    # the encoder (loaded now, not in the first query) and the lists are computed in big batches, with every core; requests then run on ``threads``
    app = create_app(model, limits, precompute=warm, model_path=model_path, model_format=model_format,
                     encoder_backend=encoder_backend)
    pin_threads(threads)
    if (limits or Limits()).allow_reload:
        reload_on_hangup(app.state.reload)
    # uvicorn's access log would hold query strings (texts); the app writes its own (hybridrec.access)
    uvicorn.run(app, host=host, port=port, log_level=log_level, access_log=False)
