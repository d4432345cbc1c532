"""Seeded LSP fuzzer: a hostile client talking raw JSON-RPC to `r1lsp serve` over stdio.

Every class of traffic the server must survive, in random order from one seed: valid and
out-of-range incremental edits over text with emoji, CJK, CR/LF mixes, the characters
``str.splitlines`` wrongly takes for line ends (``\\v \\f \\x1c-\\x1e \\x85 U+2028/9``), lone
surrogates and long lines; opens and closes under two spellings of one URI; every request
with valid, out-of-range and malformed params; invalid JSON, bad envelopes, duplicate ids,
cancellations, lowercase headers, bad Content-Lengths; shutdown, requests after it, exit.

The fuzzer keeps its own copy of every open document (applied as LSP defines positions, in
the negotiated encoding) and after each batch checks the server's copy (``r1lsp/levels``:
``text_sha256``) and its incremental hierarchy against a fresh parse of the same text.

Figures (``--json``, last line): crashes, unanswered, internal_errors, misplaced_edits,
hierarchy_mismatches, popups, closed_diagnostics, exit_code, rss_mb_after_fuzz.

    python bench/fuzz_bench.py --messages 10000 --model --json
    python bench/fuzz_bench.py --quick --json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from model.structure import StructuredDocument  # noqa: E402  (the fresh parse to compare with)
from fuzz_text import apply_edit, canonical, column_of, digest, dumps, frame, line_spans  # noqa: E402

PIECES = ["a", "x = 1", "int y = 2;", "\n", "\r\n", "\r", "\t", " ", "é", "中文字", "😀", "👍🏽",
          "\v", "\f", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029", "\ud800", "\udfff",
          "\x00", "{", "}", "(", ")", ";", '"', "'", "//", "/*", "*/", "def g(x):\n    return x\n",
          "class B { int g() { return 2; } }", "if (", "return ", "    ", "import os\n"]
OPEN_TEXTS = {
    "java": "class A {\n  int f(int x) {\n    return x + 1; // é 😀\n  }\r\n  String s = \"中文\";\n}\n",
    "python": "a = 1\v# x\nbb = 22\n\fdef f():\r\n    return 'é😀'\n\x85z = 3\u2028\n",
}


# -- the connection ---------------------------------------------------------------------
class Fuzzer:
    def __init__(self, seed: int, model: str | None, workspace: Path, stats: dict):
        self.rng = random.Random(seed)
        self.model = model
        self.workspace = workspace
        self.stats = stats
        self.next_id = 1
        self.expected: dict[Any, int] = {}     # request id -> answers still expected
        self.expected_null = 0                  # errors answered with id null
        self.got_null = 0
        self.answers: dict[Any, list[dict]] = {}
        self.sent: dict[Any, dict] = {}
        self.waiters: dict[Any, asyncio.Future] = {}
        self.docs: dict[str, dict] = {}         # normalised uri -> {"text", "version", "language"}
        self.closed_at: dict[str, int] = {}     # uri -> sync round when its close was confirmed
        self.sync_round = 0
        self.encoding = "utf-16"
        self.proc: asyncio.subprocess.Process | None = None
        self.stderr_path = workspace / "server.stderr"
        self.progress = False
        self.profile: Path | None = None        # --profile: the server runs under bench/memory_probe.py

    # -- io --------------------------------------------------------------------------
    async def start(self) -> None:
        env = dict(os.environ, OMP_NUM_THREADS="1")
        self._stderr = open(self.stderr_path, "wb")
        command = ["-m", "r1lsp", "serve"]
        if self.profile is not None:
            command = [str(ROOT / "bench" / "memory_probe.py"), str(self.profile)]
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, *command, stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE, stderr=self._stderr, cwd=str(ROOT), env=env, limit=2**26)
        self.reader_task = asyncio.ensure_future(self._read_loop())

    def write(self, data: bytes) -> None:
        self.proc.stdin.write(data)
        self.stats["messages"] += 1

    def send(self, obj: dict, header: str = "Content-Length") -> None:
        self.write(frame(dumps(obj), header))

    def request(self, method: str, params: Any = None, *, msg_id: Any = None, raw: dict | None = None) -> Any:
        if msg_id is None:
            msg_id = self.next_id
            self.next_id += 1
        message = {"jsonrpc": "2.0", "id": msg_id, "method": method}
        if params is not None:
            message["params"] = params
        message.update(raw or {})
        self.expected[msg_id] = self.expected.get(msg_id, 0) + 1
        self.sent[msg_id] = message
        self.send(message)
        return msg_id

    def notify(self, method: str, params: Any = None) -> None:
        message = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            message["params"] = params
        self.send(message)

    async def answer(self, msg_id: Any, timeout: float = 120) -> dict:
        if self.answers.get(msg_id):
            return self.answers[msg_id][-1]
        fut = self.waiters.setdefault(msg_id, asyncio.get_running_loop().create_future())
        return await asyncio.wait_for(asyncio.shield(fut), timeout)

    async def _read_loop(self) -> None:
        out = self.proc.stdout
        while True:
            length = None
            while True:
                line = await out.readline()
                if not line:
                    return
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
                elif line.strip() == b"" and length is not None:
                    break
            message = json.loads(await out.readexactly(length))
            self._dispatch(message)

    def _dispatch(self, message: dict) -> None:
        method = message.get("method")
        if method is not None and "id" in message:  # a request from the server: answer it
            self.send({"jsonrpc": "2.0", "id": message["id"], "result": self._client_answer(method, message)})
            self.stats["messages"] -= 1
            return
        if method is not None:
            if method in ("window/showMessage", "window/showMessageRequest"):
                self.stats["popups"] += 1
                self.stats.setdefault("popup_texts", []).append(message["params"]["message"][:200])
            elif method == "textDocument/publishDiagnostics":
                uri = message["params"]["uri"]
                closed = self.closed_at.get(uri)
                if message["params"]["diagnostics"] and uri not in self.docs and closed is not None \
                        and closed < self.sync_round:
                    self.stats["closed_diagnostics"] += 1
            return
        msg_id = message.get("id")
        if "error" in message:
            code = message["error"]["code"]
            self.stats["errors_by_code"][str(code)] = self.stats["errors_by_code"].get(str(code), 0) + 1
            if code == -32603:
                self.stats["internal_errors"] += 1
                self.stats.setdefault("internal_texts", []).append(message["error"]["message"][:300])
        if msg_id is None:
            self.got_null += 1
            return
        self.answers.setdefault(msg_id, []).append(message)
        if self.expected.get(msg_id, 0) > 0:
            self.expected[msg_id] -= 1
        else:
            self.stats["unexpected_answers"] += 1
        fut = self.waiters.pop(msg_id, None)
        if fut is not None and not fut.done():
            fut.set_result(message)

    def _client_answer(self, method: str, message: dict) -> Any:
        if method == "workspace/configuration":
            return [None]
        if method == "workspace/applyEdit":
            return {"applied": self.rng.random() < 0.5, "failureReason": "the fuzzer said no"}
        if method == "window/showDocument":
            return {"success": True}
        return None

    # -- documents -------------------------------------------------------------------
    def uri(self, name: str, spelled: bool = False) -> str:
        uri = (self.workspace / name).as_uri()
        if spelled:  # another spelling of the same file: a percent-escaped first letter
            head, _, tail = uri.rpartition("/")
            uri = f"{head}/%{ord(tail[0]):02X}{tail[1:]}"
        return uri

    def open_doc(self, name: str, language: str, text: str | None = None, spelled: bool = False) -> None:
        uri = self.uri(name)
        text = OPEN_TEXTS[language] if text is None else text
        if uri in self.docs:
            self.docs[uri]["opens"] += 1
        else:
            self.docs[uri] = {"opens": 1}
        self.docs[uri].update(text=text, version=1, language=language)
        self.closed_at.pop(uri, None)
        self.notify("textDocument/didOpen", {"textDocument": {
            "uri": self.uri(name, spelled), "languageId": language, "version": 1, "text": text}})

    def close_doc(self, uri: str, spelled_uri: str | None = None) -> None:
        self.notify("textDocument/didClose", {"textDocument": {"uri": spelled_uri or uri}})
        doc = self.docs[uri]
        doc["opens"] -= 1
        if doc["opens"] == 0:
            del self.docs[uri]
            self.closed_at[uri] = self.sync_round

    def position(self, text: str, valid: bool = True) -> dict:
        spans = line_spans(text)
        if not valid:
            return {"line": self.rng.choice([len(spans) + self.rng.randrange(3), self.rng.randrange(len(spans))]),
                    "character": self.rng.randrange(50, 100000)}
        line = self.rng.randrange(len(spans))
        start, end = spans[line]
        index = self.rng.randint(start, end)
        _, col = column_of(text, index, self.encoding)
        return {"line": line, "character": col}

    def random_text(self, long_line: int = 0) -> str:
        if long_line and self.rng.random() < 0.02:
            return "y" * long_line
        return "".join(self.rng.choice(PIECES) for _ in range(self.rng.randint(0, 4)))

    def edit(self, uri: str, long_line: int) -> None:
        doc = self.docs[uri]
        changes = []
        for _ in range(self.rng.choice([1, 1, 1, 2, 3])):
            text = doc["text"]
            roll = self.rng.random()
            if roll < 0.05:
                change = {"text": self.random_text() + OPEN_TEXTS[doc["language"]]}
                doc["text"] = canonical(change["text"])
            else:
                a = self.position(text, valid=roll > 0.15)
                b = self.position(text, valid=roll > 0.2)
                new = self.random_text(long_line)
                change = {"range": {"start": a, "end": b}, "text": new}
                doc["text"] = apply_edit(text, change["range"], new, self.encoding)
            changes.append(change)
        doc["version"] += 1
        self.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": doc["version"]},
                                               "contentChanges": changes})

    # -- requests with valid, odd and malformed params ---------------------------------
    def some_request(self) -> None:
        rng = self.rng
        uri = rng.choice(list(self.docs)) if self.docs and rng.random() < 0.9 else self.uri("Nope.java")
        text = self.docs[uri]["text"] if uri in self.docs else ""
        td = {"uri": uri}
        pos = self.position(text, valid=rng.random() < 0.8) if text else {"line": 0, "character": 0}
        bad = rng.random() < 0.25
        malformed = [{"line": -1, "character": 0}, {"line": "3", "character": 0}, {"line": True, "character": 1},
                     {"line": 1.5, "character": 0}, {"character": 0}, None, 7]
        choice = rng.randrange(11)
        if choice == 0:
            self.request("textDocument/completion", {"textDocument": td, "position": rng.choice(malformed) if bad else pos})
        elif choice == 1:
            self.request("textDocument/inlineCompletion", {"textDocument": td, "position": rng.choice(malformed) if bad else pos,
                                                          "context": {"triggerKind": rng.choice([1, 2] if not bad else [0, 9, "x"])}})
        elif choice == 2:
            self.request("textDocument/documentSymbol", {"textDocument": td if not bad else {"uri": 7}})
        elif choice == 3:
            end = self.position(text) if text else pos
            self.request("textDocument/codeAction", {"textDocument": td, "range": {"start": pos, "end": end if not bad else rng.choice(malformed)},
                                                    "context": {"diagnostics": []}})
        elif choice == 4:
            version = self.docs[uri]["version"] if uri in self.docs else 1
            selection = rng.choice([None, [0, 5], [-1, 3], "ab", [3], [5, 2], [0, 10**9], -1]) if bad else rng.choice([None, [0, 8]])
            data = {"uri": uri, "version": version, "selection": selection}
            if rng.random() < 0.5:
                self.request("codeAction/resolve", {"title": "Translate Java → Python", "data": data})
            else:
                args = rng.choice([[data], [], "ab", [{"uri": 5}], [{"selection": -1}], [7]]) if bad else [data]
                self.request("workspace/executeCommand", {"command": "r1lsp.translateToPython", "arguments": args})
        elif choice == 5:
            params: dict = {"textDocument": td}
            if rng.random() < 0.5:
                params["range"] = {"start": pos, "end": rng.choice(malformed) if bad else pos}
            self.request("r1lsp/levels", params)
        elif choice == 6:
            self.request("r1lsp/experts", {"textDocument": td, "level": rng.choice(["paragraph", "sentence", "word", 3])})
        elif choice == 7:
            self.request("r1lsp/settings", rng.choice([None, {}, [], {"x": 1}]))
        elif choice == 8:
            self.request("textDocument/diagnostic", {"textDocument": td} if not bad else {"textDocument": None})
        elif choice == 9:
            self.request("textDocument/hover", {"textDocument": td, "position": pos})
        else:
            self.request(rng.choice(["textDocument/definition", "r1lsp/nothing", "$/unknown"]), {"textDocument": td})

    def garbage(self, kind: int | None = None) -> None:
        rng = self.rng
        kind = rng.randrange(16) if kind is None else kind
        if kind == 0:
            self.write(frame(b'{"jsonrpc": "2.0", "id": 5, "method": '))
            self.expected_null += 1
        elif kind == 1:
            self.write(frame(b"[]"))
            self.expected_null += 1
        elif kind == 2:
            self.write(frame(b"42"))
            self.expected_null += 1
        elif kind == 3:
            self.send({"jsonrpc": "1.0", "id": self._fresh_id(), "method": "r1lsp/settings"})
        elif kind == 4:
            self.send({"jsonrpc": "2.0", "id": rng.choice([{"a": 1}, [1], True, 1.5]), "method": "r1lsp/settings"})
            self.expected_null += 1
        elif kind == 5:
            self.send({"jsonrpc": "2.0", "id": self._fresh_id(), "method": rng.choice([7, None, ["x"]])})
        elif kind == 6:
            self.request("initialized", {})  # a notification's method as a request
        elif kind == 7:
            self.request("r1lsp/settings", {"nested": {"jsonrpc": "2.0", "method": "exit"}})
        elif kind == 8:
            self.notify("$/cancelRequest", rng.choice([{"id": [1]}, {"id": None}, {}, None, {"id": {"a": 1}}]))
        elif kind == 9:  # a wrongly typed didOpen: ignored, never "7"
            self.notify("textDocument/didOpen", {"textDocument": {"uri": self.uri("Seven.java"), "languageId": "java",
                                                                  "version": 1, "text": 7}})
        elif kind == 10:
            self.notify("textDocument/didChange", {"textDocument": {"uri": self.uri("Never.java"), "version": 3},
                                                   "contentChanges": [{"text": "x"}]})
        elif kind == 11:  # lowercase header
            msg_id = self._fresh_id()
            self.expected[msg_id] = 1
            self.send({"jsonrpc": "2.0", "id": msg_id, "method": "r1lsp/settings"}, header="content-length")
        elif kind == 12:  # a bad Content-Length: that message is lost, the next ones are not
            self.write(b"Content-Length: x12\r\n\r\n" + dumps({"jsonrpc": "2.0", "method": "$/x"}))
        elif kind == 13:  # duplicate ids
            msg_id = self.request("r1lsp/settings")
            self.request("r1lsp/settings", msg_id=msg_id)
        elif kind == 14:  # a request then its cancellation
            msg_id = self.request("textDocument/documentSymbol", {"textDocument": {"uri": next(iter(self.docs), self.uri("N.java"))}})
            self.notify("$/cancelRequest", {"id": msg_id})
        else:
            self.request("textDocument/completion", {"textDocument": {"uri": self.uri("X.java")}, "position": {"line": 0}}
                         if rng.random() < 0.5 else "params")

    def _fresh_id(self) -> int:
        msg_id = self.next_id
        self.next_id += 1
        self.expected[msg_id] = 1
        return msg_id

    # -- checks ------------------------------------------------------------------------
    async def settle(self, timeout: float = 180) -> None:
        """Wait until every request sent has its answer (or count it unanswered)."""
        try:
            await self.proc.stdin.drain()
        except ConnectionError:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(n <= 0 for n in self.expected.values()) and self.got_null >= self.expected_null:
                return
            if self.proc.returncode is not None:
                break
            await asyncio.sleep(0.05)

    async def check_documents(self) -> None:
        ids = {uri: self.request("r1lsp/levels", {"textDocument": {"uri": uri}}) for uri in self.docs}
        await self.proc.stdin.drain()
        for uri, msg_id in ids.items():
            try:
                answer = await self.answer(msg_id)
            except asyncio.TimeoutError:
                continue
            doc = self.docs[uri]
            result = answer.get("result")
            if result is None or result.get("text_sha256") != digest(doc["text"]):
                self.stats["misplaced_edits"] += 1
                if len(self.stats.setdefault("misplaced_examples", [])) < 3:
                    self.stats["misplaced_examples"].append({"uri": uri, "expected": doc["text"][-300:], "answer": str(answer)[:300]})
                self._reset(uri)
                continue
            fresh = StructuredDocument(doc["text"], doc["language"]).hierarchy.to_dict()
            if any(fresh[k] != result[k] for k in ("has_errors", "fallback", "counts", "spans")):
                self.stats["hierarchy_mismatches"] += 1
                self._reset(uri)
        self.sync_round += 1

    def _reset(self, uri: str) -> None:
        doc = self.docs[uri]
        doc["version"] += 1
        self.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": doc["version"]},
                                               "contentChanges": [{"text": doc["text"]}]})

    # -- the run -----------------------------------------------------------------------
    async def probe(self) -> None:
        """--profile: the server writes its memory report (bench/memory_probe.py) now."""
        if self.profile is None or self.proc.returncode is not None:
            return
        before = len(list(self.profile.glob("probe-*.json")))
        self.proc.send_signal(signal.SIGUSR1)
        deadline = time.monotonic() + 300
        while len(list(self.profile.glob("probe-*.json"))) <= before and time.monotonic() < deadline:
            await asyncio.sleep(0.2)

    async def run(self, messages: int, batch: int, long_line: int) -> None:
        rng = self.rng
        encodings = rng.choice([["utf-8"], ["utf-32"], ["utf-16"], ["utf-8", "utf-16"], []])
        features = {"completion": True, "inlineCompletion": True, "expertDiagnostics": bool(self.model), "translate": True}
        options: dict = {"features": features}
        if self.model:
            options["model"] = {"path": self.model, "threads": 1}
        else:
            features.update(completion=False, inlineCompletion=False)
        self.request("textDocument/completion", {})  # before initialize: ServerNotInitialized
        init = self.request("initialize", {
            "processId": None, "rootUri": self.workspace.as_uri(), "initializationOptions": options,
            "capabilities": {
                "general": {"positionEncodings": encodings} if encodings else {},
                "workspace": {"workspaceEdit": {"documentChanges": True, "resourceOperations": ["create"]}
                              if rng.random() < 0.5 else {}, "configuration": True},
                "textDocument": {"codeAction": {"resolveSupport": {"properties": ["edit"]}}},
                "window": {"workDoneProgress": True, "showDocument": {"support": True}}}})
        answer = await self.answer(init)
        self.encoding = answer["result"]["capabilities"].get("positionEncoding", "utf-16")
        self.notify("initialized", {})
        self.open_doc("A.java", "java")
        self.open_doc("b.py", "python")
        self.open_doc("Ab.java", "java", spelled=True)
        for kind in range(16):  # every class of bad traffic at least once, then at random
            self.garbage(kind)
        await self.settle()
        await self.probe()
        sent_before = self.stats["messages"]
        started = time.perf_counter()
        while self.stats["messages"] - sent_before < messages:
            for _ in range(batch):
                roll = rng.random()
                if roll < 0.45 and self.docs:
                    self.edit(rng.choice(list(self.docs)), long_line)
                elif roll < 0.52:
                    name, language = rng.choice([("A.java", "java"), ("b.py", "python"), ("Ab.java", "java"), ("C.java", "java")])
                    uri = self.uri(name)
                    if uri in self.docs and rng.random() < 0.7:
                        self.close_doc(uri, self.uri(name, spelled=rng.random() < 0.5))
                    else:
                        self.open_doc(name, language, spelled=rng.random() < 0.3)
                elif roll < 0.8:
                    self.some_request()
                else:
                    self.garbage()
            await self.settle()
            await self.check_documents()
            await self.settle()
            if self.sync_round % 10 == 0:
                await self.probe()
            if self.progress and self.sync_round % 10 == 0:
                print(f"fuzz: {self.stats['messages']} messages, {time.perf_counter() - started:.0f} s, "
                      f"rss {rss_mb(self.proc.pid)} MB, misplaced {self.stats['misplaced_edits']}, "
                      f"internal {self.stats['internal_errors']}, popups {self.stats['popups']}",
                      file=sys.stderr, flush=True)
            if self.proc.returncode is not None:
                break
        self.stats["rss_mb_after_fuzz"] = rss_mb(self.proc.pid)
        await self.probe()
        # lifecycle: shutdown, requests after it, exit (0 after shutdown)
        shut = self.request("shutdown")
        await self.answer(shut)
        after = self.request("r1lsp/settings")
        reply = await self.answer(after)
        if reply.get("error", {}).get("code") != -32600:
            self.stats["lifecycle_errors"] += 1
        self.notify("exit")
        await self.proc.stdin.drain()
        try:
            self.stats["exit_code"] = await asyncio.wait_for(self.proc.wait(), 30)
        except asyncio.TimeoutError:
            self.stats["exit_code"] = None
            self.proc.kill()
        await self.settle(timeout=5)

    def finish(self) -> None:
        self.stats["unanswered"] = sum(n for n in self.expected.values() if n > 0) + max(0, self.expected_null - self.got_null)
        self.stats["unanswered_examples"] = [str(self.sent.get(k))[:300] for k, n in self.expected.items() if n > 0][:5]
        code = self.stats.get("exit_code")
        if code is None or code < 0 or code not in (0, 1):
            self.stats["crashes"] += 1
        self._stderr.close()
        log = self.stderr_path.read_text("utf-8", "replace")
        self.stats["aborts"] = log.count("terminate called") + log.count("Fatal Python error")
        self.stats["crashes"] += self.stats["aborts"]


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def new_stats() -> dict:
    return {"messages": 0, "crashes": 0, "unanswered": 0, "internal_errors": 0, "misplaced_edits": 0,
            "hierarchy_mismatches": 0, "popups": 0, "closed_diagnostics": 0, "lifecycle_errors": 0,
            "unexpected_answers": 0, "errors_by_code": {}}


async def fuzz(seed: int, messages: int, *, model: str | None = None, batch: int = 25, long_line: int = 0,
               workspace: Path | None = None, progress: bool = False, stderr: Path | None = None,
               profile: Path | None = None) -> dict:
    stats = new_stats()
    with tempfile.TemporaryDirectory() as tmp:
        fuzzer = Fuzzer(seed, model, Path(workspace or tmp).resolve(), stats)
        fuzzer.progress = progress
        fuzzer.profile = profile.resolve() if profile else None
        if stderr is not None:
            fuzzer.stderr_path = stderr.resolve()
        await fuzzer.start()
        try:
            await fuzzer.run(messages, batch, long_line)
        finally:
            if fuzzer.proc.returncode is None:
                fuzzer.proc.kill()
                await fuzzer.proc.wait()
            fuzzer.finish()
    return stats


async def exit_codes() -> dict:
    """exit without shutdown -> 1; exit right after didOpen while the model loads -> 0, no abort."""
    out = {}
    for name, shutdown in (("exit_without_shutdown", False), ("exit_while_loading", True)):
        stats = new_stats()
        with tempfile.TemporaryDirectory() as tmp:
            f = Fuzzer(0, None, Path(tmp), stats)
            await f.start()
            init = f.request("initialize", {"processId": None, "rootUri": Path(tmp).as_uri(), "capabilities": {}})
            await f.answer(init)
            f.notify("initialized", {})
            f.open_doc("A.java", "java")
            if shutdown:
                await f.answer(f.request("shutdown"))
            f.notify("exit")
            await f.proc.stdin.drain()
            out[name] = await asyncio.wait_for(f.proc.wait(), 60)
            f.finish()
            out[name + "_aborts"] = stats["aborts"]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=10000)
    parser.add_argument("--seed", type=int, default=18)
    parser.add_argument("--model", nargs="?", const=str(ROOT / "model/checkpoints/r1-tiny"), default=None,
                        help="turn the model features on (default checkpoint: the shipped r1-tiny)")
    parser.add_argument("--long-line", type=int, default=2_000_000, help="length of the occasional long line")
    parser.add_argument("--quick", action="store_true", help="600 messages, 20 kB long lines")
    parser.add_argument("--stderr", type=Path, help="keep the server's stderr (its log) in this file")
    parser.add_argument("--profile", type=Path, metavar="DIR",
                        help="run the server under bench/memory_probe.py: memory reports and tracemalloc "
                             "snapshots in DIR after start-up, every 10 batches and at the end")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.quick:
        args.messages, args.long_line = 600, 20_000
    started = time.perf_counter()
    stats = asyncio.run(fuzz(args.seed, args.messages, model=args.model, long_line=args.long_line, progress=True,
                             stderr=args.stderr, profile=args.profile))
    stats.update(asyncio.run(exit_codes()))
    stats["seconds"] = round(time.perf_counter() - started, 1)
    for key in ("popup_texts", "internal_texts", "misplaced_examples", "unanswered_examples"):
        for item in stats.get(key, [])[:5]:
            print(f"{key}: {item}")
    figures = {k: stats.get(k) for k in ("messages", "crashes", "unanswered", "internal_errors", "misplaced_edits",
                                         "hierarchy_mismatches", "popups", "closed_diagnostics", "lifecycle_errors",
                                         "exit_code", "exit_without_shutdown", "exit_while_loading",
                                         "rss_mb_after_fuzz", "seconds")}
    print(json.dumps(figures) if args.json else json.dumps(stats, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
