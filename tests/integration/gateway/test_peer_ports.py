"""A peer whose port another process holds fails its test with a message naming the port
(nothing is stopped to free it; ports are chosen at runtime)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from .peers import Baresip, Kamailio, uas


@pytest.fixture(params=[socket.SOCK_DGRAM, socket.SOCK_STREAM], ids=["udp", "tcp"])
def taken(request: pytest.FixtureRequest) -> Iterator[int]:
    """A loopback port held by this process (UDP, or a listening TCP socket)."""
    with socket.socket(socket.AF_INET, request.param) as holder:
        holder.bind(("127.0.0.1", 0))
        if request.param == socket.SOCK_STREAM:
            holder.listen()
        yield int(holder.getsockname()[1])


async def test_kamailio_on_a_taken_port_fails_clearly(taken: int, tmp_path: Path) -> None:
    edge = Kamailio(tmp_path, "edge.cfg", port=taken)
    with pytest.raises(
        pytest.fail.Exception,
        match=rf"kamailio cannot listen on 127\.0\.0\.1:{taken}: \w+ port {taken} is taken by "
        "another process",
    ):
        await edge.start()
    assert edge.process is None  # nothing was started


async def test_a_sipp_uas_on_a_taken_port_fails_clearly(taken: int, tmp_path: Path) -> None:
    with pytest.raises(pytest.fail.Exception, match=rf"sipp cannot listen on 127\.0\.0\.1:{taken}"):
        await uas(tmp_path, "uas_answer.xml", port=taken)


async def test_baresip_on_a_taken_port_fails_clearly(taken: int, tmp_path: Path) -> None:
    agent = Baresip(tmp_path, "<sip:room@127.0.0.1>", port=taken - 1)
    with pytest.raises(
        pytest.fail.Exception, match=rf"baresip cannot listen on 127\.0\.0\.1:{taken}"
    ):
        await agent.start()
