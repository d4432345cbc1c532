"""Classes, interfaces, enums, fields, constructors, methods and overloads."""
from __future__ import annotations

from .library import EXC
from .statements import IND, indent
from .types import ClassInfo, MethodInfo, Scope, base, py_name, default_value

CLASS_NODES = ("class_declaration", "interface_declaration", "enum_declaration",
               "record_declaration")
PY_TYPES = {"int": "int", "long": "int", "short": "int", "byte": "int", "double": "(int, float)",
            "float": "(int, float)", "boolean": "bool", "String": "str", "char": "str",
            "Integer": "int", "Long": "int", "Double": "(int, float)", "Boolean": "bool",
            "Character": "str", "List": "list", "ArrayList": "list", "Map": "dict",
            "HashMap": "dict", "Set": "set", "HashSet": "set"}


def modifiers(self, node) -> set[str]:
    for c in node.children:
        if c.type == "modifiers":
            return {self.text(x) for x in c.children if not x.type.endswith("annotation")}
    return set()


class DeclMixin:
    # ------------------------------------------------------------ collection
    def collect(self, root, outer: str | None = None) -> None:
        for node in root.named_children:
            if node.type in CLASS_NODES:
                self.collect_class(node, outer)

    def collect_class(self, node, outer):
        name = self.text(node.child_by_field_name("name"))
        kind = {"class_declaration": "class", "interface_declaration": "interface",
                "enum_declaration": "enum", "record_declaration": "record"}[node.type]
        ci = ClassInfo(name, kind)
        ci.node = node
        ci.outer = outer
        ci.mods = modifiers(self, node)
        ci.interfaces = []
        tp = node.child_by_field_name("type_parameters")
        ci.tparams = [self.text(x.named_children[0]) for x in tp.named_children] if tp is not None else []
        sc = node.child_by_field_name("superclass")
        if sc is not None:
            ci.superclass = base(self.type_of(sc.named_children[0]))
        for c in node.children:
            if c.type in ("super_interfaces", "extends_interfaces"):
                for t in c.named_children[0].named_children if c.named_children else []:
                    ci.interfaces.append(base(self.type_of(t)))
        self.classes[name] = ci
        body = node.child_by_field_name("body")
        ci.components = []
        if kind == "record":
            for p in node.child_by_field_name("parameters").named_children:
                cname = self.text(p.child_by_field_name("name"))
                ci.components.append(cname)
                ci.fields[cname] = (self.type_of(p.child_by_field_name("type")), False)
        members = list(body.named_children) if body is not None else []
        if kind == "enum":
            for m in members:
                if m.type == "enum_constant":
                    ci.enum_constants.append(self.text(m.child_by_field_name("name")))
            decls = next((m for m in members if m.type == "enum_body_declarations"), None)
            members = [m for m in members if m.type != "enum_constant"]
            if decls is not None:
                members = list(decls.named_children)
        ci.members = members
        for m in members:
            mods = modifiers(self, m)
            static = "static" in mods or kind == "interface" and m.type in ("field_declaration",
                                                                           "constant_declaration")
            if m.type in ("field_declaration", "constant_declaration"):
                t = self.type_of(m.child_by_field_name("type"))
                for d in m.children_by_field_name("declarator"):
                    dims = d.child_by_field_name("dimensions")
                    ci.fields[self.text(d.child_by_field_name("name"))] = (
                        t + (self.text(dims).replace(" ", "") if dims is not None else ""), static)
            elif m.type == "method_declaration":
                mi = self.method_info(m, static, kind)
                mi.owner = ci
                ci.methods.setdefault(mi.name, []).append(mi)
            elif m.type in ("constructor_declaration", "compact_constructor_declaration"):
                mi = self.method_info(m, False, kind, ctor=True)
                mi.owner = ci
                ci.ctors.append(mi)
            elif m.type in CLASS_NODES:
                self.collect_class(m, name)
        for mname, ms in ci.methods.items():
            if len(ms) > 1:
                for mi in ms:
                    mi.py = py_name(mname) + "_" + "_".join(
                        base(p[0]).replace("[]", "Arr") + ("Arr" if p[0].endswith("[]") else "")
                        for p in mi.params) if mi.params else py_name(mname) + "_0"
        for mname, ms in ci.methods.items():
            if mname in ci.fields and mname not in ci.components:
                # a field and a method may share a name in Java (a record's component is
                # stored as _name, so its accessor keeps the name)
                for mi in ms:
                    mi.py = mi.py + "_"
        if len(ci.ctors) > 1:
            for k, c in enumerate(ci.ctors):
                c.py = f"_init{k}"

    def method_info(self, m, static, kind, ctor=False) -> MethodInfo:
        name = self.text(m.child_by_field_name("name"))
        ret = "void" if ctor else self.type_of(m.child_by_field_name("type"))
        params, varargs = [], False
        ps = m.child_by_field_name("parameters")
        for p in ps.named_children if ps is not None else []:
            if p.type == "formal_parameter":
                dims = p.child_by_field_name("dimensions")
                t = self.type_of(p.child_by_field_name("type")) + (
                    self.text(dims).replace(" ", "") if dims is not None else "")
                params.append((t, self.text(p.child_by_field_name("name"))))
            elif p.type == "spread_parameter":
                t = self.type_of(p.named_children[0]) if p.named_children[0].type != "modifiers" \
                    else self.type_of(p.named_children[1])
                nm = [x for x in p.named_children if x.type == "variable_declarator"]
                params.append((t + "[]", self.text(nm[0].child_by_field_name("name")) if nm else "args"))
                varargs = True
        abstract = m.child_by_field_name("body") is None
        mods = modifiers(self, m)
        return MethodInfo(name, ret, params, static or "static" in mods, m, abstract, varargs)

    def decide_module_level(self) -> None:
        taken: set[str] = set()
        for ci in self.classes.values():
            if ci.kind != "class" or ci.superclass or ci.interfaces or ci.ctors:
                continue
            if any(not f[1] for f in ci.fields.values()):
                continue
            if any(not m.static for ms in ci.methods.values() for m in ms):
                continue
            names = set(ci.fields) | {m.py for ms in ci.methods.values() for m in ms}
            if names & taken or names & set(self.classes):
                continue
            if any(c.outer == ci.name and c.kind != "class" for c in self.classes.values()):
                pass
            ci.module_level = True
            taken |= names
            for f in ci.fields:
                self.module_names[py_name(f)] = ci.name

    # -------------------------------------------------------------- emission
    def order_classes(self) -> list[ClassInfo]:
        out, seen = [], set()

        def visit(ci):
            if ci.name in seen:
                return
            seen.add(ci.name)
            for dep in [ci.superclass] + ci.interfaces:
                if dep in self.classes:
                    visit(self.classes[dep])
            out.append(ci)

        for ci in self.classes.values():
            visit(ci)
        return out

    def emit_class(self, ci: ClassInfo) -> tuple[list[str], list[str]]:
        """(definition lines, lines to run after all definitions: static initialisers)."""
        self.cls = ci
        if ci.module_level:
            return self.emit_module_class(ci)
        if ci.kind == "enum":
            return self.emit_enum(ci)
        bases = [b for b in ([ci.superclass] if ci.superclass else []) + ci.interfaces
                 if b in self.classes]
        if ci.superclass and ci.superclass not in self.classes:
            bases.insert(0, EXC.get(ci.superclass, "Exception") if ci.superclass.endswith(
                ("Exception", "Error", "Throwable")) else "object")
            bases = [b for b in bases if b != "object"]
        head = f"class {ci.name}" + (f"({', '.join(bases)})" if bases else "") + ":"
        body, after = [], []
        for fname, (ft, static) in ci.fields.items():
            if static:
                init = self.field_init(ci, fname)
                if init is None:
                    body.append(f"{fname} = {default_value(ft)}")
                elif init[1]:
                    body.append(f"{fname} = {init[0]}")
                else:
                    body.append(f"{fname} = {default_value(ft)}")
                    after.append(f"{ci.name}.{fname} = {init[0]}")
        body.extend(self.emit_ctor(ci))
        for ms in ci.methods.values():
            for mi in ms:
                body.append("")
                body.extend(self.method_lines(mi.node, mi))
        if ci.kind == "interface" and self.is_functional(ci.name):
            am = next(m for ms in ci.methods.values() for m in ms if m.abstract)
            body += ["", "def __call__(self, *args):", IND + f"return self.{am.py}(*args)"]
        if "toString" in ci.methods:
            body += ["", "def __str__(self):", IND + "return self.toString()"]
        if "equals" in ci.methods:
            body += ["", "def __eq__(self, other):", IND + "return self.equals(other)"]
            if "hashCode" in ci.methods:
                body += ["", "def __hash__(self):", IND + "return self.hashCode()"]
            else:
                body += ["", "__hash__ = object.__hash__"]
        if "compareTo" in ci.methods:
            body += ["", "def __lt__(self, other):", IND + "return self.compareTo(other) < 0"]
        for m in ci.members:
            if m.type == "static_initializer":
                self.static_ctx, self.method = True, None
                self.scope = Scope()
                after.extend(self.block_lines(m.named_children[-1]))
        body.extend(self.unknown_members(ci))
        while body and body[0] == "":
            body.pop(0)
        return [head] + indent(body), after

    KNOWN_MEMBERS = {"field_declaration", "constant_declaration", "method_declaration",
                     "constructor_declaration", "compact_constructor_declaration",
                     "static_initializer", "line_comment", "block_comment", "enum_constant",
                     "enum_body_declarations", ";", "block"} | set(CLASS_NODES)

    def unknown_members(self, ci) -> list[str]:
        """Members with no rule (instance initialisers, annotations types…): fallback or mark."""
        out = []
        for m in ci.members:
            if m.type not in self.KNOWN_MEMBERS:
                self.scope = Scope()
                out += [""] + self.untranslated_stmt(m, f"no rule for class member {m.type}",
                                                     context="class member")
        return out

    def field_init(self, ci, fname):
        """(code, is_simple) for a field initializer, or None."""
        for m in ci.members:
            if m.type in ("field_declaration", "constant_declaration"):
                t = self.type_of(m.child_by_field_name("type"))
                for d in m.children_by_field_name("declarator"):
                    if self.text(d.child_by_field_name("name")) == fname:
                        v = d.child_by_field_name("value")
                        if v is None:
                            return None
                        ft = ci.fields[fname][0]
                        self.scope = Scope()
                        self.static_ctx = ci.fields[fname][1]
                        e = self.expr(v, ft) if v.type != "array_initializer" else self.x_array_initializer(v, ft)
                        e = self.coerce(e, ft)
                        simple = v.type.endswith("literal") or v.type in ("true", "false") or (
                            v.type == "unary_expression" and v.named_children[-1].type.endswith("literal"))
                        return e.code, simple
        return None

    def emit_ctor(self, ci) -> list[str]:
        inst = [(f, t) for f, (t, st) in ci.fields.items() if not st]
        out = []
        if ci.kind == "interface":
            return out
        if ci.kind == "record":
            # components are stored as _name, read through accessor methods name()
            comps = [f for f in ci.components]
            names = [py_name(f) for f in comps]
            out = [f"def __init__(self, {', '.join(names)}):"] + indent(
                [f"self._{f} = {py_name(f)}" for f in comps])
            for f in comps:
                if f not in ci.methods:
                    out += ["", f"def {py_name(f)}(self):", IND + f"return self._{f}"]
            if "toString" not in ci.methods:
                inner = ", ".join(f"{f}={{_jstr(self._{f})}}" for f in comps)
                self.use("_jstr")
                out += ["", "def __str__(self):", IND + f'return f"{ci.name}[{inner}]"']
            if "equals" not in ci.methods:
                same = " and ".join(f"self._{f} == other._{f}" for f in comps)
                out += ["", "def __eq__(self, other):",
                        IND + f"return isinstance(other, {ci.name})" + (f" and {same}" if same else ""),
                        "", "def __hash__(self):",
                        IND + f"return hash(({''.join('self._' + f + ', ' for f in comps)}))"]
            return out
        init_lines = []
        for f, t in inst:
            fi = self.field_init(ci, f)
            init_lines.append(f"self.{f} = {fi[0] if fi else default_value(t)}")
        for m in ci.members:  # instance initialiser blocks run with the field initialisers
            if m.type == "block":
                self.scope, self.static_ctx, self.method = Scope(), False, None
                self.loops = []
                init_lines.extend(self.block_lines(m))
        if not ci.ctors:
            if not init_lines and not ci.superclass:
                return out
            sup = ["super().__init__()"] if ci.superclass in self.classes else []
            return ["def __init__(self):"] + indent(sup + init_lines)
        if len(ci.ctors) == 1:
            return self.ctor_lines(ci, ci.ctors[0], "__init__", init_lines)
        # overloaded constructors: a dispatcher on arity and argument types
        disp = ["def __init__(self, *args):"]
        order = sorted(ci.ctors, key=lambda m: (len(m.params), [
            0 if p[0] in ("int", "long", "char", "String") else 1 for p in m.params]))
        kw = "if"
        for c in order:
            checks = [f"len(args) == {len(c.params)}"]
            for k, (pt, _) in enumerate(c.params):
                pyt = PY_TYPES.get(base(pt)) if not pt.endswith("[]") else "list"
                if pyt is None and base(pt) in self.classes:
                    pyt = base(pt)
                if pyt:
                    checks.append(f"isinstance(args[{k}], {pyt})")
            disp.append(IND + f"{kw} {' and '.join(checks)}:")
            disp.append(IND * 2 + f"self.{c.py}(*args)")
            kw = "elif"
        disp += [IND + "else:", IND * 2 + "raise TypeError(\"no matching constructor\")"]
        out = disp
        for c in ci.ctors:
            out += [""] + self.ctor_lines(ci, c, c.py, init_lines)
        return out

    def ctor_lines(self, ci, c, pyname, init_lines) -> list[str]:
        self.method, self.static_ctx = c, False
        self.scope = Scope()
        self.loops, self.func_globals = [], set()
        params = [self.scope.declare(pn, pt).py for pt, pn in c.params]
        body = c.node.child_by_field_name("body")
        stmts = list(body.named_children)
        lines = []
        first = stmts[0] if stmts and stmts[0].type == "explicit_constructor_invocation" else None
        if first is not None:
            who = self.text(first.child_by_field_name("constructor"))
            an = first.child_by_field_name("arguments")
            args = [self.expr(a) for a in an.named_children]
            if who == "this":
                target = self.resolve_ctor(ci, args)
                cargs = [self.coerce(a, p[0]).code for a, p in zip(args, target.params)]
                lines.append(f"self.{target.py if len(ci.ctors) > 1 else '__init__'}({', '.join(cargs)})")
                init_lines = []
            else:
                sup = self.classes.get(ci.superclass)
                if sup is not None and len(sup.ctors) == 1:
                    args = [self.coerce(a, p[0]) for a, p in zip(args, sup.ctors[0].params)]
                lines.append(f"super().__init__({', '.join(a.code for a in args)})")
            stmts = stmts[1:]
        elif ci.superclass in self.classes:
            lines.append("super().__init__()")
        lines += init_lines
        for s in stmts:
            lines.extend(self.stmt(s))
        return [f"def {pyname}(self{''.join(', ' + p for p in params)}):"] + indent(lines)

    def resolve_ctor(self, ci, args):
        best, score = ci.ctors[0], -99
        for c in ci.ctors:
            if len(c.params) != len(args):
                continue
            s = sum(self.compat(a.type, p[0]) for a, p in zip(args, c.params))
            if s > score:
                best, score = c, s
        return best

    def method_lines(self, node, mi: MethodInfo | None, name_override=None, as_function=False,
                     module=False) -> list[str]:
        if mi is None:
            mi = self.method_info(node, True, "class")
            mi.owner = self.cls
        saved = (self.method, self.static_ctx, self.scope, self.loops, self.func_globals, self.pre)
        self.method = mi
        self.static_ctx = mi.static if not as_function else self.static_ctx
        self.scope = Scope(self.scope if as_function else None)
        self.loops, self.func_globals, self.pre = [], set(), []
        try:
            params = [self.scope.declare(pn, pt).py for pt, pn in mi.params]
            if mi.varargs:
                params[-1] = "*" + params[-1]
            name = name_override or mi.py
            body = node.child_by_field_name("body")
            if body is None:
                lines = ["raise NotImplementedError"]
            else:
                lines = self.block_lines(body, new_scope=False)
                if mi.varargs:
                    lines = [f"{params[-1][1:]} = list({params[-1][1:]})"] + lines
            if self.func_globals:
                lines = [f"global {', '.join(sorted(self.func_globals))}"] + lines
            if as_function or module:
                head = [f"def {name}({', '.join(params)}):"]
            elif mi.static:
                head = ["@staticmethod", f"def {name}({', '.join(params)}):"]
            else:
                head = [f"def {name}({', '.join(['self'] + params)}):"]
            return head + indent(lines)
        finally:
            (self.method, self.static_ctx, self.scope, self.loops, self.func_globals,
             self.pre) = saved

    def emit_module_class(self, ci) -> tuple[list[str], list[str]]:
        out, after = [], []
        for fname, (ft, _) in ci.fields.items():
            init = self.field_init(ci, fname)
            if init is None:
                out.append(f"{py_name(fname)} = {default_value(ft)}")
            elif init[1]:
                out.append(f"{py_name(fname)} = {init[0]}")
            else:
                after.append(f"{py_name(fname)} = {init[0]}")
        for ms in ci.methods.values():
            for mi in ms:
                if out:
                    out += ["", ""]
                out.extend(self.method_lines(mi.node, mi, module=True))
        for m in ci.members:
            if m.type == "static_initializer":
                self.static_ctx, self.method, self.scope = True, None, Scope()
                self.func_globals = set()
                after.extend(self.block_lines(m.named_children[-1]))
        return out, after

    def emit_enum(self, ci) -> tuple[list[str], list[str]]:
        body = ["def __init__(self, _name, _ordinal" + self.enum_ctor_params(ci) + "):",
                IND + "self._name = _name", IND + "self._ordinal = _ordinal"]
        inst = [(f, t) for f, (t, st) in ci.fields.items() if not st]
        for f, t in inst:
            fi = self.field_init(ci, f)
            body.append(IND + f"self.{f} = {fi[0] if fi else default_value(t)}")
        if ci.ctors:
            c = ci.ctors[0]
            lines = self.ctor_lines(ci, c, "_init", [])
            body += lines[1:]
        body += ["", "def name(self):", IND + "return self._name",
                 "", "def ordinal(self):", IND + "return self._ordinal",
                 "", "def compareTo(self, other):", IND + "return self._ordinal - other._ordinal",
                 "", "def __lt__(self, other):", IND + "return self._ordinal < other._ordinal",
                 "", "@staticmethod", "def values():", IND + f"return list({ci.name}._values)",
                 "", "@staticmethod", "def valueOf(name):", IND + f"return getattr({ci.name}, name)"]
        if "toString" in ci.methods:
            body += ["", "def __str__(self):", IND + "return self.toString()"]
        else:
            body += ["", "def __str__(self):", IND + "return self._name",
                     "", "def toString(self):", IND + "return self._name"]
        for ms in ci.methods.values():
            for mi in ms:
                body.append("")
                body.extend(self.method_lines(mi.node, mi))
        after = []
        consts = [m for m in ci.node.child_by_field_name("body").named_children if m.type == "enum_constant"]
        for k, m in enumerate(consts):
            nm = self.text(m.child_by_field_name("name"))
            an = m.child_by_field_name("arguments")
            ptypes = [p[0] for p in ci.ctors[0].params] if ci.ctors else None
            self.scope = Scope()
            args = self.args(an, ptypes) if an is not None else []
            cls_name = ci.name
            if m.child_by_field_name("body") is not None:
                cls_name = f"_{ci.name}_{nm}"
                sub = self.class_lines_anon(cls_name, ci.name, m.child_by_field_name("body"))
                after.extend(sub)
            after.append(f"{ci.name}.{nm} = {cls_name}({', '.join([repr(nm), str(k)] + [a.code for a in args])})")
        after.append(f"{ci.name}._values = [{', '.join(ci.name + '.' + c for c in ci.enum_constants)}]")
        for fname, (ft, static) in ci.fields.items():
            if static:
                init = self.field_init(ci, fname)
                after.append(f"{ci.name}.{fname} = {init[0] if init else default_value(ft)}")
        self.cls = ci
        return [f"class {ci.name}:"] + indent(body), after

    def enum_ctor_params(self, ci) -> str:
        if not ci.ctors:
            return ""
        return "".join(", " + py_name(pn) for _, pn in ci.ctors[0].params)

    def class_lines_anon(self, name, base_name, body) -> list[str]:
        saved_cls = self.cls
        ci = ClassInfo(name, "class")
        ci.superclass = base_name if base_name in self.classes else None
        ci.interfaces, ci.members = [], list(body.named_children)
        ci.outer = saved_cls.name if saved_cls else None
        lines = []
        for m in body.named_children:
            if m.type == "method_declaration":
                mi = self.method_info(m, False, "class")
                mi.owner = ci
                ci.methods.setdefault(mi.name, []).append(mi)
        self.cls = ci
        for ms in ci.methods.values():
            for mi in ms:
                lines += [""] + self.method_lines(mi.node, mi)
        if "toString" in ci.methods:
            lines += ["", "def __str__(self):", IND + "return self.toString()"]
        self.cls = saved_cls
        bases = base_name if base_name in self.classes else "object"
        return [f"class {name}({bases}):"] + indent([ln for ln in lines[1:]])
