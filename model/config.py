"""R1Config: one documented dataclass for the whole network, with named presets.

The config travels with every checkpoint as `config.json` (`to_json` / `from_json`), so a
checkpoint always says what network it holds.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass


@dataclass
class R1Config:
    # vocabulary and sequence
    vocab_size: int = 8192
    max_seq_len: int = 2048          # longest sequence (prompt + generated) the cache holds

    # trunk
    d_model: int = 256
    n_layers: int = 4
    norm_eps: float = 1e-6
    init_std: float = 0.02           # embeddings and linears; default init starts loss ~175

    # attention
    n_heads: int = 4                 # head_dim = d_model // n_heads
    rope_theta: float = 10000.0
    attn_sparse: bool = True         # False: plain dense causal attention, no indexer
    index_heads: int = 4             # indexer: a few low-dim heads scoring q.k per key
    index_dim: int = 32
    gate_threshold: float = 0.3      # keep key s for query t if exp(I_ts - max_s I_ts) >= this
    attn_topk: int = 256             # budget: at most this many keys per query (window included)
    local_window: int = 64           # the last `local_window` keys are always kept
    key_block: int = 64              # prefill skips key blocks of this size that no query keeps
    gate_loss_weight: float = 1.0    # KL(dense attention || indexer) in the training loss

    # experts
    n_experts: int = 16
    n_active: int = 4                # top-k experts per token
    expert_hidden: int = 256         # SwiGLU hidden width of one expert
    aux_loss_weight: float = 0.01    # Switch-style load balancing E * sum_i f_i * P_i

    # hierarchy (token / phrase / sentence / paragraph widths; the first is d_model)
    level_dims: tuple[int, ...] = (256, 192, 128, 96)
    hier_layers: tuple[int, ...] = (2,)  # blocks before which unit vectors are added back

    def __post_init__(self):
        self.level_dims = tuple(self.level_dims)
        self.hier_layers = tuple(self.hier_layers)
        problems = []
        if self.d_model % self.n_heads or (self.d_model // self.n_heads) % 2:
            problems.append("d_model / n_heads must be an even integer")
        if self.index_dim % 2:
            problems.append("index_dim must be even (RoPE)")
        if len(self.level_dims) != 4 or self.level_dims[0] != self.d_model:
            problems.append("level_dims must be 4 widths starting with d_model")
        if not all(0 <= i < self.n_layers for i in self.hier_layers):
            problems.append("hier_layers must index blocks")
        if not 0 < self.n_active <= self.n_experts:
            problems.append("need 0 < n_active <= n_experts")
        if not 1 <= self.local_window <= self.attn_topk:
            problems.append("need 1 <= local_window <= attn_topk")
        if not 0.0 <= self.gate_threshold <= 1.0:
            problems.append("gate_threshold must lie in [0, 1]")
        if problems:
            raise ValueError("bad R1Config: " + "; ".join(problems))

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_heads

    # presets and JSON

    @classmethod
    def preset(cls, name: str, **overrides) -> "R1Config":
        if name not in PRESETS:
            raise KeyError(f"unknown preset {name!r}; known: {sorted(PRESETS)}")
        return dataclasses.replace(PRESETS[name], **overrides)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_dict(cls, d: dict) -> "R1Config":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown R1Config fields: {unknown}")
        return cls(**d)

    @classmethod
    def from_json(cls, text: str) -> "R1Config":
        return cls.from_dict(json.loads(text))


PRESETS: dict[str, R1Config] = {
    # shipped, trained on CPU
    "r1-tiny": R1Config(),
    # the seed's shapes
    "r1-base": R1Config(
        max_seq_len=8192, d_model=768, n_layers=12, n_heads=12, index_heads=4, index_dim=64,
        attn_topk=512, expert_hidden=512,
        level_dims=(768, 512, 384, 256), hier_layers=(4, 8)),
}
