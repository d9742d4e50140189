"""EWS streaming notifications: a ``Subscribe`` and a listener thread per room calendar.

Exchange has no HTTP callback for streaming subscriptions: the client holds a
``GetStreamingEvents`` request open (https://learn.microsoft.com/exchange/client-developer/
web-service-reference/getstreamingevents-operation). The server closes it after the request's
``ConnectionTimeout`` (1-30 minutes, ``ConnectionStatus`` ``Closed``) and the listener reconnects
at once; a subscription the server forgot (``ErrorInvalidSubscription``: it expires 30 minutes
after its last connection) is subscribed again, followed by a sync for the gap. Any other error
ends the listener and reports the room failed (polling resumes, the worker subscribes again).
Each open stream holds an exchangelib session, so the shared pool grows by one per listener.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from contextlib import suppress
from datetime import datetime, timedelta
from typing import Any

from exchangelib import errors as ews_errors
from exchangelib.properties import StatusEvent
from exchangelib.services import GetStreamingEvents

from calendars.base import CalendarError, CalendarNotFound
from calendars.push import Channel, PushRefused

log = logging.getLogger(__name__)

CONNECTION_MINUTES = 29
"""``ConnectionTimeout`` asked for (EWS allows 1-30)."""
STREAM_LIFETIME = timedelta(days=1)
"""The channel expiry reported to the worker; a live listener renews it."""
_GONE = (
    ews_errors.ErrorInvalidSubscription,
    ews_errors.ErrorSubscriptionNotFound,
    ews_errors.ErrorExpiredSubscription,
)

Changed = Callable[[str], None]
Failed = Callable[[str, str], None]


class _Listener:
    """Holds ``GetStreamingEvents`` open for one room's subscription, reconnecting."""

    def __init__(self, room: str, account: Any, sid: str, changed: Changed, failed: Failed):
        self.room = room
        self.account = account
        self.sid = sid
        self._changed = changed
        self._failed = failed
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._service: Any = None
        self._thread = threading.Thread(target=self._run, name=f"otj-ews-{room}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def alive(self) -> bool:
        return self._thread.is_alive() and not self._stopping.is_set()

    def stopping(self) -> None:
        """From now on, the end of the stream ends the thread."""
        self._stopping.set()

    def stop(self) -> None:
        """End the open request (closing its response) and wait a little for the thread."""
        self._stopping.set()
        with self._lock:
            service = self._service
        if service is not None:
            with suppress(Exception):
                service.stop_streaming()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout=2)

    def _run(self) -> None:
        while not self._stopping.is_set():
            service = GetStreamingEvents(account=self.account)
            with self._lock:
                self._service = service
            try:
                for note in service.call(
                    subscription_ids=[self.sid], connection_timeout=CONNECTION_MINUTES
                ):
                    if any(not isinstance(e, StatusEvent) for e in note.events):
                        self._changed(self.room)
            except _GONE as exc:
                if self._stopping.is_set():
                    return
                log.info("%s: streaming subscription gone (%s); subscribing again", self.room, exc)
                try:
                    self.sid = self.account.calendar.subscribe_to_streaming()
                except Exception as again:  # noqa: BLE001 (reported: polling resumes)
                    self._fail(f"subscribing again failed: {again}")
                    return
                self._changed(self.room)  # changes while no subscription watched
            except Exception as exc:  # noqa: BLE001 (reported: polling resumes)
                if not self._stopping.is_set():
                    self._fail(f"GetStreamingEvents failed: {exc}")
                return
            finally:
                with self._lock:
                    self._service = None
            log.debug("%s: notification stream closed by the server; reconnecting", self.room)

    def _fail(self, reason: str) -> None:
        log.warning("%s: EWS streaming notifications stopped: %s", self.room, reason)
        self._stopping.set()
        self._failed(self.room, reason)


class EwsStreaming:
    """``PushSource`` methods of ``ExchangeCalendarSource`` (mixed in; thread-safe)."""

    push_kind = "ews"
    push_lifetime = STREAM_LIFETIME

    def __init__(self) -> None:
        self._stream_lock = threading.Lock()
        self._listeners: dict[str, _Listener] = {}
        self._on_changed: Changed = lambda room: None
        self._on_failed: Failed = lambda room, reason: None

    def _account(self, room: str) -> Any:  # pragma: no cover (provided by the source)
        raise NotImplementedError

    def _stream_error(self, room: str, exc: BaseException) -> CalendarError:  # pragma: no cover
        raise NotImplementedError

    def attach_push(self, *, changed: Changed, failed: Failed) -> None:
        """Where the listeners report: ``changed(room)``, ``failed(room, reason)``."""
        self._on_changed, self._on_failed = changed, failed

    def subscribe(
        self,
        room: str,
        *,
        notification_url: str,
        lifecycle_url: str,
        token: str,
        expires: datetime,
    ) -> Channel:
        """``Subscribe`` (streaming) to the room's calendar and start its listener (the URLs and
        token are unused: the stream is this process's own connection)."""
        del notification_url, lifecycle_url, token
        account = self._account(room)
        try:
            sid = account.calendar.subscribe_to_streaming()
        except Exception as exc:
            error = self._stream_error(room, exc)
            raise PushRefused(f"streaming subscription refused: {error}") from exc
        listener = _Listener(room, account, sid, self._on_changed, self._on_failed)
        with self._stream_lock:
            old = self._listeners.pop(room.lower(), None)
            self._listeners[room.lower()] = listener
            if old is None:
                account.protocol.max_connections += 1  # the stream's own session
        if old is not None:
            old.stop()
        listener.start()
        return Channel(id=sid, expires_at=expires)

    def renew(self, room: str, channel: Channel, *, expires: datetime) -> Channel:
        """Nothing to renew while the listener runs (it keeps the subscription alive)."""
        with self._stream_lock:
            listener = self._listeners.get(room.lower())
        if listener is None or not listener.alive():
            raise CalendarNotFound(f"{room}: the EWS notification stream has ended")
        return Channel(id=channel.id, expires_at=expires)

    def unsubscribe(self, room: str, channel: Channel) -> None:
        """Stop the listener, then ``Unsubscribe`` (gone already is fine)."""
        with self._stream_lock:
            listener = self._listeners.pop(room.lower(), None)
            if listener is not None:
                listener.account.protocol.max_connections -= 1
        if listener is None:
            return
        listener.stopping()
        try:  # first: the server then ends the open stream (ErrorInvalidSubscription)
            listener.account.calendar.unsubscribe(listener.sid or channel.id)
        except _GONE:
            pass
        except Exception as exc:
            raise self._stream_error(room, exc) from exc
        finally:
            listener.stop()

    def stop_streams(self) -> None:
        """Stop every listener (the source is closing)."""
        with self._stream_lock:
            listeners = list(self._listeners.values())
            self._listeners.clear()
        for listener in listeners:
            listener.stop()
