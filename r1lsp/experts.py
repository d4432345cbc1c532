"""Expert choice per unit: which of the model's routed experts handled each paragraph (and
sentence) of a document, kept current incrementally after edits. Pure logic; the server turns
`ExpertResults` into diagnostics with `r1lsp.expert_labels`.

Shares. In each layer the router picks top-k experts with weights summing to 1 per (token,
layer); the share of expert e in a unit is the sum of its weights over the unit's code tokens
(`r1lsp.code_roles`) and layers, divided by tokens x layers, so a unit's shares sum to 1.
Weights, not counts: a last choice with 5 % of the mass does little of the work. Expert ids are
pooled across layers, as the calibration (`r1lsp.expert_calibration`) labels them.

Token -> unit: the unit holding the token's first byte; a token starting in the gap before a
unit (" public") belongs to the unit it reaches into; pure-whitespace tokens between units to none.

Incremental routing (`ExpertMap`). Each paragraph is routed on its own (`<|lang|>` + its tokens,
level ids renumbered as in training, optionally after `context_bytes` of preceding lines), so
its result is a pure function of (kind, text, inner structure, context): that is the cache key.
An edit re-routes only the paragraphs whose key changed and the same method gets the same
experts wherever it sits; the price is less context than a whole-file pass (`route_document`).
`bench/experts_bench.py` measures the speed-up and the agreement with whole-file routing.
A paragraph longer than the model's context is routed in chunks, at most `MAX_CHUNKS` of them
(the rest is not routed). `ExpertResults.version` is the document version routed: a caller
drops older results.
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import threading
from concurrent.futures import CancelledError
from dataclasses import dataclass, field
from typing import Iterable, Sequence

import numpy as np
from tree_sitter import QueryCursor

from r1lsp.code_roles import first_nonspace, load_roles, roles_of
from r1lsp.route_trace import RouteTrace
from model.structure import Hierarchy, HierarchySpan, Level, StructuredDocument, renumber_first_appearance
from model.structure.languages import definition_role, language_support

DEFAULT_TOP = 3                    # experts per unit that get a top sentence


@dataclass(frozen=True)
class UnitExperts:
    """The experts that handled one unit: `shares` (expert, share) sorted by share, descending,
    summing to 1; `tokens` counted; for paragraphs, `top_sentences` holds for each of the unit's
    top experts the sentence where that expert's share is highest (sentence, expert, share)."""
    span: HierarchySpan
    level: Level
    shares: list[tuple[int, float]]
    tokens: int
    top_sentences: list[tuple[HierarchySpan, int, float]] = field(default_factory=list)
    routed_version: int | None = None  # paragraphs from an ExpertMap: the document version routed at
    # units a reader thinks in (r1lsp.expert_units): "class" | "function" | "statement", the
    # header range ((line, UTF-16 col), (line, col)) a diagnostic sits on, the tokens left out of
    # the shares, and the mean surprise (nats) of the code tokens under the model
    role: str | None = None
    header: tuple[tuple[int, int], tuple[int, int]] | None = None
    comments: int = 0
    whitespace: int = 0
    surprise: float | None = None

    @property
    def top_expert(self) -> int | None:
        return self.shares[0][0] if self.shares else None


# ------------------------------------------------------------------------------ aggregation

def token_units(hierarchy: Hierarchy, level, token_starts, token_ends=None) -> np.ndarray:
    """Ordinal (at `level`) of the unit each token belongs to, -1 for none (see the module
    docstring). `token_ends` defaults to the next token's start; negative starts mark tokens
    to skip (special tokens)."""
    t = hierarchy.tables[Level(level)]
    starts = np.asarray(token_starts, dtype=np.int64).reshape(-1)
    n_units = len(t)
    if n_units == 0 or len(starts) == 0:
        return np.full(len(starts), -1, np.int64)
    if token_ends is None:
        ends = np.append(starts[1:], np.iinfo(np.int64).max)
    else:
        ends = np.asarray(token_ends, dtype=np.int64).reshape(-1)
    us, ue = t.start_byte, t.end_byte
    i = np.searchsorted(us, starts, side="right") - 1
    ic = np.clip(i, 0, n_units - 1)
    inside = (i >= 0) & (starts < ue[ic])
    j = i + 1
    jc = np.clip(j, 0, n_units - 1)
    reaches = (j < n_units) & (ends > us[jc])
    unit = np.where(inside, i, np.where(reaches, j, -1))
    unit[starts < 0] = -1
    return unit


def share_matrix(trace, units: np.ndarray, n_units: int, n_experts: int) -> tuple[np.ndarray, np.ndarray]:
    """(shares (U, E) float64, tokens (U,) int64) from a trace and each token's unit (-1: skip)."""
    experts = np.asarray(trace.experts, dtype=np.int64)
    weights = np.asarray(trace.weights, dtype=np.float64)
    if experts.ndim == 2:                                      # (T, k): one layer
        experts, weights = experts[None], weights[None]
    L, T, k = experts.shape
    if experts.size and (experts.min() < 0 or experts.max() >= n_experts):
        raise ValueError(f"expert ids outside 0..{n_experts - 1}")
    if len(units) != T:
        raise ValueError(f"{len(units)} token positions for a trace of {T} tokens")
    tot = weights.sum(-1, keepdims=True)
    w = np.where(tot > 0, weights / np.where(tot > 0, tot, 1.0), 1.0 / k)
    valid = units >= 0
    u = units[valid]
    idx = (u[None, :, None] * n_experts + experts[:, valid]).reshape(-1)
    mat = np.bincount(idx, weights=w[:, valid].reshape(-1), minlength=n_units * n_experts)
    mat = mat[: n_units * n_experts].reshape(n_units, n_experts)
    tokens = np.bincount(u, minlength=n_units)[:n_units]
    denom = np.maximum(tokens * L, 1)[:, None]
    return mat / denom, tokens


def _sorted_shares(row: np.ndarray) -> list[tuple[int, float]]:
    nz = np.flatnonzero(row > 0)
    order = nz[np.argsort(-row[nz], kind="stable")]
    return [(int(e), float(row[e])) for e in order]


def aggregate(trace, token_starts, hierarchy: Hierarchy, level=Level.PARAGRAPH, *,
              token_ends=None, n_experts: int | None = None, top: int = DEFAULT_TOP,
              code: np.ndarray | None = None) -> list[UnitExperts]:
    """Per unit of `level`, the experts that handled its tokens (units without routed tokens are
    left out). `trace`: RouteTrace-like (experts (L, T, k), weights (L, T, k)); `token_starts`:
    the UTF-8 byte offset of each of the T tokens in the document (negative: skip the token).
    For paragraphs, `top_sentences` names, for each of the `top` experts, the paragraph's
    sentence where that expert's share is highest. `code` (T,) bool: only those tokens count
    (`r1lsp.code_roles`: comments and whitespace are left out of shares)."""
    level = Level(level)
    experts = np.asarray(trace.experts)
    E = int(n_experts if n_experts is not None else (experts.max() + 1 if experts.size else 1))
    units = token_units(hierarchy, level, token_starts, token_ends)
    if code is not None:
        units = np.where(np.asarray(code, bool), units, -1)
    n_units = hierarchy.count(level)
    shares, tokens = share_matrix(trace, units, n_units, E)
    sent_shares = sent_tokens = sent_parent = None
    if level == Level.PARAGRAPH and top > 0:
        s_units = token_units(hierarchy, Level.SENTENCE, token_starts, token_ends)
        if code is not None:
            s_units = np.where(np.asarray(code, bool), s_units, -1)
        sent_shares, sent_tokens = share_matrix(trace, s_units, hierarchy.count(Level.SENTENCE), E)
        sent_parent = hierarchy.tables[Level.SENTENCE].parent
    out = []
    for u in np.flatnonzero(tokens > 0).tolist():
        ranked = _sorted_shares(shares[u])
        tops: list[tuple[HierarchySpan, int, float]] = []
        if sent_shares is not None:
            lo = int(np.searchsorted(sent_parent, u, side="left"))
            hi = int(np.searchsorted(sent_parent, u, side="right"))
            cand = [s for s in range(lo, hi) if sent_tokens[s] > 0]
            if cand:
                block = sent_shares[cand]                                   # (S, E)
                for e, _ in ranked[:top]:
                    s = int(np.argmax(block[:, e]))
                    tops.append((hierarchy.span(Level.SENTENCE, cand[s]), e, float(block[s, e])))
        out.append(UnitExperts(hierarchy.span(level, u), level, ranked, int(tokens[u]), tops))
    return out


# ------------------------------------------------------------------------------ model inputs

def model_input(engine, hierarchy: Hierarchy, language: str, ids: Sequence[int],
                starts: np.ndarray) -> tuple[list[int], np.ndarray]:
    """prompts.start(language) (R1: [<|lang|>]) + ids with (T + n, 3) level ids from the hierarchy, renumbered from 0 per
    column in order of first appearance (as training windows are); the language token takes
    the first token's units."""
    units = np.asarray(hierarchy.unit_ids(starts) if len(starts) else [(0, 0, 0)], dtype=np.int64)
    start_ids = [int(i) for i in engine.prompts.start(language)]
    if len(starts):
        units = np.concatenate([np.repeat(units[:1], len(start_ids), axis=0), units])
    levels = np.stack([renumber_first_appearance(units[:, c]) for c in range(3)], axis=1)
    return start_ids + [int(i) for i in ids], levels


MAX_CHUNKS = 8                     # model inputs routed per paragraph (16K tokens of r1-tiny); a longer
                                   # paragraph's experts are those of its first MAX_CHUNKS inputs (a 2 MB
                                   # line would hold the model for minutes and its trace ~100 MB)


def _chunk_limit(engine) -> int:
    n = int(getattr(engine, "context_tokens", 0) or 0)
    return max(16, (n or 2048) - 1)


def _wait(futures, cancel, timeout: float | None):
    out = []
    for f in futures:
        if cancel is not None and (cancel.is_set() if hasattr(cancel, "is_set") else cancel()):
            for g in futures:
                g.cancel()
            raise CancelledError()
        out.append(f.result(timeout))
    return out


@dataclass
class DocumentRoute:
    """Whole-document routing: the trace of every text token with its byte range."""
    trace: RouteTrace                 # (L, T, k)
    token_starts: np.ndarray          # (T,)
    token_ends: np.ndarray            # (T,)
    version: int
    requests: int                     # engine route requests made


def route_document(doc: StructuredDocument, engine, *, cancel=None, timeout: float | None = 120.0) -> DocumentRoute:
    """Route the whole text in consecutive windows of the model's context (each window starts
    with `<|lang|>`, level ids renumbered per window). The reference an incremental refresh is
    compared against (`aggregate(r.trace, r.token_starts, doc.hierarchy, token_ends=r.token_ends)`)."""
    version, hierarchy, text, language = doc.version, doc.hierarchy, doc.text, doc.language
    ids, starts = engine.encode_with_offsets(text, 0)
    starts = np.asarray(starts, dtype=np.int64)
    ends = np.append(starts[1:], len(doc.data))
    limit = _chunk_limit(engine)
    futures = []
    for a in range(0, len(ids), limit):
        inp, lev = model_input(engine, hierarchy, language, ids[a:a + limit], starts[a:a + limit])
        futures.append(engine.submit_route(None, inp, lev, cancel=cancel))
    n_start = len(engine.prompts.start(language))
    traces = [t.tokens(n_start) for t in _wait(futures, cancel, timeout)]
    return DocumentRoute(RouteTrace.concat(traces), starts, ends, version, len(futures))


# ------------------------------------------------------------------------------ incremental map

@dataclass(frozen=True)
class ParagraphRoute:
    """One paragraph's routing, independent of where the paragraph sits: token byte ranges
    relative to the paragraph's start, the trace of those tokens, and its aggregate (shares,
    tokens, top sentences as ordinals relative to the paragraph's first sentence)."""
    key: tuple                         # (kind, digest, occurrence)
    rel_starts: np.ndarray
    rel_ends: np.ndarray
    trace: RouteTrace                  # (L, T, k), surprise (T,)
    roles: np.ndarray                  # (T,) code role of each token (r1lsp.code_roles)
    rel_anchors: np.ndarray            # (T,) first non-space byte of each token (its start if blank), relative
    shares: list[tuple[int, float]]
    tokens: int
    top_sentences: list[tuple[int, int, float]]   # (sentence ordinal within the paragraph, expert, share)
    routed_version: int = -1           # the document version this paragraph was routed at
    # what the class / method units are assembled from without touching tokens again
    # (r1lsp.expert_units): shares of the code tokens of each of its sentences (S, E) with
    # their counts (S,), and the definition it opens: ("class" | "function", where its name
    # starts, ends), each relative to the paragraph's start as (lines below, UTF-16 column
    # (counted from the paragraph's start on its first line)); None when it opens none
    sentence_shares: np.ndarray | None = None
    sentence_tokens: np.ndarray | None = None
    header: tuple[str, tuple[int, int], tuple[int, int]] | None = None

    @functools.cached_property
    def counts(self) -> tuple[int, int, int, float, int]:
        """(code tokens, comment tokens, whitespace tokens, sum and count of the code tokens'
        finite surprise)."""
        table = load_roles()
        code = table.is_code[self.roles]
        ok = code & np.isfinite(self.trace.surprise)
        return (int(code.sum()), int(np.count_nonzero(self.roles == table.code("comment"))),
                int(np.count_nonzero(self.roles == table.code("whitespace"))),
                float(self.trace.surprise[ok].astype(np.float64).sum()), int(ok.sum()))

    @property
    def comments(self) -> int:
        return self.counts[1]

    @property
    def whitespace(self) -> int:
        return self.counts[2]

    @property
    def mean_surprise(self) -> float | None:
        return self.counts[3] / self.counts[4] if self.counts[4] else None


@dataclass
class ExpertResults:
    """The experts of every paragraph of one document version."""
    version: int
    units: list[UnitExperts]           # paragraphs with routed tokens, document order
    rerouted: int                      # paragraphs routed by this refresh
    requests: int                      # engine route requests made by this refresh
    hierarchy: Hierarchy
    routes: list[ParagraphRoute]       # parallel to the document's paragraphs
    n_experts: int

    def is_current(self, doc: StructuredDocument) -> bool:
        return doc.version == self.version and doc.hierarchy is self.hierarchy

    def in_range(self, byte_range: tuple[int, int] | None = None, level=Level.PARAGRAPH) -> list[UnitExperts]:
        """Units of `level` meeting [a, b) (all when None): paragraphs come from the map,
        sentences (or phrases) are aggregated on request from the kept traces."""
        level = Level(level)
        if level == Level.PARAGRAPH:
            if byte_range is None:
                return list(self.units)
            a, b = byte_range
            return [u for u in self.units if u.span.end_byte > a and u.span.start_byte < max(b, a + 1)]
        paras = self.hierarchy.at_level(Level.PARAGRAPH)
        picked = [(p, r) for p, r in zip(paras, self.routes)
                  if byte_range is None or (p.end_byte > byte_range[0] and p.start_byte < max(byte_range[1], byte_range[0] + 1))]
        if not picked:
            return []
        trace = RouteTrace.concat([r.trace for _, r in picked])
        starts = np.concatenate([r.rel_starts + p.start_byte for p, r in picked])
        ends = np.concatenate([r.rel_ends + p.start_byte for p, r in picked])
        code = load_roles().is_code[np.concatenate([r.roles for _, r in picked])]
        units = aggregate(trace, starts, self.hierarchy, level, token_ends=ends, n_experts=self.n_experts, top=0,
                          code=code)
        if byte_range is not None:
            a, b = byte_range
            units = [u for u in units if u.span.end_byte > a and u.span.start_byte < max(b, a + 1)]
        return units


class ExpertMap:
    """Per-document paragraph experts, re-routing only what an edit changed (see the module
    docstring for the keying and its trade-off). One map per open document; `refresh` may be
    called from any single thread at a time (a lock serialises callers)."""

    def __init__(self, n_experts: int | None = None, *, context_bytes: int = 0, top: int = DEFAULT_TOP):
        self.n_experts = n_experts
        self.context_bytes = int(context_bytes)
        self.top = top
        self._routes: dict[tuple, ParagraphRoute] = {}
        self._units: dict[tuple, UnitExperts] = {}       # last UnitExperts per key (identity kept)
        self._lock = threading.Lock()
        self.total_rerouted = 0

    def keys(self, hierarchy: Hierarchy, data: bytes) -> list[tuple]:
        """The cache key of every paragraph: (kind, digest of its text, inner sentence/phrase
        boundaries and context text, occurrence among identical paragraphs)."""
        paras = hierarchy.tables[Level.PARAGRAPH]
        sents, phrs = hierarchy.tables[Level.SENTENCE], hierarchy.tables[Level.PHRASE]
        s_lo = np.searchsorted(sents.start_byte, paras.start_byte, "left")
        s_hi = np.searchsorted(sents.start_byte, paras.end_byte, "left")
        p_lo = np.searchsorted(phrs.start_byte, paras.start_byte, "left")
        p_hi = np.searchsorted(phrs.start_byte, paras.end_byte, "left")
        seen: dict[tuple, int] = {}
        out = []
        for i, (sb, eb) in enumerate(zip(paras.start_byte.tolist(), paras.end_byte.tolist())):
            h = hashlib.blake2b(digest_size=16)
            h.update(data[sb:eb])
            h.update(b"\x00")
            h.update((sents.start_byte[s_lo[i]:s_hi[i]] - sb).tobytes())
            h.update((sents.end_byte[s_lo[i]:s_hi[i]] - sb).tobytes())
            h.update((phrs.start_byte[p_lo[i]:p_hi[i]] - sb).tobytes())
            if self.context_bytes:
                h.update(b"\x01" + data[self._context_start(data, sb):sb])
            base = (paras.kind[i], h.hexdigest())
            n = seen.get(base, 0)
            seen[base] = n + 1
            out.append(base + (n,))
        return out

    def _context_start(self, data: bytes, sb: int) -> int:
        if self.context_bytes <= 0 or sb == 0:
            return sb
        a = max(0, sb - self.context_bytes)
        if a > 0:
            nl = data.find(b"\n", a, sb)
            a = sb if nl < 0 else nl + 1               # whole lines only
        return a

    def refresh(self, doc: StructuredDocument, changed_paragraphs: Iterable[HierarchySpan] | None,
                engine, *, cancel=None, timeout: float | None = 120.0) -> tuple[ExpertResults, int]:
        """Bring the map up to `doc` and return (results, rerouted_count).

        `changed_paragraphs` (what `apply_change` returned; None after opening) is a hint only:
        every paragraph is checked by its key (a digest per paragraph, ~1 ms for 2,000 lines),
        so a paragraph whose text is back to a routed state is not routed again, and nothing
        changed can be missed. Paragraphs are routed in one submission (the engine serves them
        back to back). Raises CancelledError when `cancel` is set or a request is cancelled;
        the paragraphs routed until then stay cached."""
        del changed_paragraphs                          # see docstring: keys decide
        with self._lock:
            version, hierarchy, text, language = doc.version, doc.hierarchy, doc.text, doc.language
            data = doc.data
            keys = self.keys(hierarchy, data)
            paras = hierarchy.at_level(Level.PARAGRAPH)
            todo = [i for i, k in enumerate(keys) if k not in self._routes]
            if self.n_experts is None:
                self.n_experts = _n_experts(engine, list(self._routes.values()))
            new_routes, requests = self._route(engine, hierarchy, language, data, paras, keys, todo,
                                               cancel, timeout, doc.tree)
            new_routes = {k: dataclasses.replace(r, routed_version=version) for k, r in new_routes.items()}
            routes = {**{k: self._routes[k] for k in keys if k in self._routes}, **new_routes}
            self._routes = routes
            ordered = [routes[k] for k in keys]
            sent_lo = np.searchsorted(hierarchy.tables[Level.SENTENCE].parent, np.arange(len(paras)), "left")
            units, kept_units = [], {}
            for i, (p, k, r) in enumerate(zip(paras, keys, ordered)):
                if r.tokens == 0:
                    continue
                old = self._units.get(k)
                if old is not None and old.span == p and k not in new_routes:
                    u = old
                else:
                    tops = [(hierarchy.span(Level.SENTENCE, int(sent_lo[i]) + s), e, sh)
                            for s, e, sh in r.top_sentences]
                    u = UnitExperts(p, Level.PARAGRAPH, r.shares, r.tokens, tops, r.routed_version,
                                    comments=r.comments, whitespace=r.whitespace, surprise=r.mean_surprise)
                units.append(u)
                kept_units[k] = u
            self._units = kept_units
            self.total_rerouted += len(todo)
            return ExpertResults(version, units, len(todo), requests, hierarchy, ordered, self.n_experts), len(todo)

    def _route(self, engine, hierarchy, language, data, paras, keys, todo, cancel, timeout, tree=None):
        if not todo:
            return {}, 0
        limit = _chunk_limit(engine)
        n_start = len(engine.prompts.start(language))   # tokens opening each model input
        jobs = []                                      # (paragraph index, [(future, n_front)], starts, ends)
        for i in todo:
            p = paras[i]
            a = self._context_start(data, p.start_byte)
            seg = data[a:p.end_byte].decode("utf-8", "surrogatepass")
            ids, starts = engine.encode_with_offsets(seg, a)
            starts = np.asarray(starts, dtype=np.int64)
            ends = np.append(starts[1:], p.end_byte)
            first = int(np.searchsorted(starts, p.start_byte, "left"))
            if first and starts[first - 1] < p.start_byte < ends[first - 1]:
                first -= 1                             # a token straddling the start is the paragraph's
            ctx0 = max(0, first - limit // 4)          # context never crowds out the paragraph
            subs = []
            pos = first
            while pos < len(ids) and len(subs) < MAX_CHUNKS:   # chunks of the paragraph, the first with context
                lo = ctx0 if pos == first else pos
                hi = min(len(ids), lo + limit)
                inp, lev = model_input(engine, hierarchy, language, ids[lo:hi], starts[lo:hi])
                subs.append((engine.submit_route(None, inp, lev, cancel=cancel), n_start + pos - lo))
                pos = hi
            jobs.append((i, subs, starts[first:pos], ends[first:pos]))   # tokens past MAX_CHUNKS: not routed
        requests = sum(len(s) for _, s, _, _ in jobs)
        results = {}
        for i, subs, starts, ends in jobs:
            traces = [t.tokens(n) for t, n in zip(_wait([f for f, _ in subs], cancel, timeout), [n for _, n in subs])]
            roles = roles_of(tree, data, language, starts, ends)
            anchors = first_nonspace(data, starts, ends)
            route = self._paragraph_route(keys[i], paras[i], hierarchy, RouteTrace.concat(traces), starts, ends, roles, anchors)
            results[keys[i]] = dataclasses.replace(route, header=_header(tree, language, hierarchy, paras[i], data))
        return results, requests

    def _paragraph_route(self, key, p: HierarchySpan, hierarchy: Hierarchy, trace, starts, ends,
                         roles, anchors) -> ParagraphRoute:
        E = self.n_experts or int(np.asarray(trace.experts).max(initial=0)) + 1
        code = load_roles().is_code[roles]
        units = aggregate(trace, starts, hierarchy, Level.PARAGRAPH, token_ends=ends, n_experts=E, top=self.top,
                          code=code)
        own = [u for u in units if u.span.id == p.id]
        sent0 = int(np.searchsorted(hierarchy.tables[Level.SENTENCE].parent,
                                    hierarchy.ordinal(p.id)[1], "left"))
        if own:
            u = own[0]
            tops = [(hierarchy.ordinal(s.id)[1] - sent0, e, sh) for s, e, sh in u.top_sentences]
            shares, tokens = u.shares, u.tokens
        else:
            shares, tokens, tops = [], 0, []
        n_sent = int(np.searchsorted(hierarchy.tables[Level.SENTENCE].parent, hierarchy.ordinal(p.id)[1], "right")) - sent0
        s_units = token_units(hierarchy, Level.SENTENCE, starts, ends) - sent0
        s_units = np.where(code & (s_units >= 0) & (s_units < n_sent), s_units, -1)
        s_shares, s_tokens = share_matrix(trace, s_units, max(n_sent, 0), E)
        return ParagraphRoute(key, starts - p.start_byte, ends - p.start_byte,
                              trace, np.asarray(roles, np.int64), anchors - p.start_byte, shares, tokens, tops,
                              sentence_shares=s_shares.astype(np.float32), sentence_tokens=s_tokens)


def _header(tree, language: str, hierarchy: Hierarchy, p: HierarchySpan, data: bytes):
    """Where the `@name` of the definition this paragraph opens sits (the query's captures),
    relative to the paragraph (see ParagraphRoute.header); None when it opens none."""
    support = language_support(language)
    if tree is None or support is None or p.name is None:
        return None
    t = hierarchy.tables[Level.PARAGRAPH]
    i = hierarchy.ordinal(p.id)[1]
    owner = (int(t.owner_start[i]), int(t.owner_end[i]))
    if owner[0] < p.start_byte:
        return None                                    # a later run of its definition
    cursor = QueryCursor(support.query)
    cursor.set_byte_range(p.start_byte, p.end_byte)
    for _, caps in cursor.matches(tree.root_node):
        names = caps.get("name")
        for capture, nodes in caps.items():
            role = definition_role(capture)
            if role and names and any((d.start_byte, d.end_byte) == owner for d in nodes):
                return (role,) + tuple(_relative(data, p, b) for b in (names[0].start_byte, names[0].end_byte))
    return None


def _relative(data: bytes, p: HierarchySpan, b: int) -> tuple[int, int]:
    """(lines below p's first line, UTF-16 column: from p's start on its first line, else absolute)."""
    before = data[p.start_byte:b]
    nl = before.rfind(b"\n")
    line = before.count(b"\n")
    tail = before[nl + 1:] if nl >= 0 else before
    return line, len(tail.decode("utf-8", "surrogatepass").encode("utf-16-le")) // 2


def _n_experts(engine, routes: list[ParagraphRoute]) -> int | None:
    """The model's expert count (engine.config), else None (taken from the traces)."""
    cfg = getattr(engine, "config", None)
    if cfg is not None and getattr(cfg, "n_experts", None):
        return int(cfg.n_experts)
    n = getattr(engine, "n_experts", None)
    return int(n) if n else None


__all__ = ["DocumentRoute", "ExpertMap", "ExpertResults", "ParagraphRoute", "UnitExperts", "aggregate",
           "model_input", "route_document", "share_matrix", "token_units"]
