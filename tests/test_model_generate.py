"""Generation: batched left-padded equals one by one, stops, cancel, FIM, sampling."""
import threading

import pytest
import torch

from model import R1Config, R1Model, fim_prompt, generate, sample


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
