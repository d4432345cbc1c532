"""Keys and values cached in bfloat16 (`R1Model.kv_dtype`, the engine's default: half the bytes a
decode step reads from each row's cache) against float32 caches, on the shipped r1-tiny as the
engine runs it (int8, decode kernel int8pack): the same greedy tokens on real code, and the
held-out loss teacher-forced through the cached decode path within 0.5 % of the float32 cache's.
(float32 caches stay exact: tests/test_model_network.py and test_block_sparse_attention.py
compare cached decoding with the full forward at 1e-5.)"""
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from model.checkpoint import load_checkpoint
from model.generate import decode_rows, generate, prefill_row

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "model" / "checkpoints" / "r1-tiny"
FILES = sorted((ROOT / "tests" / "fixtures" / "heldout").glob("*.*[ya]")) + sorted((ROOT / "samples").iterdir())
PROMPT = 384              # tokens prefilled: past the block-sparse threshold (uses_blocks), so every
STEPS = 64                # teacher-forced step runs the compiled block-sparse decode of the engine


@pytest.fixture(scope="module")
def shipped():
    from model.quantize import quantize_model, set_kernels
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    loaded = load_checkpoint(SHIPPED)
    model = loaded.model.float().eval()
    quantize_model(model, "cpu")
    set_kernels(model, "int8pack", "w8a8")              # what select_kernels picks here (r1lsp doctor)
    yield model, loaded.tokenizer
    torch.set_num_threads(n)


def _texts(tok) -> list[tuple[np.ndarray, np.ndarray]]:
    """(ids, levels) of each real file, at least PROMPT + STEPS + 1 tokens."""
    from model.data import SampleBuilder
    b = SampleBuilder(tok, fim_rate=0.0)
    out = []
    for p in FILES:
        lang = {".py": "python", ".java": "java"}[p.suffix]
        text = p.read_text("utf-8")
        if lang == "java" and "package " in text:                      # past the licence header
            text = text[text.index("package "):]
        s = b.build(text, lang, np.random.default_rng(0), force_fim=False)
        if len(s.ids) > PROMPT + STEPS:
            out.append((np.asarray(s.ids, dtype=np.int64), np.asarray(s.levels, dtype=np.int64)))
    return out


@torch.no_grad()
def _cached_loss(model, texts) -> float:
    """Mean next-token cross entropy of tokens PROMPT+1 .. PROMPT+STEPS of every text, each predicted
    by the cached decode path: the prompt prefilled, then one `decode_rows` step per true token
    (all texts as the rows of one batch, each on its own cache)."""
    states, logits = [], []
    for ids, lev in texts:
        st, lg, _ = prefill_row(model, ids[:PROMPT].tolist(), torch.from_numpy(lev[:PROMPT]))
        states.append(st)
        logits.append(lg)
    losses = []
    for j in range(PROMPT, PROMPT + STEPS):
        target = torch.tensor([int(ids[j]) for ids, _ in texts])
        losses.append(F.cross_entropy(torch.stack(logits).float(), target, reduction="none"))
        lev = torch.stack([torch.from_numpy(lv[j:j + 1]) for _, lv in texts])     # (B, 1, 3)
        logits = list(decode_rows(model, [s.cache for s in states], target, [j] * len(texts), lev))
    return float(torch.cat(losses).mean())


def _with_kv(model, dtype, fn):
    old = model.kv_dtype
    model.kv_dtype = dtype
    try:
        return fn()
    finally:
        model.kv_dtype = old


def test_bf16_keys_and_values_give_the_float32_caches_greedy_tokens(shipped):
    model, tok = shipped
    texts = _texts(tok)
    assert len(texts) >= 4
    prompts = [ids[:PROMPT + 32 * i].tolist() for i, (ids, _) in enumerate(texts)]   # ends mid-file
    levels = [torch.from_numpy(lev[:len(p)]) for p, (_, lev) in zip(prompts, texts)]

    def run():
        return [r.tokens for r in generate(model, prompts, level_ids=levels, max_new_tokens=16)]

    want = _with_kv(model, None, run)
    got = _with_kv(model, torch.bfloat16, run)
    assert got == want
    cache = _with_kv(model, torch.bfloat16, lambda: model.new_cache(1))
    cache.layers[0].update(0, torch.zeros(1, 1, 4, 64), torch.zeros(1, 1, 4, 64), torch.zeros(1, 1, 32))
    assert [b.dtype for b in cache.layers[0].buffers] == [torch.bfloat16, torch.bfloat16, torch.float32]


def test_bf16_keys_and_values_keep_the_held_out_loss_within_half_a_percent(shipped):
    model, tok = shipped
    texts = _texts(tok)
    f32 = _with_kv(model, None, lambda: _cached_loss(model, texts))
    bf16 = _with_kv(model, torch.bfloat16, lambda: _cached_loss(model, texts))
    assert 1.0 < f32 < 6.0                                       # a trained model on real code (ln V = 9.0)
    assert abs(bf16 - f32) <= 0.005 * f32, (bf16, f32)
