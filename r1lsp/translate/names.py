"""After translation: names the Python uses that nothing defines (marked and reported), and
the reason when nothing at all was translated."""
from __future__ import annotations

import ast
import builtins

from .core import Base, TranslationResult, Undefined

MARK = "# r1lsp: undefined: "
_BUILTINS = set(dir(builtins)) | {"__name__", "__file__"}


def _defined(tree: ast.AST) -> set[str]:
    out = set(_BUILTINS)
    for n in ast.walk(tree):
        if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load):
            out.add(n.id)
        elif isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            out.add(n.name)
        elif isinstance(n, ast.arg):
            out.add(n.arg)
        elif isinstance(n, (ast.Import, ast.ImportFrom)):
            for a in n.names:
                out.add((a.asname or a.name).split(".")[0])
        elif isinstance(n, (ast.Global, ast.Nonlocal)):
            out.update(n.names)
        elif isinstance(n, ast.ExceptHandler) and n.name:
            out.add(n.name)
        elif isinstance(n, ast.MatchAs) and n.name:
            out.add(n.name)
    return out


def undefined_names(python: str) -> dict[str, int]:
    """{name: first line (0-based)} of names loaded but never bound anywhere in the module."""
    try:
        tree = ast.parse(python)
    except SyntaxError:
        return {}
    defined = _defined(tree)
    found: dict[str, int] = {}
    for n in ast.walk(tree):
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load) and n.id not in defined:
            found[n.id] = min(found.get(n.id, n.lineno - 1), n.lineno - 1)
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
    found = undefined_names(res.python)
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
    res.empty = empty_reason(res, src)


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
