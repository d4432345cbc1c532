"""The server's JSON-RPC protocol: pygls' `LanguageServerProtocol`, answering every request.

pygls 2.1 turns each incoming message into an object while the JSON is parsed
(`structure_message`, the `object_hook` of `json.loads`). Two cases then never reach a handler
and, since the failure is only logged by the reader loop, the client waits for an answer
forever:

- a request for a custom method (``r1lsp/levels``, ``r1lsp/settings``…) sent without
  ``params``, which JSON-RPC allows: the fallback `JsonRPCRequestMessage` requires the field;
- a request whose params do not fit the LSP type of its method (a `ClassValidationError`).

Here the first is read as ``params: null`` (the handler decides: a result, or InvalidParams),
and the second is answered with the JSON-RPC error pygls made of it (InvalidParams).
"""

from __future__ import annotations

import logging
from typing import Any

import attrs
from pygls.exceptions import JsonRpcException
from pygls.protocol import LanguageServerProtocol

log = logging.getLogger("r1lsp.server")


@attrs.define
class UnreadableRequest:
    """A request whose params could not be read: answered with ``error``, never dispatched."""

    id: Any
    method: str
    error: JsonRpcException


class R1Protocol(LanguageServerProtocol):
    def structure_message(self, data: dict[str, Any]):
        if "jsonrpc" not in data or "method" not in data or "result" in data or "error" in data:
            return super().structure_message(data)  # a nested object, or a response to us
        if "params" not in data and self.get_message_type(data["method"]) is None:
            data["params"] = None  # a custom method called without params
        try:
            return super().structure_message(data)
        except JsonRpcException as exc:
            if "id" not in data:
                raise  # a notification: nobody waits for an answer
            cause = f" ({exc.__cause__})" if exc.__cause__ is not None else ""
            error = type(exc)(message=f"{exc.message}: cannot read the params of {data['method']}{cause}")
            log.warning("unreadable request (id %r): %s", data["id"], error.message)
            return UnreadableRequest(data["id"], data["method"], error)

    def handle_message(self, message):
        if isinstance(message, UnreadableRequest):
            self._send_response(message.id, None, message.error.to_response_error())
            return
        super().handle_message(message)
