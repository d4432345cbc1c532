"""Completion lists first: while a list is being made, background Python work waits at its next
safe point (`yield_to_lists`).

Why: the server is one process, and pure-Python work holds the GIL whatever thread runs it.
A list needs ~10-40 ms of CPU; with three other threads running Python (jedi parsing a file just
opened, expert routing, the engine's per-op overhead, a ghost-text prompt being built) a 38 ms
loop took 330 ms of wall time on the 2 loaded cores this project runs on, and the server's log
with a stack sampler showed lists stalled 0.4-1.2 s while other threads ran (jedi's first parse,
tree-sitter queries, the model's Python between its ops). Background work that nobody
is waiting for (first parse of a document, routing, prompt warm-ups) therefore checks here
before it starts a chunk, and waits while a list is in flight (bounded: a list is tens of ms,
and a stuck one must not stop the rest). Work a list itself waits for must not call this.
"""
from __future__ import annotations

import collections
import contextlib
import threading
import time
from concurrent.futures import Future

_cond = threading.Condition()
_in_flight = 0
_waiting = 0                   # background jobs waiting in `yield_to_lists`

MAX_WAIT_S = 0.5               # the longest a background chunk waits for lists to finish


@contextlib.contextmanager
def list_in_flight():
    """Mark a completion list as being made (from its request's arrival to its answer)."""
    global _in_flight
    with _cond:
        _in_flight += 1
    try:
        yield
    finally:
        with _cond:
            _in_flight -= 1
            if _in_flight == 0:
                _cond.notify_all()


_marked = threading.local()


@contextlib.contextmanager
def making_list():
    """Mark the current thread as the one making a completion list: the analysis jobs it waits
    for go first (`ListFirstWorker`)."""
    before = getattr(_marked, "list", False)
    _marked.list = True
    try:
        yield
    finally:
        _marked.list = before


def making_a_list() -> bool:
    """Whether the current thread is making a completion list (`making_list`)."""
    return getattr(_marked, "list", False)


def waiting() -> int:
    """How many background jobs are waiting for lists now."""
    return _waiting


def yield_to_lists(max_wait: float = MAX_WAIT_S) -> float:
    """Wait until no completion list is in flight (at most `max_wait` s); the seconds waited."""
    global _waiting
    if _in_flight == 0:                                                 # the common case: no lock
        return 0.0
    start = time.monotonic()
    deadline = start + max_wait
    with _cond:
        _waiting += 1
        _cond.notify_all()
        try:
            while _in_flight:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                _cond.wait(left)
        finally:
            _waiting -= 1
    return time.monotonic() - start


def after_lists(fn, *args, **kwargs):
    """fn(*args, **kwargs) once the lists in flight are answered (a background job's first step)."""
    yield_to_lists()
    return fn(*args, **kwargs)


def start_workers(executor, n: int, timeout: float = 5.0) -> None:
    """Start `n` worker threads of a ThreadPoolExecutor now, at start-up: it starts one at a
    submit that finds none idle, and `Thread.start` waits until the new thread runs, holding up
    the caller (the event loop, in a document's first list) while other threads hold the GIL."""
    barrier = threading.Barrier(n)

    def meet():
        try:
            barrier.wait(timeout)             # every task waits for the others: n threads at once
        except threading.BrokenBarrierError:
            pass
    for _ in range(n):
        executor.submit(meet)


class ListFirstWorker:
    """One thread running jobs (`submit` returns a `concurrent.futures.Future`), a completion
    list's first: a job submitted `urgent` (one a list waits for) runs before every queued
    other one, and the others start only while no list is in flight (`list_in_flight`; after
    MAX_WAIT_S of lists they start anyway: a stuck list must not stop them). A job already
    running is not interrupted.

    Why: jedi's single worker ran its jobs in order, and a list's job (its item details, the
    answer it waits for) queued behind a ghost text's analysis of its own generated text or
    behind a document's import signatures (50-300 ms of jedi CPU each) waited its whole budget
    out and answered without them."""

    def __init__(self, name: str):
        self._urgent: collections.deque = collections.deque()
        self._other: collections.deque = collections.deque()
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.thread.start()

    def submit(self, fn, /, *args, urgent: bool = False, **kwargs) -> Future:
        fut: Future = Future()
        with _cond:
            (self._urgent if urgent else self._other).append((fut, fn, args, kwargs))
            _cond.notify_all()
        return fut

    def hurry(self, fut: Future) -> None:
        """Run a queued job first (a list waits for it now); nothing if it started already."""
        with _cond:
            for job in self._other:
                if job[0] is fut:
                    self._other.remove(job)
                    self._urgent.append(job)
                    _cond.notify_all()
                    return

    def _next(self):
        held_since = None
        with _cond:
            while True:
                for queue in (self._urgent, self._other):
                    while queue and queue[0][0].cancelled():
                        queue.popleft()
                if self._urgent:
                    return self._urgent.popleft()
                if self._other:
                    if not _in_flight:
                        return self._other.popleft()
                    now = time.monotonic()
                    held_since = held_since or now
                    if now - held_since >= MAX_WAIT_S:
                        return self._other.popleft()
                    _cond.wait(held_since + MAX_WAIT_S - now)
                else:
                    held_since = None
                    _cond.wait()

    def _run(self) -> None:
        while True:
            fut, fn, args, kwargs = self._next()
            if not fut.set_running_or_notify_cancel():
                continue
            try:
                result = fn(*args, **kwargs)
            except BaseException as exc:                                # the waiter sees it
                fut.set_exception(exc)
            else:
                fut.set_result(result)
            del fut, fn, args, kwargs
