"""Engine: loading and its errors, dynamic batching, per-row stops, cancellation, scores, routing, cache."""
import asyncio
import shutil
import threading
from concurrent.futures import CancelledError

import pytest
import torch

from model import load_checkpoint
from model.generate import generate
from r1lsp.engine import Engine
from r1lsp.settings import ModelSettings

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def engine(tiny_checkpoint):
    progress = []
    eng = Engine(ModelSettings(path=str(tiny_checkpoint), device="cpu", quantization="none"),
                 on_progress=lambda m, p: progress.append((m, p)), batch_wait_ms=30).start()
    assert eng.wait_ready(60), eng.error
    eng.progress = progress
    yield eng
    eng.close()


@pytest.fixture(scope="module")
def reference(tiny_checkpoint):
    return load_checkpoint(tiny_checkpoint).model


def test_loads_and_reports_progress(engine):
    assert engine.state == "ready" and engine.device == "cpu" and engine.quantization == "none"
    assert engine.progress[-1][1] == 100 and "ready" in engine.progress[-1][0]
    assert [p for _, p in engine.progress if p is not None] == sorted(p for _, p in engine.progress if p is not None)


def test_int8_engine_generates_like_fp32(tiny_checkpoint, engine):
    eng = Engine(ModelSettings(path=str(tiny_checkpoint), device="cpu", quantization="int8")).start()
    try:
        assert eng.wait_ready(60), eng.error
        assert eng.quantization.startswith("int8")
        ids = eng.encode("def total(items):\n    return sum(")
        a = eng.submit_score(None, ids, None, [eng.encode("items")]).result(30)[0]
        b = engine.submit_score(None, ids, None, [engine.encode("items")]).result(30)[0]
        assert abs(a - b) < 0.05 * abs(b) + 0.1
    finally:
        eng.close()
    assert eng.state == "closed"


def test_missing_checkpoint_is_a_clear_error(tmp_path):
    eng = Engine(ModelSettings(path=str(tmp_path / "nowhere"), device="cpu")).start()
    assert not eng.wait_ready(10)
    assert eng.state == "failed" and "No model checkpoint" in eng.error and "nowhere" in eng.error
    with pytest.raises(RuntimeError, match="No model checkpoint"):
        eng.submit_generate("k", [1, 2, 3]).result(5)


def test_corrupt_checkpoint_names_the_file(tiny_checkpoint, tmp_path):
    bad = shutil.copytree(tiny_checkpoint, tmp_path / "bad")
    weights = bad / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    eng = Engine(ModelSettings(path=str(bad), device="cpu")).start()
    assert not eng.wait_ready(10)
    assert eng.state == "failed" and "corrupt" in eng.error and "model.safetensors" in eng.error


@pytest.mark.skipif(torch.cuda.is_available(), reason="the fallback is for machines without CUDA")
def test_cuda_without_cuda_falls_back_to_cpu(tiny_checkpoint):
    eng = Engine(ModelSettings(path=str(tiny_checkpoint), device="cuda", quantization="none")).start()
    try:
        assert eng.wait_ready(60)
        assert eng.device == "cpu" and any("CUDA is not available" in n for n in eng.notices)
    finally:
        eng.close()


def test_concurrent_requests_are_batched_and_match_one_by_one(engine, reference):
    prompts = [engine.encode(t) for t in ("def f(x):\n", "class A:\n    def", "import os\n",
                                           "for i in range(", "x = [1, 2", "public int count(",
                                           "return a +", "while True:\n    ")]
    lengths = [3, 5, 7, 9, 4, 6, 8, 2]
    before = engine.batches_run
    futs = [engine.submit_generate(f"row{i}", p, None, n) for i, (p, n) in enumerate(zip(prompts, lengths))]
    got = [f.result(30) for f in futs]
    assert engine.batches_run - before <= 2                      # 8 requests, one (or two) batches
    for p, n, g in zip(prompts, lengths, got):
        alone = generate(reference, [p], max_new_tokens=n, eos_id=engine.special.endoftext)[0].tokens
        specials = engine.special.all_ids()                      # the engine masks these (eos aside)
        if not specials & set(alone):
            assert g.tokens == alone
        one = engine.submit_generate(None, p, None, n).result(30)       # served alone
        assert one.tokens == g.tokens and len(g.tokens) <= n
        assert g.finish_reason in ("length", "eos")


def test_a_request_sent_while_a_batch_decodes_joins_it_and_equals_one_by_one(engine, reference):
    """A generate request queued while another's tokens are being generated joins that batch at its
    next token (no batch of its own after it), and both get the tokens they get alone."""
    first, second = engine.encode("def f(x):\n"), engine.encode("class A:\n    def")
    sent: list = []

    def send_second(generated, logits):                           # runs in the batch, at its 2nd token
        if len(generated) == 1 and not sent:
            sent.append(engine.submit_generate("late", second, None, 6))
        return None

    before, rows_before = engine.batches_run, engine.rows_run
    a = engine.submit_generate("early", first, None, 10, logits_processor=send_second).result(30)
    b = sent[0].result(30)
    assert engine.batches_run - before == 1 and engine.rows_run - rows_before == 2
    assert b.stages["rows"] == 2                                  # it ran in the first request's batch
    specials = engine.special.all_ids()
    for p, n, got in ((first, 10, a), (second, 6, b)):
        alone = generate(reference, [p], max_new_tokens=n, eos_id=engine.special.endoftext)[0].tokens
        if not specials & set(alone):
            assert got.tokens == alone
        assert engine.submit_generate(None, p, None, n).result(30).tokens == got.tokens


def test_best_of_requests_in_a_batch_equal_model_generate_and_one_by_one(engine, reference):
    """A request with best_of (ghost text's likeliest first tokens each continued) batched with a
    plain one: each gets what model.generate gives it alone, and what it gets served alone."""
    prompts = [engine.encode("def f(x):\n    return"), engine.encode("class A:\n    def")]
    futs = [engine.submit_generate("bo0", prompts[0], None, 8, best_of=3, length_penalty=0.0),
            engine.submit_generate("bo1", prompts[1], None, 6)]
    got = [f.result(30) for f in futs]
    for p, n, k, g in ((prompts[0], 8, 3, got[0]), (prompts[1], 6, 1, got[1])):
        alone = generate(reference, [p], max_new_tokens=n, eos_id=sorted(engine.prompts.eos_ids), best_of=k,
                         length_penalty=0.0, banned_ids=engine.prompts.banned_ids)[0].tokens
        assert g.tokens == alone
        one = engine.submit_generate(None, p, None, n, best_of=k, length_penalty=0.0).result(30)
        assert one.tokens == g.tokens


def test_per_row_stop_rule_and_stop_strings(engine):
    p = engine.encode("def f(x):\n    return ")
    free = engine.submit_generate(None, p, None, 12).result(30)
    assert len(free.text) >= 2
    cut_at = lambda text: 1 if len(text) >= 1 else None          # stop after the first character
    f1 = engine.submit_generate(None, p, None, 12, stop_fn=cut_at)
    f2 = engine.submit_generate(None, p, None, 12, [free.text[1:3]])
    f3 = engine.submit_generate(None, p, None, 12)
    r1, r2, r3 = f1.result(30), f2.result(30), f3.result(30)
    assert r1.finish_reason == "stop" and r1.text == free.text[:1]
    assert r2.finish_reason == "stop" and free.text.startswith(r2.text) and len(r2.text) <= 1
    assert r3.tokens == free.tokens


def test_cancel_stops_work_and_newer_request_supersedes(engine):
    p = engine.encode("x = 1\n")
    entered, release = threading.Event(), threading.Event()

    def hold(text):                                              # keeps the worker inside a decode step
        entered.set()
        release.wait(10)
        return None

    slow = engine.submit_generate("doc", p, None, 400, stop_fn=hold)
    assert entered.wait(10)
    newer = engine.submit_generate("doc", p, None, 2)            # same key: the older one is cancelled
    assert slow.cancelled()
    release.set()
    with pytest.raises(CancelledError):
        slow.result(30)
    assert len(newer.result(30).tokens) <= 2
    ev = threading.Event()
    decoded = []                                                 # the text after each decoded token
    f = engine.submit_generate("other", p, None, 400, cancel=ev, stop_fn=lambda text: decoded.append(text))
    ev.set()
    with pytest.raises(CancelledError):
        f.result(30)
    g = engine.submit_generate("third", p, None, 400)
    assert engine.cancel("third") and g.cancelled()
    assert engine.submit_generate(None, p, None, 1).result(30) is not None
    # cancelled work stopped within a decode step (counted in tokens, not timed)
    assert len(decoded) <= 2


def test_score_is_the_log_likelihood_and_is_cached(engine, reference):
    ctx = engine.encode("def area(w, h):\n    return")
    cands = [engine.encode(" w * h"), engine.encode(" None"), []]
    scores = engine.submit_score("s", ctx, None, cands).result(30)
    for c, s in zip(cands[:2], scores):
        full = torch.tensor([ctx + c])
        with torch.no_grad():
            logp = reference(full).logits.float().log_softmax(-1)[0]
        want = sum(float(logp[len(ctx) - 1 + j, t]) for j, t in enumerate(c))
        assert s == pytest.approx(want, abs=1e-3)
    assert scores[2] == 0.0
    hits = engine.cache_stats()["hits"]
    again = engine.submit_score("s", ctx, None, cands[:2]).result(30)
    assert again == scores[:2] and engine.cache_stats()["hits"] >= hits + 2


def test_route_trace_shapes(engine):
    ids = engine.encode("int x = 1;")
    trace = engine.submit_route("r", ids).result(30)
    cfg = engine.config
    assert trace.experts.shape == (cfg.n_layers, len(ids), cfg.n_active) == trace.weights.shape
    assert ((trace.experts >= 0) & (trace.experts < cfg.n_experts)).all()
    assert abs(trace.weights.sum(-1) - 1).max() < 1e-4


def test_route_requests_batched_together_equal_routing_each_alone(tiny_checkpoint):
    """Route requests queued together run as one left-padded batch with the same result."""
    from r1lsp.engine import Engine
    from r1lsp.settings import ModelSettings

    engine = Engine(ModelSettings(path=str(tiny_checkpoint), quantization="none")).start()
    try:
        assert engine.wait_ready(120), engine.error
        texts = ["int x = 1;", "def f(a, b):\n    return a + b\n", "class A { void g() { h(); } }"]
        alone = []
        for text in texts:
            alone.append(engine.submit_route(None, engine.encode_with_offsets(text, 0)[0]).result(60))
            engine.clear_cache()
        rows_before, batches_before = engine.rows_run, engine.batches_run
        futures = [engine.submit_route(None, engine.encode_with_offsets(t, 0)[0]) for t in texts]
        together = [f.result(60) for f in futures]
        assert engine.rows_run - rows_before == 3
        assert engine.batches_run - batches_before < 3  # at least two rode in one batch
        for a, b in zip(alone, together):
            assert a.experts.shape == b.experts.shape
            assert (a.experts == b.experts).all()
            assert abs(a.weights - b.weights).max() < 1e-5
    finally:
        engine.close()


def test_cpu_threads_setting_env_and_default(monkeypatch):
    import os

    from r1lsp.engine import cpu_threads
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert cpu_threads(5) == 5 and cpu_threads(0) == 3
    monkeypatch.delenv("OMP_NUM_THREADS")
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    assert cpu_threads(0) == 1                       # half of a 2-core machine
    monkeypatch.setattr(os, "cpu_count", lambda: 64)
    assert cpu_threads(0) == 8                       # at most 8 by default


def test_score_candidates_text_api_is_one_pass_and_reuses_the_document_prefix(engine, reference):
    text = "def area(w, h):\n    return"
    got = engine.score_candidates("file:///a.py", text, "\n", [" w * h", " None", ""], language="python")
    ctx = engine.prompts.start("python") + engine.encode(text)
    for cand, s in zip([" w * h", " None"], got):
        c = engine.encode(cand)
        with torch.no_grad():
            logp = reference(torch.tensor([ctx + c])).logits.float().log_softmax(-1)[0]
        assert s == pytest.approx(sum(float(logp[len(ctx) - 1 + j, t]) for j, t in enumerate(c)), abs=1e-3)
    assert got[2] == 0.0
    engine.score_candidates("file:///a.py", text + " w", "", [" *"], language="python")
    reused, computed = engine.prefix_cache.last
    assert reused >= len(ctx) - 1 and computed <= 2                 # only the typed tokens


def test_ghost_text_after_typing_processes_only_the_new_tokens(engine):
    from r1lsp.inline import inline_suggestions
    from model.structure import StructuredDocument

    src = "".join(f"def f{i}(x):\n    return x + {i}\n\n" for i in range(40)) + "def g(items):\n    total = \n"
    doc = StructuredDocument(src, "python")
    line = src.count("\n") - 1
    inline_suggestions(doc, line, len("    total = "), engine, max_tokens=4, timeout=30, key="file:///g.py#inline")
    typed = StructuredDocument(src.replace("    total = \n", "    total = sum\n"), "python")
    got = inline_suggestions(typed, line, len("    total = sum"), engine, max_tokens=4, timeout=30,
                             key="file:///g.py#inline")
    reused, computed = engine.prefix_cache.last
    assert reused > 200 and computed <= 8                           # "sum", <SUF> "\n" <MID>
    engine.prefix_cache.invalidate("file:///g.py")
    engine.clear_cache()
    fresh = inline_suggestions(typed, line, len("    total = sum"), engine, max_tokens=4, timeout=30,
                               key="file:///g.py#inline")
    assert engine.prefix_cache.last[0] == 0 and [s.text for s in got] == [s.text for s in fresh]


def test_ghost_text_started_on_an_edit_is_joined_by_the_request_for_that_version_and_position(engine):
    """The server starts the ghost text when an edit ends (didChange, for a document whose ghost
    text the client asks for); the request that follows for that version and position gets that
    run's answer, equal to a fresh one; a request elsewhere starts its own and stops the other."""
    from r1lsp.inline import inline_suggestions
    from r1lsp.session import R1LanguageServer
    from r1lsp.documents import TextChange

    ls = R1LanguageServer()
    ls.engine = engine
    uri = "file:///w.py"
    src = "".join(f"def f{i}(x):\n    return x + {i}\n\n" for i in range(40)) + "def g(items):\n    total = \n"
    ls.documents.open(uri, "python", src, 1)
    ls.inline_asked.add(uri)
    line, col = src.count("\n") - 1, len("    total = s")
    ls.documents.change(uri, 2, [TextChange("s", (line, col - 1), (line, col - 1))])
    doc = ls.documents.get(uri)
    ls.warm_ghost_text(uri, doc.offset_at(line, col))
    started = ls.ghost_runs[uri]
    assert not started.asked.is_set()                                    # lists go first until asked
    run = ls.ghost_text(uri, doc.snapshot(), line, col)
    assert run is started and run.version == 2 and run.asked.is_set()
    got = run.future.result(60)
    engine.prefix_cache.invalidate("file:///w.py")
    engine.clear_cache()
    fresh = inline_suggestions(doc.snapshot(), line, col, engine, max_tokens=ls.settings.model.max_tokens, timeout=30,
                               key="fresh", min_confidence=ls.settings.inline.min_confidence,
                               monitor=ls.settings.inline.monitor, **ls.ghost_context(uri))
    assert [s.text for s in got] == [s.text for s in fresh]
    elsewhere = ls.ghost_text(uri, doc.snapshot(), line - 3, 4)
    assert elsewhere is not run and run.cancel.is_set() and ls.ghost_runs[uri] is elsewhere
    elsewhere.future.result(60)
    ls.inline_pool.shutdown()


def test_a_cold_prompt_runs_until_the_full_prompt_is_filled_in_a_pause(tiny_checkpoint, reference):
    """A request whose prompt cache holds too little of its prompt runs its shorter cold prompt;
    the full prompt's cache is filled in chunks in the background, after which the same request
    runs the full prompt, computing only what is new, with the tokens of a fresh prefill."""
    eng = Engine(ModelSettings(path=str(tiny_checkpoint), device="cpu", quantization="none"),
                 cold_tokens=8, fill_chunk=16, route_quiet_ms=0).start()
    try:
        assert eng.wait_ready(60)
        full, short = list(range(5, 45)), list(range(30, 45))
        first = eng.submit_generate("g", full, None, 3, prefix_key="doc#p", cold_prompt=(short, None, "doc#c")).result(60)
        assert first.stages["cold"] and first.stages["computed_tokens"] == len(short)
        assert {"queued_ms", "prefill_ms", "decode_ms"} <= set(first.stages)      # where its time went
        assert first.tokens == generate(reference, [short], max_new_tokens=3)[0].tokens
        fill = eng.filling("doc#p")
        if fill is not None:
            assert fill.result(60) == len(full)
        assert list(eng.prefix_cache.peek("doc#p").ids) == full
        assert eng.batches_run >= 1 + 3                                        # 16 + 16 + 8 tokens
        typed = full + [7]
        again = eng.submit_generate("g", typed, None, 3, prefix_key="doc#p", cold_prompt=(short + [7], None, "doc#c")).result(60)
        assert not again.stages["cold"] and eng.prefix_cache.last == (len(full), 1)
        assert again.tokens == generate(reference, [typed], max_new_tokens=3)[0].tokens
        eng.cold_tokens = None                                                  # one-shot callers (the CLI)
        whole = eng.submit_generate("g", full, None, 3, prefix_key="other#p", cold_prompt=(short, None, "other#c")).result(60)
        assert not whole.stages["cold"] and whole.stages["computed_tokens"] == len(full)
    finally:
        eng.close()


def test_window_tokens_reused_while_typing_equal_a_fresh_tokenization(tiny_checkpoint, monkeypatch):
    """encode_window keeps the tokens of a window's head and tokenizes only the last lines again:
    whatever is typed (newlines, blanks at line ends, tabs, CRLF, non-ASCII spaces, jumps), the
    ids and offsets are those of tokenizing the whole window."""
    import random
    from pathlib import Path
    from tokenizers import Tokenizer
    from model.tokenizer import encode_with_byte_offsets, token_byte_lengths
    from r1lsp import token_window as engine_module
    from r1lsp.token_window import encode_window

    tok = Tokenizer.from_file(str(tiny_checkpoint / "tokenizer.json"))
    lengths = token_byte_lengths(tok)

    class Tokens:
        tokenized = 0                                                      # characters

        def encode_with_offsets(self, text, start=0):
            self.tokenized += len(text)
            ids, offsets = encode_with_byte_offsets(tok, text, lengths, start)
            return list(ids), list(offsets)

    fresh = Tokens()
    whole = lambda eng, data, a, end: fresh.encode_with_offsets(data[a:end].decode("utf-8", "surrogatepass"), a)

    fixtures = Path(__file__).parent / "fixtures"
    text = "".join(p.read_text("utf-8", "replace") for p in sorted(fixtures.rglob("*.py"))[:6])
    text = text.replace("return", "return  \r").replace("    x", "\tx\u00a0").replace("def", "déf")
    data, rng, kept = bytearray(text.encode()), random.Random(0), Tokens()
    cursor = len(data) // 2
    for step in range(300):
        if step % 60 == 0:
            cursor = rng.randrange(len(data) // 4, len(data))          # a jump
            while (data[cursor] & 0xC0) == 0x80:
                cursor += 1
        piece = rng.choice(["a", "b", " ", "\n", "\n    ", "(", "é", "\u00a0", "  \n", "\t", "\r\n", "x1"]).encode()
        data[cursor:cursor] = piece
        cursor += len(piece)
        for budget in (64, 300):
            got = encode_window(kept, bytes(data), cursor, budget)
            with monkeypatch.context() as m:                                   # the window tokenized whole
                m.setattr(engine_module, "_encode_span", whole)
                assert got == encode_window(None, bytes(data), cursor, budget)
    kept.tokenized = fresh.tokenized = 0
    for ch in "total = compute(items, limit)":                             # typing on one line
        data[cursor:cursor] = ch.encode()
        cursor += 1
        got = encode_window(kept, bytes(data), cursor, 300)
        with monkeypatch.context() as m:
            m.setattr(engine_module, "_encode_span", whole)
            assert got == encode_window(None, bytes(data), cursor, 300)
    assert kept.tokenized < fresh.tokenized / 5


def test_rows_sharing_a_prefix_key_run_one_after_the_other(engine):
    """Two requests queued together under one prefix key: the second reuses the first's cache
    (one batch would have started it cold)."""
    ids = list(range(5, 205))
    engine.prefix_cache.invalidate("file:///p")
    engine.clear_cache()
    with engine._cond:                                               # queued in one take
        a = engine.submit_generate("a", ids, max_new_tokens=1, prefix_key="file:///p#k")
        b = engine.submit_generate("b", ids + [9, 9], max_new_tokens=1, prefix_key="file:///p#k")
    a.result(60), b.result(60)
    assert engine.prefix_cache.last == (200, 2)


def test_typing_requests_are_served_before_expert_routing():
    import collections
    import types

    from r1lsp.engine_queue import take_interactive_first
    q = collections.deque(types.SimpleNamespace(kind=k, n=i) for i, k in
                          enumerate(["route", "route", "generate", "route", "score", "generate"]))
    first = take_interactive_first(q, 4)
    assert [(r.kind, r.n) for r in first] == [("generate", 2), ("score", 4), ("generate", 5)]
    assert [r.n for r in q] == [0, 1, 3]
    assert [r.n for r in take_interactive_first(q, 2)] == [0, 1]          # routes in a take of their own
    assert [r.n for r in q] == [3]
    q = collections.deque(types.SimpleNamespace(kind=k, n=i) for i, k in enumerate(["route", "fill", "fill", "generate"]))
    assert [r.n for r in take_interactive_first(q, 4)] == [3]
    assert [r.n for r in take_interactive_first(q, 4)] == [1]                 # then one prompt fill's chunk
    assert [r.n for r in take_interactive_first(q, 4)] == [2]
    assert [r.n for r in take_interactive_first(q, 4)] == [0]


def test_routing_waits_for_a_pause_in_typing(tiny_checkpoint):
    """A route request queued while someone types runs only once no typing request came for
    `route_quiet_ms`; a typing request submitted meanwhile is served first."""
    eng = Engine(ModelSettings(path=str(tiny_checkpoint), device="cpu", quantization="none"),
                 route_quiet_ms=60_000).start()
    try:
        assert eng.wait_ready(60)
        eng.submit_generate("typing", [5, 6, 7], max_new_tokens=1).result(60)
        route = eng.submit_route(None, [5, 6, 7, 8])
        gen = eng.submit_generate("typing", [5, 6, 7, 9], max_new_tokens=1)
        gen.result(60)
        assert not route.done()                                          # still within the pause
        eng.route_quiet_s = 0.0
        eng.submit_generate("typing", [5, 6], max_new_tokens=1).result(60)   # wakes the worker
        assert route.result(60).experts.shape[1] == 4
    finally:
        eng.close()


def test_routing_after_a_document_opens_waits_for_a_pause(tiny_checkpoint):
    """`touch` (the server calls it on didOpen: requests at the cursor follow) starts the pause
    that routing waits for, as a typing request does."""
    eng = Engine(ModelSettings(path=str(tiny_checkpoint), device="cpu", quantization="none"),
                 route_quiet_ms=60_000).start()
    try:
        assert eng.wait_ready(60)
        eng.touch()
        route = eng.submit_route(None, [5, 6, 7, 8])
        eng.submit_generate("ghost", [5, 6, 7, 9], max_new_tokens=1).result(60)
        assert not route.done()
        eng.route_quiet_s = 0.0
        eng.submit_generate("ghost", [5, 6], max_new_tokens=1).result(60)
        assert route.result(60).experts.shape[1] == 4
    finally:
        eng.close()


def test_closing_a_document_drops_its_prefix_caches(engine):
    from r1lsp.session import R1LanguageServer

    engine.score_candidates("file:///closed.py", "x = 1\ny = ", "", [" x"], language="python")
    engine.score_candidates("file:///open.py", "a = 2\nb = ", "", [" a"], language="python")
    assert any(k.startswith("file:///closed.py#") for k in engine.prefix_cache.states)
    ls = R1LanguageServer()
    ls.engine = engine
    ls.forget_document_state("file:///closed.py")                  # what didClose calls
    assert not any(k.startswith("file:///closed.py#") for k in engine.prefix_cache.states)
    assert any(k.startswith("file:///open.py#") for k in engine.prefix_cache.states)


def test_model_caches_follow_the_setting_and_stay_bounded_in_bytes(engine, tiny_checkpoint):
    sized = Engine(ModelSettings(path=str(tiny_checkpoint), cache_mb=8))          # not started: no model
    assert (sized.prefix_cache.max_bytes, sized._cache.max_bytes) == (6 << 20, 2 << 20)
    cache = engine.prefix_cache
    budget, evicted = cache.max_bytes, cache.stats["evicted"]
    p = lambda i: engine.encode(f"def f{i}(x):\n    return x")               # distinct: no cached result
    cache.invalidate("")                                       # earlier tests' prompt caches
    try:
        engine.submit_generate(None, p(0), None, 2, prefix_key="bounded#0").result(30)
        one = cache.nbytes()                                   # one document's prompt cache
        assert one > 0
        cache.max_bytes = int(2.5 * one)                       # room for two
        for i in range(1, 7):                                  # six more documents
            engine.submit_generate(None, p(i), None, 2, prefix_key=f"bounded#{i}").result(30)
            assert cache.nbytes() <= cache.max_bytes
        assert sorted(cache.states) == ["bounded#5", "bounded#6"]          # the least recently used went
        assert cache.stats["evicted"] - evicted == 5
    finally:
        cache.max_bytes = budget
        cache.invalidate("bounded#")


def test_result_cache_stays_bounded_in_entries_and_bytes():
    import numpy as np
    from r1lsp.route_trace import RouteTrace
    from r1lsp.result_cache import ResultCache, nbytes
    lru = ResultCache(capacity=50, max_bytes=1 << 20)
    trace = lambda i: RouteTrace(np.full((4, 1000, 4), i % 16, np.int16), np.ones((4, 1000, 4), np.float32))
    for i in range(200):                                       # ~100 KB each: about 10 fit
        lru.put(i, trace(i))
        assert lru.bytes <= lru.max_bytes and len(lru.data) <= lru.capacity
        assert lru.bytes == sum(nbytes(v) for v in lru.data.values())
    assert 5 <= len(lru.data) < 12 and list(lru.data)[-1] == 199 and lru.get(0) is None
    small = ResultCache(capacity=3)
    for i in range(10):
        small.put(i, i)
    assert list(small.data) == [7, 8, 9]


def test_an_overlong_candidate_is_scored_on_its_first_tokens(engine):
    from r1lsp.engine import MAX_CANDIDATE_TOKENS
    ctx = engine.encode("def f(x):\n    return ")
    name = engine.encode(" " + "y" * 20000)                    # a 20 kB name typed into the document
    assert len(name) > engine.context_tokens
    long, head = engine.submit_score(None, ctx, None, [name, name[:MAX_CANDIDATE_TOKENS]]).result(60)
    assert long == pytest.approx(head, rel=1e-6) and long < 0


async def test_routing_cut_off_by_shutdown_is_not_reported_as_a_failure(tiny_checkpoint, caplog, monkeypatch):
    """Shutdown closes the engine while a document's expert routing may be inside the model: that
    refresh ends quietly (no 'expert routing failed' warning), and a refresh still waiting for its
    debounce is cancelled."""
    import logging
    from r1lsp.experts import ExpertMap
    from r1lsp.session import R1LanguageServer

    ls = R1LanguageServer()
    ls.engine = Engine(ModelSettings(path=str(tiny_checkpoint), device="cpu", quantization="none")).start()
    assert ls.engine.wait_ready(60)
    ls.engine_started.set()
    uri = "file:///w/Shop.java"
    ls.documents.open(uri, "java", "class Shop {\n    int n() { return 1; }\n}\n", 1)
    original = ExpertMap.refresh

    def shut_down_then_refresh(self, *args, **kwargs):                # the exit arrives mid-routing
        ls.shutdown_engine()
        return original(self, *args, **kwargs)

    caplog.set_level(logging.DEBUG, logger="r1lsp")
    monkeypatch.setattr(ExpertMap, "refresh", shut_down_then_refresh)
    await ls.experts._refresh(uri, debounce=False)
    assert ls.engine is None and uri not in ls.experts.results
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.text
    assert "stopped: the engine closed" in caplog.text

    ls.experts.tasks[uri] = pending = asyncio.ensure_future(asyncio.sleep(60))   # a debounced refresh
    ls.shutdown_engine()
    with pytest.raises(asyncio.CancelledError):
        await pending
    assert not ls.experts.tasks
    ls.experts.pool.shutdown()
