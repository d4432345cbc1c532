"""Types of Java expressions at the cursor, and the members and names completion offers there.

The document is re-parsed with a placeholder identifier in place of the word being typed
(`report.` → `report.__r1__;`), so the statement around the cursor is well-formed and the
receiver is the placeholder's object. Names are looked up as Java scopes them: locals declared
before the cursor (`model/structure/queries/java/declarations.scm`), parameters, lambda parameters (typed through the
functional interface the call expects), fields of the enclosing classes and their supertypes,
static imports, then type names (`Math.` lists static members) and packages (`java.util.`).
Method calls are typed through their return types with the receiver's type arguments and the
method's own type variables inferred from the arguments (`List<Item>.get(0)` → `Item`,
`Map<K,V>.entrySet()` → `Set<Map.Entry<K,V>>`).
"""
from __future__ import annotations

from dataclasses import dataclass

from r1lsp.java.expressions import ExpressionTypes
from r1lsp.java.offers import MemberOffers
from r1lsp.java.types import OBJECT_TYPE, PLACEHOLDER, ClassInfo, JType, Member, Receiver, parse_type
from r1lsp.java.workspace import CLASS_NODES, JavaIndex, TypeNames, _text, file_entry, parse_bytes, query

__all__ = ["JavaScope", "Member", "Receiver", "PLACEHOLDER", "patched_sources"]


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


class JavaScope(ExpressionTypes, MemberOffers):
    """Resolution at one position of one Java document: where the cursor is and the names
    declared there (here), the types of expressions (`ExpressionTypes`), what completion
    offers (`MemberOffers`)."""

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
            qc = QueryCursor(query("declarations"))
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
            # C-style brackets after the name: `byte b[]` (a parameter), `int c[] = …`, `for (String s[] : …)`
            name = self.tree.root_node.descendant_for_byte_range(d.start, d.start + len(d.name.encode()))
            holder = name.parent if name is not None else None
            dims = holder.child_by_field_name("dimensions") \
                if holder is not None and holder.child_by_field_name("name") == name else None
            if dims is not None:
                t = t.with_dims(t.dims + _text(dims).count("["))
        return t
