"""The media relay against a real rtpengine: ng offer/answer/delete/list/query, RTP through
both interfaces, SRTP towards the far end, an engine that stops and comes back, two engines."""

from __future__ import annotations

import asyncio
import re
import socket
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest

from guestjoin.media.client import NgClient, NgTimeout
from guestjoin.media.pool import ALARM_KIND, Engine
from guestjoin.media.relay import MediaRelay, RelayUnavailable

from .peers import free_port
from .rtpengine import INSIDE, OUTSIDE, running_rtpengine

pytestmark = [pytest.mark.peer, pytest.mark.timeout(60)]


class Alarms:
    """The alarm sink the relay reports to (what the store adapter receives)."""

    def __init__(self) -> None:
        self.active: dict[tuple[str, str], str] = {}
        self.raised: list[str] = []

    def raise_alarm(self, kind: str, subject: str, message: str) -> None:
        self.active[(kind, subject)] = message
        self.raised.append(subject)

    def clear_alarm(self, kind: str, subject: str) -> None:
        self.active.pop((kind, subject), None)


def sdp(port: int, profile: str = "RTP/AVP", extra: str = "") -> str:
    return (
        "v=0\r\no=room 1 1 IN IP4 10.9.8.7\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nb=AS:2000\r\n"
        f"t=0 0\r\nm=audio {port} {profile} 0\r\na=rtpmap:0 PCMU/8000\r\n{extra}"
    )


def media(body: str) -> tuple[str, int, str]:
    """(connection address, audio port, profile) of an SDP."""
    conn = re.search(r"^c=IN IP4 (\S+)", body, re.MULTILINE)
    m = re.search(r"^m=audio (\d+) (\S+)", body, re.MULTILINE)
    assert conn, body
    assert m, body
    return conn.group(1), int(m.group(1)), m.group(2)


def rtp(seq: int, ssrc: int) -> bytes:
    return struct.pack("!BBHII", 0x80, 0, seq, seq * 160, ssrc) + b"\xff" * 160


@pytest.fixture
def sockets() -> Iterator[tuple[socket.socket, socket.socket]]:
    room = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    far = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    room.bind(("127.0.0.1", 0))
    far.bind(("127.0.0.1", 0))
    room.settimeout(0.5)
    far.settimeout(0.5)
    yield room, far
    room.close()
    far.close()


def drain(sock: socket.socket) -> int:
    count = 0
    try:
        while True:
            sock.recv(2048)
            count += 1
    except TimeoutError:
        return count


async def test_offer_answer_delete_relays_rtp_both_ways(
    tmp_path: Path, sockets: tuple[socket.socket, socket.socket]
) -> None:
    room, far = sockets
    async with running_rtpengine(tmp_path) as engine:
        relay = MediaRelay([engine.engine])
        try:
            offered = await relay.offer(
                call_id="call-1", from_tag="room-tag", sdp=sdp(room.getsockname()[1])
            )
            out_addr, out_port, profile = media(offered)
            assert (out_addr, profile) == (OUTSIDE, "RTP/AVP")  # the far end sees outside
            assert "o=room 1 1 IN IP4 127.0.0.2" in offered  # origin replaced too
            assert "b=AS:2000" in offered  # the bandwidth cap survives
            answered = await relay.answer(
                call_id="call-1",
                from_tag="room-tag",
                to_tag="far-tag",
                sdp=sdp(far.getsockname()[1]).replace("o=room", "o=far"),
            )
            in_addr, in_port, _ = media(answered)
            assert in_addr == INSIDE  # the room sees inside
            assert await engine.calls() == ["call-1"]
            for seq in range(1, 21):
                room.sendto(rtp(seq, 1111), (INSIDE, in_port))
            for seq in range(1, 11):
                far.sendto(rtp(seq, 2222), (OUTSIDE, out_port))
            await asyncio.sleep(0.2)
            assert (drain(far), drain(room)) == (20, 10)
            figures = await relay.delete(call_id="call-1", room_tag="room-tag")
            assert figures is not None
            assert (figures.room_packets, figures.far_packets) == (20, 10)
            assert (figures.room_bytes, figures.far_bytes) == (20 * 172, 10 * 172)
            assert figures.engine == engine.address
            assert await engine.calls() == []
            assert await relay.delete(call_id="call-1", room_tag="room-tag") is None
        finally:
            await relay.close()


async def test_required_srtp_outside_plain_inside(
    tmp_path: Path, sockets: tuple[socket.socket, socket.socket]
) -> None:
    room, far = sockets
    async with running_rtpengine(tmp_path) as engine:
        relay = MediaRelay([engine.engine])
        try:
            offered = await relay.offer(
                call_id="srtp-1",
                from_tag="r",
                sdp=sdp(room.getsockname()[1]),
                encryption="required",
            )
            assert media(offered)[2] == "RTP/SAVP"
            suites = re.findall(r"a=crypto:\d+ (\S+)", offered)
            assert "AES_CM_128_HMAC_SHA1_80" in suites
            assert not [s for s in suites if s.startswith(("NULL", "F8"))]
            assert "a=fingerprint" not in offered  # SDES only, no DTLS
            # the far end takes the classic suite with the offer's own key (same tag)
            chosen = re.search(r"a=crypto:\d+ AES_CM_128_HMAC_SHA1_80 \S+", offered)
            assert chosen
            answer = sdp(far.getsockname()[1], "RTP/SAVP", chosen.group(0) + "\r\n")
            answered = await relay.answer(call_id="srtp-1", from_tag="r", to_tag="f", sdp=answer)
            assert media(answered)[2] == "RTP/AVP"
            assert "a=crypto" not in answered
            query = await engine.ng({"command": "query", "call-id": "srtp-1"})
            tags = query.body["tags"]
            assert isinstance(tags, dict)
            far_media = tags["f"]["medias"][0]  # type: ignore[index]
            assert far_media["protocol"] == "RTP/SAVP"
            _, in_port, _ = media(answered)
            _, out_port, _ = media(offered)
            for seq in range(1, 11):
                room.sendto(rtp(seq, 3333), (INSIDE, in_port))
            await asyncio.sleep(0.2)
            got = []
            try:
                while True:
                    got.append(far.recv(2048))
            except TimeoutError:
                pass
            assert len(got) == 10
            assert all(len(p) == 172 + 10 for p in got)  # SRTP: the 80-bit auth tag added
            for packet in got:  # the far end echoes (same key both ways): decrypted inside
                far.sendto(packet, (OUTSIDE, out_port))
            await asyncio.sleep(0.2)
            echoed = []
            try:
                while True:
                    echoed.append(room.recv(2048))
            except TimeoutError:
                pass
            assert [p[12:] for p in echoed] == [b"\xff" * 160] * 10  # plain RTP again
            figures = await relay.delete(call_id="srtp-1", room_tag="r")
            assert figures is not None
            assert figures.far_packets == 10
        finally:
            await relay.close()


async def test_best_effort_srtp_falls_back_to_plain(
    tmp_path: Path, sockets: tuple[socket.socket, socket.socket]
) -> None:
    room, far = sockets
    async with running_rtpengine(tmp_path) as engine:
        relay = MediaRelay([engine.engine])
        try:
            offered = await relay.offer(
                call_id="osrtp",
                from_tag="r",
                sdp=sdp(room.getsockname()[1]),
                encryption="best_effort",
            )
            assert media(offered)[2] == "RTP/AVP"  # RFC 8643: plain profile, with keys
            assert "a=crypto" in offered
            answered = await relay.answer(
                call_id="osrtp", from_tag="r", to_tag="f", sdp=sdp(far.getsockname()[1])
            )
            _, in_port, _ = media(answered)
            room.sendto(rtp(1, 4444), (INSIDE, in_port))
            assert len(far.recv(2048)) == 172  # the far end took plain RTP: sent plain
            await relay.delete(call_id="osrtp", room_tag="r")
        finally:
            await relay.close()


async def test_an_engine_that_stops_fails_calls_alarms_and_recovers(tmp_path: Path) -> None:
    alarms = Alarms()
    async with running_rtpengine(tmp_path) as engine:
        relay = MediaRelay([engine.engine], alarms=alarms, interval=0.2, tries=2, probe_every=0.2)
        try:
            await relay.offer(call_id="before", from_tag="a", sdp=sdp(40_000))
            await relay.delete(call_id="before", room_tag="a")
            await engine.stop()
            with pytest.raises(RelayUnavailable, match=f"rtpengine {engine.address}"):
                await relay.offer(call_id="during", from_tag="a", sdp=sdp(40_000))
            assert (ALARM_KIND, engine.address) in alarms.active
            with pytest.raises(
                RelayUnavailable,
                match=f"no rtpengine is answering: rtpengine {engine.address}",
            ):
                await relay.offer(call_id="during-2", from_tag="a", sdp=sdp(40_000))
            await engine.start()
            for _ in range(50):  # the background ping notices it
                if not alarms.active:
                    break
                await asyncio.sleep(0.1)
            assert alarms.active == {}
            assert alarms.raised == [engine.address]
            await relay.offer(call_id="after", from_tag="a", sdp=sdp(40_000))
            await relay.delete(call_id="after", room_tag="a")
        finally:
            await relay.close()


async def test_two_engines_share_calls_and_take_over(tmp_path: Path) -> None:
    alarms = Alarms()
    async with (
        running_rtpengine(tmp_path / "a") as first,
        running_rtpengine(tmp_path / "b") as second,
    ):
        relay = MediaRelay(
            [first.engine, second.engine], alarms=alarms, interval=0.2, tries=1, probe_every=0.5
        )
        try:
            for i in range(20):
                await relay.offer(call_id=f"spread-{i}", from_tag="a", sdp=sdp(40_000))
            on_first, on_second = len(await first.calls()), len(await second.calls())
            assert on_first + on_second == 20
            assert on_first >= 4, on_first
            assert on_second >= 4, on_second
            for i in range(20):
                await relay.delete(call_id=f"spread-{i}", room_tag="a")
            await second.stop()
            for i in range(10):
                await relay.offer(call_id=f"over-{i}", from_tag="a", sdp=sdp(40_000))
            assert len(await first.calls()) == 10
            assert list(alarms.active) == [(ALARM_KIND, second.address)]
            for i in range(10):
                await relay.delete(call_id=f"over-{i}", room_tag="a")
        finally:
            await relay.close()


async def test_client_timeout_and_cookie_matching() -> None:
    port = free_port()
    client = NgClient("127.0.0.1", port, interval=0.1, tries=2)
    try:
        with pytest.raises(NgTimeout, match=f"127.0.0.1:{port}"):
            await client.call({"command": "ping"})
    finally:
        client.close()
    # a silent listener: the datagram arrives twice (retransmission), no reply → timeout
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        silent.settimeout(1)
        client = NgClient("127.0.0.1", silent.getsockname()[1], interval=0.5, tries=3)
        task = asyncio.ensure_future(client.call({"command": "ping"}))
        first = await asyncio.to_thread(silent.recvfrom, 2048)
        second = await asyncio.to_thread(silent.recvfrom, 2048)
        assert first[0] == second[0]  # same cookie: rtpengine answers it from its cache
        cookie = first[0].split(b" ")[0]
        silent.sendto(b"other d6:result4:ponge", first[1])  # not ours: ignored
        silent.sendto(cookie + b" d6:result4:ponge", first[1])
        assert (await task).body == {"result": "pong"}
        client.close()


def test_engine_addresses() -> None:
    assert Engine(host="::1", port=1).address == "[::1]:1"


async def test_a_burst_of_calls_loses_no_reply(tmp_path: Path) -> None:
    """100 calls set up and deleted at once: every reply arrives (a delete reply carries the
    call's statistics; a burst of them once overflowed the socket and looked like an outage)."""
    alarms = Alarms()
    async with running_rtpengine(tmp_path) as engine:
        relay = MediaRelay([engine.engine], alarms=alarms)
        try:

            async def call(i: int) -> None:
                await relay.offer(call_id=f"burst-{i}", from_tag="a", sdp=sdp(40_000))
                await relay.answer(call_id=f"burst-{i}", from_tag="a", to_tag="b", sdp=sdp(41_000))
                assert await relay.delete(call_id=f"burst-{i}", room_tag="a") is not None

            await asyncio.gather(*(call(i) for i in range(100)))
            assert alarms.raised == []
            assert await engine.calls() == []
        finally:
            await relay.close()


async def test_an_engine_that_stops_between_calls_is_alarmed_without_a_call(
    tmp_path: Path,
) -> None:
    alarms = Alarms()
    async with running_rtpengine(tmp_path) as engine:
        relay = MediaRelay(
            [engine.engine], alarms=alarms, interval=0.2, tries=1, probe_every=0.2, check_every=0.2
        )
        relay.start()
        try:
            await asyncio.sleep(0.5)
            assert alarms.raised == []
            await engine.stop()
            for _ in range(30):
                if alarms.active:
                    break
                await asyncio.sleep(0.1)
            assert (ALARM_KIND, engine.address) in alarms.active
            await engine.start()
            for _ in range(30):
                if not alarms.active:
                    break
                await asyncio.sleep(0.1)
            assert alarms.active == {}
        finally:
            await relay.close()
