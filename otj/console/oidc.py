"""OpenID Connect sign-in for the console (authorization code flow with PKCE).

Configured from the environment of ``otj serve``: ``OTJ_OIDC_ISSUER`` (its discovery document
is read from ``/.well-known/openid-configuration``, OpenID Connect Discovery 1.0 §4),
``OTJ_OIDC_CLIENT_ID``, ``OTJ_OIDC_CLIENT_SECRET`` (a secret reference: ``env:NAME`` or
``file:PATH`` work too), and the claim that carries the caller's groups
(``OTJ_OIDC_ROLES_CLAIM``, default ``groups``) with the values that make an admin
(``OTJ_OIDC_ADMIN_GROUP``, default ``otj-admins``) or a viewer (``OTJ_OIDC_VIEWER_GROUP``,
default ``otj-viewers``). Someone in neither group is refused.

The ID token is checked with PyJWT (RS256/ES256 signatures from the provider's JWKS; ``iss``,
``aud``, ``exp``, ``iat`` and the ``nonce`` of this sign-in: OpenID Connect Core 1.0 §3.1.3.7).
The state, nonce and PKCE verifier (RFC 7636, S256) of a sign-in in progress are kept here for
ten minutes, bound to the browser by a cookie holding the state.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal
from urllib.parse import urlencode

import httpx
import jwt

PENDING_FOR = timedelta(minutes=10)
ALGORITHMS = ["RS256", "ES256", "PS256"]


class OidcError(Exception):
    """A sign-in that cannot go on; the message is for the person signing in."""


@dataclass(frozen=True, kw_only=True, slots=True)
class OidcSettings:
    """Where the provider is and how to map its users to roles."""

    issuer: str
    client_id: str
    client_secret: str
    roles_claim: str = "groups"
    admin_group: str = "otj-admins"
    viewer_group: str = "otj-viewers"
    timeout: float = 10.0

    def __repr__(self) -> str:  # never the client secret
        return f"OidcSettings(issuer={self.issuer!r}, client_id={self.client_id!r})"

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> OidcSettings | None:
        """The settings, or None when ``OTJ_OIDC_ISSUER`` is not set."""
        issuer = environ.get("OTJ_OIDC_ISSUER", "").strip()
        if not issuer:
            return None
        from otj.secret import resolve_secret

        secret = resolve_secret(environ.get("OTJ_OIDC_CLIENT_SECRET", ""), environ=environ)
        return cls(
            issuer=issuer.rstrip("/"),
            client_id=environ.get("OTJ_OIDC_CLIENT_ID", ""),
            client_secret=secret.reveal(),
            roles_claim=environ.get("OTJ_OIDC_ROLES_CLAIM", "groups"),
            admin_group=environ.get("OTJ_OIDC_ADMIN_GROUP", "otj-admins"),
            viewer_group=environ.get("OTJ_OIDC_VIEWER_GROUP", "otj-viewers"),
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class Pending:
    """A sign-in between the redirect to the provider and its answer."""

    nonce: str
    verifier: str
    redirect_uri: str
    next: str
    expires: datetime


@dataclass(frozen=True, kw_only=True, slots=True)
class OidcUser:
    """Who signed in, and as what."""

    name: str
    role: Literal["admin", "viewer"]


def _challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def role_of(claims: Mapping[str, Any], settings: OidcSettings) -> Literal["admin", "viewer"]:
    """The role the claims give (``OidcError`` when they give none)."""
    groups = claims.get(settings.roles_claim) or []
    if isinstance(groups, str):
        groups = groups.split()
    if settings.admin_group in groups:
        return "admin"
    if settings.viewer_group in groups:
        return "viewer"
    raise OidcError(
        f"your account is in neither {settings.admin_group!r} nor {settings.viewer_group!r} "
        f"(claim {settings.roles_claim!r}): ask for access"
    )


def name_of(claims: Mapping[str, Any]) -> str:
    """The account name: ``preferred_username``, else ``email``, else ``sub``."""
    for key in ("preferred_username", "email", "sub"):
        value = claims.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()[:200]
    raise OidcError("the provider named no user")


class OidcClient:
    """The relying party: the authorization URL, then the code exchange and the ID token."""

    def __init__(self, settings: OidcSettings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._pending: dict[str, Pending] = {}
        self._metadata: dict[str, Any] | None = None
        self._keys: jwt.PyJWKClient | None = None

    def metadata(self) -> dict[str, Any]:
        """The provider's discovery document (read once)."""
        if self._metadata is None:
            url = f"{self.settings.issuer}/.well-known/openid-configuration"
            try:
                answer = httpx.get(url, timeout=self.settings.timeout)
                answer.raise_for_status()
                found = answer.json()
            except (httpx.HTTPError, ValueError) as exc:
                raise OidcError(f"the sign-in provider cannot be reached ({url}): {exc}") from exc
            if found.get("issuer", "").rstrip("/") != self.settings.issuer:
                raise OidcError(f"the provider at {url} calls itself {found.get('issuer')!r}")
            self._metadata = found
            self._keys = jwt.PyJWKClient(found["jwks_uri"], timeout=int(self.settings.timeout))
        return self._metadata

    def start(self, *, redirect_uri: str, next_: str, now: datetime) -> tuple[str, str]:
        """(The provider's authorization URL, the state to bind to the browser)."""
        meta = self.metadata()
        state, nonce = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        verifier = secrets.token_urlsafe(48)
        with self._lock:
            self._pending = {k: p for k, p in self._pending.items() if p.expires > now}
            self._pending[state] = Pending(
                nonce=nonce, verifier=verifier, redirect_uri=redirect_uri, next=next_,
                expires=now + PENDING_FOR,
            )  # fmt: skip
        query = urlencode(
            {
                "response_type": "code",
                "client_id": self.settings.client_id,
                "redirect_uri": redirect_uri,
                "scope": "openid profile email",
                "state": state,
                "nonce": nonce,
                "code_challenge": _challenge(verifier),
                "code_challenge_method": "S256",
            }
        )
        return f"{meta['authorization_endpoint']}?{query}", state

    def finish(self, *, state: str, bound: str, code: str, now: datetime) -> tuple[OidcUser, str]:
        """Exchange the code and check the ID token: (the user, where to go next)."""
        if not state or not secrets.compare_digest(state, bound or ""):
            raise OidcError("this sign-in was started in another browser or has expired")
        with self._lock:
            pending = self._pending.pop(state, None)
        if pending is None or pending.expires <= now:
            raise OidcError("this sign-in has expired: start again")
        meta = self.metadata()
        try:
            answer = httpx.post(
                meta["token_endpoint"],
                data={
                    "grant_type": "authorization_code", "code": code,
                    "redirect_uri": pending.redirect_uri, "code_verifier": pending.verifier,
                },
                auth=(self.settings.client_id, self.settings.client_secret),
                timeout=self.settings.timeout,
            )  # fmt: skip
            answer.raise_for_status()
            token = answer.json()["id_token"]
        except (httpx.HTTPError, ValueError, KeyError) as exc:
            raise OidcError(f"the provider refused the sign-in: {exc}") from exc
        claims = self.verify(token, nonce=pending.nonce)
        return OidcUser(name=name_of(claims), role=role_of(claims, self.settings)), pending.next

    def verify(self, token: str, *, nonce: str) -> dict[str, Any]:
        """The ID token's claims after every check of OpenID Connect Core §3.1.3.7."""
        self.metadata()
        assert self._keys is not None
        try:
            key = self._keys.get_signing_key_from_jwt(token)
            claims: dict[str, Any] = jwt.decode(
                token, key=key, algorithms=ALGORITHMS, audience=self.settings.client_id,
                issuer=self.settings.issuer, options={"require": ["exp", "iat", "iss", "aud"]},
            )  # fmt: skip
        except jwt.PyJWTError as exc:
            raise OidcError(f"the provider's ID token is not valid: {exc}") from exc
        if not secrets.compare_digest(str(claims.get("nonce", "")), nonce):
            raise OidcError("the provider's ID token is for another sign-in (nonce)")
        return claims
