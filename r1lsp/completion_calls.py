"""A call written after the completed word (`self.(key, val)`): how many arguments it passes
(`python_call_arguments`), how many a signature takes (`parameter_range`), and Python's
candidates' `shape` feature from jedi's signatures (`_call_shape`), as Java's resolver gives
its methods theirs."""
from __future__ import annotations

import math
import re

from model.structure import StructuredDocument
from r1lsp.completion_candidates import AnalysisContext, _Cand
from r1lsp.completion_names import Cursor


def _top_level_parts(text: str) -> list[str]:
    """`text` split at its commas outside brackets and string literals, each part stripped (an
    empty last part, a trailing comma's, dropped)."""
    parts, depth, start, quote, i = [], 0, 0, None, 0
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 1
            elif ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i].strip())
            start = i + 1
        i += 1
    last = text[start:].strip()
    return parts + [last] if last else parts


def python_call_arguments(after: str) -> int | None:
    """How many arguments the call right after the word passes (`(a, b=1)` -> 2), from the text
    after the word; None where no call follows, the call is not closed within the text, or it
    unpacks (`*args`, `**kw`: any count)."""
    text = after.lstrip(" \t")
    if not text.startswith("("):
        return None
    depth, quote, i = 0, None, 0
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 1
            elif ch == quote or ch == "\n":
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch == "#":
            j = text.find("\n", i)
            if j < 0:
                return None
            text, i = text[:i] + text[j:], i - 1                       # a comment inside the call: dropped
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
            if depth == 0:
                args = _top_level_parts(text[1:i])
                return None if any(a.startswith("*") for a in args) else len(args)
        i += 1
    return None


_SIGNATURE = re.compile(r"[\w$]+\((.*)\)(?:\s*->.*)?$", re.S)


def parameter_range(signature: str) -> tuple[int, float] | None:
    """(required, most) arguments a callable takes, from its signature as jedi writes it
    (`split(sep: str | None=None, maxsplit: SupportsIndex=-1) -> list[str]` -> (0, 2); `*args`
    / `**kwargs`: no most, inf); None where `signature` is none."""
    m = _SIGNATURE.match(signature.strip())
    if not m:
        return None
    low, high = 0, 0.0
    for p in _top_level_parts(m.group(1)):
        if p in ("/", "*"):
            continue
        if p.startswith("*"):
            high = math.inf
            continue
        high += 1
        low += "=" not in p
    return low, high


CALL_TEXT_BYTES = 2000      # how far after the word the call's closing bracket is looked for
CALL_SHAPE_TOP = 12         # Python: the first candidates whose signatures say whether they fit the call after the word


def _call_shape(doc: StructuredDocument, cur: Cursor, ctx: AnalysisContext, cands: list[_Cand],
                top: int = CALL_SHAPE_TOP) -> None:
    """Python, after `receiver.` with a call written after the word (`self.(key, val)`): the
    `shape` of the `top` best callables, +1 where their signature (jedi's, the ones the list's
    details show) takes that many arguments, -1 where it does not (as Java's resolver does for
    its methods). Asked within the request's deadline: the signatures found are kept on the
    symbols for the next keystroke's list."""
    if doc.language != "python" or not cur.before_word.endswith("."):
        return
    # (the cut may split a character: "ignore" drops its bytes)
    n = python_call_arguments(doc.data[cur.word_end:cur.word_end + CALL_TEXT_BYTES].decode("utf-8", "ignore"))
    if n is None:
        return
    from r1lsp import pyanalysis
    callables = [c for c in cands[:top] if c.symbol is not None and c.kind in ("method", "function", "class")]
    for i, sig in pyanalysis.describe_within([c.symbol for c in callables], ctx.deadline).items():
        got = parameter_range(sig)
        if got is not None:
            callables[i].shape = 1.0 if got[0] <= n <= got[1] else -1.0
