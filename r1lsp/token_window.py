"""The token window of a prompt: the text before a position, tokenized from a start that stays
put while the user types (so a prefix cache keeps hitting), with the window's head kept
tokenized between keystrokes (`encode_window`). `engine` is anything with
`encode_with_offsets(text, start_byte) -> (ids, byte offsets)` (r1lsp.engine.Engine)."""
from __future__ import annotations

import collections
import threading


def encode_window(engine, data: bytes, end: int, budget: int) -> tuple[list[int], list[int]]:
    """Token ids and UTF-8 start offsets of data[start:end]: at most `budget` tokens, from a
    `start` that stays put while text is appended at `end` (so a prefix cache keeps
    hitting): start lies on a grid of `budget` bytes, moved one grid step on while the
    window holds too many tokens, then to the next line start within that step."""
    step = max(64, budget)
    start = max(0, (end - budget * 3) // step * step)
    while True:
        a = start
        if a > 0:
            nl = data.find(b"\n", a, min(end, a + step))
            a = nl + 1 if nl >= 0 else a
        while a < end and (data[a] & 0xC0) == 0x80:                 # a character boundary
            a += 1
        ids, offsets = _encode_span(engine, data, a, end)
        if len(ids) <= budget or start + step >= end:
            return list(ids)[-budget:], list(offsets)[-budget:]
        start += step


_SPANS = 16            # tokenized window heads kept per engine (`_encode_span`)


def _ends_pretoken(data: bytes, cut: int) -> bool:
    """Whether the character before byte `cut` (a newline) is an ASCII non-blank one (a
    non-ASCII character may be Unicode whitespace, which the newline's run would take in)."""
    prev = data[cut - 1]
    return prev < 0x80 and not chr(prev).isspace()


def _encode_span(engine, data: bytes, a: int, end: int) -> tuple[list[int], list[int]]:
    """engine.encode_with_offsets of data[a:end], from the tokens of its head data[a:cut] kept
    from an earlier call (typing changes only the lines at the end: each keystroke tokenized
    the whole ~4 KB window again, ~8 ms). `cut` is a newline after a non-blank character, two
    lines or more above `end`'s line: the byte-level pre-tokenizer's GPT-2 pattern ends a
    pre-token there (no letter, digit or symbol run holds a newline, and the whitespace run
    starts at it), so the head's tokens followed by the tail's are the whole span's tokens."""
    line = data.rfind(b"\n", a, end)
    cut = data.rfind(b"\n", a, line) if line > a else -1
    for _ in range(8):
        if cut <= a or _ends_pretoken(data, cut):
            break
        cut = data.rfind(b"\n", a, cut)
    if cut <= a or not _ends_pretoken(data, cut):
        ids, offsets = engine.encode_with_offsets(data[a:end].decode("utf-8", "surrogatepass"), a)
        return list(ids), list(offsets)
    head = data[a:cut]
    spans = engine.__dict__.setdefault("_window_heads", (threading.Lock(), collections.OrderedDict()))
    with spans[0]:
        got = spans[1].get((a, head))
        if got is not None:
            spans[1].move_to_end((a, head))
    if got is None:
        h_ids, h_off = engine.encode_with_offsets(head.decode("utf-8", "surrogatepass"), a)
        got = (list(h_ids), list(h_off))
        with spans[0]:
            spans[1][(a, head)] = got
            while len(spans[1]) > _SPANS:
                spans[1].popitem(last=False)
    t_ids, t_off = engine.encode_with_offsets(data[cut:end].decode("utf-8", "surrogatepass"), cut)
    return got[0] + list(t_ids), got[1] + list(t_off)
