"""Fit the completion list's ranking weights and the ghost-text confidence threshold on the DEV
split of bench/devset.json (never the test split).

    python bench/tune_completion.py --ranking [--positions N] [--reuse] [--write]
    python bench/tune_completion.py --test            (report only: the test split's member top-5)
    python bench/tune_completion.py --categories      (where the right member is lost, with examples)
    python bench/tune_completion.py --ghost-only      (the ghost-text threshold)

Ranking (`--ranking`): complete() in-process at the dev member positions, as the server calls it
(jedi's project at the workspace folder, the server's weights), every candidate's features
recorded once, for the analysis' list and for the list made of the file's names; then a linear
ranker per language and list trained pairwise (`fit_pairwise`), its L2 penalty chosen leaving one
repository out; beside it, for the analysis' list, a small neural ranker over the linear one's
first candidates (`fit_net`, r1lsp/completion_net.py), shipped where it gains NET_MARGIN points
held out by repository (`--net python`: tried for Python only; `--no-net`: not tried); `--write`
puts them in r1lsp/rank-weights.json (the fits themselves: bench/rank_fit.py). Threshold:
inline_suggestions() without a gate at the dev line positions; the threshold chosen maximises the
mean edit similarity of the shown suggestions while keeping at least a quarter of them.
"""
from __future__ import annotations

import contextlib
import json
import sys
import time
from dataclasses import dataclass

import completion_quality as cq
from rank_fit import Matrix, fit_net, fit_pairwise, net_cost_ms
from r1lsp.completion_rank import NAMES, RANK_WEIGHTS

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


def workspace_folder(p):
    """The workspace folder bench/completion_quality.py opens the server on for a position (the
    repository's unpacked top folder): jedi's project root there."""
    base = cq.ROOT / "cache" / "devset" / p.language / p.repo
    return base / p.path.relative_to(base).parts[0]


@dataclass
class MemberSample:
    """One dev member position: what the list had, for fitting and for the failure categories."""
    position: object                   # completion_quality.Position
    resolved: bool                     # the language's analysis answered (receiver type known)
    feats: list                        # [(label, features)] of every candidate

    @property
    def pair(self):
        return self.position.expected, self.feats


@contextlib.contextmanager
def names_only(language: str):
    """complete() as the server answers while the analysis is pending (or does not resolve the
    receiver): the structure's names of the file, ranked by their own weights."""
    from r1lsp import completion_candidates
    provider = completion_candidates.PROVIDERS.pop(language, None)
    try:
        yield
    finally:
        if provider is not None:
            completion_candidates.PROVIDERS[language] = provider


def member_samples(n_member: int, seed: int = 1, split: str = "dev", languages=cq.LANGS,
                   names: bool = True, pos: list | None = None) -> dict[str, list[MemberSample]]:
    """complete() in-process (static features) at `n_member` member positions per language (or
    at the member positions `pos`); `names`: also the list made of the file's names at each
    (keys `<language>/names`)."""
    from r1lsp.completion import AnalysisContext, complete
    from r1lsp.completion_candidates import resolved_candidates
    from r1lsp.completion_names import cursor_at
    from model.structure import StructuredDocument

    from r1lsp.java.workspace import JavaIndex

    out: dict[str, list[MemberSample]] = {k: [] for l in cq.LANGS for k in (l, l + NAMES)}
    indexes: dict[str, JavaIndex] = {}                                  # per Java repository, as the server's
    for p in cq.positions(split, n_member, 0, seed=seed) if pos is None else pos:
        if p.language not in languages or p.kind != "member":
            continue
        doc = StructuredDocument(p.text, p.language)
        ctx = AnalysisContext(str(p.path), str(workspace_folder(p)), None)    # jedi's project: the server's
        if p.language == "java":                                        # workspace index + the open document
            if p.repo not in indexes:
                indexes[p.repo] = JavaIndex()
                indexes[p.repo].scan([cq.ROOT / "cache" / "devset" / "java" / p.repo])
            index, uri = indexes[p.repo], p.path.resolve().as_uri()
            index.update(uri, p.text)
            ctx = AnalysisContext(str(p.path), None, None, java_index=index, uri=uri)
        feats: list = []
        # weights None: the server's (the list's order decides which candidates jedi types)
        complete(doc, p.line, p.character, None, max_items=1000, timeout=60, features_out=feats,
                 model_continuations=False, context=ctx)
        resolved = resolved_candidates(doc, cursor_at(doc, p.line, p.character), ctx) is not None
        out[p.language].append(MemberSample(p, resolved, feats))
        if names:                                                       # the same position, the file's names
            feats = []
            with names_only(p.language):
                complete(doc, p.line, p.character, None, max_items=1000, timeout=60, features_out=feats,
                         model_continuations=False, context=ctx)
            out[p.language + NAMES].append(MemberSample(p, False, feats))
        if p.language == "java":
            index.update(uri, p.path.read_text("utf-8", "replace"))     # closed: the file on disk again
    return out


def ranked_top5(sample: MemberSample, weights, net=None) -> list[str]:
    """The five best labels of a sample's list under `weights` (ties by label, as complete()),
    the first ones then ordered by `net` (a RankNet) where given."""
    from r1lsp.completion_rank import rank_score
    ranked = sorted(sample.feats, key=lambda lf: (-rank_score(lf[1], weights), lf[0]))
    if net is not None:
        ranked = [ranked[i] for i in net.order(ranked)]
    return [l for l, _ in ranked[:5]]


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


def served_top5(samples: list[MemberSample], language: str, member: dict | None = None,
                names: dict | None = None, net=False) -> float:
    """Top-5 % of `samples` as the server ranks them: a list the analysis made with the member
    weights (its first candidates then ordered by the `net`, a RankNet or None), a list made of
    the file's names (the receiver unresolved) with the names weights (the shipped ones unless
    given)."""
    from r1lsp.completion_rank import member_net, weights_for
    member = weights_for(language, member=True) if member is None else member
    names = weights_for(language, member=True, names=True) if names is None else names
    net = member_net(language) if net is False else net
    hits = [s.position.expected in ranked_top5(s, member if s.resolved else names, net if s.resolved else None)
            for s in samples]
    return 100.0 * sum(hits) / max(1, len(hits))


NET_L2 = (0.01, 0.03, 0.1)
NET_MARGIN = 0.5            # points of dev top-5 (held out by repository) a net must gain over the linear ranker


PAIRWISE_L2 = (0.003, 0.01, 0.03, 0.1, 0.3, 1.0)
# weights the pairwise fit keeps as RANK_WEIGHTS has them (rules), per language: Java's Object
# members last (what the list promises); Python's object members are weighed by the fit (as a
# rule they cost 2.5 points of dev top-5, 2-fold: `self.__class__`, `super().__eq__` are common)
PAIRWISE_RULES = {"java": ("object_member",)}


def main_ranking(n_member: int = 300, reuse: bool = False, write: bool = False) -> int:
    """Fit each language's member ranking on the dev split, for the analysis' list and for the
    list made of the file's names: the pairwise ranker (fit_pairwise), its L2 penalty chosen
    leaving one repository out (fitted on the others, measured on it: held-out code), also
    checked 2-fold; the failure categories before and after. `write`: the rankers fitted on all
    the dev positions go into r1lsp/rank-weights.json (what the server ranks member lists with)."""
    import pickle
    import numpy as np
    from r1lsp.completion_net import RankNet
    from r1lsp.completion_rank import MEMBER_WEIGHTS_FILE, RANK_WEIGHTS, weights_for
    cache = cq.ROOT / "cache" / "tune" / f"member_samples_{n_member}.pkl"      # a local cache, never shipped
    t0 = time.perf_counter()
    redo = [l for l in cq.LANGS if f"--redo-{l}" in sys.argv]          # recollect one language, reuse the other
    if reuse and cache.exists():
        got = pickle.loads(cache.read_bytes())
        if redo:
            new = member_samples(n_member, languages=redo)
            got.update({k: v for k, v in new.items() if k.split("/")[0] in redo})
    else:
        got = member_samples(n_member)
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_bytes(pickle.dumps(got))
    out = {"seconds_collect": round(time.perf_counter() - t0, 1)}
    shipped_file = {"about": "Weights of the completion list after `receiver.` per language: a linear ranker "
                             "trained pairwise (RankNet loss, L2) on the dev split's member positions by "
                             "`python bench/tune_completion.py --ranking --write`; never fitted on the test split. "
                             "`names`: the ranker of the list made of the file's names (jedi pending, a receiver "
                             "the analysis does not resolve), fitted on that list at the same positions. `net`: "
                             "a small neural ranker (r1lsp/completion_net.py) that orders the first `top` "
                             "candidates of the linear ranking of the analysis' list, shipped where it gained "
                             "on dev code held out by repository.",
                    "languages": {}}
    for key in [k for l in cq.LANGS for k in (l, l + NAMES) if got.get(k)]:
        lang, names_list = key.split("/")[0], key.endswith(NAMES)
        # the member ranker is fitted on the lists the analysis made (the others get the names')
        samples = [s for s in got[key] if names_list or s.resolved]
        names = sorted({k for s in samples for _, f in s.feats for k in f} | set(RANK_WEIGHTS))
        m = Matrix(samples, names)
        shipped = weights_for(lang, member=True, names=names_list)
        start = {**{k: 0.0 for k in names}, **shipped, "model": 0.0}
        base = {**{k: 0.0 for k in names}, **weights_for(lang), "model": 0.0}   # what the fitted weights replace
        fixed = ("model",) + PAIRWISE_RULES.get(lang, ())
        rng = np.random.default_rng(0)
        order = rng.permutation(m.n)
        halves = (order[: m.n // 2], order[m.n // 2:])
        # the L2 penalty: the one that scores best fitted on all repositories but one, measured
        # on that one (what held-out code asks of the ranker), weighted by positions
        repos = np.array([s.position.repo for s in samples])
        folds = [(np.nonzero(repos != r)[0], np.nonzero(repos == r)[0]) for r in sorted(set(repos))]
        cv, per_repo = {}, {}
        for l2 in PAIRWISE_L2:
            scores = [(len(b), m.top5({**base, **fit_pairwise(m, a, l2=l2, fixed=fixed)}, b)) for a, b in folds]
            cv[l2] = sum(n * v for n, v in scores) / max(1, sum(n for n, _ in scores))
            per_repo[l2] = {r: round(v, 1) for r, (_, v) in zip(sorted(set(repos)), scores)}
        l2 = max(cv, key=lambda k: (cv[k], k))
        pair_cross = [m.top5({**base, **fit_pairwise(m, a, l2=l2, fixed=fixed)}, b) for a, b in (halves, halves[::-1])]
        pairwise = fit_pairwise(m, l2=l2, fixed=fixed)
        out[key] = {"positions": m.n, "in_list_pct": round(100.0 * m.has.mean(), 1),
                    "top5_shipped": round(m.top5(shipped), 1),
                    "top5_pairwise": round(m.top5({**base, **pairwise}), 1),
                    "top5_pairwise_heldout_half": round(sum(pair_cross) / 2, 1),
                    "top5_pairwise_heldout_repository": round(cv[l2], 1),
                    "pairwise_l2_heldout_repository": {k: round(v, 1) for k, v in cv.items()},
                    "per_repository": per_repo[l2], "pairwise_l2": l2,
                    "categories_shipped": {k: v["pct"] for k, v in categories(samples, shipped).items()},
                    "categories_pairwise": {k: v["pct"] for k, v in
                                            categories(samples, {**base, **pairwise}).items()}}
        fitted = {"dev_positions": m.n, "dev_top5": out[key]["top5_pairwise"],
                  "dev_top5_heldout_half": out[key]["top5_pairwise_heldout_half"],
                  "dev_top5_heldout_repository": out[key]["top5_pairwise_heldout_repository"], "l2": l2,
                  "weights": dict(sorted(pairwise.items()))}
        if not names_list and lang in _net_languages():
            # the neural ranker over the linear one's first candidates, held out by repository as
            # the linear one (each fold's net after that fold's linear ranking); shipped where it
            # gains NET_MARGIN points there
            linear_folds = [{**base, **fit_pairwise(m, a, l2=l2, fixed=fixed)} for a, _ in folds]
            net_cv, net_repo = {}, {}
            for nl2 in NET_L2:
                scores = [(len(b), m.top5(lw, b, net=fit_net(m, a, fixed=fixed, l2=nl2, start=start)))
                          for (a, b), lw in zip(folds, linear_folds)]
                net_cv[nl2] = sum(n * v for n, v in scores) / max(1, sum(n for n, _ in scores))
                net_repo[nl2] = {r: round(v, 1) for r, (_, v) in zip(sorted(set(repos)), scores)}
            nl2 = max(net_cv, key=lambda k: (net_cv[k], k))
            out[key]["net_l2_heldout_repository"] = {k: round(v, 1) for k, v in net_cv.items()}
            out[key]["net_per_repository"] = net_repo[nl2]
            if net_cv[nl2] >= cv[l2] + NET_MARGIN:
                net = fit_net(m, fixed=fixed, l2=nl2, start=start)
                out[key]["top5_net"] = round(m.top5({**base, **pairwise}, net=net), 1)
                fitted["net"] = {"dev_top5": out[key]["top5_net"], "dev_top5_heldout_repository": round(net_cv[nl2], 1),
                                 "l2": nl2, **net.to_json()}
                out[key]["net_ms_per_list"] = net_cost_ms(samples, {**base, **pairwise}, net)
        if names_list:
            shipped_file["languages"].setdefault(lang, {})["names"] = fitted
        else:
            shipped_file["languages"][lang] = {**fitted, **shipped_file["languages"].get(lang, {})}
    for lang in cq.LANGS:                               # as the server ranks: each list with its ranker
        fitted = shipped_file["languages"].get(lang, {})
        base = weights_for(lang)
        net = RankNet.from_json(fitted["net"]) if "net" in fitted else None
        out[f"served_top5_{lang}"] = {
            "shipped": round(served_top5(got[lang], lang), 1),
            "fitted": round(served_top5(got[lang], lang, {**base, **fitted.get("weights", {})},
                                        {**base, **fitted.get("names", fitted).get("weights", {})}, net), 1)}
    if write:
        path = cq.ROOT / "r1lsp" / MEMBER_WEIGHTS_FILE
        path.write_text(json.dumps(shipped_file, indent=1) + "\n")
        out["written"] = str(path)
    out["seconds"] = round(time.perf_counter() - t0, 1)
    print(json.dumps(out, indent=1))
    return 0


def main_test(n_member: int = 200) -> int:
    """The shipped ranking on the TEST split (report only, nothing is fitted here): member top-5
    in-process, static ranking, `n_member` positions per language (seed 0), each list ranked as
    the server ranks it (`served_top5`); `member_top5_names_*`: the list made of the file's names
    at the same positions (the server's first answer while jedi is pending)."""
    from r1lsp.completion_rank import weights_for
    t0 = time.perf_counter()
    got = member_samples(n_member, seed=0, split="test")
    out = {}
    for lang in cq.LANGS:
        m = Matrix(got[lang], sorted({k for s in got[lang] for _, f in s.feats for k in f}))
        out[f"member_top5_{lang}"] = round(served_top5(got[lang], lang), 1)
        # as this figure was measured before the names ranker: one ranker, ties against the right name
        out[f"member_top5_ties_against_{lang}"] = round(m.top5(weights_for(lang, member=True)), 1)
        out[f"in_list_{lang}"] = round(100.0 * m.has.mean(), 1)
        out[f"positions_{lang}"] = m.n
        names = Matrix(got[lang + NAMES], sorted({k for s in got[lang + NAMES] for _, f in s.feats for k in f}))
        out[f"member_top5_names_{lang}"] = round(names.top5(weights_for(lang, member=True, names=True)), 1)
    out["seconds"] = round(time.perf_counter() - t0, 1)
    print(json.dumps(out))
    return 0


def _net_languages() -> tuple[str, ...]:
    """--net LANG[,LANG] (the languages whose neural ranker is tried; default all), --no-net: none."""
    if "--no-net" in sys.argv:
        return ()
    if "--net" in sys.argv:
        return tuple(sys.argv[sys.argv.index("--net") + 1].split(","))
    return cq.LANGS


def _positions(default: int) -> int:
    """--positions N (member positions per language), else `default` (40 with --quick)."""
    if "--positions" in sys.argv:
        return int(sys.argv[sys.argv.index("--positions") + 1])
    return 40 if "--quick" in sys.argv else default


if __name__ == "__main__":
    if "--test" in sys.argv:
        sys.exit(main_test(40 if "--quick" in sys.argv else 200))
    if "--categories" in sys.argv:
        sys.exit(main_categories(40 if "--quick" in sys.argv else 200))
    if "--ranking" in sys.argv:
        sys.exit(main_ranking(_positions(300), "--reuse" in sys.argv, "--write" in sys.argv))
    sys.exit(main("--quick" in sys.argv, "--with-model" in sys.argv, "--ghost-only" in sys.argv))
