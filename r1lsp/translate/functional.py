"""Functional-style Java: method references, Comparator, Optional, streams and collectors.

Streams become Python iterables (generator expressions, ``map``/``filter``…), a Comparator
is a two-argument cmp function (sorted with ``functools.cmp_to_key`` unless a plain
``key=`` fits), Optional is a small inlined ``Optional`` class (emitted only when used).
"""
from __future__ import annotations

import re

from .core import E, P_ADD, P_ATOM, P_LAMBDA, P_NOT, par
from .types import MAPS, base, elem, is_string, unbox

S = "\x00S\x00"  # placeholder for the stream in a collector template
STREAMS = {"Stream", "IntStream", "LongStream", "DoubleStream"}
BOXES = {"int": "Integer", "long": "Long", "double": "Double", "char": "Character",
         "boolean": "Boolean"}

# Type::method references with a fixed Python callable
REF_TABLE = {
    ("Integer", "sum"): "lambda a, b: a + b", ("Long", "sum"): "lambda a, b: a + b",
    ("Double", "sum"): "lambda a, b: a + b",
    ("Integer", "max"): "max", ("Integer", "min"): "min", ("Long", "max"): "max",
    ("Long", "min"): "min", ("Double", "max"): "max", ("Double", "min"): "min",
    ("Math", "max"): "max", ("Math", "min"): "min", ("Math", "abs"): "abs",
    ("Integer", "parseInt"): "int", ("Integer", "valueOf"): "int", ("Long", "parseLong"): "int",
    ("Integer", "toString"): "str", ("Long", "toString"): "str",
    ("Double", "parseDouble"): "float", ("Double", "valueOf"): "float",
    ("String", "length"): "len", ("String", "toUpperCase"): "str.upper",
    ("String", "toLowerCase"): "str.lower", ("String", "trim"): "str.strip",
    ("String", "strip"): "str.strip", ("String", "isEmpty"): "lambda s: len(s) == 0",
    ("String", "isBlank"): "lambda s: s.strip() == \"\"",
    ("String", "concat"): "lambda a, b: a + b",
    ("Integer", "intValue"): "lambda x: x", ("Long", "longValue"): "lambda x: x",
    ("Double", "doubleValue"): "float", ("Integer", "doubleValue"): "float",
    ("Objects", "nonNull"): "lambda x: x is not None", ("Objects", "isNull"): "lambda x: x is None",
    ("Character", "isDigit"): "str.isdigit", ("Character", "isLetter"): "str.isalpha",
    ("Character", "isUpperCase"): "str.isupper", ("Character", "isLowerCase"): "str.islower",
    ("Character", "toUpperCase"): "str.upper", ("Character", "toLowerCase"): "str.lower",
}
REF_HELPER = {("Integer", "compare"): "_cmp", ("Long", "compare"): "_cmp",
              ("Double", "compare"): "_cmp", ("Character", "compare"): "_cmp",
              ("Boolean", "compare"): "_cmp", ("String", "compareTo"): "_cmp_str",
              ("String", "valueOf"): "_jstr", ("Object", "toString"): "_jstr",
              ("Objects", "toString"): "_jstr", ("Integer", "compareTo"): "_cmp",
              ("Double", "compareTo"): "_cmp", ("Long", "compareTo"): "_cmp"}
NEW_TABLE = {"ArrayList": "list", "LinkedList": "list", "HashSet": "set", "LinkedHashSet": "set",
             "HashMap": "dict", "LinkedHashMap": "dict"}


def _num_kind(name: str, et: str | None) -> str:
    if "Int" in name:
        return "int"
    if "Long" in name:
        return "long"
    if "Double" in name:
        return "double"
    return et or "Object"


class FunctionalMixin:
    # ------------------------------------------------------------ callables
    def fn_arg(self, node, ptypes=None) -> E:
        """A functional argument (lambda, method reference, or a value) as a Python callable."""
        if node.type == "lambda_expression":
            return self.x_lambda_expression(node, None, ptypes)
        if node.type == "method_reference":
            return self.x_method_reference(node, None, ptypes)
        return self.expr(node)

    def inline_lambda(self, node, ptypes):
        """A one-parameter expression lambda as (param_py, body E), or None."""
        if node.type != "lambda_expression":
            return None
        params = node.child_by_field_name("parameters")
        body = node.child_by_field_name("body")
        if body.type == "block":
            return None
        if params.type == "identifier":
            pn, pt = params, None
        else:
            ps = params.named_children
            if len(ps) != 1:
                return None
            p = ps[0]
            if p.type == "identifier":
                pn, pt = p, None
            else:
                pn, pt = p.child_by_field_name("name"), self.type_of(p.child_by_field_name("type"))
        from .types import Scope
        outer = self.scope
        self.scope = Scope(outer)
        try:
            v = self.scope.declare(self.text(pn), pt or (ptypes[0] if ptypes else None))
            saved = self.pre
            self.pre = []
            e = self.expr(body)
            hoisted, self.pre = self.pre, saved
            if hoisted or self.statement_only(e.code):
                return None
            return v.py, e
        finally:
            self.scope = outer

    def loop_code(self, f: E, it: str, nparams: int = 1) -> str:
        """`for v in it: f(v)` as one line; `lambda x: body` is applied by naming the loop
        variable after its parameter."""
        m = re.match(r"lambda ([A-Za-z_]\w*(?:, [A-Za-z_]\w*)*): (.*)$", f.code, re.S)
        if m and len(m.group(1).split(", ")) == nparams and f.prec == P_LAMBDA and \
                not set(m.group(1).split(", ")) & set(self.module_names):
            return f"for {m.group(1)} in {it}: {m.group(2)}"
        vs = [self.tmp("x") for _ in range(nparams)]
        return f"for {', '.join(vs)} in {it}: {par(f, P_ATOM)}({', '.join(vs)})"

    @staticmethod
    def statement_only(code: str) -> bool:
        """Whether code is a statement (an assignment, a for loop…) rather than an expression."""
        import ast
        try:
            ast.parse(code, mode="eval")
            return False
        except SyntaxError:
            try:
                ast.parse(code)
                return True
            except SyntaxError:
                return False

    def x_method_reference(self, n, expect=None, ptypes=None):
        kids = n.children
        head_node, name = kids[0], self.text(kids[-1])
        head = "".join(self.text(head_node).split())
        if "<" in head:
            head = head.split("<")[0]
        if ptypes is None and expect:
            ptypes = self.lambda_param_types(expect)
        is_type = head_node.type in ("type_identifier", "scoped_type_identifier", "generic_type",
                                     "array_type", "integral_type", "floating_point_type") or (
            head_node.type in ("identifier", "field_access", "scoped_identifier")
            and head[:1].isupper() and self.scope.lookup(head) is None
            and self.field_ref(head) is None)
        if head in ("System.out", "System.err"):
            if name in ("println", "print"):
                end = ', end=""' if name == "print" else ""
                err = ", file=sys.stderr" if head == "System.err" else ""
                if err:
                    self.need("import sys")
                return E(f"lambda x: print({self.use('_jstr')}(x){end}{err})", expect, P_LAMBDA)
        if name == "new":
            if head.endswith("[]"):
                from .types import default_value
                return E(f"lambda n: [{default_value(head[:-2])}] * n", expect, P_LAMBDA)
            if head in NEW_TABLE:
                return E(NEW_TABLE[head], expect)
            if head in ("TreeMap", "TreeSet", "StringBuilder"):
                return E(self.use(head), expect)
            if head in self.classes:
                r = E(head, expect)
                r.ret = head
                return r
            return self.untranslated_expr(n, f"no rule for {head}::new")
        if head == "this" or head == "super":
            ci = self.cls if head == "this" else (self.classes.get(self.cls.superclass)
                                                  if self.cls and self.cls.superclass else None)
            m = self.resolve(ci, name, []) if ci else None
            recv = "self" if head == "this" else "super()"
            r = E(f"{recv}.{m.py if m else name}", expect)
            r.ret = m.ret if m else None
            return r
        if is_type:
            hb = head.rsplit(".", 1)[-1]
            if hb == "Entry" and name in ("getKey", "getValue"):
                return E(f"lambda e: e[{0 if name == 'getKey' else 1}]", expect, P_LAMBDA)
            if (hb, name) in REF_HELPER:
                r = E(self.use(REF_HELPER[(hb, name)]), expect)
                r.ret = "int" if "cmp" in REF_HELPER[(hb, name)] else "String"
                return r
            if (hb, name) in REF_TABLE:
                code = REF_TABLE[(hb, name)]
                r = E(code, expect, P_LAMBDA if code.startswith("lambda") else P_ATOM)
                r.ret = {"length": "int", "sum": hb and unbox(hb), "parseInt": "int",
                         "toUpperCase": "String", "toLowerCase": "String", "trim": "String",
                         "isEmpty": "boolean"}.get(name)
                return r
            ci = self.classes.get(hb)
            if ci is not None:
                if ci.kind == "record" and name in ci.components and not ci.methods.get(name):
                    from .types import py_name
                    r = E(f"{hb}.{py_name(name)}" if not ci.module_level
                          else f"lambda x: x.{py_name(name)}()", expect)
                    r.ret = ci.fields[name][0]
                    return r
                ms = self.candidates(ci, name)
                if ms and all(m.static for m in ms):
                    m = ms[0]
                    r = E(m.py if m.owner.module_level else f"{m.owner.name}.{m.py}", expect)
                    r.ret = m.ret
                    return r
                if ms:
                    m = ms[0]
                    extra = len(m.params)
                    ps = ", ".join(f"a{k}" for k in range(extra))
                    r = E(f"lambda x{', ' + ps if ps else ''}: x.{m.py}({ps})", expect, P_LAMBDA)
                    r.ret = m.ret
                    return r
                if ci.kind == "enum" and name in ("name", "ordinal", "toString"):
                    return E(f"lambda x: x.{name}()", expect, P_LAMBDA)
            if hb in ("String", "Integer", "Long", "Double", "Character", "Boolean", "Math",
                      "Objects", "Object", "Arrays", "Collections"):
                return self.untranslated_expr(n, f"no rule for method reference {hb}::{name}")
            if ci is None:
                return self.untranslated_expr(n, f"method reference on unknown type {hb}")
        # expr::method, bound to a receiver
        o = self.expr(head_node)
        oc = par(o, P_ATOM)
        b = base(unbox(o.type)) if o.type else None
        if b in self.classes:
            m = self.resolve(self.classes[b], name, [])
            r = E(f"{oc}.{m.py if m else name}", expect)
            r.ret = m.ret if m else None
            return r
        from .types import LISTS, SETS
        if b in LISTS and name == "add":
            return E(f"{oc}.append", expect)
        if b in SETS and name in ("add", "contains"):
            return E(f"{oc}.add" if name == "add" else f"{oc}.__contains__", expect)
        if b in LISTS and name == "contains":
            return E(f"{oc}.__contains__", expect)
        if b in MAPS and name == "get":
            return E(f"{oc}.get", expect)
        if is_string(o.type) and name == "equals":
            return E(f"{oc}.__eq__", expect)
        if b == "StringBuilder" and name == "append":
            return E(f"{oc}.append", expect)
        return self.untranslated_expr(n, f"no rule for method reference ::{name} on {o.type}")

    # ------------------------------------------------------------ Comparator
    def comparator_static(self, cls, name, raw, n, expect=None) -> E | None:
        """Comparator.comparing…/naturalOrder/reverseOrder, Map.Entry.comparingBy…"""
        et = elem(expect) if expect and base(expect) == "Comparator" else None
        t = f"Comparator<{et}>" if et else "Comparator"
        if cls == "Comparator" and name == "naturalOrder" and not raw:
            return E(self.use("_natural"), t)
        if cls in ("Comparator", "Collections") and name == "reverseOrder":
            if raw:
                return E(f"{self.use('_reversed')}({self.fn_arg(raw[0], [et, et]).code})", t)
            return E(self.use("_reverse_order"), t)
        if cls == "Comparator" and name in ("comparing", "comparingInt", "comparingDouble",
                                            "comparingLong") and raw:
            f = self.fn_arg(raw[0], [et])
            if not et and raw[0].type == "method_reference":
                h = "".join(self.text(raw[0].children[0]).split()).split("<")[0]
                if h in self.classes:
                    t = f"Comparator<{h}>"
            if len(raw) > 1:
                c = self.fn_arg(raw[1], [f.ret, f.ret])
                return E(f"{self.use('_comparing')}({f.code}, {c.code})", t)
            if name in ("comparingInt", "comparingDouble", "comparingLong"):
                return E(f"{self.use('_comparing')}({f.code}, {self.use('_cmp')})", t)
            return E(f"{self.use('_comparing')}({f.code})", t)
        if cls in ("Entry", "Map.Entry") and name in ("comparingByKey", "comparingByValue"):
            k = 0 if name == "comparingByKey" else 1
            if raw:
                c = self.fn_arg(raw[0])
                return E(f"{self.use('_comparing')}(lambda e: e[{k}], {c.code})", t)
            return E(f"{self.use('_comparing')}(lambda e: e[{k}])", t)
        return None

    def comparator_call(self, o, name, raw, n) -> E | None:
        """Instance calls on a Comparator value."""
        et = elem(o.type)
        oc = par(o, P_ATOM)
        if name == "reversed" and not raw:
            return E(f"{self.use('_reversed')}({o.code})", o.type)
        if name in ("thenComparing", "thenComparingInt", "thenComparingDouble",
                    "thenComparingLong") and raw:
            f = self.fn_arg(raw[0], [et] if name != "thenComparing" else None)
            two = name == "thenComparing" and len(raw) == 1 and self.is_cmp_fn(raw[0], f)
            if two:
                other = f.code
            else:
                if name == "thenComparing" and raw[0].type == "lambda_expression":
                    f = self.fn_arg(raw[0], [et])
                cmp2 = f", {self.fn_arg(raw[1]).code}" if len(raw) > 1 else (
                    f", {self.use('_cmp')}" if name != "thenComparing" else "")
                other = f"{self.use('_comparing')}({f.code}{cmp2})"
            return E(f"{self.use('_then')}({o.code}, {other})", o.type)
        if name == "compare" and len(raw) == 2:
            a = [self.expr(x) for x in raw]
            return E(f"{oc}({a[0].code}, {a[1].code})", "int")
        return None

    def is_cmp_fn(self, node, f: E) -> bool:
        """Whether a thenComparing argument is a Comparator (two arguments) or a key function."""
        if node.type == "lambda_expression":
            ps = node.child_by_field_name("parameters")
            return ps.type != "identifier" and len(ps.named_children) == 2
        if node.type == "method_reference":
            return f.code in ("_cmp", "_cmp_str", "_natural", "_reverse_order") or \
                "a, b" in f.code.split(":")[0]
        return base(self.expr(node).type or "") == "Comparator" or node.type == "method_invocation"

    def cmp_of(self, node, et) -> E:
        """A Comparator argument as a cmp function."""
        if node.type == "lambda_expression":
            return self.x_lambda_expression(node, "Comparator", [et, et])
        if node.type == "method_invocation":
            return self.expr(node, f"Comparator<{et}>" if et else None)
        return self.fn_arg(node, [et, et])

    # ------------------------------------------------------------ Optional
    def optional_static(self, cls, name, raw, n) -> E | None:
        kind = {"Optional": "", "OptionalInt": "Int", "OptionalDouble": "Double",
                "OptionalLong": "Long"}[cls]
        self.use("Optional")
        if name == "empty" and not raw:
            return E(f'Optional(None, "{kind}")' if kind else "Optional.empty()", cls)
        if name in ("of", "ofNullable") and len(raw) == 1:
            a = self.expr(raw[0])
            t = cls if kind else f"Optional<{a.type}>" if a.type and a.type != "null" else "Optional"
            if kind:
                return E(f'Optional({a.code}, "{kind}")', cls)
            return E(f"Optional.{name}({a.code})", t)
        return None

    def optional_call(self, o, name, raw, n) -> E | None:
        b = base(o.type)
        et = {"OptionalInt": "int", "OptionalDouble": "double", "OptionalLong": "long"}.get(b) \
            or elem(o.type)
        oc = par(o, P_ATOM)
        if name in ("isPresent", "isEmpty") and not raw:
            return E(f"{oc}.{name}()", "boolean")
        if name in ("get", "orElseThrow", "getAsInt", "getAsDouble", "getAsLong") and not raw:
            return E(f"{oc}.{name}()", et)
        if name == "orElseThrow" and raw:
            return E(f"{oc}.orElseThrow({self.fn_arg(raw[0]).code})", et)
        if name == "orElse" and len(raw) == 1:
            return E(f"{oc}.orElse({self.coerce(self.expr(raw[0]), et).code})", et)
        if name == "orElseGet" and len(raw) == 1:
            return E(f"{oc}.orElseGet({self.fn_arg(raw[0], []).code})", et)
        if name in ("map", "flatMap", "filter") and len(raw) == 1:
            f = self.fn_arg(raw[0], [et])
            t = o.type if name == "filter" else (
                f"Optional<{f.ret}>" if name == "map" and f.ret else f.ret if name == "flatMap"
                else "Optional")
            return E(f"{oc}.{name}({f.code})", t)
        if name == "ifPresent" and len(raw) == 1:
            return E(f"{oc}.ifPresent({self.fn_arg(raw[0], [et]).code})", "void")
        if name == "ifPresentOrElse" and len(raw) == 2:
            return E(f"{oc}.ifPresentOrElse({self.fn_arg(raw[0], [et]).code}, "
                     f"{self.fn_arg(raw[1], []).code})", "void")
        if name in ("equals", "toString", "hashCode"):
            return None
        return None

    # ------------------------------------------------------------ streams
    def stream_static(self, cls, name, raw, n) -> E | None:
        if cls in ("IntStream", "LongStream") and name in ("range", "rangeClosed") and len(raw) == 2:
            a = [self.expr(x) for x in raw]
            hi = a[1].code if name == "range" else (
                str(a[1].lit + 1) if isinstance(a[1].lit, int) else f"{par(a[1], 10)} + 1")
            return E(f"range({a[0].code}, {hi})", "Stream<" + ("int" if cls == "IntStream" else "long") + ">")
        if cls in STREAMS and name == "of":
            a = [self.expr(x) for x in raw]
            et = {"IntStream": "int", "LongStream": "long", "DoubleStream": "double"}.get(cls)
            if et == "double":
                a = [self.coerce(x, "double") for x in a]
            if len(a) == 1 and a[0].type and a[0].type.endswith("[]"):
                return E(a[0].code, f"Stream<{a[0].type[:-2]}>")
            return E("[" + ", ".join(x.code for x in a) + "]",
                     f"Stream<{et or (a[0].type if a else 'Object')}>")
        if cls in STREAMS and name == "empty":
            return E("[]", "Stream<Object>")
        if cls == "Arrays" and name == "stream" and len(raw) == 1:
            a = self.expr(raw[0])
            et = a.type[:-2] if a.type and a.type.endswith("[]") else None
            return E(a.code, f"Stream<{et or 'Object'}>")
        return None

    def stream_call(self, o, name, raw, n) -> E | None:
        t = o.type
        b = base(t)
        et = elem(t) or {"IntStream": "int", "LongStream": "long", "DoubleStream": "double"}.get(b, "Object")
        s = o.code
        num = unbox(et) in ("int", "long", "double")
        if name in ("filter", "anyMatch", "allMatch", "noneMatch", "takeWhile") and len(raw) == 1:
            il = self.inline_lambda(raw[0], [et])
            if il is not None:
                v, body = il
                if name == "filter":
                    return E(f"({v} for {v} in {s} if {body.code})", f"Stream<{et}>")
                gen = f"{body.code} for {v} in {s}"
                if name == "anyMatch":
                    return E(f"any({gen})", "boolean")
                if name == "allMatch":
                    return E(f"all({gen})", "boolean")
                if name == "noneMatch":
                    return E(f"not any({gen})", "boolean", P_NOT)
            f = self.fn_arg(raw[0], [et])
            v = self.tmp("x")
            call = f"{par(f, P_ATOM)}({v})"
            if name == "filter":
                return E(f"({v} for {v} in {s} if {call})", f"Stream<{et}>")
            if name == "takeWhile":
                self.need("import itertools")
                return E(f"itertools.takewhile({f.code}, {s})", f"Stream<{et}>")
            fn = {"anyMatch": "any", "allMatch": "all", "noneMatch": "not any"}[name]
            return E(f"{fn}({call} for {v} in {s})", "boolean", P_NOT if name == "noneMatch" else P_ATOM)
        if name in ("map", "mapToInt", "mapToLong", "mapToDouble", "mapToObj", "flatMap") \
                and len(raw) == 1:
            kind = _num_kind(name, None) if name not in ("map", "mapToObj", "flatMap") else None
            il = self.inline_lambda(raw[0], [et])
            if il is not None:
                v, body = il
                rt = kind or body.type or "Object"
                if kind == "double":
                    body = self.coerce(body, "double")
                if name == "flatMap":
                    w = self.tmp("y")
                    return E(f"({w} for {v} in {s} for {w} in {body.code})", f"Stream<{elem(rt) or 'Object'}>")
                return E(f"({body.code} for {v} in {s})", f"Stream<{rt}>")
            f = self.fn_arg(raw[0], [et])
            rt = kind or f.ret or "Object"
            if kind == "double" and unbox(f.ret) in ("int", "long"):
                v = self.tmp("x")
                return E(f"(float({par(f, P_ATOM)}({v})) for {v} in {s})", "Stream<double>")
            if name == "flatMap":
                v, w = self.tmp("x"), self.tmp("y")
                return E(f"({w} for {v} in {s} for {w} in {par(f, P_ATOM)}({v}))", "Stream<Object>")
            return E(f"map({f.code}, {s})", f"Stream<{rt}>")
        if name in ("boxed", "parallel", "sequential", "stream", "unordered") and not raw:
            return E(s, f"Stream<{BOXES.get(et, et)}>" if name == "boxed" else t, o.prec)
        if name in ("asDoubleStream",) and not raw:
            v = self.tmp("x")
            return E(f"(float({v}) for {v} in {s})", "Stream<double>")
        if name == "sorted":
            if not raw:
                return E(f"sorted({s})", f"Stream<{et}>")
            kw = self.sort_key(raw[0], et)
            return E(f"sorted({s}{', ' + kw if kw else ''})", f"Stream<{et}>")
        if name == "distinct" and not raw:
            return E(f"dict.fromkeys({s})", f"Stream<{et}>")
        if name in ("limit", "skip") and len(raw) == 1:
            self.need("import itertools")
            k = self.expr(raw[0]).code
            return E(f"itertools.islice({s}, {k})" if name == "limit"
                     else f"itertools.islice({s}, {k}, None)", f"Stream<{et}>")
        if name == "sum" and not raw:
            if unbox(et) in ("double", "float"):
                return E(f"{self.use('_dsum')}({s})", "double")
            return E(f"sum({s})", unbox(et) if num else "int")
        if name == "count" and not raw:
            return E(f"len(list({s}))", "long")
        if name == "average" and not raw:
            dbl = ", True" if unbox(et) in ("double", "float") else ""
            return E(f"{self.use('_average')}({s}{dbl})", "OptionalDouble")
        if name in ("min", "max"):
            fn = self.use("_smin" if name == "min" else "_smax")
            kind = {"int": "OptionalInt", "long": "OptionalLong", "double": "OptionalDouble"}
            if not raw:
                if unbox(et) in kind and et == unbox(et):
                    return E(f"{fn}({s})", kind[et])
                return E(f"{fn}({s})", f"Optional<{et}>")
            c = self.cmp_of(raw[0], et)
            return E(f"{fn}({s}, {c.code})", f"Optional<{et}>")
        if name in ("findFirst", "findAny") and not raw:
            return E(f"{self.use('_first')}({s})", f"Optional<{et}>")
        if name == "reduce":
            if len(raw) == 2:
                ident = self.coerce(self.expr(raw[0]), et)
                f = self.fn_arg(raw[1], [et, et])
                self.need("import functools")
                return E(f"functools.reduce({f.code}, {s}, {ident.code})", ident.type or et)
            if len(raw) == 1:
                f = self.fn_arg(raw[0], [et, et])
                return E(f"{self.use('_reduce')}({s}, {f.code})", f"Optional<{et}>")
        if name == "toList" and not raw:
            return E(f"list({s})", f"List<{et}>")
        if name == "toArray":
            return E(f"list({s})", f"{et}[]")
        if name == "collect" and len(raw) == 1:
            return self.stream_collect(s, et, raw[0], n)
        if name == "forEach" and len(raw) == 1:
            return E(self.loop_code(self.fn_arg(raw[0], [et]), s), "void")
        if name == "iterator" and not raw:
            return E(f"{self.use('JavaIterator')}(list({s}))", "Iterator")
        return None

    def collector(self, node, et):
        """(template, type) for a Collectors.x(...) node; the template holds S for the elements."""
        if node.type != "method_invocation":
            return None
        obj = node.child_by_field_name("object")
        if obj is None or self.text(obj) not in ("Collectors", "java.util.stream.Collectors"):
            return None
        name = self.text(node.child_by_field_name("name"))
        raw = node.child_by_field_name("arguments").named_children
        if name in ("toList", "toUnmodifiableList"):
            return (f"list({S})", f"List<{et}>")
        if name in ("toSet", "toUnmodifiableSet"):
            return (f"set({S})", f"Set<{et}>")
        if name == "counting":
            return (f"len(list({S}))", "Long")
        if name == "joining":
            a = [self.expr(x) for x in raw]
            sep = par(a[0], P_ATOM) if a else '""'
            items = S if is_string(et) or et == "char" else f"map({self.use('_jstr')}, {S})"
            if len(a) == 3:
                return (f"{par(a[1], P_ADD)} + {sep}.join({items}) + {par(a[2], P_ADD + 1)}", "String")
            return (f"{sep}.join({items})", "String")
        if name in ("summingInt", "summingLong", "summingDouble", "averagingInt",
                    "averagingDouble", "averagingLong") and len(raw) == 1:
            f = self.fn_arg(raw[0], [et])
            if name == "summingDouble":
                return (f"{self.use('_dsum')}(map({f.code}, {S}))", "Double")
            if name.startswith("summing"):
                return (f"sum(map({f.code}, {S}))", "Integer" if "Int" in name else "Long")
            return (f"{self.use('_average')}(map({f.code}, {S}), True).orElse(0.0)", "Double")
        if name == "mapping" and len(raw) == 2:
            f = self.fn_arg(raw[0], [et])
            d = self.collector(raw[1], f.ret)
            if d is None:
                return None
            return (d[0].replace(S, f"map({f.code}, {S})"), d[1])
        if name in ("groupingBy", "partitioningBy") and raw:
            f = self.fn_arg(raw[0], [et])
            factory, mt = "dict", "Map"
            rest = list(raw[1:])
            if len(rest) == 2:
                fac = rest.pop(0)
                if self.text(fac).startswith("TreeMap"):
                    factory, mt = self.use("TreeMap"), "TreeMap"
            if name == "partitioningBy":
                factory = "lambda: {False: [], True: []}"
            down, dt = "", f"List<{et}>"
            if rest:
                d = self.collector(rest[0], et)
                if d is None:
                    return None
                down, dt = f", lambda xs: {d[0].replace(S, 'xs')}", d[1]
            kt = "Boolean" if name == "partitioningBy" else (f.ret or "Object")
            return (f"{self.use('_grouping')}({S}, {f.code}, {factory}{down})",
                    f"{mt}<{BOXES.get(kt, kt)},{dt}>")
        if name == "toMap" and len(raw) == 2:
            k = self.fn_arg(raw[0], [et])
            v = self.fn_arg(raw[1], [et])
            x = self.tmp("x")
            return (f"{{{par(k, P_ATOM)}({x}): {par(v, P_ATOM)}({x}) for {x} in {S}}}",
                    f"Map<{k.ret},{v.ret}>")
        return None

    def stream_collect(self, s, et, cnode, n) -> E:
        c = self.collector(cnode, et)
        if c is None:
            return self.untranslated_expr(n, "no rule for this collector")
        return E(c[0].replace(S, s), c[1])
