"""Generation: the one loop that the engine, completion, ghost text, the translation fallback and
the benchmarks call (`generate`), per-document prefix caches (`PrefixCache`, with the prefills
on them in model.prefix, re-exported here), and one-pass candidate scoring (`score_candidates`).
No I/O here.

Conventions:
  - Every prompt is prefilled on its own, batch 1, into a static (preallocated) cache of
    `max_seq_len` slots (`prefill_row`). With a `PrefixCache` and a key, the cache of the
    previous prompt under that key is reused for the longest common prefix of (token id, level
    ids): only the tokens from the first difference on are computed (typing appends, so an
    edit invalidates the cache from its first changed token on, nothing before it).
  - A batch of several prompts is then decoded together, each row on its OWN batch-1 cache
    (`decode_rows`: the token-wise work -- projections, experts, head -- runs on all rows at once,
    attention and the hierarchy per row at its own slot), so no cache is copied into a batch
    cache and a row's result is exactly what it gets alone. When rows have prefix states short
    of a few tokens (clients who typed), those tails run together on the rows' own caches, every
    tail token a row of one such forward (`prefill_tails`). The DeepSeek network keeps the previous way: the rows' caches
    copied into one left-padded batch cache (`stack_left_padded`; `pad_len` (B,) tells the model
    which slots are padding, RoPE positions start at 0 at each row's first real token).
  - Level ids: each prompt may carry its own (T, 3) ids; generated tokens inherit the units of
    the last prompt token (they extend its phrase, sentence and paragraph). Without ids the whole
    sequence is one unit per level.
  - Rows finish independently (eos, a stop token sequence, a stop string, a stop function, their
    own max tokens, their own cancel flag); a finished row leaves the batch at once (in a stacked
    cache once finished rows are half of it: each leave copies the caches). The stop token /
    sequence / string is not part of the returned tokens / text.
  - `logits_processor(generated_ids, logits)` edits one row's next-token logits (V,) given the
    token ids that row generated so far (a list); it returns the new logits (or None after
    editing in place). One callable serves every row, or pass one per row (None: no edit).
  - `cancel` (a threading.Event or a callable returning bool, or one per row) is checked before
    every token.
  - Decode step: eager ops, except the block-sparse attention of every row (RoPE, the cache
    writes, key selection and attention over the kept keys) and the int8 experts of up to SMALL_M
    rows, which run as one C call each where they compile (`model.native`, built at load; ~45 ops
    a layer and ~8 an expert otherwise). `torch.compile` does not pay here: the kept-key
    count and the expert dispatch's per-expert counts are data-dependent (graph breaks every
    layer), the cache length grows each step (recompiles), and a fixed-shape inductor build of
    the selection alone took 38 s to compile and ran slower than the eager ops; see
    `decode_step_mode`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import torch

from model.experts import packs_held
from model.network import ModelCache, R1Model
from model.prefix import (PrefixCache, PrefixState, TAIL_AS_ROWS, _kv_caches, cache_nbytes, common_prefix,  # noqa: F401
                          decode_rows, fork_cache, prefill, prefill_row, prefill_tails, row_caches,
                          stack_left_padded)  # (re-exported)


@dataclass
class GenerationResult:
    tokens: list[int]
    finish_reason: str               # "eos" | "stop" | "length" | "cancelled"
    text: str | None = None          # set when a `decode` callback was given
    logprobs: list[float] | None = None   # log p of each returned token (before any logits processor)


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
def decode_one(model: R1Model, cache: ModelCache, tokens, pos: int, level_ids=None, pad_len=None) -> torch.Tensor:
    """One new token per row (B,) at slot `pos`, level ids (B, 1, 3) -> logits (B, V)."""
    return model(tokens[:, None], level_ids, cache=cache, start_pos=pos, pad_len=pad_len).logits[:, -1]


def decode_step_mode(model) -> str:
    """How decode steps run, logged by the engine at load and reported by `r1lsp doctor`: eager
    ops, the block-sparse attention of every row (RoPE, cache writes, key choice, attention) and
    the int8 experts each as one compiled call where `model.native` builds here (built now, so a
    request never waits for it), else why not. See the module docstring."""
    from model import native
    from model.attention import SparseAttention
    from model.experts import Expert
    if not isinstance(model, R1Model) or not model.cfg.attn_sparse:
        return "eager"
    if not SparseAttention.native:
        return "eager (block-sparse decode attention: eager, switched off)"
    experts = "" if not Expert.native or native.experts_rows() is None else ", int8 experts compiled"
    kv = f", keys / values cached in {str(model.kv_dtype).split('.')[-1]}" if model.kv_dtype is not None else ""
    return f"eager, block-sparse decode attention {native.status()}{experts}{kv}"


# ---------------------------------------------------------------------------- the loop

def _select_rows(cache, idx: torch.Tensor) -> None:
    """Keep only the batch rows `idx` of a (batch) cache, in place."""
    for c in _kv_caches(cache):
        c.batch_size = len(idx)
        if c.buffers is not None:
            c.buffers = [buf.index_select(0, idx) for buf in c.buffers]
        c.memo = {}
    cache.batch_size = len(idx)


def _cancelled(cancel) -> bool:
    if cancel is None:
        return False
    return cancel.is_set() if hasattr(cancel, "is_set") else bool(cancel())


def _per_row(value, B: int, name: str) -> list:
    if isinstance(value, (list, tuple)):
        if len(value) != B:
            raise ValueError(f"{name}: {len(value)} values for {B} prompts")
        return list(value)
    return [value] * B


@torch.no_grad()
@packs_held()                                    # its steps ask each routed expert's int8 pack once
def generate(model: R1Model, prompts: Sequence[Sequence[int]], *, max_new_tokens: int | Sequence[int] = 64,
             temperature: float = 0.0, top_p: float = 1.0,
             level_ids: Sequence[torch.Tensor | None] | None = None,
             eos_id: int | Sequence[int] | None = None, stop_sequences: Sequence[Sequence[int]] = (),
             stop_strings: Sequence[str] = (), stop_fns: Sequence[Callable[[str], int | None] | None] | None = None,
             decode: Callable[[list[int]], str] | None = None,
             cancel=None, seed: int | None = None,
             logits_processor=None, banned_ids: Sequence[int] = (),
             prefix_cache: PrefixCache | None = None, prefix_keys: Sequence[str | None] | None = None,
             on_batch: Callable[[int], None] | None = None,
             admit: Callable[[int], list[dict]] | None = None,
             best_of: int | Sequence[int] = 1,
             length_penalty: float | Sequence[float] = 1.0) -> list[GenerationResult]:
    """Generate for a batch of token-id prompts; one GenerationResult per prompt, in order.

    max_new_tokens, cancel, logits_processor: one value for all rows or one per row.
    stop_fns: per row, text -> index to cut at (the row stops) or None (needs `decode`).
    banned_ids: never sampled (their logits set to -inf before the processor runs).
    prefix_cache / prefix_keys: reuse and keep each row's prompt cache under its key.
    on_batch(B) is called once the prompts are prefilled, before decoding.
    admit(rows decoding) is asked before every later token for rows that join the batch there
    (requests that came while it decodes; models whose rows keep their own caches only): a list
    of dicts with "prompt", "levels", "max_new_tokens", "cancel", "logits_processor", "stop_fn",
    "prefix_key" (optionally "best_of", "length_penalty"). Each is prefilled then and decodes
    with the others from the next step on, as it would alone; their results follow the prompts'
    in the order admitted.
    best_of, length_penalty (one value or one per row; best_of: greedy decoding of a model with
    row caches only): the row's `best_of` likeliest first tokens (after the processors) are each
    continued greedily, as rows of the same batched steps on copies of the row's prompt cache
    (`fork_cache`: nothing prefilled again); the row's result is the one with the highest sum of
    its tokens' log p (the stop / eos token included, before any processor) over (token count
    ** `length_penalty`). A processor with a `fork()` method gives each added row its own copy
    (`fork()` after the first token's call)."""
    B = len(prompts)
    if (stop_strings or stop_fns) and decode is None:
        raise ValueError("stop_strings and stop_fns need a decode callback")
    if not prompts or any(len(p) == 0 for p in prompts):
        raise ValueError("every prompt needs at least one token")
    cfg, dev = model.cfg, next(model.parameters()).device
    max_new = [max(1, min(int(m), cfg.max_seq_len - 1)) for m in _per_row(max_new_tokens, B, "max_new_tokens")]
    cancels = _per_row(cancel, B, "cancel")
    processors = _per_row(logits_processor, B, "logits_processor")
    stop_fns = list(stop_fns) if stop_fns is not None else [None] * B
    eos = set() if eos_id is None else ({int(eos_id)} if isinstance(eos_id, int) else {int(e) for e in eos_id})
    n_steps = max(max_new)
    keep = cfg.max_seq_len - n_steps                              # longest prompt that fits
    prompts = [list(p)[-keep:] for p in prompts]
    level_ids = list(level_ids) if level_ids is not None else [None] * B
    keys = list(prefix_keys) if prefix_keys is not None else [None] * B
    origin = list(range(B))                                        # the prompt a row answers (best_of)
    branches = [max(1, int(k)) if temperature <= 0 and row_caches(model) else 1
                for k in _per_row(best_of, B, "best_of")]
    penalties = [float(a) for a in _per_row(length_penalty, B, "length_penalty")]

    out: list[list[int]] = [[] for _ in range(B)]
    logps: list[list[float]] = [[] for _ in range(B)]             # the model's log p of each token
    reasons: list[str | None] = [None] * B
    texts: list[str | None] = [None] * B

    def check_cancel():
        seen: dict = {}                                            # a shared flag is asked once
        for b in range(len(reasons)):
            if reasons[b] is None:
                c = cancels[b]
                if id(c) not in seen:
                    seen[id(c)] = _cancelled(c)
                if seen[id(c)]:
                    reasons[b] = "cancelled"
        return all(r is not None for r in reasons)

    if check_cancel():                                             # the check before token 0
        return [GenerationResult([], "cancelled") for _ in range(B)]
    own_rows = B == 1 or row_caches(model)                         # each row decodes on its own cache
    states: list = [None] * B
    firsts: list = [None] * B
    pos = [len(p) for p in prompts]                                # row b's next slot in its own cache

    def prefill_rows(rows: list[int]) -> None:
        """Prefill the prompts `rows` (their typed tails together where they have prefix states)."""
        olds = [prefix_cache.get(keys[b]) if prefix_cache is not None and keys[b] is not None else None for b in rows]
        done = prefill_tails(model, [prompts[b] for b in rows], [level_ids[b] for b in rows], olds) \
            if own_rows and len(rows) > 1 else {}
        for j, b in enumerate(rows):
            if j in done:                                          # typed clients: their tails together
                states[b], firsts[b], reused = done[j]
            else:
                states[b], firsts[b], reused = prefill_row(model, prompts[b], level_ids[b], state=olds[j])
            if prefix_cache is not None:
                prefix_cache.note(reused, len(prompts[b]) - reused)
        if prefix_cache is not None:                               # B == 1 decodes past the prompt:
            for b in rows:                                         # those slots are not in `ids`
                if keys[b] is not None:
                    prefix_cache.put(keys[b], states[b])

    prefill_rows(list(range(B)))
    if not own_rows:
        cache, T, pad_len = stack_left_padded(model, states, n_steps)
    if on_batch is not None:
        on_batch(B)
    new_lvl = torch.stack([torch.as_tensor(s.levels[-1:], device=dev) for s in states])   # (B, 1, 3)
    logits = torch.stack(firsts)                                   # (B, V)
    banned = torch.tensor(sorted(i for i in banned_ids if i < logits.size(-1)), dtype=torch.long, device=dev)
    generator = torch.Generator(device=dev).manual_seed(seed) if seed is not None else None
    active = list(range(B))                                        # cache row j holds prompt active[j]
    if admit is not None and not row_caches(model):
        admit = None                                               # a stacked cache takes no new rows
    step = -1
    while True:
        step += 1
        if step and check_cancel():
            break
        joined = admit(len(active)) if admit is not None and step else []
        if joined:                                                 # requests that came meanwhile join here
            rows = list(range(len(prompts), len(prompts) + len(joined)))
            for spec in joined:
                m = max(1, min(int(spec["max_new_tokens"]), cfg.max_seq_len - 1))
                prompts.append(list(spec["prompt"])[-(cfg.max_seq_len - m):])
                level_ids.append(spec.get("levels"))
                keys.append(spec.get("prefix_key"))
                max_new.append(m)
                cancels.append(spec.get("cancel"))
                processors.append(spec.get("logits_processor"))
                stop_fns.append(spec.get("stop_fn"))
                origin.append(len(origin))
                branches.append(max(1, int(spec.get("best_of", 1))) if temperature <= 0 else 1)
                penalties.append(float(spec.get("length_penalty", 1.0)))
                out.append([])
                logps.append([])
                reasons.append(None)
                texts.append(None)
                states.append(None)
                firsts.append(None)
                pos.append(len(prompts[-1]) - step)                # its first token goes to slot len(prompt)
            prefill_rows(rows)
            active = active + rows
            logits = torch.cat([logits, torch.stack([firsts[b] for b in rows]).to(logits.dtype)])
            new_lvl = torch.cat([new_lvl, torch.stack([torch.as_tensor(states[b].levels[-1:], device=dev)
                                                       for b in rows])])
        if len(banned):
            logits[:, banned] = float("-inf")
        own = logits.float().log_softmax(-1)                       # (rows, V) before any processor
        for j, b in enumerate(active):
            if processors[b] is not None and reasons[b] is None:
                edited = processors[b](list(out[b]), logits[j])
                if edited is not None:
                    logits[j] = edited
        tok = sample(logits, temperature, top_p, generator)       # (rows,)
        forking = [(j, b) for j, b in enumerate(active) if branches[b] > 1 and reasons[b] is None]
        if forking:                                                # best_of: more first tokens, each a row
            added = []
            for j, b in forking:
                firsts_k = logits[j].topk(min(branches[b], logits.size(-1)))
                branches[b] = 1
                for t in firsts_k.indices[1:][torch.isfinite(firsts_k.values[1:])].tolist():
                    n = pos[b] + step                              # the prompt's slots, nothing generated yet
                    fork = getattr(processors[b], "fork", None)
                    for lst, v in ((prompts, prompts[b]), (level_ids, level_ids[b]), (keys, None),
                                   (max_new, max_new[b]), (cancels, cancels[b]), (stop_fns, stop_fns[b]),
                                   (processors, fork() if fork is not None else processors[b]),
                                   (origin, b), (branches, 1), (penalties, penalties[b]), (out, []), (logps, []), (reasons, None),
                                   (texts, None), (firsts, None), (pos, pos[b]),
                                   (states, PrefixState(states[b].ids, states[b].levels,
                                                        fork_cache(model, states[b].cache, n)))):
                        lst.append(v)
                    added.append((j, t))
                    active.append(len(prompts) - 1)
            idx = torch.tensor([j for j, _ in added], device=dev)
            tok = torch.cat([tok, torch.tensor([t for _, t in added], dtype=tok.dtype, device=dev)])
            own, new_lvl = torch.cat([own, own[idx]]), torch.cat([new_lvl, new_lvl[idx]])
        for j, (b, t) in enumerate(zip(active, tok.tolist())):
            if reasons[b] is None:
                logps[b].append(float(own[j, t]))
                reasons[b], texts[b] = _step_row(out[b], t, eos, stop_sequences, stop_strings, stop_fns[b], decode)
                if reasons[b] is None and len(out[b]) >= max_new[b]:
                    reasons[b] = "length"
        if all(r is not None for r in reasons):
            break
        still = [j for j, b in enumerate(active) if reasons[b] is None]
        # finished rows leave the batch: at once where rows keep their own caches; in a stacked
        # cache once they are half of it (each leave copies every cache row kept, hundreds of MB
        # at long contexts), a finished row decoding on (its tokens unread) until then
        if len(still) < len(active) and (own_rows or len(still) <= len(active) // 2):
            idx = torch.tensor(still, device=dev)
            tok, new_lvl = tok[idx], new_lvl[idx]
            if not own_rows:
                _select_rows(cache, idx)
                pad_len = pad_len[idx]
            active = [active[j] for j in still]
        if not own_rows:
            logits = decode_one(model, cache, tok, T + step, new_lvl, pad_len).float()
        elif len(active) == 1:
            logits = decode_one(model, states[active[0]].cache, tok, pos[active[0]] + step, new_lvl).float()
        else:
            logits = decode_rows(model, [states[b].cache for b in active], tok, [pos[b] + step for b in active],
                                 new_lvl).float()
    results = []
    for b0 in range(len(prompts)):
        if origin[b0] != b0:
            continue                                               # an added first token: in its row's group
        group = [b for b in range(b0, len(prompts)) if origin[b] == b0 and reasons[b] != "cancelled"]
        if not group:
            results.append(GenerationResult(out[b0], "cancelled"))
            continue
        b = max(group, key=lambda r: sum(logps[r]) / max(1, len(logps[r])) ** penalties[b0])
        text = texts[b] if texts[b] is not None else (decode(out[b]) if decode else None)
        results.append(GenerationResult(out[b], reasons[b] or "length", text, logps[b][:len(out[b])]))
    return results


def _step_row(tokens: list[int], t: int, eos: set, stop_sequences, stop_strings, stop_fn, decode):
    """Append t to a row; return (finish reason or None, truncated text or None)."""
    if t in eos:
        return "eos", None
    tokens.append(t)
    for seq in stop_sequences:
        if seq and tokens[-len(seq):] == list(seq):
            del tokens[-len(seq):]
            return "stop", None
    if stop_strings or stop_fn is not None:
        text = decode(tokens)
        cuts = [i for i in (text.find(s) for s in stop_strings) if i >= 0]
        if stop_fn is not None:
            cut = stop_fn(text)
            if cut is not None:
                cuts.append(cut)
        if cuts:
            return "stop", text[:min(cuts)]
    return None, None


# ---------------------------------------------------------------------------- one-pass ranking

@torch.no_grad()
def score_candidates(model, context: Sequence[int], levels, candidates: Sequence[Sequence[int]], *,
                     prefix_cache: PrefixCache | None = None, key: str | None = None,
                     expand: int = 8) -> list[float]:
    """log p(candidate | context) for each candidate token sequence (an empty one scores 0).

    One forward pass over the context (the prefix cache's common prefix reused) gives the
    next-token distribution: a candidate of one token is scored from it exactly. Candidates of
    several tokens form a token trie; the `expand` of them whose first token is likeliest are
    scored exactly by ONE more forward of their remaining tokens (rows side by side, the trie's
    shared prefixes cost nothing extra in time, all at once). Every other multi-token candidate
    gets its first token's log-prob plus, per further token, the mean per-token log-prob of the
    expanded ones (an estimate; it never exceeds its exact first-token bound)."""
    dev = next(model.parameters()).device
    cands = [list(c) for c in candidates]
    scores = [0.0] * len(cands)
    if not any(cands):
        return scores
    longest = max(len(c) for c in cands)
    ctx = list(context)[-(model.cfg.max_seq_len - longest):]
    old = prefix_cache.get(key) if prefix_cache is not None and key is not None else None
    state, logits, reused = prefill_row(model, ctx, levels, state=old)
    if prefix_cache is not None:
        prefix_cache.note(reused, len(ctx) - reused)
    first = logits.log_softmax(-1)                                             # (V,)
    multi = []
    for i, c in enumerate(cands):
        if c:
            scores[i] = float(first[c[0]])
            if len(c) > 1:
                multi.append(i)
    if multi:
        # distinct token paths only: the trie's leaves among the likeliest
        chosen, seen = [], set()
        for i in sorted(multi, key=lambda i: -scores[i]):
            t = tuple(cands[i])
            if t not in seen:
                seen.add(t)
                chosen.append(i)
            if len(chosen) == expand:
                break
        L = max(len(cands[i]) for i in chosen) - 1
        n = len(chosen)
        batch, T, pad_len = stack_left_padded(model, [state] * n, L)
        toks = torch.zeros(n, L, dtype=torch.long)
        for j, i in enumerate(chosen):
            toks[j, :len(cands[i]) - 1] = torch.tensor(cands[i][:-1])
        lv = torch.as_tensor(state.levels[-1:], device=dev).expand(n, L, 3)   # the cursor's units
        logp = model(toks.to(dev), lv, cache=batch, start_pos=T).logits.float().log_softmax(-1)  # (n, L, V)
        per_token = []
        for j, i in enumerate(chosen):
            nxt = torch.tensor(cands[i][1:], device=dev)
            rest = logp[j, torch.arange(len(nxt), device=dev), nxt]
            scores[i] += float(rest.sum())
            per_token += rest.tolist()
        mean = sum(per_token) / len(per_token)
        for i in multi:
            if i not in chosen:
                scores[i] += mean * (len(cands[i]) - 1)
    if prefix_cache is not None and key is not None:
        prefix_cache.put(key, state)
    return scores


__all__ = ["GenerationResult", "PrefixCache", "PrefixState", "common_prefix", "decode_one", "decode_step_mode",
           "decode_rows", "fim_prompt", "generate", "prefill", "prefill_row", "prefill_tails", "row_caches", "sample",
           "score_candidates", "stack_left_padded"]
