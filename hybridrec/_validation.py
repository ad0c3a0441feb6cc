"""Small parameter checks whose messages name the parameter, the value and what is allowed."""
from __future__ import annotations

import numbers
from typing import Any, Iterable

import numpy as np
import pandas as pd


def _where(name: str, method: str | None) -> str:
    return f"The {name!r} parameter of {method}" if method else f"The {name!r} parameter"


def check_positive_int(value: Any, name: str, method: str | None = None) -> int:
    """Return ``value`` as an int, or raise ``ValueError`` unless it is a positive integer."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ValueError(f"{_where(name, method)} must be a positive int. Got {value!r} instead.")
    return int(value)


def check_fraction(value: Any, name: str, method: str | None = None) -> float:
    """Return ``value`` as a float in [0, 1], or raise ``ValueError``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real) or not 0 <= value <= 1:
        raise ValueError(f"{_where(name, method)} must be a float in [0, 1]. Got {value!r} instead.")
    return float(value)


def check_non_negative(value: Any, name: str, method: str | None = None) -> float:
    """Return ``value`` as a float >= 0, or raise ``ValueError``."""
    if (
        isinstance(value, (bool, np.bool_))
        or not isinstance(value, numbers.Real)
        or not np.isfinite(value)
        or value < 0
    ):
        raise ValueError(f"{_where(name, method)} must be a finite float >= 0. Got {value!r} instead.")
    return float(value)


def check_choice(value: Any, name: str, allowed: Iterable[Any], method: str | None = None) -> Any:
    """Raise ``ValueError`` unless ``value`` is one of ``allowed``."""
    allowed = list(allowed)
    if value not in allowed:
        raise ValueError(f"{_where(name, method)} must be one of {allowed}. Got {value!r} instead.")
    return value


def external_stacklevel() -> int:
    """``stacklevel`` for ``warnings.warn`` that points at the first frame outside hybridrec."""
    import inspect
    from pathlib import Path

    package = str(Path(__file__).resolve().parent)
    frame, level = inspect.currentframe(), 0
    while frame is not None and str(Path(frame.f_code.co_filename).resolve()).startswith(package):
        frame, level = frame.f_back, level + 1
    return max(level, 1)


def plain(value: Any) -> Any:
    """A numpy scalar as the Python value it holds (for messages: ``5``, not ``np.int64(5)``)."""
    return value.item() if isinstance(value, np.generic) else value


def preview(values: Iterable[Any], limit: int = 5, render: Any = repr) -> str:
    """Render the first few values of a collection for an error message (each by ``render``)."""
    values = [plain(v) for v in values]
    head = ", ".join(render(v) for v in values[:limit])
    more = f", ... ({len(values)} in all)" if len(values) > limit else ""
    return f"[{head}{more}]"


def require_frame(frame: Any, name: str) -> pd.DataFrame:
    """Raise ``ValueError`` unless ``frame`` is a DataFrame with unique column names."""
    if not isinstance(frame, pd.DataFrame):
        raise ValueError(f"{name} must be a pandas DataFrame. Got {type(frame).__name__} instead.")
    if frame.columns.has_duplicates:
        raise ValueError(f"{name} has duplicate column names {preview(frame.columns[frame.columns.duplicated()].unique().tolist())}; "
                         "each column must appear once.")
    return frame


def require_columns(frame: pd.DataFrame, name: str, columns: dict[str, str]) -> None:
    """Raise ``ValueError`` naming the parameter when a configured column is missing."""
    for param, column in columns.items():
        if column not in frame.columns:
            raise ValueError(
                f"{name} has no column {column!r} (set by {param!r}). "
                f"Its columns are {list(frame.columns)}; pass {param}=... to use another name."
            )


def require_ids(values: pd.Series, name: str) -> None:
    """Raise ``ValueError`` with the row numbers when ids are missing."""
    missing = values.isna().to_numpy()
    if missing.any():
        rows = np.flatnonzero(missing)
        raise ValueError(
            f"{name} has {missing.sum()} missing (NaN/None) ids at rows {preview(rows.tolist())}; "
            "every row needs an id."
        )


def available_memory() -> int | None:
    """Bytes of memory available now: Linux's MemAvailable (free plus reclaimable cache), else free pages, else None."""
    import os

    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, ValueError, OSError):  # pragma: no cover - non-POSIX
        return None


def check_memory(needed: float, what: str, hint: str) -> None:
    """Refuse with ``ValueError`` work that needs more than the available memory (``what`` and ``hint`` say which and how to shrink it)."""
    free = available_memory()
    if free is not None and needed > free:
        raise ValueError(f"{what} would need about {needed / 2**30:.1f} GiB of memory, more than the "
                         f"{free / 2**30:.1f} GiB available now; {hint}.")
