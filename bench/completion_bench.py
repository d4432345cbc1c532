"""Completion benchmark: list and ghost-text latency (fp32 vs int8), dynamic batching, cache.

    python bench/completion_bench.py [--quick] [--json] [--threads N] [--checkpoint DIR]

Uses the shipped checkpoint (model/checkpoints/r1-tiny) when present, else a random-weight
r1-tiny (full preset shapes, tokenizer trained on the test fixtures): latency depends on the
shapes, not on the weights; with random weights the model continuations are noise and ghost
text is often dropped by the syntax filter (its latency still includes the generation).

Figures (with --json the LAST stdout line is one JSON object holding them all):
  list_p50_ms, list_p95_ms           complete() at positions in the fixtures, int8 engine
  list_fp32_p50_ms, list_fp32_p95_ms the same on the unquantized engine
  inline_p50_ms, inline_p95_ms       inline_suggestions() (FIM, --max-tokens), int8 engine
  inline_fp32_p50_ms, inline_fp32_p95_ms
  batching_speedup_8_clients         8 concurrent clients (each a ghost-text request) served by
                                     the dynamic batcher vs the same requests one at a time
                                     (max_batch=1), the two timed alternately; seed claims 3.2x
                                     (its 120 -> 380 qps includes quantization)
  cache_hit_ratio                    engine cache hits / lookups while a statement is typed
                                     character by character with a completion list per keystroke
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

import torch  # noqa: E402

from r1lsp.completion import complete  # noqa: E402
from r1lsp.engine import Engine, default_checkpoint  # noqa: E402
from r1lsp.inline import fim_request, inline_suggestions  # noqa: E402
from r1lsp.settings import ModelSettings  # noqa: E402
from r1lsp.structure import StructuredDocument  # noqa: E402

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


def batching(engine: Engine, docs, rounds: int, max_tokens: int) -> float:
    """Seconds for 8 clients' ghost-text requests: all at once (batched) vs one at a time."""
    reqs = []
    for doc in docs:
        for line, col in positions(doc, 2):
            reqs.append(fim_request(engine, doc, doc.offset_at(line, col), max_tokens))
    reqs = reqs[:8]

    def concurrent() -> float:
        engine.clear_cache()
        barrier = threading.Barrier(len(reqs) + 1)
        futs = [None] * len(reqs)

        def client(i):
            barrier.wait()
            futs[i] = engine.submit_generate(f"client{i}", *reqs[i], max_new_tokens=max_tokens)

        threads = [threading.Thread(target=client, args=(i,)) for i in range(len(reqs))]
        for th in threads:
            th.start()
        t = time.perf_counter()
        barrier.wait()
        for th in threads:
            th.join()
        for f in futs:
            f.result(120)
        return time.perf_counter() - t

    def one_by_one() -> float:
        engine.clear_cache()
        t = time.perf_counter()
        for i, (ids, lv) in enumerate(reqs):
            engine.submit_generate(f"client{i}", ids, lv, max_new_tokens=max_tokens).result(120)
        return time.perf_counter() - t

    batched, single = [], []
    for _ in range(rounds):
        engine.max_batch = 8
        batched.append(concurrent())
        engine.max_batch = 1
        single.append(one_by_one())
    engine.max_batch = 8
    return statistics.median(single) / statistics.median(batched)


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
    return hits / max(1, hits + misses)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer positions and rounds (< 1 min on 2 cores)")
    ap.add_argument("--json", action="store_true", help="print the figures as one JSON line last")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--checkpoint", type=Path, default=None)
    ap.add_argument("--max-tokens", type=int, default=None, help="ghost-text tokens (default 16 quick, 48)")
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    n_per_doc, rounds = (2, 2) if a.quick else (6, 5)
    max_tokens = a.max_tokens or (16 if a.quick else 48)

    tmp = tempfile.TemporaryDirectory()
    ckpt = a.checkpoint or default_checkpoint()
    shipped = (ckpt / "config.json").exists()
    if not shipped:
        ckpt = random_checkpoint(Path(tmp.name) / "r1-tiny-random")
    docs = documents()
    res: dict = {"checkpoint": "shipped" if shipped else "random r1-tiny", "threads": a.threads,
                 "quick": a.quick, "inline_max_tokens": max_tokens}

    for quant in ("none", "int8"):
        eng = Engine(ModelSettings(path=str(ckpt), device="cpu", quantization=quant)).start()
        if not eng.wait_ready(300):
            print(f"engine failed: {eng.error}", file=sys.stderr)
            return 1
        complete(docs[0], 3, 0, eng, timeout=60)                        # warm up
        lists, ghosts = latency(eng, docs, n_per_doc, max_tokens)
        tag = "" if quant == "int8" else "_fp32"
        res[f"list{tag}_p50_ms"] = round(1000 * pct(lists, 0.5), 1)
        res[f"list{tag}_p95_ms"] = round(1000 * pct(lists, 0.95), 1)
        res[f"inline{tag}_p50_ms"] = round(1000 * pct(ghosts, 0.5), 1)
        res[f"inline{tag}_p95_ms"] = round(1000 * pct(ghosts, 0.95), 1)
        if quant == "int8":
            res["quantization"] = eng.quantization
            res["batching_speedup_8_clients"] = round(batching(eng, docs, rounds, max_tokens), 2)
            res["cache_hit_ratio"] = round(cache_trace(eng), 3)
        eng.close()
    tmp.cleanup()

    print(f"checkpoint: {res['checkpoint']}, CPU, {a.threads} thread(s), ghost text {max_tokens} tokens")
    print(f"{'measure':<34}{'int8 p50':>10}{'int8 p95':>10}{'fp32 p50':>10}{'fp32 p95':>10}   (ms)")
    for name in ("list", "inline"):
        print(f"{name:<34}{res[name + '_p50_ms']:>10}{res[name + '_p95_ms']:>10}"
              f"{res[name + '_fp32_p50_ms']:>10}{res[name + '_fp32_p95_ms']:>10}")
    print(f"dynamic batching, 8 clients: {res['batching_speedup_8_clients']}x vs one at a time (seed claims 3.2x)")
    print(f"cache hit ratio on an edit trace: {res['cache_hit_ratio']}")
    if a.json:
        print(json.dumps(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
