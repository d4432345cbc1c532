"""Training corpus for R1: samples (:class:`SampleBuilder`: tokens, level ids, FIM), the corpus
folder the trainer reads (:class:`CorpusDataset`), and the small corpus v1 build/CLI::

    python -m model.data build --out cache/corpus [--max-mb 48] [--java-share 0.5]
    python -m model.data info cache/corpus

Sources, licences, filters and dedup: :mod:`model.corpus`; the large package-split corpus
(``make corpus``): :mod:`model.corpus_shards`; where FIM middles are cut: :mod:`model.fim_cuts`.
:meth:`CorpusDataset.batch` takes per-language weights (``model.train --java-share``). Figures: docs/MODEL_CARD.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
from tokenizers import Tokenizer

from model import corpus as C
from model.fim_cuts import (FIM_CUT_KINDS, LINE_CUT_ENDS, LINE_CUT_RATE, choose_fim_cut,  # noqa: F401
                            choose_fim_cuts, choose_line_cut)
from model.structure import map_structure, renumber_first_appearance
from model.tokenizer import (DEFAULT_VOCAB_SIZE, SpecialTokens, load_tokenizer, save_tokenizer,
                             token_byte_lengths, token_byte_offsets, train_tokenizer)

SPLITS = ("train", "val")
FORMAT_VERSION = 1


# ---------------------------------------------------------------------------- structure

def structure_language(lang: str) -> str:
    return lang if lang in ("java", "python") else "plaintext"


def unit_array(handle, byte_offsets: np.ndarray) -> np.ndarray:
    """``int32 [n, 3]`` (phrase, sentence, paragraph) ids for the byte offsets."""
    if len(byte_offsets) == 0:
        return np.zeros((0, 3), dtype=np.int32)
    ids = handle.unit_ids([int(x) for x in byte_offsets])
    return np.asarray(ids, dtype=np.int32).reshape(-1, 3)


# ---------------------------------------------------------------------------- samples

def fill_special_levels(levels: np.ndarray, is_text: np.ndarray) -> np.ndarray:
    """Give each non-text row the ids of the next text row (right neighbour); trailing
    non-text rows take the previous text row's ids. Rows of ``levels`` where ``is_text`` is
    False are overwritten."""
    n = len(levels)
    if n == 0 or not is_text.any():
        return np.zeros_like(levels)
    idx = np.where(is_text, np.arange(n), n)
    nxt = np.minimum.accumulate(idx[::-1])[::-1]           # next text row at or after i
    prv = np.maximum.accumulate(np.where(is_text, np.arange(n), -1))
    src = np.where(nxt < n, nxt, prv)
    return levels[src]


@dataclass
class Sample:
    ids: np.ndarray       # int64 [n]
    levels: np.ndarray    # int32 [n, 3]
    fim: bool
    cuts: tuple[int, int] | None = None   # (middle start, middle end) in UTF-8 bytes
    region: tuple[int, int] | None = None  # FIM region [r0, r1) in UTF-8 bytes
    offsets: np.ndarray | None = None      # int64 [n] file byte offset of each token, -1 special
    cut_kind: str | None = None            # FIM samples: one of FIM_CUT_KINDS


def assemble(pieces: list[tuple[int | None, np.ndarray | None, np.ndarray | None]]) -> tuple[
        np.ndarray, np.ndarray]:
    """Concatenate ``(special_id, None, None)`` and ``(None, ids, levels)`` pieces, then give
    the special tokens their neighbours' level ids (:func:`fill_special_levels`)."""
    ids_parts, lev_parts, text_parts = [], [], []
    for sid, ids, lev in pieces:
        if sid is not None:
            ids_parts.append(np.array([sid], dtype=np.int64))
            lev_parts.append(np.zeros((1, 3), dtype=np.int32))
            text_parts.append(np.zeros(1, dtype=bool))
        elif len(ids):
            ids_parts.append(np.asarray(ids, dtype=np.int64))
            lev_parts.append(np.asarray(lev, dtype=np.int32).reshape(-1, 3))
            text_parts.append(np.ones(len(ids), dtype=bool))
    ids = np.concatenate(ids_parts)
    lev = fill_special_levels(np.concatenate(lev_parts), np.concatenate(text_parts))
    return ids, lev


def encode_texts(tok: Tokenizer, texts: Sequence[str]) -> list[list[int]]:
    """Token ids of ordinary texts (batched): special-token strings that occur in the text
    (e.g. ``"<|endoftext|>"`` in a docstring) are tokenised as plain text."""
    old = tok.encode_special_tokens
    tok.encode_special_tokens = True
    try:
        return [e.ids for e in tok.encode_batch(list(texts), add_special_tokens=False)]
    finally:
        tok.encode_special_tokens = old


class SampleBuilder:
    """Turns a file's text into a :class:`Sample` (tokens + level ids, optionally FIM).

    plain (1 - fim_rate):  <|lang:X|> text <|endoftext|>
    FIM   (fim_rate, PSM): <|lang:X|> <|fim_prefix|> prefix <|fim_suffix|> suffix <|fim_middle|> middle <|endoftext|>

    FIM cuts (:mod:`model.fim_cuts`): half of the middles start at a token boundary inside a line
    and end at its end, inside it or 1-2 lines further (the editor's cursor); the others start at
    a sentence (or phrase) unit of the structure mapping and span 1-4 units. Each piece is
    tokenised on its own, as the server does. A file
    longer than ``fim_window_bytes`` gets FIM only in a region of that size around the middle (cut
    at line starts); the text before / after it become plain samples. The pieces always add up to
    the file's text exactly. Level ids: each text token takes the (phrase, sentence, paragraph)
    ids of the unit holding its first byte, kept through the FIM reordering; a special token takes
    its right neighbour's (so ``<|fim_middle|>`` carries the cursor's), the closing
    ``<|endoftext|>`` its left neighbour's.
    """

    def __init__(self, tok: Tokenizer, structure=map_structure, fim_rate: float = 0.5,
                 fim_window_bytes: int = 4096):
        self.tok = tok
        self.sp = SpecialTokens.from_tokenizer(tok)
        self.byte_lengths = token_byte_lengths(tok)
        self.map_structure = structure
        self.fim_rate = fim_rate
        self.fim_window_bytes = fim_window_bytes

    def encode_texts(self, texts: Sequence[str]) -> list[list[int]]:
        return encode_texts(self.tok, texts)

    def build(self, text: str, lang: str, rng: np.random.Generator,
              ids: list[int] | None = None, force_fim: bool | None = None) -> Sample:
        data = text.encode("utf-8")
        handle = self.map_structure(text, structure_language(lang))
        if ids is None:
            ids = self.encode_texts([text])[0]
        starts = token_byte_offsets(ids, self.byte_lengths)
        units = unit_array(handle, starts)
        lang_id = self.sp.lang(lang)
        want_fim = (rng.random() < self.fim_rate) if force_fim is None else force_fim
        cut = choose_fim_cut(data, starts, units, rng) if want_fim else None
        if cut is None:
            out_ids, out_lev = assemble([(lang_id, None, None), (None, ids, units),
                                         (self.sp.endoftext, None, None)])
            return Sample(out_ids, out_lev, False, offsets=np.concatenate([[-1], starts, [-1]]))
        a, b, kind = cut
        r0, r1 = 0, len(data)
        if self.fim_window_bytes and len(data) > self.fim_window_bytes:
            r0, r1 = fim_region(data, a, b, self.fim_window_bytes)
        texts = [data[r0:a], data[a:b], data[b:r1], data[:r0], data[r1:]]
        p_ids, m_ids, s_ids, before, after = self.encode_texts([t.decode("utf-8") for t in texts])
        bl = self.byte_lengths
        offs = np.concatenate([token_byte_offsets(p_ids, bl, r0), token_byte_offsets(m_ids, bl, a),
                               token_byte_offsets(s_ids, bl, b), token_byte_offsets(before, bl, 0),
                               token_byte_offsets(after, bl, r1)])
        lev = unit_array(handle, offs)
        parts, k = [], 0
        for n in map(len, (p_ids, m_ids, s_ids, before, after)):
            parts.append(lev[k:k + n])
            k += n
        p_lev, m_lev, s_lev, b_lev, a_lev = parts
        sp = self.sp
        pieces = []
        if before:      # the text before the FIM region, as a plain sample
            pieces += [(lang_id, None, None), (None, before, b_lev), (sp.endoftext, None, None)]
        pieces += [
            (lang_id, None, None), (sp.fim_prefix, None, None), (None, p_ids, p_lev),
            (sp.fim_suffix, None, None), (None, s_ids, s_lev),
            (sp.fim_middle, None, None), (None, m_ids, m_lev), (sp.endoftext, None, None)]
        if after:       # the text after the FIM region, as a plain sample
            pieces += [(lang_id, None, None), (None, after, a_lev), (sp.endoftext, None, None)]
        out_ids, out_lev = assemble(pieces)
        o_p, o_m, o_s, o_b, o_a = np.split(offs, np.cumsum([len(x) for x in (p_ids, m_ids, s_ids, before)]))
        sp1 = np.array([-1])                         # byte offsets in the order of the pieces
        order = (([sp1, o_b, sp1] if before else []) + [sp1, sp1, o_p, sp1, o_s, sp1, o_m, sp1]
                 + ([sp1, o_a, sp1] if after else []))
        return Sample(out_ids, out_lev, True, (a, b), (r0, r1), np.concatenate(order).astype(np.int64),
                      kind)


def fim_region(data: bytes, a: int, b: int, window: int) -> tuple[int, int]:
    """A region ``[r0, r1)`` of about ``window`` bytes holding the middle ``[a, b)``, centred
    on it where the file allows, cut at line starts (so at character boundaries)."""
    spare = max(0, window - (b - a))
    r0 = max(0, a - spare // 2)
    r1 = min(len(data), b + (spare - (a - r0)))
    r0 = max(0, min(r0, len(data) - window)) if r1 == len(data) else r0
    r0 = data.rfind(b"\n", 0, r0) + 1 if r0 > 0 else 0       # back to a line start
    r0 = min(r0, a)
    if r1 < len(data):
        nl = data.find(b"\n", r1)
        r1 = len(data) if nl < 0 else nl + 1
    return r0, max(r1, b)


def fim_parts(ids: Sequence[int], sp: SpecialTokens) -> tuple[list[int], list[int], list[int]]:
    """Split a PSM sample's ids into (prefix, middle, suffix) text ids (no special tokens)."""
    ids = list(ids)
    i_p, i_s, i_m = ids.index(sp.fim_prefix), ids.index(sp.fim_suffix), ids.index(sp.fim_middle)
    end = ids.index(sp.endoftext, i_m) if sp.endoftext in ids[i_m:] else len(ids)
    return ids[i_p + 1:i_s], ids[i_m + 1:end], ids[i_s + 1:i_m]


def format_fim(tok: Tokenizer, prefix: str, suffix: str, middle: str = "",
               lang: str | None = None) -> list[int]:
    """PSM prompt ids: ``[<|lang|>] <|fim_prefix|> prefix <|fim_suffix|> suffix <|fim_middle|>
    middle`` (no ``<|endoftext|>``: the model generates the middle then ends)."""
    sp = SpecialTokens.from_tokenizer(tok)
    p, s, m = encode_texts(tok, [prefix, suffix, middle])
    head = [sp.lang(lang)] if lang else []
    return head + [sp.fim_prefix] + p + [sp.fim_suffix] + s + [sp.fim_middle] + m


def format_translation_pair(tok: Tokenizer, java_src: str, python_src: str) -> list[int]:
    """Reserved format (not used for training yet)::

        <|lang:java|> java <|translate|> <|lang:python|> python <|endoftext|>
    """
    sp = SpecialTokens.from_tokenizer(tok)
    j, p = encode_texts(tok, [java_src, python_src])
    return [sp.lang_java] + j + [sp.translate, sp.lang_python] + p + [sp.endoftext]


# ---------------------------------------------------------------------------- build

@dataclass
class BuildConfig:
    out: str
    max_mb: float = 48.0                 # total UTF-8 text kept (all languages)
    java_share: float = 0.5              # share of max_mb for Java (rest: Python)
    val_fraction: float = 0.02
    fim_rate: float = 0.5
    fim_window_kb: float = 4.0           # FIM region of a longer file (rest: plain samples)
    vocab_size: int = DEFAULT_VOCAB_SIZE
    seed: int = 0
    stdlib: bool = True
    site_packages: bool = True
    java: bool = True
    include_tests: bool = False
    near_dup: bool = False
    jdk_cache: str = "cache/jdk"
    dirs: tuple[str, ...] = ()           # extra "lang=path" folders (license "see folder")
    tokenizer: str | None = None         # reuse this tokenizer.json instead of training
    max_file_kb: int = 256


def _doc_seed(seed: int, doc: C.Document) -> int:
    return _doc_seed_key(seed, doc.source, doc.path)


def _doc_seed_key(seed: int, source: str, path: str) -> int:
    import hashlib
    return int.from_bytes(hashlib.sha1(f"{seed}:{source}:{path}".encode()).digest()[:8], "big")


def make_sources(cfg: BuildConfig, notes: list[str]) -> list[C.Source]:
    sources: list[C.Source] = []
    for spec in cfg.dirs:
        lang, _, path = spec.partition("=")
        root = Path(path)
        lic_file = next((root / n for n in ("LICENSE", "LICENSE.txt", "COPYING") if
                         (root / n).is_file()), None)
        lic = lic_file.read_text().splitlines()[0].strip() if lic_file else "unknown"
        sources.append(C.DirectorySource(
            name=f"dir:{root.name}", lang=lang, license=lic, package=root.name,
            origin=str(root.resolve()), root=root,
            suffixes=tuple(s for s, l in C.LANG_BY_SUFFIX.items() if l == lang) or (".txt",),
            exclude_dirs=() if cfg.include_tests else C.DEFAULT_TEST_DIRS))
    if cfg.stdlib:
        sources.append(C.stdlib_source(cfg.include_tests))
    if cfg.site_packages:
        sources.append(C.site_packages_source(cfg.include_tests))
    if cfg.java:
        jdk = C.fetch_openjdk_sources(Path(cfg.jdk_cache), notes=notes)
        if jdk is None:
            print("WARNING: " + notes[-1], file=sys.stderr)
        else:
            sources.append(jdk)
    return sources


def build(cfg: BuildConfig, log=print) -> dict:
    """Build the corpus folder ``cfg.out``; returns the manifest."""
    t0 = time.time()
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    notes: list[str] = []
    sources = make_sources(cfg, notes)
    total = int(cfg.max_mb * 1e6) if cfg.max_mb and cfg.max_mb > 0 else None
    budgets = None if total is None else {"java": int(total * cfg.java_share),
                                          "python": total - int(total * cfg.java_share)}
    if budgets is not None and not any(s.lang == "java" for s in sources):
        budgets["python"] = total      # no Java available: give Python the whole budget
    fcfg = C.FilterConfig(max_file_bytes=cfg.max_file_kb * 1024)
    log(f"gathering from {len(sources)} sources (budgets {budgets})")
    docs, src_stats = C.gather(sources, budgets, cfg.val_fraction, fcfg, cfg.near_dup,
                               cfg.seed, log)
    t_gather = time.time() - t0

    t1 = time.time()
    if cfg.tokenizer:
        tok = load_tokenizer(cfg.tokenizer)
    else:
        tok = train_tokenizer((d.text for d in docs if d.split == "train"), cfg.vocab_size)
    save_tokenizer(tok, out / "tokenizer.json")
    if tok.get_vocab_size() > 65535:
        raise ValueError("vocabulary too large for uint16 token arrays")
    t_tok = time.time() - t1
    log(f"tokenizer: {tok.get_vocab_size()} ids ({t_tok:.1f} s)")

    t2 = time.time()
    builder = SampleBuilder(tok, map_structure, cfg.fim_rate, int(cfg.fim_window_kb * 1024))
    files_f = open(out / "files.jsonl", "w", encoding="utf-8")
    split_stats = {}
    for split in SPLITS:
        sdocs = [d for d in docs if d.split == split]
        ids_all: list[np.ndarray] = []
        lev_all: list[np.ndarray] = []
        doc_starts = [0]
        offset = np.zeros(3, dtype=np.int64)
        st = {"files": 0, "samples": 0, "tokens": 0, "bytes": 0, "fim_samples": 0,
              "tokens_by_lang": {}, "bytes_by_lang": {}, "files_by_lang": {}}
        chunk = 256
        for c0 in range(0, len(sdocs), chunk):
            batch = sdocs[c0:c0 + chunk]
            enc = builder.encode_texts([d.text for d in batch])
            for d, ids in zip(batch, enc):
                rng = np.random.default_rng(_doc_seed(cfg.seed, d))
                s = builder.build(d.text, d.lang, rng, ids=ids)
                lev = s.levels.astype(np.int64) + offset
                offset = lev.max(axis=0) + 1
                ids_all.append(s.ids.astype(np.uint16))
                lev_all.append(lev.astype(np.int32))
                n = len(s.ids)
                files_f.write(json.dumps({
                    "source": d.source, "path": d.path, "package": d.package,
                    "version": d.version, "license": d.license, "lang": d.lang,
                    "split": split, "sha1": d.sha1, "bytes": d.nbytes, "tokens": n,
                    "fim": s.fim, "sample": st["samples"]}) + "\n")
                doc_starts.append(doc_starts[-1] + n)
                st["files"] += 1
                st["samples"] += 1
                st["tokens"] += n
                st["bytes"] += d.nbytes
                st["fim_samples"] += int(s.fim)
                for k, v in (("tokens_by_lang", n), ("bytes_by_lang", d.nbytes),
                             ("files_by_lang", 1)):
                    st[k][d.lang] = st[k].get(d.lang, 0) + v
            if offset.max() >= 2 ** 31 - 1:
                raise OverflowError("level ids exceed int32")
            log(f"  {split}: {min(c0 + chunk, len(sdocs))}/{len(sdocs)} files, "
                f"{st['tokens']} tokens, {time.time() - t2:.0f} s")
        tokens = np.concatenate(ids_all) if ids_all else np.zeros(0, np.uint16)
        levels = np.concatenate(lev_all) if lev_all else np.zeros((0, 3), np.int32)
        np.save(out / f"{split}.tokens.npy", tokens)
        np.save(out / f"{split}.levels.npy", levels)
        np.save(out / f"{split}.docs.npy", np.asarray(doc_starts, dtype=np.int64))
        st["bytes_per_token_by_lang"] = {
            k: round(st["bytes_by_lang"][k] / max(1, st["tokens_by_lang"][k]), 3)
            for k in st["tokens_by_lang"]}
        split_stats[split] = st
    files_f.close()
    t_samples = time.time() - t2

    manifest = {
        "format_version": FORMAT_VERSION,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "config": {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(cfg).items()},
        "level_columns": ["phrase", "sentence", "paragraph"],
        "level_ids": "per token, unit of its first byte; offset per file (increasing over the "
                     "split); special tokens take the right neighbour's ids, the closing "
                     "<|endoftext|> the left neighbour's",
        "sample_format": {"plain": "<|lang:X|> text <|endoftext|>",
                          "fim": "<|lang:X|> <|fim_prefix|> prefix <|fim_suffix|> suffix "
                                 "<|fim_middle|> middle <|endoftext|>"},
        "tokenizer": {"file": "tokenizer.json", "vocab_size": tok.get_vocab_size(),
                      "special_tokens": asdict(SpecialTokens.from_tokenizer(tok))},
        "licenses": sorted({d.license for d in docs}),
        "sources": src_stats,
        "splits": split_stats,
        "notes": notes,
        "timings_s": {"gather": round(t_gather, 1), "tokenizer": round(t_tok, 1),
                      "samples": round(t_samples, 1), "total": round(time.time() - t0, 1)},
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    log(f"done in {time.time() - t0:.1f} s -> {out}")
    return manifest


# ---------------------------------------------------------------------------- batches

class CorpusDataset:
    """Memory-mapped view of a built corpus folder: ``tokenizer.json``, ``manifest.json``,
    ``files.jsonl`` (one line per file: provenance, licence, split, counts) and per split
    ``{split}.tokens.npy`` (uint16 [N]), ``{split}.levels.npy`` (int32 [N, 3], unit ids offset per
    file so they keep increasing; :meth:`batch` renumbers each window's from 0),
    ``{split}.docs.npy`` (int64 [F + 1], each sample's start) and optionally ``{split}.mask.npy``
    (0 on licence-header tokens)."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.manifest = json.loads((self.root / "manifest.json").read_text(encoding="utf-8"))
        self._tokens: dict[str, np.ndarray] = {}
        self._levels: dict[str, np.ndarray] = {}

    def tokenizer(self) -> Tokenizer:
        return load_tokenizer(self.root / "tokenizer.json")

    def tokens(self, split: str) -> np.ndarray:
        if split not in self._tokens:
            self._tokens[split] = np.load(self.root / f"{split}.tokens.npy", mmap_mode="r")
        return self._tokens[split]

    def levels(self, split: str) -> np.ndarray:
        if split not in self._levels:
            self._levels[split] = np.load(self.root / f"{split}.levels.npy", mmap_mode="r")
        return self._levels[split]

    def docs(self, split: str) -> np.ndarray:
        return np.load(self.root / f"{split}.docs.npy")

    def mask(self, split: str) -> np.ndarray | None:
        """uint8 per token, 0 = left out of the loss (licence headers), or None (no mask file)."""
        key = f"mask:{split}"
        if key not in self._tokens:
            p = self.root / f"{split}.mask.npy"
            self._tokens[key] = np.load(p, mmap_mode="r") if p.exists() else None
        return self._tokens[key]

    def lang_spans(self, split: str) -> dict[str, np.ndarray]:
        """``{lang: int64 [k, 2]}``: the token ranges ``[start, end)`` of each language's samples
        in ``split`` (from ``files.jsonl`` and ``{split}.docs.npy``)."""
        key = f"spans:{split}"
        if key not in self._tokens:
            docs = self.docs(split)
            langs = [""] * (len(docs) - 1)
            with open(self.root / "files.jsonl", encoding="utf-8") as f:
                for line in f:
                    row = json.loads(line)
                    if row.get("split") == split:
                        langs[row["sample"]] = row["lang"]
            arr = np.asarray(langs)
            self._tokens[key] = {l: np.stack([docs[:-1][arr == l], docs[1:][arr == l]], axis=1)
                                 for l in sorted(set(langs)) if l}
        return self._tokens[key]

    def window_starts(self, split: str, count: int, seq_len: int, rng: np.random.Generator,
                      lang_weights: dict[str, float] | None = None) -> np.ndarray:
        """``count`` window starts, uniform over the split's tokens, or with ``lang_weights``
        (e.g. ``{"java": 0.5, "python": 0.5}``) each window's language drawn with those weights
        (languages the split lacks are left out) and its start uniform over that language's
        tokens: a way to train on a mix other than the corpus's without re-encoding it. A window
        runs on past its sample's end like an unweighted one."""
        n = len(self.tokens(split))
        if not lang_weights:
            return np.sort(rng.integers(0, n - seq_len, size=count))
        spans = self.lang_spans(split)
        langs = [l for l in sorted(lang_weights) if l in spans and lang_weights[l] > 0]
        if not langs:
            raise ValueError(f"none of {sorted(lang_weights)} in split {split!r}")
        p = np.asarray([lang_weights[l] for l in langs], dtype=np.float64)
        pick = rng.choice(len(langs), size=count, p=p / p.sum())
        out = np.empty(count, dtype=np.int64)
        for j, l in enumerate(langs):
            sp = spans[l]
            cum = np.cumsum(sp[:, 1] - sp[:, 0])
            pos = rng.integers(0, cum[-1], size=int((pick == j).sum()))
            k = np.searchsorted(cum, pos, side="right")
            out[pick == j] = sp[k, 0] + pos - (cum[k] - (sp[k, 1] - sp[k, 0]))
        return np.sort(np.minimum(out, n - seq_len - 1))

    def batch(self, split: str, batch_size: int, seq_len: int, rng=None,
              lang_weights: dict[str, float] | None = None):
        """One batch of random windows: ``(input_ids, targets, level_ids)`` as torch int64
        tensors of shapes ``[B, L]``, ``[B, L]`` (inputs shifted by one) and ``[B, L, 3]``
        (phrase, sentence, paragraph ids of the inputs, renumbered per window and level from
        0 in order of first appearance); targets the corpus masks (licence headers) are -100.
        ``rng``: ``numpy.random.Generator``, int seed or None; ``lang_weights``: see
        :meth:`window_starts`."""
        import torch
        if not isinstance(rng, np.random.Generator):
            rng = np.random.default_rng(rng)
        toks, levs = self.tokens(split), self.levels(split)
        n = len(toks)
        if n < seq_len + 1:
            raise ValueError(f"split {split!r} has {n} tokens, fewer than seq_len + 1")
        starts = self.window_starts(split, batch_size, seq_len, rng, lang_weights)
        idx = starts[:, None] + np.arange(seq_len + 1)[None, :]
        win = np.asarray(toks[idx], dtype=np.int64)
        lev = np.asarray(levs[idx[:, :-1]], dtype=np.int64)
        tgt = win[:, 1:].copy()
        mask = self.mask(split)
        if mask is not None:
            tgt[np.asarray(mask[idx[:, 1:]]) == 0] = -100
        for b in range(batch_size):
            for c in range(3):
                lev[b, :, c] = renumber_first_appearance(lev[b, :, c])
        return (torch.from_numpy(win[:, :-1].copy()), torch.from_numpy(tgt), torch.from_numpy(lev))

    def batches(self, split: str, batch_size: int, seq_len: int, rng=None,
                steps: int | None = None) -> Iterator:
        """Yield :meth:`batch` forever (or ``steps`` times)."""
        if not isinstance(rng, np.random.Generator):
            rng = np.random.default_rng(rng)
        i = 0
        while steps is None or i < steps:
            yield self.batch(split, batch_size, seq_len, rng)
            i += 1


def batches(root_or_dataset, split: str, batch_size: int, seq_len: int, rng=None,
            steps: int | None = None) -> Iterator:
    ds = root_or_dataset if isinstance(root_or_dataset, CorpusDataset) else \
        CorpusDataset(root_or_dataset)
    return ds.batches(split, batch_size, seq_len, rng, steps)


# ---------------------------------------------------------------------------- CLI

def _summary(m: dict) -> str:
    lines = [f"vocab {m['tokenizer']['vocab_size']}, "
             f"built in {m['timings_s']['total']} s {m['timings_s']}"]
    for s in m["sources"]:
        lines.append(f"  {s['name']} [{s['license']}] {s['files_kept']}/{s['files_seen']} files "
                     f"{s['bytes_kept'] / 1e6:.2f} MB; dropped {s['dropped']}")
    for name, st in m["splits"].items():
        lines.append(f"  {name}: {st['files']} files, {st['bytes'] / 1e6:.2f} MB, "
                     f"{st['tokens']} tokens, FIM {st['fim_samples']}; tokens "
                     f"{st['tokens_by_lang']}; bytes/token {st['bytes_per_token_by_lang']}")
    for n in m.get("notes", []):
        lines.append(f"  note: {n}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m model.data", description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="build a corpus folder")
    d = BuildConfig(out="")
    b.add_argument("--out", required=True)
    b.add_argument("--max-mb", type=float, default=d.max_mb,
                   help="most MB of text kept, all languages (0 = no limit)")
    b.add_argument("--java-share", type=float, default=d.java_share)
    b.add_argument("--val-fraction", type=float, default=d.val_fraction)
    b.add_argument("--fim-rate", type=float, default=d.fim_rate)
    b.add_argument("--fim-window-kb", type=float, default=d.fim_window_kb,
                   help="FIM region size in a longer file (0 = whole file)")
    b.add_argument("--vocab-size", type=int, default=d.vocab_size)
    b.add_argument("--seed", type=int, default=d.seed)
    b.add_argument("--no-stdlib", dest="stdlib", action="store_false")
    b.add_argument("--no-site-packages", dest="site_packages", action="store_false")
    b.add_argument("--no-java", dest="java", action="store_false")
    b.add_argument("--include-tests", action="store_true", help="keep test folders")
    b.add_argument("--near-dup", action="store_true", help="also drop whitespace-only variants")
    b.add_argument("--jdk-cache", default=d.jdk_cache)
    b.add_argument("--dir", dest="dirs", action="append", default=[],
                   metavar="LANG=PATH", help="extra source folder (repeatable)")
    b.add_argument("--tokenizer", default=None, help="reuse a tokenizer.json")
    b.add_argument("--max-file-kb", type=int, default=d.max_file_kb)
    i = sub.add_parser("info", help="print a built corpus' manifest summary")
    i.add_argument("root")
    a = ap.parse_args(argv)
    if a.cmd == "build":
        kw = {k: v for k, v in vars(a).items() if k != "cmd"}
        kw["dirs"] = tuple(kw["dirs"])
        m = build(BuildConfig(**kw))
        print(_summary(m))
    else:
        print(_summary(json.loads((Path(a.root) / "manifest.json").read_text())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
