"""The REFER transfer of one reception call (RFC 3515), seen from the reception (transferor).

The REFER asks the caller to call the alias through the gateway (``transfer.build_refer``).
A 405, 420, 489, 501 or 603 means the caller does not do transfers: the leg falls back to
3pcc. Once the REFER is accepted (2xx), the caller's NOTIFYs report its new call
(``message/sipfrag``, RFC 3420): a final 2xx ends the reception's call with a BYE, a failure
re-prompts; a caller that hangs up, or sends no final NOTIFY within ``NOTIFY_WAIT`` seconds,
counts as transferred (many endpoints just leave).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

from guestjoin import cdr
from guestjoin.reception.transfer import REFER_REFUSED, build_refer, sipfrag_status
from guestjoin.sip import Request, Response
from guestjoin.values import render_host

if TYPE_CHECKING:
    from guestjoin.reception.leg import ReceptionLeg

NOTIFY_WAIT = 32.0  # 64*T1: as long as the caller's new INVITE transaction may take


class Referral:
    """One REFER and what follows it."""

    def __init__(self, leg: ReceptionLeg, alias: str) -> None:
        self.leg = leg
        self.alias = alias
        self.accepted = False
        self._settled = asyncio.Event()

    def send(self) -> None:
        """Send the REFER in the caller's dialog."""
        leg = self.leg
        leg.dialog, cseq = leg.dialog.next()
        gateway = f"{render_host(leg.local[0])}:{leg.local[1]}"
        try:
            refer = build_refer(
                leg.dialog,
                cseq,
                leg.via(),
                alias=self.alias,
                gateway=gateway,
                transport=leg.transport,
            )
        except ValueError as exc:
            self._failed(str(exc))
            return
        leg.host.send_request(refer, leg.peer, self._answered, self._failed)

    def _answered(self, response: Response) -> None:
        status = response.status
        if status < 200:
            return
        if status in REFER_REFUSED:
            self._settled.set()
            self.leg.third_party_instead(self.alias)
        elif status >= 300:
            self._failed(f"REFER answered {status}")
        else:
            self.accepted = True
            self.leg.spawn(self._guard())

    def _failed(self, why: str) -> None:
        self._settled.set()
        self.leg.unreachable(why)

    async def _guard(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._settled.wait(), NOTIFY_WAIT)
            return
        self.leg.bye(cdr.TRANSFERRED, "REFER accepted, no final NOTIFY")

    def on_notify(self, request: Request) -> None:
        """A NOTIFY of the refer subscription (already answered 200)."""
        status = sipfrag_status(request.body)
        if status is None or status < 200 or self._settled.is_set():
            return
        self._settled.set()
        if status < 300:
            self.leg.bye(cdr.TRANSFERRED, f"transferred by REFER ({status})")
        else:
            self.leg.unreachable(f"the caller's transfer INVITE got {status}")

    def hung_up(self) -> str:
        """The cause when the caller hangs up now."""
        self._settled.set()
        return cdr.TRANSFERRED if self.accepted else cdr.COMPLETED
