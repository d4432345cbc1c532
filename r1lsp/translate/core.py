"""Shared translator state: parsing, helpers, expression results, untranslated marks."""
from __future__ import annotations

import ast
import inspect
import textwrap
from dataclasses import dataclass, field
from typing import Callable

from .types import ClassInfo, MethodInfo, Scope

# Python precedence levels (higher binds tighter)
P_LAMBDA, P_TERN, P_OR, P_AND, P_NOT, P_CMP, P_BOR, P_BXOR, P_BAND, P_SHIFT, P_ADD, P_MUL, \
    P_UNARY, P_POW, P_ATOM = range(15)


@dataclass
class Untranslated:
    start_byte: int
    end_byte: int
    start: tuple[int, int]
    end: tuple[int, int]
    java_text: str
    reason: str


@dataclass
class ModelTranslated:
    """A construct whose Python came from the fallback (the R1 model): to be reviewed."""
    start_byte: int
    end_byte: int
    start: tuple[int, int]
    end: tuple[int, int]
    java_text: str
    python: str
    context: str          # "expression" | "statement" | "class member"


@dataclass
class Undefined:
    """A name the translation uses but neither the input nor its context defines."""
    name: str
    start_byte: int
    end_byte: int
    start: tuple[int, int]
    end: tuple[int, int]


@dataclass
class TranslationResult:
    python: str
    untranslated: list[Untranslated] = field(default_factory=list)
    unit: str = "file"
    model_translated: list[ModelTranslated] = field(default_factory=list)
    undefined: list[Undefined] = field(default_factory=list)
    empty: str | None = None   # why nothing was translated (None when something was)


class E:
    """A translated expression: Python code, its Java type and its Python precedence."""
    __slots__ = ("code", "type", "prec", "risk", "nonneg", "lit", "nullable", "ret", "rng")

    def __init__(self, code: str, type_: str | None = None, prec: int = P_ATOM,
                 risk: bool = False, nonneg: bool = False, lit=None):
        self.code = code
        self.type = type_
        self.prec = prec
        self.risk = risk
        self.nonneg = nonneg
        self.lit = lit
        self.nullable = False
        self.ret = None  # for a callable: the Java type it returns, when known
        self.rng = None  # (lo, hi) the integer value provably lies in, when narrower than its type

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return f"E({self.code!r}, {self.type!r})"


def par(e: E, prec: int) -> str:
    """The code of e, parenthesised if it binds looser than prec."""
    return e.code if e.prec >= prec else "(" + e.code + ")"


class Loop:
    """A loop (or a switch wrapper loop) being translated, for break/continue."""

    def __init__(self, kind: str, label: str | None = None, on_continue: list[str] | None = None):
        self.kind = kind           # "loop" | "switch"
        self.label = label
        self.on_continue = on_continue or []
        self.flags: list[str] = []  # flags set by jumps from inner levels that target outer loops


class Base:
    """State shared by the translator mixins."""

    def __init__(self, src: bytes, fallback: Callable[[str, str], str | None] | None):
        self.src = src
        self.fallback = fallback
        self.helpers: set[str] = set()
        self.imports: set[str] = set()
        self.classes: dict[str, ClassInfo] = {}
        self.cls: ClassInfo | None = None
        self.method: MethodInfo | None = None
        self.static_ctx = True
        self.scope = Scope()
        self.pre: list[str] = []
        self.untranslated: list[Untranslated] = []
        self.model_translated: list[ModelTranslated] = []
        self.checked = False     # validate each emitted unit with ast.parse (the repair pass)
        self.tmp_n = 0
        self.in_arith = 0
        self.loops: list[Loop] = []
        self.func_globals: set[str] = set()
        self.module_names: dict[str, str] = {}   # module-level global name -> Java static owner
        self.labels_used: dict[str, set[str]] = {}

    # -- small utilities -------------------------------------------------
    def text(self, node) -> str:
        return self.src[node.start_byte:node.end_byte].decode("utf-8", "replace")

    def use(self, helper: str) -> str:
        self.helpers.add(helper)
        return helper

    def need(self, imp: str) -> None:
        self.imports.add(imp)

    def tmp(self, stem: str = "t") -> str:
        self.tmp_n += 1
        return f"_{stem}{self.tmp_n}"

    def pos(self, byte: int) -> tuple[int, int]:
        line_start = self.src.rfind(b"\n", 0, byte) + 1
        line = self.src.count(b"\n", 0, byte)
        col = len(self.src[line_start:byte].decode("utf-8", "replace").encode("utf-16-le")) // 2
        return (line, col)

    # -- untranslated constructs ----------------------------------------
    def fallback_context(self, node, limit: int = 2000) -> str:
        """The Java around node for the fallback: its enclosing method (or class), truncated."""
        x = node.parent
        while x is not None and x.type not in ("method_declaration", "constructor_declaration",
                                               "class_declaration", "enum_declaration",
                                               "record_declaration", "interface_declaration"):
            x = x.parent
        if x is None:
            return ""
        a = max(x.start_byte, node.start_byte - (limit * 3) // 4)
        b = min(x.end_byte, node.end_byte + limit // 4)
        return self.src[a:b].decode("utf-8", "replace")

    def _call_fallback(self, java_text: str, context: str, node) -> str | None:
        fb = self.fallback
        if getattr(self, "_fb_arity", None) is None:
            n = 2
            if getattr(fb, "accepts_context", False):
                n = 3
            else:
                try:
                    inspect.signature(fb).bind("", "", "")
                    n = 3
                except (TypeError, ValueError):
                    n = 2
            self._fb_arity = n
        if self._fb_arity == 3:
            return fb(java_text, context, self.fallback_context(node))
        return fb(java_text, context)

    def _ask(self, node, context: str, mode: str) -> str | None:
        if self.fallback is None:
            return None
        key = (node.start_byte, node.end_byte, mode)
        answers = self.__dict__.setdefault("_answers", {})
        if key in answers:
            return answers[key]
        try:
            ans = self._call_fallback(self.text(node), context, node)
        except Exception:  # a broken model must not break the translation
            ans = None
        if ans is not None and ans.strip():
            ans = ans.strip() if mode == "expr" else textwrap.dedent(ans.strip("\n")).rstrip()
            try:
                ast.parse(ans, mode="eval" if mode == "expr" else "exec")
            except SyntaxError:
                ans = None
        else:
            ans = None
        answers[key] = ans
        if ans is not None and not any(m.start_byte == node.start_byte and m.end_byte == node.end_byte
                                       for m in self.model_translated):
            self.model_translated.append(ModelTranslated(
                node.start_byte, node.end_byte, self.pos(node.start_byte), self.pos(node.end_byte),
                self.text(node), ans, context))
        return ans

    def review_comment(self, node) -> str:
        return "# r1lsp: model-translated, review: " + " ".join(self.text(node).split())

    def _mark(self, node, reason: str) -> str:
        one = " ".join(self.text(node).split())
        if not any(u.start_byte == node.start_byte and u.end_byte == node.end_byte
                   for u in self.untranslated):
            self.untranslated.append(Untranslated(node.start_byte, node.end_byte,
                                                  self.pos(node.start_byte), self.pos(node.end_byte),
                                                  self.text(node), reason))
        return "# r1lsp: untranslated: " + one

    def untranslated_expr(self, node, reason: str) -> E:
        ans = self._ask(node, "expression", "expr")
        if ans is not None:
            c = self.review_comment(node)
            if c not in self.pre:
                self.pre.append(c)
            return E("(" + ans + ")", None)
        c = self._mark(node, reason)
        if c not in self.pre:
            self.pre.append(c)
        return E(self.use("_untranslated") + "(" + repr(" ".join(self.text(node).split())) + ")")

    def untranslated_stmt(self, node, reason: str, context: str = "statement") -> list[str]:
        ans = self._ask(node, context, "exec")
        if ans is not None:
            return [self.review_comment(node)] + ans.splitlines()
        return [self._mark(node, reason), "pass"]
