"""Ghost text retrieved from the code around: the rest of a line that another line already wrote.

Code repeats itself. When the line being typed starts the way other lines of the document (or of
the other open documents of its language) start, their rests are the candidates for its rest:

  - exact: a line whose text after its indentation starts with what the cursor's line holds
    after its indentation (`self.assertEqual(` -> `result, expected)`);
  - renamed: a line whose first tokens equal the typed ones except for at most `MAX_RENAMES`
    identifiers, each renamed consistently; the rest is copied with the same renames
    (`self.y = ` after `self.x = x` -> `y`, `elif kind == "b":` arms, parallel calls). A renamed
    last name must be a whole name of the document (a word still being typed is completed by
    the exact matches instead).

Each source line votes for its rest (an exact match `EXACT_WEIGHT`, a renamed one
`RENAME_WEIGHT`, a line of another document `OTHER_FILE_FACTOR` of that); the rest with the
most votes wins, the nearest source line breaking ties. Its confidence is the log of its share
of all votes. It is shown where the evidence is strong enough (`evidence`: that log-share, plus
`TYPED_WEIGHT` per typed token (a longer typed start matches more specifically) and
`VOTES_WEIGHT` x log(votes), at least the language's `MIN_EVIDENCE`); where the lines that start
alike disagree it is not. Source lines inside strings and comments (a docstring's prose) do not
vote, but a docstring's doctest lines are code: without their `>>> ` / `... ` prompt they are
sources, and a cursor on one gets ghost text like one in code;
a cursor inside a string (not on a doctest line) gets a line copied from any line, prose or code,
that starts alike, under `PROSE_MIN_EVIDENCE` (`_prose_line`);
a line that is just the typed text votes for no rest (the line ends there: after `}` most
lines do, so ` else {` is not offered on the strength of one `} else {`; no change on dev, whose
cuts never end a line).

The weights and the threshold were fitted on the dev split of bench/devset.json (300 line
positions per language): the most line edit similarity with the shown ones' at >= 75. A votes
weight of 1.0 with the threshold at -0.25 (fewer single-source guesses) measured nearly the same
in-process (dev: shown 191 vs 206, shown edit similarity 74.9 vs 74.2, line edit similarity
Python 20.4 / 20.4, Java 27.3 vs 30.5) and worse over LSP (60 positions per language: Java line
edit similarity 38.7 -> 30.5, shown edit similarity 79.6 -> 79.4), though it shows far fewer
wrong lines in the small files of samples/ (every cut of every line: 116 -> 53 wrong, 20 right
either way): not kept, the dev split decides. Copying a renamed line
only where the rest uses a renamed name (`self.y = y`) showed less and no better (dev: shown
edit similarity 70.2 vs 70.8, line edit similarity Python 17.5 vs 22.1).
`bench/completion_quality.py --split dev --lines-only` measures it over LSP.

Where the best candidate misses the gate, the lines of the workspace's other files vote too
(`workspace`, r1lsp.workspace_lines: `WORKSPACE_FACTOR` per occurrence, only lines with the
typed line's first token), under a gate of their own (`WORKSPACE_MIN_EVIDENCE`). A second tier,
not more votes in the first: merged into the first tier (factor 0.1-0.5) they diluted the
document's own agreeing lines and measured no better (dev, in-process: Java line edit similarity
39.3 -> 38.7-40.0, Python 22.2 -> 21.1-21.8); as the second tier, Java 39.3 -> 44.1, EM 27.3 ->
30.3 %, Python 22.2 -> 22.6, shown edit similarity 70.4 -> 70.0. Python's second-tier gate 0.5 -> 0.0
(session 11; every dev file, a quarter of the lines, where the first tier misses: evidence in
[0, 0.5) 40 lines, 25 exact, edit similarity 71.9; [-0.5, 0) 72, 19, 51.4; over LSP, 300 dev
lines: Python line edit similarity 27.6 -> 28.0, exact 19.0 -> 19.3 %).

Where no line passes the gate, a Python line that only lacks its closing brackets gets them
(`closing_rest`: `total = sum(values` -> `)`, `if isinstance(x, (int, float` -> `)):`). Session 8,
fitted on the dev split (300 line positions per language, in-process, the model's answers
recorded once for the positions retrieval leaves): Java's gate -0.5 -> -1.0 (a Java line's
candidates are right more often: evidence in [-1, -0.5) scored edit similarity 54 vs Python's
43), the closers and the doctest lines (line edit similarity Python 21.2 -> 22.2, Java 34.3 ->
39.3, shown edit similarity 67.6 -> 70.4 with the model's gate -1.5 -> -1.0, which now applies to
the model alone: its suggestions scored 22 where shown). Not kept: a logistic gate over the
votes, share, typed tokens, renames, distance, the share of sources whose previous line equals the
cursor's and the number of rival rests (leave-one-repository-out AUC for an exact line 0.84 vs
the evidence's 0.85), Java closers (edit similarity 31 where shown), the longest start that
the candidates holding >= 60 % of the votes share, shown below the gate (+1-2 edit similarity at
6-10 points less shown edit similarity).

The model's own log-probability of the candidates was measured as a ranker and as a gate on the
dev split and did not pay (r1-tiny's mean token log-probability ranks right and wrong
candidates alike, AUC 0.49): the choice is static, and needs no forward pass.

Cheap per keystroke: a document's lines are split once per version (`_lines`, kept for the
last few texts), a line's tokens once per distinct line text (`_tokens`, shared by versions).
"""
from __future__ import annotations

import collections
import functools
import math
import re
import threading
from dataclasses import dataclass

from model.structure.text_index import decode
from r1lsp.inline_syntax import closing_rest, open_calls
from r1lsp.workspace_lines import MAX_LINE_CHARS, first_token  # longer lines (data, minified code) are no sources

MAX_RENAMES = 2
EXACT_WEIGHT = 1.0
RENAME_WEIGHT = 0.5
OTHER_FILE_FACTOR = 0.5
WORKSPACE_FACTOR = 0.25    # a line of the workspace's other files (r1lsp.workspace_lines), per occurrence
WORKSPACE_DISTANCE = 10 ** 7
WORKSPACE_RENAMED_LINES = 1000  # more workspace lines with the first token: exact starts only
TYPED_WEIGHT = 0.1         # evidence per token typed on the line (at most TYPED_CAP of them)
TYPED_CAP = 12
VOTES_WEIGHT = 0.5         # evidence per log(votes)
DEFAULT_MIN_EVIDENCE = -0.5            # below it nothing is shown
MIN_EVIDENCE = {"python": -0.5, "java": -1.0}  # per language, fitted on the dev split (module docstring)
WORKSPACE_MIN_EVIDENCE = {"python": 0.0, "java": -0.5}   # the second tier's gate (with the workspace's lines)
# a renamed line's rest in Java: renamed Java rests under -0.75 scored edit similarity 51 (dev, 26 shown)
RENAMED_MIN_EVIDENCE = {"java": -0.75}
PROSE_MIN_EVIDENCE = {"python": 0.0, "java": 0.0}  # inside a string or comment (`_prose_line`)
DOCTEST_PROMPTS = (">>> ", "... ")  # Python: a docstring's example lines are code (their prompt dropped)
_STRING_NODES = frozenset(("string", "concatenated_string"))

_TOKEN = re.compile(r"[A-Za-z_$\u00c0-\uffff][\w$\u00c0-\uffff]*|\d+(?:\.\d+)?|\s+|.")
_NAME = re.compile(r"[A-Za-z_$\u00c0-\uffff][\w$\u00c0-\uffff]*")


@dataclass(frozen=True)
class LineCandidate:
    text: str              # the rest of the line after the cursor
    votes: float           # weighted number of source lines
    share: float           # votes / all votes at this position
    distance: int          # lines between the cursor's and the nearest source line (other files: large)
    renamed: bool          # the best source line needed renames
    typed_tokens: int = 0  # tokens typed on the line (its indentation excluded)
    closing: bool = False  # no source line: the closers of the brackets the line left open (`closing_rest`)

    @property
    def confidence(self) -> float:
        """log(share): an estimate of the probability that this is the line's rest."""
        return math.log(self.share)

    @property
    def evidence(self) -> float:
        """What the gate compares with MIN_EVIDENCE (see the module docstring)."""
        return self.confidence + TYPED_WEIGHT * min(self.typed_tokens, TYPED_CAP) + VOTES_WEIGHT * math.log(self.votes)


# ---------------------------------------------------------------------------- caches

_LINES: collections.OrderedDict = collections.OrderedDict()      # text -> its stripped lines
_LOCK = threading.Lock()


def _lines(text: str, prompts: bool = False) -> list[str]:
    """The text's lines without indentation or trailing blanks (kept for the last few texts: a
    keystroke's requests share them); `prompts`: a doctest line without its `>>> ` / `... `."""
    key = (text, prompts)
    with _LOCK:
        hit = _LINES.get(key)
        if hit is not None:
            _LINES.move_to_end(key)
            return hit
    stripped = [ln.strip() for ln in text.split("\n")]
    hit = [_without_prompt(ln) for ln in stripped] if prompts else stripped
    with _LOCK:
        _LINES[key] = hit
        while len(_LINES) > 12:
            _LINES.popitem(last=False)
    return hit


def _without_prompt(line: str) -> str:
    """A stripped line without its doctest prompt (`>>> x = 1` -> `x = 1`)."""
    return line[4:].lstrip() if line.startswith(DOCTEST_PROMPTS) else line


@functools.cache
def _keywords(language: str) -> frozenset:
    """Names never renamed: the grammar's keywords (r1lsp.completion_names)."""
    from r1lsp.completion_names import grammar_keywords
    return frozenset(grammar_keywords(language))


@functools.lru_cache(maxsize=32768)
def _tokens(line: str) -> tuple[str, ...]:
    return tuple(_TOKEN.findall(line))


# ---------------------------------------------------------------------------- matching

def _renamed_rest(typed: tuple[str, ...], line: str, keywords: frozenset) -> tuple[str, int] | None:
    """(the rest of `line` after the tokens aligned with `typed`, with the renames applied; the
    number of renames) when `line` starts like `typed` up to at most MAX_RENAMES consistently
    renamed identifiers and at least as many equal tokens; else None."""
    toks = _tokens(line)
    if len(toks) <= len(typed):
        return None
    renames: dict[str, str] = {}
    same = 0
    for a, b in zip(typed, toks):
        if a == b:
            same += not a.isspace()
            continue
        if a.isspace() and b.isspace():
            continue                                                    # spacing may differ
        if not (_NAME.fullmatch(a) and _NAME.fullmatch(b)) or a in keywords or b in keywords:
            return None
        if renames.setdefault(b, a) != a:
            return None
    if not renames or len(renames) > MAX_RENAMES or same < len(renames):
        return None
    if len(set(renames.values())) != len(renames):
        return None                                                     # two names onto one
    tail = toks[len(typed):]
    rest = "".join(renames.get(t, t) for t in tail)
    return rest, len(renames)


def line_candidates(text: str, row: int, typed: str, language: str,
                    others: tuple[str, ...] = (), in_code=None, workspace=None) -> list[LineCandidate]:
    """Candidates for the rest of line `row` of `text`, whose start (cursor's indentation
    excluded) is `typed`, best first. `others`: the texts of other documents of the language.
    `in_code(row)`: whether a line of `text` is code (not inside a string or comment; a docstring's
    prose is no source), asked only of the lines that match. `workspace(token)`: (line, count)
    pairs of the workspace's other files whose lines start with that token
    (r1lsp.workspace_lines), each count voting `WORKSPACE_FACTOR`."""
    typed = typed.lstrip()
    if not typed.strip():
        return []
    keywords = _keywords(language)
    t_toks = _tokens(typed)
    lines = _lines(text, language == "python")
    last = t_toks[-1]
    # a name still being typed is not renamed: only a whole name of the document (found
    # elsewhere than at the cursor) may be
    rename_ok = not _NAME.fullmatch(last) or _occurs_twice(text, last)
    votes: dict[str, list] = {}                                          # rest -> [votes, distance, renamed]

    def vote(rest: str, weight: float, distance: int, renamed: bool):
        rest = rest.rstrip()
        if not rest.strip():
            rest = ""                                                   # the line ends here
        v = votes.setdefault(rest, [0.0, distance, renamed])
        v[0] += weight
        if distance < v[1]:
            v[1], v[2] = distance, renamed

    sources = [(lines, row, 1.0)] + [(_lines(o, language == "python"), None, OTHER_FILE_FACTOR) for o in others]
    for src, own_row, factor in sources:
        for i, s in enumerate(src):
            if i == own_row or not s or len(s) > MAX_LINE_CHARS:
                continue
            distance = abs(i - own_row) if own_row is not None else 10 ** 6
            code = in_code if own_row is not None else None
            if s == typed.rstrip() and (code is None or code(i)):
                vote("", EXACT_WEIGHT * factor, distance, False)                # a line that ends here
            elif s.startswith(typed):
                if len(s) > len(typed) and (code is None or code(i)):
                    vote(s[len(typed):], EXACT_WEIGHT * factor, distance, False)
            elif rename_ok:
                got = _renamed_rest(t_toks, s, keywords)
                if got is not None and (code is None or code(i)):
                    vote(got[0], RENAME_WEIGHT * factor, distance, True)
    if workspace is not None:
        found = workspace(first_token(typed))
        renames = rename_ok and len(found) <= WORKSPACE_RENAMED_LINES          # a keystroke stays cheap
        for s, n in found:
            if s == typed.rstrip():
                vote("", WORKSPACE_FACTOR * n, WORKSPACE_DISTANCE, False)
            elif s.startswith(typed):
                vote(s[len(typed):], WORKSPACE_FACTOR * n, WORKSPACE_DISTANCE, False)
            elif renames:
                got = _renamed_rest(t_toks, s, keywords)
                if got is not None:
                    vote(got[0], RENAME_WEIGHT * WORKSPACE_FACTOR * n, WORKSPACE_DISTANCE, True)
    total = sum(v[0] for v in votes.values())
    n_typed = sum(not t.isspace() for t in t_toks)
    out = [LineCandidate(rest, v[0], v[0] / total, v[1], v[2], n_typed) for rest, v in votes.items() if rest]
    out.sort(key=lambda c: (-c.votes, c.distance, c.text))
    return out


def _in_code(doc, row: int) -> bool:
    """Whether line `row` of `doc` starts outside strings and comments (a string that starts
    there, a dict entry's key, is code; the inside of a docstring or a block comment is not)."""
    from r1lsp.completion_names import NO_COMPLETION_NODES

    if doc.tree is None:
        return True
    raw = doc.line_text(row)
    col = len(raw.encode("utf-8")) - len(raw.lstrip().encode("utf-8"))
    node = doc.tree.root_node.descendant_for_point_range((row, col), (row, col))
    while node is not None and node.start_point[0] == row and node.parent is not None \
            and node.parent.start_point[0] == row:
        node = node.parent
    while node is not None:
        if node.type in NO_COMPLETION_NODES or node.type in _STRING_NODES:
            return node.start_point[0] == row and "comment" not in node.type
        node = node.parent
    return True


def _occurs_twice(text: str, name: str) -> bool:
    """Whether `name` occurs in `text` at least twice as a whole word (the cursor's own
    occurrence is one)."""
    found = re.finditer(r"(?<![\w$])" + re.escape(name) + r"(?![\w$])", text)
    return next(found, None) is not None and next(found, None) is not None


def retrieved_line(doc, offset: int, others: tuple[str, ...] = (), min_evidence: float | None = None,
                   closers: bool = True, workspace=None) -> LineCandidate | None:
    """The line rest to show at byte `offset` of `doc` (a StructuredDocument), or None: the cursor
    must end its line's code (nothing but blanks after it), follow text on its line, and not be
    in a comment (inside a string: `_prose_line`; a docstring's doctest line, `>>> f(x`, is code); the best candidate's
    evidence must reach `min_evidence` (None: the language's `MIN_EVIDENCE`). Where it does not,
    the lines of the workspace's other files (`workspace`, see `line_candidates`) vote too, under
    the language's `WORKSPACE_MIN_EVIDENCE`; then `closers`: `closing_rest`. A renamed line's
    rest needs at least the language's `RENAMED_MIN_EVIDENCE` too. Inside a string: `_prose_line`."""

    data = doc.data
    line_end = data.find(b"\n", offset)
    if data[offset:line_end if line_end >= 0 else len(data)].strip():
        return None
    line_start = data.rfind(b"\n", 0, offset) + 1
    typed = decode(data[line_start:offset])
    python = doc.language == "python"
    if python:
        typed = _without_prompt(typed.strip()) + typed[len(typed.rstrip()):]
    if not typed.strip():
        return None
    row = data.count(b"\n", 0, offset)
    if in_prose(doc, offset):
        return _prose_line(doc, row, typed, others, min_evidence, workspace)
    raw = _lines(doc.text)

    def in_code(i: int) -> bool:
        return (python and raw[i].startswith(DOCTEST_PROMPTS)) or _in_code(doc, i)

    cands = line_candidates(doc.text, row, typed, doc.language, others, in_code)
    threshold = MIN_EVIDENCE.get(doc.language, DEFAULT_MIN_EVIDENCE) if min_evidence is None else min_evidence
    if cands and cands[0].renamed and min_evidence is None:
        threshold = max(threshold, RENAMED_MIN_EVIDENCE.get(doc.language, threshold))
    if cands and cands[0].evidence >= threshold:
        return cands[0]
    gate = WORKSPACE_MIN_EVIDENCE.get(doc.language, DEFAULT_MIN_EVIDENCE) if min_evidence is None else min_evidence
    wide = _workspace_tier(doc, row, typed, others, gate, workspace, in_code)
    if wide is not None:
        return wide
    if closers:
        rest = closing_rest(typed, doc.language)
        if rest and not _call_lacks_arguments(doc, typed):
            return LineCandidate(rest, 1.0, 1.0, 0, False, len(_tokens(typed.strip())), closing=True)
    return None


_REQUIRED: collections.OrderedDict = collections.OrderedDict()    # text -> {function name: fewest required}


def _required_arguments(doc) -> dict[str, int]:
    """The document's own functions and methods (tags.scm's `@definition.function`) by name: the
    fewest arguments a call must pass (parameters without a default; `self` / `cls` not counted;
    of the definitions of a name, the fewest). Kept for the last few texts (~15 ms for a
    256 KB file)."""
    from tree_sitter import QueryCursor

    from model.structure.languages import language_query
    from r1lsp.completion_calls import parameter_range

    with _LOCK:
        hit = _REQUIRED.get(doc.text)
    if hit is not None:
        return hit
    out: dict[str, int] = {}
    found = QueryCursor(language_query(doc.language, "tags")).captures(doc.tree.root_node)
    for node in found.get("definition.function", []):
        while node is not None and node.child_by_field_name("parameters") is None:
            node = node.child_by_field_name("definition")               # a decorated definition
        name = node.child_by_field_name("name") if node is not None else None
        if name is None:
            continue
        text = decode(node.child_by_field_name("parameters").text).strip()
        for implicit in ("self", "cls"):
            text = re.sub(rf"^\(\s*{implicit}\s*(,|(?=\)))", "(", text)
        got = parameter_range(decode(name.text) + text)
        if got is not None:
            key = decode(name.text)
            out[key] = min(out.get(key, got[0]), got[0])
    with _LOCK:
        _REQUIRED[doc.text] = out
        while len(_REQUIRED) > 4:
            _REQUIRED.popitem(last=False)
    return out


def _call_lacks_arguments(doc, line: str) -> bool:
    """Whether a call that `line` left open passes fewer arguments than the document's own
    function of that name needs (`arg_val(target, spec` with `def arg_val(target, arg, scope)`):
    its closers would end it too early. Dev split, every cut of every Python line where
    `closing_rest` closes: 1,515 such cuts, 47 of them (3.1 %) exact, vs 7,604 of 24,829 (30.6 %)
    elsewhere."""
    calls = open_calls(line, doc.language)
    if not calls or doc.tree is None:
        return False
    need = _required_arguments(doc)
    return any(written < need.get(name, 0) for name, written in calls)


def _prose_line(doc, row: int, typed: str, others: tuple[str, ...], min_evidence: float | None,
                workspace=None) -> LineCandidate | None:
    """The rest of a line inside a string or comment (a docstring's prose, its doctest output, a
    licence header) where the lines of the document and `others` that start alike, prose or code,
    agree on it: prose repeats itself (`See Also:`, `.. note::`, a parameter's description, an
    example's output, the licence in every file); where they do not, with the workspace's lines
    too (`workspace`, as for code: the second tier, not after a lone first token), under the same
    gate; nothing for a language without a `PROSE_MIN_EVIDENCE`. Dev split, every file, gate 0,
    with the workspace tier: Python comments 587 positions (30 % of the lines), 220 shown, 200
    exact, edit similarity 95.2 where shown; Java comments 2,865 (15 %): 1,345, 1,044, 88.3; Java
    strings as typed (the string not closed yet), 340 (all lines): 163, 107, 87.0. Python, 1,947
    positions inside strings (every file, 30 % of the lines): file and folder only, a candidate at
    832; evidence >= 0: 338 shown, 201 exact, edit similarity 78.4 where shown (>= 0.3: 237, 166,
    85.8; >= -0.5: 453, 217, 70.6); with the workspace tier at 0 too: 377, 233, 79.8 (at 0.5:
    349, 210, 78.9). Over LSP (`bench/completion_quality.py --split dev --lines-only --lines
    300`), file and folder only: Python line edit similarity 23.9 -> 27.1, exact 16.7 -> 19.0 %,
    shown 49.5 -> 51.5 %, edit similarity where shown 73.8 -> 74.0."""
    gate = PROSE_MIN_EVIDENCE.get(doc.language) if min_evidence is None else min_evidence
    if gate is None:
        return None
    cands = line_candidates(doc.text, row, typed, doc.language, others)
    if cands and cands[0].evidence >= gate:
        return cands[0]
    return _workspace_tier(doc, row, typed, others, gate, workspace)


def _workspace_tier(doc, row: int, typed: str, others: tuple[str, ...], gate: float, workspace,
                    in_code=None) -> LineCandidate | None:
    """The second tier, where the document's and `others`' lines did not reach their gate: the
    workspace's lines vote too, under `gate`; not after a lone first token (thousands of
    workspace lines start with `public`, and their rests never agree)."""
    if workspace is None or typed.strip() == first_token(typed.strip()):
        return None
    wide = line_candidates(doc.text, row, typed, doc.language, others, in_code, workspace)
    return wide[0] if wide and wide[0].evidence >= gate else None


def in_prose(doc, offset: int, comments: bool = True) -> bool:
    """Whether byte `offset` of `doc` is inside a string that starts before it (a docstring's
    prose, a message) or, with `comments`, a comment, not on a docstring's doctest line (`>>> f(x`:
    code). Inside a string only `_prose_line`'s copied lines are shown, and no model text (dev split: the
    model's suggestions inside strings and docstrings scored edit similarity 29 where shown, 4 of
    600 positions; comments keep it: the dev set has no line positions in them)."""
    from r1lsp.completion_names import NO_COMPLETION_NODES

    if doc.tree is None:
        return False
    node = doc.tree.root_node.descendant_for_byte_range(max(offset - 1, 0), offset)
    if node is None or node.type not in NO_COMPLETION_NODES or node.start_byte >= offset \
            or (not comments and "comment" in node.type):
        return False
    line_start = doc.data.rfind(b"\n", 0, offset) + 1
    return not (doc.language == "python" and "comment" not in node.type and _is_doctest(doc.data, line_start))


def _is_doctest(data: bytes, line_start: int) -> bool:
    """Whether the line starting at byte `line_start` is a doctest line (`>>> ` / `... `)."""
    return data[line_start:line_start + 240].lstrip(b" \t").startswith(tuple(p.encode() for p in DOCTEST_PROMPTS))


# ---------------------------------------------------------------------------- sibling files

SIBLING_FILES = 4          # files of the document's folder, most recently modified first
MAX_SIBLING_BYTES = 200_000

_SIBLINGS: collections.OrderedDict = collections.OrderedDict()   # (path, mtime_ns, size) -> text
_FOLDERS: dict = {}                                              # (folder, mtime_ns) -> [paths, newest first]


def folder_files(path: str, language: str) -> list[str]:
    """The files of `language` in `path`'s folder, the most recently modified first (listed once
    per folder version)."""
    import os

    from model.structure.languages import normalize_language

    folder = os.path.dirname(path)
    try:
        stamp = os.stat(folder).st_mtime_ns
    except OSError:
        return []
    with _LOCK:
        names = _FOLDERS.get((folder, stamp))
    if names is None:
        try:
            entries = [e for e in os.scandir(folder) if e.is_file() and normalize_language(e.name) == language]
            entries.sort(key=lambda e: -e.stat().st_mtime_ns)
        except OSError:
            return []
        names = [e.path for e in entries]
        with _LOCK:
            if len(_FOLDERS) > 64:
                _FOLDERS.clear()
            _FOLDERS[(folder, stamp)] = names
    return names


def workspace_source(lines, path: str, language: str, skip: frozenset = frozenset()):
    """The function of a first token that the retrieval asks for the workspace's lines
    (`lines`, an r1lsp.workspace_lines.WorkspaceLines) around the document at `path`: all
    of `language`'s indexed files but the document's own (the editor's text is the document),
    the files in `skip` (given as texts already) and the files of its folder that are sources
    of their own (`sibling_paths`; the folder's other files are workspace files like any: dev
    split, retrieval alone, Java shown 176 -> 177 of 300, exact 89 -> 91, when they were left
    out of both; Python unchanged)."""
    import os

    def workspace(token: str):
        known = frozenset(os.path.realpath(p) for p in (path, *skip, *sibling_paths(path, language, skip)))
        return lines.lines(language, token, known)
    return workspace


def sibling_paths(path: str, language: str, skip: frozenset = frozenset(), limit: int = SIBLING_FILES) -> list[str]:
    """The files `sibling_texts` reads: up to `limit` other files of `language` in `path`'s
    folder, not in `skip`, of at most `MAX_SIBLING_BYTES`, the most recently modified first."""
    import os

    out = []
    for other in folder_files(path, language):
        if len(out) == limit:
            break
        if other == path or other in skip:
            continue
        try:
            if os.stat(other).st_size > MAX_SIBLING_BYTES:
                continue
        except OSError:
            continue
        out.append(other)
    return out


def sibling_texts(path: str, language: str, skip: frozenset = frozenset(), limit: int = SIBLING_FILES) -> tuple[str, ...]:
    """The texts of up to `limit` other files of `language` in `path`'s folder (not in `skip`:
    the open ones, whose editor text the caller has), the most recently modified first. Code of
    the same package repeats itself across files too (dev split: Java line edit similarity
    30.5 -> 33.7 with 4 of them). Read once per file version (path, mtime, size)."""
    import os

    out = []
    for other in sibling_paths(path, language, skip, limit):
        try:
            st = os.stat(other)
            key = (other, st.st_mtime_ns, st.st_size)
            with _LOCK:
                text = _SIBLINGS.get(key)
            if text is None:
                with open(other, encoding="utf-8", errors="replace") as f:
                    text = f.read()
                with _LOCK:
                    _SIBLINGS[key] = text
                    while len(_SIBLINGS) > 32:
                        _SIBLINGS.popitem(last=False)
        except OSError:
            continue
        out.append(text)
    return tuple(out)
