"""The DeepSeek-V2/V3 network against the `transformers` reference (fp32, tiny random models).

Tolerances: logits within 1e-4 absolute (observed ~2e-6 on logits of magnitude ~3.5); routed
expert ids per token equal as sets (both pick top-k unsorted).
"""
from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

from model.deepseek.config import DeepseekConfig, DeepseekConfigError
from model.deepseek.network import DeepseekForCausalLM, rope_inv_freq
from model.generate import generate
from deepseek_support import VARIANTS, build_reference, reference_routes

ATOL = 1e-4


def ours_from(folder) -> DeepseekForCausalLM:
    cfg = DeepseekConfig.from_folder(folder)
    model = DeepseekForCausalLM(cfg)
    model.load_state_dict(load_file(str(folder / "model.safetensors")), strict=True)
    return model.eval()


@pytest.fixture(scope="module", params=sorted(VARIANTS))
def pair(request, tmp_path_factory):
    version, overrides = VARIANTS[request.param]
    folder = tmp_path_factory.mktemp(request.param)
    ref = build_reference(version, folder, **overrides)
    return request.param, ref, ours_from(folder)


def test_logits_and_routing_match_reference(pair, one_thread):
    name, ref, ours = pair
    ids = torch.randint(0, 300, (2, 33), generator=torch.Generator().manual_seed(1))
    ref_logits, ref_routes = reference_routes(ref, ids)
    with torch.no_grad():
        out = ours(ids, return_routing=True)
    assert (out.logits - ref_logits).abs().max() < ATOL, name
    assert out.routing.experts.shape == (len(ref_routes), 2, 33, ours.cfg.num_experts_per_tok)
    for layer, (got, want) in enumerate(zip(out.routing.experts, ref_routes)):
        assert torch.equal(got.sort(-1).values, want.sort(-1).values), f"{name} layer {layer}"


def test_cached_decode_matches_reference(pair, one_thread):
    name, ref, ours = pair
    ids = torch.randint(0, 300, (2, 24), generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        r = ref(ids[:, :16], use_cache=True)
        past = r.past_key_values
        cache = ours.new_cache(2, 32)
        ours(ids[:, :16], cache=cache)
        for t in range(16, 24):
            r = ref(ids[:, t:t + 1], past_key_values=past, use_cache=True)
            past = r.past_key_values
            o = ours(ids[:, t:t + 1], cache=cache, start_pos=t)
            assert (o.logits - r.logits).abs().max() < ATOL, f"{name} step {t}"


def test_absorbed_decode_equals_expanded(pair, one_thread):
    _, _, ours = pair
    ids = torch.randint(0, 300, (1, 20), generator=torch.Generator().manual_seed(3))
    steps = []
    for absorb in (True, False):
        for layer in ours.model.layers:
            layer.self_attn.absorb_decode = absorb
        cache = ours.new_cache(1, 20)
        with torch.no_grad():
            ours(ids[:, :12], cache=cache)
            steps.append(torch.cat([ours(ids[:, t:t + 1], cache=cache, start_pos=t).logits for t in range(12, 20)], 1))
    for layer in ours.model.layers:
        layer.self_attn.absorb_decode = True
    assert (steps[0] - steps[1]).abs().max() < 1e-5


def test_latent_cache_holds_rank_plus_rope_per_layer(pair):
    _, _, ours = pair
    cfg = ours.cfg
    cache = ours.new_cache(1, 10)
    with torch.no_grad():
        ours(torch.zeros(1, 10, dtype=torch.long), cache=cache)
    assert cache.nbytes() == 10 * cfg.kv_cache_bytes_per_token(bytes_per_value=4)
    per_head_kv = 2 * cfg.num_attention_heads * (cfg.qk_head_dim + cfg.v_head_dim) // 2
    assert cfg.kv_lora_rank + cfg.qk_rope_head_dim < per_head_kv


def test_left_padded_rows_equal_rows_alone(pair, one_thread):
    _, _, ours = pair
    g = torch.Generator().manual_seed(4)
    short, long_ = torch.randint(3, 300, (1, 9), generator=g), torch.randint(3, 300, (1, 15), generator=g)
    batch = torch.zeros(2, 15, dtype=torch.long)
    batch[0, 6:], batch[1] = short[0], long_[0]
    pad_len = torch.tensor([6, 0])
    with torch.no_grad():
        together = ours(batch, pad_len=pad_len).logits
        alone_short, alone_long = ours(short).logits, ours(long_).logits
    assert (together[0, 6:] - alone_short[0]).abs().max() < ATOL
    assert (together[1] - alone_long[0]).abs().max() < ATOL


def test_greedy_generation_matches_reference_generate(pair, one_thread):
    name, ref, ours = pair
    prompt = torch.randint(3, 300, (1, 12), generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        want = ref.generate(prompt, max_new_tokens=10, do_sample=False, eos_token_id=None,
                            pad_token_id=0)[0, 12:].tolist()
    got = generate(ours, [prompt[0].tolist()], max_new_tokens=10)[0].tokens
    assert got == want, name


def test_released_config_spelling_reads_like_transformers_layout():
    released = {"model_type": "deepseek_v3", "vocab_size": 100, "hidden_size": 32, "intermediate_size": 64,
                "moe_intermediate_size": 16, "num_hidden_layers": 2, "num_attention_heads": 2,
                "n_routed_experts": 8, "n_shared_experts": 1, "num_experts_per_tok": 2,
                "first_k_dense_replace": 1, "kv_lora_rank": 8, "q_lora_rank": None, "qk_rope_head_dim": 8,
                "qk_nope_head_dim": 8, "v_head_dim": 8, "n_group": 2, "topk_group": 1,
                "rope_theta": 10000, "max_position_embeddings": 1024,
                "rope_scaling": {"type": "yarn", "factor": 8, "original_max_position_embeddings": 128,
                                 "beta_fast": 32, "beta_slow": 1, "mscale": 1.0, "mscale_all_dim": 1.0}}
    hf_style = dict(released, rope_scaling=None,
                    rope_parameters={"rope_type": "yarn", "rope_theta": 10000, "factor": 8,
                                     "original_max_position_embeddings": 128, "beta_fast": 32,
                                     "beta_slow": 1, "mscale": 1.0, "mscale_all_dim": 1.0})
    a, b = DeepseekConfig.from_dict(released), DeepseekConfig.from_dict(hf_style)
    assert torch.equal(rope_inv_freq(a)[0], rope_inv_freq(b)[0])
    assert a.softmax_scale() == b.softmax_scale() > (a.qk_head_dim ** -0.5)       # YaRN mscale^2
    assert (a.scoring_func, a.topk_method, a.norm_topk_prob) == ("sigmoid", "noaux_tc", True)


@pytest.mark.parametrize("change, words", [
    ({"model_type": "llama"}, "not a DeepSeek"),
    ({"hidden_act": "gelu"}, "hidden_act"),
    ({"num_experts_per_tok": 99}, "num_experts_per_tok"),
    ({"n_group": 3}, "divisible"),
    ({"rope_scaling": {"type": "longrope", "factor": 2}}, "longrope"),
    ({"quantization_config": {"quant_method": "gptq"}}, "gptq"),
    ({"kv_lora_rank": None}, "kv_lora_rank"),
])
def test_configs_it_cannot_run_are_refused_by_name(tmp_path, change, words):
    raw = {"model_type": "deepseek_v2", "vocab_size": 100, "hidden_size": 32, "intermediate_size": 64,
           "moe_intermediate_size": 16, "num_hidden_layers": 2, "num_attention_heads": 2,
           "n_routed_experts": 8, "n_shared_experts": 1, "num_experts_per_tok": 2, "kv_lora_rank": 8,
           "qk_rope_head_dim": 8, "qk_nope_head_dim": 8, "v_head_dim": 8}
    (tmp_path / "config.json").write_text(json.dumps({**raw, **change}))
    with pytest.raises(DeepseekConfigError, match=words):
        DeepseekConfig.from_folder(tmp_path)
