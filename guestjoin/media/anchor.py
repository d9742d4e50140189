"""The relayed media of one call, as the proxy drives it: every SDP body of the call goes
through ``body`` (offers and answers in the order the proxy sees them), ``end`` deletes the
session and returns its figures. Bodies already rewritten (retransmitted 2xx, a 200 repeating
its 183's SDP) are answered from memory, not sent to rtpengine again."""

from __future__ import annotations

import asyncio

from guestjoin.media.commands import Encryption, MediaFigures, Side, encryption_refused
from guestjoin.media.relay import MediaRelay
from guestjoin.media.session import AnswerStep, MediaLeg

SDP = "application/sdp"


class EncryptionRefused(Exception):
    """The far end answered a ``required`` SRTP offer without SRTP."""


class CallMedia:
    """One relayed call's offer/answer state and its rewritten bodies."""

    def __init__(
        self, relay: MediaRelay, *, call_id: str, room_tag: str, encryption: Encryption
    ) -> None:
        self.relay = relay
        self.leg = MediaLeg(call_id=call_id, room_tag=room_tag, encryption=encryption)
        self.lock = asyncio.Lock()  # one body at a time, in arrival order
        self._rewritten: dict[tuple[Side, str, bytes], bytes] = {}

    @property
    def encryption(self) -> Encryption:
        """The rule's ``outbound_media_encryption``."""
        return self.leg.encryption

    async def body(self, *, side: Side, tag: str, body: bytes) -> bytes:
        """The body to forward in place of ``body`` (an SDP offer or answer from ``side``).

        Raises ``RelayUnavailable``/``NgError`` when rtpengine cannot take it and
        ``EncryptionRefused`` when the far end refuses ``required`` SRTP.
        """
        key = (side, tag, body)
        done = self._rewritten.get(key)
        if done is not None:
            return done
        text = body.decode("utf-8", "replace")
        leg, step = self.leg.body(side=side, tag=tag)
        if isinstance(step, AnswerStep):
            if step.require_srtp:
                reason = encryption_refused(text)
                if reason is not None:
                    self.leg = leg.settled()
                    raise EncryptionRefused(reason)
            sdp = await self.relay.answer(
                call_id=leg.call_id, from_tag=step.from_tag, to_tag=step.to_tag, sdp=text
            )
        else:
            sdp = await self.relay.offer(
                call_id=leg.call_id,
                from_tag=step.from_tag,
                sdp=text,
                from_side=step.from_side,
                encryption=step.encryption,
            )
        self.leg = leg
        out = sdp.encode("utf-8")
        self._rewritten[key] = out
        return out

    def settle(self) -> None:
        """The current offer got its final answer (or failed)."""
        self.leg = self.leg.settled()

    async def end(self) -> MediaFigures | None:
        """Delete the media session; its figures (None without a session)."""
        return await self.relay.delete(call_id=self.leg.call_id, room_tag=self.leg.room_tag)
