"""Diagnostics of a session: one set per document, per producer ("translate", "experts").

A client that declares pull diagnostics (textDocument.diagnostic) gets them only when it asks
(textDocument/diagnostic), and a workspace/diagnostic/refresh when a set changes if it
supports that; any other client gets them pushed (textDocument/publishDiagnostics). Never both:
a client that pulls keeps pulled and pushed diagnostics apart and would show each one twice.
Each change of a document's set gets a new result id (unique to this process), so a pull can
be answered "unchanged".
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import uuid
from typing import TYPE_CHECKING

from lsprotocol import types

if TYPE_CHECKING:
    from r1lsp.session import R1LanguageServer

log = logging.getLogger("r1lsp.server")


class DiagnosticsHub:
    def __init__(self, server: R1LanguageServer):
        self.server = server
        self.sets: dict[str, dict[str, list[types.Diagnostic]]] = {}
        self.result_ids: dict[str, str] = {}
        self._tag = uuid.uuid4().hex[:8]
        self._serial = itertools.count(1)
        self._refresh_pending = False

    # -- what the client does ------------------------------------------------------------
    def client_pulls(self) -> bool:
        text_document = self.server.client_capabilities.text_document
        return bool(text_document and text_document.diagnostic is not None)

    def client_refreshes(self) -> bool:
        workspace = self.server.client_capabilities.workspace
        return bool(workspace and workspace.diagnostics and workspace.diagnostics.refresh_support)

    # -- the sets ------------------------------------------------------------------------
    def set(self, uri: str, producer: str, diagnostics: list[types.Diagnostic]) -> None:
        documents = self.server.documents
        if uri not in documents:
            return  # closed meanwhile: a closed document has no diagnostics
        self.sets.setdefault(uri, {})[producer] = diagnostics
        self.result_ids[uri] = f"{self._tag}.{next(self._serial)}"
        if self.client_pulls():
            self.request_refresh()
        else:
            self.server.text_document_publish_diagnostics(types.PublishDiagnosticsParams(
                uri=uri, diagnostics=self.all(uri), version=documents.get(uri).version))

    def clear(self, uri: str, producer: str) -> None:
        """Empty one producer's set, if it holds anything."""
        if self.sets.get(uri, {}).get(producer):
            self.set(uri, producer, [])

    def forget(self, uri: str) -> None:
        """The document was closed: its diagnostics go (a pulling client drops them itself)."""
        self.result_ids.pop(uri, None)
        if self.sets.pop(uri, None) and not self.client_pulls():
            self.server.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=uri, diagnostics=[]))

    def all(self, uri: str) -> list[types.Diagnostic]:
        return [d for ds in self.sets.get(uri, {}).values() for d in ds]

    def report(self, uri: str, previous_result_id: str | None) -> types.DocumentDiagnosticReport:
        """The answer to textDocument/diagnostic: "unchanged" when the client has this set."""
        result_id = self.result_ids.setdefault(uri, f"{self._tag}.0")
        if previous_result_id == result_id:
            return types.RelatedUnchangedDocumentDiagnosticReport(result_id=result_id)
        return types.RelatedFullDocumentDiagnosticReport(items=self.all(uri), result_id=result_id)

    # -- refresh -------------------------------------------------------------------------
    def request_refresh(self) -> None:
        """Ask the client to pull again (once for all the changes of this event-loop turn)."""
        if self._refresh_pending or not self.client_refreshes():
            return
        self._refresh_pending = True
        (self.server.loop or asyncio.get_event_loop()).call_soon(self._send_refresh)

    def _send_refresh(self) -> None:
        self._refresh_pending = False

        def answered(future) -> None:
            if not future.cancelled() and future.exception() is not None:
                log.warning("workspace/diagnostic/refresh failed: %s", future.exception())

        self.server.workspace_diagnostic_refresh(None).add_done_callback(answered)
