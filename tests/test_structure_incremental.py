"""StructuredDocument: incremental edits equal a fresh map; clamping; size limits."""
from __future__ import annotations

import random

import pytest

from model.structure import (MAX_SYNTAX_BYTES, Level, PositionError, StructuredDocument, map_structure)

from test_structure_helpers import check_invariants, fixture

SNIPPETS = ["x", " ", "\n", ";", "{", "}", "(", ")", "é", "😀", "\r\n", "\r", "foo(a, b)", "return 1;",
            "    ", '"', "#", "/*", "*/", ":", "def g():\n    pass\n", "int q = 2;\n", "\n\n"]


def random_edit(rng: random.Random, doc: StructuredDocument):
    lines = doc.text.splitlines() or [""]
    line = rng.randrange(len(lines) + 1)
    col = rng.randrange(0, 30)
    if rng.random() < 0.5:
        end = (line, col)
    else:
        end = (line + rng.choice([0, 0, 1, 2]), rng.randrange(0, 30))
        if end < (line, col):
            end = (line, col)
    new = "" if rng.random() < 0.3 else "".join(rng.choice(SNIPPETS) for _ in range(rng.randint(1, 3)))
    return new, (line, col), end


def reference_apply(text: str, doc_before: StructuredDocument, new: str, start, end) -> str:
    data = text.encode("utf-8", "surrogatepass")
    s, e = doc_before.offset_at(*start), doc_before.offset_at(*end)
    return (data[:s] + new.encode("utf-8", "surrogatepass") + data[e:]).decode("utf-8", "surrogatepass")


@pytest.mark.parametrize("name,lang,seed", [("Shop.java", "java", 1), ("shop.py", "python", 2),
                                            ("Broken.java", "java", 3), ("shop.py", "plaintext", 4)])
def test_random_edits_equal_fresh_map(name, lang, seed):
    rng = random.Random(seed)
    doc = StructuredDocument(fixture(name), lang)
    for step in range(220):
        new, start, end = random_edit(rng, doc)
        expected_text = reference_apply(doc.text, doc, new, start, end)
        s = doc.offset_at(*start)
        changed = doc.apply_change(new, start, end, version=step + 1)
        assert doc.text == expected_text
        assert doc.version == step + 1
        fresh = map_structure(doc.text, lang)
        assert doc.hierarchy == fresh, f"step {step}: {new!r} at {start}-{end}"
        holder = doc.hierarchy.enclosing(s, Level.PARAGRAPH)
        if holder is not None:
            assert holder in changed
    check_invariants(doc.hierarchy, doc.text)


def test_typing_in_a_method_remaps_locally_and_reports_that_method():
    text = fixture("Shop.java")
    doc = StructuredDocument(text, "java")
    line = text.splitlines().index("        int doubled = x * 2;")
    for i, ch in enumerate("abc"):
        changed = doc.apply_change(ch, (line, 16 + i), (line, 16 + i))
        assert [p.name for p in changed] == ["count"]
    assert doc.local_remaps == 3
    assert "int doubabcled = x * 2;" in doc.text
    assert doc.hierarchy == map_structure(doc.text, "java")
    # spans after the edit moved by 3 bytes, the ones before did not
    h0 = map_structure(text, "java")
    after = [p for p in doc.hierarchy.at_level(Level.PARAGRAPH) if p.name == "names"][0]
    before = [p for p in h0.at_level(Level.PARAGRAPH) if p.name == "names"][0]
    assert after.start_byte == before.start_byte + 3 and after.start == before.start


def test_full_replacement_and_version():
    doc = StructuredDocument("int x;", "java", version=3)
    changed = doc.apply_change("class A { void f() {} }", version=4)
    assert doc.version == 4 and doc.text == "class A { void f() {} }"
    assert [p.name for p in changed] == ["A", "f", "A"]
    assert doc.hierarchy == map_structure(doc.text, "java")


def test_positions_clamp_like_lsp():
    doc = StructuredDocument("ab\r\né😀z\nlast", "python")
    assert doc.offset_at(0, 99) == 2            # past line end -> line end (before \r\n)
    assert doc.offset_at(1, 1) == 6             # after 'é' (2 bytes)
    assert doc.offset_at(1, 2) == 6             # inside the emoji's surrogate pair -> its start
    assert doc.offset_at(1, 3) == 10
    assert doc.offset_at(9, 0) == len(doc.text.encode())  # past last line -> document end
    assert doc.offset_at(-1, 5) == 0
    assert doc.position_at(10) == (1, 3)
    assert doc.position_at(3) == (0, 2)         # between \r and \n -> line end
    assert doc.position_at(10_000) == (2, 4)
    doc.apply_change("!", (1, 99), (7, 99))
    assert doc.text == "ab\r\né😀z!"
    assert doc.hierarchy == map_structure(doc.text, "python")
    with pytest.raises(PositionError):
        doc.apply_change("x", (0, 0), None)


def test_huge_and_binary_documents_are_mapped_by_lines():
    line = "public static int value = compute(alpha, beta) + 42; // 😀 comment\n"
    text = line * (10 * 1024 * 1024 // len(line.encode()))
    h = map_structure(text, "java")             # by lines, not parsed (speed: bench/structure_bench.py)
    assert h.fallback and "exceeds" in h.fallback
    assert h.count(Level.SENTENCE) == text.count("\n")
    assert h.count(Level.PARAGRAPH) == 1
    last = h.at_level(Level.SENTENCE)[-1]
    assert last.end[1] == len(line.rstrip("\n")) + 1   # the emoji counts 2 UTF-16 units, 4 bytes
    assert len(text.encode()) > MAX_SYNTAX_BYTES

    rng = random.Random(7)
    blob = bytes(rng.randrange(256) for _ in range(200_000)).decode("latin-1")
    hb = map_structure(blob, "java")
    assert hb.fallback and "binary" in hb.fallback
    check_invariants(hb, blob)
    lone = "x = '\udcff'\n" + "\x00" * 10
    doc = StructuredDocument(lone, "python")
    doc.apply_change("y", (0, 0), (0, 1))
    assert doc.hierarchy == map_structure(doc.text, "python")


def test_the_hierarchy_is_mapped_once_on_first_use_and_shared_with_snapshots():
    """Opening a document parses it; its hierarchy is mapped when first asked for (a completion
    list does not need it), once, by whichever thread asks first, for the snapshots too."""
    import threading
    text = fixture("shop.py")
    doc = StructuredDocument(text, "python")
    snaps = [doc.snapshot() for _ in range(4)]
    got, start = [], threading.Barrier(len(snaps))

    def ask(snap):
        start.wait()
        got.append(snap.hierarchy)

    threads = [threading.Thread(target=ask, args=(s,)) for s in snaps]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(got) == len(snaps) and all(h is doc.hierarchy for h in got)
    assert doc.hierarchy == map_structure(text, "python")
    assert doc.fallback is None


def test_an_edit_before_the_hierarchy_was_asked_for_equals_a_fresh_map():
    doc = StructuredDocument(fixture("Shop.java"), "java")
    doc.apply_change("int added = 1;\n", (3, 0), (3, 0))            # nobody asked for the hierarchy yet
    assert doc.hierarchy == map_structure(doc.text, "java")
    edited = StructuredDocument(fixture("shop.py"), "python")
    edited.apply_change("x", (2, 0), (2, 0))
    edited.apply_change("", (2, 0), (2, 1))
    assert edited.hierarchy == map_structure(fixture("shop.py"), "python")


def test_fallback_is_known_without_mapping():
    assert StructuredDocument("a\x00b", "python").fallback == "document looks binary (NUL byte)"
    assert StructuredDocument("just words", "plaintext").fallback is None
    assert StructuredDocument("x = 1\n", "python").fallback is None


def test_an_edit_that_leaves_an_error_elsewhere_equals_a_fresh_map():
    """Deleting from `if (` up to the line after leaves a stray `}` that closes the method early:
    the errors lie after the edit, where an incremental parse recovers from them differently
    from a fresh parse (the hierarchy kept one method and a class body too few)."""
    doc = StructuredDocument(fixture("Shop.java"), "java")
    assert doc.text.split("\n")[18].strip() == "if (doubled > 10) {"
    doc.apply_change("", (18, 5), (20, 3))
    assert doc.text.split("\n")[18] == "          }"
    assert doc.tree.root_node.has_error
    assert doc.hierarchy == map_structure(doc.text, "java")
    check_invariants(doc.hierarchy, doc.text)
    doc.apply_change("x", (17, 8), (17, 8))                # typing on, away from the errors
    assert doc.hierarchy == map_structure(doc.text, "java")


def test_the_edits_a_document_hands_over_lead_from_an_earlier_text_to_its_text():
    """`edits_since` (what r1lsp.completion_names updates its names by): each edit turns one
    text into the next; a snapshot knows them too; a whole new text, or another document, has
    none that lead there."""
    doc = StructuredDocument(fixture("shop.py"), "python")
    rev, texts = doc.revision, [doc.data]
    for new, start, end in [("xy", (3, 4), (3, 4)), ("", (5, 0), (6, 0)), ("zz\n", (1, 2), (1, 5))]:
        doc.apply_change(new, start, end)
        texts.append(doc.data)
    edits = doc.snapshot().edits_since(doc.lineage, rev)
    assert [ed.revision for ed in edits] == [rev + 1, rev + 2, rev + 3]
    for ed, old, new in zip(edits, texts, texts[1:]):
        assert new == old[:ed.start] + new[ed.start:ed.new_end] + old[ed.old_end:]
        assert len(new) - len(old) == ed.new_end - ed.old_end
    assert doc.edits_since(doc.lineage, doc.revision) == ()
    assert StructuredDocument(doc.text, "python").edits_since(doc.lineage, rev) is None
    doc.apply_change(doc.text + "\n")                                   # no range: a whole new text
    assert doc.edits_since(doc.lineage, rev) is None
