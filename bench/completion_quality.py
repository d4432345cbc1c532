"""Completion quality on held-out code, through the real server over LSP.

    python bench/completion_quality.py [--quick] [--json] [--split test|dev] [--tune]

The code is the dev set of bench/devset.json (`make devset` fetches it into cache/devset):
public packages in neither the training corpus (Python stdlib + the venv's site-packages +
OpenJDK 17 sources) nor the tests, split by repository. Figures are reported on the `test`
split; `--split dev` measures the dev split (what the ranking weights and the ghost-text
threshold were tuned on, with `--tune`).

Positions, drawn with a fixed seed:
  member   `receiver.name` (Python attribute, Java field access / method call): the name is
           deleted, the cursor put after the dot, the list asked for; a hit when the name is
           among the first five items (Pythia's top-5).
  line     a line of code cut at a token boundary after its first token: the rest of the line
           deleted, ghost text asked for at the cut; its first line compared with the deleted
           rest (edit similarity = difflib ratio x 100; exact match after stripping blanks).
           An empty answer (nothing shown) scores 0.

Figures (--json: the last stdout line is one JSON object):
  member_top5_python, member_top5_java     % of member positions with the name in the top 5 (once
                                           jedi answered: Python's asked of a second server whose
                                           lists wait for jedi)
  member_top5_first_answer_*               the same in the first answer (jedi within its budget,
                                           else the file's names)
  line_es_python, line_es_java             mean edit similarity over all line positions
  line_em_python, line_em_java             % exact matches over all line positions
  ghost_shown_pct                          % of line positions with ghost text shown
  ghost_es_when_shown                      mean edit similarity where shown
  list_p50_ms, list_p95_ms                 completion request latency seen by the client
  ghost_p50_ms, ghost_p95_ms               inlineCompletion latency seen by the client
Latencies depend on the machine's load (2 shared cores here): compare within one run.

`--checkpoint DIR` runs the server on another model (the setting r1lsp.model.path), e.g. a training
run's candidate measured beside the shipped model/checkpoints/r1-tiny without copying it over.

`--tune` (dev split only): runs complete() / inline_suggestions() in-process on the dev split,
fits the list ranking weights (coordinate search on member top-5) and the ghost-text threshold
(the mean log-probability that maximises shown edit similarity x coverage), and prints them.
"""
from __future__ import annotations

import argparse
import asyncio
import difflib
import json
import random
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import devset  # noqa: E402

LANGS = ("python", "java")


@dataclass
class Position:
    language: str
    repo: str
    path: Path
    text: str                          # the document as the editor holds it
    line: int                          # cursor (0-based line, UTF-16 column)
    character: int
    expected: str                      # the deleted member name / rest of the line
    kind: str                          # "member" | "line"


def _utf16(s: str) -> int:
    return len(s.encode("utf-16-le")) // 2


def _member_sites(text: str, language: str):
    """(start byte, end byte) of member names after `receiver.` in code."""
    from model.structure.languages import language_support
    data = text.encode("utf-8")
    tree = language_support(language).parser().parse(data)
    wanted = {"python": {"attribute": "attribute"},
              "java": {"field_access": "field", "method_invocation": "name"}}[language]
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        field = wanted.get(node.type)
        if field is not None:
            name = node.child_by_field_name(field)
            obj = node.child_by_field_name("object")
            if name is not None and obj is not None and name.type == "identifier" \
                    and data[name.start_byte - 1:name.start_byte] == b".":
                yield name.start_byte, name.end_byte
        stack.extend(node.children)


def _line_cut(line: str, rng: random.Random) -> int | None:
    """A column after the first token of a code line (None: not a usable line)."""
    code = line.strip()
    if len(code) < 8 or code.startswith(("#", "//", "*", "/*", '"""', "'''", "@")):
        return None
    indent = len(line) - len(line.lstrip())
    cuts = [i for i in range(indent + 1, len(line.rstrip()))
            if (line[i - 1].isalnum() or line[i - 1] == "_") != (line[i].isalnum() or line[i] == "_")
            and not line[i - 1].isspace()]
    cuts = [c for c in cuts if c > indent + 1]
    return rng.choice(cuts) if cuts else None


def positions(split: str, n_member: int, n_line: int, seed: int = 0) -> list[Position]:
    out = []
    for language in LANGS:
        repos = devset.files(language, split)
        rng = random.Random(seed)
        members, lines = [], []
        for repo, paths in sorted(repos.items()):
            for path in paths:
                text = path.read_text("utf-8", "replace")
                if len(text) > 200_000:
                    continue
                data = text.encode("utf-8")
                for s, e in _member_sites(text, language):
                    before = data[:s].decode("utf-8", "replace")
                    doc = before + data[e:].decode("utf-8", "replace")
                    line = before.count("\n")
                    col = _utf16(before.rsplit("\n", 1)[-1])
                    members.append(Position(language, repo, path, doc, line, col, data[s:e].decode(), "member"))
                src_lines = text.split("\n")
                for i, ln in enumerate(src_lines):
                    cut = _line_cut(ln, rng)
                    if cut is None:
                        continue
                    doc = "\n".join(src_lines[:i] + [ln[:cut]] + src_lines[i + 1:])
                    lines.append(Position(language, repo, path, doc, i, _utf16(ln[:cut]), ln[cut:].rstrip(), "line"))
        rng.shuffle(members)
        rng.shuffle(lines)
        out += members[:n_member] + lines[:n_line]
    return out


def edit_similarity(got: str, want: str) -> float:
    got, want = got.strip(), want.strip()
    if not got and not want:
        return 100.0
    return 100.0 * difflib.SequenceMatcher(None, got, want).ratio()


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, round(q * (len(xs) - 1))))] if xs else float("nan")


# ---------------------------------------------------------------------------- over LSP

SERVER_DIR: str | None = None        # --server-dir: the server's code from another checkout (a baseline)


async def measure_lsp(pos: list[Position], options: dict) -> dict:
    from lsprotocol import types
    from lsp_latency import start_server

    client, ready = await start_server("completion-quality", cwd=SERVER_DIR,
                                       show=lambda m: print("server:", m, file=sys.stderr))
    base = lambda p: ROOT / "cache" / "devset" / p.language / p.repo
    roots = sorted({base(p) / p.path.relative_to(base(p)).parts[0] for p in pos})
    await client.initialize_async(types.InitializeParams(
        capabilities=types.ClientCapabilities(),
        initialization_options=options,
        workspace_folders=[types.WorkspaceFolder(uri=r.as_uri(), name=r.name) for r in roots]))
    client.initialized(types.InitializedParams())
    await asyncio.wait_for(ready.wait(), timeout=300)
    res = {"member": {l: [] for l in LANGS}, "member_first": {l: [] for l in LANGS}, "es": {l: [] for l in LANGS}, "em": {l: [] for l in LANGS},
           "shown_es": [], "list_ms": [], "ghost_ms": [], "member_top5": [], "lines": []}
    for n, p in enumerate(pos):
        uri = p.path.as_uri()
        client.text_document_did_open(types.DidOpenTextDocumentParams(
            types.TextDocumentItem(uri=uri, language_id=p.language, version=n + 1, text=p.text)))
        where = types.Position(p.line, p.character)
        doc_id = types.TextDocumentIdentifier(uri=uri)
        if p.kind == "member":
            t = time.perf_counter()
            got = await client.text_document_completion_async(types.CompletionParams(doc_id, where))
            res["list_ms"].append(1000 * (time.perf_counter() - t))
            top5 = lambda got: [i.label for i in sorted(got.items, key=lambda i: i.sort_text or i.label)[:5]] \
                if got else []
            res["member_first"][p.language].append(p.expected in top5(got))
            res["member"][p.language].append(p.expected in top5(got))
            res["member_top5"].append(top5(got))
        else:
            t = time.perf_counter()
            got = await client.text_document_inline_completion_async(types.InlineCompletionParams(
                context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Invoked),
                text_document=doc_id, position=where))
            res["ghost_ms"].append(1000 * (time.perf_counter() - t))
            items = got.items if got is not None and not isinstance(got, list) else (got or [])
            text = items[0].insert_text if items else ""
            text = text if isinstance(text, str) else text.value
            first = text.split("\n")[0]
            es = edit_similarity(first, p.expected) if first.strip() else 0.0
            res["es"][p.language].append(es)
            res["em"][p.language].append(bool(first.strip()) and first.strip() == p.expected.strip())
            if first.strip():
                res["shown_es"].append(es)
            res["lines"].append({"language": p.language, "repo": p.repo, "path": str(p.path.relative_to(ROOT)),
                                 "line": p.line, "character": p.character, "expected": p.expected,
                                 "got": first, "es": round(es, 1)})
        client.text_document_did_close(types.DidCloseTextDocumentParams(doc_id))
    await client.shutdown_async(None)
    client.exit(None)
    await client.stop()
    return res


def figures(res: dict) -> dict:
    mean = lambda xs: round(100.0 * sum(xs) / len(xs), 1) if xs else None
    out = {}
    for lang in LANGS:
        out[f"member_top5_{lang}"] = mean(res["member"][lang])
        out[f"member_top5_first_answer_{lang}"] = mean(res["member_first"][lang])
        out[f"line_es_{lang}"] = round(statistics.fmean(res["es"][lang]), 1) if res["es"][lang] else None
        out[f"line_em_{lang}"] = mean(res["em"][lang])
    n_line = sum(len(res["es"][l]) for l in LANGS)
    out["ghost_shown_pct"] = round(100.0 * len(res["shown_es"]) / n_line, 1) if n_line else None
    out["ghost_es_when_shown"] = round(statistics.fmean(res["shown_es"]), 1) if res["shown_es"] else None
    out["list_p50_ms"] = round(pct(res["list_ms"], 0.5), 1)
    out["list_p95_ms"] = round(pct(res["list_ms"], 0.95), 1)
    out["ghost_p50_ms"] = round(pct(res["ghost_ms"], 0.5), 1)
    out["ghost_p95_ms"] = round(pct(res["ghost_ms"], 0.95), 1)
    out["positions"] = {l: {"member": len(res["member"][l]), "line": len(res["es"][l])} for l in LANGS}
    return out


def settle(pos: list[Position], res: dict, options: dict) -> None:
    """The settled Python lists (once jedi answered): the Python member positions asked again of
    a second server whose lists wait for jedi (analysisBudgetMs 60000), what the editor's next
    keystroke gets from jedi's kept answer. The server does not say which of its incomplete
    lists are the file's names, so the first server cannot tell when to stop asking again.
    Java has no pending analysis: its first answer is its settled one."""
    members = [p for p in pos if p.kind == "member"]
    python = [p for p in members if p.language == "python"]
    if not python:
        return
    awaited = asyncio.run(measure_lsp(python, {**options, "python": {"analysisBudgetMs": 60000}}))
    res["member"]["python"] = awaited["member"]["python"]
    again = iter(awaited["member_top5"])
    res["member_top5"] = [next(again) if p.language == "python" else top
                          for p, top in zip(members, res["member_top5"])]


def parity(pos: list[Position], res: dict, split: str) -> dict:
    """The member positions ranked in-process as bench/tune_completion.py measures them (static
    ranking, the server's weights, jedi without a deadline) beside the server's settled lists:
    top-5 in-process per language and how many positions' top 5 differ from the server's."""
    import tune_completion
    from r1lsp.completion_rank import member_net, weights_for
    members = [p for p in pos if p.kind == "member"]
    got = tune_completion.member_samples(0, pos=members, names=False)
    mine = {l: iter(got[l]) for l in LANGS}
    out = {f"inprocess_member_top5_{l}": None for l in LANGS}
    hits = {l: [] for l in LANGS}
    differ = {l: 0 for l in LANGS}
    for p, lsp in zip(members, res["member_top5"]):
        sample = next(mine[p.language])             # ranked as the server ranks it (names: their own weights)
        top = tune_completion.ranked_top5(sample, weights_for(p.language, member=True, names=not sample.resolved),
                                          member_net(p.language) if sample.resolved else None)
        hits[p.language].append(p.expected in top)
        differ[p.language] += top != lsp
        if top != lsp and split == "dev":               # dev only: the test split's positions stay unseen
            print(f"parity {p.repo}/{p.path.name}:{p.line + 1} want {p.expected}: server {lsp} "
                  f"in-process {top}", file=sys.stderr)
    for l in LANGS:
        out[f"inprocess_member_top5_{l}"] = round(100.0 * sum(hits[l]) / len(hits[l]), 1) if hits[l] else None
        out[f"top5_differs_{l}"] = differ[l]
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer positions (< 1 min on 2 cores)")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--split", choices=("test", "dev"), default="test")
    ap.add_argument("--tune", action="store_true", help="fit ranking weights and the ghost threshold on dev")
    ap.add_argument("--with-model", action="store_true", help="--tune: also score with the model and fit its weight")
    ap.add_argument("--min-confidence", type=float, default=None, help="override r1lsp.inline.minConfidence")
    ap.add_argument("--members-only", action="store_true", help="the member positions only (no ghost text)")
    ap.add_argument("--parity", action="store_true",
                    help="also rank the member positions in-process (bench/tune_completion.py's way) and count "
                         "where the server's settled top 5 differs")
    ap.add_argument("--server-dir", default=None,
                    help="run the server from this checkout (a baseline: `git archive REV | tar -x -C DIR`)")
    ap.add_argument("--lines-only", action="store_true", help="the line positions only (ghost text, no lists)")
    ap.add_argument("--no-retrieval", action="store_true", help="r1lsp.inline.retrieval off (the model alone)")
    ap.add_argument("--checkpoint", default=None, metavar="DIR",
                    help="the server's model from this checkpoint folder (r1lsp.model.path; default: the shipped "
                         "model/checkpoints/r1-tiny), e.g. a training run's candidate beside the shipped one")
    ap.add_argument("--dump", default=None, help="write each line position's answer (JSON lines) to this file")
    ap.add_argument("--lines", type=int, default=None,
                    help="line positions per language (default 60, --quick 12; the first 60 of 300 are the default's)")
    args = ap.parse_args()
    global SERVER_DIR
    SERVER_DIR = args.server_dir
    if not any((ROOT / "cache" / "devset" / l).exists() for l in LANGS):
        print("no dev set: run `make devset` first", file=sys.stderr)
        return 2
    if args.tune:
        import tune_completion
        return tune_completion.main(quick=args.quick, with_model=args.with_model)
    n_member, n_line = (40, 12) if args.quick else (200, 60)
    if args.members_only:
        n_line = 0
    if args.lines_only:
        n_member = 0
    if args.lines is not None:
        n_line = args.lines
    pos = positions(args.split, n_member, n_line)
    options = {"model": {"threads": 1}, "features": {"expertDiagnostics": False}}
    if args.checkpoint:
        options["model"]["path"] = str(Path(args.checkpoint).resolve())
    if args.min_confidence is not None:
        options.setdefault("inline", {})["minConfidence"] = args.min_confidence
    if args.no_retrieval:
        options.setdefault("inline", {})["retrieval"] = False
    t = time.perf_counter()
    res = asyncio.run(measure_lsp(pos, options))
    settle(pos, res, options)
    if args.dump:
        Path(args.dump).write_text("".join(json.dumps(r) + "\n" for r in res["lines"]))
    out = figures(res)
    if args.parity:
        out.update(parity(pos, res, args.split))
    out["split"] = args.split
    out["seconds"] = round(time.perf_counter() - t, 1)
    if not args.json:
        for k, v in out.items():
            print(f"{k:24} {v}")
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
