"""Held-out metrics of an R1 checkpoint on a built corpus (its "val" split, held out by file).

    python -m model.evaluate --ckpt model/checkpoints/r1-tiny --corpus cache/corpus \
        [--seq-len 256] [--max-tokens 60000] [--json out.json]

Metrics (all on the val split, bounded by ``--max-tokens`` per language):
  * bits per byte per language: sum of next-token losses (nats) / ln 2 / UTF-8 bytes of the
    predicted tokens (special tokens count 0 bytes, their loss is included);
    ``bpb_after_first_window`` leaves out each file's first window (OpenJDK files open with
    the same ~1.3 KB licence header, which a model learns verbatim);
  * loss (nats / token), top-1 / top-5 next-token accuracy;
  * next-identifier exact match: at the start of an identifier (a token whose text starts a
    ``[A-Za-z_][A-Za-z0-9_]*`` word that is not preceded by a word character), the model is
    given the window up to that point and decodes greedily as many tokens as the true
    identifier has; a hit when all of them are right (i.e. the full identifier token sequence);
  * expert usage: fraction of routed (token, slot) pairs per expert and layer, its entropy
    (bits; log2 16 = 4 is perfectly even) and the share of the busiest expert;
  * sparse attention: kept fraction of visible (causal) keys per layer at the eval length, and
    at ``long_len`` (1024) on Java files that long (the fraction falls as the context grows:
    the top-k budget and the gate threshold bound the kept keys, the local window is kept).

Windows: each val file (one sample) is cut into consecutive windows of ``seq_len + 1`` tokens;
windows are taken round-robin over files (first window of every file, then the second ...)
so a small budget still covers many files. Level ids are renumbered per window as in training.
"""
from __future__ import annotations

import argparse
import json
import math
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from model.data import CorpusDataset, renumber_first_appearance
from model.tokenizer import token_byte_lengths

LN2 = math.log(2.0)
PAD_ID = 1


@dataclass
class Windows:
    """A fixed set of held-out windows of one language, padded on the right."""
    input_ids: torch.Tensor      # (N, T) int64
    targets: torch.Tensor        # (N, T) int64, -100 past the end of a short window
    level_ids: torch.Tensor      # (N, T, 3) int64
    target_bytes: torch.Tensor   # (N, T) int64 UTF-8 bytes of each target token (0 if ignored)

    def __len__(self):
        return self.input_ids.shape[0]

    def shard(self, rank: int, world: int) -> "Windows":
        return Windows(*(t[rank::world] for t in (self.input_ids, self.targets, self.level_ids,
                                                   self.target_bytes)))


def file_table(ds: CorpusDataset, split: str = "val") -> list[dict]:
    """The files.jsonl rows of a split, in sample order, with ``start`` / ``end`` token offsets."""
    docs = ds.docs(split)
    rows = []
    with open(ds.root / "files.jsonl", encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            if r["split"] == split:
                rows.append(r)
    rows.sort(key=lambda r: r["sample"])
    for r in rows:
        r["start"], r["end"] = int(docs[r["sample"]]), int(docs[r["sample"] + 1])
    return rows


def heldout_windows(ds: CorpusDataset, lang: str, seq_len: int, max_tokens: int,
                    split: str = "val", byte_lengths: np.ndarray | None = None,
                    min_len: int = 16, skip_first: bool = False) -> Windows:
    """Round-robin windows over the split's files of ``lang``, at most ``max_tokens`` scored targets
    (targets in licence headers, which the corpus masks, are neither scored nor counted).
    ``skip_first``: leave out each file's first window where the file has more than one (a
    small budget would otherwise be mostly licence headers)."""
    if byte_lengths is None:
        byte_lengths = token_byte_lengths(ds.tokenizer())
    toks, levs, mask = ds.tokens(split), ds.levels(split), ds.mask(split)
    spans_by_file = []
    rows = [r for r in file_table(ds, split) if r["lang"] == lang]
    for r in rows:
        spans = [(s, min(s + seq_len + 1, r["end"])) for s in range(r["start"], r["end"] - 1, seq_len)]
        spans = [sp for sp in spans if sp[1] - sp[0] >= min_len]
        spans_by_file.append(spans[1:] if skip_first and len(spans) > 1 else spans)
    first_spans = {r["start"] for r in rows}
    chosen, budget, k = [], max_tokens, 0
    while budget > 0 and any(k < len(s) for s in spans_by_file):
        for spans in spans_by_file:
            if k < len(spans) and budget > 0:
                a, b = spans[k]
                scored = b - a - 1 if mask is None else int(np.count_nonzero(np.asarray(mask[a + 1:b])))
                if scored:                                       # a window of licence header only: skip
                    chosen.append(spans[k])
                    budget -= scored
        k += 1
    n = len(chosen)
    inp = np.full((n, seq_len), PAD_ID, dtype=np.int64)
    tgt = np.full((n, seq_len), -100, dtype=np.int64)
    lev = np.zeros((n, seq_len, 3), dtype=np.int64)
    for i, (a, b) in enumerate(chosen):
        w = np.asarray(toks[a:b], dtype=np.int64)
        m = len(w) - 1
        inp[i, :m], tgt[i, :m] = w[:-1], w[1:]
        if mask is not None:                                  # licence headers: not scored
            tgt[i, :m][np.asarray(mask[a + 1:b]) == 0] = -100
        lv = np.asarray(levs[a:b - 1], dtype=np.int64)
        for c in range(3):
            lev[i, :m, c] = renumber_first_appearance(lv[:, c])
        lev[i, m:] = lev[i, m - 1]
    tb = np.where(tgt >= 0, byte_lengths[np.maximum(tgt, 0)], 0)
    win = Windows(*(torch.from_numpy(x) for x in (inp, tgt, lev, tb)))
    win.file_start = torch.tensor([a in first_spans for a, _ in chosen], dtype=torch.bool)  # (N,)
    return win


def autocast_ctx(dtype: str | None, device="cpu"):
    import contextlib
    if dtype in ("bf16", "bfloat16"):
        return torch.autocast(device_type=torch.device(device).type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


@torch.no_grad()
def loss_sums(model, win: Windows, batch_size: int = 16, amp: str | None = None,
              topk: bool = False, device="cpu") -> dict:
    """Sums over the windows: nats, tokens, bytes (and top-1 / top-5 hits if ``topk``)."""
    was = model.training
    model.eval()
    out = {"nats": 0.0, "tokens": 0, "bytes": 0, "top1": 0, "top5": 0, "win_nats": [], "win_tokens": []}
    for i in range(0, len(win), batch_size):
        x, y, lv = (t[i:i + batch_size].to(device) for t in (win.input_ids, win.targets, win.level_ids))
        with autocast_ctx(amp, device):
            logits = model(x, lv).logits
        logits = logits.float()
        mask = y >= 0
        nll = F.cross_entropy(logits.flatten(0, 1), y.flatten(), ignore_index=-100, reduction="none")
        per_win = nll.view(y.shape).sum(-1)                                       # (B,)
        out["win_nats"] += per_win.tolist()
        out["win_tokens"] += mask.sum(-1).tolist()
        out["nats"] += float(per_win.sum())
        out["tokens"] += int(mask.sum())
        out["bytes"] += int(win.target_bytes[i:i + batch_size].sum())
        if topk:
            top = logits.topk(5, dim=-1).indices                                  # (B, T, 5)
            hit = top == y[..., None]
            out["top1"] += int((hit[..., 0] & mask).sum())
            out["top5"] += int((hit.any(-1) & mask).sum())
    model.train(was)
    return out


def summarize(s: dict, topk: bool = False) -> dict:
    tokens, nbytes = max(1, s["tokens"]), max(1, s["bytes"])
    r = {"loss": s["nats"] / tokens, "bpb": s["nats"] / LN2 / nbytes, "tokens": s["tokens"],
         "bytes": s["bytes"]}
    if topk:
        r["top1"], r["top5"] = s["top1"] / tokens, s["top5"] / tokens
    return r


# ------------------------------------------------------------------ next identifier

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NOT_CODE = {
    # strings and comments: identifier sites inside them are skipped
    "python": re.compile(r'(?s)""".*?"""|\'\'\'.*?\'\'\'|"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'|#[^\n]*'),
    "java": re.compile(r'(?s)/\*.*?\*/|//[^\n]*|"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\''),
}
_KEYWORDS = {
    "python": set(__import__("keyword").kwlist) | {"match", "case", "type", "_"},
    "java": set("""abstract assert boolean break byte case catch char class const continue default do double
        else enum extends final finally float for goto if implements import instanceof int interface long
        native new package private protected public return short static strictfp super switch synchronized
        this throw throws transient try void volatile while var record yield sealed permits true false
        null""".split()),
}


def identifier_starts(ids: np.ndarray, byte_lengths: np.ndarray, tok, max_sites: int,
                      min_ctx: int, rng: np.random.Generator, lang: str = "python") -> list[tuple[int, int]]:
    """``(position, n_tokens)``: token positions where a code identifier (not a keyword, not
    inside a string or comment, at least 2 characters) starts exactly at a token start, and how
    many tokens the identifier spans (through the token holding its last character); at most
    ``max_sites``, chosen at random."""
    texts = [tok.decode([int(i)], skip_special_tokens=False) if byte_lengths[int(i)] else "\x00"
             for i in ids]
    starts = np.cumsum([0] + [len(t) for t in texts])
    full = "".join(texts)
    not_code = np.zeros(len(full) + 1, dtype=bool)
    pat = _NOT_CODE.get(lang)
    if pat is not None:
        for m in pat.finditer(full):
            not_code[m.start():m.end()] = True
    keywords = _KEYWORDS.get(lang, set())
    sites = []
    for p in range(max(1, min_ctx), len(ids)):
        t = texts[p]
        lead = t.lstrip(" \t\n")
        m = _IDENT.match(lead)
        if not m or "\ufffd" in t:
            continue
        prev = texts[p - 1]
        if lead == t and prev and (prev[-1].isalnum() or prev[-1] == "_"):
            continue                                   # continues a word of the previous token
        c0 = int(starts[p]) + len(t) - len(lead)       # first character of the word
        if not_code[c0]:
            continue
        end = c0 + len(_IDENT.match(full, c0).group(0))  # the whole word, over later tokens
        word = full[c0:end]
        if len(word) < 2 or word in keywords:
            continue
        q = int(np.searchsorted(starts, end, side="left"))   # first token starting at/after the end
        sites.append((p, max(1, q - p)))
    if len(sites) > max_sites:
        pick = rng.choice(len(sites), size=max_sites, replace=False)
        sites = [sites[i] for i in sorted(pick)]
    return sites


@torch.no_grad()
def next_identifier_exact(model, ds: CorpusDataset, lang: str, n_sites: int, ctx_len: int = 256,
                          seed: int = 0, amp: str | None = None) -> dict:
    """Exact match of greedy decoding of the whole next identifier (see module doc)."""
    tok = ds.tokenizer()
    bl = token_byte_lengths(tok)
    toks, levs = ds.tokens("val"), ds.levels("val")
    rng = np.random.default_rng(seed)
    files = [r for r in file_table(ds) if r["lang"] == lang and r["end"] - r["start"] > 64]
    per_file = max(1, math.ceil(n_sites / max(1, len(files))))
    hits = total = 0
    model.eval()
    for r in files:
        if total >= n_sites:
            break
        ids = np.asarray(toks[r["start"]:r["end"]], dtype=np.int64)
        lv = np.asarray(levs[r["start"]:r["end"]], dtype=np.int64)
        for p, n in identifier_starts(ids, bl, tok, per_file, 8, rng, lang):
            a = max(0, p - ctx_len)
            ctx = torch.from_numpy(ids[a:p].copy())[None]
            lvl = torch.from_numpy(np.stack([renumber_first_appearance(lv[a:p + n, c])
                                             for c in range(3)], -1))[None]
            cur, ok = ctx, True
            for j in range(n):
                with autocast_ctx(amp):
                    logits = model(cur, lvl[:, :cur.shape[1]]).logits[0, -1]
                nxt = int(logits.float().argmax())
                if nxt != int(ids[p + j]):
                    ok = False
                    break
                cur = torch.cat([cur, torch.tensor([[nxt]])], 1)
            hits += ok
            total += 1
            if total >= n_sites:
                break
    return {"exact": hits / max(1, total), "sites": total}


# ------------------------------------------------------------------ routing and attention

@torch.no_grad()
def expert_usage(model, win: Windows, batch_size: int = 8, amp: str | None = None) -> dict:
    cfg = model.cfg
    counts = torch.zeros(cfg.n_layers, cfg.n_experts, dtype=torch.float64)
    model.eval()
    for i in range(0, len(win), batch_size):
        x, y, lv = (t[i:i + batch_size] for t in (win.input_ids, win.targets, win.level_ids))
        with autocast_ctx(amp):
            out = model(x, lv, return_routing=True)
        ex = out.routing.experts                                                   # (L, B, T, k)
        mask = (y >= 0)[None, :, :, None].expand_as(ex)
        for layer in range(cfg.n_layers):
            counts[layer] += torch.bincount(ex[layer][mask[layer]].flatten(),
                                            minlength=cfg.n_experts).double()
    frac = counts / counts.sum(-1, keepdim=True).clamp_min(1)
    ent = -(frac * frac.clamp_min(1e-12).log2()).sum(-1)
    return {"fraction": [[round(float(v), 4) for v in row] for row in frac],
            "entropy_bits": [round(float(v), 3) for v in ent],
            "max_entropy_bits": round(math.log2(cfg.n_experts), 3),
            "busiest_share": [round(float(v), 4) for v in frac.max(-1).values],
            "idle_experts": [int((row < 1e-3).sum()) for row in frac]}


@torch.no_grad()
def kept_fraction(model, win: Windows, n_windows: int = 8) -> dict:
    """Fraction of visible keys each layer's sparse attention keeps at the eval length, measured
    by replaying the indexer selection on the attention inputs (hooks on each block)."""
    from model.attention import key_masks, select_keys
    cfg = model.cfg
    if not cfg.attn_sparse:
        return {"per_layer": [1.0] * cfg.n_layers, "mean": 1.0, "seq_len": int(win.input_ids.shape[1])}
    kept, visible = [0.0] * cfg.n_layers, [0.0] * cfg.n_layers
    stash = {}

    def hook(i):
        def f(mod, args):
            stash[i] = args
        return f

    hs = [b.attn.register_forward_pre_hook(hook(i)) for i, b in enumerate(model.blocks)]
    try:
        model.eval()
        x, lv = win.input_ids[:n_windows], win.level_ids[:n_windows]
        model(x, lv)
    finally:
        for h in hs:
            h.remove()
    for i, b in enumerate(model.blocks):
        args = stash[i]
        xin, index_rope = args[0], args[2]
        stats = _kept_stats(b.attn, xin, index_rope, cfg, key_masks, select_keys)
        kept[i], visible[i] = stats
    per = [k / max(1.0, v) for k, v in zip(kept, visible)]
    return {"per_layer": [round(p, 4) for p in per], "mean": round(sum(per) / len(per), 4),
            "seq_len": int(win.input_ids.shape[1])}


def _kept_stats(attn, x, index_rope, cfg, key_masks, select_keys):
    B, T, _ = x.shape
    iq, iw, ik = attn.indexer.project(x, *index_rope)
    scores = attn.indexer.score(iq, iw, ik)                                        # (B, T, S)
    visible, local = key_masks(0, T, T, cfg.local_window, None, x.device)
    _, keep = select_keys(scores, visible, local, cfg.gate_threshold, cfg.attn_topk)
    return float(keep.sum()), float(visible.expand(B, T, T).sum())


# ------------------------------------------------------------------ full report

def evaluate(model, ds: CorpusDataset, seq_len: int = 256, max_tokens: int = 60000,
             ident_sites: int = 200, amp: str | None = None, log=print, long_len: int = 1024,
             skip_first: bool = False) -> dict:
    """The full report (see the module doc); ``long_len``: a second length for the kept fraction;
    ``skip_first``: score windows after each file's first one (see :func:`heldout_windows`)."""
    t0 = time.time()
    bl = token_byte_lengths(ds.tokenizer())
    rep = {"seq_len": seq_len, "max_tokens_per_lang": max_tokens, "skip_first": skip_first}
    all_s = {"nats": 0.0, "tokens": 0, "bytes": 0, "top1": 0, "top5": 0}  # sums over languages
    wins = {}
    for lang in ("python", "java"):
        win = heldout_windows(ds, lang, seq_len, max_tokens, byte_lengths=bl, skip_first=skip_first)
        wins[lang] = win
        s = loss_sums(model, win, amp=amp, topk=True)
        for k in all_s:
            all_s[k] += s[k]
        rep[lang] = summarize(s, topk=True)
        body = ~win.file_start                             # windows after each file's first one
        if body.any():
            wn, wb = torch.tensor(s["win_nats"], dtype=torch.float64), win.target_bytes.sum(-1).double()
            rep[lang]["bpb_after_first_window"] = float(wn[body].sum() / LN2 / wb[body].sum())
            rep[lang]["windows"], rep[lang]["file_start_windows"] = len(win), int(win.file_start.sum())
        log(f"  {lang}: {rep[lang]} ({time.time() - t0:.0f} s)")
        ide = next_identifier_exact(model, ds, lang, ident_sites, seq_len, amp=amp)
        rep[lang]["next_identifier_exact"] = ide["exact"]
        rep[lang]["next_identifier_sites"] = ide["sites"]
        log(f"  {lang} next identifier: {ide} ({time.time() - t0:.0f} s)")
    rep["all"] = summarize(all_s, topk=True)
    both = Windows(*(torch.cat([getattr(wins["python"], f)[:32], getattr(wins["java"], f)[:32]])
                     for f in ("input_ids", "targets", "level_ids", "target_bytes")))
    rep["expert_usage"] = expert_usage(model, both, amp=amp)
    rep["kept_fraction"] = kept_fraction(model, both)
    long = heldout_windows(ds, "java", long_len, 4 * long_len, byte_lengths=bl, min_len=long_len + 1)
    if len(long):
        rep["kept_fraction_long"] = kept_fraction(model, long, n_windows=4)
    rep["eval_seconds"] = round(time.time() - t0, 1)
    return rep


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m model.evaluate", description=__doc__.split("\n")[0])
    ap.add_argument("--ckpt", required=True, help="checkpoint folder (model.checkpoint format)")
    ap.add_argument("--corpus", default="cache/corpus")
    ap.add_argument("--seq-len", type=int, default=256)
    ap.add_argument("--max-tokens", type=int, default=150000, help="held-out targets per language (150k: all of cache/corpus val)")
    ap.add_argument("--ident-sites", type=int, default=200, help="identifier sites per language")
    ap.add_argument("--amp", choices=["bf16", "fp32"], default="fp32")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--skip-first", action="store_true",
                    help="leave out each file's first window (the code after the licence header: package, imports)")
    ap.add_argument("--json", default=None, help="write the report here")
    ap.add_argument("--ship", default=None, metavar="DIR",
                    help="save the checkpoint into DIR in bf16 (the evaluated weights are the bf16-"
                         "rounded ones) with card.json = training metadata + these figures")
    ap.add_argument("--update-card", action="store_true",
                    help="write these figures into the checkpoint's own card.json (weights untouched; the "
                         "previous figures kept under heldout_previous)")
    a = ap.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    from model.checkpoint import load_checkpoint, save_checkpoint
    ck = load_checkpoint(a.ckpt)
    model = ck.model.to(torch.bfloat16).float() if a.ship else ck.model.float()
    ds = CorpusDataset(a.corpus)
    rep = evaluate(model, ds, a.seq_len, a.max_tokens, a.ident_sites,
                   None if a.amp == "fp32" else a.amp, log=lambda s: print(s, file=sys.stderr),
                   skip_first=a.skip_first)
    text = json.dumps(rep, indent=1)
    if a.json:
        Path(a.json).write_text(text)
    print(text)
    if a.ship:
        card = model_card(ck.meta, rep, ds)
        save_checkpoint(a.ship, model, ck.config, ck.tokenizer, card, dtype=torch.bfloat16)
        print(f"shipped -> {a.ship}", file=sys.stderr)
    if a.update_card:
        card_path = Path(a.ckpt) / "card.json"
        card_path.write_text(json.dumps(remeasured_card(ck.meta, rep, ds), indent=2))
        print(f"figures re-measured -> {card_path}", file=sys.stderr)
    return 0


FIGURES = ("heldout_bpb_python", "heldout_bpb_java", "next_token_top1", "next_token_top5", "next_identifier_exact")


def remeasured_card(card: dict, rep: dict, ds: CorpusDataset) -> dict:
    """The card of an unchanged checkpoint with its figures measured again on ``ds`` (a new
    corpus or split): the training metadata stays, the previous figures move to
    ``heldout_previous`` with the split they were measured on."""
    new = model_card(card, rep, ds)
    for k in ("training_seconds", "throughput_tok_s", "steps", "train"):
        if k in card:
            new[k] = card[k]
    new["heldout_previous"] = {**{k: card[k] for k in FIGURES if k in card},
                               "split": card.get("eval", {}).get("split"), "corpus": card.get("corpus", {}).get("root")}
    return new


def corpus_summary(ds: CorpusDataset) -> dict:
    """What a card says about the corpus it was trained and measured on (compact: per split,
    per licence; the manifest in the corpus folder has every file)."""
    m = ds.manifest
    out = {"root": str(ds.root), "format_version": m.get("format_version", 1),
           "splits": {k: {f: v[f] for f in ("files", "tokens", "bytes", "tokens_by_lang") if f in v}
                      for k, v in m["splits"].items()},
           "licenses": m["licenses"], "tokenizer_vocab": m["tokenizer"]["vocab_size"]}
    if "gathered" in m:
        out["gathered"] = {k: m["gathered"][k] for k in ("packages", "files", "bytes", "by_split", "dropped")}
        out["val_packages"] = sorted(s["name"] for s in m["sources"] if s["split"] == "val")
        out["pending_packages"] = len(m.get("pending_packages", []))
    else:
        out["sources"] = [{"name": s["name"], "license": s["license"], "files": s["files_kept"],
                           "bytes": s["bytes_kept"]} for s in m["sources"]]
    return out


def model_card(train_meta: dict, rep: dict, ds: CorpusDataset) -> dict:
    """card.json of a shipped checkpoint: training metadata + held-out figures + corpus summary."""
    m = ds.manifest
    eu = rep["expert_usage"]
    secs = train_meta.get("training_seconds")
    card = {
        "model": "r1-tiny",
        "tokens_seen": train_meta.get("tokens_seen"),
        "steps": train_meta.get("steps"),
        "training_seconds": secs,
        "throughput_tok_s": round(train_meta.get("tokens_seen_this_run_folder", train_meta["tokens_seen"]) / secs)
        if secs else None,                   # this run folder's tokens over its seconds (not the carried count)
        "heldout_bpb_python": round(rep["python"]["bpb"], 4),
        "heldout_bpb_java": round(rep["java"]["bpb"], 4),
        "heldout_loss_python": round(rep["python"]["loss"], 4),
        "heldout_loss_java": round(rep["java"]["loss"], 4),
        "next_token_top1": round(rep["all"]["top1"], 4),
        "next_token_top5": round(rep["all"]["top5"], 4),
        "next_token_by_lang": {k: {"top1": round(rep[k]["top1"], 4), "top5": round(rep[k]["top5"], 4)}
                               for k in ("python", "java")},
        "next_identifier_exact": round((rep["python"]["next_identifier_exact"] * rep["python"]["next_identifier_sites"]
                                        + rep["java"]["next_identifier_exact"] * rep["java"]["next_identifier_sites"])
                                       / max(1, rep["python"]["next_identifier_sites"] + rep["java"]["next_identifier_sites"]), 4),
        "next_identifier_by_lang": {k: {"exact": round(rep[k]["next_identifier_exact"], 4),
                                        "sites": rep[k]["next_identifier_sites"]} for k in ("python", "java")},
        "expert_usage": {"entropy_bits_per_layer": eu["entropy_bits"], "max_entropy_bits": eu["max_entropy_bits"],
                         "busiest_share_per_layer": eu["busiest_share"], "idle_experts_per_layer": eu["idle_experts"],
                         "fraction": eu["fraction"]},
        "kept_fraction": rep["kept_fraction"],
        "kept_fraction_long": rep.get("kept_fraction_long"),
        "eval": {"seq_len": rep["seq_len"], "heldout_tokens": rep["all"]["tokens"],
                 "split": m.get("split_by") and f"val, held out by {m['split_by']}" or "val (held out by file)",
                 "licence_headers": "excluded from the scores" if (ds.root / "val.mask.npy").exists() else "included",
                 "weights": "bf16-rounded, evaluated in fp32"},
        "corpus": corpus_summary(ds),
        "train": {k: train_meta[k] for k in ("amp", "world_size", "train_config") if k in train_meta},
        "stored_dtype": "bfloat16",
    }
    return card


if __name__ == "__main__":
    sys.exit(main())
