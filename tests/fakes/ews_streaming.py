"""The EWS fake's streaming notifications: ``Subscribe``, ``GetStreamingEvents``, ``Unsubscribe``.

Written from the EWS reference (Subscribe/StreamingSubscriptionRequest, GetStreamingEvents,
Unsubscribe operations). A streaming subscription watches one mailbox's folders; a
``GetStreamingEvents`` request is answered with a chunked HTTP response whose chunks are whole
SOAP envelopes (``GetStreamingEventsResponse``): ``Notifications`` as changes happen, a
``ConnectionStatus`` ``OK`` heartbeat when idle, and ``ConnectionStatus`` ``Closed`` once the
request's ``ConnectionTimeout`` (minutes; the fake's ``minute`` lets tests shorten it) ran out,
or at once when a newer request took over one of its subscriptions (a subscription is served on
one connection). One request may name several subscriptions (of several mailboxes);
``open_streams`` counts the connections open now: one whose subscriptions a newer request took
over counts as closed from that moment, as the server has ended it (its last chunk may still be
on its way to a client that already hung up).
A subscription unknown, unsubscribed or expired answers ``ErrorInvalidSubscription``.
"""

from __future__ import annotations

import base64
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from xml.etree.ElementTree import Element, SubElement

M = "http://schemas.microsoft.com/exchange/services/2006/messages"
T = "http://schemas.microsoft.com/exchange/services/2006/types"

_EVENT = {"created": "CreatedEvent", "updated": "ModifiedEvent", "deleted": "DeletedEvent"}


def _q(ns: str, name: str) -> str:
    return f"{{{ns}}}{name}"


class StreamingRefused(Exception):
    """The server refuses streaming subscriptions (``code``: the EWS response code)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class _Sub:
    room: str
    folder_id: str
    item_id: Callable[[str], str]
    pending: list[tuple[str, str, str]] = field(default_factory=list)
    watermark: int = 0
    stream: object = None


class StreamingHub:
    """The fake's streaming subscriptions (thread-safe); ``changed`` is the store's listener."""

    def __init__(self, *, minute: float = 60.0, heartbeat: float = 30.0) -> None:
        self.minute = minute
        self.heartbeat = heartbeat
        self.refusal: tuple[str, str] | None = None
        self.connections = 0
        self.open_streams = 0
        self.peak_streams = 0
        self.closed = 0
        self._live: set[object] = set()  # the connections' tokens not yet ended
        self._cond = threading.Condition()
        self._subs: dict[str, _Sub] = {}
        self._stopped = False

    # controls ------------------------------------------------------------------------------
    def refuse(self, code: str = "ErrorInvalidRequest", message: str = "") -> None:
        """Refuse every Subscribe from now on (as a server with streaming disabled)."""
        self.refusal = (code, message or "Streaming notifications are not available.")

    def invalidate(self, room: str) -> int:
        """Expire every subscription of ``room`` (open streams end with the error); the count."""
        with self._cond:
            gone = [sid for sid, sub in self._subs.items() if sub.room == room.lower()]
            for sid in gone:
                del self._subs[sid]
            self._cond.notify_all()
            return len(gone)

    def subscriptions(self, room: str | None = None) -> int:
        with self._cond:
            return sum(1 for s in self._subs.values() if room is None or s.room == room.lower())

    def stop(self) -> None:
        """End every open stream (the fake is stopping)."""
        with self._cond:
            self._stopped = True
            self._cond.notify_all()

    # store listener ------------------------------------------------------------------------
    def changed(self, room: str, item_id: str, change_type: str) -> None:
        with self._cond:
            for sub in self._subs.values():
                if sub.room == room.lower():
                    sub.pending.append((item_id, change_type, _now()))
            self._cond.notify_all()

    # operations ----------------------------------------------------------------------------
    def subscribe(self, room: str, folder_id: str, item_id: Callable[[str], str]) -> str:
        if self.refusal is not None:
            raise StreamingRefused(*self.refusal)
        sid = base64.b64encode(uuid.uuid4().bytes * 2).decode()
        with self._cond:
            self._subs[sid] = _Sub(room=room.lower(), folder_id=folder_id, item_id=item_id)
        return sid

    def unsubscribe(self, sid: str) -> bool:
        with self._cond:
            found = self._subs.pop(sid, None) is not None
            self._cond.notify_all()  # its open stream ends with ErrorInvalidSubscription
            return found

    def room_of(self, sid: str) -> str | None:
        with self._cond:
            sub = self._subs.get(sid)
            return sub.room if sub is not None else None

    def stream(self, sids: list[str], minutes: int) -> Iterator[Element]:
        """The ``GetStreamingEventsResponseMessage`` elements of one connection."""
        deadline = time.monotonic() + minutes * self.minute
        token = object()  # a subscription is served on its newest connection only
        with self._cond:
            self.connections += 1
            for sid in sids:
                if sid in self._subs:
                    self._live.discard(self._subs[sid].stream)  # taken over: ended now
                    self._subs[sid].stream = token
            self._live.add(token)
            self.open_streams = len(self._live)
            self.peak_streams = max(self.peak_streams, self.open_streams)
            self._cond.notify_all()
        try:
            yield from self._serve(sids, deadline, token)
        finally:
            with self._cond:
                self._live.discard(token)
                self.open_streams = len(self._live)

    def _serve(self, sids: list[str], deadline: float, token: object) -> Iterator[Element]:
        beat = time.monotonic() + self.heartbeat
        while True:
            with self._cond:
                while True:
                    gone = [sid for sid in sids if sid not in self._subs]
                    ready = {sid: self._subs[sid] for sid in sids if sid not in gone}
                    stolen = any(s.stream is not token for s in ready.values())
                    if stolen or self._stopped or gone or any(s.pending for s in ready.values()):
                        break
                    now = time.monotonic()
                    if now >= deadline or now >= beat:
                        break
                    self._cond.wait(min(deadline, beat) - now)
                if self._stopped:
                    return
                # another connection took its subscriptions, or some are gone: the last message
                final = _status("Closed") if stolen else _invalid(gone) if gone else None
                batches = [(sid, sub, sub.pending) for sid, sub in ready.items() if sub.pending]
                if final is None:
                    for _sid, sub, _events in batches:
                        sub.pending = []
            if final is not None:
                yield final
                return
            if batches:
                yield _notifications(batches)
                beat = time.monotonic() + self.heartbeat
                continue
            if time.monotonic() >= deadline:
                with self._cond:
                    self.closed += 1
                yield _status("Closed")
                return
            yield _status("OK")
            beat = time.monotonic() + self.heartbeat


def subscribe_response(sid: str) -> Element:
    response = Element(_q(M, "SubscribeResponse"))
    messages = SubElement(response, _q(M, "ResponseMessages"))
    message = SubElement(messages, _q(M, "SubscribeResponseMessage"), ResponseClass="Success")
    SubElement(message, _q(M, "ResponseCode")).text = "NoError"
    SubElement(message, _q(M, "SubscriptionId")).text = sid
    return response


def subscribe_error(code: str, text: str) -> Element:
    response = Element(_q(M, "SubscribeResponse"))
    messages = SubElement(response, _q(M, "ResponseMessages"))
    message = SubElement(messages, _q(M, "SubscribeResponseMessage"), ResponseClass="Error")
    SubElement(message, _q(M, "MessageText")).text = text
    SubElement(message, _q(M, "ResponseCode")).text = code
    SubElement(message, _q(M, "DescriptiveLinkKey")).text = "0"
    return response


def unsubscribe_response(found: bool) -> Element:
    response = Element(_q(M, "UnsubscribeResponse"))
    messages = SubElement(response, _q(M, "ResponseMessages"))
    cls = "Success" if found else "Error"
    message = SubElement(messages, _q(M, "UnsubscribeResponseMessage"), ResponseClass=cls)
    if not found:
        SubElement(message, _q(M, "MessageText")).text = "The specified subscription was not found."
    SubElement(message, _q(M, "ResponseCode")).text = (
        "NoError" if found else "ErrorSubscriptionNotFound"
    )
    if not found:
        SubElement(message, _q(M, "DescriptiveLinkKey")).text = "0"
    return response


def streaming_response(message: Element) -> Element:
    """Wrap one message in ``GetStreamingEventsResponse``/``ResponseMessages``."""
    response = Element(_q(M, "GetStreamingEventsResponse"))
    SubElement(response, _q(M, "ResponseMessages")).append(message)
    return response


def _message(cls: str = "Success") -> Element:
    return Element(_q(M, "GetStreamingEventsResponseMessage"), ResponseClass=cls)


def _status(status: str) -> Element:
    message = _message()
    SubElement(message, _q(M, "ResponseCode")).text = "NoError"
    SubElement(message, _q(M, "ConnectionStatus")).text = status
    return message


def _invalid(sids: list[str]) -> Element:
    message = _message("Error")
    SubElement(message, _q(M, "MessageText")).text = "The subscription is invalid."
    SubElement(message, _q(M, "ResponseCode")).text = "ErrorInvalidSubscription"
    SubElement(message, _q(M, "DescriptiveLinkKey")).text = "0"
    ids = SubElement(message, _q(M, "ErrorSubscriptionIds"))
    for sid in sids:
        SubElement(ids, _q(M, "SubscriptionId")).text = sid
    return message


def _notifications(batches: list[tuple[str, _Sub, list[tuple[str, str, str]]]]) -> Element:
    message = _message()
    SubElement(message, _q(M, "ResponseCode")).text = "NoError"
    notifications = SubElement(message, _q(M, "Notifications"))
    for sid, sub, events in batches:
        notification = SubElement(notifications, _q(M, "Notification"))
        SubElement(notification, _q(T, "SubscriptionId")).text = sid
        SubElement(notification, _q(T, "PreviousWatermark")).text = _watermark(sub.watermark)
        SubElement(notification, _q(T, "MoreEvents")).text = "false"
        for item_id, change_type, stamp in events:
            sub.watermark += 1
            event = SubElement(notification, _q(T, _EVENT.get(change_type, "ModifiedEvent")))
            SubElement(event, _q(T, "Watermark")).text = _watermark(sub.watermark)
            SubElement(event, _q(T, "TimeStamp")).text = stamp
            SubElement(event, _q(T, "ItemId"), Id=sub.item_id(item_id), ChangeKey="AAAA")
            SubElement(event, _q(T, "ParentFolderId"), Id=sub.folder_id, ChangeKey="AQAA")
    return message


def _watermark(n: int) -> str:
    return base64.b64encode(f"wm{n:08d}".encode()).decode()


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
