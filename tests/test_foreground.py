"""Completion lists first (r1lsp.foreground): background work started while a list is being made
waits until the list is answered, and never longer than its bound."""

from __future__ import annotations

import threading

from r1lsp import foreground


def _wait_for(predicate) -> None:
    with foreground._cond:
        assert foreground._cond.wait_for(predicate, timeout=60)


def test_background_work_runs_after_the_list_in_flight():
    order: list[str] = []
    with foreground.list_in_flight():
        job = threading.Thread(target=foreground.after_lists, args=(order.append, "background"))
        job.start()
        _wait_for(lambda: foreground.waiting() == 1)                  # the job is held at its start
        order.append("list answered")
    job.join(60)
    assert order == ["list answered", "background"]
    assert foreground.waiting() == 0


def test_without_a_list_background_work_does_not_wait():
    assert foreground.yield_to_lists() == 0.0
    assert foreground.after_lists(lambda x: x + 1, 1) == 2


def test_a_list_that_never_ends_holds_background_work_only_for_the_bound():
    with foreground.list_in_flight():
        foreground.yield_to_lists(max_wait=0.01)                      # returns: it gave up waiting
        assert foreground._in_flight == 1
    assert foreground.waiting() == 0


def test_nested_lists_release_the_work_when_the_last_ends():
    order: list[str] = []
    with foreground.list_in_flight():
        with foreground.list_in_flight():
            job = threading.Thread(target=foreground.after_lists, args=(order.append, "background"))
            job.start()
            _wait_for(lambda: foreground.waiting() == 1)
            order.append("first answered")
        order.append("second answered")
    job.join(60)
    assert order == ["first answered", "second answered", "background"]


def test_start_workers_starts_every_thread_of_an_executor_before_its_first_job():
    """The session's executors have their threads before the first list or ghost text (a
    thread started by the first job's submit held up the event loop in that list)."""
    from concurrent.futures import ThreadPoolExecutor
    from r1lsp.foreground import start_workers
    pool = ThreadPoolExecutor(max_workers=3, thread_name_prefix="test-start-workers")
    try:
        start_workers(pool, 3)
        names = {t.name for t in threading.enumerate() if t.name.startswith("test-start-workers")}
        assert len(names) == 3
        assert pool.submit(lambda: 7).result(timeout=5) == 7
        assert len({t.name for t in threading.enumerate() if t.name.startswith("test-start-workers")}) == 3
    finally:
        pool.shutdown()
