"""Trainer throughput on r1-tiny: the old trainer vs the new one side by side in one run, and the
new one's model FLOP utilisation against this run's hardware probe (bench/gemm_probe.py).

    python bench/train_bench.py --quick --json

Figures (last line with --json):
  train_tokens_per_s        new trainer, tokens per second (1 thread unless --threads)
  train_mfu                 model FLOPs/s (median step, wall time) / the probe's peak GEMM rate of
                            the fastest dtype on these cores at the same thread count (bf16 on
                            AVX512-BF16 / AMX cores; fp32 where bf16 has no fast kernel, e.g.
                            AVX2-only cores). Low whenever other jobs share the cores
  train_mfu_cpu_time        the same with each step timed by this thread's CPU time (time the
                            scheduler gave other jobs left out): the figure on a loaded machine
  train_mfu_load_matched    each timed step framed by two bursts of the probe's best GEMM shape and
                            its rate divided by theirs (median over steps; this figure's definition
                            in sessions 5-6)
  train_mfu_vs_bf16_peak    model FLOPs/s over the probe's bf16 peak (what the issue names)
  train_tokens_per_cpu_s    tokens per second of thread CPU time
  train_speedup_vs_old      new / old trainer as `make train` ran it (amp auto = bf16 autocast on
                            CPU, experts in a Python loop, eager, AdamW unfused)
  train_speedup_vs_old_fp32 new / the old trainer with --amp fp32
Model FLOPs per token = 6 x active non-embedding parameters (the head included) + 6 x layers x
seq_len x d_model (causal attention scores and values, forward + backward); the indexer's
scoring, the gate loss and padding are overhead, not model FLOPs.
Steps of the trainers run interleaved (old, new, old, new, ...) on the same random batches;
the medians are compared. On a shared machine absolute rates are noisy; the ratios less so.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.gemm_probe import _operands, model_shapes, probe             # noqa: E402
from model import train as T                                            # noqa: E402
from model.config import R1Config                                       # noqa: E402
from model.network import R1Model                                       # noqa: E402
from model.train_fast import use_train_attention                        # noqa: E402


def train_flops_per_token(model: R1Model, seq_len: int) -> float:
    cfg = model.cfg
    active = model.num_params(active=True) - model.embed.weight.numel()
    return 6.0 * active + 6.0 * cfg.n_layers * seq_len * cfg.d_model


class Setup:
    """One trainer's step on a fixed model init: amp, experts implementation, loss head, optimizer."""

    def __init__(self, name, amp, moe, compile_mode, fused, seed=0, fast_attention=False):
        torch.manual_seed(seed)
        self.name = name
        self.cpu: list[float] = []
        self.model = R1Model(R1Config.preset("r1-tiny")).train()
        self.amp = amp
        self.moe = T.set_moe_impl(self.model, moe, amp, compile_mode)
        self.attn = (use_train_attention(self.model, compile_mode, torch.device("cpu"))
                     if fast_attention and amp == "bf16" else "flash " + amp)
        self.compiled = T.compile_loss_head(self.model, compile_mode, torch.device("cpu"))
        groups = T.param_groups(self.model, 0.1)
        self.opt = torch.optim.AdamW(groups, lr=1e-3, betas=(0.9, 0.95), eps=1e-8, fused=fused or None)

    def step(self, x, y) -> float:
        """One optimizer step; returns its wall seconds (its thread CPU seconds in `self.cpu`)."""
        t, c = time.perf_counter(), time.thread_time()
        with T.autocast(self.amp, torch.device("cpu")):
            loss = self.model.loss(x, y)
        loss.total.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
        self.opt.step()
        self.opt.zero_grad(set_to_none=True)
        self.cpu.append(time.thread_time() - c)
        return time.perf_counter() - t


def burst_gflops(dtype: str, mkn: tuple[int, int, int], seconds: float) -> float:
    """Mean GFLOPS of back-to-back GEMMs of one shape for about `seconds` (mean, not best: it
    stands beside a training step's time measured under the same load)."""
    a, b = _operands(dtype, *mkn)
    a @ b
    flops, n, t0 = 2.0 * mkn[0] * mkn[1] * mkn[2], 0, time.perf_counter()
    while True:
        a @ b
        n += 1
        el = time.perf_counter() - t0
        if el >= seconds:
            return n * flops / el / 1e9


_GEMM = ("aten::mm", "aten::bmm", "aten::addmm", "aten::_grouped_mm", "aten::baddbmm", "mkldnn", "onednn")
_COPY = ("aten::copy_", "aten::_to_copy", "aten::cat", "aten::stack", "aten::index", "aten::index_add",
         "aten::index_put", "aten::_index_put", "aten::scatter", "aten::gather", "aten::fill_", "aten::zero_",
         "aten::clone", "aten::embedding")


def _category(op: str) -> str:
    if op.startswith(_GEMM):
        return "gemm"
    if "scaled_dot_product" in op:
        return "attention kernel"
    if "adam" in op:
        return "optimizer"
    if "CompiledFxGraph" in op or "Torch-Compiled" in op:
        return "compiled (fused) graphs"
    if op.startswith(_COPY):
        return "copies, casts, gathers"
    if op.startswith("aten::"):
        return "other aten (elementwise, reductions)"
    return "autograd / python bookkeeping"


def profile_step(setup: Setup, x, y, rows: int = 12) -> dict:
    """One step under torch.profiler: the top ops by self CPU time, and where the time goes by
    kind (GEMM, attention kernel, optimizer, compiled graphs, copies, other ops); "untraced" is
    the step's wall time the ops do not account for (Python, dispatch, the profiler itself)."""
    from torch.profiler import ProfilerActivity, profile
    with profile(activities=[ProfilerActivity.CPU]) as p:
        wall = setup.step(x, y)
    ev = sorted(p.key_averages(), key=lambda e: -e.self_cpu_time_total)
    total = sum(e.self_cpu_time_total for e in ev) or 1
    cats: dict[str, float] = {}
    for e in ev:
        c = _category(e.key)
        cats[c] = cats.get(c, 0.0) + e.self_cpu_time_total / 1e3
    cats["untraced"] = max(0.0, wall * 1e3 - total / 1e3)
    top = [{"op": e.key, "self_ms": round(e.self_cpu_time_total / 1e3, 1),
            "share": round(e.self_cpu_time_total / total, 3), "calls": e.count} for e in ev[:rows]]
    return {"wall_ms": round(wall * 1e3, 1), "by_kind_ms": {k: round(v, 1) for k, v in
                                                             sorted(cats.items(), key=lambda kv: -kv[1])},
            "top": top}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="3 timed steps per trainer (the old default: 1) (< 1 min)")
    ap.add_argument("--json", action="store_true", help="last line: one JSON object")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=None, help="windows per step (default 16, as `make train`)")
    ap.add_argument("--seq-len", type=int, default=256)
    ap.add_argument("--steps", type=int, default=None, help="timed steps per trainer (default 8; --quick 3)")
    ap.add_argument("--profile", action="store_true", help="print the new step's top ops (torch.profiler)")
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    B = a.batch or 16
    steps = a.steps or (3 if a.quick else 8)
    t0 = time.time()

    pr = probe(model_shapes(decode=False), threads=a.threads, seconds=0.1 if a.quick else 0.4, dtypes=("bf16", "fp32"))
    peaks = pr["peak_gflops"]
    best_dt = max(peaks, key=lambda k: peaks[k] or 0)
    best_shape = max((v or 0, k) for k, v in pr["gflops"][best_dt].items())[1]
    best_mkn = tuple(pr["shapes"][best_shape])

    new = Setup("new", T.amp_dtype(T.TrainConfig(), torch.device("cpu")), "auto", "auto", True, fast_attention=True)
    old32 = Setup("old fp32", "fp32", "loop", "off", False)
    g = torch.Generator().manual_seed(0)
    V = new.model.cfg.vocab_size
    batches = [(torch.randint(0, V, (B, a.seq_len), generator=g), torch.randint(0, V, (B, a.seq_len), generator=g))
               for _ in range(2)]
    for s in (new, old32):                                             # warm-up (compiles)
        s.step(*batches[0])
    times = {new.name: [], old32.name: []}
    fpt = train_flops_per_token(new.model, a.seq_len)
    tok = B * a.seq_len
    matched = []                                       # per new step: its model GFLOPS / the bursts' GFLOPS
    burst_s = 0.1 if a.quick else 0.3
    for i in range(steps):
        x, y = batches[i % 2]
        times[old32.name].append(old32.step(x, y))
        before = burst_gflops(best_dt, best_mkn, burst_s)
        times[new.name].append(new.step(x, y))
        after = burst_gflops(best_dt, best_mkn, burst_s)
        matched.append(tok * fpt / times[new.name][-1] / 1e9 / ((before + after) / 2))
    rate = {k: tok / statistics.median(v) for k, v in times.items()}
    cpu_rate = tok / statistics.median(new.cpu[-steps:])              # per second of this thread's CPU time

    # the old default (amp auto = bf16 autocast on CPU): on cores without a fast bf16 GEMM a full
    # batch takes minutes, so it runs on 64-token steps there (rate per token, as a lower bound's
    # best case: short rows only help it)
    old_amp = "bf16"
    bf16_fast = (peaks["bf16"] or 0) >= (peaks["fp32"] or 0)
    oB, oT = (B, a.seq_len) if bf16_fast else (1, 64)
    old_def = Setup("old default", old_amp, "loop", "off", False)
    ox = torch.randint(0, V, (oB, oT), generator=g)
    old_def.step(ox, ox)
    t_old = [old_def.step(ox, ox) for _ in range(1 if a.quick or not bf16_fast else steps)]
    rate["old default"] = oB * oT / statistics.median(t_old)

    flops_s = rate["new"] * fpt
    fig = {
        "train_tokens_per_s": round(rate["new"]),
        "train_mfu": round(flops_s / (peaks[best_dt] * 1e9), 3),
        "train_mfu_cpu_time": round(cpu_rate * fpt / (peaks[best_dt] * 1e9), 3),
        "train_mfu_load_matched": round(statistics.median(matched), 3),
        "train_tokens_per_cpu_s": round(cpu_rate),
        "peak_shape": best_shape,
        "train_mfu_vs_bf16_peak": round(flops_s / (peaks["bf16"] * 1e9), 3) if peaks["bf16"] else None,
        "train_speedup_vs_old": round(rate["new"] / rate["old default"], 2),
        "train_speedup_vs_old_fp32": round(rate["new"] / rate["old fp32"], 2),
        "old_train_tokens_per_s": round(rate["old default"], 1),
        "old_fp32_train_tokens_per_s": round(rate["old fp32"]),
        "train_model_gflops_per_s": round(flops_s / 1e9, 1),
        "peak_gflops_bf16": peaks["bf16"], "peak_gflops_fp32": peaks["fp32"], "peak_dtype": best_dt,
        "flops_per_token_m": round(fpt / 1e6, 2), "batch": f"{B}x{a.seq_len}", "threads": a.threads,
        "new_setup": {"amp": new.amp, "experts": new.moe, "attention_core": new.attn, "loss_head": new.compiled,
                      "adamw": "fused"},
        "old_default_setup": {"amp": old_amp, "experts": "loop", "loss_head": "eager", "adamw": "unfused",
                              "tokens_per_step": oB * oT},
    }
    print(f"probe ({a.threads} thread): bf16 {peaks['bf16']} GFLOPS, fp32 {peaks['fp32']} GFLOPS -> ceiling {best_dt}")
    print(f"new trainer ({new.amp}, experts {new.moe}, attention core {new.attn}, loss head {new.compiled}, fused AdamW), {B}x{a.seq_len}: "
          f"{rate['new']:,.0f} tok/s = {flops_s / 1e9:.1f} model GFLOPS -> MFU {fig['train_mfu']} "
          f"(by thread CPU time {fig['train_mfu_cpu_time']}, load-matched {fig['train_mfu_load_matched']})")
    print(f"old trainer fp32: {rate['old fp32']:,.0f} tok/s -> new is {fig['train_speedup_vs_old_fp32']}x")
    print(f"old trainer default (bf16 autocast, {oB}x{oT} steps): {rate['old default']:,.1f} tok/s "
          f"-> new is {fig['train_speedup_vs_old']}x")
    if a.profile:
        prof = profile_step(new, *batches[0])
        fig["profile"] = prof
        print(f"profile of one new step ({prof['wall_ms']} ms wall), by kind: "
              + ", ".join(f"{k} {v} ms" for k, v in prof["by_kind_ms"].items()))
        for r in prof["top"]:
            print(f"  {r['share'] * 100:5.1f} %  {r['self_ms']:8.1f} ms  {r['calls']:5d}x  {r['op']}")
    fig["bench_seconds"] = round(time.time() - t0, 1)
    if a.json:
        print(json.dumps(fig))
    return 0


if __name__ == "__main__":
    sys.exit(main())
