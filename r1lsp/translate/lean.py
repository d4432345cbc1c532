"""Lean output: drop field defaults that are overwritten before any read, and the methods of
inlined runtime classes (StringBuilder, Optional, TreeMap…) that the translation never calls."""
from __future__ import annotations

import ast
import re

_DEFAULT = re.compile(r"^(\s+)self\.(\w+) = (None|0|0\.0|False|'\\x00'|\"\\x00\")$")
_ASSIGN = re.compile(r"^(\s+)self\.(\w+) = (.*)$")


def drop_dead_defaults(lines: list[str]) -> list[str]:
    """`self.f = <default>` followed (same block, only field stores of values that do not read
    self in between) by `self.f = …` is dead: Java's default is overwritten before any read."""
    out = []
    for k, line in enumerate(lines):
        m = _DEFAULT.match(line)
        if m:
            ind, f = m.group(1), m.group(2)
            dead = False
            for nxt in lines[k + 1:]:
                a = _ASSIGN.match(nxt)
                if a is None or a.group(1) != ind or "self" in a.group(3):
                    break
                if a.group(2) == f:
                    dead = True
                    break
            if dead:
                continue
        out.append(line)
    return out


def prune_helpers(helper_src: str, user_code: str) -> str:
    """Remove methods of helper classes whose names the code never mentions as attributes
    (dunder methods stay), then helper definitions nothing refers to any more."""
    try:
        tree = ast.parse(helper_src)
    except SyntaxError:
        return helper_src
    lines = helper_src.splitlines()
    drop: list[tuple[int, int]] = []
    classes = [n for n in tree.body if isinstance(n, ast.ClassDef)]
    text = helper_src + "\n" + user_code
    changed = True
    removed: set[tuple[str, str]] = set()
    while changed:
        changed = False
        for c in classes:
            # names used by the class body itself (aliases such as `__str__ = toString`)
            own_refs = " ".join("\n".join(lines[s.lineno - 1:s.end_lineno]) for s in c.body
                                if not isinstance(s, ast.FunctionDef))
            for f in c.body:
                if not isinstance(f, ast.FunctionDef) or f.name.startswith("__") or \
                        (c.name, f.name) in removed or re.search(r"\b" + re.escape(f.name) + r"\b", own_refs):
                    continue
                own = "\n".join(lines[f.lineno - 1 - len(f.decorator_list):f.end_lineno])
                rest = text.replace(own, "")
                if not re.search(r"\." + re.escape(f.name) + r"\b|['\"]" + re.escape(f.name) + r"['\"]", rest):
                    removed.add((c.name, f.name))
                    drop.append((f.lineno - 1 - len(f.decorator_list), f.end_lineno))
                    text = text.replace(own, "")
                    changed = True
    if not drop:
        return helper_src
    keep = [True] * len(lines)
    for a, b in drop:
        for i in range(a, b):
            keep[i] = False
    out = [l for l, k in zip(lines, keep) if k]
    res = "\n".join(out)
    while "\n\n\n\n" in res:
        res = res.replace("\n\n\n\n", "\n\n\n")
    res = re.sub(r"(\n    \n|\n\n)(\n    def )", r"\n\2", res)
    try:
        ast.parse(res)
    except SyntaxError:
        return helper_src
    return res
