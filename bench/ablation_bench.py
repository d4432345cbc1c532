"""The seed's design choices, measured at equal tokens: held-out loss and training speed of the R1
block with each choice switched off, one at a time, every run from the same initial seed on the
same batches (the batch of step s is a function of the seed and s).

    python bench/ablation_bench.py --corpus cache/corpus --tokens 300000 [--json]
    python bench/ablation_bench.py --quick --json         # the tests' fixture corpus, a few steps

Variants (``--width`` / ``--layers``: a reduced r1-tiny, so that each run gets enough steps on
one CPU thread):
  * ``r1``: hierarchy fed back, gated sparse attention, 16 experts top-4;
  * ``no-hierarchy``: ``hier_layers=()`` (no phrase / sentence / paragraph vectors);
  * ``dense-attention``: ``attn_sparse=False`` (plain causal attention, no indexer, no gate loss);
  * ``dense-ffn``: one expert of 4x the hidden width, always chosen: the same active FFN
    parameters per token as top-4 of 16 (and 4x fewer FFN parameters in all).
Speeds are measured one run after another on a shared machine: compare them as ratios within
one invocation only.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from model.config import R1Config  # noqa: E402
from model.network import R1Model  # noqa: E402
from model.train import Trainer, TrainConfig  # noqa: E402


def variants(base: R1Config) -> dict[str, R1Config]:
    r = dataclasses.replace
    return {
        "r1": base,
        "no-hierarchy": r(base, hier_layers=()),
        "dense-attention": r(base, attn_sparse=False, gate_loss_weight=0.0),
        "dense-ffn": r(base, n_experts=1, n_active=1, expert_hidden=base.expert_hidden * base.n_active,
                       aux_loss_weight=0.0),
    }


def base_config(vocab: int, width: int, layers: int, seq_len: int) -> R1Config:
    w = width
    return R1Config.preset("r1-tiny", vocab_size=vocab, d_model=w, n_layers=layers, n_heads=max(2, w // 64),
                           level_dims=(w, w * 3 // 4, w // 2, w * 3 // 8), hier_layers=(layers // 2,),
                           expert_hidden=w, max_seq_len=max(256, seq_len), attn_topk=min(256, seq_len),
                           local_window=min(64, seq_len // 2), key_block=min(64, seq_len // 2))


def run_variant(name: str, cfg: R1Config, corpus: Path, out: Path, a) -> dict:
    steps = max(1, a.tokens // (a.batch_size * a.seq_len))
    tc = TrainConfig(corpus=str(corpus), out=str(out / name), seq_len=a.seq_len, batch_size=a.batch_size,
                     lr=a.lr, warmup=max(1, steps // 10), max_steps=steps, eval_every=0, eval_tokens=a.eval_tokens,
                     save_every=0, log_every=max(1, steps // 5), amp="fp32", compile="off", threads=1, seed=0,
                     resume=False)
    torch.manual_seed(0)
    tr = Trainer(tc, log=lambda s: None, make_model=lambda: R1Model(cfg))
    t0 = time.perf_counter()
    res = tr.train()
    secs = time.perf_counter() - t0
    val = res["val"] or {}
    return {"variant": name, "params": tr.model.num_params(), "active_params": tr.model.num_params(active=True),
            "tokens": res["tokens_seen"], "steps": res["step"], "train_seconds": round(secs, 1),
            "tok_s": round(res["tokens_seen"] / max(res["elapsed_s"], 1e-9)),  # training steps only
            "heldout_loss_python": val.get("python", {}).get("loss"), "heldout_loss_java": val.get("java", {}).get("loss"),
            "heldout_bpb_python": val.get("python", {}).get("bpb"), "heldout_bpb_java": val.get("java", {}).get("bpb")}


def fixture_corpus(tmp: Path) -> Path:
    from model import data as D
    fix = ROOT / "tests" / "fixtures" / "data"
    out = tmp / "corpus"
    D.build(D.BuildConfig(out=str(out), stdlib=False, site_packages=False, java=False,
                          dirs=(f"python={fix / 'python'}", f"java={fix / 'java'}"), vocab_size=400,
                          val_fraction=0.3, seed=0), log=lambda *x: None)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", type=Path, default=ROOT / "cache" / "corpus")
    ap.add_argument("--tokens", type=int, default=300_000, help="training tokens per variant (equal for all)")
    ap.add_argument("--seq-len", type=int, default=128)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--width", type=int, default=128)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--eval-tokens", type=int, default=16384, help="held-out targets per language")
    ap.add_argument("--only", nargs="*", default=None, help="run these variants only")
    ap.add_argument("--quick", action="store_true", help="fixture corpus, tiny model, a few steps (< 1 min)")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if not a.quick and not (a.corpus / "manifest.json").exists():
            print(f"no corpus at {a.corpus} (make corpus): measuring on the fixture corpus (--quick)", file=sys.stderr)
            a.quick = True
        if a.quick:
            a.corpus, a.tokens, a.seq_len, a.batch_size, a.width, a.eval_tokens = fixture_corpus(tmp), 4 * 4 * 32, 32, 4, 32, 256
        from model.data import CorpusDataset
        vocab = CorpusDataset(a.corpus).tokenizer().get_vocab_size()
        base = base_config(vocab, a.width, a.layers, a.seq_len)
        rows = []
        for name, cfg in variants(base).items():
            if a.only and name not in a.only:
                continue
            rows.append(run_variant(name, cfg, a.corpus, tmp, a))
            r = rows[-1]
            print(f"{name:16s} {r['active_params'] / 1e6:5.2f}M active {r['tok_s']:6d} tok/s  held-out loss "
                  f"python {r['heldout_loss_python']}  java {r['heldout_loss_java']}  ({r['train_seconds']} s)",
                  file=sys.stderr)
    base_row = next((r for r in rows if r["variant"] == "r1"), rows[0])
    for r in rows:
        r["speed_vs_r1"] = round(r["tok_s"] / max(1, base_row["tok_s"]), 3)
    summary = {"tokens_per_variant": rows[0]["tokens"] if rows else 0, "seq_len": a.seq_len, "width": a.width,
               "layers": a.layers, "rows": rows}
    if a.json:
        print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
