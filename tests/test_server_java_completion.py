"""End to end over LSP: Java member completion from the type index, ranked by the shipped model."""
from __future__ import annotations

import asyncio
from pathlib import Path

import pytest_lsp
from lsprotocol import types
from pytest_lsp import LanguageClient

from lsp_support import CONFIG, initialize, open_document

ROOT = Path(__file__).resolve().parent.parent
INVENTORY = (ROOT / "samples" / "Inventory.java").read_text("utf-8")
CALL = '        inventory.add("hammer", Category.TOOLS, 12, 9.5);\n'
REQUIRE = '        Objects.requireNonNull(name, "name");\n'


async def wait_for_log(client: LanguageClient, needle: str) -> None:
    while not any(needle in m.message for m in client.log_messages):
        await asyncio.wait_for(client.wait_for_notification(types.WINDOW_LOG_MESSAGE), timeout=180)


@pytest_lsp.fixture(config=CONFIG)
async def client(lsp_client: LanguageClient, tmp_path_factory):
    ws = tmp_path_factory.mktemp("ws")
    (ws / "shop").mkdir()
    (ws / "shop" / "Stock.java").write_text(
        "package shop;\npublic class Stock {\n    public int level() { return 0; }\n"
        "    public void restock(int amount) { }\n}\n")
    (ws / "util").mkdir()
    (ws / "util" / "Checks.java").write_text(
        "package util;\nclass Checks {\n    static void name(String name) {\n" + REQUIRE + "    }\n"
        "    static void label(String name, String label) {\n" + REQUIRE + "    }\n}\n")
    lsp_client.ws = ws
    await initialize(lsp_client, "visual-studio-code", {}, root_uri=ws.as_uri())
    await wait_for_log(lsp_client, "R1 model ready")
    await wait_for_log(lsp_client, "java index:")
    await wait_for_log(lsp_client, "workspace lines:")
    yield
    await lsp_client.shutdown_session()


async def complete_at(client, uri, line, character):
    return await client.text_document_completion_async(
        types.CompletionParams(types.TextDocumentIdentifier(uri), types.Position(line, character)))


async def test_member_access_on_a_samples_class_offers_its_own_members_first(client: LanguageClient):
    assert CALL in INVENTORY
    text = INVENTORY.replace(CALL, "        inventory.\n", 1)
    line = text.splitlines().index("        inventory.")
    uri = (client.ws / "samples" / "Inventory.java").as_uri()
    open_document(client, uri, "java", text)
    result = await complete_at(client, uri, line, len("        inventory."))
    labels = [i.label for i in result.items]
    own = {"add", "select", "valueByCategory", "extremes", "items"}    # main is static
    assert set(labels[:len(own)]) == own, labels[:10]
    assert "main" not in labels and "println" not in labels       # no names merely used elsewhere
    select = next(i for i in result.items if i.label == "select")
    assert select.kind == types.CompletionItemKind.Method
    assert select.detail.startswith("List<Inventory.Item> select(Predicate<Inventory.Item>)")
    assert labels.index("toString") > labels.index("extremes")     # Object's methods after the class's


async def test_jdk_generic_members_and_workspace_classes(client: LanguageClient):
    uri = (client.ws / "shop" / "Use.java").as_uri()
    text = ("package shop;\nimport java.util.*;\nclass Use {\n    void m(Map<String, List<Stock>> all) {\n"
            "        all.get(\"a\").get(0).\n    }\n}\n")
    open_document(client, uri, "java", text)
    result = await complete_at(client, uri, 4, len('        all.get("a").get(0).'))
    labels = [i.label for i in result.items]
    assert set(labels[:2]) == {"level", "restock"}, labels[:6]     # Stock was found by the workspace scan
    text2 = text.replace('all.get("a").get(0).', "all.")
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        types.VersionedTextDocumentIdentifier(uri=uri, version=2),
        [types.TextDocumentContentChangeWholeDocument(text=text2)]))
    result = await complete_at(client, uri, 4, len("        all."))
    by_label = {i.label: i for i in result.items}
    assert {"get", "put", "entrySet", "keySet"} <= set(by_label)
    assert by_label["get"].detail.startswith("List<Stock> get(Object)")


async def test_ghost_text_copies_a_line_of_another_folder_of_the_workspace(client: LanguageClient):
    """A line no open document and no file of the document's folder writes, but two lines of a
    file elsewhere in the workspace do: its rest is the ghost text (r1lsp.workspace_lines)."""
    text = "package app;\nclass Main {\n    void f(String name) {\n        Objects.requireNonNull(\n    }\n}\n"
    uri = (client.ws / "app" / "Main.java").as_uri()
    open_document(client, uri, "java", text)
    at = types.Position(3, len("        Objects.requireNonNull("))
    result = await client.text_document_inline_completion_async(types.InlineCompletionParams(
        context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Invoked),
        text_document=types.TextDocumentIdentifier(uri), position=at))
    assert [item.insert_text for item in result.items] == ['name, "name");']
    assert result.items[0].range.start == result.items[0].range.end == at
