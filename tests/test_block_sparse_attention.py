"""Block-sparse key selection (model/key_selection.py): pooled block keys pick a few old blocks per
query, the exact gate refines inside them. What it keeps, where it equals the exact selection,
and that a far block the indexer points at is found."""
import pytest
import torch

from model.attention import SparseAttention
from model.key_selection import block_sparse_chunk, pooled_block_keys, uses_blocks
from model.config import R1Config

pytestmark = pytest.mark.usefixtures("one_thread")


def cfg(**kw):
    base = dict(vocab_size=64, max_seq_len=1024, d_model=32, n_layers=1, n_heads=2, index_heads=2,
                index_dim=8, attn_topk=24, local_window=8, key_block=8, n_experts=4, n_active=2,
                expert_hidden=16, level_dims=(32, 24, 16, 8), hier_layers=(0,), gate_threshold=0.3)
    base.update(kw)
    return R1Config(**base)


def inputs(B=1, S=160, H=2, D=16, Hi=2, Di=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    r = lambda *s: torch.randn(*s, generator=g)
    return r(B, S, H, D), r(B, S, H, D), r(B, S, H, D), 3 * r(B, S, Hi, Di), r(B, S, Hi).abs(), r(B, S, Di)


def last_query(c, q, k, v, iq, iw, ik, S):
    t = S - 1
    pooled = pooled_block_keys(ik, S, c.key_block)
    return block_sparse_chunk(q[:, t:t + 1], k, v, iq[:, t:t + 1], iw[:, t:t + 1], ik, pooled, t, S, c, None)


def test_a_far_block_the_indexer_points_at_is_found_and_unpicked_blocks_are_never_read():
    c = cfg()
    q, k, v, iq, iw, ik = inputs()
    S = q.size(1)
    ik = 0.05 * ik
    iq[:, -1] = 1.0                                                        # the last query ...
    ik[:, 16:24] = 2.0                                                     # ... matches block 2 only
    y = last_query(c, q, k, v, iq, iw, ik, S)
    v_far = v.clone()
    v_far[:, 16:24] += 10.0                                                # the pointed-at block
    assert not torch.allclose(last_query(c, q, k, v_far, iq, iw, ik, S), y)
    v_other = v.clone()
    v_other[:, 40:48] += 10.0                                              # an old block it did not pick
    assert torch.equal(last_query(c, q, k, v_other, iq, iw, ik, S), y)
    v_local = v.clone()
    v_local[:, S - 3] += 10.0                                              # the local window: always kept
    assert not torch.allclose(last_query(c, q, k, v_local, iq, iw, ik, S), y)
    v_future = v.clone()
    v_future[:, S:] += 10.0
    assert torch.equal(last_query(c, q, k, v_future, iq, iw, ik, S), y)


def test_short_contexts_keep_exactly_what_exact_selection_keeps():
    c = cfg(attn_topk=64)                                                  # 7 old blocks selectable
    attn = SparseAttention(c).eval()
    q, k, v, iq, iw, ik = inputs(B=2, S=64)
    assert not uses_blocks(c, 63)
    exact = attn._blocks(q, k, v, iq, iw, ik, 0, None, False)[0]
    blocks = attn._block_prefill(q, k, v, iq, iw, ik, 0, None)
    assert torch.allclose(blocks, exact, atol=1e-5)


def test_long_prefill_and_one_query_at_a_time_agree_and_cost_follows_kept_keys():
    c = cfg()
    attn = SparseAttention(c).eval()
    q, k, v, iq, iw, ik = inputs(B=2, S=160)
    assert uses_blocks(c, 159)
    full = attn._blocks(q, k, v, iq, iw, ik, 0, None, False)[0]            # block-sparse prefill
    steps = torch.cat([attn._gathered(q[:, t:t + 1], k[:, :t + 1], v[:, :t + 1], iq[:, t:t + 1], iw[:, t:t + 1],
                                      ik[:, :t + 1], t, None) for t in range(100, 160)], 1)
    assert torch.allclose(full[:, 100:], steps, atol=1e-5)
    # a query reads at most n_select old blocks + its near range, however long the context
    n_select = (c.attn_topk - c.local_window) // c.key_block
    for S in (160, 640):
        q, k, v, iq, iw, ik = inputs(S=S)
        y = last_query(c, q, k, v, iq, iw, ik, S)
        changed = 0
        for b in range(S // c.key_block - 2):
            v2 = v.clone()
            v2[:, b * 8:(b + 1) * 8] += 10.0
            changed += not torch.equal(last_query(c, q, k, v2, iq, iw, ik, S), y)
        assert 1 <= changed <= n_select


@pytest.mark.parametrize("threshold", [0.3, 0.0])           # the gate drops keys / the budget binds
def test_one_row_decode_keeps_what_the_block_sparse_prefill_keeps(threshold):
    """A batch of one decodes by its own path (only the kept keys gathered). Threshold 0 keeps
    every candidate: up to 31 for a budget of 24, so the budget decides."""
    c = cfg(gate_threshold=threshold)
    attn = SparseAttention(c).eval()
    q, k, v, iq, iw, ik = inputs(B=1, S=200)
    full = attn._blocks(q, k, v, iq, iw, ik, 0, None, False)[0]
    steps = torch.cat([attn._gathered(q[:, t:t + 1], k[:, :t + 1], v[:, :t + 1], iq[:, t:t + 1], iw[:, t:t + 1],
                                      ik[:, :t + 1], t, None) for t in range(100, 200)], 1)
    assert torch.allclose(full[:, 100:], steps, atol=1e-5)


def test_a_left_padded_row_selects_what_it_selects_alone():
    """Blocks count positions from a row's first real token: padding in front changes nothing."""
    c = cfg()
    attn = SparseAttention(c).eval()
    q, k, v, iq, iw, ik = inputs(B=1, S=150)
    pad = 10
    P = lambda x: torch.cat([torch.randn(1, pad, *x.shape[2:]), x], 1)
    pq, pk, pv, piq, piw, pik = (P(x) for x in (q, k, v, iq, iw, ik))
    pad_len = torch.tensor([pad])
    alone = attn._blocks(q, k, v, iq, iw, ik, 0, None, False)[0]
    padded = attn._blocks(pq, pk, pv, piq, piw, pik, 0, pad_len, False)[0][:, pad:]
    assert torch.allclose(padded, alone, atol=1e-5)
    t = 149                                                                # and one decode step
    step = attn._gathered(pq[:, pad + t:pad + t + 1], pk[:, :pad + t + 1], pv[:, :pad + t + 1],
                          piq[:, pad + t:pad + t + 1], piw[:, pad + t:pad + t + 1], pik[:, :pad + t + 1],
                          pad + t, pad_len)
    assert torch.allclose(step[:, 0], alone[:, t], atol=1e-5)


native_built = pytest.mark.skipif(not __import__("model.native").native.status().startswith("compiled"),
                                  reason="no compiled kernel here (model.native.status())")


@native_built
@pytest.mark.parametrize("threshold", [0.3, 0.0])
@torch.no_grad()
def test_the_compiled_one_row_decode_step_equals_the_eager_ops(threshold):
    """`model.native`: the one-row block-sparse decode step as one C call gives the eager ops'
    output (the gate dropping keys; threshold 0: the budget decides), and the block-sparse prefill's.
    (Its scores are summed in another order: a score exactly at the gate's threshold may fall on
    the other side, as at 1 of 1,600 positions of seeds 0-7 here; these seeds have none.)"""
    c = cfg(gate_threshold=threshold)
    attn = SparseAttention(c).eval()
    q, k, v, iq, iw, ik = inputs(B=1, S=200, seed=2)

    def steps():
        return torch.cat([attn._gathered(q[:, t:t + 1], k[:, :t + 1], v[:, :t + 1], iq[:, t:t + 1],
                                         iw[:, t:t + 1], ik[:, :t + 1], t, None) for t in range(100, 200)], 1)

    def compiled_and_eager():
        compiled = steps()
        SparseAttention.native = False
        try:
            eager = steps()
        finally:
            SparseAttention.native = True
        assert torch.allclose(compiled, eager, atol=1e-5)
        return compiled

    compiled = compiled_and_eager()
    full = attn._blocks(q, k, v, iq, iw, ik, 0, None, False)[0]
    assert torch.allclose(full[:, 100:], compiled, atol=1e-5)
    k, v = k.to(torch.bfloat16), v.to(torch.bfloat16)                  # keys / values kept in bf16: the
    compiled_and_eager()                                               # kernel reads them as the eager ops do


@native_built
@pytest.mark.parametrize("kv_dtype", [None, torch.bfloat16])      # keys / values cached as computed, or bf16
@torch.no_grad()
def test_rows_on_their_own_caches_in_one_compiled_call_equal_the_eager_steps(kv_dtype):
    """A decode step of rows that each have their own cache (`_row_steps`) runs as one C call
    (`SparseAttention._native_rows`: RoPE, the cache writes and every row's block-sparse step):
    the eager ops' outputs, the same cache slots written, and the next steps still agree. With
    bf16 keys / values both read the same rounded values (the C writes round as torch does)."""
    from model.attention import KVCache, rope_angles
    from model import native
    c = cfg(d_model=64, level_dims=(64, 24, 16, 8))
    attn = SparseAttention(c).eval()
    with torch.no_grad():
        attn.indexer.proj.weight.mul_(20)                                  # a sharp gate: keys dropped
    lengths = [150, 97, 201]
    g = torch.Generator().manual_seed(4)

    def caches():
        out = []
        for n in lengths:
            kv = KVCache(1, 256, kv_dtype)
            kv.update(0, *(torch.randn(1, n, *s, generator=torch.Generator().manual_seed(n)) for s in ((2, 32), (2, 32), (8,))))
            out.append(kv)
        return out

    mine, ref = caches(), caches()
    called = []
    run = native.run_rows
    native.run_rows = lambda *a, **k: called.append(1) or run(*a, **k)
    try:
        for step in range(3):
            x = torch.randn(3, 1, 64, generator=g)
            slots = [n + step for n in lengths]
            pos = torch.tensor(slots)[:, None]
            rope, irope = rope_angles(pos, 32, c.rope_theta), rope_angles(pos, 8, c.rope_theta)
            got = attn(x, rope, irope, slots, None, mine)[0]
            SparseAttention.native = False
            try:
                want = attn(x, rope, irope, slots, None, ref)[0]
            finally:
                SparseAttention.native = True
            assert torch.allclose(got, want, atol=1e-5)
            for a, b in zip(mine, ref):
                for x_a, x_b in zip(a.buffers, b.buffers):
                    assert x_a.dtype == x_b.dtype
                    if x_a.dtype == torch.float32:
                        assert torch.allclose(x_a, x_b, atol=1e-6)
                    else:                                              # one bf16 step apart at most
                        assert torch.allclose(x_a.float(), x_b.float(), rtol=2 ** -8, atol=1e-6)
                        assert (x_a != x_b).float().mean() < 0.01
    finally:
        native.run_rows = run
    assert len(called) == 3
    assert all(kv.buffers[0].dtype == (kv_dtype or torch.float32) for kv in mine)
