"""Reports of evaluation results: metric labels, wide tables, bar charts and JSON/text files.

Used by ``hybridrec evaluate``, :func:`~hybridrec.model_selection.tune_blend` and the
benchmarks, so every report names and formats metrics the same way. Every file is written
atomically (:func:`hybridrec._io.write_atomic`). Plots need matplotlib (``pip install
"hybridrec[plot]"``).
"""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

from .._io import json_ready, write_atomic
from .._optional import import_optional

logger = logging.getLogger(__name__)

#: Metric columns of a wide table, in order (``evaluate`` reports all of them).
TABLE_METRICS = ("precision", "recall", "ndcg", "map", "mrr", "hit_rate", "auc", "coverage")


def metric_label(metric: str, k: int) -> str:
    """Column name of a metric: ``ndcg@10``; MRR and AUC rank the whole list, so no ``@k``."""
    return metric if metric in ("mrr", "auc") else f"{metric}@{k}"


def wide_table(tidy: pd.DataFrame, k: int, drop_single_all: bool = True) -> pd.DataFrame:
    """One row per (candidates, domain, group), one column per metric, plus ``n_users``.

    Rows keep the order of :func:`~hybridrec.evaluation.evaluate` (domains sorted, then
    ``all``; groups ``all``, ``cold``, ``warm``); ``n_users`` is the number of users behind the
    NDCG value (AUC may skip a few more).

    Parameters
    ----------
    tidy : DataFrame
        ``evaluate``'s frame; a ``candidates`` column in front labels candidate sets (added
        as ``"all items"`` when absent).
    k : int
    drop_single_all : bool, default=True
        Leave out the aggregate ``all`` domain where a candidate set has a single domain (its
        rows would repeat that domain's).

    Returns
    -------
    DataFrame
    """
    if "candidates" not in tidy.columns:
        tidy = tidy.assign(candidates="all items")
    keys = ["candidates", "domain", "group"]
    wide = tidy.pivot(index=keys, columns="metric", values="value")
    metrics = [m for m in TABLE_METRICS if m in wide.columns] + [m for m in wide.columns if m not in TABLE_METRICS]
    wide = wide[metrics].rename(columns=lambda m: metric_label(m, k))
    users = tidy[tidy["metric"] == "ndcg"].set_index(keys)["n_users"]
    wide["n_users"] = users.reindex(wide.index).astype(int)
    wide.columns.name = None
    order = pd.MultiIndex.from_frame(tidy[keys].drop_duplicates())
    wide = wide.reindex(order).reset_index()
    if drop_single_all:
        real = wide[wide["domain"] != "all"].groupby("candidates", sort=False)["domain"].nunique()
        single = wide["candidates"].map(real).fillna(0) <= 1
        wide = wide[~(single & (wide["domain"] == "all"))].reset_index(drop=True)
    return wide


def format_table(tidy: pd.DataFrame, k: int) -> str:
    """The printed table: domain x group rows, metric columns (4 decimals), ``n_users``.

    The ``candidates`` column is shown only when there are two candidate sets (cold_item).
    """
    wide = wide_table(tidy, k)
    if wide["candidates"].nunique() == 1:
        wide = wide.drop(columns="candidates")
    numeric = [c for c in wide.columns if c not in ("candidates", "domain", "group", "n_users")]
    formatters = {c: (lambda v: "nan" if v != v else f"{v:.4f}") for c in numeric}
    return wide.to_string(index=False, formatters=formatters)


def new_figure(width: float, height: float) -> Any:
    """A matplotlib Figure on the Agg canvas, without touching pyplot's global state."""
    import_optional("matplotlib", "Plotting evaluation results")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def save_figure(fig: Any, path: str | Path, dpi: int = 120) -> Path:
    """Write ``fig`` as a PNG, atomically (its folder created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, lambda handle: fig.savefig(handle, format="png", dpi=dpi))
    logger.info("wrote %s", path)
    return path


def plot_metrics(tidy: pd.DataFrame, k: int, title: str, path: str | Path) -> Path:
    """Bar chart of NDCG@k and Recall@k per (candidates,) domain and group, written as a PNG."""
    wide = wide_table(tidy, k)
    two_sets = wide["candidates"].nunique() > 1
    labels = [
        (f"{c}\n" if two_sets else "") + f"{d} / {g}\n(n={n})"
        for c, d, g, n in zip(wide["candidates"], wide["domain"], wide["group"], wide["n_users"])
    ]
    x = np.arange(len(wide))
    width = 0.38
    fig = new_figure(max(6.0, 0.9 * len(wide) + 2.0), 4.8)
    ax = fig.add_subplot()
    for offset, metric, color in ((-width / 2, "ndcg", "#1f77b4"), (width / 2, "recall", "#ff7f0e")):
        values = np.nan_to_num(wide[metric_label(metric, k)].to_numpy(dtype=float))
        bars = ax.bar(x + offset, values, width, label=f"{'NDCG' if metric == 'ndcg' else 'Recall'}@{k}", color=color)
        if len(wide) <= 16:
            ax.bar_label(bars, fmt="%.3f", fontsize=7, padding=1)
    ax.set_xticks(x, labels, fontsize=8, rotation=0 if len(wide) <= 8 else 45, ha="center" if len(wide) <= 8 else "right")
    ax.set_ylabel("mean over users")
    top = np.nanmax(wide[[metric_label("ndcg", k), metric_label("recall", k)]].to_numpy(dtype=float), initial=0.0)
    ax.set_ylim(0, max(0.05, float(top)) * 1.15)
    ax.set_title(title, fontsize=10)
    ax.legend(loc="upper right")
    ax.grid(axis="y", alpha=0.3)
    return save_figure(fig, path)


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows of ``frame`` as JSON-ready dicts (NaN -> None, numpy scalars -> Python)."""
    return [{str(key): json_ready(value) for key, value in row.items()} for row in frame.to_dict(orient="records")]


def write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` (its folder created) atomically, UTF-8."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, lambda handle: handle.write(text.encode("utf-8")))
    logger.info("wrote %s", path)
    return path


def write_json(path: str | Path, report: Mapping[str, Any], indent: int = 2) -> Path:
    """Write ``report`` as JSON (numpy values converted, NaN as null), atomically."""
    return write_text(path, json.dumps(json_ready(dict(report)), indent=indent, allow_nan=False, default=str) + "\n")
