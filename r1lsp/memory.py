"""Keep the server's resident memory near what it uses (glibc only; a no-op elsewhere).

The model work runs on several threads (the engine's, the tokenizer's, the executor's) and
glibc gives each its own malloc arena; memory freed in an arena (activations, token arrays,
2 MB documents) is kept for reuse rather than handed back, so the resident size of a
long session climbs with the peak of every thread. `limit_arenas` (at start-up, before any
thread allocates) caps the arenas; `trim` hands freed pages back, at most every few seconds.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import time

M_ARENA_MAX = -8
_libc: ctypes.CDLL | None | bool = None
_last_trim = 0.0


def _lib():
    global _libc
    if _libc is None:
        try:
            name = ctypes.util.find_library("c")
            _libc = ctypes.CDLL(name) if name else False
        except OSError:
            _libc = False
    return _libc


def limit_arenas(count: int = 2) -> None:
    lib = _lib()
    if lib and hasattr(lib, "mallopt"):
        lib.mallopt(M_ARENA_MAX, count)


def trim(min_interval: float = 5.0) -> None:
    """Return freed heap pages to the OS (rate-limited: at most once per ``min_interval`` s)."""
    global _last_trim
    now = time.monotonic()
    if now - _last_trim < min_interval:
        return
    _last_trim = now
    lib = _lib()
    if lib and hasattr(lib, "malloc_trim"):
        lib.malloc_trim(0)
