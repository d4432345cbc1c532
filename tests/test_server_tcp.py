"""`r1lsp serve --tcp HOST:PORT`: the same server over a TCP socket."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys

from lsprotocol import types
from pygls.lsp.client import LanguageClient


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _connect(client: LanguageClient, port: int, server: subprocess.Popen) -> None:
    """Connect once the server listens (it is starting: import, bind); give up if it exited."""
    for _ in range(600):
        if server.poll() is not None:
            raise AssertionError(f"server exited with {server.returncode}")
        try:
            await client.start_tcp("127.0.0.1", port)
            return
        except OSError:
            await asyncio.sleep(0.1)  # the port is not open yet: retry (bounded)
    raise AssertionError("server never listened")


async def test_tcp_server_initializes_maps_and_shuts_down():
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "r1lsp", "serve", "--tcp", f"127.0.0.1:{port}"])
    client = LanguageClient("tcp-test", "1")
    try:
        await _connect(client, port, server)
        result = await client.initialize_async(types.InitializeParams(
            capabilities=types.ClientCapabilities(),
            initialization_options={"features": {"completion": False, "inlineCompletion": False,
                                                 "expertDiagnostics": False}}))
        assert result.server_info.name == "r1lsp"
        client.initialized(types.InitializedParams())
        uri = "file:///w/A.java"
        client.text_document_did_open(types.DidOpenTextDocumentParams(
            types.TextDocumentItem(uri, "java", 1, "class A { int f() { return 1; } }\n")))
        symbols = await client.text_document_document_symbol_async(
            types.DocumentSymbolParams(types.TextDocumentIdentifier(uri)))
        assert [s.name for s in symbols] == ["A"] and [c.name for c in symbols[0].children] == ["f"]
        await client.shutdown_async(None)
        client.exit(None)
    finally:
        await client.stop()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            raise
