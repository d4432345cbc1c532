"""One language-server session: transport, documents, settings, the model engine's life and
the Java index, with one object per long-running job: `diagnostics` (r1lsp.diagnostics_hub),
`experts` (r1lsp.expert_scheduler), `translations` (r1lsp.translation_writer). The state
behind the handlers of `r1lsp.server`; the logic lives in the modules these call.

Positions: the structure layer works in UTF-16 columns; when the client negotiated UTF-8 or
UTF-32 the conversion happens here, at the edge (`to_utf16`, `to_client_range`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import itertools
import logging
import os
import sys
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.uris import to_fs_path

from r1lsp import __version__, memory
from r1lsp.completion import AnalysisContext
from r1lsp.completion_candidates import prepare, prepare_names, start_analysis
from r1lsp.diagnostics_hub import DiagnosticsHub
from r1lsp.documents import DocumentStore, TextChange
from r1lsp.engine import Engine, EngineState
from r1lsp.expert_labels import load_expert_labels
from r1lsp.expert_scheduler import ExpertScheduler
from r1lsp.foreground import after_lists, start_workers, yield_to_lists
from r1lsp.inline import TypedAhead, inline_suggestions
from r1lsp.inline_context import CrossFileContext, RecentEdits, edit_snippets
from r1lsp.line_retrieval import sibling_texts, workspace_source
from r1lsp.workspace_lines import WorkspaceLines
from r1lsp.java.provider import warm_up as java_warm_up
from r1lsp.java.workspace import JavaIndex, declarations_unchanged
from r1lsp.positions import UTF16, convert_column
from r1lsp.protocol import MessageReader, R1Protocol, serve, stdin_chunks, strict_converter
from r1lsp.pyanalysis import check_environment, drop_queued_elsewhere
from r1lsp.settings import SECTION, Settings, merge_settings
from r1lsp.translation_writer import TranslationWriter
from model.structure import StructuredDocument
from model.structure.text_index import utf16_len

log = logging.getLogger("r1lsp.server")

RETRIEVAL_FILES = 4       # other open documents whose lines ghost text may copy (`retrieval_sources`)


@dataclasses.dataclass
class GhostRun:
    """Ghost text being computed for one document version and position (`ghost_text`)."""
    version: int
    position: tuple[int, int]                # (line, UTF-16 column)
    future: Future                           # Future[list[InlineSuggestion]]
    cancel: threading.Event
    asked: threading.Event                   # a request joined it: lists no longer go first

    def pause(self) -> None:
        """Before the model and each token of a run nobody asked for yet: wait while a
        completion list is being made (r1lsp.foreground)."""
        if not self.asked.is_set():
            yield_to_lists()


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
        # the jobs of a session, each one object: diagnostics (pushed or pulled, with result
        # ids), expert routing and its diagnostics, translation to .py files
        self.diagnostics = DiagnosticsHub(self)
        self.experts = ExpertScheduler(self)
        self.translations = TranslationWriter(self)
        # ghost text runs on threads of its own: a keystroke's request never queues behind
        # completion lists or jedi waits in the default executor
        self.inline_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="r1lsp-inline")
        self.typed_ahead = TypedAhead()          # the ghost text shown per document (typing its start)
        self.inline_asked: set[str] = set()      # documents whose ghost text the client asked for
        self.ghost_runs: dict[str, GhostRun] = {}  # the ghost text being computed, per document
        self._ghost_lock = threading.Lock()
        self.cross_file = CrossFileContext()      # other files' signatures in the ghost-text prompt
        self.recent_edits = RecentEdits()         # where each document was edited last
        # set once the first engine exists: a document opened while `initialized` still pulls the
        # configuration is routed when the engine starts (and a pull waits for that routing)
        self.engine_started = asyncio.Event()
        # Java completion: the workspace's classes (+ the JDK's), open documents re-indexed
        # lazily (`java_index_current`) after edits, immediately on open and save.
        self.java_index = JavaIndex()
        # ghost text's retrieval: the code lines of the workspace's files (scanned on initialized,
        # files re-read on save and close)
        self.workspace_lines = WorkspaceLines()
        self._java_dirty: set[str] = set()
        # completion lists run on threads of their own: the default executor's threads can all be
        # held by ghost text and expert routing waiting on the model (a list then waited seconds)
        self.list_executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="r1lsp-list")
        # work started ahead of a list (on open, after a typed `.`) never takes a list's thread
        self.prepare_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="r1lsp-prepare")
        self._lists_from_names: set[str] = set()    # documents whose last list was the file's names

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
    async def scan_workspace_lines(self) -> int:
        """Index the code lines of the workspace folders' files for ghost text (a worker thread)."""
        roots = [str(r) for r in dict.fromkeys(self.workspace_roots()) if r.is_dir()]
        n = await asyncio.to_thread(self.workspace_lines.scan, roots)
        self.window_log_message(types.LogMessageParams(types.MessageType.Log, f"r1lsp: workspace lines: {n} files"))
        return n

    def workspace_file_changed(self, uri: str) -> None:
        """Re-read a workspace file's lines from disk (saved, or closed with its edits dropped)."""
        path = self.path_of(uri)
        if path is not None and len(self.workspace_lines):
            self.workspace_lines.update(os.path.realpath(path))

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

    @staticmethod
    def path_of(uri: str) -> str | None:
        """The file path of a document ('file:' URIs), else None."""
        return to_fs_path(uri) if uri.startswith("file:") else None

    def analysis_context(self, uri: str) -> AnalysisContext:
        """The document's path, its workspace folder and the Python interpreter for analysis."""
        path = self.path_of(uri)
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
                               java_index=self.java_index_current() if java else None, uri=uri,
                               budget_s=self.settings.python.analysis_budget_ms / 1000)

    def prepare_completion(self, uri: str, typed: TextChange | None = None) -> None:
        """Start, on a thread of its own, what the next completion list at `uri` needs: on open
        (`typed` None) the analysis' parse and the file's names; after typing a `.`, the members
        there."""
        if not self.settings.features.completion or uri not in self.documents:
            return
        cursor = None
        if typed is not None:
            if uri in self._lists_from_names:
                # the last list here was the file's names (its analysis still pending): the edited
                # text's names are made now, while the next list waits out its analysis budget
                self.prepare_executor.submit(prepare_names, self.documents.get(uri).snapshot())
            if typed.start is None or not typed.text.endswith(".") or "\n" in typed.text:
                return
            cursor = (typed.start[0], typed.start[1] + utf16_len(typed.text))
        snap, ctx = self.documents.get(uri).snapshot(), self.analysis_context(uri)
        start_analysis(snap, ctx)
        self.prepare_executor.submit(prepare, snap, ctx, cursor, typed is None)

    def completion_answered(self, uri: str, from_names: bool) -> None:
        """Note whether a list at `uri` had to answer with the file's names (see `prepare_completion`)."""
        if from_names:
            self._lists_from_names.add(uri)
        else:
            self._lists_from_names.discard(uri)

    def start_workers(self) -> None:
        """The threads of the session's executors, started before the first requests need them."""
        for pool in (self.list_executor, self.prepare_executor, self.inline_pool, self.experts.pool):
            start_workers(pool, pool._max_workers)

    async def freeze_after(self, warm_ups: list) -> None:
        """Once the warm-ups are done, freeze the start-up heap (`memory.freeze_startup_heap`)."""
        await asyncio.gather(*warm_ups, return_exceptions=True)
        frozen = await asyncio.get_running_loop().run_in_executor(None, memory.freeze_startup_heap)
        memory.collect_when_idle()
        log.info("start-up heap frozen: %d objects out of the cyclic collector's reach; full collections "
                 "when idle %.0f s", frozen, memory.IDLE_COLLECT_S)

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
        self.experts.engine_replaced()

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
            self.experts.labels = load_expert_labels(engine.checkpoint) if engine.checkpoint else {}
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

    def forget_document_state(self, uri: str) -> None:
        """A closed document's model state: its prefix caches (keys '<uri>#...') go."""
        if self.engine is not None:
            self.engine.cancel(f"{uri}#inline#prefix#fill")               # a prompt fill not run yet
            self.engine.prefix_cache.invalidate(uri + "#")
        self.typed_ahead.forget(f"{uri}#inline")
        self.inline_asked.discard(uri)
        self._lists_from_names.discard(uri)
        with self._ghost_lock:
            run = self.ghost_runs.pop(uri, None)
        if run is not None:
            run.cancel.set()
        self.cross_file.forget(uri)
        self.recent_edits.forget(uri)

    def ghost_context(self, uri: str) -> dict:
        """The ghost-text prompt's context arguments for a document (`r1lsp.inline.ghost_prompt`)."""
        if not self.settings.inline.cross_file_context:
            return {"context": self.analysis_context(uri)}
        doc = self.documents.get(uri)
        return {"context": self.analysis_context(uri), "cross_file": self.cross_file,
                "snippets": edit_snippets(self.documents, uri, doc.language, self.recent_edits)}

    def retrieval_sources(self, uri: str, language: str):
        """(A function giving the texts ghost text may copy lines from besides the document's,
        a function giving the workspace's lines by first token or None) (r1lsp.line_retrieval):
        the other open documents of `language` edited last (at most `RETRIEVAL_FILES`, taken
        now) and the other files of its folder on disk (read when called, on the ghost-text
        thread; the document's own file never: the editor's text is the document); then the
        workspace's other files (r1lsp.workspace_lines) without those."""
        out, taken_paths = [], set()
        for other, _ in self.recent_edits.others(uri):
            doc = self.documents.get(other) if other in self.documents else None
            if doc is not None and doc.language == language:
                out.append(doc.text)
                if (other_path := self.path_of(other)) is not None:
                    taken_paths.add(other_path)                         # its editor text, not the file's
                if len(out) == RETRIEVAL_FILES:
                    break
        path = self.path_of(uri)
        taken = tuple(out)
        if path is None:
            return (lambda: taken), None
        skip = frozenset(taken_paths)
        return ((lambda: taken + sibling_texts(path, language, skip)),
                workspace_source(self.workspace_lines, path, language, skip))

    def retrieval_arguments(self, uri: str, language: str, on: bool) -> dict:
        """`inline_suggestions`' other_texts / workspace_lines for a document (`retrieval_sources`)."""
        if not on:
            return {}
        texts, workspace = self.retrieval_sources(uri, language)
        return {"other_texts": texts, "workspace_lines": workspace}

    def ghost_text(self, uri: str, snap: StructuredDocument, line: int, character: int,
                   background: bool = False) -> GhostRun:
        """The ghost text at (line, UTF-16 character) of `snap` (a snapshot of the open document
        `uri`) being computed on the ghost-text threads: the run started on the edit that made
        this version, when it is for this position (`warm_ghost_text`), else a new one. Either
        way the runs of other positions and documents stop (the user is here now). A
        `background` run (nobody asked yet) starts once no completion list is in flight
        (r1lsp.foreground)."""
        with self._ghost_lock:
            run = self.ghost_runs.get(uri)
            if run is not None and run.version == snap.version and run.position == (line, character) \
                    and not run.cancel.is_set():
                if not background:
                    run.asked.set()
                return run
            for other in self.ghost_runs.values():
                other.cancel.set()
            self.ghost_runs.clear()
            run = GhostRun(snap.version, (line, character), None, threading.Event(), threading.Event())
            if not background:
                run.asked.set()
            inline = self.settings.inline
            start = functools.partial(after_lists, inline_suggestions) if background else inline_suggestions
            run.future = self.inline_pool.submit(functools.partial(
                start, snap, line, character, self.engine, max_tokens=self.settings.model.max_tokens,
                cancel=run.cancel, key=f"{uri}#inline", min_confidence=inline.min_confidence, monitor=inline.monitor,
                typed_ahead=self.typed_ahead, pause=run.pause, retrieval=inline.retrieval,
                **self.retrieval_arguments(uri, snap.language, inline.retrieval),
                **self.ghost_context(uri)))
            self.ghost_runs[uri] = run
            return run

    def stop_ghost_text_elsewhere(self, uri: str) -> None:
        """A document was opened: ghost text that nobody asked for yet (`warm_ghost_text`) at
        other documents stops, as a request here would stop it, instead of holding the CPU while
        this document's first list is made (bench/lsp_latency.py: a warm run at the document
        left, 240 ms of model work, overlapped the next document's first list: 198 ms); so do
        jedi's answers asked there and not started (`pyanalysis.drop_queued_elsewhere`)."""
        with self._ghost_lock:
            for other in [u for u, run in self.ghost_runs.items() if u != uri and not run.asked.is_set()]:
                self.ghost_runs.pop(other).cancel.set()
        drop_queued_elsewhere(self.path_of(uri))

    def warm_ghost_text(self, uri: str, offset: int) -> None:
        """After an edit ending at byte `offset` (where the cursor then is): start the ghost text
        there while the client gets ready to ask, so that its request joins the run (only for
        documents whose ghost text the client asked for)."""
        engine = self.engine
        if (uri not in self.inline_asked or not self.settings.features.inline_completion or engine is None
                or engine.state != EngineState.READY or uri not in self.documents):
            return
        snap = self.documents.get(uri).snapshot()
        self.ghost_text(uri, snap, *snap.position_at(offset), background=True)

    def shutdown_engine(self) -> None:
        self.experts.stop()
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
