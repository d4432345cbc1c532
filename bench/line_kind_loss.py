"""Held-out loss of two checkpoints split by the kind of source line each scored token is on.

    python bench/line_kind_loss.py --base model/checkpoints/r1-tiny --cand DIR --corpus cache/corpus-s11 \
        [--lang java] [--max-tokens 30000] [--skip-first] [--quick] [--json]

The windows are model.evaluate's (the card's with ``--max-tokens 30000``; licence headers are not
scored). A token's kind is that of the line it starts on: ``package``, ``import``, ``annotation``,
``comment`` (``/*``, ``*``, ``//``, ``#``), ``blank`` or ``code``. Session 11 used it to find that a
candidate's worse Java bpb on the card's windows was all on the files' ``package`` lines.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

KINDS = ("package", "import", "annotation", "comment", "blank", "code")


def line_kind(line: str) -> str:
    s = line.strip()
    if s.startswith("package "):
        return "package"
    if s.startswith(("import ", "from ")):
        return "import"
    if s.startswith("@"):
        return "annotation"
    if s.startswith(("/*", "*", "//", "#")):
        return "comment"
    return "code" if s else "blank"


def token_kinds(pieces: list[str]) -> list[str]:
    """The kind of the line each piece of text starts on (the pieces joined are the window's text)."""
    text = "".join(pieces)
    kinds_by_line = [line_kind(l) for l in text.split("\n")]
    out, line = [], 0
    for p in pieces:
        out.append(kinds_by_line[line])
        line += p.count("\n")
    return out


def per_token_loss(ckpt: str, win, batch: int = 16):
    import torch
    import torch.nn.functional as F
    from model.checkpoint import load_checkpoint
    model = load_checkpoint(ckpt).model.float().eval()
    out = []
    with torch.no_grad():
        for i in range(0, len(win), batch):
            logits = model(win.input_ids[i:i + batch], win.level_ids[i:i + batch]).logits.float()
            out.append(F.cross_entropy(logits.transpose(1, 2), win.targets[i:i + batch], ignore_index=-100,
                                       reduction="none"))
    return torch.cat(out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--base", default="model/checkpoints/r1-tiny")
    ap.add_argument("--cand", required=True)
    ap.add_argument("--corpus", default="cache/corpus")
    ap.add_argument("--lang", default="java", choices=["python", "java"])
    ap.add_argument("--max-tokens", type=int, default=30000)
    ap.add_argument("--skip-first", action="store_true")
    ap.add_argument("--quick", action="store_true", help="3,000 tokens")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)
    import torch
    from model.data import CorpusDataset
    from model.evaluate import heldout_windows
    from model.tokenizer import token_byte_lengths
    torch.set_num_threads(1)
    ds = CorpusDataset(a.corpus)
    tok = ds.tokenizer()
    bl = token_byte_lengths(tok)
    win = heldout_windows(ds, a.lang, 256, 3000 if a.quick else a.max_tokens, byte_lengths=bl,
                          skip_first=a.skip_first)
    base, cand = per_token_loss(a.base, win), per_token_loss(a.cand, win)
    sums = {k: [0, 0, 0.0, 0.0] for k in KINDS + ("all",)}
    for w in range(len(win)):
        ids = win.input_ids[w].tolist()[:1] + win.targets[w].tolist()
        pieces = [tok.decode([t]) if t >= 0 else "" for t in ids]
        kinds = token_kinds(pieces)[1:]                      # the kind of each target's line
        for j, t in enumerate(win.targets[w].tolist()):
            if t < 0:
                continue
            for k in (kinds[j], "all"):
                s = sums[k]
                s[0] += 1
                s[1] += int(bl[t])
                s[2] += float(base[w, j])
                s[3] += float(cand[w, j])
    rep = {k: {"tokens": s[0], "bytes": s[1], "bpb_base": round(s[2] / math.log(2) / max(1, s[1]), 4),
               "bpb_cand": round(s[3] / math.log(2) / max(1, s[1]), 4), "nats_change": round(s[3] - s[2], 1)}
           for k, s in sums.items() if s[0]}
    if not a.json:
        for k, r in rep.items():
            print(f"{k:>10}: {r['tokens']:>7,} tokens  bpb {r['bpb_base']:.3f} -> {r['bpb_cand']:.3f}  "
                  f"nats {r['nats_change']:+,.0f}")
    print(json.dumps({"lang": a.lang, "windows": len(win), "kinds": rep}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
