"""The file's names for the completion list (r1lsp.completion_names): kept by chunk of the tree,
made again after an edit only where the text or tree-sitter's structure changed, and always
the same as the names made from scratch, in the same order (first declarations win, ties keep
the first: the list's order depends on it)."""
from __future__ import annotations

import random
import sysconfig
from pathlib import Path

import pytest

from model.structure import StructuredDocument
from r1lsp import completion_names as names

ROOT = Path(__file__).resolve().parents[1]
STDLIB = Path(sysconfig.get_paths()["stdlib"])


def _sources() -> list[tuple[str, str, str]]:
    files = [(p, "python") for p in (STDLIB / "argparse.py", STDLIB / "tarfile.py")]
    files += [(p, "python" if p.suffix == ".py" else "java") for p in sorted((ROOT / "samples").iterdir())
              if p.suffix in (".py", ".java")]
    files += [(p, "java") for p in sorted((ROOT / "tests" / "fixtures" / "heldout").glob("*.java"))[:4]]
    return [(p.name, lang, p.read_text("utf-8")) for p, lang in files if p.is_file()]


def _whole(doc: StructuredDocument) -> str:
    """The names from one query over the whole tree (repr: dict orders count too)."""
    made, _ = names._document_names(doc, None, None)
    return repr(made)


@pytest.mark.parametrize("name,language,text", _sources(), ids=lambda v: v if isinstance(v, str) and len(v) < 40 else "")
def test_names_by_chunk_equal_the_whole_tree_query(name, language, text):
    doc = StructuredDocument(text, language)
    for chunk_bytes in (names.CHUNK_BYTES, 200):
        made, chunks = names._document_names(doc, None, chunk_bytes)
        assert repr(made) == _whole(doc)
        assert len(chunks) > 1                                          # chunked, no fallback to one


SNIPPETS = ["x", "e", "_", ".", "(", ")", "\n", "\n    ", ":", "self.", "'", '"', "[", "]", "{", "}", ";", " = 1",
            "def g(self, a):\n        return a\n", "class K:\n    pass\n", "int y = 2;", "import os\n", "# note\n",
            "for i in range(3):\n", "    ", '"""', "*/", "/*"]


def _edit(doc: StructuredDocument, rng: random.Random) -> None:
    """A random edit of the kinds typing makes: characters and lines typed, text deleted or replaced."""
    lines = doc.text.split("\n")
    line = rng.randrange(len(lines))
    col = rng.randrange(len(lines[line]) + 1)
    r = rng.random()
    if r < 0.6:
        doc.apply_change(rng.choice(SNIPPETS), (line, col), (line, col))
    elif r < 0.85:
        doc.apply_change("", (line, col), (line, min(len(lines[line]), col + rng.randrange(1, 8))))
    else:
        end = min(len(lines) - 1, line + rng.randrange(0, 4))
        doc.apply_change(rng.choice(SNIPPETS), (line, col), (end, 0))


@pytest.mark.parametrize("chunk_bytes", [names.CHUNK_BYTES, 200])
def test_names_after_edits_equal_the_names_made_from_scratch(monkeypatch, chunk_bytes):
    monkeypatch.setattr(names, "CHUNK_BYTES", chunk_bytes)
    rng = random.Random(13)
    for name, language, text in _sources():
        doc = StructuredDocument(text, language)
        names.document_names(doc.snapshot())
        for _ in range(8 if len(text) > 20_000 else 16):
            _edit(doc, rng)
            if rng.random() < 0.2:
                _edit(doc, rng)                                         # two edits between two lists
            snap = doc.snapshot()
            assert repr(names.document_names(snap)) == _whole(snap), (name, doc.text)


def test_typing_queries_only_the_chunk_typed_in(monkeypatch):
    """After a character typed in the middle of a 2,500-line file, the query runs over the one
    chunk holding the edit; the names equal those made from scratch."""
    queried = []
    query = names._query_chunks
    monkeypatch.setattr(names, "_query_chunks", lambda doc, chunks, todo, kept: (queried.append((len(chunks), len(todo))),
                                                                                 query(doc, chunks, todo, kept)))
    text = (STDLIB / "argparse.py").read_text("utf-8")
    doc = StructuredDocument(text, "python")
    names.document_names(doc.snapshot())
    line = next(i for i, s in enumerate(text.split("\n")) if i > 1200 and s.strip().startswith("return "))
    col = text.split("\n")[line].index("return") + len("return ")
    for k, ch in enumerate("xyz"):
        doc.apply_change(ch, (line, col + k), (line, col + k))
        snap = doc.snapshot()
        assert repr(names.document_names(snap)) == _whole(snap)
        chunks, todo = queried[-2]                                      # [-1]: the whole-tree reference
        assert chunks > 100 and todo == 1


@pytest.mark.parametrize("text,language", [
    ("[" * 3000 + "1" + "]" * 3000 + "\n" + "def f(a):\n    return a\n" * 200, "python"),
    ("class A { void f() { " + "{" * 3000 + "}" * 3000 + " } }", "java")])
def test_names_of_code_nested_thousands_deep(text, language):
    """The walk over the chunks does not recurse: brackets nested 3,000 deep are named as one query names them."""
    doc = StructuredDocument(text, language)
    assert repr(names.document_names(doc)) == _whole(doc)
