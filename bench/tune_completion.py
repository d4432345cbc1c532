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

import completion_quality as cq

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


if __name__ == "__main__":
    sys.exit(main("--quick" in sys.argv, "--with-model" in sys.argv, "--ghost-only" in sys.argv))
