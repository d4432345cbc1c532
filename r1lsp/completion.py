"""Completion lists: the analysis' candidates ranked by static features and, where its weight
counts, the model.

The list is made of three concepts, one module each: the cursor and the document's names
(`completion_names`), the candidates at the cursor (`completion_candidates`: jedi for Python, the
type index for Java, else the structure's names and the grammar's keywords) and their ranking
(`completion_rank`). This module puts them together (`complete`). With a ready engine and a
non-zero model weight every candidate is also scored by the model's log-likelihood of the rest
of the word after the typed prefix (log p(word | text before the word) - log p(prefix | same);
the text before the word does not change while a word is typed, so the engine's score cache
serves the following keystrokes), and a short greedy continuation of the word is offered. All
positions are (line, UTF-16 column).
"""
from __future__ import annotations

import dataclasses
import re
import time
from concurrent.futures import CancelledError, TimeoutError as FutureTimeout
from dataclasses import dataclass

from r1lsp.engine import encode_window
from model.structure import StructuredDocument
from model.structure.text_index import utf16_len
from r1lsp.completion_calls import _call_shape
from r1lsp.completion_candidates import AnalysisContext, _Cand, _match, resolved_candidates, static_candidates
from r1lsp.completion_counts import _IDENT
from r1lsp.completion_names import Cursor, cursor_at, grammar_keywords
from r1lsp.completion_rank import (RANK_WEIGHTS, RankContext, _expected_type, member_net, rank_features, rank_score,
                                   weights_for)

# what other modules take from here (the list's entry point and the concepts it is made of)
__all__ = ["AnalysisContext", "CompletionCandidate", "CompletionResult", "Cursor", "IdentifierStop", "RANK_WEIGHTS",
           "complete", "cursor_at", "format_completions", "grammar_keywords", "rank_score", "resolved_candidates",
           "warm_up"]


@dataclass
class CompletionCandidate:
    label: str
    kind: str                          # one of KINDS
    detail: str                        # source and score, e.g. "local · -1.23"
    score: float                       # the ranking's score (model log-likelihood combined with static features)
    insert_text: str
    replace_start: tuple[int, int]     # (line, UTF-16 column)
    replace_end: tuple[int, int]
    sort_text: str


@dataclass
class CompletionResult:
    items: list[CompletionCandidate]
    is_incomplete: bool
    stages: dict[str, float] = dataclasses.field(default_factory=dict)   # stage -> seconds (the server logs them)
    from_names: bool = False           # the analysis had not answered: the items are the file's names


# ---------------------------------------------------------------------------- model

def _context_ids(engine, doc: StructuredDocument, end_byte: int, budget: int):
    """[<|lang|>] + the tokens of the text before `end_byte` (at most `budget`, from a window
    start that stays put while the user types: `Engine.encode_window`), with level ids from the
    hierarchy (the language token takes the first text token's units)."""
    data = doc.data
    ids, starts = encode_window(engine, data, end_byte, budget)
    units = doc.hierarchy.unit_ids(starts) if starts else [(0, 0, 0)]
    start_ids = engine.prompts.start(doc.language)
    levels = [units[0]] * len(start_ids) + [tuple(u) for u in units]
    return start_ids + ids, levels


class IdentifierStop:
    """Stop a continuation at the end of the identifier being written (hashable: cacheable)."""

    def __init__(self, word_started: bool):
        self.word_started = word_started

    def __call__(self, text: str) -> int | None:
        if self.word_started:                                           # only identifier characters
            m = re.search(r"[^\w$]", text)
            return m.start() if m else None
        if re.match(r"\s*[^\w$\s]", text):
            return 0                                                    # no identifier comes next
        m = re.search(r"(?<=[\w$])[^\w$]", text)                       # spaces, then one identifier
        return m.start() if m else None

    def __eq__(self, other):
        return isinstance(other, IdentifierStop) and other.word_started == self.word_started

    def __hash__(self):
        return hash(("IdentifierStop", self.word_started))


def _wait(fut, deadline: float):
    try:
        return fut.result(timeout=max(0.0, deadline - time.monotonic()))
    except FutureTimeout:
        fut.cancel()
    except (CancelledError, RuntimeError, ValueError):
        pass
    return None


# ---------------------------------------------------------------------------- complete

DETAILED_ITEMS = 12          # list items that get the analysis' signature / type in `detail`:
DETAIL_BUDGET_S = 0.03      # while this budget lasts (a request with a deadline: until it, at least DETAIL_MIN_S)
DETAIL_MIN_S = 0.005


def complete(doc: StructuredDocument, line: int, character: int, engine=None, *, max_items: int = 50,
             model_continuations: bool = True, timeout: float = 2.0, max_scored: int = 64,
             key: str | None = None, context: AnalysisContext | None = None,
             weights: dict[str, float] | None = None, features_out: list | None = None) -> CompletionResult:
    """The completion list at (line, UTF-16 character). `engine` None or not ready: static
    features only. `timeout` bounds the wait for the model (then the static ranking is used).
    `features_out`, when a list, receives (label, features) of every candidate (for tuning)."""
    clock = [time.perf_counter()]
    stages: dict[str, float] = {}

    def stage(name: str) -> None:
        now = time.perf_counter()
        stages[name] = stages.get(name, 0.0) + now - clock[0]
        clock[0] = now

    cur = cursor_at(doc, line, character)
    if cur is None:
        return CompletionResult([], False)
    ctx = (context or AnalysisContext()).started()
    cands = []
    found, pending = static_candidates(doc, cur, ctx)
    member = cur.before_word.endswith(".")
    net = None
    if weights is None:                 # after a dot made of the file's names (analysis pending / unresolved): their own
        names_list = member and (pending or not _analysed(found))
        weights = weights_for(doc.language, member, names=names_list)
        # the analysis' list after a dot: its first candidates ordered by the neural ranker, where one is shipped
        net = member_net(doc.language) if member and not names_list else None
    stage("candidates")
    for c in found:
        m = _match(c.label, cur.prefix)
        if m is not None:
            c.structural += m - (0.5 if c.label.startswith("__") else 0.0)     # dunders last
            cands.append(c)
    rc = RankContext.of(doc, cur)
    static = {c.label: rank_features(c, cur, rc, None, False) for c in cands}
    cands.sort(key=lambda c: (-rank_score(static[c.label], weights), c.label))
    stage("static_rank")
    expected = _expected_type(doc, cur, ctx, cands)
    _call_shape(doc, cur, ctx, cands)
    stage("expected_type")
    w = weights
    # the model is asked only when its score counts (its tuned weight may be 0: then the list
    # costs the analysis alone)
    use_model = engine is not None and getattr(engine, "state", None) == "ready" and w.get("model", 0.0) != 0.0
    key = key or f"complete:{id(doc)}"
    scores: dict[str, float] = {}
    resolved_member = member and _analysed(cands)
    if use_model:
        budget = max(16, min(512, engine.context_tokens - 64))
        deadline = time.monotonic() + timeout
        if model_continuations and not resolved_member:
            word = _continuation(engine, doc, cur, budget, deadline, key)
            if word and word not in {c.label for c in cands}:
                cands.insert(0, _Cand(word, "model", "model", 0.0))
        scores = _model_scores(engine, doc, cur, cands[:max_scored], budget, deadline, key)
    stage("model")
    floor = min(scores.values()) - 1.0 if scores else None                 # unscored: below every scored
    items = []
    feats: dict[int, dict[str, float]] = {}
    for c in cands:
        s = scores.get(c.label, floor)
        f = rank_features(c, cur, rc, s, bool(expected) and expected == c.value_type and expected != "void")
        if features_out is not None:
            features_out.append((c.label, f))
        feats[id(c)] = f
        items.append((rank_score(f, weights), c, scores.get(c.label)))
    items.sort(key=lambda t: (-t[0], t[1].label))
    if net is not None:
        items = [items[i] for i in net.order([(c.label, feats[id(c)]) for _, c, _ in items])]
    start = (cur.line, cur.character - utf16_len(cur.prefix))
    end = (cur.line, cur.character + utf16_len(cur.tail))
    out = []
    # jedi's signatures / types cost inference: the first items get them within a budget
    stage("rank")
    lazy = [c for _, c, _ in items[:DETAILED_ITEMS] if c.symbol is not None]
    details = {}
    if lazy:
        from r1lsp import pyanalysis
        until = time.monotonic() + DETAIL_BUDGET_S
        found = pyanalysis.describe_within([c.symbol for c in lazy], until if ctx.deadline is None
                                           else max(ctx.deadline, time.monotonic() + DETAIL_MIN_S))
        details = {id(lazy[i]): d for i, d in found.items()}
    stage("details")
    for rank, (total, c, s) in enumerate(items[:max_items]):
        what = details.get(id(c), c.detail)
        score = s if s is not None else total
        how = f"{score:.2f}" if s is not None else f"structure {total:.2f}"
        detail = f"{what} · {c.source} · {how}" if what else f"{c.source} · {how}"
        out.append(CompletionCandidate(c.label, c.kind, detail, total, c.label, start, end, f"{rank:04d}"))
    model_pending = engine is not None and getattr(engine, "state", None) == "loading"
    return CompletionResult(out, len(items) > max_items or model_pending or pending, stages, pending)


def _analysed(cands: list[_Cand]) -> bool:
    """The candidates come from the language's analysis (jedi's symbols, Java's resolved members)."""
    return any(c.symbol is not None or c.receiver_type or c.detail for c in cands)


def _continuation(engine, doc, cur: Cursor, budget: int, deadline: float, key: str) -> str | None:
    """A short greedy continuation of the word at the cursor (None if the model offers none)."""
    ids, levels = _context_ids(engine, doc, cur.offset, budget)
    fut = engine.submit_generate(key + ":cont", ids, levels, max_new_tokens=8,
                                 stop_fn=IdentifierStop(bool(cur.prefix)), prefix_key=key + "#prefix")
    res = _wait(fut, deadline)
    if res is None:
        return None
    text = res.text if res.text is not None else engine.decode(res.tokens)
    if not cur.prefix:
        text = text.lstrip(" \t")                                       # the cursor is after a non-word char
    m = re.match(r"[\w$]*", text)
    word = cur.prefix + (m.group(0) if m else "")
    return word if word and word != cur.prefix and _IDENT.fullmatch(word) else None


def _model_scores(engine, doc, cur: Cursor, cands: list[_Cand], budget: int, deadline: float,
                  key: str) -> dict[str, float]:
    """log p(rest of each label | context + typed prefix), from one score request."""
    if not cands:
        return {}
    ctx_text_end = cur.word_start
    before = cur.before_word
    ws = before[len(before.rstrip(" \t")):]                            # spaces travel with the word (BPE)
    ctx_end = ctx_text_end - len(ws.encode())
    ids, levels = _context_ids(engine, doc, ctx_end, budget)
    words = [ws + c.label for c in cands] + [ws + cur.prefix]
    fut = engine.submit_score(key + ":score", ids, levels, [engine.encode(w) for w in words],
                              prefix_key=key + "#prefix")
    got = _wait(fut, deadline)
    if got is None:
        return {}
    typed = got[-1] if cur.prefix else 0.0
    return {c.label: float(s) - typed for c, s in zip(cands, got[:-1])}


def warm_up(languages=("python", "java")) -> None:
    """Load what the first list of each language would otherwise pay for (the usage prior's
    counts, the grammar's keywords): at initialization, on a worker thread."""
    from r1lsp.usage_prior import usage_prior
    for language in languages:
        usage_prior(language)
        grammar_keywords(language)


# ---------------------------------------------------------------------------- output

def format_completions(result: CompletionResult) -> str:
    """Plain-text listing for the CLI: one candidate per line (label, kind, detail)."""
    if not result.items:
        return "(no completions)"
    width = max(len(c.label) for c in result.items)
    rows = [f"{c.label:<{width}}  {c.kind:<9} {c.detail}" for c in result.items]
    c = result.items[0]  # positions 1-based, as the command line counts them
    rows.append(f"-- replaces {c.replace_start[0] + 1}:{c.replace_start[1] + 1}-{c.replace_end[0] + 1}:{c.replace_end[1] + 1}"
                + ("; incomplete" if result.is_incomplete else ""))
    return "\n".join(rows)
