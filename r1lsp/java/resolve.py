"""Types of Java expressions at the cursor, and the members and names completion offers there.

The document is re-parsed with a placeholder identifier in place of the word being typed
(`report.` → `report.__r1__;`), so the statement around the cursor is well-formed and the
receiver is the placeholder's object. Names are looked up as Java scopes them: locals declared
before the cursor (`queries/locals.scm`), parameters, lambda parameters (typed through the
functional interface the call expects), fields of the enclosing classes and their supertypes,
static imports, then type names (`Math.` lists static members) and packages (`java.util.`).
Method calls are typed through their return types with the receiver's type arguments and the
method's own type variables inferred from the arguments (`List<Item>.get(0)` → `Item`,
`Map<K,V>.entrySet()` → `Set<Map.Entry<K,V>>`).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from r1lsp.java.types import (OBJECT, OBJECT_TYPE, PRIMITIVES, STRING_TYPE, ClassInfo, FieldInfo, JType, MethodInfo,
                              parse_type, substitute, tparam_split)
from r1lsp.java.workspace import CLASS_NODES, FileEntry, JavaIndex, TypeNames, file_entry, parse_bytes, query

PLACEHOLDER = "__r1__"
LITERALS = {"string_literal": "java.lang.String", "text_block": "java.lang.String", "character_literal": "char",
            "decimal_integer_literal": "int", "hex_integer_literal": "int", "octal_integer_literal": "int",
            "binary_integer_literal": "int", "decimal_floating_point_literal": "double", "true": "boolean",
            "false": "boolean", "null_literal": OBJECT}
OBJECT_METHODS_ABSTRACT_OK = {"equals", "hashCode", "toString"}
MAX_DEPTH = 24


@dataclass
class Receiver:
    """What is left of a `.`: a value of a type, a type name (static access) or a package."""
    kind: str                                      # value | type | package
    type: JType | None = None
    package: str = ""


@dataclass
class Member:
    """A name completion can offer, with what `detail` shows."""
    name: str
    kind: str                                      # method | field | class | variable | parameter | keyword | module
    detail: str
    depth: int = 0                                 # 0 declared by the type itself, 1 its supertype, …
    static: bool = False
    owner: str = ""                                # declaring class (binary)
    type: JType | None = None
    arities: tuple = ()                            # methods: (parameter count, varargs) per overload

    def accepts(self, n: int) -> bool:
        return any(k == n or (v and n >= k - 1) for k, v in self.arities)


@dataclass
class _Decl:
    name: str
    start: int
    scope: object
    decl: object
    type_node: object = None
    value: object = None
    iterable: object = None
    lambda_node: object = None
    varargs: bool = False


def _text(node) -> str:
    return node.text.decode("utf-8", "replace") if node is not None else ""


def patched_sources(data: bytes, word_start: int, word_end: int):
    """The source with the word at bytes [word_start, word_end) replaced by the placeholder and
    each of a few closings (`;` when nothing follows on the line, `)` for an unclosed call …),
    the likeliest first."""
    line_end = data.find(b"\n", word_end)
    rest = data[word_end:line_end if line_end >= 0 else len(data)]
    closes = ([b";"] if not rest.strip() else [b""]) + [b"", b";", b");", b"));", b")"]
    seen = set()
    for close in closes:
        if close not in seen:
            seen.add(close)
            yield data[:word_start] + PLACEHOLDER.encode() + close + data[word_end:]


def _in_error(node) -> bool:
    while node is not None:
        if node.type == "ERROR" or node.is_missing:
            return True
        node = node.parent
    return False


class JavaScope:
    """Resolution at one position of one Java document."""

    def __init__(self, index: JavaIndex, data: bytes, word_start: int, word_end: int,
                 uri: str = "file:///untitled.java", tries: int = 4, tree=None):
        """`data`: the document's UTF-8 bytes; [word_start, word_end): the word at the cursor;
        `tree`: data's tree if there is one (re-parsed incrementally around the cursor). When
        the index holds `uri` (the server keeps open documents current) its classes are used,
        else the file's classes are read from the tree."""
        self.index = index
        self.offset = word_start
        first = None
        row = data.count(b"\n", 0, word_start)
        col = word_start - (data.rfind(b"\n", 0, word_start) + 1)
        end_row = row + data.count(b"\n", word_start, word_end)
        end_col = word_end - (data.rfind(b"\n", 0, word_end) + 1)
        for k, patched in enumerate(patched_sources(data, word_start, word_end)):
            if k >= tries:
                break
            old = None
            if tree is not None:
                old = tree.copy()
                n = len(patched) - len(data) + (word_end - word_start)
                old.edit(start_byte=word_start, old_end_byte=word_end, new_end_byte=word_start + n,
                         start_point=(row, col), old_end_point=(end_row, end_col), new_end_point=(row, col + n))
            tree_k = parse_bytes(patched, old)
            node = tree_k.root_node.descendant_for_byte_range(word_start, word_start + len(PLACEHOLDER))
            node = node if node is not None and node.text == PLACEHOLDER.encode() else None
            if first is None:
                first = (tree_k, node)
            if node is not None and not _in_error(node):
                first = (tree_k, node)
                break
        self.tree, self.node = first
        held = index.files.get(uri)
        if held is not None:
            self.entry, self.local_classes = held, {}
        else:
            self.entry = file_entry(uri, self.tree)
            self.local_classes = {c.name: c for c in self.entry.classes}
            for c in self.entry.classes:
                c.names = TypeNames(self, self.entry, c.name)
        self.classes = self._enclosing_classes(self.node or self.tree.root_node.descendant_for_byte_range(self.offset, self.offset))
        self.names = TypeNames(self, self.entry, self.classes[0] if self.classes else None)
        self._decls: list[_Decl] | None = None
        self._depth = 0

    # ---------------------------------------------------------------- index interface (for TypeNames)
    def get(self, name: str) -> ClassInfo | None:
        return self.local_classes.get(name) or self.index.get(name)

    def exists(self, name: str) -> bool:
        return name in self.local_classes or self.index.exists(name)

    @property
    def packages(self):
        return self.index.packages

    # ---------------------------------------------------------------- where the cursor is
    def _enclosing_classes(self, node) -> list[str]:
        """Binary names of the classes around a node, innermost first."""
        names = []
        n = node
        while n is not None:
            if n.type in CLASS_NODES:
                name = n.child_by_field_name("name")
                if name is not None:
                    names.append(_text(name))
            n = n.parent
        pkg = self.entry.package + "." if self.entry.package else ""
        return [pkg + "$".join(reversed(names[i:])) for i in range(len(names))]

    def receiver_node(self):
        """The expression left of `.` before the cursor (None: the cursor is not after a `.`)."""
        n = self.node
        if n is None or n.parent is None:
            return None
        p = n.parent
        if p.type == "field_access" and p.child_by_field_name("field") == n:
            return p.child_by_field_name("object")
        if p.type == "method_invocation" and p.child_by_field_name("name") == n:
            return p.child_by_field_name("object")
        if p.type in ("scoped_type_identifier", "scoped_identifier") and p.named_children and p.named_children[-1] == n:
            return p.named_children[0]
        return None

    def receiver(self) -> Receiver | None:
        r = self.receiver_node()
        return self.eval(r, allow_type=True) if r is not None else None

    def _tvars_at(self, node) -> dict[str, str | None]:
        """Type variables in scope at a node: name -> bound text (methods' and classes')."""
        out: dict[str, str | None] = {}
        n = node
        while n is not None:
            if n.type in ("method_declaration", "constructor_declaration") or n.type in CLASS_NODES:
                tp = n.child_by_field_name("type_parameters")
                for p in tp.named_children if tp is not None else ():
                    name = next((_text(c) for c in p.named_children if c.type in ("type_identifier", "identifier")), "")
                    bound = next((c for c in p.named_children if c.type == "type_bound"), None)
                    out.setdefault(name, _text(bound.named_children[0]) if bound is not None and bound.named_children else None)
            n = n.parent
        return out

    def type_of_text(self, text: str, node=None) -> JType | None:
        tv = self._tvars_at(node or self.node)
        t = parse_type(text, self._names_at(node), set(tv))
        if t is not None and t.tvar:
            bound = tv.get(t.name)
            base = parse_type(bound, self._names_at(node), set(tv)) if bound else OBJECT_TYPE
            return (base or OBJECT_TYPE).with_dims(t.dims)
        return t

    def _names_at(self, node):
        if node is None or node == self.node:
            return self.names
        cls = self._enclosing_classes(node)
        return TypeNames(self, self.entry, cls[0] if cls else None)

    # ---------------------------------------------------------------- declarations
    def decls(self) -> list[_Decl]:
        if self._decls is None:
            from tree_sitter import QueryCursor
            out = []
            qc = QueryCursor(query("locals"))
            member = self._enclosing_member()
            if member is not None:
                qc.set_byte_range(member.start_byte, member.end_byte)
            for _, caps in qc.matches(self.tree.root_node):
                name = caps.get("name", [None])[0]
                if name is None:
                    continue
                if "lambda" in caps:
                    lam = caps["lambda"][0]
                    out.append(_Decl(_text(name), name.start_byte, lam, lam, lambda_node=lam))
                    continue
                decl = (caps.get("decl") or caps.get("decl.varargs") or caps.get("decl.pattern"))[0]
                scope = self._scope_of(decl, "decl.pattern" in caps)
                out.append(_Decl(_text(name), name.start_byte, scope, decl, caps.get("type", [None])[0],
                                 caps.get("value", [None])[0], caps.get("iterable", [None])[0],
                                 varargs="decl.varargs" in caps))
            self._decls = out
        return self._decls

    def _enclosing_member(self):
        """The class member (method, field, initializer …) holding the cursor: locals live there."""
        n = self.node or self.tree.root_node.descendant_for_byte_range(self.offset, self.offset)
        while n is not None and n.parent is not None:
            if n.parent.type in ("class_body", "interface_body", "enum_body_declarations", "program"):
                return n
            n = n.parent
        return None

    @staticmethod
    def _scope_of(decl, pattern: bool):
        if decl.type in ("formal_parameter", "spread_parameter"):
            p = decl.parent                                        # formal_parameters
            return p.parent if p is not None and p.parent is not None else p
        if decl.type == "catch_formal_parameter":
            return decl.parent
        if decl.type == "resource":
            n = decl.parent
            while n is not None and n.type != "try_with_resources_statement":
                n = n.parent
            return n
        if decl.type == "enhanced_for_statement":
            return decl
        n = decl.parent
        if pattern:                                                # x instanceof Foo f: the enclosing statement's block
            while n is not None and n.type not in ("block", "constructor_body", "lambda_expression", "program"):
                n = n.parent
            return n
        return n

    def visible_decls(self, at: int | None = None) -> list[_Decl]:
        """Locals and parameters visible at a byte offset, innermost last."""
        at = self.offset if at is None else at
        out = []
        for d in self.decls():
            s = d.scope
            if s is None or not (s.start_byte <= at <= s.end_byte):
                continue
            if d.start >= at:
                continue
            if d.decl.type == "local_variable_declaration" and d.decl.end_byte > at:
                continue                                           # its own initialiser
            out.append(d)
        out.sort(key=lambda d: d.start)
        return out

    def lookup_local(self, name: str, at: int | None = None) -> _Decl | None:
        found = [d for d in self.visible_decls(at) if d.name == name]
        return found[-1] if found else None

    def decl_type(self, d: _Decl) -> JType | None:
        if d.lambda_node is not None:
            return self.lambda_param_type(d.lambda_node, d.name)
        t_text = _text(d.type_node) if d.type_node is not None else ""
        if d.decl.type == "catch_formal_parameter":
            t_text = t_text.split("|")[0].strip()
        if t_text == "var":
            if d.iterable is not None:
                it = self.eval(d.iterable)
                return self.element_type(it.type) if it is not None and it.type is not None else None
            if d.value is not None:
                v = self.eval(d.value)
                return v.type if v is not None else None
            return None
        t = self.type_of_text(t_text, d.decl) if t_text else None
        if t is not None:
            if d.varargs:
                t = t.with_dims(t.dims + 1)
            dims = d.decl.parent.child_by_field_name("dimensions") if d.decl.type == "local_variable_declaration" else None
            if dims is not None:
                t = t.with_dims(t.dims + _text(dims).count("["))
        return t

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
            return self.select(obj, _text(n.child_by_field_name("field")), allow_type)
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
            call = p.parent
            args = [a for a in p.named_children if a.type not in ("line_comment", "block_comment")]
            idx = next((k for k, a in enumerate(args) if a.id == node.id), None)
            if idx is None:
                return None
            name = _text(call.child_by_field_name("name"))
            obj_node = call.child_by_field_name("object")
            if obj_node is not None:
                obj = self.eval(obj_node, allow_type=True)
                if obj is None or obj.type is None or obj.kind == "package":
                    return None
                cands = self.find_methods(obj.type, name, len(args))
            else:
                cands = []
                for cls in self._enclosing_classes(call) or self.classes:
                    cands = self.find_methods(JType(cls), name, len(args))
                    if cands:
                        break
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
                if not pt.tvar and self.functional_method(pt) is not None:
                    return pt
        return None

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
        while p is not None and p.type == "parenthesized_expression":
            n, p = p, p.parent
        if p is None:
            return None
        if p.type == "variable_declarator" and p.child_by_field_name("value") == n:
            decl = p.parent
            tn = decl.child_by_field_name("type") if decl is not None else None
            return self.type_of_text(_text(tn), decl) if tn is not None and _text(tn) != "var" else None
        if p.type == "assignment_expression" and p.child_by_field_name("right") == n:
            left = self.eval(p.child_by_field_name("left"))
            return left.type if left is not None else None
        if p.type == "return_statement":
            m = p.parent
            while m is not None and m.type not in ("method_declaration", "lambda_expression", "constructor_declaration"):
                m = m.parent
            tn = m.child_by_field_name("type") if m is not None and m.type == "method_declaration" else None
            return self.type_of_text(_text(tn), m) if tn is not None else None
        if p.type == "expression_statement":
            return JType("void")                                   # a call made for its effect
        if p.type in ("if_statement", "while_statement", "do_statement") and p.child_by_field_name("condition") == n \
                or p.type == "unary_expression" and _text(p).startswith("!") \
                or p.type == "binary_expression" and _text(p.child_by_field_name("operator")) in ("&&", "||") \
                or p.type == "ternary_expression" and p.child_by_field_name("condition") == n:
            return JType("boolean")
        return None

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
        if t.is_array and not static:
            out["length"] = Member("length", "field", "int length", 0, False, "", JType("int"))
        for info, subst, depth in self.hierarchy(t):
            for m in self._declared(info, subst, static):
                if m.name not in out:
                    out[m.name] = Member(m.name, m.kind, m.detail, depth, m.static, m.owner, m.type, m.arities)
            if static:
                for simple, binary in sorted(info.nested.items()):
                    out.setdefault(simple, Member(simple, "class", binary.replace("$", "."), depth, True, info.name))
                break                                              # static members: the type's own
        if static:
            out.setdefault("class", Member("class", "keyword", f"Class<{t.show()}>", 0, True))
        return list(out.values())

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
                                  info.name, ft))
        overloads: dict[str, list[MethodInfo]] = {}
        for m in info.methods:
            if m.static == static:
                overloads.setdefault(m.name, []).append(m)
        for name, ms in overloads.items():
            m = min(ms, key=lambda m: len(m.params))
            out.append(Member(name, "method", self.signature(m, info, subst, len(ms)), 0, m.static, info.name,
                              self.return_type(m, info, subst) if not m.tparams else None,
                              tuple(sorted({(len(x.params), x.varargs) for x in ms}))))
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
