"""Shared fixtures of the gateway integration tests: the DNS server and peer clean-up."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from .dns_server import ZoneServer
from .peers import stop_all


@pytest.fixture(scope="session")
def zone_server() -> Iterator[ZoneServer]:
    server = ZoneServer().start()
    yield server
    server.stop()


@pytest.fixture
def zone(zone_server: ZoneServer) -> ZoneServer:
    zone_server.reset()
    return zone_server


@pytest.fixture(autouse=True)
async def _stop_peers() -> AsyncIterator[None]:
    yield
    await stop_all()
