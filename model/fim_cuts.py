"""FIM cuts for the training samples (:class:`model.data.SampleBuilder`): where a file's middle
starts and ends.

Half of the middles (``LINE_CUT_RATE``) start at a token boundary inside a line, as the editor's
cursor does (ghost text asks for the rest of a line from anywhere in it) and end at that line's
end, inside it or 1-2 lines further (``LINE_CUT_ENDS``); the others start at a sentence or phrase
unit of the structure mapping and span 1-4 units (the only cuts before session 10: the model then
never saw a middle that starts mid-line).
"""
from __future__ import annotations

import numpy as np


def _char_boundary(data: bytes, b: int) -> bool:
    return b <= 0 or b >= len(data) or (data[b] & 0xC0) != 0x80


# Shares of the FIM middles (``choose_fim_cuts``): LINE_CUT_RATE of them start at a token boundary
# inside a line (the editor's cursor: ghost text asks for the rest of a line from anywhere in it),
# the rest at sentence / phrase unit starts. A line cut's middle ends where LINE_CUT_ENDS says:
# the line's end (the '\n' stays in the suffix), inside the same line (text after the cursor on its
# line, as the server's suffix has it), or the end of the 2nd / 3rd line.
LINE_CUT_RATE = 0.5
LINE_CUT_ENDS = (("line_end", 0.5), ("in_line", 0.2), ("lines", 0.3))
FIM_CUT_KINDS = ("line_end", "in_line", "lines", "sentence", "phrase")


def _line_end(data: bytes, b: int) -> int:
    nl = data.find(b"\n", b)
    return len(data) if nl < 0 else nl


def choose_line_cut(data: bytes, starts: np.ndarray, rng: np.random.Generator,
                    max_lines: int = 3) -> tuple[int, int, str] | None:
    """A mid-line middle ``(a, b, kind)``: ``a`` a token start inside a line (not its first byte,
    text other than blanks after it on the line), ``b`` that line's end (``"line_end"``), a later
    token start on the same line (``"in_line"``) or the end of the 2nd..``max_lines``-th line
    (``"lines"``). None when the file has no such position."""
    n = len(data)
    st = np.asarray(starts, dtype=np.int64)
    st = st[(st > 0) & (st < n)]
    if not len(st):
        return None
    buf = np.frombuffer(data, dtype=np.uint8)
    ok = (buf[st] != 10) & (buf[st - 1] != 10) & ((buf[st] & 0xC0) != 0x80)
    cands = np.unique(st[ok])
    if not len(cands):
        return None
    for _ in range(8):
        a = int(cands[int(rng.integers(0, len(cands)))])
        eol = _line_end(data, a)
        if data[a:eol].strip():
            break
    else:
        return None
    r, acc = rng.random(), 0.0
    kind = LINE_CUT_ENDS[-1][0]
    for k, p in LINE_CUT_ENDS:
        acc += p
        if r < acc:
            kind = k
            break
    b = eol
    if kind == "in_line":
        inner = cands[(cands > a) & (cands < eol)]
        inner = [int(x) for x in inner if data[a:int(x)].strip()]
        if inner:
            b = inner[int(rng.integers(0, len(inner)))]
        else:
            kind = "line_end"
    elif kind == "lines":
        more = int(rng.integers(1, max(1, max_lines - 1) + 1))       # 1..max_lines-1 more lines
        for _ in range(more):
            if b >= n:
                break
            b = _line_end(data, b + 1)
        if b == eol:
            kind = "line_end"
    return a, b, kind


def choose_fim_cut(data: bytes, starts: np.ndarray, units: np.ndarray, rng: np.random.Generator,
                   max_units: int = 4, line_rate: float = LINE_CUT_RATE) -> tuple[int, int, str] | None:
    """``(a, b, kind)`` with 0 < a < b <= len(data) at character boundaries, ``kind`` one of
    ``FIM_CUT_KINDS``: with probability ``line_rate`` a mid-line middle (:func:`choose_line_cut`),
    else (or when the file has no such position) a middle of 1..max_units units from a sentence
    unit's start (probability 0.5, else a phrase unit's). ``starts`` and ``units`` are the token
    start offsets and unit ids of the whole file."""
    if len(starts) < 4:
        return None
    if line_rate > 0 and rng.random() < line_rate:
        cut = choose_line_cut(data, starts, rng)
        if cut is not None and cut[1] > cut[0]:
            return cut
    order = [1, 0] if rng.random() < 0.5 else [0, 1]      # column 1 = sentence, 0 = phrase
    for col in order:
        change = np.flatnonzero(np.diff(units[:, col]) != 0) + 1
        cands = [int(starts[i]) for i in change if _char_boundary(data, int(starts[i]))]
        cands = sorted(set(c for c in cands if 0 < c < len(data)))
        if len(cands) < 2:
            continue
        i = int(rng.integers(0, len(cands)))
        k = int(rng.integers(1, max_units + 1))
        a = cands[i]
        b = cands[i + k] if i + k < len(cands) else len(data)
        if b > a:
            return a, b, ("sentence" if col == 1 else "phrase")
    return None


def choose_fim_cuts(data: bytes, starts: np.ndarray, units: np.ndarray,
                    rng: np.random.Generator, max_units: int = 4,
                    line_rate: float = LINE_CUT_RATE) -> tuple[int, int] | None:
    """Pick (a, b) byte offsets, 0 < a < b <= len(data): :func:`choose_fim_cut` without its kind."""
    cut = choose_fim_cut(data, starts, units, rng, max_units, line_rate)
    return None if cut is None else cut[:2]
