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


def test_a_lists_job_runs_before_the_queued_others_which_wait_for_the_list(monkeypatch):
    """The jedi worker's order: a job a list waits for first, the others after the list."""
    monkeypatch.setattr(foreground, "MAX_WAIT_S", 60.0)               # however slow this machine is
    worker = foreground.ListFirstWorker("test-list-first")
    release, order = threading.Event(), []
    busy = worker.submit(release.wait)                                 # running: never interrupted
    ghost = worker.submit(order.append, "ghost text's analysis")
    with foreground.list_in_flight():
        with foreground.making_list():
            listed = worker.submit(order.append, "the list's details", urgent=foreground.making_a_list())
        release.set()
        listed.result(timeout=60)
        assert order == ["the list's details"] and not ghost.done()   # held while the list is made
    ghost.result(timeout=60)
    assert busy.result(timeout=60) and order == ["the list's details", "ghost text's analysis"]
    assert not foreground.making_a_list()


def test_a_job_queued_unwaited_goes_first_once_a_list_waits_for_it():
    worker = foreground.ListFirstWorker("test-hurry")
    release, order = threading.Event(), []
    worker.submit(release.wait)
    other = worker.submit(order.append, "other")
    asked = worker.submit(order.append, "asked on open")               # e.g. jedi's answer asked at didOpen
    worker.hurry(asked)
    release.set()
    asked.result(timeout=60)
    other.result(timeout=60)
    assert order == ["asked on open", "other"]


def test_a_cancelled_job_never_runs_and_a_failing_one_reports_its_error():
    worker = foreground.ListFirstWorker("test-cancel")
    release, order = threading.Event(), []
    worker.submit(release.wait)
    dropped = worker.submit(order.append, "dropped")
    assert dropped.cancel()
    failing = worker.submit(lambda: 1 / 0)
    release.set()
    try:
        failing.result(timeout=60)
        raise AssertionError("no error")
    except ZeroDivisionError:
        pass
    assert worker.submit(lambda: 7).result(timeout=60) == 7 and order == []
