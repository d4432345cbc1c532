"""Human-readable view of a hierarchy: what `r1lsp levels FILE` prints."""
from __future__ import annotations

from .hierarchy import Hierarchy, HierarchySpan, Level
from .text_index import utf8_bytes

EXCERPT_CHARS = 48


def _excerpt(data: bytes, span: HierarchySpan) -> str:
    text = data[span.start_byte:span.end_byte].decode("utf-8", "replace")
    first, _, rest = text.partition("\n")
    first = first.rstrip("\r")
    more = bool(rest) or len(first) > EXCERPT_CHARS
    return first[:EXCERPT_CHARS].replace("\t", " ") + ("…" if more else "")


def _where(span: HierarchySpan) -> str:
    (sl, sc), (el, ec) = span.start, span.end
    return f"{sl + 1}:{sc + 1}-{el + 1}:{ec + 1}"


def format_levels(h: Hierarchy, text: str) -> str:
    """An indented tree, paragraph > sentence > phrase > tokens: one unit per line with its
    1-based line:col range (columns in UTF-16 units, end exclusive), kind, name and the
    start of its text; a phrase's tokens follow on one line."""
    data = utf8_bytes(text)
    children: dict[int, list[HierarchySpan]] = {}
    for level in (Level.TOKEN, Level.PHRASE, Level.SENTENCE):
        for span in h.at_level(level):
            children.setdefault(span.parent, []).append(span)
    lines = [f"{h.language}: {h.count(Level.PARAGRAPH)} paragraphs, {h.count(Level.SENTENCE)} sentences, "
             f"{h.count(Level.PHRASE)} phrases, {h.count(Level.TOKEN)} tokens"
             + (" (has syntax errors)" if h.has_errors else "")
             + (f" [plain-text rules: {h.fallback}]" if h.fallback else "")]
    for para in h.at_level(Level.PARAGRAPH):
        name = f" {para.name}" if para.name else ""
        lines.append(f"¶ {_where(para)} {para.kind}{name}  {_excerpt(data, para)!r}")
        for sent in children.get(para.id, ()):
            lines.append(f"  § {_where(sent)} {sent.kind}  {_excerpt(data, sent)!r}")
            for phrase in children.get(sent.id, ()):
                lines.append(f"    ~ {_where(phrase)} {phrase.kind}  {_excerpt(data, phrase)!r}")
                toks = children.get(phrase.id, ())
                if len(toks) > 1 or (toks and toks[0].kind != phrase.kind):
                    lines.append("      · " + " ".join(_excerpt(data, t) for t in toks))
    return "\n".join(lines) + "\n"
