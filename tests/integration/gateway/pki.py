"""A throw-away certificate authority for the TLS legs of the peer tests."""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )


@dataclass
class Issued:
    """A leaf certificate and its key (PEM)."""

    cert: bytes
    key: bytes

    def write(self, directory: Path, name: str) -> Path:
        """Write ``name.pem`` holding the certificate followed by the key (baresip's format)."""
        path = directory / f"{name}.pem"
        path.write_bytes(self.cert + self.key)
        return path


class ScratchCA:
    """A CA that issues server certificates for DNS names and IP addresses."""

    def __init__(self) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "otj test CA")])
        now = dt.datetime.now(dt.UTC)
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(self.name)
            .issuer_name(self.name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    key_cert_sign=True,
                    crl_sign=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .sign(self.key, hashes.SHA256())
        )

    @property
    def pem(self) -> bytes:
        """The CA certificate."""
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def write(self, directory: Path) -> Path:
        """Write ``ca.pem``."""
        path = directory / "ca.pem"
        path.write_bytes(self.pem)
        return path

    def issue(self, *names: str) -> Issued:
        """A server (and client) certificate for ``names``."""
        key = ec.generate_private_key(ec.SECP256R1())
        sans: list[x509.GeneralName] = []
        for name in names:
            try:
                sans.append(x509.IPAddress(ipaddress.ip_address(name)))
            except ValueError:
                sans.append(x509.DNSName(name))
        now = dt.datetime.now(dt.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
            .issuer_name(self.name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.ExtendedKeyUsage(
                    [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
                ),
                critical=False,
            )
            .sign(self.key, hashes.SHA256())
        )
        return Issued(cert=cert.public_bytes(serialization.Encoding.PEM), key=_pem_key(key))

    def sign(
        self,
        request_pem: bytes,
        *,
        not_before: dt.datetime | None = None,
        days: float = 1,
        encoding: serialization.Encoding = serialization.Encoding.PEM,
    ) -> bytes:
        """Sign a certificate request as a CA does: the request's subject, names and key,
        for client and server use, valid ``days`` from ``not_before`` (default: an hour ago)."""
        request = x509.load_pem_x509_csr(request_pem)
        assert request.is_signature_valid
        start = not_before or dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
        builder = (
            x509.CertificateBuilder()
            .subject_name(request.subject)
            .issuer_name(self.name)
            .public_key(request.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(start + dt.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.ExtendedKeyUsage(
                    [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
                ),
                critical=False,
            )
        )
        for extension in request.extensions:
            builder = builder.add_extension(extension.value, critical=extension.critical)
        return builder.sign(self.key, hashes.SHA256()).public_bytes(encoding)
