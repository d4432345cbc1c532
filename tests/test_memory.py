"""r1lsp.memory: the start-up heap is put out of the cyclic collector's reach, so that a full
collection (which stalls every thread of the server) walks only what was made since."""

from __future__ import annotations

import gc
import threading

from r1lsp import memory


def test_freezing_the_startup_heap_leaves_the_collector_less_to_walk():
    before = len(gc.get_objects())
    try:
        frozen = memory.freeze_startup_heap()
        # frozen objects that die later leave the permanent generation (threads of earlier
        # tests may free some meanwhile): the count can only fall from what was frozen
        assert 0 < gc.get_freeze_count() <= frozen
        assert len(gc.get_objects()) < before
        later = [[]]
        later[0].append(later)                                        # a cycle made afterwards
        assert any(o is later for o in gc.get_objects())              # is still the collector's
    finally:
        gc.unfreeze()


def test_full_collections_are_rare_and_run_when_the_server_is_idle(monkeypatch):
    monkeypatch.setattr(memory, "IDLE_COLLECT_S", 0.05)
    memory.collect_when_idle()
    assert gc.get_threshold()[2] == memory.GEN2_THRESHOLD
    freed = threading.Event()

    class Node:
        def __del__(self):
            freed.set()

    gc.disable()                     # the idle collector is then the only one that frees a cycle
    try:
        node = Node()
        node.me = node
        del node
        assert not freed.is_set()
        memory.after_request()       # a request answered; none follows
        assert freed.wait(30), "the cycle was not collected once the server was idle"
    finally:
        gc.enable()
