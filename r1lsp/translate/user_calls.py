"""Calls of the translated program's own methods: the overload picked by the argument types, implicit
`this` / outer-class / enum calls, varargs; and calls of methods nobody defines (unknown_call)."""
from __future__ import annotations

from .core import E, P_ATOM, par
from .types import base, promote, targs, unbox


class UserCallMixin:
    def subst(self, ci, rt, recv_type):
        """Replace a class type parameter in rt by the receiver's type argument."""
        tps = getattr(ci, "tparams", [])
        if rt in tps:
            ta = targs(recv_type)
            k = tps.index(rt)
            return ta[k] if k < len(ta) else None
        return rt

    def candidates(self, ci, name):
        c = ci
        while c is not None:
            if c.methods.get(name):
                return c.methods[name]
            c = self.classes.get(c.superclass) if c.superclass else None
        return []

    def resolve(self, ci, name, args):
        c = ci
        cands = []
        while c is not None:
            cands = c.methods.get(name, [])
            if cands:
                break
            c = self.classes.get(c.superclass) if c.superclass else None
        if not cands:
            for iname in getattr(ci, "interfaces", []) if ci else []:
                ic = self.classes.get(iname)
                if ic and ic.methods.get(name):
                    cands = ic.methods[name]
                    break
        if not cands:
            return None
        if len(cands) == 1:
            return cands[0]
        best, score = cands[0], -99
        for m in cands:
            if len(m.params) != len(args) and not m.varargs:
                continue
            s = 0
            for (pt, _), a in zip(m.params, args):
                s += self.compat(a.type, pt)
            if s > score:
                best, score = m, s
        return best

    def compat(self, at, pt) -> int:
        at, pt = unbox(at), unbox(pt)
        if at is None:
            return 1
        if at == pt:
            return 4
        order = ["byte", "short", "char", "int", "long", "float", "double"]
        if at in order and pt in order:
            if at == "char" and pt in ("short", "byte"):
                return -5
            return 2 if order.index(at) < order.index(pt) else -5
        if base(at) == base(pt):
            return 3
        if pt == "Object":
            return 1
        if at == "null" and pt not in order:
            return 2
        if base(at) in self.classes:
            c = self.classes[base(at)]
            while c is not None:
                if c.name == base(pt) or base(pt) in getattr(c, "interfaces", []):
                    return 2
                c = self.classes.get(c.superclass) if c.superclass else None
        return -3

    def unknown_call(self, name: str, args: list[E], n) -> E:
        """A call of a method neither the input nor its context defines: common helpers by
        their Java meaning, else a plain call that the undefined-name pass marks and reports."""
        from .types import is_numeric
        ts = [unbox(a.type) for a in args]
        scalar = all(t is not None and (is_numeric(t) or t in ("boolean", "String")) for t in ts)
        if name == "swap" and len(args) == 2 and scalar:
            # Java passes scalars by value: a swap(a, b) of them changes nothing for the caller
            self.pre.append(f"# r1lsp: swap({args[0].code}, {args[1].code}) of two values changes nothing in Java")
            return E("None")
        if name == "swap" and len(args) == 3 and ts[0] and ts[0].endswith("[]"):
            a, i, j = (x.code for x in args)
            self.pre.append(f"{a}[{i}], {a}[{j}] = {a}[{j}], {a}[{i}]")
            return E("None")
        if name in ("max", "min") and len(args) == 2 and all(t and is_numeric(t) for t in ts):
            t = promote(ts[0], ts[1])
            return E(f"{name}({', '.join(self.coerce(a, t).code for a in args)})", t)
        if name == "abs" and len(args) == 1 and ts[0] and is_numeric(ts[0]):
            return E(f"abs({args[0].code})", ts[0])
        from .types import py_name
        return E(f"{py_name(name)}({', '.join(a.code for a in args)})", None)

    def user_call(self, o, ci, name, raw, n, implicit=False, static_of=None):
        cands = self.candidates(ci, name)
        if len(cands) == 1 and len(cands[0].params) == len(raw):
            args = [self.expr(a, p[0]) for a, p in zip(raw, cands[0].params)]
        else:
            args = [self.expr(a) for a in raw]
        m = self.resolve(ci, name, args) if ci else None
        if m is None and implicit and ci is not None and ci.outer:
            outer = self.classes.get(ci.outer)
            m2 = self.resolve(outer, name, args) if outer else None
            if m2 is not None and m2.static:
                ci, m = outer, m2
        if m is None and implicit and ci is not None and ci.kind == "enum" and \
                name in ("ordinal", "name", "compareTo") and not self.static_ctx:
            return E(f"self.{name}({', '.join(a.code for a in args)})",
                     "int" if name != "name" else "String")
        if m is None:
            if (static_of or implicit) and ci and ci.kind == "enum":
                if name == "values":
                    return E(f"{ci.name}.values()", ci.name + "[]")
                if name == "valueOf":
                    return E(f"{ci.name}.valueOf({args[0].code})", ci.name)
            if implicit and name in ("getClass", "toString", "hashCode", "equals") and not self.static_ctx:
                return self.object_call(E("self", ci.name if ci else None), "self", name, args, n)
            if implicit and self.scope.lookup(name) is not None:
                v = self.scope.lookup(name)
                return E(f"{v.py}({', '.join(a.code for a in args)})")
            if ci is None or implicit:
                return self.unknown_call(name, args, n)
            return E(f"{ci.name}.{name}({', '.join(a.code for a in args)})")
        ptypes = [p[0] for p in m.params]
        if m.varargs:
            fixed = len(ptypes) - 1
            cargs = [self.coerce(a, t).code for a, t in zip(args[:fixed], ptypes)]
            vt = ptypes[-1][:-2] if ptypes[-1].endswith("[]") else None
            if len(args) == len(ptypes) and args[-1].type and args[-1].type.endswith("[]") \
                    and vt and not vt.endswith("[]"):
                cargs.append("*" + par(args[-1], P_ATOM))
            else:
                cargs.extend(self.coerce(a, vt).code for a in args[fixed:])
        else:
            cargs = [self.coerce(a, t).code for a, t in zip(args, ptypes)]
        call = f"{m.py}({', '.join(cargs)})"
        owner = m.owner
        if owner.module_level:
            return E(call, m.ret)
        if m.static:
            return E(f"{owner.name}.{call}", m.ret)
        if implicit:
            if self.static_ctx:
                return self.untranslated_expr(n, "instance call from a static context")
            return E(f"self.{call}", m.ret)
        return E(f"{owner.name}.{call}", m.ret)
