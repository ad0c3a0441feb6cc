"""The text-behaviour tower: frozen text embeddings adapted by interactions, and an ordered user encoder.

Item side: the sentence embedding of an item's text, whitened, goes through a small adapter (an
MLP, or a gated mixture of linear experts); items that had interactions in training add an ID
embedding. Items without interactions, and items added later, are placed from their text alone.
User side: the user's last events (oldest first, each scaled by its cross-domain weight) and
the user's own text, pooled by attention (``encoder="mean"``) or read by causal self-attention
(``encoder="sequence"``, SASRec-style, with a domain embedding). A text query is the user tower
fed only a text. Scores are cosine similarities. The torch modules live in ``_tower_nets``.
"""
from __future__ import annotations

import logging
import time
from contextlib import contextmanager
from typing import Iterator, Mapping

import numpy as np

from .._validation import check_choice, check_fraction, check_non_negative, check_positive_int
from ..sequences import Sequences
from ._tower_users import TowerUsers, _cosine, _sequences_from, _unit
from .base import TEXT, Component, TrainingData, UserBatch

logger = logging.getLogger(__name__)


@contextmanager
def data_parallel() -> Iterator[None]:
    """Within this block, a tower fitted in an initialised torch.distributed group trains data-parallel.

    Each process of the group trains on its share of every epoch's batches, with its own
    negatives, and the gradients are averaged before every optimizer step, so the processes
    hold the same model. Outside this block a group is ignored. Use the gloo backend: the
    tower trains on the CPU here. :class:`hybridrec.spark.SparkTowerComponent` uses it.
    """
    from . import _tower_training

    with _tower_training.data_parallel():
        yield


class TowerComponent(TowerUsers, Component):
    """A two-tower model over frozen text embeddings, trained on the interactions (in torch, on the CPU).

    Parameters
    ----------
    encoder : {"mean", "sequence"}, default="mean"
        How the user tower reads the events: attention-weighted pooling (order-free), or causal
        self-attention over the last ``max_len`` events with position and domain embeddings.
    dim : int, default=64
        Size of the user and item vectors.
    hidden : int, default=256
        Hidden width of the item adapter (``experts=1``).
    experts : int, default=1
        More than 1: the adapter is a gated mixture of that many linear experts (UniSRec's MoE).
    whiten_dim : int, default=128
        Whitened text dimensions the adapter reads.
    id_embeddings : bool, default=True
        Add a trained ID embedding to items that had interactions in training.
    text : bool, default=True
        Read the item texts (and users' own texts). False, an ablation that measures the text's
        share: ID embeddings only, and items without interactions are not placed (score 0).
    max_len : int, default=50
        Events of a user's history the user tower reads (the latest).
    heads, layers : int, default=2, 1
        Attention heads and blocks of the sequence encoder.
    user_text_weight : float, default=1.0
        Weight of the user's own text, read as one more event (0: ignored).
    negatives : int, default=1024
        Uniform random negatives shared by a batch. (The batch's other targets as negatives,
        which follow popularity, cost a third of NDCG@10 on the sample: the cosine score has
        no item bias to make up for them.)
    temperature : float, default=0.1
        Softmax temperature of the training loss (on cosine similarities).
    cross_domain_pairs : float in [0, 1], default=0.5
        Share of the examples of users active in several domains whose history is their
        events in the other domains (the target's domain left out).
    batch_size : int, default=2048
        Predicted events (targets) per training step.
    learning_rate : float, default=3e-3
        Adam's learning rate.
    id_lr_scale : float, default=10.0
        The ID embeddings' learning rate, as a multiple of ``learning_rate``: an item is in a few
        batches an epoch, and with the larger step far fewer epochs reach the best point
        (``benchmarks/results/tower_speed/``).
    weight_decay, dropout : float, default=0.0, 0.0
        Adam's weight decay, and the dropout of the sequence encoder (0 scored better in the
        short schedule on Amazon, and costs nothing).
    schedule : {"cosine", "constant"}, default="cosine"
        The learning rate: decayed along a cosine to 0 at the last epoch, or held constant.
    max_epochs : int, default=8
        Upper bound on passes over the training events.
    max_events : int or None, default=1_600_000
        Upper bound on the events predicted over all epochs: a dataset of more than
        ``max_events / max_epochs`` training events trains ``max_events // events`` epochs
        (at least 1; Amazon Food-Kitchen: 4). None: ``max_epochs`` always.
    max_seconds : float or None, default=None
        Wall-clock budget of training (None: none). With a budget, results depend on the speed
        of the machine; without one, seeded fits are identical.
    patience : int, default=5
        With ``schedule="constant"``: epochs without a better held-out recall@20 before training
        stops (the best epoch is kept). A cosine schedule keeps its last epoch.
    valid_users : int, default=500
        Users whose last event is held out of training: their recall@20 is recorded per epoch
        (``training_curve_``) and, with ``schedule="constant"``, chooses the epoch (at most a
        fifth of the users).
    device : str, default="auto"
        ``"auto"`` takes a CUDA GPU when torch sees one, else the CPU.
    random_state : int or None, default=None
        Seed; ``None`` takes the recommender's ``random_state``.
    modality : str, default="text"
        The item block the adapter reads.

    Attributes
    ----------
    training_curve_ : list of dict
        Per epoch: loss, held-out recall@20 and seconds since the start.
    best_epoch_ : int
        The epoch kept (the last one with the cosine schedule).
    """

    name = "tower"
    default_weight = 1.0
    query_weight = 0.0
    can_retrieve = True

    def __init__(self, encoder: str = "mean", dim: int = 64, hidden: int = 256, experts: int = 1,
                 whiten_dim: int = 128, id_embeddings: bool = True, text: bool = True,
                 max_len: int = 50, heads: int = 2,
                 layers: int = 1, user_text_weight: float = 1.0, negatives: int = 1024, temperature: float = 0.1,
                 cross_domain_pairs: float = 0.5, batch_size: int = 2048, learning_rate: float = 3e-3,
                 weight_decay: float = 0.0, dropout: float = 0.0, schedule: str = "cosine",
                 id_lr_scale: float = 10.0, max_epochs: int = 8, max_events: int | None = 1_600_000,
                 max_seconds: float | None = None, patience: int = 5, valid_users: int = 500,
                 device: str = "auto", random_state: int | None = None, modality: str = TEXT) -> None:
        self.encoder = encoder
        self.dim = dim
        self.hidden = hidden
        self.experts = experts
        self.whiten_dim = whiten_dim
        self.id_embeddings = id_embeddings
        self.text = text
        self.max_len = max_len
        self.heads = heads
        self.layers = layers
        self.user_text_weight = user_text_weight
        self.negatives = negatives
        self.temperature = temperature
        self.cross_domain_pairs = cross_domain_pairs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.dropout = dropout
        self.schedule = schedule
        self.id_lr_scale = id_lr_scale
        self.max_epochs = max_epochs
        self.max_events = max_events
        self.max_seconds = max_seconds
        self.patience = patience
        self.valid_users = valid_users
        self.device = device
        self.random_state = random_state
        self.modality = modality

    def modalities(self) -> tuple[str, ...]:
        return (self.modality,)

    def reads_order(self) -> bool:
        return self.encoder == "sequence"

    def check_params(self) -> None:
        where = "TowerComponent"
        check_choice(self.encoder, "encoder", ["mean", "sequence"], where)
        check_choice(self.schedule, "schedule", ["cosine", "constant"], where)
        for name in ("dim", "hidden", "experts", "whiten_dim", "max_len", "heads", "layers", "batch_size",
                     "max_epochs", "patience"):
            check_positive_int(getattr(self, name), name, where)
        if self.max_events is not None:
            check_positive_int(self.max_events, "max_events", where)
        for name in ("user_text_weight", "learning_rate", "weight_decay", "id_lr_scale"):
            check_non_negative(getattr(self, name), name, where)
        if isinstance(self.negatives, bool) or not isinstance(self.negatives, (int, np.integer)) or self.negatives < 0:
            raise ValueError(f"The 'negatives' parameter of {where} must be an int >= 0. Got {self.negatives!r} instead.")
        if isinstance(self.valid_users, bool) or not isinstance(self.valid_users, (int, np.integer)) or self.valid_users < 0:
            raise ValueError(f"The 'valid_users' parameter of {where} must be an int >= 0. Got {self.valid_users!r} instead.")
        if not check_non_negative(self.temperature, "temperature", where) > 0:
            raise ValueError(f"The 'temperature' parameter of {where} must be > 0. Got {self.temperature!r} instead.")
        check_fraction(self.cross_domain_pairs, "cross_domain_pairs", where)
        check_fraction(self.dropout, "dropout", where)
        if self.max_seconds is not None and not check_non_negative(self.max_seconds, "max_seconds", where) > 0:
            raise ValueError(f"The 'max_seconds' parameter of {where} must be > 0 or None. Got {self.max_seconds!r}.")
        if self.encoder == "sequence" and self.dim % self.heads:
            raise ValueError(f"{where}: 'dim' ({self.dim}) must be a multiple of 'heads' ({self.heads}).")
        check_choice(self.device, "device", ["auto", "cpu", "cuda"], where)
        if not self.text and not self.id_embeddings:
            raise ValueError(f"{where}: text=False needs id_embeddings=True (the items would have no vectors).")

    # ------------------------------------------------------------------ fit
    def fit(self, data: TrainingData) -> "TowerComponent":
        import torch

        from . import _tower_training as training

        self.check_params()
        block = data.item_blocks.get(self.modality)
        if block is None:
            raise ValueError(f"TowerComponent(modality={self.modality!r}) needs the item block {self.modality!r}; "
                             f"blocks given: {sorted(data.item_blocks)}.")
        seed = self.random_state if self.random_state is not None else data.random_state
        seed = 0 if seed is None else int(seed)
        start = time.perf_counter()
        self.device_ = "cuda" if self.device == "auto" and torch.cuda.is_available() else \
            ("cpu" if self.device == "auto" else self.device)
        self.mean_, self.projection_ = training.fit_whitening(np.asarray(block, np.float32), int(self.whiten_dim))
        n_items = data.matrix.shape[1]
        counts = np.diff(data.matrix.tocsc().indptr)
        self.n_domains_ = int(data.item_domain.max(initial=0)) + 1
        self.n_ids_ = n_items
        ids = np.where((counts > 0) & bool(self.id_embeddings), np.arange(n_items) + 1, 0)
        self._z_cache = training.whiten(np.asarray(block, np.float32), self.mean_, self.projection_)
        users_text = data.user_blocks.get(TEXT)
        seq = data.sequences if data.sequences is not None else _sequences_from(data.matrix)
        self.item_domain_ = np.asarray(data.item_domain).copy()
        rng = np.random.default_rng(seed)
        deterministic = torch.are_deterministic_algorithms_enabled()
        fill = torch.utils.deterministic.fill_uninitialized_memory
        torch.use_deterministic_algorithms(True, warn_only=True)  # seeded fits are identical, threads or not
        # deterministic mode also fills every new tensor with NaN first (a debugging aid): a twentieth of an
        # epoch's time here, and every tensor the tower allocates is written before it is read
        torch.utils.deterministic.fill_uninitialized_memory = False
        try:
            self._train(data, seed, rng, counts, ids, seq, users_text)
        finally:
            torch.use_deterministic_algorithms(deterministic)
            torch.utils.deterministic.fill_uninitialized_memory = fill
        self._nets["all"].to("cpu")  # scoring runs on the CPU, beside the other components
        self.train_device_, self.device_ = self.device_, "cpu"
        self.has_vector_ = np.abs(self.item_vectors_).sum(axis=1) > 0
        self.train_seconds_ = time.perf_counter() - start
        del self._z_cache
        logger.info("tower: %d epochs (best %d) in %.1fs", len(self.training_curve_), self.best_epoch_, self.train_seconds_)
        return self

    def _train(self, data: TrainingData, seed: int, rng: np.random.Generator, counts: np.ndarray, ids: np.ndarray,
               seq: Sequences, users_text: np.ndarray | None) -> None:
        """Build the nets and train them (inside ``fit``'s seeded, deterministic scope)."""
        import torch

        from . import _tower_training as training

        n_items = len(counts)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self._build_nets()
            z_all = torch.from_numpy(self._z_cache).to(self.device_)
            ids_all = torch.from_numpy(ids).to(self.device_)
            texts = None if users_text is None else self._whiten_users(users_text)

            def forward(owners: np.ndarray, inputs: np.ndarray, candidates: np.ndarray):
                """Users at every position of a batch and the candidates' vectors: one item-tower pass for both."""
                live = inputs >= 0
                unique, inverse = np.unique(np.concatenate([inputs[live], candidates]), return_inverse=True)
                index = torch.from_numpy(unique).to(self.device_)
                vectors = self._nets["items"](z_all[index], ids_all[index])
                rows = np.full(inputs.shape, len(unique), dtype=np.int64)
                rows[live] = inverse[:int(live.sum())]
                text = None if texts is None else texts[torch.from_numpy(owners).to(self.device_)]
                users, _ = self._encode_all(vectors, torch.from_numpy(rows).to(self.device_), inputs, None, text)
                return users, vectors[torch.from_numpy(inverse[int(live.sum()):]).to(self.device_)]

            data_ = training.Data.build(seq, data.item_domain, int(self.valid_users), rng)

            def recall() -> float:
                with torch.no_grad():
                    table = self._all_item_vectors(z_all, ids_all)
                    inputs = data_.valid_inputs(int(self.max_len))
                    text = None if texts is None else texts[torch.from_numpy(data_.valid_users).to(self.device_)]
                    rows = torch.from_numpy(np.where(inputs >= 0, inputs, len(table))).to(self.device_)
                    users = self._encode_all(table, rows, inputs, None, text)[0][:, -1]
                    scores = _cosine(users, table)
                    r, c = np.nonzero(inputs >= 0)
                    scores[r, inputs[r, c]] = -np.inf  # seen items are not ranked
                    rank = (scores > scores[np.arange(len(inputs)), data_.valid_items][:, None]).sum(axis=1)
                    return float((rank < 20).mean())

            params = {k: getattr(self, k) for k in ("learning_rate", "weight_decay", "max_epochs", "max_seconds",
                                                    "batch_size", "cross_domain_pairs", "max_len", "negatives",
                                                    "temperature", "patience", "schedule", "id_lr_scale",
                                                    "max_events")}
            observed = np.flatnonzero(counts > 0) if (counts > 0).any() else np.arange(n_items)
            self.training_curve_, self.best_epoch_ = training.train(self._nets["all"], data_, forward, recall, observed, params, rng,
                                                  data.show_progress)
            with torch.no_grad():
                self.item_vectors_ = self._all_item_vectors(z_all, ids_all).cpu().numpy()

    # ------------------------------------------------------------------ nets
    def _build_nets(self) -> None:
        from torch import nn

        from ._tower_nets import ItemTower, MeanPool, SequenceEncoder

        dim = int(self.dim)
        items = ItemTower(self.projection_.shape[1], self.n_ids_, dim, int(self.hidden), int(self.experts),
                          bool(self.text))
        users = MeanPool(dim) if self.encoder == "mean" else SequenceEncoder(
            dim, int(self.max_len) + 1, self.n_domains_, int(self.heads), int(self.layers), float(self.dropout))
        everything = nn.ModuleDict({"item_tower": items, "user_tower": users}).to(getattr(self, "device_", "cpu"))
        self._nets = {"items": items, "users": users, "all": everything}

    def _all_item_vectors(self, z_all, ids_all):
        import torch

        return torch.cat([self._nets["items"](z_all[i:i + 8192], ids_all[i:i + 8192]) for i in range(0, len(z_all), 8192)])

    def user_state(self, users: UserBatch) -> np.ndarray:
        vectors, _, _ = self._user_vectors(users)
        return _unit(vectors)

    def score(self, state: np.ndarray, items: np.ndarray) -> np.ndarray:
        return (state @ _unit(self.item_vectors_[items]).T).astype(np.float32)

    def user_vectors(self, state: np.ndarray) -> np.ndarray:
        return state

    def item_vectors(self, items: np.ndarray) -> np.ndarray:
        return _unit(self.item_vectors_[items])

    def knows(self, items: np.ndarray) -> np.ndarray:
        return self.has_vector_[items]

    # ------------------------------------------------------------------ items
    def add_items(self, blocks: Mapping[str, np.ndarray], domains: np.ndarray) -> None:
        import torch

        from ._tower_training import whiten

        self._ensure_nets()
        new = blocks.get(self.modality)
        vectors = np.zeros((len(domains), self.item_vectors_.shape[1]), np.float32)
        if new is not None:
            z = torch.from_numpy(whiten(np.asarray(new, np.float32), self.mean_, self.projection_))
            with torch.no_grad():
                vectors = self._nets["items"].adapt(z).numpy()
            vectors[np.abs(new).sum(axis=1) == 0] = 0
        self.item_vectors_ = np.vstack([self.item_vectors_, vectors.astype(np.float32)])
        self.item_domain_ = np.concatenate([self.item_domain_, np.asarray(domains)])
        self.has_vector_ = np.concatenate([self.has_vector_, np.abs(vectors).sum(axis=1) > 0])

    def remove_items(self, keep: np.ndarray) -> None:
        self.item_vectors_ = self.item_vectors_[keep]
        self.item_domain_ = self.item_domain_[keep]
        self.has_vector_ = self.has_vector_[keep]

    # ------------------------------------------------------------------ persistence
    def _ensure_nets(self) -> None:
        if getattr(self, "_nets", None) is None:
            import torch

            self._build_nets()
            self._nets["all"].load_state_dict({k: torch.from_numpy(v) for k, v in self._state.items()})
            self._nets["all"].to("cpu").eval()

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        nets = state.pop("_nets", None)
        if nets is not None:
            state["_state"] = {k: v.detach().cpu().numpy() for k, v in nets["all"].state_dict().items()}
        state.pop("_z_cache", None)
        state["device_"] = "cpu"
        return state

    def __setstate__(self, state: dict) -> None:
        state.setdefault("text", True)  # a file saved before the parameter existed
        self.__dict__.update(state)
        self._nets = None
