"""The cursor and the document's names, for the completion list: the word at an LSP position,
definitions with their scopes, members used per receiver and declared types (from
`model/structure/queries/<language>/locals.scm`), the grammar's keywords, and how often names
occur. Both kinds of names are kept per document text (the requests of one version share them)."""
from __future__ import annotations

import collections
import concurrent.futures
import functools
import re
import threading
from dataclasses import dataclass

from model.structure import StructuredDocument
from model.structure.languages import GRAMMARS, language_support
from model.structure.text_index import decode, utf8_bytes

KINDS = ("keyword", "variable", "parameter", "field", "method", "function", "class", "module", "model")

# Literal words the grammars expose as named nodes (so the anonymous-kind rule misses them).
LITERAL_KEYWORDS = {"python": ("True", "False", "None"),
                    "java": ("true", "false", "null", "this", "super", "void", "boolean")}
NO_COMPLETION_NODES = {"comment", "line_comment", "block_comment", "string_content", "string_fragment",
                       "string_literal", "character_literal", "text_block"}

_IDENT = re.compile(r"[A-Za-z_$\u00c0-\uffff][\w$\u00c0-\uffff]*")


def _is_ident_char(c: str) -> bool:
    return c.isalnum() or c in "_$"


# ---------------------------------------------------------------------------- the cursor

@dataclass
class Cursor:
    """Where completion happens: the word being typed and what surrounds it."""
    offset: int                        # byte offset of the cursor
    line: int
    character: int
    prefix: str                        # identifier characters before the cursor (the typed part)
    tail: str                          # identifier characters after the cursor (same word)
    word_start: int                    # byte offsets of the word
    word_end: int
    before_word: str                   # text on the line before the word
    after: str                         # text on the line after the cursor


def cursor_at(doc: StructuredDocument, line: int, character: int) -> Cursor | None:
    """The cursor at an LSP position, or None when the position is past the document's end
    (or past the end of its line)."""
    if line < 0 or character < 0:
        return None
    offset = doc.offset_at(line, character)
    if doc.position_at(offset) != (line, character):
        return None                                                     # clamped: not in the document
    data = doc.data
    line_start = doc.offset_at(line, 0)
    line_end = data.find(b"\n", offset)
    line_end = len(data) if line_end < 0 else line_end
    before = decode(data[line_start:offset])
    after = decode(data[offset:line_end]).rstrip("\r")
    i = len(before)
    while i > 0 and _is_ident_char(before[i - 1]):
        i -= 1
    j = 0
    while j < len(after) and _is_ident_char(after[j]):
        j += 1
    prefix, tail = before[i:], after[:j]
    return Cursor(offset, line, character, prefix, tail,
                  offset - len(utf8_bytes(prefix)),
                  offset + len(utf8_bytes(tail)), before[:i], after)


# ---------------------------------------------------------------------------- structure

@dataclass
class Definition:
    name: str
    kind: str                          # variable | parameter | field | method | function | class | module
    start: int                         # byte offset of the name
    scope: object                      # tree-sitter Node whose extent the name is visible in
    depth: int                         # nesting depth of the scope (module 0)
    owner: object = None               # classes: the class definition node


@dataclass
class DocumentNames:
    definitions: list[Definition]
    uses: dict[str, dict[str, str]]    # receiver text -> {member: "method" | "field"}
    types: dict[str, str]              # declared name -> type name
    frequency: collections.Counter


@functools.cache
def _class_scopes() -> frozenset[str]:
    """Node kinds of scopes whose names are members, any language (locals.scm @local.scope.class)."""
    return frozenset().union(*(language_support(lang).class_scopes for lang in GRAMMARS))


@functools.cache
def _self_names() -> frozenset[str]:
    """Receivers meaning "this object", any language (locals.scm @local.self)."""
    return frozenset().union(*(language_support(lang).self_names for lang in GRAMMARS))


@functools.cache
def grammar_keywords(language: str) -> tuple[str, ...]:
    """The language's keywords: anonymous, visible, alphabetic node kinds of its grammar."""
    support = language_support(language)
    if support is None:
        return ()
    lang = support.language
    words = {lang.node_kind_for_id(i) for i in range(lang.node_kind_count)
             if not lang.node_kind_is_named(i) and lang.node_kind_is_visible(i)
             and lang.node_kind_for_id(i).replace("-", "").isalpha()}
    return tuple(sorted(words | set(LITERAL_KEYWORDS.get(language, ()))))


def _scope_of(node, scopes: set[str], memo: dict | None = None):
    """The innermost scope holding `node` (itself included) and how many scopes hold that one.
    `memo` (node id -> (scope, depth, scopes up to the root)) is shared by the calls of one
    tree: definitions share their ancestors, so each node's parent is read once."""
    memo = {} if memo is None else memo
    path = []
    n = node
    while n is not None and n.id not in memo:
        path.append(n)
        n = n.parent
    found, depth, count = memo[n.id] if n is not None else (None, 0, 0)
    for m in reversed(path):
        if m.type in scopes:
            found, depth, count = m, count, count + 1
        memo[m.id] = (found, depth, count)
    return found, depth


def _text(node) -> str:
    return node.text.decode("utf-8", "replace")


def document_names(doc: StructuredDocument) -> DocumentNames | None:
    """Definitions with their scopes, members used per receiver and declared types (kept for
    the last texts: the requests of one document version share them)."""
    if doc.tree is None or language_support(doc.language) is None:
        return None
    return _remember(_NAMES, (doc.language, doc.text), lambda: _document_names(doc))


_NAMES: collections.OrderedDict = collections.OrderedDict()
_REMEMBER_LOCK = threading.Lock()


_MAKING: dict = {}                 # (table id, key) -> Future of a value being made


def _remember(table: collections.OrderedDict, key, make, size: int = 2):
    """table[key], made by make() when missing (once: a second thread asking meanwhile waits
    for the first's); the `size` most recent kept."""
    with _REMEMBER_LOCK:
        if key in table:
            table.move_to_end(key)
            return table[key]
        making = _MAKING.get((id(table), key))
        mine = making is None
        if mine:
            making = _MAKING[(id(table), key)] = concurrent.futures.Future()
    if not mine:
        return making.result()
    try:
        value = make()
    except BaseException as exc:
        with _REMEMBER_LOCK:
            del _MAKING[(id(table), key)]
        making.set_exception(exc)
        raise
    with _REMEMBER_LOCK:
        table[key] = value
        while len(table) > size:
            table.popitem(last=False)
        del _MAKING[(id(table), key)]
    making.set_result(value)
    return value


def _document_names(doc: StructuredDocument) -> DocumentNames:
    from tree_sitter import QueryCursor
    lang, root = doc.language, doc.tree.root_node
    scopes = language_support(lang).scopes
    defs: list[Definition] = []
    uses: dict[str, dict[str, str]] = collections.defaultdict(dict)
    types: dict[str, str] = {}
    memo: dict = {}
    for _, caps in QueryCursor(language_support(lang).locals).matches(root):
        for cap, nodes in caps.items():
            for node in nodes:
                if cap.startswith("def."):
                    defs.append(_definition(cap[4:], node, scopes, memo))
        if "use.receiver" in caps:
            recv = _text(caps["use.receiver"][0])
            for cap in ("use.method", "use.member"):
                for node in caps.get(cap, ()):
                    uses[recv].setdefault(_text(node), "method" if cap == "use.method" else "field")
        if "decl.name" in caps and "decl.type" in caps:
            t = re.split(r"[<\[]", _text(caps["decl.type"][0]))[0].strip()
            types.setdefault(_text(caps["decl.name"][0]), t)
    return DocumentNames(defs, dict(uses), types, NameCounts.of(doc.text).names)


def _definition(what: str, node, scopes: set[str], memo: dict) -> Definition:
    name = _text(node)
    if what in ("class", "function", "method"):
        owner = node.parent                                             # the definition itself
        scope, depth = _scope_of(owner.parent, scopes, memo)
    elif what == "self_field":
        scope = node.parent
        while scope is not None and scope.type != "class_definition":
            scope = scope.parent
        _, depth = _scope_of(scope, scopes, memo) if scope is not None else (None, 0)
    else:
        scope, depth = _scope_of(node.parent, scopes, memo)
    in_class = scope is not None and scope.type in _class_scopes()
    kind = {"function": "method" if in_class else "function",
            "variable": "field" if in_class else "variable",
            "self_field": "field", "import": "module"}.get(what, what)
    return Definition(name, kind, node.start_byte, scope, depth, node.parent if what == "class" else None)


def _contains(node, offset: int) -> bool:
    return node is None or node.start_byte <= offset <= node.end_byte


def _innermost_scope(doc: StructuredDocument, offset: int, kinds: set[str]):
    node = doc.tree.root_node.descendant_for_byte_range(offset, offset)
    while node is not None and node.type not in kinds:
        node = node.parent
    return node


def _same(a, b) -> bool:
    """The same node (of one text's trees: snapshots parse copies)."""
    return a is not None and b is not None and (a.start_byte, a.end_byte, a.type) == (b.start_byte, b.end_byte, b.type)


def _class_body(d: Definition):
    """The scope node of a class's members (Python: the class itself; Java: its body)."""
    if d.owner is None or d.owner.type in _class_scopes():
        return d.owner
    return d.owner.child_by_field_name("body")


def _receiver(text: str) -> str:
    i = len(text)
    while i > 0 and _is_ident_char(text[i - 1]):
        i -= 1
    return text[i:]



@dataclass
class NameCounts:
    """How often names occur in the document: anywhere, as a member (`.name`), and per
    receiver (`recv.name`)."""
    names: collections.Counter
    members: collections.Counter
    pairs: collections.Counter

    @classmethod
    def of(cls, text: str) -> "NameCounts":
        """The counts of `text` (kept for the last texts; a text that differs from the last one
        counted in a small region, as after a keystroke, is counted there only)."""
        return _remember(_COUNTS, text, lambda: cls._from_last(text))

    @classmethod
    def _from_last(cls, text: str) -> "NameCounts":
        with _REMEMBER_LOCK:
            last = next(reversed(_COUNTS.items()), None)
        if last is not None:
            old_text, old = last
            (a0, a1), (b0, b1) = _changed_region(old_text, text)
            if (a1 - a0) + (b1 - b0) < len(text) // 4:
                return old._replaced(cls._count(old_text[a0:a1]), cls._count(text[b0:b1]))
        return cls._count(text)

    def _replaced(self, removed: "NameCounts", added: "NameCounts") -> "NameCounts":
        """These counts with a region's counts replaced by another's."""
        out = []
        for mine, minus, plus in ((self.names, removed.names, added.names),
                                  (self.members, removed.members, added.members),
                                  (self.pairs, removed.pairs, added.pairs)):
            c = mine.copy()
            c.subtract(minus)
            c.update(plus)
            for k in minus:
                if c[k] <= 0:
                    del c[k]
            out.append(c)
        return NameCounts(*out)

    @classmethod
    def _count(cls, text: str) -> "NameCounts":
        # a pair starts where a name starts: without (?<![\w$]) the search backtracks through
        # every suffix of a name not followed by a dot (a 2 MB name: a worker stuck for hours)
        pairs = collections.Counter(re.findall(r"(?<![\w$])([\w$]+)\s*\.\s*([\w$]+)", text))
        members = collections.Counter()
        for (_, m), n in pairs.items():
            members[m] += n
        return cls(collections.Counter(_IDENT.findall(text)), members, pairs)


_COUNTS: collections.OrderedDict = collections.OrderedDict()


def _changed_region(old: str, new: str, margin_lines: int = 3) -> tuple[tuple[int, int], tuple[int, int]]:
    """(start, end) in `old` and in `new` of the region where they differ, widened to whole
    lines and `margin_lines` more on each side (a `recv . name` pair can span lines: one that
    crosses the region's edge lies in text both have alike, so it is counted alike in both)."""
    lo, hi = 0, min(len(old), len(new))
    while lo < hi:                                                      # common prefix
        mid = (lo + hi + 1) // 2
        if old[:mid] == new[:mid]:
            lo = mid
        else:
            hi = mid - 1
    prefix = lo
    lo, hi = 0, min(len(old), len(new)) - prefix
    while lo < hi:                                                      # common suffix (after the prefix)
        mid = (lo + hi + 1) // 2
        if old[len(old) - mid:] == new[len(new) - mid:]:
            lo = mid
        else:
            hi = mid - 1
    suffix = lo
    start = prefix
    for _ in range(margin_lines + 1):
        start = max(0, new.rfind("\n", 0, max(start - 1, 0)) + 1) if start > 0 else 0
    end = len(new) - suffix
    for _ in range(margin_lines + 1):
        nl = new.find("\n", end)
        end = len(new) if nl < 0 else nl + 1
    tail = len(new) - end                                               # inside the common suffix
    return (start, len(old) - tail), (start, end)
