"""The R1 model: a Mixture-of-Experts transformer with dynamic sparse attention and a
hierarchical (phrase / sentence / paragraph) encoder. Modules, read top-down:

  config.py      R1Config (presets "r1-tiny", "r1-base"; JSON beside each checkpoint)
  attention.py   RoPE, KVCache, the indexer and SparseAttention
  experts.py     Gate, Expert, MoE (sparse dispatch, load balancing)
  hierarchy.py   causal unit pooling, Hierarchy, unit_summaries
  network.py     Block, R1Model, R1Output, ModelCache
  generate.py    sample, prefill, decode_one, generate, fim_prompt
  quantize.py    quantize_model -> QuantReport (bitsandbytes on CUDA, int8 _int_mm on CPU)
  checkpoint.py  save_checkpoint, load_checkpoint -> LoadedCheckpoint, CheckpointError

Forward API (what the engine calls):
  R1Model(cfg).forward(input_ids (B, T) long,
                       level_ids (B, T, 3) long | None = None,   # phrase/sentence/paragraph ordinals
                       cache: ModelCache | None = None,          # model.new_cache(B, max_len)
                       start_pos: int = 0,                       # slot of input_ids[:, 0] in the cache
                       pad_len (B,) long | None = None,          # left padding per row
                       return_routing=False, return_units=False) -> R1Output
  R1Output(logits (B, T, V), aux_loss, gate_loss,
           routing: R1Routing(experts (L, B, T, k), weights (L, B, T, k)) | None,
           units: R1Units(phrase, sentence, paragraph: (B, T, d_l)) | None)
  R1Model.loss(input_ids, targets, level_ids=None) -> R1Loss(total, lm, aux, gate)
level_ids None means one unit per level for the whole sequence; padding slots get id -1.
gate_loss is computed in training mode (grad enabled); it is 0 in eval mode and for decode steps.
"""
import importlib

# name -> module; imported on first use so that ``model.structure`` and ``model.tokenizer``
# (used by the server before it loads a model) do not pull in torch. The function
# ``generate`` is not listed: the submodule of that name shadows it, import it from there.
_EXPORTS = {
    "CheckpointError": "checkpoint", "LoadedCheckpoint": "checkpoint",
    "load_checkpoint": "checkpoint", "save_checkpoint": "checkpoint",
    "PRESETS": "config", "R1Config": "config",
    "GenerationResult": "generate", "decode_one": "generate", "fim_prompt": "generate",
    "prefill": "generate", "sample": "generate",
    "unit_summaries": "hierarchy",
    "ModelCache": "network", "R1Loss": "network", "R1Model": "network", "R1Output": "network",
    "R1Routing": "network", "R1Units": "network",
    "QuantReport": "quantize", "quantize_model": "quantize",
}
__all__ = list(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'model' has no attribute {name!r}")
    return getattr(importlib.import_module(f"model.{_EXPORTS[name]}"), name)
