"""Poly endpoints read their room over the emulated Exchange server (real otj app, uvicorn, TLS).

The client is exchangelib (the EWS client the service itself uses to read Exchange), with
Basic credentials of a POLY endpoint; every SOAP answer is checked with ``ews_structure``.
Hand-written SOAP bodies follow Microsoft's EWS reference examples (Poly does not publish the
requests its calendaring service sends).
"""

from __future__ import annotations

import base64
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from exchangelib import BASIC, DELEGATE, Account, Build, Configuration, Credentials, Version
from exchangelib.errors import ErrorAccessDenied, UnauthorizedError

from otj.api.app import create_app
from otj.model import Endpoint, Meeting
from otj.secret import Secret
from otj.store import Database
from tests.conftest import FakeClock
from tests.integration.delivery.ews_structure import check_response
from tests.integration.delivery.storehelp import configure, store_meetings
from tests.integration.gateway.pki import ScratchCA
from tests.unit.delivery.meetings import meeting

FJORD = "fjord@rooms.example.com"
BERG = "berg@rooms.example.com"
S = "http://schemas.xmlsoap.org/soap/envelope/"
M = "http://schemas.microsoft.com/exchange/services/2006/messages"
T = "http://schemas.microsoft.com/exchange/services/2006/types"


class _Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = threading.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        self.ready.set()


class Recorder:
    """ASGI wrapper keeping the EWS answers' bodies."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.bodies: list[bytes] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        chunks: list[bytes] = []
        ews = scope["type"] == "http" and scope["path"].lower() == "/ews/exchange.asmx"

        async def keep(message: Any) -> None:
            if ews and message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body") and b"".join(chunks):
                    self.bodies.append(b"".join(chunks))
            await send(message)

        await self.app(scope, receive, keep)


@dataclass
class Site:
    url: str
    ca: Path
    recorder: Recorder
    berg_token: str

    @property
    def tls(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca))

    @property
    def ews(self) -> str:
        return f"{self.url}/EWS/Exchange.asmx"


def meetings_for(room: str, clock: FakeClock) -> list[Meeting]:
    start = clock.now() + timedelta(hours=1)
    return [
        meeting(room=room, event_id="m1", subject="Weekly sync", start=start),
        meeting(room=room, event_id="m2", alias=None, start=start + timedelta(hours=2)),
        meeting(room=room, event_id="m3", listed=False, start=start + timedelta(hours=3)),
        meeting(
            room=room,
            event_id="m4",
            subject="Private meeting",
            private=True,
            alias="1234567@zoomcrc.com",
            start=start + timedelta(hours=4),
        ),
    ]


def poly(name: str, room: str, password: str | None = None) -> Endpoint:
    return Endpoint(
        name=name,
        group="Rooms",
        room_resource_email=room,
        type="POLY",
        api_password=Secret(password) if password else None,
    )


@pytest.fixture
def site(
    db: Database, clock: FakeClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Site]:
    configure(db, [poly("fjord-poly", FJORD, "fjord-pass"), poly("berg-poly", BERG)])
    store_meetings(db, FJORD, meetings_for(FJORD, clock), now=clock.now())
    store_meetings(db, BERG, meetings_for(BERG, clock)[:1], now=clock.now())
    berg_token = db.tokens.create("endpoint", "berg-poly", now=clock.now(), endpoint="berg-poly")
    ca = ScratchCA()
    issued = ca.issue("127.0.0.1")
    (tmp_path / "cert.pem").write_bytes(issued.cert)
    (tmp_path / "key.pem").write_bytes(issued.key)
    ca_file = ca.write(tmp_path)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(ca_file))
    recorder = Recorder(create_app(db, clock=clock.now))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        recorder,
        log_level="warning",
        lifespan="off",
        access_log=False,
        ssl_certfile=str(tmp_path / "cert.pem"),
        ssl_keyfile=str(tmp_path / "key.pem"),
    )
    server = _Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    assert server.ready.wait(10), "uvicorn did not start"
    try:
        yield Site(f"https://127.0.0.1:{port}", ca_file, recorder, berg_token[0])
    finally:
        server.should_exit = True
        server.force_exit = True  # exchangelib keeps its pooled connections open
        thread.join(10)
        assert not thread.is_alive(), "uvicorn did not stop"
        sock.close()


def account(site: Site, user: str, password: str, room: str) -> Account:
    config = Configuration(
        service_endpoint=site.ews,
        credentials=Credentials(user, password),
        auth_type=BASIC,
        version=Version(build=Build(15, 1, 2507, 6)),
        max_connections=1,
    )
    return Account(room, config=config, access_type=DELEGATE, autodiscover=False)


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}", "Content-Type": "text/xml; charset=utf-8"}


def soap(operation: str, *, header: str = "") -> bytes:
    """A request as in Microsoft's EWS reference examples (prefixes differ from exchangelib's)."""
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<soap:Envelope xmlns:soap="{S}" xmlns:t="{T}" xmlns:m="{M}">'
        f'<soap:Header><t:RequestServerVersion Version="Exchange2010_SP2"/>{header}</soap:Header>'
        f"<soap:Body>{operation}</soap:Body></soap:Envelope>"
    ).encode()


GET_CALENDAR = soap(
    "<m:GetFolder><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape></m:FolderShape>"
    '<m:FolderIds><t:DistinguishedFolderId Id="calendar"/></m:FolderIds></m:GetFolder>'
)


def sync(state: str = "") -> bytes:
    return soap(
        "<m:SyncFolderItems><m:ItemShape><t:BaseShape>Default</t:BaseShape></m:ItemShape>"
        '<m:SyncFolderId><t:DistinguishedFolderId Id="calendar"/></m:SyncFolderId>'
        + (f"<m:SyncState>{state}</m:SyncState>" if state else "")
        + "<m:MaxChangesReturned>100</m:MaxChangesReturned></m:SyncFolderItems>"
    )


def test_exchangelib_reads_the_room_calendar_over_tls(
    site: Site, db: Database, clock: FakeClock
) -> None:
    room = account(site, "fjord-poly", "fjord-pass", FJORD)
    now = clock.now()
    items = list(room.calendar.view(start=now, end=now + timedelta(days=2)))
    assert [i.subject for i in items] == ["Weekly sync", "Weekly sync", "Private meeting"]
    assert [i.location for i in items] == [
        "sip:abc-defg-hij@google.pexip.me",
        None,
        "sip:1234567@zoomcrc.com",
    ]
    assert [i.sensitivity for i in items] == ["Normal", "Normal", "Private"]
    assert items[0].start == now + timedelta(hours=1)
    assert items[0].organizer.email_address == "ola@example.com"
    # calendar.view() reads the bodies with GetItem: the dial URI on a line of its own
    assert "Join: sip:abc-defg-hij@google.pexip.me" in str(items[0].body)
    assert "Weekly" not in str(items[0].body)
    operations = [check_response(body) for body in site.recorder.bodies]
    assert {"GetFolder", "FindItem", "GetItem"} <= set(operations)
    assert db.delivery.get("fjord-poly").last_read_at == now


def test_one_rooms_credentials_never_read_another_room(site: Site) -> None:
    with pytest.raises(ErrorAccessDenied):
        list(account(site, "fjord-poly", "fjord-pass", BERG).calendar.all())
    impersonating = soap(
        "<m:GetFolder><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape></m:FolderShape>"
        '<m:FolderIds><t:DistinguishedFolderId Id="calendar"/></m:FolderIds></m:GetFolder>',
        header=(
            "<t:ExchangeImpersonation><t:ConnectingSID>"
            f"<t:PrimarySmtpAddress>{BERG}</t:PrimarySmtpAddress>"
            "</t:ConnectingSID></t:ExchangeImpersonation>"
        ),
    )
    with httpx.Client(verify=site.tls) as client:
        answer = client.post(
            site.ews, content=impersonating, headers=basic("fjord-poly", "fjord-pass")
        )
        assert answer.status_code == 500
        assert b"ErrorImpersonateUserDenied" in answer.content
        # an item id of berg's calendar, read with fjord's credentials
        berg_items = list(account(site, "berg-poly", site.berg_token, BERG).calendar.all())
        foreign = berg_items[0].id
        get = soap(
            "<m:GetItem><m:ItemShape><t:BaseShape>AllProperties</t:BaseShape></m:ItemShape>"
            f'<m:ItemIds><t:ItemId Id="{foreign}"/></m:ItemIds></m:GetItem>'
        )
        answer = client.post(site.ews, content=get, headers=basic("fjord-poly", "fjord-pass"))
        assert answer.status_code == 200
        assert check_response(answer.content) == "GetItem"
        assert b"ErrorAccessDenied" in answer.content
        assert b"Weekly sync" not in answer.content


def test_wrong_password_is_401_and_repeated_failures_raise_an_alarm(
    site: Site, db: Database
) -> None:
    with pytest.raises(UnauthorizedError):
        list(account(site, "fjord-poly", "wrong", FJORD).calendar.all())
    with httpx.Client(verify=site.tls) as client:
        for _ in range(5):
            refused = client.post(site.ews, content=GET_CALENDAR, headers=basic("fjord-poly", "x"))
            assert refused.status_code == 401
            assert refused.headers["www-authenticate"].startswith("Basic ")
        # guessing user names: counted together, one alarm
        for guess in range(5):
            headers = basic(f"guess{guess}", "x")
            assert client.post(site.ews, content=GET_CALENDAR, headers=headers).status_code == 401
        assert len(db.alarms.active(subject="ews:unknown-user", kind="ews_auth")) == 1
        alarms = db.alarms.active(subject="fjord-poly", kind="ews_auth")
        assert len(alarms) == 1
        assert "refused EWS logons" in alarms[0].message
        # a device's own calendar read with the right password clears it
        good = client.post(
            site.ews, content=GET_CALENDAR, headers=basic("fjord-poly", "fjord-pass")
        )
        assert good.status_code == 200
        assert db.alarms.active(subject="fjord-poly", kind="ews_auth") == []
        # the profile's shared password, a CISCO-style user or a domain prefix
        assert (
            client.post(
                site.ews, content=GET_CALENDAR, headers=basic("EXAMPLE\\fjord-poly", "fjord-pass")
            ).status_code
            == 200
        )
        assert (
            client.post(
                site.ews, content=GET_CALENDAR, headers=basic(FJORD, "fjord-pass")
            ).status_code
            == 200
        )
        assert client.post(site.ews, content=GET_CALENDAR).status_code == 401


def test_endpoint_token_is_the_password_until_revoked(
    site: Site, db: Database, clock: FakeClock
) -> None:
    items = list(account(site, "berg-poly", site.berg_token, BERG).calendar.all())
    assert [i.location for i in items] == ["sip:abc-defg-hij@google.pexip.me"]
    with httpx.Client(verify=site.tls) as client:
        # berg's token is not fjord's password
        assert (
            client.post(
                site.ews, content=GET_CALENDAR, headers=basic("fjord-poly", site.berg_token)
            ).status_code
            == 401
        )
        assert db.tokens.revoke("endpoint", "berg-poly", now=clock.now())
        assert (
            client.post(
                site.ews, content=GET_CALENDAR, headers=basic("berg-poly", site.berg_token)
            ).status_code
            == 401
        )


def test_credentials_are_checked_before_the_body_and_bodies_are_capped(site: Site) -> None:
    big = b"<x>" + b"a" * (300 * 1024) + b"</x>"
    with httpx.Client(verify=site.tls) as client:
        assert client.post(site.ews, content=big).status_code == 401
        answer = client.post(site.ews, content=big, headers=basic("fjord-poly", "fjord-pass"))
        assert answer.status_code == 413


def test_change_key_and_sync_folder_items_follow_the_meetings(
    site: Site, db: Database, clock: FakeClock
) -> None:
    auth = basic("fjord-poly", "fjord-pass")
    with httpx.Client(verify=site.tls) as client:
        first = client.post(site.ews, content=GET_CALENDAR, headers=auth)
        assert check_response(first.content) == "GetFolder"
        created = client.post(site.ews, content=sync(), headers=auth)
        assert check_response(created.content) == "SyncFolderItems"
        assert created.content.count(b"<t:Create>") == 3
        state = created.text.split("<m:SyncState>")[1].split("</m:SyncState>")[0]
        unchanged = client.post(site.ews, content=sync(state), headers=auth)
        assert b"<t:Create>" not in unchanged.content
        assert b"<t:Update>" not in unchanged.content
        again = client.post(site.ews, content=GET_CALENDAR, headers=auth)
        assert again.content == first.content
        changed = meetings_for(FJORD, clock)
        changed[0] = meeting(room=FJORD, event_id="m1", subject="Moved", start=clock.now())
        store_meetings(db, FJORD, changed[:1] + changed[2:], now=clock.now())
        after = client.post(site.ews, content=sync(state), headers=auth)
        check_response(after.content)
        assert after.content.count(b"<t:Update>") == 1
        assert after.content.count(b"<t:Delete>") == 1
        assert b"Moved" in after.content
        folder = client.post(site.ews, content=GET_CALENDAR, headers=auth)
        assert folder.content != first.content  # the calendar's ChangeKey moved
        bad = client.post(site.ews, content=sync("AAAA"), headers=auth)
        assert b"ErrorInvalidSyncStateData" in bad.content


def test_entities_and_unknown_operations_get_soap_faults(site: Site) -> None:
    auth = basic("fjord-poly", "fjord-pass")
    xxe = (
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
        + GET_CALENDAR.split(b"?>", 1)[1].replace(b'Id="calendar"', b'Id="&e;"')
    )
    with httpx.Client(verify=site.tls) as client:
        answer = client.post(site.ews, content=xxe, headers=auth)
        assert answer.status_code == 500
        assert b"ErrorSchemaValidation" in answer.content
        assert b"root:" not in answer.content
        create = soap("<m:CreateItem><m:Items/></m:CreateItem>")
        answer = client.post(site.ews, content=create, headers=auth)
        assert answer.status_code == 500
        assert b"ErrorInvalidRequest" in answer.content


def test_autodiscover_gives_the_ews_url_for_the_own_room_only(site: Site) -> None:
    def request(address: str) -> bytes:
        return (
            '<?xml version="1.0" encoding="utf-8"?><Autodiscover xmlns="http://schemas.'
            'microsoft.com/exchange/autodiscover/outlook/requestschema/2006"><Request>'
            f"<EMailAddress>{address}</EMailAddress><AcceptableResponseSchema>http://schemas."
            "microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"
            "</AcceptableResponseSchema></Request></Autodiscover>"
        ).encode()

    url = f"{site.url}/autodiscover/autodiscover.xml"
    auth = basic("fjord-poly", "fjord-pass")
    with httpx.Client(verify=site.tls) as client:
        own = client.post(url, content=request(FJORD), headers=auth)
        assert own.status_code == 200
        assert f"<EwsUrl>{site.ews}</EwsUrl>".encode() in own.content
        other = client.post(url, content=request(BERG), headers=auth)
        assert b"<ErrorCode>500</ErrorCode>" in other.content
        assert b"EwsUrl" not in other.content
        assert client.post(url, content=request(FJORD)).status_code == 401


def test_a_private_invitation_shows_only_what_the_profile_allows(
    site: Site, db: Database, clock: FakeClock
) -> None:
    from calendars.base import CalendarEvent
    from otj.model import MeetingRule, Profile
    from otj.rules import RuleSet

    rules = RuleSet.compile([MeetingRule(name="Meet", meeting_type="googlemeetsipguestjoin")])
    start = clock.now() + timedelta(hours=1)
    secret = CalendarEvent(
        id="p1", room=FJORD, start=start, end=start + timedelta(hours=1),
        subject="Layoffs 2026", private=True, organizer_email="ceo@example.com",
        body="Confidential agenda https://meet.google.com/abc-defg-hij",
    )  # fmt: skip
    processed = rules.process(secret, Profile(name="Head office"), now=clock.now())
    assert processed.subject != "Layoffs 2026"
    store_meetings(db, FJORD, [processed], now=clock.now())
    items = list(account(site, "fjord-poly", "fjord-pass", FJORD).calendar.all())
    assert [(i.subject, i.sensitivity) for i in items] == [(processed.subject, "Private")]
    assert items[0].location == "sip:abc-defg-hij@google.pexip.me"
    served = b"".join(site.recorder.bodies)
    assert b"Layoffs" not in served
    assert b"Confidential" not in served


def test_pull_notifications_say_when_the_meetings_changed(
    site: Site, db: Database, clock: FakeClock
) -> None:
    calendar = account(site, "fjord-poly", "fjord-pass", FJORD).calendar
    subscription, watermark = calendar.subscribe_to_pull()
    (quiet,) = calendar.get_events(subscription, watermark)
    assert [type(e).__name__ for e in quiet.events] == ["StatusEvent"]
    watermark = quiet.events[-1].watermark
    moved = meetings_for(FJORD, clock)[:1]
    store_meetings(db, FJORD, moved, now=clock.now())
    (changed,) = calendar.get_events(subscription, watermark)
    assert [type(e).__name__ for e in changed.events] == ["ModifiedEvent"]
    assert changed.events[0].folder_id.id == calendar.id
    (after,) = calendar.get_events(subscription, changed.events[-1].watermark)
    assert [type(e).__name__ for e in after.events] == ["StatusEvent"]
    assert calendar.unsubscribe(subscription) is True
    operations = [check_response(body) for body in site.recorder.bodies]
    assert {"Subscribe", "GetEvents", "Unsubscribe"} <= set(operations)


async def test_plain_http_from_another_host_is_refused_before_the_credentials(
    db: Database, clock: FakeClock
) -> None:
    configure(db, [poly("fjord-poly", FJORD, "fjord-pass")])
    app = create_app(db, clock=clock.now)
    auth = basic("fjord-poly", "fjord-pass")
    remote = httpx.ASGITransport(app=app, client=("203.0.113.5", 40000))
    async with httpx.AsyncClient(transport=remote, base_url="http://otj.example.com") as client:
        refused = await client.post("/EWS/Exchange.asmx", content=GET_CALENDAR, headers=auth)
        assert refused.status_code == 403
        assert "HTTPS" in refused.text
    async with httpx.AsyncClient(transport=remote, base_url="https://otj.example.com") as client:
        served = await client.post("/EWS/Exchange.asmx", content=GET_CALENDAR, headers=auth)
        assert served.status_code == 200
        check_response(served.content)
