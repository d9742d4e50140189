"""Microsoft Graph change notification subscriptions, served by ``GraphFake`` as Graph does.

https://learn.microsoft.com/graph/api/subscription-post-subscriptions,
https://learn.microsoft.com/graph/change-notifications-delivery-webhooks and
https://learn.microsoft.com/graph/change-notifications-lifecycle-events:

- ``POST /v1.0/subscriptions``: ``resource`` ``/users/{room}/events``, HTTPS ``notificationUrl``
  (and ``lifecycleNotificationUrl``), ``expirationDateTime`` at most 10,080 minutes ahead,
  ``clientState`` up to 128 characters. Before answering 201 the fake POSTs
  ``?validationToken=…`` to each URL and requires 200 with the token as the body within 10 s;
  otherwise 400 ``InvalidRequest`` "Subscription validation request failed".
- ``PATCH /v1.0/subscriptions/{id}`` (new ``expirationDateTime``), ``DELETE`` (204); 404 for an
  unknown or expired subscription.
- Every change of a subscribed room's calendar is POSTed to ``notificationUrl`` as
  ``{"value": [{subscriptionId, clientState, changeType, resource, resourceData, …}]}``, from
  delivery threads (one request per change, as Graph sends them); ``lifecycle`` sends
  ``reauthorizationRequired`` / ``subscriptionRemoved`` / ``missed``.
"""

from __future__ import annotations

import json
import re
import ssl
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from tests.fakes.google_calendar_http import Response

MAX_MINUTES = 10_080
VALIDATION_TIMEOUT = 10.0
_RESOURCE = re.compile(r"^/?users/([^/]+)/events$", re.IGNORECASE)
_BY_ID = re.compile(r"^/v1\.0/subscriptions/([^/]+)$")
_CHANGE_TYPES = frozenset({"created", "updated", "deleted"})


@dataclass(slots=True)
class FakeSubscription:
    id: str
    room: str
    resource: str
    change_types: frozenset[str]
    notification_url: str
    lifecycle_url: str
    client_state: str
    expires: datetime
    removed: bool = False


@dataclass(slots=True)
class Delivery:
    """One notification POST the fake made: to whom, the answer, how long it took."""

    subscription_id: str
    url: str
    status: int
    seconds: float
    lifecycle: str = ""


@dataclass(slots=True)
class _Log:
    deliveries: list[Delivery] = field(default_factory=list)
    validations: list[tuple[str, int]] = field(default_factory=list)


class GraphSubscriptions:
    """The subscriptions of one ``GraphFake`` (thread-safe)."""

    def __init__(
        self,
        *,
        tenant_id: str,
        client_id: str,
        now: Callable[[], datetime] | None = None,
        ca_file: Path | None = None,
    ) -> None:
        self._tenant_id = tenant_id
        self._client_id = client_id
        self._now = now or (lambda: datetime.now(UTC))
        self._lock = threading.Lock()
        self._subs: dict[str, FakeSubscription] = {}
        self._http = httpx.Client(
            verify=ssl.create_default_context(cafile=str(ca_file)) if ca_file else True,
            timeout=VALIDATION_TIMEOUT,
        )
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="fake-graph-notify")
        self.log = _Log()
        self.has_mailbox: Callable[[str], bool] = lambda room: True

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._http.close()

    # test helpers --------------------------------------------------------------------------
    def active(self, room: str | None = None) -> list[FakeSubscription]:
        now = self._now()
        with self._lock:
            return [
                s
                for s in self._subs.values()
                if not s.removed and s.expires > now and (room is None or s.room == room.lower())
            ]

    def deliveries(self) -> list[Delivery]:
        with self._lock:
            return list(self.log.deliveries)

    def lifecycle(self, subscription_id: str, event: str) -> Delivery:
        """Send a lifecycle notification now (``subscriptionRemoved`` also removes it)."""
        with self._lock:
            sub = self._subs[subscription_id]
            if event == "subscriptionRemoved":
                sub.removed = True
        item = {
            "subscriptionId": sub.id,
            "subscriptionExpirationDateTime": _graph_time(sub.expires),
            "tenantId": self._tenant_id,
            "clientState": sub.client_state,
            "lifecycleEvent": event,
        }
        return self._post(sub, sub.lifecycle_url or sub.notification_url, item, lifecycle=event)

    # store changes -------------------------------------------------------------------------
    def changed(self, room: str, item_id: str, change_type: str) -> None:
        """``MailboxStore.on_change``: notify every live subscription of the room."""
        for sub in self.active(room):
            if change_type in sub.change_types:
                item = {
                    "subscriptionId": sub.id,
                    "subscriptionExpirationDateTime": _graph_time(sub.expires),
                    "changeType": change_type,
                    "resource": f"Users/{sub.room}/Events/{item_id}",
                    "resourceData": {
                        "@odata.type": "#Microsoft.Graph.Event",
                        "@odata.id": f"Users/{sub.room}/Events/{item_id}",
                        "@odata.etag": f'W/"{uuid.uuid4().hex}"',
                        "id": item_id,
                    },
                    "clientState": sub.client_state,
                    "tenantId": self._tenant_id,
                }
                self._pool.submit(self._post, sub, sub.notification_url, item)

    def _post(
        self, sub: FakeSubscription, url: str, item: Mapping[str, Any], *, lifecycle: str = ""
    ) -> Delivery:
        began = time.monotonic()
        try:
            status = self._http.post(url, json={"value": [item]}, timeout=30.0).status_code
        except httpx.HTTPError:
            status = 0
        delivery = Delivery(
            subscription_id=sub.id,
            url=url,
            status=status,
            seconds=time.monotonic() - began,
            lifecycle=lifecycle,
        )
        with self._lock:
            self.log.deliveries.append(delivery)
        return delivery

    # HTTP ----------------------------------------------------------------------------------
    def route(self, method: str, path: str, body: bytes) -> Response:
        if method == "POST" and path == "/v1.0/subscriptions":
            return self._create(body)
        match = _BY_ID.match(path)
        if match is None:
            return _error(400, "BadRequest", f"Unsupported request {method} {path}")
        sub_id = match.group(1)
        with self._lock:
            sub = self._subs.get(sub_id)
            live = sub is not None and not sub.removed and sub.expires > self._now()
        if sub is None or not live:
            return _error(404, "ResourceNotFound", f"The object '{sub_id}' doesn't exist.")
        if method == "DELETE":
            with self._lock:
                del self._subs[sub_id]
            return Response(status=204, body=b"")
        if method == "PATCH":
            return self._renew(sub, body)
        if method == "GET":
            return _ok(200, sub, self._client_id)
        return _error(405, "MethodNotAllowed", f"{method} is not allowed")

    def _create(self, body: bytes) -> Response:
        try:
            data = json.loads(body)
            resource = str(data["resource"])
            change_types = frozenset(str(data["changeType"]).split(","))
            url = str(data["notificationUrl"])
            lifecycle = str(data.get("lifecycleNotificationUrl") or "")
            client_state = str(data.get("clientState") or "")
            expires = _parse(str(data["expirationDateTime"]))
        except (ValueError, KeyError, TypeError) as exc:
            return _error(400, "InvalidRequest", f"Invalid subscription request: {exc!r}")
        match = _RESOURCE.match(resource)
        if match is None:
            return _error(400, "InvalidRequest", f"Resource '{resource}' is not supported.")
        room = match.group(1).lower()
        if not self.has_mailbox(room):
            return _error(404, "ResourceNotFound", f"The user '{room}' does not exist.")
        if not change_types <= _CHANGE_TYPES:
            return _error(400, "InvalidRequest", f"Invalid changeType '{data['changeType']}'.")
        for candidate in filter(None, (url, lifecycle)):
            if urlsplit(candidate).scheme != "https":
                return _error(400, "InvalidRequest", "The notification URL must use HTTPS.")
        if len(client_state) > 128:
            return _error(400, "InvalidRequest", "clientState is longer than 128 characters.")
        now = self._now()
        if not now < expires <= now + timedelta(minutes=MAX_MINUTES):
            return _error(
                400,
                "InvalidRequest",
                f"Subscription expiration can only be {MAX_MINUTES} minutes in the future.",
            )
        for candidate in filter(None, (url, lifecycle)):
            if not self._validate(candidate):
                return _error(
                    400,
                    "InvalidRequest",
                    "Subscription validation request failed. Notification endpoint must "
                    "respond with 200 OK to validation request.",
                )
        sub = FakeSubscription(
            id=str(uuid.uuid4()),
            room=room,
            resource=resource,
            change_types=change_types,
            notification_url=url,
            lifecycle_url=lifecycle,
            client_state=client_state,
            expires=expires,
        )
        with self._lock:
            self._subs[sub.id] = sub
        return _ok(201, sub, self._client_id)

    def _validate(self, url: str) -> bool:
        """POST ``?validationToken=…``: 200 with the token, as text, within 10 s."""
        token = f"Validation: Testing client application {uuid.uuid4().hex}"
        separator = "&" if urlsplit(url).query else "?"
        try:
            answer = self._http.post(
                f"{url}{separator}validationToken={quote(token)}",
                headers={"Content-Type": "text/plain; charset=utf-8"},
                timeout=VALIDATION_TIMEOUT,
            )
            ok = answer.status_code == 200 and answer.text == token
            status = answer.status_code
        except httpx.HTTPError:
            ok, status = False, 0
        with self._lock:
            self.log.validations.append((url, status))
        return ok

    def _renew(self, sub: FakeSubscription, body: bytes) -> Response:
        try:
            expires = _parse(str(json.loads(body)["expirationDateTime"]))
        except (ValueError, KeyError, TypeError) as exc:
            return _error(400, "InvalidRequest", f"Invalid expirationDateTime: {exc!r}")
        now = self._now()
        if not now < expires <= now + timedelta(minutes=MAX_MINUTES):
            return _error(400, "InvalidRequest", "Subscription expiration out of range.")
        with self._lock:
            sub.expires = expires
        return _ok(200, sub, self._client_id)


def _graph_time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.0000000Z")


def _parse(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise ValueError(f"expirationDateTime without an offset: {text!r}")
    return value


def _ok(status: int, sub: FakeSubscription, client_id: str) -> Response:
    body = {
        "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#subscriptions/$entity",
        "id": sub.id,
        "resource": sub.resource,
        "applicationId": client_id,
        "changeType": ",".join(sorted(sub.change_types)),
        "clientState": sub.client_state or None,
        "notificationUrl": sub.notification_url,
        "lifecycleNotificationUrl": sub.lifecycle_url or None,
        "expirationDateTime": _graph_time(sub.expires),
        "creatorId": client_id,
        "latestSupportedTlsVersion": "v1_2",
    }
    return Response(status=status, body=json.dumps(body).encode())


def _error(status: int, code: str, message: str) -> Response:
    body = {"error": {"code": code, "message": message, "innerError": {"request-id": "fake"}}}
    return Response(status=status, body=json.dumps(body).encode())
