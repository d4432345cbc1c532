"""Build `r1lsp/usage-prior.json.gz`, the member-usage prior completion ranks with (`make usage-prior`).

Counts of `receiver_type.member` in code that is neither the dev nor the test code of
bench/devset.json: the JDK's own sources (its src.zip; the receiver typed by r1lsp/java's
resolver, as completion types it) and the Python standard library (the receiver typed by
cheap rules: an imported module, a literal, a constructor call or builtin assigned to a
name), plus how often each member name follows a `.` at all (the back-off). Needs the JDK's
src.zip here, never at run time.

    python -m r1lsp.usage_prior_build [--java-files N] [--python-files N] [-o PATH]
"""
from __future__ import annotations

import argparse
import ast
import collections
import gzip
import json
import sys
import time
from pathlib import Path

from r1lsp.expert_calibration import java_sources, python_sources

OUT = Path(__file__).with_name("usage-prior.json.gz")
# JDK code that uses the public API the way applications do (not the VM's internals)
JAVA_PACKAGES = ("java.base/java/", "java.sql/", "java.net.http/", "java.logging/", "java.xml/javax/",
                 "java.desktop/javax/swing/", "java.desktop/java/awt/", "jdk.httpserver/", "jdk.jshell/",
                 "java.management/", "jdk.compiler/com/sun/tools/javac/", "jdk.jartool/", "jdk.jlink/")


def member_accesses(tree):
    """(name node, receiver node) of every Java `receiver.name` (field access or method call)."""
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        f = {"field_access": "field", "method_invocation": "name"}.get(node.type)
        if f:
            name, obj = node.child_by_field_name(f), node.child_by_field_name("object")
            if name is not None and obj is not None and name.type == "identifier":
                yield name, obj
        stack.extend(node.children)


def _member_sites(data: bytes, tree):
    """(start, end) bytes of the names after `receiver.` (not `this.` / `super.`)."""
    for name, obj in member_accesses(tree):
        if obj.type not in ("this", "super"):
            yield name.start_byte, name.end_byte


def java_counts(files: int, sites_per_file: int = 40, log=print) -> dict:
    """{"types": {binary type: {member: n}}, "names": {member: n}} over JDK sources."""
    from r1lsp.java.resolve import JavaScope
    from r1lsp.java.workspace import JavaIndex, parse_bytes
    index = JavaIndex()
    types: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    names: collections.Counter = collections.Counter()
    chosen = []
    for src in java_sources():
        if src.path.startswith(JAVA_PACKAGES) and "/internal/" not in src.path:
            chosen.append(src)
            if len(chosen) >= files:
                break
    for src in chosen:                                 # the sample as a workspace: same-package types resolve
        index.update("file:///" + src.path, src.text)
    n, t0 = 0, time.perf_counter()
    for src in chosen:
        data = src.text.encode("utf-8")
        tree = parse_bytes(data)
        sites = sorted(_member_sites(data, tree))
        step = max(1, len(sites) // sites_per_file)
        for s, e in sites[::step]:
            name = data[s:e].decode()
            names[name] += 1
            try:
                scope = JavaScope(index, data, s, e, "file:///" + src.path, tries=1, tree=tree)
                r = scope.receiver()
            except (RecursionError, ValueError, KeyError, AttributeError, IndexError):
                continue
            if r is not None and r.type is not None and r.kind in ("value", "type") and not r.type.dims \
                    and r.type.name in index.jdk:                 # the public API: what other code uses too
                types[r.type.name][name] += 1
        n += 1
        if n % 250 == 0:
            log(f"java: {n} files, {len(types)} types, {time.perf_counter() - t0:.0f} s")
    return {"types": {t: dict(c) for t, c in types.items()}, "names": dict(names)}


class _PyTypes(ast.NodeVisitor):
    """`receiver.member` pairs of one module with the receiver's type where a rule knows it."""
    LITERALS = {str: "str", bytes: "bytes", int: "int", float: "float"}
    BUILTINS = {"list", "dict", "set", "frozenset", "tuple", "str", "bytes", "bytearray", "int", "float",
                "object", "type", "super"}

    def __init__(self):
        self.modules: dict[str, str] = {}          # local name -> module
        self.assigned: dict[str, str | None] = {}  # local name -> type (None: ambiguous)
        self.pairs: list[tuple[str | None, str]] = []

    def _type(self, v) -> str | None:
        if isinstance(v, ast.Constant):
            return self.LITERALS.get(type(v.value))
        if isinstance(v, (ast.List, ast.ListComp)):
            return "list"
        if isinstance(v, (ast.Dict, ast.DictComp)):
            return "dict"
        if isinstance(v, (ast.Set, ast.SetComp)):
            return "set"
        if isinstance(v, ast.JoinedStr):
            return "str"
        if isinstance(v, ast.Call):
            f = v.func
            if isinstance(f, ast.Name) and (f.id in self.BUILTINS or f.id[:1].isupper()):
                return f.id
            if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id in self.modules \
                    and f.attr[:1].isupper():
                return f"{self.modules[f.value.id]}.{f.attr}"
        return None

    def visit_Import(self, node):
        for a in node.names:
            self.modules[(a.asname or a.name).split(".")[0]] = a.name if a.asname else a.name.split(".")[0]

    def assign(self, node):
        t = self._type(node.value)
        for target in node.targets:
            if isinstance(target, ast.Name):
                old = self.assigned.get(target.id, t)
                self.assigned[target.id] = t if old == t else None

    def visit_Assign(self, node):
        self.generic_visit(node)

    def visit_Attribute(self, node):
        v = node.value
        if isinstance(v, ast.Name):
            if v.id in self.modules:
                self.pairs.append(("module:" + self.modules[v.id], node.attr))
            elif v.id in ("self", "cls"):
                self.pairs.append((None, node.attr))
            else:
                self.pairs.append((self.assigned.get(v.id), node.attr))
        else:
            self.pairs.append((self._type(v), node.attr))
        self.generic_visit(node)


def python_counts(files: int, log=print) -> dict:
    types: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    names: collections.Counter = collections.Counter()
    n = 0
    for src in python_sources():
        try:
            tree = ast.parse(src.text)
        except (SyntaxError, ValueError):
            continue
        v = _PyTypes()
        for node in ast.walk(tree):                    # the module's imports and assignments first:
            if isinstance(node, ast.Import):          # one type per name, None where they disagree
                v.visit_Import(node)
            elif isinstance(node, ast.Assign):
                v.assign(node)
        v.visit(tree)
        for t, name in v.pairs:
            names[name] += 1
            if t:
                types[t][name] += 1
        n += 1
        if n >= files:
            break
    log(f"python: {n} files, {len(types)} types")
    return {"types": {t: dict(c) for t, c in types.items()}, "names": dict(names)}


def compact(counts: dict, min_type: int = 3, top: int = 60, min_name: int = 2) -> dict:
    """Types seen at least `min_type` times, their `top` members; names seen `min_name` times."""
    types = {}
    for t, c in counts["types"].items():
        if sum(c.values()) >= min_type:
            types[t] = dict(collections.Counter(c).most_common(top))
    names = {k: v for k, v in counts["names"].items() if v >= min_name}
    return {"types": dict(sorted(types.items())), "names": dict(sorted(names.items()))}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--java-files", type=int, default=2500)
    ap.add_argument("--python-files", type=int, default=2000)
    ap.add_argument("-o", "--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    log = lambda m: print(m, file=sys.stderr, flush=True)
    data = {"about": "member usage counts: r1lsp/usage_prior_build.py (make usage-prior)",
            "java": compact(java_counts(args.java_files, log=log)),
            "python": compact(python_counts(args.python_files, log=log))}
    raw = json.dumps(data, separators=(",", ":"), sort_keys=False).encode()
    args.out.write_bytes(gzip.compress(raw, 9, mtime=0))
    log(f"wrote {args.out} ({args.out.stat().st_size / 1e3:.0f} kB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
