"""Java types as normalised strings, and the declared-type environment."""
from __future__ import annotations

import keyword

INTS = {"int", "long", "short", "byte"}
INTEGRAL = INTS | {"char"}
FLOATS = {"double", "float"}
NUMERIC = INTEGRAL | FLOATS
BOXES = {"Integer": "int", "Long": "long", "Short": "short", "Byte": "byte",
         "Character": "char", "Double": "double", "Float": "float", "Boolean": "boolean"}
LISTS = {"List", "ArrayList", "LinkedList", "Collection", "Iterable", "Vector", "Stack",
         "AbstractList"}
DEQUES = {"Deque", "ArrayDeque", "Queue"}
MAPS = {"Map", "HashMap", "TreeMap", "LinkedHashMap", "SortedMap", "NavigableMap"}
SETS = {"Set", "HashSet", "TreeSet", "LinkedHashSet", "SortedSet", "NavigableSet"}

# Names Python code may need unshadowed; Java identifiers with these names get a "_".
RESERVED = set(keyword.kwlist) | set(keyword.softkwlist) | {
    "len", "max", "min", "sum", "print", "range", "str", "int", "float", "chr", "ord",
    "list", "dict", "set", "sorted", "abs", "isinstance", "any", "all", "map", "filter",
    "iter", "next", "input", "bool", "object", "tuple", "type", "id", "format", "math",
    "sys", "re", "heapq", "functools", "collections", "deque", "super", "self", "hash",
    "reversed", "enumerate", "zip", "divmod", "round", "pow", "bin", "hex", "oct", "repr",
    "TreeMap", "TreeSet", "StringBuilder", "PriorityQueue", "Scanner",
}


def py_name(name: str) -> str:
    return name + "_" if name in RESERVED else name


def unbox(t: str | None) -> str | None:
    return BOXES.get(t, t) if t else t


def base(t: str | None) -> str:
    """Outer type name without generics: 'Map<K,V>' -> 'Map'."""
    if not t:
        return ""
    i = t.find("<")
    b = t if i < 0 else t[:i]
    return b.rsplit(".", 1)[-1]


def targs(t: str | None) -> list[str]:
    """Generic arguments: 'Map<String,List<Integer>>' -> ['String', 'List<Integer>']."""
    if not t or "<" not in t or not t.endswith(">"):
        return []
    inner = t[t.find("<") + 1:-1]
    out, depth, cur = [], 0, ""
    for ch in inner:
        if ch == "<":
            depth += 1
        elif ch == ">":
            depth -= 1
        if ch == "," and depth == 0:
            out.append(cur.strip())
            cur = ""
        else:
            cur += ch
    if cur.strip():
        out.append(cur.strip())
    return out


def elem(t: str | None) -> str | None:
    """Element type of an array or a collection."""
    if not t:
        return None
    if t.endswith("[]"):
        return t[:-2]
    a = targs(t)
    b = base(t)
    if b in MAPS:
        return None
    return a[0] if a else None


def is_int(t: str | None) -> bool:
    return unbox(t) in INTS


def is_integral(t: str | None) -> bool:
    return unbox(t) in INTEGRAL


def is_float(t: str | None) -> bool:
    return unbox(t) in FLOATS


def is_numeric(t: str | None) -> bool:
    return unbox(t) in NUMERIC


def is_char(t: str | None) -> bool:
    return unbox(t) == "char"


def is_string(t: str | None) -> bool:
    return t in ("String", "CharSequence")


def promote(a: str | None, b: str | None) -> str | None:
    """Binary numeric promotion."""
    a, b = unbox(a), unbox(b)
    if a is None or b is None:
        if is_float(a) or is_float(b):
            return "double"
        return None
    if "double" in (a, b):
        return "double"
    if "float" in (a, b):
        return "float"
    if "long" in (a, b):
        return "long"
    if a in NUMERIC and b in NUMERIC:
        return "int"
    return None


def default_value(t: str | None) -> str:
    t = t or ""
    if t in INTS:
        return "0"
    if t in FLOATS:
        return "0.0"
    if t == "boolean":
        return "False"
    if t == "char":
        return "'\\x00'"
    return "None"


class Var:
    __slots__ = ("type", "py", "nonneg", "kind", "big", "nullable", "rng")

    def __init__(self, type_: str | None, py: str, nonneg: bool = False, kind: str = "local"):
        self.big = False
        self.rng = None
        self.nullable = False
        self.type = type_
        self.py = py
        self.nonneg = nonneg
        self.kind = kind


class Scope:
    """A chain of lexical scopes mapping Java names to declared types."""

    def __init__(self, parent: "Scope | None" = None):
        self.parent = parent
        self.vars: dict[str, Var] = {}

    def declare(self, name: str, type_: str | None, nonneg: bool = False) -> Var:
        v = Var(type_, py_name(name), nonneg)
        self.vars[name] = v
        return v

    def lookup(self, name: str) -> Var | None:
        s: Scope | None = self
        while s is not None:
            v = s.vars.get(name)
            if v is not None:
                return v
            s = s.parent
        return None


class ClassInfo:
    """Members of a class declared in the translated file."""

    def __init__(self, name: str, kind: str):
        self.name = name
        self.kind = kind  # class | interface | enum | record
        self.superclass: str | None = None
        self.fields: dict[str, tuple[str, bool]] = {}   # name -> (type, static)
        self.methods: dict[str, list] = {}              # name -> [MethodInfo]
        self.ctors: list = []
        self.module_level = False
        self.enum_constants: list[str] = []
        self.components: list[str] = []                 # a record's components, in order
        self.node = None
        self.outer: str | None = None


class MethodInfo:
    def __init__(self, name: str, ret: str, params: list[tuple[str, str]], static: bool,
                 node, abstract: bool = False, varargs: bool = False):
        self.name = name
        self.ret = ret
        self.params = params
        self.static = static
        self.node = node
        self.abstract = abstract
        self.varargs = varargs
        self.py = py_name(name)


# Value ranges of the integral types (Java's integer semantics: wrap where a result may leave them)
BOUNDS = {"int": (-(1 << 31), (1 << 31) - 1), "long": (-(1 << 63), (1 << 63) - 1),
          "short": (-(1 << 15), (1 << 15) - 1), "byte": (-128, 127), "char": (0, 0xFFFF)}
# A counter (a local only ever set to small constants and stepped by at most COUNTER_STEP)
# cannot leave this range before more than 5·10^8 steps: it is not wrapped.
COUNTER_RANGE = (-(1 << 30), 1 << 30)
COUNTER_STEP = 2


def interval(op: str, a: tuple[int, int], b: tuple[int, int]) -> tuple[int, int] | None:
    """The range of a op b for operands in ranges a and b (None when not computed)."""
    if op == "+":
        return (a[0] + b[0], a[1] + b[1])
    if op == "-":
        return (a[0] - b[1], a[1] - b[0])
    if op == "*":
        c = [x * y for x in a for y in b]
        return (min(c), max(c))
    return None


def fits(r: tuple[int, int] | None, t: str | None) -> bool:
    b = BOUNDS.get(t or "")
    return r is not None and b is not None and b[0] <= r[0] and r[1] <= b[1]
