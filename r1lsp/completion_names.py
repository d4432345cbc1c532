"""The cursor and the document's names, for the completion list: the word at an LSP position,
definitions with their scopes, members used per receiver and declared types (from
`model/structure/queries/<language>/locals.scm`) and the grammar's keywords (how often names
occur: `completion_counts`). The names are kept per document text (the requests of one version
share them)."""
from __future__ import annotations

import bisect
import collections
import functools
import re
from dataclasses import dataclass

from model.structure import StructuredDocument
from model.structure.languages import GRAMMARS, language_support
from model.structure.text_index import decode, utf8_bytes
from r1lsp.completion_counts import _REMEMBER_LOCK, NameCounts, _remember

KINDS = ("keyword", "variable", "parameter", "field", "method", "function", "class", "module", "model")

# Literal words the grammars expose as named nodes (so the anonymous-kind rule misses them).
LITERAL_KEYWORDS = {"python": ("True", "False", "None"),
                    "java": ("true", "false", "null", "this", "super", "void", "boolean")}
NO_COMPLETION_NODES = {"comment", "line_comment", "block_comment", "string_content", "string_fragment",
                       "string_literal", "character_literal", "text_block"}



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

@dataclass(frozen=True)
class Span:
    """A node's extent and kind in one text: what the names keep of a scope (no tree node, so
    that the names of an unchanged region carry over to the next text, shifted)."""
    start_byte: int
    end_byte: int
    type: str


@dataclass
class Definition:
    name: str
    kind: str                          # variable | parameter | field | method | function | class | module
    start: int                         # byte offset of the name
    scope: Span | None                 # the node whose extent the name is visible in
    depth: int                         # nesting depth of the scope (module 0)
    members: Span | None = None        # classes: the scope of their members (Python: the class; Java: its body)


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
    the last texts: the requests of one document version share them; a new text's names are
    made from the last text's, queried again only where the two differ: `_document_names`)."""
    if doc.tree is None or language_support(doc.language) is None:
        return None
    return _remember(_NAMES, (doc.language, doc.text), lambda: _names_from_last(doc))


def _names_from_last(doc: StructuredDocument) -> DocumentNames:
    with _REMEMBER_LOCK:                # an earlier text of this document, that its edits lead from
        known = [c for c in _CHUNKS if doc.edits_since(c.lineage, c.revision) is not None]
    last = max(known, key=lambda c: c.revision, default=None)
    names, chunks = _document_names(doc, last, CHUNK_BYTES)
    if chunks:
        with _REMEMBER_LOCK:            # a copy of the tree: edits mutate a document's own
            _CHUNKS.append(_Named(doc.lineage, doc.revision, doc.tree.copy(), chunks))
    return names


_NAMES: collections.OrderedDict = collections.OrderedDict()
# ---------------------------------------------------------------------------- names by chunk
#
# A document's names are those of the locals query's matches over its tree, in the order the
# query gives them. They are kept by chunk: the walk from the root enters nodes larger than
# CHUNK_BYTES (but not those of a kind whose patterns capture more than one node: such a match
# could span two chunks) and every child of an entered node that it does not enter is a chunk.
# A match belongs to the chunk holding its captures, and the query meets the chunks in document
# order, so the names are the chunks' names one after another (a typed 2,900-line file: ~500
# chunks). The next text (a keystroke later) keeps the chunks that lie outside the document's
# edits since and outside the changed ranges tree-sitter found between its trees (the document
# hands both over: `StructuredDocument.edits`; nothing is compared again here), at the
# same extent (shifted) and kind under the same kinds of entered nodes (positions are relative
# to the chunk, a scope outside it is an index into the entered nodes above it), and queries
# the others only: ~2-6 ms of CPU a keystroke instead of 20-50 ms (tests/test_completion_names.py
# checks the names against one query over the whole tree after random edits).

CHUNK_BYTES = 2048
_CHUNKS: collections.deque = collections.deque(maxlen=3)    # _Named of the last texts named


@dataclass(frozen=True)
class _Chunk:
    """The names in one chunk, as the query met them."""
    sig: tuple        # (kinds of the entered nodes above it, its field name): what its names depend on outside it
    defs: tuple       # (name, kind, start, scope, depth, members) with starts relative to the chunk and scopes as `_ref`s
    uses: tuple       # (receiver, member, "method" | "field")
    types: tuple      # (declared name, type name)


@dataclass(frozen=True)
class _Named:
    """A text whose names were made, kept for making the next text's."""
    lineage: int                       # the document's (StructuredDocument.lineage)
    revision: int                      # which of its texts
    tree: object                       # a copy of its tree (keeps the chunks' nodes and ids valid)
    chunks: dict                       # (start, end, kind) -> (node, _Chunk)


@functools.cache
def _unsplittable(language: str) -> frozenset[str]:
    """Node kinds the walk does not enter: the roots of locals.scm's patterns with two or more captures."""
    from model.structure.languages import query_source
    query, data = language_support(language).locals, query_source(language, "locals").encode("utf-8")
    kinds = set()
    for i in range(query.pattern_count):
        text = data[query.start_byte_for_pattern(i):query.end_byte_for_pattern(i)].decode("utf-8")
        if len(set(re.findall(r"@([\w.]+)", text))) > 1:
            kinds.add(re.match(r"[\s(\[]*(\w+)", text).group(1))
    return frozenset(kinds)


def _walk(root, unsplittable: frozenset[str], chunk_bytes: int | None) -> list[tuple]:
    """The chunks in document order: (node, entered nodes above it, (their kinds, its field name)).
    One cursor, no recursion (code nests thousands of brackets deep)."""
    if chunk_bytes is None or root.end_byte - root.start_byte <= chunk_bytes or root.type in unsplittable:
        return [(root, (), ((), None))]
    out, above = [], []                                                 # above: (path, kinds) of the levels entered
    path, kinds = (root,), (root.type,)
    cursor = root.walk()
    if not cursor.goto_first_child():
        return [(root, (), ((), None))]
    while True:
        child = cursor.node
        if child.is_named:                                              # anonymous tokens hold no captures
            field = cursor.field_name
            if child.end_byte - child.start_byte > chunk_bytes and child.type not in unsplittable \
                    and child.child_count and cursor.goto_first_child():
                above.append((path, kinds))
                path, kinds = path + (child,), kinds + (child.type,)
                continue
            out.append((child, path, (kinds, field)))
        while not cursor.goto_next_sibling():
            if not above:
                return out
            cursor.goto_parent()
            path, kinds = above.pop()


class _Unchunked(Exception):
    """A match that does not sit in one chunk (or came out of chunk order): name the whole tree as one."""


def _document_names(doc: StructuredDocument, last: _Named | None = None,
                    chunk_bytes: int | None = CHUNK_BYTES) -> tuple[DocumentNames, dict]:
    """The names of `doc`, and its chunks by (start, end, kind) (with their nodes). `last`: an
    earlier text of the document's, whose chunks outside the document's edits since and the
    ranges where tree-sitter found the trees' structure different are kept (shifted) instead
    of queried again. chunk_bytes None: one chunk, the whole tree."""
    root = doc.tree.root_node
    chunks = _walk(root, _unsplittable(doc.language), chunk_bytes)
    kept: list = [None] * len(chunks)
    unchanged, exact = _unchanged(last, doc) if last is not None and len(chunks) > 1 else (None, False)
    # tree-sitter's changed ranges say where the structure differs by comparing nodes' kinds,
    # extents and parse states, not their insides: where a tree has errors, a parse may resolve
    # an ambiguity (`a < b > c = d`) the other way in a node that compares equal, so there a
    # chunk is kept only when it is the same subtree (the same slot: its node id) or has the
    # same structure (its S-expression: the text is the same)
    trusted = unchanged is not None and exact
    for i, (node, _, sig) in enumerate(chunks):
        old = unchanged(node.start_byte, node.end_byte) if unchanged is not None else None
        was, c = last.chunks.get((*old, node.type), (None, None)) if old is not None else (None, None)
        if c is not None and c.sig == sig and (trusted or was.id == node.id or str(was) == str(node)):
            kept[i] = c
    todo = [i for i, c in enumerate(kept) if c is None]
    try:
        _query_chunks(doc, chunks, todo, kept)
    except _Unchunked:
        if chunk_bytes is None:
            raise
        names, _ = _document_names(doc, None, None)
        return names, {}
    return _assemble(doc, chunks, kept), {(n.start_byte, n.end_byte, n.type): (n, c) for (n, _, _), c in zip(chunks, kept)}


def _unchanged(last: _Named, doc: StructuredDocument):
    """From the edits the document made since `last`'s text (`StructuredDocument.edits`): a
    function (start, end) -> the same extent in `last`'s text where neither an edit nor one of
    tree-sitter's changed ranges meets it, else None; and whether those ranges are exact (no
    tree on the way had errors). (None, False) when the edits are not known or replaced most
    of the text."""
    edits = doc.edits_since(last.lineage, last.revision)
    if edits is None or sum(ed.new_end + ed.old_end - 2 * ed.start for ed in edits) > len(doc.data) // 2:
        return None, False

    def unchanged(start: int, end: int):
        for ed in reversed(edits):                                      # back to the older texts
            if start <= ed.new_end and ed.start <= end or any(start <= b and a <= end for a, b in ed.changed):
                return None
            if start > ed.new_end:                                      # after the edit: shifted
                start, end = start - (ed.new_end - ed.old_end), end - (ed.new_end - ed.old_end)
        return (start, end)
    return unchanged, all(ed.exact for ed in edits)


def _query_chunks(doc: StructuredDocument, chunks: list, todo: list[int], kept: list) -> None:
    """kept[i] for each i in `todo`: the query over each run of consecutive chunks to do."""
    from tree_sitter import QueryCursor
    support = language_support(doc.language)
    starts = [node.start_byte for node, _, _ in chunks]
    ends = [node.end_byte for node, _, _ in chunks]
    runs = []
    for i in todo:
        if runs and runs[-1][1] == i - 1:
            runs[-1][1] = i
        else:
            runs.append([i, i])
    memo: dict = {}
    for first, last in runs:
        found: dict = {}
        cursor = QueryCursor(support.locals)
        cursor.set_byte_range(starts[first], ends[last])
        at = first
        for _, caps in cursor.matches(doc.tree.root_node):
            i = _chunk_of(caps, chunks, starts, ends)
            if i is None or not first <= i <= last:
                continue                                                # scopes only, or a neighbour's
            if i < at:
                raise _Unchunked
            at = i
            if i not in found:
                found[i] = ([], [], [])
            defs, uses, types = found[i]
            node, path, _ = chunks[i]
            for cap, nodes in caps.items():
                for n in nodes:
                    if cap.startswith("def."):
                        defs.append(_definition(cap[4:], n, support.scopes, memo, node, path))
            if "use.receiver" in caps:
                recv = _text(caps["use.receiver"][0])
                for cap in ("use.method", "use.member"):
                    for n in caps.get(cap, ()):
                        uses.append((recv, _text(n), "method" if cap == "use.method" else "field"))
            if "decl.name" in caps and "decl.type" in caps:
                t = re.split(r"[<\[]", _text(caps["decl.type"][0]))[0].strip()
                types.append((_text(caps["decl.name"][0]), t))
        for i in range(first, last + 1):
            defs, uses, types = found.get(i, ((), (), ()))
            kept[i] = _Chunk(chunks[i][2], tuple(defs), tuple(uses), tuple(types))


def _chunk_of(caps: dict, chunks: list, starts: list[int], ends: list[int]) -> int | None:
    """The chunk holding a match's captures (None: it captures scopes only)."""
    at = None
    for cap, nodes in caps.items():
        if cap.startswith("local."):
            continue
        for n in nodes:
            s, e = n.start_byte, n.end_byte
            if at is None:
                at = bisect.bisect_right(starts, s) - 1
                if at < 0 or e > ends[at]:
                    raise _Unchunked
            elif not starts[at] <= s <= e <= ends[at]:
                raise _Unchunked
            if s == e and not _inside(n, chunks[at][0]):
                raise _Unchunked
    return at


def _inside(node, chunk) -> bool:
    while node is not None and node.id != chunk.id:
        node = node.parent
    return node is not None


def _ref(node, chunk, path):
    """A scope node as a chunk keeps it: None, the index of an entered node above the chunk, or
    (start, end, kind) relative to the chunk."""
    if node is None:
        return None
    for k, above in enumerate(path):
        if above.id == node.id:
            return k
    if not chunk.start_byte <= node.start_byte <= node.end_byte <= chunk.end_byte:
        raise _Unchunked
    return (node.start_byte - chunk.start_byte, node.end_byte - chunk.start_byte, node.type)


def _definition(what: str, node, scopes: set[str], memo: dict, chunk, path) -> tuple:
    name = _text(node)
    owner = members = None
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
    if what == "class":
        if owner.type in _class_scopes():
            members = _ref(owner, chunk, path)
        else:                                                           # Java: the class's body
            k = next((k for k, above in enumerate(path) if above.id == owner.id), None)
            members = ("body", k) if k is not None else _ref(owner.child_by_field_name("body"), chunk, path)
    return (name, kind, node.start_byte - chunk.start_byte, _ref(scope, chunk, path), depth, members)


def _assemble(doc: StructuredDocument, chunks: list, kept: list) -> DocumentNames:
    """The document's names from its chunks' (positions made absolute, scopes made spans)."""
    defs: list[Definition] = []
    uses: dict[str, dict[str, str]] = {}
    types: dict[str, str] = {}
    spans: dict = {}                                                    # (entered node id, body?) -> Span

    def span(ref, base: int, path):
        if ref is None:
            return None
        if type(ref) is int or ref[0] == "body":
            body = type(ref) is not int
            above = path[ref[1] if body else ref]
            key = (above.id, body)
            if key not in spans:
                n = above.child_by_field_name("body") if body else above
                spans[key] = None if n is None else Span(n.start_byte, n.end_byte, n.type)
            return spans[key]
        return Span(base + ref[0], base + ref[1], ref[2])

    for (node, path, _), c in zip(chunks, kept):
        base = node.start_byte
        for name, kind, start, scope, depth, members in c.defs:
            defs.append(Definition(name, kind, base + start, span(scope, base, path), depth, span(members, base, path)))
        for recv, member, kind in c.uses:
            uses.setdefault(recv, {}).setdefault(member, kind)
        for name, t in c.types:
            types.setdefault(name, t)
    return DocumentNames(defs, uses, types, NameCounts.of(doc.text).names)


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


def _class_body(d: Definition) -> Span | None:
    """The scope of a class's members (Python: the class itself; Java: its body)."""
    return d.members


def _receiver(text: str) -> str:
    i = len(text)
    while i > 0 and _is_ident_char(text[i - 1]):
        i -= 1
    return text[i:]
