"""End to end: the real `r1lsp serve` process over stdio, driven as VS Code, Neovim and Emacs."""

from __future__ import annotations

import pytest
import pytest_lsp
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pytest_lsp import LanguageClient

from lsp_support import (
    CLIENT_PROFILES,
    CONFIG,
    as_plain,
    change_document,
    custom_request,
    edit,
    encoded_column,
    initialize,
    open_document,
)

JAVA = """\
package demo;

/** Prices in € and 😀 — multi-byte text before the code we edit. */
public class Shop {
    private final String label = "café 😀";
    int count() { return label.length(); }

    static int twice(int x) {
        return x * 2;
    }
}
"""


@pytest_lsp.fixture(config=CONFIG, params=CLIENT_PROFILES)
async def client(lsp_client: LanguageClient, request):
    lsp_client.profile = request.param
    # Expert routing has its own tests (test_server_experts.py); here it would only add model work.
    lsp_client.init_result = await initialize(lsp_client, request.param, {"features": {"expertDiagnostics": False}})
    yield
    await lsp_client.shutdown_session()


def symbol_names(symbols) -> list[str]:
    out = []
    for s in symbols:
        out.append(s.name)
        out.extend(symbol_names(s.children or []))
    return out


async def test_initialize_advertises_every_feature(client: LanguageClient):
    caps = client.init_result.capabilities
    assert client.init_result.server_info.name == "r1lsp"
    sync = caps.text_document_sync
    assert sync.change == types.TextDocumentSyncKind.Incremental and sync.open_close
    assert caps.completion_provider is not None
    assert caps.inline_completion_provider is not None
    assert caps.code_action_provider is not None
    assert caps.diagnostic_provider is not None and caps.diagnostic_provider.identifier == "r1lsp"
    assert caps.document_symbol_provider


async def test_open_change_close_with_multibyte_text(client: LanguageClient):
    uri = "file:///workspace/demo/Shop.java"
    open_document(client, uri, "java", JAVA)
    symbols = await client.text_document_document_symbol_async(
        types.DocumentSymbolParams(types.TextDocumentIdentifier(uri))
    )
    assert symbol_names(symbols) == ["Shop", "count", "twice"]

    # Rename `count` to `counter` by typing after it: the line holds no multi-byte text, but
    # the edit on line 4, after the emoji, checks the encoding conversion.
    encoding = client.init_result.capabilities.position_encoding or "utf-16"
    lines = JAVA.splitlines()
    col = lines[5].index("count(") + len("count")
    change_document(client, uri, 2, [edit((5, col), (5, col), "er")])
    # Replace `café 😀` by `tea`: columns after the emoji differ in every encoding.
    line4 = lines[4]
    start = encoded_column(line4, line4.index('"') + 1, encoding)
    end = encoded_column(line4, line4.rindex('"'), encoding)
    change_document(client, uri, 3, [edit((4, start), (4, end), "tea")])

    levels = as_plain(await custom_request(client, "r1lsp/levels", {"textDocument": {"uri": uri}}))
    assert levels["version"] == 3
    assert levels["language"] == "java"
    symbols = await client.text_document_document_symbol_async(
        types.DocumentSymbolParams(types.TextDocumentIdentifier(uri))
    )
    assert symbol_names(symbols) == ["Shop", "counter", "twice"]
    counter = symbols[0].children[0]
    assert (counter.selection_range.start.line, counter.selection_range.start.character) == (5, 8)
    assert counter.selection_range.end.character == 15
    # The server's own view of line 4: the string literal is now exactly `"tea"`.
    literal = [s for s in levels["spans"] if s["kind"] == "string_literal" and s["start"][0] == 4]
    assert len(literal) == 1
    new_line4 = line4.replace("café 😀", "tea")
    assert literal[0]["start"] == [4, new_line4.index('"')]
    assert literal[0]["end"] == [4, new_line4.index('"') + 5]

    client.text_document_did_close(types.DidCloseTextDocumentParams(types.TextDocumentIdentifier(uri)))
    with pytest.raises(JsonRpcException, match="document not open"):
        await custom_request(client, "r1lsp/levels", {"textDocument": {"uri": uri}})


async def test_levels_request_reports_the_hierarchy(client: LanguageClient):
    uri = "file:///workspace/tool.py"
    text = "import os\n\n\ndef main(argv):\n    return [a.upper() for a in argv]\n"
    open_document(client, uri, "python", text)
    levels = as_plain(await custom_request(client, "r1lsp/levels", {"textDocument": {"uri": uri}}))
    assert levels["language"] == "python"
    spans = levels["spans"]
    paragraphs = [s for s in spans if s["level"] == "paragraph"]
    assert any(s.get("name") == "main" for s in paragraphs)
    # Every span has a parent at a higher level, except paragraphs.
    by_id = {s["id"]: s for s in spans}
    order = ["token", "phrase", "sentence", "paragraph"]
    for s in spans:
        if s["level"] != "paragraph":
            assert order.index(by_id[s["parent"]]["level"]) == order.index(s["level"]) + 1


async def test_unknown_language_falls_back_to_lines_and_blocks(client: LanguageClient):
    uri = "file:///workspace/notes.txt"
    open_document(client, uri, "markdown", "first line\nsecond line\n\nnew block\n")
    levels = as_plain(await custom_request(client, "r1lsp/levels", {"textDocument": {"uri": uri}}))
    assert levels["language"] == "plaintext"
    assert len([s for s in levels["spans"] if s["level"] == "paragraph"]) == 2
    assert len([s for s in levels["spans"] if s["level"] == "sentence"]) == 3


async def test_bad_input_is_answered_and_the_server_keeps_serving(client: LanguageClient):
    uri = "file:///workspace/A.java"
    open_document(client, uri, "java", "class A { void f() { int x = 1; } }\n")
    # A change to a document that was never opened: ignored.
    change_document(client, "file:///workspace/Nope.java", 2, [edit((0, 0), (0, 0), "x")])
    # Positions far past the end: completion answers (nothing to offer), edits are clamped.
    result = await client.text_document_completion_async(
        types.CompletionParams(types.TextDocumentIdentifier(uri), types.Position(500, 900))
    )
    assert result is not None and list(result.items) == []
    change_document(client, uri, 2, [edit((40, 3), (90, 0), "// tail\n")])
    # Binary-looking and very large documents.
    open_document(client, "file:///workspace/blob.java", "java", "\x00\x01\x02\ufffd" * 1000)
    big = "class Big {\n" + "".join(f"    int f{i}() {{ return {i}; }}\n" for i in range(300_000)) + "}\n"
    assert len(big.encode()) > 9_000_000
    open_document(client, "file:///workspace/Big.java", "java", big)
    # Malformed params to a custom request: a clear error, not a crash.
    with pytest.raises(JsonRpcException, match="textDocument"):
        await custom_request(client, "r1lsp/levels", {"nope": 1})
    # The server still serves everything.
    levels = as_plain(await custom_request(client, "r1lsp/levels", {"textDocument": {"uri": uri}}))
    assert levels["version"] == 2
    blob = as_plain(await custom_request(client, "r1lsp/levels", {"textDocument": {"uri": "file:///workspace/blob.java"}}))
    assert blob["spans"]
    window = {"start": {"line": 100, "character": 0}, "end": {"line": 102, "character": 0}}
    big_levels = as_plain(await custom_request(
        client, "r1lsp/levels", {"textDocument": {"uri": "file:///workspace/Big.java"}, "range": window}))
    assert big_levels["spans"]
    assert all(s["start"][0] <= 102 and s["end"][0] >= 100 for s in big_levels["spans"])
