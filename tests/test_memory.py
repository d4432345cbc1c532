"""r1lsp.memory: the start-up heap is put out of the cyclic collector's reach, so that a full
collection (which stalls every thread of the server) walks only what was made since."""

from __future__ import annotations

import gc

from r1lsp import memory


def test_freezing_the_startup_heap_leaves_the_collector_less_to_walk():
    before = len(gc.get_objects())
    try:
        frozen = memory.freeze_startup_heap()
        assert frozen == gc.get_freeze_count() > 0
        assert len(gc.get_objects()) < before
        later = [[]]
        later[0].append(later)                                        # a cycle made afterwards
        assert any(o is later for o in gc.get_objects())              # is still the collector's
    finally:
        gc.unfreeze()
