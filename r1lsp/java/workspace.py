"""The Java classes a workspace defines, read from tree-sitter trees, together with the JDK
index: `JavaIndex` answers "which class is this name here" and "what does this class declare".

Each file contributes a `FileEntry` (package, imports, classes); `update(uri, text)` replaces
it, so the server keeps the index current by calling it on didOpen / didChange / didSave.
Member and supertype types stay as written and are resolved on demand through `TypeNames`
(the file's package and imports, the enclosing classes), so indexing never resolves anything.
"""
from __future__ import annotations

import collections
import os
import re
import zipfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

from model.structure.languages import language_query, language_support
from model.structure.text_index import utf8_bytes
from r1lsp.java.jdk import JdkIndex, jdk_index
from r1lsp.java.types import OBJECT, ClassInfo, FieldInfo, MethodInfo

CLASS_NODES = {"class_declaration": "class", "interface_declaration": "interface", "enum_declaration": "enum",
               "record_declaration": "record", "annotation_type_declaration": "annotation"}
_MEMBER_USE = re.compile(rb"\.\s*([A-Za-z_$][\w$]*)")        # `.name`: what the workspace's code uses
SKIP_DIRS = {".git", ".hg", ".svn", "node_modules", ".venv", "venv", "__pycache__", "build", "target", "out", ".gradle"}
MAX_FILES = 20000
MAX_CLASS_DEPTH = 14                                       # member declarations of classes nested 5 deep


def _text(node) -> str:
    return node.text.decode("utf-8", "replace") if node is not None else ""


def _language():
    return language_support("java").language


def query(name: str):
    """A Java query of model/structure/queries/java/ (declarations, classes)."""
    return language_query("java", name)


def parse(text: str):
    return parse_bytes(utf8_bytes(text))


def parse_bytes(data: bytes, old_tree=None):
    from tree_sitter import Parser
    return Parser(_language()).parse(data, old_tree) if old_tree is not None else Parser(_language()).parse(data)


@dataclass
class FileEntry:
    uri: str
    package: str
    imports: dict[str, str]                        # simple name -> qualified name (single-type imports)
    wildcards: list[str]                           # packages / classes imported with .*
    static_imports: list[tuple[str, str]]          # (qualified class, member or "*")
    classes: list[ClassInfo] = field(default_factory=list)
    class_nodes: dict[int, str] = field(default_factory=dict)   # declaration node id -> binary name
    member_uses: collections.Counter = field(default_factory=collections.Counter)  # name -> uses of `.name`


def _modifiers(node) -> str:
    for c in node.children:
        if c.type == "modifiers":
            return _text(c)
    return ""


def _tparams(node) -> tuple[str, ...]:
    tp = node.child_by_field_name("type_parameters")
    out = []
    if tp is not None:
        for p in tp.named_children:
            if p.type != "type_parameter":
                continue
            name = next((_text(c) for c in p.named_children if c.type in ("type_identifier", "identifier")), "")
            bound = next((c for c in p.named_children if c.type == "type_bound"), None)
            b = _text(bound.named_children[0]) if bound is not None and bound.named_children else ""
            out.append(name + (":" + b if b else ""))
    return tuple(out)


def _params(node) -> tuple[tuple[str, ...], bool]:
    ps = node.child_by_field_name("parameters")
    out, varargs = [], False
    if ps is None:
        return (), False
    for p in ps.named_children:
        if p.type == "formal_parameter":
            t = _text(p.child_by_field_name("type"))
            dims = p.child_by_field_name("dimensions")
            out.append(t + (_text(dims) if dims is not None else ""))
        elif p.type == "spread_parameter":
            t = next((c for c in p.named_children if c.type not in ("modifiers", "variable_declarator")), None)
            out.append(_text(t) + "[]")
            varargs = True
    return tuple(out), varargs


def file_entry(uri: str, tree) -> FileEntry:
    """The package, imports and classes of one parsed Java file."""
    from tree_sitter import QueryCursor
    entry = FileEntry(uri, "", {}, [], [])
    pending: list[tuple[str, object]] = []
    qc = QueryCursor(query("classes"))
    qc.set_max_start_depth(MAX_CLASS_DEPTH)                 # not into method bodies (local classes)
    for cap, nodes in qc.captures(tree.root_node).items():
        for n in nodes:
            pending.append((cap, n))
    pending.sort(key=lambda p: p[1].start_byte)
    infos: dict[int, ClassInfo] = {}
    for cap, n in pending:
        if cap == "package":
            entry.package = _text(n).replace(" ", "")
        elif cap == "import":
            body = _text(n)[len("import"):].strip().rstrip(";").strip()
            static = body.startswith("static ")
            body = body[len("static "):].strip() if static else body
            body = body.replace(" ", "")
            if static:
                cls, _, member = body.rpartition(".")
                entry.static_imports.append((cls, member))
            elif body.endswith(".*"):
                entry.wildcards.append(body[:-2])
            elif body:
                entry.imports[body.rsplit(".", 1)[-1]] = body
        elif cap == "class":
            outer = _owner(n, infos)
            name_node = n.child_by_field_name("name")
            if name_node is None:
                continue
            simple = _text(name_node)
            binary = (outer.name + "$" + simple) if outer is not None else \
                (entry.package + "." + simple if entry.package else simple)
            kind = CLASS_NODES[n.type]
            supers = []
            sc = n.child_by_field_name("superclass")
            if sc is not None and sc.named_children:
                supers.append(_text(sc.named_children[0]))
            for c in n.children:
                if c.type in ("super_interfaces", "extends_interfaces"):
                    tl = c.named_children[0] if c.named_children else None
                    supers.extend(_text(t) for t in (tl.named_children if tl is not None else ()))
            info = ClassInfo(binary, kind, _tparams(n), (), [], [], source=uri)
            if kind == "enum":
                supers.insert(0, f"java.lang.Enum<{simple}>")
                info.methods += [MethodInfo("values", (), simple + "[]", static=True),
                                 MethodInfo("valueOf", ("String",), simple, static=True)]
            elif kind == "record":                               # components: their accessors
                supers.insert(0, "java.lang.Record")
                params, _ = _params(n)
                ps = n.child_by_field_name("parameters")
                names = [_text(p.child_by_field_name("name")) for p in ps.named_children
                         if p.type == "formal_parameter"] if ps is not None else []
                for pname, ptype in zip(names, params):
                    info.methods.append(MethodInfo(pname, (), ptype))
            elif kind == "class" and sc is None:
                supers.insert(0, OBJECT)
            elif kind == "annotation":
                supers.insert(0, "java.lang.annotation.Annotation")
            info.supers = tuple(supers)
            infos[n.id] = info
            entry.classes.append(info)
            entry.class_nodes[n.id] = binary
            if outer is not None:
                outer.nested[simple] = binary
        else:
            owner = _owner(n, infos)
            if owner is None:
                continue
            mods = _modifiers(n)
            in_interface = owner.kind in ("interface", "annotation")
            if cap == "field":
                t = _text(n.child_by_field_name("type"))
                static = "static" in mods.split() or in_interface
                for d in n.children_by_field_name("declarator"):
                    owner.fields.append(FieldInfo(_text(d.child_by_field_name("name")), t, static))
            elif cap == "enum_constant":
                owner.fields.append(FieldInfo(_text(n.child_by_field_name("name")), owner.simple, True))
            elif cap == "method":
                words = mods.split()
                params, varargs = _params(n)
                abstract = "abstract" in words or (in_interface and n.child_by_field_name("body") is None
                                                   and "static" not in words and "default" not in words)
                owner.methods.append(MethodInfo(_text(n.child_by_field_name("name")), params,
                                                _text(n.child_by_field_name("type")), "static" in words,
                                                abstract, varargs, _tparams(n)))
    return entry


BODY_PARENTS = {"method_declaration", "constructor_declaration", "static_initializer", "compact_constructor_declaration"}
STRUCTURAL_CHARS = set('{}"\'/*@')


def declarations_unchanged(tree, start: int, end: int, removed: str, inserted: str) -> bool:
    """Whether an edit (bytes [start, end) of the new text, `removed` replaced by `inserted`)
    leaves the file's declarations as they were: it lies inside one method, constructor or
    initializer body and moves no brace, quote or comment delimiter. Then the index keeps the
    file's entry (re-reading a 2,000-line file costs ~10-25 ms per keystroke)."""
    if STRUCTURAL_CHARS & set(removed) or STRUCTURAL_CHARS & set(inserted) or tree is None:
        return False
    n = tree.root_node.descendant_for_byte_range(start, max(start, end))
    while n is not None:
        if n.type in ("block", "constructor_body") and n.parent is not None and n.parent.type in BODY_PARENTS:
            return n.start_byte < start and end < n.end_byte
        if n.type in CLASS_NODES or n.type == "ERROR":
            return False
        n = n.parent
    return False


def _owner(node, infos: dict[int, ClassInfo]) -> ClassInfo | None:
    """The nearest enclosing class already seen (declarations come in source order)."""
    n = node.parent
    while n is not None:
        if n.type in CLASS_NODES and n.id in infos:
            return infos[n.id]
        n = n.parent
    return None


class JavaIndex:
    """Workspace classes first, then the JDK's."""

    def __init__(self, jdk: JdkIndex | None = None):
        self._jdk = jdk
        self.files: dict[str, FileEntry] = {}
        self.classes: dict[str, ClassInfo] = {}
        self.packages: dict[str, dict[str, str]] = {}        # package -> simple -> binary (top level)
        self.member_cache: dict = {}                         # resolve.JavaScope._declared's
        self.member_uses: collections.Counter = collections.Counter()   # name -> uses of `.name` in all files
        self._lock = threading.RLock()

    @property
    def jdk(self) -> JdkIndex:
        if self._jdk is None:
            self._jdk = jdk_index()
        return self._jdk

    # ----------------------------------------------------------------- keeping it current
    def update(self, uri: str, text: str | None = None, tree=None) -> FileEntry:
        """(Re)index one file from its text or an already parsed tree."""
        tree = tree if tree is not None else parse(text or "")
        entry = file_entry(uri, tree)
        entry.member_uses = collections.Counter(m.decode() for m in _MEMBER_USE.findall(tree.root_node.text or b""))
        self._bind(entry)
        with self._lock:
            self._drop(uri)
            self.files[uri] = entry
            self.member_uses.update(entry.member_uses)
            for c in entry.classes:
                self.classes[c.name] = c
                if "$" not in c.name[len(entry.package) + 1 if entry.package else 0:]:
                    self.packages.setdefault(entry.package, {})[c.simple] = c.name
        return entry

    def remove(self, uri: str) -> None:
        with self._lock:
            self._drop(uri)

    def _drop(self, uri: str) -> None:
        old = self.files.pop(uri, None)
        if old is None:
            return
        self.member_uses.subtract(old.member_uses)
        for name in old.member_uses:
            if self.member_uses[name] <= 0:
                del self.member_uses[name]
        for c in old.classes:
            if self.classes.get(c.name) is c:
                del self.classes[c.name]
                pkg = self.packages.get(old.package, {})
                if pkg.get(c.simple) == c.name:
                    del pkg[c.simple]

    def _bind(self, entry: FileEntry) -> None:
        for c in entry.classes:
            c.names = TypeNames(self, entry, c.name)

    def scan(self, folders, limit: int = MAX_FILES) -> int:
        """Index every .java file under the folders (hidden and build folders skipped);
        files already indexed (open documents) are kept. Returns the number indexed."""
        n = 0
        for folder in folders:
            for dirpath, dirnames, filenames in os.walk(folder):
                dirnames[:] = [d for d in dirnames if d not in SKIP_DIRS and not d.startswith(".")]
                for f in filenames:
                    if f.endswith(".jar"):
                        self.add_jar(Path(dirpath, f))
                        continue
                    if not f.endswith(".java"):
                        continue
                    path = Path(dirpath, f)
                    uri = path.resolve().as_uri()
                    if uri in self.files:
                        continue
                    try:
                        self.update(uri, path.read_text("utf-8", "replace"))
                    except OSError:
                        continue
                    n += 1
                    if n >= limit:
                        return n
        return n

    def add_jar(self, path: Path) -> int:
        """The public classes of a jar's class files (a workspace's libraries); source files of
        the same classes, indexed or not, take precedence. Returns how many were added."""
        from r1lsp.java.classfile import read_jar
        try:
            infos = read_jar(path)
        except (OSError, ValueError, zipfile.BadZipFile):
            return 0
        n = 0
        with self._lock:
            for info in infos:
                if info.name in self.classes:
                    continue
                self.classes[info.name] = info
                n += 1
                pkg, _, simple = info.name.rpartition(".")
                outer, _, inner = simple.rpartition("$")
                if not outer:
                    self.packages.setdefault(pkg, {}).setdefault(simple, info.name)
            for info in infos:                                         # nested classes by simple name
                outer, _, inner = info.name.rpartition("$")
                if outer and not inner[:1].isdigit() and outer in self.classes:
                    self.classes[outer].nested.setdefault(inner, info.name)
        return n

    # ----------------------------------------------------------------- looking up
    def get(self, name: str) -> ClassInfo | None:
        got = self.classes.get(name)
        return got if got is not None else self.jdk.get(name)

    def exists(self, name: str) -> bool:
        return name in self.classes or name in self.jdk

    def package_classes(self, package: str) -> dict[str, str]:
        out = {n.rsplit(".", 1)[-1]: n for n in self.jdk.packages.get(package, ())}
        out.update(self.packages.get(package, {}))
        return out

    def is_package(self, name: str) -> bool:
        if name in self.packages or name in self.jdk.packages:
            return True
        p = name + "."
        return any(k.startswith(p) for k in self.jdk.packages) or any(k.startswith(p) for k in self.packages)

    def subpackages(self, name: str) -> set[str]:
        p = name + "." if name else ""
        out = set()
        for k in list(self.jdk.packages) + list(self.packages):
            if k.startswith(p) and len(k) > len(p):
                out.add(k[len(p):].split(".", 1)[0])
        return out


class TypeNames:
    """Resolves a type name as written in a file (inside class `context`) to a binary name:
    the enclosing classes' nested types, the file's classes, single-type imports, the package,
    wildcard imports, java.lang, then a qualified name as it stands."""

    def __init__(self, index: JavaIndex, entry: FileEntry, context: str | None):
        self.index, self.entry, self.context = index, entry, context

    def __call__(self, name: str) -> str | None:
        head, _, rest = name.partition(".")
        base = self.simple(head)
        if base is not None:
            for part in rest.split(".") if rest else ():
                info = self.index.get(base)
                nested = info.nested.get(part) if info is not None else None
                if nested is None:
                    nested = self._inherited_nested(base, part)
                if nested is None:
                    return None
                base = nested
            return base
        if not rest:
            return None
        return self.qualified(name)

    def qualified(self, name: str) -> str | None:
        parts = name.split(".")
        for i in range(len(parts), 0, -1):                 # longest package-qualified class
            cand = ".".join(parts[:i])
            if self.index.exists(cand):
                base = cand
                for part in parts[i:]:
                    base = base + "$" + part
                    if not self.index.exists(base):
                        return None
                return base
        return None

    def simple(self, name: str) -> str | None:
        idx, entry = self.index, self.entry
        ctx = self.context
        while ctx:
            info = idx.get(ctx)
            if info is not None:
                if info.simple == name:
                    return info.name
                got = info.nested.get(name) or self._inherited_nested(info.name, name)
                if got:
                    return got
            ctx = ctx.rsplit("$", 1)[0] if "$" in ctx.rsplit(".", 1)[-1] else None
        for c in entry.classes:
            if c.simple == name and "$" not in c.name.rsplit(".", 1)[-1]:
                return c.name
        if name in entry.imports:
            q = entry.imports[name]
            return self.qualified(q) or q
        got = idx.packages.get(entry.package, {}).get(name)
        if got:
            return got
        for w in entry.wildcards:
            cand = w + "." + name
            if idx.exists(cand):
                return cand
            outer = self.qualified(w)                        # import pkg.Outer.*;
            if outer and idx.exists(outer + "$" + name):
                return outer + "$" + name
        if idx.exists("java.lang." + name):
            return "java.lang." + name
        return None

    def _inherited_nested(self, binary: str, simple: str, depth: int = 0) -> str | None:
        info = self.index.get(binary)
        if info is None or depth > 6:
            return None
        for s in info.supers:
            raw = s.split("<", 1)[0].strip()
            sup = info.names(raw) if info.names is not self else None
            if sup is None or sup == binary:
                continue
            si = self.index.get(sup)
            if si is not None:
                got = si.nested.get(simple) or self._inherited_nested(sup, simple, depth + 1)
                if got:
                    return got
        return None
