"""The torch modules of :class:`~hybridrec.components.tower.TowerComponent` (imported only when used).

- :class:`ItemTower`: whitened text -> adapter (an MLP, or a gated mixture of linear experts)
  plus an ID embedding for items that had interactions in training.
- :class:`MeanPool`: attention-weighted pooling of a user's events (order-free).
- :class:`SequenceEncoder`: causal self-attention over the last events, with position and domain
  embeddings, in the manner of SASRec.

Both user encoders read events oldest first and return a user vector at *every* position (the
user as of that event), so training predicts every next event of a window in one pass, as
SASRec does. Each event carries a log-weight added to its attention logits: the cross-domain
weight of an event enters there (0 removes the event, 1 leaves it as it is).
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class ItemTower(nn.Module):
    """``q_i = adapter(z_i) + id_i``; ``z_i`` the whitened text embedding, ``id_i`` 0 for items without one.

    ``text=False`` (an ablation) drops the adapter: ``q_i = id_i``, and a text alone maps to 0.
    """

    def __init__(self, n_in: int, n_ids: int, dim: int, hidden: int, experts: int, text: bool = True) -> None:
        super().__init__()
        self.experts = experts
        self.text = text
        self.dim = dim
        if experts > 1:
            self.gate = nn.Linear(n_in, experts)
            self.expert_maps = nn.Parameter(torch.randn(experts, n_in, dim) * n_in ** -0.5)
        else:
            self.mlp = nn.Sequential(nn.Linear(n_in, hidden), nn.GELU(), nn.Linear(hidden, dim))
        self.ids = nn.Embedding(n_ids + 1, dim, padding_idx=0)
        nn.init.normal_(self.ids.weight, std=0.01)
        with torch.no_grad():
            self.ids.weight[0].zero_()

    def adapt(self, z: torch.Tensor) -> torch.Tensor:
        """The text part alone (what a new item or a user's own text gets)."""
        if not self.text:
            return z.new_zeros(len(z), self.dim)
        if self.experts > 1:
            gate = torch.softmax(self.gate(z), dim=-1)  # (n, experts)
            return torch.einsum("ne,ned->nd", gate, torch.einsum("ni,eid->ned", z, self.expert_maps))
        return self.mlp(z)

    def forward(self, z: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
        return self.adapt(z) + self.ids(ids)


class MeanPool(nn.Module):
    """``p_t = sum_{j<=t} a_j e_j / sum_{j<=t} a_j`` with ``a_j = w_j exp(v . tanh(W e_j))``.

    The attention logit depends on the event's vector only, so it is computed once per item
    (:meth:`logits`) and gathered per event.
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.key = nn.Linear(dim, dim)
        self.query = nn.Linear(dim, 1, bias=False)

    def logits(self, vectors: torch.Tensor) -> torch.Tensor:
        return self.query(torch.tanh(self.key(vectors))).squeeze(-1)

    def forward(self, events: torch.Tensor, log_w: torch.Tensor, logits: torch.Tensor, domains: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
        scores = logits + log_w
        top = torch.where(torch.isinf(scores), torch.full_like(scores, -1e9), scores).max(dim=1, keepdim=True).values
        mass = torch.exp(scores - top)  # 0 for masked events
        totals = mass.cumsum(dim=1)
        users = (mass[..., None] * events).cumsum(dim=1) / totals.clamp_min(1e-30)[..., None]
        users = torch.where((totals > 0)[..., None], users, torch.zeros_like(users))
        attention = mass / totals[:, -1:].clamp_min(1e-30)
        return users, attention


class _Block(nn.Module):
    def __init__(self, dim: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attention = nn.MultiheadAttention(dim, heads, dropout=dropout, batch_first=True)
        self.ffn = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Dropout(dropout), nn.Linear(2 * dim, dim))
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.norm1(x)
        # training never reads the attention weights: without them torch takes its fused attention kernel
        out, weights = self.attention(h, h, h, attn_mask=bias, need_weights=not self.training, average_attn_weights=True)
        x = x + self.dropout(out)
        return x + self.dropout(self.ffn(self.norm2(x))), weights


class SequenceEncoder(nn.Module):
    """Causal self-attention over the events (oldest first), with position and domain embeddings."""

    def __init__(self, dim: int, max_len: int, n_domains: int, heads: int, layers: int, dropout: float) -> None:
        super().__init__()
        self.heads = heads
        self.positions = nn.Embedding(max_len, dim)
        self.domains = nn.Embedding(n_domains + 1, dim)  # the last one marks the user's own text
        nn.init.normal_(self.positions.weight, std=0.02)
        nn.init.normal_(self.domains.weight, std=0.02)
        self.blocks = nn.ModuleList(_Block(dim, heads, dropout) for _ in range(layers))
        self.norm = nn.LayerNorm(dim)

    def forward(self, events: torch.Tensor, log_w: torch.Tensor, logits: torch.Tensor | None, domains: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Users at every position, and the last position's attention (None in training mode)."""
        B, T, _ = events.shape
        x = events + self.positions.weight[-T:] + self.domains(domains)  # the last event is always at the last position
        causal = torch.full((T, T), float("-inf"), device=events.device).triu(1)
        bias = (causal[None] + log_w[:, None, :]).repeat_interleave(self.heads, dim=0)
        # a position that sees no event (padding before the first one) attends to itself; it is masked out below
        dead = torch.isinf(bias).all(dim=-1, keepdim=True)
        bias = torch.where(dead & torch.eye(T, dtype=torch.bool, device=events.device)[None], torch.zeros_like(bias), bias)
        weights = None
        for block in self.blocks:
            x, weights = block(x, bias)
        users = self.norm(x)
        seen = torch.isfinite(log_w).cumsum(dim=1) > 0
        users = torch.where(seen[..., None], users, torch.zeros_like(users))
        return users, None if weights is None else weights[:, -1]


def sampled_softmax(users: torch.Tensor, positives: torch.Tensor, negatives: torch.Tensor,
                    collide: tuple[torch.Tensor, torch.Tensor], temperature: float) -> torch.Tensor:
    """InfoNCE of each user vector against its positive and the shared negatives (cosine / temperature).

    ``collide`` = ``(rows, columns)``: negative ``columns[j]`` is row ``rows[j]``'s positive item
    (not a negative); those few logits are masked.
    """
    users = F.normalize(users, dim=-1)
    positive = (users * F.normalize(positives, dim=-1)).sum(dim=-1, keepdim=True)
    negative = users @ F.normalize(negatives, dim=-1).T
    if len(collide[0]):
        negative = negative.index_put(collide, torch.tensor(float("-inf"), device=negative.device))
    logits = torch.cat([positive, negative], dim=1) / temperature
    return F.cross_entropy(logits, torch.zeros(len(users), dtype=torch.long, device=users.device))
