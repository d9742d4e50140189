"""The fakes' own wire behaviour and scripting API (other areas reuse them)."""

from __future__ import annotations

import base64
import ssl
import time
from pathlib import Path

import httpx
import pytest

from tests.fakes.ews import EwsFake
from tests.fakes.google_calendar import GoogleCalendarFake
from tests.fakes.graph import GraphFake
from tests.integration.calendars.peers import (
    ROOM,
    WINDOW_END,
    WINDOW_START,
    GooglePeer,
    GraphPeer,
    scenario,
)

EVENTS = f"/calendar/v3/calendars/{ROOM}/events"


def google_token(fake: GoogleCalendarFake) -> str:
    """An access token obtained the real way (google-auth JWT grant through the source)."""
    GooglePeer(fake).source().sync(ROOM, start=WINDOW_START, end=WINDOW_END, state=None)
    return next(iter(fake._tokens))


def test_google_wire_rules(google_fake: GoogleCalendarFake) -> None:
    GooglePeer(google_fake).load(scenario())
    headers = {"Authorization": f"Bearer {google_token(google_fake)}"}
    base = google_fake.base_url + EVENTS
    with httpx.Client(headers=headers) as client:
        listed = client.get(base, params={"singleEvents": "true", "showDeleted": "false"}).json()
        assert "cancelled" not in {i["status"] for i in listed["items"]}
        with_deleted = client.get(base, params={"singleEvents": "true", "showDeleted": "true"})
        assert "cancelled" in {i["status"] for i in with_deleted.json()["items"]}
        masters = client.get(base).json()["items"]
        assert any("recurrence" in i for i in masters)  # singleEvents=false keeps the series
        token = listed["nextSyncToken"]
        bad = client.get(base, params={"syncToken": token, "timeMin": "2026-03-23T00:00:00Z"})
        assert bad.status_code == 400
        assert client.get(base, params={"pageToken": "garbage"}).status_code == 400
        assert client.get(base, params={"syncToken": "garbage"}).status_code == 410
        paged = client.get(base, params={"singleEvents": "true", "maxResults": "3"}).json()
        assert len(paged["items"]) == 3
        assert "nextPageToken" in paged
        assert "nextSyncToken" not in paged
    anonymous = httpx.get(base)
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["errors"][0]["reason"] == "authError"
    form = {"grant_type": "client_credentials"}
    assert httpx.post(google_fake.token_uri, data=form).json()["error"] == "unsupported_grant_type"


def test_scripting_api(google_fake: GoogleCalendarFake) -> None:
    url = google_fake.base_url + EVENTS
    google_fake.fail(503, retry_after=3, times=2, room=ROOM)
    first = httpx.get(url)
    assert (first.status_code, first.headers["Retry-After"]) == (503, "3")
    assert first.json()["error"]["code"] == 503
    assert httpx.get(url).status_code == 503
    assert httpx.get(url).status_code == 401  # failures used up: the real route answers
    google_fake.fail(500, times=None, path_contains="/events")
    assert httpx.get(url).status_code == 500
    google_fake.clear_failures()
    google_fake.delay(0.2, times=1)
    began = time.monotonic()
    assert httpx.get(url).status_code == 401
    assert time.monotonic() - began >= 0.2
    google_fake.hang(5)
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(url, timeout=0.3)
    assert google_fake.requests_by_room[ROOM] == 6
    assert google_fake.total_requests == 6
    assert google_fake.handling_seconds >= 0.2
    google_fake.reset_counters()
    assert google_fake.total_requests == 0


def test_graph_calendar_view_paging(graph_fake: GraphFake, tls_files: tuple[Path, Path]) -> None:
    peer = GraphPeer(graph_fake, tls_files[0])
    peer.load(scenario())
    source = peer.source()
    token = source._token()
    url = f"{graph_fake.graph_endpoint}/users/{ROOM}/calendarView"
    window = {"startDateTime": "2026-03-23T00:00:00Z", "endDateTime": "2026-04-06T00:00:00Z"}
    headers = {"Authorization": f"Bearer {token}", "Prefer": "odata.maxpagesize=5"}
    seen = 0
    context = ssl.create_default_context(cafile=str(tls_files[0]))
    with httpx.Client(verify=context, headers=headers) as client:
        assert client.get(url).status_code == 400  # a view needs its window
        page = client.get(url, params=window).json()
        while True:
            seen += len(page["value"])
            if "@odata.nextLink" not in page:
                break
            page = client.get(page["@odata.nextLink"]).json()
    assert seen == 12
    source.close()


def test_ews_requires_a_server_version(ews_fake: EwsFake) -> None:
    envelope = (
        '<?xml version="1.0"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/">'
        "<s:Body><m:GetFolder xmlns:m='http://schemas.microsoft.com/exchange/services/2006/"
        "messages'/></s:Body></s:Envelope>"
    )
    auth = "Basic " + base64.b64encode(b"EXAMPLE\\svc-otj:ews-password").decode()
    answer = httpx.post(
        ews_fake.service_endpoint,
        content=envelope,
        headers={"Authorization": auth, "Content-Type": "text/xml"},
    )
    assert answer.status_code == 500
    assert b"ErrorInvalidServerVersion" in answer.content
    assert httpx.post(ews_fake.service_endpoint, content=envelope).status_code == 401
