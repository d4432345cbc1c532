"""Java loops -> Python loops: while, do, for-each, a counted for as a range() where its counter
allows, labels, and break / continue aimed at an outer loop (flags)."""
from __future__ import annotations

from .core import Loop, P_NOT, par
from .statements import IND, indent
from .types import BOUNDS, Scope, elem


class LoopMixin:
    def loop_body(self, body, loop: Loop) -> list[str]:
        self.loops.append(loop)
        try:
            lines = self.block_lines(body)
        finally:
            self.loops.pop()
        return lines

    def after_inner(self, loop: Loop, out: list[str]) -> list[str]:
        """After an inner loop: propagate flagged jumps aimed at outer loops."""
        pre = [f"{f} = False" for f in loop.flags]
        for f in loop.flags:
            label = f.split("_", 2)[2]
            target = next((l for l in reversed(self.loops) if l.label == label), None)
            here = self.loops[-1] if self.loops else None
            if here is target and f.startswith("_cont"):
                out.append(f"if {f}:")
                out.extend(indent(here.on_continue + ["continue"]))
            elif here is target and f.startswith("_brk"):
                out.append(f"if {f}:")
                out.append(IND + "break")
            else:
                out.append(f"if {f}:")
                out.append(IND + "break")
                if here is not None and f not in here.flags:
                    here.flags.append(f)
        return pre + out

    def label_of(self, node):
        p = node.parent
        return self.text(p.named_children[0]) if p is not None and p.type == "labeled_statement" else None

    def s_labeled_statement(self, n):
        inner = n.named_children[-1]
        if inner.type in ("for_statement", "while_statement", "do_statement",
                          "enhanced_for_statement"):
            return self.stmt(inner)
        # a labeled block: a one-pass loop that `break label` leaves
        loop = Loop("switch", self.text(n.named_children[0]))
        self.loops.append(loop)
        try:
            body = self.block_lines(inner)
        finally:
            self.loops.pop()
        return self.after_inner(loop, ["while True:"] + indent(body + ["break"]))

    def s_while_statement(self, n):
        c = self.expr(n.child_by_field_name("condition"))
        loop = Loop("loop", self.label_of(n))
        body = self.loop_body(n.child_by_field_name("body"), loop)
        return self.after_inner(loop, [f"while {c.code}:"] + indent(body))

    def s_do_statement(self, n):
        cnode = n.child_by_field_name("condition")
        saved = self.pre
        self.pre = []
        c = self.expr(cnode)
        cpre, self.pre = self.pre, saved
        exit_ = cpre + [f"if not {par(c, P_NOT)}:", IND + "break"]
        loop = Loop("loop", self.label_of(n), on_continue=exit_)
        body = self.loop_body(n.child_by_field_name("body"), loop)
        return self.after_inner(loop, ["while True:"] + indent(body + exit_))

    def s_enhanced_for_statement(self, n):
        t = self.type_of(n.child_by_field_name("type"))
        name = self.text(n.child_by_field_name("name"))
        it = self.expr(n.child_by_field_name("value"))
        if t == "var":
            t = elem(it.type)
        outer = self.scope
        self.scope = Scope(outer)
        v = self.scope.declare(name, t)
        loop = Loop("loop", self.label_of(n))
        body = self.loop_body(n.child_by_field_name("body"), loop)
        self.scope = outer
        src = it.code
        if src.startswith("list(") and src.endswith(")") and it.type == "char[]":
            src = src[5:-1]
        if src.endswith(".keys()"):
            src = src[:-7]
        return self.after_inner(loop, [f"for {v.py} in {src}:"] + indent(body))

    def s_for_statement(self, n):
        inits = n.children_by_field_name("init")
        cond = n.child_by_field_name("condition")
        updates = n.children_by_field_name("update")
        body = n.child_by_field_name("body")
        outer = self.scope
        self.scope = Scope(outer)
        try:
            r = self.range_for(n, inits, cond, updates, body)
            if r is not None:
                return r
            out = []
            for i in inits:
                out.extend(self.stmt(i) if i.type == "local_variable_declaration" else self.expr_stmt(i))
            upd = []
            for u in updates:
                upd.extend(self.expr_stmt(u))
            c = self.expr(cond).code if cond is not None else "True"
            loop = Loop("loop", self.label_of(n), on_continue=upd)
            lines = self.loop_body(body, loop)
            return self.after_inner(loop, out + [f"while {c}:"] + indent(lines + upd))
        finally:
            self.scope = outer

    def range_for(self, n, inits, cond, updates, body):
        if len(inits) != 1 or inits[0].type != "local_variable_declaration" or cond is None \
                or len(updates) != 1 or cond.type != "binary_expression":
            return None
        decls = inits[0].children_by_field_name("declarator")
        t = self.type_of(inits[0].child_by_field_name("type"))
        if len(decls) != 1 or t not in ("int", "long", "short", "byte"):
            return None
        name = self.text(decls[0].child_by_field_name("name"))
        start = decls[0].child_by_field_name("value")
        if start is None:
            return None
        left, right = cond.child_by_field_name("left"), cond.child_by_field_name("right")
        op = self.text(cond.child_by_field_name("operator"))
        if left.type != "identifier" or self.text(left) != name or op not in ("<", "<=", ">", ">="):
            return None
        u = updates[0]
        step = None
        if u.type == "update_expression":
            ut = [c for c in u.children]
            tgt = ut[1] if ut[0].type in ("++", "--") else ut[0]
            if self.text(tgt) != name:
                return None
            step = 1 if "++" in self.text(u) else -1
        elif u.type == "assignment_expression":
            if self.text(u.child_by_field_name("left")) != name:
                return None
            uop = self.text(u.child_by_field_name("operator"))
            r = u.child_by_field_name("right")
            if uop not in ("+=", "-=") or r.type != "decimal_integer_literal":
                return None
            step = int(self.text(r).rstrip("lL")) * (1 if uop == "+=" else -1)
            if step == 0:
                return None
        else:
            return None
        if (step > 0) != (op in ("<", "<=")):
            return None
        assigned = self.assigned_names(body)
        if name in assigned or not self.simple_bound(right, assigned, body):
            return None
        s = self.coerce(self.expr(start), "int")
        b = self.coerce(self.expr(right), "int")
        if op == "<=":
            bc = str(b.lit + 1) if b.lit is not None else f"{par(b, 10)} + 1"
        elif op == ">=":
            bc = str(b.lit - 1) if b.lit is not None else f"{par(b, 10)} - 1"
        else:
            bc = b.code
        v = self.scope.declare(name, t, nonneg=s.nonneg and step > 0)
        rs, rb = self.rng_of(s) or BOUNDS["int"], self.rng_of(b) or BOUNDS["int"]
        v.rng = (rs[0], rb[1] - (op == "<")) if step > 0 else (rb[0] + (op == ">"), rs[1])
        if step == 1:
            rng = f"range({bc})" if s.code == "0" else f"range({s.code}, {bc})"
        else:
            rng = f"range({s.code}, {bc}, {step})"
        loop = Loop("loop", self.label_of(n))
        lines = self.loop_body(body, loop)
        return self.after_inner(loop, [f"for {v.py} in {rng}:"] + indent(lines))

    def assigned_names(self, node) -> set[str]:
        out: set[str] = set()
        stack = [node]
        while stack:
            x = stack.pop()
            if x.type == "assignment_expression":
                l = x.child_by_field_name("left")
                out.add(self.text(l) if l.type == "identifier" else self.text(l).split("[")[0].split(".")[0])
            elif x.type == "update_expression":
                for c in x.named_children:
                    out.add(self.text(c) if c.type == "identifier" else self.text(c).split("[")[0])
            elif x.type == "method_invocation":
                o = x.child_by_field_name("object")
                nm = self.text(x.child_by_field_name("name"))
                if o is not None and nm in ("add", "remove", "push", "pop", "poll", "offer", "clear",
                                            "addAll", "removeIf", "append", "insert", "deleteCharAt",
                                            "setLength", "delete", "addFirst", "addLast",
                                            "removeFirst", "removeLast", "put", "reverse"):
                    out.add(self.text(o))
            stack.extend(x.named_children)
        return out

    def simple_bound(self, node, assigned, body) -> bool:
        t = node.type
        if t in ("decimal_integer_literal", "hex_integer_literal"):
            return True
        if t == "identifier":
            return self.text(node) not in assigned
        if t == "field_access":
            o = node.child_by_field_name("object")
            return self.text(o) not in assigned and self.text(node.child_by_field_name("field")) in (
                "length",) and o.type in ("identifier", "field_access", "this") \
                or (o.type == "this" and self.text(node) not in assigned
                    and self.text(node.child_by_field_name("field")) not in assigned)
        if t == "method_invocation":
            o = node.child_by_field_name("object")
            nm = self.text(node.child_by_field_name("name"))
            a = node.child_by_field_name("arguments")
            return o is not None and o.type == "identifier" and nm in ("length", "size") \
                and not a.named_children and self.text(o) not in assigned
        if t == "binary_expression":
            return self.text(node.child_by_field_name("operator")) in ("+", "-", "*", "/") and \
                self.simple_bound(node.child_by_field_name("left"), assigned, body) and \
                self.simple_bound(node.child_by_field_name("right"), assigned, body)
        if t == "parenthesized_expression":
            return self.simple_bound(node.named_children[0], assigned, body)
        if t == "array_access":
            return self.text(node).split("[")[0] not in assigned and \
                self.simple_bound(node.child_by_field_name("index"), assigned, body)
        return False

    # --------------------------------------------------------------- jumps
    def s_break_statement(self, n):
        label = self.text(n.named_children[0]) if n.named_children else None
        if not self.loops:
            return ["break"]
        if label is None or self.loops[-1].label == label:
            return ["break"]
        f = f"_brk_{label}"
        here = self.loops[-1]
        if f not in here.flags:
            here.flags.append(f)
        return [f"{f} = True", "break"]

    def s_continue_statement(self, n):
        label = self.text(n.named_children[0]) if n.named_children else None
        real = [l for l in self.loops if l.kind == "loop"]
        if not self.loops:
            return ["continue"]
        target = real[-1] if label is None else next((l for l in reversed(self.loops) if l.label == label), None)
        if target is None:
            return ["continue"]
        if target is self.loops[-1]:
            return target.on_continue + ["continue"]
        if target.label is None:
            target.label = self.tmp("loop")[1:]
        f = f"_cont_{target.label}"
        here = self.loops[-1]
        if f not in here.flags:
            here.flags.append(f)
        return [f"{f} = True", "break"]
