"""Training of :class:`~hybridrec.components.tower.TowerComponent`: whitening, windows, the loop.

Every epoch, each user's ordered events are cut into windows of at most ``max_len`` targets;
the user encoder reads a window's events and predicts, at every position, the next event (as
SASRec does). For users active in several domains, ``cross_domain_pairs`` of them also give a
cross-domain row: their events in the *other* domains as history, one of their events in this
domain as the only target (the cross-domain cold-start case). The loss is a sampled softmax
(InfoNCE) against uniform negatives. Training runs ``epochs_for`` epochs (``max_epochs``, fewer
on large data: ``max_events``) or until the wall-clock budget. With the cosine schedule the
learning rate reaches 0 at the last epoch, which is kept; with a constant one, training stops
when recall@20 on held-out last events stops improving and the best epoch is kept.

Inside ``data_parallel`` and an initialised torch.distributed group, each process trains on
every size-th batch with its own negatives and the gradients are averaged before each step, so
the processes hold the same model; ``training_curve_``'s losses are then each process's own
batches' (see :class:`hybridrec.spark.SparkTowerComponent`).
"""
from __future__ import annotations

import logging
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import numpy as np
import torch
from tqdm import tqdm

from ..sequences import Sequences
from ._tower_nets import sampled_softmax

logger = logging.getLogger(__name__)


def fit_whitening(embeddings: np.ndarray, n_components: int) -> tuple[np.ndarray, np.ndarray]:
    """``(mean, projection)`` with ``(e - mean) @ projection`` decorrelated, unit variance, top components.

    Raw sentence embeddings are anisotropic (every pair looks similar); whitening spreads them.
    Zero rows (items without text) are left out of the statistics.
    """
    live = embeddings[np.abs(embeddings).sum(axis=1) > 0].astype(np.float64)
    dim = embeddings.shape[1]
    if len(live) < 2:
        return np.zeros(dim, np.float32), np.eye(dim, min(n_components, dim), dtype=np.float32)
    mean = live.mean(axis=0)
    values, vectors = np.linalg.eigh(np.cov(live - mean, rowvar=False))
    order = np.argsort(-values)[:min(n_components, dim, len(live) - 1)]
    projection = vectors[:, order] / np.sqrt(np.maximum(values[order], 0) + 1e-6)
    return mean.astype(np.float32), projection.astype(np.float32)


def whiten(embeddings: np.ndarray, mean: np.ndarray, projection: np.ndarray) -> np.ndarray:
    out = ((embeddings - mean) @ projection).astype(np.float32)
    out[np.abs(embeddings).sum(axis=1) == 0] = 0.0  # no text: nothing to say
    return out


def gather_last(seq: Sequences, users: np.ndarray, stop: np.ndarray, n: int) -> np.ndarray:
    """Per row, the ``n`` events of user ``users[r]`` before position ``stop[r]``, right-aligned, -1 padded."""
    starts = seq.indptr[users]
    src = starts[:, None] + stop[:, None] - n + np.arange(n)[None, :]
    if not len(seq.items):
        return np.full(src.shape, -1, dtype=np.int64)
    return np.where(src >= starts[:, None], seq.items[np.maximum(src, 0)], -1)


def by_domain(seq: Sequences, item_domain: np.ndarray) -> dict[int, Sequences]:
    """Per domain ``d``: every user's events outside ``d``, in order."""
    owners, domains = seq.owners(), item_domain[seq.items]
    out = {}
    for d in np.unique(item_domain):
        keep = domains != d
        counts = np.bincount(owners[keep], minlength=len(seq))
        out[int(d)] = Sequences(np.concatenate([[0], np.cumsum(counts)]).astype(np.int64), seq.items[keep])
    return out


@dataclass
class Data:
    """What the windows are cut from: the sequences (held-out last events removed) and the held-out events."""

    seq: Sequences
    others: dict[int, Sequences]
    item_domain: np.ndarray
    valid_users: np.ndarray
    valid_items: np.ndarray

    @classmethod
    def build(cls, seq: Sequences, item_domain: np.ndarray, n_valid: int, rng: np.random.Generator) -> "Data":
        eligible = np.flatnonzero(seq.lengths() >= 3)
        n = min(n_valid, len(eligible) // 5) if len(eligible) >= 20 else 0
        users = np.sort(rng.choice(eligible, size=n, replace=False)) if n else np.zeros(0, np.int64)
        last = seq.indptr[users + 1] - 1
        keep = np.ones(len(seq.items), dtype=bool)
        keep[last] = False
        counts = np.bincount(seq.owners()[keep], minlength=len(seq))
        train = Sequences(np.concatenate([[0], np.cumsum(counts)]).astype(np.int64), seq.items[keep])
        return cls(train, by_domain(train, item_domain), item_domain, users, seq.items[last])

    def windows(self, max_len: int, cross_share: float, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
        """``(owners, inputs, targets)`` of this epoch's rows; ``targets`` -1 where nothing is predicted."""
        lengths = self.seq.lengths()
        n_windows = np.where(lengths >= 2, -(-(lengths - 1) // max_len), 0)
        owners = np.repeat(np.arange(len(self.seq)), n_windows)
        k = np.arange(n_windows.sum()) - np.repeat(np.cumsum(n_windows) - n_windows, n_windows)
        ends = lengths[owners] - k * max_len  # each window's targets end here (non-overlapping)
        inputs = gather_last(self.seq, owners, ends - 1, max_len)
        targets = np.where(inputs >= 0, gather_last(self.seq, owners, ends, max_len), -1)
        cross_owners, cross_inputs, cross_targets = self._cross_rows(max_len, cross_share, rng)
        return (np.concatenate([owners, cross_owners]), np.vstack([inputs, cross_inputs]),
                np.vstack([targets, cross_targets]))

    def _cross_rows(self, max_len: int, share: float, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
        empty = (np.zeros(0, np.int64), np.zeros((0, max_len), np.int64), np.zeros((0, max_len), np.int64))
        if share <= 0 or len(self.others) < 2:
            return empty
        lengths = self.seq.lengths()
        users = np.flatnonzero(lengths > 0)
        pick = self.seq.indptr[users] + (rng.random(len(users)) * lengths[users]).astype(np.int64)
        target, domain = self.seq.items[pick], self.item_domain[self.seq.items[pick]]
        has_other = np.zeros(len(users), dtype=bool)
        for d, other in self.others.items():
            rows = domain == d
            has_other[rows] = other.lengths()[users[rows]] > 0
        chosen = has_other & (rng.random(len(users)) < share)
        if not chosen.any():
            return empty
        users, target, domain = users[chosen], target[chosen], domain[chosen]
        inputs = np.full((len(users), max_len), -1, dtype=np.int64)
        for d, other in self.others.items():
            rows = np.flatnonzero(domain == d)
            if len(rows):
                inputs[rows] = gather_last(other, users[rows], other.lengths()[users[rows]], max_len)
        targets = np.full(inputs.shape, -1, dtype=np.int64)
        targets[:, -1] = target
        return users, inputs, targets

    def valid_inputs(self, max_len: int) -> np.ndarray:
        return gather_last(self.seq, self.valid_users, self.seq.lengths()[self.valid_users], max_len)


def collisions(positives: np.ndarray, negatives: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(rows, columns)`` where ``negatives[columns] == positives[rows]``, without a rows x negatives table."""
    order = np.argsort(negatives, kind="stable")
    sorted_ = negatives[order]
    lo, hi = np.searchsorted(sorted_, positives, "left"), np.searchsorted(sorted_, positives, "right")
    counts = hi - lo
    rows = np.repeat(np.arange(len(positives)), counts)
    within = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    return rows, order[np.repeat(lo, counts) + within]


#: Whether ``train`` may use the initialised torch.distributed group (see ``data_parallel``).
_OPTED_IN = threading.local()


@contextmanager
def data_parallel() -> Iterator[None]:
    """Within this block, a tower fitted in an initialised torch.distributed group trains data-parallel.

    Outside it, ``train`` ignores any group, so a tower fitted inside someone else's
    distributed job trains alone, as everywhere else.
    """
    before = getattr(_OPTED_IN, "value", False)
    _OPTED_IN.value = True
    try:
        yield
    finally:
        _OPTED_IN.value = before


def process_group() -> tuple[int, int]:
    """``(rank, size)`` of the group this process trains in: ``(0, 1)`` alone.

    A group counts only inside ``data_parallel`` and when torch.distributed is initialised
    (:class:`hybridrec.spark.SparkTowerComponent` does both, with the gloo backend on CPUs).
    """
    dist = torch.distributed
    if getattr(_OPTED_IN, "value", False) and dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def average_gradients(model: Any, contributed: bool) -> None:
    """Every gradient summed over the group, divided by the processes that had a batch this step.

    A process without a batch adds zeros (a parameter without a gradient gets zeros), so every
    process steps the same parameters and the processes stay identical.
    """
    count = torch.tensor([float(contributed)])
    torch.distributed.all_reduce(count)
    for param in model.parameters():
        if param.grad is None:
            param.grad = torch.zeros_like(param)
        torch.distributed.all_reduce(param.grad)
        param.grad /= max(count.item(), 1.0)


def _any(flag: bool, size: int) -> bool:
    """Whether ``flag`` holds in any process of the group (so all stop together)."""
    if size == 1:
        return flag
    value = torch.tensor([float(flag)])
    torch.distributed.all_reduce(value, op=torch.distributed.ReduceOp.MAX)
    return bool(value.item())


def _batch_loss(rows: np.ndarray, owners: np.ndarray, inputs: np.ndarray, targets: np.ndarray, forward: Callable,
                observed: np.ndarray, params: dict[str, Any], rng: np.random.Generator) -> torch.Tensor | None:
    """The sampled-softmax loss of one batch of windows (None when it predicts nothing)."""
    width = max(1, int((inputs[rows] >= 0).sum(axis=1).max()))
    batch_inputs, batch_targets = inputs[rows, -width:], targets[rows, -width:]
    labelled = batch_targets >= 0
    positives = batch_targets[labelled]
    if not len(positives):
        return None
    extra = rng.choice(positives, size=min(len(positives), params.get("batch_negatives", 0)), replace=False)
    negatives = np.concatenate([rng.choice(observed, size=params["negatives"]), extra])
    users, items = forward(owners[rows], batch_inputs, np.concatenate([positives, negatives]))
    collide = tuple(torch.from_numpy(a).to(users.device) for a in collisions(positives, negatives))
    mask = torch.from_numpy(labelled).to(users.device)
    return sampled_softmax(users[mask], items[:len(positives)], items[len(positives):], collide, params["temperature"])


def epochs_for(data: Data, max_epochs: int, max_events: int | None) -> int:
    """Epochs to train: ``max_epochs``, fewer when the epochs would predict over ``max_events`` events.

    Large datasets need fewer passes: each epoch alone holds many optimizer steps.
    """
    targets = int(np.maximum(data.seq.lengths() - 1, 0).sum())
    if max_events is None or targets == 0:
        return int(max_epochs)
    return int(min(max_epochs, max(1, max_events // targets)))


def train(
    model: Any,
    data: Data,
    forward: Callable[[np.ndarray, np.ndarray, np.ndarray], tuple[torch.Tensor, torch.Tensor, torch.Tensor]],
    recall: Callable[[], float],
    observed: np.ndarray,
    params: dict[str, Any],
    rng: np.random.Generator,
    show_progress: bool,
) -> tuple[list[dict[str, Any]], int]:
    """The training loop: one record per epoch, and the epoch ``model`` is left at.

    With the cosine schedule, the last epoch; with a constant one, the epoch of the best
    held-out recall@20 (training stops after ``patience`` epochs without a better one).

    ``forward(owners, inputs, candidates)`` gives the user vectors at every position ``(B, T, d)``
    and the vectors of the items ``targets`` and ``candidates`` name; ``recall()`` the held-out
    recall@20.
    """
    # ID embeddings are sparse (an item is in a few batches an epoch): they take a larger step
    ids = [p for name, p in model.named_parameters() if name.endswith("ids.weight")]
    rest = [p for name, p in model.named_parameters() if not name.endswith("ids.weight")]
    scales = [1.0, float(params.get("id_lr_scale", 1.0))]
    optimizer = torch.optim.Adam([{"params": rest}, {"params": ids}], lr=params["learning_rate"],
                                 weight_decay=params["weight_decay"],
                                 fused=True)  # one pass over each parameter: a third of foreach's time on CPU
    step, cosine = 0, params.get("schedule", "constant") == "cosine"
    curve: list[dict[str, Any]] = []
    best, best_state, waited, kept = -1.0, None, 0, 0
    start = time.perf_counter()
    budget = params["max_seconds"]
    out_of_time = False
    n_epochs = epochs_for(data, params["max_epochs"], params.get("max_events"))
    epochs = tqdm(range(n_epochs), desc="tower", unit="epoch", disable=not show_progress)
    rank, size = process_group()
    for epoch in epochs:
        model.train()
        owners, inputs, targets = data.windows(params["max_len"], params["cross_domain_pairs"], rng)
        # rows of similar length share a batch (less padding), about batch_size targets a batch; random order
        order = np.argsort((inputs >= 0).sum(axis=1) + rng.random(len(inputs)), kind="stable")
        cuts = np.cumsum((targets[order] >= 0).sum(axis=1)) // params["batch_size"]
        batches = np.split(order, np.flatnonzero(np.diff(cuts)) + 1)
        losses = []
        shuffled = rng.permutation(len(batches))
        # data-parallel: each process takes every size-th batch and its own negatives; all take
        # the same number of steps, and the main generator stays the same in every process
        steps = -(-len(batches) // size)
        mine, draws = (shuffled, rng) if size == 1 else (
            shuffled[rank::size], np.random.default_rng([int(rng.integers(2 ** 62)), rank]))
        total = n_epochs * steps  # the cosine schedule reaches 0 at the last epoch
        for i in range(steps):
            decay = 0.5 * (1 + np.cos(np.pi * min(1.0, step / total))) if cosine else 1.0
            for group, scale in zip(optimizer.param_groups, scales):
                group["lr"] = params["learning_rate"] * scale * decay
            step += 1
            loss = None
            if i < len(mine):
                loss = _batch_loss(batches[mine[i]], owners, inputs, targets, forward, observed, params, draws)
            optimizer.zero_grad()
            if loss is not None:
                loss.backward()
                losses.append(loss.item())
            if size > 1:
                average_gradients(model, loss is not None)
            elif loss is None:
                continue
            optimizer.step()
            if budget is not None and _any(time.perf_counter() - start > budget, size):
                out_of_time = True
                break
        model.eval()
        score = recall() if len(data.valid_users) else float("nan")
        curve.append({"epoch": epoch + 1, "loss": float(np.mean(losses)) if losses else float("nan"),
                      "valid_recall@20": score, "seconds": round(time.perf_counter() - start, 2)})
        epochs.set_postfix(loss=f"{curve[-1]['loss']:.3f}", recall=f"{score:.4f}")
        logger.info("tower epoch %d: loss %.4f, held-out recall@20 %.4f (%.1fs)", epoch + 1, curve[-1]["loss"],
                    score, curve[-1]["seconds"])
        if not np.isnan(score) and not cosine:  # a cosine schedule ends at its best: the last epoch is kept
            if score > best:
                best, waited, kept = score, 0, epoch + 1
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            else:
                waited += 1
        if _any(out_of_time or (not np.isnan(score) and waited >= params["patience"]), size):
            break
    if best_state is None:
        kept = len(curve)
    else:
        model.load_state_dict(best_state)
    model.eval()
    return curve, kept
