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
from model.checkpoint import CheckpointError, LoadedCheckpoint, load_checkpoint, save_checkpoint
from model.config import PRESETS, R1Config
from model.generate import GenerationResult, decode_one, fim_prompt, generate, prefill, sample
from model.hierarchy import unit_summaries
from model.network import ModelCache, R1Loss, R1Model, R1Output, R1Routing, R1Units
from model.quantize import QuantReport, quantize_model

__all__ = [
    "CheckpointError", "LoadedCheckpoint", "load_checkpoint", "save_checkpoint",
    "PRESETS", "R1Config",
    "GenerationResult", "decode_one", "fim_prompt", "generate", "prefill", "sample",
    "unit_summaries",
    "ModelCache", "R1Loss", "R1Model", "R1Output", "R1Routing", "R1Units",
    "QuantReport", "quantize_model",
]
