"""Shared pieces of the end-to-end LSP tests: the real server over stdio, real client profiles."""

from __future__ import annotations

import sys
from typing import Any

from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

SERVER_COMMAND = [sys.executable, "-m", "r1lsp", "serve"]
CONFIG = ClientServerConfig(server_command=SERVER_COMMAND)

# Recorded capabilities of real editors (shipped with pytest-lsp). They negotiate different
# position encodings: VS Code UTF-16, Neovim 0.11 UTF-8, Emacs 29 UTF-32.
CLIENT_PROFILES = ["visual-studio-code", "neovim", "emacs"]


def encoded_column(line_text: str, column_utf32: int, encoding: str) -> int:
    """A column given in characters, expressed in the client's position encoding."""
    prefix = line_text[:column_utf32]
    if encoding == "utf-8":
        return len(prefix.encode("utf-8"))
    if encoding == "utf-16":
        return len(prefix.encode("utf-16-le")) // 2
    return len(prefix)


async def initialize(client: LanguageClient, profile: str, options: Any = None,
                     root_uri: str = "file:///workspace") -> types.InitializeResult:
    return await client.initialize_session(
        types.InitializeParams(
            capabilities=client_capabilities(profile),
            initialization_options=options,
            root_uri=root_uri,
        )
    )


def open_document(client: LanguageClient, uri: str, language_id: str, text: str, version: int = 1) -> None:
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(types.TextDocumentItem(uri=uri, language_id=language_id, version=version, text=text))
    )


def change_document(client: LanguageClient, uri: str, version: int, changes: list) -> None:
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(types.VersionedTextDocumentIdentifier(uri=uri, version=version), changes)
    )


def edit(start: tuple[int, int], end: tuple[int, int], text: str) -> types.TextDocumentContentChangePartial:
    return types.TextDocumentContentChangePartial(
        range=types.Range(types.Position(*start), types.Position(*end)), text=text
    )


async def complete_at(client: LanguageClient, uri: str, line: int, character: int) -> types.CompletionList:
    """textDocument/completion at (line, character), both 0-based."""
    return await client.text_document_completion_async(types.CompletionParams(
        text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line, character)))


async def custom_request(client: LanguageClient, method: str, params: Any) -> Any:
    return await client.protocol.send_request_async(method, params)


def as_plain(value: Any) -> Any:
    """Custom-request results arrive as pygls Objects (namedtuples); make them dicts/lists."""
    if hasattr(value, "_asdict"):
        return {k: as_plain(v) for k, v in value._asdict().items()}
    if isinstance(value, (list, tuple)):
        return [as_plain(v) for v in value]
    return value
