"""Document outline: the definitions of a document (classes, methods, functions), nested.

The definitions come from the ``@definition.<kind>`` / ``@name`` captures of the language's
``tags.scm``, so adding a language adds its outline too.
Pure logic; the server maps ``OutlineEntry`` to LSP ``DocumentSymbol``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tree_sitter import QueryCursor

from model.structure import StructuredDocument
from model.structure.languages import definition_role, language_support


@dataclass
class OutlineEntry:
    name: str
    category: str  # "class" or "function"
    kind: str  # the symbol kind: the capture's <kind> (class, interface, enum, struct, method, …)
    node_type: str  # the tree-sitter node type (class_declaration, method_declaration, …)
    start_byte: int
    end_byte: int
    start: tuple[int, int]  # (line, UTF-16 column)
    end: tuple[int, int]
    name_start: tuple[int, int]
    name_end: tuple[int, int]
    children: list["OutlineEntry"] = field(default_factory=list)


def outline(doc: StructuredDocument) -> list[OutlineEntry]:
    """Definitions of ``doc`` nested by containment, in document order ([] for plain text)."""
    support = language_support(doc.language)
    if support is None or doc.tree is None:
        return []
    found: dict[tuple[int, int], OutlineEntry] = {}
    for _, captures in QueryCursor(support.query).matches(doc.tree.root_node):
        capture = next((c for c in captures if definition_role(c)), None)
        if capture is None or "name" not in captures:
            continue
        node = captures[capture][0]
        name = captures["name"][0]
        key = (node.start_byte, node.end_byte)
        if key in found:  # a decorated definition and its inner definition: keep the outer
            continue
        found[key] = OutlineEntry(
            name=name.text.decode("utf-8", "replace"),
            category=definition_role(capture),
            kind=capture.removeprefix("definition."),
            node_type=node.type,
            start_byte=node.start_byte,
            end_byte=node.end_byte,
            start=doc.position_at(node.start_byte),
            end=doc.position_at(node.end_byte),
            name_start=doc.position_at(name.start_byte),
            name_end=doc.position_at(name.end_byte),
        )
    entries = sorted(found.values(), key=lambda e: (e.start_byte, -e.end_byte))
    # Drop an inner definition that names the same thing as its decorated wrapper.
    roots: list[OutlineEntry] = []
    stack: list[OutlineEntry] = []
    for entry in entries:
        while stack and not (stack[-1].start_byte <= entry.start_byte and entry.end_byte <= stack[-1].end_byte):
            stack.pop()
        parent = stack[-1] if stack else None
        if parent is not None and parent.name == entry.name and parent.name_start == entry.name_start:
            continue
        (parent.children if parent else roots).append(entry)
        stack.append(entry)
    return roots
