"""One language-server session: its documents, settings, diagnostics, the model engine and
the long-running work (expert routing, translation) — the state behind the handlers of
`r1lsp.server`. Protocol types in, protocol types out; the logic itself lives in the modules
this one calls.

Positions: the structure layer works in UTF-16 columns; when the client negotiated UTF-8 or
UTF-32 the conversion happens here, at the edge.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import logging
import os
import re
import sys
import threading
import uuid
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams
from pygls.lsp.server import LanguageServer
from pygls.uris import from_fs_path, to_fs_path

from r1lsp import __version__, memory
from r1lsp.documents import DocumentStore, UnknownDocument
from r1lsp.engine import Engine, EngineState
from r1lsp.expert_labels import diagnostic_content, load_expert_labels, unit_hover
from r1lsp.expert_units import reader_units, unusual_units
from r1lsp.experts import ExpertMap, ExpertResults
from r1lsp.java.provider import warm_up as java_warm_up
from r1lsp.java.workspace import JavaIndex, declarations_unchanged
from r1lsp.positions import UTF16, convert_column
from r1lsp.protocol import MessageReader, R1Protocol, describe_misfit, serve, stdin_chunks, strict_converter
from r1lsp.requests import TranslateArguments
from r1lsp.pyanalysis import check_environment
from r1lsp.completion import AnalysisContext
from r1lsp.settings import SECTION, Settings, merge_settings
from model.structure import Level, StructuredDocument
from r1lsp.translate.model_fallback import make_model_fallback
from r1lsp.translate_action import TranslationPlan, inside_workspace, plan

log = logging.getLogger("r1lsp.server")

class RequestFailed(JsonRpcException):
    """LSP's RequestFailed: the request was valid but could not be done; the message says why."""

    CODE = -32803


# Expert diagnostics are computed for documents up to this size (characters).
EXPERTS_MAX_CHARS = 1_000_000


class R1LanguageServer(LanguageServer):
    """pygls server holding this session's documents and settings."""

    def __init__(self) -> None:
        converter = strict_converter()
        super().__init__("r1lsp", __version__, protocol_cls=R1Protocol, converter_factory=lambda: converter,
                         text_document_sync_kind=types.TextDocumentSyncKind.Incremental)
        self.converter = converter              # structures params and arguments (r1lsp.requests)
        # LSP: 0 after shutdown + exit, 1 for exit without shutdown (or a client gone without exit)
        self.exit_code = 1
        self._serving: asyncio.Task | None = None
        self.documents = DocumentStore()
        self.settings = Settings()
        self.engine: Engine | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self._progress_tokens = itertools.count(1)
        # Diagnostics per document, per producer ("translate", "experts"): one set per document,
        # pushed or answered to pulls (see `pulls_diagnostics`). Each change of a document's set
        # gets a new result id (unique to this process), so a pull can answer "unchanged".
        self.diagnostics: dict[str, dict[str, list[types.Diagnostic]]] = {}
        self.diagnostic_result_ids: dict[str, str] = {}
        self._result_tag = uuid.uuid4().hex[:8]
        self._result_serial = itertools.count(1)
        self._refresh_pending = False
        # Expert diagnostics: a routing map per document, the latest results, the pending refresh.
        self.expert_maps: dict[str, ExpertMap] = {}
        self.expert_results: dict[str, ExpertResults] = {}
        self.expert_tasks: dict[str, asyncio.Task] = {}
        self.expert_labels: dict[int, str] = {}
        # the units shown (class / method / function, statements by setting), for the hover
        self.expert_units: dict[str, list] = {}
        # set once the first engine exists: a document opened while `initialized` still pulls the
        # configuration is routed when the engine starts (and a pull waits for that routing)
        self.engine_started = asyncio.Event()
        # Java completion: the workspace's classes (+ the JDK's), open documents re-indexed
        # lazily (`java_index_current`) after edits, immediately on open and save.
        self.java_index = JavaIndex()
        self._java_dirty: set[str] = set()

    # -- transport (see r1lsp.protocol) -------------------------------------------------
    def report_server_error(self, error: Exception, source: Any) -> None:
        """pygls shows every failure of a notification as an "Error in server" pop-up; here
        failures are logged (the client's log), never put in front of the user."""
        log.warning("%s: %s", getattr(source, "__name__", source), error)

    def stop_reading(self) -> None:
        """``exit``: end the reading loop (the process then ends with `exit_code`)."""
        if self._serving is not None and not self._serving.done():
            self._serving.cancel()

    def _run(self, read_chunk_factory) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)

        async def main() -> None:
            self._serving = asyncio.current_task()
            reader = MessageReader(read_chunk_factory(asyncio.get_running_loop()))
            await serve(reader, self.protocol)

        try:
            loop.run_until_complete(main())
        except (asyncio.CancelledError, KeyboardInterrupt):
            pass
        finally:
            if self.protocol._shutdown and self.exit_code == 1 and not self._serving.cancelled():
                self.exit_code = 0  # shutdown, then the stream closed: a clean end
            self.shutdown_engine()

    def start_io(self, stdin=None, stdout=None) -> None:
        """Serve over stdio until ``exit`` or the end of input; returns (threads still inside
        the model are not waited for: the caller ends the process, see `r1lsp.cli`)."""
        from pygls.io_ import StdoutWriter

        self.protocol.set_writer(StdoutWriter(stdout or sys.stdout.buffer))
        self._run(lambda loop: stdin_chunks(stdin or sys.stdin.buffer, loop))

    def start_tcp(self, host: str, port: int) -> None:
        """Serve one client connected over TCP, then return."""
        connected: asyncio.Future = None  # type: ignore[assignment]

        def chunks(loop: asyncio.AbstractEventLoop):
            nonlocal connected
            connected = loop.create_future()

            async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
                if connected.done():
                    writer.close()  # one client per server
                    return
                self.protocol.set_writer(writer)
                connected.set_result(reader)

            async def read_chunk() -> bytes:
                if not connected.done():
                    self._tcp = await asyncio.start_server(on_connect, host, port)
                    log.info("serving on %s:%s", host, port)
                stream = await connected
                return await stream.read(65536)

            return read_chunk

        self._run(chunks)

    # -- edge conversions -------------------------------------------------------------
    @property
    def encoding(self) -> str:
        try:
            encoding = self.workspace.position_encoding or UTF16
        except RuntimeError:  # before initialize
            return UTF16
        return getattr(encoding, "value", encoding)

    def to_utf16(self, doc: StructuredDocument, pos: types.Position) -> tuple[int, int]:
        """A client position as (line, UTF-16 column) of ``doc``."""
        if self.encoding == UTF16:
            return pos.line, pos.character
        return pos.line, convert_column(doc.line_text(pos.line), pos.character, self.encoding, UTF16)

    def to_client_range(self, doc: StructuredDocument, start: tuple[int, int], end: tuple[int, int]) -> types.Range:
        """A UTF-16 (line, column) range of ``doc`` in the client's position encoding."""
        (sl, sc), (el, ec) = start, end
        if self.encoding != UTF16:
            sc = convert_column(doc.line_text(sl), sc, UTF16, self.encoding)
            ec = convert_column(doc.line_text(el), ec, UTF16, self.encoding)
        return types.Range(types.Position(sl, sc), types.Position(el, ec))

    # -- client capabilities ----------------------------------------------------------
    def client_resolves_code_action_edits(self) -> bool:
        action = self.client_capabilities.text_document and self.client_capabilities.text_document.code_action
        support = action and action.resolve_support
        return bool(support and "edit" in support.properties)

    def client_creates_files(self) -> bool:
        ws = self.client_capabilities.workspace
        edit = ws and ws.workspace_edit
        return bool(edit and edit.document_changes and edit.resource_operations
                    and types.ResourceOperationKind.Create in edit.resource_operations)

    def workspace_roots(self) -> list[Path]:
        roots = [Path(p) for f in self.workspace.folders.values() if (p := to_fs_path(f.uri))]
        if self.workspace.root_path:
            roots.append(Path(self.workspace.root_path))
        return roots

    # -- Java workspace index ------------------------------------------------------------
    async def scan_java_workspace(self) -> int:
        """Index every .java file of the workspace folders (in a worker thread); logs the count."""
        roots = [r for r in dict.fromkeys(self.workspace_roots()) if r.is_dir()]
        n = await asyncio.to_thread(self.java_index.scan, roots)
        await asyncio.to_thread(java_warm_up, self.java_index)
        self.window_log_message(types.LogMessageParams(types.MessageType.Log, f"r1lsp: java index: {n} workspace files"))
        return n

    def java_document_changed(self, uri: str, now: bool = False, edit: tuple | None = None) -> None:
        """Keep the Java index current: now (open, save) or before the next completion (edits;
        `edit` = (start byte, end byte, removed, inserted) of one change in the new text, which
        leaves the index as it is when it stays inside a method body)."""
        doc = self.documents.get(uri) if uri in self.documents else None
        if doc is None or doc.language != "java":
            return
        if edit is not None and uri in self.java_index.files and declarations_unchanged(doc.tree, *edit):
            return
        if now:
            self._java_dirty.discard(uri)
            self.java_index.update(uri, tree=doc.tree)
        else:
            self._java_dirty.add(uri)

    def java_index_current(self) -> JavaIndex:
        """The index with the edited documents re-read (called before a Java completion)."""
        for uri in list(self._java_dirty):
            self._java_dirty.discard(uri)
            if uri in self.documents:
                self.java_index.update(uri, tree=self.documents.get(uri).tree)
        return self.java_index

    def analysis_context(self, uri: str) -> AnalysisContext:
        """The document's path, its workspace folder and the Python interpreter for analysis."""
        path = to_fs_path(uri) if uri.startswith("file:") else None
        root = None
        if path is not None:
            try:
                roots = self.workspace_roots()
            except RuntimeError:                                        # before initialize
                roots = []
            inside = [r for r in roots if Path(path).is_relative_to(r)]
            root = str(max(inside, key=lambda r: len(r.parts))) if inside else str(Path(path).parent)
        java = uri in self.documents and self.documents.get(uri).language == "java"
        return AnalysisContext(path, root, self.settings.python.environment,
                               java_index=self.java_index_current() if java else None, uri=uri)

    # -- diagnostics ------------------------------------------------------------------
    # A client that declares pull diagnostics (textDocument.diagnostic) gets them only when it
    # asks (textDocument/diagnostic), and a workspace/diagnostic/refresh when a set changes if
    # it supports that; any other client gets them pushed (textDocument/publishDiagnostics).
    # Never both: a client that pulls keeps pulled and pushed diagnostics apart and would show
    # each one twice.
    def pulls_diagnostics(self) -> bool:
        text_document = self.client_capabilities.text_document
        return bool(text_document and text_document.diagnostic is not None)

    def client_refreshes_diagnostics(self) -> bool:
        workspace = self.client_capabilities.workspace
        return bool(workspace and workspace.diagnostics and workspace.diagnostics.refresh_support)

    def set_diagnostics(self, uri: str, producer: str, diagnostics: list[types.Diagnostic]) -> None:
        if uri not in self.documents:
            return  # closed meanwhile: a closed document has no diagnostics
        groups = self.diagnostics.setdefault(uri, {})
        groups[producer] = diagnostics
        self.diagnostic_result_ids[uri] = f"{self._result_tag}.{next(self._result_serial)}"
        if self.pulls_diagnostics():
            self.request_diagnostic_refresh()
        else:
            self.text_document_publish_diagnostics(types.PublishDiagnosticsParams(
                uri=uri, diagnostics=self.all_diagnostics(uri), version=self.documents.get(uri).version))

    def forget_diagnostics(self, uri: str) -> None:
        """The document was closed: its diagnostics go (a pulling client drops them itself)."""
        self.diagnostic_result_ids.pop(uri, None)
        if self.diagnostics.pop(uri, None) and not self.pulls_diagnostics():
            self.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=uri, diagnostics=[]))

    def all_diagnostics(self, uri: str) -> list[types.Diagnostic]:
        return [d for ds in self.diagnostics.get(uri, {}).values() for d in ds]

    def request_diagnostic_refresh(self) -> None:
        """Ask the client to pull again (once for all the changes of this event-loop turn)."""
        if self._refresh_pending or not self.client_refreshes_diagnostics():
            return
        self._refresh_pending = True
        (self.loop or asyncio.get_event_loop()).call_soon(self._send_diagnostic_refresh)

    def _send_diagnostic_refresh(self) -> None:
        self._refresh_pending = False

        def answered(future) -> None:
            if not future.cancelled() and future.exception() is not None:
                log.warning("workspace/diagnostic/refresh failed: %s", future.exception())

        self.workspace_diagnostic_refresh(None).add_done_callback(answered)

    async def diagnostic_report(self, uri: str, previous_result_id: str | None,
                                settle_timeout: float = 60.0) -> types.DocumentDiagnosticReport:
        """The answer to textDocument/diagnostic. A client that cannot be told to pull again
        (no refreshSupport) is answered once the document's pending expert routing is done, so
        that its pull after an edit brings that edit's diagnostics."""
        if not self.client_refreshes_diagnostics():
            await self._experts_settled(uri, settle_timeout)
        result_id = self.diagnostic_result_ids.setdefault(uri, f"{self._result_tag}.0")
        if previous_result_id == result_id:
            return types.RelatedUnchangedDocumentDiagnosticReport(result_id=result_id)
        return types.RelatedFullDocumentDiagnosticReport(items=self.all_diagnostics(uri), result_id=result_id)

    async def _experts_settled(self, uri: str, timeout: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        # An edit replaces the pending task: wait for whichever is pending now.
        while (task := self.expert_tasks.get(uri)) is not None and not task.done():
            left = deadline - loop.time()
            if left <= 0:
                log.info("answering a diagnostic pull for %s before its expert routing finished", uri)
                return
            await asyncio.wait({task}, timeout=left)

    # -- translation ------------------------------------------------------------------
    async def translate(self, data: Any) -> TranslationPlan:
        """Translate (off the event loop) what a code action's ``data`` / command argument names,
        then report on the Java range what was not translated by a rule."""
        try:
            args = self.converter.structure(data, TranslateArguments)
        except Exception as exc:  # noqa: BLE001 - any misfit is the client's
            raise JsonRpcInvalidParams("expected {uri: string, version?: integer, selection?: [start, end]}: "
                                       + describe_misfit(exc)) from None
        uri = args.uri
        try:
            doc = self.documents.get(uri).snapshot()
        except UnknownDocument as exc:
            raise JsonRpcInvalidParams(str(exc)) from None
        result = await asyncio.to_thread(self.plan_translation, args, doc)
        self.report_translation(uri, doc, result)
        if result.result.empty:
            raise RequestFailed(f"r1lsp translated nothing: {result.result.empty}")
        return result

    def java_path_for(self, uri: str) -> Path | None:
        """Where the .py of a document goes beside: its file; for a document that is no file
        (``untitled:``) the first workspace folder; None when there is neither."""
        path = to_fs_path(uri)
        if path:
            return Path(path)
        roots = self.workspace_roots()
        if not roots:
            return None
        name = re.sub(r"[^\w.-]+", "_", uri.rsplit("/", 1)[-1].rsplit(":", 1)[-1]).strip("._") or "Untitled"
        return roots[0] / name

    def check_target(self, target: Path) -> None:
        """The .py may be created: inside the workspace (symlinks resolved), in a writable
        folder. Checked for both write paths (the client's CreateFile, our own write)."""
        roots = self.workspace_roots()
        if not roots:
            raise RequestFailed(f"cannot create {target}: no workspace folder is open, and r1lsp writes only inside one")
        if not inside_workspace(target, roots):
            raise RequestFailed(f"cannot create {target}: it lies outside the workspace (symlinks resolved), "
                                "and r1lsp writes only inside it")
        folder = target.parent
        if not folder.is_dir():
            raise RequestFailed(f"cannot create {target}: the folder {folder} does not exist")
        if not os.access(folder, os.W_OK):
            raise RequestFailed(f"cannot create {target}: the folder {folder} is read-only")

    def plan_translation(self, args: TranslateArguments, doc: StructuredDocument) -> TranslationPlan:
        """Translate what a code action's ``data`` / command argument names (any thread)."""
        uri, selection = args.uri, args.selection
        if selection is not None:
            size = len(doc.text.encode("utf-8", "surrogatepass"))
            if not 0 <= selection[0] <= selection[1] <= size:
                raise JsonRpcInvalidParams(f"selection must be null or [start, end] byte offsets with "
                                           f"0 <= start <= end <= {size}, got {list(selection)}")
            if args.version != doc.version:
                raise JsonRpcInvalidParams("the document changed since the action was offered: ask for it again")
        java_path = self.java_path_for(uri)
        if java_path is None:
            raise RequestFailed(f"cannot translate {uri}: it is not a file and no workspace folder is open to write to")
        engine = self.engine if self.engine is not None and self.engine.state == EngineState.READY else None
        fallback = make_model_fallback(engine) if engine is not None else None
        result = plan(doc, java_path, selection, fallback=fallback)
        self.check_target(result.target)
        return result

    def report_translation(self, uri: str, doc: StructuredDocument, result: TranslationPlan) -> None:
        current = self.documents.get(uri) if uri in self.documents else None
        if current is None or current.version != doc.version:
            return  # closed or edited meanwhile: these ranges no longer name its text
        name = result.target.name
        self.set_diagnostics(uri, "translate", [
            types.Diagnostic(
                range=self.to_client_range(doc, u.start, u.end),
                message=f"r1lsp could not translate this to Python ({u.reason}); it is marked in {name}",
                severity=types.DiagnosticSeverity.Warning, source="r1lsp", code="untranslated")
            for u in result.result.untranslated
        ] + [
            types.Diagnostic(
                range=self.to_client_range(doc, m.start, m.end),
                message=f"translated by the R1 model, not by a rule: review it in {name}",
                severity=types.DiagnosticSeverity.Hint, source="r1lsp", code="model-translated")
            for m in result.result.model_translated
        ] + [
            types.Diagnostic(
                range=self.to_client_range(doc, u.start, u.end),
                message=f"{u.name} is defined neither in the selection nor in this file: marked "
                        f"'# r1lsp: undefined: {u.name}' in {name}",
                severity=types.DiagnosticSeverity.Warning, source="r1lsp", code="undefined")
            for u in result.result.undefined
        ])

    def translation_edit(self, result: TranslationPlan) -> types.WorkspaceEdit:
        target = from_fs_path(str(result.target))
        return types.WorkspaceEdit(document_changes=[
            types.CreateFile(uri=target, options=types.CreateFileOptions(overwrite=False, ignore_if_exists=False)),
            types.TextDocumentEdit(
                text_document=types.OptionalVersionedTextDocumentIdentifier(uri=target, version=None),
                edits=[types.TextEdit(range=types.Range(types.Position(0, 0), types.Position(0, 0)),
                                      new_text=result.result.python)]),
        ])

    # -- expert diagnostics -----------------------------------------------------------
    def schedule_experts(self, uri: str, *, debounce: bool = True) -> None:
        """(Re)start the debounced expert refresh of one document."""
        pending = self.expert_tasks.pop(uri, None)
        if pending is not None:
            pending.cancel()
        if not (self.settings.features.expert_diagnostics and uri in self.documents
                and (self.engine is not None or self.model_wanted())):
            return
        doc = self.documents.get(uri)
        if doc.hierarchy.fallback or len(doc.text) > EXPERTS_MAX_CHARS:
            # Huge or binary documents are mapped by lines only: routing them through the model
            # would hold the worker for minutes for diagnostics nobody reads.
            log.info("no expert diagnostics for %s (%s)", uri, doc.hierarchy.fallback or "too large")
            if self.diagnostics.get(uri, {}).get("experts"):
                self.set_diagnostics(uri, "experts", [])
            self.expert_results.pop(uri, None)
            return
        self.expert_tasks[uri] = asyncio.ensure_future(self._refresh_experts(uri, debounce))

    def forget_document_state(self, uri: str) -> None:
        """A closed document's model state: its prefix caches (keys '<uri>#...') go."""
        if self.engine is not None:
            self.engine.prefix_cache.invalidate(uri + "#")

    def drop_experts(self, uri: str) -> None:
        pending = self.expert_tasks.pop(uri, None)
        if pending is not None:
            pending.cancel()
        self.expert_maps.pop(uri, None)
        self.expert_results.pop(uri, None)
        self.expert_units.pop(uri, None)

    async def _refresh_experts(self, uri: str, debounce: bool) -> None:
        if debounce:  # typing on restarts this task: only the last edit of a burst is routed
            await asyncio.sleep(self.settings.diagnostics.debounce_ms / 1000)
        if self.engine is None:
            await self.engine_started.wait()
        engine = self.engine
        if engine is None:
            return
        if engine.state == EngineState.LOADING:
            await asyncio.get_running_loop().run_in_executor(None, engine.wait_ready, None)
        if engine is not self.engine or engine.state != EngineState.READY or uri not in self.documents:
            return
        snap = self.documents.get(uri).snapshot()
        emap = self.expert_maps.setdefault(uri, ExpertMap())
        cancel = threading.Event()
        try:
            results, _ = await asyncio.to_thread(emap.refresh, snap, None, engine, cancel=cancel)
        except asyncio.CancelledError:
            cancel.set()
            raise
        except Exception as exc:  # a routing failure costs this refresh only
            log.warning("expert routing failed for %s: %s", uri, exc)
            return
        finally:
            memory.trim()
        current = self.documents.get(uri) if uri in self.documents else None
        if current is None or not results.is_current(current):
            return  # the document moved on; its own refresh is scheduled
        self.expert_results[uri] = results
        self.publish_experts(uri)

    def publish_experts(self, uri: str) -> None:
        """One diagnostic per class / method / function (and statement by setting) on its header;
        in unusual-code mode only the units that stand out in the file."""
        results = self.expert_results.get(uri)
        if results is None or uri not in self.documents or not self.settings.features.expert_diagnostics:
            return
        doc = self.documents.get(uri)
        if not results.is_current(doc):
            return
        opts = self.settings.diagnostics
        units = reader_units(results, doc, statements=opts.sentences)
        self.expert_units[uri] = units
        if opts.mode == "unusual":
            shown = [(u, why.reason) for u, why in unusual_units(units, results.n_experts or 1)]
            shown.sort(key=lambda p: p[0].span.start_byte)
        else:
            shown = [(u, None) for u in units]
        severity = (types.DiagnosticSeverity.Information if opts.severity == "information"
                    else types.DiagnosticSeverity.Hint)
        diagnostics = []
        for unit, reason in shown:
            content = diagnostic_content(unit, self.expert_labels, reason=reason)
            diagnostics.append(types.Diagnostic(
                range=self.to_client_range(doc, *content.range),
                message=content.message,
                severity=severity,
                code=content.code,
                source=content.source,
                related_information=[
                    types.DiagnosticRelatedInformation(
                        location=types.Location(uri=uri, range=self.to_client_range(doc, *info.range)),
                        message=info.message)
                    for info in content.related
                ] or None,
                data=content.data,
            ))
        self.set_diagnostics(uri, "experts", diagnostics)

    def expert_hover(self, uri: str, position: types.Position) -> types.Hover | None:
        """The full breakdown of the unit whose header is under the cursor (None elsewhere)."""
        units = self.expert_units.get(uri)
        results = self.expert_results.get(uri)
        if not units or results is None or uri not in self.documents:
            return None
        doc = self.documents.get(uri)
        if not results.is_current(doc):
            return None
        found = unit_hover(units, self.to_utf16(doc, position), self.expert_labels, results.n_experts or 1)
        if found is None:
            return None
        text, header = found
        return types.Hover(contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value=text),
                           range=self.to_client_range(doc, *header))

    def experts_settings_changed(self) -> None:
        """Apply a settings change to every open document's expert diagnostics."""
        for uri in self.documents.uris():
            if not self.settings.features.expert_diagnostics:
                self.drop_experts(uri)
                if self.diagnostics.get(uri, {}).get("experts"):
                    self.set_diagnostics(uri, "experts", [])
            elif uri in self.expert_results:
                self.publish_experts(uri)  # severity / sentences may have changed
            else:
                self.schedule_experts(uri, debounce=False)

    # -- the model engine -----------------------------------------------------------
    def model_wanted(self) -> bool:
        f = self.settings.features
        return f.completion or f.inline_completion or f.expert_diagnostics

    def ensure_engine(self) -> None:
        """(Re)start the engine when a model feature is on and the model settings changed."""
        if not self.model_wanted():
            return
        if self.engine is not None and self.engine.settings == self.settings.model and self.engine.state != EngineState.CLOSED:
            return
        if self.engine is not None:
            self.engine.close()
        self.engine = Engine(self.settings.model, on_progress=self._engine_progress)
        self.engine.start()
        self.engine_started.set()
        asyncio.ensure_future(self._report_engine_load(self.engine))
        # Another model routes differently: forget the old routing, route every document again.
        for uri in list(self.expert_maps):
            self.drop_experts(uri)
        for uri in self.documents.uris():
            self.schedule_experts(uri, debounce=False)

    def _engine_progress(self, message: str, percent: int | None) -> None:
        """Called on the engine's thread: forward to the client on the server's loop."""
        token = getattr(self, "_load_token", None)
        if token is None or self.loop is None:
            return
        value = types.WorkDoneProgressReport(message=message, percentage=percent)
        self.loop.call_soon_threadsafe(self.work_done_progress.report, token, value)

    async def _report_engine_load(self, engine: Engine) -> None:
        token = None
        window = self.client_capabilities.window
        if window and window.work_done_progress:
            token = f"r1lsp-model-load-{next(self._progress_tokens)}"
            try:
                await self.work_done_progress.create_async(token)
                self.work_done_progress.begin(token, types.WorkDoneProgressBegin(
                    title="r1lsp: loading the R1 model", cancellable=False, percentage=0))
                self._load_token = token
            except Exception as exc:  # the client refused a progress token: load silently
                log.info("no progress token: %s", exc)
                token = None
        ready = await asyncio.get_running_loop().run_in_executor(None, engine.wait_ready, None)
        self._load_token = None
        if ready:
            done = f"R1 model ready: {engine.device}, {engine.quantization}"
        else:
            done = f"R1 model unavailable: {engine.error}"
        if token is not None:
            self.work_done_progress.end(token, types.WorkDoneProgressEnd(message=done))
        for notice in engine.notices:
            self.window_show_message(types.ShowMessageParams(types.MessageType.Warning, f"r1lsp: {notice}"))
        if engine is not self.engine:  # replaced meanwhile by a settings change
            return
        if ready:
            self.expert_labels = load_expert_labels(engine.checkpoint) if engine.checkpoint else {}
            self.window_log_message(types.LogMessageParams(types.MessageType.Info, f"r1lsp: {done}"))
            family = getattr(engine, "family", None)
            if family and family != "r1":
                cfg = engine.config
                self.window_log_message(types.LogMessageParams(types.MessageType.Info, (
                    f"r1lsp: checkpoint {engine.checkpoint.name} ({family}): {cfg.n_layers} layers, "
                    f"{cfg.n_experts} routed experts top-{cfg.n_active}, fill-in-the-middle "
                    f"{'yes' if engine.prompts.has_fim else 'no (ghost text continues the prefix)'}")))
        else:
            self.window_show_message(types.ShowMessageParams(
                types.MessageType.Error,
                f"r1lsp: {engine.error} Completions fall back to the code structure; ghost text and "
                "expert diagnostics are off until a working checkpoint is configured (r1lsp.model.path).",
            ))

    def shutdown_engine(self) -> None:
        if self.engine is not None:
            self.engine.close()
            self.engine = None

    # -- settings -------------------------------------------------------------------
    def apply_settings(self, raw: Any, origin: str) -> None:
        new, problems = merge_settings(self.settings, raw)
        env = new.python.environment
        if env != self.settings.python.environment and env is not None:
            problem = check_environment(env)
            if problem is not None:                                     # keep the interpreter in force
                problems.append(f"setting r1lsp.python.environment: {problem}; keeping "
                                f"{self.settings.python.environment or 'the server interpreter'}")
                new = dataclasses.replace(new, python=self.settings.python)
        self.settings = new
        for problem in problems:
            log.warning("%s: %s", origin, problem)
            self.window_show_message(
                types.ShowMessageParams(types.MessageType.Warning, f"r1lsp: {problem}")
            )
        logging.getLogger("r1lsp").setLevel(new.log_level.upper())
        if raw is not None:
            self.window_log_message(
                types.LogMessageParams(types.MessageType.Info, f"r1lsp: settings applied from {origin}")
            )

    async def pull_configuration(self) -> None:
        caps = self.client_capabilities.workspace
        if not (caps and caps.configuration):
            return
        try:
            result = await self.workspace_configuration_async(
                types.ConfigurationParams(items=[types.ConfigurationItem(section=SECTION)])
            )
        except Exception as exc:  # the client may refuse; keep what we have
            log.warning("workspace/configuration failed: %s", exc)
            return
        if result and result[0] is not None:
            self.apply_settings(result[0], "workspace/configuration")

