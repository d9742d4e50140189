"""UDP/TCP/TLS transports on loopback sockets: rport, 400 replies, framing, reuse, TLS names."""

from __future__ import annotations

import asyncio
import socket
import ssl
from pathlib import Path

import pytest

from guestjoin.conntrack import ConnectionPolicy
from guestjoin.gateway import run
from guestjoin.sip import Message, Request, make_response, parse_message
from guestjoin.tlscert import client_context, self_signed_pem
from guestjoin.transport.interfaces import TransportError
from guestjoin.transport.layer import TransportLayer
from guestjoin.values import Received, Target
from tests.unit.gateway.support import server_context

INVITE = (
    "INVITE sip:abc-defg-hij@google.pexip.me SIP/2.0\r\n"
    "Via: SIP/2.0/{transport} 192.0.2.10:5060;branch=z9hG4bK{branch};rport\r\n"
    "Max-Forwards: 70\r\n"
    "From: <sip:fjord@example.com>;tag=1\r\n"
    "To: <sip:abc-defg-hij@google.pexip.me>\r\n"
    "Call-ID: {branch}@test\r\n"
    "CSeq: 1 INVITE\r\n"
    "Content-Length: 0\r\n\r\n"
)


def invite(branch: str, transport: str = "UDP") -> bytes:
    return INVITE.format(branch=branch, transport=transport).encode()


class Inbox:
    def __init__(self) -> None:
        self.queue: asyncio.Queue[tuple[Message, Received]] = asyncio.Queue()

    def __call__(self, msg: Message, received: Received) -> None:
        self.queue.put_nowait((msg, received))

    async def get(self) -> tuple[Message, Received]:
        return await asyncio.wait_for(self.queue.get(), 5)


async def udp_roundtrip(sock: socket.socket, data: bytes, addr: tuple[str, int]) -> bytes:
    loop = asyncio.get_running_loop()
    sock.sendto(data, addr)
    return await asyncio.wait_for(loop.sock_recv(sock, 65535), 5)


@pytest.fixture
def udp_client() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.setblocking(False)
    yield sock
    sock.close()


async def test_udp_request_is_stamped_with_received_and_rport(udp_client: socket.socket) -> None:
    inbox = Inbox()
    layer = TransportLayer(inbox)
    lst = await layer.listen("udp", "127.0.0.1", 0)
    try:
        udp_client.sendto(invite("a1"), ("127.0.0.1", lst.port))
        msg, received = await inbox.get()
        assert isinstance(msg, Request)
        via = msg.top_via
        assert via.received == "127.0.0.1"
        assert via.rport == udp_client.getsockname()[1]
        assert received.transport == "udp"
        assert received.remote == udp_client.getsockname()
        # the response goes back to the source port (RFC 3581), not to the Via's 5060
        resp = make_response(msg, 180)
        layer.send_response(resp.to_bytes(), msg.top_via, received)
        data = await asyncio.wait_for(asyncio.get_running_loop().sock_recv(udp_client, 65535), 5)
        assert data.startswith(b"SIP/2.0 180 Ringing")
    finally:
        await layer.close()


@pytest.mark.parametrize(
    ("mutation", "expected"),
    [
        (
            (b"Content-Length: 0", b"Content-Length: 10"),
            b"SIP/2.0 400 Body shorter than Content-Length",
        ),
        ((b"CSeq: 1 INVITE", b"CSeq: 1 BYE"), b"SIP/2.0 400 CSeq method does not match"),
        ((b"SIP/2.0\r\n", b"SIP/3.0\r\n"), b"SIP/2.0 505 Unsupported SIP version"),
    ],
)
async def test_malformed_udp_request_gets_a_400_with_the_reason(
    udp_client: socket.socket, mutation: tuple[bytes, bytes], expected: bytes
) -> None:
    inbox = Inbox()
    layer = TransportLayer(inbox)
    lst = await layer.listen("udp", "127.0.0.1", 0)
    try:
        reply = await udp_roundtrip(
            udp_client, invite("bad").replace(*mutation, 1), ("127.0.0.1", lst.port)
        )
        assert reply.startswith(expected)
        resp = parse_message(reply)
        assert resp.call_id == "bad@test"
        # and the next good request is still served
        udp_client.sendto(invite("good"), ("127.0.0.1", lst.port))
        msg, _ = await inbox.get()
        assert msg.call_id == "good@test"
        assert inbox.queue.empty()
    finally:
        await layer.close()


async def test_tcp_framing_keepalive_and_garbage() -> None:
    inbox = Inbox()
    layer = TransportLayer(inbox)
    lst = await layer.listen("tcp", "127.0.0.1", 0)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", lst.port)
        two = invite("t1", "TCP") + invite("t2", "TCP")
        writer.write(two[:37])
        await writer.drain()
        writer.write(two[37:] + b"\r\n\r\n")
        await writer.drain()
        first, received = await inbox.get()
        second, _ = await inbox.get()
        assert (first.call_id, second.call_id) == ("t1@test", "t2@test")
        assert await asyncio.wait_for(reader.readexactly(2), 5) == b"\r\n"  # pong
        assert received.connection is not None
        # a response goes back over the same connection
        assert isinstance(first, Request)
        layer.send_response(make_response(first, 100).to_bytes(), first.top_via, received)
        line = await asyncio.wait_for(reader.readline(), 5)
        assert line == b"SIP/2.0 100 Trying\r\n"
        # garbage that cannot be framed closes this connection only
        writer.write(b"X" * 20000)
        await writer.drain()
        assert await asyncio.wait_for(reader.read(), 5) is not None
        _reader2, writer2 = await asyncio.open_connection("127.0.0.1", lst.port)
        writer2.write(invite("t3", "TCP"))
        await writer2.drain()
        third, _ = await inbox.get()
        assert third.call_id == "t3@test"
        writer.close()
        writer2.close()
    finally:
        await layer.close()


async def test_tcp_wrong_content_length_is_answered_on_the_stream() -> None:
    inbox = Inbox()
    layer = TransportLayer(inbox)
    lst = await layer.listen("tcp", "127.0.0.1", 0)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", lst.port)
        writer.write(invite("cl", "TCP").replace(b"Content-Length: 0", b"Content-Length: abc"))
        await writer.drain()
        # framing is impossible: the connection is closed and nothing is delivered
        assert await asyncio.wait_for(reader.read(), 5) == b""
        assert inbox.queue.empty()
        writer.close()
    finally:
        await layer.close()


async def test_outgoing_tcp_connections_are_reused() -> None:
    accepted = 0
    received: list[bytes] = []
    done = asyncio.Event()

    async def server(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal accepted
        accepted += 1
        while b"".join(received).count(b"INVITE sip:") < 2:
            data = await reader.read(65536)
            if not data:
                break
            received.append(data)
        done.set()

    srv = await asyncio.start_server(server, "127.0.0.1", 0)
    port = srv.sockets[0].getsockname()[1]
    layer = TransportLayer(Inbox())
    await layer.listen("tcp", "127.0.0.1", 0)
    try:
        target = Target(transport="tcp", host="127.0.0.1", port=port)
        await layer.send(invite("r1", "TCP"), target)
        await layer.send(invite("r2", "TCP"), target)
        await asyncio.wait_for(done.wait(), 5)
        assert accepted == 1
    finally:
        await layer.close()
        srv.close()


async def test_connect_failure_is_a_transport_error() -> None:
    layer = TransportLayer(Inbox())
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(TransportError):
        await layer.send(b"x", Target(transport="tcp", host="127.0.0.1", port=port))
    await layer.close()


@pytest.fixture
def tls_pair(tmp_path: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    cert, key = self_signed_pem(("google.pexip.me", "127.0.0.1"))
    (tmp_path / "ca.pem").write_bytes(cert)
    return server_context(cert, key), client_context(str(tmp_path / "ca.pem"))


async def test_tls_verifies_the_uri_domain(tls_pair: tuple[ssl.SSLContext, ssl.SSLContext]) -> None:
    server_ctx, client_ctx = tls_pair
    inbox = Inbox()
    server = TransportLayer(inbox, tls_server=server_ctx)
    lst = await server.listen("tls", "127.0.0.1", 0)
    client = TransportLayer(Inbox(), tls_client=client_ctx)
    try:
        good = Target(transport="tls", host="127.0.0.1", port=lst.port, tls_name="google.pexip.me")
        await client.send(invite("tls1", "TLS"), good)
        msg, received = await inbox.get()
        assert msg.call_id == "tls1@test"
        assert received.transport == "tls"
        bad = Target(transport="tls", host="127.0.0.1", port=lst.port, tls_name="evil.example.com")
        with pytest.raises(TransportError, match="certificate"):
            await client.send(invite("tls2", "TLS"), bad)
    finally:
        await client.close()
        await server.close()


async def test_local_host_resolves_a_wildcard_bind() -> None:
    layer = TransportLayer(Inbox())
    lst = await layer.listen("udp", "0.0.0.0", 0)
    try:
        host, port = layer.local_host("udp", "127.0.0.1")
        assert (host, port) == ("127.0.0.1", lst.port)
        assert layer.is_local("127.0.0.1", lst.port)
        assert not layer.is_local("127.0.0.1", lst.port + 1 if lst.port < 65535 else 1)
    finally:
        await layer.close()


async def test_connections_beyond_the_limit_are_refused() -> None:
    inbox = Inbox()
    layer = TransportLayer(inbox, policy=ConnectionPolicy(max_connections=2))
    lst = await layer.listen("tcp", "127.0.0.1", 0)
    try:
        kept = [await asyncio.open_connection("127.0.0.1", lst.port) for _ in range(2)]
        for n, (_, writer) in enumerate(kept):
            writer.write(invite(f"kept{n}", "TCP"))  # a SIP message: these speak SIP
        for _ in kept:
            await inbox.get()
        reader, writer = await asyncio.open_connection("127.0.0.1", lst.port)
        assert await asyncio.wait_for(reader.read(), 5) == b""  # closed at once
        for _, w in [*kept, (reader, writer)]:
            w.close()
    finally:
        await layer.close()


async def test_at_the_limit_a_silent_connection_makes_room_for_a_new_one() -> None:
    inbox = Inbox()
    layer = TransportLayer(inbox, policy=ConnectionPolicy(max_connections=2))
    lst = await layer.listen("tcp", "127.0.0.1", 0)
    try:
        silent_reader, silent = await asyncio.open_connection("127.0.0.1", lst.port)
        speaking_reader, speaking = await asyncio.open_connection("127.0.0.1", lst.port)
        speaking.write(invite("speaks", "TCP"))
        await inbox.get()
        _reader, writer = await asyncio.open_connection("127.0.0.1", lst.port)
        assert await asyncio.wait_for(silent_reader.read(), 5) == b""  # evicted
        writer.write(invite("new", "TCP"))
        msg, _ = await inbox.get()
        assert msg.call_id == "new@test"
        speaking.write(b"\r\n\r\n")
        assert await asyncio.wait_for(speaking_reader.readexactly(2), 5) == b"\r\n"
        for w in (silent, speaking, writer):
            w.close()
    finally:
        await layer.close()


async def test_one_source_cannot_take_every_connection() -> None:
    inbox = Inbox()
    layer = TransportLayer(inbox, policy=ConnectionPolicy(max_per_source=3))
    lst = await layer.listen("tcp", "0.0.0.0", 0)
    try:
        flood = [await asyncio.open_connection("127.0.0.1", lst.port) for _ in range(3)]
        reader, writer = await asyncio.open_connection("127.0.0.1", lst.port)
        assert await asyncio.wait_for(reader.read(), 5) == b""  # the fourth: closed at once
        other_reader, other = await asyncio.open_connection(
            "127.0.0.1", lst.port, local_addr=("127.0.0.2", 0)
        )
        other.write(invite("other", "TCP"))
        msg, received = await inbox.get()
        assert (msg.call_id, received.remote[0]) == ("other@test", "127.0.0.2")
        for _, w in [*flood, (reader, writer), (other_reader, other)]:
            w.close()
    finally:
        await layer.close()


async def test_silent_and_idle_connections_are_closed() -> None:
    inbox = Inbox()
    policy = ConnectionPolicy(first_message_timeout=0.4, idle_timeout=1.2)
    layer = TransportLayer(inbox, policy=policy)
    lst = await layer.listen("tcp", "127.0.0.1", 0)
    loop = asyncio.get_running_loop()
    try:
        started = loop.time()
        silent_reader, silent = await asyncio.open_connection("127.0.0.1", lst.port)
        pinging_reader, pinging = await asyncio.open_connection("127.0.0.1", lst.port)
        speaking_reader, speaking = await asyncio.open_connection("127.0.0.1", lst.port)
        speaking.write(invite("speaks", "TCP"))
        await inbox.get()
        pinging.write(b"\r\n\r\n")  # keep-alive pings are not SIP messages
        assert await asyncio.wait_for(pinging_reader.readexactly(2), 5) == b"\r\n"
        assert await asyncio.wait_for(silent_reader.read(), 5) == b""
        assert await asyncio.wait_for(pinging_reader.read(), 5) == b""
        assert loop.time() - started < 1.2
        assert not speaking_reader.at_eof()  # a SIP peer stays until idle
        assert await asyncio.wait_for(speaking_reader.read(), 5) == b""
        assert loop.time() - started >= 1.2
        for w in (silent, pinging, speaking):
            w.close()
    finally:
        await layer.close()


async def test_tls_without_a_handshake_is_closed_and_counts_against_the_source(
    tls_pair: tuple[ssl.SSLContext, ssl.SSLContext],
) -> None:
    await _tls_handshake_limits(*tls_pair)


def test_tls_handshake_limits_on_uvloop(tls_pair: tuple[ssl.SSLContext, ssl.SSLContext]) -> None:
    run(_tls_handshake_limits(*tls_pair))  # the event loop the gateway runs on


async def _tls_handshake_limits(server_ctx: ssl.SSLContext, client_ctx: ssl.SSLContext) -> None:
    inbox = Inbox()
    policy = ConnectionPolicy(tls_handshake_timeout=0.3, max_per_source=2)
    server = TransportLayer(inbox, tls_server=server_ctx, policy=policy)
    lst = await server.listen("tls", "127.0.0.1", 0)
    loop = asyncio.get_running_loop()
    try:
        started = loop.time()
        raw = [await asyncio.open_connection("127.0.0.1", lst.port) for _ in range(3)]
        assert await asyncio.wait_for(raw[2][0].read(), 5) == b""  # over the cap: at once
        assert await asyncio.wait_for(raw[0][0].read(), 5) == b""  # no handshake: closed
        assert loop.time() - started < 2
        client = TransportLayer(Inbox(), tls_client=client_ctx)
        try:
            target = Target(transport="tls", host="127.0.0.1", port=lst.port, tls_name="127.0.0.1")
            await client.send(invite("tls-after", "TLS"), target)
            msg, _ = await inbox.get()
            assert msg.call_id == "tls-after@test"
        finally:
            await client.close()
        for _, w in raw:
            w.close()
    finally:
        await server.close()
