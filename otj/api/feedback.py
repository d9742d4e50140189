"""HttpFeedback receiver: Cisco codecs post ``xEvent Bookings`` and ``xEvent UserInterface
Message Prompt Response`` here.

The delivery runner registers ``…/api/v1/endpoints/{name}/feedback/{secret}`` on each codec
(``xCommand HttpFeedback Register … Expression: /Event/Bookings``). ``Bookings SyncRequired``
marks the endpoint and its room for delivery, so the next worker cycle pushes the list again.
"Try again" on the prompt shown after a call ended in a meeting's lobby
(:mod:`otj.delivery.notices.lobby`) makes the codec dial that meeting again, after the answer is
sent.
The secret in the path authenticates the device (codecs cannot send credentials with feedback);
a wrong secret answers 404 so that endpoint names cannot be probed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, TypeVar

from fastapi import APIRouter, BackgroundTasks, Request, Response
from fastapi.responses import JSONResponse

from otj.delivery.devices.cisco import CiscoDefaults, CiscoXapiClient, connection_for
from otj.delivery.devices.errors import EndpointError, EndpointProtocolError
from otj.delivery.devices.xapi import parse_feedback
from otj.delivery.notices.lobby import TRY_AGAIN, call_of_feedback
from otj.delivery.notices.room_notices import redial

if TYPE_CHECKING:
    from otj.store import Database

log = logging.getLogger(__name__)
T = TypeVar("T")

MAX_BODY = 256 * 1024
BODY_LIMITS = {"/api/v1/endpoints/{name}/feedback/{secret}": MAX_BODY}
"""Request body caps by route (``otj.api.limits``); the secret is checked before the read."""


def router(
    db: Database, *, clock: Callable[[], datetime], defaults: CiscoDefaults | None = None
) -> APIRouter:
    """The feedback route (``defaults``: the service's codec timeouts, for "Try again")."""
    api = APIRouter(tags=["delivery"])
    cisco_defaults = defaults or CiscoDefaults()

    async def try_again(name: str, call: int) -> None:
        now = clock()
        record = await _run(db.calls.get, call)
        endpoint = await _run(db.config.endpoint, name)
        profile = await _run(lambda: db.config.profile_for_endpoint(name, secrets="resolve"))
        if endpoint is None:
            return
        try:
            connection = connection_for(
                endpoint, cisco_defaults.for_profile(profile) if profile else cisco_defaults
            )
            async with CiscoXapiClient(connection) as client:
                outcome = await redial(client, record, endpoints=[name], now=now)
        except EndpointError as exc:
            log.warning("%s: Try again: the codec did not dial: %s", name, exc)
            return
        if isinstance(outcome, str):
            log.warning("%s: Try again for call %d refused: %s", name, call, outcome)
        else:
            log.info("%s: Try again: dialling the meeting again (call %d)", name, outcome.call_id)

    @api.post(
        "/api/v1/endpoints/{name}/feedback/{secret}",
        summary="HttpFeedback events from a Cisco codec (Bookings, Message Prompt Response)",
        status_code=204,
        responses={
            400: {"description": "Not an xAPI event"},
            404: {"description": "Unknown endpoint or secret"},
        },
    )
    async def feedback(
        name: str, secret: str, request: Request, background: BackgroundTasks
    ) -> Response:
        known = await _run(db.delivery.check_feedback_secret, name, secret)
        if not known:
            return JSONResponse({"error": "not_found", "detail": ""}, status_code=404)
        body = await request.body()
        if len(body) > MAX_BODY:
            return JSONResponse({"error": "too_large", "detail": ""}, status_code=413)
        try:
            event = parse_feedback(body, content_type=request.headers.get("content-type", ""))
        except EndpointProtocolError as exc:
            log.warning("%s: unreadable HttpFeedback: %s", name, exc)
            return JSONResponse({"error": "bad_request", "detail": str(exc)}, status_code=400)
        if event.sync_required:
            log.info("%s: device asked for a bookings sync (SyncRequired)", name)
            await _run(_mark_sync_required, db, name, clock())
        elif event.booking_events:
            log.debug("%s: booking events %s", name, ", ".join(event.booking_events))
        for response in event.prompt_responses:
            call = call_of_feedback(response.feedback_id)
            if call is not None and response.option_id == TRY_AGAIN:
                background.add_task(try_again, name, call)
                break  # one tap, one call: never several dials from one event
        return Response(status_code=204)

    return api


def _mark_sync_required(db: Database, name: str, now: datetime) -> None:
    db.delivery.update(name, now=now, sync_required=True)
    endpoint = db.config.endpoint(name)
    if endpoint is not None:
        db.rooms.mark_pending(endpoint.room_resource_email)


async def _run(function: Callable[..., T], *args: object) -> T:
    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(function, *args)
