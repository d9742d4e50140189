"""Error mapping at each adapter's edge: only the calendars.base errors ever escape.

Every adapter is driven through its real client library against a peer scripted to fail:
refused credentials, a missing calendar, 429/503 with ``Retry-After``, an expired sync state,
garbage in a 200 answer, and a server that never answers.
"""

from __future__ import annotations

import http.client
from collections.abc import Iterator, Mapping
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest

from calendars.base import (
    CalendarAuthError,
    CalendarNotFound,
    CalendarUnavailable,
    MalformedCalendarData,
    SyncStateExpired,
)
from calendars.syncstate import SyncState
from otj.secret import Secret
from tests.fakes.ews import EwsFake
from tests.fakes.google_calendar import GoogleCalendarFake
from tests.fakes.google_calendar_http import Response, ScriptedHTTPServer
from tests.fakes.graph import GraphFake
from tests.integration.calendars.peers import (
    ROOM,
    WINDOW_END,
    WINDOW_START,
    CalDavPeer,
    EwsPeer,
    GooglePeer,
    GraphPeer,
    IcsHttpServer,
    IcsPeer,
    RadicaleServer,
    scenario,
)

START, END = WINDOW_START, WINDOW_END
HANG_TIMEOUT = 1.0


def sync(source: Any, state: str | None = None, room: str = ROOM) -> Any:
    try:
        return source.sync(room, start=START, end=END, state=state)
    finally:
        source.close()


# ----------------------------------------------------------------------------- Google
class TestGoogle:
    @pytest.fixture
    def peer(self, google_fake: GoogleCalendarFake) -> GooglePeer:
        peer = GooglePeer(google_fake)
        peer.load(scenario()[:1])
        return peer

    def test_key_not_trusted_is_auth_error(self, peer: GooglePeer) -> None:
        info = dict(peer.info, private_key_id="0" * 32)
        with pytest.raises(CalendarAuthError, match="token refused"):
            sync(peer.source(service_account_info=info))

    def test_forged_signature_is_auth_error(self, peer: GooglePeer) -> None:
        other = peer.fake.service_account_info(
            client_email="other@otj-test.iam.gserviceaccount.com"
        )
        info = dict(peer.info, private_key=other["private_key"])  # right kid, wrong key
        with pytest.raises(CalendarAuthError, match="Invalid JWT Signature"):
            sync(peer.source(service_account_info=info))

    def test_unknown_room_is_not_found(self, peer: GooglePeer) -> None:
        with pytest.raises(CalendarNotFound):
            sync(peer.source(), room="nobody@resource.example.com")

    def test_calendar_not_shared_is_not_found(self, peer: GooglePeer) -> None:
        peer.fake.share(ROOM, "someone-else@example.com")
        with pytest.raises(CalendarNotFound):
            sync(peer.source())

    @pytest.mark.parametrize("status", [429, 503])
    def test_busy_with_retry_after(self, peer: GooglePeer, status: int) -> None:
        peer.fake.fail(status, retry_after=7, path_contains="/events")
        with pytest.raises(CalendarUnavailable) as caught:
            sync(peer.source())
        assert caught.value.retry_after == 7.0

    def test_403_rate_limit_is_unavailable(self, peer: GooglePeer) -> None:
        peer.fake.fail(403, path_contains="/events")  # reason rateLimitExceeded
        with pytest.raises(CalendarUnavailable):
            sync(peer.source())

    def test_num_retries_rides_out_one_503(self, peer: GooglePeer) -> None:
        peer.fake.fail(503, path_contains="/events")
        result = sync(peer.source(num_retries=1))
        assert result.full
        assert result.requests == 2

    def test_410_is_sync_state_expired(self, peer: GooglePeer) -> None:
        first = sync(peer.source())
        peer.fake.expire_sync_tokens(ROOM)
        with pytest.raises(SyncStateExpired):
            sync(peer.source(), first.sync_state)

    @pytest.mark.parametrize(
        "body",
        [
            b"<html>maintenance</html>",
            b'{"items": "nope", "nextSyncToken": "x"}',
            b'{"items": [{"id": "a", "start": {"dateTime": "yesterday"}}], "nextSyncToken": "x"}',
            b'{"items": []}',
        ],
    )
    def test_garbage_is_malformed(self, peer: GooglePeer, body: bytes) -> None:
        peer.fake.fail(200, body=body, path_contains="/events")
        with pytest.raises(MalformedCalendarData):
            sync(peer.source())

    def test_hang_is_unavailable(self, peer: GooglePeer) -> None:
        peer.fake.hang(10, path_contains="/events")
        with pytest.raises(CalendarUnavailable, match="timed out"):
            sync(peer.source(timeout=HANG_TIMEOUT))


# ----------------------------------------------------------------------------- Graph
class TestGraph:
    @pytest.fixture
    def peer(self, graph_fake: GraphFake, tls_files: Any) -> GraphPeer:
        peer = GraphPeer(graph_fake, tls_files[0])
        peer.load(scenario()[:1])
        return peer

    def test_wrong_secret_is_auth_error(self, peer: GraphPeer) -> None:
        with pytest.raises(CalendarAuthError, match="invalid_client"):
            sync(peer.source(client_secret=Secret("wrong")))

    def test_unknown_tenant_is_auth_error(self, peer: GraphPeer) -> None:
        with pytest.raises(CalendarAuthError):
            sync(peer.source(tenant_id="99999999-0000-0000-0000-000000000000"))

    def test_unknown_room_is_not_found(self, peer: GraphPeer) -> None:
        with pytest.raises(CalendarNotFound):
            sync(peer.source(), room="nobody@resource.example.com")

    @pytest.mark.parametrize("status", [429, 503])
    def test_busy_with_retry_after(self, peer: GraphPeer, status: int) -> None:
        peer.fake.fail(status, retry_after=7, path_contains="calendarView")
        with pytest.raises(CalendarUnavailable) as caught:
            sync(peer.source())
        assert caught.value.retry_after == 7.0

    def test_revoked_token_is_renewed_once(self, peer: GraphPeer) -> None:
        source = peer.source()
        first = source.sync(ROOM, start=START, end=END, state=None)
        peer.fake.revoke_tokens()
        again = sync(source, first.sync_state)
        assert again.full is False
        assert peer.fake.token_requests == 2

    def test_410_is_sync_state_expired(self, peer: GraphPeer) -> None:
        first = sync(peer.source())
        peer.fake.expire_delta_tokens(ROOM)
        with pytest.raises(SyncStateExpired):
            sync(peer.source(), first.sync_state)

    def test_delta_link_elsewhere_is_refused(self, peer: GraphPeer) -> None:
        first = sync(peer.source())
        assert first.sync_state is not None
        stored = SyncState.decode(first.sync_state, kind="graph")
        forged = SyncState(
            kind="graph",
            token="https://evil.example.com/steal",
            window_start=stored.window_start,
            window_end=stored.window_end,
        )
        with pytest.raises(SyncStateExpired):
            sync(peer.source(), forged.encode())

    @pytest.mark.parametrize(
        "body",
        [
            b"not json",
            b'{"value": 3}',
            b'{"value": []}',
            b'{"value": [{"id": "x", "start": {"dateTime": 5}}], "@odata.deltaLink": "x"}',
        ],
    )
    def test_garbage_is_malformed(self, peer: GraphPeer, body: bytes) -> None:
        peer.fake.fail(200, body=body, path_contains="calendarView")
        with pytest.raises(MalformedCalendarData):
            sync(peer.source())

    def test_hang_is_unavailable(self, peer: GraphPeer) -> None:
        peer.fake.hang(10, path_contains="calendarView")
        with pytest.raises(CalendarUnavailable, match="timed out"):
            sync(peer.source(timeout=HANG_TIMEOUT))


# ----------------------------------------------------------------------------- EWS
class TestExchange:
    @pytest.fixture
    def peer(self, ews_fake: EwsFake) -> EwsPeer:
        peer = EwsPeer(ews_fake)
        peer.load(scenario()[:1])
        return peer

    def test_wrong_password_is_auth_error(self, peer: EwsPeer) -> None:
        with pytest.raises(CalendarAuthError):
            sync(peer.source(password=Secret("wrong")))

    def test_impersonation_denied_is_auth_error(self, peer: EwsPeer) -> None:
        peer.fake.users["EXAMPLE\\plain-user"] = "pw"
        with pytest.raises(CalendarAuthError, match="ErrorImpersonateUserDenied"):
            sync(peer.source(username="EXAMPLE\\plain-user", password=Secret("pw")))

    def test_delegate_access(self, peer: EwsPeer) -> None:
        peer.fake.users["EXAMPLE\\delegate"] = "pw"
        source = peer.source(username="EXAMPLE\\delegate", password=Secret("pw"), access="delegate")
        with pytest.raises(CalendarAuthError, match="ErrorAccessDenied"):
            sync(source)
        peer.fake.delegates[ROOM] = {"example\\delegate"}
        source = peer.source(username="EXAMPLE\\delegate", password=Secret("pw"), access="delegate")
        assert len(sync(source).events) == 1
        # delegate access sends no impersonation header
        assert "ExchangeImpersonation" not in peer.fake.request_bodies[-1]

    def test_unknown_mailbox_is_not_found(self, peer: EwsPeer) -> None:
        with pytest.raises(CalendarNotFound):
            sync(peer.source(), room="nobody@resource.example.com")

    def test_server_busy_within_max_wait_is_retried(self, peer: EwsPeer) -> None:
        peer.fake.server_busy(200, operation="FindItem")
        result = sync(peer.source(max_wait=2.0))
        assert len(result.events) == 1
        assert peer.fake.operation_count("FindItem") == 2

    def test_server_busy_beyond_max_wait_is_unavailable(self, peer: EwsPeer) -> None:
        peer.fake.server_busy(7000)
        with pytest.raises(CalendarUnavailable) as caught:
            sync(peer.source(max_wait=2.0))
        assert caught.value.retry_after == 7.0

    @pytest.mark.parametrize("status", [429, 503])
    def test_http_busy_with_retry_after(self, peer: EwsPeer, status: int) -> None:
        peer.fake.fail(status, retry_after=7, body=b"", content_type="text/html")
        with pytest.raises(CalendarUnavailable) as caught:
            sync(peer.source(max_wait=2.0))
        assert caught.value.retry_after == 7.0

    def test_invalid_sync_state_is_expired(self, peer: EwsPeer) -> None:
        first = sync(peer.source())
        peer.fake.expire_sync_states(ROOM)
        with pytest.raises(SyncStateExpired):
            sync(peer.source(), first.sync_state)

    @pytest.mark.parametrize(
        "body", [b"garbage", b"<?xml version='1.0'?><nope/>", b"<s:Envelope xmlns:s='x'/>"]
    )
    def test_garbage_is_malformed(self, peer: EwsPeer, body: bytes) -> None:
        peer.fake.fail(200, body=body, content_type="text/xml; charset=utf-8")
        with pytest.raises(MalformedCalendarData):
            sync(peer.source())

    def test_hang_is_unavailable(self, peer: EwsPeer) -> None:
        peer.fake.hang(10)
        with pytest.raises(CalendarUnavailable):
            sync(peer.source(timeout=HANG_TIMEOUT))


# ----------------------------------------------------------------------------- CalDAV
class RadicaleProxy(ScriptedHTTPServer):
    """Forwards to the real Radicale unless a failure is scripted (429/503/garbage/hang)."""

    def __init__(self, target: str) -> None:
        super().__init__()
        self.target = urlsplit(target)

    def route(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Response:
        connection = http.client.HTTPConnection(self.target.hostname, self.target.port, timeout=10)
        forwarded = {k: v for k, v in headers.items() if k.lower() not in ("host", "connection")}
        connection.request(method, path, body=body, headers=forwarded)
        answer = connection.getresponse()
        payload = answer.read()
        connection.close()
        passed = {
            k: v
            for k, v in answer.getheaders()
            if k.lower()
            not in ("content-length", "content-type", "connection", "transfer-encoding")
        }
        return Response(
            status=answer.status,
            body=payload,
            content_type=answer.getheader("Content-Type") or "text/plain",
            headers=passed,
        )


class TestCalDav:
    @pytest.fixture
    def peer(self, radicale: RadicaleServer, caldav_room: str) -> CalDavPeer:
        peer = CalDavPeer(radicale, room=caldav_room)
        peer.load(scenario()[:1])
        return peer

    @pytest.fixture
    def proxy(self, radicale: RadicaleServer) -> Iterator[RadicaleProxy]:
        with RadicaleProxy(radicale.url) as proxy:
            yield proxy

    def proxied(self, peer: CalDavPeer, proxy: RadicaleProxy, **overrides: Any) -> Any:
        template = peer.server.calendar_url_template().replace(
            peer.server.url, proxy.base_url + "/"
        )
        return peer.source(url=proxy.base_url + "/", calendar_url_template=template, **overrides)

    def test_wrong_password_is_auth_error(self, peer: CalDavPeer) -> None:
        with pytest.raises(CalendarAuthError):
            sync(peer.source(password=Secret("wrong")), room=peer.room)

    def test_missing_collection_is_not_found(self, peer: CalDavPeer) -> None:
        with pytest.raises(CalendarNotFound):
            sync(peer.source(), room="never-created@resource.example.com")

    def test_through_proxy_works(self, peer: CalDavPeer, proxy: RadicaleProxy) -> None:
        assert len(sync(self.proxied(peer, proxy), room=peer.room).events) == 1

    @pytest.mark.parametrize("status", [429, 503])
    def test_busy_with_retry_after(
        self, peer: CalDavPeer, proxy: RadicaleProxy, status: int
    ) -> None:
        proxy.fail(status, retry_after=7, times=None, body=b"busy", content_type="text/plain")
        with pytest.raises(CalendarUnavailable) as caught:
            sync(self.proxied(peer, proxy), room=peer.room)
        assert caught.value.retry_after == 7.0

    def test_invalid_sync_token_is_expired(self, peer: CalDavPeer) -> None:
        first = sync(peer.source(), room=peer.room)
        assert first.sync_state is not None
        stored = SyncState.decode(first.sync_state, kind="caldav")
        forged = SyncState(
            kind="caldav",
            token="http://radicale.org/ns/sync/" + "0" * 64,
            window_start=stored.window_start,
            window_end=stored.window_end,
            extra=stored.extra,
        )
        with pytest.raises(SyncStateExpired):
            sync(peer.source(), forged.encode(), room=peer.room)

    def test_garbage_is_malformed(self, peer: CalDavPeer, proxy: RadicaleProxy) -> None:
        proxy.fail(207, body=b"<not-xml", content_type="application/xml", times=None)
        with pytest.raises(MalformedCalendarData):
            sync(self.proxied(peer, proxy), room=peer.room)

    def test_hang_is_unavailable(self, peer: CalDavPeer, proxy: RadicaleProxy) -> None:
        proxy.hang(10)
        with pytest.raises(CalendarUnavailable):
            sync(self.proxied(peer, proxy, timeout=HANG_TIMEOUT), room=peer.room)


# ----------------------------------------------------------------------------- ICS
class TestIcs:
    @pytest.fixture
    def peer(self, ics_server: IcsHttpServer) -> IcsPeer:
        peer = IcsPeer(ics_server)
        peer.load(scenario()[:1])
        return peer

    def test_401_is_auth_error(self, peer: IcsPeer) -> None:
        peer.server.fail(401, body=b"", content_type="text/plain")
        with pytest.raises(CalendarAuthError):
            sync(peer.source())

    def test_unknown_room_is_not_found(self, peer: IcsPeer) -> None:
        with pytest.raises(CalendarNotFound):
            sync(peer.source(), room="nobody@resource.example.com")

    def test_path_escape_is_refused(self, peer: IcsPeer) -> None:
        with pytest.raises(CalendarNotFound):
            sync(peer.source(), room="../../etc/passwd")

    @pytest.mark.parametrize("status", [429, 503])
    def test_busy_with_retry_after(self, peer: IcsPeer, status: int) -> None:
        peer.server.fail(status, retry_after=7, body=b"", content_type="text/plain")
        with pytest.raises(CalendarUnavailable) as caught:
            sync(peer.source())
        assert caught.value.retry_after == 7.0

    def test_foreign_state_is_expired(self, peer: IcsPeer) -> None:
        forged = SyncState(kind="google", token="x", window_start=START, window_end=END)
        with pytest.raises(SyncStateExpired):
            sync(peer.source(), forged.encode())

    @pytest.mark.parametrize("body", [b"garbage", b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\n"])
    def test_garbage_is_malformed(self, peer: IcsPeer, body: bytes) -> None:
        peer.server.publish(ROOM, body, when=1_780_000_000)
        with pytest.raises(MalformedCalendarData):
            sync(peer.source())

    def test_hang_is_unavailable(self, peer: IcsPeer) -> None:
        peer.server.hang(10)
        with pytest.raises(CalendarUnavailable, match="timed out"):
            sync(peer.source(timeout=HANG_TIMEOUT))


def test_bodies_over_one_mebibyte_are_truncated(google_fake: GoogleCalendarFake) -> None:
    from calendars.base import MAX_BODY_CHARS, TRUNCATION_MARKER

    peer = GooglePeer(google_fake)
    google_fake.put_event(
        ROOM,
        {
            "summary": "Huge",
            "description": "x" * (MAX_BODY_CHARS + 5000),
            "start": {"dateTime": (START + timedelta(hours=5)).isoformat()},
            "end": {"dateTime": (START + timedelta(hours=6)).isoformat()},
        },
    )
    result = sync(peer.source())
    assert result.events[0].body.endswith(TRUNCATION_MARKER)
    assert len(result.events[0].body) == MAX_BODY_CHARS + len(TRUNCATION_MARKER)
