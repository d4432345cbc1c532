"""8-bit weights: a step that swaps nn.Linear modules for int8 ones.

Paths (chosen by `mode`; "auto" picks by device):
  "bnb"  (CUDA)  bitsandbytes `Linear8bitLt(has_fp16_weights=False, threshold=6.0)` (LLM.int8);
                 the rest of the model runs in fp16. bitsandbytes is imported only here.
  "w8a8" (CPU)   `Int8Linear`: per-output-channel int8 weights, per-token int8 activations, int32
                 products by `torch._int_mm`. Per-token scales keep every row independent of its
                 batch mates, so cached decode equals a full forward.
  "w8"   (CPU fallback where `_int_mm` is missing) int8 weights converted on the fly.
The same int8 weights of a CPU `Int8Linear` can be multiplied several ways ("dequant-fp32",
"dequant-bf16", "int8pack", "w8a8"); which is fastest depends on the CPU (AMX-BF16 / VNNI /
AVX2 only) and on the number of rows, so `select_kernels(model)` times each on the model's own
shapes at decode (M=1) and prefill (M=128) and keeps the fastest; `kernel_report` names the
choice (engine log, `r1lsp doctor`, benchmarks). Measured figures: README, `bench/model_bench.py`.
Not converted: the expert router (`gate`, a Parameter) and the sparse attention `indexer`, which
make discrete choices from small projections; embeddings and norms.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch
import torch.nn as nn
import torch.nn.functional as F

from model.w8a8 import int8_mm, quant_rows, quant_rows_aten, rows_mm


class Int8Linear(nn.Module):
    """y = (x_q @ w_q^T) * s_x * s_w with w_q int8 per output channel; x_q int8 per token
    (act_int8=True) or y = x @ w_q^T * s_w with the weight dequantised on the fly (False)."""

    def __init__(self, linear: nn.Linear, act_int8: bool = True):
        super().__init__()
        self._set_weight(linear.weight.detach(), None if linear.bias is None else linear.bias.detach().clone(),
                         act_int8)

    @classmethod
    @torch.no_grad()
    def from_weight(cls, weight: torch.Tensor, bias: torch.Tensor | None = None, act_int8: bool = True,
                    rows: int = 4096) -> "Int8Linear":
        """Straight from a (N, K) weight tensor of any float dtype (a checkpoint loader's path: no
        nn.Linear, and the fp32 copy exists `rows` rows at a time, never for the whole matrix)."""
        self = cls.__new__(cls)
        nn.Module.__init__(self)
        self._set_weight(weight.detach(), None if bias is None else bias.detach().float(), act_int8, rows)
        return self

    def _set_weight(self, w: torch.Tensor, bias, act_int8: bool, rows: int = 4096) -> None:
        n_out, n_in = w.shape
        q = torch.empty(n_out, n_in, dtype=torch.int8, device=w.device)
        scale = torch.empty(n_out, dtype=torch.float32, device=w.device)
        for i in range(0, n_out, rows):
            wf = w[i:i + rows].float()                                             # (n, K)
            s = wf.abs().amax(dim=1).clamp_min(1e-12) / 127.0                      # (n,)
            q[i:i + rows] = (wf / s[:, None]).round().clamp(-127, 127).to(torch.int8)
            scale[i:i + rows] = s
        self.register_buffer("weight_int8", q)
        self.register_buffer("weight_scale", scale)
        self.bias = None if bias is None else nn.Parameter(bias)
        self.in_features, self.out_features = n_in, n_out
        self.act_int8 = act_int8

    def nbytes(self) -> int:
        """int8 weights + fp32 scales (+ bias)."""
        return sum(t.numel() * t.element_size() for t in (self.weight_int8, self.weight_scale, self.bias)
                   if t is not None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x2 = x if x.dim() == 2 else x.reshape(-1, self.in_features)               # (M, K)
        kernels = getattr(self, "kernels", None)
        if kernels is None:                                                        # the constructor's path
            y = _w8a8(self, x2) if self.act_int8 else _dequant(self, x2, x2.dtype)
        else:
            y = KERNELS[kernels[0] if x2.size(0) <= SMALL_M else kernels[1]](self, x2)
        if self.bias is not None:
            y = y + self.bias
        if y.dtype != x.dtype:
            y = y.to(x.dtype)
        return y if x.dim() == 2 else y.view(*x.shape[:-1], self.out_features)

    def _scale_bf16(self) -> torch.Tensor:
        s = getattr(self, "_scale_bf16_cache", None)
        if s is None or s.device != self.weight_scale.device:
            s = self._scale_bf16_cache = self.weight_scale.to(torch.bfloat16)
        return s


SMALL_M = 16                          # rows up to this use the "decode" kernel, more the "prefill" one


def linear_key(m: nn.Module):
    """What a Linear's output depends on (None: not a kind `concat_linears` joins): changes when
    its weights are replaced, moved or edited in place, or its int8 kernels are re-chosen."""
    t = type(m)                                     # (the module dicts directly: this runs every step)
    if t is nn.Linear and m._parameters["bias"] is None:
        w = m._parameters["weight"]
        return ("fp", id(w), w._version, w.data_ptr(), w.dtype)
    if t is Int8Linear and m._parameters.get("bias") is None:
        w, s = m._buffers["weight_int8"], m._buffers["weight_scale"]
        return ("int8", id(w), w._version, w.data_ptr(), s._version, s.data_ptr(), m.act_int8,
                m.__dict__.get("kernels"))
    return None


@torch.no_grad()
def concat_linears(mods) -> nn.Module | None:
    """One Linear whose output is the outputs of `mods` side by side (same input; plain float
    Linears or Int8Linears without bias, all of one kind): one matmul instead of several for
    inference. A copy: it does not follow later edits of `mods` (compare `linear_key`s)."""
    keys = [linear_key(m) for m in mods]
    if any(k is None for k in keys) or len({(k[0], k[-1]) if k[0] == "fp" else k[0] for k in keys}) != 1:
        return None
    if keys[0][0] == "fp":
        w = torch.cat([m.weight for m in mods])
        out = nn.Linear(w.size(1), w.size(0), bias=False, device=w.device, dtype=w.dtype)
        out.weight.requires_grad_(False).copy_(w)
        return out
    if len({(m.act_int8, getattr(m, "kernels", None)) for m in mods}) != 1:
        return None
    out = Int8Linear.__new__(Int8Linear)
    nn.Module.__init__(out)
    out.register_buffer("weight_int8", torch.cat([m.weight_int8 for m in mods]))
    out.register_buffer("weight_scale", torch.cat([m.weight_scale for m in mods]))
    out.bias = None
    out.in_features, out.out_features = mods[0].in_features, out.weight_int8.size(0)
    out.act_int8 = mods[0].act_int8
    if getattr(mods[0], "kernels", None) is not None:
        out.kernels = mods[0].kernels
    return out


def _w8a8(self: Int8Linear, x2: torch.Tensor) -> torch.Tensor:
    if not x2.is_cuda and x2.size(0) > SMALL_M:    # a prefill's rows: quantizing and scaling back
        x_q, s_x = quant_rows(x2 if x2.dtype == torch.float32 else x2.float())   # 1 pass each, same values
        return int8_mm(x_q, s_x, self.weight_int8, self.weight_scale)
    if not x2.is_cuda and self.bias is None:      # a decode step's few rows: two compiled calls
        y = rows_mm(self, x2)
        if y is not None:
            return y
    x_q, s_x = quant_rows_aten(x2)
    s_x = s_x[:, None]                                                         # (M, 1)
    M = x_q.size(0)
    if x_q.is_cuda and (M <= 16 or M % 8):                                     # CUDA _int_mm shape rule
        x_q = F.pad(x_q, (0, 0, 0, max(17, M + 7) // 8 * 8 - M))
    return torch._int_mm(x_q, self.weight_int8.t())[:M].float() * s_x * self.weight_scale


def _dequant(self: Int8Linear, x2: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    y = F.linear(x2.to(dtype), self.weight_int8.to(dtype))
    return y.float() * self.weight_scale if dtype != torch.float32 else y * self.weight_scale


def _int8pack(self: Int8Linear, x2: torch.Tensor) -> torch.Tensor:
    return torch._weight_int8pack_mm(x2.to(torch.bfloat16).contiguous(), self.weight_int8,
                                     self._scale_bf16()).float()


KERNELS = {
    "dequant-fp32": lambda self, x2: _dequant(self, x2, torch.float32),
    "dequant-bf16": lambda self, x2: _dequant(self, x2, torch.bfloat16),
    "int8pack": _int8pack,
    "w8a8": _w8a8,
}


def available_kernels(device="cpu") -> list[str]:
    """The kernels that run here (one tiny call each)."""
    out = []
    lin = nn.Linear(32, 32, bias=False)
    q = Int8Linear(lin.to(device))
    x = torch.randn(4, 32, device=device)
    for name, fn in KERNELS.items():
        try:
            fn(q, x)
            out.append(name)
        except (RuntimeError, AttributeError, NotImplementedError):
            pass
    return out


def set_kernels(model: nn.Module, decode: str, prefill: str) -> None:
    """Make every Int8Linear of `model` run `decode` for M <= SMALL_M rows and `prefill` above."""
    for name in (decode, prefill):
        if name not in KERNELS:
            raise ValueError(f"unknown int8 kernel {name!r}; known: {sorted(KERNELS)}")
    for mod in model.modules():
        if isinstance(mod, Int8Linear):
            mod.kernels = (decode, prefill)


def kernel_names(model: nn.Module) -> dict | None:
    """{"decode": kernel, "prefill": kernel} of the model's Int8Linears (None if it has none)."""
    for mod in model.modules():
        if isinstance(mod, Int8Linear):
            k = getattr(mod, "kernels", None) or (("w8a8",) * 2 if mod.act_int8 else ("dequant",) * 2)
            return {"decode": k[0], "prefill": k[1]}
    return None


_SELECTED: dict = {}                  # (device, shapes) -> (choice, timings, per-shape decode): one measurement a process
BATCH_M = 8                           # the rows of a batch decode step (`select_kernels`' per-shape choice)


@torch.no_grad()
def select_kernels(model: nn.Module, *, reps: int = 5) -> dict:
    """Time every available kernel on the model's own Int8Linear shapes, per phase: "decode" at
    M=1 and "prefill" at M=128 (M=32 for expert Linears, which see k/E of the tokens); set the
    fastest for each phase (`set_kernels`) and return {"decode": name, "prefill": name,
    "timings_us": {phase: {kernel: us per forward's Linears}}, "decode_by_shape": {"NxK": name}}.
    A shape (not an expert's) whose Linears decode 1 and BATCH_M rows in at most 0.8x the decode
    choice's time with "w8a8" decodes with it ("decode_by_shape"; r1-tiny's 8192x256 head: 51 /
    133 us vs int8pack's 68 / 308 us at 1 / 8 rows; held-out loss through the decode path the
    same to 1e-4 over 33,792 tokens). A row's values never depend on the rows beside it either
    way. Measured once per process for a given set of shapes. A kernel more than 3x slower than
    the best so far stops early."""
    import time

    mods = [(n, m) for n, m in model.named_modules() if isinstance(m, Int8Linear)]
    if not mods:
        return {}
    device = mods[0][1].weight_int8.device
    groups: dict = {}                                                # (N, K, expert) -> (module, count)
    for n, m in mods:
        key = (m.out_features, m.in_features, "experts" in n.split("."))
        groups[key] = (groups.get(key, (m, 0))[0], groups.get(key, (m, 0))[1] + 1)
    memo = (str(device), tuple(sorted((k, c) for k, (_, c) in groups.items())))
    if memo not in _SELECTED:
        names = available_kernels(device)
        clock = time.thread_time if device.type == "cpu" else time.perf_counter
        timings: dict = {}
        choice = {}
        for phase in ("decode", "prefill"):
            timings[phase] = {}
            best = float("inf")
            for kname in names:
                fn, total = KERNELS[kname], 0.0
                for (N, K, expert), (m, count) in groups.items():
                    M = 1 if phase == "decode" else (32 if expert else 128)
                    x = torch.randn(M, K, device=device)
                    fn(m, x)                                                     # warm-up
                    ts = []
                    for _ in range(reps):
                        t = clock()
                        fn(m, x)
                        ts.append(clock() - t)
                    total += min(ts) * count          # CPU time, least of reps: other jobs only add
                    if total > 3 * best:
                        break
                timings[phase][kname] = round(total * 1e6, 1)
                best = min(best, total)
            choice[phase] = min(timings[phase], key=timings[phase].get)
        by_shape = {}
        if "w8a8" in names and choice["decode"] != "w8a8":
            for (N, K, expert), (m, _) in groups.items():
                if expert:                          # the experts' packed path needs their int8pack
                    continue
                cost = {}
                for kname in (choice["decode"], "w8a8"):
                    cost[kname] = 0.0
                    for M in (1, BATCH_M):
                        x = torch.randn(M, K, device=device)
                        KERNELS[kname](m, x)
                        ts = []
                        for _ in range(reps):
                            t = clock()
                            KERNELS[kname](m, x)
                            ts.append(clock() - t)
                        cost[kname] += min(ts)
                if cost["w8a8"] <= 0.8 * cost[choice["decode"]]:
                    by_shape[(N, K)] = "w8a8"
        _SELECTED[memo] = (choice, timings, by_shape)
    choice, timings, by_shape = _SELECTED[memo]
    set_kernels(model, choice["decode"], choice["prefill"])
    for n, m in mods:
        if "experts" not in n.split(".") and (m.out_features, m.in_features) in by_shape:
            m.kernels = (by_shape[(m.out_features, m.in_features)], choice["prefill"])
    return {**choice, "timings_us": timings, "decode_by_shape": {f"{N}x{K}": k for (N, K), k in by_shape.items()}}


@dataclass
class QuantReport:
    mode: str                          # "bnb" | "w8a8" | "w8"
    n_converted: int                   # Linear modules swapped
    skipped: list[str] = field(default_factory=list)
    weight_bytes_fp32: int = 0         # the converted weights, held in fp32
    weight_bytes_fp16: int = 0         # ... in fp16
    weight_bytes_int8: int = 0         # ... in int8, scales included
    max_rel_error: float = 0.0         # max |logits_q - logits| / max |logits| on the probe batch
    rel_l2_error: float = 0.0          # ||logits_q - logits|| / ||logits||
    top1_agreement: float = 1.0        # share of probe positions whose argmax is unchanged

    def as_dict(self) -> dict:
        return asdict(self)


def int_mm_works(device) -> bool:
    try:
        a = torch.ones(32, 32, dtype=torch.int8, device=device)
        return bool(torch._int_mm(a, a)[0, 0] == 32)
    except (RuntimeError, AttributeError, NotImplementedError):
        return False


def _bnb_linear(linear: nn.Linear, device) -> nn.Module:
    return bnb_linear_from_weight(linear.weight, linear.bias, device)


def bnb_linear_from_weight(weight: torch.Tensor, bias: torch.Tensor | None, device) -> nn.Module:
    """A bitsandbytes Linear8bitLt from a (N, K) weight tensor; quantized as it moves to `device`."""
    import bitsandbytes as bnb                                                   # CUDA only

    n_out, n_in = weight.shape
    q = bnb.nn.Linear8bitLt(n_in, n_out, bias=bias is not None, has_fp16_weights=False, threshold=6.0)
    q.weight = bnb.nn.Int8Params(weight.detach().to(torch.float16).cpu(), requires_grad=False,
                                 has_fp16_weights=False)
    if bias is not None:
        q.bias = nn.Parameter(bias.detach().to(torch.float16).cpu())
    return q.to(device)                                                           # quantizes here


@torch.no_grad()
def quantize_model(model: nn.Module, device=None, *, mode: str = "auto",
                   skip: tuple[str, ...] = ("indexer",), probe: torch.Tensor | None = None) -> QuantReport:
    """Swap every nn.Linear (except modules whose dotted name contains a `skip` component) for
    an 8-bit one, in place; the model ends on `device` (default: where it is) in eval mode.
    `probe` (B, T) token ids measure the output error (default: 2 x 64 seeded random tokens)."""
    device = torch.device(device) if device is not None else next(model.parameters()).device
    if mode == "auto":
        mode = "bnb" if device.type == "cuda" else ("w8a8" if int_mm_works(device) else "w8")
    if mode not in ("bnb", "w8a8", "w8"):
        raise ValueError(f"unknown quantization mode {mode!r}")
    model.eval().to(device)
    if probe is None:
        g = torch.Generator().manual_seed(0)
        probe = torch.randint(0, model.cfg.vocab_size, (2, 64), generator=g)
    probe = probe.to(device)
    reference = model(probe).logits.float()

    report = QuantReport(mode=mode, n_converted=0)
    targets = [(name, mod) for name, mod in model.named_modules() if isinstance(mod, nn.Linear)]
    for name, linear in targets:
        if any(part in skip for part in name.split(".")):
            report.skipped.append(name)
            continue
        n_out, n_in = linear.weight.shape
        report.weight_bytes_fp32 += n_out * n_in * 4
        report.weight_bytes_fp16 += n_out * n_in * 2
        report.weight_bytes_int8 += n_out * n_in + n_out * 4                     # int8 + fp32 scales
        new = _bnb_linear(linear, device) if mode == "bnb" else Int8Linear(linear, act_int8=mode == "w8a8")
        parent, _, attr = name.rpartition(".")
        setattr(model.get_submodule(parent) if parent else model, attr, new)
        report.n_converted += 1
    if mode == "bnb":
        model.half()                                                              # LLM.int8 runs fp16
    quantized = model(probe).logits.float()
    report.max_rel_error = float((quantized - reference).abs().max() / reference.abs().max())
    report.rel_l2_error = float((quantized - reference).norm() / reference.norm())
    report.top1_agreement = float((quantized.argmax(-1) == reference.argmax(-1)).float().mean())
    return report
