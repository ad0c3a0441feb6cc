"""The model a server answers with, and what it derives from it, swapped whole on reload.

A request reads :attr:`Slot.served` once and works with that :class:`Served` to the end, so a
reload never shows it half of one model and half of another: requests in flight finish on the
old model, the next ones start on the new. :meth:`Slot.reload` loads and prepares the new model
(its known users' lists, its text encoder) before the one assignment that swaps it in; a file
that fails to load leaves the running model in place.
"""
from __future__ import annotations

import hashlib
import logging
import signal
import threading
import time
from pathlib import Path
from typing import Any, Callable

from ._lists import KnownLists

logger = logging.getLogger(__name__)


#: What ``serve(encoder_backend=...)`` accepts.
ENCODER_BACKENDS = ("fastest", "model", "torch", "onnx-int8")


def chosen_backend(encoder: Any, choice: str) -> str:
    """The text backend ``encoder_backend=choice`` means for ``encoder``: ``"fastest"`` is onnx-int8 when
    onnxruntime is installed, else torch; ``"model"`` is the encoder's own.

    Parameters
    ----------
    encoder : TextEncoder
        The model's text encoder (its ``backend`` is read for ``"model"``).
    choice : str
        One of :data:`ENCODER_BACKENDS`; another raises ``ValueError``.

    Returns
    -------
    str
        The backend name.
    """
    from ..onnx_backend import installed

    if choice not in ENCODER_BACKENDS:
        raise ValueError(f"encoder_backend must be one of {ENCODER_BACKENDS}. Got {choice!r}.")
    if choice == "model":
        return encoder.backend
    if choice == "fastest":
        return "onnx-int8" if installed() else "torch"
    return choice


def prepare_encoder(model: Any, choice: str, load: bool) -> None:
    """Set the model's text encoder to the backend ``choice`` means (``set_params``); load it with ``load``."""
    encoder = getattr(model, "encoder_", None)
    if encoder is None:
        return
    backend = chosen_backend(encoder, choice)
    if backend != encoder.backend:
        encoder.set_params(backend=backend)
        logger.info("hybridrec serve: text queries are encoded with the %s backend", backend)
    if load:
        encoder.load()


def pin_threads(threads: int) -> None:
    """Run BLAS (threadpoolctl) and torch on ``threads`` threads in this process (each request's work is small)."""
    import sys

    from threadpoolctl import threadpool_limits

    threadpool_limits(threads)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)


def file_version(path: str | Path) -> str:
    """A model file's version: the first 12 hex digits of its SHA-256."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:12]


class Served:
    """One fitted model, its version label and (with ``precompute``, or given) its known users' lists."""

    def __init__(self, model: Any, version: str, max_k: int, precompute: bool, lists: KnownLists | None = None) -> None:
        self.model = model
        self.version = version
        self.lists = lists if lists is not None else KnownLists(model, max_k) if precompute else None


class Slot:
    """Holds the :class:`Served` now answering; :meth:`reload` replaces it in one assignment.

    Parameters
    ----------
    served : Served
    path : str or Path, optional
        The model file ``reload`` reads again (``None``: reloading is refused).
    model_format : str, default="hybridrec"
        As in :func:`hybridrec.load`.
    encoder_backend : str, default="model"
        The text backend of a reloaded model (:func:`chosen_backend`).
    """

    def __init__(self, served: Served, path: str | Path | None = None, model_format: str = "hybridrec",
                 encoder_backend: str = "model") -> None:
        self.served = served
        self.path = None if path is None else Path(path)
        self.model_format = model_format
        self.encoder_backend = encoder_backend
        self._reloading = threading.Lock()

    def reload(self, max_k: int, precompute: bool) -> Served:
        """Load the model file again, prepare it, swap it in; return it. One reload at a time."""
        from .. import load

        if self.path is None:
            raise ValueError("This server was not started from a model file, so there is nothing to reload.")
        with self._reloading:
            start = time.perf_counter()
            model = load(self.path, format=self.model_format)
            prepare_encoder(model, self.encoder_backend, load=True)
            served = Served(model, file_version(self.path), max_k, precompute)
            self.served = served  # the swap: requests that started before keep the old one
            logger.info("hybridrec serve: reloaded %s (version %s) in %.1f s", self.path, served.version,
                        time.perf_counter() - start)
            return served


def reload_on_hangup(reload: Callable[[], Any]) -> None:
    """Run ``reload`` in a background thread on each SIGHUP (where the platform has it).

    A failed reload is logged and leaves the old model serving; a SIGHUP during a reload waits
    for it (:meth:`Slot.reload` takes one at a time).
    """
    if not hasattr(signal, "SIGHUP") or threading.current_thread() is not threading.main_thread():
        return  # Windows has no SIGHUP; only the main thread may set a handler

    def run() -> None:
        try:
            served = reload()
            logger.info("hybridrec serve: SIGHUP reloaded the model (version %s)", served.version)
        except Exception:  # noqa: BLE001 - a bad file must not stop the server
            logger.exception("hybridrec serve: SIGHUP reload failed; the old model keeps serving")

    signal.signal(signal.SIGHUP, lambda signum, frame: threading.Thread(target=run, daemon=True).start())
