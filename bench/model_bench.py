"""R1 model benchmark: ratios measured side by side in one run, plus latency percentiles.

    python bench/model_bench.py [--quick] [--json] [--threads N] [--device cpu|cuda]

CPU figures use one thread unless --threads says otherwise (small ops on a loaded 2-core
machine slow down 10-100x from OpenMP spin contention with two threads).

Figures (the last stdout line with --json is one JSON object holding them all):
  prefill_512_ms                the shipped r1-tiny (int8, the kernels chosen here), 512 tokens of
                                real code through model.generate.prefill_row, batch 1
  decode_tokens_per_s           decode steps batch 1 (int8); *_batch8: tokens/s of 8 rows at once
                                (each row on its own cache, as model.generate.generate does)
  decode_overhead_ratio         one int8 decode step / the same step's Linear calls replayed alone
                                (CPU time of the thread; the steps decode successive positions);
                                *_eager_ops: the same, interleaved in the same loop, with the
                                compiled sparse decode attention and the direct int8pack expert
                                calls off (the code before them), on a cache of its own
  int8_vs_bf16_speed_{prefill,decode}  bf16-Linear model time / int8 model time, timed alternately
                                (wall time, medians; the detail's `..._prefill_cpu`: thread CPU time)
  prefill_mfu                   prefill Linear FLOPs / s over the best GEMM peak of any dtype on
                                this CPU (bench/gemm_probe.py, same run)
  moe_dispatch_speedup          sparse dispatch vs the seed's every-expert-on-every-token MoE
  sparse_attn_speedup_{2k,8k}   one decode step of an attention layer with a 2K / 8K KV cache:
                                gather the kept keys vs dense attention over the whole cache,
                                the two timed alternately (each evicts the other's cache from the
                                CPU caches, as other layers do in a model); *_warm: timed apart
  sparse_attn_kept_fraction_8k  kept keys / visible keys for that step
  sparse_prefill_speedup_2k     prefill of 2K tokens through one layer: gathered vs dense SDPA
  int8_weight_bytes_ratio       int8 (+ scales) / fp16 bytes of the converted Linear weights
  int8_max_rel_error            max |logits_int8 - logits| / max |logits| on a probe batch
  int8_decode_speedup           decode tok/s int8 / unquantized
  tiny_decode_tok_s, tiny_prefill_512_ms, base_decode_tok_s, base_prefill_512_ms
The models are randomly initialised (shapes are what matters for speed). An untrained indexer
scores keys almost equally, so the kept fraction here is set by the top-k budget, not the threshold.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from model import R1Config, R1Model, quantize_model  # noqa: E402
from model.generate import generate  # noqa: E402
from model.attention import KVCache, SparseAttention, rope_angles  # noqa: E402
from model.key_selection import key_masks, select_keys  # noqa: E402


def timed(fn, reps: int, warmup: int = 2, device="cpu") -> list[float]:
    """Seconds per call, `reps` samples."""
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(reps):
        if device.type == "cuda":
            torch.cuda.synchronize()
        t = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        out.append(time.perf_counter() - t)
    return out


def timed_pair(fa, fb, reps: int, warmup: int = 2, device="cpu") -> tuple[list[float], list[float]]:
    """Two functions timed alternately, so a load change on a shared machine hits both alike."""
    a, b = [], []
    for _ in range(reps):
        a += timed(fa, 1, warmup, device)
        b += timed(fb, 1, warmup if not b else 0, device)
        warmup = 0
    return a, b


def pct(samples: list[float], q: float) -> float:
    s = sorted(samples)
    return s[min(len(s) - 1, int(q * len(s)))]


def ms(samples):
    return {"p50_ms": round(pct(samples, 0.5) * 1e3, 3), "p90_ms": round(pct(samples, 0.9) * 1e3, 3),
            "p99_ms": round(pct(samples, 0.99) * 1e3, 3)}


def bench_moe(cfg, device, reps, tokens=512):
    model = R1Model(R1Config.preset("r1-tiny", n_layers=1, hier_layers=(0,))).to(device).eval()
    moe = model.blocks[0].moe
    x = torch.randn(tokens, cfg.d_model, device=device)
    with torch.no_grad():
        w, idx, _ = moe.gate(x)
        sparse, dense = timed_pair(lambda: moe.dispatch(x, w, idx), lambda: moe.dense_reference(x, w, idx),
                                   reps, device=device)
    return {"moe_dispatch_speedup": statistics.median(dense) / statistics.median(sparse),
            "moe_sparse": ms(sparse), "moe_dense": ms(dense), "moe_tokens": tokens}


def bench_attention(cfg, device, context, reps, prefill=False):
    """One decode step (or a prefill) of one attention layer, sparse vs dense, same weights."""
    torch.manual_seed(0)
    sparse = SparseAttention(cfg).to(device).eval()
    dense = SparseAttention(R1Config.preset("r1-tiny", attn_sparse=False)).to(device).eval()
    dense.load_state_dict({k: v for k, v in sparse.state_dict().items() if "indexer" not in k})
    d, H, D = cfg.d_model, cfg.n_heads, cfg.head_dim
    res = {}
    with torch.no_grad():
        if prefill:
            x = torch.randn(1, context, d, device=device)
            pos = torch.arange(context, device=device)[None]
            rope, irope = rope_angles(pos, D, cfg.rope_theta), rope_angles(pos, cfg.index_dim, cfg.rope_theta)
            t_sparse, t_dense = timed_pair(lambda: sparse(x, rope, irope), lambda: dense(x, rope, irope),
                                           reps, 1, device)
            return {"speedup": statistics.median(t_dense) / statistics.median(t_sparse),
                    "sparse": ms(t_sparse), "dense": ms(t_dense)}
        # a cache holding `context` random keys, the step writes slot `context`
        S = context
        k, v = torch.randn(1, S, H, D, device=device), torch.randn(1, S, H, D, device=device)
        ik = torch.randn(1, S, cfg.index_dim, device=device)
        c_sparse, c_dense = KVCache(1, S + 1), KVCache(1, S + 1)
        c_sparse.update(0, k, v, ik)
        c_dense.update(0, k, v)
        x = torch.randn(1, 1, d, device=device)
        pos = torch.full((1, 1), S, device=device)
        rope, irope = rope_angles(pos, D, cfg.rope_theta), rope_angles(pos, cfg.index_dim, cfg.rope_theta)
        step_sparse = lambda: sparse(x, rope, irope, S, None, c_sparse)
        step_dense = lambda: dense(x, rope, irope, S, None, c_dense)
        # warm: each in its own loop (its cache stays in CPU caches); interleaved: each call
        # follows the other's, as in a model where other layers evict this layer's cache
        warm = statistics.median(timed(step_dense, reps, 3, device)) / statistics.median(timed(step_sparse, reps, 3, device))
        t_sparse, t_dense = timed_pair(step_sparse, step_dense, reps, 3, device)
        res["speedup_warm"] = warm
        # what the step kept
        iq, iw, _ = sparse.indexer.project(x, *irope)
        ik_all = c_sparse.buffers[2][:, :S + 1]
        visible, local = key_masks(S, 1, S + 1, cfg.local_window, None, device)
        _, keep = select_keys(sparse.indexer.score(iq, iw, ik_all), visible, local, cfg.gate_threshold, cfg.attn_topk)
        res["kept_fraction"] = keep.sum().item() / (S + 1)
    res.update(speedup=statistics.median(t_dense) / statistics.median(t_sparse),
               sparse=ms(t_sparse), dense=ms(t_dense))
    return res


def bench_model(name, device, dtype, prompt_len, new_tokens, reps, quantize=None):
    """Prefill `prompt_len` tokens and decode `new_tokens`, batch 1; optionally quantized."""
    torch.manual_seed(0)
    cfg = R1Config.preset(name)
    model = R1Model(cfg).to(device=device, dtype=dtype).eval()
    report = quantize_model(model, device) if quantize else None
    if report is not None and device.type == "cpu":
        from model.quantize import select_kernels
        chosen = select_kernels(model)                                 # as the engine does at load
        report.mode = f"decode {chosen['decode']}, prefill {chosen['prefill']}"
    prompt = torch.randint(0, cfg.vocab_size, (1, prompt_len), device=device)
    with torch.no_grad():
        def prefill():
            cache = model.new_cache(1, prompt_len + new_tokens + 1)
            model(prompt, cache=cache)
            return cache
        t_prefill = timed(prefill, reps, 1, device)
        cache = prefill()
        tok = prompt[:, -1:]
        steps = []
        for i in range(new_tokens):
            if device.type == "cuda":
                torch.cuda.synchronize()
            t = time.perf_counter()
            tok = model(tok, cache=cache, start_pos=prompt_len + i).logits[:, -1].argmax(-1, keepdim=True)
            if device.type == "cuda":
                torch.cuda.synchronize()
            steps.append(time.perf_counter() - t)
    steps = steps[2:] or steps                                     # drop warm-up steps
    out = {"prefill": ms(t_prefill), "decode": ms(steps), "decode_tok_s": 1.0 / statistics.median(steps),
           "prefill_ms": statistics.median(t_prefill) * 1e3,
           "params": model.num_params() if report is None else None}
    if report is not None:
        out["quant"] = report.as_dict()
        out["quant"].pop("skipped")
    return out


# ---------------------------------------------------------------------------- the generation loop

class Bf16Linear(torch.nn.Module):
    """The bf16 reference of `int8_vs_bf16_speed`: bf16 weights, a bf16 GEMM, fp32 around it."""

    def __init__(self, lin: torch.nn.Linear):
        super().__init__()
        self.weight = torch.nn.Parameter(lin.weight.detach().to(torch.bfloat16), requires_grad=False)
        self.bias = lin.bias

    def forward(self, x):
        y = torch.nn.functional.linear(x.to(torch.bfloat16), self.weight).to(x.dtype)
        return y if self.bias is None else y + self.bias


def _to_bf16_linears(model):
    for name, mod in list(model.named_modules()):
        if isinstance(mod, torch.nn.Linear) and "indexer" not in name.split("."):
            parent, _, attr = name.rpartition(".")
            setattr(model.get_submodule(parent) if parent else model, attr, Bf16Linear(mod))
    return model


def _loop_models():
    """(fp32, int8 with the kernels chosen here, bf16-linear) copies of the shipped checkpoint
    (random r1-tiny without it), the tokenizer (or None) and the kernel choice."""
    import copy

    from model.checkpoint import load_checkpoint
    from model.quantize import select_kernels
    ckpt = Path(__file__).resolve().parents[1] / "model" / "checkpoints" / "r1-tiny"
    if (ckpt / "config.json").exists():
        loaded = load_checkpoint(ckpt)
        fp32, tok = loaded.model.float().eval(), loaded.tokenizer
    else:
        torch.manual_seed(0)
        fp32, tok = R1Model(R1Config.preset("r1-tiny")).eval(), None
    int8 = copy.deepcopy(fp32)
    quantize_model(int8, "cpu")
    chosen = select_kernels(int8)
    bf16 = _to_bf16_linears(copy.deepcopy(fp32))
    return fp32, int8, bf16, tok, chosen


def _prompts(tok, vocab: int, n: int, length: int) -> list[list[int]]:
    """n prompts of `length` tokens of real code (the held-out fixtures, tokenized) or random ids."""
    if tok is not None:
        root = Path(__file__).resolve().parents[1] / "tests" / "fixtures"
        text = "\n".join(p.read_text("utf-8", "replace") for p in sorted(root.rglob("*"))
                         if p.suffix in (".py", ".java") and p.is_file())
        ids = tok.encode(text).ids
        return [ids[i * length:(i + 1) * length] for i in range(n)]
    g = torch.Generator().manual_seed(1)
    return [torch.randint(0, vocab, (length,), generator=g).tolist() for _ in range(n)]


class _KernelCall:
    """A matmul kernel called directly (int8 experts' `torch._weight_int8pack_mm`, no module):
    replayed as an int8pack Int8Linear call does it (input to bf16, the kernel, output to fp32),
    so the replayed matmuls cost the same with or without the direct calls."""

    def __init__(self, kernel, w, scale):
        self.kernel, self.w, self.scale = kernel, w, scale
        self.out_features, self.in_features = w.shape

    def __call__(self, x):
        return self.kernel(x.to(torch.bfloat16), self.w, self.scale).float()


class _ExpertsCall:
    """The int8 experts of a decode step as one compiled call (`model.native.run_experts`, the
    matmuls and the SwiGLU between them), replayed with the step's own routing."""

    def __init__(self, weights, indices, packs, n_experts, d):
        self.args = (weights, indices, packs, n_experts)
        h = next(iter(packs.values()))[7].size(0)
        self.in_features, self.out_features = d, 3 * h * indices.size(1)      # multiply-adds a row / d

    def __call__(self, x):
        from model import native
        return native.run_experts(x, *self.args)


def _linear_calls(model, fn):
    """Run fn() and record every Linear call, every int8pack kernel called outside one (the int8
    experts' direct calls, `Expert.packed`) and every compiled experts call (`Expert.native`):
    [(module, _KernelCall or _ExpertsCall, input shape)]."""
    from model.quantize import Int8Linear
    calls, hooks, depth = [], [], [0]
    mods = list(model.modules())
    # inference joins each attention's q/k/v (+ indexer) Linears into one (`fused_projection`)
    fused = [m.fused_projection() for m in mods if isinstance(m, SparseAttention) and hasattr(m, "fused_projection")]
    # ... and each expert's w1 and w3 (`Expert.joined_w13`)
    fused += [m.joined_w13() for m in mods if hasattr(m, "joined_w13")]
    mods += [f for f in fused if f is not None]

    def enter(m, args):
        calls.append((m, tuple(args[0].shape)))
        depth[0] += 1

    def leave(m, args, out):
        depth[0] -= 1

    for mod in mods:
        if isinstance(mod, (torch.nn.Linear, Int8Linear, Bf16Linear)):
            hooks += [mod.register_forward_pre_hook(enter), mod.register_forward_hook(leave)]
    kernel = getattr(torch, "_weight_int8pack_mm", None)

    def direct(x, w, scale):
        if not depth[0]:
            calls.append((_KernelCall(kernel, w, scale), tuple(x.shape)))
        return kernel(x, w, scale)

    from model import native
    run_experts = native.run_experts

    def experts(x, weights, indices, packs, n_experts):
        y = run_experts(x, weights, indices, packs, n_experts)
        if y is not None and not depth[0]:
            calls.append((_ExpertsCall(weights.clone(), indices.clone(), packs, n_experts, x.size(1)), tuple(x.shape)))
        return y

    if kernel is not None:
        torch._weight_int8pack_mm = direct
    native.run_experts = experts
    try:
        fn()
    finally:
        for h in hooks:
            h.remove()
        if kernel is not None:
            torch._weight_int8pack_mm = kernel
        native.run_experts = run_experts
    return calls


def bench_loop(reps: int, new_tokens: int) -> dict:
    """prefill 512 / decode (batch 1 and 8) through model.generate's pieces, int8 vs bf16 vs fp32,
    timed alternately; the decode step's own matmuls replayed alone; MFU against the GEMM probe."""
    from model.experts import packs_held
    from model.generate import decode_one, decode_rows, prefill_row
    fp32, int8, bf16, tok, chosen = _loop_models()
    models = {"int8": int8, "bf16": bf16, "fp32": fp32}
    prompts = _prompts(tok, fp32.cfg.vocab_size, 8, 512)
    p0 = prompts[0]
    out: dict = {"kernels": {k: chosen[k] for k in ("decode", "prefill")}, "kernel_timings_us": chosen["timings_us"]}
    # inside `packs_held`, as model.generate runs its prefill and steps (each routed expert's int8
    # pack asked once per loop, not at every step of every layer)
    with torch.inference_mode(), packs_held():
        pre = {k: [] for k in models}
        pre_cpu = {k: [] for k in models}                # thread CPU time: what other jobs do not add
        for _ in range(2 * reps + 1):                    # (a prefill is short: more samples, a steadier median)
            for k, m in models.items():
                t, c = time.perf_counter(), time.thread_time()
                prefill_row(m, p0)
                pre[k].append(time.perf_counter() - t)
                pre_cpu[k].append(time.thread_time() - c)
        dec = {k: [] for k in models}
        states = {k: prefill_row(m, p0)[0] for k, m in models.items()}
        tok1 = torch.tensor([p0[-1]])
        lv = torch.zeros(1, 1, 3, dtype=torch.long)
        for i in range(new_tokens):
            for k, m in models.items():
                t = time.perf_counter()
                decode_one(m, states[k].cache, tok1, 512 + i, lv)
                dec[k].append(time.perf_counter() - t)
        for k in models:
            dec[k] = dec[k][2:] or dec[k]
        # batch 8: each row on its own cache, as generate does (`decode_rows`)
        batch = {}
        for k in ("int8", "bf16"):
            caches = [prefill_row(models[k], p)[0].cache for p in prompts]
            toks = torch.tensor([p[-1] for p in prompts])
            lv8 = torch.zeros(8, 1, 3, dtype=torch.long)
            steps = []
            for i in range(new_tokens):
                t = time.perf_counter()
                decode_rows(models[k], caches, toks, [len(p) + i for p in prompts], lv8)
                steps.append(time.perf_counter() - t)
            batch[k] = statistics.median(steps[2:] or steps)
        # one int8 decode step vs its matmuls alone, timed in CPU time of this thread (on a shared
        # machine other jobs stall the thread, which wall time counts and CPU time does not), each
        # timed step decoding the next position as generation does (so what a step keeps for the
        # next one, the hierarchy's running sums and the pooled block keys, is used as in use)
        # ... and the same beside it in the same loop with the compiled pieces off (the sparse
        # decode attention as eager ops, int8 experts through their modules: the code before them),
        # each on its own cache
        from model.attention import SparseAttention
        from model.experts import Expert

        def compiled(on: bool) -> None:
            SparseAttention.native = Expert.direct_int8pack = Expert.native = on

        pos = 512 + new_tokens
        own = {True: states["int8"].cache, False: prefill_row(int8, p0)[0].cache}
        step_t, mm_t, calls = {}, {}, {}
        compiled(False)
        for i in range(new_tokens):                           # the slots the first cache holds
            decode_one(int8, own[False], tok1, 512 + i, lv)
        for on in (True, False):
            compiled(on)
            calls[on] = _linear_calls(int8, lambda: decode_one(int8, own[on], tok1, pos, lv))
            step_t[on], mm_t[on] = [], []
        xs = {on: [(m, torch.randn(shape)) for m, shape in calls[on]] for on in calls}
        for i in range(reps * 8):
            for on in (True, False):
                compiled(on)
                t = time.thread_time()
                decode_one(int8, own[on], tok1, pos + 1 + i, lv)
                step_t[on].append(time.thread_time() - t)
                t = time.thread_time()
                for m, x in xs[on]:
                    m(x)
                mm_t[on].append(time.thread_time() - t)
        compiled(True)
        calls, step_eager, mm_eager = calls[True], step_t[False], mm_t[False]
        step_t, mm_t = step_t[True], mm_t[True]
        prefill_calls = _linear_calls(int8, lambda: prefill_row(int8, p0))
    flops = sum(2 * shape[0] * m.in_features * m.out_features for m, shape in prefill_calls)
    med = {k: statistics.median(v) for k, v in pre.items()}
    dmed = {k: statistics.median(v) for k, v in dec.items()}
    out.update({
        "prefill_512_ms": round(med["int8"] * 1e3, 1),
        "prefill_512_ms_bf16": round(med["bf16"] * 1e3, 1), "prefill_512_ms_fp32": round(med["fp32"] * 1e3, 1),
        "decode_tokens_per_s": round(1 / dmed["int8"], 1),
        "decode_tokens_per_s_bf16": round(1 / dmed["bf16"], 1), "decode_tokens_per_s_fp32": round(1 / dmed["fp32"], 1),
        "decode_tokens_per_s_batch8": round(8 / batch["int8"], 1),
        "decode_tokens_per_s_batch8_bf16": round(8 / batch["bf16"], 1),
        "decode_overhead_ratio": round(statistics.median(step_t) / statistics.median(mm_t), 2),
        "decode_step_ms": round(statistics.median(step_t) * 1e3, 3),
        "decode_step_matmuls_ms": round(statistics.median(mm_t) * 1e3, 3),
        "decode_step_linear_calls": len(calls),
        "decode_overhead_ratio_eager_ops": round(statistics.median(step_eager) / statistics.median(mm_eager), 2),
        "decode_step_ms_eager_ops": round(statistics.median(step_eager) * 1e3, 3),
        "int8_vs_bf16_speed_prefill": round(med["bf16"] / med["int8"], 2),
        "int8_vs_bf16_speed_decode": round(dmed["bf16"] / dmed["int8"], 2),
        "int8_vs_bf16_speed_prefill_cpu": round(statistics.median(pre_cpu["bf16"]) / statistics.median(pre_cpu["int8"]), 2),
        "prefill_512_cpu_ms": round(statistics.median(pre_cpu["int8"]) * 1e3, 1),
        "prefill_512_cpu_ms_bf16": round(statistics.median(pre_cpu["bf16"]) * 1e3, 1),
        "int8_vs_fp32_speed_prefill": round(med["fp32"] / med["int8"], 2),
        "int8_vs_fp32_speed_decode": round(dmed["fp32"] / dmed["int8"], 2),
        "prefill_linear_gflop": round(flops / 1e9, 3),
    })
    try:
        from bench.gemm_probe import cpu_flags, peak_gflops
    except ImportError:
        from gemm_probe import cpu_flags, peak_gflops
    peaks = {d: peak_gflops(d, threads=torch.get_num_threads(), seconds=0.1) for d in ("fp32", "bf16", "int8")}
    best = max(v for v in peaks.values() if v)
    out.update(gemm_peak_gflops=peaks, cpu_flags=cpu_flags(),
               prefill_gflops=round(flops / med["int8"] / 1e9, 1),
               prefill_mfu=round(flops / med["int8"] / 1e9 / best, 3))
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer repetitions, no r1-base prefill sweep (< 1 min)")
    ap.add_argument("--json", action="store_true", help="end with one JSON line holding every figure")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch CPU threads (default 1: stable figures on a shared machine; 0 = torch's)")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    reps = 5 if args.quick else 20
    cfg = R1Config.preset("r1-tiny")
    fp = torch.float16 if device.type == "cuda" else torch.float32
    t0 = time.perf_counter()
    fig, detail = {}, {"device": str(device), "threads": torch.get_num_threads(), "quick": args.quick}

    def say(msg):
        print(msg, flush=True)

    if device.type == "cpu":
        loop = bench_loop(3 if args.quick else 10, 12 if args.quick else 48)
        keys = ("prefill_512_ms", "decode_tokens_per_s", "decode_tokens_per_s_batch8", "decode_overhead_ratio",
                "int8_vs_bf16_speed_prefill", "int8_vs_bf16_speed_decode", "prefill_mfu")
        fig.update({k: loop[k] for k in keys})
        detail["loop"] = loop
        say(f"generation loop (shipped r1-tiny, int8 kernels decode={loop['kernels']['decode']}, "
            f"prefill={loop['kernels']['prefill']}; CPU {' '.join(loop['cpu_flags'])}):")
        say(f"  prefill 512: int8 {loop['prefill_512_ms']} ms, bf16 {loop['prefill_512_ms_bf16']} ms, "
            f"fp32 {loop['prefill_512_ms_fp32']} ms; {loop['prefill_gflops']} GFLOPS = MFU {loop['prefill_mfu']} "
            f"of the best GEMM peak {loop['gemm_peak_gflops']}")
        say(f"  decode batch 1: int8 {loop['decode_tokens_per_s']} tok/s, bf16 {loop['decode_tokens_per_s_bf16']}, "
            f"fp32 {loop['decode_tokens_per_s_fp32']}; batch 8: int8 {loop['decode_tokens_per_s_batch8']} tok/s, "
            f"bf16 {loop['decode_tokens_per_s_batch8_bf16']}")
        say(f"  decode step {loop['decode_step_ms']} ms CPU vs its {loop['decode_step_linear_calls']} matmuls alone "
            f"{loop['decode_step_matmuls_ms']} ms -> overhead ratio {loop['decode_overhead_ratio']} "
            f"(eager ops: {loop['decode_step_ms_eager_ops']} ms, {loop['decode_overhead_ratio_eager_ops']})")
        say(f"  int8 vs bf16 speed: prefill {loop['int8_vs_bf16_speed_prefill']}x, decode "
            f"{loop['int8_vs_bf16_speed_decode']}x (vs fp32: {loop['int8_vs_fp32_speed_prefill']}x, "
            f"{loop['int8_vs_fp32_speed_decode']}x)")

    moe = bench_moe(cfg, device, reps)
    fig["moe_dispatch_speedup"] = round(moe["moe_dispatch_speedup"], 2)
    detail["moe"] = moe
    say(f"MoE top-4 of 16, {moe['moe_tokens']} tokens: sparse {moe['moe_sparse']['p50_ms']} ms, "
        f"every-expert {moe['moe_dense']['p50_ms']} ms -> {fig['moe_dispatch_speedup']}x")

    for ctx, key in ((2048, "2k"), (8192, "8k")):
        a = bench_attention(cfg, device, ctx, reps * 4)
        fig[f"sparse_attn_speedup_{key}"] = round(a["speedup"], 2)
        detail[f"attn_decode_{key}"] = a
        fig[f"sparse_attn_speedup_{key}_warm"] = round(a["speedup_warm"], 2)
        if key == "8k":
            fig["sparse_attn_kept_fraction_8k"] = round(a["kept_fraction"], 4)
        say(f"attention decode step, {ctx} cached keys: sparse {a['sparse']['p50_ms']} ms "
            f"(kept {a['kept_fraction']:.3f}), dense {a['dense']['p50_ms']} ms -> {a['speedup']:.2f}x "
            f"interleaved, {a['speedup_warm']:.2f}x warm")
    for ctx in (2048,) if args.quick else (2048, 8192):
        key = f"{ctx // 1024}k"
        a = bench_attention(cfg, device, ctx, 2 if args.quick else 3, prefill=True)
        fig[f"sparse_prefill_speedup_{key}"] = round(a["speedup"], 2)
        detail[f"attn_prefill_{key}"] = a
        say(f"attention prefill {ctx} tokens (one layer): sparse {a['sparse']['p50_ms']} ms, "
            f"dense {a['dense']['p50_ms']} ms -> {a['speedup']:.2f}x")

    new = 16 if args.quick else 64
    tiny = bench_model("r1-tiny", device, fp, 512, new, reps)
    tiny_q = bench_model("r1-tiny", device, fp, 512, new, reps, quantize=True)
    q = tiny_q["quant"]
    fig.update(tiny_decode_tok_s=round(tiny["decode_tok_s"], 1), tiny_prefill_512_ms=round(tiny["prefill_ms"], 1),
               int8_weight_bytes_ratio=round(q["weight_bytes_int8"] / q["weight_bytes_fp16"], 4),
               int8_max_rel_error=round(q["max_rel_error"], 5),
               int8_rel_l2_error=round(q["rel_l2_error"], 5),
               int8_top1_agreement=round(q["top1_agreement"], 4),
               int8_mode=q["mode"],
               int8_decode_tok_s=round(tiny_q["decode_tok_s"], 1),
               int8_decode_speedup=round(tiny_q["decode_tok_s"] / tiny["decode_tok_s"], 2),
               int8_prefill_512_ms=round(tiny_q["prefill_ms"], 1))
    detail.update(tiny=tiny, tiny_int8=tiny_q)
    say(f"r1-tiny ({tiny['params'] / 1e6:.1f}M params, {fp}): prefill 512 {fig['tiny_prefill_512_ms']} ms, "
        f"decode {fig['tiny_decode_tok_s']} tok/s (p50 {tiny['decode']['p50_ms']} ms, p99 {tiny['decode']['p99_ms']} ms)")
    say(f"r1-tiny int8 ({q['mode']}): weights {q['weight_bytes_int8'] / 1e6:.2f} MB vs fp16 "
        f"{q['weight_bytes_fp16'] / 1e6:.2f} MB / fp32 {q['weight_bytes_fp32'] / 1e6:.2f} MB, "
        f"max rel error {q['max_rel_error']:.4f} (rel L2 {q['rel_l2_error']:.4f}, top-1 agreement "
        f"{q['top1_agreement']:.3f}), decode {fig['int8_decode_tok_s']} tok/s, "
        f"prefill 512 {fig['int8_prefill_512_ms']} ms")

    base = bench_model("r1-base", device, fp, 128 if args.quick else 512, 4 if args.quick else 16,
                       1 if args.quick else 3)
    fig["base_decode_tok_s"] = round(base["decode_tok_s"], 2)
    fig["base_prefill_128_ms" if args.quick else "base_prefill_512_ms"] = round(base["prefill_ms"], 1)
    detail["base"] = base
    say(f"r1-base ({base['params'] / 1e6:.0f}M params): prefill {base['prefill_ms']:.0f} ms "
        f"({128 if args.quick else 512} tokens), decode {fig['base_decode_tok_s']} tok/s")

    if not args.quick:
        base_q = bench_model("r1-base", device, fp, 512, 16, 3, quantize=True)
        fig.update(base_int8_decode_tok_s=round(base_q["decode_tok_s"], 2),
                   base_int8_prefill_512_ms=round(base_q["prefill_ms"], 1),
                   base_int8_max_rel_error=round(base_q["quant"]["max_rel_error"], 5))
        detail["base_int8"] = base_q
        say(f"r1-base int8 ({base_q['quant']['mode']}): prefill 512 {base_q['prefill_ms']:.0f} ms, "
            f"decode {fig['base_int8_decode_tok_s']} tok/s, max rel error {fig['base_int8_max_rel_error']}")

    fig["bench_seconds"] = round(time.perf_counter() - t0, 1)
    if args.json:
        print(json.dumps({**fig, "detail": detail}))
    else:
        for k, v in fig.items():
            print(f"{k:32s} {v}")


if __name__ == "__main__":
    main()
