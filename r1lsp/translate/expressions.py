"""Java expressions -> Python expressions, with Java semantics preserved."""
from __future__ import annotations

from .core import E, P_ATOM, P_LAMBDA, P_MUL, P_UNARY, par
from .types import base, elem, targs, is_string, unbox, default_value

JAVA_ESC = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "0": "\0", "s": " ",
            "'": "'", '"': '"', "\\": "\\"}
INT_CONST = {("Integer", "MAX_VALUE"): ("2147483647", "int"),
             ("Integer", "MIN_VALUE"): ("-2147483648", "int"),
             ("Long", "MAX_VALUE"): ("9223372036854775807", "long"),
             ("Long", "MIN_VALUE"): ("-9223372036854775808", "long"),
             ("Short", "MAX_VALUE"): ("32767", "short"), ("Short", "MIN_VALUE"): ("-32768", "short"),
             ("Byte", "MAX_VALUE"): ("127", "byte"), ("Byte", "MIN_VALUE"): ("-128", "byte"),
             ("Character", "MAX_VALUE"): ("'\\uffff'", "char"),
             ("Character", "MIN_VALUE"): ("'\\x00'", "char"),
             ("Double", "MAX_VALUE"): ("sys.float_info.max", "double"),
             ("Double", "MIN_VALUE"): ("5e-324", "double"),
             ("Double", "POSITIVE_INFINITY"): ("math.inf", "double"),
             ("Double", "NEGATIVE_INFINITY"): ("-math.inf", "double"),
             ("Double", "NaN"): ("math.nan", "double"),
             ("Math", "PI"): ("math.pi", "double"), ("Math", "E"): ("math.e", "double")}


def java_unescape(s: str) -> str:
    out, i = [], 0
    while i < len(s):
        c = s[i]
        if c == "\\" and i + 1 < len(s):
            n = s[i + 1]
            if n == "u":
                j = i + 1
                while j < len(s) and s[j] == "u":
                    j += 1
                out.append(chr(int(s[j:j + 4], 16)))
                i = j + 4
                continue
            if n in "01234567":
                j = i + 1
                while j < len(s) and j < i + 4 and s[j] in "01234567":
                    j += 1
                out.append(chr(int(s[i + 1:j], 8)))
                i = j
                continue
            out.append(JAVA_ESC.get(n, n))
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out)


def pystr(s: str) -> str:
    """A double-quoted Python string literal."""
    r = repr(s)
    if r.startswith("'") and '"' not in s:
        r = '"' + r[1:-1].replace("\\'", "'") + '"'
    return r


def _closes_at_end(code: str, open_at: int) -> bool:
    """Whether the bracket opened at open_at closes at the last character."""
    depth = 0
    quote = None
    for k in range(open_at, len(code)):
        ch = code[k]
        if quote:
            if ch == quote and code[k - 1] != "\\":
                quote = None
            continue
        if ch in "\"'":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
            if depth == 0:
                return k == len(code) - 1
    return False


class ExprMixin:
    # ------------------------------------------------------------------ entry
    def expr(self, node, expect: str | None = None) -> E:
        t = node.type
        if t not in ("binary_expression", "parenthesized_expression", "unary_expression"):
            saved, self.in_arith = self.in_arith, 0
            try:
                return self._expr(node, expect)
            finally:
                self.in_arith = saved
        return self._expr(node, expect)

    def _expr(self, node, expect):
        t = node.type
        f = getattr(self, "x_" + t, None)
        if f is None:
            return self.untranslated_expr(node, f"no rule for expression {t}")
        saved_expect, self.cur_expect = getattr(self, "cur_expect", None), expect
        try:
            return f(node, expect) if t in ("array_initializer", "lambda_expression",
                                            "object_creation_expression",
                                            "method_reference") else f(node)
        except RecursionError:
            raise
        except Exception as e:  # a rule that does not fit this input: never crash the translation
            return self.untranslated_expr(node, f"translator error: {type(e).__name__}: {e}")
        finally:
            self.cur_expect = saved_expect

    def code(self, node, expect: str | None = None) -> str:
        return self.expr(node, expect).code

    def coerce(self, e: E, to: str | None) -> E:
        """Convert an expression value to a declared Java type (assignment conversion)."""
        frm, tou = unbox(e.type), unbox(to)
        if not tou or frm == tou or frm is None:
            if tou in ("double", "float") and e.lit is not None and isinstance(e.lit, int):
                return E(str(float(e.lit)), to)
            return e
        if tou == "char" and frm in ("int", "long", "short", "byte"):
            if e.lit is not None and isinstance(e.lit, int):
                return E(pystr(chr(e.lit)), "char")
            return E(f"chr({e.code})", "char")
        if frm == "char" and tou in ("int", "long", "short", "byte", "double", "float"):
            if e.code.startswith("chr(") and e.code.endswith(")") and tou != "double":
                return E(e.code[4:-1], tou)
            c = f"ord({e.code})"
            return E(f"float({c})" if tou in ("double", "float") else c, tou)
        if tou in ("double", "float") and frm in ("int", "long", "short", "byte"):
            if e.lit is not None:
                return E(str(float(e.lit)), to)
            return E(f"float({e.code})", to)
        if tou in ("short", "byte") and frm in ("int", "long"):
            return e
        return e

    def to_str(self, e: E) -> str:
        """Code producing the Java string form of the value (String.valueOf)."""
        t = unbox(e.type)
        if (is_string(e.type) and not e.nullable) or e.type == "char":
            return e.code
        if e.type in ("int", "long", "short", "byte"):
            return f"str({e.code})"
        if e.code == "None":
            return '"null"'
        if e.type == "float":
            return f"{self.use('_jfloat')}({e.code})"
        if t == "char[]":
            return f'"".join({e.code})'
        if t in self.classes and "toString" in self.classes[t].methods:
            return f"str({e.code})"
        return f"{self.use('_jstr')}({e.code})"

    # --------------------------------------------------------------- literals
    def x_decimal_integer_literal(self, n):
        s = self.text(n).replace("_", "")
        long_ = s[-1] in "lL"
        v = int(s.rstrip("lL"))
        return E(str(v), "long" if long_ else "int", lit=v, nonneg=True)

    def x_hex_integer_literal(self, n):
        s = self.text(n).replace("_", "")
        long_ = s[-1] in "lL"
        v = int(s.rstrip("lL"), 16)
        if not long_ and v >= 1 << 31:
            v -= 1 << 32
        elif long_ and v >= 1 << 63:
            v -= 1 << 64
        return E(s.rstrip("lL") if v >= 0 else str(v), "long" if long_ else "int", lit=v,
                 prec=P_ATOM if v >= 0 else P_UNARY, nonneg=v >= 0)

    def x_octal_integer_literal(self, n):
        s = self.text(n).replace("_", "")
        long_ = s[-1] in "lL"
        v = int(s.rstrip("lL"), 8)
        return E(str(v), "long" if long_ else "int", lit=v, nonneg=True)

    def x_binary_integer_literal(self, n):
        s = self.text(n).replace("_", "")
        long_ = s[-1] in "lL"
        v = int(s.rstrip("lL")[2:], 2)
        if not long_ and v >= 1 << 31:
            v -= 1 << 32
        return E(s.rstrip("lL") if v >= 0 else str(v), "long" if long_ else "int", lit=v,
                 nonneg=v >= 0, prec=P_ATOM if v >= 0 else P_UNARY)

    def x_decimal_floating_point_literal(self, n):
        s = self.text(n).replace("_", "")
        t = "float" if s[-1] in "fF" else "double"
        v = float(s.rstrip("fFdD"))
        txt = s.rstrip("fFdD")
        code = txt if txt[0].isdigit() and "." in txt and txt[-1] != "." and "e" not in txt.lower() \
            else repr(v)
        return E(code, t, lit=v, nonneg=v >= 0)

    def x_hex_floating_point_literal(self, n):
        s = self.text(n).replace("_", "")
        return E(repr(float.fromhex(s.rstrip("fFdD"))), "double")

    def x_true(self, n):
        return E("True", "boolean", lit=True)

    def x_false(self, n):
        return E("False", "boolean", lit=False)

    def x_null_literal(self, n):
        return E("None", "null")

    def x_character_literal(self, n):
        s = java_unescape(self.text(n)[1:-1])
        return E(pystr(s), "char", lit=s)

    def x_string_literal(self, n):
        raw = self.text(n)
        if raw.startswith('"""'):
            body = raw[3:-3]
            lines = body.split("\n")[1:]
            ind = min((len(l) - len(l.lstrip()) for l in lines if l.strip()), default=0)
            body = "\n".join(l[ind:].rstrip() for l in lines)
            return E(pystr(java_unescape(body)), "String", lit=java_unescape(body))
        s = java_unescape(raw[1:-1])
        return E(pystr(s), "String", lit=s)

    x_text_block = x_string_literal

    def x_class_literal(self, n):
        return E(self.code(n.named_children[0]), "Class")

    def x_this(self, n):
        return E("self", self.cls.name if self.cls else None)

    def x_parenthesized_expression(self, n):
        inner = n.named_children[0]
        e = self.expr(inner)
        out = E(e.code, e.type, e.prec, e.risk, e.nonneg, e.lit)
        out.rng = e.rng
        return out

    # --------------------------------------------------------------- names
    def x_identifier(self, n):
        name = self.text(n)
        v = self.scope.lookup(name)
        if v is not None:
            e = E(v.py, v.type, nonneg=v.nonneg, risk=v.big)
            e.nullable = v.nullable
            e.rng = v.rng
            return e
        fe = self.field_ref(name)
        if fe is not None:
            return fe
        if name in self.classes:
            return E(name, "class:" + name)
        if name in ("Math", "Integer", "Long", "Double", "String", "Character", "Arrays",
                    "Collections", "System", "Boolean", "Float", "Objects", "List", "Map",
                    "Set", "Short", "Byte"):
            return E(name, "class:" + name)
        return E(self.py_ident(name), None)

    @staticmethod
    def attr_name(ci, name: str) -> str:
        """The Python attribute of a field: a record component is stored as _name."""
        return "_" + name if ci is not None and name in getattr(ci, "components", ()) else name

    def py_ident(self, name: str) -> str:
        from .types import py_name
        return py_name(name)

    def field_ref(self, name: str, cls=None) -> E | None:
        """An unqualified name that refers to a field of the current class (or its supers)."""
        c = cls or self.cls
        seen = 0
        while c is not None and seen < 20:
            seen += 1
            if name in c.fields:
                ftype, static = c.fields[name]
                if static:
                    if c.module_level:
                        return E(self.module_global(name), ftype)
                    return E(f"{c.name}.{name}", ftype)
                return E(f"self.{self.attr_name(c, name)}", ftype)
            if name in c.enum_constants:
                return E(f"{c.name}.{name}", c.name)
            for iname in getattr(c, "interfaces", []):
                ic = self.classes.get(iname)
                if ic is not None and name in ic.fields:
                    return E(f"{ic.name}.{name}" if not ic.module_level else name, ic.fields[name][0])
            c = self.classes.get(c.superclass) if c.superclass else (
                self.classes.get(c.outer) if c.outer else None)
        return None

    def module_global(self, name: str) -> str:
        from .types import py_name
        return py_name(name)

    def x_field_access(self, n):
        obj = n.child_by_field_name("object")
        fname = self.text(n.child_by_field_name("field"))
        otext = self.text(obj)
        if obj.type == "identifier" and (otext, fname) in INT_CONST and self.scope.lookup(otext) is None:
            code, t = INT_CONST[(otext, fname)]
            if code.startswith(("math.", "-math.")):
                self.need("import math")
            if code.startswith("sys."):
                self.need("import sys")
            lit = int(code) if code.lstrip("-").isdigit() else None
            return E(code, t, prec=P_UNARY if code.startswith("-") else P_ATOM, lit=lit,
                     risk=lit is not None)
        if obj.type == "this":
            fe = self.field_ref(fname)
            if fe is not None and not fe.code.startswith("self."):
                return fe
            t = self.field_type(self.cls, fname) if self.cls else None
            return E(f"self.{self.attr_name(self.cls, fname)}", t)
        if obj.type == "super":
            return E(f"self.{fname}", self.field_type(self.cls, fname) if self.cls else None)
        o = self.expr(obj)
        if o.type and o.type.startswith("class:"):
            cname = o.type[6:]
            ci = self.classes.get(cname)
            if ci is not None:
                fe = self.field_ref(fname, ci)
                if fe is not None:
                    return fe
                if fname in self.classes:
                    return E(fname, "class:" + fname)
            return E(f"{o.code}.{fname}", None)
        if fname == "length" and (o.type is None or o.type.endswith("[]")):
            return E(f"len({o.code})", "int", nonneg=True)
        t = None
        attr = fname
        if o.type and base(o.type) in self.classes:
            oci = self.classes[base(o.type)]
            t = self.field_type(oci, fname)
            t = self.subst(oci, t, o.type)
            attr = self.attr_name(oci, fname)
        return E(f"{par(o, P_ATOM)}.{attr}", t)

    def field_type(self, c, name):
        while c is not None:
            if name in c.fields:
                return c.fields[name][0]
            c = self.classes.get(c.superclass) if c.superclass else None
        return None

    def x_array_access(self, n):
        a = self.expr(n.child_by_field_name("array"))
        i = self.expr(n.child_by_field_name("index"))
        i = self.coerce(i, "int")
        return E(f"{par(a, P_ATOM)}[{i.code}]", elem(a.type))

    # ------------------------------------------------------------- operators
    def type_of(self, node) -> str:
        """Normalised Java type text of a type node."""
        if node is None:
            return "Object"
        t = "".join(self.text(node).split())
        if t.startswith("final"):
            t = t[5:]
        if "." in t and "<" not in t:
            t = t.rsplit(".", 1)[-1]
        elif "." in t.split("<")[0]:
            head, rest = t.split("<", 1)
            t = head.rsplit(".", 1)[-1] + "<" + rest
        return t

    # -------------------------------------------------------- assignment / update
    def lvalue(self, node) -> E:
        return self.expr(node)

    def note_assign(self, target: E) -> None:
        if target.code in self.module_names and self.scope.lookup(target.code) is None:
            self.func_globals.add(target.code)

    # ------------------------------------------------------------- creation
    def x_array_creation_expression(self, n):
        t = self.type_of(n.child_by_field_name("type"))
        dims = [c for c in n.children if c.type == "dimensions_expr"]
        init = n.child_by_field_name("value")
        ndims = self.text(n).count("[")
        full = t + "[]" * ndims
        if init is not None:
            return self.x_array_initializer(init, full)
        sizes = [self.coerce(self.expr(d.named_children[0]), "int") for d in dims]
        extra = ndims - len(sizes)
        leaf = "None" if extra else default_value(t)
        code = f"[{leaf}] * {par(sizes[-1], P_MUL + 1)}"
        for k, s in enumerate(reversed(sizes[:-1])):
            v = "_" if k == 0 else f"_{k}"
            code = f"[{code} for {v} in range({s.code})]"
        return E(code, full)

    def x_array_initializer(self, n, expect=None):
        et = elem(expect) if expect else None
        items = [self.coerce(self.expr(c, et), et) if c.type != "array_initializer"
                 else self.x_array_initializer(c, et) for c in n.named_children]
        return E("[" + ", ".join(i.code for i in items) + "]", expect)

    def x_lambda_expression(self, n, expect=None, ptypes=None):
        params = n.child_by_field_name("parameters")
        body = n.child_by_field_name("body")
        from .types import Scope
        outer = self.scope
        self.scope = Scope(outer)
        names = []
        if params.type == "identifier":
            plist = [(None, params)]
        else:
            plist = []
            for p in params.named_children:
                if p.type == "identifier":
                    plist.append((None, p))
                else:
                    plist.append((self.type_of(p.child_by_field_name("type")),
                                  p.child_by_field_name("name")))
        if ptypes is None and expect:
            ptypes = self.lambda_param_types(expect)
        for k, (pt, pn) in enumerate(plist):
            if pt is None and ptypes and k < len(ptypes):
                pt = ptypes[k]
            names.append(self.scope.declare(self.text(pn), pt).py)
        try:
            if body.type != "block":
                saved_pre = self.pre
                self.pre = []
                e = self.expr(body)
                hoisted, self.pre = self.pre, saved_pre
                if not hoisted and not self.statement_only(e.code):
                    r = E(f"lambda {', '.join(names)}: {e.code}".replace("lambda :", "lambda:"),
                          expect, P_LAMBDA)
                    r.ret = e.type
                    return r
                # a body that is a statement (an assignment, a loop) needs a def
                fname = self.tmp("fn")
                lines = hoisted + [e.code]
                self.pre.append(f"def {fname}({', '.join(names)}):")
                self.pre.extend("    " + ln for ln in lines)
                return E(fname, expect)
            # a block body becomes a local function defined before the statement
            fname = self.tmp("fn")
            saved_pre, saved_loops = self.pre, self.loops
            self.pre, self.loops = [], []
            lines = self.block_lines(body)
            self.pre, self.loops = saved_pre, saved_loops
            self.pre.append(f"def {fname}({', '.join(names)}):")
            self.pre.extend("    " + ln for ln in (lines or ["pass"]))
            return E(fname, expect)
        finally:
            self.scope = outer

    def lambda_param_types(self, t):
        b, a = base(t), targs(t)
        if b in ("Function", "Predicate", "Consumer", "UnaryOperator", "ToIntFunction",
                 "ToDoubleFunction", "ToLongFunction"):
            return a[:1]
        if b in ("BiFunction", "BiPredicate", "BiConsumer", "ToIntBiFunction"):
            return a[:2]
        if b in ("BinaryOperator", "Comparator"):
            return a[:1] * 2
        if b in ("IntBinaryOperator",):
            return ["int", "int"]
        if b in ("IntUnaryOperator", "IntPredicate", "IntFunction", "IntConsumer"):
            return ["int"]
        if b in ("DoubleUnaryOperator",):
            return ["double"]
        if b in ("DoubleBinaryOperator",):
            return ["double", "double"]
        ci = self.classes.get(b)
        if ci is not None and ci.kind == "interface":
            ms = [m for ms in ci.methods.values() for m in ms if m.abstract]
            if len(ms) == 1:
                return [p[0] for p in ms[0].params]
        return None

    def x_switch_expression(self, n):
        return self.switch_value(n)
