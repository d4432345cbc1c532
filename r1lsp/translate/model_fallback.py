"""The model as the translator's fallback for constructs with no rule.

``make_model_fallback(engine)`` returns ``fallback(java_text, context_kind, context_text="")``
for ``translate_java(..., fallback=...)``. The prompt comes from ``engine.prompts``
(model.prompts): for r1-tiny the translation-pair format of ``model.data.format_translation_pair``
without its answer::

    <|lang:java|> [context_text "\\n"] java_text <|translate|> <|lang:python|>

for a public checkpoint its chat template asking for the Python in a fenced block (the answer's
code block is kept, any <think> part dropped). ``context_text`` is the surrounding Java (the
enclosing method, truncated to ``max_context_chars`` from its end nearest the construct).
Generation is greedy and stops at the format's stop strings (r1: ``<|endoftext|>``, ``<|sep|>``
or a blank line; a checkpoint: its end-of-sequence tokens). The answer is returned as text; the translator
keeps it only if it parses (``ast.parse``, ``mode="eval"`` for an expression) and then marks
it ``# r1lsp: model-translated, review: …`` and lists it in
``TranslationResult.model_translated``. ``None`` (no answer) when the engine is not ready, the
generation fails or times out, or the answer is empty.
"""
from __future__ import annotations

import ast
from typing import Callable

def _cut(text: str, stops) -> str:
    for s in stops:
        k = text.find(s)
        if k >= 0:
            text = text[:k]
    return text.strip("\n").rstrip()


def make_model_fallback(engine, *, max_new_tokens: int = 96, timeout: float = 10.0,
                        max_context_chars: int = 1500) -> Callable[..., str | None]:
    """A translator fallback that asks the R1 model (``r1lsp.engine`` API) for one construct."""

    def fallback(java_text: str, context_kind: str, context_text: str = "") -> str | None:
        prompts = getattr(engine, "prompts", None)
        if getattr(engine, "state", None) != "ready" or prompts is None:
            return None
        ctx = (context_text or "").strip()
        if ctx == java_text.strip():
            ctx = ""
        if len(ctx) > max_context_chars:
            ctx = ctx[-max_context_chars:]
        body = (ctx + "\n" if ctx else "") + java_text
        try:
            ids = prompts.translation(engine.encode, body)
            fut = engine.submit_generate(None, ids, None, max_new_tokens=max_new_tokens,
                                         stop_strings=tuple(prompts.translation_stops))
        except Exception:  # a broken model must not break the translation
            return None
        try:
            res = fut.result(timeout=timeout)
        except Exception:  # too slow (cancelled so it does not hold the engine) or failed
            try:
                fut.cancel()
            except Exception:
                pass
            return None
        text = prompts.translation_answer(_cut(getattr(res, "text", "") or "", prompts.translation_stops))
        if not text.strip():
            return None
        if context_kind == "expression":
            text = text.strip()
            # a model may end an expression with ';' or a trailing newline of statements
            text = text.rstrip(";").strip()
        try:
            ast.parse(text, mode="eval" if context_kind == "expression" else "exec")
        except SyntaxError:
            return None
        return text

    fallback.accepts_context = True  # type: ignore[attr-defined]
    return fallback
