"""Inline ghost text: a continuation at the cursor.

The prompt is the training format (model/data.py): <|lang|> <|fim_prefix|> prefix <|fim_suffix|>
suffix <|fim_middle|>, the text around the cursor trimmed to the model's context (most of it
for the prefix), with level ids from the document's hierarchy (special tokens take their right
neighbour's units; <|fim_middle|> the cursor's); at the end of a line of code, the plain format
<|lang|> prefix instead (`PLAIN_AT_LINE_END`), and the suggestion is the rest of that line.

Generation stops at the end of the enclosing unit, not after a line count (`BlockStop`):
  - a closing bracket that closes the bracket the cursor is in (kept: it ends the phrase; at
    statement level the enclosing block's `}` is left out: the block already has its end);
  - Java at statement level: `;` at the cursor's bracket depth, or `}` closing a block the
    suggestion opened (one statement, or one declaration with its body);
  - Python at statement level: the newline that ends the logical line, unless the line is a
    block header (`:`), in which case the block ends at the first line indented no deeper
    than the header;
  - text after the cursor on its line: the first newline (a suggestion inside a line ends there);
    code before the cursor and none after it: the first newline after code of its own (the rest
    of the line, its closing brackets and `{` / `:` included: `BlockStop.line_end`).
Then the text already following the cursor is not repeated (`dedupe_suffix`), and the
suggestion is cut to its longest start that adds no tree-sitter error nodes and grows no
existing error (`syntactic_prefix`, `adds_syntax_error`; dropped when there is none), and dropped
when the model's mean token log-probability over the kept text is below `min_confidence`
(precision before recall).

With `monitor`, decoding is guided by the static analysis (r1lsp.monitor): after `receiver.`
the model may only write one of the names the language's analysis offers there.

Latency (a keystroke's request should only decode): the suffix is short (`SUFFIX_TOKENS`: it
follows the prefix in the prompt, so it is computed again after every keystroke); the server
starts the ghost text at the end of each edit (on didChange) and the request that follows for
that version and position joins it (r1lsp.session `ghost_text`); with code before the cursor on its line the suggestion is at most
`LINE_TOKENS` long; typing the start of the suggestion shown is answered with its rest
(`TypedAhead`), without the model. Where the document's prompt cache holds too little of the
prompt (right after opening it or jumping elsewhere), the engine runs the cold prompt, the same
with a prefix of `COLD_PREFIX_TOKENS` (`ghost_prompts`), and fills the full prompt's cache in
the next pause of typing.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import CancelledError, TimeoutError as FutureTimeout
from dataclasses import dataclass

from r1lsp.completion import AnalysisContext, cursor_at, resolved_candidates
from r1lsp.completion_rank import RankContext, rank_features, rank_score, weights_for
from r1lsp.token_window import encode_window
from r1lsp.java.import_line import import_rest
from r1lsp.line_retrieval import in_prose, retrieved_line
from r1lsp.monitor import MemberMonitor
from r1lsp.inline_syntax import (BlockStop, adds_syntax_error, before_comment, bracket_context, dedupe_suffix,
                                 syntactic_prefix)
from model.structure import StructuredDocument
from model.structure.text_index import decode, utf8_bytes

log = logging.getLogger("r1lsp.inline")


@dataclass
class InlineSuggestion:
    text: str                          # inserted at `start` (replacing [start, end))
    start: tuple[int, int]             # (line, UTF-16 column)
    end: tuple[int, int]
    confidence: float = 0.0            # mean log-probability of the tokens of `text`



SUFFIX_TOKENS = 64     # the suffix follows the prefix in the prompt: recomputed on every keystroke
# At the end of a line of code (code before the cursor, none after it on its line) the prompt is the
# prefix alone, continued as text, not fill-in-the-middle: r1-tiny writes that line's rest far better
# so (dev split, the 320 line positions retrieval leaves, 24 tokens to the newline, ungated: edit
# similarity Python 7.0 -> 25.0, Java 6.0 -> 31.3; with the FIM prompt and no suffix 12.6, so it
# is the FIM format, not the suffix). Inside a line the suffix on its line still matters: FIM there.
PLAIN_AT_LINE_END = True
COLD_PREFIX_TOKENS = 384   # the prefix (context block included) of the cold prompt (`ghost_prompts`)
# The model's text: the BEST_OF likeliest first tokens each continued greedily (rows of one batched
# decode from the one prompt cache, model.generate's best_of), the one with the highest summed log p
# over token count ** LENGTH_PENALTY; the gate reads the chosen one's confidence. Off (1): on the dev
# split over LSP (300 line positions a language, gate off, the positions the model answers) it
# writes better lines -- greedy Python ES 29.5, 5 exact of 108, Java 36.4, 9 of 97; 5 / 0.0: 32.8,
# 8 of 99 / 38.2, 15 of 110 (3 / 1.0: 29.5 / 34.8; 3 / 2.0: 23.1 / 30.6; 3 / 0.0: 33.3 / 36.2: the
# mean of a longer text flatters it) -- but at the gate (-1.0) 8 of 600 answers change and the
# figures stay (line ES 23.3 / 49.2 -> 23.4 / 49.1, shown 49.2 -> 49.3 %, ES when shown 73.8 ->
# 73.5), while it costs: 10 tokens after a 3-token tail on a 1,380-token prompt, thread CPU median
# 25.8 -> 55.5 ms (3: 38.5); completion_bench --quick inline_p50_ms 218 -> 324, typing p50 59 -> 221
# (load ~8). Worth trying again with a model whose confident text is more often right.
BEST_OF = 1
LENGTH_PENALTY = 0.0


def fim_request(engine, doc: StructuredDocument, offset: int, max_tokens: int, *,
                suffix_tokens: int = SUFFIX_TOKENS, context_text: str = "", prefix_tokens: int | None = None,
                plain: bool = False):
    """FIM prompt ids and (T, 3) level ids around byte `offset`, fitting the model's context.
    The suffix is kept short (`suffix_tokens`): it comes after the prefix, so every token of it is
    computed again on each keystroke (a quarter of the context, ~500 tokens, cost ~90 % of a
    typing request's prefill); its first lines are what the middle has to meet. `context_text`
    (r1lsp.inline_context: other files' signatures and snippets) opens the prefix, in its budget,
    with the units of the prefix's first token. `prefix_tokens`: the prefix's budget (context
    block at most a quarter of it) instead of what the context leaves after the suffix. `plain`:
    no suffix and no FIM tokens, the prefix continued as text (`PLAIN_AT_LINE_END`)."""
    budget = max(32, engine.context_tokens - max_tokens - 8)
    suffix_tokens = min(suffix_tokens, budget // 4)
    prefix_budget = budget - budget // 4 if prefix_tokens is None else min(prefix_tokens, budget - budget // 4)
    data = doc.data
    end = min(len(data), offset + suffix_tokens * 8)
    while end > offset and end < len(data) and (data[end] & 0xC0) == 0x80:
        end -= 1
    s_ids, s_off = engine.encode_with_offsets(decode(data[offset:end]), offset)
    s_ids, s_off = list(s_ids)[:suffix_tokens], list(s_off)[:suffix_tokens]
    # the prefix window's start stays put while the user types (the prefix cache keeps hitting)
    c_ids = engine.encode(context_text)[:(budget if prefix_tokens is None else prefix_budget) // 4] if context_text else []
    p_ids, p_off = encode_window(engine, data, offset, prefix_budget - len(c_ids))
    h = doc.hierarchy
    cursor_units = tuple(h.unit_ids([offset])[0])
    p_lev = [tuple(u) for u in h.unit_ids(p_off)] if p_off else []
    if c_ids:
        first = p_lev[0] if p_lev else cursor_units
        p_ids, p_lev = list(c_ids) + list(p_ids), [first] * len(c_ids) + p_lev
    s_lev = [tuple(u) for u in h.unit_ids(s_off)] if s_off else []
    if plain:
        start = list(engine.prompts.start(doc.language))
        return start + list(p_ids), [p_lev[0] if p_lev else cursor_units] * len(start) + list(p_lev)
    if not engine.prompts.has_fim:                                      # a base model: prefix only
        s_ids, s_lev = [], []
    return engine.prompts.fim(doc.language, p_ids, s_ids, p_lev, s_lev, cursor_units)


# ---------------------------------------------------------------------------- typing ahead

LINE_TOKENS = 24       # longest ghost text when code precedes the cursor on its line (the line's rest)


@dataclass
class _Shown:
    data: bytes            # the document when it was shown
    offset: int            # the cursor's byte offset then
    text: str
    confidence: float


class TypedAhead:
    """The last suggestion shown per key (a document): when the user types what it starts with,
    the rest of it is the answer, without the model (the text the suggestion ends in is the
    same, so are its syntax and its confidence). Any other edit, or a cursor elsewhere, misses."""

    def __init__(self):
        self._shown: dict[str, _Shown] = {}
        self._lock = threading.Lock()

    def remember(self, key: str, data: bytes, offset: int, text: str, confidence: float) -> None:
        with self._lock:
            self._shown[key] = _Shown(data, offset, text, confidence)

    def forget(self, key: str) -> None:
        with self._lock:
            self._shown.pop(key, None)

    def follow(self, key: str, data: bytes, offset: int) -> _Shown | None:
        """The shown suggestion's rest at `offset` of `data`, if the edit since was typing its start."""
        with self._lock:
            old = self._shown.get(key)
        if old is None or offset < old.offset:
            return None
        n = offset - old.offset
        typed = data[old.offset:offset]
        if (len(data) != len(old.data) + n or data[:old.offset] != old.data[:old.offset]
                or data[offset:] != old.data[old.offset:]):
            return None
        shown = utf8_bytes(old.text)
        if n == 0 or len(shown) <= n or not shown.startswith(typed):
            return None
        rest = decode(shown[n:])
        if not rest.strip():
            return None
        return _Shown(data, offset, rest, old.confidence)


# ---------------------------------------------------------------------------- entry point

def _line_rest(data: bytes, offset: int) -> str:
    """The text after byte `offset` up to the end of its line."""
    end = data.find(b"\n", offset)
    return decode(data[offset:end if end >= 0 else len(data)])


def ghost_prompt(engine, doc: StructuredDocument, offset: int, max_tokens: int, cross_file=None, context=None,
                 snippets: tuple = ()):
    """The ghost-text prompt (ids, level ids) at byte `offset` that `inline_suggestions` sends.
    `cross_file` (r1lsp.inline_context.CrossFileContext) adds other files' signatures and
    `snippets`."""
    return ghost_prompts(engine, doc, offset, max_tokens, cross_file, context, snippets,
                         plain=plain_prompt_at(doc.data, offset))[0]


def plain_prompt_at(data: bytes, offset: int) -> bool:
    """Whether ghost text at byte `offset` is asked with the plain prompt (`PLAIN_AT_LINE_END`):
    code before the cursor on its line, nothing after it."""
    start = data.rfind(b"\n", 0, offset) + 1
    return PLAIN_AT_LINE_END and bool(data[start:offset].strip()) and not _line_rest(data, offset).strip()


def ghost_prompts(engine, doc: StructuredDocument, offset: int, max_tokens: int, cross_file=None, context=None,
                  snippets: tuple = (), plain: bool = False):
    """((ids, levels) of the prompt, (ids, levels) of the cold prompt): the same with a prefix of
    `COLD_PREFIX_TOKENS` (its window start also stays put while the user types). The engine runs
    the cold one where the document's prompt cache holds too little of the full one (a request
    right after opening or jumping elsewhere: ~1,400 prompt tokens to compute, ~0.5-1.3 s here),
    and fills the full prompt's cache in the pauses of typing (`Engine.submit_generate`)."""
    text = cross_file.text_for(doc, offset, context, snippets) if cross_file is not None else ""
    full = fim_request(engine, doc, offset, max_tokens, context_text=text, plain=plain)
    return full, fim_request(engine, doc, offset, max_tokens, context_text=text, prefix_tokens=COLD_PREFIX_TOKENS,
                             plain=plain)


def inline_suggestions(doc: StructuredDocument, line: int, character: int, engine, *,
                       max_tokens: int = 48, timeout: float = 5.0,
                       cancel: threading.Event | None = None, key: str | None = None,
                       min_confidence: float | None = None, monitor: bool = False,
                       context: AnalysisContext | None = None, logits_processor=None,
                       typed_ahead: TypedAhead | None = None, cross_file=None,
                       snippets: tuple = (), pause=None, retrieval: bool = False,
                       other_texts: Callable[[], tuple[str, ...]] | None = None,
                       workspace_lines: Callable[[str], list] | None = None) -> list[InlineSuggestion]:
    """Ghost text at (line, UTF-16 character): [] when the position is past the end, the engine
    is missing or not ready and no line is retrieved (retrieval needs no model), the request was cancelled (`cancel` set, or superseded by a newer
    request with the same `key`) or timed out, the only suggestion would add a syntax error,
    or the model's confidence is below `min_confidence` (None: no gate; a retrieved line has
    its own gate, r1lsp.line_retrieval.MIN_EVIDENCE). `monitor`: the member
    monitor constrains names after `receiver.`; `logits_processor(generated_ids, logits)`
    edits each step's logits (model.generate.generate; applied before the monitor).
    `typed_ahead`: the suggestions shown before under `key`; typing their start answers with
    their rest at once. Code before the cursor on its line: at most `LINE_TOKENS` tokens.
    `cross_file` / `snippets`: context from other files in the prompt (`ghost_prompt`).
    `pause()`: called before the prompt is built, before the model is asked and before each
    token (the server's run started ahead of a request waits there while a completion list is
    being made). `retrieval`: where lines of the document (and of the texts the function
    `other_texts()` gives, called only then; then of the workspace's files, `workspace_lines`)
    that start like the cursor's line agree on its rest, that rest is the suggestion, without
    the model (r1lsp.line_retrieval). On a Java import line, the import the file still needs
    (r1lsp.java.import_line, with `context`'s Java index) comes first."""
    t0 = time.perf_counter()
    cur = cursor_at(doc, line, character)
    if cur is None:
        return []
    model_ready = engine is not None and getattr(engine, "state", None) == "ready"
    key = key or f"inline:{id(doc)}"
    pos = (cur.line, cur.character)
    if typed_ahead is not None:
        ahead = typed_ahead.follow(key, doc.data, cur.offset)
        if ahead is not None:
            if min_confidence is None or ahead.confidence >= min_confidence:
                typed_ahead.remember(key, doc.data, cur.offset, ahead.text, ahead.confidence)
                log.debug("ghost text typed ahead: %r", ahead.text)
                return [InlineSuggestion(ahead.text, pos, pos, ahead.confidence)]
        typed_ahead.forget(key)
    if context is not None and context.java_index is not None and doc.language == "java":
        needed = import_rest(doc, cur.offset, context.java_index)        # `import java.util.` -> `List;`
        if needed is not None and not adds_syntax_error(doc, cur.offset, needed):
            log.debug("ghost text: the import the file needs %r", needed)
            if typed_ahead is not None:
                typed_ahead.remember(key, doc.data, cur.offset, needed, 0.0)
            return [InlineSuggestion(needed, pos, pos, 0.0)]
    if retrieval:
        found = retrieved_line(doc, cur.offset, tuple(other_texts()) if other_texts is not None else (),
                               workspace=workspace_lines)
        if found is not None and not adds_syntax_error(doc, cur.offset, found.text):
            log.debug("ghost text %s: %r (share %.2f)", "closing the line" if found.closing else "retrieved",
                      found.text, found.share)
            if typed_ahead is not None:                                  # past retrieval's own gate: kept
                typed_ahead.remember(key, doc.data, cur.offset, found.text, 0.0)
            return [InlineSuggestion(found.text, pos, pos, found.confidence)]
    if not model_ready or in_prose(doc, cur.offset):   # loading, failed or off: copied lines only; not
        return []      # inside strings (the model's there scored 29) or comments (prose: ES 0-33, none at the gate)
    if pause is not None:
        pause()
    (ids, levels), cold = ghost_prompts(engine, doc, cur.offset, max_tokens, cross_file, context, snippets,
                                        plain=plain_prompt_at(doc.data, cur.offset))
    typed = cur.before_word + cur.prefix                                  # the line up to the cursor
    line_has_code = bool(typed.strip())
    stop = BlockStop(doc.language, bracket_context(doc, cur.offset) if doc.tree is not None else True,
                     indent=len(typed) - len(typed.lstrip()), line_has_code=line_has_code,
                     line_rest=bool(_line_rest(doc.data, cur.offset).strip()),
                     line_end=line_has_code and not _line_rest(doc.data, cur.offset).strip())
    processor = logits_processor
    if pause is not None:
        step = lambda ids, logits: pause() and None                      # noqa: E731 (edits nothing)
        processor = step if processor is None else _chain(step, processor)
    if monitor:
        guide = member_monitor(doc, cur.offset, engine, context or AnalysisContext())
        processor = guide if processor is None else _chain(processor, guide)
    stop_early = cancel
    if min_confidence is not None:
        watch = ConfidenceWatch(min_confidence)
        processor = watch if processor is None else _chain(watch, processor)
        stop_early = watch.stopper(cancel)
    n_tokens = min(max_tokens, LINE_TOKENS) if line_has_code else max_tokens
    if pause is not None:
        pause()
    fut = engine.submit_generate(key, ids, levels, n_tokens, stop_fn=stop, cancel=stop_early,
                                 logits_processor=processor, prefix_key=key + "#prefix",
                                 cold_prompt=(*cold, key + "#cold"), best_of=BEST_OF, length_penalty=LENGTH_PENALTY)
    t1 = time.perf_counter()
    res = _wait(fut, timeout, cancel)
    t2 = time.perf_counter()
    if res is None and min_confidence is not None and watch.hopeless:
        log.debug("ghost text given up after %d tokens: mean log-probability %.2f (gate %.2f)", watch.count,
                  watch.total / max(1, watch.count), min_confidence)
        return []
    if res is None:
        log.debug("ghost stages: prompt %.0f ms (%d tokens), no result after %.0f ms", 1000 * (t1 - t0), len(ids),
                  1000 * (t2 - t1))
        return []
    stages = getattr(res, "stages", None) or {}
    log.debug("ghost stages: prompt %.0f ms (%d tokens%s), engine %.0f ms: queued %.0f, prefill %.0f (%d reused, %d "
              "computed), decode %.0f (%d tokens, %d rows)", 1000 * (t1 - t0), len(ids),
              f"; ran the cold prompt, {len(cold[0])} tokens" if stages.get("cold") else "", 1000 * (t2 - t1),
              stages.get("queued_ms", 0), stages.get("prefill_ms", 0), stages.get("reused_tokens", 0),
              stages.get("computed_tokens", 0), stages.get("decode_ms", 0), len(res.tokens), stages.get("rows", 0))
    text = res.text if res.text is not None else engine.decode(res.tokens)
    data = doc.data
    suffix = data[cur.offset:cur.offset + 4 * len(text.encode()) + 64].decode("utf-8", "ignore")
    text = dedupe_suffix(text, suffix)
    if not text.strip():
        log.debug("ghost text dropped: %r is what follows the cursor", res.text)
        return []
    code = before_comment(text, doc.language)
    if code != text:
        log.debug("ghost text cut to %r: the rest of %r is a comment", code, text)
        if not code.strip():
            return []
        text = code

    def gated(kept: str) -> float | None:
        """The confidence of `kept`, None when the gate hides it."""
        confidence = mean_logprob(engine, res.tokens, getattr(res, "logprobs", None), kept)
        if min_confidence is not None and confidence < min_confidence:
            log.debug("ghost text dropped: %r mean log-probability %.2f (gate %.2f)", kept, confidence, min_confidence)
            return None
        return confidence

    whole = text
    confidence = gated(whole)
    if confidence is None:
        return []
    text = syntactic_prefix(doc, cur.offset, whole)
    if text is None:
        log.debug("ghost text dropped: %r adds a syntax error", whole)
        return []
    if text != whole:
        log.debug("ghost text cut to %r: the rest of %r adds a syntax error", text, whole)
        confidence = gated(text)
        if confidence is None:
            return []
    if typed_ahead is not None:
        typed_ahead.remember(key, data, cur.offset, text, confidence)
    log.debug("ghost text of the model at %d:%d: %r mean log-probability %.3f", cur.line, cur.character, text,
              confidence)
    return [InlineSuggestion(text, pos, pos, confidence)]


class ConfidenceWatch:
    """A logits processor that follows the running mean log-probability of the tokens the
    model chose (its own distribution, before any other processor's edit) and gives up on a
    generation the confidence gate would hide anyway: after `after` tokens with a mean below
    `threshold - margin`, `stopper` tells the engine to stop (at the next token). `fork()`
    (model.generate's best_of rows): a copy for another row of the same request; the request
    is hopeless once every row's watch is."""

    def __init__(self, threshold: float, margin: float = 0.5, after: int = 4):
        self.floor, self.after = threshold - margin, after
        self.total, self.count = 0.0, 0
        self.gave_up = False
        self._last = None                                                # previous step's log-probs
        self._rows = [self]                                              # the request's watches

    @property
    def hopeless(self) -> bool:
        return all(w.gave_up for w in self._rows)

    def fork(self) -> "ConfidenceWatch":
        other = ConfidenceWatch.__new__(ConfidenceWatch)
        vars(other).update(vars(self))
        self._rows.append(other)
        return other

    def __call__(self, ids, logits):
        if self._last is not None and ids:
            self.total += float(self._last[ids[-1]])
            self.count += 1
            if self.count >= self.after and self.total / self.count < self.floor:
                self.gave_up = True
        self._last = logits.float().log_softmax(-1)
        return None

    def stopper(self, cancel: threading.Event | None):
        """The engine's cancel check: the caller's event, or this watch giving up."""
        return lambda: self.hopeless or (cancel is not None and cancel.is_set())


class _chain:
    """Two logits processors, `first` then `second`; `fork()` forks the parts that fork."""

    def __init__(self, first, second):
        self.first, self.second = first, second

    def __call__(self, ids, logits):
        edited = self.first(ids, logits)
        logits = logits if edited is None else edited
        again = self.second(ids, logits)
        return logits if again is None else again

    def fork(self) -> "_chain":
        return _chain(*(getattr(p, "fork", lambda p=p: p)() for p in (self.first, self.second)))


def mean_logprob(engine, tokens: list[int], logprobs: list[float] | None, text: str) -> float:
    """Mean log-probability of the tokens that make up `text` (the kept start of the
    generation); 0.0 when the engine reported none."""
    if not logprobs:
        return 0.0
    n = len(text.rstrip())
    k = 1
    while k < len(tokens) and len(engine.decode(tokens[:k]).rstrip()) < n:
        k += 1
    kept = logprobs[:k]
    return sum(kept) / len(kept)


def member_monitor(doc: StructuredDocument, offset: int, engine, context: AnalysisContext) -> MemberMonitor:
    """The monitor for ghost text at byte `offset`: the member names at a `receiver.` the
    generation reaches come from the language's analysis (r1lsp.completion's providers) run on
    the document with the generated text inserted."""
    data = doc.data
    before = decode(data[:offset])
    after = decode(data[offset:])

    def names_at(generated: str):
        text = before + generated
        line = text.count("\n")
        column = len(text.rsplit("\n", 1)[-1].encode("utf-16-le")) // 2
        probe = StructuredDocument(text + after, doc.language)
        cur = cursor_at(probe, line, column)
        if cur is None:
            return None
        # dunders (__class__, __dir__ …) are valid but almost never what comes next
        cands = [c for c in resolved_candidates(probe, cur, context) or () if not c.label.startswith("__")]
        if not cands:
            return None
        # best first by the list's static member ranking: the monitor's prior follows it
        rc, weights = RankContext.of(probe, cur), weights_for(probe.language, member=True)
        cands.sort(key=lambda c: (-rank_score(rank_features(c, cur, rc, None, False), weights), c.label))
        return [c.label for c in cands]

    return MemberMonitor(before[-400:], names_at, _vocabulary(engine), engine.decode, engine.encode)


def _vocabulary(engine) -> list[str]:
    """Each token id's text (kept on the engine's tokenizer: computed once)."""
    tok = engine.tokenizer
    vocab = getattr(tok, "_r1lsp_pieces", None)
    if vocab is None:
        size = min(engine.config.vocab_size, tok.get_vocab_size())
        banned = set(engine.prompts.banned_ids)
        vocab = ["" if i in banned else tok.decode([i]) for i in range(size)]
        tok._r1lsp_pieces = vocab
    return vocab


def _wait(fut, timeout: float, cancel):
    deadline = time.monotonic() + timeout
    while True:
        if cancel is not None and cancel.is_set():
            fut.cancel()
            return None
        left = deadline - time.monotonic()
        if left <= 0:
            fut.cancel()
            return None
        try:
            return fut.result(timeout=min(left, 0.05))
        except FutureTimeout:
            continue
        except (CancelledError, RuntimeError, ValueError):
            return None
