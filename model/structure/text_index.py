"""Byte offsets <-> LSP positions for one UTF-8 document.

LSP positions are (line, UTF-16 code unit) pairs and `\\n`, `\\r\\n` and a lone `\\r` all end a
line. tree-sitter works in UTF-8 bytes and counts only `\\n`. A `LineIndex` holds the line
starts of one document (built with numpy, no per-character Python loop) and converts in both
directions; only lines that contain non-ASCII bytes pay for a decode.
"""
from __future__ import annotations

import re
from bisect import bisect_right

import numpy as np

_LINE_BREAK = re.compile(rb"\r\n|\r|\n")


def utf8_bytes(text: str) -> bytes:
    # surrogatepass: a lone surrogate (from a binary-ish file) must not raise.
    return text.encode("utf-8", "surrogatepass")


def decode(data: bytes) -> str:
    return data.decode("utf-8", "surrogatepass")


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def without_lone_surrogates(text: str) -> str:
    """``text`` with each lone surrogate (a Python str holds a valid pair as one character)
    replaced by U+FFFD: the same length in UTF-8 (3 bytes, as surrogatepass encodes a
    surrogate), UTF-16 and UTF-32, so every offset and position stays valid; what a tokenizer
    or an encoder without surrogatepass can take."""
    return _LONE_SURROGATE.sub("\ufffd", text) if _LONE_SURROGATE.search(text) else text


def ts_point(data: bytes, offset: int) -> tuple[int, int]:
    """tree-sitter's point of a byte offset: (row, counting only \\n; column in bytes)."""
    return data.count(b"\n", 0, offset), offset - (data.rfind(b"\n", 0, offset) + 1)


class LineIndex:
    """Line starts of a UTF-8 document and byte <-> (line, UTF-16 column) conversion."""

    def __init__(self, data: bytes):
        self.data = data
        raw = np.frombuffer(data, dtype=np.uint8)
        if b"\r" in data:
            breaks = np.fromiter((m.end() for m in _LINE_BREAK.finditer(data)), dtype=np.int64)
        else:
            breaks = np.flatnonzero(raw == 10).astype(np.int64) + 1
        self.starts = np.concatenate((np.zeros(1, np.int64), breaks))
        self._starts_list = self.starts.tolist()
        # content end of each line: its next start minus the terminator (1 or 2 bytes)
        ends = np.empty_like(self.starts)
        ends[-1] = len(data)
        if len(breaks):
            term = np.ones(len(breaks), np.int64)
            crlf = (raw[breaks - 1] == 10) & (breaks - 2 >= self.starts[:-1])
            crlf[crlf] &= raw[breaks[crlf] - 2] == 13
            term[crlf] = 2
            ends[:-1] = breaks - term
        self.content_ends = ends
        high = np.flatnonzero(raw >= 0x80)
        if len(high):
            lines = np.unique(np.searchsorted(self.starts, high, side="right") - 1)
        else:
            lines = np.zeros(0, np.int64)
        self.non_ascii_lines = lines
        self._non_ascii = set(lines.tolist())
        self._raw = raw
        self._cum16: np.ndarray | None = None

    def _utf16_prefix(self) -> np.ndarray:
        """UTF-16 units before each byte offset (built once, only for non-ASCII text): a
        lead byte counts its character's units, continuation bytes count 0."""
        if self._cum16 is None:
            raw = self._raw
            weight = np.ones(len(raw), np.int64)
            weight[(raw & 0xC0) == 0x80] = 0
            weight[raw >= 0xF0] = 2
            self._cum16 = np.concatenate((np.zeros(1, np.int64), np.cumsum(weight)))
        return self._cum16

    @property
    def line_count(self) -> int:
        return len(self._starts_list)

    def line_of(self, offset: int) -> int:
        return bisect_right(self._starts_list, offset) - 1

    # -- byte -> position -------------------------------------------------------------
    def position_at(self, offset: int) -> tuple[int, int]:
        offset = min(max(int(offset), 0), len(self.data))
        line = bisect_right(self._starts_list, offset) - 1
        start = self._starts_list[line]
        offset = min(offset, int(self.content_ends[line]))  # inside a line break -> line end
        if line in self._non_ascii:
            cum = self._utf16_prefix()
            return line, int(cum[offset] - cum[start])
        return line, offset - start

    def positions(self, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Vectorised position_at for sorted or unsorted byte offsets (already in range)."""
        offsets = np.asarray(offsets, dtype=np.int64)
        lines = np.searchsorted(self.starts, offsets, side="right") - 1
        clamped = np.minimum(offsets, self.content_ends[lines])
        if len(self.non_ascii_lines) and len(offsets):
            cum = self._utf16_prefix()
            return lines, cum[clamped] - cum[self.starts[lines]]
        return lines, clamped - self.starts[lines]

    # -- position -> byte -------------------------------------------------------------
    def offset_at(self, line: int, character: int) -> int:
        """UTF-16 position -> byte offset, clamped as LSP says: a character past the line end
        means the line end, a line past the last line means the end of the document. A
        column inside a surrogate pair rounds down to the character start."""
        line, character = int(line), int(character)
        if line < 0:
            return 0
        if line >= len(self._starts_list):
            return len(self.data)
        start = self._starts_list[line]
        end = int(self.content_ends[line])
        character = max(character, 0)
        if line not in self._non_ascii:
            return start + min(character, end - start)
        # per character (a lone surrogate is one character: 1 UTF-16 unit, 3 bytes): the
        # characters that end at or before `character` (inside a pair: round down)
        line_text = self.data[start:end].decode("utf-8", "surrogatepass")
        cps = np.frombuffer(line_text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
        ends16 = np.cumsum(np.where(cps >= 0x10000, 2, 1))
        whole = int(np.searchsorted(ends16, character, side="right"))
        width = np.where(cps < 0x80, 1, np.where(cps < 0x800, 2, np.where(cps < 0x10000, 3, 4)))
        return start + int(width[:whole].sum())

    # -- tree-sitter points (rows count only \n, columns are bytes) ---------------------
    def ts_point(self, offset: int) -> tuple[int, int]:
        return ts_point(self.data, offset)
