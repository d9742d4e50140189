"""The EWS fake's streaming notifications, driven through exchangelib's streaming API."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from exchangelib import DELEGATE, IMPERSONATION, Account, Configuration, Credentials, Version
from exchangelib.errors import ErrorInvalidRequest, ErrorInvalidSubscription
from exchangelib.properties import CreatedEvent, ModifiedEvent
from exchangelib.version import EXCHANGE_2016

from tests.fakes.ews import EwsFake
from tests.fakes.graph_store import FakeEvent

ROOM = "fjord@resource.example.com"


@pytest.fixture
def fake() -> Iterator[EwsFake]:
    with EwsFake() as ews:
        ews.store.add_mailbox(ROOM)
        ews.streaming.minute = 0.5  # a 1-minute ConnectionTimeout lasts half a second
        ews.streaming.heartbeat = 0.2
        yield ews


def account(fake: EwsFake, *, impersonation: bool = True) -> Any:
    config = Configuration(
        service_endpoint=fake.service_endpoint,
        credentials=Credentials("EXAMPLE\\svc-otj", "ews-password"),
        version=Version(build=EXCHANGE_2016),
        auth_type="basic",
    )
    return Account(
        ROOM,
        config=config,
        autodiscover=False,
        access_type=IMPERSONATION if impersonation else DELEGATE,
    )


def event(subject: str) -> FakeEvent:
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)
    return FakeEvent(
        uid=f"uid-{subject}", subject=subject, start=start, end=start + timedelta(hours=1)
    )


def test_a_change_arrives_on_the_stream_then_the_connection_closes(fake: EwsFake) -> None:
    calendar = account(fake).calendar
    sid = calendar.subscribe_to_streaming()
    item = fake.add_event(ROOM, event("before"))
    fake.store.update(ROOM, item, subject="after")
    notifications = list(calendar.get_streaming_events(sid, connection_timeout=1))
    events = [e for n in notifications for e in n.events]
    assert [type(e) for e in events] == [CreatedEvent, ModifiedEvent]
    assert {n.subscription_id for n in notifications} == {sid}
    assert fake.streaming.closed == 1  # ConnectionStatus Closed after the timeout
    assert list(calendar.get_streaming_events(sid, connection_timeout=1)) == []
    assert fake.streaming.connections == 2
    calendar.unsubscribe(sid)
    assert fake.streaming.subscriptions(ROOM) == 0


def test_an_expired_subscription_answers_error_invalid_subscription(fake: EwsFake) -> None:
    calendar = account(fake).calendar
    sid = calendar.subscribe_to_streaming()
    assert fake.streaming.invalidate(ROOM) == 1
    with pytest.raises(ErrorInvalidSubscription):
        list(calendar.get_streaming_events(sid, connection_timeout=1))


def test_a_server_refusing_streaming_answers_the_subscribe_with_an_error(fake: EwsFake) -> None:
    fake.streaming.refuse()
    with pytest.raises(ErrorInvalidRequest):
        account(fake).calendar.subscribe_to_streaming()
    assert fake.streaming.subscriptions() == 0


def test_a_delegate_streams_without_impersonation(fake: EwsFake) -> None:
    fake.delegates[ROOM] = {"example\\svc-otj"}
    calendar = account(fake, impersonation=False).calendar
    sid = calendar.subscribe_to_streaming()
    fake.add_event(ROOM, event("one"))
    notifications = list(calendar.get_streaming_events(sid, connection_timeout=1))
    assert [type(e) for n in notifications for e in n.events] == [CreatedEvent]
