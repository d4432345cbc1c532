"""Routed experts, DeepSeek-V3 style: a Gate returning (weights, indices), SwiGLU Experts, and a
MoE that runs each expert only on the tokens routed to it (sort by expert, bincount, index_add).

The seed's sketch ran all 16 experts on every token and masked the results: 4x the work for top-4.
`MoE.dense_reference` keeps that formulation for tests and the benchmark only.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from model.config import R1Config


class Gate(nn.Module):
    """Softmax router; top-k experts per token, weights renormalised over the chosen k."""

    def __init__(self, cfg: R1Config):
        super().__init__()
        self.topk, self.n_experts = cfg.n_active, cfg.n_experts
        self.weight = nn.Parameter(torch.empty(cfg.n_experts, cfg.d_model))

    def forward(self, x: torch.Tensor):
        """x (N, d) -> weights (N, k), indices (N, k), probs (N, E) (the full softmax, for balancing)."""
        probs = F.linear(x, self.weight).float().softmax(dim=-1)                 # (N, E)
        weights, indices = probs.topk(self.topk, dim=-1)                          # (N, k)
        weights = weights / weights.sum(dim=-1, keepdim=True)
        return weights.type_as(x), indices, probs


class Expert(nn.Module):
    """SwiGLU feed-forward."""

    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.w1 = nn.Linear(dim, hidden, bias=False)
        self.w2 = nn.Linear(hidden, dim, bias=False)
        self.w3 = nn.Linear(dim, hidden, bias=False)

    def forward(self, x):
        return self.w2(F.silu(self.w1(x)) * self.w3(x))


class MoE(nn.Module):
    def __init__(self, cfg: R1Config):
        super().__init__()
        self.n_experts = cfg.n_experts
        self.gate = Gate(cfg)
        self.experts = nn.ModuleList(Expert(cfg.d_model, cfg.expert_hidden) for _ in range(cfg.n_experts))

    def forward(self, x: torch.Tensor):
        """x (B, T, d) -> y (B, T, d), balance loss (scalar), (weights, indices) each (B, T, k)."""
        B, T, d = x.shape
        flat = x.reshape(-1, d)                                                   # (N, d)
        weights, indices, probs = self.gate(flat)
        y = self.dispatch(flat, weights, indices)
        counts = torch.bincount(indices.flatten(), minlength=self.n_experts)      # (E,)
        frac = counts.float() / indices.numel()                                    # f_i: share of slots
        balance = self.n_experts * (frac * probs.mean(0)).sum()                   # Switch: E sum f_i P_i
        k = indices.size(-1)
        return y.view(B, T, d), balance, (weights.view(B, T, k), indices.view(B, T, k))

    def dispatch(self, x, weights, indices):
        """Each expert sees only its tokens. x (N, d), weights/indices (N, k) -> (N, d)."""
        return dispatch(self.experts, x, weights, indices)

    def dense_reference(self, x, weights, indices):
        """The seed's way: every expert on every token, weighted by a mask. Same result, E/k x work."""
        out = torch.zeros_like(x)
        for e, expert in enumerate(self.experts):
            w = (weights * (indices == e)).sum(-1, keepdim=True)                  # (N, 1)
            out = out + expert(x) * w
        return out


def dispatch(experts, x, weights, indices):
    """Run each expert of `experts` only on the tokens routed to it and sum the weighted outputs.
    x (N, d), weights/indices (N, k) -> (N, d). Slots are sorted by expert, counted, and each
    expert's rows gathered once (index_add back), so the work is k/E of running every expert."""
    k = indices.size(-1)
    flat_idx = indices.flatten()                                                  # (N*k,)
    order = flat_idx.argsort()                                                    # slots grouped by expert
    counts = torch.bincount(flat_idx, minlength=len(experts)).tolist()
    flat_w = weights.reshape(-1, 1).to(x.dtype)                                   # (N*k, 1)
    out = torch.zeros_like(x)
    start = 0
    for e, n in enumerate(counts):
        if n == 0:
            continue
        slots = order[start:start + n]                                            # (n,)
        tokens = slots // k
        out.index_add_(0, tokens, experts[e](x[tokens]) * flat_w[slots])
        start += n
    return out
