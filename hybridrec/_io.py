"""File output shared by persistence, the evaluation CLI and the benchmarks: atomic writes, JSON-ready values."""
from __future__ import annotations

import contextlib
import math
import os
import tempfile
from pathlib import Path
from typing import IO, Any, Callable

import numpy as np


def write_atomic(path: str | os.PathLike, write: Callable[[IO[bytes]], Any]) -> Path:
    """Write ``path`` through a temporary file in its folder, then ``os.replace`` it into place.

    ``write`` receives a binary handle. A failure (or an interrupt) removes the temporary file
    and leaves any earlier ``path`` untouched, so readers never see a partial file.

    Parameters
    ----------
    path : str or path
        Destination; its folder must exist.
    write : callable
        Called once with the open binary handle.

    Returns
    -------
    Path
        The written path.
    """
    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; give the file the usual permissions
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return target


def json_ready(value: Any) -> Any:
    """``value`` with numpy scalars and arrays as Python values, tuples as lists, NaN/inf as None."""
    if isinstance(value, dict):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    if isinstance(value, np.ndarray):
        return [json_ready(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
