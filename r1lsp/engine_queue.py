"""The engine's requests and its queue's policy: the request record and its future, which
requests a take of the worker gets (typing first, background work after a pause), in which
batches generate requests run, and how a request's future is settled (r1lsp.engine)."""
from __future__ import annotations

import collections
import enum
import threading
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass, field
from typing import Callable

import numpy as np


class EngineState(str, enum.Enum):
    LOADING = "loading"
    READY = "ready"
    FAILED = "failed"
    CLOSED = "closed"

    def __str__(self) -> str:
        return self.value


class EngineFuture(Future):
    """A Future whose `cancel()` also raises the request's cancel flag."""

    def __init__(self, flag: threading.Event):
        super().__init__()
        self._flag = flag

    def cancel(self) -> bool:
        self._flag.set()
        return super().cancel()


@dataclass
class Request:
    kind: str                                   # "generate" | "score" | "route" | "fill"
    key: str | None
    ids: list[int]
    levels: np.ndarray | None                   # (T, 3) or None
    future: EngineFuture
    flag: threading.Event
    external: object = None                     # the caller's Event / callable, or None
    params: dict = field(default_factory=dict)
    cache_key: bytes | None = None
    submitted: float = 0.0                      # time.monotonic() when queued (stage timings)

    release: Callable[[], None] = lambda: None   # forget the key once done (set by the engine)

    def cancelled(self) -> bool:
        if self.flag.is_set() or self.future.cancelled():
            return True
        ext = self.external
        if ext is not None and (ext.is_set() if hasattr(ext, "is_set") else bool(ext())):
            self.flag.set()
            return True
        return False


BATCH_WAIT_ROUNDS = 5          # the longest a take waits for more requests, in batch_wait_ms
BACKGROUND = ("fill", "route")     # work the engine runs only after a pause in typing


def take_interactive_first(queue: collections.deque, n: int) -> list:
    """Up to n requests off the queue: generate and score requests (someone is typing), else
    one prompt fill's chunk, else route requests (expert diagnostics, which re-route whole
    paragraphs), each kind in order."""
    interactive = [r for r in queue if r.kind not in BACKGROUND][:n]
    # background work only in a take of its own (the engine starts it after a pause in typing)
    taken = interactive or [r for r in queue if r.kind == "fill"][:1] or [r for r in queue if r.kind == "route"][:n]
    ids = {id(r) for r in taken}
    rest = [r for r in queue if id(r) not in ids]
    queue.clear()
    queue.extend(rest)
    return taken


def prefix_waves(reqs: list[Request]) -> list[list[Request]]:
    """Generate requests in batches whose prefix-cache keys differ: two rows of one batch cannot
    share one key's cache (the second would start cold), so a later request with the same key
    (a ghost-text request after an earlier one for the same document) runs after the first, reusing it."""
    waves: list[list[Request]] = []
    for r in reqs:
        key = r.params.get("prefix_key")
        for wave in waves:
            if key is None or all(o.params.get("prefix_key") != key for o in wave):
                wave.append(r)
                break
        else:
            waves.append([r])
    return waves


def drop_if_cancelled(r: Request) -> bool:
    if r.cancelled():
        r.future.cancel()
        return True
    return False


def resolve(r: Request, value=None, exc: BaseException | None = None) -> None:
    """Set a future's outcome unless it was cancelled meanwhile."""
    r.release()
    if r.future.done():
        return
    try:
        if exc is not None:
            r.future.set_exception(exc)
        else:
            r.future.set_result(value)
    except InvalidStateError:                                          # cancelled in between
        pass

