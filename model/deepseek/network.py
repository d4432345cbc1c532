"""The DeepSeek-V2/V3 network, module names equal to the public checkpoints' tensor names.

    model.embed_tokens -> layers[i]: input_layernorm, self_attn (MLA), post_attention_layernorm,
    mlp (dense SwiGLU for i < first_k_dense_replace, else DeepSeekMoE) -> model.norm -> lm_head

Multi-head latent attention (MLA). Per token the cache keeps only the normalised latent
c = kv_a_layernorm(W_dkv x) (kv_lora_rank values) and the shared rotary key k_pe (qk_rope_head_dim
values): 576 numbers per layer for V2/V3 instead of 2 * 128 heads * 128. Two equal ways to attend:
  expanded  (prefill, T > 1): k_nope, v = kv_b_proj(c) for every key, then SDPA; the reference way.
  absorbed  (decode, T == 1): kv_b_proj's key half is folded into the query
            (q_lat = q_nope W_uk, scores = q_lat . c + q_pe . k_pe) and its value half applied
            after the softmax (o = (p . c) W_uv), so a step never expands the cached keys.
RoPE acts on interleaved pairs (x0, x1), (x2, x3) ... as the releases store q_pe/k_pe
(rope_interleave=false: halves); YaRN rescales the frequencies, multiplies cos/sin by
mscale(factor, mscale)/mscale(factor, mscale_all_dim) and the softmax scale by mscale_all_dim^2.

DeepSeekMoE. Shared experts see every token; the router picks `num_experts_per_tok` routed
experts per token:
  V2  softmax scores; "greedy" top-k, or "group_limited_greedy": only the `topk_group` groups
      with the best single score compete; weights are the scores (renormalised if norm_topk_prob,
      else times routed_scaling_factor).
  V3  sigmoid scores; the choice adds `e_score_correction_bias`, groups ranked by the sum of
      their best two; weights are the unbiased scores of the chosen experts, renormalised if
      norm_topk_prob, times routed_scaling_factor.
Experts run only on their tokens (model.experts.dispatch). forward(return_routing=True) returns
the chosen expert ids per MoE layer (dense layers route nothing), so expert diagnostics work as
for R1.

The interface is R1Model's: forward(input_ids, level_ids, cache, start_pos, pad_len,
return_routing) -> R1Output, new_cache(B, max_len); level ids are accepted and ignored.
Left padding: pad_len (B,) slots per row are padding, hidden from real tokens, and each row's
RoPE positions start at its first real token.
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from model.attention import KVCache, key_masks
from model.deepseek.config import DeepseekConfig, yarn_mscale
from model.experts import dispatch
from model.network import R1Output, R1Routing


class RMSNorm(nn.Module):
    """Computed in fp32, scaled in the input dtype (as the reference does)."""

    def __init__(self, dim: int, eps: float):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x):
        dtype = x.dtype
        x = x.float()
        x = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * x.to(dtype)


class MLP(nn.Module):
    """SwiGLU: down(silu(gate(x)) * up(x)); the dense layers, each routed and the shared experts."""

    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.gate_proj = nn.Linear(dim, hidden, bias=False)
        self.up_proj = nn.Linear(dim, hidden, bias=False)
        self.down_proj = nn.Linear(hidden, dim, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


# rotary positions

def rope_inv_freq(cfg: DeepseekConfig) -> tuple[torch.Tensor, float]:
    """Inverse frequencies (qk_rope_head_dim / 2,) and the cos/sin factor (YaRN's mscale ratio)."""
    dim, base = cfg.qk_rope_head_dim, cfg.rope_theta
    pos_freqs = base ** (torch.arange(0, dim, 2, dtype=torch.float32) / dim)
    rs = cfg.yarn()
    if rs is None:
        return 1.0 / pos_freqs, 1.0
    factor = float(rs["factor"])
    orig = float(rs["original_max_position_embeddings"])
    beta_fast, beta_slow = float(rs.get("beta_fast") or 32), float(rs.get("beta_slow") or 1)

    def correction_dim(rotations):
        return dim * math.log(orig / (rotations * 2 * math.pi)) / (2 * math.log(base))

    low, high = correction_dim(beta_fast), correction_dim(beta_slow)
    if rs.get("truncate", True):
        low, high = math.floor(low), math.ceil(high)
    low, high = max(low, 0), min(high, dim - 1)
    if low == high:
        high += 0.001
    ramp = ((torch.arange(dim // 2, dtype=torch.float32) - low) / (high - low)).clamp(0, 1)
    extrapolate = 1 - ramp                                   # 1: keep the original frequency
    inv_freq = (1.0 / (factor * pos_freqs)) * (1 - extrapolate) + (1.0 / pos_freqs) * extrapolate
    if rs.get("attention_factor") is not None:
        attn = float(rs["attention_factor"])
    elif rs.get("mscale") and rs.get("mscale_all_dim"):
        attn = yarn_mscale(factor, float(rs["mscale"])) / yarn_mscale(factor, float(rs["mscale_all_dim"]))
    else:
        attn = yarn_mscale(factor)
    return inv_freq, attn


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, interleave: bool) -> torch.Tensor:
    """x (B, T, H, D); cos/sin (B, T, 1, D/2). Interleaved pairs keep their places."""
    xf = x.float()
    if interleave:
        x1, x2 = xf[..., 0::2], xf[..., 1::2]
        out = torch.stack([x1 * cos - x2 * sin, x2 * cos + x1 * sin], dim=-1).flatten(-2)
    else:
        x1, x2 = xf.chunk(2, dim=-1)
        out = torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], dim=-1)
    return out.type_as(x)


# attention

class MLAttention(nn.Module):
    def __init__(self, cfg: DeepseekConfig):
        super().__init__()
        self.cfg = cfg
        d, H = cfg.hidden_size, cfg.num_attention_heads
        self.n_heads, self.d_nope, self.d_rope, self.d_v = H, cfg.qk_nope_head_dim, cfg.qk_rope_head_dim, cfg.v_head_dim
        self.rank = cfg.kv_lora_rank
        if cfg.q_lora_rank is None:
            self.q_proj = nn.Linear(d, H * cfg.qk_head_dim, bias=False)
        else:
            self.q_a_proj = nn.Linear(d, cfg.q_lora_rank, bias=cfg.attention_bias)
            self.q_a_layernorm = RMSNorm(cfg.q_lora_rank, cfg.rms_norm_eps)
            self.q_b_proj = nn.Linear(cfg.q_lora_rank, H * cfg.qk_head_dim, bias=False)
        self.kv_a_proj_with_mqa = nn.Linear(d, cfg.kv_lora_rank + cfg.qk_rope_head_dim, bias=cfg.attention_bias)
        self.kv_a_layernorm = RMSNorm(cfg.kv_lora_rank, cfg.rms_norm_eps)
        self.kv_b_proj = nn.Linear(cfg.kv_lora_rank, H * (cfg.qk_nope_head_dim + cfg.v_head_dim), bias=False)
        self.o_proj = nn.Linear(H * cfg.v_head_dim, d, bias=cfg.attention_bias)
        self.scale = cfg.softmax_scale()
        self.absorb_decode = True            # decode through the absorbed form (tests switch it off)

    def forward(self, x, rope, start_pos: int, pad_len, cache: KVCache | None):
        B, T, _ = x.shape
        H = self.n_heads
        q = self.q_proj(x) if self.cfg.q_lora_rank is None else self.q_b_proj(self.q_a_layernorm(self.q_a_proj(x)))
        q_nope, q_pe = q.view(B, T, H, self.d_nope + self.d_rope).split([self.d_nope, self.d_rope], dim=-1)
        c, k_pe = self.kv_a_proj_with_mqa(x).split([self.rank, self.d_rope], dim=-1)
        c = self.kv_a_layernorm(c)                                                  # (B, T, r)
        q_pe = apply_rope(q_pe, *rope, self.cfg.rope_interleave)                    # (B, T, H, dr)
        k_pe = apply_rope(k_pe[:, :, None], *rope, self.cfg.rope_interleave)[:, :, 0]  # (B, T, dr)
        if cache is not None:
            c, k_pe = cache.update(start_pos, c, k_pe)                              # the latent cache
        S = c.size(1)
        plain_causal = pad_len is None and start_pos == 0 and S == T
        mask = None if plain_causal else key_masks(start_pos, T, S, 1, pad_len, x.device)[0]  # (B|1, T, S)
        if T == 1 and self.absorb_decode:
            y = self._absorbed(q_nope, q_pe, c, k_pe, mask)
        else:
            y = self._expanded(q_nope, q_pe, c, k_pe, mask)
        return self.o_proj(y.reshape(B, T, H * self.d_v))

    def _expanded(self, q_nope, q_pe, c, k_pe, mask):
        B, T, H, _ = q_nope.shape
        S = c.size(1)
        kv = self.kv_b_proj(c).view(B, S, H, self.d_nope + self.d_v)
        k_nope, v = kv.split([self.d_nope, self.d_v], dim=-1)
        k = torch.cat([k_nope, k_pe[:, :, None].expand(B, S, H, self.d_rope)], dim=-1)
        q = torch.cat([q_nope, q_pe], dim=-1)
        y = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2),
                                           attn_mask=None if mask is None else mask[:, None],
                                           is_causal=mask is None, scale=self.scale)  # (B, H, T, dv)
        return y.transpose(1, 2)

    def _absorbed(self, q_nope, q_pe, c, k_pe, mask):
        W = self.kv_b_proj.weight.to(c.dtype).view(self.n_heads, self.d_nope + self.d_v, self.rank)
        w_uk, w_uv = W[:, :self.d_nope], W[:, self.d_nope:]                        # (H, dn, r), (H, dv, r)
        q_lat = torch.einsum("bthn,hnr->bhtr", q_nope, w_uk)                        # (B, H, T, r)
        scores = (torch.matmul(q_lat, c[:, None].transpose(-1, -2))
                  + torch.matmul(q_pe.transpose(1, 2), k_pe[:, None].transpose(-1, -2))) * self.scale
        if mask is not None:
            scores = scores.masked_fill(~mask[:, None], float("-inf"))              # (B, H, T, S)
        p = scores.float().softmax(-1).to(c.dtype)
        o_lat = torch.matmul(p, c[:, None])                                         # (B, H, T, r)
        return torch.einsum("bhtr,hvr->bthv", o_lat, w_uv)                          # (B, T, H, dv)


# experts

class Router(nn.Module):
    """`weight` (E, d) (+ V3's `e_score_correction_bias`), scored in fp32."""

    def __init__(self, cfg: DeepseekConfig):
        super().__init__()
        self.cfg = cfg
        self.weight = nn.Parameter(torch.empty(cfg.n_routed_experts, cfg.hidden_size))
        if cfg.model_type == "deepseek_v3":
            self.register_buffer("e_score_correction_bias", torch.zeros(cfg.n_routed_experts))
        else:
            self.e_score_correction_bias = None

    def forward(self, x):
        """x (N, d) -> weights (N, k) fp32, indices (N, k)."""
        cfg = self.cfg
        logits = F.linear(x.float(), self.weight.float())                           # (N, E)
        scores = logits.softmax(-1) if cfg.scoring_func == "softmax" else logits.sigmoid()
        choice = scores if self.e_score_correction_bias is None else scores + self.e_score_correction_bias.float()
        G = cfg.n_group
        if cfg.topk_method != "greedy" and G > 1:
            grouped = choice.view(-1, G, cfg.n_routed_experts // G)
            if cfg.topk_method == "group_limited_greedy":
                group_scores, fill = grouped.amax(-1), 0.0
            else:                                                                   # noaux_tc
                group_scores, fill = grouped.topk(2, dim=-1).values.sum(-1), float("-inf")
            keep = torch.zeros_like(group_scores, dtype=torch.bool)
            keep.scatter_(1, group_scores.topk(cfg.topk_group, dim=-1).indices, True)
            choice = choice.masked_fill(~keep.repeat_interleave(cfg.n_routed_experts // G, dim=1), fill)
        indices = choice.topk(cfg.num_experts_per_tok, dim=-1).indices              # (N, k)
        weights = scores.gather(1, indices)
        if cfg.model_type == "deepseek_v3":
            if cfg.norm_topk_prob:
                weights = weights / (weights.sum(-1, keepdim=True) + 1e-20)
            weights = weights * cfg.routed_scaling_factor
        elif cfg.norm_topk_prob and cfg.num_experts_per_tok > 1:                    # V2: one or the other
            weights = weights / (weights.sum(-1, keepdim=True) + 1e-20)
        else:
            weights = weights * cfg.routed_scaling_factor
        return weights, indices


class DeepseekMoE(nn.Module):
    def __init__(self, cfg: DeepseekConfig):
        super().__init__()
        self.gate = Router(cfg)
        self.experts = nn.ModuleList(MLP(cfg.hidden_size, cfg.moe_intermediate_size)
                                     for _ in range(cfg.n_routed_experts))
        self.shared_experts = (MLP(cfg.hidden_size, cfg.moe_intermediate_size * cfg.n_shared_experts)
                               if cfg.n_shared_experts else None)

    def forward(self, x):
        """x (B, T, d) -> y (B, T, d), (weights, indices) each (B, T, k)."""
        B, T, d = x.shape
        flat = x.reshape(-1, d)
        weights, indices = self.gate(flat)
        y = dispatch(self.experts, flat, weights, indices)
        if self.shared_experts is not None:
            y = y + self.shared_experts(flat)
        k = indices.size(-1)
        return y.view(B, T, d), (weights.view(B, T, k), indices.view(B, T, k))


class DecoderLayer(nn.Module):
    def __init__(self, cfg: DeepseekConfig, index: int):
        super().__init__()
        self.input_layernorm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        self.self_attn = MLAttention(cfg)
        self.post_attention_layernorm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        self.is_moe = index >= cfg.first_k_dense_replace
        self.mlp = DeepseekMoE(cfg) if self.is_moe else MLP(cfg.hidden_size, cfg.intermediate_size)

    def forward(self, h, rope, start_pos, pad_len, cache):
        h = h + self.self_attn(self.input_layernorm(h), rope, start_pos, pad_len, cache)
        if self.is_moe:
            m, route = self.mlp(self.post_attention_layernorm(h))
            return h + m, route
        return h + self.mlp(self.post_attention_layernorm(h)), None


class DeepseekBody(nn.Module):
    def __init__(self, cfg: DeepseekConfig):
        super().__init__()
        self.embed_tokens = nn.Embedding(cfg.vocab_size, cfg.hidden_size)
        self.layers = nn.ModuleList(DecoderLayer(cfg, i) for i in range(cfg.num_hidden_layers))
        self.norm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)


class LatentCache:
    """Per layer: the latent c (B, S, kv_lora_rank) and rotary key k_pe (B, S, rope dims).
    `layers` / `hier` / `batch_size` as in model.network.ModelCache, for the engine's helpers."""

    def __init__(self, cfg: DeepseekConfig, batch_size: int, max_len: int):
        self.batch_size, self.max_len = batch_size, max_len
        self.layers = [KVCache(batch_size, max_len) for _ in range(cfg.num_hidden_layers)]
        self.hier: dict = {}

    def nbytes(self) -> int:
        return sum(b.numel() * b.element_size() for c in self.layers for b in (c.buffers or ()))


class DeepseekForCausalLM(nn.Module):
    family = "deepseek"

    def __init__(self, cfg: DeepseekConfig):
        super().__init__()
        self.cfg = cfg
        self.model = DeepseekBody(cfg)
        self.lm_head = nn.Linear(cfg.hidden_size, cfg.vocab_size, bias=False)
        inv_freq, self.rope_factor = rope_inv_freq(cfg)
        self.register_buffer("inv_freq", inv_freq, persistent=False)
        if cfg.tie_word_embeddings:
            self.lm_head.weight = self.model.embed_tokens.weight

    def new_cache(self, batch_size: int, max_len: int | None = None) -> LatentCache:
        return LatentCache(self.cfg, batch_size, max_len or self.cfg.max_seq_len)

    def rope(self, positions: torch.Tensor):
        ang = positions.float()[..., None] * self.inv_freq.to(positions.device)   # (B, T, dr/2)
        return (ang.cos() * self.rope_factor)[:, :, None], (ang.sin() * self.rope_factor)[:, :, None]

    def forward(self, input_ids, level_ids=None, cache: LatentCache | None = None, start_pos: int = 0,
                pad_len=None, return_routing: bool = False, return_units: bool = False) -> R1Output:
        B, T = input_ids.shape
        slots = torch.arange(start_pos, start_pos + T, device=input_ids.device).expand(B, T)
        positions = slots if pad_len is None else (slots - pad_len[:, None]).clamp_min(0)
        rope = self.rope(positions)
        h = self.model.embed_tokens(input_ids)
        routes = []
        for i, layer in enumerate(self.model.layers):
            h, route = layer(h, rope, start_pos, pad_len, cache.layers[i] if cache is not None else None)
            if route is not None:
                routes.append(route)
        logits = self.lm_head(self.model.norm(h))
        routing = None
        if return_routing and routes:
            routing = R1Routing(experts=torch.stack([r[1] for r in routes]),
                                weights=torch.stack([r[0] for r in routes]))
        zero = logits.new_zeros(())
        return R1Output(logits=logits, aux_loss=zero, gate_loss=zero, routing=routing, units=None)

    def num_params(self, active: bool = False) -> int:
        counts = self.cfg.param_counts()
        return counts["active" if active else "total"]
