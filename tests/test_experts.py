"""Expert choice per unit: aggregation of a hand-made trace, incremental refresh (stub and real
tiny engine), messages, JSON/table, heatmap."""
import json
import types
from concurrent.futures import Future
from pathlib import Path

import numpy as np
import pytest
import torch

from model.prompts import R1Prompts

from r1lsp.route_trace import RouteTrace
from r1lsp.code_roles import load_roles, roles_of
from r1lsp.expert_labels import (DIAGNOSTIC_CODE, diagnostic_content, diagnostic_message, experts_json,
                                 experts_table, heatmap, labels_from_file, load_expert_labels, weights_digest)
from r1lsp.experts import ExpertMap, UnitExperts, aggregate, route_document, token_units
from model.structure import Level, StructuredDocument, map_structure

torch.set_num_threads(1)
FIXTURES = Path(__file__).parent / "fixtures"


# ------------------------------------------------------------------------------ aggregation

def _hand_trace():
    # text "ab cd\nxy\n\nef\n": paragraph 0 = "ab cd\nxy" (sentences "ab cd", "xy"), paragraph 1 = "ef"
    starts = [0, 2, 6, 8, 9]      # "ab", " cd", "xy", "\n" (between units: skipped), "\nef" (reaches "ef")
    experts = np.array([
        [[1, 2], [2, 1], [3, 1], [7, 6], [4, 5]],              # layer 0
        [[1, 3], [2, 3], [3, 2], [7, 6], [4, 5]],              # layer 1
    ])
    weights = np.array([
        [[.75, .25], [.6, .4], [.8, .2], [.5, .5], [.9, .1]],
        [[.5, .5], [2.0, 2.0], [.7, .3], [.5, .5], [.9, .1]],   # (2, 2): renormalised to (.5, .5)
    ], dtype=np.float32)
    return RouteTrace(experts, weights), starts


def test_aggregate_hand_computed_shares():
    h = map_structure("ab cd\nxy\n\nef\n", "plaintext")
    trace, starts = _hand_trace()
    assert token_units(h, Level.PARAGRAPH, starts).tolist() == [0, 0, 0, -1, 1]
    units = aggregate(trace, starts, h, Level.PARAGRAPH, n_experts=8)
    assert [u.tokens for u in units] == [3, 1]
    p0, p1 = units
    # paragraph 0: 3 tokens x 2 layers = 6; e3 = .5+.5+.8+.7, e1 = .75+.5+.4+.2, e2 = .25+.6+.5+.3
    assert [e for e, _ in p0.shares] == [3, 1, 2]
    assert np.allclose([s for _, s in p0.shares], [2.5 / 6, 1.85 / 6, 1.65 / 6])
    assert [e for e, _ in p1.shares] == [4, 5] and np.allclose([s for _, s in p1.shares], [.9, .1])
    assert p0.span.kind == "block" and p0.level == Level.PARAGRAPH and p0.top_expert == 3
    # top sentences: "xy" holds e3 at (.8+.7)/2, "ab cd" e1 at 1.65/4 and e2 at 1.35/4
    tops = [(s.start, e, round(sh, 4)) for s, e, sh in p0.top_sentences]
    assert tops == [((1, 0), 3, 0.75), ((0, 0), 1, 0.4125), ((0, 0), 2, 0.3375)]


def test_aggregate_sentences_and_counts_sum_to_one():
    h = map_structure("ab cd\nxy\n\nef\n", "plaintext")
    trace, starts = _hand_trace()
    sents = aggregate(trace, starts, h, Level.SENTENCE, n_experts=8)
    assert [s.span.start for s in sents] == [(0, 0), (1, 0), (3, 0)]
    assert all(abs(sum(s for _, s in u.shares) - 1) < 1e-9 and not u.top_sentences for u in sents)
    assert dict(sents[1].shares) == pytest.approx({3: .75, 1: .1, 2: .15})


def test_aggregate_on_a_big_trace():
    text = "\n\n".join(f"line {i} a b c\nmore {i}" for i in range(4000))
    h = map_structure(text, "plaintext")
    starts = np.array([t.start_byte for t in h.at_level(Level.TOKEN)])
    rng = np.random.default_rng(0)
    trace = RouteTrace(rng.integers(0, 16, (6, len(starts), 4)), rng.random((6, len(starts), 4)).astype(np.float32))
    units = aggregate(trace, starts, h, n_experts=16)       # ~0.5 s; its speed is benched, not asserted
    assert len(units) == 4000
    assert all(abs(sum(s for _, s in u.shares) - 1) < 1e-6 for u in units)


# ------------------------------------------------------------------------------ incremental refresh

class RouteStub:
    """Characters as tokens; each token's experts depend on its id and layer only (no context), so
    per-paragraph and whole-file routing agree exactly."""
    context_tokens = 65                 # paragraphs longer than 64 tokens are routed in chunks
    config = types.SimpleNamespace(n_experts=8)
    special = types.SimpleNamespace(lang=lambda language: 1)
    prompts = R1Prompts(types.SimpleNamespace(lang=lambda language: 1, endoftext=0))

    def __init__(self):
        self.calls = []

    def encode_with_offsets(self, text, start=0):
        lens = [len(c.encode("utf-8", "surrogatepass")) for c in text]
        return [ord(c) for c in text], np.cumsum([start] + lens[:-1]).astype(np.int64)[:len(text)]

    def submit_route(self, key, ids, level_ids=None, *, cancel=None):
        assert len(ids) <= self.context_tokens and ids[0] == 1
        assert level_ids is not None and len(level_ids) == len(ids) and level_ids[0].tolist() == [0, 0, 0]
        self.calls.append(list(ids))
        a = np.asarray(ids)
        experts = np.stack([np.stack([(a + l) % 8, (a + l + 3) % 8], -1) for l in range(2)])
        weights = np.broadcast_to(np.array([.7, .3], np.float32), experts.shape).copy()
        f = Future()
        f.set_result(RouteTrace(experts, weights))
        return f


def test_refresh_reroutes_only_the_edited_paragraph_and_keeps_the_others():
    text = (FIXTURES / "structure" / "Shop.java").read_text()
    doc = StructuredDocument(text, "java", version=1)
    eng, emap = RouteStub(), ExpertMap()
    res, n = emap.refresh(doc, None, eng)
    paras = doc.hierarchy.at_level(Level.PARAGRAPH)
    assert n == len(paras) == res.rerouted and res.version == 1 and res.is_current(doc)
    # a paragraph of comments only has no code tokens: no unit
    assert [u.span for u in res.units] == [p for p, r in zip(paras, res.routes) if r.tokens] != paras
    assert len(eng.calls) == res.requests > len(paras)          # long methods went in several chunks
    for u in res.units:
        assert abs(sum(s for _, s in u.shares) - 1) < 1e-6

    # per-paragraph routing equals whole-file routing for a context-free router
    full = route_document(doc, eng)
    code = load_roles().is_code[roles_of(doc.tree, text.encode(), "java", full.token_starts, full.token_ends)]
    ref = aggregate(full.trace, full.token_starts, doc.hierarchy, token_ends=full.token_ends, n_experts=8, code=code)
    assert [(u.span, u.tokens) for u in ref] == [(u.span, u.tokens) for u in res.units]
    for a, b in zip(ref, res.units):
        assert dict(a.shares) == pytest.approx(dict(b.shares))
        assert [(s.id, e) for s, e, _ in a.top_sentences] == [(s.id, e) for s, e, _ in b.top_sentences]

    # one character inside `count`'s body
    line = text.splitlines()[17]
    col = line.index("x * 2")
    eng.calls.clear()
    changed = doc.apply_change("y", (17, col), (17, col + 1), version=2)
    assert [p.name for p in changed] == ["count"]
    res2, n2 = emap.refresh(doc, changed, eng)
    assert n2 == 1 == res2.rerouted and res2.version == 2 and not res.is_current(doc)
    assert len(eng.calls) == res2.requests and all(c[1:] for c in eng.calls)
    edited = [i for i, u in enumerate(res2.units) if u.span.name == "count"][0]
    edited_route = [i for i, p in enumerate(doc.hierarchy.at_level(Level.PARAGRAPH)) if p.name == "count"][0]
    for i, (old, new) in enumerate(zip(res.routes, res2.routes)):
        assert (old is new) == (i != edited_route)               # routing objects kept
    for i, (old, new) in enumerate(zip(res.units, res2.units)):
        if i != edited:
            assert new is old                                    # same spans: same UnitExperts
    assert res2.units[edited] is not res.units[edited]

    # inserting lines above shifts everything below: nothing re-routed, shares objects kept
    doc.apply_change("\n\n", (1, 0), (1, 0), version=3)
    res3, n3 = emap.refresh(doc, [], eng)
    assert n3 == 0 and res3.version == 3
    assert [u.span.start[0] for u in res3.units][3:] == [u.span.start[0] + 2 for u in res2.units][3:]
    assert all(a.shares is b.shares for a, b in zip(res2.units, res3.units))
    # and undoing the edit finds the first routing again
    doc.apply_change("x", (19, col), (19, col + 1), version=4)
    res4, n4 = emap.refresh(doc, None, eng)
    assert n4 == 1                                               # the old routing was dropped when it went stale

    # sentences on request, for a range
    sents = res4.in_range((res4.units[edited].span.start_byte, res4.units[edited].span.end_byte), Level.SENTENCE)
    assert sents and all(s.level == Level.SENTENCE for s in sents)
    assert all(res4.units[edited].span.start_byte <= s.span.start_byte < res4.units[edited].span.end_byte
               for s in sents)


def test_identical_paragraphs_get_their_own_entries():
    text = "def a():\n    return 1\n\n\ndef a():\n    return 1\n"
    doc = StructuredDocument(text, "python")
    res, n = ExpertMap().refresh(doc, None, RouteStub())
    assert n == 2 and res.routes[0].key[:2] == res.routes[1].key[:2] and res.routes[0].key != res.routes[1].key
    assert res.units[0].shares == res.units[1].shares


def test_context_bytes_put_the_previous_lines_in_the_key():
    text = "x = 1\n\n\ny = 2\n\n\nz = 3\n"
    doc = StructuredDocument(text, "python")
    eng, emap = RouteStub(), ExpertMap(context_bytes=8)
    emap.refresh(doc, None, eng)
    first = eng.calls[1]
    assert len(first) > len("y = 2") + 1                         # context tokens went in front
    changed = doc.apply_change("5", (0, 4), (0, 5))
    _, n = emap.refresh(doc, changed, eng)
    assert n == 2                                                # the edited paragraph and the next one


@pytest.fixture(scope="module")
def engine(tiny_checkpoint):
    from r1lsp.engine import Engine
    from r1lsp.settings import ModelSettings
    eng = Engine(ModelSettings(path=str(tiny_checkpoint), device="cpu", quantization="none"),
                 batch_wait_ms=1).start()
    assert eng.wait_ready(60), eng.error
    yield eng
    eng.close()


def test_real_engine_refresh_counts_route_requests(engine):
    text = (FIXTURES / "heldout" / "WriterOutputStream.java").read_text()
    doc = StructuredDocument(text, "java", version=7)
    emap = ExpertMap()
    rows0 = engine.rows_run
    res, n = emap.refresh(doc, None, engine)
    assert n == len(doc.hierarchy.at_level(Level.PARAGRAPH)) and engine.rows_run - rows0 == res.requests
    assert emap.n_experts == engine.config.n_experts == 8
    for u in res.units:
        assert abs(sum(s for _, s in u.shares) - 1) < 1e-4 and all(0 <= e < 8 for e, _ in u.shares)
    target = max(res.units, key=lambda u: u.tokens)
    line = target.span.start[0] + 1
    changed = doc.apply_change("x", (line, 0), (line, 0), version=8)
    rows1 = engine.rows_run
    res2, n2 = emap.refresh(doc, changed, engine)
    assert n2 == 1 and engine.rows_run - rows1 == res2.requests == 1
    assert sum(a is b for a, b in zip(res.routes, res2.routes)) == len(res.routes) - 1
    full = route_document(doc, engine)
    assert full.trace.experts.shape[1] == len(full.token_starts)
    code = load_roles().is_code[roles_of(doc.tree, doc.text.encode(), "java", full.token_starts, full.token_ends)]
    units = aggregate(full.trace, full.token_starts, doc.hierarchy, token_ends=full.token_ends, n_experts=8, code=code)
    assert len(units) == len(res2.units)
    # the model's surprise of every routed token comes back with the routing (nats, > 0)
    for r in res2.routes:
        assert np.isfinite(r.trace.surprise).all() and (r.trace.surprise > 0).all()
    assert all(u.surprise is not None and u.surprise > 0 for u in res2.units)


# ------------------------------------------------------------------------------ content and output

def _units():
    h = map_structure("ab cd\nxy\n\nef\n", "plaintext")
    trace, starts = _hand_trace()
    return aggregate(trace, starts, h, n_experts=8)


def test_diagnostic_message_and_content():
    u = _units()[0]
    labels = {3: "loops & indexing", 1: "string literals"}
    assert diagnostic_message(u, labels) == "experts 3 · loops & indexing 42%, 1 · string literals 31%, 2 28%"
    assert diagnostic_message(u, None, top=1) == "experts 3 42%"
    c = diagnostic_content(u, labels)
    assert c.code == DIAGNOSTIC_CODE == "r1lsp.experts"
    assert c.range == ((0, 0), (1, 2))                   # no header: the unit itself
    assert [r.range for r in c.related] == [((1, 0), (1, 2)), ((0, 0), (0, 5)), ((0, 0), (0, 5))]
    assert c.related[0].message == "expert 3 · loops & indexing: 75% of this sentence"
    assert c.data["experts"][0] == [3, round(2.5 / 6, 4)] and c.data["level"] == "paragraph"
    empty = UnitExperts(u.span, Level.SENTENCE, [], 0)
    assert diagnostic_content(empty).message == "experts: no routed code tokens"


def test_labels_from_file_name_the_role_with_its_lift_and_need_the_same_weights(tmp_path):
    payload = {"experts": {"7": {"label": "calls", "lift": 1.834}, "2": {"label": None, "lift": 1.1},
                           "x": {"label": "bad"}, "3": {"label": "literals"}}}
    assert labels_from_file(payload) == {7: "calls ×1.8", 3: "literals"}
    (tmp_path / "model.safetensors").write_bytes(b"weights")
    payload["meta"] = {"weights_sha256": weights_digest(tmp_path)}
    (tmp_path / "expert_labels.json").write_text(json.dumps(payload))
    assert load_expert_labels(tmp_path) == {7: "calls ×1.8", 3: "literals"}
    assert load_expert_labels(tmp_path / "no") == {}
    (tmp_path / "model.safetensors").write_bytes(b"other weights")   # retrained: the labels no longer apply
    assert load_expert_labels(tmp_path) == {}


def test_json_and_table():
    units = _units()
    js = experts_json(units, {3: "loops"})
    assert js["labels"] == {"3": "loops"}
    u0 = js["units"][0]
    assert u0["range"] == {"start": {"line": 0, "character": 0}, "end": {"line": 1, "character": 2}}
    assert u0["kind"] == "block" and u0["level"] == "paragraph" and u0["tokens"] == 3
    assert u0["shares"][0] == {"expert": 3, "share": round(2.5 / 6, 4), "label": "loops"}
    assert u0["top_sentences"][0]["expert"] == 3
    table = experts_table(units, {3: "loops"}).splitlines()
    assert table[0].split() == ["lines", "unit", "tokens", "experts"]
    assert table[1].startswith("1-2") and "3 · loops 42%" in table[1] and "4 90%" in table[2]


def test_heatmap_writes_a_png(tmp_path):
    out = heatmap(_units(), 8, tmp_path / "h" / "experts.png", "test", labels={3: "loops"})
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 1000


def test_aggregate_rejects_expert_ids_past_n_experts():
    h = map_structure("ab cd\nxy\n\nef\n", "plaintext")
    trace, starts = _hand_trace()
    with pytest.raises(ValueError, match="expert ids"):
        aggregate(trace, starts, h, n_experts=4)


def test_a_paragraph_longer_than_the_chunk_bound_routes_only_its_first_chunks():
    from r1lsp.experts import MAX_CHUNKS
    text = "x = " + "+".join(["ab"] * 2000) + "\n"      # one statement: ~8,000 character tokens, 125 stub inputs
    doc = StructuredDocument(text, "python", version=1)
    eng = RouteStub()
    res, n = ExpertMap().refresh(doc, None, eng)
    assert n == 1 and len(eng.calls) == res.requests == MAX_CHUNKS            # counted, not all 125
    per_input = RouteStub.context_tokens - 1                                   # after the <|lang|> token
    assert res.routes[0].tokens <= MAX_CHUNKS * per_input < len(text)
    assert len(res.routes[0].trace.experts[0]) <= MAX_CHUNKS * per_input       # the trace kept is as bounded
