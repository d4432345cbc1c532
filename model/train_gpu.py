"""One GPU, at most 9 minutes: train R1, write the checkpoint and its figures, ship it if better.

    python -m model.train_gpu --corpus cache/corpus --out cache/runs/r1-tiny-gpu \\
        --init-from model/checkpoints/r1-tiny --ship model/checkpoints/r1-tiny     (make train-gpu)

On CUDA: bf16 autocast, TF32 matmuls, the whole loss module under ``torch.compile`` and the
loss head compiled, grouped expert matmuls, a larger batch (``--batch-size`` x ``--seq-len``).
The wall-clock budget ``--max-minutes`` (≤ 9) covers compilation, training, the periodic
held-out sample and the final evaluation: training stops ``--reserve-minutes`` before the end.
Writes ``OUT/final`` (checkpoint + card), ``OUT/loss.png``, ``OUT/gpu_run.json`` (device,
throughput, tokens, held-out figures, ship decision). Without CUDA it runs the same loop on
CPU with the CUDA-only parts (compile of the whole model, TF32, bf16) left out, which is what the
test does on a tiny config.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from model.train import Trainer, TrainConfig
from model.train_state import ship_if_better

MAX_MINUTES = 9.0


def gpu_config(a: argparse.Namespace, cuda: bool) -> TrainConfig:
    train_minutes = max(0.05, min(a.max_minutes, MAX_MINUTES) - a.reserve_minutes)
    return TrainConfig(
        corpus=a.corpus, out=a.out, init_from=a.init_from, model_config=a.model_config,
        seq_len=a.seq_len, batch_size=a.batch_size, lr=a.lr, warmup=a.warmup, max_steps=a.max_steps,
        max_minutes=train_minutes, time_schedule=True, amp="bf16" if cuda else "fp32",
        compile="auto" if cuda else "off", compile_model=cuda, moe="grouped" if cuda else "auto",
        threads=0 if cuda else 1, eval_every=a.eval_every, eval_tokens=a.eval_tokens, save_every=a.eval_every,
        log_every=a.log_every, ship=a.ship, ship_eval_tokens=a.ship_eval_tokens, ship_ident_sites=a.ship_ident_sites)


def run(a: argparse.Namespace, log=None) -> dict:
    cuda = torch.cuda.is_available()
    if cuda:
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    t0 = time.time()
    cfg = gpu_config(a, cuda)
    tr = Trainer(cfg, log=log)
    res = tr.train()
    tr.save_final(Path(cfg.out) / "final", {"device": torch.cuda.get_device_name(0) if cuda else "cpu"})
    decision = ship_if_better(tr, Path(cfg.ship)) if cfg.ship else {"shipped": False, "reason": "no --ship"}
    report = {"device": torch.cuda.get_device_name(0) if cuda else "cpu (CUDA-only parts skipped)",
              "amp": tr.amp, "compiled_model": bool(cfg.compile_model and cuda), "loss_head": tr.compiled,
              "steps": res["step"], "tokens_seen_run_folder": res["tokens_seen"],
              "tokens_seen_total": tr.tokens_base + res["tokens_seen"],
              "train_seconds": round(res["elapsed_s"], 1),
              "tok_s": round(res["tokens_seen"] / max(1e-9, res["elapsed_s"])),
              "heldout_sample": res["val"], "ship": decision, "wall_seconds": round(time.time() - t0, 1)}
    Path(cfg.out, "gpu_run.json").write_text(json.dumps(report, indent=1))
    return report


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m model.train_gpu", description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", default="cache/corpus")
    ap.add_argument("--out", default="cache/runs/r1-tiny-gpu")
    ap.add_argument("--init-from", default="model/checkpoints/r1-tiny")
    ap.add_argument("--model-config", default=None, help="R1Config JSON (instead of --init-from's)")
    ap.add_argument("--ship", default=None, metavar="DIR")
    ap.add_argument("--max-minutes", type=float, default=MAX_MINUTES, help=f"whole budget, at most {MAX_MINUTES:g}")
    ap.add_argument("--reserve-minutes", type=float, default=1.5, help="kept for the final evaluation and saving")
    ap.add_argument("--seq-len", type=int, default=512)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--max-steps", type=int, default=20000)
    ap.add_argument("--eval-every", type=int, default=500)
    ap.add_argument("--eval-tokens", type=int, default=16384)
    ap.add_argument("--log-every", type=int, default=20)
    ap.add_argument("--ship-eval-tokens", type=int, default=60000)
    ap.add_argument("--ship-ident-sites", type=int, default=200)
    return ap


def main(argv: list[str] | None = None) -> int:
    rep = run(build_parser().parse_args(argv))
    print(json.dumps(rep))
    return 0


if __name__ == "__main__":
    sys.exit(main())
