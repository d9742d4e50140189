"""Microsoft Graph v1.0 error responses and client failures → ``CalendarError``.

Status and ``error.code`` (https://learn.microsoft.com/graph/errors): 410 or a sync-state code
is ``SyncStateExpired``, 429/5xx ``CalendarUnavailable`` with ``Retry-After``, 404 not found,
401/403 refused access.
"""

from __future__ import annotations

import json

import httpx
import requests

from calendars.base import (
    CalendarAuthError,
    CalendarError,
    CalendarNotFound,
    CalendarUnavailable,
    MalformedCalendarData,
    SyncStateExpired,
)
from otj.netreason import one_line, reason, request_url, safe_url, status_text

_EXPIRED_CODES = frozenset({"syncstatenotfound", "syncstateinvalid", "resyncrequired"})


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def http_error(room: str, response: httpx.Response, *, url: str) -> CalendarError:
    """Map a Graph error response (status and ``error.code``) to a ``CalendarError``."""
    status = response.status_code
    code = ""
    try:
        code = str(json.loads(response.content)["error"]["code"])
    except (ValueError, KeyError, TypeError):
        code = ""
    message = f"{room}: Graph {safe_url(url)} answered {status_text(status)} {code}".rstrip()
    if status == 410 or code.lower() in _EXPIRED_CODES:
        return SyncStateExpired(message)
    if status == 429 or status >= 500:
        return CalendarUnavailable(message, retry_after=_retry_after(response))
    if status == 404:
        return CalendarNotFound(message)
    if status in (401, 403):
        return CalendarAuthError(message)
    return MalformedCalendarData(message)


def error_text(response: httpx.Response) -> str:
    """``HTTP 400 InvalidRequest: Subscription validation request failed…``."""
    try:
        error = json.loads(response.content)["error"]
        return f"HTTP {response.status_code} {error['code']}: {error['message']}"
    except (ValueError, KeyError, TypeError):
        return f"HTTP {response.status_code}"


def map_error(room: str, exc: BaseException, *, url: str) -> CalendarError:
    """Map httpx, requests and msal failures to ``CalendarError``s naming the room and URL."""
    if isinstance(exc, CalendarError):
        return exc
    where = f"{room}: Graph {safe_url(url)}"
    if isinstance(exc, httpx.TimeoutException):
        return CalendarUnavailable(f"{where} timed out")
    if isinstance(exc, (httpx.TransportError, requests.RequestException, OSError)):
        target = request_url(exc)
        shown = f"{room}: {safe_url(target)}" if target else f"{where} or Entra ID"
        return CalendarUnavailable(f"{shown} unreachable: {reason(exc)}")
    if isinstance(exc, ValueError) and "authority" in str(exc).lower():
        return CalendarAuthError(f"{room}: Entra ID tenant discovery failed: {one_line(str(exc))}")
    if isinstance(exc, (ValueError, KeyError, TypeError)):
        return MalformedCalendarData(f"{where}: unreadable response: {one_line(repr(exc))}")
    return CalendarError(f"{where}: unexpected failure: {one_line(repr(exc))}")
