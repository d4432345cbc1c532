"""Units a reader thinks in: one per class / method / function (and per statement on request),
with the experts that handled their *code* tokens, the tokens left out (comments, whitespace),
the mean surprise of their code tokens under the model, and how unusual they are for the file.

Which units count comes from the `@definition.<kind>` + `@name` captures (tags.scm)
of the language's query file (the same the outline uses), statements from its `@sentence`
captures; the header a diagnostic sits on is the `@name` node (a statement's first line).
Routing itself stays per paragraph (`r1lsp.experts.ExpertMap`, incremental): a definition is
assembled from the summaries of the paragraphs its node owns (a class's own code is its header,
fields and braces: its methods are units of their own), a statement from the routed tokens whose
first non-space byte lies inside it and not inside a nested statement.

Pure logic over `ExpertResults` and the document; nothing here imports pygls.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from tree_sitter import QueryCursor

from r1lsp.code_roles import load_roles
from r1lsp.route_trace import RouteTrace
from r1lsp.experts import DEFAULT_TOP, ExpertResults, UnitExperts, share_matrix, token_units
from model.structure import HierarchySpan, Level, StructuredDocument
from model.structure.languages import language_support

UNUSUAL_Z = 2.0          # robust z-score (median / MAD) from which a unit counts as unusual
UNUSUAL_MIN_UNITS = 4    # fewer units than this: no "usual" to compare with
UNUSUAL_MAX_SHARE = 0.2  # at most this fraction of the units is flagged (the most unusual first)


@dataclass
class RoutedTokens:
    """Every routed token of a document version, in document order (absolute byte offsets)."""
    starts: np.ndarray          # (T,)
    ends: np.ndarray            # (T,)
    anchors: np.ndarray         # (T,) first non-space byte
    trace: RouteTrace           # (L, T, k), surprise (T,)
    roles: np.ndarray           # (T,)
    version: np.ndarray         # (T,) document version each token was routed at


def routed_tokens(results: ExpertResults) -> RoutedTokens:
    """The paragraph routes of `results` laid end to end (cached on the results object)."""
    cached = getattr(results, "_routed_tokens", None)
    if cached is not None:
        return cached
    paras = results.hierarchy.at_level(Level.PARAGRAPH)
    routes = [(p, r) for p, r in zip(paras, results.routes) if len(r.rel_starts)]
    if not routes:
        z = np.zeros(0, np.int64)
        out = RoutedTokens(z, z, z, RouteTrace.concat([]), z, z)
    else:
        out = RoutedTokens(
            np.concatenate([r.rel_starts + p.start_byte for p, r in routes]),
            np.concatenate([r.rel_ends + p.start_byte for p, r in routes]),
            np.concatenate([r.rel_anchors + p.start_byte for p, r in routes]),
            RouteTrace.concat([r.trace for _, r in routes]),
            np.concatenate([r.roles for _, r in routes]),
            np.concatenate([np.full(len(r.rel_starts), r.routed_version, np.int64) for _, r in routes]))
    results._routed_tokens = out
    return out


@dataclass(frozen=True)
class _Unit:
    span: HierarchySpan
    role: str
    header: tuple[tuple[int, int], tuple[int, int]]


def statement_units(doc: StructuredDocument) -> list[_Unit]:
    """The statements of `doc`: the nodes of the query's `@sentence` captures (a statement
    nested in another is its own unit); the header is the statement's first line."""
    support = language_support(doc.language)
    if support is None or doc.tree is None:
        return []
    nodes = {}
    for _, caps in QueryCursor(support.query).matches(doc.tree.root_node):
        for n in caps.get("sentence", ()):
            nodes[(n.start_byte, -n.end_byte)] = n
    out = []
    for key in sorted(nodes):
        n = nodes[key]
        start, end = doc.position_at(n.start_byte), doc.position_at(n.end_byte)
        line = start[0]
        first = doc.line_text(line)
        end_col = end[1] if end[0] == line else len(first.rstrip().encode("utf-16-le")) // 2
        span = HierarchySpan(-1, Level.SENTENCE, n.type, n.start_byte, n.end_byte, start, end, None, None)
        out.append(_Unit(span, "statement", (start, (line, max(end_col, start[1])))))
    return out


def _owners(anchors: np.ndarray, units: list[_Unit]) -> np.ndarray:
    """Index of the innermost unit holding each anchor (-1: none); `units` outer before inner."""
    owner = np.full(len(anchors), -1, np.int64)
    for i, u in enumerate(units):
        lo = int(np.searchsorted(anchors, u.span.start_byte, "left"))
        hi = int(np.searchsorted(anchors, u.span.end_byte, "left"))
        owner[lo:hi] = i
    return owner


def reader_units(results: ExpertResults, doc: StructuredDocument, *, statements: bool = False,
                 top: int = DEFAULT_TOP) -> list[UnitExperts]:
    """One `UnitExperts` per class / method / function (plus statements when asked), in document
    order, with shares over code tokens, comments / whitespace counted apart, mean surprise and
    the unit's top sentences. Units without code tokens are left out."""
    out = definitions_from_routes(results, top)
    if statements:
        units = statement_units(doc)
        if units:
            out.extend(_aggregate_units(routed_tokens(results), units, results, top))
    out.sort(key=lambda u: (u.span.start_byte, -u.span.end_byte, u.role == "statement"))
    return out


@dataclass
class _Acc:
    """A definition being assembled from its paragraphs (runs)."""
    first: int                      # paragraph ordinal of its first run
    kind: str
    name: str | None
    role: str
    header: tuple
    start_byte: int
    end_byte: int
    runs: list[int]


def definitions_from_routes(results: ExpertResults, top: int = DEFAULT_TOP) -> list[UnitExperts]:
    """The class / method / function units, assembled from the per-paragraph summaries the map
    keeps (ParagraphRoute.sentence_shares, .counts, .header): no token is looked at again, so a
    refresh costs O(paragraphs x experts) here. A definition's runs are the paragraphs its node
    owns (a class is interrupted by its methods); a paragraph that opens no definition belongs
    to the innermost one around it, if any."""
    h = results.hierarchy
    t = h.tables[Level.PARAGRAPH]
    paras = h.at_level(Level.PARAGRAPH)
    sent_lo = np.searchsorted(h.tables[Level.SENTENCE].parent, np.arange(len(paras)), "left")
    accs: list[_Acc] = []
    by_owner: dict[tuple[int, int], int] = {}
    stack: list[tuple[int, int]] = []                 # (end byte, acc index) of open definitions
    for i, (p, r) in enumerate(zip(paras, results.routes)):
        while stack and stack[-1][0] <= p.start_byte:
            stack.pop()
        owner = (int(t.owner_start[i]), int(t.owner_end[i]))
        if r.header is not None and owner not in by_owner:
            (dl, dc), (el, ec) = r.header[1], r.header[2]
            start = (p.start[0] + dl, p.start[1] + dc if dl == 0 else dc)
            end = (p.start[0] + el, p.start[1] + ec if el == 0 else ec)
            by_owner[owner] = len(accs)
            accs.append(_Acc(i, p.kind, p.name, r.header[0], (start, end), owner[0], owner[1], []))
            stack.append((owner[1], len(accs) - 1))
        k = by_owner.get(owner, stack[-1][1] if stack else None)
        if k is not None:
            accs[k].runs.append(i)
    E = results.n_experts or 1
    out = []
    for a in accs:
        weights = np.zeros(E)
        n_code = comments = blank = s_n = 0
        s_sum = 0.0
        version = -1
        for i in a.runs:
            r = results.routes[i]
            if r.sentence_shares is not None and len(r.sentence_tokens):
                weights[:r.sentence_shares.shape[1]] += (r.sentence_shares * r.sentence_tokens[:, None]).sum(0)
            c = r.counts
            n_code, comments, blank, s_sum, s_n = n_code + c[0], comments + c[1], blank + c[2], s_sum + c[3], s_n + c[4]
            version = max(version, r.routed_version)
        if n_code <= 0 or weights.sum() <= 0:
            continue
        shares = weights / weights.sum()
        nz = np.flatnonzero(shares > 0)
        ranked = [(int(e), float(shares[e])) for e in nz[np.argsort(-shares[nz], kind="stable")]]
        tops = []
        for e, _ in ranked[:top]:
            best = None
            for i in a.runs:
                r = results.routes[i]
                if r.sentence_shares is None or not len(r.sentence_tokens) or e >= r.sentence_shares.shape[1]:
                    continue
                col = np.where(r.sentence_tokens > 0, r.sentence_shares[:, e], -1.0)
                j = int(np.argmax(col))
                if col[j] > 0 and (best is None or col[j] > best[1]):
                    best = (int(sent_lo[i]) + j, float(col[j]))
            if best is not None:
                tops.append((h.span(Level.SENTENCE, best[0]), e, best[1]))
        last = paras[a.runs[-1]]
        span = HierarchySpan(-1, Level.PARAGRAPH, a.kind, a.start_byte, max(a.end_byte, last.end_byte),
                             paras[a.first].start, last.end, None, a.name)
        out.append(UnitExperts(span, Level.PARAGRAPH, ranked, int(n_code), tops, version if version >= 0 else None,
                               role=a.role, header=a.header, comments=int(comments), whitespace=int(blank),
                               surprise=s_sum / s_n if s_n else None))
    return out


def _aggregate_units(toks: RoutedTokens, units: list[_Unit], results: ExpertResults, top: int) -> list[UnitExperts]:
    table = load_roles()
    E = results.n_experts or int(toks.trace.experts.max(initial=0)) + 1
    owner = _owners(toks.anchors, units)
    code = table.is_code[toks.roles] if len(toks.roles) else np.zeros(0, bool)
    n = len(units)
    shares, n_code = share_matrix(toks.trace, np.where(code, owner, -1), n, E)
    valid = owner >= 0
    comments = np.bincount(owner[valid & (toks.roles == table.code("comment"))], minlength=n)[:n]
    blank = np.bincount(owner[valid & (toks.roles == table.code("whitespace"))], minlength=n)[:n]
    finite = code & valid & np.isfinite(toks.trace.surprise)
    s_sum = np.bincount(owner[finite], weights=toks.trace.surprise[finite].astype(np.float64), minlength=n)[:n]
    s_cnt = np.bincount(owner[finite], minlength=n)[:n]
    version = np.full(n, -1, np.int64)
    if valid.any():
        np.maximum.at(version, owner[valid], toks.version[valid])
    # top sentences: the sentence (of the hierarchy) where each top expert's share is highest
    hierarchy = results.hierarchy
    s_units = np.where(code, token_units(hierarchy, Level.SENTENCE, toks.anchors, toks.anchors + 1), -1)
    s_shares, _ = share_matrix(toks.trace, s_units, hierarchy.count(Level.SENTENCE), E)
    # candidate sentences of each unit: (unit, sentence) pairs of its code tokens, grouped by unit
    S = max(hierarchy.count(Level.SENTENCE), 1)
    both = (owner >= 0) & (s_units >= 0)
    pairs = np.unique(owner[both] * S + s_units[both])
    bounds = np.searchsorted(pairs // S, np.arange(n + 1), "left")
    out = []
    for i in np.flatnonzero(n_code > 0).tolist():
        row = shares[i]
        nz = np.flatnonzero(row > 0)
        ranked = [(int(e), float(row[e])) for e in nz[np.argsort(-row[nz], kind="stable")]]
        cand = pairs[bounds[i]:bounds[i + 1]] % S
        tops = []
        if top > 0 and len(cand):
            block = s_shares[cand]
            for e, _ in ranked[:top]:
                j = int(np.argmax(block[:, e]))
                tops.append((hierarchy.span(Level.SENTENCE, int(cand[j])), e, float(block[j, e])))
        u = units[i]
        out.append(UnitExperts(u.span, u.span.level, ranked, int(n_code[i]), tops,
                               int(version[i]) if version[i] >= 0 else None, role=u.role, header=u.header,
                               comments=int(comments[i]), whitespace=int(blank[i]),
                               surprise=float(s_sum[i] / s_cnt[i]) if s_cnt[i] else None))
    return out


# ------------------------------------------------------------------------------ unusual code

@dataclass(frozen=True)
class Unusual:
    """Why a unit stands out: `routing` = L1 distance of its shares from the file's usual
    (token-weighted mean) shares, `surprise` its mean surprise; each with the file's median and
    the robust z-score (median / MAD over the file's units)."""
    routing: float
    routing_median: float
    routing_z: float
    surprise: float | None
    surprise_median: float | None
    surprise_z: float

    @property
    def score(self) -> float:
        return max(self.routing_z, self.surprise_z)

    @property
    def reason(self) -> str:
        if self.surprise_z >= self.routing_z and self.surprise is not None:
            return (f"unusual: surprise {self.surprise:.2f} nats/token, the file's usual "
                    f"{self.surprise_median:.2f}")
        return (f"unusual routing: {self.routing:.2f} from the file's usual expert mix "
                f"(typical {self.routing_median:.2f})")


def _robust_z(x: np.ndarray) -> tuple[np.ndarray, float]:
    med = float(np.median(x))
    mad = float(np.median(np.abs(x - med))) * 1.4826
    scale = mad if mad > 1e-9 else (float(np.std(x)) or 1.0)
    return (x - med) / scale, med


def unusualness(units: list[UnitExperts], n_experts: int) -> dict[int, Unusual]:
    """{index into `units`: Unusual} for every unit, measured against the other units of the
    file ({} with fewer than UNUSUAL_MIN_UNITS units)."""
    if len(units) < UNUSUAL_MIN_UNITS:
        return {}
    mat = np.zeros((len(units), n_experts))
    for i, u in enumerate(units):
        for e, s in u.shares:
            if e < n_experts:
                mat[i, e] = s
    w = np.array([u.tokens for u in units], np.float64)
    usual = (mat * w[:, None]).sum(0) / max(w.sum(), 1)
    dist = np.abs(mat - usual).sum(1)
    dz, dmed = _robust_z(dist)
    sur = np.array([u.surprise if u.surprise is not None else np.nan for u in units])
    ok = np.isfinite(sur)
    sz = np.zeros(len(units))
    smed = None
    if ok.sum() >= UNUSUAL_MIN_UNITS:
        z, smed = _robust_z(sur[ok])
        sz[ok] = z
    return {i: Unusual(float(dist[i]), dmed, float(dz[i]), float(sur[i]) if ok[i] else None, smed, float(sz[i]))
            for i in range(len(units))}


def unusual_units(units: list[UnitExperts], n_experts: int) -> list[tuple[UnitExperts, Unusual]]:
    """The units whose routing or surprise differs most from the file's usual: robust z ≥
    UNUSUAL_Z, at most UNUSUAL_MAX_SHARE of the units, most unusual first. Classes, functions
    and statements are each compared with their own kind."""
    flagged = []
    for role in sorted({u.role for u in units}, key=str):
        group = [u for u in units if u.role == role]
        scores = unusualness(group, n_experts)
        cap = max(1, math.floor(len(group) * UNUSUAL_MAX_SHARE))
        ranked = sorted(((group[i], s) for i, s in scores.items() if s.score >= UNUSUAL_Z), key=lambda p: -p[1].score)
        flagged.extend(ranked[:cap])
    flagged.sort(key=lambda p: -p[1].score)
    return flagged


__all__ = ["RoutedTokens", "UNUSUAL_Z", "Unusual", "definitions_from_routes", "reader_units", "routed_tokens",
           "statement_units", "unusual_units", "unusualness"]
