"""Request size limits: a per-route body cap (413) and a header cap (431).

``BodyLimit`` (ASGI middleware) never reads a body itself: it wraps ``receive`` so that the
route reads at most its route's cap (``Content-Length`` above the cap is refused at the first
read, a chunked body once it passes the cap). A route authenticates before it reads, so an
unauthenticated caller gets 401 whatever it sends. A response sent while a body within the cap is
still unread first drains it (the connection stays usable); one sent while a larger or chunked
body is unread carries ``Connection: close`` so that uvicorn drops the connection instead of
reading the rest (RFC 9112 §9.6). Routes without a cap may not read a body at all.

``LimitedHttpToolsProtocol`` is uvicorn's httptools protocol with a cap on the request line
plus headers (httptools has none): past ``HEAD_LIMIT`` bytes it answers 431 (RFC 6585 §5) and
closes. uvicorn's h11 protocol gets the same cap from ``h11_max_incomplete_event_size``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import HTTPException
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

HEAD_LIMIT = 32 * 1024
"""Bytes of request line and headers accepted (nginx's large_client_header_buffers: 4 × 8k)."""


def _content_length(scope: Scope) -> tuple[int | None, bool]:
    """(Content-Length, whether a body is announced at all)."""
    length: int | None = None
    chunked = False
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                length = int(value)
            except ValueError:
                length = None
        elif name == b"transfer-encoding":
            chunked = True
    return length, chunked or bool(length)


class BodyLimit:
    """Caps request bodies per route path (``{"/panel/{room}/dial": 1024}``); other paths 0."""

    def __init__(self, app: ASGIApp, *, limits: Mapping[str, int]) -> None:
        self.app = app
        self.limits = [(compile_path(path)[0], limit) for path, limit in limits.items()]

    def _limit(self, scope: Scope) -> int:
        path = scope.get("path", "")
        return next((limit for regex, limit in self.limits if regex.match(path)), 0)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length, has_body = _content_length(scope)
        if not has_body:
            await self.app(scope, receive, send)
            return
        limit = self._limit(scope)
        read = 0
        done = False

        def too_large() -> HTTPException:
            return HTTPException(413, f"request body larger than {limit} bytes")

        async def limited_receive() -> Message:
            nonlocal read, done
            if length is not None and length > limit:
                raise too_large()
            message = await receive()
            if message["type"] == "http.request":
                read += len(message.get("body", b""))
                if read > limit:
                    raise too_large()
                done = not message.get("more_body", False)
            return message

        async def closing_send(message: Message) -> None:
            starting = message["type"] == "http.response.start"
            if starting and not done and length is not None and length <= limit:
                # an unread body within the route's cap is drained, so the connection stays
                # open: clients such as exchangelib treat a 401 with "Connection: close" as a
                # busy server instead of a refusal
                while not done:
                    await limited_receive()
            if message["type"] == "http.response.start" and not done:
                headers = [(k, v) for k, v in message.get("headers", []) if k != b"connection"]
                message = {**message, "headers": [*headers, (b"connection", b"close")]}
            await send(message)

        await self.app(scope, limited_receive, closing_send)


_HEAD_TOO_LARGE = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
    b"content-type: text/plain; charset=utf-8\r\ncontent-length: 32\r\nconnection: close\r\n\r\n"
    b"request header fields too large\n"
)


LINGER_SECONDS = 2.0
LINGER_BYTES = 1024 * 1024


class _LingeringTransport:
    """The transport as a request cycle sees it: closing while the request's body is still
    arriving half-closes instead (the response, then FIN) and leaves the protocol to discard
    what follows for at most ``LINGER_SECONDS``/``LINGER_BYTES``. Closing at once would make the
    kernel answer the unread body with a reset that can destroy the response before the client
    reads it (the lingering close of RFC 9112 §9.6, as in nginx and Apache)."""

    def __init__(self, protocol: LimitedHttpToolsProtocol, cycle: Any) -> None:
        self._protocol = protocol
        self._cycle = cycle
        self._transport = protocol.transport

    def close(self) -> None:
        if self._cycle.more_body and self._transport.can_write_eof():
            self._protocol.linger()
        else:
            self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol refusing heads longer than ``HEAD_LIMIT`` with 431, and
    closing connections whose request body went unread without a reset (``_LingeringTransport``).

    httptools buffers a header until its line ends, so the bytes of every chunk that ends
    inside a head are counted as they arrive (an estimate that never undercounts).
    """

    head_limit = HEAD_LIMIT

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_head = True
        self._head_bytes = 0
        self._lingering: int | None = None

    def linger(self) -> None:
        """Send FIN after the response and discard the rest of the request for a while."""
        if self.transport.is_closing():
            return
        self._lingering = 0
        self.transport.write_eof()
        self.loop.call_later(LINGER_SECONDS, self._stop_lingering)

    def _stop_lingering(self) -> None:
        if not self.transport.is_closing():
            self.transport.close()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head = True

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._head_bytes = 0
        before = self.cycle
        super().on_headers_complete()
        if self.cycle is not None and self.cycle is not before:
            self.cycle.transport = _LingeringTransport(self, self.cycle)  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if self._lingering is not None:
            self._lingering += len(data)
            if self._lingering > LINGER_BYTES:
                self._stop_lingering()
            return
        super().data_received(data)
        if self._in_head and not self.transport.is_closing():
            self._head_bytes += len(data)
            if self._head_bytes > self.head_limit:
                self.logger.warning("request head over %d bytes refused (431)", self.head_limit)
                self.transport.write(_HEAD_TOO_LARGE)
                self.transport.close()
