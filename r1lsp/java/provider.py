"""The Java static candidates completion offers at a position: after `.`, the receiver's
members when its type resolves; elsewhere the names in scope. Pure logic over `JavaScope`."""
from __future__ import annotations

import functools
import threading
from dataclasses import dataclass

from r1lsp.java.jdk import jdk_index
from r1lsp.java.resolve import JavaScope, Member
from r1lsp.java.types import PRIMITIVES, JType
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


@dataclass
class JavaNames:
    members: list[Member]
    expected: JType | None             # the type the position expects (None: unknown)
    call_arguments: int | None = None  # arguments already written after the word (a call), else None
    receiver: str = ""                 # the receiver's type (binary name; '' for a package or an array)
    iterable: frozenset[str] = frozenset()  # the members whose value a for-each loop can iterate (arrays, Iterables)


ITERABLE = "java.lang.Iterable"


def iterable_members(scope: JavaScope, members: list[Member]) -> frozenset[str]:
    """The members whose type is an array or a subtype of java.lang.Iterable: a JDK class by its
    supertypes in the JDK index (kept per process), a workspace class through the resolver's
    hierarchy (once per type and list)."""
    jdk = jdk_index()
    known: dict[str, bool] = {}
    out = set()
    for m in members:
        t = m.type
        if t is None or t.tvar or not t.dims and t.name in PRIMITIVES:
            continue
        if not t.dims and t.name not in known:
            known[t.name] = jdk_iterable(t.name) if t.name in jdk else scope.is_subtype(t, ITERABLE)
        if t.dims or known[t.name]:
            out.add(m.name)
    return frozenset(out)


@functools.cache
def jdk_iterable(name: str) -> bool:
    """The JDK class `name` (binary) is java.lang.Iterable or a subtype of it (its supertypes in
    the JDK index)."""
    jdk, seen, todo = jdk_index(), set(), [name]
    while todo:
        n = todo.pop()
        if n == ITERABLE:
            return True
        if n in seen:
            continue
        seen.add(n)
        info = jdk.get(n)
        todo += [s.split("<", 1)[0] for s in info.supers] if info is not None else []
    return False


def java_members(index: JavaIndex | None, data: bytes, word_start: int, word_end: int, member: bool,
                 uri: str | None = None, tree=None) -> JavaNames | None:
    """Members of the receiver before `.` (member=True) or the names in scope (member=False)
    at the word spanning bytes [word_start, word_end) of the UTF-8 source, with the type the
    position expects. None: nothing resolved here (the caller falls back to names seen in the
    document). `tree`: data's tree, re-parsed incrementally with the placeholder."""
    scope = JavaScope(index or default_index(), data, word_start, word_end, uri or "file:///untitled.java", tree=tree)
    if member:
        r = scope.receiver()
        got = scope.members(r) if r is not None else None
        recv = r.type.name if got and r.type is not None and not r.type.dims else ""
        return JavaNames(got, scope.expected_here(), scope.call_arguments(), recv,
                         iterable_members(scope, got)) if got else None
    if scope.node is None:
        return None
    return JavaNames(scope.scope_names(), scope.expected_here())


def warm_up(index: JavaIndex) -> None:
    """Load the JDK index and compile the queries before the first completion asks (a worker
    thread at initialization): the first list would otherwise pay ~0.1-0.3 s."""
    src = b"import java.util.*; class W { void m(List<String> xs) { xs.get(0). } }"
    at = src.index(b"get(0).") + len(b"get(0).")
    scope = JavaScope(index, src, at, at, "file:///r1lsp-warm-up.java")
    r = scope.receiver()
    if r is not None:
        scope.members(r)
