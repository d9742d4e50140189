"""``otj gateway identity request|upload|status`` as an administrator runs them, and the
certificate's alarm in ``otj status alarms``."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from .pki import ScratchCA

pytestmark = [pytest.mark.slow]


def otj(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "otj", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "OTJ_DATABASE_URL": f"sqlite:///{tmp_path / 'otj.db'}",
        "OTJ_DATA_DIR": str(tmp_path / "var"),
    }


def test_request_upload_and_status(tmp_path: Path, env: dict[str, str]) -> None:
    ca = ScratchCA()
    status = otj("gateway", "identity", "status", env=env)
    assert status.returncode == 0, status.stderr
    assert "no identity certificate installed" in status.stdout
    upload = otj("gateway", "identity", "upload", str(ca.write(tmp_path)), env=env)
    assert upload.returncode == 1
    assert "run `otj gateway identity request` first" in upload.stderr

    csr = tmp_path / "gateway.csr"
    made = otj(
        "gateway", "identity", "request", "--common-name", "gw.example.com",
        "--san", "sip.example.com", "--out", str(csr), env=env,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert "the private key stays in the store" in made.stderr
    assert b"PRIVATE KEY" not in csr.read_bytes()
    request = x509.load_pem_x509_csr(csr.read_bytes())
    assert request.subject.rfc4514_string() == "CN=gw.example.com"
    # the key is nowhere in the data directory's files, only sealed in the database
    for path in (tmp_path / "var").rglob("*"):
        assert b"PRIVATE KEY" not in path.read_bytes()

    # the request itself, in PEM and in DER
    for name, data in (
        ("req.pem", csr.read_bytes()),
        ("req.der", request.public_bytes(serialization.Encoding.DER)),
    ):
        (tmp_path / name).write_bytes(data)
        refused = otj("gateway", "identity", "upload", str(tmp_path / name), env=env)
        assert refused.returncode == 1
        assert "this is the certificate request, not the signed certificate" in refused.stderr

    # a certificate for another key
    stranger = ca.issue("gw.example.com")
    (tmp_path / "other.pem").write_bytes(stranger.cert)
    refused = otj("gateway", "identity", "upload", str(tmp_path / "other.pem"), env=env)
    assert refused.returncode == 1
    assert "does not match the gateway's private key" in refused.stderr

    # an expired one
    now = dt.datetime.now(dt.UTC)
    (tmp_path / "old.pem").write_bytes(
        ca.sign(csr.read_bytes(), not_before=now - dt.timedelta(days=40), days=30)
    )
    refused = otj("gateway", "identity", "upload", str(tmp_path / "old.pem"), env=env)
    assert refused.returncode == 1
    assert "expired on" in refused.stderr

    # the signed certificate, DER with the chain as PEM would need two files: DER leaf alone
    signed = ca.sign(csr.read_bytes(), days=20, encoding=serialization.Encoding.DER)
    (tmp_path / "gw.der").write_bytes(signed)
    installed = otj("gateway", "identity", "upload", str(tmp_path / "gw.der"), env=env)
    assert installed.returncode == 0, installed.stderr
    assert "installed CN=gw.example.com" in installed.stdout

    shown = otj("gateway", "identity", "status", "--json", env=env)
    assert shown.returncode == 0, shown.stderr
    out = json.loads(shown.stdout)
    cert = x509.load_der_x509_certificate(signed)
    assert out["certificate"]["subject"] == "CN=gw.example.com"
    assert out["certificate"]["issuer"] == "CN=otj test CA"
    assert out["certificate"]["serial"] == f"{cert.serial_number:X}"
    assert out["certificate"]["not_after"] == cert.not_valid_after_utc.isoformat()
    assert out["certificate"]["days_left"] == 19
    assert out["certificate"]["names"] == ["gw.example.com", "sip.example.com"]
    assert out["pending_request"] is None
    # 20 days of validity: inside the 30-day warning
    assert out["alarm"] == "gateway_certificate_expiring"
    text = otj("gateway", "identity", "status", env=env).stdout
    assert "days left:  19" in text
    assert "alarm gateway_certificate_expiring" in text
    alarms = otj("status", "alarms", "--json", env=env)
    assert alarms.returncode == 0, alarms.stderr
    assert [a["kind"] for a in json.loads(alarms.stdout)] == ["gateway_certificate_expiring"]
