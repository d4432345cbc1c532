"""Java types and class descriptions shared by the JDK and workspace indexes.

A type is a `JType`: a binary class name (`java.util.Map$Entry`), a primitive, or a type
variable, with type arguments and array dimensions. Class descriptions keep their member types
as text (JDK: binary names; workspace: source spelling) and turn them into `JType`s on demand
through the class's `names` resolver, so a workspace file is indexed without resolving anything.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable

PRIMITIVES = {"int", "long", "short", "byte", "char", "boolean", "float", "double", "void"}
OBJECT = "java.lang.Object"


@dataclass(frozen=True)
class JType:
    name: str                          # binary class name, primitive, or type variable name
    args: tuple["JType", ...] = ()
    dims: int = 0
    tvar: bool = False

    @property
    def is_array(self) -> bool:
        return self.dims > 0

    def element(self) -> "JType":
        return JType(self.name, self.args, self.dims - 1, self.tvar)

    def with_dims(self, dims: int) -> "JType":
        return JType(self.name, self.args, dims, self.tvar)

    def show(self) -> str:
        """Source-like spelling with simple names: Map.Entry<String,Item>[]."""
        base = self.name.rsplit(".", 1)[-1].replace("$", ".")
        if self.args:
            base += "<" + ",".join(a.show() for a in self.args) + ">"
        return base + "[]" * self.dims


OBJECT_TYPE = JType(OBJECT)
STRING_TYPE = JType("java.lang.String")


@dataclass
class FieldInfo:
    name: str
    type: str                          # type text, resolved through the owner's names
    static: bool
    protected: bool = False            # JDK / jar classes: protected (subclasses see it); else public


@dataclass
class MethodInfo:
    name: str
    params: tuple[str, ...]
    ret: str
    static: bool = False
    abstract: bool = False
    varargs: bool = False
    tparams: tuple[str, ...] = ()      # "T" or "T:bound text"
    protected: bool = False            # JDK / jar classes: protected (subclasses see it); else public

    def accepts(self, n: int) -> bool:
        return len(self.params) == n or (self.varargs and n >= len(self.params) - 1)


@dataclass
class ClassInfo:
    name: str                          # binary name
    kind: str                          # class | interface | enum | record | annotation
    tparams: tuple[str, ...]           # "E" or "E:bound text"
    supers: tuple[str, ...]            # type texts
    fields: list[FieldInfo]
    methods: list[MethodInfo]
    names: Callable[[str], str | None] = field(default=lambda n: n, repr=False)  # type name -> binary
    nested: dict[str, str] = field(default_factory=dict)                          # simple -> binary
    source: str = "jdk"                # "jdk" or a document uri

    @property
    def simple(self) -> str:
        return self.name.rsplit(".", 1)[-1].rsplit("$", 1)[-1]

    @property
    def package(self) -> str:
        return self.name.rsplit(".", 1)[0] if "." in self.name else ""

    def type_names(self) -> list[str]:
        return [t.split(":", 1)[0] for t in self.tparams]


def tparam_split(text: str) -> tuple[str, str | None]:
    name, _, bound = text.partition(":")
    return name, bound or None


_TOKEN = re.compile(r"\s*(\?|[\w$]+(?:\s*\.\s*[\w$]+)*|<|>|,|\[\s*\]|\.\.\.|&|@[\w$.]+(?:\([^)]*\))?)")


def parse_type(text: str, resolve: Callable[[str], str | None], tvars: set[str] | frozenset = frozenset()
               ) -> JType | None:
    """A type text (`List<? extends Item>[]`, `java.util.Map$Entry<K,V>`, `int...`) as a JType;
    wildcards become their bound (`? super T` → T, `?` → Object). `resolve` maps a class name as
    written to its binary name (None: unknown, the name is kept as written)."""
    toks = [m.group(1) for m in _TOKEN.finditer(text) if not m.group(1).startswith("@")]
    pos = 0

    def one() -> JType | None:
        nonlocal pos
        if pos >= len(toks):
            return None
        tok = toks[pos]
        pos += 1
        if tok == "?":
            if pos < len(toks) and toks[pos] in ("extends", "super"):
                pos += 1
                return one()
            return OBJECT_TYPE
        if tok in ("final",) and pos < len(toks):
            return one()
        name = re.sub(r"\s+", "", tok)
        args: list[JType] = []
        if pos < len(toks) and toks[pos] == "<":
            pos += 1
            while pos < len(toks) and toks[pos] != ">":
                a = one()
                if a is not None:
                    args.append(a)
                while pos < len(toks) and toks[pos] in (",", "&"):
                    if toks[pos] == "&":                                # intersection: keep the first
                        pos += 1
                        one()
                        continue
                    pos += 1
            pos += 1
            # Outer<A>.Inner<B>: continue a qualified name after the arguments
            while pos < len(toks) and toks[pos].startswith("."):
                name += toks[pos]
                pos += 1
        dims = 0
        while pos < len(toks) and (toks[pos].startswith("[") or toks[pos] == "..."):
            dims += 1
            pos += 1
        if name in tvars:
            return JType(name, (), dims, True)
        if name in PRIMITIVES:
            return JType(name, (), dims)
        binary = resolve(name) or name
        return JType(binary, tuple(args), dims)

    return one()


def substitute(t: JType, subst: dict[str, JType]) -> JType:
    if t.tvar:
        got = subst.get(t.name)
        if got is None:
            return t
        return got.with_dims(got.dims + t.dims) if t.dims else got
    if not t.args:
        return t
    return JType(t.name, tuple(substitute(a, subst) for a in t.args), t.dims)


# ---------------------------------------------------------------- what the resolver answers

PLACEHOLDER = "__r1__"                             # the word the resolver parses in place of the cursor's


@dataclass
class Receiver:
    """What is left of a `.`: a value of a type, a type name (static access) or a package."""
    kind: str                                      # value | type | package
    type: JType | None = None
    package: str = ""


@dataclass
class Member:
    """A name completion can offer, with what `detail` shows."""
    name: str
    kind: str                                      # method | field | class | variable | parameter | keyword | module
    detail: str
    depth: int = 0                                 # 0 declared by the type itself, 1 its supertype, …
    static: bool = False
    owner: str = ""                                # declaring class (binary)
    type: JType | None = None
    arities: tuple = ()                            # methods: (parameter count, varargs) per overload
    returns: tuple = ()                            # methods: the overloads' return types, shown without type
                                                   # arguments (Math.min: double, float, int, long)
    protected: bool = False                        # a JDK / jar class's protected member (every overload)

    def accepts(self, n: int) -> bool:
        return any(k == n or (v and n >= k - 1) for k, v in self.arities)
