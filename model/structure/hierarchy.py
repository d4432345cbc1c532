"""The four-level hierarchy of one document: token < phrase < sentence < paragraph.

At every level the units partition the document's tokens into runs (a unit is a run of
consecutive tokens, its extent runs from the first token's start to the last token's end), so
units of one level never overlap and every unit lies inside exactly one unit of the next level.
A syntax node that another unit of its level interrupts (an `if` whose body holds statements,
a class around its methods) therefore shows up as several units of the same kind, one per run.

Storage is columnar (numpy arrays per level) so that an incremental remap can splice and shift
thousands of units without building Python objects; `HierarchySpan` objects are made on demand.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Sequence

import numpy as np


def renumber_first_appearance(ids: np.ndarray) -> np.ndarray:
    """Map the values of a 1-D array to 0, 1, 2, ... in order of first appearance: how a
    window's unit ids become model level ids, in training (``model.data``) and inference
    (``r1lsp.experts``) alike."""
    uniq, first, inv = np.unique(ids, return_index=True, return_inverse=True)
    rank = np.empty(len(uniq), dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(len(uniq))
    return rank[inv.reshape(-1)]


class Level(enum.IntEnum):
    TOKEN = 0
    PHRASE = 1
    SENTENCE = 2
    PARAGRAPH = 3


@dataclass(frozen=True)
class HierarchySpan:
    id: int                      # unique within one Hierarchy; index into Hierarchy.spans
    level: Level
    kind: str                    # tree-sitter node type, or "line"/"block"/"word" for fallback units
    start_byte: int              # UTF-8 byte offsets into the document
    end_byte: int
    start: tuple[int, int]       # (line, UTF-16 column), 0-based, LSP style
    end: tuple[int, int]
    parent: int | None           # id of the enclosing span at the next higher level
    name: str | None = None      # definition name for paragraphs when known


@dataclass
class LevelTable:
    """The units of one level, in document order, as parallel columns."""
    start_byte: np.ndarray
    end_byte: np.ndarray
    start_line: np.ndarray
    start_col: np.ndarray
    end_line: np.ndarray
    end_col: np.ndarray
    parent: np.ndarray           # ordinal of the enclosing unit one level up; -1 for paragraphs
    kind: list[str]
    name: list[str | None] | None = None       # paragraphs only
    # paragraphs only: the byte range of the syntax node that owns the unit (the unit's own
    # extent for synthesized blocks); lets an incremental remap recognise an unchanged owner
    owner_start: np.ndarray | None = None
    owner_end: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.kind)

    @staticmethod
    def empty(with_owner: bool = False) -> "LevelTable":
        z = np.zeros(0, np.int64)
        return LevelTable(z, z, z, z, z, z, z, [], [] if with_owner else None,
                          z if with_owner else None, z if with_owner else None)

    def same_as(self, other: "LevelTable") -> bool:
        cols = ("start_byte", "end_byte", "start_line", "start_col", "end_line", "end_col", "parent")
        return (self.kind == other.kind and (self.name or []) == (other.name or [])
                and all(np.array_equal(getattr(self, c), getattr(other, c)) for c in cols))


_LEVEL_NAMES = {lv: lv.name.lower() for lv in Level}


class Hierarchy:
    """The token/phrase/sentence/paragraph units of one document."""

    def __init__(self, language: str, tables: Sequence[LevelTable], has_errors: bool,
                 fallback: str | None = None):
        self.language = language
        self.has_errors = has_errors
        # why the document was mapped by the plain-text rules despite its language (None if not)
        self.fallback = fallback
        self.tables = list(tables)
        counts = [len(t) for t in self.tables]
        self._base = [sum(counts[:i]) for i in range(5)]  # first id of each level; [4] = total
        self._level_spans: list[list[HierarchySpan] | None] = [None] * 4
        self._spans: list[HierarchySpan] | None = None

    # -- spans --------------------------------------------------------------------------
    @property
    def spans(self) -> list[HierarchySpan]:
        """All units, tokens first, then phrases, sentences, paragraphs; document order
        within each level. `spans[i].id == i`."""
        if self._spans is None:
            self._spans = [s for lv in Level for s in self.at_level(lv)]
        return self._spans

    def at_level(self, level) -> list[HierarchySpan]:
        level = Level(level)
        cached = self._level_spans[level]
        if cached is None:
            t = self.tables[level]
            base = self._base[level]
            pbase = self._base[level + 1] if level < Level.PARAGRAPH else 0
            names = t.name if t.name is not None else [None] * len(t)
            cols = zip(t.kind, t.start_byte.tolist(), t.end_byte.tolist(), t.start_line.tolist(),
                       t.start_col.tolist(), t.end_line.tolist(), t.end_col.tolist(), t.parent.tolist(), names)
            cached = self._level_spans[level] = [
                HierarchySpan(base + i, level, k, sb, eb, (sl, sc), (el, ec), None if p < 0 else pbase + p, nm)
                for i, (k, sb, eb, sl, sc, el, ec, p, nm) in enumerate(cols)
            ]
        return cached

    def count(self, level) -> int:
        return len(self.tables[Level(level)])

    def span(self, level, ordinal: int) -> HierarchySpan:
        level = Level(level)
        cached = self._level_spans[level]
        return cached[ordinal] if cached is not None else self._span(level, ordinal)

    def _span(self, level: Level, i: int) -> HierarchySpan:
        t = self.tables[level]
        parent = int(t.parent[i])
        return HierarchySpan(
            id=self._base[level] + i, level=level, kind=t.kind[i],
            start_byte=int(t.start_byte[i]), end_byte=int(t.end_byte[i]),
            start=(int(t.start_line[i]), int(t.start_col[i])),
            end=(int(t.end_line[i]), int(t.end_col[i])),
            parent=None if parent < 0 else self._base[level + 1] + parent,
            name=t.name[i] if t.name is not None else None,
        )

    def ordinal(self, span_id: int) -> tuple[Level, int]:
        """Level and ordinal of a span id."""
        for lv in reversed(Level):
            if span_id >= self._base[lv]:
                return lv, span_id - self._base[lv]
        raise IndexError(span_id)

    # -- lookups ------------------------------------------------------------------------
    def enclosing(self, byte_offset: int, level) -> HierarchySpan | None:
        """The unit of `level` whose extent [start_byte, end_byte) holds the offset, or None
        (whitespace between units, or past the end)."""
        level = Level(level)
        t = self.tables[level]
        i = int(np.searchsorted(t.start_byte, byte_offset, side="right")) - 1
        if i >= 0 and byte_offset < t.end_byte[i]:
            return self.span(level, i)
        return None

    def unit_ids(self, byte_offsets: Sequence[int]) -> list[tuple[int, int, int]]:
        """(phrase, sentence, paragraph) ordinals for each byte offset. An offset between
        units (whitespace) gets the last unit that starts at or before it; one before the
        first unit gets unit 0. An empty document gives (0, 0, 0)."""
        offsets = np.asarray(byte_offsets, dtype=np.int64)
        cols = []
        for lv in (Level.PHRASE, Level.SENTENCE, Level.PARAGRAPH):
            starts = self.tables[lv].start_byte
            idx = np.searchsorted(starts, offsets, side="right") - 1
            cols.append(np.clip(idx, 0, max(len(starts) - 1, 0)).tolist())
        return list(zip(*cols))

    def intersecting(self, ranges: Sequence[tuple[int, int]], level=Level.PARAGRAPH) -> list[HierarchySpan]:
        """Units of `level` meeting any byte range [a, b); an empty range [a, a] meets the
        units that hold or touch offset a."""
        level = Level(level)
        t = self.tables[level]
        found: set[int] = set()
        for a, b in ranges:
            lo = int(np.searchsorted(t.end_byte, a, side="left"))
            if b > a:
                hi = int(np.searchsorted(t.start_byte, b, side="left"))
                lo = int(np.searchsorted(t.end_byte, a, side="right"))
            else:
                hi = int(np.searchsorted(t.start_byte, a, side="right"))
            found.update(range(lo, hi))
        return [self.span(level, i) for i in sorted(found)]

    # -- comparison and output ----------------------------------------------------------
    def __eq__(self, other) -> bool:
        if not isinstance(other, Hierarchy):
            return NotImplemented
        return (self.language == other.language and self.has_errors == other.has_errors
                and all(a.same_as(b) for a, b in zip(self.tables, other.tables)))

    __hash__ = None  # mutable caches; compare by value only

    def __repr__(self) -> str:
        counts = ", ".join(f"{_LEVEL_NAMES[lv]}s={len(self.tables[lv])}" for lv in Level)
        return f"Hierarchy({self.language!r}, {counts}, has_errors={self.has_errors})"

    def to_dict(self, byte_range: tuple[int, int] | None = None) -> dict:
        """JSON-able form; with `byte_range`, only the units (of every level) meeting it."""
        if byte_range is None:
            spans = self.spans
        else:
            spans = [s for lv in Level for s in self.intersecting([byte_range], lv)]
        return {
            "language": self.language,
            "has_errors": self.has_errors,
            "fallback": self.fallback,
            "counts": {_LEVEL_NAMES[lv]: len(self.tables[lv]) for lv in Level},
            "spans": [
                {"id": s.id, "level": _LEVEL_NAMES[s.level], "kind": s.kind,
                 "start_byte": s.start_byte, "end_byte": s.end_byte,
                 "start": list(s.start), "end": list(s.end), "parent": s.parent, "name": s.name}
                for s in spans
            ],
        }
