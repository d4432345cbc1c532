"""Candidates of the completion list: the language's analysis (jedi for Python, the type index
for Java) where it answers, else the structure's names (scopes, members seen used on a
receiver, keywords), each with a structural score and the features the ranking reads."""
from __future__ import annotations

import collections
import dataclasses
import logging
import math
import re
import time
from dataclasses import dataclass

from model.structure import StructuredDocument
from model.structure.languages import language_support
from model.structure.text_index import decode
from r1lsp.completion_counts import _IDENT, NameCounts
from r1lsp.completion_names import (KINDS, NO_COMPLETION_NODES, Cursor, _class_body, _class_scopes, _contains,
                                    _innermost_scope, _receiver, _same, cursor_at, document_names, grammar_keywords)


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
    iterable: bool = False             # a for-each loop can iterate its value (Java: an array, an Iterable)
    detail: str = ""                   # signature / declared type (providers without a symbol: Java)
    depth: int = 0                     # members: 0 declared by the receiver's type, 1 its supertype, …
    object_member: bool = False        # a member the root class declares (Java: java.lang.Object's toString, wait, …;
                                       # Python: object's __class__, __eq__, …), inherited
    same_receiver: int = 0             # uses of `receiver.name` in the document, same receiver text (Java)
    expected_type: str = ""            # the type the position expects, as a provider knew it (Java)
    shape: float = 0.0                 # +1 fits the call written after the word (arity), -1 does not (Java)
    receiver_type: str = ""            # members: the receiver's type as the analysis resolved it (Java: binary name)
    owner: str = ""                    # members: the type declaring it (Java: binary name)
    workspace_uses: int = 0            # members: uses of `.name` in the workspace's files (Java index)


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
    keep_late: bool = True             # an answer that misses the deadline is still made (for the next
                                       # request there); False: dropped unless the analysis started it

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
        # `recv.` with nothing after it on its line parses as `recv.<next line's first name>`:
        # that name is no use of a member unless the code has it on `recv` elsewhere too
        glued = re.match(r"\s*\n\s*([\w$]+)", decode(doc.data[cur.offset:cur.offset + 400])) \
            if not cur.tail else None
        glued_name = glued.group(1) if glued and NameCounts.of(doc.text).pairs.get((recv, glued.group(1)), 0) <= 1 else None
        for rname, members in names.uses.items():
            same = rname == recv
            for m, kind in members.items():
                if (m != cur.prefix or freq[m] > 1) and not (same and m == glued_name):
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
    deadline = ctx.deadline
    if deadline is not None and ctx.budget_s is not None and pyanalysis.first_parse_s(doc.text) > ctx.budget_s \
            and not pyanalysis.parsed_before(ctx.path, ctx.root, ctx.python_environment):
        # jedi has not parsed this file yet (just opened) and its first parse alone takes longer
        # than the request's budget: the list does not wait for it (jedi is asked now and its
        # answer kept for the next keystroke, which asks at the same place, same text around the word)
        deadline = min(deadline, time.monotonic())
    try:
        res = pyanalysis.completions_within(doc.text, cur.line, len(cur.before_word), path=ctx.path, root=ctx.root,
                                            env_path=ctx.python_environment, deadline=deadline, keep=ctx.keep_late)
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
        if res.member and sym.kind == "keyword":
            continue                                                    # `x.` then a line starting `if`
        out.append(_Cand(sym.name, sym.kind, "member" if res.member else _JEDI_SOURCE.get(sym.kind, "jedi"),
                         0.0, sym.in_file, sym.line, sym.builtin, sym,
                         # until the declaring class is known (_owners, within the budget): a dunder
                         # from outside the workspace (object's __class__, __annotations__, …)
                         object_member=res.member and sym.builtin and not sym.in_file and _dunder(sym.name)))
    if res.member:
        _owners(out, ctx)
        have = {c.label for c in out}
        if _class_receiver(cur.before_word[:-1], have):                 # jedi lists a class's own names only
            out += [_Cand(n, "field", "member", 0.0, builtin=True) for n in CLASS_ATTRIBUTES if n not in have]
            have.update(CLASS_ATTRIBUTES)
        out += _used_on_receiver(doc, cur, have)
        have = {c.label for c in out}
        name = assigned_name(cur)                                       # `self. = size`: a new attribute
        out += [_Cand(n, "field", "used", USED_ON_RECEIVER_SCORE) for n in (name, "_" + name) if name and n not in have]
    return out


_ASSIGNED = re.compile(r"\s*=(?!=)\s*([A-Za-z_]\w*)\s*(?:#.*)?$")


def assigned_name(cur: Cursor) -> str:
    """The name assigned to the member being written (`self. = size` -> `size`: the attribute is
    often named after it, `size` or `_size`), else ''."""
    m = _ASSIGNED.match(cur.after[len(cur.tail):])
    return m.group(1) if m and cur.before_word.endswith(".") else ""


def _dunder(name: str) -> bool:
    return len(name) > 4 and name.startswith("__") and name.endswith("__")


def _owners(cands: list[_Cand], ctx: AnalysisContext) -> None:
    """Each member's declaring class (`owner`) and, as every candidate's `receiver_type`, the class
    declaring most of them (object's own aside): what the usage prior is looked up by."""
    from r1lsp import pyanalysis
    owners = pyanalysis.owners_within([c.symbol for c in cands], ctx.deadline)
    for i, name in owners.items():
        cands[i].owner = name
        cands[i].object_member = name == "object"                       # object's own (__class__, __eq__, …)
    common = collections.Counter(o for o in owners.values() if o and o != "object").most_common(1)
    if common:
        for c in cands:
            c.receiver_type = common[0][0]


# what every class object has (type's attributes), which jedi leaves out of a class's members
CLASS_ATTRIBUTES = ("__name__", "__qualname__", "__module__", "__dict__", "__doc__", "__mro__", "__bases__")


def _class_receiver(before_dot: str, members: set[str]) -> bool:
    """The receiver is a class object: `x.__class__`, `type(x)`, `cls`, or jedi listed `mro`."""
    text = before_dot.rstrip()
    return text.endswith("__class__") or _receiver(text) == "cls" or re.search(r"\btype\([^()]*\)$", text) is not None \
        or "mro" in members


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
    here = cur.word_start - start
    found: dict[str, tuple[str, int]] = {}
    keywords = set(grammar_keywords(doc.language))
    # the name on the dot's own line: `self.` at a line's end (the word being typed) is no use of `if`
    for m in re.finditer(r"(?<![\w$.])" + re.escape(recv) + r"[ \t]*\.[ \t]*([\w$]+)(\s*\()?", text):
        name = m.group(1)
        if name in keywords:
            continue
        if name in have or m.start() < here <= m.start(1):
            continue            # listed, or the dot is the cursor's (the word typed, or the next line's first)
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
    uses = ctx.java_index.member_uses if ctx.java_index is not None else {}
    for m in got.members:
        value_type = m.type.show().split("<")[0] if m.type is not None else ""
        if expected and expected in m.returns:                          # the overload the position wants (Math.min: int)
            value_type = expected
        if member:
            obj = m.owner == "java.lang.Object" and m.depth > 0
            out.append(_Cand(m.name, m.kind if m.kind in KINDS else "field", "member", 3.0, value_type=value_type,
                             detail=m.detail, depth=min(m.depth, 2), object_member=obj,
                             same_receiver=same.get(m.name, 0), expected_type=expected,
                             shape=0.0 if got.call_arguments is None else
                             (1.0 if m.kind == "method" and m.accepts(got.call_arguments) else -1.0),
                             receiver_type=got.receiver, owner=m.owner, workspace_uses=uses.get(m.name, 0),
                             iterable=m.name in got.iterable))
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
    within the context's budget: the analysis then drops the question unless it started it.
    Ghost text asks here about its own generated text, whose answer serves again only if the
    user types exactly that text; a jedi job started after the ghost text gave up on it held
    jedi's worker for 150-600 ms while the next keystroke's list waited)."""
    provider = PROVIDERS.get(doc.language)
    try:
        return provider(doc, cur, dataclasses.replace(ctx.started(), keep_late=False)) if provider is not None else None
    except AnalysisPending:
        return None


def static_candidates(doc: StructuredDocument, cur: Cursor, ctx: AnalysisContext) -> tuple[list[_Cand], bool]:
    """The candidates at the cursor, and whether the analysis' answer is still pending (then
    they are the structure's names)."""
    provider = PROVIDERS.get(doc.language)
    try:
        if provider is None:
            cands = None
        elif ctx.deadline is None:
            cands = provider(doc, cur, ctx)
        else:
            try:                                                        # asked, and answered if it is ready
                cands = provider(doc, cur, dataclasses.replace(ctx, deadline=time.monotonic()))
            except AnalysisPending:
                document_names(doc)         # the names a list falls back on, counted while the analysis works
                cands = provider(doc, cur, ctx)
    except AnalysisPending:
        return structure_candidates(doc, cur), True
    return (structure_candidates(doc, cur) if cands is None else cands), False


def start_analysis(doc: StructuredDocument, ctx: AnalysisContext) -> None:
    """Queue the language's parse of an opened or edited text (cheap: called on the event loop,
    so that it is queued before anything a list there asks the analysis: a file's first parse
    waits for the lists that follow its opening, `pyanalysis.prewarm`, where the list's own
    question would start it at once and share the GIL with that list)."""
    if doc.language == "python":
        from r1lsp import pyanalysis
        pyanalysis.prewarm(doc.text, path=ctx.path, root=ctx.root, env_path=ctx.python_environment)


def prepare(doc: StructuredDocument, ctx: AnalysisContext, cursor: tuple[int, int] | None = None,
            names: bool = False) -> None:
    """Start what the next list at this document needs before it is asked (an opened or edited
    document, after `start_analysis`): at a `cursor` (line, UTF-16 column) right after a `.`
    the analysis starts on the members there; `names`: the name counts (and where the analysis
    may not answer in time, the structure's names) are made now (a document just opened)."""
    if doc.language == "python":
        from r1lsp import pyanalysis
        cur = cursor_at(doc, *cursor) if cursor is not None else None
        if cur is not None and cur.before_word.endswith("."):
            try:
                pyanalysis.completions_within(doc.text, cur.line, len(cur.before_word), path=ctx.path,
                                              root=ctx.root, env_path=ctx.python_environment,
                                              deadline=time.monotonic())
            except pyanalysis.EnvironmentError_:
                pass
    if names:
        if doc.language == "python":       # its first list answers from them while jedi parses
            document_names(doc)
        NameCounts.of(doc.text)


def prepare_names(doc: StructuredDocument) -> None:
    """Make the structure's names of an edited text ahead of the list that may fall back on them."""
    document_names(doc)

