"""Java library calls (String, StringBuilder, collections, Math, boxes, System.out…) -> Python
(calls of the program's own methods: user_calls.py)."""
from __future__ import annotations

import re

from .core import E, P_ATOM, P_CMP, P_MUL, P_UNARY, par
from .types import DEQUES, LISTS, MAPS, SETS, base, elem, is_char, is_int, is_string, targs, unbox

EXC = {"IllegalArgumentException": "ValueError", "NumberFormatException": "ValueError",
       "IllegalStateException": "IllegalStateException", "RuntimeException": "RuntimeError",
       "ArithmeticException": "ZeroDivisionError", "Exception": "Exception",
       "ArrayIndexOutOfBoundsException": "IndexError", "IndexOutOfBoundsException": "IndexError",
       "StringIndexOutOfBoundsException": "IndexError", "NullPointerException": "AttributeError",
       "UnsupportedOperationException": "NotImplementedError", "Throwable": "BaseException",
       "Error": "Exception", "NoSuchElementException": "NoSuchElementException",
       "ClassCastException": "TypeError", "InterruptedException": "Exception",
       "IOException": "OSError", "EmptyStackException": "IndexError",
       "ConcurrentModificationException": "RuntimeError", "StackOverflowError": "RecursionError"}
CATCH = dict(EXC, RuntimeException="Exception", Exception="Exception", Throwable="BaseException",
             NullPointerException="(AttributeError, TypeError)")

FMT_RE = re.compile(r"%([-#+ 0,(]*)(\d+)?(\.\d+)?([a-zA-Z%])")
FUNCTIONAL = {"apply", "test", "accept", "get", "run", "compare", "applyAsInt", "applyAsLong",
              "applyAsDouble", "call"}
FUNC_TYPES = {"Function", "BiFunction", "Predicate", "BiPredicate", "Supplier", "Consumer",
              "BiConsumer", "Runnable", "Comparator", "UnaryOperator", "BinaryOperator",
              "IntBinaryOperator", "IntUnaryOperator", "IntPredicate", "IntFunction",
              "ToIntFunction", "IntConsumer", "Callable", "DoubleUnaryOperator",
              "DoubleBinaryOperator", "LongBinaryOperator", "IntSupplier", "ToIntBiFunction"}


# java.util.Random methods (runtime._JRandom reproduces Java's generator exactly)
RANDOM_RETURNS = {"nextInt": "int", "nextLong": "long", "nextDouble": "double", "nextFloat": "float",
                  "nextBoolean": "boolean", "nextGaussian": "double", "setSeed": "void"}

class LibraryMixin:
    def args(self, node, types=None) -> list[E]:
        out = []
        for k, a in enumerate(node.named_children if node is not None else []):
            e = self.expr(a)
            if types and k < len(types) and types[k]:
                e = self.coerce(e, types[k])
            out.append(e)
        return out

    # --------------------------------------------------------- object creation
    def x_object_creation_expression(self, n, expect=None):
        tnode = n.child_by_field_name("type")
        t = self.type_of(tnode)
        b = base(t)
        if "<>" in t and expect and base(expect) in (LISTS | MAPS | SETS | DEQUES | {"PriorityQueue"}):
            t = b + expect[len(base(expect)):] if "<" in expect else t
        anon = next((c for c in n.named_children if c.type == "class_body"), None)
        if anon is not None:
            return self.anonymous_class(n, b, anon, t)
        an = n.child_by_field_name("arguments")
        raw = an.named_children if an is not None else []
        decl = expect or t
        if b in ("ArrayList", "LinkedList", "Vector", "Stack"):
            if b == "LinkedList" and base(expect) in DEQUES:
                self.need("from collections import deque")
                return E("deque()" if not raw else f"deque({self.code(raw[0])})", expect)
            if raw and not is_int(self.expr(raw[0]).type):
                return E(f"list({self.code(raw[0])})", t)
            return E("[]", t)
        if b == "ArrayDeque":
            self.need("from collections import deque")
            if raw and not is_int(self.expr(raw[0]).type):
                return E(f"deque({self.code(raw[0])})", t)
            return E("deque()", t)
        if b in ("HashMap", "LinkedHashMap", "Hashtable"):
            return E(f"dict({self.code(raw[0])})" if raw and not is_int(self.expr(raw[0]).type)
                     else "{}", t)
        if b == "TreeMap":
            return E(f"{self.use('TreeMap')}({self.code(raw[0]) if raw else ''})", t)
        if b in ("HashSet", "LinkedHashSet"):
            return E(f"set({self.code(raw[0])})" if raw and not is_int(self.expr(raw[0]).type)
                     else "set()", t)
        if b == "TreeSet":
            return E(f"{self.use('TreeSet')}({self.code(raw[0]) if raw else ''})", t)
        if b == "PriorityQueue":
            et = elem(t) or elem(expect)
            cmp_ = None
            for a in raw:
                e = self.comparator(a, et)
                if not is_int(e.type):
                    cmp_ = e
            return E(f"{self.use('PriorityQueue')}({cmp_.code if cmp_ else ''})", t)
        if b == "StringBuilder" or b == "StringBuffer":
            arg = ""
            if raw:
                e = self.expr(raw[0])
                arg = "" if is_int(e.type) else self.to_str(e)
            return E(f"{self.use('StringBuilder')}({arg})", "StringBuilder")
        if b == "Scanner":
            return E(f"{self.use('Scanner')}()", "Scanner")
        if b == "String":
            if not raw:
                return E('""', "String")
            e = self.expr(raw[0])
            if e.type == "char[]":
                if len(raw) == 3:
                    o, c = self.code(raw[1]), self.code(raw[2])
                    return E(f'"".join({e.code}[{o}:{o} + {c}])', "String")
                return E(f'"".join({e.code})', "String")
            return E(self.to_str(e), "String")
        if b == "Random" and b not in self.classes:
            args = ", ".join(self.coerce(self.expr(a), "long").code for a in raw)
            return E(f"{self.use('_JRandom')}({args})", "Random")
        if b in ("Integer", "Long", "Double", "Boolean", "Character"):
            return self.expr(raw[0])
        if b in ("Object",):
            return E("object()", "Object")
        if b in EXC or b.endswith("Exception") and b not in self.classes:
            pyexc = EXC.get(b, "Exception")
            if pyexc in ("IllegalStateException", "NoSuchElementException"):
                self.use(pyexc)
            args = self.args(an)
            return E(f"{pyexc}({', '.join(self.to_str(a) for a in args)})", b)
        if b in self.classes:
            ci = self.classes[b]
            ptypes = None
            if len(ci.ctors) == 1:
                ptypes = [p[0] for p in ci.ctors[0].params]
            args = self.args(an, ptypes)
            return E(f"{b}({', '.join(a.code for a in args)})", t)
        return self.untranslated_expr(n, f"no rule for creating {b}")

    def comparator(self, node, et) -> E:
        """A Comparator argument as a Python two-argument function."""
        return self.cmp_of(node, et)

    def functional_static(self, obj, otext, name, raw, n) -> E | None:
        """Comparator./Optional./IntStream./Stream./Map.Entry. static calls (not shadowed)."""
        head = otext.split(".")[0]
        if self.scope.lookup(head) is not None or self.field_ref(head) is not None or \
                head in self.classes:
            return None
        if otext.startswith("java.util."):
            otext = otext.rsplit(".", 1)[-1]
        if otext in ("Comparator", "Collections", "Map.Entry", "Entry"):
            if otext == "Collections" and name != "reverseOrder":
                return None
            return self.comparator_static(otext, name, raw, n, getattr(self, "cur_expect", None))
        if otext in ("Optional", "OptionalInt", "OptionalDouble", "OptionalLong"):
            return self.optional_static(otext, name, raw, n)
        if otext in ("IntStream", "LongStream", "DoubleStream", "Stream") or \
                otext == "Arrays" and name == "stream" and len(raw) == 1:
            return self.stream_static(otext, name, raw, n)
        return None

    def sort_key(self, node, et) -> str:
        """`key=...`/`reverse=True` keyword arguments for a Comparator argument."""
        txt = self.text(node)
        if txt in ("Collections.reverseOrder()", "Comparator.reverseOrder()"):
            return "reverse=True"
        if txt in ("null", "Comparator.naturalOrder()"):
            return ""
        if node.type == "method_invocation":
            nm = self.text(node.child_by_field_name("name"))
            obj = node.child_by_field_name("object")
            if obj is not None and self.text(obj) == "Comparator" and nm.startswith("comparing"):
                a = node.child_by_field_name("arguments").named_children
                if len(a) == 1:
                    k = self.fn_arg(a[0], [et])
                    return f"key={k.code}"
            if obj is not None and nm == "reversed" and not node.child_by_field_name(
                    "arguments").named_children and obj.type == "method_invocation":
                inner = self.sort_key(obj, et)
                if inner.startswith("key=") and "cmp_to_key" not in inner:
                    return inner + ", reverse=True"
                if inner == "":
                    return "reverse=True"
        e = self.comparator(node, et)
        self.need("import functools")
        return f"key=functools.cmp_to_key({e.code})"

    def anonymous_class(self, n, b, body, t):
        methods = [c for c in body.named_children if c.type == "method_declaration"]
        if len(methods) == 1 and (b in FUNC_TYPES or (b in self.classes and self.is_functional(b))):
            name = self.tmp("fn")
            lines = self.method_lines(methods[0], None, name_override=name, as_function=True)
            self.pre.extend(lines)
            return E(name, t)
        name = self.tmp("Anon")
        lines = self.class_lines_anon(name, b, body)
        self.pre.extend(lines)
        return E(f"{name}()", t)

    def is_functional(self, cname):
        ci = self.classes.get(cname)
        return ci is not None and ci.kind == "interface" and sum(
            1 for ms in ci.methods.values() for m in ms if m.abstract) == 1

    # --------------------------------------------------------- method calls
    def x_method_invocation(self, n):
        obj = n.child_by_field_name("object")
        name = self.text(n.child_by_field_name("name"))
        an = n.child_by_field_name("arguments")
        raw = an.named_children if an is not None else []
        if obj is None:
            return self.user_call(None, self.cls, name, raw, n, implicit=True)
        otext = self.text(obj)
        r = self.functional_static(obj, otext, name, raw, n)
        if r is not None:
            return r
        if otext.startswith(("java.", "javax.")) and obj.type in ("field_access", "scoped_identifier"):
            cname = otext.rsplit(".", 1)[-1]
            r = self.static_call(cname, name, raw, n)
            if r is not None:
                return r
        if otext in ("System.out", "System.err"):
            return self.print_call(name, raw, otext == "System.err", n)
        if name in ("reversed", "thenComparing", "thenComparingInt", "thenComparingDouble",
                    "thenComparingLong") and base(getattr(self, "cur_expect", None) or "") == "Comparator":
            o = self.expr(obj, self.cur_expect)
            r = self.comparator_call(E(o.code, self.cur_expect if base(o.type or "") != "Comparator"
                                       or not elem(o.type) else o.type, o.prec), name, raw, n)
            if r is not None:
                return r
        if obj.type == "super":
            ci = self.classes.get(self.cls.superclass) if self.cls and self.cls.superclass else None
            args = self.args(an)
            if ci is None and name == "toString":
                return E("object.__str__(self)", "String")
            m = self.resolve(ci, name, args) if ci else None
            return E(f"super().{m.py if m else name}({', '.join(a.code for a in args)})",
                     m.ret if m else None)
        if obj.type == "identifier" and self.scope.lookup(otext) is None and \
                self.field_ref(otext) is None:
            if otext in self.classes:
                return self.user_call(None, self.classes[otext], name, raw, n, static_of=otext)
            r = self.static_call(otext, name, raw, n)
            if r is not None:
                return r
        if obj.type == "identifier" and otext[:1].isupper() and self.scope.lookup(otext) is None \
                and self.field_ref(otext) is None and otext not in self.classes:
            return self.untranslated_expr(n, f"no rule for {otext}.{name}")
        o = self.expr(obj)
        if o.type and o.type.startswith("class:"):
            cname = o.type[6:]
            if cname in self.classes:
                return self.user_call(None, self.classes[cname], name, raw, n, static_of=cname)
            r = self.static_call(cname, name, raw, n)
            if r is not None:
                return r
        return self.instance_call(o, name, raw, n)

    def print_call(self, name, raw, err, n):
        tail = ", file=sys.stderr" if err else ""
        if err:
            self.need("import sys")
        if name in ("println", "print"):
            end = "" if name == "println" else ', end=""'
            if not raw:
                return E(f"print({tail.lstrip(', ')})" if name == "println" else 'print(end="")',
                         "void")
            e = self.expr(raw[0])
            if e.type in ("int", "long", "short", "byte", "char") or is_string(e.type) and not e.nullable:
                arg = e.code
            else:
                arg = self.to_str(e)
            return E(f"print({arg}{end}{tail})", "void")
        if name in ("printf", "format"):
            s = self.format_expr(raw, n)
            return E(f"print({s.code}, end=\"\"{tail})", "void")
        if name == "flush":
            return E("sys.stdout.flush()" if self.need("import sys") is None else "", "void")
        return self.untranslated_expr(n, f"System.out.{name}")

    def format_expr(self, raw, n) -> E:
        """String.format / printf: Java specifiers -> Python %-formatting."""
        if raw and raw[0].type != "string_literal" and self.text(raw[0]).startswith("Locale"):
            raw = raw[1:]
        args = [self.expr(a) for a in raw[1:]]
        fe = self.expr(raw[0])
        if fe.lit is None or any("," in m.group(1) or m.group(4) == "f"
                                 for m in FMT_RE.finditer(fe.lit)):
            return E(f"{self.use('_jformat')}({', '.join([fe.code] + [a.code for a in args])})",
                     "String")
        out, pos, k, pyargs = [], 0, 0, []
        s = fe.lit
        for m in FMT_RE.finditer(s):
            out.append(s[pos:m.start()].replace("%", "%%"))
            pos = m.end()
            flags, width, prec, conv = m.group(1), m.group(2) or "", m.group(3) or "", m.group(4)
            if conv == "n":
                out.append("\n")
                continue
            if conv == "%":
                out.append("%%")
                continue
            if k >= len(args):
                return E(f"{self.use('_jformat')}({', '.join([fe.code] + [a.code for a in args])})",
                         "String")
            a = args[k]
            k += 1
            if conv in "sS":
                a = E(self.to_str(a), "String") if not is_int(a.type) else a
            elif conv in "bB":
                a = E(self.to_str(E(a.code, "boolean")), "String")
                conv = "s"
            elif conv == "c" and is_int(a.type):
                a = E(f"chr({a.code})", "char")
            elif conv in "dxXo" and is_char(a.type):
                a = self.coerce(a, "int")
            if conv == "S":
                a = E(f"{par(a, P_ATOM)}.upper()", "String")
                conv = "s"
            if conv in "xX" and not (a.nonneg or a.lit is not None and a.lit >= 0):
                a = E(f"{par(a, P_ATOM)} & 0xFFFFFFFF" if unbox(a.type) != "long"
                      else f"{par(a, P_ATOM)} & 0xFFFFFFFFFFFFFFFF", a.type)
            out.append("%" + flags + width + prec + conv)
            pyargs.append(a)
        out.append(s[pos:].replace("%", "%%"))
        fmt = "".join(out)
        if not pyargs:
            return E(pystr_(fmt.replace("%%", "%")), "String")
        if len(pyargs) == 1:
            argc = par(pyargs[0], P_UNARY) if not pyargs[0].code.startswith("(") else pyargs[0].code
            if pyargs[0].prec < P_ATOM or pyargs[0].code.startswith("["):
                argc = "(" + pyargs[0].code + ",)"
            elif pyargs[0].type is None:
                argc = "(" + pyargs[0].code + ",)"
        else:
            argc = "(" + ", ".join(p.code for p in pyargs) + ")"
        return E(f"{pystr_(fmt)} % {argc}", "String", P_MUL)

    # ------------------------------------------------------ static library calls
    # ------------------------------------------------------ instance calls
    def instance_call(self, o: E, name, raw, n) -> E:
        t = o.type
        b = base(unbox(t) if t else t)
        oc = par(o, P_ATOM)
        if b == "Comparator" and b not in self.classes:
            r = self.comparator_call(o, name, raw, n)
            if r is not None:
                return r
        if b in ("Optional", "OptionalInt", "OptionalDouble", "OptionalLong") and b not in self.classes:
            r = self.optional_call(o, name, raw, n)
            if r is not None:
                return r
        if b in ("Stream", "IntStream", "LongStream", "DoubleStream") and b not in self.classes:
            r = self.stream_call(o, name, raw, n)
            if r is not None:
                return r
        if is_string(t):
            r = self.string_call(o, oc, name, raw, n)
            if r is not None:
                return r
        elif b in self.classes:
            ci = self.classes[b]
            if ci.kind == "record" and name in ci.components and not raw and not self.candidates(ci, name):
                from .types import py_name
                return E(f"{oc}.{py_name(name)}()", self.subst(ci, ci.fields[name][0], t))
            cands = self.candidates(ci, name)
            if len(cands) == 1 and len(cands[0].params) == len(raw):
                args = [self.expr(a, self.subst(ci, p[0], t)) for a, p in zip(raw, cands[0].params)]
            else:
                args = [self.expr(a) for a in raw]
            m = self.resolve(ci, name, args)
            if ci.kind == "interface" and self.is_functional(b) and m is not None and m.abstract:
                cargs = [self.coerce(a, p[0]).code for a, p in zip(args, m.params)]
                return E(f"{oc}({', '.join(cargs)})", m.ret)
            if m is not None:
                cargs = [self.coerce(a, p[0]).code for a, p in zip(args, m.params)]
                if m.static and not m.owner.module_level:
                    return E(f"{m.owner.name}.{m.py}({', '.join(cargs)})", m.ret)
                if m.static:
                    return E(f"{m.py}({', '.join(cargs)})", m.ret)
                return E(f"{oc}.{m.py}({', '.join(cargs)})", self.subst(ci, m.ret, t))
            if ci.kind == "enum":
                if name in ("ordinal", "name", "compareTo", "toString", "equals"):
                    return self.object_call(o, oc, name, args, n)
            return self.object_call(o, oc, name, args, n)
        elif b in LISTS or b in DEQUES or (t or "").endswith("[]") and name in ("clone", "length"):
            r = self.collection_call(o, oc, b, name, raw, n)
            if r is not None:
                return r
        elif b in MAPS:
            r = self.map_call(o, oc, b, name, raw, n)
            if r is not None:
                return r
        elif b in SETS:
            r = self.set_call(o, oc, name, raw, n)
            if r is not None:
                return r
        elif b == "Random" and name in RANDOM_RETURNS:
            args = [self.expr(a) for a in raw]
            return E(f"{oc}.{name}({', '.join(a.code for a in args)})", RANDOM_RETURNS[name])
        elif b in ("Entry", "Map.Entry"):
            if name == "getKey":
                return E(f"{oc}[0]", (targs(t) or [None])[0])
            if name == "getValue":
                return E(f"{oc}[1]", (targs(t) + [None, None])[1])
        elif b in ("Integer", "Long", "Double", "Character", "Boolean", "Short", "Byte", "Float",
                   "int", "long", "double", "char", "boolean"):
            a = [self.expr(x) for x in raw]
            if name in ("intValue", "longValue", "charValue", "booleanValue"):
                return E(o.code, unbox(t), o.prec)
            if name == "doubleValue":
                return E(f"float({o.code})", "double")
            if name == "compareTo":
                return E(f"{self.use('_cmp')}({o.code}, {a[0].code})", "int")
        elif b in FUNC_TYPES or (b in self.classes and self.is_functional(b)):
            if name in FUNCTIONAL or name:
                args = [self.expr(a) for a in raw]
                return E(f"{oc}({', '.join(a.code for a in args)})", None)
        elif b in ("Stream", "IntStream", "LongStream", "DoubleStream"):
            et = elem(t) or "int"
            if name in ("map", "mapToInt", "mapToObj", "mapToLong", "mapToDouble", "filter"):
                f = self.x_lambda_expression(raw[0], None, [et]) if raw[0].type == "lambda_expression" \
                    else self.expr(raw[0])
                v = self.tmp("x")
                if name == "filter":
                    return E(f"({v} for {v} in {o.code} if {par(f, P_ATOM)}({v}))", t)
                return E(f"map({f.code}, {o.code})", "Stream<" + ("int" if "Int" in name else
                                                                 "double" if "Double" in name else
                                                                 et) + ">")
            if name == "sum":
                return E(f"sum({o.code})", et)
            if name == "count":
                return E(f"len(list({o.code}))", "long")
            if name in ("boxed", "sorted", "distinct") and not raw:
                return E({"boxed": o.code, "sorted": f"sorted({o.code})",
                          "distinct": f"list(dict.fromkeys({o.code}))"}[name], t)
            if name in ("toList",) or name == "collect" and raw and "toList" in self.text(raw[0]):
                return E(f"list({o.code})", f"List<{et}>")
            if name == "collect" and raw and "joining" in self.text(raw[0]):
                sep = raw[0].child_by_field_name("arguments").named_children
                sc = self.code(sep[0]) if sep else '""'
                return E(f"{sc}.join({o.code})", "String")
            if name == "forEach":
                f = self.x_lambda_expression(raw[0], None, [et]) if raw[0].type == "lambda_expression" \
                    else self.expr(raw[0])
                v = self.tmp("x")
                return E(f"[{par(f, P_ATOM)}({v}) for {v} in {o.code}]", "void")
        args = [self.expr(a) for a in raw]
        known = is_string(t) or b in LISTS or b in DEQUES or b in MAPS or b in SETS or \
            b in ("Entry", "Map.Entry", "Integer", "Long", "Double", "Character", "Boolean")
        if known and name not in ("equals", "toString", "hashCode", "getClass", "compareTo"):
            return self.untranslated_expr(n, f"no rule for {b}.{name}")
        return self.object_call(o, oc, name, args, n)

    def object_call(self, o, oc, name, args, n):
        if name == "equals" and len(args) == 1:
            return E(f"{par(o, P_CMP + 1)} == {par(args[0], P_CMP + 1)}", "boolean", P_CMP)
        if name == "toString" and not args:
            return E(self.to_str(o), "String")
        if name == "hashCode" and not args:
            if base(o.type) in self.classes and "hashCode" in self.classes[base(o.type)].methods:
                return E(f"{oc}.hashCode()", "int")
            return E(f"hash({o.code})", "int")
        if name == "getClass":
            return E(f"type({o.code})", "Class")
        if name == "getSimpleName" or name == "getName" and o.type == "Class":
            return E(f"{oc}.__name__", "String")
        if name == "getMessage" and not args:
            return E(f"str({o.code})", "String")
        if name == "compareTo" and len(args) == 1:
            return E(f"{self.use('_compare_to')}({o.code}, {args[0].code})", "int")
        if name == "length" and not args and o.type is None:
            return E(f"len({o.code})", "int")
        if name == "size" and not args:
            return E(f"len({o.code})", "int")
        return E(f"{oc}.{name}({', '.join(a.code for a in args)})", None)


def pystr_(s: str) -> str:
    from .expressions import pystr
    return pystr(s)
