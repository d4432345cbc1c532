"""R1 model benchmark: ratios measured side by side in one run, plus latency percentiles.

    python bench/model_bench.py [--quick] [--json] [--threads N] [--device cpu|cuda]

CPU figures use one thread unless --threads says otherwise (small ops on a loaded 2-core
machine slow down 10-100x from OpenMP spin contention with two threads).

Figures (the last stdout line with --json is one JSON object holding them all):
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

from model import R1Config, R1Model, generate, quantize_model  # noqa: E402
from model.attention import KVCache, SparseAttention, key_masks, rope_angles, select_keys  # noqa: E402


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
