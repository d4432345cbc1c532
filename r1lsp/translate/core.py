"""Shared translator state: parsing, helpers, expression results, untranslated marks."""
from __future__ import annotations

import ast
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
class TranslationResult:
    python: str
    untranslated: list[Untranslated] = field(default_factory=list)
    unit: str = "file"


class E:
    """A translated expression: Python code, its Java type and its Python precedence."""
    __slots__ = ("code", "type", "prec", "risk", "nonneg", "lit", "nullable", "ret")

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
    def _ask(self, node, context: str, mode: str) -> str | None:
        if self.fallback is None:
            return None
        try:
            ans = self.fallback(self.text(node), context)
        except Exception:  # a broken model must not break the translation
            return None
        if not ans or not ans.strip():
            return None
        try:
            ast.parse(ans.strip(), mode="eval" if mode == "expr" else "exec")
        except SyntaxError:
            return None
        return ans.strip()

    def _mark(self, node, reason: str) -> str:
        one = " ".join(self.text(node).split())
        self.untranslated.append(Untranslated(node.start_byte, node.end_byte,
                                              self.pos(node.start_byte), self.pos(node.end_byte),
                                              self.text(node), reason))
        return "# r1lsp: untranslated: " + one

    def untranslated_expr(self, node, reason: str) -> E:
        ans = self._ask(node, "expression", "expr")
        if ans is not None:
            return E("(" + ans + ")", None)
        self.pre.append(self._mark(node, reason))
        return E(self.use("_untranslated") + "(" + repr(" ".join(self.text(node).split())) + ")")

    def untranslated_stmt(self, node, reason: str, context: str = "statement") -> list[str]:
        ans = self._ask(node, context, "exec")
        if ans is not None:
            return ans.splitlines()
        return [self._mark(node, reason), "pass"]
