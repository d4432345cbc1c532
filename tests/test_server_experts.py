"""End to end: expert choice shown as diagnostics, refreshed incrementally, with a real model."""

from __future__ import annotations

import asyncio

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import LanguageClient, client_capabilities

from lsp_support import CONFIG, as_plain, change_document, custom_request, edit, initialize, open_document

SETTINGS = {
    "features": {"completion": False, "inlineCompletion": False},
    "diagnostics": {"debounceMs": 0},
}

JAVA = """\
public class Ledger {
    private long balance;

    void deposit(long amount) {
        if (amount <= 0) throw new IllegalArgumentException("amount");
        balance += amount;
    }

    long withdraw(long amount) {
        long taken = Math.min(amount, balance);
        balance -= taken;
        return taken;
    }

    String describe() {
        return "balance=" + balance;
    }
}
"""
URI = "file:///workspace/Ledger.java"


def expert_diagnostics(client: LanguageClient, uri: str = URI) -> list[types.Diagnostic]:
    return [d for d in client.diagnostics.get(uri, []) if d.code == "r1lsp.experts"]


async def wait_for_diagnostics(client: LanguageClient, condition, uri: str = URI) -> list[types.Diagnostic]:
    """Wait (on publishDiagnostics notifications, no sleeping) until ``condition(diagnostics)``."""
    while not condition(expert_diagnostics(client, uri)):
        await asyncio.wait_for(client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS), timeout=120)
    return expert_diagnostics(client, uri)


@pytest_lsp.fixture(config=CONFIG)
async def client(lsp_client: LanguageClient, tiny_checkpoint):
    # The recorded VS Code profile predates pull diagnostics: a push client.
    await initialize(lsp_client, "visual-studio-code", {"model": {"path": str(tiny_checkpoint), "quantization": "none"}, **SETTINGS})
    yield
    await lsp_client.shutdown_session()


async def definitions(client: LanguageClient, uri: str = URI) -> list[types.DocumentSymbol]:
    """The document's classes and methods (documentSymbol, flattened)."""
    out, todo = [], list(await client.text_document_document_symbol_async(
        types.DocumentSymbolParams(types.TextDocumentIdentifier(uri))))
    while todo:
        sym = todo.pop(0)
        out.append(sym)
        todo[:0] = sym.children or []
    return out


def on_one_line(r: types.Range) -> bool:
    return r.start.line == r.end.line


async def test_one_hint_per_class_and_method_on_its_name(client: LanguageClient):
    open_document(client, URI, "java", JAVA)
    diagnostics = await wait_for_diagnostics(client, bool)
    symbols = await definitions(client)
    assert [s.name for s in symbols] == ["Ledger", "deposit", "withdraw", "describe"]
    assert len(diagnostics) == len(symbols)
    lines = JAVA.splitlines()
    for d, sym in zip(sorted(diagnostics, key=lambda d: (d.range.start.line, d.range.start.character)), symbols):
        assert d.range == sym.selection_range and on_one_line(d.range)          # the name, no squiggled body
        assert lines[d.range.start.line][d.range.start.character:d.range.end.character] == sym.name
        assert d.severity == types.DiagnosticSeverity.Hint and d.source == "r1lsp experts"
        assert d.related_information[0].location.range == sym.range             # the whole unit
        assert d.data["unit"]["start"]["line"] == sym.range.start.line and d.data["name"] == sym.name
        assert d.message.startswith("experts ")
        shares = [share for _, share in d.data["experts"]]
        assert abs(sum(shares) - 1) < 0.02 or len(shares) == 8  # the top 8 of 8 experts sum to 1
        assert d.data["whitespace"] >= 0 and d.data["tokens"] > 0 and d.data["surprise"] > 0
        assert d.data["routedVersion"] == 1
    assert client.diagnostic_refresh_count == 0  # a push client is never asked to pull

    levels = as_plain(await custom_request(client, "r1lsp/levels", {"textDocument": {"uri": URI}}))
    paragraphs = [s for s in levels["spans"] if s["level"] == "paragraph"]
    payload = as_plain(await custom_request(client, "r1lsp/experts", {"textDocument": {"uri": URI}}))
    assert payload["ready"] and 0 < len(payload["units"]) <= len(paragraphs)
    for unit in payload["units"]:
        assert abs(sum(s["share"] for s in unit["shares"]) - 1) < 1e-3


async def test_hover_on_a_header_shows_the_breakdown(client: LanguageClient):
    open_document(client, URI, "java", JAVA)
    diagnostics = await wait_for_diagnostics(client, bool)
    withdraw = next(d for d in diagnostics if d.data["name"] == "withdraw")
    hover = await client.text_document_hover_async(types.HoverParams(
        types.TextDocumentIdentifier(URI), types.Position(withdraw.range.start.line, withdraw.range.start.character + 1)))
    text = hover.contents.value
    assert hover.contents.kind == types.MarkupKind.Markdown and hover.range == withdraw.range
    assert "method withdraw" in text and "share of code tokens" in text and "nats/token" in text
    top = withdraw.data["experts"][0][0]
    assert f"| {top} |" in text.splitlines()[4]                               # the top expert first
    body = await client.text_document_hover_async(types.HoverParams(
        types.TextDocumentIdentifier(URI), types.Position(withdraw.range.start.line + 2, 10)))
    assert body is None                                                        # only on headers


async def test_an_edit_reroutes_only_the_touched_method(client: LanguageClient):
    open_document(client, URI, "java", JAVA)
    before = await wait_for_diagnostics(client, bool)
    # Rename a local inside withdraw(): same lines, so every other unit keeps its range.
    line = JAVA.splitlines()[9]
    col = line.index("taken")
    change_document(client, URI, 2, [edit((9, col), (9, col + len("taken")), "given")])
    after = await wait_for_diagnostics(client, lambda ds: any(d.data["routedVersion"] == 2 for d in ds))
    rerouted = [d for d in after if d.data["routedVersion"] == 2]
    assert [d.data["name"] for d in rerouted] == ["withdraw"]
    kept = {(d.range.start.line, d.range.start.character, d.message) for d in after if d.data["routedVersion"] == 1}
    old = {(d.range.start.line, d.range.start.character, d.message) for d in before}
    assert kept and kept <= old
    assert len(kept) == len(before) - 1


async def test_severity_mode_settings_and_switching_off(client: LanguageClient):
    open_document(client, URI, "java", JAVA)
    hints = await wait_for_diagnostics(client, bool)
    assert all(d.severity == types.DiagnosticSeverity.Hint for d in hints)
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(
        settings={"r1lsp": {"diagnostics": {"severity": "information"}}}))
    infos = await wait_for_diagnostics(
        client, lambda ds: ds and all(d.severity == types.DiagnosticSeverity.Information for d in ds))
    assert len(infos) == len(hints)
    # unusual-code mode: only units that stand out in the file (here: at most one of four)
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(
        settings={"r1lsp": {"diagnostics": {"mode": "unusual"}}}))
    unusual = await wait_for_diagnostics(client, lambda ds: all(d.message.startswith("unusual") for d in ds))
    assert len(unusual) <= 1 and all(d.data["unusual"] for d in unusual)
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(
        settings={"r1lsp": {"diagnostics": {"mode": "all", "sentences": True}}}))
    with_statements = await wait_for_diagnostics(client, lambda ds: len(ds) > len(hints))
    statements = [d for d in with_statements if d.data["role"] == "statement"]
    assert statements and all(on_one_line(d.range) for d in statements)
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(
        settings={"r1lsp": {"features": {"expertDiagnostics": False}}}))
    assert await wait_for_diagnostics(client, lambda ds: not ds) == []


async def test_diagnostics_are_cleared_on_close(client: LanguageClient):
    open_document(client, URI, "java", JAVA)
    await wait_for_diagnostics(client, bool)
    client.text_document_did_close(types.DidCloseTextDocumentParams(types.TextDocumentIdentifier(URI)))
    assert await wait_for_diagnostics(client, lambda ds: not ds) == []


async def test_pull_diagnostics_answer_the_same_set(client: LanguageClient):
    open_document(client, URI, "java", JAVA)
    pushed = await wait_for_diagnostics(client, bool)
    report = await client.text_document_diagnostic_async(
        types.DocumentDiagnosticParams(text_document=types.TextDocumentIdentifier(URI)))
    assert [d.message for d in report.items if d.code == "r1lsp.experts"] == [d.message for d in pushed]


# -- clients that pull diagnostics (textDocument/diagnostic) --------------------------------

class Refreshes:
    """Counts the server's workspace/diagnostic/refresh requests; lets a test wait for the next."""

    def __init__(self, client: LanguageClient):
        self.count = 0
        self._changed = asyncio.Condition()
        client.protocol.fm.features.pop(types.WORKSPACE_DIAGNOSTIC_REFRESH, None)  # pytest-lsp's counter

        @client.feature(types.WORKSPACE_DIAGNOSTIC_REFRESH)
        async def refresh(ls: LanguageClient, params: None) -> None:
            async with self._changed:
                self.count += 1
                self._changed.notify_all()

    async def after(self, seen: int, timeout: float = 120) -> None:
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: self.count > seen), timeout)


def pull_capabilities(profile: str, refresh: bool) -> types.ClientCapabilities:
    caps = client_capabilities(profile)
    caps.text_document.diagnostic = types.DiagnosticClientCapabilities(related_document_support=False)
    caps.workspace.diagnostics = types.DiagnosticWorkspaceClientCapabilities(refresh_support=refresh)
    return caps


async def pull(client: LanguageClient, previous: str | None = None) -> types.DocumentDiagnosticReport:
    return await asyncio.wait_for(client.text_document_diagnostic_async(types.DocumentDiagnosticParams(
        text_document=types.TextDocumentIdentifier(URI), previous_result_id=previous)), 180)


def experts_of(report) -> list[types.Diagnostic]:
    return [d for d in report.items if d.code == "r1lsp.experts"]


@pytest_lsp.fixture(config=CONFIG)
async def vscode_pull(lsp_client: LanguageClient, tiny_checkpoint):
    """VS Code as it is now (vscode-languageclient 10): pulls, and refreshes when asked."""
    lsp_client.refreshes = Refreshes(lsp_client)
    await lsp_client.initialize_session(types.InitializeParams(
        capabilities=pull_capabilities("visual-studio-code", refresh=True), root_uri="file:///workspace",
        initialization_options={"model": {"path": str(tiny_checkpoint), "quantization": "none"}, **SETTINGS}))
    yield
    await lsp_client.shutdown_session()


async def pull_until(client: LanguageClient, condition):
    """Pull as VS Code does: now, and again after each refresh the server asks for."""
    while True:
        seen = client.refreshes.count
        report = await pull(client)
        if condition(experts_of(report)):
            return report
        await client.refreshes.after(seen)


async def test_a_pulling_client_gets_pulls_and_refreshes_never_pushes(vscode_pull: LanguageClient):
    client = vscode_pull
    open_document(client, URI, "java", JAVA)
    report = await pull_until(client, bool)
    diagnostics = experts_of(report)
    assert diagnostics and all(d.data["routedVersion"] == 1 for d in diagnostics)
    assert client.refreshes.count >= 1
    # Nothing changed: the same result id comes back as "unchanged".
    again = await pull(client, report.result_id)
    assert again.kind == "unchanged" and again.result_id == report.result_id

    line = JAVA.splitlines()[9]
    col = line.index("taken")
    change_document(client, URI, 2, [edit((9, col), (9, col + len("taken")), "given")])
    after = experts_of(await pull_until(client, lambda ds: any(d.data["routedVersion"] == 2 for d in ds)))
    assert len(after) == len(diagnostics)
    assert len([d for d in after if d.data["routedVersion"] == 2]) == 1

    # A setting changes every diagnostic without an edit: only a refresh can tell the client.
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(
        settings={"r1lsp": {"diagnostics": {"severity": "information"}}}))
    infos = experts_of(await pull_until(
        client, lambda ds: ds and all(d.severity == types.DiagnosticSeverity.Information for d in ds)))
    assert len(infos) == len(diagnostics)

    client.text_document_did_close(types.DidCloseTextDocumentParams(types.TextDocumentIdentifier(URI)))
    symbols = await client.text_document_document_symbol_async(  # a round trip after the close
        types.DocumentSymbolParams(types.TextDocumentIdentifier(URI)))
    assert symbols == []
    assert client.diagnostics == {}  # not one publishDiagnostics in the whole session


@pytest_lsp.fixture(config=CONFIG)
async def neovim_pull(lsp_client: LanguageClient, tiny_checkpoint):
    """The recorded Neovim 0.11 profile declares pull diagnostics without refresh support."""
    caps = client_capabilities("neovim")
    assert caps.text_document.diagnostic is not None and not (caps.workspace.diagnostics or None)
    await initialize(lsp_client, "neovim", {"model": {"path": str(tiny_checkpoint), "quantization": "none"}, **SETTINGS})
    yield
    await lsp_client.shutdown_session()


async def test_a_client_without_refresh_is_answered_once_routing_is_done(neovim_pull: LanguageClient):
    client = neovim_pull
    open_document(client, URI, "java", JAVA)
    # Pulled right after the open: the answer waits for the routing instead of being empty.
    first = experts_of(await pull(client))
    assert len(first) == len(await definitions(client))

    line = JAVA.splitlines()[9]
    col = line.index("taken")
    change_document(client, URI, 2, [edit((9, col), (9, col + len("taken")), "given")])
    second = experts_of(await pull(client))  # the pull a client sends after its edit
    assert len([d for d in second if d.data["routedVersion"] == 2]) == 1
    assert client.diagnostics == {} and client.diagnostic_refresh_count == 0
