"""Types of Java expressions for the resolver (`JavaScope` mixes this in): names, field
accesses, method calls typed through their return types with the receiver's type arguments
and the method's own type variables inferred from the arguments, the type hierarchy, lambda
parameters through the functional interface a call expects, and the type a position expects."""
from __future__ import annotations

from r1lsp.java.types import (OBJECT, OBJECT_TYPE, PRIMITIVES, STRING_TYPE, ClassInfo, JType, MethodInfo, Receiver,
                              parse_type, substitute, tparam_split)
from r1lsp.java.workspace import _text

PLACEHOLDER = "__r1__"
LITERALS = {"string_literal": "java.lang.String", "text_block": "java.lang.String", "character_literal": "char",
            "decimal_integer_literal": "int", "hex_integer_literal": "int", "octal_integer_literal": "int",
            "binary_integer_literal": "int", "decimal_floating_point_literal": "double", "true": "boolean",
            "false": "boolean", "null_literal": OBJECT}
OBJECT_METHODS_ABSTRACT_OK = {"equals", "hashCode", "toString"}
MAX_DEPTH = 24


class ExpressionTypes:
    """Expression typing over a `JavaScope`'s declarations and index."""

    # ---------------------------------------------------------------- types of expressions
    def eval(self, node, allow_type: bool = False) -> Receiver | None:
        if node is None or self._depth > MAX_DEPTH:
            return None
        self._depth += 1
        try:
            return self._eval(node, allow_type)
        finally:
            self._depth -= 1

    def _value(self, t: JType | None) -> Receiver | None:
        return Receiver("value", t) if t is not None else None

    def _eval(self, n, allow_type: bool) -> Receiver | None:
        t = n.type
        if t in LITERALS:
            if "integer" in t and _text(n).endswith(("l", "L")):
                return self._value(JType("long"))                  # 0L
            if "floating" in t and _text(n).endswith(("f", "F")):
                return self._value(JType("float"))                 # 1.5f
            return self._value(JType(LITERALS[t]))
        if t == "identifier":
            return self.eval_name(_text(n), n, allow_type)
        if t in ("type_identifier",):
            return self._type_receiver(_text(n), n)
        if t == "this":
            return self._value(JType(self.classes[0])) if self.classes else None
        if t == "super":
            return self._value(self.superclass(self.classes[0])) if self.classes else None
        if t == "parenthesized_expression":
            return self.eval(n.named_children[0]) if n.named_children else None
        if t == "cast_expression":
            return self._value(self.type_of_text(_text(n.child_by_field_name("type")), n))
        if t == "object_creation_expression":
            return self._value(self.type_of_text(_text(n.child_by_field_name("type")), n))
        if t == "array_creation_expression":
            base = self.type_of_text(_text(n.child_by_field_name("type")), n)
            dims = sum(_text(c).count("[") for c in n.children if c.type in ("dimensions", "dimensions_expr"))
            return self._value(base.with_dims(dims)) if base is not None else None
        if t == "array_access":
            arr = self.eval(n.child_by_field_name("array"))
            if arr is not None and arr.type is not None and arr.type.is_array:
                return self._value(arr.type.element())
            return None
        if t == "class_literal":
            inner = self.type_of_text(_text(n.named_children[0]), n) if n.named_children else None
            return self._value(JType("java.lang.Class", (inner,) if inner else ()))
        if t == "ternary_expression":
            return self.eval(n.child_by_field_name("consequence")) or self.eval(n.child_by_field_name("alternative"))
        if t == "binary_expression":
            op = n.child_by_field_name("operator")
            if op is not None and _text(op) == "+":
                for side in ("left", "right"):
                    r = self.eval(n.child_by_field_name(side))
                    if r is not None and r.type == STRING_TYPE:
                        return r
            if op is not None and _text(op) in ("==", "!=", "<", ">", "<=", ">=", "&&", "||", "instanceof"):
                return self._value(JType("boolean"))
            return self.eval(n.child_by_field_name("left"))
        if t == "assignment_expression":
            return self.eval(n.child_by_field_name("left"))
        if t == "field_access":
            obj = self.eval(n.child_by_field_name("object"), allow_type=True)
            field = n.child_by_field_name("field")
            if field is not None and field.type == "this":              # `Outer.this`: the enclosing instance
                return self._value(obj.type) if obj is not None and obj.kind == "type" else None
            return self.select(obj, _text(field), allow_type)
        if t in ("scoped_identifier", "scoped_type_identifier"):
            parts = [c for c in n.named_children]
            obj = self.eval(parts[0], allow_type=True) if parts else None
            return self.select(obj, _text(parts[-1]), True) if len(parts) > 1 else obj
        if t == "generic_type":
            return self._type_receiver(_text(n), n)
        if t == "method_invocation":
            return self._value(self.invocation_type(n))
        return None

    def _type_receiver(self, name: str, node) -> Receiver | None:
        jt = self.type_of_text(name, node)
        if jt is not None and (jt.name in PRIMITIVES or self.exists(jt.name)):
            return Receiver("type", jt)
        return None

    def eval_name(self, name: str, node, allow_type: bool) -> Receiver | None:
        d = self.lookup_local(name, node.start_byte)
        if d is not None:
            return self._value(self.decl_type(d))
        for cls in self._enclosing_classes(node) or self.classes:
            f = self.find_field(JType(cls), name)
            if f is not None:
                return self._value(f)
        for cls, member in self.entry.static_imports:
            if member in (name, "*"):
                owner = self.names.qualified(cls)
                if owner:
                    f = self.find_field(JType(owner), name, static=True)
                    if f is not None:
                        return self._value(f)
        if not allow_type:
            return None
        r = self._type_receiver(name, node)
        if r is not None:
            return r
        if self.index.is_package(name):
            return Receiver("package", package=name)
        return None

    def select(self, obj: Receiver | None, name: str, allow_type: bool) -> Receiver | None:
        if obj is None:
            return None
        if obj.kind == "package":
            q = f"{obj.package}.{name}"
            if self.exists(q):
                return Receiver("type", JType(q))
            return Receiver("package", package=q) if self.index.is_package(q) else None
        if obj.type is None:
            return None
        if obj.kind == "value" and obj.type.is_array and name == "length":
            return self._value(JType("int"))
        f = self.find_field(obj.type, name, static=obj.kind == "type" or None)
        if f is not None:
            return self._value(f)
        if obj.kind == "type" and allow_type:
            info = self.get(obj.type.name)
            nested = info.nested.get(name) if info is not None else None
            if nested:
                return Receiver("type", JType(nested))
        return None

    def superclass(self, binary: str) -> JType | None:
        for info, subst, depth in self.hierarchy(JType(binary)):
            if depth == 1 and info.kind != "interface":
                return JType(info.name, tuple(subst.get(tp, OBJECT_TYPE) for tp in info.type_names()))
        return OBJECT_TYPE

    # ---------------------------------------------------------------- members through the hierarchy
    def _member_type(self, info: ClassInfo, text: str, extra_tvars=()) -> JType | None:
        tv = set(info.type_names()) | set(extra_tvars)
        return parse_type(text, info.names, tv)

    def hierarchy(self, jt: JType):
        """(class, substitution of its type variables, depth) for jt's class and every supertype,
        breadth first; interfaces end with java.lang.Object."""
        if jt is None:
            return
        if jt.is_array or jt.name in PRIMITIVES:
            jt = OBJECT_TYPE if jt.is_array else jt
            if jt.name in PRIMITIVES:
                return
        seen = set()
        queue = [(jt, 0)]
        saw_object = False
        while queue:
            cur, depth = queue.pop(0)
            if cur.name in seen or len(seen) > 64:
                continue
            seen.add(cur.name)
            info = self.get(cur.name)
            if info is None:
                if depth == 0:
                    return                                         # an unknown type: nothing known
                continue
            subst = {}
            for i, tp in enumerate(info.tparams):
                nm, bound = tparam_split(tp)
                if i < len(cur.args):
                    subst[nm] = cur.args[i]
                else:                                              # raw: the bound
                    b = self._member_type(info, bound) if bound else None
                    subst[nm] = b if b is not None and not b.tvar else OBJECT_TYPE
            saw_object |= info.name == OBJECT
            yield info, subst, depth
            for s in info.supers:
                st = self._member_type(info, s)
                if st is not None and not st.tvar:
                    queue.append((substitute(st, subst), depth + 1))
        if not saw_object:
            obj = self.get(OBJECT)
            if obj is not None:
                yield obj, {}, 99

    def find_field(self, jt: JType, name: str, static: bool | None = None) -> JType | None:
        for info, subst, _ in self.hierarchy(jt):
            for f in info.fields:
                if f.name == name and (static is None or f.static == static or not static):
                    t = self._member_type(info, f.type)
                    return substitute(t, subst) if t is not None else None
        return None

    def find_methods(self, jt: JType, name: str, nargs: int | None = None):
        """(method, owner, substitution) for the methods called `name`, most derived first."""
        out = []
        for info, subst, _ in self.hierarchy(jt):
            for m in info.methods:
                if m.name == name and (nargs is None or m.accepts(nargs)):
                    out.append((m, info, subst))
        return out

    def invocation_type(self, n) -> JType | None:
        name = _text(n.child_by_field_name("name"))
        args_node = n.child_by_field_name("arguments")
        args = [a for a in args_node.named_children if a.type not in ("line_comment", "block_comment")] if args_node is not None else []
        obj_node = n.child_by_field_name("object")
        candidates = []
        static_only = False
        if obj_node is not None:
            obj = self.eval(obj_node, allow_type=True)
            if obj is None or obj.type is None or obj.kind == "package":
                return None
            static_only = obj.kind == "type"
            if name == "getClass" and not args:
                return JType("java.lang.Class", (obj.type,))
            candidates = self.find_methods(obj.type, name, len(args))
        else:
            for cls in self._enclosing_classes(n) or self.classes:
                candidates = self.find_methods(JType(cls), name, len(args))
                if candidates:
                    break
            if not candidates:
                for cls, member in self.entry.static_imports:
                    if member in (name, "*"):
                        owner = self.names.qualified(cls)
                        if owner:
                            candidates = [c for c in self.find_methods(JType(owner), name, len(args)) if c[0].static]
                            if candidates:
                                break
        if static_only:
            candidates = [c for c in candidates if c[0].static] or candidates
        if not candidates:
            return None
        arg_types = None
        if len(candidates) > 1 or candidates[0][0].tparams:
            arg_types = [self._arg_type(a) for a in args]
            candidates.sort(key=lambda c: -self._fit(c, arg_types))
        m, info, subst = candidates[0]
        return self.return_type(m, info, subst, args, arg_types)

    def _arg_type(self, a) -> JType | None:
        if a.type in ("lambda_expression", "method_reference"):
            return None
        r = self.eval(a)
        return r.type if r is not None else None

    def _fit(self, cand, arg_types) -> int:
        m, info, subst = cand
        subst = _shadow(m, subst)
        score = 0 if m.varargs else 1
        mtv = [tparam_split(t)[0] for t in m.tparams]
        for p, a in zip(m.params, arg_types):
            if a is None:
                continue
            pt = self._member_type(info, p, mtv)
            if pt is None:
                continue
            pt = substitute(pt, subst)
            if pt.tvar or pt.name == a.name and pt.dims == a.dims or pt.name == OBJECT:
                score += 2
            elif a.name in PRIMITIVES or pt.name in PRIMITIVES:
                score += 1 if (a.name in PRIMITIVES) == (pt.name in PRIMITIVES) else -2
            elif self.is_subtype(a, pt.name):
                score += 2
            else:
                score -= 2
        return score

    def is_subtype(self, t: JType, binary: str) -> bool:
        return any(info.name == binary for info, _, _ in self.hierarchy(t))

    def return_type(self, m: MethodInfo, info: ClassInfo, subst: dict, args=(), arg_types=None) -> JType | None:
        subst = _shadow(m, subst)
        mtv = {}
        for tp in m.tparams:
            nm, bound = tparam_split(tp)
            mtv[nm] = bound
        rt = self._member_type(info, m.ret, mtv)
        if rt is None or rt.name == "void":
            return rt
        rt = substitute(rt, subst)
        if mtv:
            inferred: dict[str, JType] = {}
            if arg_types is None:
                arg_types = [self._arg_type(a) for a in args]
            for i, a in enumerate(arg_types):
                if a is None:
                    continue
                p = m.params[min(i, len(m.params) - 1)] if m.params else None
                if p is None:
                    continue
                pt = self._member_type(info, p, mtv)
                if pt is not None:
                    if m.varargs and i >= len(m.params) - 1 and pt.dims and a.dims < pt.dims:
                        pt = pt.element()
                    self._unify(substitute(pt, subst), a, inferred, set(mtv))
            for i, a in enumerate(args):                           # `map(w -> w.length())`: R from the body
                if i < len(arg_types) and arg_types[i] is None and m.params \
                        and a.type in ("lambda_expression", "method_reference"):
                    pt = self._member_type(info, m.params[min(i, len(m.params) - 1)], mtv)
                    got = self.functional_result(substitute(substitute(pt, subst), inferred), a) if pt is not None else None
                    if got is not None:
                        self._unify(got[0], got[1], inferred, set(mtv))
            for nm, bound in mtv.items():
                if nm not in inferred:
                    b = self._member_type(info, bound, mtv) if bound else None
                    inferred[nm] = b if b is not None and not b.tvar else OBJECT_TYPE
            rt = substitute(rt, inferred)
        return rt

    def _unify(self, p: JType, a: JType, out: dict, tvars: set, depth: int = 0) -> None:
        if depth > 6 or a is None:
            return
        if p.tvar and p.name in tvars:
            if p.dims and a.dims >= p.dims:
                out.setdefault(p.name, a.with_dims(a.dims - p.dims))
            elif not p.dims:
                out.setdefault(p.name, _boxed(a))
            return
        if not p.args:
            return
        # find a's supertype with p's class, then unify the arguments
        for info, subst, _ in self.hierarchy(a):
            if info.name == p.name:
                args = [subst.get(tp, OBJECT_TYPE) for tp in info.type_names()]
                for pa, aa in zip(p.args, args):
                    self._unify(pa, aa, out, tvars, depth + 1)
                return

    def element_type(self, t: JType) -> JType | None:
        """What an enhanced for over a value of type t yields."""
        if t.is_array:
            return t.element()
        for info, subst, _ in self.hierarchy(t):
            if info.name == "java.lang.Iterable":
                return subst.get("T", OBJECT_TYPE)
        return None

    # ---------------------------------------------------------------- lambdas
    def lambda_param_type(self, lam, name: str) -> JType | None:
        params = lam.child_by_field_name("parameters")
        if params is None:
            return None
        names = [_text(params)] if params.type == "identifier" else \
            [_text(c) for c in params.named_children if c.type == "identifier"]
        if name not in names:
            return None
        i = names.index(name)
        fi = self.expected_type(lam)
        if fi is None:
            return None
        sam = self.functional_method(fi)
        if sam is None:
            return None
        m, info, subst = sam
        subst = _shadow(m, subst)
        if i >= len(m.params):
            return None
        pt = self._member_type(info, m.params[i], [tparam_split(t)[0] for t in m.tparams])
        pt = substitute(pt, subst) if pt is not None else None
        return None if pt is None or pt.tvar else pt

    def functional_result(self, fi: JType, fn) -> tuple[JType, JType] | None:
        """(what the functional interface type `fi`'s method returns, as `fi` spells it, the type
        the lambda / method reference `fn` returns): `Function<String, R>` and `w -> w.length()`
        give (R, int), which a generic call's inference unifies; None where either is unknown."""
        sam = self.functional_method(fi)
        if sam is None:
            return None
        m, info, subst = sam
        rt = self._member_type(info, m.ret, [tparam_split(t)[0] for t in m.tparams])
        if rt is None or rt.name == "void":
            return None
        got = self.lambda_result(fn) if fn.type == "lambda_expression" else self.reference_result(fn, len(m.params))
        return (substitute(rt, _shadow(m, subst)), got) if got is not None and got.name != "void" else None

    def lambda_result(self, lam) -> JType | None:
        """The type a lambda returns: its expression body's, or its block's first `return` value's."""
        body = lam.child_by_field_name("body")
        if body is None:
            return None
        if body.type != "block":
            r = self.eval(body)
            return r.type if r is not None else None
        todo = list(body.named_children)
        while todo:
            n = todo.pop(0)
            if n.type == "return_statement" and n.named_children:
                r = self.eval(n.named_children[0])
                return r.type if r is not None else None
            if n.type not in ("lambda_expression", "class_body"):
                todo[:0] = n.named_children
        return None

    def reference_result(self, ref, arity: int) -> JType | None:
        """The type a method reference returns, called with the functional method's `arity`
        arguments (`String::trim`: String, the first argument the receiver; `Item::new`: Item)."""
        parts = [c for c in ref.children if c.type != "::"]
        if len(parts) < 2:
            return None
        obj = self.eval(parts[0], allow_type=True)
        if obj is None or obj.type is None or obj.kind == "package":
            return None
        if parts[-1].type == "new":
            return obj.type if obj.kind == "type" else None
        name = _text(parts[-1])
        found = [c for c in self.find_methods(obj.type, name)
                 if c[0].accepts(arity) or obj.kind == "type" and not c[0].static and c[0].accepts(arity - 1)]
        return self.return_type(*found[0]) if found else None

    def expected_type(self, node) -> JType | None:
        """The type a context expects of an expression: a declared variable's, or a call's parameter."""
        p = node.parent
        if p is None:
            return None
        if p.type == "variable_declarator":
            decl = p.parent
            tn = decl.child_by_field_name("type") if decl is not None else None
            return self.type_of_text(_text(tn), decl) if tn is not None and _text(tn) != "var" else None
        if p.type == "argument_list" and p.parent is not None and p.parent.type == "method_invocation":
            for pt in self.parameter_types(node):
                if not pt.tvar and self.functional_method(pt) is not None:
                    return pt
        return None

    def parameter_types(self, node) -> list[JType]:
        """The parameter types the methods a call may be to declare for the argument `node`
        (of a method_invocation's argument_list), most derived first; [] when unknown."""
        p = node.parent
        call = p.parent
        args = [a for a in p.named_children if a.type not in ("line_comment", "block_comment")]
        idx = next((k for k, a in enumerate(args) if a.id == node.id), None)
        if idx is None:
            return []
        name = _text(call.child_by_field_name("name"))
        obj_node = call.child_by_field_name("object")
        if obj_node is not None:
            obj = self.eval(obj_node, allow_type=True)
            if obj is None or obj.type is None or obj.kind == "package":
                return []
            cands = self.find_methods(obj.type, name, len(args))
        else:
            cands = []
            for cls in self._enclosing_classes(call) or self.classes:
                cands = self.find_methods(JType(cls), name, len(args))
                if cands:
                    break
        out = []
        for m, info, subst in cands:
            subst = _shadow(m, subst)
            if not m.params:
                continue
            mtv = [tparam_split(t)[0] for t in m.tparams]
            pt = self._member_type(info, m.params[min(idx, len(m.params) - 1)], mtv)
            if pt is None:
                continue
            pt = substitute(pt, subst)
            if m.varargs and idx >= len(m.params) - 1 and pt.dims:
                pt = pt.element()
            out.append(pt)
        return out

    def functional_method(self, t: JType):
        """The single abstract method of a functional interface type (with its substitution)."""
        info = self.get(t.name)
        if info is None or info.kind != "interface":
            return None
        for inf, subst, _ in self.hierarchy(t):
            for m in inf.methods:
                if m.abstract and not m.static and m.name not in OBJECT_METHODS_ABSTRACT_OK:
                    return m, inf, subst
        return None

    def call_arguments(self) -> int | None:
        """How many arguments follow the word at the cursor when it is the name of a call
        already written (`receiver.WORD(a, b)` → 2); None otherwise."""
        n = self.node
        p = n.parent if n is not None else None
        if p is None or p.type != "method_invocation" or p.child_by_field_name("name") != n:
            return None
        args = p.child_by_field_name("arguments")
        return sum(1 for a in args.named_children if a.type not in ("line_comment", "block_comment")) \
            if args is not None else None

    def expected_here(self) -> JType | None:
        """The type the position of the word at the cursor expects, when the expression it
        starts is the whole value: a declared variable's initialiser, an assignment's right
        side, a `return` (the method's type), a condition (boolean)."""
        n = self.node
        if n is None:
            return None
        p = n.parent
        if p is not None and p.type in ("field_access", "method_invocation") and p.child_by_field_name("object") is not None \
                and n in (p.child_by_field_name("field"), p.child_by_field_name("name")):
            n = p                                                  # receiver.WORD(...): the whole access
        p = n.parent
        while p is not None and (p.type == "parenthesized_expression" or p.type == "ternary_expression"
                                 and p.child_by_field_name("condition") != n):
            n, p = p, p.parent                                     # `c ? a : WORD` expects what the whole does
        if p is None:
            return None
        if p.type == "argument_list" and p.parent is not None and p.parent.type == "method_invocation":
            found = {t.show(): t for t in self.parameter_types(n) if not t.tvar}
            return next(iter(found.values())) if len(found) == 1 else None    # the overloads agree
        if p.type == "variable_declarator" and p.child_by_field_name("value") == n:
            decl = p.parent
            tn = decl.child_by_field_name("type") if decl is not None else None
            return self.type_of_text(_text(tn), decl) if tn is not None and _text(tn) != "var" else None
        if p.type == "assignment_expression" and p.child_by_field_name("right") == n:
            left = self.eval(p.child_by_field_name("left"))
            return left.type if left is not None else None
        if p.type == "assignment_expression" and p.child_by_field_name("left") == n \
                and _text(p.child_by_field_name("operator")) == "=":
            right = p.child_by_field_name("right")                         # `this.WORD = channel.size();`: a long
            got = self.eval(right) if right is not None and right.type != "null_literal" else None
            return got.type if got is not None else None
        if p.type == "return_statement":
            m = p.parent
            while m is not None and m.type not in ("method_declaration", "lambda_expression", "constructor_declaration"):
                m = m.parent
            tn = m.child_by_field_name("type") if m is not None and m.type == "method_declaration" else None
            return self.type_of_text(_text(tn), m) if tn is not None else None
        if p.type == "expression_statement":
            return JType("void")                                   # a call made for its effect
        if p.type == "binary_expression" and _text(p.child_by_field_name("operator")) in ("<", ">", "<=", ">=", "==", "!="):
            other = p.child_by_field_name("right") if p.child_by_field_name("left") == n else p.child_by_field_name("left")
            if other is not None and other.type in ("decimal_integer_literal", "hex_integer_literal"):
                return JType("int")                                # `x.size() > 4`: a number
        if p.type in ("if_statement", "while_statement", "do_statement") and p.child_by_field_name("condition") == n \
                or p.type == "unary_expression" and _text(p).startswith("!") \
                or p.type == "binary_expression" and _text(p.child_by_field_name("operator")) in ("&&", "||") \
                or p.type == "ternary_expression" and p.child_by_field_name("condition") == n:
            return JType("boolean")
        return None


def _shadow(m: MethodInfo, subst: dict) -> dict:
    """The class's substitution without the names the method's own type variables shadow."""
    if not m.tparams:
        return subst
    own = {tparam_split(t)[0] for t in m.tparams}
    return {k: v for k, v in subst.items() if k not in own}


def _boxed(t: JType) -> JType:
    box = {"int": "Integer", "long": "Long", "double": "Double", "float": "Float", "boolean": "Boolean",
           "char": "Character", "byte": "Byte", "short": "Short"}
    if t.name in box and not t.dims:
        return JType("java.lang." + box[t.name])
    return t
