"""A small SIP user agent client over TCP or TLS for the gateway's attack tests.

It places one real call (INVITE, ACK, BYE along the record-routed path, RFC 3261 §12.2) from
a chosen local address, so that tests can show that a legitimate caller still gets through.
"""

from __future__ import annotations

import asyncio
import secrets
import ssl
from dataclasses import dataclass

from guestjoin.sip import Response, parse_message
from guestjoin.sip.framing import StreamFramer
from guestjoin.sip.parser import DEFAULT_LIMITS
from guestjoin.sip.uri import parse_name_addr

SDP = (
    "v=0\r\no=- 1 1 IN IP4 {host}\r\ns=-\r\nc=IN IP4 {host}\r\nt=0 0\r\n"
    "m=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
)


@dataclass
class CallOutcome:
    """Final status codes of the INVITE and of the BYE (``None``: no BYE sent)."""

    invite: int
    bye: int | None


class StreamUac:
    """One TCP/TLS connection to the gateway with a framer for what comes back."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, transport: str
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.transport = transport
        self.framer = StreamFramer(DEFAULT_LIMITS)
        self.pending: list[bytes] = []
        host, port = writer.get_extra_info("sockname")[:2]
        self.local = (str(host), int(port))

    @classmethod
    async def connect(
        cls, host: str, port: int, *, tls: bool, source: str, timeout: float = 10
    ) -> StreamUac:
        """Connect from ``source`` (TLS without verifying the gateway's test certificate)."""
        ctx = None
        if tls:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port, ssl=ctx, local_addr=(source, 0)), timeout
        )
        return cls(reader, writer, "TLS" if tls else "TCP")

    def close(self) -> None:
        """Close the connection."""
        self.writer.close()

    async def response(self, timeout: float) -> Response:
        """The next response on the connection."""
        while not self.pending:
            data = await asyncio.wait_for(self.reader.read(65536), timeout)
            if not data:
                raise ConnectionError("the gateway closed the connection")
            self.pending += [f for f in self.framer.feed(data) if isinstance(f, bytes)]
        msg = parse_message(self.pending.pop(0), stream=True)
        assert isinstance(msg, Response), msg
        return msg

    async def final(self, timeout: float) -> Response:
        """The next final response (provisional ones skipped)."""
        while True:
            response = await self.response(timeout)
            if response.status >= 200:
                return response

    def _request(
        self, method: str, uri: str, headers: list[tuple[str, str]], body: str = ""
    ) -> None:
        host, port = self.local
        branch = f"z9hG4bK{secrets.token_hex(6)}"
        lines = [
            f"{method} {uri} SIP/2.0",
            f"Via: SIP/2.0/{self.transport} {host}:{port};branch={branch};rport",
            "Max-Forwards: 70",
            *(f"{k}: {v}" for k, v in headers),
            f"Content-Length: {len(body.encode())}",
            "",
            body,
        ]
        self.writer.write("\r\n".join(lines).encode())

    async def call(self, alias: str, *, timeout: float = 15) -> CallOutcome:
        """INVITE ``alias``; when answered, ACK and hang up with a BYE."""
        host, port = self.local
        call_id = f"legit-{secrets.token_hex(6)}"
        from_ = f"<sip:room@{host}>;tag={secrets.token_hex(4)}"
        contact = f"<sip:room@{host}:{port};transport={self.transport.lower()}>"
        self._request(
            "INVITE",
            f"sip:{alias}",
            [
                ("From", from_),
                ("To", f"<sip:{alias}>"),
                ("Call-ID", call_id),
                ("CSeq", "1 INVITE"),
                ("Contact", contact),
                ("Content-Type", "application/sdp"),
            ],
            SDP.format(host=host),
        )
        answer = await self.final(timeout)
        if answer.status >= 300:
            return CallOutcome(answer.status, None)
        to = answer.get("To") or ""
        remote_target = parse_name_addr(answer.values("Contact")[0]).uri
        routes = [("Route", r) for r in reversed(answer.values("Record-Route"))]
        dialog = [("From", from_), ("To", to), ("Call-ID", call_id)]
        self._request("ACK", remote_target, [*routes, *dialog, ("CSeq", "1 ACK")])
        self._request("BYE", remote_target, [*routes, *dialog, ("CSeq", "2 BYE")])
        bye = await self.final(timeout)
        return CallOutcome(answer.status, bye.status)
