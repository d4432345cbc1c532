"""Prompt states: prefilling a prompt into a static cache, reusing the cache of the previous
prompt under the same key for their common prefix (`PrefixCache`, `prefill_row`), typed tails
run through the decode kernels (`prefill_tails`), and a batch decoded on the rows' own caches
(`decode_rows`) or, for the DeepSeek network, one left-padded batch cache (`stack_left_padded`).
model.generate's loop and candidate scoring are built on these; its docstring has the conventions.
"""
from __future__ import annotations

import collections
import threading
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from model.network import ModelCache, R1Model


@torch.no_grad()
def prefill(model: R1Model, cache: ModelCache, input_ids, level_ids=None, pad_len=None,
            start_pos: int = 0) -> torch.Tensor:
    """Run the prompt (B, T) into the cache at `start_pos`; return the last position's logits (B, V)
    (an R1Model computes no other position's logits)."""
    extra = {"last_only": True} if isinstance(model, R1Model) else {}
    return model(input_ids, level_ids, cache=cache, start_pos=start_pos, pad_len=pad_len, **extra).logits[:, -1]


# ---------------------------------------------------------------------------- prefix caches

def _kv_caches(cache) -> list:
    return list(cache.layers) + [c for group in cache.hier.values() for c in group]


def cache_nbytes(cache) -> int:
    return sum(b.numel() * b.element_size() for c in _kv_caches(cache) for b in (c.buffers or ()))


@dataclass
class PrefixState:
    """A batch-1 cache whose first len(ids) slots hold `ids` with `levels` (T, 3) int64."""
    ids: np.ndarray
    levels: np.ndarray
    cache: object
    last_logits: torch.Tensor | None = None     # (V,) after ids[-1]

    def nbytes(self) -> int:
        return cache_nbytes(self.cache) + self.ids.nbytes + self.levels.nbytes


def common_prefix(ids_a: np.ndarray, lev_a: np.ndarray, ids_b: np.ndarray, lev_b: np.ndarray) -> int:
    """Length of the longest common prefix of two (ids (T,), levels (T, 3)) sequences."""
    n = min(len(ids_a), len(ids_b))
    same = (ids_a[:n] == ids_b[:n]) & (lev_a[:n] == lev_b[:n]).all(-1)
    diff = np.flatnonzero(~same)
    return int(diff[0]) if len(diff) else n


class PrefixCache:
    """Prefix states by key (e.g. a document URI and prompt kind), least recently used first
    out once their bytes pass `max_bytes`. `stats` counts reused and computed prompt tokens;
    `last` holds (reused, computed) of the most recent prefill."""

    def __init__(self, max_bytes: int = 256 << 20):
        self.max_bytes = max_bytes
        self.states: collections.OrderedDict[str, PrefixState] = collections.OrderedDict()
        self.lock = threading.Lock()
        self.stats = {"hits": 0, "misses": 0, "reused_tokens": 0, "computed_tokens": 0, "evicted": 0}
        self.last = (0, 0)

    def get(self, key: str) -> PrefixState | None:
        with self.lock:
            state = self.states.pop(key, None)            # taken out: its cache is written to next
        return state

    def peek(self, key: str) -> PrefixState | None:
        """The state under `key`, left in place (None while a request holds it)."""
        with self.lock:
            return self.states.get(key)

    def put(self, key: str, state: PrefixState) -> None:
        with self.lock:
            self.states[key] = state
            self.states.move_to_end(key)
            total = sum(s.nbytes() for s in self.states.values())
            while total > self.max_bytes and len(self.states) > 1:
                _, old = self.states.popitem(last=False)
                total -= old.nbytes()
                self.stats["evicted"] += 1

    def invalidate(self, key_prefix: str) -> int:
        """Drop every state whose key starts with `key_prefix` (a closed document)."""
        with self.lock:
            gone = [k for k in self.states if k.startswith(key_prefix)]
            for k in gone:
                del self.states[k]
        return len(gone)

    def nbytes(self) -> int:
        with self.lock:
            return sum(s.nbytes() for s in self.states.values())

    def note(self, reused: int, computed: int) -> None:
        with self.lock:
            self.stats["hits" if reused else "misses"] += 1
            self.stats["reused_tokens"] += reused
            self.stats["computed_tokens"] += computed
            self.last = (reused, computed)


def _cloned(value):
    """A memo value with every tensor in it copied (decode steps write some in place)."""
    if isinstance(value, torch.Tensor):
        return value.clone()
    if isinstance(value, (tuple, list)):
        return type(value)(_cloned(v) for v in value)
    return value


def fork_cache(model, cache, n: int):
    """A new batch-1 cache of the same size whose first `n` slots (and the memo kept for them:
    pooled block keys, the hierarchy's running unit sums) are copies of `cache`'s: a second row
    that decodes on from the same prompt (`generate`'s `best_of`) without prefilling it again.
    The slots after `n` are left unwritten (the row's own steps write them before reading)."""
    out = model.new_cache(1, cache.max_len, getattr(cache.layers[0], "kv_dtype", None))
    for dst, src in zip(_kv_caches(out), _kv_caches(cache)):
        if src.buffers is None:
            continue
        dst.buffers = []
        for buf in src.buffers:
            new = buf.new_empty(buf.shape)
            new.narrow(1, 0, n).copy_(buf.narrow(1, 0, n))
            dst.buffers.append(new)
        dst.memo = {k: _cloned(m) for k, m in src.memo.items() if m[0] <= n}
    return out


def _levels_array(levels, n: int) -> np.ndarray:
    if levels is None:
        return np.zeros((n, 3), dtype=np.int64)
    arr = np.asarray(levels.cpu() if isinstance(levels, torch.Tensor) else levels, dtype=np.int64).reshape(-1, 3)
    return arr[-n:]


TAIL_AS_ROWS = 16   # a reused prefix's tail of 2..this many tokens (typing) runs as `prefill_tails`' rows:
                    # one row's tail after 1,400 cached tokens, shipped int8 r1-tiny, thread CPU, min of 7,
                    # two alternated runs (load ~4.4): 2 tokens 6.3 / 8.1 -> 4.4 / 5.1 ms, 3: 8.0 / 8.5 ->
                    # 5.2 / 5.1, 8: 14.2 / 12.4 -> 7.6 / 7.8, 16: 14.7 / 14.4 -> 9.1 / 9.9; 32: mixed
                    # (21.2 / 15.0 vs 16.2 / 22.6); 1 token: the prefill's own 1-row path (3.6-4.2 either way)


@torch.no_grad()
def prefill_row(model, ids: Sequence[int], levels=None, *, state: PrefixState | None = None,
                max_len: int | None = None) -> tuple[PrefixState, torch.Tensor, int]:
    """Prefill one prompt (batch 1) into a static cache of `max_len` slots (default the model's
    max_seq_len), reusing `state` for the common prefix. Returns (new state, last logits (V,),
    reused token count). `state`'s cache is written to (it becomes the new state's). A short
    tail after the reused prefix (typing) runs through the decode kernels (`TAIL_AS_ROWS`)."""
    dev = next(model.parameters()).device
    max_len = max_len or model.cfg.max_seq_len
    ids_np = np.asarray(list(ids), dtype=np.int64)
    lev_np = _levels_array(levels, len(ids_np))
    n = len(ids_np)
    reuse = 0
    if state is not None and state.cache.max_len >= max_len:
        reuse = common_prefix(state.ids, state.levels, ids_np, lev_np)
        if reuse == n and state.last_logits is not None and len(state.ids) == n:
            return PrefixState(ids_np, lev_np, state.cache, state.last_logits), state.last_logits, n
        reuse = min(reuse, n - 1)
    if reuse > 0 and 2 <= n - reuse <= TAIL_AS_ROWS and row_caches(model):
        done = prefill_tails(model, [ids_np], [lev_np], [state], max_tail=TAIL_AS_ROWS)
        if done:
            return done[0]
    cache = state.cache if reuse > 0 else model.new_cache(1, max_len)
    x = torch.as_tensor(ids_np[reuse:], device=dev)[None]
    lv = torch.as_tensor(lev_np[reuse:], device=dev)[None]
    logits = prefill(model, cache, x, lv, start_pos=reuse)[0].float()
    return PrefixState(ids_np, lev_np, cache, logits), logits, reuse


def stack_left_padded(model, states: Sequence[PrefixState], extra: int):
    """One batch cache holding each row's prefix right-aligned at slot T = the longest prefix
    (rows shorter by p have p pad slots first; integer buffers, the hierarchy's unit ids, get
    -1 there), with `extra` free slots after T. Returns (cache, T, pad_len (B,) long)."""
    lengths = [len(s.ids) for s in states]
    T = max(lengths)
    batch = _left_padded(model, [s.cache for s in states], lengths, lengths, T, extra)
    dev = states[0].last_logits.device if states[0].last_logits is not None else "cpu"
    return batch, T, torch.tensor([T - n for n in lengths], device=dev)


def _left_padded(model, caches, lengths: Sequence[int], copied: Sequence[int], T: int, extra: int):
    """A batch cache of T + `extra` slots where row b's prompt (`lengths[b]` tokens) ends at slot T:
    pad slots first (-1 in integer buffers, 0 in float ones), then the first `copied[b]` slots
    of row b's own cache (`caches[b]`, batch size 1); the slots after those are left unwritten
    (the caller's forward writes them before they are read)."""
    B = len(caches)
    batch = model.new_cache(B, T + extra)
    for dst, *srcs in zip(_kv_caches(batch), *[_kv_caches(c) for c in caches]):
        first = next(c for c in srcs if c.buffers is not None)
        dst.buffers = []
        for j, buf in enumerate(first.buffers):
            fill = -1 if not buf.dtype.is_floating_point else 0
            out = buf.new_empty((B, T + extra, *buf.shape[2:]))
            for b, (src, n, k) in enumerate(zip(srcs, lengths, copied)):
                out[b, :T - n].fill_(fill)
                out[b, T - n:T - n + k] = src.buffers[j][0, :k]
            dst.buffers.append(out)
    return batch


@torch.no_grad()
def decode_rows(model: R1Model, caches: Sequence[ModelCache], tokens, positions: Sequence[int], level_ids=None,
                logits: bool = True) -> torch.Tensor | None:
    """One new token per row (B,), row b at slot positions[b] of its OWN batch-1 cache caches[b]
    (nothing copied into a batch cache), level ids (B, 1, 3) -> logits (B, V); with logits=False
    the trunk only (None). An R1Model only (`row_caches`)."""
    if not logits:
        model.trunk(tokens[:, None], level_ids, cache=list(caches), start_pos=list(positions))
        return None
    return model(tokens[:, None], level_ids, cache=list(caches), start_pos=list(positions)).logits[:, -1]


def row_caches(model) -> bool:
    """Whether `model` decodes a batch on the rows' own caches (`decode_rows`); others (the
    DeepSeek network) stack them left-padded (`stack_left_padded`)."""
    return isinstance(model, R1Model)


@torch.no_grad()
def prefill_tails(model, prompts, levels, olds: Sequence[PrefixState | None], max_tail: int = 64):
    """Prompts whose prefix states (`olds`, batch-1 caches) hold all but a short tail (clients who
    typed), prefilled together without copying any cache: every row's tail tokens are rows of one
    `decode_rows`-style forward (`_tail_forward`), each at its own slot of its row's cache, a
    row's tokens in order (its cache written slot by slot as its own steps would: each sees the
    ones before it), so a forward takes several tokens of every row and tails of any lengths
    together. A forward takes at most `SMALL_M` tokens (the decode kernels' rows) and, of a row,
    only tokens within one key block (`_tail_pieces`): more run as further forwards. Returns
    {row index: (state, last logits (V,), reused)} for the rows this applies to: a state whose
    cache holds max_seq_len slots, a tail of at most `max_tail` tokens after at least one
    reused; {} for none."""
    rows = {}
    for b, (p, lv, old) in enumerate(zip(prompts, levels, olds)):
        if old is None or old.cache.batch_size != 1 or old.cache.max_len < model.cfg.max_seq_len:
            continue
        ids_np = np.asarray(list(p), dtype=np.int64)
        lev_np = _levels_array(lv, len(ids_np))
        reuse = min(common_prefix(old.ids, old.levels, ids_np, lev_np), len(ids_np) - 1)
        if reuse >= 1 and len(ids_np) - reuse <= max_tail:
            rows[b] = (ids_np, lev_np, reuse)
    if not rows:
        return {}
    from model.quantize import SMALL_M
    dev = next(model.parameters()).device
    pieces = {b: _tail_pieces(r[2], len(r[0]), model.cfg.key_block, SMALL_M) for b, r in rows.items()}
    last: dict = {}
    while any(pieces.values()):
        taken, n = [], 0                                  # (row, slots) of this forward, rows in order
        for b, todo in pieces.items():
            if todo and n + len(todo[0]) <= SMALL_M:
                taken.append((b, todo.pop(0)))
                n += len(taken[-1][1])
        ids = np.concatenate([rows[b][0][sl] for b, sl in taken])
        lev = np.concatenate([rows[b][1][sl] for b, sl in taken])
        slots = [t for _, sl in taken for t in sl]
        caches = [olds[b].cache for b, sl in taken for _ in sl]
        ends, at = [], -1                                 # rows whose last token is in this forward
        for b, sl in taken:
            at += len(sl)
            if not pieces[b]:
                ends.append((b, at))
        logits = _tail_forward(model, caches, torch.as_tensor(ids, device=dev), slots,
                               torch.as_tensor(lev, device=dev)[:, None], [i for _, i in ends])
        for j, (b, _) in enumerate(ends):
            last[b] = logits[j]
    return {b: (PrefixState(ids_np, lev_np, olds[b].cache, last[b]), last[b], reuse)
            for b, (ids_np, lev_np, reuse) in rows.items()}


def _tail_pieces(start: int, end: int, block: int, most: int) -> list[list[int]]:
    """Slots start..end-1 of one row's tail in pieces for `prefill_tails`' forwards: at most `most`
    slots each and each within one key block (a step's pooled block keys cover the complete
    blocks before its block: those of a later piece's slots must be written before it runs)."""
    out, t = [], start
    while t < end:
        stop = min(end, (t // block + 1) * block, t + most)
        out.append(list(range(t, stop)))
        t = stop
    return out


def _tail_forward(model: R1Model, caches, tokens, slots: Sequence[int], level_ids, ends: Sequence[int]):
    """One forward of tail tokens (N,) at `slots` of their rows' own batch-1 `caches` (a row's
    cache listed once per token, its tokens in slot order), level ids (N, 1, 3) -> the logits
    (len(ends), V) float32 of the tokens `ends` only (the head runs on those rows alone)."""
    from model.hierarchy import rms_norm
    h, _ = model.trunk(tokens[:, None], level_ids, cache=list(caches), start_pos=list(slots))
    if not ends:
        return None
    h = h[torch.as_tensor(ends, device=h.device)] if len(ends) < h.size(0) else h
    return model.head(rms_norm(model.norm, h))[:, -1].float()
