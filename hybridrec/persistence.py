"""save / load: the safe format by default, joblib on request; versions recorded, atomic writes.

The default format (``format="hybridrec"``) is one zip file: a JSON manifest (versions,
parameters, the object tree with classes named from an allowlist) and the arrays as ``.npy``
members read with ``allow_pickle=False``. Loading it never unpickles: see
:mod:`hybridrec._safe_format` for what it guarantees.

.. warning::
   ``format="joblib"`` writes a pickle: loading one runs code chosen by whoever wrote it. Only
   load joblib files you created or trust.
"""
from __future__ import annotations

import logging
import os
import warnings
import zipfile
from importlib import metadata
from pathlib import Path
from typing import Any

import joblib

from . import _safe_format
from ._io import write_atomic
from .privacy import without_user_data
from ._safe_format import UnsafeModelError, allow
from ._validation import check_choice
from ._version import __version__

__all__ = ["FORMATS", "UnsafeModelError", "allow", "load", "save"]

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


#: The formats save and load speak.
FORMATS = ["hybridrec", "joblib"]


def save(model: Any, path: str | os.PathLike, compress: int = 3, *, format: str = "hybridrec",
         include_user_data: bool = True) -> Path:
    """Write ``model`` to ``path`` atomically, with the versions of the libraries it was built with.

    The file is written to a temporary file in the same folder and renamed into place, so a
    failure (disk full, an unsaveable attribute, Ctrl-C, a killed process) never leaves a partial
    file at ``path`` and never clobbers an existing good file.

    Parameters
    ----------
    model : object
        Usually a fitted :class:`~hybridrec.HybridRecommender`. Its ``data_`` (id maps, texts
        and the training histories used to build user profiles) is saved with it.
    path : str or path
        Any name; ``.hybridrec`` is the convention for the default format.
    compress : int, default=3
        joblib compression level (0-9); ``format="joblib"`` only.
    format : {"hybridrec", "joblib"}, default="hybridrec"
        ``"hybridrec"``: a zip of a JSON manifest and ``.npy`` arrays that :func:`load` reads
        without unpickling. ``"joblib"``: a pickle (loading it runs code; see the module note),
        for objects the safe format refuses.
    include_user_data : bool, default=True
        False writes the model without its training users' ids, histories, texts and per-user
        rows (:func:`hybridrec.privacy.without_user_data`): it still serves text queries, posted
        histories (``recommend_new``) and new items, but no longer recommends for, predicts for
        or explains the training users by id.

    Returns
    -------
    Path
        The written path.

    Raises
    ------
    TypeError
        With the default format, when the model holds a value that format cannot save (a
        function, an object of a class not on the allowlist); the message names where it is.
    """
    check_choice(format, "format", FORMATS, "save")
    if not isinstance(include_user_data, bool):
        raise TypeError(f"The 'include_user_data' parameter of save must be True or False. Got {include_user_data!r}.")
    if not include_user_data:
        model = without_user_data(model)
    target = Path(path).expanduser()
    if not target.parent.exists():
        raise FileNotFoundError(f"Cannot save to {target}: the folder {target.parent} does not exist.")
    header = {"format": FORMAT, "versions": _versions(), "model_class": _safe_format.dotted(type(model)),
              "include_user_data": include_user_data}
    if isinstance(getattr(model, "components_", None), dict):
        header["components"] = {name: _safe_format.dotted(type(c)) for name, c in model.components_.items()}
    if format == "joblib":
        write_atomic(target, lambda handle: joblib.dump({**header, "model": model}, handle, compress=compress))
    else:
        write_atomic(target, lambda handle: _safe_format.write(handle, model, header))
    logger.info("Saved %s to %s (%s format)", type(model).__name__, target, format)
    return target


def load(path: str | os.PathLike, *, format: str = "hybridrec", mmap: bool = False) -> Any:
    """Load a model written by :func:`save`, warning when library versions differ.

    Parameters
    ----------
    path : str or path
    format : {"hybridrec", "joblib"}, default="hybridrec"
        The default reads only the safe format and never unpickles: any other file is refused
        with a ``ValueError``. ``"joblib"`` reads joblib files, which execute code when loaded:
        only for files you trust.
    mmap : bool, default=False
        Map the model's large arrays (64 KiB or more) from the file instead of reading them
        (the safe format stores them uncompressed): loading is quick, pages are read from disk
        as they are used, and processes that load the same file share one copy in memory
        (``hybridrec serve --workers``). The maps are copy-on-write: a write changes only that
        process's copy, never the file. The file must stay in place while the model is used;
        :func:`save` replaces files by renaming, which keeps mapped ones valid.
        ``format="hybridrec"`` only.

    Raises
    ------
    ValueError
        The file is not a model in ``format``, names a class outside the allowlist
        (:class:`UnsafeModelError`), or was written in a newer format.
    """
    check_choice(format, "format", FORMATS, "load")
    if mmap and format != "hybridrec":
        raise ValueError(f"load(mmap=True) maps the safe format's arrays; a {format!r} file cannot be mapped.")
    source = Path(path).expanduser()
    if not source.exists():
        raise FileNotFoundError(f"No model file at {source}.")
    if format == "joblib":
        payload = _load_joblib(source)
    else:
        payload = _load_safe(source, mmap)
    _check_versions(source, payload)
    model = payload["model"]
    data = getattr(model, "data_", None)
    if callable(getattr(data, "freeze", None)):
        data.freeze()  # a fitted model's training data is read-only, as after fit
    return model


def _load_safe(source: Path, mmap: bool = False) -> dict:
    if not zipfile.is_zipfile(source):
        raise ValueError(f"{source} is not a model in hybridrec's safe format. If it is a joblib file you created or "
                         "trust, load it with hybridrec.load(path, format='joblib') (CLI: --model-format joblib): joblib files "
                         "are pickles and run code when loaded.")
    try:
        with zipfile.ZipFile(source) as archive:
            manifest = _safe_format.read_manifest(archive)
            _check_format(source, manifest.get("format"), manifest.get("versions", {}))
            if not isinstance(manifest.get("safe_format"), int) or manifest["safe_format"] > _safe_format.SAFE_FORMAT:
                raise ValueError(f"{source} uses layout {manifest.get('safe_format')} of the safe format; this "
                                 f"hybridrec {__version__} reads up to {_safe_format.SAFE_FORMAT}: upgrade hybridrec.")
            return {**manifest, "model": _safe_format.read(archive, manifest, source if mmap else None)}
    except UnsafeModelError as exc:
        raise UnsafeModelError(f"{source}: {exc}") from None
    except RecursionError:
        raise UnsafeModelError(f"{source}: the manifest nests deeper than Python can read; refused.") from None
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise ValueError(f"{source} is damaged ({type(exc).__name__}: {exc}).") from None


def _load_joblib(source: Path) -> dict:
    try:
        payload = joblib.load(source)
    except Exception as exc:  # noqa: BLE001 - pickle raises many types for foreign files
        raise ValueError(f"{source} is not a model file written by hybridrec.save ({type(exc).__name__}: {exc}).") from exc
    if not isinstance(payload, dict) or "model" not in payload or "versions" not in payload:
        raise ValueError(f"{source} was not written by hybridrec.save (no version record found).")
    _check_format(source, payload.get("format"), payload["versions"])
    return payload


def _check_format(source: Path, written: Any, versions: dict) -> None:
    if written != FORMAT:
        by = versions.get("hybridrec") if isinstance(versions, dict) else None
        hint = "upgrade hybridrec to load it" if isinstance(written, int) and written > FORMAT else "refit the model and save it again"
        raise ValueError(
            f"{source} holds a model in format {written} (written by hybridrec {by}); this hybridrec "
            f"{__version__} reads format {FORMAT} only: {hint}."
        )


def _check_versions(source: Path, payload: dict) -> None:
    saved, current = payload["versions"], _versions()
    if not isinstance(saved, dict):
        raise ValueError(f"{source} has no valid version record.")
    changed = {k: (saved.get(k), current.get(k)) for k in TRACKED if saved.get(k) != current.get(k)}
    if changed:
        detail = ", ".join(f"{k} {old} -> {new}" for k, (old, new) in changed.items())
        warnings.warn(
            f"{source} was saved with other library versions ({detail}); results may differ. "
            "Refit and save the model with the current versions to silence this warning.",
            UserWarning,
            stacklevel=3,
        )
