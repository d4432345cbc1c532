"""Completion lists: names from the structure, ranked by the model.

Candidates come from the document's tree through `model/structure/queries/<language>/locals.scm` (scopes, definitions,
members seen used on a receiver, declared types) and from the grammar (keywords: its anonymous,
visible, alphabetic node kinds), plus a few short greedy model continuations of the word at
the cursor. With a ready engine every candidate is ranked by the model's log-likelihood of the
rest of the word after the typed prefix (log p(word | text before the word) - log p(prefix |
same); the text before the word does not change while a word is typed, so the engine's score
cache serves the following keystrokes). Without one, a structural ranking (prefix match, scope
proximity, frequency) decides. All positions are (line, UTF-16 column).
"""
from __future__ import annotations

import collections
import dataclasses
import functools
import logging
import math
import re
import threading
import time
from concurrent.futures import CancelledError, TimeoutError as FutureTimeout
from dataclasses import dataclass

from r1lsp.engine import encode_window
from model.structure import StructuredDocument
from model.structure.languages import GRAMMARS, language_support
from model.structure.text_index import decode, utf16_len, utf8_bytes

KINDS = ("keyword", "variable", "parameter", "field", "method", "function", "class", "module", "model")

# Literal words the grammars expose as named nodes (so the anonymous-kind rule misses them).
LITERAL_KEYWORDS = {"python": ("True", "False", "None"),
                    "java": ("true", "false", "null", "this", "super", "void", "boolean")}
NO_COMPLETION_NODES = {"comment", "line_comment", "block_comment", "string_content", "string_fragment",
                       "string_literal", "character_literal", "text_block"}

_IDENT = re.compile(r"[A-Za-z_$\u00c0-\uffff][\w$\u00c0-\uffff]*")


def _is_ident_char(c: str) -> bool:
    return c.isalnum() or c in "_$"


@dataclass
class CompletionCandidate:
    label: str
    kind: str                          # one of KINDS
    detail: str                        # source and score, e.g. "local · -1.23"
    score: float                       # the ranking's score (model log-likelihood combined with static features)
    insert_text: str
    replace_start: tuple[int, int]     # (line, UTF-16 column)
    replace_end: tuple[int, int]
    sort_text: str


@dataclass
class CompletionResult:
    items: list[CompletionCandidate]
    is_incomplete: bool


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


def _scope_of(node, scopes: set[str]):
    depth, found = 0, None
    n = node
    while n is not None:
        if n.type in scopes:
            if found is None:
                found = n
            else:
                depth += 1
        n = n.parent
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


def _remember(table: collections.OrderedDict, key, make, size: int = 2):
    """table[key], made by make() when missing; the `size` most recent kept."""
    with _REMEMBER_LOCK:
        if key in table:
            table.move_to_end(key)
            return table[key]
    value = make()
    with _REMEMBER_LOCK:
        table[key] = value
        while len(table) > size:
            table.popitem(last=False)
    return value


def _document_names(doc: StructuredDocument) -> DocumentNames:
    from tree_sitter import QueryCursor
    lang, root = doc.language, doc.tree.root_node
    scopes = language_support(lang).scopes
    defs: list[Definition] = []
    uses: dict[str, dict[str, str]] = collections.defaultdict(dict)
    types: dict[str, str] = {}
    for _, caps in QueryCursor(language_support(lang).locals).matches(root):
        for cap, nodes in caps.items():
            for node in nodes:
                if cap.startswith("def."):
                    defs.append(_definition(cap[4:], node, scopes))
        if "use.receiver" in caps:
            recv = _text(caps["use.receiver"][0])
            for cap in ("use.method", "use.member"):
                for node in caps.get(cap, ()):
                    uses[recv].setdefault(_text(node), "method" if cap == "use.method" else "field")
        if "decl.name" in caps and "decl.type" in caps:
            t = re.split(r"[<\[]", _text(caps["decl.type"][0]))[0].strip()
            types.setdefault(_text(caps["decl.name"][0]), t)
    freq = collections.Counter(_IDENT.findall(doc.text))
    return DocumentNames(defs, dict(uses), types, freq)


def _definition(what: str, node, scopes: set[str]) -> Definition:
    name = _text(node)
    if what in ("class", "function", "method"):
        owner = node.parent                                             # the definition itself
        scope, depth = _scope_of(owner.parent, scopes)
    elif what == "self_field":
        scope = node.parent
        while scope is not None and scope.type != "class_definition":
            scope = scope.parent
        _, depth = _scope_of(scope, scopes) if scope is not None else (None, 0)
    else:
        scope, depth = _scope_of(node.parent, scopes)
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


# ---------------------------------------------------------------------------- candidates

@dataclass
class _Cand:
    label: str
    kind: str
    source: str                        # local | parameter | member | class | module | keyword | used | model | jedi
    structural: float
    in_file: bool = False              # defined in the document (static analysis knows where)
    line: int | None = None            # 0-based line of that definition
    builtin: bool = False
    symbol: object = None              # pyanalysis.PySymbol (details and types on demand)
    value_type: str = ""               # the type its value has, where the ranking asked
    detail: str = ""                   # signature / declared type (providers without a symbol: Java)
    depth: int = 0                     # members: 0 declared by the receiver's type, 1 its supertype, …
    object_member: bool = False        # a member java.lang.Object declares (toString, wait, …)
    same_receiver: int = 0             # uses of `receiver.name` in the document, same receiver text (Java)
    expected_type: str = ""            # the type the position expects, as a provider knew it (Java)
    shape: float = 0.0                 # +1 fits the call written after the word (arity), -1 does not (Java)


@dataclass(frozen=True)
class AnalysisContext:
    """Where the document lives, for analysers that read more than its text."""
    path: str | None = None            # the document's file path (None: unsaved / not a file)
    root: str | None = None            # the workspace folder holding it
    python_environment: str | None = None   # interpreter for jedi (None: the server's own)
    java_index: object = None          # r1lsp.java.workspace.JavaIndex of the workspace (None: JDK only)
    uri: str | None = None             # the document's URI (the Java index holds open documents by it)
    budget_s: float | None = None      # how long a request waits for jedi (then the structure's names,
                                       # incomplete; jedi's answer is kept for the next request); None: unbounded
    deadline: float | None = None      # time.monotonic() by which the analysis answers (set per request)

    def started(self) -> "AnalysisContext":
        """This context with the request's deadline set from its budget (once)."""
        if self.budget_s is None or self.deadline is not None:
            return self
        return dataclasses.replace(self, deadline=time.monotonic() + self.budget_s)


class AnalysisPending(Exception):
    """The analysis did not answer within the request's budget (it goes on in the background)."""


def structure_candidates(doc: StructuredDocument, cur: Cursor) -> list[_Cand]:
    """Names the structure offers at the cursor (unranked beyond a structural score)."""
    names = document_names(doc)
    lang = doc.language
    if names is None:                                                   # plain text: words of the document
        freq = collections.Counter(_IDENT.findall(doc.text))
        return [_Cand(w, "variable", "word", math.log1p(n)) for w, n in freq.items()]
    node = doc.tree.root_node.descendant_for_byte_range(max(cur.word_start - 1, 0), cur.offset)
    if node is not None and node.type in NO_COMPLETION_NODES and node.start_byte < cur.offset:
        return []
    out: dict[str, _Cand] = {}

    def add(label, kind, source, score):
        if not label:
            return
        old = out.get(label)
        if old is None or score > old.structural:
            out[label] = _Cand(label, kind, source, score)

    freq = names.frequency
    member = cur.before_word.endswith(".")
    own = lambda d: d.start <= cur.word_end and d.start + len(d.name.encode()) >= cur.word_start
    if member:
        recv = _receiver(cur.before_word[:-1])
        classes = {d.name: d for d in names.definitions if d.kind == "class"}
        targets = []
        if recv in language_support(lang).self_names:
            cls = _innermost_scope(doc, cur.offset, _class_scopes())
            targets.append(cls)
        else:
            tname = names.types.get(recv) or (recv if recv in classes else None)
            if tname in classes:
                targets.append(_class_body(classes[tname]))
        for d in names.definitions:
            if d.kind in ("field", "method") and any(_same(d.scope, t) for t in targets) and not own(d):
                add(d.name, d.kind, "member", 3.0 + 0.2 * math.log1p(freq[d.name]))
        for rname, members in names.uses.items():
            same = rname == recv
            for m, kind in members.items():
                if m != cur.prefix or freq[m] > 1:
                    add(m, kind, "used", (2.0 if same else 0.5) + 0.2 * math.log1p(freq[m]))
        return list(out.values())

    cursor_scope = _innermost_scope(doc, cur.offset, language_support(lang).scopes)
    for d in names.definitions:
        if own(d) or not _contains(d.scope, cur.offset):
            continue
        local = d.scope is not None and d.scope.type not in ("module", "program") and d.scope.type not in _class_scopes()
        if local and d.kind == "variable" and d.start > cur.word_start:
            continue                                                    # declared after the cursor
        if lang == "python" and d.scope is not None and d.scope.type == "class_definition" \
                and not _same(cursor_scope, d.scope):
            continue                                                    # class names need self. in methods
        source = {"parameter": "parameter", "field": "member", "method": "member",
                  "module": "import"}.get(d.kind, "local" if local else "top-level")
        if d.scope is not None and d.scope.type in _class_scopes():
            source = "member"
        add(d.name, d.kind, source, 1.0 + 0.5 * d.depth + 0.2 * math.log1p(freq[d.name]))
    for kw in grammar_keywords(lang):
        add(kw, "keyword", "keyword", 0.5)
    return list(out.values())


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


def _match(label: str, prefix: str) -> float | None:
    """How well a label matches the typed prefix (None: not at all)."""
    if not prefix:
        return 0.0
    if label.startswith(prefix):
        return 2.0
    low, p = label.lower(), prefix.lower()
    if low.startswith(p):
        return 1.5
    it = iter(low)
    return 0.3 if all(c in it for c in p) and low[0] == p[0] else None


# ---------------------------------------------------------------------------- static candidates per language

def python_candidates(doc: StructuredDocument, cur: Cursor, ctx: AnalysisContext) -> list[_Cand] | None:
    """Jedi's names at the cursor: after `receiver.` the members of its inferred type, else the
    names in scope, builtins, imports and keywords. None when jedi has no answer (the caller
    falls back to the structure's names: today's behaviour)."""
    from r1lsp import pyanalysis
    node = doc.tree.root_node.descendant_for_byte_range(max(cur.word_start - 1, 0), cur.offset) \
        if doc.tree is not None else None
    if node is not None and node.type in NO_COMPLETION_NODES and node.start_byte < cur.offset:
        return []
    try:
        res = pyanalysis.completions_within(doc.text, cur.line, len(cur.before_word), path=ctx.path, root=ctx.root,
                                            env_path=ctx.python_environment, deadline=ctx.deadline)
    except pyanalysis.EnvironmentError_:
        return None
    if res is None:
        raise AnalysisPending()
    if not res.resolved:
        return None
    own_line = cur.line
    out = []
    for sym in res.symbols:
        if sym.in_file and sym.line == own_line and sym.name.startswith(cur.prefix) and not res.member \
                and sym.name == cur.prefix + cur.tail:
            continue                                                    # the word being typed itself
        out.append(_Cand(sym.name, sym.kind, "member" if res.member else _JEDI_SOURCE.get(sym.kind, "jedi"),
                         0.0, sym.in_file, sym.line, sym.builtin, sym))
    if res.member:
        out += _used_on_receiver(doc, cur, {c.label for c in out})
    return out


USED_ON_RECEIVER_SCORE = 1.0   # structural score of a member only seen used on the same receiver (dev-tuned)


def _used_on_receiver(doc: StructuredDocument, cur: Cursor, have: set[str]) -> list[_Cand]:
    """Members the code uses on the same receiver that the analysis did not list (attributes
    set on instances it cannot infer, by setattr, in a base class it cannot read): for `self.`
    the uses inside the enclosing class, else the document's uses of that receiver name."""
    recv = _receiver(cur.before_word[:-1])
    if not recv:
        return []
    data = doc.data
    start, end = 0, len(data)
    if recv in language_support(doc.language).self_names and doc.tree is not None:
        cls = _innermost_scope(doc, max(cur.word_start - 1, 0), _class_scopes())   # at the dot: inside
        if cls is not None:
            start, end = cls.start_byte, cls.end_byte
    text = decode(data[start:end])
    typed, here = cur.prefix + cur.tail, cur.word_start - start
    found: dict[str, tuple[str, int]] = {}
    for m in re.finditer(r"(?<![\w$.])" + re.escape(recv) + r"\s*\.\s*([\w$]+)(\s*\()?", text):
        name = m.group(1)
        if name in have or m.start(1) == here:
            continue                                                    # listed, or the word being typed
        kind = "method" if m.group(2) else "field"
        old = found.get(name)
        found[name] = (kind if old is None else old[0], m.start(1))
    return [_Cand(name, kind, "used", USED_ON_RECEIVER_SCORE) for name, (kind, _) in found.items()]


_JEDI_SOURCE = {"parameter": "parameter", "keyword": "keyword", "module": "import", "class": "class"}

JAVA_SCOPE_SCORE = {"variable": 3.0, "parameter": 2.8, "field": 2.5, "method": 2.3, "class": 1.5, "module": 1.0}
_JAVA_SOURCE = {"variable": "local", "parameter": "parameter", "class": "class", "module": "import"}


def java_candidates(doc: StructuredDocument, cur: Cursor, ctx: AnalysisContext) -> list[_Cand] | None:
    """Java's statically known names (r1lsp/java): after `receiver.` the members of its resolved
    type (JDK and workspace classes, through supertypes), else the names in scope with the
    grammar's keywords. None when the receiver's type is not resolved (the caller falls back to
    the structure's names)."""
    from r1lsp.java.provider import java_members
    node = doc.tree.root_node.descendant_for_byte_range(max(cur.word_start - 1, 0), cur.offset) \
        if doc.tree is not None else None
    if node is not None and node.type in NO_COMPLETION_NODES and node.start_byte < cur.offset:
        return []
    member = cur.before_word.rstrip().endswith(".")
    try:
        got = java_members(ctx.java_index, doc.data, cur.word_start, cur.word_end,
                           member, ctx.uri, doc.tree)
    except RecursionError:
        got = None
    except Exception:                                                   # a resolver bug must not cost the list
        logging.getLogger(__name__).exception("java type resolution failed; names from the document instead")
        got = None
    if got is None:
        return None
    expected = got.expected.show().split("<")[0] if got.expected is not None else ""
    out = []
    recv = _java_receiver_text(cur.before_word) if member else ""
    same = collections.Counter(re.findall(r"(?<![\w$.])" + re.escape(recv) + r"\s*\.\s*([\w$]+)", doc.text)) \
        if recv else collections.Counter()
    for m in got.members:
        value_type = m.type.show().split("<")[0] if m.type is not None else ""
        if member:
            obj = m.owner == "java.lang.Object" and m.depth > 0
            out.append(_Cand(m.name, m.kind if m.kind in KINDS else "field", "member", 3.0, value_type=value_type,
                             detail=m.detail, depth=min(m.depth, 2), object_member=obj,
                             same_receiver=same.get(m.name, 0), expected_type=expected,
                             shape=0.0 if got.call_arguments is None else
                             (1.0 if m.kind == "method" and m.accepts(got.call_arguments) else -1.0)))
        else:
            out.append(_Cand(m.name, m.kind if m.kind in KINDS else "variable", _JAVA_SOURCE.get(m.kind, "member"),
                             JAVA_SCOPE_SCORE.get(m.kind, 1.0) - 0.3 * min(m.depth, 3), value_type=value_type,
                             detail=m.detail, expected_type=expected))
    if not member:
        have = {c.label for c in out}
        out += [_Cand(kw, "keyword", "keyword", 0.5) for kw in grammar_keywords("java") if kw not in have]
    return out


# A static candidate provider per language: (doc, cursor, context) -> candidates, or None for
# "no answer here" (then the structure's names are used). Languages without one use the
# structure alone.
def _java_receiver_text(before: str) -> str:
    """The receiver before the final `.` when it is a plain name or a dotted path of names
    (`this.items`, `format`); '' for calls and other expressions."""
    # (?<![\w$]): a chain starts where a name starts (else a failed search retries at every
    # character of a long name: quadratic, minutes on a 2 MB line)
    m = re.search(r"(?<![\w$])((?:[A-Za-z_$][\w$]*\s*\.\s*)*[A-Za-z_$][\w$]*)\s*\.\s*$", before)
    return re.sub(r"\s+", "", m.group(1)) if m else ""


PROVIDERS = {"python": python_candidates, "java": java_candidates}


def resolved_candidates(doc: StructuredDocument, cur: Cursor, ctx: AnalysisContext) -> list[_Cand] | None:
    """The language's analysis' candidates at the cursor, None where it has no answer (or not
    within the context's budget)."""
    provider = PROVIDERS.get(doc.language)
    try:
        return provider(doc, cur, ctx.started()) if provider is not None else None
    except AnalysisPending:
        return None


def static_candidates(doc: StructuredDocument, cur: Cursor, ctx: AnalysisContext) -> tuple[list[_Cand], bool]:
    """The candidates at the cursor, and whether the analysis' answer is still pending (then
    they are the structure's names)."""
    provider = PROVIDERS.get(doc.language)
    try:
        cands = provider(doc, cur, ctx) if provider is not None else None
    except AnalysisPending:
        return structure_candidates(doc, cur), True
    return (structure_candidates(doc, cur) if cands is None else cands), False


# ---------------------------------------------------------------------------- ranking

# The list's order: score = sum of weight x feature (`rank_features`). Weights tuned on the dev
# set (bench/completion_quality.py --tune, dev split only); the README gives the figures.
RANK_WEIGHTS = {
    "model": 0.0,              # model log p(rest of the word | text before it): r1-tiny's scores lowered
                               # dev top-5 (43 % vs 53 % static, 30 positions per language), so 0
    # the rest: fitted on 100 dev member positions per language (top-5 Python 56 -> 57 %, Java 61 -> 68 %)
    "structural": 2.0,         # the structure's score (prefix match, scope depth, frequency)
    "in_file": 0.5,            # defined in this document
    "near": 4.0,               # 1/(1+log(1+lines between definition and cursor))
    "frequency": 0.5,          # log(1 + occurrences of the name in the document)
    "private": 0.0,            # _name
    "dunder": -3.0,            # __name__
    "builtin": -0.5,
    "type": 2.0,               # its value has the type the position expects (not varied by the fit)
    "inherited": 0.25,         # member declared by a supertype (x depth, at most 2)
    "object_member": -30.0,    # java.lang.Object's own members (toString, wait, …) after the type's
    "same_receiver": 0.25,      # log(1 + uses of `receiver.name` in the document)
    "member_frequency": 0.0,   # log(1 + occurrences of `.name` in the document) (after a dot)
    "private_on_self": -0.5,    # a _name after self. / this.
    "shape": 2.0,              # +1: a method taking as many arguments as the call after the word has; -1: not (Java)
    "kind_keyword": -0.5, "kind_method": 0.0, "kind_field": 0.0, "kind_function": 0.0,
    "kind_class": 0.0, "kind_variable": 0.0, "kind_parameter": 0.5, "kind_module": 0.0, "kind_model": 0.0,
}


@dataclass
class NameCounts:
    """How often names occur in the document: anywhere, as a member (`.name`), and per
    receiver (`recv.name`)."""
    names: collections.Counter
    members: collections.Counter
    pairs: collections.Counter

    @classmethod
    def of(cls, text: str) -> "NameCounts":
        return _remember(_COUNTS, text, lambda: cls._count(text))

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


def rank_features(c: _Cand, cur: Cursor, counts: NameCounts, model: float | None, type_match: bool) -> dict[str, float]:
    """The features the ranking combines for one candidate."""
    dunder = c.label.startswith("__") and c.label.endswith("__")
    freq = counts.names
    recv = _receiver(cur.before_word[:-1]) if cur.before_word.endswith(".") else None
    f = {"model": model if model is not None else 0.0,
         "structural": c.structural,
         "in_file": float(c.in_file),
         "near": 1.0 / (1.0 + math.log1p(abs(cur.line - c.line))) if c.in_file and c.line is not None else 0.0,
         "frequency": math.log1p(freq.get(c.label, 0)),
         "private": float(c.label.startswith("_") and not dunder),
         "dunder": float(dunder),
         "builtin": float(c.builtin),
         "type": float(type_match),
         "inherited": float(c.depth),
         "object_member": float(c.object_member),
         "same_receiver": math.log1p(c.same_receiver),
         "shape": c.shape,
         f"kind_{c.kind}": 1.0}
    if recv is not None:
        f["same_receiver"] = math.log1p(max(c.same_receiver, counts.pairs.get((recv, c.label), 0)))
        f["member_frequency"] = math.log1p(counts.members.get(c.label, 0))
        f["private_on_self"] = float(f["private"] and recv in _self_names())
    return f


def rank_score(features: dict[str, float], weights: dict[str, float] | None = None) -> float:
    w = RANK_WEIGHTS if weights is None else weights
    return sum(w.get(k, 0.0) * v for k, v in features.items())


# ---------------------------------------------------------------------------- model

def _context_ids(engine, doc: StructuredDocument, end_byte: int, budget: int):
    """[<|lang|>] + the tokens of the text before `end_byte` (at most `budget`, from a window
    start that stays put while the user types: `Engine.encode_window`), with level ids from the
    hierarchy (the language token takes the first text token's units)."""
    data = doc.data
    ids, starts = encode_window(engine, data, end_byte, budget)
    units = doc.hierarchy.unit_ids(starts) if starts else [(0, 0, 0)]
    start_ids = engine.prompts.start(doc.language)
    levels = [units[0]] * len(start_ids) + [tuple(u) for u in units]
    return start_ids + ids, levels


class IdentifierStop:
    """Stop a continuation at the end of the identifier being written (hashable: cacheable)."""

    def __init__(self, word_started: bool):
        self.word_started = word_started

    def __call__(self, text: str) -> int | None:
        if self.word_started:                                           # only identifier characters
            m = re.search(r"[^\w$]", text)
            return m.start() if m else None
        if re.match(r"\s*[^\w$\s]", text):
            return 0                                                    # no identifier comes next
        m = re.search(r"(?<=[\w$])[^\w$]", text)                       # spaces, then one identifier
        return m.start() if m else None

    def __eq__(self, other):
        return isinstance(other, IdentifierStop) and other.word_started == self.word_started

    def __hash__(self):
        return hash(("IdentifierStop", self.word_started))


def _wait(fut, deadline: float):
    try:
        return fut.result(timeout=max(0.0, deadline - time.monotonic()))
    except FutureTimeout:
        fut.cancel()
    except (CancelledError, RuntimeError, ValueError):
        pass
    return None


# ---------------------------------------------------------------------------- complete

DETAILED_ITEMS = 12          # list items that get the analysis' signature / type in `detail`:
DETAIL_BUDGET_S = 0.03      # while this budget lasts (a request with a deadline: until it, at least DETAIL_MIN_S)
DETAIL_MIN_S = 0.005


def complete(doc: StructuredDocument, line: int, character: int, engine=None, *, max_items: int = 50,
             model_continuations: bool = True, timeout: float = 2.0, max_scored: int = 64,
             key: str | None = None, context: AnalysisContext | None = None,
             weights: dict[str, float] | None = None, features_out: list | None = None) -> CompletionResult:
    """The completion list at (line, UTF-16 character). `engine` None or not ready: static
    features only. `timeout` bounds the wait for the model (then the static ranking is used).
    `features_out`, when a list, receives (label, features) of every candidate (for tuning)."""
    cur = cursor_at(doc, line, character)
    if cur is None:
        return CompletionResult([], False)
    ctx = (context or AnalysisContext()).started()
    cands = []
    found, pending = static_candidates(doc, cur, ctx)
    for c in found:
        m = _match(c.label, cur.prefix)
        if m is not None:
            c.structural += m - (0.5 if c.label.startswith("__") else 0.0)     # dunders last
            cands.append(c)
    counts = NameCounts.of(doc.text)
    static = {c.label: rank_features(c, cur, counts, None, False) for c in cands}
    cands.sort(key=lambda c: (-rank_score(static[c.label], weights), c.label))
    expected = _expected_type(doc, cur, ctx, cands)
    w = RANK_WEIGHTS if weights is None else weights
    # the model is asked only when its score counts (its tuned weight may be 0: then the list
    # costs the analysis alone)
    use_model = engine is not None and getattr(engine, "state", None) == "ready" and w.get("model", 0.0) != 0.0
    key = key or f"complete:{id(doc)}"
    scores: dict[str, float] = {}
    resolved_member = cur.before_word.endswith(".") and any(c.symbol is not None or c.detail for c in cands)
    if use_model:
        budget = max(16, min(512, engine.context_tokens - 64))
        deadline = time.monotonic() + timeout
        if model_continuations and not resolved_member:
            word = _continuation(engine, doc, cur, budget, deadline, key)
            if word and word not in {c.label for c in cands}:
                cands.insert(0, _Cand(word, "model", "model", 0.0))
        scores = _model_scores(engine, doc, cur, cands[:max_scored], budget, deadline, key)
    floor = min(scores.values()) - 1.0 if scores else None                 # unscored: below every scored
    items = []
    for c in cands:
        s = scores.get(c.label, floor)
        f = rank_features(c, cur, counts, s, bool(expected) and expected == c.value_type)
        if features_out is not None:
            features_out.append((c.label, f))
        items.append((rank_score(f, weights), c, scores.get(c.label)))
    items.sort(key=lambda t: (-t[0], t[1].label))
    start = (cur.line, cur.character - utf16_len(cur.prefix))
    end = (cur.line, cur.character + utf16_len(cur.tail))
    out = []
    # jedi's signatures / types cost inference: the first items get them within a budget
    lazy = [c for _, c, _ in items[:DETAILED_ITEMS] if c.symbol is not None]
    details = {}
    if lazy:
        from r1lsp import pyanalysis
        until = time.monotonic() + DETAIL_BUDGET_S
        found = pyanalysis.describe_within([c.symbol for c in lazy], until if ctx.deadline is None
                                           else max(ctx.deadline, time.monotonic() + DETAIL_MIN_S))
        details = {id(lazy[i]): d for i, d in found.items()}
    for rank, (total, c, s) in enumerate(items[:max_items]):
        what = details.get(id(c), c.detail)
        score = s if s is not None else total
        how = f"{score:.2f}" if s is not None else f"structure {total:.2f}"
        detail = f"{what} · {c.source} · {how}" if what else f"{c.source} · {how}"
        out.append(CompletionCandidate(c.label, c.kind, detail, total, c.label, start, end, f"{rank:04d}"))
    model_pending = engine is not None and getattr(engine, "state", None) == "loading"
    return CompletionResult(out, is_incomplete=len(items) > max_items or model_pending or pending)


def _expected_type(doc: StructuredDocument, cur: Cursor, ctx: AnalysisContext, cands: list[_Cand],
                   top: int = 20) -> str:
    """The type the position expects (Python: jedi; '' elsewhere), with the `value_type` of
    the `top` best candidates filled in when it is known; Java: as its provider found it)."""
    if doc.language == "java":
        return next((c.expected_type for c in cands if c.expected_type), "")
    if doc.language != "python" or not any(c.symbol is not None for c in cands):
        return ""
    from r1lsp import pyanalysis
    expected = pyanalysis.expected_type_within(doc.text, cur.line, len(cur.before_word), path=ctx.path,
                                               root=ctx.root, env_path=ctx.python_environment, deadline=ctx.deadline)
    if expected:
        typed = [c for c in cands[:top] if c.symbol is not None]
        for i, t in pyanalysis.value_types_within([c.symbol for c in typed], ctx.deadline).items():
            typed[i].value_type = t.split("[")[0].split(".")[-1]
    return expected


def _continuation(engine, doc, cur: Cursor, budget: int, deadline: float, key: str) -> str | None:
    """A short greedy continuation of the word at the cursor (None if the model offers none)."""
    ids, levels = _context_ids(engine, doc, cur.offset, budget)
    fut = engine.submit_generate(key + ":cont", ids, levels, max_new_tokens=8,
                                 stop_fn=IdentifierStop(bool(cur.prefix)), prefix_key=key + "#prefix")
    res = _wait(fut, deadline)
    if res is None:
        return None
    text = res.text if res.text is not None else engine.decode(res.tokens)
    if not cur.prefix:
        text = text.lstrip(" \t")                                       # the cursor is after a non-word char
    m = re.match(r"[\w$]*", text)
    word = cur.prefix + (m.group(0) if m else "")
    return word if word and word != cur.prefix and _IDENT.fullmatch(word) else None


def _model_scores(engine, doc, cur: Cursor, cands: list[_Cand], budget: int, deadline: float,
                  key: str) -> dict[str, float]:
    """log p(rest of each label | context + typed prefix), from one score request."""
    if not cands:
        return {}
    ctx_text_end = cur.word_start
    before = cur.before_word
    ws = before[len(before.rstrip(" \t")):]                            # spaces travel with the word (BPE)
    ctx_end = ctx_text_end - len(ws.encode())
    ids, levels = _context_ids(engine, doc, ctx_end, budget)
    words = [ws + c.label for c in cands] + [ws + cur.prefix]
    fut = engine.submit_score(key + ":score", ids, levels, [engine.encode(w) for w in words],
                              prefix_key=key + "#prefix")
    got = _wait(fut, deadline)
    if got is None:
        return {}
    typed = got[-1] if cur.prefix else 0.0
    return {c.label: float(s) - typed for c, s in zip(cands, got[:-1])}


# ---------------------------------------------------------------------------- output

def format_completions(result: CompletionResult) -> str:
    """Plain-text listing for the CLI: one candidate per line (label, kind, detail)."""
    if not result.items:
        return "(no completions)"
    width = max(len(c.label) for c in result.items)
    rows = [f"{c.label:<{width}}  {c.kind:<9} {c.detail}" for c in result.items]
    c = result.items[0]  # positions 1-based, as the command line counts them
    rows.append(f"-- replaces {c.replace_start[0] + 1}:{c.replace_start[1] + 1}-{c.replace_end[0] + 1}:{c.replace_end[1] + 1}"
                + ("; incomplete" if result.is_incomplete else ""))
    return "\n".join(rows)
