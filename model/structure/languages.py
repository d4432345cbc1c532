"""Which grammar maps which language, and the one loader of its queries.

Each language has a `Grammar` entry here and a folder `queries/<name>/`:

  structure.scm  @phrase / @sentence / @paragraph units (the mapping)
  tags.scm       @definition.<kind> + @name: classes, methods, functions (outline, paragraph names)
  locals.scm     @local.scope / @local.scope.class / @local.self and the names completion offers

and where a language has a type resolver (Java), its own queries, loaded by `language_query`:

  declarations.scm  @decl + @name + @type (@value @iterable @lambda): names with a declared type
  classes.scm       @package @import @class @field @enum_constant @method: what the workspace index keeps
  branches.scm      @branch.test @branch.chain @branch.name: the alternatives of a switch / if-else chain (ranking)

Adding a language is adding an entry and a folder; no code changes. Every capture a query
file uses must be in its vocabulary (`VOCABULARY`): a typo fails the load, not silently the
feature. Captures starting with ``_`` are a pattern's own (for predicates).
"""
from __future__ import annotations

import functools
import importlib
import os
import re
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

# definition kind (an LSP symbol kind) -> "class" (class-like) or "function" (function-like)
DEFINITION_KINDS = {"class": "class", "interface": "class", "enum": "class", "struct": "class",
                    "function": "function", "method": "function", "constructor": "function"}

VOCABULARY = {
    "structure": frozenset({"phrase", "sentence", "paragraph"}),
    "tags": frozenset({"name"} | {f"definition.{k}" for k in DEFINITION_KINDS}),
    "locals": frozenset({"local.scope", "local.scope.class", "local.self",
                         "def.class", "def.function", "def.method", "def.field", "def.parameter",
                         "def.variable", "def.import", "def.self_field",
                         "use.receiver", "use.member", "use.method", "decl.name", "decl.type"}),
    # language-specific analyses (Java's type resolver, r1lsp/java): loaded by `language_query`
    "declarations": frozenset({"decl", "decl.varargs", "decl.pattern", "name", "type", "value", "iterable", "lambda"}),
    "classes": frozenset({"package", "import", "class", "field", "enum_constant", "method"}),
    "type_uses": frozenset({"type"}),
    "branches": frozenset({"branch.test", "branch.chain", "branch.name"}),
}


class QueryError(ValueError):
    """A query file that does not fit its vocabulary."""


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
    query: Query                 # structure.scm + tags.scm
    locals: Query                # locals.scm, its scope and self patterns disabled (read into the fields below)
    scopes: frozenset[str]       # node kinds of @local.scope and @local.scope.class
    class_scopes: frozenset[str]  # node kinds of @local.scope.class
    self_names: frozenset[str]   # the names @local.self matches

    def parser(self) -> Parser:
        return Parser(self.language)


def definition_role(capture: str) -> str | None:
    """"class" / "function" for a ``definition.<kind>`` capture, else None."""
    kind = capture[len("definition."):] if capture.startswith("definition.") else None
    return DEFINITION_KINDS.get(kind) if kind else None


def query_source(language: str, name: str) -> str:
    """The text of ``queries/<language>/<name>.scm``."""
    return resources.files(__package__).joinpath("queries", language, f"{name}.scm").read_text("utf-8")


def compile_query(language: Language, source: str, where: str, vocabulary: frozenset[str] | None) -> Query:
    """The compiled query; with a vocabulary, every capture it uses must be in it."""
    query = Query(language, source)
    if vocabulary is not None:
        for i in range(query.capture_count):
            name = query.capture_name(i)
            if not name.startswith("_") and name not in vocabulary:
                raise QueryError(f"{where}: capture @{name} is not in the vocabulary ({', '.join(sorted(vocabulary))})")
    return query


_SCOPE_PATTERN = re.compile(r"^\[?(\s*\(\w+\))+\s*\]?\s*@local\.scope(\.class)?$")


def _read_locals(query: Query, source: str, where: str) -> tuple[frozenset, frozenset, frozenset]:
    """Scope kinds, class-scope kinds and self names from locals.scm's @local.* patterns, which
    are then disabled (completion's matches need only the names)."""
    data = source.encode("utf-8")
    scopes, class_scopes, selves = set(), set(), set()
    for i in range(query.pattern_count):
        text = data[query.start_byte_for_pattern(i):query.end_byte_for_pattern(i)].decode("utf-8").strip()
        if "@local.self" in text:
            selves.update(re.findall(r'"([^"]*)"', text))
        elif "@local.scope" in text:
            if not _SCOPE_PATTERN.match(text):
                raise QueryError(f"{where}: a @local.scope pattern lists node kinds only: {text!r}")
            kinds = re.findall(r"\((\w+)\)", text)
            scopes.update(kinds)
            if text.endswith(".class"):
                class_scopes.update(kinds)
        else:
            continue
        query.disable_pattern(i)
    return frozenset(scopes), frozenset(class_scopes), frozenset(selves)


@functools.cache
def language_support(name: str) -> LanguageSupport | None:
    """The parsed grammar and compiled queries for a normalized language name, or None."""
    grammar = GRAMMARS.get(name)
    if grammar is None:
        return None
    language = Language(importlib.import_module(grammar.module).language())
    structure = "\n".join(query_source(name, f) for f in ("structure", "tags"))
    query = compile_query(language, structure, f"queries/{name}/structure.scm + tags.scm",
                          VOCABULARY["structure"] | VOCABULARY["tags"])
    source = query_source(name, "locals")
    where = f"queries/{name}/locals.scm"
    local_query = compile_query(language, source, where, VOCABULARY["locals"])
    scopes, class_scopes, self_names = _read_locals(local_query, source, where)
    return LanguageSupport(grammar, language, query, local_query, scopes, class_scopes, self_names)


@functools.cache
def language_query(name: str, query: str) -> Query:
    """``queries/<name>/<query>.scm`` compiled for the language, its captures checked against
    ``VOCABULARY[query]`` (the analyses beyond structure / tags / locals: Java's resolver)."""
    support = language_support(name)
    if support is None or query not in VOCABULARY:
        raise QueryError(f"no query {query!r} for language {name!r}")
    return compile_query(support.language, query_source(name, query), f"queries/{name}/{query}.scm", VOCABULARY[query])
