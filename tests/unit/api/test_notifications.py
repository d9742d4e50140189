"""The notification endpoints: validation echo only while subscribing, authenticated items only,
bodies capped, nothing mounted without a worker in the process."""

from __future__ import annotations

import json
from typing import Any

from fastapi.testclient import TestClient

from otj.api.app import create_app
from otj.api.notifications import MAX_BODY
from otj.worker.notifications import NotificationHub

ROOM = "fjord@example.com"


class Recorder:
    def __init__(self) -> None:
        self.synced: list[str] = []
        self.lifecycle: list[tuple[str, str]] = []


def client(db: Any, hub: NotificationHub | None) -> TestClient:
    options = {"otj.api.notifications": {"hub": hub}} if hub is not None else {}
    return TestClient(create_app(db, router_options=options))


def hub_with_subscription() -> tuple[NotificationHub, Recorder]:
    hub = NotificationHub()
    seen = Recorder()
    hub.register("graph", "sub-1", ROOM, "the-client-state")
    # record instead of syncing: the debouncer is exercised in tests/unit/service
    hub.changed = seen.synced.append  # type: ignore[method-assign]
    hub.lifecycle = lambda room, event: seen.lifecycle.append((room, event))  # type: ignore[method-assign]
    return hub, seen


def notification(subscription: str, client_state: str, **extra: Any) -> dict[str, Any]:
    return {
        "subscriptionId": subscription,
        "clientState": client_state,
        "changeType": "updated",
        "resource": f"Users/{ROOM}/Events/AAMk",
        "tenantId": "t",
        **extra,
    }


def test_validation_token_is_echoed_only_while_subscribing(db: Any) -> None:
    hub, _ = hub_with_subscription()
    http = client(db, hub)
    url = "/notifications/graph?validationToken=Validation%3A+Testing+client+application"
    assert http.post(url).status_code == 404
    with hub.validating("graph"):
        answer = http.post(url)
        lifecycle = http.post(url.replace("graph?", "graph/lifecycle?"))
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    assert answer.text == "Validation: Testing client application"
    assert lifecycle.text == answer.text


def test_authenticated_notifications_sync_their_room_forged_ones_change_nothing(db: Any) -> None:
    hub, seen = hub_with_subscription()
    http = client(db, hub)
    forged = [
        notification("sub-1", "guessed"),
        notification("sub-unknown", "the-client-state"),
        {"subscriptionId": "sub-1"},
        "not an object",
    ]
    refused = http.post("/notifications/graph", json={"value": forged})
    assert refused.status_code == 403
    assert seen.synced == []
    good = http.post(
        "/notifications/graph",
        json={"value": [*forged, notification("sub-1", "the-client-state")]},
    )
    assert good.status_code == 202
    assert seen.synced == [ROOM]
    assert http.post("/notifications/graph", content=b"{not json").status_code == 400
    assert http.post("/notifications/graph", json={"value": "x"}).status_code == 400


def test_lifecycle_events_reach_the_worker_only_when_authenticated(db: Any) -> None:
    hub, seen = hub_with_subscription()
    http = client(db, hub)
    url = "/notifications/graph/lifecycle"
    items = [
        notification("sub-1", "the-client-state", lifecycleEvent="reauthorizationRequired"),
        notification("sub-1", "the-client-state", lifecycleEvent="somethingNew"),
        notification("sub-1", "wrong", lifecycleEvent="subscriptionRemoved"),
    ]
    assert http.post(url, json={"value": items}).status_code == 202
    assert seen.lifecycle == [(ROOM, "reauthorizationRequired")]
    assert seen.synced == []


def test_bodies_over_the_cap_are_refused_unread(db: Any) -> None:
    hub, seen = hub_with_subscription()
    http = client(db, hub)
    item = notification("sub-1", "the-client-state")
    big = json.dumps({"value": [item] * (MAX_BODY // len(json.dumps(item)) + 10)})
    assert len(big) > MAX_BODY
    assert http.post("/notifications/graph", content=big).status_code == 413

    def chunks() -> Any:  # no Content-Length: the stream is counted
        for _ in range(MAX_BODY // 1024 + 2):
            yield b" " * 1024

    assert http.post("/notifications/graph", content=chunks()).status_code == 413
    assert seen.synced == []


def test_without_a_worker_in_the_process_nothing_is_accepted(db: Any) -> None:
    http = client(db, None)
    assert http.post("/notifications/graph?validationToken=x").status_code in (404, 405)
    assert http.post("/notifications/graph", json={"value": []}).status_code in (404, 405)
