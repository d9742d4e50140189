"""Scripted HTTP server base shared by the Google Calendar, Graph and EWS fakes.

A fake is a ``ThreadingHTTPServer`` on 127.0.0.1 port 0 served from a background thread (start
it with ``with Fake() as fake`` or ``fake.start()``/``fake.stop()``). It keeps counters
(requests per path and per room) and the server's own cumulative request-handling time, and it
can be scripted to fail: an HTTP status with an optional ``Retry-After``, a raw body, a delay or
a hang (held until the client gives up or the fake stops).
"""

from __future__ import annotations

import ipaddress
import itertools
import ssl
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """Write a self-signed certificate for 127.0.0.1/localhost; returns (cert, key) paths."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "fake-cert.pem", directory / "fake-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@dataclass(kw_only=True)
class Failure:
    """One scripted failure; ``times`` counts down, ``None`` = until cleared."""

    status: int = 503
    body: bytes = b""
    content_type: str = "application/json; charset=UTF-8"
    headers: Mapping[str, str] = field(default_factory=dict)
    retry_after: float | None = None
    hang: float = 0.0
    delay: float = 0.0
    room: str | None = None
    path_contains: str | None = None
    times: int | None = 1

    def matches(self, path: str, room: str | None) -> bool:
        if self.room is not None and (room or "").lower() != self.room.lower():
            return False
        return self.path_contains is None or self.path_contains in path


@dataclass(kw_only=True)
class Response:
    """What a fake's route returns."""

    status: int = 200
    body: bytes = b""
    content_type: str = "application/json; charset=UTF-8"
    headers: Mapping[str, str] = field(default_factory=dict)
    stream: Iterable[bytes] | None = None
    """Sent after ``body`` with chunked transfer coding (RFC 9112 7.1), one chunk each, flushed."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body leave at once (no 40 ms delayed-ACK stall)
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        return

    def _serve(self) -> None:
        fake = self.server.fake
        began = time.perf_counter()
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        try:
            response = fake._dispatch(self.command, self.path, self.headers, body)
        except Exception as exc:  # a bug in the fake must show up as a 500, not a hang
            response = Response(status=500, body=f"fake error: {exc!r}".encode())
        if response is None:  # hung: close without answering
            self.close_connection = True
            fake._add_time(time.perf_counter() - began)
            return
        try:
            self.send_response(response.status)
            self.send_header("Content-Type", response.content_type)
            if response.stream is None:
                self.send_header("Content-Length", str(len(response.body)))
            else:
                self.send_header("Transfer-Encoding", "chunked")
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.end_headers()
            if response.stream is not None:
                self._chunked(response.body, response.stream)
            elif self.command != "HEAD":
                self.wfile.write(response.body)
        except OSError:
            self.close_connection = True
        fake._add_time(time.perf_counter() - began)

    def _chunked(self, first: bytes, rest: Iterable[bytes]) -> None:
        for chunk in itertools.chain((first,), rest):
            if chunk:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve  # noqa: N815
    do_PROPFIND = do_REPORT = do_MKCALENDAR = do_PROPPATCH = _serve  # noqa: N815 (WebDAV)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 256
    fake: ScriptedHTTPServer


class ScriptedHTTPServer:
    """Base of the fakes: lifecycle, counters, scripted failures; subclasses implement ``route``."""

    def __init__(self, *, tls: tuple[Path, Path] | None = None) -> None:
        self._tls = tls
        self._lock = threading.Lock()
        self._failures: list[Failure] = []
        self._released = threading.Event()
        self.requests_by_path: Counter[str] = Counter()
        self.requests_by_room: Counter[str] = Counter()
        self.http_requests = 0
        self.handling_seconds = 0.0
        self.request_log: list[tuple[str, str]] = []
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # lifecycle -----------------------------------------------------------------------------
    def start(self) -> Self:
        """Bind 127.0.0.1 port 0 and serve from a daemon thread."""
        server = _Server(("127.0.0.1", 0), _Handler)
        server.fake = self
        if self._tls is not None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(str(self._tls[0]), str(self._tls[1]))
            server.socket = context.wrap_socket(
                server.socket, server_side=True, do_handshake_on_connect=False
            )
        self._server = server
        self._released.clear()
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Release hung requests and stop serving."""
        self._released.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "fake not started"
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        """``http(s)://127.0.0.1:PORT`` without a trailing slash."""
        return f"{'https' if self._tls else 'http'}://127.0.0.1:{self.port}"

    # scripting -----------------------------------------------------------------------------
    def fail(
        self,
        status: int = 503,
        *,
        retry_after: float | None = None,
        room: str | None = None,
        path_contains: str | None = None,
        times: int | None = 1,
        body: bytes | None = None,
        content_type: str = "application/json; charset=UTF-8",
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Answer the next matching request(s) with ``status`` (and ``Retry-After``)."""
        extra = dict(headers or {})
        if retry_after is not None:
            extra["Retry-After"] = f"{retry_after:g}"
        self._script(
            Failure(
                status=status,
                body=self.error_body(status) if body is None else body,
                content_type=content_type,
                headers=extra,
                retry_after=retry_after,
                room=room,
                path_contains=path_contains,
                times=times,
            )
        )

    def hang(
        self,
        seconds: float = 30.0,
        *,
        room: str | None = None,
        path_contains: str | None = None,
        times: int | None = 1,
    ) -> None:
        """Hold the next matching request(s) without answering (until ``seconds`` or ``stop``)."""
        self._script(Failure(hang=seconds, room=room, path_contains=path_contains, times=times))

    def delay(
        self,
        seconds: float,
        *,
        room: str | None = None,
        path_contains: str | None = None,
        times: int | None = None,
    ) -> None:
        """Answer matching requests normally, but only after ``seconds``."""
        self._script(Failure(delay=seconds, room=room, path_contains=path_contains, times=times))

    def clear_failures(self) -> None:
        with self._lock:
            self._failures.clear()

    def reset_counters(self) -> None:
        with self._lock:
            self.requests_by_path.clear()
            self.requests_by_room.clear()
            self.http_requests = 0
            self.handling_seconds = 0.0
            self.request_log.clear()

    @property
    def total_requests(self) -> int:
        """HTTP requests received."""
        with self._lock:
            return self.http_requests

    def _script(self, failure: Failure) -> None:
        with self._lock:
            self._failures.append(failure)

    # subclass hooks ------------------------------------------------------------------------
    def room_of(self, path: str) -> str | None:
        """The room a request is about (for counters and room-scoped failures)."""
        return None

    def error_body(self, status: int) -> bytes:
        """The body of a scripted error in the service's own error format."""
        return b""

    def route(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Response:
        raise NotImplementedError

    # dispatch ------------------------------------------------------------------------------
    def _add_time(self, seconds: float) -> None:
        with self._lock:
            self.handling_seconds += seconds

    def _take_failure(self, path: str, room: str | None) -> Failure | None:
        with self._lock:
            for failure in self._failures:
                if failure.matches(path, room):
                    if failure.times is not None:
                        failure.times -= 1
                        if failure.times <= 0:
                            self._failures.remove(failure)
                    return failure
        return None

    def count(self, path: str, room: str | None) -> None:
        """Count one API call per path and room."""
        with self._lock:
            self.requests_by_path[path] += 1
            if room is not None:
                self.requests_by_room[room.lower()] += 1

    def _dispatch(
        self, method: str, raw_path: str, headers: Mapping[str, str], body: bytes
    ) -> Response | None:
        path = urlsplit(raw_path).path
        room = self.room_of(raw_path)
        self.count(path, room)
        with self._lock:
            self.http_requests += 1
            self.request_log.append((method, raw_path))
        failure = self._take_failure(path, room)
        if failure is not None:
            if failure.hang:
                self._released.wait(failure.hang)
                return None
            if failure.delay:
                self._released.wait(failure.delay)
            else:
                return Response(
                    status=failure.status,
                    body=failure.body,
                    content_type=failure.content_type,
                    headers=failure.headers,
                )
        return self.route(method, raw_path, headers, body)


Clock = Callable[[], float]
