"""translate_java: choose the unit, translate it, assemble a standalone Python module."""
from __future__ import annotations

import ast
import os
from typing import Callable, Sequence

import tree_sitter_java
from tree_sitter import Language, Parser

from . import runtime
from . import lean, snippet
from .core import Base, TranslationResult
from .names import finish
from .declarations import CLASS_NODES, DeclMixin
from .expressions import ExprMixin
from .functional import FunctionalMixin
from .lib_collections import CollectionsMixin
from .lib_static import StaticLibMixin
from .library import LibraryMixin
from .loops import LoopMixin
from .operators import OperatorMixin
from .statements import IND, StmtMixin, indent
from .switch import SwitchMixin
from .types import Scope, py_name
from .user_calls import UserCallMixin

_PARSER: Parser | None = None


def parser() -> Parser:
    global _PARSER
    if _PARSER is None:
        _PARSER = Parser(Language(tree_sitter_java.language()))
    return _PARSER


class Translator(FunctionalMixin, DeclMixin, SwitchMixin, StmtMixin, LoopMixin, LibraryMixin, UserCallMixin,
                 StaticLibMixin, CollectionsMixin, OperatorMixin, ExprMixin, Base):
    """In ``checked`` mode (the repair pass after an output that did not parse) every
    statement, member and class is checked with ``ast.parse`` as it is emitted; a unit that
    does not parse is replaced by a marked ``# r1lsp: untranslated: …`` placeholder."""

    def stmt(self, node) -> list[str]:
        lines = super().stmt(node)
        if self.checked and lines and not _parses(lines):
            saved, self.pre = self.pre, []
            try:
                return self.untranslated_stmt(node, "emitted Python did not parse")
            finally:
                self.pre = saved
        return lines

    def method_lines(self, node, *args, **kw) -> list[str]:
        lines = super().method_lines(node, *args, **kw)
        if self.checked and not _parses(lines):
            return [self._mark(node, "emitted Python did not parse (member)"), "pass"]
        return lines

    def emit_class(self, ci):
        lines, after = super().emit_class(ci)
        if self.checked:
            node = getattr(ci, "node", None)
            if lines and not _parses(lines):
                mark = self._mark(node, "emitted Python did not parse (class)") if node is not None \
                    else "# r1lsp: untranslated: class " + ci.name
                lines = [mark, f"class {ci.name}:", IND + "pass"]
            if after and not _parses(after):
                after = [self._mark(node, "emitted Python did not parse (class)")
                         if node is not None else "# r1lsp: untranslated", "pass"]
        return lines, after


def _parses(lines) -> bool:
    text = "\n".join(lines) if isinstance(lines, list) else lines
    try:
        ast.parse(text)
        return True
    except (SyntaxError, ValueError):
        return False


def _find_main(tr: Translator):
    cands = []
    for ci in tr.classes.values():
        for mi in ci.methods.get("main", []):
            if mi.static and len(mi.params) == 1 and mi.params[0][0] in ("String[]", "String..."):
                cands.append((0 if "public" in getattr(ci, "mods", set()) else 1, ci, mi))
    cands.sort(key=lambda x: x[0])
    return cands[0][1:] if cands else None


def _assemble(tr: Translator, body: list[str], after: list[str], tail: list[str]) -> str:
    body = lean.drop_dead_defaults(body)
    imports, helper_src = runtime.render(tr.helpers)
    helper_src = lean.prune_helpers(helper_src, "\n".join(body + after + tail))
    imps = sorted(set(imports) | tr.imports, key=lambda s: (s.startswith("from"), s))
    out: list[str] = []
    if imps:
        out += imps + ["", ""]
    if helper_src:
        out += [helper_src.rstrip("\n"), "", ""]
    out += body
    if after:
        out += ["", ""] + after
    if tail:
        out += ["", ""] + tail
    text = "\n".join(out).rstrip() + "\n"
    # collapse runs of blank lines left by empty parts
    while "\n\n\n\n" in text:
        text = text.replace("\n\n\n\n", "\n\n\n")
    return text


def _snippet_static(tr: Translator) -> None:
    """A snippet's members are static (plain functions) unless it uses this/super or constructors."""
    w = getattr(tr, "snippet", None)
    ci = tr.classes.get(w.wrapper) if w is not None else None
    if ci is None or not w.force_static:
        return
    for ms in ci.methods.values():
        for mi in ms:
            mi.static = True
    for f, (t, _) in list(ci.fields.items()):
        ci.fields[f] = (t, True)


def _file(tr: Translator, root) -> str:
    tr.collect(root)
    _snippet_static(tr)
    tr.decide_module_level()
    body, after = [], []
    for ci in tr.order_classes():
        lines, aft = tr.emit_class(ci)
        if lines:
            if body:
                body += ["", ""]
            body += lines
        after += aft
    tail = []
    m = _find_main(tr)
    if m is not None:
        ci, mi = m
        tr.need("import sys")
        call = f"{mi.py}(sys.argv[1:])" if ci.module_level else f"{ci.name}.{mi.py}(sys.argv[1:])"
        tail = ['if __name__ == "__main__":', IND + call]
    return _assemble(tr, body, after, tail)


def _enclosing(node, types):
    while node is not None and node.type not in types:
        node = node.parent
    return node


def _method(tr: Translator, root, mnode) -> str:
    tr.collect(root)
    tr.decide_module_level()
    cls_node = _enclosing(mnode.parent, CLASS_NODES)
    ci = tr.classes.get(tr.text(cls_node.child_by_field_name("name"))) if cls_node else None
    tr.cls = ci
    if mnode.type == "constructor_declaration":
        lines, _ = tr.emit_class(ci)
        return _assemble(tr, lines, [], [])
    mi = None
    if ci is not None:
        for cand in ci.methods.get(tr.text(mnode.child_by_field_name("name")), []):
            if cand.node.start_byte == mnode.start_byte:
                mi = cand
    if mi is not None and (mi.static or ci.module_level):
        ci.module_level = True  # a bare static method becomes a module function
        lines = tr.method_lines(mnode, mi, module=True)
    else:
        lines = tr.method_lines(mnode, mi)
    return _assemble(tr, lines, [], [])


def _statements(tr: Translator, root, stmts) -> str:
    tr.collect(root)
    tr.decide_module_level()
    first = stmts[0]
    cls_node = _enclosing(first.parent, CLASS_NODES)
    ci = tr.classes.get(tr.text(cls_node.child_by_field_name("name"))) if cls_node else None
    tr.cls = ci
    meth = _enclosing(first.parent, ("method_declaration", "constructor_declaration",
                                     "lambda_expression"))
    free: list[str] = []
    tr.scope = Scope()
    if meth is not None and meth.type != "lambda_expression":
        name = tr.text(meth.child_by_field_name("name"))
        mi = next((m for m in (ci.methods.get(name, []) if ci else []) if m.node == meth), None)
        if mi is None:
            mi = tr.method_info(meth, True, "class")
            mi.owner = ci
        tr.method = mi
        tr.static_ctx = mi.static
        for pt, pn in mi.params:
            tr.scope.declare(pn, pt)
            free.append(pn)
        # locals declared before the selection in the enclosing method
        body = meth.child_by_field_name("body")
        stack = [body]
        while stack:
            x = stack.pop()
            if x.start_byte >= first.start_byte:
                continue
            if x.type == "local_variable_declaration" and x.end_byte <= first.start_byte:
                t = tr.type_of(x.child_by_field_name("type"))
                for d in x.children_by_field_name("declarator"):
                    nm = tr.text(d.child_by_field_name("name"))
                    tr.scope.declare(nm, t)
                    free.append(nm)
            stack.extend(x.named_children)
    used = set()
    for s in stmts:
        stack = [s]
        while stack:
            x = stack.pop()
            if x.type == "identifier":
                used.add(tr.text(x))
            stack.extend(x.named_children)
    params = [py_name(n) for n in dict.fromkeys(free) if n in used]
    tr.scope = Scope(tr.scope)
    lines = []
    for s in stmts:
        lines.extend(tr.stmt(s))
    if tr.func_globals:
        lines = [f"global {', '.join(sorted(tr.func_globals))}"] + lines
    func = ["def run(" + ", ".join(params) + "):"] + indent(lines)
    tail = []
    if not params:
        tail = ['if __name__ == "__main__":', IND + "run()"]
    return _assemble(tr, func, [], tail)


def translate_java(source: str, *, selection: tuple[int, int] | None = None,
                   fallback: Callable[..., str | None] | None = None,
                   context: Sequence[str] = ()) -> TranslationResult:
    """Translate Java source (or the unit a byte-range selection names) to Python 3.

    Source that is not a compilation unit (a bare method, fields, statements, an expression)
    is translated in snippet mode (``snippet.py``): top-level Python functions / statements.

    The returned Python always passes ``ast.parse``: when the first pass emits text that
    does not parse, a checked pass replaces each unit that does not parse (statement, else
    member, else class) by a marked placeholder and reports it in ``untranslated``.
    ``TranslationResult.empty`` says why, when nothing at all was translated.

    ``context``: other Java sources (the rest of the workspace); the top-level types the input
    uses but does not declare are taken from them and translated alongside. A name defined
    nowhere is marked ``# r1lsp: undefined: NAME`` and listed in ``undefined``."""
    src = source.encode("utf-8")
    root = parser().parse(src).root_node
    if selection is None and snippet.is_snippet(root):
        w = snippet.wrap(root, src, parser().parse, snippet.context_types(root, src, context, parser().parse))
        res = _run(w.text, parser().parse(w.text).root_node, fallback, None, w)
        res.python = snippet.unwrap(res.python, w.kind)
        res.unit = "snippet"
        _remap(res, w, src)
    else:
        res = None
        if selection is not None:
            res = _selected_functions(src, root, selection, fallback, context)
        if res is None:
            extra = snippet.context_types(root, src, context, parser().parse) if context else []
            if extra:  # types from the workspace, appended after the file's own
                full = src + b"\n" + "\n".join(extra).encode("utf-8") + b"\n"
                res = _run(full, parser().parse(full).root_node, fallback, selection, None)
                res.untranslated = [u for u in res.untranslated if u.start_byte < len(src)]
                res.model_translated = [m for m in res.model_translated if m.start_byte < len(src)]
            else:
                res = _run(src, root, fallback, selection, None)
    finish(res, src)
    return res


def _selected_functions(src: bytes, root, selection, fallback, context=()) -> TranslationResult | None:
    """Selected methods (and fields) that use no instance state become plain functions,
    translated with the members of their class that they use."""
    a, b = max(0, selection[0]), min(len(src), selection[1])
    while a < b and src[a:a + 1].isspace():
        a += 1
    while b > a and src[b - 1:b].isspace():
        b -= 1
    sel = snippet.selected_members(root, src, a, b)
    if sel is None:
        return None
    cls, members = sel
    nodes = snippet.plain_closure(cls, members, src)
    if nodes is None:
        return None
    # the file's other types (and the workspace's) that the selected members use come along
    sub = src[:0].join(src[m.start_byte:m.end_byte] + b"\n" for m in nodes)
    others = [src[c.start_byte:c.end_byte].decode("utf-8", "replace") for c in root.named_children
              if c.type in snippet.CLASS_TYPES and c != cls]
    extra = snippet.context_types(parser().parse(sub).root_node, sub, others + list(context), parser().parse)
    w = snippet.wrap_members(src, nodes, extra=extra)
    res = _run(w.text, parser().parse(w.text).root_node, fallback, None, w)
    res.unit = "method" if len(members) == 1 and members[0].type == "method_declaration" else "members"
    _remap(res, w, src)
    return res


def _remap(res: TranslationResult, w, src: bytes) -> None:
    """Byte ranges and positions of the wrapped snippet back onto the original text."""
    probe = Base(src, None)
    for item in list(res.untranslated) + list(res.model_translated):
        a = w.orig(item.start_byte)
        b = w.orig(max(item.start_byte, item.end_byte - 1))
        a = 0 if a is None else a
        b = a if b is None else b + 1
        item.start_byte, item.end_byte = a, max(a, b)
        item.start, item.end = probe.pos(item.start_byte), probe.pos(item.end_byte)


def _run(src: bytes, root, fallback, selection, wrapped) -> TranslationResult:
    tr = Translator(src, fallback)
    tr.snippet = wrapped
    text, unit = _translate(tr, root, src, selection)
    if not _parses(text):
        answers = getattr(tr, "_answers", {})
        tr = Translator(src, fallback)
        tr.snippet = wrapped
        tr.checked = True
        tr._answers = answers  # do not ask the model twice
        try:
            text, unit = _translate(tr, root, src, selection)
        except RecursionError:
            text = "x = ("
        if not _parses(text):
            tr.untranslated = []
            line = tr._mark(root, "emitted Python did not parse")
            text = line + "\npass\n"
    return TranslationResult(text, tr.untranslated, unit, tr.model_translated)


def _translate(tr: Translator, root, src: bytes, selection) -> tuple[str, str]:
    unit = "file"
    if selection is not None and not (selection[0] <= 0 and selection[1] >= len(src.rstrip())):
        a, b = selection
        a = max(0, min(a, len(src)))
        b = max(a, min(b, len(src)))
        while a < b and src[a:a + 1].isspace():
            a += 1
        while b > a and src[b - 1:b].isspace():
            b -= 1
        node = root.named_descendant_for_byte_range(a, max(a, b - 1)) or root
        # grow to a unit
        x = node
        while x is not None:
            if x.type in ("method_declaration", "constructor_declaration"):
                return _method(tr, root, x), "method"
            if x.type in CLASS_NODES:
                if x.parent is not None and x.parent.type == "program" and \
                        sum(1 for c in root.named_children if c.type in CLASS_NODES) == 1:
                    break
                return _class(tr, root, x), "class"
            if x.type in ("block", "constructor_body", "switch_block_statement_group"):
                stmts = [c for c in x.named_children
                         if c.end_byte > a and c.start_byte < b and not c.type.endswith("comment")]
                if stmts:
                    return _statements(tr, root, stmts), "statements"
            if x.type == "program":
                break
            x = x.parent
    return _file(tr, root), unit


def _class(tr: Translator, root, cnode) -> str:
    tr.collect(root)
    tr.decide_module_level()
    name = tr.text(cnode.child_by_field_name("name"))
    keep = {name} | {c.name for c in tr.classes.values() if c.outer == name}
    body, after = [], []
    for ci in tr.order_classes():
        if ci.name not in keep:
            continue
        lines, aft = tr.emit_class(ci)
        if body:
            body += ["", ""]
        body += lines
        after += aft
    tail = []
    m = _find_main(tr)
    if m is not None and m[0].name == name:
        ci, mi = m
        tr.need("import sys")
        call = f"{mi.py}(sys.argv[1:])" if ci.module_level else f"{ci.name}.{mi.py}(sys.argv[1:])"
        tail = ['if __name__ == "__main__":', IND + call]
    return _assemble(tr, body, after, tail)


def python_file_name(java_path: str, existing: Callable[[str], bool]) -> str:
    """Foo.java -> Foo.py beside it; Foo_1.py, Foo_2.py… when the name is taken."""
    stem, ext = os.path.splitext(java_path)
    if ext.lower() != ".java":
        stem = java_path
    cand = stem + ".py"
    k = 1
    while existing(cand):
        cand = f"{stem}_{k}.py"
        k += 1
    return cand
