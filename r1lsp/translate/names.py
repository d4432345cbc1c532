"""After translation: names the Python uses that nothing defines (marked and reported), and
the reason when nothing at all was translated."""
from __future__ import annotations

import ast
import builtins
import re
import symtable

from .core import Base, TranslationResult, Undefined

MARK = "# r1lsp: undefined: "
_BUILTINS = set(dir(builtins)) | {"__name__", "__file__"}


def undefined_names(python: str, own: set | None = None) -> dict[str, int]:
    """{name: first line (0-based)} of names the module reads as globals but never binds
    (Python's own scoping, through ``symtable``), builtins excepted. ``own`` receives the
    names the module itself binds at top level."""
    try:
        top = symtable.symtable(python, "<translation>", "exec")
    except SyntaxError:
        return {}
    if own is not None:
        own.update(s.get_name() for s in top.get_symbols() if s.is_assigned() or s.is_namespace())
    bound = set(_BUILTINS)
    wanted: set[str] = set()
    stack = [top]
    while stack:
        t = stack.pop()
        for sym in t.get_symbols():
            n = sym.get_name()
            if t is top:
                if sym.is_assigned() or sym.is_imported() or sym.is_namespace():
                    bound.add(n)
                elif sym.is_referenced():
                    wanted.add(n)
            elif sym.is_declared_global() and sym.is_assigned():
                bound.add(n)          # `global x` then x = …: a module global
            elif sym.is_referenced() and not (sym.is_local() or sym.is_free() or sym.is_parameter()
                                              or sym.is_assigned()):
                wanted.add(n)         # read as a global (symtable's is_global() misjudges a scope named "top")
        stack.extend(t.get_children())
    missing = wanted - bound
    if not missing:
        return {}
    found: dict[str, int] = {}
    for k, line in enumerate(python.splitlines()):
        if not missing - set(found):
            break
        for n in missing - set(found):
            if n in line and re.search(r"(?<![\w.])" + re.escape(n) + r"\b", line.split("#")[0]):
                found[n] = k
    for n in missing - set(found):
        found[n] = 0
    return found


def _java_position(src: bytes, name: str) -> tuple[int, int] | None:
    from .emit import parser
    stack = [parser().parse(src).root_node]
    best = None
    while stack:
        x = stack.pop()
        if x.type in ("identifier", "type_identifier") and src[x.start_byte:x.end_byte] == name.encode():
            if best is None or x.start_byte < best[0]:
                best = (x.start_byte, x.end_byte)
        stack.extend(x.children)
    return best


def finish(res: TranslationResult, src: bytes) -> None:
    """Mark and report undefined names; say why when the output holds no translation."""
    own: set[str] = set()
    found = undefined_names(res.python, own)
    if found:
        lines = res.python.splitlines()
        probe = Base(src, None)
        for name, line in sorted(found.items(), key=lambda kv: -kv[1]):
            java = name[:-1] if name.endswith("_") and not _java_position(src, name) else name
            at = _java_position(src, java)
            a, b = at if at else (0, 0)
            res.undefined.append(Undefined(java, a, b, probe.pos(a), probe.pos(b)))
            ind = lines[line][:len(lines[line]) - len(lines[line].lstrip())]
            # above the statement that uses it (the first line of a multi-line statement)
            k = line
            lines.insert(k, f"{ind}{MARK}{java} (defined neither in the input nor in its context)")
        res.undefined.sort(key=lambda u: u.start_byte)
        res.python = "\n".join(lines) + "\n"
        try:
            ast.parse(res.python)
        except SyntaxError:  # a marker inside a bracketed multi-line statement: put them on top
            res.python = "\n".join(f"{MARK}{u.name}" for u in res.undefined) + "\n" + "\n".join(
                l for l in lines if not l.lstrip().startswith(MARK)) + "\n"
    from .runtime import HELPERS
    res.empty = None if own - set(HELPERS) else empty_reason(res, src)


def empty_reason(res: TranslationResult, src: bytes) -> str | None:
    if not src.strip():
        return "the input is empty"
    try:
        tree = ast.parse(res.python)
    except SyntaxError:
        return "the output does not parse"
    body = [s for s in tree.body if not isinstance(s, (ast.Import, ast.ImportFrom, ast.Pass))]
    helpers = {n.name for n in body if isinstance(n, ast.FunctionDef) and n.name.startswith("_")}
    real = [s for s in body if not (isinstance(s, ast.FunctionDef) and s.name in helpers)]
    if not real:
        if res.untranslated:
            u = res.untranslated[0]
            return f"no rule translates it ({u.reason}, line {u.start[0] + 1})"
        return "the input holds no Java declarations or statements"
    return None
