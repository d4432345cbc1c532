"""The trainer's bf16 fast path for the routed experts (`model/train.py`, `--moe gmm`).

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
(`_blocks` with the gate loss: masked SDPA per query chunk) runs on fp32 q, k, v. On these cores
torch's CPU flash-attention kernel measured 38 ms in fp32 against 52 ms in bf16 for one layer's
forward + backward at 16 x 256 tokens (thread CPU time), and the whole step 1.15x faster; the
gate loss takes q and k in fp32 anyway. The projections around it stay bf16.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from model.attention import SparseAttention
from model.experts import MoE


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


def use_train_moe(model: torch.nn.Module, compile_mode: str, device: torch.device) -> str:
    """Swap every `MoE` of `model` for `TrainMoE` and pick its function: inductor-compiled where
    `compile_mode` allows and a forward + backward smoke test matches eager, else eager.
    Returns what runs, for the log."""
    fn, how = moe_train, "eager"
    if compile_mode != "off":
        try:
            fn = torch.compile(moe_train, dynamic=False)
            _smoke(fn, device)
            how = "inductor"
        except Exception as e:                                     # no compiler, unsupported op, ...
            if compile_mode == "on":
                raise
            fn, how = moe_train, f"eager ({type(e).__name__}: {str(e).splitlines()[0][:100] if str(e) else ''})"
    else:
        how = "eager (--compile off)"
    for m in model.modules():
        if isinstance(m, MoE):
            m.__class__ = TrainMoE
            m.fn = fn
    return how


def _smoke(fn, device):
    """fn on a tiny layer (8 experts of 16 -> 32, top-2) matches eager moe_train, forward and backward."""
    g = torch.Generator().manual_seed(0)
    E, d, h, N = 8, 16, 32, 24
    x = torch.randn(N, d, generator=g).to(device)
    ws = [[(torch.randn(*s, generator=g) * 0.2).to(device).requires_grad_() for _ in range(E)]
          for s in ((h, d), (h, d), (d, h))]
    gw = (torch.randn(E, d, generator=g) * 0.5).to(device).requires_grad_()
    outs = []
    for f in (fn, moe_train):
        y, bal, _, _ = f(x, gw, *ws, 2)
        grads = torch.autograd.grad(y.float().square().sum() + bal, [ws[0][0], ws[2][1], gw])
        outs.append((y.float(), *grads))
    for got, want in zip(*outs):
        if not torch.allclose(got, want, rtol=2e-2, atol=2e-2):
            raise RuntimeError("compiled expert layer differs from eager")


class TrainAttention(SparseAttention):
    """`SparseAttention` whose training attention core (`_blocks` with the gate loss) runs in fp32."""

    def _blocks(self, q, k, v, iq, iw, ik, start_pos, pad_len, want_gate_loss, chunk_elems: int = 1 << 22):
        if want_gate_loss and q.dtype == torch.bfloat16:
            q, k, v = q.float(), k.float(), v.float()
        return super()._blocks(q, k, v, iq, iw, ik, start_pos, pad_len, want_gate_loss, chunk_elems)


def use_fp32_attention_core(model: torch.nn.Module) -> str:
    """Swap every `SparseAttention` of `model` for `TrainAttention`. Returns the log's words."""
    for m in model.modules():
        if type(m) is SparseAttention:
            m.__class__ = TrainAttention
    return "fp32"
