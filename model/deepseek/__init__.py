"""DeepSeek-V2 / V3 (also R1, Moonlight, Coder-V2) checkpoints in r1lsp's runtime.

  config.py   DeepseekConfig: the public config.json read and checked (V2 and V3 spellings)
  network.py  the architecture: MLA with a latent KV cache, DeepSeekMoE (shared + routed
              experts, V2 softmax / V3 sigmoid+bias group-limited routing), YaRN RoPE; the
              same forward / cache / routing interface as model.network.R1Model
  loader.py   a public-layout checkpoint folder (sharded safetensors) streamed shard by shard,
              quantized to int8 as it loads, FP8 block weights dequantized; estimates
  prompts.py  per-family prompting (FIM, instruct, stop tokens) from the checkpoint's tokenizer
"""
from model.deepseek.config import DeepseekConfig, DeepseekConfigError

__all__ = ["DeepseekConfig", "DeepseekConfigError"]
