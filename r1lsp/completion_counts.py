"""How often names occur in a document (`NameCounts`), for the completion list's ranking, and
the memo both kinds of a text's names are kept in (`_remember`: the requests of one document
version share them, a second thread asking while they are made waits for the first's)."""
from __future__ import annotations

import collections
import concurrent.futures
import re
import threading

_IDENT = re.compile(r"[A-Za-z_$\u00c0-\uffff][\w$\u00c0-\uffff]*")

_REMEMBER_LOCK = threading.Lock()
_MAKING: dict = {}                 # (table id, key) -> Future of a value being made


def _remember(table: collections.OrderedDict, key, make, size: int = 2):
    """table[key], made by make() when missing (once: a second thread asking meanwhile waits
    for the first's); the `size` most recent kept."""
    with _REMEMBER_LOCK:
        if key in table:
            table.move_to_end(key)
            return table[key]
        making = _MAKING.get((id(table), key))
        mine = making is None
        if mine:
            making = _MAKING[(id(table), key)] = concurrent.futures.Future()
    if not mine:
        return making.result()
    try:
        value = make()
    except BaseException as exc:
        with _REMEMBER_LOCK:
            del _MAKING[(id(table), key)]
        making.set_exception(exc)
        raise
    with _REMEMBER_LOCK:
        table[key] = value
        while len(table) > size:
            table.popitem(last=False)
        del _MAKING[(id(table), key)]
    making.set_result(value)
    return value


class NameCounts:
    """How often names occur in the document: anywhere (`names`), as a member (`.name`:
    `members`) and per receiver (`recv.name`: `pairs`). The member counts are made when first
    read (only a list after a dot reads them: the others, a document's first list among them,
    do not pay for them)."""

    def __init__(self, names: collections.Counter, pairs_of):
        self.names = names
        self._pairs_of = pairs_of              # () -> pairs, until they are counted
        self._pairs: collections.Counter | None = None
        self._members: collections.Counter | None = None
        self._lock = threading.Lock()

    @property
    def pairs(self) -> collections.Counter:
        return self._member_counts()[0]

    @property
    def members(self) -> collections.Counter:
        return self._member_counts()[1]

    def _member_counts(self) -> tuple[collections.Counter, collections.Counter]:
        if self._pairs is None:
            with self._lock:
                if self._pairs is None:
                    pairs = self._pairs_of()
                    members = collections.Counter()
                    for (_, m), n in pairs.items():
                        members[m] += n
                    self._members, self._pairs, self._pairs_of = members, pairs, None
        return self._pairs, self._members

    @classmethod
    def of(cls, text: str) -> "NameCounts":
        """The counts of `text` (kept for the last texts; a text that differs from the last one
        counted in a small region, as after a keystroke, is counted there only)."""
        return _remember(_COUNTS, text, lambda: cls._from_last(text))

    @classmethod
    def _from_last(cls, text: str) -> "NameCounts":
        with _REMEMBER_LOCK:
            last = next(reversed(_COUNTS.items()), None)
        if last is not None:
            old_text, old = last
            (a0, a1), (b0, b1) = _changed_region(old_text, text)
            if (a1 - a0) + (b1 - b0) < len(text) // 4:
                removed, added = old_text[a0:a1], text[b0:b1]
                names = _replaced(old.names, collections.Counter(_IDENT.findall(removed)),
                                  collections.Counter(_IDENT.findall(added)))
                base = old._pairs                  # the old text's member counts, if they were made
                if base is None:
                    return cls(names, lambda: _pair_counts(text))
                return cls(names, lambda: _replaced(base, _pair_counts(removed), _pair_counts(added)))
        return cls._count(text, lazy=True)

    @classmethod
    def _count(cls, text: str, lazy: bool = False) -> "NameCounts":
        counts = cls(collections.Counter(_IDENT.findall(text)), lambda: _pair_counts(text))
        if not lazy:
            counts._member_counts()
        return counts


def _pair_counts(text: str) -> collections.Counter:
    """(receiver, member) -> uses of `receiver.member` in `text`."""
    # a pair starts where a name starts: without (?<![\w$]) the search backtracks through
    # every suffix of a name not followed by a dot (a 2 MB name: a worker stuck for hours)
    return collections.Counter(re.findall(r"(?<![\w$])([\w$]+)\s*\.\s*([\w$]+)", text))


def _replaced(counts: collections.Counter, removed: collections.Counter, added: collections.Counter) -> collections.Counter:
    """`counts` with a region's counts (`removed`) replaced by another's (`added`)."""
    c = counts.copy()
    c.subtract(removed)
    c.update(added)
    for k in removed:
        if c[k] <= 0:
            del c[k]
    return c


_COUNTS: collections.OrderedDict = collections.OrderedDict()


def _changed_region(old: str, new: str, margin_lines: int = 3) -> tuple[tuple[int, int], tuple[int, int]]:
    """(start, end) in `old` and in `new` of the region where they differ, widened to whole
    lines and `margin_lines` more on each side (a `recv . name` pair can span lines: one that
    crosses the region's edge lies in text both have alike, so it is counted alike in both)."""
    prefix, suffix = _common_ends(old, new)
    start = prefix
    for _ in range(margin_lines + 1):
        start = max(0, new.rfind("\n", 0, max(start - 1, 0)) + 1) if start > 0 else 0
    end = len(new) - suffix
    for _ in range(margin_lines + 1):
        nl = new.find("\n", end)
        end = len(new) if nl < 0 else nl + 1
    tail = len(new) - end                                               # inside the common suffix
    return (start, len(old) - tail), (start, end)


def _common_ends(old, new) -> tuple[int, int]:
    """The lengths of the longest common prefix of two strings (or byte strings) and of their
    longest common suffix after it."""
    lo, hi = 0, min(len(old), len(new))
    while lo < hi:                                                      # common prefix
        mid = (lo + hi + 1) // 2
        if old[:mid] == new[:mid]:
            lo = mid
        else:
            hi = mid - 1
    prefix = lo
    lo, hi = 0, min(len(old), len(new)) - prefix
    while lo < hi:                                                      # common suffix (after the prefix)
        mid = (lo + hi + 1) // 2
        if old[len(old) - mid:] == new[len(new) - mid:]:
            lo = mid
        else:
            hi = mid - 1
    return prefix, lo
