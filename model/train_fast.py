"""The trainer's bf16 CPU fast paths (`model/train.py`): the routed experts (`--moe gmm`), the
attention core, projections and hierarchy of a training window, compiled where inductor builds.

`MoE.forward` under bf16 autocast runs the experts as `torch.bmm` over groups padded to the
largest group (`model.experts.grouped_dispatch`), on weights stacked and cast every step by
separate ops. On the AVX512-BF16 cores of session 7 (torch 2.13, 1 thread) a profile of one
r1-tiny step showed the padded rows (the largest group was 2.8x the mean at initialisation), the
weight cat / stack / casts and the bf16 SwiGLU passes (silu, its backward, the products: torch's
bf16 elementwise kernels convert per element) taking more time than the expert GEMMs themselves.

`moe_train` is the same layer with the padding gone and the elementwise work fused:
  - one `F.grouped_mm` per projection over the slots sorted by expert (jagged groups, offsets;
    no padding), w1 | w3 joined;
  - the routing, the load-balancing term, the gather / weighted scatter-add and the weights'
    cat + bf16 cast inside one function that `torch.compile` (inductor) fuses where it builds
    (a forward + backward smoke test against eager at set-up; eager otherwise, said in the log).
The values are those of `MoE.forward` under bf16 autocast (the same routing in fp32 softmax,
bf16 operands, fp32 accumulation); the expert sum per token runs in expert order as there.

`TrainMoE` swaps in for `MoE` (same parameters and state dict) and takes this path only while
gradients are on; evaluation and generation run `MoE.forward` unchanged.

`TrainAttention` does the same for `SparseAttention`: the training forward's attention core
(`_blocks` with the gate loss: masked SDPA per query chunk, then the gate loss recomputing q.k in
fp32) runs as `attend_chunk`: the fp32 scores q.k computed once serve the masked softmax and the
gate loss's dense target, the softmaxes and the KL fused by inductor. On these cores torch's CPU
flash-attention kernel took 52 ms in bf16 (38 in fp32) for one layer's forward + backward at
16 x 256 tokens; the whole step, alternated (thread CPU time): bf16 flash -> fp32 flash 1.05-1.07x,
fp32 flash -> `attend_chunk` compiled 1.14x. The projections around it stay bf16: `project`
(q, k, v with RoPE and the indexer's projection, one function of tensors compiled once for all
layers) and the hierarchy's forward (`TrainHierarchy`) are compiled too (1.07-1.12x the step).
Every compiled function passed a forward + backward smoke test against its eager self first.
"""
from __future__ import annotations

import functools

import torch
import torch.nn.functional as F

from model.attention import Indexer, SparseAttention
from model.hierarchy import Hierarchy
from model.key_selection import key_masks, select_keys
from model.experts import MoE
from model.rope import apply_rope, rope_angles


def moe_train(x, gate_w, w1s: list, w3s: list, w2s: list, k: int):
    """x (N, d) -> y (N, d) in x's dtype, balance (scalar fp32), weights (N, k) bf16, indices (N, k).
    w1s / w3s (E x (h, d)), w2s (E x (d, h)): the experts' fp32 weights (gradients flow back)."""
    bf = torch.bfloat16
    E, h = len(w1s), w1s[0].size(0)
    w13 = torch.cat([w for pair in zip(w1s, w3s) for w in pair]).view(E, 2 * h, -1).to(bf)  # (E, 2h, d)
    w2 = torch.stack(w2s).to(bf)                                                            # (E, d, h)
    xb = x.to(bf)
    probs = F.linear(xb, gate_w.to(bf)).float().softmax(dim=-1)                             # (N, E)
    weights, indices = probs.topk(k, dim=-1)
    weights = weights / weights.sum(dim=-1, keepdim=True)
    flat = indices.flatten()                                                                # (N*k,)
    order = flat.argsort(stable=True)                                                       # slots by expert
    counts = torch.zeros(E, dtype=torch.long, device=x.device).scatter_add_(0, flat, torch.ones_like(flat))
    offs = counts.cumsum(0).to(torch.int32)
    tokens = order // k
    a, b = F.grouped_mm(xb[tokens], w13.transpose(1, 2), offs=offs).chunk(2, dim=-1)       # (N*k, h) each
    y = F.grouped_mm(F.silu(a) * b, w2.transpose(1, 2), offs=offs)                        # (N*k, d)
    y = y * weights.reshape(-1, 1)[order].to(bf)
    out = torch.zeros_like(x).index_add(0, tokens, y.to(x.dtype))
    balance = E * (counts.float() / flat.numel() * probs.mean(0)).sum()                    # Switch: E sum f_i P_i
    return out, balance, weights.to(bf), indices


class TrainMoE(MoE):
    """`MoE` whose training forward (gradients on, balance wanted) is `moe_train` (`fn`: the
    compiled or the eager function); every other call is `MoE.forward`."""
    fn = staticmethod(moe_train)

    def forward(self, x: torch.Tensor, want_balance: bool = True):
        if not (want_balance and torch.is_grad_enabled()):
            return super().forward(x, want_balance)
        B, T, d = x.shape
        ex = list(self.experts)
        y, balance, weights, indices = self.fn(x.reshape(-1, d), self.gate.weight, [e.w1.weight for e in ex],
                                               [e.w3.weight for e in ex], [e.w2.weight for e in ex], self.gate.topk)
        k = indices.size(-1)
        return y.view(B, T, d), balance, (weights.view(B, T, k), indices.view(B, T, k))


def gmm_available() -> bool:
    return hasattr(F, "grouped_mm")


def compile_checked(fn, smoke, compile_mode: str, device: torch.device):
    """(fn compiled with inductor, "inductor") when `compile_mode` allows and `smoke`(compiled,
    eager, device) passes (forward + backward match eager), else (fn, "eager (<why>)")."""
    if compile_mode == "off":
        return fn, "eager (--compile off)"
    try:
        cf = torch.compile(fn, dynamic=False)
        smoke(cf, fn, device)
        return cf, "inductor"
    except Exception as e:                                     # no compiler, unsupported op, ...
        if compile_mode == "on":
            raise
        return fn, f"eager ({type(e).__name__}: {str(e).splitlines()[0][:100] if str(e) else ''})"


def use_train_moe(model: torch.nn.Module, compile_mode: str, device: torch.device) -> str:
    """Swap every `MoE` of `model` for `TrainMoE` and pick its function: inductor-compiled where
    `compile_mode` allows and a forward + backward smoke test matches eager, else eager.
    Returns what runs, for the log."""
    fn, how = compile_checked(moe_train, _smoke, compile_mode, device)
    for m in model.modules():
        if isinstance(m, MoE):
            m.__class__ = TrainMoE
            m.fn = fn
    return how


def _smoke(fn, eager, device):
    """fn on a tiny layer (8 experts of 16 -> 32, top-2) matches eager, forward and backward."""
    g = torch.Generator().manual_seed(0)
    E, d, h, N = 8, 16, 32, 24
    x = torch.randn(N, d, generator=g).to(device)
    ws = [[(torch.randn(*s, generator=g) * 0.2).to(device).requires_grad_() for _ in range(E)]
          for s in ((h, d), (h, d), (d, h))]
    gw = (torch.randn(E, d, generator=g) * 0.5).to(device).requires_grad_()
    outs = []
    for f in (fn, eager):
        y, bal, _, _ = f(x, gw, *ws, 2)
        grads = torch.autograd.grad(y.float().square().sum() + bal, [ws[0][0], ws[2][1], gw])
        outs.append((y.float(), *grads))
    for got, want in zip(*outs):
        if not torch.allclose(got, want, rtol=2e-2, atol=2e-2):
            raise RuntimeError("compiled expert layer differs from eager")


def attend_chunk(q, k, v, keep, visible, index_scores):
    """One query chunk's attention and gate loss, as `SparseAttention._blocks` and `_gate_loss`
    compute them, in 4 GEMMs: q (B, C, H, D), k / v (B, S, H, D) bf16 or fp32, keep / visible
    (B|1, C, S) bool, index_scores (B, C, S) -> y (B, C, H*D) in v's dtype, KL (scalar).
    The scores q.k are fp32 (fp32 operands, as the gate loss's target always took them) and
    serve both the masked softmax of the attention and the gate loss's dense target; the
    probabilities meet v in fp32 too (as the fp32 flash kernel did: with them in bf16 the
    gradients of a peaked layer strayed further from an fp32 step's)."""
    B, C, H, D = q.shape
    with torch.autocast(q.device.type, enabled=False):
        s = torch.einsum("bthd,bshd->bhts", q.float(), k.float()) * D ** -0.5        # (B, H, C, S)
        a = s.masked_fill(~keep[:, None], float("-inf")).softmax(-1)
        y = torch.einsum("bhts,bshd->bthd", a, v.float()).reshape(B, C, H * D).to(v.dtype)
        with torch.no_grad():
            p = s.masked_fill(~visible[:, None], float("-inf")).softmax(-1).mean(1)   # (B, C, S)
        log_g = index_scores.float().masked_fill(~visible, float("-inf")).log_softmax(-1)
        kl = (p * (p.clamp_min(1e-30).log() - log_g)).masked_fill(~visible, 0.0).sum(-1).mean()
    return y, kl


class TrainAttention(SparseAttention):
    """`SparseAttention` whose training forward (`_blocks` with the gate loss over a whole window:
    no cache, no padding) runs `attend_chunk` per query chunk (the same chunks and key selection
    as `SparseAttention._blocks`); every other call is `SparseAttention`'s."""
    chunk_fn = staticmethod(attend_chunk)
    proj_fn = None                      # `project` bound to this layer, compiled where it builds

    def forward(self, x, rope, index_rope, start_pos: int = 0, pad_len=None, cache=None, want_gate_loss=False):
        if not (want_gate_loss and cache is None and pad_len is None and start_pos == 0
                and self.indexer is not None and self.proj_fn is not None):
            return super().forward(x, rope, index_rope, start_pos, pad_len, cache, want_gate_loss)
        q, k, v, iq, iw, ik = self.proj_fn(x, self.wq.weight, self.wk.weight, self.wv.weight, self.indexer.proj.weight,
                                           *rope, *index_rope, self.n_heads, self.indexer.n_heads)
        y, gate_loss = self._blocks(q, k, v, iq, iw, ik, 0, None, True)
        return self.wo(y), gate_loss

    def _blocks(self, q, k, v, iq, iw, ik, start_pos, pad_len, want_gate_loss, chunk_elems: int = 1 << 22):
        B, T, H, D = q.shape
        if not (want_gate_loss and start_pos == 0 and pad_len is None and k.size(1) == T):
            return super()._blocks(q, k, v, iq, iw, ik, start_pos, pad_len, want_gate_loss, chunk_elems)
        c = self.cfg
        C = min(max(1, min(T, chunk_elems // (T * iq.size(2)))), max(128, -(-T // 4)))
        out, kl = [], 0.0
        for c0 in range(0, T, C):
            c1 = min(T, c0 + C)
            scores = Indexer.score(iq[:, c0:c1], iw[:, c0:c1], ik[:, :c1])                # (B, C, c1)
            visible, local = key_masks(c0, c1 - c0, c1, c.local_window, None, q.device)
            idx, keep = select_keys(scores, visible, local, c.gate_threshold, c.attn_topk)
            mask = torch.zeros_like(scores, dtype=torch.bool).scatter_(-1, idx, keep)
            y, g = self.chunk_fn(q[:, c0:c1], k[:, :c1], v[:, :c1], mask, visible, scores)
            out.append(y)
            kl = kl + g * (c1 - c0) / T
        return (torch.cat(out, dim=1) if len(out) > 1 else out[0]), kl


def project(x, wq, wk, wv, wi, cos, sin, icos, isin, H: int, Hi: int):
    """A training forward's q, k, v (RoPE'd) and the indexer's (iq, iw, ik) from the layer's
    weights: what `SparseAttention.forward` (its unjoined branch, with gradients on) and
    `Indexer.project` compute, as one function of tensors that inductor compiles once for every
    layer (fusing the RoPE and the casts around the projections)."""
    B, T, _ = x.shape
    D, Di = cos.size(-1), icos.size(-1)
    qk = torch.cat([F.linear(x, wq).view(B, T, H, D), F.linear(x, wk).view(B, T, H, D)], 2)
    q, k = apply_rope(qk, cos, sin).split(H, dim=2)
    v = F.linear(x, wv).view(B, T, H, D)
    p = F.linear(x.detach(), wi)                                  # the indexer: q (Hi x Di), k (Di), w (Hi)
    iqk = apply_rope(p[..., :(Hi + 1) * Di].view(B, T, Hi + 1, Di), icos, isin)
    return q, k, v, iqk[:, :, :Hi] * Di ** -0.5, p[..., (Hi + 1) * Di:] * Hi ** -0.5, iqk[:, :, Hi]


class TrainHierarchy(Hierarchy):
    """`Hierarchy` whose training forward (no caches, gradients on) is `fn`: `Hierarchy.forward`
    bound to this module, compiled where it builds."""
    fn = None

    def forward(self, h, level_ids, start_pos: int = 0, caches=None):
        if caches is None and torch.is_grad_enabled() and self.fn is not None:
            return self.fn(h, level_ids)
        return super().forward(h, level_ids, start_pos, caches)


def use_train_attention(model: torch.nn.Module, compile_mode: str, device: torch.device) -> str:
    """Swap every `SparseAttention` of `model` for `TrainAttention` (its chunk function and its
    projections compiled as `use_train_moe`'s) and every `Hierarchy` for `TrainHierarchy`
    (compiled likewise). Returns the log's words."""
    fn, how = compile_checked(attend_chunk, _smoke_attention, compile_mode, device)
    compiled = how == "inductor"
    proj = None
    for m in model.modules():
        if type(m) is SparseAttention:
            m.__class__ = TrainAttention
            m.chunk_fn = fn
            if compiled and m.indexer is not None:
                if proj is None:
                    proj, _ = compile_checked(project, _smoke_module(m, "attn", device), compile_mode, device)
                m.proj_fn = proj
        elif type(m) is Hierarchy and compiled:
            hf, hier_how = compile_checked(functools.partial(Hierarchy.forward, m), _smoke_module(m, "hier", device),
                                           compile_mode, device)
            if hier_how == "inductor":
                m.__class__ = TrainHierarchy
                m.fn = hf
    return "fp32 scores, " + how


def _smoke_module(m, kind: str, device):
    """A smoke test for a compiled per-module function: its outputs and input gradient on a
    2 x 8-token input match the eager function's."""
    def smoke(fn, eager, device=device):
        g = torch.Generator().manual_seed(0)
        d = m.wq.in_features if kind == "attn" else m.norm_in.normalized_shape[0]
        x = torch.randn(2, 8, d, generator=g).to(device).requires_grad_()
        if kind == "attn":
            pos = torch.arange(8, device=device).expand(2, 8)
            args = (m.wq.weight, m.wk.weight, m.wv.weight, m.indexer.proj.weight,
                    *rope_angles(pos, m.head_dim, m.cfg.rope_theta),
                    *rope_angles(pos, m.indexer.head_dim, m.cfg.rope_theta), m.n_heads, m.indexer.n_heads)
        else:
            args = (torch.stack([torch.arange(8) // 2, torch.arange(8) // 4, torch.arange(8) // 8], -1)
                    .expand(2, 8, 3).to(device),)
        outs = []
        for f in (fn, eager):
            out = f(x, *args)
            flat = [t.float() for t in (out if kind == "attn" else (out[0], *out[1]))]
            loss = sum(t.square().sum() for t in flat if t.requires_grad)
            outs.append(flat + list(torch.autograd.grad(loss, [x])))
        for got, want in zip(*outs):
            if not torch.allclose(got, want, rtol=2e-2, atol=2e-2):
                raise RuntimeError(f"compiled {kind} differs from eager")
    return smoke


def _smoke_attention(fn, eager, device):
    g = torch.Generator().manual_seed(0)
    B, C, S, H, D = 2, 4, 8, 2, 8
    q, k, v = ((torch.randn(B, n, H, D, generator=g)).to(device).to(torch.bfloat16).requires_grad_()
               for n in (C, S, S))
    sc = torch.randn(B, C, S, generator=g).to(device).requires_grad_()
    visible = torch.ones(C, S, dtype=torch.bool, device=device).tril(S - C)[None]
    own = torch.zeros(C, S, dtype=torch.bool, device=device)
    own[torch.arange(C), torch.arange(C) + S - C] = True                        # each query keeps itself
    keep = visible & (torch.rand(B, C, S, generator=g).to(device) < 0.7) | own
    outs = []
    for f in (fn, eager):
        y, kl = f(q, k, v, keep, visible, sc)
        outs.append((y.float(), kl, *torch.autograd.grad(y.float().square().sum() + kl, [q, v, sc])))
    for got, want in zip(*outs):
        if not torch.allclose(got.float(), want.float(), rtol=2e-2, atol=2e-2):
            raise RuntimeError("compiled attention chunk differs from eager")
