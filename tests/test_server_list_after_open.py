"""End to end: the first list on a large Python file, asked right after it is opened (before jedi
has parsed it: the server answers from the file's own names without waiting for jedi's first
parse), already offers the class's own members, and the member typed stays on top as the user
types on."""

from __future__ import annotations

import pytest_lsp
from pytest_lsp import LanguageClient

from lsp_support import CONFIG, change_document, complete_at, edit, initialize, open_document

CLASS = """\
class Inventory:
    def __init__(self):
        self.items = {}

    def receive(self, name, count):
        self.items[name] = self.items.get(name, 0) + count

    def ship(self, name, count):
        self.items[name] -= count

    def level(self, name):
        return self.items.get(name, 0)


"""
FILLER = "".join(f"def helper_{i}(values):\n    total = 0\n    for v in values:\n        total += v * {i}\n"
                 f"    return total\n\n\n" for i in range(400))
TEXT = CLASS + FILLER + "def main():\n    inv = Inventory()\n    inv.receive('bolt', 3)\n    inv.\n"
LINE = TEXT.split("\n").index("    inv.")


@pytest_lsp.fixture(config=CONFIG)
async def client(lsp_client: LanguageClient):
    # the default analysis budget (r1lsp.python.analysisBudgetMs), no model: static ranking
    await initialize(lsp_client, "visual-studio-code", {"features": {"inlineCompletion": False,
                                                                     "expertDiagnostics": False},
                                                        "model": {"path": "/nonexistent-checkpoint"}})
    yield
    await lsp_client.shutdown_session()


async def test_the_first_list_after_opening_a_large_file_has_the_class_members(client: LanguageClient, tmp_path):
    uri = (tmp_path / "stock.py").as_uri()
    assert TEXT.count("\n") > 2000
    open_document(client, uri, "python", TEXT)
    first = await complete_at(client, uri, LINE, len("    inv."))           # right after didOpen
    labels = [item.label for item in first.items]
    assert {"receive", "ship", "level", "items"} <= set(labels[:6]), labels[:8]
    # the user types on (the client asks again while the list is incomplete)
    version, typed = 1, ""
    result = first
    for ch in "level"[:3]:
        if not result.is_incomplete:
            break
        version += 1
        change_document(client, uri, version, [edit((LINE, len("    inv.") + len(typed)),
                                                    (LINE, len("    inv.") + len(typed)), ch)])
        typed += ch
        result = await complete_at(client, uri, LINE, len("    inv.") + len(typed))
    assert "level" in [item.label for item in result.items][:3]


async def test_lists_while_jedi_is_pending_keep_offering_the_files_names(client: LanguageClient, tmp_path):
    """Typing on while the analysis is still pending: each list is the edited text's names (made
    ahead, on didChange, once a list had to fall back on them), never an empty or stale list."""
    uri = (tmp_path / "typing.py").as_uri()
    open_document(client, uri, "python", TEXT)
    col = len("    inv.")
    await complete_at(client, uri, LINE, col)
    for version, ch in enumerate("rec", start=2):
        change_document(client, uri, version, [edit((LINE, col), (LINE, col), ch)])
        col += 1
        result = await complete_at(client, uri, LINE, col)
        assert [item.label for item in result.items][:1] == ["receive"]


@pytest_lsp.fixture(config=CONFIG)
async def no_model(lsp_client: LanguageClient):
    await initialize(lsp_client, "visual-studio-code", {"features": {"expertDiagnostics": False},
                                                        "model": {"path": "/nonexistent-checkpoint"}})
    yield
    await lsp_client.shutdown_session()


async def test_ghost_text_copies_a_line_without_a_model(no_model: LanguageClient, tmp_path):
    """The checkpoint cannot be loaded: ghost text still offers the rest of a line that the file's
    parallel lines agree on (copied, no model needed)."""
    from lsprotocol import types
    uri = (tmp_path / "point.py").as_uri()
    text = "class P:\n    def __init__(self, w, x, y):\n        self.w = w\n        self.x = x\n        self.y = \n"
    open_document(no_model, uri, "python", text)
    result = await no_model.text_document_inline_completion_async(types.InlineCompletionParams(
        context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Invoked),
        text_document=types.TextDocumentIdentifier(uri), position=types.Position(4, len("        self.y = "))))
    assert [item.insert_text for item in result.items] == ["y"]
