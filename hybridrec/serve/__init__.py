"""Serve a fitted model over HTTP (``pip install "hybridrec[serve]"``): ``hybridrec serve --model m.hybridrec``.

:func:`create_app` builds the FastAPI app (a JSON API and one web page); :func:`serve` runs it
with uvicorn, bound to localhost unless told otherwise. ``import hybridrec`` never imports this.
"""
from __future__ import annotations

from typing import Any

from ._app import Limits, create_app

__all__ = ["Limits", "create_app", "serve"]


def serve(model: Any, host: str = "127.0.0.1", port: int = 8000, limits: Limits | None = None,
          log_level: str = "warning") -> None:
    """Run the API for ``model`` until interrupted (uvicorn, one process, a thread pool for requests).

    Parameters
    ----------
    model : HybridRecommender
        Fitted.
    host : str, default="127.0.0.1"
        Only this machine can connect; "0.0.0.0" opens the server to the network.
    port : int, default=8000
    limits : Limits, optional
    log_level : str, default="warning"
    """
    import uvicorn

    app = create_app(model, limits)
    if getattr(model, "encoder_", None) is not None:  # load the text model now, not in the first query
        model.encoder_.encode(["warm up"])
    uvicorn.run(app, host=host, port=port, log_level=log_level)
