"""The engine's generate, score and prompt-fill work, on its worker thread (r1lsp.engine's
docstring says how requests are batched, joined mid-decode, cold-started and filled)."""
from __future__ import annotations

import time
from concurrent.futures import Future

import numpy as np

from r1lsp.engine_queue import Request, drop_if_cancelled, resolve
from r1lsp.foreground import yield_to_lists
from r1lsp.result_cache import digest

MAX_CANDIDATE_TOKENS = 64      # tokens of a completion candidate that are scored


class EngineGeneration:
    """The generate / score / fill methods of `r1lsp.engine.Engine`, run by its worker thread
    (`filling`: any thread). They use its model, caches and queue; `_admit`, `filling` and
    `_fill` take its lock `_cond`."""

    def _generate_rows(self, reqs: list[Request]) -> None:
        """One batch through model.generate: every row with its own limits, stops, cancel flag,
        logits processor and prefix-cache key."""
        from model.generate import generate

        vocab = self.config.vocab_size                                          # tokenizers may list ids past the head
        banned = [i for i in self.prompts.banned_ids if i < vocab]              # no special token but eos
        taken = time.monotonic()
        prefilled = [taken]

        def on_batch(rows: int) -> None:
            prefilled[0] = time.monotonic()
            self._count_batch(rows)

        prompts = [self._prompt_for(r) for r in reqs]                        # (ids, levels, prefix key, cold)
        stats0 = dict(self.prefix_cache.stats)
        results = generate(
            self.model, [p[0] for p in prompts], level_ids=[p[1] for p in prompts],
            max_new_tokens=[r.params["max_new_tokens"] for r in reqs],
            temperature=reqs[0].params["temperature"], eos_id=sorted(self.prompts.eos_ids),
            stop_strings=(), stop_fns=[RowStop(r.params) for r in reqs], decode=self.decode,
            cancel=[r.cancelled for r in reqs], logits_processor=[r.params.get("logits_processor") for r in reqs],
            banned_ids=banned, prefix_cache=self.prefix_cache, prefix_keys=[p[2] for p in prompts],
            on_batch=on_batch, admit=lambda rows: self._admit(reqs, prompts, rows),
            best_of=[r.params.get("best_of", 1) for r in reqs],
            length_penalty=[r.params.get("length_penalty", 1.0) for r in reqs])
        done = time.monotonic()
        stats = self.prefix_cache.stats
        for r, res, (_, _, _, cold) in zip(reqs, results, prompts):
            # where a request's time went (logged by callers, read by bench/completion_bench.py)
            res.stages = {"queued_ms": 1000 * max(0.0, taken - r.submitted),       # 0: joined the batch
                          "prefill_ms": 1000 * (prefilled[0] - taken),
                          "decode_ms": 1000 * (done - prefilled[0]), "rows": len(reqs), "tokens": len(res.tokens),
                          "reused_tokens": stats["reused_tokens"] - stats0["reused_tokens"],
                          "computed_tokens": stats["computed_tokens"] - stats0["computed_tokens"], "cold": cold}
            if res.finish_reason == "cancelled" or r.cancelled():
                r.future.cancel()
                continue
            if res.text is None:
                res.text = self.decode(res.tokens)
            if r.cache_key is not None and not cold:                     # kept for the full prompt only
                self._cache.put(r.cache_key, res)
            resolve(r, res)

    def _admit(self, reqs: list[Request], prompts: list[tuple], rows: int) -> list[dict]:
        """Generate requests queued while a batch decodes (`rows` rows now) that join it at its next
        token (model.generate's `admit`): the same sampling mode, another prefix key than every row
        of the batch, up to max_batch rows. Appends them to `reqs` and their prompts to `prompts`."""
        room = self.max_batch - rows
        if room <= 0 or not self._queue:
            return []
        temp = reqs[0].params["temperature"]
        keys = {r.params.get("prefix_key") for r in reqs} - {None}
        with self._cond:
            taken = []
            for r in self._queue:
                key = r.params.get("prefix_key")
                if len(taken) < room and r.kind == "generate" and r.params["temperature"] == temp and key not in keys:
                    taken.append(r)
                    if key is not None:
                        keys.add(key)
            for r in taken:
                self._queue.remove(r)
        specs = []
        for r in taken:
            if drop_if_cancelled(r):
                continue
            cached = self._cache.get(r.cache_key) if r.cache_key is not None else None
            if cached is not None:
                resolve(r, cached)
                continue
            p = self._prompt_for(r)
            reqs.append(r)
            prompts.append(p)
            specs.append({"prompt": p[0], "levels": p[1], "max_new_tokens": r.params["max_new_tokens"],
                          "cancel": r.cancelled, "logits_processor": r.params.get("logits_processor"),
                          "stop_fn": RowStop(r.params), "prefix_key": p[2], "best_of": r.params.get("best_of", 1),
                          "length_penalty": r.params.get("length_penalty", 1.0)})
        if specs:
            self.rows_run += len(specs)
        return specs

    def _prompt_for(self, r: Request) -> tuple:
        """(ids, levels, prefix key, cold) a generate request runs: its cold prompt where its own
        prefix cache would leave more than `cold_tokens` tokens to compute; the full prompt's
        cache is then filled in the background (`_fill`)."""
        key, cold = r.params.get("prefix_key"), r.params.get("cold_prompt")
        if cold is None or self.cold_tokens is None or len(r.ids) <= self.cold_tokens:
            return r.ids, r.levels, key, False
        from model.generate import common_prefix
        state = self.prefix_cache.peek(key)
        levels = np.zeros((len(r.ids), 3), np.int64) if r.levels is None else r.levels
        ids = np.asarray(r.ids, dtype=np.int64)
        reuse = 0 if state is None else common_prefix(state.ids, state.levels, ids, levels)
        if len(ids) - reuse <= self.cold_tokens:
            return r.ids, r.levels, key, False
        self._submit("fill", key + "#fill", r.ids, r.levels, {"prefix_key": key}, None, None)
        c_ids, c_levels, c_key = cold
        return [int(i) for i in c_ids], None if c_levels is None else np.asarray(c_levels, np.int64), c_key, True

    def filling(self, prefix_key: str) -> Future | None:
        """The background fill of `prefix_key`'s prompt cache still to run (its future resolves
        once the prompt is in), or None."""
        with self._cond:
            req = self._by_key.get(prefix_key + "#fill")
        return None if req is None else req.future

    def _fill(self, r: Request) -> None:
        """One chunk (`fill_chunk` tokens) of a background prefill of `r`'s prompt into its
        prefix cache; queued again until the prompt is in (a newer fill of the key replaces it)."""
        from model.generate import common_prefix, prefill_row
        yield_to_lists()                        # a fill is background work (r1lsp.foreground)
        key = r.params["prefix_key"]
        levels = np.zeros((len(r.ids), 3), np.int64) if r.levels is None else r.levels
        state = self.prefix_cache.get(key)
        reuse = 0 if state is None else common_prefix(state.ids, state.levels, np.asarray(r.ids, np.int64), levels)
        upto = min(len(r.ids), reuse + self.fill_chunk)
        if upto > reuse or state is None or len(state.ids) != upto:
            self._count_batch(1)
            state, _, reused = prefill_row(self.model, r.ids[:upto], levels[:upto], state=state)
            self.prefix_cache.note(reused, upto - reused)
        self.prefix_cache.put(key, state)
        if upto < len(r.ids) and not r.cancelled():
            with self._cond:
                self._queue.append(r)                   # the next chunk, after what is queued
            return
        resolve(r, upto)

    def _count_batch(self, rows: int) -> None:
        self.batches_run += 1
        self.rows_run += rows

    def _score(self, r: Request) -> list[float]:
        """log p(candidate | context) per candidate (model.generate.score_candidates: one pass
        over the context, the prefix cache reused); cached per (context, candidate)."""
        from model.generate import score_candidates

        cands = r.params["candidates"]
        scores: list[float | None] = [None] * len(cands)
        keys = [digest(r.cache_key, c) for c in cands]
        todo = []
        for i, k in enumerate(keys):
            hit = self._cache.get(k)
            if hit is not None:
                scores[i] = hit
            elif not cands[i]:
                scores[i] = 0.0
            else:
                todo.append(i)
        if not todo:
            return scores
        self._count_batch(1)
        got = score_candidates(self.model, r.ids, r.levels, [cands[i] for i in todo],
                               prefix_cache=self.prefix_cache, key=r.params.get("prefix_key"))
        for i, s in zip(todo, got):
            scores[i] = s
            self._cache.put(keys[i], s)
        return scores


class RowStop:
    """A row's stop rule for model.generate: the earliest stop string or the stop_fn's cut."""

    def __init__(self, params: dict):
        self.strings, self.fn = params["stop_strings"], params["stop_fn"]

    def __call__(self, text: str) -> int | None:
        cuts = [i for i in (text.find(s) for s in self.strings) if i >= 0]
        if self.fn is not None:
            cut = self.fn(text)
            if cut is not None:
                cuts.append(cut)
        return min(cuts) if cuts else None

