"""Answering a far end's digest challenge (RFC 3261 §22.2-22.3, RFC 7616, RFC 8760).

The gateway answers ``401``/``407`` challenges for calls routed by a rule with
``outbound_credentials`` (the product documentation's trusted-location token: the Pexip Service
challenges, the customer's gateway answers for its rooms). Pure: the client nonce is passed in.

- Among several challenges the topmost one with a supported algorithm is used (RFC 8760 §2.4);
  SHA-256, SHA-256-sess, MD5 and MD5-sess are supported.
- ``qop=auth`` is used when offered (with ``nc`` and ``cnonce``); a challenge that offers only
  ``auth-int`` or no known qop besides it cannot be answered. Without ``qop`` the RFC 2069
  response is computed (RFC 3261 §22.4 keeps it for backward compatibility).
- A credential with a ``realm`` answers only that realm; one without answers any.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from guestjoin.sip.digest import (
    ALGORITHMS,
    DigestCredentials,
    DigestError,
    expected_response,
    parse_auth_params,
)

#: response code → (challenge header, answer header)
HEADERS = {
    401: ("WWW-Authenticate", "Authorization"),
    407: ("Proxy-Authenticate", "Proxy-Authorization"),
}


@dataclass(frozen=True, kw_only=True, slots=True)
class Challenge:
    """One ``Digest`` challenge (RFC 7616 §3.3)."""

    realm: str
    nonce: str
    algorithm: str = "MD5"
    qop: tuple[str, ...] = ()
    opaque: str = ""
    stale: bool = False


@dataclass(frozen=True, kw_only=True, slots=True)
class Login:
    """What the gateway answers with: a ``sip_credentials`` entry with its password revealed."""

    username: str
    password: str
    realm: str = ""


def parse_challenge(value: str) -> Challenge:
    """Parse a WWW-Authenticate/Proxy-Authenticate value; DigestError when it is not Digest."""
    scheme, _, rest = value.strip().partition(" ")
    if scheme.lower() != "digest":
        raise DigestError(f"not a Digest challenge: {scheme[:20]!r}")
    params = parse_auth_params(rest)
    if "realm" not in params or "nonce" not in params:
        raise DigestError("a Digest challenge needs realm and nonce")
    qop = tuple(q.strip().lower() for q in params.get("qop", "").split(",") if q.strip())
    return Challenge(
        realm=params["realm"],
        nonce=params["nonce"],
        algorithm=params.get("algorithm", "MD5").upper(),
        qop=qop,
        opaque=params.get("opaque", ""),
        stale=params.get("stale", "").lower() == "true",
    )


def choose(values: Sequence[str], login: Login) -> Challenge | None:
    """The topmost challenge this login can answer (RFC 8760 §2.4), or None."""
    for value in values:
        try:
            challenge = parse_challenge(value)
        except DigestError:
            continue
        if challenge.algorithm not in ALGORITHMS:
            continue
        if challenge.qop and "auth" not in challenge.qop:
            continue  # auth-int only: the body would have to be hashed for every request
        if login.realm and login.realm != challenge.realm:
            continue
        return challenge
    return None


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def authorization(
    challenge: Challenge, login: Login, *, method: str, uri: str, cnonce: str, nc: int
) -> str:
    """The ``Authorization``/``Proxy-Authorization`` value answering ``challenge``."""
    qop = "auth" if challenge.qop else ""
    creds = DigestCredentials(
        username=login.username,
        realm=challenge.realm,
        nonce=challenge.nonce,
        uri=uri,
        response="",
        algorithm=challenge.algorithm,
        cnonce=cnonce if qop or challenge.algorithm.endswith("-SESS") else "",
        qop=qop,
        nc=f"{nc:08x}" if qop else "",
    )
    response = expected_response(creds, method=method, password=login.password)
    parts = [
        f"username={_quote(login.username)}",
        f"realm={_quote(challenge.realm)}",
        f"nonce={_quote(challenge.nonce)}",
        f"uri={_quote(uri)}",
        f"response={_quote(response)}",
        f"algorithm={challenge.algorithm}",
    ]
    if creds.cnonce:
        parts.append(f"cnonce={_quote(creds.cnonce)}")
    if qop:
        parts += [f"qop={qop}", f"nc={creds.nc}"]
    if challenge.opaque:
        parts.append(f"opaque={_quote(challenge.opaque)}")
    return "Digest " + ", ".join(parts)


@dataclass(slots=True)
class DialogAuth:
    """The challenge a dialog's far end last sent, so later requests are answered too.

    ``answer`` is called with a 401/407 response's challenge values; it returns the header to
    add to the retried request, or None when this login cannot answer (the challenge is then
    passed to the caller unchanged). Each answer to the same nonce counts ``nc`` up
    (RFC 7616 §3.4); a new nonce restarts it.
    """

    login: Login
    header: str = ""
    challenge: Challenge | None = None
    nc: int = 0

    def answer(
        self, code: int, values: Sequence[str], *, method: str, uri: str, cnonce: str
    ) -> tuple[str, str] | None:
        """``(header name, value)`` answering a 401/407, or None."""
        names = HEADERS.get(code)
        if names is None:
            return None
        challenge = choose(values, self.login)
        if challenge is None:
            return None
        if self.challenge is None or challenge.nonce != self.challenge.nonce:
            self.nc = 0
        self.challenge, self.header = challenge, names[1]
        return self.again(method=method, uri=uri, cnonce=cnonce)

    def again(self, *, method: str, uri: str, cnonce: str) -> tuple[str, str] | None:
        """Credentials for a later request of the dialog, as last challenged (or None)."""
        if self.challenge is None:
            return None
        self.nc += 1
        value = authorization(
            self.challenge, self.login, method=method, uri=uri, cnonce=cnonce, nc=self.nc
        )
        return self.header, value
