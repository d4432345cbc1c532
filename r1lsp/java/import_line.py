"""Ghost text on a Java import line: the import the file still needs.

At `import java.util.` (the cursor ending the line), the file's other lines say which classes it
uses (model/structure/queries/java/type_uses.scm: type names, static calls and field reads on a
class name, annotations) and which it has already (its imports, wildcard imports, java.lang, its
own package, the classes it declares). A used class that none of these covers and whose
qualified name (the JDK index, the workspace index: r1lsp.java.workspace) starts with what the
line holds is the candidate; where the file's imports are sorted, it must fall between the import
lines above and below the cursor's; of several, the first in that order (the next missing one of a
sorted list). The rest of the line is that name's rest and `;`.
"""
from __future__ import annotations

import re
import threading

from model.structure.text_index import decode

_IMPORT_LINE = re.compile(r"\s*import(\s*)((?:[A-Za-z_$][\w$]*(?:\s*\.\s*[A-Za-z_$][\w$]*)*\s*\.?)?)")
_JDK_BY_SIMPLE: dict[int, dict[str, list[str]]] = {}
_LOCK = threading.Lock()


def _jdk_by_simple(jdk) -> dict[str, list[str]]:
    """Simple name -> the JDK's top-level classes of that name (made once per JDK index)."""
    with _LOCK:
        got = _JDK_BY_SIMPLE.get(id(jdk))
    if got is None:
        got = {}
        for package, names in jdk.packages.items():
            for name in names:
                got.setdefault(name[len(package) + 1:] if package else name, []).append(name)
        with _LOCK:
            _JDK_BY_SIMPLE[id(jdk)] = got
    return got


def used_types(tree) -> set[str]:
    """The names the file uses as types (type_uses.scm), outside its import declarations."""
    from tree_sitter import QueryCursor

    from r1lsp.java.workspace import query
    out = set()
    for nodes in QueryCursor(query("type_uses")).captures(tree.root_node).values():
        for n in nodes:
            out.add(n.text.decode("utf-8", "replace"))
    return out


def _neighbour_imports(lines: list[str], row: int) -> tuple[str | None, str | None]:
    """The qualified names of the nearest single-type import lines above and below `row`."""
    def name(i):
        m = re.match(r"\s*import\s+([\w$.]+)\s*;", lines[i])
        return m.group(1) if m and not lines[i].strip().startswith("import static") else None
    above = next((n for i in range(row - 1, -1, -1) if (n := name(i))), None)
    below = next((n for i in range(row + 1, len(lines)) if (n := name(i))), None)
    return above, below


def import_rest(doc, offset: int, index) -> str | None:
    """The rest of the import line the cursor at byte `offset` of `doc` (a Java
    StructuredDocument) ends, or None (not such a line, nothing needed, no index)."""
    from r1lsp.java.workspace import file_entry

    if doc.language != "java" or doc.tree is None or index is None:
        return None
    data = doc.data
    end = data.find(b"\n", offset)
    if data[offset:end if end >= 0 else len(data)].strip():
        return None
    start = data.rfind(b"\n", 0, offset) + 1
    m = _IMPORT_LINE.fullmatch(decode(data[start:offset]))
    if m is None or m.group(2).split(".")[0].strip() == "static" or (m.group(2) and not m.group(1)):
        return None
    typed = re.sub(r"\s+", "", m.group(2))
    entry = file_entry("", doc.tree)
    covered = {k for k, q in entry.imports.items() if q != typed} | {        # the cursor's line is no import yet
        c.name.rsplit(".", 1)[-1].rsplit("$", 1)[-1] for c in entry.classes}
    for package in ["java.lang", entry.package, *entry.wildcards]:
        covered |= set(index.package_classes(package))
    jdk = _jdk_by_simple(index.jdk)
    workspace: dict[str, list[str]] = {}
    for package, names in list(index.packages.items()):
        for simple, binary in list(names.items()):
            workspace.setdefault(simple, []).append(binary)
    cands = set()
    for name in used_types(doc.tree) - covered:
        for q in workspace.get(name, []) + jdk.get(name, []):
            if q.startswith(typed) and "$" not in q:
                cands.add(q)
    if not cands:
        return None
    row = data.count(b"\n", 0, offset)
    above, below = _neighbour_imports(doc.text.split("\n"), row)
    if above is not None and below is not None and above < below:
        between = {q for q in cands if above < q < below}
        cands = between or cands
    rest = min(cands)[len(typed):] + ";"
    return rest if m.group(1) else " " + rest                          # `import|` -> ` java.io.File;`
