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

import threading
from datetime import datetime, timedelta
from typing import Any

from calendars.base import CalendarError, CalendarNotFound
from calendars.push import Channel, PushRefused
from calendars.sources.exchange_group import GONE, Changed, Failed, Group, subscribe_in_group

STREAM_LIFETIME = timedelta(days=1)
"""The channel expiry reported to the worker; a live group renews it."""
GROUP_SIZE = 200


class EwsStreaming:
    """``PushSource`` methods of ``ExchangeCalendarSource`` (mixed in; thread-safe)."""

    push_kind = "ews"
    push_lifetime = STREAM_LIFETIME

    def __init__(self) -> None:
        self._stream_lock = threading.Lock()
        self._groups: list[Group] = []
        self._group_of: dict[str, Group] = {}
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

    def _group_for(self, account: Any) -> Group:
        """A live group with room to spare, else a new one anchored at ``account``."""
        for group in self._groups:
            if group.alive() and len(group.members) < GROUP_SIZE:
                return group
        group = Group(account, self._changed, self._report_failed, self._group_ended)
        self._groups.append(group)
        account.protocol.max_connections += 1  # the stream's own session
        return group

    def _group_ended(self, group: Group) -> None:
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
            sid = subscribe_in_group(account, group.anchor)
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
        except GONE:
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
