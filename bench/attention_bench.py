"""Sparse attention with block-sparse key selection vs dense, side by side in one run.

    python bench/attention_bench.py --quick --json

Figures (last line with --json):
  sparse_attn_speedup_8k        one decode step of an r1-tiny attention layer with 8,192 cached
                                keys: dense SDPA time / block-sparse time (random weights and keys,
                                as bench/model_bench.py measures it)
  sparse_attn_speedup_8k_exact  the same for the previous selection (the indexer scores all keys)
  sparse_attn_speedup_8k_eager_ops  the same block-sparse step as eager PyTorch ops instead of the
                                compiled call (`model.native`; the figure above uses it where it
                                builds, as decoding does): before / after side by side
  sparse_attn_speedup_2k        the decode step with 2,048 cached keys, block-sparse
  sparse_prefill_speedup_{2k,8k}  prefill through one layer of the shipped r1-tiny (its trained
                                indexer) on held-out text, dense / block-sparse (8k: full run only)
  sparse_prefill_speedup_{2k,8k}_exact  the same for the previous selection
  sparse_loss_vs_dense          held-out loss of the shipped r1-tiny with block-sparse selection
                                / with dense attention (every visible key kept), minus 1
  sparse_loss_vs_exact          block-sparse / the previous (exact) selection, minus 1
Held-out text: this repository's own `r1lsp/` sources, which the shipped model never saw (its
corpus is the standard library, site-packages and the JDK); windows of 1,024 (--quick) or
2,048 tokens, the first window of each file long enough. Other jobs share this machine (its load reached
6x its cores while these were measured): each time is the least CPU time of this thread over
interleaved runs (sparse, dense, sparse, ...; each evicts the other's data from the CPU caches, as
other layers do in a model), since other jobs only ever slow a run down; wall-time ratios are
in the detail (speedup_wall); only the ratios mean much.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from model.attention import KVCache, SparseAttention, rope_angles     # noqa: E402
from model.config import R1Config                                      # noqa: E402


def timed_pair(fa, fb, reps):
    """Least time of each of fa, fb run alternately: (CPU time of this thread, wall time) pairs."""
    a, b = ([], []), ([], [])
    for f in (fa, fb):
        f()
    for _ in range(reps):
        for f, out in ((fa, a), (fb, b)):
            t, w = time.thread_time(), time.perf_counter()
            f()
            out[0].append(time.thread_time() - t)
            out[1].append(time.perf_counter() - w)
    return (min(a[0]), min(b[0])), (min(a[1]), min(b[1]))


def both_selections(sparse_fn, dense_fn, reps, digits):
    """{"block": ..., "exact": ...}: sparse and dense times (ms, CPU time of the thread: other jobs
    on the machine stall a thread, which wall time counts) and dense / sparse, per selection;
    the same in wall time as speedup_wall."""
    res = {}
    with torch.no_grad():
        for name, block, native in (("block", True, True), ("block_eager", True, False), ("exact", False, True)):
            SparseAttention.block_sparse, SparseAttention.native = block, native
            (ts, td), (ws, wd) = timed_pair(sparse_fn, dense_fn, reps)
            res[name] = {"sparse_ms": round(ts * 1e3, digits), "dense_ms": round(td * 1e3, digits),
                         "speedup": round(td / ts, 2), "speedup_wall": round(wd / ws, 2)}
    SparseAttention.block_sparse, SparseAttention.native = True, True
    return res


def decode_step(cfg, context, reps):
    """Dense / sparse time of one decode step, for block-sparse and for exact selection."""
    torch.manual_seed(0)
    sparse = SparseAttention(cfg).eval()
    dense = SparseAttention(dataclasses.replace(cfg, attn_sparse=False)).eval()
    dense.load_state_dict({k: v for k, v in sparse.state_dict().items() if "indexer" not in k})
    H, D, S = cfg.n_heads, cfg.head_dim, context
    k, v, ik = torch.randn(1, S, H, D), torch.randn(1, S, H, D), torch.randn(1, S, cfg.index_dim)
    cs, cd = KVCache(1, S + 1), KVCache(1, S + 1)
    cs.update(0, k, v, ik)
    cd.update(0, k, v)
    x = torch.randn(1, 1, cfg.d_model)
    pos = torch.full((1, 1), S)
    rope, irope = rope_angles(pos, D, cfg.rope_theta), rope_angles(pos, cfg.index_dim, cfg.rope_theta)
    return both_selections(lambda: sparse(x, rope, irope, S, None, cs), lambda: dense(x, rope, irope, S, None, cd),
                           reps, 3)


def heldout_windows(tok, T, n):
    wins = []
    for f in sorted((ROOT / "r1lsp").rglob("*.py")):
        ids = tok.encode(f.read_text()).ids
        if len(ids) >= T + 1:
            wins.append(ids[:T + 1])
    step = max(1, len(wins) // n)
    return torch.tensor(wins[::step][:n])


def long_text(tok, T):
    ids = []
    for f in sorted((ROOT / "r1lsp").rglob("*.py")):
        ids += tok.encode(f.read_text()).ids
        if len(ids) > T:
            break
    return torch.tensor(ids[:T])[None]


def prefill_layer(model, tok, T, layer, reps):
    """dense / sparse time of one layer's prefill on held-out text, block and exact selection."""
    x = long_text(tok, T)
    caught = {}
    h = model.blocks[layer].attn.register_forward_pre_hook(lambda mod, args: caught.setdefault("a", args))
    with torch.no_grad():
        model.trunk(x)
    h.remove()
    attn = model.blocks[layer].attn
    dense = SparseAttention(dataclasses.replace(model.cfg, attn_sparse=False)).eval()
    dense.load_state_dict({k: v for k, v in attn.state_dict().items() if "indexer" not in k})
    return both_selections(lambda: attn(*caught["a"]), lambda: dense(*caught["a"]), reps, 1)


def heldout_loss(model, wins):
    """Mean next-token loss over the windows for dense (keep every visible key), exact and block
    selection; the model's own gate threshold and budget otherwise."""
    cfg = model.cfg
    thr, topk = cfg.gate_threshold, cfg.attn_topk
    out = {}
    with torch.no_grad():
        for name in ("dense", "exact", "block"):
            cfg.gate_threshold, cfg.attn_topk = (0.0, 10 ** 9) if name == "dense" else (thr, topk)
            SparseAttention.block_sparse = name == "block"
            tot = 0.0
            for w in wins:
                logits = model(w[None, :-1]).logits
                tot += F.cross_entropy(logits[0].float(), w[1:], reduction="sum").item()
            out[name] = tot / (len(wins) * (wins.size(1) - 1))
    cfg.gate_threshold, cfg.attn_topk = thr, topk
    SparseAttention.block_sparse = True
    return out


def record(fig, detail, name, key, r, what):
    detail[f"{name}_{key}"] = r
    figname = "sparse_attn_speedup" if name == "decode" else "sparse_prefill_speedup"
    fig[f"{figname}_{key}"] = r["block"]["speedup"]
    fig[f"{figname}_{key}_exact"] = r["exact"]["speedup"]
    if name == "decode":
        fig[f"{figname}_{key}_eager_ops"] = r["block_eager"]["speedup"]
    print(f"{what}: dense {r['block']['dense_ms']} ms, block-sparse {r['block']['sparse_ms']} ms "
          f"({r['block']['speedup']}x; its eager ops {r['block_eager']['sparse_ms']} ms, {r['block_eager']['speedup']}x), "
          f"exact selection {r['exact']['sparse_ms']} ms ({r['exact']['speedup']}x)", flush=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="prefill at 2K only, 2 loss windows of 1,024 (< 1 min)")
    ap.add_argument("--json", action="store_true", help="last line: one JSON object")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--layer", type=int, default=2, help="the shipped model's layer timed in prefill")
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    t0 = time.time()
    fig, detail = {}, {}
    cfg = R1Config.preset("r1-tiny")
    for ctx, key in ((2048, "2k"), (8192, "8k")):
        record(fig, detail, "decode", key, decode_step(cfg, ctx, 20 if a.quick else 60),
               f"decode step, {ctx} cached keys")

    from model.checkpoint import load_checkpoint
    ck = load_checkpoint(ROOT / "model" / "checkpoints" / "r1-tiny")
    model = ck.model.float().eval()
    for T, key in ((2048, "2k"),) if a.quick else ((2048, "2k"), (8192, "8k")):
        record(fig, detail, "prefill", key, prefill_layer(model, ck.tokenizer, T, a.layer, 1 if a.quick else 2),
               f"prefill {T} tokens, layer {a.layer} of the shipped r1-tiny")

    T, n = (1024, 2) if a.quick else (2048, 4)
    losses = heldout_loss(model, heldout_windows(ck.tokenizer, T, n))
    detail["heldout_loss"] = {k: round(v, 4) for k, v in losses.items()} | {"windows": n, "tokens": T}
    fig["sparse_loss_vs_dense"] = round(losses["block"] / losses["dense"] - 1, 4)
    fig["sparse_loss_vs_exact"] = round(losses["block"] / losses["exact"] - 1, 4)
    print(f"held-out loss ({n} windows x {T} tokens of r1lsp/): dense {losses['dense']:.4f}, exact "
          f"{losses['exact']:.4f}, block-sparse {losses['block']:.4f}")
    fig["bench_seconds"] = round(time.time() - t0, 1)
    if a.json:
        print(json.dumps({**fig, "detail": detail}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
