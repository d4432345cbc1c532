"""Java operators with Java semantics: arithmetic (truncating division, overflow wraps),
shifts, comparisons, string concatenation, casts, assignment and ++/-- as values."""
from __future__ import annotations

from .core import (E, P_ADD, P_AND, P_ATOM, P_BAND, P_BOR, P_BXOR, P_CMP, P_MUL, P_NOT, P_OR,
                   P_SHIFT, P_TERN, P_UNARY, par)
from .expressions import _closes_at_end, pystr
from .types import (BOUNDS, base, fits, interval, is_char, is_float, is_integral, is_numeric, is_string,
                    promote, unbox)


class OperatorMixin:
    def x_binary_expression(self, n):
        op = self.text(n.child_by_field_name("operator"))
        ln, rn = n.child_by_field_name("left"), n.child_by_field_name("right")
        if op == "+":
            if self.is_string_expr(n):
                return self.concat(n)
        if op in ("&&", "||"):
            l, r = self.expr(ln), self.expr(rn)
            p = P_AND if op == "&&" else P_OR
            return E(f"{par(l, p)} {'and' if op == '&&' else 'or'} {par(r, p + 1 if p == P_AND else p)}",
                     "boolean", p)
        # ops that commute with wrapping to 32/64 bits let a risky operand stay unwrapped
        arith = op in ("+", "-", "*", "<<", "&", "|", "^", ">>>")  # >>> masks its operand too
        saved = self.in_arith
        self.in_arith = saved + 1 if arith else 0
        try:
            l, r = self.expr(ln), self.expr(rn)
        finally:
            self.in_arith = saved
        if op in ("==", "!=", "<", ">", "<=", ">="):
            return self.compare(op, l, r)
        if op in ("&", "|", "^") and (unbox(l.type) == "boolean" or unbox(r.type) == "boolean"):
            p = {"&": P_BAND, "|": P_BOR, "^": P_BXOR}[op]
            if op == "^":
                return E(f"{par(l, P_CMP + 1)} != {par(r, P_CMP + 1)}", "boolean", P_CMP)
            return E(f"{par(l, p)} {op} {par(r, p + 1)}", "boolean", p)
        rl, rr = self.rng_of(l), self.rng_of(r)
        if is_char(l.type):
            l = self.coerce(l, "int")
        if is_char(r.type):
            r = self.coerce(r, "int")
        t = promote(l.type, r.type)
        if op in ("<<", ">>", ">>>"):
            t = unbox(l.type) if is_integral(l.type) else (t or "int")
            if t in ("short", "byte", "char"):
                t = "int"
        intlike = t in ("int", "long")
        risk = l.risk or r.risk
        if op in ("+", "-", "*"):
            p = P_ADD if op != "*" else P_MUL
            res = E(f"{par(l, p)} {op} {par(r, p + 1)}", t, p, risk,
                    nonneg=op != "-" and l.nonneg and r.nonneg)
            self.arith_range(res, op, rl, rr, t)
        elif op == "/":
            if is_float(t):
                res = self.fdiv(l, r, rr, t)
            elif intlike and l.nonneg and r.nonneg and r.lit not in (None, 0):
                res = E(f"{par(l, P_MUL)} // {par(r, P_MUL + 1)}", t, P_MUL, risk, nonneg=True)
            elif intlike:
                res = E(f"{self.use('_idiv')}({l.code}, {r.code})", t, risk=risk)
            else:
                res = E(f"{self.use('_div')}({l.code}, {r.code})", t)
        elif op == "%":
            if is_float(t):
                self.need("import math")
                res = E(f"math.fmod({l.code}, {r.code})", t)
            elif l.nonneg and r.nonneg and r.lit not in (None, 0):
                res = E(f"{par(l, P_MUL)} % {par(r, P_MUL + 1)}", t, P_MUL, nonneg=True)
            else:
                res = E(f"{self.use('_irem')}({l.code}, {r.code})", t)
        elif op == "<<":
            k = self.shift_count(r, t)
            res = E(f"{par(l, P_SHIFT)} << {k.code}", t, P_SHIFT, True)
            if isinstance(k.lit, int) and rl is not None and not l.risk:
                self.arith_range(res, "*", rl, (1 << k.lit, 1 << k.lit), t)
        elif op == ">>":
            k = self.shift_count(r, t)
            res = E(f"{par(l, P_SHIFT)} >> {k.code}", t, P_SHIFT, risk, l.nonneg)
        elif op == ">>>":
            h = "_ushr64" if t == "long" else "_ushr32"
            res = E(f"{self.use(h)}({l.code}, {r.code})", t)
        elif op in ("&", "|", "^"):
            p = {"&": P_BAND, "|": P_BOR, "^": P_BXOR}[op]
            res = E(f"{par(l, p)} {op} {par(r, p + 1)}", t, p, risk,
                    nonneg=op == "&" and (l.nonneg or r.nonneg))
        else:
            return self.untranslated_expr(n, f"operator {op}")
        if t in ("int", "long") and not res.risk and res.rng is None:
            res.rng = self.result_range(op, l, r, rl, rr, t)
        if res.risk and self.in_arith == 0 and t in ("int", "long"):
            return self.wrap(res, t)
        return res

    def result_range(self, op, l: E, r: E, rl, rr, t):
        """The range of an int/long result of / % & >> >>> when the operands bound it."""
        lo, hi = BOUNDS[t]
        k = r.lit if isinstance(r.lit, int) else None
        if op == ">>>" and k is not None and k & (63 if t == "long" else 31):
            return (0, (1 << ((64 if t == "long" else 32) - (k & (63 if t == "long" else 31)))) - 1)
        if op == ">>" and k is not None:
            a, b = rl or (lo, hi)
            k &= 63 if t == "long" else 31
            return (a >> k, b >> k)
        if op == "&":
            his = [x[1] for x in (rl, rr) if x is not None and x[0] >= 0]
            return (0, min(his)) if his else None
        if op == "%" and k:
            m = abs(k) - 1
            return (0, m) if rl is not None and rl[0] >= 0 else (-m, m)
        if op == "/" and k and abs(k) >= 2:
            a, b = rl or (lo, hi)
            q = sorted((int(a / k), int(b / k)))
            return (q[0] - 1, q[1] + 1)
        return None

    def fdiv(self, l: E, r: E, rr, t) -> E:
        """Floating division: Java gives ±Infinity/NaN for a zero divisor where Python raises;
        plain `/` when the divisor is provably non-zero (a literal, an integer range without 0)."""
        nonzero = (r.lit is not None and r.lit != 0) or (rr is not None and (rr[0] > 0 or rr[1] < 0))
        if nonzero:
            return E(f"{par(l, P_MUL)} / {par(r, P_MUL + 1)}", t, P_MUL)
        return E(f"{self.use('_fdiv')}({l.code}, {r.code})", t)

    def arith_operand(self, node, t, op: str) -> E:
        """The right operand of a compound assignment: inside + - * it may stay unwrapped
        (the assignment wraps the whole value once)."""
        saved = self.in_arith
        self.in_arith = saved + 1 if op in ("+", "-", "*") and t in ("int", "long") else 0
        try:
            return self.expr(node)
        finally:
            self.in_arith = saved

    def step_fits(self, tgt: E, delta: int) -> bool:
        """Whether tgt ± 1 provably stays inside its type (a counter, a bounded loop variable)."""
        r = self.rng_of(tgt)
        return r is not None and fits(interval("+", r, (delta, delta)), unbox(tgt.type))

    def d2i(self, code: str, t: str) -> str:
        """Java's (int)/(long) of a double: truncation, saturation, NaN -> 0."""
        if t == "long":
            return f"{self.use('_d2i')}({code}, -9223372036854775808, 9223372036854775807)"
        return f"{self.use('_d2i')}({code})"

    def rng_of(self, e: E):
        """The range an integral expression's value lies in (None: its whole type, or unknown)."""
        if e.risk:
            return None
        if isinstance(e.lit, int) and not isinstance(e.lit, bool):
            return (e.lit, e.lit)
        if e.rng is not None:
            return e.rng
        t = unbox(e.type)
        if t in ("char", "short", "byte"):
            return BOUNDS[t]
        if e.nonneg and t in ("int", "long"):
            return (0, BOUNDS[t][1])
        return None

    def arith_range(self, res: E, op: str, rl, rr, t) -> None:
        """Java integer semantics for + - *: the result needs wrapping unless the operand
        ranges prove it stays inside its type (int/long)."""
        if t not in ("int", "long"):
            return
        rng = interval(op, rl, rr) if rl is not None and rr is not None else None
        if fits(rng, t):
            res.rng = rng
            res.risk = False
            res.nonneg = res.nonneg or rng[0] >= 0
        else:
            res.risk = True

    def shift_count(self, r: E, t: str | None) -> E:
        """Java masks a shift count to 5 bits (int) / 6 bits (long)."""
        mask = 63 if t == "long" else 31
        if isinstance(r.lit, int):
            k = r.lit & mask
            return E(str(k), "int", lit=k)
        rr = self.rng_of(r)
        if rr is not None and 0 <= rr[0] and rr[1] <= mask:
            return E(par(r, P_SHIFT + 1), "int")
        return E(f"({par(r, P_BAND)} & {mask})", "int")

    def wrap(self, e: E, t: str) -> E:
        h = "_i64" if t == "long" else "_i32"
        return E(f"{self.use(h)}({e.code})", t)

    def compare(self, op, l: E, r: E) -> E:
        if l.code == "None" or r.code == "None":
            other = r if l.code == "None" else l
            return E(f"{par(other, P_CMP + 1)} {'is' if op == '==' else 'is not'} None",
                     "boolean", P_CMP)
        lc, rc = is_char(l.type), is_char(r.type)
        if lc != rc:
            if lc and is_numeric(r.type):
                l = self.coerce(l, "int")
            elif rc and is_numeric(l.type):
                r = self.coerce(r, "int")
        pyop = op
        if op in ("==", "!=") and self.is_object_type(l.type) and self.is_object_type(r.type):
            pyop = "is" if op == "==" else "is not"
        return E(f"{par(l, P_CMP + 1)} {pyop} {par(r, P_CMP + 1)}", "boolean", P_CMP)

    def is_object_type(self, t):
        if not t:
            return False
        b = base(t)
        return b in self.classes and self.classes[b].kind != "enum" or b == "Object"

    def is_string_expr(self, n) -> bool:
        if n.type == "parenthesized_expression":
            return self.is_string_expr(n.named_children[0])
        if n.type == "binary_expression" and self.text(n.child_by_field_name("operator")) == "+":
            return (self.is_string_expr(n.child_by_field_name("left"))
                    or self.is_string_expr(n.child_by_field_name("right")))
        if n.type in ("string_literal", "text_block"):
            return True
        if n.type in ("identifier", "method_invocation", "field_access", "array_access",
                      "ternary_expression", "cast_expression"):
            saved = (self.pre[:], set(self.helpers), set(self.imports), len(self.untranslated))
            e = self.expr(n)
            self.pre[:] = saved[0]
            self.helpers, self.imports = saved[1], saved[2]
            del self.untranslated[saved[3]:]
            return is_string(e.type)
        return False

    def concat(self, n) -> E:
        parts: list = []

        def flat(x):
            if x.type == "binary_expression" and self.text(x.child_by_field_name("operator")) == "+" \
                    and self.is_string_expr(x):
                flat(x.child_by_field_name("left"))
                parts.append(self.expr(x.child_by_field_name("right")))
            else:
                parts.append(self.expr(x))

        flat(n)
        if all(is_string(p.type) and not p.nullable for p in parts):
            return E(" + ".join(par(p, P_ADD + 1) for p in parts), "String", P_ADD)
        bad = any(p.lit is None and any(ch in p.code for ch in '\\"#{}\n') for p in parts)
        if bad:
            def piece(p: E) -> str:
                c = self.to_str(p) if not is_string(p.type) or p.nullable else p.code
                return par(p, P_ADD + 1) if c == p.code else c
            return E(" + ".join(piece(p) for p in parts), "String", P_ADD)
        out = []
        for p in parts:
            if p.lit is not None and is_string(p.type):
                s = p.lit
                out.append(pystr(s)[1:-1].replace("{", "{{").replace("}", "}}")
                           if pystr(s).startswith('"') else
                           repr(s)[1:-1].replace('"', '\\"').replace("{", "{{").replace("}", "}}"))
            elif p.lit is not None and p.type == "char":
                out.append(pystr(p.lit)[1:-1].replace("{", "{{").replace("}", "}}")
                           if pystr(p.lit).startswith('"') else
                           repr(p.lit)[1:-1].replace('"', '\\"'))
            else:
                c = self.to_str(p)
                if c.startswith("str(") and _closes_at_end(c, 3):
                    c = c[4:-1]
                if c.startswith("{"):
                    c = " " + c
                out.append("{" + c + "}")
        return E('f"' + "".join(out) + '"', "String")

    def x_unary_expression(self, n):
        op = self.text(n.child_by_field_name("operator"))
        saved = self.in_arith
        self.in_arith = saved + 1 if op in ("-", "~", "+") else 0   # they commute with wrapping
        try:
            e = self.expr(n.child_by_field_name("operand"))
        finally:
            self.in_arith = saved
        if op == "!":
            return E(f"not {par(e, P_NOT)}", "boolean", P_NOT)
        if is_char(e.type):
            e = self.coerce(e, "int")
        t = unbox(e.type)
        if t in ("short", "byte", "char"):
            t = "int"
        if op == "-":
            if e.lit is not None:
                return E("-" + e.code, t, P_UNARY, lit=-e.lit)
            res = E(f"-{par(e, P_UNARY)}", t, P_UNARY, e.risk)
            r = self.rng_of(e)
            if t in ("int", "long"):
                if r is not None and r[0] > BOUNDS[t][0]:   # -MIN_VALUE is the one overflow
                    res.rng = (-r[1], -r[0])
                else:
                    res.risk = True
                    if self.in_arith == 0:
                        return self.wrap(res, t)
            return res
        if op == "+":
            return e
        if op == "~":
            res = E(f"~{par(e, P_UNARY)}", t, P_UNARY, e.risk)
            if e.risk and self.in_arith == 0 and t in ("int", "long"):
                return self.wrap(res, t)
            return res
        return self.untranslated_expr(n, f"unary {op}")

    def x_ternary_expression(self, n):
        c = self.expr(n.child_by_field_name("condition"))
        a = self.expr(n.child_by_field_name("consequence"))
        b = self.expr(n.child_by_field_name("alternative"))
        t = a.type if a.type != "null" else b.type
        if is_numeric(a.type) and is_numeric(b.type) and unbox(a.type) != unbox(b.type):
            if not (is_char(a.type) and b.lit is not None) and not (is_char(b.type) and a.lit is not None):
                t = promote(a.type, b.type)
                a, b = self.coerce(a, t), self.coerce(b, t)
            else:
                t = "char"
                a, b = self.coerce(a, "char"), self.coerce(b, "char")
        return E(f"{par(a, P_TERN + 1)} if {par(c, P_TERN + 1)} else {par(b, P_TERN)}", t, P_TERN)

    def x_cast_expression(self, n):
        t = self.type_of(n.child_by_field_name("type"))
        e = self.expr(n.child_by_field_name("value"))
        frm = unbox(e.type)
        if t in ("int", "long", "short", "byte"):
            if is_float(frm):
                if e.lit is not None and e.lit == e.lit and abs(e.lit) != float("inf"):
                    bits = {"int": 32, "long": 64, "short": 32, "byte": 32}[t]
                    v = max(-(1 << (bits - 1)), min((1 << (bits - 1)) - 1, int(e.lit)))
                    if t in ("short", "byte"):
                        w = 16 if t == "short" else 8
                        v &= (1 << w) - 1
                        v = v - (1 << w) if v >= 1 << (w - 1) else v
                    return E(str(v), t, lit=v, prec=P_UNARY if v < 0 else P_ATOM)
                c = self.d2i(e.code, "long" if t == "long" else "int")
                if t in ("short", "byte"):
                    c = f"{self.use('_i16' if t == 'short' else '_i8')}({self.use('_d2i')}({e.code}))"
                return E(c, t)
            if frm == "char":
                c = self.coerce(e, "int")
                return E(c.code, t) if t in ("int", "long") else E(c.code, t)
            if frm == t or (t == "long" and frm in ("int", "short", "byte")):
                return E(e.code, t, e.prec, nonneg=e.nonneg, lit=e.lit)
            if t == "int" and frm in ("int", "short", "byte"):
                return E(e.code, t, e.prec, lit=e.lit)
            h = {"int": "_i32", "long": "_i64", "short": "_i16", "byte": "_i8"}[t]
            if e.lit is not None and isinstance(e.lit, int):
                v = e.lit
                bits = {"int": 32, "long": 64, "short": 16, "byte": 8}[t]
                v &= (1 << bits) - 1
                if v >= 1 << (bits - 1):
                    v -= 1 << bits
                return E(str(v), t, lit=v, prec=P_UNARY if v < 0 else P_ATOM)
            return E(f"{self.use(h)}({e.code})", t)
        if t == "char":
            if frm in ("int", "long", "short", "byte"):
                return self.coerce(e, "char")
            if is_float(frm):
                return E(f"chr(int({e.code}))", "char")
            return E(e.code, "char", e.prec)
        if t == "float" and frm != "float":
            if e.lit is not None and isinstance(e.lit, float):
                return E(e.code, "float", lit=e.lit)
            return E(f"{self.use('_f32')}({e.code})", "float")
        if t in ("double", "float"):
            if frm == "char":
                return E(f"float(ord({e.code}))", t)
            if frm in ("int", "long", "short", "byte") or frm is None:
                if e.lit is not None:
                    return E(str(float(e.lit)), t, lit=float(e.lit))
                return E(f"float({e.code})", t)
            return E(e.code, t, e.prec, lit=e.lit)
        return E(e.code, t if t != "Object" else e.type, e.prec)

    def x_instanceof_expression(self, n):
        l = self.expr(n.child_by_field_name("left"))
        t = self.type_of(n.child_by_field_name("right"))
        name = n.child_by_field_name("name")
        pyt = {"String": "str", "Integer": "int", "Long": "int", "Double": "float",
               "Boolean": "bool", "Character": "str", "Object": "object"}.get(base(t), base(t))
        target = l.code
        if name is not None:
            v = self.scope.declare(self.text(name), t)
            target = f"({v.py} := {l.code})"
        return E(f"isinstance({target}, {pyt})", "boolean")

    def x_assignment_expression(self, n):
        """Assignment used as a value: walrus on simple names."""
        op = self.text(n.child_by_field_name("operator"))
        left = n.child_by_field_name("left")
        tgt = self.lvalue(left)
        val = self.assign_value(tgt, op, n.child_by_field_name("right"))
        if left.type == "identifier" and "." not in tgt.code:
            self.note_assign(tgt)
            return E(f"({tgt.code} := {val.code})", tgt.type)
        if left.type == "array_access":
            a = self.expr(left.child_by_field_name("array"))
            i = self.expr(left.child_by_field_name("index"))
            self.pre.append(f"{par(a, P_ATOM)}[{i.code}] = {val.code}")
            return E(f"{par(a, P_ATOM)}[{i.code}]", tgt.type)
        self.pre.append(f"{tgt.code} = {val.code}")
        return E(tgt.code, tgt.type)

    def assign_value(self, tgt: E, op: str, rnode) -> E:
        """The full new value of the target for `tgt op= right` (as an expression)."""
        t = unbox(tgt.type)
        if op == "=":
            if rnode.type == "array_initializer":
                return self.expr(rnode, tgt.type)
            return self.coerce(self.expr(rnode, tgt.type), tgt.type)
        bop = op[:-1]
        r = self.arith_operand(rnode, t, bop)
        if is_string(tgt.type) and bop == "+":
            return E(f"{tgt.code} + {par(E(self.to_str(r), 'String'), P_ADD + 1)}", "String", P_ADD)
        l = E(tgt.code, tgt.type)
        l.rng = tgt.rng
        if unbox(tgt.type) == "boolean":
            return E(f"{tgt.code} {bop} {par(r, P_BAND + 1)}", "boolean", P_BAND)
        fake = self.binop(bop, l, r)
        if t in ("int", "long", "short", "byte", "char"):
            if is_float(fake.type):  # compound assignment narrows: (T) (x op y)
                fake = E(self.d2i(fake.code, "long" if t == "long" else "int"), t)
                if t == "int" or t == "long":
                    return fake
            if t == "char":
                return E(f"chr({par(fake, P_BAND)} & 0xFFFF)", "char")
            if t in ("short", "byte"):
                return E(f"{self.use('_i16' if t == 'short' else '_i8')}({fake.code})", t)
            if fake.risk and not fake.code.startswith("_i"):
                return self.wrap(fake, t)
        return fake

    def binop(self, op: str, l: E, r: E) -> E:
        """Apply a Java arithmetic operator to two already-translated operands."""
        rl, rr = self.rng_of(l), self.rng_of(r)
        if is_char(l.type):
            l = self.coerce(l, "int")
        if is_char(r.type):
            r = self.coerce(r, "int")
        t = promote(l.type, r.type) or l.type
        intlike = unbox(t) in ("int", "long", "short", "byte")
        if op in ("+", "-", "*"):
            p = P_ADD if op != "*" else P_MUL
            res = E(f"{par(l, p)} {op} {par(r, p + 1)}", t, p, r.risk)
            self.arith_range(res, op, rl, rr, unbox(t))
            return res
        if op == "/":
            if is_float(t):
                return self.fdiv(l, r, rr, t)
            if intlike:
                return E(f"{self.use('_idiv')}({l.code}, {r.code})", t)
            return E(f"{self.use('_div')}({l.code}, {r.code})", t)
        if op == "%":
            if is_float(t):
                self.need("import math")
                return E(f"math.fmod({l.code}, {r.code})", t)
            return E(f"{self.use('_irem')}({l.code}, {r.code})", t)
        if op == "<<":
            k = self.shift_count(r, unbox(l.type))
            return E(f"{par(l, P_SHIFT)} << {k.code}", unbox(l.type), P_SHIFT, True)
        if op == ">>":
            k = self.shift_count(r, unbox(l.type))
            return E(f"{par(l, P_SHIFT)} >> {k.code}", unbox(l.type), P_SHIFT)
        if op == ">>>":
            h = "_ushr64" if unbox(l.type) == "long" else "_ushr32"
            return E(f"{self.use(h)}({l.code}, {r.code})", unbox(l.type))
        p = {"&": P_BAND, "|": P_BOR, "^": P_BXOR}[op]
        return E(f"{par(l, p)} {op} {par(r, p + 1)}", t, p)

    def x_update_expression(self, n):
        """++/-- used as a value."""
        kids = n.children
        prefix = kids[0].type in ("++", "--")
        opnode = kids[0] if prefix else kids[-1]
        target = kids[1] if prefix else kids[0]
        delta = 1 if opnode.type == "++" else -1
        tgt = self.lvalue(target)
        t = unbox(tgt.type)
        if target.type == "identifier" and "." not in tgt.code:
            self.note_assign(tgt)
            if t == "char":
                new = f"chr(ord({tgt.code}) {'+' if delta > 0 else '-'} 1)"
                if prefix:
                    return E(f"({tgt.code} := {new})", "char")
                tmp = self.tmp("old")
                return E(f"[{tmp} := {tgt.code}, ({tgt.code} := {new})][0]", "char")
            sign = "+" if delta > 0 else "-"
            new = f"{tgt.code} {sign} 1"
            if t in ("short", "byte"):
                new = f"{self.use('_i16' if t == 'short' else '_i8')}({new})"
            elif t in ("int", "long") and not self.step_fits(tgt, delta):
                new = self.wrap(E(new, t), t).code
            if prefix:
                return E(f"({tgt.code} := {new})", tgt.type)
            if new.startswith("_i"):
                tmp = self.tmp("old")
                return E(f"[{tmp} := {tgt.code}, ({tgt.code} := {new})][0]", tgt.type)
            back = "-" if delta > 0 else "+"
            return E(f"({tgt.code} := {new}) {back} 1", tgt.type, P_ADD)
        if target.type == "array_access":
            a = self.expr(target.child_by_field_name("array"))
            i = self.expr(target.child_by_field_name("index"))
            return E(f"{self.use('_pinc_item')}({a.code}, {i.code}, {delta}"
                     f"{', False' if prefix else ''})", tgt.type)
        if target.type == "field_access" or tgt.code.startswith("self."):
            obj, _, attr = tgt.code.rpartition(".")
            return E(f"{self.use('_pinc_attr')}({obj}, {attr!r}, {delta}"
                     f"{', False' if prefix else ''})", tgt.type)
        if "." in tgt.code:
            obj, _, attr = tgt.code.rpartition(".")
            return E(f"{self.use('_pinc_attr')}({obj}, {attr!r}, {delta}"
                     f"{', False' if prefix else ''})", tgt.type)
        return self.untranslated_expr(n, "update of this target used as a value")
