"""No log level writes a secret: ``otj --log-level DEBUG`` reading EWS with Basic credentials.

exchangelib dumps every request's headers at DEBUG (``Authorization: Basic <base64 of
user:password>``); the redaction on otj's log handlers must remove them, and the password,
from everything written.
"""

from __future__ import annotations

import base64
import logging
import os
import subprocess
import sys
from pathlib import Path

import yaml

from otj.logs import RedactSecrets, redact
from tests.fakes.ews import EwsFake
from tests.integration.calendars.peers import ROOM, EwsPeer, scenario

USER = "EXAMPLE\\svc-otj"
PASSWORD = "ews-password"  # the fake account's


def test_exchangelib_debug_dumps_are_written_without_credentials(tmp_path: Path) -> None:
    with EwsFake(auth=("basic",), users={USER: PASSWORD}) as fake:
        EwsPeer(fake).load(scenario())
        config = tmp_path / "config.yaml"
        integration = {
            "name": "EWS",
            "type": "exchange",
            "service_endpoint": fake.service_endpoint,
            "username": USER,
            "password": PASSWORD,
            "auth": "basic",
            "version": "Exchange2016",
            "max_wait": 2,
        }
        config.write_text(yaml.safe_dump({"integrations": [integration]}), encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if not k.startswith("OTJ_")}
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "otj",
                "--log-level",
                "DEBUG",
                "calendars",
                "read",
                str(config),
                "--integration",
                "EWS",
                "--room",
                ROOM,
                "--start",
                "2026-03-24T00:00:00Z",
                "--end",
                "2026-03-25T00:00:00Z",
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    written = done.stdout + done.stderr
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Request headers:" in done.stderr, "exchangelib's request dump is what is tested"
    assert "'Authorization': ***" in done.stderr
    basic = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    assert basic not in written
    assert basic[:20] not in written
    assert PASSWORD not in written


def test_redaction_patterns() -> None:
    cases = {
        "{'Authorization': 'Basic dXNlcjpwYXNz', 'Accept': '*/*'}": "dXNlcjpwYXNz",
        "Authorization: NTLM TlRMTVNTUAADAAAAGAAY\r\nHost: x": "TlRMTVNTUAAD",
        "proxy-authorization=Digest username=a, response=abc": "response=abc",
        "grant_type=client_credentials&client_secret=s3cr%21t&scope=x": "s3cr",
        '{"password": "p\\"w0rd", "user": "u"}': "w0rd",
        "{'access_token': 'eyJhbGciOi.x.y', 'expires_in': 3599}": "eyJhbGciOi",
        "https://alice:hunter2@cal.example.com/dav/": "hunter2",
        "Set-Cookie: session=abc123; Path=/": "abc123",
        "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADAN\n-----END PRIVATE KEY-----": "MIIEvQIBADAN",
        "headers={'X-Api-Key': 'k-123456'}": "k-123456",
        "sent Bearer abcdefghijklmnop": "abcdefghijklmnop",
    }
    for text, secret in cases.items():
        assert secret not in redact(text), text
        assert "***" in redact(text), text
    for harmless in ("cookie jar loaded", "token_type=Bearer", "room fjord@example.com polled"):
        assert redact(harmless) == harmless


def test_the_filter_redacts_arguments_and_tracebacks() -> None:
    record = logging.LogRecord(
        "exchangelib.util", logging.DEBUG, __file__, 1, "headers: %(h)s", None, None
    )
    record.args = {"h": {"Authorization": "Basic c2VjcmV0OnNlY3JldA=="}}
    try:
        raise ValueError("login failed for https://bob:pa55word@mail.example.com/EWS")
    except ValueError:
        record.exc_info = sys.exc_info()
    assert RedactSecrets().filter(record)
    line = logging.Formatter().format(record)
    assert "c2VjcmV0" not in line
    assert "pa55word" not in line
    assert "https://bob:***@mail.example.com/EWS" in line
