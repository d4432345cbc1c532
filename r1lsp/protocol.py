"""The server's transport and JSON-RPC layer: every request answered as JSON-RPC 2.0 and LSP say.

pygls 2.1 reads the stream with an exact-case ``Content-Length`` regex (a lowercase header
loses the message; after a bad length every later message is glued to garbage) and turns
messages into objects inside ``json.loads`` (an ``object_hook``, so params containing an
object with a ``jsonrpc`` member are taken for a message and the request is never answered).
Its converter coerces (``"text": 7`` opens ``"7"``) and every failure of a notification is
shown to the user as an "Error in server" pop-up.

Here instead:

- `MessageReader` reads the framing itself: header names case-insensitive, a bad or missing
  Content-Length logged and skipped, the stream resynchronised at the next header (also when
  a too-long Content-Length swallowed the start of the next message);
- `R1Protocol.receive` parses a body with plain ``json.loads``, checks the envelope, then
  structures the params of LSP methods with a strict converter (no str/int/bool coercion).
  Answers: -32700 unparseable, -32600 a bad envelope or any request after ``shutdown`` (and a
  second ``initialize``), -32002 a request before ``initialize``, -32601 an unknown method or a
  notification's method sent as a request, -32602 params that do not fit, -32800 cancelled;
- document URIs in params are normalised once, here, to one key per document (RFC 3986
  syntax normalisation: ``%41b.java`` and ``Ab.java`` are one document);
- pygls' workspace keeps no document copy: the server's `DocumentStore` is the only one
  (pygls splits lines with ``str.splitlines``, which also breaks at ``\\v``, ``\\f``, U+2028…
  and so misplaces edits; LSP ends lines only at ``\\n``, ``\\r\\n``, ``\\r``);
- protocol garbage and failures of notifications are logged, never shown as pop-ups;
- ``exit`` stops the reading loop and records the exit code LSP prescribes (0 after
  ``shutdown``, 1 otherwise) for the process to end with (`r1lsp.cli` ends it with
  ``os._exit`` so that no thread still inside torch meets interpreter finalisation).
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
import re
import threading
from typing import Any, Awaitable, Callable
from urllib.parse import urlsplit, urlunsplit

import attrs
import cattrs
from lsprotocol import converters, types
from pygls.protocol import LanguageServerProtocol
from pygls.protocol.language_server import lsp_method

from r1lsp.requests import REQUEST_TYPES

log = logging.getLogger("r1lsp.server")

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
SERVER_NOT_INITIALIZED = -32002

MAX_CONTENT_LENGTH = 256 * 1024 * 1024  # a larger header is garbage, not a message to wait for


# -- strict structuring -----------------------------------------------------------------
def _strict(kind: type, accepts: tuple[type, ...]):
    def hook(value: Any, _type: Any) -> Any:
        if isinstance(value, bool) and kind is not bool:
            raise TypeError(f"expected {kind.__name__}, got a boolean")
        if not isinstance(value, accepts):
            raise TypeError(f"expected {kind.__name__}, got {type(value).__name__}")
        return kind(value) if kind is float else value
    return hook


def strict_converter() -> cattrs.Converter:
    """lsprotocol's converter without silent coercion: ``"text": 7`` is not the string "7"."""
    converter = converters.get_converter()
    converter.register_structure_hook(str, _strict(str, (str,)))
    converter.register_structure_hook(int, _strict(int, (int,)))
    converter.register_structure_hook(bool, _strict(bool, (bool,)))
    converter.register_structure_hook(float, _strict(float, (int, float)))
    return converter


# -- URIs -------------------------------------------------------------------------------
_PERCENT = re.compile(r"%([0-9A-Fa-f]{2})")
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def _normalize_escapes(part: str) -> str:
    def fix(m: re.Match) -> str:
        ch = chr(int(m.group(1), 16))
        return ch if ch in _UNRESERVED else "%" + m.group(1).upper()
    return _PERCENT.sub(fix, part)


def normalize_uri(uri: str) -> str:
    """One spelling per resource (RFC 3986 §6.2.2): scheme in lower case, percent-escapes of
    unreserved characters decoded, other escapes in upper case; ``file://localhost/`` is
    ``file:///``. What clients send unescaped stays as they sent it."""
    if "%" not in uri and uri[:5] != "FILE:" and not uri.startswith("file://localhost/"):
        return uri  # the common case: nothing to change (no parse)
    try:
        scheme, netloc, path, query, fragment = urlsplit(uri)
    except ValueError:
        return uri
    scheme = scheme.lower()
    if scheme == "file" and netloc.lower() == "localhost":
        netloc = ""
    out = urlunsplit((scheme, _normalize_escapes(netloc), _normalize_escapes(path),
                      _normalize_escapes(query), _normalize_escapes(fragment)))
    if scheme == "file" and uri.lower().startswith("file://") and not out.startswith("file://"):
        out = "file://" + out[len("file:"):]  # keep the empty authority of file:///x
    return out


_URI_KEYS = frozenset({"uri", "rootUri", "targetUri"})


def normalize_uris(value: Any) -> Any:
    """``value`` (raw JSON params) with every URI member normalised (in place)."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key in _URI_KEYS and isinstance(item, str):
                value[key] = normalize_uri(item)
            elif isinstance(item, (dict, list)):
                normalize_uris(item)
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, (dict, list)):
                normalize_uris(item)
    return value


def describe_misfit(exc: BaseException) -> str:
    """A one-line reason from a cattrs structuring error, paths in the wire's camelCase."""
    if isinstance(exc, (cattrs.ClassValidationError, cattrs.IterableValidationError)):
        try:
            return "; ".join(_camel_path(line) for line in cattrs.transform_error(exc))
        except Exception:  # noqa: BLE001 - a message, whatever the shape
            pass
    return str(exc) or type(exc).__name__


def _camel_path(line: str) -> str:
    """'... @ $.params.text_document' -> '... @ $.params.textDocument'."""
    reason, at, path = line.rpartition(" @ ")
    if not at:
        return line
    return f"{reason}{at}{re.sub(r'_([a-z])', lambda m: m.group(1).upper(), path)}"


def _valid_id(value: Any) -> bool:
    return isinstance(value, (int, str)) and not isinstance(value, bool)


# -- framing ----------------------------------------------------------------------------
_HEADER_START = re.compile(rb"content-length[ \t]*:", re.IGNORECASE)


class MessageReader:
    """Message bodies out of a byte stream framed by LSP's base protocol.

    ``read_chunk`` returns the next bytes (b"" at the end of the stream). Header names are
    case-insensitive; a header block without a usable Content-Length is logged and skipped;
    a header that follows garbage on the same line (a body shorter than its Content-Length
    said) still starts the next message.
    """

    def __init__(self, read_chunk: Callable[[], Awaitable[bytes]]):
        self._read_chunk = read_chunk
        self._buffer = bytearray()
        self._eof = False

    async def _fill(self) -> bool:
        if self._eof:
            return False
        chunk = await self._read_chunk()
        if not chunk:
            self._eof = True
            return False
        self._buffer += chunk
        return True

    async def _readline(self) -> bytes | None:
        while True:
            i = self._buffer.find(b"\n")
            if i >= 0:
                line = bytes(self._buffer[: i + 1])
                del self._buffer[: i + 1]
                return line
            if len(self._buffer) > 65536:  # no header line is this long: skip the garbage
                m = _HEADER_START.search(self._buffer, 1)
                keep = m.start() if m else len(self._buffer) - 64
                log.warning("skipped %d bytes of garbage between messages", keep)
                del self._buffer[:keep]
            if not await self._fill():
                if self._buffer:
                    log.warning("the stream ended inside a message (%d bytes dropped)", len(self._buffer))
                    self._buffer.clear()
                return None

    async def _readexactly(self, n: int) -> bytes | None:
        while len(self._buffer) < n:
            if not await self._fill():
                return None
        body = bytes(self._buffer[:n])
        del self._buffer[:n]
        return body

    def unread(self, data: bytes) -> None:
        self._buffer[:0] = data

    async def next_body(self) -> bytes | None:
        """The next message body; None at the end of the stream."""
        while True:
            length: int | None = None
            bad = False
            seen_header = False
            while True:
                line = await self._readline()
                if line is None:
                    return None
                if line.strip() == b"":
                    if seen_header:
                        break
                    continue  # blank lines between messages
                m = _HEADER_START.search(line)
                if m is not None:  # a Content-Length header starts a message: resynchronise
                    if m.start() > 0 or bad:
                        log.warning("garbage before a header: %r", line[: m.start()][:200])
                    line = line[m.start():]
                    length, bad = None, False
                name, sep, value = line.partition(b":")
                if not sep:
                    log.warning("not a header line: %r", line[:200])
                    bad = True
                    seen_header = True
                    continue
                seen_header = True
                if name.strip().lower() == b"content-length":
                    text = value.strip()
                    if text.isdigit() and int(text) <= MAX_CONTENT_LENGTH:
                        length = int(text)
                    else:
                        log.warning("bad Content-Length %r: message skipped", text[:40])
                        bad = True
            if bad or length is None:
                if length is None and not bad:
                    log.warning("a header block without Content-Length: skipped")
                continue
            body = await self._readexactly(length)
            if body is None:
                log.warning("the stream ended inside a message body")
                return None
            return body

    def resync(self, body: bytes) -> bytes:
        """``body`` did not parse: when a next header hides inside it (its Content-Length was
        too long), give the rest back to the stream and return what came before it."""
        m = _HEADER_START.search(body, 1)
        if m is None:
            return body
        self.unread(body[m.start():])
        return body[: m.start()]


# -- the protocol -----------------------------------------------------------------------
class R1Protocol(LanguageServerProtocol):
    def __init__(self, server, converter):
        super().__init__(server, converter)
        self._initialize_seen = False
        self.exited = False

    # -- documents: the server's store is the only copy --------------------------------
    def _user(self, method: str, params: Any):
        if (handler := self.fm.features.get(method)) is not None:
            yield handler, (params,), None

    @lsp_method(types.TEXT_DOCUMENT_DID_OPEN)
    def lsp_text_document__did_open(self, params: types.DidOpenTextDocumentParams):
        yield from self._user(types.TEXT_DOCUMENT_DID_OPEN, params)

    @lsp_method(types.TEXT_DOCUMENT_DID_CHANGE)
    def lsp_text_document__did_change(self, params: types.DidChangeTextDocumentParams):
        yield from self._user(types.TEXT_DOCUMENT_DID_CHANGE, params)

    @lsp_method(types.TEXT_DOCUMENT_DID_CLOSE)
    def lsp_text_document__did_close(self, params: types.DidCloseTextDocumentParams):
        yield from self._user(types.TEXT_DOCUMENT_DID_CLOSE, params)

    @lsp_method(types.EXIT)
    def lsp_exit(self, *args):
        if (handler := self.fm.features.get(types.EXIT)) is not None:
            yield handler, args, None
        self._server.exit_code = 0 if self._shutdown else 1
        self.exited = True
        self._server.stop_reading()

    # -- sending ------------------------------------------------------------------------
    def send_error(self, msg_id: Any, code: int, message: str) -> None:
        self._send_data({"jsonrpc": "2.0", "id": msg_id, "error": {"code": code, "message": message}})

    def _handle_cancel_notification(self, msg_id):
        future = self._request_futures.get(msg_id)
        if future is None:
            log.debug("$/cancelRequest for %r: no such request in flight", msg_id)
            return
        if future.cancel():  # answered -32800 by the future's callback
            self._request_futures.pop(msg_id, None)
            log.debug("cancelled request %r", msg_id)

    # -- receiving ----------------------------------------------------------------------
    def receive(self, body: bytes) -> bool:
        """Handle one message body; False when it is not JSON (the caller may resync)."""
        try:
            data = json.loads(body, parse_constant=_reject_constant)
        except (ValueError, RecursionError) as exc:
            log.warning("unparseable message (%s): %r", exc, body[:200])
            return False
        self.receive_object(data)
        return True

    def parse_error(self, body: bytes) -> None:
        self.send_error(None, PARSE_ERROR, f"Parse error: the message is not JSON ({len(body)} bytes)")

    def receive_object(self, data: Any) -> None:
        if isinstance(data, list):
            log.warning("a JSON-RPC batch (LSP has none): answered InvalidRequest")
            self.send_error(None, INVALID_REQUEST, "Invalid request: LSP messages are single JSON objects, not batches")
            return
        if not isinstance(data, dict):
            log.warning("a message that is not an object: %r", data)
            self.send_error(None, INVALID_REQUEST, "Invalid request: a message must be a JSON object")
            return
        has_id = "id" in data
        msg_id = data.get("id")
        if "method" not in data:
            if has_id and ("result" in data or "error" in data):
                self._receive_response(data)
                return
            log.warning("a message that is neither request, notification nor response: %.200r", data)
            self.send_error(msg_id if _valid_id(msg_id) else None, INVALID_REQUEST,
                            "Invalid request: no method, result or error")
            return
        method = data["method"]
        if has_id and not _valid_id(msg_id):
            log.warning("request with an invalid id %.100r", msg_id)
            self.send_error(None, INVALID_REQUEST, "Invalid request: an id must be an integer or a string")
            return
        reply = msg_id if has_id else None
        if data.get("jsonrpc") != "2.0":
            log.warning("a message without jsonrpc \"2.0\": %.200r", data)
            if has_id:
                self.send_error(reply, INVALID_REQUEST, 'Invalid request: "jsonrpc" must be "2.0"')
            return
        if not isinstance(method, str):
            log.warning("a message whose method is not a string: %.200r", data)
            if has_id:
                self.send_error(reply, INVALID_REQUEST, "Invalid request: the method must be a string")
            return
        params = data.get("params")
        if params is not None and not isinstance(params, (dict, list)):
            log.warning("%s: params neither object nor array", method)
            if has_id:
                self.send_error(reply, INVALID_PARAMS, f"Invalid params: the params of {method} must be an object or an array")
            return
        normalize_uris(params)
        if has_id:
            self._receive_request(msg_id, method, data)
        else:
            self._receive_notification(method, data)

    def _message_type(self, method: str):
        entry = types.METHOD_TO_TYPES.get(method)
        return entry[0] if entry else REQUEST_TYPES.get(method)

    def _structure(self, method: str, data: dict, msg_type) -> Any:
        message = {k: data[k] for k in ("jsonrpc", "id", "method", "params") if k in data}
        if method in (types.SHUTDOWN, types.EXIT):
            message.pop("params", None)  # no params by definition: whatever came is ignored
        elif method in REQUEST_TYPES and message.get("params") is None:
            message["params"] = {}  # the answer names the missing members, not a missing object
        return self._converter.structure(message, msg_type).params

    def _receive_request(self, msg_id: Any, method: str, data: dict) -> None:
        if self._shutdown:
            log.warning("request %r (%s) after shutdown: answered InvalidRequest", msg_id, method)
            self.send_error(msg_id, INVALID_REQUEST, f"Invalid request: the server is shut down ({method} after shutdown)")
            return
        if method == types.INITIALIZE and self._initialize_seen:
            self.send_error(msg_id, INVALID_REQUEST, "Invalid request: initialize may be sent only once")
            return
        if method != types.INITIALIZE and not self._initialize_seen:
            self.send_error(msg_id, SERVER_NOT_INITIALIZED, f"Server not initialized: {method} before initialize")
            return
        msg_type = self._message_type(method)
        if msg_type is not None and "id" not in attrs.fields_dict(msg_type):
            log.warning("notification %s sent as a request (id %r)", method, msg_id)
            self.send_error(msg_id, METHOD_NOT_FOUND, f"Method not found: {method} is a notification, not a request")
            return
        if msg_type is None and method not in self.fm.features and method not in self.fm.builtin_features:
            log.info("request for an unknown method %r", method)
            self.send_error(msg_id, METHOD_NOT_FOUND, f"Method not found: {method}")
            return
        if msg_type is not None:
            try:
                params = self._structure(method, data, msg_type)
            except Exception as exc:  # noqa: BLE001 - any misfit is the client's params
                reason = describe_misfit(exc)
                log.warning("request %r: invalid params for %s: %s", msg_id, method, reason)
                self.send_error(msg_id, INVALID_PARAMS, f"Invalid params for {method}: {reason}")
                return
        else:
            params = data.get("params")
        if method == types.INITIALIZE:
            self._initialize_seen = True
        contextvars.copy_context().run(self._handle_request, msg_id, method, params)

    def _receive_notification(self, method: str, data: dict) -> None:
        if method == types.EXIT:
            contextvars.copy_context().run(self._handle_notification, method, None)
            return
        if self._shutdown:
            log.info("notification %s after shutdown: ignored", method)
            return
        if not self._initialize_seen:
            log.info("notification %s before initialize: ignored", method)
            return
        if method == types.CANCEL_REQUEST:
            params = data.get("params")
            target = params.get("id") if isinstance(params, dict) else None
            if _valid_id(target):
                self._handle_cancel_notification(target)
            else:
                log.warning("$/cancelRequest with an invalid id: %.100r", params)
            return
        msg_type = self._message_type(method)
        if msg_type is not None and "id" in attrs.fields_dict(msg_type):
            log.warning("request %s sent as a notification (no id): ignored", method)
            return
        if method not in self.fm.features and method not in self.fm.builtin_features:
            log.log(logging.DEBUG if method.startswith("$/") else logging.INFO,
                    "notification for an unknown method %r: ignored", method)
            return
        if msg_type is not None:
            try:
                params = self._structure(method, data, msg_type)
            except Exception as exc:  # noqa: BLE001
                log.warning("notification %s with invalid params: %s", method, describe_misfit(exc))
                return
        else:
            params = data.get("params")
        contextvars.copy_context().run(self._handle_notification, method, params)

    def _receive_response(self, data: dict) -> None:
        msg_id = data.get("id")
        if not _valid_id(msg_id):
            log.warning("a response with an invalid id: %.200r", data)
            return
        result_type = self._result_types.pop(msg_id, None)
        if msg_id not in self._request_futures:
            log.warning("a response to unknown request %r", msg_id)
            return
        if "error" in data:
            error = data["error"]
            try:
                structured = self._converter.structure(error, types.ResponseError)
            except Exception:  # noqa: BLE001
                structured = types.ResponseError(code=-32603, message=f"{error!r:.200}")
            self._handle_response(msg_id, None, structured)
            return
        result = data.get("result")
        if result_type is not None:
            try:
                result = self._converter.structure(
                    {"jsonrpc": "2.0", "id": msg_id, "result": result}, result_type).result
            except Exception as exc:  # noqa: BLE001
                log.warning("response %r: unreadable result: %s", msg_id, describe_misfit(exc))
                future = self._request_futures.pop(msg_id)
                if not future.done():
                    future.set_exception(ValueError(f"unreadable result: {describe_misfit(exc)}"))
                return
        self._handle_response(msg_id, result)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


# -- the reading loops ------------------------------------------------------------------
async def serve(reader: MessageReader, protocol: R1Protocol) -> None:
    """Read and dispatch messages until the end of the stream (``exit`` cancels this task)."""
    while not protocol.exited:
        body = await reader.next_body()
        if body is None:
            log.info("the client closed the stream")
            return
        try:
            if not protocol.receive(body):
                head = reader.resync(body)
                if head is body or not protocol.receive(head):
                    protocol.parse_error(body)
        except Exception:  # noqa: BLE001 - one message never ends the loop
            log.exception("failed to handle a message")


def stdin_chunks(stream, loop: asyncio.AbstractEventLoop) -> Callable[[], Awaitable[bytes]]:
    """``read_chunk`` for a blocking binary stream, read by a daemon thread (never joined: it
    may sit in a read when the server exits)."""
    queue: asyncio.Queue[bytes] = asyncio.Queue()

    def pump() -> None:
        read = getattr(stream, "read1", stream.read)
        while True:
            try:
                chunk = read(65536)
            except (OSError, ValueError):
                chunk = b""
            loop.call_soon_threadsafe(queue.put_nowait, chunk)
            if not chunk:
                return

    threading.Thread(target=pump, name="r1lsp-stdin", daemon=True).start()
    return queue.get
