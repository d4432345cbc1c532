"""DeepseekConfig: the public `config.json` of a DeepSeek-V2/V3-family checkpoint, checked.

Both spellings are read: the released files (`rope_theta` + `rope_scaling` with `type`) and the
`transformers` 5 layout (`rope_parameters` with `rope_type`). Defaults follow the releases:
  deepseek_v2  softmax scores, top-k "greedy" or "group_limited_greedy" (best expert per group)
  deepseek_v3  sigmoid scores + `e_score_correction_bias` for the choice, "noaux_tc" group
               limit (sum of the best two per group), weights renormalised if norm_topk_prob
Fields the runtime cannot honour raise DeepseekConfigError naming the field, before any
weight is read. The attributes R1's engine reads (n_layers, n_experts, n_active, vocab_size,
max_seq_len, d_model) are properties, so the engine serves either family unchanged.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from model.jsonfile import read_json_object

SUPPORTED_TYPES = ("deepseek_v2", "deepseek_v3")


class DeepseekConfigError(ValueError):
    pass


@dataclass
class DeepseekConfig:
    model_type: str = "deepseek_v3"
    vocab_size: int = 129280
    hidden_size: int = 7168
    intermediate_size: int = 18432          # dense MLP of the first k layers
    moe_intermediate_size: int = 2048       # one routed (or shared) expert
    num_hidden_layers: int = 61
    num_attention_heads: int = 128
    n_routed_experts: int = 256
    n_shared_experts: int = 1
    num_experts_per_tok: int = 8
    first_k_dense_replace: int = 3
    kv_lora_rank: int = 512
    q_lora_rank: int | None = 1536          # None: one q_proj (V2-Lite)
    qk_rope_head_dim: int = 64
    qk_nope_head_dim: int = 128
    v_head_dim: int = 128
    rms_norm_eps: float = 1e-6
    rope_theta: float = 10000.0
    rope_scaling: dict | None = None        # {"type": "yarn", "factor", "original_max_position_embeddings", ...}
    rope_interleave: bool = True            # rotary dims in (x0, x1) pairs, as the releases store them
    max_position_embeddings: int = 4096
    scoring_func: str = "sigmoid"           # "softmax" (V2) | "sigmoid" (V3)
    topk_method: str = "noaux_tc"           # "greedy" | "group_limited_greedy" | "noaux_tc"
    n_group: int = 1
    topk_group: int = 1
    norm_topk_prob: bool = True
    routed_scaling_factor: float = 1.0
    attention_bias: bool = False
    tie_word_embeddings: bool = False
    bos_token_id: int | None = None
    eos_token_id: list[int] = field(default_factory=list)
    num_nextn_predict_layers: int = 0       # multi-token-prediction layers stored after the last layer (unused)
    fp8_block: tuple[int, int] | None = None  # quantization_config.weight_block_size of FP8 releases
    context_limit: int = 4096               # longest prompt + generation r1lsp runs (cache size)

    # -- the names R1's engine and tools read ------------------------------------------------
    @property
    def n_layers(self) -> int:
        return self.num_hidden_layers

    @property
    def n_moe_layers(self) -> int:
        return self.num_hidden_layers - self.first_k_dense_replace

    @property
    def n_experts(self) -> int:
        return self.n_routed_experts

    @property
    def n_active(self) -> int:
        return self.num_experts_per_tok

    @property
    def d_model(self) -> int:
        return self.hidden_size

    @property
    def max_seq_len(self) -> int:
        return min(self.max_position_embeddings, self.context_limit)

    @property
    def qk_head_dim(self) -> int:
        return self.qk_nope_head_dim + self.qk_rope_head_dim

    # -- derived numbers ----------------------------------------------------------------------
    def yarn(self) -> dict | None:
        """The YaRN parameters, or None for plain RoPE."""
        rs = self.rope_scaling
        if not rs or rs.get("type", rs.get("rope_type", "default")) in ("default", None):
            return None
        return rs

    def softmax_scale(self) -> float:
        scale = self.qk_head_dim ** -0.5
        rs = self.yarn()
        if rs is not None and rs.get("mscale_all_dim"):
            m = yarn_mscale(float(rs["factor"]), float(rs["mscale_all_dim"]))
            scale *= m * m
        return scale

    def param_counts(self) -> dict:
        """Parameter counts by kind (from `tensor_shapes`): total, routed experts, active per
        token (all but the routed experts a token does not use), embeddings."""
        shapes, _ = tensor_shapes(self)
        sizes = {name: math.prod(shape) for name, shape in shapes.items()}
        total = sum(sizes.values())
        routed = sum(n for name, n in sizes.items() if ".mlp.experts." in name)
        per_expert = 3 * self.hidden_size * self.moe_intermediate_size
        active = total - routed + self.n_moe_layers * self.num_experts_per_tok * per_expert
        embed = sum(sizes.get(k, 0) for k in ("model.embed_tokens.weight", "lm_head.weight"))
        return {"total": total, "routed_experts": routed, "active": active, "embeddings": embed}

    def kv_cache_bytes_per_token(self, bytes_per_value: int = 2) -> int:
        """The latent cache: kv_lora_rank + rope dims per layer (MLA), not 2 * heads * head_dim."""
        return self.num_hidden_layers * (self.kv_lora_rank + self.qk_rope_head_dim) * bytes_per_value

    # -- reading ------------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, raw: dict, *, context_limit: int = 4096) -> "DeepseekConfig":
        def need(key):
            if raw.get(key) is None:
                raise DeepseekConfigError(f"config.json lacks {key!r}")
            return raw[key]

        mt = raw.get("model_type")
        if mt not in SUPPORTED_TYPES:
            raise DeepseekConfigError(f"model_type {mt!r} is not a DeepSeek-V2/V3 model "
                                      f"(supported: {', '.join(SUPPORTED_TYPES)})")
        v3 = mt == "deepseek_v3"
        act = raw.get("hidden_act", "silu")
        if act != "silu":
            raise DeepseekConfigError(f"hidden_act {act!r} is not supported (only 'silu')")
        if raw.get("moe_layer_freq", 1) != 1:
            raise DeepseekConfigError(f"moe_layer_freq {raw['moe_layer_freq']} is not supported (only 1)")

        rope_theta = raw.get("rope_theta")
        scaling = raw.get("rope_scaling")
        params = raw.get("rope_parameters")
        if isinstance(params, dict):                                   # transformers 5 layout
            rope_theta = params.get("rope_theta", rope_theta)
            if params.get("rope_type", "default") != "default":
                scaling = dict(params)
        if scaling is not None:
            kind = scaling.get("type", scaling.get("rope_type"))
            if kind not in ("yarn", "default"):
                raise DeepseekConfigError(f"rope scaling {kind!r} is not supported (only 'yarn')")
            if kind == "yarn":
                for key in ("factor", "original_max_position_embeddings"):
                    if scaling.get(key) is None:
                        raise DeepseekConfigError(f"rope_scaling (yarn) lacks {key!r}")
                scaling = {**scaling, "type": "yarn"}
            else:
                scaling = None

        scoring = raw.get("scoring_func", "sigmoid" if v3 else "softmax")
        method = raw.get("topk_method", "noaux_tc" if v3 else "greedy")
        if scoring not in ("softmax", "sigmoid"):
            raise DeepseekConfigError(f"scoring_func {scoring!r} is not supported")
        if method not in ("greedy", "group_limited_greedy", "noaux_tc"):
            raise DeepseekConfigError(f"topk_method {method!r} is not supported")

        eos = raw.get("eos_token_id")
        eos = [] if eos is None else ([int(eos)] if isinstance(eos, int) else [int(e) for e in eos])
        fp8_block = None
        qc = raw.get("quantization_config")
        if isinstance(qc, dict):
            if qc.get("quant_method") != "fp8":
                raise DeepseekConfigError(f"quantization_config {qc.get('quant_method')!r} is not supported "
                                          "(only the block-wise 'fp8' of the V3/R1 releases)")
            fp8_block = tuple(qc.get("weight_block_size") or (128, 128))

        n_routed = raw.get("n_routed_experts")
        cfg = cls(
            model_type=mt,
            vocab_size=int(need("vocab_size")),
            hidden_size=int(need("hidden_size")),
            intermediate_size=int(need("intermediate_size")),
            moe_intermediate_size=int(raw.get("moe_intermediate_size") or need("intermediate_size")),
            num_hidden_layers=int(need("num_hidden_layers")),
            num_attention_heads=int(need("num_attention_heads")),
            n_routed_experts=int(n_routed or 0),
            n_shared_experts=int(raw.get("n_shared_experts") or 0),
            num_experts_per_tok=int(raw.get("num_experts_per_tok") or 0),
            first_k_dense_replace=int(raw.get("first_k_dense_replace") or 0) if n_routed else int(need("num_hidden_layers")),
            kv_lora_rank=int(need("kv_lora_rank")),
            q_lora_rank=None if raw.get("q_lora_rank") is None else int(raw["q_lora_rank"]),
            qk_rope_head_dim=int(need("qk_rope_head_dim")),
            qk_nope_head_dim=int(need("qk_nope_head_dim")),
            v_head_dim=int(need("v_head_dim")),
            rms_norm_eps=float(raw.get("rms_norm_eps", 1e-6)),
            rope_theta=float(rope_theta if rope_theta is not None else 10000.0),
            rope_scaling=scaling,
            rope_interleave=bool(raw.get("rope_interleave", True)),
            max_position_embeddings=int(raw.get("max_position_embeddings", 4096)),
            scoring_func=scoring,
            topk_method=method,
            n_group=int(raw.get("n_group") or 1),
            topk_group=int(raw.get("topk_group") or 1),
            norm_topk_prob=bool(raw.get("norm_topk_prob", v3)),
            routed_scaling_factor=float(raw.get("routed_scaling_factor", 1.0)),
            attention_bias=bool(raw.get("attention_bias", False)),
            tie_word_embeddings=bool(raw.get("tie_word_embeddings", False)),
            bos_token_id=raw.get("bos_token_id"),
            eos_token_id=eos,
            num_nextn_predict_layers=int(raw.get("num_nextn_predict_layers") or 0),
            fp8_block=fp8_block,
            context_limit=context_limit,
        )
        cfg.check()
        return cfg

    @classmethod
    def from_folder(cls, folder, **kw) -> "DeepseekConfig":
        path = Path(folder) / "config.json"
        raw = read_json_object(path, DeepseekConfigError)
        try:
            return cls.from_dict(raw, **kw)
        except (TypeError, ValueError) as e:
            raise DeepseekConfigError(f"{path}: {e}") from e

    def check(self) -> None:
        problems = []
        if self.n_routed_experts:
            if not 0 < self.num_experts_per_tok <= self.n_routed_experts:
                problems.append(f"num_experts_per_tok {self.num_experts_per_tok} not in 1..{self.n_routed_experts}")
            if self.n_routed_experts % self.n_group:
                problems.append(f"n_routed_experts {self.n_routed_experts} not divisible by n_group {self.n_group}")
            if not 0 < self.topk_group <= self.n_group:
                problems.append(f"topk_group {self.topk_group} not in 1..{self.n_group}")
            if self.topk_method != "greedy" and self.topk_group * (self.n_routed_experts // self.n_group) < self.num_experts_per_tok:
                problems.append("the chosen groups hold fewer experts than num_experts_per_tok")
        if self.qk_rope_head_dim % 2:
            problems.append(f"qk_rope_head_dim {self.qk_rope_head_dim} is odd")
        if not 0 <= self.first_k_dense_replace <= self.num_hidden_layers:
            problems.append(f"first_k_dense_replace {self.first_k_dense_replace} out of range")
        for name in ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "kv_lora_rank"):
            if getattr(self, name) <= 0:
                problems.append(f"{name} must be positive")
        if problems:
            raise DeepseekConfigError("; ".join(problems))


def yarn_mscale(scale: float, mscale: float = 1.0) -> float:
    return 1.0 if scale <= 1 else 0.1 * mscale * math.log(scale) + 1.0


def tensor_shapes(cfg: DeepseekConfig) -> tuple[dict[str, tuple[int, ...]], set[str]]:
    """Every checkpoint tensor the network needs -> its shape; and the names of the Linear
    weights the int8 path converts (all Linears but kv_b_proj; lm_head unless tied)."""
    shapes: dict[str, tuple[int, ...]] = {}
    quantized: set[str] = set()
    d, H, V = cfg.hidden_size, cfg.num_attention_heads, cfg.vocab_size

    def lin(name, n_out, n_in, bias=False, quantize=True):
        shapes[name + ".weight"] = (n_out, n_in)
        if bias:
            shapes[name + ".bias"] = (n_out,)
        if quantize:
            quantized.add(name + ".weight")

    def mlp(prefix, hidden):
        lin(prefix + ".gate_proj", hidden, d)
        lin(prefix + ".up_proj", hidden, d)
        lin(prefix + ".down_proj", d, hidden)

    shapes["model.embed_tokens.weight"] = (V, d)
    ab = cfg.attention_bias
    for i in range(cfg.num_hidden_layers):
        p = f"model.layers.{i}."
        shapes[p + "input_layernorm.weight"] = (d,)
        shapes[p + "post_attention_layernorm.weight"] = (d,)
        a = p + "self_attn."
        if cfg.q_lora_rank is None:
            lin(a + "q_proj", H * cfg.qk_head_dim, d)
        else:
            lin(a + "q_a_proj", cfg.q_lora_rank, d, bias=ab)
            shapes[a + "q_a_layernorm.weight"] = (cfg.q_lora_rank,)
            lin(a + "q_b_proj", H * cfg.qk_head_dim, cfg.q_lora_rank)
        lin(a + "kv_a_proj_with_mqa", cfg.kv_lora_rank + cfg.qk_rope_head_dim, d, bias=ab)
        shapes[a + "kv_a_layernorm.weight"] = (cfg.kv_lora_rank,)
        lin(a + "kv_b_proj", H * (cfg.qk_nope_head_dim + cfg.v_head_dim), cfg.kv_lora_rank, quantize=False)
        lin(a + "o_proj", d, H * cfg.v_head_dim, bias=ab)
        if i < cfg.first_k_dense_replace:
            mlp(p + "mlp", cfg.intermediate_size)
            continue
        shapes[p + "mlp.gate.weight"] = (cfg.n_routed_experts, d)
        if cfg.model_type == "deepseek_v3":
            shapes[p + "mlp.gate.e_score_correction_bias"] = (cfg.n_routed_experts,)
        for e in range(cfg.n_routed_experts):
            mlp(p + f"mlp.experts.{e}", cfg.moe_intermediate_size)
        if cfg.n_shared_experts:
            mlp(p + "mlp.shared_experts", cfg.moe_intermediate_size * cfg.n_shared_experts)
    shapes["model.norm.weight"] = (d,)
    if not cfg.tie_word_embeddings:
        lin("lm_head", V, d)
    return shapes, quantized


def is_deepseek_folder(path) -> bool:
    """A folder whose config.json names a DeepSeek-V2/V3 model_type (the loader checks the rest)."""
    try:
        raw = json.loads((Path(path) / "config.json").read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False
    return isinstance(raw, dict) and raw.get("model_type") in SUPPORTED_TYPES
