"""The language server: wires LSP (pygls 2 + lsprotocol) to r1lsp's pure logic.

Each handler takes the protocol's params, calls a logic module (documents, structure, outline,
settings, …) and returns lsprotocol types. No feature logic lives here.

Positions: the structure layer works in UTF-16 columns; when the client negotiated UTF-8 or
UTF-32 the conversion happens here, at the edge.
"""

from __future__ import annotations

import logging
from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams
from pygls.lsp.server import LanguageServer

from r1lsp import __version__
from r1lsp.documents import DocumentStore, TextChange, UnknownDocument
from r1lsp.outline import OutlineEntry, outline
from r1lsp.positions import UTF16, convert_column
from r1lsp.settings import SECTION, Settings, merge_settings, settings_to_dict
from r1lsp.structure import StructuredDocument

log = logging.getLogger("r1lsp.server")

LEVELS_REQUEST = "r1lsp/levels"
SETTINGS_REQUEST = "r1lsp/settings"

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
        await ls.pull_configuration()

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    async def did_change_configuration(ls: R1LanguageServer, params: types.DidChangeConfigurationParams) -> None:
        if isinstance(params.settings, dict) and params.settings:
            ls.apply_settings(params.settings, "didChangeConfiguration")
        else:  # the push model carries nothing useful: pull
            await ls.pull_configuration()

    # -- document sync ----------------------------------------------------------------
    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: R1LanguageServer, params: types.DidOpenTextDocumentParams) -> None:
        item = params.text_document
        ls.documents.open(item.uri, item.language_id, item.text, item.version)

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

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: R1LanguageServer, params: types.DidCloseTextDocumentParams) -> None:
        ls.documents.close(params.text_document.uri)

    # -- features (later issues fill these) -------------------------------------------
    @server.feature(
        types.TEXT_DOCUMENT_COMPLETION,
        types.CompletionOptions(trigger_characters=["."], resolve_provider=False),
    )
    def completion(ls: R1LanguageServer, params: types.CompletionParams) -> types.CompletionList:
        return types.CompletionList(is_incomplete=False, items=[])

    @server.feature(types.TEXT_DOCUMENT_INLINE_COMPLETION, types.InlineCompletionOptions())
    def inline_completion(ls: R1LanguageServer, params: types.InlineCompletionParams) -> types.InlineCompletionList:
        return types.InlineCompletionList(items=[])

    @server.feature(
        types.TEXT_DOCUMENT_CODE_ACTION,
        types.CodeActionOptions(code_action_kinds=[types.CodeActionKind.RefactorRewrite]),
    )
    def code_action(ls: R1LanguageServer, params: types.CodeActionParams) -> list[types.CodeAction]:
        return []

    @server.feature(
        types.TEXT_DOCUMENT_DIAGNOSTIC,
        types.DiagnosticOptions(identifier="r1lsp", inter_file_dependencies=False, workspace_diagnostics=False),
    )
    def diagnostic(ls: R1LanguageServer, params: types.DocumentDiagnosticParams) -> types.RelatedFullDocumentDiagnosticReport:
        return types.RelatedFullDocumentDiagnosticReport(items=[])

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

    @server.feature(SETTINGS_REQUEST)
    def current_settings(ls: R1LanguageServer, params: Any) -> dict:
        """The settings in force (what the server made of everything the client sent)."""
        return settings_to_dict(ls.settings)

    return server
