"""Dynamic sparse attention: a trained indexer picks, per query, which preceding keys to keep.

The selection rule (which keys a query keeps, exact and block-sparse) lives in
`model.key_selection`; this module holds RoPE, the KV cache, the indexer and the attention
module that computes only the kept keys (RoPE in `model.rope`):
  - long-context decode (one query per row) gathers only the kept K/V rows and runs attention on
    them, so its cost falls with the kept fraction; one row without padding (one user's step,
    `_decode_blocks_one`) gathers the kept keys alone and needs no mask. A short context (at most
    2 x attn_topk cached keys) runs one masked SDPA over all of them instead: a few hundred keys
    cost less than the ops that would gather them;
  - prefill runs masked SDPA per chunk of queries over its causal key prefix, skipping key blocks
    that no query of the chunk keeps (the local window and a trained gate cluster the kept keys).
threshold 0 and attn_topk >= T keep every visible key: the dense path then builds exactly the
causal mask, so it equals dense attention bit for bit.
The indexer learns from `gate_loss`: KL(dense attention averaged over heads || softmax(I)),
with the indexer's input detached so this loss trains only the indexer.
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from model import native
from model.config import R1Config
from model.key_selection import (block_sparse_chunk, compact, index_score, key_masks,
                                 pooled_block_keys, select_keys, uses_blocks)
from model.quantize import concat_linears, linear_key
from model.rope import (Angles, RopeTable, apply_rope, joined_angles, joined_rope_layout,  # noqa: F401 (re-exported)
                        rope_angles)


# KV cache

class KVCache:
    """Per-layer cache of tensors shaped (B, T, ...), written at a slot position.

    Buffers are allocated on the first `update` (shape, dtype and device follow the tensors; the
    first two, an attention layer's keys and values, in `kv_dtype` where given: written rounded,
    read back as that dtype), and are never part of a model's state dict.
    """

    def __init__(self, batch_size: int, max_len: int, kv_dtype: torch.dtype | None = None):
        self.batch_size, self.max_len, self.kv_dtype = batch_size, max_len, kv_dtype
        self.buffers: list[torch.Tensor] | None = None
        # values derived from the cached slots and kept between decode steps (the pooled block
        # keys, a hierarchy unit's running sum): name -> (slots covered: [0, n), value)
        self.memo: dict[str, tuple[int, object]] = {}

    def update(self, pos: int, *xs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Write xs[i] (B, T, ...) at slots [pos, pos + T); return views of slots [0, pos + T).
        Memo entries that cover a rewritten slot are dropped."""
        end = pos + xs[0].size(1)
        if end > self.max_len:
            raise ValueError(f"KV cache holds {self.max_len} positions, asked for {end}")
        if self.buffers is None:
            self.buffers = [x.new_zeros((self.batch_size, self.max_len, *x.shape[2:]),
                                        dtype=self.kv_dtype if i < 2 and self.kv_dtype is not None else x.dtype)
                            for i, x in enumerate(xs)]
        for buf, x in zip(self.buffers, xs):
            buf.narrow(1, pos, end - pos).copy_(x)
        if self.memo and any(m[0] > pos for m in self.memo.values()):
            self.memo = {k: m for k, m in self.memo.items() if m[0] <= pos}
        return tuple(buf.narrow(1, 0, end) for buf in self.buffers)


def flat_rows(x: torch.Tensor) -> tuple[torch.Tensor, int]:
    """x (B, S, ...) -> (rows (R, row size), batch stride in rows): row s of batch b is
    rows[b * stride + s]. No copy where x is a slice of a longer cache buffer (the decode
    steps' K/V), where `reshape` would copy the whole cache of every row."""
    B, S = x.shape[:2]
    n = math.prod(x.shape[2:])
    if B == 1 or x.is_contiguous():
        return x.reshape(B * S, n), S
    strides, acc = [], 1                                                   # a contiguous row's strides
    for size in reversed(x.shape[2:]):
        strides.insert(0, acc)
        acc *= size
    if x.stride(1) == n and list(x.stride()[2:]) == strides and x.stride(0) % n == 0:
        R = x.stride(0) // n
        return x.as_strided(((B - 1) * R + S, n), (n, 1)), R
    return x.reshape(B * S, n), S


# modules

class Indexer(nn.Module):
    """The light gate: `index_heads` heads of width `index_dim`, one shared key per token."""

    def __init__(self, cfg: R1Config):
        super().__init__()
        self.n_heads, self.head_dim = cfg.index_heads, cfg.index_dim
        # one projection for q (Hi * Di), k (Di) and the head weights (Hi): one matmul per step
        self.proj = nn.Linear(cfg.d_model, cfg.index_heads * (cfg.index_dim + 1) + cfg.index_dim, bias=False)

    def project(self, x, cos, sin, p=None):
        """x (B, T, d) -> q (B, T, Hi, Di), w (B, T, Hi), k (B, T, Di); p: `proj`(x) when computed."""
        B, T, _ = x.shape
        H, D = self.n_heads, self.head_dim
        p = self.proj(x) if p is None else p
        qk = apply_rope(p[..., :(H + 1) * D].view(B, T, H + 1, D), cos, sin)         # q's heads, then k
        q, k, w = qk[:, :, :H], qk[:, :, H], p[..., (H + 1) * D:]                     # (B, T, Hi, Di), (B, T, Di)
        return q * D ** -0.5, w * H ** -0.5, k                                        # w: (B, T, Hi)

    score = staticmethod(index_score)                # q (B, T, Hi, Di), w (B, T, Hi), k (B, S, Di) -> (B, T, S)


def _native_layout(kv) -> torch.dtype | None:
    """The keys' dtype of a cache `native.run_rows` reads (batch 1; k, v float32 or bfloat16, the
    same; the index keys float32), None for another; kept while its buffers are the same."""
    bufs = kv.buffers if kv is not None else None
    if bufs is None:
        return None
    kept = kv.__dict__.get("_native_layout")
    if kept is None or kept[0] is not bufs or kept[1] is not bufs[0]:
        ok = (len(bufs) == 3 and kv.batch_size == 1 and bufs[0].dtype in native.KV_DTYPES
              and bufs[1].dtype == bufs[0].dtype and bufs[2].dtype == torch.float32)
        kept = kv.__dict__["_native_layout"] = (bufs, bufs[0], bufs[0].dtype if ok else None)
    return kept[2]


class SparseAttention(nn.Module):
    # True: long contexts select keys block-sparse (`block_select`); False: the indexer scores
    # every (query, key) pair (`select_keys` over all keys). Equal where contexts are short.
    block_sparse: bool = True
    # prefills of at most this many queries (after a cached prefix) gather each query's candidate
    # keys as decode steps do; more run `block_sparse_chunk` over the union of a chunk's candidates
    # (which, across the rows of a batch, covers most of a long context)
    few_queries: int = 8
    # queries per `block_sparse_chunk` call of a long prefill (each call is ~90 small ops; a larger
    # chunk attends over a larger union of candidate keys). r1-tiny, 512 real tokens, the 4 layers'
    # chunked attention in CPU time: 28.4 ms at 64 queries, 25.6 at 128, 37 at 32, 256 as 128
    prefill_chunk: int = 128
    # True: a one-row decode step's selection and attention run as one compiled call where the
    # kernel builds here (`model.native`; the eager ops otherwise, and with False)
    native: bool = True

    def __init__(self, cfg: R1Config):
        super().__init__()
        self.cfg = cfg
        self.n_heads, self.head_dim = cfg.n_heads, cfg.head_dim
        d = cfg.d_model
        self.wq = nn.Linear(d, d, bias=False)
        self.wk = nn.Linear(d, d, bias=False)
        self.wv = nn.Linear(d, d, bias=False)
        self.wo = nn.Linear(d, d, bias=False)
        self.indexer = Indexer(cfg) if cfg.attn_sparse else None

    def forward(self, x, rope, index_rope, start_pos: int = 0, pad_len=None, cache: KVCache | None = None,
                want_gate_loss: bool = False):
        """x (B, T, d) -> y (B, T, d), gate_loss (scalar if want_gate_loss and T > 1, else None).

        T == 1 (decode) gathers the kept keys; T > 1 (prefill, training) runs `_blocks`."""
        B, T, _ = x.shape
        H, HD = self.n_heads, self.n_heads * self.head_dim
        fused = None if torch.is_grad_enabled() else self.fused_projection()
        if fused is not None:                                # inference: one matmul for q, k, v (+ indexer)
            p = fused(x)
            if T <= self.few_queries:
                p = self.joined(x, p)
            if T == 1 and pad_len is None and self.native and self.block_sparse and self.indexer is not None:
                y = self._native_rows(p, rope, index_rope, cache, start_pos)
                if y is not None:                            # every row's step in one compiled call
                    return self.wo(y), None
            if T > self.few_queries:
                q, k, v, index = self.rotate_apart(x, p, rope, index_rope)
            else:
                q, k, v, index = self.rotate_joined(x, p, rope, index_rope)
        else:
            qk = torch.cat([self.wq(x).view(B, T, H, self.head_dim), self.wk(x).view(B, T, H, self.head_dim)], 2)
            q, k = apply_rope(qk, *rope).split(H, dim=2)                           # (B, T, H, D) each
            v = self.wv(x).view(B, T, H, self.head_dim)                            # (B, T, H, D)
            index = None
        if self.indexer is not None:
            index = index or self.indexer.project(x.detach() if torch.is_grad_enabled() else x, *index_rope)
        if isinstance(cache, list):                          # rows with their own caches: one token each
            return self.wo(self._row_steps(q, k, v, index, cache, start_pos)), None
        if self.indexer is None:
            k_all, v_all = cache.update(start_pos, k, v) if cache is not None else (k, v)
            y = self._dense(q, k_all, v_all, start_pos, pad_len)
            return self.wo(y), None
        iq, iw, ik = index
        if cache is not None:
            k_all, v_all, ik_all = cache.update(start_pos, k, v, ik)
        else:
            k_all, v_all, ik_all = k, v, ik
        if T == 1:
            return self.wo(self._gathered(q, k_all, v_all, iq, iw, ik_all, start_pos, pad_len, cache=cache)), None
        y, gate_loss = self._blocks(q, k_all, v_all, iq, iw, ik_all, start_pos, pad_len, want_gate_loss)
        if (cache is not None and pad_len is None and B == 1 and self.block_sparse and not torch.is_grad_enabled()
                and uses_blocks(self.cfg, k_all.size(1))):
            self._pooled(ik_all, k_all.size(1), None, cache)     # kept for the decode steps that follow
        return self.wo(y), gate_loss

    def _row_steps(self, q, k, v, index, caches: list[KVCache], positions) -> torch.Tensor:
        """One token per row, row b at slot positions[b] of its own batch-1 cache caches[b]: each
        row's decode step as it runs alone (no batch cache, no padding). -> (B, 1, H*D)."""
        parts = [x.split(1) for x in (q, k, v, *(index or ()))]
        out = []
        for c, t, (qb, kb, vb, *ind) in zip(caches, positions, zip(*parts)):
            if not ind:
                k_all, v_all = c.update(t, kb, vb)
                out.append(self._dense(qb, k_all, v_all, t, None))
            else:
                k_all, v_all, ik_all = c.update(t, kb, vb, ind[2])
                out.append(self._gathered(qb, k_all, v_all, ind[0], ind[1], ik_all, t, None, cache=c))
        return torch.cat(out)

    def rotate_joined(self, x, p, rope, index_rope):
        """q, k, v (B, T, H, D) and the indexer's (iq, iw, ik) (None without an indexer) from the
        joined projection p = `fused_projection`(x) (the indexer's own projection appended when it
        is another kind of Linear), RoPE and the indexer's scales in 4 ops (`joined_rope_tables`,
        built once per forward: kept in the angles' memo, which every layer shares)."""
        B, T, _ = x.shape
        H, D = self.n_heads, self.head_dim
        HD = H * D
        p = self.joined(x, p)
        perm, cos, sin, scale = self._joined_tables(p, rope, index_rope)
        y = (p * cos + p.index_select(-1, perm) * sin) * scale                    # (B, T, W)
        y = y if y.dtype == p.dtype else y.to(p.dtype)
        q, k, v = (y[..., i * HD:(i + 1) * HD].view(B, T, H, D) for i in range(3))
        if self.indexer is None:
            return q, k, v, None
        Hi, Di = self.indexer.n_heads, self.indexer.head_dim
        iq = y[..., 3 * HD:3 * HD + Hi * Di].view(B, T, Hi, Di)
        ik = y[..., 3 * HD + Hi * Di:3 * HD + (Hi + 1) * Di]
        return q, k, v, (iq, y[..., 3 * HD + (Hi + 1) * Di:], ik)

    def rotate_apart(self, x, p, rope, index_rope):
        """`rotate_joined`'s values (bit for bit) for many rows (a prefill): q and k rotated
        together, the indexer's projection on its own (its part of p where `fused_projection`
        holds it, else its Linear on x). Measured on a 512-token prefill: the joined pass's
        strided views of one wide (T, W) tensor slowed the chunked attention by ~10 %, and
        appending a float indexer to int8 q/k/v cost a (T, W) concatenation."""
        B, T, _ = x.shape
        H, D = self.n_heads, self.head_dim
        HD = H * D
        q, k = apply_rope(p[..., :2 * HD].view(B, T, 2 * H, D), *rope).split(H, dim=2)
        v = p[..., 2 * HD:3 * HD].view(B, T, H, D)
        if self.indexer is None:
            return q, k, v, None
        ip = p[..., 3 * HD:] if p.size(-1) > 3 * HD else None
        return q, k, v, self.indexer.project(x, *index_rope, p=ip)

    def joined(self, x, p):
        """`fused_projection`(x) with the indexer's own projection appended when it is another kind
        of Linear (the same dtype: both float Linears, or int8 ones' float out); p as it is else."""
        if self.indexer is not None and p.size(-1) == 3 * self.n_heads * self.head_dim:
            p = torch.cat([p, self.indexer.proj(x)], -1)
        return p

    def _joined_tables(self, p, rope, index_rope):
        """perm (W,), cos, sin (B, T, W), scale (W,) of `joined_rope_layout` for the joined projection
        p (B, T, W); the angles built once per forward (kept in the angles' memo, which layers share)."""
        H, D = self.n_heads, self.head_dim
        W, dev = p.size(-1), p.device
        layout = self.__dict__.get("_rope_layout")
        if layout is None or layout[0] != (W, dev):
            Hi, Di = self.cfg.index_heads, self.cfg.index_dim
            tabs = joined_rope_layout(H, D, Hi, Di, W > 3 * H * D)
            layout = self.__dict__["_rope_layout"] = ((W, dev), *(t.to(dev) for t in tabs))
        _, perm, cols, scale = layout
        memo = getattr(rope, "memo", {})
        key = (W, id(index_rope))
        if key not in memo:
            memo[key] = joined_angles(rope, index_rope, cols)
        return perm, *memo[key], scale

    def _native_rows(self, p, rope, index_rope, cache, positions):
        """A decode step (one token per row, no padding) of rows that each have a batch-1 cache
        (`cache` one KVCache and `positions` its slot, or a list of each: `_row_steps`), all of
        them long enough for block-sparse selection, as one compiled call (`native.run_rows`:
        RoPE, the cache writes and `_decode_blocks_one` of every row). None where it does not
        apply (the eager ops then run; nothing was written). p (B, 1, W) -> (B, 1, H*D)."""
        caches, slots = (cache, positions) if isinstance(cache, list) else ([cache], [positions])
        B, c = p.size(0), self.cfg
        if not uses_blocks(c, min(slots)) or (native.attend_rows() is None or len(caches) != B or p.dtype != torch.float32 or p.device.type != "cpu"
                or p.size(-1) != 3 * self.n_heads * self.head_dim + c.index_heads * (c.index_dim + 1) + c.index_dim):
            return None
        kv_dtype = None
        for kv, t in zip(caches, slots):                     # (uses_blocks(c, t) holds: t >= min(slots))
            ok = _native_layout(kv)
            if ok is None or t >= kv.max_len or ok != (kv_dtype := kv_dtype or ok):
                return None
        perm, cos, sin, scale = self._joined_tables(p, rope, index_rope)
        blocks, counts = [], []
        for kv, t in zip(caches, slots):
            if kv.memo and any(m[0] > t for m in kv.memo.values()):     # as `KVCache.update` at slot t
                kv.memo = {k: m for k, m in kv.memo.items() if m[0] <= t}
            m = kv.memo.get("pooled")
            if m is not None and m[0] == t // c.key_block * c.key_block:        # no block completed since
                blocks.append(m[1])
                counts.append(t // c.key_block)
                continue
            blk = self._pooled(kv.buffers[2].narrow(1, 0, t), t, None, kv)[0]  # blocks before slot t
            blocks.append(blk)
            counts.append(blk.size(1))
        return native.run_rows(p.view(B, -1), cos.reshape(B, -1), sin.reshape(B, -1), perm, scale, caches, slots,
                               blocks, counts, c, self.n_heads, self.head_dim, c.index_heads, c.index_dim)

    def fused_projection(self) -> nn.Module | None:
        """wq | wk | wv (| the indexer's projection, when it is the same kind of Linear) joined into
        one Linear for inference (`concat_linears`), rebuilt when a weight changes; None where
        they cannot be joined. Kept outside the module tree: no state dict entry, no parameters."""
        mods = [self.wq, self.wk, self.wv] + ([self.indexer.proj] if self.indexer is not None else [])
        cached = self.__dict__.get("_fused")
        key = tuple(linear_key(m) for m in mods)
        if cached is None or cached[0] != key:
            if None in key[:3]:
                fused = None
            elif key[-1] is not None and key[-1][0] == key[0][0] and len(mods) == 4:
                fused = concat_linears(mods)
            else:
                fused = concat_linears(mods[:3])
            cached = (key, fused)
            self.__dict__["_fused"] = cached
        return cached[1]

    def _dense(self, q, k, v, start_pos, pad_len):
        """Dense attention (attn_sparse=False): SDPA, causal (+ padding) mask or is_causal."""
        B, T, H, D = q.shape
        S = k.size(1)
        k, v = k.to(q.dtype), v.to(q.dtype)                 # a cache's keys / values may be kept in bf16
        if pad_len is None and start_pos == 0 and T == S:
            y = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2),
                                               is_causal=True)
        else:
            mask = key_masks(start_pos, T, S, 1, pad_len, q.device)[0]         # (B|1, T, S)
            y = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2),
                                               attn_mask=mask[:, None])            # (B, H, T, D)
        return y.transpose(1, 2).reshape(B, T, H * D)

    def _gathered(self, q, k, v, iq, iw, ik, start_pos, pad_len, chunk_elems: int = 1 << 22,
                  cache: KVCache | None = None):
        """Attention over gathered kept keys only, queries in chunks bounding the score matrix.
        One query at the last slot (a decode step) takes `_decode`'s few-op paths."""
        B, T, H, D = q.shape
        S = k.size(1)
        if T == 1 and start_pos == S - 1:
            y = self._decode(q, k, v, iq, iw, ik, start_pos, pad_len, cache)
            if y is not None:
                return y
        (k_rows, stride), (v_rows, _) = flat_rows(k), flat_rows(v)
        base = (torch.arange(B, device=q.device) * stride)[:, None, None]         # (B, 1, 1)
        C = max(1, chunk_elems // (S * iq.size(2)))
        out = []
        for c0 in range(0, T, C):
            c1 = min(T, c0 + C)
            n_q = c1 - c0
            if self.block_sparse and uses_blocks(self.cfg, start_pos + c1 - 1):
                pooled = pooled_block_keys(ik, S, self.cfg.key_block, pad_len)
                for i in range(c0, c1):
                    t = start_pos + i
                    if uses_blocks(self.cfg, t):
                        out.append(self._decode_blocks(q[:, i:i + 1], k, v, iq[:, i:i + 1], iw[:, i:i + 1],
                                                       ik, pooled, t, pad_len))
                    else:                                    # (the same keys as the exact rule)
                        out.append(block_sparse_chunk(q[:, i:i + 1], k, v, iq[:, i:i + 1], iw[:, i:i + 1], ik,
                                                      pooled, t, S, self.cfg, pad_len))
                continue
            scores = Indexer.score(iq[:, c0:c1], iw[:, c0:c1], ik)                 # (B, C, S)
            visible, local = key_masks(start_pos + c0, n_q, S, self.cfg.local_window, pad_len, q.device)
            idx, keep = select_keys(scores, visible, local, self.cfg.gate_threshold, self.cfg.attn_topk)
            idx, keep = compact(idx, keep)                                         # (B, C, n)
            idx, order = idx.sort(dim=-1)                                          # ascending slots:
            keep = keep.gather(-1, order)                                          # 3x faster gather
            n = idx.size(-1)
            rows = (idx + base).view(-1)
            # F.embedding is the fastest row gather on CPU (6x index_select, measured)
            kg = F.embedding(rows, k_rows).to(q.dtype).view(B * n_q, n, H, D).transpose(1, 2)   # (BC, H, n, D)
            vg = F.embedding(rows, v_rows).to(q.dtype).view(B * n_q, n, H, D).transpose(1, 2)   # (BC, H, n, D)
            qc = q[:, c0:c1].reshape(B * n_q, H, 1, D)                                # (BC, H, 1, D)
            y = F.scaled_dot_product_attention(qc, kg, vg, attn_mask=keep.view(B * n_q, 1, 1, n))
            out.append(y.view(B, n_q, H * D))
        return torch.cat(out, dim=1) if len(out) > 1 else out[0]

    def _blocks(self, q, k, v, iq, iw, ik, start_pos, pad_len, want_gate_loss, chunk_elems: int = 1 << 22):
        """Prefill: queries in chunks (bounding the indexer's score matrix); each chunk runs one
        masked SDPA over its causal key prefix, skipping key blocks of `key_block` slots that no
        query of the chunk keeps. One chunk and nothing skipped for short sequences."""
        B, T, H, D = q.shape
        S, Bk = k.size(1), self.cfg.key_block
        C = max(1, min(T, chunk_elems // (S * iq.size(2))))
        C = min(C, max(128, -(-T // 4)))                   # >= 4 chunks when long: skip the causal upper half
        out, gate_losses = [], []
        if self.block_sparse and not want_gate_loss and uses_blocks(self.cfg, start_pos + T - 1):
            if T <= self.few_queries:                        # a keystroke's few new tokens: each query
                return self._gathered(q, k, v, iq, iw, ik, start_pos, pad_len), None   # gathers its own keys
            return self._block_prefill(q, k, v, iq, iw, ik, start_pos, pad_len), None
        for c0 in range(0, T, C):
            c1 = min(T, c0 + C)
            Sp = S - T + c1                                                        # causal key prefix
            scores = Indexer.score(iq[:, c0:c1], iw[:, c0:c1], ik[:, :Sp])        # (B, C, Sp)
            visible, local = key_masks(start_pos + c0, c1 - c0, Sp, self.cfg.local_window, pad_len, q.device)
            idx, keep = select_keys(scores, visible, local, self.cfg.gate_threshold, self.cfg.attn_topk)
            mask = torch.zeros_like(scores, dtype=torch.bool).scatter_(-1, idx, keep)  # (B, C, Sp)
            kc, vc = k[:, :Sp].to(q.dtype), v[:, :Sp].to(q.dtype)
            n_blocks = -(-Sp // Bk)
            used = F.pad(mask.any(1).any(0), (0, n_blocks * Bk - Sp)).view(n_blocks, Bk).any(1)
            if not used.all():                                                     # gather used blocks
                slots = (used.nonzero()[:, 0, None] * Bk + torch.arange(Bk, device=q.device)).flatten()
                slots = slots[slots < Sp]
                kc, vc, mask_c = kc[:, slots], vc[:, slots], mask[..., slots]
            else:
                mask_c = mask
            y = F.scaled_dot_product_attention(q[:, c0:c1].transpose(1, 2), kc.transpose(1, 2),
                                               vc.transpose(1, 2), attn_mask=mask_c[:, None])  # (B, H, C, D)
            out.append(y.transpose(1, 2).reshape(B, c1 - c0, H * D))
            if want_gate_loss:
                gl = self._gate_loss(q[:, c0:c1], k[:, :Sp], scores, visible)
                gate_losses.append(gl * (c1 - c0) / T)
        y = torch.cat(out, dim=1) if len(out) > 1 else out[0]
        return y, (sum(gate_losses) if gate_losses else None)

    def _decode(self, q, k, v, iq, iw, ik, t: int, pad_len, cache: KVCache | None):
        """One query per row at slot t = the last cached slot (a decode step), in few ops: the
        block-sparse path for long contexts, else one masked SDPA over every cached key (no
        gather; short contexts hold at most a few hundred keys). None: take the chunked path."""
        S = k.size(1)
        if self.block_sparse and uses_blocks(self.cfg, t):
            pooled = self._pooled(ik, S, pad_len, cache)
            if q.size(0) == 1 and pad_len is None:
                return self._decode_blocks_one(q, k, v, iq, iw, ik, pooled[0], t)
            return self._decode_blocks(q, k, v, iq, iw, ik, pooled, t, pad_len)
        if S > 2 * self.cfg.attn_topk:
            return None
        c = self.cfg
        B, _, H, D = q.shape
        scores = Indexer.score(iq, iw, ik)[:, 0]                                    # (B, S)
        W = min(c.local_window, S)
        visible = None
        if pad_len is not None:
            s = torch.arange(S, device=q.device)
            visible = (s >= pad_len[:, None]) | (s == t)                               # (B, S)
            scores = scores.masked_fill(~visible, float("-inf"))
        keep = self._gate(scores, visible, W)
        k, v = k.to(q.dtype), v.to(q.dtype)
        y = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2),
                                           attn_mask=keep[:, None, None])               # (B, H, 1, D)
        return y.transpose(1, 2).reshape(B, 1, H * D)

    def _gate(self, scores, visible, n_local: int):
        """keep (B, K) for one query's candidates, the last `n_local` of them its local window:
        visible and (local or exp(I - max I) >= gate_threshold), at most attn_topk (local first).
        scores (B, K) hold -inf where not visible; visible (B, K) bool or None (all visible)."""
        c = self.cfg
        K = scores.size(-1)
        if c.gate_threshold > 0:
            keep = scores >= scores.amax(-1, keepdim=True) + math.log(c.gate_threshold)
        else:
            keep = torch.ones_like(scores, dtype=torch.bool)
        keep[:, K - n_local:] = True
        if visible is not None:
            keep &= visible
        if K > c.attn_topk and int(keep.sum(-1).max()) > c.attn_topk:               # the budget, local first
            r = scores.masked_fill(~keep, float("-inf"))
            r[:, K - n_local:] = float("inf")
            if visible is not None:
                r = r.masked_fill(~visible, float("-inf"))
            keep &= torch.zeros_like(keep).scatter_(-1, r.topk(c.attn_topk, dim=-1).indices, True)
        return keep

    def _pooled(self, ik, S: int, pad_len, cache: KVCache | None):
        """`pooled_block_keys`, kept in the cache's memo between decode steps: a complete block's
        pooled key never changes, so a step pools only the block that just completed (if any)."""
        Bk = self.cfg.key_block
        if cache is None:
            return pooled_block_keys(ik, S, Bk, pad_len)
        B, _, Di = ik.shape
        if pad_len is not None:                              # per-row offsets: pooled again when a count changes
            offs = tuple(pad_len.tolist())
            counts = tuple((S - o) // Bk for o in offs)
            m = cache.memo.get("pooled_rows")
            if m is None or m[1][0] != (offs, counts):
                m = (S, ((offs, counts), pooled_block_keys(ik, S, Bk, pad_len)))
                cache.memo["pooled_rows"] = m
            return m[1][1]
        nb = S // Bk
        m = cache.memo.get("pooled")
        buf, n0 = (m[1], m[0] // Bk) if m is not None else (ik.new_empty(B, cache.max_len // Bk, Di), 0)
        if nb > n0:
            buf[:, n0:nb] = ik[:, n0 * Bk:nb * Bk].reshape(B, nb - n0, Bk, Di).mean(2)
        cache.memo["pooled"] = (nb * Bk, buf)
        return buf[:, :nb], None                             # (the count per row: only with padding)

    def _decode_blocks_one(self, q, k, v, iq, iw, ik, blocks, t: int):
        """`_decode_blocks` for one row without padding (one user's decode step), in about half
        the ops: 2-D products, and only the kept keys gathered (no mask). blocks (1, >=nb, Di)."""
        c = self.cfg
        H, D = q.shape[2:]
        Hi, Di = iq.shape[2:]
        Bk, W = c.key_block, c.local_window
        near0 = min(max(0, t - W + 1) // Bk * Bk, t)
        nb = min(blocks.size(1), near0 // Bk)                # every complete old block is eligible
        n_sel = min(max(1, (c.attn_topk - W) // Bk), nb)
        if self.native and not torch.is_grad_enabled():      # the same step as one compiled call
            y = native.run(q, iq, iw, k, v, ik, blocks, t, near0, nb, n_sel, Bk, W, c.attn_topk - W, c.gate_threshold)
            if y is not None:
                return y
        ar = self._arange(t + 1, q.device)
        iq2, iw2 = iq.view(Hi, Di), iw.view(1, Hi)
        J = iw2 @ F.leaky_relu_(iq2 @ blocks[0, :nb].T, 0.01)                         # (1, nb)
        top = J[0].topk(n_sel).indices                                                 # (n_sel,)
        # candidates: the picked blocks, then the near range (its last W slots: the window)
        cand = torch.cat([ar[:nb * Bk].view(nb, Bk)[top].view(-1), ar[near0:]])      # (K,)
        scores = (iw2 @ F.leaky_relu_(iq2 @ F.embedding(cand, ik.reshape(-1, Di)).T, 0.01))[0]   # (K,)
        old = cand[:-W]
        if c.gate_threshold > 0:                             # the gate: exp(I - max I) >= threshold
            passed = scores[:-W] >= scores.max() + math.log(c.gate_threshold)
            old = old[passed]
        if old.numel() > c.attn_topk - W:                    # the budget: the window, then the best
            s_old = scores[:-W][passed] if c.gate_threshold > 0 else scores[:-W]
            old = old[s_old.topk(c.attn_topk - W).indices]
        rows = torch.cat([old, ar[t + 1 - W:]])                                         # (n,) kept slots
        kv = (F.embedding(rows, x.reshape(-1, H * D)).to(q.dtype).view(1, -1, H, D).transpose(1, 2) for x in (k, v))
        y = F.scaled_dot_product_attention(q.view(1, H, 1, D), *kv)                    # (1, H, 1, D): 4-D
        return y.view(1, 1, H * D)                                                      # takes the fused kernel

    def _arange(self, n: int, device) -> torch.Tensor:
        """torch.arange(n), sliced from one kept per device (decode steps index with it)."""
        a = self.__dict__.get("_arange_cache")
        if a is None or a.numel() < n or a.device != torch.device(device):
            a = self.__dict__["_arange_cache"] = torch.arange(max(n, self.cfg.max_seq_len), device=device)
        return a[:n]

    def _decode_blocks(self, q, k, v, iq, iw, ik, pooled, t: int, pad_len):
        """One query at slot t (every row of the batch), block-sparse: the keys `block_sparse_chunk`
        keeps, with fewer and smaller steps -- its candidates are gathered, not a union of slots.
        q (B, 1, H, D), k / v (B, S, H, D), iq (B, 1, Hi, Di), iw (B, 1, Hi) -> (B, 1, H*D)."""
        c = self.cfg
        B, _, H, D = q.shape
        Di = iq.size(-1)
        Bk, W = c.key_block, c.local_window
        dev = q.device
        blocks, nb_row = pooled
        arange_bk = torch.arange(Bk, device=dev)
        if pad_len is None:                                  # python ints: every candidate is visible
            near0 = min(max(0, t - W + 1) // Bk * Bk, t)
            nb = min(blocks.size(1), near0 // Bk)            # every complete old block is eligible
            n_sel = min(max(1, (c.attn_topk - W) // Bk), nb)
            top = Indexer.score(iq, iw, blocks[:, :nb])[:, 0].topk(n_sel, dim=-1).indices   # (B, n_sel)
            sel = (top[..., None] * Bk + arange_bk).flatten(1)                                 # (B, n_sel*Bk)
            slots = torch.cat([sel, torch.arange(near0, t + 1, device=dev).expand(B, -1)], 1)  # (B, K)
            visible, n_local = None, W                       # the near range ends with the window
        else:
            off = pad_len
            near0 = torch.minimum(off + (t - off - W + 1).clamp_min(0) // Bk * Bk, torch.full_like(off, t))
            n_elig = (near0 - off) // Bk                                            # (B,) complete old blocks
            nb = min(blocks.size(1), int(n_elig.max()))
            n_sel = min(max(1, (c.attn_topk - W) // Bk), nb)
            J = Indexer.score(iq, iw, blocks[:, :nb])[:, 0]                         # (B, nb)
            J = J.masked_fill(torch.arange(nb, device=dev)[None, :] >= torch.minimum(n_elig, nb_row)[:, None],
                              float("-inf"))
            top = J.topk(n_sel, dim=-1)                                             # (B, n_sel)
            sel = (off[:, None, None] + top.indices[..., None] * Bk + arange_bk).flatten(1)
            sel_ok = torch.isfinite(top.values)[..., None].expand(B, n_sel, Bk).flatten(1)
            near = t - W - Bk + 2 + torch.arange(W + Bk - 1, device=dev)             # (Nn,) up to t
            slots = torch.cat([sel, near.expand(B, -1)], 1)                         # (B, K)
            ok = torch.cat([sel_ok, near[None, :] >= near0[:, None]], 1)
            visible = ok & (slots >= off[:, None]) | (slots == t)
            slots = torch.where(visible, slots, t)
            n_local = W                                      # the last W slots: t-W+1..t (visible or not)
        K = slots.size(1)
        (ik_rows, stride), (k_rows, _), (v_rows, _) = flat_rows(ik), flat_rows(k), flat_rows(v)
        rows = (slots + (torch.arange(B, device=dev) * stride)[:, None]).view(-1) if B > 1 else slots.view(-1)
        kc = F.embedding(rows, ik_rows).view(B, K, Di)
        scores = Indexer.score(iq, iw, kc)[:, 0]                                    # (B, K)
        if visible is not None:
            scores = scores.masked_fill(~visible, float("-inf"))
        keep = self._gate(scores, visible, n_local)
        # F.embedding is the fastest row gather on CPU (6x index_select, measured)
        kg = F.embedding(rows, k_rows).to(q.dtype).view(B, K, H, D).transpose(1, 2)      # (B, H, K, D)
        vg = F.embedding(rows, v_rows).to(q.dtype).view(B, K, H, D).transpose(1, 2)
        y = F.scaled_dot_product_attention(q.transpose(1, 2), kg, vg, attn_mask=keep[:, None, None])
        return y.transpose(1, 2).reshape(B, 1, H * D)

    def _block_prefill(self, q, k, v, iq, iw, ik, start_pos, pad_len):
        """Prefill with block-sparse selection (`block_sparse_chunk`), queries in chunks of
        `prefill_chunk`: the work follows the kept key blocks, never the whole causal prefix."""
        T, S, Bk = q.size(1), k.size(1), self.cfg.key_block
        pooled = pooled_block_keys(ik, S, Bk, pad_len)
        out = []
        for c0 in range(0, T, self.prefill_chunk):
            c1 = min(T, c0 + self.prefill_chunk)
            out.append(block_sparse_chunk(q[:, c0:c1], k, v, iq[:, c0:c1], iw[:, c0:c1], ik, pooled,
                                          start_pos + c0, S - T + c1, self.cfg, pad_len))
        return torch.cat(out, dim=1)

    def _gate_loss(self, q, k, scores, visible):
        """KL(p || g): p = dense attention of this layer averaged over heads (detached),
        g = softmax of the indexer scores, both over the visible keys."""
        with torch.no_grad():
            att = torch.einsum("bthd,bshd->bhts", q.float(), k.float()) * self.head_dim ** -0.5
            p = att.masked_fill(~visible[:, None], float("-inf")).softmax(-1).mean(1)  # (B, T, S)
        log_g = scores.float().masked_fill(~visible, float("-inf")).log_softmax(-1)
        kl = p * (p.clamp_min(1e-30).log() - log_g)
        return kl.masked_fill(~visible, 0.0).sum(-1).mean()
