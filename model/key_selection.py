"""Which cached keys each query keeps (shared by all heads of a layer, as in DeepSeek's sparse
attention):
  I[t, s] = sum_h w[t, h] * leaky_relu(q_idx[t, h] . k_idx[s])  indexer score, a few low-dim heads
  (DeepSeek uses relu; its exact zeros tie, and ties at the top-k boundary could pick different
  keys in prefill and decode. The 0.01 leak removes the ties at the same cost.)
  keep s  iff  s is visible (causal, not padding)
          and  s is among the `attn_topk` best keys of t (the local window counts as best)
          and  (t - s < local_window  or  exp(I[t, s] - max_s' I[t, s']) >= gate_threshold)
Long contexts (`block_sparse_chunk`, used in decode and prefill alike once a query has more old
key blocks than it may pick): scoring every (query, key) pair would cost as much as dense
attention's own scores, so a query first scores whole key blocks through their pooled (mean)
indexer keys, picks its (attn_topk - local_window) // key_block best old blocks plus its near
range, and applies the rule above inside those candidates only (the max is over them). Training
windows (256 tokens) and short prompts select exactly as before.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from model.config import R1Config


def index_score(q, w, k):
    """The indexer score I: q (B, T, Hi, Di), w (B, T, Hi), k (B, S, Di) -> I (B, T, S)."""
    B, T, H, D = q.shape
    s = F.leaky_relu_(torch.bmm(q.reshape(B, T * H, D), k.transpose(1, 2)), 0.01)  # (B, T*Hi, S)
    s = s.view(B * T, H, -1)                                                  # (B*T, Hi, S)
    return torch.bmm(w.reshape(B * T, 1, H), s).view(B, T, -1)


def key_masks(start_pos: int, T: int, S: int, window: int, pad_len: torch.Tensor | None,
              device) -> tuple[torch.Tensor, torch.Tensor]:
    """visible, local: (B|1, T, S) bool for queries at slots start_pos.. and keys at slots 0..S-1.

    Visible: causal and not left padding (a pad query sees only itself, so no row is empty).
    Local: visible and within the last `window` slots.
    """
    q = torch.arange(start_pos, start_pos + T, device=device)[:, None]    # (T, 1)
    k = torch.arange(S, device=device)[None, :]                             # (1, S)
    causal = k <= q
    visible = causal[None]                                                   # (1, T, S)
    if pad_len is not None:
        visible = visible & ((k[None] >= pad_len[:, None, None]) | (k == q)[None])
    local = visible & (q - k < window)[None]
    return visible, local


def select_keys(scores, visible, local, threshold: float, budget: int):
    """Pick keys per query. scores (B, T, S) indexer scores.

    Returns idx (B, T, K) candidate key slots and keep (B, T, K) bool, K = min(budget, S).
    """
    S = scores.size(-1)
    masked = scores.masked_fill(~visible, float("-inf"))
    best = masked.amax(-1, keepdim=True)                                     # (B, T, 1)
    if budget < S:
        idx = masked.masked_fill(local, float("inf")).topk(budget, dim=-1).indices  # (B, T, K)
    else:
        idx = torch.arange(S, device=scores.device).expand(*masked.shape[:-1], S)
    vis, loc = visible.expand_as(masked).gather(-1, idx), local.expand_as(masked).gather(-1, idx)
    if threshold <= 0:
        return idx, vis
    return idx, vis & (loc | (scores.gather(-1, idx) >= best + math.log(threshold)))


def compact(idx: torch.Tensor, keep: torch.Tensor):
    """Drop unkept candidates: (..., K) -> (..., n), n = the largest kept count of any row."""
    n = max(int(keep.sum(-1).max()), 1)
    if n == keep.size(-1):
        return idx, keep
    order = keep.to(torch.int8).argsort(dim=-1, descending=True, stable=True)[..., :n]
    return idx.gather(-1, order), keep.gather(-1, order)


def block_sparse_chunk(q, k, v, iq, iw, ik, pooled, start_pos: int, S: int, cfg: R1Config,
                       pad_len: torch.Tensor | None):
    """Attention of a chunk of queries with block-sparse key selection; cost follows kept keys.

    q (B, C, H, D), iq (B, C, Hi, Di), iw (B, C, Hi) at slots start_pos..start_pos+C-1;
    k, v (B, >=S, H, D), ik (B, >=S, Di) keys of slots 0..S-1; pooled = `pooled_block_keys`.
    Key blocks are `key_block` positions long, counted from each row's first real token (so a
    left-padded row selects what it would alone). Query t:
      1. scores every *complete, old* block (all of it before t's near range) through its
         pooled key: C x S / key_block scores, not C x S;
      2. takes its n_select = (attn_topk - local_window) // key_block best blocks plus its near
         range (from the block holding position t - local_window + 1 up to t);
      3. refines inside those candidates with the exact indexer score and the usual gate: the
         local window always kept, another candidate kept iff exp(I[t, s] - max I[t, .]) >=
         gate_threshold (the max over t's visible candidates), at most attn_topk keys.
    The chunk then runs one masked SDPA over the union of its queries' candidate slots.
    Where a query has at most n_select complete old blocks, all its visible keys are candidates
    and it keeps exactly what `select_keys` over all keys keeps. Returns y (B, C, H*D)."""
    B, C, H, D = q.shape
    Hi, Di = iq.shape[2:]
    Bk, W = cfg.key_block, cfg.local_window
    n_select = max(1, (cfg.attn_topk - W) // Bk)
    dev = q.device
    blocks, nb_row = pooled
    off = pad_len if pad_len is not None else torch.zeros(B, dtype=torch.long, device=dev)   # (B,)
    t = torch.arange(start_pos, start_pos + C, device=dev)                          # (C,)
    rel = (t[None, :] - off[:, None] - W + 1).clamp_min(0)                          # (B, C) positions
    near0 = torch.minimum(off[:, None] + rel // Bk * Bk, t[None, :])                 # (B, C) near range start
    nb = min(blocks.size(1), int(((near0 - off[:, None]) // Bk).max()))              # blocks any query may pick
    chosen = torch.zeros(B, C, max(nb, 1), dtype=torch.bool, device=dev)           # picked blocks per query
    if nb > 0:
        J = index_score(iq, iw, blocks[:, :nb])                                   # (B, C, nb)
        j = torch.arange(nb, device=dev)
        eligible = (off[:, None, None] + (j + 1) * Bk <= near0[..., None]) & (j < nb_row[:, None, None])
        J = J.masked_fill(~eligible, float("-inf"))
        top = J.topk(min(n_select, nb), dim=-1)
        chosen.scatter_(-1, top.indices, torch.isfinite(top.values))
    # the union of candidate slots: picked blocks of every query and row, and the near ranges
    used = torch.zeros(S, dtype=torch.bool, device=dev)
    bi, ti, ji = chosen.nonzero(as_tuple=True)
    if bi.numel():
        used[(off[bi, None] + ji[:, None] * Bk + torch.arange(Bk, device=dev)).flatten()] = True
    used[int(near0.min()):] = True
    slots = used.nonzero()[:, 0]                                                    # (U,) ascending
    rel_s = slots[None, :] - off[:, None]                                           # (B, U) positions
    blk = (rel_s // Bk).clamp(0, chosen.size(-1) - 1)
    picked = chosen.gather(-1, blk[:, None, :].expand(B, C, -1)) & (rel_s >= 0)[:, None, :]
    tt = t[None, :, None]
    visible = (picked | (slots >= near0[..., None])) & (slots <= tt)                  # (B, C, U)
    visible = visible & ((slots >= off[:, None, None]) | (slots == tt))
    local = visible & (tt - slots < W)
    # exact indexer scores against the union's keys: one matmul
    kc = ik[:, slots]                                                               # (B, U, Di)
    sc = F.leaky_relu_(torch.bmm(iq.reshape(B, C * Hi, Di), kc.transpose(1, 2)), 0.01)   # (B, C*Hi, U)
    scores = torch.bmm(iw.reshape(B * C, 1, Hi), sc.view(B * C, Hi, -1)).view(B, C, -1)
    keep = visible
    if cfg.gate_threshold > 0:
        best = scores.masked_fill(~visible, float("-inf")).amax(-1, keepdim=True)
        keep = visible & (local | (scores >= best + math.log(cfg.gate_threshold)))
    if int(keep.sum(-1).max()) > cfg.attn_topk:                                     # the budget, local first
        r = scores.masked_fill(~keep, float("-inf")).masked_fill(local, float("inf"))
        top = r.topk(cfg.attn_topk, dim=-1, sorted=False).indices                 # (a set: 3-10x faster unsorted)
        keep = keep & torch.zeros_like(keep).scatter_(-1, top, True)
    kg, vg = (x[:, slots].to(q.dtype).transpose(1, 2) for x in (k, v))             # (a bf16 cache: as q)
    y = F.scaled_dot_product_attention(q.transpose(1, 2), kg, vg, attn_mask=keep[:, None])   # (B, H, C, D)
    return y.transpose(1, 2).reshape(B, C, H * D)


def pooled_block_keys(ik: torch.Tensor, S: int, block: int, pad_len: torch.Tensor | None = None):
    """The mean indexer key of each complete block of `block` positions, counted per row from its
    first real slot (pad_len). ik (B, >=S, Di) -> (blocks (B, nb, Di), count per row (B,))."""
    B, _, Di = ik.shape
    if pad_len is None:
        nb = S // block
        return ik[:, :nb * block].reshape(B, nb, block, Di).mean(2), torch.full((B,), nb, device=ik.device)
    offs = pad_len.tolist()
    counts = [(S - o) // block for o in offs]
    out = ik.new_zeros(B, max(counts), Di)
    for b, (o, n) in enumerate(zip(offs, counts)):
        out[b, :n] = ik[b, o:o + n * block].reshape(n, block, Di).mean(1)
    return out, torch.tensor(counts, device=ik.device)


def uses_blocks(cfg: R1Config, last_slot: int) -> bool:
    """Whether block selection can differ from exact selection for a query at `last_slot`: it
    has more complete old blocks than the blocks it may select (else both keep the same keys)."""
    n_select = max(1, (cfg.attn_topk - cfg.local_window) // cfg.key_block)
    near0 = max(0, last_slot - cfg.local_window + 1) // cfg.key_block
    return near0 > n_select
