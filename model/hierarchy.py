"""Hierarchical encoder: causal pooling of phrase, sentence and paragraph units, fed back.

Level ids (B, T, 3) give, per token, the ordinal of its enclosing phrase, sentence and paragraph
(ids increase in document order; a unit need not be contiguous, e.g. a phrase interrupted by a
nested one). Without level ids the whole sequence is one unit per level. Padding carries id -1.

At each layer listed in `hier_layers`, from the residual stream h:
    z0 = norm(h)                                     (d_model: the token level)
    z1 = norm1(unit_mean_phrase(W1 z0))              768 -> 512 in r1-base
    z2 = norm2(unit_mean_sentence(W2 z1))            512 -> 384
    z3 = norm3(unit_mean_paragraph(W3 z2))           384 -> 256
    h  = h + U [z1, z2, z3]                          (U starts at zero: the trunk starts unchanged)
`unit_mean` is causal: token t averages the tokens s <= t of its own unit, never later ones.
z_l at a unit's last token is the summary of the whole unit (`unit_summaries`).
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from model import native
from model.attention import KVCache
from model.config import R1Config


def rms_norm(norm: nn.RMSNorm, x: torch.Tensor) -> torch.Tensor:
    """norm(x) without the module call, whose Python overhead (~10 us on these cores) is the
    norm's own cost again at one token; 13 norms run in every decode step."""
    return F.rms_norm(x, norm.normalized_shape, norm.weight, norm.eps)


def causal_unit_mean(y: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """y (B, T, d), ids (B, T) -> (B, T, d): mean of y over s <= t with ids[s] == ids[t].

    Sorts tokens by (unit, position), takes a running sum within each unit (float64, so the
    subtraction of the sum before the unit loses nothing) and scatters back.
    """
    B, T, d = y.shape
    t = torch.arange(T, device=y.device)
    order = (ids * T + t).argsort(dim=1)                                          # (B, T)
    ids_s = ids.gather(1, order)
    y_s = y.gather(1, order[..., None].expand(B, T, d)).double()                  # (B, T, d)
    run = y_s.cumsum(1)
    first = torch.ones_like(ids_s, dtype=torch.bool)
    first[:, 1:] = ids_s[:, 1:] != ids_s[:, :-1]
    start = torch.where(first, t, 0).cummax(1).values                              # (B, T) unit start
    before = run.gather(1, (start - 1).clamp_min(0)[..., None].expand(B, T, d))
    before = before * (start > 0)[..., None]
    mean_s = ((run - before) / (t - start + 1)[..., None]).to(y.dtype)
    return torch.empty_like(y).scatter_(1, order[..., None].expand(B, T, d), mean_s)


def cached_unit_mean(cache: KVCache, y_all: torch.Tensor, ids_all: torch.Tensor) -> torch.Tensor:
    """The last token's unit mean, (B, S, d), (B, S) -> (B, 1, d), from the unit's running sum kept in
    the cache's memo: a decode step that continues the previous step's unit (generated tokens
    inherit the prompt's last units) adds one row; any other step sums the unit's rows once."""
    S = y_all.size(1)
    uid = ids_all[:, -1]                                                           # (B,)
    memo = cache.memo.get("unit_sum")
    if memo is not None and memo[0] == S - 1 and torch.equal(memo[1][0], uid):
        total = memo[1][1] + y_all[:, -1].double()                                # (B, d) float64
        count = memo[1][2] + 1
    elif y_all.size(0) == 1 and (prev := _row_sums(cache, S - 1, int(uid[0]))) is not None:
        total, count = prev[0] + y_all[:, -1].double(), prev[1] + 1               # a batch's running sum
    elif y_all.size(0) == 1:                        # one row: sum only its unit's rows, not all S
        rows = (ids_all[0] == uid[0]).nonzero()[:, 0]
        total = y_all[0, rows].double().sum(0, keepdim=True)                       # (1, d) float64
        count = total.new_full((1, 1), rows.numel())
    else:
        same = (ids_all == uid[:, None]).double()                                  # (B, S)
        total = torch.bmm(same[:, None], y_all.double())[:, 0]
        count = same.sum(1, keepdim=True)                                          # (B, 1)
    cache.memo["unit_sum"] = (S, (uid, total, count))
    return (total / count).to(y_all.dtype)[:, None]


def _row_sums(cache: KVCache, t: int, uid: int):
    """(total (1, d) float64, count (1, 1)) of the unit `uid` over slots < t from the batch running
    sums `row_unit_means` keeps ("unit_rows": (slots covered, (unit ids, totals (B, d), counts (B, 1)),
    this cache's row)), or None where they do not cover exactly t slots of that unit."""
    r = cache.memo.get("unit_rows")
    if r is None or r[0] != t or r[1][0][r[2]] != uid:
        return None
    i = r[2]
    return r[1][1][i:i + 1], r[1][2][i:i + 1]


def _slot_layout(c: KVCache) -> tuple | None:
    """(unit inputs' address, bytes a slot, dtype, unit ids' address, bytes a slot, dtype) of a
    hierarchy cache's buffers (batch 1, contiguous; None else), kept while they are the same."""
    kept = c.__dict__.get("_slot_layout")
    bufs = c.buffers
    if kept is None or kept[0] is not bufs or kept[1] is not bufs[0] or kept[2] is not bufs[1]:
        ok = len(bufs) == 2 and c.batch_size == 1 and all(b.is_contiguous() and b.device.type == "cpu" for b in bufs)
        layout = tuple(v for b in bufs for v in (b.data_ptr(), b.stride(1) * b.element_size(), b.dtype)) if ok else None
        kept = c.__dict__["_slot_layout"] = (bufs, bufs[0], bufs[1], layout)
    return kept[3]


def _write_rows(caches: list[KVCache], slots, y: torch.Tensor, ids: torch.Tensor) -> bool:
    """y (B, 1, d) and ids (B, 1) of row b written at slot slots[b] of caches[b] (batch-1 buffers
    already allocated) in two compiled calls (`native.write_rows`); False where that does not
    apply (nothing written)."""
    if native.library() is None:
        return False
    dst_y, dst_i = [], []
    for c, t in zip(caches, slots):
        lay = _slot_layout(c)
        if lay is None or lay[2] != y.dtype or lay[5] != ids.dtype:
            return False
        dst_y.append(lay[0] + t * lay[1])
        dst_i.append(lay[3] + t * lay[4])
    return native.write_rows(y[:, 0], dst_y) and native.write_rows(ids, dst_i)


def row_unit_means(caches: list[KVCache], slots, y: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """`cached_unit_mean` of rows that each have their own batch-1 cache, one token each: y (B, 1, d),
    ids (B, 1), row b written at slot slots[b] of caches[b] -> (B, 1, d), each row's value as alone.
    The rows' running unit sums are kept as one batch state (B, d) shared by their caches' memos
    ("unit_rows"): a step whose rows all continue the previous step's units in the same order
    (every generated token of a batch) adds its tokens in 2 ops; another row continues from its
    own memo or sums its unit alone (`cached_unit_mean`)."""
    writes = [c.buffers is not None and c.batch_size == 1 and t < c.max_len for c, t in zip(caches, slots)]
    if not all(writes):
        return torch.cat([cached_unit_mean(c, *c.update(t, yb, ib)) for c, t, yb, ib in zip(caches, slots, y.split(1), ids.split(1))])
    if not _write_rows(caches, slots, y, ids):             # as `KVCache.update` of each row
        dst, src = [], []
        for c, t, yb, ib in zip(caches, slots, y.split(1), ids.split(1)):
            dst += [c.buffers[0].narrow(1, t, 1), c.buffers[1].narrow(1, t, 1)]
            src += [yb, ib]
        torch._foreach_copy_(dst, src)
    uids = ids[:, 0].tolist()
    B = len(caches)
    state = None                                           # the previous step's, if every row is its row b
    for b, (c, t) in enumerate(zip(caches, slots)):
        if c.memo and any(m[0] > t for m in c.memo.values()):
            c.memo = {k: m for k, m in c.memo.items() if m[0] <= t}
        r = c.memo.get("unit_rows") if b == 0 or state is not None else None
        state = r[1] if r is not None and r[0] == t and r[2] == b and r[1][0][b] == uids[b] and (
            b == 0 or r[1] is state) else None
    rows = y[:, 0].double()
    if state is not None and len(state[0]) == B:
        total, count = state[1] + rows, state[2] + 1
    else:
        tots, cnts = [], []
        for b, (c, t) in enumerate(zip(caches, slots)):
            prev = _row_sums(c, t, uids[b])
            m = c.memo.get("unit_sum")
            if prev is None and m is not None and m[0] == t and (m[1][3] if len(m[1]) > 3 else int(m[1][0])) == uids[b]:
                prev = m[1][1], m[1][2]
            if prev is not None:
                tots.append(prev[0] + rows[b:b + 1])
                cnts.append(prev[1] + 1)                   # kept for a later row at the next slot of
                c.memo["unit_sum"] = (t + 1, (ids[b:b + 1, 0], tots[-1], cnts[-1], uids[b]))   # the same cache
            else:                                          # sums its unit's rows (and keeps that in its memo)
                cached_unit_mean(c, c.buffers[0].narrow(1, 0, t + 1), c.buffers[1].narrow(1, 0, t + 1))
                tots.append(c.memo["unit_sum"][1][1])
                cnts.append(c.memo["unit_sum"][1][2])
        total, count = torch.cat(tots), torch.cat(cnts)
    state = (uids, total, count)
    for b, (c, t) in enumerate(zip(caches, slots)):
        c.memo["unit_rows"] = (t + 1, state, b)
    return (total / count).to(y.dtype)[:, None]


def cached_unit_means(cache: KVCache, y_all: torch.Tensor, ids_all: torch.Tensor, T: int) -> torch.Tensor:
    """The unit means of the last T tokens (a few new tokens after a cached prefix: a keystroke's
    prefill), (B, S, d), (B, S) -> (B, T, d): one masked product over the S cached rows instead of
    sorting and prefix-summing all of them (`causal_unit_mean`, O(S log S) and passes over S x d).
    The last token's running sum goes to the memo for the decode steps that follow."""
    B, S, d = y_all.shape
    ids_new = ids_all[:, S - T:]                                                   # (B, T)
    slot = torch.arange(S, device=y_all.device)
    causal = slot[None, :] <= slot[S - T:, None]                                   # (T, S)
    same = ((ids_all[:, None, :] == ids_new[..., None]) & causal).double()        # (B, T, S)
    total = torch.bmm(same, y_all.double())                                        # (B, T, d) float64
    count = same.sum(-1, keepdim=True)                                             # (B, T, 1)
    cache.memo["unit_sum"] = (S, (ids_new[:, -1], total[:, -1], count[:, -1]))
    return (total / count).to(y_all.dtype)


def unit_summaries(z: torch.Tensor, ids: torch.Tensor):
    """One vector per unit: z at the unit's last token. z (T, d), ids (T,) -> (unit ids (U,), (U, d))."""
    units, inverse = ids.unique(return_inverse=True)
    last = torch.zeros(len(units), dtype=torch.long, device=ids.device)
    last.scatter_reduce_(0, inverse, torch.arange(len(ids), device=ids.device), reduce="amax")
    keep = units >= 0                                                              # drop padding
    return units[keep], z[last[keep]]


class Hierarchy(nn.Module):
    def __init__(self, cfg: R1Config):
        super().__init__()
        dims = cfg.level_dims
        self.norm_in = nn.RMSNorm(dims[0], eps=cfg.norm_eps)
        self.down = nn.ModuleList(nn.Linear(dims[i], dims[i + 1], bias=False) for i in range(3))
        self.norms = nn.ModuleList(nn.RMSNorm(dims[i + 1], eps=cfg.norm_eps) for i in range(3))
        self.up = nn.Linear(sum(dims[1:]), dims[0], bias=False)

    def forward(self, h, level_ids, start_pos: int = 0, caches: list[KVCache] | None = None):
        """h (B, T, d), level_ids (B, T, 3) -> delta (B, T, d), [z1, z2, z3] each (B, T, d_l).
        Rows with their own caches: `caches` one list of 3 per row, `start_pos` one slot per row, T == 1."""
        T = h.size(1)
        z = rms_norm(self.norm_in, h)
        levels, norms, down = [], list(self.norms), list(self.down)
        for lvl in range(3):
            y = down[lvl](z)                                                  # (B, T, d_l)
            ids = level_ids[..., lvl]                                              # (B, T)
            if caches is None:
                pooled = causal_unit_mean(y, ids)
            elif isinstance(start_pos, (list, tuple)):      # rows with their own caches, one token each
                pooled = row_unit_means([c[lvl] for c in caches], start_pos, y, ids)
            else:
                y_all, ids_all = caches[lvl].update(start_pos, y, ids)
                if T == 1:
                    pooled = cached_unit_mean(caches[lvl], y_all, ids_all)
                elif T <= 64 < y_all.size(1):                   # a few tokens after a long prefix
                    pooled = cached_unit_means(caches[lvl], y_all, ids_all, T)
                else:
                    pooled = causal_unit_mean(y_all, ids_all)[:, -T:]
                    if y_all.size(0) == 1:          # the last unit's running sum, for the decode steps
                        cached_unit_mean(caches[lvl], y_all, ids_all)      # that follow (kept in the memo)
            z = rms_norm(norms[lvl], pooled)
            levels.append(z)
        return self.up(torch.cat(levels, dim=-1)), levels
