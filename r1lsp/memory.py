"""Keep the server's resident memory near what it uses (glibc only; a no-op elsewhere).

The model work runs on several threads (the engine's, the tokenizer's, the executor's) and
glibc gives each its own malloc arena; memory freed in an arena (activations, token arrays,
2 MB documents) is kept for reuse rather than handed back, so the resident size of a
long session climbs with the peak of every thread. `limit_arenas` (at start-up, before any
thread allocates) caps the arenas and fixes glibc's mmap threshold at 1 MB; `trim` hands
freed pages back, at most every few seconds.

The mmap threshold. glibc serves a large block (a tensor of a forward pass) from its own
mapping, returned to the system on free, but each such free raises the threshold (up to
32 MB), so after the first big forward the activations of every later one come from the heap
and stay there. Routing eight 2,048-token rows left the server at 817 MB after a 1.3 GB peak
with the dynamic threshold; at a fixed 1 MB it went back to where it was before the forward
(491 MB), at the same speed (8 x 2,048-token route requests through the shipped r1-tiny).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import threading
import time

M_ARENA_MAX = -8
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 1 << 20
_libc: ctypes.CDLL | None | bool = None
_last_trim = 0.0

# The cyclic collector's full pass (generation 2) walks every tracked object holding the GIL:
# 90-230 ms in the serving process with jedi's trees of a few 2,000-line files (measured with
# gc.callbacks), and it fell on completion lists at random (bench/lsp_latency: the 100-200 ms
# lists of a run). The server makes full passes rare (`GEN2_THRESHOLD` gen-1 passes instead of
# CPython's 10) and runs one when it has been idle `IDLE_COLLECT_S` after a request instead.
GEN2_THRESHOLD = 1000
IDLE_COLLECT_S = 2.0
_idle = threading.Condition()
_last_request = 0.0
_collect_pending = False
_collector: threading.Thread | None = None


def _lib():
    global _libc
    if _libc is None:
        try:
            name = ctypes.util.find_library("c")
            _libc = ctypes.CDLL(name) if name else False
        except OSError:
            _libc = False
    return _libc


def limit_arenas(count: int = 2, mmap_threshold: int = MMAP_THRESHOLD) -> None:
    lib = _lib()
    if lib and hasattr(lib, "mallopt"):
        lib.mallopt(M_ARENA_MAX, count)
        lib.mallopt(M_MMAP_THRESHOLD, mmap_threshold)    # fixed: no dynamic raise (see above)


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


def after_request() -> None:
    """A request was answered: trim (rate-limited) and, once no other request has come for
    `IDLE_COLLECT_S`, a full collection (only where `collect_when_idle` started the collector)."""
    global _last_request, _collect_pending
    trim()
    if _collector is not None:
        with _idle:
            _last_request = time.monotonic()
            _collect_pending = True
            _idle.notify()


def collect_when_idle() -> None:
    """Make the collector's full passes rare and run them when the server is idle (see
    `GEN2_THRESHOLD`); idempotent."""
    global _collector
    with _idle:
        if _collector is not None:
            return
        gen0, gen1, _ = gc.get_threshold()
        gc.set_threshold(gen0, gen1, GEN2_THRESHOLD)
        _collector = threading.Thread(target=_idle_collections, name="r1lsp-idle-gc", daemon=True)
        _collector.start()


def _idle_collections() -> None:
    global _collect_pending
    while True:
        with _idle:
            while not _collect_pending or time.monotonic() < _last_request + IDLE_COLLECT_S:
                _idle.wait(None if not _collect_pending else _last_request + IDLE_COLLECT_S - time.monotonic())
            _collect_pending = False
        gc.collect()


def freeze_startup_heap() -> int:
    """Collect, then put every object alive now (imported modules, jedi's builtins and stubs,
    the usage prior, ...) out of the cyclic collector's reach (`gc.freeze`); how many. A full
    collection walks the whole heap holding the GIL: with jedi and the model loaded it took
    0.9-1.2 s on the loaded 2 cores (540 K objects), a stall of every thread, lists included, at a
    random moment; with the start-up heap frozen, 0.4 s. Objects that exist at start-up live as
    long as the server (a frozen cycle that became garbage would stay: there are none of size)."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()

