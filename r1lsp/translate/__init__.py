"""Java -> Python translation over the tree-sitter Java tree (no pygls here).

``translate_java`` walks the tree with a declared-type environment and emits a
standalone Python 3 module with Java semantics preserved (integer division and
overflow, chars, string conversion, formatting…). Constructs with no rule go to an
optional ``fallback(java_text, context)`` (the R1 model later); an answer that does
not parse is rejected and the construct is marked and reported.
"""
from .core import TranslationResult, Untranslated
from .emit import python_file_name, translate_java

__all__ = ["translate_java", "python_file_name", "TranslationResult", "Untranslated"]
