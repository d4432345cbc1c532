"""Generation: batched (rows on their own caches) equals one by one, stops, cancel, FIM, sampling."""
import threading

import pytest
import torch

from model import R1Config, R1Model, fim_prompt, sample
from model.generate import generate


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def model():
    cfg = R1Config(vocab_size=64, max_seq_len=128, d_model=64, n_layers=2, n_heads=4, index_heads=2,
                   index_dim=8, attn_topk=12, local_window=4, key_block=8, n_experts=8, n_active=2,
                   expert_hidden=32, level_dims=(64, 48, 32, 16), hier_layers=(1,))
    torch.manual_seed(0)
    m = R1Model(cfg).eval()
    with torch.no_grad():
        for blk in m.blocks:                       # sharper gate: sparse selection really active
            blk.attn.indexer.proj.weight.mul_(40)
        for h in m.hier.values():
            torch.nn.init.normal_(h.up.weight, std=0.02)
    return m


def test_batched_left_padding_equals_one_by_one(model):
    g = torch.Generator().manual_seed(3)
    prompts = [torch.randint(0, 64, (n,), generator=g).tolist() for n in (5, 17, 11, 1)]
    levels = [None, torch.arange(17)[:, None].expand(17, 3) // 4, None, None]
    batched = generate(model, prompts, max_new_tokens=12, level_ids=levels)
    for p, lv, got in zip(prompts, levels, batched):
        alone = generate(model, [p], max_new_tokens=12, level_ids=[lv])[0]
        assert got.tokens == alone.tokens and len(got.tokens) == 12
        assert got.finish_reason == "length"


def test_rows_stop_independently(model):
    prompts = [[1, 2, 3], [4, 5, 6, 7, 8]]
    free = generate(model, prompts, max_new_tokens=10)
    eos = free[0].tokens[3]                        # row 0 will emit this as its 4th token
    res = generate(model, prompts, max_new_tokens=10, eos_id=eos)
    assert res[0].finish_reason == "eos" and res[0].tokens == free[0].tokens[:3]
    if eos not in free[1].tokens:
        assert res[1].tokens == free[1].tokens and res[1].finish_reason == "length"
    seq = free[1].tokens[2:4]
    res = generate(model, prompts[1:], max_new_tokens=10, stop_sequences=[seq])
    assert res[0].finish_reason == "stop" and res[0].tokens == free[1].tokens[:2]


def test_stop_strings_via_decode_callback(model):
    decode = lambda ids: "".join(chr(97 + i % 26) for i in ids)
    free = generate(model, [[1, 2, 3]], max_new_tokens=10, decode=decode)[0]
    stop = free.text[4:6]
    res = generate(model, [[1, 2, 3]], max_new_tokens=10, decode=decode, stop_strings=[stop])[0]
    assert res.finish_reason == "stop" and res.text == free.text[:free.text.find(stop)]
    with pytest.raises(ValueError):
        generate(model, [[1]], stop_strings=["x"])


def test_cancel_is_checked_between_tokens(model):
    event = threading.Event()
    event.set()
    res = generate(model, [[1, 2]], max_new_tokens=10, cancel=event)[0]
    assert res.finish_reason == "cancelled" and res.tokens == []
    calls = []
    res = generate(model, [[1, 2], [3]], max_new_tokens=10, cancel=lambda: calls.append(1) or len(calls) > 4)
    assert all(r.finish_reason == "cancelled" and len(r.tokens) == 4 for r in res)


def test_fim_prompt_order_and_long_prompts_are_truncated(model):
    assert fim_prompt([1, 2], [3], prefix_id=60, suffix_id=61, middle_id=62) == [60, 1, 2, 61, 3, 62]
    res = generate(model, [list(range(60)) * 3], max_new_tokens=8)[0]    # 180 > max_seq_len 128
    assert len(res.tokens) == 8


def test_sampling_greedy_top_p_and_seed():
    logits = torch.tensor([[0.0, 5.0, 1.0, -2.0], [3.0, 0.0, 0.0, 2.9]])
    assert sample(logits).tolist() == [1, 0]
    g = torch.Generator().manual_seed(0)
    draws = torch.stack([sample(logits, temperature=1.0, top_p=0.5, generator=g) for _ in range(50)])
    assert (draws[:, 0] == 1).all()                # the nucleus of row 0 is one token
    assert set(draws[:, 1].tolist()) <= {0, 3}
    a = sample(logits, 1.0, 1.0, torch.Generator().manual_seed(7))
    b = sample(logits, 1.0, 1.0, torch.Generator().manual_seed(7))
    assert torch.equal(a, b)


# -- prefix cache, one-pass ranking, logits processor --------------------------------------

from model.generate import PrefixCache, prefill_row, score_candidates  # noqa: E402


def test_cached_prefill_equals_fresh_and_computes_only_new_tokens(model):
    g = torch.Generator().manual_seed(5)
    text = torch.randint(0, 64, (60,), generator=g).tolist()
    levels = torch.arange(60)[:, None].expand(60, 3) // 7
    cache = PrefixCache()
    first = generate(model, [text[:50]], max_new_tokens=6, level_ids=[levels[:50]], prefix_cache=cache,
                     prefix_keys=["doc#fim"])[0]
    typed = generate(model, [text[:53]], max_new_tokens=6, level_ids=[levels[:53]], prefix_cache=cache,
                     prefix_keys=["doc#fim"])[0]
    assert cache.last == (50, 3)                                   # 3 typed tokens computed, 50 reused
    fresh = generate(model, [text[:53]], max_new_tokens=6, level_ids=[levels[:53]])[0]
    assert typed.tokens == fresh.tokens and first.tokens == generate(model, [text[:50]], max_new_tokens=6,
                                                                       level_ids=[levels[:50]])[0].tokens
    # an edit at token 20: everything from there on is recomputed, logits equal a fresh prefill
    edited = text[:20] + [(text[20] + 1) % 64] + text[21:53]
    state = cache.get("doc#fim")
    _, got, reused = prefill_row(model, edited, levels[:53], state=state)
    _, want, _ = prefill_row(model, edited, levels[:53])
    assert reused == 20
    assert torch.allclose(got, want, atol=1e-4, rtol=1e-4)


def test_a_typed_tail_on_a_prefix_state_equals_a_fresh_prefill(model):
    """prefill_row on a state: tails of 2..TAIL_AS_ROWS tokens run through the decode kernels
    (prefill_tails' rows), longer ones as a prefill; either way the logits and the cache equal a
    fresh prefill's."""
    from model.generate import TAIL_AS_ROWS
    g = torch.Generator().manual_seed(12)
    p = torch.randint(0, 64, (90,), generator=g).tolist()
    levels = torch.arange(90)[:, None].expand(90, 3) // torch.tensor([3, 9, 30])
    fresh_state, want, _ = prefill_row(model, p, levels)
    for k in (2, TAIL_AS_ROWS, TAIL_AS_ROWS + 1):
        old = prefill_row(model, p[:-k], levels[:-k])[0]
        state, got, reused = prefill_row(model, p, levels, state=old)
        assert reused == len(p) - k and state.cache is old.cache
        assert torch.allclose(got, want, atol=1e-4, rtol=1e-4)
        for mine, ref in zip(state.cache.layers, fresh_state.cache.layers):
            for a, r in zip(mine.buffers, ref.buffers):
                assert torch.allclose(a[0, :len(p)], r[0, :len(p)], atol=1e-5)


def test_batched_rows_from_prefix_caches_equal_one_by_one(model):
    g = torch.Generator().manual_seed(6)
    prompts = [torch.randint(0, 64, (n,), generator=g).tolist() for n in (30, 9, 21)]
    cache = PrefixCache()
    keys = ["a", "b", "c"]
    generate(model, [p[:-2] for p in prompts], max_new_tokens=3, prefix_cache=cache, prefix_keys=keys)
    batched = generate(model, prompts, max_new_tokens=8, prefix_cache=cache, prefix_keys=keys)
    assert cache.stats["reused_tokens"] == sum(len(p) - 2 for p in prompts)
    for p, got in zip(prompts, batched):
        assert got.tokens == generate(model, [p], max_new_tokens=8)[0].tokens
    # the rows' tails ran as one batched prefill; each row's own cache took its new slots: the next
    # keystroke reuses it and still equals a fresh run
    more = [p + [7] for p in prompts]
    again = generate(model, more, max_new_tokens=8, prefix_cache=cache, prefix_keys=keys)
    assert cache.stats["reused_tokens"] == sum(len(p) - 2 for p in prompts) + sum(len(p) for p in prompts)
    for p, got in zip(more, again):
        assert got.tokens == generate(model, [p], max_new_tokens=8)[0].tokens
    alone = generate(model, [more[1] + [3]], max_new_tokens=8, prefix_cache=cache, prefix_keys=["b"])[0]
    assert cache.last == (len(more[1]), 1)
    assert alone.tokens == generate(model, [more[1] + [3]], max_new_tokens=8)[0].tokens


def test_batched_tail_prefill_equals_one_prefill_per_row(model):
    """`prefill_tails` (typed clients, tails of different lengths, run together on the rows' own
    caches) gives the logits of a prefill per row, and leaves each row's cache as that prefill would."""
    from model.generate import prefill_tails
    g = torch.Generator().manual_seed(8)
    prompts = [torch.randint(0, 64, (n,), generator=g).tolist() for n in (40, 12, 25, 4)]
    cut = [3, 1, 5, 1]                                             # tokens typed since the state
    olds = [prefill_row(model, p[:-c])[0] for p, c in zip(prompts, cut)]
    done = prefill_tails(model, prompts, [None] * 4, olds)
    assert sorted(done) == [0, 1, 2, 3]                            # each row feeds its own tail
    for b, (state, got, reused) in done.items():
        p = prompts[b]
        assert reused == len(p) - cut[b] and state.cache is olds[b].cache
        fresh_state, want, _ = prefill_row(model, p)
        assert torch.allclose(got, want, atol=1e-4, rtol=1e-4)
        for mine, ref in zip(state.cache.layers, fresh_state.cache.layers):
            assert torch.allclose(mine.buffers[0][0, :len(p)], ref.buffers[0][0, :len(p)], atol=1e-5)


def test_tails_longer_than_one_forward_equal_one_prefill_per_row(model):
    """Tails of more tokens than one forward takes (SMALL_M) and across key blocks run as several
    forwards, each row's tokens in order; the logits, the caches and the decoding that follows
    (hierarchy running sums, pooled block keys) equal a prefill per row."""
    from model.generate import PrefixCache, prefill_tails
    from model.quantize import SMALL_M
    g = torch.Generator().manual_seed(11)
    prompts = [torch.randint(0, 64, (n,), generator=g).tolist() for n in (100, 90, 70)]
    levels = [torch.arange(len(p))[:, None].expand(len(p), 3) // torch.tensor([3, 9, 30]) for p in prompts]
    cut = [20, 7, 13]
    assert sum(cut) > SMALL_M
    olds = [prefill_row(model, p[:-c], lv[:-c])[0] for p, lv, c in zip(prompts, levels, cut)]
    done = prefill_tails(model, prompts, levels, olds)
    assert sorted(done) == [0, 1, 2]
    cache = PrefixCache()
    for b, (state, got, reused) in done.items():
        assert reused == len(prompts[b]) - cut[b]
        fresh_state, want, _ = prefill_row(model, prompts[b], levels[b])
        assert torch.allclose(got, want, atol=1e-4, rtol=1e-4)
        for mine, ref in zip(state.cache.layers, fresh_state.cache.layers):
            for a, r in zip(mine.buffers, ref.buffers):
                assert torch.allclose(a[0, :len(prompts[b])], r[0, :len(prompts[b])], atol=1e-5)
        cache.put(str(b), state)
    after = generate(model, prompts, level_ids=levels, max_new_tokens=8, prefix_cache=cache,
                     prefix_keys=["0", "1", "2"])
    assert cache.last == (len(prompts[2]) - 1, 1)                  # the states reused (their last token again)
    for p, lv, got in zip(prompts, levels, after):
        assert got.tokens == generate(model, [p], level_ids=[lv], max_new_tokens=8)[0].tokens


@torch.no_grad()
def test_a_step_on_the_rows_own_caches_equals_each_row_alone(model):
    """`decode_rows`: rows at different positions of their own caches, one forward, give each
    row's batch-1 decode logits (hierarchy running sums and pooled block keys included)."""
    from model.generate import decode_one, decode_rows
    g = torch.Generator().manual_seed(9)
    prompts = [torch.randint(0, 64, (n,), generator=g).tolist() for n in (70, 33, 9)]
    levels = torch.tensor([[[3, 2, 1]], [[0, 0, 0]], [[1, 1, 0]]])
    mine = [prefill_row(model, p)[0].cache for p in prompts]
    alone = [prefill_row(model, p)[0].cache for p in prompts]
    toks = torch.tensor([5, 6, 7])
    for step in range(3):
        got = decode_rows(model, mine, toks, [len(p) + step for p in prompts], levels)
        for b, p in enumerate(prompts):
            want = decode_one(model, alone[b], toks[b:b + 1], len(p) + step, levels[b:b + 1])
            assert torch.allclose(got[b], want[0], atol=1e-5, rtol=1e-5)


def test_prefix_cache_is_bounded_in_bytes(model):
    cache = PrefixCache(max_bytes=1)
    for k in "abc":
        generate(model, [[1, 2, 3]], max_new_tokens=1, prefix_cache=cache, prefix_keys=[k])
    assert list(cache.states) == ["c"] and cache.stats["evicted"] == 2
    assert cache.invalidate("c") == 1 and cache.nbytes() == 0


@torch.no_grad()
def test_one_pass_scores_equal_full_forward_log_probs(model):
    g = torch.Generator().manual_seed(7)
    ctx = torch.randint(0, 64, (40,), generator=g).tolist()
    cands = [[5], [7, 8], [7, 9, 10], [11], [], [5, 6]]

    def exact(c):
        logp = model(torch.tensor([ctx + c])).logits.float().log_softmax(-1)[0]
        return float(sum(logp[len(ctx) - 1 + i, t] for i, t in enumerate(c)))

    cache = PrefixCache()
    got = score_candidates(model, ctx, None, cands, prefix_cache=cache, key="doc#rank")
    for c, s in zip(cands, got):
        assert s == pytest.approx(exact(c), abs=1e-3)
    again = score_candidates(model, ctx + [3], None, cands, prefix_cache=cache, key="doc#rank")
    assert cache.last == (40, 1)
    assert again[0] == pytest.approx(float(model(torch.tensor([ctx + [3]])).logits[0, -1].log_softmax(-1)[5]),
                                     abs=1e-3)
    # only the `expand` likeliest multi-token candidates get extra steps; the others an estimate
    est = score_candidates(model, ctx, None, cands, expand=1)
    firsts = {i: float(model(torch.tensor([ctx])).logits[0, -1].log_softmax(-1)[cands[i][0]]) for i in (1, 2, 5)}
    for i in (1, 2, 5):
        assert est[i] <= firsts[i] + 1e-4


def test_logits_processor_sees_generated_ids_and_edits_logits(model):
    free = generate(model, [[1, 2, 3]], max_new_tokens=6)[0].tokens
    seen = []

    def ban_first(generated, logits):
        seen.append(list(generated))
        logits[free[0]] = float("-inf")
        return logits

    res = generate(model, [[1, 2, 3]], max_new_tokens=6, logits_processor=ban_first)[0]
    assert free[0] not in res.tokens
    assert seen[0] == [] and seen[1] == res.tokens[:1] and len(seen) == 6
    per_row = generate(model, [[1, 2, 3], [1, 2, 3]], max_new_tokens=6, logits_processor=[ban_first, None])
    assert per_row[0].tokens == res.tokens and per_row[1].tokens == free


@torch.no_grad()
def test_compiled_decode_attention_gives_the_eager_tokens(model):
    """The one-row block-sparse decode attention as one compiled call (`model.native`, where it
    builds) decodes the tokens and log-probs the eager ops decode."""
    from model import native
    from model.attention import SparseAttention
    from model.generate import decode_step_mode
    if not native.status().startswith("compiled"):
        pytest.skip(native.status())
    assert "compiled" in decode_step_mode(model)
    g = torch.Generator().manual_seed(10)
    prompts = [torch.randint(0, 64, (n,), generator=g).tolist() for n in (70, 45)]
    compiled = generate(model, prompts, max_new_tokens=20)
    SparseAttention.native = False
    try:
        eager = generate(model, prompts, max_new_tokens=20)
        assert "switched off" in decode_step_mode(model)
    finally:
        SparseAttention.native = True
    for a, b in zip(compiled, eager):
        assert a.tokens == b.tokens
        assert max(abs(x - y) for x, y in zip(a.logprobs, b.logprobs)) < 1e-4



def _forced_first(t: int):
    """A logits processor that makes the first token `t` (its log p stays the model's own)."""
    def force(ids, logits):
        if not ids:
            out = torch.full_like(logits, float("-inf"))
            out[t] = 0.0
            return out
        return None
    return force


def test_best_of_continues_the_likeliest_first_tokens_and_returns_the_best_scored(model):
    """best_of: the k likeliest first tokens each continued greedily on a copy of the prompt's
    cache (a prompt past several key blocks, its tail typed on a prefix state), each exactly as
    that prompt decoded alone with that first token; the result is the likeliest of them."""
    g = torch.Generator().manual_seed(9)
    prompts = [torch.randint(0, 64, (n,), generator=g).tolist() for n in (37, 12)]
    cache = PrefixCache()
    generate(model, [p[:-3] for p in prompts], max_new_tokens=2, prefix_cache=cache, prefix_keys=["a", "b"])
    got = generate(model, prompts, max_new_tokens=9, best_of=[3, 1], prefix_cache=cache, prefix_keys=["a", "b"])
    assert got[1].tokens == generate(model, [prompts[1]], max_new_tokens=9)[0].tokens
    _, logits, _ = prefill_row(model, prompts[0])
    options = [generate(model, [prompts[0]], max_new_tokens=9, logits_processor=_forced_first(t))[0]
               for t in logits.topk(3).indices.tolist()]
    assert options[0].tokens == generate(model, [prompts[0]], max_new_tokens=9)[0].tokens     # greedy's own
    best = max(options, key=lambda r: sum(r.logprobs))
    assert got[0].tokens == best.tokens and got[0].logprobs == pytest.approx(best.logprobs, abs=1e-5)
    assert len({tuple(o.tokens) for o in options}) == 3
    # the prompt's cache kept under its key is the original row's: the next request reuses it
    again = generate(model, [prompts[0] + [4]], max_new_tokens=5, prefix_cache=cache, prefix_keys=["a"])[0]
    assert again.tokens == generate(model, [prompts[0] + [4]], max_new_tokens=5)[0].tokens


def test_best_of_length_penalty_weighs_shorter_answers(model):
    """The score is sum(log p) / count ** length_penalty, the stop (eos) token counted: 0 prefers
    the highest total (short answers), 1 the highest mean."""
    prompt = [3, 1, 4, 1, 5, 9, 2, 6]
    _, logits, _ = prefill_row(model, prompt)
    top = logits.topk(4).indices.tolist()
    eos = generate(model, [prompt], max_new_tokens=4, logits_processor=_forced_first(top[1]))[0].tokens[2]
    for penalty in (0.0, 1.0):
        got = generate(model, [prompt], max_new_tokens=8, eos_id=eos, best_of=4, length_penalty=penalty)[0]
        scored = []
        for t in top:
            row = generate(model, [prompt], max_new_tokens=8, eos_id=eos, logits_processor=_forced_first(t))[0]
            lps = list(row.logprobs)
            if row.finish_reason == "eos":                       # the eos token's own log p counts too
                _, last, _ = prefill_row(model, prompt + row.tokens)
                lps.append(float(last.log_softmax(-1)[eos]))
            scored.append((sum(lps) / len(lps) ** penalty, row.tokens))
        assert got.tokens == max(scored)[1]


def test_best_of_one_is_greedy(model):
    prompts = [[1, 2, 3, 4], [9, 8, 7]]
    assert [r.tokens for r in generate(model, prompts, max_new_tokens=6, best_of=1)] == \
        [r.tokens for r in generate(model, prompts, max_new_tokens=6)]
    many = generate(model, prompts, max_new_tokens=6, best_of=4)
    assert len(many) == 2 and all(len(r.tokens) == 6 for r in many)
