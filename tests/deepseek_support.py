"""Tiny random DeepSeek-V2/V3 checkpoints built by the `transformers` reference (test-only).

`build_reference(version, folder, **overrides)` builds a seeded random model of that version,
perturbs every weight (so norms and V3's correction bias are not their neutral inits) and saves
it in the public layout (config.json + safetensors, per-expert tensor names). Returns the
reference model in eval mode. Shards when `max_shard_size` is given (e.g. "200KB").
"""
from __future__ import annotations

import pytest
import torch

transformers = pytest.importorskip("transformers")

COMMON = dict(vocab_size=300, hidden_size=64, intermediate_size=96, moe_intermediate_size=32,
              num_hidden_layers=3, num_attention_heads=4, num_key_value_heads=4, n_routed_experts=16,
              n_shared_experts=2, num_experts_per_tok=4, first_k_dense_replace=1, kv_lora_rank=16,
              qk_rope_head_dim=8, qk_nope_head_dim=16, v_head_dim=12, max_position_embeddings=512,
              bos_token_id=1, eos_token_id=2)
YARN = {"rope_type": "yarn", "rope_theta": 10000.0, "factor": 4.0, "original_max_position_embeddings": 128,
        "beta_fast": 32, "beta_slow": 1, "mscale": 0.707, "mscale_all_dim": 0.707}

#: name -> (version, overrides): the variants the parity tests cover
VARIANTS = {
    "v2-lite": ("v2", dict(q_lora_rank=None, topk_method="greedy")),
    "v2-group-yarn": ("v2", dict(q_lora_rank=None, topk_method="group_limited_greedy", n_group=4,
                                 topk_group=2, routed_scaling_factor=1.5, rope_parameters=YARN)),
    "v3-yarn": ("v3", dict(q_lora_rank=24, n_group=4, topk_group=2, routed_scaling_factor=2.5,
                           rope_parameters=dict(YARN, mscale=1.0, mscale_all_dim=1.0))),
}


def reference_classes(version: str):
    if version == "v2":
        return transformers.DeepseekV2Config, transformers.DeepseekV2ForCausalLM
    return transformers.DeepseekV3Config, transformers.DeepseekV3ForCausalLM


@torch.no_grad()
def build_reference(version: str, folder, *, seed: int = 0, max_shard_size=None, **overrides):
    config_cls, model_cls = reference_classes(version)
    torch.manual_seed(seed)
    model = model_cls(config_cls(**{**COMMON, **overrides})).eval()
    g = torch.Generator().manual_seed(seed)
    for p in model.parameters():
        if p.dim() > 1:
            p.copy_(torch.randn(p.shape, generator=g) * 0.1)
        else:
            p.copy_(0.8 + 0.4 * torch.rand(p.shape, generator=g))
    for layer in model.model.layers:
        bias = getattr(layer.mlp, "gate", None)
        bias = getattr(bias, "e_score_correction_bias", None)
        if bias is not None:
            bias.copy_(torch.randn(bias.shape, generator=g) * 0.05)
    kw = {} if max_shard_size is None else {"max_shard_size": max_shard_size}
    model.save_pretrained(str(folder), **kw)
    return model


def reference_routes(model, input_ids):
    """Run the reference; return (logits, [expert ids (B, T, k) per MoE layer])."""
    routes = []
    hooks = [layer.mlp.gate.register_forward_hook(lambda m, i, o: routes.append(o[2]))
             for layer in model.model.layers if hasattr(layer.mlp, "gate")]
    try:
        with torch.no_grad():
            logits = model(input_ids).logits
    finally:
        for h in hooks:
            h.remove()
    B, T = input_ids.shape
    return logits, [r.view(B, T, -1) for r in routes]
