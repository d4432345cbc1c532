"""The open documents of one server: text, language and incrementally maintained structure.

Pure logic (no protocol types): the server turns LSP notifications into these calls.
Positions here are UTF-16 (LSP's default); the server converts other encodings at its edge.
This is the server's only copy of a document: pygls' workspace keeps none (`r1lsp.protocol`),
because its TextDocument splits lines with ``str.splitlines`` (also at \\v, \\f, U+2028 ...)
where LSP ends lines only at \\n, \\r\\n and \\r (tests/test_server_fuzz.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from model.structure import HierarchySpan, StructuredDocument, normalize_language


class UnknownDocument(KeyError):
    """A request or change named a document that is not open."""

    def __init__(self, uri: str):
        super().__init__(uri)
        self.uri = uri

    def __str__(self) -> str:
        return f"document not open: {self.uri}"


@dataclass
class TextChange:
    """One content change: replace the UTF-16 range [start, end) by ``text``; no range = whole text."""

    text: str
    start: tuple[int, int] | None = None
    end: tuple[int, int] | None = None


class DocumentStore:
    def __init__(self) -> None:
        self._docs: dict[str, StructuredDocument] = {}
        self._language_ids: dict[str, str] = {}
        # opens not yet closed, per document: a client that opens one file under two URI
        # spellings (one key once normalised) and closes one keeps editing the other
        self._opens: dict[str, int] = {}

    def open(self, uri: str, language_id: str, text: str, version: int) -> StructuredDocument:
        language = normalize_language(language_id or "")
        if language == "plaintext" and language_id not in ("plaintext", "text", ""):
            # An unknown languageId (or a client that sends none): the file name may still tell.
            language = normalize_language(uri)
        doc = StructuredDocument(text, language, version=version)
        self._docs[uri] = doc
        self._language_ids[uri] = language_id
        self._opens[uri] = self._opens.get(uri, 0) + 1
        return doc

    def change(self, uri: str, version: int, changes: list[TextChange]) -> list[HierarchySpan]:
        """Apply the client's changes in order; returns the paragraphs they touched."""
        doc = self.get(uri)
        touched: dict[tuple[int, int], HierarchySpan] = {}
        for change in changes:
            for span in doc.apply_change(change.text, change.start, change.end, version=version):
                touched[(span.start_byte, span.end_byte)] = span
        doc.version = version
        # Spans from an earlier change in the same batch may have moved; keep those still present.
        current = {(p.start_byte, p.end_byte) for p in doc.hierarchy.at_level(3)}
        return [s for key, s in touched.items() if key in current]

    def close(self, uri: str) -> bool:
        """Close one open of ``uri``; True when the document is gone (its last open closed)."""
        left = self._opens.get(uri, 0) - 1
        if left > 0:
            self._opens[uri] = left
            return False
        self._opens.pop(uri, None)
        self._docs.pop(uri, None)
        self._language_ids.pop(uri, None)
        return True

    def get(self, uri: str) -> StructuredDocument:
        try:
            return self._docs[uri]
        except KeyError:
            raise UnknownDocument(uri) from None

    def __contains__(self, uri: str) -> bool:
        return uri in self._docs

    def uris(self) -> list[str]:
        return list(self._docs)
