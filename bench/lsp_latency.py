"""Editor latency through the real server: `r1lsp serve` over stdio, driven as an editor drives it.

Imported by bench/completion_bench.py (figures list_p95_ms, inline_p50_ms, ...). Real files of
~2,000 lines that lie on this machine (the running Python's standard library; the JDK's
src.zip when present: any JDK's under /usr/lib/jvm), the model on (the shipped checkpoint, default settings: int8), the
full context window. At each of a few positions deep inside a file (40-90 % of its lines) the
cursor lands mid-identifier, the editor asks for the list and for ghost text there (cold), then
the user types 3 more characters: after each one a didChange, the list and ghost text again
(the requests a keystroke causes in VS Code). Every request's wall time counts. Beside it, the
CPU the server (all its threads) spends from a file's didOpen to its first list's answer
(`list_cold_cpu_*`: what a cold list costs, less bound to the machine's load than wall time).
The stdlib and the JDK are in the training corpus: fine for latency, not for quality.
"""
from __future__ import annotations

import asyncio
import os
import re
import sys
import sysconfig
import time
import zipfile
from pathlib import Path

STDLIB_FILES = ("argparse.py", "subprocess.py", "tarfile.py")
JDK_FILES = ("java.base/java/util/ArrayList.java", "java.base/java/util/regex/Matcher.java")


def real_files(java: bool = True) -> list[tuple[str, str, str]]:
    """(name, language, text) of ~2,000-line files present here."""
    out = []
    lib = Path(sysconfig.get_paths()["stdlib"])
    for name in STDLIB_FILES:
        p = lib / name
        if p.is_file():
            out.append((name, "python", p.read_text("utf-8")))
    if java:
        for z in [z for z in sorted(Path("/usr/lib/jvm").glob("*/lib/src.zip")) if z.is_file()][:1]:
            with zipfile.ZipFile(z) as zf:
                names = set(zf.namelist())
                for name in JDK_FILES:
                    if name in names:
                        out.append((name.rsplit("/", 1)[-1], "java", zf.read(name).decode("utf-8")))
    return out


def positions(text: str, n: int) -> list[tuple[int, int, str]]:
    """(line, column, 3 characters to type) at n identifiers of code lines deep in the file: the
    cursor 2 characters into a word of >= 6 letters, which the user then continues."""
    lines = text.split("\n")
    cands = []
    for i in range(int(len(lines) * 0.4), int(len(lines) * 0.9)):
        line = lines[i]
        s = line.strip()
        if not s or s.startswith(("#", "//", "*", "/*", '"', "'", "import ", "from ")):
            continue
        m = re.search(r"(?<![\w.])([A-Za-z_]\w{5,})", line[len(line) - len(line.lstrip()):])
        if m:
            col = len(line) - len(line.lstrip()) + m.start(1) + 2
            cands.append((i, col, m.group(1)[2:5]))
    step = max(1, len(cands) // n)
    return cands[::step][:n]


async def start_server(name: str, show=None, cwd: str | None = None):
    """The real server (`python -m r1lsp serve`) under a pygls client; returns the client and an
    event set once the server logs that its model is ready (or unavailable). `show` receives
    window/showMessage texts (dropped when None). `cwd`: run it there (`-m` imports r1lsp from
    the working folder first: another checkout of the code, for a baseline)."""
    from lsprotocol import types
    from pygls.lsp.client import LanguageClient

    client = LanguageClient(name, "1")
    ready = asyncio.Event()

    @client.feature(types.WINDOW_LOG_MESSAGE)
    def _log(params):
        if "R1 model ready" in params.message or "model unavailable" in params.message:
            ready.set()

    @client.feature(types.WINDOW_SHOW_MESSAGE)
    def _show(params):
        if show is not None:
            show(params.message)

    await client.start_io(sys.executable, "-m", "r1lsp", "serve", cwd=cwd)
    client.server_log = asyncio.ensure_future(_drain(client._server.stderr, os.environ.get("R1LSP_BENCH_SERVER_LOG")))
    return client, ready


async def _drain(stream, path: str | None) -> None:
    """Read the server's stderr (its log) as it comes: a pipe nobody reads fills up (64 KB)
    and then blocks the server mid-request. R1LSP_BENCH_SERVER_LOG=FILE keeps it in FILE
    (with initializationOptions {"logLevel": "debug"}: each list's stage timings)."""
    out = open(path, "ab") if path else None
    try:
        while line := await stream.readline():
            if out is not None:
                out.write(line)
    finally:
        if out is not None:
            out.close()


def _server_cpu_s(pid: int) -> float | None:
    """CPU time (s) all threads of process `pid` have run so far (Linux: the tasks' schedstat, ns), else None."""
    try:
        return sum(int(Path(t, "schedstat").read_text().split()[0]) for t in Path(f"/proc/{pid}/task").iterdir()) / 1e9
    except (OSError, ValueError, IndexError):
        return None


async def _run(files, n_positions: int, timeout: float, options: dict | None = None, ghost: bool = True,
               cwd: str | None = None) -> dict:
    from lsprotocol import types

    client, ready = await start_server("r1lsp-bench", cwd=cwd)
    caps = types.ClientCapabilities(general=types.GeneralClientCapabilities(position_encodings=["utf-16"]))
    await client.initialize_async(types.InitializeParams(capabilities=caps, root_uri="file:///bench",
                                                         initialization_options=options))
    client.initialized(types.InitializedParams())
    t0 = time.perf_counter()
    await asyncio.wait_for(ready.wait(), 300)
    load_s = time.perf_counter() - t0
    lists, ghosts, lists_cold, ghosts_cold, empty_lists = [], [], [], [], 0
    cold_cpu = []                      # the server's CPU (every thread) from didOpen to the cold list's answer
    pid = client._server.pid

    async def ask(uri, line, col, cold):
        nonlocal empty_lists
        pos = types.Position(line, col)
        doc = types.TextDocumentIdentifier(uri)
        t = time.perf_counter()
        res = await asyncio.wait_for(client.text_document_completion_async(
            types.CompletionParams(doc, pos)), timeout)
        (lists_cold if cold else lists).append(time.perf_counter() - t)
        if cold and opened_cpu is not None and (cpu := _server_cpu_s(pid)) is not None:
            cold_cpu.append(cpu - opened_cpu)
        items = res.items if hasattr(res, "items") else (res or [])
        empty_lists += not items
        if not ghost:
            return
        t = time.perf_counter()
        await asyncio.wait_for(client.text_document_inline_completion_async(types.InlineCompletionParams(
            context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Automatic),
            text_document=doc, position=pos)), timeout)
        (ghosts_cold if cold else ghosts).append(time.perf_counter() - t)

    for name, lang, text in files:
        uri = f"file:///bench/{name}"
        opened_cpu = _server_cpu_s(pid)
        client.text_document_did_open(types.DidOpenTextDocumentParams(
            types.TextDocumentItem(uri=uri, language_id=lang, version=1, text=text)))
        version = 1
        for line, col, typed in positions(text, n_positions):
            await ask(uri, line, col, True)
            for k, ch in enumerate(typed):
                version += 1
                client.text_document_did_change(types.DidChangeTextDocumentParams(
                    types.VersionedTextDocumentIdentifier(uri=uri, version=version),
                    [types.TextDocumentContentChangePartial(
                        range=types.Range(types.Position(line, col + k), types.Position(line, col + k)), text=ch)]))
                await ask(uri, line, col + k + 1, False)
            opened_cpu = None                                          # one cold list a file: the first
            # undo the typing (the next position sees the file as it was)
            version += 1
            client.text_document_did_change(types.DidChangeTextDocumentParams(
                types.VersionedTextDocumentIdentifier(uri=uri, version=version),
                [types.TextDocumentContentChangePartial(
                    range=types.Range(types.Position(line, col), types.Position(line, col + len(typed))), text="")]))
    await client.shutdown_async(None)
    client.exit(None)
    await client.stop()
    return {"lists": lists, "ghosts": ghosts, "lists_cold": lists_cold, "ghosts_cold": ghosts_cold,
            "empty_lists": empty_lists, "load_s": load_s, "cold_cpu": cold_cpu}


def editor_latency(n_positions: int = 3, java: bool = True, timeout: float = 600.0, options: dict | None = None,
                   ghost: bool = True, cwd: str | None = None) -> dict:
    """Figures (ms) from one server run; see the module docstring. `options`: the server's
    initializationOptions; `ghost` False: the lists alone; `cwd`: the server's code from there."""
    files = real_files(java)
    raw = asyncio.run(_run(files, n_positions, timeout, options, ghost, cwd))

    def pct(xs, q):
        xs = sorted(xs)
        return round(1000 * xs[min(len(xs) - 1, max(0, round(q * (len(xs) - 1))))], 1) if xs else None

    every_list = raw["lists"] + raw["lists_cold"]
    every_ghost = raw["ghosts"] + raw["ghosts_cold"]
    return {
        "list_p50_ms": pct(every_list, 0.5), "list_p95_ms": pct(every_list, 0.95),
        "inline_p50_ms": pct(every_ghost, 0.5), "inline_p95_ms": pct(every_ghost, 0.95),
        "list_typing_p95_ms": pct(raw["lists"], 0.95), "list_cold_p50_ms": pct(raw["lists_cold"], 0.5),
        # CPU of every server thread from a file's didOpen to its first list's answer (less load-bound than wall time)
        "list_cold_cpu_p50_ms": pct(raw["cold_cpu"], 0.5), "list_cold_cpu_max_ms": pct(raw["cold_cpu"], 1.0),
        "inline_typing_p50_ms": pct(raw["ghosts"], 0.5), "inline_cold_p50_ms": pct(raw["ghosts_cold"], 0.5),
        "editor_requests": len(every_list) + len(every_ghost), "editor_empty_lists": raw["empty_lists"],
        "editor_files": [f"{n} ({lang}, {t.count(chr(10)) + 1} lines)" for n, lang, t in files],
        "model_load_s": round(raw["load_s"], 1),
    }


def compare(baseline: str, n_positions: int, rounds: int) -> dict:
    """This checkout's figures against another checkout's (`baseline`: a folder holding its
    r1lsp/ and model/, e.g. `git archive REV | tar -x -C DIR`), servers run alternately in one
    process, `rounds` each: the medians of each figure."""
    import statistics
    runs: dict[str, list[dict]] = {"baseline": [], "current": []}
    for _ in range(rounds):
        runs["baseline"].append(editor_latency(n_positions, cwd=baseline))
        runs["current"].append(editor_latency(n_positions, cwd=str(Path(__file__).resolve().parents[1])))
    keys = [k for k, v in runs["current"][0].items() if isinstance(v, float)]
    return {tag: {k: statistics.median(r[k] for r in rs) for k in keys} for tag, rs in runs.items()}


if __name__ == "__main__":
    import argparse
    import json
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="1 position per file (else 3)")
    ap.add_argument("--baseline", help="another checkout's folder: its server and this one's, alternately")
    ap.add_argument("--rounds", type=int, default=1)
    a = ap.parse_args()
    n = 1 if a.quick else 3
    print(json.dumps(compare(a.baseline, n, a.rounds) if a.baseline else editor_latency(n)))
