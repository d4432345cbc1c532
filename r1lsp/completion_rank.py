"""The completion list's ranking: a weighted sum of features per candidate (model score,
structure, nearness, frequency, expected type, …), weights tuned on the dev set."""
from __future__ import annotations

import bisect
import collections
import dataclasses
import functools
import json
import math
import re
import time
from dataclasses import dataclass
from importlib import resources

from model.structure import StructuredDocument
from model.structure.text_index import decode
from r1lsp.usage_prior import UsagePrior, usage_prior
from r1lsp.completion_candidates import AnalysisContext, _Cand, assigned_name
from r1lsp.completion_counts import _IDENT, NameCounts
from r1lsp.completion_names import Cursor, _receiver, _self_names

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
    "object_member": -30.0,    # the root class's own members (Java Object's toString, wait, …; Python object's
                               # __class__, __eq__, …) after the type's (a rule: not varied by the fits)
    "same_receiver": 0.25,      # log(1 + uses of `receiver.name` in the document)
    "member_frequency": 0.0,   # log(1 + occurrences of `.name` in the document) (after a dot)
    "private_on_self": -0.5,    # a _name after self. / this.
    "shape": 2.0,              # +1: a method taking as many arguments as the call after the word has; -1: not (Java)
    # after a dot (0 here; LANGUAGE_WEIGHTS sets them per language):
    "recent": 0.0,             # 1/(1+log(1+lines since `.name` was last written before the cursor))
    "usage": 0.0,              # log(1 + uses of `receiver_type.name` in the usage prior (JDK / stdlib code))
    "usage_share": 0.0,        # that count / all member uses of the type counted
    "usage_known": 0.0,        # the prior counted the receiver's type
    "usage_name": 0.0,         # log(1 + uses of `.name` on any receiver in the prior's code)
    "call_fit": 0.0,           # a call follows the word: +1 callable, -1 not
    "void_in_expression": 0.0,  # a void method inside an expression / condition
    "void_statement": 0.0,     # a void method where the statement starts
    "bool_condition": 0.0,     # a boolean member in a condition (`if (x.`, `!x.`, `&&`)
    "on_line": 0.0,            # the name is written elsewhere on the line (`this. = name;`, `a.x == b.`)
    "assigned_name": 0.0,      # the member is assigned a name spelled as it, leading _ aside (`self. = size`: _size)
    # uses around the cursor (RankContext.uses: WINDOW_LINES before and after it, either side counts):
    "near_use": 0.0,           # 1/(1+log(1+lines to the nearest `.name`, before or after the cursor))
    "near_same": 0.0,          # the same for `receiver.name` (the receiver's last name, as written here)
    "in_function": 0.0,        # log(1 + uses of `.name` in the enclosing function / method)
    "in_class": 0.0,           # log(1 + uses of `receiver.name` in the enclosing class)
    "function_name": 0.0,      # the name is the enclosing function's own (`super().__eq__` in `__eq__`)
    "own_class": 0.0,          # after self. / this.: defined in the enclosing class (not inherited)
    "declared": 0.0,           # declared by the receiver's own type (not a base class / object)
    "workspace_uses": 0.0,     # log(1 + uses of `.name` in the workspace's files) (Java: its index)
    "follow_match": 0.0,       # log(1 + uses of `.name` followed by the character that follows the word here)
    "follow_same": 0.0,        # the same, on the same receiver
    "prev_match": 0.0,         # log(1 + uses of `receiver.name` after the same token as here (`if`, `=`, `(`))
    "follow_chain": 0.0,       # log(1 + uses of `.name.next` where `.next` follows the word here)
    "iterable_for": 0.0,       # an array / Iterable (Java: the resolver's types) where a for-each loop iterates
    "branch_tested": 0.0,      # another alternative of the same choice tests it (`case X.A:` ... `case X.`)
    "line_subtokens": 0.0,     # share of the name's words (camelCase / snake_case) in the line's other names
    "around_subtokens": 0.0,   # share of the name's words in the words of the AROUND_LINES lines around the cursor's
                               # (`_matchTrue();` then `t = JsonToken.` → VALUE_TRUE)
    "function_subtokens": 0.0,  # share of the name's words in the enclosing function's name
    "kind_keyword": -0.5, "kind_method": 0.0, "kind_field": 0.0, "kind_function": 0.0,
    "kind_class": 0.0, "kind_variable": 0.0, "kind_parameter": 0.5, "kind_module": 0.0, "kind_model": 0.0,
}


@dataclass
class RankContext:
    """What the ranking knows about the position, computed once per request: the document's
    name counts, the receiver before `.`, where the member is written (statement start,
    condition, other expression), whether a call follows the word, the last line before the
    cursor each `.name` was used on, and the language's usage prior."""
    counts: NameCounts
    receiver: str | None                   # the name before `.` (None: not after a dot)
    receiver_type: str                     # what the usage prior knows it as ('' unknown; Java: per candidate)
    place: str                             # statement | condition | expression
    call_follows: bool
    last_use: dict[str, int]
    prior: UsagePrior
    line: int
    line_names: frozenset[str]             # identifiers elsewhere on the cursor's line (`this. = name;`)
    uses: "WindowUses | None" = None       # member uses around the cursor (after a dot)
    for_each: bool = False                 # the expression is what a for-each loop iterates
    language: str = ""
    assigned: str = ""                     # the name assigned to the member (`self. = size`), else ''
    tested: frozenset[str] = frozenset()   # names the choice's other alternatives test (branch_tested)

    @classmethod
    def of(cls, doc: StructuredDocument, cur: Cursor) -> "RankContext":
        member = cur.before_word.endswith(".")
        recv = _receiver(cur.before_word[:-1]) if member else None
        chain = _CHAIN_END.search(cur.before_word)
        lead = cur.before_word[:chain.start()] if chain else cur.before_word
        place = "statement" if not lead.strip() or lead.rstrip().endswith((";", "{", "}", ":", "->")) and \
            not lead.rstrip().endswith("::") else \
            "condition" if _CONDITION.search(lead) else "expression"
        last_use: dict[str, int] = {}
        if member:
            start = doc.offset_at(max(0, cur.line - RECENT_LINES), 0)
            before = decode(doc.data[start:cur.word_start])
            first = cur.line - before.count("\n")
            for m in _MEMBER_USE.finditer(before):
                last_use[m.group(1)] = m.start()
            if last_use:                                                # offsets -> lines, one pass
                nl = [i for i, ch in enumerate(before) if ch == "\n"]
                last_use = {k: first + bisect.bisect_left(nl, v) for k, v in last_use.items()}
        rtype = _python_receiver_type(doc.text, recv) if doc.language == "python" and recv else ""
        line_names = frozenset(_IDENT.findall(cur.before_word) + _IDENT.findall(cur.after[len(cur.tail):]))
        uses = WindowUses.of(doc, cur, recv) if member else None
        return cls(NameCounts.of(doc.text), recv, rtype, place, cur.after.lstrip().startswith("("),
                   last_use, usage_prior(doc.language), cur.line, line_names, uses,
                   _FOR_EACH.search(lead) is not None, doc.language, assigned_name(cur) if member else "",
                   branch_tested(doc, cur.word_start - 1) if member else frozenset())


WINDOW_LINES = 200
_PAIR_USE = re.compile(r"(?:(?<![\w$])([\w$]+)|\))?\s*\.\s*([A-Za-z_$][\w$]*)")
_SUBTOKEN = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")


def subtokens(name: str) -> frozenset[str]:
    """The words of an identifier (camelCase, snake_case, ACRONYMS), lower case, 2+ letters."""
    return frozenset(t.lower() for t in _SUBTOKEN.findall(name) if len(t) > 1)


def _prev_token(text: str, i: int) -> str:
    """The token before text[i] on its line: a name (`return`, `if`), else its last non-blank
    character ('' at the line's start)."""
    while i > 0 and text[i - 1] in " \t":
        i -= 1
    j = i
    while j > 0 and (text[j - 1].isalnum() or text[j - 1] in "_$"):
        j -= 1
    return text[j:i] if j < i else text[i - 1] if i > 0 and text[i - 1] not in "\r\n" else ""


def _next_token(text: str, i: int) -> str:
    """The first non-blank character from text[i] on its line ('' at the line's end)."""
    n = len(text)
    while i < n and text[i] in " \t":
        i += 1
    return text[i] if i < n and text[i] not in "\r\n" else ""


@dataclass
class WindowUses:
    """The member uses (`receiver.name`) within WINDOW_LINES lines before and after the cursor
    (bounded work per request: no pass over the whole document), with the enclosing function's
    and class's line ranges and the function's name."""
    lines: dict[str, list[int]]            # name -> lines of `.name`, the cursor's word excluded
    same: dict[str, list[int]]             # name -> lines of `receiver.name`
    function: tuple[int, int] | None       # lines of the enclosing function / method
    function_name: str
    klass: tuple[int, int] | None          # lines of the enclosing class
    self_receiver: bool                    # the receiver is self / cls / this
    follow: collections.Counter            # name -> uses followed by the character after the word here
    follow_same: collections.Counter       # the same on the same receiver
    prev: collections.Counter              # name -> uses of `receiver.name` after the token before it here
    line_words: frozenset[str]             # the words of the line's other names
    chain: collections.Counter = dataclasses.field(default_factory=collections.Counter)
    # name -> uses of `.name.next` where `.next` follows the word here (`x..__name__`: `__class__`)
    around_words: frozenset[str] = frozenset()     # the words of the names on the lines around the cursor's

    @classmethod
    def of(cls, doc: StructuredDocument, cur: Cursor, recv: str | None) -> "WindowUses":
        first = max(0, cur.line - WINDOW_LINES)
        start = doc.offset_at(first, 0)
        end = max(doc.offset_at(cur.line + WINDOW_LINES, 0), cur.word_end)       # clamped at the end
        before = decode(doc.data[start:cur.word_start])
        text, cut = before + decode(doc.data[cur.word_end:end]), len(before)
        nl = [i for i, ch in enumerate(text) if ch == "\n"]
        lines: dict[str, list[int]] = {}
        same: dict[str, list[int]] = {}
        follow, follow_same, prev = collections.Counter(), collections.Counter(), collections.Counter()
        chain_count = collections.Counter()
        after = _next_token(text, cut)                                  # '' (nothing after the word): unused
        then = _NEXT_MEMBER.match(text, cut)
        then = re.compile(r"\s*\.\s*" + re.escape(then.group(1)) + r"(?![\w$])") if then else None
        chain = _RECEIVER_END.search(before)
        before_recv = _prev_token(before, chain.start()) if chain else None
        for m in _PAIR_USE.finditer(text):
            at = m.start(2)
            if m.start() < cut <= at:
                continue                        # the cursor's own dot (its word, or the next line's first name)
            ln = first + bisect.bisect_left(nl, at)
            name = m.group(2)
            lines.setdefault(name, []).append(ln)
            on_recv = bool(recv) and m.group(1) == recv
            if on_recv:
                same.setdefault(name, []).append(ln)
                if before_recv is not None and _prev_token(text, m.start()) == before_recv:
                    prev[name] += 1
            if after and _next_token(text, m.end()) == after:
                follow[name] += 1
                follow_same[name] += on_recv
                if then is not None and then.match(text, m.end()):
                    chain_count[name] += 1
        function, fname, klass = _enclosing(doc, max(cur.word_start - 1, 0))
        line = cur.before_word[:max(0, chain.start() - len(before) + len(cur.before_word))] if chain else cur.before_word
        words = frozenset().union(*map(subtokens, _IDENT.findall(line + " " + cur.after[len(cur.tail):])))
        return cls(lines, same, function, fname, klass, bool(recv) and recv in _self_names(),
                   follow, follow_same, prev, words, chain_count, around_words(doc, cur.line))

    def features(self, c: _Cand, line: int) -> dict[str, float]:
        f = {}
        near = lambda ls: min(abs(x - line) for x in ls) if ls else None
        d = near(self.lines.get(c.label))
        f["near_use"] = 1.0 / (1.0 + math.log1p(d)) if d is not None else 0.0
        d = near(self.same.get(c.label))
        f["near_same"] = 1.0 / (1.0 + math.log1p(d)) if d is not None else 0.0
        if self.function is not None:
            a, b = self.function
            f["in_function"] = math.log1p(sum(a <= x <= b for x in self.lines.get(c.label, ())))
        if self.klass is not None:
            a, b = self.klass
            f["in_class"] = math.log1p(sum(a <= x <= b for x in self.same.get(c.label, ())))
            if self.self_receiver:
                f["own_class"] = float(c.in_file and c.line is not None and a <= c.line <= b
                                       if c.symbol is not None else c.depth == 0 and bool(c.receiver_type))
        f["function_name"] = float(c.label == self.function_name)
        f["follow_match"] = math.log1p(self.follow.get(c.label, 0))
        f["follow_same"] = math.log1p(self.follow_same.get(c.label, 0))
        f["prev_match"] = math.log1p(self.prev.get(c.label, 0))
        f["follow_chain"] = math.log1p(self.chain.get(c.label, 0))
        words = subtokens(c.label)
        if words:
            f["line_subtokens"] = len(words & self.line_words) / len(words)
            f["around_subtokens"] = len(words & self.around_words) / len(words)
            f["function_subtokens"] = len(words & subtokens(self.function_name)) / len(words)
        return f


AROUND_LINES = (2, 1)       # lines before and after the cursor's whose words `around_subtokens` reads (dev-chosen)


@functools.cache
def _statement_keywords(language: str) -> frozenset[str]:
    """The language's keywords but its literals (`for`, `new`, `in`; not `true`, `null`, `None`)."""
    from r1lsp.completion_names import LITERAL_KEYWORDS, grammar_keywords
    return frozenset(grammar_keywords(language)) - frozenset(LITERAL_KEYWORDS.get(language, ()))


def around_words(doc: StructuredDocument, line: int, around: tuple[int, int] = AROUND_LINES) -> frozenset[str]:
    """The words (`subtokens`) of the names and literals' words on the `around[0]` lines before
    `line` and the `around[1]` lines after it (not on it); keywords other than literals left out
    (`for (` says nothing of `waitFor`)."""
    before, after = around
    text = decode(doc.data[doc.offset_at(max(0, line - before), 0):doc.offset_at(line, 0)]) + "\n" + \
        decode(doc.data[doc.offset_at(line + 1, 0):doc.offset_at(line + 1 + after, 0)])
    keywords = _statement_keywords(doc.language)
    return frozenset().union(*(subtokens(n) for n in _IDENT.findall(text) if n not in keywords))


def _enclosing(doc: StructuredDocument, offset: int):
    """The enclosing function's (lines, name) and the enclosing class's lines: the innermost
    named non-class scope and class scope of the language's locals query."""
    if doc.tree is None:
        return None, "", None
    from model.structure.languages import language_support
    support = language_support(doc.language)
    node = doc.tree.root_node.descendant_for_byte_range(offset, offset)
    function = klass = None
    name = ""
    while node is not None and klass is None:
        if node.type in support.class_scopes:
            klass = node
        elif function is None and node.type in support.scopes:
            n = node.child_by_field_name("name")
            if n is not None:
                function, name = node, decode(doc.data[n.start_byte:n.end_byte])
        node = node.parent
    lines = lambda n: (n.start_point[0], n.end_point[0]) if n is not None else None
    return lines(function), name, lines(klass)


RECENT_LINES = 200
_RECEIVER_END = re.compile(r"(?:(?<![\w$])[\w$]+|\))\s*\.$")       # the receiver's last part and its dot
_CHAIN_END = re.compile(r"(?<![\w$.])[\w$]+(?:\s*(?:\.\s*[\w$]+|\([^()]*\)|\[[^\[\]]*\]))*\s*\.$")
_CONDITION = re.compile(r"(?:\b(?:if|while|elif|assert|not)\s*\(?|&&|\|\||!|\b(?:and|or)\s+)\s*$")
_MEMBER_USE = re.compile(r"\.\s*([A-Za-z_$][\w$]*)")
_NEXT_MEMBER = re.compile(r"[ \t]*\.[ \t]*([A-Za-z_$][\w$]*)")           # `.next` right after the word
_FOR_EACH = re.compile(r"\bfor\s*\([^;()]*:\s*$|\bfor\s+[\w\s,()]+\bin\s+$")    # Java `for (T x :`, Python `for x in`


BRANCH_WINDOW = 4000        # bytes around the cursor whose choices are read (a switch's labels, an if chain)


@functools.cache
def _branches_query(language: str):
    """The language's queries/<language>/branches.scm, None where it has none."""
    from model.structure.languages import QueryError, language_query
    try:
        return language_query(language, "branches")
    except (QueryError, OSError):
        return None


def branch_tested(doc: StructuredDocument, dot: int) -> frozenset[str]:
    """The names (`@branch.name`) that the other alternatives of the choice whose test holds byte
    `dot` compare with: `case Node.ELEMENT_NODE:` ... `case Node.` has ELEMENT_NODE handled, and an
    `else if (t == Token.)` the constants of the conditions before it (branches.scm)."""
    q = _branches_query(doc.language) if doc.tree is not None else None
    if q is None:
        return frozenset()
    from tree_sitter import QueryCursor
    qc = QueryCursor(q)
    qc.set_byte_range(max(0, dot - BRANCH_WINDOW), dot + BRANCH_WINDOW)
    root: dict = {}

    def find(k):
        while root.setdefault(k, k) != k:
            root[k] = root[root[k]]
            k = root[k]
        return k

    tests, names = {}, []
    for _, caps in qc.matches(doc.tree.root_node):
        for t in caps.get("branch.test", ()):
            k = (t.start_byte, t.end_byte)
            tests[k] = t
            for c in caps.get("branch.chain", ()):
                root[find(k)] = find((c.start_byte, c.end_byte, c.type))
        names += [(n.start_byte, n) for n in caps.get("branch.name", ())]
    here = min((k for k in tests if k[0] < dot <= k[1]), key=lambda k: k[1] - k[0], default=None)
    if here is None:
        return frozenset()
    others = [k for k in tests if k != here and find(k) == find(here)]
    return frozenset(decode(n.text) for at, n in names if any(a <= at < b for a, b in others))


def _python_receiver_type(text: str, recv: str) -> str:
    """The usage prior's name for a Python receiver where a cheap rule knows it: an imported
    module (`module:os`), a name the module assigns a literal / a builtin's or class's call.
    Both searches start at a literal (`import`, the receiver's name), which the regex engine
    finds at C speed; the line start / the name's start are checked after."""
    esc = re.escape(recv)
    for m in re.finditer(rf"import[ \t]+([\w.]+)(?:[ \t]+as[ \t]+({esc}))?[ \t]*$", text, re.M):
        if text[text.rfind("\n", 0, m.start()) + 1:m.start()].strip():
            continue                                                    # `from x import`, not at the line start
        name = m.group(1)
        if m.group(2) or name == recv or name.startswith(recv + "."):
            return "module:" + (name if m.group(2) else recv)
    kinds = set()
    for m in re.finditer(rf"{esc}\s*=(?!=)\s*(\[|\{{|[rbf]?[\"']|\d|([A-Za-z_]\w*)\()", text):
        if m.start() and (text[m.start() - 1].isalnum() or text[m.start() - 1] in "_."):
            continue                                                    # a longer name / an attribute
        k = m.group(1)
        kinds.add("list" if k == "[" else "dict" if k == "{" else "int" if k.isdigit() else
                  "bytes" if k.startswith("b") else "str" if m.group(2) is None else m.group(2))
    return kinds.pop() if len(kinds) == 1 else ""


def rank_features(c: _Cand, cur: Cursor, rc: RankContext, model: float | None, type_match: bool) -> dict[str, float]:
    """The features the ranking combines for one candidate."""
    dunder = c.label.startswith("__") and c.label.endswith("__")
    counts = rc.counts
    freq = counts.names
    recv = rc.receiver
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
        last = rc.last_use.get(c.label)
        f["recent"] = 1.0 / (1.0 + math.log1p(rc.line - last)) if last is not None else 0.0
        rtype = rc.receiver_type or c.receiver_type
        used, share = rc.prior.of_type(rtype, c.label) if rtype else (0.0, 0.0)
        if c.object_member and rc.language in OBJECT_USED_APART and share >= OBJECT_USED_SHARE:
            f["object_member"] = 0.0                                    # `Class.equals`: this type's code uses it
        if c.owner and c.owner != rtype:                                # the declaring class's counts
            used, share = max((used, share), rc.prior.of_type(c.owner, c.label))
        f["usage"], f["usage_share"] = used, share
        f["workspace_uses"] = math.log1p(c.workspace_uses)
        f["declared"] = float(bool(c.owner) and c.owner == rtype if c.symbol is not None
                              else bool(c.receiver_type) and c.depth == 0)
        f["usage_known"] = float(bool(rtype) and rtype in rc.prior.types)
        f["usage_name"] = rc.prior.of_name(c.label)
        callable_ = c.kind in ("method", "function", "class")
        f["call_fit"] = (1.0 if callable_ else -1.0) if rc.call_follows else 0.0
        void = c.value_type == "void"
        f["void_in_expression"] = float(void and rc.place != "statement")
        f["void_statement"] = float(void and rc.place == "statement")
        f["bool_condition"] = float(rc.place == "condition" and c.value_type == "boolean")
        f["on_line"] = float(c.label in rc.line_names)
        f["assigned_name"] = float(bool(rc.assigned) and c.label.lstrip("_") == rc.assigned.lstrip("_"))
        f["iterable_for"] = float(rc.for_each and c.iterable)
        f["branch_tested"] = float(c.label in rc.tested)
        if rc.uses is not None:
            f.update(rc.uses.features(c, rc.line))
            if f["branch_tested"] and "around_subtokens" in f:
                f["around_subtokens"] = 0.0         # the lines around name it as another alternative's test
        if rc.language in SELF_APART and recv in _self_names():   # after self.: every feature again, weighed apart
            f.update({k + ON_SELF: v for k, v in f.items() if k != "model"})
    return f


# Java's rule "Object's own members last" spares one that the usage prior counts at this share
# or more of the receiver type's own member uses (`Class.equals` 4 %, `Exception.getClass` 12 %;
# `wait`, `notify`, `hashCode` stay last on nearly every type); dev-chosen
OBJECT_USED_SHARE = 0.02
OBJECT_USED_APART = frozenset({"java"})


ON_SELF = "@self"           # suffix of the features' copies after self. / cls. (their weights fitted apart)
# the languages whose lists after self. get those copies: Python (dev, held out by repository:
# 80.7 -> 81.5 %; Java's `this.` 93.8 -> 93.5 %, left out)
SELF_APART = frozenset({"python"})


# Per language, what differs from RANK_WEIGHTS (fitted on the dev split of that language:
# bench/tune_completion.py --ranking).
# Fitted on 300 dev positions per language (top-5 in-process, static ranking: Python 54 -> 70 %,
# Java 82 -> 90 %; a fit on half the positions holds on the other half within ~1-3 points);
# README has the figures over LSP.
LANGUAGE_WEIGHTS: dict[str, dict[str, float]] = {
    "python": {"builtin": -1.0, "call_fit": 4.0, "dunder": 0.0, "in_file": -1.0, "kind_field": 0.25,
               "kind_method": -1.0, "member_frequency": 0.5, "private_on_self": 0.5, "recent": 0.5, "usage": 1.0,
               # not in rank-weights.json's fit (a refit with it: held out by repository 85.6 vs 85.7 % without):
               # chosen on dev, served top-5 / top-1 84.1 / 47.9 % at 0, 84.3 / 48.2 at 0.5, 84.5 / 48.0 at 1
               "around_subtokens": 1.0},
    "java": {"frequency": 1.0, "inherited": -0.5, "kind_field": 1.0, "member_frequency": 0.25, "same_receiver": -0.5,
             "type": 2.0, "usage": 0.25, "usage_share": 0.25, "void_statement": -0.25, "call_fit": 0.5, "on_line": 0.5,
             # not in rank-weights.json's fit (4 of 1,000 dev lists have it): chosen on dev, served
             # top-5 95.0 % at 0 / -1, 95.2 % at -2 / -4, 95.1 % at -8
             "branch_tested": -2.0,
             # not in rank-weights.json's fit: chosen on dev (1,000 positions, served top-5 / top-1 95.2 / 70.4 % at
             # 0; 95.9 / 70.5 at 1, 96.0 / 70.3 at 1.5, 95.9 / 69.7 at 2, 96.2 / 68.8 at 2.5) and the probe
             # repositories (94.3 / 70.7 % at 0; 95.5 / 71.7 at 1.5, 95.9 / 71.3 at 2.5): 1.5 keeps top-1;
             # the lines around: 2 before and 1 after (at 2.5: dev 96.2, probe 95.9 %) over 2 / 0 (95.8, 95.5 %)
             "around_subtokens": 1.5},
}


MEMBER_WEIGHTS_FILE = "rank-weights.json"


@functools.cache
def member_weights() -> dict[str, dict[str, float]]:
    """Per language, the weights of a list after `receiver.`: a linear ranker trained pairwise on
    the dev split's member positions (bench/tune_completion.py --ranking --write writes the file,
    with how it was fitted and what it scored)."""
    try:
        raw = resources.files("r1lsp").joinpath(MEMBER_WEIGHTS_FILE).read_text("utf-8")
    except (FileNotFoundError, OSError):
        return {}
    out = {}
    for lang, got in json.loads(raw).get("languages", {}).items():
        out[lang] = got["weights"]
        if "names" in got:
            out[lang + NAMES] = got["names"]["weights"]
    return out


NAMES = "/names"                           # member_weights' key suffix of a list made of the file's names


@functools.cache
def member_net(language: str):
    """The language's neural ranker of a list after `receiver.` that the analysis made (a
    RankNet: r1lsp/completion_net.py), where rank-weights.json has one (the tuner ships it only
    where it beat the linear ranker on dev code held out by repository); else None."""
    try:
        raw = json.loads(resources.files("r1lsp").joinpath(MEMBER_WEIGHTS_FILE).read_text("utf-8"))
    except (FileNotFoundError, OSError):
        return None
    net = raw.get("languages", {}).get(language, {}).get("net")
    if net is None:
        return None
    from r1lsp.completion_net import RankNet
    return RankNet.from_json(net)


def weights_for(language: str, member: bool = False, names: bool = False) -> dict[str, float]:
    """The weights of a list in `language`; `member`: after `receiver.` (the fitted member ranker);
    `names`: that list is made of the file's names (the analysis pending or not resolving the
    receiver), ranked by weights fitted on such lists where there are."""
    base = {**RANK_WEIGHTS, **LANGUAGE_WEIGHTS.get(language, {})}
    if not member:
        return base
    fitted = member_weights()
    return {**base, **fitted.get(language + NAMES if names and language + NAMES in fitted else language, {})}


def rank_score(features: dict[str, float], weights: dict[str, float] | None = None) -> float:
    w = RANK_WEIGHTS if weights is None else weights
    return sum(w.get(k, 0.0) * v for k, v in features.items())


def _expected_type(doc: StructuredDocument, cur: Cursor, ctx: AnalysisContext, cands: list[_Cand],
                   top: int = 20) -> str:
    """The type the position expects (Python: jedi; '' elsewhere), with the `value_type` of
    the `top` best candidates filled in when it is known; Java: as its provider found it)."""
    if doc.language == "java":
        return next((c.expected_type for c in cands if c.expected_type), "")
    if doc.language != "python":
        return ""
    from r1lsp import pyanalysis
    ask = functools.partial(pyanalysis.expected_type_within, doc.text, cur.line, len(cur.before_word), path=ctx.path,
                            root=ctx.root, env_path=ctx.python_environment)
    if not any(c.symbol is not None for c in cands):
        # jedi's names are still pending (this list is the file's names): start its answer for
        # this position now, unwaited, so that the next keystroke of the word finds it ready
        ask(deadline=time.monotonic())
        return ""
    expected = ask(deadline=ctx.deadline)
    if expected:
        typed = [c for c in cands[:top] if c.symbol is not None]
        for i, t in pyanalysis.value_types_within([c.symbol for c in typed], ctx.deadline).items():
            typed[i].value_type = t.split("[")[0].split(".")[-1]
    return expected
