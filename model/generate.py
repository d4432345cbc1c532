"""Generation: prefill, decode_one, sample, and `generate` (batched, left-padded, per-row stops).

No I/O here. Conventions:
  - Prompts are left-padded to a common length; `pad_len` (B,) tells the model which slots are
    padding (their level ids become -1 and no real token attends to them; RoPE positions start
    at 0 at each row's first real token), so a row's result does not depend on its batch mates.
  - Level ids: each prompt may carry its own (T, 3) ids; generated tokens inherit the units of
    the last prompt token (they extend its phrase, sentence and paragraph). Without ids the whole
    sequence is one unit per level.
  - Rows finish independently (eos, a stop token sequence, a stop string, max tokens); a finished
    row keeps its slot until the batch ends, its outputs ignored. The stop token / sequence /
    string is not part of the returned tokens / text.
  - `cancel` (a threading.Event or a callable returning bool) is checked before every token.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import torch

from model.network import ModelCache, R1Model


@dataclass
class GenerationResult:
    tokens: list[int]
    finish_reason: str               # "eos" | "stop" | "length" | "cancelled"
    text: str | None = None          # set when a `decode` callback was given
    logprobs: list[float] | None = None   # log p of each generated token (before any logits processor)


def fim_prompt(prefix: Sequence[int], suffix: Sequence[int], *, prefix_id: int, suffix_id: int,
               middle_id: int) -> list[int]:
    """Prefix-suffix-middle order: <PRE> prefix <SUF> suffix <MID>; the model writes the middle."""
    return [prefix_id, *prefix, suffix_id, *suffix, middle_id]


def sample(logits: torch.Tensor, temperature: float = 0.0, top_p: float = 1.0,
           generator: torch.Generator | None = None) -> torch.Tensor:
    """logits (B, V) -> token ids (B,). temperature 0 is greedy; top_p < 1 samples the nucleus."""
    if temperature <= 0:
        return logits.argmax(dim=-1)
    probs = (logits.float() / temperature).softmax(dim=-1)
    if top_p < 1.0:
        sorted_p, order = probs.sort(dim=-1, descending=True)
        drop = sorted_p.cumsum(-1) - sorted_p > top_p                            # keeps at least one
        sorted_p = sorted_p.masked_fill(drop, 0.0)
        probs = torch.zeros_like(probs).scatter_(-1, order, sorted_p)
    return torch.multinomial(probs, 1, generator=generator)[:, 0]


@torch.no_grad()
def prefill(model: R1Model, cache: ModelCache, input_ids, level_ids=None, pad_len=None) -> torch.Tensor:
    """Run the prompt (B, T) into the cache; return the last position's logits (B, V)."""
    return model(input_ids, level_ids, cache=cache, start_pos=0, pad_len=pad_len).logits[:, -1]


@torch.no_grad()
def decode_one(model: R1Model, cache: ModelCache, tokens, pos: int, level_ids=None, pad_len=None) -> torch.Tensor:
    """One new token per row (B,) at slot `pos`, level ids (B, 1, 3) -> logits (B, V)."""
    return model(tokens[:, None], level_ids, cache=cache, start_pos=pos, pad_len=pad_len).logits[:, -1]


def _cancelled(cancel) -> bool:
    if cancel is None:
        return False
    return cancel.is_set() if hasattr(cancel, "is_set") else bool(cancel())


@torch.no_grad()
def generate(model: R1Model, prompts: Sequence[Sequence[int]], *, max_new_tokens: int = 64,
             temperature: float = 0.0, top_p: float = 1.0,
             level_ids: Sequence[torch.Tensor | None] | None = None,
             eos_id: int | None = None, stop_sequences: Sequence[Sequence[int]] = (),
             stop_strings: Sequence[str] = (), decode: Callable[[list[int]], str] | None = None,
             cancel=None, seed: int | None = None) -> list[GenerationResult]:
    """Generate for a batch of token-id prompts; one GenerationResult per prompt, in order."""
    if stop_strings and decode is None:
        raise ValueError("stop_strings need a decode callback")
    if not prompts or any(len(p) == 0 for p in prompts):
        raise ValueError("every prompt needs at least one token")
    cfg, dev = model.cfg, next(model.parameters()).device
    max_new_tokens = min(max_new_tokens, cfg.max_seq_len - 1)
    keep = cfg.max_seq_len - max_new_tokens                      # longest prompt that fits
    prompts = [list(p)[-keep:] for p in prompts]
    level_ids = list(level_ids) if level_ids is not None else [None] * len(prompts)
    B, T = len(prompts), max(len(p) for p in prompts)

    ids = torch.zeros(B, T, dtype=torch.long, device=dev)
    lvl = torch.full((B, T, 3), -1, dtype=torch.long, device=dev)
    pad_len = torch.tensor([T - len(p) for p in prompts], device=dev)
    for b, p in enumerate(prompts):
        ids[b, T - len(p):] = torch.tensor(p, device=dev)
        row = level_ids[b]
        lvl[b, T - len(p):] = 0 if row is None else torch.as_tensor(row, device=dev)[-len(p):]
    new_lvl = lvl[:, -1:].clone()                                # (B, 1, 3) inherited units

    generator = torch.Generator(device=dev).manual_seed(seed) if seed is not None else None
    cache = model.new_cache(B, T + max_new_tokens)
    logits = prefill(model, cache, ids, lvl, pad_len)
    out: list[list[int]] = [[] for _ in range(B)]
    reasons: list[str | None] = [None] * B
    texts: list[str | None] = [None] * B
    for step in range(max_new_tokens):
        if _cancelled(cancel):
            reasons = [r or "cancelled" for r in reasons]
            break
        tok = sample(logits, temperature, top_p, generator)       # (B,)
        for b, t in enumerate(tok.tolist()):
            if reasons[b] is None:
                reasons[b], texts[b] = _step_row(out[b], t, eos_id, stop_sequences, stop_strings, decode)
        if all(r is not None for r in reasons) or step == max_new_tokens - 1:
            break
        logits = decode_one(model, cache, tok, T + step, new_lvl, pad_len)
    results = []
    for b in range(B):
        text = texts[b] if texts[b] is not None else (decode(out[b]) if decode else None)
        results.append(GenerationResult(out[b], reasons[b] or "length", text))
    return results


def _step_row(tokens: list[int], t: int, eos_id, stop_sequences, stop_strings, decode):
    """Append t to a row; return (finish reason or None, truncated text or None)."""
    if eos_id is not None and t == eos_id:
        return "eos", None
    tokens.append(t)
    for seq in stop_sequences:
        if seq and tokens[-len(seq):] == list(seq):
            del tokens[-len(seq):]
            return "stop", None
    if stop_strings:
        text = decode(tokens)
        hits = [i for i in (text.find(s) for s in stop_strings) if i >= 0]
        if hits:
            return "stop", text[:min(hits)]
    return None, None
