"""The R1 network: blocks of (sparse attention, routed experts), the hierarchy fed back in."""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from model.attention import KVCache, SparseAttention
from model.config import R1Config
from model.experts import MoE
from model.hierarchy import Hierarchy, rms_norm
from model.rope import RopeTable, rope_angles


@dataclass
class R1Routing:
    """Which experts each token went to: experts (L, B, T, k) long, weights (L, B, T, k)."""
    experts: torch.Tensor
    weights: torch.Tensor


@dataclass
class R1Units:
    """Causal unit vectors per token, from the last hierarchy layer: phrase (B, T, d1),
    sentence (B, T, d2), paragraph (B, T, d3). The vector at a unit's last token summarises it."""
    phrase: torch.Tensor
    sentence: torch.Tensor
    paragraph: torch.Tensor


class R1Output(NamedTuple):
    logits: torch.Tensor                 # (B, T, vocab)
    aux_loss: torch.Tensor               # load balancing, mean over layers (0 while generating with a cache)
    gate_loss: torch.Tensor              # indexer KL, mean over layers (0 unless training, dense path)
    routing: R1Routing | None = None
    units: R1Units | None = None


class R1Loss(NamedTuple):
    total: torch.Tensor                  # lm + aux_loss_weight * aux + gate_loss_weight * gate
    lm: torch.Tensor
    aux: torch.Tensor
    gate: torch.Tensor


class ModelCache:
    """Everything generation keeps between steps: per-layer K/V (+ indexer keys; K/V in `kv_dtype`
    where given, e.g. bfloat16: half the bytes a decode step reads) and, per hierarchy layer, the
    pre-pooling unit inputs with their ids. Allocated lazily."""

    def __init__(self, cfg: R1Config, batch_size: int, max_len: int, kv_dtype: torch.dtype | None = None):
        self.batch_size, self.max_len = batch_size, max_len
        self.layers = [KVCache(batch_size, max_len, kv_dtype) for _ in range(cfg.n_layers)]
        self.hier = {str(i): [KVCache(batch_size, max_len) for _ in range(3)] for i in cfg.hier_layers}


class Block(nn.Module):
    def __init__(self, cfg: R1Config):
        super().__init__()
        self.attn_norm = nn.RMSNorm(cfg.d_model, eps=cfg.norm_eps)
        self.attn = SparseAttention(cfg)
        self.ffn_norm = nn.RMSNorm(cfg.d_model, eps=cfg.norm_eps)
        self.moe = MoE(cfg)

    def forward(self, h, rope, index_rope, start_pos, pad_len, cache, want_gate_loss, want_balance=True):
        a, gate_loss = self.attn(rms_norm(self.attn_norm, h), rope, index_rope, start_pos, pad_len, cache, want_gate_loss)
        h = h + a
        m, balance, route = self.moe(rms_norm(self.ffn_norm, h), want_balance)
        return h + m, balance, gate_loss, route


class R1Model(nn.Module):
    def __init__(self, cfg: R1Config):
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layers))
        self.hier = nn.ModuleDict({str(i): Hierarchy(cfg) for i in cfg.hier_layers})
        self.norm = nn.RMSNorm(cfg.d_model, eps=cfg.norm_eps)
        self.head = nn.Linear(cfg.d_model, cfg.vocab_size, bias=False)
        self.lm_loss_fn = None          # `lm_loss` or a compiled copy of it (the trainer's --compile)
        self._rope_tables: dict = {}    # (dim, device) -> RopeTable: generation looks RoPE angles up
        # dtype of the attention keys / values in the caches `new_cache` makes (None: the compute
        # dtype, float32: cached decoding equals the full forward); bfloat16 halves them
        self.kv_dtype: torch.dtype | None = None
        if not any(p.is_meta for p in self.parameters()):
            self.reset_parameters()

    def reset_parameters(self):
        std = self.cfg.init_std
        for name, p in self.named_parameters():
            if p.dim() == 1:                                         # norm scales
                nn.init.ones_(p)
            elif name.endswith(("wo.weight", "w2.weight")):          # residual outputs (GPT-2)
                nn.init.normal_(p, std=std / (2 * self.cfg.n_layers) ** 0.5)
            elif name.endswith("up.weight"):                         # hierarchy starts silent
                nn.init.zeros_(p)
            else:
                nn.init.normal_(p, std=std)

    def new_cache(self, batch_size: int, max_len: int | None = None, kv_dtype: torch.dtype | None = None) -> ModelCache:
        """A cache for generation; `kv_dtype` (default the model's `kv_dtype`): its keys / values' dtype."""
        return ModelCache(self.cfg, batch_size, max_len or self.cfg.max_seq_len, kv_dtype or self.kv_dtype)

    def forward(self, input_ids, level_ids=None, cache: ModelCache | None = None, start_pos: int = 0,
                pad_len=None, return_routing: bool = False, return_units: bool = False,
                last_only: bool = False) -> R1Output:
        """last_only: logits (B, 1, vocab) of the last position only (a prefill needs no more:
        the LM head is a third of a 512-token prefill's FLOPs in r1-tiny).
        Rows with their own caches (a batch decode step that copies no cache): `cache` a list of
        B batch-1 ModelCaches and `start_pos` a list of B slots, one token per row (T == 1); row b
        runs exactly as a batch-1 forward of its token at slot start_pos[b] of cache[b] would."""
        h, out = self.trunk(input_ids, level_ids, cache, start_pos, pad_len, return_routing, return_units)
        return out._replace(logits=self.head(rms_norm(self.norm, h[:, -1:] if last_only else h)))  # (B, T|1, vocab)

    def trunk(self, input_ids, level_ids=None, cache: ModelCache | None = None, start_pos: int = 0,
              pad_len=None, return_routing: bool = False, return_units: bool = False):
        """Everything but the output norm and head: h (B, T, d) and an R1Output without logits."""
        B, T = input_ids.shape
        dev = input_ids.device
        rows = isinstance(cache, (list, tuple))                                  # rows with their own caches
        if rows:
            if T != 1 or pad_len is not None or len(cache) != B or len(start_pos) != B:
                raise ValueError("row caches take one token per row, no padding")
            slots = torch.tensor(start_pos, device=dev)[:, None]                  # (B, 1)
        else:
            slots = torch.arange(start_pos, start_pos + T, device=dev).expand(B, T)   # (B, T)
        if level_ids is None:
            level_ids = torch.zeros(B, T, 3, dtype=torch.long, device=dev)
        if pad_len is not None:
            is_pad = slots < pad_len[:, None]                                     # (B, T)
            level_ids = level_ids.masked_fill(is_pad[..., None], -1)
            positions = (slots - pad_len[:, None]).clamp_min(0)
        else:
            positions = slots
        if cache is not None and (max(start_pos) if rows else start_pos) + T <= self.cfg.max_seq_len:
            rope, index_rope = (self._rope_table(d, dev)(positions) for d in (self.cfg.head_dim, self.cfg.index_dim))
        else:
            rope = rope_angles(positions, self.cfg.head_dim, self.cfg.rope_theta)
            index_rope = rope_angles(positions, self.cfg.index_dim, self.cfg.rope_theta)
        want_gate_loss = self.training and torch.is_grad_enabled()
        want_balance = cache is None or torch.is_grad_enabled()                   # not while generating

        h = self.embed(input_ids)                                                 # (B, T, d)
        balance, gates, routes, units = [], [], [], None
        for i, block in enumerate(self.blocks):
            if str(i) in self.hier:
                caches = None if cache is None else [c.hier[str(i)] for c in cache] if rows else cache.hier[str(i)]
                delta, units = self.hier[str(i)](h, level_ids, start_pos, caches)
                h = h + delta
            layer_cache = None if cache is None else [c.layers[i] for c in cache] if rows else cache.layers[i]
            h, bal, gate, route = block(h, rope, index_rope, start_pos, pad_len, layer_cache, want_gate_loss,
                                        want_balance)
            if bal is not None:
                balance.append(bal)
            if gate is not None:
                gates.append(gate)
            routes.append(route)

        zero = h.new_zeros(())
        routing = None
        if return_routing:
            routing = R1Routing(experts=torch.stack([r[1] for r in routes]),
                                weights=torch.stack([r[0] for r in routes]))
        return h, R1Output(logits=None,
                           aux_loss=torch.stack(balance).mean() if balance else zero,
                           gate_loss=torch.stack(gates).mean() if gates else zero,
                           routing=routing,
                           units=R1Units(*units) if return_units and units is not None else None)

    def _rope_table(self, dim: int, device) -> RopeTable:
        key = (dim, str(device))
        if key not in self._rope_tables:
            self._rope_tables[key] = RopeTable(self.cfg.max_seq_len, dim, self.cfg.rope_theta, device)
        return self._rope_tables[key]

    def loss(self, input_ids, targets, level_ids=None) -> R1Loss:
        """Next-token cross entropy (targets -100 ignored) plus the weighted auxiliary losses."""
        h, out = self.trunk(input_ids, level_ids)
        lm = (self.lm_loss_fn or lm_loss)(h, self.norm.weight, self.norm.eps, self.head.weight, targets)
        total = lm + self.cfg.aux_loss_weight * out.aux_loss + self.cfg.gate_loss_weight * out.gate_loss
        return R1Loss(total, lm, out.aux_loss, out.gate_loss)

    def num_params(self, active: bool = False) -> int:
        n = sum(p.numel() for p in self.parameters())
        if active:
            per_expert = sum(p.numel() for p in self.blocks[0].moe.experts[0].parameters())
            n -= self.cfg.n_layers * (self.cfg.n_experts - self.cfg.n_active) * per_expert
        return n


def lm_loss(h, norm_weight, eps, head_weight, targets):
    """Output norm, head and next-token cross entropy in one pure function (targets -100 ignored),
    the logits' log-softmax in fp32: what the trainer compiles (inductor fuses the norm and the
    softmax passes over the (tokens x vocab) logits, the largest elementwise work of a step)."""
    z = F.rms_norm(h, (h.size(-1),), norm_weight, eps)
    logits = F.linear(z, head_weight)
    return F.cross_entropy(logits.flatten(0, 1).float(), targets.flatten(), ignore_index=-100)

