"""Tiny random DeepSeek-V2/V3 checkpoints built by the `transformers` reference (test-only).

`build_reference(version, folder, **overrides)` builds a seeded random model of that version,
perturbs every weight (matrices ~ N(0, weight_std); norms and V3's correction bias are not their neutral inits) and saves
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
def build_reference(version: str, folder, *, seed: int = 0, max_shard_size=None, weight_std: float = 0.1,
                    **overrides):
    config_cls, model_cls = reference_classes(version)
    torch.manual_seed(seed)
    model = model_cls(config_cls(**{**COMMON, **overrides})).eval()
    g = torch.Generator().manual_seed(seed)
    for p in model.parameters():
        if p.dim() > 1:
            p.copy_(torch.randn(p.shape, generator=g) * weight_std)
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


# -- a tokenizer in the public DeepSeek format ------------------------------------------------

BOS, EOS = "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>"
FIM = ("<｜fim▁begin｜>", "<｜fim▁hole｜>", "<｜fim▁end｜>")
USER, ASSISTANT = "<｜User｜>", "<｜Assistant｜>"
#: chat templates shaped like the releases' (V3/R1: role tokens; V2-Chat: plain "User:"/"Assistant:")
TEMPLATES = {
    "v3": ("{% if not add_generation_prompt is defined %}{% set add_generation_prompt = false %}{% endif %}"
           "{{ bos_token }}{% for message in messages %}{% if message['role'] == 'user' %}"
           "{{ '<｜User｜>' + message['content'] }}{% elif message['role'] == 'assistant' %}"
           "{{ '<｜Assistant｜>' + message['content'] + '<｜end▁of▁sentence｜>' }}{% endif %}{% endfor %}"
           "{% if add_generation_prompt %}{{ '<｜Assistant｜>' }}{% endif %}"),
    "v2": ("{{ bos_token }}{% for message in messages %}{% if message['role'] == 'user' %}"
           "{{ 'User: ' + message['content'] + '\n\n' }}{% elif message['role'] == 'assistant' %}"
           "{{ 'Assistant: ' + message['content'] + eos_token }}{% endif %}{% endfor %}"
           "{% if add_generation_prompt %}{{ 'Assistant:' }}{% endif %}"),
}


def write_tokenizer(folder, *, vocab_size: int = 300, template: str | None = "v3", fim: bool = True):
    """A byte-level BPE trained on the repo's samples with DeepSeek's special tokens (ids:
    bos 0, eos 1, then FIM begin/hole/end, User, Assistant), plus tokenizer_config.json with
    a chat template. Pair it with build_reference(..., bos_token_id=0, eos_token_id=1)."""
    import json
    from pathlib import Path

    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    specials = [BOS, EOS, *(FIM if fim else ()), USER, ASSISTANT]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=specials, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    samples = Path(__file__).resolve().parent.parent / "samples"
    tok.train_from_iterator([p.read_text() for p in sorted(samples.iterdir()) if p.is_file()], trainer=trainer)
    tok.save(str(folder / "tokenizer.json"))
    cfg = {"add_bos_token": True, "bos_token": {"content": BOS}, "eos_token": {"content": EOS},
           "tokenizer_class": "LlamaTokenizerFast"}
    if template:
        cfg["chat_template"] = TEMPLATES[template]
    (folder / "tokenizer_config.json").write_text(json.dumps(cfg))
    return tok


def build_checkpoint_folder(folder, version: str = "v3", *, template: str | None = "v3", fim: bool = True,
                            **overrides):
    """A complete public-layout folder: reference weights (vocab = the tokenizer's), config with
    bos 0 / eos 1, tokenizer.json and tokenizer_config.json. Returns the reference model."""
    tok = write_tokenizer(folder, template=template, fim=fim)
    _, variant = VARIANTS["v3-yarn" if version == "v3" else "v2-lite"]
    params = {**variant, "vocab_size": tok.get_vocab_size(), "bos_token_id": 0, "eos_token_id": 1, **overrides}
    return build_reference(version, folder, **params)
