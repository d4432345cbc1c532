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
        # A member that does not fit its type is named by its wire path.
        rpc.send({"id": 41, "method": "r1lsp/experts", "params": {"textDocument": {"uri": "file:///w/A.java"}, "level": "word"}})
        level = await rpc.answer(41)
        assert level["error"]["code"] == INVALID_PARAMS and "$.params.level" in level["error"]["message"]
        rpc.send({"id": 42, "method": "r1lsp/levels", "params": {"textDocument": {"uri": "file:///w/A.java"},
                                                                 "range": {"start": {"line": 0}}}})
        assert "$.params.range.start.character" in (await rpc.answer(42))["error"]["message"]
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


async def _start(capabilities: dict | None = None, root: str = "file:///w") -> tuple[asyncio.subprocess.Process, RawConnection]:
    proc = await asyncio.create_subprocess_exec(*SERVER_COMMAND, stdin=asyncio.subprocess.PIPE,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
    rpc = RawConnection(proc)
    rpc.send({"id": 1, "method": "initialize", "params": {"capabilities": capabilities or {}, "rootUri": root,
                                                          "initializationOptions": OFF}})
    await rpc.answer(1)
    rpc.send({"method": "initialized", "params": {}})
    return proc, rpc


async def _stop(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        proc.kill()
        await proc.wait()


def _sha(text: str) -> str:
    import hashlib
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


async def test_edits_land_where_lsp_says_whatever_the_text():
    """LSP ends lines only at \\n, \\r\\n, \\r: a vertical tab, a form feed, U+2028 are text."""
    proc, rpc = await _start()
    try:
        uri = "file:///w/a.py"
        rpc.send({"method": "textDocument/didOpen", "params": {"textDocument": {
            "uri": uri, "languageId": "python", "version": 1, "text": "a = 1\u000b# x\nbb = 22\n"}}})
        rpc.send({"method": "textDocument/didChange", "params": {"textDocument": {"uri": uri, "version": 2}, "contentChanges": [
            {"range": {"start": {"line": 1, "character": 0}, "end": {"line": 1, "character": 7}}, "text": "c = 3"}]}})
        rpc.send({"id": 2, "method": "r1lsp/levels", "params": {"textDocument": {"uri": uri}}})
        assert (await rpc.answer(2))["result"]["text_sha256"] == _sha("a = 1\v# x\nc = 3\n")

        # a lone surrogate is one UTF-16 unit: an edit just after it lands after it
        rpc.send({"method": "textDocument/didChange", "params": {"textDocument": {"uri": uri, "version": 3}, "contentChanges": [
            {"range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}}, "text": "\ud800\f\u2028"},
            {"range": {"start": {"line": 0, "character": 3}, "end": {"line": 0, "character": 4}}, "text": "Z"}]}})
        rpc.send({"id": 3, "method": "r1lsp/levels", "params": {"textDocument": {"uri": uri}}})
        assert (await rpc.answer(3))["result"]["text_sha256"] == _sha("\ud800\f\u2028Z = 1\v# x\nc = 3\n")

        # one document under two spellings of its URI: closing one keeps the other editable
        rpc.send({"method": "textDocument/didOpen", "params": {"textDocument": {
            "uri": "file:///w/%41b.java", "languageId": "java", "version": 1, "text": "class Ab {}\n"}}})
        rpc.send({"method": "textDocument/didOpen", "params": {"textDocument": {
            "uri": "file:///w/Ab.java", "languageId": "java", "version": 1, "text": "class Ab {}\n"}}})
        rpc.send({"method": "textDocument/didClose", "params": {"textDocument": {"uri": "file:///w/Ab.java"}}})
        rpc.send({"method": "textDocument/didChange", "params": {"textDocument": {"uri": "file:///w/%41b.java", "version": 2},
                  "contentChanges": [{"range": {"start": {"line": 0, "character": 6}, "end": {"line": 0, "character": 8}}, "text": "Cd"}]}})
        rpc.send({"id": 4, "method": "textDocument/documentSymbol", "params": {"textDocument": {"uri": "file:///w/Ab.java"}}})
        assert [s["name"] for s in (await rpc.answer(4))["result"]] == ["Cd"]
    finally:
        await _stop(proc)


async def test_bad_traffic_is_answered_by_the_spec_and_never_shown_to_the_user():
    proc, rpc = await _start()
    popups = []
    try:
        def raw(body: bytes, header: bytes = b"Content-Length") -> None:
            proc.stdin.write(header + b": %d\r\n\r\n" % len(body) + body)

        raw(b'{"jsonrpc": "2.0", "id": 5, "method": ')                              # not JSON
        raw(json.dumps({"jsonrpc": "2.0", "id": [1], "method": "r1lsp/settings"}).encode())  # a list id
        rpc.send({"id": 6, "method": "initialized", "params": {}})                  # a notification's method
        rpc.send({"id": 7, "method": "r1lsp/settings", "params": {"o": {"jsonrpc": "2.0", "method": "exit"}}})
        rpc.send({"id": 8, "method": "textDocument/documentSymbol", "params": {"textDocument": {"uri": 7}}})
        rpc.send({"method": "textDocument/didOpen", "params": {"textDocument": {   # "text": 7 opens nothing
            "uri": "file:///w/S.java", "languageId": "java", "version": 1, "text": 7}}})
        rpc.send({"id": 9, "method": "r1lsp/levels", "params": {"textDocument": {"uri": "file:///w/S.java"}}})
        rpc.send({"method": "textDocument/didChange", "params": {"textDocument": {"uri": "file:///w/N.java", "version": 2},
                  "contentChanges": [{"text": "x"}]}})                                 # not open: logged
        rpc.send({"method": "$/cancelRequest", "params": {"id": [1]}})
        raw(json.dumps({"jsonrpc": "2.0", "id": 10, "method": "r1lsp/settings"}).encode(), b"content-length")
        proc.stdin.write(b"Content-Length: x12\r\n\r\n" + json.dumps({"jsonrpc": "2.0", "method": "$/x"}).encode())
        rpc.send({"id": 11, "method": "r1lsp/settings"})                            # after a bad length
        rpc.send({"id": 12, "method": "workspace/executeCommand", "params": {
            "command": "r1lsp.translateToPython", "arguments": [{"uri": "file:///w/S.java", "selection": -1}]}})

        answers = {}
        while len(answers) < 8:
            message = await asyncio.wait_for(rpc._read(), 30)
            if message.get("method") in ("window/showMessage", "window/showMessageRequest"):
                popups.append(message)
            elif "method" not in message:
                answers.setdefault(message["id"], message)
        assert answers[None]["error"]["code"] in (-32700, -32600)
        assert answers[6]["error"]["code"] == -32601
        assert "result" in answers[7] and answers[10]["result"] and answers[11]["result"]
        assert answers[8]["error"]["code"] == INVALID_PARAMS and answers[9]["error"]["code"] == INVALID_PARAMS
        assert answers[12]["error"]["code"] == INVALID_PARAMS
        assert popups == []

        rpc.send({"id": 13, "method": "shutdown"})
        await rpc.answer(13)
        rpc.send({"id": 14, "method": "r1lsp/settings"})
        assert (await rpc.answer(14))["error"]["code"] == -32600  # InvalidRequest after shutdown
        rpc.send({"method": "exit"})
        assert await asyncio.wait_for(proc.wait(), 30) == 0
    finally:
        await _stop(proc)


async def test_exit_without_shutdown_ends_with_1():
    proc, rpc = await _start()
    try:
        rpc.send({"method": "exit"})
        assert await asyncio.wait_for(proc.wait(), 30) == 1
    finally:
        await _stop(proc)


async def test_translation_targets_are_checked_for_every_client(tmp_path):
    """Outside the workspace (a symlinked folder), a missing folder: RequestFailed with the reason,
    for a client that creates files (CreateFile) and one that does not (the server writes);
    an untitled document's translation lands in the workspace folder."""
    outside = tmp_path / "outside"
    work = tmp_path / "work"
    outside.mkdir()
    work.mkdir()
    (work / "link").symlink_to(outside, target_is_directory=True)
    java = "class A { int f() { return 1; } }\n"
    creates = {"workspace": {"workspaceEdit": {"documentChanges": True, "resourceOperations": ["create"]}}}
    for capabilities in ({}, creates):
        proc, rpc = await _start(capabilities, root=work.as_uri())
        try:
            uris = [(work / "link" / "A.java").as_uri(), (work / "missing" / "B.java").as_uri(), "untitled:Untitled-1"]
            for uri in uris:
                rpc.send({"method": "textDocument/didOpen", "params": {"textDocument": {
                    "uri": uri, "languageId": "java", "version": 1, "text": java}}})
            for i, uri in enumerate(uris):
                rpc.send({"id": 10 + i, "method": "workspace/executeCommand", "params": {
                    "command": "r1lsp.translateToPython", "arguments": [{"uri": uri, "version": 1, "selection": None}]}})
            answers: dict = {}
            while len(answers) < 3:  # the answers, and (a creating client) the untitled's file to create
                message = await asyncio.wait_for(rpc._read(), 120)
                if message.get("method") == "workspace/applyEdit":
                    create = message["params"]["edit"]["documentChanges"][0]
                    assert create["kind"] == "create" and create["uri"] == (work / "Untitled-1.py").as_uri()
                    rpc.send({"id": message["id"], "result": {"applied": True}})
                elif "method" not in message:
                    answers[message["id"]] = message
            outside_error = answers[10]["error"]
            assert outside_error["code"] == -32803 and "outside the workspace" in outside_error["message"]
            missing_error = answers[11]["error"]
            assert missing_error["code"] == -32803 and "does not exist" in missing_error["message"]
            assert answers[12]["result"]["path"] == str(work / "Untitled-1.py")
            assert list(outside.iterdir()) == []
            if not capabilities:
                assert "def f" in (work / "Untitled-1.py").read_text()
                (work / "Untitled-1.py").unlink()
        finally:
            await _stop(proc)
