"""The gateway's identity certificate: request out, signed certificate in, status and alarms.

Pure functions over bytes and a ``now`` passed in (no store, no clock): ``new_request`` makes a
private key and a PKCS #10 certificate request (RFC 2986); ``accept_upload`` checks what the
administrator uploads (PEM or DER, with its chain; a PKCS #7 bundle too) against the stored keys;
``describe`` and ``expiry_alarm`` give the status and the alarm due at ``now``. The store keeps the
key (encrypted) and the chain (``otj.store.identity``); the gateway presents the chain as its
server certificate on inbound TLS and its client certificate on outbound TLS.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import NameOID

from otj.secret import Secret

KeyType = Literal["rsa-2048", "rsa-3072", "ec-p256"]
KEY_TYPES: tuple[KeyType, ...] = ("rsa-2048", "rsa-3072", "ec-p256")
EXPIRY_WARNING = dt.timedelta(days=30)
ALARM_EXPIRING = "gateway_certificate_expiring"
ALARM_EXPIRED = "gateway_certificate_expired"
ALARM_SUBJECT = "gateway"


class IdentityError(ValueError):
    """An uploaded file or a request that cannot become the gateway's identity (says why)."""


@dataclass(frozen=True, slots=True)
class TlsIdentity:
    """What TLS needs: the certificate chain (leaf first, PEM) and its private key (PEM)."""

    chain_pem: bytes
    key: Secret


@dataclass(frozen=True, slots=True)
class CertificateRequest:
    """A new private key (PEM, PKCS #8, to be stored encrypted) and its request (PEM)."""

    key: Secret
    request_pem: bytes


@dataclass(frozen=True, slots=True)
class Accepted:
    """An upload that passed: the chain in order (leaf first) and which stored key it matches."""

    chain_pem: bytes
    key: Secret
    slot: Literal["pending", "active"]


@dataclass(frozen=True, slots=True)
class IdentityStatus:
    """``otj gateway identity status``: the installed certificate's fields and days left."""

    subject: str
    issuer: str
    serial: str
    not_before: dt.datetime
    not_after: dt.datetime
    days_left: int
    names: tuple[str, ...]
    chain_length: int


_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_DNS_NAME = re.compile(rf"(\*\.)?({_LABEL}\.)*{_LABEL}")  # RFC 1123 host names, one wildcard


def _general_names(names: Sequence[str]) -> list[x509.GeneralName]:
    out: list[x509.GeneralName] = []
    for name in names:
        try:
            out.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            if len(name) > 253 or not _DNS_NAME.fullmatch(name):
                raise IdentityError(
                    f"{name!r} is neither a DNS name (ASCII letters, digits, hyphens and dots; "
                    "IDNs in their xn-- form) nor an IP address"
                ) from None
            out.append(x509.DNSName(name))
    return out


def new_request(
    common_name: str, names: Sequence[str] = (), *, key_type: KeyType = "rsa-2048"
) -> CertificateRequest:
    """A fresh key and a request for ``common_name`` with the subject alternative names
    ``names`` (DNS names or IP addresses; the common name is always one of them, RFC 5922 §7.1
    matches SIP domains against the SANs)."""
    common_name = common_name.strip()
    if not common_name:
        raise IdentityError("the certificate request needs a common name (--common-name)")
    sans = list(dict.fromkeys([common_name, *(n.strip() for n in names if n.strip())]))
    general_names = _general_names(sans)
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
    if key_type == "ec-p256":
        key = ec.generate_private_key(ec.SECP256R1())
    elif key_type in ("rsa-2048", "rsa-3072"):
        key = rsa.generate_private_key(public_exponent=65537, key_size=int(key_type[4:]))
    else:
        raise IdentityError(f"unknown key type {key_type!r}: use one of {', '.join(KEY_TYPES)}")
    try:
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
        request = (
            x509.CertificateSigningRequestBuilder()
            .subject_name(subject)
            .add_extension(x509.SubjectAlternativeName(general_names), critical=False)
            .sign(key, hashes.SHA256())
        )
    except ValueError as exc:
        raise IdentityError(f"cannot make a request for {common_name!r}: {exc}") from exc
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return CertificateRequest(
        key=Secret(key_pem.decode()), request_pem=request.public_bytes(serialization.Encoding.PEM)
    )


def _is_request(data: bytes) -> bool:
    if b"CERTIFICATE REQUEST-----" in data:
        return True
    if data.lstrip().startswith(b"-----"):
        return False
    try:
        x509.load_der_x509_csr(data)
    except ValueError:
        return False
    return True


def load_certificates(data: bytes) -> list[x509.Certificate]:
    """Every certificate in ``data``: PEM (any number), DER (one) or PKCS #7 (PEM or DER)."""
    if _is_request(data):
        raise IdentityError(
            "this is the certificate request, not the signed certificate: send the request to "
            "the certificate authority and upload the certificate it returns"
        )
    loaders = (
        x509.load_pem_x509_certificates,
        lambda d: [x509.load_der_x509_certificate(d)],
        pkcs7.load_pem_pkcs7_certificates,
        pkcs7.load_der_pkcs7_certificates,
    )
    for loader in loaders:
        try:
            certs = list(loader(data))
        except ValueError:
            continue
        if certs:
            return certs
    raise IdentityError(
        "no certificate found: expected a PEM or DER X.509 certificate (with its chain), "
        "or a PKCS #7 bundle"
    )


def _public_der(key: object) -> bytes:
    assert isinstance(key, (rsa.RSAPublicKey, ec.EllipticCurvePublicKey))
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _key_public_der(key: Secret) -> bytes:
    private = serialization.load_pem_private_key(key.reveal().encode(), password=None)
    return _public_der(private.public_key())


def _ordered(leaf: x509.Certificate, certs: Sequence[x509.Certificate]) -> list[x509.Certificate]:
    """Leaf first, then each issuer in turn (certificates not on the path are dropped)."""
    chain = [leaf]
    rest = [c for c in certs if c is not leaf]
    while rest:
        issuer = next((c for c in rest if c.subject == chain[-1].issuer), None)
        if issuer is None or chain[-1].subject == chain[-1].issuer:
            break
        chain.append(issuer)
        rest.remove(issuer)
    return chain


def accept_upload(
    data: bytes, *, pending: Secret | None, active: Secret | None, now: dt.datetime
) -> Accepted:
    """Check an uploaded certificate against the stored keys (the pending request's first, then
    the installed one, so a renewed certificate for the same key is accepted too)."""
    certs = load_certificates(data)
    keys = [(slot, k) for slot, k in (("pending", pending), ("active", active)) if k is not None]
    if not keys:
        raise IdentityError(
            "there is no certificate request: run `otj gateway identity request` first"
        )
    for slot, key in keys:
        public = _key_public_der(key)
        leaf = next((c for c in certs if _public_der(c.public_key()) == public), None)
        if leaf is None:
            continue
        if leaf.not_valid_after_utc <= now:
            raise IdentityError(
                f"the certificate for {leaf.subject.rfc4514_string()} expired on "
                f"{leaf.not_valid_after_utc:%Y-%m-%d %H:%M} UTC: ask for a new one"
            )
        chain = _ordered(leaf, certs)
        pem = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in chain)
        return Accepted(chain_pem=pem, key=key, slot="pending" if slot == "pending" else "active")
    subjects = ", ".join(c.subject.rfc4514_string() for c in certs)
    raise IdentityError(
        f"the certificate ({subjects}) does not match the gateway's private key: it was not "
        "issued for this gateway's certificate request"
    )


def describe(chain_pem: bytes, *, now: dt.datetime) -> IdentityStatus:
    """The status of an installed chain (its first certificate is the gateway's)."""
    certs = x509.load_pem_x509_certificates(chain_pem)
    leaf = certs[0]
    try:
        san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = tuple(str(v) for v in san.get_values_for_type(x509.DNSName)) + tuple(
            str(v) for v in san.get_values_for_type(x509.IPAddress)
        )
    except x509.ExtensionNotFound:
        names = ()
    left = leaf.not_valid_after_utc - now
    return IdentityStatus(
        subject=leaf.subject.rfc4514_string(),
        issuer=leaf.issuer.rfc4514_string(),
        serial=f"{leaf.serial_number:X}",
        not_before=leaf.not_valid_before_utc,
        not_after=leaf.not_valid_after_utc,
        days_left=left.days if left.total_seconds() > 0 else -((-left).days + 1),
        names=names,
        chain_length=len(certs),
    )


@dataclass(frozen=True, slots=True)
class ExpiryAlarm:
    """The alarm due now: its kind and message (``None`` from ``expiry_alarm`` when none is)."""

    kind: str
    message: str
    severity: Literal["warning", "error"]


def expiry_alarm(status: IdentityStatus | None, *, now: dt.datetime) -> ExpiryAlarm | None:
    """``gateway_certificate_expired`` after ``not_after``, ``gateway_certificate_expiring``
    from 30 days before it, else nothing (also nothing without an installed certificate)."""
    if status is None:
        return None
    if now >= status.not_after:
        return ExpiryAlarm(
            ALARM_EXPIRED,
            f"the gateway certificate {status.subject} expired on {status.not_after:%Y-%m-%d} "
            "UTC: TLS peers refuse it; request a new one (otj gateway identity request)",
            "error",
        )
    if status.not_after - now <= EXPIRY_WARNING:
        return ExpiryAlarm(
            ALARM_EXPIRING,
            f"the gateway certificate {status.subject} expires on {status.not_after:%Y-%m-%d} "
            f"UTC ({status.days_left} days left): request and upload a new one "
            "(otj gateway identity request / upload)",
            "warning",
        )
    return None
