"""Push notification endpoints: ``POST /notifications/graph`` (and ``…/graph/lifecycle``),
``POST /notifications/google``.

Microsoft Graph change notifications (https://learn.microsoft.com/graph/change-notifications-
delivery-webhooks): the validation request (``?validationToken=…``, answered with the token as
``text/plain`` within 10 s) is answered only while this process is opening a subscription;
every notification must name a subscription this process opened and carry its
``clientState``. Google Calendar (https://developers.google.com/calendar/api/guides/push):
``X-Goog-Channel-ID`` must name a channel this process opened and ``X-Goog-Channel-Token``
carry its token; ``sync`` messages (the channel opened) are acknowledged and ignored. Bodies
are capped. The answer comes at once; the room's sync runs on the worker's threads. Mounted
with ``OTJ_PUBLIC_URL``; otherwise no route exists and nothing is accepted. A notification for a
room another process holds (several ``otj serve``/``otj worker`` processes on one PostgreSQL) is
checked against that process's lease and queued for it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from starlette.concurrency import run_in_threadpool

if TYPE_CHECKING:
    from otj.store import Database
    from otj.worker.notifications import NotificationHub

log = logging.getLogger(__name__)

MAX_BODY = 256 * 1024
GOOGLE_MAX_BODY = 4096
MAX_VALIDATION_TOKEN = 1024
BODY_LIMITS = {
    "/notifications/graph": MAX_BODY,
    "/notifications/graph/lifecycle": MAX_BODY,
    "/notifications/google": GOOGLE_MAX_BODY,
}
"""Read by :mod:`otj.api.limits` (every other route reads no body)."""
LIFECYCLE_EVENTS = frozenset({"reauthorizationRequired", "subscriptionRemoved", "missed"})


class _TooLarge(Exception):
    pass


async def read_capped(request: Request, limit: int = MAX_BODY) -> bytes:
    """The request body, refusing more than ``limit`` bytes (declared or sent)."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise _TooLarge
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise _TooLarge
    return bytes(body)


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"detail": message}, status_code=status)


def _validation(expected: bool, token: str) -> Response:
    """Echo Graph's validation token, only while a subscription is being opened."""
    if not expected:
        return _error(404, "no subscription is being opened")
    if len(token) > MAX_VALIDATION_TOKEN or not token.isprintable():
        return _error(400, "unacceptable validationToken")
    return PlainTextResponse(token, status_code=200)


def _items(body: bytes) -> list[Any] | None:
    try:
        data = json.loads(body)
    except ValueError:
        return None
    values = data.get("value") if isinstance(data, dict) else None
    return values if isinstance(values, list) else None


def _dispatch(hub: NotificationHub, items: list[Any], *, lifecycle: bool) -> int:
    """Authenticate each Graph notification and hand it over; the number accepted (this reads
    the database: run off the event loop)."""
    accepted = 0
    for item in items:
        if not isinstance(item, dict):
            continue
        room = hub.authenticate("graph", item.get("subscriptionId"), item.get("clientState"))
        if room is None:
            continue
        accepted += 1
        if lifecycle:
            event = item.get("lifecycleEvent")
            if event in LIFECYCLE_EVENTS:
                hub.lifecycle(room, str(event))
        else:
            hub.changed(room)
    return accepted


def _google(hub: NotificationHub, channel: object, token: object, state: object) -> str | None:
    """Authenticate a Google notification and hand it over (``sync`` messages are not)."""
    room = hub.authenticate("google", channel, token)
    if room is not None and state != "sync":
        hub.changed(room)
    return room


def router(
    db: Database, *, clock: Callable[[], datetime], hub: NotificationHub | None = None
) -> APIRouter:
    """The notification routes (none without a hub: nothing is subscribed here)."""
    del db, clock
    api = APIRouter(tags=["notifications"])
    if hub is None:
        return api

    async def receive(request: Request, *, lifecycle: bool) -> Response:
        token = request.query_params.get("validationToken")
        if token is not None:
            expected = await run_in_threadpool(hub.expects_validation, "graph")
            return _validation(expected, token)
        try:
            body = await read_capped(request)
        except _TooLarge:
            return _error(413, f"notification body larger than {MAX_BODY} bytes")
        items = _items(body)
        if items is None:
            return _error(400, "expected a JSON object with a value list")
        accepted = await run_in_threadpool(_dispatch, hub, items, lifecycle=lifecycle)
        if not accepted:
            log.warning(
                "notification refused: %d item(s), none for a subscription of this process",
                len(items),
            )
            return _error(403, "no notification for a subscription of this process")
        return Response(status_code=202)

    @api.post("/notifications/google", status_code=200, response_class=Response)
    async def google_changes(request: Request) -> Response:
        """Google Calendar ``events.watch`` notifications (headers only, no body)."""
        try:
            await read_capped(request, GOOGLE_MAX_BODY)
        except _TooLarge:
            return _error(413, f"notification body larger than {GOOGLE_MAX_BODY} bytes")
        headers = request.headers
        state = headers.get("x-goog-resource-state")
        room = await run_in_threadpool(
            _google,
            hub,
            headers.get("x-goog-channel-id"),
            headers.get("x-goog-channel-token"),
            state,
        )
        if room is None:
            # the sync message of a channel may race its registration: not worth a warning
            log.log(
                logging.DEBUG if state == "sync" else logging.WARNING,
                "Google notification refused: not a channel of this process",
            )
            return _error(403, "not a channel of this process")
        return Response(status_code=200)

    @api.post("/notifications/graph", status_code=202, response_class=Response)
    async def graph_changes(request: Request) -> Response:
        """Microsoft Graph change notifications (and the subscription validation request)."""
        return await receive(request, lifecycle=False)

    @api.post("/notifications/graph/lifecycle", status_code=202, response_class=Response)
    async def graph_lifecycle(request: Request) -> Response:
        """Microsoft Graph lifecycle notifications (and their validation request)."""
        return await receive(request, lifecycle=True)

    return api
