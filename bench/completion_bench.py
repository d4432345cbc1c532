"""Completion benchmark: editor latency over LSP on real files, prefix cache, batching, cache.

    python bench/completion_bench.py [--quick] [--json] [--threads N] [--checkpoint DIR]

Uses the shipped checkpoint (model/checkpoints/r1-tiny) when present, else a random-weight
r1-tiny (full preset shapes, tokenizer trained on the test fixtures): latency depends on the
shapes, not on the weights; with random weights the model continuations are noise and ghost
text is often dropped by the syntax filter (its latency still includes the generation).

Figures (with --json the LAST stdout line is one JSON object holding them all):
  list_p50_ms, list_p95_ms           the completion list through the real server over LSP
  inline_p50_ms, inline_p95_ms       ghost text (textDocument/inlineCompletion) likewise
                                     (bench/lsp_latency.py: ~2,000-line stdlib / JDK files, the
                                     cursor deep inside, full context window, shipped model int8;
                                     a cold request where the cursor lands, then one per keystroke
                                     of 3 typed characters); *_typing_* / *_cold_* split them
  list_p*_ms_jedi_awaited            the same lists from a second server whose requests wait for
                                     jedi however long it takes (analysisBudgetMs 60000: the
                                     behaviour before the budget)
  list_fixtures_*, inline_fixtures_* complete() / inline_suggestions() in-process on the small
                                     test fixtures (the previous figures' setting), int8 engine
  prefix_cache_speedup               ghost text on the real files after typing 3 characters (the
                                     document's prompt cache kept) vs the same request cold (prefix
                                     cache emptied); result caches cleared for both;
                                     prefix_cache_speedup_list: the same for the completion list
  batching_speedup_8_clients         8 clients (different documents, each a ghost-text request
                                     after typing, their prefix caches warm: the prompt-cache
                                     budget raised to hold the 8 states) sent at once to the
                                     dynamic batcher vs the same requests one at a time
                                     (max_batch=1), the two timed alternately, wall time;
                                     *_cpu: the same in CPU time of the process (the engine's
                                     worker); *_cold: prefix caches emptied first
  cache_hit_ratio                    engine cache hits / lookups while a statement is typed
                                     character by character with a completion list per keystroke
                                     (null when the lists made no model lookups: model weight 0)
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import torch  # noqa: E402

from r1lsp.completion import complete  # noqa: E402
from r1lsp.engine import Engine, default_checkpoint  # noqa: E402
from r1lsp.inline import fim_request, inline_suggestions  # noqa: E402
from r1lsp.settings import ModelSettings  # noqa: E402
from model.structure import StructuredDocument  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures"


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, round(q * (len(xs) - 1))))]


def random_checkpoint(directory: Path) -> Path:
    from model import R1Config, R1Model, save_checkpoint
    from model.tokenizer import train_tokenizer
    texts = [p.read_text("utf-8", "replace") for p in sorted(FIXTURES.rglob("*"))
             if p.suffix in (".py", ".java") and p.is_file()]
    tok = train_tokenizer(texts * 2, vocab_size=2048)
    cfg = R1Config.preset("r1-tiny", vocab_size=tok.get_vocab_size())
    torch.manual_seed(0)
    return save_checkpoint(directory, R1Model(cfg).eval(), cfg, tok, {"note": "random weights (bench)"})


def positions(doc: StructuredDocument, n: int) -> list[tuple[int, int]]:
    """Cursor positions at the end of identifiers inside lines of code, spread over the file."""
    out = []
    for i, line in enumerate(doc.text.split("\n")):
        stripped = line.strip()
        if not stripped or stripped.startswith(("#", "//", "/*", "*", "import", "package", '"""')):
            continue
        j = len(line) - len(line.lstrip()) + min(len(stripped), 6)
        while j < len(line) and (line[j].isalnum() or line[j] == "_"):
            j += 1
        out.append((i, len(line[:j].encode("utf-16-le")) // 2))
    step = max(1, len(out) // n)
    return out[::step][:n]


def documents() -> list[StructuredDocument]:
    docs = []
    for rel, lang in [("structure/shop.py", "python"), ("structure/Shop.java", "java"),
                      ("data/python/shop/cart.py", "python"), ("data/java/inventory/Inventory.java", "java")]:
        docs.append(StructuredDocument((FIXTURES / rel).read_text(), lang))
    return docs


def latency(engine: Engine, docs, n_per_doc: int, max_tokens: int) -> tuple[list[float], list[float]]:
    lists, ghosts = [], []
    for doc in docs:
        for line, col in positions(doc, n_per_doc):
            engine.clear_cache()
            t = time.perf_counter()
            complete(doc, line, col, engine, timeout=60)
            lists.append(time.perf_counter() - t)
            t = time.perf_counter()
            inline_suggestions(doc, line, col, engine, max_tokens=max_tokens, timeout=60)
            ghosts.append(time.perf_counter() - t)
    return lists, ghosts


def cache_trace(engine: Engine) -> float:
    """Type a statement character by character, a completion list after each keystroke."""
    engine.clear_cache()
    src = (FIXTURES / "structure" / "shop.py").read_text()
    anchor = "    ordered = sorted(items, key=key)\n"
    typed = "    total = sum(it.price for it in items if it.price > limit)\n"
    at = src.index(anchor) + len(anchor)
    doc = StructuredDocument(src, "python")
    line = src[:at].count("\n")
    doc.apply_change("\n", (line, 0), (line, 0))
    before = engine.cache_stats()
    for k, ch in enumerate(typed.rstrip("\n")):
        doc.apply_change(ch, (line, k), (line, k))
        if ch.isalnum() or ch in "._":
            complete(doc, line, k + 1, engine, timeout=60)
    after = engine.cache_stats()
    hits, misses = after["hits"] - before["hits"], after["misses"] - before["misses"]
    # None when the lists made no model lookups at all (the fitted ranking weight of the model
    # score is 0, so the list does not run the model): a ratio of 0/0 would read as "no hits".
    return hits / (hits + misses) if hits + misses else None


def prefix_cache_speedup(engine: Engine, n_positions: int, max_tokens: int) -> tuple[float, float]:
    """(ghost text, list): median over real-file positions of cold time / time after typing 3 chars."""
    from lsp_latency import positions, real_files
    ghost, lst = [], []
    for name, lang, text in real_files(java=True)[::2]:
        for line, col, typed in positions(text, n_positions):
            lines = text.split("\n")

            def doc_typed(k):
                ln = lines[line][:col] + typed[:k] + lines[line][col:]
                return StructuredDocument("\n".join(lines[:line] + [ln] + lines[line + 1:]), lang)

            base, after = doc_typed(0), doc_typed(len(typed))
            key = f"file:///{name}"
            for fn, out in ((lambda d, c, k: inline_suggestions(d, line, c, engine, max_tokens=max_tokens,
                                                                 timeout=120, key=k + "#inline"), ghost),
                            (lambda d, c, k: complete(d, line, c, engine, timeout=120, key=k + "#completion"), lst)):
                engine.prefix_cache.invalidate(key)
                engine.clear_cache()
                t = time.perf_counter()
                fn(after, col + len(typed), key)                        # cold
                cold = time.perf_counter() - t
                engine.prefix_cache.invalidate(key)
                engine.clear_cache()
                fn(base, col, key)                                       # the request before typing
                engine.clear_cache()
                t = time.perf_counter()
                fn(after, col + len(typed), key)                        # after typing: prefix reused
                out.append(cold / (time.perf_counter() - t))
    return statistics.median(ghost), statistics.median(lst)


def batching_real(engine: Engine, rounds: int, max_tokens: int, warm: bool) -> tuple[float, float]:
    """8 clients, each a ghost-text request in its own real document (after typing, prefix caches
    warm; or cold): all at once vs one at a time, timed alternately. Returns the speedup in wall
    time and in CPU time of this process (the engine's worker thread; other jobs on a shared
    machine stall it, which wall time counts)."""
    from lsp_latency import positions, real_files
    reqs = []
    for name, lang, text in real_files(java=True):
        doc = StructuredDocument(text, lang)
        for line, col, _ in positions(text, 2):
            ids, lv = fim_request(engine, doc, doc.offset_at(line, col), max_tokens)
            reqs.append((f"file:///{name}:{line}#inline#prefix", ids, lv))
    reqs = reqs[:8]

    def prepare():
        engine.clear_cache()
        for key, ids, lv in reqs:
            engine.prefix_cache.invalidate(key)
            if warm:                                                     # the client typed before
                engine.submit_generate(None, ids[:-3], lv[:-3], max_new_tokens=1,   # 3 tokens fewer
                                       prefix_key=key).result(300)
        engine.clear_cache()

    def concurrent() -> float:
        prepare()
        barrier = threading.Barrier(len(reqs) + 1)
        futs = [None] * len(reqs)

        def client(i):
            key, ids, lv = reqs[i]
            barrier.wait()
            futs[i] = engine.submit_generate(f"client{i}", ids, lv, max_new_tokens=max_tokens, prefix_key=key)

        threads = [threading.Thread(target=client, args=(i,)) for i in range(len(reqs))]
        for th in threads:
            th.start()
        t, c = time.perf_counter(), time.process_time()
        barrier.wait()
        for th in threads:
            th.join()
        for f in futs:
            f.result(300)
        return time.perf_counter() - t, time.process_time() - c

    def one_by_one() -> tuple[float, float]:
        prepare()
        t, c = time.perf_counter(), time.process_time()
        for i, (key, ids, lv) in enumerate(reqs):
            engine.submit_generate(f"client{i}", ids, lv, max_new_tokens=max_tokens, prefix_key=key).result(300)
        return time.perf_counter() - t, time.process_time() - c

    # the 8 warm prefix states must fit the engine's prompt-cache budget, or most clients start
    # cold in both modes (r1-tiny: ~21 MB a state of 2,048 slots; the default cacheMb 96 keeps 3)
    budget = engine.prefix_cache.max_bytes
    engine.prefix_cache.max_bytes = max(budget, 1 << 30)
    batched, single = [], []
    try:
        for _ in range(rounds):
            engine.max_batch = 8
            batched.append(concurrent())
            engine.max_batch = 1
            single.append(one_by_one())
    finally:
        engine.max_batch = 8
        engine.prefix_cache.max_bytes = budget
    return tuple(statistics.median(s[i] for s in single) / statistics.median(b[i] for b in batched) for i in (0, 1))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer positions and rounds")
    ap.add_argument("--json", action="store_true", help="print the figures as one JSON line last")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--checkpoint", type=Path, default=None)
    ap.add_argument("--max-tokens", type=int, default=None, help="ghost-text tokens (default 16 quick, 48)")
    ap.add_argument("--no-lsp", action="store_true", help="skip the editor latency over LSP")
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    n_per_doc, rounds = (1, 1) if a.quick else (6, 3)
    max_tokens = a.max_tokens or (16 if a.quick else 48)

    tmp = tempfile.TemporaryDirectory()
    ckpt = a.checkpoint or default_checkpoint()
    shipped = (ckpt / "config.json").exists()
    if not shipped:
        ckpt = random_checkpoint(Path(tmp.name) / "r1-tiny-random")
    docs = documents()
    res: dict = {"checkpoint": "shipped" if shipped else "random r1-tiny", "threads": a.threads,
                 "quick": a.quick, "inline_max_tokens": max_tokens}
    if not a.no_lsp and shipped:
        from lsp_latency import editor_latency
        res.update(editor_latency(1 if a.quick else 3))
        # the same lists with every request waiting for jedi (before r1lsp.python.analysisBudgetMs)
        awaited = editor_latency(1 if a.quick else 3, options={"python": {"analysisBudgetMs": 60000}}, ghost=False)
        res["list_p50_ms_jedi_awaited"] = awaited["list_p50_ms"]
        res["list_p95_ms_jedi_awaited"] = awaited["list_p95_ms"]

    for quant in ("int8",) if a.quick else ("int8", "none"):
        eng = Engine(ModelSettings(path=str(ckpt), device="cpu", quantization=quant)).start()
        if not eng.wait_ready(300):
            print(f"engine failed: {eng.error}", file=sys.stderr)
            return 1
        complete(docs[0], 3, 0, eng, timeout=60)                        # warm up
        lists, ghosts = latency(eng, docs, n_per_doc if not a.quick else 2, max_tokens)
        tag = "_fixtures" if quant == "int8" else "_fixtures_fp32"
        res[f"list{tag}_p50_ms"] = round(1000 * pct(lists, 0.5), 1)
        res[f"list{tag}_p95_ms"] = round(1000 * pct(lists, 0.95), 1)
        res[f"inline{tag}_p50_ms"] = round(1000 * pct(ghosts, 0.5), 1)
        res[f"inline{tag}_p95_ms"] = round(1000 * pct(ghosts, 0.95), 1)
        if quant == "int8":
            res["quantization"] = eng.quantization
            g, lst = prefix_cache_speedup(eng, 1 if a.quick else 3, max_tokens)
            res["prefix_cache_speedup"], res["prefix_cache_speedup_list"] = round(g, 2), round(lst, 2)
            wall, cpu = batching_real(eng, rounds, max_tokens, warm=True)
            res["batching_speedup_8_clients"], res["batching_speedup_8_clients_cpu"] = round(wall, 2), round(cpu, 2)
            if not a.quick:
                wall, cpu = batching_real(eng, rounds, max_tokens, warm=False)
                res["batching_speedup_8_clients_cold"] = round(wall, 2)
                res["batching_speedup_8_clients_cold_cpu"] = round(cpu, 2)
            ratio = cache_trace(eng)
            res["cache_hit_ratio"] = round(ratio, 3) if ratio is not None else None
        eng.close()
    tmp.cleanup()

    print(f"checkpoint: {res['checkpoint']}, CPU, {a.threads} thread(s), ghost text {max_tokens} tokens "
          f"(machine shared: absolute times are noisy, ratios are timed side by side)")
    for k, v in res.items():
        if k not in ("checkpoint", "threads", "quick"):
            print(f"  {k:<34} {v}")
    if a.json:
        print(json.dumps(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
