"""One Virtual Reception call: the B2BUA leg that answers, prompts, listens and transfers.

The leg is the UAS of the caller's INVITE (RFC 3261 §13.3): it answers with its own SDP
(``sdp``; to an INVITE without SDP it offers and takes the answer from the ACK, ``updates``),
sends the prompt and splash (``media``), takes keys from RTP (RFC 4733) or INFO, and runs the
dialogue (``machine``) on the event loop's clock. A chosen alias is routed by the call routing
rules; the caller is then transferred by REFER (RFC 3515), or, when it does not do REFER, by
third-party call control (``thirdparty``, RFC 3725). The 2xx is retransmitted until the ACK
(§13.3.1.4); the CDR records the reception, the digits' outcome and the method.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

import tzlocal

from guestjoin import cdr
from guestjoin.cdr import CallRecord, utc
from guestjoin.reception import machine, prompts, splash, updates
from guestjoin.reception.dtmf import DtmfError, parse_info
from guestjoin.reception.host import ReceptionHost
from guestjoin.reception.machine import Action, Hangup, Phrase, Play, Transfer
from guestjoin.reception.media import MediaSession
from guestjoin.reception.refer import Referral
from guestjoin.reception.sdp import (
    Answer,
    SdpError,
    build_answer,
    build_offer,
    parse_offer,
)
from guestjoin.reception.thirdparty import ThirdParty
from guestjoin.reception.transfer import (
    Dialog,
    in_dialog,
    supports_refer,
    uas_dialog,
)
from guestjoin.sip import Request, Response, Via, make_response
from guestjoin.values import Received, Target, render_host
from otj.model import VirtualReception

log = logging.getLogger(__name__)

ALLOW = "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, NOTIFY, REFER, UPDATE"
TICK = 0.1


class ReceptionLeg:
    """The reception's side of one caller's call."""

    def __init__(
        self,
        *,
        host: ReceptionHost,
        reception: VirtualReception,
        invite: Request,
        received: Received,
        respond: Callable[[Response], None],
        detail: CallRecord,
        room: str = "",
        cancelled: Callable[[], bool] = lambda: False,
    ) -> None:
        self.host = host
        self.cancelled = cancelled  # a CANCEL arrived before our answer
        self.reception = reception
        self.invite = invite
        self.received = received
        self.respond = respond
        self.detail = replace(detail, reception=reception.name)
        self.room = room
        self.tag = secrets.token_hex(6)
        self.transport = received.transport
        self.local = host.local(self.transport, received.remote[0])
        self.contact = (
            f"sip:reception-{self.tag}@{render_host(self.local[0])}:{self.local[1]}"
            f";transport={self.transport}"
        )
        self.dialog: Dialog = uas_dialog(invite, self.tag, self.contact)
        self.peer = Target(
            transport=self.transport, host=received.remote[0], port=received.remote[1]
        )
        self.media = MediaSession(self.local[0])
        self.state: machine.ReceptionState | None = None
        self.answer: Answer | None = None
        self.acked = asyncio.Event()
        self.remote_sdp = invite.body  # the caller's description (a delayed offer's: the ACK's)
        self._acks: dict[tuple[str, int], asyncio.Event] = {}  # 2xx to re-INVITEs awaiting ACK
        self.finished = False
        self.transferring = False
        self.thirdparty: ThirdParty | None = None
        self.referral: Referral | None = None
        self.spoken: dict[Phrase, bytes] = {}  # run-time phrases (the meeting, by espeak-ng)
        self._tasks: list[asyncio.Task[None]] = []
        self._hangup_after_prompt: Hangup | None = None

    @property
    def call_ids(self) -> tuple[str, ...]:
        """The Call-IDs whose requests belong to this leg."""
        far = (self.thirdparty.call_id,) if self.thirdparty is not None else ()
        return (self.invite.call_id, *far)

    def now(self) -> float:
        """The dialogue's clock: the event loop's."""
        return asyncio.get_running_loop().time()

    # --- set-up ------------------------------------------------------------------------------
    async def start(self) -> None:
        """Answer the INVITE, start the media and the dialogue; a failure ends the call (500
        when nothing was answered yet) instead of leaving it and its licence behind."""
        try:
            await self._start()
        except Exception as exc:
            log.exception("%s: the reception failed", self.invite.call_id)
            if self.answer is None:
                self.respond(make_response(self.invite, 500, to_tag=self.tag))
                self._end(cdr.FAILED, 500, f"reception error: {exc}")
            else:
                self.bye(cdr.FAILED, f"reception error: {exc}")

    async def _start(self) -> None:
        late = not self.invite.body  # a delayed offer: ours in the 2xx, theirs in the ACK
        try:
            offer = None if late else parse_offer(self.invite.body)
        except SdpError as exc:
            self._refuse(488, f"unusable SDP offer: {exc}")
            return
        offer_meeting = None
        if self.reception.calendar_join and self.room:
            try:
                offer_meeting = await asyncio.wait_for(self.host.calendar_offer(self.room), 2.0)
            except Exception as exc:  # noqa: BLE001 - no calendar is no reason to drop the call
                log.warning("%s: calendar of %s: %s", self.invite.call_id, self.room, exc)
        if offer_meeting is not None:
            zone = tzlocal.get_localzone()
            text = splash.spoken_meeting(offer_meeting, zone)
            loop = asyncio.get_running_loop()
            speak = loop.run_in_executor(None, prompts.synthesize, text, self.reception.language)
            with contextlib.suppress(TimeoutError):
                self.spoken[Phrase.MEETING] = await asyncio.wait_for(speak, 3.0)
        if self.cancelled():
            self.respond(make_response(self.invite, 487, to_tag=self.tag))
            self._end(cdr.CANCELLED, 487, "cancelled before the reception answered")
            return
        await self.media.open()
        session, ports = secrets.randbits(31), self.media.ports
        if offer is None:
            ours = build_offer(address=self.local[0], ports=ports, session_id=session)
            answer = Answer(body=ours)
        else:
            answer = build_answer(offer, address=self.local[0], ports=ports, session_id=session)
        if offer is not None and answer.stream("audio") is None:
            await self.media.close()
            self._refuse(488, "no audio codec in common (PCMU, PCMA, G.722, Opus)")
            return
        self.answer = answer
        ok = make_response(
            self.invite,
            200,
            to_tag=self.tag,
            headers=(
                ("Contact", f"<{self.contact}>"),
                ("Allow", ALLOW),
                ("Supported", "replaces"),
                ("Content-Type", "application/sdp"),
            ),
            body=answer.body,
        )
        self.respond(ok)
        self.detail = replace(self.detail, answer_at=utc(_wall()), final_code=200)
        self.host.record(self.detail)
        acked, what = self.acked, "the reception's 200 OK"
        self.spawn(updates.until_acked(self, ok, self.respond, acked, what))
        if late:
            accepted = await updates.answer_in_ack(self, answer.body)
            if accepted is None:
                return
            self.answer = answer = accepted
        image = splash.render(
            splash.splash_lines(self.reception.name, offer_meeting, tzlocal.get_localzone())
        )
        self.media.on_key = self.key
        self.media.on_prompt_done = self._prompt_done
        self.state, actions = machine.start(self.reception, offer_meeting)
        self._run(actions)
        self.media.start(answer, image)
        self.spawn(self._ticker())

    def _refuse(self, status: int, why: str) -> None:
        self.respond(make_response(self.invite, status, to_tag=self.tag))
        self._end(cdr.FAILED, status, why)

    # --- the dialogue -------------------------------------------------------------------------
    def key(self, key: str) -> None:
        """A key from RTP or INFO."""
        if self.state is None or self.transferring or self.finished:
            return
        self.state, actions = machine.digit(self.state, key, self.now())
        self._run(actions)

    def _prompt_done(self) -> None:
        if self._hangup_after_prompt is not None:
            hangup, self._hangup_after_prompt = self._hangup_after_prompt, None
            self.detail = replace(self.detail, digits_outcome=hangup.outcome.value)
            self.bye(cdr.RECEPTION_GAVE_UP, hangup.detail)
            return
        if self.state is not None:
            self.state, actions = machine.prompt_done(self.state, self.now())
            self._run(actions)

    async def _ticker(self) -> None:
        while not self.finished:
            await asyncio.sleep(TICK)
            if self.state is not None and not self.transferring:
                self.state, actions = machine.tick(self.state, self.now())
                self._run(actions)

    def _run(self, actions: list[Action]) -> None:
        for action in actions:
            if isinstance(action, Play):
                self.media.play(
                    prompts.compose(action.phrases, self.reception.language, self.spoken),
                    interrupt=action.interrupt,
                )
            elif isinstance(action, Transfer):
                self.detail = replace(
                    self.detail, digits_outcome=action.outcome.value, routed_alias=action.alias
                )
                self.host.record(self.detail)
                self.transferring = True
                self.spawn(self._transfer(action))
            elif isinstance(action, Hangup):
                self._hangup_after_prompt = action

    def unreachable(self, why: str) -> None:
        """The transfer failed: say so and count an attempt."""
        log.info("%s: transfer failed: %s", self.invite.call_id, why)
        self.transferring = False
        self.referral = None
        self.detail = replace(self.detail, detail=why[:500])
        if self.state is not None and not self.finished:
            self.state, actions = machine.unreachable(self.state, self.now(), why)
            self._run(actions)

    # --- transfer -----------------------------------------------------------------------------
    async def _transfer(self, action: Transfer) -> None:
        decision = self.host.route(action.alias)
        if decision is None:
            self.unreachable(f"no call routing rule matches {action.alias}")
            return
        self.detail = replace(
            self.detail, rule=decision.rule, conference=cdr.conference_of(decision.alias)
        )
        while self.media.playing:  # "Connecting you…" first
            await asyncio.sleep(TICK)
        if supports_refer(self.invite):
            self.detail = replace(self.detail, transfer_method="refer")
            self.referral = Referral(self, action.alias)
            self.referral.send()
        else:
            await ThirdParty(self, action.alias, decision).connect()

    def third_party_instead(self, alias: str) -> None:
        """The caller refused the REFER: connect it by 3pcc (when the alias still routes)."""
        self.referral = None
        decision = self.host.route(alias)
        if decision is None:
            self.unreachable(f"no call routing rule matches {alias}")
            return
        self.spawn(ThirdParty(self, alias, decision).connect())

    # --- in-dialog requests -------------------------------------------------------------------
    def on_ack(self, ack: Request) -> None:
        """An ACK of our 2xx to the INVITE, or to a re-INVITE (``expect_ack``)."""
        waiting = self._acks.pop((ack.call_id, ack.cseq.number), None)
        if waiting is not None:
            waiting.set()
        elif ack.call_id == self.invite.call_id:
            if not self.acked.is_set() and not self.invite.body:
                self.remote_sdp = ack.body  # the answer to our offer (RFC 3261 §13.2.1)
            self.acked.set()

    def expect_ack(self, call_id: str, cseq: int) -> asyncio.Event:
        """Set when the ACK of our 2xx to the re-INVITE ``call_id``/``cseq`` arrives."""
        event = self._acks[(call_id, cseq)] = asyncio.Event()
        return event

    def on_request(self, request: Request, respond: Callable[[Response], None]) -> None:
        """A request within one of this leg's dialogs (the caller's, or the far end's)."""
        if self.thirdparty is not None and request.call_id == self.thirdparty.call_id:
            self.thirdparty.on_far_request(request, respond)
            return
        method = request.method
        if method == "BYE":
            respond(make_response(request, 200))
            if self.thirdparty is not None:
                self.thirdparty.hang_up_far()
            cause = self.referral.hung_up() if self.referral is not None else cdr.COMPLETED
            self._end(cause, None, "caller hung up")
        elif method == "INFO":
            try:
                key = parse_info(request.content_type, request.body)
            except DtmfError as exc:
                respond(make_response(request, 415 if request.body else 200, reason=None))
                log.debug("%s: INFO: %s", request.call_id, exc)
                return
            respond(make_response(request, 200))
            self.key(key)
        elif method == "NOTIFY":
            respond(make_response(request, 200))
            if self.referral is not None:
                self.referral.on_notify(request)
        elif method == "OPTIONS":
            respond(make_response(request, 200, headers=(("Allow", ALLOW),)))
        elif method in updates.METHODS:
            if self.thirdparty is not None:  # connected by 3pcc (or connecting: 491)
                self.thirdparty.relay(request, respond, from_caller=True)
            else:
                updates.answer_locally(self, request, respond)
        else:
            respond(make_response(request, 501))

    # --- ending -------------------------------------------------------------------------------
    def bye(self, cause: str, why: str) -> None:
        """Send BYE to the caller and end the call."""
        if self.finished:
            return
        self.dialog, cseq = self.dialog.next()
        bye = in_dialog(self.dialog, "BYE", cseq, self.via())
        self.host.send_request(bye, self.peer, lambda _r: None, lambda _e: None)
        self._end(cause, None, why)

    def _end(self, cause: str, code: int | None, why: str) -> None:
        if self.finished:
            return
        self.finished = True
        if cause == cdr.COMPLETED and self.detail.transfer_method == "3pcc":
            why = "transferred by 3pcc; " + why
        self.detail = replace(
            self.detail,
            cause=cause,
            final_code=code if code is not None else self.detail.final_code,
            detail=why[:500],
        )
        self.host.finish(self.call_ids, self.detail)
        for task in self._tasks:
            if task is not asyncio.current_task():
                task.cancel()
        self._tasks.clear()
        closing = asyncio.get_running_loop().create_task(self.media.close())
        closing.add_done_callback(_log_failure)
        # no reference cycles left: the leg, its media and splash go by reference counting
        self.media.on_key = _ignore_key
        self.media.on_prompt_done = _nothing
        self.referral = None
        self.thirdparty = None

    def via(self) -> Via:
        """A Via for a new request of ours (a new branch)."""
        branch = f"z9hG4bK-otj-rcp{secrets.token_hex(6)}"
        return Via(
            transport=self.transport.upper(),
            host=render_host(self.local[0]),
            port=self.local[1],
            params=(("branch", branch), ("rport", None)),
        )

    def spawn(self, coro: object) -> None:
        """Run ``coro`` as one of this call's tasks (cancelled when the call ends)."""
        assert asyncio.iscoroutine(coro)
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.append(task)
        task.add_done_callback(_log_failure)


def _ignore_key(_key: str) -> None:
    """Keys after the call ended."""


def _nothing() -> None:
    """A prompt that ended after the call."""


def _wall() -> float:
    return datetime.now(UTC).timestamp()


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("reception task failed", exc_info=task.exception())
