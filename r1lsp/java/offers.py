"""What Java completion offers (`JavaScope` mixes this in): a receiver's members (a value's
instance members, a type's statics and nested types, a package's classes) and the names in
scope at the cursor."""
from __future__ import annotations

import dataclasses

from r1lsp.java.expressions import _shadow
from r1lsp.java.types import PLACEHOLDER, PRIMITIVES, ClassInfo, JType, Member, MethodInfo, Receiver, substitute, tparam_split
from r1lsp.java.workspace import CLASS_NODES, _text


class MemberOffers:
    """Member and scope listings over a `JavaScope`."""

    # ---------------------------------------------------------------- what completion offers
    def members(self, r: Receiver) -> list[Member]:
        """The members completion offers after `<receiver>.`: a value's instance members (an
        array's `length`), a type's static members and nested types, a package's classes."""
        out: dict[str, Member] = {}
        if r.kind == "package":
            for sub in sorted(self.index.subpackages(r.package)):
                out.setdefault(sub, Member(sub, "module", "package " + f"{r.package}.{sub}"))
            for simple, binary in sorted(self.index.package_classes(r.package).items()):
                out.setdefault(simple, Member(simple, "class", binary.replace("$", ".")))
            return list(out.values())
        t = r.type
        if t is None or (t.name in PRIMITIVES and not t.is_array):
            return []
        static = r.kind == "type"
        levels = self.hierarchy(t) if static else list(self.hierarchy(t))    # static: the first level only
        protected_ok = self._protected_access(t, None if static else {info.name for info, _, _ in levels})
        if t.is_array and not static:
            out["length"] = Member("length", "field", "int length", 0, False, "", JType("int"))
            out["clone"] = Member("clone", "method", f"{t.show()} clone()", 0, False, "", t, ((0, False),))
        for info, subst, depth in levels:
            for m in self._declared(info, subst, static):
                if m.protected and not protected_ok(info.name):
                    continue
                old = out.get(m.name)
                if old is None:
                    out[m.name] = Member(m.name, m.kind, m.detail, depth, m.static, m.owner, m.type, m.arities, m.returns,
                                         m.protected)
                elif old.kind == m.kind == "method" and not set(m.arities) <= set(old.arities):
                    # a supertype's other overloads (ByteBuffer's position(int) over Buffer's position())
                    out[m.name] = dataclasses.replace(old, arities=tuple(sorted(set(old.arities) | set(m.arities))),
                                                      returns=tuple(dict.fromkeys(old.returns + m.returns)))
            if static:
                for simple, binary in sorted(info.nested.items()):
                    out.setdefault(simple, Member(simple, "class", binary.replace("$", "."), depth, True, info.name))
                break                                              # static members: the type's own
        if static:
            out.setdefault("class", Member("class", "keyword", f"Class<{t.show()}>", 0, True))
        return list(out.values())

    def _protected_access(self, t: JType, supers: set[str] | None):
        """Whether a protected member a class declares may be used after a receiver of type `t`
        (`supers`: its type and supertypes' names; None: a type name, static access) here (a
        function of the declaring class): as Java allows, inside a subclass of it (an enclosing
        class), on that subclass's own instances (`this.`, `in.` in a FilterInputStream subclass;
        not `list.removeRange` elsewhere) or statically."""
        memo: dict[str, bool] = {}

        def ok(owner: str) -> bool:
            got = memo.get(owner)
            if got is None:
                got = memo[owner] = any(owner in (supers if supers is not None and c == t.name else
                                                  {info.name for info, _, _ in self.hierarchy(JType(c))})
                                        for c in self.classes if supers is None or c in supers)
            return got
        return ok

    def _declared(self, info: ClassInfo, subst: dict, static: bool) -> list[Member]:
        """The fields and methods (one per name) a class declares, typed under `subst`; cached
        on the index for classes it holds (JDK and indexed workspace files)."""
        cacheable = self.index.get(info.name) is info
        key = (info.name, static, tuple(sorted(subst.items())))
        if cacheable:
            got = self.index.member_cache.get(key)
            if got is not None and got[0] is info:
                return got[1]
        out: list[Member] = []
        for f in info.fields:
            if f.static == static:
                ft = self._member_type(info, f.type)
                ft = substitute(ft, subst) if ft is not None else None
                out.append(Member(f.name, "field", f"{ft.show() if ft else f.type} {f.name}", 0, f.static,
                                  info.name, ft, protected=f.protected))
        overloads: dict[str, list[MethodInfo]] = {}
        for m in info.methods:
            if m.static == static:
                overloads.setdefault(m.name, []).append(m)
        for name, ms in overloads.items():
            m = min(ms, key=lambda m: len(m.params))
            returns = [self.return_type(x, info, subst) if not x.tparams else None for x in ms] if len(ms) > 1 else []
            out.append(Member(name, "method", self.signature(m, info, subst, len(ms)), 0, m.static, info.name,
                              self.return_type(m, info, subst) if not m.tparams else None,
                              tuple(sorted({(len(x.params), x.varargs) for x in ms})),
                              tuple(dict.fromkeys(t.show().split("<")[0] for t in returns if t is not None)),
                              all(x.protected for x in ms)))
        if cacheable:
            if len(self.index.member_cache) > 4096:
                self.index.member_cache.clear()
            self.index.member_cache[key] = (info, out)
        return out

    def signature(self, m: MethodInfo, info: ClassInfo, subst: dict, overloads: int = 1) -> str:
        subst = _shadow(m, subst)
        mtv = [tparam_split(t)[0] for t in m.tparams]

        def show(text):
            t = self._member_type(info, text, mtv)
            return substitute(t, subst).show() if t is not None else text
        params = [show(p) for p in m.params]
        if m.varargs and params:
            params[-1] = params[-1][:-2] + "..."
        more = f" (+{overloads - 1} overloads)" if overloads > 1 else ""
        return f"{show(m.ret)} {m.name}({', '.join(params)}){more}"

    def scope_names(self) -> list[Member]:
        """Names visible at the cursor: locals and parameters (innermost first), members of the
        enclosing classes and their supertypes, statically imported members, types."""
        out: dict[str, Member] = {}
        for d in reversed(self.visible_decls()):
            if d.name == PLACEHOLDER or d.name in out:
                continue
            t = self.decl_type(d)
            kind = "parameter" if d.decl.type in ("formal_parameter", "spread_parameter", "catch_formal_parameter") \
                or d.lambda_node is not None else "variable"
            out[d.name] = Member(d.name, kind, f"{t.show() if t else '?'} {d.name}", 0, False, "", t)
        in_static = self._in_static_context()
        for level, cls in enumerate(self.classes):
            for m in self.members(Receiver("value", JType(cls))) + self.members(Receiver("type", JType(cls))):
                if m.name in out or m.kind == "keyword" or (in_static and level == 0 and not m.static and m.kind != "class"):
                    continue
                m.depth += level
                out[m.name] = m
        for cls, member in self.entry.static_imports:
            owner = self.names.qualified(cls)
            if owner:
                for m in self.members(Receiver("type", JType(owner))):
                    if (member == "*" or m.name == member) and m.name not in out and m.kind != "keyword":
                        m.depth = 3
                        out[m.name] = m
        for c in self.entry.classes:
            if "$" not in c.name.rsplit(".", 1)[-1]:
                out.setdefault(c.simple, Member(c.simple, "class", c.name, 1))
        for simple, q in self.entry.imports.items():
            out.setdefault(simple, Member(simple, "class", q, 2))
        for simple, binary in self.index.packages.get(self.entry.package, {}).items():
            out.setdefault(simple, Member(simple, "class", binary, 3))
        return list(out.values())

    def _in_static_context(self) -> bool:
        n = self.node
        while n is not None and n.type not in CLASS_NODES:
            if n.type in ("method_declaration", "field_declaration"):
                mods = next((c for c in n.children if c.type == "modifiers"), None)
                return mods is not None and "static" in _text(mods).split()
            n = n.parent
        return False
