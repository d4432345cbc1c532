"""Expert diagnostics of a session: when each open document is routed, and what is shown.

Per document a routing map (`r1lsp.experts.ExpertMap`, incremental), the latest results and
the pending refresh (debounced: typing on restarts it, so only the last edit of a burst is
routed); the results become one diagnostic per class / method / function (and statement by
setting) and the hover on their headers.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from lsprotocol import types

from r1lsp import memory
from r1lsp.engine import EngineState
from r1lsp.expert_labels import diagnostic_content, unit_hover
from r1lsp.expert_units import reader_units, unusual_units
from r1lsp.experts import ExpertMap, ExpertResults
from r1lsp.foreground import after_lists

if TYPE_CHECKING:
    from r1lsp.session import R1LanguageServer

log = logging.getLogger("r1lsp.server")

# Expert diagnostics are computed for documents up to this size (characters).
EXPERTS_MAX_CHARS = 1_000_000


class ExpertScheduler:
    def __init__(self, server: R1LanguageServer):
        self.server = server
        self.maps: dict[str, ExpertMap] = {}
        self.results: dict[str, ExpertResults] = {}
        self.tasks: dict[str, asyncio.Task] = {}
        self.labels: dict[int, str] = {}
        self.units: dict[str, list] = {}        # the units shown, for the hover
        # A refresh blocks its thread until the model has routed every changed paragraph (seconds
        # for a newly opened file): on threads of its own, so that it never holds the default
        # executor's few threads that completion lists and ghost text need.
        self.pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="r1lsp-experts")

    def schedule(self, uri: str, *, debounce: bool = True) -> None:
        """(Re)start the debounced expert refresh of one document."""
        ls = self.server
        pending = self.tasks.pop(uri, None)
        if pending is not None:
            pending.cancel()
        if not (ls.settings.features.expert_diagnostics and uri in ls.documents
                and (ls.engine is not None or ls.model_wanted())):
            return
        doc = ls.documents.get(uri)
        if doc.fallback or len(doc.text) > EXPERTS_MAX_CHARS:
            # Huge or binary documents are mapped by lines only: routing them through the model
            # would hold the worker for minutes for diagnostics nobody reads.
            log.info("no expert diagnostics for %s (%s)", uri, doc.fallback or "too large")
            ls.diagnostics.clear(uri, "experts")
            self.results.pop(uri, None)
            return
        self.tasks[uri] = asyncio.ensure_future(self._refresh(uri, debounce))

    def drop(self, uri: str) -> None:
        pending = self.tasks.pop(uri, None)
        if pending is not None:
            pending.cancel()
        self.maps.pop(uri, None)
        self.results.pop(uri, None)
        self.units.pop(uri, None)

    def stop(self) -> None:
        """Cancel every pending refresh (the engine is about to close)."""
        for uri in list(self.tasks):
            self.tasks.pop(uri).cancel()

    def engine_replaced(self) -> None:
        """Another model routes differently: forget the old routing, route every document again."""
        for uri in list(self.maps):
            self.drop(uri)
        for uri in self.server.documents.uris():
            self.schedule(uri, debounce=False)

    def settings_changed(self) -> None:
        """Apply a settings change to every open document's expert diagnostics."""
        ls = self.server
        for uri in ls.documents.uris():
            if not ls.settings.features.expert_diagnostics:
                self.drop(uri)
                ls.diagnostics.clear(uri, "experts")
            elif uri in self.results:
                self.publish(uri)  # severity / sentences may have changed
            else:
                self.schedule(uri, debounce=False)

    async def settled(self, uri: str, timeout: float) -> None:
        """Wait (at most `timeout` s) until the document's pending routing is done."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        # An edit replaces the pending task: wait for whichever is pending now.
        while (task := self.tasks.get(uri)) is not None and not task.done():
            left = deadline - loop.time()
            if left <= 0:
                log.info("answering a diagnostic pull for %s before its expert routing finished", uri)
                return
            await asyncio.wait({task}, timeout=left)

    async def _refresh(self, uri: str, debounce: bool) -> None:
        ls = self.server
        if debounce:  # typing on restarts this task: only the last edit of a burst is routed
            await asyncio.sleep(ls.settings.diagnostics.debounce_ms / 1000)
        if ls.engine is None:
            await ls.engine_started.wait()
        engine = ls.engine
        if engine is None:
            return
        if engine.state == EngineState.LOADING:
            await asyncio.get_running_loop().run_in_executor(self.pool, engine.wait_ready, None)
        if engine is not ls.engine or engine.state != EngineState.READY or uri not in ls.documents:
            return
        snap = ls.documents.get(uri).snapshot()
        emap = self.maps.setdefault(uri, ExpertMap())
        cancel = threading.Event()
        try:
            results, _ = await asyncio.get_running_loop().run_in_executor(
                self.pool, functools.partial(after_lists, emap.refresh, snap, None, engine, cancel=cancel))
        except asyncio.CancelledError:
            cancel.set()
            raise
        except Exception as exc:  # a routing failure costs this refresh only
            if engine.state is EngineState.CLOSED:                    # shutdown or a model swap
                log.debug("expert routing of %s stopped: the engine closed", uri)
            else:
                log.warning("expert routing failed for %s: %s", uri, exc)
            return
        finally:
            memory.trim()
        current = ls.documents.get(uri) if uri in ls.documents else None
        if current is None or not results.is_current(current):
            return  # the document moved on; its own refresh is scheduled
        self.results[uri] = results
        self.publish(uri)

    def publish(self, uri: str) -> None:
        """One diagnostic per class / method / function (and statement by setting) on its header;
        in unusual-code mode only the units that stand out in the file."""
        ls = self.server
        results = self.results.get(uri)
        if results is None or uri not in ls.documents or not ls.settings.features.expert_diagnostics:
            return
        doc = ls.documents.get(uri)
        if not results.is_current(doc):
            return
        opts = ls.settings.diagnostics
        units = reader_units(results, doc, statements=opts.sentences)
        self.units[uri] = units
        if opts.mode == "unusual":
            shown = [(u, why.reason) for u, why in unusual_units(units, results.n_experts or 1)]
            shown.sort(key=lambda p: p[0].span.start_byte)
        else:
            shown = [(u, None) for u in units]
        severity = (types.DiagnosticSeverity.Information if opts.severity == "information"
                    else types.DiagnosticSeverity.Hint)
        diagnostics = []
        for unit, reason in shown:
            content = diagnostic_content(unit, self.labels, reason=reason)
            diagnostics.append(types.Diagnostic(
                range=ls.to_client_range(doc, *content.range),
                message=content.message,
                severity=severity,
                code=content.code,
                source=content.source,
                related_information=[
                    types.DiagnosticRelatedInformation(
                        location=types.Location(uri=uri, range=ls.to_client_range(doc, *info.range)),
                        message=info.message)
                    for info in content.related
                ] or None,
                data=content.data,
            ))
        ls.diagnostics.set(uri, "experts", diagnostics)

    def hover(self, uri: str, position: types.Position) -> types.Hover | None:
        """The full breakdown of the unit whose header is under the cursor (None elsewhere)."""
        ls = self.server
        units = self.units.get(uri)
        results = self.results.get(uri)
        if not units or results is None or uri not in ls.documents:
            return None
        doc = ls.documents.get(uri)
        if not results.is_current(doc):
            return None
        found = unit_hover(units, ls.to_utf16(doc, position), self.labels, results.n_experts or 1)
        if found is None:
            return None
        text, header = found
        return types.Hover(contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value=text),
                           range=ls.to_client_range(doc, *header))
