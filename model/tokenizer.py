"""Byte-level BPE tokenizer of the R1 model (HuggingFace ``tokenizers``).

* Model: BPE over bytes. ``ByteLevel`` pre-tokenizer (GPT-2 split regex, no prefix space)
  and ``ByteLevel`` decoder, so ``decode(encode(text).ids) == text`` for any Unicode text
  (emoji, CJK, tabs, CRLF ...): every one of the 256 bytes is in the initial alphabet.
* Special tokens (:data:`SPECIAL_TOKENS`) are added tokens: each is a single id, is never
  produced by the BPE merges of ordinary text, and is skipped by ``decode`` by default.
* Offsets: ``encoding.offsets`` are *character* offsets into the Python string; a byte-level
  token may cover only part of a multi-byte character (then several tokens report the same
  character span). For the structure mapping, which works on UTF-8 *byte* offsets, use
  :func:`token_byte_offsets` (exact: every character of a byte-level token string stands for
  one byte) or :func:`char_to_byte_offsets` (converts character offsets).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

ENDOFTEXT = "<|endoftext|>"
PAD = "<|pad|>"
FIM_PREFIX = "<|fim_prefix|>"
FIM_SUFFIX = "<|fim_suffix|>"
FIM_MIDDLE = "<|fim_middle|>"
LANG_JAVA = "<|lang:java|>"
LANG_PYTHON = "<|lang:python|>"
LANG_TEXT = "<|lang:text|>"
TRANSLATE = "<|translate|>"
SEP = "<|sep|>"

#: All special tokens, in id order (they get ids 0..9 in a tokenizer from :func:`train_tokenizer`).
SPECIAL_TOKENS: tuple[str, ...] = (
    ENDOFTEXT, PAD, FIM_PREFIX, FIM_SUFFIX, FIM_MIDDLE,
    LANG_JAVA, LANG_PYTHON, LANG_TEXT, TRANSLATE, SEP,
)

DEFAULT_VOCAB_SIZE = 8192


@dataclass(frozen=True)
class SpecialTokens:
    """Ids of the special tokens in one loaded tokenizer."""

    endoftext: int
    pad: int
    fim_prefix: int
    fim_suffix: int
    fim_middle: int
    lang_java: int
    lang_python: int
    lang_text: int
    translate: int
    sep: int

    @classmethod
    def from_tokenizer(cls, tok: Tokenizer) -> "SpecialTokens":
        ids = {}
        for f, text in zip(fields(cls), SPECIAL_TOKENS):
            i = tok.token_to_id(text)
            if i is None:
                raise ValueError(f"tokenizer lacks special token {text!r}")
            ids[f.name] = i
        return cls(**ids)

    def lang(self, language: str) -> int:
        """Id of the language token for ``java`` / ``python`` / anything else (text)."""
        return {"java": self.lang_java, "python": self.lang_python}.get(language, self.lang_text)

    def all_ids(self) -> frozenset[int]:
        return frozenset(getattr(self, f.name) for f in fields(self))


def new_tokenizer() -> Tokenizer:
    """An untrained byte-level BPE tokenizer with the R1 pipeline (no normaliser)."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    # trim_offsets=False: offsets cover the whitespace a token carries (raw spans).
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    return tok


def train_tokenizer(texts_iter: Iterable[str], vocab_size: int = DEFAULT_VOCAB_SIZE,
                    min_frequency: int = 2) -> Tokenizer:
    """Train a byte-level BPE of ``vocab_size`` (special tokens included) on ``texts_iter``.

    The special tokens get ids ``0..len(SPECIAL_TOKENS)-1`` in :data:`SPECIAL_TOKENS` order,
    then the 256 byte symbols, then the merges. On a small corpus the vocabulary may stay
    below ``vocab_size``.
    """
    tok = new_tokenizer()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts_iter, trainer=trainer)
    SpecialTokens.from_tokenizer(tok)  # sanity: all present
    return tok


def load_tokenizer(path: str | Path) -> Tokenizer:
    """Load a ``tokenizer.json`` (file, or a directory holding one)."""
    p = Path(path)
    if p.is_dir():
        p = p / "tokenizer.json"
    tok = Tokenizer.from_file(str(p))
    SpecialTokens.from_tokenizer(tok)
    return tok


def save_tokenizer(tok: Tokenizer, path: str | Path) -> Path:
    p = Path(path)
    if p.is_dir() or p.suffix != ".json":
        p = p / "tokenizer.json"
    p.parent.mkdir(parents=True, exist_ok=True)
    tok.save(str(p))
    return p


# ---------------------------------------------------------------------------- offsets

def token_byte_lengths(tok: Tokenizer) -> np.ndarray:
    """Array ``id -> number of UTF-8 bytes the token stands for`` (0 for special tokens).

    In a byte-level BPE every character of a (non-special) token string stands for exactly
    one byte, so the length is ``len(token_string)``. Added tokens (R1's specials, a public
    checkpoint's <｜...｜> tokens) are written as themselves: their length is their UTF-8 size,
    0 for the special ones (never produced from ordinary text).
    """
    vocab = tok.get_vocab(with_added_tokens=True)
    n = max(tok.get_vocab_size(with_added_tokens=True), 1 + max(vocab.values(), default=-1))
    lengths = np.zeros(n, dtype=np.int64)
    added = tok.get_added_tokens_decoder()
    specials = set(SPECIAL_TOKENS)
    for s, i in vocab.items():
        if i in added:
            lengths[i] = 0 if added[i].special or s in specials else len(s.encode("utf-8"))
        elif s not in specials:
            lengths[i] = len(s)
    return lengths


def token_byte_offsets(ids: Sequence[int] | np.ndarray, byte_lengths: np.ndarray,
                       start: int = 0) -> np.ndarray:
    """Start UTF-8 byte offset of each token of an encoding of ordinary text (exact).

    ``byte_lengths`` comes from :func:`token_byte_lengths`. Special tokens have length 0, so
    they report the offset of the next text byte.
    """
    lens = byte_lengths[np.asarray(ids, dtype=np.int64)]
    out = np.empty(len(lens), dtype=np.int64)
    if len(lens):
        out[0] = 0
        np.cumsum(lens[:-1], out=out[1:])
    return out + start


def char_byte_starts(text: str) -> np.ndarray:
    """``starts[i]`` = UTF-8 byte offset of character ``i``; ``starts[len(text)]`` = total bytes."""
    cps = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    widths = 1 + (cps >= 0x80) + (cps >= 0x800) + (cps >= 0x10000)
    out = np.zeros(len(cps) + 1, dtype=np.int64)
    np.cumsum(widths, out=out[1:])
    return out


def char_to_byte_offsets(text: str, char_offsets: Iterable[int]) -> list[int]:
    """Convert character offsets into ``text`` (e.g. ``encoding.offsets`` starts) to UTF-8
    byte offsets. Note: tokens that split one multi-byte character all get that character's
    start; :func:`token_byte_offsets` is exact in that case."""
    starts = char_byte_starts(text)
    return [int(starts[c]) for c in char_offsets]


def encode_with_byte_offsets(tok: Tokenizer, text: str, byte_lengths: np.ndarray | None = None,
                             start: int = 0) -> tuple[list[int], np.ndarray]:
    """Encode ordinary text (no special tokens added) and return ``(ids, byte_starts)``."""
    if byte_lengths is None:
        byte_lengths = token_byte_lengths(tok)
    ids = tok.encode(text, add_special_tokens=False).ids
    return ids, token_byte_offsets(ids, byte_lengths, start)
