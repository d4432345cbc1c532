"""Fit the completion list's ranking weights and the ghost-text confidence threshold on the DEV
split of bench/devset.json (never the test split). Run through
`python bench/completion_quality.py --tune [--quick]`; prints the fitted values (they are then
written into r1lsp/completion_rank.py RANK_WEIGHTS and settings.InlineSettings.min_confidence by
hand, with the figures in the README).

Ranking: complete() in-process (the shipped model, fp32) at the dev member positions, every
candidate's features recorded once; then coordinate search over the weights (a grid per
weight, a few sweeps) maximising top-5. Threshold: inline_suggestions() without a gate at the
dev line positions; the threshold chosen maximises the mean edit similarity of the shown
suggestions while keeping at least a quarter of them.
"""
from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass

import completion_quality as cq
from r1lsp.completion_rank import RANK_WEIGHTS

GRID = (-4.0, -2.0, -1.0, -0.5, -0.25, 0.0, 0.25, 0.5, 1.0, 2.0, 4.0)


def _java_index(root):
    from r1lsp.java.workspace import JavaIndex
    index = JavaIndex()
    index.scan([root])
    return index


_JAVA_INDEXES: dict = {}


def ghost_context(p):
    """The analysis context the server gives a dev position's ghost text: the repository is
    the workspace (its Java classes indexed)."""
    from r1lsp.completion import AnalysisContext
    root = cq.ROOT / "cache" / "devset" / p.language / p.repo
    if p.language == "java" and root not in _JAVA_INDEXES:
        _JAVA_INDEXES[root] = _java_index(root)
    index = _JAVA_INDEXES.get(root)
    return AnalysisContext(str(p.path), str(root), None, java_index=index, uri=p.path.as_uri())


def _cross_file():
    from r1lsp.inline_context import CrossFileContext
    return CrossFileContext()


CROSS_FILE = _cross_file()


def top5(samples, weights) -> float:
    from r1lsp.completion import rank_score
    hits = 0
    for want, feats in samples:
        ranked = sorted(feats, key=lambda lf: (-rank_score(lf[1], weights), lf[0]))
        hits += want in [label for label, _ in ranked[:5]]
    return 100.0 * hits / max(1, len(samples))


def fit(samples, start: dict[str, float], sweeps: int = 3) -> dict[str, float]:
    w = dict(start)
    best = top5(samples, w)
    for _ in range(sweeps):
        improved = False
        for k in list(w):
            for v in GRID:
                trial = {**w, k: v}
                score = top5(samples, trial)
                if score > best + 1e-9:
                    best, w, improved = score, trial, True
        if not improved:
            break
    return w


@dataclass
class MemberSample:
    """One dev member position: what the list had, for fitting and for the failure categories."""
    position: object                   # completion_quality.Position
    resolved: bool                     # the language's analysis answered (receiver type known)
    feats: list                        # [(label, features)] of every candidate

    @property
    def pair(self):
        return self.position.expected, self.feats


def member_samples(n_member: int, seed: int = 1, split: str = "dev",
                   languages=cq.LANGS) -> dict[str, list[MemberSample]]:
    """complete() in-process (static features) at `n_member` member positions per language."""
    from r1lsp.completion import RANK_WEIGHTS, AnalysisContext, complete
    from r1lsp.completion_candidates import resolved_candidates
    from r1lsp.completion_names import cursor_at
    from model.structure import StructuredDocument

    from r1lsp.java.workspace import JavaIndex

    out: dict[str, list[MemberSample]] = {l: [] for l in cq.LANGS}
    indexes: dict[str, JavaIndex] = {}                                  # per Java repository, as the server's
    for p in cq.positions(split, n_member, 0, seed=seed):
        if p.language not in languages:
            continue
        doc = StructuredDocument(p.text, p.language)
        ctx = AnalysisContext(str(p.path), None, None)
        if p.language == "java":                                        # workspace index + the open document
            if p.repo not in indexes:
                indexes[p.repo] = JavaIndex()
                indexes[p.repo].scan([cq.ROOT / "cache" / "devset" / "java" / p.repo])
            index, uri = indexes[p.repo], p.path.resolve().as_uri()
            index.update(uri, p.text)
            ctx = AnalysisContext(str(p.path), None, None, java_index=index, uri=uri)
        feats: list = []
        complete(doc, p.line, p.character, None, max_items=1000, timeout=60, features_out=feats,
                 model_continuations=False, context=ctx, weights={**RANK_WEIGHTS, "model": 0.0})
        resolved = resolved_candidates(doc, cursor_at(doc, p.line, p.character), ctx) is not None
        out[p.language].append(MemberSample(p, resolved, feats))
        if p.language == "java":
            index.update(uri, p.path.read_text("utf-8", "replace"))     # closed: the file on disk again
    return out


def categories(samples: list[MemberSample], weights, examples: int = 6) -> dict:
    """Where the right name is lost: the type did not resolve (names of the file instead) and the
    name is missing / ranked > 5, the type resolved but the name is not a member, or it is in
    the list ranked > 5; with examples (file:line, the line before the cursor, the top five)."""
    from r1lsp.completion import rank_score
    cats: dict[str, list] = {"top5": [], "unresolved_missing": [], "unresolved_rank": [],
                             "resolved_missing": [], "resolved_rank": []}
    for s in samples:
        p = s.position
        ranked = [l for l, _ in sorted(s.feats, key=lambda lf: (-rank_score(lf[1], weights), lf[0]))]
        where = "resolved" if s.resolved else "unresolved"
        cat = "top5" if p.expected in ranked[:5] else \
            f"{where}_missing" if p.expected not in ranked else f"{where}_rank"
        line = p.text.split("\n")[p.line]
        cats[cat].append({"at": f"{p.repo}/{p.path.name}:{p.line + 1}", "code": line.strip()[-70:],
                          "want": p.expected, "rank": ranked.index(p.expected) + 1 if p.expected in ranked else None,
                          "top5": ranked[:5], "of": len(ranked)})
    n = max(1, len(samples))
    return {k: {"pct": round(100.0 * len(v) / n, 1), "n": len(v), "examples": v[:examples]}
            for k, v in cats.items()}


def main(quick: bool = False, with_model: bool = False, ghost_only: bool = False) -> int:
    from r1lsp.completion import RANK_WEIGHTS, AnalysisContext, complete
    from r1lsp.engine import Engine
    from r1lsp.inline import inline_suggestions
    from r1lsp.settings import ModelSettings
    from model.structure import StructuredDocument

    n_member, n_line = (30, 10) if quick else (100, 0 if not with_model else 40)
    if ghost_only:
        n_member, n_line = 0, 30
    pos = cq.positions("dev", n_member, n_line, seed=1)
    eng = Engine(ModelSettings(threads=1, quantization="none")).start() if with_model or n_line else None
    if eng is not None:
        eng.wait_ready(300)
    scoring = {**RANK_WEIGHTS, "model": 1.0} if with_model else {**RANK_WEIGHTS, "model": 0.0}
    samples: dict[str, list] = {"python": [], "java": [], "static_python": [], "static_java": []}
    ghosts = []
    t0 = time.perf_counter()
    for p in pos:
        doc = StructuredDocument(p.text, p.language)
        ctx = AnalysisContext(str(p.path), None, None)
        if p.kind == "member":
            feats: list = []
            complete(doc, p.line, p.character, eng, max_items=1000, timeout=60, features_out=feats,
                     model_continuations=False, context=ctx, weights=scoring)
            samples[p.language].append((p.expected, feats))
        else:
            # as the server prompts: context from the repository's other files (r1lsp.inline_context)
            got = inline_suggestions(doc, p.line, p.character, eng, timeout=60, monitor=True,
                                     context=ghost_context(p), cross_file=CROSS_FILE)
            if got:
                text = got[0].text.split("\n")[0]
                ghosts.append((got[0].confidence, cq.edit_similarity(text, p.expected) if text.strip() else 0.0))
    out = {"seconds": round(time.perf_counter() - t0, 1)}
    everything = samples["python"] + samples["java"]
    if not everything:
        ghosts.sort(reverse=True)
        out["ghosts"] = ghosts
        print(json.dumps(out))
        return 0
    no_model = {**RANK_WEIGHTS, "model": 0.0}
    out["dev_top5_current"] = {l: round(top5(samples[l], RANK_WEIGHTS), 1) for l in cq.LANGS}
    out["dev_top5_static_only"] = {l: round(top5(samples[l], no_model), 1) for l in cq.LANGS}
    fitted = fit(everything, RANK_WEIGHTS if with_model else {**RANK_WEIGHTS, "model": 0.0})
    out["weights"] = fitted
    out["dev_top5_fitted"] = {l: round(top5(samples[l], fitted), 1) for l in cq.LANGS}
    fitted_static = fit(everything, no_model)
    fitted_static["model"] = 0.0
    out["weights_static"] = fitted_static
    out["dev_top5_fitted_static"] = {l: round(top5(samples[l], fitted_static), 1) for l in cq.LANGS}
    # threshold: keep >= 25 % of the suggestions, maximise their mean edit similarity
    ghosts.sort(reverse=True)
    if not ghosts:
        print(json.dumps(out, indent=1))
        return 0
    best = (None, -1.0)
    for k in range(max(1, len(ghosts) // 4), len(ghosts) + 1):
        shown = ghosts[:k]
        es = sum(e for _, e in shown) / len(shown)
        if es > best[1]:
            best = (shown[-1][0], es)
    out["ghost_dev"] = {"suggestions": len(ghosts), "line_positions": sum(p.kind == "line" for p in pos),
                        "threshold": best[0], "shown_es_at_threshold": round(best[1], 1),
                        "shown_es_without_gate": round(sum(e for _, e in ghosts) / len(ghosts), 1) if ghosts else None}
    print(json.dumps(out, indent=1))
    return 0


def main_categories(n_member: int = 200) -> int:
    """The failure categories on the dev split (static ranking with the shipped weights)."""
    from r1lsp.completion_rank import weights_for
    t0 = time.perf_counter()
    got = member_samples(n_member)
    out = {l: categories(got[l], weights_for(l, member=True)) for l in cq.LANGS}
    out["seconds"] = round(time.perf_counter() - t0, 1)
    print(json.dumps(out, indent=1))
    return 0


class Matrix:
    """One language's samples as arrays: every candidate's features (rows), the sample each
    belongs to, and which row is the right name: top-5 of a weight vector in one product."""

    def __init__(self, samples: list[MemberSample], names: list[str]):
        import numpy as np
        rows, owner, right = [], [], []
        for i, s in enumerate(samples):
            for label, f in s.feats:
                rows.append([f.get(k, 0.0) for k in names])
                owner.append(i)
                right.append(label == s.position.expected)
        self.names, self.n = names, len(samples)
        self.x = np.array(rows, dtype=np.float64).reshape(-1, len(names))
        self.owner = np.array(owner, dtype=np.int64)
        right = np.array(right, dtype=bool)
        self.has = np.zeros(self.n, dtype=bool)
        self.has[self.owner[right]] = True
        self.right = right

    def top5(self, w: dict[str, float], subset=None) -> float:
        """% of samples (of `subset`, an index array) with the right name among the five best
        (ties broken against it: conservative)."""
        import numpy as np
        score = self.x @ np.array([w.get(k, 0.0) for k in self.names])
        right_score = np.full(self.n, -np.inf)
        right_score[self.owner[self.right]] = score[self.right]
        better = np.bincount(self.owner, weights=(score >= right_score[self.owner]) & ~self.right, minlength=self.n)
        hit = self.has & (better < 5)
        idx = np.arange(self.n) if subset is None else subset
        return 100.0 * hit[idx].mean() if len(idx) else 0.0


def fit_matrix(m: Matrix, start: dict[str, float], subset=None, sweeps: int = 4, fixed=("model", "object_member"),
               grid=GRID, min_gain: float = 0.0):
    """Coordinate search from `start`; a change is kept when it gains more than `min_gain`
    points of top-5 (a margin against fitting the dev set's noise)."""
    w = dict(start)
    best = m.top5(w, subset)
    for _ in range(sweeps):
        improved = False
        for k in m.names:
            if k in fixed:
                continue
            for v in grid:
                trial = {**w, k: v}
                score = m.top5(trial, subset)
                if score > best + min_gain + 1e-9:
                    best, w, improved = score, trial, True
        if not improved:
            break
    return w, best


def fit_pairwise(m: Matrix, subset=None, fixed=("model", "object_member"), l2: float = 0.01, steps: int = 300,
                 start: dict[str, float] | None = None) -> dict[str, float]:
    """A linear ranker trained pairwise: RankNet's logistic loss on score(right) - score(other)
    over every other candidate of each sample, features standardised, full-batch gradient
    descent with an L2 penalty; the weights in the features' own units (what rank_score
    multiplies). The `fixed` features keep their `start` weights (rules such as "Object's own
    members last"): pairs those decide are left out."""
    import numpy as np
    idx = np.arange(m.n) if subset is None else np.asarray(subset)
    keep = np.isin(m.owner, idx[m.has[idx]])
    cols = [i for i, k in enumerate(m.names) if k not in fixed]
    x = m.x[:, cols]
    mu, sd = x[keep].mean(0), x[keep].std(0) + 1e-9
    z = (x - mu) / sd
    ruled = m.x @ np.array([(start or RANK_WEIGHTS).get(k, 0.0) if k in fixed else 0.0 for k in m.names])
    diffs = []
    for r in np.nonzero(m.right & keep)[0]:
        rows = np.nonzero((m.owner == m.owner[r]) & ~m.right)[0]
        rows = rows[np.abs(ruled[r] - ruled[rows]) < 1.0]
        diffs.append(z[r] - z[rows])
    d = np.concatenate(diffs) if diffs else np.zeros((0, len(cols)))
    w = np.zeros(len(cols))
    lr = 0.5
    for _ in range(steps):
        margin = d @ w
        g = -(d * (1.0 / (1.0 + np.exp(margin)))[:, None]).mean(0) + l2 * w
        w -= lr * g
    return {m.names[i]: round(float(w[j] / sd[j]), 4) for j, i in enumerate(cols)}


SMALL_GRID = (-1.0, -0.5, -0.25, 0.0, 0.25, 0.5, 1.0, 2.0)
PAIRWISE_L2 = (0.01, 0.03, 0.1, 0.3, 1.0)
# weights the pairwise fit keeps as RANK_WEIGHTS has them (rules), per language: Java's Object
# members last (what the list promises); Python's object members are weighed by the fit (as a
# rule they cost 2.5 points of dev top-5, 2-fold: `self.__class__`, `super().__eq__` are common)
PAIRWISE_RULES = {"java": ("object_member",)}
MIN_GAIN = 0.6                         # points: two positions of 300


def main_ranking(n_member: int = 300, reuse: bool = False, write: bool = False) -> int:
    """Fit each language's member ranking on the dev split: the coordinate search from the shipped
    weights and the pairwise ranker (fit_pairwise), each checked 2-fold (fit on one half of the
    positions, measured on the other) so what a fit gains is not noise; the failure categories
    before and after. `write`: the pairwise ranker fitted on all the dev positions goes into
    r1lsp/rank-weights.json (what the server ranks member lists with)."""
    import pickle
    import numpy as np
    from r1lsp.completion_rank import MEMBER_WEIGHTS_FILE, RANK_WEIGHTS, weights_for
    cache = cq.ROOT / "cache" / "tune" / f"member_samples_{n_member}.pkl"      # a local cache, never shipped
    t0 = time.perf_counter()
    redo = [l for l in cq.LANGS if f"--redo-{l}" in sys.argv]          # recollect one language, reuse the other
    if reuse and cache.exists():
        got = pickle.loads(cache.read_bytes())
        if redo:
            new = member_samples(n_member, languages=redo)
            got.update({l: new[l] for l in redo})
    else:
        got = member_samples(n_member)
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_bytes(pickle.dumps(got))
    out = {"seconds_collect": round(time.perf_counter() - t0, 1)}
    shipped_file = {"about": "Weights of the completion list after `receiver.` per language: a linear ranker "
                             "trained pairwise (RankNet loss, L2) on the dev split's member positions by "
                             "`python bench/tune_completion.py --ranking --write`; never fitted on the test split.",
                    "languages": {}}
    for lang in cq.LANGS:
        names = sorted({k for s in got[lang] for _, f in s.feats for k in f} | set(RANK_WEIGHTS))
        m = Matrix(got[lang], names)
        shipped = weights_for(lang, member=True)
        start = {**{k: 0.0 for k in names}, **shipped, "model": 0.0}
        base = {**{k: 0.0 for k in names}, **weights_for(lang), "model": 0.0}   # what the fitted weights replace
        fixed = ("model",) + PAIRWISE_RULES.get(lang, ())
        rng = np.random.default_rng(0)
        order = rng.permutation(m.n)
        halves = (order[: m.n // 2], order[m.n // 2:])
        cross = []
        for a, b in (halves, halves[::-1]):
            w, _ = fit_matrix(m, start, a, grid=SMALL_GRID, min_gain=2 * MIN_GAIN)
            cross.append(m.top5(w, b))
        # the L2 penalty: the one that scores best 2-fold over three splits of the positions
        cv = {}
        for l2 in PAIRWISE_L2:
            scores = []
            for seed in range(3):
                o = np.random.default_rng(seed).permutation(m.n)
                for a, b in ((o[: m.n // 2], o[m.n // 2:]), (o[m.n // 2:], o[: m.n // 2])):
                    scores.append(m.top5({**base, **fit_pairwise(m, a, l2=l2, fixed=fixed)}, b))
            cv[l2] = sum(scores) / len(scores)
        l2 = max(cv, key=lambda k: (cv[k], k))
        pair_cross = [m.top5({**base, **fit_pairwise(m, a, l2=l2, fixed=fixed)}, b) for a, b in (halves, halves[::-1])]
        pairwise = fit_pairwise(m, l2=l2, fixed=fixed)
        fitted, score = fit_matrix(m, start, grid=SMALL_GRID, min_gain=MIN_GAIN)
        out[lang] = {"positions": m.n, "in_list_pct": round(100.0 * m.has.mean(), 1),
                     "top5_shipped": round(m.top5(shipped), 1),
                     "top5_fitted": round(score, 1),
                     "top5_heldout_half": round(sum(cross) / 2, 1),
                     "top5_pairwise": round(m.top5({**base, **pairwise}), 1),
                     "top5_pairwise_heldout_half": round(sum(pair_cross) / 2, 1),
                     "pairwise_l2_heldout": {k: round(v, 1) for k, v in cv.items()}, "pairwise_l2": l2,
                     "changed": {k: v for k, v in fitted.items() if v != shipped.get(k, 0.0)},
                     "categories_shipped": {k: v["pct"] for k, v in categories(got[lang], shipped).items()},
                     "categories_pairwise": {k: v["pct"] for k, v in
                                             categories(got[lang], {**base, **pairwise}).items()}}
        shipped_file["languages"][lang] = {
            "dev_positions": m.n, "dev_top5": out[lang]["top5_pairwise"],
            "dev_top5_heldout_half": out[lang]["top5_pairwise_heldout_half"], "l2": l2,
            "weights": dict(sorted(pairwise.items()))}
    if write:
        path = cq.ROOT / "r1lsp" / MEMBER_WEIGHTS_FILE
        path.write_text(json.dumps(shipped_file, indent=1) + "\n")
        out["written"] = str(path)
    out["seconds"] = round(time.perf_counter() - t0, 1)
    print(json.dumps(out, indent=1))
    return 0


def main_test(n_member: int = 200) -> int:
    """The shipped ranking on the TEST split (report only, nothing is fitted here): member top-5
    in-process, static ranking, `n_member` positions per language (seed 0)."""
    from r1lsp.completion_rank import weights_for
    t0 = time.perf_counter()
    got = member_samples(n_member, seed=0, split="test")
    out = {}
    for lang in cq.LANGS:
        m = Matrix(got[lang], sorted({k for s in got[lang] for _, f in s.feats for k in f}))
        out[f"member_top5_{lang}"] = round(m.top5(weights_for(lang, member=True)), 1)
        out[f"in_list_{lang}"] = round(100.0 * m.has.mean(), 1)
        out[f"positions_{lang}"] = m.n
    out["seconds"] = round(time.perf_counter() - t0, 1)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    if "--test" in sys.argv:
        sys.exit(main_test(40 if "--quick" in sys.argv else 200))
    if "--categories" in sys.argv:
        sys.exit(main_categories(40 if "--quick" in sys.argv else 200))
    if "--ranking" in sys.argv:
        sys.exit(main_ranking(40 if "--quick" in sys.argv else 300, "--reuse" in sys.argv, "--write" in sys.argv))
    sys.exit(main("--quick" in sys.argv, "--with-model" in sys.argv, "--ghost-only" in sys.argv))
