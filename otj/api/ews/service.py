"""The emulated Exchange server of Poly endpoints: authenticate, then answer one EWS request.

Everything here reads the database, so the route calls it on a worker thread. A request is
authenticated from its headers alone (``EwsService.authenticate``) before its body is read; the
body is then answered for the one room the credentials belong to (``EwsService.answer``).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from xml.etree.ElementTree import Element, SubElement, tostring

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError
from defusedxml.ElementTree import fromstring as parse_untrusted_xml

from otj.api.ews.calendar import EwsFailure, RoomCalendar
from otj.api.ews.credentials import (
    ALARM_EWS_AUTH,
    FAILURES_FOR_ALARM,
    FailureCounter,
    basic_credentials,
    password_matches,
    poly_endpoint,
)
from otj.api.ews.operations import answer
from otj.api.ews.soap import SoapError, envelope, fault, parse_request
from otj.delivery.pull.access import DirectoryCache
from otj.model import DEFAULT_PROFILE, PAST_WINDOW, Endpoint

if TYPE_CHECKING:
    from otj.store import Database

log = logging.getLogger(__name__)

UNKNOWN_USER = "ews:unknown-user"
"""The alarm subject of refused logons whose user name names no POLY endpoint."""
READ_NOTE_EVERY = timedelta(minutes=1)
"""``last_read_at`` is written at most this often per endpoint."""
AUTODISCOVER_REQUEST = (
    "http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006"
)
AUTODISCOVER = "http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006"
AUTODISCOVER_OUTLOOK = (
    "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"
)


class Reply:
    """An HTTP answer: status and XML body (empty for a 401)."""

    __slots__ = ("body", "status")

    def __init__(self, status: int, body: bytes = b"") -> None:
        self.status = status
        self.body = body


class EwsService:
    """Authentication, failure alarms and the answers of the emulated Exchange server."""

    def __init__(self, db: Database, *, clock: Callable[[], datetime]) -> None:
        self._db = db
        self._clock = clock
        self.directory = DirectoryCache(db)
        self.failures = FailureCounter()
        self._alarmed: set[str] = set()
        self._noted: dict[str, datetime] = {}
        self._lock = threading.Lock()

    # authentication ----------------------------------------------------------------------
    def authenticate(self, authorization: str | None) -> Endpoint | None:
        """The ``POLY`` endpoint whose Basic credentials these are, or None (a 401)."""
        credentials = basic_credentials(authorization)
        if credentials is None:
            return None
        user, password = credentials
        now = self._clock()
        endpoint = poly_endpoint(self.directory.get(), user)
        if endpoint is not None and password_matches(self._db, endpoint, password, now=now):
            self.failures.succeed(endpoint.name)
            if endpoint.name in self._alarmed:
                self._db.alarms.clear(ALARM_EWS_AUTH, endpoint.name, now=now)
                self._alarmed.discard(endpoint.name)
            return endpoint
        # counted per endpoint; unknown user names share one count and one alarm, so that
        # guessing names neither escapes the count nor makes an alarm each
        subject = endpoint.name if endpoint is not None else UNKNOWN_USER
        count = self.failures.fail(subject, now=now)
        log.warning("EWS: logon refused for user %r (%d recent failures)", user[:64], count)
        if count >= FAILURES_FOR_ALARM and (
            subject not in self._alarmed or count % FAILURES_FOR_ALARM == 0
        ):
            self._db.alarms.raise_alarm(
                ALARM_EWS_AUTH,
                subject,
                f"{count} refused EWS logons (last as {user.strip()[:64]!r}) within 15 minutes: "
                "a Poly endpoint with a wrong password, or someone guessing",
                now=now,
                severity="warning",
            )
            self._alarmed.add(subject)
        return None

    # EWS ---------------------------------------------------------------------------------
    def answer(self, endpoint: Endpoint, body: bytes) -> Reply:
        """The SOAP answer to one request of ``endpoint``."""
        try:
            request = parse_request(body)
        except SoapError as exc:
            return Reply(500, fault("ErrorSchemaValidation", str(exc)))
        room = endpoint.room_resource_email.lower()
        if request.impersonated and request.impersonated != room:
            return Reply(
                500,
                fault(
                    "ErrorImpersonateUserDenied",
                    f"these credentials read {room} only, not {request.impersonated}",
                ),
            )
        now = self._clock()
        profile = self._db.config.profile_for_endpoint(endpoint.name) or DEFAULT_PROFILE
        meetings = self._db.meetings.list(
            room,
            start=now - PAST_WINDOW,
            end=now + timedelta(days=max(1, profile.display_upcoming_meetings)),
            listed_only=True,
            with_trace=False,
        )
        calendar = RoomCalendar(room, meetings)
        try:
            response = answer(calendar, request.operation, request.body, now=now)
        except EwsFailure as failure:
            return Reply(500, fault(failure.code, failure.text))
        if request.operation in ("FindItem", "GetItem", "SyncFolderItems"):
            self._note_read(endpoint.name, now)
        return Reply(200, envelope(response))

    def _note_read(self, name: str, now: datetime) -> None:
        with self._lock:
            last = self._noted.get(name)
            if last is not None and last <= now < last + READ_NOTE_EVERY:
                return
            self._noted[name] = now
        with contextlib.suppress(KeyError):  # the endpoint was removed meanwhile
            self._db.delivery.update(name, now=now, last_read_at=now)

    # Autodiscover (POX) --------------------------------------------------------------------
    def autodiscover(self, endpoint: Endpoint, body: bytes, *, ews_url: str) -> Reply:
        """The POX Autodiscover answer: the EWS URL, for the endpoint's own room only."""
        try:
            document = parse_untrusted_xml(body)
        except (ParseError, DefusedXmlException, ValueError):
            return Reply(400, _autodiscover_error("600", "Invalid Request"))
        address = (
            document.findtext(
                f"{{{AUTODISCOVER_REQUEST}}}Request/{{{AUTODISCOVER_REQUEST}}}EMailAddress"
            )
            or ""
        ).strip()
        room = endpoint.room_resource_email.lower()
        if address.lower() != room:
            return Reply(200, _autodiscover_error("500", f"these credentials read {room} only"))
        root = Element("Autodiscover", xmlns=AUTODISCOVER)
        response = SubElement(root, "Response", xmlns=AUTODISCOVER_OUTLOOK)
        user = SubElement(response, "User")
        SubElement(user, "DisplayName").text = endpoint.name
        SubElement(user, "AutoDiscoverSMTPAddress").text = room
        account = SubElement(response, "Account")
        SubElement(account, "AccountType").text = "email"
        SubElement(account, "Action").text = "settings"
        protocol = SubElement(account, "Protocol")
        SubElement(protocol, "Type").text = "EXCH"
        SubElement(protocol, "EwsUrl").text = ews_url
        SubElement(protocol, "EmwsUrl").text = ews_url
        return Reply(200, bytes(tostring(root, encoding="utf-8", xml_declaration=True)))


def _autodiscover_error(code: str, message: str) -> bytes:
    root = Element("Autodiscover", xmlns=AUTODISCOVER)
    response = SubElement(root, "Response")
    failure = SubElement(response, "Error", Id="0", Time="00:00:00.0000000")
    SubElement(failure, "ErrorCode").text = code
    SubElement(failure, "Message").text = message
    SubElement(failure, "DebugData")
    return bytes(tostring(root, encoding="utf-8", xml_declaration=True))
