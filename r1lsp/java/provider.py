"""The Java static candidates completion offers at a position: after `.`, the receiver's
members when its type resolves; elsewhere the names in scope. Pure logic over `JavaScope`."""
from __future__ import annotations

import threading

from r1lsp.java.resolve import JavaScope, Member
from r1lsp.java.workspace import JavaIndex

_default: JavaIndex | None = None
_lock = threading.Lock()


def default_index() -> JavaIndex:
    """A process-wide index (JDK only until files are added) for callers without a workspace."""
    global _default
    with _lock:
        if _default is None:
            _default = JavaIndex()
        return _default


def java_members(index: JavaIndex | None, data: bytes, word_start: int, word_end: int, member: bool,
                 uri: str = "file:///untitled.java") -> list[Member] | None:
    """Members of the receiver before `.` (member=True) or the names in scope (member=False)
    at the word spanning bytes [word_start, word_end) of the UTF-8 source. None: nothing
    resolved here (the caller falls back to names seen in the document)."""
    scope = JavaScope(index or default_index(), data, word_start, word_end, uri)
    if member:
        r = scope.receiver()
        if r is None:
            return None
        got = scope.members(r)
        return got or None
    if scope.node is None:
        return None
    return scope.scope_names()
