"""The completion list's ranking: a weighted sum of features per candidate (model score,
structure, nearness, frequency, expected type, …), weights tuned on the dev set."""
from __future__ import annotations

import math

from model.structure import StructuredDocument
from r1lsp.completion_candidates import AnalysisContext, _Cand
from r1lsp.completion_names import Cursor, NameCounts, _receiver, _self_names

# The list's order: score = sum of weight x feature (`rank_features`). Weights tuned on the dev
# set (bench/completion_quality.py --tune, dev split only); the README gives the figures.
RANK_WEIGHTS = {
    "model": 0.0,              # model log p(rest of the word | text before it): r1-tiny's scores lowered
                               # dev top-5 (43 % vs 53 % static, 30 positions per language), so 0
    # the rest: fitted on 100 dev member positions per language (top-5 Python 56 -> 57 %, Java 61 -> 68 %)
    "structural": 2.0,         # the structure's score (prefix match, scope depth, frequency)
    "in_file": 0.5,            # defined in this document
    "near": 4.0,               # 1/(1+log(1+lines between definition and cursor))
    "frequency": 0.5,          # log(1 + occurrences of the name in the document)
    "private": 0.0,            # _name
    "dunder": -3.0,            # __name__
    "builtin": -0.5,
    "type": 2.0,               # its value has the type the position expects (not varied by the fit)
    "inherited": 0.25,         # member declared by a supertype (x depth, at most 2)
    "object_member": -30.0,    # java.lang.Object's own members (toString, wait, …) after the type's
    "same_receiver": 0.25,      # log(1 + uses of `receiver.name` in the document)
    "member_frequency": 0.0,   # log(1 + occurrences of `.name` in the document) (after a dot)
    "private_on_self": -0.5,    # a _name after self. / this.
    "shape": 2.0,              # +1: a method taking as many arguments as the call after the word has; -1: not (Java)
    "kind_keyword": -0.5, "kind_method": 0.0, "kind_field": 0.0, "kind_function": 0.0,
    "kind_class": 0.0, "kind_variable": 0.0, "kind_parameter": 0.5, "kind_module": 0.0, "kind_model": 0.0,
}


def rank_features(c: _Cand, cur: Cursor, counts: NameCounts, model: float | None, type_match: bool) -> dict[str, float]:
    """The features the ranking combines for one candidate."""
    dunder = c.label.startswith("__") and c.label.endswith("__")
    freq = counts.names
    recv = _receiver(cur.before_word[:-1]) if cur.before_word.endswith(".") else None
    f = {"model": model if model is not None else 0.0,
         "structural": c.structural,
         "in_file": float(c.in_file),
         "near": 1.0 / (1.0 + math.log1p(abs(cur.line - c.line))) if c.in_file and c.line is not None else 0.0,
         "frequency": math.log1p(freq.get(c.label, 0)),
         "private": float(c.label.startswith("_") and not dunder),
         "dunder": float(dunder),
         "builtin": float(c.builtin),
         "type": float(type_match),
         "inherited": float(c.depth),
         "object_member": float(c.object_member),
         "same_receiver": math.log1p(c.same_receiver),
         "shape": c.shape,
         f"kind_{c.kind}": 1.0}
    if recv is not None:
        f["same_receiver"] = math.log1p(max(c.same_receiver, counts.pairs.get((recv, c.label), 0)))
        f["member_frequency"] = math.log1p(counts.members.get(c.label, 0))
        f["private_on_self"] = float(f["private"] and recv in _self_names())
    return f


def rank_score(features: dict[str, float], weights: dict[str, float] | None = None) -> float:
    w = RANK_WEIGHTS if weights is None else weights
    return sum(w.get(k, 0.0) * v for k, v in features.items())


def _expected_type(doc: StructuredDocument, cur: Cursor, ctx: AnalysisContext, cands: list[_Cand],
                   top: int = 20) -> str:
    """The type the position expects (Python: jedi; '' elsewhere), with the `value_type` of
    the `top` best candidates filled in when it is known; Java: as its provider found it)."""
    if doc.language == "java":
        return next((c.expected_type for c in cands if c.expected_type), "")
    if doc.language != "python" or not any(c.symbol is not None for c in cands):
        return ""
    from r1lsp import pyanalysis
    expected = pyanalysis.expected_type_within(doc.text, cur.line, len(cur.before_word), path=ctx.path,
                                               root=ctx.root, env_path=ctx.python_environment, deadline=ctx.deadline)
    if expected:
        typed = [c for c in cands[:top] if c.symbol is not None]
        for i, t in pyanalysis.value_types_within([c.symbol for c in typed], ctx.deadline).items():
            typed[i].value_type = t.split("[")[0].split(".")[-1]
    return expected
