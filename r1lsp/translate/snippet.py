"""Snippet mode: Java that is not a compilation unit (bare methods, fields, statements, an
expression — what a user selects and pastes) becomes top-level Python.

The snippet is wrapped in a synthetic class whose members are all static (a method of a
snippet that uses no instance state is a plain function); bare statements go into a
synthetic method whose body is emitted at module level afterwards. The wrapped text is
built from byte segments of the original, so positions of what is reported map back.
"""
from __future__ import annotations

import ast
import bisect
from dataclasses import dataclass, field

WRAP = "R1lspSnippet"
RUN = "r1lsp_snippet_run"
EXPR = "r1lsp_snippet_value"

CLASS_TYPES = ("class_declaration", "interface_declaration", "enum_declaration",
               "record_declaration")
MEMBER_TYPES = ("method_declaration", "constructor_declaration", "field_declaration",
                "static_initializer") + CLASS_TYPES
SKIP_TYPES = ("line_comment", "block_comment", "import_declaration", "package_declaration", ";")
ACCESS = {"private", "public", "protected", "static"}


@dataclass
class Wrapped:
    """Java text made of original segments plus synthetic glue, with the byte map back."""
    text: bytes = b""
    starts: list[int] = field(default_factory=list)   # wrapped start of each copied segment
    origins: list[tuple[int, int]] = field(default_factory=list)  # (orig start, length)
    kind: str = "members"          # "members" | "statements" | "expression" | "mixed"
    wrapper: str = WRAP
    force_static: bool = True

    def glue(self, s: str) -> None:
        self.text += s.encode("utf-8")

    def copy(self, src: bytes, a: int, b: int) -> None:
        self.starts.append(len(self.text))
        self.origins.append((a, b - a))
        self.text += src[a:b]

    def orig(self, byte: int) -> int | None:
        k = bisect.bisect_right(self.starts, byte) - 1
        if k < 0:
            return None
        a, n = self.origins[k]
        off = byte - self.starts[k]
        return a + min(off, n)


def is_snippet(root) -> bool:
    """True when the parsed Java is not a compilation unit of type declarations."""
    kids = [c for c in root.children if c.type not in SKIP_TYPES]
    if not kids:
        return False
    return any(c.type not in CLASS_TYPES for c in kids)


def _modifier_words(node, src: bytes) -> set[str]:
    for c in node.children:
        if c.type == "modifiers":
            return set(src[c.start_byte:c.end_byte].decode("utf-8", "replace").split())
    return set()


def _identifiers(node, src: bytes) -> set[str]:
    out, stack = set(), [node]
    while stack:
        x = stack.pop()
        if x.type == "identifier":
            out.add(src[x.start_byte:x.end_byte].decode("utf-8", "replace"))
        stack.extend(x.children)
    return out


def _declared(node, src: bytes) -> set[str]:
    """Names a method declares itself: parameters, locals, loop and catch variables, lambda
    parameters (an identifier of the method that is one of them is not a field)."""
    out, stack = set(), [node]
    while stack:
        x = stack.pop()
        if x.type in ("formal_parameter", "variable_declarator", "catch_formal_parameter",
                      "enhanced_for_statement", "spread_parameter"):
            n = x.child_by_field_name("name")
            if n is not None:
                out.add(src[n.start_byte:n.end_byte].decode("utf-8", "replace"))
        elif x.type == "lambda_expression":
            p = x.child_by_field_name("parameters")
            if p is not None:
                out |= _identifiers(p, src)
        stack.extend(x.children)
    return out


def _has(node, types) -> bool:
    stack = [node]
    while stack:
        x = stack.pop()
        if x.type in types:
            return True
        stack.extend(x.children)
    return False


def declared_types(root, src: bytes) -> set[str]:
    out, stack = set(), [root]
    while stack:
        x = stack.pop()
        if x.type in CLASS_TYPES:
            out.add(_name(x, src))
        stack.extend(x.named_children)
    return out


def context_types(root, src: bytes, contexts, parse) -> list[str]:
    """Java text of the top-level types of the context sources (the rest of the workspace) that
    the input uses but does not declare, with the types those use in turn."""
    have = declared_types(root, src)
    table: dict[str, str] = {}
    for ctx in contexts or ():
        cb = ctx.encode("utf-8") if isinstance(ctx, str) else ctx
        croot = parse(cb).root_node
        for c in croot.named_children:
            if c.type in CLASS_TYPES:
                table.setdefault(_name(c, cb), cb[c.start_byte:c.end_byte].decode("utf-8", "replace"))
    out: list[str] = []
    todo = [(root, src)]
    while todo:
        node, text = todo.pop()
        ids = _identifiers(node, text) | _type_ids(node, text)
        for n in sorted(ids):
            if n in table and n not in have:
                have.add(n)
                out.append(table[n])
                b = table[n].encode("utf-8")
                todo.append((parse(b).root_node, b))
    return out


def _type_ids(node, src: bytes) -> set[str]:
    out, stack = set(), [node]
    while stack:
        x = stack.pop()
        if x.type == "type_identifier":
            out.add(src[x.start_byte:x.end_byte].decode("utf-8", "replace"))
        stack.extend(x.children)
    return out


def wrap(root, src: bytes, parse, extra: list[str] = ()) -> Wrapped:
    """The snippet as a class: members copied in, statements into a synthetic static method."""
    kids = [c for c in root.children if c.type not in ("package_declaration",)]
    if root.has_error:
        # an expression? (it does not parse as statements or members)
        a, b = _trim(src)
        w = Wrapped(kind="expression")
        w.glue(f"class {WRAP} {{ static Object {EXPR}() {{ return (")
        w.copy(src, a, b)
        w.glue("\n); } }\n")
        r = parse(w.text).root_node
        if not r.has_error:
            return w
    members, stmts, head = [], [], []
    method_ids: set[str] = set()   # names methods use but do not declare: fields of the snippet
    for c in kids:
        if c.type in ("method_declaration", "constructor_declaration"):
            method_ids |= _identifiers(c, src) - _declared(c, src)
    for c in kids:
        if c.type == "import_declaration" or c.type in CLASS_TYPES:
            head.append(c)      # imports and the snippet's own classes stay top-level
        elif c.type in MEMBER_TYPES:
            members.append(c)
        elif c.type == "local_variable_declaration" and (
                _modifier_words(c, src) & ACCESS or any(
                    src[d.child_by_field_name("name").start_byte:d.child_by_field_name("name").end_byte]
                    .decode() in method_ids for d in c.children_by_field_name("declarator"))):
            members.append(c)   # a field of the snippet: methods use it
        elif c.type in ("line_comment", "block_comment", ";"):
            continue
        else:
            stmts.append(c)
    ctors = [c for c in members if c.type == "constructor_declaration"]
    w = Wrapped(kind="mixed" if members and stmts else "statements" if stmts else "members")
    if ctors:
        n = ctors[0].child_by_field_name("name")
        w.wrapper = src[n.start_byte:n.end_byte].decode("utf-8", "replace")
    w.force_static = not ctors and not any(_has(m, ("this", "super")) for m in members)
    for h in head:
        w.copy(src, h.start_byte, h.end_byte)
        w.glue("\n")
    for t in extra:
        w.glue(t + "\n")
    w.glue(f"class {w.wrapper} {{\n")
    for m in members:
        w.copy(src, m.start_byte, m.end_byte)
        w.glue("\n")
    if stmts:
        w.glue(f"static void {RUN}() {{\n")
        for s in stmts:
            w.copy(src, s.start_byte, s.end_byte)
            w.glue("\n")
        w.glue("}\n")
    w.glue("}\n")
    return w


def _trim(src: bytes) -> tuple[int, int]:
    a, b = 0, len(src)
    while a < b and src[a:a + 1].isspace():
        a += 1
    while b > a and src[b - 1:b].isspace():
        b -= 1
    if b > a and src[b - 1:b] == b";":
        b -= 1
    return a, b


def unwrap(python: str, kind: str) -> str:
    """Move the body of the synthetic statement method (or the expression) to module level."""
    name = EXPR if kind == "expression" else RUN
    try:
        tree = ast.parse(python)
    except SyntaxError:
        return python
    fn = next((s for s in tree.body if isinstance(s, ast.FunctionDef) and s.name == name), None)
    if fn is None:
        return python
    lines = python.splitlines()
    a, b = fn.lineno - 1, fn.end_lineno
    # decorators / comments above belong to the function
    body = lines[a + 1:b]
    keep_function = False
    for node in ast.walk(fn):
        if isinstance(node, ast.Nonlocal):
            keep_function = True
        if isinstance(node, (ast.Return, ast.Yield)) and kind != "expression":
            keep_function = True
    if kind == "expression":
        last = fn.body[-1]
        if not isinstance(last, ast.Return) or any(isinstance(s, ast.Return) for s in fn.body[:-1]):
            keep_function = True
    if keep_function:
        new = "run" if "run" not in {getattr(s, "name", None) for s in tree.body} else name
        lines[a] = lines[a].replace(f"def {name}(", f"def {new}(", 1)
        text = "\n".join(lines)
        return text.rstrip() + f"\n\n\n{new}()\n"
    out = []
    for ln in body:
        s = ln[4:] if ln.startswith("    ") else ln.lstrip() if not ln.strip() else ln
        if s.startswith("global "):
            continue
        out.append(s)
    if kind == "expression":
        # the final "return X" becomes the expression statement X
        for k in range(len(out) - 1, -1, -1):
            if out[k].startswith("return "):
                out[k] = out[k][len("return "):]
                break
            if out[k].startswith("return"):
                out[k] = "None"
                break
    # the statements run after every definition and field initialisation (before a main guard)
    rest = lines[:a] + lines[b:]
    tail: list[str] = []
    for k, ln in enumerate(rest):
        if ln.startswith('if __name__ == "__main__":'):
            rest, tail = rest[:k], rest[k:]
            break
    while rest and not rest[-1].strip():
        rest.pop()
    res = rest + ([""] * 2 if rest else []) + out + ([""] * 2 if tail else []) + tail
    text = "\n".join(res).rstrip() + "\n"
    while "\n\n\n\n" in text:
        text = text.replace("\n\n\n\n", "\n\n\n")
    try:
        ast.parse(text)
    except SyntaxError:
        return python
    return text


def _name(node, src: bytes) -> str:
    n = node.child_by_field_name("name")
    return src[n.start_byte:n.end_byte].decode("utf-8", "replace") if n is not None else ""


def _field_names(node, src: bytes) -> list[str]:
    return [_name(d, src) for d in node.children_by_field_name("declarator")]


def selected_members(root, src: bytes, a: int, b: int):
    """(class node, member nodes) when the selection [a, b) covers whole methods/fields of one
    class, else None."""
    node = root.named_descendant_for_byte_range(a, max(a, b - 1))
    x = node
    while x is not None and x.type not in ("method_declaration", "class_body"):
        if x.type in ("block", "constructor_body", "switch_block_statement_group") and any(
                c.end_byte > a and c.start_byte < b and not c.type.endswith("comment")
                for c in x.named_children):
            return None   # statements inside a body: translated as statements
        x = x.parent
    if x is None:
        return None
    if x.type == "method_declaration":
        body = x.parent
        members = [x]
    else:
        body = x
        members = [c for c in body.named_children if c.end_byte > a and c.start_byte < b
                   and c.type not in ("line_comment", "block_comment")]
        if not members or any(c.type not in ("method_declaration", "field_declaration") for c in members):
            return None
    if body is None or body.type != "class_body" or body.parent is None or \
            body.parent.type != "class_declaration":
        return None
    return body.parent, members


def plain_closure(cls, members, src: bytes):
    """The selected members plus the members of the class they use (transitively), when none
    of them uses instance state; None when one does (it stays a method)."""
    body = cls.child_by_field_name("body")
    methods: dict[str, list] = {}
    fields: dict[str, tuple] = {}
    for c in body.named_children:
        if c.type == "method_declaration":
            methods.setdefault(_name(c, src), []).append(c)
        elif c.type == "field_declaration":
            for f in _field_names(c, src):
                fields[f] = (c, "static" in _modifier_words(c, src))
    out, todo, seen = [], list(members), set()
    while todo:
        m = todo.pop(0)
        if m.start_byte in seen:
            continue
        seen.add(m.start_byte)
        out.append(m)
        if m.type == "method_declaration" and _has(m, ("this", "super")):
            return None
        if m.type == "field_declaration" and not "static" in _modifier_words(m, src) \
                and m not in members:
            return None
        for ident in _identifiers(m, src):
            if ident in fields:
                fnode, static = fields[ident]
                if not static and fnode not in members:
                    return None
                todo.append(fnode)
            for mm in methods.get(ident, []):
                todo.append(mm)
    out.sort(key=lambda c: c.start_byte)
    return out


def wrap_members(src: bytes, nodes, name: str = WRAP, extra: list[str] = ()) -> Wrapped:
    w = Wrapped(kind="members")
    for t in extra:
        w.glue(t + "\n")
    w.glue(f"class {name} {{\n")
    for m in nodes:
        w.copy(src, m.start_byte, m.end_byte)
        w.glue("\n")
    w.glue("}\n")
    return w
