"""Java -> Python translation over the tree-sitter Java tree (no pygls here).

``translate_java`` walks the tree with a declared-type environment and emits a
standalone Python 3 module with Java semantics preserved (integer division and
overflow, chars, string conversion, formatting…). Constructs with no rule go to an
optional ``fallback(java_text, context)`` (the R1 model later); an answer that does
not parse is rejected and the construct is marked and reported.

Fallback hook (for the R1 model): ``fallback(java_text, context) -> str | None`` where
context is "expression" (answer must pass ``ast.parse(..., mode="eval")``), "statement"
or "class member" (answer must pass ``ast.parse``). Without an accepted answer the output
holds ``# r1lsp: untranslated: <java text on one line>`` and a placeholder (``pass`` for a
statement/member, ``_untranslated("…")`` raising NotImplementedError when reached for an
expression), and ``TranslationResult.untranslated`` lists the construct with its byte range
and (line, UTF-16 column) positions.
"""
from .core import TranslationResult, Untranslated
from .emit import python_file_name, translate_java

__all__ = ["translate_java", "python_file_name", "TranslationResult", "Untranslated"]
