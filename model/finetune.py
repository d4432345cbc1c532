"""Progressive fine-tuning of an R1 checkpoint on a user's own source folder.

    r1lsp finetune --data ~/src/myproject --base model/checkpoints/r1-tiny --out runs/ft \
        [--steps 60,60,60] [--compare]

1. Corpus: the folder's .py / .java files become a small corpus (``model.data.build`` with
   the *base checkpoint's tokenizer*, same level ids and FIM samples as pre-training), held
   out by file (``--val-fraction``, by a hash of the path). Stored in ``OUT/corpus``.
2. Three stages (the seed's recipe; a fresh AdamW, warm-up + cosine, per stage):

   stage 1 (lr 1e-4)  trainable: every MoE router (``blocks.*.moe.gate``) and the *top half*
                      of the transformer blocks (blocks n_layers//2 .. n_layers-1, all their
                      parameters: attention, indexer, norms, experts), the final norm and the
                      output head. Frozen: embedding, lower blocks (but their routers),
                      the hierarchical encoder.
   stage 2 (lr 1e-5)  + the last two layers of the hierarchical encoder: in every ``Hierarchy``
                      module the sentence and paragraph levels (``down.1``, ``norms.1``,
                      ``down.2``, ``norms.2``). The phrase level, ``norm_in``, the feedback
                      projection ``up``, the embedding and the lower blocks stay frozen.
   stage 3 (lr 1e-5)  all parameters, with an exponential moving average of the weights
                      (decay 0.999, started from the weights at the start of stage 3) updated
                      after every step; the EMA weights are evaluated and saved.

   (For r1-tiny, 4 blocks: stage 1 trains blocks 2-3, the routers of blocks 0-1, norm, head.)
3. Held-out loss (nats/token on the folder's held-out files) after every stage, and a curve
   every ``--eval-every`` steps; train loss on fixed training windows for the overfitting gap.
4. ``--compare``: a direct full fine-tune (all parameters from step 0, ``--direct-lr``, same
   total steps, same batches) on the same data; reports both held-out curves, the steps each
   needs to reach a target loss (the higher of the two final held-out losses, so both reach
   it) and their ratio, and the overfitting gap (held-out minus train loss, on fixed windows)
   of each at the end, and its growth since step 0 (the base model's gap on the same split: a
   small folder's held-out files can be easier or harder than its training files).

Output: ``OUT/final`` (checkpoint: EMA weights, base tokenizer, card.json with the figures),
``OUT/finetune.json`` (report), ``OUT/finetune.png`` (curves).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

from model.checkpoint import load_checkpoint, save_checkpoint
from model.data import BuildConfig, CorpusDataset, build
from model.evaluate import Windows, heldout_windows, loss_sums, summarize
from model.train import autocast, cpu_bf16_pays, lr_at, param_groups

STAGE_LRS = (1e-4, 1e-5, 1e-5)
HIER_TOP_LEVELS = ("down.1.", "norms.1.", "down.2.", "norms.2.")


# ------------------------------------------------------------------ what each stage trains

def stage_trainable(name: str, stage: int, n_layers: int) -> bool:
    """Whether parameter ``name`` of an R1Model trains in ``stage`` (1, 2 or 3; 0 = direct: all)."""
    if stage in (0, 3):
        return True
    parts = name.split(".")
    if parts[0] == "blocks":
        if int(parts[1]) >= n_layers // 2:
            return True                                  # top half of the blocks
        return ".moe.gate." in name                      # routers everywhere
    if parts[0] in ("norm", "head"):
        return True
    if parts[0] == "hier" and stage == 2:
        rest = ".".join(parts[2:]) + "."
        return rest.startswith(HIER_TOP_LEVELS)          # sentence + paragraph levels
    return False                                         # embed, hier (stage 1)


def apply_stage(model: nn.Module, stage: int) -> set[str]:
    """Set requires_grad per the stage; returns the trainable parameter names."""
    n_layers = model.cfg.n_layers
    names = set()
    for name, p in model.named_parameters():
        p.requires_grad_(stage_trainable(name, stage, n_layers))
        if p.requires_grad:
            names.add(name)
    return names


# ------------------------------------------------------------------ EMA

class EMA:
    """Exponential moving average of floating parameters and buffers: e <- d*e + (1-d)*w."""

    def __init__(self, model: nn.Module, decay: float = 0.999):
        self.decay = decay
        self.shadow = {k: v.detach().clone().float() for k, v in model.state_dict().items()
                       if v.is_floating_point()}

    @torch.no_grad()
    def update(self, model: nn.Module):
        for k, v in model.state_dict().items():
            if k in self.shadow:
                self.shadow[k].mul_(self.decay).add_(v.detach().float(), alpha=1 - self.decay)

    @torch.no_grad()
    def copy_to(self, model: nn.Module):
        sd = model.state_dict()
        for k, v in self.shadow.items():
            sd[k].copy_(v.to(sd[k].dtype))


# ------------------------------------------------------------------ corpus of the user's folder

def build_user_corpus(data: Path, out: Path, tokenizer_path: Path, val_fraction: float,
                      max_mb: float, seed: int = 0, log=print) -> CorpusDataset:
    langs = [lang for lang, suf in (("python", ".py"), ("java", ".java")) if any(data.rglob(f"*{suf}"))]
    if not langs:
        raise SystemExit(f"{data}: no .py or .java files")
    build(BuildConfig(out=str(out), max_mb=max_mb, java_share=0.5 if len(langs) == 2 else (1.0 if langs == ["java"] else 0.0),
                      val_fraction=val_fraction, stdlib=False, site_packages=False, java=False,
                      dirs=tuple(f"{lang}={data}" for lang in langs), tokenizer=str(tokenizer_path),
                      include_tests=True, seed=seed), log=log)
    return CorpusDataset(out)


def fixed_windows(ds: CorpusDataset, split: str, seq_len: int, max_tokens: int) -> Windows:
    """Held-out (or training) windows of every language, concatenated."""
    parts = []
    for lang in ("python", "java"):
        w = heldout_windows(ds, lang, seq_len, max_tokens, split=split)
        if len(w):
            parts.append(w)
    if not parts:
        raise SystemExit(f"the {split} split has no windows (too few files? raise --val-fraction)")
    return Windows(*(torch.cat([getattr(w, f) for w in parts]) for f in
                     ("input_ids", "targets", "level_ids", "target_bytes")))


def mean_loss(model, win: Windows, amp: str) -> float:
    return summarize(loss_sums(model, win, batch_size=16, amp=amp))["loss"]


# ------------------------------------------------------------------ one run (progressive or direct)

def run(model, ds: CorpusDataset, stages: list[tuple[int, int, float]], *, seq_len: int, batch_size: int,
        val: Windows, train_win: Windows, eval_every: int, ema_decay: float, amp: str, seed: int,
        log=print, label: str = "") -> dict:
    """``stages``: (stage id, steps, lr). Returns curve, per-stage losses, final losses."""
    curve = [{"step": 0, "heldout": mean_loss(model, val, amp)}]
    train0 = mean_loss(model, train_win, amp)
    log(f"{label} step 0: held-out loss {curve[0]['heldout']:.4f}")
    per_stage, ema, step = [], None, 0
    t0 = time.time()
    for stage, steps, lr in stages:
        if steps <= 0:
            continue
        names = apply_stage(model, stage)
        opt = torch.optim.AdamW(param_groups(model, 0.0), lr=lr, betas=(0.9, 0.95))
        if stage == 3:
            ema = EMA(model, ema_decay)
        warm = max(1, steps // 10)
        model.train()
        for i in range(steps):
            for g in opt.param_groups:
                g["lr"] = lr_at(i, lr, warm, steps, 0.1)
            x, y, lv = ds.batch("train", batch_size, seq_len, np.random.default_rng([seed, step]))
            with autocast(amp, torch.device("cpu")):
                loss = model.loss(x, y, lv)
            loss.total.backward()
            torch.nn.utils.clip_grad_norm_([p for p in model.parameters() if p.requires_grad], 1.0)
            opt.step()
            opt.zero_grad(set_to_none=True)
            if ema is not None:
                ema.update(model)
            step += 1
            if eval_every and step % eval_every == 0:
                curve.append({"step": step, "heldout": _eval_maybe_ema(model, ema, val, amp),
                              "train_batch_lm": round(float(loss.lm), 4)})
                log(f"{label} stage {stage} step {step}: held-out {curve[-1]['heldout']:.4f} "
                    f"(batch lm {float(loss.lm):.3f}, {time.time() - t0:.0f} s)")
        held = _eval_maybe_ema(model, ema, val, amp)
        per_stage.append({"stage": stage, "steps": steps, "lr": lr, "trainable_params":
                          sum(p.numel() for n, p in model.named_parameters() if n in names),
                          "heldout_loss": round(held, 4)})
        log(f"{label} end of stage {stage}: held-out loss {held:.4f}")
    if ema is not None:
        ema.copy_to(model)
    apply_stage(model, 0)
    final_held = mean_loss(model, val, amp)
    final_train = mean_loss(model, train_win, amp)
    if not curve or curve[-1]["step"] != step:
        curve.append({"step": step, "heldout": final_held})
    return {"curve": curve, "stages": per_stage, "heldout_loss": round(final_held, 4),
            "train_loss": round(final_train, 4), "gap": round(final_held - final_train, 4),
            "gap_at_start": round(curve[0]["heldout"] - train0, 4),
            "gap_growth": round((final_held - final_train) - (curve[0]["heldout"] - train0), 4),
            "steps": step, "seconds": round(time.time() - t0, 1)}


def _eval_maybe_ema(model, ema, val, amp) -> float:
    if ema is None:
        return round(mean_loss(model, val, amp), 4)
    backup = {k: v.detach().clone() for k, v in model.state_dict().items()}
    ema.copy_to(model)
    r = mean_loss(model, val, amp)
    model.load_state_dict(backup)
    return round(r, 4)


def steps_to_reach(curve: list[dict], target: float) -> int | None:
    for pt in curve:
        if pt["heldout"] <= target + 1e-9:
            return pt["step"]
    return None


def compare_report(prog: dict, direct: dict) -> dict:
    target = max(prog["heldout_loss"], direct["heldout_loss"])
    sp, sd = steps_to_reach(prog["curve"], target), steps_to_reach(direct["curve"], target)
    return {"target_heldout_loss": target, "steps_to_target_progressive": sp, "steps_to_target_direct": sd,
            "convergence_speed_ratio": round(sd / sp, 3) if sp and sd else None,
            "gap_progressive": prog["gap"], "gap_direct": direct["gap"],
            "gap_reduction": round(1 - prog["gap"] / direct["gap"], 3) if direct["gap"] > 0 else None,
            "gap_growth_progressive": prog["gap_growth"], "gap_growth_direct": direct["gap_growth"],
            "gap_growth_reduction": (round(1 - prog["gap_growth"] / direct["gap_growth"], 3)
                                     if direct["gap_growth"] > 0 else None),
            "heldout_progressive": prog["heldout_loss"], "heldout_direct": direct["heldout_loss"]}


def plot_curves(runs: dict[str, dict], path: Path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for label, r in runs.items():
        ax.plot([p["step"] for p in r["curve"]], [p["heldout"] for p in r["curve"]], "o-", ms=3, label=label)
    ax.set_xlabel("fine-tuning step")
    ax.set_ylabel("held-out loss (nats/token)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ------------------------------------------------------------------ CLI

def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="r1lsp finetune", description="Progressive fine-tuning of an R1 "
                                 "checkpoint on a folder of your own source code.")
    ap.add_argument("--data", required=True, help="folder of .py / .java sources")
    ap.add_argument("--base", default="model/checkpoints/r1-tiny", help="checkpoint to start from")
    ap.add_argument("--out", required=True, help="output folder (corpus/, final/, finetune.json)")
    ap.add_argument("--steps", default="60,60,60", help="steps of stages 1,2,3")
    ap.add_argument("--lrs", default=",".join(map(str, STAGE_LRS)), help="learning rates of stages 1,2,3")
    ap.add_argument("--ema-decay", type=float, default=0.999)
    ap.add_argument("--seq-len", type=int, default=256)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--val-fraction", type=float, default=0.1, help="share of files held out")
    ap.add_argument("--max-mb", type=float, default=8.0, help="most MB of source text used")
    ap.add_argument("--eval-every", type=int, default=10)
    ap.add_argument("--eval-tokens", type=int, default=8192, help="held-out targets per language")
    ap.add_argument("--amp", choices=["auto", "bf16", "fp32"], default="auto",
                    help="auto: bf16 where a bf16 matmul measures faster than fp32 on these cores")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--compare", action="store_true", help="also run a direct full fine-tune and compare")
    ap.add_argument("--direct-lr", type=float, default=1e-4, help="learning rate of the --compare run")
    return ap


def main(argv: list[str] | None = None) -> int:
    a = build_parser().parse_args(argv)
    torch.set_num_threads(a.threads)
    if a.amp == "auto":
        a.amp = "bf16" if cpu_bf16_pays() else "fp32"
    log = lambda s: print(s, file=sys.stderr, flush=True)  # noqa: E731
    out, base = Path(a.out), Path(a.base)
    out.mkdir(parents=True, exist_ok=True)
    steps = [int(s) for s in a.steps.split(",")]
    lrs = [float(s) for s in a.lrs.split(",")]
    if len(steps) != 3 or len(lrs) != 3:
        raise SystemExit("--steps and --lrs take three comma-separated values")
    ds = build_user_corpus(Path(a.data), out / "corpus", base / "tokenizer.json", a.val_fraction, a.max_mb,
                           a.seed, log=lambda *x: None)
    sp = ds.manifest["splits"]
    log(f"corpus: train {sp['train']['files']} files {sp['train']['tokens']} tokens, "
        f"held out {sp['val']['files']} files {sp['val']['tokens']} tokens")
    val = fixed_windows(ds, "val", a.seq_len, a.eval_tokens)
    train_win = fixed_windows(ds, "train", a.seq_len, a.eval_tokens)
    common = dict(seq_len=a.seq_len, batch_size=a.batch_size, val=val, train_win=train_win,
                  eval_every=a.eval_every, ema_decay=a.ema_decay, amp=a.amp, seed=a.seed, log=log)
    ck = load_checkpoint(base)
    torch.manual_seed(a.seed)
    model = ck.model.float()
    prog = run(model, ds, [(s + 1, n, lr) for s, (n, lr) in enumerate(zip(steps, lrs))],
               label="progressive", **common)
    report = {"data": str(Path(a.data).resolve()), "base": str(base), "corpus": sp,
              "args": vars(a), "progressive": prog}
    if a.compare:
        direct_model = load_checkpoint(base).model.float()
        direct = run(direct_model, ds, [(0, sum(steps), a.direct_lr)], label="direct", **common)
        report["direct"] = direct
        report["comparison"] = compare_report(prog, direct)
        log(f"comparison: {json.dumps(report['comparison'])}")
        plot_curves({"progressive (3 stages, EMA)": prog, "direct full fine-tune": direct}, out / "finetune.png")
    else:
        plot_curves({"progressive (3 stages, EMA)": prog}, out / "finetune.png")
    meta = dict(ck.meta)
    meta["finetune"] = {k: v for k, v in report.items() if k != "corpus"}
    save_checkpoint(out / "final", model, ck.config, ck.tokenizer, meta)
    (out / "finetune.json").write_text(json.dumps(report, indent=1))
    log(f"held-out loss per stage: {[s['heldout_loss'] for s in prog['stages']]}; "
        f"final {prog['heldout_loss']} (train {prog['train_loss']}, gap {prog['gap']}) -> {out / 'final'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
