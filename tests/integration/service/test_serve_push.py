"""``otj serve`` mounts the notification endpoints only with a public URL (else: polling)."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import httpx
import pytest

from tests.integration.service.test_serve import Process, otj_env

pytestmark = pytest.mark.slow


def serve(tmp_path: Path, public_url: str | None) -> tuple[Process, str]:
    env = otj_env(tmp_path / "var")
    if public_url is not None:
        env["OTJ_PUBLIC_URL"] = public_url
    process = Process(
        [sys.executable, "-m", "otj", "serve", "--listen", "127.0.0.1:0"], cwd=tmp_path, env=env
    )
    return process, process.wait_for(r"otj listening on (http://127\.0\.0\.1:\d+)")[1]


FORGED = {"value": [{"subscriptionId": "x", "clientState": "y", "changeType": "updated"}]}


def test_with_otj_public_url_notifications_are_received_and_authenticated(
    tmp_path: Path,
) -> None:
    process, base = serve(tmp_path, "https://otj.example.com/")
    try:
        process.wait_for(r"poll cycle 1: ")
        assert any(
            "push notifications to https://otj.example.com/notifications/" in line
            for line in process.log
        )
        with httpx.Client(base_url=base, timeout=10) as http:
            assert http.post("/notifications/graph", json=FORGED).status_code == 403
            google = http.post(
                "/notifications/google",
                headers={"X-Goog-Channel-ID": "x", "X-Goog-Channel-Token": "y"},
            )
            assert google.status_code == 403
            probe = http.post("/notifications/graph?validationToken=probe")
            assert probe.status_code == 404
            assert probe.json() == {"detail": "no subscription is being opened"}
        assert process.stop(signal.SIGTERM) == 0
    finally:
        if process.proc.poll() is None:
            process.proc.kill()
            process.proc.wait()


def test_without_otj_public_url_nothing_is_subscribed_and_rooms_are_polled(
    tmp_path: Path,
) -> None:
    process, base = serve(tmp_path, None)
    try:
        process.wait_for(r"poll cycle 1: ")
        assert any("no public URL (OTJ_PUBLIC_URL)" in line for line in process.log)
        with httpx.Client(base_url=base, timeout=10) as http:
            assert http.post("/notifications/graph", json=FORGED).status_code == 404
            assert http.post("/notifications/google").status_code == 404
        assert process.stop(signal.SIGTERM) == 0
    finally:
        if process.proc.poll() is None:
            process.proc.kill()
            process.proc.wait()
