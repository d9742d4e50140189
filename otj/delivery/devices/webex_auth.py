"""Webex authorisation: a profile's integration (or service app) credentials and the access
tokens made from them.

The token comes from the refresh token with the OAuth 2.0 refresh_token grant at
``POST /v1/access_token`` (RFC 6749 §6; developer.webex.com, "Integrations"), refreshed
:data:`REFRESH_MARGIN` before it expires and once more when the API answers 401. Commands need the
scope ``spark:xapi_commands``, status reads ``spark:xapi_statuses``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

import httpx

from otj.delivery.devices.errors import (
    EndpointProtocolError,
    EndpointUnauthorised,
    EndpointUnreachable,
    MissingCredentials,
)
from otj.model import Endpoint, Profile
from otj.secret import Secret

log = logging.getLogger(__name__)

#: A token is refreshed this long before the ``expires_in`` it came with.
REFRESH_MARGIN = 300.0
#: After Webex refused a refresh token, the other endpoints of the same authorisation fail
#: with that answer for this long instead of asking again (one request, not one per device).
REFUSAL_MEMORY = 300.0


@dataclass(frozen=True, kw_only=True, slots=True)
class WebexCredentials:
    """An integration's or service app's OAuth client and refresh token."""

    client_id: str
    client_secret: Secret = field(repr=False)
    refresh_token: Secret = field(repr=False)

    def key(self) -> tuple[str, str, str]:
        """What identifies one token source (never logged)."""
        return (self.client_id, self.client_secret.reveal(), self.refresh_token.reveal())


def missing_webex_settings(endpoint: Endpoint, profile: Profile) -> str:
    """Why a ``WEBEX`` endpoint cannot be delivered to as configured ("" when it can)."""
    missing = [
        name
        for name, value in (
            ("endpoint_webex_client_id", profile.endpoint_webex_client_id),
            ("endpoint_webex_client_secret", profile.endpoint_webex_client_secret),
            ("endpoint_webex_refresh_token", profile.endpoint_webex_refresh_token),
        )
        if not (value.ref or value.reveal() if isinstance(value, Secret) else value)
    ]
    if not endpoint.webex_device_id:
        return "no webex_device_id: set the device id of the Webex Devices API on the endpoint"
    if missing:
        return f"no Webex authorisation: set {', '.join(missing)} on profile {profile.name!r}"
    return ""


def credentials_for(endpoint: Endpoint, profile: Profile) -> WebexCredentials:
    """The endpoint's Webex authorisation; :class:`MissingCredentials` saying what is missing."""
    problem = missing_webex_settings(endpoint, profile)
    secret, refresh = profile.endpoint_webex_client_secret, profile.endpoint_webex_refresh_token
    if problem or secret is None or refresh is None:
        raise MissingCredentials(problem)
    return WebexCredentials(
        client_id=profile.endpoint_webex_client_id,
        client_secret=secret,
        refresh_token=refresh,
    )


def error_text(response: httpx.Response) -> str:
    """Webex's error ``message`` (and ``trackingId`` for Cisco support), else the status."""
    detail = ""
    try:
        data = response.json()
    except ValueError:
        data = None
    if isinstance(data, Mapping):
        detail = str(data.get("message") or data.get("error_description") or "")
        tracking = data.get("trackingId") or response.headers.get("TrackingID", "")
        if tracking:
            detail = f"{detail} (trackingId {tracking})" if detail else f"trackingId {tracking}"
    return f"HTTP {response.status_code}" + (f": {detail}" if detail else "")


class TokenSource:
    """Access tokens of one client + refresh token, refreshed once for all waiting requests."""

    def __init__(self, credentials: WebexCredentials) -> None:
        self.credentials = credentials
        self._refresh_token = credentials.refresh_token.reveal()
        self._token = ""
        self._expires = 0.0
        self._lock = asyncio.Lock()
        #: Requests of this token wait until this (loop time) after a 429.
        self.paused_until = 0.0
        self.refreshes = 0
        self._refused: tuple[float, EndpointUnauthorised] | None = None

    async def token(self, http: httpx.AsyncClient, *, stale: str = "") -> str:
        """A valid access token (a new one when ``stale`` was refused with 401)."""
        async with self._lock:
            now = asyncio.get_running_loop().time()
            if self._token and self._token != stale and now < self._expires - REFRESH_MARGIN:
                return self._token
            if self._token and stale and self._token != stale:
                return self._token  # another request refreshed it meanwhile
            if self._refused is not None and now < self._refused[0] + REFUSAL_MEMORY:
                raise self._refused[1]
            try:
                await self._refresh(http, now)
            except EndpointUnauthorised as exc:
                self._refused = (now, exc)
                raise
            self._refused = None
            return self._token

    async def _refresh(self, http: httpx.AsyncClient, now: float) -> None:
        form = {
            "grant_type": "refresh_token",
            "client_id": self.credentials.client_id,
            "client_secret": self.credentials.client_secret.reveal(),
            "refresh_token": self._refresh_token,
        }
        url = "/v1/access_token"
        self.refreshes += 1
        try:
            response = await http.post(url, data=form)
        except httpx.HTTPError as exc:
            raise EndpointUnreachable(f"POST {url}: {exc or type(exc).__name__}") from exc
        if response.status_code in (400, 401, 403):
            raise EndpointUnauthorised(
                f"Webex refused the refresh token of client {self.credentials.client_id!r} "
                f"({error_text(response)}): authorise the integration again"
            )
        if response.status_code != 200:
            raise EndpointProtocolError(f"POST {url}: {error_text(response)}")
        try:
            data = response.json()
            token = str(data["access_token"])
            expires_in = float(data.get("expires_in", 0) or 0)
        except (ValueError, KeyError, TypeError) as exc:
            raise EndpointProtocolError(f"POST {url}: no access_token in the answer") from exc
        self._token = token
        self._expires = now + (expires_in or 3600.0)
        renewed = data.get("refresh_token")
        if isinstance(renewed, str) and renewed and renewed != self._refresh_token:
            log.info("Webex client %s: the refresh token was renewed", self.credentials.client_id)
            self._refresh_token = renewed
        log.info("Webex client %s: access token refreshed", self.credentials.client_id)
