"""Hardware probe: GEMM throughput of this CPU per thread at the R1 model's own shapes.

Every training / inference figure is reported as a fraction of what this probe measures in the
same run (model FLOP utilisation, MFU), so the figures mean something on a noisy, shared machine.

    python bench/gemm_probe.py --quick --json            # last line: one JSON object
    from bench.gemm_probe import probe, peak_gflops      # (or with bench/ on sys.path)
    peak_gflops("bf16", threads=1)                        # GFLOPS, best of the model's shapes

dtypes:
  bf16  a @ b on bfloat16 tensors (oneDNN; AMX-BF16 where the cores have it)
  fp32  a @ b on float32 tensors
  int8  torch._int_mm (int8 x int8 -> int32; AMX-INT8 / VNNI where oneDNN uses them)
A GEMM (M, K, N) counts 2*M*K*N flops (int8: "ops"; the same count).

Shapes (r1-tiny's, from model.config unless given): the training token batch M = 16 x 256
through each linear of a block (attention q/k/v/o, indexer, expert w1/w3 and w2 at the per-expert
token count M*k/E, the LM head), plus a few decode-sized rows (M = 1, 8) for inference.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import torch

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DTYPES = ("bf16", "fp32", "int8")
_TORCH_DTYPE = {"bf16": torch.bfloat16, "fp32": torch.float32, "int8": torch.int8}
_PEAK_CACHE: dict[tuple[str, int], float] = {}


def model_shapes(cfg=None, tokens: int = 16 * 256, decode: bool = True) -> dict[str, tuple[int, int, int]]:
    """name -> (M, K, N) for the GEMMs of one forward pass of `cfg` (default r1-tiny) on `tokens` rows."""
    if cfg is None:
        from model.config import R1Config
        cfg = R1Config.preset("r1-tiny")
    d, hid = cfg.d_model, cfg.expert_hidden
    per_expert = max(1, tokens * cfg.n_active // cfg.n_experts)
    idx_out = cfg.index_heads * (cfg.index_dim + 1) + cfg.index_dim
    shapes = {
        f"attn_qkvo {tokens}x{d}x{d}": (tokens, d, d),
        f"indexer {tokens}x{d}x{idx_out}": (tokens, d, idx_out),
        f"expert_up {per_expert}x{d}x{hid}": (per_expert, d, hid),
        f"expert_down {per_expert}x{hid}x{d}": (per_expert, hid, d),
        f"head {tokens}x{d}x{cfg.vocab_size}": (tokens, d, cfg.vocab_size),
    }
    if decode:
        for m in (1, 8):
            shapes[f"decode_head {m}x{d}x{cfg.vocab_size}"] = (m, d, cfg.vocab_size)
            shapes[f"decode_expert {m}x{d}x{hid}"] = (m, d, hid)
    return shapes


def _operands(dtype: str, M: int, K: int, N: int):
    g = torch.Generator().manual_seed(0)
    if dtype == "int8":
        a = torch.randint(-127, 128, (M, K), dtype=torch.int8, generator=g)
        b = torch.randint(-127, 128, (K, N), dtype=torch.int8, generator=g)
        return a, b
    t = _TORCH_DTYPE[dtype]
    return torch.randn(M, K, generator=g).to(t), torch.randn(K, N, generator=g).to(t)


def _op(dtype: str):
    if dtype == "int8":
        return torch._int_mm
    return torch.matmul


def time_gemm(dtype: str, M: int, K: int, N: int, seconds: float = 0.2, min_reps: int = 3) -> float | None:
    """GFLOPS of one (M, K, N) GEMM in `dtype` at the current thread count: the best of several
    timed bursts (best, not mean: other jobs on a shared machine only ever slow a burst down).
    None where the kernel refuses the shape (e.g. torch._int_mm's size rules).

    Time-bounded: where one full call would take longer than `seconds` (a dtype without a fast
    kernel on these cores, e.g. bf16 without AVX512-BF16/AMX runs at ~1 GFLOPS), the rate is
    measured on the largest power-of-two row slice (>= 16 rows) that fits the budget."""
    op = _op(dtype)
    m0 = min(M, 16)
    a, b = _operands(dtype, m0, K, N)
    try:
        op(a, b)
    except RuntimeError:
        return None
    t0 = time.perf_counter()
    op(a, b)
    one = max(time.perf_counter() - t0, 1e-7)
    rows = M
    while rows > m0 and one * rows / m0 > seconds / 4:
        rows //= 2
    rows = max(rows, m0)
    if rows != m0:
        a, b = _operands(dtype, rows, K, N)
        try:
            op(a, b)
        except RuntimeError:
            return None
        t0 = time.perf_counter()
        op(a, b)
        one = max(time.perf_counter() - t0, 1e-7)
    flops = 2.0 * rows * K * N
    reps = max(1, int(seconds / 8 / one))
    best = float("inf")
    deadline = time.perf_counter() + seconds
    n = 0
    while n < min_reps or time.perf_counter() < deadline:
        t0 = time.perf_counter()
        for _ in range(reps):
            op(a, b)
        best = min(best, (time.perf_counter() - t0) / reps)
        n += 1
        if n >= min_reps and best * reps * n > seconds:
            break
    return flops / best / 1e9


class _threads:
    def __init__(self, n: int | None):
        self.n, self.old = n, torch.get_num_threads()

    def __enter__(self):
        if self.n:
            torch.set_num_threads(self.n)

    def __exit__(self, *exc):
        torch.set_num_threads(self.old)


def probe(shapes: dict[str, tuple[int, int, int]] | None = None, threads: int = 1, seconds: float = 0.2,
          dtypes=DTYPES) -> dict:
    """Measure GEMM throughput. Returns
    {"threads": n, "gflops": {dtype: {shape name: GFLOPS or None}}, "peak_gflops": {dtype: best}}.
    The peak of a dtype is the best over the given shapes (the model's own: a reachable ceiling)."""
    shapes = shapes or model_shapes()
    out: dict = {"threads": threads, "shapes": {k: list(v) for k, v in shapes.items()}, "gflops": {},
                 "peak_gflops": {}}
    with _threads(threads):
        for dt in dtypes:
            res = {name: time_gemm(dt, *mkn, seconds=seconds) for name, mkn in shapes.items()}
            out["gflops"][dt] = {k: (round(v, 1) if v is not None else None) for k, v in res.items()}
            vals = [v for v in res.values() if v is not None]
            out["peak_gflops"][dt] = round(max(vals), 1) if vals else None
            if vals:
                _PEAK_CACHE[(dt, threads)] = max(vals)
    return out


def peak_gflops(dtype: str = "bf16", threads: int = 1, seconds: float = 0.2, refresh: bool = False) -> float | None:
    """Best GFLOPS of `dtype` over the model's large (training-sized) shapes at `threads` threads;
    measured once per process (cached) unless `refresh`."""
    key = (dtype, threads)
    if refresh or key not in _PEAK_CACHE:
        r = probe(model_shapes(decode=False), threads=threads, seconds=seconds, dtypes=(dtype,))
        if r["peak_gflops"][dtype] is None:
            return None
    return round(_PEAK_CACHE[key], 1)


def cpu_flags() -> list[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return []
    want = ("amx_bf16", "amx_int8", "amx_tile", "avx512_bf16", "avx512_vnni", "avx512f", "avx2")
    flags = set()
    for line in text.splitlines():
        if line.startswith("flags"):
            flags.update(line.split(":", 1)[1].split())
            break
    return [f for f in want if f in flags]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="shorter timing bursts (< 20 s)")
    ap.add_argument("--json", action="store_true", help="last line: one JSON object")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seconds", type=float, default=None, help="timing per shape and dtype")
    a = ap.parse_args(argv)
    secs = a.seconds if a.seconds is not None else (0.15 if a.quick else 0.6)
    t0 = time.time()
    r = probe(threads=a.threads, seconds=secs)
    r["cpu_flags"] = cpu_flags()
    r["torch"] = torch.__version__
    r["cpu_count"] = os.cpu_count()
    r["probe_s"] = round(time.time() - t0, 1)
    width = max(len(k) for k in r["shapes"])
    print(f"GEMM throughput, {a.threads} thread(s), torch {torch.__version__}, flags {' '.join(r['cpu_flags'])}")
    print(f"{'shape (M x K x N)':<{width}}  " + "  ".join(f"{d:>8}" for d in DTYPES) + "   GFLOPS (best burst)")
    for name in r["shapes"]:
        cells = []
        for d in DTYPES:
            v = r["gflops"][d][name]
            cells.append(f"{v:8.1f}" if v is not None else f"{'-':>8}")
        print(f"{name:<{width}}  " + "  ".join(cells))
    print(f"{'peak':<{width}}  " + "  ".join(f"{r['peak_gflops'][d] or 0:8.1f}" for d in DTYPES))
    if a.json:
        summary = {f"gemm_peak_gflops_{d}": r["peak_gflops"][d] for d in DTYPES}
        summary.update({"threads": a.threads, "gflops": r["gflops"], "cpu_flags": r["cpu_flags"]})
        print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
