"""What the proxy core asks its driver to do, and the handles the driver feeds events back on.

The core never sends, sleeps or queries DNS. Every effect is an action appended to an
``Outbox``; the driver (``guestjoin.proxy.Proxy`` on asyncio, or a test harness) executes them
in order and feeds the outcome back: a response on a ``ClientRef``, a fired ``TimerRef``, a DNS
answer on a ``Lookup``. Handles are plain objects compared by identity; ``handle`` is the
driver's own object (a transaction, a loop timer) and is never read by the core.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from guestjoin.cdr import CallRecord
from guestjoin.media.commands import MediaFigures
from guestjoin.media.session import AnswerStep, OfferStep
from guestjoin.sip.message import Request, Response
from guestjoin.sip.uri import SipUri
from guestjoin.values import Target


class ServerRef:
    """A server transaction as the core sees it: the request, and what it answered so far."""

    __slots__ = ("handle", "last_status", "request")

    def __init__(self, request: Request, handle: object) -> None:
        self.request = request
        self.handle = handle  # the driver's transaction (also the key of CANCEL matching)
        self.last_status: int | None = None


class ClientRef:
    """A client transaction started by the core; the driver reports its outcome here."""

    __slots__ = ("handle", "on_failure", "on_response", "request", "target")

    def __init__(
        self,
        request: Request,
        target: Target,
        on_response: Callable[[ClientRef, Response], None],
        on_failure: Callable[[ClientRef, str], None],
    ) -> None:
        self.request = request
        self.target = target
        self.on_response = on_response
        self.on_failure = on_failure
        self.handle: object = None

    def release(self) -> None:
        """Drop the callbacks (they refer to the forward that started this transaction)."""
        self.on_response = ignore_response
        self.on_failure = ignore_failure


class TimerRef:
    """A timer the core armed; ``cancel()`` stops it (the driver is told to drop it too)."""

    __slots__ = ("_outbox", "callback", "cancelled", "handle")

    def __init__(self, outbox: Outbox, callback: Callable[[], None]) -> None:
        self._outbox = outbox
        self.callback = callback
        self.cancelled = False
        self.handle: object = None

    def cancel(self) -> None:
        """Stop the timer (idempotent)."""
        if not self.cancelled:
            self.cancelled = True
            self.callback = _nothing  # no reference cycle through the owner's bound method
            self._outbox.add(CancelTimer(timer=self))

    def fire(self) -> None:
        """Run the callback once (a cancelled or fired timer does nothing)."""
        if self.cancelled:
            return
        self.cancelled = True
        callback, self.callback = self.callback, _nothing
        callback()


def _nothing() -> None:
    """The callback of a fired or cancelled timer."""


DnsResult = tuple[Target, ...] | Exception  # targets, or the DnsFailure/UriError met


class Lookup:
    """An RFC 3263 resolution the core waits for."""

    __slots__ = ("callback", "uri")

    def __init__(self, uri: SipUri, callback: Callable[[DnsResult], None]) -> None:
        self.uri = uri
        self.callback = callback


MediaResult = bytes | MediaFigures | None | Exception  # rewritten SDP, figures, or the error


class MediaRef:
    """A media relay step the core waits for: ``body`` through rtpengine as ``step`` (an
    offer or an answer), or, with ``step`` None, the end of the call's media session."""

    __slots__ = ("body", "call_id", "callback", "room_tag", "step")

    def __init__(
        self,
        *,
        call_id: str,
        room_tag: str,
        step: OfferStep | AnswerStep | None,
        body: bytes,
        callback: Callable[[MediaResult], None],
    ) -> None:
        self.call_id = call_id  # the engine's call-id
        self.room_tag = room_tag
        self.step = step
        self.body = body
        self.callback = callback


class RelayMedia(NamedTuple):
    """Carry out ``ref`` on the media relay and call ``core.media_done(ref, result)``."""

    ref: MediaRef


class Respond(NamedTuple):
    """Send a response on a server transaction (statefully: retransmitted as §17.2 says)."""

    server: ServerRef
    response: Response


class RespondStatelessly(NamedTuple):
    """Send one response and keep no state (refusals never amplify)."""

    server: ServerRef
    response: Response


class StartClient(NamedTuple):
    """Start a client transaction for ``client.request`` toward ``client.target``."""

    client: ClientRef


class AbandonClient(NamedTuple):
    """Stop retransmitting and forget a client transaction."""

    client: ClientRef


class SendStateless(NamedTuple):
    """Send a request with no transaction (an ACK for a 2xx, §16.11)."""

    request: Request
    target: Target


class StartTimer(NamedTuple):
    """Call back ``core.timer(timer)`` after ``delay`` seconds."""

    timer: TimerRef
    delay: float


class CancelTimer(NamedTuple):
    """The timer will not be needed."""

    timer: TimerRef


class Resolve(NamedTuple):
    """Resolve ``lookup.uri`` (RFC 3263) and call ``core.resolved(lookup, result)``;
    ``pending_record`` is written first when the answer is not already cached."""

    lookup: Lookup
    pending_record: CallRecord | None = None


class RecordCdr(NamedTuple):
    """Hand the call's latest record to the CDR recorder (must not block the caller)."""

    detail: CallRecord


Action = (
    Respond
    | RespondStatelessly
    | StartClient
    | AbandonClient
    | SendStateless
    | StartTimer
    | CancelTimer
    | Resolve
    | RecordCdr
    | RelayMedia
)


class Outbox:
    """The actions of one event, in order; ``take()`` hands them to the driver."""

    __slots__ = ("actions",)

    def __init__(self) -> None:
        self.actions: list[Action] = []

    def add(self, action: Action) -> None:
        """Queue one action."""
        self.actions.append(action)

    def take(self) -> list[Action]:
        """The queued actions (the outbox is empty afterwards)."""
        actions = self.actions
        self.actions = []
        return actions

    # --- helpers the state machines use --------------------------------------------------
    def respond(self, server: ServerRef, response: Response) -> None:
        """A stateful response."""
        server.last_status = response.status
        self.actions.append(Respond(server, response))

    def respond_statelessly(self, server: ServerRef, response: Response) -> None:
        """One stateless response."""
        server.last_status = response.status
        self.actions.append(RespondStatelessly(server, response))

    def later(self, delay: float, callback: Callable[[], None]) -> TimerRef:
        """Arm a timer."""
        timer = TimerRef(self, callback)
        self.actions.append(StartTimer(timer, delay))
        return timer

    def start_client(
        self,
        request: Request,
        target: Target,
        on_response: Callable[[ClientRef, Response], None],
        on_failure: Callable[[ClientRef, str], None],
    ) -> ClientRef:
        """Start a client transaction."""
        client = ClientRef(request, target, on_response, on_failure)
        self.actions.append(StartClient(client))
        return client

    def abandon(self, client: ClientRef) -> None:
        """Stop a client transaction."""
        self.actions.append(AbandonClient(client))

    def resolve(
        self,
        uri: SipUri,
        callback: Callable[[DnsResult], None],
        pending_record: CallRecord | None = None,
    ) -> None:
        """Ask for an RFC 3263 resolution."""
        self.actions.append(Resolve(Lookup(uri, callback), pending_record))

    def add_send(self, request: Request, target: Target) -> None:
        """Send a request with no transaction."""
        self.actions.append(SendStateless(request, target))

    def record(self, detail: CallRecord) -> None:
        """Record a CDR change."""
        self.actions.append(RecordCdr(detail))

    def relay_media(self, ref: MediaRef) -> None:
        """Ask the media relay for one step."""
        self.actions.append(RelayMedia(ref))


def ignore_response(_client: ClientRef, _response: Response) -> None:
    """For fire-and-forget requests (CANCEL, teardown BYE)."""


def ignore_failure(_client: ClientRef, _reason: str) -> None:
    """For fire-and-forget requests."""
