"""The identity certificate's pure core: request, upload checks, status and expiry alarms."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import NameOID

from guestjoin.identity import (
    ALARM_EXPIRED,
    ALARM_EXPIRING,
    IdentityError,
    accept_upload,
    describe,
    expiry_alarm,
    new_request,
)
from tests.integration.gateway.pki import ScratchCA

NOW = dt.datetime(2026, 12, 7, 6, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def ca() -> ScratchCA:
    return ScratchCA()


@pytest.mark.parametrize("key_type", ["rsa-2048", "ec-p256"])
def test_the_request_names_the_gateway_and_keeps_its_key_to_itself(key_type: str) -> None:
    made = new_request("gw.example.com", ["sip.example.com", "192.0.2.7"], key_type=key_type)  # type: ignore[arg-type]
    assert made.request_pem.startswith(b"-----BEGIN CERTIFICATE REQUEST-----")
    assert b"PRIVATE KEY" not in made.request_pem
    request = x509.load_pem_x509_csr(made.request_pem)
    assert request.is_signature_valid
    cn = request.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    assert cn == "gw.example.com"
    san = request.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["gw.example.com", "sip.example.com"]
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["192.0.2.7"]
    assert "PRIVATE KEY" in made.key.reveal()
    assert "PRIVATE KEY" not in repr(made)


def test_a_request_without_a_common_name_is_refused() -> None:
    with pytest.raises(IdentityError, match="common name"):
        new_request("  ")


def test_the_signed_certificate_is_accepted_with_its_chain_leaf_first(ca: ScratchCA) -> None:
    made = new_request("gw.example.com", key_type="ec-p256")
    cert = ca.sign(made.request_pem)
    # the CA first, then the leaf: the accepted chain is put in order
    accepted = accept_upload(ca.pem + cert, pending=made.key, active=None, now=NOW)
    assert accepted.slot == "pending"
    assert accepted.key == made.key
    chain = x509.load_pem_x509_certificates(accepted.chain_pem)
    assert [c.subject.rfc4514_string() for c in chain] == ["CN=gw.example.com", "CN=otj test CA"]


def test_der_and_pkcs7_uploads_are_accepted(ca: ScratchCA) -> None:
    made = new_request("gw.example.com", key_type="ec-p256")
    der = ca.sign(made.request_pem, encoding=serialization.Encoding.DER)
    assert accept_upload(der, pending=made.key, active=None, now=NOW).slot == "pending"
    leaf = x509.load_der_x509_certificate(der)
    bundle = pkcs7.serialize_certificates([leaf, ca.cert], serialization.Encoding.DER)
    accepted = accept_upload(bundle, pending=made.key, active=None, now=NOW)
    assert len(x509.load_pem_x509_certificates(accepted.chain_pem)) == 2


def test_a_renewed_certificate_for_the_installed_key_is_accepted(ca: ScratchCA) -> None:
    installed = new_request("gw.example.com", key_type="ec-p256")
    newer = new_request("gw.example.com", key_type="ec-p256")
    renewed = ca.sign(installed.request_pem, days=30)
    accepted = accept_upload(renewed, pending=newer.key, active=installed.key, now=NOW)
    assert accepted.slot == "active"
    assert accepted.key == installed.key


@pytest.mark.parametrize("encoding", [serialization.Encoding.PEM, serialization.Encoding.DER])
def test_uploading_the_request_says_so(encoding: serialization.Encoding) -> None:
    made = new_request("gw.example.com", key_type="ec-p256")
    data = x509.load_pem_x509_csr(made.request_pem).public_bytes(encoding)
    with pytest.raises(IdentityError, match="this is the certificate request, not the signed"):
        accept_upload(data, pending=made.key, active=None, now=NOW)


def test_a_certificate_for_another_key_is_refused(ca: ScratchCA) -> None:
    ours = new_request("gw.example.com", key_type="ec-p256")
    theirs = new_request("other.example.com", key_type="ec-p256")
    with pytest.raises(IdentityError, match=r"CN=other.example.com.*does not match"):
        accept_upload(ca.sign(theirs.request_pem), pending=ours.key, active=None, now=NOW)


def test_an_expired_certificate_is_refused(ca: ScratchCA) -> None:
    made = new_request("gw.example.com", key_type="ec-p256")
    old = ca.sign(made.request_pem, not_before=NOW - dt.timedelta(days=10), days=5)
    with pytest.raises(IdentityError, match="expired on 2026-12-02"):
        accept_upload(old, pending=made.key, active=None, now=NOW)


def test_no_request_and_no_certificate_are_refused(ca: ScratchCA) -> None:
    made = new_request("gw.example.com", key_type="ec-p256")
    with pytest.raises(IdentityError, match="identity request` first"):
        accept_upload(ca.sign(made.request_pem), pending=None, active=None, now=NOW)
    with pytest.raises(IdentityError, match="no certificate found"):
        accept_upload(b"hello", pending=made.key, active=None, now=NOW)


def test_status_and_alarms_follow_the_expiry(ca: ScratchCA) -> None:
    made = new_request("gw.example.com", ["sip.example.com"], key_type="ec-p256")
    cert = ca.sign(made.request_pem, not_before=NOW - dt.timedelta(days=1), days=91)
    chain = accept_upload(cert, pending=made.key, active=None, now=NOW).chain_pem
    status = describe(chain, now=NOW)
    assert status.subject == "CN=gw.example.com"
    assert status.issuer == "CN=otj test CA"
    assert status.serial == f"{x509.load_pem_x509_certificate(cert).serial_number:X}"
    assert status.not_after == NOW + dt.timedelta(days=90)
    assert status.days_left == 90
    assert status.names == ("gw.example.com", "sip.example.com")
    assert expiry_alarm(status, now=NOW) is None
    expiry = status.not_after
    assert expiry_alarm(status, now=expiry - dt.timedelta(days=30, seconds=1)) is None
    soon = expiry - dt.timedelta(days=30)
    alarm = expiry_alarm(describe(chain, now=soon), now=soon)
    assert alarm is not None
    assert alarm.kind == ALARM_EXPIRING
    assert "30 days left" in alarm.message
    alarm = expiry_alarm(describe(chain, now=expiry), now=expiry)
    assert alarm is not None
    assert alarm.kind == ALARM_EXPIRED
    assert describe(chain, now=expiry + dt.timedelta(hours=1)).days_left == -1
    assert expiry_alarm(None, now=NOW) is None


@pytest.mark.parametrize(
    "name", ["gw example.com", "gw.example.com/x", "-gw.example.com", "a" * 64]
)
def test_names_that_are_neither_dns_names_nor_addresses_are_refused(name: str) -> None:
    with pytest.raises(IdentityError, match=r"neither a DNS name|cannot make a request"):
        new_request("gw.example.com" if len(name) < 64 else name, [name], key_type="ec-p256")
