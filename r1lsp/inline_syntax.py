"""Ghost text's syntax: where a generation stops and what of it may be shown.

`BlockStop` ends a generation at the end of the enclosing unit (see r1lsp.inline's docstring),
over `_scan`'s walk of code that skips strings and comments; `bracket_context` tells whether the
cursor is at statement level. After generation, `dedupe_suffix` drops a tail that repeats the
text after the cursor and `syntactic_prefix` cuts a suggestion to its longest start that adds no
tree-sitter error (`adds_syntax_error`, re-parsing incrementally from a copy of the tree).
"""
from __future__ import annotations

import collections
import re
import threading

from r1lsp.completion_names import _is_ident_char
from model.structure import StructuredDocument
from model.structure.languages import language_support
from model.structure.text_index import decode, utf8_bytes

# ---------------------------------------------------------------------------- scanning

_COMMENT = {"python": "#", "java": "//"}
_CLOSE = {")": "(", "]": "[", "}": "{"}


def _scan(text: str, language: str, on_char=None, stack: list[str] | None = None,
          open_end: list | None = None, on_comment=None) -> list[str]:
    """Walk code text skipping strings and comments; return the open-bracket stack at the end
    (starting from `stack`). `on_char(i, c, stack)` is called for every code character and may
    return a stop index; so may `on_comment(i)` where a comment starts. `open_end` gets an entry
    when the text ends inside a string or comment."""
    stack = [] if stack is None else stack
    comment = _COMMENT.get(language, "#")
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if on_comment is not None and (text.startswith(comment, i) or language == "java" and text.startswith("/*", i)):
            stop = on_comment(i)
            if stop is not None:
                raise _Stop(stop)
        if language == "java" and text.startswith("/*", i):
            end = text.find("*/", i + 2)
            if end < 0:
                return _open(stack, open_end)
            i = end + 2
            continue
        if text.startswith(comment, i):
            end = text.find("\n", i)
            if end < 0:
                return _open(stack, open_end)
            i = end                                                    # the newline still counts
            continue
        if c in "\"'":
            q = text[i:i + 3] if language == "python" and text[i:i + 3] in ('"""', "'''") else c
            j = i + len(q)
            while j < n and not text.startswith(q, j):
                if text[j] == "\\":
                    j += 1
                elif text[j] == "\n" and len(q) == 1:
                    break                                              # unterminated one-line string
                j += 1
            if j >= n:
                return _open(stack, open_end)
            i = j + len(q) if text.startswith(q, j) else j
            continue
        if on_char is not None:
            stop = on_char(i, c, stack)
            if stop is not None:
                raise _Stop(stop)
        if c in "([{":
            stack.append(c)
        elif c in _CLOSE and stack and stack[-1] == _CLOSE[c]:
            stack.pop()
        i += 1
    return stack


def _open(stack: list[str], open_end: list | None) -> list[str]:
    if open_end is not None:
        open_end.append(True)
    return stack


class _Stop(Exception):
    def __init__(self, index: int):
        self.index = index


def before_comment(text: str, language: str) -> str:
    """`text` up to its first comment (outside strings), trailing blanks dropped; `text` itself
    when it has none. The model's ghost text keeps only code: r1-tiny's comments are junk more
    often than not (` # type: ignore[str]` after `return` passed the gate at 13 of
    samples/inventory.py's positions, Java licence prose at others)."""
    try:
        _scan(text, language, on_comment=lambda i: i)
    except _Stop as stop:
        return text[:stop.index].rstrip()
    return text


class BlockStop:
    """Stop rule for ghost text (see the module docstring). Hashable, so the engine can cache
    generations that used it. `indent` is the indentation of the cursor's line (Python);
    `line_has_code` whether code precedes the cursor on its line; `line_rest` whether text
    follows it there (the cursor is inside the line: a suggestion ends with that line, at its
    first newline outside strings and comments, since inserting one would split the line).
    `line_end`: the cursor ends a line of code (code before it, nothing after it): the suggestion
    is the rest of that line, as full-line completion offers it: it ends at its first newline
    after code of its own (`if (n > 0` -> `) {`, not `)`: the bracket the cursor is in closing does
    not end it there); a start on a new line (`g(a,` -> `\n      b)`) keeps the rules above. Dev
    split (Java, the model's plain prompt): `) {` / `() {` were cut to `)` / `()` before."""

    def __init__(self, language: str, at_statement: bool, indent: int = 0, line_has_code: bool = False,
                 line_rest: bool = False, line_end: bool = False):
        self.language, self.at_statement = language, at_statement
        self.indent, self.line_has_code, self.line_rest = indent, line_has_code, line_rest
        self.line_end = line_end

    def _key(self):
        return (self.language, self.at_statement, self.indent, self.line_has_code, self.line_rest, self.line_end)

    def __eq__(self, other):
        return isinstance(other, BlockStop) and other._key() == self._key()

    def __hash__(self):
        return hash(("BlockStop",) + self._key())

    def __call__(self, text: str) -> int | None:
        """The index to cut `text` at when the enclosing unit has ended, else None."""
        lang = self.language
        state = {"depth": 0, "opened_block": False, "header_indent": None,
                 "line_start": 0, "line_code": self.line_has_code}
        # the cursor ends a line of code and the suggestion starts on it: the line's rest
        rest_of_line = self.line_end and text[:1] not in ("\n", "\r")

        def on_char(i, c, stack):
            d = len(stack)
            if c == "\n" and (self.line_rest or rest_of_line):
                return i                                               # the line the cursor is inside ends
            if c in _CLOSE:
                if not stack and rest_of_line and not self.at_statement:
                    return None                                        # `)` of the cursor's bracket: the line goes on
                if not stack:                                          # closes the enclosing bracket:
                    return i if self.at_statement else i + 1           # a block's end is not ours
                if lang == "java" and c == "}" and d == 1 and self.at_statement:
                    return i + 1                                       # a block we opened is complete
            if lang == "java" and c == ";" and d == 0 and self.at_statement:
                return i + 1
            if lang == "python":
                return self._python(i, c, d, text, state)
            return None

        try:
            _scan(text, lang, on_char)
        except _Stop as s:
            return s.index
        return None

    def _python(self, i, c, depth, text, state):
        if c == "\n":
            if depth == 0 and state["line_code"]:
                line = text[state["line_start"]:i].split("#")[0].rstrip()
                first_line = state["line_start"] == 0
                if line.endswith(":") and state["header_indent"] is None:
                    ind = self.indent if first_line else len(line) - len(line.lstrip())
                    state["header_indent"] = ind
                elif state["header_indent"] is None and self.at_statement and not line.endswith("\\"):
                    return i                                           # the statement ended
            state["line_start"] = i + 1
            state["line_code"] = False
            return None
        if not c.isspace() and not state["line_code"]:
            state["line_code"] = True
            if state["line_start"] > 0 and state["header_indent"] is not None and depth == 0:
                line_indent = i - state["line_start"]
                body_seen = state.get("body_seen", False)
                if line_indent <= state["header_indent"] and body_seen:
                    return state["line_start"] - 1                     # dedent: the block ended
                state["body_seen"] = True
        return None


def bracket_context(doc: StructuredDocument, offset: int) -> bool:
    """True when the cursor is at statement level (not inside `(` or `[`; for Python not
    inside any bracket)."""
    root = doc.tree.root_node if doc.tree is not None else None
    start = 0
    if root is not None:
        node = root.descendant_for_byte_range(offset, offset)
        while node is not None and node.parent is not None and node.parent.id != root.id:
            node = node.parent
        if node is not None and node.start_byte <= offset:
            start = node.start_byte
    stack = _stack_at(doc.data, start, offset, doc.language)
    if not stack:
        return True
    return doc.language == "java" and stack[-1] == "{"


_HEADS: collections.OrderedDict = collections.OrderedDict()    # (language, start, head bytes) -> stack
_HEADS_LOCK = threading.Lock()


def _stack_at(data: bytes, start: int, offset: int, language: str) -> list[str]:
    """`_scan`'s bracket stack over data[start:offset], from the stack at the start of the
    cursor's line kept from an earlier keystroke (a top-level Java class is the whole file:
    scanning it from its start cost ~10 ms a request). Scanning on from a line start with the
    stack there is the same walk when that start lies outside strings and comments."""
    line_start = data.rfind(b"\n", start, offset) + 1
    if line_start <= start:
        return _scan(decode(data[start:offset]), language)
    key = (language, start, data[start:line_start])
    with _HEADS_LOCK:
        head = _HEADS.get(key)
        if head is not None:
            _HEADS.move_to_end(key)
    if head is None:
        open_end: list = []
        scanned = _scan(decode(key[2]), language, open_end=open_end)
        if open_end:                                       # the line starts inside a string or comment
            return _scan(decode(data[start:offset]), language)
        head = tuple(scanned)
        with _HEADS_LOCK:
            _HEADS[key] = head
            while len(_HEADS) > 8:
                _HEADS.popitem(last=False)
    return _scan(decode(data[line_start:offset]), language, stack=list(head))


# ---------------------------------------------------------------------------- post-processing

def dedupe_suffix(text: str, suffix: str) -> str:
    """Drop a generated tail that equals the start of what already follows the cursor (first
    exactly, then ignoring the whitespace between them)."""
    for k in range(min(len(text), len(suffix)), 0, -1):
        if text.endswith(suffix[:k]) and suffix[:k].strip():
            return text[:-k]
    head, rest = text.rstrip(), suffix.lstrip()
    for k in range(min(len(head), len(rest)), 0, -1):
        if head.endswith(rest[:k]) and rest[:k].strip():
            return head[:-k].rstrip()
    return text


def syntax_error_extent(tree) -> tuple[int, int]:
    """(number of ERROR and MISSING nodes, bytes covered by ERROR nodes) of a tree."""
    if tree is None or not tree.root_node.has_error:
        return 0, 0
    n, size, stack = 0, 0, [tree.root_node]
    while stack:
        node = stack.pop()
        if node.is_error or node.is_missing:
            n += 1
            if node.is_error:
                size += node.end_byte - node.start_byte
                continue                                               # nested errors lie inside
        stack.extend(ch for ch in node.children if ch.has_error or ch.is_missing)
    return n, size


def adds_syntax_error(doc: StructuredDocument, offset: int, text: str) -> bool:
    """Whether inserting `text` at byte `offset` adds a syntax error: more ERROR/MISSING nodes
    than the document has, or ERROR nodes covering more bytes (a suggestion typed into an
    already broken line must not grow the broken part). Re-parsed incrementally from a copy of
    the document's tree."""
    support = language_support(doc.language)
    if support is None or doc.tree is None:
        return False
    data = doc.data
    ins = utf8_bytes(text)
    new = data[:offset] + ins + data[offset:]
    row = data.count(b"\n", 0, offset)
    col = offset - (data.rfind(b"\n", 0, offset) + 1)
    if b"\n" in ins:
        end_point = (row + ins.count(b"\n"), len(ins) - ins.rfind(b"\n") - 1)
    else:
        end_point = (row, col + len(ins))
    tree = doc.tree.copy()
    tree.edit(start_byte=offset, old_end_byte=offset, new_end_byte=offset + len(ins),
              start_point=(row, col), old_end_point=(row, col), new_end_point=end_point)
    after = support.parser().parse(new, tree)
    (n0, b0), (n1, b1) = syntax_error_extent(doc.tree), syntax_error_extent(after)
    return n1 > n0 or b1 > b0


def syntactic_prefix(doc: StructuredDocument, offset: int, text: str) -> str | None:
    """`text` when inserting it at byte `offset` adds no syntax error, else its longest start
    that ends a name or a bracket and adds none, else None. A small model often writes the
    right member name and then junk: the name alone is still worth showing. The starts are
    searched by bisection (a start that breaks the syntax mostly stays broken as it grows):
    a few parses, not one per start."""
    if not adds_syntax_error(doc, offset, text):
        return text
    cuts, depth = [], 0
    for i in range(1, len(text)):
        c = text[i - 1]
        depth += (c in "([{") - (c in ")]}")
        # a start that leaves a bracket of its own open is broken whatever follows: not a cut
        if depth <= 0 and (_is_ident_char(c) or c in ")]}") and not _is_ident_char(text[i]) and text[:i].strip():
            cuts.append(i)
    lo, hi = -1, len(cuts)                                              # cuts[lo] fits, cuts[hi] breaks
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if adds_syntax_error(doc, offset, text[:cuts[mid]]):
            hi = mid
        else:
            lo = mid
    return text[:cuts[lo]] if lo >= 0 else None


_OPENS = {"(": ")", "[": "]", "{": "}"}
_HEADER = re.compile(r"(async\s+)?(if|elif|while|for|with|def|class|except)\b")
_ENDS_EXPRESSION = re.compile(r"[\w'\")\]}]$")


def closing_rest(line: str, language: str) -> str | None:
    """The rest of a Python line that only lacks its closing brackets: `line` (the text before
    the cursor on its line, a doctest prompt dropped) opened brackets it left open and ends where
    an expression can (a name, a literal, a closing bracket), so the closers of those brackets,
    innermost first, and `:` after a compound statement's header (`if isinstance(x, int` ->
    `):`). None otherwise (a line that opened none, ends in an operator or a comma, or inside a
    string). Java's lines measured too often go on instead (dev split: edit similarity 31)."""
    if language != "python":
        return None
    code = line.strip()
    open_end: list = []
    stack = _scan(code, language, open_end=open_end)
    if open_end or not stack or not _ENDS_EXPRESSION.search(code):
        return None
    rest = "".join(_OPENS[c] for c in reversed(stack))
    return rest + ":" if _HEADER.match(code) else rest


_CALLEE = re.compile(r"([A-Za-z_][\w.]*)\s*$")


def open_calls(line: str, language: str) -> list[tuple[str, int]]:
    """The calls `line` left open, outermost first: (the callee's last name, the arguments
    written so far) (`x = f(a, g.h(b` -> [("f", 2), ("h", 1)]); a bracket with no name before
    it (a tuple, a list) is no call, and a call that unpacks (`*args`, `**kw`) has no count: left
    out."""
    opened: list[list] = []                                             # [char, index, commas, unpacks]

    def on_char(i, c, stack):
        if c in "([{":
            opened.append([c, i, 0, False])
        elif c in _CLOSE and opened and opened[-1][0] == _CLOSE[c]:
            opened.pop()
        elif c == "," and opened:
            opened[-1][2] += 1
        elif c == "*" and opened and line[i - 1] in "(, " and line[i + 1:i + 2] != " ":
            opened[-1][3] = True
        return None

    open_end: list = []
    _scan(line, language, on_char, open_end=open_end)
    out = []
    for c, i, commas, unpacks in opened:
        name = _CALLEE.search(line[:i])
        if c != "(" or unpacks or name is None or (language == "python" and _HEADER.fullmatch(name.group(1))):
            continue
        written = commas + bool(line[i + 1:].split(",")[-1].strip() if commas else line[i + 1:].strip())
        out.append((name.group(1).rsplit(".", 1)[-1], written))
    return out

