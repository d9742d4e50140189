"""HTTP authentication of the EWS fake, checked the way IIS in front of Exchange Server checks it.

- **Basic** (RFC 7617) against ``users``.
- **NTLM** over HTTP ([MS-NTHT], the RFC 4559 pattern): a 401 offers ``WWW-Authenticate: NTLM``;
  the client sends the Negotiate message, gets the Challenge in a second 401 and sends the
  Authenticate message, all on ONE keep-alive connection. The handshake state belongs to the
  connection; the HTTP server runs one thread per connection, so it is thread-local. pyspnego's
  NTLM acceptor verifies the NTLMv2 response against the password in ``users`` (its
  ``NTLM_USER_FILE`` store, written for each check) with LM and NTLMv1 refused
  (``LM_COMPAT_LEVEL=5``); over TLS it also checks the channel binding (RFC 5929
  ``tls-server-end-point``, Exchange's Extended Protection). As with IIS's default
  (``authPersistSingleRequest`` off), the connection then stays authenticated.
- **OAuth 2.0 bearer tokens** (RFC 6750) from a fake Microsoft identity platform token endpoint
  ``POST /{tenant}/oauth2/v2.0/token``: client credentials grant (RFC 6749 §4.4), client secret in
  the body or as HTTP Basic (§2.3.1), one ``{resource}/.default`` scope. Tokens are opaque, bound
  to that audience, expire on the fake's clock and can be revoked; errors use the identity
  platform's JSON (``error``, ``error_description`` with the AADSTS code, ``error_codes``).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import os
import secrets
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote

import spnego
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from spnego.channel_bindings import GssChannelBindings
from spnego.exceptions import SpnegoError

from tests.fakes.google_calendar_http import Response

# Exchange's own application id in Entra ID ("Office 365 Exchange Online")
EXCHANGE_APP_ID = "00000002-0000-0ff1-ce00-000000000000"
EXCHANGE_ONLINE_RESOURCE = "https://outlook.office365.com"
_NTLM_SIGNATURE = b"NTLMSSP\x00"
_NEGOTIATE, _AUTHENTICATE = 1, 3
# pyspnego reads its acceptor settings from the environment; the lock keeps fakes apart
_SPNEGO_ENV_LOCK = threading.Lock()


@dataclass(frozen=True, kw_only=True, slots=True)
class Verdict:
    """The outcome of checking one request: the principal, or what the 401 says."""

    user: str | None = None
    challenge: str = ""
    headers: Mapping[str, str] | None = None


def unauthorized(verdict: Verdict) -> Response:
    """The 401 IIS sends (empty body, so the connection stays open for the next leg)."""
    headers = {"WWW-Authenticate": verdict.challenge, **(verdict.headers or {})}
    return Response(status=401, body=b"", content_type="text/html", headers=headers)


# ----------------------------------------------------------------------------------- NTLM
class _Connection(threading.local):
    """NTLM state of the current TCP connection (the server gives each connection a thread)."""

    def __init__(self) -> None:
        self.context: Any = None
        self.user: str | None = None


def tls_server_end_point(certificate_pem: bytes) -> bytes:
    """RFC 5929 §4.1 channel binding data: the certificate hash (SHA-256 for MD5/SHA-1 certs)."""
    cert = x509.load_pem_x509_certificate(certificate_pem)
    algorithm = cert.signature_hash_algorithm
    if algorithm is None or algorithm.name in ("md5", "sha1"):
        algorithm = hashes.SHA256()
    digest = hashes.Hash(algorithm)
    digest.update(cert.public_bytes(Encoding.DER))
    return b"tls-server-end-point:" + digest.finalize()


class NtlmAcceptor:
    """Connection-bound NTLM (Negotiate → Challenge → Authenticate) verified by pyspnego."""

    def __init__(self, users: Mapping[str, str], *, certificate: Path | None = None) -> None:
        self._users = users  # live: users added later can log on
        self._bindings = (
            GssChannelBindings(application_data=tls_server_end_point(certificate.read_bytes()))
            if certificate is not None
            else None
        )
        self._connection = _Connection()
        self._lock = threading.Lock()
        self.negotiations = 0
        self.authentications = 0
        self.failures: list[str] = []

    @property
    def connection_user(self) -> str | None:
        """The principal the current connection authenticated as (IIS keeps it per connection)."""
        return self._connection.user

    def check(self, scheme: str, token_b64: str, challenge: str) -> Verdict:
        """One leg of the handshake: a Negotiate gets a Challenge, an Authenticate a verdict."""
        conn = self._connection
        try:
            token = base64.b64decode(token_b64, validate=True)
        except (binascii.Error, ValueError):
            return Verdict(challenge=challenge)
        if not token.startswith(_NTLM_SIGNATURE) or len(token) < 12:
            return Verdict(challenge=challenge)
        kind = int.from_bytes(token[8:12], "little")
        if kind == _NEGOTIATE:
            conn.user = None
            with self._lock:
                self.negotiations += 1
            try:
                with _spnego_environment(self._users):
                    conn.context = spnego.server(
                        protocol="ntlm", options=spnego.NegotiateOptions.use_ntlm
                    )
                    reply = conn.context.step(token)
            except SpnegoError as exc:  # a malformed Negotiate message
                conn.context = None
                with self._lock:
                    self.failures.append(f"{type(exc).__name__}: {exc}")
                return Verdict(challenge=challenge)
            return Verdict(challenge=f"{scheme} {base64.b64encode(reply or b'').decode()}")
        if kind != _AUTHENTICATE or conn.context is None:
            conn.context = None
            return Verdict(challenge=challenge)
        context, conn.context = conn.context, None
        with self._lock:
            self.authentications += 1
        try:
            with _spnego_environment(self._users):
                context.step(token, channel_bindings=self._bindings)
        except SpnegoError as exc:
            with self._lock:
                self.failures.append(f"{type(exc).__name__}: {exc}")
            return Verdict(challenge=challenge)
        user = _principal(self._users, str(context.client_principal or ""))
        conn.user = user
        return Verdict(user=user) if user else Verdict(challenge=challenge)


def _principal(users: Mapping[str, str], name: str) -> str | None:
    """The ``users`` key NTLM authenticated (domain and user names are case-insensitive)."""
    wanted = name.lower()
    return next((key for key in users if key.lower() == wanted), None)


def _user_file_lines(users: Mapping[str, str]) -> Iterator[str]:
    for key, password in users.items():
        domain, _, user = key.rpartition("\\")
        if ":" in key or ":" in password or "\n" in key + password:
            raise ValueError(f"NTLM fake: ':' or newline in user or password of {key!r}")
        yield f"{domain}:{user}:{password}"


@contextlib.contextmanager
def _spnego_environment(users: Mapping[str, str]) -> Iterator[None]:
    """``NTLM_USER_FILE`` with the current users and ``LM_COMPAT_LEVEL=5`` (NTLMv2 only)."""
    with _SPNEGO_ENV_LOCK, tempfile.TemporaryDirectory(prefix="ews-ntlm-") as folder:
        store = Path(folder) / "users"
        store.write_text("\n".join(_user_file_lines(users)) + "\n", encoding="utf-8")
        saved = {name: os.environ.get(name) for name in ("NTLM_USER_FILE", "LM_COMPAT_LEVEL")}
        os.environ["NTLM_USER_FILE"] = str(store)
        os.environ["LM_COMPAT_LEVEL"] = "5"
        try:
            yield
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


# ---------------------------------------------------------------------------------- OAuth
@dataclass(kw_only=True)
class _Token:
    app: str
    audience: str
    expires: datetime


@dataclass(frozen=True, kw_only=True, slots=True)
class TokenRequest:
    """One request the token endpoint saw (the secret is not kept)."""

    grant_type: str
    client_id: str
    scope: str
    client_auth: str  # "client_secret_post" | "client_secret_basic" | "none"


class TokenIssuer:
    """The Microsoft identity platform's v2.0 token endpoint for one tenant and one app."""

    def __init__(
        self,
        *,
        tenant_id: str,
        client_id: str,
        client_secret: str,
        resources: Callable[[], Iterable[str]],
        lifetime: timedelta,
        now: Callable[[], datetime],
    ) -> None:
        self.tenant_id = tenant_id
        self.client_id = client_id
        self.client_secret = client_secret
        self.lifetime = lifetime
        self._resources = resources
        self._now = now
        self._tokens: dict[str, _Token] = {}
        self._lock = threading.Lock()
        self._scripted_expires_in: list[int] = []
        self._issued = 0
        self.requests: list[TokenRequest] = []

    @property
    def issued(self) -> int:
        """Tokens issued so far."""
        with self._lock:
            return self._issued

    def revoke_all(self) -> None:
        """Every token issued so far is refused from now on (as after a revocation)."""
        with self._lock:
            self._tokens.clear()

    def next_expires_in(self, *seconds: int) -> None:
        """Issue the next tokens with these lifetimes (seconds, may be ≤ 0: already expired)."""
        with self._lock:
            self._scripted_expires_in.extend(seconds)

    # token endpoint ------------------------------------------------------------------------
    def token_response(self, tenant: str, headers: Mapping[str, str], body: bytes) -> Response:
        """``POST /{tenant}/oauth2/v2.0/token``."""
        form = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
        client_id, secret, client_auth = form.get("client_id", ""), form.get("client_secret"), ""
        if secret is not None:
            client_auth = "client_secret_post"
        basic = _basic_credentials(headers.get("Authorization") or "")
        if basic is not None:
            client_id, secret, client_auth = basic[0], basic[1], "client_secret_basic"
        grant = form.get("grant_type", "")
        with self._lock:
            self.requests.append(
                TokenRequest(
                    grant_type=grant,
                    client_id=client_id,
                    scope=form.get("scope", ""),
                    client_auth=client_auth or "none",
                )
            )
        if tenant != self.tenant_id:
            return _oauth_error(
                400, "invalid_request", 90002, f"Tenant '{tenant}' not found.", now=self._now()
            )
        if grant == "refresh_token" and not form.get("refresh_token"):
            return _oauth_error(
                400,
                "invalid_request",
                900144,
                "The request body must contain the following parameter: 'refresh_token'.",
                now=self._now(),
            )
        if grant != "client_credentials":
            return _oauth_error(
                400,
                "unsupported_grant_type",
                70003,
                "The app requested an unsupported grant type.",
                now=self._now(),
            )
        if client_id != self.client_id:
            return _oauth_error(
                400,
                "unauthorized_client",
                700016,
                f"Application with identifier '{client_id}' was not found in the directory.",
                now=self._now(),
            )
        if not secret or not secrets.compare_digest(secret, self.client_secret):
            return _oauth_error(
                401,
                "invalid_client",
                7000215,
                "Invalid client secret provided. Ensure the secret being sent in the request "
                "is the client secret value, not the client secret ID.",
                now=self._now(),
            )
        scopes = form.get("scope", "").split()
        if len(scopes) != 1 or not scopes[0].endswith("/.default"):
            return _oauth_error(
                400,
                "invalid_scope",
                1002012,
                "The provided value for scope is not valid. Client credential flows must have "
                "a scope value with /.default suffixed to the resource identifier.",
                now=self._now(),
            )
        audience = scopes[0][: -len("/.default")]
        if audience not in set(self._resources()):
            return _oauth_error(
                400,
                "invalid_resource",
                500011,
                f"The resource principal named {audience} was not found in the tenant.",
                now=self._now(),
            )
        with self._lock:
            lifetime = (
                self._scripted_expires_in.pop(0)
                if self._scripted_expires_in
                else int(self.lifetime.total_seconds())
            )
            token = "eyJ0eXAiOiJKV1QifQ.fake-ews." + secrets.token_urlsafe(24)
            self._issued += 1
            self._tokens[token] = _Token(
                app=self.client_id,
                audience=audience,
                expires=self._now() + timedelta(seconds=lifetime),
            )
        payload = {
            "token_type": "Bearer",
            "expires_in": lifetime,
            "ext_expires_in": lifetime,
            "access_token": token,
        }
        return Response(status=200, body=json.dumps(payload).encode(), headers=_NO_STORE)

    # resource server -----------------------------------------------------------------------
    def validate(self, token: str, *, audience: str) -> tuple[str | None, str]:
        """The app a bearer token stands for, or why it is refused (x-ms-diagnostics style)."""
        with self._lock:
            found = self._tokens.get(token)
        if found is None:
            return None, '2000001;reason="The token is not valid or was revoked."'
        if found.expires <= self._now():
            return None, '2000008;reason="The token has expired."'
        if found.audience != audience:
            return None, '2000003;reason="The audience claim value is invalid."'
        return f"app:{found.app}", ""


_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _basic_credentials(value: str) -> tuple[str, str] | None:
    if not value.startswith("Basic "):
        return None
    try:
        user, sep, password = base64.b64decode(value[6:], validate=True).decode().partition(":")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    return (unquote(user), unquote(password)) if sep else None


def _oauth_error(status: int, error: str, code: int, text: str, *, now: datetime) -> Response:
    """RFC 6749 §5.2 error response with the identity platform's AADSTS fields."""
    body = {
        "error": error,
        "error_description": f"AADSTS{code}: {text}",
        "error_codes": [code],
        "timestamp": now.strftime("%Y-%m-%d %H:%M:%SZ"),
        "trace_id": "00000000-0000-0000-0000-000000000000",
        "correlation_id": "00000000-0000-0000-0000-000000000000",
    }
    return Response(status=status, body=json.dumps(body).encode(), headers=_NO_STORE)


def bearer_challenge(*, error: str | None = None) -> str:
    """EWS's ``WWW-Authenticate: Bearer`` challenge (RFC 6750 §3)."""
    params = [
        f'client_id="{EXCHANGE_APP_ID}"',
        'trusted_issuers="00000001-0000-0000-c000-000000000000@*"',
        'token_types="app_asserted_user_v1 service_asserted_app_v1"',
        'authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize"',
    ]
    if error:
        params.append(f'error="{error}"')
    return "Bearer " + ", ".join(params)
