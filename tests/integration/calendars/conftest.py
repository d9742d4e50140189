"""Fixtures: the three cloud fakes, a real Radicale server and an ICS publisher, each on port 0."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.ews import EwsFake
from tests.fakes.google_calendar import GoogleCalendarFake
from tests.fakes.google_calendar_http import self_signed_certificate
from tests.fakes.graph import GraphFake
from tests.integration.calendars.peers import (
    ROOM,
    CalDavPeer,
    EwsPeer,
    GooglePeer,
    GraphPeer,
    IcsHttpServer,
    IcsPeer,
    Peer,
    RadicaleServer,
)

PEERS = ["google", "graph", "exchange", "caldav", "ics"]


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return self_signed_certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="session")
def radicale(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RadicaleServer]:
    server = RadicaleServer(tmp_path_factory.mktemp("radicale"))
    yield server
    server.stop()


@pytest.fixture
def google_fake() -> Iterator[GoogleCalendarFake]:
    with GoogleCalendarFake() as fake:
        yield fake


@pytest.fixture
def graph_fake(tls_files: tuple[Path, Path]) -> Iterator[GraphFake]:
    with GraphFake(tls=tls_files) as fake:
        yield fake


@pytest.fixture
def ews_fake() -> Iterator[EwsFake]:
    with EwsFake() as fake:
        yield fake


@pytest.fixture
def ics_server() -> Iterator[IcsHttpServer]:
    with IcsHttpServer() as server:
        yield server


_caldav_rooms = iter(range(1_000_000))


@pytest.fixture
def caldav_room() -> str:
    """A fresh room (collection) per test on the shared Radicale server."""
    return f"room{next(_caldav_rooms)}@resource.example.com"


@pytest.fixture(params=PEERS)
def peer(
    request: pytest.FixtureRequest,
    tls_files: tuple[Path, Path],
    radicale: RadicaleServer,
) -> Iterator[Peer]:
    """Each of the five peers in turn, empty, for the room ``ROOM``."""
    name = request.param
    if name == "google":
        with GoogleCalendarFake() as google:
            yield GooglePeer(google)
    elif name == "graph":
        with GraphFake(tls=tls_files) as graph:
            yield GraphPeer(graph, tls_files[0])
    elif name == "exchange":
        with EwsFake() as ews:
            yield EwsPeer(ews)
    elif name == "caldav":
        peer = CalDavPeer(radicale, room=ROOM)
        # every test gets an empty collection for ROOM
        from caldav.davclient import DAVClient

        client = DAVClient(
            url=radicale.url,
            username=radicale.username,
            password=radicale.password,
            timeout=10,
            enable_rfc6764=False,
        )
        with contextlib.suppress(Exception):
            client.calendar(url=peer.url).delete()
        yield peer
    else:
        with IcsHttpServer() as server:
            yield IcsPeer(server)
