"""A training run's bookkeeping, apart from the step itself (``model/train.py``): the resumable
state folder (weights + AdamW state as safetensors, trainer.json with step / tokens / RNG), the
held-out comparison that ships the best checkpoint, and the loss-curve plot.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
from safetensors.torch import load_file, save_file

from model.checkpoint import load_checkpoint, save_checkpoint
from model.network import R1Model


# ------------------------------------------------------------------ optimizer state <-> safetensors

def save_optimizer(opt: torch.optim.Optimizer, names: dict[int, str], directory: Path):
    """``optim.safetensors`` (tensors "<param name>/<key>") + ``optim.json`` (index)."""
    sd = opt.state_dict()
    tensors, scalars = {}, {}
    for idx, st in sd["state"].items():
        name = names[idx]
        for k, v in st.items():
            if torch.is_tensor(v):
                tensors[f"{name}/{k}"] = v.detach().contiguous().cpu()
            else:
                scalars[f"{name}/{k}"] = v
    groups = []
    for g in sd["param_groups"]:
        groups.append({**{k: v for k, v in g.items() if k != "params"},
                       "params": [names[i] for i in g["params"]]})
    save_file(tensors, str(directory / "optim.safetensors"))
    (directory / "optim.json").write_text(json.dumps(
        {"format": "torch.optim state_dict, tensors flattened as '<param name>/<key>'",
         "optimizer": type(opt).__name__, "param_groups": groups, "scalars": scalars,
         "tensors": sorted(tensors)}, indent=1))


def load_optimizer(opt: torch.optim.Optimizer, names: dict[int, str], directory: Path):
    index = json.loads((directory / "optim.json").read_text())
    tensors = load_file(str(directory / "optim.safetensors"))
    by_name = {n: i for i, n in names.items()}
    state: dict[int, dict] = {}
    for key, t in tensors.items():
        name, _, k = key.rpartition("/")
        state.setdefault(by_name[name], {})[k] = t
    for key, v in index["scalars"].items():
        name, _, k = key.rpartition("/")
        state.setdefault(by_name[name], {})[k] = v
    groups = []
    for g, cur in zip(index["param_groups"], opt.state_dict()["param_groups"]):
        ids = [by_name[n] for n in g["params"]]
        if ids != cur["params"]:
            raise ValueError(f"{directory}: optimizer parameter groups do not match the model")
        groups.append({**g, "params": ids})
    opt.load_state_dict({"state": state, "param_groups": groups})


def optimizer_param_names(model: nn.Module, opt: torch.optim.Optimizer) -> dict[int, str]:
    """Index (as in ``opt.state_dict()``) -> parameter name."""
    pname = {id(p): n for n, p in model.named_parameters()}
    out, i = {}, 0
    for g in opt.param_groups:
        for p in g["params"]:
            out[i] = pname[id(p)]
            i += 1
    return out


# ------------------------------------------------------------------ training state folder

def save_state(directory: Path, model: R1Model, opt, names, trainer: dict, tokenizer=None):
    """Write the state into ``directory.tmp`` then swap it in (a crash leaves the old one)."""
    tmp = directory.with_name(directory.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    save_checkpoint(tmp, model, model.cfg, tokenizer)
    save_optimizer(opt, names, tmp)
    (tmp / "trainer.json").write_text(json.dumps(trainer, indent=1))
    old = directory.with_name(directory.name + ".old")
    if directory.exists():
        if old.exists():
            shutil.rmtree(old)
        os.replace(directory, old)
    os.replace(tmp, directory)
    if old.exists():
        shutil.rmtree(old)


def rng_state_to_json() -> dict:
    st = {"torch": torch.get_rng_state().tolist()}
    if torch.cuda.is_available():
        st["cuda"] = [s.tolist() for s in torch.cuda.get_rng_state_all()]
    return st


def rng_state_from_json(st: dict):
    torch.set_rng_state(torch.tensor(st["torch"], dtype=torch.uint8))
    if "cuda" in st and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([torch.tensor(s, dtype=torch.uint8) for s in st["cuda"]])


# ------------------------------------------------------------------ shipping and the loss curve

def heldout_mean(val: dict) -> float | None:
    """Mean of the languages' held-out losses (None without held-out text)."""
    losses = [v["loss"] for v in val.values()]
    return sum(losses) / len(losses) if losses else None


def ship_if_better(tr, ship_dir: Path) -> dict:
    """Ship ``OUT/best`` into ``ship_dir`` (bf16 weights, card.json with the held-out figures,
    loss.png) when its held-out loss on the run's periodic sample beats the checkpoint already
    in ``ship_dir`` measured on the same windows now. Returns what was decided."""
    from model.evaluate import evaluate, model_card
    best = tr.out / "best"
    if not (best / "model.safetensors").exists():
        return {"shipped": False, "reason": "no best checkpoint"}
    new = load_checkpoint(best).model.float().to(torch.bfloat16).float()
    new_loss = heldout_mean(tr.evaluate_model(new))
    old_loss = None
    if (Path(ship_dir) / "model.safetensors").exists():
        old = load_checkpoint(ship_dir)
        if old.config.vocab_size != new.cfg.vocab_size:
            return {"shipped": False, "reason": "the shipped model has another vocabulary: not comparable"}
        old_loss = heldout_mean(tr.evaluate_model(old.model.float()))
    decision = {"best_loss": round(new_loss, 4), "shipped_loss": None if old_loss is None else round(old_loss, 4)}
    if old_loss is not None and new_loss >= old_loss:
        return {"shipped": False, "reason": "held-out loss not better than the shipped model's", **decision}
    rep = evaluate(new, tr.ds, tr.cfg.seq_len, tr.cfg.ship_eval_tokens, tr.cfg.ship_ident_sites, None,
                   log=tr.log)
    card = model_card(load_checkpoint(best).meta, rep, tr.ds)
    card["heldout_decision"] = decision
    save_checkpoint(ship_dir, new, new.cfg, tr.tokenizer, card, dtype=torch.bfloat16)
    if (tr.out / "loss.png").exists():
        shutil.copyfile(tr.out / "loss.png", Path(ship_dir) / "loss.png")
    return {"shipped": True, **decision}


def plot_history(history: list[dict], path: Path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    tr = [(h["tokens"], h["lm"]) for h in history if "lm" in h]
    fig, ax = plt.subplots(figsize=(7, 4))
    if tr:
        x, y = np.array(tr, dtype=float).T
        k = max(1, len(y) // 50)
        ys = np.convolve(y, np.ones(k) / k, mode="valid")
        ax.plot(x[k - 1:] / 1e6, ys, label="train lm loss", lw=1)
    for lang, c in (("python", "C1"), ("java", "C2")):
        v = [(h["tokens"], h["val"][lang]["loss"]) for h in history if "val" in h and lang in h["val"]]
        if v:
            x, y = np.array(v, dtype=float).T
            ax.plot(x / 1e6, y, "o-", color=c, label=f"held-out {lang} (periodic sample)", ms=3)
    ax.set_xlabel("tokens seen (M)")
    ax.set_ylabel("loss (nats/token)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
