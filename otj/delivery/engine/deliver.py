"""One endpoint's delivery cycle, whatever the device: decide (:mod:`otj.delivery.engine.plan`),
push or read back the booking list, register HttpFeedback, and return the new state.

A device is anything with the :class:`BookingsClient` interface: a codec's own HTTP xAPI
(:class:`otj.delivery.devices.cisco.CiscoXapiClient`) or a cloud-registered device through the
Webex cloud xAPI (:class:`otj.delivery.devices.webex_cloud.WebexDeviceClient`). Every device
failure is an :class:`otj.delivery.devices.errors.EndpointError` and ends in ``after_failure``.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Protocol

from otj.delivery.devices.booking_documents import compare_lists, list_digest
from otj.delivery.devices.bookings import Booking, BookingsMode, for_software, is_native_join
from otj.delivery.devices.cisco import FEEDBACK_EXPRESSIONS
from otj.delivery.devices.errors import EndpointError
from otj.delivery.devices.xapi import SoftwareVersion, parse_software_version
from otj.delivery.engine.plan import (
    DEFAULT_VERIFY_EVERY,
    Decision,
    DeliveryState,
    after_failure,
    after_push,
    after_verify,
    decide,
)

log = logging.getLogger(__name__)


class DeviceConnection(Protocol):
    """What :func:`deliver` reads of a client's connection."""

    @property
    def endpoint(self) -> str: ...

    @property
    def feedback_slot(self) -> int: ...

    @property
    def room(self) -> str: ...


class BookingsClient(Protocol):
    """A device's booking list over some API: the local xAPI (:class:`CiscoXapiClient`) or the
    Webex cloud xAPI (:class:`otj.delivery.devices.webex_cloud.WebexDeviceClient`)."""

    @property
    def connection(self) -> DeviceConnection: ...

    async def software_version(self) -> SoftwareVersion: ...

    async def put_bookings(
        self, bookings: Sequence[Booking], *, version: SoftwareVersion
    ) -> BookingsMode: ...

    async def list_bookings(self) -> tuple[Booking, ...]: ...

    async def register_feedback(
        self, *, slot: int, server_url: str, expressions: Sequence[str] = ...
    ) -> None: ...

    async def aclose(self) -> None: ...


def feedback_digest(url: str, expressions: Sequence[str] = FEEDBACK_EXPRESSIONS) -> str:
    """What the state remembers of the registered HttpFeedback URL (it contains a secret) and
    expressions: a codec registered with other expressions is registered again."""
    return hashlib.sha256("\n".join((url, *expressions)).encode()).hexdigest()


@dataclass(frozen=True, kw_only=True, slots=True)
class DeliveryOutcome:
    """What one cycle did for one endpoint (state to store, plus a line for the report)."""

    endpoint: str
    decision: Decision
    state: DeliveryState
    pushed: bool = False
    verified: bool = False
    mismatches: tuple[str, ...] = ()
    error: str = ""
    error_kind: str = ""
    #: How many of the pushed bookings are RoomOS native (WebRTC) joins.
    webrtc: int = 0


async def deliver(
    client: BookingsClient,
    state: DeliveryState,
    bookings: Sequence[Booking],
    *,
    now: datetime,
    feedback_url: str = "",
    verify_every: timedelta | None = DEFAULT_VERIFY_EVERY,
) -> DeliveryOutcome:
    """Run one cycle for one codec: decide, push or read back, and return the new state."""
    name = client.connection.endpoint
    mode_guess: BookingsMode = "put"
    webrtc_guess = False
    if state.software_version:
        known = parse_software_version(state.software_version)
        mode_guess = "put" if known.supports_bookings_put else "legacy"
        webrtc_guess = known.supports_webrtc_join
    guessed = for_software(bookings, webrtc=webrtc_guess)
    digest = list_digest(guessed, mode=mode_guess)
    decision = decide(state, digest=digest, now=now, verify_every=verify_every)
    if decision.action == "skip":
        return DeliveryOutcome(endpoint=name, decision=decision, state=state)
    try:
        verified = False
        if decision.action == "verify":
            listed = await client.list_bookings()
            mismatches = compare_lists(guessed, listed)
            state = after_verify(state, now=now, mismatches=mismatches)
            verified = True
            if not mismatches:
                return DeliveryOutcome(endpoint=name, decision=decision, state=state, verified=True)
            log.warning("%s: device list differs, re-pushing: %s", name, "; ".join(mismatches))
            decision = decide(state, digest=digest, now=now, verify_every=None)
        outcome = await _push(client, state, bookings, decision=decision, now=now)
        state = await _register_feedback(client, outcome.state, feedback_url)
        return replace(outcome, state=state, verified=verified)
    except EndpointError as exc:
        room = client.connection.room
        message = f"room {room}: {exc}" if room else str(exc)
        log.warning("%s: delivery failed (%s): %s", name, exc.kind, message)
        failed = after_failure(state, kind=exc.kind, message=message, now=now)
        return DeliveryOutcome(
            endpoint=name,
            decision=decision,
            state=failed,
            error=message,
            error_kind=exc.kind,
        )


async def _push(
    client: BookingsClient,
    state: DeliveryState,
    wanted: Sequence[Booking],
    *,
    decision: Decision,
    now: datetime,
) -> DeliveryOutcome:
    """Put the list the device's software can show, then read it back."""
    name = client.connection.endpoint
    # The version is read again after a failure or a sync request: the device may have
    # been upgraded (and then support Bookings Put) or replaced.
    version = (
        parse_software_version(state.software_version)
        if state.software_version and not (state.failures or state.sync_required)
        else await client.software_version()
    )
    bookings = for_software(wanted, webrtc=version.supports_webrtc_join)
    mode = await client.put_bookings(bookings, version=version)
    listed = await client.list_bookings()
    mismatches = compare_lists(bookings, listed)
    if mismatches:
        log.warning("%s: read-back after push differs: %s", name, "; ".join(mismatches))
    state = after_push(
        state,
        digest=list_digest(bookings, mode=mode),
        count=len(bookings),
        now=now,
        mismatches=mismatches,
        software_version=version.text,
    )
    native = sum(1 for b in bookings if is_native_join(b))
    log.info(
        "%s: pushed %d bookings, %d of them native WebRTC joins (%s, %s)",
        name,
        len(bookings),
        native,
        mode,
        decision.reason,
    )
    return DeliveryOutcome(
        endpoint=name,
        decision=decision,
        state=state,
        pushed=True,
        mismatches=mismatches,
        webrtc=native,
    )


async def _register_feedback(
    client: BookingsClient, state: DeliveryState, feedback_url: str
) -> DeliveryState:
    """Register the HttpFeedback URL when it changed (a failure is logged, not fatal)."""
    wanted = feedback_digest(feedback_url) if feedback_url else ""
    if not wanted or state.feedback_registered == wanted:
        return state
    try:
        await client.register_feedback(
            slot=client.connection.feedback_slot, server_url=feedback_url
        )
    except EndpointError as exc:
        log.warning("%s: HttpFeedback registration failed: %s", client.connection.endpoint, exc)
        return state
    return replace(state, feedback_registered=wanted)
