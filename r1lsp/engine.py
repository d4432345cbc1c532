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
"""
from __future__ import annotations

import collections
import enum
import logging
import threading
import time
from concurrent.futures import CancelledError, Future, InvalidStateError
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from model.structure import utf8_bytes
from r1lsp.foreground import yield_to_lists
from r1lsp.model_loading import LoadError, ProgressFn, checkpoint_path, cpu_threads, default_checkpoint, load_model
from r1lsp.result_cache import ResultCache, digest
from r1lsp.route_trace import RouteTrace
from r1lsp.settings import ModelSettings
from r1lsp.token_window import encode_window

log = logging.getLogger("r1lsp.engine")

StopFn = Callable[[str], "int | None"]     # generated text -> cut index (stop there) or None

class EngineState(str, enum.Enum):
    LOADING = "loading"
    READY = "ready"
    FAILED = "failed"
    CLOSED = "closed"

    def __str__(self) -> str:
        return self.value


class EngineFuture(Future):
    """A Future whose `cancel()` also raises the request's cancel flag."""

    def __init__(self, flag: threading.Event):
        super().__init__()
        self._flag = flag

    def cancel(self) -> bool:
        self._flag.set()
        return super().cancel()


@dataclass
class _Request:
    kind: str                                   # "generate" | "score" | "route"
    key: str | None
    ids: list[int]
    levels: np.ndarray | None                   # (T, 3) or None
    future: EngineFuture
    flag: threading.Event
    external: object = None                     # the caller's Event / callable, or None
    params: dict = field(default_factory=dict)
    cache_key: bytes | None = None
    submitted: float = 0.0                      # time.monotonic() when queued (stage timings)

    release: Callable[[], None] = lambda: None   # forget the key once done (set by the engine)

    def cancelled(self) -> bool:
        if self.flag.is_set() or self.future.cancelled():
            return True
        ext = self.external
        if ext is not None and (ext.is_set() if hasattr(ext, "is_set") else bool(ext())):
            self.flag.set()
            return True
        return False


class Engine:
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
        self._queue: collections.deque[_Request] = collections.deque()
        self._by_key: dict[str, _Request] = {}
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

    def _forget(self, req: _Request) -> None:
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
        req = _Request(kind, key, ids, levels, fut, flag, cancel, params, submitted=time.monotonic())
        req.release = lambda: self._forget(req)
        fut.add_done_callback(lambda _: self._forget(req))
        if cache_parts is not None:
            req.cache_key = digest(kind, ids, levels if levels is not None else "-", *cache_parts)
        with self._cond:
            if self.state in (EngineState.CLOSED, EngineState.FAILED):
                fut.set_exception(RuntimeError(self.error or f"the engine is {self.state}"))
                return fut
            if kind not in _BACKGROUND:
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
                _resolve(r, exc=RuntimeError(self.error))
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
                        _resolve(r, exc=e)

    def _take(self) -> list[_Request] | None:
        with self._cond:
            while self.state is EngineState.READY:
                if not self._queue:
                    self._cond.wait()
                    continue
                quiet = self._last_interactive + self.route_quiet_s - time.monotonic()
                if quiet <= 0 or any(r.kind not in _BACKGROUND for r in self._queue):
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
            batch = _take_interactive_first(self._queue, self.max_batch)
        return [r for r in batch if not _drop_if_cancelled(r)]

    def _serve(self, batch: list[_Request]) -> None:
        gens, routes = [], []
        for r in batch:
            cached = self._cache.get(r.cache_key) if r.cache_key is not None and r.kind != "score" else None
            if cached is not None:
                _resolve(r, cached)
            elif r.kind == "generate":
                gens.append(r)
            elif r.kind == "score":
                _resolve(r, self._score(r))
            elif r.kind == "fill":
                self._fill(r)
            else:
                routes.append(r)
        for temp in sorted({r.params["temperature"] for r in gens}):      # one batch per sampling mode
            for wave in _prefix_waves([r for r in gens if r.params["temperature"] == temp]):
                self._generate_rows(wave)
        if any(r.kind not in _BACKGROUND for r in batch):
            with self._cond:                    # the quiet period runs from the end of typing work
                self._last_interactive = time.monotonic()
        groups = _length_groups(routes)
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
            return any(r.kind not in _BACKGROUND for r in self._queue)

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

    # -- model work (worker thread only) -------------------------------------------------
    def _tensor_levels(self, levels: np.ndarray | None, n: int):
        import torch
        if levels is None:
            return torch.zeros(n, 3, dtype=torch.long)
        return torch.as_tensor(levels[-n:], dtype=torch.long)

    def _generate_rows(self, reqs: list[_Request]) -> None:
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
            stop_strings=(), stop_fns=[_RowStop(r.params) for r in reqs], decode=self.decode,
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
            _resolve(r, res)

    def _admit(self, reqs: list[_Request], prompts: list[tuple], rows: int) -> list[dict]:
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
            if _drop_if_cancelled(r):
                continue
            cached = self._cache.get(r.cache_key) if r.cache_key is not None else None
            if cached is not None:
                _resolve(r, cached)
                continue
            p = self._prompt_for(r)
            reqs.append(r)
            prompts.append(p)
            specs.append({"prompt": p[0], "levels": p[1], "max_new_tokens": r.params["max_new_tokens"],
                          "cancel": r.cancelled, "logits_processor": r.params.get("logits_processor"),
                          "stop_fn": _RowStop(r.params), "prefix_key": p[2], "best_of": r.params.get("best_of", 1),
                          "length_penalty": r.params.get("length_penalty", 1.0)})
        if specs:
            self.rows_run += len(specs)
        return specs

    def _prompt_for(self, r: _Request) -> tuple:
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

    def _fill(self, r: _Request) -> None:
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
        _resolve(r, upto)

    def _count_batch(self, rows: int) -> None:
        self.batches_run += 1
        self.rows_run += rows

    def _score(self, r: _Request) -> list[float]:
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

    def _route_rows(self, reqs: list[_Request]) -> None:
        """Route requests as one left-padded batch (pad slots: level id -1, masked by pad_len)."""
        import torch
        rows = [r.ids[-self.config.max_seq_len:] for r in reqs]
        T = max(len(ids) for ids in rows)
        pad_id = self.prompts.pad_id if self.prompts is not None else 0
        ids = torch.full((len(rows), T), int(pad_id), dtype=torch.long)
        lvl = torch.full((len(rows), T, 3), -1, dtype=torch.long)
        for i, (r, row) in enumerate(zip(reqs, rows)):
            ids[i, T - len(row):] = torch.tensor(row, dtype=torch.long)
            lvl[i, T - len(row):] = self._tensor_levels(r.levels, len(row))
        pad_len = torch.tensor([T - len(row) for row in rows], device=self.device)
        self.batches_run += 1
        self.rows_run += len(rows)
        t0 = time.monotonic()
        routing, nll = _route_forward(self.model, ids.to(self.device), lvl.to(self.device),
                                      pad_len if len(rows) > 1 else None)
        log.debug("routed %d rows x %d positions in %.0f ms", len(rows), T, 1000 * (time.monotonic() - t0))
        experts = routing.experts.cpu().numpy().astype(np.int16)    # expert ids < 32K: a quarter of int64's bytes
        weights = routing.weights.float().cpu().numpy()
        surprise = np.concatenate([np.full((len(rows), 1), np.nan, np.float32), nll.astype(np.float32)], 1)
        for i, (r, row) in enumerate(zip(reqs, rows)):
            surprise[i, T - len(row)] = np.nan              # a row's first token follows padding
            trace = RouteTrace(experts[:, i, T - len(row):], weights[:, i, T - len(row):], surprise[i, T - len(row):])
            self._cache.put(r.cache_key, trace)
            _resolve(r, trace)


BATCH_WAIT_ROUNDS = 5          # the longest a take waits for more requests, in batch_wait_ms
MAX_CANDIDATE_TOKENS = 64      # tokens of a completion candidate that are scored
ROUTE_BATCH_TOKENS = 4096      # positions (rows x longest row) in one route forward


def _length_groups(reqs: list[_Request], waste: float = 1.5,
                   max_tokens: int = ROUTE_BATCH_TOKENS) -> list[list[_Request]]:
    """Requests in batches of similar length: left padding to the longest row of a batch costs
    (rows x longest) positions, kept under `waste` x the real tokens (one 2,000-token paragraph
    in a batch of 20-token ones would otherwise make every row 2,000 long) and under
    `max_tokens` positions (the activations of a forward grow with them: eight 2,048-token
    chunks of one long paragraph in one batch peaked at 1.3 GB and left the heap at 0.8 GB)."""
    groups: list[list[_Request]] = []
    real = 0
    for r in sorted(reqs, key=lambda r: len(r.ids)):
        n = len(r.ids)
        if groups and (len(groups[-1]) + 1) * n <= min(waste * (real + n), max_tokens):
            groups[-1].append(r)
            real += n
        else:
            groups.append([r])
            real = n
    return groups


SURPRISE_CHUNK = 256           # positions whose (chunk, vocab) logits exist at once


def _route_forward(model, ids, levels, pad_len):
    """Routing of every token and its surprise: (routing, nll (B, T - 1) float32 numpy), nll[t - 1]
    = -log p(ids[t] | ids[:t]). Where the model exposes its trunk (R1), the output head runs over
    `SURPRISE_CHUNK` positions at a time, so no (B, T, vocab) logits are held (64 MB per
    2,048-token row at vocab 8,192, plus as much again for the log-sum-exp)."""
    import torch
    with torch.no_grad():
        if hasattr(model, "trunk"):
            h, out = model.trunk(ids, levels, pad_len=pad_len, return_routing=True)
            heads = (model.head(model.norm(h[:, a:a + SURPRISE_CHUNK])) for a in range(0, h.size(1) - 1, SURPRISE_CHUNK))
        else:
            out = model(ids, levels, pad_len=pad_len, return_routing=True)
            heads = (out.logits[:, a:a + SURPRISE_CHUNK] for a in range(0, out.logits.size(1) - 1, SURPRISE_CHUNK))
        parts = []
        for a, logits in zip(range(0, ids.size(1) - 1, SURPRISE_CHUNK), heads):
            logits = logits[:, :ids.size(1) - 1 - a].float()
            picked = logits.gather(-1, ids[:, a + 1:a + 1 + logits.size(1), None])[..., 0]
            parts.append((torch.logsumexp(logits, -1) - picked).cpu())
        nll = torch.cat(parts, 1) if parts else torch.zeros(ids.size(0), 0)
    return out.routing, nll.numpy()


def _prefix_waves(reqs: list[_Request]) -> list[list[_Request]]:
    """Generate requests in batches whose prefix-cache keys differ: two rows of one batch cannot
    share one key's cache (the second would start cold), so a later request with the same key
    (a ghost-text request after an earlier one for the same document) runs after the first, reusing it."""
    waves: list[list[_Request]] = []
    for r in reqs:
        key = r.params.get("prefix_key")
        for wave in waves:
            if key is None or all(o.params.get("prefix_key") != key for o in wave):
                wave.append(r)
                break
        else:
            waves.append([r])
    return waves


_BACKGROUND = ("fill", "route")     # work the engine runs only after a pause in typing


def _take_interactive_first(queue: collections.deque, n: int) -> list:
    """Up to n requests off the queue: generate and score requests (someone is typing), else
    one prompt fill's chunk, else route requests (expert diagnostics, which re-route whole
    paragraphs), each kind in order."""
    interactive = [r for r in queue if r.kind not in _BACKGROUND][:n]
    # background work only in a take of its own (the engine starts it after a pause in typing)
    taken = interactive or [r for r in queue if r.kind == "fill"][:1] or [r for r in queue if r.kind == "route"][:n]
    ids = {id(r) for r in taken}
    rest = [r for r in queue if id(r) not in ids]
    queue.clear()
    queue.extend(rest)
    return taken


class _RowStop:
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


def _drop_if_cancelled(r: _Request) -> bool:
    if r.cancelled():
        r.future.cancel()
        return True
    return False


def _resolve(r: _Request, value=None, exc: BaseException | None = None) -> None:
    """Set a future's outcome unless it was cancelled meanwhile."""
    r.release()
    if r.future.done():
        return
    try:
        if exc is not None:
            r.future.set_exception(exc)
        else:
            r.future.set_result(value)
    except InvalidStateError:                                          # cancelled in between
        pass


__all__ = ["CancelledError", "Engine", "EngineFuture", "EngineState", "cpu_threads", "default_checkpoint"]
