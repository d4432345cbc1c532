"""Java -> Python translation over the tree-sitter Java tree (no pygls here).

``translate_java`` walks the tree with a declared-type environment and emits a
standalone Python 3 module with Java semantics preserved (integer division and
overflow, chars, string conversion, formatting…). Constructs with no rule go to an
optional ``fallback(java_text, context)`` (the R1 model later); an answer that does
not parse is rejected and the construct is marked and reported.

Fallback hook (for the R1 model): ``fallback(java_text, context_kind[, context_text]) -> str | None``.
context_kind is "expression" (answer must pass ``ast.parse(..., mode="eval")``), "statement"
or "class member" (answer must pass ``ast.parse``). A fallback that accepts a third positional
argument (or has ``accepts_context = True``) also gets ``context_text``: the Java around the
construct (its enclosing method, else class, at most ~2000 characters); a two-argument
fallback keeps working. ``model_fallback.make_model_fallback(engine)`` builds one on the R1
engine (translation-pair prompt). An accepted answer is marked in the output with
``# r1lsp: model-translated, review: <java on one line>`` and listed in
``TranslationResult.model_translated`` (byte range, (line, UTF-16 column) positions, the Java,
the Python, the context kind) so an editor can show a Hint. Without an accepted answer the
output holds ``# r1lsp: untranslated: <java text on one line>`` and a placeholder (``pass``
for a statement/member, ``_untranslated("…")`` raising NotImplementedError when reached for
an expression), and ``TranslationResult.untranslated`` lists the construct once per byte
range with its (line, UTF-16 column) positions.

The output always passes ``ast.parse``: if the emitted module does not parse, a checked pass
re-emits it, replacing each statement (else member, else class) whose Python does not parse
by a marked placeholder reported in ``untranslated`` (reason "emitted Python did not parse").

Functional Java (``functional.py``): method references become callables, a Comparator is a
two-argument cmp function (``key=``/``reverse=True`` when sorting allows it), Optional an
inlined ``Optional`` class, streams Python iterables, collectors plain expressions; records
store components as ``_name`` with accessor methods ``name()``.
"""
from .core import ModelTranslated, TranslationResult, Untranslated
from .emit import python_file_name, translate_java

__all__ = ["translate_java", "python_file_name", "TranslationResult", "Untranslated",
           "ModelTranslated"]
