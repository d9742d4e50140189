"""One EWS streaming connection for a group of room subscriptions (``exchange_stream``).

A thread holds ``GetStreamingEvents`` open for the group's subscription ids, impersonating the
anchor mailbox; it reconnects when the members change (after ``SETTLE``), when the server closes
the stream, and subscribes again the rooms whose subscription the server forgot.
"""

from __future__ import annotations

import ast
import logging
import re
import socket
import threading
from collections.abc import Callable
from contextlib import suppress
from typing import Any

from exchangelib import errors as ews_errors
from exchangelib.properties import StatusEvent
from exchangelib.services import GetStreamingEvents, SubscribeToStreaming

log = logging.getLogger("calendars.sources.exchange_stream")

CONNECTION_MINUTES = 29
"""``ConnectionTimeout`` asked for (EWS allows 1-30)."""
SETTLE = 0.3
"""Seconds a reconnection for new members waits for more of them."""
GONE = (
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


def subscribe_in_group(account: Any, anchor: Any) -> str:
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


def end_stream(service: Any) -> None:
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
        with suppress(Exception):  # (the pool cannot overflow: this one replaces the closed one)
            service.protocol.release_session(service.protocol.create_session())


class Group:
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
            end_stream(service)

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
            end_stream(service)
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
            except GONE as exc:
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
                new = subscribe_in_group(member[1], self.anchor)
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
