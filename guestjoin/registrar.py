"""Registrar for room endpoints (RFC 3261 §10.3) with digest authentication (RFC 8760, 7616).

Credentials are the endpoints' ``sip_username``/``sip_password``. An endpoint may only register
its own address-of-record. A binding remembers where the REGISTER came from, so that a later
INVITE counts as "registered" only when it comes from that same address (a From header alone
proves nothing). Failed authentications lock the source (and a much-guessed user) out for a
while (``lockout.LockoutPolicy``): guessing a password is slow.
"""

from __future__ import annotations

import logging
import math
import secrets
from dataclasses import dataclass
from email.utils import formatdate

from guestjoin.clock import Clock
from guestjoin.config import GatewayConfig
from guestjoin.lockout import AuthLockout, LockoutPolicy
from guestjoin.sip.digest import (
    DigestCredentials,
    DigestError,
    challenges,
    check_response,
    make_nonce,
    nonce_age,
    parse_authorization,
)
from guestjoin.sip.message import Request, Response, make_response
from guestjoin.sip.uri import UriError, param, parse_name_addr, parse_uri
from guestjoin.values import Received

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True, slots=True)
class Binding:
    """One registered contact of an endpoint."""

    username: str
    contact: str
    expires_at: float
    transport: str
    source: tuple[str, int]
    call_id: str
    cseq: int


class Registrar:
    """Bindings in memory, per gateway process."""

    def __init__(
        self,
        clock: Clock,
        *,
        realm: str = "otj",
        key: bytes | None = None,
        min_expires: int = 60,
        max_expires: int = 3600,
        nonce_lifetime: float = 300.0,
        algorithms: tuple[str, ...] = ("SHA-256", "MD5"),
        lockout: LockoutPolicy | None = None,
    ) -> None:
        self.clock = clock
        self.realm = realm
        self.key = key or secrets.token_bytes(32)
        self.min_expires = min_expires
        self.max_expires = max_expires
        self.nonce_lifetime = nonce_lifetime
        self.algorithms = algorithms
        self._bindings: dict[str, dict[str, Binding]] = {}
        self._nonce_counts: dict[str, tuple[int, float]] = {}
        self.lockout = AuthLockout(lockout)

    # --- queries ---------------------------------------------------------------------------
    def bindings(self, username: str) -> list[Binding]:
        """Unexpired bindings of an endpoint."""
        now = self.clock.now()
        current = self._bindings.get(username, {})
        for contact in [c for c, b in current.items() if b.expires_at <= now]:
            del current[contact]
        return list(current.values())

    def binding_for(self, username: str, source_ip: str) -> Binding | None:
        """The binding that makes a call from ``username`` at ``source_ip`` a registered one."""
        return next((b for b in self.bindings(username) if b.source[0] == source_ip), None)

    # --- REGISTER --------------------------------------------------------------------------
    def handle(self, request: Request, received: Received, config: GatewayConfig) -> Response:
        """Authenticate and process one REGISTER; return the response to send."""
        now = self.clock.now()
        creds = self._credentials(request)
        source = received.remote[0]
        wait = self.lockout.locked(source, creds.username if creds else "", now)
        if wait:  # refused before any digest is computed
            return make_response(
                request,
                503,
                "Too Many Failed Authentications",
                to_tag=_tag(),
                headers=(("Retry-After", str(math.ceil(wait))),),
            )
        if creds is None:
            return self._challenge(request, stale=False)
        age = nonce_age(self.key, creds.nonce, self.clock.wall())
        if age is None or age < -5:
            return self._challenge(request, stale=False)
        if age > self.nonce_lifetime:
            return self._challenge(request, stale=True)
        endpoint = config.endpoint_by_username(creds.username)
        password = endpoint.sip_password.reveal() if endpoint and endpoint.sip_password else ""
        if not password or not check_response(creds, method="REGISTER", password=password):
            locked = self.lockout.failed(source, creds.username, now)
            log.warning(
                "%s: REGISTER for %r from %s:%d failed authentication%s",
                request.call_id,
                creds.username,
                *received.remote,
                f"; locked out: {locked}" if locked else "",
            )
            return make_response(request, 403, "Authentication Failed", to_tag=_tag())
        self.lockout.succeeded(source, creds.username, now)
        if creds.qop and not self._fresh_count(creds, now):
            return self._challenge(request, stale=True)
        try:
            aor_user = parse_uri(request.to.uri).user
        except UriError:
            aor_user = None
        if aor_user != creds.username:
            return make_response(request, 403, "Not Your Address-of-Record", to_tag=_tag())
        return self._update(request, received, creds.username, now)

    def _credentials(self, request: Request) -> DigestCredentials | None:
        for value in request.get_all("Authorization"):
            try:
                creds = parse_authorization(value)
            except DigestError:
                continue
            if creds.realm == self.realm:
                return creds
        return None

    def _fresh_count(self, creds: DigestCredentials, now: float) -> bool:
        """Refuse a replayed nonce count (RFC 7616 §3.4: nc must increase)."""
        try:
            count = int(creds.nc, 16)
        except ValueError:
            return False
        last = self._nonce_counts.get(creds.nonce)
        if last is not None and count <= last[0]:
            return False
        self._nonce_counts[creds.nonce] = (count, now + self.nonce_lifetime)
        if len(self._nonce_counts) > 10000:
            self._nonce_counts = {k: v for k, v in self._nonce_counts.items() if v[1] > now}
        return True

    def _challenge(self, request: Request, *, stale: bool) -> Response:
        nonce = make_nonce(self.key, self.clock.wall())
        values = challenges(self.realm, nonce, stale=stale, algorithms=self.algorithms)
        headers = tuple(("WWW-Authenticate", c) for c in values)
        return make_response(request, 401, to_tag=_tag(), headers=headers)

    def _update(self, request: Request, received: Received, username: str, now: float) -> Response:
        default = request.get("Expires")
        default_expires = (
            int(default) if default is not None and default.strip().isdigit() else 3600
        )
        contacts = request.values("Contact")
        current = self._bindings.setdefault(username, {})
        if contacts == ["*"]:
            if default_expires != 0:
                return make_response(
                    request, 400, "Wildcard Contact Needs Expires 0", to_tag=_tag()
                )
            current.clear()
            return self._ok(request, username)
        parsed: list[tuple[str, int]] = []
        for value in contacts:
            try:
                addr = parse_name_addr(value)
                parse_uri(addr.uri)
            except UriError:
                return make_response(request, 400, "Bad Contact", to_tag=_tag())
            raw = param(addr.params, "expires")
            expires = int(raw) if raw is not None and raw.isdigit() else default_expires
            if 0 < expires < self.min_expires:
                return make_response(
                    request, 423, to_tag=_tag(), headers=(("Min-Expires", str(self.min_expires)),)
                )
            parsed.append((addr.uri, min(expires, self.max_expires)))
        cseq = request.cseq.number
        for uri, expires in parsed:
            old = current.get(uri)
            if old is not None and old.call_id == request.call_id and old.cseq >= cseq:
                continue  # out-of-order REGISTER (§10.3 step 7)
            if expires == 0:
                current.pop(uri, None)
                continue
            current[uri] = Binding(
                username=username,
                contact=uri,
                expires_at=now + expires,
                transport=received.transport,
                source=received.remote,
                call_id=request.call_id,
                cseq=cseq,
            )
        log.info(
            "%s: %s registered %d contact(s) from %s:%d",
            request.call_id,
            username,
            len(current),
            *received.remote,
        )
        return self._ok(request, username)

    def _ok(self, request: Request, username: str) -> Response:
        now = self.clock.now()
        headers = [
            ("Contact", f"<{b.contact}>;expires={max(0, round(b.expires_at - now))}")
            for b in self.bindings(username)
        ]
        headers.append(("Date", formatdate(self.clock.wall(), usegmt=True)))
        return make_response(request, 200, to_tag=_tag(), headers=tuple(headers))


def _tag() -> str:
    return secrets.token_hex(6)
