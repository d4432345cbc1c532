"""One open document: its text, tree and hierarchy, kept current across LSP edits.

An edit is applied to the tree (`tree.edit`) and re-parsed against the old tree. The remap is
local when it can be: the smallest captured paragraph node of the new tree that holds the edit
and all of tree-sitter's changed ranges is re-walked, and if the old hierarchy had a paragraph
owned by a node of the same kind and range (so the structure outside is unchanged), its units
replace the old ones there while every unit after it is shifted. Otherwise the whole document
is remapped. Either way the result equals a fresh `map_structure` of the new text.
"""
from __future__ import annotations

import copy
import itertools
import threading
from dataclasses import dataclass

import numpy as np

from .hierarchy import Hierarchy, HierarchySpan, Level, LevelTable
from .languages import language_support, normalize_language
from .mapping import captured_nodes, collect_tokens, fallback_reason, group_tokens, map_plaintext, map_tree
from .text_index import LineIndex, decode, utf8_bytes, without_lone_surrogates


class PositionError(ValueError):
    """A position or range that cannot be applied to the document."""


@dataclass(frozen=True)
class Edit:
    """One change as the document applied it, for readers that keep their own results per text
    and update them (r1lsp.completion_names): [start, old_end) of the old text became
    [start, new_end) of the new one, and tree-sitter's changed ranges between the two trees
    (new text's bytes) say where else the structure differs."""
    revision: int                              # the document's revision this edit made
    start: int
    old_end: int
    new_end: int
    changed: tuple[tuple[int, int], ...]
    exact: bool                                # neither tree has errors (else the changed ranges may miss some)


MAX_EDITS = 32                  # the edits a document keeps (`edits_since`)
_LINEAGES = itertools.count()


class StructuredDocument:
    """An open document that re-parses and remaps incrementally."""

    def __init__(self, text: str, language: str, version: int = 0):
        self.language = normalize_language(language)
        self.version = version
        self._support = language_support(self.language)
        self._parser = self._support.parser() if self._support else None
        self.local_remaps = 0       # how many edits were remapped locally (for tests/bench)
        self.lineage = next(_LINEAGES)            # this document's texts (its snapshots share it)
        self.revision = -1                        # +1 a change
        self.edits: tuple[Edit, ...] = ()         # the last MAX_EDITS changes, oldest first
        self._reset(text)

    # -- full (re)build -----------------------------------------------------------------
    def _reset(self, text: str) -> None:
        self.revision += 1
        self.edits = ()                           # a new text as a whole: no edit leads to it
        self.text = text
        self._data = utf8_bytes(text)
        self._index = LineIndex(self._data)
        self.tree = None
        reason = fallback_reason(self._data, self.language)
        if self._support is None or reason:
            self.hierarchy = map_plaintext(self._data, self._index, self.language, reason)
        else:
            self.tree = self._parser.parse(self._data)
            # mapped on first use (the hierarchy of a 2,900-line file costs ~30 ms of CPU; an
            # opened document's first completion list does not need it), on a copy of the tree
            # (edits mutate self.tree)
            tree, index, language, support = self.tree.copy(), self._index, self.language, self._support
            self._hierarchy = _Lazy(lambda: map_tree(tree, index, language, support))

    @property
    def hierarchy(self) -> Hierarchy:
        """The four-level hierarchy of the current text (mapped once, by whichever thread asks
        first; a snapshot shares it with the document it was taken from)."""
        return self._hierarchy.get()

    @hierarchy.setter
    def hierarchy(self, value: Hierarchy) -> None:
        self._hierarchy = _Lazy(value=value)

    @property
    def fallback(self) -> str | None:
        """Why the document is mapped as plain text (None: by its grammar), without mapping it."""
        return self.hierarchy.fallback if self.tree is None else None

    def edits_since(self, lineage: int, revision: int) -> tuple[Edit, ...] | None:
        """The edits that made this text from the text of `revision` of document `lineage`
        (oldest first; () when it is that text), None when they are not known (another
        document, a whole new text since, or more edits than are kept)."""
        if lineage != self.lineage or revision > self.revision:
            return None
        if revision == self.revision:
            return ()
        first = self.revision - revision                                # how many edits lead here
        if first > len(self.edits) or self.edits[-first].revision != revision + 1:
            return None
        return self.edits[-first:]

    def _edited(self, s: int, e: int, new_end: int, old_tree, tree) -> None:
        """Keep the edit just applied (`edits`)."""
        changed = tuple((r.start_byte, r.end_byte) for r in old_tree.changed_ranges(tree))
        exact = not (old_tree.root_node.has_error or tree.root_node.has_error)
        self.revision += 1
        self.edits = self.edits[-(MAX_EDITS - 1):] + (Edit(self.revision, s, e, new_end, changed, exact),)

    @property
    def data(self) -> bytes:
        """The text as UTF-8 (`utf8_bytes`: lone surrogates kept), as held, not encoded again."""
        return self._data

    # -- positions ----------------------------------------------------------------------
    def offset_at(self, line: int, character: int) -> int:
        """UTF-16 position -> byte offset, clamped per LSP."""
        return self._index.offset_at(line, character)

    def position_at(self, byte_offset: int) -> tuple[int, int]:
        return self._index.position_at(byte_offset)

    def snapshot(self) -> "StructuredDocument":
        """A copy for reading on another thread while this document keeps changing: edits
        replace text, index and hierarchy (never mutate them) but `tree.edit` mutates the
        old tree, so the snapshot gets its own tree copy. A snapshot is not to be edited."""
        snap = copy.copy(self)
        snap.tree = self.tree.copy() if self.tree is not None else None
        snap._parser = None
        clean = without_lone_surrogates(self.text)
        if clean is not self.text:
            # Readers feed the text to tokenizers and encoders: lone surrogates (kept in the
            # document as the client sent them) become U+FFFD, same length in every unit.
            snap.text = clean
            snap._data = utf8_bytes(clean)
            snap._index = LineIndex(snap._data)
        return snap

    def line_text(self, line: int) -> str:
        """The text of 0-based `line` without its terminator ('' past the end)."""
        index = self._index
        if not 0 <= line < index.line_count:
            return ""
        start, end = index.starts[line], index.content_ends[line]
        return index.data[int(start):int(end)].decode("utf-8", "surrogatepass")

    # -- edits --------------------------------------------------------------------------
    def apply_change(self, new_text: str, start: tuple[int, int] | None = None,
                     end: tuple[int, int] | None = None, version: int | None = None) -> list[HierarchySpan]:
        """Replace the UTF-16 range [start, end) with `new_text` (both None: replace the whole
        document). Returns the paragraphs of the new hierarchy that meet the edited range or
        tree-sitter's changed ranges."""
        if version is not None:
            self.version = version
        if (start is None) != (end is None):
            raise PositionError("a range needs both start and end (or neither)")
        if start is None:
            self._reset(new_text)
            return list(self.hierarchy.at_level(Level.PARAGRAPH))
        try:
            s = self.offset_at(*start)
            e = self.offset_at(*end)
        except (TypeError, ValueError) as exc:
            raise PositionError(f"bad range {start!r}..{end!r}") from exc
        if e < s:
            s, e = e, s
        old_data, old_index, old_tree, old_h = self._data, self._index, self.tree, self.hierarchy
        inserted = utf8_bytes(new_text)
        data = old_data[:s] + inserted + old_data[e:]
        if _joins_surrogates(data, s) or _joins_surrogates(data, s + len(inserted)):
            # A lone high surrogate now meets a lone low one: in UTF-16 (the client's JSON
            # text) that is one character, as JSON decoding makes it: hold it as one.
            self._reset(decode(data).encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass"))
            return list(self.hierarchy.at_level(Level.PARAGRAPH))
        new_end = s + len(inserted)
        self._data = data
        self.text = decode(data)
        self._index = index = LineIndex(data)
        ranges = [(s, new_end)]
        reason = fallback_reason(data, self.language)
        if old_tree is None or reason:
            self._reset(self.text)
            return self.hierarchy.intersecting(ranges)

        old_tree.edit(start_byte=s, old_end_byte=e, new_end_byte=new_end,
                      start_point=old_index.ts_point(s), old_end_point=old_index.ts_point(e),
                      new_end_point=index.ts_point(new_end))
        # tree-sitter's error recovery may differ between an incremental and a fresh parse
        # (anywhere in the tree, not only at the edit): with errors, the tree is a fresh parse
        # (typing on in broken code: parsed afresh at once)
        tree = self._parser.parse(data, old_tree) if not old_tree.root_node.has_error else None
        if tree is None or tree.root_node.has_error:
            tree = self._parser.parse(data)
        self._edited(s, e, new_end, old_tree, tree)
        self.tree = tree
        if _touches_error(tree, s, new_end) or _touches_error(old_tree, s, new_end):
            # where the edit meets broken code, map it all (the hierarchy equals a fresh one)
            self.hierarchy = map_tree(self.tree, index, self.language, self._support)
            return self.hierarchy.intersecting(ranges + [(0, len(data))])
        ranges += list(self.edits[-1].changed)
        local = self._remap_locally(old_h, old_index, old_tree, tree, ranges, s, e, new_end)
        if local is None:
            local = map_tree(tree, index, self.language, self._support)
        else:
            self.local_remaps += 1
        self.hierarchy = local
        return local.intersecting(ranges)

    def _remap_locally(self, old: Hierarchy, old_index: LineIndex, old_tree, tree, ranges, s: int, e: int,
                       new_end: int) -> Hierarchy | None:
        lo = min(a for a, _ in ranges)
        hi = max(b for _, b in ranges)
        root = tree.root_node
        data = self._data
        masks, names = captured_nodes(self._support, root, data, (lo, max(hi, lo + 1)))
        node = root.descendant_for_byte_range(lo, hi)
        while node is not None and not (masks.get(node.id, 0) & 4
                                        and node.start_byte <= lo and hi <= node.end_byte):
            node = node.parent
        if node is None or node.id == root.id:
            return None
        x_start, x_end = node.start_byte, node.end_byte
        if _errors_outside(tree, x_start, x_end) or _errors_outside(old_tree, x_start, x_end):
            # tree-sitter's changed ranges compare nodes by kind, extent and parse state: where a
            # tree has errors a re-parse may change a node's insides without a changed range
            return None
        delta = new_end - e
        old_end = x_end - delta
        # the old hierarchy must have a paragraph owned by a node of this kind and range
        paras = old.tables[Level.PARAGRAPH]
        i = int(np.searchsorted(paras.start_byte, x_start, side="left"))
        if (i >= len(paras) or paras.kind[i] != node.type or paras.owner_start[i] != x_start
                or paras.owner_end[i] != old_end):
            return None
        masks, names = captured_nodes(self._support, root, data, (x_start, x_end))
        region = group_tokens(collect_tokens(node, masks, names), self._index)
        tables = splice(old.tables, region, x_start, old_end, s, e, delta, old_index, self._index)
        return Hierarchy(old.language, tables, root.has_error, None)


class _Lazy:
    """A value made on first use, once (a second thread asking meanwhile waits for it)."""
    __slots__ = ("_make", "_value", "_lock")

    def __init__(self, make=None, value=None):
        self._make, self._value = make, value
        self._lock = threading.Lock() if make is not None else None

    def get(self):
        if self._make is not None:
            with self._lock:
                if self._make is not None:
                    self._value = self._make()
                    self._make = None
        return self._value


def _errors_outside(tree, start: int, end: int) -> bool:
    """Whether `tree` has an error or missing node outside the byte range [start, end) (a node
    on the way down to that range included)."""
    node = tree.root_node
    if not node.has_error:
        return False
    while True:
        if node.is_error or node.is_missing:
            return True
        inner = None
        for child in node.children:
            if child.end_byte <= start or child.start_byte >= end:
                if child.has_error:
                    return True
            elif child.start_byte <= start and end <= child.end_byte and inner is None:
                inner = child                                           # holds the range: go down
            elif child.has_error:
                return True                                             # overlaps the range's edge
        if inner is None or (inner.start_byte == start and inner.end_byte == end):
            return inner is not None and (inner.is_error or inner.is_missing)
        node = inner


def _touches_error(tree, start: int, end: int) -> bool:
    node = tree.root_node.descendant_for_byte_range(start, max(end, start))
    return node is not None and (node.has_error or node.is_missing)


def _joins_surrogates(data: bytes, at: int) -> bool:
    """A high surrogate (ED A0-AF xx, as surrogatepass encodes it) ends right before ``at`` and a
    low one (ED B0-BF xx) starts there."""
    return (3 <= at <= len(data) - 3 and data[at - 3] == 0xED and 0xA0 <= data[at - 2] <= 0xAF
            and data[at] == 0xED and 0xB0 <= data[at + 1] <= 0xBF)


def splice(old: list[LevelTable], region: list[LevelTable], start: int, old_end: int,
           edit_start: int, edit_end: int, delta: int, old_index: LineIndex, index: LineIndex) -> list[LevelTable]:
    """Replace the units of [start, old_end) (old coordinates) with `region` (new coordinates,
    region-relative parents); shift the units after by `delta` bytes. Units before keep their
    positions; units after keep their columns unless they sit near the edit's last line."""
    cut = []
    for t in old:
        sb = t.start_byte
        cut.append((int(np.searchsorted(sb, start, "left")), int(np.searchsorted(sb, old_end, "left"))))
    edit_line = old_index.line_of(edit_end)
    line_delta = index.line_count - old_index.line_count
    out = []
    for lv, (t, r) in enumerate(zip(old, region)):
        i0, i1 = cut[lv]
        after = slice(i1, None)
        sb_after = t.start_byte[after] + delta
        eb_after = t.end_byte[after] + delta
        sl, sc = _shifted(t.start_line[after], t.start_col[after], sb_after, edit_line, line_delta, index)
        el, ec = _shifted(t.end_line[after], t.end_col[after], eb_after, edit_line, line_delta, index)
        if lv < 3:
            p0, p1 = cut[lv + 1]
            parent_delta = len(region[lv + 1]) - (p1 - p0)
            parent = np.concatenate((t.parent[:i0], r.parent + p0, t.parent[after] + parent_delta))
        else:
            parent = np.concatenate((t.parent[:i0], r.parent, t.parent[after]))
        table = LevelTable(
            np.concatenate((t.start_byte[:i0], r.start_byte, sb_after)),
            np.concatenate((t.end_byte[:i0], r.end_byte, eb_after)),
            np.concatenate((t.start_line[:i0], r.start_line, sl)),
            np.concatenate((t.start_col[:i0], r.start_col, sc)),
            np.concatenate((t.end_line[:i0], r.end_line, el)),
            np.concatenate((t.end_col[:i0], r.end_col, ec)),
            parent,
            t.kind[:i0] + r.kind + t.kind[i1:],
        )
        if t.name is not None:
            table.name = t.name[:i0] + r.name + t.name[i1:]
            # owner ranges move like tree-sitter nodes: a start at the insertion point moves
            # with the text after it, an end there stays
            os_, oe = t.owner_start, t.owner_end
            os_ = np.where(os_ >= edit_end, os_ + delta, os_)
            oe = np.where((oe >= edit_end) & (oe > edit_start), oe + delta, oe)
            table.owner_start = np.concatenate((os_[:i0], r.owner_start, os_[after]))
            table.owner_end = np.concatenate((oe[:i0], r.owner_end, oe[after]))
        out.append(table)
    return out


def _shifted(lines, cols, offsets, edit_line, line_delta, index):
    """Positions of units after an edit: lines past the edited one only move down/up."""
    far = lines > edit_line + 1
    new_lines = lines + line_delta
    new_cols = cols.copy()
    near = np.flatnonzero(~far)
    if len(near):
        nl, nc = index.positions(offsets[near])
        new_lines[near] = nl
        new_cols[near] = nc
    return new_lines, new_cols
