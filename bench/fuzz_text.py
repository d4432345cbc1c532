"""The fuzzer's own copy of an open document: LSP positions in the negotiated encoding,
edits applied as LSP defines them (line ends ``\\r\\n``, ``\\r``, ``\\n`` only), the text as a
UTF-16 (JSON) client holds it, and the JSON-RPC framing of a message."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

LINE_BREAK = re.compile(r"\r\n|\r|\n")


def units(ch: str, encoding: str) -> int:
    cp = ord(ch)
    if encoding == "utf-8":
        return 1 if cp < 0x80 else 2 if cp < 0x800 else 3 if cp < 0x10000 else 4
    if encoding == "utf-16":
        return 2 if cp >= 0x10000 else 1
    return 1


def line_spans(text: str) -> list[tuple[int, int]]:
    """(start, content end) of each line, in characters."""
    spans, start = [], 0
    for m in LINE_BREAK.finditer(text):
        spans.append((start, m.start()))
        start = m.end()
    spans.append((start, len(text)))
    return spans


def offset_of(text: str, line: int, character: int, encoding: str) -> int:
    spans = line_spans(text)
    if line >= len(spans):
        return len(text)
    start, end = spans[line]
    seen = 0
    for i in range(start, end):
        step = units(text[i], encoding)
        if seen + step > character:
            return i
        seen += step
    return end


def column_of(text: str, index: int, encoding: str) -> tuple[int, int]:
    """(line, column in ``encoding``) of character ``index`` (a character boundary)."""
    spans = line_spans(text)
    for line, (start, end) in enumerate(spans):
        if index <= end or line == len(spans) - 1:
            return line, sum(units(c, encoding) for c in text[start:min(index, end)])
    raise AssertionError


def canonical(text: str) -> str:
    """The text as a UTF-16 (JSON) client holds it: a high surrogate followed by a low one is
    one character, however the two came together."""
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")


def apply_edit(text: str, rng: dict | None, new: str, encoding: str) -> str:
    if rng is None:
        return canonical(new)
    a = offset_of(text, rng["start"]["line"], rng["start"]["character"], encoding)
    b = offset_of(text, rng["end"]["line"], rng["end"]["character"], encoding)
    a, b = min(a, b), max(a, b)
    return canonical(text[:a] + new + text[b:])


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def frame(body: bytes, header: str = "Content-Length") -> bytes:
    return f"{header}: {len(body)}\r\n\r\n".encode() + body


def dumps(obj: Any) -> bytes:
    return json.dumps(obj).encode()  # ASCII: lone surrogates travel as \\ud800 escapes
