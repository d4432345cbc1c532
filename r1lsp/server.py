"""The language server: wires LSP (pygls 2 + lsprotocol) to r1lsp's pure logic.

Each handler takes the protocol's params, calls a logic module (documents, structure, outline,
completion, inline, translate_action, experts, settings, …) and returns lsprotocol types. No
feature logic lives here; the session state behind the handlers is `r1lsp.session`.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams

from r1lsp import memory
from r1lsp.completion import CompletionCandidate, complete, warm_up as warm_up_lists
from r1lsp.documents import TextChange, UnknownDocument
from r1lsp.foreground import list_in_flight, making_list
from r1lsp.expert_labels import experts_json
from r1lsp.pyanalysis import warm_up
from r1lsp.outline import OutlineEntry, outline
from r1lsp.requests import (EXPERTS_REQUEST, LEVELS_REQUEST, SETTINGS_REQUEST, TRANSLATE_COMMAND, ExpertsParams,
                            LevelsParams, TranslateArguments)
from r1lsp.session import R1LanguageServer
from r1lsp.settings import settings_to_dict
from model.structure import Level, StructuredDocument, utf8_bytes
from r1lsp.translate_action import offers

log = logging.getLogger("r1lsp.server")


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

def _symbol(server: R1LanguageServer, doc: StructuredDocument, entry: OutlineEntry) -> types.DocumentSymbol:
    return types.DocumentSymbol(
        name=entry.name,
        kind=types.SymbolKind[entry.kind.capitalize()],          # tags.scm's kinds are LSP's
        range=server.to_client_range(doc, entry.start, entry.end),
        selection_range=server.to_client_range(doc, entry.name_start, entry.name_end),
        detail=entry.node_type.replace("_", " "),
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


def _byte_range(ls: R1LanguageServer, doc: StructuredDocument, rng: types.Range | None) -> tuple[int, int] | None:
    """A custom request's optional ``range`` as a byte range of ``doc``."""
    if rng is None:
        return None
    a = doc.offset_at(*ls.to_utf16(doc, rng.start))
    b = doc.offset_at(*ls.to_utf16(doc, rng.end))
    return (min(a, b), max(a, b))


def _open_document(ls: R1LanguageServer, uri: str) -> StructuredDocument:
    try:
        return ls.documents.get(uri)
    except UnknownDocument as exc:
        raise JsonRpcInvalidParams(str(exc)) from None


def create_server() -> R1LanguageServer:
    server = R1LanguageServer()

    @server.feature(types.INITIALIZE)
    def initialize(ls: R1LanguageServer, params: types.InitializeParams) -> None:
        ls.apply_settings(params.initialization_options, "initializationOptions")

    @server.feature(types.INITIALIZED)
    async def initialized(ls: R1LanguageServer, params: types.InitializedParams) -> None:
        ls.loop = asyncio.get_running_loop()
        ls.start_workers()
        await ls.pull_configuration()
        ls.ensure_engine()
        # jedi's first answer loads the builtins (~2 s): pay that before the first completion
        warmed = [ls.loop.run_in_executor(None, warm_up, ls.settings.python.environment),
                  ls.loop.run_in_executor(None, warm_up_lists)]
        asyncio.ensure_future(ls.freeze_after(warmed))
        ls.java_scan = asyncio.ensure_future(ls.scan_java_workspace())
        ls.lines_scan = asyncio.ensure_future(ls.scan_workspace_lines())

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    async def did_change_configuration(ls: R1LanguageServer, params: types.DidChangeConfigurationParams) -> None:
        if isinstance(params.settings, dict) and params.settings:
            ls.apply_settings(params.settings, "didChangeConfiguration")
        else:  # the push model carries nothing useful: pull
            await ls.pull_configuration()
        ls.ensure_engine()
        ls.experts.settings_changed()

    @server.feature(types.SHUTDOWN)
    def shutdown(ls: R1LanguageServer, params: None) -> None:
        ls.shutdown_engine()

    @server.feature(types.EXIT)
    def exit_(ls: R1LanguageServer, params: None) -> None:
        # The reading loop ends after this and the process with it (r1lsp.cli): queued model
        # work is cancelled; a worker still inside the model is not waited for.
        ls.shutdown_engine()

    # -- document sync ----------------------------------------------------------------
    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: R1LanguageServer, params: types.DidOpenTextDocumentParams) -> None:
        item = params.text_document
        started = time.perf_counter()
        ls.documents.open(item.uri, item.language_id, item.text, item.version)
        ls.stop_ghost_text_elsewhere(item.uri)
        if ls.engine is not None:
            ls.engine.touch()                   # requests at the cursor follow: routing waits for a pause
        ls.java_document_changed(item.uri, now=True)
        # routed after the debounce, as after an edit: the editor's first requests on a document
        # just opened (its list, its ghost text) come first
        ls.experts.schedule(item.uri)
        ls.prepare_completion(item.uri)
        log.debug("opened %s (%d characters) in %.0f ms", item.uri, len(item.text), 1000 * (time.perf_counter() - started))

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: R1LanguageServer, params: types.DidChangeTextDocumentParams) -> None:
        uri = params.text_document.uri
        if uri not in ls.documents:
            log.warning("didChange for a document that is not open: %s (ignored)", uri)
            return
        doc = ls.documents.get(uri)
        version = params.text_document.version
        edit = None
        cursor = None                                       # where the last edit ends (bytes)
        for change in params.content_changes:
            java_edit = None
            if isinstance(change, types.TextDocumentContentChangePartial):
                # Convert against the text as it is before this change (changes apply in order).
                edit = TextChange(change.text, ls.to_utf16(doc, change.range.start), ls.to_utf16(doc, change.range.end))
                start, end = sorted((doc.offset_at(*edit.start), doc.offset_at(*edit.end)))
                java_edit = (start, start + len(utf8_bytes(change.text)),
                             doc.data[start:end].decode("utf-8", "replace"), change.text)
                cursor = java_edit[1]
            else:
                edit = TextChange(change.text)
                cursor = None
            ls.documents.change(uri, version, [edit])
            ls.java_document_changed(uri, edit=java_edit)
        ls.experts.schedule(uri)
        ls.prepare_completion(uri, typed=edit)
        if cursor is not None:
            ls.recent_edits.edited(uri, cursor)
            ls.warm_ghost_text(uri, cursor)

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE)
    def did_save(ls: R1LanguageServer, params: types.DidSaveTextDocumentParams) -> None:
        ls.java_document_changed(params.text_document.uri, now=True)
        ls.workspace_file_changed(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: R1LanguageServer, params: types.DidCloseTextDocumentParams) -> None:
        uri = params.text_document.uri
        if uri not in ls.documents:
            log.info("didClose for a document that is not open: %s (ignored)", uri)
            return
        if ls.documents.close(uri):
            ls.workspace_file_changed(uri)
            ls.experts.drop(uri)
            ls.diagnostics.forget(uri)
            ls.forget_document_state(uri)
            memory.after_request()

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
        asked = time.perf_counter()
        started = []
        context = ls.analysis_context(uri)

        def run():
            started.append(time.perf_counter())
            with making_list():             # the analysis jobs it waits for go first
                return complete(snap, line, char, ls.engine, key=key, context=context)
        try:
            with list_in_flight():          # background Python work waits meanwhile (r1lsp.foreground)
                result = await asyncio.get_running_loop().run_in_executor(ls.list_executor, run)
        except asyncio.CancelledError:  # $/cancelRequest: stop the model work too
            if ls.engine is not None:
                ls.engine.cancel(key)
            raise
        ls.completion_answered(uri, result.from_names)
        items = [_completion_item(ls, snap, c) for c in result.items]
        memory.after_request()
        if log.isEnabledFor(logging.DEBUG):
            log.debug("list at %s:%d:%d (v%d): %d items%s in %.0f ms (thread wait %.0f ms; %s)", uri, line, char,
                      snap.version, len(items), ", incomplete" if result.is_incomplete else "",
                      1000 * (time.perf_counter() - asked), 1000 * (started[0] - asked),
                      ", ".join(f"{k} {1000 * v:.0f}" for k, v in result.stages.items()))
        return types.CompletionList(is_incomplete=result.is_incomplete, items=items)

    @server.feature(types.TEXT_DOCUMENT_INLINE_COMPLETION, types.InlineCompletionOptions())
    async def inline_completion(ls: R1LanguageServer, params: types.InlineCompletionParams) -> types.InlineCompletionList:
        uri = params.text_document.uri
        if not ls.settings.features.inline_completion or uri not in ls.documents:
            return types.InlineCompletionList(items=[])
        doc = ls.documents.get(uri)
        snap = doc.snapshot()
        line, char = ls.to_utf16(doc, params.position)
        started = time.perf_counter()
        ls.inline_asked.add(uri)
        run = ls.ghost_text(uri, snap, line, char)         # or the run its didChange started
        try:
            suggestions = await asyncio.wrap_future(run.future)
        except asyncio.CancelledError:  # the client cancelled or typed on
            run.cancel.set()
            log.debug("ghost text at %s:%d:%d cancelled after %.0f ms", uri, line, char, 1000 * (time.perf_counter() - started))
            raise
        log.debug("ghost text at %s:%d:%d (v%d): %d suggestion(s) in %.0f ms", uri, line, char, snap.version,
                  len(suggestions), 1000 * (time.perf_counter() - started))
        memory.after_request()
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
        if not ls.settings.features.translate or uri not in ls.documents or ls.translations.java_path_for(uri) is None:
            return []
        only = params.context.only
        if only and not any(types.CodeActionKind.RefactorRewrite.value.startswith(k) for k in only):
            return []
        doc = ls.documents.get(uri)
        start = doc.offset_at(*ls.to_utf16(doc, params.range.start))
        end = doc.offset_at(*ls.to_utf16(doc, params.range.end))
        actions = []
        for offer in offers(doc, min(start, end), max(start, end)):
            args = ls.converter.unstructure(TranslateArguments(uri, doc.version, offer.selection))
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
            result = await ls.translations.translate(action.data)
            action.edit = ls.translations.edit(result)
        else:
            action.command = types.Command(title=action.title, command=TRANSLATE_COMMAND, arguments=[action.data])
        return action

    @server.command(TRANSLATE_COMMAND)
    async def translate_command(ls: R1LanguageServer, *args: Any) -> dict:
        """Translate and create the .py file: by a workspace edit, or by writing it ourselves."""
        result = await ls.translations.translate(args[0] if len(args) == 1 else None)
        await ls.translations.create(result)
        return {"path": str(result.target), "unit": result.result.unit, "untranslated": len(result.result.untranslated)}

    @server.feature(
        types.TEXT_DOCUMENT_DIAGNOSTIC,
        types.DiagnosticOptions(identifier="r1lsp", inter_file_dependencies=False, workspace_diagnostics=False),
    )
    async def diagnostic(ls: R1LanguageServer, params: types.DocumentDiagnosticParams) -> types.DocumentDiagnosticReport:
        # a client that cannot be told to pull again (no refreshSupport) is answered once the
        # document's pending expert routing is done, so that its pull after an edit brings it
        if not ls.diagnostics.client_refreshes():
            await ls.experts.settled(params.text_document.uri, 60.0)
        return ls.diagnostics.report(params.text_document.uri, params.previous_result_id)

    @server.feature(types.TEXT_DOCUMENT_HOVER)
    def hover(ls: R1LanguageServer, params: types.HoverParams) -> types.Hover | None:
        """On a class / method / function header: its expert breakdown."""
        if not ls.settings.features.expert_diagnostics:
            return None
        return ls.experts.hover(params.text_document.uri, params.position)

    @server.feature(types.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
    def document_symbol(ls: R1LanguageServer, params: types.DocumentSymbolParams) -> list[types.DocumentSymbol]:
        uri = params.text_document.uri
        if uri not in ls.documents:
            return []
        doc = ls.documents.get(uri)
        return [_symbol(ls, doc, entry) for entry in outline(doc)]

    # -- custom requests ---------------------------------------------------------------
    @server.feature(LEVELS_REQUEST)
    def levels(ls: R1LanguageServer, params: LevelsParams) -> dict:
        """The four-level hierarchy of an open document (UTF-16 columns, like r1lsp levels --json)."""
        uri = params.text_document.uri
        doc = _open_document(ls, uri)
        result = doc.hierarchy.to_dict(_byte_range(ls, doc, params.range))
        result["uri"] = uri
        result["version"] = doc.version
        # what the server holds, for a client (or a test) to check its own copy against
        result["text_sha256"] = hashlib.sha256(doc.data).hexdigest()
        return result

    @server.feature(EXPERTS_REQUEST)
    def experts(ls: R1LanguageServer, params: ExpertsParams) -> dict:
        """The experts per unit of an open document (optionally only units meeting ``range``;
        ``level``: "paragraph" (default) or "sentence"), for the editor's heatmap."""
        uri = params.text_document.uri
        doc = _open_document(ls, uri)
        results = ls.experts.results.get(uri)
        if results is None or not results.is_current(doc):
            return {"uri": uri, "version": doc.version, "ready": False, "units": [], "labels": {}}
        level = Level.PARAGRAPH if params.level == "paragraph" else Level.SENTENCE
        payload = experts_json(results.in_range(_byte_range(ls, doc, params.range), level), ls.experts.labels)
        payload.update(uri=uri, version=doc.version, ready=True)
        return payload

    @server.feature(SETTINGS_REQUEST)
    def current_settings(ls: R1LanguageServer, params: Any) -> dict:
        """The settings in force (what the server made of everything the client sent)."""
        return settings_to_dict(ls.settings)

    return server
