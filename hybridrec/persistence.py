"""save / load with joblib: versions recorded, atomic writes, warnings on mismatch.

.. warning::
   A joblib file is a pickle: loading it runs code chosen by whoever wrote it. Only load files
   you created or trust.
"""
from __future__ import annotations

import logging
import os
import warnings
from importlib import metadata
from pathlib import Path
from typing import Any

import joblib

from ._io import write_atomic
from ._version import __version__

logger = logging.getLogger(__name__)

#: Layout of the saved payload and of the model objects inside it. Format 1 (hybridrec 0.1)
#: models hold other internals (an implicit model object inside ALS, text embeddings on the
#: recommender) and cannot be loaded by this version: refit them.
FORMAT = 2
#: Distributions whose versions are stored with a model and compared on load.
TRACKED = ["hybridrec", "numpy", "scipy", "scikit-learn", "implicit", "lightfm-next", "sentence-transformers", "joblib"]


def _versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for dist in TRACKED:
        if dist == "hybridrec":
            out[dist] = __version__
            continue
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = None
    return out


def save(model: Any, path: str | os.PathLike, compress: int = 3) -> Path:
    """Write ``model`` to ``path`` atomically, with the versions of the libraries it was built with.

    The file is written to a temporary file in the same folder and renamed into place, so a
    failure (disk full, an unpicklable attribute, Ctrl-C) never leaves a partial file at ``path``
    and never clobbers an existing good file.

    Parameters
    ----------
    model : object
        Usually a fitted :class:`~hybridrec.HybridRecommender`. Its ``data_`` (id maps, texts
        and the training histories used to build user profiles) is saved with it.
    path : str or path
    compress : int, default=3
        joblib compression level (0-9).

    Returns
    -------
    Path
        The written path.
    """
    target = Path(path).expanduser()
    if not target.parent.exists():
        raise FileNotFoundError(f"Cannot save to {target}: the folder {target.parent} does not exist.")
    payload = {"format": FORMAT, "versions": _versions(), "model": model}
    write_atomic(target, lambda handle: joblib.dump(payload, handle, compress=compress))
    logger.info("Saved %s to %s", type(model).__name__, target)
    return target


def load(path: str | os.PathLike) -> Any:
    """Load a model written by :func:`save`, warning when library versions differ.

    Only load files you trust: joblib files are pickles and execute code when loaded.
    """
    source = Path(path).expanduser()
    if not source.exists():
        raise FileNotFoundError(f"No model file at {source}.")
    try:
        payload = joblib.load(source)
    except Exception as exc:  # noqa: BLE001 - pickle raises many types for foreign files
        raise ValueError(f"{source} is not a model file written by hybridrec.save ({type(exc).__name__}: {exc}).") from exc
    if not isinstance(payload, dict) or "model" not in payload or "versions" not in payload:
        raise ValueError(f"{source} was not written by hybridrec.save (no version record found).")
    written = payload.get("format")
    if written != FORMAT:
        by = payload["versions"].get("hybridrec")
        hint = "upgrade hybridrec to load it" if isinstance(written, int) and written > FORMAT else "refit the model and save it again"
        raise ValueError(
            f"{source} holds a model in format {written} (written by hybridrec {by}); this hybridrec "
            f"{__version__} reads format {FORMAT} only: {hint}."
        )
    saved, current = payload["versions"], _versions()
    changed = {k: (saved.get(k), current.get(k)) for k in TRACKED if saved.get(k) != current.get(k)}
    if changed:
        detail = ", ".join(f"{k} {old} -> {new}" for k, (old, new) in changed.items())
        warnings.warn(
            f"{source} was saved with other library versions ({detail}); results may differ. "
            "Refit and save the model with the current versions to silence this warning.",
            UserWarning,
            stacklevel=2,
        )
    return payload["model"]
