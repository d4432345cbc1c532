"""Trainer for R1: AdamW, warm-up + cosine, clipping, bf16 autocast, held-out eval, resumable
state (safetensors + JSON only), progress line, loss curve PNG, DDP under torchrun.

    python -m model.train --corpus cache/corpus --out cache/runs/r1-tiny --preset r1-tiny \
        --max-steps 4000 --max-minutes 45
    torchrun --nproc_per_node 2 -m model.train ...       # DDP (gloo on CPU, nccl on GPU)

Run folder (``--out``)::

    state/             latest training state, replaced atomically at every save
      model.safetensors, config.json, tokenizer.json   (model.checkpoint format)
      optim.safetensors  AdamW state tensors, flattened: "<param name>/<key>"
      optim.json         index: param groups (hyper-parameters, member names), scalar state
      trainer.json       step, tokens seen, elapsed seconds, train config, history,
                         torch RNG state (as a list of bytes)
    final/             model checkpoint (model.checkpoint.save_checkpoint) with card.json
    loss.png           training and held-out loss against tokens seen
    log.jsonl          one JSON line per logged step / eval

Creating the file ``OUT/STOP`` stops a run cleanly at the next step (state and final saved).
Starting again with the same ``--out`` resumes from ``state/`` (``--no-resume`` starts over).
The batch of step s is a pure function of (seed, s) -- ``numpy.random.default_rng([seed, s])``
draws the global batch and each rank takes its slice -- so a resumed run sees exactly the data
an uninterrupted run would, whatever the number of processes.

The learning-rate schedule is a function of the step only: linear warm-up over
``--warmup`` steps to ``--lr``, cosine decay to ``--lr * --min-lr-ratio`` at ``--max-steps``.
``--max-minutes`` stops a run early (saving state); the schedule stays that of ``--max-steps``
unless ``--time-schedule`` (then the cosine follows whichever of step / max-steps and
time / max-minutes is further along: a time-bounded run still ends at the low rate).
"""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import math
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.nn as nn

from model.checkpoint import load_checkpoint, save_checkpoint
from model.config import R1Config
from model.data import CorpusDataset
from model.network import R1Model
from model.train_state import (heldout_mean, load_optimizer, optimizer_param_names, plot_history,
                               rng_state_from_json, rng_state_to_json, save_state, ship_if_better)


@dataclass
class TrainConfig:
    corpus: str = "cache/corpus"
    out: str = "cache/runs/r1-tiny"
    preset: str = "r1-tiny"
    n_layers: int | None = None          # override the preset's depth
    model_config: str | None = None      # R1Config JSON file (instead of the preset)
    init_from: str | None = None         # start from this checkpoint's weights (fine-tuning)
    seq_len: int = 256
    batch_size: int = 16                 # windows per optimizer step, all ranks together
    grad_accum: int = 1                  # micro-batches per step (per rank)
    lr: float = 1.5e-3
    min_lr_ratio: float = 0.1
    warmup: int = 200
    max_steps: int = 4000
    max_minutes: float = 0.0             # 0: no time budget
    time_schedule: bool = False          # cosine follows the further of step and time progress
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.95
    clip: float = 1.0
    amp: str = "auto"                    # bf16 | fp32 | auto (bf16 on bf16 GPUs; on CPU where it measures faster)
    compile: str = "auto"                # auto | on | off: torch.compile (inductor) the loss head, eager fallback
    moe: str = "auto"                    # auto | gmm | grouped | loop: expert FFNs (see set_moe_impl)
    threads: int = 0                     # torch threads per process; 0 = auto
    eval_every: int = 250
    eval_tokens: int = 8192              # held-out targets per language per periodic eval
    save_every: int = 250
    log_every: int = 10
    seed: int = 0
    java_share: float = 0.0              # share of training windows drawn from Java samples (0: the corpus's mix)
    resume: bool = True
    ship: str | None = None              # ship the best checkpoint here when it beats the one there
    ship_eval_tokens: int = 30000        # held-out targets per language of the shipped card's figures
    ship_ident_sites: int = 100          # next-identifier sites per language of the card
    compile_model: bool = False          # torch.compile the whole loss module (CUDA; the GPU run)


# ------------------------------------------------------------------ distributed

@dataclass
class Dist:
    rank: int = 0
    world: int = 1
    local_rank: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def main(self) -> bool:
        return self.rank == 0


def init_distributed() -> Dist:
    """torchrun sets WORLD_SIZE / RANK / LOCAL_RANK; without them this is one process."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        dev = torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")
        return Dist(device=dev)
    rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if torch.cuda.is_available():
        torch.cuda.set_device(local)
        dev, backend = torch.device("cuda", local), "nccl"
    else:
        dev, backend = torch.device("cpu"), "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend)
    return Dist(rank, world, local, dev)


def barrier(d: Dist):
    if d.world > 1:
        dist.barrier()


# ------------------------------------------------------------------ optimizer and schedule

def param_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """Weight decay on matrices only: no decay on norms, biases (1-D) and embeddings."""
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        if p.dim() < 2 or name.startswith("embed.") or ".embed" in name:
            no_decay.append(p)
        else:
            decay.append(p)
    return [{"params": decay, "weight_decay": weight_decay},
            {"params": no_decay, "weight_decay": 0.0}]


def lr_at(step: int, base: float, warmup: int, max_steps: int, min_ratio: float) -> float:
    """Linear warm-up (step 0 -> base/warmup) then cosine to base*min_ratio at max_steps."""
    if warmup > 0 and step < warmup:
        return base * (step + 1) / warmup
    if max_steps <= warmup:
        return base
    t = min(1.0, (step - warmup) / max(1, max_steps - warmup))
    return base * (min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * t)))


def set_lr(opt: torch.optim.Optimizer, lr: float):
    for g in opt.param_groups:
        g["lr"] = lr * g.get("lr_scale", 1.0)


# ------------------------------------------------------------------ data

def step_batch(ds: CorpusDataset, cfg: TrainConfig, step: int, d: Dist, micro: int):
    """Micro-batch ``micro`` of this rank at ``step``: a slice of the step's global batch."""
    per_rank = cfg.batch_size // d.world
    per_micro = per_rank // cfg.grad_accum
    mix = {"java": cfg.java_share, "python": 1.0 - cfg.java_share} if cfg.java_share > 0 else None
    x, y, lv = ds.batch("train", cfg.batch_size, cfg.seq_len, np.random.default_rng([cfg.seed, step]), mix)
    a = d.rank * per_rank + micro * per_micro
    return x[a:a + per_micro], y[a:a + per_micro], lv[a:a + per_micro]


# ------------------------------------------------------------------ the loss module DDP wraps

class LossModule(nn.Module):
    """forward -> R1Loss, so DistributedDataParallel sees the whole computation."""

    def __init__(self, model: R1Model):
        super().__init__()
        self.model = model

    def forward(self, x, y, lv):
        return self.model.loss(x, y, lv)


def amp_dtype(cfg: TrainConfig, device: torch.device) -> str:
    if cfg.amp != "auto":
        return cfg.amp
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    return "bf16" if cpu_bf16_pays() else "fp32"


_BF16_PAYS: bool | None = None


def cpu_bf16_pays() -> bool:
    """Whether a bf16 matmul at the model's width beats fp32 on these cores, measured once.
    With AMX-BF16 (oneDNN) bf16 ran ~10x fp32; on AVX2-only cores (no AVX512-BF16) torch's bf16
    GEMM falls back to a ~1 GFLOPS kernel, ~50x *slower* than fp32 (bench/gemm_probe.py)."""
    global _BF16_PAYS
    if _BF16_PAYS is None:
        a, b = torch.randn(256, 256), torch.randn(256, 256)
        best = {}
        for dt in (torch.float32, torch.bfloat16):
            x, y = a.to(dt), b.to(dt)
            x @ y
            best[dt] = min(_timed(lambda: x @ y) for _ in range(3))
        _BF16_PAYS = best[torch.bfloat16] < best[torch.float32]
    return _BF16_PAYS


def _timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def compile_loss_head(model: R1Model, mode: str, device: torch.device) -> str:
    """Set ``model.lm_loss_fn`` to an inductor-compiled `model.network.lm_loss` (output norm,
    head, fp32 log-softmax and cross entropy fused: the largest elementwise work of a step) when
    ``mode`` is on/auto and a forward + backward smoke test compiles and matches eager; otherwise
    leave eager. Returns what runs, for the log: "inductor" or "eager (<reason>)"."""
    from model.network import lm_loss
    model.lm_loss_fn = None
    if mode == "off":
        return "eager (--compile off)"
    try:
        fn = torch.compile(lm_loss, dynamic=False)
        g = torch.Generator().manual_seed(0)
        h = torch.randn(2, 8, 16, generator=g).to(device).requires_grad_()
        nw, hw = torch.ones(16, device=device), torch.randn(32, 16, generator=g).to(device)
        y = torch.randint(0, 32, (2, 8), generator=g).to(device)
        got = fn(h, nw, 1e-6, hw, y)
        got.backward()
        want = lm_loss(h.detach(), nw, 1e-6, hw, y)
        if not torch.allclose(got.detach(), want, rtol=1e-4, atol=1e-5) or h.grad is None:
            return "eager (compiled loss differs from eager)"
    except Exception as e:                                     # no compiler, unsupported op, ...
        if mode == "on":
            raise
        return f"eager ({type(e).__name__}: {str(e).splitlines()[0][:120] if str(e) else ''})"
    model.lm_loss_fn = fn
    return "inductor"


def set_moe_impl(model: nn.Module, mode: str, amp: str, compile_mode: str = "off",
                 device: torch.device = torch.device("cpu")) -> str:
    """Expert FFNs: "gmm" (`model.train_fast`: jagged grouped matmuls in bf16, routing and SwiGLU
    compiled with inductor where it builds), "grouped" (torch.bmm over padded groups) or "loop"
    (one matmul per expert); auto: gmm when computing in bf16 on CPU (the step's experts 2x the
    padded bmm on AVX512-BF16 cores, bench/train_bench.py), grouped bmm in bf16 on GPU, the loop in
    fp32 (AVX2 cores ran it as fast as bmm). Returns the choice, for the log."""
    from model.experts import MoE
    from model.train_fast import gmm_available, use_train_moe
    if mode == "auto":
        mode = "loop" if amp != "bf16" else "gmm" if device.type == "cpu" and gmm_available() else "grouped"
    if mode == "gmm":
        return "grouped mm, " + use_train_moe(model, compile_mode, device)
    for m in model.modules():
        if isinstance(m, MoE):
            m.grouped = mode == "grouped"
    return "grouped bmm" if mode == "grouped" else "loop"


def autocast(kind: str, device: torch.device):
    if kind == "bf16":
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def default_threads(world: int) -> int:
    """1 per process on CPU: on this shared 2-core machine 2 threads measured 5-10x *slower*
    than 1 for the r1-tiny training batch (contention); on GPU torch threads matter little."""
    if torch.cuda.is_available():
        return max(1, (os.cpu_count() or 1) // world)
    return 1


# ------------------------------------------------------------------ main loop

class Trainer:
    def __init__(self, cfg: TrainConfig, d: Dist | None = None, log=None, make_model=None):
        self.cfg, self.d = cfg, d or Dist()
        self.tokens_base = 0                 # tokens the initial weights had seen (--init-from)
        self.best_val: float | None = None   # best mean held-out loss of this run folder
        self.log = log or (lambda s: print(s, file=sys.stderr, flush=True))
        if cfg.batch_size % (self.d.world * cfg.grad_accum):
            raise ValueError("batch_size must be a multiple of world size * grad_accum")
        torch.set_num_threads(cfg.threads or default_threads(self.d.world))
        self.out = Path(cfg.out)
        self.ds = CorpusDataset(cfg.corpus)
        self.tokenizer = self.ds.tokenizer()
        torch.manual_seed(cfg.seed)
        if make_model is not None:
            self.model = make_model()
        elif cfg.model_config:
            mc = R1Config.from_json(Path(cfg.model_config).read_text())
            self.model = R1Model(dataclasses.replace(mc, vocab_size=self.tokenizer.get_vocab_size()))
        elif cfg.init_from:
            init = load_checkpoint(cfg.init_from)
            self.model = init.model.float()
            self.tokens_base = int(init.meta.get("tokens_seen") or 0)   # training adds up over runs
        else:
            over = {}
            if cfg.n_layers:
                over = {"n_layers": cfg.n_layers,
                        "hier_layers": tuple(i for i in R1Config.preset(cfg.preset).hier_layers
                                             if i < cfg.n_layers) or (cfg.n_layers // 2,)}
            mc = R1Config.preset(cfg.preset, vocab_size=self.tokenizer.get_vocab_size(), **over)
            self.model = R1Model(mc)
        if self.model.cfg.vocab_size != self.tokenizer.get_vocab_size():
            raise ValueError(f"model vocabulary {self.model.cfg.vocab_size} != corpus tokenizer "
                             f"{self.tokenizer.get_vocab_size()} ({cfg.corpus}/tokenizer.json)")
        self.model.to(self.d.device).train()
        self.amp = amp_dtype(cfg, self.d.device)
        self.moe_impl = set_moe_impl(self.model, cfg.moe, self.amp, cfg.compile, self.d.device)
        from model.train_fast import use_train_attention   # (CPU, bf16: faster than the flash kernel)
        self.attn_impl = (use_train_attention(self.model, cfg.compile, self.d.device)
                          if (self.amp, self.d.device.type) == ("bf16", "cpu") else "flash " + self.amp)
        self.compiled = compile_loss_head(self.model, cfg.compile, self.d.device)
        # fused AdamW (one kernel over all parameters; CPU too since torch 2.4)
        self.opt = torch.optim.AdamW(param_groups(self.model, cfg.weight_decay), lr=cfg.lr,
                                     betas=(cfg.beta1, cfg.beta2), eps=1e-8, fused=True)
        self.names = optimizer_param_names(self.model, self.opt)
        self.step, self.tokens_seen, self.elapsed = 0, 0, 0.0
        self.history: list[dict] = []
        self.state_dir = self.out / "state"
        if self.d.main and (self.out / "STOP").exists():
            (self.out / "STOP").unlink()          # a stop request applies to the run it stopped
        barrier(self.d)
        if cfg.resume and (self.state_dir / "trainer.json").exists():
            self.load_state()
        wrapped = LossModule(self.model)
        if self.d.world > 1:
            from torch.nn.parallel import DistributedDataParallel as DDP
            ids = [self.d.device.index] if self.d.device.type == "cuda" else None
            wrapped = DDP(wrapped, device_ids=ids, find_unused_parameters=True)
        if cfg.compile_model and self.d.device.type == "cuda":
            wrapped = torch.compile(wrapped)             # graph breaks at the expert dispatch are fine
        self.wrapped = wrapped
        self._eval_windows = None

    # -- state

    def trainer_json(self) -> dict:
        return {"step": self.step, "tokens_seen": self.tokens_seen, "tokens_base": self.tokens_base,
                "best_val": self.best_val, "elapsed_s": round(self.elapsed, 2),
                "world_size": self.d.world, "amp": self.amp, "config": dataclasses.asdict(self.cfg),
                "history": self.history, "rng": rng_state_to_json()}

    def save_state(self):
        if self.d.main:
            self.out.mkdir(parents=True, exist_ok=True)
            save_state(self.state_dir, self.model, self.opt, self.names, self.trainer_json(), self.tokenizer)
        barrier(self.d)

    def load_state(self):
        ck = load_checkpoint(self.state_dir)
        self.model.load_state_dict({k: v.float() if v.is_floating_point() else v
                                    for k, v in ck.model.state_dict().items()})
        load_optimizer(self.opt, self.names, self.state_dir)
        tj = json.loads((self.state_dir / "trainer.json").read_text())
        self.step, self.tokens_seen = tj["step"], tj["tokens_seen"]
        self.elapsed, self.history = tj["elapsed_s"], tj.get("history", [])
        self.tokens_base, self.best_val = tj.get("tokens_base", 0), tj.get("best_val")
        rng_state_from_json(tj["rng"])
        self.log(f"resumed from {self.state_dir} at step {self.step} ({self.tokens_seen:,} tokens)")

    # -- evaluation

    def evaluate_model(self, model: R1Model) -> dict:
        """The periodic held-out sample's figures for another model (the shipped one)."""
        mine = self.model
        self.model = model.to(self.d.device)
        try:
            return self.evaluate()
        finally:
            self.model = mine

    def evaluate(self) -> dict:
        from model.evaluate import heldout_windows, loss_sums, summarize
        if self._eval_windows is None:
            self._eval_windows = {lang: heldout_windows(self.ds, lang, self.cfg.seq_len, self.cfg.eval_tokens,
                                                        skip_first=True)
                                  .shard(self.d.rank, self.d.world) for lang in ("python", "java")}
        res = {}
        for lang, win in self._eval_windows.items():
            s = loss_sums(self.model, win, batch_size=16, amp=self.amp, device=self.d.device)
            if self.d.world > 1:
                t = torch.tensor([s["nats"], s["tokens"], s["bytes"]], dtype=torch.float64)
                dist.all_reduce(t)
                s["nats"], s["tokens"], s["bytes"] = float(t[0]), int(t[1]), int(t[2])
            if s["tokens"] == 0:
                continue                                  # no held-out text of this language
            r = summarize(s)
            res[lang] = {"loss": round(r["loss"], 4), "bpb": round(r["bpb"], 4)}
        return res

    # -- loop

    def train(self) -> dict:
        cfg, d = self.cfg, self.d
        t_start = time.time()
        elapsed0 = self.elapsed
        window_t, window_tokens = time.time(), 0
        tokens_per_step = cfg.batch_size * cfg.seq_len
        last = {}
        stop_reason = "max_steps"
        if d.main:
            self.out.mkdir(parents=True, exist_ok=True)
        logf = open(self.out / "log.jsonl", "a") if d.main else None
        try:
            if self.step == 0 and cfg.init_from and cfg.eval_every and not self.history:
                self._eval_and_log(logf)          # the starting weights' point: "best" must beat it
            while self.step < cfg.max_steps:
                if cfg.max_minutes and time.time() - t_start >= cfg.max_minutes * 60:
                    stop_reason = "max_minutes"
                    break
                if self._stop_requested():
                    stop_reason = "STOP file"
                    break
                sched_step = self.step
                if cfg.time_schedule and cfg.max_minutes and self.step >= cfg.warmup:
                    frac = (time.time() - t_start) / (cfg.max_minutes * 60)
                    sched_step = max(sched_step, cfg.warmup + int(frac * (cfg.max_steps - cfg.warmup)))
                lr = lr_at(sched_step, cfg.lr, cfg.warmup, cfg.max_steps, cfg.min_lr_ratio)
                set_lr(self.opt, lr)
                sums = torch.zeros(4, dtype=torch.float64)
                for micro in range(cfg.grad_accum):
                    x, y, lv = (t.to(d.device) for t in step_batch(self.ds, cfg, self.step, d, micro))
                    sync = micro == cfg.grad_accum - 1 or d.world == 1
                    ctx = contextlib.nullcontext() if sync else self.wrapped.no_sync()
                    with ctx:
                        with autocast(self.amp, d.device):
                            loss = self.wrapped(x, y, lv)
                        (loss.total / cfg.grad_accum).backward()
                    sums += torch.tensor([float(v.detach()) for v in loss]) / cfg.grad_accum
                gnorm = torch.nn.utils.clip_grad_norm_(
                    [p for p in self.model.parameters() if p.requires_grad], cfg.clip)
                self.opt.step()
                self.opt.zero_grad(set_to_none=True)
                if d.world > 1:
                    dist.all_reduce(sums)
                    sums /= d.world
                self.step += 1
                self.tokens_seen += tokens_per_step
                window_tokens += tokens_per_step
                last = {"step": self.step, "tokens": self.tokens_seen, "loss": round(float(sums[0]), 4),
                        "lm": round(float(sums[1]), 4), "aux": round(float(sums[2]), 4),
                        "gate": round(float(sums[3]), 4), "lr": lr, "gnorm": round(float(gnorm), 3)}
                self.elapsed = elapsed0 + time.time() - t_start
                if self.step % cfg.log_every == 0 or self.step == cfg.max_steps:
                    now = time.time()
                    tps = window_tokens / max(1e-9, now - window_t)
                    window_t, window_tokens = now, 0
                    left_steps = (cfg.max_steps - self.step) * tokens_per_step / max(tps, 1e-9)
                    if cfg.max_minutes:
                        left_steps = min(left_steps, cfg.max_minutes * 60 - (now - t_start))
                    last["tok_s"] = round(tps)
                    if d.main:
                        self.log(f"step {self.step}/{cfg.max_steps} loss {last['loss']:.3f} "
                                 f"(lm {last['lm']:.3f} aux {last['aux']:.3f} gate {last['gate']:.3f}) "
                                 f"lr {lr:.2e} gn {last['gnorm']:.2f} | {tps:,.0f} tok/s "
                                 f"{self.tokens_seen / 1e6:.2f}M tok | {_hms(self.elapsed)} "
                                 f"ETA {_hms(max(0.0, left_steps))}")
                        logf.write(json.dumps(last) + "\n")
                        logf.flush()
                    self.history.append({k: last[k] for k in ("step", "tokens", "loss", "lm")})
                if cfg.eval_every and self.step % cfg.eval_every == 0:
                    self._eval_and_log(logf)
                if cfg.save_every and self.step % cfg.save_every == 0:
                    self.save_state()
            if not self.history or "val" not in self.history[-1]:
                self._eval_and_log(logf)
            self.save_state()
        finally:
            if logf:
                logf.close()
        if d.main:
            self.plot()
        return {"step": self.step, "tokens_seen": self.tokens_seen, "elapsed_s": self.elapsed,
                "stop": stop_reason, "last": last, "val": self.history[-1].get("val") if self.history else None}

    def _stop_requested(self) -> bool:
        """A file OUT/STOP asks for a clean stop (state saved) at the next step."""
        flag = torch.tensor([float((self.out / "STOP").exists())])
        if self.d.world > 1:
            dist.all_reduce(flag)
        return bool(flag.item())

    def _eval_and_log(self, logf):
        t = time.time()
        val = self.evaluate()
        rec = {"step": self.step, "tokens": self.tokens_seen, "val": val}
        self.history.append(rec)
        mean = heldout_mean(val)
        if self.d.main and mean is not None and (self.best_val is None or mean < self.best_val):
            self.best_val = mean
            rec["best"] = True
            self.save_final(self.out / "best", {"heldout_mean_loss": round(mean, 4), "heldout_sample": val})
        if self.d.main:
            self.log(f"eval step {self.step}: " + ", ".join(
                f"{k} loss {v['loss']:.3f} bpb {v['bpb']:.3f}" for k, v in val.items())
                + f" ({time.time() - t:.1f} s)")
            logf.write(json.dumps(rec) + "\n")
            logf.flush()

    def plot(self, path: Path | None = None):
        plot_history(self.history, path or self.out / "loss.png")

    def save_final(self, directory: Path, extra_meta: dict | None = None) -> Path:
        meta = {"tokens_seen": self.tokens_base + self.tokens_seen, "tokens_seen_this_run_folder": self.tokens_seen,
                "steps": self.step, "training_seconds": round(self.elapsed, 1),
                "amp": self.amp, "world_size": self.d.world, "train_config": dataclasses.asdict(self.cfg)}
        meta.update(extra_meta or {})
        return save_checkpoint(directory, self.model, self.model.cfg, self.tokenizer, meta)


def _hms(s: float) -> str:
    s = int(s)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


# ------------------------------------------------------------------ CLI

def build_parser() -> argparse.ArgumentParser:
    d = TrainConfig()
    ap = argparse.ArgumentParser(prog="r1lsp train", description="Train an R1 model on a built corpus "
                                 "(resumes from OUT/state when present; runs under torchrun for DDP).")
    ap.add_argument("--corpus", default=d.corpus, help="corpus folder built by `python -m model.data build`")
    ap.add_argument("--out", default=d.out, help="run folder (state/, final/, loss.png, log.jsonl)")
    ap.add_argument("--preset", default=d.preset)
    ap.add_argument("--layers", dest="n_layers", type=int, default=None, help="override the preset's depth")
    ap.add_argument("--model-config", default=None, help="R1Config JSON file instead of the preset")
    ap.add_argument("--init-from", default=None, help="start from this checkpoint's weights")
    ap.add_argument("--seq-len", type=int, default=d.seq_len)
    ap.add_argument("--batch-size", type=int, default=d.batch_size, help="windows per step, all ranks")
    ap.add_argument("--grad-accum", type=int, default=d.grad_accum)
    ap.add_argument("--lr", type=float, default=d.lr)
    ap.add_argument("--min-lr-ratio", type=float, default=d.min_lr_ratio)
    ap.add_argument("--warmup", type=int, default=d.warmup)
    ap.add_argument("--max-steps", type=int, default=d.max_steps)
    ap.add_argument("--max-minutes", type=float, default=d.max_minutes, help="time budget (0 = none)")
    ap.add_argument("--time-schedule", action="store_true",
                    help="with --max-minutes: the cosine follows the further of step and time progress, "
                         "so a time-bounded run ends at the low learning rate (not bitwise resumable)")
    ap.add_argument("--weight-decay", type=float, default=d.weight_decay)
    ap.add_argument("--clip", type=float, default=d.clip)
    ap.add_argument("--amp", choices=["auto", "bf16", "fp32"], default=d.amp,
                    help="auto: bf16 on bf16 GPUs, and on CPUs where a bf16 matmul measures faster than fp32")
    ap.add_argument("--compile", choices=["auto", "on", "off"], default=d.compile,
                    help="torch.compile (inductor) the loss head; auto falls back to eager (logged)")
    ap.add_argument("--moe", choices=["auto", "gmm", "grouped", "loop"], default=d.moe,
                    help="expert FFNs as jagged grouped matmuls (gmm, bf16), padded batched matmuls (grouped) "
                         "or a loop; auto: gmm in bf16 on CPU, grouped on GPU, the loop in fp32")
    ap.add_argument("--threads", type=int, default=d.threads, help="torch threads per process (0 = auto)")
    ap.add_argument("--eval-every", type=int, default=d.eval_every)
    ap.add_argument("--eval-tokens", type=int, default=d.eval_tokens)
    ap.add_argument("--save-every", type=int, default=d.save_every)
    ap.add_argument("--log-every", type=int, default=d.log_every)
    ap.add_argument("--seed", type=int, default=d.seed)
    ap.add_argument("--java-share", type=float, default=d.java_share, help="share of Java windows (0 = the corpus's mix)")
    ap.add_argument("--no-resume", dest="resume", action="store_false")
    ap.add_argument("--final", default=None, help="where to write the final checkpoint (default OUT/final)")
    ap.add_argument("--ship", default=None, metavar="DIR",
                    help="at the end, ship OUT/best into DIR (bf16 + card.json + loss.png) if its held-out loss "
                         "beats DIR's model on the same windows")
    ap.add_argument("--ship-eval-tokens", type=int, default=d.ship_eval_tokens)
    ap.add_argument("--ship-ident-sites", type=int, default=d.ship_ident_sites)
    ap.add_argument("--compile-model", action="store_true", help="torch.compile the whole model (CUDA only)")
    return ap


def main(argv: list[str] | None = None) -> int:
    a = build_parser().parse_args(argv)
    final = a.final
    kw = {k: v for k, v in vars(a).items() if k != "final"}
    cfg = TrainConfig(**kw)
    d = init_distributed()
    tr = Trainer(cfg, d)
    if d.main:
        m = tr.model
        tr.log(f"model {m.cfg.n_layers} layers d{m.cfg.d_model}: {m.num_params() / 1e6:.1f}M params "
               f"({m.num_params(active=True) / 1e6:.1f}M active); amp {tr.amp}; experts {tr.moe_impl}; "
               f"attention core {tr.attn_impl}; "
               f"loss head {tr.compiled}; world {d.world}; "
               f"threads {torch.get_num_threads()}; {cfg.batch_size}x{cfg.seq_len} per step")
    res = tr.train()
    if d.main:
        tr.save_final(Path(final) if final else tr.out / "final")
        tr.log(f"done: {json.dumps(res)}")
        if cfg.ship:
            tr.log(f"ship: {json.dumps(ship_if_better(tr, Path(cfg.ship)))}")
    if d.world > 1:
        dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
