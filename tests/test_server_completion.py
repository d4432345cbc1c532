"""End to end: completion list and ghost text from the real server with a real (small) model."""

from __future__ import annotations

import asyncio

import pytest
import pytest_lsp
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pytest_lsp import ClientServerConfig, LanguageClient

from lsp_support import CONFIG, change_document, edit, initialize, open_document

JAVA = """\
public class Counter {
    private int count;
    private final String label = "größe 😀";

    void increment(int step) {
        count += step;
        cou
    }
}
"""

PYTHON = """\
import os


def walk(root, pattern):
    total = 0
    for entry in os.scandir(root):
        total += 1
    return tot
"""


async def wait_for_log(client: LanguageClient, needle: str) -> types.LogMessageParams:
    while True:
        for message in client.log_messages:
            if needle in message.message:
                return message
        await asyncio.wait_for(client.wait_for_notification(types.WINDOW_LOG_MESSAGE), timeout=120)


async def wait_for_message(client: LanguageClient, needle: str) -> types.ShowMessageParams:
    while True:
        for message in client.messages:
            if needle in message.message:
                return message
        await asyncio.wait_for(client.wait_for_notification(types.WINDOW_SHOW_MESSAGE), timeout=120)


@pytest.fixture
def model_options(tiny_checkpoint, request):
    """The server's options: the small model, plus a test's own (indirect parametrization)."""
    return {"model": {"path": str(tiny_checkpoint), "quantization": "none", "maxTokens": 24},
            **getattr(request, "param", {})}


@pytest_lsp.fixture(config=CONFIG)
async def client(lsp_client: LanguageClient, model_options):
    await initialize(lsp_client, "visual-studio-code", model_options)
    await wait_for_log(lsp_client, "R1 model ready")
    yield
    await lsp_client.shutdown_session()


def labels(result) -> list[str]:
    return [item.label for item in result.items]


async def test_model_load_reports_progress(client: LanguageClient):
    reports = [r for rs in client.progress_reports.values() for r in rs]
    assert any(isinstance(r, types.WorkDoneProgressBegin) and "loading the R1 model" in r.title for r in reports)
    assert any(isinstance(r, types.WorkDoneProgressEnd) and "ready" in (r.message or "") for r in reports)


async def test_java_completion_replaces_the_partial_word(client: LanguageClient):
    uri = "file:///workspace/Counter.java"
    open_document(client, uri, "java", JAVA)
    result = await client.text_document_completion_async(
        types.CompletionParams(types.TextDocumentIdentifier(uri), types.Position(6, 11))
    )
    assert "count" in labels(result)
    item = next(i for i in result.items if i.label == "count")
    assert item.kind == types.CompletionItemKind.Field
    assert item.text_edit.range == types.Range(types.Position(6, 8), types.Position(6, 11))
    assert item.text_edit.new_text == "count"
    # Ranked by the model: every structural candidate carries its model score in the detail.
    assert " · " in item.detail


async def test_python_completion_offers_locals_and_parameters(client: LanguageClient):
    uri = "file:///workspace/walk.py"
    open_document(client, uri, "python", PYTHON)
    result = await client.text_document_completion_async(
        types.CompletionParams(types.TextDocumentIdentifier(uri), types.Position(7, 14))
    )
    assert "total" in labels(result)
    item = next(i for i in result.items if i.label == "total")
    assert item.text_edit.range == types.Range(types.Position(7, 11), types.Position(7, 14))


async def test_inline_completion_answers_with_valid_ghost_text(client: LanguageClient):
    uri = "file:///workspace/walk.py"
    open_document(client, uri, "python", PYTHON)
    result = await client.text_document_inline_completion_async(
        types.InlineCompletionParams(
            context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Invoked),
            text_document=types.TextDocumentIdentifier(uri),
            position=types.Position(7, 14),
        )
    )
    assert isinstance(result, types.InlineCompletionList)
    for item in result.items:  # whatever the small model says, it is inserted at the cursor
        assert item.range.start == item.range.end == types.Position(7, 14)
        assert item.insert_text.strip()


async def test_ghost_text_with_context_from_another_edited_file_while_typing(client: LanguageClient):
    """Two Java files open, one edited (its snippet and the other's class signatures go into the
    prompt), then typing in the other with a ghost-text request per keystroke (each keystroke's
    ghost text is started on didChange): every answer is a valid list at the cursor."""
    item_uri, uri = "file:///workspace/Item.java", "file:///workspace/Counter.java"
    open_document(client, item_uri, "java", "public class Item {\n    int stockLevel() { return 1; }\n}\n")
    open_document(client, uri, "java", JAVA)
    change_document(client, item_uri, 2, [edit((1, 4), (1, 4), "public ")])
    for k, ch in enumerate("nt"):
        change_document(client, uri, 2 + k, [edit((6, 11 + k), (6, 11 + k), ch)])
        result = await client.text_document_inline_completion_async(types.InlineCompletionParams(
            context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Automatic),
            text_document=types.TextDocumentIdentifier(uri), position=types.Position(6, 12 + k)))
        assert isinstance(result, types.InlineCompletionList)
        for item in result.items:
            assert item.range.start == item.range.end == types.Position(6, 12 + k) and item.insert_text.strip()


async def test_ghost_text_where_the_answer_is_clear_is_the_right_line(client: LanguageClient):
    """samples/Inventory.java with `Item dearest = items.stream().max(byPrice).orElseThrow();` cut
    after `max(`, as if typed: the line above (`Item cheapest = items.stream().min(byPrice)...`)
    says how it goes on, so the ghost text is the line's rest (copied with the names renamed,
    r1lsp.line_retrieval), under the server's default confidence gate. The same position is the
    code-server e2e's ghost-line step."""
    from pathlib import Path
    text = (Path(__file__).parent.parent / "samples" / "Inventory.java").read_text(encoding="utf-8")
    lines = text.split("\n")
    row = next(i for i, ln in enumerate(lines) if ln.strip().startswith("Item dearest = "))
    cut = lines[row].index("max(") + len("max(")
    want = lines[row][cut:]
    lines[row] = lines[row][:cut]
    uri = "file:///workspace/Inventory.java"
    open_document(client, uri, "java", "\n".join(lines))
    result = await client.text_document_inline_completion_async(types.InlineCompletionParams(
        context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Invoked),
        text_document=types.TextDocumentIdentifier(uri), position=types.Position(row, cut)))
    assert [item.insert_text for item in result.items] == [want] == ["byPrice).orElseThrow();"]
    assert result.items[0].range.start == result.items[0].range.end == types.Position(row, cut)


@pytest.mark.parametrize("model_options", [{"inline": {"minConfidence": -100}}], indirect=True)
async def test_ghost_text_typed_inside_a_line_stays_on_that_line(client: LanguageClient, model_options):
    """Typing inside a line (here a list's first items, where a name and a comma parse; not a
    comment: the model writes no prose there): each keystroke's ghost text, started on its
    didChange and joined by the request (the first on a cold prompt), is at the cursor and ends
    before the line does."""
    uri = "file:///workspace/walk.py"
    open_document(client, uri, "python", PYTHON.replace("    total = 0\n", "    total = len([root, pattern])\n"))
    ask = lambda col, kind: client.text_document_inline_completion_async(types.InlineCompletionParams(
        context=types.InlineCompletionContext(trigger_kind=kind), text_document=types.TextDocumentIdentifier(uri),
        position=types.Position(4, col)))
    answers = [(17, await ask(17, types.InlineCompletionTriggerKind.Invoked))]    # "    total = len([|root"
    for k, ch in enumerate("all, "):
        change_document(client, uri, 2 + k, [edit((4, 17 + k), (4, 17 + k), ch)])
        answers.append((18 + k, await ask(18 + k, types.InlineCompletionTriggerKind.Automatic)))
    for col, result in answers:
        assert isinstance(result, types.InlineCompletionList)
        for item in result.items:
            assert item.range.start == item.range.end == types.Position(4, col)
            assert item.insert_text.strip() and "\n" not in item.insert_text
    assert any(result.items for _, result in answers)


async def test_cancelled_inline_request_returns_and_the_next_is_served(client: LanguageClient):
    uri = "file:///workspace/Counter.java"
    open_document(client, uri, "java", JAVA)
    params = types.InlineCompletionParams(
        context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Automatic),
        text_document=types.TextDocumentIdentifier(uri),
        position=types.Position(6, 11),
    )
    pending = client.protocol.send_request_async(types.TEXT_DOCUMENT_INLINE_COMPLETION, params, msg_id="inline-1")
    client.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id="inline-1"))
    try:
        result = await asyncio.wait_for(pending, timeout=30)
    except JsonRpcException as exc:  # cancelled while running: RequestCancelled
        assert "cancel" in str(exc).lower()
    else:  # it had already finished: a normal answer
        assert isinstance(result, types.InlineCompletionList)
    follow_up = await client.text_document_completion_async(
        types.CompletionParams(types.TextDocumentIdentifier(uri), types.Position(6, 11))
    )
    assert "count" in labels(follow_up)


async def test_features_switched_off_answer_empty(client: LanguageClient):
    uri = "file:///workspace/Counter.java"
    open_document(client, uri, "java", JAVA)
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(
        settings={"r1lsp": {"features": {"completion": False, "inlineCompletion": False}}}))
    await wait_for_log(client, "settings applied from didChangeConfiguration")
    result = await client.text_document_completion_async(
        types.CompletionParams(types.TextDocumentIdentifier(uri), types.Position(6, 11))
    )
    assert list(result.items) == []


async def test_two_clients_get_answers_for_their_own_documents(model_options):
    clients = [ClientServerConfig(server_command=CONFIG.server_command) for _ in range(2)]
    started = [await c.start() for c in clients]
    try:
        for c in started:
            await initialize(c, "visual-studio-code", model_options)
        open_document(started[0], "file:///a/Counter.java", "java", JAVA)
        open_document(started[1], "file:///b/walk.py", "python", PYTHON)
        await asyncio.gather(*(wait_for_log(c, "R1 model ready") for c in started))
        java, python = await asyncio.gather(
            started[0].text_document_completion_async(
                types.CompletionParams(types.TextDocumentIdentifier("file:///a/Counter.java"), types.Position(6, 11))),
            started[1].text_document_completion_async(
                types.CompletionParams(types.TextDocumentIdentifier("file:///b/walk.py"), types.Position(7, 14))),
        )
        assert "count" in labels(java) and "total" not in labels(java)
        assert "total" in labels(python) and "count" not in labels(python)
    finally:
        for c in started:
            await c.shutdown_session()
            await c.stop()


@pytest.mark.parametrize("problem", ["missing", "corrupt"])
async def test_bad_checkpoint_gives_an_error_message_and_structural_results(problem, tmp_path, tiny_checkpoint):
    if problem == "missing":
        path = tmp_path / "no-such-checkpoint"
    else:
        path = tmp_path / "corrupt"
        path.mkdir()
        for f in tiny_checkpoint.iterdir():
            (path / f.name).write_bytes(f.read_bytes())
        weights = path / "model.safetensors"
        weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 3])
    config = ClientServerConfig(server_command=CONFIG.server_command)
    client = await config.start()
    try:
        await initialize(client, "neovim", {"model": {"path": str(path)}})
        message = await wait_for_message(client, "r1lsp.model.path")
        assert message.type == types.MessageType.Error
        assert ("No model checkpoint" in message.message) if problem == "missing" else ("model.safetensors" in message.message)
        uri = "file:///workspace/Counter.java"
        open_document(client, uri, "java", JAVA)
        result = await client.text_document_completion_async(
            types.CompletionParams(types.TextDocumentIdentifier(uri), types.Position(6, 11)))
        assert "count" in labels(result)  # the structural fallback still works
        ghost = await client.text_document_inline_completion_async(types.InlineCompletionParams(
            context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Invoked),
            text_document=types.TextDocumentIdentifier(uri), position=types.Position(6, 11)))
        # no model text: only what retrieval copies (the rest of `count += step;` above)
        assert [item.insert_text for item in ghost.items] == ["nt += step;"]
    finally:
        await client.shutdown_session()
        await client.stop()
