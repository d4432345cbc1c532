"""R1 network: sparse attention, routed experts, causal hierarchy, cached decode, training."""

import pytest
import torch
import torch.nn.functional as F

from model import R1Config, R1Model, unit_summaries
from model.attention import SparseAttention, rope_angles
from model.key_selection import compact, key_masks, select_keys
from model.attention import KVCache
from model.hierarchy import cached_unit_means, causal_unit_mean


pytestmark = pytest.mark.usefixtures("one_thread")


def small_cfg(**kw):
    base = dict(vocab_size=64, max_seq_len=256, d_model=64, n_layers=2, n_heads=4, index_heads=2,
                index_dim=8, attn_topk=12, local_window=4, key_block=8, n_experts=8, n_active=2,
                expert_hidden=32, level_dims=(64, 48, 32, 16), hier_layers=(1,))
    base.update(kw)
    return R1Config(**base)


def random_level_ids(B, T, seed=0):
    """Phrases interleaved (non-contiguous), sentences and paragraphs contiguous and increasing."""
    g = torch.Generator().manual_seed(seed)
    para = torch.cumsum(torch.rand(B, T, generator=g) < 0.05, 1)
    sent = torch.cumsum(torch.rand(B, T, generator=g) < 0.2, 1)
    phrase = sent * 3 + torch.randint(0, 3, (B, T), generator=g)
    return torch.stack([phrase, sent, para], -1)


def sharp_model(cfg, seed=0):
    """A random model whose indexer scores spread widely, so the threshold really drops keys."""
    torch.manual_seed(seed)
    m = R1Model(cfg).eval()
    with torch.no_grad():
        for blk in m.blocks:
            blk.attn.indexer.proj.weight.mul_(40)
        for h in m.hier.values():
            torch.nn.init.normal_(h.up.weight, std=0.02)
    return m


def test_config_presets_and_json_round_trip():
    tiny, base = R1Config.preset("r1-tiny"), R1Config.preset("r1-base")
    assert (tiny.d_model, tiny.level_dims, tiny.n_experts, tiny.n_active, tiny.max_seq_len) == \
        (256, (256, 192, 128, 96), 16, 4, 2048)
    assert (base.d_model, base.level_dims, base.n_layers, base.max_seq_len) == (768, (768, 512, 384, 256), 12, 8192)
    cfg = R1Config.preset("r1-tiny", n_layers=6)
    assert R1Config.from_json(cfg.to_json()) == cfg
    with pytest.raises(ValueError):
        R1Config.preset("r1-tiny", level_dims=(128, 64, 32, 16))
    with pytest.raises(ValueError):
        R1Config.from_dict({**cfg.to_dict(), "bogus": 1})


@pytest.mark.parametrize("B", [1, 2])                      # one row takes its own few-op decode path
def test_cached_decode_equals_full_forward_with_sparse_attention(B):
    cfg = small_cfg(gate_threshold=0.3)
    m = sharp_model(cfg)
    T = 48
    x = torch.randint(0, cfg.vocab_size, (B, T))
    lvl = random_level_ids(B, T)
    with torch.no_grad():
        full = m(x, lvl).logits
        cache = m.new_cache(B, T)
        steps = [m(x[:, :20], lvl[:, :20], cache=cache).logits]
        for t in range(20, T):
            steps.append(m(x[:, t:t + 1], lvl[:, t:t + 1], cache=cache, start_pos=t).logits)
    assert (torch.cat(steps, 1) - full).abs().max() < 1e-5


def _attention_inputs(B=2, T=40, H=4, D=16, Hi=2, Di=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    r = lambda *s: torch.randn(*s, generator=g)
    return r(B, T, H, D), r(B, T, H, D), r(B, T, H, D), 3 * r(B, T, Hi, Di), r(B, T, Hi), 3 * r(B, T, Di)


def test_keep_all_reproduces_dense_attention_exactly():
    cfg = small_cfg(gate_threshold=0.0, attn_topk=1000, local_window=4)
    torch.manual_seed(0)
    attn = SparseAttention(cfg)
    dense = SparseAttention(small_cfg(attn_sparse=False))
    dense.load_state_dict({k: v for k, v in attn.state_dict().items() if "indexer" not in k})
    x = torch.randn(2, 40, cfg.d_model)
    pos = torch.arange(40).expand(2, 40)
    rope, irope = rope_angles(pos, cfg.head_dim, 1e4), rope_angles(pos, cfg.index_dim, 1e4)
    y_sparse, _ = attn(x, rope, irope)
    # the same projections through plain causal SDPA with a boolean mask: bit-identical
    from model.attention import apply_rope
    B, T, H, D = 2, 40, cfg.n_heads, cfg.head_dim
    q = apply_rope(attn.wq(x).view(B, T, H, D), *rope).transpose(1, 2)
    k = apply_rope(attn.wk(x).view(B, T, H, D), *rope).transpose(1, 2)
    v = attn.wv(x).view(B, T, H, D).transpose(1, 2)
    causal = torch.ones(T, T, dtype=torch.bool).tril()
    ref = attn.wo(F.scaled_dot_product_attention(q, k, v, attn_mask=causal).transpose(1, 2).reshape(B, T, -1))
    assert torch.equal(y_sparse, ref)
    assert torch.allclose(dense(x, rope, irope)[0], ref, atol=1e-6)
    B, T, H, D = 2, 40, cfg.n_heads, cfg.head_dim
    iq, iw, ik = attn.indexer.project(x, *irope)
    gathered = attn._gathered(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), iq, iw, ik, 0, None)
    assert torch.allclose(attn.wo(gathered), ref, atol=1e-6)       # the decode path


def test_kept_fraction_follows_gate_and_window_is_always_kept():
    g = torch.Generator().manual_seed(0)
    T = 200
    scores = 4 * torch.randn(1, T, T, generator=g)
    visible, local = key_masks(0, T, T, 16, None, "cpu")
    kept = []
    for thr in (0.0, 0.05, 0.3, 0.9):
        idx, keep = select_keys(scores, visible, local, thr, budget=64)
        mask = torch.zeros(1, T, T, dtype=torch.bool).scatter_(-1, idx, keep)
        assert not (mask & ~visible).any()                  # never a future key
        assert (mask | ~local).all()                        # the local window always kept
        assert (mask.sum(-1) <= 64).all()                   # the budget holds
        kept.append(mask.sum().item())
    assert kept[0] > kept[1] > kept[2] > kept[3] >= local.sum().item()
    idx, keep = select_keys(scores, visible, local, 0.0, budget=T)
    assert torch.equal(torch.zeros(1, T, T, dtype=torch.bool).scatter_(-1, idx, keep), visible.expand(1, T, T))


def test_dropped_keys_do_not_contribute_and_paths_agree():
    """Changing the value of a dropped key changes nothing: it is masked with -inf / not gathered.
    The prefill path (per chunk, skipping unused key blocks) and the gathered path agree."""
    cfg = small_cfg(gate_threshold=0.3, attn_topk=10, local_window=3, key_block=4)
    attn = SparseAttention(cfg)
    q, k, v, iq, iw, ik = _attention_inputs()
    T = q.size(1)
    visible, local = key_masks(0, T, T, 3, None, "cpu")
    idx, keep = select_keys(attn.indexer.score(iq, iw, ik), visible, local, 0.3, 10)
    mask = torch.zeros(2, T, T, dtype=torch.bool).scatter_(-1, idx, keep)
    t = T - 1
    dropped = (~mask[:, t, :t]).nonzero()
    assert len(dropped) > 0
    v2 = v.clone()
    v2[dropped[:, 0], dropped[:, 1]] += 100.0
    runs = {
        "prefill": lambda vv: attn._blocks(q, k, vv, iq, iw, ik, 0, None, False)[0],
        "prefill, one query per chunk": lambda vv: attn._blocks(q, k, vv, iq, iw, ik, 0, None, False,
                                                                chunk_elems=T * iq.size(2))[0],
        "gathered": lambda vv: attn._gathered(q, k, vv, iq, iw, ik, 0, None),
    }
    outs = {name: run(v) for name, run in runs.items()}
    for name, run in runs.items():
        assert torch.allclose(outs[name][:, t], run(v2)[:, t], atol=1e-5), name
        assert torch.allclose(outs[name], outs["prefill"], atol=1e-5), name


def test_compact_keeps_only_kept_entries():
    idx = torch.tensor([[5, 6, 7, 8]])
    keep = torch.tensor([[False, True, False, True]])
    i, k = compact(idx, keep)
    assert i.tolist() == [[6, 8]] and k.all()


def test_sparse_moe_dispatch_equals_dense_reference():
    cfg = small_cfg()
    torch.manual_seed(0)
    m = R1Model(cfg)
    moe = m.blocks[0].moe
    x = torch.randn(37, cfg.d_model)
    w, idx, probs = moe.gate(x)
    assert torch.allclose(w.sum(-1), torch.ones(37), atol=1e-6)
    assert torch.equal(idx, probs.topk(cfg.n_active).indices)
    assert torch.allclose(moe.dispatch(x, w, idx), moe.dense_reference(x, w, idx), atol=1e-6)


def test_inference_route_picks_the_same_experts_with_the_same_weights():
    cfg = small_cfg()
    torch.manual_seed(0)
    gate = R1Model(cfg).blocks[0].moe.gate
    x = torch.randn(37, cfg.d_model)
    w, idx, _ = gate(x)
    w_fast, idx_fast = gate.route(x)
    assert torch.equal(idx_fast, idx)
    assert torch.allclose(w_fast, w, atol=1e-6)


def _inference_model(quantized: bool) -> R1Model:
    """A seeded small model in eval mode, its Linears int8 if `quantized`."""
    from model.quantize import quantize_model
    torch.manual_seed(0)
    m = R1Model(small_cfg()).eval()
    if quantized:
        quantize_model(m, "cpu")
    return m


@pytest.mark.parametrize("quantized", [False, True])
def test_experts_joined_w1_w3_equal_the_separate_matmuls(quantized):
    """Inference runs each expert's w1 | w3 as one matmul: the same tokens out as the separate
    ones, for float and int8 weights, one token (decode) and several (a batch, prefill)."""
    from model.experts import Expert
    cfg, m = small_cfg(), _inference_model(quantized)
    moe = m.blocks[0].moe
    for n in (1, 5, 40):
        x = torch.randn(1, n, cfg.d_model)
        with torch.no_grad():
            y = moe(x, want_balance=False)[0]
            Expert.join_w13 = False
            try:
                y_sep = moe(x, want_balance=False)[0]
            finally:
                Expert.join_w13 = True
        assert torch.allclose(y, y_sep, atol=1e-5, rtol=1e-4), n
    assert moe.experts[0].joined_w13() is not None


@pytest.mark.parametrize("quantized", [False, True])
def test_joined_rope_equals_rope_per_projection_bit_for_bit(quantized):
    """Inference rotates q, k, v and the indexer's projections in one pass (`rotate_joined`):
    the same values as `apply_rope` and the indexer's `project` on each (with the indexer's float
    projection apart from int8 q/k/v, and joined with float ones)."""
    from model.attention import apply_rope
    cfg, m = small_cfg(), _inference_model(quantized)
    attn = m.blocks[0].attn
    B, T, H, D = 2, 5, cfg.n_heads, cfg.head_dim
    x = torch.randn(B, T, cfg.d_model)
    pos = torch.arange(T).expand(B, T) + 7
    rope, irope = rope_angles(pos, D, 1e4), rope_angles(pos, cfg.index_dim, 1e4)
    with torch.no_grad():
        p = attn.fused_projection()(x)
        q, k, v, (iq, iw, ik) = attn.rotate_joined(x, p, rope, irope)
        q0, k0 = apply_rope(p[..., :2 * H * D].view(B, T, 2 * H, D), *rope).split(H, dim=2)
        iq0, iw0, ik0 = attn.indexer.project(x, *irope)
        apart = attn.rotate_apart(x, p, rope, irope)                # a prefill's way: the same values
    for got, want in ((q, q0), (k, k0), (v, p[..., 2 * H * D:3 * H * D].view(B, T, H, D)),
                      (iq, iq0), (iw, iw0), (ik, ik0)):
        assert got.shape == want.shape and torch.equal(got, want)
    for got, want in zip(apart[:3] + apart[3], (q, k, v, iq, iw, ik)):
        assert got.shape == want.shape and torch.equal(got, want)


def test_routing_trace_and_units():
    cfg = small_cfg()
    m = sharp_model(cfg)
    B, T = 2, 20
    x, lvl = torch.randint(0, 64, (B, T)), random_level_ids(B, T)
    with torch.no_grad():
        out = m(x, lvl, return_routing=True, return_units=True)
    r = out.routing
    assert r.experts.shape == r.weights.shape == (cfg.n_layers, B, T, cfg.n_active)
    assert r.experts.max() < cfg.n_experts and torch.allclose(r.weights.sum(-1), torch.ones(cfg.n_layers, B, T))
    u = out.units
    assert u.phrase.shape == (B, T, 48) and u.sentence.shape == (B, T, 32) and u.paragraph.shape == (B, T, 16)
    ids, vecs = unit_summaries(u.sentence[0], lvl[0, :, 1])
    assert ids.tolist() == lvl[0, :, 1].unique().tolist() and vecs.shape == (len(ids), 32)
    last = max(i for i in range(T) if lvl[0, i, 1] == ids[0])
    assert torch.equal(vecs[0], u.sentence[0, last])
    assert 0.5 < out.aux_loss.item() < 4.0


def test_unit_pooling_is_causal_and_matches_brute_force():
    B, T, d = 2, 30, 5
    y = torch.randn(B, T, d)
    ids = random_level_ids(B, T)[..., 0]
    got = causal_unit_mean(y, ids)
    for b in range(B):
        for t in range(T):
            same = [s for s in range(t + 1) if ids[b, s] == ids[b, t]]
            assert torch.allclose(got[b, t], y[b, same].mean(0), atol=1e-6)
    y2 = y.clone()
    y2[:, 20:] += 10.0                                      # later tokens, same units included
    assert torch.equal(causal_unit_mean(y2, ids)[:, :20], got[:, :20])


def test_a_few_new_tokens_pool_as_the_whole_sequence_does():
    """A keystroke's prefill pools its T new tokens against the cached rows directly."""
    B, S, d = 2, 100, 5
    y = torch.randn(B, S, d)
    ids = random_level_ids(B, S)[..., 0]                    # interleaved, non-contiguous units
    for T in (1, 3, 30):
        cache = KVCache(B, S)
        got = cached_unit_means(cache, y, ids, T)
        assert torch.allclose(got, causal_unit_mean(y, ids)[:, -T:], atol=1e-6)
        _, (uid, total, count) = cache.memo["unit_sum"]     # the last token's sum, for the next step
        assert torch.equal(uid, ids[:, -1]) and torch.allclose(total / count, got[:, -1].double(), atol=1e-6)


def test_rows_running_unit_sums_equal_the_whole_sequence_as_rows_come_go_and_change_units():
    """`row_unit_means` (a batch step, each row on its own cache) keeps the rows' running sums as one
    batch state: steps that continue it, a row changing unit, the rows reordered, a row leaving,
    and the last row decoding alone (`cached_unit_mean`) all pool as the whole sequence does."""
    from model.hierarchy import cached_unit_mean, row_unit_means
    d, n0 = 5, [12, 30, 7]
    g = torch.Generator().manual_seed(3)
    seqs = [torch.randn(1, 60, d, generator=g) for _ in n0]
    ids = [torch.tensor([[i // 4 for i in range(60)]]) for _ in n0]
    ids[1][0, 33:] = 99                                     # row 1 starts a new unit at slot 33
    caches = []
    for y, i, n in zip(seqs, ids, n0):
        c = KVCache(1, 64)
        cached_unit_mean(c, *c.update(0, y[:, :n], i[:, :n]))
        caches.append(c)
    pos = list(n0)
    plan = [[0, 1, 2]] * 4 + [[2, 0, 1]] * 2 + [[0, 1]] * 3 + [[1]] * 2   # reordered, row 2 leaves, row 1 alone
    for rows in plan:
        if len(rows) == 1:
            b = rows[0]
            got = cached_unit_mean(caches[b], *caches[b].update(pos[b], seqs[b][:, pos[b]:pos[b] + 1],
                                                                 ids[b][:, pos[b]:pos[b] + 1]))
        else:
            y = torch.cat([seqs[b][:, pos[b]:pos[b] + 1] for b in rows])
            i = torch.cat([ids[b][:, pos[b]:pos[b] + 1] for b in rows])
            got = row_unit_means([caches[b] for b in rows], [pos[b] for b in rows], y, i)
        for j, b in enumerate(rows):
            want = causal_unit_mean(seqs[b][:, :pos[b] + 1], ids[b][:, :pos[b] + 1])[:, -1]
            assert torch.allclose(got[j], want, atol=1e-6), (rows, b)
            pos[b] += 1


def test_a_typed_tail_as_rows_of_one_cache_continues_the_units_running_sum(monkeypatch):
    """A typed tail runs as rows of one document's cache at consecutive slots (`prefill_tails`):
    each row continues the previous row's running sum of its unit, none sums the unit's rows again,
    and every row pools as the whole sequence does."""
    import model.hierarchy as hierarchy
    d, n = 5, 20
    g = torch.Generator().manual_seed(4)
    y_all = torch.randn(1, 40, d, generator=g)
    ids = torch.tensor([[i // 16 for i in range(40)]])                # slots 16-31: one unit
    c = KVCache(1, 64)
    hierarchy.cached_unit_mean(c, *c.update(0, y_all[:, :n], ids[:, :n]))
    summed = []
    whole = hierarchy.cached_unit_mean
    monkeypatch.setattr(hierarchy, "cached_unit_mean", lambda *a: summed.append(1) or whole(*a))
    for tail in (range(n, n + 3), range(n + 3, n + 9)):               # two keystrokes' tails
        slots = list(tail)
        got = hierarchy.row_unit_means([c] * len(slots), slots, y_all[0, slots][:, None], ids[0, slots][:, None])
        for j, t in enumerate(slots):
            want = causal_unit_mean(y_all[:, :t + 1], ids[:, :t + 1])[:, -1]
            assert torch.allclose(got[j], want, atol=1e-6), t
    assert summed == []


def test_whole_model_is_causal():
    cfg = small_cfg()
    m = sharp_model(cfg)
    T = 40
    x, lvl = torch.randint(0, 64, (1, T)), random_level_ids(1, T)
    x2 = x.clone()
    x2[0, 25:] = (x2[0, 25:] + 7) % 64
    with torch.no_grad():
        a, b = m(x, lvl).logits, m(x2, lvl).logits
    assert torch.allclose(a[:, :25], b[:, :25], atol=1e-6)
    assert not torch.allclose(a[:, 25:], b[:, 25:], atol=1e-3)


def test_training_lowers_loss_and_trains_the_gate():
    """Induction task: a random half-sequence, then the same again; the second half is learnable.
    The gate (indexer) must end closer to the dense attention than a fresh, untrained one."""
    cfg = small_cfg(vocab_size=32, attn_topk=24, local_window=4)
    torch.manual_seed(0)
    m = R1Model(cfg).train()
    opt = torch.optim.AdamW(m.parameters(), lr=3e-3, weight_decay=0.0)
    g = torch.Generator().manual_seed(1)

    def batch():
        half = torch.randint(0, 32, (16, 16), generator=g)
        seq = torch.cat([half, half], 1)
        targets = seq[:, 1:].clone()
        targets[:, :15] = -100                              # score only the copyable half
        return seq[:, :-1], targets

    history = []
    for step in range(150):
        loss = m.loss(*batch())
        opt.zero_grad()
        loss.total.backward()
        opt.step()
        history.append(loss.lm.item())
    first, last = sum(history[:10]) / 10, sum(history[-10:]) / 10
    assert last < 0.5 * first, (first, last)                # ln 32 = 3.47 at the start
    x, y = batch()
    trained_gate = m.loss(x, y).gate.item()
    torch.manual_seed(1)
    with torch.no_grad():
        for blk in m.blocks:
            for p in blk.attn.indexer.parameters():
                torch.nn.init.normal_(p, std=cfg.init_std)
    fresh_gate = m.loss(x, y).gate.item()
    assert trained_gate < 0.5 * fresh_gate, (trained_gate, fresh_gate)
