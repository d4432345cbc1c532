"""The engine: one worker thread owning the model; every request goes through its queue.

- Threading: `start()` loads the checkpoint in the worker (r1lsp.model_loading; progress via
  `on_progress`), which then serves until `close()`. Callers on any thread get Futures;
  nothing raises into a caller except through a future.
- Batching: the worker takes what is queued (up to `max_batch`, waiting until no request came
  for `batch_wait_ms`, at most BATCH_WAIT_ROUNDS times that; generate and score before route, so typing never waits behind expert routing): all
  generate requests of a take through one `model.generate.generate` call (generate requests
  queued while it decodes join it at its next token, up to `max_batch` rows), all route requests
  as left-padded batches of similar length, each score request on its own.
- Prefix cache: per `prefix_key` ("<uri>#completion#prefix", ...) the model cache of the last
  prompt; the next request computes only the tokens after the common prefix. Prompt windows
  start where they stay put while the user types (`encode_window`). A generate request may
  carry a shorter `cold_prompt`: run instead where its own cache would leave more than
  `cold_tokens` tokens to compute (None: never; one-shot callers such as the CLI), while the full prompt's cache is filled in the pauses of
  typing (a background "fill" request, `fill_chunk` tokens per take, yielding to typing).
- Cancellation: a cancel flag per request, set by `future.cancel()`, `cancel(key)`, a newer
  request with the same key, the caller's `cancel` event (checked before every token) and
  `close()`; a cancelled future's `result()` raises CancelledError.
- Results of generate (greedy), score (per candidate) and route are cached (r1lsp.result_cache)
  under a digest of the whole prompt, not only the enclosing unit (the window sees text outside
  it). Generated rows never contain special tokens but end-of-sequence ones.

The request record and the queue's policy are in r1lsp.engine_queue, the generate / score /
fill work in r1lsp.engine_generation, the expert routing in r1lsp.engine_routing.
"""
from __future__ import annotations

import collections
import threading
import time
from concurrent.futures import CancelledError, Future
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from model.structure import utf8_bytes
from r1lsp.engine_generation import MAX_CANDIDATE_TOKENS, EngineGeneration
from r1lsp.engine_queue import (BACKGROUND, BATCH_WAIT_ROUNDS, EngineFuture, EngineState, Request, drop_if_cancelled,
                                prefix_waves, resolve, take_interactive_first)
from r1lsp.engine_routing import EngineRouting, length_groups
from r1lsp.foreground import yield_to_lists
from r1lsp.model_loading import LoadError, ProgressFn, checkpoint_path, cpu_threads, default_checkpoint, load_model
from r1lsp.result_cache import ResultCache, digest
from r1lsp.settings import ModelSettings
from r1lsp.token_window import encode_window

StopFn = Callable[[str], "int | None"]     # generated text -> cut index (stop there) or None


class Engine(EngineGeneration, EngineRouting):
    """The loaded model behind a queue. See the module docstring for threading, batching,
    cancellation and caching."""

    def __init__(self, settings: ModelSettings | None = None, *, on_progress: ProgressFn | None = None,
                 max_batch: int = 8, batch_wait_ms: float = 3.0, cache_size: int = 4096,
                 prefix_cache_bytes: int | None = None, result_cache_bytes: int | None = None,
                 route_quiet_ms: float = 500.0, cold_tokens: int | None = 256, fill_chunk: int = 256):
        self.settings = settings or ModelSettings()
        self.on_progress = on_progress
        self.max_batch = max_batch
        self.batch_wait_s = batch_wait_ms / 1000.0
        # expert routing waits until no generate / score request came for this long: a route
        # forward cannot be interrupted (up to ROUTE_BATCH_TOKENS positions, seconds on a CPU), so
        # it runs in the pauses of typing, not between two keystrokes' requests
        self.route_quiet_s = route_quiet_ms / 1000.0
        self.cold_tokens, self.fill_chunk = cold_tokens, fill_chunk     # see the module docstring
        self._last_interactive = float("-inf")
        self.state = EngineState.LOADING
        self.error: str | None = None
        self.notices: list[str] = []            # fallbacks taken while loading (CPU instead of CUDA ...)
        self.device: str | None = None
        self.quantization: str | None = None    # "int8 (w8a8)" | "int8 (bnb)" | "none"
        self.checkpoint: Path | None = None
        self.model = self.config = self.tokenizer = self.special = None
        self.prompts = None                     # model.prompts: R1Prompts | CheckpointPrompts
        self.family: str | None = None          # "r1" | "deepseek_v2" | "deepseek_v3"
        self.quant_report = None
        self.batches_run = 0                    # model batches (for tests and the bench)
        self.rows_run = 0
        budget = self.settings.cache_mb << 20             # r1lsp.model.cacheMb: 3/4 prompt caches, 1/4 results
        self._cache = ResultCache(cache_size, budget // 4 if result_cache_bytes is None else result_cache_bytes)
        from model.generate import PrefixCache
        self.prefix_cache = PrefixCache(budget - budget // 4 if prefix_cache_bytes is None else prefix_cache_bytes)
        self.kernels: dict | None = None        # int8 kernels per phase, chosen by measurement at load
        self.decode_mode: str | None = None     # "eager" | "compiled"
        self._queue: collections.deque[Request] = collections.deque()
        self._by_key: dict[str, Request] = {}
        self._cond = threading.Condition()
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._byte_lengths = None

    # -- life cycle ---------------------------------------------------------------------
    def start(self) -> "Engine":
        """Load the model in the worker thread (returns at once; see `wait_ready`)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="r1lsp-engine", daemon=True)
            self._thread.start()
        return self

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Block until the model is ready or failed (or `timeout` s); True when ready."""
        self._ready.wait(timeout)
        return self.state is EngineState.READY

    @property
    def ready(self) -> bool:
        return self.state is EngineState.READY

    def close(self) -> None:
        """Cancel everything queued, stop the worker and drop the model. A load in progress is
        not waited for: the (daemon) worker sees the closed state when the load ends."""
        with self._cond:
            was_loading = self.state is EngineState.LOADING
            if self.state is not EngineState.FAILED:
                self.state = EngineState.CLOSED
            pending = list(self._queue)
            self._queue.clear()
            self._by_key.clear()
            self._cond.notify_all()
        for r in pending:
            r.future.cancel()
        self._ready.set()
        if self._thread is not None and self._thread is not threading.current_thread() and not was_loading:
            self._thread.join(timeout=30)
        self.model = None

    def clear_cache(self) -> None:
        """Forget cached results (counters are kept)."""
        self._cache.clear()

    def cache_stats(self) -> dict:
        c = self._cache
        total = c.hits + c.misses
        return {"hits": c.hits, "misses": c.misses, "entries": len(c.data), "bytes": c.bytes,
                "hit_ratio": c.hits / total if total else 0.0}

    def _progress(self, message: str, percent: int | None) -> None:
        if self.on_progress is not None:
            try:
                self.on_progress(message, percent)
            except Exception:                                          # a reporter never kills loading
                pass

    # -- text helpers (any thread: tokenizers are thread-safe) ----------------------------
    @property
    def context_tokens(self) -> int:
        """Longest prompt + generation the model holds."""
        return self.config.max_seq_len if self.config is not None else 0

    def encode(self, text: str) -> list[int]:
        return self.tokenizer.encode(text, add_special_tokens=False).ids

    def encode_with_offsets(self, text: str, start_byte: int = 0) -> tuple[list[int], np.ndarray]:
        """Token ids and the UTF-8 byte offset (from `start_byte`) where each token starts."""
        from model.tokenizer import encode_with_byte_offsets
        return encode_with_byte_offsets(self.tokenizer, text, self._byte_lengths, start_byte)

    def decode(self, ids: Sequence[int]) -> str:
        return self.tokenizer.decode(list(ids))

    # -- requests -----------------------------------------------------------------------
    def submit_generate(self, key: str | None, prompt_ids: Sequence[int], level_ids=None,
                        max_new_tokens: int = 16, stop_strings: Sequence[str] = (), *,
                        stop_fn: StopFn | None = None, temperature: float = 0.0,
                        cancel=None, logits_processor=None, prefix_key: str | None = None,
                        cold_prompt: tuple | None = None, best_of: int = 1, length_penalty: float = 1.0) -> Future:
        """Continue `prompt_ids` ((T, 3) `level_ids` or None). Future[GenerationResult] with
        `text` set; finish_reason "eos" | "stop" | "length". `stop_fn(text)` returns the index
        to cut the text at (generation stops) or None; make it hashable to allow caching.
        `logits_processor(generated_ids, logits (V,))` edits each step's next-token logits
        (model.generate.generate); results with one are not cached. `prefix_key` (e.g. the
        document URI and the prompt kind) keeps this prompt's cache for the next request with
        the same key: only the tokens after the common prefix are computed then. `cold_prompt`
        (ids, levels, prefix key): a shorter prompt for the same request, run instead while
        `prefix_key`'s cache holds too little of this one (see the module docstring); the
        result's `stages["cold"]` says so. `best_of` / `length_penalty`: model.generate's (the
        likeliest of the `best_of` likeliest first tokens' greedy continuations)."""
        params = {"max_new_tokens": int(max_new_tokens), "stop_strings": tuple(stop_strings),
                  "stop_fn": stop_fn, "temperature": float(temperature),
                  "logits_processor": logits_processor, "prefix_key": prefix_key,
                  "cold_prompt": cold_prompt if prefix_key is not None else None,
                  "best_of": int(best_of), "length_penalty": float(length_penalty)}
        try:
            hash(stop_fn)
            cacheable = temperature <= 0 and logits_processor is None
        except TypeError:
            cacheable = False
        return self._submit("generate", key, prompt_ids, level_ids, params, cancel,
                            cache_parts=(tuple(params["stop_strings"]), stop_fn, params["max_new_tokens"], int(best_of),
                                         float(length_penalty))
                            if cacheable else None)

    def submit_score(self, key: str | None, context_ids: Sequence[int], level_ids,
                     candidates: Sequence[Sequence[int]], *, cancel=None, prefix_key: str | None = None) -> Future:
        """Future[list[float]]: log-likelihood of each candidate token sequence right after the
        context (sum over its tokens; an empty candidate scores 0), from one pass over the
        context (model.generate.score_candidates). `prefix_key` as in `submit_generate`.
        A candidate is scored on its first `MAX_CANDIDATE_TOKENS` tokens (a name 2 MB long, typed
        into a document, would otherwise leave no room for the context: the model failed on it)."""
        return self._submit("score", key, context_ids, level_ids,
                            {"candidates": [list(c)[:MAX_CANDIDATE_TOKENS] for c in candidates],
                             "prefix_key": prefix_key},
                            cancel, cache_parts=())

    def score_candidates(self, uri: str | None, prefix_text: str, suffix_text: str,
                         candidates: Sequence[str], *, language: str = "python", levels=None,
                         timeout: float | None = 2.0, budget: int = 512) -> list[float] | None:
        """log p(candidate text | text before the cursor) per candidate string, blocking; None
        when the engine is not ready, the wait passes `timeout` s or the request is cancelled.

        `prefix_text` is the document's text before the cursor (its last `budget` tokens, from a
        window start that stays put while the user types, are the context); `levels` optional
        (T, 3) unit ids of those tokens (else one unit). The context's cache is kept per `uri`,
        so the next request after typing processes only the new tokens. `suffix_text` (the text
        after the cursor) is not part of the list's prompt: the R1 list context is the prefix."""
        del suffix_text                                               # the list prompt is prefix-only
        if self.state is not EngineState.READY:
            return None
        data = utf8_bytes(prefix_text)
        ids, _ = self.encode_window(data, len(data), budget)
        start = [int(i) for i in self.prompts.start(language)]
        ids = start + list(ids)
        if levels is not None:
            levels = np.asarray(levels, dtype=np.int64).reshape(-1, 3)[-(len(ids) - len(start)):]
            levels = np.concatenate([np.repeat(levels[:1], len(start), 0), levels])
        key = f"{uri}#rank" if uri is not None else None
        fut = self.submit_score(key, ids, levels, [self.encode(c) for c in candidates], prefix_key=key)
        try:
            return fut.result(timeout=timeout)
        except Exception:
            fut.cancel()
            return None

    def encode_window(self, data: bytes, end: int, budget: int) -> tuple[list[int], list[int]]:
        """See `r1lsp.token_window.encode_window`."""
        return encode_window(self, data, end, budget)

    def submit_route(self, key: str | None, ids: Sequence[int], level_ids=None, *, cancel=None) -> Future:
        """Future[RouteTrace]: the experts (L, T, k) and weights (L, T, k) of every token."""
        return self._submit("route", key, ids, level_ids, {}, cancel, cache_parts=())

    def touch(self) -> None:
        """The user is at work (a document opened): background work (expert routing, prompt
        fills) waits for the next pause, as after a typing request."""
        with self._cond:
            self._last_interactive = time.monotonic()

    def cancel(self, key: str) -> bool:
        """Cancel the queued or running request with this key; True if there was one."""
        with self._cond:
            req = self._by_key.pop(key, None)
        if req is None:
            return False
        req.future.cancel()
        return True

    def _forget(self, req: Request) -> None:
        if req.key is not None:
            with self._cond:
                if self._by_key.get(req.key) is req:
                    del self._by_key[req.key]

    def _submit(self, kind, key, ids, level_ids, params, cancel, cache_parts) -> Future:
        flag = threading.Event()
        fut = EngineFuture(flag)
        ids = [int(i) for i in ids]
        levels = None if level_ids is None else np.asarray(level_ids, dtype=np.int64).reshape(-1, 3)
        if levels is not None and len(levels) != len(ids):
            fut.set_exception(ValueError(f"{len(levels)} level-id rows for {len(ids)} tokens"))
            return fut
        if not ids:
            fut.set_exception(ValueError("empty prompt"))
            return fut
        req = Request(kind, key, ids, levels, fut, flag, cancel, params, submitted=time.monotonic())
        req.release = lambda: self._forget(req)
        fut.add_done_callback(lambda _: self._forget(req))
        if cache_parts is not None:
            # the ids as int64 bytes: repr() of a list of 1-2K ints cost 0.3-0.7 ms a request, in the
            # client's thread (8 clients at once: serial under the GIL before their batch runs)
            req.cache_key = digest(kind, np.fromiter(ids, np.int64, len(ids)), levels if levels is not None else "-",
                                   *cache_parts)
        with self._cond:
            if self.state in (EngineState.CLOSED, EngineState.FAILED):
                fut.set_exception(RuntimeError(self.error or f"the engine is {self.state}"))
                return fut
            if kind not in BACKGROUND:
                self._last_interactive = time.monotonic()
            if key is not None:
                old = self._by_key.get(key)
                if old is not None:
                    old.future.cancel()                                 # superseded
                self._by_key[key] = req
            self._queue.append(req)
            self._cond.notify()
        return fut

    # -- worker -------------------------------------------------------------------------
    def _run(self) -> None:
        try:
            self._load()
        except Exception as e:                                         # reported, never raised
            self.error = str(e) if isinstance(e, LoadError) else f"Could not load the model: {e}"
            self.state = EngineState.FAILED
            self._progress(self.error, None)
            with self._cond:
                pending = list(self._queue)
                self._queue.clear()
            for r in pending:
                resolve(r, exc=RuntimeError(self.error))
            self._ready.set()
            return
        from r1lsp import memory
        memory.trim(0)                       # what loading and quantizing freed (fp32 weights) goes back
        with self._cond:
            if self.state is EngineState.LOADING:
                self.state = EngineState.READY
        self._ready.set()
        self._progress(f"R1 model ready on {self.device} ({self.quantization})", 100)
        import torch
        with torch.inference_mode():
            while True:
                batch = self._take()
                if batch is None:
                    return
                try:
                    self._serve(batch)
                except Exception as e:                                 # a bad batch fails its futures only
                    for r in batch:
                        resolve(r, exc=e)

    def _take(self) -> list[Request] | None:
        with self._cond:
            while self.state is EngineState.READY:
                if not self._queue:
                    self._cond.wait()
                    continue
                quiet = self._last_interactive + self.route_quiet_s - time.monotonic()
                if quiet <= 0 or any(r.kind not in BACKGROUND for r in self._queue):
                    break
                self._cond.wait(quiet)                  # only background work queued, and someone is typing
            if self.state is not EngineState.READY:
                return None
            # wait until batch_wait_s passed without a new request (clients sending at once reach the
            # queue spread over a few ms when the cores are busy: a fixed window from the first
            # split them into batches), at most BATCH_WAIT_ROUNDS windows; a lone request waits one
            first = time.monotonic()
            deadline, n = first + self.batch_wait_s, len(self._queue)
            while len(self._queue) < self.max_batch:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
                if len(self._queue) > n:
                    n = len(self._queue)
                    deadline = min(time.monotonic() + self.batch_wait_s, first + BATCH_WAIT_ROUNDS * self.batch_wait_s)
            batch = take_interactive_first(self._queue, self.max_batch)
        return [r for r in batch if not drop_if_cancelled(r)]

    def _serve(self, batch: list[Request]) -> None:
        gens, routes = [], []
        for r in batch:
            cached = self._cache.get(r.cache_key) if r.cache_key is not None and r.kind != "score" else None
            if cached is not None:
                resolve(r, cached)
            elif r.kind == "generate":
                gens.append(r)
            elif r.kind == "score":
                resolve(r, self._score(r))
            elif r.kind == "fill":
                self._fill(r)
            else:
                routes.append(r)
        for temp in sorted({r.params["temperature"] for r in gens}):      # one batch per sampling mode
            for wave in prefix_waves([r for r in gens if r.params["temperature"] == temp]):
                self._generate_rows(wave)
        if any(r.kind not in BACKGROUND for r in batch):
            with self._cond:                    # the quiet period runs from the end of typing work
                self._last_interactive = time.monotonic()
        groups = length_groups(routes)
        for i, group in enumerate(groups):
            if i and self._interactive_waiting():
                # someone typed meanwhile: the routes not yet run go back to the queue's front
                # and the typing request is taken first (routing yields between batches)
                with self._cond:
                    self._queue.extendleft(reversed([r for g in groups[i:] for r in g]))
                return
            yield_to_lists()                    # routing is background work (r1lsp.foreground)
            self._route_rows(group)

    def _interactive_waiting(self) -> bool:
        with self._cond:
            return any(r.kind not in BACKGROUND for r in self._queue)

    # -- loading (r1lsp.model_loading) ----------------------------------------------------
    def _load(self) -> None:
        from model.tokenizer import token_byte_lengths
        self.checkpoint = checkpoint_path(self.settings)
        loaded = load_model(self.settings, self._progress, self._notice)
        vars(self).update(vars(loaded))          # model, config, tokenizer, prompts, device, ...
        self._byte_lengths = token_byte_lengths(self.tokenizer)

    def _notice(self, message: str) -> None:
        self.notices.append(message)
        self._progress(message, None)


__all__ = ["CancelledError", "Engine", "EngineFuture", "EngineState", "cpu_threads", "default_checkpoint"]
