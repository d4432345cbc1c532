"""Java -> Python translation of a session: plan it (`r1lsp.translate_action`, off the event
loop), check where the .py goes, report what was not translated by a rule on the Java range,
and create the file: by the client's workspace edit (CreateFile + insert) when it can, else by
writing it ourselves (never overwriting) and showing it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams
from pygls.uris import from_fs_path, to_fs_path

from model.structure import StructuredDocument
from r1lsp.documents import UnknownDocument
from r1lsp.engine import EngineState
from r1lsp.protocol import describe_misfit
from r1lsp.requests import TranslateArguments
from r1lsp.translate.model_fallback import make_model_fallback
from r1lsp.translate_action import TranslationPlan, inside_workspace, plan

if TYPE_CHECKING:
    from r1lsp.session import R1LanguageServer

log = logging.getLogger("r1lsp.server")


class RequestFailed(JsonRpcException):
    """LSP's RequestFailed: the request was valid but could not be done; the message says why."""

    CODE = -32803


class TranslationWriter:
    def __init__(self, server: R1LanguageServer):
        self.server = server

    async def translate(self, data: Any) -> TranslationPlan:
        """Translate (off the event loop) what a code action's ``data`` / command argument names,
        then report on the Java range what was not translated by a rule."""
        try:
            args = self.server.converter.structure(data, TranslateArguments)
        except Exception as exc:  # noqa: BLE001 - any misfit is the client's
            raise JsonRpcInvalidParams("expected {uri: string, version?: integer, selection?: [start, end]}: "
                                       + describe_misfit(exc)) from None
        try:
            doc = self.server.documents.get(args.uri).snapshot()
        except UnknownDocument as exc:
            raise JsonRpcInvalidParams(str(exc)) from None
        result = await asyncio.to_thread(self.plan, args, doc)
        self.report(args.uri, doc, result)
        if result.result.empty:
            raise RequestFailed(f"r1lsp translated nothing: {result.result.empty}")
        return result

    def java_path_for(self, uri: str) -> Path | None:
        """Where the .py of a document goes beside: its file; for a document that is no file
        (``untitled:``) the first workspace folder; None when there is neither."""
        path = to_fs_path(uri)
        if path:
            return Path(path)
        roots = self.server.workspace_roots()
        if not roots:
            return None
        name = re.sub(r"[^\w.-]+", "_", uri.rsplit("/", 1)[-1].rsplit(":", 1)[-1]).strip("._") or "Untitled"
        return roots[0] / name

    def check_target(self, target: Path) -> None:
        """The .py may be created: inside the workspace (symlinks resolved), in a writable
        folder. Checked for both write paths (the client's CreateFile, our own write)."""
        roots = self.server.workspace_roots()
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

    def plan(self, args: TranslateArguments, doc: StructuredDocument) -> TranslationPlan:
        """Translate what a code action's ``data`` / command argument names (any thread)."""
        uri, selection = args.uri, args.selection
        if selection is not None:
            size = len(doc.data)
            if not 0 <= selection[0] <= selection[1] <= size:
                raise JsonRpcInvalidParams(f"selection must be null or [start, end] byte offsets with "
                                           f"0 <= start <= end <= {size}, got {list(selection)}")
            if args.version != doc.version:
                raise JsonRpcInvalidParams("the document changed since the action was offered: ask for it again")
        java_path = self.java_path_for(uri)
        if java_path is None:
            raise RequestFailed(f"cannot translate {uri}: it is not a file and no workspace folder is open to write to")
        engine = self.server.engine
        fallback = make_model_fallback(engine) if engine is not None and engine.state == EngineState.READY else None
        result = plan(doc, java_path, selection, fallback=fallback)
        self.check_target(result.target)
        return result

    def report(self, uri: str, doc: StructuredDocument, result: TranslationPlan) -> None:
        ls = self.server
        current = ls.documents.get(uri) if uri in ls.documents else None
        if current is None or current.version != doc.version:
            return  # closed or edited meanwhile: these ranges no longer name its text
        name = result.target.name
        warning, hint = types.DiagnosticSeverity.Warning, types.DiagnosticSeverity.Hint

        def diagnostic(span, message: str, severity: types.DiagnosticSeverity, code: str) -> types.Diagnostic:
            return types.Diagnostic(range=ls.to_client_range(doc, span.start, span.end), message=message,
                                    severity=severity, source="r1lsp", code=code)

        ls.diagnostics.set(uri, "translate", [
            diagnostic(u, f"r1lsp could not translate this to Python ({u.reason}); it is marked in {name}",
                       warning, "untranslated") for u in result.result.untranslated
        ] + [
            diagnostic(m, f"translated by the R1 model, not by a rule: review it in {name}", hint, "model-translated")
            for m in result.result.model_translated
        ] + [
            diagnostic(u, f"{u.name} is defined neither in the selection nor in this file: marked "
                          f"'# r1lsp: undefined: {u.name}' in {name}", warning, "undefined")
            for u in result.result.undefined
        ])

    def edit(self, result: TranslationPlan) -> types.WorkspaceEdit:
        """The workspace edit that creates the .py (never over an existing file)."""
        target = from_fs_path(str(result.target))
        return types.WorkspaceEdit(document_changes=[
            types.CreateFile(uri=target, options=types.CreateFileOptions(overwrite=False, ignore_if_exists=False)),
            types.TextDocumentEdit(
                text_document=types.OptionalVersionedTextDocumentIdentifier(uri=target, version=None),
                edits=[types.TextEdit(range=types.Range(types.Position(0, 0), types.Position(0, 0)),
                                      new_text=result.result.python)]),
        ])

    async def create(self, result: TranslationPlan) -> None:
        """Create the .py: by the client's workspace edit, or by writing it ourselves and showing it."""
        ls, target = self.server, result.target
        if ls.client_creates_files():
            applied = await ls.workspace_apply_edit_async(
                types.ApplyWorkspaceEditParams(edit=self.edit(result), label="Translate Java → Python"))
            if not applied.applied:
                raise RequestFailed(f"the editor refused to create {target}: {applied.failure_reason}")
            return
        try:
            with open(target, "x", encoding="utf-8", errors="surrogatepass") as out:  # "x": never overwrite
                out.write(result.result.python)
        except OSError as exc:  # a folder gone or read-only since the check, a name taken meanwhile
            raise RequestFailed(f"cannot create {target}: {exc.strerror or exc}") from None
        window = ls.client_capabilities.window
        if window and window.show_document and window.show_document.support:
            try:
                await ls.window_show_document_async(types.ShowDocumentParams(uri=from_fs_path(str(target)), take_focus=True))
            except Exception as exc:  # noqa: BLE001 - the file is written; showing it is a courtesy
                log.info("window/showDocument for %s failed: %s", target, exc)
        else:
            ls.window_show_message(types.ShowMessageParams(types.MessageType.Info, f"r1lsp: wrote {target}"))
