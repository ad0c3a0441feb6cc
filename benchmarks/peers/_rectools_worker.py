"""Train one RecTools transformer on an exported split; runs inside benchmarks/peers/.venv, never the project's.

``run.py`` writes the split as files (``train.csv.gz``, ``items.csv``, ``targets.csv``, and for
the text-aware model ``text.npy`` + ``text_items.csv``) and starts this script with a JSON config.
Every ``eval_every`` epochs it writes the top-``k`` lists of the validation and test users, each
ranked among the items of its held-out item's domain, seen items excluded, and the validation
NDCG@10 it uses to stop (``patience`` evaluations without a better one). Test users' held-out
items are not in the files it reads; ``run.py`` scores every list with the project's ``evaluate``.

This file imports only RecTools and its dependencies (numpy<2, pandas<3), so it cannot share code
with the project; the one metric here is the stopping rule's, and the report's comes from ``run.py``.
"""
from __future__ import annotations

import argparse
import json
import logging
import time
import typing as tp
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

log = logging.getLogger("peers.worker")
#: Item embeddings of the text-aware model (external id -> row of ``_TEXT["matrix"]``), set before fit.
_TEXT: dict[str, tp.Any] = {}


def _text_net_type():
    """A UniSRec-style item net: the frozen sentence embedding through a mixture of whitened linear experts."""
    from rectools.models.nn.item_net import ItemNetBase

    class TextMoEItemNet(ItemNetBase):
        """``sum_k g_k(z) * W_k (z - b_k)``, the gate ``g = softmax(G z)``; UniSRec's MoE adapter (8 experts)."""

        def __init__(self, table: np.ndarray, n_factors: int, dropout_rate: float, experts: int = 8) -> None:
            super().__init__()
            self.register_buffer("table", torch.from_numpy(table.astype(np.float32)))
            dim_in = table.shape[1]
            self.bias = nn.Parameter(torch.zeros(experts, dim_in))
            self.maps = nn.Parameter(torch.randn(experts, dim_in, n_factors) * dim_in ** -0.5)
            self.gate = nn.Linear(dim_in, experts, bias=False)
            self.dropout = nn.Dropout(dropout_rate)
            self.n_factors = n_factors

        def forward(self, items: torch.Tensor) -> torch.Tensor:
            z = self.dropout(self.table[items.to(self.table.device)])
            gate = torch.softmax(self.gate(z), dim=-1)
            experts = torch.einsum("...ei,eid->...ed", z[..., None, :] - self.bias, self.maps)
            return (gate[..., None] * experts).sum(dim=-2)

        @classmethod
        def from_dataset(cls, dataset: tp.Any, n_factors: int, dropout_rate: float, **kwargs: tp.Any):
            external = dataset.item_id_map.get_external_sorted_by_internal()
            rows = pd.Series(np.arange(len(_TEXT["ids"])), index=_TEXT["ids"])
            where = rows.reindex(external).to_numpy()
            table = np.zeros((len(external), _TEXT["matrix"].shape[1]), np.float32)
            known = ~np.isnan(where)
            table[known] = _TEXT["matrix"][where[known].astype(int)]  # the padding / mask tokens stay 0
            return cls(table, n_factors, dropout_rate)

        @classmethod
        def from_dataset_schema(cls, dataset_schema: tp.Any, *args: tp.Any, **kwargs: tp.Any):
            raise NotImplementedError("the benchmark never reloads a saved model")

        @property
        def out_dim(self) -> int:
            return self.n_factors

    return TextMoEItemNet


def _bucketed(base: type, seed: int) -> type:
    """``base`` data preparator with batches of similar lengths, trimmed to their longest session.

    RecTools pads every training session to ``session_max_len``; on this split (median 6 events,
    limit 50) five sixths of every batch would be padding. Sessions are shuffled, sorted by length
    within windows of 50 batches, and the batches shuffled; the padding columns every session of a
    batch shares are dropped. Positions count from the end of a session (RecTools' default
    ``LearnableInversePositionalEncoding``), so a shorter batch sees the same positions; with
    ``use_key_padding_mask=True`` (``run.py`` sets it) padding is never attended, and a trimmed
    batch computes what the full-length one would, several times faster here. (Without the mask, SASRec's
    queries attend padding slots: training would see fewer than scoring, which pads to the limit.)
    """
    from torch.utils.data import DataLoader

    calls = {"n": 0}

    class Bucketed(base):  # type: ignore[misc, valid-type]
        def get_dataloader_train(self) -> DataLoader:
            loader = super().get_dataloader_train()
            lengths = np.array([len(s) for s in loader.dataset.sessions])
            rng = np.random.default_rng(seed + calls["n"])  # a new order every epoch, seeded
            calls["n"] += 1
            order = rng.permutation(len(lengths))
            window = self.batch_size * 50
            batches = []
            for start in range(0, len(order), window):
                chunk = order[start:start + window]
                chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
                batches += [chunk[i:i + self.batch_size].tolist() for i in range(0, len(chunk), self.batch_size)]
            batches = [batches[i] for i in rng.permutation(len(batches))]
            return DataLoader(loader.dataset, batch_sampler=batches, collate_fn=self._collate_fn_train,
                              num_workers=self.dataloader_num_workers)

        def _collate_fn_train(self, batch: tp.Any) -> tp.Dict[str, torch.Tensor]:
            out = super()._collate_fn_train(batch)
            width = out["x"].shape[1]
            used = ((out["x"] != 0) | (out["y"] != 0)).any(dim=0) if out["y"].shape[1] == width else (out["x"] != 0).any(dim=0)
            first = int(torch.nonzero(used)[0]) if used.any() else width - 1
            return {k: v[:, first:] if v.dim() >= 2 and v.shape[1] == width else v for k, v in out.items()}

    return Bucketed


def _whitened(matrix: np.ndarray, dim: int) -> np.ndarray:
    """PCA-whitened embeddings (the first ``dim`` components), as UniSRec and the project's tower read them."""
    centred = matrix - matrix.mean(axis=0)
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    scale = s[:dim] / np.sqrt(len(matrix) - 1)
    return (centred @ vt[:dim].T) / scale


def _model(config: dict[str, tp.Any]):
    from pytorch_lightning import Trainer
    from rectools.models import BERT4RecModel, SASRecModel
    from rectools.models.nn.item_net import IdEmbeddingsItemNet

    params = dict(config["params"])
    if config.get("text"):
        params["item_net_block_types"] = (IdEmbeddingsItemNet, _text_net_type()) if config.get("ids", True) \
            else (_text_net_type(),)
    else:
        params["item_net_block_types"] = (IdEmbeddingsItemNet,)

    def trainer() -> Trainer:
        return Trainer(max_epochs=1, min_epochs=1, deterministic=True, enable_progress_bar=False,
                       enable_model_summary=False, logger=False, enable_checkpointing=False,
                       accelerator="cpu", devices=1)

    from rectools.models.nn.transformers.bert4rec import BERT4RecDataPreparator
    from rectools.models.nn.transformers.sasrec import SASRecDataPreparator

    kind, preparator = {"sasrec": (SASRecModel, SASRecDataPreparator),
                        "bert4rec": (BERT4RecModel, BERT4RecDataPreparator)}[config["model"]]
    if config.get("bucketed", True):
        params["data_preparator_type"] = _bucketed(preparator, int(config.get("seed", 0)))
    return kind(get_trainer_func=trainer, deterministic=True, recommend_torch_device="cpu", **params)


def _lists(model: tp.Any, dataset: tp.Any, targets: pd.DataFrame, items: pd.DataFrame, k: int) -> pd.DataFrame:
    """Top-``k`` of each target user among the items of its domain (seen items excluded)."""
    out = []
    known = set(dataset.item_id_map.external_ids)
    for domain, rows in targets.groupby("domain"):
        pool = [i for i in items.loc[items["domain"] == domain, "item"] if i in known]
        reco = model.recommend(users=rows["user"].unique(), dataset=dataset, k=k, filter_viewed=True,
                               items_to_recommend=pool)
        reco = reco.rename(columns={"user_id": "user", "item_id": "item"})[["user", "item", "rank"]]
        out.append(reco.merge(rows[["user", "part"]].drop_duplicates(), on="user"))
    return pd.concat(out, ignore_index=True)


def _valid_ndcg(lists: pd.DataFrame, targets: pd.DataFrame) -> float:
    """NDCG@10 of the validation users (one held-out item each); the stopping rule only."""
    valid = targets[targets["part"] == "valid"][["user", "held_out"]]
    hits = lists[lists["part"] == "valid"].merge(valid, on="user")
    hits = hits[(hits["item"] == hits["held_out"]) & (hits["rank"] <= 10)]
    return float((1.0 / np.log2(hits["rank"].to_numpy() + 1)).sum() / len(valid))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--split", type=Path, required=True)
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    config = json.loads(args.config.read_text())
    torch.set_num_threads(int(config.get("threads", 2)))
    from pytorch_lightning import seed_everything
    from rectools import Columns
    from rectools.dataset import Dataset

    seed_everything(int(config.get("seed", 0)), workers=True)
    train = pd.read_csv(args.split / "train.csv.gz")
    items = pd.read_csv(args.split / "items.csv")
    targets = pd.read_csv(args.split / "targets.csv")
    frame = pd.DataFrame({
        Columns.User: train["user"], Columns.Item: train["item"], Columns.Weight: 1.0,
        Columns.Datetime: pd.Timestamp("2000-01-01") + pd.to_timedelta(train["position"], unit="s"),
    })
    dataset = Dataset.construct(frame)
    if config.get("text"):
        _TEXT["ids"] = pd.read_csv(args.split / "text_items.csv")["item"].to_numpy()
        _TEXT["matrix"] = _whitened(np.load(args.split / "text.npy"), int(config.get("whiten_dim", 128)))
    model = _model(config)
    args.out.mkdir(parents=True, exist_ok=True)
    curve, best, waited, start = [], -1.0, 0, time.perf_counter()
    every, patience, k = int(config["eval_every"]), int(config["patience"]), int(config.get("k", 50))
    for epoch in range(every, int(config["max_epochs"]) + 1, every):
        model.fit_partial(dataset, min_epochs=every, max_epochs=every)
        fit_seconds = time.perf_counter() - start
        lists = _lists(model, dataset, targets, items, k)
        lists.to_csv(args.out / f"lists_{epoch:03d}.csv.gz", index=False)
        ndcg = _valid_ndcg(lists, targets)
        curve.append({"epoch": epoch, "fit_seconds": round(fit_seconds, 1), "valid_ndcg10": round(ndcg, 5)})
        log.info("epoch %d: valid NDCG@10 %.4f, %.0f s of training", epoch, ndcg, fit_seconds)
        (args.out / "curve.json").write_text(json.dumps(curve, indent=1))
        start = time.perf_counter() - fit_seconds  # the lists' time is not training time
        if ndcg > best:
            best, waited = ndcg, 0
        else:
            waited += 1
            if waited >= patience:
                break
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
