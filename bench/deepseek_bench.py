"""DeepSeek-V2/V3 checkpoints in r1lsp's runtime vs `transformers`, on one random checkpoint.

    python bench/deepseek_bench.py [--quick] [--json] [--threads N]

Builds (in a temporary folder) a random DeepSeek-V3-layout checkpoint with `transformers`
(MLA, 16 routed experts top-4 + a shared one, group-limited sigmoid routing; sharded like the
releases), then, side by side in one run:
  deepseek_decode_tok_s_{ours,hf,ours_int8}  greedy decode, batch 1, same prompt and
                                 max_new_tokens, KV cache on both sides; ours through
                                 model.generate.generate, HF through model.generate(use_cache=True)
  deepseek_decode_speedup_vs_hf  ours fp32 / HF fp32 (runs timed alternately); _int8: ours int8 / HF
  deepseek_greedy_agreement      share of the greedy tokens ours-fp32 and HF agree on (up to the
                                 first difference, which changes every later token)
  deepseek_int8_greedy_agreement the same, ours int8 vs HF
  deepseek_int8_rel_l2_error, deepseek_int8_top1_agreement  int8 vs fp32 logits on the prompt
  deepseek_peak_load_bytes_ratio peak RSS growth while load_deepseek(int8) runs / bytes of the
                                 loaded model (int8 Linears + scales, the rest fp32), measured in
                                 a fresh subprocess (VmHWM - VmRSS before, after imports and one
                                 meta-device build of the network); 1.0 = no transient
  deepseek_peak_load_bytes_ratio_mmap   the same with safetensors' mmap backend (the shard being
                                 read counts in RSS while it is open)
  deepseek_naive_peak_load_bytes_ratio  the same for the naive way: safetensors load_file of
                                 every shard, build the fp32 model, load_state_dict, quantize
  deepseek_load_int8_s           wall time of the streamed int8 load
  deepseek_decode_speedup_vs_hf_1k  decode steps alone (prefill subtracted) after a 1,024-token
                                 prompt: ours (latent cache, absorbed MLA) / HF (re-expands the
                                 cached latents into per-head keys and values every step)
The weights are random (std 0.02, the usual init scale): speed and memory are what is measured, not quality.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import torch  # noqa: E402

SIZES = {
    # ~53M params, 212 MB fp32: weights dominate the load's memory
    True: dict(vocab_size=8192, hidden_size=512, intermediate_size=1024, moe_intermediate_size=512,
               num_hidden_layers=4, num_attention_heads=8, num_key_value_heads=8, n_routed_experts=16,
               n_shared_experts=1, num_experts_per_tok=4, first_k_dense_replace=1, kv_lora_rank=128,
               q_lora_rank=192, qk_rope_head_dim=32, qk_nope_head_dim=64, v_head_dim=64,
               n_group=4, topk_group=2, routed_scaling_factor=2.5, max_position_embeddings=2048),
    # ~160M params, 640 MB fp32
    False: dict(vocab_size=16384, hidden_size=768, intermediate_size=2048, moe_intermediate_size=512,
                num_hidden_layers=6, num_attention_heads=12, num_key_value_heads=12, n_routed_experts=32,
                n_shared_experts=1, num_experts_per_tok=6, first_k_dense_replace=1, kv_lora_rank=256,
                q_lora_rank=384, qk_rope_head_dim=32, qk_nope_head_dim=64, v_head_dim=64,
                n_group=4, topk_group=2, routed_scaling_factor=2.5, max_position_embeddings=2048),
}


LONG_CONTEXT = 1024


def timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def status_bytes(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    raise KeyError(key)


def measure_load(folder: str, how: str) -> dict:
    """Run in a fresh process: peak RSS growth of one load (`how`: int8 | int8-mmap | naive)."""
    import torch.nn as nn  # noqa: F401  (imports before the baseline)
    from safetensors.torch import load_file

    from model.deepseek.config import DeepseekConfig
    from model.deepseek.loader import load_deepseek
    from model.deepseek.network import DeepseekForCausalLM
    from model.quantize import quantize_model

    torch.set_num_threads(1)
    # one-time costs out of the baseline: the first meta-device build pulls in torch's meta
    # kernels (~80 MB RSS, whatever the model's size); both ways build the network once
    with torch.device("meta"):
        DeepseekForCausalLM(DeepseekConfig.from_folder(folder))
    rss0 = status_bytes("VmRSS")
    try:
        Path("/proc/self/clear_refs").write_text("5")             # VmHWM := VmRSS
    except OSError:
        pass
    t = time.perf_counter()
    if how.startswith("int8"):
        loaded = load_deepseek(folder, quantization="int8", backend="mmap" if how == "int8-mmap" else "pread")
        model = loaded.model
    else:
        cfg = DeepseekConfig.from_folder(folder)
        state = {}
        for shard in sorted(Path(folder).glob("model*.safetensors")):
            state.update(load_file(str(shard)))
        model = DeepseekForCausalLM(cfg)
        model.load_state_dict(state, strict=True)
        del state
        quantize_model(model, "cpu", skip=("kv_b_proj",), probe=torch.zeros(1, 4, dtype=torch.long))
    seconds = time.perf_counter() - t
    hwm = status_bytes("VmHWM")
    held = sum(x.numel() * x.element_size() for x in
               {id(x): x for x in list(model.parameters()) + list(model.buffers())}.values())
    return {"how": how, "rss_before": rss0, "peak": hwm, "rss_after": status_bytes("VmRSS"),
            "model_bytes": held, "seconds": round(seconds, 3),
            "peak_growth_ratio": round((hwm - rss0) / held, 3)}


def load_in_subprocess(folder, how) -> dict:
    run = subprocess.run([sys.executable, __file__, "--_measure-load", str(folder), how],
                         capture_output=True, text=True, timeout=600)
    if run.returncode:
        raise RuntimeError(f"measure {how} failed: {run.stderr[-2000:]}")
    return json.loads(run.stdout.strip().splitlines()[-1])


def agreement(a: list[int], b: list[int]) -> float:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n / max(len(a), len(b), 1)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="the ~50M-parameter checkpoint, fewer tokens (< 1 min)")
    ap.add_argument("--json", action="store_true", help="end with one JSON line holding every figure")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1; 0 = torch's)")
    ap.add_argument("--_measure-load", nargs=2, metavar=("FOLDER", "HOW"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args._measure_load:
        print(json.dumps(measure_load(*args._measure_load)))
        return
    if args.threads:
        torch.set_num_threads(args.threads)
    from deepseek_support import build_reference

    from model.deepseek.loader import load_deepseek
    from model.generate import generate

    t0 = time.perf_counter()
    fig, detail = {}, {"threads": torch.get_num_threads(), "quick": args.quick}
    new_tokens, reps = (24, 2) if args.quick else (64, 3)

    def say(msg):
        print(msg, flush=True)

    with tempfile.TemporaryDirectory(prefix="deepseek-bench-") as tmp:
        folder = Path(tmp) / "ckpt"
        t = time.perf_counter()
        ref = build_reference("v3", folder, max_shard_size="40MB", weight_std=0.02, **SIZES[args.quick])
        file_bytes = sum(p.stat().st_size for p in folder.glob("*.safetensors"))
        n_params = sum(p.numel() for p in ref.parameters())
        detail["checkpoint"] = {"params": n_params, "file_bytes": file_bytes, "build_s": round(time.perf_counter() - t, 1),
                                "shards": len(list(folder.glob("*.safetensors"))), "config": SIZES[args.quick]}
        say(f"checkpoint: {n_params / 1e6:.1f}M params, {file_bytes / 1e6:.0f} MB fp32 in "
            f"{detail['checkpoint']['shards']} shards (built in {detail['checkpoint']['build_s']} s)")

        # (b) memory first, in fresh processes, while this one is still small
        loads = {how: load_in_subprocess(folder, how) for how in ("int8", "int8-mmap", "naive")}
        detail["load"] = loads
        fig["deepseek_peak_load_bytes_ratio"] = loads["int8"]["peak_growth_ratio"]
        fig["deepseek_peak_load_bytes_ratio_mmap"] = loads["int8-mmap"]["peak_growth_ratio"]
        fig["deepseek_naive_peak_load_bytes_ratio"] = loads["naive"]["peak_growth_ratio"]
        fig["deepseek_load_int8_s"] = loads["int8"]["seconds"]
        for how, r in loads.items():
            say(f"load {how:10s}: peak growth {(r['peak'] - r['rss_before']) / 1e6:.0f} MB for a "
                f"{r['model_bytes'] / 1e6:.0f} MB model -> ratio {r['peak_growth_ratio']}, {r['seconds']} s")

        # (a) decode
        ours = load_deepseek(folder, quantization="none").model
        ours8 = load_deepseek(folder, quantization="int8").model
        g = torch.Generator().manual_seed(0)
        prompt = torch.randint(3, SIZES[args.quick]["vocab_size"], (16,), generator=g).tolist()
        ids = torch.tensor([prompt])
        hf_kw = dict(max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False, use_cache=True,
                     pad_token_id=0)
        out = {}

        def run_ours():
            out["ours"] = generate(ours, [prompt], max_new_tokens=new_tokens)[0].tokens

        def run_ours8():
            out["ours8"] = generate(ours8, [prompt], max_new_tokens=new_tokens)[0].tokens

        def run_hf():
            with torch.no_grad():
                out["hf"] = ref.generate(ids, **hf_kw)[0, len(prompt):].tolist()

        with torch.no_grad():                                         # int8 error on the prompt's logits
            lf, l8 = ours(ids).logits, ours8(ids).logits
        fig["deepseek_int8_rel_l2_error"] = round(float((l8 - lf).norm() / lf.norm()), 4)
        fig["deepseek_int8_top1_agreement"] = round(float((l8.argmax(-1) == lf.argmax(-1)).float().mean()), 3)
        times = {"ours": [], "hf": [], "ours8": []}
        for fn in (run_ours, run_hf, run_ours8):                      # warm-up
            fn()
        for _ in range(reps):
            for key, fn in (("ours", run_ours), ("hf", run_hf), ("ours8", run_ours8)):
                t = time.perf_counter()
                fn()
                times[key].append(time.perf_counter() - t)
        tok_s = {k: new_tokens / statistics.median(v) for k, v in times.items()}
        fig.update(deepseek_decode_tok_s_ours=round(tok_s["ours"], 1), deepseek_decode_tok_s_hf=round(tok_s["hf"], 1),
                   deepseek_decode_tok_s_ours_int8=round(tok_s["ours8"], 1),
                   deepseek_decode_speedup_vs_hf=round(tok_s["ours"] / tok_s["hf"], 2),
                   deepseek_decode_speedup_vs_hf_int8=round(tok_s["ours8"] / tok_s["hf"], 2),
                   deepseek_greedy_agreement=round(agreement(out["ours"], out["hf"]), 3),
                   deepseek_int8_greedy_agreement=round(agreement(out["ours8"], out["hf"]), 3))
        detail["decode"] = {"new_tokens": new_tokens, "prompt_tokens": len(prompt), "reps": reps,
                            "seconds": {k: [round(x, 4) for x in v] for k, v in times.items()},
                            "tokens": out}
        say(f"greedy decode, prompt {len(prompt)}, {new_tokens} new tokens (incl. prefill), one thread: "
            f"ours fp32 {fig['deepseek_decode_tok_s_ours']} tok/s, HF fp32 {fig['deepseek_decode_tok_s_hf']} tok/s "
            f"-> {fig['deepseek_decode_speedup_vs_hf']}x; ours int8 {fig['deepseek_decode_tok_s_ours_int8']} tok/s "
            f"-> {fig['deepseek_decode_speedup_vs_hf_int8']}x")
        say(f"greedy tokens: ours fp32 vs HF agree on {fig['deepseek_greedy_agreement']:.0%} "
            f"({'identical' if out['ours'] == out['hf'] else 'first difference at ' + str(round(fig['deepseek_greedy_agreement'] * new_tokens))}); "
            f"int8 vs HF {fig['deepseek_int8_greedy_agreement']:.0%}")

        # (c) decode steps alone at a long context: rate = K / (t(1 + K new tokens) - t(1 new token))
        long_prompt = torch.randint(3, SIZES[args.quick]["vocab_size"], (LONG_CONTEXT,), generator=g).tolist()
        long_ids = torch.tensor([long_prompt])
        K = 16

        def ours_n(n):
            return lambda: generate(ours, [long_prompt], max_new_tokens=n)

        def hf_n(n):
            def run():
                with torch.no_grad():
                    ref.generate(long_ids, **{**hf_kw, "max_new_tokens": n, "min_new_tokens": n})
            return run

        step = {}
        for key, make in (("ours", ours_n), ("hf", hf_n)):
            one, many = make(1), make(1 + K)
            one()
            t1 = statistics.median(timed(one) for _ in range(reps))
            tk = statistics.median(timed(many) for _ in range(reps))
            step[key] = K / max(tk - t1, 1e-9)
        fig["deepseek_decode_tok_s_ours_1k"] = round(step["ours"], 1)
        fig["deepseek_decode_tok_s_hf_1k"] = round(step["hf"], 1)
        fig["deepseek_decode_speedup_vs_hf_1k"] = round(step["ours"] / step["hf"], 2)
        say(f"decode steps alone after a {LONG_CONTEXT}-token prompt: ours {step['ours']:.1f} tok/s (latent cache, "
            f"absorbed MLA), HF {step['hf']:.1f} tok/s -> {fig['deepseek_decode_speedup_vs_hf_1k']}x")

    fig["bench_seconds"] = round(time.perf_counter() - t0, 1)
    if args.json:
        print(json.dumps({**fig, "detail": detail}))
    else:
        for k, v in fig.items():
            print(f"{k:40s} {v}")


if __name__ == "__main__":
    main()
