"""Java statements -> Python statements (declarations, if, try, throw…; loops in loops.py,
switch in switch.py)."""
from __future__ import annotations

from .core import E, Loop, par
from .library import CATCH
from .types import COUNTER_RANGE, COUNTER_STEP, Scope, base, elem, is_char, targs, unbox

IND = "    "


def indent(lines: list[str]) -> list[str]:
    return [IND + ln if ln else ln for ln in (lines or ["pass"])]


class StmtMixin:
    def block_lines(self, node, new_scope: bool = True) -> list[str]:
        if new_scope:
            outer = self.scope
            self.scope = Scope(outer)
        try:
            out: list[str] = []
            kids = node.named_children if node.type in ("block", "constructor_body") else [node]
            for c in kids:
                out.extend(self.stmt(c))
            return out
        finally:
            if new_scope:
                self.scope = outer

    def body_lines(self, node) -> list[str]:
        return indent(self.block_lines(node))

    def stmt(self, node) -> list[str]:
        saved = self.pre
        self.pre = []
        try:
            f = getattr(self, "s_" + node.type, None)
            if f is None:
                if node.type.endswith("comment"):
                    return []
                lines = self.untranslated_stmt(node, f"no rule for statement {node.type}")
            else:
                try:
                    lines = f(node)
                except RecursionError:
                    raise
                except Exception as e:  # never crash the translation on one statement
                    self.pre = []
                    lines = self.untranslated_stmt(node, f"translator error: {type(e).__name__}: {e}")
            return self.pre + lines
        finally:
            self.pre = saved

    # ------------------------------------------------------------ simple ones
    def s_block(self, n):
        return self.block_lines(n)

    def s_line_comment(self, n):
        return []

    s_block_comment = s_line_comment

    def s_empty_statement(self, n):
        return []

    def s_local_variable_declaration(self, n):
        t = self.type_of(n.child_by_field_name("type"))
        out = []
        for d in n.children_by_field_name("declarator"):
            name = self.text(d.child_by_field_name("name"))
            dims = d.child_by_field_name("dimensions")
            vt = t + (self.text(dims).replace(" ", "") if dims is not None else "")
            val = d.child_by_field_name("value")
            e = None
            if val is not None:
                e = self.expr(val, vt) if val.type != "array_initializer" else self.x_array_initializer(val, vt)
                if vt == "var":
                    vt = e.type
                e = self.coerce(e, vt)
            v = self.scope.declare(name, vt, nonneg=bool(e and e.nonneg and self.never_assigned(name)))
            if unbox(vt) in ("int", "long") and e is not None:
                if self.rng_of(e) is not None and self.local_writes(name, n) == [n]:
                    v.rng = self.rng_of(e)   # never written again: it keeps its initial value's range
                elif self.is_counter(name, n, e):
                    v.rng = COUNTER_RANGE
            v.nullable = e is not None and e.code == "None"
            v.big = bool(e is not None and (e.risk or isinstance(e.lit, int) and abs(e.lit) >= 1 << 20))
            if e is not None:
                out.append(f"{v.py} = {e.code}")
            elif self.loops:
                out.append(f"{v.py} = {self.default_for(vt)}")
        return out

    def default_for(self, t):
        from .types import default_value
        return default_value(t)

    def never_assigned(self, name) -> bool:
        return False

    def local_writes(self, name: str, decl) -> list | None:
        """The declarations, assignments and ++/-- of a local name in the body declaring it
        (gathered once per body); None outside a body."""
        x = decl.parent
        while x is not None and x.type not in ("method_declaration", "constructor_declaration",
                                               "lambda_expression", "static_initializer", "program"):
            x = x.parent
        if x is None:
            return None
        cache = self.__dict__.setdefault("_writes", {})
        key = (x.start_byte, x.end_byte)
        if key not in cache:
            writes: dict[str, list] = {}
            stack = [x]
            while stack:
                y = stack.pop()
                if y.type == "assignment_expression":
                    left = y.child_by_field_name("left")
                    if left.type == "identifier":
                        writes.setdefault(self.text(left), []).append(y)
                elif y.type == "update_expression":
                    for c in y.named_children:
                        if c.type == "identifier":
                            writes.setdefault(self.text(c), []).append(y)
                elif y.type == "local_variable_declaration":
                    for d in y.children_by_field_name("declarator"):
                        writes.setdefault(self.text(d.child_by_field_name("name")), []).append(y)
                stack.extend(y.named_children)
            cache[key] = writes
        return cache[key].get(name, [])

    def is_counter(self, name: str, decl, init: E) -> bool:
        """A local set only to small constants and stepped by at most COUNTER_STEP: it
        stays within COUNTER_RANGE (so ±, small multiples of it are not wrapped)."""
        def small(e_or_node) -> bool:
            if isinstance(e_or_node, E):
                return isinstance(e_or_node.lit, int) and abs(e_or_node.lit) <= 1 << 20
            t = self.text(e_or_node).replace("_", "").rstrip("lL")
            if e_or_node.type == "unary_expression" and t.startswith("-"):
                t = t[1:].strip()
            return t.isdigit() and int(t) <= 1 << 20
        if not small(init):
            return False
        writes = self.local_writes(name, decl)
        if writes is None:
            return False
        for y in writes:
            if y.type == "update_expression":
                continue
            if y.type == "assignment_expression":
                op = self.text(y.child_by_field_name("operator"))
                right = y.child_by_field_name("right")
                if op == "=" and small(right):
                    pass
                elif op in ("+=", "-=") and small(right) and \
                        abs(int(self.text(right).replace("_", "").rstrip("lL").lstrip("-").strip())) <= COUNTER_STEP:
                    pass
                else:
                    return False
            elif y != decl:
                for d in y.children_by_field_name("declarator"):
                    if self.text(d.child_by_field_name("name")) == name:
                        val = d.child_by_field_name("value")
                        if val is None or not small(val):
                            return False
        return True

    def s_expression_statement(self, n):
        x = n.named_children[0]
        return self.expr_stmt(x)

    def expr_stmt(self, x) -> list[str]:
        if x.type == "assignment_expression":
            op = self.text(x.child_by_field_name("operator"))
            left, right = x.child_by_field_name("left"), x.child_by_field_name("right")
            if op == "=" and right.type == "assignment_expression" and \
                    self.text(right.child_by_field_name("operator")) == "=":
                targets = [left]
                r = right
                while r.type == "assignment_expression" and self.text(r.child_by_field_name("operator")) == "=":
                    targets.append(r.child_by_field_name("left"))
                    r = r.child_by_field_name("right")
                tg = [self.lvalue(t) for t in targets]
                for t in tg:
                    self.note_assign(t)
                val = self.coerce(self.expr(r), tg[-1].type)
                return [" = ".join(t.code for t in tg) + " = " + val.code]
            tgt = self.lvalue(left)
            self.note_assign(tgt)
            t = unbox(tgt.type)
            if op != "=":
                bop = op[:-1]
                simple = (bop in ("+", "-") and t in ("int", "long", "double", "float", "String", None)) \
                    or (bop in ("*",) and t in ("double", "float")) or \
                    (bop in ("&", "|", "^") and t in ("int", "long", "boolean")) or \
                    (bop == ">>" and t in ("int", "long"))
                if simple:
                    r = self.arith_operand(right, t, bop)
                    if t == "String":
                        return [f"{tgt.code} += {self.to_str(r)}"]
                    if is_char(r.type) and t in ("int", "long"):
                        r = self.coerce(r, "int")
                    if t in ("int", "long") and r.type in ("double", "float"):
                        pass
                    elif t in ("int", "long") and bop in ("+", "-"):
                        l = E(tgt.code, tgt.type)
                        l.rng = tgt.rng
                        if not self.binop(bop, l, r).risk:
                            return [f"{tgt.code} {op} {r.code}"]
                    elif not r.risk or t not in ("int", "long"):
                        return [f"{tgt.code} {op} {r.code}"]
            val = self.assign_value(tgt, op, right)
            return [f"{tgt.code} = {val.code}"]
        if x.type == "update_expression":
            kids = x.children
            prefix = kids[0].type in ("++", "--")
            opn = kids[0] if prefix else kids[-1]
            target = kids[1] if prefix else kids[0]
            tgt = self.lvalue(target)
            self.note_assign(tgt)
            sign = "+" if opn.type == "++" else "-"
            t = unbox(tgt.type)
            if t == "char":
                return [f"{tgt.code} = chr(ord({tgt.code}) {sign} 1)"]
            if t in ("short", "byte"):
                return [f"{tgt.code} = {self.use('_i16' if t == 'short' else '_i8')}({tgt.code} {sign} 1)"]
            if t in ("int", "long") and not self.step_fits(tgt, 1 if sign == "+" else -1):
                return [f"{tgt.code} = {self.wrap(E(f'{tgt.code} {sign} 1', t), t).code}"]
            return [f"{tgt.code} {sign}= 1"]
        inl = self.inline_for_each(x)
        if inl is not None:
            return inl
        self.stmt_top = (x.start_byte, x.end_byte)
        e = self.expr(x)
        return [] if e.code == "None" and self.pre else [e.code]

    def is_stmt_top(self, n) -> bool:
        """Whether the call node n is a whole expression statement (its value is unused)."""
        return getattr(self, "stmt_top", None) == (n.start_byte, n.end_byte)

    def inline_for_each(self, x) -> list[str] | None:
        """`c.forEach(v -> body)` / `m.forEach((k, v) -> body)` as a statement -> a for loop."""
        if x.type != "method_invocation" or self.text(x.child_by_field_name("name")) != "forEach":
            return None
        obj = x.child_by_field_name("object")
        raw = x.child_by_field_name("arguments").named_children
        if obj is None or len(raw) != 1 or raw[0].type != "lambda_expression":
            return None
        lam = raw[0]
        body = lam.child_by_field_name("body")
        stack = [body]
        while stack:  # `return` in a lambda block means `continue`: keep those as functions
            y = stack.pop()
            if y.type == "return_statement":
                return None
            if y.type not in ("lambda_expression", "class_body"):
                stack.extend(y.named_children)
        params = lam.child_by_field_name("parameters")
        pnodes = [params] if params.type == "identifier" else [
            p if p.type == "identifier" else p.child_by_field_name("name") for p in params.named_children]
        if self.text(obj) in ("System.out", "System.err"):
            return None
        o = self.expr(obj)
        b = base(o.type) if o.type else None
        from .types import DEQUES, LISTS, MAPS, SETS
        if b in MAPS and len(pnodes) == 2:
            ta = targs(o.type) + [None, None]
            types, it = ta[:2], f"{par(o, 14)}.items()"
        elif (b in LISTS or b in SETS or b in DEQUES or b in ("Stream", "IntStream", "LongStream",
                                                               "DoubleStream")) and len(pnodes) == 1:
            types, it = [elem(o.type) or {"IntStream": "int", "DoubleStream": "double"}.get(b)], o.code
        else:
            return None
        from .types import py_name
        if any(py_name(self.text(p)) in self.module_names for p in pnodes):
            return None  # a loop variable would shadow a module-level global
        outer = self.scope
        self.scope = Scope(outer)
        try:
            names = [self.scope.declare(self.text(p), t).py for p, t in zip(pnodes, types)]
            saved_loops = self.loops
            self.loops = [Loop("loop")]
            try:
                if body.type == "block":
                    lines = self.block_lines(body)
                else:
                    saved = self.pre
                    self.pre = []
                    lines = self.expr_stmt(body)
                    lines = self.pre + lines
                    self.pre = saved
            finally:
                self.loops = saved_loops
        finally:
            self.scope = outer
        return [f"for {', '.join(names)} in {it}:"] + indent(lines)

    def s_return_statement(self, n):
        if not n.named_children:
            return ["return"]
        rt = self.method.ret if self.method else None
        e = self.expr(n.named_children[0], rt)
        if rt and rt != "void":
            e = self.coerce(e, rt)
        return [f"return {e.code}"]

    def s_throw_statement(self, n):
        e = self.expr(n.named_children[0])
        return [f"raise {e.code}"]

    def s_assert_statement(self, n):
        kids = n.named_children
        c = self.expr(kids[0])
        if len(kids) > 1:
            return [f"assert {c.code}, {self.code(kids[1])}"]
        return [f"assert {c.code}"]

    def s_synchronized_statement(self, n):
        return self.block_lines(n.named_children[-1])

    def s_local_class_declaration(self, n):
        return self.untranslated_stmt(n, "local class")

    def s_class_declaration(self, n):
        return self.untranslated_stmt(n, "local class declaration")

    def s_yield_statement(self, n):
        e = self.expr(n.named_children[0])
        tgt = self.yield_target[-1] if getattr(self, "yield_target", None) else None
        if tgt is None:
            return self.untranslated_stmt(n, "yield outside a switch expression")
        return [f"{tgt} = {e.code}"]

    # --------------------------------------------------------------- if
    def s_if_statement(self, n):
        out = []
        kw = "if"
        while True:
            c = self.expr(n.child_by_field_name("condition"))
            out.append(f"{kw} {c.code}:")
            out.extend(self.body_lines(n.child_by_field_name("consequence")))
            alt = n.child_by_field_name("alternative")
            if alt is None:
                break
            if alt.type == "if_statement":
                pre = self.pre
                self.pre = []
                self.expr(alt.child_by_field_name("condition"))
                hoisted = self.pre
                self.pre = pre
                if hoisted:
                    out.append("else:")
                    out.extend(indent(self.stmt(alt)))
                    break
                n, kw = alt, "elif"
                continue
            out.append("else:")
            out.extend(self.body_lines(alt))
            break
        return out

    # --------------------------------------------------------------- try
    def s_try_statement(self, n):
        out = ["try:"] + self.body_lines(n.child_by_field_name("body"))
        for c in n.named_children:
            if c.type == "catch_clause":
                p = next(x for x in c.named_children if x.type == "catch_formal_parameter")
                ct = next(x for x in p.named_children if x.type == "catch_type")
                types = [self.text(x).rsplit(".", 1)[-1] for x in ct.named_children]
                pyt = [self.catch_name(t) for t in types]
                name = self.text(p.child_by_field_name("name"))
                outer = self.scope
                self.scope = Scope(outer)
                v = self.scope.declare(name, types[0])
                tx = pyt[0] if len(pyt) == 1 else "(" + ", ".join(pyt) + ")"
                out.append(f"except {tx} as {v.py}:")
                out.extend(self.body_lines(c.child_by_field_name("body")))
                self.scope = outer
            elif c.type == "finally_clause":
                out.append("finally:")
                out.extend(self.body_lines(c.named_children[0]))
        return out

    def catch_name(self, t):
        if t in self.classes:
            return t
        r = CATCH.get(t, "Exception")
        if r in ("IllegalStateException", "NoSuchElementException"):
            self.use(r)
        return r

    def s_try_with_resources_statement(self, n):
        res = n.child_by_field_name("resources")
        out = []
        names = []
        for r in res.named_children:
            if r.type == "resource":
                nm = r.child_by_field_name("name")
                val = r.child_by_field_name("value")
                if nm is not None and val is not None:
                    v = self.scope.declare(self.text(nm), self.type_of(r.child_by_field_name("type")))
                    out.append(f"{v.py} = {self.code(val)}")
                    names.append(v.py)
        body = ["try:"] + self.body_lines(n.child_by_field_name("body"))
        for c in n.named_children:
            if c.type == "catch_clause":
                p = next(x for x in c.named_children if x.type == "catch_formal_parameter")
                ct = next(x for x in p.named_children if x.type == "catch_type")
                types = [self.catch_name(self.text(x)) for x in ct.named_children]
                v = self.scope.declare(self.text(p.child_by_field_name("name")), None)
                body.append(f"except {types[0] if len(types) == 1 else '(' + ', '.join(types) + ')'} as {v.py}:")
                body.extend(self.body_lines(c.child_by_field_name("body")))
        body.append("finally:")
        body.extend(indent([f"{x}.close()" for x in reversed(names)] or ["pass"]))
        for c in n.named_children:
            if c.type == "finally_clause":
                body.extend(indent(self.block_lines(c.named_children[0])))
        return out + body
