"""Shared checks for the structure tests."""
from __future__ import annotations

from pathlib import Path

from model.structure import Hierarchy, Level

FIXTURES = Path(__file__).parent / "fixtures" / "structure"


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


def check_invariants(h: Hierarchy, text: str) -> None:
    """Every token has a unit at each upper level, units of a level are disjoint and in
    order, each unit lies inside its parent, ids index spans, positions match bytes."""
    data = text.encode("utf-8", "surrogatepass")
    spans = h.spans
    assert [s.id for s in spans] == list(range(len(spans)))
    for level in Level:
        units = h.at_level(level)
        for a, b in zip(units, units[1:]):
            assert a.end_byte <= b.start_byte, (a, b)
        for u in units:
            assert 0 <= u.start_byte < u.end_byte <= len(data)
            assert u.level == level
            if level == Level.PARAGRAPH:
                assert u.parent is None
            else:
                p = spans[u.parent]
                assert p.level == level + 1
                assert p.start_byte <= u.start_byte and u.end_byte <= p.end_byte, (u, p)
    # every token reaches a paragraph through a phrase and a sentence
    for tok in h.at_level(Level.TOKEN):
        chain = [tok]
        while chain[-1].parent is not None:
            chain.append(spans[chain[-1].parent])
        assert [s.level for s in chain] == [Level.TOKEN, Level.PHRASE, Level.SENTENCE, Level.PARAGRAPH]
    # every non-space byte is inside a token's paragraph
    paras = h.at_level(Level.PARAGRAPH)
    for tok in h.at_level(Level.TOKEN):
        assert h.enclosing(tok.start_byte, Level.PARAGRAPH) is not None
    if paras:
        assert not data[: paras[0].start_byte].strip() or h.language != "plaintext"


def text_of(text: str, span) -> str:
    return text.encode("utf-8", "surrogatepass")[span.start_byte:span.end_byte].decode("utf-8", "surrogatepass")


def find(h: Hierarchy, text: str, level: Level, excerpt: str, kind: str | None = None):
    hits = [s for s in h.at_level(level) if text_of(text, s) == excerpt and (kind is None or s.kind == kind)]
    assert len(hits) == 1, (excerpt, hits)
    return hits[0]
