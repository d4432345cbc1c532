"""The params of r1lsp's own requests and of its translate command, as typed classes.

lsprotocol's converter (the strict one of `r1lsp.protocol`) structures them before a handler
runs, as it does LSP's own params: a misfit is answered InvalidParams (-32602) naming the path
that does not fit, and the handlers read attributes instead of picking dicts apart.
"""

from __future__ import annotations

from typing import Literal

import attrs
from lsprotocol import types

LEVELS_REQUEST = "r1lsp/levels"
SETTINGS_REQUEST = "r1lsp/settings"
EXPERTS_REQUEST = "r1lsp/experts"
TRANSLATE_COMMAND = "r1lsp.translateToPython"


@attrs.define
class LevelsParams:
    text_document: types.TextDocumentIdentifier
    range: types.Range | None = None                     # only the units meeting it


@attrs.define
class ExpertsParams:
    text_document: types.TextDocumentIdentifier
    range: types.Range | None = None                     # only the units meeting it
    level: Literal["paragraph", "sentence"] = "paragraph"


@attrs.define
class TranslateArguments:
    """A translate code action's ``data``, and the translate command's one argument."""
    uri: str
    version: int | None = None                           # the document version the action was offered at
    selection: tuple[int, int] | None = None             # UTF-8 byte range of one method / class; None: the file


def _request_type(method: str, params: type) -> type:
    """The JSON-RPC request of `method` with typed params, as lsprotocol declares its own."""
    return attrs.make_class(params.__name__.removesuffix("Params") + "Request", {
        "id": attrs.field(type=int | str), "params": attrs.field(type=params),
        "method": attrs.field(type=str, default=method), "jsonrpc": attrs.field(type=str, default="2.0")})


# method -> request type, beside lsprotocol's METHOD_TO_TYPES (r1lsp/settings takes no params)
REQUEST_TYPES: dict[str, type] = {LEVELS_REQUEST: _request_type(LEVELS_REQUEST, LevelsParams),
                                  EXPERTS_REQUEST: _request_type(EXPERTS_REQUEST, ExpertsParams)}
