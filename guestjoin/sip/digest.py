"""HTTP digest authentication for SIP (RFC 3261 §22.4, RFC 7616, RFC 8760 SHA-256, RFC 2617 MD5).

Nonces are stateless: ``<issued>.<hmac>`` signed with a per-process key, so any gateway
process holding the key can check them; replay across the nonce lifetime is checked by the
registrar with the nonce count.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

ALGORITHMS: dict[str, str] = {
    "SHA-256": "sha256",
    "SHA-256-SESS": "sha256",
    "MD5": "md5",
    "MD5-SESS": "md5",
}


class DigestError(ValueError):
    """An Authorization header that cannot be read."""


@dataclass(frozen=True, kw_only=True, slots=True)
class DigestCredentials:
    """The parameters of an ``Authorization: Digest …`` header (RFC 7616 §3.4)."""

    username: str
    realm: str
    nonce: str
    uri: str
    response: str
    algorithm: str = "MD5"
    cnonce: str = ""
    qop: str = ""
    nc: str = ""
    opaque: str = ""


def parse_auth_params(text: str) -> dict[str, str]:
    """Parse ``a="x", b=y`` auth-params (RFC 7235 §2.1), names lower-cased."""
    out: dict[str, str] = {}
    i, n = 0, len(text)
    while i < n:
        while i < n and text[i] in " \t,":
            i += 1
        if i >= n:
            break
        eq = text.find("=", i)
        if eq < 0:
            raise DigestError("auth-param without '='")
        name = text[i:eq].strip().lower()
        i = eq + 1
        while i < n and text[i] in " \t":
            i += 1
        if i < n and text[i] == '"':
            i += 1
            chars: list[str] = []
            while i < n and text[i] != '"':
                if text[i] == "\\" and i + 1 < n:
                    i += 1
                chars.append(text[i])
                i += 1
            if i >= n:
                raise DigestError("unterminated quoted auth-param")
            i += 1
            value = "".join(chars)
        else:
            end = text.find(",", i)
            end = n if end < 0 else end
            value = text[i:end].strip()
            i = end
        if not name:
            raise DigestError("empty auth-param name")
        out[name] = value
    return out


def parse_authorization(value: str) -> DigestCredentials:
    """Parse an Authorization/Proxy-Authorization header value (RFC 7616 §3.4)."""
    scheme, _, rest = value.strip().partition(" ")
    if scheme.lower() != "digest":
        raise DigestError("not a Digest credential")
    params = parse_auth_params(rest)
    try:
        return DigestCredentials(
            username=params["username"],
            realm=params["realm"],
            nonce=params["nonce"],
            uri=params["uri"],
            response=params["response"].lower(),
            algorithm=params.get("algorithm", "MD5").upper(),
            cnonce=params.get("cnonce", ""),
            qop=params.get("qop", "").lower(),
            nc=params.get("nc", ""),
            opaque=params.get("opaque", ""),
        )
    except KeyError as exc:
        raise DigestError(f"missing digest parameter {exc.args[0]}") from exc


def _h(algorithm: str, text: str) -> str:
    return hashlib.new(ALGORITHMS[algorithm], text.encode("utf-8")).hexdigest()


def expected_response(creds: DigestCredentials, *, method: str, password: str) -> str:
    """The ``response`` value a client holding ``password`` computes (RFC 7616 §3.4.1)."""
    alg = creds.algorithm
    if alg not in ALGORITHMS:
        raise DigestError(f"unsupported algorithm {alg}")
    ha1 = _h(alg, f"{creds.username}:{creds.realm}:{password}")
    if alg.endswith("-SESS"):
        ha1 = _h(alg, f"{ha1}:{creds.nonce}:{creds.cnonce}")
    ha2 = _h(alg, f"{method}:{creds.uri}")
    if creds.qop in ("auth", "auth-int"):
        return _h(alg, f"{ha1}:{creds.nonce}:{creds.nc}:{creds.cnonce}:{creds.qop}:{ha2}")
    return _h(alg, f"{ha1}:{creds.nonce}:{ha2}")


def check_response(creds: DigestCredentials, *, method: str, password: str) -> bool:
    """Whether the client's response proves knowledge of ``password`` (constant-time)."""
    try:
        expected = expected_response(creds, method=method, password=password)
    except DigestError:
        return False
    return hmac.compare_digest(expected, creds.response)


def make_nonce(key: bytes, now: float) -> str:
    """A stateless nonce ``<issued>.<mac>``."""
    issued = str(int(now))
    mac = hmac.new(key, issued.encode(), hashlib.sha256).hexdigest()[:32]
    return f"{issued}.{mac}"


def nonce_age(key: bytes, nonce: str, now: float) -> float | None:
    """Seconds since the nonce was issued, or None when it was not issued with ``key``."""
    issued, dot, mac = nonce.partition(".")
    if not dot or not issued.isdigit():
        return None
    good = hmac.new(key, issued.encode(), hashlib.sha256).hexdigest()[:32]
    if not hmac.compare_digest(good, mac):
        return None
    return now - int(issued)


def challenges(
    realm: str,
    nonce: str,
    *,
    stale: bool = False,
    algorithms: tuple[str, ...] = ("SHA-256", "MD5"),
) -> list[str]:
    """``WWW-Authenticate`` values, most preferred algorithm first (RFC 8760 §2.4)."""
    stale_text = ", stale=true" if stale else ""
    return [
        f'Digest realm="{realm}", nonce="{nonce}", algorithm={alg}, qop="auth"{stale_text}'
        for alg in algorithms
    ]
