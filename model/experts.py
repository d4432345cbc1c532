"""Routed experts, DeepSeek-V3 style: a Gate returning (weights, indices), SwiGLU Experts, and a
MoE that runs each expert only on the tokens routed to it (sort by expert, bincount, index_add).

Two equal ways to run the experts on their tokens:
  - `grouped_dispatch` (many tokens: training, prefill): the slots are laid out in groups padded
    to the largest group, and all experts run as two batched matmuls (`torch.bmm`) over their
    stacked weights (w1|w3 fused) -- large matrices instead of 16 x 3 small ones;
  - `dispatch` (few tokens: decode, or experts that are not plain float `nn.Linear`s, e.g.
    quantized ones): a Python loop over the experts that got tokens. Int8 experts whose decode
    kernel is int8pack (`Expert.packed`) run, for up to SMALL_M tokens, as one compiled call for
    all of them where `model.native` builds (model/experts_rows.c: float32 SwiGLU over the int8
    weights, the rows routed to an expert sharing its weight loads, each row's bits the same
    alone or batched; closer to the dequantized fp32 weights than int8pack's bf16), else that
    kernel directly: 2 kernel calls an expert and the SwiGLU once for all (the module path's
    values: `_packed_dispatch`).

The seed's sketch ran all 16 experts on every token and masked the results: 4x the work for top-4.
`MoE.dense_reference` keeps that formulation for tests and the benchmark only.
"""
from __future__ import annotations

import contextlib
import threading

import torch
import torch.nn as nn
import torch.nn.functional as F

from model import native, w8a8
from model.config import R1Config
from model.quantize import SMALL_M, concat_linears, linear_key


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

    def route(self, x: torch.Tensor):
        """`forward`'s (weights, indices) without the full softmax (inference: no balance loss), in
        3 ops: the top-k logits, softmaxed among themselves (= the top-k probabilities renormalised;
        equal up to float rounding, the same experts)."""
        logits = F.linear(x, self.weight)                                          # (N, E)
        top = (logits if logits.dtype == torch.float32 else logits.float()).topk(self.topk, dim=-1)
        weights = top.values.softmax(dim=-1)                                       # (N, k)
        return (weights if weights.dtype == x.dtype else weights.to(x.dtype)), top.indices


class Expert(nn.Module):
    """SwiGLU feed-forward."""
    # inference runs w1 | w3 as one matmul (`joined_w13`) for 2+ rows (a batch, a prefill); one row
    # (batch-1 decode) measured no faster joined (the weight-only int8 GEMV costs the same in halves)
    join_w13: bool = True
    # True: int8 experts whose decode kernel is int8pack call it directly (`packed`); False: through
    # their modules (the benchmark's before / after)
    direct_int8pack: bool = True
    # True: those experts of a decode step (up to SMALL_M rows) run as one compiled call where
    # `model.native` builds (model/experts_rows.c: float32 SwiGLU over the int8 weights, each row
    # the same alone or batched); False: the int8pack kernel calls
    native: bool = True
    # True: int8 experts of more than SMALL_M rows whose prefill kernel is w8a8 run as
    # `model.w8a8.experts_w8a8` (each token quantized once, the SwiGLU and the weighted sum
    # compiled passes) where `model.native` builds; False: through their modules
    w8a8_rows: bool = True

    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.w1 = nn.Linear(dim, hidden, bias=False)
        self.w2 = nn.Linear(hidden, dim, bias=False)
        self.w3 = nn.Linear(dim, hidden, bias=False)

    def forward(self, x):
        joined = None if torch.is_grad_enabled() or not self.join_w13 or x.size(0) < 2 else self.joined_w13()
        if joined is not None:                               # inference: w1 and w3 in one matmul
            a, b = joined(x).chunk(2, dim=-1)
            return self.w2(F.silu(a) * b)
        return self.w2(F.silu(self.w1(x)) * self.w3(x))

    def packed(self):
        """(w1|w3 int8 (2h, d), its scales bf16, w2 int8 (d, h), its scales bf16) where w1, w2, w3
        are bias-free Int8Linears whose decode kernel is "int8pack" (`torch._weight_int8pack_mm`),
        else None: `dispatch` then calls that kernel directly (no module calls, the input cast to
        bf16 once for all experts: the values each Int8Linear call would compute)."""
        if not self.direct_int8pack:
            return None
        fast = self.__dict__.get("_packed_state")            # a decode step asks this of every routed
        if fast is not None and _linears_unchanged(fast[0], self._modules):   # expert: a cheap check first
            return fast[1]
        w13 = self.joined_w13()
        key2 = linear_key(self.w2)
        cached = self.__dict__.get("_packed")
        if cached is None or cached[0] is not w13 or cached[1] != key2:
            ok = (w13 is not None and key2 is not None and key2[0] == "int8"
                  and w13.__dict__.get("kernels", ("",))[0] == "int8pack"
                  and self.w2.__dict__.get("kernels", ("",))[0] == "int8pack")
            packed = (w13.weight_int8, w13._scale_bf16(), self.w2.weight_int8, self.w2._scale_bf16(),
                      w13.weight_scale.float().contiguous(), self.w2.weight_scale.float().contiguous(),
                      w13.weight_int8.t().contiguous(), self.w2.weight_int8.t().contiguous()) if ok else None
            if packed is not None:                   # + the compiled call's 4 pointers (`native.run_experts`)
                packed += (tuple(packed[i].data_ptr() for i in (6, 4, 7, 5)),)
            cached = self.__dict__["_packed"] = (w13, key2, packed)
        self.__dict__["_packed_state"] = (_linears_state(self._modules), cached[2])
        return cached[2]

    def joined_w13(self) -> nn.Module | None:
        """w1 | w3 as one Linear for inference (`concat_linears`), rebuilt when a weight changes
        (None where they cannot be joined). Kept outside the module tree, as `fused_projection`."""
        key = (linear_key(self.w1), linear_key(self.w3))
        cached = self.__dict__.get("_w13")
        if cached is None or cached[0] != key:
            cached = self.__dict__["_w13"] = (key, None if None in key else concat_linears([self.w1, self.w3]))
        return cached[1]


_LINEARS = ("w1", "w3", "w2")


def _linears_state(mods) -> list:
    """What `Expert.packed` depends on, held to compare by identity and version: per Linear the
    module, its int8 weight and scale buffers (each with its in-place version), bias and kernels.
    (The same changes `linear_key` notices, in fewer operations: identity instead of keys.)"""
    out = []
    for name in _LINEARS:
        m = mods[name]
        b = m._buffers
        w, s = b.get("weight_int8"), b.get("weight_scale")
        out.append((m, w, None if w is None else w._version, s, None if s is None else s._version,
                    m._parameters.get("bias"), m.__dict__.get("kernels")))
    return out


def _linears_unchanged(state: list, mods) -> bool:
    for name, (m, w, wv, s, sv, bias, kernels) in zip(_LINEARS, state):
        cur = mods[name]
        if cur is not m:
            return False
        b = cur._buffers
        if b.get("weight_int8") is not w or b.get("weight_scale") is not s or cur._parameters.get("bias") is not bias:
            return False
        if (w is not None and w._version != wv) or (s is not None and s._version != sv):
            return False
        if cur.__dict__.get("kernels") != kernels:
            return False
    return True


class MoE(nn.Module):
    # True / False: always / never `grouped_dispatch`; None: grouped for >= 64 tokens computed in
    # bf16 (torch.bmm measured 1.6x the loop there on AMX cores, notes/ENVIRONMENT.md), the loop
    # in fp32 (on AVX2-only cores the loop measured as fast as or faster than bmm: bench/train_bench.py)
    grouped: bool | None = None

    def __init__(self, cfg: R1Config):
        super().__init__()
        self.n_experts = cfg.n_experts
        self.gate = Gate(cfg)
        self.experts = nn.ModuleList(Expert(cfg.d_model, cfg.expert_hidden) for _ in range(cfg.n_experts))

    def forward(self, x: torch.Tensor, want_balance: bool = True):
        """x (B, T, d) -> y (B, T, d), balance loss (scalar; None unless want_balance),
        (weights, indices) each (B, T, k)."""
        B, T, d = x.shape
        flat = x.reshape(-1, d)                                                   # (N, d)
        if not want_balance:
            weights, indices = self.gate.route(flat)
            k = indices.size(-1)
            y = self.dispatch(flat, weights, indices)
            return y.view(B, T, d), None, (weights.view(B, T, k), indices.view(B, T, k))
        weights, indices, probs = self.gate(flat)
        y = self.dispatch(flat, weights, indices)
        k = indices.size(-1)
        counts = torch.bincount(indices.flatten(), minlength=self.n_experts)      # (E,)
        frac = counts.float() / indices.numel()                                    # f_i: share of slots
        balance = self.n_experts * (frac * probs.mean(0)).sum()                   # Switch: E sum f_i P_i
        return y.view(B, T, d), balance, (weights.view(B, T, k), indices.view(B, T, k))

    def dispatch(self, x, weights, indices):
        """Each expert sees only its tokens. x (N, d), weights/indices (N, k) -> (N, d)."""
        g = self.grouped
        if g is None:
            bf16 = x.dtype == torch.bfloat16 or (torch.is_autocast_enabled(x.device.type) and
                                                 torch.get_autocast_dtype(x.device.type) == torch.bfloat16)
            g = bf16 and x.size(0) >= 64
        if g:
            w = stacked_weights(self.experts)
            if w is not None:
                return grouped_dispatch(x, weights, indices, *w)
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
    N, k = indices.shape
    if N <= SMALL_M and not torch.is_grad_enabled():
        packs = _packs(experts, indices)
        if packs is not None:
            if Expert.native:                            # every routed expert of every row: one C call
                y = native.run_experts(x, weights, indices, packs, len(experts))
                if y is not None:
                    return y
            return _packed_dispatch(packs, x, weights, indices)
    if N > SMALL_M and Expert.w8a8_rows and not torch.is_grad_enabled():
        packs = w8a8.expert_weights(experts)        # int8 experts of many rows (a prefill): one
        if packs is not None:                       # quantization a token, 2 GEMMs an expert
            y = w8a8.experts_w8a8(packs, x, weights, indices)
            if y is not None:
                return y
    if N == 1 and not torch.is_grad_enabled():      # one token (batch-1 decode): its k experts directly,
        out, mods = None, list(experts)              # summed in expert order as index_add would
        for e, w in sorted(zip(indices[0].tolist(), weights[0].tolist())):
            y = mods[e].forward(x)                   # (forward: no hooks on experts, and the module call
            out = y * w if out is None else out.add_(y, alpha=w)    # costs as much as the expert's own work)
        return out
    flat_idx = indices.flatten()                                                  # (N*k,)
    order = flat_idx.argsort()                                                    # slots grouped by expert
    counts = torch.bincount(flat_idx, minlength=len(experts)).tolist()
    tokens = order // k                                                           # (N*k,) by expert
    xs = x[tokens]                                                                # every expert's rows, once
    ys, start = [], 0
    for e, n in enumerate(counts):
        if n:
            ys.append(experts[e](xs[start:start + n]))                            # (n, d)
            start += n
    y = (torch.cat(ys) if len(ys) > 1 else ys[0]) * weights.reshape(-1, 1)[order].to(x.dtype)
    return torch.zeros_like(x).index_add_(0, tokens, y)                           # in expert order per token


class _Held(threading.local):
    packs: dict | None = None          # within `packs_held`: id(experts) -> (experts, {expert: pack})


_held = _Held()


@contextlib.contextmanager
def packs_held():
    """Within (this thread): each expert's `Expert.packed` is asked once, at its first routed step,
    and kept, instead of checked again at every step of every layer: a decode loop (model.generate)
    whose weights do not change meanwhile. The check costs ~10 us an expert inside a step (its
    module objects are out of cache by then), and an 8-row step routes to ~14 experts a layer, a
    one-row step to 4. Nested uses share the outermost's."""
    if _held.packs is not None:
        yield
        return
    _held.packs = {}
    try:
        yield
    finally:
        _held.packs = None


def _packs(experts, indices):
    """{expert: `Expert.packed`} of the experts `indices` routes to, or None if any has none."""
    out, mods = {}, list(experts)                   # (a ModuleList's [] costs as much as the check)
    held, known = _held.packs, {}                   # outside `packs_held`: asked afresh each call
    if held is not None:
        got = held.get(id(experts))
        if got is None or got[0] is not experts:
            got = held[id(experts)] = (experts, {})
        known = got[1]
    for e in sorted(set(indices.flatten().tolist())):
        p = known.get(e, False)
        if p is False:
            p = known[e] = mods[e].packed() if isinstance(mods[e], Expert) else None
        if p is None:
            return None
        out[e] = p
    return out


def _packed_dispatch(packs, x, weights, indices):
    """`dispatch` for a few rows where every routed expert is `Expert.packed` (int8 weights, the
    int8pack kernel): per expert 2 kernel calls and 5 small ops. The same values as the module
    path (bf16 inputs to each kernel, SwiGLU in fp32, outputs summed in fp32 in expert order)."""
    bf16, mm = torch.bfloat16, torch._weight_int8pack_mm
    N, k = indices.shape

    def swiglu(p, xe):
        a, b = mm(xe, p[0], p[1]).float().chunk(2, dim=-1)
        return mm((F.silu(a) * b).to(bf16), p[2], p[3])                          # (n, d) bf16

    xb = x.to(bf16)
    if N == 1:                                                                    # the token's k experts
        out = torch.zeros_like(x)
        for e, w in sorted(zip(indices[0].tolist(), weights[0].tolist())):
            out.add_(swiglu(packs[e], xb), alpha=w)
        return out
    flat_idx = indices.flatten()
    order = flat_idx.argsort()
    counts = torch.bincount(flat_idx, minlength=max(packs) + 1).tolist()
    tokens = order // k
    xs = xb[tokens]
    # each expert's two kernel calls on its slice of the slots; the SwiGLU between them once for
    # all slots (elementwise: the values each expert's own would give, in 4 ops instead of 4 each)
    spans, start = [], 0
    for e, n in enumerate(counts):
        if n:
            spans.append((packs[e], start, start + n))
            start += n
    h = torch.cat([mm(xs[a:b], p[0], p[1]) for p, a, b in spans]).float()
    g = h[:, :h.size(1) // 2]
    g = (F.silu(g) * h[:, h.size(1) // 2:]).to(bf16)
    y = torch.cat([mm(g[a:b], p[2], p[3]) for p, a, b in spans]).float() * weights.reshape(-1, 1)[order].to(x.dtype)
    return torch.zeros_like(x).index_add_(0, tokens, y)


def stacked_weights(experts):
    """(w13 (E, 2h, d), w2 (E, d, h)) stacked from plain float `Expert`s (differentiable: the
    gradients flow back to each expert's own parameters), or None when any expert is not one."""
    for e in experts:
        if not (isinstance(e, Expert) and all(type(l) is nn.Linear and l.weight.is_floating_point()
                                              for l in (e.w1, e.w2, e.w3))):
            return None
    w13 = torch.stack([torch.cat([e.w1.weight, e.w3.weight]) for e in experts])      # (E, 2h, d)
    w2 = torch.stack([e.w2.weight for e in experts])                                   # (E, d, h)
    return w13, w2


def grouped_dispatch(x, weights, indices, w13, w2):
    """`dispatch` as two batched matmuls: x (N, d), weights/indices (N, k), w13 (E, 2h, d) the
    experts' w1 and w3 stacked, w2 (E, d, h) -> (N, d). Each expert's slots form one group padded
    (with zero rows, which no token reads back) to the largest group's size."""
    N, d = x.shape
    k, E = indices.size(-1), w13.size(0)
    flat_idx = indices.flatten()                                                  # (N*k,)
    order = flat_idx.argsort(stable=True)                                         # slots grouped by expert
    counts = torch.bincount(flat_idx, minlength=E)                                # (E,)
    cap = int(counts.max())
    e_sorted = flat_idx[order]
    starts = counts.cumsum(0) - counts
    rows = e_sorted * cap + torch.arange(N * k, device=x.device) - starts[e_sorted]  # padded row of a slot
    tokens = order // k
    xs = x.new_zeros(E * cap, d).index_copy(0, rows, x[tokens]).view(E, cap, d)
    a, b = torch.bmm(xs, w13.transpose(1, 2)).chunk(2, dim=-1)                    # (E, cap, h) each
    y = torch.bmm(F.silu(a) * b, w2.transpose(1, 2))                              # (E, cap, d)
    y = y.reshape(E * cap, d)[rows] * weights.reshape(-1, 1)[order].to(y.dtype)
    return torch.zeros_like(x).index_add(0, tokens, y.to(x.dtype))

