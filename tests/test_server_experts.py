"""End to end: expert choice shown as diagnostics, refreshed incrementally, with a real model."""

from __future__ import annotations

import asyncio

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import LanguageClient

from lsp_support import CONFIG, as_plain, change_document, custom_request, edit, initialize, open_document

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
    await initialize(lsp_client, "visual-studio-code", {
        "model": {"path": str(tiny_checkpoint), "quantization": "none"},
        "features": {"completion": False, "inlineCompletion": False},
        "diagnostics": {"debounceMs": 0},
    })
    yield
    await lsp_client.shutdown_session()


async def test_one_diagnostic_per_paragraph_after_open(client: LanguageClient):
    open_document(client, URI, "java", JAVA)
    diagnostics = await wait_for_diagnostics(client, bool)
    levels = as_plain(await custom_request(client, "r1lsp/levels", {"textDocument": {"uri": URI}}))
    paragraphs = [s for s in levels["spans"] if s["level"] == "paragraph"]
    ranges = {((s["start"][0], s["start"][1]), (s["end"][0], s["end"][1])) for s in paragraphs}
    assert len(diagnostics) == len(paragraphs)
    for d in diagnostics:
        assert ((d.range.start.line, d.range.start.character), (d.range.end.line, d.range.end.character)) in ranges
        assert d.source == "r1lsp experts" and d.severity == types.DiagnosticSeverity.Information
        assert d.message.startswith("experts ")
        shares = [share for _, share in d.data["experts"]]
        assert abs(sum(shares) - 1) < 0.02 or len(shares) == 8  # the top 8 of 8 experts sum to 1
        assert d.data["routedVersion"] == 1

    payload = as_plain(await custom_request(client, "r1lsp/experts", {"textDocument": {"uri": URI}}))
    assert payload["ready"] and len(payload["units"]) == len(paragraphs)
    for unit in payload["units"]:
        assert abs(sum(s["share"] for s in unit["shares"]) - 1) < 1e-3


async def test_an_edit_reroutes_only_the_touched_paragraph(client: LanguageClient):
    open_document(client, URI, "java", JAVA)
    before = await wait_for_diagnostics(client, bool)
    # Rename a local inside withdraw(): same lines, so every other paragraph keeps its range.
    line = JAVA.splitlines()[9]
    col = line.index("taken")
    change_document(client, URI, 2, [edit((9, col), (9, col + len("taken")), "given")])
    after = await wait_for_diagnostics(client, lambda ds: any(d.data["routedVersion"] == 2 for d in ds))
    rerouted = [d for d in after if d.data["routedVersion"] == 2]
    assert len(rerouted) == 1
    assert rerouted[0].range.start.line <= 9 <= rerouted[0].range.end.line
    kept = {(d.range.start.line, d.range.start.character, d.message) for d in after if d.data["routedVersion"] == 1}
    old = {(d.range.start.line, d.range.start.character, d.message) for d in before}
    assert kept and kept <= old
    assert len(kept) == len(before) - 1


async def test_severity_setting_and_switching_off(client: LanguageClient):
    open_document(client, URI, "java", JAVA)
    await wait_for_diagnostics(client, bool)
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(
        settings={"r1lsp": {"diagnostics": {"severity": "hint"}}}))
    hints = await wait_for_diagnostics(
        client, lambda ds: ds and all(d.severity == types.DiagnosticSeverity.Hint for d in ds))
    assert hints
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
