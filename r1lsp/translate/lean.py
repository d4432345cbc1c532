"""Lean output: drop field defaults that are overwritten before any read, and the methods of
inlined runtime classes (StringBuilder, Optional, TreeMap…) that the translation never calls."""
from __future__ import annotations

import ast
import re
from collections import Counter

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


_REF = re.compile(r"\.(\w+)\b|['\"](\w+)['\"]")


def _refs(text: str) -> Counter:
    return Counter(a or b for a, b in _REF.findall(text))


def prune_helpers(helper_src: str, user_code: str) -> str:
    """Remove methods of helper classes whose names the code never mentions as attributes
    (``.name`` or ``'name'``; dunder methods and names the class body uses stay)."""
    try:
        tree = ast.parse(helper_src)
    except SyntaxError:
        return helper_src
    lines = helper_src.splitlines()
    total = _refs(helper_src) + _refs(user_code)
    methods = []   # (class body refs, span, name, own refs)
    for c in tree.body:
        if not isinstance(c, ast.ClassDef):
            continue
        own_refs = " ".join("\n".join(lines[s.lineno - 1:s.end_lineno]) for s in c.body
                            if not isinstance(s, ast.FunctionDef))
        for f in c.body:
            if isinstance(f, ast.FunctionDef) and not f.name.startswith("__") and \
                    not re.search(r"\b" + re.escape(f.name) + r"\b", own_refs):
                a = f.lineno - 1 - len(f.decorator_list)
                methods.append((f.name, (a, f.end_lineno), _refs("\n".join(lines[a:f.end_lineno]))))
    drop: list[tuple[int, int]] = []
    changed = True
    while changed:
        changed = False
        for m in list(methods):
            name, span, own = m
            if total[name] - own[name] <= 0:
                drop.append(span)
                total -= own
                methods.remove(m)
                changed = True
    if not drop:
        return helper_src
    keep = [True] * len(lines)
    for a, b in drop:
        for i in range(a, b):
            keep[i] = False
    res = "\n".join(l for l, k in zip(lines, keep) if k)
    while "\n\n\n\n" in res:
        res = res.replace("\n\n\n\n", "\n\n\n")
    res = re.sub(r"(\n    \n|\n\n)(\n    def )", r"\n\2", res)
    try:
        ast.parse(res)
    except SyntaxError:
        return helper_src
    return res
