"""W8A8 for many rows (a prefill) on CPU: per-token int8 activations, `torch._int_mm`, and the
elementwise work around it as one compiled pass each (model/w8a8_rows.c, built by model.native;
the ATen ops where it does not build, with the same values).

  quant_rows(x)          -> x_q (M, K) int8, s (M,) float: s = max(max|x|, 1e-12) / 127 per row
  int8_mm(x_q, s, w, sw) -> (M, N) float: (x_q @ w^T) scaled back per row and output channel
  experts_w8a8(...)      the routed experts of many tokens: each token's row quantized once (not
                         once per expert it goes to), each expert's two GEMMs on its rows (W1|W3
                         then W2), the SwiGLU between them re-quantized per row in one pass, the
                         weighted sum into each token's output in one pass.
Every value equals what the Int8Linear modules compute (`model.quantize._w8a8`), up to float
rounding of the SwiGLU's exp: a row's scale depends on that row only.
"""
from __future__ import annotations

import ctypes

import torch

from model import native

_P, _L = ctypes.c_void_p, ctypes.c_long
_SIGS = {"quant_rows": [_L, _L, _P, _L, _P, _P], "dequant_rows": [_L, _L, _P, _P, _P, _P],
         "swiglu_quant": [_L, _P, _L, _P, _P, _P, _P, _P, _P],
         "scatter_rows": [_L, _P, _L, _P, _P, _P, _P, _P, _P],
         "mm_rows_vnni": [_L, _L, _L, _P, _P, _P, _P, _P, _P]}
_fns: dict = {}


def _fn(name: str):
    """The compiled function `name` of model/w8a8_rows.c, or None (no compiler, another build)."""
    if name not in _fns:
        lib = native.library()
        f = getattr(lib, name, None) if lib is not None else None
        if f is not None:
            f.argtypes, f.restype = _SIGS[name], ctypes.c_int
        _fns[name] = f
    return _fns[name]


def status() -> str:
    """How a prefill's W8A8 runs here (`r1lsp doctor`): its passes compiled, or ATen ops."""
    if all(_fn(n) is not None for n in _SIGS):
        return "quantize / scale-back passes and int8 experts compiled"
    return f"ATen ops ({native.status()})"


def _native_ok(*ts: torch.Tensor) -> bool:
    return all(t.device.type == "cpu" for t in ts)


def quant_rows(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """x (M, K) -> x_q (M, K) int8, s (M,) float32 with x ~ x_q * s[:, None] (per-row absmax)."""
    f = _fn("quant_rows")
    if f is not None and x.dtype == torch.float32 and _native_ok(x) and x.stride(-1) == 1:
        M, K = x.shape
        q = torch.empty(M, K, dtype=torch.int8)
        s = torch.empty(M, dtype=torch.float32)
        f(M, K, x.data_ptr(), x.stride(0), q.data_ptr(), s.data_ptr())
        return q, s
    return quant_rows_aten(x)


def quant_rows_aten(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """`quant_rows` as ATen ops (any device and dtype; the same values)."""
    s = x.abs().amax(dim=1, keepdim=True).float().clamp_min(1e-12) / 127.0
    return (x.float() / s).round().clamp(-127, 127).to(torch.int8), s[:, 0]


def dequant_(acc: torch.Tensor, s_rows: torch.Tensor, s_cols: torch.Tensor) -> torch.Tensor:
    """acc (M, N) int32 -> (float(acc) * s_rows[:, None]) * s_cols, in acc's memory where compiled."""
    f = _fn("dequant_rows")
    if (f is not None and acc.is_contiguous() and s_rows.dtype == s_cols.dtype == torch.float32
            and _native_ok(acc) and s_rows.is_contiguous() and s_cols.is_contiguous()):
        M, N = acc.shape
        f(M, N, acc.data_ptr(), s_rows.data_ptr(), s_cols.data_ptr(), acc.data_ptr())
        return acc.view(torch.float32)
    return acc.float() * s_rows[:, None] * s_cols


def int8_mm(x_q: torch.Tensor, s_x: torch.Tensor, w: torch.Tensor, s_w: torch.Tensor) -> torch.Tensor:
    """x_q (M, K) int8 with row scales s_x (M,), w (N, K) int8 with channel scales s_w (N,) -> (M, N)."""
    return dequant_(torch._int_mm(x_q, w.t()), s_x, s_w)


def rows_mm(lin, x: torch.Tensor) -> torch.Tensor | None:
    """A W8A8 Int8Linear (no bias) on a few rows x (M <= 16, K) float32, as two compiled calls
    (`quant_rows`, then `mm_rows_vnni`: AVX-512 VNNI, up to 4 rows sharing each weight load)
    instead of ~12 ATen ops: exactly `quantize._w8a8`'s values (the int32 sums are exact, the
    scaling back the same two products). None where it does not apply (no such build, another
    shape or dtype): the caller runs the ATen ops."""
    f = _fn("mm_rows_vnni")
    M, K = x.shape
    N = lin.weight_int8.size(0)
    if (f is None or _fn("quant_rows") is None or M > 16 or K % 4 or N % 64 or x.dtype != torch.float32
            or not _native_ok(x) or x.stride(-1) != 1 or lin.weight_scale.dtype != torch.float32):
        return None
    wv, csum, sw = _vnni_weights(lin)
    x_q, s_x = quant_rows(x)
    out = torch.empty(M, N, dtype=torch.float32)
    ok = f(M, K, N, x_q.data_ptr(), wv.data_ptr(), csum.data_ptr(), s_x.data_ptr(), sw.data_ptr(), out.data_ptr())
    return out if ok == 0 else None


def _vnni_weights(lin) -> tuple:
    """(the int8 weight (N, K) laid out (K/4, N, 4), 128 * its row sums int32 (N,), its scales
    contiguous) for `mm_rows_vnni`, kept on the module while its buffers are the same (+N*K bytes:
    the 8192x256 head, 2 MB)."""
    w, sw = lin.weight_int8, lin.weight_scale
    kept = lin.__dict__.get("_vnni")
    if kept is None or kept[0] is not w or kept[1] != w._version or kept[2] is not sw or kept[3] != sw._version:
        N, K = w.shape
        wv = w.view(N, K // 4, 4).permute(1, 0, 2).contiguous()
        csum = (w.sum(1, dtype=torch.int32) * 128).contiguous()
        kept = lin.__dict__["_vnni"] = (w, w._version, sw, sw._version, (wv, csum, sw.contiguous()))
    return kept[4]


def expert_weights(experts):
    """[(w13 int8 (2h, d), s13 (2h,), w2 int8 (d, h), s2 (d,))] of `experts` when every one is an
    Expert of bias-free W8A8 Int8Linears whose prefill kernel is "w8a8", else None."""
    from model.quantize import Int8Linear
    out = []
    for e in experts:
        w13 = e.joined_w13() if hasattr(e, "joined_w13") else None
        w2 = getattr(e, "w2", None)
        if not (isinstance(w13, Int8Linear) and isinstance(w2, Int8Linear)):
            return None
        for m in (w13, w2):
            if m.bias is not None or not m.act_int8 or (getattr(m, "kernels", None) or ("", "w8a8"))[1] != "w8a8":
                return None
        out.append((w13.weight_int8, w13.weight_scale, w2.weight_int8, w2.weight_scale))
    return out


def experts_w8a8(packs, x: torch.Tensor, weights: torch.Tensor, indices: torch.Tensor) -> torch.Tensor | None:
    """`model.experts.dispatch` of int8 experts (`expert_weights`) for many rows: x (N, d) float32,
    weights / indices (N, k) -> (N, d); None where the compiled passes are missing (the modules
    then run)."""
    fns = [_fn(n) for n in ("quant_rows", "swiglu_quant", "scatter_rows")]
    if None in fns or x.dtype != torch.float32 or not _native_ok(x):
        return None
    N, d = x.shape
    k = indices.size(1)
    flat = indices.flatten()
    order = flat.argsort()
    counts = torch.bincount(flat, minlength=len(packs)).tolist()
    tokens = order // k                                                           # slots by expert
    x_q, s_x = quant_rows(x.contiguous())
    xs, sxs = x_q[tokens], s_x[tokens]
    h = packs[0][2].size(1)
    spans, a = [], 0
    for e, n in enumerate(counts):
        if n:
            spans.append((e, a, a + n))
            a += n
    R = a
    acc = torch.empty(R, 2 * h, dtype=torch.int32)
    for e, a, b in spans:
        torch._int_mm(xs[a:b], packs[e][0].t(), out=acc[a:b])
    bounds = (ctypes.c_long * (len(spans) + 1))(*([s[1] for s in spans] + [R]))
    s13 = (ctypes.c_long * len(spans))(*[packs[e][1].data_ptr() for e, _, _ in spans])
    s2 = (ctypes.c_long * len(spans))(*[packs[e][3].data_ptr() for e, _, _ in spans])
    gq = torch.empty(R, h, dtype=torch.int8)
    sg = torch.empty(R, dtype=torch.float32)
    tmp = torch.empty(h, dtype=torch.float32)
    fns[1](len(spans), bounds, h, acc.data_ptr(), sxs.data_ptr(), s13, gq.data_ptr(), sg.data_ptr(), tmp.data_ptr())
    acc2 = torch.empty(R, d, dtype=torch.int32)
    for e, a, b in spans:
        torch._int_mm(gq[a:b], packs[e][2].t(), out=acc2[a:b])
    w = weights.reshape(-1)[order].float().contiguous()
    out = torch.zeros(N, d, dtype=torch.float32)
    fns[2](len(spans), bounds, d, acc2.data_ptr(), sg.data_ptr(), s2, w.data_ptr(), tokens.data_ptr(), out.data_ptr())
    return out

