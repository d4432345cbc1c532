"""switch statements (old fall-through form and arrow form) and switch expressions."""
from __future__ import annotations

from .core import E, Loop, P_CMP, P_TERN, par
from .statements import indent
from .types import Scope, base, unbox

JUMPS = ("break_statement", "return_statement", "throw_statement", "continue_statement",
         "yield_statement")


class SwitchMixin:
    def case_values(self, label, subj: E) -> list[str] | None:
        """Python expressions for a case label's constants; None for default."""
        vals = []
        for c in label.named_children:
            if c.type == "default":
                return None
            if c.type == "identifier" and subj.type and base(subj.type) in self.classes and \
                    self.classes[base(subj.type)].kind == "enum":
                vals.append(f"{base(subj.type)}.{self.text(c)}")
                continue
            e = self.expr(c)
            if unbox(subj.type) == "char" and e.type != "char":
                e = self.coerce(e, "char")
            vals.append(e.code)
        if self.text(label).strip().startswith("default"):
            return None
        return vals

    def subject(self, n) -> tuple[E, list[str]]:
        s = self.expr(n.child_by_field_name("condition"))
        if s.prec == 14 and ("(" not in s.code or s.code.startswith("self.")) and "[" not in s.code:
            return s, []
        tmp = self.tmp("sw")
        return E(tmp, s.type), [f"{tmp} = {s.code}"]

    def test(self, subj: E, vals: list[str]) -> str:
        if len(vals) == 1:
            return f"{par(subj, P_CMP + 1)} == {vals[0]}"
        return f"{par(subj, P_CMP + 1)} in ({', '.join(vals)})"

    def groups(self, body):
        """[(labels, statements)] with empty groups merged into the next one."""
        out, pending = [], []
        for g in body.named_children:
            if g.type == "switch_block_statement_group":
                labels = [c for c in g.named_children if c.type == "switch_label"]
                stmts = [c for c in g.named_children if c.type != "switch_label"
                         and not c.type.endswith("comment")]
                pending.extend(labels)
                if stmts:
                    out.append((pending, stmts))
                    pending = []
            elif g.type == "switch_rule":
                labels = [c for c in g.named_children if c.type == "switch_label"]
                out.append((labels, [c for c in g.named_children if c.type != "switch_label"]))
        if pending:
            out.append((pending, []))
        return out

    def inner_breaks(self, stmts) -> bool:
        """A break aimed at the switch that is not the last statement of its group."""
        def walk(x, depth):
            if x.type in ("for_statement", "while_statement", "do_statement",
                          "enhanced_for_statement", "switch_expression", "lambda_expression"):
                return False
            if x.type == "break_statement" and not x.named_children:
                return True
            return any(walk(c, depth + 1) for c in x.named_children)
        body = stmts[:-1] if stmts and stmts[-1].type == "break_statement" else stmts
        return any(walk(s, 0) for s in body)

    def s_switch_expression(self, n):
        """A switch used as a statement."""
        subj, out = self.subject(n)
        groups = self.groups(n.child_by_field_name("body"))
        arrow = any(c.type == "switch_rule" for c in n.child_by_field_name("body").named_children)
        simple = arrow or all(
            (k == len(groups) - 1 or (st and st[-1].type in JUMPS)) and not self.inner_breaks(st)
            for k, (_, st) in enumerate(groups))
        if simple:
            return out + self.switch_chain(subj, groups, arrow)
        return out + self.switch_fallthrough(n, subj, groups)

    s_switch_statement = s_switch_expression

    def case_body(self, stmts, arrow) -> list[str]:
        if stmts and stmts[-1].type == "break_statement" and not stmts[-1].named_children:
            stmts = stmts[:-1]
        lines = []
        outer = self.scope
        self.scope = Scope(outer)
        for s in stmts:
            if arrow and s.type == "expression_statement":
                lines.extend(self.stmt(s))
            elif arrow and s.type not in ("block", "throw_statement") and s.type != "expression_statement":
                e = self.expr(s)
                lines.extend(self.pre_take() + [e.code])
            else:
                lines.extend(self.stmt(s))
        self.scope = outer
        return lines

    def pre_take(self):
        p, self.pre = self.pre, []
        return p

    def switch_chain(self, subj, groups, arrow) -> list[str]:
        out, default = [], None
        kw = "if"
        for labels, stmts in groups:
            vals, is_default = [], False
            for lab in labels:
                v = self.case_values(lab, subj)
                if v is None:
                    is_default = True
                else:
                    vals.extend(v)
            body = self.case_body(stmts, arrow)
            if is_default:
                default = body
                continue
            out.append(f"{kw} {self.test(subj, vals)}:")
            out.extend(indent(body))
            kw = "elif"
        if default is not None:
            if out:
                out.append("else:")
                out.extend(indent(default))
            else:
                out.extend(default)
        return out

    def switch_fallthrough(self, n, subj, groups) -> list[str]:
        """General form: an index of the entry group, groups run while index <= k."""
        idx = self.tmp("case")
        mapping, default_k = [], len(groups)
        for k, (labels, _) in enumerate(groups):
            for lab in labels:
                v = self.case_values(lab, subj)
                if v is None:
                    default_k = k
                else:
                    mapping.extend(f"{x}: {k}" for x in v)
        out = [f"{idx} = {{{', '.join(mapping)}}}.get({subj.code}, {default_k})"]
        loop = Loop("switch")
        self.loops.append(loop)
        body = []
        try:
            for k, (_, stmts) in enumerate(groups):
                lines = []
                outer = self.scope
                self.scope = Scope(outer)
                for s in stmts:
                    lines.extend(self.stmt(s))
                self.scope = outer
                body.append(f"if {idx} <= {k}:")
                body.extend(indent(lines))
        finally:
            self.loops.pop()
        body.append("break")
        return self.after_inner(loop, out + ["while True:"] + indent(body))

    def switch_value(self, n) -> E:
        """A switch expression used as a value."""
        body = n.child_by_field_name("body")
        groups = self.groups(body)
        subj = self.expr(n.child_by_field_name("condition"))
        all_expr = all(len(st) == 1 and st[0].type not in ("block", "throw_statement",
                                                           "expression_statement")
                       for _, st in groups)
        if all_expr:
            if not (subj.prec == 14 and "(" not in subj.code):
                tmp = self.tmp("sw")
                self.pre.append(f"{tmp} = {subj.code}")
                subj = E(tmp, subj.type)
            default, parts, t = None, [], None
            for labels, st in groups:
                vals, is_default = [], False
                for lab in labels:
                    v = self.case_values(lab, subj)
                    if v is None:
                        is_default = True
                    else:
                        vals.extend(v)
                e = self.expr(st[0])
                t = t or e.type
                if is_default:
                    default = e
                else:
                    parts.append((self.test(subj, vals), e))
            code = par(default, P_TERN) if default is not None else "None"
            for cond, e in reversed(parts):
                code = f"{par(e, P_TERN + 1)} if {cond} else {code}"
            return E(code, t, P_TERN)
        # block arms: compute into a temporary before the statement
        res = self.tmp("val")
        if not hasattr(self, "yield_target"):
            self.yield_target = []
        self.yield_target.append(res)
        saved = self.pre
        self.pre = []
        s, pre = self.subject(n)
        lines = []
        for labels, st in groups:
            conv = []
            for x in st:
                if x.type not in ("block", "throw_statement", "expression_statement"):
                    e = self.expr(x)
                    conv.append(f"{res} = {e.code}")
                elif x.type == "expression_statement" and len(st) == 1:
                    e = self.expr(x.named_children[0])
                    conv.append(f"{res} = {e.code}")
                else:
                    conv.extend(self.stmt(x))
            lines.append((labels, conv))
        self.yield_target.pop()
        hoisted = self.pre
        self.pre = saved
        out, default, kw = [], None, "if"
        for labels, conv in lines:
            vals, is_default = [], False
            for lab in labels:
                v = self.case_values(lab, s)
                if v is None:
                    is_default = True
                else:
                    vals.extend(v)
            if is_default:
                default = conv
                continue
            out.append(f"{kw} {self.test(s, vals)}:")
            out.extend(indent(conv))
            kw = "elif"
        if default is not None:
            out.append("else:")
            out.extend(indent(default))
        self.pre.extend(hoisted + pre + out)
        return E(res, None)
