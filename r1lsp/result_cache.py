"""The engine's result cache: least-recently-used, bounded in entries and in bytes, keyed by a
digest of what a result depends on (request kind, token ids, level ids, parameters)."""

from __future__ import annotations

import collections
import hashlib
import threading

import numpy as np


def nbytes(value, depth: int = 0) -> int:
    """About how many bytes ``value`` holds (arrays, tensors, strings, containers, objects)."""
    if isinstance(value, np.ndarray):
        return value.nbytes + 112
    if hasattr(value, "element_size") and hasattr(value, "nelement"):            # a torch tensor
        return value.element_size() * value.nelement() + 112
    if isinstance(value, (str, bytes)):
        return len(value) + 56
    if depth > 4:
        return 64
    if isinstance(value, (list, tuple)):
        return 56 + 8 * len(value) + sum(nbytes(v, depth + 1) for v in value if not isinstance(v, (int, float)))
    if isinstance(value, dict):
        return 64 + sum(nbytes(v, depth + 1) + 64 for v in value.values())
    fields = getattr(value, "__dict__", None)
    if fields:
        return 64 + sum(nbytes(v, depth + 1) for v in fields.values())
    return 32


class ResultCache:
    """Least-recently-used results, bounded in entries and in bytes (route traces of long
    paragraphs are large: 4,096 of them held 1.3 GB under a fuzzed editing session)."""

    def __init__(self, capacity: int, max_bytes: int = 64 * 1024 * 1024):
        self.capacity = capacity
        self.max_bytes = max_bytes
        self.data: collections.OrderedDict = collections.OrderedDict()
        self.sizes: dict = {}
        self.bytes = 0
        self.hits = self.misses = 0
        self.lock = threading.Lock()

    def get(self, key):
        with self.lock:
            if key in self.data:
                self.data.move_to_end(key)
                self.hits += 1
                return self.data[key]
            self.misses += 1
            return None

    def put(self, key, value) -> None:
        size = nbytes(value)
        with self.lock:
            if size > self.max_bytes:
                return
            self.bytes += size - self.sizes.get(key, 0)
            self.sizes[key] = size
            self.data[key] = value
            self.data.move_to_end(key)
            while len(self.data) > self.capacity or self.bytes > self.max_bytes:
                old, _ = self.data.popitem(last=False)
                self.bytes -= self.sizes.pop(old, 0)

    def clear(self) -> None:
        with self.lock:
            self.data.clear()
            self.sizes.clear()
            self.bytes = 0


def digest(*parts) -> bytes:
    h = hashlib.blake2b(digest_size=16)
    for p in parts:
        if isinstance(p, np.ndarray):
            h.update(np.ascontiguousarray(p, dtype=np.int64).tobytes())
        else:
            h.update(repr(p).encode())
        h.update(b"\x00")
    return h.digest()
