"""The EWS operations served, and pull notifications on the room's calendar (pure).

Pull notifications (``Subscribe`` with a ``PullSubscriptionRequest``, ``GetEvents``,
``Unsubscribe``) are stateless: the watermark carries the calendar folder's ``ChangeKey`` as the
client last saw it, so ``GetEvents`` answers a ``ModifiedEvent`` on the calendar folder when the
meetings changed since, else a ``StatusEvent``; either way with a new watermark. The client then
reads again (``FindItem``/``SyncFolderItems``). Streaming and push subscriptions are not served.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from xml.etree.ElementTree import Element, SubElement

from otj.api.ews.calendar import EwsFailure, RoomCalendar, decode_opaque, encode_opaque
from otj.api.ews.soap import M, T, error, q, response_messages, success

OPERATIONS = (
    "GetFolder",
    "FindItem",
    "GetItem",
    "SyncFolderItems",
    "Subscribe",
    "GetEvents",
    "Unsubscribe",
)


class Notifications:
    """Pull subscriptions on one room's calendar folder."""

    def __init__(self, calendar: RoomCalendar, *, now: datetime) -> None:
        self.calendar = calendar
        self.now = now

    def _watermark(self) -> str:
        return encode_opaque({"r": self.calendar.room, "k": self.calendar.change_key})

    def _subscription(self) -> str:
        return encode_opaque({"r": self.calendar.room, "p": "calendar"})

    def _check_subscription(self, text: str) -> None:
        decoded = decode_opaque(text)
        if not isinstance(decoded, dict) or decoded.get("r") != self.calendar.room:
            raise EwsFailure(
                "ErrorSubscriptionNotFound", "The specified subscription was not found."
            )

    def _check_request(self, pull: Element | None) -> None:
        if pull is None:
            raise EwsFailure(
                "ErrorInvalidSubscriptionRequest", "Only pull subscriptions are served."
            )
        folders = pull.find(q(T, "FolderIds"))
        names = [self.calendar.folder_name(r) for r in (folders if folders is not None else [])]
        if names != ["calendar"]:
            raise EwsFailure(
                "ErrorInvalidSubscriptionRequest", "Subscribe to the calendar folder only."
            )

    def _seen(self, subscription: str, previous: str) -> dict[str, str]:
        self._check_subscription(subscription)
        seen = decode_opaque(previous)
        if not isinstance(seen, dict) or seen.get("r") != self.calendar.room:
            raise EwsFailure("ErrorInvalidWatermark", "The watermark is invalid.")
        return seen

    def subscribe(self, request: Element) -> Element:
        """``Subscribe``: a pull subscription on the calendar folder."""
        response, messages = response_messages("Subscribe")
        try:
            self._check_request(request.find(q(M, "PullSubscriptionRequest")))
        except EwsFailure as failure:
            error(messages, "Subscribe", failure.code, failure.text)
            return response
        message = success(messages, "Subscribe")
        SubElement(message, q(M, "SubscriptionId")).text = self._subscription()
        SubElement(message, q(M, "Watermark")).text = self._watermark()
        return response

    def get_events(self, request: Element) -> Element:
        """``GetEvents``: a ``ModifiedEvent`` on the calendar when it changed, else a
        ``StatusEvent``."""
        response, messages = response_messages("GetEvents")
        subscription = request.findtext(q(M, "SubscriptionId")) or ""
        previous = request.findtext(q(M, "Watermark")) or ""
        try:
            seen = self._seen(subscription, previous)
        except EwsFailure as failure:
            error(messages, "GetEvents", failure.code, failure.text)
            return response
        message = success(messages, "GetEvents")
        notification = SubElement(message, q(M, "Notification"))
        SubElement(notification, q(T, "SubscriptionId")).text = subscription.strip()
        SubElement(notification, q(T, "PreviousWatermark")).text = previous.strip()
        SubElement(notification, q(T, "MoreEvents")).text = "false"
        calendar = self.calendar
        if seen.get("k") == calendar.change_key:
            event = SubElement(notification, q(T, "StatusEvent"))
            SubElement(event, q(T, "Watermark")).text = self._watermark()
            return response
        event = SubElement(notification, q(T, "ModifiedEvent"))
        SubElement(event, q(T, "Watermark")).text = self._watermark()
        SubElement(event, q(T, "TimeStamp")).text = self.now.astimezone(UTC).strftime(
            "%Y-%m-%dT%H:%M:%SZ"
        )
        SubElement(
            event,
            q(T, "FolderId"),
            Id=calendar.folder_id("calendar"),
            ChangeKey=calendar.change_key,
        )
        SubElement(event, q(T, "ParentFolderId"), Id=calendar.folder_id("msgfolderroot"))
        SubElement(event, q(T, "UnreadCount")).text = "0"
        return response

    def unsubscribe(self, request: Element) -> Element:
        """``Unsubscribe`` (nothing is kept, so nothing to forget)."""
        response, messages = response_messages("Unsubscribe")
        try:
            self._check_subscription(request.findtext(q(M, "SubscriptionId")) or "")
        except EwsFailure as failure:
            error(messages, "Unsubscribe", failure.code, failure.text)
            return response
        success(messages, "Unsubscribe")
        return response


def answer(calendar: RoomCalendar, operation: str, request: Element, *, now: datetime) -> Element:
    """The response element of one operation (``EwsFailure`` for one not served)."""
    notifications = Notifications(calendar, now=now)
    handlers: dict[str, Callable[[Element], Element]] = {
        "GetFolder": calendar.get_folder,
        "FindItem": calendar.find_item,
        "GetItem": calendar.get_item,
        "SyncFolderItems": calendar.sync_folder_items,
        "Subscribe": notifications.subscribe,
        "GetEvents": notifications.get_events,
        "Unsubscribe": notifications.unsubscribe,
    }
    handler = handlers.get(operation)
    if handler is None:
        raise EwsFailure(
            "ErrorInvalidRequest",
            f"{operation} is not served: this is One-Touch Join's read-only room calendar "
            f"({', '.join(OPERATIONS)})",
        )
    return handler(request)
