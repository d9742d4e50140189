"""The asyncio driver of the proxy core (``guestjoin.core``): the transaction user.

It turns what the transaction layer reports into events for ``ProxyCore`` and carries out the
actions the core returns, in order: responses on server transactions, client transactions,
stateless sends, loop timers, RFC 3263 resolutions (answered at once from the resolver's cache,
else on a task) and CDR records (handed to the recorder, which must not block). Actions caused
while actions are being carried out (a send failing at once, a cached DNS answer) join the
same queue, so they always run in the order the core produced them.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from typing import Any, cast

from guestjoin.admission import SourceCounter
from guestjoin.cdr import CallRecorder
from guestjoin.clock import Clock
from guestjoin.config import GatewayConfig
from guestjoin.core.actions import (
    AbandonClient,
    Action,
    CancelTimer,
    Lookup,
    MediaRef,
    MediaResult,
    RecordCdr,
    RelayMedia,
    Resolve,
    Respond,
    RespondStatelessly,
    SendStateless,
    ServerRef,
    StartClient,
    StartTimer,
)
from guestjoin.core.messages import BRANCH_PREFIX
from guestjoin.core.options import ALLOW, ProxyOptions
from guestjoin.core.proxy import ProxyCore
from guestjoin.dns import DnsFailure, SipResolver
from guestjoin.licences import Licences
from guestjoin.media.ng import NgError
from guestjoin.media.relay import MediaRelay, RelayUnavailable
from guestjoin.media.session import OfferStep
from guestjoin.registrar import Registrar
from guestjoin.sip.message import Request, Response
from guestjoin.sip.uri import UriError
from guestjoin.transaction.client import ClientTransaction
from guestjoin.transaction.layer import TransactionLayer
from guestjoin.transaction.server import ServerTransaction
from guestjoin.transport.interfaces import TransportError
from guestjoin.transport.layer import TransportLayer
from guestjoin.values import Received

__all__ = ["ALLOW", "BRANCH_PREFIX", "Proxy", "ProxyOptions"]

log = logging.getLogger(__name__)


class Proxy:
    """Runs a ``ProxyCore`` on the transaction layer, the transports, DNS and a clock."""

    def __init__(
        self,
        *,
        transport: TransportLayer,
        transactions: TransactionLayer,
        resolver: SipResolver,
        registrar: Registrar,
        licences: Licences,
        recorder: CallRecorder,
        clock: Clock,
        config: Callable[[], GatewayConfig],
        options: ProxyOptions | None = None,
        media: MediaRelay | None = None,
    ) -> None:
        self.media = media  # the rtpengines of rules with media: relay
        self.transport = transport
        self.transactions = transactions
        self.resolver = resolver
        self.recorder = recorder
        self.clock = clock
        self.core = ProxyCore(
            locality=transport,
            registrar=registrar,
            licences=licences,
            time=clock,
            config=config,
            options=options,
            timer_b=transactions.timers.b,
        )
        self._queue: deque[Action] = deque()
        self._draining = False
        self._handlers: dict[type, Callable[[Any], None]] = {
            Respond: self._respond,
            RespondStatelessly: self._respond_statelessly,
            StartClient: self._start_client,
            AbandonClient: self._abandon,
            SendStateless: self._send_stateless,
            StartTimer: self._start_timer,
            CancelTimer: self._cancel_timer,
            Resolve: self._resolve,
            RecordCdr: self._record,
            RelayMedia: self._relay_media,
        }
        transactions.user = self

    # --- the core's state, for the gateway and tests -------------------------------------------
    @property
    def options(self) -> ProxyOptions:
        return self.core.options

    @property
    def registrar(self) -> Registrar:
        return self.core.registrar

    @property
    def licences(self) -> Licences:
        return self.core.licences

    @property
    def sources(self) -> SourceCounter:
        return self.core.sources

    @property
    def live_calls(self) -> int:
        """Calls not yet ended."""
        return self.core.live_calls

    # --- transaction user ----------------------------------------------------------------------
    def on_request(
        self, request: Request, received: Received, st: ServerTransaction | None
    ) -> None:
        """Every request that is not a retransmission."""
        server = ServerRef(request, st) if st is not None else None
        invite = None
        if st is not None and request.method == "CANCEL":
            invite = self.transactions.find_invite_server(request)
        self.run(self.core.request(request, received, server, invite))

    def on_stray_response(self, response: Response, received: Received) -> None:
        """A response that matched no client transaction."""
        self.run(self.core.stray_response(response, received))

    # --- carrying out actions ------------------------------------------------------------------
    def run(self, actions: list[Action]) -> None:
        """Carry out ``actions`` (and whatever they cause) in order."""
        queue = self._queue
        queue.extend(actions)
        if self._draining:
            return
        self._draining = True
        handlers = self._handlers
        try:
            while queue:
                action = queue.popleft()
                try:
                    handlers[type(action)](action)
                except Exception:
                    log.exception("proxy action %s failed", type(action).__name__)
        finally:
            self._draining = False

    def _respond(self, action: Respond) -> None:
        cast(ServerTransaction, action.server.handle).respond(action.response)

    def _respond_statelessly(self, action: RespondStatelessly) -> None:
        cast(ServerTransaction, action.server.handle).respond_statelessly(action.response)

    def _start_client(self, action: StartClient) -> None:
        client = action.client
        core = self.core

        def on_response(_ct: ClientTransaction, response: Response) -> None:
            self.run(core.client_response(client, response))

        def on_failure(_ct: ClientTransaction, reason: str) -> None:
            self.run(core.client_failure(client, reason))

        client.handle = self.transactions.start_client(
            client.request, client.target, on_response, on_failure
        )

    def _abandon(self, action: AbandonClient) -> None:
        ct = action.client.handle
        if isinstance(ct, ClientTransaction):
            ct.abandon()

    def _send_stateless(self, action: SendStateless) -> None:
        target = action.target
        data = action.request.to_bytes()
        if target.transport == "udp":
            try:
                self.transport.send_datagram(data, target.host, target.port)
            except TransportError as exc:
                log.info(
                    "%s: %s not forwarded: %s", action.request.call_id, action.request.method, exc
                )
            return
        task = asyncio.get_running_loop().create_task(self.transport.send(data, target))
        task.add_done_callback(_log_task)

    def _start_timer(self, action: StartTimer) -> None:
        timer = action.timer
        core = self.core

        def fire() -> None:
            timer.handle = None  # the loop's handle refers to this closure: no cycle left
            self.run(core.timer(timer))

        timer.handle = self.clock.call_later(action.delay, fire)

    def _cancel_timer(self, action: CancelTimer) -> None:
        handle = action.timer.handle
        if handle is not None:
            cast(asyncio.TimerHandle, handle).cancel()

    def _resolve(self, action: Resolve) -> None:
        lookup = action.lookup
        try:
            cached = self.resolver.cached(lookup.uri)
        except (DnsFailure, UriError) as exc:
            self.run(self.core.resolved(lookup, exc))
            return
        if cached is not None:
            self.run(self.core.resolved(lookup, cached))
            return
        if action.pending_record is not None:
            self._record(RecordCdr(action.pending_record))
        task = asyncio.get_running_loop().create_task(self._lookup(lookup))
        task.add_done_callback(_log_task)

    async def _lookup(self, lookup: Lookup) -> None:
        try:
            result: tuple[Any, ...] | Exception = await self.resolver.resolve(lookup.uri)
        except (DnsFailure, UriError) as exc:
            result = exc
        self.run(self.core.resolved(lookup, result))

    def _relay_media(self, action: RelayMedia) -> None:
        task = asyncio.get_running_loop().create_task(self._media_step(action.ref))
        task.add_done_callback(_log_task)

    async def _media_step(self, ref: MediaRef) -> None:
        """One step on rtpengine (``guestjoin.media.relay``), its result back to the core."""
        media = self.media
        result: MediaResult
        step = ref.step
        if media is None:
            self.run(self.core.media_done(ref, RelayUnavailable("no media relay in this process")))
            return
        try:
            if step is None:
                result = await media.delete(call_id=ref.call_id, room_tag=ref.room_tag)
            elif isinstance(step, OfferStep):
                sdp = await media.offer(
                    call_id=ref.call_id,
                    from_tag=step.from_tag,
                    sdp=ref.body.decode("utf-8", "replace"),
                    from_side=step.from_side,
                    encryption=step.encryption,
                )
                result = sdp.encode("utf-8")
            else:
                sdp = await media.answer(
                    call_id=ref.call_id,
                    from_tag=step.from_tag,
                    to_tag=step.to_tag,
                    sdp=ref.body.decode("utf-8", "replace"),
                )
                result = sdp.encode("utf-8")
        except (RelayUnavailable, NgError) as exc:
            result = exc
        self.run(self.core.media_done(ref, result))

    def _record(self, action: RecordCdr) -> None:
        try:
            self.recorder.record(action.detail)
        except Exception:
            log.exception("%s: cannot record the call", action.detail.call_id)


def _log_task(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("proxy task failed", exc_info=task.exception())
