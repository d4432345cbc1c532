"""Raw JSON-RPC over stdio: requests the typed clients cannot send are still answered.

JSON-RPC lets a request omit ``params``; pygls (2.1) drops such a request for a custom method
while parsing it, and the client waits forever. Every request here must get an answer — a
result or a JSON-RPC error — within a bounded wait.
"""

from __future__ import annotations

import asyncio
import json

from lsp_support import SERVER_COMMAND

INVALID_PARAMS = -32602
OFF = {"features": {"completion": False, "inlineCompletion": False, "expertDiagnostics": False}}


class RawConnection:
    def __init__(self, proc: asyncio.subprocess.Process):
        self.proc = proc

    def send(self, message: dict) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode()
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)

    async def _read(self) -> dict:
        length = None
        while True:
            line = (await self.proc.stdout.readline()).decode()
            if not line:
                raise AssertionError("the server closed its output")
            if line.lower().startswith("content-length:"):
                length = int(line.split(":", 1)[1])
            elif line in ("\r\n", "\n") and length is not None:
                return json.loads(await self.proc.stdout.readexactly(length))

    async def answer(self, msg_id: int, timeout: float = 30) -> dict:
        """The response to request ``msg_id`` (notifications from the server are skipped)."""
        async def wait() -> dict:
            while True:
                message = await self._read()
                if message.get("id") == msg_id and "method" not in message:
                    return message
        return await asyncio.wait_for(wait(), timeout)


async def test_requests_without_params_get_an_answer():
    proc = await asyncio.create_subprocess_exec(*SERVER_COMMAND, stdin=asyncio.subprocess.PIPE,
                                                stdout=asyncio.subprocess.PIPE)
    rpc = RawConnection(proc)
    try:
        rpc.send({"id": 1, "method": "initialize", "params": {"capabilities": {}, "initializationOptions": OFF}})
        assert "capabilities" in (await rpc.answer(1))["result"]
        rpc.send({"method": "initialized", "params": {}})

        # A custom request that needs no params: its result.
        rpc.send({"id": 2, "method": "r1lsp/settings"})
        settings = await rpc.answer(2)
        assert "error" not in settings, settings
        assert settings["result"]["features"]["completion"] is False  # what initialize sent
        # Custom requests that need a document: InvalidParams saying what is missing.
        rpc.send({"id": 3, "method": "r1lsp/levels"})
        levels = await rpc.answer(3)
        assert levels["error"]["code"] == INVALID_PARAMS and "textDocument" in levels["error"]["message"]
        rpc.send({"id": 4, "method": "r1lsp/experts", "params": None})
        assert (await rpc.answer(4))["error"]["code"] == INVALID_PARAMS
        # An LSP request whose params are missing or do not fit its type: InvalidParams too.
        rpc.send({"id": 5, "method": "textDocument/documentSymbol"})
        symbols = await rpc.answer(5)
        assert symbols["error"]["code"] == INVALID_PARAMS and "textDocument/documentSymbol" in symbols["error"]["message"]
        rpc.send({"id": 6, "method": "textDocument/documentSymbol", "params": {"textDocument": 7}})
        assert (await rpc.answer(6))["error"]["code"] == INVALID_PARAMS

        # The server still serves: open a document and ask for its symbols.
        uri = "file:///w/A.java"
        rpc.send({"method": "textDocument/didOpen", "params": {"textDocument": {
            "uri": uri, "languageId": "java", "version": 1, "text": "class A { int f() { return 1; } }\n"}}})
        rpc.send({"id": 7, "method": "textDocument/documentSymbol", "params": {"textDocument": {"uri": uri}}})
        assert [s["name"] for s in (await rpc.answer(7))["result"]] == ["A"]

        rpc.send({"id": 8, "method": "shutdown"})  # shutdown has no params by definition
        assert (await rpc.answer(8))["result"] is None
        rpc.send({"method": "exit"})
        assert await asyncio.wait_for(proc.wait(), 30) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
