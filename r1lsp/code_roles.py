"""The code role of every model token: call, declaration, control flow, literal, type, …, or
comment / whitespace (not code). Expert shares are computed over code tokens only, and expert
labels (`r1lsp.expert_calibration`) name the role an expert prefers.

The node-type -> role table is data, `code_roles.json` (its "about" gives the rule); no language
has code branches here. A token's role is that of the tree-sitter leaf holding its first
non-space byte, so " foo" is a name and "\\n    " whitespace.
"""
from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROLE_FILE = Path(__file__).with_name("code_roles.json")


@dataclass
class RoleTable:
    names: list[str]                                     # role ids, index = code
    labels: dict[str, str]                               # role id -> what a user reads
    not_code: frozenset[str]
    strong: dict[str, dict[str, str]]
    context: dict[str, dict[str, str]]
    boundary: dict[str, set[str]]
    sql_from: str
    sql_to: str
    sql_re: re.Pattern
    identifier_types: set[str]
    keyword_re: re.Pattern

    def code(self, name: str) -> int:
        return self.names.index(name)

    @functools.cached_property
    def is_code(self) -> np.ndarray:
        """(C,) bool: which role codes count as code."""
        return np.array([n not in self.not_code for n in self.names])

    def for_language(self, language: str):
        def merged(d):
            return {**d.get("*", {}), **d.get(language, {})}
        return (merged(self.strong), merged(self.context),
                set(self.boundary.get("*", ())) | set(self.boundary.get(language, ())))


@functools.lru_cache(maxsize=4)
def load_roles(path: str | None = None) -> RoleTable:
    raw = json.loads(Path(path or ROLE_FILE).read_text("utf-8"))
    labels = raw["labels"]
    return RoleTable(
        names=list(labels), labels=labels, not_code=frozenset(raw["not_code"]), strong=raw["strong"],
        context=raw["context"], boundary={k: set(v) for k, v in raw["boundary"].items()},
        sql_from=raw["sql"]["category"], sql_to=raw["sql"]["becomes"], sql_re=re.compile(raw["sql"]["pattern"]),
        identifier_types=set(raw["leaf"]["identifier_types"]), keyword_re=re.compile(raw["leaf"]["keyword_pattern"]))


def leaf_roles(node, data: bytes, language: str, table: RoleTable,
               byte_range: tuple[int, int] | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(start, end, role code) of every non-empty leaf under `node` (a tree or its root node), in
    document order; with `byte_range` only leaves meeting it (subtrees outside are not walked,
    but the ancestors of those inside still give their context)."""
    strong_map, ctx_map, boundary = table.for_language(language)
    codes = {n: i for i, n in enumerate(table.names)}
    ident, keyword_re = table.identifier_types, table.keyword_re
    lo, hi = byte_range if byte_range is not None else (0, 1 << 62)
    starts, ends, cats = [], [], []
    cursor = node.walk()
    stack = [(None, None)]                               # (strong, context) inherited by children
    while True:
        n = cursor.node
        outside = n.end_byte <= lo or n.start_byte >= hi
        if not outside:
            strong, ctx = stack[-1]
            t = n.type
            if strong is None and t in strong_map:
                strong = strong_map[t]
                if strong == table.sql_from and table.sql_re.search(data[n.start_byte:n.end_byte].decode("utf-8", "replace")):
                    strong = table.sql_to
            if t in ctx_map:
                ctx = ctx_map[t]
            elif t in boundary:
                ctx = None
            if cursor.goto_first_child():
                stack.append((strong, ctx))
                continue
            if n.end_byte > n.start_byte:
                if strong is not None:
                    c = strong
                elif ctx is not None:
                    c = ctx
                elif t in ident:
                    c = "name"
                elif keyword_re.match(t):
                    c = "keyword"
                else:
                    c = "operator"
                starts.append(n.start_byte)
                ends.append(n.end_byte)
                cats.append(codes[c])
        while not cursor.goto_next_sibling():
            if not cursor.goto_parent():
                return (np.asarray(starts, np.int64), np.asarray(ends, np.int64), np.asarray(cats, np.int64))
            stack.pop()


_SPACE = np.zeros(256, bool)
_SPACE[[9, 10, 11, 12, 13, 32]] = True


def first_nonspace(data: bytes, token_starts, token_ends) -> np.ndarray:
    """For each token [start, end): its first non-space byte, or its end when it has none."""
    starts = np.asarray(token_starts, np.int64)
    ends = np.asarray(token_ends, np.int64)
    raw = np.frombuffer(data, np.uint8)
    if len(starts) == 0:
        return starts.copy()
    lo = int(min(max(0, starts.min()), len(raw)))
    hi = int(min(len(raw), max(int(ends.max()), lo)))
    seg = raw[lo:hi]
    idx = np.where(_SPACE[seg], hi, np.arange(lo, hi))          # next non-space at or after i
    nxt = np.append(np.minimum.accumulate(idx[::-1])[::-1], hi) if len(seg) else np.array([hi])
    b = nxt[np.clip(starts, lo, hi) - lo]
    return np.minimum(b, ends)


def token_roles(data: bytes, token_starts, token_ends, leaves, table: RoleTable) -> np.ndarray:
    """Role code of each token [start, end): that of the leaf holding its first non-space byte;
    'whitespace' when it has none (unless it lies inside a leaf: spaces in a string or comment
    take the leaf's role), 'other' when that byte is in no leaf."""
    l_start, l_end, l_cat = leaves
    starts = np.asarray(token_starts, np.int64)
    ends = np.asarray(token_ends, np.int64)
    out = np.full(len(starts), table.code("other"), np.int64)
    if len(starts) == 0:
        return out
    b = first_nonspace(data, starts, ends)
    blank = b >= ends
    out[blank] = table.code("whitespace")
    b = np.where(blank, starts, b)
    if len(l_start):
        leaf = np.searchsorted(l_start, b, side="right") - 1
        lc = np.clip(leaf, 0, len(l_start) - 1)
        hit = (leaf >= 0) & (b >= l_start[lc]) & (b < l_end[lc])
        out[hit] = l_cat[lc[hit]]
    return out


def roles_of(tree, data: bytes, language: str, token_starts, token_ends,
             table: RoleTable | None = None) -> np.ndarray:
    """Role codes of tokens [start, end) of `data`, from its tree (None: plain text, every
    non-blank token 'other')."""
    table = table or load_roles()
    starts = np.asarray(token_starts, np.int64)
    ends = np.asarray(token_ends, np.int64)
    if tree is None or len(starts) == 0:
        leaves = (np.zeros(0, np.int64),) * 3
    else:
        root = getattr(tree, "root_node", tree)
        leaves = leaf_roles(root, data, language, table, (int(starts.min()), int(ends.max())))
    return token_roles(data, starts, ends, leaves, table)


def categorize(text: str, language: str, token_starts, token_ends, table: RoleTable | None = None) -> np.ndarray:
    """Parse `text` and return the role code of each token (see `token_roles`)."""
    from model.structure import utf8_bytes
    from model.structure.languages import language_support
    data = utf8_bytes(text)
    support = language_support(language)
    tree = support.parser().parse(data) if support is not None else None
    return roles_of(tree, data, language, token_starts, token_ends, table)


__all__ = ["RoleTable", "categorize", "first_nonspace", "leaf_roles", "load_roles", "roles_of", "token_roles"]
