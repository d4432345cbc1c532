"""Java member completion through LSP: list latency on a ~2,000-line file and member top-5.

    python bench/java_completion_bench.py [--quick] [--json] [--file F.java] [--folder DIR]

The real server (`python -m r1lsp serve`) over stdio, the workspace folder indexed as the
server does. At each `receiver.name` site of the file the name is deleted by an incremental
didChange (the cursor after the dot), the list asked for, and the name typed back: what an
editor sends. Twice: with the model unavailable (the static part: type resolution, candidates,
the static ranking) and with the shipped model ranking the candidates.

--file defaults to a ~2,000-line file built from samples/Inventory.java (its classes repeated
under other names, each with a method using them); --folder adds every .java file under DIR as
the workspace (e.g. a Debian Java source package) and draws the positions from its files.

Figures (--json: the last stdout line is one JSON object):
  list_static_p50_ms, list_static_p95_ms   the list without the model (client-side wall time)
  list_model_p50_ms, list_model_p95_ms     the list ranked by the shipped model
  member_top5_static, member_top5_model    % of sites whose deleted name is in the first five
  resolved_pct                             % of sites where the list holds the name (the type resolved)
  list_static_cpu_p50_ms, list_static_cpu_p95_ms
                                           the same static list computed in-process (complete() with
                                           the workspace index, the index update an edit triggers
                                           included), this thread's CPU time: what the load of
                                           other processes does not inflate
Latencies depend on the machine's load (2 shared cores here): compare within one run.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def synthetic_file(lines: int = 2000) -> str:
    """samples/Inventory.java's classes repeated under other names, with a method per copy
    that uses an instance (member accesses to measure), to about `lines` lines."""
    src = (ROOT / "samples" / "Inventory.java").read_text("utf-8")
    body = src[src.index("public class Inventory {"):]
    header = src[:src.index("public class Inventory {")]
    out, k = [], 0
    while sum(p.count("\n") for p in out) < lines - 120:
        copy = body.replace("public class Inventory", f"static class Inventory{k}").replace(
            "Inventory inventory = new Inventory()", f"Inventory{k} inventory = new Inventory{k}()")
        copy = re.sub(r"\bInventory\b(?!\d)", f"Inventory{k}", copy)
        out.append(copy)
        k += 1
    return header + "public class Warehouse {\n" + "\n".join(out) + "}\n"


def sites(text: str) -> list[tuple[int, int]]:
    """(start, end) character offsets of member names after `receiver.`."""
    from model.structure.languages import language_support
    from r1lsp.usage_prior_build import member_accesses
    data = text.encode("utf-8")
    tree = language_support("java").parser().parse(data)
    out = [(len(data[:name.start_byte].decode()), len(data[:name.end_byte].decode()))
           for name, _ in member_accesses(tree) if data[name.start_byte - 1:name.start_byte] == b"."]
    return sorted(out)


def _pos(text: str, offset: int):
    from lsprotocol import types
    before = text[:offset]
    line = before.count("\n")
    col = len(before.rsplit("\n", 1)[-1].encode("utf-16-le")) // 2
    return types.Position(line, col)


async def run_lsp(files: list[tuple[Path, str, list[tuple[int, int]]]], folder: Path, options: dict) -> dict:
    from lsprotocol import types
    from pygls.lsp.client import LanguageClient
    client = LanguageClient("java-completion-bench", "1")
    ready, indexed = asyncio.Event(), asyncio.Event()

    @client.feature(types.WINDOW_LOG_MESSAGE)
    def _log(params):
        if "R1 model ready" in params.message or "model unavailable" in params.message \
                or "could not" in params.message.lower():
            ready.set()
        if "java index:" in params.message:
            indexed.set()

    @client.feature(types.WINDOW_SHOW_MESSAGE)
    def _show(params):
        ready.set()                                                      # a model error: no model

    await client.start_io(sys.executable, "-m", "r1lsp", "serve")
    await client.initialize_async(types.InitializeParams(
        capabilities=types.ClientCapabilities(), initialization_options=options,
        workspace_folders=[types.WorkspaceFolder(uri=folder.as_uri(), name=folder.name)]))
    client.initialized(types.InitializedParams())
    await asyncio.wait_for(ready.wait(), timeout=300)
    await asyncio.wait_for(indexed.wait(), timeout=300)
    ms, top5, found = [], [], []
    version = 1
    for path, text, spots in files:
        uri = path.as_uri()
        doc_id = types.TextDocumentIdentifier(uri=uri)
        client.text_document_did_open(types.DidOpenTextDocumentParams(
            types.TextDocumentItem(uri=uri, language_id="java", version=version, text=text)))
        for s, e in spots:
            name = text[s:e]
            at = _pos(text, s)
            end = _pos(text, e)
            version += 1
            client.text_document_did_change(types.DidChangeTextDocumentParams(
                types.VersionedTextDocumentIdentifier(uri=uri, version=version),
                [types.TextDocumentContentChangePartial(range=types.Range(at, end), text="")]))
            t = time.perf_counter()
            got = await client.text_document_completion_async(types.CompletionParams(doc_id, at))
            ms.append(1000 * (time.perf_counter() - t))
            items = sorted(got.items, key=lambda i: i.sort_text or i.label) if got else []
            labels = [i.label for i in items]
            top5.append(name in labels[:5])
            found.append(name in labels)
            version += 1
            client.text_document_did_change(types.DidChangeTextDocumentParams(
                types.VersionedTextDocumentIdentifier(uri=uri, version=version),
                [types.TextDocumentContentChangePartial(range=types.Range(at, at), text=name)]))
        client.text_document_did_close(types.DidCloseTextDocumentParams(doc_id))
    await client.shutdown_async(None)
    client.exit(None)
    await client.stop()
    return {"ms": ms, "top5": top5, "found": found}


def in_process_cpu(files, folder: Path) -> list[float]:
    """CPU milliseconds (this thread) of the static list at each site: the edited document
    re-indexed as the server does before a completion, then complete() without a model."""
    from r1lsp.completion import AnalysisContext, complete
    from r1lsp.java.provider import warm_up
    from r1lsp.java.workspace import JavaIndex
    from model.structure import StructuredDocument
    index = JavaIndex()
    index.scan([folder])
    warm_up(index)
    out = []
    for path, text, spots in files:
        uri = path.as_uri()
        doc = StructuredDocument(text, "java")
        for s, e in spots:
            at, end = _pos(text, s), _pos(text, e)
            doc.apply_change("", (at.line, at.character), (end.line, end.character))
            t = time.thread_time()
            index.update(uri, tree=doc.tree)
            complete(doc, at.line, at.character, None, context=AnalysisContext(java_index=index, uri=uri))
            out.append(1000 * (time.thread_time() - t))
            doc.apply_change(text[s:e], (at.line, at.character), (at.line, at.character))
    return out


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return round(xs[min(len(xs) - 1, max(0, round(q * (len(xs) - 1))))], 1) if xs else float("nan")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer positions (< 1 min on 2 cores)")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--file", type=Path, help="the Java file to measure (default: a synthetic ~2,000-line one)")
    ap.add_argument("--folder", type=Path, help="a Java source tree: the workspace, positions drawn from it")
    ap.add_argument("--positions", type=int, default=None)
    ap.add_argument("--no-model", action="store_true", help="only the static pass")
    ap.add_argument("--verbose", action="store_true", help="every request's time")
    args = ap.parse_args()
    n = args.positions or (25 if args.quick else 150)
    rng = random.Random(0)
    with tempfile.TemporaryDirectory() as tmp:
        if args.folder:
            folder = args.folder.resolve()
            cands = []
            for p in sorted(folder.rglob("*.java")):
                text = p.read_text("utf-8", "replace")
                cands += [(p, text, s) for s in sites(text)]
            rng.shuffle(cands)
            by_file: dict[Path, tuple[str, list]] = {}
            for p, text, s in cands[:n]:
                by_file.setdefault(p, (text, []))[1].append(s)
            files = [(p, t, sorted(ss, reverse=True)) for p, (t, ss) in sorted(by_file.items())]
        else:
            folder = Path(tmp)
            path = args.file.resolve() if args.file else folder / "Warehouse.java"
            text = path.read_text("utf-8") if args.file else synthetic_file()
            if not args.file:
                path.write_text(text, "utf-8")
            spots = sites(text)
            rng.shuffle(spots)
            files = [(path, text, sorted(spots[:n], reverse=True))]
        lines = sum(t.count("\n") for _, t, _ in files)
        no_model = {"model": {"path": str(Path(tmp) / "no-model")}, "features": {"expertDiagnostics": False,
                                                                             "inlineCompletion": False}}
        static = asyncio.run(run_lsp(files, folder, no_model))
        cpu = in_process_cpu(files, folder)
        model = None
        if not args.no_model:
            model = asyncio.run(run_lsp(files, folder, {"model": {"threads": 1},
                                                         "features": {"expertDiagnostics": False}}))
    mean = lambda xs: round(100.0 * sum(xs) / len(xs), 1) if xs else None
    out = {"positions": len(static["ms"]), "lines": lines,
           "list_static_p50_ms": pct(static["ms"], 0.5), "list_static_p95_ms": pct(static["ms"], 0.95),
           "member_top5_static": mean(static["top5"]), "resolved_pct": mean(static["found"]),
           "list_static_cpu_p50_ms": pct(cpu, 0.5), "list_static_cpu_p95_ms": pct(cpu, 0.95)}
    if model is not None:
        out.update({"list_model_p50_ms": pct(model["ms"], 0.5), "list_model_p95_ms": pct(model["ms"], 0.95),
                    "member_top5_model": mean(model["top5"])})
    if args.verbose:
        print("static ms:", [round(x) for x in static["ms"]], file=sys.stderr)
    if not args.json:
        for k, v in out.items():
            print(f"{k:22} {v}")
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
