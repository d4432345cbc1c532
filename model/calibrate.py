"""Name the routed experts by measurement: which kinds of code each expert takes.

    python -m model.calibrate --checkpoint model/checkpoints/r1-tiny --corpus cache/corpus \
        [--split val] [--max-tokens 60000] [--seq-len 512] [--json out.json] [--write]

1. Held-out text. The files of the corpus's val split (held out by file, never trained on) are
   decoded back to text from the token arrays (`heldout_documents`: a FIM sample is reassembled
   as prefix + middle + suffix, so the text is the file's exactly), taken round-robin over the
   languages until `--max-tokens` tokens.
2. Categories. Each file is parsed with the server's tree-sitter grammar and tokenised with the
   checkpoint's tokenizer; every token gets a category (string, comment, loop header, call,
   declaration, ...; SQL-looking strings apart) from the leaf holding its first non-space byte
   and that leaf's ancestors. The node-type -> category table is data, `model/expert_categories.json`
   (its "about" gives the rule); no language has code branches here.
3. Routing. The model routes each file in windows of `--seq-len` tokens (`<|lang|>` first, level
   ids from the structure mapping, renumbered per window, as the server routes a paragraph).
   Expert ids are pooled over layers and each (token, layer) contributes its renormalised top-k
   weights, exactly as `r1lsp.experts.aggregate` computes diagnostic shares.
4. Labels. For expert e and category c: share = P(c | e) (of e's routing weight), base = P(c)
   (of all tokens), lift = share / base. Categories are ranked by excess = share - base (what the
   expert takes beyond its fair part; favours neither tiny categories with a big lift nor big
   categories every expert sees). The label is the top category's name, plus the second's
   ("loops & calls") when its excess is at least half the first's; an expert with no category at
   share >= 5 % and lift >= 1.25 is "mixed". Languages: the expert's weight per language.

`--write` stores {"expert_labels": {...}, "expert_labels_meta": {...}} into the checkpoint's
card.json (read, update, write back; the safetensors file is not touched). The server shows the
labels in its expert diagnostics (`r1lsp.expert_labels.load_expert_labels`).
"""
from __future__ import annotations

import argparse
import functools
import json
import os
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

import numpy as np

CATEGORY_FILE = Path(__file__).with_name("expert_categories.json")
MIN_SHARE, MIN_LIFT, SECOND_RATIO = 0.05, 1.25, 0.5

RouteFn = Callable[[list, np.ndarray], object]          # (ids, levels (T, 3)) -> RouteTrace-like


# ------------------------------------------------------------------------------ categories

@dataclass
class CategoryTable:
    names: list[str]                                     # category ids, index = code
    labels: dict[str, str]
    strong: dict[str, dict[str, str]]
    context: dict[str, dict[str, str]]
    boundary: dict[str, set[str]]
    sql_from: str
    sql_to: str
    sql_re: re.Pattern
    identifier_types: set[str]
    keyword_re: re.Pattern

    def code(self, name: str) -> int:
        return self.names.index(name)

    def for_language(self, language: str):
        def merged(d):
            return {**d.get("*", {}), **d.get(language, {})}
        return (merged(self.strong), merged(self.context),
                set(self.boundary.get("*", ())) | set(self.boundary.get(language, ())))


@functools.lru_cache(maxsize=4)
def load_categories(path: str | None = None) -> CategoryTable:
    raw = json.loads(Path(path or CATEGORY_FILE).read_text("utf-8"))
    labels = raw["labels"]
    return CategoryTable(
        names=list(labels), labels=labels, strong=raw["strong"], context=raw["context"],
        boundary={k: set(v) for k, v in raw["boundary"].items()},
        sql_from=raw["sql"]["category"], sql_to=raw["sql"]["becomes"], sql_re=re.compile(raw["sql"]["pattern"]),
        identifier_types=set(raw["leaf"]["identifier_types"]), keyword_re=re.compile(raw["leaf"]["keyword_pattern"]))


def leaf_categories(tree, data: bytes, language: str, table: CategoryTable) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(start, end, category code) of every non-empty leaf of `tree`, in document order."""
    strong_map, ctx_map, boundary = table.for_language(language)
    codes = {n: i for i, n in enumerate(table.names)}
    ident, keyword_re = table.identifier_types, table.keyword_re
    starts, ends, cats = [], [], []
    cursor = tree.walk()
    stack = [(None, None)]                               # (strong, context) inherited by children
    while True:
        n = cursor.node
        strong, ctx = stack[-1]
        t = n.type
        if strong is None and t in strong_map:
            strong = strong_map[t]
            if strong == table.sql_from and table.sql_re.search(data[n.start_byte:n.end_byte].decode("utf-8", "replace")):
                strong = table.sql_to
        if t in ctx_map:
            ctx = ctx_map[t]
        elif t in boundary:
            ctx = None
        if cursor.goto_first_child():
            stack.append((strong, ctx))
            continue
        if n.end_byte > n.start_byte:
            if strong is not None:
                c = strong
            elif ctx is not None:
                c = ctx
            elif t in ident:
                c = "identifier"
            elif keyword_re.match(t):
                c = "keyword"
            else:
                c = "operator"
            starts.append(n.start_byte)
            ends.append(n.end_byte)
            cats.append(codes[c])
        while not cursor.goto_next_sibling():
            if not cursor.goto_parent():
                return (np.asarray(starts, np.int64), np.asarray(ends, np.int64), np.asarray(cats, np.int64))
            stack.pop()


_SPACE = np.zeros(256, bool)
_SPACE[[9, 10, 11, 12, 13, 32]] = True


def token_categories(data: bytes, token_starts, token_ends, leaves, table: CategoryTable) -> np.ndarray:
    """Category code of each token [start, end): that of the leaf holding its first non-space
    byte; 'whitespace' when it has none, 'other' when that byte is in no leaf."""
    l_start, l_end, l_cat = leaves
    starts = np.asarray(token_starts, np.int64)
    ends = np.asarray(token_ends, np.int64)
    raw = np.frombuffer(data, np.uint8)
    n = len(raw)
    # next non-space byte at or after i (n when none)
    idx = np.where(_SPACE[raw], n, np.arange(n))
    nxt = np.append(np.minimum.accumulate(idx[::-1])[::-1], n)
    b = nxt[np.clip(starts, 0, n)]
    out = np.full(len(starts), table.code("other"), np.int64)
    blank = b >= ends
    out[blank] = table.code("whitespace")
    # a blank token inside a leaf (spaces in a string or comment) takes the leaf's category
    b = np.where(blank, starts, b)
    if len(l_start):
        leaf = np.searchsorted(l_start, b, side="right") - 1
        lc = np.clip(leaf, 0, len(l_start) - 1)
        hit = (leaf >= 0) & (b >= l_start[lc]) & (b < l_end[lc])
        out[hit] = l_cat[lc[hit]]
    return out


def categorize(text: str, language: str, token_starts, token_ends, table: CategoryTable | None = None) -> np.ndarray:
    """Parse `text` and return the category code of each token (see `token_categories`)."""
    from r1lsp.structure.languages import language_support
    table = table or load_categories()
    data = text.encode("utf-8", "surrogatepass")
    support = language_support(language)
    if support is None:
        leaves = (np.zeros(0, np.int64),) * 3
    else:
        leaves = leaf_categories(support.parser().parse(data), data, language, table)
    return token_categories(data, token_starts, token_ends, leaves, table)


# ------------------------------------------------------------------------------ held-out text

@dataclass
class HeldoutDoc:
    path: str
    language: str
    text: str


def heldout_documents(corpus: str | Path, split: str = "val") -> Iterator[HeldoutDoc]:
    """The files of a corpus split as text, decoded from its token arrays (FIM samples put back in
    order: prefix + middle + suffix), in files.jsonl order."""
    from model.tokenizer import SpecialTokens, load_tokenizer
    root = Path(corpus)
    tok = load_tokenizer(root / "tokenizer.json")
    sp = SpecialTokens.from_tokenizer(tok)
    tokens = np.load(root / f"{split}.tokens.npy", mmap_mode="r")
    docs = np.load(root / f"{split}.docs.npy")
    rows = []
    with open(root / "files.jsonl", encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            if r.get("split") == split:
                rows.append(r)
    rows.sort(key=lambda r: r["sample"])
    langs = {sp.lang_java, sp.lang_python, sp.lang_text}
    for r in rows:
        ids = np.asarray(tokens[docs[r["sample"]]:docs[r["sample"] + 1]], dtype=np.int64).tolist()
        yield HeldoutDoc(r.get("path", str(r["sample"])), r["lang"], decode_samples(tok, sp, langs, ids))


def decode_samples(tok, sp, lang_ids: set[int], ids: Sequence[int]) -> str:
    """Text of a file's samples: plain `<|lang|> text <|eot|>` or FIM `<|lang|> <|pre|> P <|suf|> S
    <|mid|> M <|eot|>` (-> P + M + S), concatenated."""
    out: list[str] = []
    parts: dict[str, list[int]] = {}
    mode = "plain"
    marks = {sp.fim_prefix: "prefix", sp.fim_suffix: "suffix", sp.fim_middle: "middle"}

    def flush():
        if mode == "plain":
            out.append(tok.decode(parts.get("plain", [])))
        else:
            out.extend(tok.decode(parts.get(k, [])) for k in ("prefix", "middle", "suffix"))
        parts.clear()

    for i in ids:
        if i in lang_ids:
            if parts:
                flush()
            mode = "plain"
        elif i in marks:
            mode = marks[i]
        elif i == sp.endoftext:
            flush()
            mode = "plain"
        else:
            parts.setdefault(mode, []).append(i)
    if parts:
        flush()
    return "".join(out)


def pick_documents(docs: Iterable[HeldoutDoc], max_bytes: int | None) -> list[HeldoutDoc]:
    """Round-robin over languages (first file of each, then the second ...) up to ~max_bytes."""
    by_lang: dict[str, list[HeldoutDoc]] = {}
    for d in docs:
        by_lang.setdefault(d.language, []).append(d)
    out, total, k = [], 0, 0
    while any(k < len(v) for v in by_lang.values()):
        for lang in sorted(by_lang):
            v = by_lang[lang]
            if k < len(v) and (max_bytes is None or total < max_bytes):
                out.append(v[k])
                total += len(v[k].text.encode("utf-8", "surrogatepass"))
        if max_bytes is not None and total >= max_bytes:
            break
        k += 1
    return out


# ------------------------------------------------------------------------------ measuring

@dataclass
class ExpertStats:
    """Routing weight per (expert, category) and (expert, language), token counts per category."""
    n_experts: int
    categories: list[str]
    languages: list[str] = field(default_factory=list)
    by_category: np.ndarray = None      # (E, C)
    by_language: np.ndarray = None      # (E, Lg)
    base: np.ndarray = None             # (C,) tokens
    tokens: int = 0
    files: int = 0

    def __post_init__(self):
        C = len(self.categories)
        if self.by_category is None:
            self.by_category = np.zeros((self.n_experts, C))
        if self.base is None:
            self.base = np.zeros(C)
        if self.by_language is None:
            self.by_language = np.zeros((self.n_experts, 0))

    def add(self, trace, cats: np.ndarray, language: str) -> None:
        """Add one routed token run: trace (L, T, k), cats (T,) category codes."""
        experts = np.asarray(trace.experts, np.int64)
        w = np.asarray(trace.weights, np.float64)
        tot = w.sum(-1, keepdims=True)
        w = np.where(tot > 0, w / np.where(tot > 0, tot, 1), 1.0 / w.shape[-1])
        C, E = len(self.categories), self.n_experts
        idx = (experts * C + cats[None, :, None]).reshape(-1)
        self.by_category += np.bincount(idx, w.reshape(-1), minlength=E * C)[:E * C].reshape(E, C)
        self.base += np.bincount(cats, minlength=C)[:C]
        if language not in self.languages:
            self.languages.append(language)
            self.by_language = np.concatenate([self.by_language, np.zeros((E, 1))], axis=1)
        self.by_language[:, self.languages.index(language)] += np.bincount(experts.reshape(-1), w.reshape(-1), minlength=E)[:E]
        self.tokens += len(cats)


def label_experts(stats: ExpertStats, table: CategoryTable | None = None, top: int = 5) -> dict:
    """{"7": {"label", "top": [[category, share, lift], ...], "languages": {...}, "load"}} for every
    expert (see the module docstring for the ranking)."""
    table = table or load_categories()
    base = stats.base / max(stats.base.sum(), 1)
    total = stats.by_category.sum()
    out = {}
    for e in range(stats.n_experts):
        row = stats.by_category[e]
        mass = row.sum()
        if mass <= 0:
            out[str(e)] = {"label": "unused", "top": [], "languages": {}, "load": 0.0}
            continue
        share = row / mass
        lift = np.divide(share, base, out=np.zeros_like(share), where=base > 0)
        excess = share - base
        order = [int(c) for c in np.argsort(-excess, kind="stable") if base[c] > 0]
        ok = [c for c in order if share[c] >= MIN_SHARE and lift[c] >= MIN_LIFT]
        if not ok:
            label = "mixed"
        else:
            chosen = [ok[0]]
            if len(ok) > 1 and excess[ok[1]] >= SECOND_RATIO * excess[ok[0]]:
                chosen.append(ok[1])
            label = " & ".join(table.labels[stats.categories[c]] for c in chosen)
        lang_row = stats.by_language[e]
        out[str(e)] = {
            "label": label,
            "top": [[stats.categories[c], round(float(share[c]), 4), round(float(lift[c]), 3)] for c in order[:top]],
            "languages": {lg: round(float(v / lang_row.sum()), 4) for lg, v in zip(stats.languages, lang_row)}
            if lang_row.sum() > 0 else {},
            "load": round(float(mass / total), 4),
        }
    return out


def calibrate(docs: Sequence[HeldoutDoc], route_fn: RouteFn, tokenizer, n_experts: int, *,
              seq_len: int = 512, max_tokens: int | None = None, table: CategoryTable | None = None,
              log=None) -> tuple[dict, ExpertStats]:
    """Route `docs` through `route_fn` and label the experts. Returns (labels, stats)."""
    from model.prompts import R1Prompts
    from model.tokenizer import SpecialTokens, encode_with_byte_offsets, token_byte_lengths
    from r1lsp.experts import model_input
    from r1lsp.structure import map_structure

    table = table or load_categories()
    sp = SpecialTokens.from_tokenizer(tokenizer)
    lens = token_byte_lengths(tokenizer)
    shim = type("_Shim", (), {"prompts": R1Prompts(sp)})()
    stats = ExpertStats(n_experts, list(table.names))
    for d in docs:
        if max_tokens is not None and stats.tokens >= max_tokens:
            break
        data = d.text.encode("utf-8", "surrogatepass")
        ids, starts = encode_with_byte_offsets(tokenizer, d.text, lens)
        if not ids:
            continue
        if max_tokens is not None:
            ids, starts = ids[:max_tokens - stats.tokens], starts[:max_tokens - stats.tokens]
        ends = starts + lens[np.asarray(ids, dtype=np.int64)]
        cats = categorize(d.text, d.language, starts, ends, table)
        hierarchy = map_structure(d.text, d.language)
        for a in range(0, len(ids), seq_len - 1):
            inp, lev = model_input(shim, hierarchy, d.language, ids[a:a + seq_len - 1], starts[a:a + seq_len - 1])
            tr = route_fn(inp, lev)
            ex, wt = np.asarray(tr.experts)[:, 1:], np.asarray(tr.weights)[:, 1:]
            stats.add(type("T", (), {"experts": ex, "weights": wt})(), cats[a:a + seq_len - 1], d.language)
        stats.files += 1
        if log:
            log(f"  {d.language} {d.path}: {len(ids)} tokens (total {stats.tokens})")
    return label_experts(stats, table), stats


def model_route_fn(model, device: str = "cpu") -> RouteFn:
    """route_fn over an R1Model (forward with return_routing)."""
    import torch

    def route(ids, levels):
        from r1lsp.engine import RouteTrace
        with torch.inference_mode():
            out = model(torch.tensor([ids], device=device), torch.as_tensor(levels, device=device)[None],
                        return_routing=True)
        return RouteTrace(out.routing.experts[:, 0].cpu().numpy(), out.routing.weights[:, 0].float().cpu().numpy())
    return route


def write_card(checkpoint: str | Path, labels: dict, meta: dict) -> Path:
    """Store the labels into checkpoint/card.json (other keys kept; atomic replace)."""
    path = Path(checkpoint) / "card.json"
    card = json.loads(path.read_text("utf-8")) if path.exists() else {}
    card["expert_labels"] = labels
    card["expert_labels_meta"] = meta
    tmp = path.with_name("card.json.tmp")
    tmp.write_text(json.dumps(card, indent=2), encoding="utf-8")
    os.replace(tmp, path)
    return path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m model.calibrate", description=__doc__.split("\n\n")[0])
    ap.add_argument("--checkpoint", required=True, help="checkpoint folder")
    ap.add_argument("--corpus", default="cache/corpus", help="built corpus folder (its val split is used)")
    ap.add_argument("--split", default="val")
    ap.add_argument("--max-tokens", type=int, default=60000)
    ap.add_argument("--seq-len", type=int, default=512)
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    ap.add_argument("--json", metavar="OUT", help="also write the labels and stats to this file")
    ap.add_argument("--write", action="store_true", help="store the labels into the checkpoint's card.json")
    a = ap.parse_args(argv)

    import torch
    from model.checkpoint import load_checkpoint
    if a.threads:
        torch.set_num_threads(a.threads)
    t0 = time.time()
    ck = load_checkpoint(a.checkpoint)
    if ck.tokenizer is None:
        print(f"{a.checkpoint}: no tokenizer.json", file=sys.stderr)
        return 2
    model = ck.model.float().eval()
    seq_len = min(a.seq_len, ck.config.max_seq_len)
    docs = pick_documents(heldout_documents(a.corpus, a.split), max_bytes=a.max_tokens * 6)
    labels, stats = calibrate(docs, model_route_fn(model), ck.tokenizer, ck.config.n_experts,
                              seq_len=seq_len, max_tokens=a.max_tokens,
                              log=lambda m: print(m, file=sys.stderr))
    base = stats.base / max(stats.base.sum(), 1)
    meta = {"corpus": str(a.corpus), "split": a.split, "files": stats.files, "tokens": stats.tokens,
            "seq_len": seq_len, "pooled_layers": ck.config.n_layers,
            "category_base_rates": {c: round(float(b), 4) for c, b in zip(stats.categories, base) if b > 0},
            "method": "share = P(category | expert) of routing weight (top-k renormalised, layers pooled); "
                      "lift = share / base rate; ranked by share - base rate",
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "seconds": round(time.time() - t0, 1)}
    for e, v in labels.items():
        top = ", ".join(f"{c} {s:.0%} x{l:.1f}" for c, s, l in v["top"][:3])
        print(f"expert {e:>2}: {v['label']:<28} load {v['load']:.1%}  {top}  {v['languages']}")
    if a.json:
        Path(a.json).write_text(json.dumps({"expert_labels": labels, "meta": meta}, indent=1), encoding="utf-8")
    if a.write:
        print(f"wrote {write_card(a.checkpoint, labels, meta)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
