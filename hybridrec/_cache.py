"""An on-disk embedding cache keyed by (model key, text hash), stored in SQLite.

SQLite gives atomic, concurrent-safe writes with the standard library alone: a crash while
encoding never leaves a half-written entry, and two processes may share one cache folder.
"""
from __future__ import annotations

import hashlib
import logging
import os
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Sequence

import numpy as np

logger = logging.getLogger(__name__)

_CHUNK = 500  # keys per SELECT ... IN (...) query, well under SQLite's variable limit
#: Seconds to wait for another process's write lock before encoding without the cache.
LOCK_TIMEOUT = 10.0


def text_key(text: str) -> str:
    """Stable key of one text (SHA-1 of its UTF-8 bytes)."""
    return hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()


def default_cache_dir() -> Path:
    """``$HYBRIDREC_CACHE_DIR``, else ``$XDG_CACHE_HOME/hybridrec``, else ``~/.cache/hybridrec``."""
    if os.environ.get("HYBRIDREC_CACHE_DIR"):
        return Path(os.environ["HYBRIDREC_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "hybridrec"


class EmbeddingCache:
    """Embeddings on disk, one row per (model key, text key).

    Parameters
    ----------
    directory : path
        Folder holding ``embeddings.sqlite``; created when missing.
    """

    def __init__(self, directory: str | os.PathLike) -> None:
        self.directory = Path(directory)
        self.path = self.directory / "embeddings.sqlite"

    def _connect(self) -> sqlite3.Connection:
        self.directory.mkdir(parents=True, exist_ok=True)
        con = sqlite3.connect(self.path, timeout=LOCK_TIMEOUT)
        con.execute(
            "CREATE TABLE IF NOT EXISTS emb (model TEXT NOT NULL, key TEXT NOT NULL, "
            "vec BLOB NOT NULL, PRIMARY KEY (model, key))"
        )
        # Texts the model truncated, so a cache hit still reports them.
        con.execute(
            "CREATE TABLE IF NOT EXISTS truncated (model TEXT NOT NULL, key TEXT NOT NULL, PRIMARY KEY (model, key))"
        )
        return con

    def get(self, model: str, keys: Sequence[str]) -> tuple[dict[str, np.ndarray], set[str]]:
        """The cached vectors of ``keys`` that exist (float32), and which of them were truncated."""
        found: dict[str, np.ndarray] = {}
        truncated: set[str] = set()
        unique = list(dict.fromkeys(keys))
        try:
            with closing(self._connect()) as con, con:
                for start in range(0, len(unique), _CHUNK):
                    chunk = unique[start : start + _CHUNK]
                    marks = ",".join("?" * len(chunk))
                    rows = con.execute(
                        f"SELECT key, vec FROM emb WHERE model = ? AND key IN ({marks})", [model, *chunk]
                    )
                    found.update((key, np.frombuffer(blob, dtype=np.float32)) for key, blob in rows)
                    rows = con.execute(
                        f"SELECT key FROM truncated WHERE model = ? AND key IN ({marks})", [model, *chunk]
                    )
                    truncated.update(key for (key,) in rows)
        except (sqlite3.Error, OSError) as exc:  # a broken cache must never break encoding
            logger.warning("Embedding cache %s is unreadable (%s); encoding without it.", self.path, exc)
            self._set_aside_if_corrupt(exc)
            return {}, set()
        return found, truncated

    def _set_aside_if_corrupt(self, exc: BaseException) -> None:
        """Move a corrupt database aside (``embeddings.sqlite.corrupt``) so the next write rebuilds it.

        A locked database (``OperationalError``) is left alone: its owner is still writing.
        """
        if not isinstance(exc, sqlite3.DatabaseError) or isinstance(exc, sqlite3.OperationalError):
            return
        aside = self.path.with_name(self.path.name + ".corrupt")
        try:
            os.replace(self.path, aside)
        except OSError:
            return
        logger.warning("Moved the corrupt embedding cache to %s; it is rebuilt as texts are encoded.", aside)

    def put(self, model: str, keys: Sequence[str], vectors: np.ndarray, truncated: Sequence[str] = ()) -> None:
        """Store ``vectors`` (one row per key), and the keys of truncated texts, in one transaction."""
        rows = [(model, k, np.ascontiguousarray(v, dtype=np.float32).tobytes()) for k, v in zip(keys, vectors)]
        try:
            with closing(self._connect()) as con, con:
                con.executemany("INSERT OR REPLACE INTO emb (model, key, vec) VALUES (?, ?, ?)", rows)
                con.executemany("INSERT OR IGNORE INTO truncated (model, key) VALUES (?, ?)", [(model, k) for k in truncated])
        except (sqlite3.Error, OSError) as exc:
            logger.warning("Could not write the embedding cache %s (%s); continuing without it.", self.path, exc)
            self._set_aside_if_corrupt(exc)

