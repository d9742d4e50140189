"""EWS streaming notifications: a ``Subscribe`` per room calendar, one connection per group.

Exchange has no HTTP callback for streaming subscriptions: the client holds a
``GetStreamingEvents`` request open (https://learn.microsoft.com/exchange/client-developer/
web-service-reference/getstreamingevents-operation). One request carries several
``SubscriptionIds``; Microsoft's guidance for many mailboxes is to group them, at most
``GROUP_SIZE`` (200) subscriptions per group, and to open one connection per group impersonating
the group's first ("anchor") mailbox, the subscriptions sent with ``X-AnchorMailbox`` of the
anchor and its ``X-BackEndOverrideCookie`` so they live on its mailbox server
(https://learn.microsoft.com/exchange/client-developer/exchange-web-services/how-to-maintain-
affinity-between-group-of-subscriptions-and-mailbox-server). That also keeps within the
per-account limit of open streaming connections (``HangingConnectionLimit``: 3 on premises, 10
in Exchange Online; ``ErrorExceededConnectionCount``). So 200 rooms hold one connection, not 200.

A group's connection is reopened when its members change (after ``SETTLE`` seconds, so a burst
of subscriptions is one reconnection; events wait on the server meanwhile) and when the server
closes it after the request's ``ConnectionTimeout`` (1-30 minutes). Subscriptions the server
forgot (``ErrorInvalidSubscription``: 30 minutes after their last connection) are subscribed
again, followed by a sync for the gap; a room whose new subscription is refused, and every room
of a group whose connection fails otherwise, is reported failed (polling resumes, the worker
subscribes again).
"""

from __future__ import annotations

import ast
import logging
import re
import socket
import threading
from collections.abc import Callable
from contextlib import suppress
from datetime import datetime, timedelta
from typing import Any

from exchangelib import errors as ews_errors
from exchangelib.properties import StatusEvent
from exchangelib.services import GetStreamingEvents, SubscribeToStreaming

from calendars.base import CalendarError, CalendarNotFound
from calendars.push import Channel, PushRefused

log = logging.getLogger(__name__)

CONNECTION_MINUTES = 29
"""``ConnectionTimeout`` asked for (EWS allows 1-30)."""
STREAM_LIFETIME = timedelta(days=1)
"""The channel expiry reported to the worker; a live group renews it."""
GROUP_SIZE = 200
SETTLE = 0.3
_GONE = (
    ews_errors.ErrorInvalidSubscription,
    ews_errors.ErrorSubscriptionNotFound,
    ews_errors.ErrorExpiredSubscription,
)
_IDS = re.compile(r"\(subscription IDs: (\[.*?\])\)")

Changed = Callable[[str], None]
Failed = Callable[[str, str], None]


class _AnchoredSubscribe(SubscribeToStreaming):  # type: ignore[misc]
    """``Subscribe`` (streaming) for a group member, routed to its anchor's mailbox server."""

    def __init__(self, *args: Any, anchor: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.anchor = anchor

    def _extra_headers(self) -> dict[str, str]:
        headers: dict[str, str] = super()._extra_headers()
        headers["X-AnchorMailbox"] = self.anchor.primary_smtp_address
        if self.anchor.affinity_cookie:
            headers["X-BackEndOverrideCookie"] = self.anchor.affinity_cookie
        return headers


def _subscribe(account: Any, anchor: Any) -> str:
    if account is anchor:
        return str(account.calendar.subscribe_to_streaming())
    service = _AnchoredSubscribe(account=account, anchor=anchor)
    sid = service.get(folders=[account.calendar], event_types=SubscribeToStreaming.EVENT_TYPES)
    return str(sid)


def _gone_ids(exc: BaseException) -> set[str] | None:
    """The subscription ids an ``ErrorInvalidSubscription`` names (exchangelib appends them)."""
    match = _IDS.search(str(exc))
    if match is None:
        return None
    with suppress(ValueError, SyntaxError):
        return {str(i) for i in ast.literal_eval(match.group(1))}
    return None


def _end_stream(service: Any) -> None:
    """End an open ``GetStreamingEvents`` now: shut its socket down (a read blocked on it returns
    at once, not at the next heartbeat) and put a fresh session in the pool for the broken one."""
    response, service._streaming_response = getattr(service, "_streaming_response", None), None
    session, service._streaming_session = getattr(service, "_streaming_session", None), None
    connection = getattr(getattr(response, "raw", None), "_connection", None)
    sock = getattr(connection, "sock", None)
    if isinstance(sock, socket.socket):
        with suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
    if response is not None:
        with suppress(Exception):
            response.close()
    if session is not None:
        with suppress(Exception):
            session.close()
        service.protocol.release_session(service.protocol.create_session())


class _Group:
    """Holds one ``GetStreamingEvents`` open for up to ``GROUP_SIZE`` rooms' subscriptions."""

    def __init__(self, anchor: Any, changed: Changed, failed: Failed, ended: Callable[..., None]):
        self.anchor = anchor
        self._changed = changed
        self._failed = failed
        self._ended = ended
        self._lock = threading.Lock()
        self.members: dict[str, tuple[str, Any, str]] = {}  # room key → (room, account, sid)
        self._service: Any = None
        self._restart = False
        self._kicking = False
        self._stopping = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"otj-ews-{anchor.primary_smtp_address}", daemon=True
        )

    def add(self, room: str, account: Any, sid: str) -> None:
        with self._lock:
            self.members[room.lower()] = (room, account, sid)
            first = self._thread.ident is None
            if first:
                self._restart = True  # the first connection waits for more members too
                self._thread.start()
        if not first:
            self.restart()

    def remove(self, room: str) -> tuple[str, Any, str] | None:
        with self._lock:
            member = self.members.pop(room.lower(), None)
        if member is not None:
            self.restart()
        return member

    def sid(self, room: str) -> str | None:
        with self._lock:
            member = self.members.get(room.lower())
        return member[2] if member else None

    def alive(self) -> bool:
        return self._thread.is_alive() and not self._stopping.is_set()

    def restart(self) -> None:
        """Reconnect with the current members (the open request is ended)."""
        with self._lock:
            self._restart = True
            service = self._service
            if not self._kicking:  # the request may not have been sent yet: end it once it is
                self._kicking = True
                timer = threading.Timer(0.5, self._still_restarting)
                timer.daemon = True
                timer.start()
        if service is not None:
            _end_stream(service)

    def _still_restarting(self) -> None:
        """Until a connection with the current members began, end the one open."""
        with self._lock:
            self._kicking = False
            pending = self._restart
        if pending and self.alive():
            self.restart()

    def stop(self) -> None:
        self._stopping.set()
        with self._lock:
            service = self._service
        if service is not None:
            _end_stream(service)
        if threading.current_thread() is not self._thread and self._thread.is_alive():
            self._thread.join(timeout=2)

    def _run(self) -> None:
        try:
            self._loop()
        finally:
            self._ended(self)

    def _loop(self) -> None:
        while not self._stopping.is_set():
            with self._lock:
                restarted, self._restart = self._restart, False
                rooms = {sid: room for room, _account, sid in self.members.values()}
                if not rooms:
                    return
                service = GetStreamingEvents(account=self.anchor)
                self._service = service
            if restarted:
                self._stopping.wait(SETTLE)  # more members may follow
            try:
                for note in service.call(
                    subscription_ids=sorted(rooms), connection_timeout=CONNECTION_MINUTES
                ):
                    room = rooms.get(note.subscription_id)
                    if room and any(not isinstance(e, StatusEvent) for e in note.events):
                        self._changed(room)
            except _GONE as exc:
                if not (self._stopping.is_set() or self._restart):
                    self._resubscribe(rooms, _gone_ids(exc) or set(rooms), exc)
            except Exception as exc:  # noqa: BLE001 (reported: polling resumes)
                if not (self._stopping.is_set() or self._restart):
                    self._fail_all(f"GetStreamingEvents failed: {exc}")
                    return
            finally:
                with self._lock:
                    self._service = None
            log.debug("EWS stream of %d room(s) closed; reconnecting", len(rooms))

    def _resubscribe(self, rooms: dict[str, str], gone: set[str], exc: BaseException) -> None:
        for sid in sorted(gone & set(rooms)):
            room = rooms[sid]
            with self._lock:
                member = self.members.get(room.lower())
            if member is None or member[2] != sid:
                continue
            log.info("%s: streaming subscription gone (%s); subscribing again", room, exc)
            try:
                new = _subscribe(member[1], self.anchor)
            except Exception as again:  # noqa: BLE001 (reported: polling resumes)
                with self._lock:
                    self.members.pop(room.lower(), None)
                log.warning("%s: EWS streaming notifications stopped: %s", room, again)
                self._failed(room, f"subscribing again failed: {again}")
                continue
            with self._lock:
                self.members[room.lower()] = (member[0], member[1], new)
            self._changed(room)  # changes while no subscription watched

    def _fail_all(self, reason: str) -> None:
        with self._lock:
            members = list(self.members.values())
            self.members.clear()
        for room, _account, _sid in members:
            log.warning("%s: EWS streaming notifications stopped: %s", room, reason)
            self._failed(room, reason)


class EwsStreaming:
    """``PushSource`` methods of ``ExchangeCalendarSource`` (mixed in; thread-safe)."""

    push_kind = "ews"
    push_lifetime = STREAM_LIFETIME

    def __init__(self) -> None:
        self._stream_lock = threading.Lock()
        self._groups: list[_Group] = []
        self._group_of: dict[str, _Group] = {}
        self._on_changed: Changed = lambda room: None
        self._on_failed: Failed = lambda room, reason: None

    def _account(self, room: str) -> Any:  # pragma: no cover (provided by the source)
        raise NotImplementedError

    def _stream_error(self, room: str, exc: BaseException) -> CalendarError:  # pragma: no cover
        raise NotImplementedError

    def attach_push(self, *, changed: Changed, failed: Failed) -> None:
        """Where the groups report: ``changed(room)``, ``failed(room, reason)``."""
        self._on_changed, self._on_failed = changed, failed

    def stream_count(self) -> int:
        """Groups (so streaming connections) open now."""
        with self._stream_lock:
            return sum(1 for group in self._groups if group.alive())

    def _changed(self, room: str) -> None:
        self._on_changed(room)

    def _report_failed(self, room: str, reason: str) -> None:
        with self._stream_lock:
            self._group_of.pop(room.lower(), None)
        self._on_failed(room, reason)

    def _group_for(self, account: Any) -> _Group:
        """A live group with room to spare, else a new one anchored at ``account``."""
        for group in self._groups:
            if group.alive() and len(group.members) < GROUP_SIZE:
                return group
        group = _Group(account, self._changed, self._report_failed, self._group_ended)
        self._groups.append(group)
        account.protocol.max_connections += 1  # the stream's own session
        return group

    def _group_ended(self, group: _Group) -> None:
        with self._stream_lock:
            if group in self._groups:
                self._groups.remove(group)
                group.anchor.protocol.max_connections -= 1
            for key in [k for k, g in self._group_of.items() if g is group]:
                del self._group_of[key]

    def subscribe(
        self,
        room: str,
        *,
        notification_url: str,
        lifecycle_url: str,
        token: str,
        expires: datetime,
    ) -> Channel:
        """``Subscribe`` (streaming) to the room's calendar and add it to a group's connection
        (the URLs and token are unused: the stream is this process's own connection)."""
        del notification_url, lifecycle_url, token
        self._leave(room)
        account = self._account(room)
        with self._stream_lock:
            group = self._group_for(account)
        try:
            sid = _subscribe(account, group.anchor)
        except Exception as exc:
            if not group.members:
                group.stop()
                self._group_ended(group)
            error = self._stream_error(room, exc)
            raise PushRefused(f"streaming subscription refused: {error}") from exc
        with self._stream_lock:
            self._group_of[room.lower()] = group
        group.add(room, account, sid)
        return Channel(id=sid, expires_at=expires)

    def renew(self, room: str, channel: Channel, *, expires: datetime) -> Channel:
        """Nothing to renew while the room's group is connected (it keeps the subscription)."""
        with self._stream_lock:
            group = self._group_of.get(room.lower())
        if group is None or not group.alive() or group.sid(room) is None:
            raise CalendarNotFound(f"{room}: the EWS notification stream has ended")
        return Channel(id=channel.id, expires_at=expires)

    def unsubscribe(self, room: str, channel: Channel) -> None:
        """Leave the group, then ``Unsubscribe`` (gone already is fine)."""
        member = self._leave(room)
        if member is None:
            return
        _room, account, sid = member
        try:
            account.calendar.unsubscribe(sid or channel.id)
        except _GONE:
            pass
        except Exception as exc:
            raise self._stream_error(room, exc) from exc

    def _leave(self, room: str) -> tuple[str, Any, str] | None:
        with self._stream_lock:
            group = self._group_of.pop(room.lower(), None)
        return group.remove(room) if group is not None else None

    def stop_streams(self) -> None:
        """Stop every group (the source is closing)."""
        with self._stream_lock:
            groups = list(self._groups)
            self._group_of.clear()
        for group in groups:
            group.stop()
