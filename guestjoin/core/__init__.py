"""The gateway's sans-I/O proxy core (RFC 3261 §16): events in, actions out.

``ProxyCore`` (``guestjoin.core.proxy``) is fed parsed requests, responses on the client
transactions it started, fired timers and DNS answers, and returns actions
(``guestjoin.core.actions``): respond, start or abandon a client transaction, send an ACK, arm
or cancel a timer, resolve a URI, record a CDR. ``guestjoin.proxy.Proxy`` carries them out on
asyncio; the unit tests carry them out in memory on a manual clock.

Modules: ``checks`` (validation, Route pre-processing, dialog tokens), ``invite`` (admission
and the routing decision), ``branch`` (a call: serial failover, Timer C, the answer, the CDR),
``indialog`` (requests inside a dialog, the path checks), ``messages`` (Via, Record-Route,
forwarded messages, SDP), ``proxy`` (dispatch, CANCEL, ACK, the tables).

Extension points (stable interfaces):

* SDP rewriting — ``core.build.sdp_steps.append(step)``; ``step(context, body) -> body`` runs
  on every SDP body leaving the proxy: the initial INVITE (``kind="invite"``), the answers to
  it (``"answer"``: 18x and 2xx), in-dialog requests such as re-INVITE, UPDATE and ACK
  (``"in-dialog"``) and their answers (``"in-dialog-answer"``). ``context.call_key`` is the
  call's CDR key, ``context.toward_caller`` the direction. See ``guestjoin.core.messages``.
* Local answering — ``core.applications.append(app)``; a ``LocalApplication``
  (``guestjoin.core.invite``) may decide on an alias itself before the call routing rules
  (``decide``: the Virtual Reception's aliases need no rule); one that claims a route decision
  receives the admitted ``Call``
  (licences held, 100 Trying sent) and answers it itself, B2BUA-like; it sees requests with a
  To tag before the proxy's dialog checks.
* CDR fields — add the field to ``guestjoin.cdr.CallRecord``; set it with ``Call.stage`` /
  ``Call.update`` (``guestjoin.core.branch``) or at admission (``guestjoin.core.invite``).
* Call end — ``ProxyCore.call_ended`` is where a call's resources are given back (licences,
  per-source share); the media relay's session is deleted there too.
* Media relay (``media: relay``, ``guestjoin.core.media``) — SDP bodies of a relayed call go
  to rtpengine as ``RelayMedia`` actions before they are forwarded; the driver answers with
  ``ProxyCore.media_done`` (the rewritten body, the delete's figures, or the error).
"""

from guestjoin.core.actions import Action, ClientRef, Lookup, Outbox, ServerRef, TimerRef
from guestjoin.core.branch import Call
from guestjoin.core.invite import LocalApplication
from guestjoin.core.messages import SdpContext, SdpStep
from guestjoin.core.options import ALLOW, ProxyOptions
from guestjoin.core.proxy import ProxyCore

__all__ = [
    "ALLOW",
    "Action",
    "Call",
    "ClientRef",
    "LocalApplication",
    "Lookup",
    "Outbox",
    "ProxyCore",
    "ProxyOptions",
    "SdpContext",
    "SdpStep",
    "ServerRef",
    "TimerRef",
]
