"""The "Translate Java → Python" code action, as pure logic: what to offer, and what to write.

The server offers one action for the selection (or the method / class at the cursor) and one
for the whole file; either produces ``<Name>.py`` beside the Java source (``<Name>_1.py`` …
when taken). The Java source is never changed, and nothing is written outside the workspace.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from r1lsp.outline import OutlineEntry, outline
from model.structure import StructuredDocument
from r1lsp.translate import TranslationResult, python_file_name, translate_java

TITLE = "Translate Java → Python"


@dataclass
class TranslateOffer:
    title: str
    selection: tuple[int, int] | None  # byte range; None = the whole file


@dataclass
class TranslationPlan:
    target: Path  # the new .py file
    result: TranslationResult


def _innermost(entries: list[OutlineEntry], offset: int) -> OutlineEntry | None:
    for entry in entries:
        if entry.start_byte <= offset < entry.end_byte:
            return _innermost(entry.children, offset) or entry
    return None


def offers(doc: StructuredDocument, start_byte: int, end_byte: int) -> list[TranslateOffer]:
    """The translate actions for a selection [start_byte, end_byte) of a Java document."""
    if doc.language != "java":
        return []
    found: list[TranslateOffer] = []
    if end_byte > start_byte:
        found.append(TranslateOffer(f"{TITLE}: selection", (start_byte, end_byte)))
    else:
        unit = _innermost(outline(doc), start_byte)
        if unit is not None:
            what = "class" if unit.category == "class" else "method"
            found.append(TranslateOffer(f"{TITLE}: {what} {unit.name}", (unit.start_byte, unit.end_byte)))
    found.append(TranslateOffer(f"{TITLE}: whole file", None))
    return found


def plan(doc: StructuredDocument, java_path: Path, selection: tuple[int, int] | None,
         exists: Callable[[str], bool] = os.path.lexists,
         fallback: Callable[[str, str], str | None] | None = None) -> TranslationPlan:
    from r1lsp.translate.workspace import java_context
    context = java_context([java_path.parent], exclude=java_path)  # its package's other files
    result = translate_java(doc.text, selection=selection, fallback=fallback, context=context)
    return TranslationPlan(Path(python_file_name(str(java_path), exists)), result)


def inside_workspace(path: Path, roots: list[Path]) -> bool:
    """True when ``path`` lies under one of the workspace ``roots`` (symlinks resolved)."""
    target = path.resolve()
    return any(target.is_relative_to(root.resolve()) for root in roots)
