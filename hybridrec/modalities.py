"""Named dense blocks beside text: vectors keyed by id, and table columns encoded into a block.

Items (and users) can carry named blocks next to their text: image vectors, audio vectors, or
categorical and numeric columns encoded by :class:`ColumnEncoder`. ``fit(...,
item_vectors={"image": ..., "meta": ColumnEncoder(...)})`` passes them; components opt in by
name (``SemanticComponent(modality="image")``, ``TextKNNComponent(modality="meta")``, LightFM's
side features).
"""
from __future__ import annotations

import hashlib
import json
import logging
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from ._ids import as_index
from ._validation import check_positive_int, preview

logger = logging.getLogger(__name__)


def align_block(name: str, value: Any, ids: pd.Index, *, kind: str = "item", table_ids: pd.Index | None = None,
                id_col: str = "item_id") -> np.ndarray:
    """One row per id of ``ids`` (float32), from vectors keyed by id; missing ids get zero rows.

    Parameters
    ----------
    name : str
        The block's name (for messages).
    value : DataFrame, Series, mapping or ndarray
        - a DataFrame with an ``id_col`` column (the other columns are the vector), or indexed
          by id;
        - a Series or mapping of id -> vector (a list or array);
        - an array with one row per row of the table the ids came from (``table_ids``).
    ids : pandas.Index
        The ids in inner order.
    kind : {"item", "user"}
    table_ids : pandas.Index, optional
        The ids of the items (users) table in row order, for a plain array.
    id_col : str
        The id column name of a DataFrame.

    Returns
    -------
    ndarray of shape (len(ids), dim)
    """
    where = f"{kind}_vectors[{name!r}]"
    if isinstance(value, pd.DataFrame):
        frame = value.set_index(id_col) if id_col in value.columns else value
        keys, rows = frame.index, frame.to_numpy()
    elif isinstance(value, (pd.Series, Mapping)):
        series = value if isinstance(value, pd.Series) else pd.Series(list(value.values()), index=list(value.keys()), dtype=object)
        keys = series.index
        try:
            rows = np.vstack([np.asarray(v, dtype=np.float64).reshape(-1) for v in series.to_numpy()]) if len(series) else np.zeros((0, 0))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{where} must map ids to vectors of one length ({exc}).") from None
    else:
        rows = np.asarray(value)
        if table_ids is None:
            raise ValueError(f"{where} is a plain array; pass a DataFrame or mapping keyed by {kind} id "
                             f"(an array aligns only with the rows of the {kind}s table).")
        if rows.ndim != 2 or len(rows) != len(table_ids):
            raise ValueError(f"{where} must have one row per row of the {kind}s table ({len(table_ids)}). "
                             f"Got shape {rows.shape}.")
        keys = table_ids
    try:
        rows = np.asarray(rows, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{where} must hold numbers only.") from None
    if rows.ndim != 2 or rows.shape[1] == 0:
        raise ValueError(f"{where} must hold vectors of at least one dimension. Got shape {rows.shape}.")
    if not np.isfinite(rows).all():
        raise ValueError(f"{where} holds NaN or infinite values; fill or drop them first.")
    keys = as_index(keys)
    if not keys.is_unique:
        raise ValueError(f"{where} has duplicate ids: {preview(keys[keys.duplicated()].unique())}.")
    position = keys.get_indexer(ids)
    out = np.zeros((len(ids), rows.shape[1]), dtype=np.float32)
    out[position >= 0] = rows[position[position >= 0]]
    absent = int((position < 0).sum())
    if absent:
        logger.info("%s: %d of %d %ss have no vector and get a zero row.", where, absent, len(ids), kind)
    return out


class ColumnEncoder(BaseEstimator):
    """Categorical, multi-label and numeric columns of a table -> one dense, unit-length block.

    - ``categorical`` columns: one value per row, one-hot;
    - ``multilabel`` columns: several values per row separated by ``sep`` (genres, authors,
      tags), multi-hot;
    - ``numeric`` columns: cut into ``n_bins`` quantile bins of the fitted values; a value
      activates its bin with 1 and the neighbouring bins with 0.5, so close values stay similar.

    Values seen fewer than ``min_count`` times in fit, unseen values and missing values add
    nothing. Each column's part is scaled to unit length, then the row, so every column counts
    equally and rows compare by cosine. A row with nothing known is a zero row.

    Parameters
    ----------
    categorical, multilabel, numeric : list of str
        Column names.
    sep : str, default="|"
        Separator of the multi-label columns (labels are stripped of spaces).
    n_bins : int, default=10
        Quantile bins per numeric column.
    min_count : int, default=2
        Smallest number of rows a categorical or multi-label value needs to get a dimension.

    Examples
    --------
    >>> model.fit(ratings, items=movies, item_vectors={  # doctest: +SKIP
    ...     "meta": ColumnEncoder(multilabel=["genres"], numeric=["year"])})
    """

    def __init__(self, categorical: Sequence[str] = (), multilabel: Sequence[str] = (), numeric: Sequence[str] = (),
                 sep: str = "|", n_bins: int = 10, min_count: int = 2) -> None:
        self.categorical = categorical
        self.multilabel = multilabel
        self.numeric = numeric
        self.sep = sep
        self.n_bins = n_bins
        self.min_count = min_count

    def _columns(self) -> list[str]:
        return [*self.categorical, *self.multilabel, *self.numeric]

    def _check(self, frame: Any) -> pd.DataFrame:
        if not isinstance(frame, pd.DataFrame):
            raise ValueError(f"ColumnEncoder needs a pandas DataFrame. Got {type(frame).__name__} instead.")
        if not self._columns():
            raise ValueError("ColumnEncoder needs at least one of 'categorical', 'multilabel' or 'numeric'.")
        missing = [c for c in self._columns() if c not in frame.columns]
        if missing:
            raise ValueError(f"ColumnEncoder: the table has no column(s) {missing}. Its columns are {list(frame.columns)}.")
        return frame

    def _labels(self, column: str, frame: pd.DataFrame) -> list[list[str]]:
        values = frame[column]
        if column in self.categorical:
            return [[] if pd.isna(v) else [str(v).strip()] for v in values]
        return [[] if pd.isna(v) else [t.strip() for t in str(v).split(self.sep) if t.strip()] for v in values]

    def fit(self, frame: pd.DataFrame) -> "ColumnEncoder":
        """Learn the values of the categorical and multi-label columns and the numeric bin edges.

        Parameters
        ----------
        frame : DataFrame
            A table with every configured column (one row per item or user).

        Returns
        -------
        self
        """
        frame = self._check(frame)
        check_positive_int(self.n_bins, "n_bins", "ColumnEncoder")
        check_positive_int(self.min_count, "min_count", "ColumnEncoder")
        self.vocabulary_: dict[str, list[str]] = {}
        for column in [*self.categorical, *self.multilabel]:
            counts = pd.Series([t for labels in self._labels(column, frame) for t in labels], dtype=object).value_counts()
            self.vocabulary_[column] = sorted(str(v) for v in counts.index[counts >= self.min_count])
        self.edges_: dict[str, np.ndarray] = {}
        for column in self.numeric:
            values = pd.to_numeric(frame[column], errors="coerce").dropna().to_numpy(dtype=np.float64)
            edges = np.unique(np.quantile(values, np.linspace(0, 1, self.n_bins + 1)[1:-1])) if len(values) else np.array([])
            self.edges_[column] = edges
        return self

    @property
    def dim(self) -> int:
        """Width of the block."""
        return sum(len(v) for v in self.vocabulary_.values()) + sum(len(e) + 1 for e in self.edges_.values())

    @property
    def model_key(self) -> str:
        """Identity of the fitted encoding (parameters, vocabularies and bin edges)."""
        state = {"params": self.get_params(), "vocabulary": self.vocabulary_,
                 "edges": {c: e.tolist() for c, e in self.edges_.items()}}
        return "columns:" + hashlib.sha1(json.dumps(state, sort_keys=True, default=list).encode()).hexdigest()[:16]

    def encode(self, frame: pd.DataFrame) -> np.ndarray:
        """The block of every row of ``frame``, shape ``(len(frame), dim)``, float32.

        Parameters
        ----------
        frame : DataFrame
            A table with every configured column; values unseen in :meth:`fit` add nothing.

        Returns
        -------
        ndarray of float32 of shape (len(frame), dim)
            Unit-length rows (zero rows for rows with nothing known).
        """
        frame = self._check(frame)
        parts = []
        for column, vocabulary in self.vocabulary_.items():
            position = {v: i for i, v in enumerate(vocabulary)}
            part = np.zeros((len(frame), len(vocabulary)), dtype=np.float32)
            for row, labels in enumerate(self._labels(column, frame)):
                for label in labels:
                    if label in position:
                        part[row, position[label]] = 1.0
            parts.append(part)
        for column, edges in self.edges_.items():
            values = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=np.float64)
            part = np.zeros((len(frame), len(edges) + 1), dtype=np.float32)
            known = np.isfinite(values)
            bins = np.searchsorted(edges, values[known], side="right")
            rows = np.flatnonzero(known)
            for offset, weight in ((-1, 0.5), (1, 0.5), (0, 1.0)):
                near = bins + offset
                ok = (near >= 0) & (near <= len(edges))
                part[rows[ok], near[ok]] = weight
            parts.append(part)
        return _unit_rows(np.hstack([_unit_rows(p) for p in parts]) if parts else np.zeros((len(frame), 0), np.float32))


def _unit_rows(block: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(block, axis=1, keepdims=True)
    return np.divide(block, norms, out=np.zeros_like(block, dtype=np.float32), where=norms > 0).astype(np.float32)


def encode_columns(specs: Mapping[str, Any] | None, table: pd.DataFrame | None, kind: str = "item"
                   ) -> tuple[dict[str, Any], dict[str, ColumnEncoder]]:
    """Fit every :class:`ColumnEncoder` among ``specs`` on ``table``; return the specs with those
    replaced by arrays (one row per table row) and the fitted encoders by block name."""
    if specs is None:
        return {}, {}
    if not isinstance(specs, Mapping):
        raise ValueError(f"The '{kind}_vectors' parameter of fit must be a dict of block name -> vectors. "
                         f"Got {type(specs).__name__} instead.")
    out, encoders = {}, {}
    for name, spec in specs.items():
        if not isinstance(name, str) or not name:
            raise ValueError(f"Block names in '{kind}_vectors' must be non-empty strings. Got {name!r}.")
        if name == "text":
            raise ValueError(f"'{kind}_vectors' may not name a block 'text': text embeddings come from the text columns.")
        if isinstance(spec, ColumnEncoder):
            if table is None:
                raise ValueError(f"{kind}_vectors[{name!r}] is a ColumnEncoder, which reads the {kind}s table; pass one.")
            from sklearn.base import clone

            encoders[name] = clone(spec).fit(table)
            out[name] = encoders[name].encode(table)
        else:
            out[name] = spec
    return out, encoders


def require_blocks(components: Sequence[tuple[str, Any]], blocks: Mapping[str, np.ndarray]) -> None:
    """Raise ``ValueError`` naming the component when one reads an item block fit was not given.

    The text block is made by the recommender itself, so only the other blocks are checked.
    """
    for name, comp in components:
        missing = [m for m in comp.modalities() if m != "text" and m not in blocks]
        if missing:
            raise ValueError(
                f"Component {name!r} reads the item blocks {missing}, which fit was not given; pass "
                f"fit(..., item_vectors={{{missing[0]!r}: ...}}). Blocks given: {sorted(blocks)}."
            )


def grow_blocks(blocks: dict[str, np.ndarray], new: Mapping[str, np.ndarray] | None, n_new: int, kind: str,
          n_old: int = 0, allow_new: bool = False) -> dict[str, np.ndarray]:
    """``blocks`` with ``n_new`` rows appended from ``new`` (zero rows for blocks ``new`` lacks)."""
    new = dict(new or {})
    unknown = sorted(set(new) - set(blocks))
    if unknown and not allow_new:
        raise ValueError(f"New {kind}s bring blocks {unknown} that the model was not fitted with "
                         f"(its blocks: {sorted(blocks)}).")
    out = {}
    for name in [*blocks, *unknown]:
        old = blocks.get(name)
        dim = (old if old is not None else new[name]).shape[1]
        rows = np.asarray(new[name], dtype=np.float32) if name in new else np.zeros((n_new, dim), np.float32)
        if rows.shape != (n_new, dim):
            raise ValueError(f"The {kind} block {name!r} of the new {kind}s must have shape {(n_new, dim)}. Got {rows.shape}.")
        old = old if old is not None else np.zeros((n_old, dim), np.float32)
        out[name] = np.vstack([old, rows])
    return out
