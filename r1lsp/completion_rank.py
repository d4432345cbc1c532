"""The completion list's ranking: a weighted sum of features per candidate (model score,
structure, nearness, frequency, expected type, …), weights tuned on the dev set."""
from __future__ import annotations

import bisect
import math
import re
from dataclasses import dataclass

from model.structure import StructuredDocument
from model.structure.text_index import decode
from r1lsp.usage_prior import UsagePrior, usage_prior
from r1lsp.completion_candidates import AnalysisContext, _Cand
from r1lsp.completion_names import _IDENT, Cursor, NameCounts, _receiver, _self_names

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
    # after a dot (0 here; LANGUAGE_WEIGHTS sets them per language):
    "recent": 0.0,             # 1/(1+log(1+lines since `.name` was last written before the cursor))
    "usage": 0.0,              # log(1 + uses of `receiver_type.name` in the usage prior (JDK / stdlib code))
    "usage_share": 0.0,        # that count / all member uses of the type counted
    "usage_known": 0.0,        # the prior counted the receiver's type
    "usage_name": 0.0,         # log(1 + uses of `.name` on any receiver in the prior's code)
    "call_fit": 0.0,           # a call follows the word: +1 callable, -1 not
    "void_in_expression": 0.0,  # a void method inside an expression / condition
    "void_statement": 0.0,     # a void method where the statement starts
    "bool_condition": 0.0,     # a boolean member in a condition (`if (x.`, `!x.`, `&&`)
    "on_line": 0.0,            # the name is written elsewhere on the line (`this. = name;`, `a.x == b.`)
    "kind_keyword": -0.5, "kind_method": 0.0, "kind_field": 0.0, "kind_function": 0.0,
    "kind_class": 0.0, "kind_variable": 0.0, "kind_parameter": 0.5, "kind_module": 0.0, "kind_model": 0.0,
}


@dataclass
class RankContext:
    """What the ranking knows about the position, computed once per request: the document's
    name counts, the receiver before `.`, where the member is written (statement start,
    condition, other expression), whether a call follows the word, the last line before the
    cursor each `.name` was used on, and the language's usage prior."""
    counts: NameCounts
    receiver: str | None                   # the name before `.` (None: not after a dot)
    receiver_type: str                     # what the usage prior knows it as ('' unknown; Java: per candidate)
    place: str                             # statement | condition | expression
    call_follows: bool
    last_use: dict[str, int]
    prior: UsagePrior
    line: int
    line_names: frozenset[str]             # identifiers elsewhere on the cursor's line (`this. = name;`)

    @classmethod
    def of(cls, doc: StructuredDocument, cur: Cursor) -> "RankContext":
        member = cur.before_word.endswith(".")
        recv = _receiver(cur.before_word[:-1]) if member else None
        chain = _CHAIN_END.search(cur.before_word)
        lead = cur.before_word[:chain.start()] if chain else cur.before_word
        place = "statement" if not lead.strip() or lead.rstrip().endswith((";", "{", "}", ":", "->")) and \
            not lead.rstrip().endswith("::") else \
            "condition" if _CONDITION.search(lead) else "expression"
        last_use: dict[str, int] = {}
        if member:
            start = doc.offset_at(max(0, cur.line - RECENT_LINES), 0)
            before = decode(doc.data[start:cur.word_start])
            first = cur.line - before.count("\n")
            for m in _MEMBER_USE.finditer(before):
                last_use[m.group(1)] = m.start()
            if last_use:                                                # offsets -> lines, one pass
                nl = [i for i, ch in enumerate(before) if ch == "\n"]
                last_use = {k: first + bisect.bisect_left(nl, v) for k, v in last_use.items()}
        rtype = _python_receiver_type(doc.text, recv) if doc.language == "python" and recv else ""
        line_names = frozenset(_IDENT.findall(cur.before_word) + _IDENT.findall(cur.after[len(cur.tail):]))
        return cls(NameCounts.of(doc.text), recv, rtype, place, cur.after.lstrip().startswith("("),
                   last_use, usage_prior(doc.language), cur.line, line_names)


RECENT_LINES = 200
_CHAIN_END = re.compile(r"(?<![\w$.])[\w$]+(?:\s*(?:\.\s*[\w$]+|\([^()]*\)|\[[^\[\]]*\]))*\s*\.$")
_CONDITION = re.compile(r"(?:\b(?:if|while|elif|assert|not)\s*\(?|&&|\|\||!|\b(?:and|or)\s+)\s*$")
_MEMBER_USE = re.compile(r"\.\s*([A-Za-z_$][\w$]*)")


def _python_receiver_type(text: str, recv: str) -> str:
    """The usage prior's name for a Python receiver where a cheap rule knows it: an imported
    module (`module:os`), a name the module assigns a literal / a builtin's or class's call."""
    esc = re.escape(recv)
    m = re.search(rf"^\s*import\s+([\w.]+)\s+as\s+{esc}\s*$|^\s*import\s+({esc})(?:\.[\w.]+)?\s*$", text, re.M)
    if m:
        return "module:" + (m.group(1) or m.group(2))
    kinds = set()
    for m in re.finditer(rf"(?<![\w.]){esc}\s*=(?!=)\s*(\[|\{{|[rbf]?[\"']|\d|([A-Za-z_]\w*)\()", text):
        k = m.group(1)
        kinds.add("list" if k == "[" else "dict" if k == "{" else "int" if k.isdigit() else
                  "bytes" if k.startswith("b") else "str" if m.group(2) is None else m.group(2))
    return kinds.pop() if len(kinds) == 1 else ""


def rank_features(c: _Cand, cur: Cursor, rc: RankContext, model: float | None, type_match: bool) -> dict[str, float]:
    """The features the ranking combines for one candidate."""
    dunder = c.label.startswith("__") and c.label.endswith("__")
    counts = rc.counts
    freq = counts.names
    recv = rc.receiver
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
        last = rc.last_use.get(c.label)
        f["recent"] = 1.0 / (1.0 + math.log1p(rc.line - last)) if last is not None else 0.0
        rtype = rc.receiver_type or c.receiver_type
        used, share = rc.prior.of_type(rtype, c.label) if rtype else (0.0, 0.0)
        if c.owner and c.owner != rtype:                                # the declaring class's counts
            used, share = max((used, share), rc.prior.of_type(c.owner, c.label))
        f["usage"], f["usage_share"] = used, share
        f["usage_known"] = float(bool(rtype) and rtype in rc.prior.types)
        f["usage_name"] = rc.prior.of_name(c.label)
        callable_ = c.kind in ("method", "function", "class")
        f["call_fit"] = (1.0 if callable_ else -1.0) if rc.call_follows else 0.0
        void = c.value_type == "void"
        f["void_in_expression"] = float(void and rc.place != "statement")
        f["void_statement"] = float(void and rc.place == "statement")
        f["bool_condition"] = float(rc.place == "condition" and c.value_type == "boolean")
        f["on_line"] = float(c.label in rc.line_names)
    return f


# Per language, what differs from RANK_WEIGHTS (fitted on the dev split of that language:
# bench/tune_completion.py --ranking).
# Fitted on 300 dev positions per language (top-5 in-process, static ranking: Python 54 -> 70 %,
# Java 82 -> 90 %; a fit on half the positions holds on the other half within ~1-3 points);
# README has the figures over LSP.
LANGUAGE_WEIGHTS: dict[str, dict[str, float]] = {
    "python": {"builtin": -1.0, "call_fit": 4.0, "dunder": 0.0, "in_file": -1.0, "kind_field": 0.25,
               "kind_method": -1.0, "member_frequency": 0.5, "private_on_self": 0.5, "recent": 0.5, "usage": 1.0},
    "java": {"frequency": 1.0, "inherited": -0.5, "kind_field": 1.0, "member_frequency": 0.25, "same_receiver": -0.5,
             "type": 2.0, "usage": 0.25, "usage_share": 0.25, "void_statement": -0.25, "call_fit": 0.5, "on_line": 0.5},
}


def weights_for(language: str) -> dict[str, float]:
    return {**RANK_WEIGHTS, **LANGUAGE_WEIGHTS.get(language, {})}


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
