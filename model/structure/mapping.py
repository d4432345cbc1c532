"""Map a document onto the hierarchy: tree-sitter + the language's query, or plain-text rules.

Tree documents: one query run marks the captured nodes, one cursor walk over the tree assigns
each leaf token its owner at each level (the innermost captured paragraph; the innermost
captured sentence below that paragraph; the innermost captured phrase below that sentence;
an ERROR node clears sentence and phrase so its inside falls back to lines). Runs of tokens
with the same owners become units (`_group`), vectorised with numpy. Tokens with no owner get
synthesized units: the token itself as phrase, its line as sentence, a blank-line separated
run of owner-less top-level tokens as paragraph ("block").

Limits: documents over MAX_SYNTAX_BYTES, or that look binary (a NUL byte in the first
BINARY_SNIFF_BYTES), are mapped by the plain-text rules whatever their language; the plain-text
mapper is vectorised end to end (a 10 MB document maps in about a second).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from tree_sitter import Node, QueryCursor, Tree

from .hierarchy import Hierarchy, Level, LevelTable
from .languages import PLAINTEXT, LanguageSupport, language_support, normalize_language
from .text_index import LineIndex, utf8_bytes

MAX_SYNTAX_BYTES = 1 << 20          # 1 MiB: above this, plain-text rules only
BINARY_SNIFF_BYTES = 8192

_PHRASE, _SENTENCE, _PARAGRAPH = 1, 2, 4
_MASKS = {"phrase": _PHRASE, "sentence": _SENTENCE, "paragraph": _PARAGRAPH}


def fallback_reason(data: bytes, language: str) -> str | None:
    """Why a document of a supported language is mapped as plain text, or None."""
    if language_support(language) is None:
        return None if language == PLAINTEXT else f"no grammar for {language!r}"
    if len(data) > MAX_SYNTAX_BYTES:
        return f"document of {len(data)} bytes exceeds {MAX_SYNTAX_BYTES} bytes"
    if b"\x00" in data[:BINARY_SNIFF_BYTES]:
        return "document looks binary (NUL byte)"
    return None


def map_structure(text: str, language: str) -> Hierarchy:
    """Map `text` onto the four levels; `language` as normalize_language returns (anything
    else is normalized first)."""
    language = normalize_language(language)
    data = utf8_bytes(text)
    index = LineIndex(data)
    support = language_support(language)
    reason = fallback_reason(data, language)
    if support is None or reason:
        return map_plaintext(data, index, language, reason)
    tree = support.parser().parse(data)
    return map_tree(tree, index, language, support)


# -- tree documents ----------------------------------------------------------------------

@dataclass
class TokenRun:
    """Leaf tokens of a tree (or subtree) in document order with their owners per level.
    Owner ids index the `owner_*` lists; -1 means no captured owner."""
    start: list[int]
    end: list[int]
    kind: list[str]
    paragraph: list[int]
    sentence: list[int]
    phrase: list[int]
    owner_kind: list[str]
    owner_name: list[str | None]
    owner_start: list[int]
    owner_end: list[int]


def captured_nodes(support: LanguageSupport, node: Node, data: bytes,
                   byte_range: tuple[int, int] | None = None) -> tuple[dict[int, int], dict[int, str]]:
    """Run the language's query: {node id: level mask}, {definition node id: name}."""
    cursor = QueryCursor(support.query)
    if byte_range is not None:
        cursor.set_byte_range(*byte_range)
    masks: dict[int, int] = {}
    names: dict[int, str] = {}
    for _, caps in cursor.matches(node):
        name_nodes = caps.get("name")
        for cap, nodes in caps.items():
            bit = _MASKS.get(cap)
            if bit:
                for n in nodes:
                    masks[n.id] = masks.get(n.id, 0) | bit
            elif cap.startswith("definition.") and name_nodes:
                nm = name_nodes[0]
                for n in nodes:
                    names[n.id] = data[nm.start_byte:nm.end_byte].decode("utf-8", "replace")
    return masks, names


def collect_tokens(node: Node, masks: dict[int, int], names: dict[int, str]) -> TokenRun:
    """Walk `node`'s subtree once, assigning each non-empty leaf its owners."""
    run = TokenRun([], [], [], [], [], [], [], [], [], [])
    t_start, t_end, t_kind = run.start, run.end, run.kind
    t_par, t_sen, t_phr = run.paragraph, run.sentence, run.phrase
    o_kind, o_name, o_start, o_end = run.owner_kind, run.owner_name, run.owner_start, run.owner_end
    cursor = node.walk()
    stack = [(-1, -1, -1)]          # owners inherited by the children of each open node
    while True:
        n = cursor.node
        p, s, h = stack[-1]
        m = masks.get(n.id, 0)
        if n.is_error:
            s = h = -1
        if m:
            o = len(o_kind)
            o_kind.append(n.type)
            o_name.append(names.get(n.id))
            o_start.append(n.start_byte)
            o_end.append(n.end_byte)
            if m & _PARAGRAPH:
                p, s, h = o, -1, -1
            if m & _SENTENCE:
                s, h = o, -1
            if m & _PHRASE:
                h = o
        if cursor.goto_first_child():
            stack.append((p, s, h))
            continue
        sb, eb = n.start_byte, n.end_byte
        if eb > sb:                 # MISSING nodes are zero-width: not tokens
            t_start.append(sb)
            t_end.append(eb)
            t_kind.append(n.type)
            t_par.append(p)
            t_sen.append(s)
            t_phr.append(h)
        while not cursor.goto_next_sibling():
            if not cursor.goto_parent():
                return run
            stack.pop()


def map_tree(tree: Tree, index: LineIndex, language: str, support: LanguageSupport) -> Hierarchy:
    root = tree.root_node
    masks, names = captured_nodes(support, root, index.data)
    run = collect_tokens(root, masks, names)
    return Hierarchy(language, group_tokens(run, index), root.has_error)


def group_tokens(run: TokenRun, index: LineIndex) -> list[LevelTable]:
    """Turn owner-annotated tokens into the four level tables (parents as ordinals)."""
    n = len(run.start)
    if n == 0:
        return [LevelTable.empty(), LevelTable.empty(), LevelTable.empty(), LevelTable.empty(True)]
    t_start = np.asarray(run.start, np.int64)
    t_end = np.asarray(run.end, np.int64)
    par = np.asarray(run.paragraph, np.int64)
    sen = np.asarray(run.sentence, np.int64)
    phr = np.asarray(run.phrase, np.int64)
    first_line = np.searchsorted(index.starts, t_start, side="right") - 1
    last_line = np.searchsorted(index.starts, t_end - 1, side="right") - 1

    new_par = np.ones(n, bool)
    new_par[1:] = (par[1:] != par[:-1]) | ((par[1:] < 0) & (first_line[1:] - last_line[:-1] >= 2))
    new_sen = new_par.copy()
    new_sen[1:] |= (sen[1:] != sen[:-1]) | ((sen[1:] < 0) & (first_line[1:] != first_line[:-1]))
    new_phr = new_sen | (phr < 0)
    new_phr[1:] |= phr[1:] != phr[:-1]

    o_kind, o_name = run.owner_kind, run.owner_name
    tables = []
    ordinals = []
    for level, starts_mask, owners, synth in (
        (Level.PHRASE, new_phr, phr, None),
        (Level.SENTENCE, new_sen, sen, "line"),
        (Level.PARAGRAPH, new_par, par, "block"),
    ):
        first = np.flatnonzero(starts_mask)
        last = np.empty_like(first)
        last[:-1] = first[1:] - 1
        last[-1] = n - 1
        owner = owners[first].tolist()
        if synth is None:
            kinds = [o_kind[o] if o >= 0 else run.kind[i] for o, i in zip(owner, first.tolist())]
        else:
            kinds = [o_kind[o] if o >= 0 else synth for o in owner]
        table = _table(index, t_start[first], t_end[last], kinds)
        if level == Level.PARAGRAPH:
            table.name = [o_name[o] if o >= 0 else None for o in owner]
            o_start = np.asarray(run.owner_start + [0], np.int64)
            o_end = np.asarray(run.owner_end + [0], np.int64)
            own = np.asarray(owner, np.int64)
            table.owner_start = np.where(own >= 0, o_start[own], table.start_byte)
            table.owner_end = np.where(own >= 0, o_end[own], table.end_byte)
        tables.append((table, first))
        ordinals.append(np.cumsum(starts_mask) - 1)

    tokens = _table(index, t_start, t_end, list(run.kind))
    tokens.parent = ordinals[0]
    (phrases, p_first), (sentences, s_first), (paragraphs, _) = tables
    phrases.parent = ordinals[1][p_first]
    sentences.parent = ordinals[2][s_first]
    return [tokens, phrases, sentences, paragraphs]


def _table(index: LineIndex, start: np.ndarray, end: np.ndarray, kinds: list[str]) -> LevelTable:
    sl, sc = index.positions(start)
    el, ec = index.positions(end)
    return LevelTable(start, end, sl, sc, el, ec, np.full(len(kinds), -1, np.int64), kinds)


# -- plain text --------------------------------------------------------------------------

_WS = np.zeros(256, bool)
_WS[[9, 10, 11, 12, 13, 32]] = True
_WORD = np.zeros(256, bool)
_WORD[[c for c in range(256) if chr(c).isalnum() or c == ord("_") or c >= 0x80]] = True


def map_plaintext(data: bytes, index: LineIndex, language: str = PLAINTEXT,
                  reason: str | None = None) -> Hierarchy:
    """Tokens are runs of word bytes (letters, digits, _, any non-ASCII) or of other
    non-space bytes; each token is its own phrase; lines are sentences; blank-line separated
    blocks are paragraphs."""
    raw = np.frombuffer(data, np.uint8)
    if len(raw) == 0:
        return Hierarchy(language, group_tokens(_empty_run(), index), False, reason)
    cls = np.where(_WS[raw], 0, np.where(_WORD[raw], 1, 2)).astype(np.int8)
    change = np.ones(len(raw), bool)
    change[1:] = cls[1:] != cls[:-1]
    starts = np.flatnonzero(change & (cls != 0))
    bounds = np.flatnonzero(change)
    # a token ends where the next class run begins
    nxt = np.searchsorted(bounds, starts, side="right")
    ends = np.append(bounds, len(raw))[nxt]
    n = len(starts)
    if n == 0:
        return Hierarchy(language, group_tokens(_empty_run(), index), False, reason)
    line = np.searchsorted(index.starts, starts, side="right") - 1
    new_par = np.ones(n, bool)
    new_par[1:] = line[1:] - line[:-1] >= 2
    new_sen = new_par.copy()
    new_sen[1:] |= line[1:] != line[:-1]

    tokens = _table(index, starts.astype(np.int64), ends.astype(np.int64), ["word"] * n)
    phrases = _table(index, tokens.start_byte, tokens.end_byte, ["word"] * n)
    tokens.parent = np.arange(n, dtype=np.int64)
    sen_ord = np.cumsum(new_sen) - 1
    par_ord = np.cumsum(new_par) - 1
    phrases.parent = sen_ord
    levels = []
    for mask, kind in ((new_sen, "line"), (new_par, "block")):
        first = np.flatnonzero(mask)
        last = np.append(first[1:] - 1, n - 1)
        levels.append(_table(index, tokens.start_byte[first], tokens.end_byte[last], [kind] * len(first)))
    sentences, paragraphs = levels
    sentences.parent = par_ord[np.flatnonzero(new_sen)]
    paragraphs.name = [None] * len(paragraphs)
    paragraphs.owner_start = paragraphs.start_byte
    paragraphs.owner_end = paragraphs.end_byte
    return Hierarchy(language, [tokens, phrases, sentences, paragraphs], False, reason)


def _empty_run() -> TokenRun:
    return TokenRun([], [], [], [], [], [], [], [], [], [])
