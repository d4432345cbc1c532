"""The language server: wires LSP (pygls 2 + lsprotocol) to r1lsp's pure logic.

Each handler takes the protocol's params, calls a logic module (documents, structure, outline,
settings, …) and returns lsprotocol types. No feature logic lives here.

Positions: the structure layer works in UTF-16 columns; when the client negotiated UTF-8 or
UTF-32 the conversion happens here, at the edge.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import threading
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams
from pygls.lsp.server import LanguageServer
from pygls.uris import from_fs_path, to_fs_path

from r1lsp import __version__
from r1lsp.completion import CompletionCandidate, complete
from r1lsp.documents import DocumentStore, TextChange, UnknownDocument
from r1lsp.engine import Engine
from r1lsp.expert_labels import diagnostic_content, experts_json, load_expert_labels
from r1lsp.experts import ExpertMap, ExpertResults
from r1lsp.inline import inline_suggestions
from r1lsp.translate.model_fallback import make_model_fallback
from r1lsp.translate_action import TranslationPlan, inside_workspace, offers, plan
from r1lsp.outline import OutlineEntry, outline
from r1lsp.positions import UTF16, convert_column
from r1lsp.settings import SECTION, Settings, merge_settings, settings_to_dict
from r1lsp.structure import Level, StructuredDocument

log = logging.getLogger("r1lsp.server")

LEVELS_REQUEST = "r1lsp/levels"
SETTINGS_REQUEST = "r1lsp/settings"
EXPERTS_REQUEST = "r1lsp/experts"
TRANSLATE_COMMAND = "r1lsp.translateToPython"

_COMPLETION_KINDS = {
    "keyword": types.CompletionItemKind.Keyword,
    "variable": types.CompletionItemKind.Variable,
    "parameter": types.CompletionItemKind.Variable,
    "field": types.CompletionItemKind.Field,
    "method": types.CompletionItemKind.Method,
    "function": types.CompletionItemKind.Function,
    "class": types.CompletionItemKind.Class,
    "module": types.CompletionItemKind.Module,
    "model": types.CompletionItemKind.Text,
}

_SYMBOL_KINDS = {
    "class_declaration": types.SymbolKind.Class,
    "class_definition": types.SymbolKind.Class,
    "record_declaration": types.SymbolKind.Struct,
    "interface_declaration": types.SymbolKind.Interface,
    "enum_declaration": types.SymbolKind.Enum,
    "method_declaration": types.SymbolKind.Method,
    "constructor_declaration": types.SymbolKind.Constructor,
    "function_definition": types.SymbolKind.Function,
    "decorated_definition": types.SymbolKind.Function,
    "field_declaration": types.SymbolKind.Field,
}


class R1LanguageServer(LanguageServer):
    """pygls server holding this session's documents and settings."""

    def __init__(self) -> None:
        super().__init__("r1lsp", __version__, text_document_sync_kind=types.TextDocumentSyncKind.Incremental)
        self.documents = DocumentStore()
        self.settings = Settings()
        self.engine: Engine | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self._progress_tokens = itertools.count(1)
        # Diagnostics per document, per producer ("translate", "experts"): published as one set.
        self.diagnostics: dict[str, dict[str, list[types.Diagnostic]]] = {}
        # Expert diagnostics: a routing map per document, the latest results, the pending refresh.
        self.expert_maps: dict[str, ExpertMap] = {}
        self.expert_results: dict[str, ExpertResults] = {}
        self.expert_tasks: dict[str, asyncio.Task] = {}
        self.expert_labels: dict[int, str] = {}

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

    # -- diagnostics ------------------------------------------------------------------
    def set_diagnostics(self, uri: str, producer: str, diagnostics: list[types.Diagnostic]) -> None:
        groups = self.diagnostics.setdefault(uri, {})
        groups[producer] = diagnostics
        self.text_document_publish_diagnostics(
            types.PublishDiagnosticsParams(uri=uri, diagnostics=[d for ds in groups.values() for d in ds]))

    def all_diagnostics(self, uri: str) -> list[types.Diagnostic]:
        return [d for ds in self.diagnostics.get(uri, {}).values() for d in ds]

    # -- translation ------------------------------------------------------------------
    async def translate(self, args: Any) -> TranslationPlan:
        """Translate (off the event loop) what a code action's ``data`` / command argument names,
        then report on the Java range what was not translated by a rule."""
        uri = _field(args, "uri")
        try:
            doc = self.documents.get(uri).snapshot()
        except UnknownDocument as exc:
            raise JsonRpcInvalidParams(str(exc)) from None
        result = await asyncio.to_thread(self.plan_translation, args, doc)
        self.report_translation(uri, doc, result)
        return result

    def plan_translation(self, args: Any, doc: StructuredDocument) -> TranslationPlan:
        """Translate what a code action's ``data`` / command argument names (any thread)."""
        uri = _field(args, "uri")
        selection = _field(args, "selection")
        if selection is not None and _field(args, "version") != doc.version:
            raise JsonRpcInvalidParams("the document changed since the action was offered: ask for it again")
        path = to_fs_path(uri)
        if not path:
            raise JsonRpcInvalidParams(f"cannot translate {uri}: not a file")
        engine = self.engine if self.engine is not None and self.engine.state == "ready" else None
        fallback = make_model_fallback(engine) if engine is not None else None
        return plan(doc, Path(path), tuple(selection) if selection is not None else None, fallback=fallback)

    def report_translation(self, uri: str, doc: StructuredDocument, result: TranslationPlan) -> None:
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
        if self.settings.features.expert_diagnostics and self.engine is not None and uri in self.documents:
            self.expert_tasks[uri] = asyncio.ensure_future(self._refresh_experts(uri, debounce))

    def drop_experts(self, uri: str) -> None:
        pending = self.expert_tasks.pop(uri, None)
        if pending is not None:
            pending.cancel()
        self.expert_maps.pop(uri, None)
        self.expert_results.pop(uri, None)

    async def _refresh_experts(self, uri: str, debounce: bool) -> None:
        if debounce:  # typing on restarts this task: only the last edit of a burst is routed
            await asyncio.sleep(self.settings.diagnostics.debounce_ms / 1000)
        engine = self.engine
        if engine is None:
            return
        if engine.state == "loading":
            await asyncio.get_running_loop().run_in_executor(None, engine.wait_ready, None)
        if engine is not self.engine or engine.state != "ready" or uri not in self.documents:
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
        current = self.documents.get(uri) if uri in self.documents else None
        if current is None or not results.is_current(current):
            return  # the document moved on; its own refresh is scheduled
        self.expert_results[uri] = results
        self.publish_experts(uri)

    def publish_experts(self, uri: str) -> None:
        results = self.expert_results.get(uri)
        if results is None or uri not in self.documents or not self.settings.features.expert_diagnostics:
            return
        doc = self.documents.get(uri)
        units = results.in_range(None, Level.PARAGRAPH)
        if self.settings.diagnostics.sentences:
            units = units + results.in_range(None, Level.SENTENCE)
        paragraph_severity = (types.DiagnosticSeverity.Hint if self.settings.diagnostics.severity == "hint"
                              else types.DiagnosticSeverity.Information)
        diagnostics = []
        for unit in units:
            content = diagnostic_content(unit, self.expert_labels)
            diagnostics.append(types.Diagnostic(
                range=self.to_client_range(doc, *content.range),
                message=content.message,
                severity=paragraph_severity if unit.level == Level.PARAGRAPH else types.DiagnosticSeverity.Hint,
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
        if self.engine is not None and self.engine.settings == self.settings.model and self.engine.state != "closed":
            return
        if self.engine is not None:
            self.engine.close()
        self.engine = Engine(self.settings.model, on_progress=self._engine_progress)
        self.engine.start()
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


def _symbol(server: R1LanguageServer, doc: StructuredDocument, entry: OutlineEntry) -> types.DocumentSymbol:
    return types.DocumentSymbol(
        name=entry.name,
        kind=_SYMBOL_KINDS.get(entry.kind, types.SymbolKind.Class if entry.category == "class" else types.SymbolKind.Function),
        range=server.to_client_range(doc, entry.start, entry.end),
        selection_range=server.to_client_range(doc, entry.name_start, entry.name_end),
        detail=entry.kind.replace("_", " "),
        children=[_symbol(server, doc, child) for child in entry.children],
    )


def _completion_item(server: R1LanguageServer, doc: StructuredDocument, c: CompletionCandidate) -> types.CompletionItem:
    return types.CompletionItem(
        label=c.label,
        kind=_COMPLETION_KINDS.get(c.kind, types.CompletionItemKind.Text),
        detail=c.detail,
        sort_text=c.sort_text,
        filter_text=c.label,
        text_edit=types.TextEdit(range=server.to_client_range(doc, c.replace_start, c.replace_end), new_text=c.insert_text),
    )


def _uri_param(params: Any) -> str:
    """The document URI of a custom request's params (a dict or an attrs-like object)."""
    doc = params.get("textDocument") if isinstance(params, dict) else getattr(params, "textDocument", None)
    uri = doc.get("uri") if isinstance(doc, dict) else getattr(doc, "uri", None)
    if not isinstance(uri, str):
        raise JsonRpcInvalidParams("expected params {textDocument: {uri: string}}")
    return uri


def _byte_range(ls: R1LanguageServer, doc: StructuredDocument, params: Any) -> tuple[int, int] | None:
    """The optional ``range`` of a custom request as a byte range of ``doc``."""
    rng = params.get("range") if isinstance(params, dict) else getattr(params, "range", None)
    if rng is None:
        return None
    try:
        start = types.Position(int(_field(_field(rng, "start"), "line")), int(_field(_field(rng, "start"), "character")))
        end = types.Position(int(_field(_field(rng, "end"), "line")), int(_field(_field(rng, "end"), "character")))
    except (TypeError, ValueError, KeyError, AttributeError):
        raise JsonRpcInvalidParams("range must be {start: {line, character}, end: {line, character}}") from None
    a = doc.offset_at(*ls.to_utf16(doc, start))
    b = doc.offset_at(*ls.to_utf16(doc, end))
    return (min(a, b), max(a, b))


def _field(obj: Any, name: str) -> Any:
    return obj[name] if isinstance(obj, dict) else getattr(obj, name)


def create_server() -> R1LanguageServer:
    server = R1LanguageServer()

    @server.feature(types.INITIALIZE)
    def initialize(ls: R1LanguageServer, params: types.InitializeParams) -> None:
        ls.apply_settings(params.initialization_options, "initializationOptions")

    @server.feature(types.INITIALIZED)
    async def initialized(ls: R1LanguageServer, params: types.InitializedParams) -> None:
        ls.loop = asyncio.get_running_loop()
        await ls.pull_configuration()
        ls.ensure_engine()

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    async def did_change_configuration(ls: R1LanguageServer, params: types.DidChangeConfigurationParams) -> None:
        if isinstance(params.settings, dict) and params.settings:
            ls.apply_settings(params.settings, "didChangeConfiguration")
        else:  # the push model carries nothing useful: pull
            await ls.pull_configuration()
        ls.ensure_engine()
        ls.experts_settings_changed()

    @server.feature(types.SHUTDOWN)
    def shutdown(ls: R1LanguageServer, params: None) -> None:
        ls.shutdown_engine()

    # -- document sync ----------------------------------------------------------------
    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: R1LanguageServer, params: types.DidOpenTextDocumentParams) -> None:
        item = params.text_document
        ls.documents.open(item.uri, item.language_id, item.text, item.version)
        ls.schedule_experts(item.uri, debounce=False)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: R1LanguageServer, params: types.DidChangeTextDocumentParams) -> None:
        uri = params.text_document.uri
        if uri not in ls.documents:
            log.warning("didChange for a document that is not open: %s (ignored)", uri)
            return
        doc = ls.documents.get(uri)
        version = params.text_document.version
        for change in params.content_changes:
            if isinstance(change, types.TextDocumentContentChangePartial):
                # Convert against the text as it is before this change (changes apply in order).
                edit = TextChange(change.text, ls.to_utf16(doc, change.range.start), ls.to_utf16(doc, change.range.end))
            else:
                edit = TextChange(change.text)
            ls.documents.change(uri, version, [edit])
        ls.schedule_experts(uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: R1LanguageServer, params: types.DidCloseTextDocumentParams) -> None:
        uri = params.text_document.uri
        ls.documents.close(uri)
        ls.drop_experts(uri)
        if ls.diagnostics.pop(uri, None):
            ls.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=uri, diagnostics=[]))

    # -- features (later issues fill these) -------------------------------------------
    @server.feature(
        types.TEXT_DOCUMENT_COMPLETION,
        types.CompletionOptions(trigger_characters=["."], resolve_provider=False),
    )
    async def completion(ls: R1LanguageServer, params: types.CompletionParams) -> types.CompletionList:
        uri = params.text_document.uri
        if not ls.settings.features.completion or uri not in ls.documents:
            return types.CompletionList(is_incomplete=False, items=[])
        doc = ls.documents.get(uri)
        snap = doc.snapshot()
        line, char = ls.to_utf16(doc, params.position)
        key = f"{uri}#completion"
        try:
            result = await asyncio.to_thread(complete, snap, line, char, ls.engine, key=key)
        except asyncio.CancelledError:  # $/cancelRequest: stop the model work too
            if ls.engine is not None:
                ls.engine.cancel(key)
            raise
        items = [_completion_item(ls, snap, c) for c in result.items]
        return types.CompletionList(is_incomplete=result.is_incomplete, items=items)

    @server.feature(types.TEXT_DOCUMENT_INLINE_COMPLETION, types.InlineCompletionOptions())
    async def inline_completion(ls: R1LanguageServer, params: types.InlineCompletionParams) -> types.InlineCompletionList:
        uri = params.text_document.uri
        if not ls.settings.features.inline_completion or uri not in ls.documents:
            return types.InlineCompletionList(items=[])
        doc = ls.documents.get(uri)
        snap = doc.snapshot()
        line, char = ls.to_utf16(doc, params.position)
        cancel = threading.Event()
        try:
            suggestions = await asyncio.to_thread(
                inline_suggestions, snap, line, char, ls.engine,
                max_tokens=ls.settings.model.max_tokens, cancel=cancel, key=f"{uri}#inline",
            )
        except asyncio.CancelledError:  # the client cancelled or typed on
            cancel.set()
            raise
        current = ls.documents.get(uri) if uri in ls.documents else None
        if current is None or current.version != snap.version:
            return types.InlineCompletionList(items=[])  # the document moved on meanwhile
        return types.InlineCompletionList(items=[
            types.InlineCompletionItem(insert_text=s.text, range=ls.to_client_range(snap, s.start, s.end))
            for s in suggestions
        ])

    @server.feature(
        types.TEXT_DOCUMENT_CODE_ACTION,
        types.CodeActionOptions(code_action_kinds=[types.CodeActionKind.RefactorRewrite], resolve_provider=True),
    )
    def code_action(ls: R1LanguageServer, params: types.CodeActionParams) -> list[types.CodeAction]:
        uri = params.text_document.uri
        if not ls.settings.features.translate or uri not in ls.documents:
            return []
        only = params.context.only
        if only and not any(types.CodeActionKind.RefactorRewrite.value.startswith(k) for k in only):
            return []
        doc = ls.documents.get(uri)
        start = doc.offset_at(*ls.to_utf16(doc, params.range.start))
        end = doc.offset_at(*ls.to_utf16(doc, params.range.end))
        actions = []
        for offer in offers(doc, min(start, end), max(start, end)):
            args = {"uri": uri, "version": doc.version,
                    "selection": list(offer.selection) if offer.selection else None}
            action = types.CodeAction(title=offer.title, kind=types.CodeActionKind.RefactorRewrite)
            if ls.client_resolves_code_action_edits():
                action.data = args  # the translation is computed on resolve, not on every cursor move
            else:
                action.command = types.Command(title=offer.title, command=TRANSLATE_COMMAND, arguments=[args])
            actions.append(action)
        return actions

    @server.feature(types.CODE_ACTION_RESOLVE)
    async def resolve_code_action(ls: R1LanguageServer, action: types.CodeAction) -> types.CodeAction:
        if action.data is None:
            return action
        if ls.client_creates_files():
            result = await ls.translate(action.data)
            action.edit = ls.translation_edit(result)
        else:
            action.command = types.Command(title=action.title, command=TRANSLATE_COMMAND, arguments=[action.data])
        return action

    @server.command(TRANSLATE_COMMAND)
    async def translate_command(ls: R1LanguageServer, args: Any) -> dict:
        """Translate and create the .py file: by a workspace edit, or by writing it ourselves."""
        arg = args[0] if isinstance(args, (list, tuple)) and args else args
        result = await ls.translate(arg)
        target = result.target
        if ls.client_creates_files():
            applied = await ls.workspace_apply_edit_async(
                types.ApplyWorkspaceEditParams(edit=ls.translation_edit(result), label="Translate Java → Python"))
            if not applied.applied:
                raise JsonRpcInvalidParams(f"the editor refused to create {target}: {applied.failure_reason}")
        else:
            if not inside_workspace(target, ls.workspace_roots()):
                raise JsonRpcInvalidParams(f"{target} is outside the workspace: r1lsp writes only inside it")
            with open(target, "x", encoding="utf-8") as out:  # "x": never overwrite
                out.write(result.result.python)
            window = ls.client_capabilities.window
            if window and window.show_document and window.show_document.support:
                await ls.window_show_document_async(types.ShowDocumentParams(uri=from_fs_path(str(target)), take_focus=True))
            else:
                ls.window_show_message(types.ShowMessageParams(types.MessageType.Info, f"r1lsp: wrote {target}"))
        return {"path": str(target), "unit": result.result.unit, "untranslated": len(result.result.untranslated)}

    @server.feature(
        types.TEXT_DOCUMENT_DIAGNOSTIC,
        types.DiagnosticOptions(identifier="r1lsp", inter_file_dependencies=False, workspace_diagnostics=False),
    )
    def diagnostic(ls: R1LanguageServer, params: types.DocumentDiagnosticParams) -> types.RelatedFullDocumentDiagnosticReport:
        return types.RelatedFullDocumentDiagnosticReport(items=ls.all_diagnostics(params.text_document.uri))

    @server.feature(types.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
    def document_symbol(ls: R1LanguageServer, params: types.DocumentSymbolParams) -> list[types.DocumentSymbol]:
        uri = params.text_document.uri
        if uri not in ls.documents:
            return []
        doc = ls.documents.get(uri)
        return [_symbol(ls, doc, entry) for entry in outline(doc)]

    # -- custom requests ---------------------------------------------------------------
    @server.feature(LEVELS_REQUEST)
    def levels(ls: R1LanguageServer, params: Any) -> dict:
        """The four-level hierarchy of an open document (UTF-16 columns, like r1lsp levels --json)."""
        uri = _uri_param(params)
        try:
            doc = ls.documents.get(uri)
        except UnknownDocument as exc:
            raise JsonRpcInvalidParams(str(exc)) from None
        result = doc.hierarchy.to_dict(_byte_range(ls, doc, params))
        result["uri"] = uri
        result["version"] = doc.version
        return result

    @server.feature(EXPERTS_REQUEST)
    def experts(ls: R1LanguageServer, params: Any) -> dict:
        """The experts per unit of an open document (optionally only units meeting ``range``;
        ``level``: "paragraph" (default) or "sentence"), for the editor's heatmap."""
        uri = _uri_param(params)
        try:
            doc = ls.documents.get(uri)
        except UnknownDocument as exc:
            raise JsonRpcInvalidParams(str(exc)) from None
        level_name = params.get("level", "paragraph") if isinstance(params, dict) else getattr(params, "level", "paragraph")
        if level_name not in ("paragraph", "sentence"):
            raise JsonRpcInvalidParams("level must be 'paragraph' or 'sentence'")
        results = ls.expert_results.get(uri)
        if results is None or not results.is_current(doc):
            return {"uri": uri, "version": doc.version, "ready": False, "units": [], "labels": {}}
        units = results.in_range(_byte_range(ls, doc, params), Level.PARAGRAPH if level_name == "paragraph" else Level.SENTENCE)
        payload = experts_json(units, ls.expert_labels)
        payload.update(uri=uri, version=doc.version, ready=True)
        return payload

    @server.feature(SETTINGS_REQUEST)
    def current_settings(ls: R1LanguageServer, params: Any) -> dict:
        """The settings in force (what the server made of everything the client sent)."""
        return settings_to_dict(ls.settings)

    return server
