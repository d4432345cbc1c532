"""Which grammar maps which language: one `Grammar` entry per language, plus its query file
`queries/<name>.scm`. Adding a language is adding an entry here and a query file; the mapping
code does not change.
"""
from __future__ import annotations

import functools
import importlib
import os
from dataclasses import dataclass
from importlib import resources

from tree_sitter import Language, Parser, Query

PLAINTEXT = "plaintext"


@dataclass(frozen=True)
class Grammar:
    name: str                    # what normalize_language returns; also the query file's stem
    module: str                  # a grammar wheel exposing language()
    language_ids: tuple[str, ...]
    extensions: tuple[str, ...]


GRAMMARS: dict[str, Grammar] = {
    g.name: g
    for g in (
        Grammar("java", "tree_sitter_java", ("java",), (".java",)),
        Grammar("python", "tree_sitter_python", ("python", "python3", "py"), (".py", ".pyi", ".pyw")),
    )
}

# The capture vocabulary the query files use (anything else in a query is ignored).
CAPTURES = ("phrase", "sentence", "paragraph", "definition.function", "definition.class", "name")


def normalize_language(language_id_or_path) -> str:
    """LSP languageId or a file path / extension -> "java" | "python" | "plaintext". Never raises."""
    try:
        key = str(language_id_or_path).strip().lower()
    except Exception:
        return PLAINTEXT
    for g in GRAMMARS.values():
        if key in g.language_ids:
            return g.name
    ext = key if key.startswith(".") and "/" not in key else os.path.splitext(key)[1]
    for g in GRAMMARS.values():
        if ext in g.extensions:
            return g.name
    return PLAINTEXT


@dataclass(frozen=True)
class LanguageSupport:
    grammar: Grammar
    language: Language
    query: Query

    def parser(self) -> Parser:
        return Parser(self.language)


@functools.cache
def language_support(name: str) -> LanguageSupport | None:
    """The parsed grammar and compiled query for a normalized language name, or None."""
    grammar = GRAMMARS.get(name)
    if grammar is None:
        return None
    language = Language(importlib.import_module(grammar.module).language())
    source = resources.files(__package__).joinpath("queries", f"{name}.scm").read_text("utf-8")
    return LanguageSupport(grammar, language, Query(language, source))
