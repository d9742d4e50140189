"""Calendar and endpoint errors an administrator can act on: what was tried, and what answered.

Every message names the room, the URL that was tried (never its credentials or query) and the
server's HTTP status, on one line, without the client libraries' object representations.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from calendars.base import (
    CalendarAuthError,
    CalendarError,
    CalendarNotFound,
    CalendarUnavailable,
)
from calendars.sources.caldav import CalDavCalendarSource, CalDavSettings
from otj.delivery.devices.cisco import CiscoConnection, CiscoXapiClient
from otj.delivery.engine.deliver import deliver
from otj.delivery.engine.plan import DeliveryState
from otj.demo.codec.farm import CodecFarm
from otj.secret import Secret
from tests.fakes.google_calendar import GoogleCalendarFake
from tests.fakes.graph import GraphFake
from tests.integration.calendars.peers import (
    ROOM,
    WINDOW_END,
    WINDOW_START,
    CalDavPeer,
    GooglePeer,
    GraphPeer,
    IcsHttpServer,
    IcsPeer,
    RadicaleServer,
    scenario,
)
from tests.integration.calendars.test_errors import RadicaleProxy
from tests.integration.delivery.test_cisco_push import BOOKINGS, NOW


def failure(source: object, room: str = ROOM) -> CalendarError:
    try:
        with pytest.raises(CalendarError) as caught:
            source.sync(room, start=WINDOW_START, end=WINDOW_END, state=None)  # type: ignore[attr-defined]
    finally:
        source.close()  # type: ignore[attr-defined]
    return caught.value


def assert_readable(message: str) -> None:
    assert "\n" not in message
    assert "object at 0x" not in message
    assert "Pool(" not in message
    assert "Max retries" not in message


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A loopback port nothing listens on (held bound, never listening: connect is refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


def test_caldav_connection_refused_is_one_line_with_url_without_credentials(
    closed_port: int,
) -> None:
    base = f"http://reader:hunter2@127.0.0.1:{closed_port}/dav/"
    source = CalDavCalendarSource(
        CalDavSettings(
            url=base,
            calendar_url_template=base + "{room}/calendar/",
            username="reader",
            password=Secret("hunter2"),
            timeout=2,
        )
    )
    error = failure(source)
    assert isinstance(error, CalendarUnavailable)
    message = str(error)
    assert_readable(message)
    assert message.startswith(f"{ROOM}: CalDAV http://127.0.0.1:{closed_port}/dav/")
    assert message.endswith("connection refused")
    assert "hunter2" not in message
    assert "reader" not in message


def test_caldav_refused_credentials_name_url_and_status(
    radicale: RadicaleServer, caldav_room: str
) -> None:
    peer = CalDavPeer(radicale, room=caldav_room)
    peer.load(scenario()[:1])
    error = failure(peer.source(password=Secret("wrong")), room=peer.room)
    assert isinstance(error, CalendarAuthError)
    message = str(error)
    assert_readable(message)
    assert message.startswith(f"{peer.room}: CalDAV {peer.url}")
    assert "HTTP 401 Unauthorized" in message
    assert "wrong" not in message


def test_caldav_server_error_names_url_and_status(
    radicale: RadicaleServer, caldav_room: str
) -> None:
    peer = CalDavPeer(radicale, room=caldav_room)
    peer.load(scenario()[:1])
    with RadicaleProxy(radicale.url) as proxy:
        template = radicale.calendar_url_template().replace(radicale.url, proxy.base_url + "/")
        proxy.fail(500, body=b"boom", content_type="text/plain", times=None)
        source = peer.source(url=proxy.base_url + "/", calendar_url_template=template)
        error = failure(source, room=peer.room)
        base = proxy.base_url
    message = str(error)
    assert_readable(message)
    assert base in message
    assert "HTTP 500 Internal Server Error" in message
    assert peer.room in message


def test_ics_url_status_names_url_without_query(ics_server: IcsHttpServer) -> None:
    peer = IcsPeer(ics_server)
    peer.load(scenario()[:1])
    error = failure(peer.source(), room="nobody@resource.example.com")
    assert isinstance(error, CalendarNotFound)
    message = str(error)
    assert_readable(message)
    url = ics_server.url_template().replace("{room}", "nobody@resource.example.com")
    assert message == f"nobody@resource.example.com: calendar URL {url} answered HTTP 404 Not Found"

    secret_url = ics_server.url_template() + "?token=s3cret"
    error = failure(peer.source(url_template=secret_url), room="nobody@resource.example.com")
    assert "s3cret" not in str(error)
    assert "?…" in str(error)


def test_ics_connection_refused(closed_port: int) -> None:
    from calendars.sources.ics import IcsCalendarSource, IcsSettings

    template = f"http://127.0.0.1:{closed_port}/ics/{{room}}.ics"
    error = failure(IcsCalendarSource(IcsSettings(url_template=template, timeout=2)))
    message = str(error)
    assert_readable(message)
    assert message == (
        f"{ROOM}: calendar URL http://127.0.0.1:{closed_port}/ics/{ROOM}.ics unreachable: "
        "connection refused"
    )


def test_graph_status_names_url(graph_fake: GraphFake, tls_files: object) -> None:
    peer = GraphPeer(graph_fake, tls_files[0])  # type: ignore[index]
    peer.load(scenario()[:1])
    peer.fake.fail(503, path_contains="calendarView")
    error = failure(peer.source())
    message = str(error)
    assert_readable(message)
    assert message.startswith(f"{ROOM}: Graph https://")
    assert "/calendarView/delta?…" in message  # the delta query is not shown
    assert "HTTP 503 Service Unavailable" in message


def test_google_status_names_url(google_fake: GoogleCalendarFake) -> None:
    peer = GooglePeer(google_fake)
    peer.load(scenario()[:1])
    error = failure(peer.source(), room="nobody@resource.example.com")
    message = str(error)
    assert_readable(message)
    assert message.startswith("nobody@resource.example.com: Google Calendar http")
    assert "/calendars/nobody%40resource.example.com/events?…" in message
    assert "HTTP 404 Not Found" in message


async def test_endpoint_refused_names_room_and_url(closed_port: int) -> None:
    connection = CiscoConnection(
        endpoint="Fjord codec",
        base_url=f"http://127.0.0.1:{closed_port}",
        username="admin",
        password=Secret("pw"),
        connect_timeout=2,
        read_timeout=2,
        room="fjord@example.com",
    )
    async with CiscoXapiClient(connection) as client:
        outcome = await deliver(client, DeliveryState(endpoint="Fjord codec"), BOOKINGS, now=NOW)
    assert_readable(outcome.error)
    assert outcome.error == (
        f"room fjord@example.com: GET http://127.0.0.1:{closed_port}/status.xml: connection refused"
    )


async def test_endpoint_refusing_credentials_names_room_url_and_status() -> None:
    async with CodecFarm() as farm:
        codec = await farm.add("fjord")
        connection = CiscoConnection(
            endpoint="Fjord codec",
            base_url=codec.url,
            username=codec.username,
            password=Secret("wrong"),
            room="fjord@example.com",
        )
        async with CiscoXapiClient(connection) as client:
            outcome = await deliver(
                client, DeliveryState(endpoint="Fjord codec"), BOOKINGS, now=NOW
            )
    assert outcome.error_kind == "unauthorised"
    assert outcome.error == (
        f"room fjord@example.com: GET {codec.url}/status.xml answered HTTP 401 Unauthorized: "
        f"user {codec.username!r} refused"
    )


def test_token_errors_name_the_room(graph_fake: GraphFake, tls_files: object) -> None:
    peer = GraphPeer(graph_fake, tls_files[0])  # type: ignore[index]
    peer.load(scenario()[:1])
    error = failure(peer.source(client_secret=Secret("wrong")))
    assert isinstance(error, CalendarAuthError)
    assert str(error).startswith(f"{ROOM}: Entra ID refused the client credentials: invalid_client")
